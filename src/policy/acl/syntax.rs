//! gitolite's lexical rules: line clean-up, the character sets it allows in names,
//! and its regex conventions (a name or refex is spliced into `^...$` / `^...` as
//! text, exactly as gitolite's Perl does, so `a|b` keeps Perl's precedence).

use regex::{Regex, RegexBuilder};

#[cfg(test)]
thread_local! {
    /// Tests on Linux turn Windows' case folding on for their own thread.
    pub static FOLD_FOR_TEST: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True where repository names are compared without regard to case: on Windows,
/// whose file systems treat `App.git` and `app.git` as one directory, so an ACL
/// rule for `repo App` must govern `app.git` (and a deny rule cannot be dodged
/// by another spelling). Elsewhere names compare exactly, as gitolite does.
pub fn fold_repo_case() -> bool {
    #[cfg(test)]
    if FOLD_FOR_TEST.with(std::cell::Cell::get) {
        return true;
    }
    cfg!(windows)
}

/// Names (of repositories, users, groups' members) equal under
/// [`fold_repo_case`]: exactly, or on Windows without regard to case (Windows
/// accounts ignore case too, and IIS passes a Basic user name as typed).
/// Compares without allocating: it runs for every rule of every decision.
pub fn same_name(a: &str, b: &str) -> bool {
    a == b
        || (fold_repo_case()
            && a.chars()
                .flat_map(char::to_lowercase)
                .eq(b.chars().flat_map(char::to_lowercase)))
}

/// gitolite's `cleanup_conf_line`: drop a `#` comment (not inside a simple
/// double-quoted string), put spaces around the first `=`, squeeze whitespace.
pub fn cleanup_line(line: &str) -> String {
    let cut = comment_start(line).map_or(line, |i| &line[..i]);
    let mut out = String::with_capacity(cut.len() + 2);
    let mut space = false;
    let mut eq_seen = false;
    for c in cut.chars() {
        // Perl's \s: ASCII whitespace and vertical tab.
        if c.is_ascii_whitespace() || c == '\x0b' {
            space = true;
            continue;
        }
        let first_eq = c == '=' && !eq_seen;
        if (space || first_eq) && !out.is_empty() {
            out.push(' ');
        }
        out.push(c);
        space = first_eq;
        eq_seen |= first_eq;
    }
    out
}

/// Where a comment starts: the first `#` outside `"..."`; `None` if there is none,
/// or if an unclosed quote comes first (gitolite's regex then does not match).
fn comment_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => return Some(i),
            b'"' => {
                let close = bytes[i + 1..].iter().position(|&b| b == b'"')?;
                i += close + 2;
            }
            _ => i += 1,
        }
    }
    None
}

fn alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// Checks `^\@?FIRST[REST]*$`.
fn shaped(s: &str, first: fn(char) -> bool, rest: fn(char) -> bool) -> bool {
    let s = s.strip_prefix('@').unwrap_or(s);
    let mut chars = s.chars();
    chars.next().is_some_and(first) && chars.all(rest)
}

/// `$REPONAME_PATT`: a plain repository (or group) name, no regex characters.
pub fn is_reponame(s: &str) -> bool {
    shaped(s, alnum, |c| alnum(c) || "-._@/+".contains(c))
}

/// `$REPOPATT_PATT`: a repository name or pattern (also used for refexes).
pub fn is_repopatt(s: &str) -> bool {
    shaped(
        s,
        |c| alnum(c) || c == '[',
        |c| alnum(c) || "-._@/+\\^$|()[]*?{},".contains(c),
    )
}

/// `$USERNAME_PATT`: a user or group name; or a Windows domain account,
/// `DOMAIN\\user` (see [`is_domain_user`]).
pub fn is_username(s: &str) -> bool {
    shaped(s, alnum, |c| alnum(c) || "-._@+".contains(c)) || is_domain_user(s)
}

/// `DOMAIN\\user` as IIS gives a Windows account (`REMOTE_USER`, `LOGON_USER`):
/// a NetBIOS domain (letters, digits, `-._`) and a gitolite user name, one
/// backslash between. gitolite has no such names; this binary accepts them in
/// rules, groups and questions so that an IIS site can name its accounts.
pub fn is_domain_user(s: &str) -> bool {
    let Some((domain, user)) = s.split_once('\\') else {
        return false;
    };
    shaped(domain, alnum, |c| alnum(c) || "-._".contains(c))
        && shaped(user, alnum, |c| alnum(c) || "-._@+".contains(c))
}

/// `$REF_OR_FILENAME_PATT` without the optional `@`: what `gitolite access`
/// accepts as a ref.
pub fn is_refname(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(alnum) && chars.all(|c| alnum(c) || "-._@/+ :,".contains(c))
}

/// A compiled matcher for gitolite's `/^$text$/` (whole) or `/^$text/` (prefix).
#[derive(Debug)]
pub enum Matcher {
    /// Everything (the refex `refs/.*` that a rule without refex gets).
    Refs,
    /// No regex character but `.`: compared char by char, `.` matching any
    /// character but a newline (cheap, and the common case); without regard to
    /// case when the flag is set (a repository pattern on Windows).
    Simple(Vec<char>, bool),
    /// A real regular expression.
    Regex(Regex),
}

/// True if `text` is handled by [`Matcher::Simple`].
fn is_simple(text: &str) -> bool {
    !text.chars().any(|c| "\\+*?()|[]{}^$".contains(c))
}

impl Matcher {
    /// Compiles gitolite's `^TEXT$` (`whole`: a repository name pattern, which
    /// ignores case where [`fold_repo_case`] says so) or `^TEXT` (a refex) as
    /// text splices.
    pub fn new(text: &str, whole: bool) -> Result<Matcher, regex::Error> {
        if !whole && text == "refs/.*" {
            return Ok(Matcher::Refs);
        }
        let fold = whole && fold_repo_case();
        if is_simple(text) {
            return Ok(Matcher::Simple(text.chars().collect(), fold));
        }
        let pattern = if whole {
            format!("^{text}$")
        } else {
            format!("^{text}")
        };
        RegexBuilder::new(&pattern)
            .case_insensitive(fold)
            .build()
            .map(Matcher::Regex)
    }

    /// Matches `s` as the matcher was built (whole or prefix).
    pub fn matches(&self, s: &str, whole: bool) -> bool {
        match self {
            Matcher::Refs => s.starts_with("refs/"),
            Matcher::Simple(pattern, fold) => {
                let mut chars = s.chars();
                for p in pattern {
                    match chars.next() {
                        Some(c)
                            if c == *p
                                || (*p == '.' && c != '\n')
                                || (*fold && c.to_lowercase().eq(p.to_lowercase())) => {}
                        _ => return false,
                    }
                }
                !whole || chars.next().is_none()
            }
            Matcher::Regex(re) => re.is_match(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup() {
        assert_eq!(
            cleanup_line("  RW+   master=alice  # hi"),
            "RW+ master = alice"
        );
        assert_eq!(cleanup_line("a = \"x#y\" b # c"), "a = \"x#y\" b");
        assert_eq!(cleanup_line("a \"x#y"), "a \"x#y");
        assert_eq!(cleanup_line("@g=a=b"), "@g = a=b");
        assert_eq!(cleanup_line("# only"), "");
        assert_eq!(cleanup_line("=x"), "= x");
        assert_eq!(cleanup_line("a="), "a =");
        assert_eq!(cleanup_line("a =b= c"), "a = b= c");
        assert_eq!(cleanup_line("\tR\x0b=\u{a0}x"), "R = \u{a0}x");
    }

    #[test]
    fn shapes() {
        assert!(is_reponame("foo/bar.git"));
        assert!(is_reponame("@grp"));
        assert!(!is_reponame("foo/.*"));
        assert!(is_repopatt("foo/.*"));
        assert!(is_repopatt("[a-z]+"));
        assert!(!is_repopatt("a b"));
        assert!(is_username("alice@example.com"));
        assert!(is_username("DOMAIN\\bob"));
        assert!(is_username("contoso.local\\a.b"));
        assert!(!is_username("DOMAIN\\"));
        assert!(!is_username("\\bob"));
        assert!(!is_username("A\\B\\c"));
        assert!(!is_username("DOM AIN\\bob"));
        assert!(!is_username(""));
        assert!(is_refname("refs/heads/main"));
        assert!(!is_refname("refs/heads/a#b"));
    }

    #[test]
    fn matchers() {
        let m = Matcher::new("refs/heads/ma.n", false).unwrap();
        assert!(m.matches("refs/heads/main", false));
        assert!(m.matches("refs/heads/mainline", false));
        assert!(!m.matches("refs/heads/mai", false));
        let m = Matcher::new("foo.bar", true).unwrap();
        assert!(m.matches("fooXbar", true));
        assert!(!m.matches("fooXbarz", true));
        let m = Matcher::new("a|b", true).unwrap();
        // Perl's /^a|b$/: "starts with a" or "ends with b".
        assert!(m.matches("axx", true));
        assert!(m.matches("xxb", true));
        assert!(!m.matches("xax", true));
        assert!(
            Matcher::new("refs/.*", false)
                .unwrap()
                .matches("refs/x", false)
        );
    }
}

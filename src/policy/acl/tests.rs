//! Unit tests of the ACL parser and evaluator (verdicts are compared with real
//! gitolite in `tests/acl_gitolite.rs`).

use super::*;
use std::fs;

const MAIN: &str = "/acl/gitolite.conf";

fn acl(text: &str) -> Acl {
    Acl::from_text(Path::new(MAIN), text).unwrap()
}

/// Parses `text` expecting an error at `line` whose message contains `needle`.
fn error_at(text: &str, line: usize, needle: &str) {
    let e = Acl::from_text(Path::new(MAIN), text).expect_err(text);
    let shown = e.to_string();
    assert_eq!(e.line, Some(line), "{shown}");
    assert!(
        shown.starts_with(&format!("{MAIN}:{line}: ")),
        "{shown} should start with {MAIN}:{line}"
    );
    assert!(shown.contains(needle), "{shown} should mention {needle}");
}

#[test]
fn syntax_error_names_the_line() {
    error_at("repo foo\n  RW+ = alice\n  RWX = bob\n", 3, "syntax error");
    error_at("# c\n\nrepo foo\n  alice bob\n", 4, "syntax error");
    error_at("repo\n", 1, "syntax error");
}

#[test]
fn unsupported_constructs_are_errors() {
    error_at("repo foo\n  - VREF/NAME/Makefile = bob\n", 2, "VREF");
    error_at("repo foo\n  RW+ NAME/doc/ = bob\n", 2, "NAME");
    error_at("repo foo\n  R = alice\nsubconf \"x.conf\"\n", 3, "subconf");
    error_at("repo foo\n  RW+ = CREATOR\n", 2, "CREATOR");
    error_at("repo foo\n  R = READERS\n", 2, "CREATOR");
    error_at("repo foo\n  RW = @WRITERS\n", 2, "CREATOR");
    error_at("repo u/CREATOR/.*\n  R = @all\n", 1, "CREATOR");
    error_at("repo foo\n  RWM = alice\n", 2, "merge");
    error_at("repo foo\n  option MERGE_CHECK = 1\n", 2, "MERGE_CHECK");
}

#[test]
fn bad_names_and_regexes_are_errors() {
    error_at("RW+ = alice\n", 1, "outside a `repo` block");
    error_at(
        "option deny-rules = 1\nrepo foo\n",
        1,
        "outside a `repo` block",
    );
    error_at("@a = x\n@b = @a @c\n", 2, "undefined group `@c`");
    error_at(
        "repo foo\n  RW @refs = alice\n",
        2,
        "undefined group `@refs`",
    );
    error_at("repo foo\n  RW+ refs/heads/(x = alice\n", 2, "bad refex");
    error_at("repo foo\n  RW refs/heads/(a)\\1 = alice\n", 2, "bad refex");
    error_at("repo foo\n  RW personal/USER/( = alice\n", 2, "bad refex");
    error_at("repo ok foo(\n", 1, "bad pattern `foo(`");
    error_at("@g = a x(\n", 1, "bad pattern `x(`");
    error_at("repo foo\n  RW = a:b\n", 2, "bad user name");
    error_at("@-x = a\n", 1, "bad group name");
    error_at("repo foo bar!baz\n", 1, "bad repository name");
    error_at("repo foo\n  RW+ a=b = alice\n", 2, "bad ref");
    error_at(
        "repo foo\n  option deny-rules = $(x)\n",
        2,
        "bad option value",
    );
}

#[test]
fn include_errors() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("gitolite.conf");
    fs::create_dir(dir.path().join("inc")).unwrap();
    fs::write(dir.path().join("inc/a.conf"), "repo a\n  R = x\n  bogus\n").unwrap();
    fs::write(dir.path().join("inc/b.txt"), "repo b\n").unwrap();
    let cases = [
        ("include \"missing.conf\"\n", 1, "not found"),
        (
            "repo x\n  R = y\ninclude missing.conf\n",
            3,
            "invalid include",
        ),
        ("\ninclude \"inc/*.txt\"\n", 2, "must end in .conf"),
        ("include \"inc/[\"\n", 1, "invalid include glob"),
    ];
    for (text, line, needle) in cases {
        fs::write(&main, text).unwrap();
        let e = Acl::load(&main).unwrap_err();
        assert_eq!(
            (e.file.as_path(), e.line),
            (main.as_path(), Some(line)),
            "{e}"
        );
        assert!(e.to_string().contains(needle), "{e}");
    }
    // An error inside an included file names that file and its line.
    fs::write(&main, "repo x\n  R = y\ninclude \"inc/*.conf\"\n").unwrap();
    let e = Acl::load(&main).unwrap_err();
    assert_eq!(e.file, dir.path().join("inc/a.conf"));
    assert_eq!(e.line, Some(3));
    // (`inc\a.conf` on Windows.)
    let shown = format!(
        "{}:3: syntax error: `bogus`",
        std::path::Path::new("inc").join("a.conf").display()
    );
    assert!(e.to_string().ends_with(&shown), "{e}");
    // A file that cannot be read has no line.
    let e = Acl::load(&dir.path().join("nope.conf")).unwrap_err();
    assert_eq!(e.line, None);
    assert!(e.to_string().contains("nope.conf: cannot read"), "{e}");
}

#[test]
fn includes_splice_in_order_relative_to_the_main_file() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("gitolite.conf");
    fs::create_dir_all(dir.path().join("inc/sub")).unwrap();
    fs::write(&main, "repo app\n  - main = bob\ninclude \"inc/*.conf\"\n").unwrap();
    // b.conf comes after a.conf; its include is relative to the main file's directory.
    fs::write(
        dir.path().join("inc/b.conf"),
        "include \"inc/sub/c.conf\"\n",
    )
    .unwrap();
    fs::write(dir.path().join("inc/a.conf"), "repo app\n  RW = bob\n").unwrap();
    fs::write(
        dir.path().join("inc/sub/c.conf"),
        "repo app\n  RW+ = carol\n",
    )
    .unwrap();
    let acl = Acl::load(&main).unwrap();
    assert_eq!(acl.files().len(), 4);
    let d = acl.decide("app", "bob", Perm::Write, Some("main"));
    assert!(!d.allowed);
    assert_eq!(d.rule.unwrap().line, 2);
    let d = acl.decide("app", "bob", Perm::Write, Some("dev"));
    let site = d.rule.clone().unwrap();
    assert!(d.allowed);
    assert_eq!((site.file, site.line), (dir.path().join("inc/a.conf"), 2));
    let d = acl.decide("app", "carol", Perm::Force, Some("x"));
    assert_eq!(
        d.rule.unwrap().file,
        dir.path().join("inc/sub/c.conf"),
        "nested include"
    );
    // Including a file twice (or the main file) is skipped with a warning.
    fs::write(
        dir.path().join("inc/sub/c.conf"),
        "include \"gitolite.conf\"\n",
    )
    .unwrap();
    let acl = Acl::load(&main).unwrap();
    assert!(
        acl.warnings()
            .iter()
            .any(|w| w.contains("already included"))
    );
}

#[test]
fn ignored_directives_make_one_warning() {
    let a = acl(concat!(
        "repo foo\n",
        "  config gitweb.owner = me\n",
        "  desc = \"a repo\"\n",
        "  option mirror.master = x\n",
        "  C = alice\n",
        "  R = @nosuch\n",
        "  RW = alice\n",
        "= begin testconf\n",
        "anything at all\n",
        "= end\n",
    ));
    let ignored: Vec<&String> = a
        .warnings()
        .iter()
        .filter(|w| w.starts_with("ignored"))
        .collect();
    assert_eq!(ignored.len(), 1, "{:?}", a.warnings());
    assert!(
        ignored[0].starts_with("ignored 4 directives"),
        "{}",
        ignored[0]
    );
    assert!(ignored[0].contains(":2: config gitweb.owner = me"));
    assert!(a.warnings().iter().any(|w| w.contains("`@nosuch`")));
    assert!(a.decide("foo", "alice", Perm::Write, None).allowed);
    assert_eq!(a.rule_count(), 2);
}

#[test]
fn rule_order_and_prefixes() {
    let a = acl(concat!(
        "repo @all\n",
        "  - refs/tags/ = bob\n",
        "repo app\n",
        "  RW  main = bob\n",
        "  RW+ = bob\n",
    ));
    let w = |r| a.decide("app", "bob", Perm::Write, Some(r)).allowed;
    assert!(w("main") && w("mainline") && w("dev"));
    assert!(!w("refs/tags/v1"), "an early @all block comes first");
    let d = a.decide("app", "bob", Perm::Force, Some("main"));
    assert_eq!(d.rule.unwrap().line, 5, "RW main does not hold +, RW+ does");
    // Deny rules do not count for `any` without deny-rules.
    assert!(a.decide("app", "bob", Perm::Write, None).allowed);
}

#[test]
fn deny_rules_by_option_or_config() {
    for how in [
        "option deny-rules = 1",
        "config gitolite-options.deny-rules = \"1\"",
    ] {
        let a = acl(&format!("repo r\n  {how}\n  - = eve\n  R = @all\n"));
        assert!(!a.decide("r", "eve", Perm::Read, None).allowed, "{how}");
        assert!(a.decide("r", "bob", Perm::Read, None).allowed, "{how}");
    }
    let a = acl(
        "repo r\n  option deny-rules = 1\n  - = eve\n  R = @all\nrepo r\n  option deny-rules = 0\n",
    );
    assert!(
        a.decide("r", "eve", Perm::Read, None).allowed,
        "the last value wins"
    );
}

#[test]
fn create_and_delete_follow_the_repo() {
    let a = acl(concat!(
        "repo plain\n  RW+ = alice\n",
        "repo c\n  RW+ = alice\n  RWC feature/ = alice\n",
        "repo d\n  RW+ = alice\nrepo d\n  RWD tmp/ = alice\n",
    ));
    let up = |repo, r, k| a.decide_update(repo, "alice", r, k).allowed;
    use UpdateKind::*;
    assert!(up("plain", "main", Create) && up("plain", "main", Delete));
    assert!(up("plain", "refs/tags/v1", FastForward));
    assert!(!up("c", "main", Create) && up("c", "feature/x", Create));
    assert!(up("c", "main", Delete) && up("c", "main", Rewind));
    assert!(!up("d", "main", Delete) && up("d", "tmp/x", Delete));
    assert!(up("d", "main", Create));
    // decide() with C and D turns them into W and + as `gitolite access` does.
    assert!(a.decide("plain", "alice", Perm::Create, Some("x")).allowed);
    assert!(!a.decide("c", "alice", Perm::Create, Some("x")).allowed);
    // A fast-forward of an existing tag needs +.
    let t = acl("repo t\n  RW = bob\n  RW+ refs/tags/rc = bob\n");
    assert!(
        !t.decide_update("t", "bob", "refs/tags/v1", FastForward)
            .allowed
    );
    assert!(t.decide_update("t", "bob", "refs/tags/v1", Create).allowed);
    assert!(
        t.decide_update("t", "bob", "refs/tags/rc1", FastForward)
            .allowed
    );
    assert!(t.decide_update("t", "bob", "main", FastForward).allowed);
    assert!(!t.decide_update("t", "bob", "main", Rewind).allowed);
}

#[test]
fn invalid_questions_are_denied() {
    let a = acl("repo @all\n  RW+ = @all\n");
    assert!(a.decide("app", "alice", Perm::Write, Some("main")).allowed);
    for (repo, user, refname) in [
        ("app", "@all", None),
        ("app", "a b", None),
        ("app", "", None),
        ("app", "DOMAIN\\", None),
        ("app", "A\\B\\c", None),
        ("a/../b", "alice", None),
        ("app.git", "alice", None),
        ("app/", "alice", None),
        ("", "alice", None),
        ("app*", "alice", None),
        ("app", "alice", Some("refs/heads/a#b")),
    ] {
        let d = a.decide(repo, user, Perm::Read, refname);
        assert!(
            !d.allowed && d.reason.is_some(),
            "{repo} {user} {refname:?}"
        );
    }
}

#[test]
fn user_refex_and_patterns() {
    let a = acl(concat!(
        "@web = site/.* portal\n",
        "repo @web\n  RW+ personal/USER/ = @all\n",
        "repo x|y\n  R = bob\n",
    ));
    let w = |repo, user, r| a.decide(repo, user, Perm::Force, Some(r)).allowed;
    assert!(w("site/a", "alice", "personal/alice/x"));
    assert!(!w("site/a", "alice", "personal/bob/x"));
    assert!(w("portal", "bob", "personal/bob/x"));
    assert!(!w("portal2", "bob", "personal/bob/x"));
    // Perl's /^x|y$/: starts with x, or ends with y.
    assert!(a.decide("xeno", "bob", Perm::Read, None).allowed);
    assert!(a.decide("toy", "bob", Perm::Read, None).allowed);
    assert!(!a.decide("oxo", "bob", Perm::Read, None).allowed);
}

#[test]
fn names_and_users() {
    assert_eq!(effective_user(Some("alice"), Some("guest")), "alice");
    assert_eq!(effective_user(Some(""), Some("guest")), "guest");
    assert_eq!(effective_user(None, Some("")), "anonymous");
    assert_eq!(effective_user(None, None), "anonymous");
    assert_eq!(repo_name("foo.git"), "foo");
    assert_eq!(repo_name("/a//b.git/"), "a/b");
    assert_eq!(repo_name("a/b/.git"), "a/b");
    assert_eq!(repo_name("./a/./b"), "a/b");
    assert_eq!(repo_name("a/../b"), "a/../b");
    assert_eq!(repo_name(".git"), "");
    assert_eq!(Perm::parse("+"), Some(Perm::Force));
    assert_eq!(Perm::parse("RW"), None);
}

#[test]
fn decision_display() {
    let a = acl("repo foo\n  RW+   = alice # owner\n");
    let d = a.decide("foo", "alice", Perm::Read, None);
    assert_eq!(
        d.to_string(),
        format!("allowed by {MAIN}:2: RW+   = alice # owner")
    );
    let d = a.decide("foo", "bob", Perm::Read, None);
    assert_eq!(d.to_string(), "denied: no rule matched");
}

#[test]
fn load_cached_reloads_on_change_and_caches_errors() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("acl.conf");
    let inc = dir.path().join("more.conf");
    fs::write(&main, "repo a\n  R = alice\ninclude \"more.conf\"\n").unwrap();
    fs::write(&inc, "repo b\n  R = bob\n").unwrap();
    let first = load_cached(&main).unwrap();
    assert!(Arc::ptr_eq(&first, &load_cached(&main).unwrap()));
    assert!(first.decide("b", "bob", Perm::Read, None).allowed);
    // A change in the included file is seen (size changes, whatever the clock).
    fs::write(&inc, "repo b\n  R = carol\n  R = dave\n").unwrap();
    let second = load_cached(&main).unwrap();
    assert!(!Arc::ptr_eq(&first, &second));
    assert!(second.decide("b", "dave", Perm::Read, None).allowed);
    // A broken file is an error until fixed; the error names the line.
    fs::write(&inc, "repo b\n  R = carol\n  nonsense here\n").unwrap();
    let e = load_cached(&main).unwrap_err();
    assert_eq!((e.file.as_path(), e.line), (inc.as_path(), Some(3)));
    assert_eq!(load_cached(&main).unwrap_err(), e);
    fs::write(&inc, "repo b\n  R = erin\n").unwrap();
    assert!(
        load_cached(&main)
            .unwrap()
            .decide("b", "erin", Perm::Read, None)
            .allowed
    );
    // A file renamed into place with the same size and the old time (`cp -p`,
    // `rsync -t`) is seen too (another inode).
    let before = load_cached(&main).unwrap();
    let mtime = fs::metadata(&inc).unwrap().modified().unwrap();
    let tmp = dir.path().join("more.new");
    fs::write(&tmp, "repo b\n  R = fred\n").unwrap();
    fs::File::options()
        .write(true)
        .open(&tmp)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    fs::rename(&tmp, &inc).unwrap();
    let after = load_cached(&main).unwrap();
    if cfg!(unix) {
        assert!(!Arc::ptr_eq(&before, &after));
        assert!(after.decide("b", "fred", Perm::Read, None).allowed);
    }
    // Threads share it safely.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    assert!(load_cached(&main).is_ok());
                }
            });
        }
    });
}

/// The verdicts of `text` for repository names in other cases, with case folding
/// as on Windows (`fold`) or exact as gitolite (`!fold`).
fn case_verdicts(fold: bool) -> Vec<bool> {
    crate::policy::acl::syntax::FOLD_FOR_TEST.with(|f| f.set(fold));
    let a = acl(concat!(
        "@secret = Vault\n",
        "repo Team/[a-z]+\n",
        "  RW = bob\n",
        "repo @secret\n",
        "  option deny-rules = 1\n",
        "  - = eve\n",
        "repo Private\n",
        "  option deny-rules = 1\n",
        "  - = eve\n",
        "repo @all\n",
        "  R = @all\n",
    ));
    let verdicts = vec![
        // a group member in another case: eve's deny applies when folding
        a.decide("vault", "eve", Perm::Read, None).allowed,
        // a plain name in another case
        a.decide("PRIVATE", "eve", Perm::Read, None).allowed,
        // a regex pattern in another case
        a.decide("team/app", "bob", Perm::Write, None).allowed,
        a.decide("TEAM/APP", "bob", Perm::Write, None).allowed,
        // exact spellings decide alike either way
        a.decide("Vault", "eve", Perm::Read, None).allowed,
        a.decide("Team/app", "bob", Perm::Write, None).allowed,
    ];
    crate::policy::acl::syntax::FOLD_FOR_TEST.with(|f| f.set(false));
    verdicts
}

#[test]
fn repo_names_fold_case_on_windows_only() {
    // Windows: another spelling is the same directory, so the same rules apply
    // (eve's deny rules included); the refex `[a-z]+` itself folds as well.
    assert_eq!(
        case_verdicts(true),
        vec![false, false, true, true, false, true]
    );
    // gitolite (and this binary elsewhere): names are exact.
    let exact = vec![true, true, false, false, false, true];
    if !cfg!(windows) {
        assert_eq!(case_verdicts(false), exact);
    }
}

/// The Windows build folds without being told (run under wine).
#[cfg(windows)]
#[test]
fn windows_build_folds_repo_names() {
    let a = acl("repo Private\n  R = alice\n");
    assert!(a.decide("private", "alice", Perm::Read, None).allowed);
    assert!(!a.decide("private", "bob", Perm::Read, None).allowed);
}

/// IIS names Windows accounts `DOMAIN\user`: usable in rules and groups.
#[test]
fn domain_user_names() {
    let a = acl(concat!(
        "@devs = CONTOSO\\bob CONTOSO\\carol\n",
        "repo app\n",
        "  RW+ = CONTOSO\\alice\n",
        "  RW  = @devs\n",
        "  R   = @all\n",
    ));
    let w = |u: &str, p| a.decide("app", u, p, Some("main")).allowed;
    assert!(w("CONTOSO\\alice", Perm::Force));
    assert!(w("CONTOSO\\bob", Perm::Write) && !w("CONTOSO\\bob", Perm::Force));
    assert!(w("CONTOSO\\carol", Perm::Write));
    assert!(!w("FABRIKAM\\alice", Perm::Write) && w("FABRIKAM\\alice", Perm::Read));
    assert!(!w("alice", Perm::Write));
    // `DOMAIN\user` with a regex escape in it (`\u` is none, `\d` is one).
    let a = acl("@g = CONTOSO\\user CORP\\dave\nrepo app\n  RW = @g\n");
    assert!(
        a.decide("app", "CONTOSO\\user", Perm::Write, Some("main"))
            .allowed
    );
    assert!(
        a.decide("app", "CORP\\dave", Perm::Write, Some("main"))
            .allowed
    );
    // A repository pattern with a backslash stays a pattern (as in gitolite):
    // the deny rule on @frozen applies to rel1.
    let a = acl(concat!(
        "@frozen = rel\\d+\n",
        "repo @frozen\n",
        "  - = alice\n",
        "  R = alice\n",
        "repo @all\n",
        "  RW+ = alice\n",
    ));
    let d = a.decide("rel1", "alice", Perm::Write, Some("refs/heads/main"));
    assert!(!d.allowed, "{d}");
    // A per-user refex never treats a domain account's backslash as regex.
    let a = acl("repo r\n  RW+ personal/USER/ = @all\n");
    let u = "CORP\\dave";
    assert!(
        !a.decide("r", u, Perm::Force, Some("refs/heads/personal/CORP7ave/x"))
            .allowed
    );
    assert!(
        a.decide("r", "dave", Perm::Force, Some("refs/heads/personal/dave/x"))
            .allowed
    );
    // Windows accounts ignore case (IIS passes a Basic user name as typed).
    crate::policy::acl::syntax::FOLD_FOR_TEST.with(|f| f.set(true));
    let folded = (
        w("contoso\\ALICE", Perm::Force),
        w("Contoso\\Bob", Perm::Write),
    );
    crate::policy::acl::syntax::FOLD_FOR_TEST.with(|f| f.set(false));
    assert_eq!(folded, (true, true));
    if !cfg!(windows) {
        assert!(!w("contoso\\ALICE", Perm::Force));
    }
}

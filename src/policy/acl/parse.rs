//! Reading an ACL file: gitolite's "explode" (includes spliced in as text), its
//! syntactic sugar, and its parser, into [`Parsed`].
//!
//! Everything gitolite accepts that could restrict access and is not implemented
//! here is an error naming `file:line`; so is a line gitolite would ignore as a
//! syntax error (a mistyped deny rule must not vanish). Directives that do not
//! concern access (`config`, `desc`, most `option`s) are ignored and reported in one
//! warning.

use super::syntax::{Matcher, cleanup_line, is_domain_user, is_reponame, is_repopatt, is_username};
use super::{AclError, RuleSite};
use regex::Regex;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// A parsed ACL: what the evaluator needs, in gitolite's compiled shape.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Files read, the main file first.
    pub files: Vec<PathBuf>,
    /// Warnings to log once per load.
    pub warnings: Vec<String>,
    /// member -> the groups listing it literally (gitolite's inside-out `%groups`).
    pub groups_of: HashMap<String, Vec<String>>,
    /// Group members that are patterns (not plain names), with the groups holding them.
    pub pattern_groups: Vec<(Matcher, Vec<String>)>,
    /// Every `repo` line item that carries rules or options.
    pub repo_keys: Vec<RepoKey>,
    /// Every user or group named on the right of a rule.
    pub users: Vec<String>,
    /// Rules in gitolite's sequence (global file order; per line: refs, then users).
    pub rules: Vec<Rule>,
    /// Access options (`deny-rules`, `CREATE_IS_C`, `DELETE_IS_D`) in file order.
    pub options: Vec<OptionEntry>,
    /// Where rules were written.
    pub sites: Vec<RuleSite>,
}

/// A `repo` line item (name, `@group` or pattern).
#[derive(Debug)]
pub struct RepoKey {
    /// As written (without a `.git` suffix).
    pub name: String,
    /// A pattern item (not a plain name) also matches as `/^ITEM$/`; `None` for
    /// plain names, which match only themselves.
    pub matcher: Option<Matcher>,
}

/// One rule: a permission for one user (or group) on one refex of one repo key.
#[derive(Debug)]
pub struct Rule {
    /// Index into [`Parsed::repo_keys`].
    pub repo: usize,
    /// Index into [`Parsed::users`].
    pub user: usize,
    /// The permission as written (`RW+C`, `-`, ...).
    pub perm: &'static str,
    /// The refex.
    pub refex: Refex,
    /// Index into [`Parsed::sites`].
    pub site: usize,
}

/// A refex, matched at the start of the ref.
#[derive(Debug, Clone)]
pub enum Refex {
    /// Compiled once (shared by rules with the same text).
    Fixed(Arc<Matcher>),
    /// Holds `/USER/`, replaced by `/<user>/` before matching (gitolite does this).
    PerUser(String),
}

/// An access option set for a repo key.
#[derive(Debug)]
pub struct OptionEntry {
    /// Index into [`Parsed::repo_keys`].
    pub repo: usize,
    /// `deny-rules`, `CREATE_IS_C` or `DELETE_IS_D`.
    pub name: &'static str,
    /// The value (truthy unless empty or `0`, as in Perl).
    pub value: String,
}

/// One non-empty, cleaned-up line with its origin.
struct Line {
    file: Arc<Path>,
    number: usize,
    text: String,
    raw: String,
}

/// Options that change decisions.
const ACCESS_OPTIONS: &[&str] = &["deny-rules", "CREATE_IS_C", "DELETE_IS_D"];

/// The permissions a rule may hold (gitolite's `-|C|R|RW\+?(?:C?D?|D?C?)`).
const PERMS: &[&str] = &[
    "-", "C", "R", "RW", "RW+", "RWC", "RW+C", "RWD", "RW+D", "RWCD", "RW+CD", "RWDC", "RW+DC",
];

/// Role names gitolite gives meaning through wild repositories (not supported).
const ROLES: &[&str] = &["CREATOR", "READERS", "WRITERS"];

/// Reads `path` and its includes.
pub fn parse_file(path: &Path) -> Result<Parsed, AclError> {
    parse_tracked(path).0
}

/// Reads `path` and its includes, also returning the files and directories read so
/// far (even on error, so a cache can notice when the culprit is fixed).
pub fn parse_tracked(path: &Path) -> (Result<Parsed, AclError>, Vec<PathBuf>, Vec<PathBuf>) {
    let mut ex = Exploder::new(path);
    let result = std::fs::read_to_string(path)
        .map_err(|e| AclError::file(path, format!("cannot read: {e}")))
        .and_then(|text| ex.explode(path, &text))
        .and_then(|()| build(ex.lines, ex.files.clone(), ex.warnings));
    (result, ex.files, ex.dirs)
}

/// Parses `text` as the file `path`.
pub fn parse_text(path: &Path, text: &str) -> Result<Parsed, AclError> {
    let mut ex = Exploder::new(path);
    ex.explode(path, text)?;
    build(ex.lines, ex.files, ex.warnings)
}

/// Splices includes into one list of lines (gitolite's `explode`).
struct Exploder {
    /// Include globs are relative to the main file's directory (gitolite: the
    /// `conf/` directory it runs in).
    base: PathBuf,
    seen: HashSet<PathBuf>,
    lines: Vec<Line>,
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
    warnings: Vec<String>,
}

impl Exploder {
    fn new(main: &Path) -> Exploder {
        let base = main
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut seen = HashSet::new();
        seen.insert(identity(main));
        Exploder {
            base,
            seen,
            lines: Vec::new(),
            files: vec![main.to_path_buf()],
            dirs: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn explode(&mut self, file: &Path, text: &str) -> Result<(), AclError> {
        let shared: Arc<Path> = Arc::from(file);
        for (i, raw) in text.lines().enumerate() {
            let number = i + 1;
            let cleaned = cleanup_line(raw);
            if cleaned.is_empty() {
                continue;
            }
            let mut words = cleaned.splitn(2, ' ');
            let first = words.next().unwrap_or("");
            if let (Some(rest), true) = (words.next(), first == "include" || first == "subconf") {
                if first == "subconf" {
                    return Err(AclError::at(
                        file,
                        number,
                        "`subconf` (delegation) is not supported",
                    ));
                }
                self.include(file, number, rest)?;
                continue;
            }
            self.lines.push(Line {
                file: shared.clone(),
                number,
                text: cleaned,
                raw: raw.trim().to_string(),
            });
        }
        Ok(())
    }

    /// `include "GLOB"`: each matching file, in (case-insensitive) name order.
    fn include(&mut self, file: &Path, number: usize, rest: &str) -> Result<(), AclError> {
        // gitolite: `include [NAME ]GLOB`, GLOB in double or single quotes.
        let arg = rest.split_once(' ').map_or(rest, |(_, glob)| glob);
        let quoted = arg.len() >= 3
            && ((arg.starts_with('"') && arg.ends_with('"'))
                || (arg.starts_with('\'') && arg.ends_with('\'')));
        if !quoted {
            return Err(AclError::at(
                file,
                number,
                format!("invalid include `{rest}`: expected include \"FILE\""),
            ));
        }
        let pattern = &arg[1..arg.len() - 1];
        let full = if Path::new(pattern).is_absolute() {
            pattern.to_string()
        } else {
            format!(
                "{}/{pattern}",
                glob::Pattern::escape(&self.base.to_string_lossy())
            )
        };
        let has_magic = pattern.contains(['*', '?', '[']);
        let mut found: Vec<PathBuf> = if has_magic {
            let paths = glob::glob(&full).map_err(|e| {
                AclError::at(
                    file,
                    number,
                    format!("invalid include glob `{pattern}`: {e}"),
                )
            })?;
            if let Some(dir) = Path::new(&full).parent()
                && !dir.to_string_lossy().contains(['*', '?', '['])
            {
                self.dirs.push(dir.to_path_buf());
            } else {
                self.dirs.push(self.base.clone());
            }
            paths.filter_map(Result::ok).collect()
        } else {
            let path = self.base.join(pattern);
            if !path.is_file() {
                return Err(AclError::at(
                    file,
                    number,
                    format!("included file `{}` not found", path.display()),
                ));
            }
            vec![path]
        };
        found.sort_by(|a, b| {
            let (a, b) = (a.to_string_lossy(), b.to_string_lossy());
            a.to_lowercase().cmp(&b.to_lowercase()).then(a.cmp(&b))
        });
        for path in found {
            if !path.is_file() {
                self.warnings.push(format!(
                    "{}:{number}: included `{}` is not a file; skipped",
                    file.display(),
                    path.display()
                ));
                continue;
            }
            if !include_name_ok(&path) {
                return Err(AclError::at(
                    file,
                    number,
                    format!(
                        "invalid include file name `{}` (must end in .conf)",
                        path.display()
                    ),
                ));
            }
            if !self.seen.insert(identity(&path)) {
                self.warnings.push(format!(
                    "{}:{number}: `{}` already included; skipped",
                    file.display(),
                    path.display()
                ));
                continue;
            }
            self.files.push(path.clone());
            let text = std::fs::read_to_string(&path).map_err(|e| {
                AclError::at(
                    file,
                    number,
                    format!("cannot read included `{}`: {e}", path.display()),
                )
            })?;
            self.explode(&path, &text)?;
        }
        Ok(())
    }
}

/// gitolite's `m(([^/]+).conf$)`.
fn include_name_ok(path: &Path) -> bool {
    let s = path.to_string_lossy();
    let Some(stem) = s.strip_suffix("conf") else {
        return false;
    };
    // one character (gitolite's unescaped `.`), after at least one non-slash.
    let mut chars = stem.chars().rev();
    chars.next().is_some() && chars.next().is_some_and(|c| c != '/')
}

/// What makes two paths the same file (gitolite: device and inode).
fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

struct Patterns {
    config: Regex,
    option: Regex,
    meta: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        config: Regex::new(r"^config (.+) = ?(.*)$").unwrap(),
        option: Regex::new(r"^option (\S+) = (\S.*)$").unwrap(),
        meta: Regex::new(r"^(desc|owner|category) = \S").unwrap(),
    })
}

/// gitolite's `^(@\S+) = (.*)` by hand: (group, members).
fn split_group(text: &str) -> Option<(&str, &str)> {
    let (lhs, rest) = text.split_once(' ')?;
    Some((lhs, rest.strip_prefix("= ")?))
}

/// gitolite's `^(-|C|R|RW\+?(?:C?D?|D?C?)M?) (.* )?= (.+)` by hand (most lines are
/// rules; a regex per line would dominate a CGI request's parse): (perm, refs, users).
fn split_rule(text: &str) -> Option<(&str, &str, &str)> {
    let (perm, rest) = text.split_once(' ')?;
    let perm_ok = match perm {
        "-" | "C" | "R" => true,
        _ => perm.strip_prefix("RW").is_some_and(|p| {
            let p = p.strip_prefix('+').unwrap_or(p);
            let p = p.strip_suffix('M').unwrap_or(p);
            matches!(p, "" | "C" | "D" | "CD" | "DC")
        }),
    };
    if !perm_ok {
        return None;
    }
    // `(.* )?` is greedy: the refs run to the last " = ", if any.
    match rest.rfind(" = ") {
        Some(i) if rest.len() > i + 3 => Some((perm, &rest[..i + 1], &rest[i + 3..])),
        _ => {
            let users = rest.strip_prefix("= ")?;
            (!users.is_empty()).then_some((perm, "", users))
        }
    }
}

/// Builds the compiled form from the spliced lines (gitolite's sugar + parse + store).
struct Builder {
    p: Parsed,
    groups: HashMap<String, BTreeSet<String>>,
    pattern_members: HashMap<String, usize>,
    key_index: HashMap<String, usize>,
    user_index: HashMap<String, usize>,
    refexes: HashMap<String, Arc<Matcher>>,
    /// The current `repo` line's keys (`None` before the first `repo` line).
    repolist: Option<Vec<usize>>,
    seen_c: bool,
    seen_d: bool,
    ignored: Vec<String>,
}

fn build(lines: Vec<Line>, files: Vec<PathBuf>, warnings: Vec<String>) -> Result<Parsed, AclError> {
    let mut b = Builder {
        p: Parsed {
            files,
            warnings,
            ..Parsed::default()
        },
        groups: HashMap::new(),
        pattern_members: HashMap::new(),
        key_index: HashMap::new(),
        user_index: HashMap::new(),
        refexes: HashMap::new(),
        repolist: None,
        seen_c: false,
        seen_d: false,
        ignored: Vec::new(),
    };
    let mut skipping = false;
    for line in &lines {
        // gitolite's skip_block: `= begin testconf` / `= begin template-data` .. `= end`.
        if skipping {
            skipping = !is_block_end(&line.text);
            continue;
        }
        if is_block_start(&line.text) {
            skipping = true;
            continue;
        }
        b.line(line)
            .map_err(|message| AclError::at(&line.file, line.number, message))?;
    }
    if !b.ignored.is_empty() {
        let n = b.ignored.len();
        b.p.warnings.push(format!(
            "ignored {n} directive{} unrelated to access (first: {})",
            if n == 1 { "" } else { "s" },
            b.ignored[0]
        ));
    }
    // inside-out: member -> groups
    let mut groups_of: HashMap<String, Vec<String>> = HashMap::new();
    let mut names: Vec<&String> = b.groups.keys().collect();
    names.sort();
    for group in names {
        for member in &b.groups[group] {
            groups_of
                .entry(member.clone())
                .or_default()
                .push(group.clone());
        }
    }
    let mut pattern_groups = Vec::new();
    let mut pattern_list: Vec<(&String, &usize)> = b.pattern_members.iter().collect();
    pattern_list.sort_by_key(|(_, order)| **order);
    for (member, _) in pattern_list {
        if let Some(groups) = groups_of.get(member) {
            let matcher = Matcher::new(member, true).expect("checked when the group was read");
            pattern_groups.push((matcher, groups.clone()));
        }
    }
    b.p.groups_of = groups_of;
    b.p.pattern_groups = pattern_groups;
    Ok(b.p)
}

fn is_block_start(text: &str) -> bool {
    let t = text.strip_prefix('=').map(str::trim_start);
    matches!(t, Some("begin testconf") | Some("begin template-data"))
}

fn is_block_end(text: &str) -> bool {
    text.strip_prefix('=').map(str::trim_start) == Some("end")
}

impl Builder {
    fn line(&mut self, line: &Line) -> Result<(), String> {
        let pats = patterns();
        let text = line.text.as_str();
        let here = || format!("{}:{}: {}", line.file.display(), line.number, line.raw);
        // One regex per line, picked by the first character (the regexes are
        // gitolite's; the order among them is its order).
        let first = text.as_bytes()[0];
        if first == b'o'
            && let Some(c) = pats.option.captures(text)
        {
            return self.option(&c[1], &c[2], here);
        }
        if matches!(first, b'd' | b'o' | b'c') && pats.meta.is_match(text) {
            self.ignored.push(here());
            return Ok(());
        }
        if first == b'@'
            && let Some((lhs, rhs)) = split_group(text)
        {
            return self.group(lhs, rhs);
        }
        if let Some(items) = text.strip_prefix("repo ") {
            return self.repo(items, here);
        }
        if matches!(first, b'-' | b'C' | b'R')
            && let Some((perm, refs, users)) = split_rule(text)
        {
            return self.rule(perm, refs, users, line, here);
        }
        if first == b'c'
            && let Some(c) = pats.config.captures(text)
        {
            let key = &c[1];
            const PREFIX: &str = "gitolite-options.";
            if let Some(name) = key
                .get(..PREFIX.len())
                .filter(|p| p.eq_ignore_ascii_case(PREFIX))
                .and_then(|_| key.get(PREFIX.len()..))
            {
                return self.option(name, &c[2], here);
            }
            self.ignored.push(here());
            return Ok(());
        }
        if text.starts_with("subconf ") {
            return Err("`subconf` (delegation) is not supported".into());
        }
        Err(format!("syntax error: `{}`", line.raw))
    }

    fn option(&mut self, name: &str, value: &str, here: impl Fn() -> String) -> Result<(), String> {
        let value = strip_quotes(value);
        if value.contains(['`', '~', '#', '$', '&', '(', ')', '|', ';', '<', '>']) {
            return Err(format!("bad option value `{value}`"));
        }
        if name == "MERGE_CHECK" {
            return Err("`MERGE_CHECK` (the M permission) is not supported".into());
        }
        let Some(known) = ACCESS_OPTIONS.iter().find(|o| **o == name) else {
            self.ignored.push(here());
            return Ok(());
        };
        self.add_option(known, value.to_string())
    }

    fn add_option(&mut self, name: &'static str, value: String) -> Result<(), String> {
        let Some(list) = &self.repolist else {
            return Err(format!("option `{name}` outside a `repo` block"));
        };
        for &repo in list {
            self.p.options.push(OptionEntry {
                repo,
                name,
                value: value.clone(),
            });
        }
        Ok(())
    }

    fn group(&mut self, lhs: &str, rhs: &str) -> Result<(), String> {
        if !is_reponame(lhs) {
            return Err(format!("bad group name `{lhs}`"));
        }
        let mut members = Vec::new();
        for item in rhs.split_whitespace() {
            if !is_repopatt(item) {
                return Err(format!("bad group member `{item}`"));
            }
            members.extend(self.expand(item)?);
        }
        for member in &members {
            if !is_reponame(member) && !self.pattern_members.contains_key(member) {
                match Matcher::new(member, true) {
                    Ok(_) => {}
                    // `CONTOSO\user`: a Windows account (`\u` is no regex), a
                    // plain member; one that compiles (`rel\d+`, or `CORP\alice`,
                    // harmless as a repository pattern) stays a pattern, as in
                    // gitolite.
                    Err(_) if is_domain_user(member) => continue,
                    Err(e) => return Err(format!("bad pattern `{member}`: {}", first_line(&e))),
                }
                let order = self.pattern_members.len();
                self.pattern_members.insert(member.clone(), order);
            }
        }
        self.groups
            .entry(lhs.to_string())
            .or_default()
            .extend(members);
        Ok(())
    }

    /// gitolite's `expand_list` for one item: a group (not `@all`) becomes its
    /// members as of now; it must be defined already.
    fn expand(&self, item: &str) -> Result<Vec<String>, String> {
        if item.starts_with('@') && item != "@all" {
            let members = self
                .groups
                .get(item)
                .ok_or_else(|| format!("undefined group `{item}`"))?;
            Ok(members.iter().cloned().collect())
        } else {
            Ok(vec![item.to_string()])
        }
    }

    fn repo(&mut self, items: &str, here: impl Fn() -> String) -> Result<(), String> {
        let mut list = Vec::new();
        for item in items.split_whitespace() {
            let name = match item.strip_suffix(".git") {
                Some(stripped) => {
                    self.p
                        .warnings
                        .push(format!("{}: explicit `.git` ignored", here()));
                    stripped
                }
                None => item,
            };
            if !is_repopatt(name) {
                return Err(format!("bad repository name `{name}`"));
            }
            if name.contains("CREATOR") {
                return Err(format!(
                    "`{name}`: CREATOR and wild repositories are not supported"
                ));
            }
            list.push(self.key(name)?);
        }
        self.repolist = Some(list);
        self.seen_c = false;
        self.seen_d = false;
        Ok(())
    }

    fn key(&mut self, name: &str) -> Result<usize, String> {
        if let Some(&i) = self.key_index.get(name) {
            return Ok(i);
        }
        // Plain names match only themselves: gitolite keeps their rules with the
        // repository (`gl-conf`), out of the pattern scan.
        let matcher = if is_reponame(name) {
            None
        } else {
            Some(
                Matcher::new(name, true)
                    .map_err(|e| format!("bad pattern `{name}`: {}", first_line(&e)))?,
            )
        };
        let i = self.p.repo_keys.len();
        self.p.repo_keys.push(RepoKey {
            name: name.to_string(),
            matcher,
        });
        self.key_index.insert(name.to_string(), i);
        Ok(i)
    }

    fn user(&mut self, name: &str) -> usize {
        if let Some(&i) = self.user_index.get(name) {
            return i;
        }
        let i = self.p.users.len();
        self.p.users.push(name.to_string());
        self.user_index.insert(name.to_string(), i);
        i
    }

    fn rule(
        &mut self,
        perm: &str,
        refs: &str,
        users: &str,
        line: &Line,
        here: impl Fn() -> String,
    ) -> Result<(), String> {
        if perm.contains('M') {
            return Err(format!(
                "permission `{perm}`: M (merge check) is not supported"
            ));
        }
        let Some(repolist) = self.repolist.clone() else {
            return Err("rule outside a `repo` block".into());
        };
        let perm = PERMS
            .iter()
            .copied()
            .find(|p| *p == perm)
            .ok_or_else(|| format!("syntax error: permission `{perm}`"))?;
        if perm == "C" {
            self.ignored.push(format!(
                "{} (C: wild repository creation is not supported)",
                here()
            ));
            return Ok(());
        }
        // refs: groups expand, none means all, `refs/heads/` unless `refs/`.
        let mut refexes = Vec::new();
        for item in refs.split_whitespace() {
            refexes.extend(self.expand(item)?);
        }
        if refexes.is_empty() {
            refexes.push("refs/.*".to_string());
        }
        let mut compiled = Vec::new();
        for refex in refexes {
            if refex.starts_with("VREF/") || refex.starts_with("NAME/") {
                return Err(format!("`{refex}`: VREF and NAME rules are not supported"));
            }
            let refex = if refex.starts_with("refs/") {
                refex
            } else {
                format!("refs/heads/{refex}")
            };
            if !is_repopatt(&refex) {
                return Err(format!("bad ref `{refex}`"));
            }
            if perm == "R" && refex != "refs/.*" {
                self.p.warnings.push(format!(
                    "{}: a refex on an R rule makes no difference to reads",
                    here()
                ));
            }
            compiled.push(self.refex(&refex)?);
        }
        let mut user_ids = Vec::new();
        for user in users.split_whitespace() {
            if !is_username(user) {
                return Err(format!("bad user name `{user}`"));
            }
            let bare = user.strip_prefix('@').unwrap_or(user);
            if ROLES.contains(&bare) {
                return Err(format!(
                    "`{user}`: CREATOR and wild-repository roles are not supported"
                ));
            }
            if user.starts_with('@') && user != "@all" && !self.groups.contains_key(user) {
                self.p
                    .warnings
                    .push(format!("{}: possibly undeclared group `{user}`", here()));
            }
            user_ids.push(self.user(user));
        }
        let site = self.p.sites.len();
        self.p.sites.push(RuleSite {
            file: line.file.to_path_buf(),
            line: line.number,
            text: line.raw.clone(),
        });
        for refex in &compiled {
            for &user in &user_ids {
                for &repo in &repolist {
                    self.p.rules.push(Rule {
                        repo,
                        user,
                        perm,
                        refex: refex.clone(),
                        site,
                    });
                }
            }
        }
        // gitolite's rw_cdm: a C or D rule in a block switches its repos to C / D.
        if perm.contains('D') && !self.seen_d {
            self.seen_d = true;
            self.add_option("DELETE_IS_D", "1".into())?;
        }
        if perm.starts_with("RW") && perm.contains('C') && !self.seen_c {
            self.seen_c = true;
            self.add_option("CREATE_IS_C", "1".into())?;
        }
        Ok(())
    }

    fn refex(&mut self, refex: &str) -> Result<Refex, String> {
        let per_user = refex.contains("/USER/");
        let m = match self.refexes.get(refex) {
            Some(m) => m.clone(),
            None => {
                // A per-user refex is checked here with a stand-in user name.
                let text = refex.replacen("/USER/", "/u/", 1);
                let m = Arc::new(
                    Matcher::new(&text, false)
                        .map_err(|e| format!("bad refex `{refex}`: {}", first_line(&e)))?,
                );
                self.refexes.insert(refex.to_string(), m.clone());
                m
            }
        };
        Ok(if per_user {
            Refex::PerUser(refex.to_string())
        } else {
            Refex::Fixed(m)
        })
    }
}

/// gitolite's `s/^['"](.*)["']$/$1/`.
fn strip_quotes(value: &str) -> &str {
    let b = value.as_bytes();
    if b.len() >= 2 && matches!(b[0], b'"' | b'\'') && matches!(b[b.len() - 1], b'"' | b'\'') {
        &value[1..value.len() - 1]
    } else {
        value
    }
}

/// The first line of a regex error (the rest is an ASCII-art pointer).
fn first_line(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| text.lines().next().unwrap_or(""))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written splits agree with gitolite's regexes.
    #[test]
    fn splits_match_gitolite_regexes() {
        let rule = Regex::new(r"^(-|C|R|RW\+?(?:C?D?|D?C?)M?) (.* )?= (.+)$").unwrap();
        let group = Regex::new(r"^(@\S+) = (.*)$").unwrap();
        for text in [
            "RW+ = alice",
            "RW+ main dev/ = alice bob",
            "- = eve",
            "R = @all",
            "RWCD refs/tags/ = a",
            "RW+DCM x = a",
            "RWX = a",
            "RW+ a = b = c",
            "= = x",
            "RW+ =",
            "RW+ = = x",
            "C = alice",
            "RWD",
            "RW  = a",
            "@g = a b",
            "@g =",
            "@g = ",
            "@g x = y",
            "R x=y",
        ] {
            let want = rule.captures(text).map(|c| {
                (
                    c.get(1).unwrap().as_str(),
                    c.get(2).map_or("", |m| m.as_str()),
                    c.get(3).unwrap().as_str(),
                )
            });
            assert_eq!(split_rule(text), want, "rule {text:?}");
            let want = group
                .captures(text)
                .map(|c| (c.get(1).unwrap().as_str(), c.get(2).unwrap().as_str()));
            let got = split_group(text).filter(|(lhs, _)| lhs.starts_with('@'));
            assert_eq!(got, want, "group {text:?}");
        }
    }
}

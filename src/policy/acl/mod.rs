//! The ACL file: gitolite's `gitolite.conf` (version 3), read and judged in-process.
//!
//! The file says who may read or write which repository and, for writes, which refs.
//! Its syntax and its verdicts are gitolite's (`gitolite access` is the oracle of the
//! differential test `tests/acl_gitolite.rs`); see `docs/acl.md` for the internals and
//! README's "Access control" section for the format.
//!
//! - [`parse`] reads a file and its includes into an [`Acl`] (groups, rules in global
//!   file order, options), refusing what it does not implement with `file:line`.
//! - [`eval`] answers [`Acl::decide`] (gitolite's `access()`) and [`Acl::decide_update`]
//!   (gitolite's update hook: which permission a ref update needs).
//! - [`load_cached`] keeps one parsed file per path for daemons and re-reads it when
//!   the file or any file it includes changes.
//! - [`access_main`] is the `access` command that explains a decision.
//!
//! ```
//! use git_http_backend_rs::policy::acl::{Acl, Perm};
//! let dir = tempfile::tempdir().unwrap();
//! let file = dir.path().join("acl.conf");
//! std::fs::write(&file, "@devs = alice bob\nrepo app\n    R = @all\n    RW dev/ = @devs\n").unwrap();
//! let acl = Acl::load(&file).unwrap();
//! assert!(acl.decide("app", "anonymous", Perm::Read, None).allowed);
//! assert!(acl.decide("app", "bob", Perm::Write, Some("dev/x")).allowed);
//! assert!(!acl.decide("app", "bob", Perm::Write, Some("main")).allowed);
//! ```

mod cache;
mod cli;
mod eval;
mod parse;
mod syntax;

use std::fmt;
use std::path::{Path, PathBuf};
#[cfg(test)]
use std::sync::Arc;

pub use cache::load_cached;
pub use cli::{ACCESS_USAGE, access_command, access_main};

/// A permission asked for, as gitolite names them: `R`, `W`, `+`, `C`, `D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Perm {
    /// `R`: fetch, clone, read any file.
    Read,
    /// `W`: push (a fast-forward of an existing ref).
    Write,
    /// `+`: rewind (force-push) a ref; also deletes a ref when the repository uses no `D`.
    Force,
    /// `C`: create a ref (only when some rule for the repository uses `C`, else `W`).
    Create,
    /// `D`: delete a ref (only when some rule for the repository uses `D`, else `+`).
    Delete,
}

impl Perm {
    /// Parses gitolite's spelling (`R`, `W`, `+`, `C`, `D`).
    pub fn parse(s: &str) -> Option<Perm> {
        Some(match s {
            "R" => Perm::Read,
            "W" => Perm::Write,
            "+" => Perm::Force,
            "C" => Perm::Create,
            "D" => Perm::Delete,
            _ => return None,
        })
    }

    /// gitolite's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Perm::Read => "R",
            Perm::Write => "W",
            Perm::Force => "+",
            Perm::Create => "C",
            Perm::Delete => "D",
        }
    }
}

impl fmt::Display for Perm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a pushed ref update does, as [`Acl::decide_update`] judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpdateKind {
    /// The ref does not exist yet (old id is all zeros).
    Create,
    /// The ref is removed (new id is all zeros).
    Delete,
    /// The new commit contains the old one.
    FastForward,
    /// Anything else: a forced update.
    Rewind,
}

/// Where a rule was written: for explanations and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSite {
    /// The file holding the rule (the ACL file or an included file).
    pub file: PathBuf,
    /// Its 1-based line number.
    pub line: usize,
    /// The line as written, trimmed.
    pub text: String,
}

impl fmt::Display for RuleSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.text)
    }
}

/// The verdict on one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// True if access is granted.
    pub allowed: bool,
    /// The rule that decided; `None` when no rule matched (a denial, gitolite's
    /// "fallthru") or when the question itself was invalid (see [`Decision::reason`]).
    pub rule: Option<RuleSite>,
    /// Why, when no rule decided (`None` for a plain fallthru).
    pub reason: Option<&'static str>,
}

impl Decision {
    fn by_rule(allowed: bool, site: &RuleSite) -> Decision {
        Decision {
            allowed,
            rule: Some(site.clone()),
            reason: None,
        }
    }

    fn fallthru() -> Decision {
        Decision {
            allowed: false,
            rule: None,
            reason: None,
        }
    }

    fn invalid(reason: &'static str) -> Decision {
        Decision {
            allowed: false,
            rule: None,
            reason: Some(reason),
        }
    }
}

impl fmt::Display for Decision {
    /// `allowed by FILE:LINE: TEXT`, `denied by FILE:LINE: TEXT`, or
    /// `denied: no rule matched`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.allowed { "allowed" } else { "denied" };
        match (&self.rule, self.reason) {
            (Some(site), _) => write!(f, "{verdict} by {site}"),
            (None, Some(reason)) => write!(f, "{verdict}: {reason}"),
            (None, None) => write!(f, "{verdict}: no rule matched"),
        }
    }
}

/// A problem with the ACL file: displays as `file:line: message` (or `file: message`
/// when it concerns the whole file). Callers fail closed on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclError {
    /// The file concerned.
    pub file: PathBuf,
    /// The 1-based line, if the problem is on one line.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl AclError {
    fn at(file: &Path, line: usize, message: impl Into<String>) -> AclError {
        AclError {
            file: file.to_path_buf(),
            line: Some(line),
            message: message.into(),
        }
    }

    fn file(file: &Path, message: impl Into<String>) -> AclError {
        AclError {
            file: file.to_path_buf(),
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for AclError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for AclError {}

/// A parsed ACL file (with its includes), ready to answer questions. Immutable and
/// shareable across threads.
#[derive(Debug)]
pub struct Acl {
    pub(crate) data: parse::Parsed,
}

impl Acl {
    /// Reads and checks `path` and every file it includes.
    pub fn load(path: &Path) -> Result<Acl, AclError> {
        Ok(Acl {
            data: parse::parse_file(path)?,
        })
    }

    /// Parses ACL text as if it were the file `path` (includes are resolved
    /// relative to `path`'s directory). For tests and tools.
    pub fn from_text(path: &Path, text: &str) -> Result<Acl, AclError> {
        Ok(Acl {
            data: parse::parse_text(path, text)?,
        })
    }

    /// gitolite's `access REPO USER PERM REF`: may `user` have `perm` on `repo`
    /// (relative to the project root, without `.git`: see [`repo_name`]) for
    /// `refname` (`None` is gitolite's `any`: deny rules are skipped unless the
    /// repository has `option deny-rules = 1`)? A `refname` not starting with
    /// `refs/` gets `refs/heads/` in front. [`Perm::Create`] means `W` and
    /// [`Perm::Delete`] means `+` unless a rule for the repository uses `C` / `D`,
    /// as with `gitolite access`.
    pub fn decide(&self, repo: &str, user: &str, perm: Perm, refname: Option<&str>) -> Decision {
        eval::decide(&self.data, repo, user, perm, refname)
    }

    /// Judges one ref update of a push the way gitolite's update hook does: a
    /// creation needs `C` if the repository uses `C`, else `W`; a deletion needs `D`
    /// if the repository uses `D`, else `+`; a fast-forward needs `W` (`+` for a tag
    /// that already exists, i.e. any `refs/tags/` ref); a rewind needs `+`.
    pub fn decide_update(
        &self,
        repo: &str,
        user: &str,
        refname: &str,
        kind: UpdateKind,
    ) -> Decision {
        eval::decide_update(&self.data, repo, user, refname, kind)
    }

    /// Every file this ACL was read from: the main file first, then included files.
    pub fn files(&self) -> &[PathBuf] {
        &self.data.files
    }

    /// Warnings found while reading (ignored directives, undeclared groups, ...).
    pub fn warnings(&self) -> &[String] {
        &self.data.warnings
    }

    /// How many access rules the file holds (one per line, ref and user combination).
    pub fn rule_count(&self) -> usize {
        self.data.rules.len()
    }
}

/// The user name requests are judged as: `REMOTE_USER` when set and non-empty, else
/// `GIT_HTTP_ANON_USER` when set and non-empty, else `anonymous`.
pub fn effective_user(remote_user: Option<&str>, env_anon: Option<&str>) -> String {
    remote_user
        .filter(|u| !u.is_empty())
        .or(env_anon.filter(|u| !u.is_empty()))
        .unwrap_or("anonymous")
        .to_string()
}

/// The name a repository has in the ACL: its path relative to the project root,
/// without leading, trailing or doubled slashes, `.` segments, or a trailing `.git`
/// or `/.git` (`a/b.git/` -> `a/b`, `a/b/.git` -> `a/b`). `..` segments are kept;
/// [`Acl::decide`] denies any name containing `..`.
pub fn repo_name(root_relative_path: &str) -> String {
    let segments: Vec<&str> = root_relative_path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let mut name = segments.join("/");
    loop {
        if let Some(stripped) = name.strip_suffix("/.git") {
            name = stripped.to_string();
        } else if name == ".git" {
            name.clear();
        } else if let Some(stripped) = name.strip_suffix(".git") {
            name = stripped.to_string();
            break;
        } else {
            break;
        }
    }
    name
}

#[cfg(test)]
mod tests;

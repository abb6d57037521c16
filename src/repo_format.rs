//! git's `check_repository_format`: the checks `enter_repo` makes on a repository's
//! own config file before git-http-backend replies, so that a repository git cannot
//! open gets git's clean `500` and one `fatal:` line *before* our first header,
//! rather than a `200` head followed by a child that refuses.
//!
//! The repository config (`<commondir>/config`, without includes) is read key by key
//! in file order, as git's `check_repo_format` callback sees it:
//! - `core.repositoryformatversion`: an `int` (`bad numeric config value ...`);
//!   above 1 is refused (`Expected git repo version <= 1, found N`);
//! - `extensions.*`: the ones git 2.47 knows in version 0 (`noop`,
//!   `preciousObjects`, `partialClone`, `worktreeConfig`), the version-1 ones
//!   (`noop-v1`, `objectFormat`, `compatObjectFormat`, `refStorage`, with their
//!   value checks), and any other is unknown (refused in version 1);
//! - `core.bare` (a boolean) and `core.worktree` (needs a value).
//!
//! A config file that is missing or unreadable passes here (git treats it as "no
//! version"); a syntax error is git's `bad config line N in file ./config`.
//!
//! ```
//! use git_http_backend_rs::repo_format::check_text;
//! assert!(check_text(b"[core]\n\trepositoryformatversion = 0\n", "./config").is_ok());
//! let e = check_text(b"[core]\n\trepositoryformatversion = 2\n", "./config").unwrap_err();
//! assert_eq!(e.log_line(), "fatal: Expected git repo version <= 1, found 2");
//! ```

use crate::error::{HttpError, Result};
use crate::gitnum::NumError;
use gix_config::parse::{EventRef, Events};
use std::path::Path;

/// The highest repository format version git reads (`GIT_REPO_VERSION_READ`).
const VERSION_READ: i32 = 1;

/// Checks the repository whose git directory is `git_dir` (after any gitfile) as
/// git's `check_repository_format` does; `Err` carries git's message.
pub fn check(git_dir: &Path) -> Result<()> {
    let common = common_dir(git_dir);
    let path = common.join("config");
    let shown = if common == git_dir {
        "./config".to_string()
    } else {
        path.display().to_string()
    };
    match std::fs::read(&path) {
        Ok(data) => check_text(&data, &shown),
        // git's fopen failed: no version, nothing to check. Resource exhaustion is
        // not "no config", though: say so rather than serve a repository unchecked.
        Err(e) if crate::resources::is_exhaustion(&e) => Err(crate::resources::unavailable(
            &format!("reading {shown}"),
            &e,
        )),
        Err(e) => {
            // git's warn_on_fopen_errors: silent for a missing file only.
            if !matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) {
                log::warn!(
                    "warning: unable to access '{shown}': {}",
                    crate::os::strerror(&e)
                );
            }
            Ok(())
        }
    }
}

fn common_dir(git_dir: &Path) -> std::path::PathBuf {
    match std::fs::read(git_dir.join("commondir")) {
        Ok(data) => {
            let data = data.trim_ascii_end();
            if data.is_empty() {
                return git_dir.to_path_buf();
            }
            let p = std::path::PathBuf::from(crate::os::bytes_to_os(data));
            if p.is_absolute() { p } else { git_dir.join(p) }
        }
        Err(_) => git_dir.to_path_buf(),
    }
}

/// What the callback collected (git's `struct repository_format`).
#[derive(Default)]
struct Format {
    version: Option<i32>,
    unknown: Vec<String>,
    v1_only: Vec<String>,
    compat_seen: Option<String>,
}

/// A callback failure: git prints `error: <why>` and dies with `bad config line`.
fn callback_error(why: String, line: usize, shown: &str) -> HttpError {
    log::error!("error: {why}");
    HttpError::die(format!("bad config line {line} in file {shown}"))
}

/// Checks config text (`shown` names the file in messages).
pub fn check_text(data: &[u8], shown: &str) -> Result<()> {
    let events = Events::from_bytes(data, None).map_err(|e| {
        HttpError::die(format!(
            "bad config line {} in file {shown}",
            e.line_number()
        ))
    })?;
    let mut fmt = Format::default();
    let mut line = 1;
    let count_lines = |ev: &EventRef<'_>, line: &mut usize| {
        if let EventRef::Newline(nl) = ev {
            *line += nl.iter().filter(|&&b| b == b'\n').count();
        }
    };
    for ev in events.frontmatter() {
        count_lines(&ev, &mut line);
    }
    for section in events.sections() {
        let (name, sub) = match section.header() {
            EventRef::SectionHeader {
                name,
                subsection_name,
                ..
            } => (
                name.to_string().to_ascii_lowercase(),
                subsection_name.map(|s| s.to_string()),
            ),
            _ => continue,
        };
        let mut pending: Option<(String, usize)> = None;
        let mut partial: Vec<u8> = Vec::new();
        let mut had_separator = false;
        let evs: Vec<EventRef<'_>> = section.iter().collect();
        let mut i = 0;
        while i < evs.len() {
            let ev = &evs[i];
            match ev {
                EventRef::SectionValueName(key) => {
                    if let Some((k, l)) = pending.take() {
                        // A key without `=` and without a value: git's NULL value.
                        entry(&mut fmt, &name, sub.as_deref(), &k, None, l, shown)?;
                    }
                    pending = Some((key.to_string().to_ascii_lowercase(), line));
                    had_separator = false;
                }
                EventRef::KeyValueSeparator => had_separator = true,
                EventRef::ValueNotDone(v) => partial.extend_from_slice(v),
                EventRef::Value(v) | EventRef::ValueDone(v) => {
                    partial.extend_from_slice(v);
                    if let Some((k, l)) = pending.take() {
                        // No `=`: git's NULL value (an implicit true).
                        let value = had_separator.then_some(&partial[..]);
                        entry(&mut fmt, &name, sub.as_deref(), &k, value, l, shown)?;
                    }
                    partial.clear();
                }
                _ => {}
            }
            if matches!(ev, EventRef::Newline(_))
                && let Some((k, l)) = pending.take()
            {
                let value = had_separator.then_some(&b""[..]);
                entry(&mut fmt, &name, sub.as_deref(), &k, value, l, shown)?;
            }
            count_lines(ev, &mut line);
            i += 1;
        }
        if let Some((k, l)) = pending.take() {
            let value = had_separator.then_some(&b""[..]);
            entry(&mut fmt, &name, sub.as_deref(), &k, value, l, shown)?;
        }
    }
    verify(&fmt)
}

/// git's `check_repo_format` for one key (`section`, `sub`, `key` lowercased
/// except the subsection).
fn entry(
    fmt: &mut Format,
    section: &str,
    sub: Option<&str>,
    key: &str,
    value: Option<&[u8]>,
    line: usize,
    shown: &str,
) -> Result<()> {
    let text = || String::from_utf8_lossy(value.unwrap_or_default()).into_owned();
    match (section, sub) {
        ("core", None) => match key {
            "repositoryformatversion" => {
                let parsed = match value.map(std::str::from_utf8) {
                    Some(Ok(v)) => crate::gitnum::parse_int_checked(v),
                    _ => Err(NumError::Invalid),
                };
                match parsed {
                    Ok(v) => fmt.version = Some(v),
                    Err(kind) => {
                        let kind = match kind {
                            NumError::OutOfRange => "out of range",
                            NumError::Invalid => "invalid unit",
                        };
                        return Err(HttpError::die(format!(
                            "bad numeric config value '{}' for 'core.repositoryformatversion' in file {shown}: {kind}",
                            text()
                        )));
                    }
                }
            }
            "bare" => {
                crate::config::config_bool("core.bare", value)?;
            }
            "worktree" if value.is_none() => {
                return Err(callback_error(
                    "missing value for 'core.worktree'".into(),
                    line,
                    shown,
                ));
            }
            _ => {}
        },
        ("extensions", _) => {
            // `[extensions "a"] b` is the variable `extensions.a.b`: an unknown name.
            let ext = match sub {
                Some(s) => format!("{s}.{key}"),
                None => key.to_string(),
            };
            let nonbool = |fmt_name: &str| {
                callback_error(format!("missing value for '{fmt_name}'"), line, shown)
            };
            match ext.as_str() {
                "noop" => {}
                "preciousobjects" | "worktreeconfig" => {
                    crate::config::config_bool(&format!("extensions.{ext}"), value)?;
                }
                "partialclone" => {
                    if value.is_none() {
                        return Err(nonbool("extensions.partialclone"));
                    }
                }
                "noop-v1" => fmt.v1_only.push(ext),
                "objectformat" | "compatobjectformat" => {
                    let var = format!("extensions.{ext}");
                    let Some(v) = value else {
                        return Err(nonbool(&var));
                    };
                    if !matches!(v, b"sha1" | b"sha256") {
                        return Err(callback_error(
                            format!("invalid value for '{var}': '{}'", text()),
                            line,
                            shown,
                        ));
                    }
                    if ext == "compatobjectformat" {
                        if let Some(prev) = &fmt.compat_seen {
                            return Err(callback_error(
                                format!("'{var}' already specified as '{prev}'"),
                                line,
                                shown,
                            ));
                        }
                        fmt.compat_seen = Some(text());
                    }
                    fmt.v1_only.push(ext);
                }
                "refstorage" => {
                    let Some(v) = value else {
                        return Err(nonbool("extensions.refstorage"));
                    };
                    if !matches!(v, b"files" | b"reftable") {
                        return Err(callback_error(
                            format!("invalid value for 'extensions.refstorage': '{}'", text()),
                            line,
                            shown,
                        ));
                    }
                    fmt.v1_only.push(ext);
                }
                _ => fmt.unknown.push(ext),
            }
        }
        _ => {}
    }
    Ok(())
}

/// git's `verify_repository_format` (a missing version passes).
fn verify(fmt: &Format) -> Result<()> {
    let Some(version) = fmt.version else {
        return Ok(());
    };
    if version > VERSION_READ {
        return Err(HttpError::die(format!(
            "Expected git repo version <= {VERSION_READ}, found {version}"
        )));
    }
    let list = |what: &str, items: &[String]| {
        let mut s = what.to_string();
        for item in items {
            s.push_str("\n\t");
            s.push_str(item);
        }
        HttpError::die(s)
    };
    if version >= 1 && !fmt.unknown.is_empty() {
        return Err(list(
            if fmt.unknown.len() == 1 {
                "unknown repository extension found:"
            } else {
                "unknown repository extensions found:"
            },
            &fmt.unknown,
        ));
    }
    if version == 0 && !fmt.v1_only.is_empty() {
        return Err(list(
            if fmt.v1_only.len() == 1 {
                "repo version is 0, but v1-only extension found:"
            } else {
                "repo version is 0, but v1-only extensions found:"
            },
            &fmt.v1_only,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_text;

    fn err(text: &str) -> String {
        check_text(text.as_bytes(), "./config")
            .unwrap_err()
            .log_line()
    }

    #[test]
    fn versions_and_extensions() {
        assert!(check_text(b"", "./config").is_ok());
        assert!(check_text(b"[extensions]\n\tfoo = 1\n", "./config").is_ok());
        assert!(
            check_text(
                b"[core]\n\trepositoryformatversion = 0\n[extensions]\n\tfoo\n",
                "./config"
            )
            .is_ok()
        );
        assert_eq!(
            err("[core]\nrepositoryformatversion = 1\n[extensions]\nfoo\nbar=1\n"),
            "fatal: unknown repository extensions found:\n\tfoo\n\tbar"
        );
        assert_eq!(
            err("[core]\nrepositoryformatversion=0\n[extensions]\nobjectformat=sha1\n"),
            "fatal: repo version is 0, but v1-only extension found:\n\tobjectformat"
        );
        assert_eq!(
            err("[core]\nrepositoryformatversion = x\n"),
            "fatal: bad numeric config value 'x' for 'core.repositoryformatversion' in file ./config: invalid unit"
        );
        assert_eq!(
            err("[core]\n\n\trepositoryformatversion = 1\n[extensions]\n\trefstorage = sql\n"),
            "fatal: bad config line 5 in file ./config"
        );
        assert_eq!(
            err("[core]\n\tworktree\n"),
            "fatal: bad config line 2 in file ./config"
        );
        assert_eq!(
            err("[core]\n\tbare = maybe\n"),
            "fatal: bad boolean config value 'maybe' for 'core.bare'"
        );
        assert!(check_text(b"[core]\n\tworktree =\n", "./config").is_ok());
    }
}

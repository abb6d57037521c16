//! Log lines on stderr, which the web server (CGI) or the service manager (daemons)
//! keeps. One form per mode:
//!
//! - **CGI**: errors and warnings are bare lines in git's words (`fatal: ...`,
//!   `Not a git repository: ...`), exactly as the stock git-http-backend writes them;
//!   the web server adds its own timestamp and prefix. Debug and info lines read
//!   `git-http-backend-rs: debug: ...`.
//! - **daemons** (FastCGI server, `serve`): every line reads
//!   `2026-12-01T07:40:48.123Z git-http-backend-rs[PID]: WORD: message`, where WORD is
//!   `fatal`, `error`, `warning`, `info` or `debug` (a message that already starts
//!   with git's `fatal:`/`error:`/`warning:` keeps it). Under systemd
//!   (`JOURNAL_STREAM` names our stderr) the timestamp and name are left out: the
//!   journal adds its own.
//!
//! The level comes from `GIT_HTTP_BACKEND_LOG` (env_logger syntax, default `warn`).
//!
//! ```
//! use git_http_backend_rs::logging::{daemon_line, Stamp};
//! let line = daemon_line(Stamp::Full { millis: 0, pid: 7 }, log::Level::Warn, "no socket");
//! assert_eq!(line, "1970-01-01T00:00:00.000Z git-http-backend-rs[7]: warning: no socket");
//! assert_eq!(daemon_line(Stamp::Journal, log::Level::Error, "fatal: x"), "fatal: x");
//! ```
//!
//! `GIT_HTTP_BACKEND_LOG_FILE`, if set, appends the lines to that file instead: for
//! IIS, where standard error is an invalid handle (lines written there are
//! dropped) and FCGI_STDERR would turn replies into 500s. git children then write
//! their standard error there too ([`child_stderr`]).

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

/// 0: CGI (or not decided yet), 1: daemon with timestamps, 2: daemon under journald.
static STYLE: AtomicU8 = AtomicU8::new(0);

/// Where a git child's standard error goes: the `GIT_HTTP_BACKEND_LOG_FILE` when
/// one is set (under IIS our own standard error is an invalid handle, and git's
/// messages, "dubious ownership" say, would be lost), else our standard error,
/// which the web server keeps, as with the stock program.
pub fn child_stderr() -> std::process::Stdio {
    std::env::var_os("GIT_HTTP_BACKEND_LOG_FILE")
        .filter(|p| !p.is_empty())
        .and_then(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .ok()
        })
        .map_or_else(std::process::Stdio::inherit, std::process::Stdio::from)
}

/// Installs the logger once; later calls do nothing.
pub fn init() {
    let filter = std::env::var("GIT_HTTP_BACKEND_LOG").unwrap_or_else(|_| "warn".into());
    let mut builder = env_logger::Builder::new();
    if let Some(path) = std::env::var_os("GIT_HTTP_BACKEND_LOG_FILE").filter(|p| !p.is_empty()) {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            Ok(f) => {
                builder.target(env_logger::Target::Pipe(Box::new(f)));
            }
            Err(e) => eprintln!(
                "git-http-backend-rs: cannot open GIT_HTTP_BACKEND_LOG_FILE {}: {e}",
                std::path::Path::new(&path).display()
            ),
        }
    }
    let _ = builder
        .parse_filters(&filter)
        .format(|buf, record| {
            let message = record.args().to_string();
            let line = match STYLE.load(Ordering::Relaxed) {
                0 => cgi_line(record.level(), &message),
                1 => daemon_line(
                    Stamp::Full {
                        millis: now_millis(),
                        pid: std::process::id(),
                    },
                    record.level(),
                    &message,
                ),
                _ => daemon_line(Stamp::Journal, record.level(), &message),
            };
            writeln!(buf, "{line}")
        })
        .try_init();
}

/// Switches to the daemon form (FastCGI server, `serve`); call once at start.
pub fn set_daemon() {
    let style = if journal_is_stderr() { 2 } else { 1 };
    STYLE.store(style, Ordering::Relaxed);
}

/// True when this process runs as a daemon (FastCGI server or `serve`).
pub fn is_daemon() -> bool {
    STYLE.load(Ordering::Relaxed) != 0
}

/// True when `JOURNAL_STREAM` (`DEV:INODE`, set by systemd) names our stderr, as
/// systemd.exec(5) advises checking: a variable inherited by a process whose
/// stderr was redirected elsewhere does not count.
fn journal_is_stderr() -> bool {
    let Ok(value) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::MetadataExt;
        let Some((dev, ino)) = value.split_once(':') else {
            return false;
        };
        let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
            return false;
        };
        let stderr = std::io::stderr();
        let Ok(fd) = stderr.as_fd().try_clone_to_owned() else {
            return false;
        };
        match std::fs::File::from(fd).metadata() {
            Ok(m) => m.dev() == dev && m.ino() == ino,
            Err(_) => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = value;
        false
    }
}

/// What goes in front of a daemon line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// Timestamp (milliseconds since the epoch) and process id.
    Full {
        /// Milliseconds since the epoch.
        millis: i64,
        /// Our process id.
        pid: u32,
    },
    /// Nothing: systemd's journal records time, name and pid itself.
    Journal,
}

/// A CGI-mode line: bare git words for warnings and errors.
pub fn cgi_line(level: log::Level, message: &str) -> String {
    if level <= log::Level::Warn {
        message.to_string()
    } else {
        format!("git-http-backend-rs: {}: {message}", word(level))
    }
}

fn word(level: log::Level) -> &'static str {
    match level {
        log::Level::Error => "error",
        log::Level::Warn => "warning",
        log::Level::Info => "info",
        log::Level::Debug | log::Level::Trace => "debug",
    }
}

/// A daemon-mode line.
pub fn daemon_line(stamp: Stamp, level: log::Level, message: &str) -> String {
    let has_word = ["fatal: ", "error: ", "warning: "]
        .iter()
        .any(|w| message.starts_with(w));
    let body = if has_word {
        message.to_string()
    } else {
        format!("{}: {message}", word(level))
    };
    match stamp {
        Stamp::Full { millis, pid } => {
            format!(
                "{} git-http-backend-rs[{pid}]: {body}",
                rfc3339_millis(millis)
            )
        }
        Stamp::Journal => body,
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `2026-12-01T07:40:48.123Z` (UTC).
pub fn rfc3339_millis(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let (y, m, d) = crate::date::civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        millis.rem_euclid(1000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            rfc3339_millis(1_795_482_123_045),
            "2026-11-24T01:02:03.045Z"
        );
        assert_eq!(
            cgi_line(log::Level::Warn, "Not a git repository: 'x'"),
            "Not a git repository: 'x'"
        );
        assert_eq!(
            cgi_line(log::Level::Debug, "mode: CGI"),
            "git-http-backend-rs: debug: mode: CGI"
        );
        let full = Stamp::Full {
            millis: 1_795_482_123_045,
            pid: 42,
        };
        assert_eq!(
            daemon_line(full, log::Level::Error, "fatal: cannot run git"),
            "2026-11-24T01:02:03.045Z git-http-backend-rs[42]: fatal: cannot run git"
        );
        assert_eq!(
            daemon_line(full, log::Level::Warn, "Not a git repository: 'x'"),
            "2026-11-24T01:02:03.045Z git-http-backend-rs[42]: warning: Not a git repository: 'x'"
        );
        assert_eq!(
            daemon_line(Stamp::Journal, log::Level::Info, "listening"),
            "info: listening"
        );
    }
}

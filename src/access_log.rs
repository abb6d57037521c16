//! The access log: one JSON object per line per request, the same in CGI, FastCGI
//! and `serve`, written when the request ends.
//!
//! Where: `GIT_HTTP_ACCESS_LOG` (command-line alias `--access-log`) names a file
//! (opened for appending; each line is one `write`), or is `-` / `stderr` for the
//! standard error stream (the web server's error log under CGI). Unset: no access
//! log.
//!
//! Fields (every line has all of them; `null` when unknown):
//!
//! | field | meaning |
//! |---|---|
//! | `time` | when the request started, RFC 3339 UTC with milliseconds |
//! | `client` | `REMOTE_ADDR` |
//! | `user` | `REMOTE_USER` (`null` when anonymous) |
//! | `method` | `REQUEST_METHOD` |
//! | `repo` | the repository path as requested (below `GIT_PROJECT_ROOT`) |
//! | `route` | what was asked of it: `info/refs`, `git-upload-pack`, `HEAD`, `objects/...` |
//! | `service` | the smart service (`upload-pack`, `receive-pack`, `upload-archive`) |
//! | `protocol` | the git protocol version asked for (0, 1, 2) |
//! | `status` | the HTTP status sent |
//! | `bytes_in` | request body bytes read |
//! | `bytes_out` | reply body bytes written |
//! | `ms` | milliseconds from start to end |
//! | `git_exit` | git's exit code (`null` when no git ran; -1 when killed) |
//!
//! ```
//! use git_http_backend_rs::access_log::Record;
//! let mut r = Record::start();
//! r.client = Some("127.0.0.1".into());
//! r.status = 200;
//! let line = r.to_json();
//! assert!(line.starts_with("{\"time\":\""));
//! assert!(line.contains("\"client\":\"127.0.0.1\",\"user\":null"));
//! ```

use crate::request::Env;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

/// One request's line, filled in as the request goes.
#[derive(Debug, Clone)]
pub struct Record {
    /// When the request started.
    pub time: SystemTime,
    /// For `ms`.
    pub started: Instant,
    /// `REMOTE_ADDR`.
    pub client: Option<String>,
    /// `REMOTE_USER` if non-empty.
    pub user: Option<String>,
    /// `REQUEST_METHOD`.
    pub method: Option<String>,
    /// The repository as requested.
    pub repo: Option<String>,
    /// The route suffix.
    pub route: Option<String>,
    /// The smart service.
    pub service: Option<String>,
    /// Git protocol version.
    pub protocol: u8,
    /// HTTP status.
    pub status: u16,
    /// Request body bytes read.
    pub bytes_in: u64,
    /// Reply body bytes written.
    pub bytes_out: u64,
    /// git's exit code.
    pub git_exit: Option<i32>,
}

impl Record {
    /// A record starting now.
    pub fn start() -> Record {
        Record {
            time: SystemTime::now(),
            started: Instant::now(),
            client: None,
            user: None,
            method: None,
            repo: None,
            route: None,
            service: None,
            protocol: 0,
            status: 0,
            bytes_in: 0,
            bytes_out: 0,
            git_exit: None,
        }
    }

    /// Fills in what the request environment says.
    pub fn from_env(&mut self, env: &Env) {
        self.client = env.get_lossy("REMOTE_ADDR");
        self.user = env
            .get_nonempty("REMOTE_USER")
            .map(|u| String::from_utf8_lossy(u).into_owned());
        self.method = env.get_lossy("REQUEST_METHOD");
        let proto = env
            .get("GIT_PROTOCOL")
            .or_else(|| env.get("HTTP_GIT_PROTOCOL"))
            .unwrap_or_default();
        self.protocol = protocol_version(proto);
    }

    /// The JSON line (without the newline).
    pub fn to_json(&self) -> String {
        let ms = self.started.elapsed().as_millis();
        let mut s = String::with_capacity(320);
        s.push('{');
        field_str(
            &mut s,
            "time",
            Some(&crate::date::rfc3339_millis(self.time)),
        );
        field_str(&mut s, "client", self.client.as_deref());
        field_str(&mut s, "user", self.user.as_deref());
        field_str(&mut s, "method", self.method.as_deref());
        field_str(&mut s, "repo", self.repo.as_deref());
        field_str(&mut s, "route", self.route.as_deref());
        field_str(&mut s, "service", self.service.as_deref());
        field_raw(&mut s, "protocol", &self.protocol.to_string());
        field_raw(&mut s, "status", &self.status.to_string());
        field_raw(&mut s, "bytes_in", &self.bytes_in.to_string());
        field_raw(&mut s, "bytes_out", &self.bytes_out.to_string());
        field_raw(&mut s, "ms", &ms.to_string());
        field_raw(
            &mut s,
            "git_exit",
            &self.git_exit.map_or("null".to_string(), |c| c.to_string()),
        );
        s.pop(); // the last comma
        s.push('}');
        s
    }
}

/// The highest `version=N` in a `GIT_PROTOCOL` value (0 when none).
fn protocol_version(proto: &[u8]) -> u8 {
    proto
        .split(|&b| b == b':')
        .filter_map(|item| item.strip_prefix(b"version="))
        .filter_map(|v| match v {
            b"0" => Some(0),
            b"1" => Some(1),
            b"2" => Some(2),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

fn field_raw(s: &mut String, name: &str, value: &str) {
    s.push('"');
    s.push_str(name);
    s.push_str("\":");
    s.push_str(value);
    s.push(',');
}

fn field_str(s: &mut String, name: &str, value: Option<&str>) {
    match value {
        None => field_raw(s, name, "null"),
        Some(v) => {
            let mut quoted = String::with_capacity(v.len() + 2);
            quoted.push('"');
            for c in v.chars() {
                match c {
                    '"' => quoted.push_str("\\\""),
                    '\\' => quoted.push_str("\\\\"),
                    '\n' => quoted.push_str("\\n"),
                    '\r' => quoted.push_str("\\r"),
                    '\t' => quoted.push_str("\\t"),
                    c if (c as u32) < 0x20 || c == '\u{7f}' => {
                        quoted.push_str(&format!("\\u{:04x}", c as u32))
                    }
                    c => quoted.push(c),
                }
            }
            quoted.push('"');
            field_raw(s, name, &quoted);
        }
    }
}

/// The open log file of a daemon, kept between requests (reopened when the
/// setting names another file).
static FILE: Mutex<Option<(PathBuf, File)>> = Mutex::new(None);

/// Writes `record` where `GIT_HTTP_ACCESS_LOG` of `env` says; nothing if unset. A
/// log that cannot be written is reported on stderr, never fails the request.
pub fn write(env: &Env, record: &Record) {
    if let Some(target) = env.get_nonempty("GIT_HTTP_ACCESS_LOG") {
        write_to(target, record);
    }
}

/// Writes `record` to `target` (a `GIT_HTTP_ACCESS_LOG` value; empty: nowhere).
pub fn write_to(target: &[u8], record: &Record) {
    if target.is_empty() {
        return;
    }
    let mut line = record.to_json();
    line.push('\n');
    if target == b"-" || target == b"stderr" {
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
        return;
    }
    let path = PathBuf::from(crate::os::bytes_to_os(target));
    let mut slot = FILE.lock().unwrap_or_else(|p| p.into_inner());
    if slot.as_ref().is_none_or(|(p, _)| *p != path) {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            Ok(f) => *slot = Some((path.clone(), f)),
            Err(e) => {
                log::error!("access log {}: {e}", path.display());
                return;
            }
        }
    }
    if let Some((_, f)) = slot.as_mut()
        && let Err(e) = f.write_all(line.as_bytes())
    {
        log::error!("access log {}: {e}", path.display());
        *slot = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line() {
        let mut r = Record::start();
        r.from_env(&Env::from_pairs([
            ("REMOTE_ADDR", "::1"),
            ("REMOTE_USER", "al\"ice"),
            ("REQUEST_METHOD", "POST"),
            ("HTTP_GIT_PROTOCOL", "version=2"),
        ]));
        r.repo = Some("/r.git".into());
        r.route = Some("git-upload-pack".into());
        r.service = Some("upload-pack".into());
        r.status = 200;
        r.bytes_in = 10;
        r.bytes_out = 20;
        r.git_exit = Some(0);
        let line = r.to_json();
        assert!(
            line.contains(
                "\"client\":\"::1\",\"user\":\"al\\\"ice\",\"method\":\"POST\",\"repo\":\"/r.git\",\
                 \"route\":\"git-upload-pack\",\"service\":\"upload-pack\",\"protocol\":2,\
                 \"status\":200,\"bytes_in\":10,\"bytes_out\":20,\"ms\":"
            ),
            "{line}"
        );
        assert!(line.ends_with(",\"git_exit\":0}"), "{line}");
        assert_eq!(protocol_version(b"version=1:version=2"), 2);
        assert_eq!(protocol_version(b"foo"), 0);
    }
}

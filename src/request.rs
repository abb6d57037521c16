//! The request/reply abstraction every transport feeds.
//!
//! A transport (CGI, FastCGI, `serve`) turns whatever arrived into a [`Request`]:
//! CGI-style parameters as raw bytes plus a streaming body reader. The handler answers
//! through a [`Response`], which wraps the transport's [`ReplySink`]: first a [`Head`]
//! (status and headers), then a streaming body. The handler never knows which
//! transport it runs under.
//!
//! ```
//! use git_http_backend_rs::request::{Env, Head};
//! let env = Env::from_pairs([("REQUEST_METHOD", "GET"), ("PATH_INFO", "/r.git/HEAD")]);
//! assert_eq!(env.get_str("REQUEST_METHOD"), Some("GET"));
//! let head = Head::new(404, "Not Found").nocache();
//! assert_eq!(head.to_cgi_bytes(), b"Status: 404 Not Found\r\nExpires: Fri, 01 Jan 1980 00:00:00 GMT\r\nPragma: no-cache\r\nCache-Control: no-cache, max-age=0, must-revalidate\r\n\r\n");
//! ```

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

/// CGI meta-variables that describe one request. In FastCGI and `serve` mode these
/// come only from the request, never from the daemon's own environment.
pub const REQUEST_SCOPED: &[&str] = &[
    "AUTH_TYPE",
    "CONTENT_LENGTH",
    "CONTENT_TYPE",
    "GATEWAY_INTERFACE",
    "PATH_INFO",
    "PATH_TRANSLATED",
    "QUERY_STRING",
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "REMOTE_IDENT",
    "REMOTE_PORT",
    "REMOTE_USER",
    "REQUEST_METHOD",
    "REQUEST_URI",
    "SCRIPT_NAME",
    "SCRIPT_FILENAME",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SERVER_SOFTWARE",
    "DOCUMENT_ROOT",
    "HTTPS",
];

/// The environment of one request: CGI parameters and settings, name -> bytes.
///
/// This is exactly the environment the git children get. In CGI mode it is the
/// process environment; in FastCGI and `serve` mode it is the process environment
/// without [`REQUEST_SCOPED`] names and `HTTP_*` headers, overlaid with the
/// request's parameters (so a FastCGI `GIT_PROJECT_ROOT` param beats the daemon's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Env {
    /// An empty environment.
    pub fn new() -> Env {
        Env::default()
    }

    /// Builds an environment from name/value pairs (later pairs win).
    pub fn from_pairs<N: AsRef<[u8]>, V: AsRef<[u8]>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Env {
        let mut env = Env::new();
        for (n, v) in pairs {
            env.set(n.as_ref(), v.as_ref());
        }
        env
    }

    /// The whole process environment, as CGI mode sees it.
    pub fn from_process() -> Env {
        Env::from_pairs(crate::os::env_bytes())
    }

    /// The process environment minus anything request-scoped: the base a daemon
    /// (FastCGI, `serve`) overlays each request's parameters on.
    pub fn daemon_base() -> Env {
        let mut env = Env::from_process();
        env.vars
            .retain(|name, _| !is_request_scoped(name) && !name.starts_with(b"HTTP_"));
        env
    }

    /// The value of `name`, if set (possibly empty).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.vars.get(name.as_bytes()).map(|v| v.as_slice())
    }

    /// The value of `name` if set and valid UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The value of `name` if set and non-empty.
    pub fn get_nonempty(&self, name: &str) -> Option<&[u8]> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// Lossy text of `name` for messages and comparisons with ASCII tokens.
    pub fn get_lossy(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// True if `name` is set at all (even to the empty string).
    pub fn contains(&self, name: &str) -> bool {
        self.vars.contains_key(name.as_bytes())
    }

    /// Sets `name` to `value`, replacing any earlier value.
    pub fn set(&mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.vars
            .insert(name.as_ref().to_vec(), value.as_ref().to_vec());
    }

    /// Sets `name` only if it is not set yet.
    pub fn set_default(&mut self, name: &str, value: impl AsRef<[u8]>) {
        if !self.contains(name) {
            self.set(name, value);
        }
    }

    /// Removes `name`.
    pub fn remove(&mut self, name: &str) {
        self.vars.remove(name.as_bytes());
    }

    /// Every variable, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.vars.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))
    }
}

fn is_request_scoped(name: &[u8]) -> bool {
    REQUEST_SCOPED.iter().any(|n| n.as_bytes() == name)
}

/// One request as a transport hands it to the handler.
pub struct Request {
    /// CGI parameters and settings (see [`Env`]).
    pub env: Env,
    /// The request body as the web server delivers it (already de-chunked). The
    /// handler applies `CONTENT_LENGTH` and `Content-Encoding` itself.
    pub body: Box<dyn Read + Send>,
}

/// Status line and headers of a reply, in the order they are sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// HTTP status code.
    pub status: u16,
    /// Reason phrase, as git-http-backend spells it.
    pub reason: &'static str,
    /// Header lines in order.
    pub headers: Vec<(&'static str, String)>,
}

impl Head {
    /// A head with no headers yet.
    pub fn new(status: u16, reason: &'static str) -> Head {
        Head {
            status,
            reason,
            headers: Vec::new(),
        }
    }

    /// A `200 OK` head.
    pub fn ok() -> Head {
        Head::new(200, "OK")
    }

    /// Appends a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Head {
        self.headers.push((name, value.into()));
        self
    }

    /// Appends git-http-backend's three no-cache headers.
    pub fn nocache(self) -> Head {
        self.header("Expires", "Fri, 01 Jan 1980 00:00:00 GMT")
            .header("Pragma", "no-cache")
            .header("Cache-Control", "no-cache, max-age=0, must-revalidate")
    }

    /// Appends git-http-backend's cache-forever headers for the time `now`.
    pub fn cache_forever(self, now: i64) -> Head {
        self.header("Date", crate::date::rfc2822(now))
            .header("Expires", crate::date::rfc2822(now + 31_536_000))
            .header("Cache-Control", "public, max-age=31536000")
    }

    /// The head as a CGI response header block (`Status:` first unless 200).
    pub fn to_cgi_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        if self.status != 200 {
            out.extend_from_slice(
                format!("Status: {} {}\r\n", self.status, self.reason).as_bytes(),
            );
        }
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// What a transport implements to carry a reply back to the client.
pub trait ReplySink {
    /// Sends the status and headers. Called exactly once, before any body byte.
    fn send_head(&mut self, head: &Head) -> io::Result<()>;
    /// Sends body bytes (all of them, or an error).
    fn write_body(&mut self, data: &[u8]) -> io::Result<()>;
    /// Pushes buffered body bytes towards the client (progress output of git).
    fn flush_body(&mut self) -> io::Result<()>;
}

/// A sink that writes a CGI response (header block, then body) to any byte stream:
/// stdout in CGI mode, the STDOUT record stream in FastCGI mode.
pub struct CgiSink<W: Write> {
    out: W,
}

impl<W: Write> CgiSink<W> {
    /// Wraps `out`.
    pub fn new(out: W) -> CgiSink<W> {
        CgiSink { out }
    }

    /// Gives back the byte stream.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> ReplySink for CgiSink<W> {
    fn send_head(&mut self, head: &Head) -> io::Result<()> {
        self.out.write_all(&head.to_cgi_bytes())
    }
    fn write_body(&mut self, data: &[u8]) -> io::Result<()> {
        self.out.write_all(data)
    }
    fn flush_body(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The handler's side of a reply: remembers whether the head went out, so an error
/// after that point ends the stream instead of sending a second header block.
pub struct Response<'a> {
    sink: &'a mut dyn ReplySink,
    head_sent: bool,
    status: u16,
    bytes_out: u64,
    git_exit: Option<i32>,
}

impl<'a> Response<'a> {
    /// Wraps a transport's sink.
    pub fn new(sink: &'a mut dyn ReplySink) -> Response<'a> {
        Response {
            sink,
            head_sent: false,
            status: 0,
            bytes_out: 0,
            git_exit: None,
        }
    }

    /// The status sent (0 before the head).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Body bytes handed to the transport so far.
    pub fn bytes_out(&self) -> u64 {
        self.bytes_out
    }

    /// Records git's exit code for the access log.
    pub fn set_git_exit(&mut self, code: i32) {
        self.git_exit = Some(code);
    }

    /// git's exit code, if a git child ran to the end.
    pub fn git_exit(&self) -> Option<i32> {
        self.git_exit
    }

    /// True once the head was sent.
    pub fn head_sent(&self) -> bool {
        self.head_sent
    }

    /// Sends the head (once).
    pub fn send_head(&mut self, head: &Head) -> io::Result<()> {
        debug_assert!(!self.head_sent, "head sent twice");
        self.head_sent = true;
        self.status = head.status;
        self.sink.send_head(head)
    }

    /// Sends a complete reply with a body of known bytes.
    pub fn send_full(&mut self, head: &Head, body: &[u8]) -> io::Result<()> {
        self.send_head(head)?;
        if !body.is_empty() {
            self.sink.write_body(body)?;
            self.bytes_out += body.len() as u64;
        }
        self.sink.flush_body()
    }

    /// Writes body bytes.
    pub fn write_body(&mut self, data: &[u8]) -> io::Result<()> {
        self.sink.write_body(data)?;
        self.bytes_out += data.len() as u64;
        Ok(())
    }

    /// Flushes body bytes towards the client.
    pub fn flush(&mut self) -> io::Result<()> {
        self.sink.flush_body()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_base_drops_request_variables() {
        let mut env = Env::from_pairs([("REMOTE_USER", "x"), ("HTTP_X", "y"), ("HOME", "/h")]);
        env.vars
            .retain(|name, _| !is_request_scoped(name) && !name.starts_with(b"HTTP_"));
        assert_eq!(env.get("REMOTE_USER"), None);
        assert_eq!(env.get("HTTP_X"), None);
        assert_eq!(env.get("HOME"), Some(&b"/h"[..]));
    }

    #[test]
    fn ok_head_has_no_status_line() {
        let head = Head::ok().header("Content-Type", "text/plain");
        assert_eq!(head.to_cgi_bytes(), b"Content-Type: text/plain\r\n\r\n");
    }

    #[test]
    fn set_default_keeps_existing() {
        let mut env = Env::from_pairs([("A", "1")]);
        env.set_default("A", "2");
        env.set_default("B", "3");
        assert_eq!(env.get_str("A"), Some("1"));
        assert_eq!(env.get_str("B"), Some("3"));
    }
}

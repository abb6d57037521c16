//! One error type that knows its HTTP status and its log line.
//!
//! git-http-backend answers every failure with a status, the no-cache headers and
//! (except 415 and our 413) an empty body, and writes one line to stderr: `fatal: ...`
//! for internal errors ("die"), the bare reason for 403 and 404.
//!
//! ```
//! use git_http_backend_rs::error::HttpError;
//! let e = HttpError::not_found(format!("Not a git repository: '{}'", "/srv/x"));
//! assert_eq!(e.status, 404);
//! assert_eq!(e.log_line(), "Not a git repository: '/srv/x'");
//! assert_eq!(HttpError::die("'/a/../b': aliased").log_line(), "fatal: '/a/../b': aliased");
//! ```

use std::fmt;

/// A failure that becomes an HTTP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// HTTP status code.
    pub status: u16,
    /// Reason phrase of the status line.
    pub reason: &'static str,
    /// The message for the log (without `fatal: `).
    pub message: String,
    /// Extra headers after the no-cache ones (`Allow` on 405).
    pub allow: Option<&'static str>,
    /// Reply body (415, 413 and 503 carry a message, Git LFS errors a JSON
    /// document; everything else is empty).
    pub body: Vec<u8>,
    /// `WWW-Authenticate` value of a 401 (the built-in Basic auth's challenge).
    pub challenge: Option<String>,
    /// Routine for the client, not news for an admin (a dumb client probing for a
    /// file that may not exist): logged at debug level in the daemons. Under CGI
    /// the line stays as stock writes it.
    pub routine: bool,
    /// `Retry-After` seconds (503 only).
    pub retry_after: Option<u32>,
    /// The body is a Git LFS JSON document (sent with `Content-Type:
    /// application/vnd.git-lfs+json`).
    pub lfs_json: bool,
}

impl HttpError {
    /// An error with any status; prefer the named constructors.
    pub fn new(status: u16, reason: &'static str, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            reason,
            message: message.into(),
            allow: None,
            body: Vec::new(),
            challenge: None,
            routine: false,
            retry_after: None,
            lfs_json: false,
        }
    }

    /// The same error with a reply body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> HttpError {
        self.body = body.into();
        self
    }

    /// An internal error: git's `die()`, a 500.
    pub fn die(message: impl Into<String>) -> HttpError {
        HttpError::new(500, "Internal Server Error", message)
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> HttpError {
        HttpError::new(404, "Not Found", message)
    }

    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> HttpError {
        HttpError::new(403, "Forbidden", message)
    }

    /// 401 Unauthorized with a `WWW-Authenticate: <challenge>` header (the
    /// built-in Basic auth asks for credentials).
    pub fn unauthorized(challenge: String, message: impl Into<String>) -> HttpError {
        let mut e = HttpError::new(401, "Unauthorized", message);
        e.challenge = Some(challenge);
        e
    }

    /// 405 Method Not Allowed with an `Allow` header.
    pub fn method_not_allowed(allow: &'static str) -> HttpError {
        let mut e = HttpError::new(405, "Method Not Allowed", "");
        e.allow = Some(allow);
        e
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> HttpError {
        HttpError::new(400, "Bad Request", message)
    }

    /// 415 Unsupported Media Type with git-http-backend's body.
    pub fn unsupported_media_type(expected: &str, actual: &[u8]) -> HttpError {
        let mut body =
            format!("Expected POST with Content-Type '{expected}', but received '").into_bytes();
        body.extend_from_slice(actual);
        body.extend_from_slice(b"' instead.\n");
        let mut e = HttpError::new(415, "Unsupported Media Type", "");
        e.body = body;
        e
    }

    /// 413 Payload Too Large: our clean answer where stock sends a broken 500.
    pub fn too_large(message: impl Into<String>) -> HttpError {
        let message = message.into();
        let mut e = HttpError::new(413, "Payload Too Large", message.clone());
        e.body = format!("{message}\n").into_bytes();
        e
    }

    /// Marks the error as routine (see [`HttpError::routine`]).
    pub fn routine(mut self) -> HttpError {
        self.routine = true;
        self
    }

    /// 503 Service Unavailable with `Retry-After`: overload or exhausted resources,
    /// decided before any work. The body is a line git shows the user.
    pub fn unavailable(message: impl Into<String>, retry_after: u32) -> HttpError {
        let mut e = HttpError::new(503, "Service Unavailable", message);
        e.retry_after = Some(retry_after);
        e.body = format!("server busy; retry in {retry_after} seconds\n").into_bytes();
        e
    }

    /// True for internal errors (logged with `fatal: `).
    pub fn is_internal(&self) -> bool {
        self.status >= 500
    }

    /// The line written to stderr, in git's conventions (empty when nothing is said).
    pub fn log_line(&self) -> String {
        if self.message.is_empty() {
            String::new()
        } else if self.status == 503 {
            self.message.clone()
        } else if self.is_internal() || self.status == 413 || self.status == 400 {
            format!("fatal: {}", self.message)
        } else {
            self.message.clone()
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.reason, self.message)
    }
}

impl std::error::Error for HttpError {}

/// Set by a daemon that closes connections itself because its shutdown drain time
/// ran out, so that the requests it cuts off are not logged as clients going away.
static CUTTING_OFF: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Notes that the daemon is now closing the connections of requests still running
/// (its shutdown wait is over).
pub fn note_shutdown_cut_off() {
    CUTTING_OFF.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// True once [`note_shutdown_cut_off`] was called.
pub fn shutdown_cut_off() -> bool {
    CUTTING_OFF.load(std::sync::atomic::Ordering::SeqCst)
}

impl HttpError {
    /// The reply could not be written. Normally the client left (`fatal: client
    /// went away ...`); during a daemon's shutdown, after its wait ran out, the
    /// server closed the connection itself, which is said as a warning instead.
    pub fn client_gone(during: Option<&str>, e: &std::io::Error) -> HttpError {
        let during = during.map(|d| format!(" during {d}")).unwrap_or_default();
        if shutdown_cut_off() {
            log::warn!(
                "request cut off{during}: the server is shutting down and closed the connection"
            );
            // Logged above; nothing more to say.
            HttpError::die("")
        } else {
            HttpError::die(format!("client went away{during}: {e}"))
        }
    }
}

/// Shorthand for results in the request path.
pub type Result<T> = std::result::Result<T, HttpError>;

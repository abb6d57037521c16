//! Resource exhaustion is not a missing repository: when the process or the system
//! runs out of file descriptors (`EMFILE`, `ENFILE`), processes or threads
//! (`EAGAIN` from fork/spawn) or memory while a request resolves or serves a
//! repository, the answer is `503 Service Unavailable` with `Retry-After` and one
//! log line, in every mode; never git's `404 Not a git repository`.
//!
//! ```
//! use git_http_backend_rs::resources::{is_exhaustion, unavailable};
//! let emfile = std::io::Error::from_raw_os_error(24); // EMFILE on Linux
//! # #[cfg(target_os = "linux")]
//! assert!(is_exhaustion(&emfile));
//! let e = unavailable("opening /srv/r.git", &emfile);
//! assert_eq!(e.status, 503);
//! assert_eq!(e.retry_after, Some(git_http_backend_rs::resources::RETRY_AFTER_SECS));
//! ```

use crate::error::HttpError;
use std::io;
use std::path::Path;

/// The `Retry-After` a client gets with a 503 for exhausted resources (seconds).
pub const RETRY_AFTER_SECS: u32 = 5;

/// True if `e` means "out of resources, try again later".
pub fn is_exhaustion(e: &io::Error) -> bool {
    crate::os::is_resource_exhaustion(e)
}

/// The 503 for an exhausted resource while doing `what`.
pub fn unavailable(what: &str, e: &io::Error) -> HttpError {
    HttpError::unavailable(
        format!(
            "out of resources {what}: {}; answering 503",
            crate::os::strerror(e)
        ),
        RETRY_AFTER_SECS,
    )
}

/// An I/O failure while doing `what`: 503 for exhaustion, else git's `die`.
pub fn or_die(what: &str, e: io::Error) -> HttpError {
    if is_exhaustion(&e) {
        unavailable(what, &e)
    } else {
        HttpError::die(format!("{what}: {e}"))
    }
}

/// `fs::metadata` that tells exhaustion apart from "not there": `Ok(None)` when
/// the path cannot be looked at for an ordinary reason (git's failed `stat`).
pub fn metadata(path: &Path) -> Result<Option<std::fs::Metadata>, HttpError> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if is_exhaustion(&e) => {
            Err(unavailable(&format!("looking at '{}'", path.display()), &e))
        }
        Err(_) => Ok(None),
    }
}

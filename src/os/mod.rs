//! The operating-system boundary: the only place that knows whether we run on Unix
//! or Windows, and the only module allowed to contain `unsafe` (in `unix.rs`).
//!
//! Everything else in the crate works with bytes and `std` types and calls the
//! small functions re-exported here.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

use std::ffi::OsString;

/// The process environment as byte pairs.
pub fn env_bytes() -> Vec<(Vec<u8>, Vec<u8>)> {
    std::env::vars_os()
        .map(|(k, v)| (os_to_bytes(k), os_to_bytes(v)))
        .collect()
}

/// Converts bytes from the wire (CGI parameters, paths) into an `OsString`.
#[cfg(unix)]
pub fn bytes_to_os(bytes: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(bytes.to_vec())
}

/// Converts an `OsString` into bytes.
#[cfg(unix)]
pub fn os_to_bytes(s: OsString) -> Vec<u8> {
    use std::os::unix::ffi::OsStringExt;
    s.into_vec()
}

/// Converts bytes from the wire into an `OsString` (lossy UTF-8 on Windows).
#[cfg(not(unix))]
pub fn bytes_to_os(bytes: &[u8]) -> OsString {
    OsString::from(String::from_utf8_lossy(bytes).into_owned())
}

/// Converts an `OsString` into bytes (lossy UTF-8 on Windows).
#[cfg(not(unix))]
pub fn os_to_bytes(s: OsString) -> Vec<u8> {
    s.to_string_lossy().into_owned().into_bytes()
}

/// The C library's text for an I/O error, as git prints it (`Is a directory`),
/// without Rust's ` (os error 21)` suffix.
pub fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_string(),
        _ => text,
    }
}

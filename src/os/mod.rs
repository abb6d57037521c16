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

/// Sets variables in the process environment (the daemon options that are
/// aliases of environment variables, such as `--acl FILE`).
///
/// Must be called before the process starts any thread (`main` does, right after
/// parsing the command line).
pub fn set_env_vars(vars: &[(&str, OsString)]) {
    for (name, value) in vars {
        // SAFETY: called from `main` before any other thread exists, so no thread
        // can read the environment concurrently.
        unsafe { std::env::set_var(name, value) };
    }
}

/// One version of a file, as the daemons' caches of the ACL and htpasswd files
/// tell versions apart: modification time, size, and on Unix the inode and the
/// status-change time, so that a file renamed into place or rewritten in place
/// with the same size and a preserved time (`cp -p`, `rsync -t`, `touch -r`) is
/// still seen as new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    modified: std::time::SystemTime,
    len: u64,
    ino: u64,
    ctime: (i64, i64),
}

/// The [`FileStamp`] of `path` (following links); `None` if it cannot be read.
pub fn file_stamp(path: &std::path::Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let (ino, ctime) = {
        use std::os::unix::fs::MetadataExt;
        (meta.ino(), (meta.ctime(), meta.ctime_nsec()))
    };
    #[cfg(not(unix))]
    let (ino, ctime) = (0, (0, 0));
    Some(FileStamp {
        modified: meta.modified().ok()?,
        len: meta.len(),
        ino,
        ctime,
    })
}

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

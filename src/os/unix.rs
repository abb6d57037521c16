//! Unix system calls that `std` does not offer. Every `unsafe` block of the crate
//! lives here, each with a comment saying why it is sound.

use std::io;

/// The effective user id of this process.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// What file descriptor 0 is, for mode detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fd0Kind {
    /// A listening socket (getpeername fails with ENOTCONN): FastCGI convention.
    ListeningSocket,
    /// Anything else: a pipe, a connected socket (mod_cgid), a file, a tty, closed.
    Other,
}

/// Classifies fd 0 the way FastCGI launchers expect: a listening socket is the
/// one case where `getpeername` fails with `ENOTCONN`.
pub fn classify_fd0() -> Fd0Kind {
    let mut addr: libc::sockaddr_storage = unsafe_zeroed_storage();
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: addr is a properly sized, writable sockaddr_storage and len holds its
    // size; getpeername writes at most len bytes and does not keep the pointers.
    let rc = unsafe { libc::getpeername(0, &mut addr as *mut _ as *mut libc::sockaddr, &mut len) };
    if rc == 0 {
        return Fd0Kind::Other;
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::ENOTCONN) => Fd0Kind::ListeningSocket,
        _ => Fd0Kind::Other,
    }
}

fn unsafe_zeroed_storage() -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is a plain C struct for which all-zero bytes is a
    // valid value.
    unsafe { std::mem::zeroed() }
}

/// The id of this process, for `LISTEN_PID` checks.
pub fn process_id() -> u32 {
    std::process::id()
}

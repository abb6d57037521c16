//! Unix system calls that `std` does not offer. Every `unsafe` block of the crate
//! lives here, each with a comment saying why it is sound.

use std::io;

/// The effective user id of this process.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// For a long-running server: an allocation of 256 KiB or more (the reply of a
/// large ref advertisement, `packed-refs` read whole) gets its own mapping and goes
/// back to the system when freed. glibc otherwise raises that threshold after the
/// first such free and keeps the memory in its per-thread arenas: a daemon that
/// answered 8 clients at once with 10,000-ref advertisements kept ~30 MiB.
pub fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of glibc's allocator; it takes plain
    // integers and touches no memory of ours.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
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

/// Sends SIGKILL to the process `pid` (a git child of ours), or to its whole
/// process group when `group` (it leads one); errors (it has ended) are ignored.
pub fn kill_process(pid: u32, group: bool) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    let target = if group { -pid } else { pid };
    // SAFETY: kill takes two integers and touches no memory; pid is a child we
    // spawned and have not reaped (callers forget a pid once it is reaped), so
    // neither it nor the group it leads can be another program's.
    unsafe {
        libc::kill(target, libc::SIGKILL);
    }
}

/// The id of this process, for `LISTEN_PID` checks.
pub fn process_id() -> u32 {
    std::process::id()
}

/// A listening socket handed to us by whoever started the process (spawn-fcgi on
/// fd 0, systemd on fd 3).
#[derive(Debug)]
pub enum InheritedListener {
    /// A unix-domain listening socket.
    Unix(std::os::unix::net::UnixListener),
    /// A TCP listening socket (IPv4 or IPv6).
    Tcp(std::net::TcpListener),
}

/// Takes ownership of the listening socket on `fd`: checks that it is one, finds its
/// address family with `getsockname`, and marks it close-on-exec so git children do
/// not inherit it. Call at most once per fd.
pub fn take_inherited_listener(fd: i32) -> io::Result<InheritedListener> {
    use std::os::fd::FromRawFd;
    let mut addr: libc::sockaddr_storage = unsafe_zeroed_storage();
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: addr is a writable sockaddr_storage and len holds its size; getsockname
    // writes at most len bytes and keeps no pointer.
    let rc = unsafe { libc::getsockname(fd, &mut addr as *mut _ as *mut libc::sockaddr, &mut len) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("fd {fd} is not a socket: {e}"),
        ));
    }
    let mut listening: libc::c_int = 0;
    let mut optlen = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: listening is a writable c_int and optlen its size; SO_ACCEPTCONN writes
    // one int.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            &mut listening as *mut _ as *mut libc::c_void,
            &mut optlen,
        )
    };
    if rc != 0 || listening == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("fd {fd} is a socket but not a listening one"),
        ));
    }
    // SAFETY: fcntl on a descriptor we just verified is open; F_SETFD with
    // FD_CLOEXEC only changes a flag of that descriptor.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
        }
    }
    match addr.ss_family as libc::c_int {
        // SAFETY: fd is an open listening socket of this family that nothing else in
        // the process owns (the caller takes each inherited fd once), so the new
        // listener may own and eventually close it.
        libc::AF_UNIX => Ok(InheritedListener::Unix(unsafe {
            std::os::unix::net::UnixListener::from_raw_fd(fd)
        })),
        // SAFETY: as above, for an AF_INET/AF_INET6 listening socket.
        libc::AF_INET | libc::AF_INET6 => Ok(InheritedListener::Tcp(unsafe {
            std::net::TcpListener::from_raw_fd(fd)
        })),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("fd {fd} is a listening socket of unsupported family {other}"),
        )),
    }
}

/// Waits until `fd` is readable (a connection is pending on a listener) or
/// `timeout_ms` passed. Returns true if readable. EINTR counts as "not yet".
pub fn wait_readable(fd: i32, timeout_ms: i32) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: pfd is one valid pollfd and we pass a count of 1.
    let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(e);
    }
    Ok(rc > 0)
}

static TERM_REQUESTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_term_signal(_signal: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    TERM_REQUESTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Installs handlers for SIGTERM and SIGINT that only set a flag
/// ([`term_requested`]); the accept loop polls it.
pub fn install_term_handler() -> io::Result<()> {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: sa is fully initialised (zeroed, then handler and mask set); the
        // handler only performs an atomic store, which is async-signal-safe.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_term_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// True once SIGTERM or SIGINT arrived.
pub fn term_requested() -> bool {
    TERM_REQUESTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Removes variables from the process environment (`LISTEN_FDS` and friends after
/// socket activation, so git children do not see them).
///
/// Must be called before the process starts any thread (mode detection does).
pub fn remove_env_vars(names: &[&str]) {
    for name in names {
        // SAFETY: called during mode detection, before any other thread exists, so
        // no thread can read the environment concurrently.
        unsafe { std::env::remove_var(name) };
    }
}

/// What a user or group name lookup found.
fn lookup_id(name: &str, group: bool) -> io::Result<Option<u32>> {
    let cname = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in the name"))?;
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        let (rc, id, missing) = if group {
            // SAFETY: grp is a zeroed plain C struct that getgrnam_r fills; cname is a
            // NUL-terminated string; buf is writable for buf.len() bytes and outlives
            // the call; result receives either NULL or &grp. We read only gr_gid, a
            // plain integer, and keep no pointer into buf.
            unsafe {
                let mut grp: libc::group = std::mem::zeroed();
                let mut result: *mut libc::group = std::ptr::null_mut();
                let rc = libc::getgrnam_r(
                    cname.as_ptr(),
                    &mut grp,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                );
                (rc, grp.gr_gid, result.is_null())
            }
        } else {
            // SAFETY: as above, for getpwnam_r and struct passwd; we read only pw_uid.
            unsafe {
                let mut pwd: libc::passwd = std::mem::zeroed();
                let mut result: *mut libc::passwd = std::ptr::null_mut();
                let rc = libc::getpwnam_r(
                    cname.as_ptr(),
                    &mut pwd,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                );
                (rc, pwd.pw_uid, result.is_null())
            }
        };
        match rc {
            0 if missing => return Ok(None),
            0 => return Ok(Some(id)),
            libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            // Some libcs report "not found" as one of these instead of 0 + NULL.
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Ok(None),
            errno => return Err(io::Error::from_raw_os_error(errno)),
        }
    }
}

/// The uid of the user `name` (from the passwd database, NSS included).
pub fn user_id(name: &str) -> io::Result<Option<u32>> {
    lookup_id(name, false)
}

/// The gid of the group `name` (from the group database, NSS included).
pub fn group_id(name: &str) -> io::Result<Option<u32>> {
    lookup_id(name, true)
}

/// True if `e` is the system running out of something that comes back by itself:
/// file descriptors (`EMFILE`, `ENFILE`), processes or threads (`EAGAIN`), memory
/// (`ENOMEM`).
pub fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::EAGAIN) | Some(libc::ENOMEM)
    )
}

/// Raises the soft limit on open files to the hard limit (as nginx's
/// `worker_rlimit_nofile` and Go programs do): a daemon serving many connections
/// needs more than the usual 1024. Returns the soft limit now in force.
// `rlim_t` is u64 on Linux but not on every Unix: keep the casts.
#[allow(clippy::unnecessary_cast)]
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit struct we own; RLIMIT_NOFILE is valid.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let want = lim.rlim_max.min(1 << 20);
    if lim.rlim_cur < want {
        let new = libc::rlimit {
            rlim_cur: want,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads one rlimit struct we own; raising the soft limit up
        // to the hard limit needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } != 0 {
            return Err(io::Error::last_os_error());
        }
        return Ok(want as u64);
    }
    Ok(lim.rlim_cur as u64)
}

/// A read-only memory map of a whole file (pack indexes, looked up by binary search).
pub struct Mmap {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is read-only and private; nothing mutates it while it lives,
// so sharing or moving it between threads is sound.
unsafe impl Send for Mmap {}
// SAFETY: as above, only shared reads happen.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// Maps `file` read-only. An empty file maps to an empty slice without a call.
    pub fn map(file: &std::fs::File) -> io::Result<Mmap> {
        use std::os::unix::io::AsRawFd;
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| io::Error::other("file too large to map"))?;
        if len == 0 {
            return Ok(Mmap {
                ptr: std::ptr::null_mut(),
                len: 0,
            });
        }
        // SAFETY: a fresh private read-only mapping of an open descriptor; the kernel
        // chooses the address; the result is checked against MAP_FAILED below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mmap { ptr, len })
    }
}

impl std::ops::Deref for Mmap {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: ptr..ptr+len is a live read-only mapping owned by self (unmapped
        // only in Drop). A file truncated under the mapping would fault on access;
        // git never truncates pack indexes in place (it writes new files and renames).
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: ptr/len are exactly what mmap returned; no slice outlives self.
            unsafe {
                libc::munmap(self.ptr, self.len);
            }
        }
    }
}

//! Windows system calls that `std` does not offer: IIS's FastCGI named pipe
//! (detection, overlapped accept/read/write, disconnect), events, ending
//! processes, and, for the IIS emulator used in tests (`examples/iis_emulator.rs`),
//! creating the pipe and starting a program exactly as IIS does. Every `unsafe`
//! block for Windows lives here, each with a comment saying why it is sound.
//!
//! Overlapped I/O is used for every pipe operation, as IIS opens its pipe with
//! `FILE_FLAG_OVERLAPPED`: each call owns its `OVERLAPPED` on the stack and never
//! returns while the operation is still pending (a cancelled operation is waited
//! for with `GetOverlappedResult(.., TRUE)`), so no kernel write can outlive it.

use std::io;
use std::time::Duration;
use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_BROKEN_PIPE, ERROR_IO_PENDING, ERROR_NO_DATA, ERROR_OPERATION_ABORTED,
    ERROR_PIPE_BUSY, ERROR_PIPE_CONNECTED, ERROR_PIPE_NOT_CONNECTED, GENERIC_READ, GENERIC_WRITE,
    HANDLE, HANDLE_FLAG_INHERIT, INVALID_HANDLE_VALUE, SetHandleInformation, WAIT_OBJECT_0,
    WAIT_TIMEOUT,
};
use windows_sys::Win32::Security::SECURITY_ATTRIBUTES;
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_FLAG_OVERLAPPED, FILE_TYPE_PIPE, FlushFileBuffers, GetFileType,
    OPEN_EXISTING, PIPE_ACCESS_DUPLEX, ReadFile, WriteFile,
};
use windows_sys::Win32::System::Console::{
    GetStdHandle, STD_ERROR_HANDLE, STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
};
use windows_sys::Win32::System::IO::{CancelIoEx, GetOverlappedResult, OVERLAPPED};
use windows_sys::Win32::System::Pipes::{
    ConnectNamedPipe, CreateNamedPipeW, DisconnectNamedPipe, PIPE_READMODE_BYTE, PIPE_TYPE_BYTE,
    PIPE_WAIT, WaitNamedPipeW,
};
use windows_sys::Win32::System::Threading::{
    CREATE_UNICODE_ENVIRONMENT, CreateEventW, CreateProcessW, GetExitCodeProcess, INFINITE,
    OpenProcess, PROCESS_INFORMATION, PROCESS_TERMINATE, STARTF_USESTDHANDLES, STARTUPINFOW,
    SetEvent, TerminateProcess, WaitForMultipleObjects, WaitForSingleObject,
};

/// `CREATE_NO_WINDOW`: the creation flag for git children, so that a CGI or
/// FastCGI process without a console does not open a console window per git.
pub const CREATE_NO_WINDOW: u32 = windows_sys::Win32::System::Threading::CREATE_NO_WINDOW;

/// The effective user id: not meaningful on Windows.
pub fn effective_uid() -> u32 {
    0
}

/// For a long-running server: large allocations go back to the system when freed
/// (the Windows heap does so by itself).
pub fn return_large_allocations() {}

/// The id of this process.
pub fn process_id() -> u32 {
    std::process::id()
}

/// True if `e` is the system running out of something that comes back by itself.
pub fn is_resource_exhaustion(e: &std::io::Error) -> bool {
    // ERROR_TOO_MANY_OPEN_FILES (4), ERROR_NOT_ENOUGH_MEMORY (8),
    // ERROR_OUTOFMEMORY (14), ERROR_NO_SYSTEM_RESOURCES (1450).
    matches!(e.raw_os_error(), Some(4) | Some(8) | Some(14) | Some(1450))
}

/// A kernel handle, as a plain number so that it can cross threads. Who owns it is
/// said where it is stored ([`Event`] owns its handle, the IIS pipe is owned by the
/// process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handle(usize);

impl Handle {
    fn raw(self) -> HANDLE {
        self.0 as HANDLE
    }

    /// The handle's value, as IIS writes it in `_FCGI_SHUTDOWN_EVENT_`.
    pub fn value(self) -> usize {
        self.0
    }
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

fn is_error(e: &io::Error, code: u32) -> bool {
    e.raw_os_error() == Some(code as i32)
}

/// Ends the process `pid` (a git child of ours); errors (it has ended) are ignored.
/// Windows has no process groups: hooks started by git are not reached.
pub fn kill_process(pid: u32, _group: bool) {
    // SAFETY: OpenProcess takes plain values; a null result is checked.
    let h = unsafe { OpenProcess(PROCESS_TERMINATE, 0, pid) };
    if h.is_null() {
        return;
    }
    // SAFETY: h is a process handle we just opened with PROCESS_TERMINATE and close
    // right after; pid is a child we spawned and have not waited for.
    unsafe {
        TerminateProcess(h, 1);
        CloseHandle(h);
    }
}

fn std_handle(which: u32) -> HANDLE {
    // SAFETY: GetStdHandle takes a constant and returns a handle value (possibly
    // null or INVALID_HANDLE_VALUE), touching no memory of ours.
    unsafe { GetStdHandle(which) }
}

fn is_invalid(h: HANDLE) -> bool {
    h.is_null() || h == INVALID_HANDLE_VALUE
}

/// True if `h` is a pipe.
fn is_pipe(h: HANDLE) -> bool {
    // SAFETY: GetFileType only reads the handle value; an invalid handle yields
    // FILE_TYPE_UNKNOWN.
    !is_invalid(h) && unsafe { GetFileType(h) } == FILE_TYPE_PIPE
}

/// How IIS's FastCGI module (and mod_fcgid on Windows) start an application:
/// standard input is the server end of a named pipe, and `_FCGI_X_PIPE_` names it
/// or standard output and error are both invalid (NULL under wine,
/// `INVALID_HANDLE_VALUE` under IIS). Returns that pipe, made non-inheritable so
/// that git children do not keep it open.
pub fn iis_pipe() -> Option<Handle> {
    let stdin = std_handle(STD_INPUT_HANDLE);
    if !is_pipe(stdin) {
        return None;
    }
    let named = std::env::var_os("_FCGI_X_PIPE_").is_some_and(|v| !v.is_empty());
    let no_output =
        is_invalid(std_handle(STD_OUTPUT_HANDLE)) && is_invalid(std_handle(STD_ERROR_HANDLE));
    if !named && !no_output {
        return None;
    }
    // SAFETY: stdin is a valid pipe handle of this process; clearing its inherit
    // flag changes no memory of ours. A failure only means children inherit it.
    unsafe { SetHandleInformation(stdin, HANDLE_FLAG_INHERIT, 0) };
    Some(Handle(stdin as usize))
}

/// The event IIS signals to ask the application to stop (`_FCGI_SHUTDOWN_EVENT_`,
/// a handle value in decimal), if set and parseable.
pub fn iis_shutdown_event() -> Option<Handle> {
    let v = std::env::var("_FCGI_SHUTDOWN_EVENT_").ok()?;
    let n: usize = v.trim().parse().ok().filter(|n| *n != 0)?;
    let h = n as HANDLE;
    // SAFETY: as above, only the handle's inherit flag changes; a bogus value makes
    // the call fail harmlessly.
    unsafe { SetHandleInformation(h, HANDLE_FLAG_INHERIT, 0) };
    Some(Handle(n))
}

/// True if the event or process `h` is signaled (does not wait).
pub fn is_signaled(h: Handle) -> bool {
    // SAFETY: waiting with a zero timeout only reads the handle.
    unsafe { WaitForSingleObject(h.raw(), 0) == WAIT_OBJECT_0 }
}

/// A manual-reset event, closed when dropped.
#[derive(Debug)]
pub struct Event {
    h: Handle,
}

impl Event {
    /// A new, unsignaled event; `inheritable` for handing it to a child process.
    pub fn new(inheritable: bool) -> io::Result<Event> {
        let sa = SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: std::ptr::null_mut(),
            bInheritHandle: inheritable as i32,
        };
        // SAFETY: sa is a valid SECURITY_ATTRIBUTES read during the call only; no
        // name is passed.
        let h = unsafe { CreateEventW(&sa, 1, 0, std::ptr::null()) };
        if h.is_null() {
            return Err(last_error());
        }
        Ok(Event {
            h: Handle(h as usize),
        })
    }

    /// Signals the event.
    pub fn set(&self) {
        // SAFETY: self.h is an event handle we own until drop.
        unsafe { SetEvent(self.h.raw()) };
    }

    /// True if signaled.
    pub fn is_set(&self) -> bool {
        is_signaled(self.h)
    }

    /// The handle (still owned by the event).
    pub fn handle(&self) -> Handle {
        self.h
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        // SAFETY: we own the handle and nothing uses it after drop.
        unsafe { CloseHandle(self.h.raw()) };
    }
}

fn new_overlapped(ev: &Event) -> OVERLAPPED {
    // SAFETY: OVERLAPPED is a plain C struct; all-zero is its documented initial
    // state, and hEvent is set right after.
    let mut ov: OVERLAPPED = unsafe { std::mem::zeroed() };
    ov.hEvent = ev.h.raw();
    ov
}

/// Why a pipe operation was interrupted.
enum Wait {
    Done,
    Cancelled,
    TimedOut,
}

fn wait_io(ev: &Event, cancel: Option<&Event>, timeout: Option<Duration>) -> Wait {
    let mut handles = vec![ev.h.raw()];
    if let Some(c) = cancel {
        handles.push(c.h.raw());
    }
    let ms = timeout.map_or(INFINITE, |t| t.as_millis().min(INFINITE as u128 - 1) as u32);
    // SAFETY: handles holds 1 or 2 valid event handles for the duration of the call.
    let r = unsafe { WaitForMultipleObjects(handles.len() as u32, handles.as_ptr(), 0, ms) };
    match r {
        r if r == WAIT_OBJECT_0 => Wait::Done,
        WAIT_TIMEOUT => Wait::TimedOut,
        _ => Wait::Cancelled,
    }
}

/// Finishes an overlapped operation that returned pending: waits for it (or for
/// `cancel`/`timeout`, then cancels it and waits for the cancellation), and
/// returns the byte count. Cancelled: `ConnectionAborted`; timed out: `TimedOut`.
fn complete(
    h: HANDLE,
    ov: &OVERLAPPED,
    ev: &Event,
    cancel: Option<&Event>,
    timeout: Option<Duration>,
) -> io::Result<u32> {
    let why = wait_io(ev, cancel, timeout);
    if !matches!(why, Wait::Done) {
        // SAFETY: ov is the OVERLAPPED of an operation on h issued by our caller and
        // still alive; cancelling an already completed operation is harmless.
        unsafe { CancelIoEx(h, ov) };
    }
    let mut n: u32 = 0;
    // SAFETY: ov stays alive until this call returns with bWait = TRUE, after which
    // the kernel no longer touches it or the buffer.
    let ok = unsafe { GetOverlappedResult(h, ov, &mut n, 1) };
    if ok != 0 {
        return Ok(n);
    }
    let e = last_error();
    if is_error(&e, ERROR_OPERATION_ABORTED) {
        return Err(match why {
            Wait::TimedOut => io::Error::new(io::ErrorKind::TimedOut, "pipe read timed out"),
            _ => io::Error::new(io::ErrorKind::ConnectionAborted, "pipe connection closed"),
        });
    }
    Err(e)
}

fn pipe_gone(e: &io::Error) -> bool {
    is_error(e, ERROR_BROKEN_PIPE)
        || is_error(e, ERROR_PIPE_NOT_CONNECTED)
        || is_error(e, ERROR_NO_DATA)
}

/// Reads from the pipe `h` with overlapped I/O on the event `ev` (one per
/// direction). Returns `Ok(0)` when the other end closed; `ConnectionAborted` once
/// `cancel` is signaled; `TimedOut` after `timeout` without data.
pub fn pipe_read(
    h: Handle,
    buf: &mut [u8],
    ev: &Event,
    cancel: Option<&Event>,
    timeout: Option<Duration>,
) -> io::Result<usize> {
    if cancel.is_some_and(Event::is_set) {
        return Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "pipe connection closed",
        ));
    }
    let len = buf.len().min(u32::MAX as usize) as u32;
    let ov = new_overlapped(ev);
    let mut n: u32 = 0;
    // SAFETY: buf is valid for len bytes and ov for the operation's whole life:
    // `complete` does not return before the operation has finished or been
    // cancelled and waited for.
    let ok = unsafe {
        ReadFile(
            h.raw(),
            buf.as_mut_ptr(),
            len,
            &mut n,
            &ov as *const _ as *mut _,
        )
    };
    let r = if ok != 0 {
        Ok(n)
    } else {
        let e = last_error();
        if is_error(&e, ERROR_IO_PENDING) {
            complete(h.raw(), &ov, ev, cancel, timeout)
        } else {
            Err(e)
        }
    };
    match r {
        Ok(n) => Ok(n as usize),
        Err(e) if pipe_gone(&e) => Ok(0),
        Err(e) => Err(e),
    }
}

/// Writes to the pipe `h` with overlapped I/O on the event `ev`; fails with
/// `BrokenPipe` when the other end closed, `ConnectionAborted` once `cancel` is
/// signaled.
pub fn pipe_write(h: Handle, buf: &[u8], ev: &Event, cancel: Option<&Event>) -> io::Result<usize> {
    if cancel.is_some_and(Event::is_set) {
        return Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "pipe connection closed",
        ));
    }
    let len = buf.len().min(u32::MAX as usize) as u32;
    let ov = new_overlapped(ev);
    let mut n: u32 = 0;
    // SAFETY: as in pipe_read: buf and ov outlive the operation.
    let ok = unsafe {
        WriteFile(
            h.raw(),
            buf.as_ptr(),
            len,
            &mut n,
            &ov as *const _ as *mut _,
        )
    };
    let r = if ok != 0 {
        Ok(n)
    } else {
        let e = last_error();
        if is_error(&e, ERROR_IO_PENDING) {
            complete(h.raw(), &ov, ev, cancel, None)
        } else {
            Err(e)
        }
    };
    match r {
        Ok(n) => Ok(n as usize),
        Err(e) if pipe_gone(&e) => Err(io::Error::new(io::ErrorKind::BrokenPipe, e)),
        Err(e) => Err(e),
    }
}

/// Ends the current client's connection on the server end `h`, so the pipe can
/// accept again: `FlushFileBuffers` first (it waits until the client has read
/// everything; `DisconnectNamedPipe` would throw unread bytes away), then
/// disconnect. Errors (the client already left) are ignored.
pub fn pipe_disconnect(h: Handle) {
    // SAFETY: h is the pipe's server end, valid for the process's life; both calls
    // only take the handle.
    unsafe {
        FlushFileBuffers(h.raw());
        DisconnectNamedPipe(h.raw());
    }
}

/// What one accept attempt on the pipe gave.
#[derive(Debug)]
pub enum Accept {
    /// A client is connected.
    Connected,
    /// Nobody yet (the wait timed out; the connect stays pending).
    Waiting,
}

/// Waits for clients on the server end of a named pipe, one at a time, with an
/// overlapped `ConnectNamedPipe` that stays pending between calls.
pub struct PipeAcceptor {
    h: Handle,
    ev: Event,
    // Boxed: the kernel keeps its address while a connect is pending.
    ov: Box<OVERLAPPED>,
    pending: bool,
}

// SAFETY: the OVERLAPPED is only touched by the thread that owns the acceptor (and
// by the kernel, which does not care about threads).
unsafe impl Send for PipeAcceptor {}

impl PipeAcceptor {
    /// An acceptor on the server end `h`.
    pub fn new(h: Handle) -> io::Result<PipeAcceptor> {
        let ev = Event::new(false)?;
        let ov = Box::new(new_overlapped(&ev));
        Ok(PipeAcceptor {
            h,
            ev,
            ov,
            pending: false,
        })
    }

    /// Waits up to `timeout_ms` for a client. `ERROR_PIPE_CONNECTED` (a client
    /// connected before we asked) is success; a client that connected and left
    /// already (`ERROR_NO_DATA`) is disconnected and waited past. Other errors mean
    /// the pipe is gone.
    pub fn accept(&mut self, timeout_ms: u32) -> io::Result<Accept> {
        if !self.pending {
            *self.ov = new_overlapped(&self.ev);
            // SAFETY: self.ov is boxed and lives in self until the connect completes
            // or `cancel` has waited for it.
            let ok = unsafe { ConnectNamedPipe(self.h.raw(), &mut *self.ov) };
            if ok != 0 {
                return Ok(Accept::Connected);
            }
            let e = last_error();
            if is_error(&e, ERROR_PIPE_CONNECTED) {
                return Ok(Accept::Connected);
            }
            if is_error(&e, ERROR_NO_DATA) {
                pipe_disconnect(self.h);
                return Ok(Accept::Waiting);
            }
            if !is_error(&e, ERROR_IO_PENDING) {
                return Err(e);
            }
            self.pending = true;
        }
        // SAFETY: waiting on our own event only reads the handle.
        let r = unsafe { WaitForSingleObject(self.ev.h.raw(), timeout_ms) };
        if r == WAIT_TIMEOUT {
            return Ok(Accept::Waiting);
        }
        self.pending = false;
        let mut n = 0u32;
        // SAFETY: the connect has completed (its event is signaled); ov is alive.
        let ok = unsafe { GetOverlappedResult(self.h.raw(), &*self.ov, &mut n, 1) };
        if ok != 0 {
            return Ok(Accept::Connected);
        }
        let e = last_error();
        if is_error(&e, ERROR_PIPE_CONNECTED) {
            return Ok(Accept::Connected);
        }
        if is_error(&e, ERROR_NO_DATA) {
            pipe_disconnect(self.h);
            return Ok(Accept::Waiting);
        }
        Err(e)
    }

    /// Cancels a pending connect (at shutdown) and waits for the cancellation.
    pub fn cancel(&mut self) {
        if self.pending {
            // SAFETY: ov belongs to the pending connect on h; after CancelIoEx we
            // wait (bWait = TRUE) until the kernel is done with it.
            unsafe {
                CancelIoEx(self.h.raw(), &*self.ov);
                let mut n = 0u32;
                GetOverlappedResult(self.h.raw(), &*self.ov, &mut n, 1);
            }
            self.pending = false;
        }
    }
}

impl Drop for PipeAcceptor {
    fn drop(&mut self) {
        self.cancel();
    }
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// An owned handle (pipe end or process), closed when dropped.
#[derive(Debug)]
pub struct OwnedHandle {
    h: Handle,
}

impl OwnedHandle {
    /// The handle (still owned).
    pub fn handle(&self) -> Handle {
        self.h
    }
}

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        // SAFETY: we own the handle; nothing uses it after drop.
        unsafe { CloseHandle(self.h.raw()) };
    }
}

/// Test support (the IIS emulator): creates the server end of `\\.\pipe\<name>`
/// as IIS does: duplex, overlapped, byte mode, one instance, inheritable.
pub fn create_iis_pipe(path: &str) -> io::Result<OwnedHandle> {
    let sa = SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: std::ptr::null_mut(),
        bInheritHandle: 1,
    };
    let name = wide(path);
    // SAFETY: name is a NUL-terminated UTF-16 string and sa a valid struct, both
    // read during the call only.
    let h = unsafe {
        CreateNamedPipeW(
            name.as_ptr(),
            PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT,
            1,
            64 * 1024,
            64 * 1024,
            0,
            &sa,
        )
    };
    if h == INVALID_HANDLE_VALUE {
        return Err(last_error());
    }
    Ok(OwnedHandle {
        h: Handle(h as usize),
    })
}

/// Test support (the IIS emulator): opens the client end of the named pipe
/// `path` (overlapped), waiting while it is busy (between two connections the
/// server end needs a moment to listen again) for up to `patience`.
pub fn connect_pipe_client(path: &str, patience: Duration) -> io::Result<OwnedHandle> {
    let name = wide(path);
    let deadline = std::time::Instant::now() + patience;
    loop {
        // SAFETY: name is NUL-terminated UTF-16, read during the call only.
        let h = unsafe {
            CreateFileW(
                name.as_ptr(),
                GENERIC_READ | GENERIC_WRITE,
                0,
                std::ptr::null(),
                OPEN_EXISTING,
                FILE_FLAG_OVERLAPPED,
                std::ptr::null_mut(),
            )
        };
        if h != INVALID_HANDLE_VALUE {
            return Ok(OwnedHandle {
                h: Handle(h as usize),
            });
        }
        let e = last_error();
        let now = std::time::Instant::now();
        if now >= deadline {
            return Err(e);
        }
        if is_error(&e, ERROR_PIPE_BUSY) {
            // SAFETY: as above; waits at most 100 ms for an instance to listen.
            unsafe { WaitNamedPipeW(name.as_ptr(), 100) };
        } else {
            // Not created yet (the server has not started): poll.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Test support (the IIS emulator): a child process started with
/// [`spawn_like_iis`].
#[derive(Debug)]
pub struct IisChild {
    process: OwnedHandle,
    /// The child's process id.
    pub pid: u32,
}

impl IisChild {
    /// Waits up to `timeout` for the child to exit; its exit code if it did.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<u32> {
        let ms = timeout.as_millis().min(INFINITE as u128 - 1) as u32;
        // SAFETY: the process handle is ours until drop.
        if unsafe { WaitForSingleObject(self.process.h.raw(), ms) } != WAIT_OBJECT_0 {
            return None;
        }
        let mut code = 0u32;
        // SAFETY: as above; code is a valid out-pointer.
        unsafe { GetExitCodeProcess(self.process.h.raw(), &mut code) };
        Some(code)
    }

    /// Terminates the child.
    pub fn kill(&self) {
        // SAFETY: the process handle is ours until drop.
        unsafe { TerminateProcess(self.process.h.raw(), 1) };
    }
}

/// Test support (the IIS emulator): starts `command_line` the way IIS's FastCGI
/// module does: standard input = `stdin` (the pipe's server end), standard output
/// and error invalid, handles inherited, the environment block `env` (the
/// emulator's own environment plus `_FCGI_X_PIPE_` and friends), no console window.
pub fn spawn_like_iis(
    command_line: &str,
    stdin: Handle,
    env: &[(String, String)],
) -> io::Result<IisChild> {
    let mut cmd = wide(command_line);
    let mut block: Vec<u16> = Vec::new();
    for (k, v) in env {
        block.extend(format!("{k}={v}").encode_utf16());
        block.push(0);
    }
    block.push(0);
    // SAFETY: STARTUPINFOW and PROCESS_INFORMATION are plain C structs for which
    // all-zero is a valid value.
    let mut si: STARTUPINFOW = unsafe { std::mem::zeroed() };
    si.cb = std::mem::size_of::<STARTUPINFOW>() as u32;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = stdin.raw();
    si.hStdOutput = INVALID_HANDLE_VALUE;
    si.hStdError = INVALID_HANDLE_VALUE;
    // SAFETY: as above.
    let mut pi: PROCESS_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: cmd is a writable NUL-terminated UTF-16 command line, block a
    // double-NUL-terminated UTF-16 environment block, si/pi valid structs; all
    // outlive the call. stdin is an inheritable handle of ours.
    let ok = unsafe {
        CreateProcessW(
            std::ptr::null(),
            cmd.as_mut_ptr(),
            std::ptr::null(),
            std::ptr::null(),
            1,
            CREATE_UNICODE_ENVIRONMENT | CREATE_NO_WINDOW,
            block.as_ptr() as *const _,
            std::ptr::null(),
            &si,
            &mut pi,
        )
    };
    if ok == 0 {
        return Err(last_error());
    }
    // SAFETY: the thread handle is ours and not needed.
    unsafe { CloseHandle(pi.hThread) };
    Ok(IisChild {
        process: OwnedHandle {
            h: Handle(pi.hProcess as usize),
        },
        pid: pi.dwProcessId,
    })
}

/// Windows has no per-process open-file limit to raise.
pub fn raise_nofile_limit() -> std::io::Result<u64> {
    Ok(u64::MAX)
}

/// A whole file in memory (Windows reads it instead of mapping it).
pub struct Mmap(Vec<u8>);

impl Mmap {
    /// Reads `file` whole.
    pub fn map(file: &std::fs::File) -> std::io::Result<Mmap> {
        use std::io::Read;
        let mut data = Vec::new();
        let mut f = file;
        f.read_to_end(&mut data)?;
        Ok(Mmap(data))
    }
}

impl std::ops::Deref for Mmap {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

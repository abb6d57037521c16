//! Windows system calls (named pipes for IIS) come with the Windows work.

/// The effective user id: not meaningful on Windows.
pub fn effective_uid() -> u32 {
    0
}

/// Ends the process `pid` (Windows support comes with the IIS work).
pub fn kill_process(_pid: u32, _group: bool) {}

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

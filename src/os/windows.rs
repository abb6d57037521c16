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

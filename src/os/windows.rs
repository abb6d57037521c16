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

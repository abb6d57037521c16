//! `serve`: plain HTTP for quick starts and tests. STUB: filled in by the serve work.

/// `serve [--listen ADDR] DIR`; returns the exit code.
pub fn main(_args: &[String]) -> i32 {
    eprintln!("serve: not implemented yet");
    2
}

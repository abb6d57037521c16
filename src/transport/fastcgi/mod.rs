//! FastCGI responder. STUB: filled in by the FastCGI work.

/// Runs a FastCGI server until shutdown; returns the exit code.
pub fn main(listen: crate::mode::Listen) -> i32 {
    match listen {}
}

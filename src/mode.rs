//! Deciding how this process was started: CGI, FastCGI, or neither.
//! STUB: the FastCGI work completes detection (fd 0, LISTEN_FDS, Windows pipes).

/// How to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// One CGI request from the environment and stdin.
    Cgi,
    /// Nothing to serve: print usage.
    Usage,
}

/// Detects the mode from the process state.
pub fn detect() -> Mode {
    if std::env::var_os("GATEWAY_INTERFACE").is_some()
        || std::env::var_os("REQUEST_METHOD").is_some()
    {
        Mode::Cgi
    } else {
        Mode::Usage
    }
}

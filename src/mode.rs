//! Deciding how this process was started: CGI, FastCGI, or neither.
//! STUB: the FastCGI work completes detection (fd 0, LISTEN_FDS, `--listen`).

/// Where a FastCGI server gets its connections. STUB.
#[derive(Debug)]
pub enum Listen {}

/// How to run.
#[derive(Debug)]
pub enum Mode {
    /// One CGI request from the environment and stdin.
    Cgi,
    /// A FastCGI server.
    FastCgi(Listen),
    /// Nothing to serve: print usage.
    Usage,
}

/// Detects the mode from the command line (`--listen`) and the process state.
pub fn detect(_args: &[String]) -> anyhow::Result<Mode> {
    if std::env::var_os("GATEWAY_INTERFACE").is_some()
        || std::env::var_os("REQUEST_METHOD").is_some()
    {
        Ok(Mode::Cgi)
    } else {
        Ok(Mode::Usage)
    }
}

//! FastCGI responder (FastCGI 1.0): the binary stays resident and serves many
//! requests at once, each one through [`crate::handler::handle`].
//!
//! - [`record`]: the record codec, pure functions over bytes.
//! - [`conn`]: one connection, generic over its byte stream.
//! - [`server`]: the accept loop, connection cap and shutdown, over any acceptor.
//! - `listener` (Unix): unix/TCP sockets, bound or inherited (fd 0, fd 3).
//! - `pipe` (Windows): IIS's named pipe on standard input, one connection at a time.

pub mod conn;
#[cfg(unix)]
pub mod listener;
#[cfg(windows)]
pub mod pipe;
pub mod record;
pub mod server;

use crate::mode::Listen;
use crate::request::Env;
use std::sync::Arc;

/// Runs a FastCGI server until shutdown; returns the exit code.
pub fn main(listen: Listen) -> i32 {
    crate::child::use_process_groups();
    if let Err(e) = crate::os::raise_nofile_limit() {
        log::warn!("cannot raise the open-file limit: {e}");
    }
    let allowed_peers = std::env::var("FCGI_WEB_SERVER_ADDRS")
        .ok()
        .map(|v| server::parse_web_server_addrs(&v));
    let mut base_env = Env::daemon_base();
    for (name, value) in &listen.settings {
        base_env.set(name, value);
    }
    let cfg = server::ServerConfig {
        max_connections: listen.max_connections,
        base_env: Arc::new(base_env),
        allowed_peers,
        idle_timeout: listen.idle_timeout,
    };
    run_platform(&listen, cfg)
}

#[cfg(unix)]
fn run_platform(listen: &Listen, cfg: server::ServerConfig) -> i32 {
    if let Err(e) = crate::os::install_term_handler() {
        log::error!("fatal: installing the SIGTERM handler: {e}");
        return 1;
    }
    let allow_remote = listen.allow_remote || allow_remote_env();
    if let crate::mode::Source::Tcp(addr) = &listen.source
        && let Err(e) = server::check_exposure(addr.ip(), cfg.allowed_peers.is_some(), allow_remote)
    {
        log::error!("fatal: {e}");
        return 2;
    }
    let listener = match listener::Listener::open(listen) {
        Ok(l) => l,
        Err(e) => {
            log::error!("fatal: {e:#}");
            return 1;
        }
    };
    if let listener::Listener::Tcp(l) = &listener
        && let Ok(local) = l.local_addr()
        && let Err(e) =
            server::check_exposure(local.ip(), cfg.allowed_peers.is_some(), allow_remote)
    {
        log::error!("fatal: {e}");
        return 2;
    }
    server::run(Box::new(listener), cfg, &crate::os::term_requested)
}

/// `GIT_HTTP_ALLOW_REMOTE` set to a true value.
#[cfg(unix)]
fn allow_remote_env() -> bool {
    std::env::var("GIT_HTTP_ALLOW_REMOTE")
        .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
        .unwrap_or(false)
}

#[cfg(windows)]
fn run_platform(listen: &Listen, cfg: server::ServerConfig) -> i32 {
    match (&listen.source, crate::os::iis_pipe()) {
        (crate::mode::Source::StdinPipe, Some(pipe)) => pipe::run(pipe, cfg),
        _ => {
            log::error!(
                "fatal: on Windows the FastCGI server runs under IIS (its named pipe on \
                 standard input); --listen and inherited sockets are Unix only"
            );
            2
        }
    }
}

#[cfg(not(any(unix, windows)))]
fn run_platform(_listen: &Listen, _cfg: server::ServerConfig) -> i32 {
    log::error!("fatal: FastCGI is not supported on this platform");
    2
}

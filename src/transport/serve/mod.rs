//! `serve`: a small plain-HTTP server for quick starts and tests.
//!
//! `git-http-backend-rs serve [--listen 127.0.0.1:8080] DIR` serves every repository
//! under `DIR`. Each HTTP request becomes CGI parameters the way a web server fills
//! them ([`cgi_env`]), runs through the same [`crate::handler::handle`] as CGI on a
//! blocking thread, and the reply streams back through bounded channels
//! ([`bridge`]). There is no TLS and no authentication in this mode.
//!
//! - [`cgi_env`]: HTTP request -> CGI meta-variables.
//! - [`bridge`]: the blocking body reader and the streaming reply sink.
//! - [`discover`]: the repositories under `DIR`, for the start-up banner.
//! - [`server`]: the accept loop, connections and graceful shutdown.

pub mod bridge;
pub mod cgi_env;
pub mod discover;
pub mod server;

/// `serve [--listen HOST:PORT] DIR`; returns the exit code (2 for a bad DIR).
pub fn main(args: crate::cli::ServeArgs) -> i32 {
    crate::logging::set_daemon();
    crate::child::use_process_groups();
    args.daemon.apply();
    server::run(args)
}

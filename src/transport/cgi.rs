//! CGI: the request is the process environment and stdin, the reply goes to stdout.

use crate::handler;
use crate::request::{CgiSink, Env, Request};
use std::io::{self, Write};

/// Serves the one request of this process; returns the process exit code.
pub fn run() -> i32 {
    let request = Request {
        env: Env::from_process(),
        body: Box::new(io::stdin()),
    };
    let stdout = io::stdout();
    let mut sink = CgiSink::new(io::BufWriter::with_capacity(64 * 1024, stdout.lock()));
    let outcome = handler::handle(request, &mut sink);
    let _ = sink.into_inner().flush();
    outcome.exit_code
}

//! Log lines on stderr, which the web server keeps.
//!
//! Errors and warnings are written as bare lines in git's conventions (`fatal: ...`,
//! `Not a git repository: ...`) so they read like git-http-backend's in the server
//! log; debug and info lines carry a level prefix. The level comes from
//! `GIT_HTTP_BACKEND_LOG` (env_logger syntax, default `warn`).
//!
//! `GIT_HTTP_BACKEND_LOG_FILE`, if set, appends the lines to that file instead: for
//! IIS, where standard error is an invalid handle (lines written there are
//! dropped) and FCGI_STDERR would turn replies into 500s.

use std::io::Write;

/// Installs the logger once; later calls do nothing.
pub fn init() {
    let filter = std::env::var("GIT_HTTP_BACKEND_LOG").unwrap_or_else(|_| "warn".into());
    let mut builder = env_logger::Builder::new();
    if let Some(path) = std::env::var_os("GIT_HTTP_BACKEND_LOG_FILE").filter(|p| !p.is_empty()) {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            Ok(f) => {
                builder.target(env_logger::Target::Pipe(Box::new(f)));
            }
            Err(e) => eprintln!(
                "git-http-backend-rs: cannot open GIT_HTTP_BACKEND_LOG_FILE {}: {e}",
                std::path::Path::new(&path).display()
            ),
        }
    }
    let _ = builder
        .parse_filters(&filter)
        .format(|buf, record| {
            if record.level() <= log::Level::Warn {
                writeln!(buf, "{}", record.args())
            } else {
                writeln!(
                    buf,
                    "git-http-backend-rs: {}: {}",
                    record.level().as_str().to_ascii_lowercase(),
                    record.args()
                )
            }
        })
        .try_init();
}

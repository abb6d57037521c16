//! Log lines on stderr, which the web server keeps.
//!
//! Errors and warnings are written as bare lines in git's conventions (`fatal: ...`,
//! `Not a git repository: ...`) so they read like git-http-backend's in the server
//! log; debug and info lines carry a level prefix. The level comes from
//! `GIT_HTTP_BACKEND_LOG` (env_logger syntax, default `warn`).

use std::io::Write;

/// Installs the logger once; later calls do nothing.
pub fn init() {
    let filter = std::env::var("GIT_HTTP_BACKEND_LOG").unwrap_or_else(|_| "warn".into());
    let _ = env_logger::Builder::new()
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

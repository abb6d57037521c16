//! git-http-backend-rs: command line and mode selection.
//!
//! - `git-http-backend-rs serve [--listen ADDR] DIR`: plain-HTTP server (quick start).
//! - `git-http-backend-rs --listen ADDR`: FastCGI server on that address.
//! - `git-http-backend-rs access [--acl FILE] REPO USER PERM [REF]`: explain an ACL decision.
//! - no arguments: detect CGI or FastCGI from how the web server started us.

use git_http_backend_rs::service::pack_cache;
use git_http_backend_rs::{logging, mode, policy, transport};

const USAGE: &str = "usage: git-http-backend-rs                  (CGI or FastCGI, detected)
       git-http-backend-rs --listen ADDR     (FastCGI server: unix:/path or host:port)
           [--socket-mode 0660] [--max-connections 64] [--idle-timeout 120]
           [--max-git N] [--max-git-per-repo N] [--max-queue N] [--max-queue-wait SECS]
           [--access-log FILE|-] [--allow-remote]
       git-http-backend-rs serve [--listen 127.0.0.1:8080] [--max-connections 1024]
           [--max-git N] ... [--access-log FILE|-] DIR
       git-http-backend-rs access [--acl FILE] REPO USER PERM [REF]";

fn main() {
    logging::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    // git runs us as uploadpack.packObjectsHook (only under an upload-pack we
    // started, which sets the marker; never from a CGI query's arguments).
    if args.first().map(String::as_str) == Some(pack_cache::SUBCOMMAND)
        && std::env::var_os(pack_cache::HOOK_MARKER).is_some()
    {
        std::process::exit(pack_cache::hook_main(&args[1..]));
    }
    let code = match mode::detect(&args) {
        Ok(mode::Mode::Cgi) => transport::cgi::run(),
        Ok(mode::Mode::FastCgi(listen)) => transport::fastcgi::main(listen),
        Ok(mode::Mode::Serve(args)) => transport::serve::main(&args),
        Ok(mode::Mode::Access(args)) => policy::acl::access_command(&args),
        Ok(mode::Mode::Help) => {
            println!("{USAGE}");
            0
        }
        Ok(mode::Mode::Version) => {
            println!("git-http-backend-rs {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Ok(mode::Mode::Usage) => {
            eprintln!("{USAGE}");
            2
        }
        Err(e) => {
            log::error!("fatal: {e}");
            eprintln!("{USAGE}");
            2
        }
    };
    std::process::exit(code);
}

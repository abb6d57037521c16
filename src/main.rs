//! git-http-backend-rs: mode selection and the command line ([`git_http_backend_rs::cli`]).
//!
//! Under CGI (a CGI variable set, no socket handed over) the arguments are never
//! parsed: they come from the query string. Otherwise the command line decides:
//! `serve DIR`, `access ...`, `help`, or the FastCGI server.

use git_http_backend_rs::cli::{self, Command, Parsed};
use git_http_backend_rs::service::pack_cache;
use git_http_backend_rs::{logging, mode, transport};
use std::io::Write;

fn main() {
    logging::init();
    std::process::exit(run());
}

fn run() -> i32 {
    // git runs us as uploadpack.packObjectsHook (only under an upload-pack we
    // started, which sets the marker; never from a CGI query's arguments).
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(pack_cache::SUBCOMMAND)
        && std::env::var_os(pack_cache::HOOK_MARKER).is_some()
    {
        return pack_cache::hook_main(&args[1..]);
    }
    #[cfg(windows)]
    if let Some(listen) = mode::iis_listen() {
        return transport::fastcgi::main(listen);
    }
    if mode::cgi_request() {
        return transport::cgi::run();
    }
    let cli = match cli::parse_from(std::env::args_os()) {
        Parsed::Run(cli) => cli,
        Parsed::Exit {
            code,
            stdout,
            stderr,
        } => {
            let _ = std::io::stdout().write_all(stdout.as_bytes());
            let _ = std::io::stderr().write_all(stderr.as_bytes());
            return code;
        }
    };
    if cli.version {
        print!("{}", cli::version_text());
        return 0;
    }
    match cli.command {
        Some(Command::Serve(args)) => transport::serve::main(args),
        Some(Command::Access(args)) => access(args),
        Some(Command::GenMan { dir }) => match cli::write_man_pages(&dir) {
            Ok(pages) => {
                for p in pages {
                    println!("{}", p.display());
                }
                0
            }
            Err(e) => {
                eprintln!("fatal: gen-man {}: {e}", dir.display());
                1
            }
        },
        None => {
            logging::set_daemon();
            let given = std::env::args_os().len() > 1;
            match mode::fastcgi_source(cli.fastcgi.listen.clone()) {
                Some(source) => {
                    cli.fastcgi.daemon.apply();
                    transport::fastcgi::main(cli.fastcgi.listen(source))
                }
                None if given => {
                    eprintln!(
                        "fatal: no socket to serve: give --listen unix:/path or --listen IP:PORT, \
                         or start under systemd socket activation or spawn-fcgi\n\
                         Try '{} --help' for more information.",
                        cli::NAME
                    );
                    2
                }
                None => {
                    let _ = write!(std::io::stderr(), "{}", cli::command().render_help());
                    2
                }
            }
        }
    }
}

/// `access`: explains an ACL decision (exit 0 allowed, 1 denied, 2 bad file).
fn access(args: cli::AccessArgs) -> i32 {
    git_http_backend_rs::policy::acl::access_main(
        args.acl.as_deref(),
        &args.repo,
        &args.user,
        &args.perm,
        args.refname.as_deref(),
    )
}

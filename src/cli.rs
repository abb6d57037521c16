//! The command line, defined once with clap: `--help`, the man page
//! (`gen-man`) and the parser all come from these types.
//!
//! - no subcommand: the FastCGI server ([`FastCgiArgs`]), or CGI when a web server
//!   runs us as one (then the arguments are never parsed: see [`crate::mode`]);
//! - `serve [--listen HOST:PORT] DIR`: the plain-HTTP server ([`ServeArgs`]);
//! - `access [--acl FILE] REPO USER PERM [REF]`: explain an ACL decision;
//! - `help [COMMAND]`, `--help`, `--version`.
//!
//! To add an option every daemon takes, add a field to [`DaemonArgs`] (and its
//! variable to [`DaemonArgs::env_vars`]); a subcommand is a variant of [`Command`].
//!
//! Errors read `fatal: <what>: <why>` followed by a `usage:` line, exit code 2:
//!
//! ```
//! use git_http_backend_rs::cli::{parse_from, Parsed};
//! let err = match parse_from(["git-http-backend-rs", "--listen", "8081"]) {
//!     Parsed::Exit { code, stderr, .. } => { assert_eq!(code, 2); stderr }
//!     Parsed::Run(_) => unreachable!(),
//! };
//! assert!(err.starts_with("fatal: --listen 8081: expected unix:/path or IP:PORT"), "{err}");
//! ```

use crate::mode::{self, DEFAULT_IDLE_TIMEOUT_SECS, DEFAULT_MAX_CONNECTIONS, Source};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, CommandFactory, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

/// The program's name in usage lines and the man page.
pub const NAME: &str = "git-http-backend-rs";

const ABOUT: &str =
    "A drop-in replacement for git's git-http-backend: CGI, FastCGI server, or plain-HTTP `serve`";

const LONG_ABOUT: &str = "A drop-in replacement for git's git-http-backend (smart and dumb HTTP), \
in one binary.

How it runs is decided at start: under a web server that runs it as a CGI (a CGI variable such as \
REQUEST_METHOD is set) it serves that one request and ignores its arguments, which then come from \
the query string; with --listen, a socket from systemd (LISTEN_FDS) or a listening socket on fd 0 \
(spawn-fcgi, mod_fcgid) it is a FastCGI server; `serve DIR` runs a plain-HTTP server.";

const AFTER_HELP: &str = "Per-request settings come from the environment (or FastCGI params): \
GIT_PROJECT_ROOT, GIT_HTTP_EXPORT_ALL, REMOTE_USER, GIT_HTTP_MAX_REQUEST_BUFFER, ...; \
GIT_HTTP_BACKEND_LOG=debug logs more (default: warn). See README.md.";

/// The whole command line.
#[derive(Parser, Debug)]
#[command(
    name = NAME,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    disable_version_flag = true,
    args_conflicts_with_subcommands = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Print this program's version and the version of the git it runs, then exit
    #[arg(short = 'V', long)]
    pub version: bool,

    /// The FastCGI server's options (no subcommand).
    #[command(flatten)]
    pub fastcgi: FastCgiArgs,

    /// The subcommand, if any.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve every repository under DIR over plain HTTP (quick start, tests)
    #[command(
        long_about = "Serve every repository under DIR over plain HTTP/1.1, with the request \
handling of CGI mode. Every repository under DIR is exported (GIT_HTTP_EXPORT_ALL); pushes need \
`git config http.receivepack true` in the repository. No TLS, no authentication of its own \
unless --auth-file is given."
    )]
    Serve(ServeArgs),
    /// Explain an access decision of the ACL file: exit 0 allowed, 1 denied, 2 bad file or arguments
    Access(AccessArgs),
    /// Write the man pages generated from this command line into DIR
    #[command(hide = true)]
    GenMan {
        /// Directory to write git-http-backend-rs.1 and one page per subcommand into
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// Options every daemon (FastCGI server, `serve`) takes: each sets an environment
/// variable in the daemon's base environment, so that every request sees it unless
/// a FastCGI param overrides it.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
#[command(next_help_heading = "Request settings (each sets the environment variable named)")]
pub struct DaemonArgs {
    /// ACL file in gitolite's format deciding who may read and push
    /// (GIT_HTTP_ACL_FILE) [default: none: git-http-backend's rules]
    #[arg(long, value_name = "FILE")]
    pub acl: Option<PathBuf>,
    /// htpasswd file for built-in HTTP Basic auth (GIT_HTTP_AUTH_FILE)
    /// [default: none: the web server authenticates]
    #[arg(long, value_name = "FILE")]
    pub auth_file: Option<PathBuf>,
    /// Realm named in Basic auth challenges (GIT_HTTP_AUTH_REALM)
    #[arg(long, value_name = "REALM")]
    pub auth_realm: Option<String>,
    /// Access log, one JSON line per request: a file, or - for stderr
    /// (GIT_HTTP_ACCESS_LOG) [default: none]
    #[arg(long, value_name = "FILE")]
    pub access_log: Option<PathBuf>,
    /// git processes running at once, in all; more wait or get 503
    /// (GIT_HTTP_MAX_GIT) [default: 4 x CPUs, within 8..64]
    #[arg(long, value_name = "N", value_parser = mode::parse_max_connections)]
    pub max_git: Option<usize>,
    /// git processes running at once for one repository
    /// (GIT_HTTP_MAX_GIT_PER_REPO) [default: half of --max-git]
    #[arg(long, value_name = "N", value_parser = mode::parse_max_connections)]
    pub max_git_per_repo: Option<usize>,
    /// Requests that may wait for a slot of one repository, 0: none wait
    /// (GIT_HTTP_MAX_QUEUE) [default: 32]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64))]
    pub max_queue: Option<u64>,
    /// Seconds a request waits for a slot before it gets 503
    /// (GIT_HTTP_MAX_QUEUE_WAIT) [default: 30]
    #[arg(long, value_name = "SECONDS", value_parser = mode::parse_seconds)]
    pub max_queue_wait: Option<u64>,
}

impl DaemonArgs {
    /// The environment variables these options set, in order.
    pub fn env_vars(&self) -> Vec<(&'static str, OsString)> {
        let mut vars = Vec::new();
        if let Some(acl) = &self.acl {
            vars.push(("GIT_HTTP_ACL_FILE", acl.clone().into_os_string()));
        }
        if let Some(file) = &self.auth_file {
            vars.push(("GIT_HTTP_AUTH_FILE", file.clone().into_os_string()));
        }
        if let Some(realm) = &self.auth_realm {
            vars.push(("GIT_HTTP_AUTH_REALM", realm.into()));
        }
        if let Some(file) = &self.access_log {
            vars.push(("GIT_HTTP_ACCESS_LOG", file.clone().into_os_string()));
        }
        let numbers = [
            ("GIT_HTTP_MAX_GIT", self.max_git.map(|n| n as u64)),
            (
                "GIT_HTTP_MAX_GIT_PER_REPO",
                self.max_git_per_repo.map(|n| n as u64),
            ),
            ("GIT_HTTP_MAX_QUEUE", self.max_queue),
            ("GIT_HTTP_MAX_QUEUE_WAIT", self.max_queue_wait),
        ];
        for (name, value) in numbers {
            if let Some(n) = value {
                vars.push((name, n.to_string().into()));
            }
        }
        vars
    }

    /// Sets [`DaemonArgs::env_vars`] in the process environment, the base every
    /// request's environment is built on. Call before any thread starts.
    pub fn apply(&self) {
        let vars = self.env_vars();
        if !vars.is_empty() {
            crate::os::set_env_vars(&vars);
        }
    }
}

/// The FastCGI server's options.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
#[command(next_help_heading = "FastCGI server (no subcommand)")]
pub struct FastCgiArgs {
    /// Bind this address: unix:/path or IP:PORT [default: the socket systemd
    /// (LISTEN_FDS) or a launcher (fd 0) hands over]
    #[arg(long, value_name = "ADDR", value_parser = mode::parse_address)]
    pub listen: Option<Source>,
    /// Permissions of the unix socket bound by --listen, in octal (e.g. 0660)
    /// [default: from the umask]
    #[arg(long, value_name = "MODE", value_parser = mode::parse_socket_mode)]
    pub socket_mode: Option<u32>,
    /// Owner of the unix socket bound by --listen: user name or numeric id (needs
    /// root) [default: the user running the server]
    #[arg(long, value_name = "USER")]
    pub socket_owner: Option<String>,
    /// Group of the unix socket bound by --listen: group name or numeric id, e.g.
    /// the web server's group with --socket-mode 0660 [default: the server's group]
    #[arg(long, value_name = "GROUP")]
    pub socket_group: Option<String>,
    /// The most connections served at once; more wait in the kernel's backlog
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = mode::parse_max_connections)]
    pub max_connections: usize,
    /// Close a connection with no request in progress after this many silent
    /// seconds (0: never)
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_IDLE_TIMEOUT_SECS,
          value_parser = mode::parse_seconds)]
    pub idle_timeout: u64,
    /// Listen on a non-loopback TCP address even without FCGI_WEB_SERVER_ADDRS
    /// (GIT_HTTP_ALLOW_REMOTE=1): anyone who reaches the port can run git as this
    /// server's user with settings of their choosing [default: refused]
    #[arg(long)]
    pub allow_remote: bool,
    /// Settings for every request.
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

impl FastCgiArgs {
    /// The listening setup for `source`.
    pub fn listen(&self, source: Source) -> mode::Listen {
        mode::Listen {
            source,
            socket_mode: self.socket_mode,
            ownership: mode::SocketOwnership {
                owner: self.socket_owner.clone(),
                group: self.socket_group.clone(),
            },
            max_connections: self.max_connections,
            idle_timeout: match self.idle_timeout {
                0 => None,
                secs => Some(std::time::Duration::from_secs(secs)),
            },
            allow_remote: self.allow_remote,
        }
    }
}

/// The default `serve --listen`: loopback only.
pub const DEFAULT_SERVE_LISTEN: &str = "127.0.0.1:8080";

/// `serve`'s options.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ServeArgs {
    /// Address to listen on, HOST:PORT (0.0.0.0:8080 to be reachable from other
    /// machines; port 0 picks a free one)
    #[arg(short = 'l', long, value_name = "HOST:PORT", default_value = DEFAULT_SERVE_LISTEN,
          value_parser = parse_host_port)]
    pub listen: String,
    /// Directory whose repositories are served (GIT_PROJECT_ROOT)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The most connections served at once; more wait in the kernel's backlog
    /// [default: 1024, lowered to fit the open-file limit]
    #[arg(long, value_name = "N", value_parser = mode::parse_max_connections)]
    pub max_connections: Option<usize>,
    /// Settings for every request.
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

/// `access`'s arguments (gitolite's `access` command).
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct AccessArgs {
    /// The ACL file [default: $GIT_HTTP_ACL_FILE]
    #[arg(long, value_name = "FILE")]
    pub acl: Option<PathBuf>,
    /// Repository name, relative to the project root, without .git
    #[arg(value_name = "REPO")]
    pub repo: String,
    /// User name (anonymous requests are judged as `anonymous` or $GIT_HTTP_ANON_USER)
    #[arg(value_name = "USER")]
    pub user: String,
    /// Permission: R (read), W (push), + (rewind or delete), C (create), D (delete)
    #[arg(value_name = "PERM")]
    pub perm: String,
    /// Ref, e.g. refs/heads/main [default: any]
    #[arg(value_name = "REF")]
    pub refname: Option<String>,
}

/// Accepts `HOST:PORT` with a numeric port (the host is resolved when binding).
fn parse_host_port(value: &str) -> Result<String, String> {
    const FORMS: &str = "expected HOST:PORT (e.g. 127.0.0.1:8080, 0.0.0.0:8080, [::1]:8080)";
    match value.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Ok(value.to_string())
        }
        _ => Err(FORMS.to_string()),
    }
}

/// The outcome of parsing.
#[derive(Debug)]
pub enum Parsed {
    /// Run this.
    Run(Box<Cli>),
    /// Print and exit: help, or an error (`code` 2).
    Exit {
        /// Exit code.
        code: i32,
        /// For stdout.
        stdout: String,
        /// For stderr.
        stderr: String,
    },
}

/// The clap command (for help, the man page and tests).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Parses `args` (the first is the program name).
pub fn parse_from<I, T>(args: I) -> Parsed
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match Cli::try_parse_from(args) {
        Ok(cli) => Parsed::Run(Box::new(cli)),
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Parsed::Exit {
                code: 0,
                stdout: e.render().to_string(),
                stderr: String::new(),
            },
            _ => Parsed::Exit {
                code: 2,
                stdout: String::new(),
                stderr: error_text(&e),
            },
        },
    }
}

fn context(e: &clap::Error, kind: ContextKind) -> Option<String> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => Some(v.join(", ")),
        other => Some(other.to_string()),
    }
}

/// `--listen <ADDR>` -> `--listen`; `<DIR>` stays.
fn arg_name(spec: &str) -> &str {
    if spec.starts_with('-') {
        spec.split([' ', '=']).next().unwrap_or(spec)
    } else {
        spec
    }
}

/// One error in our form: `fatal: <what>: <why>`, then clap's usage line.
fn error_text(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let first = rendered
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("error: ")
        .to_string();
    let arg = context(e, ContextKind::InvalidArg);
    let value = context(e, ContextKind::InvalidValue);
    let line = match e.kind() {
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let arg = arg.as_deref().map(arg_name).unwrap_or("argument");
            let value = value.unwrap_or_default();
            let why = match e.kind() {
                ErrorKind::InvalidValue => match context(e, ContextKind::ValidValue) {
                    Some(valid) if !valid.is_empty() => format!("expected one of {valid}"),
                    _ => "a value is required".to_string(),
                },
                _ => std::error::Error::source(e)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "invalid value".to_string()),
            };
            if value.is_empty() {
                format!("{arg}: {why}")
            } else {
                format!("{arg} {value}: {why}")
            }
        }
        ErrorKind::MissingRequiredArgument => format!(
            "missing argument: {}",
            arg.unwrap_or_else(|| "a required argument".to_string())
        ),
        ErrorKind::UnknownArgument => match arg.as_deref() {
            Some(a) if a.starts_with('-') => format!("{}: unknown option", arg_name(a)),
            Some(a) => format!("{a}: unexpected argument"),
            None => first,
        },
        ErrorKind::InvalidSubcommand => format!(
            "{}: unknown command (commands: {})",
            context(e, ContextKind::InvalidSubcommand).unwrap_or_default(),
            command()
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(|s| s.get_name().to_string())
                .chain(["help".to_string()])
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ErrorKind::ArgumentConflict => match (arg, context(e, ContextKind::PriorArg)) {
            (Some(a), Some(b)) => format!("{}: cannot be used with {}", arg_name(&a), b),
            _ => first,
        },
        _ => first,
    };
    let usage = rendered
        .lines()
        .find_map(|l| l.strip_prefix("Usage: "))
        .map(|u| format!("usage: {u}\n"))
        .unwrap_or_default();
    format!("fatal: {line}\n{usage}Try '{NAME} --help' for more information.\n")
}

/// `--version`: ours, then the git that requests would run (`GIT_HTTP_BACKEND_GIT`
/// or `git` on `PATH`) and its `git --version`.
pub fn version_text() -> String {
    let mut out = format!("{NAME} {}\n", env!("CARGO_PKG_VERSION"));
    let env = crate::request::Env::from_process();
    let program = crate::os::os_to_bytes(crate::child::git_program(&env));
    let path = env.get("PATH").unwrap_or(b"/usr/local/bin:/usr/bin:/bin");
    match crate::child::find_in_path(&program, path) {
        Some(git) => match std::process::Command::new(&git).arg("--version").output() {
            Ok(out_git) if out_git.status.success() => out.push_str(&format!(
                "{} ({})\n",
                String::from_utf8_lossy(&out_git.stdout).trim(),
                git.display()
            )),
            Ok(out_git) => out.push_str(&format!(
                "git: {} --version failed: {}\n",
                git.display(),
                String::from_utf8_lossy(&out_git.stderr).trim()
            )),
            Err(e) => out.push_str(&format!("git: cannot run {}: {e}\n", git.display())),
        },
        None => out.push_str(&format!(
            "git: '{}' not found on PATH (set PATH or GIT_HTTP_BACKEND_GIT)\n",
            String::from_utf8_lossy(&program)
        )),
    }
    out
}

/// Writes the man pages (the program's and one per visible subcommand) into `dir`.
pub fn write_man_pages(dir: &std::path::Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let cmd = command().version(env!("CARGO_PKG_VERSION"));
    let mut written = Vec::new();
    let mut page = |cmd: clap::Command, file: String| -> std::io::Result<()> {
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut buf)?;
        let path = dir.join(file);
        std::fs::write(&path, buf)?;
        written.push(path);
        Ok(())
    };
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("{NAME}-{}", sub.get_name());
        page(
            sub.clone()
                .name(name.clone())
                .version(env!("CARGO_PKG_VERSION")),
            format!("{name}.1"),
        )?;
    }
    page(cmd, format!("{NAME}.1"))?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Cli {
        match parse_from(std::iter::once(NAME).chain(args.iter().copied())) {
            Parsed::Run(cli) => *cli,
            Parsed::Exit { stderr, stdout, .. } => panic!("{args:?}: {stderr}{stdout}"),
        }
    }

    fn fail(args: &[&str]) -> String {
        match parse_from(std::iter::once(NAME).chain(args.iter().copied())) {
            Parsed::Exit {
                code: 2, stderr, ..
            } => stderr,
            other => panic!("{args:?} accepted: {other:?}"),
        }
    }

    #[test]
    fn definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn fastcgi_options() {
        let cli = run(&[
            "--listen=127.0.0.1:9000",
            "--max-connections",
            "8",
            "--socket-group",
            "www-data",
        ]);
        assert!(cli.command.is_none());
        let f = cli.fastcgi;
        assert_eq!(
            f.listen,
            Some(Source::Tcp("127.0.0.1:9000".parse().unwrap()))
        );
        assert_eq!(f.max_connections, 8);
        assert_eq!(f.idle_timeout, DEFAULT_IDLE_TIMEOUT_SECS);
        assert_eq!(f.socket_group.as_deref(), Some("www-data"));
        assert_eq!(run(&["--idle-timeout", "0"]).fastcgi.idle_timeout, 0);
        let l = run(&["--listen", "unix:/s", "--socket-mode", "0660"]).fastcgi;
        assert_eq!(l.socket_mode, Some(0o660));
    }

    #[test]
    fn serve_options() {
        let Some(Command::Serve(s)) = run(&["serve", "/d"]).command else {
            panic!()
        };
        assert_eq!(s.listen, DEFAULT_SERVE_LISTEN);
        assert_eq!(s.dir, PathBuf::from("/d"));
        let Some(Command::Serve(s)) = run(&["serve", "/d", "-l", "[::1]:1"]).command else {
            panic!()
        };
        assert_eq!(s.listen, "[::1]:1");
        let Some(Command::Serve(s)) = run(&["serve", "--acl", "/a", "--", "-d"]).command else {
            panic!()
        };
        assert_eq!(s.dir, PathBuf::from("-d"));
        assert_eq!(
            s.daemon.env_vars(),
            vec![("GIT_HTTP_ACL_FILE", OsString::from("/a"))]
        );
        let f = run(&["--listen", "unix:/s", "--max-git", "8", "--access-log", "-"]).fastcgi;
        assert_eq!(
            f.daemon.env_vars(),
            vec![
                ("GIT_HTTP_ACCESS_LOG", OsString::from("-")),
                ("GIT_HTTP_MAX_GIT", OsString::from("8"))
            ]
        );
    }

    #[test]
    fn errors_name_the_argument_and_the_accepted_form() {
        let e = fail(&["--listen", "8081"]);
        assert!(
            e.starts_with("fatal: --listen 8081: expected unix:/path or IP:PORT"),
            "{e}"
        );
        assert!(e.contains("--help"), "{e}");
        let e = fail(&["serve", "--listen", "8081", "/d"]);
        assert!(
            e.starts_with("fatal: --listen 8081: expected HOST:PORT"),
            "{e}"
        );
        assert!(
            fail(&["--socket-mode", "999"]).starts_with("fatal: --socket-mode 999: expected octal")
        );
        assert!(fail(&["--max-connections", "0"]).starts_with("fatal: --max-connections 0: "));
        assert!(fail(&["--bogus"]).starts_with("fatal: --bogus: unknown option"));
        assert!(
            fail(&["bogus"])
                .starts_with("fatal: bogus: unknown command (commands: serve, access, help)")
        );
        assert!(fail(&["serve", "/a", "/b"]).starts_with("fatal: /b: unexpected argument"));
        assert!(fail(&["serve"]).starts_with("fatal: missing argument: <DIR>"));
        assert!(fail(&["serve", "/a", "/b"]).starts_with("fatal: "));
        assert!(fail(&["--listen"]).starts_with("fatal: --listen: a value is required"));
        let e = fail(&["--listen", "unix:/s", "serve", "/d"]);
        assert!(e.starts_with("fatal: "), "{e}");
        for e in [fail(&["serve", "/a", "/b"]), fail(&["nonsense"])] {
            assert_eq!(
                e.lines().next().unwrap().matches("fatal:").count(),
                1,
                "{e}"
            );
        }
    }

    #[test]
    fn access_arguments() {
        let Some(Command::Access(a)) = run(&["access", "r", "alice", "W"]).command else {
            panic!()
        };
        assert_eq!((a.repo.as_str(), a.refname), ("r", None));
    }
}

//! Deciding how this process was started: CGI, FastCGI, or neither.
//!
//! In order (the first that applies wins):
//! 1. `--listen unix:/path` or `--listen HOST:PORT`: FastCGI on a socket we bind.
//! 2. `LISTEN_FDS` >= 1 and `LISTEN_PID` = our pid (systemd socket activation):
//!    FastCGI on fd 3. The `LISTEN_*` variables are removed afterwards.
//! 3. fd 0 is a listening socket (`getpeername` fails with `ENOTCONN`; spawn-fcgi,
//!    mod_fcgid, lighttpd): FastCGI on fd 0. A *connected* socket on fd 0 (Apache
//!    mod_cgid) is not this case.
//! 4. a CGI variable ([`CGI_MARKERS`]: `GATEWAY_INTERFACE`, `REQUEST_METHOD`, ...) set: CGI.
//! 5. Otherwise: usage.
//!
//! On Windows, before all of these: standard input is the server end of a named
//! pipe and `_FCGI_X_PIPE_` is set or standard output and error are invalid: IIS's
//! FastCGI module (or mod_fcgid) started us, FastCGI on that pipe
//! ([`Source::StdinPipe`], one connection at a time). Arguments other than
//! `--idle-timeout` are ignored there (IIS passes the handler's `arguments`).
//!
//! ```
//! use git_http_backend_rs::mode::{parse_options, Source};
//! let args: Vec<String> = ["--listen", "unix:/run/git.sock", "--socket-mode", "0660"]
//!     .iter().map(|s| s.to_string()).collect();
//! let opts = parse_options(&args).unwrap();
//! assert_eq!(opts.listen, Some(Source::Unix("/run/git.sock".into())));
//! assert_eq!(opts.socket_mode, Some(0o660));
//! ```

use anyhow::{Context, bail};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Variables only a web server running a CGI sets: any of them means CGI mode (so a
/// request missing `REQUEST_METHOD` still gets git-http-backend's 500, not usage).
pub const CGI_MARKERS: &[&str] = &[
    "GATEWAY_INTERFACE",
    "REQUEST_METHOD",
    "PATH_INFO",
    "PATH_TRANSLATED",
    "SERVER_PROTOCOL",
    "QUERY_STRING",
    "SCRIPT_NAME",
];

/// The default `--idle-timeout`: above nginx's upstream `keepalive_timeout` (60 s),
/// so nginx closes its idle kept-alive connections before we do.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 120;

/// The default cap on concurrent FastCGI connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;

/// Where FastCGI connections come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A unix socket we bind at this path (a stale socket file is replaced; the
    /// socket is removed at exit).
    Unix(PathBuf),
    /// A TCP address we bind.
    Tcp(SocketAddr),
    /// A listening socket inherited on this file descriptor (0 or 3).
    Inherited(i32),
    /// Windows: the named pipe IIS hands over as standard input.
    StdinPipe,
}

/// How a FastCGI server listens and how much it takes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    /// The socket.
    pub source: Source,
    /// Permissions for a unix socket we bind (`--socket-mode 0660`).
    pub socket_mode: Option<u32>,
    /// The most connections served at once (`--max-connections N`).
    pub max_connections: usize,
    /// How long a connection with no request in progress may stay silent before it
    /// is closed (`--idle-timeout SECONDS`; `None` with 0: never).
    pub idle_timeout: Option<std::time::Duration>,
    /// Settings given as options (`--max-git 8` is `GIT_HTTP_MAX_GIT=8`), added to
    /// the daemon's base environment.
    pub settings: Vec<(String, String)>,
    /// `--allow-remote` (or `GIT_HTTP_ALLOW_REMOTE=1`): listen on a non-loopback
    /// TCP address without `FCGI_WEB_SERVER_ADDRS`.
    pub allow_remote: bool,
}

/// How to run.
#[derive(Debug)]
pub enum Mode {
    /// One CGI request from the environment and stdin.
    Cgi,
    /// A FastCGI server.
    FastCgi(Listen),
    /// The plain-HTTP server, with its arguments (`serve [--listen ADDR] DIR`).
    Serve(Vec<String>),
    /// Explain an ACL decision, with its arguments
    /// (`access [--acl FILE] REPO USER PERM [REF]`).
    Access(Vec<String>),
    /// Print the usage and exit 0.
    Help,
    /// Print the version and exit 0.
    Version,
    /// Nothing to serve: print usage.
    Usage,
}

/// The command-line options of the FastCGI server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `--listen ADDR`.
    pub listen: Option<Source>,
    /// `--socket-mode MODE` (octal).
    pub socket_mode: Option<u32>,
    /// `--max-connections N`.
    pub max_connections: Option<usize>,
    /// `--idle-timeout SECONDS` (0: never).
    pub idle_timeout: Option<u64>,
    /// Options that are aliases of settings (see [`SETTING_OPTIONS`]).
    pub settings: Vec<(String, String)>,
    /// `--allow-remote`.
    pub allow_remote: bool,
}

/// Command-line options that set an environment variable of the daemon's base
/// environment (thin aliases: the variable is the setting).
pub const SETTING_OPTIONS: &[(&str, &str)] = &[
    ("--max-git", "GIT_HTTP_MAX_GIT"),
    ("--max-git-per-repo", "GIT_HTTP_MAX_GIT_PER_REPO"),
    ("--max-queue", "GIT_HTTP_MAX_QUEUE"),
    ("--max-queue-wait", "GIT_HTTP_MAX_QUEUE_WAIT"),
    ("--access-log", "GIT_HTTP_ACCESS_LOG"),
    ("--acl", "GIT_HTTP_ACL_FILE"),
    ("--auth-file", "GIT_HTTP_AUTH_FILE"),
    ("--auth-realm", "GIT_HTTP_AUTH_REALM"),
];

/// The variable a setting option stands for.
pub fn setting_option(name: &str) -> Option<&'static str> {
    SETTING_OPTIONS
        .iter()
        .find(|(opt, _)| *opt == name)
        .map(|(_, var)| *var)
}

/// Parses `unix:/path` or `HOST:PORT`.
pub fn parse_address(addr: &str) -> anyhow::Result<Source> {
    if let Some(path) = addr.strip_prefix("unix:") {
        if path.is_empty() {
            bail!("--listen unix: needs a path");
        }
        return Ok(Source::Unix(PathBuf::from(path)));
    }
    let sa: SocketAddr = addr
        .parse()
        .with_context(|| format!("--listen {addr}: expected unix:/path or IP:PORT"))?;
    Ok(Source::Tcp(sa))
}

/// Parses `--listen`, `--socket-mode` and `--max-connections` (also `--opt=value`).
pub fn parse_options(args: &[String]) -> anyhow::Result<Options> {
    let mut opts = Options::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        if name == "--allow-remote" && inline.is_none() {
            opts.allow_remote = true;
            i += 1;
            continue;
        }
        if !matches!(
            name,
            "--listen" | "--socket-mode" | "--max-connections" | "--idle-timeout"
        ) && setting_option(name).is_none()
        {
            bail!("unknown argument: {arg}");
        }
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                args.get(i)
                    .cloned()
                    .with_context(|| format!("{name} needs a value"))?
            }
        };
        if let Some(var) = setting_option(name) {
            opts.settings.push((var.to_string(), value));
            i += 1;
            continue;
        }
        match name {
            "--listen" => opts.listen = Some(parse_address(&value)?),
            "--socket-mode" => {
                let mode = u32::from_str_radix(&value, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .with_context(|| format!("--socket-mode {value}: expected octal like 0660"))?;
                opts.socket_mode = Some(mode);
            }
            "--idle-timeout" => {
                let secs: u64 = value.parse().ok().with_context(|| {
                    format!("--idle-timeout {value}: expected a number of seconds")
                })?;
                opts.idle_timeout = Some(secs);
            }
            _ => {
                let n: usize =
                    value.parse().ok().filter(|n| *n > 0).with_context(|| {
                        format!("--max-connections {value}: expected a number > 0")
                    })?;
                opts.max_connections = Some(n);
            }
        }
        i += 1;
    }
    Ok(opts)
}

/// True if any of [`CGI_MARKERS`] is set.
fn cgi_environment() -> bool {
    CGI_MARKERS.iter().any(|v| std::env::var_os(v).is_some())
}

/// True if fd 0 is a listening socket (spawn-fcgi, mod_fcgid, lighttpd).
fn fd0_listening() -> bool {
    #[cfg(unix)]
    {
        crate::os::classify_fd0() == crate::os::Fd0Kind::ListeningSocket
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// True if `LISTEN_FDS`/`LISTEN_PID` hand us sockets (systemd socket activation).
fn socket_activated() -> bool {
    if cfg!(not(unix)) {
        return false;
    }
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        == Some(crate::os::process_id());
    let fds = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.trim().parse::<u32>().ok())
        .unwrap_or(0);
    if pid_ok && fds > 1 {
        log::warn!("LISTEN_FDS={fds}: serving only the first socket (fd 3)");
    }
    pid_ok && fds >= 1
}

/// Detects the mode from the command line (`--listen`) and the process state.
/// Must run before the process starts threads (it may edit the environment).
pub fn detect(args: &[String]) -> anyhow::Result<Mode> {
    #[cfg(windows)]
    if crate::os::iis_pipe().is_some() {
        let opts = parse_options(args).ok().unwrap_or_default();
        let idle = opts.idle_timeout.unwrap_or(DEFAULT_IDLE_TIMEOUT_SECS);
        log::debug!("mode: FastCGI on the named pipe on standard input (IIS)");
        return Ok(Mode::FastCgi(Listen {
            source: Source::StdinPipe,
            socket_mode: None,
            max_connections: 1,
            idle_timeout: (idle > 0).then(|| std::time::Duration::from_secs(idle)),
            settings: opts.settings,
            allow_remote: false,
        }));
    }
    // Under CGI a web server passes the words of a query without '=' as arguments
    // (Apache does, as the CGI spec allows): `?serve+/` or `?--listen+...` come from
    // the client. So in a CGI environment the arguments are never obeyed.
    if cgi_environment() && !socket_activated() && !fd0_listening() {
        if args.is_empty() {
            log::debug!("mode: CGI");
        } else {
            log::debug!("mode: CGI (arguments ignored: under CGI they come from the query)");
        }
        return Ok(Mode::Cgi);
    }
    match args.first().map(String::as_str) {
        Some("serve") => return Ok(Mode::Serve(args[1..].to_vec())),
        Some("access") => return Ok(Mode::Access(args[1..].to_vec())),
        Some("-h") | Some("--help") => return Ok(Mode::Help),
        Some("-V") | Some("--version") => return Ok(Mode::Version),
        _ => {}
    }
    let opts = parse_options(args)?;
    let listen = |source: Source| Listen {
        source,
        socket_mode: opts.socket_mode,
        max_connections: opts.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
        idle_timeout: match opts.idle_timeout.unwrap_or(DEFAULT_IDLE_TIMEOUT_SECS) {
            0 => None,
            secs => Some(std::time::Duration::from_secs(secs)),
        },
        settings: opts.settings.clone(),
        allow_remote: opts.allow_remote,
    };
    if let Some(source) = opts.listen.clone() {
        log::debug!("mode: FastCGI on {source:?} (--listen)");
        return Ok(Mode::FastCgi(listen(source)));
    }
    if socket_activated() {
        #[cfg(unix)]
        crate::os::remove_env_vars(&["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"]);
        log::debug!("mode: FastCGI on fd 3 (systemd socket activation)");
        return Ok(Mode::FastCgi(listen(Source::Inherited(3))));
    }
    if fd0_listening() {
        log::debug!("mode: FastCGI on fd 0 (listening socket on stdin)");
        return Ok(Mode::FastCgi(listen(Source::Inherited(0))));
    }
    if opts != Options::default() {
        bail!("FastCGI server options need --listen or an inherited socket");
    }
    log::debug!("mode: none (no --listen, no socket, no CGI variables)");
    Ok(Mode::Usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options() {
        let o = parse_options(&args(&[
            "--listen=127.0.0.1:9000",
            "--max-connections",
            "8",
        ]))
        .unwrap();
        assert_eq!(
            o.listen,
            Some(Source::Tcp("127.0.0.1:9000".parse().unwrap()))
        );
        assert_eq!(o.max_connections, Some(8));
        let o = parse_options(&["--idle-timeout".into(), "0".into()]).unwrap();
        assert_eq!(o.idle_timeout, Some(0));
        assert!(parse_options(&["--idle-timeout".into(), "soon".into()]).is_err());
        let o = parse_options(&args(&["--listen", "[::1]:9000"])).unwrap();
        assert!(matches!(o.listen, Some(Source::Tcp(_))));
        assert!(parse_options(&args(&["--listen"])).is_err());
        assert!(parse_options(&args(&["--listen", "nonsense"])).is_err());
        assert!(parse_options(&args(&["--listen", "unix:"])).is_err());
        assert!(parse_options(&args(&["--socket-mode", "999"])).is_err());
        assert!(parse_options(&args(&["--max-connections", "0"])).is_err());
        assert!(parse_options(&args(&["--bogus"])).is_err());
        assert_eq!(parse_options(&[]).unwrap(), Options::default());
        let o = parse_options(&args(&[
            "--max-git=4",
            "--access-log",
            "/var/log/git.json",
            "--allow-remote",
        ]))
        .unwrap();
        assert!(o.allow_remote);
        assert_eq!(
            o.settings,
            vec![
                ("GIT_HTTP_MAX_GIT".to_string(), "4".to_string()),
                (
                    "GIT_HTTP_ACCESS_LOG".to_string(),
                    "/var/log/git.json".to_string()
                )
            ]
        );
    }
}

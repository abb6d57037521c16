//! Deciding how this process was started: CGI, FastCGI, or neither.
//!
//! In order (the first that applies wins):
//! 1. A CGI variable ([`CGI_MARKERS`]: `GATEWAY_INTERFACE`, `REQUEST_METHOD`, ...) is
//!    set and no socket was handed to us (cases 3 and 4 below): one CGI request. The
//!    arguments are not even parsed: under CGI a web server passes the words of a
//!    query without `=` as arguments (Apache does, as the CGI spec allows), so they
//!    come from the client ([`cgi_request`]).
//! 2. `--listen unix:/path` or `--listen HOST:PORT`: FastCGI on a socket we bind.
//! 3. `LISTEN_FDS` >= 1 and `LISTEN_PID` = our pid (systemd socket activation):
//!    FastCGI on fd 3. The `LISTEN_*` variables are removed afterwards.
//! 4. fd 0 is a listening socket (`getpeername` fails with `ENOTCONN`; spawn-fcgi,
//!    mod_fcgid, lighttpd): FastCGI on fd 0. A *connected* socket on fd 0 (Apache
//!    mod_cgid) is not this case.
//! 5. Otherwise: usage.
//!
//! On Windows, before all of these: standard input is the server end of a named
//! pipe and `_FCGI_X_PIPE_` is set or standard output and error are invalid: IIS's
//! FastCGI module (or mod_fcgid) started us, FastCGI on that pipe
//! ([`Source::StdinPipe`], one connection at a time; [`iis_listen`]). Arguments
//! other than `--idle-timeout` are ignored there (IIS passes the handler's
//! `arguments`).
//!
//! The command line itself is [`crate::cli`]; this module parses the values it
//! takes (addresses, modes) and picks the socket ([`fastcgi_source`]).
//!
//! ```
//! use git_http_backend_rs::mode::{parse_address, parse_socket_mode, Source};
//! assert_eq!(parse_address("unix:/run/git.sock").unwrap(), Source::Unix("/run/git.sock".into()));
//! assert!(parse_address("8081").is_err());
//! assert_eq!(parse_socket_mode("0660").unwrap(), 0o660);
//! ```

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

/// Who owns a unix socket we bind (`--socket-owner`, `--socket-group`): names or
/// numeric ids, resolved when the socket is bound.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketOwnership {
    /// `--socket-owner USER`.
    pub owner: Option<String>,
    /// `--socket-group GROUP`.
    pub group: Option<String>,
}

/// How a FastCGI server listens and how much it takes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    /// The socket.
    pub source: Source,
    /// Permissions for a unix socket we bind (`--socket-mode 0660`).
    pub socket_mode: Option<u32>,
    /// Owner and group for a unix socket we bind.
    pub ownership: SocketOwnership,
    /// The most connections served at once (`--max-connections N`).
    pub max_connections: usize,
    /// How long a connection with no request in progress may stay silent before it
    /// is closed (`--idle-timeout SECONDS`; `None` with 0: never).
    pub idle_timeout: Option<std::time::Duration>,
    /// `--allow-remote` (or `GIT_HTTP_ALLOW_REMOTE=1`): listen on a non-loopback
    /// TCP address without `FCGI_WEB_SERVER_ADDRS`.
    pub allow_remote: bool,
}

/// The accepted forms of a FastCGI `--listen` address, for error messages.
pub const LISTEN_FORMS: &str = "expected unix:/path or IP:PORT (e.g. unix:/run/git-http-backend-rs.sock, 127.0.0.1:9000, [::1]:9000)";

/// Parses a FastCGI `--listen` address: `unix:/path` or `IP:PORT`.
pub fn parse_address(addr: &str) -> Result<Source, String> {
    if let Some(path) = addr.strip_prefix("unix:") {
        if path.is_empty() {
            return Err(format!("no path after unix:; {LISTEN_FORMS}"));
        }
        return Ok(Source::Unix(PathBuf::from(path)));
    }
    addr.parse::<SocketAddr>()
        .map(Source::Tcp)
        .map_err(|_| LISTEN_FORMS.to_string())
}

/// Parses `--socket-mode`: octal permission bits such as `0660`.
pub fn parse_socket_mode(value: &str) -> Result<u32, String> {
    u32::from_str_radix(value, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| "expected octal permissions such as 0660".to_string())
}

/// Parses `--max-connections`: a number above 0.
pub fn parse_max_connections(value: &str) -> Result<usize, String> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| "expected a number above 0, such as 64".to_string())
}

/// Parses `--idle-timeout`: whole seconds, 0 for never.
pub fn parse_seconds(value: &str) -> Result<u64, String> {
    value
        .parse::<u64>()
        .map_err(|_| "expected whole seconds, such as 120 (0: never)".to_string())
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

/// The number of sockets `LISTEN_FDS`/`LISTEN_PID` hand us (systemd socket
/// activation): 0 when they are unset or name another process.
fn activated_fds() -> u32 {
    if cfg!(not(unix)) {
        return 0;
    }
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        == Some(crate::os::process_id());
    if !pid_ok {
        return 0;
    }
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.trim().parse::<u32>().ok())
        .unwrap_or(0)
}

/// Windows: IIS (or mod_fcgid) handed us its named pipe on standard input: the
/// FastCGI setup for it, one connection at a time. Only `--idle-timeout` is read
/// from the arguments (IIS passes the handler's `arguments`); anything else there
/// is ignored.
#[cfg(windows)]
pub fn iis_listen() -> Option<Listen> {
    crate::os::iis_pipe()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let idle = args
        .iter()
        .enumerate()
        .find_map(|(i, a)| match a.strip_prefix("--idle-timeout") {
            Some("") => args.get(i + 1).and_then(|v| parse_seconds(v).ok()),
            Some(rest) => rest.strip_prefix('=').and_then(|v| parse_seconds(v).ok()),
            None => None,
        })
        // IIS keeps its pipe connection between requests and ends idle
        // processes itself (the application's `idleTimeout`): closing an idle
        // connection here would only fail IIS's next request on it.
        .unwrap_or(0);
    log::debug!("mode: FastCGI on the named pipe on standard input (IIS)");
    Some(Listen {
        source: Source::StdinPipe,
        socket_mode: None,
        ownership: SocketOwnership::default(),
        max_connections: 1,
        idle_timeout: (idle > 0).then(|| std::time::Duration::from_secs(idle)),
        allow_remote: false,
    })
}

/// True when this process serves one CGI request: a CGI variable is set and no
/// listening socket was handed to us. Then the arguments must never be obeyed.
pub fn cgi_request() -> bool {
    if cgi_environment() && activated_fds() == 0 && !fd0_listening() {
        if std::env::args_os().len() > 1 {
            log::debug!("mode: CGI (arguments ignored: under CGI they come from the query)");
        } else {
            log::debug!("mode: CGI");
        }
        return true;
    }
    false
}

/// The FastCGI socket: `--listen`'s address, else one systemd or a launcher
/// handed us, else `None` (nothing to serve). Must run before the process starts
/// threads (it may edit the environment).
pub fn fastcgi_source(listen: Option<Source>) -> Option<Source> {
    if let Some(source) = listen {
        log::debug!("mode: FastCGI on {source:?} (--listen)");
        return Some(source);
    }
    let fds = activated_fds();
    if fds >= 1 {
        if fds > 1 {
            log::warn!("LISTEN_FDS={fds}: serving only the first socket (fd 3)");
        }
        #[cfg(unix)]
        crate::os::remove_env_vars(&["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"]);
        log::debug!("mode: FastCGI on fd 3 (systemd socket activation)");
        return Some(Source::Inherited(3));
    }
    if fd0_listening() {
        log::debug!("mode: FastCGI on fd 0 (listening socket on stdin)");
        return Some(Source::Inherited(0));
    }
    log::debug!("mode: none (no --listen, no socket, no CGI variables)");
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            parse_address("127.0.0.1:9000"),
            Ok(Source::Tcp("127.0.0.1:9000".parse().unwrap()))
        );
        assert!(matches!(parse_address("[::1]:9000"), Ok(Source::Tcp(_))));
        assert!(
            parse_address("nonsense")
                .unwrap_err()
                .contains("unix:/path")
        );
        assert!(parse_address("8081").unwrap_err().contains("IP:PORT"));
        assert!(parse_address("unix:").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_socket_mode("660"), Ok(0o660));
        assert!(parse_socket_mode("999").is_err());
        assert!(parse_socket_mode("17777").is_err());
        assert_eq!(parse_max_connections("8"), Ok(8));
        assert!(parse_max_connections("0").is_err());
        assert_eq!(parse_seconds("0"), Ok(0));
        assert!(parse_seconds("soon").is_err());
    }
}

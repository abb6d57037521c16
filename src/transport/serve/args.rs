//! The `serve` command line: `[--listen ADDR] [--max-connections N] [SETTING OPTIONS] DIR`.
//!
//! Setting options are the same aliases as the FastCGI server's
//! ([`crate::mode::SETTING_OPTIONS`]: `--max-git N`, `--access-log FILE`, ...).
//!
//! ```
//! use git_http_backend_rs::transport::serve::args::parse;
//! let o = parse(&["--listen".into(), "127.0.0.1:9000".into(), "/srv".into()]).unwrap();
//! assert_eq!(o.listen, "127.0.0.1:9000");
//! assert_eq!(o.root, std::path::PathBuf::from("/srv"));
//! assert!(parse(&[]).is_err());
//! ```

use std::path::PathBuf;

/// Usage text for `serve`.
pub const USAGE: &str =
    "usage: git-http-backend-rs serve [--listen 127.0.0.1:8080] [--max-connections 64]
       [--max-git N] [--max-git-per-repo N] [--max-queue N] [--max-queue-wait SECS]
       [--access-log FILE|-] DIR";

/// The default cap on connections served at once. Unlike the FastCGI server's (the
/// web server in front multiplexes clients onto few connections), `serve` faces
/// clients directly, so its cap is that of a web server (nginx's
/// `worker_connections`); lowered at start if the open-file limit is too small.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// The default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Parsed `serve` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `host:port` to listen on (resolved when binding).
    pub listen: String,
    /// The directory whose repositories are served (`GIT_PROJECT_ROOT`).
    pub root: PathBuf,
    /// Connections served at once (more wait in the kernel's backlog); `None`:
    /// [`effective_max_connections`] decides.
    pub max_connections: Option<usize>,
    /// Settings given as options, added to the base environment.
    pub settings: Vec<(String, String)>,
}

/// Why the command line was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgError {
    /// `-h`/`--help`: print usage, exit 0.
    Help,
    /// Anything wrong: the message for stderr.
    Bad(String),
}

/// Parses the arguments after `serve`.
pub fn parse(args: &[String]) -> Result<Options, ArgError> {
    let mut listen = None;
    let mut root = None;
    let mut max_connections = None;
    let mut settings = Vec::new();
    let mut it = args.iter();
    let mut options_done = false;
    while let Some(arg) = it.next() {
        if !options_done && arg.starts_with('-') && arg != "-" {
            if arg == "--" {
                options_done = true;
            } else if arg == "-h" || arg == "--help" {
                return Err(ArgError::Help);
            } else if arg == "--listen" || arg == "-l" {
                let value = it
                    .next()
                    .ok_or_else(|| ArgError::Bad(format!("{arg} needs an address")))?;
                listen = Some(value.clone());
            } else if let Some(value) = arg.strip_prefix("--listen=") {
                listen = Some(value.to_string());
            } else if let Some(var) = crate::policy::setting_variable(arg) {
                let value = it
                    .next()
                    .ok_or_else(|| ArgError::Bad(format!("{arg} needs a value")))?;
                settings.push((var.to_string(), value.clone()));
            } else if let Some((var, value)) = arg
                .split_once('=')
                .and_then(|(o, v)| crate::policy::setting_variable(o).map(|var| (var, v)))
            {
                settings.push((var.to_string(), value.to_string()));
            } else {
                let (name, inline) = match arg.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (arg.as_str(), None),
                };
                let var = crate::mode::setting_option(name);
                if var.is_none() && name != "--max-connections" {
                    return Err(ArgError::Bad(format!("unknown option '{arg}'")));
                }
                let value = match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| ArgError::Bad(format!("{name} needs a value")))?,
                };
                match var {
                    Some(var) => settings.push((var.to_string(), value)),
                    None => {
                        max_connections = value
                            .parse()
                            .ok()
                            .filter(|n| *n > 0)
                            .map(Some)
                            .ok_or_else(|| {
                                ArgError::Bad(format!(
                                    "--max-connections {value}: expected a number > 0"
                                ))
                            })?
                    }
                }
            }
        } else if root.is_none() {
            root = Some(PathBuf::from(arg));
        } else {
            return Err(ArgError::Bad(format!("unexpected argument '{arg}'")));
        }
    }
    let listen = listen.unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    if listen.is_empty() {
        return Err(ArgError::Bad("empty --listen address".into()));
    }
    let root = root.ok_or_else(|| ArgError::Bad("missing DIR".into()))?;
    Ok(Options {
        listen,
        root,
        max_connections,
        settings,
    })
}

/// The connection cap to use: the one asked for, else [`DEFAULT_MAX_CONNECTIONS`]
/// within what the open-file limit `nofile` leaves (a quarter kept for git's pipes,
/// repository files and the runtime).
pub fn effective_max_connections(asked: Option<usize>, nofile: u64) -> usize {
    asked.unwrap_or_else(|| {
        let room = (nofile.saturating_sub(64) * 3 / 4) as usize;
        DEFAULT_MAX_CONNECTIONS.min(room).max(16)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, ArgError> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_and_forms() {
        assert_eq!(p(&["/d"]).unwrap().listen, DEFAULT_LISTEN);
        assert_eq!(p(&["--listen=[::1]:1", "/d"]).unwrap().listen, "[::1]:1");
        assert_eq!(p(&["/d", "-l", "0.0.0.0:1"]).unwrap().listen, "0.0.0.0:1");
        assert_eq!(p(&["--", "-d"]).unwrap().root, PathBuf::from("-d"));
        assert_eq!(p(&["--help"]), Err(ArgError::Help));
        let o = p(&[
            "--acl",
            "/a.conf",
            "--auth-file=/h",
            "--auth-realm",
            "R",
            "/d",
        ])
        .unwrap();
        assert_eq!(
            o.settings,
            vec![
                ("GIT_HTTP_ACL_FILE".to_string(), "/a.conf".to_string()),
                ("GIT_HTTP_AUTH_FILE".to_string(), "/h".to_string()),
                ("GIT_HTTP_AUTH_REALM".to_string(), "R".to_string()),
            ]
        );
        assert!(matches!(p(&["/d", "--acl"]), Err(ArgError::Bad(_))));
    }

    #[test]
    fn caps_and_settings() {
        let o = p(&[
            "--max-connections",
            "8",
            "--max-git=2",
            "--access-log",
            "-",
            "/d",
        ])
        .unwrap();
        assert_eq!(o.max_connections, Some(8));
        assert_eq!(effective_max_connections(None, 20000), 1024);
        assert_eq!(effective_max_connections(None, 1024), 720);
        assert_eq!(effective_max_connections(Some(8), 100), 8);
        assert_eq!(
            o.settings,
            vec![
                ("GIT_HTTP_MAX_GIT".into(), "2".into()),
                ("GIT_HTTP_ACCESS_LOG".into(), "-".into())
            ]
        );
        assert!(matches!(
            p(&["--max-connections=0", "/d"]),
            Err(ArgError::Bad(_))
        ));
    }

    #[test]
    fn rejects() {
        assert!(matches!(p(&[]), Err(ArgError::Bad(_))));
        assert!(matches!(p(&["--listen"]), Err(ArgError::Bad(_))));
        assert!(matches!(p(&["--bogus", "/d"]), Err(ArgError::Bad(_))));
        assert!(matches!(p(&["/a", "/b"]), Err(ArgError::Bad(_))));
        assert!(matches!(p(&["--listen=", "/d"]), Err(ArgError::Bad(_))));
    }
}

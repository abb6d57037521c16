//! The `serve` command line: `[--listen ADDR] DIR`.
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
pub const USAGE: &str = "usage: git-http-backend-rs serve [--listen 127.0.0.1:8080] \
                         [--acl FILE] [--auth-file HTPASSWD] [--auth-realm REALM] DIR";

/// The default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Parsed `serve` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `host:port` to listen on (resolved when binding).
    pub listen: String,
    /// The directory whose repositories are served (`GIT_PROJECT_ROOT`).
    pub root: PathBuf,
    /// `--acl FILE`, `--auth-file FILE`, `--auth-realm R`: (variable, value) pairs
    /// for the base environment (see `policy::SETTING_OPTIONS`).
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
                return Err(ArgError::Bad(format!("unknown option '{arg}'")));
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
        settings,
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
    fn rejects() {
        assert!(matches!(p(&[]), Err(ArgError::Bad(_))));
        assert!(matches!(p(&["--listen"]), Err(ArgError::Bad(_))));
        assert!(matches!(p(&["--bogus", "/d"]), Err(ArgError::Bad(_))));
        assert!(matches!(p(&["/a", "/b"]), Err(ArgError::Bad(_))));
        assert!(matches!(p(&["--listen=", "/d"]), Err(ArgError::Bad(_))));
    }
}

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
pub const USAGE: &str = "usage: git-http-backend-rs serve [--listen 127.0.0.1:8080] DIR";

/// The default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Parsed `serve` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `host:port` to listen on (resolved when binding).
    pub listen: String,
    /// The directory whose repositories are served (`GIT_PROJECT_ROOT`).
    pub root: PathBuf,
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
    Ok(Options { listen, root })
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

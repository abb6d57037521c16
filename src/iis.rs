//! IIS's server variables, turned into what the rest of the crate reads. Applies
//! only to requests from IIS (`SERVER_SOFTWARE` `Microsoft-IIS/...` or
//! `APPL_MD_PATH` set), so other servers' requests stay byte-compatible with the
//! stock git-http-backend.
//!
//! - The user: `REMOTE_USER`, else (when `AUTH_TYPE` says the request was
//!   authenticated) `LOGON_USER`, else `AUTH_USER` (IIS sets all three, empty for
//!   anonymous requests; Windows authentication and Basic set them to
//!   `DOMAIN\user`, kept as is so ACL rules can name it).
//! - `PATH_INFO` without `allowPathInfo`: IIS passes the whole URL path (equal to
//!   `SCRIPT_NAME`), including the application's virtual directory; that prefix
//!   (from `APPL_MD_PATH`, `/LM/W3SVC/1/ROOT/git` -> `/git`) is removed.
//!
//! ```
//! use git_http_backend_rs::request::Env;
//! let mut env = Env::from_pairs([
//!     ("SERVER_SOFTWARE", "Microsoft-IIS/10.0"),
//!     ("APPL_MD_PATH", "/LM/W3SVC/1/ROOT/git"),
//!     ("SCRIPT_NAME", "/git/r.git/info/refs"),
//!     ("PATH_INFO", "/git/r.git/info/refs"),
//!     ("REMOTE_USER", ""),
//!     ("AUTH_TYPE", "Negotiate"),
//!     ("LOGON_USER", "CONTOSO\\alice"),
//! ]);
//! git_http_backend_rs::iis::adapt(&mut env);
//! assert_eq!(env.get("PATH_INFO"), Some(&b"/r.git/info/refs"[..]));
//! assert_eq!(env.get("REMOTE_USER"), Some(&b"CONTOSO\\alice"[..]));
//! ```

use crate::request::Env;

/// True if IIS sent this request.
pub fn is_iis(env: &Env) -> bool {
    env.get("SERVER_SOFTWARE")
        .is_some_and(|s| s.starts_with(b"Microsoft-IIS/"))
        || env.get_nonempty("APPL_MD_PATH").is_some()
}

/// The application's virtual-directory path from `APPL_MD_PATH`
/// (`/LM/W3SVC/1/ROOT/git/repos` -> `/git/repos`; the site root -> empty).
fn virtual_dir(appl_md_path: &[u8]) -> Vec<u8> {
    let lower = appl_md_path.to_ascii_lowercase();
    match lower.windows(5).position(|w| w == b"/root") {
        Some(i) => appl_md_path[i + 5..].to_vec(),
        None => Vec::new(),
    }
}

/// Applies IIS's conventions to `env` (see the module documentation).
pub fn adapt(env: &mut Env) {
    if !is_iis(env) {
        return;
    }
    // The fallbacks count only for an authenticated request (`AUTH_TYPE` set:
    // `Negotiate`, `NTLM`, `Basic`): an anonymous one must never become a user.
    if env.get_nonempty("REMOTE_USER").is_none() && env.get_nonempty("AUTH_TYPE").is_some() {
        let user = ["LOGON_USER", "AUTH_USER"]
            .iter()
            .find_map(|v| env.get_nonempty(v))
            .map(<[u8]>::to_vec);
        if let Some(user) = user {
            env.set("REMOTE_USER", user);
        }
    }
    let (Some(info), Some(script)) = (env.get("PATH_INFO"), env.get("SCRIPT_NAME")) else {
        return;
    };
    if info != script {
        return; // allowPathInfo: PATH_INFO is already the part after the script.
    }
    let vdir = virtual_dir(env.get("APPL_MD_PATH").unwrap_or_default());
    if vdir.is_empty() {
        return;
    }
    let rest = info
        .get(..vdir.len())
        .filter(|p| p.eq_ignore_ascii_case(&vdir))
        .map(|_| &info[vdir.len()..])
        .filter(|rest| rest.starts_with(b"/"))
        .map(<[u8]>::to_vec);
    if let Some(rest) = rest {
        env.set("PATH_INFO", rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iis(pairs: &[(&str, &str)]) -> Env {
        let mut env = Env::from_pairs([("SERVER_SOFTWARE", "Microsoft-IIS/10.0")]);
        for (k, v) in pairs {
            env.set(k, v.as_bytes());
        }
        adapt(&mut env);
        env
    }

    #[test]
    fn user_from_remote_logon_or_auth_user() {
        let e = iis(&[("REMOTE_USER", "CONTOSO\\bob"), ("LOGON_USER", "x")]);
        assert_eq!(e.get("REMOTE_USER"), Some(&b"CONTOSO\\bob"[..]));
        let e = iis(&[
            ("REMOTE_USER", ""),
            ("AUTH_TYPE", "Basic"),
            ("LOGON_USER", ""),
            ("AUTH_USER", "alice"),
        ]);
        assert_eq!(e.get("REMOTE_USER"), Some(&b"alice"[..]));
        // Without AUTH_TYPE (anonymous) a stray LOGON_USER is no user.
        let e = iis(&[("REMOTE_USER", ""), ("LOGON_USER", "IUSR")]);
        assert_eq!(e.get_nonempty("REMOTE_USER"), None);
        // Anonymous: all empty, stays anonymous (empty).
        let e = iis(&[("REMOTE_USER", ""), ("LOGON_USER", ""), ("AUTH_USER", "")]);
        assert_eq!(e.get_nonempty("REMOTE_USER"), None);
        // Not IIS: LOGON_USER means nothing.
        let mut e = Env::from_pairs([("LOGON_USER", "x"), ("SERVER_SOFTWARE", "nginx/1.22")]);
        adapt(&mut e);
        assert_eq!(e.get("REMOTE_USER"), None);
    }

    #[test]
    fn path_info_without_allow_path_info() {
        let full = "/Git/r.git/info/refs";
        let e = iis(&[
            ("APPL_MD_PATH", "/LM/W3SVC/1/ROOT/git"),
            ("SCRIPT_NAME", full),
            ("PATH_INFO", full),
        ]);
        assert_eq!(e.get("PATH_INFO"), Some(&b"/r.git/info/refs"[..]));
        // allowPathInfo: PATH_INFO already differs from SCRIPT_NAME.
        let e = iis(&[
            ("APPL_MD_PATH", "/LM/W3SVC/1/ROOT/git"),
            ("SCRIPT_NAME", "/git"),
            ("PATH_INFO", "/r.git/info/refs"),
        ]);
        assert_eq!(e.get("PATH_INFO"), Some(&b"/r.git/info/refs"[..]));
        // Site root application: nothing to strip.
        let e = iis(&[
            ("APPL_MD_PATH", "/LM/W3SVC/1/ROOT"),
            ("SCRIPT_NAME", "/r.git/HEAD"),
            ("PATH_INFO", "/r.git/HEAD"),
        ]);
        assert_eq!(e.get("PATH_INFO"), Some(&b"/r.git/HEAD"[..]));
        // A prefix that only looks like the directory is kept.
        let e = iis(&[
            ("APPL_MD_PATH", "/LM/W3SVC/1/ROOT/git"),
            ("SCRIPT_NAME", "/github.git/HEAD"),
            ("PATH_INFO", "/github.git/HEAD"),
        ]);
        assert_eq!(e.get("PATH_INFO"), Some(&b"/github.git/HEAD"[..]));
    }
}

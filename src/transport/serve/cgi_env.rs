//! HTTP request -> CGI meta-variables, the way a web server fills them (RFC 3875).
//!
//! `PATH_INFO` is the percent-decoded path, `QUERY_STRING` the raw query,
//! `CONTENT_LENGTH` only when the body has a declared length (absent for chunked
//! bodies), every other header `Name-X` as `HTTP_NAME_X`. `Authorization` becomes
//! `HTTP_AUTHORIZATION` for the built-in Basic auth (`crate::policy::auth`, which
//! removes it before git runs); `Proxy-Authorization` and `Proxy` (httpoxy) are
//! dropped, and `REMOTE_USER` never comes from the request in this mode.
//! Header names with characters other than letters, digits and `-` are dropped, so
//! `Content_Length` cannot pose as `CONTENT_LENGTH` (Apache and nginx do the same).
//!
//! ```
//! use git_http_backend_rs::transport::serve::cgi_env::percent_decode;
//! assert_eq!(percent_decode(b"/a%20b/%7e%zz%4"), b"/a b/~%zz%4".to_vec());
//! ```

use crate::request::Env;
use hyper::http::request::Parts;
use hyper::http::{HeaderMap, Version, header};
use std::net::SocketAddr;

/// What the server knows about the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    /// The client's address (`REMOTE_ADDR`, `REMOTE_PORT`).
    pub peer: SocketAddr,
    /// Our address on this connection (`SERVER_PORT`, fallback `SERVER_NAME`).
    pub local: SocketAddr,
}

/// The server software name for `SERVER_SOFTWARE`.
pub const SERVER_SOFTWARE: &str = concat!("git-http-backend-rs/", env!("CARGO_PKG_VERSION"));

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays as it is, and
/// `+` stays `+` (it means a space only in query strings).
pub fn percent_decode(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%'
            && i + 2 < raw.len()
            && let (Some(h), Some(l)) = (hex(raw[i + 1]), hex(raw[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

/// True for header names that may become `HTTP_*` variables.
fn passes_header(name: &str) -> bool {
    !matches!(
        name,
        "content-type" | "content-length" | "proxy-authorization" | "proxy"
    ) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `Name-X` -> `HTTP_NAME_X`.
fn cgi_header_name(name: &str) -> String {
    let mut out = String::with_capacity(5 + name.len());
    out.push_str("HTTP_");
    out.extend(name.chars().map(|c| {
        if c == '-' {
            '_'
        } else {
            c.to_ascii_uppercase()
        }
    }));
    out
}

/// All values of one header joined as a web server does (`, `).
fn joined(headers: &HeaderMap, name: &header::HeaderName) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, v) in headers.get_all(name).iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(v.as_bytes());
    }
    out
}

/// `SERVER_NAME`: the `Host` header without its port, else our own address.
fn server_name(headers: &HeaderMap, local: SocketAddr) -> Vec<u8> {
    if let Some(host) = headers.get(header::HOST).map(|h| h.as_bytes()) {
        let name = if host.starts_with(b"[") {
            // [v6]:port
            match host.iter().position(|&b| b == b']') {
                Some(end) => &host[..=end],
                None => host,
            }
        } else {
            match host.iter().rposition(|&b| b == b':') {
                Some(colon) => &host[..colon],
                None => host,
            }
        };
        if !name.is_empty() {
            return name.to_vec();
        }
    }
    match local {
        SocketAddr::V4(a) => a.ip().to_string().into_bytes(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()).into_bytes(),
    }
}

/// Why a request cannot be turned into CGI variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvError {
    /// The decoded path holds a NUL byte, which no environment can carry.
    NulInPath,
}

/// Builds the request's environment: `base` (from [`Env::daemon_base`]) overlaid
/// with the request's CGI variables, `GIT_PROJECT_ROOT=root` and
/// `GIT_HTTP_EXPORT_ALL`.
pub fn build(base: &Env, root: &[u8], parts: &Parts, conn: ConnInfo) -> Result<Env, EnvError> {
    let mut env = base.clone();
    let headers = &parts.headers;
    for name in headers.keys() {
        if passes_header(name.as_str()) {
            env.set(cgi_header_name(name.as_str()), joined(headers, name));
        }
    }
    let path = percent_decode(parts.uri.path().as_bytes());
    if path.contains(&0) {
        return Err(EnvError::NulInPath);
    }
    env.set("GATEWAY_INTERFACE", "CGI/1.1");
    env.set("REQUEST_METHOD", parts.method.as_str());
    env.set("PATH_INFO", path);
    env.set("QUERY_STRING", parts.uri.query().unwrap_or(""));
    let uri = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    env.set("REQUEST_URI", uri);
    env.set("SCRIPT_NAME", "");
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        env.set("CONTENT_TYPE", ct.as_bytes());
    }
    // hyper ignores Content-Length when Transfer-Encoding is present, and so do we.
    if !headers.contains_key(header::TRANSFER_ENCODING)
        && let Some(len) = headers.get(header::CONTENT_LENGTH)
    {
        env.set("CONTENT_LENGTH", len.as_bytes());
    }
    env.set("REMOTE_ADDR", conn.peer.ip().to_canonical().to_string());
    env.set("REMOTE_PORT", conn.peer.port().to_string());
    env.set(
        "SERVER_PROTOCOL",
        if parts.version == Version::HTTP_10 {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        },
    );
    env.set("SERVER_NAME", server_name(headers, conn.local));
    env.set("SERVER_PORT", conn.local.port().to_string());
    env.set("SERVER_SOFTWARE", SERVER_SOFTWARE);
    env.set("GIT_PROJECT_ROOT", root);
    env.set("GIT_HTTP_EXPORT_ALL", "1");
    env.remove("REMOTE_USER");
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::http::Request;

    fn conn() -> ConnInfo {
        ConnInfo {
            peer: "127.0.0.1:5555".parse().unwrap(),
            local: "127.0.0.1:8080".parse().unwrap(),
        }
    }

    fn env_of(req: Request<()>) -> Env {
        let (parts, ()) = req.into_parts();
        build(&Env::new(), b"/srv/git", &parts, conn()).unwrap()
    }

    #[test]
    fn maps_a_post() {
        let env = env_of(
            Request::post("/r%20x.git/git-upload-pack?a=%20b")
                .header("Host", "example.org:8080")
                .header("Content-Type", "application/x-git-upload-pack-request")
                .header("Content-Length", "12")
                .header("Git-Protocol", "version=2")
                .header("Accept", "a")
                .header("Accept", "b")
                .header("Authorization", "Basic eDp5")
                .header("Proxy", "http://evil")
                .header("Content_Length", "1")
                .header("X-Remote-User", "admin")
                .body(())
                .unwrap(),
        );
        let s = |n: &str| env.get_str(n);
        assert_eq!(s("REQUEST_METHOD"), Some("POST"));
        assert_eq!(s("PATH_INFO"), Some("/r x.git/git-upload-pack"));
        assert_eq!(s("QUERY_STRING"), Some("a=%20b"));
        assert_eq!(s("CONTENT_LENGTH"), Some("12"));
        assert_eq!(
            s("CONTENT_TYPE"),
            Some("application/x-git-upload-pack-request")
        );
        assert_eq!(s("HTTP_GIT_PROTOCOL"), Some("version=2"));
        assert_eq!(s("HTTP_ACCEPT"), Some("a, b"));
        assert_eq!(s("HTTP_HOST"), Some("example.org:8080"));
        assert_eq!(s("SERVER_NAME"), Some("example.org"));
        assert_eq!(s("SERVER_PORT"), Some("8080"));
        assert_eq!(s("REMOTE_ADDR"), Some("127.0.0.1"));
        assert_eq!(s("REMOTE_PORT"), Some("5555"));
        assert_eq!(s("SERVER_PROTOCOL"), Some("HTTP/1.1"));
        assert_eq!(s("GATEWAY_INTERFACE"), Some("CGI/1.1"));
        assert_eq!(s("GIT_PROJECT_ROOT"), Some("/srv/git"));
        assert_eq!(s("GIT_HTTP_EXPORT_ALL"), Some("1"));
        assert_eq!(s("HTTP_X_REMOTE_USER"), Some("admin"));
        assert_eq!(s("REMOTE_USER"), None);
        assert_eq!(s("HTTP_AUTHORIZATION"), Some("Basic eDp5"));
        assert_eq!(s("HTTP_PROXY"), None);
        assert_eq!(s("HTTP_CONTENT_LENGTH"), None);
        assert_eq!(s("HTTP_CONTENT_TYPE"), None);
    }

    #[test]
    fn chunked_has_no_content_length() {
        let env = env_of(
            Request::post("/r.git/git-receive-pack")
                .header("Transfer-Encoding", "chunked")
                .header("Content-Length", "5")
                .version(Version::HTTP_10)
                .body(())
                .unwrap(),
        );
        assert_eq!(env.get("CONTENT_LENGTH"), None);
        assert_eq!(env.get_str("HTTP_TRANSFER_ENCODING"), Some("chunked"));
        assert_eq!(env.get_str("SERVER_PROTOCOL"), Some("HTTP/1.0"));
        assert_eq!(env.get_str("QUERY_STRING"), Some(""));
        assert_eq!(env.get_str("SERVER_NAME"), Some("127.0.0.1"));
    }

    #[test]
    fn base_remote_user_is_dropped_and_nul_refused() {
        let base = Env::from_pairs([("REMOTE_USER", "x"), ("HOME", "/h")]);
        let (parts, ()) = Request::get("/r.git/HEAD").body(()).unwrap().into_parts();
        let env = build(&base, b"/d", &parts, conn()).unwrap();
        assert_eq!(env.get("REMOTE_USER"), None);
        assert_eq!(env.get_str("HOME"), Some("/h"));
        let (parts, ()) = Request::get("/r%00.git/HEAD")
            .body(())
            .unwrap()
            .into_parts();
        assert_eq!(
            build(&base, b"/d", &parts, conn()),
            Err(EnvError::NulInPath)
        );
    }

    #[test]
    fn decoding_edges() {
        assert_eq!(percent_decode(b"%41%4"), b"A%4".to_vec());
        assert_eq!(percent_decode(b"%"), b"%".to_vec());
        assert_eq!(percent_decode(b"a+b%2F"), b"a+b/".to_vec());
        assert_eq!(percent_decode(b"%2e%2E"), b"..".to_vec());
    }
}

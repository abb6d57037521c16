//! Git LFS: the batch API, the `basic` transfer adapter and the locking API, served
//! under each repository's URL (`<repo>/info/lfs/...`) by the same request path as
//! git's own protocol.
//!
//! LFS is off unless `http.lfs` is true in the repository's git config or
//! `GIT_HTTP_LFS` is true in the environment (or FastCGI params); off, every LFS
//! path gets the 404 stock gives an unknown path. Access goes through
//! [`policy::authorize`](crate::policy::authorize) with
//! [`Access::LfsDownload`](crate::policy::Access::LfsDownload) and
//! [`Access::LfsUpload`](crate::policy::Access::LfsUpload).
//!
//! - [`batch`]: `POST info/lfs/objects/batch`;
//! - [`transfer`]: `GET`/`PUT info/lfs/objects/<oid>` and `POST info/lfs/verify`;
//! - [`locks`]: `info/lfs/locks`, `locks/verify`, `locks/<id>/unlock`;
//! - [`store`]: objects in `<git-dir>/lfs/objects/aa/bb/<oid>` (git-lfs's own layout).
//!
//! ```
//! use git_http_backend_rs::service::lfs::is_oid;
//! assert!(is_oid(&"ab".repeat(32)));
//! assert!(!is_oid("../../etc/passwd"));
//! ```

pub mod batch;
pub mod locks;
pub mod store;
pub mod transfer;

use crate::body;
use crate::config::HttpConfig;
use crate::error::{HttpError, Result};
use crate::request::{Env, Head, Response};
use crate::routes::Handler;
use crate::service::Context;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::Read;

/// The media type of every LFS JSON request and reply.
pub const MEDIA_TYPE: &str = "application/vnd.git-lfs+json";

/// The largest JSON request body read (a batch of many thousand objects fits).
pub const MAX_JSON_BODY: u64 = 16 * 1024 * 1024;

/// True when LFS is enabled for a request: `GIT_HTTP_LFS` (environment or FastCGI
/// param) set to a true value, or `http.lfs` true in the repository's config.
pub fn enabled(env: &Env, config: &HttpConfig) -> bool {
    let from_env = env.get("GIT_HTTP_LFS").is_some_and(|v| {
        matches!(
            v.to_ascii_lowercase().as_slice(),
            b"1" | b"true" | b"yes" | b"on"
        )
    });
    from_env || config.lfs == Some(true)
}

/// True for a SHA-256 object id as git-lfs writes it: 64 lowercase hex digits.
pub fn is_oid(oid: &str) -> bool {
    oid.len() == 64
        && oid
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// An LFS error reply: the status, and `{"message": ...}` in the LFS media type.
pub fn error(status: u16, reason: &'static str, message: impl Into<String>) -> HttpError {
    let message = message.into();
    let body = serde_json::json!({ "message": message }).to_string();
    let mut e = HttpError::new(status, reason, format!("Git LFS: {message}")).with_body(body);
    e.lfs_json = true;
    e
}

/// 422 Unprocessable Entity (invalid oid or size, hash mismatch).
pub fn unprocessable(message: impl Into<String>) -> HttpError {
    error(422, "Unprocessable Entity", message)
}

/// 400 Bad Request (malformed JSON, body cut short).
pub fn bad_request(message: impl Into<String>) -> HttpError {
    error(400, "Bad Request", message)
}

/// Gives an error from elsewhere (policy, I/O) the LFS JSON body the client
/// expects, keeping its status and the rest (a 401's challenge survives).
fn as_lfs_error(mut e: HttpError) -> HttpError {
    if e.body.is_empty() {
        let message = if e.message.is_empty() {
            e.reason.to_string()
        } else {
            e.message.clone()
        };
        e.body = serde_json::json!({ "message": message })
            .to_string()
            .into_bytes();
        e.lfs_json = true;
    }
    e
}

/// Serves one LFS route (the handler already knows LFS is enabled).
pub fn serve(
    handler: Handler,
    ctx: &Context,
    resp: &mut Response<'_>,
    body: Box<dyn Read + Send>,
) -> Result<i32> {
    let result = match handler {
        Handler::LfsBatch => batch::serve(ctx, resp, body),
        Handler::LfsDownload => transfer::download(ctx, resp),
        Handler::LfsUpload => transfer::upload(ctx, resp, body),
        Handler::LfsVerify => transfer::verify(ctx, resp, body),
        Handler::LfsLockList => locks::list(ctx, resp),
        Handler::LfsLockCreate => locks::create(ctx, resp, body),
        Handler::LfsLockVerify => locks::verify(ctx, resp, body),
        Handler::LfsUnlock => locks::unlock(ctx, resp, body),
        other => Err(HttpError::die(format!("not an LFS route: {other:?}"))),
    };
    result.map_err(as_lfs_error)
}

/// Reads a JSON request body of the LFS media type into `T`.
///
/// A wrong `Content-Type` is a 415, a body over [`MAX_JSON_BODY`] a 413, a body
/// cut short or not the expected JSON a 400; all with an LFS `message`.
pub fn read_json<T: DeserializeOwned>(ctx: &Context, body: Box<dyn Read + Send>) -> Result<T> {
    let content_type = ctx.env.get_lossy("CONTENT_TYPE").unwrap_or_default();
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media != MEDIA_TYPE && media != "application/json" {
        return Err(error(
            415,
            "Unsupported Media Type",
            format!("expected Content-Type {MEDIA_TYPE}, got '{content_type}'"),
        ));
    }
    let mut data = Vec::new();
    body::decoded(&ctx.env, body)?
        .take(MAX_JSON_BODY + 1)
        .read_to_end(&mut data)
        .map_err(|e| bad_request(format!("reading the request body: {e}")))?;
    if data.len() as u64 > MAX_JSON_BODY {
        return Err(error(
            413,
            "Payload Too Large",
            format!("request body over {MAX_JSON_BODY} bytes"),
        ));
    }
    serde_json::from_slice(&data).map_err(|e| bad_request(format!("malformed request: {e}")))
}

/// Sends `value` as a JSON reply with `status` in the LFS media type.
pub fn reply_json<T: Serialize>(
    resp: &mut Response<'_>,
    status: u16,
    reason: &'static str,
    value: &T,
) -> Result<i32> {
    let body = serde_json::to_vec(value)
        .map_err(|e| HttpError::die(format!("encoding an LFS reply: {e}")))?;
    let head = Head::new(status, reason)
        .nocache()
        .header("Content-Type", MEDIA_TYPE)
        .header("Content-Length", body.len().to_string());
    resp.send_full(&head, &body)
        .map_err(|e| HttpError::die(format!("client went away: {e}")))?;
    Ok(0)
}

/// The user a lock belongs to: `REMOTE_USER`, else `GIT_HTTP_ANON_USER`, else
/// `anonymous`.
pub fn user(env: &Env) -> String {
    env.get_lossy("REMOTE_USER")
        .filter(|u| !u.is_empty())
        .or_else(|| {
            env.get_lossy("GIT_HTTP_ANON_USER")
                .filter(|u| !u.is_empty())
        })
        .unwrap_or_else(|| "anonymous".to_string())
}

/// The absolute URL of this repository's `info/lfs/` as the client reached us
/// (ending in `/`): scheme from `HTTPS`, host from `Host` (else `SERVER_NAME` and
/// `SERVER_PORT`), path from `REQUEST_URI` (else `SCRIPT_NAME` + `PATH_INFO`) up
/// to and including `info/lfs/`.
pub fn base_url(env: &Env) -> String {
    let https = env
        .get("HTTPS")
        .is_some_and(|v| v.eq_ignore_ascii_case(b"on") || v == b"1")
        || env.get("REQUEST_SCHEME") == Some(b"https");
    let scheme = if https { "https" } else { "http" };
    let host = env
        .get_lossy("HTTP_HOST")
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| {
            let name = env
                .get_lossy("SERVER_NAME")
                .unwrap_or_else(|| "localhost".into());
            match env.get_lossy("SERVER_PORT") {
                Some(p) if !(p.is_empty() || (https && p == "443") || (!https && p == "80")) => {
                    format!("{name}:{p}")
                }
                _ => name,
            }
        });
    let from_uri = env.get_lossy("REQUEST_URI").and_then(|uri| {
        let path = uri.split('?').next().unwrap_or_default();
        path.rfind("/info/lfs/")
            .map(|i| path[..i + "/info/lfs/".len()].to_string())
    });
    let path = from_uri.unwrap_or_else(|| {
        let mut raw = env.get("SCRIPT_NAME").unwrap_or_default().to_vec();
        raw.extend_from_slice(env.get("PATH_INFO").unwrap_or_default());
        let raw = match raw.windows(10).rposition(|w| w == b"/info/lfs/") {
            Some(i) => raw[..i + 10].to_vec(),
            None => raw,
        };
        percent_encode_path(&raw)
    });
    format!("{scheme}://{host}{path}")
}

/// Percent-encodes a path's bytes except unreserved characters and `/`.
fn percent_encode_path(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for &c in raw {
        if c.is_ascii_alphanumeric() || b"/-._~".contains(&c) {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids() {
        assert!(is_oid(&"0123456789abcdef".repeat(4)));
        assert!(!is_oid(&"0123456789ABCDEF".repeat(4)));
        assert!(!is_oid(&"0".repeat(63)));
        assert!(!is_oid(&format!("{}/", "0".repeat(63))));
        assert!(!is_oid(""));
    }

    #[test]
    fn enabling() {
        let on = HttpConfig {
            lfs: Some(true),
            ..HttpConfig::default()
        };
        assert!(enabled(&Env::new(), &on));
        assert!(!enabled(&Env::new(), &HttpConfig::default()));
        assert!(enabled(
            &Env::from_pairs([("GIT_HTTP_LFS", "1")]),
            &HttpConfig::default()
        ));
        assert!(!enabled(
            &Env::from_pairs([("GIT_HTTP_LFS", "0")]),
            &HttpConfig::default()
        ));
    }

    #[test]
    fn base_urls() {
        let env = Env::from_pairs([
            ("HTTP_HOST", "example.org:8080"),
            ("REQUEST_URI", "/git/a%20b.git/info/lfs/objects/batch?x=1"),
            ("SCRIPT_NAME", "/git"),
            ("PATH_INFO", "/a b.git/info/lfs/objects/batch"),
        ]);
        assert_eq!(
            base_url(&env),
            "http://example.org:8080/git/a%20b.git/info/lfs/"
        );
        let env = Env::from_pairs([
            ("HTTPS", "on"),
            ("SERVER_NAME", "h"),
            ("SERVER_PORT", "443"),
            ("SCRIPT_NAME", "/git"),
            ("PATH_INFO", "/a b.git/info/lfs/locks"),
        ]);
        assert_eq!(base_url(&env), "https://h/git/a%20b.git/info/lfs/");
        let env = Env::from_pairs([
            ("SERVER_NAME", "h"),
            ("SERVER_PORT", "81"),
            ("PATH_INFO", "/r/info/lfs/objects/batch"),
        ]);
        assert_eq!(base_url(&env), "http://h:81/r/info/lfs/");
    }

    #[test]
    fn users() {
        assert_eq!(user(&Env::from_pairs([("REMOTE_USER", "al")])), "al");
        assert_eq!(user(&Env::new()), "anonymous");
    }
}

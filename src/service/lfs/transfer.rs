//! The `basic` transfer adapter: `GET` and `PUT info/lfs/objects/<oid>`, streamed
//! with one 64 KiB buffer each way, and `POST info/lfs/verify`.

use super::store::{self, PutError};
use super::{read_json, reply_json};
use crate::body;
use crate::error::{HttpError, Result};
use crate::policy::{self, Access};
use crate::request::{Head, Response};
use crate::service::Context;
use serde::Deserialize;
use std::io::Read;

/// The most of a refused upload's body that is read and dropped before the reply.
const MAX_DRAIN: u64 = 1 << 30;

/// The oid at the end of the matched route (`info/lfs/objects/<oid>`).
fn route_oid(ctx: &Context) -> Result<String> {
    let arg = String::from_utf8_lossy(&ctx.arg);
    let oid = arg.rsplit('/').next().unwrap_or_default().to_string();
    if super::is_oid(&oid) {
        Ok(oid)
    } else {
        Err(super::unprocessable("invalid object id"))
    }
}

/// `GET info/lfs/objects/<oid>`: the object, with `Content-Length`.
pub fn download(ctx: &Context, resp: &mut Response<'_>) -> Result<i32> {
    policy::authorize(ctx, Access::LfsDownload)?;
    let oid = route_oid(ctx)?;
    let (mut file, len) = store::open(&ctx.repo.git_dir, &oid)
        .map_err(|_| super::error(404, "Not Found", format!("object {oid} does not exist")))?;
    let head = Head::ok()
        .header("Content-Type", "application/octet-stream")
        .header("Content-Length", len.to_string())
        .header("Cache-Control", "private, max-age=0");
    resp.send_head(&head)
        .map_err(|e| HttpError::die(format!("writing reply: {e}")))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut sent = 0u64;
    while sent < len {
        let n = file
            .read(&mut buf)
            .map_err(|e| HttpError::die(format!("reading LFS object {oid}: {e}")))?;
        if n == 0 {
            return Err(HttpError::die(format!(
                "LFS object {oid} shrank while sent"
            )));
        }
        let n = n.min((len - sent) as usize);
        resp.write_body(&buf[..n])
            .map_err(|e| HttpError::die(format!("client went away: {e}")))?;
        sent += n as u64;
    }
    resp.flush()
        .map_err(|e| HttpError::die(format!("client went away: {e}")))?;
    Ok(0)
}

/// `PUT info/lfs/objects/<oid>`: stores the body if it hashes to `<oid>` (and has
/// the `Content-Length` it announced); 200 with an empty body.
pub fn upload(ctx: &Context, resp: &mut Response<'_>, body: Box<dyn Read + Send>) -> Result<i32> {
    if let Err(e) = policy::authorize(ctx, Access::LfsUpload) {
        // Read (and drop) the body first: a CGI that answers without reading it
        // makes the web server reset the connection, and git-lfs then sees an
        // EOF instead of the 401 that would make it send credentials.
        if let Ok(raw) = body::raw(&ctx.env, body) {
            let _ = std::io::copy(&mut raw.take(MAX_DRAIN), &mut std::io::sink());
        }
        return Err(e);
    }
    let oid = route_oid(ctx)?;
    let expected = body::content_length(&ctx.env)?;
    // `decoded` already fails a body shorter than CONTENT_LENGTH; the store checks
    // the count again, so a lying length never lands.
    let mut reader = body::decoded(&ctx.env, body)?;
    match store::put(&ctx.repo.git_dir, &oid, expected, &mut reader) {
        Ok(size) => {
            log::debug!("LFS object {oid} stored ({size} bytes)");
            let head = Head::ok().nocache().header("Content-Length", "0");
            resp.send_full(&head, b"")
                .map_err(|e| HttpError::die(format!("client went away: {e}")))?;
            Ok(0)
        }
        Err(PutError::Body(e)) => Err(super::bad_request(format!(
            "upload of {oid} not stored: {e}"
        ))),
        Err(PutError::Store(e)) => Err(HttpError::die(format!(
            "storing LFS object {oid} in '{}': {e}",
            ctx.repo.git_dir.display()
        ))),
        Err(PutError::Mismatch { actual, size }) => Err(super::unprocessable(format!(
            "upload of {oid} not stored: its {size} bytes hash to {actual}"
        ))),
        Err(PutError::Size { expected, actual }) => Err(super::bad_request(format!(
            "upload of {oid} not stored: {actual} bytes received, {expected} announced"
        ))),
    }
}

/// The body of a `verify` request.
#[derive(Debug, Deserialize)]
struct VerifyRequest {
    oid: String,
    size: i64,
}

/// `POST info/lfs/verify`: 200 if the object is stored with that size, else 404
/// (missing) or 422 (bad oid, size differs).
pub fn verify(ctx: &Context, resp: &mut Response<'_>, body: Box<dyn Read + Send>) -> Result<i32> {
    let req: VerifyRequest = read_json(ctx, body)?;
    policy::authorize(ctx, Access::LfsUpload)?;
    if !super::is_oid(&req.oid) {
        return Err(super::unprocessable("invalid object id"));
    }
    match store::size_of(&ctx.repo.git_dir, &req.oid) {
        None => Err(super::error(
            404,
            "Not Found",
            format!("object {} does not exist", req.oid),
        )),
        Some(len) if req.size < 0 || len != req.size as u64 => Err(super::unprocessable(format!(
            "object {} has {len} bytes, not {}",
            req.oid, req.size
        ))),
        Some(_) => reply_json(
            resp,
            200,
            "OK",
            &serde_json::json!({ "message": "object verified" }),
        ),
    }
}

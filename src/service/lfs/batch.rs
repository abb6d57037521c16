//! `POST info/lfs/objects/batch`: the Git LFS batch API with the `basic` adapter.
//!
//! Each object gets `actions` pointing back at this server (`download` ->
//! `GET objects/<oid>`, `upload` -> `PUT objects/<oid>` plus `verify` ->
//! `POST verify`), or a per-object `error` (404 missing, 422 invalid oid or
//! size). Objects already stored get no upload action.

use super::{base_url, read_json, reply_json, store};
use crate::error::Result;
use crate::policy::{self, Access};
use crate::request::Response;
use crate::service::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;

/// How long an action's href is said to be valid. Our hrefs do not expire (each
/// request is authorized on its own); this only bounds the client's caching.
pub const EXPIRES_IN: i64 = 3600;

/// A batch request.
#[derive(Debug, Deserialize)]
pub struct BatchRequest {
    /// `download` or `upload`.
    pub operation: String,
    /// Adapters the client supports (default `basic`).
    #[serde(default)]
    pub transfers: Option<Vec<String>>,
    /// The objects.
    pub objects: Vec<ObjectSpec>,
    /// `sha256` (default).
    #[serde(default)]
    pub hash_algo: Option<String>,
}

/// One object of a batch request. `oid` and `size` are read loosely so that a bad
/// one is a per-object 422 instead of failing the whole batch.
#[derive(Debug, Deserialize)]
pub struct ObjectSpec {
    /// The SHA-256 object id.
    pub oid: serde_json::Value,
    /// The size in bytes.
    pub size: serde_json::Value,
}

/// One action of a reply object.
#[derive(Debug, Serialize)]
pub struct Action {
    /// Where to go.
    pub href: String,
    /// Headers to send along.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub header: BTreeMap<String, String>,
    /// Seconds the href stays valid.
    pub expires_in: i64,
}

/// A per-object error.
#[derive(Debug, Serialize)]
pub struct ObjectError {
    /// HTTP-like code (404, 422).
    pub code: u16,
    /// What is wrong.
    pub message: String,
}

/// One object of the reply.
#[derive(Debug, Serialize)]
pub struct ObjectReply {
    /// The object id as sent.
    pub oid: String,
    /// The size (the stored one for downloads).
    pub size: i64,
    /// Whether the actions need no further credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authenticated: Option<bool>,
    /// `download`, or `upload` + `verify`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub actions: BTreeMap<&'static str, Action>,
    /// The per-object error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ObjectError>,
}

/// The batch reply.
#[derive(Debug, Serialize)]
pub struct BatchReply {
    /// Always `basic`.
    pub transfer: &'static str,
    /// One entry per requested object.
    pub objects: Vec<ObjectReply>,
    /// Always `sha256`.
    pub hash_algo: &'static str,
}

/// Serves a batch request.
pub fn serve(ctx: &Context, resp: &mut Response<'_>, body: Box<dyn Read + Send>) -> Result<i32> {
    let req: BatchRequest = read_json(ctx, body)?;
    let upload = match req.operation.as_str() {
        "download" => false,
        "upload" => true,
        other => {
            return Err(super::unprocessable(format!(
                "unknown operation '{other}' (expected download or upload)"
            )));
        }
    };
    policy::authorize(
        ctx,
        if upload {
            Access::LfsUpload
        } else {
            Access::LfsDownload
        },
    )?;
    if let Some(algo) = req.hash_algo.as_deref().filter(|a| *a != "sha256") {
        return Err(super::error(
            409,
            "Conflict",
            format!("unsupported hash algorithm '{algo}' (only sha256)"),
        ));
    }
    if let Some(t) = &req.transfers
        && !t.is_empty()
        && !t.iter().any(|t| t == "basic")
    {
        return Err(super::unprocessable(
            "no supported transfer adapter (only basic)",
        ));
    }
    let base = base_url(&ctx.env);
    let mut header = BTreeMap::new();
    if let Some(auth) = ctx
        .env
        .get_lossy("HTTP_AUTHORIZATION")
        .filter(|a| !a.is_empty())
    {
        header.insert("Authorization".to_string(), auth);
    }
    // With the credentials forwarded in `header`, the client needs no others.
    let authenticated = (!header.is_empty()).then_some(true);
    let action = |href: String| Action {
        href,
        header: header.clone(),
        expires_in: EXPIRES_IN,
    };
    let objects = req
        .objects
        .iter()
        .map(|spec| {
            let oid = spec.oid.as_str().unwrap_or_default().to_string();
            let size = spec.size.as_i64();
            let mut reply = ObjectReply {
                oid: if oid.is_empty() {
                    spec.oid.to_string()
                } else {
                    oid.clone()
                },
                size: size.unwrap_or(0),
                authenticated: None,
                actions: BTreeMap::new(),
                error: None,
            };
            let fail = |mut r: ObjectReply, code, message: String| {
                r.error = Some(ObjectError { code, message });
                r
            };
            if !super::is_oid(&oid) {
                return fail(
                    reply,
                    422,
                    "invalid object id (64 lowercase hex digits)".into(),
                );
            }
            let Some(size) = size.filter(|s| *s >= 0) else {
                return fail(reply, 422, format!("invalid size {}", spec.size));
            };
            let stored = store::size_of(&ctx.repo.git_dir, &oid);
            let href = format!("{base}objects/{oid}");
            if upload {
                if stored != Some(size as u64) {
                    reply.authenticated = authenticated;
                    reply.actions.insert("upload", action(href));
                    reply
                        .actions
                        .insert("verify", action(format!("{base}verify")));
                }
                reply
            } else {
                match stored {
                    None => fail(reply, 404, "object does not exist".into()),
                    Some(len) if len != size as u64 => fail(
                        reply,
                        422,
                        format!("size {size} does not match the stored object ({len} bytes)"),
                    ),
                    Some(_) => {
                        reply.authenticated = authenticated;
                        reply.actions.insert("download", action(href));
                        reply
                    }
                }
            }
        })
        .collect();
    reply_json(
        resp,
        200,
        "OK",
        &BatchReply {
            transfer: "basic",
            objects,
            hash_algo: "sha256",
        },
    )
}

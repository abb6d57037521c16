//! The Git LFS locking API: `GET`/`POST info/lfs/locks`, `POST locks/verify`,
//! `POST locks/<id>/unlock` (with `force`).
//!
//! Locks live in the repository, one JSON file per locked path:
//! `<git-dir>/lfs/locks/<id>.json` where `id` is the SHA-256 of the path. A lock is
//! written to a temporary file and then hard-linked to its name, which fails if
//! the name exists: two concurrent requests for one path get one lock and one 409,
//! and a reader never sees half a file. Unlocking takes `<id>.mutex` (created with
//! `O_EXCL`) around "read, check the owner, remove", so a lock is never removed on
//! the strength of an owner check made against an older lock of the same path.
//! The owner is `REMOTE_USER` (see [`super::user`]).

use super::store::hex;
use super::{read_json, reply_json, user};
use crate::error::{HttpError, Result};
use crate::policy::{self, Access};
use crate::request::Response;
use crate::service::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// The default and largest page size of list and verify.
pub const MAX_LIMIT: usize = 1000;

/// A lock's owner.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Owner {
    /// The user name.
    pub name: String,
}

/// One lock, as stored and as sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Lock {
    /// SHA-256 of the path, hex.
    pub id: String,
    /// The locked path, as the client sent it.
    pub path: String,
    /// RFC 3339 time of creation.
    pub locked_at: String,
    /// Who holds it.
    pub owner: Owner,
}

/// A ref as the client names it (`{"name": "refs/heads/main"}`); accepted, unused:
/// locks here are per repository, not per branch.
#[derive(Debug, Default, Deserialize)]
pub struct RefSpec {
    /// The ref name.
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CreateRequest {
    path: String,
    #[serde(default, rename = "ref")]
    _ref: Option<RefSpec>,
}

#[derive(Debug, Default, Deserialize)]
struct VerifyRequest {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default, rename = "ref")]
    _ref: Option<RefSpec>,
}

#[derive(Debug, Default, Deserialize)]
struct UnlockRequest {
    #[serde(default)]
    force: bool,
    #[serde(default, rename = "ref")]
    _ref: Option<RefSpec>,
}

fn locks_dir(ctx: &Context) -> PathBuf {
    ctx.repo.git_dir.join("lfs").join("locks")
}

/// The id of the lock on `path`.
pub fn lock_id(path: &str) -> String {
    hex(&Sha256::digest(path.as_bytes()))
}

fn io_error(what: &str, dir: &Path, e: std::io::Error) -> HttpError {
    HttpError::die(format!("{what} in '{}': {e}", dir.display()))
}

fn read_lock(file: &Path) -> Option<Lock> {
    let data = fs::read(file).ok()?;
    serde_json::from_slice(&data).ok()
}

/// Every lock, sorted by id.
fn all_locks(dir: &Path) -> Result<Vec<Lock>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error("listing locks", dir, e)),
    };
    let mut locks: Vec<Lock> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| read_lock(&e.path()))
        .collect();
    locks.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(locks)
}

/// Locks from `cursor` (an id, inclusive) on, at most `limit`, and the next cursor.
fn page(locks: Vec<Lock>, cursor: Option<&str>, limit: usize) -> (Vec<Lock>, Option<String>) {
    let mut rest: Vec<Lock> = locks
        .into_iter()
        .filter(|l| cursor.is_none_or(|c| l.id.as_str() >= c))
        .collect();
    let next = (rest.len() > limit).then(|| rest[limit].id.clone());
    rest.truncate(limit);
    (rest, next)
}

fn parse_limit(raw: Option<i64>) -> Result<usize> {
    match raw {
        None | Some(0) => Ok(MAX_LIMIT),
        Some(n) if n > 0 => Ok((n as usize).min(MAX_LIMIT)),
        Some(n) => Err(super::bad_request(format!("invalid limit {n}"))),
    }
}

/// RFC 3339 for a system time, in UTC.
fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = crate::date::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `GET info/lfs/locks`: the locks, filtered by `path` and `id`, paged by
/// `cursor` and `limit`. Listing is a read.
pub fn list(ctx: &Context, resp: &mut Response<'_>) -> Result<i32> {
    policy::authorize(ctx, Access::LfsDownload)?;
    let param = |name| {
        ctx.query_param(name)
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .filter(|v| !v.is_empty())
    };
    let limit = match param("limit") {
        None => MAX_LIMIT,
        Some(raw) => {
            parse_limit(Some(raw.parse::<i64>().map_err(|_| {
                super::bad_request(format!("invalid limit '{raw}'"))
            })?))?
        }
    };
    let path = param("path");
    let id = param("id");
    let locks: Vec<Lock> = all_locks(&locks_dir(ctx))?
        .into_iter()
        .filter(|l| path.as_ref().is_none_or(|p| &l.path == p))
        .filter(|l| id.as_ref().is_none_or(|i| &l.id == i))
        .collect();
    let (locks, next) = page(locks, param("cursor").as_deref(), limit);
    let mut reply = serde_json::json!({ "locks": locks });
    if let Some(next) = next {
        reply["next_cursor"] = next.into();
    }
    reply_json(resp, 200, "OK", &reply)
}

/// `POST info/lfs/locks`: 201 with the new lock, or 409 with the existing one.
pub fn create(ctx: &Context, resp: &mut Response<'_>, body: Box<dyn Read + Send>) -> Result<i32> {
    // The body first: a CGI must read it before answering (see transfer::upload).
    let req: CreateRequest = read_json(ctx, body)?;
    policy::authorize(ctx, Access::LfsUpload)?;
    if req.path.is_empty() || req.path.len() > 4096 || req.path.contains('\0') {
        return Err(super::unprocessable("invalid lock path"));
    }
    let dir = locks_dir(ctx);
    let tmp_dir = dir.join("tmp");
    fs::create_dir_all(&tmp_dir).map_err(|e| io_error("creating the lock store", &dir, e))?;
    let lock = Lock {
        id: lock_id(&req.path),
        path: req.path,
        locked_at: rfc3339(SystemTime::now()),
        owner: Owner {
            name: user(&ctx.env),
        },
    };
    let json = serde_json::to_vec(&lock).map_err(|e| HttpError::die(e.to_string()))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!("{}-", lock.id))
        .tempfile_in(&tmp_dir)
        .map_err(|e| io_error("creating a lock", &dir, e))?;
    fs::write(tmp.path(), &json).map_err(|e| io_error("writing a lock", &dir, e))?;
    let file = dir.join(format!("{}.json", lock.id));
    match fs::hard_link(tmp.path(), &file) {
        Ok(()) => reply_json(resp, 201, "Created", &serde_json::json!({ "lock": lock })),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let existing = read_lock(&file).unwrap_or(lock);
            let body = serde_json::json!({ "lock": existing, "message": "already created lock" });
            reply_json(resp, 409, "Conflict", &body)
        }
        Err(e) => Err(io_error("storing a lock", &dir, e)),
    }
}

/// `POST info/lfs/locks/verify`: the locks split into `ours` and `theirs`.
pub fn verify(ctx: &Context, resp: &mut Response<'_>, body: Box<dyn Read + Send>) -> Result<i32> {
    let req: VerifyRequest = read_json(ctx, body)?;
    policy::authorize(ctx, Access::LfsUpload)?;
    let limit = parse_limit(req.limit)?;
    let me = user(&ctx.env);
    let (locks, next) = page(all_locks(&locks_dir(ctx))?, req.cursor.as_deref(), limit);
    let (ours, theirs): (Vec<Lock>, Vec<Lock>) =
        locks.into_iter().partition(|l| l.owner.name == me);
    let mut reply = serde_json::json!({ "ours": ours, "theirs": theirs });
    if let Some(next) = next {
        reply["next_cursor"] = next.into();
    }
    reply_json(resp, 200, "OK", &reply)
}

/// Holds `<id>.mutex` while alive.
struct Mutex(PathBuf);

impl Mutex {
    /// Takes the mutex, waiting up to 10 s; one left by a dead process (older than
    /// 30 s) is broken.
    fn take(path: PathBuf) -> Result<Mutex> {
        let start = Instant::now();
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(_) => return Ok(Mutex(path)),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    let stale = fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > Duration::from_secs(30));
                    if stale {
                        let _ = fs::remove_file(&path);
                    } else if start.elapsed() > Duration::from_secs(10) {
                        return Err(super::error(
                            503,
                            "Service Unavailable",
                            "lock store busy, try again",
                        ));
                    } else {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                Err(e) => {
                    return Err(HttpError::die(format!("taking '{}': {e}", path.display())));
                }
            }
        }
    }
}

impl Drop for Mutex {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// `POST info/lfs/locks/<id>/unlock`: removes the lock if it is ours, or with
/// `force` by an administrator ([`Access::LfsForceUnlock`]); 403 for another
/// user's lock, 404 for no lock.
pub fn unlock(ctx: &Context, resp: &mut Response<'_>, body: Box<dyn Read + Send>) -> Result<i32> {
    let req: UnlockRequest = read_json(ctx, body)?;
    policy::authorize(ctx, Access::LfsUpload)?;
    let arg = String::from_utf8_lossy(&ctx.arg);
    let id = arg
        .trim_end_matches("/unlock")
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    if !super::is_oid(&id) {
        return Err(super::unprocessable("invalid lock id"));
    }
    let dir = locks_dir(ctx);
    let file = dir.join(format!("{id}.json"));
    if !file.exists() {
        return Err(super::error(404, "Not Found", format!("no lock {id}")));
    }
    let _mutex = Mutex::take(dir.join(format!("{id}.mutex")))?;
    let Some(lock) = read_lock(&file) else {
        return Err(super::error(404, "Not Found", format!("no lock {id}")));
    };
    let me = user(&ctx.env);
    if lock.owner.name != me {
        if !req.force {
            return Err(super::error(
                403,
                "Forbidden",
                format!(
                    "lock {id} on '{}' is owned by {}; use --force to remove it",
                    lock.path, lock.owner.name
                ),
            ));
        }
        policy::authorize(ctx, Access::LfsForceUnlock)?;
    }
    match fs::remove_file(&file) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(super::error(404, "Not Found", format!("no lock {id}")));
        }
        Err(e) => return Err(io_error("removing a lock", &dir, e)),
    }
    if lock.owner.name != me {
        log::info!(
            "Git LFS: {me} force-removed {}'s lock on '{}'",
            lock.owner.name,
            lock.path
        );
    }
    reply_json(resp, 200, "OK", &serde_json::json!({ "lock": lock }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(id: &str) -> Lock {
        Lock {
            id: id.into(),
            path: format!("p{id}"),
            locked_at: String::new(),
            owner: Owner { name: "u".into() },
        }
    }

    #[test]
    fn paging() {
        let all: Vec<Lock> = ["a", "b", "c"].iter().map(|i| lock(i)).collect();
        let (p, next) = page(all.clone(), None, 2);
        assert_eq!(p.len(), 2);
        assert_eq!(next.as_deref(), Some("c"));
        let (p, next) = page(all, Some("c"), 2);
        assert_eq!((p.len(), next), (1, None));
    }

    #[test]
    fn times() {
        assert_eq!(
            rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 * 365 + 3661)),
            "1971-01-01T01:01:01Z"
        );
    }

    #[test]
    fn limits() {
        assert_eq!(parse_limit(None).unwrap(), MAX_LIMIT);
        assert_eq!(parse_limit(Some(5)).unwrap(), 5);
        assert!(parse_limit(Some(-1)).is_err());
    }
}

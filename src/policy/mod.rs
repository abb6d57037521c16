//! Policy: who may do what, applied between repository resolution and the service.
//!
//! The one place where access is decided:
//! - [`auth`]: the built-in Basic auth turns `Authorization` into `REMOTE_USER`;
//! - [`Subject`]: who the request is (user or anonymous), whether this binary can
//!   challenge for credentials, the ACL in force (`GIT_HTTP_ACL_FILE`, see [`acl`])
//!   and the names the repository is judged under;
//! - [`Subject::gate_name`] / [`Subject::gate_found`]: the read gate, before and
//!   after the repository is looked up, so that a repository the user may not read
//!   answers exactly like a missing one;
//! - [`select_service`] / [`authorize`]: git-http-backend's service switches, then
//!   the ACL's read (`R`) or write (`W`) verdict for each [`Access`];
//! - [`check_push`] ([`push`]): the per-ref verdicts on a push's commands before
//!   git runs.
//!
//! Denials: a user that may not read gets the missing-repository reply (404); an
//! anonymous request gets a 401 challenge instead when this binary does Basic
//! auth (so git asks for credentials). A user that may read but not write gets
//! git-http-backend's 403 for a disabled receive-pack. A broken ACL file denies
//! every request with a 500 (one log line per change of the file).

pub mod acl;
pub mod auth;
pub mod push;

use crate::error::{HttpError, Result};
use crate::pktline::CommandList;
use crate::repo::Repo;
use crate::request::Env;
use crate::service::{Context, DefaultOn, Service};
use acl::{Acl, Perm};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use push::PushPlan;

/// What a request wants to do to a repository.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    /// Read repository files directly (dumb HTTP).
    DumbRead,
    /// Use a smart service (advertisement or RPC).
    Service(&'static Service),
    /// Git LFS: the batch API's `download`, object GETs, listing locks (a read).
    LfsDownload,
    /// Git LFS: the batch API's `upload`, object PUTs, `verify`, creating,
    /// verifying and removing locks (a write).
    LfsUpload,
    /// Git LFS: removing another user's lock (`git lfs unlock --force`), an
    /// administrator's act: a write, and then either `+` on every ref of the
    /// repository in the ACL (`RW+` without a refex) or the user named in
    /// `GIT_HTTP_LFS_ADMINS`.
    LfsForceUnlock,
}

/// Who a request is and what judges it.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    /// The user name the ACL judges: `REMOTE_USER`, else `GIT_HTTP_ANON_USER`,
    /// else `anonymous`.
    pub user: String,
    /// True when no `REMOTE_USER` is set (after the built-in auth ran).
    pub anonymous: bool,
    /// The realm, when this binary does Basic auth (`GIT_HTTP_AUTH_FILE`): then an
    /// anonymous request that is refused gets a 401 challenge.
    pub realm: Option<String>,
    /// The ACL in force (`GIT_HTTP_ACL_FILE`), if any.
    pub acl: Option<Arc<Acl>>,
    /// The names the repository is judged under: the name in the URL, and the
    /// name of the directory it resolves to when that is another repository under
    /// the project root (a symlink). Every one must allow.
    pub repo_names: Vec<String>,
}

/// The ACL file named by the request environment (`GIT_HTTP_ACL_FILE`).
pub fn acl_file(env: &Env) -> Option<PathBuf> {
    env.get_nonempty("GIT_HTTP_ACL_FILE")
        .map(|p| PathBuf::from(crate::os::bytes_to_os(p)))
}

impl Subject {
    /// Builds the subject of a request whose built-in auth already ran. Loads the
    /// ACL (cached per process, re-read when it changes); a broken ACL file is a
    /// 500 for every request (logged once per change by the loader).
    pub fn new(env: &Env) -> Result<Subject> {
        let remote_user = env.get_nonempty("REMOTE_USER").map(String::from_utf8_lossy);
        let anon = env.get_lossy("GIT_HTTP_ANON_USER");
        let user = acl::effective_user(remote_user.as_deref(), anon.as_deref());
        let acl = match acl_file(env) {
            Some(path) => Some(acl::load_cached(&path).map_err(|_| HttpError::die(""))?),
            None => None,
        };
        Ok(Subject {
            user,
            anonymous: remote_user.is_none(),
            realm: auth::settings(env).map(|s| s.realm),
            acl,
            repo_names: Vec::new(),
        })
    }

    /// The refusal for a request this subject may not make: a challenge when the
    /// request is anonymous and this binary can ask for credentials, else `denied`.
    fn refuse(&self, denied: HttpError) -> HttpError {
        match (&self.realm, self.anonymous) {
            (Some(realm), true) => {
                let mut e = auth::unauthorized(realm, "");
                if !denied.message.is_empty() {
                    log::info!("{} (asking for credentials)", denied.message);
                }
                e.message.clear();
                e
            }
            _ => denied,
        }
    }

    fn not_found(&self, display: &str, why: String) -> HttpError {
        // The reply is byte for byte the one for a missing repository; only the
        // log line says why.
        let mut e = HttpError::not_found(format!("Not a git repository: '{display}'"));
        e.message = why;
        self.refuse(e)
    }

    /// The first name under which the ACL refuses `perm` (with the decision), or
    /// `None` if every name allows it (or there is no ACL).
    fn denied(&self, perm: Perm) -> Option<(String, acl::Decision)> {
        self.denied_on(perm, None)
    }

    /// As [`Subject::denied`], for one ref (deny rules then always count).
    fn denied_on(&self, perm: Perm, refname: Option<&str>) -> Option<(String, acl::Decision)> {
        let acl = self.acl.as_ref()?;
        self.repo_names.iter().find_map(|name| {
            let d = acl.decide(name, &self.user, perm, refname);
            (!d.allowed).then(|| (name.clone(), d))
        })
    }

    /// The read gate on the repository name the request path gives (`repo_path`:
    /// the path up to the route suffix), before anything on disk is looked at, so
    /// the reply cannot depend on whether the repository exists.
    pub fn gate_name(&mut self, repo_path: &[u8], env: &Env) -> Result<()> {
        if self.acl.is_none() {
            return Ok(());
        }
        let display = String::from_utf8_lossy(repo_path).into_owned();
        let Some(name) = requested_name(repo_path, env) else {
            return Err(self.not_found(
                &display,
                format!("ACL: no repository name for '{display}' (not UTF-8): denied"),
            ));
        };
        self.repo_names = vec![name];
        self.gate_read(&display)
    }

    /// The read gate once the repository was found: if it resolves (through a
    /// symlink) to another repository under the project root, that one's name
    /// must allow reading too.
    pub fn gate_found(&mut self, repo: &Repo, env: &Env) -> Result<()> {
        if self.acl.is_none() {
            return Ok(());
        }
        if let Some(name) = resolved_name(&repo.git_dir, env)
            && !self.repo_names.contains(&name)
        {
            self.repo_names.push(name);
            return self.gate_read(&repo.display);
        }
        Ok(())
    }

    fn gate_read(&self, display: &str) -> Result<()> {
        match self.denied(Perm::Read) {
            None => Ok(()),
            Some((name, d)) => Err(self.not_found(
                display,
                format!("ACL: {} may not read '{name}': {d}", self.user),
            )),
        }
    }

    /// The write gate (level 1: may the user push to the repository at all?).
    fn gate_write(&self, service: &Service) -> Result<()> {
        match self.denied(Perm::Write) {
            None => Ok(()),
            Some((name, d)) => {
                let mut e =
                    HttpError::forbidden(format!("Service not enabled: '{}'", service.name));
                e.message = format!("ACL: {} may not write to '{name}': {d}", self.user);
                Err(self.refuse(e))
            }
        }
    }
}

/// The ACL name of the repository a request path names: relative to
/// `GIT_PROJECT_ROOT` when set, else the whole path (without its leading `/`);
/// `.git`, `/.git` and slashes at the end removed. `None` if not UTF-8.
pub fn requested_name(repo_path: &[u8], env: &Env) -> Option<String> {
    let rel = match env.get_nonempty("GIT_PROJECT_ROOT") {
        Some(root) => {
            let mut root = root.to_vec();
            if !root.ends_with(b"/") {
                root.push(b'/');
            }
            repo_path.strip_prefix(root.as_slice()).unwrap_or(repo_path)
        }
        None => repo_path,
    };
    std::str::from_utf8(rel).ok().map(acl::repo_name)
}

/// The ACL name of the directory `git_dir` really is (symlinks resolved), if it
/// lies under the (resolved) project root; `None` outside it.
pub fn resolved_name(git_dir: &Path, env: &Env) -> Option<String> {
    let root = match env.get_nonempty("GIT_PROJECT_ROOT") {
        Some(root) => PathBuf::from(crate::os::bytes_to_os(root)),
        None => PathBuf::from("/"),
    };
    let root = std::fs::canonicalize(root).ok()?;
    let dir = std::fs::canonicalize(git_dir).ok()?;
    let rel = dir.strip_prefix(&root).ok()?;
    Some(acl::repo_name(rel.to_str()?))
}

/// Resolves a `service=` name (`git-upload-pack`) to an enabled service, with
/// git-http-backend's 403 reasons, then asks [`authorize`]. With an ACL in force,
/// receive-pack is on unless `http.receivepack` says `false`, and the ACL decides
/// (instead of "on when `REMOTE_USER` is set"); a refusal for want of
/// `REMOTE_USER` (receive-pack without an ACL, upload-archive) becomes a 401
/// challenge when this binary does Basic auth.
pub fn select_service(ctx: &Context, name: &[u8]) -> Result<&'static Service> {
    let shown = String::from_utf8_lossy(name);
    let unsupported = || HttpError::forbidden(format!("Unsupported service: '{shown}'"));
    let bare = name.strip_prefix(b"git-").ok_or_else(unsupported)?;
    let service = Service::by_name(bare).ok_or_else(unsupported)?;
    let subject = &ctx.subject;
    let explicit = (service.setting)(&ctx.config);
    let enabled = explicit.unwrap_or(match service.default_on {
        DefaultOn::Yes => true,
        DefaultOn::No => false,
        // With an ACL, the ACL decides who may push; upload-archive keeps git's rule.
        DefaultOn::IfAuthenticated => {
            (subject.acl.is_some() && service.name == "receive-pack") || !subject.anonymous
        }
    });
    if !enabled {
        let e = HttpError::forbidden(format!("Service not enabled: '{}'", service.name));
        return Err(
            if explicit.is_none() && service.default_on == DefaultOn::IfAuthenticated {
                subject.refuse(e)
            } else {
                e
            },
        );
    }
    authorize(ctx, Access::Service(service))?;
    Ok(service)
}

/// Checks access beyond the service switches. Dumb reads are gated by
/// `http.getanyfile`; with an ACL, reads need `R` on the repository (already
/// checked by the read gate; checked again here for every caller) and
/// receive-pack needs `W`. Git LFS: downloads are reads and follow
/// `http.uploadpack` (on unless set false); uploads and locks are writes and
/// follow `http.receivepack` like a push (see [`lfs_upload`]).
pub fn authorize(ctx: &Context, access: Access) -> Result<()> {
    let subject = &ctx.subject;
    match access {
        Access::DumbRead if !ctx.config.getanyfile => {
            Err(HttpError::forbidden("Unsupported service: getanyfile"))
        }
        Access::Service(svc) if svc.name == "receive-pack" => {
            subject.gate_read(&ctx.repo.display)?;
            subject.gate_write(svc)
        }
        Access::LfsDownload => {
            subject.gate_read(&ctx.repo.display)?;
            if ctx.config.uploadpack == Some(false) {
                return Err(HttpError::forbidden(
                    "Git LFS download refused: http.uploadpack is off",
                ));
            }
            Ok(())
        }
        Access::LfsUpload => {
            subject.gate_read(&ctx.repo.display)?;
            lfs_upload(ctx)
        }
        Access::LfsForceUnlock => {
            subject.gate_read(&ctx.repo.display)?;
            lfs_upload(ctx)?;
            lfs_admin(ctx)
        }
        _ => subject.gate_read(&ctx.repo.display),
    }
}

/// The write gate of a Git LFS upload or lock, as for a push: an explicit
/// `http.receivepack=false` is a 403; unset, an ACL decides (`W` on the
/// repository), and without one a user (`REMOTE_USER`) is needed. A refusal of
/// an anonymous request is a 401 challenge, so git-lfs asks for credentials:
/// with the built-in Basic auth its realm; without it (the web server does the
/// auth and checks credentials when sent, see the shipped configs) realm
/// `GIT_HTTP_AUTH_REALM`, default `Git`.
fn lfs_upload(ctx: &Context) -> Result<()> {
    let subject = &ctx.subject;
    let explicit = ctx.config.receivepack;
    if explicit == Some(false) {
        return Err(HttpError::forbidden(
            "Git LFS upload refused: http.receivepack is off",
        ));
    }
    let refused = if explicit.is_none() && subject.acl.is_none() && subject.anonymous {
        Some("Git LFS upload needs an authenticated user".to_string())
    } else {
        subject
            .denied(Perm::Write)
            .map(|(name, d)| format!("ACL: {} may not write to '{name}': {d}", subject.user))
    };
    let Some(why) = refused else {
        return Ok(());
    };
    let denied = HttpError::forbidden(why.clone());
    if !subject.anonymous {
        return Err(denied);
    }
    if subject.realm.is_some() {
        return Err(subject.refuse(denied));
    }
    let realm = ctx
        .env
        .get_lossy("GIT_HTTP_AUTH_REALM")
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "Git".to_string())
        .replace(['"', '\\'], "");
    Err(HttpError::unauthorized(
        format!("Basic realm=\"{realm}\""),
        why,
    ))
}

/// The names in `GIT_HTTP_LFS_ADMINS` (separated by commas or white space).
fn lfs_admins(env: &Env) -> Vec<String> {
    env.get_lossy("GIT_HTTP_LFS_ADMINS")
        .unwrap_or_default()
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

/// The ref an ACL is asked about for [`lfs_admin`]: no branch or tag, so only a
/// rule for every ref (`RW+ = alice`, no refex, or `refs/.*`) reaches it, and a
/// deny rule for every ref (`- = eve`) counts.
const LFS_ADMIN_REF: &str = "refs/git-http-backend-rs/lfs-admin";

/// May this (authenticated, writing) user remove another user's lock? Yes if
/// named in `GIT_HTTP_LFS_ADMINS`, or if an ACL grants `+` on every ref of the
/// repository (not merely on some: `RW+ wip/ = @all` makes nobody an admin).
fn lfs_admin(ctx: &Context) -> Result<()> {
    let subject = &ctx.subject;
    if !subject.anonymous && lfs_admins(&ctx.env).contains(&subject.user) {
        return Ok(());
    }
    if subject.acl.is_some()
        && !subject.anonymous
        && subject
            .denied_on(Perm::Force, Some(LFS_ADMIN_REF))
            .is_none()
    {
        return Ok(());
    }
    Err(subject.refuse(HttpError::forbidden(format!(
        "Git LFS: {} may not remove another user's lock (needs RW+ on every ref in the ACL \
         or a name in GIT_HTTP_LFS_ADMINS)",
        subject.user
    ))))
}

/// Judges a push's ref updates before receive-pack sees them. Without an ACL
/// every push that reached this point runs; git's own rules (hooks,
/// `receive.deny*`) still apply in the child. With one, see [`push::judge`].
pub fn check_push(ctx: &Context, commands: &CommandList) -> Result<PushPlan> {
    let subject = &ctx.subject;
    let Some(acl) = &subject.acl else {
        return Ok(PushPlan::default());
    };
    push::judge(acl, &subject.repo_names, &subject.user, commands)
}

//! Policy: who may do what, applied between repository resolution and the service.
//!
//! Today this holds git-http-backend's own rules (which services are enabled, and
//! `http.getanyfile`); an ACL file and htpasswd authentication plug in here as
//! further checks of the same [`Access`], and [`check_push`] sees a push's ref
//! updates before git does.

pub mod acl;

use crate::error::{HttpError, Result};
use crate::pktline::CommandList;
use crate::service::{Context, DefaultOn, Service};

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
}

/// Resolves a `service=` name (`git-upload-pack`) to an enabled service, with
/// git-http-backend's 403 reasons.
pub fn select_service(ctx: &Context, name: &[u8]) -> Result<&'static Service> {
    let shown = String::from_utf8_lossy(name);
    let unsupported = || HttpError::forbidden(format!("Unsupported service: '{shown}'"));
    let bare = name.strip_prefix(b"git-").ok_or_else(unsupported)?;
    let service = Service::by_name(bare).ok_or_else(unsupported)?;
    if !service_enabled(ctx, service.name) {
        return Err(HttpError::forbidden(format!(
            "Service not enabled: '{}'",
            service.name
        )));
    }
    authorize(ctx, Access::Service(service))?;
    Ok(service)
}

/// Checks access beyond the service switches (the place for an ACL). Dumb reads
/// are gated by `http.getanyfile`; Git LFS downloads follow `http.uploadpack`
/// (on unless set false) and uploads `http.receivepack` (on when set true, or
/// when unset and `REMOTE_USER` is non-empty), like the git protocol's two
/// directions.
pub fn authorize(ctx: &Context, access: Access) -> Result<()> {
    match access {
        Access::DumbRead if !ctx.config.getanyfile => {
            Err(HttpError::forbidden("Unsupported service: getanyfile"))
        }
        Access::LfsDownload if !service_enabled(ctx, "upload-pack") => Err(HttpError::forbidden(
            "Git LFS download refused: http.uploadpack is off",
        )),
        Access::LfsUpload if !service_enabled(ctx, "receive-pack") => Err(lfs_upload_refusal(ctx)),
        _ => Ok(()),
    }
}

/// Why an LFS upload is refused. Where only a user is missing (`http.receivepack`
/// unset, no `REMOTE_USER`), a 401 with a Basic challenge (realm
/// `GIT_HTTP_AUTH_REALM`, default `Git`): git-lfs then sends credentials, which
/// the web server checks (see the shipped configs); an explicit
/// `http.receivepack=false` is a 403.
fn lfs_upload_refusal(ctx: &Context) -> HttpError {
    if ctx.config.receivepack.is_none() && ctx.env.get_nonempty("REMOTE_USER").is_none() {
        let realm = ctx
            .env
            .get_lossy("GIT_HTTP_AUTH_REALM")
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "Git".to_string())
            .replace(['"', '\\'], "");
        HttpError::new(
            401,
            "Unauthorized",
            "Git LFS upload needs an authenticated user",
        )
        .with_header("WWW-Authenticate", format!("Basic realm=\"{realm}\""))
    } else {
        HttpError::forbidden("Git LFS upload refused: http.receivepack is off")
    }
}

/// Whether the smart service `name` is on for this request, by its `http.*`
/// switch and default.
fn service_enabled(ctx: &Context, name: &str) -> bool {
    let Some(service) = Service::by_name(name.as_bytes()) else {
        return false;
    };
    (service.setting)(&ctx.config).unwrap_or(match service.default_on {
        DefaultOn::Yes => true,
        DefaultOn::No => false,
        DefaultOn::IfAuthenticated => ctx.env.get_nonempty("REMOTE_USER").is_some(),
    })
}

/// Judges a push's ref updates before receive-pack sees them. Without an ACL every
/// push that reached this point is allowed; git's own rules (hooks,
/// `receive.deny*`) still apply in the child.
pub fn check_push(_ctx: &Context, _commands: &CommandList) -> Result<()> {
    Ok(())
}

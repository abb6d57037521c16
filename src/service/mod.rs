//! What a matched request runs: the smart services (git children and their relay)
//! and the dumb-HTTP files.
//!
//! [`SERVICES`] is git-http-backend's table of smart services, as data.

pub mod advertise;
pub mod dumb;
pub mod lfs;
pub mod odb;
pub mod pack_cache;
pub mod refs;
pub mod relay;
pub mod smart;

use crate::config::HttpConfig;
use crate::repo::Repo;
use crate::request::Env;

/// When a smart service is on if its `http.*` setting is not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultOn {
    /// Always.
    Yes,
    /// Never.
    No,
    /// Only when `REMOTE_USER` is non-empty (receive-pack, upload-archive).
    IfAuthenticated,
}

/// One smart service.
#[derive(Debug)]
pub struct Service {
    /// The name without `git-` (`upload-pack`).
    pub name: &'static str,
    /// Its `http.*` setting.
    pub setting: fn(&HttpConfig) -> Option<bool>,
    /// Whether it is on when the setting is absent.
    pub default_on: DefaultOn,
    /// upload-pack's request is read whole (bounded) before git starts.
    pub buffer_input: bool,
    /// Children get `--stateless-rpc` (all but upload-archive).
    pub stateless_rpc: bool,
}

/// git-http-backend's services, in its order.
pub static SERVICES: &[Service] = &[
    Service {
        name: "upload-pack",
        setting: |c| c.uploadpack,
        default_on: DefaultOn::Yes,
        buffer_input: true,
        stateless_rpc: true,
    },
    Service {
        name: "receive-pack",
        setting: |c| c.receivepack,
        default_on: DefaultOn::IfAuthenticated,
        buffer_input: false,
        stateless_rpc: true,
    },
    Service {
        name: "upload-archive",
        setting: |c| c.uploadarchive,
        // git's table: `{ "upload-archive", ..., 0, 1 }` like receive-pack, so on
        // for an authenticated user when `http.uploadarchive` is unset.
        default_on: DefaultOn::IfAuthenticated,
        buffer_input: false,
        stateless_rpc: false,
    },
];

impl Service {
    /// Looks a service up by its name without `git-`.
    pub fn by_name(name: &[u8]) -> Option<&'static Service> {
        SERVICES.iter().find(|s| s.name.as_bytes() == name)
    }
}

/// Everything a handler needs about one request, after routing and resolution.
pub struct Context {
    /// The request environment (children get it, plus committer defaults).
    pub env: Env,
    /// The repository.
    pub repo: Repo,
    /// Its `http.*` settings.
    pub config: HttpConfig,
    /// The repository's whole merged git config, as read for `config`.
    pub git_config: gix_config::File,
    /// The effective max request buffer (`GIT_HTTP_MAX_REQUEST_BUFFER` or config).
    pub max_request_buffer: u64,
    /// The matched route suffix without its leading `/` (`info/refs`).
    pub arg: Vec<u8>,
    /// The overload limiter's gate, entered right before a git child starts.
    pub gate: crate::limiter::Gate,
    /// Who asks, and the ACL that judges them (see [`crate::policy`]).
    pub subject: crate::policy::Subject,
}

impl Context {
    /// The decoded `QUERY_STRING` parameter `name` (the last one wins).
    pub fn query_param(&self, name: &str) -> Option<Vec<u8>> {
        let query = self.env.get("QUERY_STRING").unwrap_or_default();
        crate::handler::query_param(query, name)
    }
}

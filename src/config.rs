//! The `http.*` settings of a repository, read in-process as git reads them.
//!
//! STUB: filled in by the config work (gix-config).

use crate::error::Result;
use crate::request::Env;
use std::path::Path;

/// git-http-backend's settings for one repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// `http.getanyfile` (default true): gates every dumb route.
    pub getanyfile: bool,
    /// `http.uploadpack` (None: not set, default on).
    pub uploadpack: Option<bool>,
    /// `http.receivepack` (None: not set, default on iff REMOTE_USER is non-empty).
    pub receivepack: Option<bool>,
    /// `http.uploadarchive` (None: not set, default off).
    pub uploadarchive: Option<bool>,
    /// `http.maxrequestbuffer` in bytes (None: not set).
    pub max_request_buffer: Option<u64>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            getanyfile: true,
            uploadpack: None,
            receivepack: None,
            uploadarchive: None,
            max_request_buffer: None,
        }
    }
}

/// Reads the settings for the repository whose git directory is `git_dir`, from the
/// system, global and repository config files and the `GIT_CONFIG_*` variables of
/// `env`. A malformed value is an internal error, as in git.
pub fn load(_git_dir: &Path, _env: &Env) -> Result<HttpConfig> {
    Ok(HttpConfig::default())
}

/// True if `git_dir` (already canonical) is listed by `safe.directory` in the
/// protected config (system, global, command line) of `env`.
pub fn is_safe_directory(_git_dir: &Path, _env: &Env) -> bool {
    false
}

//! Built-in HTTP Basic authentication against an Apache htpasswd file.
//!
//! On when `GIT_HTTP_AUTH_FILE` names a file (environment, FastCGI param, or the
//! daemon's base environment); the challenge realm is `GIT_HTTP_AUTH_REALM`
//! (default [`DEFAULT_REALM`]). [`authenticate`] runs once per request, before any
//! repository is looked at:
//!
//! - `REMOTE_USER` already set by the web server: trusted, `Authorization` ignored.
//! - no `Authorization`: the request stays anonymous (the ACL, or git-http-backend's
//!   rules, decide what anonymous may do; a refusal becomes a 401 challenge).
//! - valid `Authorization: Basic`: `REMOTE_USER` (and `AUTH_TYPE=Basic`) are set,
//!   exactly as if the web server had authenticated the request.
//! - anything else: 401 with `WWW-Authenticate`.
//!
//! Accepted hashes: bcrypt (`$2y$`, `$2a$`, `$2b$`), apr1 (`$apr1$`), SHA-256 and
//! SHA-512 crypt (`$5$`, `$6$`) and `{SHA}`; plain-text and DES-crypt entries are
//! refused (logged when the file is read). The file is re-read when its size,
//! modification time or inode change; an unreadable or malformed file fails closed
//! (every request that carries credentials gets a 500; one log line per change).
//! Successful checks are remembered for [`CACHE_TTL`] under a keyed SHA-256 of
//! `user:password` (never the password), so a resident server (FastCGI, `serve`)
//! pays for bcrypt once a minute per user, not per request; the memory is dropped
//! whenever the file changes. `HTTP_AUTHORIZATION` never reaches git or its hooks.
//!
//! ```
//! use git_http_backend_rs::policy::auth::Htpasswd;
//! let file = Htpasswd::parse("# users\nalice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n").unwrap();
//! assert!(file.verify("alice", b"secret").unwrap());
//! assert!(!file.verify("alice", b"wrong").unwrap());
//! assert!(!file.verify("bob", b"secret").unwrap());
//! ```

use crate::error::{HttpError, Result};
use crate::request::Env;
use base64::Engine;
use sha2::Digest;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// The realm when `GIT_HTTP_AUTH_REALM` is not set.
pub const DEFAULT_REALM: &str = "Git";

/// How long a successful check is remembered.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

/// At most this many remembered checks per file (then the oldest half is dropped).
const CACHE_MAX: usize = 10_000;

/// How one htpasswd entry is hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashKind {
    /// `$2y$`, `$2a$`, `$2b$`.
    Bcrypt,
    /// `$apr1$` (Apache's MD5 crypt).
    Apr1,
    /// `$5$` (SHA-256 crypt).
    Sha256Crypt,
    /// `$6$` (SHA-512 crypt).
    Sha512Crypt,
    /// `{SHA}` + base64 of SHA-1.
    Sha1,
    /// Anything else: plain text or DES crypt; never accepted.
    Refused,
}

impl HashKind {
    /// Recognises the hash by its prefix.
    pub fn of(hash: &str) -> HashKind {
        if ["$2y$", "$2a$", "$2b$"].iter().any(|p| hash.starts_with(p)) {
            HashKind::Bcrypt
        } else if hash.starts_with("$apr1$") {
            HashKind::Apr1
        } else if hash.starts_with("$5$") {
            HashKind::Sha256Crypt
        } else if hash.starts_with("$6$") {
            HashKind::Sha512Crypt
        } else if hash.starts_with("{SHA}") {
            HashKind::Sha1
        } else {
            HashKind::Refused
        }
    }
}

/// A parsed htpasswd file: user -> hash (the first line for a user wins, as in
/// Apache's mod_authn_file).
#[derive(Debug, Default)]
pub struct Htpasswd {
    users: HashMap<String, String>,
    /// Users whose entries are refused (plain text, DES), for the log.
    pub refused: Vec<String>,
}

/// A bcrypt hash (cost 5, htpasswd -B's default) checked for unknown users, so
/// that a missing user costs about as much time as a wrong password.
const DUMMY_BCRYPT: &str = "$2y$05$Rc6vKbNem43F.I/IBW4YIOAXPuR9kOhyzP/kNU4AGD4LEKC2ejpm6";

impl Htpasswd {
    /// Parses htpasswd text: `user:hash` lines; blank lines and lines starting
    /// with `#` are skipped; anything after a second `:` is ignored (as Apache
    /// does). A non-blank line without `:` or with an empty user is an error
    /// naming its line.
    pub fn parse(text: &str) -> std::result::Result<Htpasswd, String> {
        let mut out = Htpasswd::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, rest)) = line.split_once(':') else {
                return Err(format!("line {}: no ':' between user and hash", n + 1));
            };
            if user.is_empty() {
                return Err(format!("line {}: empty user name", n + 1));
            }
            let hash = rest.split(':').next().unwrap_or_default();
            if out.users.contains_key(user) {
                continue;
            }
            if HashKind::of(hash) == HashKind::Refused {
                out.refused.push(user.to_string());
            }
            out.users.insert(user.to_string(), hash.to_string());
        }
        Ok(out)
    }

    /// True if `user` is in the file with a supported hash that `password`
    /// matches. `Err` for a hash that is malformed for its kind.
    pub fn verify(&self, user: &str, password: &[u8]) -> std::result::Result<bool, String> {
        let Some(hash) = self.users.get(user) else {
            let _ = bcrypt::verify(password, DUMMY_BCRYPT);
            return Ok(false);
        };
        verify_hash(hash, password).map_err(|e| format!("entry for user '{user}': {e}"))
    }

    /// How many users the file names.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True if the file names no user.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// Checks `password` against one htpasswd hash, in constant time where the
/// comparison is ours.
pub fn verify_hash(hash: &str, password: &[u8]) -> std::result::Result<bool, String> {
    use sha_crypt::PasswordVerifier;
    match HashKind::of(hash) {
        HashKind::Bcrypt => bcrypt::verify(password, hash).map_err(|e| format!("bcrypt: {e}")),
        HashKind::Apr1 => Ok(crypt3_rs::crypt::apr1::verify(password, hash)),
        HashKind::Sha256Crypt | HashKind::Sha512Crypt => {
            match sha_crypt::ShaCrypt::default().verify_password(password, hash) {
                Ok(()) => Ok(true),
                Err(sha_crypt::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(e) => Err(format!("SHA crypt: {e}")),
            }
        }
        HashKind::Sha1 => {
            let want = base64::engine::general_purpose::STANDARD
                .decode(&hash[5..])
                .map_err(|e| format!("{{SHA}}: {e}"))?;
            let got = sha1::Sha1::digest(password);
            Ok(want.len() == got.len() && bool::from(want.as_slice().ct_eq(got.as_slice())))
        }
        HashKind::Refused => Ok(false),
    }
}

/// The settings of the built-in auth, when it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The htpasswd file.
    pub file: PathBuf,
    /// The realm of the challenge.
    pub realm: String,
}

/// The built-in auth's settings from the request environment (`None`: off).
pub fn settings(env: &Env) -> Option<Settings> {
    let file = env.get_nonempty("GIT_HTTP_AUTH_FILE")?;
    let realm = env
        .get_nonempty("GIT_HTTP_AUTH_REALM")
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .unwrap_or_else(|| DEFAULT_REALM.to_string());
    Some(Settings {
        file: PathBuf::from(crate::os::bytes_to_os(file)),
        realm,
    })
}

/// The `WWW-Authenticate` value for `realm` (quotes and backslashes escaped).
pub fn challenge(realm: &str) -> String {
    let escaped = realm.replace('\\', "\\\\").replace('"', "\\\"");
    format!("Basic realm=\"{escaped}\", charset=\"UTF-8\"")
}

/// What an `Authorization` header holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Basic` with a user (valid UTF-8, no `:`) and a password.
    Basic {
        /// The user name.
        user: String,
        /// The password bytes.
        password: Vec<u8>,
    },
    /// Another scheme, bad base64, no `:`, or a user name that is not UTF-8.
    Unusable(&'static str),
}

/// Parses an `Authorization` header value.
pub fn parse_authorization(value: &[u8]) -> Credentials {
    let value = value.trim_ascii();
    let Some(space) = value.iter().position(|&b| b == b' ') else {
        return Credentials::Unusable("not Basic");
    };
    if !value[..space].eq_ignore_ascii_case(b"basic") {
        return Credentials::Unusable("not Basic");
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(value[space..].trim_ascii())
    else {
        return Credentials::Unusable("bad base64");
    };
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return Credentials::Unusable("no ':' in the credentials");
    };
    let Ok(user) = String::from_utf8(decoded[..colon].to_vec()) else {
        return Credentials::Unusable("user name not UTF-8");
    };
    if user.is_empty() {
        return Credentials::Unusable("empty user name");
    }
    Credentials::Basic {
        user,
        password: decoded[colon + 1..].to_vec(),
    }
}

/// A 401 with the challenge for `realm`; `message` is logged (empty: nothing).
pub fn unauthorized(realm: &str, message: impl Into<String>) -> HttpError {
    HttpError::unauthorized(challenge(realm), message)
}

/// Identifies a version of a file (see [`crate::os::FileStamp`]).
type Stamp = Option<crate::os::FileStamp>;

/// One version of a file as read, with the checks that passed against it.
struct Loaded {
    file: std::result::Result<Htpasswd, String>,
    passed: Mutex<HashMap<[u8; 32], Instant>>,
}

struct Entry {
    stamp: Stamp,
    loaded: Arc<Loaded>,
}

fn files() -> &'static Mutex<HashMap<PathBuf, Entry>> {
    static FILES: OnceLock<Mutex<HashMap<PathBuf, Entry>>> = OnceLock::new();
    FILES.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The current version of `path` (re-read when it changed; the change is logged).
fn load(path: &Path) -> Arc<Loaded> {
    let mut map = files().lock().unwrap_or_else(|p| p.into_inner());
    let now = crate::os::file_stamp(path);
    if let Some(entry) = map.get(path)
        && entry.stamp == now
        && now.is_some()
    {
        return entry.loaded.clone();
    }
    let file = std::fs::read(path)
        .map_err(|e| format!("cannot read: {e}"))
        .and_then(|bytes| String::from_utf8(bytes).map_err(|_| "not UTF-8".to_string()))
        .and_then(|text| Htpasswd::parse(&text));
    match &file {
        Ok(f) => {
            for user in &f.refused {
                log::warn!(
                    "htpasswd {}: entry for user '{user}' is plain text or DES crypt: refused \
                     (use htpasswd -B)",
                    path.display()
                );
            }
            log::debug!("htpasswd {}: {} users", path.display(), f.len());
        }
        Err(e) => log::error!(
            "htpasswd {}: {e} (denying every request with credentials until it is fixed)",
            path.display()
        ),
    }
    let loaded = Arc::new(Loaded {
        file,
        passed: Mutex::new(HashMap::new()),
    });
    map.insert(
        path.to_path_buf(),
        Entry {
            stamp: now,
            loaded: loaded.clone(),
        },
    );
    loaded
}

/// The per-process random key of the check cache.
fn cache_key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut key = [0u8; 32];
        if let Err(e) = getrandom::fill(&mut key) {
            // Without randomness the cache would still never hold a password,
            // but its keys would be guessable offline: run without it.
            log::error!("no random key for the credential cache ({e}); not caching");
        }
        key
    })
}

fn cache_id(user: &str, password: &[u8]) -> Option<[u8; 32]> {
    let key = cache_key();
    if key.iter().all(|&b| b == 0) {
        return None;
    }
    let mut h = sha2::Sha256::new();
    h.update(key);
    h.update((user.len() as u64).to_le_bytes());
    h.update(user.as_bytes());
    h.update(b":");
    h.update(password);
    Some(h.finalize().into())
}

/// Outcome of checking credentials against a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Valid (and whether the answer came from the cache).
    Valid {
        /// True if remembered from an earlier check.
        cached: bool,
    },
    /// Wrong user or password.
    Invalid,
    /// The file is unreadable or malformed (already logged).
    Broken,
}

/// Checks `user`/`password` against the htpasswd file at `path`, through the
/// cache of recent successful checks.
pub fn check(path: &Path, user: &str, password: &[u8]) -> Check {
    let loaded = load(path);
    let file = match &loaded.file {
        Ok(f) => f,
        Err(_) => return Check::Broken,
    };
    let id = cache_id(user, password);
    if let Some(id) = id {
        let passed = loaded.passed.lock().unwrap_or_else(|p| p.into_inner());
        if passed.get(&id).is_some_and(|t| t.elapsed() < CACHE_TTL) {
            return Check::Valid { cached: true };
        }
    }
    match file.verify(user, password) {
        Ok(true) => {
            if let Some(id) = id {
                let mut passed = loaded.passed.lock().unwrap_or_else(|p| p.into_inner());
                if passed.len() >= CACHE_MAX {
                    passed.retain(|_, t| t.elapsed() < CACHE_TTL);
                    if passed.len() >= CACHE_MAX {
                        passed.clear();
                    }
                }
                passed.insert(id, Instant::now());
            }
            Check::Valid { cached: false }
        }
        Ok(false) => Check::Invalid,
        Err(e) => {
            log::warn!("htpasswd {}: {e}", path.display());
            Check::Invalid
        }
    }
}

/// Applies the built-in auth to a request (see the module doc). Always removes
/// `HTTP_AUTHORIZATION` from `env`, so credentials never reach git or its hooks.
pub fn authenticate(env: &mut Env) -> Result<()> {
    let header = env.get("HTTP_AUTHORIZATION").map(<[u8]>::to_vec);
    env.remove("HTTP_AUTHORIZATION");
    let Some(settings) = settings(env) else {
        return Ok(());
    };
    if env.get_nonempty("REMOTE_USER").is_some() {
        return Ok(());
    }
    let Some(header) = header else {
        return Ok(());
    };
    let (user, password) = match parse_authorization(&header) {
        Credentials::Basic { user, password } => (user, password),
        Credentials::Unusable(why) => {
            return Err(unauthorized(
                &settings.realm,
                format!("authentication failed: Authorization header {why}"),
            ));
        }
    };
    match check(&settings.file, &user, &password) {
        Check::Valid { .. } => {
            env.set("REMOTE_USER", &user);
            env.set("AUTH_TYPE", "Basic");
            Ok(())
        }
        Check::Invalid => Err(unauthorized(
            &settings.realm,
            format!("authentication failed for user '{user}'"),
        )),
        // Logged once when the file was read.
        Check::Broken => Err(HttpError::die("")),
    }
}

#[cfg(test)]
mod tests;

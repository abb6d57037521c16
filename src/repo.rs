//! Finding the repository: the path from `GIT_PROJECT_ROOT` + `PATH_INFO` (or
//! `PATH_TRANSLATED`), aliased-path rejection, git's suffix tries, gitfiles,
//! ownership (`safe.directory`) and `git-daemon-export-ok`.
//!
//! ```
//! use git_http_backend_rs::repo::is_aliased;
//! assert!(!is_aliased(b"/r.git/info/refs"));
//! assert!(is_aliased(b"/r.git/../x/info/refs"));
//! assert!(!is_aliased(b"/.../info/refs"));
//! ```

use crate::error::{HttpError, Result};
use crate::request::Env;
use std::fs;
use std::path::{Path, PathBuf};

/// git's `daemon_avoid_alias`: true if the path must be refused.
pub fn is_aliased(p: &[u8]) -> bool {
    match p.first() {
        Some(b'/') | Some(b'~') => {}
        _ => return true,
    }
    let mut after_slash = true;
    let mut dots = 0;
    for &ch in p[1..].iter().chain(std::iter::once(&0u8)) {
        if after_slash {
            match ch {
                b'.' => dots += 1,
                b'/' => {
                    if dots < 3 {
                        return true;
                    }
                    dots = 0;
                }
                0 => return dots > 0 && dots < 3,
                _ => {
                    after_slash = false;
                    dots = 0;
                }
            }
        } else if ch == 0 {
            return false;
        } else if ch == b'/' {
            after_slash = true;
            dots = 0;
        }
    }
    false
}

/// The request path: `GIT_PROJECT_ROOT` joined with `PATH_INFO`, else
/// `PATH_TRANSLATED` as is.
pub fn request_path(env: &Env) -> Result<Vec<u8>> {
    if let Some(root) = env.get_nonempty("GIT_PROJECT_ROOT") {
        let info = env
            .get_nonempty("PATH_INFO")
            .ok_or_else(|| HttpError::die("GIT_PROJECT_ROOT is set but PATH_INFO is not"))?;
        if is_aliased(info) {
            return Err(HttpError::die(format!(
                "'{}': aliased",
                String::from_utf8_lossy(info)
            )));
        }
        if cfg!(windows)
            && let Some(why) = crate::winpath::refusal(info)
        {
            return Err(HttpError::not_found(format!(
                "'{}': refused on Windows: {why}",
                String::from_utf8_lossy(info)
            )));
        }
        let mut path = root.to_vec();
        if !path.ends_with(b"/") {
            path.push(b'/');
        }
        path.extend_from_slice(info.strip_prefix(b"/").unwrap_or(info));
        Ok(path)
    } else if let Some(translated) = env.get_nonempty("PATH_TRANSLATED") {
        Ok(translated.to_vec())
    } else {
        Err(HttpError::die(
            "No GIT_PROJECT_ROOT or PATH_TRANSLATED from server",
        ))
    }
}

/// A repository that was found, is ours to serve, and may be exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// The git directory (absolute when the request path was).
    pub git_dir: PathBuf,
    /// The object directory: `GIT_OBJECT_DIRECTORY`, else `objects` of the common
    /// directory (a linked worktree shares its main repository's objects).
    pub objects_dir: PathBuf,
    /// The path as the request named it, for messages.
    pub display: String,
}

fn os_path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(crate::os::bytes_to_os(bytes))
}

/// The result of a file system call where an ordinary failure means "no" (git's
/// checks just fail) but running out of resources must not: it becomes a 503.
fn soft<T>(path: &Path, what: &str, r: std::io::Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if crate::resources::is_exhaustion(&e) => Err(crate::resources::unavailable(
            &format!("{what} '{}'", path.display()),
            &e,
        )),
        Err(_) => Ok(None),
    }
}

fn validate_headref(path: &Path) -> Result<bool> {
    let Some(meta) = soft(path, "looking at", fs::symlink_metadata(path))? else {
        return Ok(false);
    };
    if meta.file_type().is_symlink() {
        return Ok(soft(path, "reading the link", fs::read_link(path))?
            .is_some_and(|t| crate::os::os_to_bytes(t.into_os_string()).starts_with(b"refs/")));
    }
    let Some(data) = soft(path, "reading", fs::read(path))? else {
        return Ok(false);
    };
    let data = &data[..data.len().min(255)];
    if let Some(rest) = data.strip_prefix(b"ref:") {
        let rest = rest.trim_ascii_start();
        if rest.starts_with(b"refs/") {
            return Ok(true);
        }
    }
    let hex_len = data.iter().take_while(|c| c.is_ascii_hexdigit()).count();
    Ok((hex_len == 40 || hex_len == 64)
        && data.get(hex_len).is_none_or(|c| c.is_ascii_whitespace()))
}

fn common_dir(dir: &Path) -> PathBuf {
    match fs::read(dir.join("commondir")) {
        Ok(data) => {
            let text = crate::os::bytes_to_os(data.trim_ascii_end());
            let p = PathBuf::from(text);
            if p.is_absolute() { p } else { dir.join(p) }
        }
        Err(_) => dir.to_path_buf(),
    }
}

fn is_searchable_dir(path: &Path) -> Result<bool> {
    Ok(soft(path, "looking at", fs::metadata(path))?.is_some_and(|m| m.is_dir()))
}

/// git's `is_git_directory`: a valid HEAD, an object directory and `refs`. Running
/// out of file descriptors or memory while looking is an error (503), not "no".
pub fn is_git_directory(dir: &Path, env: &Env) -> Result<bool> {
    if !validate_headref(&dir.join("HEAD"))? {
        return Ok(false);
    }
    let common = common_dir(dir);
    let objects = match env.get_nonempty("GIT_OBJECT_DIRECTORY") {
        Some(p) => os_path(p),
        None => common.join("objects"),
    };
    Ok(is_searchable_dir(&objects)? && is_searchable_dir(&common.join("refs"))?)
}

/// The largest gitfile git reads (`read_gitfile_gently`'s `max_file_size`).
const MAX_GITFILE: u64 = 1 << 20;

/// Reads a gitfile (`gitdir: <path>`); errors are git's, as internal errors.
fn read_gitfile(file: &Path) -> Result<PathBuf> {
    use std::io::Read;
    let shown = file.display();
    let fail = |e: std::io::Error, what: &str| {
        if crate::resources::is_exhaustion(&e) {
            crate::resources::unavailable(&format!("reading '{shown}'"), &e)
        } else {
            HttpError::die(format!("error {what} '{shown}': {e}"))
        }
    };
    let mut f = fs::File::open(file).map_err(|e| fail(e, "opening"))?;
    // As git: a file over 1 MiB is refused before it is read (and at most that much
    // is read, whatever the size claims), so a large file where a repository is
    // looked for costs no memory.
    let too_large = || HttpError::die(format!("too large to be a .git file: '{shown}'"));
    if f.metadata().is_ok_and(|m| m.len() > MAX_GITFILE) {
        return Err(too_large());
    }
    let mut data = Vec::new();
    (&mut f)
        .take(MAX_GITFILE + 1)
        .read_to_end(&mut data)
        .map_err(|e| fail(e, "reading"))?;
    if data.len() as u64 > MAX_GITFILE {
        return Err(too_large());
    }
    let rest = data
        .strip_prefix(b"gitdir: ")
        .ok_or_else(|| HttpError::die(format!("invalid gitfile format: {shown}")))?;
    let rest = rest.trim_ascii_end();
    if rest.is_empty() {
        return Err(HttpError::die(format!("no path in gitfile: {shown}")));
    }
    let target = os_path(rest);
    let target = if target.is_absolute() {
        target
    } else {
        file.parent().unwrap_or(Path::new(".")).join(target)
    };
    Ok(target)
}

/// git's `is_path_owned_by_current_uid`: `lstat`, so a symbolic link is judged by
/// its own owner, not its target's.
fn owned_by_us(path: &Path, env: &Env) -> Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Some(meta) = soft(path, "looking at", fs::symlink_metadata(path))? else {
            return Ok(false);
        };
        let mut euid = crate::os::effective_uid();
        if euid == 0
            && let Some(uid) = env.get_str("SUDO_UID").and_then(|s| s.parse().ok())
        {
            euid = uid;
        }
        Ok(meta.uid() == euid)
    }
    #[cfg(not(unix))]
    {
        let _ = (path, env);
        Ok(true)
    }
}

fn env_bool(env: &Env, name: &str) -> bool {
    match env.get_str(name).map(|s| s.to_ascii_lowercase()) {
        Some(v) => matches!(v.as_str(), "1" | "true" | "yes" | "on"),
        None => false,
    }
}

/// git's ownership rule: the repository must belong to us, or be listed by
/// `safe.directory`; otherwise an internal error with git's message.
fn check_ownership(found: &Path, gitfile_target: Option<&Path>, env: &Env) -> Result<()> {
    let assume_other = env_bool(env, "GIT_TEST_ASSUME_DIFFERENT_OWNER");
    let ours = !assume_other
        && match gitfile_target {
            Some(t) => owned_by_us(t, env)?,
            None => true,
        }
        && owned_by_us(found, env)?;
    if ours {
        return Ok(());
    }
    let path = gitfile_target.unwrap_or(found);
    let canonical = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if crate::config::is_safe_directory(&canonical, env) {
        return Ok(());
    }
    Err(HttpError::die(format!(
        "detected dubious ownership in repository at '{p}'\n\
         To add an exception for this directory, call:\n\n\
         \tgit config --global --add safe.directory {q}",
        p = path.display(),
        q = quote_pretty(&path.to_string_lossy())
    )))
}

/// git's `sq_quote_buf_pretty`: bare if every byte is alphanumeric or one of
/// `+,-./:=@_^`, else single-quoted with `'` escaped.
fn quote_pretty(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+,-./:=@_^".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Windows: true if `found` (under `GIT_PROJECT_ROOT`) was reached through
/// another case than its name on disk (NTFS matches names without case, so
/// `SECRET.GIT` opens `secret.git`, past rules that name `secret.git`).
fn spelled_otherwise(found: &Path, env: &Env) -> bool {
    let Some(root) = env.get_nonempty("GIT_PROJECT_ROOT") else {
        return false;
    };
    let root = os_path(root);
    let (Ok(canon_root), Ok(canon_found)) = (fs::canonicalize(&root), fs::canonicalize(found))
    else {
        return false;
    };
    match (
        found.strip_prefix(&root),
        canon_found.strip_prefix(&canon_root),
    ) {
        (Ok(asked), Ok(disk)) => {
            crate::winpath::case_differs(&asked.to_string_lossy(), &disk.to_string_lossy())
        }
        _ => false,
    }
}

/// git's `enter_repo` (non-strict) on the repository part of the request path,
/// followed by the export check.
pub fn find(path: &[u8], env: &Env) -> Result<Repo> {
    let display = String::from_utf8_lossy(path).into_owned();
    let not_found = || HttpError::not_found(format!("Not a git repository: '{display}'"));
    let mut len = path.len();
    while len > 1 && path[len - 1] == b'/' {
        len -= 1;
    }
    if len >= 4096 {
        return Err(not_found());
    }
    let base = &path[..len];
    let mut found = None;
    for suffix in ["/.git", "", ".git/.git", ".git"] {
        let mut candidate = base.to_vec();
        candidate.extend_from_slice(suffix.as_bytes());
        let candidate = os_path(&candidate);
        if let Some(meta) = soft(&candidate, "looking at", fs::metadata(&candidate))?
            && (meta.is_file() || (meta.is_dir() && is_git_directory(&candidate, env)?))
        {
            found = Some((candidate, meta.is_file()));
            break;
        }
    }
    let (found, is_file) = found.ok_or_else(not_found)?;
    let gitfile_target = if is_file {
        let target = read_gitfile(&found)?;
        if !is_git_directory(&target, env)? {
            return Err(HttpError::die(format!(
                "not a git repository: {}",
                target.display()
            )));
        }
        Some(target)
    } else {
        None
    };
    check_ownership(&found, gitfile_target.as_deref(), env)?;
    if cfg!(windows) && spelled_otherwise(&found, env) {
        return Err(HttpError::not_found(format!(
            "'{display}': refused on Windows: spelled otherwise on disk (case)"
        )));
    }
    // A gitfile's target was checked above, a directory in the suffix loop.
    let git_dir = gitfile_target.unwrap_or(found);
    // enter_repo's check_repository_format: before the export check, as in git.
    crate::repo_format::check(&git_dir)?;
    let export_ok = git_dir.join("git-daemon-export-ok");
    if !env.contains("GIT_HTTP_EXPORT_ALL")
        && soft(&export_ok, "looking at", fs::metadata(&export_ok))?.is_none()
    {
        return Err(HttpError::not_found(format!(
            "Repository not exported: '{display}'"
        )));
    }
    let objects_dir = match env.get_nonempty("GIT_OBJECT_DIRECTORY") {
        Some(p) => git_dir.join(os_path(p)),
        None => common_dir(&git_dir).join("objects"),
    };
    Ok(Repo {
        git_dir,
        objects_dir,
        display,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal bare repository `name` under a fresh root.
    fn bare(name: &str) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let r = root.path().join(name);
        fs::create_dir_all(r.join("objects")).unwrap();
        fs::create_dir_all(r.join("refs")).unwrap();
        fs::write(r.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        root
    }

    fn find_under(root: &Path, info: &str) -> Result<Repo> {
        let env = Env::from_pairs([
            ("GIT_PROJECT_ROOT", root.to_str().unwrap()),
            ("PATH_INFO", info),
            ("GIT_HTTP_EXPORT_ALL", "1"),
        ]);
        let path = request_path(&env)?;
        let repo_part = path.strip_suffix(b"/HEAD").unwrap_or(&path);
        find(repo_part, &env)
    }

    #[test]
    fn windows_spellings_of_a_repository_are_not_found() {
        // On Windows each of these would open Secret.git (or a device); on Linux
        // they name other, missing files. Either way: 404.
        let root = bare("Secret.git");
        assert!(find_under(root.path(), "/Secret.git/HEAD").is_ok());
        for other in [
            "/secret.git/HEAD",
            "/SECRET.GIT/HEAD",
            "/Secret.git./HEAD",
            "/Secret.git /HEAD",
            "/SECRET~1.GIT/HEAD",
            "/Secret.git::$DATA/HEAD",
            "/nul/HEAD",
        ] {
            let e = find_under(root.path(), other).expect_err(other);
            assert!(!e.is_internal(), "{other}: {e:?}");
            if cfg!(windows) {
                assert!(format!("{e:?}").contains("refused on Windows"), "{e:?}");
            }
        }
    }

    #[test]
    fn windows_separators_do_not_walk_past_the_alias_check() {
        let root = bare("Secret.git");
        fs::create_dir_all(root.path().join("pub")).unwrap();
        let r = find_under(root.path(), "/pub\\..\\Secret.git/HEAD");
        if cfg!(windows) {
            let e = r.expect_err("backslash walk");
            assert!(!e.is_internal(), "{e:?}");
        } else {
            // On Linux `pub\..\Secret.git` is one (missing) file name.
            assert!(r.is_err());
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn exhaustion_is_not_a_missing_repository() {
        let p = Path::new("/srv/r.git/HEAD");
        for errno in [24, 23, 12] {
            let e = soft::<()>(p, "reading", Err(std::io::Error::from_raw_os_error(errno)))
                .unwrap_err();
            assert_eq!((e.status, e.retry_after), (503, Some(5)), "errno {errno}");
        }
        let missing = soft::<()>(p, "reading", Err(std::io::ErrorKind::NotFound.into()));
        assert!(matches!(missing, Ok(None)));
    }

    #[test]
    fn alias_rules() {
        for bad in [
            &b""[..],
            b"r.git",
            b"//r",
            b"/a//b",
            b"/a/./b",
            b"/a/../b",
            b"/a/.",
            b"/a/..",
            b"/.",
            b"/..",
            b"~/../x",
        ] {
            assert!(is_aliased(bad), "{:?}", String::from_utf8_lossy(bad));
        }
        for good in [
            &b"/"[..],
            b"/a",
            b"/a/...",
            b"/.../b",
            b"/a.b/c",
            b"/.git",
            b"~user/r",
            b"/a/.hidden",
        ] {
            assert!(!is_aliased(good), "{:?}", String::from_utf8_lossy(good));
        }
    }

    #[test]
    fn request_path_rules() {
        let env = Env::from_pairs([("GIT_PROJECT_ROOT", "/srv"), ("PATH_INFO", "/r.git/HEAD")]);
        assert_eq!(request_path(&env).unwrap(), b"/srv/r.git/HEAD");
        let env = Env::from_pairs([("GIT_PROJECT_ROOT", "/srv/"), ("PATH_INFO", "/r.git/HEAD")]);
        assert_eq!(request_path(&env).unwrap(), b"/srv/r.git/HEAD");
        let env = Env::from_pairs([("GIT_PROJECT_ROOT", "/srv")]);
        assert_eq!(request_path(&env).unwrap_err().status, 500);
        let env = Env::from_pairs([("PATH_TRANSLATED", "/x/y/HEAD")]);
        assert_eq!(request_path(&env).unwrap(), b"/x/y/HEAD");
        assert_eq!(request_path(&Env::new()).unwrap_err().status, 500);
        let env = Env::from_pairs([("GIT_PROJECT_ROOT", "/srv"), ("PATH_INFO", "/a/../b")]);
        assert_eq!(
            request_path(&env).unwrap_err().log_line(),
            "fatal: '/a/../b': aliased"
        );
    }

    #[test]
    fn a_huge_file_where_a_repository_is_looked_for_is_not_read() {
        // An 8 GiB sparse file named like a repository: refused from its size,
        // before any of it is read (it used to be read whole into memory).
        let dir = std::env::temp_dir().join(format!("ghb-gitfile-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.git");
        fs::File::create(&big).unwrap().set_len(8 << 30).unwrap();
        let started = std::time::Instant::now();
        let e = find(big.to_str().unwrap().as_bytes(), &Env::new()).unwrap_err();
        assert!(
            e.log_line().contains("too large to be a .git file"),
            "{}",
            e.log_line()
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        fs::remove_dir_all(&dir).unwrap();
    }
}

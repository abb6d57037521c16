//! A cache of `git pack-objects` output for clone storms (after GitLab's Gitaly).
//!
//! When `GIT_HTTP_PACK_CACHE=DIR` is set, upload-pack children run with
//! `-c uploadpack.packObjectsHook=<this binary> pack-objects-hook`, so git starts
//! `<this binary> pack-objects-hook git pack-objects ARGS` with the negotiation on
//! stdin instead of `git pack-objects` itself. [`hook_main`] then:
//!
//! - keys the request by SHA-256 of the arguments, the stdin, and the repository
//!   state the pack can depend on (every ref, `packed-refs`, the list of packs,
//!   `shallow`);
//! - serves a finished `DIR/<key>.pack` whole (a hit);
//! - else, if nobody is writing `DIR/<key>.part`, creates it (made and locked under
//!   a name of its own, then hard-linked into place, so it never appears unlocked;
//!   the lock is held while writing), runs `git pack-objects`, and tees its output
//!   to the client and the file; on success the file is renamed to `<key>.pack`
//!   (atomic), on failure it is removed;
//! - else follows the growing `.part` file, streaming what is there and waiting for
//!   more, until the writer renamed it. A writer that died (its lock is free and no
//!   `.pack` appeared) is detected: a follower that has sent nothing yet starts over
//!   (and becomes the writer), one that already sent part of a pack exits non-zero,
//!   so upload-pack reports an error to the client: never a truncated pack.
//!
//! Bounded: finished packs older than `GIT_HTTP_PACK_CACHE_MAX_AGE` seconds (default
//! 300) are removed; the total of `.pack` and `.part` files is kept under
//! `GIT_HTTP_PACK_CACHE_MAX_BYTES` (default 1 GiB) by evicting the least recently
//! used packs; a writer that would grow the total past the cap stops caching (its
//! followers then fail cleanly, the writer's own client is served in full); no new
//! writer starts while the cache is full.

use crate::request::Env;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Our stdout (upload-pack's pipe) as an unbuffered file: std's `Stdout` is
/// line-buffered, which would split pack data at every newline byte.
#[cfg(unix)]
fn raw_stdout() -> io::Result<File> {
    use std::os::fd::AsFd;
    Ok(File::from(io::stdout().as_fd().try_clone_to_owned()?))
}

#[cfg(windows)]
fn raw_stdout() -> io::Result<File> {
    use std::os::windows::io::AsHandle;
    Ok(File::from(io::stdout().as_handle().try_clone_to_owned()?))
}

/// The hidden subcommand git runs as the hook.
pub const SUBCOMMAND: &str = "pack-objects-hook";

/// Set in the environment of the upload-pack children we start with the hook, so
/// that the subcommand runs only under our own upload-pack (never from a CGI
/// query's arguments).
pub const HOOK_MARKER: &str = "GIT_HTTP_PACK_CACHE_HOOK";

/// The default size cap: 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// The default maximum age of a cached pack: 5 minutes.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);

/// Negotiations longer than this are not cached (passed through).
const MAX_STDIN: u64 = 64 << 20;

/// The cache-wide lock (`DIR/.lock`) under which writers check the cap and grow
/// their part, and packs are published and evicted. None: cannot lock (no caching).
fn cap_lock(settings: &Settings) -> Option<File> {
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(settings.dir.join(".lock"))
        .ok()?;
    f.lock().ok()?;
    Some(f)
}

/// The cache settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The cache directory.
    pub dir: PathBuf,
    /// The size cap for `.pack` + `.part` files.
    pub max_bytes: u64,
    /// How long a finished pack may be served.
    pub max_age: Duration,
}

impl Settings {
    /// From `GIT_HTTP_PACK_CACHE`, `GIT_HTTP_PACK_CACHE_MAX_BYTES` (with k/m/g
    /// units) and `GIT_HTTP_PACK_CACHE_MAX_AGE` (seconds); None when off.
    pub fn from_env(env: &Env) -> Option<Settings> {
        let dir = env.get_nonempty("GIT_HTTP_PACK_CACHE")?;
        let max_bytes = env
            .get_str("GIT_HTTP_PACK_CACHE_MAX_BYTES")
            .and_then(crate::gitnum::parse_unsigned)
            .unwrap_or(DEFAULT_MAX_BYTES);
        let max_age = env
            .get_str("GIT_HTTP_PACK_CACHE_MAX_AGE")
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_MAX_AGE);
        Some(Settings {
            dir: PathBuf::from(crate::os::bytes_to_os(dir)),
            max_bytes,
            max_age,
        })
    }
}

/// The `-c` arguments that make an upload-pack child use the hook, when the cache
/// is configured in `env`.
pub fn upload_pack_config(env: &Env) -> Option<String> {
    Settings::from_env(env)?;
    let exe = std::env::current_exe().ok()?;
    let exe = exe.to_str()?;
    if exe.contains('\'') {
        return None;
    }
    Some(format!("uploadpack.packObjectsHook='{exe}' {SUBCOMMAND}"))
}

/// Checks the hook's arguments: `git [--shallow-file ""] pack-objects --opt...`
/// with `--stdout` (so that pack-objects never writes files of its own).
fn valid_args(args: &[String]) -> bool {
    let mut rest = match args.split_first() {
        Some((git, rest)) if git == "git" => rest,
        _ => return false,
    };
    if rest.first().map(String::as_str) == Some("--shallow-file") {
        if rest.get(1).map(String::as_str) != Some("") {
            return false;
        }
        rest = &rest[2..];
    }
    match rest.split_first() {
        Some((cmd, opts)) if cmd == "pack-objects" => {
            opts.iter().all(|o| o.starts_with("--")) && opts.iter().any(|o| o == "--stdout")
        }
        _ => false,
    }
}

/// The hook: `ARGS` are what git appended (`git pack-objects ...`). Returns the
/// exit code.
pub fn hook_main(args: &[String]) -> i32 {
    if !valid_args(args) {
        log::error!("pack-objects-hook: refusing arguments {args:?}");
        return 2;
    }
    let env = Env::from_process();
    let git_args: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    let mut input = Vec::new();
    if let Err(e) = io::stdin().take(MAX_STDIN + 1).read_to_end(&mut input) {
        log::error!("pack-objects-hook: reading the negotiation: {e}");
        return 1;
    }
    let Some(settings) = Settings::from_env(&env) else {
        return passthrough(&env, &git_args, &input, io::stdin());
    };
    if input.len() as u64 > MAX_STDIN {
        return passthrough(&env, &git_args, &input, io::stdin());
    }
    if let Err(e) = std::fs::create_dir_all(&settings.dir) {
        log::warn!("pack cache: cannot create {}: {e}", settings.dir.display());
        return passthrough(&env, &git_args, &input, io::empty());
    }
    let key = match cache_key(&git_args, &input) {
        Ok(k) => k,
        Err(e) => {
            log::warn!("pack cache: cannot key the request: {e}");
            return passthrough(&env, &git_args, &input, io::empty());
        }
    };
    let pack = settings.dir.join(format!("{key}.pack"));
    let part = settings.dir.join(format!("{key}.part"));
    for _ in 0..5 {
        if let Some(code) = serve_finished(&settings, &pack) {
            return code;
        }
        match claim_part(&part) {
            Ok(file) => {
                return write_through(&env, &settings, &git_args, &input, file, &part, &pack);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let Ok(mut out) = raw_stdout() else { return 1 };
                match follow(&part, &pack, &mut out) {
                    Follow::Done(code) => return code,
                    Follow::Retry => continue,
                    Follow::Resume(sent_copy, sent) => {
                        return resume(&env, &git_args, &input, sent_copy, sent, &mut out);
                    }
                }
            }
            Err(e) => {
                log::warn!("pack cache: cannot create {}: {e}", part.display());
                return passthrough(&env, &git_args, &input, io::empty());
            }
        }
    }
    passthrough(&env, &git_args, &input, io::empty())
}

/// Becomes the writer of `part`: the file appears under that name already locked
/// (made and locked under a name of its own, then hard-linked into place, which
/// fails with `AlreadyExists` if another writer was first). Created unlocked, a
/// follower could find it empty and unlocked between `open` and `lock`, take the
/// writer for dead and remove it, and the first writer would later rename a second
/// writer's unfinished part into place: a truncated pack for the clients.
fn claim_part(part: &Path) -> io::Result<File> {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = part.with_extension(format!("{}-{n}.newpart", std::process::id()));
    let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    let claimed = file.lock().and_then(|()| std::fs::hard_link(&tmp, part));
    let _ = std::fs::remove_file(&tmp);
    claimed.map(|()| file)
}

/// A finished, fresh pack: stream it whole and mark it used. None: there is none.
fn serve_finished(settings: &Settings, pack: &Path) -> Option<i32> {
    let mut file = File::open(pack).ok()?;
    let meta = file.metadata().ok()?;
    let age = meta
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .unwrap_or_default();
    if age > settings.max_age {
        let _ = std::fs::remove_file(pack);
        return None;
    }
    let _ = file.set_times(std::fs::FileTimes::new().set_accessed(SystemTime::now()));
    let mut out = raw_stdout().ok()?;
    Some(
        match io::copy(&mut file, &mut out).and_then(|_| out.flush()) {
            Ok(()) => 0,
            Err(_) => 1,
        },
    )
}

enum Follow {
    Done(i32),
    Retry,
    /// The writer went away after this follower sent `.1` bytes (still readable
    /// through `.0`): run pack-objects and continue if its output starts the same.
    Resume(File, u64),
}

/// Streams a `.part` file another process is writing, until it is renamed to
/// `.pack`; detects a writer that went away.
fn follow(part: &Path, pack: &Path, out: &mut dyn Write) -> Follow {
    let mut file = match File::open(part) {
        Ok(f) => f,
        Err(_) => return Follow::Retry,
    };
    let mut sent: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => {
                if out.write_all(&buf[..n]).is_err() {
                    return Follow::Done(1);
                }
                sent += n as u64;
                continue;
            }
            Err(e) => {
                log::error!("pack cache: reading {}: {e}", part.display());
                return if sent == 0 {
                    Follow::Retry
                } else {
                    Follow::Done(1)
                };
            }
        }
        // At the end of what is written so far.
        if pack.exists() {
            return drain(&mut file, out);
        }
        match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                // The lock is free: the writer finished (renamed) or went away.
                if pack.exists() {
                    return drain(&mut file, out);
                }
                if sent == 0 {
                    remove_if_same(part, &file);
                    return Follow::Retry;
                }
                log::info!(
                    "pack cache: the process writing {} went away; resuming",
                    part.display()
                );
                return Follow::Resume(file, sent);
            }
            Err(_) => {
                let _ = out.flush();
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Continues a fetch whose writer went away: runs pack-objects, checks that its
/// first `sent` bytes are the ones already sent (kept in `sent_copy`), then streams
/// the rest. Output that differs (pack-objects is not always deterministic) fails
/// the fetch cleanly: upload-pack then reports an error, never a corrupt pack.
fn resume(
    env: &Env,
    args: &[&str],
    input: &[u8],
    mut sent_copy: File,
    sent: u64,
    out: &mut dyn Write,
) -> i32 {
    use std::io::Seek;
    let mut child = match spawn(env, args) {
        Ok(c) => c,
        Err(e) => {
            log::error!("pack cache: cannot run git pack-objects: {e}");
            return 1;
        }
    };
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = child.stdout.take().expect("piped");
    let data = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let same = (|| -> io::Result<bool> {
        sent_copy.seek(io::SeekFrom::Start(0))?;
        let mut left = sent;
        let mut a = vec![0u8; 64 * 1024];
        let mut b = vec![0u8; 64 * 1024];
        while left > 0 {
            let n = (left as usize).min(a.len());
            stdout.read_exact(&mut a[..n])?;
            sent_copy.read_exact(&mut b[..n])?;
            if a[..n] != b[..n] {
                return Ok(false);
            }
            left -= n as u64;
        }
        Ok(true)
    })()
    .unwrap_or(false);
    if !same {
        log::error!("pack cache: the writer went away and the pack differs; failing this fetch");
        let _ = child.kill();
        let _ = child.wait();
        let _ = feeder.join();
        return 1;
    }
    let copied = io::copy(&mut stdout, out).and_then(|_| out.flush());
    let _ = feeder.join();
    match (copied, child.wait()) {
        (Ok(()), Ok(s)) if s.success() => 0,
        _ => 1,
    }
}

fn drain(file: &mut File, out: &mut dyn Write) -> Follow {
    match io::copy(file, out).and_then(|_| out.flush()) {
        Ok(_) => Follow::Done(0),
        Err(_) => Follow::Done(1),
    }
}

/// Removes `path` if it still is the file `file` has open (a stale part).
fn remove_if_same(path: &Path, file: &File) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(a), Ok(b)) = (std::fs::metadata(path), file.metadata())
            && a.ino() == b.ino()
            && a.dev() == b.dev()
        {
            let _ = std::fs::remove_file(path);
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, file);
    }
}

/// Runs pack-objects and tees its output to stdout and the `.part` file.
fn write_through(
    env: &Env,
    settings: &Settings,
    args: &[&str],
    input: &[u8],
    mut file: File,
    part: &Path,
    pack: &Path,
) -> i32 {
    if file.try_lock().is_err() {
        let _ = std::fs::remove_file(part);
        return passthrough(env, args, input, io::empty());
    }
    let guard = cap_lock(settings);
    let mut caching = guard.is_some() && evict(settings, Some(part)) < settings.max_bytes;
    drop(guard);
    if !caching {
        log::info!("pack cache full; not caching this pack");
        let _ = std::fs::remove_file(part);
    }
    let mut child = match spawn(env, args) {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(part);
            log::error!("pack cache: cannot run git pack-objects: {e}");
            return 1;
        }
    };
    let mut stdin = child.stdin.take().expect("piped");
    let data = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let mut stdout = child.stdout.take().expect("piped");
    let mut out: Box<dyn Write> = match raw_stdout() {
        Ok(f) => Box::new(f),
        Err(_) => Box::new(io::sink()),
    };
    let mut client_ok = true;
    let mut written: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    let mut read_error = false;
    loop {
        let n = match stdout.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                read_error = true;
                break;
            }
        };
        if caching {
            // Check and grow under the cache-wide lock, so that concurrent writers
            // never take the total past the cap together.
            let guard = cap_lock(settings);
            let fits = guard.is_some()
                && evict(settings, Some(part)) + written + n as u64 <= settings.max_bytes;
            if !fits {
                log::info!("pack cache: cap reached; not caching this pack");
                caching = false;
                let _ = std::fs::remove_file(part);
            } else if file.write_all(&buf[..n]).is_err() {
                caching = false;
                let _ = std::fs::remove_file(part);
            } else {
                written += n as u64;
            }
            drop(guard);
        }
        if client_ok && out.write_all(&buf[..n]).is_err() {
            client_ok = false;
            if !caching {
                break;
            }
        }
    }
    let _ = out.flush();
    drop(stdout);
    let _ = feeder.join();
    let status = if client_ok || caching {
        child.wait()
    } else {
        let _ = child.kill();
        child.wait()
    };
    let ok = matches!(&status, Ok(s) if s.success()) && !read_error;
    if caching {
        if ok {
            let guard = cap_lock(settings);
            if let Err(e) = std::fs::rename(part, pack) {
                log::warn!("pack cache: cannot publish {}: {e}", pack.display());
                let _ = std::fs::remove_file(part);
            } else {
                let _ = file.set_times(std::fs::FileTimes::new().set_accessed(SystemTime::now()));
                evict(settings, Some(pack));
            }
            drop(guard);
        } else {
            let _ = std::fs::remove_file(part);
        }
    }
    drop(file); // releases the lock last, after the rename
    match status {
        Ok(s) if s.success() && client_ok && !read_error => 0,
        Ok(s) => s.code().unwrap_or(1).max(1),
        Err(_) => 1,
    }
}

fn spawn(env: &Env, args: &[&str]) -> io::Result<std::process::Child> {
    let os_args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let cwd = std::env::current_dir()?;
    crate::child::git_command(env, &cwd, &os_args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
}

/// Runs pack-objects without the cache: `input` then `rest` on its stdin.
fn passthrough(env: &Env, args: &[&str], input: &[u8], mut rest: impl Read + Send) -> i32 {
    let os_args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    let spawned = std::env::current_dir().and_then(|cwd| {
        crate::child::git_command(env, &cwd, &os_args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::inherit())
            .stderr(std::process::Stdio::inherit())
            .spawn()
    });
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            log::error!("pack-objects-hook: cannot run git pack-objects: {e}");
            return 1;
        }
    };
    let mut stdin = child.stdin.take().expect("piped");
    let status = std::thread::scope(|s| {
        s.spawn(move || {
            if stdin.write_all(input).is_ok() {
                let _ = io::copy(&mut rest, &mut stdin);
            }
        });
        child.wait()
    });
    match status {
        Ok(s) => s.code().unwrap_or(1),
        Err(_) => 1,
    }
}

/// The cache key: SHA-256 over the arguments, the negotiation, the repository's
/// path and its refs, packed-refs, packs and shallow file.
fn cache_key(args: &[&str], input: &[u8]) -> io::Result<String> {
    let mut h = Sha256::new();
    h.update(b"git-http-backend-rs pack cache 1\0");
    let cwd = std::fs::canonicalize(std::env::current_dir()?)?;
    h.update(crate::os::os_to_bytes(cwd.clone().into_os_string()));
    h.update(b"\0");
    for a in args {
        h.update(a.as_bytes());
        h.update(b"\0");
    }
    h.update((input.len() as u64).to_be_bytes());
    h.update(input);
    let git_dir = match std::env::var_os("GIT_DIR") {
        Some(d) => cwd.join(d),
        None => cwd,
    };
    let mut files = Vec::new();
    collect(&git_dir.join("refs"), &mut files)?;
    for extra in ["packed-refs", "shallow", "HEAD"] {
        files.push(git_dir.join(extra));
    }
    files.sort();
    for f in files {
        h.update(crate::os::os_to_bytes(f.clone().into_os_string()));
        h.update(b"\0");
        match std::fs::read(&f) {
            Ok(data) => {
                h.update((data.len() as u64).to_be_bytes());
                h.update(&data);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => h.update(b"-"),
            Err(e) => return Err(e),
        }
    }
    let mut packs: Vec<(String, u64)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(git_dir.join("objects/pack")) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".pack") {
                packs.push((name, e.metadata().map(|m| m.len()).unwrap_or(0)));
            }
        }
    }
    packs.sort();
    for (name, len) in packs {
        h.update(name.as_bytes());
        h.update(len.to_be_bytes());
    }
    let digest = h.finalize();
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in entries {
        let e = e?;
        if e.file_type()?.is_dir() {
            collect(&e.path(), out)?;
        } else {
            out.push(e.path());
        }
    }
    Ok(())
}

/// Removes expired packs, then least recently used ones until the total of
/// `.pack` and `.part` files is under the cap (never `keep`); returns the total
/// left, `keep` excluded.
pub fn evict(settings: &Settings, keep: Option<&Path>) -> u64 {
    let Ok(entries) = std::fs::read_dir(&settings.dir) else {
        return 0;
    };
    let now = SystemTime::now();
    let mut packs: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
    let mut total: u64 = 0;
    let mut keep_len = 0;
    for e in entries.flatten() {
        let path = e.path();
        let Ok(meta) = e.metadata() else { continue };
        let name = e.file_name();
        let name = name.to_string_lossy();
        if Some(path.as_path()) == keep {
            keep_len = meta.len();
            continue;
        }
        let modified = meta.modified().unwrap_or(now);
        let age = now.duration_since(modified).unwrap_or_default();
        if name.ends_with(".pack") {
            if age > settings.max_age {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let used = meta.accessed().unwrap_or(modified);
            packs.push((used, meta.len(), path));
            total += meta.len();
        } else if name.ends_with(".newpart") {
            // Left by a writer that died between making and linking its part.
            if age > Duration::from_secs(60) {
                let _ = std::fs::remove_file(&path);
            }
            continue;
        } else if name.ends_with(".part") {
            // A part nobody writes any more (its writer died) and old: remove it.
            if age > settings.max_age.max(Duration::from_secs(60))
                && let Ok(f) = File::open(&path)
                && f.try_lock().is_ok()
            {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            total += meta.len();
        }
    }
    packs.sort();
    for (_, len, path) in packs {
        if total + keep_len <= settings.max_bytes {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            total -= len;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn hook_arguments() {
        assert!(valid_args(&s(&[
            "git",
            "pack-objects",
            "--revs",
            "--stdout"
        ])));
        assert!(valid_args(&s(&[
            "git",
            "--shallow-file",
            "",
            "pack-objects",
            "--stdout",
            "--thin"
        ])));
        assert!(!valid_args(&s(&["git", "pack-objects", "--revs"])));
        assert!(!valid_args(&s(&[
            "git",
            "pack-objects",
            "--stdout",
            "/tmp/x"
        ])));
        assert!(!valid_args(&s(&["sh", "pack-objects", "--stdout"])));
        assert!(!valid_args(&s(&["git", "repack", "--stdout"])));
    }

    fn follow_to_vec(part: &Path, pack: &Path) -> (Follow, Vec<u8>) {
        let mut out = Vec::new();
        let r = follow(part, pack, &mut out);
        (r, out)
    }

    // Unix file-lock semantics (a dead writer's lock goes with it); the pack cache
    // is not built for Windows servers yet.
    #[cfg(unix)]
    #[test]
    fn a_stale_part_without_writer_is_retried_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("k.part");
        std::fs::write(&part, b"").unwrap();
        let (r, out) = follow_to_vec(&part, &dir.path().join("k.pack"));
        assert!(matches!(r, Follow::Retry));
        assert!(out.is_empty());
        assert!(!part.exists());
    }

    /// The writer's part appears already locked, and only one writer gets it.
    #[cfg(unix)]
    #[test]
    fn a_part_is_claimed_locked_and_once() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("k.part");
        let first = claim_part(&part).unwrap();
        assert!(File::open(&part).unwrap().try_lock_shared().is_err());
        let second = claim_part(&part).unwrap_err();
        assert_eq!(second.kind(), io::ErrorKind::AlreadyExists);
        drop(first);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["k.part"]);
    }

    #[test]
    fn a_writer_that_dies_makes_its_followers_resume() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("k.part");
        let pack = dir.path().join("k.pack");
        let mut w = File::create(&part).unwrap();
        w.lock().unwrap();
        w.write_all(b"PACK partial").unwrap();
        let (p2, k2) = (part.clone(), pack.clone());
        let follower = std::thread::spawn(move || follow_to_vec(&p2, &k2));
        std::thread::sleep(Duration::from_millis(100));
        drop(w); // the writer dies: lock released, no .pack
        let (r, out) = follower.join().unwrap();
        assert!(matches!(r, Follow::Resume(_, 12)));
        assert_eq!(out, b"PACK partial");
    }

    #[test]
    fn a_follower_gets_the_whole_pack() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("k.part");
        let pack = dir.path().join("k.pack");
        let mut w = File::create(&part).unwrap();
        w.lock().unwrap();
        w.write_all(b"first ").unwrap();
        let (p2, k2) = (part.clone(), pack.clone());
        let follower = std::thread::spawn(move || follow_to_vec(&p2, &k2));
        std::thread::sleep(Duration::from_millis(50));
        w.write_all(b"second").unwrap();
        std::fs::rename(&part, &pack).unwrap();
        drop(w);
        let (r, out) = follower.join().unwrap();
        assert!(matches!(r, Follow::Done(0)));
        assert_eq!(out, b"first second");
    }

    #[test]
    fn eviction_keeps_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            dir: dir.path().to_path_buf(),
            max_bytes: 250,
            max_age: DEFAULT_MAX_AGE,
        };
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            let p = dir.path().join(format!("{name}.pack"));
            std::fs::write(&p, vec![0u8; 100]).unwrap();
            let t = SystemTime::now() - Duration::from_secs(100 - i as u64 * 10);
            File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_times(std::fs::FileTimes::new().set_accessed(t))
                .unwrap();
        }
        let left = evict(&settings, None);
        assert_eq!(left, 200);
        assert!(
            !dir.path().join("a.pack").exists(),
            "least recently used goes"
        );
        assert!(dir.path().join("c.pack").exists());
    }

    #[test]
    fn settings_from_env() {
        let env = Env::from_pairs([
            ("GIT_HTTP_PACK_CACHE", "/tmp/c"),
            ("GIT_HTTP_PACK_CACHE_MAX_BYTES", "10m"),
            ("GIT_HTTP_PACK_CACHE_MAX_AGE", "60"),
        ]);
        let s = Settings::from_env(&env).unwrap();
        assert_eq!(s.max_bytes, 10 << 20);
        assert_eq!(s.max_age, Duration::from_secs(60));
        assert!(Settings::from_env(&Env::new()).is_none());
    }
}

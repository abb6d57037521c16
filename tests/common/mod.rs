//! Helpers shared by the integration tests that drive our binary directly:
//! scratch directories, a `git` runner, and looking at the processes a request
//! left behind (by their working directory, under /proc).
#![allow(dead_code)] // each test file uses a different subset

pub mod fcgi;

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Our binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_git-http-backend-rs");

/// A scratch directory, removed when dropped (also when a test fails).
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh, empty directory named after the test process and `tag`.
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("ghb-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `git ARGS` in `dir` (machine config shut out, HOME = `dir`); panics on
/// failure; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git must be installed");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Command lines of the live (not zombie) processes whose working directory is
/// under `dir`: the git children of requests on a repository there.
pub fn processes_in(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        if cwd.starts_with(dir) {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            if stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z')) {
                continue;
            }
            let cmd = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            found.push(String::from_utf8_lossy(&cmd).replace('\0', " "));
        }
    }
    found
}

/// Waits (up to 10 s) until no process works in `dir`; fails naming those left.
pub fn wait_no_processes_in(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = processes_in(dir);
        if p.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "git processes left behind: {p:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (up to 10 s) until a process whose command line contains `what` works
/// in `dir`.
pub fn wait_for_process_in(dir: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_in(dir).iter().any(|p| p.contains(what)) {
        assert!(Instant::now() < deadline, "{what} never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Resident memory of a process in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// A project root with `r.git` (one commit on main, pushes allowed); returns the
/// root and the commit id of main.
pub fn make_root_with_head(tag: &str) -> (TempDir, String) {
    let t = TempDir::new(tag);
    git(&t.0, &["init", "-q", "--bare", "-b", "main", "r.git"]);
    git(&t.0, &["init", "-q", "-b", "main", "work"]);
    let w = t.0.join("work");
    std::fs::write(w.join("f"), "hello\n").unwrap();
    git(&w, &["add", "f"]);
    git(
        &w,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "-m",
            "one",
        ],
    );
    git(&w, &["push", "-q", "../r.git", "main"]);
    git(&t.0.join("r.git"), &["config", "http.receivepack", "true"]);
    let head = String::from_utf8(git(&w, &["rev-parse", "HEAD"])).unwrap();
    (t, head.trim().to_string())
}

/// [`make_root_with_head`] without the commit id.
pub fn make_root(tag: &str) -> TempDir {
    make_root_with_head(tag).0
}

/// Our binary as a FastCGI daemon on a unix socket, its log in a file; killed when
/// dropped. Test files add their own `connect` (a raw stream or a client).
pub struct Daemon {
    /// The process.
    pub child: Child,
    /// Its socket.
    pub sock: PathBuf,
    /// Its stderr.
    pub log: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// `--listen unix:<dir>/fcgi.sock` plus `extra` arguments and `env` variables.
    pub fn start(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Daemon {
        let sock = dir.join("fcgi.sock");
        let log = dir.join("daemon.log");
        let mut cmd = Command::new(BIN);
        cmd.arg("--listen")
            .arg(format!("unix:{}", sock.display()))
            .args(extra)
            .stdin(Stdio::null());
        Daemon::spawn(cmd, sock, log, env)
    }

    /// The spawn-fcgi way: a listening unix socket `<dir>/<name>.sock` bound here and
    /// handed over as the daemon's fd 0 (no arguments).
    pub fn on_fd0(dir: &Path, name: &str, env: &[(&str, &str)]) -> Daemon {
        let sock = dir.join(format!("{name}.sock"));
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.stdin(Stdio::from(std::os::fd::OwnedFd::from(listener)));
        Daemon::spawn(cmd, sock, dir.join("daemon.log"), env)
    }

    /// Starts `cmd` (already given its socket), waits until `sock` accepts.
    pub fn spawn(mut cmd: Command, sock: PathBuf, log: PathBuf, env: &[(&str, &str)]) -> Daemon {
        cmd.env_remove("GIT_PROJECT_ROOT")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("GIT_HTTP_BACKEND_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let d = Daemon { child, sock, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&d.sock).is_err() {
            assert!(
                Instant::now() < deadline,
                "daemon did not come up: {}",
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    /// What the daemon logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asserts that the daemon's log so far contains `needle` (shows the log if not).
    pub fn assert_logged(&self, needle: &str) {
        let log = self.log_text();
        assert!(log.contains(needle), "log lacks {needle:?}:\n{log}");
    }
}

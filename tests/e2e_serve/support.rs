//! Support for the `serve` end-to-end tests: scratch repositories, a git runner with
//! a clean environment, the server under test, a raw HTTP/1.1 client and /proc
//! inspection.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A scratch area: a home directory with a git config, and room for repositories.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("ghb-e2e-serve-")
            .tempdir()
            .expect("creating a temporary directory");
        let s = Scratch { dir };
        std::fs::create_dir_all(s.home()).unwrap();
        std::fs::create_dir_all(s.root()).unwrap();
        std::fs::write(
            s.home().join(".gitconfig"),
            "[user]\n\tname = Test\n\temail = test@example.org\n\
             [init]\n\tdefaultBranch = main\n\
             [advice]\n\tdetachedHead = false\n",
        )
        .unwrap();
        s
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    /// The directory `serve` serves.
    pub fn root(&self) -> PathBuf {
        self.path().join("srv")
    }

    /// A `git` command with a clean, deterministic environment.
    pub fn git_cmd(&self, dir: &Path) -> Command {
        let mut cmd = Command::new("git");
        cmd.current_dir(dir)
            .env("HOME", self.home())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_PROTOCOL")
            .env_remove("GIT_TRACE")
            .env_remove("GIT_TRACE_PACKET")
            .env_remove("GIT_TRACE_CURL")
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("all_proxy")
            .env_remove("ALL_PROXY");
        cmd
    }

    /// Runs git in `dir`; returns its output, whatever the exit status.
    pub fn git_output(&self, dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut cmd = self.git_cmd(dir);
        cmd.args(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run git {args:?}: {e}"))
    }

    /// Runs git in `dir`, asserts success, returns trimmed stdout.
    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        self.git_env(dir, args, &[])
    }

    /// Like [`Scratch::git`] with extra environment variables; returns stdout.
    pub fn git_env(&self, dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> String {
        let out = self.git_output(dir, args, envs);
        assert!(
            out.status.success(),
            "git {args:?} in {} failed ({}):\nstdout: {}\nstderr: {}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Creates a bare repository `name` under the served root, pushes allowed.
    pub fn bare(&self, name: &str) -> PathBuf {
        let repo = self.root().join(name);
        self.git(
            self.path(),
            &["init", "-q", "--bare", repo.to_str().unwrap()],
        );
        self.git(&repo, &["config", "http.receivepack", "true"]);
        repo
    }

    /// Creates a work repository `name` (outside the served root) with commits.
    pub fn work(&self, name: &str, commits: usize) -> PathBuf {
        let w = self.path().join(name);
        self.git(self.path(), &["init", "-q", w.to_str().unwrap()]);
        for i in 0..commits {
            self.commit(&w, &format!("file{i}.txt"), &format!("content {i}\n"));
        }
        w
    }

    /// Pushes `main` of work tree `w` straight into the repository at `repo` (by
    /// path, not HTTP), so read-only tests do not depend on push support.
    pub fn seed(&self, w: &Path, repo: &Path) {
        self.git(w, &["push", "-q", repo.to_str().unwrap(), "main"]);
    }

    /// Writes `file` in work tree `w` and commits it; returns the commit id.
    pub fn commit(&self, w: &Path, file: &str, content: &str) -> String {
        std::fs::write(w.join(file), content).unwrap();
        self.git(w, &["add", file]);
        self.git(w, &["commit", "-q", "-m", &format!("add {file}")]);
        self.git(w, &["rev-parse", "HEAD"])
    }
}

/// Our binary in `serve` mode, killed on drop.
pub struct Server {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// What the server printed on stdout at start.
    pub banner: String,
    stderr_path: PathBuf,
}

impl Server {
    /// Starts `serve --listen 127.0.0.1:0 ROOT` and waits for its banner.
    pub fn start(scratch: &Scratch) -> Server {
        Server::start_with(scratch, &["--listen", "127.0.0.1:0"])
    }

    /// Starts `serve ARGS ROOT`.
    pub fn start_with(scratch: &Scratch, args: &[&str]) -> Server {
        Server::start_env(scratch, args, &[])
    }

    /// Starts `serve ARGS ROOT` with extra environment variables (daemon-wide
    /// settings such as `GIT_HTTP_ACL_FILE`).
    pub fn start_env(scratch: &Scratch, args: &[&str], envs: &[(&str, &str)]) -> Server {
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stderr_path = scratch.path().join(format!("server-{n}.log"));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_git-http-backend-rs"))
            .arg("serve")
            .args(args)
            .arg(scratch.root())
            .env("HOME", scratch.home())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_HTTP_BACKEND_LOG", "info")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("starting git-http-backend-rs serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut banner = String::new();
            let mut sent = false;
            while let Some(Ok(line)) = lines.next() {
                banner.push_str(&line);
                banner.push('\n');
                if line.starts_with("pushes need") && !sent {
                    let _ = tx.send(banner.clone());
                    sent = true;
                }
            }
            if !sent {
                let _ = tx.send(banner);
            }
        });
        let banner = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("serve printed no banner within 20s");
        let addr = banner
            .lines()
            .next()
            .and_then(|l| l.split("http://").nth(1))
            .map(|rest| rest.trim_end_matches('/').to_string())
            .unwrap_or_else(|| panic!("no address in the banner: {banner:?}"));
        Server {
            child,
            addr,
            banner,
            stderr_path,
        }
    }

    /// The URL of repository `name`.
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (up to `limit`) for the exit status.
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- server log ---\n{}", self.log());
        }
    }
}

/// A reply read by [`read_response`].
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one HTTP/1.1 response (Content-Length or chunked body) from `r`.
pub fn read_response(r: &mut BufReader<TcpStream>, head_request: bool) -> RawResponse {
    let mut line = String::new();
    r.read_line(&mut line).expect("reading the status line");
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).expect("reading a header");
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':').expect("header without colon");
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let mut resp = RawResponse {
        status,
        headers,
        body: Vec::new(),
    };
    if head_request {
        return resp;
    }
    if let Some(len) = resp.header("Content-Length") {
        let len: usize = len.parse().unwrap();
        resp.body = vec![0; len];
        r.read_exact(&mut resp.body).unwrap();
    } else if resp
        .header("Transfer-Encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).unwrap();
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk).unwrap();
            if size == 0 {
                break;
            }
            resp.body.extend_from_slice(&chunk[..size]);
        }
    } else {
        r.read_to_end(&mut resp.body).unwrap();
    }
    resp
}

/// Sends a raw request on `stream`.
pub fn send(stream: &mut TcpStream, request: &str) {
    stream.write_all(request.as_bytes()).unwrap();
    stream.flush().unwrap();
}

/// Processes whose parent is `pid`, and theirs, recursively.
pub fn descendants(pid: u32) -> Vec<(u32, String)> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{p}/status")) else {
            continue;
        };
        let ppid = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(0);
        let cmdline = std::fs::read(format!("/proc/{p}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .unwrap_or_default();
        all.push((p, ppid, cmdline));
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (p, pp, cmd) in &all {
            if *pp == parent {
                out.push((*p, cmd.clone()));
                frontier.push(*p);
            }
        }
    }
    out
}

/// Processes whose working directory is `dir` (git children run in the repository).
pub fn processes_in(dir: &Path) -> Vec<(u32, String)> {
    let dir = std::fs::canonicalize(dir).unwrap();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if std::fs::read_link(format!("/proc/{p}/cwd")).ok().as_deref() == Some(dir.as_path()) {
            let cmd = std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .unwrap_or_default();
            out.push((p, cmd));
        }
    }
    out
}

/// A `VmXXX:` figure of `/proc/<pid>/status`, in KiB.
pub fn vm_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Writes `len` bytes of incompressible pseudo-random data (xorshift; fast, no
/// dependency) seeded with `seed` to `path`.
pub fn random_file(path: &Path, len: usize, seed: u64) {
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut buf = vec![0u8; 1 << 16];
    let mut left = len;
    while left > 0 {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let bytes = x.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        let n = left.min(buf.len());
        f.write_all(&buf[..n]).unwrap();
        left -= n;
    }
    f.flush().unwrap();
}

/// Waits until `cond` holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

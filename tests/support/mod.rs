//! Shared by the fault, load and scale-out tests: nginx started from a shipped
//! config (paths and port substituted), `serve` on a free port, a raw HTTP/1.1
//! client, a repository big enough that a clone or push is still streaming when
//! a test breaks it, and the checks every fault ends with (fsck clean, refs as
//! expected, no quarantine directory).
#![allow(dead_code)] // each test file uses a different subset

use crate::common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    l.local_addr().expect("local_addr").port()
}

/// Waits up to `secs` for a TCP port to accept.
pub fn wait_port(port: u16, secs: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not come up on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the tests run as root.
pub fn is_root() -> bool {
    // /proc/self/status names the real, effective, saved and fs uids.
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1).map(|s| s == "0"))
        .unwrap_or(false)
}

/// nginx running a shipped `http {}` include (nginx/NAME.conf) with its paths
/// replaced; stopped on drop.
pub struct Nginx {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// Its run directory (config, logs, temp files).
    pub dir: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The workers follow their master (they notice it is gone at once).
        let pid_file = self.dir.join("nginx.pid");
        let _ = std::fs::remove_file(pid_file);
    }
}

impl Nginx {
    /// Starts nginx with nginx/`shipped` (relative to the crate root), each `from`
    /// of `replace` (which must occur in the file) replaced by its `to`, and
    /// `listen 80;` by a free port on 127.0.0.1. Runs in `dir`.
    pub fn start(dir: &Path, shipped: &str, replace: &[(&str, String)]) -> Nginx {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(shipped);
        let mut include = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let port = free_port();
        let listen = [("listen 80;", format!("listen 127.0.0.1:{port};"))];
        for (from, to) in replace.iter().chain(listen.iter()) {
            assert!(include.contains(from), "{shipped} no longer has {from}");
            include = include.replace(from, to);
        }
        std::fs::write(dir.join("include.conf"), include).unwrap();
        let user = if is_root() { "user root root;\n" } else { "" };
        let d = dir.display();
        let conf = format!(
            "{user}worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n access_log {d}/access.log;\n client_body_temp_path {d}/client_body;\n\
             fastcgi_temp_path {d}/fastcgi_temp;\n proxy_temp_path {d}/proxy_temp;\n\
             uwsgi_temp_path {d}/uwsgi_temp;\n scgi_temp_path {d}/scgi_temp;\n\
             include {d}/include.conf;\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new("nginx")
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-p")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("nginx.out")).unwrap())
            .spawn()
            .expect("nginx must be installed");
        let n = Nginx {
            child,
            port,
            dir: dir.to_path_buf(),
        };
        wait_port(port, 15, "nginx");
        n
    }

    /// The URL of repository `name` (served under /git/).
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/git/{name}", self.port)
    }

    /// nginx's error log.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

/// nginx + fcgiwrap running our binary as a CGI, from the shipped
/// nginx/git-fcgiwrap.conf (a whole nginx.conf with `@NAME@` placeholders; pushes
/// need Basic auth as `USER:PASSWORD`). Both stopped on drop.
pub struct NginxCgi {
    /// nginx.
    pub nginx: Nginx,
    fcgiwrap: Child,
}

impl Drop for NginxCgi {
    fn drop(&mut self) {
        let _ = self.fcgiwrap.kill();
        let _ = self.fcgiwrap.wait();
    }
}

/// The Basic-auth user of [`NginxCgi`] and its password.
pub const USER: (&str, &str) = ("alice", "secret");

impl NginxCgi {
    /// Serves `root` from `dir`; `env` goes to fcgiwrap, which hands its
    /// environment to the CGI.
    pub fn start(dir: &Path, root: &Path, env: &[(&str, &str)]) -> NginxCgi {
        let sock = dir.join("fcgiwrap.sock");
        let mut cmd = Command::new("fcgiwrap");
        cmd.arg("-s")
            .arg(format!("unix:{}", sock.display()))
            .env("HOME", dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("fcgiwrap.out")).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let fcgiwrap = cmd.spawn().expect("fcgiwrap must be installed");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&sock).is_err() {
            assert!(Instant::now() < deadline, "fcgiwrap did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        let st = Command::new("htpasswd")
            .arg("-cb")
            .arg(dir.join("htpasswd"))
            .args([USER.0, USER.1])
            .stderr(Stdio::null())
            .status()
            .expect("htpasswd (apache2-utils) must be installed");
        assert!(st.success());
        let port = free_port();
        let (user, group) = if is_root() {
            ("root".to_string(), "root".to_string())
        } else {
            let id = |flag: &str| {
                let o = Command::new("id").arg(flag).output().unwrap();
                String::from_utf8_lossy(&o.stdout).trim().to_string()
            };
            (id("-un"), id("-gn"))
        };
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("nginx/git-fcgiwrap.conf");
        let mut conf = std::fs::read_to_string(&path).unwrap();
        for (k, v) in [
            ("USER", user),
            ("GROUP", group),
            ("RUN", dir.display().to_string()),
            ("PORT", port.to_string()),
            ("HTPASSWD", dir.join("htpasswd").display().to_string()),
            ("BACKEND", BIN.to_string()),
            ("ROOT", root.display().to_string()),
        ] {
            conf = conf.replace(&format!("@{k}@"), &v);
        }
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new("nginx")
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-p")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("nginx.out")).unwrap())
            .spawn()
            .expect("nginx must be installed");
        let nginx = Nginx {
            child,
            port,
            dir: dir.to_path_buf(),
        };
        wait_port(port, 15, "nginx");
        NginxCgi { nginx, fcgiwrap }
    }

    /// The URL of repository `name`, with the push credentials.
    pub fn url(&self, name: &str) -> String {
        format!(
            "http://{}:{}@127.0.0.1:{}/git/{name}",
            USER.0, USER.1, self.nginx.port
        )
    }
}

/// The shipped single-node nginx config around one daemon socket and project root.
pub fn nginx_native(dir: &Path, sock: &Path, root: &Path) -> Nginx {
    Nginx::start(
        dir,
        "nginx/git-fastcgi.conf",
        &[
            ("/run/git-http-backend-rs.sock", sock.display().to_string()),
            ("/srv/git", root.display().to_string()),
        ],
    )
}

/// `git-http-backend-rs serve ROOT` on a free port; killed on drop.
pub struct Serve {
    /// The process.
    pub child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its stderr.
    pub log: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Serves `root`; logs to `root/serve.log`.
    pub fn start(root: &Path) -> Serve {
        let port = free_port();
        let log = root.join("serve.log");
        let child = Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg(root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_HTTP_BACKEND_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        wait_port(port, 10, "serve");
        Serve { child, port, log }
    }

    /// The URL of repository `name`.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }

    /// What it logged.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Sends `head` + `body` to 127.0.0.1:`port`, reads the whole reply (server closes),
/// at most `secs` seconds.
pub fn http_exchange(port: u16, head: &str, body: &[u8], secs: u64) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(secs))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// A GET for the smart upload-pack advertisement of `path` (e.g. `/git/r.git`).
pub fn advert_ok(port: u16, path: &str) -> bool {
    let out = http_exchange(
        port,
        &format!(
            "GET {path}/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        ),
        b"",
        10,
    );
    out.starts_with(b"HTTP/1.1 200") && out.windows(9).any(|w| w == b"# service")
}

/// A git command with the machine's config shut out, HOME = `home`.
pub fn git_cmd(home: &Path) -> Command {
    let mut c = Command::new("git");
    c.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", home)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    c
}

/// Runs `cmd`, failing the test if it is still running after `secs` seconds.
pub fn output_within(mut cmd: Command, secs: u64) -> Output {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{shown}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{shown} still running after {secs} s: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Deterministic pseudo-random bytes (xorshift64*): incompressible content.
pub fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(n);
    out
}

/// Commits `size` random bytes as `name` in the work tree `work` (of
/// [`make_root_with_head`]) and returns the new commit id.
pub fn commit_random(work: &Path, name: &str, size: usize, seed: u64) -> String {
    std::fs::write(work.join(name), random_bytes(seed, size)).unwrap();
    git(work, &["add", name]);
    git(
        work,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "-m",
            name,
        ],
    );
    String::from_utf8(git(work, &["rev-parse", "HEAD"]))
        .unwrap()
        .trim()
        .to_string()
}

/// A project root whose `r.git` holds `mb` MiB of random content on main (so a
/// clone streams for a while); returns the root and main's commit.
pub fn big_root(tag: &str, mb: usize) -> (TempDir, String) {
    let (root, _) = make_root_with_head(tag);
    let work = root.0.join("work");
    let head = commit_random(&work, "big", mb << 20, 7);
    git(&work, &["push", "-q", "../r.git", "main"]);
    (root, head)
}

/// `git fsck` of `repo` is clean (no errors; dangling objects are fine).
pub fn assert_fsck(repo: &Path) {
    let out = Command::new("git")
        .args(["fsck", "--no-progress"])
        .current_dir(repo)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git fsck in {}: {}",
        repo.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The refs of `repo`: `<id> <name>` lines.
pub fn refs(repo: &Path) -> String {
    String::from_utf8(git(
        repo,
        &["for-each-ref", "--format=%(objectname) %(refname)"],
    ))
    .unwrap()
}

/// Quarantine directories git left in `repo`'s object store.
pub fn quarantine_dirs(repo: &Path) -> Vec<String> {
    std::fs::read_dir(repo.join("objects"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tmp_objdir") || n.starts_with("incoming-"))
        .collect()
}

/// Peak resident memory (VmHWM) of a process, in KiB.
pub fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

//! The Windows build under wine, started as IIS starts a FastCGI application, with
//! a real git behind it (issue 13).
//!
//! Pieces (built here for `x86_64-pc-windows-gnu`, run under wine in the prefix
//! `scripts/wine-setup.sh` prepares):
//! - our `git-http-backend-rs.exe`;
//! - `examples/iis_emulator.rs`: creates `\\.\pipe\IISFCGI-<id>`, starts our exe
//!   with stdin = the pipe's server end, stdout/stderr invalid, `_FCGI_X_PIPE_` and
//!   `_FCGI_SHUTDOWN_EVENT_` set, and carries each loopback TCP connection onto one
//!   pipe connection, one at a time, as IIS connects per request;
//! - `examples/git_relay.rs` as `git.exe`: forwards argv, cwd, `GIT_*` and stdio
//!   over loopback TCP to [`Relay`] here, which runs the real Linux git with pipes.
//!
//! Tests: a sequence of raw FastCGI requests over several pipe connections
//! (GET_VALUES, info/refs, 404, 403, upload-pack with a pack in the reply, a push,
//! an aborted push, shutdown); and real git clone/fetch/push through nginx's
//! `fastcgi_pass` -> the emulated IIS pipe -> our exe -> real git. Wine tests run
//! one at a time (a lock), each with its own pipe name, and end with
//! `wineserver -k` (wine orphans keep pipes busy).
#![cfg(unix)]

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

const TARGET: &str = "x86_64-pc-windows-gnu";

/// The Windows programs and the wine prefix.
struct WinBuild {
    backend: PathBuf,
    emulator: PathBuf,
    /// A directory holding the relay as `git.exe`.
    git_dir: PathBuf,
    prefix: PathBuf,
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the Windows programs (once per test process) and prepares wine. A
/// missing tool fails the test.
fn win_build() -> &'static WinBuild {
    static BUILD: OnceLock<WinBuild> = OnceLock::new();
    BUILD.get_or_init(|| {
        let root = manifest_dir();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let target_dir = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("target"));
        let out = Command::new(&cargo)
            .args([
                "build",
                "--locked",
                "--target",
                TARGET,
                "--bin",
                "git-http-backend-rs",
                "--example",
                "iis_emulator",
                "--example",
                "git_relay",
            ])
            .current_dir(&root)
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "building the Windows programs (needs `rustup target add {TARGET}` and \
             gcc-mingw-w64-x86-64): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new(root.join("scripts/wine-setup.sh"))
            .output()
            .expect("scripts/wine-setup.sh runs");
        assert!(
            out.status.success(),
            "wine-setup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let prefix = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        let dbg = target_dir.join(TARGET).join("debug");
        let git_dir = target_dir.join(TARGET).join("git-relay");
        std::fs::create_dir_all(&git_dir).unwrap();
        std::fs::copy(dbg.join("examples/git_relay.exe"), git_dir.join("git.exe")).unwrap();
        WinBuild {
            backend: dbg.join("git-http-backend-rs.exe"),
            emulator: dbg.join("examples/iis_emulator.exe"),
            git_dir,
            prefix,
        }
    })
}

/// `/a/b` as wine's `Z:\a\b`.
fn winpath(p: &Path) -> String {
    format!("Z:{}", p.display()).replace('/', "\\")
}

/// Serializes the wine tests and kills the prefix's wine processes at the end.
struct WineSession {
    _lock: MutexGuard<'static, ()>,
    prefix: PathBuf,
}

impl WineSession {
    fn new() -> WineSession {
        static LOCK: Mutex<()> = Mutex::new(());
        let lock = LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let prefix = win_build().prefix.clone();
        // A persistent wineserver: each wine start then costs ~0.05 s, not ~1 s.
        let ok = Command::new("wineserver")
            .arg("-p")
            .env("WINEPREFIX", &prefix)
            .status()
            .expect("wineserver must be installed (wine)");
        assert!(ok.success(), "wineserver -p");
        WineSession {
            _lock: lock,
            prefix,
        }
    }
}

impl Drop for WineSession {
    fn drop(&mut self) {
        let _ = Command::new("wineserver")
            .arg("-k")
            .env("WINEPREFIX", &self.prefix)
            .status();
    }
}

// ---------- the git relay (Linux side) ----------

/// Runs the real git for the Windows stand-in `git.exe`.
struct Relay {
    addr: String,
}

/// `Z:\x\y` -> `/x/y`; other drive paths through `winepath -u`; anything else as is.
fn unix_path(s: &str, prefix: &Path) -> String {
    let b = s.as_bytes();
    if b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/')
    {
        if b[0].eq_ignore_ascii_case(&b'z') {
            return s[2..].replace('\\', "/");
        }
        let out = Command::new("winepath")
            .args(["-u", s])
            .env("WINEPREFIX", prefix)
            .env("WINEDEBUG", "-all")
            .output()
            .expect("winepath runs");
        return String::from_utf8_lossy(&out.stdout).trim().to_string();
    }
    s.to_string()
}

fn get_str(r: &mut impl Read) -> std::io::Result<String> {
    let mut l = [0u8; 4];
    r.read_exact(&mut l)?;
    let mut v = vec![0u8; u32::from_be_bytes(l) as usize];
    r.read_exact(&mut v)?;
    Ok(String::from_utf8_lossy(&v).into_owned())
}

fn get_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut l = [0u8; 4];
    r.read_exact(&mut l)?;
    Ok(u32::from_be_bytes(l))
}

fn frame(out: &Mutex<TcpStream>, kind: u8, data: &[u8]) -> std::io::Result<()> {
    let mut v = vec![kind];
    v.extend_from_slice(&(data.len() as u32).to_be_bytes());
    v.extend_from_slice(data);
    out.lock().unwrap().write_all(&v)
}

fn relay_one(mut sock: TcpStream, home: PathBuf, prefix: PathBuf) -> std::io::Result<()> {
    let n = get_u32(&mut sock)?;
    let mut args = Vec::new();
    for _ in 0..n {
        args.push(unix_path(&get_str(&mut sock)?, &prefix));
    }
    let cwd = unix_path(&get_str(&mut sock)?, &prefix);
    let n = get_u32(&mut sock)?;
    let mut cmd = Command::new("git");
    cmd.args(&args)
        .current_dir(&cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("GIT_CONFIG_NOSYSTEM", "1");
    for _ in 0..n {
        let e = get_str(&mut sock)?;
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, unix_path(v, &prefix));
        }
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().unwrap();
    let mut from = sock.try_clone()?;
    let feeder = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut stdin);
    });
    let out = std::sync::Arc::new(Mutex::new(sock.try_clone()?));
    let pump = |mut r: Box<dyn Read + Send>, kind: u8| {
        let out = out.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => return true,
                    Ok(n) => {
                        if frame(&out, kind, &buf[..n]).is_err() {
                            return false;
                        }
                    }
                }
            }
        })
    };
    let o = pump(Box::new(child.stdout.take().unwrap()), 1);
    let e = pump(Box::new(child.stderr.take().unwrap()), 2);
    let delivered = o.join().unwrap_or(false);
    let _ = e.join();
    if !delivered {
        // The Windows side went away (request aborted): stop git as a web
        // server's disconnect would.
        let _ = child.kill();
    }
    let status = child.wait()?;
    let code = status.code().unwrap_or(128);
    let _ = frame(&out, 3, &code.to_be_bytes());
    let _ = sock.shutdown(Shutdown::Both);
    drop(feeder);
    Ok(())
}

impl Relay {
    fn start(home: &Path) -> Relay {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let home = home.to_path_buf();
        let prefix = win_build().prefix.clone();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let (home, prefix) = (home.clone(), prefix.clone());
                std::thread::spawn(move || {
                    let _ = relay_one(s, home, prefix);
                });
            }
        });
        Relay { addr }
    }
}

// ---------- the emulated IIS ----------

struct Emulator {
    child: Child,
    stdin: Option<ChildStdin>,
    out: BufReader<std::process::ChildStdout>,
    port: u16,
    log: PathBuf,
}

impl Emulator {
    /// Starts our exe under the emulated IIS with `GIT_PROJECT_ROOT=root`.
    fn start(session: &WineSession, root: &Path, relay: &Relay, tag: &str) -> Emulator {
        let b = win_build();
        let id = format!("{}-{}-{}", tag, std::process::id(), rand_suffix());
        // Kept after the test (target/wine/logs) for a look when it fails.
        let logs = manifest_dir().join("target/wine/logs");
        std::fs::create_dir_all(&logs).unwrap();
        let log = logs.join(format!("backend-{tag}.log"));
        let _ = std::fs::remove_file(&log);
        let mut child = Command::new("wine")
            .arg(&b.emulator)
            .arg(&id)
            .arg(winpath(&b.backend))
            .env("WINEPREFIX", &session.prefix)
            .env("WINEDEBUG", "-all")
            .env("GIT_PROJECT_ROOT", winpath(root))
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("GIT_RELAY_ADDR", &relay.addr)
            // As setup.cmd does: the directory of git.exe (Git for Windows'
            // libexec\git-core), not GIT_HTTP_BACKEND_GIT.
            .env("GIT_EXEC_PATH", winpath(&b.git_dir))
            .env("GIT_HTTP_BACKEND_LOG", "debug")
            .env("GIT_HTTP_BACKEND_LOG_FILE", winpath(&log))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("wine runs");
        let stdin = child.stdin.take();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let port: u16 = line
            .trim()
            .strip_prefix("port ")
            .unwrap_or_else(|| panic!("emulator said {line:?}"))
            .parse()
            .unwrap();
        Emulator {
            child,
            stdin,
            out,
            port,
            log,
        }
    }

    fn connect(&self) -> Client {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        Client { s }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Signals IIS's shutdown event; returns what the emulator saw (`exit 0`).
    fn shutdown(mut self) -> String {
        let mut stdin = self.stdin.take().unwrap();
        stdin.write_all(b"shutdown\n").unwrap();
        drop(stdin);
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        let _ = self.child.wait();
        line.trim().to_string()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

// ---------- a small FastCGI client ----------

const BEGIN: u8 = 1;
const ABORT: u8 = 2;
const END: u8 = 3;
const PARAMS: u8 = 4;
const STDIN: u8 = 5;
const STDOUT: u8 = 6;
const GET_VALUES: u8 = 9;
const GET_VALUES_RESULT: u8 = 10;

fn rec(t: u8, id: u16, content: &[u8]) -> Vec<u8> {
    let mut v = vec![1, t, (id >> 8) as u8, id as u8];
    v.extend_from_slice(&(content.len() as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(content);
    v
}

fn nv(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for len in [name.len(), value.len()] {
        if len < 128 {
            v.push(len as u8);
        } else {
            v.extend_from_slice(&((len as u32) | 0x8000_0000).to_be_bytes());
        }
    }
    v.extend_from_slice(name);
    v.extend_from_slice(value);
    v
}

struct Client {
    s: TcpStream,
}

#[derive(Debug)]
struct Reply {
    stdout: Vec<u8>,
    app_status: u32,
}

impl Reply {
    fn status(&self) -> u16 {
        let text = String::from_utf8_lossy(&self.stdout);
        match text.strip_prefix("Status: ") {
            Some(rest) => rest[..3].parse().unwrap(),
            None => 200,
        }
    }
    fn body(&self) -> &[u8] {
        let pos = self
            .stdout
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("header end");
        &self.stdout[pos + 4..]
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl Client {
    fn send(&mut self, b: &[u8]) {
        self.s.write_all(b).unwrap();
    }

    fn read(&mut self) -> Option<(u8, u16, Vec<u8>)> {
        let mut h = [0u8; 8];
        if self.s.read_exact(&mut h).is_err() {
            return None;
        }
        let len = u16::from_be_bytes([h[4], h[5]]) as usize + h[6] as usize;
        let mut body = vec![0u8; len];
        self.s.read_exact(&mut body).unwrap();
        body.truncate(u16::from_be_bytes([h[4], h[5]]) as usize);
        Some((h[1], u16::from_be_bytes([h[2], h[3]]), body))
    }

    fn get_values(&mut self) -> Vec<(String, String)> {
        let mut q = Vec::new();
        for n in ["FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"] {
            q.extend(nv(n.as_bytes(), b""));
        }
        self.send(&rec(GET_VALUES, 0, &q));
        let (t, _, mut b) = self.read().expect("GET_VALUES_RESULT");
        assert_eq!(t, GET_VALUES_RESULT);
        let mut out = Vec::new();
        while !b.is_empty() {
            let (n, v) = (b[0] as usize, b[1] as usize);
            out.push((
                String::from_utf8_lossy(&b[2..2 + n]).into_owned(),
                String::from_utf8_lossy(&b[2 + n..2 + n + v]).into_owned(),
            ));
            b.drain(..2 + n + v);
        }
        out
    }

    fn start(&mut self, id: u16, keep: bool, params: &[(&str, &str)]) {
        self.send(&rec(BEGIN, id, &[0, 1, keep as u8, 0, 0, 0, 0, 0]));
        let mut all = Vec::new();
        for (n, v) in params {
            all.extend(nv(n.as_bytes(), v.as_bytes()));
        }
        self.send(&rec(PARAMS, id, &all));
        self.send(&rec(PARAMS, id, b""));
    }

    fn body(&mut self, id: u16, data: &[u8]) {
        for chunk in data.chunks(65535) {
            self.send(&rec(STDIN, id, chunk));
        }
    }

    fn reply(&mut self, id: u16) -> Reply {
        let mut stdout = Vec::new();
        loop {
            let (t, rid, body) = self.read().expect("connection closed before END_REQUEST");
            assert_eq!(rid, id);
            match t {
                STDOUT => stdout.extend(body),
                END => {
                    return Reply {
                        stdout,
                        app_status: u32::from_be_bytes([body[0], body[1], body[2], body[3]]),
                    };
                }
                7 => panic!("FCGI_STDERR must never be sent (IIS answers 500): {body:?}"),
                other => panic!("unexpected record type {other}"),
            }
        }
    }

    fn request(&mut self, id: u16, keep: bool, params: &[(&str, &str)], body: &[u8]) -> Reply {
        self.start(id, keep, params);
        self.body(id, body);
        self.send(&rec(STDIN, id, b""));
        self.reply(id)
    }

    /// True if the server closed the connection (the emulator carries the pipe's
    /// disconnect to TCP).
    fn closed(&mut self) -> bool {
        self.read().is_none()
    }
}

fn pkt(s: &str) -> String {
    format!("{:04x}{s}", s.len() + 4)
}

/// IIS-style parameters for `method path?query` (PATH_INFO already without the
/// virtual directory, as with `allowPathInfo`).
fn params<'a>(method: &'a str, path: &'a str, query: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("REQUEST_METHOD", method),
        ("PATH_INFO", path),
        ("QUERY_STRING", query),
        ("SERVER_SOFTWARE", "Microsoft-IIS/10.0"),
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("AUTH_USER", ""),
        ("LOGON_USER", ""),
        ("REMOTE_USER", ""),
    ]
}

#[test]
fn iis_pipe_request_sequence() {
    let session = WineSession::new();
    let (root, head) = make_root_with_head("win-iis");
    git(
        &root.0.join("r.git"),
        &["config", "core.logAllRefUpdates", "true"],
    );
    let relay = Relay::start(&root.0);
    let emu = Emulator::start(&session, &root.0, &relay, "seq");
    let started = Instant::now();

    // Connection 1 (kept): GET_VALUES tells the truth for one connection at a time,
    // then info/refs and a 404 on the same pipe connection.
    let mut c = emu.connect();
    let values = c.get_values();
    assert!(
        values.contains(&("FCGI_MAX_CONNS".into(), "1".into())),
        "{values:?}"
    );
    assert!(
        values.contains(&("FCGI_MAX_REQS".into(), "1".into())),
        "{values:?}"
    );
    assert!(
        values.contains(&("FCGI_MPXS_CONNS".into(), "0".into())),
        "{values:?}"
    );
    let r = c.request(
        1,
        true,
        &params("GET", "/r.git/info/refs", "service=git-upload-pack"),
        b"",
    );
    assert_eq!(r.status(), 200, "{}\nlog:\n{}", r.text(), emu.log_text());
    assert_eq!(r.app_status, 0);
    assert!(r.body().starts_with(b"001e# service=git-upload-pack\n0000"));
    assert!(
        r.text().contains(&format!("{head} refs/heads/main")),
        "{}",
        r.text()
    );
    let r = c.request(2, true, &params("GET", "/nope.git/info/refs", ""), b"");
    assert_eq!(r.status(), 404, "{}", r.text());
    drop(c);

    // Connection 2 (not kept): 403 (upload-archive is off by default); then the
    // server ends the connection, so the pipe is disconnected.
    let mut c = emu.connect();
    let r = c.request(
        1,
        false,
        &[
            params("POST", "/r.git/git-upload-archive", "").as_slice(),
            &[("CONTENT_TYPE", "application/x-git-upload-archive-request")],
        ]
        .concat(),
        b"0000",
    );
    assert_eq!(r.status(), 403, "{}", r.text());
    let t = Instant::now();
    assert!(c.closed(), "without keep-conn the pipe connection must end");
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "closed only after {:?}",
        t.elapsed()
    );
    drop(c);

    // Connection 3: upload-pack with a real pack in the reply.
    let mut c = emu.connect();
    let want = format!(
        "{}0000{}{}",
        pkt(&format!("want {head} side-band-64k ofs-delta\n")),
        pkt("done\n"),
        ""
    );
    let r = c.request(
        1,
        false,
        &[
            params("POST", "/r.git/git-upload-pack", "").as_slice(),
            &[("CONTENT_TYPE", "application/x-git-upload-pack-request")],
        ]
        .concat(),
        want.as_bytes(),
    );
    assert_eq!(r.status(), 200, "{}", r.text());
    assert!(
        r.body().windows(4).any(|w| w == b"PACK"),
        "no pack in the reply: {}",
        r.text()
    );
    drop(c);

    // Connection 4: a push (a new branch with a new commit, pack built by git).
    let w = root.0.join("work");
    std::fs::write(w.join("g"), "pushed through the IIS pipe\n").unwrap();
    git(&w, &["add", "g"]);
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
            "two",
        ],
    );
    let new = String::from_utf8(git(&w, &["rev-parse", "HEAD"])).unwrap();
    let new = new.trim();
    let mut pack = Command::new("git")
        .args(["pack-objects", "--stdout", "--revs", "-q"])
        .current_dir(&w)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    pack.stdin
        .take()
        .unwrap()
        .write_all(format!("{new}\n^{head}\n").as_bytes())
        .unwrap();
    let pack = pack.wait_with_output().unwrap().stdout;
    let mut body = format!(
        "{}0000",
        pkt(&format!(
            "{} {new} refs/heads/pushed\0report-status\n",
            "0".repeat(40)
        ))
    )
    .into_bytes();
    body.extend_from_slice(&pack);
    let mut c = emu.connect();
    let mut p = params("POST", "/r.git/git-receive-pack", "");
    p.retain(|(k, _)| *k != "REMOTE_USER");
    p.extend([
        ("CONTENT_TYPE", "application/x-git-receive-pack-request"),
        ("REMOTE_USER", "CONTOSO\\alice"),
    ]);
    let r = c.request(1, false, &p, &body);
    assert_eq!(r.status(), 200, "{}", r.text());
    assert!(r.text().contains("unpack ok"), "{}", r.text());
    assert!(r.text().contains("ok refs/heads/pushed"), "{}", r.text());
    drop(c);
    let got = String::from_utf8(git(
        &root.0.join("r.git"),
        &["rev-parse", "refs/heads/pushed"],
    ))
    .unwrap();
    assert_eq!(got.trim(), new);
    // The domain user name reached git as the committer (reflog).
    let reflog =
        std::fs::read_to_string(root.0.join("r.git/logs/refs/heads/pushed")).unwrap_or_default();
    assert!(reflog.contains("CONTOSO\\alice"), "{reflog}");

    // Connection 5: an aborted push (half a pack, then ABORT_REQUEST).
    let mut c = emu.connect();
    c.start(1, true, &p);
    let line = pkt(&format!(
        "{} {} refs/heads/aborted\0report-status\n",
        "0".repeat(40),
        "1".repeat(40)
    ));
    let mut partial = format!("{line}0000").into_bytes();
    partial.extend_from_slice(b"PACK\0\0\0\x02\0\0\0\x05");
    partial.extend_from_slice(&[0x95; 4000]);
    c.body(1, &partial);
    std::thread::sleep(Duration::from_millis(500));
    c.send(&rec(ABORT, 1, b""));
    // END_REQUEST still comes, the abort is logged (to the log file, never as
    // FCGI_STDERR), and neither the ref nor a git process is left.
    let _ = c.reply(1);
    assert!(
        emu.log_text()
            .contains("request 1 aborted by the web server"),
        "{}",
        emu.log_text()
    );
    drop(c);
    wait_no_processes_in(&root.0.join("r.git"));
    let refs = git(
        &root.0.join("r.git"),
        &["for-each-ref", "--format=%(refname)"],
    );
    assert!(!String::from_utf8_lossy(&refs).contains("aborted"));

    // Connection 6: the process still serves after the abort.
    let mut c = emu.connect();
    let r = c.request(
        1,
        false,
        &params("GET", "/r.git/info/refs", "service=git-upload-pack"),
        b"",
    );
    assert_eq!(r.status(), 200, "{}", r.text());
    drop(c);

    // Shutdown: IIS's shutdown event ends the process with 0.
    let log = emu.log_text();
    assert_eq!(emu.shutdown(), "exit 0", "backend log:\n{log}");
    assert!(log.contains("IIS pipe"), "log file under IIS: {log}");
    assert!(!log.contains("connection cap reached"), "{log}");
    eprintln!(
        "IIS pipe sequence: 6 connections, 8 requests in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

/// A port that was free a moment ago (nginx binds it itself).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn id_name(flag: &str) -> String {
    let out = Command::new("id").arg(flag).output().expect("id runs");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// nginx on 127.0.0.1 passing every request to the emulated IIS pipe over
/// FastCGI (one connection per request, as IIS connects per request).
struct Nginx {
    child: Child,
    port: u16,
    run: PathBuf,
}

impl Nginx {
    fn start(run: &Path, fcgi_port: u16) -> Nginx {
        std::fs::create_dir_all(run).unwrap();
        let port = free_port();
        let conf = format!(
            "user {user} {group};
worker_processes 1;
daemon off;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {run}/access.log;
    client_body_temp_path {run}/client_body;
    fastcgi_temp_path {run}/fastcgi_temp;
    proxy_temp_path {run}/proxy_temp;
    uwsgi_temp_path {run}/uwsgi_temp;
    scgi_temp_path {run}/scgi_temp;
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        # IIS's default convention (no allowPathInfo): PATH_INFO is the whole
        # URL path, as SCRIPT_NAME, and APPL_MD_PATH names the application /git.
        location /git/ {{
            fastcgi_pass 127.0.0.1:{fcgi_port};
            fastcgi_read_timeout 120s;
            fastcgi_param REQUEST_METHOD    $request_method;
            fastcgi_param QUERY_STRING      $query_string;
            fastcgi_param CONTENT_TYPE      $content_type;
            fastcgi_param CONTENT_LENGTH    $content_length;
            fastcgi_param PATH_INFO         $uri;
            fastcgi_param SCRIPT_NAME       $uri;
            fastcgi_param APPL_MD_PATH      /LM/W3SVC/1/ROOT/git;
            fastcgi_param AUTH_TYPE         \"\";
            fastcgi_param SERVER_PROTOCOL   $server_protocol;
            fastcgi_param GATEWAY_INTERFACE CGI/1.1;
            fastcgi_param SERVER_SOFTWARE   Microsoft-IIS/10.0;
            fastcgi_param REMOTE_ADDR       $remote_addr;
            fastcgi_param REMOTE_USER       \"\";
            fastcgi_param AUTH_USER         \"\";
            fastcgi_param LOGON_USER        \"\";
            fastcgi_param HTTP_GIT_PROTOCOL $http_git_protocol;
        }}
    }}
}}
",
            user = id_name("-un"),
            group = id_name("-gn"),
            run = run.display(),
        );
        let conf_path = run.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new("nginx")
            .arg("-c")
            .arg(&conf_path)
            .arg("-p")
            .arg(run)
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx must be installed");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Nginx {
            child,
            port,
            run: run.to_path_buf(),
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM (not SIGKILL, which orphans the workers): nginx stops them.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(self.run.join("client_body"));
    }
}

/// Runs a git client command; panics with its stderr on failure.
fn git_client(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Real git through nginx -> the emulated IIS pipe -> our exe -> real git, with
/// IIS's default variables (whole URL path in PATH_INFO and SCRIPT_NAME,
/// APPL_MD_PATH; see src/iis.rs), git.exe found through GIT_EXEC_PATH, and a
/// 4 MiB blob pushed and fetched through the pipe.
#[test]
fn git_clone_fetch_push_through_nginx_and_the_iis_pipe() {
    let session = WineSession::new();
    let (root, head) = make_root_with_head("win-nginx");
    let relay = Relay::start(&root.0);
    let emu = Emulator::start(&session, &root.0, &relay, "nginx");
    let nginx = Nginx::start(&root.0.join("nginx"), emu.port);
    let url = format!("http://127.0.0.1:{}/git/r.git", nginx.port);
    let started = Instant::now();

    // Clone (protocol v2 and v0).
    git_client(&root.0, &["clone", "-q", &url, "c1"]);
    let c1 = root.0.join("c1");
    assert_eq!(git_client(&c1, &["rev-parse", "HEAD"]).trim(), head);
    git_client(
        &root.0,
        &["-c", "protocol.version=0", "clone", "-q", &url, "c0"],
    );

    // Push a new commit from c1, with 4 MiB that do not compress: far more than
    // the pipe's buffer, so overlapped reads and writes really wait.
    std::fs::write(c1.join("h"), "through nginx and the IIS pipe\n").unwrap();
    let mut big = Vec::with_capacity(4 << 20);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while big.len() < 4 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        big.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(c1.join("big.bin"), &big).unwrap();
    git_client(&c1, &["add", "h", "big.bin"]);
    git_client(
        &c1,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "-m",
            "three",
        ],
    );
    git_client(&c1, &["push", "-q", "origin", "main"]);
    let pushed = git_client(&c1, &["rev-parse", "HEAD"]);
    assert_eq!(
        String::from_utf8(git(&root.0.join("r.git"), &["rev-parse", "main"]))
            .unwrap()
            .trim(),
        pushed.trim()
    );

    // Fetch it into the other clone.
    let c0 = root.0.join("c0");
    git_client(&c0, &["fetch", "-q", "origin"]);
    assert_eq!(
        git_client(&c0, &["rev-parse", "origin/main"]).trim(),
        pushed.trim()
    );
    git_client(&c0, &["merge", "-q", "--ff-only", "origin/main"]);
    assert_eq!(std::fs::read(c0.join("big.bin")).unwrap(), big);
    let elapsed = started.elapsed();
    drop(nginx);
    assert_eq!(emu.shutdown(), "exit 0");
    eprintln!(
        "git clone x2, push, fetch through nginx -> IIS pipe -> wine: {:.1}s",
        elapsed.as_secs_f64()
    );
}

/// One CGI run: (status line or 200, headers without the time-dependent values,
/// body).
type CgiReply = (String, Vec<(String, String)>, Vec<u8>);

fn parse_cgi(out: &[u8]) -> CgiReply {
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(out)));
    let head = String::from_utf8_lossy(&out[..end]).into_owned();
    let mut status = "200".to_string();
    let mut headers = Vec::new();
    for line in head.split("\r\n") {
        let (k, v) = line.split_once(": ").unwrap_or((line, ""));
        match k {
            "Status" => status = v.to_string(),
            // Dates differ between two runs; their presence must not.
            "Expires" | "Last-Modified" | "Date" => headers.push((k.to_string(), "<date>".into())),
            _ => headers.push((k.to_string(), v.to_string())),
        }
    }
    (status, headers, out[end + 4..].to_vec())
}

#[test]
fn cgi_mode_under_wine_matches_stock() {
    let session = WineSession::new();
    let (root, _head) = make_root_with_head("win-cgi");
    let repo = root.0.join("r.git");
    git(&repo, &["repack", "-a", "-d", "-q"]);
    git(&repo, &["update-server-info"]);
    let loose = String::from_utf8(git(&repo, &["hash-object", "-w", "--stdin"])).unwrap();
    let loose = loose.trim().to_string();
    let pack = std::fs::read_dir(repo.join("objects/pack"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with(".pack"))
        .expect("a pack");
    let relay = Relay::start(&root.0);
    let b = win_build();
    let stock = {
        let out = Command::new("git").arg("--exec-path").output().unwrap();
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()).join("git-http-backend")
    };
    let loose_path = format!("/r.git/objects/{}/{}", &loose[..2], &loose[2..]);
    let pack_path = format!("/r.git/objects/pack/{pack}");
    let idx_path = pack_path.replace(".pack", ".idx");
    let cases: Vec<(&str, &str, &str, &str, &[u8])> = vec![
        ("GET", "/r.git/HEAD", "", "", b""),
        ("GET", "/r.git/info/refs", "", "", b""),
        (
            "GET",
            "/r.git/info/refs",
            "service=git-upload-pack",
            "",
            b"",
        ),
        ("GET", "/r.git/objects/info/packs", "", "", b""),
        ("GET", &loose_path, "", "", b""),
        ("GET", &pack_path, "", "", b""),
        ("GET", &idx_path, "", "", b""),
        ("GET", "/r.git/objects/info/alternates", "", "", b""),
        ("GET", "/nope.git/HEAD", "", "", b""),
        ("GET", "/r.git/no-such-route", "", "", b""),
        ("POST", "/r.git/HEAD", "", "", b""),
        (
            "POST",
            "/r.git/git-upload-archive",
            "",
            "application/x-git-upload-archive-request",
            b"0000",
        ),
        ("POST", "/r.git/git-upload-pack", "", "text/plain", b"0000"),
    ];
    let base =
        |cmd: &mut Command, method: &str, path: &str, query: &str, ctype: &str, len: usize| {
            cmd.env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("HOME", &root.0)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_HTTP_EXPORT_ALL", "1")
                .env("GATEWAY_INTERFACE", "CGI/1.1")
                .env("SERVER_PROTOCOL", "HTTP/1.1")
                .env("REQUEST_METHOD", method)
                .env("PATH_INFO", path)
                .env("QUERY_STRING", query)
                .env("CONTENT_TYPE", ctype)
                .env("CONTENT_LENGTH", len.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
        };
    let run = |mut cmd: Command, body: &[u8]| -> Vec<u8> {
        let mut child = cmd.spawn().expect("starts");
        // A backend that answers without reading the body closes its stdin first.
        let _ = child.stdin.take().unwrap().write_all(body);
        child.wait_with_output().unwrap().stdout
    };
    let started = Instant::now();
    let mut same_as_stock = 0;
    for (method, path, query, ctype, body) in &cases {
        let mut s = Command::new(&stock);
        base(&mut s, method, path, query, ctype, body.len());
        s.env("GIT_PROJECT_ROOT", &root.0);
        let theirs = parse_cgi(&run(s, body));
        let mut w = Command::new("wine");
        w.arg(&b.backend);
        base(&mut w, method, path, query, ctype, body.len());
        w.env("WINEPREFIX", &session.prefix)
            .env("WINEDEBUG", "-all")
            .env("GIT_PROJECT_ROOT", winpath(&root.0))
            .env("GIT_RELAY_ADDR", &relay.addr)
            // As setup.cmd does: the directory of git.exe (Git for Windows'
            // libexec\git-core), not GIT_HTTP_BACKEND_GIT.
            .env("GIT_EXEC_PATH", winpath(&b.git_dir));
        let ours = parse_cgi(&run(w, body));
        let mut l = Command::new(BIN);
        base(&mut l, method, path, query, ctype, body.len());
        l.env("GIT_PROJECT_ROOT", &root.0);
        let linux = parse_cgi(&run(l, body));
        // The Windows build answers exactly as the Linux build, which the
        // differential suite holds to stock (with its listed deliberate
        // differences, e.g. stock doubling the headers of a missing dumb file).
        assert_eq!(
            (&ours.0, &ours.1),
            (&linux.0, &linux.1),
            "{method} {path}?{query}: status and headers (Windows, Linux build)"
        );
        assert!(
            ours.2 == linux.2,
            "{method} {path}?{query}: body differs:\nWindows: {:?}\nLinux:   {:?}",
            String::from_utf8_lossy(&ours.2[..ours.2.len().min(300)]),
            String::from_utf8_lossy(&linux.2[..linux.2.len().min(300)])
        );
        if ours == theirs {
            same_as_stock += 1;
        } else {
            eprintln!("{method} {path}?{query}: differs from stock as the Linux build does");
        }
    }
    assert!(
        same_as_stock >= cases.len() - 2,
        "{same_as_stock} of {}",
        cases.len()
    );
    eprintln!(
        "CGI under wine: {} cases identical to the Linux build, {same_as_stock} also to stock, in {:.1}s",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
}

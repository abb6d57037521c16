//! Reliability and operations, end to end with our real binary and real git clients:
//! the access log (the same line in CGI, FastCGI and `serve`), the overload limiter
//! (503 + Retry-After, git's error text, the wait queue), `serve`'s connection cap
//! and body pace against slow-drip clients, 503 (never 404) when the process runs
//! out of file descriptors (`prlimit`), and the FastCGI server's refusal to listen
//! on a non-loopback address.
#![cfg(unix)]

mod common;

use common::{BIN, Daemon, TempDir, make_root_with_head};
use git_http_backend_rs::transport::fastcgi::record::{
    self, BeginRequest, Decoded, ROLE_RESPONDER, RecordType,
};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- helpers

fn pkt(s: &str) -> Vec<u8> {
    format!("{:04x}{s}", s.len() + 4).into_bytes()
}

/// A protocol v2 `ls-refs` request body.
fn ls_refs_body() -> Vec<u8> {
    let mut b = pkt("command=ls-refs\n");
    b.extend_from_slice(b"0001");
    b.extend_from_slice(&pkt("ref-prefix refs/heads/\n"));
    b.extend_from_slice(b"0000");
    b
}

/// Sets the soft `RLIMIT_NOFILE` of `pid` with `prlimit` from util-linux (a missing
/// tool fails the test); the hard limit stays, so it can be raised back.
fn prlimit(pid: u32, nofile: usize) {
    let st = Command::new("prlimit")
        .arg("--pid")
        .arg(pid.to_string())
        .arg(format!("--nofile={nofile}:"))
        .status()
        .expect("prlimit (util-linux) must be installed");
    assert!(st.success(), "prlimit failed");
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// The JSON lines of an access log file.
fn log_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// Fields every access-log line has, in order.
const FIELDS: &[&str] = &[
    "time",
    "client",
    "user",
    "method",
    "repo",
    "route",
    "service",
    "protocol",
    "status",
    "bytes_in",
    "bytes_out",
    "ms",
    "git_exit",
];

fn assert_fields(line: &Value) {
    let obj = line.as_object().expect("a JSON object");
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    let mut want: Vec<&str> = FIELDS.to_vec();
    want.sort();
    let mut got = keys.clone();
    got.sort();
    assert_eq!(got, want, "fields of {line}");
    let time = line["time"].as_str().unwrap();
    assert!(
        time.len() == 24 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "time {time}"
    );
    assert!(line["ms"].as_u64().is_some());
}

/// The fields that do not depend on the transport or the clock.
fn comparable(line: &Value) -> Vec<(String, Value)> {
    [
        "method",
        "repo",
        "route",
        "service",
        "protocol",
        "status",
        "bytes_in",
        "bytes_out",
        "git_exit",
    ]
    .iter()
    .map(|k| (k.to_string(), line[*k].clone()))
    .collect()
}

// ---------------------------------------------------------------- CGI

/// These tests count git children (limiter slots, git's exit status in the access
/// log): advertisements and `ls-refs` must run git, not the in-process fast path.
const NO_INPROCESS: &str = "0";

fn cgi(root: &Path, vars: &[(&str, &str)], body: &[u8], nofile: Option<usize>) -> Output {
    let mut cmd = match nofile {
        Some(n) => {
            let mut c = Command::new("prlimit");
            c.arg(format!("--nofile={n}:{n}")).arg(BIN);
            c
        }
        None => Command::new(BIN),
    };
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GIT_HTTP_INPROCESS_ADVERTISE", NO_INPROCESS)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("CONTENT_LENGTH", body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run the CGI");
    let mut stdin = child.stdin.take().unwrap();
    let body = body.to_vec();
    let w = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let out = child.wait_with_output().unwrap();
    let _ = w.join();
    out
}

// ---------------------------------------------------------------- FastCGI

fn fcgi_head(params: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    let begin = BeginRequest {
        role: ROLE_RESPONDER,
        flags: 0,
    };
    record::encode(RecordType::BEGIN_REQUEST, 1, &begin.to_bytes(), &mut out);
    let mut pairs = Vec::new();
    for (k, v) in params {
        record::encode_pair(k.as_bytes(), v.as_bytes(), &mut pairs);
    }
    record::encode_stream(RecordType::PARAMS, 1, &pairs, &mut out);
    record::encode(RecordType::PARAMS, 1, &[], &mut out);
    out
}

/// Starts a FastCGI request whose body stops after `partial` (the connection stays
/// open): a request that holds its slot.
fn fcgi_hold(sock: &Path, params: &[(&str, &str)], partial: &[u8]) -> UnixStream {
    let mut s = UnixStream::connect(sock).unwrap();
    let mut out = fcgi_head(params);
    record::encode_stream(RecordType::STDIN, 1, partial, &mut out);
    s.write_all(&out).unwrap();
    s
}

/// One complete FastCGI request; returns the CGI reply (STDOUT stream).
fn fcgi(sock: &Path, params: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    fcgi_try(sock, params, body).expect("connection closed before END_REQUEST")
}

/// [`fcgi`], or `None` if the daemon closed the connection without a reply.
fn fcgi_try(sock: &Path, params: &[(&str, &str)], body: &[u8]) -> Option<Vec<u8>> {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut out = fcgi_head(params);
    record::encode_stream(RecordType::STDIN, 1, body, &mut out);
    record::encode(RecordType::STDIN, 1, &[], &mut out);
    s.write_all(&out).unwrap();
    let mut buf = Vec::new();
    let mut stdout = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        loop {
            match record::decode(&buf) {
                Ok(Decoded::Record(rec, used)) => {
                    let (rtype, content) = (rec.rtype, rec.content.to_vec());
                    buf.drain(..used);
                    if rtype == RecordType::STDOUT {
                        stdout.extend_from_slice(&content);
                    } else if rtype == RecordType::END_REQUEST {
                        return Some(stdout);
                    }
                }
                Ok(Decoded::Incomplete) => break,
                Err(e) => panic!("bad record: {e}"),
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn fcgi_params<'a>(root: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v = vec![
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("GIT_PROJECT_ROOT", root),
        ("REMOTE_ADDR", "10.1.2.3"),
    ];
    v.extend_from_slice(extra);
    v
}

// ---------------------------------------------------------------- serve

struct Serve {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- serve log ---\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

impl Serve {
    fn start(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Serve {
        let log = root.join(format!("serve-{}.log", args.len() * 7 + env.len()));
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .arg(root)
            .env("GIT_HTTP_INPROCESS_ADVERTISE", NO_INPROCESS)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_HTTP_BACKEND_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let addr = first
            .split("http://")
            .nth(1)
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .trim()
            .trim_end_matches('/')
            .to_string();
        Serve { child, addr, log }
    }

    fn url(&self, repo: &str) -> String {
        format!("http://{}/{repo}", self.addr)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A GET through a fresh connection: (status, headers lowercased, body).
fn http_get(addr: &str, path: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a reply head");
    let head = String::from_utf8_lossy(&all[..end]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    (status, head, all[end + 4..].to_vec())
}

/// A POST whose body stops after `partial` bytes of `len` (the connection stays open).
fn http_hold(addr: &str, path: &str, ctype: &str, len: usize, partial: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\nContent-Length: {len}\r\n\r\n"
    )
    .unwrap();
    s.write_all(partial).unwrap();
    s
}

fn git_cmd(home: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(home)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_PROTOCOL")
        .env_remove("GIT_DIR")
        .stdin(Stdio::null());
    c
}

/// Runs git, killing it after `limit` (a hang is a failure, not a stuck test).
fn git_bounded(home: &Path, args: &[&str], limit: Duration) -> Output {
    let child = git_cmd(home)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let d2 = done.clone();
    let killer = std::thread::spawn(move || {
        let start = Instant::now();
        while !d2.load(Ordering::SeqCst) {
            if start.elapsed() > limit {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    });
    let out = child.wait_with_output().unwrap();
    done.store(true, Ordering::SeqCst);
    assert!(
        !killer.join().unwrap(),
        "git {args:?} hung (killed after {limit:?})"
    );
    out
}

const UP_REQ: &str = "application/x-git-upload-pack-request";
const RP_REQ: &str = "application/x-git-receive-pack-request";

/// The start of a push to a new branch: the command list and the first bytes of a
/// pack. With more promised than sent, git receive-pack runs and waits: the request
/// holds a git slot.
fn partial_push(head: &str) -> Vec<u8> {
    let mut b = pkt(&format!(
        "{} {head} refs/heads/held\0report-status\n",
        "0".repeat(40)
    ));
    b.extend_from_slice(b"0000PACK");
    b
}

// ---------------------------------------------------------------- access log

#[test]
fn access_log_same_line_in_cgi_fastcgi_and_serve() {
    let (root, _) = make_root_with_head("alog");
    let root_s = root.0.display().to_string();
    let body = ls_refs_body();
    let len = body.len().to_string();

    // CGI
    let cgi_log = root.0.join("cgi.jsonl");
    let post = [
        ("REQUEST_METHOD", "POST"),
        ("PATH_INFO", "/r.git/git-upload-pack"),
        ("CONTENT_TYPE", UP_REQ),
        ("HTTP_GIT_PROTOCOL", "version=2"),
        ("REMOTE_USER", "alice"),
        ("REMOTE_ADDR", "10.1.2.3"),
    ];
    let mut vars = post.to_vec();
    let cgi_log_s = cgi_log.display().to_string();
    vars.push(("GIT_HTTP_ACCESS_LOG", &cgi_log_s));
    let out = cgi(&root.0, &vars, &body, None);
    assert!(out.status.success());
    let out = cgi(
        &root.0,
        &[
            ("REQUEST_METHOD", "GET"),
            ("PATH_INFO", "/nothere.git/HEAD"),
            ("GIT_HTTP_ACCESS_LOG", &cgi_log_s),
        ],
        b"",
        None,
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Status: 404"));
    let lines = log_lines(&cgi_log);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for l in &lines {
        assert_fields(l);
    }
    let l = &lines[0];
    assert_eq!(l["client"], "10.1.2.3");
    assert_eq!(l["user"], "alice");
    assert_eq!(l["method"], "POST");
    assert_eq!(l["repo"], "/r.git");
    assert_eq!(l["route"], "git-upload-pack");
    assert_eq!(l["service"], "upload-pack");
    assert_eq!(l["protocol"], 2);
    assert_eq!(l["status"], 200);
    assert_eq!(l["bytes_in"], body.len());
    assert!(l["bytes_out"].as_u64().unwrap() > 40, "{l}");
    assert_eq!(l["git_exit"], 0);
    let nf = &lines[1];
    assert_eq!(nf["status"], 404);
    assert_eq!(nf["repo"], "/nothere.git");
    assert_eq!(nf["route"], "HEAD");
    assert!(nf["git_exit"].is_null() && nf["user"].is_null() && nf["service"].is_null());

    // FastCGI (--access-log is the alias of GIT_HTTP_ACCESS_LOG)
    let dir = TempDir::new("alog-fcgi");
    let fcgi_log = dir.0.join("fcgi.jsonl");
    let d = Daemon::start(
        &dir.0,
        &["--access-log", fcgi_log.to_str().unwrap()],
        &[("GIT_HTTP_INPROCESS_ADVERTISE", NO_INPROCESS)],
    );
    let mut params = fcgi_params(&root_s, &post);
    params.push(("CONTENT_LENGTH", &len));
    let reply = fcgi(&d.sock, &params, &body);
    assert!(
        reply.starts_with(b"Expires"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    assert!(wait_for(Duration::from_secs(5), || log_lines(&fcgi_log)
        .len()
        == 1));
    let f = &log_lines(&fcgi_log)[0];
    assert_fields(f);
    assert_eq!(comparable(f), comparable(l), "FastCGI line vs CGI line");
    assert_eq!((&f["client"], &f["user"]), (&l["client"], &l["user"]));

    // serve: the same request over HTTP, then a real git client.
    let serve_log = root.0.join("serve.jsonl");
    let s = Serve::start(&root.0, &["--access-log", serve_log.to_str().unwrap()], &[]);
    let mut conn = TcpStream::connect(&s.addr).unwrap();
    write!(
        conn,
        "POST /r.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nContent-Type: {UP_REQ}\r\n\
         Git-Protocol: version=2\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    conn.write_all(&body).unwrap();
    let _ = conn.read_to_end(&mut Vec::new());
    assert!(wait_for(Duration::from_secs(5), || log_lines(&serve_log)
        .len()
        == 1));
    let sv = &log_lines(&serve_log)[0];
    assert_fields(sv);
    assert_eq!(comparable(sv), comparable(l), "serve line vs CGI line");
    assert_eq!(sv["client"], "127.0.0.1");
    assert!(sv["user"].is_null());
    let home = root.0.join("work");
    let out = git_bounded(
        &home,
        &["-c", "protocol.version=2", "ls-remote", &s.url("r.git")],
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(wait_for(Duration::from_secs(5), || log_lines(&serve_log)
        .len()
        == 3));
    let lines = log_lines(&serve_log);
    assert_eq!(lines[1]["route"], "info/refs");
    assert_eq!(lines[1]["method"], "GET");
    assert_eq!(lines[1]["service"], "upload-pack");
    assert_eq!(lines[1]["protocol"], 2);
    assert_eq!(lines[1]["bytes_in"], 0);
    assert_eq!(lines[2]["route"], "git-upload-pack");
    assert_eq!(lines[2]["git_exit"], 0);
    assert!(lines[2]["bytes_in"].as_u64().unwrap() > 0);
}

// ---------------------------------------------------------------- limiter

#[test]
fn limiter_serve_503_git_error_text_and_queue() {
    let (root, head) = make_root_with_head("limit");
    let home = root.0.join("work");
    let s = Serve::start(
        &root.0,
        &[
            "--max-git",
            "1",
            "--max-git-per-repo",
            "1",
            "--max-queue",
            "0",
        ],
        &[],
    );
    // A push of which only the start arrives holds the only slot.
    let hold = http_hold(
        &s.addr,
        "/r.git/git-receive-pack",
        RP_REQ,
        100_000,
        &partial_push(&head),
    );
    common::wait_for_process_in(&root.0.join("r.git"), "receive-pack");
    let mut busy = (0, String::new(), Vec::new());
    assert!(
        wait_for(Duration::from_secs(10), || {
            busy = http_get(&s.addr, "/r.git/info/refs?service=git-upload-pack");
            busy.0 == 503
        }),
        "no 503 while the slot is held: {:?}",
        busy.0
    );
    assert!(busy.1.contains("\r\nretry-after: 5"), "{}", busy.1);
    assert!(String::from_utf8_lossy(&busy.2).contains("server busy"));
    // Dumb files need no git child: not limited.
    assert_eq!(http_get(&s.addr, "/r.git/HEAD").0, 200);
    // A real git client: git's own error text, at once.
    let started = Instant::now();
    let out = git_bounded(
        &home,
        &["ls-remote", &s.url("r.git")],
        Duration::from_secs(20),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("503"), "git said: {err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let overloaded = s.log_text().matches("overloaded:").count();
    assert!(overloaded >= 2, "one log line per 503:\n{}", s.log_text());
    drop(hold);
    assert!(wait_for(Duration::from_secs(10), || {
        git_bounded(
            &home,
            &["ls-remote", &s.url("r.git")],
            Duration::from_secs(20),
        )
        .status
        .success()
    }));

    // With a queue, a request waits for the slot instead of failing.
    let q = Serve::start(
        &root.0,
        &["--max-git=1", "--max-queue=4", "--max-queue-wait=30"],
        &[],
    );
    let hold = http_hold(
        &q.addr,
        "/r.git/git-receive-pack",
        RP_REQ,
        100_000,
        &partial_push(&head),
    );
    common::wait_for_process_in(&root.0.join("r.git"), "receive-pack");
    let url = q.url("r.git");
    let h2 = home.clone();
    let waiter = std::thread::spawn(move || {
        let t = Instant::now();
        let out = git_bounded(&h2, &["ls-remote", &url], Duration::from_secs(40));
        (out, t.elapsed())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(!waiter.is_finished(), "the queued request did not wait");
    drop(hold);
    let (out, waited) = waiter.join().unwrap();
    assert!(
        out.status.success(),
        "queued ls-remote: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(waited >= Duration::from_secs(2));
}

#[test]
fn limiter_fastcgi_503_with_retry_after() {
    let (root, head) = make_root_with_head("limit-fcgi");
    let root_s = root.0.display().to_string();
    let dir = TempDir::new("limit-fcgi-d");
    let d = Daemon::start(
        &dir.0,
        &[],
        &[
            ("GIT_HTTP_MAX_GIT", "1"),
            ("GIT_HTTP_MAX_QUEUE", "0"),
            ("GIT_HTTP_INPROCESS_ADVERTISE", NO_INPROCESS),
        ],
    );
    let hold_params = fcgi_params(
        &root_s,
        &[
            ("REQUEST_METHOD", "POST"),
            ("PATH_INFO", "/r.git/git-receive-pack"),
            ("CONTENT_TYPE", RP_REQ),
            ("CONTENT_LENGTH", "100000"),
            ("REMOTE_USER", "alice"),
        ],
    );
    let _hold = fcgi_hold(&d.sock, &hold_params, &partial_push(&head));
    common::wait_for_process_in(&root.0.join("r.git"), "receive-pack");
    let get = fcgi_params(
        &root_s,
        &[
            ("REQUEST_METHOD", "GET"),
            ("PATH_INFO", "/r.git/info/refs"),
            ("QUERY_STRING", "service=git-upload-pack"),
        ],
    );
    let mut reply = Vec::new();
    assert!(wait_for(Duration::from_secs(10), || {
        reply = fcgi(&d.sock, &get, b"");
        reply.starts_with(b"Status: 503")
    }));
    let text = String::from_utf8_lossy(&reply);
    assert!(
        text.starts_with("Status: 503 Service Unavailable\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nRetry-After: 5\r\n"), "{text}");
    assert!(text.contains("server busy"), "{text}");
    assert!(d.log_text().contains("overloaded:"));
}

// ---------------------------------------------------------------- slow clients

#[test]
fn serve_slow_drip_clients_cannot_exhaust_it() {
    let (root, _) = make_root_with_head("slow");
    let home = root.0.join("work");
    let s = Serve::start(
        &root.0,
        &["--max-connections", "8"],
        &[
            ("GIT_HTTP_HEADER_TIMEOUT", "2"),
            ("GIT_HTTP_BODY_TIMEOUT", "2"),
            ("GIT_HTTP_BODY_MIN_RATE", "500"),
        ],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for i in 0..20 {
        let addr = s.addr.clone();
        let stop = stop.clone();
        clients.push(std::thread::spawn(move || {
            let Ok(mut c) = TcpStream::connect(&addr) else {
                return;
            };
            let drip: Vec<u8> = match i % 3 {
                // Says nothing at all.
                0 => Vec::new(),
                // A request head, one byte at a time.
                1 => {
                    b"GET /r.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\n".to_vec()
                }
                // A push body, one byte at a time after the head.
                _ => {
                    let _ = write!(
                        c,
                        "POST /r.git/git-receive-pack HTTP/1.1\r\nHost: x\r\n\
                         Content-Type: application/x-git-receive-pack-request\r\n\
                         Content-Length: 100000\r\n\r\n"
                    );
                    // A command-list packet that never completes.
                    let mut v = b"00a0".to_vec();
                    v.extend_from_slice(&[b'a'; 996]);
                    v
                }
            };
            for b in drip.iter().cycle().take(200) {
                if stop.load(Ordering::SeqCst) || c.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(300));
            }
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let clone = root.0.join("clone");
    let out = git_bounded(
        &home,
        &["clone", "-q", &s.url("r.git"), clone.to_str().unwrap()],
        Duration::from_secs(60),
    );
    let took = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        let _ = c.join();
    }
    assert!(
        out.status.success(),
        "clone failed after {took:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(clone.join("f").exists());
    let log = s.log_text();
    assert!(log.contains("connection cap reached"), "{log}");
    assert!(
        log.contains("too slow"),
        "slow bodies were not cut off:\n{log}"
    );
    eprintln!("clone behind 20 slow clients (cap 8) took {took:?}");
}

// ---------------------------------------------------------------- exhaustion

fn assert_503(reply_head: &str, what: &str) {
    let lower = reply_head.to_ascii_lowercase();
    assert!(
        lower.starts_with("status: 503") || lower.starts_with("http/1.1 503"),
        "{what}: {reply_head}"
    );
    assert!(
        lower.contains("\r\nretry-after: 5\r\n"),
        "{what}: {reply_head}"
    );
    assert!(!lower.contains("404"), "{what}: {reply_head}");
}

#[test]
fn out_of_file_descriptors_is_503_in_every_mode() {
    let (root, _) = make_root_with_head("emfile");
    let root_s = root.0.display().to_string();
    // CGI: fds 0-2 plus one: enough to resolve the repository, not to start git.
    let out = cgi(
        &root.0,
        &[
            ("REQUEST_METHOD", "GET"),
            ("PATH_INFO", "/r.git/info/refs"),
            ("QUERY_STRING", "service=git-upload-pack"),
        ],
        b"",
        Some(4),
    );
    assert_503(&String::from_utf8_lossy(&out.stdout), "CGI");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one log line: {err}");
    assert!(err.contains("out of resources"), "{err}");

    // serve: the limit lowered on the running server.
    let s = Serve::start(&root.0, &[], &[]);
    let pid = s.child.id();
    let n = open_fds(pid);
    prlimit(pid, n + 1);
    let (status, head, _) = http_get(&s.addr, "/r.git/info/refs?service=git-upload-pack");
    assert_eq!(status, 503, "{head}");
    assert!(head.contains("\r\nretry-after: 5"), "{head}");
    prlimit(pid, 1024);
    assert_eq!(
        http_get(&s.addr, "/r.git/info/refs?service=git-upload-pack").0,
        200
    );
    assert_eq!(s.log_text().matches("out of resources").count(), 1);

    // FastCGI.
    let dir = TempDir::new("emfile-fcgi");
    let d = Daemon::start(&dir.0, &[], &[]);
    let pid = d.child.id();
    let get = fcgi_params(
        &root_s,
        &[
            ("REQUEST_METHOD", "GET"),
            ("PATH_INFO", "/r.git/info/refs"),
            ("QUERY_STRING", "service=git-upload-pack"),
        ],
    );
    assert!(fcgi(&d.sock, &get, b"").starts_with(b"Expires"));
    // With no fd to spare the connection itself cannot be taken on (the web
    // server sees it closed: 502); with a few, every answer is a 503 or a success,
    // never a 404 or 500.
    let mut got_503 = 0;
    for spare in 1..=6 {
        // Connections of earlier requests close asynchronously: count when settled.
        std::thread::sleep(Duration::from_millis(200));
        let n = open_fds(pid);
        prlimit(pid, n + spare);
        let reply = fcgi_try(&d.sock, &get, b"");
        eprintln!(
            "FastCGI with {spare} spare fd(s): {:?}",
            reply
                .as_ref()
                .map(|r| String::from_utf8_lossy(&r[..r.len().min(40)]).into_owned())
        );
        prlimit(pid, 1024);
        if let Some(reply) = reply {
            let text = String::from_utf8_lossy(&reply).into_owned();
            if text.starts_with("Status: 503") {
                assert_503(&text, "FastCGI");
                got_503 += 1;
            } else {
                assert!(text.starts_with("Expires"), "{spare} spare fds: {text}");
            }
        }
    }
    assert!(got_503 > 0, "no 503:\n{}", d.log_text());
    prlimit(pid, 1024);
    assert!(fcgi(&d.sock, &get, b"").starts_with(b"Expires"));
    assert_eq!(d.log_text().matches("out of resources").count(), got_503);
}

// ---------------------------------------------------------------- exposure

fn still_running_after(mut child: Child, wait: Duration) -> (bool, String) {
    std::thread::sleep(wait);
    let running = matches!(child.try_wait(), Ok(None));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    (running, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn fastcgi_on(addr: &str, extra: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.arg("--listen")
        .arg(addr)
        .args(extra)
        .env_remove("FCGI_WEB_SERVER_ADDRS")
        .env_remove("GIT_HTTP_ALLOW_REMOTE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

#[test]
fn fastcgi_refuses_non_loopback_tcp_unless_told() {
    let out = Command::new(BIN)
        .args(["--listen", "0.0.0.0:0"])
        .env_remove("FCGI_WEB_SERVER_ADDRS")
        .env_remove("GIT_HTTP_ALLOW_REMOTE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a loopback address")
            && err.contains("FCGI_WEB_SERVER_ADDRS")
            && err.contains("--allow-remote"),
        "{err}"
    );
    let wait = Duration::from_millis(700);
    let (up, err) = still_running_after(fastcgi_on("0.0.0.0:0", &["--allow-remote"], &[]), wait);
    assert!(up, "--allow-remote: {err}");
    let (up, err) = still_running_after(
        fastcgi_on("0.0.0.0:0", &[], &[("GIT_HTTP_ALLOW_REMOTE", "1")]),
        wait,
    );
    assert!(up, "GIT_HTTP_ALLOW_REMOTE=1: {err}");
    let (up, err) = still_running_after(
        fastcgi_on("0.0.0.0:0", &[], &[("FCGI_WEB_SERVER_ADDRS", "127.0.0.1")]),
        wait,
    );
    assert!(up, "FCGI_WEB_SERVER_ADDRS: {err}");
    let (up, err) = still_running_after(fastcgi_on("127.0.0.1:0", &[], &[]), wait);
    assert!(up, "loopback: {err}");
}

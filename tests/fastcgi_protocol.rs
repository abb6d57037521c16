//! The FastCGI responder spoken to directly: a small FastCGI client of its own
//! (independent of the crate's codec) talks to our binary started with
//! `--listen unix:...`, with a listening socket on fd 0 (spawn-fcgi style) or on TCP.
// These tests drive the Linux build with Linux web servers and git (Windows: tests/windows_iis.rs).
#![cfg(unix)]

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// ---------- temp dirs and the daemon ----------

impl Daemon {
    fn connect(&self) -> Client {
        Client::new(UnixStream::connect(&self.sock).unwrap())
    }
}

// ---------- a small FastCGI client, written from the spec ----------

use common::fcgi::{
    ABORT, BEGIN, DATA, END, GET_VALUES, GET_VALUES_RESULT, PARAMS, STDIN, STDOUT, UNKNOWN_TYPE,
    info_refs_params, name_value as nv, receive_pack_params as push_params, record as rec,
};

fn parse_nv(mut b: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let len = |b: &mut &[u8]| -> usize {
        if b[0] < 128 {
            let l = b[0] as usize;
            *b = &b[1..];
            l
        } else {
            let l = u32::from_be_bytes([b[0] & 0x7f, b[1], b[2], b[3]]) as usize;
            *b = &b[4..];
            l
        }
    };
    while !b.is_empty() {
        let n = len(&mut b);
        let v = len(&mut b);
        out.push((b[..n].to_vec(), b[n..n + v].to_vec()));
        b = &b[n + v..];
    }
    out
}

struct Client {
    s: UnixStream,
}

#[derive(Debug)]
struct Reply {
    stdout: Vec<u8>,
    app_status: u32,
    protocol_status: u8,
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
}

impl Client {
    fn new(s: UnixStream) -> Client {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Client { s }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// Reads one record; `None` on EOF.
    fn read(&mut self) -> Option<(u8, u16, Vec<u8>)> {
        let mut h = [0u8; 8];
        let mut got = 0;
        while got < 8 {
            match self.s.read(&mut h[got..]) {
                Ok(0) | Err(_) if got == 0 => return None,
                Ok(0) => panic!("EOF inside a record header"),
                Ok(n) => got += n,
                Err(e) => panic!("read: {e}"),
            }
        }
        assert_eq!(h[0], 1, "version");
        let len = u16::from_be_bytes([h[4], h[5]]) as usize;
        let pad = h[6] as usize;
        assert!(len <= 65535);
        let mut body = vec![0u8; len + pad];
        self.s.read_exact(&mut body).unwrap();
        body.truncate(len);
        Some((h[1], u16::from_be_bytes([h[2], h[3]]), body))
    }

    fn begin(&mut self, id: u16, role: u16, keep: bool) {
        let body = [(role >> 8) as u8, role as u8, keep as u8, 0, 0, 0, 0, 0];
        self.send(&rec(BEGIN, id, &body, 0));
    }

    fn params(&mut self, id: u16, pairs: &[(&[u8], &[u8])]) {
        let mut all = Vec::new();
        for (n, v) in pairs {
            all.extend(nv(n, v));
        }
        // Split in two records to check reassembly.
        let mid = all.len() / 2;
        self.send(&rec(PARAMS, id, &all[..mid], 3));
        self.send(&rec(PARAMS, id, &all[mid..], 0));
        self.send(&rec(PARAMS, id, b"", 0));
    }

    fn stdin(&mut self, id: u16, data: &[u8]) {
        for chunk in data.chunks(65535) {
            let pad = ((8 - chunk.len() % 8) % 8) as u8;
            self.send(&rec(STDIN, id, chunk, pad));
        }
    }

    /// Collects STDOUT until END_REQUEST for `id`.
    fn reply(&mut self, id: u16) -> Reply {
        let mut stdout = Vec::new();
        let mut ended_stdout = false;
        loop {
            let (t, rid, body) = self.read().expect("connection closed before END_REQUEST");
            assert_eq!(rid, id, "record for another request");
            match t {
                STDOUT if body.is_empty() => ended_stdout = true,
                STDOUT => {
                    assert!(!ended_stdout, "STDOUT after its end");
                    stdout.extend(body)
                }
                END => {
                    return Reply {
                        stdout,
                        app_status: u32::from_be_bytes([body[0], body[1], body[2], body[3]]),
                        protocol_status: body[4],
                    };
                }
                7 => {}
                other => panic!("unexpected record type {other}"),
            }
        }
    }

    fn request(&mut self, id: u16, keep: bool, pairs: &[(&[u8], &[u8])], body: &[u8]) -> Reply {
        self.begin(id, 1, keep);
        self.params(id, pairs);
        self.stdin(id, body);
        self.send(&rec(STDIN, id, b"", 0));
        self.reply(id)
    }

    fn assert_closed(&mut self) {
        assert!(self.read().is_none(), "connection should be closed");
    }
}

fn as_refs(p: &[(Vec<u8>, Vec<u8>)]) -> Vec<(&[u8], &[u8])> {
    p.iter()
        .map(|(a, b)| (a.as_slice(), b.as_slice()))
        .collect()
}

fn assert_advertisement(r: &Reply) {
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(&r.stdout));
    assert_eq!(r.app_status, 0);
    assert_eq!(r.protocol_status, 0);
    assert!(r.body().starts_with(b"001e# service=git-upload-pack\n0000"));
    assert!(String::from_utf8_lossy(r.body()).contains("refs/heads/main"));
}

/// A receive-pack request body: one ref update and the start of a pack (the rest
/// never comes).
fn partial_push() -> Vec<u8> {
    let line = format!(
        "{} {} refs/heads/x\0report-status\n",
        "0".repeat(40),
        "1".repeat(40)
    );
    let mut b = format!("{:04x}{line}0000", line.len() + 4).into_bytes();
    b.extend_from_slice(b"PACK\0\0\0\x02\0\0\0\x05");
    b.extend_from_slice(&[0x95; 4000]);
    b
}

// ---------- the tests ----------

#[test]
fn get_values_answers_truthfully() {
    let root = make_root("gv");
    let d = Daemon::start(&root.0, &["--max-connections", "5"], &[]);
    let mut c = d.connect();
    let mut q = nv(b"FCGI_MAX_CONNS", b"");
    q.extend(nv(b"FCGI_MAX_REQS", b""));
    q.extend(nv(b"FCGI_MPXS_CONNS", b""));
    q.extend(nv(b"SOMETHING_ELSE", b""));
    c.send(&rec(GET_VALUES, 0, &q, 5));
    let (t, id, body) = c.read().unwrap();
    assert_eq!((t, id), (GET_VALUES_RESULT, 0));
    let got = parse_nv(&body);
    assert_eq!(
        got,
        vec![
            (b"FCGI_MAX_CONNS".to_vec(), b"5".to_vec()),
            (b"FCGI_MAX_REQS".to_vec(), b"5".to_vec()),
            (b"FCGI_MPXS_CONNS".to_vec(), b"0".to_vec()),
        ]
    );
}

#[test]
fn unknown_type_and_ignored_records() {
    let root = make_root("unk");
    let d = Daemon::start(&root.0, &[], &[]);
    let mut c = d.connect();
    c.send(&rec(42, 0, b"whatever", 0));
    let (t, id, body) = c.read().unwrap();
    assert_eq!((t, id), (UNKNOWN_TYPE, 0));
    assert_eq!(body, [42, 0, 0, 0, 0, 0, 0, 0]);
    // Records only an application sends, DATA and streams for unknown ids are ignored;
    // the connection still serves a request afterwards.
    c.send(&rec(STDOUT, 1, b"x", 7));
    c.send(&rec(DATA, 1, b"x", 0));
    c.send(&rec(STDIN, 9, b"stray", 0));
    c.send(&rec(ABORT, 9, b"", 0));
    let p = info_refs_params(&root.0);
    let r = c.request(1, true, &as_refs(&p), b"");
    assert_advertisement(&r);
    d.assert_logged("unknown record type 42");
}

#[test]
fn non_responder_roles_are_refused() {
    let root = make_root("role");
    let d = Daemon::start(&root.0, &[], &[]);
    let mut c = d.connect();
    for (id, role) in [(1u16, 2u16), (2, 3), (3, 77)] {
        c.begin(id, role, true);
        let (t, rid, body) = c.read().unwrap();
        assert_eq!((t, rid), (END, id));
        assert_eq!(body[4], 3, "FCGI_UNKNOWN_ROLE");
        // Its streams are ignored.
        c.send(&rec(PARAMS, id, &nv(b"A", b"b"), 0));
        c.send(&rec(PARAMS, id, b"", 0));
        c.send(&rec(STDIN, id, b"", 0));
    }
    let p = info_refs_params(&root.0);
    assert_advertisement(&c.request(4, false, &as_refs(&p), b""));
    c.assert_closed();
    // Without keep-conn the refusal closes the connection.
    let mut c = d.connect();
    c.begin(1, 2, false);
    assert_eq!(c.read().unwrap().0, END);
    c.assert_closed();
}

#[test]
fn malformed_and_truncated_input_never_kills_the_server() {
    let root = make_root("bad");
    let d = Daemon::start(&root.0, &[], &[]);
    // Not FastCGI at all.
    let mut c = d.connect();
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    c.assert_closed();
    // BEGIN_REQUEST with a short body.
    let mut c = d.connect();
    c.send(&rec(BEGIN, 1, &[0, 1, 0], 0));
    c.assert_closed();
    // Malformed name-value pairs (a length running past the end).
    let mut c = d.connect();
    c.begin(1, 1, true);
    c.send(&rec(PARAMS, 1, &[0x80, 0, 1, 0, 1, b'A'], 0));
    c.send(&rec(PARAMS, 1, b"", 0));
    c.assert_closed();
    // A stream cut in the middle of a record header, then of a record body.
    for cut in [
        &rec(BEGIN, 1, &[0, 1, 1, 0, 0, 0, 0, 0], 0)[..5],
        &rec(PARAMS, 1, &nv(b"A", b"b"), 0)[..10],
    ] {
        let mut c = d.connect();
        if cut[1] == PARAMS {
            c.begin(1, 1, true);
        }
        c.send(cut);
        c.s.shutdown(std::net::Shutdown::Write).unwrap();
        c.assert_closed();
    }
    // A push cut off in the middle of its body: the git child must not linger.
    let mut c = d.connect();
    c.begin(1, 1, true);
    let p = push_params(&root.0);
    c.params(1, &as_refs(&p));
    let body = partial_push();
    c.stdin(1, &body);
    let mut raw = rec(STDIN, 1, &[0x95; 100], 4);
    raw.truncate(50);
    c.send(&raw);
    std::thread::sleep(Duration::from_millis(300));
    drop(c);
    wait_no_processes_in(&root.0.join("r.git"));
    // Still serving.
    let p = info_refs_params(&root.0);
    assert_advertisement(&d.connect().request(1, false, &as_refs(&p), b""));
    let log = d.log_text();
    assert!(log.contains("not a FastCGI record"), "{log}");
    assert!(log.contains("closed in the middle of a record"), "{log}");
}

#[test]
fn abort_mid_push_kills_the_git_child() {
    let root = make_root("abort");
    let d = Daemon::start(&root.0, &[], &[]);
    let mut c = d.connect();
    c.begin(1, 1, true);
    let p = push_params(&root.0);
    c.params(1, &as_refs(&p));
    c.stdin(1, &partial_push());
    // Wait until receive-pack runs, then abort.
    let repo = root.0.join("r.git");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_in(&repo)
        .iter()
        .any(|p| p.contains("receive-pack"))
    {
        assert!(
            Instant::now() < deadline,
            "receive-pack never started: {}",
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    c.send(&rec(ABORT, 1, b"", 0));
    // END_REQUEST comes (STDOUT records before it are allowed).
    loop {
        let (t, id, _) = c.read().expect("END_REQUEST after ABORT_REQUEST");
        assert_eq!(id, 1);
        if t == END {
            break;
        }
        assert_eq!(t, STDOUT);
    }
    wait_no_processes_in(&repo);
    // The connection (keep-conn) serves the next request.
    let p = info_refs_params(&root.0);
    assert_advertisement(&c.request(1, true, &as_refs(&p), b""));
    d.assert_logged("aborted by the web server");
}

#[test]
fn second_request_on_a_busy_connection_is_cant_mpx() {
    let root = make_root("mpx");
    let d = Daemon::start(&root.0, &[], &[]);
    let mut c = d.connect();
    c.begin(1, 1, true);
    let p = push_params(&root.0);
    c.params(1, &as_refs(&p));
    c.stdin(1, &partial_push()[..50]);
    c.begin(2, 1, true);
    let (t, id, body) = c.read().unwrap();
    assert_eq!((t, id, body[4]), (END, 2, 1), "FCGI_CANT_MPX_CONN");
    c.send(&rec(ABORT, 1, b"", 0));
    loop {
        let (t, id, _) = c.read().unwrap();
        assert_eq!(id, 1);
        if t == END {
            break;
        }
    }
    wait_no_processes_in(&root.0.join("r.git"));
}

#[test]
fn hundred_requests_on_one_keep_conn_connection() {
    let root = make_root("keep");
    let d = Daemon::start(&root.0, &[], &[]);
    let mut c = d.connect();
    let p = info_refs_params(&root.0);
    for i in 0..100u16 {
        let r = c.request(i % 3 + 1, true, &as_refs(&p), b"");
        assert_advertisement(&r);
    }
    // Interleaved management record between requests.
    c.send(&rec(GET_VALUES, 0, &nv(b"FCGI_MPXS_CONNS", b""), 0));
    assert_eq!(c.read().unwrap().0, GET_VALUES_RESULT);
}

#[test]
fn stdin_in_padded_records_reaches_git() {
    // Protocol v2 ls-refs through upload-pack: the body arrives in three STDIN
    // records of odd sizes with padding.
    let root = make_root("stdin");
    let d = Daemon::start(&root.0, &[], &[]);
    let mut c = d.connect();
    let root_bytes = root.0.as_os_str().as_encoded_bytes().to_vec();
    let pairs: Vec<(&[u8], &[u8])> = vec![
        (b"REQUEST_METHOD", b"POST"),
        (b"GIT_PROJECT_ROOT", &root_bytes),
        (b"PATH_INFO", b"/r.git/git-upload-pack"),
        (b"CONTENT_TYPE", b"application/x-git-upload-pack-request"),
        (b"HTTP_GIT_PROTOCOL", b"version=2"),
    ];
    c.begin(7, 1, false);
    c.params(7, &pairs);
    let body = b"0014command=ls-refs\n00010009peel\n0000";
    c.send(&rec(STDIN, 7, &body[..5], 3));
    c.send(&rec(STDIN, 7, &body[5..21], 0));
    c.send(&rec(STDIN, 7, &body[21..], 255));
    c.send(&rec(STDIN, 7, b"", 0));
    let r = c.reply(7);
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(&r.stdout));
    assert!(
        String::from_utf8_lossy(r.body()).contains("refs/heads/main"),
        "{r:?}"
    );
    c.assert_closed();
}

#[test]
fn non_utf8_param_bytes_pass_through() {
    let root = make_root("utf8");
    // A repository whose directory name is not UTF-8.
    use std::os::unix::ffi::OsStrExt;
    let odd = root.0.join(std::ffi::OsStr::from_bytes(b"r\xff\xfe.git"));
    std::fs::rename(root.0.join("r.git"), &odd).unwrap();
    let d = Daemon::start(&root.0, &[], &[]);
    let mut c = d.connect();
    let root_bytes = root.0.as_os_str().as_encoded_bytes().to_vec();
    let pairs: Vec<(&[u8], &[u8])> = vec![
        (b"REQUEST_METHOD", b"GET"),
        (b"GIT_PROJECT_ROOT", &root_bytes),
        (b"PATH_INFO", b"/r\xff\xfe.git/info/refs"),
        (b"QUERY_STRING", b"service=git-upload-pack"),
        (b"HTTP_X_\xc3\x28", b"\xff\xfe"),
        // A NUL byte cannot reach git's environment: dropped with a log line.
        (b"HTTP_X_NUL", b"a\x00b"),
    ];
    let r = c.request(1, true, &pairs, b"");
    assert_eq!(r.status(), 200, "{}", d.log_text());
    assert_advertisement(&r);
    let pairs: Vec<(&[u8], &[u8])> = vec![
        (b"REQUEST_METHOD", b"GET"),
        (b"GIT_PROJECT_ROOT", &root_bytes),
        (b"PATH_INFO", b"/r\xfe\xff.git/info/refs"),
    ];
    assert_eq!(c.request(2, true, &pairs, b"").status(), 404);
    d.assert_logged("HTTP_X_NUL");
}

#[test]
fn params_override_the_daemon_environment() {
    let root = make_root("env");
    // The daemon's own GIT_PROJECT_ROOT points nowhere; request-scoped variables in
    // its environment must never reach a request. Started the spawn-fcgi way (a
    // listening socket on fd 0), which wins over CGI variables in the environment
    // (with `--listen` they would make it a CGI: under CGI, arguments come from the
    // query string).
    let d = Daemon::on_fd0(
        &root.0,
        "env",
        &[
            ("GIT_PROJECT_ROOT", "/nonexistent"),
            ("REQUEST_METHOD", "GET"),
            ("PATH_INFO", "/r.git/HEAD"),
        ],
    );
    let mut c = d.connect();
    let p = info_refs_params(&root.0);
    assert_advertisement(&c.request(1, true, &as_refs(&p), b""));
    // Without the param, the daemon's value is used (and fails).
    let pairs: Vec<(&[u8], &[u8])> =
        vec![(b"REQUEST_METHOD", b"GET"), (b"PATH_INFO", b"/r.git/HEAD")];
    assert_eq!(c.request(2, true, &pairs, b"").status(), 404);
    // No REQUEST_METHOD param: the daemon's REQUEST_METHOD must not be used.
    let root_bytes = root.0.as_os_str().as_encoded_bytes().to_vec();
    let pairs: Vec<(&[u8], &[u8])> = vec![
        (b"GIT_PROJECT_ROOT", &root_bytes),
        (b"PATH_INFO", b"/r.git/HEAD"),
    ];
    let r = c.request(3, true, &pairs, b"");
    assert_eq!(r.status(), 500);
    d.assert_logged("No REQUEST_METHOD from server");
}

#[test]
fn listening_socket_on_fd0_like_spawn_fcgi() {
    let root = make_root("fd0");
    let d = Daemon::on_fd0(&root.0, "fd0", &[("GIT_HTTP_BACKEND_LOG", "debug")]);
    let p = info_refs_params(&root.0);
    assert_advertisement(&d.connect().request(1, false, &as_refs(&p), b""));
    assert_advertisement(&d.connect().request(1, false, &as_refs(&p), b""));
    d.assert_logged("mode: FastCGI on fd 0");
}

#[test]
fn connection_cap_waits_instead_of_dropping() {
    let root = make_root("cap");
    let d = Daemon::start(&root.0, &["--max-connections", "1"], &[]);
    let first = d.connect();
    // Give the server time to take the first connection, then queue a second.
    std::thread::sleep(Duration::from_millis(300));
    let p = info_refs_params(&root.0);
    let sock = d.sock.clone();
    let second = std::thread::spawn(move || {
        let mut c = Client::new(UnixStream::connect(&sock).unwrap());
        c.request(1, false, &as_refs(&p), b"")
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !second.is_finished(),
        "second connection served beyond the cap"
    );
    drop(first);
    let r = second.join().unwrap();
    assert_advertisement(&r);
    d.assert_logged("connection cap reached");
}

#[test]
fn sigterm_lets_running_requests_finish() {
    let root = make_root("term");
    let mut d = Daemon::start(&root.0, &[], &[]);
    // An idle keep-conn connection and one with a request in progress (a v2 ls-refs
    // whose body has not arrived yet).
    let mut idle = d.connect();
    idle.send(&rec(GET_VALUES, 0, &nv(b"FCGI_MPXS_CONNS", b""), 0));
    assert_eq!(idle.read().unwrap().0, GET_VALUES_RESULT);
    let mut busy = d.connect();
    let root_bytes = root.0.as_os_str().as_encoded_bytes().to_vec();
    let pairs: Vec<(&[u8], &[u8])> = vec![
        (b"REQUEST_METHOD", b"POST"),
        (b"GIT_PROJECT_ROOT", &root_bytes),
        (b"PATH_INFO", b"/r.git/git-upload-pack"),
        (b"CONTENT_TYPE", b"application/x-git-upload-pack-request"),
        (b"HTTP_GIT_PROTOCOL", b"version=2"),
    ];
    busy.begin(1, 1, true);
    busy.params(1, &pairs);
    std::thread::sleep(Duration::from_millis(200));
    let rc = unsafe_free_kill(d.child.id(), "TERM");
    assert!(rc);
    // New connections are refused and the socket file goes away.
    let deadline = Instant::now() + Duration::from_secs(5);
    while d.sock.exists() {
        assert!(Instant::now() < deadline, "socket file not removed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(UnixStream::connect(&d.sock).is_err());
    // The idle connection is closed; the running request completes.
    idle.assert_closed();
    busy.send(&rec(STDIN, 1, b"0014command=ls-refs\n0000", 0));
    busy.send(&rec(STDIN, 1, b"", 0));
    let r = busy.reply(1);
    assert_eq!(r.status(), 200);
    assert!(String::from_utf8_lossy(r.body()).contains("refs/heads/main"));
    busy.assert_closed();
    let status = d.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

fn unsafe_free_kill(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success()
}

#[test]
fn fcgi_web_server_addrs_limits_tcp_peers() {
    let root = make_root("addrs");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let start = |allowed: &str| {
        let mut cmd = Command::new(BIN);
        cmd.args(["--listen", &addr])
            .env("FCGI_WEB_SERVER_ADDRS", allowed)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .stdin(Stdio::null())
            .stderr(std::fs::File::create(root.0.join("tcp.log")).unwrap());
        let child = cmd.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    };
    let p = info_refs_params(&root.0);
    // Allowed.
    let mut child = start("10.1.2.3, 127.0.0.1");
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = rec(BEGIN, 1, &[0, 1, 0, 0, 0, 0, 0, 0], 0);
    for (n, v) in &p {
        req.extend(rec(PARAMS, 1, &nv(n, v), 0));
    }
    req.extend(rec(PARAMS, 1, b"", 0));
    req.extend(rec(STDIN, 1, b"", 0));
    s.write_all(&req).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert!(String::from_utf8_lossy(&out).contains("refs/heads/main"));
    child.kill().unwrap();
    child.wait().unwrap();
    // Refused.
    let mut child = start("10.1.2.3");
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.write_all(&req);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(out.is_empty(), "refused peer got an answer");
    child.kill().unwrap();
    child.wait().unwrap();
    let log = std::fs::read_to_string(root.0.join("tcp.log")).unwrap();
    assert!(log.contains("not in FCGI_WEB_SERVER_ADDRS"), "{log}");
}

#[test]
fn get_answered_before_its_stdin_end_leaves_the_connection_writable() {
    // A GET is answered as soon as its PARAMS end. Without keep-conn the connection
    // then closes, but only once the web server's empty STDIN record has arrived:
    // closing first made that write fail (EPIPE), which a web server logs as an
    // error and the CI run once hit.
    let root = make_root("linger");
    let d = Daemon::start(&root.0, &[], &[]);
    let p = info_refs_params(&root.0);
    let mut c = d.connect();
    c.begin(1, 1, false);
    c.params(1, &as_refs(&p));
    let r = c.reply(1);
    assert_advertisement(&r);
    std::thread::sleep(Duration::from_millis(200));
    c.s.write_all(&rec(STDIN, 1, b"", 0))
        .expect("the STDIN end after the reply must still be accepted");
    c.assert_closed();
}

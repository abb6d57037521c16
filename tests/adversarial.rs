//! Adversarial input against all three transports (CGI, FastCGI `--listen unix:`,
//! `serve`): malformed requests, fuzzed FastCGI record streams, gigantic length
//! fields, bodies cut short, gzip bombs, clients that vanish or stall. The rule under
//! test: a clear error reply (or a closed connection) and one log line; never a
//! panic, a hang, a git child left behind or a server that stops answering.
//!
//! Tests marked `#[ignore = "known failure: ..."]` reproduce failures found by the
//! adversarial pass and assert the behaviour we want; run them with
//! `cargo test --test adversarial -- --ignored`.
//!
//! Everything runs on 127.0.0.1 / unix sockets in a temporary directory; each test
//! is bounded to a few seconds.
// These tests drive the Linux build with Linux web servers and git (Windows: tests/windows_iis.rs).
#![cfg(unix)]

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// ---------- scratch directories, repositories, processes ----------

fn pkt(data: &[u8]) -> Vec<u8> {
    let mut v = format!("{:04x}", data.len() + 4).into_bytes();
    v.extend_from_slice(data);
    v
}

/// A complete upload-pack request for `head`.
fn want_body(head: &str) -> Vec<u8> {
    let mut b = pkt(format!("want {head}\n").as_bytes());
    b.extend_from_slice(b"0000");
    b.extend(pkt(b"done\n"));
    b
}

/// A receive-pack body: one ref update and the start of a pack (the rest never comes).
fn partial_push() -> Vec<u8> {
    let line = format!(
        "{} {} refs/heads/x\0report-status\n",
        "0".repeat(40),
        "1".repeat(40)
    );
    let mut b = pkt(line.as_bytes());
    b.extend_from_slice(b"0000PACK\0\0\0\x02\0\0\0\x05");
    b.extend_from_slice(&[0x95; 4000]);
    b
}

/// Quarantine directories git left in the repository's object store.
fn quarantine_dirs(repo: &Path) -> Vec<String> {
    std::fs::read_dir(repo.join("objects"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tmp_objdir"))
        .collect()
}

/// A deterministic pseudo-random generator (xorshift64*), so a failing mutation
/// can be replayed from its iteration number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

// ---------- CGI ----------

/// Runs our binary as a CGI with exactly `vars` (plus PATH/HOME) and `body` on
/// stdin; returns (stdout, stderr, exit code), failing if it takes over `limit`.
fn cgi(root: &Path, vars: &[(&str, &[u8])], body: &[u8], limit: Duration) -> (Vec<u8>, String) {
    use std::os::unix::ffi::OsStrExt;
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        cmd.env(k, std::ffi::OsStr::from_bytes(v));
    }
    let mut child = KillOnDrop(cmd.spawn().unwrap());
    let mut stdin = child.0.stdin.take().unwrap();
    let body = body.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let mut stdout = child.0.stdout.take().unwrap();
    let mut stderr = child.0.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    loop {
        if child.0.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "CGI still running after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = writer.join();
    let out = out.join().unwrap();
    let err = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
    (out, err)
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn first_line(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply.split(|&b| b == b'\r').next().unwrap_or(b"")).into_owned()
}

/// CGI variables for one request.
type Vars<'a> = Vec<(&'a str, &'a [u8])>;

#[test]
fn cgi_odd_environment_gets_clean_replies() {
    let (root, _) = make_root_with_head("cgienv");
    let s = Duration::from_secs(10);
    let mut huge = b"/r.git/".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 100_000));
    let cases: Vec<(Vars, &str)> = vec![
        (
            vec![
                ("REQUEST_METHOD", b"GET"),
                ("PATH_INFO", b"/r.git/info/refs\xff\xfe"),
            ],
            "Status: 404",
        ),
        (
            vec![
                ("REQUEST_METHOD", b"GET"),
                ("PATH_INFO", b"/r.git/info/refs"),
                ("QUERY_STRING", b"service=git-upload-pack\xff"),
            ],
            "Status: 403",
        ),
        (
            vec![("REQUEST_METHOD", b"GET"), ("PATH_INFO", &huge)],
            "Status: 404",
        ),
        (vec![("PATH_INFO", b"/r.git/HEAD")], "Status: 500"),
        (vec![("REQUEST_METHOD", b"GET")], "Status: 500"),
        (
            vec![
                ("REQUEST_METHOD", b"\x01\xff"),
                ("PATH_INFO", b"/r.git/HEAD"),
            ],
            "Status: 400",
        ),
        (
            vec![("REQUEST_METHOD", b"GET"), ("PATH_INFO", b"/../r.git/HEAD")],
            "Status: 500",
        ),
        (
            vec![
                ("REQUEST_METHOD", b"POST"),
                ("PATH_INFO", b"/r.git/git-upload-pack"),
                ("CONTENT_TYPE", b"application/x-git-upload-pack-request"),
                ("CONTENT_LENGTH", b"99999999999999999999999"),
            ],
            "Status: 500",
        ),
        (
            vec![
                ("REQUEST_METHOD", b"POST"),
                ("PATH_INFO", b"/r.git/git-upload-pack"),
                ("CONTENT_TYPE", b"application/x-git-upload-pack-request"),
                ("CONTENT_LENGTH", b"\xff"),
            ],
            "Status: 500",
        ),
    ];
    for (vars, want) in cases {
        let (out, err) = cgi(&root.0, &vars, b"", s);
        assert!(
            first_line(&out).starts_with(want),
            "{:?}: got {:?}, stderr {err}",
            vars.iter()
                .map(|(k, v)| (k, String::from_utf8_lossy(&v[..v.len().min(60)])))
                .collect::<Vec<_>>(),
            first_line(&out)
        );
        assert!(!err.contains("panicked"), "{vars:?}: {err}");
    }
}

#[test]
fn cgi_bad_bodies_get_clean_errors_and_no_hang() {
    let (root, head) = make_root_with_head("cgibody");
    let s = Duration::from_secs(10);
    let up: Vec<(&str, &[u8])> = vec![
        ("REQUEST_METHOD", b"POST"),
        ("PATH_INFO", b"/r.git/git-upload-pack"),
        ("CONTENT_TYPE", b"application/x-git-upload-pack-request"),
    ];
    let rp: Vec<(&str, &[u8])> = vec![
        ("REQUEST_METHOD", b"POST"),
        ("PATH_INFO", b"/r.git/git-receive-pack"),
        ("CONTENT_TYPE", b"application/x-git-receive-pack-request"),
        ("REMOTE_USER", b"t"),
    ];
    let gz = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let want = want_body(&head);

    // Upload-pack body shorter than CONTENT_LENGTH: 400 before any 200.
    let mut v = up.clone();
    v.push(("CONTENT_LENGTH", b"1000"));
    let (out, err) = cgi(&root.0, &v, &want, s);
    assert!(first_line(&out).starts_with("Status: 400"), "{err}");

    // Truncated gzip: 400.
    let mut v = up.clone();
    v.push(("HTTP_CONTENT_ENCODING", b"gzip"));
    let g = gz(&want);
    let (out, err) = cgi(&root.0, &v, &g[..g.len() - 6], s);
    assert!(first_line(&out).starts_with("Status: 400"), "{err}");

    // Gzip followed by junk: served like stock (the junk is ignored).
    let mut junk = g.clone();
    junk.extend_from_slice(b"JUNKJUNK");
    let (out, err) = cgi(&root.0, &v, &junk, s);
    assert!(out.windows(4).any(|w| w == b"PACK"), "{err}");

    // A gzip bomb (1 GiB of zeros in about 1 MiB) to receive-pack: ends quickly.
    let mut v = rp.clone();
    v.push(("HTTP_CONTENT_ENCODING", b"gzip"));
    let bomb = gz(&vec![b'0'; 1 << 30]);
    let t = Instant::now();
    let (_, err) = cgi(&root.0, &v, &bomb, s);
    assert!(t.elapsed() < s, "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // Receive-pack body cut short of CONTENT_LENGTH inside the command list: 400.
    let mut v = rp.clone();
    v.push(("CONTENT_LENGTH", b"100000"));
    let (out, err) = cgi(&root.0, &v, &partial_push()[..50], s);
    assert!(first_line(&out).starts_with("Status: 400"), "{err}");
    // ... and inside the pack: git has started, the request ends (stock loops at
    // 100 % CPU forever), with a log line and no process left.
    let (_, err) = cgi(&root.0, &v, &partial_push(), s);
    assert!(err.contains("request body ended after"), "{err}");
    wait_no_processes_in(&root.0.join("r.git"));

    // pkt-line garbage and absurd lengths to both services.
    for body in [
        &b"zzzzjunk"[..],
        b"ffffabc",
        b"0001000200030004",
        &[0xff; 5000],
    ] {
        for vars in [&up, &rp] {
            let (out, err) = cgi(&root.0, vars, body, s);
            assert!(!out.is_empty(), "no reply: {err}");
            assert!(!err.contains("panicked"), "{err}");
        }
    }

    // A receive-pack command list of 20 000 lines without a flush: git judges it.
    let mut list = Vec::new();
    for i in 0..20_000 {
        list.extend(pkt(format!(
            "{} {} refs/heads/b{i}\n",
            "0".repeat(40),
            "1".repeat(40)
        )
        .as_bytes()));
    }
    let (out, err) = cgi(&root.0, &rp, &list, s);
    assert!(!out.is_empty(), "no reply: {err}");
    wait_no_processes_in(&root.0.join("r.git"));
    assert_eq!(
        String::from_utf8(git(
            &root.0.join("r.git"),
            &["for-each-ref", "--format=%(refname)"]
        ))
        .unwrap(),
        "refs/heads/main\n"
    );
}

// ---------- FastCGI ----------

impl Daemon {
    fn connect(&self) -> UnixStream {
        let s = UnixStream::connect(&self.sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    fn assert_alive(&mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "daemon died: {}",
            self.log_text()
        );
    }

    /// A normal info/refs request on a fresh connection answers with the advertisement.
    fn assert_healthy(&mut self, root: &Path) {
        self.assert_alive();
        let mut s = self.connect();
        s.write_all(&fcgi::request(1, false, &fcgi::info_refs_params(root), b""))
            .unwrap();
        let (stdout, end) = read_reply(&mut s);
        assert!(end, "no END_REQUEST: {}", self.log_text());
        assert!(
            String::from_utf8_lossy(&stdout).contains("# service=git-upload-pack"),
            "{}",
            String::from_utf8_lossy(&stdout)
        );
    }
}

fn upload_pack(root: &Path, body_len: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    vec![
        (b"REQUEST_METHOD".to_vec(), b"POST".to_vec()),
        (
            b"GIT_PROJECT_ROOT".to_vec(),
            root.as_os_str().as_encoded_bytes().to_vec(),
        ),
        (b"PATH_INFO".to_vec(), b"/r.git/git-upload-pack".to_vec()),
        (
            b"CONTENT_TYPE".to_vec(),
            b"application/x-git-upload-pack-request".to_vec(),
        ),
        (
            b"CONTENT_LENGTH".to_vec(),
            body_len.to_string().into_bytes(),
        ),
    ]
}

/// Reads records until END_REQUEST (true), EOF or the read timeout (false);
/// returns the STDOUT bytes.
fn read_reply(s: &mut UnixStream) -> (Vec<u8>, bool) {
    let mut buf = Vec::new();
    let mut stdout = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        while buf.len() >= 8 {
            let len = u16::from_be_bytes([buf[4], buf[5]]) as usize;
            let total = 8 + len + buf[6] as usize;
            if buf.len() < total {
                break;
            }
            match buf[1] {
                6 => stdout.extend_from_slice(&buf[8..8 + len]),
                3 => return (stdout, true),
                _ => {}
            }
            buf.drain(..total);
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return (stdout, false),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Reads until EOF; false if the server kept the connection open past the timeout.
fn reaches_eof(s: &mut UnixStream) -> bool {
    let mut chunk = [0u8; 65536];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn fcgi_random_mutations_never_hurt_the_daemon() {
    let (root, head) = make_root_with_head("fuzz");
    let mut d = Daemon::start(&root.0, &[], &[]);
    let want = want_body(&head);
    let bases = [
        fcgi::request(1, true, &fcgi::info_refs_params(&root.0), b""),
        fcgi::request(1, true, &upload_pack(&root.0, want.len()), &want),
        [
            fcgi::request(1, false, &fcgi::info_refs_params(&root.0), b""),
            fcgi::request(2, false, &fcgi::info_refs_params(&root.0), b""),
        ]
        .concat(),
    ];
    let rss_before = rss_kib(d.child.id());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_secs(4) {
        let mut b = bases[rng.below(bases.len())].clone();
        for _ in 0..1 + rng.below(6) {
            let i = rng.below(b.len());
            match rng.below(10) {
                0..=3 => {
                    if i < b.len() {
                        b[i] = rng.next() as u8;
                    }
                }
                4 => {
                    let end = (i + 1 + rng.below(16)).min(b.len());
                    b.drain(i..end);
                }
                5 | 6 => {
                    for _ in 0..1 + rng.below(16) {
                        b.insert(i.min(b.len()), rng.next() as u8);
                    }
                }
                7 => b.truncate(i),
                8 => {
                    let from = rng.below(b.len());
                    let piece: Vec<u8> =
                        b[from..].iter().take(1 + rng.below(200)).copied().collect();
                    let at = i.min(b.len());
                    b.splice(at..at, piece);
                }
                _ => {
                    if i < b.len() {
                        b[i] = [0, 1, 2, 3, 4, 5, 9, 11, 0x7f, 0x80, 0xff][rng.below(11)];
                    }
                }
            }
        }
        let mut s = d.connect();
        let _ = s.write_all(&b);
        let _ = s.shutdown(Shutdown::Write);
        // After our half-close the daemon must finish and close: no hang.
        assert!(
            reaches_eof(&mut s),
            "iteration {n}: connection still open: {b:?}"
        );
        n += 1;
        if n % 100 == 0 {
            d.assert_alive();
        }
    }
    d.assert_healthy(&root.0);
    wait_no_processes_in(&root.0.join("r.git"));
    let rss_after = rss_kib(d.child.id());
    assert!(
        rss_after < rss_before + 16 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB over {n} mutations"
    );
    assert!(n > 100, "only {n} iterations");
    assert!(!d.log_text().contains("panicked"), "{}", d.log_text());
}

#[test]
fn fcgi_request_split_at_every_byte_boundary() {
    let (root, _) = make_root_with_head("split");
    let mut d = Daemon::start(&root.0, &[], &[]);
    let full = fcgi::request(1, false, &fcgi::info_refs_params(&root.0), b"");
    for i in 1..full.len() {
        let mut s = d.connect();
        s.write_all(&full[..i]).unwrap();
        s.flush().unwrap();
        std::thread::sleep(Duration::from_millis(1));
        // A GET needs no body: the reply may be complete (and, without keep-conn,
        // the connection closed) before the trailing empty STDIN record is sent,
        // as FastCGI allows. The reply must be whole either way.
        let _ = s.write_all(&full[i..]);
        let (stdout, end) = read_reply(&mut s);
        assert!(end, "split at {i}: no END_REQUEST");
        assert!(
            String::from_utf8_lossy(&stdout).contains("# service=git-upload-pack"),
            "split at {i}"
        );
    }
    d.assert_healthy(&root.0);
}

#[test]
fn fcgi_gigantic_length_fields_close_the_connection() {
    let (root, _) = make_root_with_head("giant");
    let mut d = Daemon::start(&root.0, &[], &[]);
    let rss_before = rss_kib(d.child.id());
    let bodies: Vec<Vec<u8>> = vec![
        // name length 2 GiB - 1, value length 1
        [&0xFFFF_FFFFu32.to_be_bytes()[..], &[1], b"ab"].concat(),
        // value length close to 4 GiB
        [&[1][..], &0xFFFF_FFF0u32.to_be_bytes(), b"A", &[b'x'; 100]].concat(),
        // name length 4 MiB, only 60 KB of it sent
        [&0x8040_0000u32.to_be_bytes()[..], &[1], &vec![b'x'; 60_000]].concat(),
    ];
    for body in bodies {
        let mut s = d.connect();
        s.write_all(
            &[
                fcgi::begin(1, 1, false),
                fcgi::aligned(4, 1, &body),
                fcgi::aligned(4, 1, b""),
            ]
            .concat(),
        )
        .unwrap();
        assert!(reaches_eof(&mut s), "connection not closed");
    }
    // PARAMS beyond the 4 MiB limit: the connection is closed, memory is freed.
    let mut s = d.connect();
    s.write_all(&fcgi::begin(1, 1, false)).unwrap();
    for _ in 0..100 {
        if s.write_all(&fcgi::aligned(4, 1, &[0x7f; 65535])).is_err() {
            break;
        }
    }
    assert!(reaches_eof(&mut s), "connection not closed");
    d.assert_healthy(&root.0);
    let rss_after = rss_kib(d.child.id());
    assert!(
        rss_after < rss_before + 16 * 1024,
        "RSS {rss_before} -> {rss_after} KiB"
    );
    d.assert_logged("PARAMS");
}

#[test]
fn fcgi_clients_vanishing_mid_stdin_and_mid_stdout_leave_no_git() {
    let (root, head) = make_root_with_head("vanish");
    let repo = root.0.join("r.git");
    let mut d = Daemon::start(&root.0, &[], &[]);
    // Mid-STDIN: receive-pack started, then the web server goes away.
    for _ in 0..3 {
        let mut s = d.connect();
        s.write_all(&fcgi::begin(1, 1, false)).unwrap();
        s.write_all(&fcgi::params(1, &fcgi::receive_pack_params(&root.0)))
            .unwrap();
        s.write_all(&fcgi::aligned(5, 1, &partial_push())).unwrap();
        wait_for_process_in(&repo, "receive-pack");
        drop(s);
        wait_no_processes_in(&repo);
    }
    // Mid-STDOUT: read a few bytes of a clone, then leave.
    let want = want_body(&head);
    for _ in 0..3 {
        let mut s = d.connect();
        s.write_all(&fcgi::request(
            1,
            false,
            &upload_pack(&root.0, want.len()),
            &want,
        ))
        .unwrap();
        let mut b = [0u8; 16];
        let _ = s.read(&mut b);
        drop(s);
    }
    wait_no_processes_in(&repo);
    d.assert_healthy(&root.0);
    assert_eq!(
        String::from_utf8(git(&repo, &["for-each-ref", "--format=%(refname)"])).unwrap(),
        "refs/heads/main\n"
    );
}

#[test]
fn fcgi_many_connections_beyond_the_cap_are_all_served() {
    let (root, _) = make_root_with_head("cap");
    let mut d = Daemon::start(&root.0, &["--max-connections", "4"], &[]);
    let sock = d.sock.clone();
    let r = root.0.clone();
    let threads: Vec<_> = (0..60)
        .map(|_| {
            let sock = sock.clone();
            let r = r.clone();
            std::thread::spawn(move || {
                let mut s = UnixStream::connect(&sock).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                s.write_all(&fcgi::request(1, false, &fcgi::info_refs_params(&r), b""))
                    .unwrap();
                let (stdout, end) = read_reply(&mut s);
                end && String::from_utf8_lossy(&stdout).contains("# service=")
            })
        })
        .collect();
    let ok = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|&b| b)
        .count();
    assert_eq!(ok, 60);
    d.assert_healthy(&root.0);
    wait_no_processes_in(&root.0.join("r.git"));
}

#[test]
fn fcgi_abort_mid_push_leaves_no_quarantine_directory() {
    let (root, head) = make_root_with_head("quarantine");
    let repo = root.0.join("r.git");
    let mut d = Daemon::start(&root.0, &[], &[]);
    // A real pack, cut in half, so index-pack has started its quarantine.
    let w = root.0.join("work");
    let blob: Vec<u8> = {
        let mut rng = Rng(42);
        (0..2_000_000).map(|_| rng.next() as u8).collect()
    };
    std::fs::write(w.join("big"), blob).unwrap();
    git(&w, &["add", "big"]);
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
            "big",
        ],
    );
    let new = String::from_utf8(git(&w, &["rev-parse", "HEAD"])).unwrap();
    let pack = {
        let mut c = Command::new("git")
            .args(["pack-objects", "--stdout", "--revs", "-q"])
            .current_dir(&w)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(format!("{}\n^{head}\n", new.trim()).as_bytes())
            .unwrap();
        c.wait_with_output().unwrap().stdout
    };
    let mut body =
        pkt(format!("{head} {} refs/heads/main\0report-status\n", new.trim()).as_bytes());
    body.extend_from_slice(b"0000");
    body.extend_from_slice(&pack[..pack.len() / 2]);
    for abort in [false, true] {
        let mut s = d.connect();
        s.write_all(&fcgi::begin(1, 1, false)).unwrap();
        s.write_all(&fcgi::params(1, &fcgi::receive_pack_params(&root.0)))
            .unwrap();
        for c in body.chunks(65535) {
            s.write_all(&fcgi::aligned(5, 1, c)).unwrap();
        }
        wait_for_process_in(&repo, "receive-pack");
        std::thread::sleep(Duration::from_millis(300));
        if abort {
            s.write_all(&fcgi::aligned(2, 1, b"")).unwrap();
            let _ = read_reply(&mut s);
        }
        drop(s);
        wait_no_processes_in(&repo);
    }
    d.assert_healthy(&root.0);
    assert_eq!(quarantine_dirs(&repo), Vec::<String>::new());
}

// ---------- serve ----------

struct Serve {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn start(root: &Path) -> Serve {
        Serve::start_with(root, &[])
    }

    fn start_with(root: &Path, extra: &[&str]) -> Serve {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let log = root.join("serve.log");
        let child = Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            // These tests hold many requests open at once on purpose; the
            // concurrency limiter (tests/reliability.rs) would queue them.
            .args(["--max-git", "64", "--max-git-per-repo", "64"])
            .args(extra)
            .arg(root)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_HTTP_BACKEND_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let s = Serve { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "serve did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `raw` and reads until the server closes or goes quiet for 1 s.
    fn exchange(&self, raw: &[u8]) -> Vec<u8> {
        let mut s = self.connect();
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        s.write_all(raw).unwrap();
        let mut out = Vec::new();
        let mut chunk = [0u8; 65536];
        while let Ok(n) = s.read(&mut chunk) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&chunk[..n]);
        }
        out
    }

    fn assert_healthy(&mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "serve died: {}",
            self.log_text()
        );
        let out = self.exchange(
            b"GET /r.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert!(
            out.starts_with(b"HTTP/1.1 200") && out.windows(9).any(|w| w == b"# service"),
            "{}\nlog:\n{}",
            String::from_utf8_lossy(&out),
            self.log_text()
        );
    }
}

#[test]
fn serve_malformed_http_gets_4xx_and_the_server_survives() {
    let (root, _) = make_root_with_head("http");
    let mut srv = Serve::start(&root.0);
    let cases: &[(&[u8], &str)] = &[
        (b"\x00\x01\x02garbage\r\n\r\n", "HTTP/1.1 400"),
        (b"GET /r.git/HEAD\r\n\r\n", "HTTP/1.1 400"),
        (b"GET /r.git/HEAD HTTP/2.0\r\n\r\n", "HTTP/1.1 400"),
        (b"GET /r.git/HEAD HTTP/1.0\r\n\r\n", "HTTP/1.0 200"),
        (
            b"POST /r.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-git-upload-pack-request\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
            "HTTP/1.1 400",
        ),
        (
            b"POST /r.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-git-upload-pack-request\r\n\r\nffffffffffffffffff\r\nabc\r\n",
            "HTTP/1.1 400",
        ),
        (
            b"POST /r.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
            "HTTP/1.1 400",
        ),
        (
            b"POST /r.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nabcdef",
            "HTTP/1.1 400",
        ),
        (
            b"POST /r.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-git-upload-pack-request\r\nContent-Length: 99999999999\r\n\r\n0000",
            "HTTP/1.1 413",
        ),
        (b"GET /r.git/HEAD%00x HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400"),
        (b"GET /r.git/%ff%fe/HEAD HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404"),
        (b"GET /r.git/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 500"),
        (
            b"POST /r.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Type: application/x-git-upload-pack-request\r\nContent-Length: 4\r\n\r\n0000",
            "HTTP/1.1 400",
        ),
    ];
    for (raw, want) in cases {
        let out = srv.exchange(raw);
        assert!(
            out.starts_with(want.as_bytes()),
            "{:?}: got {:?}",
            String::from_utf8_lossy(raw),
            String::from_utf8_lossy(&out[..out.len().min(80)])
        );
    }
    // Huge and numerous headers: an error or a reply, never a crash.
    let mut huge = b"GET /r.git/HEAD HTTP/1.1\r\nHost: x\r\nX-A: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 200_000));
    huge.extend_from_slice(b"\r\n\r\n");
    let out = srv.exchange(&huge);
    assert!(
        out.starts_with(b"HTTP/1.1 "),
        "{}",
        String::from_utf8_lossy(&out)
    );
    let mut many = b"GET /r.git/HEAD HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..500 {
        many.extend(format!("X-{i}: a\r\n").bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert!(srv.exchange(&many).starts_with(b"HTTP/1.1 431"));
    // Pipelining: eight requests in one write, eight replies in order.
    let mut piped = Vec::new();
    for _ in 0..8 {
        piped.extend_from_slice(b"GET /r.git/HEAD HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    let out = srv.exchange(&piped);
    assert_eq!(
        out.windows(15).filter(|w| w == b"HTTP/1.1 200 OK").count(),
        8
    );
    srv.assert_healthy();
    wait_no_processes_in(&root.0.join("r.git"));
    assert!(!srv.log_text().contains("panicked"), "{}", srv.log_text());
}

#[test]
fn serve_stalled_and_vanishing_pushes_release_their_git_children() {
    let (root, head) = make_root_with_head("stall");
    let repo = root.0.join("r.git");
    let mut srv = Serve::start(&root.0);
    let line = format!(
        "{} {head} refs/heads/stall\0report-status\n",
        "0".repeat(40)
    );
    let mut body = pkt(line.as_bytes());
    body.extend_from_slice(b"0000PACK");
    let mut stalled = Vec::new();
    for _ in 0..20 {
        let mut s = srv.connect();
        s.write_all(
            b"POST /r.git/git-receive-pack HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-git-receive-pack-request\r\nContent-Length: 100000\r\n\r\n",
        )
        .unwrap();
        s.write_all(&body).unwrap();
        stalled.push(s);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while processes_in(&repo).len() < 20 {
        assert!(Instant::now() < deadline, "pushes did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    srv.assert_healthy();
    drop(stalled);
    wait_no_processes_in(&repo);
    // Chunked push cut off mid-body.
    let mut s = srv.connect();
    s.write_all(b"POST /r.git/git-receive-pack HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-git-receive-pack-request\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
    let push = partial_push();
    s.write_all(format!("{:x}\r\n", push.len()).as_bytes())
        .unwrap();
    s.write_all(&push).unwrap();
    s.write_all(b"\r\n1000\r\nabc").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(s);
    wait_no_processes_in(&repo);
    srv.assert_healthy();
    assert_eq!(
        String::from_utf8(git(&repo, &["for-each-ref", "--format=%(refname)"])).unwrap(),
        "refs/heads/main\n"
    );
    assert_eq!(quarantine_dirs(&repo), Vec::<String>::new());
}

#[test]
fn serve_answers_a_client_that_half_closes() {
    let (root, _) = make_root_with_head("halfclose");
    let srv = Serve::start(&root.0);
    let mut s = srv.connect();
    s.write_all(b"GET /r.git/HEAD HTTP/1.0\r\n\r\n").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(
        out.starts_with(b"HTTP/1.0 200"),
        "got {:?}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn serve_slow_clients_cannot_starve_the_server() {
    let (root, _) = make_root_with_head("starve");
    // Within the connection cap (more clients than the cap wait in the backlog until
    // the body timeouts cut slow ones off: tests/reliability.rs).
    let srv = Serve::start_with(&root.0, &["--max-connections", "600"]);
    let mut stalled = Vec::new();
    for _ in 0..530 {
        let mut s = srv.connect();
        s.write_all(b"POST /r.git/git-upload-pack HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-git-upload-pack-request\r\nContent-Length: 1000\r\n\r\n0032want ").unwrap();
        stalled.push(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut s = srv.connect();
    s.write_all(b"GET /r.git/HEAD HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "a fresh GET was not answered within 5 s while 530 clients stall"
    );
}

#[test]
fn serve_huge_command_lists_do_not_grow_memory() {
    let (root, _) = make_root_with_head("cmdlist");
    let srv = Serve::start(&root.0);
    let before = rss_kib(srv.child.id());
    let line = format!(
        "{} {} refs/heads/{}\n",
        "0".repeat(40),
        "1".repeat(40),
        "x".repeat(900)
    );
    let one = pkt(line.as_bytes());
    let mut list = Vec::new();
    while list.len() < 9_000_000 {
        list.extend_from_slice(&one);
    }
    let mut conns = Vec::new();
    for _ in 0..10 {
        let mut s = srv.connect();
        s.write_all(b"POST /r.git/git-receive-pack HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-git-receive-pack-request\r\nContent-Length: 99000000\r\n\r\n").unwrap();
        s.write_all(&list).unwrap();
        conns.push(s);
    }
    std::thread::sleep(Duration::from_secs(1));
    let during = rss_kib(srv.child.id());
    drop(conns);
    assert!(
        during < before + 32 * 1024,
        "RSS {before} KiB -> {during} KiB with 10 unfinished 9 MB command lists"
    );
}

#[test]
fn serve_oversized_header_is_a_client_error() {
    let (root, _) = make_root_with_head("bighdr");
    let srv = Serve::start(&root.0);
    let mut huge =
        b"GET /r.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: x\r\nX-A: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 200_000));
    huge.extend_from_slice(b"\r\n\r\n");
    let out = srv.exchange(&huge);
    assert!(
        out.starts_with(b"HTTP/1.1 431") || out.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&out[..out.len().min(200)])
    );
}

#[test]
fn fcgi_idle_connections_at_the_cap_do_not_block_forever() {
    let (root, _) = make_root_with_head("idlecap");
    // Idle connections are closed after --idle-timeout (120 s by default; 2 s here).
    let d = Daemon::start(
        &root.0,
        &["--max-connections", "2", "--idle-timeout", "2"],
        &[],
    );
    let _idle: Vec<UnixStream> = (0..2).map(|_| d.connect()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut s = d.connect();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&fcgi::request(
        1,
        false,
        &fcgi::info_refs_params(&root.0),
        b"",
    ))
    .unwrap();
    let (_, end) = read_reply(&mut s);
    assert!(
        end,
        "no reply within 10 s while two idle connections hold the cap: {}",
        d.log_text()
    );
}

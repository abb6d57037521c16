//! The form of log lines in each mode:
//! - CGI: stock's bare lines (the web server adds time and prefix);
//! - FastCGI and `serve`: `<RFC 3339 UTC time> git-http-backend-rs[PID]: WORD: ...`,
//!   or `WORD: ...` alone when stderr is systemd's journal (`JOURNAL_STREAM`);
//! - a dumb client's probe for a missing optional file is logged at debug level in
//!   the daemons (CGI keeps stock's line).
#![cfg(unix)]

mod common;

use common::{Daemon, TempDir, make_root};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_git-http-backend-rs");

/// True if `line` is `YYYY-MM-DDTHH:MM:SS.mmmZ git-http-backend-rs[PID]: WORD: ...`.
fn stamped(line: &str) -> bool {
    let b = line.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let shape = b.len() > 25
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23)
        && &line[23..25] == "Z ";
    shape && {
        let rest = &line[25..];
        let Some(rest) = rest.strip_prefix("git-http-backend-rs[") else {
            return false;
        };
        let Some((pid, rest)) = rest.split_once("]: ") else {
            return false;
        };
        pid.parse::<u32>().is_ok() && worded(rest)
    }
}

/// True if `line` starts with one of the level words.
fn worded(line: &str) -> bool {
    ["fatal: ", "error: ", "warning: ", "info: ", "debug: "]
        .iter()
        .any(|w| line.starts_with(w))
}

/// One FastCGI request through `cgi-fcgi` (libfcgi-bin), a real FastCGI client.
fn fcgi_get(sock: &Path, root: &Path, path_info: &str) -> String {
    let out = Command::new("cgi-fcgi")
        .args(["-bind", "-connect"])
        .arg(sock)
        .env_clear()
        .env("REQUEST_METHOD", "GET")
        .env("PATH_INFO", path_info)
        .env("GIT_PROJECT_ROOT", root)
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .stdin(Stdio::null())
        .output()
        .expect("cgi-fcgi (apt-get install libfcgi-bin)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until `log` holds a line containing `what`.
fn wait_for_line(log: &Path, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(what) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no line with {what:?} in:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn cgi_lines_are_stocks_bare_lines() {
    let root = make_root("log-cgi");
    let run = |path: &str, level: &str| {
        Command::new(BIN)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("REQUEST_METHOD", "GET")
            .env("GIT_PROJECT_ROOT", &root.0)
            .env("PATH_INFO", path)
            .env("GIT_HTTP_BACKEND_LOG", level)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = run("/nothere.git/info/refs", "warn");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err,
        format!("Not a git repository: '{}/nothere.git'\n", root.0.display())
    );
    // The missing-file line stays (stock writes it; the web server keeps it).
    let out = run("/r.git/objects/info/http-alternates", "warn");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("Cannot open '"), "{err}");
    let out = run("/r.git/HEAD", "debug");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("git-http-backend-rs: debug: mode: CGI"),
        "{err}"
    );
}

#[test]
fn fastcgi_lines_carry_time_and_pid_and_missing_files_are_debug() {
    let root = make_root("log-fcgi");
    let d = Daemon::start(&root.0, &[], &[("GIT_HTTP_BACKEND_LOG", "warn")]);
    let reply = fcgi_get(&d.sock, &root.0, "/r.git/objects/info/http-alternates");
    assert!(reply.starts_with("Status: 404"), "{reply}");
    let reply = fcgi_get(&d.sock, &root.0, "/nothere.git/info/refs");
    assert!(reply.starts_with("Status: 404"), "{reply}");
    let log = wait_for_line(&d.log, "Not a git repository");
    assert!(
        !log.contains("Cannot open"),
        "a routine 404 logged as a warning:\n{log}"
    );
    for line in log.lines() {
        assert!(stamped(line), "not in the daemon form: {line:?}");
    }
    let line = log
        .lines()
        .find(|l| l.contains("Not a git repository"))
        .unwrap();
    let pid = d.child.id();
    assert!(
        line.contains(&format!(
            " git-http-backend-rs[{pid}]: warning: Not a git repository: '"
        )),
        "{line}"
    );
    drop(d);
    // At debug level the routine 404 is there, as a debug line.
    let d = Daemon::start(&root.0, &[], &[("GIT_HTTP_BACKEND_LOG", "debug")]);
    fcgi_get(&d.sock, &root.0, "/r.git/objects/info/http-alternates");
    let log = wait_for_line(&d.log, "Cannot open");
    let line = log.lines().find(|l| l.contains("Cannot open")).unwrap();
    assert!(
        stamped(line) && line.contains("]: debug: Cannot open '"),
        "{line}"
    );
    assert!(log.contains("]: debug: mode: FastCGI on"), "{log}");
}

#[test]
fn under_journald_lines_have_no_time() {
    let root = make_root("log-journal");
    let log = root.0.join("daemon.log");
    std::fs::write(&log, "").unwrap();
    let meta = std::fs::metadata(&log).unwrap();
    let stream = format!("{}:{}", meta.dev(), meta.ino());
    let d = Daemon::start(
        &root.0,
        &[],
        &[
            ("JOURNAL_STREAM", &stream),
            ("GIT_HTTP_BACKEND_LOG", "info"),
        ],
    );
    fcgi_get(&d.sock, &root.0, "/nothere.git/info/refs");
    let text = wait_for_line(&d.log, "Not a git repository");
    assert!(
        text.lines()
            .any(|l| l.starts_with("warning: Not a git repository: '")),
        "{text}"
    );
    for line in text.lines() {
        assert!(worded(line), "not in the journal form: {line:?}");
    }
    drop(d);
    // A JOURNAL_STREAM that names another file (inherited, stderr redirected)
    // does not count.
    let d = Daemon::start(&root.0, &[], &[("JOURNAL_STREAM", "1:2")]);
    fcgi_get(&d.sock, &root.0, "/nothere.git/info/refs");
    let text = wait_for_line(&d.log, "Not a git repository");
    assert!(text.lines().all(stamped), "{text}");
}

struct Serve(Child, std::path::PathBuf);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_lines_carry_time_and_pid() {
    let root = TempDir::new("log-serve");
    common::git(&root.0, &["init", "-q", "--bare", "r.git"]);
    let log = root.0.join("serve.log");
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg(&root.0)
        .env("GIT_HTTP_BACKEND_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    let mut stdout = child.stdout.take().unwrap();
    let server = Serve(child, log.clone());
    let mut buf = [0u8; 1];
    while !banner.ends_with('\n') {
        assert_eq!(stdout.read(&mut buf).unwrap(), 1, "serve printed no banner");
        banner.push(buf[0] as char);
    }
    let addr = banner
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();
    assert!(http_get(&addr, "/r.git/objects/info/http-alternates").starts_with("HTTP/1.1 404"));
    assert!(http_get(&addr, "/nothere.git/HEAD").starts_with("HTTP/1.1 404"));
    let text = wait_for_line(&server.1, "Not a git repository");
    assert!(!text.contains("Cannot open"), "{text}");
    for line in text.lines() {
        assert!(stamped(line), "not in the daemon form: {line:?}");
    }
}

/// At shutdown, `serve` closes connections still busy after its drain time: that
/// is logged as our own doing, not as `fatal: client went away`.
#[test]
fn serve_shutdown_cut_off_is_not_a_client_going_away() {
    let root = TempDir::new("log-shutdown");
    common::git(&root.0, &["init", "-q", "--bare", "r.git"]);
    let pack = root
        .0
        .join("r.git/objects/pack")
        .join(format!("pack-{}.pack", "0".repeat(40)));
    std::fs::create_dir_all(pack.parent().unwrap()).unwrap();
    std::fs::write(&pack, vec![0u8; 64 << 20]).unwrap();
    let log = root.0.join("serve.log");
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg(&root.0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut banner = String::new();
    let mut buf = [0u8; 1];
    while !banner.ends_with('\n') {
        assert_eq!(stdout.read(&mut buf).unwrap(), 1, "serve printed no banner");
        banner.push(buf[0] as char);
    }
    let server = Serve(child, log.clone());
    let addr = banner
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();
    // A client that asks for the big file, reads a little, then stalls.
    let mut slow = TcpStream::connect(&addr).unwrap();
    write!(
        slow,
        "GET /r.git/objects/pack/pack-{}.pack HTTP/1.1\r\nHost: x\r\n\r\n",
        "0".repeat(40)
    )
    .unwrap();
    let mut head = [0u8; 512];
    assert!(slow.read(&mut head).unwrap() > 0);
    std::thread::sleep(Duration::from_millis(300));
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    // serve waits DRAIN_TIME (10 s), then closes the busy connection and exits.
    let mut server = server;
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "serve did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(slow);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("client went away"), "{text}");
    assert!(
        text.lines().any(|l| stamped(l)
            && l.contains("]: warning: request cut off: the server is shutting down")),
        "{text}"
    );
}

/// With `GIT_HTTP_BACKEND_LOG_FILE` (IIS: standard error is an invalid handle),
/// git's own standard error goes to that file too, next to our lines; without
/// it, to our standard error (the web server's log), as with the stock program.
#[test]
fn git_stderr_follows_the_log_file() {
    let root = make_root("log-git-stderr");
    let log = root.0.join("backend.log");
    // A want of an object the repository does not have: upload-pack says so on
    // its standard error ("not our ref").
    let body = b"0032want 1111111111111111111111111111111111111111\n00000009done\n";
    let run = |log_file: Option<&Path>| {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("REQUEST_METHOD", "POST")
            .env("GIT_PROJECT_ROOT", &root.0)
            .env("PATH_INFO", "/r.git/git-upload-pack")
            .env("CONTENT_TYPE", "application/x-git-upload-pack-request")
            .env("CONTENT_LENGTH", body.len().to_string())
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(f) = log_file {
            cmd.env("GIT_HTTP_BACKEND_LOG_FILE", f);
        }
        let mut child = cmd.spawn().unwrap();
        child.stdin.take().unwrap().write_all(body).unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = run(None);
    assert!(err.contains("not our ref"), "{err}");
    let err = run(Some(&log));
    assert!(!err.contains("not our ref"), "stderr: {err}");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("not our ref"), "log file: {text}");
}

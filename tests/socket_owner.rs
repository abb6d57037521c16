//! `--socket-owner` / `--socket-group` on the unix socket the FastCGI server binds:
//! applied before the first accept (as root, with a throwaway group and user), and
//! a clear error with no socket left behind when the server may not apply them (as
//! an unprivileged account). These tests need root (CI runs as root): without it
//! they fail rather than skip.
#![cfg(unix)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_git-http-backend-rs");
/// The unprivileged account the server tests also use.
const TEST_USER: &str = "ghbtest";

fn out(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .expect("running a command")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn assert_root() {
    let id = text(&out(Command::new("id").arg("-u")).stdout);
    assert_eq!(id.trim(), "0", "these tests need root (groupadd, chown)");
}

/// A scratch directory every account may enter and write (sticky, like /tmp).
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("ghb-sock-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A group that exists for one test; deleted when dropped.
struct TempGroup(String);

impl TempGroup {
    fn new() -> TempGroup {
        let name = format!("ghbg{}", std::process::id());
        let _ = out(Command::new("groupdel").arg(&name));
        let o = out(Command::new("groupadd").args(["--system", &name]));
        assert!(o.status.success(), "groupadd: {}", text(&o.stderr));
        TempGroup(name)
    }

    fn gid(&self) -> u32 {
        let o = out(Command::new("getent").args(["group", &self.0]));
        text(&o.stdout)
            .split(':')
            .nth(2)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for TempGroup {
    fn drop(&mut self) {
        let _ = out(Command::new("groupdel").arg(&self.0));
    }
}

fn ensure_test_user() -> u32 {
    if !out(Command::new("id").arg(TEST_USER)).status.success() {
        let o = out(Command::new("useradd").args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            TEST_USER,
        ]));
        // 9: created meanwhile by a parallel test.
        assert!(
            o.status.success() || o.status.code() == Some(9),
            "useradd: {}",
            text(&o.stderr)
        );
    }
    text(&out(Command::new("id").args(["-u", TEST_USER])).stdout)
        .trim()
        .parse()
        .unwrap()
}

/// The daemon, stopped when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(sock: &Path, extra: &[&str]) -> Daemon {
    let child = Command::new(BIN)
        .arg("--listen")
        .arg(format!("unix:{}", sock.display()))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the daemon");
    let d = Daemon(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while UnixStream::connect(sock).is_err() {
        assert!(Instant::now() < deadline, "the daemon did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    d
}

#[test]
fn socket_gets_the_group_and_owner_asked_for() {
    assert_root();
    let s = Scratch::new("root");
    let group = TempGroup::new();
    let uid = ensure_test_user();
    // By name.
    let sock = s.0.join("named.sock");
    let d = start(
        &sock,
        &[
            "--socket-mode",
            "0660",
            "--socket-group",
            &group.0,
            "--socket-owner",
            TEST_USER,
        ],
    );
    let meta = std::fs::metadata(&sock).unwrap();
    assert_eq!(meta.gid(), group.gid(), "group of {}", sock.display());
    assert_eq!(meta.uid(), uid, "owner of {}", sock.display());
    assert_eq!(meta.mode() & 0o7777, 0o660);
    drop(d);
    // By numeric id.
    let sock = s.0.join("numeric.sock");
    let gid = group.gid().to_string();
    let _d = start(&sock, &["--socket-group", &gid]);
    let meta = std::fs::metadata(&sock).unwrap();
    assert_eq!((meta.gid(), meta.uid()), (group.gid(), 0));
}

#[test]
fn unknown_names_are_refused_before_binding() {
    let s = Scratch::new("unknown");
    let sock = s.0.join("x.sock");
    let o = out(Command::new(BIN).args([
        "--listen",
        &format!("unix:{}", sock.display()),
        "--socket-group",
        "no-such-group-ghb",
    ]));
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("fatal: --socket-group no-such-group-ghb: no such group"),
        "{err}"
    );
    assert!(!sock.exists(), "a socket was left behind");
}

#[test]
fn unprivileged_server_gets_a_clear_error_and_leaves_no_socket() {
    assert_root();
    ensure_test_user();
    let s = Scratch::new("user");
    for (args, expect) in [
        (
            &["--socket-group", "root"][..],
            "fatal: --socket-group root: cannot apply it to ",
        ),
        (
            &["--socket-owner", "0"][..],
            "fatal: --socket-owner 0: cannot apply it to ",
        ),
    ] {
        let sock = s.0.join("u.sock");
        let o = out(Command::new("setpriv")
            .args([
                "--reuid",
                TEST_USER,
                "--regid",
                TEST_USER,
                "--clear-groups",
                "--",
            ])
            .arg(BIN)
            .arg("--listen")
            .arg(format!("unix:{}", sock.display()))
            .args(args));
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(err.contains("Operation not permitted"), "{args:?}: {err}");
        assert!(err.contains("needs root"), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(!sock.exists(), "{args:?}: a socket was left behind");
    }
}

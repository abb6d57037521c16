//! Regression tests for bugs found in review, each first reproduced against the
//! running program (and, where it applies, compared with the stock
//! git-http-backend): CGI arguments that come from the query, broken refs in dumb
//! `info/refs`, stalled bodies in `serve`, git children outliving a daemon, and the
//! objects of a linked worktree.
// These tests drive the Linux build with Linux web servers and git (Windows: tests/windows_iis.rs).
#![cfg(unix)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_git-http-backend-rs");

/// Kills and reaps a child when the test ends, also on failure.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("git must be installed");
    assert!(st.success(), "git {args:?}");
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("review-repro-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A bare repository `root/r.git` with one commit on master.
fn repo(root: &Path) -> PathBuf {
    let work = root.join("w");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q"]);
    git(
        &work,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "one",
        ],
    );
    let bare = root.join("r.git");
    git(
        root,
        &["clone", "-q", "--bare", work.to_str().unwrap(), "r.git"],
    );
    bare
}

/// Runs `prog` as a CGI with `vars` (and a thin environment).
fn cgi(prog: &Path, vars: &[(&str, &str)]) -> Output {
    Command::new(prog)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stock() -> PathBuf {
    let out = Command::new("git").arg("--exec-path").output().unwrap();
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()).join("git-http-backend")
}

/// Apache (mod_cgi/mod_cgid) passes the words of a query string without `=` as
/// command-line arguments (ISINDEX queries), so the client controls argv. Under a
/// CGI environment the backend must still answer as a CGI and exit, never turn
/// into a FastCGI or HTTP server listening where the client says.
fn assert_cgi_despite_args(args: &[&str], port: u16) {
    let root = scratch(&format!("argv-{port}"));
    let mut child = Guard(
        Command::new(BIN)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GATEWAY_INTERFACE", "CGI/1.1")
            .env("REQUEST_METHOD", "GET")
            .env("SERVER_PROTOCOL", "HTTP/1.1")
            .env("GIT_PROJECT_ROOT", &root)
            .env("PATH_INFO", "/r.git/info/refs")
            .env("QUERY_STRING", args.join("+"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut listening = false;
    let exited = loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            listening = true;
        }
        if let Some(_st) = child.0.try_wait().unwrap() {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    if exited {
        child
            .0
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
    }
    let _ = std::fs::remove_dir_all(&root);
    assert!(
        !listening,
        "args {args:?} from the query string made the CGI listen on 127.0.0.1:{port}"
    );
    assert!(exited, "args {args:?}: the CGI did not exit within 5 s");
    assert!(
        out.starts_with("Status: 404"),
        "CGI reply expected: {out:?}"
    );
}

#[test]
fn isindex_query_args_do_not_start_a_fastcgi_server() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    assert_cgi_despite_args(&["--listen", &addr], port);
}

#[test]
fn isindex_query_args_do_not_start_serve() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    assert_cgi_despite_args(&["serve", "-l", &addr, "/"], port);
}

/// A ref pointing at a missing object: stock skips it in dumb `info/refs`; we
/// answer 500 because `git for-each-ref` dies.
#[test]
fn dumb_info_refs_skips_a_broken_ref_like_stock() {
    let root = scratch("broken-ref");
    let bare = repo(&root);
    std::fs::write(
        bare.join("refs/heads/broken"),
        "1111111111111111111111111111111111111111\n",
    )
    .unwrap();
    let vars = [
        ("REQUEST_METHOD", "GET"),
        ("GIT_PROJECT_ROOT", root.to_str().unwrap()),
        ("PATH_INFO", "/r.git/info/refs"),
        ("GIT_HTTP_EXPORT_ALL", ""),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
    ];
    let theirs = cgi(&stock(), &vars);
    let ours = cgi(Path::new(BIN), &vars);
    let _ = std::fs::remove_dir_all(&root);
    let (theirs, ours) = (
        String::from_utf8_lossy(&theirs.stdout).into_owned(),
        String::from_utf8_lossy(&ours.stdout).into_owned(),
    );
    assert!(!theirs.starts_with("Status:"), "stock: {theirs}");
    assert_eq!(ours, theirs, "ours differs from stock");
}

/// Starts `serve` on a free port; the guard kills it.
fn serve(root: &Path) -> (Guard, u16) {
    let port = free_port();
    let child = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (guard, port)
}

fn http_get(port: u16, path: &str, timeout: Duration) -> std::io::Result<String> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(timeout))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// `serve` has no timeout on reading a request body, and every request holds one
/// of tokio's 512 blocking threads while its handler waits for the body. 600
/// clients that send headers and a few body bytes, then stall, make every further
/// request hang.
#[test]
fn serve_stalled_request_bodies_starve_other_requests() {
    use std::io::Write;
    let root = scratch("stall");
    repo(&root);
    let (_server, port) = serve(&root);
    let mut stalled = Vec::new();
    for _ in 0..600 {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(
            b"POST /r.git/git-upload-pack HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/x-git-upload-pack-request\r\n\
              Content-Length: 1000\r\n\r\nabc",
        )
        .unwrap();
        stalled.push(s);
    }
    std::thread::sleep(Duration::from_secs(2));
    let reply = http_get(port, "/r.git/info/refs", Duration::from_secs(10));
    drop(stalled);
    let _ = std::fs::remove_dir_all(&root);
    let reply = reply.expect("a normal request must not hang behind stalled uploads");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}

/// On SIGTERM `serve` waits DRAIN_TIME (10 s) and exits, but the git child of a
/// request still running is neither killed nor waited for: it lives on (parent
/// pid 1) and completes the push the client was told had failed.
#[cfg(unix)]
#[test]
fn serve_shutdown_leaves_no_git_child_behind() {
    let root = scratch("drain");
    let bare = repo(&root);
    git(&bare, &["config", "http.receivepack", "true"]);
    let marker = root.join("hook-still-ran");
    let hook = bare.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ncat >/dev/null\nsleep 15\ntouch '{}'\nexit 1\n",
            marker.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (mut server, port) = serve(&root);
    let work = root.join("w");
    git(
        &work,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "two",
        ],
    );
    let push = Guard(
        Command::new("git")
            .arg("-C")
            .arg(&work)
            .args([
                "push",
                "-q",
                &format!("http://127.0.0.1:{port}/r.git"),
                "HEAD:refs/heads/new",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_secs(2));
    let pid = server.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let _ = server.0.wait();
    drop(push);
    // The hook sleeps 15 s from about t=1 s; serve exits at about t=12 s.
    std::thread::sleep(Duration::from_secs(6));
    let ran = marker.exists();
    let _ = std::fs::remove_dir_all(&root);
    assert!(
        !ran,
        "the pre-receive hook of a request in flight ran to its end after serve exited"
    );
}

/// A linked work tree (its `.git` is a gitfile to `<repo>/.git/worktrees/<name>`)
/// keeps its objects in the common directory. Stock resolves `objects/...` through
/// git_path (common dir, GIT_OBJECT_DIRECTORY); we join the worktree's git dir.
#[test]
fn dumb_objects_of_a_linked_worktree_like_stock() {
    let root = scratch("worktree");
    repo(&root);
    let work = root.join("w");
    git(
        &work,
        &["worktree", "add", "-q", root.join("lw").to_str().unwrap()],
    );
    git(&work, &["repack", "-q", "-a", "-d"]);
    let vars = [
        ("REQUEST_METHOD", "GET"),
        ("GIT_PROJECT_ROOT", root.to_str().unwrap()),
        ("PATH_INFO", "/lw/objects/info/packs"),
        ("GIT_HTTP_EXPORT_ALL", ""),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
    ];
    let theirs = String::from_utf8_lossy(&cgi(&stock(), &vars).stdout).into_owned();
    let ours = String::from_utf8_lossy(&cgi(Path::new(BIN), &vars).stdout).into_owned();
    let _ = std::fs::remove_dir_all(&root);
    assert!(theirs.contains("P pack-"), "stock lists the pack: {theirs}");
    assert_eq!(ours, theirs);
}

/// An anonymous POST that the backend answers with a 401 challenge before reading
/// the body (built-in Basic auth, upload-archive needs a user). Apache's mod_cgid
/// failed writing the unread body ("AH02651", EPIPE) and could cut the chunked
/// 401 short, so git saw "curl 18 transfer closed" instead of retrying with
/// credentials (a CI flake of servers::apache_builtin_auth). The CGI now reads and
/// drops the rest of a small body after its reply: the whole body can be
/// written. A body that never ends holds it only for a bounded time.
#[test]
fn cgi_early_401_reads_the_unread_body() {
    use std::io::Write;
    let root = scratch("early-401");
    repo(&root);
    let pw = root.join("htpasswd");
    let st = Command::new("htpasswd")
        .args(["-cbB", pw.to_str().unwrap(), "alice", "pw"])
        .stderr(Stdio::null())
        .status()
        .expect("htpasswd (apache2-utils) must be installed");
    assert!(st.success());
    let body = vec![b'0'; 200 * 1024];
    let oid = format!("/r.git/info/lfs/objects/{}", "ab".repeat(32));
    // For the PUT: an ACL that makes the repository private, so the 401 comes
    // from the policy, before the Git LFS handler (which drains on its own).
    let acl = root.join("acl.conf");
    std::fs::write(&acl, "repo r\n    RW = alice\n").unwrap();
    let run_as = |method: &str, path: &str, content_length: Option<usize>, close: bool| {
        let mut cmd = Command::new(BIN);
        cmd.env_clear();
        if method == "PUT" {
            cmd.env("GIT_HTTP_ACL_FILE", &acl);
        }
        cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("REQUEST_METHOD", method)
            .env("GIT_PROJECT_ROOT", &root)
            .env("PATH_INFO", path)
            .env("GIT_HTTP_LFS", "1")
            .env("CONTENT_TYPE", "application/x-git-upload-archive-request")
            .env("GIT_HTTP_EXPORT_ALL", "")
            .env("GIT_HTTP_AUTH_FILE", &pw)
            .env("SERVER_PROTOCOL", "HTTP/1.1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(n) = content_length {
            cmd.env("CONTENT_LENGTH", n.to_string());
        }
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let started = Instant::now();
        let written = if close {
            let r = stdin.write_all(&body);
            drop(stdin);
            r.map(|_| None)
        } else {
            Ok(Some(stdin)) // held open, nothing written
        };
        let out = child.wait_with_output().unwrap();
        (written.map(|_| ()), out, started.elapsed())
    };
    let run = |content_length: Option<usize>, close: bool| {
        run_as("POST", "/r.git/git-upload-archive", content_length, close)
    };
    for len in [Some(body.len()), None] {
        let (written, out, _) = run(len, true);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("Status: 401"), "{len:?}: {text}");
        assert!(
            written.is_ok(),
            "{len:?}: the body could not be written whole: {written:?}"
        );
    }
    // The same for an anonymous Git LFS upload (PUT) where a user is needed.
    let (written, out, _) = run_as("PUT", &oid, Some(body.len()), true);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Status: 401"), "PUT: {text}");
    assert!(written.is_ok(), "PUT: {written:?}");
    let (_, out, took) = run(None, false);
    let _ = std::fs::remove_dir_all(&root);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Status: 401"));
    assert!(
        took < Duration::from_secs(15),
        "a body that never ends held the CGI for {took:?}"
    );
}

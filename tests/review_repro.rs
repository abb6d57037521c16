//! Reproductions of bugs found in review. Each test asserts the CORRECT behaviour,
//! so it fails until the bug is fixed.

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
    assert!(out.starts_with("Status: 404"), "CGI reply expected: {out:?}");
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

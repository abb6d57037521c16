//! Scaling out on one machine: two FastCGI daemons (two "nodes", each on its own
//! TCP port) behind one nginx `upstream` from the shipped
//! nginx/git-fastcgi-upstream.conf, serving the same repositories (the shared
//! storage of a real deployment). Several clients clone, push to their own
//! branches and race each other on a shared branch, with every request balanced
//! across the nodes. Asserted: each push is seen by the next look through either
//! node, nothing is lost (every client's commits on its branch and on the shared
//! one), `git fsck` is clean, and both nodes really served.
#![cfg(unix)]

mod common;
mod support;
use common::*;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// One node: the daemon on 127.0.0.1:`port`; killed on drop.
struct Node {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    fn start(dir: &Path, name: &str) -> Node {
        let port = free_port();
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(BIN)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env_remove("GIT_PROJECT_ROOT")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_HTTP_BACKEND_LOG", "info")
            .env("FCGI_WEB_SERVER_ADDRS", "127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "node {name} did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        Node { child, port, log }
    }

    /// Bytes the node has written (its replies): proof that it served.
    fn written(&self) -> u64 {
        let io = std::fs::read_to_string(format!("/proc/{}/io", self.child.id())).unwrap();
        io.lines()
            .find_map(|l| l.strip_prefix("wchar:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("wchar")
    }
}

/// `git ARGS` in `dir`, bounded; returns (success, stdout, stderr).
fn g(home: &Path, dir: &Path, args: &[&str]) -> (bool, String, String) {
    let mut cmd = git_cmd(home);
    cmd.current_dir(dir).args(args);
    let out = output_within(cmd, 60);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(home: &Path, dir: &Path, args: &[&str]) -> String {
    let (success, out, err) = g(home, dir, args);
    assert!(success, "git {args:?} in {}: {err}", dir.display());
    out
}

fn commit(home: &Path, dir: &Path, msg: &str) -> String {
    std::fs::write(dir.join(format!("{msg}.txt")), msg).unwrap();
    ok(home, dir, &["add", "."]);
    ok(
        home,
        dir,
        &[
            "-c",
            "user.name=c",
            "-c",
            "user.email=c@c",
            "commit",
            "-q",
            "-m",
            msg,
        ],
    );
    ok(home, dir, &["rev-parse", "HEAD"]).trim().to_string()
}

const CLIENTS: usize = 4;
const ROUNDS: usize = 5;

/// One client: clones, then per round pushes to its own branch (checking the
/// push through the balancer twice, so through both nodes under round robin)
/// and lands a commit on `shared` (fetch, rebase, push; retried when another
/// client won the race).
fn client(c: usize, url: &str, home: &Path) -> usize {
    let dir = home.join(format!("client{c}"));
    ok(home, home, &["clone", "-q", url, dir.to_str().unwrap()]);
    let mut races_lost = 0;
    for r in 0..ROUNDS {
        ok(home, &dir, &["checkout", "-q", "-B", "mine", "origin/main"]);
        if r > 0 {
            ok(
                home,
                &dir,
                &["reset", "-q", "--hard", &format!("origin/client-{c}")],
            );
        }
        let id = commit(home, &dir, &format!("c{c}-r{r}"));
        ok(
            home,
            &dir,
            &["push", "-q", "origin", &format!("mine:client-{c}")],
        );
        for _ in 0..2 {
            let seen = ok(
                home,
                &dir,
                &["ls-remote", "origin", &format!("refs/heads/client-{c}")],
            );
            assert!(
                seen.starts_with(&id),
                "client {c} round {r}: push of {id} not visible: {seen}"
            );
        }
        ok(home, &dir, &["fetch", "-q", "origin"]);
        // The shared branch: every client's commit must land.
        let mut attempts = 0;
        loop {
            attempts += 1;
            assert!(attempts <= 30, "client {c}: could not land on shared");
            ok(home, &dir, &["fetch", "-q", "origin", "shared"]);
            ok(home, &dir, &["checkout", "-q", "-B", "s", "FETCH_HEAD"]);
            commit(home, &dir, &format!("shared-c{c}-r{r}"));
            let (pushed, _, err) = g(home, &dir, &["push", "-q", "origin", "s:shared"]);
            if pushed {
                break;
            }
            assert!(
                err.contains("rejected")
                    || err.contains("failed to lock")
                    || err.contains("fetch first"),
                "client {c}: push to shared failed oddly: {err}"
            );
            races_lost += 1;
        }
    }
    races_lost
}

#[test]
fn two_fastcgi_nodes_behind_one_nginx_upstream_lose_nothing() {
    let root = make_root("scale");
    let repo = root.0.join("r.git");
    git(&repo, &["branch", "shared", "main"]);
    let a = Node::start(&root.0, "node-a");
    let b = Node::start(&root.0, "node-b");
    let web = TempDir::new("scale-web");
    let nginx = Nginx::start(
        &web.0,
        "nginx/git-fastcgi-upstream.conf",
        &[
            ("git-node-1.internal:9000", format!("127.0.0.1:{}", a.port)),
            ("git-node-2.internal:9000", format!("127.0.0.1:{}", b.port)),
            (
                "least_conn;",
                "# least_conn; (round robin: alternate)".to_string(),
            ),
            ("/srv/git", root.0.display().to_string()),
        ],
    );
    let url = nginx.url("r.git");
    let (wa, wb) = (a.written(), b.written());
    let started = Instant::now();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (url, home) = (url.clone(), root.0.clone());
            std::thread::spawn(move || client(c, &url, &home))
        })
        .collect();
    let races: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let (da, db) = (a.written() - wa, b.written() - wb);
    println!(
        "SCALE | {CLIENTS} clients x {ROUNDS} rounds through 2 nodes in {:.1} s; node a wrote {da} B, node b {db} B; {races} lost races on shared retried",
        started.elapsed().as_secs_f64()
    );
    assert!(
        da > 10_000 && db > 10_000,
        "a node served nothing: {da} / {db}"
    );
    // Nothing lost: each client's branch has its rounds, shared has every commit.
    let check = TempDir::new("scale-check");
    ok(
        &check.0,
        &check.0,
        &["clone", "-q", "--mirror", &url, "m.git"],
    );
    let m = check.0.join("m.git");
    for c in 0..CLIENTS {
        let log = ok(
            &check.0,
            &m,
            &["log", "--format=%s", &format!("client-{c}")],
        );
        for r in 0..ROUNDS {
            assert!(
                log.lines().any(|l| l == format!("c{c}-r{r}")),
                "client-{c} lost round {r}"
            );
        }
    }
    let shared = ok(&check.0, &m, &["log", "--format=%s", "shared"]);
    let landed = shared.lines().filter(|l| l.starts_with("shared-")).count();
    assert_eq!(landed, CLIENTS * ROUNDS, "shared lost commits:\n{shared}");
    assert_eq!(
        refs(&m),
        refs(&repo),
        "a fetch through the balancer differs from disk"
    );
    assert_fsck(&repo);
    wait_no_processes_in(&repo);
    for n in [&a, &b] {
        let log = std::fs::read_to_string(&n.log).unwrap_or_default();
        assert!(!log.contains("panicked"), "{log}");
    }
}

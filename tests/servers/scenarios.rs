//! The git-client scenarios every setup runs, once per backend, and the
//! fixture repository they push from.
//!
//! Each scenario returns a short outcome ("ok v2", "refused 401", "n/a", or
//! "FAIL: ..."); the test compares ours with stock and both with the outcome
//! the setup should give.

use crate::harness::{
    Auth, Kind, PASSWORD, Server, Setup, USER, account, check, chown_to_account, git, git_in, run,
};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Scenario names, in the order they run (the matrix's columns).
pub const SCENARIOS: &[&str] = &[
    "clone",
    "ls-remote v0",
    "ls-remote v2",
    "anon read",
    "anon push",
    "wrong password",
    "spoofed user",
    "push as user",
    "fetch",
    "gzip fetch",
    "chunked push",
    "dumb clone",
    "push 100MB",
    "archive v2",
];

/// Size of the big push.
const BIG: usize = 100 * 1024 * 1024;

/// The fixture repository: `main` (seed history), `topic` (main + 1 commit),
/// `chunk` (topic + 1 MiB of random data), `big` (main + 100 MiB of random
/// data), `local` (main + 200 small commits, for many "have" lines).
pub struct Fixture {
    /// Its work tree.
    pub dir: PathBuf,
}

impl Fixture {
    /// The commit `rev` names in the fixture.
    pub fn rev(&self, rev: &str) -> String {
        check(git_in(&self.dir).args(["rev-parse", rev]))
            .trim()
            .to_string()
    }
}

/// Incompressible bytes (xorshift64*), deterministic.
fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        out.extend_from_slice(&seed.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Builds the fixture once (kept in the cargo target's tmp dir across runs).
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("servers-fixture-v1");
        let done = dir.join(".git").join("fixture-complete");
        if !done.exists() {
            let _ = fs::remove_dir_all(&dir);
            build_fixture(&dir);
            fs::write(&done, "").unwrap();
        }
        Fixture { dir }
    })
}

fn commit_file(dir: &Path, name: &str, data: &[u8], msg: &str) {
    fs::write(dir.join(name), data).unwrap();
    check(git_in(dir).args(["add", name]));
    check(git_in(dir).args(["commit", "-q", "-m", msg]));
}

fn build_fixture(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    check(git_in(dir).args(["init", "-q", "-b", "main"]));
    for i in 0..3 {
        commit_file(
            dir,
            &format!("file{i}.txt"),
            format!("seed {i}\n").as_bytes(),
            &format!("seed {i}"),
        );
    }
    check(git_in(dir).args(["checkout", "-q", "-b", "topic"]));
    commit_file(dir, "topic.txt", b"pushed by alice\n", "topic");
    check(git_in(dir).args(["checkout", "-q", "-b", "chunk"]));
    commit_file(dir, "chunk.bin", &random_bytes(1024 * 1024, 7), "1 MiB");
    check(git_in(dir).args(["checkout", "-q", "-b", "big", "main"]));
    // Stored, not deflated: random data does not compress, and pushes reuse it.
    fs::write(dir.join("big.bin"), random_bytes(BIG, 42)).unwrap();
    check(git_in(dir).args(["-c", "core.compression=0", "add", "big.bin"]));
    check(git_in(dir).args(["commit", "-q", "-m", "100 MiB"]));
    fs::remove_file(dir.join("big.bin")).unwrap();
    check(git_in(dir).args(["checkout", "-q", "-f", "main"]));
    // 200 commits on top of main via fast-import (fast).
    let main = check(git_in(dir).args(["rev-parse", "main"]))
        .trim()
        .to_string();
    let mut stream = String::new();
    for i in 0..200 {
        let msg = format!("local {i}");
        let content = format!("local {i}\n");
        stream.push_str(&format!(
            "commit refs/heads/local\nmark :{m}\ncommitter L <l@example.com> {t} +0000\ndata {len}\n{msg}\n",
            m = i + 1,
            t = 2_000_000_000u64 + i,
            len = msg.len(),
        ));
        if i == 0 {
            stream.push_str(&format!("from {main}\n"));
        }
        stream.push_str(&format!(
            "M 644 inline local.txt\ndata {}\n{content}\n",
            content.len()
        ));
    }
    let mut child = git_in(dir)
        .args(["fast-import", "--quiet"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("git fast-import");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "fast-import failed");
    check(git_in(dir).args(["-c", "pack.compression=0", "repack", "-adq"]));
}

/// Where one backend's run of one setup keeps its clients.
pub struct Run<'a> {
    /// The setup.
    pub setup: &'a Setup,
    /// The server.
    pub server: &'a Server,
    /// Client work dirs.
    pub tmp: tempfile::TempDir,
}

impl Run<'_> {
    fn anon_url(&self) -> String {
        self.server.url.clone()
    }
    fn user_url(&self, password: &str) -> String {
        self.server
            .url
            .replacen("http://", &format!("http://{USER}:{password}@"), 1)
    }
    /// The URL reads use (with credentials where everything is private).
    fn read_url(&self) -> String {
        match self.setup.auth {
            Auth::Private => self.user_url(PASSWORD),
            _ => self.anon_url(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
    fn server_rev(&self, rev: &str) -> String {
        let out = run(git_in(&self.server.repo).args(["rev-parse", "--verify", "-q", rev]));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
    /// Moves the server's `main` to the fixture's `topic` on disk (setups
    /// without push), then gives the files back to the server's account.
    fn update_server_locally(&self, rev: &str) {
        let fx = fixture();
        // A fetch run in the server's repository: a local push would start
        // receive-pack without our safe.directory setting.
        check(
            git_in(&self.server.repo)
                .arg("fetch")
                .arg("-q")
                .arg(&fx.dir)
                .arg(format!("+{rev}:refs/heads/main")),
        );
        chown_to_account(&self.server.repo);
    }
}

/// Formats a failed command as an outcome.
fn fail(what: &str, out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    let last: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = last[last.len().saturating_sub(2)..].join(" / ");
    format!("FAIL: {what}: {tail}")
}

/// HTTP status of a GET, with optional credentials (curl).
fn http_status(url: &str, creds: Option<&str>) -> String {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "/dev/null", "-w", "%{http_code}"]);
    if let Some(c) = creds {
        cmd.args(["-u", c]);
    }
    check(cmd.arg(url)).trim().to_string()
}

/// Runs every scenario; returns the outcomes in [`SCENARIOS`] order.
pub fn run_all(r: &Run) -> Vec<String> {
    let fx = fixture();
    let auth = r.setup.auth;
    let mut out = Vec::new();
    let c1 = r.path("c1");

    // clone
    out.push({
        let o = run(git().args(["clone", "-q"]).arg(r.read_url()).arg(&c1));
        if !o.status.success() {
            fail("clone", &o)
        } else if check(git_in(&c1).args(["rev-parse", "HEAD"])).trim() != fx.rev("main") {
            "FAIL: cloned HEAD differs".into()
        } else {
            "ok".into()
        }
    });

    // ls-remote, v0 and v2 (which version the server answered with, from the trace)
    for v in ["0", "2"] {
        out.push({
            let trace = r.path(&format!("ls-remote-v{v}.trace"));
            let o = run(git()
                .env("GIT_TRACE_PACKET", &trace)
                .args(["-c", &format!("protocol.version={v}"), "ls-remote"])
                .arg(r.read_url()));
            let t = fs::read_to_string(&trace).unwrap_or_default();
            let refs = String::from_utf8_lossy(&o.stdout);
            if !o.status.success() {
                fail("ls-remote", &o)
            } else if !refs.contains(&format!("{}\trefs/heads/main", fx.rev("main"))) {
                format!("FAIL: ls-remote output: {refs}")
            } else if t.contains("< version 2") {
                "ok v2".into()
            } else {
                "ok v0".into()
            }
        });
    }

    // anon read: the advertisement for fetch, without credentials
    out.push(http_status(
        &format!("{}/info/refs?service=git-upload-pack", r.anon_url()),
        None,
    ));

    // anon push: refused, with which status
    out.push({
        let status = http_status(
            &format!("{}/info/refs?service=git-receive-pack", r.anon_url()),
            None,
        );
        let o = run(git_in(&fx.dir)
            .arg("push")
            .arg(r.anon_url())
            .arg("topic:main"));
        if o.status.success() {
            format!("ACCEPTED ({status})")
        } else {
            format!("refused {status}")
        }
    });

    // wrong password
    out.push(if auth == Auth::None {
        "n/a".into()
    } else {
        let status = http_status(
            &format!("{}/info/refs?service=git-receive-pack", r.anon_url()),
            Some(&format!("{USER}:wrong")),
        );
        let o = run(git_in(&fx.dir)
            .arg("push")
            .arg(r.user_url("wrong"))
            .arg("topic:main"));
        if o.status.success() {
            format!("ACCEPTED ({status})")
        } else {
            format!("refused {status}")
        }
    });

    // spoofed user: a made-up Authorization header on a request the server
    // may not classify as a push (the backend takes the last `service`).
    out.push({
        let status = http_status(
            &format!(
                "{}/info/refs?service=git-upload-pack&service=git-receive-pack",
                r.anon_url()
            ),
            Some("mallory:x"),
        );
        if status == "200" {
            "ACCEPTED 200".into()
        } else {
            format!("refused {status}")
        }
    });

    // push as user: the reflog records the authenticated user as committer
    out.push(if auth == Auth::None {
        r.update_server_locally("topic");
        "n/a".into()
    } else {
        let o = run(git_in(&fx.dir)
            .arg("push")
            .arg(r.user_url(PASSWORD))
            .arg("topic:main"));
        if !o.status.success() {
            fail("push", &o)
        } else if r.server_rev("main") != fx.rev("topic") {
            "FAIL: server main not updated".into()
        } else {
            let ident = check(git_in(&r.server.repo).args([
                "log",
                "-g",
                "-1",
                "--format=%gn <%ge>",
                "refs/heads/main",
            ]));
            let want = format!("{USER} <{USER}@http.127.0.0.1>");
            // The CGI ran as the servers' account, not as root.
            let log = r.server.repo.join("logs/refs/heads/main");
            let owner = check(Command::new("stat").args(["-c", "%U"]).arg(&log))
                .trim()
                .to_string();
            if ident.trim() != want {
                format!("FAIL: reflog says {}", ident.trim())
            } else if owner != account().0 {
                format!("FAIL: reflog written by {owner}")
            } else {
                format!("ok as {USER}")
            }
        }
    });

    // fetch into the first clone
    out.push({
        let o = run(git_in(&c1).args(["fetch", "-q", "origin"]));
        if !o.status.success() {
            fail("fetch", &o)
        } else if check(git_in(&c1).args(["rev-parse", "origin/main"])).trim() != fx.rev("topic") {
            "FAIL: fetched origin/main differs".into()
        } else {
            "ok".into()
        }
    });

    // gzip fetch: 200 local commits the server lacks make big, gzipped requests
    out.push({
        let c3 = r.path("c3");
        check(git().args(["init", "-q"]).arg(&c3));
        check(
            git_in(&c3)
                .arg("fetch")
                .arg("-q")
                .arg(&fx.dir)
                .arg("local:refs/heads/local"),
        );
        let trace = r.path("gzip.trace");
        let o = run(git_in(&c3)
            .env("GIT_TRACE_CURL", &trace)
            .env("GIT_TRACE_CURL_NO_DATA", "1")
            .arg("fetch")
            .arg("-q")
            .arg(r.read_url())
            .arg("main:refs/remotes/origin/main"));
        let t = fs::read_to_string(&trace).unwrap_or_default();
        if !o.status.success() {
            fail("fetch", &o)
        } else if check(git_in(&c3).args(["rev-parse", "origin/main"])).trim() != fx.rev("topic") {
            "FAIL: fetched main differs".into()
        } else if t.contains("Content-Encoding: gzip") {
            "ok gzip".into()
        } else {
            "ok (not gzipped)".into()
        }
    });

    // chunked push: a small postBuffer makes git stream the 1 MiB pack chunked
    out.push(if auth == Auth::None {
        "n/a".into()
    } else {
        let trace = r.path("chunk.trace");
        let o = run(git_in(&fx.dir)
            .env("GIT_TRACE_CURL", &trace)
            .env("GIT_TRACE_CURL_NO_DATA", "1")
            .args(["-c", "http.postBuffer=65536", "push"])
            .arg(r.user_url(PASSWORD))
            .arg("chunk:main"));
        let t = fs::read_to_string(&trace).unwrap_or_default();
        if !o.status.success() {
            fail("push", &o)
        } else if r.server_rev("main") != fx.rev("chunk") {
            "FAIL: server main not updated".into()
        } else if t.contains("Transfer-Encoding: chunked") {
            "ok chunked".into()
        } else {
            "ok (not chunked)".into()
        }
    });

    // dumb HTTP clone after update-server-info
    out.push({
        check(git_in(&r.server.repo).arg("update-server-info"));
        chown_to_account(&r.server.repo);
        let c4 = r.path("c4");
        let want = r.server_rev("main");
        let o = run(git()
            .env("GIT_SMART_HTTP", "0")
            .args(["clone", "-q", "--single-branch", "-b", "main"])
            .arg(r.read_url())
            .arg(&c4));
        if !o.status.success() {
            fail("dumb clone", &o)
        } else if check(git_in(&c4).args(["rev-parse", "HEAD"])).trim() != want {
            "FAIL: dumb clone HEAD differs".into()
        } else {
            "ok".into()
        }
    });

    // 100 MB push (new branch)
    out.push(if auth == Auth::None {
        "n/a".into()
    } else {
        let o = run(git_in(&fx.dir)
            .arg("push")
            .arg(r.user_url(PASSWORD))
            .arg("big:refs/heads/big"));
        if !o.status.success() {
            fail("push", &o)
        } else if r.server_rev("refs/heads/big") != fx.rev("big") {
            "FAIL: server big not updated".into()
        } else {
            "ok".into()
        }
    });

    // git archive --remote (protocol v2) with credentials where the setup has
    // any: without http.uploadarchive, upload-archive is on exactly when the web
    // server authenticated the user (REMOTE_USER non-empty), as receive-pack is.
    out.push({
        let url = match auth {
            Auth::None => r.anon_url(),
            _ => r.user_url(PASSWORD),
        };
        let o = run(git()
            .current_dir(r.tmp.path())
            .args(["-c", "protocol.version=2", "archive", "--format=tar"])
            .arg(format!("--remote={url}"))
            .args(["main", "file0.txt"]));
        if !o.status.success() {
            "refused".into()
        } else if !o.stdout.windows(9).any(|w| w == b"file0.txt") {
            "FAIL: file0.txt not in the archive".into()
        } else {
            "ok".into()
        }
    });

    assert_eq!(out.len(), SCENARIOS.len());
    out
}

/// The outcomes a setup should give, in [`SCENARIOS`] order.
pub fn expected(setup: &Setup) -> Vec<String> {
    let s = |x: &str| x.to_string();
    let (none, push) = (setup.auth == Auth::None, setup.auth != Auth::None);
    let pick = |cond: bool, yes: &str, no: &str| {
        if cond {
            yes.to_string()
        } else {
            no.to_string()
        }
    };
    vec![
        s("ok"),
        s("ok v0"),
        s("ok v2"),
        pick(setup.auth == Auth::Private, "401", "200"),
        pick(none, "refused 403", "refused 401"),
        pick(push, "refused 401", "n/a"),
        // nginx decides "push or not" on the first `service` parameter (the
        // backend takes the last), so there the backend refuses: no REMOTE_USER.
        pick(
            none || matches!(setup.kind, Kind::NginxFcgiwrap | Kind::NginxNative),
            "refused 403",
            "refused 401",
        ),
        pick(push, &format!("ok as {USER}"), "n/a"),
        s("ok"),
        s("ok gzip"),
        pick(push, "ok chunked", "n/a"),
        s("ok"),
        pick(push, "ok", "n/a"),
        // Only where every URL is authenticated does the backend see a user, or
        // where the backend authenticates itself and so challenges for one (its
        // 401 arrives whole: the CGI reads the unread body, see transport/cgi.rs).
        pick(
            matches!(setup.auth, Auth::Private | Auth::BackendPush),
            "ok",
            "refused",
        ),
    ]
}

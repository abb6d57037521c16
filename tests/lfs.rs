//! Git LFS: the real `git lfs` client against `serve`, Apache CGI (with Basic
//! auth, two users) and nginx + our native FastCGI server; and protocol tests of
//! the batch, transfer and locks endpoints (the git-lfs API docs' examples and bad
//! input) through CGI.

#[path = "servers/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "e2e_serve/support.rs"]
mod support;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use support::{Scratch, random_file, vm_kib};

const MEDIA: &str = "application/vnd.git-lfs+json";

fn sha256_file(path: &Path) -> String {
    use std::io::Read;
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex(&h.finalize())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn lfs_object(repo: &Path, oid: &str) -> PathBuf {
    repo.join("lfs/objects")
        .join(&oid[..2])
        .join(&oid[2..4])
        .join(oid)
}

/// A scratch home with git-lfs's filters installed.
fn lfs_scratch() -> Scratch {
    let s = Scratch::new();
    s.git(s.path(), &["lfs", "install", "--skip-repo"]);
    s
}

/// Runs git with extra environment; asserts success; returns stdout+stderr.
fn git_ok(s: &Scratch, dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> String {
    let out = s.git_output(dir, args, envs);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "git {args:?} failed:\n{text}");
    text
}

fn git_fails(s: &Scratch, dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> String {
    let out = s.git_output(dir, args, envs);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "git {args:?} succeeded:\n{text}");
    text
}

/// A work tree tracking `*.bin` with LFS, with one commit holding `a.bin`.
fn lfs_work(s: &Scratch, name: &str, a_len: usize) -> PathBuf {
    let w = s.work(name, 1);
    git_ok(s, &w, &["lfs", "track", "*.bin"], &[]);
    random_file(&w.join("a.bin"), a_len, 1);
    git_ok(s, &w, &["add", ".gitattributes", "a.bin"], &[]);
    git_ok(s, &w, &["commit", "-q", "-m", "a.bin"], &[]);
    w
}

/// Asserts `file` holds real content (smudged), not an LFS pointer.
fn assert_smudged(file: &Path, expected: &Path) {
    let got = std::fs::read(file).unwrap();
    assert!(
        !got.starts_with(b"version https://git-lfs"),
        "{} is still a pointer",
        file.display()
    );
    assert_eq!(got, std::fs::read(expected).unwrap(), "{}", file.display());
}

/// A credential store file for `user` at `url`'s host, configured in `dir`.
fn use_credentials(s: &Scratch, dir: &Path, url: &str, user: &str, password: &str) {
    let host = url.trim_start_matches("http://").split('/').next().unwrap();
    let file = s.path().join(format!("cred-{user}"));
    std::fs::write(&file, format!("http://{user}:{password}@{host}\n")).unwrap();
    git_ok(
        s,
        dir,
        &[
            "config",
            "credential.helper",
            &format!("store --file={}", file.display()),
        ],
        &[],
    );
}

// ---------------------------------------------------------------------------
// serve

/// `serve`: push (with a 200 MB object in flat memory), clone (smudged), fetch,
/// `git lfs pull`, locks; and LFS off answers like an unknown path.
#[test]
fn serve_push_clone_fetch_pull_locks() {
    let s = lfs_scratch();
    let repo = s.bare("r.git");
    s.git(&repo, &["config", "http.lfs", "true"]);
    let server = support::Server::start(&s);
    let url = server.url("r.git");

    let w = lfs_work(&s, "w", 1 << 20);
    git_ok(&s, &w, &["push", "-q", &url, "main"], &[]);
    let a_oid = sha256_file(&w.join("a.bin"));
    assert_eq!(sha256_file(&lfs_object(&repo, &a_oid)), a_oid);

    // A 200 MB object on its own branch: our process stays small.
    git_ok(&s, &w, &["checkout", "-q", "-b", "big"], &[]);
    random_file(&w.join("big.bin"), 200 << 20, 2);
    git_ok(&s, &w, &["add", "big.bin"], &[]);
    git_ok(&s, &w, &["commit", "-q", "-m", "big"], &[]);
    git_ok(&s, &w, &["push", "-q", &url, "big"], &[]);
    let big_oid = sha256_file(&w.join("big.bin"));
    let stored = lfs_object(&repo, &big_oid);
    assert_eq!(std::fs::metadata(&stored).unwrap().len(), 200 << 20);
    let hwm = vm_kib(server.pid(), "VmHWM:");
    eprintln!("serve VmHWM after a 200 MB LFS push: {hwm} KiB");
    assert!(hwm < 32 * 1024, "serve peak RSS {hwm} KiB over 32 MiB");
    assert!(
        std::fs::read_dir(repo.join("lfs/tmp"))
            .unwrap()
            .next()
            .is_none(),
        "temporary files left"
    );
    git_ok(&s, &w, &["checkout", "-q", "main"], &[]);

    // Clone: objects smudged.
    let c = s.path().join("c");
    git_ok(
        &s,
        s.path(),
        &["clone", "-q", &url, c.to_str().unwrap()],
        &[],
    );
    assert_smudged(&c.join("a.bin"), &w.join("a.bin"));

    // A new object: git lfs fetch, then git lfs pull.
    random_file(&w.join("b.bin"), 300_000, 3);
    git_ok(&s, &w, &["add", "b.bin"], &[]);
    git_ok(&s, &w, &["commit", "-q", "-m", "b.bin"], &[]);
    git_ok(&s, &w, &["push", "-q", &url, "main"], &[]);
    git_ok(&s, &c, &["pull", "-q"], &[("GIT_LFS_SKIP_SMUDGE", "1")]);
    assert!(
        std::fs::read(c.join("b.bin"))
            .unwrap()
            .starts_with(b"version https://git-lfs")
    );
    let out = git_ok(&s, &c, &["lfs", "fetch"], &[]);
    assert!(out.contains("fetch:"), "{out}");
    let b_oid = sha256_file(&w.join("b.bin"));
    assert!(lfs_object(&c.join(".git"), &b_oid).exists());
    git_ok(&s, &c, &["lfs", "pull"], &[]);
    assert_smudged(&c.join("b.bin"), &w.join("b.bin"));

    // Locks (serve has no users: the owner is "anonymous").
    let out = git_ok(&s, &c, &["lfs", "lock", "a.bin"], &[]);
    assert!(out.contains("Locked a.bin"), "{out}");
    let out = git_ok(&s, &c, &["lfs", "locks"], &[]);
    assert!(out.contains("a.bin") && out.contains("anonymous"), "{out}");
    let out = git_fails(&s, &c, &["lfs", "lock", "a.bin"], &[]);
    assert!(out.contains("already created lock"), "{out}");
    git_ok(&s, &c, &["lfs", "unlock", "a.bin"], &[]);
    let out = git_ok(&s, &c, &["lfs", "locks"], &[]);
    assert!(!out.contains("a.bin"), "{out}");

    // LFS off in another repository: the same 404 as an unknown path.
    let off = s.bare("off.git");
    git_ok(
        &s,
        &w,
        &["push", "-q", off.to_str().unwrap(), "main"],
        &[("GIT_LFS_SKIP_PUSH", "1")],
    );
    let c2 = s.path().join("c2");
    let out = git_fails(
        &s,
        s.path(),
        &["clone", "-q", &server.url("off.git"), c2.to_str().unwrap()],
        &[],
    );
    let lower = out.to_lowercase();
    assert!(
        lower.contains("404") || lower.contains("not found"),
        "{out}"
    );
}

/// `serve` with the built-in Basic auth and an ACL making the repository
/// private: real git-lfs gets 401, asks the credential helper and succeeds
/// (writer's push, reader's smudged clone); an anonymous clone is refused; the
/// reader's push of a new LFS object is refused (its upload is a write) and
/// stores nothing.
#[test]
fn serve_private_repo_401_then_success_and_reader_refused() {
    let s = lfs_scratch();
    let repo = s.bare("r.git");
    s.git(&repo, &["config", "http.lfs", "true"]);
    let pw = s.path().join("htpasswd");
    for (user, pass) in [("reader", "rpw"), ("writer", "wpw")] {
        let mut cmd = Command::new("htpasswd");
        cmd.arg(if pw.exists() { "-bB" } else { "-cbB" })
            .arg(&pw)
            .args([user, pass]);
        assert!(cmd.output().unwrap().status.success(), "htpasswd");
    }
    let acl = s.path().join("acl.conf");
    std::fs::write(&acl, "repo r\n    RW+ = writer\n    R   = reader\n").unwrap();
    let server = support::Server::start_env(
        &s,
        &["--listen", "127.0.0.1:0"],
        &[
            ("GIT_HTTP_AUTH_FILE", pw.to_str().unwrap()),
            ("GIT_HTTP_ACL_FILE", acl.to_str().unwrap()),
        ],
    );
    let url = server.url("r.git");

    // The writer's push: 401 on info/refs and on the LFS batch, then success.
    let w = lfs_work(&s, "w", 300_000);
    use_credentials(&s, &w, &url, "writer", "wpw");
    git_ok(&s, &w, &["push", "-q", &url, "main"], &[]);
    let a_oid = sha256_file(&w.join("a.bin"));
    assert!(lfs_object(&repo, &a_oid).exists(), "{}", server.log());
    assert!(
        server.log().contains("(asking for credentials)"),
        "no 401 before the push succeeded:\n{}",
        server.log()
    );

    // Anonymous: refused (401, and no way to answer it).
    let out = git_fails(
        &s,
        s.path(),
        &["clone", "-q", &url, s.path().join("anon").to_str().unwrap()],
        &[],
    );
    assert!(out.contains("401") || out.contains("Username"), "{out}");

    // The reader clones with credentials: objects smudged.
    let r = s.path().join("reader");
    let host = url.trim_start_matches("http://").split('/').next().unwrap();
    let store = s.path().join("cred-reader-clone");
    std::fs::write(&store, format!("http://reader:rpw@{host}\n")).unwrap();
    git_ok(
        &s,
        s.path(),
        &[
            "-c",
            &format!("credential.helper=store --file={}", store.display()),
            "clone",
            "-q",
            &url,
            r.to_str().unwrap(),
        ],
        &[],
    );
    use_credentials(&s, &r, &url, "reader", "rpw");
    assert_smudged(&r.join("a.bin"), &w.join("a.bin"));

    // The reader's push of a new object: refused, nothing stored, ref unmoved.
    random_file(&r.join("a.bin"), 200_000, 7);
    git_ok(
        &s,
        &r,
        &["commit", "-q", "-am", "reader changes a.bin"],
        &[],
    );
    let new_oid = sha256_file(&r.join("a.bin"));
    let before = s.git(&repo, &["rev-parse", "main"]);
    let out = git_fails(&s, &r, &["push", "origin", "main"], &[]);
    assert!(out.contains("403"), "{out}");
    // git-lfs's own upload (the batch API's upload operation) is refused too.
    let out = git_fails(&s, &r, &["lfs", "push", "origin", "main"], &[]);
    assert!(out.contains("reader may not write to 'r'"), "{out}");
    assert!(!lfs_object(&repo, &new_oid).exists());
    assert_eq!(s.git(&repo, &["rev-parse", "main"]), before);
}

// ---------------------------------------------------------------------------
// Apache CGI with Basic auth, and nginx + native FastCGI

const APACHE: harness::Setup = harness::Setup {
    name: "apache-auth-push",
    config: "apache/git-auth-push.conf",
    kind: harness::Kind::Apache,
    auth: harness::Auth::Push,
    fastcgi: false,
};

const NGINX: harness::Setup = harness::Setup {
    name: "nginx-fastcgi-auth",
    config: "nginx/git-fastcgi-auth.conf",
    kind: harness::Kind::NginxNative,
    auth: harness::Auth::Push,
    fastcgi: false,
};

/// Apache (mod_cgid) with the shipped auth config and `SetEnv GIT_HTTP_LFS 1`:
/// alice pushes after a 401, an anonymous clone reads the public objects, a
/// push by bob touching alice's locked file is refused, bob's unlock is refused
/// with and without `--force` (he is no admin), carol's `--force` (named in
/// `GIT_HTTP_LFS_ADMINS`) works, and an anonymous lock is refused.
#[test]
fn apache_cgi_auth_public_read_and_locks() {
    let s = lfs_scratch();
    let seed = s.work("seed", 1);
    let server = harness::Server::start_edited(&APACHE, harness::Backend::Ours, &seed, &|conf| {
        conf.replace(
            "SetEnv GIT_HTTP_EXPORT_ALL",
            "SetEnv GIT_HTTP_EXPORT_ALL\nSetEnv GIT_HTTP_LFS 1\nSetEnv GIT_HTTP_LFS_ADMINS carol",
        )
    });
    let url = server.url.clone();
    for (user, pw) in [("bob", "bobpw"), ("carol", "carolpw")] {
        harness::check(
            Command::new("htpasswd")
                .arg("-b")
                .arg(server.run_dir.join("htpasswd"))
                .args([user, pw]),
        );
    }

    // alice: clone, add an LFS object, push (git-lfs gets a 401 and asks).
    let a = s.path().join("alice");
    git_ok(
        &s,
        s.path(),
        &["clone", "-q", &url, a.to_str().unwrap()],
        &[],
    );
    use_credentials(&s, &a, &url, harness::USER, harness::PASSWORD);
    git_ok(&s, &a, &["config", "lfs.locksverify", "true"], &[]);
    git_ok(&s, &a, &["lfs", "track", "*.bin"], &[]);
    random_file(&a.join("a.bin"), 500_000, 4);
    git_ok(&s, &a, &["add", ".gitattributes", "a.bin"], &[]);
    git_ok(&s, &a, &["commit", "-q", "-m", "a.bin"], &[]);
    let out = s.git_output(&a, &["push", "-q", "origin", "main"], &[]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.logs()
    );
    let oid = sha256_file(&a.join("a.bin"));
    assert!(lfs_object(&server.repo, &oid).exists(), "{}", server.logs());

    // Anonymous read of a public repository: the clone is smudged.
    let anon = s.path().join("anon");
    git_ok(
        &s,
        s.path(),
        &["clone", "-q", &url, anon.to_str().unwrap()],
        &[],
    );
    assert_smudged(&anon.join("a.bin"), &a.join("a.bin"));
    // An anonymous lock needs credentials it has none of.
    let out = git_fails(&s, &anon, &["lfs", "lock", "a.bin"], &[]);
    assert!(!out.contains("Locked"), "{out}");

    // alice locks; bob's push of a change to a.bin is refused.
    let out = git_ok(&s, &a, &["lfs", "lock", "a.bin"], &[]);
    assert!(out.contains("Locked a.bin"), "{out}");
    let b = s.path().join("bob");
    git_ok(
        &s,
        s.path(),
        &["clone", "-q", &url, b.to_str().unwrap()],
        &[],
    );
    use_credentials(&s, &b, &url, "bob", "bobpw");
    git_ok(&s, &b, &["config", "lfs.locksverify", "true"], &[]);
    let out = git_ok(&s, &b, &["lfs", "locks"], &[]);
    assert!(
        out.contains("a.bin") && out.contains(harness::USER),
        "{out}"
    );
    random_file(&b.join("a.bin"), 400_000, 5);
    git_ok(&s, &b, &["commit", "-q", "-am", "bob changes a.bin"], &[]);
    let before = harness::check(harness::git_in(&server.repo).args(["rev-parse", "main"]));
    let out = git_fails(&s, &b, &["push", "origin", "main"], &[]);
    assert!(out.contains("locked"), "{out}");
    assert_eq!(
        harness::check(harness::git_in(&server.repo).args(["rev-parse", "main"])),
        before
    );

    // bob cannot remove alice's lock, not even with --force (he is no admin);
    // carol, named in GIT_HTTP_LFS_ADMINS, can.
    let out = git_fails(&s, &b, &["lfs", "unlock", "a.bin"], &[]);
    assert!(out.contains("force") || out.contains("owned"), "{out}");
    let out = git_fails(&s, &b, &["lfs", "unlock", "--force", "a.bin"], &[]);
    assert!(out.contains("GIT_HTTP_LFS_ADMINS"), "{out}");
    let c = s.path().join("carol");
    git_ok(
        &s,
        s.path(),
        &["clone", "-q", &url, c.to_str().unwrap()],
        &[("GIT_LFS_SKIP_SMUDGE", "1")],
    );
    use_credentials(&s, &c, &url, "carol", "carolpw");
    git_ok(&s, &c, &["lfs", "unlock", "--force", "a.bin"], &[]);
    git_ok(&s, &b, &["push", "-q", "origin", "main"], &[]);
    assert_ne!(
        harness::check(harness::git_in(&server.repo).args(["rev-parse", "main"])),
        before
    );
}

/// nginx + our FastCGI server (`fastcgi_param GIT_HTTP_LFS 1`): push after a
/// 401, anonymous clone smudged, `git lfs fetch` and `git lfs pull`.
#[test]
fn nginx_fastcgi_push_clone_pull() {
    let s = lfs_scratch();
    let seed = s.work("seed", 1);
    let server = harness::Server::start_edited(&NGINX, harness::Backend::Ours, &seed, &|conf| {
        conf.replace(
            "fastcgi_param GIT_HTTP_EXPORT_ALL \"\";",
            "fastcgi_param GIT_HTTP_EXPORT_ALL \"\";\n            fastcgi_param GIT_HTTP_LFS 1;",
        )
    });
    let url = server.url.clone();
    let a = s.path().join("alice");
    git_ok(
        &s,
        s.path(),
        &["clone", "-q", &url, a.to_str().unwrap()],
        &[],
    );
    use_credentials(&s, &a, &url, harness::USER, harness::PASSWORD);
    git_ok(&s, &a, &["lfs", "track", "*.bin"], &[]);
    random_file(&a.join("a.bin"), 2 << 20, 6);
    git_ok(&s, &a, &["add", ".gitattributes", "a.bin"], &[]);
    git_ok(&s, &a, &["commit", "-q", "-m", "a.bin"], &[]);
    git_ok(&s, &a, &["push", "-q", "origin", "main"], &[]);
    let oid = sha256_file(&a.join("a.bin"));
    assert!(lfs_object(&server.repo, &oid).exists(), "{}", server.logs());

    let c = s.path().join("anon");
    git_ok(
        &s,
        s.path(),
        &["clone", "-q", &url, c.to_str().unwrap()],
        &[],
    );
    assert_smudged(&c.join("a.bin"), &a.join("a.bin"));

    random_file(&a.join("b.bin"), 100_000, 7);
    git_ok(&s, &a, &["add", "b.bin"], &[]);
    git_ok(&s, &a, &["commit", "-q", "-m", "b.bin"], &[]);
    git_ok(&s, &a, &["push", "-q", "origin", "main"], &[]);
    git_ok(&s, &c, &["pull", "-q"], &[("GIT_LFS_SKIP_SMUDGE", "1")]);
    git_ok(&s, &c, &["lfs", "fetch"], &[]);
    git_ok(&s, &c, &["lfs", "pull"], &[]);
    assert_smudged(&c.join("b.bin"), &a.join("b.bin"));
}

// ---------------------------------------------------------------------------
// Protocol, through CGI

/// A bare repository with LFS on, for CGI requests.
struct Cgi {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

/// A reply: status, headers, body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    /// An LFS error: the status, the media type and a `message`.
    fn assert_lfs_error(&self, status: u16) -> String {
        assert_eq!(
            self.status,
            status,
            "{:?}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.header("Content-Type"), Some(MEDIA));
        let v = self.json();
        let m = v["message"].as_str().expect("message").to_string();
        assert!(!m.is_empty());
        m
    }
}

impl Cgi {
    fn new() -> Cgi {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let out = Command::new("git")
            .args(["init", "-q", "--bare"])
            .arg(root.join("r.git"))
            .output()
            .unwrap();
        assert!(out.status.success());
        Cgi { _dir: dir, root }
    }

    fn repo(&self) -> PathBuf {
        self.root.join("r.git")
    }

    /// Runs one CGI request: `method` on `/r.git/<path>` as `user` (None:
    /// anonymous), with `body` (CONTENT_LENGTH = `len` or the body's length).
    #[allow(clippy::too_many_arguments)]
    fn request(
        &self,
        method: &str,
        path: &str,
        user: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
        len: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_git-http-backend-rs"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", &self.root)
            .env("GATEWAY_INTERFACE", "CGI/1.1")
            .env("GIT_PROJECT_ROOT", &self.root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("GIT_HTTP_LFS", "1")
            .env("REQUEST_METHOD", method)
            .env("SERVER_PROTOCOL", "HTTP/1.1")
            .env("HTTP_HOST", "git.example.org")
            .env("SCRIPT_NAME", "/git")
            .env("PATH_INFO", format!("/r.git/{path}"))
            .env("REQUEST_URI", format!("/git/r.git/{path}"))
            .env(
                "CONTENT_LENGTH",
                len.map(str::to_string).unwrap_or(body.len().to_string()),
            );
        if let Some(u) = user {
            cmd.env("REMOTE_USER", u);
        }
        if let Some(ct) = content_type {
            cmd.env("CONTENT_TYPE", ct);
        }
        if let Some((path, query)) = path.split_once('?') {
            cmd.env("PATH_INFO", format!("/r.git/{path}"))
                .env("QUERY_STRING", query);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let body = body.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&body);
        });
        let out: Output = child.wait_with_output().unwrap();
        writer.join().unwrap();
        parse_cgi(&out.stdout)
    }

    fn json(&self, method: &str, path: &str, user: Option<&str>, body: Value) -> Reply {
        let body = body.to_string();
        self.request(method, path, user, Some(MEDIA), body.as_bytes(), None, &[])
    }
}

fn parse_cgi(out: &[u8]) -> Reply {
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end: {:?}", String::from_utf8_lossy(out)));
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let mut status = 200;
    let mut headers = Vec::new();
    for line in head.split("\r\n") {
        let (n, v) = line.split_once(':').unwrap();
        if n == "Status" {
            status = v.trim()[..3].parse().unwrap();
        } else {
            headers.push((n.to_string(), v.trim().to_string()));
        }
    }
    Reply {
        status,
        headers,
        body: out[split + 4..].to_vec(),
    }
}

fn oid_of(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// The batch API: the spec's download and upload examples, per-object errors,
/// hrefs back at this server with the client's Authorization forwarded.
#[test]
fn protocol_batch() {
    let cgi = Cgi::new();
    let data = b"hello LFS\n";
    let oid = oid_of(data);
    let missing = "1".repeat(64);

    // Upload: the spec's request shape.
    let req = json!({
        "operation": "upload",
        "transfers": ["lfs-standalone-file", "basic"],
        "ref": { "name": "refs/heads/main" },
        "objects": [{ "oid": oid, "size": data.len() }, { "oid": "../../etc/passwd", "size": 1 }, { "oid": missing, "size": -1 }],
        "hash_algo": "sha256"
    });
    let r = cgi.request(
        "POST",
        "info/lfs/objects/batch",
        Some("alice"),
        Some(MEDIA),
        req.to_string().as_bytes(),
        None,
        &[("HTTP_AUTHORIZATION", "Basic YWxpY2U6c2VjcmV0")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some(MEDIA));
    let v = r.json();
    assert_eq!(v["transfer"], "basic");
    assert_eq!(v["hash_algo"], "sha256");
    let o = &v["objects"][0];
    let href = format!("http://git.example.org/git/r.git/info/lfs/objects/{oid}");
    assert_eq!(o["actions"]["upload"]["href"], href.as_str());
    assert_eq!(
        o["actions"]["upload"]["header"]["Authorization"],
        "Basic YWxpY2U6c2VjcmV0"
    );
    assert!(o["actions"]["upload"]["expires_in"].as_i64().unwrap() > 0);
    assert_eq!(
        o["actions"]["verify"]["href"],
        "http://git.example.org/git/r.git/info/lfs/verify"
    );
    assert_eq!(v["objects"][1]["error"]["code"], 422);
    assert_eq!(v["objects"][2]["error"]["code"], 422);

    // Download before the upload: 404 per object.
    let down = json!({ "operation": "download", "objects": [{ "oid": oid, "size": data.len() }] });
    let v = cgi
        .json("POST", "info/lfs/objects/batch", None, down.clone())
        .json();
    assert_eq!(v["objects"][0]["error"]["code"], 404);

    // PUT, verify, then download.
    let put = cgi.request(
        "PUT",
        &format!("info/lfs/objects/{oid}"),
        Some("alice"),
        Some("application/octet-stream"),
        data,
        None,
        &[],
    );
    assert_eq!(put.status, 200, "{:?}", String::from_utf8_lossy(&put.body));
    assert_eq!(std::fs::read(lfs_object(&cgi.repo(), &oid)).unwrap(), data);
    let r = cgi.json(
        "POST",
        "info/lfs/verify",
        Some("alice"),
        json!({ "oid": oid, "size": data.len() }),
    );
    assert_eq!(r.status, 200);
    cgi.json(
        "POST",
        "info/lfs/verify",
        Some("alice"),
        json!({ "oid": oid, "size": 3 }),
    )
    .assert_lfs_error(422);
    cgi.json(
        "POST",
        "info/lfs/verify",
        Some("alice"),
        json!({ "oid": missing, "size": 3 }),
    )
    .assert_lfs_error(404);
    let v = cgi
        .json("POST", "info/lfs/objects/batch", None, down)
        .json();
    let d = &v["objects"][0]["actions"]["download"];
    assert_eq!(d["href"], href.as_str());
    let get = cgi.request(
        "GET",
        &format!("info/lfs/objects/{oid}"),
        None,
        None,
        b"",
        None,
        &[],
    );
    assert_eq!(get.status, 200);
    assert_eq!(get.body, data);
    assert_eq!(get.header("Content-Length"), Some("10"));

    // Uploading a present object: no actions.
    let up = json!({ "operation": "upload", "objects": [{ "oid": oid, "size": data.len() }] });
    let v = cgi
        .json("POST", "info/lfs/objects/batch", Some("alice"), up.clone())
        .json();
    assert!(v["objects"][0].get("actions").is_none(), "{v}");

    // Anonymous upload: 401 with a challenge, so git-lfs asks for credentials.
    let r = cgi.json("POST", "info/lfs/objects/batch", None, up);
    r.assert_lfs_error(401);
    assert!(
        r.header("WWW-Authenticate")
            .unwrap()
            .starts_with("Basic realm=")
    );
    // Unsupported hash algorithm: 409.
    cgi.json(
        "POST",
        "info/lfs/objects/batch",
        None,
        json!({ "operation": "download", "objects": [], "hash_algo": "sha512" }),
    )
    .assert_lfs_error(409);
}

/// Bad input: clear LFS errors and nothing stored.
#[test]
fn protocol_bad_input() {
    let cgi = Cgi::new();
    let batch = "info/lfs/objects/batch";
    let r = cgi.request("POST", batch, None, Some(MEDIA), b"{not json", None, &[]);
    r.assert_lfs_error(400);
    let r = cgi.request(
        "POST",
        batch,
        None,
        Some(MEDIA),
        b"{\"operation\":\"download\"}",
        None,
        &[],
    );
    r.assert_lfs_error(400);
    let r = cgi.request("POST", batch, None, Some("text/plain"), b"{}", None, &[]);
    r.assert_lfs_error(415);
    let r = cgi.json(
        "POST",
        batch,
        None,
        json!({"operation": "delete", "objects": []}),
    );
    r.assert_lfs_error(422);
    // A JSON body cut short.
    let r = cgi.request(
        "POST",
        batch,
        None,
        Some(MEDIA),
        b"{\"operation\":",
        Some("100"),
        &[],
    );
    r.assert_lfs_error(400);

    let data = vec![9u8; 100_000];
    let oid = oid_of(&data);
    let put = |body: &[u8], len: Option<&str>, oid: &str| {
        cgi.request(
            "PUT",
            &format!("info/lfs/objects/{oid}"),
            Some("alice"),
            Some("application/octet-stream"),
            body,
            len,
            &[],
        )
    };
    // Cut short: CONTENT_LENGTH says more than arrives.
    put(&data[..50_000], Some("100000"), &oid).assert_lfs_error(400);
    // Lying size: more bytes announced than the object has is the case above;
    // fewer announced means the hash of what is read does not match.
    put(&data, Some("99999"), &oid).assert_lfs_error(422);
    // Content that does not hash to the oid.
    put(&data, None, &"2".repeat(64)).assert_lfs_error(422);
    assert!(
        !cgi.repo().join("lfs/objects").exists(),
        "something was stored"
    );
    assert_eq!(
        std::fs::read_dir(cgi.repo().join("lfs/tmp"))
            .unwrap()
            .count(),
        0,
        "temporary files left"
    );
    // Path tricks and uppercase oids never reach the store: `..` is refused
    // before routing as stock refuses it (500, "aliased"), the rest are not
    // routes (404/405).
    for path in [
        "info/lfs/objects/../../../../etc/passwd".to_string(),
        format!("info/lfs/objects/{}", "A".repeat(64)),
        format!("info/lfs/objects/{}%2f", "a".repeat(63)),
    ] {
        let r = cgi.request("PUT", &path, Some("alice"), None, b"x", None, &[]);
        assert!([404, 405, 500].contains(&r.status), "{path}: {}", r.status);
    }
    assert!(
        !cgi.repo().join("lfs/objects").exists(),
        "something was stored"
    );
    // Downloading a missing object: an LFS 404.
    cgi.request(
        "GET",
        &format!("info/lfs/objects/{oid}"),
        None,
        None,
        b"",
        None,
        &[],
    )
    .assert_lfs_error(404);
}

/// LFS off: every LFS path answers exactly like an unknown path.
#[test]
fn protocol_off_is_unknown_path() {
    let cgi = Cgi::new();
    let off = [("GIT_HTTP_LFS", "0")];
    let unknown = cgi.request("GET", "no/such/route", None, None, b"", None, &off);
    assert_eq!(unknown.status, 404);
    for (method, path) in [
        ("POST", "info/lfs/objects/batch".to_string()),
        ("GET", format!("info/lfs/objects/{}", "a".repeat(64))),
        ("PUT", format!("info/lfs/objects/{}", "a".repeat(64))),
        ("GET", "info/lfs/locks".to_string()),
        ("POST", "info/lfs/locks/verify".to_string()),
        ("DELETE", "info/lfs/locks".to_string()),
    ] {
        let r = cgi.request(method, &path, Some("alice"), Some(MEDIA), b"{}", None, &off);
        assert_eq!(
            (r.status, &r.headers, &r.body),
            (unknown.status, &unknown.headers, &unknown.body),
            "{method} {path}"
        );
    }
    // And http.lfs=true in the repository turns it on.
    let out = Command::new("git")
        .arg("-C")
        .arg(cgi.repo())
        .args(["config", "http.lfs", "true"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let r = cgi.request("GET", "info/lfs/locks", None, None, b"", None, &off);
    assert_eq!(r.status, 200);
}

/// Locks: create (201, then 409 with the lock), list with filters and paging,
/// verify (ours/theirs), unlock (403 for another's lock, force), and concurrent
/// creation of one path yielding exactly one lock.
#[test]
fn protocol_locks() {
    let cgi = Cgi::new();
    let create = |user: &str, path: &str| {
        cgi.json(
            "POST",
            "info/lfs/locks",
            Some(user),
            json!({ "path": path, "ref": { "name": "refs/heads/main" } }),
        )
    };
    let r = create("alice", "foo/bar.zip");
    assert_eq!(r.status, 201);
    let lock = r.json()["lock"].clone();
    assert_eq!(lock["path"], "foo/bar.zip");
    assert_eq!(lock["owner"]["name"], "alice");
    assert!(lock["locked_at"].as_str().unwrap().ends_with('Z'));
    let id = lock["id"].as_str().unwrap().to_string();
    let r = create("bob", "foo/bar.zip");
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["lock"]["id"], id.as_str());
    assert!(r.json()["message"].is_string());
    assert_eq!(create("bob", "b.psd").status, 201);
    assert_eq!(create("bob", "c.psd").status, 201);
    // Anonymous creation: 401.
    cgi.json("POST", "info/lfs/locks", None, json!({ "path": "x" }))
        .assert_lfs_error(401);

    let list = |q: &str| {
        let r = cgi.request(
            "GET",
            &format!("info/lfs/locks{q}"),
            None,
            None,
            b"",
            None,
            &[],
        );
        assert_eq!(r.status, 200);
        r.json()
    };
    assert_eq!(list("")["locks"].as_array().unwrap().len(), 3);
    let v = list("?path=foo/bar.zip");
    assert_eq!(v["locks"].as_array().unwrap().len(), 1);
    assert_eq!(v["locks"][0]["id"], id.as_str());
    assert_eq!(
        list(&format!("?id={id}"))["locks"][0]["path"],
        "foo/bar.zip"
    );
    let v = list("?limit=2");
    assert_eq!(v["locks"].as_array().unwrap().len(), 2);
    let cursor = v["next_cursor"].as_str().unwrap().to_string();
    let v = list(&format!("?limit=2&cursor={cursor}"));
    assert_eq!(v["locks"].as_array().unwrap().len(), 1);
    assert!(v.get("next_cursor").is_none());

    let r = cgi.json(
        "POST",
        "info/lfs/locks/verify",
        Some("bob"),
        json!({ "ref": { "name": "refs/heads/main" } }),
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["ours"].as_array().unwrap().len(), 2);
    assert_eq!(v["theirs"].as_array().unwrap().len(), 1);
    assert_eq!(v["theirs"][0]["owner"]["name"], "alice");

    let unlock = format!("info/lfs/locks/{id}/unlock");
    cgi.json("POST", &unlock, Some("bob"), json!({}))
        .assert_lfs_error(403);
    // Forcing needs an administrator: GIT_HTTP_LFS_ADMINS (or `+` in an ACL).
    cgi.json("POST", &unlock, Some("bob"), json!({ "force": true }))
        .assert_lfs_error(403);
    let force = json!({ "force": true }).to_string();
    let admins = [("GIT_HTTP_LFS_ADMINS", "carol, bob")];
    let r = cgi.request(
        "POST",
        &unlock,
        Some("bob"),
        Some(MEDIA),
        force.as_bytes(),
        None,
        &admins,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["lock"]["id"], id.as_str());
    cgi.json("POST", &unlock, Some("bob"), json!({}))
        .assert_lfs_error(404);

    // Eight concurrent creations of one path: one 201, seven 409, one lock file.
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| s.spawn(move || create(&format!("u{i}"), "race.bin").status))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    let v = list("?path=race.bin");
    assert_eq!(v["locks"].as_array().unwrap().len(), 1);
}

/// With the built-in Basic auth and an ACL: an anonymous request to a private
/// repository gets 401 with a challenge; a reader downloads but is refused
/// uploads and locks (403); a writer uploads.
#[test]
fn protocol_acl_and_builtin_auth() {
    let cgi = Cgi::new();
    let htpasswd = cgi.root.join("htpasswd");
    for (user, pw) in [("reader", "rpw"), ("writer", "wpw"), ("admin", "apw")] {
        let mut cmd = Command::new("htpasswd");
        cmd.arg("-bB");
        if !htpasswd.exists() {
            cmd.arg("-c");
        }
        let out = cmd.arg(&htpasswd).args([user, pw]).output().unwrap();
        assert!(out.status.success(), "htpasswd: {out:?}");
    }
    let acl = cgi.root.join("acl.conf");
    std::fs::write(
        &acl,
        "repo r\n    R  = reader\n    RW+ wip/ = writer\n    RW = writer\n    RW+ = admin\n",
    )
    .unwrap();
    let basic = |user: &str, pw: &str| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
        )
    };
    let (reader, writer, admin) = (
        basic("reader", "rpw"),
        basic("writer", "wpw"),
        basic("admin", "apw"),
    );
    let settings = |auth: Option<&str>| {
        let mut v = vec![
            ("GIT_HTTP_AUTH_FILE", htpasswd.to_str().unwrap().to_string()),
            ("GIT_HTTP_ACL_FILE", acl.to_str().unwrap().to_string()),
        ];
        if let Some(a) = auth {
            v.push(("HTTP_AUTHORIZATION", a.to_string()));
        }
        v
    };
    let run = |method: &str, path: &str, auth: Option<&str>, ct: Option<&str>, body: &[u8]| {
        let env = settings(auth);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        cgi.request(method, path, None, ct, body, None, &env)
    };
    let data = b"private LFS object\n";
    let oid = oid_of(data);
    let batch = |op: &str| {
        json!({ "operation": op, "objects": [{ "oid": oid, "size": data.len() }] }).to_string()
    };
    let b = "info/lfs/objects/batch";
    // Anonymous: 401 with a challenge (git-lfs then asks for credentials).
    let r = run("POST", b, None, Some(MEDIA), batch("download").as_bytes());
    assert_eq!(r.status, 401);
    assert!(r.header("WWW-Authenticate").unwrap().starts_with("Basic"));
    // The reader may download but not upload or lock.
    let r = run(
        "POST",
        b,
        Some(&reader),
        Some(MEDIA),
        batch("download").as_bytes(),
    );
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    run(
        "POST",
        b,
        Some(&reader),
        Some(MEDIA),
        batch("upload").as_bytes(),
    )
    .assert_lfs_error(403);
    let put = format!("info/lfs/objects/{oid}");
    run("PUT", &put, Some(&reader), None, data).assert_lfs_error(403);
    let lock = json!({ "path": "a.bin" }).to_string();
    run(
        "POST",
        "info/lfs/locks",
        Some(&reader),
        Some(MEDIA),
        lock.as_bytes(),
    )
    .assert_lfs_error(403);
    assert!(!cgi.repo().join("lfs/objects").exists());
    // The writer uploads and locks.
    let r = run(
        "POST",
        b,
        Some(&writer),
        Some(MEDIA),
        batch("upload").as_bytes(),
    );
    assert!(r.json()["objects"][0]["actions"]["upload"].is_object());
    assert_eq!(run("PUT", &put, Some(&writer), None, data).status, 200);
    let r = run(
        "POST",
        "info/lfs/locks",
        Some(&writer),
        Some(MEDIA),
        lock.as_bytes(),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["lock"]["owner"]["name"], "writer");
    let writers_lock = r.json()["lock"]["id"].as_str().unwrap().to_string();
    let r = run("GET", &put, Some(&reader), None, b"");
    assert_eq!(r.body, data);
    // Removing another's lock with force needs `+` on every ref: the admin
    // (RW+) may, the writer (RW, and RW+ only on wip/) may not.
    let r = run(
        "POST",
        "info/lfs/locks",
        Some(&admin),
        Some(MEDIA),
        json!({ "path": "b.bin" }).to_string().as_bytes(),
    );
    assert_eq!(r.status, 201);
    let admins_lock = r.json()["lock"]["id"].as_str().unwrap().to_string();
    let force = json!({ "force": true }).to_string();
    let unlock = |id: &str| format!("info/lfs/locks/{id}/unlock");
    run(
        "POST",
        &unlock(&admins_lock),
        Some(&writer),
        Some(MEDIA),
        force.as_bytes(),
    )
    .assert_lfs_error(403);
    let r = run(
        "POST",
        &unlock(&writers_lock),
        Some(&admin),
        Some(MEDIA),
        force.as_bytes(),
    );
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
}

//! End to end: the ACL and the built-in Basic auth with real git clients through
//! `git-http-backend-rs serve` (the Apache half is in tests/servers.rs,
//! `apache_builtin_auth`).
//!
//! One server, one ACL, several users (htpasswd entries of every kind htpasswd
//! makes): read-only users, feature-branch writers, a release manager, an admin
//! with `RW+`, anonymous; a private repository and a symlink to it; path spellings
//! that must not reach or reveal it; a refused push that leaves the repository
//! byte-identical; a broken ACL that fails closed and recovers; auth without ACL;
//! the ACL and htpasswd files replaced, emptied, made unreadable or broken while
//! `serve` and the FastCGI daemon run (issue 15's policy-file faults).

#![cfg(unix)]

#[allow(dead_code)] // the FastCGI encoder of tests/common, of which a part is used here
#[path = "common/fcgi.rs"]
mod fcgi;
#[path = "e2e_serve/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::BufReader;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use support::*;

const ACL: &str = "\
# test ACL
@release = rita
repo app
    RW+                 = admin
    RW   main           = rita
    RW+  feature/       = rita
    RW   feature/       = bob
    RW   refs/tags/v    = @release
    R                   = @all
repo secret
    RW+                 = admin
    R                   = rob
repo alias
    R                   = @all
";

/// (user, htpasswd flag): every hash kind htpasswd makes.
const USERS: &[(&str, &str)] = &[
    ("admin", "-B"),
    ("rita", "-m"),
    ("bob", "-2"),
    ("rob", "-5"),
    ("sha", "-s"),
];

fn password(user: &str) -> String {
    format!("pw-{user}")
}

struct World {
    s: Scratch,
    server: Server,
    acl: PathBuf,
    work: PathBuf,
}

fn htpasswd(path: &Path, users: &[(&str, &str)]) {
    for (i, (user, flag)) in users.iter().enumerate() {
        let mut cmd = std::process::Command::new("htpasswd");
        cmd.arg(if i == 0 { "-cb" } else { "-b" })
            .arg(flag)
            .arg(path)
            .arg(user)
            .arg(password(user));
        let out = cmd
            .output()
            .expect("htpasswd (apache2-utils) must be installed");
        assert!(out.status.success(), "htpasswd {flag} {user}");
    }
}

fn world() -> World {
    let s = Scratch::new();
    let work = s.work("w", 2);
    for name in ["app.git", "secret.git"] {
        let repo = s.bare(name);
        s.git(&repo, &["config", "core.logAllRefUpdates", "true"]);
        s.seed(&work, &repo);
    }
    std::os::unix::fs::symlink(s.root().join("secret.git"), s.root().join("alias.git")).unwrap();
    let acl = s.path().join("acl.conf");
    std::fs::write(&acl, ACL).unwrap();
    let pw = s.path().join("htpasswd");
    htpasswd(&pw, USERS);
    let server = Server::start_env(
        &s,
        &["--listen", "127.0.0.1:0"],
        &[
            ("GIT_HTTP_ACL_FILE", acl.to_str().unwrap()),
            ("GIT_HTTP_AUTH_FILE", pw.to_str().unwrap()),
            ("GIT_HTTP_AUTH_REALM", "Test Git"),
        ],
    );
    World {
        s,
        server,
        acl,
        work,
    }
}

impl World {
    fn url(&self, user: Option<&str>, repo: &str) -> String {
        match user {
            None => self.server.url(repo),
            Some(u) => format!("http://{u}:{}@{}/{repo}", password(u), self.server.addr),
        }
    }

    /// `git push URL REFSPECS` from the work tree; (success, stderr).
    fn push(&self, user: Option<&str>, repo: &str, refspecs: &[&str]) -> (bool, String) {
        let url = self.url(user, repo);
        let mut args = vec!["push", url.as_str()];
        args.extend_from_slice(refspecs);
        let out = self.s.git_output(&self.work, &args, &[]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn clone(&self, user: Option<&str>, repo: &str, dest: &str) -> (bool, String) {
        let url = self.url(user, repo);
        let out = self
            .s
            .git_output(self.s.path(), &["clone", "-q", &url, dest], &[]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn rev(&self, repo: &str, rev: &str) -> String {
        self.s.git(&self.s.root().join(repo), &["rev-parse", rev])
    }

    /// A raw GET: (status, headers without Date, body).
    fn get(&self, path: &str, user: Option<&str>) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut stream = TcpStream::connect(&self.server.addr).unwrap();
        let auth = user
            .map(|u| {
                use base64::Engine;
                let b = base64::engine::general_purpose::STANDARD
                    .encode(format!("{u}:{}", password(u)));
                format!("Authorization: Basic {b}\r\n")
            })
            .unwrap_or_default();
        send(
            &mut stream,
            &format!("GET {path} HTTP/1.1\r\nHost: t\r\n{auth}Connection: close\r\n\r\n"),
        );
        let r = read_response(&mut BufReader::new(stream), false);
        let headers = r
            .headers
            .into_iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("date"))
            .collect();
        (r.status, headers, r.body)
    }
}

/// Every file under `dir` with its contents (symlinks as their target).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let t = e.file_type().unwrap();
            let rel = p.strip_prefix(dir).unwrap().to_path_buf();
            if t.is_dir() {
                out.insert(rel, b"<dir>".to_vec());
                stack.push(p);
            } else if t.is_symlink() {
                out.insert(
                    rel,
                    std::fs::read_link(&p)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                );
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn read_rules_and_anonymous_challenge() {
    let w = world();
    // Public repository: anonymous and read-only users clone.
    assert!(w.clone(None, "app.git", "anon-app").0);
    assert!(w.clone(Some("rob"), "app.git", "rob-app").0);
    // Private repository: anonymous gets 401 with the challenge...
    let (status, headers, _) = w.get("/secret.git/info/refs?service=git-upload-pack", None);
    assert_eq!(status, 401);
    assert!(
        headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("www-authenticate")
                && v == "Basic realm=\"Test Git\", charset=\"UTF-8\""),
        "{headers:?}"
    );
    let (ok, err) = w.clone(None, "secret.git", "anon-secret");
    assert!(!ok);
    assert!(err.contains("could not read Username"), "{err}");
    // ... and succeeds with credentials (a read-only user and the admin).
    assert!(w.clone(Some("rob"), "secret.git", "rob-secret").0);
    assert!(w.clone(Some("admin"), "secret.git", "admin-secret").0);
    // Wrong password: 401 (git gives up without a prompt).
    let url = format!("http://rob:nope@{}/secret.git", w.server.addr);
    let out = w.s.git_output(w.s.path(), &["ls-remote", &url], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Authentication failed"));
    // An authenticated user who may not read it: the missing-repository reply.
    let denied = w.get("/secret.git/info/refs?service=git-upload-pack", Some("bob"));
    let missing = w.get("/nosuch.git/info/refs?service=git-upload-pack", Some("bob"));
    assert_eq!(denied.0, 404);
    assert_eq!(denied, missing);
    // Dumb HTTP files are gated too.
    let denied = w.get("/secret.git/HEAD", Some("bob"));
    assert_eq!(denied, w.get("/nosuch.git/HEAD", Some("bob")));
    assert_eq!(w.get("/secret.git/HEAD", Some("rob")).0, 200);
    assert_eq!(w.get("/secret.git/HEAD", None).0, 401);
    // Every hash kind authenticates.
    for (user, _) in USERS {
        assert_eq!(w.get("/app.git/HEAD", Some(user)).0, 200, "{user}");
    }
}

#[test]
fn path_spellings_never_reach_or_reveal_a_denied_repository() {
    let w = world();
    let secret_rev = w.rev("secret.git", "main");
    for user in [Some("bob"), Some("sha"), None] {
        for (denied, missing) in [
            ("/secret.git", "/nosuch.git"),
            ("/secret", "/nosuch"),
            ("/secret.git/", "/nosuch.git/"),
            ("/alias.git", "/nosuch2.git"),
            ("/alias", "/nosuch2"),
            ("/app.git/../secret.git", "/app.git/../nosuch.git"),
            ("/app.git/%2e%2e/secret.git", "/app.git/%2e%2e/nosuch.git"),
            ("//secret.git", "//nosuch.git"),
            ("/./secret.git", "/./nosuch.git"),
            ("/SECRET.git", "/NOSUCH.git"),
            ("/Secret.git", "/Nosuch.git"),
            ("/secret.git/.", "/nosuch.git/."),
        ] {
            for suffix in [
                "/info/refs?service=git-upload-pack",
                "/info/refs",
                "/HEAD",
                "/info/refs?service=git-receive-pack",
            ] {
                let d = w.get(&format!("{denied}{suffix}"), user);
                let m = w.get(&format!("{missing}{suffix}"), user);
                assert_ne!(d.0, 200, "{user:?} {denied}{suffix}");
                assert!(
                    !String::from_utf8_lossy(&d.2).contains(&secret_rev),
                    "{user:?} {denied}{suffix}"
                );
                assert_eq!(d, m, "{user:?} {denied}{suffix} vs {missing}{suffix}");
            }
        }
    }
    // The symlink's own name is public in the ACL, but it resolves to `secret`.
    assert!(!w.clone(None, "alias.git", "anon-alias").0);
    assert!(!w.clone(Some("bob"), "alias.git", "bob-alias").0);
    assert!(w.clone(Some("rob"), "alias.git", "rob-alias").0);
}

#[test]
fn write_rules_per_ref() {
    let w = world();
    let s = &w.s;
    let app = s.root().join("app.git");
    let main0 = w.rev("app.git", "main");

    // A read-only user cannot push: the advertisement is refused (403).
    let (ok, err) = w.push(Some("rob"), "app.git", &["main:refs/heads/feature/rob"]);
    assert!(!ok && err.contains("403"), "{err}");
    // Anonymous is asked for credentials (401 -> no prompt here).
    let (ok, err) = w.push(None, "app.git", &["main:refs/heads/feature/anon"]);
    assert!(!ok && err.contains("could not read Username"), "{err}");

    // A writer pushes feature/* ...
    s.commit(&w.work, "f1.txt", "f1\n");
    let (ok, err) = w.push(Some("bob"), "app.git", &["HEAD:refs/heads/feature/bob"]);
    assert!(ok, "{err}");
    // ... but not main: refused before git runs, the repository byte-identical.
    let before = snapshot(&app);
    let (ok, err) = w.push(Some("bob"), "app.git", &["HEAD:main"]);
    assert!(!ok);
    assert!(
        err.contains(
            "! [remote rejected] HEAD -> main (push denied for bob: no rule in acl.conf allows it)"
        ),
        "{err}"
    );
    assert_eq!(
        snapshot(&app),
        before,
        "a refused push changed the repository"
    );
    // Mixed with an allowed ref: both rejected, nothing applied.
    s.commit(&w.work, "f2.txt", "f2\n");
    let (ok, err) = w.push(
        Some("bob"),
        "app.git",
        &["HEAD:refs/heads/feature/bob", "HEAD:main"],
    );
    assert!(!ok);
    assert!(
        err.contains("feature/bob (not attempted: another ref of this push was refused)"),
        "{err}"
    );
    assert_eq!(
        snapshot(&app),
        before,
        "a refused push changed the repository"
    );

    // Only release managers create v* tags.
    s.git(&w.work, &["tag", "v1.0"]);
    let (ok, err) = w.push(Some("bob"), "app.git", &["v1.0"]);
    assert!(
        !ok && err.contains("[remote rejected] v1.0 -> v1.0 (create denied for bob"),
        "{err}"
    );
    let (ok, err) = w.push(Some("rita"), "app.git", &["v1.0"]);
    assert!(ok, "{err}");
    // Updating an existing tag needs +.
    s.git(&w.work, &["tag", "-f", "v1.0", "HEAD~1"]);
    let (ok, err) = w.push(Some("rita"), "app.git", &["+v1.0"]);
    assert!(!ok && err.contains("(push denied for rita"), "{err}");

    // rita may fast-forward main, not rewind or delete it.
    let (ok, err) = w.push(Some("rita"), "app.git", &["HEAD:main"]);
    assert!(ok, "{err}");
    let (ok, err) = w.push(
        Some("rita"),
        "app.git",
        &[&format!("+{main0}:refs/heads/main")],
    );
    assert!(
        !ok && err.contains("[remote rejected]") && err.contains("non-fast-forward"),
        "{err}"
    );
    let (ok, err) = w.push(Some("rita"), "app.git", &[":main"]);
    assert!(!ok && err.contains("(delete denied for rita"), "{err}");
    // bob may not rewind his feature branch (RW), rita may rewind hers (RW+).
    let (ok, err) = w.push(
        Some("bob"),
        "app.git",
        &[&format!("+{main0}:refs/heads/feature/bob")],
    );
    assert!(!ok && err.contains("non-fast-forward"), "{err}");
    let (ok, err) = w.push(Some("rita"), "app.git", &["HEAD:refs/heads/feature/rita"]);
    assert!(ok, "{err}");
    let (ok, err) = w.push(
        Some("rita"),
        "app.git",
        &[&format!("+{main0}:refs/heads/feature/rita")],
    );
    assert!(ok, "{err}");
    // RW+ (admin): force-push and delete main.
    let (ok, err) = w.push(
        Some("admin"),
        "app.git",
        &[&format!("+{main0}:refs/heads/main")],
    );
    assert!(ok, "{err}");
    assert_eq!(w.rev("app.git", "main"), main0);
    let (ok, err) = w.push(Some("admin"), "app.git", &[":refs/heads/feature/bob"]);
    assert!(ok, "{err}");
    // The reflog names the authenticated pusher.
    let log = std::fs::read_to_string(app.join("logs/refs/heads/main")).unwrap();
    assert!(log.contains("admin <admin@http.127.0.0.1>"), "{log}");
    assert!(log.contains("rita <rita@http.127.0.0.1>"), "{log}");
}

#[test]
fn broken_acl_fails_closed_and_recovers() {
    let w = world();
    std::fs::write(
        &w.acl,
        format!("{ACL}repo x\n    RW+ VREF/NAME/foo = admin\n"),
    )
    .unwrap();
    assert_eq!(w.get("/app.git/HEAD", None).0, 500);
    assert_eq!(w.get("/app.git/HEAD", Some("admin")).0, 500);
    assert!(w.server.log().contains("acl.conf:"), "{}", w.server.log());
    std::fs::write(&w.acl, ACL).unwrap();
    assert_eq!(w.get("/app.git/HEAD", None).0, 200);
}

#[test]
fn auth_without_acl() {
    let s = Scratch::new();
    let work = s.work("w", 1);
    let repo = s.root().join("r.git");
    s.git(s.path(), &["init", "-q", "--bare", repo.to_str().unwrap()]);
    s.seed(&work, &repo);
    let pw = s.path().join("htpasswd");
    htpasswd(&pw, &[("alice", "-B")]);
    // The command-line alias of GIT_HTTP_AUTH_FILE.
    let server = Server::start_with(
        &s,
        &[
            "--listen",
            "127.0.0.1:0",
            "--auth-file",
            pw.to_str().unwrap(),
        ],
    );
    // Reads stay anonymous.
    let url = server.url("r.git");
    s.git(s.path(), &["clone", "-q", &url, "c"]);
    // An anonymous push is challenged (not 403), so git asks for credentials ...
    let out = s.git_output(&work, &["push", &url, "main:topic"], &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("could not read Username"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ... and with them the push runs as that user (receive-pack on by default).
    let authed = format!("http://alice:{}@{}/r.git", password("alice"), server.addr);
    s.git(&work, &["push", &authed, "main:topic"]);
    // An explicit http.receivepack=false still wins (403).
    s.git(&repo, &["config", "http.receivepack", "false"]);
    let out = s.git_output(&work, &["push", &authed, "main:topic2"], &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("403"));
}

/// One change to a policy file while the daemon runs.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Renamed over by a file with other contents (what editors and config
    /// management do): the new contents apply at once.
    Replaced,
    /// Truncated to nothing.
    Emptied,
    /// Unreadable: a directory in its place (as root, `chmod 000` would not stop
    /// the test's own daemon from reading it).
    Unreadable,
    /// Deleted.
    Missing,
    /// A line the parser rejects.
    Broken,
}

const FAULTS: [Fault; 5] = [
    Fault::Replaced,
    Fault::Emptied,
    Fault::Unreadable,
    Fault::Missing,
    Fault::Broken,
];

/// Puts `fault` on `file` (whose good contents are `good`); `other` is the
/// contents a replacement brings.
fn inflict(file: &Path, fault: Fault, other: &str, broken: &str) {
    match fault {
        Fault::Replaced => {
            let tmp = file.with_extension("new");
            std::fs::write(&tmp, other).unwrap();
            std::fs::rename(&tmp, file).unwrap();
        }
        Fault::Emptied => std::fs::write(file, "").unwrap(),
        Fault::Unreadable => {
            std::fs::remove_file(file).unwrap();
            std::fs::create_dir(file).unwrap();
        }
        Fault::Missing => std::fs::remove_file(file).unwrap(),
        Fault::Broken => std::fs::write(file, broken).unwrap(),
    }
}

/// Undoes any fault: the good contents back in place.
fn repair(file: &Path, good: &str) {
    if file.is_dir() {
        std::fs::remove_dir(file).unwrap();
    }
    let tmp = file.with_extension("fixed");
    std::fs::write(&tmp, good).unwrap();
    std::fs::rename(&tmp, file).unwrap();
}

/// The status of `GET /app.git/HEAD` as `user` (`None`: anonymous).
type Probe<'a> = &'a dyn Fn(Option<&str>) -> u16;

/// Runs every fault on the ACL and on the htpasswd file of a daemon serving
/// `app.git` with [`ACL`] and [`USERS`], checking after each that it fails closed
/// (nobody gets more than before; a file that cannot be read or parsed denies
/// everyone it governs with a 500 and a log line) and that repairing the file
/// restores service without a restart. Returns the fault table rows.
fn policy_faults(acl: &Path, pw: &Path, get: Probe, log: &dyn Fn() -> String) -> Vec<String> {
    let mut rows = Vec::new();
    let good_pw = std::fs::read_to_string(pw).unwrap();
    let healthy = || {
        assert_eq!(get(None), 200, "anonymous read of app");
        assert_eq!(get(Some("admin")), 200, "admin read of app");
    };
    healthy();
    // An ACL in which app is private to admin, then one giving it to nobody.
    let private = "repo app\n    RW+ = admin\n";
    for fault in FAULTS {
        let seen = log().len();
        let log_since = || log().get(seen..).unwrap_or_default().to_string();
        inflict(
            acl,
            fault,
            private,
            &format!("{ACL}repo x\n    RW+ VREF/NAME/x = admin\n"),
        );
        let (anon, admin) = (get(None), get(Some("admin")));
        let expect = match fault {
            // Private now: anonymous is challenged, admin still reads.
            Fault::Replaced => (401, 200),
            // No rules: nobody reads (admin sees "no such repository").
            Fault::Emptied => (401, 404),
            Fault::Unreadable | Fault::Missing | Fault::Broken => (500, 500),
        };
        assert_eq!((anon, admin), expect, "ACL {fault:?}:\n{}", log());
        if expect.0 == 500 {
            assert!(
                log_since().contains("acl.conf"),
                "ACL {fault:?} not logged:\n{}",
                log()
            );
        }
        repair(acl, ACL);
        healthy();
        rows.push(format!(
            "ACL {fault:?}: anonymous {anon}, admin {admin}; repaired: 200"
        ));
    }
    // An htpasswd file in which admin has another password, then none at all.
    let other = {
        let tmp = pw.with_extension("other");
        let out = std::process::Command::new("htpasswd")
            .args(["-cbB", tmp.to_str().unwrap(), "admin", "changed"])
            .output()
            .expect("htpasswd (apache2-utils) must be installed");
        assert!(out.status.success());
        std::fs::read_to_string(&tmp).unwrap()
    };
    for fault in FAULTS {
        let seen = log().len();
        let log_since = || log().get(seen..).unwrap_or_default().to_string();
        inflict(pw, fault, &other, "admin\n");
        let (anon, admin) = (get(None), get(Some("admin")));
        let expect = match fault {
            // Credentials that are no longer valid are challenged again.
            Fault::Replaced | Fault::Emptied => (200, 401),
            // Anonymous reads do not need the file; credentials cannot be checked.
            Fault::Unreadable | Fault::Missing | Fault::Broken => (200, 500),
        };
        assert_eq!((anon, admin), expect, "htpasswd {fault:?}:\n{}", log());
        if expect.1 == 500 {
            assert!(
                log_since().contains("htpasswd"),
                "htpasswd {fault:?} not logged:\n{}",
                log()
            );
        }
        repair(pw, &good_pw);
        healthy();
        rows.push(format!(
            "htpasswd {fault:?}: anonymous {anon}, admin {admin}; repaired: 200"
        ));
    }
    rows
}

#[test]
fn policy_file_faults_under_serve() {
    let w = world();
    let pw = w.s.path().join("htpasswd");
    let rows = policy_faults(&w.acl, &pw, &|user| w.get("/app.git/HEAD", user).0, &|| {
        w.server.log()
    });
    for r in rows {
        println!("FAULT | serve | {r}");
    }
}

/// The same faults under the FastCGI daemon (`--listen unix:...`), spoken to as
/// a web server would, with the settings as its environment.
#[test]
fn policy_file_faults_under_fastcgi() {
    use std::io::{Read, Write};
    let w = world();
    let pw = w.s.path().join("htpasswd");
    let sock = w.s.path().join("fcgi.sock");
    let log = w.s.path().join("fcgi.log");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _daemon = Kill(
        std::process::Command::new(env!("CARGO_BIN_EXE_git-http-backend-rs"))
            .arg("--listen")
            .arg(format!("unix:{}", sock.display()))
            .env("GIT_PROJECT_ROOT", w.s.root())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("GIT_HTTP_ACL_FILE", &w.acl)
            .env("GIT_HTTP_AUTH_FILE", &pw)
            .env("GIT_HTTP_BACKEND_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let up = wait_until(std::time::Duration::from_secs(10), || {
        std::os::unix::net::UnixStream::connect(&sock).is_ok()
    });
    let get = |user: Option<&str>| -> u16 {
        let mut p = vec![
            ("REQUEST_METHOD", b"GET".to_vec()),
            ("PATH_INFO", b"/app.git/HEAD".to_vec()),
            ("SERVER_PROTOCOL", b"HTTP/1.1".to_vec()),
        ];
        if let Some(u) = user {
            use base64::Engine;
            let b =
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{}", password(u)));
            p.push(("HTTP_AUTHORIZATION", format!("Basic {b}").into_bytes()));
        }
        let p: Vec<(Vec<u8>, Vec<u8>)> = p
            .into_iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v))
            .collect();
        let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        s.write_all(&fcgi::request(1, false, &p, b"")).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        // The STDOUT stream's first line: a CGI "Status:" or the implied 200.
        let mut out = Vec::new();
        let mut at = 0;
        while at + 8 <= raw.len() {
            let len = u16::from_be_bytes([raw[at + 4], raw[at + 5]]) as usize;
            let pad = raw[at + 6] as usize;
            if raw[at + 1] == fcgi::STDOUT {
                out.extend_from_slice(&raw[at + 8..at + 8 + len]);
            }
            at += 8 + len + pad;
        }
        let text = String::from_utf8_lossy(&out);
        match text.strip_prefix("Status: ") {
            Some(rest) => rest[..3].parse().unwrap(),
            None => 200,
        }
    };
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(up, "FastCGI daemon did not come up:\n{}", read_log());
    let rows = policy_faults(&w.acl, &pw, &get, &read_log);
    for r in rows {
        println!("FAULT | FastCGI | {r}");
    }
}

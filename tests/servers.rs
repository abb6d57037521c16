//! The shipped web-server configs (apache/, nginx/, lighttpd/), run for real:
//! each setup is started from its config file (only paths, ports and the
//! account substituted), once with stock `git-http-backend` and once with ours,
//! and real git clients run the same scenarios against both. Ours must give
//! the same outcomes as stock, and both the outcomes the setup is meant to
//! give. Each test prints its part of the matrix; the last one to finish
//! prints the whole matrix.
//!
//! FastCGI setups (mod_fcgid, nginx native) run our binary as a FastCGI
//! server; stock, a CGI program only, runs there behind fcgiwrap. The
//! `pitfalls` and `nginx_remote_user_spoofing_trap` tests break one setting
//! each and check that the failure it guards against really happens.
// These tests drive the Linux build with Linux web servers and git (Windows: tests/windows_iis.rs).
#![cfg(unix)]

#[path = "servers/harness.rs"]
mod harness;
#[path = "servers/scenarios.rs"]
mod scenarios;

use harness::{Auth, Backend, Kind, Server, Setup};
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Every setup, in matrix order.
const SETUPS: &[Setup] = &[
    Setup {
        name: "apache-cgi",
        config: "apache/git-cgi.conf",
        kind: Kind::Apache,
        auth: Auth::None,
        fastcgi: false,
    },
    Setup {
        name: "apache-auth-push",
        config: "apache/git-auth-push.conf",
        kind: Kind::Apache,
        auth: Auth::Push,
        fastcgi: false,
    },
    Setup {
        name: "apache-private",
        config: "apache/git-private.conf",
        kind: Kind::Apache,
        auth: Auth::Private,
        fastcgi: false,
    },
    Setup {
        name: "nginx-fcgiwrap",
        config: "nginx/git-fcgiwrap.conf",
        kind: Kind::NginxFcgiwrap,
        auth: Auth::Push,
        fastcgi: false,
    },
    Setup {
        name: "lighttpd-cgi",
        config: "lighttpd/git-cgi.conf",
        kind: Kind::Lighttpd,
        auth: Auth::Push,
        fastcgi: false,
    },
    Setup {
        name: "apache-fcgid",
        config: "apache/git-fcgid.conf",
        kind: Kind::Apache,
        auth: Auth::Push,
        fastcgi: true,
    },
    Setup {
        name: "nginx-fastcgi",
        config: "nginx/git-fastcgi.conf",
        kind: Kind::NginxNativeInclude,
        auth: Auth::None,
        fastcgi: false,
    },
    Setup {
        name: "nginx-fastcgi-auth",
        config: "nginx/git-fastcgi-auth.conf",
        kind: Kind::NginxNative,
        auth: Auth::Push,
        fastcgi: false,
    },
];

/// One matrix row: (setup, backend, outcomes, seconds).
type Row = (String, String, Vec<String>, f64);

/// Matrix rows collected so far.
static ROWS: Mutex<Vec<Row>> = Mutex::new(Vec::new());
static FINISHED: AtomicUsize = AtomicUsize::new(0);

/// Written straight to stderr, so it shows in CI logs even for passing tests.
fn show(text: &str) {
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// The rows as a Markdown table.
fn matrix(rows: &[Row]) -> String {
    let mut cols = vec![
        "setup".to_string(),
        "backend".to_string(),
        "secs".to_string(),
    ];
    cols.extend(scenarios::SCENARIOS.iter().map(|s| s.to_string()));
    let mut table = vec![cols];
    for (setup, backend, outcomes, secs) in rows {
        let mut row = vec![setup.clone(), backend.clone(), format!("{secs:.1}")];
        row.extend(outcomes.iter().cloned());
        table.push(row);
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|i| {
            table
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut s = String::new();
    for (n, row) in table.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        s.push_str(&format!("| {} |\n", cells.join(" | ")));
        if n == 0 {
            let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            s.push_str(&format!("|-{}-|\n", dashes.join("-|-")));
        }
    }
    s
}

/// Runs `setup` with both backends, prints its rows, and asserts.
fn check_setup(name: &str) {
    let setup = SETUPS.iter().find(|s| s.name == name).expect("known setup");
    scenarios::fixture();
    let expected = scenarios::expected(setup);
    let mut mine = Vec::new();
    let mut problems = Vec::new();
    let mut by_backend = Vec::new();
    for backend in [Backend::Stock, Backend::Ours] {
        let started = Instant::now();
        let server = Server::start(setup, backend, &scenarios::fixture().dir);
        let run = scenarios::Run {
            setup,
            server: &server,
            tmp: tempfile::tempdir().unwrap(),
        };
        let outcomes = scenarios::run_all(&run);
        for (i, (got, want)) in outcomes.iter().zip(&expected).enumerate() {
            if got != want {
                problems.push(format!(
                    "{name}/{}: {}: got {got:?}, want {want:?}",
                    backend.name(),
                    scenarios::SCENARIOS[i]
                ));
            }
        }
        if outcomes.iter().any(|o| o.starts_with("FAIL")) || !problems.is_empty() {
            show(&format!(
                "--- {name}/{} server logs:\n{}",
                backend.name(),
                server.logs()
            ));
        }
        drop(server);
        mine.push((
            name.to_string(),
            backend.name().to_string(),
            outcomes.clone(),
            started.elapsed().as_secs_f64(),
        ));
        by_backend.push(outcomes);
    }
    for (i, s) in scenarios::SCENARIOS.iter().enumerate() {
        if by_backend[0][i] != by_backend[1][i] {
            problems.push(format!(
                "{name}: {s}: ours {:?} != stock {:?}",
                by_backend[1][i], by_backend[0][i]
            ));
        }
    }
    show(&format!("\n{name}:\n{}", matrix(&mine)));
    {
        let mut rows = ROWS.lock().unwrap_or_else(|e| e.into_inner());
        rows.extend(mine);
        if FINISHED.fetch_add(1, Ordering::SeqCst) + 1 == SETUPS.len() {
            rows.sort_by_key(|r| (SETUPS.iter().position(|s| s.name == r.0), r.1.clone()));
            show(&format!(
                "\nweb-server matrix (all setups):\n{}",
                matrix(&rows)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn apache_cgi() {
    check_setup("apache-cgi");
}

#[test]
fn apache_auth_push() {
    check_setup("apache-auth-push");
}

#[test]
fn apache_private() {
    check_setup("apache-private");
}

#[test]
fn nginx_fcgiwrap() {
    check_setup("nginx-fcgiwrap");
}

#[test]
fn lighttpd_cgi() {
    check_setup("lighttpd-cgi");
}

#[test]
fn apache_fcgid() {
    check_setup("apache-fcgid");
}

#[test]
fn nginx_fastcgi() {
    check_setup("nginx-fastcgi");
}

#[test]
fn nginx_fastcgi_auth() {
    check_setup("nginx-fastcgi-auth");
}

/// Negative control for the "spoofed user" scenario: with Debian's
/// `fastcgi_param REMOTE_USER $remote_user` (nginx fills $remote_user from the
/// client's Authorization header even where auth_basic is off), a made-up
/// user gets the push advertisement; with the shipped config it does not.
#[test]
fn nginx_remote_user_spoofing_trap() {
    let setup = SETUPS.iter().find(|s| s.name == "nginx-fcgiwrap").unwrap();
    let shipped = "fastcgi_param REMOTE_USER         $git_remote_user if_not_empty;";
    let trap = |conf: String| {
        assert!(conf.contains(shipped), "the shipped nginx config changed");
        conf.replace(shipped, "fastcgi_param REMOTE_USER $remote_user;")
    };
    let url_of = |server: &Server| {
        format!(
            "{}/info/refs?service=git-upload-pack&service=git-receive-pack",
            server.url
        )
    };
    for backend in [Backend::Stock, Backend::Ours] {
        let server = Server::start_edited(setup, backend, &scenarios::fixture().dir, &trap);
        let out = harness::check(
            std::process::Command::new("curl")
                .args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "-u",
                    "mallory:x",
                ])
                .arg(url_of(&server)),
        );
        assert_eq!(
            out.trim(),
            "200",
            "{}: the trap config should let mallory in",
            backend.name()
        );
    }
}

/// Pushes the fixture's 1 MiB `chunk` branch as the user; returns git's stderr
/// if the push failed.
fn push_chunk(server: &Server) -> Option<String> {
    let url = server.url.replacen(
        "http://",
        &format!("http://{}:{}@", harness::USER, harness::PASSWORD),
        1,
    );
    let out = harness::run(
        harness::git_in(&scenarios::fixture().dir)
            .arg("push")
            .arg(url)
            .arg("chunk:main"),
    );
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Negative controls for the pitfalls the configs guard against (so the
/// scenarios above are known to notice them): each breaks one setting and
/// checks the failure git users would see, with both backends.
#[test]
fn pitfalls() {
    let find = |name: &str| *SETUPS.iter().find(|s| s.name == name).unwrap();
    let seed = &scenarios::fixture().dir;
    let mut seen = Vec::new();
    for backend in [Backend::Stock, Backend::Ours] {
        // nginx's default client_max_body_size (1m): "RPC failed; HTTP 413".
        let server = Server::start_edited(&find("nginx-fcgiwrap"), backend, seed, &|c| {
            assert!(c.contains("client_max_body_size 0;"));
            c.replace("client_max_body_size 0;", "")
        });
        let err = push_chunk(&server).unwrap_or_default();
        assert!(
            err.contains("HTTP 413"),
            "{}: nginx without client_max_body_size: {err}",
            backend.name()
        );
        seen.push(format!(
            "{}: nginx default client_max_body_size -> HTTP 413",
            backend.name()
        ));
        drop(server);

        // mod_fcgid's default FcgidMaxRequestLen (131072): "RPC failed; HTTP 500".
        let server = Server::start_edited(&find("apache-fcgid"), backend, seed, &|c| {
            let line = c
                .lines()
                .find(|l| l.starts_with("FcgidMaxRequestLen"))
                .unwrap()
                .to_string();
            c.replace(&line, "")
        });
        let err = push_chunk(&server).unwrap_or_default();
        assert!(
            err.contains("HTTP 500"),
            "{}: mod_fcgid default FcgidMaxRequestLen: {err}",
            backend.name()
        );
        seen.push(format!(
            "{}: mod_fcgid default FcgidMaxRequestLen -> HTTP 500",
            backend.name()
        ));
        drop(server);

        // Challenging only POST .../git-receive-pack (not the advertisement,
        // GET .../info/refs?service=git-receive-pack): the anonymous
        // advertisement is refused (403) and git never sends the credentials.
        let server = Server::start_edited(&find("apache-auth-push"), backend, seed, &|c| {
            let cond = "%{QUERY_STRING} =~ /(^|&)service=git-receive-pack(&|$)/ || ";
            assert!(c.contains(cond));
            c.replace(cond, "")
        });
        let err = push_chunk(&server).unwrap_or_default();
        assert!(
            err.contains("403"),
            "{}: push challenged only at POST: {err}",
            backend.name()
        );
        seen.push(format!(
            "{}: auth only on POST git-receive-pack -> push fails with 403, no credentials asked",
            backend.name()
        ));
        drop(server);

        // A repository owned by another account than the server's: git's
        // "dubious ownership" check fails the request; safe.directory fixes it.
        let setup = find("apache-auth-push");
        let status = |server: &Server| {
            harness::check(
                std::process::Command::new("curl")
                    .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
                    .arg(format!("{}/info/refs?service=git-upload-pack", server.url)),
            )
        };
        let server = Server::start(&setup, backend, seed);
        harness::check(
            std::process::Command::new("chown")
                .arg("-R")
                .arg("root:root")
                .arg(&server.repo),
        );
        let dubious = status(&server);
        assert_ne!(
            dubious,
            "200",
            "{}: dubious ownership not noticed",
            backend.name()
        );
        drop(server);
        let server = Server::start_edited(&setup, backend, seed, &|c| {
            c + "\n# Repositories owned by another account.\nSetEnv GIT_CONFIG_COUNT 1\n\
                 SetEnv GIT_CONFIG_KEY_0 safe.directory\nSetEnv GIT_CONFIG_VALUE_0 *\n"
        });
        harness::check(
            std::process::Command::new("chown")
                .arg("-R")
                .arg("root:root")
                .arg(&server.repo),
        );
        let fixed = status(&server);
        assert_eq!(
            fixed,
            "200",
            "{}: safe.directory via SetEnv",
            backend.name()
        );
        seen.push(format!(
            "{}: repository owned by root -> HTTP {dubious}; with safe.directory -> HTTP {fixed}",
            backend.name()
        ));
    }
    show(&format!("\npitfalls:\n  {}\n", seen.join("\n  ")));
}

/// Every file under `dir` with its contents, for "left byte-identical" checks.
fn snapshot(dir: &std::path::Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().to_path_buf();
            if e.file_type().unwrap().is_dir() {
                out.insert(rel, b"<dir>".to_vec());
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    out
}

/// apache/git-builtin-auth.conf: Apache does no authentication, the backend
/// checks `Authorization` itself (CGIPassAuth On). Stock git-http-backend cannot
/// do this, so only ours runs; it must give the outcomes of a push-with-auth
/// setup (anonymous reads, 401 for anonymous and wrong-password pushes, pushes as
/// the user), and more: `git archive --remote` with credentials succeeds, since
/// the backend challenges for the user upload-archive needs. Then the same setup with an ACL file: a private repository (401
/// for anonymous, clone with credentials), a read-only user who cannot push, a
/// writer limited to feature/* whose push to main is rejected per ref with the
/// repository left byte-identical, and `RW+` for a force-push.
#[test]
fn apache_builtin_auth() {
    let setup = Setup {
        name: "apache-builtin-auth",
        config: "apache/git-builtin-auth.conf",
        kind: Kind::Apache,
        auth: Auth::BackendPush,
        fastcgi: false,
    };
    let fx = scenarios::fixture();
    let started = Instant::now();
    let server = Server::start(&setup, Backend::Ours, &fx.dir);
    let run = scenarios::Run {
        setup: &setup,
        server: &server,
        tmp: tempfile::tempdir().unwrap(),
    };
    let outcomes = scenarios::run_all(&run);
    let expected = scenarios::expected(&setup);
    show(&format!(
        "\napache-builtin-auth (ours only):\n{}",
        matrix(&[(
            setup.name.to_string(),
            "ours".to_string(),
            outcomes.clone(),
            started.elapsed().as_secs_f64()
        )])
    ));
    if outcomes != expected {
        show(&server.logs());
    }
    assert_eq!(outcomes, expected);
    drop(server);

    // With an ACL.
    let acl_dir = tempfile::tempdir().unwrap();
    let acl = acl_dir.path().join("acl.conf");
    std::fs::write(
        &acl,
        "repo repo\n    RW+ = alice\n    RW feature/ = bob\n    R = rob\n",
    )
    .unwrap();
    harness::chown_to_account(acl_dir.path());
    let line = "# SetEnv GIT_HTTP_ACL_FILE \"/etc/git-http-backend-rs/acl.conf\"";
    let server = Server::start_edited(&setup, Backend::Ours, &fx.dir, &|c| {
        assert!(c.contains(line), "the shipped config changed");
        c.replace(
            line,
            &format!("SetEnv GIT_HTTP_ACL_FILE \"{}\"", acl.display()),
        )
    });
    let htpasswd = server.run_dir.join("htpasswd");
    for user in ["bob", "rob", "eve"] {
        harness::check(
            std::process::Command::new("htpasswd")
                .args(["-bB"])
                .arg(&htpasswd)
                .args([user, &format!("pw-{user}")]),
        );
    }
    harness::chown_to_account(&htpasswd);
    let url = |user: Option<&str>| match user {
        None => server.url.clone(),
        Some(u) => {
            let pw = if u == harness::USER {
                harness::PASSWORD.to_string()
            } else {
                format!("pw-{u}")
            };
            server
                .url
                .replacen("http://", &format!("http://{u}:{pw}@"), 1)
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let git_run = |args: &[&str]| {
        let o = harness::run(harness::git_in(&fx.dir).args(args));
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    // Anonymous: 401 with a challenge, git cannot clone without credentials.
    let head = harness::check(
        std::process::Command::new("curl")
            .args(["-s", "-D", "-", "-o", "/dev/null"])
            .arg(format!("{}/info/refs?service=git-upload-pack", url(None))),
    );
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert!(
        head.contains("WWW-Authenticate: Basic realm=\"Git\""),
        "{head}"
    );
    let dest = tmp.path().join("anon");
    let (ok, err) = git_run(&["clone", "-q", &url(None), dest.to_str().unwrap()]);
    assert!(!ok && err.contains("could not read Username"), "{err}");
    // With credentials: the read-only user clones, but cannot push.
    let dest = tmp.path().join("rob");
    let (ok, err) = git_run(&["clone", "-q", &url(Some("rob")), dest.to_str().unwrap()]);
    assert!(ok, "{err}");
    let (ok, err) = git_run(&["push", &url(Some("rob")), "topic:refs/heads/feature/rob"]);
    assert!(!ok && err.contains("403"), "{err}");
    // The writer pushes feature/*, not main; the refused push changes nothing.
    let (ok, err) = git_run(&["push", &url(Some("bob")), "topic:refs/heads/feature/bob"]);
    assert!(ok, "{err}");
    let before = snapshot(&server.repo);
    let (ok, err) = git_run(&["push", &url(Some("bob")), "topic:main"]);
    assert!(
        !ok && err.contains("! [remote rejected] topic -> main (push denied for bob"),
        "{err}\n{}",
        server.logs()
    );
    assert_eq!(snapshot(&server.repo), before);
    // RW+: fast-forward and force-push main.
    let (ok, err) = git_run(&["push", &url(Some(harness::USER)), "topic:main"]);
    assert!(ok, "{err}");
    let (ok, err) = git_run(&["push", &url(Some(harness::USER)), "+main:main"]);
    assert!(ok, "{err}");
    show(
        "\napache-builtin-auth with ACL: anonymous 401, read-only clone, per-ref refusal, RW+ force-push: ok\n",
    );
}

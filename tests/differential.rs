//! Differential suite: every case of the table runs against the stock
//! `git-http-backend` and against ours, as a web server runs a CGI, and the replies
//! (status, headers in order, body bytes, and loosely stderr) must match, except for
//! the deliberate differences the table asserts explicitly.
//!
//! Run one case: `DIFF_CASE=name cargo test --test differential -- --nocapture`;
//! add `DIFF_SHOW=1` to print both replies.
//! How a request is executed is behind [`run_backend`]. `differential_fastcgi` runs
//! the whole table once more through our FastCGI server and requires the same reply
//! (and the same repository afterwards) as through CGI.
// These tests drive the Linux build with Linux web servers and git (Windows: tests/windows_iis.rs).
#![cfg(unix)]

#[path = "differential/cases.rs"]
mod cases;
#[path = "differential/compare.rs"]
mod compare;
#[path = "differential/fcgi.rs"]
mod fcgi;
#[path = "differential/fixtures.rs"]
mod fixtures;

use cases::{BodyCheck, Case, Expect, Group, StderrCheck};
use compare::{Parsed, RawReply, diff, norm_stderr, parse, short};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Which program serves the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `$(git --exec-path)/git-http-backend`.
    Stock,
    /// Our binary, run as a CGI.
    Ours,
}

impl Backend {
    fn program(self) -> PathBuf {
        match self {
            Backend::Stock => {
                let out = Command::new("git")
                    .arg("--exec-path")
                    .output()
                    .expect("git --exec-path");
                assert!(out.status.success(), "git --exec-path failed");
                let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
                    .join("git-http-backend");
                assert!(
                    p.exists(),
                    "stock git-http-backend missing at {}",
                    p.display()
                );
                p
            }
            Backend::Ours => PathBuf::from(env!("CARGO_BIN_EXE_git-http-backend-rs")),
        }
    }
}

/// Signals a process group with the `kill` program (no `unsafe` in tests); true if
/// the signal was delivered (some process of the group exists).
fn signal_group(pgid: i32, sig: &str) -> bool {
    Command::new("kill")
        .arg(sig)
        .arg("--")
        .arg(format!("-{pgid}"))
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Kills a process group when dropped (the backend and any git children), also
/// when a test fails.
struct GroupGuard(i32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.0 > 0 {
            signal_group(self.0, "-KILL");
        }
    }
}

/// Runs one request against one backend with `root` as the project root.
pub fn run_backend(backend: Backend, case: &Case, root: &Path) -> RawReply {
    let root_s = root.display().to_string();
    let mut cmd = Command::new(backend.program());
    cmd.env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for (k, v) in &case.env {
        cmd.env(k, v.replace("{root}", &root_s));
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {backend:?}: {e}"));
    let mut guard = GroupGuard(child.id() as i32);
    let mut stdin = child.stdin.take().unwrap();
    let body = case.body.clone();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let r_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let r_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(case.timeout);
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() > deadline {
            timed_out = true;
            drop(guard);
            guard = GroupGuard(0);
            let _ = child.kill();
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // Anything of the group still alive after the backend exited was left behind.
    let mut left_behind = false;
    if !timed_out && guard.0 > 0 {
        for _ in 0..40 {
            left_behind = signal_group(guard.0, "-0");
            if !left_behind {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
    drop(guard);
    let _ = writer.join();
    let stdout = r_out.join().unwrap();
    let stderr = r_err.join().unwrap();
    RawReply {
        stdout,
        stderr,
        exit: status.and_then(|s| s.code()),
        timed_out,
        left_behind,
    }
}

/// The state of a repository after a push: refs, reflogs (times masked) and the
/// pre-receive hook's environment and stdin (paths masked).
fn repo_state(root: &Path, name: &str, keep_path: bool) -> String {
    let dir = root.join(name);
    let root_s = root.display().to_string();
    let mut s = String::new();
    s += &fixtures::git(
        &dir,
        &[
            "for-each-ref",
            "--format=%(refname) %(objectname) %(symref)",
        ],
    );
    s += "\n-- reflogs\n";
    let mut logs = Vec::new();
    collect_files(&dir.join("logs"), &mut logs);
    logs.sort();
    for f in logs {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        s += &format!("{}:\n", f.strip_prefix(&dir).unwrap().display());
        for line in text.lines() {
            // "<old> <new> Name <email> <time> <tz>\t<msg>": mask the time.
            let (head, msg) = line.split_once('\t').unwrap_or((line, ""));
            let mut parts: Vec<&str> = head.split(' ').collect();
            let n = parts.len();
            if n >= 2 {
                parts[n - 2] = "<time>";
            }
            s += &format!("  {}\t{}\n", parts.join(" "), msg);
        }
    }
    for f in ["hook-env.txt", "hook-stdin.txt"] {
        if let Ok(text) = std::fs::read_to_string(dir.join(f)) {
            s += &format!("-- {f}\n");
            for line in text.lines() {
                let line = line.replace(&root_s, "{root}");
                let masked = match line.split_once('=') {
                    Some(("PATH", _)) if !keep_path => {
                        "PATH=<masked; compared by push_hook_env_path>".to_string()
                    }
                    Some((k, _))
                        if [
                            "GIT_QUARANTINE_PATH",
                            "GIT_OBJECT_DIRECTORY",
                            "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                        ]
                        .contains(&k) =>
                    {
                        format!("{k}=<quarantine>")
                    }
                    _ => line,
                };
                s += &masked;
                s += "\n";
            }
        }
    }
    s
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                collect_files(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

/// Checks that hold for every reply of ours.
fn our_invariants(p: &Parsed, raw: &RawReply, problems: &mut Vec<String>) {
    if raw.timed_out {
        problems.push("ours: did not finish in time (killed)".into());
    }
    if raw.left_behind {
        problems.push(
            "ours: a process of the request was still running after the backend exited".into(),
        );
    }
    let mut names: Vec<String> = p
        .headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    let total = names.len();
    names.sort();
    names.dedup();
    if names.len() != total {
        problems.push(format!("ours: a header appears twice: {:?}", p.headers));
    }
    if let Some(i) = p.headers.iter().position(|(n, _)| n == "Status")
        && i != 0
    {
        problems.push(format!(
            "ours: Status is not the first header: {:?}",
            p.headers
        ));
    }
    if p.body.windows(9).any(|w| w == b"\r\nStatus:") || p.body.starts_with(b"Status:") {
        problems.push(format!(
            "ours: a second header block in the body: {}",
            short(&p.body)
        ));
    }
    if p.status == 200
        && String::from_utf8_lossy(&raw.stderr).contains("fatal:")
        && raw.exit == Some(0)
    {
        problems.push(format!(
            "ours: 'fatal:' on stderr for a successful request: {}",
            short(&raw.stderr)
        ));
    }
}

/// Prints a reply (with `DIFF_SHOW=1`).
fn show(who: &str, p: &Parsed, raw: &RawReply) {
    eprintln!(
        "[{who}] status {} exit {:?} timed_out {}\n  headers {:?}\n  body {}\n  stderr {}",
        p.status,
        raw.exit,
        raw.timed_out,
        p.headers,
        short(&p.body),
        short(&raw.stderr)
    );
}

/// Runs one case; returns the problems found (empty: pass).
fn run_case(fx: &fixtures::Fixture, case: &Case) -> Vec<String> {
    let mut problems = Vec::new();
    let (stock_root, ours_root) = match case.fresh {
        Some(repo) => (
            fixtures::fresh_root(fx, repo, &format!("{}-stock", case.name)),
            fixtures::fresh_root(fx, repo, &format!("{}-ours", case.name)),
        ),
        None => (fx.root.clone(), fx.root.clone()),
    };
    let ours_raw = run_backend(Backend::Ours, case, &ours_root);
    let ours = parse(&ours_raw.stdout);
    our_invariants(&ours, &ours_raw, &mut problems);
    let stock_raw = case
        .run_stock
        .then(|| run_backend(Backend::Stock, case, &stock_root));
    let stock = stock_raw.as_ref().map(|r| parse(&r.stdout));

    if std::env::var_os("DIFF_SHOW").is_some() {
        show("ours", &ours, &ours_raw);
        if let (Some(p), Some(r)) = (&stock, &stock_raw) {
            show("stock", p, r);
        }
    }
    match &case.expect {
        Expect::Same => {
            let (stock, stock_raw) = (stock.as_ref().unwrap(), stock_raw.as_ref().unwrap());
            if stock_raw.timed_out {
                problems.push("stock did not finish in time".into());
            }
            for d in diff(stock, &ours) {
                problems.push(d);
            }
            let roots = [
                (stock_root.display().to_string(), "{root}".to_string()),
                (ours_root.display().to_string(), "{root}".to_string()),
            ];
            let roots: Vec<(&str, &str)> = roots
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            let (se, oe) = (
                norm_stderr(&stock_raw.stderr, &roots),
                norm_stderr(&ours_raw.stderr, &roots),
            );
            match case.stderr {
                StderrCheck::Same if se != oe => {
                    problems.push(format!("stderr:\n      stock {se:?}\n      ours  {oe:?}"))
                }
                StderrCheck::Loose if se.is_empty() != oe.is_empty() => problems.push(format!(
                    "stderr (empty vs not):\n      stock {se:?}\n      ours  {oe:?}"
                )),
                StderrCheck::OursContains(t) if !oe.to_lowercase().contains(t) || se.is_empty() => {
                    problems.push(format!(
                        "stderr (ours should mention {t:?}):\n      stock {se:?}\n      ours  {oe:?}"
                    ))
                }
                _ => {}
            }
            if (stock_raw.exit == Some(0)) != (ours_raw.exit == Some(0)) {
                problems.push(format!(
                    "exit code: stock {:?} ours {:?}",
                    stock_raw.exit, ours_raw.exit
                ));
            }
        }
        Expect::Ours(check) => {
            // The difference must still exist: if stock now answers like us, the
            // case should become a `Same` case.
            if let Some(stock) = &stock
                && diff(stock, &ours).is_empty()
            {
                problems.push(format!(
                    "stock now answers exactly like ours; \"{}\" no longer applies: make this a Same case",
                    check.why
                ));
            }
            if check.status == 0 {
                let failed = ours.status >= 400 || ours_raw.exit != Some(0) || !ours.complete;
                if !failed {
                    problems.push(format!(
                        "ours: expected an error, got {} exit {:?}",
                        ours.status, ours_raw.exit
                    ));
                }
                if ours_raw.stderr.is_empty() {
                    problems.push("ours: no log line for the failure".into());
                }
            } else if ours.status != check.status {
                problems.push(format!(
                    "ours: status {} (want {}); headers {:?} body {}",
                    ours.status,
                    check.status,
                    ours.headers,
                    short(&ours.body)
                ));
            }
            if let Some(want) = &check.headers {
                let same = want.len() == ours.headers.len()
                    && want.iter().zip(&ours.headers).all(|(w, o)| w == o);
                if !same {
                    problems.push(format!(
                        "ours: headers\n      want {want:?}\n      got  {:?}",
                        ours.headers
                    ));
                }
            }
            match &check.body {
                BodyCheck::Empty if !ours.body.is_empty() => {
                    problems.push(format!("ours: body should be empty: {}", short(&ours.body)))
                }
                BodyCheck::Exact(b) if &ours.body != b => problems.push(format!(
                    "ours: body\n      want {}\n      got  {}",
                    short(b),
                    short(&ours.body)
                )),
                BodyCheck::Contains(t)
                    if !String::from_utf8_lossy(&ours.body).contains(t.as_str()) =>
                {
                    problems.push(format!("ours: body lacks {t:?}: {}", short(&ours.body)))
                }
                _ => {}
            }
        }
    }
    if let Some(repo) = case.fresh {
        if case.run_stock {
            let (s, o) = (
                repo_state(&stock_root, repo, case.hook_path),
                repo_state(&ours_root, repo, case.hook_path),
            );
            if s != o {
                problems.push(format!(
                    "repository after the request:\n--- stock\n{s}--- ours\n{o}"
                ));
            }
        }
        let _ = std::fs::remove_dir_all(&stock_root);
        let _ = std::fs::remove_dir_all(&ours_root);
    }
    problems
}

/// Runs every case of `group` (or just `DIFF_CASE`) and fails listing all mismatches.
fn run_group(group: Group) {
    let fx = fixtures::get();
    let only = std::env::var("DIFF_CASE").ok();
    let all = cases::all(fx);
    let mut names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    let n = names.len();
    names.dedup();
    assert_eq!(n, names.len(), "case names must be unique");
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in all.iter().filter(|c| c.group == group) {
        if only.as_deref().is_some_and(|o| o != case.name) {
            continue;
        }
        ran += 1;
        let problems = run_case(fx, case);
        if !problems.is_empty() {
            failures.push(format!("CASE {}:\n  {}", case.name, problems.join("\n  ")));
        }
    }
    eprintln!("{group:?}: {ran} cases, {} mismatches", failures.len());
    assert!(
        failures.is_empty(),
        "{} of {ran} {group:?} cases differ:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn differential_routes() {
    run_group(Group::Routes);
}

#[test]
fn differential_repo() {
    run_group(Group::Repo);
}

#[test]
fn differential_dumb() {
    run_group(Group::Dumb);
}

#[test]
fn differential_smart() {
    run_group(Group::Smart);
}

#[test]
fn differential_post() {
    run_group(Group::Post);
}

#[test]
fn differential_push() {
    run_group(Group::Push);
}

/// The table itself: enough cases, every group populated.
#[test]
fn differential_table_is_complete() {
    let fx = fixtures::get();
    let all = cases::all(fx);
    assert!(all.len() >= 80, "only {} cases", all.len());
    for g in [
        Group::Routes,
        Group::Repo,
        Group::Dumb,
        Group::Smart,
        Group::Post,
        Group::Push,
    ] {
        assert!(all.iter().any(|c| c.group == g), "no case in {g:?}");
    }
}

/// Runs `case` through our FastCGI daemon (as its PARAMS and STDIN).
fn run_fastcgi(daemon: &fcgi::Daemon, case: &Case, root: &Path) -> RawReply {
    let root_s = root.display().to_string();
    let params: Vec<(String, String)> = case
        .env
        .iter()
        .map(|(k, v)| (k.to_string(), v.replace("{root}", &root_s)))
        .collect();
    let reply = fcgi::request(&daemon.socket, &params, &case.body);
    RawReply {
        stdout: reply.stdout,
        stderr: Vec::new(),
        exit: Some(reply.app_status as i32),
        timed_out: false,
        left_behind: false,
    }
}

/// Every case through CGI and through FastCGI: the same reply, the same repository.
#[test]
fn differential_fastcgi() {
    let fx = fixtures::get();
    let only = std::env::var("DIFF_CASE").ok();
    let daemon = fcgi::daemon(&fx.scratch);
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in cases::all(fx) {
        if only.as_deref().is_some_and(|o| o != case.name) {
            continue;
        }
        ran += 1;
        let (cgi_root, fcgi_root) = match case.fresh {
            Some(repo) => (
                fixtures::fresh_root(fx, repo, &format!("{}-cgi", case.name)),
                fixtures::fresh_root(fx, repo, &format!("{}-fcgi", case.name)),
            ),
            None => (fx.root.clone(), fx.root.clone()),
        };
        let cgi_raw = run_backend(Backend::Ours, &case, &cgi_root);
        let fcgi_raw = run_fastcgi(&daemon, &case, &fcgi_root);
        let (cgi, fast) = (parse(&cgi_raw.stdout), parse(&fcgi_raw.stdout));
        let mut problems = diff(&cgi, &fast);
        if (cgi_raw.exit == Some(0)) != (fcgi_raw.exit == Some(0)) {
            problems.push(format!(
                "exit code / app status: CGI {:?} FastCGI {:?}",
                cgi_raw.exit, fcgi_raw.exit
            ));
        }
        if let Some(repo) = case.fresh {
            let (a, b) = (
                repo_state(&cgi_root, repo, case.hook_path),
                repo_state(&fcgi_root, repo, case.hook_path),
            );
            if a != b {
                problems.push(format!(
                    "repository after the request:\n--- CGI\n{a}--- FastCGI\n{b}"
                ));
            }
            let _ = std::fs::remove_dir_all(&cgi_root);
            let _ = std::fs::remove_dir_all(&fcgi_root);
        }
        if !problems.is_empty() {
            failures.push(format!("CASE {}:\n  {}", case.name, problems.join("\n  ")));
        }
    }
    eprintln!("FastCGI vs CGI: {ran} cases, {} differ", failures.len());
    assert!(only.is_some() || ran >= 80, "only {ran} cases ran");
    assert!(
        failures.is_empty(),
        "{} of {ran} cases differ between CGI and FastCGI:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

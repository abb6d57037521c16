//! Load through nginx (the shipped nginx/git-fastcgi.conf) in front of the native
//! FastCGI daemon: 100 concurrent clones and 20 concurrent pushes to distinct
//! branches of one repository, all at once, with real git clients.
//!
//! Asserted: no failure the limiter does not explain (a 503 must carry
//! `Retry-After` and its retry must succeed; any other failure fails the test),
//! every pushed ref present with its commit, `git fsck` clean, no git process left,
//! and the daemon's resident memory back near its idle size afterwards. The
//! figures (requests, failures by cause, idle/peak/final memory, time) are printed.
//! `scripts/soak.sh` runs the same load for longer.
#![cfg(unix)]

mod common;
mod support;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

/// How one git command ended.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Cause {
    Ok,
    /// HTTP 503s, each retried after its Retry-After: how many, whether every one
    /// carried Retry-After, whether a retry succeeded in the end.
    Busy {
        refusals: usize,
        retry_after: bool,
        retry_ok: bool,
    },
    Other(String),
}

/// Retries after 503s at most this many times.
const MAX_RETRIES: usize = 8;

/// Runs `args` (a clone or a push) with headers traced, classifying the outcome;
/// a 503 is retried after its Retry-After (at most 5 s), up to [`MAX_RETRIES`] times.
fn run_git(home: &Path, dir: &Path, args: &[String]) -> Cause {
    let attempt = || {
        let mut cmd = git_cmd(home);
        cmd.current_dir(dir).args(args).env("GIT_CURL_VERBOSE", "1");
        output_within(cmd, 180)
    };
    let mut refusals = 0;
    let mut every_retry_after = true;
    loop {
        let out = attempt();
        if out.status.success() {
            return if refusals == 0 {
                Cause::Ok
            } else {
                Cause::Busy {
                    refusals,
                    retry_after: every_retry_after,
                    retry_ok: true,
                }
            };
        }
        let err = String::from_utf8_lossy(&out.stderr);
        if !(err.contains("< HTTP/1.1 503") || err.contains("returned error: 503")) {
            let last = err
                .lines()
                .rfind(|l| !l.starts_with(['<', '>', '*']) && !l.contains(" http.c:"))
                .unwrap_or("")
                .to_string();
            return Cause::Other(last);
        }
        refusals += 1;
        let wait = err.lines().find_map(|l| {
            let l = l.to_ascii_lowercase();
            // "< Retry-After: 5" or, in git's trace format,
            // "... <= Recv header: Retry-After: 5".
            let (_, v) = l.split_once("retry-after:")?;
            v.trim().parse::<u64>().ok()
        });
        every_retry_after &= wait.is_some();
        if refusals > MAX_RETRIES {
            return Cause::Busy {
                refusals,
                retry_after: every_retry_after,
                retry_ok: false,
            };
        }
        std::thread::sleep(Duration::from_secs(wait.unwrap_or(2).min(5)));
    }
}

/// A size from the environment (for scripts/soak.sh), else `default`.
fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn hundred_clones_and_twenty_pushes_through_nginx_fastcgi() {
    let clones = knob("LOAD_CLONES", 100);
    let pushes = knob("LOAD_PUSHES", 20);
    let rounds = knob("LOAD_ROUNDS", 1);
    let (root, _) = make_root_with_head("load");
    let repo = root.0.join("r.git");
    let work = root.0.join("work");
    // Some history, so a clone is more than one object.
    for i in 0..5 {
        commit_random(&work, &format!("f{i}"), 200 << 10, i);
    }
    git(&work, &["push", "-q", "../r.git", "main"]);
    let d = Daemon::start(&root.0, &[], &[]);
    let web = TempDir::new("load-web");
    let nginx = nginx_native(&web.0, &d.sock, &root.0);
    let url = nginx.url("r.git");
    let pid = d.child.id();

    // Warm up (one clone), then the idle size.
    assert_eq!(
        run_git(
            &root.0,
            &root.0,
            &[
                "clone".into(),
                "-q".into(),
                "--bare".into(),
                url.clone(),
                "warm".into()
            ]
        ),
        Cause::Ok
    );
    wait_no_processes_in(&repo);
    std::thread::sleep(Duration::from_millis(500));
    let idle = rss_kib(pid);

    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(idle));
    let sampler = {
        let (done, peak) = (done.clone(), peak.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    && let Some(kib) = s
                        .lines()
                        .find_map(|l| l.strip_prefix("VmRSS:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                {
                    peak.fetch_max(kib, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let main_id = String::from_utf8(git(&repo, &["rev-parse", "main"])).unwrap();
    let mut expected = BTreeMap::new();
    let mut by_cause: BTreeMap<String, usize> = BTreeMap::new();
    let soak_started = Instant::now();
    for round in 0..rounds {
        // One pusher per branch, each with its own commit, prepared beforehand.
        for i in 0..pushes {
            let dir = root.0.join(format!("pusher{i}"));
            if !dir.exists() {
                git(&root.0, &["clone", "-q", "work", dir.to_str().unwrap()]);
            }
            let id = commit_random(&dir, "mine", 50 << 10, (1000 * round + i) as u64);
            expected.insert(format!("refs/heads/load-{round}-{i}"), id);
        }
        let started = Instant::now();
        let results = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        for i in 0..pushes {
            let (home, url, results) = (root.0.clone(), url.clone(), results.clone());
            threads.push(std::thread::spawn(move || {
                let dir = home.join(format!("pusher{i}"));
                let c = run_git(
                    &home,
                    &dir,
                    &[
                        "push".into(),
                        "-q".into(),
                        url,
                        format!("HEAD:refs/heads/load-{round}-{i}"),
                    ],
                );
                results.lock().unwrap().push(("push", c));
            }));
        }
        for i in 0..clones {
            let (home, url, results) = (root.0.clone(), url.clone(), results.clone());
            threads.push(std::thread::spawn(move || {
                let dst = home.join(format!("clone{i}"));
                let c = run_git(
                    &home,
                    &home,
                    &[
                        "clone".into(),
                        "-q".into(),
                        "--bare".into(),
                        url,
                        dst.display().to_string(),
                    ],
                );
                let _ = std::fs::remove_dir_all(&dst);
                results.lock().unwrap().push(("clone", c));
            }));
        }
        for t in threads {
            t.join().unwrap();
        }
        let elapsed = started.elapsed();
        wait_no_processes_in(&repo);
        let results = results.lock().unwrap();
        for (what, c) in results.iter() {
            let key = match c {
                Cause::Ok => format!("{what}: ok"),
                Cause::Busy {
                    refusals,
                    retry_after,
                    retry_ok,
                } => {
                    *by_cause
                        .entry(format!("{what}: 503 responses"))
                        .or_default() += refusals;
                    format!(
                        "{what}: ok after 503 (Retry-After on each: {retry_after}, retry ok: {retry_ok})"
                    )
                }
                Cause::Other(msg) => format!("{what}: FAILED: {msg}"),
            };
            *by_cause.entry(key).or_default() += 1;
        }
        println!(
            "LOAD | round {}: {clones} clones + {pushes} pushes through nginx + FastCGI in {:.1} s; daemon VmRSS now {} KiB",
            round + 1,
            elapsed.as_secs_f64(),
            rss_kib(pid)
        );
        assert_eq!(results.len(), clones + pushes);
        for (what, c) in results.iter() {
            match c {
                Cause::Ok => {}
                Cause::Busy {
                    retry_after,
                    retry_ok,
                    ..
                } => assert!(
                    *retry_after && *retry_ok,
                    "{what}: a 503 without Retry-After or whose retry failed: {c:?}"
                ),
                Cause::Other(msg) => panic!("{what} failed: {msg}\n{}", nginx.error_log()),
            }
        }
    }
    std::thread::sleep(Duration::from_millis(1000));
    done.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    let peak = peak.load(Ordering::SeqCst);
    let end = rss_kib(pid);
    println!(
        "LOAD | total: {} git operations ({clones} clones + {pushes} pushes x {rounds} rounds) in {:.1} s",
        (clones + pushes) * rounds,
        soak_started.elapsed().as_secs_f64()
    );
    for (k, n) in &by_cause {
        println!("LOAD | {k}: {n}");
    }
    println!("LOAD | daemon VmRSS: idle {idle} KiB, peak {peak} KiB, after {end} KiB");
    let now = refs(&repo);
    for (name, id) in &expected {
        assert!(
            now.contains(&format!("{id} {name}\n")),
            "{name} missing:\n{now}"
        );
    }
    assert!(now.contains(&format!("{} refs/heads/main\n", main_id.trim())));
    assert_fsck(&repo);
    assert!(
        end <= idle + 32 * 1024,
        "daemon memory did not come back: idle {idle} KiB, after {end} KiB"
    );
    assert!(!d.log_text().contains("panicked"), "{}", d.log_text());
}

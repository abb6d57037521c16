//! The pack-objects cache end to end: real `git clone`s through `serve` with
//! `GIT_HTTP_PACK_CACHE`, pack-objects runs counted through a logging git wrapper.
#![cfg(unix)]

mod common;

use common::{BIN, TempDir};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn g(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "A")
        .env("GIT_AUTHOR_EMAIL", "a@example.com")
        .env("GIT_COMMITTER_NAME", "A")
        .env("GIT_COMMITTER_EMAIL", "a@example.com")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .expect("git must be installed");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

struct Serve {
    child: Child,
    addr: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(root: &Path, env: &[(&str, &str)]) -> Serve {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .arg(root)
        .env("HOME", root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .expect("address in the banner")
        .trim()
        .trim_end_matches('/')
        .to_string();
    Serve { child, addr }
}

/// A wrapper that logs each git command line to `log`, then runs git.
fn wrapper(dir: &Path) -> (PathBuf, PathBuf) {
    let log = dir.join("git.log");
    let w = dir.join("git-wrapper");
    let real = Command::new("sh")
        .args(["-c", "command -v git"])
        .output()
        .unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_string();
    std::fs::write(
        &w,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{real}' \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&w, std::fs::Permissions::from_mode(0o755)).unwrap();
    (w, log)
}

/// A repository of about 4 MB of incompressible blobs over 40 commits, and a few
/// branches.
fn make_repo(root: &Path) -> PathBuf {
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    g(&work, &["init", "-q", "-b", "main"]);
    let mut seed: u64 = 0x1234_5678;
    for i in 0..40 {
        let mut data = Vec::with_capacity(100_000);
        for _ in 0..100_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            data.push(seed as u8);
        }
        std::fs::write(work.join(format!("f{i}")), data).unwrap();
        g(&work, &["add", "."]);
        g(&work, &["commit", "-q", "-m", &format!("c{i}")]);
        if i % 10 == 9 {
            g(&work, &["branch", &format!("b{i}")]);
        }
    }
    let repo = root.join("r.git");
    g(root, &["clone", "-q", "--bare", "work", "r.git"]);
    repo
}

fn pack_objects_runs(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("pack-objects"))
        .count()
}

fn clone(root: &Path, url: &str, dest: &str, extra: &[&str]) -> Child {
    let mut args = vec!["clone", "-q", "--bare"];
    args.extend_from_slice(extra);
    args.push(url);
    args.push(dest);
    Command::new("git")
        .args(&args)
        .current_dir(root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", root)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn identical_concurrent_clones_share_one_pack_objects_run() {
    let t = TempDir::new("pack-cache-storm");
    let repo = make_repo(&t.0);
    let cache = t.0.join("cache");
    let (w, log) = wrapper(&t.0);
    let server = serve(
        &t.0,
        &[
            ("GIT_HTTP_PACK_CACHE", cache.to_str().unwrap()),
            ("GIT_HTTP_BACKEND_GIT", w.to_str().unwrap()),
        ],
    );
    let url = format!("http://{}/r.git", server.addr);
    let head = g(&repo, &["rev-parse", "main"]);
    let clones: Vec<(String, Child)> = (0..8)
        .map(|i| {
            let dest = format!("c{i}.git");
            (dest.clone(), clone(&t.0, &url, &dest, &[]))
        })
        .collect();
    for (dest, child) in clones {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{dest}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let d = t.0.join(&dest);
        g(&d, &["fsck", "--strict", "--no-progress"]);
        assert_eq!(g(&d, &["rev-parse", "main"]), head);
    }
    assert_eq!(
        pack_objects_runs(&log),
        1,
        "one pack-objects for 8 clones: {}",
        std::fs::read_to_string(&log).unwrap()
    );
    // A later identical clone is a hit.
    let out = clone(&t.0, &url, "late.git", &[])
        .wait_with_output()
        .unwrap();
    assert!(out.status.success());
    g(&t.0.join("late.git"), &["fsck", "--no-progress"]);
    assert_eq!(pack_objects_runs(&log), 1);
    let files: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with(".pack"));
    // A new ref changes the key: the next clone runs pack-objects again.
    g(&repo, &["branch", "new", "main~1"]);
    let out = clone(&t.0, &url, "after.git", &[])
        .wait_with_output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(pack_objects_runs(&log), 2);
}

#[test]
fn the_cap_holds_under_distinct_requests() {
    let t = TempDir::new("pack-cache-cap");
    make_repo(&t.0);
    let cache = t.0.join("cache");
    // About two full packs' worth.
    let cap = 9_000_000u64;
    let server = serve(
        &t.0,
        &[
            ("GIT_HTTP_PACK_CACHE", cache.to_str().unwrap()),
            ("GIT_HTTP_PACK_CACHE_MAX_BYTES", &cap.to_string()),
        ],
    );
    let url = format!("http://{}/r.git", server.addr);
    let mut children = Vec::new();
    for (i, branch) in ["b9", "b19", "b29", "b39", "main"].iter().enumerate() {
        for depth in ["1", "2"] {
            let dest = format!("d{i}-{depth}.git");
            children.push((
                dest.clone(),
                clone(&t.0, &url, &dest, &["--branch", branch, "--depth", depth]),
            ));
        }
    }
    for (dest, child) in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{dest}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        g(&t.0.join(&dest), &["fsck", "--no-progress"]);
        assert!(dir_bytes(&cache) <= cap, "cache above its cap");
    }
    assert!(dir_bytes(&cache) <= cap);
    assert!(dir_bytes(&cache) > 0, "something was cached");
}

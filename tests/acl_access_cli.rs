//! The `access` command run as a user runs it: `git-http-backend-rs access [--acl
//! FILE] REPO USER PERM [REF]`, its output and exit codes (0 allowed, 1 denied, 2
//! bad file or arguments), and that under CGI the arguments stay ignored.
#![cfg(unix)]

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_git-http-backend-rs");

const CONF: &str = "\
@devs = alice bob
repo app
    R        = @all
    -   main = bob
    RW+      = @devs
";

fn access(env_file: Option<&Path>, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .arg("access")
        .args(args);
    if let Some(f) = env_file {
        cmd.env("GIT_HTTP_ACL_FILE", f);
    }
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn access_explains_and_exits_with_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acl.conf");
    std::fs::write(&file, CONF).unwrap();
    let f = file.to_str().unwrap();

    let o = access(None, &["--acl", f, "app.git", "alice", "W", "main"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("app alice W refs/heads/main: allowed by {f}:5: RW+      = @devs\n")
    );

    let o = access(None, &[&format!("--acl={f}"), "app", "bob", "W", "main"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        format!("app bob W refs/heads/main: denied by {f}:4: -   main = bob\n")
    );

    // REF defaults to `any`, where deny rules do not count (no deny-rules).
    let o = access(Some(&file), &["app", "bob", "W"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("app bob W any: allowed by"));

    let o = access(Some(&file), &["app", "zed", "+", "any"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "app zed + any: denied: no rule matched\n");

    let o = access(Some(&file), &["other", "alice", "R"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn access_refuses_bad_files_and_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acl.conf");
    std::fs::write(&file, "repo app\n  R = @all\n  RW+ mainx( = alice\n").unwrap();
    let f = file.to_str().unwrap();

    let o = access(None, &["--acl", f, "app", "alice", "R"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!("{f}:3: bad refex")),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());

    for args in [
        &["app", "alice"][..],
        &["app", "alice", "RW", "main"][..],
        &["app", "alice", "R", "main", "extra"][..],
        &["--bogus", "app", "alice", "R"][..],
        &["app", "alice", "R", "--acl"][..],
    ] {
        let o = access(Some(&file), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
    // No file at all.
    let o = access(None, &["app", "alice", "R"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("GIT_HTTP_ACL_FILE"), "{}", stderr(&o));
    let o = access(
        None,
        &["--acl", "/nonexistent/acl.conf", "app", "alice", "R"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/acl.conf: cannot read"));
}

#[test]
fn access_is_ignored_under_cgi() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acl.conf");
    std::fs::write(&file, CONF).unwrap();
    // Under CGI the words of a query arrive as arguments: they must not run `access`.
    let o = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("REQUEST_METHOD", "GET")
        .args([
            "access",
            "--acl",
            file.to_str().unwrap(),
            "app",
            "alice",
            "R",
        ])
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(out.starts_with("Status: 500"), "{out}");
    assert!(!out.contains("allowed"), "{out}");
}

/// README's worked example is a valid file and means what README says.
#[test]
fn readme_example_decides_as_documented() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("### The format, by example")
        .nth(1)
        .expect("README has the ACL example");
    let example = section.split("```").nth(1).expect("a code block");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acl.conf");
    std::fs::write(&file, example.trim_start_matches('\n')).unwrap();
    let f = file.to_str().unwrap();
    for (args, code) in [
        (&["app", "carol", "W", "main"][..], 1),
        (&["app", "carol", "+", "dev/x"][..], 0),
        (&["app", "anonymous", "R"][..], 0),
        (&["app", "dave", "W", "mainline"][..], 0),
        (&["app", "dave", "C", "refs/tags/v1"][..], 0),
        (&["app", "eve", "C", "refs/tags/v1"][..], 1),
        (&["app", "admin", "D", "main"][..], 0),
        (&["app", "dave", "D", "main"][..], 1),
        (&["web/x", "eve", "R"][..], 0),
        (&["tools/ab", "bob", "+", "x"][..], 0),
        (&["tools/a1", "bob", "R"][..], 1),
        (&["private/secret", "anonymous", "R"][..], 1),
        (&["private/secret", "mallory", "R"][..], 1),
        (&["private/secret", "alice", "R"][..], 0),
    ] {
        let mut all = vec!["--acl", f];
        all.extend_from_slice(args);
        let o = access(None, &all);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{args:?}: {}{}",
            stdout(&o),
            stderr(&o)
        );
    }
    let o = access(None, &["--acl", f, "app", "carol", "W", "main"]);
    assert!(
        stdout(&o).contains(&format!("denied by {f}:10: -    main")),
        "{}",
        stdout(&o)
    );
}

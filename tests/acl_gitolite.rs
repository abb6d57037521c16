//! Differential test of the ACL evaluator against real gitolite (`gitolite3`).
//!
//! For each conf below: a fresh gitolite home (`gitolite setup -a admin`, no ssh key
//! needed), the conf written as `~/.gitolite/conf/gitolite.conf` (plus included
//! files), `gitolite compile`, then `gitolite access % % PERM REF` in batch mode
//! (repo and user lines on stdin) for every perm and ref of the conf. The same
//! file is loaded with `Acl::load` and every (repo, user, perm, ref) verdict must be
//! gitolite's.
//!
//! What is left out, and why:
//! - repositories gitolite does not have on disk: it then first checks `^C` (wild
//!   repository creation, CREATOR), which this project does not implement. Repos
//!   reached only through a pattern are created on disk before `gitolite setup`, so
//!   pattern matching is compared; one name that nothing matches is queried too
//!   (both deny).
//! - user names gitolite would reject or treat as groups (`@x`, spaces): batch mode
//!   cannot carry them; unit tests cover our refusal.
//! - `C` rules, `CREATOR`, roles, VREFs, `subconf`: unsupported here (errors or an
//!   ignored `C`), so not in the confs.
//!
//! gitolite runs fine as root, so the test runs as whoever runs it, with `HOME`
//! pointing at a temporary directory.
#![cfg(unix)]

use git_http_backend_rs::policy::acl::{Acl, Perm};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

struct Case {
    name: &'static str,
    /// (path relative to conf/, text); the first is gitolite.conf.
    files: &'static [(&'static str, &'static str)],
    /// Repositories gitolite will not create itself (reached through patterns).
    on_disk: &'static [&'static str],
    /// Repositories to ask about.
    repos: &'static [&'static str],
    /// Refs to ask about (`any` included where wanted).
    refs: &'static [&'static str],
}

const USERS: &[&str] = &[
    "alice",
    "bob",
    "carol",
    "dave",
    "eve",
    "frank",
    "admin",
    "zed",
    "jo.doe@example.com",
];
const PERMS: &[&str] = &["R", "W", "+", "C", "D"];

const CASES: &[Case] = &[
    Case {
        name: "groups-order-prefixes",
        files: &[(
            "gitolite.conf",
            r#"
@devs   = alice bob
@devs   = carol              # groups accumulate
@leads  = dave @devs         # groups in groups (expanded here and now)
@devs   = frank              # added later: frank is not a lead
@everyone = @all             # a group holding @all matches nobody in gitolite
@mail   = jo.doe@example.com

repo app
    R                   = @all
    RW  dev/            = @devs
    RW+ refs/heads/main$ = @leads
    RW  main            = alice     # a prefix: also mainline
    -   main            = bob
    RW                  = bob
    RW+ refs/tags/      = dave
    RW  dev/            = @mail
repo lib
    R   = @everyone
    RW+ = @leads
    R   = eve
repo docs
    RW+ = @devs
    -   = carol                     # after an allow: never reached for carol
    RW  = carol eve
"#,
        )],
        on_disk: &[],
        repos: &["app", "lib", "docs", "nowhere"],
        refs: &["any", "main", "mainline", "dev/x", "devx", "refs/tags/v1"],
    },
    Case {
        name: "deny-rules",
        files: &[(
            "gitolite.conf",
            r#"
@staff = alice bob carol
repo open
    -   = eve
    R   = @all
    -   main = bob
    RW  = @staff
repo closed
    option deny-rules = 1
    -   = eve
    R   = @all
    -   main = bob
    RW  = @staff
repo mixed
    -   refs/tags/ = @staff
    RW+ = @staff
    R   = eve
repo mixed
    option deny-rules = 1
repo undone
    option deny-rules = 1
    - = dave
    R = @all
repo undone
    option deny-rules = 0
"#,
        )],
        on_disk: &[],
        repos: &["open", "closed", "mixed", "undone"],
        refs: &["any", "main", "dev", "refs/tags/v1"],
    },
    Case {
        name: "create-delete",
        files: &[(
            "gitolite.conf",
            r#"
@devs = alice bob
repo plain
    RW+ = alice
    RW  = bob
repo withc
    RW+C = alice
    RW   = bob
    RWC  feature/ = bob
repo withd
    RW+D = alice
    RW+  = bob
    RWD  tmp/ = carol
repo both
    RWCD dev/ = alice
    RW+CD = carol
    RW+   = bob
    RW    = dave
repo split
    RW+ = alice bob
repo split
    RWC refs/tags/ = carol
    RW+DC = dave
"#,
        )],
        on_disk: &[],
        repos: &["plain", "withc", "withd", "both", "split"],
        refs: &["any", "main", "feature/a", "tmp/x", "dev/x", "refs/tags/v1"],
    },
    Case {
        name: "all-blocks-order",
        files: &[(
            "gitolite.conf",
            r#"
repo @all
    -  refs/tags/ = bob
    R  = admin
repo alpha beta
    RW+ = bob alice
    R   = @all
repo gamma
    RW+ = bob
    -   main = eve
repo @all
    RW+D = carol
    RW   = eve
"#,
        )],
        on_disk: &[],
        repos: &["alpha", "beta", "gamma"],
        refs: &["any", "main", "refs/tags/v1", "topic"],
    },
    Case {
        name: "patterns",
        files: &[(
            "gitolite.conf",
            r#"
@pubrepos = pub/.* site
repo lib/.*
    R   = @all
    RW+ = alice
repo lib/core
    RW+ = bob
repo @pubrepos
    RW  = carol
repo x|y
    RW  = dave
repo proj[0-9]+
    RW refs/tags/v[0-9]+\.[0-9]+$ = alice
    RW dev/.*-fix = bob
    R = @all
repo b.r
    R = eve
"#,
        )],
        on_disk: &[
            "lib/util", "pub/a", "proj7", "proj12a", "xeno", "toy", "bar",
        ],
        repos: &[
            "lib/core", "lib/util", "pub/a", "site", "proj7", "proj12a", "xeno", "toy", "bar",
            "b.r",
        ],
        refs: &[
            "any",
            "main",
            "refs/tags/v1.2",
            "refs/tags/v1.2x",
            "dev/a-fix",
            "dev/a-fixed",
        ],
    },
    Case {
        name: "includes",
        files: &[
            (
                "gitolite.conf",
                r#"
@devs = alice
include "inc/*.conf"
repo app
    RW+ = bob
include "late.conf"
"#,
            ),
            (
                "inc/a.conf",
                r#"
@devs = bob
repo app
    -  main = bob
    RW = @devs
"#,
            ),
            (
                "inc/b.conf",
                r#"
repo app
    R = carol
include "inc/nested/c.conf"
"#,
            ),
            (
                "inc/nested/c.conf",
                r#"
repo app other
    RW+ dev/ = carol
"#,
            ),
            (
                "late.conf",
                r#"
repo app
    RW+ = dave
    option deny-rules = 1
    -  = eve
    R  = eve
repo other
    R = @all
"#,
            ),
        ],
        on_disk: &[],
        repos: &["app", "other"],
        refs: &["any", "main", "dev/x", "topic"],
    },
    Case {
        name: "users-refs",
        files: &[(
            "gitolite.conf",
            r#"
@admins    = admin
@refgroup  = main release/
repo tools
    RW+ personal/USER/ = @all
    RW  @refgroup      = alice
    R   = @admins
    RW+ refs/notes/    = bob
    RW  refs/heads/dev = carol
    option foo = bar
repo tools2
    RW+ = zed
    -   refs/heads/ = eve
    RW+ refs/ = eve
"#,
        )],
        on_disk: &[],
        repos: &["tools", "tools2"],
        refs: &[
            "any",
            "main",
            "release/1",
            "personal/alice/x",
            "personal/bob/x",
            "refs/notes/commits",
            "devx",
            "refs/meta/config",
        ],
    },
    Case {
        name: "all-options-groups",
        files: &[(
            "gitolite.conf",
            r#"
@anyone  = @all
@web     = site/.* portal
@ops     = dave
@ops     = eve frank
repo @all
    option deny-rules = 1
    -   = frank
repo @anyone
    RW+ = alice
repo @web
    R   = @all
    RWC refs/tags/ = @ops
    RW+ = bob
repo portal site/main
    RW  = carol
    -   wip/ = carol
    RW+ wip/ = carol
    RW+D = admin
repo other
    R = @all
    RW a|b = dave
"#,
        )],
        on_disk: &["site/main", "site/blog"],
        repos: &["portal", "site/main", "site/blog", "other"],
        refs: &[
            "any",
            "main",
            "wip/1",
            "refs/tags/v1",
            "a",
            "xb",
            "refs/heads/b",
        ],
    },
];

fn gitolite(home: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = Command::new("gitolite");
    cmd.args(args)
        .env("HOME", home)
        .env_remove("GL_USER")
        .env_remove("GL_REPO")
        .env_remove("GL_BINDIR")
        .env_remove("GL_LIBDIR")
        // gitolite setup commits the admin repository: a fresh machine has no identity.
        .env("GIT_AUTHOR_NAME", "acl test")
        .env("GIT_AUTHOR_EMAIL", "acl@test")
        .env("GIT_COMMITTER_NAME", "acl test")
        .env("GIT_COMMITTER_EMAIL", "acl@test")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .expect("running `gitolite` (install the gitolite3 package)");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "gitolite {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs one case; returns (queries compared, mismatches).
fn run_case(case: &Case) -> (usize, Vec<String>) {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    for repo in case.on_disk {
        let dir = home.join("repositories").join(format!("{repo}.git"));
        std::fs::create_dir_all(&dir).unwrap();
        let st = Command::new("git")
            .env("HOME", home)
            .args(["init", "-q", "--bare"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(st.success());
    }
    gitolite(home, &["setup", "-a", "admin"], None);
    let conf = home.join(".gitolite/conf");
    for (path, text) in case.files {
        let file = conf.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, text).unwrap();
    }
    gitolite(home, &["compile"], None);
    let acl = Acl::load(&conf.join("gitolite.conf"))
        .unwrap_or_else(|e| panic!("{}: our parser: {e}", case.name));

    let mut lines = String::new();
    for repo in case.repos {
        for user in USERS {
            lines.push_str(&format!("{repo} {user}\n"));
        }
    }
    let mut count = 0;
    let mut mismatches = Vec::new();
    for perm in PERMS {
        for refname in case.refs {
            let out = gitolite(home, &["access", "%", "%", perm, refname], Some(&lines));
            let mut seen = 0;
            for line in out.lines() {
                let mut parts = line.splitn(3, '\t');
                let (repo, user, result) = (
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                    parts.next().unwrap_or(""),
                );
                let theirs = !result.contains("DENIED");
                let r = (*refname != "any").then_some(*refname);
                let ours = acl.decide(repo, user, Perm::parse(perm).unwrap(), r);
                seen += 1;
                if ours.allowed != theirs {
                    mismatches.push(format!(
                        "{}: access {repo} {user} {perm} {refname}: gitolite `{result}`, ours `{ours}`",
                        case.name
                    ));
                }
            }
            assert_eq!(seen, case.repos.len() * USERS.len(), "{}: {out}", case.name);
            count += seen;
        }
    }
    (count, mismatches)
}

#[test]
fn verdicts_match_gitolite() {
    let results: Vec<(usize, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = CASES
            .chunks(CASES.len().div_ceil(2))
            .map(|chunk| s.spawn(move || chunk.iter().map(run_case).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let total: usize = results.iter().map(|r| r.0).sum();
    let mismatches: Vec<&String> = results.iter().flat_map(|r| &r.1).collect();
    let allowed_some = total > 0;
    eprintln!(
        "gitolite differential: {total} queries over {} confs, {} mismatches",
        CASES.len(),
        mismatches.len()
    );
    assert!(allowed_some && total >= 300, "too few queries: {total}");
    assert!(
        mismatches.is_empty(),
        "{} of {total} verdicts differ from gitolite:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(40)
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

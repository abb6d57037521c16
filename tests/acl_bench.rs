//! Benchmark (ignored by default; run through `scripts/bench-acl.sh`, which writes
//! a 1,000-rule file and passes it in `ACL_BENCH_FILE`): the parse of the file,
//! one decision on a parsed `Acl`, and `load_cached`'s freshness check.
#![cfg(unix)]

use git_http_backend_rs::policy::acl::{Acl, Perm, UpdateKind, load_cached};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

/// Seconds per call of `f`: the best of 7 rounds of `n` calls (the machine is shared;
/// the best round is the least disturbed one).
fn per_iteration(n: u32, mut f: impl FnMut()) -> f64 {
    f();
    (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                f();
            }
            start.elapsed().as_secs_f64() / f64::from(n)
        })
        .fold(f64::INFINITY, f64::min)
}

#[test]
#[ignore = "benchmark: run scripts/bench-acl.sh"]
fn acl_decision_cost() {
    let file = PathBuf::from(std::env::var_os("ACL_BENCH_FILE").expect("ACL_BENCH_FILE"));
    let acl = Acl::load(&file).unwrap();
    println!("  {} rules from {}", acl.rule_count(), file.display());

    let parse = per_iteration(50, || {
        black_box(Acl::load(&file).unwrap());
    });
    println!("parse (CGI: per request): {:.1} us", parse * 1e6);

    let questions: [(&str, &str, Perm, Option<&str>); 4] = [
        (
            "proj/repo99",
            "u1_5",
            Perm::Write,
            Some("refs/heads/release/7"),
        ),
        (
            "proj/repo99",
            "nobody",
            Perm::Write,
            Some("refs/heads/main"),
        ),
        ("proj/repo0", "u0_0", Perm::Read, None),
        ("proj/other", "u3_3", Perm::Read, None),
    ];
    for (repo, user, perm, refname) in questions {
        let allowed = acl.decide(repo, user, perm, refname).allowed;
        let t = per_iteration(5_000, || {
            black_box(acl.decide(repo, user, perm, refname));
        });
        println!(
            "decide {repo} {user} {perm} {} -> {}: {:.2} us",
            refname.unwrap_or("any"),
            if allowed { "allowed" } else { "denied" },
            t * 1e6
        );
    }
    let t = per_iteration(5_000, || {
        black_box(acl.decide_update(
            "proj/repo50",
            "u10_1",
            "refs/heads/tmp/x",
            UpdateKind::Delete,
        ));
    });
    println!("decide_update delete tmp/x: {:.2} us", t * 1e6);

    load_cached(&file).unwrap();
    let t = per_iteration(5_000, || {
        black_box(load_cached(&file).unwrap());
    });
    println!("cached load_cached check (daemons): {:.2} us", t * 1e6);
}

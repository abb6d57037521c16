//! Cost of a built-in Basic auth check: an uncached bcrypt verification (cost 10,
//! and htpasswd -B's default cost 5) against a cached one (what a resident
//! server pays for the same credentials within a minute). A benchmark, not a
//! test: ignored by default; run it with `scripts/bench-auth.sh`.
#![cfg(unix)]

use git_http_backend_rs::policy::auth::{self, Check, Htpasswd};
use std::time::Instant;

fn line(cost: &str) -> String {
    let out = std::process::Command::new("htpasswd")
        .args(["-nbB", "-C", cost, "u", "secret"])
        .output()
        .expect("htpasswd (apache2-utils)");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[ignore = "benchmark: scripts/bench-auth.sh"]
fn bcrypt_cached_vs_uncached() {
    for cost in ["10", "5"] {
        let text = line(cost);
        let file = Htpasswd::parse(&text).unwrap();
        let n = 20;
        let t = Instant::now();
        for _ in 0..n {
            assert!(file.verify("u", b"secret").unwrap());
        }
        let uncached = t.elapsed().as_secs_f64() / n as f64;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        std::fs::write(&path, &text).unwrap();
        assert_eq!(
            auth::check(&path, "u", b"secret"),
            Check::Valid { cached: false }
        );
        let m = 100_000;
        let t = Instant::now();
        for _ in 0..m {
            assert_eq!(
                auth::check(&path, "u", b"secret"),
                Check::Valid { cached: true }
            );
        }
        let cached = t.elapsed().as_secs_f64() / m as f64;
        println!(
            "bcrypt cost {cost}: uncached check {:.2} ms, cached check {:.2} us (stat of the file + keyed SHA-256 + lookup), ratio {:.0}x",
            uncached * 1e3,
            cached * 1e6,
            uncached / cached
        );
    }
}

//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the same
//! entry functions the cargo-fuzz targets call (`git_http_backend_rs::fuzzing`), on
//! the stable toolchain: every file must pass without a panic, and each entry
//! function asserts its parser's invariants (round trips, ranges). Files named
//! `regression-*` are inputs that once crashed a target.

use git_http_backend_rs::fuzzing::TARGETS;
use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    for file in &files {
        let data = std::fs::read(file).expect("corpus file");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} panicked ({} bytes)",
            file.display(),
            data.len()
        );
    }
    files.len()
}

#[test]
fn every_target_has_a_corpus_and_it_passes() {
    let on_disk: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets"))
            .expect("fuzz/fuzz_targets")
            .map(|e| {
                e.expect("target file")
                    .path()
                    .file_stem()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
    for name in &on_disk {
        assert!(
            TARGETS.iter().any(|(t, _)| t == name),
            "fuzz target {name} has no entry in fuzzing::TARGETS"
        );
    }
    for (target, run) in TARGETS {
        let n = replay(target, *run);
        assert!(n >= 3, "{target}: only {n} corpus files");
        println!("{target}: {n} corpus files replayed");
    }
    git_http_backend_rs::fuzzing::cleanup();
}

#[test]
fn regression_signed_pkt_length() {
    // Found by the pktline target: "+004" was taken as a length.
    let mut input = &b"+004O"[..];
    assert!(git_http_backend_rs::pktline::read_pkt(&mut input).is_err());
    let list = git_http_backend_rs::pktline::read_command_list(&mut &b"+004O"[..], 1024)
        .expect("kept for git");
    assert_eq!(list.updates, None);
}

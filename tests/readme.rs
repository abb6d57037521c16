//! README.md's config snippets are the shipped files the server tests run, not
//! copies that drift.
//!
//! Convention: a fenced block tagged as a config language (```nginx, ```apache,
//! ```lighttpd, ```ini, ```systemd) starts with a marker line naming a shipped
//! file:
//! - `# file: PATH`: the rest of the block is byte-identical to PATH;
//! - `# from: PATH`: the rest of the block is a contiguous excerpt of PATH.
//!
//! PATH must be named by a test under tests/ (so a server test runs it). Also:
//! every shipped file and docs/ link README names exists.
#![cfg(unix)]

use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const CONFIG_TAGS: &[&str] = &["nginx", "apache", "lighttpd", "ini", "systemd"];

/// (tag, first line number, body) of each fenced block.
fn blocks(text: &str) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    let mut open: Option<(String, usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(tag)) => open = Some((tag.trim().to_string(), n + 1, String::new())),
            (Some(_), Some("")) => out.push(open.take().unwrap()),
            (Some((_, _, body)), _) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "README.md: unclosed fenced block");
    out
}

/// All test sources, to check that a file is one the tests run.
fn test_sources() -> String {
    let mut all = String::new();
    let mut dirs = vec![Path::new(ROOT).join("tests")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") && !p.ends_with("readme.rs") {
                all.push_str(&std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    all
}

#[test]
fn config_snippets_are_the_shipped_files() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let tests = test_sources();
    let mut checked = 0;
    for (tag, line, body) in blocks(&readme) {
        if !CONFIG_TAGS.contains(&tag.as_str()) {
            continue;
        }
        let (marker, rest) = body.split_once('\n').unwrap_or((&body, ""));
        let (exact, path) = if let Some(p) = marker.strip_prefix("# file: ") {
            (true, p.trim())
        } else if let Some(p) = marker.strip_prefix("# from: ") {
            (false, p.trim())
        } else {
            panic!(
                "README.md:{line}: a ```{tag} block must start with `# file: PATH` or `# from: PATH`"
            );
        };
        let shipped = std::fs::read_to_string(Path::new(ROOT).join(path))
            .unwrap_or_else(|e| panic!("README.md:{line}: {path}: {e}"));
        if exact {
            assert_eq!(rest, shipped, "README.md:{line}: differs from {path}");
        } else {
            assert!(
                shipped.contains(rest),
                "README.md:{line}: the block is not an excerpt of {path} (edit the file, then copy)"
            );
            assert!(
                rest.lines().count() >= 3,
                "README.md:{line}: excerpt too short to mean anything"
            );
        }
        let file_name = Path::new(path).file_name().unwrap().to_str().unwrap();
        assert!(
            tests.contains(path) || tests.contains(file_name),
            "README.md:{line}: {path} is not run by any test under tests/"
        );
        checked += 1;
    }
    assert!(checked >= 2, "only {checked} config snippets found");
}

#[test]
fn named_files_and_links_exist() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    // Prose only: fenced blocks are checked above.
    let mut in_block = false;
    let prose: String = readme
        .lines()
        .filter(|l| {
            if l.starts_with("```") {
                in_block = !in_block;
                return false;
            }
            !in_block
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut named = 0;
    for word in prose.split(|c: char| c == '`' || c == '(' || c == ')' || c.is_whitespace()) {
        let word = word.trim_end_matches(['.', ',', ':', ';']);
        let shipped = [
            "apache/",
            "nginx/",
            "lighttpd/",
            "systemd/",
            "docs/",
            "scripts/",
        ]
        .iter()
        .any(|d| word.starts_with(d));
        if shipped && !word.contains('*') && word.len() > 6 {
            assert!(
                Path::new(ROOT).join(word).exists(),
                "README.md names {word}, which does not exist"
            );
            named += 1;
        }
    }
    assert!(named >= 10, "only {named} file names found");
}

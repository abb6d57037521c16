//! Finding the repositories under the served directory, for the start-up banner.
//!
//! A directory is a repository if it looks like a git directory (`HEAD`, `objects/`,
//! `refs/`: a bare repository, usually `name.git`) or holds a `.git` (a work tree,
//! served through git's `/.git` suffix try). The walk stops at repositories and at
//! [`MAX_DEPTH`], and skips hidden directories.
//!
//! ```
//! use git_http_backend_rs::transport::serve::discover::url_path;
//! assert_eq!(url_path(b"a b/r.git"), "a%20b/r.git");
//! ```

use std::fs;
use std::path::{Path, PathBuf};

/// How many directory levels below the root are searched.
pub const MAX_DEPTH: usize = 4;

/// True if `dir` looks like a git directory (git's `is_git_directory`, roughly).
fn is_git_dir(dir: &Path) -> bool {
    dir.join("HEAD").is_file() && dir.join("objects").is_dir() && dir.join("refs").is_dir()
}

/// The repositories under `root`, as paths relative to it, sorted. An empty path
/// means `root` itself is a repository.
pub fn repositories(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    walk(root, Path::new(""), 0, &mut found);
    found.sort();
    found
}

fn walk(root: &Path, rel: &Path, depth: usize, found: &mut Vec<PathBuf>) {
    let dir = root.join(rel);
    if is_git_dir(&dir) || dir.join(".git").exists() {
        found.push(rel.to_path_buf());
        return;
    }
    if depth >= MAX_DEPTH {
        return;
    }
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) => {
            log::debug!("serve: not listing {}: {e}", dir.display());
            return;
        }
    };
    let mut subdirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| rel.join(e.file_name()))
        .collect();
    subdirs.sort();
    for sub in subdirs {
        walk(root, &sub, depth + 1, found);
    }
}

/// Percent-encodes a relative path for a URL (`/` kept, unreserved bytes kept).
pub fn url_path(rel: &[u8]) -> String {
    let mut out = String::with_capacity(rel.len());
    for &b in rel {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_bare_and_worktree_repositories() {
        let root = std::env::temp_dir().join(format!("ghb-discover-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for d in [
            "a/r.git/objects",
            "a/r.git/refs",
            "b/w/.git",
            ".hidden/x/.git",
            "c",
        ] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        fs::write(root.join("a/r.git/HEAD"), "ref: refs/heads/main\n").unwrap();
        // Not descended into: a repository inside a repository.
        fs::create_dir_all(root.join("b/w/sub/.git")).unwrap();
        let found = repositories(&root);
        let _ = fs::remove_dir_all(&root);
        assert_eq!(found, vec![PathBuf::from("a/r.git"), PathBuf::from("b/w")]);
    }
}

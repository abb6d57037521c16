//! The LFS object store inside a repository: `<git-dir>/lfs/objects/aa/bb/<oid>`,
//! the layout git-lfs itself uses locally, so backups and moves of the repository
//! carry its LFS objects.
//!
//! An upload is streamed into a temporary file in `<git-dir>/lfs/tmp/`, hashed as
//! it is written, and renamed into place only when its SHA-256 and size are right.
//! A rename is atomic, so concurrent uploads of one object each finish with the
//! complete object in place (the contents are the same by construction) and a
//! reader never sees a partial file.
//!
//! ```
//! use git_http_backend_rs::service::lfs::store::object_path;
//! use std::path::Path;
//! let oid = "ab".repeat(32);
//! let p = object_path(Path::new("/srv/r.git"), &oid);
//! assert_eq!(p, Path::new("/srv/r.git/lfs/objects/ab/ab").join(&oid));
//! ```

use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Where object `oid` (already checked with [`super::is_oid`]) lives.
pub fn object_path(git_dir: &Path, oid: &str) -> PathBuf {
    git_dir
        .join("lfs")
        .join("objects")
        .join(&oid[0..2])
        .join(&oid[2..4])
        .join(oid)
}

/// The size of object `oid`, if it is stored.
pub fn size_of(git_dir: &Path, oid: &str) -> Option<u64> {
    fs::metadata(object_path(git_dir, oid))
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why an upload was not stored.
#[derive(Debug)]
pub enum PutError {
    /// Reading the body failed (cut short, client gone).
    Body(io::Error),
    /// Writing the store failed.
    Store(io::Error),
    /// The bytes do not hash to the oid.
    Mismatch {
        /// The SHA-256 of what arrived.
        actual: String,
        /// How many bytes arrived.
        size: u64,
    },
    /// The body did not have the announced size.
    Size {
        /// Announced (`Content-Length`).
        expected: u64,
        /// Received.
        actual: u64,
    },
}

/// Streams `body` into the store as object `oid`; `expected_size` (from
/// `Content-Length`) is checked when given. Memory use is one 64 KiB buffer.
/// Nothing is left behind on failure.
pub fn put(
    git_dir: &Path,
    oid: &str,
    expected_size: Option<u64>,
    body: &mut dyn Read,
) -> Result<u64, PutError> {
    let tmp_dir = git_dir.join("lfs").join("tmp");
    fs::create_dir_all(&tmp_dir).map_err(PutError::Store)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!("{oid}-"))
        .tempfile_in(&tmp_dir)
        .map_err(PutError::Store)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(PutError::Body(e)),
        };
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n]).map_err(PutError::Store)?;
        size += n as u64;
    }
    if let Some(expected) = expected_size.filter(|&e| e != size) {
        return Err(PutError::Size {
            expected,
            actual: size,
        });
    }
    let actual = hex(&hasher.finalize());
    if actual != oid {
        return Err(PutError::Mismatch { actual, size });
    }
    tmp.as_file().sync_all().map_err(PutError::Store)?;
    let dest = object_path(git_dir, oid);
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(PutError::Store)?;
    }
    if let Err(e) = tmp.persist(&dest) {
        // Windows refuses to replace a file another upload of the same object has
        // just put in place (or a reader holds open). The object is addressed by its
        // content, so a complete one already there is this upload's result.
        if size_of(git_dir, oid) == Some(size) {
            return Ok(size);
        }
        return Err(PutError::Store(e.error));
    }
    Ok(size)
}

/// Opens object `oid` for reading, with its size.
pub fn open(git_dir: &Path, oid: &str) -> io::Result<(File, u64)> {
    let file = File::open(object_path(git_dir, oid))?;
    let len = file.metadata()?.len();
    Ok((file, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(data: &[u8]) -> String {
        hex(&Sha256::digest(data))
    }

    #[test]
    fn stores_only_matching_objects() {
        let dir = tempfile::tempdir().unwrap();
        let oid = sha(b"hello\n");
        assert_eq!(size_of(dir.path(), &oid), None);
        let n = put(dir.path(), &oid, Some(6), &mut &b"hello\n"[..]).unwrap();
        assert_eq!(n, 6);
        assert_eq!(size_of(dir.path(), &oid), Some(6));
        assert_eq!(fs::read(object_path(dir.path(), &oid)).unwrap(), b"hello\n");
        // Wrong content: refused, nothing stored, no temporary left.
        let other = sha(b"other");
        assert!(matches!(
            put(dir.path(), &other, None, &mut &b"hello\n"[..]),
            Err(PutError::Mismatch { size: 6, .. })
        ));
        assert!(matches!(
            put(dir.path(), &other, Some(99), &mut &b"other"[..]),
            Err(PutError::Size {
                expected: 99,
                actual: 5
            })
        ));
        assert_eq!(size_of(dir.path(), &other), None);
        let tmp = fs::read_dir(dir.path().join("lfs/tmp")).unwrap().count();
        assert_eq!(tmp, 0);
    }

    #[test]
    fn concurrent_uploads_of_one_object() {
        let dir = tempfile::tempdir().unwrap();
        let data = vec![7u8; 300_000];
        let oid = sha(&data);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| put(dir.path(), &oid, Some(300_000), &mut &data[..]).unwrap());
            }
        });
        assert_eq!(fs::read(object_path(dir.path(), &oid)).unwrap(), data);
    }
}

//! One parsed ACL per path for the life of a process, re-read when the file, any
//! file it includes, or a directory an include glob looks in changes (size,
//! modification time, inode or status-change time). A broken file is cached too (as its error), so a daemon
//! neither re-parses it per request nor logs it more than once per change.

use super::parse::parse_tracked;
use super::{Acl, AclError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// What a file looked like when it was read (`None`: it did not exist).
type Stamp = Option<crate::os::FileStamp>;

struct Entry {
    watched: Vec<(PathBuf, Stamp)>,
    result: Result<Arc<Acl>, AclError>,
}

fn cache() -> &'static Mutex<HashMap<PathBuf, Entry>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Entry>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The ACL at `path`, parsed once and re-read when it (or an included file)
/// changes. Safe to call from many threads; a reload blocks the others for as long
/// as the parse takes. Warnings and errors are logged once per (re)load; callers
/// must fail closed on `Err`.
pub fn load_cached(path: &Path) -> Result<Arc<Acl>, AclError> {
    let mut map = cache()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(entry) = map.get(path)
        && entry
            .watched
            .iter()
            .all(|(p, s)| crate::os::file_stamp(p) == *s)
    {
        return entry.result.clone();
    }
    // Stamps are taken before reading, so a change during the read is seen next time.
    let before: Vec<(PathBuf, Stamp)> = map
        .get(path)
        .map(|e| {
            e.watched
                .iter()
                .map(|(p, _)| (p.clone(), crate::os::file_stamp(p)))
                .collect()
        })
        .unwrap_or_default();
    let main_stamp = crate::os::file_stamp(path);
    let (result, files, dirs) = parse_tracked(path);
    let mut watched: Vec<(PathBuf, Stamp)> = vec![(path.to_path_buf(), main_stamp)];
    for p in files.into_iter().skip(1).chain(dirs) {
        let s = before
            .iter()
            .find(|(q, _)| *q == p)
            .map_or_else(|| crate::os::file_stamp(&p), |(_, s)| *s);
        watched.push((p, s));
    }
    let result = result.map(|parsed| Arc::new(Acl { data: parsed }));
    match &result {
        Ok(acl) => {
            for w in acl.warnings() {
                log::warn!("ACL {w}");
            }
            log::debug!(
                "ACL {}: loaded, {} rules from {} files",
                path.display(),
                acl.rule_count(),
                acl.files().len()
            );
        }
        Err(e) => log::error!("ACL {e} (denying every request until it is fixed)"),
    }
    map.insert(
        path.to_path_buf(),
        Entry {
            watched,
            result: result.clone(),
        },
    );
    result
}

//! The refs of a repository with the files backend, read in-process the way git's
//! ref iterator yields them: loose refs under `refs/` and `packed-refs` merged (a
//! loose ref wins), sorted by name, symbolic refs resolved, and the peeled values
//! `packed-refs` knows.
//!
//! Whatever git would treat specially (a broken ref, a name git rejects, a symlink, a
//! `packed-refs` line it would not parse) is [`Unsupported`], so that the caller lets
//! git answer instead of guessing.

use super::odb::{HashKind, Oid, Unsupported};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn unsupported<T>(what: impl Into<String>) -> Result<T, Unsupported> {
    Err(Unsupported(what.into()))
}

/// A ref as stored (before resolution).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Raw {
    Direct(Oid),
    Symbolic(Vec<u8>),
}

/// What `packed-refs` says about a ref's peeled value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peel {
    /// Known: the peeled id, or None for a ref that is not a tag.
    Known(Option<Oid>),
    /// Not recorded: peel the object.
    Unknown,
}

#[derive(Debug, Clone)]
struct Packed {
    oid: Oid,
    peel: Peel,
}

/// One ref as git's iterator yields it.
#[derive(Debug, Clone)]
pub struct Ref {
    /// Full name (`refs/heads/main`).
    pub name: Vec<u8>,
    /// The object it resolves to.
    pub oid: Oid,
    /// For a symbolic ref, the final ref it resolves through.
    pub symref_target: Option<Vec<u8>>,
    /// The peeled value when packed-refs knows it (only for a ref read from there).
    pub peel: Peel,
    /// True if the ref exists only in packed-refs (not overridden by a loose file).
    pub packed_only: bool,
}

/// A resolved `HEAD` (or any ref looked up by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The final ref name the chain ends at (itself for a direct ref).
    pub target: Vec<u8>,
    /// Its object, or None for an unborn (missing) final ref.
    pub oid: Option<Oid>,
    /// True if the looked-up ref itself is symbolic.
    pub is_symref: bool,
}

/// The refs of one repository.
pub struct RefStore {
    git_dir: PathBuf,
    kind: HashKind,
    loose: BTreeMap<Vec<u8>, Raw>,
    /// packed-refs in name order (git writes it sorted; a file that is not is
    /// sorted here), searched by bisection: no map of 10,000 names to build.
    packed: Vec<(Vec<u8>, Packed)>,
}

/// git's `SYMREF_MAXDEPTH`.
const SYMREF_MAXDEPTH: usize = 5;

impl RefStore {
    /// Reads every loose ref under `refs/` and `packed-refs`.
    pub fn open(git_dir: &Path, kind: HashKind) -> Result<RefStore, Unsupported> {
        let mut store = RefStore {
            git_dir: git_dir.to_path_buf(),
            kind,
            loose: BTreeMap::new(),
            packed: Vec::new(),
        };
        // Loose refs first, then packed-refs, as git does: a concurrent `pack-refs`
        // writes packed-refs before it deletes the loose files, so a ref is never
        // missed.
        let mut name = b"refs".to_vec();
        store.walk(&git_dir.join("refs"), &mut name)?;
        store.read_packed()?;
        Ok(store)
    }

    fn read_packed(&mut self) -> Result<(), Unsupported> {
        let data = match std::fs::read(self.git_dir.join("packed-refs")) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return unsupported(format!("reading packed-refs: {e}")),
        };
        let mut fully_peeled = false;
        let mut peeled_tags = false;
        let mut lines = data.split(|&b| b == b'\n').peekable();
        if let Some(first) = lines.peek()
            && let Some(traits) = first.strip_prefix(b"# pack-refs with:")
        {
            for t in traits.split(|&b| b == b' ') {
                match t {
                    b"fully-peeled" => fully_peeled = true,
                    b"peeled" => peeled_tags = true,
                    _ => {}
                }
            }
            lines.next();
        }
        let hex_len = self.kind.len() * 2;
        let mut sorted = true;
        for line in lines {
            if line.is_empty() {
                continue;
            }
            if let Some(peeled) = line.strip_prefix(b"^") {
                let Some(oid) = Oid::from_hex(peeled, self.kind) else {
                    return unsupported("bad peeled line in packed-refs");
                };
                let Some((_, p)) = self.packed.last_mut() else {
                    return unsupported("peeled line without a ref in packed-refs");
                };
                p.peel = Peel::Known(Some(oid));
                continue;
            }
            if line.len() < hex_len + 2 || line[hex_len] != b' ' {
                return unsupported("bad line in packed-refs");
            }
            let Some(oid) = Oid::from_hex(&line[..hex_len], self.kind) else {
                return unsupported("bad line in packed-refs");
            };
            let name = line[hex_len + 1..].to_vec();
            if !is_safe_refname(&name) {
                return unsupported("unusual ref name in packed-refs");
            }
            let peel = if fully_peeled || (peeled_tags && name.starts_with(b"refs/tags/")) {
                Peel::Known(None)
            } else {
                Peel::Unknown
            };
            if let Some((prev, _)) = self.packed.last()
                && prev.as_slice() >= name.as_slice()
            {
                sorted = false;
            }
            self.packed.push((name, Packed { oid, peel }));
        }
        if !sorted {
            self.packed.sort_by(|a, b| a.0.cmp(&b.0));
        }
        if !sorted && self.packed.windows(2).any(|w| w[0].0 == w[1].0) {
            return unsupported("duplicate ref in packed-refs");
        }
        Ok(())
    }

    /// The packed-refs entry for `name`.
    fn packed(&self, name: &[u8]) -> Option<&Packed> {
        self.packed
            .binary_search_by(|(n, _)| n.as_slice().cmp(name))
            .ok()
            .map(|i| &self.packed[i].1)
    }

    fn walk(&mut self, dir: &Path, name: &mut Vec<u8>) -> Result<(), Unsupported> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return unsupported(format!("reading {}: {e}", dir.display())),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Unsupported(format!("reading refs: {e}")))?;
            let file_name = crate::os::os_to_bytes(entry.file_name());
            if file_name.starts_with(b".") || file_name.ends_with(b".lock") {
                continue;
            }
            let ft = entry
                .file_type()
                .map_err(|e| Unsupported(format!("reading refs: {e}")))?;
            let len = name.len();
            name.push(b'/');
            name.extend_from_slice(&file_name);
            if ft.is_dir() {
                self.walk(&entry.path(), name)?;
            } else if ft.is_file() {
                if !is_safe_refname(name) {
                    return unsupported("unusual loose ref name");
                }
                let raw = self.read_loose_file(&entry.path())?;
                self.loose.insert(name.clone(), raw);
            } else {
                return unsupported("a loose ref that is not a file");
            }
            name.truncate(len);
        }
        Ok(())
    }

    fn read_loose_file(&self, path: &Path) -> Result<Raw, Unsupported> {
        let data =
            std::fs::read(path).map_err(|e| Unsupported(format!("reading a loose ref: {e}")))?;
        parse_loose(&data, self.kind).ok_or_else(|| Unsupported("unparsable loose ref".into()))
    }

    /// A ref by full name: loose (under `refs/` or a root ref like `HEAD`), then
    /// packed. None if it does not exist.
    fn raw(&self, name: &[u8]) -> Result<Option<Raw>, Unsupported> {
        if name.starts_with(b"refs/") {
            if let Some(r) = self.loose.get(name) {
                return Ok(Some(r.clone()));
            }
        } else {
            let path = self.git_dir.join(crate::os::bytes_to_os(name));
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_file() => return Ok(Some(self.read_loose_file(&path)?)),
                Ok(m) if m.is_dir() => return Ok(None),
                Ok(_) => return unsupported("a root ref that is not a file"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return unsupported(format!("reading a ref: {e}")),
            }
        }
        Ok(self.packed(name).map(|p| Raw::Direct(p.oid.clone())))
    }

    /// Resolves `name` through symbolic refs, as git's `refs_resolve_ref_unsafe`
    /// without `RESOLVE_REF_READING`: None if `name` itself does not exist.
    pub fn resolve(&self, name: &[u8]) -> Result<Option<Resolved>, Unsupported> {
        let mut cur = name.to_vec();
        let mut is_symref = false;
        for depth in 0..=SYMREF_MAXDEPTH {
            match self.raw(&cur)? {
                None if depth == 0 => return Ok(None),
                None => {
                    return Ok(Some(Resolved {
                        target: cur,
                        oid: None,
                        is_symref,
                    }));
                }
                Some(Raw::Direct(oid)) => {
                    return Ok(Some(Resolved {
                        target: cur,
                        oid: Some(oid),
                        is_symref,
                    }));
                }
                Some(Raw::Symbolic(t)) => {
                    if !t.starts_with(b"refs/") && t != b"HEAD" {
                        return unsupported("symbolic ref outside refs/");
                    }
                    if !is_safe_refname(&t) {
                        return unsupported("unusual symbolic ref target");
                    }
                    is_symref = true;
                    cur = t;
                }
            }
        }
        unsupported("symbolic ref chain too deep")
    }

    /// Every ref under `refs/`, sorted by name, symbolic ones resolved. A dangling
    /// symbolic ref (which git skips with a warning) is [`Unsupported`].
    pub fn all(&self) -> Result<Vec<Ref>, Unsupported> {
        // Both sources are in name order: merge them, a loose ref hiding the
        // packed one of the same name.
        let mut out = Vec::with_capacity(self.packed.len() + self.loose.len());
        let mut loose = self.loose.iter().peekable();
        let mut packed = self.packed.iter().peekable();
        loop {
            let take_loose = match (loose.peek(), packed.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((l, _)), Some((p, _))) => {
                    if l.as_slice() == p.as_slice() {
                        packed.next(); // hidden by the loose ref
                    }
                    l.as_slice() <= p.as_slice()
                }
            };
            if !take_loose {
                let Some((name, p)) = packed.next() else {
                    break;
                };
                out.push(Ref {
                    name: name.clone(),
                    oid: p.oid.clone(),
                    symref_target: None,
                    peel: p.peel.clone(),
                    packed_only: true,
                });
                continue;
            }
            let Some((name, raw)) = loose.next() else {
                break;
            };
            out.push(match raw {
                Raw::Direct(oid) => Ref {
                    name: name.clone(),
                    oid: oid.clone(),
                    symref_target: None,
                    peel: Peel::Unknown,
                    packed_only: false,
                },
                Raw::Symbolic(_) => {
                    let Some(res) = self.resolve(name)? else {
                        return unsupported("vanished ref");
                    };
                    let Some(oid) = res.oid else {
                        return unsupported("dangling symbolic ref");
                    };
                    Ref {
                        name: name.clone(),
                        oid,
                        symref_target: Some(res.target),
                        peel: Peel::Unknown,
                        packed_only: false,
                    }
                }
            });
        }
        Ok(out)
    }
}

/// A loose ref file's content: `<hex>` then whitespace or end, or `ref: <target>`.
fn parse_loose(data: &[u8], kind: HashKind) -> Option<Raw> {
    if let Some(rest) = data.strip_prefix(b"ref:") {
        let t = rest.trim_ascii();
        if t.is_empty() {
            return None;
        }
        return Some(Raw::Symbolic(t.to_vec()));
    }
    let hex_len = kind.len() * 2;
    let oid = Oid::from_hex(data.get(..hex_len)?, kind)?;
    match data.get(hex_len) {
        None => Some(Raw::Direct(oid)),
        Some(c) if c.is_ascii_whitespace() => Some(Raw::Direct(oid)),
        Some(_) => None,
    }
}

/// A conservative subset of git's `check_refname_format`: names made of common
/// characters, no empty, `.`-led or `.lock` component, no `..` or `@{`. Any other
/// name makes the caller fall back to git, which knows the full rules.
pub fn is_safe_refname(name: &[u8]) -> bool {
    if name.is_empty() || name.ends_with(b"/") || name.ends_with(b".") {
        return false;
    }
    if name.windows(2).any(|w| w == b".." || w == b"@{") {
        return false;
    }
    for component in name.split(|&b| b == b'/') {
        if component.is_empty() || component.starts_with(b".") || component.ends_with(b".lock") {
            return false;
        }
        if !component
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"-_.+@,=%#".contains(&c))
        {
            return false;
        }
    }
    name != b"@"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_contents() {
        let hex = b"0123456789012345678901234567890123456789";
        let mut d = hex.to_vec();
        d.push(b'\n');
        assert!(matches!(
            parse_loose(&d, HashKind::Sha1),
            Some(Raw::Direct(_))
        ));
        d.pop();
        d.push(b'x');
        assert!(parse_loose(&d, HashKind::Sha1).is_none());
        assert_eq!(
            parse_loose(b"ref: refs/heads/main\n", HashKind::Sha1),
            Some(Raw::Symbolic(b"refs/heads/main".to_vec()))
        );
    }

    #[test]
    fn refnames() {
        assert!(is_safe_refname(b"refs/heads/main"));
        assert!(is_safe_refname(b"refs/tags/v1.0-rc1"));
        assert!(!is_safe_refname(b"refs/heads/a..b"));
        assert!(!is_safe_refname(b"refs/heads/.x"));
        assert!(!is_safe_refname(b"refs/heads/x.lock"));
        assert!(!is_safe_refname(b"refs/heads/a b"));
        assert!(!is_safe_refname(b"refs/heads/x@{1}"));
        assert!(!is_safe_refname(b"refs//x"));
    }

    /// packed-refs out of order (git writes it sorted; a hand-edited one may not
    /// be), a peeled line after its ref, a loose ref hiding a packed one: the
    /// merge is in name order, as git's iterator yields it.
    #[test]
    fn packed_and_loose_merge_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let oid = |c: char| c.to_string().repeat(40);
        std::fs::create_dir_all(dir.path().join("refs/heads")).unwrap();
        std::fs::write(
            dir.path().join("packed-refs"),
            format!(
                "# pack-refs with: peeled\n{} refs/tags/v1\n^{}\n{} refs/heads/b\n{} refs/heads/a\n",
                oid('1'),
                oid('2'),
                oid('3'),
                oid('4')
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("refs/heads/b"), format!("{}\n", oid('5'))).unwrap();
        std::fs::write(dir.path().join("refs/heads/c"), format!("{}\n", oid('6'))).unwrap();
        let store = RefStore::open(dir.path(), HashKind::Sha1).unwrap();
        let all = store.all().unwrap();
        let seen: Vec<(String, bool)> = all
            .iter()
            .map(|r| (String::from_utf8_lossy(&r.name).into_owned(), r.packed_only))
            .collect();
        assert_eq!(
            seen,
            [
                ("refs/heads/a".to_string(), true),
                ("refs/heads/b".to_string(), false),
                ("refs/heads/c".to_string(), false),
                ("refs/tags/v1".to_string(), true),
            ]
        );
        assert_eq!(
            all[1].oid,
            Oid::from_hex(oid('5').as_bytes(), HashKind::Sha1).unwrap()
        );
        let two = Oid::from_hex(oid('2').as_bytes(), HashKind::Sha1);
        assert!(matches!(&all[3].peel, Peel::Known(p) if *p == two));
        // A duplicate in packed-refs: not modelled, git answers.
        std::fs::write(
            dir.path().join("packed-refs"),
            format!(
                "{} refs/heads/z\n{} refs/heads/a\n{} refs/heads/z\n",
                oid('1'),
                oid('1'),
                oid('1')
            ),
        )
        .unwrap();
        assert!(RefStore::open(dir.path(), HashKind::Sha1).is_err());
    }
}

//! Just enough of a git object database to advertise refs in-process: whether an
//! object exists, its type, and the target of an annotated tag.
//!
//! Objects are looked up loose (`objects/xx/…`, inflated only as far as the header, or
//! whole for a tag) and in pack index version 2 files (binary search in a memory map,
//! then the entry header in the pack, following delta bases for the type). Anything
//! outside that (an index of another version, a deltified tag, a damaged entry) is
//! [`Unsupported`]: the caller then lets git answer instead.
//!
//! ```no_run
//! # use git_http_backend_rs::service::odb::{Odb, HashKind};
//! let odb = Odb::open(std::path::Path::new("/srv/git/r.git/objects"), HashKind::Sha1)?;
//! # Ok::<(), git_http_backend_rs::service::odb::Unsupported>(())
//! ```

use crate::os::Mmap;
use flate2::{Decompress, FlushDecompress, Status};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Something this reader does not model; the caller falls back to git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn unsupported<T>(what: impl Into<String>) -> Result<T, Unsupported> {
    Err(Unsupported(what.into()))
}

/// The repository's object format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashKind {
    /// SHA-1, 20 bytes.
    Sha1,
    /// SHA-256, 32 bytes.
    Sha256,
}

impl HashKind {
    /// Raw length in bytes.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(self) -> usize {
        match self {
            HashKind::Sha1 => 20,
            HashKind::Sha256 => 32,
        }
    }

    /// git's name for it (`object-format=`).
    pub fn name(self) -> &'static str {
        match self {
            HashKind::Sha1 => "sha1",
            HashKind::Sha256 => "sha256",
        }
    }
}

/// An object id (raw bytes, 20 or 32 of them), held inline: a ref list of 10,000
/// refs costs no allocation per id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Oid {
    len: u8,
    bytes: [u8; 32],
}

impl std::hash::Hash for Oid {
    /// The first 8 bytes: an id is already a uniform hash, so hashing all of it
    /// (sets of 10,000 ids are built per advertisement) buys nothing.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut head = [0u8; 8];
        head.copy_from_slice(&self.bytes[..8]);
        state.write_u64(u64::from_le_bytes(head));
    }
}

impl std::fmt::Debug for Oid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Oid({})", self.to_hex())
    }
}

impl Oid {
    /// An id from its raw bytes (20 or 32 of them); None for another length.
    pub fn from_bytes(raw: &[u8]) -> Option<Oid> {
        if raw.len() != 20 && raw.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 32];
        bytes[..raw.len()].copy_from_slice(raw);
        Some(Oid {
            len: raw.len() as u8,
            bytes,
        })
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// Parses lowercase or uppercase hex of exactly `kind`'s length.
    pub fn from_hex(hex: &[u8], kind: HashKind) -> Option<Oid> {
        if hex.len() != kind.len() * 2 {
            return None;
        }
        /// Hex digit values; 0xff for a byte that is no hex digit.
        const VALUE: [u8; 256] = {
            let mut t = [0xffu8; 256];
            let mut i = 0;
            while i < 10 {
                t[b'0' as usize + i] = i as u8;
                i += 1;
            }
            let mut i = 0;
            while i < 6 {
                t[b'a' as usize + i] = 10 + i as u8;
                t[b'A' as usize + i] = 10 + i as u8;
                i += 1;
            }
            t
        };
        let mut bytes = [0u8; 32];
        for (out, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
            let (h, l) = (VALUE[pair[0] as usize], VALUE[pair[1] as usize]);
            if (h | l) == 0xff {
                return None;
            }
            *out = h << 4 | l;
        }
        Some(Oid {
            len: kind.len() as u8,
            bytes,
        })
    }

    /// Lowercase hex, as git prints it.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(self.len as usize * 2);
        for &b in self.as_bytes() {
            s.push(DIGITS[(b >> 4) as usize] as char);
            s.push(DIGITS[(b & 15) as usize] as char);
        }
        s
    }

    /// True for the all-zero id.
    pub fn is_null(&self) -> bool {
        self.as_bytes().iter().all(|&b| b == 0)
    }
}

/// An object's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// commit
    Commit,
    /// tree
    Tree,
    /// blob
    Blob,
    /// tag
    Tag,
}

impl Kind {
    fn from_name(name: &[u8]) -> Option<Kind> {
        match name {
            b"commit" => Some(Kind::Commit),
            b"tree" => Some(Kind::Tree),
            b"blob" => Some(Kind::Blob),
            b"tag" => Some(Kind::Tag),
            _ => None,
        }
    }
}

struct Pack {
    idx: Mmap,
    pack: Mmap,
    count: usize,
}

/// The object database of one repository (no alternates: the caller falls back
/// when there are any).
pub struct Odb {
    objects: PathBuf,
    kind: HashKind,
    packs: Vec<Pack>,
}

/// Where an object was found.
enum Location<'a> {
    Loose(PathBuf),
    Packed(&'a Pack, usize),
}

impl Odb {
    /// Opens the object directory `objects` (maps every `pack/*.idx` with its pack).
    pub fn open(objects: &Path, kind: HashKind) -> Result<Odb, Unsupported> {
        let mut packs = Vec::new();
        let dir = objects.join("pack");
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Odb {
                    objects: objects.to_path_buf(),
                    kind,
                    packs,
                });
            }
            Err(e) => return unsupported(format!("reading {}: {e}", dir.display())),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Unsupported(format!("reading pack dir: {e}")))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(stem) = name.strip_suffix(".idx") else {
                continue;
            };
            if !stem.starts_with("pack-") {
                continue;
            }
            let pack_path = dir.join(format!("{stem}.pack"));
            let (Ok(idx_file), Ok(pack_file)) = (File::open(entry.path()), File::open(&pack_path))
            else {
                // git ignores an index without its pack.
                continue;
            };
            let idx = Mmap::map(&idx_file).map_err(|e| Unsupported(format!("map idx: {e}")))?;
            let pack = Mmap::map(&pack_file).map_err(|e| Unsupported(format!("map pack: {e}")))?;
            let count = check_idx(&idx, kind)?;
            if pack.len() < 12 + kind.len() || &pack[..4] != b"PACK" {
                return unsupported(format!("bad pack {}", pack_path.display()));
            }
            packs.push(Pack { idx, pack, count });
        }
        Ok(Odb {
            objects: objects.to_path_buf(),
            kind,
            packs,
        })
    }

    /// An object database with nothing in it (for views that read no objects).
    pub fn empty(kind: HashKind) -> Odb {
        Odb {
            objects: PathBuf::new(),
            kind,
            packs: Vec::new(),
        }
    }

    fn locate(&self, oid: &Oid) -> Option<Location<'_>> {
        for p in &self.packs {
            if let Some(i) = idx_find(p, oid.as_bytes(), self.kind) {
                return Some(Location::Packed(p, i));
            }
        }
        let hex = oid.to_hex();
        let path = self.objects.join(&hex[..2]).join(&hex[2..]);
        if path.is_file() {
            return Some(Location::Loose(path));
        }
        None
    }

    /// True if the object exists.
    pub fn contains(&self, oid: &Oid) -> bool {
        self.locate(oid).is_some()
    }

    /// The object's type; `Ok(None)` if it does not exist.
    pub fn kind(&self, oid: &Oid) -> Result<Option<Kind>, Unsupported> {
        match self.locate(oid) {
            None => Ok(None),
            Some(Location::Loose(path)) => {
                let (kind, _) = read_loose(&path)?;
                Ok(Some(kind))
            }
            Some(Location::Packed(pack, i)) => {
                let offset = idx_offset(pack, i, self.kind)?;
                Ok(Some(self.packed_kind(pack, offset, 0)?))
            }
        }
    }

    fn packed_kind(&self, pack: &Pack, offset: u64, depth: u32) -> Result<Kind, Unsupported> {
        if depth > 10_000 {
            return unsupported("delta chain too long");
        }
        let h = entry_header(&pack.pack, offset, self.kind)?;
        match h.kind {
            1 => Ok(Kind::Commit),
            2 => Ok(Kind::Tree),
            3 => Ok(Kind::Blob),
            4 => Ok(Kind::Tag),
            6 => self.packed_kind(pack, h.base_offset, depth + 1),
            7 => {
                let base = h
                    .base_oid
                    .ok_or_else(|| Unsupported("bad pack entry".into()))?;
                match self.locate(&base) {
                    Some(Location::Packed(p, i)) => {
                        let off = idx_offset(p, i, self.kind)?;
                        self.packed_kind(p, off, depth + 1)
                    }
                    Some(Location::Loose(path)) => Ok(read_loose(&path)?.0),
                    None => unsupported("missing delta base"),
                }
            }
            k => unsupported(format!("pack entry type {k}")),
        }
    }

    /// The target of the tag `oid` (`object` line) if it is a tag, else None.
    ///
    /// git peels with `parse_object`, which reads the whole tag, checks its hash and
    /// its `object` and `type` lines, and gives up on the tag if any is wrong (it
    /// then advertises no peeled line, or dies on a damaged object). Only a tag
    /// that passes all of those is peeled here; any other is [`Unsupported`], so
    /// git answers for it.
    fn tag_target(&self, oid: &Oid) -> Result<Option<Oid>, Unsupported> {
        let body = match self.locate(oid) {
            None => return unsupported("missing object while peeling"),
            Some(Location::Loose(path)) => {
                // The header first: a ref to a large loose blob reads 4 KiB of it.
                if read_loose(&path)?.0 != Kind::Tag {
                    return Ok(None);
                }
                read_loose_tag(&path)?
            }
            Some(Location::Packed(pack, i)) => {
                let offset = idx_offset(pack, i, self.kind)?;
                let h = entry_header(&pack.pack, offset, self.kind)?;
                match h.kind {
                    4 => inflate_exact(&pack.pack[h.data_start..], h.size, false)?,
                    1..=3 => return Ok(None),
                    _ => {
                        if self.packed_kind(pack, offset, 0)? != Kind::Tag {
                            return Ok(None);
                        }
                        return unsupported("deltified tag");
                    }
                }
            }
        };
        if object_id(self.kind, b"tag", &body).as_bytes() != oid.as_bytes() {
            return unsupported("tag object does not match its name");
        }
        // git's parse_tag_buffer: `object <hex>\n`, `type <type>\n`, then anything.
        let hex_len = self.kind.len() * 2;
        if body.len() < hex_len + 24 {
            return unsupported("malformed tag");
        }
        let Some(rest) = body.strip_prefix(b"object ") else {
            return unsupported("tag without object line");
        };
        if rest[hex_len] != b'\n' {
            return unsupported("malformed tag");
        }
        let Some(target) = Oid::from_hex(&rest[..hex_len], self.kind) else {
            return unsupported("malformed tag");
        };
        let Some(ty) = rest[hex_len + 1..].strip_prefix(b"type ") else {
            return unsupported("tag without type line");
        };
        let Some(nl) = ty.iter().position(|&b| b == b'\n') else {
            return unsupported("malformed tag");
        };
        let Some(declared) = Kind::from_name(&ty[..nl]) else {
            return unsupported("tag with an unknown type");
        };
        // Then a `tag <name>\n` line: git refuses a tag without one.
        let after = &ty[nl + 1..];
        if after.len() <= 4 || !after.starts_with(b"tag ") || !after[4..].contains(&b'\n') {
            return unsupported("tag without tag line");
        }
        match self.kind(&target)? {
            None => unsupported("tag points to a missing object"),
            // git looks the target up as the declared type; what it does when the
            // object is of another type depends on what it read before.
            Some(actual) if actual != declared => unsupported("tag type does not match its object"),
            Some(_) => Ok(Some(target)),
        }
    }

    /// git's `peel_object`: None if `oid` is not a tag, else the first non-tag it
    /// points to (through tags of tags).
    pub fn peel(&self, oid: &Oid) -> Result<Option<Oid>, Unsupported> {
        let mut cur = *oid;
        let mut peeled = false;
        for _ in 0..1000 {
            match self.tag_target(&cur)? {
                None => return Ok(if peeled { Some(cur) } else { None }),
                Some(next) => {
                    cur = next;
                    peeled = true;
                }
            }
        }
        unsupported("tag chain too long")
    }
}

/// Checks an index version 2 header; returns the object count.
fn check_idx(idx: &[u8], kind: HashKind) -> Result<usize, Unsupported> {
    if idx.len() < 8 + 1024 || idx[..4] != [0xff, b't', b'O', b'c'] || idx[4..8] != [0, 0, 0, 2] {
        return unsupported("pack index is not version 2");
    }
    let count = be32(&idx[8 + 255 * 4..]) as usize;
    let need = 8 + 1024 + count * (kind.len() + 4 + 4) + 2 * kind.len();
    if idx.len() < need {
        return unsupported("truncated pack index");
    }
    Ok(count)
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn idx_find(pack: &Pack, oid: &[u8], kind: HashKind) -> Option<usize> {
    let idx = &pack.idx[..];
    let first = oid[0] as usize;
    let lo = if first == 0 {
        0
    } else {
        be32(&idx[8 + (first - 1) * 4..]) as usize
    };
    let hi = be32(&idx[8 + first * 4..]) as usize;
    let names = &idx[8 + 1024..8 + 1024 + pack.count * kind.len()];
    let (mut lo, mut hi) = (lo, hi.min(pack.count));
    while lo < hi {
        let mid = (lo + hi) / 2;
        let name = &names[mid * kind.len()..(mid + 1) * kind.len()];
        match name.cmp(oid) {
            std::cmp::Ordering::Equal => return Some(mid),
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
        }
    }
    None
}

fn idx_offset(pack: &Pack, i: usize, kind: HashKind) -> Result<u64, Unsupported> {
    let idx = &pack.idx[..];
    let base = 8 + 1024 + pack.count * (kind.len() + 4);
    let off = be32(&idx[base + i * 4..]);
    if off & 0x8000_0000 == 0 {
        return Ok(off as u64);
    }
    let large = base + pack.count * 4 + (off & 0x7fff_ffff) as usize * 8;
    match idx.get(large..large + 8) {
        Some(b) => Ok(u64::from_be_bytes(b.try_into().expect("8 bytes"))),
        None => unsupported("bad large offset"),
    }
}

struct EntryHeader {
    kind: u8,
    size: usize,
    data_start: usize,
    base_offset: u64,
    base_oid: Option<Oid>,
}

fn entry_header(pack: &[u8], offset: u64, kind: HashKind) -> Result<EntryHeader, Unsupported> {
    let bad = || Unsupported("bad pack entry".into());
    let mut pos = usize::try_from(offset).map_err(|_| bad())?;
    let mut c = *pack.get(pos).ok_or_else(bad)?;
    pos += 1;
    let t = (c >> 4) & 7;
    let mut size = (c & 15) as usize;
    let mut shift = 4;
    while c & 0x80 != 0 {
        c = *pack.get(pos).ok_or_else(bad)?;
        pos += 1;
        if shift > 56 {
            return Err(bad());
        }
        size |= ((c & 0x7f) as usize) << shift;
        shift += 7;
    }
    let mut h = EntryHeader {
        kind: t,
        size,
        data_start: pos,
        base_offset: 0,
        base_oid: None,
    };
    match t {
        6 => {
            let mut c = *pack.get(pos).ok_or_else(bad)?;
            pos += 1;
            let mut rel = (c & 0x7f) as u64;
            while c & 0x80 != 0 {
                c = *pack.get(pos).ok_or_else(bad)?;
                pos += 1;
                rel = ((rel + 1) << 7) | (c & 0x7f) as u64;
            }
            h.base_offset = offset.checked_sub(rel).ok_or_else(bad)?;
            h.data_start = pos;
        }
        7 => {
            h.base_oid = Some(
                Oid::from_bytes(pack.get(pos..pos + kind.len()).ok_or_else(bad)?)
                    .ok_or_else(bad)?,
            );
            h.data_start = pos + kind.len();
        }
        _ => {}
    }
    Ok(h)
}

/// Inflates at most `limit` bytes (and at most `size`) of a zlib stream.
fn inflate_prefix(data: &[u8], size: usize, limit: usize) -> Result<Vec<u8>, Unsupported> {
    thread_local! {
        /// One inflate state per thread, reset for each object: a new one costs
        /// a ~40 KiB allocation (and its page faults), and an advertisement reads
        /// the header of every ref's object to find the tags.
        static Z: std::cell::RefCell<Decompress> = std::cell::RefCell::new(Decompress::new(true));
    }
    Z.with(|z| {
        let mut z = z.borrow_mut();
        z.reset(true);
        inflate_with(&mut z, data, size, limit)
    })
}

fn inflate_with(
    z: &mut Decompress,
    data: &[u8],
    size: usize,
    limit: usize,
) -> Result<Vec<u8>, Unsupported> {
    let want = size.min(limit);
    let mut out = Vec::with_capacity(want.min(1 << 20));
    let mut buf = [0u8; 8192];
    loop {
        let in_before = z.total_in() as usize;
        let out_before = z.total_out();
        let status = z
            .decompress(
                &data[in_before.min(data.len())..],
                &mut buf,
                FlushDecompress::None,
            )
            .map_err(|e| Unsupported(format!("inflate: {e}")))?;
        let produced = (z.total_out() - out_before) as usize;
        out.extend_from_slice(&buf[..produced]);
        if out.len() >= want || status == Status::StreamEnd {
            out.truncate(want);
            return Ok(out);
        }
        if produced == 0 && z.total_in() as usize == in_before {
            return unsupported("truncated zlib stream");
        }
    }
}

/// The largest tag peeled in-process (git peels larger ones).
const MAX_TAG: usize = 1 << 20;

/// Inflates a whole zlib stream that must hold exactly `size` bytes; with
/// `whole_input`, nothing may follow the stream (a loose object file).
fn inflate_exact(data: &[u8], size: usize, whole_input: bool) -> Result<Vec<u8>, Unsupported> {
    if size > MAX_TAG {
        return unsupported("large tag");
    }
    let mut z = Decompress::new(true);
    // One byte of room past `size` tells a longer stream from an exact one.
    let mut out = Vec::with_capacity(size + 1);
    loop {
        let in_before = z.total_in() as usize;
        let out_before = out.len();
        let status = z
            .decompress_vec(
                &data[in_before.min(data.len())..],
                &mut out,
                FlushDecompress::None,
            )
            .map_err(|e| Unsupported(format!("inflate: {e}")))?;
        if status == Status::StreamEnd {
            break;
        }
        if out.len() > size {
            return unsupported("object longer than its header says");
        }
        if out.len() == out_before && z.total_in() as usize == in_before {
            return unsupported("truncated zlib stream");
        }
    }
    if out.len() != size || (whole_input && z.total_in() as usize != data.len()) {
        return unsupported("object size or stream end does not match");
    }
    Ok(out)
}

/// The whole body of the loose tag at `path`, checked as git checks a loose object
/// it reads: a complete zlib stream (its checksum included), nothing after it, a
/// body as long as the header says.
fn read_loose_tag(path: &Path) -> Result<Vec<u8>, Unsupported> {
    use std::io::Read;
    let mut data = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_TAG as u64 + 1).read_to_end(&mut data))
        .map_err(|e| Unsupported(format!("reading object: {e}")))?;
    if data.len() > MAX_TAG {
        return unsupported("large tag");
    }
    // The header is at most "tag " and 20 digits and a NUL.
    let head = inflate_prefix(&data, usize::MAX, 32)?;
    let nul = head
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| Unsupported("bad loose object header".into()))?;
    // git's parse_loose_header: decimal digits only, no leading zero.
    let size = head[..nul]
        .strip_prefix(b"tag ")
        .filter(|d| !d.is_empty() && d.iter().all(u8::is_ascii_digit))
        .filter(|d| d[0] != b'0' || d.len() == 1)
        .and_then(|d| std::str::from_utf8(d).ok()?.parse::<usize>().ok())
        .ok_or_else(|| Unsupported("bad loose object header".into()))?;
    let mut all = inflate_exact(&data, nul + 1 + size, true)?;
    all.drain(..nul + 1);
    Ok(all)
}

/// The object id of an object of type `kind` with `body`.
fn object_id(hash: HashKind, kind: &[u8], body: &[u8]) -> Oid {
    let header = format!("{} {}\0", String::from_utf8_lossy(kind), body.len());
    let digest: Vec<u8> = match hash {
        HashKind::Sha1 => {
            use sha1::Digest;
            let mut h = sha1::Sha1::new();
            h.update(header.as_bytes());
            h.update(body);
            h.finalize().to_vec()
        }
        HashKind::Sha256 => {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            h.update(header.as_bytes());
            h.update(body);
            h.finalize().to_vec()
        }
    };
    Oid::from_bytes(&digest).expect("a digest is an object id")
}

/// A loose object's type and the start of its body (at least the first 192
/// bytes, enough for a tag's `object` line). Only the first 4 KiB of the file are
/// read: a ref to a large loose blob costs one small read, not the blob.
fn read_loose(path: &Path) -> Result<(Kind, Vec<u8>), Unsupported> {
    use std::io::Read;
    let mut data = Vec::with_capacity(4096);
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut data))
        .map_err(|e| Unsupported(format!("reading object: {e}")))?;
    let raw = inflate_prefix(&data, usize::MAX, 256)?;
    let nul = raw
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| Unsupported("bad loose object header".into()))?;
    let header = &raw[..nul];
    let space = header
        .iter()
        .position(|&b| b == b' ')
        .ok_or_else(|| Unsupported("bad loose object header".into()))?;
    let kind = Kind::from_name(&header[..space])
        .ok_or_else(|| Unsupported("unknown loose object type".into()))?;
    Ok((kind, raw[nul + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a loose object stored without compression (the file is as large as
    /// the object) under `hex`; returns its path.
    fn write_loose(dir: &Path, hex: &str, content: &[u8]) -> PathBuf {
        use std::io::Write;
        let d = dir.join(&hex[..2]);
        std::fs::create_dir_all(&d).unwrap();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::none());
        z.write_all(content).unwrap();
        let path = d.join(&hex[2..]);
        std::fs::write(&path, z.finish().unwrap()).unwrap();
        path
    }

    /// Writes a loose object under its real id; returns the id.
    fn put(dir: &Path, kind: &str, body: &[u8]) -> Oid {
        let id = object_id(HashKind::Sha1, kind.as_bytes(), body);
        let mut content = format!("{kind} {}\0", body.len()).into_bytes();
        content.extend_from_slice(body);
        write_loose(dir, &id.to_hex(), &content);
        id
    }

    /// Peeling a ref to a large loose blob reads the start of the file only; a
    /// loose tag still peels.
    #[test]
    fn loose_objects_are_read_only_as_far_as_needed() {
        let dir = tempfile::tempdir().unwrap();
        let blob = put(dir.path(), "blob", &vec![b'x'; 8 << 20]);
        let hex = blob.to_hex();
        let tag = put(
            dir.path(),
            "tag",
            format!("object {hex}\ntype blob\ntag v1\n\nmessage").as_bytes(),
        );
        let path = dir.path().join(&hex[..2]).join(&hex[2..]);
        let (kind, start) = read_loose(&path).unwrap();
        assert_eq!(kind, Kind::Blob);
        assert!(start.len() < 4096, "read {} bytes", start.len());
        let odb = Odb::open(dir.path(), HashKind::Sha1).unwrap();
        assert_eq!(odb.peel(&blob).unwrap(), None);
        assert_eq!(odb.peel(&tag).unwrap(), Some(blob));
    }

    /// A tag git would not peel (or would die on) is left to git: a name that is
    /// not its hash, a type line that is missing, unknown or not the target's type,
    /// a damaged stream (also past the first 4 KiB), a size that does not match.
    #[test]
    fn tags_git_would_not_peel_are_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let commit = put(
            d,
            "commit",
            b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n",
        );
        let hex = commit.to_hex();
        let good = format!("object {hex}\ntype commit\ntag v\n\n{}", "m".repeat(8000));
        let good_id = put(d, "tag", good.as_bytes());
        let mut cases: Vec<(&str, Oid)> = Vec::new();
        // Stored under another name.
        let path = d.join(&good_id.to_hex()[..2]).join(&good_id.to_hex()[2..]);
        let renamed = "3".repeat(40);
        std::fs::create_dir_all(d.join("33")).unwrap();
        std::fs::copy(&path, d.join("33").join(&renamed[2..])).unwrap();
        let id = |h: &str| Oid::from_hex(h.as_bytes(), HashKind::Sha1).unwrap();
        cases.push(("renamed", id(&renamed)));
        for (what, body) in [
            ("no type", format!("object {hex}\ntag v\n\nmessage message")),
            (
                "bad type",
                format!("object {hex}\ntype cheese\ntag v\n\nmessage"),
            ),
            (
                "wrong type",
                format!("object {hex}\ntype blob\ntag v\n\nmessage"),
            ),
            ("short", format!("object {hex}\n")),
            (
                "no tag line",
                format!("object {hex}\ntype commit\n\nmessage message"),
            ),
            (
                "tag line without newline",
                format!("object {hex}\ntype commit\ntag v1"),
            ),
        ] {
            cases.push((what, put(d, "tag", body.as_bytes())));
        }
        // Its name is the hash of `tag N\0...`, its header says `tag +N`.
        let body = format!("object {hex}\ntype commit\ntag v\n\nplus");
        let plus = object_id(HashKind::Sha1, b"tag", body.as_bytes());
        let mut content = format!("tag +{}\0", body.len()).into_bytes();
        content.extend_from_slice(body.as_bytes());
        write_loose(d, &plus.to_hex(), &content);
        cases.push(("header with a plus", plus));
        // A damaged stream after the first 4 KiB: one byte of the stored message
        // (the checksum no longer matches), then the file cut short.
        let mut data = std::fs::read(&path).unwrap();
        let n = data.len();
        data[n - 100] ^= 1;
        let bad = "4".repeat(40);
        write_raw(d, &bad, &data);
        cases.push(("bad checksum", id(&bad)));
        let cut = "5".repeat(40);
        write_raw(d, &cut, &std::fs::read(&path).unwrap()[..n - 10]);
        cases.push(("truncated", id(&cut)));
        let mut long = std::fs::read(&path).unwrap();
        long.extend_from_slice(b"garbage");
        let garbage = "6".repeat(40);
        write_raw(d, &garbage, &long);
        cases.push(("garbage after the stream", id(&garbage)));
        let odb = Odb::open(d, HashKind::Sha1).unwrap();
        assert_eq!(odb.peel(&good_id).unwrap(), Some(commit));
        for (what, oid) in cases {
            assert!(odb.peel(&oid).is_err(), "{what}");
        }
    }

    fn write_raw(dir: &Path, hex: &str, data: &[u8]) {
        let d = dir.join(&hex[..2]);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(&hex[2..]), data).unwrap();
    }

    #[test]
    fn hex_round_trip() {
        let o = Oid::from_hex(b"00ff10aa00ff10aa00ff10aa00ff10aa00ff10aa", HashKind::Sha1).unwrap();
        assert_eq!(o.to_hex(), "00ff10aa00ff10aa00ff10aa00ff10aa00ff10aa");
        assert!(Oid::from_hex(b"zz", HashKind::Sha1).is_none());
        let upper = Oid::from_hex(b"00FF10AA00FF10AA00FF10AA00FF10AA00FF10AA", HashKind::Sha1);
        assert_eq!(upper, Some(o));
        for bad in [b'g', b'G', b' ', b'/', b':', b'@', b'`', 0xff, 0] {
            let mut hex = *b"00ff10aa00ff10aa00ff10aa00ff10aa00ff10aa";
            hex[17] = bad;
            assert!(Oid::from_hex(&hex, HashKind::Sha1).is_none(), "{bad}");
        }
        assert!(!o.is_null());
        assert!(Oid::from_bytes(&[0; 32]).unwrap().is_null());
    }
}

//! pkt-line framing (gitprotocol-common(5)): a 4-hex-digit length that counts
//! itself, then data; `0000` is a flush, `0001` a delimiter, `0002` a response end.
//!
//! ```
//! use git_http_backend_rs::pktline::{encode, read_pkt, Pkt};
//! assert_eq!(encode(b"# service=git-upload-pack\n"), b"001e# service=git-upload-pack\n");
//! let mut input = &b"0009abcd\n0000"[..];
//! assert_eq!(read_pkt(&mut input).unwrap(), Some(Pkt::Data(b"abcd\n".to_vec())));
//! assert_eq!(read_pkt(&mut input).unwrap(), Some(Pkt::Flush));
//! assert_eq!(read_pkt(&mut input).unwrap(), None);
//! ```

use std::io::{self, Read};

/// The largest pkt-line, length prefix included.
pub const MAX_PKT_LEN: usize = 65520;
/// A flush packet.
pub const FLUSH: &[u8; 4] = b"0000";

/// One packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pkt {
    /// `0000`: end of a section or message.
    Flush,
    /// `0001`: separates sections (protocol v2).
    Delim,
    /// `0002`: end of a stateless response (protocol v2).
    ResponseEnd,
    /// A data line (payload without the length prefix).
    Data(Vec<u8>),
}

/// Frames `data` as one pkt-line. Panics if it exceeds [`MAX_PKT_LEN`] - 4 bytes,
/// which is a programming error (callers frame short, fixed strings).
pub fn encode(data: &[u8]) -> Vec<u8> {
    assert!(data.len() + 4 <= MAX_PKT_LEN, "pkt-line too long");
    let mut out = format!("{:04x}", data.len() + 4).into_bytes();
    out.extend_from_slice(data);
    out
}

fn read_full_or_eof(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "stream ended inside a pkt-line",
                ));
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// The length prefix as git's `packet_length` reads it: exactly four hex digits
/// (either case). A sign, as `from_str_radix` would take, is not a digit.
fn parse_len(len: &[u8; 4]) -> Option<usize> {
    len.iter().try_fold(0usize, |n, &c| {
        Some(n << 4 | (c as char).to_digit(16)? as usize)
    })
}

/// Reads one packet; `None` at a clean end of stream.
pub fn read_pkt(r: &mut dyn Read) -> io::Result<Option<Pkt>> {
    let mut len = [0u8; 4];
    if !read_full_or_eof(r, &mut len)? {
        return Ok(None);
    }
    let n = parse_len(&len).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad pkt-line length {:?}", String::from_utf8_lossy(&len)),
        )
    })?;
    match n {
        0 => Ok(Some(Pkt::Flush)),
        1 => Ok(Some(Pkt::Delim)),
        2 => Ok(Some(Pkt::ResponseEnd)),
        3 => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad pkt-line length 3",
        )),
        n if n > MAX_PKT_LEN => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("pkt-line length {n} over the maximum"),
        )),
        n => {
            let mut data = vec![0u8; n - 4];
            if !read_full_or_eof(r, &mut data)? && n > 4 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "stream ended inside a pkt-line",
                ));
            }
            Ok(Some(Pkt::Data(data)))
        }
    }
}

/// One ref update of a push: `<old-id> <new-id> <refname>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    /// The id the client expects the ref to have (all zeros: create).
    pub old_id: String,
    /// The id the ref is to get (all zeros: delete).
    pub new_id: String,
    /// The full ref name.
    pub name: Vec<u8>,
}

/// The command list at the start of a receive-pack request, read before git sees
/// it so that a policy can judge the push.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandList {
    /// The exact bytes read from the body; they are replayed to git unchanged.
    pub raw: Vec<u8>,
    /// The parsed updates, or `None` when the list could not be read whole (not
    /// pkt-line, or longer than the limit); git then judges the bytes itself.
    pub updates: Option<Vec<RefUpdate>>,
    /// The capabilities the client asked for (after the NUL of the first command
    /// line: `report-status side-band-64k ...`), empty if none.
    pub capabilities: Vec<u8>,
}

fn parse_update(line: &[u8]) -> Option<RefUpdate> {
    let line = line.split(|&b| b == 0).next().unwrap_or(line);
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let mut parts = line.splitn(3, |&b| b == b' ');
    let old = parts.next()?;
    let new = parts.next()?;
    let name = parts.next()?;
    let is_id = |s: &[u8]| (s.len() == 40 || s.len() == 64) && s.iter().all(u8::is_ascii_hexdigit);
    (is_id(old) && is_id(new) && !name.is_empty()).then(|| RefUpdate {
        old_id: String::from_utf8_lossy(old).into_owned(),
        new_id: String::from_utf8_lossy(new).into_owned(),
        name: name.to_vec(),
    })
}

/// Reads the command list (up to and including its flush) from a receive-pack
/// request body, keeping every byte read, at most about `limit` bytes. Bytes that
/// are not a command list are kept for git to judge; a body that cannot be read
/// (cut short, bad gzip) is an error.
pub fn read_command_list(r: &mut dyn Read, limit: usize) -> io::Result<CommandList> {
    let mut list = CommandList::default();
    let mut updates = Vec::new();
    loop {
        if list.raw.len() > limit {
            return Ok(list);
        }
        let mut len = [0u8; 4];
        if !read_full_or_eof(r, &mut len)? {
            return Ok(list);
        }
        list.raw.extend_from_slice(&len);
        let n = match parse_len(&len) {
            Some(n) => n,
            None => return Ok(list),
        };
        if n == 0 {
            list.updates = Some(updates);
            return Ok(list);
        }
        if !(4..=MAX_PKT_LEN).contains(&n) {
            return Ok(list);
        }
        let mut data = vec![0u8; n - 4];
        if !read_full_or_eof(r, &mut data)? && n > 4 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "stream ended inside a pkt-line",
            ));
        }
        list.raw.extend_from_slice(&data);
        if updates.is_empty()
            && list.capabilities.is_empty()
            && let Some(nul) = data.iter().position(|&b| b == 0)
        {
            let caps = &data[nul + 1..];
            list.capabilities = caps.strip_suffix(b"\n").unwrap_or(caps).to_vec();
        }
        if let Some(update) = parse_update(&data) {
            updates.push(update);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_packets() {
        let mut input = &b"000000010002"[..];
        assert_eq!(read_pkt(&mut input).unwrap(), Some(Pkt::Flush));
        assert_eq!(read_pkt(&mut input).unwrap(), Some(Pkt::Delim));
        assert_eq!(read_pkt(&mut input).unwrap(), Some(Pkt::ResponseEnd));
    }

    #[test]
    fn malformed() {
        assert!(read_pkt(&mut &b"zzzz"[..]).is_err());
        assert!(read_pkt(&mut &b"0003"[..]).is_err());
        assert!(read_pkt(&mut &b"000aab"[..]).is_err());
        assert!(read_pkt(&mut &b"00"[..]).is_err());
        assert!(read_pkt(&mut &b"ffff"[..]).is_err());
        // Found by fuzzing: `from_str_radix` takes a sign, git does not.
        assert!(read_pkt(&mut &b"+004O"[..]).is_err());
        assert!(read_pkt(&mut &b"-000"[..]).is_err());
        assert_eq!(
            read_pkt(&mut &b"000Aabcdef"[..]).unwrap(),
            Some(Pkt::Data(b"abcdef".to_vec()))
        );
        assert_eq!(
            read_pkt(&mut &b"0004"[..]).unwrap(),
            Some(Pkt::Data(vec![]))
        );
    }

    #[test]
    fn command_list() {
        let z = "0".repeat(40);
        let a = "a".repeat(40);
        let mut body =
            encode(format!("{z} {a} refs/heads/new\0report-status side-band-64k\n").as_bytes());
        body.extend(encode(format!("{a} {z} refs/heads/old\n").as_bytes()));
        body.extend_from_slice(FLUSH);
        body.extend_from_slice(b"PACK....");
        let mut r = &body[..];
        let list = read_command_list(&mut r, 1 << 20).unwrap();
        let updates = list.updates.unwrap();
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[0].name, b"refs/heads/new");
        assert_eq!(updates[1].new_id, z);
        assert_eq!(list.capabilities, b"report-status side-band-64k");
        assert_eq!(list.raw, &body[..body.len() - 8]);
        assert_eq!(r, b"PACK....");
    }

    #[test]
    fn command_list_garbage_is_kept() {
        let mut r = &b"hello world"[..];
        let list = read_command_list(&mut r, 100).unwrap();
        assert_eq!(list.updates, None);
        assert_eq!(list.raw, b"hell");
    }
}

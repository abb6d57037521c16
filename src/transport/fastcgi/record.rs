//! The FastCGI 1.0 record codec: pure functions over bytes, no I/O.
//!
//! A record is an 8-byte header (version, type, request id, content length, padding
//! length, reserved), the content and the padding. [`decode`] looks at a byte slice
//! and says whether it starts with a complete record, needs more bytes, or is garbage;
//! it never panics whatever the input (fuzz it with `decode(&data)`). Name-value pairs
//! (PARAMS, GET_VALUES) are kept as raw bytes: names and values need not be UTF-8.
//!
//! ```
//! use git_http_backend_rs::transport::fastcgi::record::{self, Decoded, RecordType};
//! let mut out = Vec::new();
//! record::encode(RecordType::STDOUT, 1, b"hi", &mut out);
//! assert_eq!(out, [1, 6, 0, 1, 0, 2, 6, 0, b'h', b'i', 0, 0, 0, 0, 0, 0]);
//! match record::decode(&out).unwrap() {
//!     Decoded::Record(r, used) => {
//!         assert_eq!((r.rtype, r.request_id, r.content, used), (RecordType::STDOUT, 1, &b"hi"[..], 16));
//!     }
//!     Decoded::Incomplete => unreachable!(),
//! }
//! ```

use std::fmt;

/// The only protocol version there is.
pub const VERSION_1: u8 = 1;
/// Length of a record header.
pub const HEADER_LEN: usize = 8;
/// The largest content a record can carry.
pub const MAX_CONTENT: usize = 65535;

/// `flags` bit of BEGIN_REQUEST: keep the connection open after the request.
pub const KEEP_CONN: u8 = 1;

/// The responder role, the only one we play.
pub const ROLE_RESPONDER: u16 = 1;
/// The authorizer role.
pub const ROLE_AUTHORIZER: u16 = 2;
/// The filter role.
pub const ROLE_FILTER: u16 = 3;

/// END_REQUEST protocol status: the request completed normally.
pub const REQUEST_COMPLETE: u8 = 0;
/// END_REQUEST protocol status: a second request on a connection we do not multiplex.
pub const CANT_MPX_CONN: u8 = 1;
/// END_REQUEST protocol status: out of resources.
pub const OVERLOADED: u8 = 2;
/// END_REQUEST protocol status: a role we do not play.
pub const UNKNOWN_ROLE: u8 = 3;

/// A record type byte. Unknown values are kept as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordType(pub u8);

impl RecordType {
    /// Starts a request (web server -> application).
    pub const BEGIN_REQUEST: RecordType = RecordType(1);
    /// Aborts a request (web server -> application).
    pub const ABORT_REQUEST: RecordType = RecordType(2);
    /// Ends a request (application -> web server).
    pub const END_REQUEST: RecordType = RecordType(3);
    /// Name-value stream of CGI parameters.
    pub const PARAMS: RecordType = RecordType(4);
    /// Request body stream.
    pub const STDIN: RecordType = RecordType(5);
    /// Reply stream.
    pub const STDOUT: RecordType = RecordType(6);
    /// Error stream.
    pub const STDERR: RecordType = RecordType(7);
    /// Filter data stream.
    pub const DATA: RecordType = RecordType(8);
    /// Management query.
    pub const GET_VALUES: RecordType = RecordType(9);
    /// Management answer.
    pub const GET_VALUES_RESULT: RecordType = RecordType(10);
    /// Management answer to a type we do not know.
    pub const UNKNOWN_TYPE: RecordType = RecordType(11);
}

/// One decoded record, borrowing its content from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The record type.
    pub rtype: RecordType,
    /// The request id (0: a management record).
    pub request_id: u16,
    /// The content, without padding.
    pub content: &'a [u8],
}

/// What [`decode`] found at the start of the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A complete record and the number of bytes it used (header, content, padding).
    Record(Record<'a>, usize),
    /// Not enough bytes yet.
    Incomplete,
}

/// Input that is not FastCGI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The version byte is not 1.
    BadVersion(u8),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::BadVersion(v) => {
                write!(f, "not a FastCGI record (version byte {v}, expected 1)")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes the record at the start of `buf`. Pure: no I/O, no panics.
pub fn decode(buf: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        // A wrong version byte is garbage even before the header is complete.
        return match buf.first() {
            Some(&v) if v != VERSION_1 => Err(DecodeError::BadVersion(v)),
            _ => Ok(Decoded::Incomplete),
        };
    };
    if header[0] != VERSION_1 {
        return Err(DecodeError::BadVersion(header[0]));
    }
    let rtype = RecordType(header[1]);
    let request_id = u16::from_be_bytes([header[2], header[3]]);
    let content_len = u16::from_be_bytes([header[4], header[5]]) as usize;
    let padding = header[6] as usize;
    let total = HEADER_LEN + content_len + padding;
    match buf.get(HEADER_LEN..HEADER_LEN + content_len) {
        Some(content) if buf.len() >= total => Ok(Decoded::Record(
            Record {
                rtype,
                request_id,
                content,
            },
            total,
        )),
        _ => Ok(Decoded::Incomplete),
    }
}

/// The padding that brings `len` content bytes to a multiple of 8.
pub fn padding_for(len: usize) -> usize {
    (8 - len % 8) % 8
}

/// Appends one record with `content` (at most [`MAX_CONTENT`] bytes; longer content is
/// cut there: callers split streams with [`encode_stream`]) padded to a multiple of 8.
pub fn encode(rtype: RecordType, request_id: u16, content: &[u8], out: &mut Vec<u8>) {
    let content = &content[..content.len().min(MAX_CONTENT)];
    let padding = padding_for(content.len());
    let len = content.len() as u16;
    out.reserve(HEADER_LEN + content.len() + padding);
    out.extend_from_slice(&[VERSION_1, rtype.0]);
    out.extend_from_slice(&request_id.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[padding as u8, 0]);
    out.extend_from_slice(content);
    out.extend_from_slice(&[0u8; 8][..padding]);
}

/// Appends `data` as stream records of at most [`MAX_CONTENT`] bytes each (nothing
/// for empty data: the empty record that ends a stream is written explicitly).
pub fn encode_stream(rtype: RecordType, request_id: u16, data: &[u8], out: &mut Vec<u8>) {
    for chunk in data.chunks(MAX_CONTENT) {
        encode(rtype, request_id, chunk, out);
    }
}

/// The body of a BEGIN_REQUEST record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeginRequest {
    /// The role the web server wants (1 responder, 2 authorizer, 3 filter).
    pub role: u16,
    /// The flags byte ([`KEEP_CONN`]).
    pub flags: u8,
}

impl BeginRequest {
    /// Parses the 8-byte body; `None` if it has the wrong length.
    pub fn parse(content: &[u8]) -> Option<BeginRequest> {
        if content.len() != 8 {
            return None;
        }
        Some(BeginRequest {
            role: u16::from_be_bytes([content[0], content[1]]),
            flags: content[2],
        })
    }

    /// True if the web server wants the connection kept open afterwards.
    pub fn keep_conn(&self) -> bool {
        self.flags & KEEP_CONN != 0
    }

    /// The 8-byte body (for clients and tests).
    pub fn to_bytes(&self) -> [u8; 8] {
        let r = self.role.to_be_bytes();
        [r[0], r[1], self.flags, 0, 0, 0, 0, 0]
    }
}

/// The body of an END_REQUEST record: application status and protocol status.
pub fn end_request_body(app_status: u32, protocol_status: u8) -> [u8; 8] {
    let a = app_status.to_be_bytes();
    [a[0], a[1], a[2], a[3], protocol_status, 0, 0, 0]
}

/// The body of an UNKNOWN_TYPE record.
pub fn unknown_type_body(rtype: RecordType) -> [u8; 8] {
    [rtype.0, 0, 0, 0, 0, 0, 0, 0]
}

/// A name-value stream that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairsError {
    /// Where the bad pair starts.
    pub offset: usize,
}

impl fmt::Display for PairsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed name-value pair at byte {} of the stream",
            self.offset
        )
    }
}

impl std::error::Error for PairsError {}

fn read_len(buf: &[u8], pos: &mut usize) -> Option<usize> {
    let first = *buf.get(*pos)?;
    if first & 0x80 == 0 {
        *pos += 1;
        return Some(first as usize);
    }
    let b = buf.get(*pos..*pos + 4)?;
    *pos += 4;
    Some(u32::from_be_bytes([b[0] & 0x7f, b[1], b[2], b[3]]) as usize)
}

/// One name-value pair as raw bytes.
pub type Pair = (Vec<u8>, Vec<u8>);

/// Decodes a complete name-value stream (the concatenated PARAMS or GET_VALUES
/// content) into raw byte pairs, in order.
pub fn decode_pairs(buf: &[u8]) -> Result<Vec<Pair>, PairsError> {
    let mut pairs = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let start = pos;
        let bad = || PairsError { offset: start };
        let name_len = read_len(buf, &mut pos).ok_or_else(bad)?;
        let value_len = read_len(buf, &mut pos).ok_or_else(bad)?;
        let name_end = pos.checked_add(name_len).ok_or_else(bad)?;
        let value_end = name_end.checked_add(value_len).ok_or_else(bad)?;
        let name = buf.get(pos..name_end).ok_or_else(bad)?;
        let value = buf.get(name_end..value_end).ok_or_else(bad)?;
        pairs.push((name.to_vec(), value.to_vec()));
        pos = value_end;
    }
    Ok(pairs)
}

fn write_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let l = (len as u32 & 0x7fff_ffff) | 0x8000_0000;
        out.extend_from_slice(&l.to_be_bytes());
    }
}

/// Appends one name-value pair (1-byte lengths below 128, 4-byte lengths otherwise).
pub fn encode_pair(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    write_len(name.len(), out);
    write_len(value.len(), out);
    out.extend_from_slice(name);
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(buf: &[u8]) -> (Record<'_>, usize) {
        match decode(buf).unwrap() {
            Decoded::Record(r, n) => (r, n),
            Decoded::Incomplete => panic!("incomplete"),
        }
    }

    #[test]
    fn begin_request_vector() {
        // nginx's BEGIN_REQUEST: responder, keep-conn, request id 1.
        let bytes = [1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0];
        let (r, n) = one(&bytes);
        assert_eq!(n, 16);
        assert_eq!(r.rtype, RecordType::BEGIN_REQUEST);
        assert_eq!(r.request_id, 1);
        let b = BeginRequest::parse(r.content).unwrap();
        assert_eq!(b.role, ROLE_RESPONDER);
        assert!(b.keep_conn());
        assert_eq!(b.to_bytes(), r.content);
        assert_eq!(BeginRequest::parse(&[0, 1, 0]), None);
    }

    #[test]
    fn padding_is_skipped_and_produced() {
        // 3 bytes of content, 5 of padding, then the next record's first byte.
        let bytes = [
            1, 5, 0x12, 0x34, 0, 3, 5, 0, b'a', b'b', b'c', 9, 9, 9, 9, 9, 1,
        ];
        let (r, n) = one(&bytes);
        assert_eq!(
            (r.rtype, r.request_id, r.content, n),
            (RecordType::STDIN, 0x1234, &b"abc"[..], 16)
        );
        let mut out = Vec::new();
        encode(RecordType::STDIN, 0x1234, b"abc", &mut out);
        assert_eq!(
            out,
            [
                1, 5, 0x12, 0x34, 0, 3, 5, 0, b'a', b'b', b'c', 0, 0, 0, 0, 0
            ]
        );
        out.clear();
        encode(RecordType::STDOUT, 1, &[7u8; 8], &mut out);
        assert_eq!(out.len(), 16, "no padding for a multiple of 8");
        out.clear();
        encode(RecordType::STDOUT, 1, b"", &mut out);
        assert_eq!(out, [1, 6, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn truncation_is_incomplete_not_an_error() {
        let mut full = Vec::new();
        encode(RecordType::PARAMS, 1, b"hello world", &mut full);
        for cut in 0..full.len() {
            assert_eq!(
                decode(&full[..cut]),
                Ok(Decoded::Incomplete),
                "cut at {cut}"
            );
        }
        assert!(matches!(decode(&full), Ok(Decoded::Record(_, 24))));
    }

    #[test]
    fn garbage_is_an_error() {
        assert_eq!(
            decode(b"GET / HTTP/1.1\r\n"),
            Err(DecodeError::BadVersion(b'G'))
        );
        assert_eq!(decode(b"G"), Err(DecodeError::BadVersion(b'G')));
        assert_eq!(decode(&[0, 1, 0, 1]), Err(DecodeError::BadVersion(0)));
    }

    #[test]
    fn maximal_record_and_stream_split() {
        let data = vec![0xabu8; MAX_CONTENT + 10];
        let mut out = Vec::new();
        encode_stream(RecordType::STDOUT, 2, &data, &mut out);
        let (r, n) = one(&out);
        assert_eq!(r.content.len(), MAX_CONTENT);
        assert_eq!(&out[4..7], &[0xff, 0xff, 1]);
        let (r2, n2) = one(&out[n..]);
        assert_eq!(r2.content.len(), 10);
        assert_eq!(n + n2, out.len());
        assert_eq!((n + n2) % 8, 0);
    }

    #[test]
    fn pairs_with_short_and_long_lengths() {
        // 1-byte lengths.
        let short = [4, 3, b'N', b'A', b'M', b'E', b'v', b'a', b'l'];
        assert_eq!(
            decode_pairs(&short).unwrap(),
            vec![(b"NAME".to_vec(), b"val".to_vec())]
        );
        // 4-byte length for a 200-byte value (0x80 0x00 0x00 0xc8).
        let mut long = vec![1, 0x80, 0, 0, 200, b'X'];
        long.extend_from_slice(&[b'y'; 200]);
        let pairs = decode_pairs(&long).unwrap();
        assert_eq!(pairs[0].0, b"X");
        assert_eq!(pairs[0].1.len(), 200);
        let mut enc = Vec::new();
        encode_pair(b"X", &[b'y'; 200], &mut enc);
        assert_eq!(enc, long);
        // A 4-byte length may also encode a small value.
        let odd = [0x80, 0, 0, 1, 0, b'Z'];
        assert_eq!(
            decode_pairs(&odd).unwrap(),
            vec![(b"Z".to_vec(), Vec::new())]
        );
    }

    #[test]
    fn pairs_keep_non_utf8_bytes() {
        let mut enc = Vec::new();
        encode_pair(b"PATH_INFO", b"/r\xff\xfe.git", &mut enc);
        encode_pair(b"\xc3\x28", b"", &mut enc);
        let pairs = decode_pairs(&enc).unwrap();
        assert_eq!(
            pairs[0],
            (b"PATH_INFO".to_vec(), b"/r\xff\xfe.git".to_vec())
        );
        assert_eq!(pairs[1], (b"\xc3\x28".to_vec(), Vec::new()));
    }

    #[test]
    fn truncated_pairs_are_errors() {
        let mut enc = Vec::new();
        encode_pair(b"A", b"bc", &mut enc);
        encode_pair(b"LONG", &[1u8; 300], &mut enc);
        for cut in 1..enc.len() {
            if cut == 5 {
                continue; // a complete first pair
            }
            assert!(decode_pairs(&enc[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(decode_pairs(&enc[..6]).unwrap_err().offset, 5);
        // A length near 2^31 must not overflow or allocate.
        assert!(decode_pairs(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert_eq!(decode_pairs(b"").unwrap(), Vec::new());
    }

    #[test]
    fn end_request_and_unknown_type_bodies() {
        assert_eq!(
            end_request_body(1, REQUEST_COMPLETE),
            [0, 0, 0, 1, 0, 0, 0, 0]
        );
        assert_eq!(
            end_request_body(0x01020304, UNKNOWN_ROLE),
            [1, 2, 3, 4, 3, 0, 0, 0]
        );
        assert_eq!(unknown_type_body(RecordType(42)), [42, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn decoder_survives_arbitrary_bytes() {
        // A small deterministic fuzz: no input may panic.
        let mut x: u32 = 12345;
        for _ in 0..2000 {
            let mut buf = vec![1u8];
            let len = (x % 40) as usize;
            for _ in 0..len {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                buf.push((x >> 16) as u8);
            }
            let _ = decode(&buf);
            let _ = decode_pairs(&buf);
        }
    }
}

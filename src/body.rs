//! Request bodies: `CONTENT_LENGTH` honoured exactly, `Content-Encoding: gzip`
//! inflated on the fly, and the bounded buffering upload-pack needs.
//!
//! ```
//! use git_http_backend_rs::body::Exact;
//! use std::io::Read;
//! let mut r = Exact::new(&b"abcdef"[..], 4);
//! let mut s = String::new();
//! r.read_to_string(&mut s).unwrap();
//! assert_eq!(s, "abcd");
//! ```

use crate::error::{HttpError, Result};
use crate::gitnum;
use crate::request::Env;
use flate2::read::GzDecoder;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// `CONTENT_LENGTH` as git reads it: unset, empty or negative mean "read to EOF".
pub fn content_length(env: &Env) -> Result<Option<u64>> {
    match env.get("CONTENT_LENGTH") {
        None | Some(b"") => Ok(None),
        Some(raw) => {
            let text = String::from_utf8_lossy(raw);
            match gitnum::parse_signed(&text) {
                Some(n) if n >= 0 => Ok(Some(n as u64)),
                Some(_) => Ok(None),
                None => Err(HttpError::die(format!(
                    "failed to parse CONTENT_LENGTH: {text}"
                ))),
            }
        }
    }
}

/// True if the body is gzip-compressed (`gzip` or `x-gzip`, exactly).
pub fn is_gzip(env: &Env) -> bool {
    matches!(
        env.get("HTTP_CONTENT_ENCODING"),
        Some(b"gzip") | Some(b"x-gzip")
    )
}

/// Reads exactly `len` bytes of the inner reader; ending early is an error.
pub struct Exact<R> {
    inner: R,
    remaining: u64,
    expected: u64,
}

impl<R: Read> Exact<R> {
    /// Wraps `inner`, which must deliver `len` bytes.
    pub fn new(inner: R, len: u64) -> Exact<R> {
        Exact {
            inner,
            remaining: len,
            expected: len,
        }
    }
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "request body ended after {} of {} bytes (CONTENT_LENGTH)",
                    self.expected - self.remaining,
                    self.expected
                ),
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Inflates a gzip body, naming the failure the way git does.
pub struct Gunzip<R: Read> {
    inner: GzDecoder<R>,
}

impl<R: Read> Gunzip<R> {
    /// Wraps a compressed stream.
    pub fn new(inner: R) -> Gunzip<R> {
        Gunzip {
            inner: GzDecoder::new(inner),
        }
    }
}

impl<R: Read> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let what = if e.kind() == io::ErrorKind::UnexpectedEof {
                "request ended in the middle of the gzip stream".to_string()
            } else {
                format!("error inflating gzip request body: {e}")
            };
            io::Error::new(e.kind(), what)
        })
    }
}

/// The raw body limited to `CONTENT_LENGTH` (if any), not yet inflated.
pub fn raw(env: &Env, body: Box<dyn Read + Send>) -> Result<Box<dyn Read + Send>> {
    Ok(match content_length(env)? {
        Some(len) => Box::new(Exact::new(body, len)),
        None => body,
    })
}

/// The body as the git child must see it: length-limited, then inflated if gzip.
pub fn decoded(env: &Env, body: Box<dyn Read + Send>) -> Result<Box<dyn Read + Send>> {
    let raw = raw(env, body)?;
    Ok(if is_gzip(env) {
        Box::new(Gunzip::new(raw))
    } else {
        raw
    })
}

fn too_large(limit: u64, len: Option<u64>) -> HttpError {
    HttpError::too_large(match len {
        Some(len) => format!(
            "request was larger than our maximum size ({limit}): {len}; try setting GIT_HTTP_MAX_REQUEST_BUFFER"
        ),
        None => format!(
            "request was larger than our maximum size ({limit}); try setting GIT_HTTP_MAX_REQUEST_BUFFER"
        ),
    })
}

/// The smallest limit git applies to a body read to EOF (`read_request_eof`).
pub const EOF_FLOOR: u64 = 8192;

/// Buffered bodies up to this size stay in memory; larger ones go to a temporary file.
pub const SPILL_THRESHOLD: usize = 1 << 20;

/// A request body read whole before git starts (upload-pack), in memory or, when
/// large, in an unnamed temporary file: memory stays flat whatever the limit.
#[derive(Debug)]
pub enum Buffered {
    /// A small body.
    Memory(Vec<u8>),
    /// A large body, rewound to its start.
    File(File),
}

impl Buffered {
    /// Reads the buffered bytes from the start.
    pub fn into_reader(self) -> Box<dyn Read + Send> {
        match self {
            Buffered::Memory(data) => Box::new(io::Cursor::new(data)),
            Buffered::File(file) => Box::new(io::BufReader::with_capacity(64 * 1024, file)),
        }
    }
}

fn read_bounded(reader: &mut dyn Read, limit: u64) -> io::Result<(Buffered, u64)> {
    let mut data = Vec::with_capacity(8192);
    let mut taken = reader.take(limit.saturating_add(1));
    let n = (&mut taken)
        .take(SPILL_THRESHOLD as u64)
        .read_to_end(&mut data)? as u64;
    if n < SPILL_THRESHOLD as u64 {
        return Ok((Buffered::Memory(data), n));
    }
    let mut file = tempfile::tempfile()?;
    file.write_all(&data)?;
    drop(data);
    let total = n + io::copy(&mut taken, &mut file)?;
    file.seek(SeekFrom::Start(0))?;
    Ok((Buffered::File(file), total))
}

/// Reads the whole (raw, possibly compressed) body, at most `limit` bytes: a larger
/// `CONTENT_LENGTH` or a longer body is a 413 before anything was sent, a body cut
/// short a 400. A gzip body is also checked to inflate cleanly, so that a bad one is
/// refused before the 200 header goes out.
pub fn buffer(env: &Env, body: Box<dyn Read + Send>, limit: u64) -> Result<Buffered> {
    let len = content_length(env)?;
    if let Some(len) = len
        && len > limit
    {
        return Err(too_large(limit, Some(len)));
    }
    // Read to EOF, git allows at least 8 KiB whatever the setting, and refuses a
    // body that fills its buffer exactly (it cannot tell whether more would follow).
    let (limit, fills) = match len {
        Some(_) => (limit, false),
        None => (limit.max(EOF_FLOOR), true),
    };
    let mut reader = raw(env, body)?;
    let (mut buffered, total) = read_bounded(&mut reader, limit).map_err(|e| {
        if crate::resources::is_exhaustion(&e) {
            crate::resources::unavailable("buffering the request body", &e)
        } else {
            HttpError::bad_request(format!("reading request body: {e}"))
        }
    })?;
    if total > limit || (fills && total == limit) {
        return Err(too_large(limit, None));
    }
    if is_gzip(env) {
        let check = match &mut buffered {
            Buffered::Memory(data) => {
                io::copy(&mut Gunzip::new(&data[..]), &mut io::sink()).map(|_| ())
            }
            Buffered::File(file) => io::copy(&mut Gunzip::new(&mut *file), &mut io::sink())
                .and_then(|_| file.seek(SeekFrom::Start(0)).map(|_| ())),
        };
        check.map_err(|e| HttpError::bad_request(e.to_string()))?;
    }
    Ok(buffered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn content_length_rules() {
        assert_eq!(content_length(&env(&[])).unwrap(), None);
        assert_eq!(
            content_length(&env(&[("CONTENT_LENGTH", "")])).unwrap(),
            None
        );
        assert_eq!(
            content_length(&env(&[("CONTENT_LENGTH", "-1")])).unwrap(),
            None
        );
        assert_eq!(
            content_length(&env(&[("CONTENT_LENGTH", "1k")])).unwrap(),
            Some(1024)
        );
        let e = content_length(&env(&[("CONTENT_LENGTH", "1e30")])).unwrap_err();
        assert_eq!(e.status, 500);
        assert!(e.log_line().contains("CONTENT_LENGTH"));
    }

    #[test]
    fn exact_errors_when_short() {
        let mut r = Exact::new(&b"abc"[..], 5);
        let err = io::copy(&mut r, &mut io::sink()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("3 of 5"));
    }

    #[test]
    fn gzip_round_trip_and_garbage() {
        let e = env(&[("HTTP_CONTENT_ENCODING", "gzip")]);
        let mut out = Vec::new();
        decoded(&e, Box::new(io::Cursor::new(gz(b"hello"))))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"hello");
        let mut r = decoded(&e, Box::new(&b"not gzip at all"[..])).unwrap();
        assert!(r.read_to_end(&mut Vec::new()).is_err());
        let mut cut = gz(b"hello world");
        cut.truncate(cut.len() - 6);
        let err = decoded(&e, Box::new(io::Cursor::new(cut)))
            .unwrap()
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(
            err.to_string().contains("middle of the gzip stream"),
            "{err}"
        );
    }

    #[test]
    fn buffer_spills_large_bodies_to_a_file() {
        let e = env(&[]);
        let big = vec![7u8; SPILL_THRESHOLD * 3];
        let b = buffer(&e, Box::new(io::Cursor::new(big.clone())), 10 << 20).unwrap();
        assert!(matches!(b, Buffered::File(_)));
        let mut back = Vec::new();
        b.into_reader().read_to_end(&mut back).unwrap();
        assert_eq!(back, big);
        let e = env(&[("HTTP_CONTENT_ENCODING", "gzip")]);
        let z = gz(&big);
        let mut z2 = z.clone();
        z2.resize(SPILL_THRESHOLD + 10, 0);
        let b = buffer(&e, Box::new(io::Cursor::new(z2)), 10 << 20).unwrap();
        let mut back = Vec::new();
        Gunzip::new(b.into_reader()).read_to_end(&mut back).unwrap();
        assert_eq!(back, big);
        assert_eq!(
            buffer(
                &e,
                Box::new(io::Cursor::new(vec![1u8; SPILL_THRESHOLD + 5])),
                10 << 20
            )
            .unwrap_err()
            .status,
            400
        );
    }

    #[test]
    fn buffer_limits() {
        let e = env(&[("CONTENT_LENGTH", "100")]);
        assert_eq!(
            buffer(&e, Box::new(&[0u8; 100][..]), 10)
                .unwrap_err()
                .status,
            413
        );
        let e = env(&[]);
        let status = buffer(&e, Box::new(&[0u8; 8192][..]), 10)
            .unwrap_err()
            .status;
        assert_eq!(status, 413);
        let e2 = env(&[("CONTENT_LENGTH", "10")]);
        assert!(buffer(&e2, Box::new(&[0u8; 10][..]), 10).is_ok());
        match buffer(&e, Box::new(&[0u8; 8191][..]), 10).unwrap() {
            Buffered::Memory(d) => assert_eq!(d.len(), 8191),
            other => panic!("{other:?}"),
        }
        let e = env(&[("CONTENT_LENGTH", "10")]);
        assert_eq!(
            buffer(&e, Box::new(&[0u8; 4][..]), 100).unwrap_err().status,
            400
        );
        let e = env(&[("HTTP_CONTENT_ENCODING", "x-gzip")]);
        assert_eq!(
            buffer(&e, Box::new(&b"garbage"[..]), 100)
                .unwrap_err()
                .status,
            400
        );
        assert!(buffer(&e, Box::new(io::Cursor::new(gz(b"ok"))), 100).is_ok());
    }
}

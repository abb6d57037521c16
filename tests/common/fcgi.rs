//! FastCGI records as a web server writes them, encoded from the spec
//! (independent of the crate's own codec), for the tests that talk to our
//! FastCGI responder directly.
//!
//! ```ignore
//! let bytes = fcgi::request(1, false, &fcgi::info_refs_params(root), b"");
//! stream.write_all(&bytes)?;
//! ```

use std::path::Path;

/// Record types (FastCGI 1.0, section 8).
pub const BEGIN: u8 = 1;
pub const ABORT: u8 = 2;
pub const END: u8 = 3;
pub const PARAMS: u8 = 4;
pub const STDIN: u8 = 5;
pub const STDOUT: u8 = 6;
pub const DATA: u8 = 8;
pub const GET_VALUES: u8 = 9;
pub const GET_VALUES_RESULT: u8 = 10;
pub const UNKNOWN_TYPE: u8 = 11;

/// One record of type `t` for request `id`, with `padding` bytes of padding.
pub fn record(t: u8, id: u16, content: &[u8], padding: u8) -> Vec<u8> {
    let mut v = vec![
        1,
        t,
        (id >> 8) as u8,
        id as u8,
        (content.len() >> 8) as u8,
        content.len() as u8,
        padding,
        0,
    ];
    v.extend_from_slice(content);
    v.extend(std::iter::repeat_n(0xEE, padding as usize));
    v
}

/// One record padded to a multiple of 8 bytes, as libfcgi and nginx write them.
pub fn aligned(t: u8, id: u16, content: &[u8]) -> Vec<u8> {
    record(t, id, content, ((8 - content.len() % 8) % 8) as u8)
}

/// One name-value pair, lengths in the 1- or 4-byte form as needed.
pub fn name_value(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for len in [name.len(), value.len()] {
        if len < 128 {
            v.push(len as u8);
        } else {
            v.extend_from_slice(&((len as u32) | 0x8000_0000).to_be_bytes());
        }
    }
    v.extend_from_slice(name);
    v.extend_from_slice(value);
    v
}

/// A BEGIN_REQUEST record for `role` (1 = responder).
pub fn begin(id: u16, role: u16, keep_conn: bool) -> Vec<u8> {
    let body = [
        (role >> 8) as u8,
        role as u8,
        keep_conn as u8,
        0,
        0,
        0,
        0,
        0,
    ];
    record(BEGIN, id, &body, 0)
}

/// The PARAMS stream for `params`, ended by its empty record.
pub fn params(id: u16, params: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut all = Vec::new();
    for (n, v) in params {
        all.extend(name_value(n, v));
    }
    let mut out = Vec::new();
    for c in all.chunks(65535) {
        out.extend(aligned(PARAMS, id, c));
    }
    out.extend(aligned(PARAMS, id, b""));
    out
}

/// A whole responder request: BEGIN, PARAMS and STDIN, both streams ended.
pub fn request(id: u16, keep_conn: bool, p: &[(Vec<u8>, Vec<u8>)], body: &[u8]) -> Vec<u8> {
    let mut out = begin(id, 1, keep_conn);
    out.extend(params(id, p));
    for c in body.chunks(65535) {
        out.extend(aligned(STDIN, id, c));
    }
    out.extend(aligned(STDIN, id, b""));
    out
}

/// `(name, value)` pairs as owned bytes.
pub fn owned(pairs: &[(&str, &[u8])]) -> Vec<(Vec<u8>, Vec<u8>)> {
    pairs
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.to_vec()))
        .collect()
}

/// The params of a smart `info/refs` GET for upload-pack of `/r.git` under `root`.
pub fn info_refs_params(root: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    owned(&[
        ("REQUEST_METHOD", b"GET"),
        ("GIT_PROJECT_ROOT", root.as_os_str().as_encoded_bytes()),
        ("PATH_INFO", b"/r.git/info/refs"),
        ("QUERY_STRING", b"service=git-upload-pack"),
    ])
}

/// The params of a receive-pack POST to `/r.git` under `root` by user `t`
/// (receive-pack is on for an authenticated user without any config), with no
/// CONTENT_LENGTH: the body's length is the STDIN stream's.
pub fn receive_pack_params(root: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    owned(&[
        ("REQUEST_METHOD", b"POST"),
        ("GIT_PROJECT_ROOT", root.as_os_str().as_encoded_bytes()),
        ("PATH_INFO", b"/r.git/git-receive-pack"),
        ("CONTENT_TYPE", b"application/x-git-receive-pack-request"),
        ("REMOTE_USER", b"t"),
    ])
}

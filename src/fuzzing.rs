//! Entry points for the fuzz targets in `fuzz/` and for the corpus replay test
//! (`tests/fuzz_corpus.rs`): each takes arbitrary bytes, drives one parser of the
//! crate, and panics only if an invariant of that parser is broken (a round trip
//! that does not hold, a value out of its documented range). Not a stable API.
//!
//! ```
//! git_http_backend_rs::fuzzing::pktline(b"0009abcd\n0000");
//! git_http_backend_rs::fuzzing::fastcgi_params(b"\x03\x01abcd");
//! ```

use crate::body;
use crate::request::Env;
use crate::transport::fastcgi::record::{self, Decoded, RecordType};
use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;

/// A fuzz entry function.
pub type Entry = fn(&[u8]);

/// The fuzz targets by name, with their entry function (for the replay test).
pub const TARGETS: &[(&str, Entry)] = &[
    ("fastcgi_record", fastcgi_record),
    ("fastcgi_params", fastcgi_params),
    ("pktline", pktline),
    ("command_list", command_list),
    ("query", query),
    ("repo_path", repo_path),
    ("config", config),
    ("gzip_body", gzip_body),
    ("acl", acl),
];

/// Removes the scratch directories the entry functions made in this process (for
/// the replay test; a fuzzer just leaves them).
pub fn cleanup() {
    let tmp = std::env::temp_dir();
    let pid = std::process::id();
    if let Ok(entries) = std::fs::read_dir(&tmp) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&format!("ghb-fuzz-root-{pid}"))
                || name.starts_with(&format!("ghb-fuzz-config-{pid}-"))
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// Splits `data` at the first `sep`, or returns it whole and an empty rest.
fn split(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == sep) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// The FastCGI record codec: decodes records one after the other as the
/// connection loop does; every record re-encodes to a record that decodes equal,
/// and the PARAMS/GET_VALUES content goes through [`fastcgi_params`].
pub fn fastcgi_record(data: &[u8]) {
    let mut rest = data;
    while let Ok(Decoded::Record(rec, used)) = record::decode(rest) {
        assert!(used >= record::HEADER_LEN && used <= rest.len());
        assert!(rec.content.len() <= record::MAX_CONTENT);
        let mut out = Vec::new();
        record::encode(rec.rtype, rec.request_id, rec.content, &mut out);
        assert_eq!(out.len() % 8, 0);
        match record::decode(&out) {
            Ok(Decoded::Record(again, n)) => {
                assert_eq!(again, rec);
                assert_eq!(n, out.len());
            }
            other => panic!("re-encoded record does not decode: {other:?}"),
        }
        if rec.rtype == RecordType::PARAMS || rec.rtype == RecordType::GET_VALUES {
            fastcgi_params(rec.content);
        }
        if rec.rtype == RecordType::BEGIN_REQUEST
            && let Some(begin) = record::BeginRequest::parse(rec.content)
        {
            assert_eq!(record::BeginRequest::parse(&begin.to_bytes()), Some(begin));
        }
        rest = &rest[used..];
    }
}

/// The name-value pair decoder: what decodes re-encodes to a stream that decodes
/// to the same pairs.
pub fn fastcgi_params(data: &[u8]) {
    let Ok(pairs) = record::decode_pairs(data) else {
        return;
    };
    let mut out = Vec::new();
    for (name, value) in &pairs {
        record::encode_pair(name, value, &mut out);
    }
    assert!(out.len() <= data.len());
    assert_eq!(record::decode_pairs(&out).as_ref(), Ok(&pairs));
    let _ = Env::from_pairs(pairs);
}

/// pkt-line framing: packets are read until the end or an error; every data
/// packet re-frames to the bytes that were read.
pub fn pktline(data: &[u8]) {
    let mut input = data;
    let mut consumed = 0;
    loop {
        let before = input.len();
        match crate::pktline::read_pkt(&mut input) {
            Ok(None) => {
                assert!(input.is_empty());
                break;
            }
            Ok(Some(crate::pktline::Pkt::Data(d))) => {
                assert!(d.len() + 4 <= crate::pktline::MAX_PKT_LEN);
                let framed = crate::pktline::encode(&d);
                let used = before - input.len();
                assert_eq!(used, framed.len());
                // The length prefix may be upper-case hex in the input.
                assert!(data[consumed..consumed + used].eq_ignore_ascii_case(&framed));
            }
            Ok(Some(_)) => assert_eq!(before - input.len(), 4),
            Err(_) => break,
        }
        consumed = data.len() - input.len();
    }
}

/// The receive-pack command-list reader: the bytes it keeps are exactly the bytes
/// it consumed, and it never reads much past its limit.
pub fn command_list(data: &[u8]) {
    let limit = 4096;
    let mut input = data;
    let Ok(list) = crate::pktline::read_command_list(&mut input, limit) else {
        return;
    };
    let consumed = data.len() - input.len();
    assert_eq!(list.raw, &data[..consumed]);
    assert!(list.raw.len() <= limit + crate::pktline::MAX_PKT_LEN);
    if let Some(updates) = &list.updates {
        assert!(list.raw.ends_with(b"0000"));
        for u in updates {
            assert!(u.old_id.len() == 40 || u.old_id.len() == 64);
            assert!(!u.name.is_empty() && !u.name.contains(&0));
        }
    }
}

fn percent_encode(value: &[u8]) -> Vec<u8> {
    value
        .iter()
        .flat_map(|b| format!("%{b:02X}").into_bytes())
        .collect()
}

/// Query-string decoding: arbitrary queries decode without panics, and a value
/// that is percent-encoded (without `%00`, which git refuses to decode) decodes
/// to itself.
pub fn query(data: &[u8]) {
    let (name, _) = split(data, b'=');
    let _ = crate::handler::query_param(data, "service");
    if let Ok(name) = std::str::from_utf8(name) {
        let _ = crate::handler::query_param(data, name);
    }
    let value: Vec<u8> = data.iter().copied().filter(|&b| b != 0).collect();
    let mut q = b"a=b&service=".to_vec();
    q.extend(percent_encode(&value));
    q.extend_from_slice(b"&x");
    assert_eq!(
        crate::handler::query_param(&q, "service").as_deref(),
        Some(&value[..])
    );
}

/// A scratch project root with one bare-looking repository `r.git` (HEAD, objects,
/// refs), made once per process.
fn project_root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("ghb-fuzz-root-{}", std::process::id()));
        let repo = root.join("r.git");
        for d in ["objects", "refs/heads"] {
            std::fs::create_dir_all(repo.join(d)).expect("scratch repository");
        }
        std::fs::write(repo.join("HEAD"), "ref: refs/heads/main\n").expect("scratch HEAD");
        std::fs::write(root.join("file.git"), "gitdir: r.git\n").expect("scratch gitfile");
        root
    })
}

/// Repository path resolution: `PATH_INFO` (the input up to a NUL) against a
/// project root, the route table, and `repo::find` on the route's repository part.
/// A path that is not refused as aliased has no `.`, `..` or empty component, and
/// the resolved path stays below the root.
pub fn repo_path(data: &[u8]) {
    let (info, translated) = split(data, 0);
    let aliased = crate::repo::is_aliased(info);
    if !aliased {
        let body = &info[1..];
        let body = body.strip_suffix(b"/").unwrap_or(body);
        for comp in body.split(|&b| b == b'/') {
            assert!(
                comp != b"." && comp != b".." && (comp.is_empty() == body.is_empty()),
                "not aliased but has component {comp:?}"
            );
        }
    }
    let root = project_root();
    let root_bytes = root.to_str().expect("utf-8 temp dir").as_bytes();
    let mut env = Env::from_pairs([
        ("GIT_PROJECT_ROOT", root_bytes),
        ("PATH_INFO", info),
        ("GIT_HTTP_EXPORT_ALL", b"1"),
        ("GIT_CONFIG_NOSYSTEM", b"1"),
    ]);
    match crate::repo::request_path(&env) {
        Ok(path) => {
            assert!(!aliased && !info.is_empty());
            assert!(path.starts_with(root_bytes));
            if let Some(m) = crate::routes::find(&path) {
                assert!(m.repo_path.len() + m.arg.len() < path.len());
                if let Ok(repo) = crate::repo::find(m.repo_path, &env) {
                    assert!(repo.git_dir.starts_with(root));
                }
            }
        }
        Err(_) => assert!(aliased || info.is_empty()),
    }
    env.remove("GIT_PROJECT_ROOT");
    env.set("PATH_TRANSLATED", translated);
    if let Ok(path) = crate::repo::request_path(&env) {
        let _ = crate::routes::find(&path).map(|m| crate::repo::find(m.repo_path, &env));
    }
}

/// Config value parsing: the input is split at NULs into a config value, a
/// `GIT_CONFIG_PARAMETERS` string and a repository config file; numbers, booleans,
/// the command-line config and the file itself are parsed as a request would.
pub fn config(data: &[u8]) {
    let (value, rest) = split(data, 0);
    let (params, file) = split(rest, 0);
    if let Ok(text) = std::str::from_utf8(value) {
        let signed = crate::gitnum::parse_signed(text);
        let unsigned = crate::gitnum::parse_unsigned(text);
        if let (Some(s), Some(u)) = (signed, unsigned) {
            assert_eq!(s as i128, u as i128);
        }
        if text.contains('-') {
            assert_eq!(unsigned, None);
        }
    }
    let _ = crate::config::parse_maybe_bool(Some(value));
    let env = Env::from_pairs([
        ("GIT_CONFIG_PARAMETERS", params),
        ("GIT_CONFIG_NOSYSTEM", b"1"),
        ("HOME", b"/nonexistent"),
        ("XDG_CONFIG_HOME", b"/nonexistent"),
    ]);
    let _ = crate::config::command_line_pairs(&env);
    // The file goes into a scratch repository of this thread's own.
    thread_local! {
        static REPO: PathBuf = {
            let dir = std::env::temp_dir().join(format!(
                "ghb-fuzz-config-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            std::fs::create_dir_all(&dir).expect("scratch config dir");
            dir
        };
    }
    REPO.with(|dir| {
        std::fs::write(dir.join("config"), file).expect("scratch config");
        let _ = crate::config::load(dir, &env);
    });
}

/// The request-body path: the first byte picks gzip or not and how
/// `CONTENT_LENGTH` is set; the rest is the body. It is buffered (as upload-pack
/// does) and streamed (as receive-pack does); a body that buffering accepts also
/// streams without error.
pub fn gzip_body(data: &[u8]) {
    let Some((&mode, body_bytes)) = data.split_first() else {
        return;
    };
    let mut env = Env::new();
    if mode & 1 != 0 {
        env.set(
            "HTTP_CONTENT_ENCODING",
            if mode & 2 != 0 { "gzip" } else { "x-gzip" },
        );
    }
    match (mode >> 2) & 3 {
        0 => {}
        1 => env.set("CONTENT_LENGTH", body_bytes.len().to_string()),
        2 => env.set("CONTENT_LENGTH", (body_bytes.len() / 2).to_string()),
        _ => env.set("CONTENT_LENGTH", (body_bytes.len() + 1).to_string()),
    }
    let limit = 1 << 16;
    let owned = || -> Box<dyn Read + Send> { Box::new(std::io::Cursor::new(body_bytes.to_vec())) };
    // At most this much inflated output is read, whatever the ratio.
    let cap = 1 << 20;
    let buffered = body::buffer(&env, owned(), limit);
    let streamed = body::decoded(&env, owned()).map(|r| {
        let mut sink = Vec::new();
        r.take(cap).read_to_end(&mut sink).map(|_| sink)
    });
    if let Ok(buffered) = buffered {
        let raw = {
            let mut v = Vec::new();
            buffered
                .into_reader()
                .read_to_end(&mut v)
                .expect("buffered body reads");
            v
        };
        assert!(body_bytes.starts_with(&raw));
        match streamed {
            Ok(Ok(_)) => {}
            other => panic!("body buffered fine but did not stream: {other:?}"),
        }
    }
}

/// The ACL (gitolite.conf) parser and evaluator: the input is split at NULs into
/// the file, a repository path, a user, a permission and a ref. Parsing never
/// panics; a decision that allows names its rule, a repository name with `..` is
/// never allowed, and a repository name is normalised.
pub fn acl(data: &[u8]) {
    use crate::policy::acl::{self, Acl, Perm, UpdateKind};
    let mut parts = data.split(|&b| b == 0);
    let text = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let mut next = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (path, user, perm, refname) = (next(), next(), next(), next());
    let name = acl::repo_name(&path);
    assert!(!name.starts_with('/') && !name.ends_with('/') && !name.contains("//"));
    let file = project_root().join("gitolite.conf");
    let parsed = match Acl::from_text(&file, &text) {
        Ok(parsed) => parsed,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let lines = text.lines().count().max(1);
    let refname = (!refname.is_empty()).then_some(refname.as_str());
    let check = |d: acl::Decision| {
        if d.allowed {
            let site = d.rule.as_ref().expect("an allowed access names its rule");
            if site.file == file {
                assert!(site.line >= 1 && site.line <= lines);
            }
            assert!(!name.split('/').any(|s| s == ".."), "allowed a '..' name");
        }
    };
    let perms = match Perm::parse(&perm) {
        Some(p) => vec![p],
        None => vec![
            Perm::Read,
            Perm::Write,
            Perm::Force,
            Perm::Create,
            Perm::Delete,
        ],
    };
    for p in perms {
        check(parsed.decide(&name, &user, p, refname));
    }
    for kind in [
        UpdateKind::Create,
        UpdateKind::Delete,
        UpdateKind::FastForward,
        UpdateKind::Rewind,
    ] {
        check(parsed.decide_update(&name, &user, refname.unwrap_or("refs/heads/main"), kind));
    }
}

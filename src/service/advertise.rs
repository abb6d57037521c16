//! Ref advertisements without a git child: `info/refs?service=git-upload-pack` and
//! `git-receive-pack` (protocol v0/v1), the protocol v2 capability advertisement, and
//! the v2 `ls-refs` command, built from refs and config read in-process, byte for
//! byte what git 2.47's `upload-pack`/`receive-pack` would print.
//!
//! What depends on the git binary (its `agent=` string, and that its output for an
//! empty repository with default settings is exactly what this model renders) is
//! learned once per binary ([`facts`]): kept in memory by a daemon and, for CGI, in a
//! small cache file keyed by the binary's path, size, mtime and inode.
//!
//! Correctness comes first: anything not modelled returns `None` (with the reason in
//! a debug log line) and the caller runs git as before. That includes a reftable or
//! unknown repository extension, alternates, a shallow repository, replace refs, a
//! broken or oddly named ref, a deltified annotated tag, `transfer.advertiseSID`,
//! `receive.certNonceSeed`, an unusual `GIT_*` variable, and a git whose output
//! differs from the model.

use super::odb::{HashKind, Odb, Oid, Unsupported};
use super::refs::{Peel, Ref, RefStore, Resolved};
use crate::config;
use crate::pktline;
use crate::request::Env;
use gix_config::File as ConfigFile;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

type Res<T> = std::result::Result<T, Unsupported>;

fn unsupported<T>(what: impl Into<String>) -> Res<T> {
    Err(Unsupported(what.into()))
}

/// The protocol version git would pick from `GIT_PROTOCOL` (the highest known
/// `version=` entry; 0 without one).
pub fn protocol_version(env: &Env) -> u8 {
    let Some(proto) = env.get("GIT_PROTOCOL") else {
        return 0;
    };
    let mut version = 0;
    for item in proto.split(|&b| b == b':') {
        if let Some(v) = item.strip_prefix(b"version=") {
            match v {
                b"1" => version = version.max(1),
                b"2" => version = version.max(2),
                _ => {}
            }
        }
    }
    version
}

/// The settings from config that change an advertisement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Object format.
    pub hash: HashKind,
    /// upload-pack's `allow_uor` bits (tip 1, reachable 2, any 7).
    pub allow_uor: u8,
    /// `uploadpack.allowFilter`.
    pub allow_filter: bool,
    /// `uploadpack.allowRefInWant`.
    pub allow_ref_in_want: bool,
    /// `uploadpack.allowSidebandAll`.
    pub allow_sideband_all: bool,
    /// `uploadpack.blobPackfileUri` set.
    pub packfile_uris: bool,
    /// `lsrefs.unborn`: 0 ignore, 1 allow, 2 advertise.
    pub unborn: u8,
    /// `transfer.advertiseObjectInfo`.
    pub object_info: bool,
    /// `uploadpack.advertiseBundleURIs`.
    pub bundle_uri: bool,
    /// `receive.advertiseAtomic`.
    pub atomic: bool,
    /// `repack.useDeltaBaseOffset`.
    pub ofs_delta: bool,
    /// `receive.advertisePushOptions`.
    pub push_options: bool,
    /// transfer.hideRefs + uploadpack.hideRefs, in config order.
    pub hide_upload: Vec<Vec<u8>>,
    /// transfer.hideRefs + receive.hideRefs, in config order.
    pub hide_receive: Vec<Vec<u8>>,
}

impl Settings {
    /// Git's defaults for a SHA-1 repository.
    pub fn defaults(hash: HashKind) -> Settings {
        Settings {
            hash,
            allow_uor: 0,
            allow_filter: false,
            allow_ref_in_want: false,
            allow_sideband_all: false,
            packfile_uris: false,
            unborn: 2,
            object_info: false,
            bundle_uri: false,
            atomic: true,
            ofs_delta: true,
            push_options: false,
            hide_upload: Vec::new(),
            hide_receive: Vec::new(),
        }
    }

    /// Reads them from a repository's merged config, in git's order.
    pub fn from_config(file: &ConfigFile) -> Res<Settings> {
        let mut version: Option<u32> = None;
        let mut extensions: Vec<(String, Option<Vec<u8>>)> = Vec::new();
        let mut s = Settings::defaults(HashKind::Sha1);
        for section in file.sections() {
            let name = section.header().name().to_ascii_lowercase();
            let sub = section.header().subsection_name();
            let interesting = matches!(
                name.as_slice(),
                b"core"
                    | b"extensions"
                    | b"uploadpack"
                    | b"transfer"
                    | b"receive"
                    | b"lsrefs"
                    | b"repack"
            );
            if !interesting || sub.is_some() {
                continue;
            }
            let mut seen: HashMap<String, usize> = HashMap::new();
            for key in section.value_names() {
                let key_l = key.to_ascii_lowercase();
                let n = seen.entry(key_l.clone()).or_insert(0);
                let index = *n;
                *n += 1;
                // The value of this occurrence; implicit values (no `=`) are
                // represented as None. Mixed implicit/explicit repeats: fall back.
                let explicit = section.values(&key);
                let total = section
                    .value_names()
                    .filter(|k| k.eq_ignore_ascii_case(&key))
                    .count();
                let value: Option<Vec<u8>> = if explicit.len() == total {
                    Some(explicit[index].to_vec())
                } else if explicit.is_empty() {
                    None
                } else {
                    return unsupported("a key both with and without a value");
                };
                let v = value.as_deref();
                let boolean = || {
                    config::parse_maybe_bool(v)
                        .ok_or_else(|| Unsupported(format!("bad boolean for {key_l}")))
                };
                match (name.as_slice(), key_l.as_str()) {
                    (b"core", "repositoryformatversion") => {
                        let Some(n) = v
                            .and_then(|v| std::str::from_utf8(v).ok())
                            .and_then(|v| v.trim().parse::<u32>().ok())
                        else {
                            return unsupported("bad core.repositoryformatversion");
                        };
                        version = Some(n);
                    }
                    (b"core", "usereplacerefs") | (b"core", "alternaterefscommand") => {}
                    (b"extensions", k) => extensions.push((k.to_string(), value.clone())),
                    (b"uploadpack", "allowtipsha1inwant") => {
                        if boolean()? {
                            s.allow_uor |= 1
                        } else {
                            s.allow_uor &= !1
                        }
                    }
                    (b"uploadpack", "allowreachablesha1inwant") => {
                        if boolean()? {
                            s.allow_uor |= 2
                        } else {
                            s.allow_uor &= !2
                        }
                    }
                    (b"uploadpack", "allowanysha1inwant") => {
                        if boolean()? {
                            s.allow_uor |= 7
                        } else {
                            s.allow_uor &= !7
                        }
                    }
                    (b"uploadpack", "allowfilter") => s.allow_filter = boolean()?,
                    (b"uploadpack", "allowrefinwant") => s.allow_ref_in_want = boolean()?,
                    (b"uploadpack", "allowsidebandall") => s.allow_sideband_all = boolean()?,
                    (b"uploadpack", "blobpackfileuri") if v.is_some() => s.packfile_uris = true,
                    (b"uploadpack", "advertisebundleuris") => s.bundle_uri = boolean()?,
                    (b"uploadpack", "hiderefs") => s.hide_upload.push(hide_pattern(v)?),
                    (b"receive", "hiderefs") => s.hide_receive.push(hide_pattern(v)?),
                    (b"transfer", "hiderefs") => {
                        let p = hide_pattern(v)?;
                        s.hide_upload.push(p.clone());
                        s.hide_receive.push(p);
                    }
                    (b"transfer", "advertisesid") if boolean()? => {
                        return unsupported("transfer.advertiseSID");
                    }
                    (b"transfer", "advertiseobjectinfo") => s.object_info = boolean()?,
                    (b"lsrefs", "unborn") => {
                        s.unborn = match v {
                            Some(b"advertise") => 2,
                            Some(b"allow") => 1,
                            Some(b"ignore") => 0,
                            _ => return unsupported("bad lsrefs.unborn"),
                        }
                    }
                    (b"receive", "advertiseatomic") => s.atomic = boolean()?,
                    (b"receive", "advertisepushoptions") => s.push_options = boolean()?,
                    (b"receive", "certnonceseed") => {
                        return unsupported("receive.certNonceSeed");
                    }
                    (b"repack", "usedeltabaseoffset") => s.ofs_delta = boolean()?,
                    _ => {}
                }
            }
        }
        let version = version.unwrap_or(0);
        if version > 1 {
            return unsupported("repository format version above 1");
        }
        for (k, v) in extensions {
            if version == 0 {
                return unsupported("extensions in a version 0 repository");
            }
            match (k.as_str(), v.as_deref()) {
                ("objectformat", Some(v)) if v.eq_ignore_ascii_case(b"sha1") => {
                    s.hash = HashKind::Sha1
                }
                ("objectformat", Some(v)) if v.eq_ignore_ascii_case(b"sha256") => {
                    s.hash = HashKind::Sha256
                }
                ("refstorage", Some(b"files")) => {}
                _ => return unsupported(format!("repository extension {k}")),
            }
        }
        Ok(s)
    }
}

/// A hideRefs value with its trailing slashes dropped (git dies on a key without a
/// value: we let it).
fn hide_pattern(v: Option<&[u8]>) -> Res<Vec<u8>> {
    let Some(v) = v else {
        return unsupported("hideRefs without a value");
    };
    let mut p = v.to_vec();
    while p.last() == Some(&b'/') {
        p.pop();
    }
    Ok(p)
}

/// git's `ref_is_hidden`: the last matching rule wins, `!` negates, `^` matches the
/// full (namespaced) name.
pub fn ref_is_hidden(refname: Option<&[u8]>, full: &[u8], rules: &[Vec<u8>]) -> bool {
    for rule in rules.iter().rev() {
        let mut m = rule.as_slice();
        let mut neg = false;
        if let Some(r) = m.strip_prefix(b"!") {
            neg = true;
            m = r;
        }
        let subject = if let Some(r) = m.strip_prefix(b"^") {
            m = r;
            Some(full)
        } else {
            refname
        };
        if let Some(subject) = subject
            && let Some(rest) = subject.strip_prefix(m)
            && (rest.is_empty() || rest[0] == b'/')
        {
            return !neg;
        }
    }
    false
}

/// The packed-refs "jump list" of git's ref iterator: with hide rules given as
/// exclude patterns (none starts with `!` or `^`), a ref that is only in
/// packed-refs and whose full name starts with a glob-free pattern (namespaced) is
/// skipped, even where `ref_is_hidden` would not hide it.
fn excluded_by_jump_list(r: &Ref, rules: &[Vec<u8>], namespace: &[u8]) -> bool {
    if !r.packed_only || rules.is_empty() {
        return false;
    }
    if rules
        .iter()
        .any(|p| p.starts_with(b"!") || p.starts_with(b"^"))
    {
        return false;
    }
    rules.iter().any(|p| {
        !p.iter().any(|c| b"*?[\\".contains(c))
            && r.name.starts_with(namespace)
            && r.name[namespace.len()..].starts_with(p)
    })
}

/// git's `expand_namespace` for `GIT_NAMESPACE`: `a/b` is
/// `refs/namespaces/a/refs/namespaces/b/`.
fn expand_namespace(raw: Option<&[u8]>) -> Res<Vec<u8>> {
    let mut out = Vec::new();
    let Some(raw) = raw else { return Ok(out) };
    if raw.ends_with(b"/") {
        // git's components keep their slash: `a/` makes `refs/namespaces/a/`, which
        // fails its refname check (it dies).
        return unsupported("GIT_NAMESPACE ends with a slash");
    }
    for c in raw.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
        out.extend_from_slice(b"refs/namespaces/");
        out.extend_from_slice(c);
        out.push(b'/');
    }
    if !out.is_empty() && !super::refs::is_safe_refname(&out[..out.len() - 1]) {
        return unsupported("unusual GIT_NAMESPACE");
    }
    Ok(out)
}

fn strip<'a>(name: &'a [u8], namespace: &[u8]) -> Option<&'a [u8]> {
    name.strip_prefix(namespace)
}

/// The `GIT_*` variables a git child would see that this model accounts for.
fn env_is_modelled(env: &Env) -> Res<()> {
    // Variables for git's client side, identities and tracing: no effect on an
    // advertisement.
    const OK_PREFIXES: &[&[u8]] = &[
        b"GIT_HTTP_",
        b"GIT_TRACE",
        b"GIT_COMMITTER_",
        b"GIT_AUTHOR_",
        b"GIT_SSL_",
        b"GIT_SSH",
        b"GIT_CURL_",
        b"GIT_PROXY_",
        b"GIT_ASKPASS",
        b"GIT_PAGER",
        b"GIT_EDITOR",
    ];
    const OK_NAMES: &[&[u8]] = &[
        b"GIT_PROTOCOL",
        b"GIT_PROJECT_ROOT",
        b"GIT_NAMESPACE",
        b"GIT_DIR",
        b"GIT_EXEC_PATH",
        b"GIT_CONFIG_NOSYSTEM",
        b"GIT_CONFIG_SYSTEM",
        b"GIT_CONFIG_GLOBAL",
        b"GIT_CONFIG_COUNT",
        b"GIT_CONFIG_PARAMETERS",
        b"GIT_HTTP_BACKEND_GIT",
        b"GIT_TERMINAL_PROMPT",
    ];
    for (k, _) in env.iter() {
        if !k.starts_with(b"GIT_")
            || OK_NAMES.contains(&k)
            || OK_PREFIXES.iter().any(|p| k.starts_with(p))
            || k.starts_with(b"GIT_CONFIG_KEY_")
            || k.starts_with(b"GIT_CONFIG_VALUE_")
        {
            continue;
        }
        return unsupported(format!(
            "environment variable {}",
            String::from_utf8_lossy(k)
        ));
    }
    Ok(())
}

/// Appends `payload` as one pkt-line (the 4-hex-digit length, then the bytes)
/// without an intermediate buffer. Payloads here are ref lines, far below the
/// pkt-line limit (ref names over 1000 bytes go to git).
fn push_pkt(out: &mut Vec<u8>, payload: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let n = payload.len() + 4;
    out.extend_from_slice(&[
        DIGITS[(n >> 12) & 15],
        DIGITS[(n >> 8) & 15],
        DIGITS[(n >> 4) & 15],
        DIGITS[n & 15],
    ]);
    out.extend_from_slice(payload);
}

/// Appends the lowercase hex of `oid` (or zeros of `len` bytes for None).
fn push_hex(buf: &mut Vec<u8>, oid: Option<&Oid>, len: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    match oid {
        Some(o) => {
            for &b in o.as_bytes() {
                buf.push(DIGITS[(b >> 4) as usize]);
                buf.push(DIGITS[(b & 15) as usize]);
            }
        }
        None => buf.resize(buf.len() + len * 2, b'0'),
    }
}

/// One repository's refs, ready to advertise.
pub struct View {
    settings: Settings,
    namespace: Vec<u8>,
    /// `<namespace>HEAD` resolved (None: it does not exist).
    head: Option<Resolved>,
    /// The refs (empty for a view that reads none), iterated for each answer.
    store: RefStore,
    odb: Odb,
    /// Objects known to exist.
    exists: std::cell::RefCell<HashSet<Oid>>,
    /// Objects already peeled (many refs often point at the same one).
    peel_memo: std::cell::RefCell<HashMap<Oid, Option<Oid>>>,
}

impl View {
    /// Reads a repository for an advertisement: config, and (with `refs`) refs and
    /// the object database (the v2 capability advertisement needs neither).
    pub fn open(git_dir: &Path, env: &Env, config: &ConfigFile, refs: bool) -> Res<View> {
        env_is_modelled(env)?;
        for special in [
            "commondir",
            "shallow",
            "reftable",
            "objects/info/alternates",
        ] {
            if git_dir.join(special).exists() {
                return unsupported(format!("repository has {special}"));
            }
        }
        let settings = Settings::from_config(config)?;
        let namespace = expand_namespace(env.get_nonempty("GIT_NAMESPACE"))?;
        if !refs {
            return Ok(View {
                odb: Odb::empty(settings.hash),
                store: RefStore::empty(git_dir, settings.hash),
                settings,
                namespace,
                head: None,
                exists: Default::default(),
                peel_memo: Default::default(),
            });
        }
        let store = RefStore::open(git_dir, settings.hash)?;
        if store.has_prefix(b"refs/replace/")? {
            return unsupported("replace refs");
        }
        let odb = Odb::open(&git_dir.join("objects"), settings.hash)?;
        let mut head_name = namespace.clone();
        head_name.extend_from_slice(b"HEAD");
        let head = store.resolve(&head_name)?;
        let mut exists = HashSet::new();
        if let Some(Resolved { oid: Some(oid), .. }) = &head {
            if oid.is_null() || !odb.contains(oid) {
                return unsupported("HEAD names a missing object");
            }
            exists.insert(*oid);
        }
        Ok(View {
            settings,
            namespace,
            head,
            store,
            odb,
            exists: std::cell::RefCell::new(exists),
            peel_memo: Default::default(),
        })
    }

    /// The refs in name order, each checked for what the model leaves to git (a
    /// very long name, a ref to a missing object). Every answer reads them all
    /// before anything is sent, so a ref git would treat specially anywhere sends
    /// the whole request to git.
    fn refs(&self) -> impl Iterator<Item = Res<Ref<'_>>> + '_ {
        self.store.iter().map(move |r| {
            let r = r?;
            if r.name.len() > 1000 {
                return unsupported("a very long ref name");
            }
            // Many refs often share an object: look each one up once.
            if !self.exists.borrow().contains(&r.oid) {
                if !self.odb.contains(&r.oid) {
                    return unsupported("a ref to a missing object");
                }
                self.exists.borrow_mut().insert(r.oid);
            }
            Ok(r)
        })
    }

    /// A view of an empty repository with default settings (for learning).
    fn empty(hash: HashKind, odb: Odb) -> View {
        View {
            store: RefStore::empty(Path::new(""), hash),
            settings: Settings::defaults(hash),
            namespace: Vec::new(),
            head: Some(Resolved {
                target: b"refs/heads/master".to_vec(),
                oid: None,
                is_symref: true,
            }),
            odb,
            exists: Default::default(),
            peel_memo: Default::default(),
        }
    }

    fn peeled(&self, r: Option<&Ref>, oid: &Oid) -> Res<Option<Oid>> {
        if let Some(Peel::Known(p)) = r.map(|r| &r.peel) {
            return Ok(*p);
        }
        if let Some(p) = self.peel_memo.borrow().get(oid) {
            return Ok(*p);
        }
        let p = self.odb.peel(oid)?;
        self.peel_memo.borrow_mut().insert(*oid, p);
        Ok(p)
    }

    fn hex(&self, oid: Option<&Oid>) -> String {
        match oid {
            Some(o) => o.to_hex(),
            None => "0".repeat(self.settings.hash.len() * 2),
        }
    }

    /// upload-pack's v0/v1 advertisement (`version` 1 adds the `version 1` line).
    pub fn upload_pack_v0(&self, agent: &str, version: u8) -> Res<Vec<u8>> {
        let s = &self.settings;
        let ns = &self.namespace;
        let mut out = Vec::with_capacity(self.store.size_hint());
        if version == 1 {
            out.extend(pktline::encode(b"version 1\n"));
        }
        let mut symref = String::new();
        let head_oid = match &self.head {
            Some(Resolved {
                oid: Some(oid),
                target,
                is_symref,
            }) => {
                if *is_symref {
                    let Some(t) = strip(target, ns) else {
                        return unsupported("HEAD points outside the namespace");
                    };
                    symref = format!(" symref=HEAD:{}", String::from_utf8_lossy(t));
                }
                Some(*oid)
            }
            _ => None,
        };
        let first = std::cell::Cell::new(true);
        let scratch = std::cell::RefCell::new(Vec::with_capacity(256));
        let line = |out: &mut Vec<u8>, oid: Option<&Oid>, name: &[u8]| {
            let mut l = scratch.borrow_mut();
            l.clear();
            push_hex(&mut l, oid, s.hash.len());
            l.push(b' ');
            l.extend_from_slice(name);
            if first.get() {
                l.push(0);
                l.extend_from_slice(
                    b"multi_ack thin-pack side-band side-band-64k ofs-delta shallow \
deepen-since deepen-not deepen-relative no-progress include-tag multi_ack_detailed",
                );
                if s.allow_uor & 1 != 0 {
                    l.extend_from_slice(b" allow-tip-sha1-in-want");
                }
                if s.allow_uor & 2 != 0 {
                    l.extend_from_slice(b" allow-reachable-sha1-in-want");
                }
                l.extend_from_slice(b" no-done");
                l.extend_from_slice(symref.as_bytes());
                if s.allow_filter {
                    l.extend_from_slice(b" filter");
                }
                l.extend_from_slice(
                    format!(" object-format={} agent={agent}", s.hash.name()).as_bytes(),
                );
                first.set(false);
            }
            l.push(b'\n');
            push_pkt(out, &l);
        };
        let mut head_full = ns.clone();
        head_full.extend_from_slice(b"HEAD");
        if let Some(oid) = &head_oid
            && !ref_is_hidden(Some(b"HEAD"), &head_full, &s.hide_upload)
        {
            line(&mut out, Some(oid), b"HEAD");
            if let Some(p) = self.peeled(None, oid)? {
                let mut n = b"HEAD".to_vec();
                n.extend_from_slice(b"^{}");
                line(&mut out, Some(&p), &n);
            }
        }
        let use_excludes = s.allow_uor & 7 == 7 || s.allow_uor & 3 == 0;
        let mut prefix = ns.clone();
        prefix.extend_from_slice(b"refs/");
        let mut peeled_name = Vec::with_capacity(256);
        for r in self.refs() {
            let r = &r?;
            if !r.name.starts_with(&prefix) {
                continue;
            }
            if use_excludes && excluded_by_jump_list(r, &s.hide_upload, ns) {
                continue;
            }
            let nons = &r.name[ns.len()..];
            if ref_is_hidden(Some(nons), r.name, &s.hide_upload) {
                continue;
            }
            line(&mut out, Some(&r.oid), nons);
            if let Some(p) = self.peeled(Some(r), &r.oid)? {
                peeled_name.clear();
                peeled_name.extend_from_slice(nons);
                peeled_name.extend_from_slice(b"^{}");
                line(&mut out, Some(&p), &peeled_name);
            }
        }
        if first.get() {
            let name = b"capabilities^{}";
            if !ref_is_hidden(Some(name), name, &s.hide_upload) {
                line(&mut out, None, name);
            }
        }
        out.extend_from_slice(pktline::FLUSH);
        Ok(out)
    }

    /// receive-pack's advertisement (v2 requests get v0, as in git).
    pub fn receive_pack(&self, agent: &str, version: u8) -> Res<Vec<u8>> {
        let s = &self.settings;
        let ns = &self.namespace;
        let mut out = Vec::new();
        if version == 1 {
            out.extend(pktline::encode(b"version 1\n"));
        }
        let first = std::cell::Cell::new(true);
        let show = |out: &mut Vec<u8>, oid: Option<&Oid>, path: &[u8]| {
            let mut l = format!("{} ", self.hex(oid)).into_bytes();
            l.extend_from_slice(path);
            if first.get() {
                l.push(0);
                l.extend_from_slice(
                    b"report-status report-status-v2 delete-refs side-band-64k quiet",
                );
                if s.atomic {
                    l.extend_from_slice(b" atomic");
                }
                if s.ofs_delta {
                    l.extend_from_slice(b" ofs-delta");
                }
                if s.push_options {
                    l.extend_from_slice(b" push-options");
                }
                l.extend_from_slice(
                    format!(" object-format={} agent={agent}", s.hash.name()).as_bytes(),
                );
                first.set(false);
            }
            l.push(b'\n');
            out.extend(pktline::encode(&l));
        };
        let mut seen: HashSet<Oid> = HashSet::new();
        for r in self.refs() {
            let r = &r?;
            if excluded_by_jump_list(r, &s.hide_receive, ns) {
                continue;
            }
            let path = strip(r.name, ns);
            if ref_is_hidden(path, r.name, &s.hide_receive) {
                continue;
            }
            match path {
                None => {
                    if !seen.insert(r.oid) {
                        continue;
                    }
                    show(&mut out, Some(&r.oid), b".have");
                }
                Some(p) => {
                    seen.insert(r.oid);
                    show(&mut out, Some(&r.oid), p);
                }
            }
        }
        if first.get() {
            show(&mut out, None, b"capabilities^{}");
        }
        out.extend_from_slice(pktline::FLUSH);
        Ok(out)
    }

    /// The protocol v2 capability advertisement.
    pub fn v2_capabilities(&self, agent: &str) -> Vec<u8> {
        let s = &self.settings;
        let mut out = pktline::encode(b"version 2\n");
        out.extend(pktline::encode(format!("agent={agent}\n").as_bytes()));
        out.extend(pktline::encode(if s.unborn == 2 {
            b"ls-refs=unborn\n".as_slice()
        } else {
            b"ls-refs\n".as_slice()
        }));
        let mut fetch = String::from("fetch=shallow wait-for-done");
        if s.allow_filter {
            fetch.push_str(" filter");
        }
        if s.allow_ref_in_want {
            fetch.push_str(" ref-in-want");
        }
        if s.allow_sideband_all {
            fetch.push_str(" sideband-all");
        }
        if s.packfile_uris {
            fetch.push_str(" packfile-uris");
        }
        fetch.push('\n');
        out.extend(pktline::encode(fetch.as_bytes()));
        out.extend(pktline::encode(b"server-option\n"));
        out.extend(pktline::encode(
            format!("object-format={}\n", s.hash.name()).as_bytes(),
        ));
        if s.object_info {
            out.extend(pktline::encode(b"object-info\n"));
        }
        if s.bundle_uri {
            out.extend(pktline::encode(b"bundle-uri\n"));
        }
        out.extend_from_slice(pktline::FLUSH);
        out
    }

    /// The v2 `ls-refs` reply for a parsed request.
    pub fn ls_refs(&self, req: &LsRefs) -> Res<Vec<u8>> {
        let s = &self.settings;
        let ns = &self.namespace;
        let unborn = req.unborn && s.unborn != 0;
        let mut out = Vec::new();
        let matches = |nons: &[u8]| {
            req.prefixes.is_empty() || req.prefixes.iter().any(|p| nons.starts_with(p))
        };
        let send = |out: &mut Vec<u8>,
                    full: &[u8],
                    oid: Option<&Oid>,
                    symref: Option<&[u8]>,
                    r: Option<&Ref>|
         -> Res<()> {
            let Some(nons) = strip(full, ns) else {
                return unsupported("ref outside the namespace");
            };
            if ref_is_hidden(Some(nons), full, &s.hide_upload) || !matches(nons) {
                return Ok(());
            }
            let mut l = Vec::with_capacity(128);
            match oid {
                Some(_) => {
                    push_hex(&mut l, oid, s.hash.len());
                    l.push(b' ');
                }
                None => l.extend_from_slice(b"unborn "),
            }
            l.extend_from_slice(nons);
            if req.symrefs
                && let Some(t) = symref
            {
                let Some(t) = strip(t, ns) else {
                    return unsupported("symref target outside the namespace");
                };
                l.extend_from_slice(b" symref-target:");
                l.extend_from_slice(t);
            }
            if req.peel
                && let Some(o) = oid
                && let Some(p) = self.peeled(r, o)?
            {
                l.extend_from_slice(b" peeled:");
                push_hex(&mut l, Some(&p), s.hash.len());
            }
            l.push(b'\n');
            push_pkt(out, &l);
            Ok(())
        };
        if let Some(h) = &self.head {
            let mut full = ns.clone();
            full.extend_from_slice(b"HEAD");
            let symref = h.is_symref.then_some(h.target.as_slice());
            if h.oid.is_some() || (unborn && req.symrefs && h.is_symref) {
                send(&mut out, &full, h.oid.as_ref(), symref, None)?;
            }
        }
        for r in self.refs() {
            let r = &r?;
            if !r.name.starts_with(ns) {
                continue;
            }
            if excluded_by_jump_list(r, &s.hide_upload, ns) {
                continue;
            }
            send(
                &mut out,
                r.name,
                Some(&r.oid),
                r.symref_target.as_deref(),
                Some(r),
            )?;
        }
        out.extend_from_slice(pktline::FLUSH);
        Ok(out)
    }
}

/// A v2 `ls-refs` request, as far as this model serves it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LsRefs {
    /// `peel`
    pub peel: bool,
    /// `symrefs`
    pub symrefs: bool,
    /// `unborn`
    pub unborn: bool,
    /// `ref-prefix` values (empty: all).
    pub prefixes: Vec<Vec<u8>>,
    /// The client's `object-format=` if given.
    pub object_format: Option<Vec<u8>>,
}

/// Parses a v2 request body; `Some` only for a plain, well-formed `ls-refs` (anything
/// else, including `fetch`, is left to git).
pub fn parse_ls_refs(body: &[u8]) -> Option<LsRefs> {
    let mut r = body;
    let mut req = LsRefs::default();
    let mut command = false;
    let mut in_args = false;
    loop {
        let pkt = pktline::read_pkt(&mut r).ok()??;
        match pkt {
            pktline::Pkt::Data(line) => {
                let line = line.strip_suffix(b"\n").unwrap_or(&line);
                if !in_args {
                    if line == b"command=ls-refs" {
                        if command {
                            return None;
                        }
                        command = true;
                    } else if line.starts_with(b"agent=") || line.starts_with(b"server-option=") {
                    } else if let Some(f) = line.strip_prefix(b"object-format=") {
                        req.object_format = Some(f.to_vec());
                    } else {
                        return None;
                    }
                } else if line == b"peel" {
                    req.peel = true;
                } else if line == b"symrefs" {
                    req.symrefs = true;
                } else if line == b"unborn" {
                    req.unborn = true;
                } else if let Some(p) = line.strip_prefix(b"ref-prefix ") {
                    if req.prefixes.len() >= 65535 {
                        return None;
                    }
                    req.prefixes.push(p.to_vec());
                } else {
                    return None;
                }
            }
            pktline::Pkt::Delim if !in_args => in_args = true,
            pktline::Pkt::Flush if command => return Some(req),
            _ => return None,
        }
    }
}

/// What a git binary taught us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Its sanitized `agent=` value.
    pub agent: String,
}

/// Learned facts per binary identity, for the life of the process.
static FACTS: Mutex<Option<HashMap<String, Option<Facts>>>> = Mutex::new(None);

/// The identity of the git binary `env` runs: path, size, mtime, inode. A daemon
/// asks it for every request; the answer (a PATH search, a canonical path, a
/// `stat`) is kept for a second per (program, PATH), so a git upgraded in place
/// is noticed within a second.
fn binary_identity(env: &Env) -> Option<(PathBuf, String)> {
    type Memo = Option<(
        Vec<u8>,
        Vec<u8>,
        std::time::Instant,
        Option<(PathBuf, String)>,
    )>;
    static LAST: Mutex<Memo> = Mutex::new(None);
    let program = crate::os::os_to_bytes(crate::child::git_program(env));
    let path_var = env.get("PATH").unwrap_or(b"/usr/bin:/bin");
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((p, v, at, id)) = last.as_ref()
        && *p == program
        && v.as_slice() == path_var
        && at.elapsed() < std::time::Duration::from_secs(1)
    {
        return id.clone();
    }
    let id = identify(&program, path_var);
    *last = Some((
        program,
        path_var.to_vec(),
        std::time::Instant::now(),
        id.clone(),
    ));
    id
}

fn identify(program: &[u8], path_var: &[u8]) -> Option<(PathBuf, String)> {
    let path = crate::child::find_in_path(program, path_var)?;
    let path = std::fs::canonicalize(&path).ok()?;
    let m = std::fs::metadata(&path).ok()?;
    let mtime = m
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0u64;
    let key = format!("{}\0{}\0{}\0{}", path.display(), m.len(), mtime, ino);
    Some((path, key))
}

/// Where CGI processes keep learned facts: `GIT_HTTP_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/git-http-backend-rs`, else `$HOME/.cache/git-http-backend-rs`,
/// else (web servers often give CGI programs no `HOME`)
/// `<temp dir>/git-http-backend-rs-<uid>`, used only if it is a real directory owned
/// by this user and closed to others (mode 0700), so that no other local user can
/// plant facts.
pub fn cache_dir(env: &Env) -> Option<PathBuf> {
    let os = |b: &[u8]| PathBuf::from(crate::os::bytes_to_os(b));
    if let Some(d) = env.get_nonempty("GIT_HTTP_CACHE_DIR") {
        return Some(os(d));
    }
    if let Some(x) = env.get_nonempty("XDG_CACHE_HOME") {
        return Some(os(x).join("git-http-backend-rs"));
    }
    if let Some(h) = env.get_nonempty("HOME") {
        return Some(os(h).join(".cache").join("git-http-backend-rs"));
    }
    private_temp_dir()
}

#[cfg(unix)]
fn private_temp_dir() -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let uid = crate::os::effective_uid();
    let dir = std::env::temp_dir().join(format!("git-http-backend-rs-{uid}"));
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    let m = std::fs::symlink_metadata(&dir).ok()?;
    (m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0).then_some(dir)
}

#[cfg(not(unix))]
fn private_temp_dir() -> Option<PathBuf> {
    None
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn facts_file(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("facts-{:016x}", fnv(key)))
}

fn read_facts_file(path: &Path, key: &str) -> Option<Option<Facts>> {
    let data = std::fs::read_to_string(path).ok()?;
    let mut lines = data.lines();
    if lines.next()? != "git-http-backend-rs facts 1" || lines.next()? != key.replace('\0', " ") {
        return None;
    }
    match lines.next()? {
        "disabled" => Some(None),
        l => Some(Some(Facts {
            agent: l.strip_prefix("agent ")?.to_string(),
        })),
    }
}

fn write_facts_file(dir: &Path, key: &str, facts: &Option<Facts>) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    let body = match facts {
        Some(f) => format!("agent {}", f.agent),
        None => "disabled".to_string(),
    };
    use std::io::Write;
    writeln!(
        tmp,
        "git-http-backend-rs facts 1\n{}\n{body}",
        key.replace('\0', " ")
    )?;
    tmp.persist(facts_file(dir, key))
        .map_err(|e| e.error)
        .map(|_| ())
}

/// The facts for the git that `env` runs. `persist`: CGI (one process per request)
/// keeps them in a file; without a writable cache directory it returns None and the
/// caller runs git.
pub fn facts(env: &Env, persist: bool) -> Option<Facts> {
    let (_path, key) = binary_identity(env)?;
    {
        let guard = FACTS.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = guard.as_ref().and_then(|m| m.get(&key)) {
            return f.clone();
        }
    }
    // One learner at a time per process; the others then find its result.
    static LEARNING: Mutex<()> = Mutex::new(());
    let _learning = LEARNING.lock().unwrap_or_else(|p| p.into_inner());
    {
        let guard = FACTS.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = guard.as_ref().and_then(|m| m.get(&key)) {
            return f.clone();
        }
    }
    let dir = if persist { Some(cache_dir(env)?) } else { None };
    if let Some(dir) = &dir
        && let Some(f) = read_facts_file(&facts_file(dir, &key), &key)
    {
        remember(&key, &f);
        return f;
    }
    let learned = match learn(env) {
        Ok(f) => Some(f),
        Err(e) => {
            log::info!("in-process ref advertisement off for this git: {e}");
            None
        }
    };
    if let Some(dir) = &dir
        && let Err(e) = write_facts_file(dir, &key, &learned)
    {
        log::debug!("cannot keep git facts in {}: {e}", dir.display());
        return None;
    }
    remember(&key, &learned);
    learned
}

fn remember(key: &str, f: &Option<Facts>) {
    let mut guard = FACTS.lock().unwrap_or_else(|p| p.into_inner());
    guard
        .get_or_insert_with(HashMap::new)
        .insert(key.to_string(), f.clone());
}

/// Runs git once on a scratch repository and checks that the model renders exactly
/// what it prints (v0 upload-pack, v2 capabilities, receive-pack).
fn learn(env: &Env) -> Res<Facts> {
    let tmp = tempfile::tempdir().map_err(|e| Unsupported(format!("tempdir: {e}")))?;
    let repo = tmp.path().join("r.git");
    let mut base = Env::new();
    for k in ["PATH", "GIT_HTTP_BACKEND_GIT", "GIT_EXEC_PATH"] {
        if let Some(v) = env.get(k) {
            base.set(k, v);
        }
    }
    base.set(
        "HOME",
        crate::os::os_to_bytes(tmp.path().as_os_str().into()),
    );
    base.set("GIT_CONFIG_NOSYSTEM", "1");
    base.set("GIT_CONFIG_GLOBAL", "/dev/null");
    let run = |args: &[&str], dir: &Path, extra: &[(&str, &str)]| -> Res<Vec<u8>> {
        let mut e = base.clone();
        for (k, v) in extra {
            e.set(k, v);
        }
        let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        let out = crate::child::git_command(&e, dir, &args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .map_err(|e| Unsupported(format!("running git: {e}")))?;
        if !out.status.success() {
            return unsupported(format!("git {:?} failed", args));
        }
        Ok(out.stdout)
    };
    run(
        &["init", "--bare", "-q", "-b", "master", "r.git"],
        tmp.path(),
        &[],
    )?;
    let v0 = run(
        &["upload-pack", "--http-backend-info-refs", "."],
        &repo,
        &[],
    )?;
    let agent_start = v0.windows(7).position(|w| w == b" agent=").ok_or_else(|| {
        Unsupported(format!(
            "no agent in git's advertisement: {:?}",
            String::from_utf8_lossy(&v0)
        ))
    })? + 7;
    let agent_end = v0[agent_start..]
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| Unsupported("bad advertisement".into()))?
        + agent_start;
    let agent = String::from_utf8(v0[agent_start..agent_end].to_vec())
        .map_err(|_| Unsupported("agent is not UTF-8".into()))?;
    let view = View::empty(
        HashKind::Sha1,
        Odb::open(&repo.join("objects"), HashKind::Sha1)?,
    );
    let checks = [
        (view.upload_pack_v0(&agent, 0)?, v0),
        (
            view.v2_capabilities(&agent),
            run(
                &["upload-pack", "--http-backend-info-refs", "."],
                &repo,
                &[("GIT_PROTOCOL", "version=2")],
            )?,
        ),
        (
            view.receive_pack(&agent, 0)?,
            run(
                &["receive-pack", "--http-backend-info-refs", "."],
                &repo,
                &[],
            )?,
        ),
    ];
    for (ours, theirs) in checks {
        if ours != theirs {
            return unsupported(format!(
                "git's advertisement differs from the model: {:?} vs {:?}",
                String::from_utf8_lossy(&theirs),
                String::from_utf8_lossy(&ours)
            ));
        }
    }
    Ok(Facts { agent })
}

/// Is the in-process advertisement switched on? (`GIT_HTTP_INPROCESS_ADVERTISE=0`
/// turns it off.)
pub fn enabled(env: &Env) -> bool {
    !matches!(
        env.get("GIT_HTTP_INPROCESS_ADVERTISE"),
        Some(b"0") | Some(b"false") | Some(b"no") | Some(b"off")
    )
}

/// The `info/refs?service=` body for `service` (`upload-pack`/`receive-pack`), or
/// None to let git answer.
pub fn info_refs(
    git_dir: &Path,
    env: &Env,
    config: &ConfigFile,
    service: &str,
    persist: bool,
) -> Option<Vec<u8>> {
    if !enabled(env) {
        return None;
    }
    let facts = facts(env, persist)?;
    let version = protocol_version(env);
    let needs_refs = !(service == "upload-pack" && version == 2);
    let result =
        View::open(git_dir, env, config, needs_refs).and_then(|view| match (service, version) {
            ("upload-pack", 2) => Ok(view.v2_capabilities(&facts.agent)),
            ("upload-pack", v) => view.upload_pack_v0(&facts.agent, v),
            ("receive-pack", v) => view.receive_pack(&facts.agent, if v == 1 { 1 } else { 0 }),
            _ => unsupported("service"),
        });
    match result {
        Ok(body) => Some(body),
        Err(e) => {
            log::debug!("advertising through git: {e}");
            None
        }
    }
}

/// The `ls-refs` reply for a v2 upload-pack POST body, or None to let git answer.
pub fn ls_refs(
    git_dir: &Path,
    env: &Env,
    config: &ConfigFile,
    body: &[u8],
    persist: bool,
) -> Option<Vec<u8>> {
    if !enabled(env) || protocol_version(env) != 2 {
        return None;
    }
    let req = parse_ls_refs(body)?;
    facts(env, persist)?;
    let result = View::open(git_dir, env, config, true).and_then(|view| {
        // git assumes sha1 when the client names no object format.
        let client = req.object_format.as_deref().unwrap_or(b"sha1");
        if client != view.settings.hash.name().as_bytes() {
            return unsupported("object-format mismatch");
        }
        view.ls_refs(&req)
    });
    match result {
        Ok(body) => Some(body),
        Err(e) => {
            log::debug!("ls-refs through git: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_rules() {
        let rules = vec![b"refs/heads".to_vec(), b"!refs/heads/keep".to_vec()];
        assert!(ref_is_hidden(
            Some(b"refs/heads/x"),
            b"refs/heads/x",
            &rules
        ));
        assert!(!ref_is_hidden(
            Some(b"refs/heads/keep"),
            b"refs/heads/keep",
            &rules
        ));
        assert!(!ref_is_hidden(Some(b"refs/headsx"), b"refs/headsx", &rules));
        let full = vec![b"^refs/namespaces/a".to_vec()];
        assert!(ref_is_hidden(None, b"refs/namespaces/a/refs/x", &full));
    }

    #[test]
    fn namespaces() {
        assert_eq!(
            expand_namespace(Some(b"a/b")).unwrap(),
            b"refs/namespaces/a/refs/namespaces/b/"
        );
        assert_eq!(expand_namespace(None).unwrap(), b"");
    }

    #[test]
    fn ls_refs_requests() {
        let mut body = pktline::encode(b"command=ls-refs\n");
        body.extend(pktline::encode(b"agent=git/2.47.3\n"));
        body.extend_from_slice(b"0001");
        body.extend(pktline::encode(b"peel\n"));
        body.extend(pktline::encode(b"ref-prefix refs/heads/\n"));
        body.extend_from_slice(pktline::FLUSH);
        let r = parse_ls_refs(&body).unwrap();
        assert!(r.peel && !r.symrefs);
        assert_eq!(r.prefixes, vec![b"refs/heads/".to_vec()]);
        let mut fetch = pktline::encode(b"command=fetch\n");
        fetch.extend_from_slice(pktline::FLUSH);
        assert!(parse_ls_refs(&fetch).is_none());
    }

    // Runs the installed git: a Windows build under wine cannot start Linux git.
    #[cfg(unix)]
    #[test]
    fn learns_from_the_installed_git() {
        let env = Env::from_pairs([("PATH", std::env::var("PATH").unwrap())]);
        let facts = learn(&env).unwrap();
        assert!(facts.agent.starts_with("git/"), "{facts:?}");
    }

    #[test]
    fn versions() {
        let v = |s: &str| protocol_version(&Env::from_pairs([("GIT_PROTOCOL", s)]));
        assert_eq!(v("version=2"), 2);
        assert_eq!(v("version=1"), 1);
        assert_eq!(v("version=3"), 0);
    }
}

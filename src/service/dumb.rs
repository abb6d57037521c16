//! Dumb HTTP: `HEAD`, the `info/refs` ref list, `objects/info/packs`, the
//! alternates files, loose objects and pack files, with git-http-backend's
//! formats and cache headers.

use super::Context;
use crate::child::git_command;
use crate::error::{HttpError, Result};
use crate::policy::{self, Access};
use crate::request::{Head, Response};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::UNIX_EPOCH;

/// The ref prefix of `GIT_NAMESPACE` (`a/b` -> `refs/namespaces/a/refs/namespaces/b/`).
pub fn namespace_prefix(ctx: &Context) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(ns) = ctx.env.get_nonempty("GIT_NAMESPACE") {
        for part in ns.split(|&b| b == b'/').filter(|p| !p.is_empty()) {
            out.extend_from_slice(b"refs/namespaces/");
            out.extend_from_slice(part);
            out.push(b'/');
        }
    }
    out
}

/// Runs a read-only git command in the repository and returns its stdout, or
/// `None` if it failed.
fn git_output(ctx: &Context, args: &[&std::ffi::OsStr]) -> Result<Option<Vec<u8>>> {
    let mut cmd = git_command(&ctx.env, &ctx.repo.git_dir, args);
    cmd.env("GIT_DIR", ".")
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    let out = cmd
        .output()
        .map_err(|e| crate::resources::or_die("cannot run git", e))?;
    Ok(out.status.success().then_some(out.stdout))
}

fn text_reply(resp: &mut Response<'_>, head: Head, content_type: &str, body: &[u8]) -> Result<i32> {
    let head = head
        .header("Content-Length", body.len().to_string())
        .header("Content-Type", content_type);
    resp.send_full(&head, body)
        .map_err(|e| HttpError::die(format!("writing reply: {e}")))?;
    Ok(0)
}

/// `GET HEAD`: `ref: <target>` for a symbolic HEAD, else the id; empty if HEAD
/// does not resolve.
pub fn head(ctx: &Context, resp: &mut Response<'_>) -> Result<i32> {
    policy::authorize(ctx, Access::DumbRead)?;
    let ns = namespace_prefix(ctx);
    let mut head_ref = ns.clone();
    head_ref.extend_from_slice(b"HEAD");
    let head_os = crate::os::bytes_to_os(&head_ref);
    let mut body = Vec::new();
    let oid = git_output(
        ctx,
        &[
            "rev-parse".as_ref(),
            "-q".as_ref(),
            "--verify".as_ref(),
            head_os.as_ref(),
        ],
    )?;
    if let Some(oid) = oid {
        let name = git_output(
            ctx,
            &[
                "rev-parse".as_ref(),
                "--symbolic-full-name".as_ref(),
                head_os.as_ref(),
            ],
        )?
        .unwrap_or_default();
        let name = name.trim_ascii_end();
        if name.is_empty() || name == head_ref.as_slice() {
            body.extend_from_slice(oid.trim_ascii_end());
        } else {
            body.extend_from_slice(b"ref: ");
            body.extend_from_slice(name.strip_prefix(ns.as_slice()).unwrap_or(name));
        }
        body.push(b'\n');
    }
    text_reply(resp, Head::ok(), "text/plain", &body)
}

/// Runs a git command in the repository with `input` on its stdin (written from a
/// thread, so a large input cannot deadlock against the output) and returns its
/// stdout, or `None` if it failed.
fn git_filter(ctx: &Context, args: &[&std::ffi::OsStr], input: Vec<u8>) -> Result<Option<Vec<u8>>> {
    let mut cmd = git_command(&ctx.env, &ctx.repo.git_dir, args);
    cmd.env("GIT_DIR", ".")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd
        .spawn()
        .map_err(|e| crate::resources::or_die("cannot run git", e))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child
        .wait_with_output()
        .map_err(|e| HttpError::die(format!("waiting for git: {e}")))?;
    let _ = writer.join();
    Ok(out.status.success().then_some(out.stdout))
}

/// `GET info/refs` without `service`: every ref whose object exists, with the fully
/// peeled id after each annotated tag, as git-http-backend's `show_text_ref`.
pub fn info_refs(ctx: &Context, resp: &mut Response<'_>) -> Result<i32> {
    policy::authorize(ctx, Access::DumbRead)?;
    let ns = namespace_prefix(ctx);
    // Names and ids only: for-each-ref lists refs to missing objects without dying.
    let format = "--format=%(objectname) %(refname)";
    let mut args: Vec<std::ffi::OsString> = vec!["for-each-ref".into(), format.into()];
    if !ns.is_empty() {
        // Like git's refs_for_each_namespaced_ref: only `<ns>refs/`, not `<ns>HEAD`.
        let mut pattern = ns.clone();
        pattern.extend_from_slice(b"refs/");
        args.push(crate::os::bytes_to_os(&pattern));
    }
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let listing = git_output(ctx, &args)?
        .ok_or_else(|| HttpError::die("cannot list refs (git for-each-ref failed)"))?;
    let refs: Vec<(&[u8], &[u8])> = listing
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let sp = line.iter().position(|&b| b == b' ')?;
            Some((&line[..sp], &line[sp + 1..]))
        })
        .collect();
    // One question per ref and one for its peeled object: "<id> <type>" or "... missing".
    let mut questions = Vec::with_capacity(refs.len() * 90);
    for (oid, _) in &refs {
        questions.extend_from_slice(oid);
        questions.push(b'\n');
        questions.extend_from_slice(oid);
        questions.extend_from_slice(b"^{}\n");
    }
    let check = ["cat-file", "--batch-check=%(objectname) %(objecttype)"];
    let check: Vec<&std::ffi::OsStr> = check.iter().map(std::ffi::OsStr::new).collect();
    let answers = git_filter(ctx, &check, questions)?
        .ok_or_else(|| HttpError::die("cannot read objects (git cat-file failed)"))?;
    let mut answers = answers.split(|&b| b == b'\n');
    let mut body = Vec::with_capacity(listing.len() + 64);
    for (oid, name) in refs {
        let (object, peeled) = (
            answers.next().unwrap_or_default(),
            answers.next().unwrap_or_default(),
        );
        if object.ends_with(b" missing") || object.is_empty() {
            continue;
        }
        let name = name.strip_prefix(ns.as_slice()).unwrap_or(name);
        body.extend_from_slice(oid);
        body.push(b'\t');
        body.extend_from_slice(name);
        body.push(b'\n');
        if object.ends_with(b" tag") && !peeled.ends_with(b" missing") && !peeled.is_empty() {
            let peeled_id = peeled.split(|&b| b == b' ').next().unwrap_or_default();
            body.extend_from_slice(peeled_id);
            body.push(b'\t');
            body.extend_from_slice(name);
            body.extend_from_slice(b"^{}\n");
        }
    }
    text_reply(resp, Head::ok().nocache(), "text/plain", &body)
}

/// `GET objects/info/packs`: the local packs, in git's order (newest first).
pub fn info_packs(ctx: &Context, resp: &mut Response<'_>) -> Result<i32> {
    policy::authorize(ctx, Access::DumbRead)?;
    let dir = ctx.repo.objects_dir.join("pack");
    let mut packs = Vec::new();
    if let Ok(entries) = fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".idx") else {
                continue;
            };
            let pack = format!("{stem}.pack");
            if let Ok(meta) = fs::metadata(dir.join(&pack)) {
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                packs.push((mtime, pack));
            }
        }
    }
    // git's order: it reads the directory in readdir order (as read_dir does),
    // prepends each pack to its list, then stable-sorts by mtime, newest first.
    packs.reverse();
    packs.sort_by_key(|p| std::cmp::Reverse(p.0));
    let mut body = Vec::with_capacity(packs.len() * 53 + 2);
    for (_, pack) in &packs {
        body.extend_from_slice(format!("P {pack}\n").as_bytes());
    }
    body.push(b'\n');
    text_reply(
        resp,
        Head::ok().nocache(),
        "text/plain; charset=utf-8",
        &body,
    )
}

/// How a repository file is cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// No-cache headers (text files).
    Never,
    /// Cache-forever headers (immutable objects and packs).
    Forever,
}

/// `GET` of a file inside the repository: alternates, loose objects, packs.
pub fn local_file(
    ctx: &Context,
    resp: &mut Response<'_>,
    content_type: &str,
    caching: Caching,
) -> Result<i32> {
    policy::authorize(ctx, Access::DumbRead)?;
    // Like git's git_path(): `objects/...` lives in the object directory.
    let path: PathBuf = match ctx.arg.strip_prefix(b"objects/") {
        Some(rest) => ctx.repo.objects_dir.join(crate::os::bytes_to_os(rest)),
        None => ctx.repo.git_dir.join(crate::os::bytes_to_os(&ctx.arg)),
    };
    let mut file = File::open(&path).map_err(|e| {
        if crate::resources::is_exhaustion(&e) {
            return crate::resources::unavailable(&format!("opening '{}'", path.display()), &e);
        }
        HttpError::not_found(format!(
            "Cannot open '{}': {}",
            path.display(),
            strerror(&e)
        ))
    })?;
    let meta = file
        .metadata()
        .map_err(|e| HttpError::die(format!("Cannot stat '{}': {e}", path.display())))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let head = match caching {
        Caching::Never => Head::ok().nocache(),
        Caching::Forever => Head::ok().cache_forever(crate::date::now()),
    }
    .header("Content-Length", meta.len().to_string())
    .header("Content-Type", content_type)
    .header("Last-Modified", crate::date::rfc2822(mtime));
    resp.send_head(&head)
        .map_err(|e| HttpError::die(format!("writing reply: {e}")))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| HttpError::die(format!("Cannot read '{}': {e}", path.display())))?;
        if n == 0 {
            break;
        }
        resp.write_body(&buf[..n])
            .map_err(|e| HttpError::die(format!("client went away: {e}")))?;
    }
    resp.flush()
        .map_err(|e| HttpError::die(format!("client went away: {e}")))?;
    Ok(0)
}

/// The C library's wording of an I/O error, without Rust's "(os error N)".
fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

//! One request, start to end: route, repository, settings, policy, service, reply.
//!
//! Every reply, error or not, leaves through [`handle`], so status lines, headers
//! and log lines are the same whatever failed and whichever transport is in use.
//! The overload limiter ([`crate::limiter`]) and the access log
//! ([`crate::access_log`]) are applied here, so every transport gets them.

use crate::access_log;
use crate::config;
use crate::error::{HttpError, Result};
use crate::gitnum;
use crate::limiter::{Gate, Limits};
use crate::repo;
use crate::request::{Head, ReplySink, Request, Response};
use crate::routes::{self, Handler, Method};
use crate::service::dumb::{self, Caching};
use crate::service::{Context, lfs, smart};
use std::io::{self, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The default `http.maxRequestBuffer`: 10 MiB.
pub const DEFAULT_MAX_REQUEST_BUFFER: u64 = 10 * 1024 * 1024;

/// How a request ended, for the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// 0, or 1 when a git child or the request body failed after the reply started
    /// (the CGI exit code, the FastCGI app status).
    pub exit_code: i32,
}

/// Serves one request through `sink`. Never panics; never leaves a child behind.
pub fn handle(request: Request, sink: &mut dyn ReplySink) -> Outcome {
    let mut record = access_log::Record::start();
    let mut resp = Response::new(sink);
    let Request { env, body } = request;
    record.from_env(&env);
    let log_target = env.get("GIT_HTTP_ACCESS_LOG").map(<[u8]>::to_vec);
    let counted = Arc::new(AtomicU64::new(0));
    let body = Box::new(CountingReader {
        inner: body,
        count: counted.clone(),
    });
    let result = catch_unwind(AssertUnwindSafe(|| run(env, body, &mut resp, &mut record)));
    let result = result.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(HttpError::die(format!("internal error: {what}")))
    });
    let outcome = match result {
        Ok(code) => Outcome { exit_code: code },
        Err(e) => {
            reply_error(&mut resp, &e);
            Outcome { exit_code: 0 }
        }
    };
    if let Some(target) = log_target {
        record.status = resp.status();
        record.bytes_out = resp.bytes_out();
        record.bytes_in = counted.load(Ordering::Relaxed);
        record.git_exit = resp.git_exit();
        access_log::write_to(&target, &record);
    }
    outcome
}

/// Counts the request body bytes the handler reads (for the access log).
struct CountingReader {
    inner: Box<dyn Read + Send>,
    count: Arc<AtomicU64>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Logs `e` in git's words and, if nothing was sent yet, replies with its status,
/// the no-cache headers and its body. After the head went out the stream just ends.
pub fn reply_error(resp: &mut Response<'_>, e: &HttpError) {
    let line = e.log_line();
    if !line.is_empty() {
        if e.routine && crate::logging::is_daemon() {
            log::debug!("{line}");
        } else if e.is_internal() {
            log::error!("{line}");
        } else {
            log::warn!("{line}");
        }
    }
    if resp.head_sent() {
        let _ = resp.flush();
        return;
    }
    let mut head = Head::new(e.status, e.reason);
    if let Some(allow) = e.allow {
        head = head.header("Allow", allow);
    }
    if let Some(challenge) = &e.challenge {
        head = head.header("WWW-Authenticate", challenge.clone());
    }
    if let Some(secs) = e.retry_after {
        head = head.header("Retry-After", secs.to_string());
    }
    let mut head = head.nocache();
    if !e.body.is_empty() && e.status == 503 && !e.lfs_json {
        head = head.header("Content-Type", "text/plain");
    }
    if e.lfs_json {
        head = head.header("Content-Type", crate::service::lfs::MEDIA_TYPE);
    }
    if let Err(err) = resp.send_full(&head, &e.body) {
        log::debug!("could not send the {} reply: {err}", e.status);
    }
}

fn run(
    mut env: crate::request::Env,
    body: Box<dyn Read + Send>,
    resp: &mut Response<'_>,
    record: &mut access_log::Record,
) -> Result<i32> {
    crate::iis::adapt(&mut env);
    let method = env
        .get("REQUEST_METHOD")
        .ok_or_else(|| HttpError::die("No REQUEST_METHOD from server"))?
        .to_vec();
    let path = repo::request_path(&env)?;
    let not_supported = || {
        HttpError::not_found(format!(
            "Request not supported: '{}'",
            String::from_utf8_lossy(&path)
        ))
    };
    let Some(matched) = routes::find_for(&path, Method::parse(&method)) else {
        record.repo = Some(shown_repo(&env, &path));
        return Err(not_supported());
    };
    let is_lfs = matched.route.handler.is_lfs();
    let check_method = |env: &crate::request::Env| {
        if Method::parse(&method) != Some(matched.route.method) {
            return Err(if env.get("SERVER_PROTOCOL") == Some(b"HTTP/1.1") {
                HttpError::method_not_allowed(matched.route.method.allow())
            } else {
                HttpError::bad_request("")
            });
        }
        Ok(())
    };
    // A Git LFS path is judged for its method only once LFS is known to be on
    // for the repository (below).
    if !is_lfs {
        check_method(&env)?;
    }
    record.repo = Some(shown_repo(&env, matched.repo_path));
    record.route = Some(String::from_utf8_lossy(matched.arg).into_owned());
    let service = match matched.route.handler {
        Handler::ServiceRpc => Some(matched.arg.to_vec()),
        Handler::InfoRefs => env
            .get("QUERY_STRING")
            .and_then(|q| query_param(q, "service")),
        _ => None,
    };
    record.service = service.as_ref().map(|s| {
        let s = String::from_utf8_lossy(s);
        s.strip_prefix("git-").unwrap_or(&s).to_string()
    });
    // Git LFS hands the client's credentials back in its batch actions; LFS
    // requests run no git, so for them the header may stay after auth.
    let lfs_authorization = is_lfs
        .then(|| env.get("HTTP_AUTHORIZATION").map(<[u8]>::to_vec))
        .flatten();
    crate::policy::auth::authenticate(&mut env)?;
    if let Some(value) = lfs_authorization {
        env.set("HTTP_AUTHORIZATION", value);
    }
    record.user = env
        .get_nonempty("REMOTE_USER")
        .map(|u| String::from_utf8_lossy(u).into_owned());
    let mut subject = crate::policy::Subject::new(&env)?;
    subject.gate_name(matched.repo_path, &env)?;
    let (repo, config, git_config) = if is_lfs {
        // A Git LFS path where LFS is off (or there is no repository to ask) gets
        // the reply stock gives every unknown path.
        let repo = repo::find(matched.repo_path, &env).map_err(|_| not_supported())?;
        subject.gate_found(&repo, &env)?;
        let (config, git_config) =
            config::load_with_file(&repo.git_dir, &env).map_err(|_| not_supported())?;
        if !lfs::enabled(&env, &config) {
            return Err(not_supported());
        }
        check_method(&env)?;
        (repo, config, git_config)
    } else {
        let repo = repo::find(matched.repo_path, &env)?;
        subject.gate_found(&repo, &env)?;
        let (config, git_config) = config::load_with_file(&repo.git_dir, &env)?;
        (repo, config, git_config)
    };
    let max_request_buffer = match env.get("GIT_HTTP_MAX_REQUEST_BUFFER") {
        Some(raw) => gitnum::parse_unsigned(&String::from_utf8_lossy(raw))
            .ok_or_else(|| HttpError::die("failed to parse GIT_HTTP_MAX_REQUEST_BUFFER"))?,
        None => config
            .max_request_buffer
            .unwrap_or(DEFAULT_MAX_REQUEST_BUFFER),
    };
    if let Some(proto) = env.get("HTTP_GIT_PROTOCOL").map(<[u8]>::to_vec) {
        env.set_default("GIT_PROTOCOL", proto);
    }
    // Overload protection: the smart services enter the gate right before git
    // starts (dumb files need no long-running git child).
    let gate = Gate::new(repo.git_dir.to_string_lossy(), Limits::from_env(&env)?);
    let ctx = Context {
        env,
        repo,
        config,
        git_config,
        max_request_buffer,
        arg: matched.arg.to_vec(),
        gate,
        subject,
    };
    match matched.route.handler {
        Handler::Head => dumb::head(&ctx, resp),
        Handler::InfoRefs => match ctx.query_param("service") {
            Some(service) => smart::advertise(&ctx, resp, &service),
            None => dumb::info_refs(&ctx, resp),
        },
        Handler::TextFile => dumb::local_file(&ctx, resp, "text/plain", Caching::Never),
        Handler::InfoPacks => dumb::info_packs(&ctx, resp),
        Handler::LooseObject => dumb::local_file(
            &ctx,
            resp,
            "application/x-git-loose-object",
            Caching::Forever,
        ),
        Handler::Pack => dumb::local_file(
            &ctx,
            resp,
            "application/x-git-packed-objects",
            Caching::Forever,
        ),
        Handler::PackIndex => dumb::local_file(
            &ctx,
            resp,
            "application/x-git-packed-objects-toc",
            Caching::Forever,
        ),
        Handler::ServiceRpc => smart::rpc(&ctx, resp, body),
        lfs_route => lfs::serve(lfs_route, &ctx, resp, body),
    }
}

/// The repository part of the request path as the client named it: below
/// `GIT_PROJECT_ROOT` when that is set.
fn shown_repo(env: &crate::request::Env, path: &[u8]) -> String {
    let rel = match env.get_nonempty("GIT_PROJECT_ROOT") {
        Some(root) => {
            let root = root.strip_suffix(b"/").unwrap_or(root);
            path.strip_prefix(root).unwrap_or(path)
        }
        None => path,
    };
    String::from_utf8_lossy(rel).into_owned()
}

fn hex_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// git's `url_decode_internal`: `+` is a space, `%XX` a byte (not `%00`), up to
/// and consuming the first byte in `stop_at`.
fn url_decode<'q>(query: &'q [u8], stop_at: &[u8]) -> (Vec<u8>, &'q [u8]) {
    let mut out = Vec::new();
    let mut i = 0;
    while i < query.len() {
        let c = query[i];
        if stop_at.contains(&c) {
            return (out, &query[i + 1..]);
        }
        if c == b'%'
            && i + 2 < query.len()
            && let (Some(h), Some(l)) = (hex_value(query[i + 1]), hex_value(query[i + 2]))
        {
            let v = h << 4 | l;
            if v != 0 {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if c == b'+' { b' ' } else { c });
        i += 1;
    }
    (out, &query[query.len()..])
}

/// The value of the query parameter `name`, decoded as git-http-backend does (the
/// last occurrence wins).
pub fn query_param(query: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut rest = query;
    let mut found = None;
    while !rest.is_empty() {
        let (n, after_name) = url_decode(rest, b"&=");
        let (v, after_value) = url_decode(after_name, b"&");
        rest = after_value;
        if n == name.as_bytes() {
            found = Some(v);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::query_param;

    #[test]
    fn query_decoding() {
        let q =
            |s: &str| query_param(s.as_bytes(), "service").map(|v| String::from_utf8(v).unwrap());
        assert_eq!(
            q("service=git-upload-pack").as_deref(),
            Some("git-upload-pack")
        );
        assert_eq!(
            q("service=git%2dupload+pack").as_deref(),
            Some("git-upload pack")
        );
        assert_eq!(q("service=a&service=b").as_deref(), Some("b"));
        assert_eq!(q("x=1&service=%zz").as_deref(), Some("%zz"));
        assert_eq!(q("service=%00").as_deref(), Some("%00"));
        assert_eq!(q("service=%4").as_deref(), Some("%4"));
        assert_eq!(q("a&service=x").as_deref(), None);
        assert_eq!(q("serv%69ce=x").as_deref(), Some("x"));
        assert_eq!(q("").as_deref(), None);
        assert_eq!(q("service").as_deref(), Some(""));
    }
}

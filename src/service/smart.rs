//! Smart HTTP: the ref advertisement (`info/refs?service=`) and the RPC POSTs.

use super::advertise;
use super::relay::{self, Input};
use super::{Context, Service};
use crate::body;
use crate::child::GitChild;
use crate::error::{HttpError, Result};
use crate::pktline;
use crate::policy;
use crate::request::{Env, Head, Response};
use std::io::Read;

/// At most this much of a push's command list is read ahead of git (about 10,000
/// ref updates); a longer list streams on to git unjudged.
pub const COMMAND_LIST_LIMIT: u64 = 1 << 20;

/// True if `GIT_PROTOCOL` asks for protocol v2 (an entry `version=2`, the highest
/// version named wins, as in git's `determine_protocol_version_server`).
pub fn is_v2(env: &Env) -> bool {
    let Some(proto) = env.get("GIT_PROTOCOL") else {
        return false;
    };
    let mut version = 0;
    for item in proto.split(|&b| b == b':') {
        if let Some(v) = item.strip_prefix(b"version=") {
            let v = match v {
                b"0" => 0,
                b"1" => 1,
                b"2" => 2,
                _ => -1,
            };
            version = version.max(v);
        }
    }
    version == 2
}

/// The environment git children get: the request's, with git-http-backend's
/// committer defaults, and `GIT_DIR` as git-http-backend exports it.
pub fn child_env(ctx: &Context) -> Env {
    let mut env = ctx.env.clone();
    let user = env
        .get_nonempty("REMOTE_USER")
        .unwrap_or(b"anonymous")
        .to_vec();
    let host = env
        .get_nonempty("REMOTE_ADDR")
        .unwrap_or(b"(none)")
        .to_vec();
    env.set_default("GIT_COMMITTER_NAME", &user);
    let mut email = user;
    email.extend_from_slice(b"@http.");
    email.extend_from_slice(&host);
    env.set_default("GIT_COMMITTER_EMAIL", email);
    env.set("GIT_DIR", ".");
    // git-http-backend's setup_path() puts git's exec path in front of PATH.
    if let Some(exec_path) = crate::config::git_exec_path(&env) {
        let mut path = crate::os::os_to_bytes(exec_path.into_os_string());
        path.push(if cfg!(windows) { b';' } else { b':' });
        path.extend_from_slice(env.get("PATH").unwrap_or(b"/usr/bin:/bin"));
        env.set("PATH", path);
    }
    env
}

/// Adds `key=value` pairs to the git configuration of a child the way `git -c`
/// does: appended to `GIT_CONFIG_PARAMETERS` (which beats every config file and
/// `GIT_CONFIG_COUNT`), so a setting of ours cannot be undone by the repository.
pub fn add_config(env: &mut Env, config: &[(String, String)]) {
    if config.is_empty() {
        return;
    }
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let mut params = env
        .get("GIT_CONFIG_PARAMETERS")
        .unwrap_or_default()
        .to_vec();
    for (key, value) in config {
        if !params.is_empty() {
            params.push(b' ');
        }
        params.extend(format!("{}={}", quote(key), quote(value)).into_bytes());
    }
    env.set("GIT_CONFIG_PARAMETERS", params);
}

fn spawn(ctx: &Context, args: &[&str], stdin: bool) -> Result<GitChild> {
    spawn_with(ctx, args, stdin, &[])
}

fn spawn_with(
    ctx: &Context,
    args: &[&str],
    stdin: bool,
    config: &[(String, String)],
) -> Result<GitChild> {
    let mut env = child_env(ctx);
    add_config(&mut env, config);
    spawn_with_env(ctx, &env, args, stdin)
}

fn spawn_with_env(ctx: &Context, env: &Env, args: &[&str], stdin: bool) -> Result<GitChild> {
    GitChild::spawn(env, &ctx.repo.git_dir, args, stdin).map_err(|e| {
        if crate::resources::is_exhaustion(&e) {
            crate::resources::unavailable("starting git", &e)
        } else {
            HttpError::die(e.to_string())
        }
    })
}

/// `GET info/refs?service=git-<svc>`.
pub fn advertise(ctx: &Context, resp: &mut Response<'_>, service_name: &[u8]) -> Result<i32> {
    let svc = policy::select_service(ctx, service_name)?;
    let head = Head::ok().nocache().header(
        "Content-Type",
        format!("application/x-git-{}-advertisement", svc.name),
    );
    let mut preamble = Vec::new();
    if !is_v2(&ctx.env) {
        preamble = pktline::encode(format!("# service=git-{}\n", svc.name).as_bytes());
        preamble.extend_from_slice(pktline::FLUSH);
    }
    let persist = !crate::child::is_resident();
    if let Some(body) = advertise::info_refs(
        &ctx.repo.git_dir,
        &child_env(ctx),
        &ctx.git_config,
        svc.name,
        persist,
    ) {
        preamble.extend_from_slice(&body);
        resp.send_full(&head, &preamble)
            .map_err(|e| HttpError::die(format!("writing the advertisement: {e}")))?;
        return Ok(0);
    }
    let _slot = ctx.gate.enter()?;
    let child = spawn(ctx, &[svc.name, "--http-backend-info-refs", "."], false)?;
    relay::run(child, None, resp, &head, &preamble, svc.name)
}

/// A v2 `ls-refs` request served without git (None: git serves it).
fn ls_refs_in_process(ctx: &Context, svc: &Service, buffered: &body::Buffered) -> Option<Vec<u8>> {
    const LIMIT: u64 = 64 * 1024;
    if svc.name != "upload-pack" || !is_v2(&ctx.env) {
        return None;
    }
    let body::Buffered::Memory(data) = buffered else {
        return None;
    };
    let plain;
    let request: &[u8] = if body::is_gzip(&ctx.env) {
        let mut out = Vec::new();
        body::Gunzip::new(data.as_slice())
            .take(LIMIT + 1)
            .read_to_end(&mut out)
            .ok()?;
        if out.len() as u64 > LIMIT {
            return None;
        }
        plain = out;
        &plain
    } else {
        data
    };
    let persist = !crate::child::is_resident();
    advertise::ls_refs(
        &ctx.repo.git_dir,
        &child_env(ctx),
        &ctx.git_config,
        request,
        persist,
    )
}

fn check_content_type(ctx: &Context, svc: &Service) -> Result<()> {
    let expected = format!("application/x-git-{}-request", svc.name);
    let actual = ctx.env.get("CONTENT_TYPE").unwrap_or_default();
    if actual != expected.as_bytes() {
        return Err(HttpError::unsupported_media_type(&expected, actual));
    }
    Ok(())
}

/// `POST git-<svc>`: checks, then the child with the request body.
pub fn rpc(ctx: &Context, resp: &mut Response<'_>, body: Box<dyn Read + Send>) -> Result<i32> {
    let svc = policy::select_service(ctx, &ctx.arg)?;
    check_content_type(ctx, svc)?;
    let head = Head::ok().nocache().header(
        "Content-Type",
        format!("application/x-git-{}-result", svc.name),
    );
    let mut config = Vec::new();
    let input = if svc.buffer_input {
        let buffered = body::buffer(&ctx.env, body, ctx.max_request_buffer)?;
        if let Some(reply) = ls_refs_in_process(ctx, svc, &buffered) {
            resp.send_full(&head, &reply)
                .map_err(|e| HttpError::die(format!("writing the ls-refs reply: {e}")))?;
            return Ok(0);
        }
        let data = buffered.into_reader();
        let rest: Box<dyn Read + Send> = if body::is_gzip(&ctx.env) {
            Box::new(body::Gunzip::new(data))
        } else {
            data
        };
        Input {
            prefix: Vec::new(),
            rest,
        }
    } else {
        let mut rest = body::decoded(&ctx.env, body)?;
        let mut prefix = Vec::new();
        if svc.name == "receive-pack" {
            let limit = ctx.max_request_buffer.min(COMMAND_LIST_LIMIT) as usize;
            let commands = pktline::read_command_list(&mut rest, limit).map_err(|e| {
                HttpError::bad_request(format!("reading request body for git-receive-pack: {e}"))
            })?;
            let plan = policy::check_push(ctx, &commands)?;
            if let Some(report) = plan.refusal {
                log::warn!("{}", plan.log);
                // No git runs. The rest of the body (the pack) is read and dropped
                // first, so the client reads our answer rather than a reset.
                std::io::copy(&mut rest, &mut std::io::sink()).map_err(|e| {
                    HttpError::bad_request(format!(
                        "reading request body for git-receive-pack: {e}"
                    ))
                })?;
                resp.send_full(&head, &report).map_err(|e| {
                    HttpError::die(format!("writing reply for git-receive-pack: {e}"))
                })?;
                return Ok(0);
            }
            config = plan.config;
            prefix = commands.raw;
        }
        Input { prefix, rest }
    };
    let mut env = child_env(ctx);
    let hook = if svc.name == "upload-pack" {
        super::pack_cache::upload_pack_config(&env)
    } else {
        None
    };
    let mut args = Vec::new();
    if let Some(hook) = &hook {
        // The pack-objects cache: git runs us as its pack-objects hook.
        args.extend(["-c", hook.as_str()]);
        env.set(super::pack_cache::HOOK_MARKER, "1");
    }
    args.push(svc.name);
    if svc.stateless_rpc {
        args.push("--stateless-rpc");
    }
    args.push(".");
    add_config(&mut env, &config);
    let _slot = ctx.gate.enter()?;
    let child = spawn_with_env(ctx, &env, &args, true)?;
    relay::run(child, Some(input), resp, &head, &[], svc.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_version() {
        let v = |s: &str| is_v2(&Env::from_pairs([("GIT_PROTOCOL", s)]));
        assert!(v("version=2"));
        assert!(v("foo:version=2"));
        assert!(v("version=1:version=2"));
        assert!(!v("version=20"));
        assert!(!v("version=1"));
        assert!(!is_v2(&Env::new()));
    }

    #[test]
    fn config_is_appended() {
        let mut env = Env::from_pairs([("GIT_CONFIG_PARAMETERS", "'a.x'='1'")]);
        add_config(&mut env, &[("a.b".into(), "it's".into())]);
        assert_eq!(
            env.get_str("GIT_CONFIG_PARAMETERS"),
            Some("'a.x'='1' 'a.b'='it'\\''s'")
        );
        let mut env = Env::new();
        add_config(&mut env, &[]);
        assert_eq!(env.get("GIT_CONFIG_PARAMETERS"), None);
        add_config(&mut env, &[("r.d".into(), "true".into())]);
        assert_eq!(env.get_str("GIT_CONFIG_PARAMETERS"), Some("'r.d'='true'"));
    }
}

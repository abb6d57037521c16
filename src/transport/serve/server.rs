//! The accept loop: one task per connection (hyper HTTP/1.1 with keep-alive),
//! one blocking thread per request running [`crate::handler::handle`], and a
//! graceful stop on Ctrl-C or SIGTERM (no new connections, idle ones closed,
//! requests in flight get [`DRAIN_TIME`] to finish).
//!
//! Slow clients cannot exhaust it: at most `--max-connections` connections are
//! served at once (more wait in the kernel's backlog, as with the FastCGI server);
//! a request head must arrive within `GIT_HTTP_HEADER_TIMEOUT` seconds (default
//! 30) and a body at mod_reqtimeout's pace (`GIT_HTTP_BODY_TIMEOUT`, default 20 s,
//! plus one second per `GIT_HTTP_BODY_MIN_RATE` bytes, default 500), so a client
//! that sends one byte a minute is dropped instead of holding a slot.

use super::bridge::{self, BodyLimits, BodyReader, HyperSink, ReplyBody};
use super::cgi_env::{self, ConnInfo};
use super::discover;
use crate::cli::ServeArgs;
use crate::handler;
use crate::request::{Env, Head, Request};
use hyper::body::Incoming;
use hyper::ext::ReasonPhrase;
use hyper::http::{HeaderName, HeaderValue, Method, Response, StatusCode};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;

/// How long requests in flight may run on after a stop signal.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);
/// The largest request head `serve` reads.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// How long a client may take to send a request head (default of
/// `GIT_HTTP_HEADER_TIMEOUT`).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How often "connection cap reached" may be logged while at the cap.
const CAP_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// What every request needs.
struct Shared {
    /// The daemon's environment without request-scoped variables.
    base: Env,
    /// `GIT_PROJECT_ROOT`.
    root: Vec<u8>,
    /// How fast request bodies must arrive.
    body_limits: BodyLimits,
    /// How long a request head may take.
    header_timeout: Duration,
}

/// Reads a number of seconds (or bytes/s) from `GIT_HTTP_*` in `base`.
fn setting(base: &Env, name: &str, default: u64) -> Result<u64, String> {
    match base.get_str(name).map(str::trim) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{name}={v}: expected a whole number")),
    }
}

fn timeouts(base: &Env) -> Result<(BodyLimits, Duration), String> {
    let d = BodyLimits::default();
    let header = setting(base, "GIT_HTTP_HEADER_TIMEOUT", HEADER_TIMEOUT.as_secs())?;
    let limits = BodyLimits {
        idle: d.idle,
        initial: Duration::from_secs(setting(base, "GIT_HTTP_BODY_TIMEOUT", d.initial.as_secs())?),
        min_rate: setting(base, "GIT_HTTP_BODY_MIN_RATE", d.min_rate)?,
    };
    if header == 0 || limits.initial.is_zero() {
        return Err("GIT_HTTP_HEADER_TIMEOUT and GIT_HTTP_BODY_TIMEOUT must be > 0".into());
    }
    Ok((limits, Duration::from_secs(header)))
}

/// The default cap on connections served at once. Unlike the FastCGI server's (the
/// web server in front multiplexes clients onto few connections), `serve` faces
/// clients directly, so its cap is that of a web server (nginx's
/// `worker_connections`); lowered at start if the open-file limit is too small.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// The connection cap to use: the one asked for, else [`DEFAULT_MAX_CONNECTIONS`]
/// within what the open-file limit `nofile` leaves (a quarter kept for git's pipes,
/// repository files and the runtime).
pub fn effective_max_connections(asked: Option<usize>, nofile: u64) -> usize {
    asked.unwrap_or_else(|| {
        let room = (nofile.saturating_sub(64) * 3 / 4) as usize;
        DEFAULT_MAX_CONNECTIONS.min(room).max(16)
    })
}

/// Runs the server until a stop signal; returns the exit code.
pub fn run(opts: ServeArgs) -> i32 {
    crate::os::return_large_allocations();
    let root = match std::fs::canonicalize(&opts.dir) {
        Ok(root) if root.is_dir() => root,
        Ok(root) => {
            log::error!(
                "fatal: serve: cannot use '{}': not a directory",
                root.display()
            );
            return 2;
        }
        Err(e) => {
            log::error!("fatal: serve: cannot use '{}': {e}", opts.dir.display());
            return 2;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("serve")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log::error!("fatal: serve: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let base = Env::daemon_base();
    let (body_limits, header_timeout) = match timeouts(&base) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("serve: {e}");
            return 2;
        }
    };
    let shared = Arc::new(Shared {
        base,
        root: crate::os::os_to_bytes(root.clone().into_os_string()),
        body_limits,
        header_timeout,
    });
    let nofile = crate::os::raise_nofile_limit().unwrap_or_else(|e| {
        log::warn!("serve: cannot raise the open-file limit: {e}");
        1024
    });
    let max_connections = effective_max_connections(opts.max_connections, nofile);
    log::info!("serve: at most {max_connections} connections (open-file limit {nofile})");
    let code = runtime.block_on(serve(root, opts.listen, max_connections, shared));
    // Handler threads still running end when their client writes fail; do not
    // wait long for them.
    runtime.shutdown_timeout(Duration::from_secs(1));
    let killed = crate::child::kill_all();
    if killed > 0 {
        log::error!("serve: {killed} git process(es) still running at exit; killed");
    }
    code
}

fn banner(root: &std::path::Path, local: SocketAddr) -> String {
    let host = match local {
        SocketAddr::V4(a) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        SocketAddr::V6(a) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
        other => other.to_string(),
    };
    let mut out = format!(
        "git-http-backend-rs serve: serving {} on http://{host}/\n",
        root.display()
    );
    let repos = discover::repositories(root);
    if repos.is_empty() {
        out.push_str("no repositories found yet (bare name.git or work trees with .git)\n");
    }
    for rel in &repos {
        let rel = crate::os::os_to_bytes(rel.clone().into_os_string());
        out.push_str(&format!(
            "  git clone http://{host}/{}\n",
            discover::url_path(&rel)
        ));
    }
    out.push_str(
        "pushes need `git config http.receivepack true` in the repository; \
         no TLS and no authentication in this mode\n",
    );
    out
}

async fn serve(
    root: std::path::PathBuf,
    listen: String,
    max_connections: usize,
    shared: Arc<Shared>,
) -> i32 {
    let listener = match TcpListener::bind(listen.as_str()).await {
        Ok(l) => l,
        Err(e) => {
            log::error!("fatal: serve: cannot listen on {listen}: {e}");
            return 1;
        }
    };
    let local = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            log::error!("fatal: serve: no local address for {listen}: {e}");
            return 1;
        }
    };
    {
        let base = &shared.base;
        let mut stdout = std::io::stdout().lock();
        let mut text = banner(&root, local);
        if base.get_nonempty("GIT_HTTP_AUTH_FILE").is_some()
            || base.get_nonempty("GIT_HTTP_ACL_FILE").is_some()
        {
            text.push_str("built-in Basic auth and/or ACL file in force (--auth-file / --acl)\n");
        }
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let stop = stop_signal();
    tokio::pin!(stop);
    let slots = Arc::new(Semaphore::new(max_connections));
    let mut cap_logged: Option<std::time::Instant> = None;
    loop {
        // A free slot first: at the cap, new connections wait in the backlog.
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if cap_logged.is_none_or(|t| t.elapsed() >= CAP_LOG_INTERVAL) {
                    log::warn!(
                        "serve: connection cap reached ({max_connections} connections, \
                         --max-connections): waiting for a free slot"
                    );
                    cap_logged = Some(std::time::Instant::now());
                }
                tokio::select! {
                    _ = &mut stop => break,
                    p = slots.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    Some(_) = conns.join_next(), if !conns.is_empty() => continue,
                }
            }
        };
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let conn = ConnInfo {
                        peer,
                        local: stream.local_addr().unwrap_or(local),
                    };
                    let (shared, stop_rx) = (shared.clone(), stop_rx.clone());
                    conns.spawn(async move {
                        let _slot = permit;
                        serve_conn(stream, conn, shared, stop_rx).await
                    });
                }
                Err(e) => {
                    log::warn!("serve: accepting a connection: {e}");
                    // Out of file descriptors and similar: do not spin.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    log::info!("serve: stopping; {} connection(s) open", conns.len());
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(DRAIN_TIME, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        log::warn!(
            "serve: {} connection(s) still busy after {}s; closing them",
            conns.len(),
            DRAIN_TIME.as_secs()
        );
        crate::error::note_shutdown_cut_off();
        conns.shutdown().await;
    }
    0
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                log::warn!("serve: cannot watch SIGTERM: {e}");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        if let Err(e) = tokio::signal::ctrl_c().await {
            log::warn!("serve: cannot watch Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    }
}

async fn serve_conn(
    stream: TcpStream,
    conn: ConnInfo,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let header_timeout = shared.header_timeout;
    let service = service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle_request(req, conn, shared).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true)
        // Answer clients that shut down their sending side after the request
        // (`nc -N`, some scripts) instead of dropping them.
        .half_close(true)
        // Request heads over 64 KiB get 431: larger headers could not even be
        // handed to git as HTTP_* variables (the kernel refuses the environment).
        .max_buf_size(MAX_HEAD_BYTES)
        .title_case_headers(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = async { stop.wait_for(|stopping| *stopping).await.is_ok() } => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    match result {
        Ok(()) => {}
        // The client left mid-request; the handler logs what that aborted.
        Err(e) if e.is_incomplete_message() => {
            log::info!("serve: connection from {}: {e}", conn.peer)
        }
        // We closed it ourselves: the shutdown wait ran out (the request says so).
        Err(_) if crate::error::shutdown_cut_off() => {}
        Err(e) => log::warn!("serve: connection from {}: {e}", conn.peer),
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<ReplyBody> {
    let mut resp = Response::new(ReplyBody::full(text));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain"),
    );
    resp
}

/// The hyper response for a handler's [`Head`].
fn response_from_head(head: &Head, body: ReplyBody) -> Response<ReplyBody> {
    let mut resp = Response::new(body);
    let status = StatusCode::from_u16(head.status).unwrap_or_else(|_| {
        log::error!("serve: handler gave the bad status {}", head.status);
        StatusCode::INTERNAL_SERVER_ERROR
    });
    *resp.status_mut() = status;
    if status.canonical_reason() != Some(head.reason)
        && let Ok(reason) = ReasonPhrase::try_from(head.reason.as_bytes())
    {
        resp.extensions_mut().insert(reason);
    }
    for (name, value) in &head.headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(n), Ok(v)) => {
                resp.headers_mut().append(n, v);
            }
            _ => log::error!("serve: dropping the malformed reply header {name}: {value:?}"),
        }
    }
    resp
}

async fn handle_request(
    req: hyper::Request<Incoming>,
    conn: ConnInfo,
    shared: Arc<Shared>,
) -> Response<ReplyBody> {
    let (parts, incoming) = req.into_parts();
    let env = match cgi_env::build(&shared.base, &shared.root, &parts, conn) {
        Ok(env) => env,
        Err(cgi_env::EnvError::NulInPath) => {
            log::warn!("serve: {}: NUL byte in the request path", conn.peer);
            return plain(StatusCode::BAD_REQUEST, "Bad Request\n");
        }
    };
    log::info!(
        "serve: {} {} {}",
        conn.peer,
        parts.method,
        parts.uri.path_and_query().map_or("/", |pq| pq.as_str())
    );
    let is_head = parts.method == Method::HEAD;
    let (body_tx, body_rx) = mpsc::channel(bridge::BODY_QUEUE);
    tokio::spawn(bridge::pump_body(incoming, body_tx, shared.body_limits));
    let (head_tx, head_rx) = oneshot::channel();
    let (reply_tx, reply_rx) = mpsc::channel(bridge::REPLY_QUEUE);
    // A thread per request (from crate::pool, which keeps them for the next
    // requests), not tokio's bounded blocking pool: a request waiting for a slow
    // client's body must not hold up any other request.
    let (done_tx, done_rx) = oneshot::channel();
    let spawned = crate::pool::spawn(move || {
        let mut sink = HyperSink::new(head_tx, reply_tx, is_head);
        let request = Request {
            env,
            body: Box::new(BodyReader::new(body_rx)),
        };
        let outcome = handler::handle(request, &mut sink);
        if let Err(e) = sink.finish() {
            log::debug!("serve: end of reply not delivered: {e}");
        }
        let _ = done_tx.send(outcome);
    });
    if let Err(e) = spawned {
        log::error!("serve: cannot start a thread for a request: {e}; answering 503");
        let mut resp = plain(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n");
        resp.headers_mut().insert(
            hyper::header::RETRY_AFTER,
            HeaderValue::from(crate::resources::RETRY_AFTER_SECS),
        );
        return resp;
    }
    match head_rx.await {
        Ok(head) => response_from_head(&head, ReplyBody::Stream(reply_rx)),
        Err(_) => {
            let why = match done_rx.await {
                Ok(outcome) => format!("it ended with {outcome:?}"),
                Err(_) => "it panicked".to_string(),
            };
            log::error!("serve: the handler sent no reply head; {why}");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error\n")
        }
    }
}

//! The accept loop: one thread per connection up to a cap, the web-server address
//! check, and graceful shutdown. Knows nothing about the kind of socket: it takes
//! any [`Acceptor`].
//!
//! Concurrency model: a connection thread reads records for as long as the web
//! server keeps the connection; each request runs on its own thread next to it (see
//! [`super::conn`]). At most `max_connections` connections are served at once; when
//! the cap is reached the loop logs it once and waits for a slot before accepting
//! again, so further connections wait in the kernel's backlog instead of being
//! dropped.
//!
//! Shutdown (when `should_stop` turns true, i.e. SIGTERM/SIGINT): stop accepting
//! (the listener is closed and a socket file we created is removed), close idle
//! connections, let running requests finish for up to [`DRAIN_TIMEOUT`], return 0.

use super::conn::{self, Closer, ConnConfig};
use crate::request::Env;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How often "connection cap reached" may be logged while the server stays at its cap.
const CAP_LOG_INTERVAL: Duration = Duration::from_secs(60);
/// How long running requests may take to finish after SIGTERM.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the loop looks at the stop flag while idle.
const POLL_MS: i32 = 200;

/// A freshly accepted connection, split into halves.
pub struct Accepted {
    /// The read half.
    pub reader: Box<dyn Read + Send>,
    /// The write half.
    pub writer: Box<dyn Write + Send>,
    /// Shuts the connection down (unblocks the reader).
    pub closer: Closer,
    /// The peer's address for TCP, `None` for local transports.
    pub peer: Option<IpAddr>,
    /// For log lines.
    pub label: String,
    /// Makes reads of this connection time out after the given silence (then the
    /// connection loop closes it if no request is in progress).
    pub set_read_timeout: Box<dyn Fn(Option<Duration>) -> io::Result<()> + Send>,
}

/// A source of connections.
pub trait Acceptor {
    /// Waits up to `timeout_ms` for a connection; `Ok(None)` if none came.
    fn accept_timeout(&mut self, timeout_ms: i32) -> io::Result<Option<Accepted>>;
    /// What we listen on, for log lines.
    fn describe(&self) -> String;
    /// Removes what we created (a unix socket file); called once at shutdown.
    fn cleanup(&mut self);
    /// True if serving one connection at a time is how this source works (IIS's
    /// pipe): then reaching the cap is not worth a warning.
    fn one_at_a_time(&self) -> bool {
        false
    }
}

/// Server settings.
pub struct ServerConfig {
    /// The cap on concurrent connections.
    pub max_connections: usize,
    /// The environment requests start from.
    pub base_env: Arc<Env>,
    /// `FCGI_WEB_SERVER_ADDRS`: TCP peers allowed to connect (`None`: anyone).
    pub allowed_peers: Option<Vec<IpAddr>>,
    /// How long a connection without a request in progress may stay silent.
    pub idle_timeout: Option<Duration>,
}

/// Parses `FCGI_WEB_SERVER_ADDRS` (comma-separated IP addresses). Entries that are
/// not addresses are logged and skipped; a set variable with no valid entry lets
/// no TCP peer in.
pub fn parse_web_server_addrs(value: &str) -> Vec<IpAddr> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|s| match s.parse::<IpAddr>() {
            Ok(ip) => Some(canonical(ip)),
            Err(_) => {
                log::warn!("FCGI_WEB_SERVER_ADDRS: '{s}' is not an IP address; ignored");
                None
            }
        })
        .collect()
}

/// Refuses a non-loopback TCP listening address unless `FCGI_WEB_SERVER_ADDRS`
/// limits the peers or the operator opted out (`--allow-remote`): a FastCGI peer
/// is trusted with everything (its params override the daemon's environment,
/// `GIT_CONFIG_PARAMETERS` included), so an open port hands out command execution.
pub fn check_exposure(ip: IpAddr, peers_limited: bool, allow_remote: bool) -> Result<(), String> {
    let ip = canonical(ip);
    if ip.is_loopback() || peers_limited || allow_remote {
        return Ok(());
    }
    Err(format!(
        "refusing to listen for FastCGI on {ip}, which is not a loopback address: \
         anyone who can reach the port could run commands as this user. Set \
         FCGI_WEB_SERVER_ADDRS to the web server's addresses, or pass --allow-remote \
         (GIT_HTTP_ALLOW_REMOTE=1) if a firewall already restricts the port"
    ))
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

struct Entry {
    closer: Closer,
    busy: Arc<AtomicBool>,
}

#[derive(Default)]
struct Registry {
    conns: HashMap<u64, Entry>,
}

struct State {
    registry: Mutex<Registry>,
    changed: Condvar,
}

impl State {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Removes the connection from the registry when its thread ends, even by panic.
struct SlotGuard {
    state: Arc<State>,
    id: u64,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.state.lock().conns.remove(&self.id);
        self.state.changed.notify_all();
    }
}

/// Serves connections from `acceptor` until `should_stop` returns true; returns the
/// exit code.
pub fn run(
    mut acceptor: Box<dyn Acceptor>,
    cfg: ServerConfig,
    should_stop: &dyn Fn() -> bool,
) -> i32 {
    crate::os::return_large_allocations();
    let state = Arc::new(State {
        registry: Mutex::new(Registry::default()),
        changed: Condvar::new(),
    });
    let draining = Arc::new(AtomicBool::new(false));
    let mut next_id: u64 = 0;
    // When the cap was last reported: at most one line a minute while saturated.
    let mut cap_logged: Option<Instant> = None;
    log::info!(
        "FastCGI server on {} (at most {} connections)",
        acceptor.describe(),
        cfg.max_connections
    );
    'accept: while !should_stop() {
        // Wait for a free slot.
        {
            let mut reg = state.lock();
            while reg.conns.len() >= cfg.max_connections {
                if !acceptor.one_at_a_time()
                    && cap_logged.is_none_or(|t| t.elapsed() >= CAP_LOG_INTERVAL)
                {
                    log::warn!(
                        "connection cap reached ({} connections, --max-connections): waiting for a free slot",
                        cfg.max_connections
                    );
                    cap_logged = Some(Instant::now());
                }
                reg = state
                    .changed
                    .wait_timeout(reg, Duration::from_millis(POLL_MS as u64))
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
                if should_stop() {
                    break 'accept;
                }
            }
        }
        let accepted = match acceptor.accept_timeout(POLL_MS) {
            Ok(Some(a)) => a,
            Ok(None) => continue,
            Err(e) => {
                // EMFILE and friends: log, breathe, retry.
                log::error!("accepting a FastCGI connection: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if let (Some(allowed), Some(peer)) = (&cfg.allowed_peers, accepted.peer)
            && !allowed.contains(&canonical(peer))
        {
            log::error!("refusing FastCGI connection from {peer}: not in FCGI_WEB_SERVER_ADDRS");
            (accepted.closer)();
            continue;
        }
        next_id += 1;
        let id = next_id;
        let busy = Arc::new(AtomicBool::new(false));
        state.lock().conns.insert(
            id,
            Entry {
                closer: accepted.closer.clone(),
                busy: busy.clone(),
            },
        );
        let guard = SlotGuard {
            state: state.clone(),
            id,
        };
        if let Err(e) = (accepted.set_read_timeout)(cfg.idle_timeout) {
            log::warn!(
                "FastCGI connection {}: cannot set its idle timeout: {e}",
                accepted.label
            );
        }
        let conn_cfg = ConnConfig {
            base_env: cfg.base_env.clone(),
            max_connections: cfg.max_connections,
            draining: draining.clone(),
            busy,
            label: accepted.label.clone(),
        };
        let Accepted {
            reader,
            writer,
            closer,
            label,
            ..
        } = accepted;
        let spawned = std::thread::Builder::new()
            .name("fcgi-conn".into())
            .spawn(move || {
                let _guard = guard;
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    conn::serve(reader, writer, closer.clone(), conn_cfg)
                }));
                if r.is_err() {
                    log::error!(
                        "FastCGI connection {label}: internal error (panic); connection closed"
                    );
                    closer();
                }
            });
        if let Err(e) = spawned {
            // The closure (and with it the guard) was dropped: the slot is free.
            log::error!("cannot start a thread for a FastCGI connection: {e}; closing it");
        }
    }

    // Shutdown: stop accepting, close idle connections, wait for running requests.
    log::info!("FastCGI server stopping: no new connections; waiting for running requests");
    acceptor.cleanup();
    drop(acceptor);
    draining.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    let mut reg = state.lock();
    loop {
        for entry in reg.conns.values() {
            if !entry.busy.load(Ordering::SeqCst) {
                (entry.closer)();
            }
        }
        if reg.conns.is_empty() {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            crate::error::note_shutdown_cut_off();
            log::warn!(
                "{} FastCGI connection(s) still busy {}s after SIGTERM; exiting anyway",
                reg.conns.len(),
                DRAIN_TIMEOUT.as_secs()
            );
            let killed = crate::child::kill_all();
            if killed > 0 {
                log::warn!("killed {killed} git process(es) of those requests");
            }
            break;
        }
        reg = state
            .changed
            .wait_timeout(
                reg,
                (deadline - now).min(Duration::from_millis(POLL_MS as u64)),
            )
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposure() {
        let any: IpAddr = "0.0.0.0".parse().unwrap();
        assert!(check_exposure("127.0.0.1".parse().unwrap(), false, false).is_ok());
        assert!(check_exposure("::1".parse().unwrap(), false, false).is_ok());
        assert!(check_exposure(any, false, false).is_err());
        assert!(check_exposure(any, true, false).is_ok());
        assert!(check_exposure(any, false, true).is_ok());
    }

    #[test]
    fn web_server_addrs() {
        let v = parse_web_server_addrs(" 127.0.0.1, ::1,bogus,,::ffff:10.0.0.1");
        assert_eq!(
            v,
            vec![
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap(),
                "10.0.0.1".parse().unwrap()
            ]
        );
    }
}

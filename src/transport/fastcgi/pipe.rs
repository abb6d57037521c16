//! IIS's FastCGI transport (Windows): the named pipe IIS hands over as standard
//! input. The Windows counterpart of `listener.rs`: an [`Acceptor`] for
//! [`super::server::run`], so connections are served by the same loop as sockets.
//!
//! IIS (and mod_fcgid on Windows) creates `\\.\pipe\IISFCGI-<uuid>` with a single
//! instance, starts the application with standard input = the pipe's server end,
//! and connects for each request (or keeps the connection). So this process serves
//! one connection at a time (`FCGI_MAX_CONNS=1`); IIS starts more processes for
//! concurrency (`maxInstances`). The cycle is: `ConnectNamedPipe` (a client that
//! connected first, `ERROR_PIPE_CONNECTED`, counts) -> serve the connection until
//! the client closes it or a request without keep-conn ends -> `FlushFileBuffers`
//! and `DisconnectNamedPipe` -> again. The process exits (0) when IIS signals
//! `_FCGI_SHUTDOWN_EVENT_` or when the pipe fails (IIS went away).
//!
//! Logs: under IIS standard error is an invalid handle, so log lines are dropped
//! unless `GIT_HTTP_BACKEND_LOG_FILE` names a file (see `crate::logging`); nothing
//! is ever written as FCGI_STDERR, which IIS would turn into a 500.

use super::conn::Closer;
use super::server::{Accepted, Acceptor};
use crate::os::{self, Accept, Event, Handle, PipeAcceptor};
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The connection currently served; disconnects the pipe when the last half is
/// dropped (after the connection loop has ended), then lets the acceptor go on.
struct Conn {
    pipe: Handle,
    cancel: Arc<Event>,
    timeout: Mutex<Option<Duration>>,
    free: Arc<AtomicBool>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        os::pipe_disconnect(self.pipe);
        self.free.store(true, Ordering::SeqCst);
    }
}

struct Reader {
    conn: Arc<Conn>,
    ev: Event,
}

impl Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let timeout = *self.conn.timeout.lock().unwrap_or_else(|p| p.into_inner());
        os::pipe_read(
            self.conn.pipe,
            buf,
            &self.ev,
            Some(&self.conn.cancel),
            timeout,
        )
    }
}

struct Writer {
    conn: Arc<Conn>,
    ev: Event,
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        os::pipe_write(self.conn.pipe, buf, &self.ev, Some(&self.conn.cancel))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Accepts IIS's connections on the pipe, one at a time.
pub struct PipeListener {
    pipe: Handle,
    acceptor: PipeAcceptor,
    /// False while a connection is being served (until its pipe is disconnected).
    free: Arc<AtomicBool>,
    /// Set when the pipe failed: the server loop then stops.
    failed: Arc<AtomicBool>,
}

impl PipeListener {
    /// A listener on the pipe server end `pipe`; `failed` is set if the pipe breaks.
    pub fn new(pipe: Handle, failed: Arc<AtomicBool>) -> io::Result<PipeListener> {
        Ok(PipeListener {
            pipe,
            acceptor: PipeAcceptor::new(pipe)?,
            free: Arc::new(AtomicBool::new(true)),
            failed,
        })
    }
}

impl Acceptor for PipeListener {
    fn accept_timeout(&mut self, timeout_ms: i32) -> io::Result<Option<Accepted>> {
        let timeout_ms = timeout_ms.max(0) as u32;
        if !self.free.load(Ordering::SeqCst) {
            // The last connection's halves are still being dropped.
            std::thread::sleep(Duration::from_millis(u64::from(timeout_ms.min(10))));
            return Ok(None);
        }
        match self.acceptor.accept(timeout_ms) {
            Ok(Accept::Waiting) => return Ok(None),
            Ok(Accept::Connected) => {}
            Err(e) => {
                log::error!("IIS FastCGI pipe failed: {e}; exiting");
                self.failed.store(true, Ordering::SeqCst);
                return Ok(None);
            }
        }
        self.free.store(false, Ordering::SeqCst);
        let cancel = Arc::new(Event::new(false)?);
        let conn = Arc::new(Conn {
            pipe: self.pipe,
            cancel: cancel.clone(),
            timeout: Mutex::new(None),
            free: self.free.clone(),
        });
        let reader = Reader {
            conn: conn.clone(),
            ev: Event::new(false)?,
        };
        let writer = Writer {
            conn: conn.clone(),
            ev: Event::new(false)?,
        };
        let closer: Closer = Arc::new(move || cancel.set());
        // Only the halves own the connection: it is disconnected when both are gone.
        let timeouts = Arc::downgrade(&conn);
        drop(conn);
        Ok(Some(Accepted {
            reader: Box::new(reader),
            writer: Box::new(writer),
            closer,
            peer: None,
            label: "pipe".to_string(),
            set_read_timeout: Box::new(move |t| {
                if let Some(c) = timeouts.upgrade() {
                    *c.timeout.lock().unwrap_or_else(|p| p.into_inner()) = t;
                }
                Ok(())
            }),
        }))
    }

    fn describe(&self) -> String {
        match std::env::var("_FCGI_X_PIPE_") {
            Ok(name) if !name.is_empty() => format!("the IIS pipe {name}"),
            _ => "the pipe on standard input".to_string(),
        }
    }

    fn cleanup(&mut self) {
        self.acceptor.cancel();
    }

    fn one_at_a_time(&self) -> bool {
        true
    }
}

/// Serves IIS's pipe until shutdown; returns the exit code.
pub fn run(pipe: Handle, cfg: super::server::ServerConfig) -> i32 {
    let failed = Arc::new(AtomicBool::new(false));
    let listener = match PipeListener::new(pipe, failed.clone()) {
        Ok(l) => l,
        Err(e) => {
            log::error!("fatal: setting up the IIS pipe: {e}");
            return 1;
        }
    };
    let shutdown = os::iis_shutdown_event();
    let should_stop =
        move || failed.load(Ordering::SeqCst) || shutdown.is_some_and(os::is_signaled);
    super::server::run(Box::new(listener), cfg, &should_stop)
}

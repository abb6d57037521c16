//! One FastCGI connection: records in, requests to [`crate::handler::handle`],
//! records out. Generic over the byte stream (any `Read` half and `Write` half), so a
//! unix socket, a TCP socket and, later, a Windows named pipe all use this loop.
//!
//! Two threads per busy connection:
//! - the connection thread (the caller of [`serve`]) reads and decodes records the
//!   whole time, so `ABORT_REQUEST`, `GET_VALUES` and a closed connection are seen
//!   while a request runs. STDIN content goes to the request through a bounded
//!   channel (at most [`STDIN_QUEUE`] records queued: memory stays flat however big
//!   the push), an empty STDIN record is the end of the body;
//! - a request thread runs the handler; its reply goes out as STDOUT records of at
//!   most 65535 bytes, then an empty STDOUT record and END_REQUEST with the
//!   handler's exit code as application status.
//!
//! One request at a time per connection (`FCGI_MPXS_CONNS=0`): a BEGIN_REQUEST for
//! another id while one runs gets END_REQUEST with `FCGI_CANT_MPX_CONN`.
//! On ABORT_REQUEST (or the web server closing the connection) the body reader fails
//! and further STDOUT writes fail, so the relay kills the git child; then
//! END_REQUEST goes out.

use super::record::{self, BeginRequest, Decoded, RecordType};
use crate::handler;
use crate::pool;
use crate::request::{CgiSink, Env, Request};
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How many STDIN records may wait for the handler (each at most 64 KiB).
pub const STDIN_QUEUE: usize = 8;
/// The most PARAMS bytes one request may send.
pub const MAX_PARAMS: usize = 4 * 1024 * 1024;
/// Reply bytes gathered before a STDOUT record goes out (a multiple of 8 below
/// 65535, so full records need no padding).
const STDOUT_CHUNK: usize = 65528;

/// Settings and server state one connection needs.
#[derive(Clone)]
pub struct ConnConfig {
    /// The environment every request starts from (`Env::daemon_base()`).
    pub base_env: Arc<Env>,
    /// The server's connection cap, for `FCGI_MAX_CONNS` and `FCGI_MAX_REQS`.
    pub max_connections: usize,
    /// Set by the server when it shuts down: close after the running request.
    pub draining: Arc<AtomicBool>,
    /// Set by this connection while a request is in progress.
    pub busy: Arc<AtomicBool>,
    /// For log lines (`unix socket`, `127.0.0.1:51234`).
    pub label: String,
}

/// Closes the connection in both directions (unblocks the connection thread's read).
pub type Closer = Arc<dyn Fn() + Send + Sync>;

struct Shared<W> {
    out: Mutex<W>,
    broken: AtomicBool,
}

impl<W: Write> Shared<W> {
    fn lock(&self) -> MutexGuard<'_, W> {
        // A panic while holding the lock leaves only bytes behind; keep going.
        self.out.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes already encoded records.
    fn send(&self, bytes: &[u8]) -> io::Result<()> {
        let mut out = self.lock();
        self.send_locked(&mut out, bytes)
    }

    fn send_locked(&self, out: &mut W, bytes: &[u8]) -> io::Result<()> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "FastCGI connection already failed",
            ));
        }
        let r = out.write_all(bytes).and_then(|_| out.flush());
        if r.is_err() {
            self.broken.store(true, Ordering::SeqCst);
        }
        r
    }

    fn send_record(&self, rtype: RecordType, id: u16, content: &[u8]) -> io::Result<()> {
        let mut buf = Vec::with_capacity(16 + content.len());
        record::encode(rtype, id, content, &mut buf);
        self.send(&buf)
    }

    fn end_request(&self, id: u16, app_status: u32, protocol_status: u8) -> io::Result<()> {
        self.send_record(
            RecordType::END_REQUEST,
            id,
            &record::end_request_body(app_status, protocol_status),
        )
    }
}

/// The request's STDOUT: bytes become STDOUT records; fails once the request was
/// aborted.
struct StdoutWriter<W: Write> {
    shared: Arc<Shared<W>>,
    id: u16,
    aborted: Arc<AtomicBool>,
    buf: Vec<u8>,
    scratch: Vec<u8>,
}

impl<W: Write> StdoutWriter<W> {
    fn check(&self) -> io::Result<()> {
        if self.aborted.load(Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "request aborted by the web server",
            ));
        }
        Ok(())
    }

    fn emit(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.check()?;
        self.scratch.clear();
        record::encode_stream(RecordType::STDOUT, self.id, &self.buf, &mut self.scratch);
        self.buf.clear();
        self.shared.send(&self.scratch)
    }
}

impl<W: Write> Write for StdoutWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check()?;
        let room = STDOUT_CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= STDOUT_CHUNK {
            self.emit()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.emit()
    }
}

/// The request body as the handler reads it: fed by the connection thread.
struct BodyReader {
    rx: Receiver<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    eof: bool,
    aborted: Arc<AtomicBool>,
}

impl BodyReader {
    fn aborted_error() -> io::Error {
        io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "request aborted by the web server",
        )
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.aborted.load(Ordering::SeqCst) {
            return Err(Self::aborted_error());
        }
        while self.pos >= self.cur.len() {
            if self.eof || buf.is_empty() {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(chunk) if chunk.is_empty() => self.eof = true,
                Ok(chunk) => {
                    self.cur = chunk;
                    self.pos = 0;
                }
                Err(_) if self.aborted.load(Ordering::SeqCst) => {
                    return Err(Self::aborted_error());
                }
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "FastCGI connection closed before the request body (STDIN) ended",
                    ));
                }
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A request whose handler runs.
struct Running {
    id: u16,
    tx: Option<SyncSender<Vec<u8>>>,
    aborted: Arc<AtomicBool>,
    finished: Arc<AtomicBool>,
    /// The web server's input for this request is over (its empty STDIN record or
    /// the connection's end): closing now cannot cut the web server off mid-send.
    input_done: Arc<AtomicBool>,
    thread: pool::Handle,
}

/// A finished request's thread still waiting to close the connection (without
/// keep-conn) until the web server's input for it is over.
struct Lingering {
    id: u16,
    input_done: Arc<AtomicBool>,
    thread: pool::Handle,
}

enum Phase {
    Idle,
    /// BEGIN_REQUEST seen, gathering PARAMS.
    Params {
        id: u16,
        keep_conn: bool,
        params: Vec<u8>,
    },
    /// A request we refused (unknown role): ignore its streams.
    Refused {
        id: u16,
    },
    Running(Running),
}

/// Why the connection loop stops.
enum Stop {
    /// Clean end (EOF between records, or we closed it).
    Done,
    /// Garbage or a protocol violation: already logged.
    Garbage,
}

struct Conn<W: Write> {
    shared: Arc<Shared<W>>,
    cfg: ConnConfig,
    close: Closer,
    phase: Phase,
    lingering: Option<Lingering>,
}

/// Serves one connection until the web server closes it, a request without
/// keep-conn ends, or garbage arrives. Never panics on bad input; logs one line per
/// problem.
pub fn serve<R, W>(mut reader: R, writer: W, close: Closer, cfg: ConnConfig)
where
    R: Read,
    W: Write + Send + 'static,
{
    let mut conn = Conn {
        shared: Arc::new(Shared {
            out: Mutex::new(writer),
            broken: AtomicBool::new(false),
        }),
        cfg,
        close: close.clone(),
        phase: Phase::Idle,
        lingering: None,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(128 * 1024);
    let mut start = 0;
    let stop = 'outer: loop {
        // Decode every complete record in the buffer.
        loop {
            match record::decode(&buf[start..]) {
                Ok(Decoded::Record(rec, used)) => {
                    start += used;
                    if let Err(stop) = conn.on_record(rec.rtype, rec.request_id, rec.content) {
                        break 'outer stop;
                    }
                }
                Ok(Decoded::Incomplete) => break,
                Err(e) => {
                    log::error!("FastCGI connection {}: {e}; closing it", conn.cfg.label);
                    break 'outer Stop::Garbage;
                }
            }
        }
        if start > 0 {
            buf.drain(..start);
            start = 0;
        }
        let len = buf.len();
        buf.resize(len + 64 * 1024, 0);
        let n = loop {
            match reader.read(&mut buf[len..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The read timeout is the idle timeout: a connection with no
                // request in progress that stayed silent is closed; while a request
                // runs (a long clone sends nothing our way) silence is normal.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    conn.reap_finished();
                    if len == 0 && conn.active_id().is_none() {
                        log::debug!(
                            "FastCGI connection {}: idle too long; closing it",
                            conn.cfg.label
                        );
                        break Ok(0);
                    }
                    continue;
                }
                other => break other,
            }
        };
        match n {
            Ok(0) => {
                buf.truncate(len);
                conn.reap_finished();
                if !buf.is_empty() && conn.active_id().is_some() {
                    log::error!(
                        "FastCGI connection {}: closed in the middle of a record ({} bytes left)",
                        conn.cfg.label,
                        buf.len()
                    );
                    break Stop::Garbage;
                }
                if !buf.is_empty() {
                    // The request had ended (and without keep-conn we closed the
                    // connection) while the web server was still sending.
                    log::debug!(
                        "FastCGI connection {}: closed with {} unread bytes after the request ended",
                        conn.cfg.label,
                        buf.len()
                    );
                }
                break Stop::Done;
            }
            Ok(n) => buf.truncate(len + n),
            Err(e) => {
                buf.truncate(len);
                log::debug!("FastCGI connection {}: read failed: {e}", conn.cfg.label);
                break Stop::Done;
            }
        }
    };
    conn.finish(stop);
    close();
}

impl<W: Write + Send + 'static> Conn<W> {
    /// Reaps a request whose handler has ended, making the connection idle.
    fn reap_finished(&mut self) {
        let done = matches!(&self.phase, Phase::Running(r) if r.finished.load(Ordering::SeqCst));
        if done && let Phase::Running(r) = std::mem::replace(&mut self.phase, Phase::Idle) {
            if r.thread.is_finished() {
                r.thread.join();
            } else {
                // It lingers before closing the connection; the next records
                // (the rest of its STDIN) must still be read meanwhile.
                self.lingering = Some(Lingering {
                    id: r.id,
                    input_done: r.input_done,
                    thread: r.thread,
                });
            }
        }
        if self
            .lingering
            .as_ref()
            .is_some_and(|l| l.thread.is_finished())
            && let Some(l) = self.lingering.take()
        {
            l.thread.join();
        }
    }

    fn active_id(&self) -> Option<u16> {
        match &self.phase {
            Phase::Idle => None,
            Phase::Params { id, .. } => Some(*id),
            // A refused request only has its streams ignored; it blocks nothing.
            Phase::Refused { .. } => None,
            Phase::Running(r) => Some(r.id),
        }
    }

    fn send_or_stop(&self, r: io::Result<()>) -> Result<(), Stop> {
        r.map_err(|e| {
            log::debug!("FastCGI connection {}: write failed: {e}", self.cfg.label);
            Stop::Done
        })
    }

    fn on_record(&mut self, rtype: RecordType, id: u16, content: &[u8]) -> Result<(), Stop> {
        // Before reaping: a finished request without keep-conn waits for this to
        // close the connection (see `RequestJob::linger`).
        if rtype == RecordType::STDIN && content.is_empty() {
            if let Phase::Running(r) = &self.phase
                && r.id == id
            {
                r.input_done.store(true, Ordering::SeqCst);
            }
            if let Some(l) = &self.lingering
                && l.id == id
            {
                l.input_done.store(true, Ordering::SeqCst);
            }
        }
        self.reap_finished();
        match rtype {
            RecordType::GET_VALUES => self.get_values(content),
            RecordType::BEGIN_REQUEST => self.begin(id, content),
            RecordType::PARAMS => self.params(id, content),
            RecordType::STDIN => {
                self.stdin(id, content);
                Ok(())
            }
            RecordType::ABORT_REQUEST => self.abort(id),
            RecordType::DATA => Ok(()), // filter role only; we refuse that role
            RecordType::END_REQUEST
            | RecordType::STDOUT
            | RecordType::STDERR
            | RecordType::GET_VALUES_RESULT
            | RecordType::UNKNOWN_TYPE => {
                log::warn!(
                    "FastCGI connection {}: ignoring a record of type {} that only an application sends",
                    self.cfg.label,
                    rtype.0
                );
                Ok(())
            }
            other => {
                log::warn!(
                    "FastCGI connection {}: unknown record type {}; answering UNKNOWN_TYPE",
                    self.cfg.label,
                    other.0
                );
                let r = self.shared.send_record(
                    RecordType::UNKNOWN_TYPE,
                    0,
                    &record::unknown_type_body(other),
                );
                self.send_or_stop(r)
            }
        }
    }

    fn get_values(&mut self, content: &[u8]) -> Result<(), Stop> {
        let names = record::decode_pairs(content).unwrap_or_else(|e| {
            log::warn!(
                "FastCGI connection {}: GET_VALUES: {e}; answering what parsed",
                self.cfg.label
            );
            Vec::new()
        });
        let max = self.cfg.max_connections.to_string();
        let mut reply = Vec::new();
        for (name, _) in names {
            let value = match name.as_slice() {
                b"FCGI_MAX_CONNS" | b"FCGI_MAX_REQS" => max.as_bytes(),
                b"FCGI_MPXS_CONNS" => b"0",
                _ => continue,
            };
            record::encode_pair(&name, value, &mut reply);
        }
        let r = self
            .shared
            .send_record(RecordType::GET_VALUES_RESULT, 0, &reply);
        self.send_or_stop(r)
    }

    fn begin(&mut self, id: u16, content: &[u8]) -> Result<(), Stop> {
        let Some(begin) = BeginRequest::parse(content) else {
            log::error!(
                "FastCGI connection {}: BEGIN_REQUEST with a {}-byte body (expected 8); closing it",
                self.cfg.label,
                content.len()
            );
            return Err(Stop::Garbage);
        };
        if id == 0 {
            log::error!(
                "FastCGI connection {}: BEGIN_REQUEST with request id 0; closing it",
                self.cfg.label
            );
            return Err(Stop::Garbage);
        }
        if let Some(active) = self.active_id() {
            if active == id {
                log::warn!(
                    "FastCGI connection {}: second BEGIN_REQUEST for active request {id}; ignored",
                    self.cfg.label
                );
                return Ok(());
            }
            log::warn!(
                "FastCGI connection {}: request {id} while request {active} runs; answering FCGI_CANT_MPX_CONN",
                self.cfg.label
            );
            let r = self.shared.end_request(id, 0, record::CANT_MPX_CONN);
            return self.send_or_stop(r);
        }
        if begin.role != record::ROLE_RESPONDER {
            log::warn!(
                "FastCGI connection {}: role {} requested; only the responder role (1) is played: FCGI_UNKNOWN_ROLE",
                self.cfg.label,
                begin.role
            );
            let r = self.shared.end_request(id, 0, record::UNKNOWN_ROLE);
            self.send_or_stop(r)?;
            if !begin.keep_conn() {
                return Err(Stop::Done);
            }
            self.phase = Phase::Refused { id };
            return Ok(());
        }
        self.cfg.busy.store(true, Ordering::SeqCst);
        self.phase = Phase::Params {
            id,
            keep_conn: begin.keep_conn(),
            params: Vec::new(),
        };
        Ok(())
    }

    fn params(&mut self, id: u16, content: &[u8]) -> Result<(), Stop> {
        let Phase::Params {
            id: active,
            keep_conn,
            params,
        } = &mut self.phase
        else {
            if !matches!(self.phase, Phase::Refused { id: r } if r == id) {
                log::debug!(
                    "FastCGI connection {}: PARAMS for inactive request {id} ignored",
                    self.cfg.label
                );
            }
            return Ok(());
        };
        if *active != id {
            log::debug!(
                "FastCGI connection {}: PARAMS for inactive request {id} ignored",
                self.cfg.label
            );
            return Ok(());
        }
        if !content.is_empty() {
            if params.len() + content.len() > MAX_PARAMS {
                log::error!(
                    "FastCGI connection {}: more than {MAX_PARAMS} bytes of PARAMS; closing it",
                    self.cfg.label
                );
                return Err(Stop::Garbage);
            }
            params.extend_from_slice(content);
            return Ok(());
        }
        let keep_conn = *keep_conn;
        let pairs = match record::decode_pairs(params) {
            Ok(p) => p,
            Err(e) => {
                log::error!(
                    "FastCGI connection {}: PARAMS of request {id}: {e}; closing it",
                    self.cfg.label
                );
                return Err(Stop::Garbage);
            }
        };
        self.phase = Phase::Idle;
        self.start(id, keep_conn, pairs)
    }

    fn start(
        &mut self,
        id: u16,
        keep_conn: bool,
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<(), Stop> {
        let mut env = (*self.cfg.base_env).clone();
        for (name, value) in pairs {
            // What cannot be an environment variable cannot reach git either; a CGI
            // server could not have passed it.
            if name.is_empty() || name.contains(&b'=') || name.contains(&0) || value.contains(&0) {
                log::warn!(
                    "FastCGI connection {}: request {id}: parameter '{}' cannot be an environment variable (empty, '=' or NUL byte); dropped",
                    self.cfg.label,
                    String::from_utf8_lossy(&name).escape_debug()
                );
                continue;
            }
            env.set(name, value);
        }
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(STDIN_QUEUE);
        let aborted = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicBool::new(false));
        let input_done = Arc::new(AtomicBool::new(false));
        let body = BodyReader {
            rx,
            cur: Vec::new(),
            pos: 0,
            eof: false,
            aborted: aborted.clone(),
        };
        let job = RequestJob {
            shared: self.shared.clone(),
            id,
            keep_conn,
            aborted: aborted.clone(),
            finished: finished.clone(),
            input_done: input_done.clone(),
            draining: self.cfg.draining.clone(),
            busy: self.cfg.busy.clone(),
            close: self.close.clone(),
            label: self.cfg.label.clone(),
        };
        let spawned = pool::spawn(move || job.run(env, body));
        match spawned {
            Ok(thread) => {
                self.phase = Phase::Running(Running {
                    id,
                    tx: Some(tx),
                    aborted,
                    finished,
                    input_done,
                    thread,
                });
                Ok(())
            }
            Err(e) => {
                log::error!(
                    "FastCGI connection {}: cannot start a thread for request {id}: {e}; answering FCGI_OVERLOADED",
                    self.cfg.label
                );
                self.cfg.busy.store(false, Ordering::SeqCst);
                let r = self.shared.end_request(id, 0, record::OVERLOADED);
                self.send_or_stop(r)?;
                if keep_conn { Ok(()) } else { Err(Stop::Done) }
            }
        }
    }

    fn stdin(&mut self, id: u16, content: &[u8]) {
        let Phase::Running(r) = &mut self.phase else {
            return;
        };
        if r.id != id {
            return;
        }
        let Some(tx) = &r.tx else {
            return; // body already ended, handler gone or request aborted
        };
        let eof = content.is_empty();
        // Blocks while the queue is full: the web server then waits for us.
        if tx.send(content.to_vec()).is_err() || eof {
            r.tx = None;
        }
    }

    fn abort(&mut self, id: u16) -> Result<(), Stop> {
        match &mut self.phase {
            Phase::Running(r) if r.id == id => {
                log::warn!(
                    "FastCGI connection {}: request {id} aborted by the web server",
                    self.cfg.label
                );
                r.aborted.store(true, Ordering::SeqCst);
                r.tx = None;
                Ok(())
            }
            Phase::Params {
                id: active,
                keep_conn,
                ..
            } if *active == id => {
                let keep = *keep_conn;
                self.phase = Phase::Idle;
                self.cfg.busy.store(false, Ordering::SeqCst);
                let r = self.shared.end_request(id, 0, record::REQUEST_COMPLETE);
                self.send_or_stop(r)?;
                if keep { Ok(()) } else { Err(Stop::Done) }
            }
            Phase::Refused { id: refused } if *refused == id => {
                self.phase = Phase::Idle;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Ends the connection: a running request is aborted and waited for.
    fn finish(&mut self, stop: Stop) {
        if let Phase::Running(r) = std::mem::replace(&mut self.phase, Phase::Idle) {
            r.input_done.store(true, Ordering::SeqCst);
            if !r.finished.load(Ordering::SeqCst) {
                if matches!(stop, Stop::Garbage) || r.tx.is_some() {
                    log::warn!(
                        "FastCGI connection {}: connection ended during request {}; aborting it",
                        self.cfg.label,
                        r.id
                    );
                }
                r.aborted.store(true, Ordering::SeqCst);
                self.shared.broken.store(true, Ordering::SeqCst);
            }
            drop(r.tx);
            r.thread.join();
        }
        if let Some(l) = self.lingering.take() {
            l.input_done.store(true, Ordering::SeqCst);
            l.thread.join();
        }
        self.cfg.busy.store(false, Ordering::SeqCst);
    }
}

/// Everything the request thread needs.
struct RequestJob<W: Write> {
    shared: Arc<Shared<W>>,
    id: u16,
    keep_conn: bool,
    aborted: Arc<AtomicBool>,
    finished: Arc<AtomicBool>,
    input_done: Arc<AtomicBool>,
    draining: Arc<AtomicBool>,
    busy: Arc<AtomicBool>,
    close: Closer,
    label: String,
}

/// How long a finished request without keep-conn waits for the rest of the web
/// server's input (a GET is answered before its empty STDIN record may have left
/// the web server) before closing anyway.
const LINGER: Duration = Duration::from_secs(2);

impl<W: Write + Send + 'static> RequestJob<W> {
    fn run(self, env: Env, body: BodyReader) {
        let writer = StdoutWriter {
            shared: self.shared.clone(),
            id: self.id,
            aborted: self.aborted.clone(),
            buf: Vec::with_capacity(STDOUT_CHUNK),
            scratch: Vec::new(),
        };
        let mut sink = CgiSink::new(writer);
        let request = Request {
            env,
            body: Box::new(body),
        };
        // handle() never panics; the guard is for our own code around it.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let outcome = handler::handle(request, &mut sink);
            let _ = sink.into_inner().flush();
            outcome
        }));
        let app_status = match outcome {
            Ok(o) => o.exit_code as u32,
            Err(_) => {
                log::error!(
                    "FastCGI connection {}: request {} panicked",
                    self.label,
                    self.id
                );
                1
            }
        };
        let aborted = self.aborted.load(Ordering::SeqCst);
        let close = !self.keep_conn || self.draining.load(Ordering::SeqCst);
        {
            // Mark the request finished before END_REQUEST leaves, so the
            // connection thread accepts the web server's next BEGIN_REQUEST.
            let mut out = self.shared.lock();
            let mut tail = Vec::with_capacity(24);
            if !aborted {
                record::encode(RecordType::STDOUT, self.id, b"", &mut tail);
            }
            record::encode(
                RecordType::END_REQUEST,
                self.id,
                &record::end_request_body(app_status, record::REQUEST_COMPLETE),
                &mut tail,
            );
            self.busy.store(false, Ordering::SeqCst);
            self.finished.store(true, Ordering::SeqCst);
            if let Err(e) = self.shared.send_locked(&mut out, &tail) {
                log::debug!(
                    "FastCGI connection {}: END_REQUEST for {} not sent: {e}",
                    self.label,
                    self.id
                );
            }
        }
        if close {
            self.linger();
            (self.close)();
        }
    }

    /// Waits (bounded by [`LINGER`]) until the web server has sent all its input
    /// for this request, or aborted it: closing earlier makes its pending write
    /// fail with EPIPE/ECONNRESET although the reply was complete.
    fn linger(&self) {
        let deadline = Instant::now() + LINGER;
        while !self.input_done.load(Ordering::SeqCst)
            && !self.aborted.load(Ordering::SeqCst)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

#[cfg(test)]
mod tests {
    //! The loop over plain in-process pipes: nothing socket-specific is needed.
    use super::*;

    /// A body reader over `rx`, not aborted.
    fn reader_over(rx: mpsc::Receiver<Vec<u8>>) -> BodyReader {
        BodyReader {
            rx,
            cur: Vec::new(),
            pos: 0,
            eof: false,
            aborted: Arc::new(AtomicBool::new(false)),
        }
    }
    use std::time::{Duration, Instant};

    #[derive(Clone, Default)]
    struct SharedVec(Arc<Mutex<Vec<u8>>>);

    impl Write for SharedVec {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn cfg() -> ConnConfig {
        ConnConfig {
            base_env: Arc::new(Env::from_pairs([("GIT_HTTP_EXPORT_ALL", "1")])),
            max_connections: 7,
            draining: Arc::new(AtomicBool::new(false)),
            busy: Arc::new(AtomicBool::new(false)),
            label: "test".into(),
        }
    }

    /// Decodes everything written so far.
    fn records(out: &SharedVec) -> Vec<(RecordType, u16, Vec<u8>)> {
        let bytes = out.0.lock().unwrap().clone();
        let mut pos = 0;
        let mut v = Vec::new();
        while let Ok(Decoded::Record(r, n)) = record::decode(&bytes[pos..]) {
            v.push((r.rtype, r.request_id, r.content.to_vec()));
            pos += n;
        }
        v
    }

    fn wait_for_end(out: &SharedVec) -> Vec<(RecordType, u16, Vec<u8>)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = records(out);
            if r.iter().any(|(t, _, _)| *t == RecordType::END_REQUEST) {
                return r;
            }
            assert!(Instant::now() < deadline, "no END_REQUEST: {r:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn management_records_and_a_request_over_a_pipe() {
        let (reader, mut input) = io::pipe().unwrap();
        let out = SharedVec::default();
        let writer = out.clone();
        let closed = Arc::new(AtomicBool::new(false));
        let c2 = closed.clone();
        let t = std::thread::spawn(move || {
            serve(
                reader,
                writer,
                Arc::new(move || c2.store(true, Ordering::SeqCst)),
                cfg(),
            )
        });
        let mut req = Vec::new();
        let mut q = Vec::new();
        record::encode_pair(b"FCGI_MAX_CONNS", b"", &mut q);
        record::encode_pair(b"FCGI_MPXS_CONNS", b"", &mut q);
        record::encode(RecordType::GET_VALUES, 0, &q, &mut req);
        record::encode(RecordType(200), 0, b"", &mut req);
        let begin = BeginRequest { role: 1, flags: 0 };
        record::encode(RecordType::BEGIN_REQUEST, 5, &begin.to_bytes(), &mut req);
        let mut params = Vec::new();
        record::encode_pair(b"REQUEST_METHOD", b"GET", &mut params);
        record::encode_pair(b"PATH_TRANSLATED", b"/nonexistent/\xff/HEAD", &mut params);
        record::encode(RecordType::PARAMS, 5, &params, &mut req);
        record::encode(RecordType::PARAMS, 5, b"", &mut req);
        record::encode(RecordType::STDIN, 5, b"", &mut req);
        input.write_all(&req).unwrap();
        let recs = wait_for_end(&out);
        drop(input);
        t.join().unwrap();
        assert!(
            closed.load(Ordering::SeqCst),
            "no keep-conn: the connection is closed"
        );
        let mut expect_values = Vec::new();
        record::encode_pair(b"FCGI_MAX_CONNS", b"7", &mut expect_values);
        record::encode_pair(b"FCGI_MPXS_CONNS", b"0", &mut expect_values);
        assert_eq!(recs[0], (RecordType::GET_VALUES_RESULT, 0, expect_values));
        assert_eq!(
            recs[1],
            (RecordType::UNKNOWN_TYPE, 0, vec![200, 0, 0, 0, 0, 0, 0, 0])
        );
        let stdout: Vec<u8> = recs
            .iter()
            .filter(|(t, id, _)| *t == RecordType::STDOUT && *id == 5)
            .flat_map(|(_, _, c)| c.clone())
            .collect();
        assert!(
            stdout.starts_with(b"Status: 404 Not Found\r\n"),
            "{:?}",
            String::from_utf8_lossy(&stdout)
        );
        let n = recs.len();
        assert_eq!(recs[n - 2], (RecordType::STDOUT, 5, Vec::new()));
        assert_eq!(
            recs[n - 1],
            (
                RecordType::END_REQUEST,
                5,
                record::end_request_body(0, 0).to_vec()
            )
        );
    }

    #[test]
    fn garbage_ends_the_connection() {
        let out = SharedVec::default();
        serve(&b"\x02garbage"[..], out.clone(), Arc::new(|| {}), cfg());
        assert!(records(&out).is_empty());
    }

    #[test]
    fn body_reader_streams_and_reports_abort() {
        let (tx, rx) = mpsc::sync_channel(2);
        let aborted = Arc::new(AtomicBool::new(false));
        let mut body = BodyReader {
            rx,
            cur: Vec::new(),
            pos: 0,
            eof: false,
            aborted: aborted.clone(),
        };
        tx.send(b"abc".to_vec()).unwrap();
        let mut buf = [0u8; 2];
        assert_eq!(body.read(&mut buf).unwrap(), 2);
        assert_eq!(body.read(&mut buf).unwrap(), 1);
        aborted.store(true, Ordering::SeqCst);
        drop(tx);
        assert_eq!(
            body.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::ConnectionAborted
        );
        // Without an abort, a vanished sender before the empty record is an error too.
        let (tx, rx) = mpsc::sync_channel(2);
        let mut body = reader_over(rx);
        tx.send(b"x".to_vec()).unwrap();
        drop(tx);
        let mut s = Vec::new();
        assert_eq!(
            body.read_to_end(&mut s).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        // The empty record is the end.
        let (tx, rx) = mpsc::sync_channel(2);
        let mut body = reader_over(rx);
        tx.send(b"xy".to_vec()).unwrap();
        tx.send(Vec::new()).unwrap();
        let mut s = Vec::new();
        body.read_to_end(&mut s).unwrap();
        assert_eq!(s, b"xy");
    }
}

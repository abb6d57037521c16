//! CGI: the request is the process environment and stdin, the reply goes to stdout.
//!
//! One thing here is transport work rather than protocol: a reply sent before the
//! body was read (a 401 challenge, a 403, a 404 for a POST, or for the PUT of a
//! Git LFS object) leaves the rest of the body unread. Apache's mod_cgid then
//! fails writing it to the script ("AH02651: Error writing request body to
//! script") and may close the connection before the
//! reply's last chunk, so curl reports "transfer closed with outstanding read data
//! remaining" instead of the 401 it should answer with credentials. After such a
//! reply the rest of a small body is read and dropped ([`drain_rest`]), bounded in
//! bytes and time, so the web server always completes the exchange.

use crate::body;
use crate::handler;
use crate::request::{CgiSink, Env, Request};
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// At most this much of an unread body is read and dropped after the reply.
const DRAIN_CAP: u64 = 4 << 20;
/// And for at most this long (a stalled client must not hold the process).
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Serves the one request of this process; returns the process exit code.
pub fn run() -> i32 {
    let env = Env::from_process();
    let unread = unread_after(&env);
    let consumed = Arc::new(AtomicU64::new(0));
    let request = Request {
        env,
        body: Box::new(Counted {
            inner: io::stdin(),
            count: consumed.clone(),
        }),
    };
    let stdout = io::stdout();
    let mut sink = CgiSink::new(io::BufWriter::with_capacity(64 * 1024, stdout.lock()));
    let outcome = handler::handle(request, &mut sink);
    let _ = sink.into_inner().flush();
    if let Some(unread) = unread {
        drain_rest(unread, consumed.load(Ordering::SeqCst));
    }
    outcome.exit_code
}

/// How much body a request brings: `None` for no body (not a POST or PUT (Git
/// LFS uploads), or a `CONTENT_LENGTH` git would refuse), `Some(None)` for "up
/// to EOF".
fn unread_after(env: &Env) -> Option<Option<u64>> {
    if !matches!(env.get("REQUEST_METHOD"), Some(b"POST") | Some(b"PUT")) {
        return None;
    }
    body::content_length(env).ok()
}

/// Reads and drops what is left of the body (`total` bytes, or up to EOF when
/// unknown), at most [`DRAIN_CAP`] bytes and [`DRAIN_TIME`]; a larger or slower
/// rest is left to the web server, as stock git-http-backend leaves all of it.
fn drain_rest(total: Option<u64>, consumed: u64) {
    let left = match total {
        Some(total) if total <= consumed => return,
        Some(total) => (total - consumed).min(DRAIN_CAP),
        None => DRAIN_CAP,
    };
    let (done, wait) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("cgi-drain".into())
        .spawn(move || {
            let _ = io::copy(&mut io::stdin().lock().take(left), &mut io::sink());
            let _ = done.send(());
        });
    if spawned.is_ok() {
        let _ = wait.recv_timeout(DRAIN_TIME);
    }
}

/// Stdin, counting the bytes the handler took.
struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::SeqCst);
        Ok(n)
    }
}

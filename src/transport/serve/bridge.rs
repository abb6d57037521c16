//! The bridge between hyper (async) and the blocking handler.
//!
//! - Request body: [`pump_body`] moves hyper's `Incoming` frames into a bounded
//!   channel; [`BodyReader`] is the blocking [`Read`] end the handler gets. A full
//!   channel stops the pump, which stops reading the socket: backpressure, so a
//!   200 MB push never sits in memory.
//! - Reply: [`HyperSink`] sends the [`Head`] through a oneshot and body bytes
//!   through a bounded channel into [`ReplyBody`], a streaming hyper body. When the
//!   client goes away hyper drops the body, the channel closes and the sink's
//!   writes fail, so the relay kills the git child.

use crate::request::{Head, ReplySink};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use std::convert::Infallible;
use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Request body frames that may wait between the socket and the handler.
pub const BODY_QUEUE: usize = 4;
/// A request body that sends nothing for this long fails (Apache's `Timeout`).
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Reply chunks that may wait between the handler and the socket.
pub const REPLY_QUEUE: usize = 4;
/// The sink sends its buffer once it holds this many bytes.
pub const REPLY_CHUNK: usize = 32 * 1024;

/// How fast a request body must arrive (Apache mod_reqtimeout's `body=20,MinRate=500`):
/// the client gets `initial` plus one second per `min_rate` bytes it has sent, counting
/// only the time spent waiting for the client (not the time git takes to read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// Silence between two chunks that ends the body.
    pub idle: Duration,
    /// Time allowed before any byte counts.
    pub initial: Duration,
    /// Bytes per second that extend the allowance (0: no rate, only `initial`
    /// from the start... which then is an overall deadline).
    pub min_rate: u64,
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits {
            idle: BODY_IDLE_TIMEOUT,
            initial: Duration::from_secs(20),
            min_rate: 500,
        }
    }
}

impl BodyLimits {
    /// How much longer the client may take, having sent `received` bytes and kept
    /// us waiting `waited` so far.
    pub fn allowance(&self, received: u64, waited: Duration) -> Duration {
        let earned = if self.min_rate == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(received as f64 / self.min_rate as f64)
        };
        (self.initial + earned).saturating_sub(waited)
    }
}

fn timed_out(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, message)
}

/// Moves the request body from hyper into `tx` until it ends, fails, the client is
/// too slow (see [`BodyLimits`]), or the reader is gone.
pub async fn pump_body(
    mut body: Incoming,
    tx: mpsc::Sender<io::Result<Bytes>>,
    limits: BodyLimits,
) {
    let mut received: u64 = 0;
    let mut waited = Duration::ZERO;
    loop {
        let allowance = limits.allowance(received, waited);
        let timeout = allowance.min(limits.idle);
        let started = tokio::time::Instant::now();
        let item = tokio::select! {
            item = tokio::time::timeout(timeout, body.frame()) => match item {
                Ok(item) => item,
                Err(_) => {
                    let message = if allowance <= limits.idle {
                        format!(
                            "reading request body from client: too slow ({received} bytes in \
                             {}s; at least {} bytes/s after the first {}s)",
                            (waited + timeout).as_secs(),
                            limits.min_rate,
                            limits.initial.as_secs()
                        )
                    } else {
                        format!(
                            "reading request body from client: nothing arrived for {}s",
                            limits.idle.as_secs()
                        )
                    };
                    let _ = tx.send(Err(timed_out(message))).await;
                    return;
                }
            },
            // The reader was dropped: stop reading the client's body.
            _ = tx.closed() => return,
        };
        match item {
            None => return,
            Some(Ok(frame)) => {
                waited += started.elapsed();
                let data = frame.into_data().unwrap_or_default();
                received += data.len() as u64;
                if !data.is_empty() && tx.send(Ok(data)).await.is_err() {
                    return;
                }
            }
            Some(Err(e)) => {
                let _ = tx
                    .send(Err(io::Error::other(format!(
                        "reading request body from client: {e}"
                    ))))
                    .await;
                return;
            }
        }
    }
}

/// The blocking end of the request body channel.
pub struct BodyReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
    done: bool,
}

impl BodyReader {
    /// Reads what [`pump_body`] sends into the other end of `rx`.
    pub fn new(rx: mpsc::Receiver<io::Result<Bytes>>) -> BodyReader {
        BodyReader {
            rx,
            current: Bytes::new(),
            done: false,
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.current.is_empty() {
            if self.done {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Ok(data)) => self.current = data,
                Some(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                None => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the client closed the connection",
    )
}

/// The handler's [`ReplySink`] in `serve` mode. Used on a blocking thread only.
pub struct HyperSink {
    head_tx: Option<oneshot::Sender<Head>>,
    body_tx: Option<mpsc::Sender<Bytes>>,
    buf: BytesMut,
    discard_body: bool,
}

impl HyperSink {
    /// A sink that sends the head into `head_tx` and the body into `body_tx`;
    /// with `discard_body` (a HEAD request) body bytes are dropped.
    pub fn new(
        head_tx: oneshot::Sender<Head>,
        body_tx: mpsc::Sender<Bytes>,
        discard_body: bool,
    ) -> HyperSink {
        HyperSink {
            head_tx: Some(head_tx),
            body_tx: Some(body_tx),
            buf: BytesMut::new(),
            discard_body,
        }
    }

    fn send_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = self.buf.split().freeze();
        match &self.body_tx {
            Some(tx) => tx.blocking_send(chunk).map_err(|_| gone()),
            None => Err(gone()),
        }
    }

    /// Sends what is buffered and ends the body.
    pub fn finish(mut self) -> io::Result<()> {
        let result = self.send_buf();
        self.body_tx = None;
        result
    }
}

impl ReplySink for HyperSink {
    fn send_head(&mut self, head: &Head) -> io::Result<()> {
        let tx = self
            .head_tx
            .take()
            .ok_or_else(|| io::Error::other("reply head sent twice"))?;
        tx.send(head.clone()).map_err(|_| gone())
    }

    fn write_body(&mut self, data: &[u8]) -> io::Result<()> {
        if self.discard_body {
            return Ok(());
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= REPLY_CHUNK {
            self.send_buf()?;
        }
        Ok(())
    }

    fn flush_body(&mut self) -> io::Result<()> {
        self.send_buf()
    }
}

/// A reply body: a stream from a [`HyperSink`], or fixed bytes.
pub enum ReplyBody {
    /// Chunks from the handler's sink.
    Stream(mpsc::Receiver<Bytes>),
    /// A complete body (transport-level errors).
    Full(Option<Bytes>),
}

impl ReplyBody {
    /// A fixed body.
    pub fn full(data: impl Into<Bytes>) -> ReplyBody {
        ReplyBody::Full(Some(data.into()))
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            ReplyBody::Stream(rx) => rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
            ReplyBody::Full(data) => Poll::Ready(data.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ReplyBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReplyBody::Stream(_) => SizeHint::default(),
            ReplyBody::Full(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_allowance_like_mod_reqtimeout() {
        let l = BodyLimits::default();
        assert_eq!(l.allowance(0, Duration::ZERO), Duration::from_secs(20));
        assert_eq!(
            l.allowance(5000, Duration::from_secs(20)),
            Duration::from_secs(10)
        );
        // One byte every 59 s: the allowance runs out.
        assert_eq!(l.allowance(1, Duration::from_secs(59)), Duration::ZERO);
    }

    #[test]
    fn reader_joins_chunks_and_ends() {
        let (tx, rx) = mpsc::channel(4);
        tx.try_send(Ok(Bytes::from_static(b"abc"))).unwrap();
        tx.try_send(Ok(Bytes::from_static(b"de"))).unwrap();
        drop(tx);
        let mut s = String::new();
        BodyReader::new(rx).read_to_string(&mut s).unwrap();
        assert_eq!(s, "abcde");
    }

    #[test]
    fn reader_reports_errors() {
        let (tx, rx) = mpsc::channel(4);
        tx.try_send(Err(io::Error::other("boom"))).unwrap();
        let mut r = BodyReader::new(rx);
        assert!(r.read(&mut [0; 4]).is_err());
        assert_eq!(r.read(&mut [0; 4]).unwrap(), 0);
    }

    #[test]
    fn sink_fails_when_client_is_gone() {
        let (head_tx, head_rx) = oneshot::channel();
        let (body_tx, body_rx) = mpsc::channel(1);
        let mut sink = HyperSink::new(head_tx, body_tx, false);
        sink.send_head(&Head::ok()).unwrap();
        assert_eq!(head_rx.blocking_recv().unwrap().status, 200);
        drop(body_rx);
        sink.write_body(b"x").unwrap();
        assert_eq!(
            sink.flush_body().unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
    }

    #[test]
    fn head_request_body_is_dropped() {
        let (head_tx, _head_rx) = oneshot::channel();
        let (body_tx, mut body_rx) = mpsc::channel(1);
        let mut sink = HyperSink::new(head_tx, body_tx, true);
        sink.write_body(b"xyz").unwrap();
        sink.flush_body().unwrap();
        sink.finish().unwrap();
        assert!(body_rx.blocking_recv().is_none());
    }
}

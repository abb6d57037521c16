//! The relay between a request and a git child: the body streams into the child's
//! stdin on a thread while the child's stdout streams to the client, so neither
//! side can block the other and nothing is held in memory.

use crate::child::GitChild;
use crate::error::{HttpError, Result};
use crate::request::{Head, Response};
use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::time::Duration;

/// What goes into the child's stdin: bytes already read (a buffered request or a
/// push's command list), then the rest of the body.
pub struct Input {
    /// Bytes to send first.
    pub prefix: Vec<u8>,
    /// The remaining body (already length-limited and inflated).
    pub rest: Box<dyn Read + Send>,
}

/// How long to wait for the body pump after git has ended before giving up on it.
const PUMP_GRACE: Duration = Duration::from_secs(10);

fn pump(input: Input, mut stdin: impl Write) -> io::Result<()> {
    let Input { prefix, mut rest } = input;
    let result = stdin
        .write_all(&prefix)
        .and_then(|_| io::copy(&mut rest, &mut stdin).map(|_| ()));
    match result {
        // git closed its stdin: it has what it wanted or failed (and says why).
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// The client is gone: git's output goes nowhere from now on (drained on a thread so
/// git never blocks writing), and git gets [`crate::child::KILL_GRACE`] to notice its
/// input ended and exit by itself (cleaning up after itself) before it is killed.
fn abandon(child: GitChild, mut stdout: impl Read + Send + 'static) {
    let _ = std::thread::Builder::new()
        .name("drain".into())
        .spawn(move || {
            let _ = io::copy(&mut stdout, &mut io::sink());
        });
    child.kill();
}

/// Sends `head` and `preamble`, then relays `child`'s stdout to the client while
/// `input` (if any) is fed to its stdin. Returns the process exit code for the
/// request: 0, or 1 when git or the request body failed.
pub fn run(
    mut child: GitChild,
    input: Option<Input>,
    resp: &mut Response<'_>,
    head: &Head,
    preamble: &[u8],
    service: &str,
) -> Result<i32> {
    let pumped = input.map(|input| {
        let stdin = child.take_stdin().expect("child spawned with a stdin pipe");
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("body-pump".into())
            .spawn(move || {
                let _ = tx.send(pump(input, stdin));
            })
            .map(|_| rx)
    });
    let pumped = match pumped {
        Some(Ok(rx)) => Some(rx),
        Some(Err(e)) => {
            return Err(crate::resources::or_die("cannot start body thread", e));
        }
        None => None,
    };
    let mut stdout = child
        .take_stdout()
        .expect("child spawned with a stdout pipe");

    let sent = resp.send_head(head).and_then(|_| {
        if preamble.is_empty() {
            Ok(())
        } else {
            resp.write_body(preamble)
        }
    });
    if let Err(e) = sent {
        resp.set_git_exit(-1);
        child.kill();
        return Err(HttpError::die(format!(
            "writing reply for git-{service}: {e}"
        )));
    }

    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stdout.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                resp.set_git_exit(-1);
                child.kill();
                return Err(HttpError::die(format!(
                    "reading output of git-{service}: {e}"
                )));
            }
        };
        if let Err(e) = resp.write_body(&buf[..n]).and_then(|_| resp.flush()) {
            resp.set_git_exit(-1);
            abandon(child, stdout);
            return Err(HttpError::die(format!(
                "client went away during git-{service}: {e}"
            )));
        }
    }
    let _ = resp.flush();
    let status = child
        .wait()
        .map_err(|e| HttpError::die(format!("waiting for git-{service}: {e}")))?;
    resp.set_git_exit(status.code().unwrap_or(-1));
    let mut code = if status.success() { 0 } else { 1 };
    if !status.success() {
        log::debug!("git-{service} ended with {status}");
    }
    if let Some(rx) = pumped {
        match rx.recv_timeout(PUMP_GRACE) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                log::error!("fatal: reading request body for git-{service}: {e}");
                code = 1;
            }
            Err(_) => {
                log::error!(
                    "fatal: request body for git-{service} still unread {}s after git ended; abandoned",
                    PUMP_GRACE.as_secs()
                );
                code = 1;
            }
        }
    }
    Ok(code)
}

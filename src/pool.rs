//! Threads for request handlers, kept for the next request instead of started and
//! torn down for each one (a thread's start and the release of its stack cost a
//! daemon about a quarter of a small advertisement's CPU). Elastic: a request
//! finds an idle thread or starts a new one, so a slow request never waits for
//! another, exactly as with a thread per request; a thread idle for
//! [`IDLE_TIME`] ends, and at most [`MAX_IDLE`] wait.
//!
//! ```
//! let h = git_http_backend_rs::pool::spawn(|| { /* the handler */ }).unwrap();
//! h.join();
//! ```

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Duration;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// How long an idle thread waits for another request before it ends.
pub const IDLE_TIME: Duration = Duration::from_secs(10);
/// At most this many idle threads are kept (each holds the stack pages it
/// touched, ~70 KiB, and a zlib state: 16 keep a daemon's idle memory near 2 MiB
/// above a fresh one's).
pub const MAX_IDLE: usize = 16;

/// One idle thread: its id and where to hand it a job.
struct Idle {
    id: u64,
    tx: mpsc::Sender<Job>,
}

static IDLE: Mutex<Vec<Idle>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn idle() -> std::sync::MutexGuard<'static, Vec<Idle>> {
    IDLE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The end of one job, as a `JoinHandle` tells it.
pub struct Handle {
    done: Arc<(Mutex<bool>, Condvar)>,
}

impl Handle {
    /// True once the job has returned (or panicked) and dropped what it held.
    pub fn is_finished(&self) -> bool {
        *self.done.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for the job to end.
    pub fn join(self) {
        let (lock, cvar) = &*self.done;
        let mut done = lock.lock().unwrap_or_else(|p| p.into_inner());
        while !*done {
            done = cvar.wait(done).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Marks a job done when dropped: after it returned or while it unwinds.
struct SetDone(Arc<(Mutex<bool>, Condvar)>);

impl Drop for SetDone {
    fn drop(&mut self) {
        let (lock, cvar) = &*self.0;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cvar.notify_all();
    }
}

/// Runs `f` on an idle pool thread, or on a new one. `Err` only when no thread
/// could be started (then `f` is dropped without running).
pub fn spawn(f: impl FnOnce() + Send + 'static) -> io::Result<Handle> {
    let done = Arc::new((Mutex::new(false), Condvar::new()));
    let guard = SetDone(done.clone());
    let mut job: Job = Box::new(move || {
        let _guard = guard;
        f();
    });
    loop {
        let Some(worker) = idle().pop() else {
            break;
        };
        match worker.tx.send(job) {
            Ok(()) => return Ok(Handle { done }),
            // That thread has just ended: try the next one.
            Err(mpsc::SendError(back)) => job = back,
        }
    }
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("request".into())
        .spawn(move || work(job, tx, rx))?;
    Ok(Handle { done })
}

/// A pool thread: runs `first`, then whatever it is handed while idle.
fn work(first: Job, tx: mpsc::Sender<Job>, rx: mpsc::Receiver<Job>) {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut job = first;
    loop {
        // A panic is the job's own (the handlers catch and log theirs); the
        // thread stays usable.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        {
            let mut idle = idle();
            if idle.len() >= MAX_IDLE {
                return;
            }
            idle.push(Idle { id, tx: tx.clone() });
        }
        job = match rx.recv_timeout(IDLE_TIME) {
            Ok(next) => next,
            Err(_) => {
                let mut idle = idle();
                if let Some(i) = idle.iter().position(|w| w.id == id) {
                    idle.remove(i);
                    return;
                }
                drop(idle);
                // Taken off the idle list just now: its job is on the way.
                match rx.recv() {
                    Ok(next) => next,
                    Err(_) => return,
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn jobs_run_threads_are_reused_and_panics_are_contained() {
        let ran = Arc::new(AtomicUsize::new(0));
        let thread_of = |r: &Arc<AtomicUsize>| {
            let (tx, rx) = mpsc::channel();
            let r = r.clone();
            let h = spawn(move || {
                r.fetch_add(1, Ordering::SeqCst);
                let _ = tx.send(std::thread::current().id());
            })
            .unwrap();
            h.join();
            rx.recv().unwrap()
        };
        let first = thread_of(&ran);
        // One at a time: the same thread serves the next job (other tests may
        // run pool jobs too, so only "some reuse" is certain over a few tries).
        let ids: Vec<_> = (0..8)
            .map(|_| {
                // The thread returns to the idle list just after the job ends.
                std::thread::sleep(Duration::from_millis(10));
                thread_of(&ran)
            })
            .collect();
        assert!(ids.contains(&first), "no thread was reused");
        assert_eq!(ran.load(Ordering::SeqCst), 9);
        // A panicking job ends (its handle says so) and the pool still works.
        let h = spawn(|| panic!("job panics")).unwrap();
        h.join();
        thread_of(&ran);
        // A job that waits does not hold up another one.
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let slow = spawn(move || {
            let _ = gate_rx.recv();
        })
        .unwrap();
        thread_of(&ran);
        assert!(!slow.is_finished());
        gate_tx.send(()).unwrap();
        slow.join();
    }
}

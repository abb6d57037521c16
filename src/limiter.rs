//! Overload protection: how many git children run at once, per repository and in
//! all, with a bounded wait queue per repository (after Gitaly's concurrency
//! limiter). Past the limits a request gets `503 Service Unavailable` with
//! `Retry-After`, decided before git starts and before any reply byte.
//!
//! The handler builds a [`Gate`] per request (the limits from its environment and
//! the repository); the smart services [`Gate::enter`] it right before they start
//! git, after the parts of the request that need no git (an upload-pack request is
//! buffered first), so a client that sends its body slowly does not hold a git slot
//! while it does.
//!
//! The limits hold within one process: a FastCGI server or `serve`. Under CGI each
//! request is its own process, so the web server's own limits apply there
//! (Apache `MaxRequestWorkers`, fcgiwrap's children).
//!
//! Settings (environment, read per request from the daemon's base environment or a
//! FastCGI param; command-line aliases in parentheses):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `GIT_HTTP_MAX_GIT` (`--max-git`) | 4 x CPUs, 8..64 | git children running at once, in all |
//! | `GIT_HTTP_MAX_GIT_PER_REPO` (`--max-git-per-repo`) | half of the above | ... for one repository |
//! | `GIT_HTTP_MAX_QUEUE` (`--max-queue`) | 128 | requests that may wait for a slot of one repository (0: none wait) |
//! | `GIT_HTTP_MAX_QUEUE_WAIT` (`--max-queue-wait`) | 30 | seconds a request waits before it gets 503 |
//! | `GIT_HTTP_RETRY_AFTER` | 5 | the `Retry-After` seconds of a 503 |
//!
//! ```
//! use git_http_backend_rs::limiter::{Limiter, Limits};
//! use std::time::Duration;
//! let limiter = Limiter::new();
//! let limits = Limits { global: 1, per_repo: 1, queue: 0, wait: Duration::ZERO, retry_after: 5 };
//! let permit = limiter.acquire("/srv/a.git", &limits).unwrap();
//! let busy = limiter.acquire("/srv/b.git", &limits).unwrap_err();
//! assert_eq!(busy.status, 503);
//! drop(permit);
//! assert!(limiter.acquire("/srv/b.git", &limits).is_ok());
//! ```

use crate::error::{HttpError, Result};
use crate::request::Env;
use std::collections::HashMap;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The limits one request is judged by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Git children running at once, in all.
    pub global: usize,
    /// Git children running at once for one repository.
    pub per_repo: usize,
    /// Requests that may wait for one repository.
    pub queue: usize,
    /// How long one may wait.
    pub wait: Duration,
    /// `Retry-After` seconds of the 503.
    pub retry_after: u32,
}

/// The default global limit: 4 per CPU, at least 8, at most 64.
pub fn default_global() -> usize {
    // Asked once: `available_parallelism` reads cgroup and /proc files, too
    // much for every request of a daemon.
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cpus = *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    (cpus * 4).clamp(8, 64)
}

/// The default per-repository queue length.
pub const DEFAULT_QUEUE: usize = 128;
/// The default queue wait.
pub const DEFAULT_QUEUE_WAIT: Duration = Duration::from_secs(30);
/// The default `Retry-After`.
pub const DEFAULT_RETRY_AFTER: u32 = 5;

fn number(env: &Env, name: &str) -> Result<Option<u64>> {
    match env.get_str(name).map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| HttpError::die(format!("{name}={v}: expected a whole number"))),
    }
}

impl Limits {
    /// The limits `env` sets (defaults for what it does not); a bad value is an
    /// internal error naming the variable.
    pub fn from_env(env: &Env) -> Result<Limits> {
        let global = number(env, "GIT_HTTP_MAX_GIT")?
            .map_or_else(default_global, |n| n as usize)
            .max(1);
        let per_repo = number(env, "GIT_HTTP_MAX_GIT_PER_REPO")?
            .map_or((global / 2).max(1), |n| n as usize)
            .max(1);
        let queue = number(env, "GIT_HTTP_MAX_QUEUE")?.map_or(DEFAULT_QUEUE, |n| n as usize);
        let wait =
            number(env, "GIT_HTTP_MAX_QUEUE_WAIT")?.map_or(DEFAULT_QUEUE_WAIT, Duration::from_secs);
        let retry_after = number(env, "GIT_HTTP_RETRY_AFTER")?
            .map_or(DEFAULT_RETRY_AFTER, |n| n.min(86_400) as u32);
        Ok(Limits {
            global,
            per_repo,
            queue,
            wait,
            retry_after,
        })
    }
}

/// One request's way through the limiter: the limits that apply to it and the
/// repository it counts against.
#[derive(Debug, Clone)]
pub struct Gate {
    repo: String,
    limits: Option<Limits>,
}

impl Gate {
    /// A gate for `repo` with `limits`.
    pub fn new(repo: impl Into<String>, limits: Limits) -> Gate {
        Gate {
            repo: repo.into(),
            limits: Some(limits),
        }
    }

    /// A gate that lets everything through (tests, tools).
    pub fn open() -> Gate {
        Gate {
            repo: String::new(),
            limits: None,
        }
    }

    /// Takes a slot in the process-wide limiter (waiting in the queue if need be),
    /// or answers 503; `None` for an open gate.
    pub fn enter(&self) -> Result<Option<Permit<'static>>> {
        match &self.limits {
            None => Ok(None),
            Some(limits) => Limiter::global().acquire(&self.repo, limits).map(Some),
        }
    }
}

#[derive(Default)]
struct RepoState {
    running: usize,
    waiting: usize,
}

#[derive(Default)]
struct State {
    running: usize,
    repos: HashMap<String, RepoState>,
}

/// Counts running git children per repository and in all.
pub struct Limiter {
    state: Mutex<State>,
    freed: Condvar,
}

/// A slot for one request's git children; dropping it frees the slot.
pub struct Permit<'a> {
    limiter: &'a Limiter,
    repo: String,
}

impl std::fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit").field("repo", &self.repo).finish()
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut st = self.limiter.lock();
        st.running = st.running.saturating_sub(1);
        if let Some(r) = st.repos.get_mut(&self.repo) {
            r.running = r.running.saturating_sub(1);
            if r.running == 0 && r.waiting == 0 {
                st.repos.remove(&self.repo);
            }
        }
        drop(st);
        self.limiter.freed.notify_all();
    }
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::new()
    }
}

impl Limiter {
    /// An empty limiter.
    pub fn new() -> Limiter {
        Limiter {
            state: Mutex::new(State::default()),
            freed: Condvar::new(),
        }
    }

    /// The process-wide limiter every transport's requests share.
    pub fn global() -> &'static Limiter {
        static LIMITER: OnceLock<Limiter> = OnceLock::new();
        LIMITER.get_or_init(Limiter::new)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a slot for `repo`, waiting in its queue if the limits are reached and
    /// the queue has room; 503 with `Retry-After` otherwise or when the wait ends.
    pub fn acquire(&self, repo: &str, limits: &Limits) -> Result<Permit<'_>> {
        let mut st = self.lock();
        let free = |st: &State| {
            st.running < limits.global
                && st.repos.get(repo).map_or(0, |r| r.running) < limits.per_repo
        };
        if !free(&st) {
            let waiting = st.repos.get(repo).map_or(0, |r| r.waiting);
            if waiting >= limits.queue || limits.wait.is_zero() {
                return Err(self.busy(&st, repo, limits, "its wait queue is full"));
            }
            st.repos.entry(repo.to_string()).or_default().waiting += 1;
            let deadline = Instant::now() + limits.wait;
            while !free(&st) {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                st = self
                    .freed
                    .wait_timeout(st, deadline - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            let ready = free(&st);
            if let Some(r) = st.repos.get_mut(repo) {
                r.waiting -= 1;
            }
            if !ready {
                let why = format!("no slot within {}s", limits.wait.as_secs());
                let e = self.busy(&st, repo, limits, &why);
                if st
                    .repos
                    .get(repo)
                    .is_some_and(|r| r.running == 0 && r.waiting == 0)
                {
                    st.repos.remove(repo);
                }
                return Err(e);
            }
        }
        st.running += 1;
        st.repos.entry(repo.to_string()).or_default().running += 1;
        Ok(Permit {
            limiter: self,
            repo: repo.to_string(),
        })
    }

    fn busy(&self, st: &State, repo: &str, limits: &Limits, why: &str) -> HttpError {
        let r = st.repos.get(repo);
        HttpError::unavailable(
            format!(
                "overloaded: '{repo}' has {} git process(es) running and {} waiting \
                 (limit {} per repository, {} in all, {} running); {why}; answering 503 \
                 (GIT_HTTP_MAX_GIT, GIT_HTTP_MAX_GIT_PER_REPO, GIT_HTTP_MAX_QUEUE)",
                r.map_or(0, |r| r.running),
                r.map_or(0, |r| r.waiting),
                limits.per_repo,
                limits.global,
                st.running,
            ),
            limits.retry_after,
        )
    }

    /// Git children running now (for tests and diagnostics).
    pub fn running(&self) -> usize {
        self.lock().running
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn limits(global: usize, per_repo: usize, queue: usize, wait_ms: u64) -> Limits {
        Limits {
            global,
            per_repo,
            queue,
            wait: Duration::from_millis(wait_ms),
            retry_after: 7,
        }
    }

    #[test]
    fn per_repo_and_global() {
        let l = Limiter::new();
        let lim = limits(3, 2, 0, 0);
        let a1 = l.acquire("a", &lim).unwrap();
        let _a2 = l.acquire("a", &lim).unwrap();
        let e = l.acquire("a", &lim).unwrap_err();
        assert_eq!((e.status, e.retry_after), (503, Some(7)));
        let _b1 = l.acquire("b", &lim).unwrap();
        assert!(l.acquire("c", &lim).is_err(), "global limit");
        drop(a1);
        assert!(l.acquire("c", &lim).is_ok());
    }

    #[test]
    fn queue_waits_then_times_out() {
        let l = Arc::new(Limiter::new());
        let lim = limits(1, 1, 1, 2000);
        let p = l.acquire("a", &lim).unwrap();
        let (l2, lim2) = (l.clone(), lim.clone());
        let waiter = std::thread::spawn(move || {
            let started = Instant::now();
            let ok = l2.acquire("a", &lim2).is_ok();
            (ok, started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(200));
        // The queue (length 1) is full now.
        assert!(l.acquire("a", &lim).is_err());
        drop(p);
        let (ok, waited) = waiter.join().unwrap();
        assert!(ok && waited < Duration::from_millis(1500));
        assert_eq!(l.running(), 0);
        let short = limits(1, 1, 1, 100);
        let _p = l.acquire("a", &short).unwrap();
        let started = Instant::now();
        assert!(l.acquire("a", &short).is_err());
        assert!(started.elapsed() >= Duration::from_millis(100));
    }

    #[test]
    fn settings() {
        let env = Env::from_pairs([
            ("GIT_HTTP_MAX_GIT", "10"),
            ("GIT_HTTP_MAX_QUEUE", "0"),
            ("GIT_HTTP_MAX_QUEUE_WAIT", "3"),
        ]);
        let l = Limits::from_env(&env).unwrap();
        assert_eq!((l.global, l.per_repo, l.queue), (10, 5, 0));
        assert_eq!(l.wait, Duration::from_secs(3));
        let bad = Env::from_pairs([("GIT_HTTP_MAX_GIT", "lots")]);
        assert_eq!(Limits::from_env(&bad).unwrap_err().status, 500);
        let d = Limits::from_env(&Env::new()).unwrap();
        assert!(d.global >= 8 && d.per_repo >= 4);
    }
}

//! git child processes, owned so that none can outlive its request: dropping a
//! [`GitChild`] that was not waited for kills and reaps it.

use crate::request::Env;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The `git` program to run: `GIT_HTTP_BACKEND_GIT` if set, else `git` from PATH.
/// On Windows, `git.exe` in `GIT_EXEC_PATH` comes before PATH (Git for Windows'
/// `mingw64\libexec\git-core` holds one), so IIS's `<environmentVariables>` can
/// name git without touching the system PATH.
pub fn git_program(env: &Env) -> std::ffi::OsString {
    if let Some(p) = env.get_nonempty("GIT_HTTP_BACKEND_GIT") {
        return crate::os::bytes_to_os(p);
    }
    #[cfg(windows)]
    if let Some(dir) = env.get_nonempty("GIT_EXEC_PATH") {
        let exe = PathBuf::from(crate::os::bytes_to_os(dir)).join("git.exe");
        if exe.is_file() {
            return exe.into_os_string();
        }
    }
    "git".into()
}

/// Where `execvp` would find `program` on the search path `path_var`: the program
/// itself if it names a path (contains `/`), else the first executable file
/// `<dir>/<program>` (an empty entry is the current directory).
pub fn find_in_path(program: &[u8], path_var: &[u8]) -> Option<PathBuf> {
    let os_path = |b: &[u8]| PathBuf::from(crate::os::bytes_to_os(b));
    // Windows: `;` separates PATH entries, `\` paths, and `git` means `git.exe`.
    let (sep, is_path) = if cfg!(windows) {
        (
            b';',
            program
                .iter()
                .any(|&b| b == b'/' || b == b'\\' || b == b':'),
        )
    } else {
        (b':', program.contains(&b'/'))
    };
    if is_path {
        return Some(os_path(program));
    }
    let mut names = vec![program.to_vec()];
    if cfg!(windows) && !program.to_ascii_lowercase().ends_with(b".exe") {
        names.insert(0, [program, b".exe"].concat());
    }
    path_var
        .split(|&b| b == sep)
        .flat_map(|dir| {
            let dir = os_path(if dir.is_empty() { b"." } else { dir });
            names.iter().map(move |n| dir.join(os_path(n)))
        })
        .find(|candidate| is_executable(candidate))
}

fn is_executable(p: &Path) -> bool {
    match std::fs::metadata(p) {
        #[cfg(unix)]
        Ok(m) => {
            use std::os::unix::fs::PermissionsExt;
            m.is_file() && m.permissions().mode() & 0o111 != 0
        }
        #[cfg(not(unix))]
        Ok(m) => m.is_file(),
        Err(_) => false,
    }
}

/// The program to start: with a `PATH` in the child's environment and a bare
/// program name, std spawns by fork instead of posix_spawn, which in a resident
/// (FastCGI) server copies the page tables of a multi-threaded process for every
/// request; so a bare name is looked up here first.
/// (Windows: std already searches the child's PATH, adding `.exe`.)
fn resolve_in_path(program: std::ffi::OsString, env: &Env) -> std::ffi::OsString {
    if cfg!(windows) {
        return program;
    }
    let bytes = crate::os::os_to_bytes(program.clone());
    match env.get("PATH").and_then(|path| find_in_path(&bytes, path)) {
        Some(found) => found.into_os_string(),
        None => program,
    }
}

/// Variables IIS gives this process that must not reach git: the pipe's name
/// and the shutdown event's handle are ours alone.
const NOT_FOR_GIT: &[&[u8]] = &[b"_FCGI_X_PIPE_", b"_FCGI_SHUTDOWN_EVENT_"];

/// `git <args>` in `dir` with exactly the environment `env` (nothing inherited;
/// IIS's own pipe variables left out). On Windows without a console window, as
/// under IIS or a service every git would otherwise open one.
pub fn git_command(env: &Env, dir: &Path, args: &[&std::ffi::OsStr]) -> Command {
    let mut cmd = Command::new(resolve_in_path(git_program(env), env));
    cmd.args(args).current_dir(dir).env_clear();
    for (k, v) in env.iter() {
        if NOT_FOR_GIT.contains(&k) {
            continue;
        }
        cmd.env(crate::os::bytes_to_os(k), crate::os::bytes_to_os(v));
    }
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        cmd.creation_flags(crate::os::CREATE_NO_WINDOW);
    }
    cmd
}

/// Process ids of every git child still running, so that a daemon that exits
/// while requests are still running (after its drain timeout) can end them too.
static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<u32>> {
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Set by the daemons (FastCGI, `serve`): each git child gets a process group of
/// its own, so that [`kill_all`] also ends the hooks it runs. CGI mode leaves git
/// in the web server's group, where the server's own timeouts reach it.
static OWN_GROUPS: AtomicBool = AtomicBool::new(false);

/// Starts every later git child in a process group of its own (daemon modes).
pub fn use_process_groups() {
    OWN_GROUPS.store(true, Ordering::SeqCst);
}

/// True in a resident daemon (FastCGI, `serve`), which set [`use_process_groups`].
pub fn is_resident() -> bool {
    OWN_GROUPS.load(Ordering::SeqCst)
}

/// Kills every git child still running, with the hooks it runs when it has its own
/// process group (a daemon calls this just before it exits, when requests outlived
/// the shutdown wait); returns how many there were.
pub fn kill_all() -> usize {
    let pids = std::mem::take(&mut *live());
    let groups = OWN_GROUPS.load(Ordering::SeqCst);
    for &pid in &pids {
        crate::os::kill_process(pid, groups);
    }
    pids.len()
}

/// How long a git child whose request ended early may take to exit by itself (its
/// input has ended) before it is killed.
pub const KILL_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// A running git child.
pub struct GitChild {
    child: Option<Child>,
    what: String,
}

impl GitChild {
    /// Starts `git <args>` in `dir` with exactly the environment `env`.
    pub fn spawn(env: &Env, dir: &Path, args: &[&str], stdin: bool) -> io::Result<GitChild> {
        let os_args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        let mut cmd = git_command(env, dir, &os_args);
        #[cfg(unix)]
        if OWN_GROUPS.load(Ordering::SeqCst) {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        cmd.stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(crate::logging::child_stderr());
        let what = format!("git {}", args.join(" "));
        let child = cmd.spawn().map_err(|e| {
            if crate::resources::is_exhaustion(&e) {
                // Kept as is (with its errno) so the caller answers 503.
                e
            } else {
                io::Error::new(e.kind(), format!("cannot run {what}: {e}"))
            }
        })?;
        live().push(child.id());
        Ok(GitChild {
            child: Some(child),
            what,
        })
    }

    /// What runs, for log lines (`git upload-pack --stateless-rpc .`).
    pub fn what(&self) -> &str {
        &self.what
    }

    /// Takes the child's stdin pipe.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.as_mut().and_then(|c| c.stdin.take())
    }

    /// Takes the child's stdout pipe.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.as_mut().and_then(|c| c.stdout.take())
    }

    /// Waits for the child to end.
    pub fn wait(mut self) -> io::Result<ExitStatus> {
        let mut child = self.child.take().expect("child present until waited");
        drop(child.stdin.take());
        let status = child.wait();
        forget_pid(child.id());
        status
    }

    /// Stops the child (the request was aborted): waits up to [`KILL_GRACE`] for it
    /// to exit by itself, then SIGKILL; reaps it. Its stdout must be drained or
    /// closed by the caller, or git may block writing.
    pub fn kill(mut self) {
        self.kill_now();
    }

    fn kill_now(&mut self) {
        if let Some(mut child) = self.child.take() {
            // git removes its quarantine directory (objects/tmp_objdir-incoming-*)
            // only when it exits normally, which it does soon after its input ends;
            // a signal would leave the directory behind. So: a grace period, then
            // SIGKILL.
            let deadline = std::time::Instant::now() + KILL_GRACE;
            while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
            forget_pid(child.id());
        }
    }
}

fn forget_pid(pid: u32) {
    live().retain(|&p| p != pid);
}

impl Drop for GitChild {
    fn drop(&mut self) {
        self.kill_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_program_order() {
        let env = |pairs: &[(&str, &str)]| Env::from_pairs(pairs.iter().copied());
        assert_eq!(git_program(&env(&[])), "git");
        assert_eq!(
            git_program(&env(&[("GIT_HTTP_BACKEND_GIT", "/opt/git/bin/git")])),
            "/opt/git/bin/git"
        );
        // GIT_EXEC_PATH names a directory holding git.exe: used on Windows only
        // (Git for Windows' libexec\git-core), ignored elsewhere as by the stock
        // program's execvp of "git".
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("git.exe"), b"").unwrap();
        let exec_path = dir.path().to_str().unwrap();
        let found = git_program(&env(&[("GIT_EXEC_PATH", exec_path)]));
        if cfg!(windows) {
            assert_eq!(PathBuf::from(found), dir.path().join("git.exe"));
        } else {
            assert_eq!(found, "git");
        }
        // GIT_HTTP_BACKEND_GIT still wins.
        assert_eq!(
            git_program(&env(&[
                ("GIT_EXEC_PATH", exec_path),
                ("GIT_HTTP_BACKEND_GIT", "x")
            ])),
            "x"
        );
    }

    #[test]
    fn iis_pipe_variables_do_not_reach_git() {
        let env = Env::from_pairs([
            ("_FCGI_X_PIPE_", "\\\\.\\pipe\\IISFCGI-1"),
            ("_FCGI_SHUTDOWN_EVENT_", "1234"),
            ("GIT_PROTOCOL", "version=2"),
        ]);
        let cmd = git_command(&env, Path::new("."), &[]);
        let names: Vec<String> = cmd
            .get_envs()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["GIT_PROTOCOL".to_string()]);
    }
}

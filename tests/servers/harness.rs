//! Starting and stopping real web servers (Apache, nginx + fcgiwrap, lighttpd)
//! from the shipped config files, with only paths, ports and the account
//! substituted; plus the small process helpers the scenarios share.
//!
//! Servers run on free 127.0.0.1 ports with their pid/log/temp files in a
//! temporary directory, as a dedicated unprivileged account when the tests run
//! as root (`ghbtest`, created on first use). A [`Server`] stops every process
//! it started when dropped, also when a test fails.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The account servers and CGIs run as when the tests run as root.
pub const TEST_USER: &str = "ghbtest";
/// The user in the htpasswd file, and its password.
pub const USER: &str = "alice";
/// `USER`'s password.
pub const PASSWORD: &str = "secret";

/// Which backend program a server runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `$(git --exec-path)/git-http-backend`.
    Stock,
    /// This project's binary.
    Ours,
}

impl Backend {
    /// Short name for the matrix.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Stock => "stock",
            Backend::Ours => "ours",
        }
    }
}

/// The web server a setup uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `apache2 -f CONF -DFOREGROUND` (mod_cgid or mod_fcgid inside).
    Apache,
    /// nginx, with fcgiwrap on a unix socket running the backend as a CGI.
    NginxFcgiwrap,
    /// `lighttpd -D -f CONF` (mod_cgi).
    Lighttpd,
    /// nginx talking FastCGI to the backend as a resident server on
    /// `@RUN@/backend.sock` (`git-http-backend-rs --listen unix:...`; stock
    /// behind fcgiwrap on that socket).
    NginxNative,
    /// Like [`Kind::NginxNative`], but the config is nginx/git-fastcgi.conf, an
    /// include for `http {}` with real paths rather than placeholders: the test
    /// substitutes those paths and wraps it in a minimal nginx.conf.
    NginxNativeInclude,
}

/// The paths and port nginx/git-fastcgi.conf ships with, substituted by the test.
const NATIVE_SOCKET: &str = "/run/git-http-backend-rs.sock";
/// See [`NATIVE_SOCKET`].
const NATIVE_ROOT: &str = "/srv/git";
/// See [`NATIVE_SOCKET`].
const NATIVE_LISTEN: &str = "listen 80;";

/// nginx.conf around an `http {}` include (for [`Kind::NginxNative`]).
const NGINX_MAIN: &str = "user @USER@ @GROUP@;
worker_processes 1;
daemon off;
pid @RUN@/nginx.pid;
error_log @RUN@/error.log warn;
events { worker_connections 256; }
http {
    access_log @RUN@/access.log;
    client_body_temp_path @RUN@/client_body;
    fastcgi_temp_path @RUN@/fastcgi_temp;
    proxy_temp_path @RUN@/proxy_temp;
    uwsgi_temp_path @RUN@/uwsgi_temp;
    scgi_temp_path @RUN@/scgi_temp;
    include @RUN@/git-fastcgi.conf;
}
";

/// Who may do what in a setup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// Anonymous read, no way to push (the backend refuses with 403).
    None,
    /// Anonymous read, push after Basic auth (challenged with 401).
    Push,
    /// Everything after Basic auth.
    Private,
    /// As [`Auth::Push`], but the backend checks the password itself
    /// (`GIT_HTTP_AUTH_FILE`): it then also challenges with 401 for a service
    /// that needs a user (upload-archive), so a client with credentials succeeds.
    BackendPush,
}

/// One web-server setup: a shipped config file and what it allows.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    /// Name in the matrix.
    pub name: &'static str,
    /// Config file, relative to the crate root.
    pub config: &'static str,
    /// Which server runs it.
    pub kind: Kind,
    /// Its access rules.
    pub auth: Auth,
    /// The server speaks FastCGI to the backend it starts itself (mod_fcgid):
    /// stock, a CGI program only, then runs behind fcgiwrap (see
    /// [`stock_fastcgi_wrapper`]).
    pub fastcgi: bool,
}

/// For FastCGI setups where the server starts the backend (mod_fcgid): a
/// script that, started with a listening socket on fd 0, becomes fcgiwrap (a
/// FastCGI server running CGIs), and, started by fcgiwrap as the CGI
/// (SCRIPT_FILENAME is this script), runs stock git-http-backend. So stock runs
/// under the very same config as ours.
pub fn stock_fastcgi_wrapper(dir: &Path, stock: &Path) -> PathBuf {
    let path = dir.join("git-http-backend-stock-fcgi");
    let script = format!(
        "#!/bin/sh\n\
         # fd 0 a socket: started by the web server as a FastCGI app.\n\
         if [ -S /dev/stdin ]; then exec fcgiwrap; fi\n\
         exec '{}'\n",
        stock.display()
    );
    fs::write(&path, script).unwrap();
    check(Command::new("chmod").arg("755").arg(&path));
    path
}

/// Runs `cmd`, returning its output; a command that cannot start is a test failure.
pub fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"))
}

/// Runs `cmd` and panics (with its stderr) unless it succeeds; returns stdout.
pub fn check(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether the tests run as root (then servers drop to [`TEST_USER`]).
pub fn is_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| check(Command::new("id").arg("-u")).trim() == "0")
}

/// The account (user, group) servers run as: [`TEST_USER`] when root (created
/// if missing), else the current user.
pub fn account() -> (String, String) {
    static ACCOUNT: OnceLock<(String, String)> = OnceLock::new();
    ACCOUNT
        .get_or_init(|| {
            if is_root() {
                if !run(Command::new("id").arg(TEST_USER)).status.success() {
                    let out = run(Command::new("useradd").args([
                        "--system",
                        "--user-group",
                        "--no-create-home",
                        "--shell",
                        "/usr/sbin/nologin",
                        TEST_USER,
                    ]));
                    // 9: created meanwhile by a parallel test.
                    assert!(
                        out.status.success() || out.status.code() == Some(9),
                        "useradd {TEST_USER}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                (TEST_USER.to_string(), TEST_USER.to_string())
            } else {
                let user = check(Command::new("id").arg("-un")).trim().to_string();
                let group = check(Command::new("id").arg("-gn")).trim().to_string();
                (user, group)
            }
        })
        .clone()
}

/// Gives `path` (recursively) to the servers' account.
pub fn chown_to_account(path: &Path) {
    if is_root() {
        let (u, g) = account();
        check(
            Command::new("chown")
                .arg("-R")
                .arg(format!("{u}:{g}"))
                .arg(path),
        );
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    l.local_addr().expect("local_addr").port()
}

/// The crate root.
pub fn crate_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Fills the `@NAME@` placeholders of a config file; panics if one is left.
pub fn render(template: &str, vars: &[(&str, String)]) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("@{k}@"), v);
    }
    for (n, line) in out.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with('#') {
            continue;
        }
        let bytes: Vec<char> = code.chars().collect();
        for i in 0..bytes.len() {
            if bytes[i] == '@' {
                let rest: String = bytes[i + 1..].iter().collect();
                if let Some(end) = rest.find('@') {
                    let name = &rest[..end];
                    assert!(
                        name.is_empty()
                            || !name.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                        "placeholder @{name}@ left unfilled on line {}: {line}",
                        n + 1
                    );
                }
            }
        }
    }
    out
}

/// A running web server (and its helpers), stopped on drop.
pub struct Server {
    /// Base URL of the repository, e.g. `http://127.0.0.1:PORT/git/repo.git`.
    pub url: String,
    /// The repository on disk.
    pub repo: PathBuf,
    /// The server's directory (config, logs).
    pub run_dir: PathBuf,
    procs: Vec<(String, Child)>,
    // Last: removed after the processes are gone.
    _dir: tempfile::TempDir,
}

/// Name of the repository every setup serves.
pub const REPO: &str = "repo.git";

impl Server {
    /// Starts `setup` with `backend`, serving a bare copy of `seed` (a repository
    /// whose `main` branch is pushed into it).
    pub fn start(setup: &Setup, backend: Backend, seed: &Path) -> Server {
        Server::start_edited(setup, backend, seed, &|conf| conf)
    }

    /// [`Server::start`] with the rendered config passed through `edit` first
    /// (for negative controls: a deliberately broken config).
    pub fn start_edited(
        setup: &Setup,
        backend: Backend,
        seed: &Path,
        edit: &dyn Fn(String) -> String,
    ) -> Server {
        let dir = tempfile::Builder::new()
            .prefix(&format!("ghb-{}-{}-", setup.name, backend.name()))
            .tempdir()
            .expect("temp dir");
        let run_dir = dir.path().to_path_buf();
        let root = run_dir.join("repos");
        let repo = root.join(REPO);
        fs::create_dir_all(run_dir.join("htdocs")).unwrap();
        fs::create_dir_all(run_dir.join("bin")).unwrap();
        check(
            Command::new("git")
                .args(["init", "-q", "--bare", "-b", "main"])
                .arg(&repo),
        );
        // Bare repositories keep no reflog by default; the tests read the pusher
        // from it.
        check(git_in(&repo).args(["config", "core.logAllRefUpdates", "true"]));
        check(
            git_in(seed)
                .arg("push")
                .arg("-q")
                .arg(&repo)
                .arg("main:main"),
        );
        check(
            Command::new("htpasswd")
                .args(["-cb"])
                .arg(run_dir.join("htpasswd"))
                .args([USER, PASSWORD]),
        );
        let backend_path = match backend {
            Backend::Stock => {
                let exec = check(Command::new("git").arg("--exec-path"));
                let stock = PathBuf::from(exec.trim()).join("git-http-backend");
                if setup.fastcgi {
                    stock_fastcgi_wrapper(&run_dir.join("bin"), &stock)
                } else {
                    stock
                }
            }
            Backend::Ours => {
                // A copy, so the server's account can run it whatever the
                // permissions of the cargo target directory.
                let dst = run_dir.join("bin").join("git-http-backend-rs");
                fs::copy(env!("CARGO_BIN_EXE_git-http-backend-rs"), &dst).expect("copy backend");
                dst
            }
        };
        let port = free_port();
        let (user, group) = account();
        let vars = [
            ("PORT", port.to_string()),
            ("RUN", run_dir.display().to_string()),
            ("ROOT", root.display().to_string()),
            ("BACKEND", backend_path.display().to_string()),
            (
                "EXECDIR",
                backend_path.parent().unwrap().display().to_string(),
            ),
            ("HTPASSWD", run_dir.join("htpasswd").display().to_string()),
            ("USER", user.clone()),
            ("GROUP", group.clone()),
        ];
        let template = fs::read_to_string(crate_root().join(setup.config))
            .unwrap_or_else(|e| panic!("reading {}: {e}", setup.config));
        let conf = run_dir.join("server.conf");
        let socket = run_dir.join("backend.sock");
        if setup.kind == Kind::NginxNativeInclude {
            let mut include = template.clone();
            for (from, to) in [
                (NATIVE_SOCKET, socket.display().to_string()),
                (NATIVE_ROOT, root.display().to_string()),
                (NATIVE_LISTEN, format!("listen 127.0.0.1:{port};")),
            ] {
                assert!(
                    include.contains(from),
                    "{} no longer has {from}",
                    setup.config
                );
                include = include.replace(from, &to);
            }
            if backend == Backend::Stock {
                include = stock_behind_fcgiwrap(include, &backend_path);
            }
            fs::write(run_dir.join("git-fastcgi.conf"), edit(include)).unwrap();
            fs::write(&conf, render(NGINX_MAIN, &vars)).unwrap();
        } else {
            let mut text = render(&template, &vars);
            if setup.kind == Kind::NginxNative && backend == Backend::Stock {
                text = stock_behind_fcgiwrap(text, &backend_path);
            }
            fs::write(&conf, edit(text)).unwrap();
        }
        chown_to_account(&run_dir);

        let mut server = Server {
            url: format!("http://127.0.0.1:{port}/git/{REPO}"),
            repo,
            run_dir: run_dir.clone(),
            procs: Vec::new(),
            _dir: dir,
        };
        match setup.kind {
            Kind::Apache => {
                let mut cmd = Command::new("apache2");
                cmd.arg("-f").arg(&conf).arg("-DFOREGROUND");
                server.spawn("apache2", cmd);
            }
            Kind::NginxFcgiwrap => {
                let mut cmd = as_account("fcgiwrap");
                cmd.arg("-s")
                    .arg(format!("unix:{}/fcgiwrap.sock", run_dir.display()))
                    // fcgiwrap hands its own environment to the CGI.
                    .env("HOME", &run_dir);
                server.spawn("fcgiwrap", cmd);
                server.wait_for(|| run_dir.join("fcgiwrap.sock").exists(), "fcgiwrap socket");
                let mut cmd = Command::new("nginx");
                cmd.arg("-c").arg(&conf).arg("-p").arg(&run_dir);
                server.spawn("nginx", cmd);
            }
            Kind::NginxNative | Kind::NginxNativeInclude => {
                let mut cmd = match backend {
                    Backend::Stock => {
                        let mut cmd = as_account("fcgiwrap");
                        cmd.arg("-s").arg(format!("unix:{}", socket.display()));
                        cmd
                    }
                    Backend::Ours => {
                        let mut cmd = as_account(&backend_path.display().to_string());
                        cmd.arg("--listen")
                            .arg(format!("unix:{}", socket.display()));
                        cmd
                    }
                };
                cmd.env("HOME", &run_dir);
                server.spawn("backend", cmd);
                server.wait_for(|| socket.exists(), "backend socket");
                let mut cmd = Command::new("nginx");
                cmd.arg("-c").arg(&conf).arg("-p").arg(&run_dir);
                server.spawn("nginx", cmd);
            }
            Kind::Lighttpd => {
                let mut cmd = Command::new("lighttpd");
                cmd.arg("-D").arg("-f").arg(&conf);
                server.spawn("lighttpd", cmd);
            }
        }
        server.wait_for(
            || TcpStream::connect(("127.0.0.1", port)).is_ok(),
            "listening port",
        );
        server
    }

    /// Starts a process of this server, its output going to RUN/NAME.out.
    fn spawn(&mut self, name: &str, mut cmd: Command) {
        let log = fs::File::create(self.run_dir.join(format!("{name}.out"))).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        self.procs.push((name.to_string(), child));
    }

    /// Waits up to 15 s for `ready`, failing early (with the logs) if a process died.
    fn wait_for(&mut self, mut ready: impl FnMut() -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if ready() {
                return;
            }
            let dead = self.procs.iter_mut().find_map(|(name, child)| {
                child
                    .try_wait()
                    .ok()
                    .flatten()
                    .map(|st| format!("{name} exited ({st})"))
            });
            if let Some(dead) = dead {
                panic!("{dead} before {what}:\n{}", self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's logs, for failure messages.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        let Ok(entries) = fs::read_dir(&self.run_dir) else {
            return s;
        };
        let mut names: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        names.sort();
        for p in names {
            let is_log = p.extension().is_some_and(|e| e == "log" || e == "out");
            if is_log {
                let text = fs::read_to_string(&p).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                s.push_str(&format!("--- {} (last lines)\n", p.display()));
                for l in tail.iter().rev() {
                    s.push_str(l);
                    s.push('\n');
                }
            }
        }
        s
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Newest first (nginx before fcgiwrap). SIGTERM lets Apache and nginx
        // stop their workers and the cgid daemon; SIGKILL if that hangs.
        while let Some((_name, mut child)) = self.procs.pop() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
    }
}

/// The two changes a native-FastCGI nginx config needs to run stock
/// git-http-backend behind fcgiwrap instead of ours: fcgiwrap must be told
/// which CGI to run (SCRIPT_FILENAME; ours ignores it), and it does not cope
/// with kept-alive upstream connections: with `fastcgi_keep_conn on` a second
/// connection waits until nginx drops the idle one (60 s per request), and
/// with an upstream `keepalive` pool (even with keep_conn off) about one run
/// in four saw "upstream prematurely closed connection" (502) on some request.
fn stock_behind_fcgiwrap(conf: String, stock: &Path) -> String {
    assert!(
        conf.contains("fastcgi_keep_conn on;")
            && conf.contains("fastcgi_pass git_http_backend_rs;")
    );
    conf.replace("fastcgi_keep_conn on;", "fastcgi_keep_conn off;")
        .replace("keepalive 8;", "")
        .replace(
            "fastcgi_pass git_http_backend_rs;",
            &format!(
                "fastcgi_pass git_http_backend_rs;\n        fastcgi_param SCRIPT_FILENAME {};",
                stock.display()
            ),
        )
}

/// A command that runs `program` as the servers' account (via `setpriv` when root).
pub fn as_account(program: &str) -> Command {
    if is_root() {
        let (u, g) = account();
        let mut cmd = Command::new("setpriv");
        cmd.arg(format!("--reuid={u}"))
            .arg(format!("--regid={g}"))
            .arg("--init-groups")
            .arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

/// `git -C dir` with the clients' isolated environment.
pub fn git_in(dir: &Path) -> Command {
    let mut cmd = git();
    cmd.arg("-C").arg(dir);
    cmd
}

/// `git` with an isolated environment: no system/global config, no prompts,
/// an identity, and `safe.directory=*` (root inspects repositories the
/// servers' account owns).
pub fn git() -> Command {
    let mut cmd = Command::new("git");
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_ASKPASS")
        .env_remove("SSH_ASKPASS")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "safe.directory")
        .env("GIT_CONFIG_VALUE_0", "*");
    for v in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_PROTOCOL",
        "GIT_TRACE",
        "GIT_SMART_HTTP",
    ] {
        cmd.env_remove(v);
    }
    cmd
}

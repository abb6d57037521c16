//! End to end: real git clients -> real nginx (with the shipped
//! nginx/git-fastcgi.conf, only paths and ports substituted) -> our binary as a
//! native FastCGI server, started by spawn-fcgi or systemd-style socket activation.
// These tests drive the Linux build with Linux web servers and git (Windows: tests/windows_iis.rs).
#![cfg(unix)]

mod common;
use common::{BIN, TempDir};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child stopped with SIGTERM (then SIGKILL) when dropped.
struct Guard {
    child: Child,
    what: &'static str,
}

impl Guard {
    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(35);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} did not stop on SIGTERM; killing it", self.what);
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop();
    }
}

fn git_cmd(dir: &Path, home: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_PROTOCOL")
        .stdin(Stdio::null());
    c
}

fn run_git(dir: &Path, home: &Path, args: &[&str]) -> String {
    let out = git_cmd(dir, home)
        .args(args)
        .output()
        .expect("git must be installed");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

enum Launcher {
    SpawnFcgi,
    Systemd,
}

/// nginx + our backend + a project root with `r.git`.
struct Stack {
    dir: TempDir,
    port: u16,
    backend: Guard,
    nginx: Guard,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Stack {
    fn new(tag: &str, launcher: Launcher) -> Stack {
        let dir = TempDir::new(tag);
        let d = dir.0.clone();
        let root = d.join("git");
        std::fs::create_dir_all(&root).unwrap();
        for sub in ["tmp", "home"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let home = d.join("home");
        run_git(
            &root,
            &home,
            &["init", "-q", "--bare", "-b", "main", "r.git"],
        );
        run_git(
            &root.join("r.git"),
            &home,
            &["config", "http.receivepack", "true"],
        );
        // Some history to clone.
        run_git(&d, &home, &["init", "-q", "-b", "main", "seed"]);
        let seed = d.join("seed");
        for i in 0..5 {
            std::fs::write(
                seed.join(format!("f{i}.txt")),
                format!("file {i}\n").repeat(200),
            )
            .unwrap();
            run_git(&seed, &home, &["add", "."]);
            run_git(
                &seed,
                &home,
                &[
                    "-c",
                    "user.name=s",
                    "-c",
                    "user.email=s@s",
                    "commit",
                    "-q",
                    "-m",
                    &format!("c{i}"),
                ],
            );
        }
        run_git(
            &seed,
            &home,
            &["push", "-q", root.join("r.git").to_str().unwrap(), "main"],
        );

        // The backend.
        let sock = d.join("backend.sock");
        let log = std::fs::File::create(d.join("backend.log")).unwrap();
        let backend = match launcher {
            Launcher::SpawnFcgi => {
                let mut c = Command::new("spawn-fcgi");
                c.args(["-n", "-s"])
                    .arg(&sock)
                    .args(["-M", "0600", "--", BIN]);
                c
            }
            Launcher::Systemd => {
                // fd 3 = the listening socket, fd 0 = /dev/null, LISTEN_PID = the pid
                // that execs our binary (the shell's own).
                let listener = UnixListener::bind(&sock).unwrap();
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg("exec 3<&0 </dev/null; LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\"")
                    .arg(BIN)
                    .stdin(Stdio::from(std::os::fd::OwnedFd::from(listener)));
                c
            }
        };
        let mut backend_cmd = backend;
        if matches!(launcher, Launcher::SpawnFcgi) {
            backend_cmd.stdin(Stdio::null());
        }
        let child = backend_cmd
            .env("GIT_HTTP_BACKEND_LOG", "debug")
            .env("HOME", &home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn-fcgi must be installed");
        let backend = Guard {
            child,
            what: "backend",
        };
        wait_for("backend", || {
            std::os::unix::net::UnixStream::connect(&sock).is_ok()
        });

        // nginx with the shipped server block.
        let port = free_port();
        let shipped = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/nginx/git-fastcgi.conf"
        ))
        .unwrap();
        let mut conf = shipped.clone();
        for (from, to) in [
            ("listen 80;", format!("listen 127.0.0.1:{port};")),
            (
                "unix:/run/git-http-backend-rs.sock",
                format!("unix:{}", sock.display()),
            ),
            ("/srv/git", root.display().to_string()),
        ] {
            assert!(
                conf.contains(from),
                "nginx/git-fastcgi.conf no longer contains '{from}'"
            );
            conf = conf.replace(from, &to);
        }
        std::fs::write(d.join("git-fastcgi.conf"), conf).unwrap();
        let t = d.join("tmp");
        let main_conf = format!(
            "daemon off;\nuser root;\nworker_processes 2;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  log_format git '$request_method $uri $status te=$http_transfer_encoding ce=$http_content_encoding gp=$http_git_protocol';\n\
             access_log {d}/access.log git;\n  client_body_temp_path {t}/body;\n  fastcgi_temp_path {t}/fastcgi;\n\
             proxy_temp_path {t}/proxy;\n  uwsgi_temp_path {t}/uwsgi;\n  scgi_temp_path {t}/scgi;\n\
             include {d}/git-fastcgi.conf;\n}}\n",
            d = d.display(),
            t = t.display()
        );
        std::fs::write(d.join("nginx.conf"), main_conf).unwrap();
        let child = Command::new("nginx")
            .arg("-e")
            .arg(d.join("nginx-error.log"))
            .arg("-p")
            .arg(&d)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx must be installed");
        let nginx = Guard {
            child,
            what: "nginx",
        };
        wait_for("nginx", || TcpStream::connect(("127.0.0.1", port)).is_ok());
        Stack {
            dir,
            port,
            backend,
            nginx,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/git/r.git", self.port)
    }
    fn d(&self) -> &Path {
        &self.dir.0
    }
    fn home(&self) -> PathBuf {
        self.d().join("home")
    }
    fn repo(&self) -> PathBuf {
        self.d().join("git/r.git")
    }
    fn git(&self, dir: &Path, args: &[&str]) -> String {
        run_git(dir, &self.home(), args)
    }
    fn server_rev(&self, r: &str) -> String {
        self.git(&self.repo(), &["rev-parse", r])
    }
    fn access_log(&self) -> String {
        std::fs::read_to_string(self.d().join("access.log")).unwrap_or_default()
    }
    fn backend_log(&self) -> String {
        std::fs::read_to_string(self.d().join("backend.log")).unwrap_or_default()
    }
    fn fsck(&self) {
        let out = git_cmd(&self.repo(), &self.home())
            .args(["fsck", "--strict", "--no-dangling"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git fsck: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout.is_empty() && out.stderr.is_empty(),
            "git fsck output: {out:?}"
        );
    }
    fn commit(&self, dir: &Path, file: &str, content: &[u8], msg: &str) -> String {
        std::fs::write(dir.join(file), content).unwrap();
        self.git(dir, &["add", file]);
        self.git(
            dir,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-q",
                "-m",
                msg,
            ],
        );
        self.git(dir, &["rev-parse", "HEAD"])
    }
    fn peak_rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.backend.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
    /// Stops nginx and then the backend with SIGTERM, which must exit 0 and remove
    /// nothing it did not create.
    fn shutdown(mut self) {
        self.nginx.stop();
        let status = self.backend.stop().expect("backend stops on SIGTERM");
        assert_eq!(
            status.code(),
            Some(0),
            "backend exit: {}",
            self.backend_log()
        );
    }
}

#[test]
fn clone_fetch_push_v0_v2_gzip_and_chunked_via_spawn_fcgi() {
    let s = Stack::new("basic", Launcher::SpawnFcgi);
    let d = s.d().to_path_buf();
    let main = s.server_rev("main");
    for v in ["0", "2"] {
        let name = format!("clone-v{v}");
        s.git(
            &d,
            &[
                "-c",
                &format!("protocol.version={v}"),
                "clone",
                "-q",
                &s.url(),
                &name,
            ],
        );
        assert_eq!(s.git(&d.join(&name), &["rev-parse", "HEAD"]), main);
    }
    // Pushes with both protocol settings.
    let a = d.join("clone-v0");
    let b = d.join("clone-v2");
    for (v, dir) in [("0", &a), ("2", &b)] {
        s.git(dir, &["pull", "-q", "--ff-only"]);
        let c = s.commit(
            dir,
            &format!("v{v}.txt"),
            format!("pushed with v{v}\n").as_bytes(),
            "push",
        );
        s.git(
            dir,
            &[
                "-c",
                &format!("protocol.version={v}"),
                "push",
                "-q",
                "origin",
                "main",
            ],
        );
        assert_eq!(s.server_rev("main"), c);
    }
    // Fetch (v0 and v2) into the clones.
    s.git(&a, &["-c", "protocol.version=0", "fetch", "-q"]);
    assert_eq!(
        s.git(&a, &["rev-parse", "origin/main"]),
        s.server_rev("main")
    );
    // Many haves: 300 local commits the server does not have, then a fetch after
    // the server moved on. The negotiation request is big enough for git to gzip it.
    s.git(&a, &["checkout", "-q", "-b", "local"]);
    let script = "for i in $(seq 1 300); do echo $i > n.txt; git add n.txt; git -c user.name=t -c user.email=t@t commit -q -m l$i; done";
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(&a)
        .env("HOME", s.home())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let newer = s.commit(&b, "newer.txt", b"newer\n", "newer");
    s.git(&b, &["push", "-q", "origin", "main"]);
    s.git(
        &a,
        &[
            "-c",
            "protocol.version=2",
            "fetch",
            "-q",
            "--negotiation-tip=local",
            "origin",
            "main",
        ],
    );
    assert_eq!(s.git(&a, &["rev-parse", "FETCH_HEAD"]), newer);
    let log = s.access_log();
    assert!(
        log.lines()
            .any(|l| l.starts_with("POST /git/r.git/git-upload-pack 200") && l.contains("ce=gzip")),
        "no gzip upload-pack request seen:\n{log}"
    );
    // A chunked push (postBuffer smaller than the pack).
    let mut blob = Vec::new();
    let mut x: u64 = 7;
    for _ in 0..300_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        blob.push(x as u8);
    }
    s.git(&b, &["pull", "-q", "--ff-only"]);
    let c = s.commit(&b, "blob.bin", &blob, "blob");
    s.git(
        &b,
        &[
            "-c",
            "http.postBuffer=65536",
            "push",
            "-q",
            "origin",
            "main",
        ],
    );
    assert_eq!(s.server_rev("main"), c);
    let log = s.access_log();
    assert!(
        log.lines()
            .any(|l| l.starts_with("POST /git/r.git/git-receive-pack 200")
                && l.contains("te=chunked")),
        "no chunked receive-pack request seen:\n{log}"
    );
    assert!(
        log.contains("gp=version=2"),
        "no protocol v2 request seen:\n{log}"
    );
    s.fsck();
    assert!(
        s.backend_log().contains("mode: FastCGI on fd 0"),
        "{}",
        s.backend_log()
    );
    s.shutdown();
}

#[test]
fn push_of_200_mb_keeps_the_daemon_small() {
    let s = Stack::new("big", Launcher::SpawnFcgi);
    let d = s.d().to_path_buf();
    s.git(&d, &["clone", "-q", &s.url(), "w"]);
    let w = d.join("w");
    // 200 MB of incompressible bytes.
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(w.join("big.bin")).unwrap());
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let mut buf = vec![0u8; 1 << 20];
        for _ in 0..200 {
            for chunk in buf.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes());
            }
            f.write_all(&buf).unwrap();
        }
    }
    s.git(&w, &["-c", "core.compression=0", "add", "big.bin"]);
    s.git(
        &w,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "-m",
            "big",
        ],
    );
    let c = s.git(&w, &["rev-parse", "HEAD"]);
    s.git(
        &w,
        &[
            "-c",
            "core.compression=0",
            "-c",
            "pack.compression=0",
            "push",
            "-q",
            "origin",
            "main",
        ],
    );
    assert_eq!(s.server_rev("main"), c);
    let peak = s.peak_rss_kib();
    eprintln!("daemon peak RSS after a 200 MB push: {peak} KiB");
    assert!(peak < 32 * 1024, "daemon peak RSS {peak} KiB >= 32 MiB");
    s.fsck();
    s.shutdown();
}

#[test]
fn concurrent_clones_and_pushes() {
    let s = Stack::new("conc", Launcher::SpawnFcgi);
    let d = s.d().to_path_buf();
    let main = s.server_rev("main");
    // One local repository with 8 branches, each with its own commit.
    s.git(&d, &["clone", "-q", &s.url(), "pusher"]);
    let p = d.join("pusher");
    let mut expected = Vec::new();
    for i in 0..8 {
        s.git(&p, &["checkout", "-q", "-b", &format!("b{i}"), "main"]);
        let c = s.commit(
            &p,
            &format!("b{i}.txt"),
            format!("branch {i}\n").repeat(1000).as_bytes(),
            "branch",
        );
        expected.push((format!("b{i}"), c));
    }
    let url = s.url();
    let home = s.home();
    let mut threads = Vec::new();
    for i in 0..32 {
        let (url, home, d) = (url.clone(), home.clone(), d.clone());
        threads.push(std::thread::spawn(move || {
            let name = format!("c{i}");
            let out = git_cmd(&d, &home)
                .args(["clone", "-q", &url, &name])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "clone {i}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            run_git(&d.join(&name), &home, &["rev-parse", "HEAD"])
        }));
    }
    let mut pushes = Vec::new();
    for (branch, _) in &expected {
        let (url, home, p, branch) = (url.clone(), home.clone(), p.clone(), branch.clone());
        pushes.push(std::thread::spawn(move || {
            let out = git_cmd(&p, &home)
                .args(["push", "-q", &url, &branch])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "push {branch}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }));
    }
    for t in threads {
        assert_eq!(t.join().unwrap(), main);
    }
    for t in pushes {
        t.join().unwrap();
    }
    for (branch, c) in &expected {
        assert_eq!(&s.server_rev(&format!("refs/heads/{branch}")), c);
    }
    s.fsck();
    s.shutdown();
}

#[test]
fn systemd_socket_activation() {
    let s = Stack::new("systemd", Launcher::Systemd);
    let d = s.d().to_path_buf();
    s.git(
        &d,
        &["-c", "protocol.version=2", "clone", "-q", &s.url(), "w"],
    );
    let w = d.join("w");
    let c = s.commit(&w, "s.txt", b"socket activated\n", "sd");
    s.git(&w, &["push", "-q", "origin", "main"]);
    assert_eq!(s.server_rev("main"), c);
    let log = s.backend_log();
    assert!(log.contains("mode: FastCGI on fd 3"), "{log}");
    s.fsck();
    s.shutdown();
}

//! The Debian package: `scripts/build-deb.sh` builds it (from the debug binary,
//! uncompressed, to keep the test fast), `dpkg -x` installs it into a scratch tree,
//! and the installed binary runs with the shipped systemd unit's command line and
//! environment, on a socket handed over the way the shipped socket unit does
//! (fd 3, `LISTEN_FDS`/`LISTEN_PID`), answering a real FastCGI client.
#![cfg(unix)]

mod common;

use common::make_root;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_git-http-backend-rs");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn check(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("running a command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of `Key=` in a unit file (the last one wins, as in systemd).
fn unit_values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

#[test]
fn package_installs_and_runs_with_the_shipped_unit() {
    let scratch = make_root("package");
    let out = scratch.0.join("out");
    let deb = check(
        Command::new(Path::new(ROOT).join("scripts/build-deb.sh"))
            .args(["--binary", BIN, "--uncompressed", "--output"])
            .arg(&out),
    );
    let deb = deb.trim();
    assert!(deb.ends_with(".deb"), "{deb}");
    let info = check(Command::new("dpkg-deb").args(["--field", deb, "Package", "Version"]));
    assert!(info.contains("Package: git-http-backend-rs"), "{info}");
    assert!(
        info.contains(&format!("Version: {}", env!("CARGO_PKG_VERSION"))),
        "{info}"
    );

    let root = scratch.0.join("installed");
    check(Command::new("dpkg").arg("-x").arg(deb).arg(&root));
    let doc = root.join("usr/share/doc/git-http-backend-rs");
    for f in [
        "usr/bin/git-http-backend-rs",
        "lib/systemd/system/git-http-backend-rs.socket",
        "lib/systemd/system/git-http-backend-rs.service",
        "usr/share/man/man1/git-http-backend-rs.1.gz",
        "usr/share/man/man1/git-http-backend-rs-serve.1.gz",
    ] {
        assert!(root.join(f).exists(), "{f} is not in the package");
    }
    for f in [
        "README.md",
        "internals.md",
        "examples/nginx/git-fastcgi.conf",
        "examples/apache/git-cgi.conf",
        "examples/lighttpd/git-cgi.conf",
        "examples/systemd/git-http-backend-rs-spawn-fcgi.service",
    ] {
        assert!(doc.join(f).exists(), "{f} is not in the package's doc");
    }
    // The man page is generated from the command line: every option is in it.
    let man = check(
        Command::new("gzip")
            .arg("-dc")
            .arg(root.join("usr/share/man/man1/git-http-backend-rs.1.gz")),
    );
    assert!(
        man.starts_with(".ie") || man.contains(".TH"),
        "not a man page"
    );
    for opt in [
        "listen",
        "socket\\-group",
        "socket\\-owner",
        "max\\-connections",
        "acl",
    ] {
        assert!(
            man.contains(&format!("\\-\\-{opt}")),
            "man page lacks --{opt}"
        );
    }

    // The installed binary, with the unit's ExecStart and environment.
    let installed = root.join("usr/bin/git-http-backend-rs");
    let version = check(Command::new(&installed).arg("--version"));
    assert!(version.starts_with("git-http-backend-rs "), "{version}");
    let service =
        std::fs::read_to_string(root.join("lib/systemd/system/git-http-backend-rs.service"))
            .unwrap();
    let socket_unit =
        std::fs::read_to_string(root.join("lib/systemd/system/git-http-backend-rs.socket"))
            .unwrap();
    let exec = unit_values(&service, "ExecStart");
    assert_eq!(exec.len(), 1, "{service}");
    let words: Vec<&str> = exec[0].split_whitespace().collect();
    assert_eq!(
        words[0], "/usr/bin/git-http-backend-rs",
        "the unit runs {}",
        words[0]
    );
    assert_eq!(
        unit_values(&socket_unit, "ListenStream"),
        ["/run/git-http-backend-rs.sock"]
    );
    assert_eq!(unit_values(&socket_unit, "SocketGroup"), ["www-data"]);

    // The socket unit's socket, as systemd hands it over: fd 3 with LISTEN_FDS=1
    // and LISTEN_PID of the process that execs the server.
    let sock = scratch.0.join("git-http-backend-rs.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("exec 3<&0 </dev/null; LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$@\"")
        .arg(&installed)
        .args(&words[1..])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(listener)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for env in unit_values(&service, "Environment") {
        let (k, v) = env.split_once('=').unwrap();
        let v = if k == "GIT_PROJECT_ROOT" {
            scratch.0.to_str().unwrap()
        } else {
            v
        };
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    // The repository belongs to us and is exported by a FastCGI param, as in
    // nginx/git-fastcgi.conf.
    let reply = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = Command::new("cgi-fcgi")
                .args(["-bind", "-connect"])
                .arg(&sock)
                .env_clear()
                .env("REQUEST_METHOD", "GET")
                .env("PATH_INFO", "/r.git/info/refs")
                .env("QUERY_STRING", "service=git-upload-pack")
                .env("GIT_HTTP_EXPORT_ALL", "")
                .env("SERVER_PROTOCOL", "HTTP/1.1")
                .stdin(Stdio::null())
                .output()
                .expect("cgi-fcgi (apt-get install libfcgi-bin)");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if !text.is_empty() || Instant::now() > deadline {
                break text;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        reply.contains("Content-Type: application/x-git-upload-pack-advertisement"),
        "reply: {reply}\nlog: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(reply.contains("refs/heads/main"), "{reply}");
}

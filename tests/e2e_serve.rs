//! End-to-end: real git clients against `git-http-backend-rs serve` on 127.0.0.1.
//!
//! Smart protocol v0 and v2 (ls-remote, clone, fetch, push of branches and tags,
//! branch deletion), shallow and partial clones, gzip request bodies, chunked
//! pushes, hook rejections, upload-archive, the dumb protocol, HTTP-level errors,
//! keep-alive, client disconnects, a 200 MB push in flat memory, signals and bad
//! arguments.
// These tests drive the Linux build with Linux web servers and git (Windows: tests/windows_iis.rs).
#![cfg(unix)]

#[path = "e2e_serve/support.rs"]
mod support;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

fn ls_remote(s: &Scratch, url: &str, version: &str) -> String {
    s.git(
        s.path(),
        &[
            "-c",
            &format!("protocol.version={version}"),
            "ls-remote",
            url,
        ],
    )
}

fn smart_round_trip(version: &str) {
    let s = Scratch::new();
    s.bare("r.git");
    let server = Server::start(&s);
    let url = server.url("r.git");
    let pv = format!("protocol.version={version}");
    let w = s.work("w", 2);
    let head1 = s.git(&w, &["rev-parse", "HEAD"]);

    // push: a new branch
    s.git(&w, &["-c", &pv, "push", "-q", &url, "main"]);
    assert!(ls_remote(&s, &url, version).contains(&format!("{head1}\trefs/heads/main")));

    // ls-remote really spoke the requested version
    let out = s.git_output(
        s.path(),
        &["-c", &pv, "ls-remote", &url],
        &[("GIT_TRACE_PACKET", "1")],
    );
    let trace = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{trace}");
    if version == "2" {
        assert!(trace.contains("version 2"), "no v2 in trace:\n{trace}");
        assert!(trace.contains("ls-refs"), "no ls-refs in trace:\n{trace}");
    } else {
        assert!(
            !trace.contains("ls-refs"),
            "v0 ls-remote used ls-refs:\n{trace}"
        );
    }

    // clone
    let c = s.path().join("c");
    s.git(
        s.path(),
        &["-c", &pv, "clone", "-q", &url, c.to_str().unwrap()],
    );
    assert_eq!(s.git(&c, &["rev-parse", "HEAD"]), head1);
    assert_eq!(s.git(&c, &["rev-list", "--count", "HEAD"]), "2");

    // fetch a new commit
    let head2 = s.commit(&w, "later.txt", "later\n");
    s.git(&w, &["-c", &pv, "push", "-q", &url, "main"]);
    s.git(&c, &["-c", &pv, "fetch", "-q", "origin"]);
    assert_eq!(s.git(&c, &["rev-parse", "origin/main"]), head2);

    // tags: annotated and lightweight; a second branch
    s.git(&w, &["tag", "-a", "-m", "release one", "v1", &head1]);
    s.git(&w, &["tag", "light", &head2]);
    s.git(&w, &["branch", "feature", &head1]);
    s.git(&w, &["-c", &pv, "push", "-q", &url, "--tags", "feature"]);
    let refs = ls_remote(&s, &url, version);
    assert!(refs.contains("refs/tags/v1\n"), "{refs}");
    assert!(
        refs.contains(&format!("{head1}\trefs/tags/v1^{{}}")),
        "{refs}"
    );
    assert!(
        refs.contains(&format!("{head2}\trefs/tags/light")),
        "{refs}"
    );
    assert!(
        refs.contains(&format!("{head1}\trefs/heads/feature")),
        "{refs}"
    );
    s.git(&c, &["-c", &pv, "fetch", "-q", "--tags", "origin"]);
    assert_eq!(s.git(&c, &["cat-file", "-t", "v1"]), "tag");

    // delete a branch
    s.git(&w, &["-c", &pv, "push", "-q", &url, ":feature"]);
    let refs = ls_remote(&s, &url, version);
    assert!(!refs.contains("refs/heads/feature"), "{refs}");
    assert!(refs.contains("refs/heads/main"), "{refs}");
}

#[test]
fn smart_protocol_v0() {
    smart_round_trip("0");
}

#[test]
fn smart_protocol_v2() {
    smart_round_trip("2");
}

#[test]
fn shallow_and_partial_clones() {
    let s = Scratch::new();
    let repo = s.bare("r.git");
    s.git(&repo, &["config", "uploadpack.allowFilter", "true"]);
    let server = Server::start(&s);
    let url = server.url("r.git");
    let w = s.work("w", 3);
    s.seed(&w, &repo);

    let shallow = s.path().join("shallow");
    s.git(
        s.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &url,
            shallow.to_str().unwrap(),
        ],
    );
    assert_eq!(s.git(&shallow, &["rev-list", "--count", "HEAD"]), "1");
    assert_eq!(
        s.git(&shallow, &["rev-parse", "--is-shallow-repository"]),
        "true"
    );

    let partial = s.path().join("partial");
    s.git(
        s.path(),
        &[
            "clone",
            "-q",
            "--no-checkout",
            "--filter=blob:none",
            &url,
            partial.to_str().unwrap(),
        ],
    );
    assert_eq!(
        s.git(&partial, &["config", "remote.origin.partialclonefilter"]),
        "blob:none"
    );
    let missing = s.git(
        &partial,
        &["rev-list", "--objects", "--missing=print", "--all"],
    );
    assert_eq!(
        missing.lines().filter(|l| l.starts_with('?')).count(),
        3,
        "expected 3 missing blobs:\n{missing}"
    );
    // Checking out fetches the blobs lazily, through the server again.
    s.git(&partial, &["checkout", "-q", "main"]);
    assert_eq!(
        std::fs::read_to_string(partial.join("file2.txt")).unwrap(),
        "content 2\n"
    );
}

/// A fast-import stream of `n` commits on `branch`, each adding a file.
fn fast_import_stream(branch: &str, n: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        let data = format!("x{i}\n");
        let msg = format!("c{i}\n");
        out.push_str(&format!(
            "commit refs/heads/{branch}\ncommitter T <t@e.org> {} +0000\ndata {}\n{msg}",
            2_000_000_000 + i,
            msg.len()
        ));
        out.push_str(&format!(
            "M 100644 inline f{i}.txt\ndata {}\n{data}\n",
            data.len()
        ));
    }
    out
}

#[test]
fn fetch_with_gzip_request_body() {
    let s = Scratch::new();
    let repo = s.bare("r.git");
    let server = Server::start(&s);
    let url = server.url("r.git");
    let w = s.work("w", 1);
    s.seed(&w, &repo);
    let c = s.path().join("c");
    s.git(s.path(), &["clone", "-q", &url, c.to_str().unwrap()]);
    // 2000 commits the server lacks, newer than anything it has: many haves.
    let mut fi = s
        .git_cmd(&c)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    fi.stdin
        .take()
        .unwrap()
        .write_all(fast_import_stream("other", 2000).as_bytes())
        .unwrap();
    assert!(fi.wait().unwrap().success());
    // Something new on the server.
    let new = s.commit(&w, "new.txt", "new\n");
    s.seed(&w, &repo);
    let trace = s.path().join("curl-trace");
    s.git_env(
        &c,
        &["fetch", "-q", "origin"],
        &[
            ("GIT_TRACE_CURL", trace.to_str().unwrap()),
            ("GIT_TRACE_CURL_NO_DATA", "1"),
        ],
    );
    assert_eq!(s.git(&c, &["rev-parse", "origin/main"]), new);
    let trace = std::fs::read_to_string(&trace).unwrap();
    assert!(
        trace.contains("=> Send header: Content-Encoding: gzip"),
        "git did not gzip any request"
    );
}

#[test]
fn chunked_push() {
    let s = Scratch::new();
    s.bare("r.git");
    let server = Server::start(&s);
    let url = server.url("r.git");
    let w = s.work("w", 1);
    random_file(&w.join("blob.bin"), 512 * 1024, 7);
    s.git(&w, &["add", "blob.bin"]);
    s.git(&w, &["commit", "-q", "-m", "big"]);
    let head = s.git(&w, &["rev-parse", "HEAD"]);
    let trace = s.path().join("curl-trace");
    s.git_env(
        &w,
        &["-c", "http.postBuffer=65536", "push", "-q", &url, "main"],
        &[
            ("GIT_TRACE_CURL", trace.to_str().unwrap()),
            ("GIT_TRACE_CURL_NO_DATA", "1"),
        ],
    );
    let trace = std::fs::read_to_string(&trace).unwrap();
    assert!(
        trace.contains("=> Send header: Transfer-Encoding: chunked"),
        "the push was not chunked"
    );
    assert!(ls_remote(&s, &url, "2").contains(&format!("{head}\trefs/heads/main")));
}

#[test]
fn pre_receive_hook_rejection_reaches_the_client() {
    let s = Scratch::new();
    let repo = s.bare("r.git");
    let hook = repo.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'policy says no to this push' >&2\nexit 1\n",
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&hook).status().unwrap();
    let server = Server::start(&s);
    let url = server.url("r.git");
    let w = s.work("w", 1);
    for version in ["0", "2"] {
        let out = s.git_output(
            &w,
            &[
                "-c",
                &format!("protocol.version={version}"),
                "push",
                &url,
                "main",
            ],
            &[],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "push succeeded: {stderr}");
        assert!(
            stderr.contains("remote: policy says no to this push"),
            "{stderr}"
        );
        assert!(stderr.contains("pre-receive hook declined"), "{stderr}");
    }
    assert_eq!(ls_remote(&s, &url, "2"), "");
}

#[test]
fn upload_archive_over_v2() {
    let s = Scratch::new();
    let repo = s.bare("r.git");
    s.git(&repo, &["config", "http.uploadarchive", "true"]);
    let server = Server::start(&s);
    let url = server.url("r.git");
    let w = s.work("w", 2);
    s.seed(&w, &repo);
    let out = s.git_output(
        s.path(),
        &[
            "-c",
            "protocol.version=2",
            "archive",
            "--remote",
            &url,
            "--format=tar",
            "main",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tar = String::from_utf8_lossy(&out.stdout);
    assert!(
        tar.contains("file0.txt") && tar.contains("content 1"),
        "not the tar we expected"
    );
}

#[test]
fn dumb_protocol_clone() {
    let s = Scratch::new();
    let repo = s.bare("r.git");
    let server = Server::start(&s);
    let url = server.url("r.git");
    let w = s.work("w", 2);
    s.seed(&w, &repo);
    s.git(&repo, &["update-server-info"]);
    let d = s.path().join("d");
    let out = s.git_output(
        s.path(),
        &["clone", &url, d.to_str().unwrap()],
        &[
            ("GIT_SMART_HTTP", "0"),
            ("GIT_TRACE_CURL", "1"),
            ("GIT_TRACE_CURL_NO_DATA", "1"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("GET /r.git/objects/"),
        "no dumb object fetches:\n{stderr}"
    );
    assert!(!stderr.contains("POST"), "smart request in a dumb clone");
    assert_eq!(
        s.git(&d, &["rev-parse", "HEAD"]),
        s.git(&w, &["rev-parse", "HEAD"])
    );
}

#[test]
fn http_errors_and_keep_alive() {
    let s = Scratch::new();
    let repo = s.bare("r.git");
    let server = Server::start(&s);
    let w = s.work("w", 1);
    s.seed(&w, &repo);

    let stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut w_stream = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let host = &server.addr;

    send(
        &mut w_stream,
        &format!("GET /missing.git/info/refs HTTP/1.1\r\nHost: {host}\r\n\r\n"),
    );
    let resp = read_response(&mut r, false);
    assert_eq!(resp.status, 404);

    // Same connection: 405 with Allow for a GET on an RPC route.
    send(
        &mut w_stream,
        &format!("GET /r.git/git-upload-pack HTTP/1.1\r\nHost: {host}\r\n\r\n"),
    );
    let resp = read_response(&mut r, false);
    assert_eq!(resp.status, 405);
    assert_eq!(resp.header("Allow"), Some("POST"));

    // Same connection again: a successful dumb read, then a smart advertisement.
    send(
        &mut w_stream,
        &format!("GET /r.git/HEAD HTTP/1.1\r\nHost: {host}\r\n\r\n"),
    );
    let resp = read_response(&mut r, false);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"ref: refs/heads/main\n");
    send(
        &mut w_stream,
        &format!("GET /r.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: {host}\r\n\r\n"),
    );
    let resp = read_response(&mut r, false);
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("Content-Type"),
        Some("application/x-git-upload-pack-advertisement")
    );
    assert!(
        resp.body
            .starts_with(b"001e# service=git-upload-pack\n0000")
    );

    // HEAD: headers only, and the connection still works afterwards.
    send(
        &mut w_stream,
        &format!("HEAD /r.git/HEAD HTTP/1.1\r\nHost: {host}\r\n\r\n"),
    );
    let resp = read_response(&mut r, true);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("Content-Length"), Some("21"));
    send(
        &mut w_stream,
        &format!("GET /r.git/HEAD HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    );
    let resp = read_response(&mut r, false);
    assert_eq!(resp.status, 200);
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "bytes after the last reply");
}

#[test]
fn client_disconnect_mid_clone_leaves_no_git_child() {
    let s = Scratch::new();
    let repo = s.bare("r.git");
    let server = Server::start(&s);
    let w = s.work("w", 0);
    for i in 0..3 {
        random_file(&w.join(format!("big{i}.bin")), 10 << 20, 100 + i);
    }
    s.git(&w, &["-c", "core.compression=0", "add", "."]);
    s.git(&w, &["commit", "-q", "-m", "big"]);
    s.git(
        &w,
        &[
            "-c",
            "pack.compression=0",
            "push",
            "-q",
            repo.to_str().unwrap(),
            "main",
        ],
    );
    let head = s.git(&w, &["rev-parse", "HEAD"]);

    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let want = format!("want {head} ofs-delta\n");
    let body = format!("{:04x}{want}00000009done\n", want.len() + 4);
    send(
        &mut stream,
        &format!(
            "POST /r.git/git-upload-pack HTTP/1.1\r\nHost: {}\r\n\
             Content-Type: application/x-git-upload-pack-request\r\n\
             Content-Length: {}\r\n\r\n{body}",
            server.addr,
            body.len()
        ),
    );
    let mut got = 0;
    let mut buf = [0u8; 16384];
    while got < 256 * 1024 {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "reply ended after {got} bytes");
        got += n;
    }
    let busy = descendants(server.pid());
    assert!(
        busy.iter().any(|(_, cmd)| cmd.contains("upload-pack")),
        "no upload-pack running mid-clone: {busy:?}"
    );
    drop(stream);
    let gone = wait_until(Duration::from_secs(15), || {
        descendants(server.pid()).is_empty() && processes_in(&repo).is_empty()
    });
    assert!(
        gone,
        "git children left behind: {:?} {:?}",
        descendants(server.pid()),
        processes_in(&repo)
    );
    // The server still serves.
    assert!(ls_remote(&s, &server.url("r.git"), "2").contains(&head));
}

#[test]
fn push_200_mb_in_flat_memory() {
    let s = Scratch::new();
    s.bare("r.git");
    let server = Server::start(&s);
    let url = server.url("r.git");
    let w = s.work("w", 1);
    for i in 0..4 {
        random_file(&w.join(format!("big{i}.bin")), 50 << 20, 1 + i);
    }
    s.git(&w, &["-c", "core.compression=0", "add", "."]);
    s.git(&w, &["commit", "-q", "-m", "200 MB"]);
    let head = s.git(&w, &["rev-parse", "HEAD"]);
    let start = Instant::now();
    s.git(
        &w,
        &["-c", "pack.compression=0", "push", "-q", &url, "main"],
    );
    let took = start.elapsed();
    let peak = vm_kib(server.pid(), "VmHWM:");
    println!(
        "200 MB push through serve: {:.1}s, server peak RSS (VmHWM) {} KiB = {:.1} MiB",
        took.as_secs_f64(),
        peak,
        peak as f64 / 1024.0
    );
    assert!(ls_remote(&s, &url, "2").contains(&format!("{head}\trefs/heads/main")));
    assert!(peak < 32 * 1024, "server peak RSS {peak} KiB >= 32 MiB");
}

#[test]
fn banner_lists_repositories_and_sigterm_stops() {
    let s = Scratch::new();
    s.bare("a.git");
    s.bare("team/b.git");
    s.git(
        s.path(),
        &["init", "-q", s.root().join("work tree").to_str().unwrap()],
    );
    let mut server = Server::start(&s);
    let b = &server.banner;
    assert!(
        b.contains(&format!("http://{}/a.git\n", server.addr)),
        "{b}"
    );
    assert!(
        b.contains(&format!("http://{}/team/b.git\n", server.addr)),
        "{b}"
    );
    assert!(
        b.contains(&format!("http://{}/work%20tree\n", server.addr)),
        "{b}"
    );
    assert!(b.contains("git config http.receivepack true"), "{b}");
    // A work tree is served through git's /.git suffix try.
    assert_eq!(ls_remote(&s, &server.url("work%20tree"), "2"), "");
    let status = server
        .terminate(Duration::from_secs(15))
        .expect("serve did not stop on SIGTERM");
    assert!(status.success(), "serve exited with {status}");
}

#[test]
fn bad_arguments_exit_2() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_git-http-backend-rs"))
            .arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    for args in [
        &[][..],
        &["--listen"][..],
        &["--bogus", "/tmp"][..],
        &["/tmp", "/var"][..],
        &["/nonexistent/dir/for/serve"][..],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "serve {args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("usage:") || stderr.contains("cannot use"),
            "serve {args:?}: {stderr}"
        );
    }
}

#[test]
fn requests_run_concurrently() {
    let s = Scratch::new();
    let repo = s.bare("r.git");
    let server = Server::start(&s);
    let w = s.work("w", 1);
    s.seed(&w, &repo);
    // A request whose body never completes keeps one handler busy...
    let mut stalled = TcpStream::connect(&server.addr).unwrap();
    send(
        &mut stalled,
        &format!(
            "POST /r.git/git-upload-pack HTTP/1.1\r\nHost: {}\r\n\
             Content-Type: application/x-git-upload-pack-request\r\n\
             Content-Length: 1000\r\n\r\n0032want ",
            server.addr
        ),
    );
    std::thread::sleep(Duration::from_millis(300));
    // ...while others are served, several at once.
    let url = server.url("r.git");
    let head = s.git(&w, &["rev-parse", "HEAD"]);
    std::thread::scope(|scope| {
        let jobs: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| ls_remote(&s, &url, "2")))
            .collect();
        for job in jobs {
            assert!(job.join().unwrap().contains(&head));
        }
    });
    drop(stalled);
}

#[test]
fn client_disconnect_mid_push_leaves_no_git_child() {
    let s = Scratch::new();
    let repo = s.bare("r.git");
    let server = Server::start(&s);
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    send(
        &mut stream,
        &format!(
            "POST /r.git/git-receive-pack HTTP/1.1\r\nHost: {}\r\n\
             Content-Type: application/x-git-receive-pack-request\r\n\
             Transfer-Encoding: chunked\r\n\r\n",
            server.addr
        ),
    );
    let command = format!(
        "{} {} refs/heads/x\0report-status\n",
        "0".repeat(40),
        "1".repeat(40)
    );
    let mut body = format!("{:04x}{command}0000", command.len() + 4).into_bytes();
    // A pack header announcing one object that never comes.
    body.extend_from_slice(b"PACK\0\0\0\x02\0\0\0\x01");
    let mut chunk = format!("{:x}\r\n", body.len()).into_bytes();
    chunk.extend_from_slice(&body);
    chunk.extend_from_slice(b"\r\n");
    stream.write_all(&chunk).unwrap();
    stream.flush().unwrap();
    let started = wait_until(Duration::from_secs(15), || {
        descendants(server.pid())
            .iter()
            .any(|(_, cmd)| cmd.contains("receive-pack"))
    });
    assert!(started, "receive-pack never started");
    drop(stream);
    let gone = wait_until(Duration::from_secs(15), || {
        descendants(server.pid()).is_empty() && processes_in(&repo).is_empty()
    });
    assert!(
        gone,
        "git children left behind: {:?} {:?}",
        descendants(server.pid()),
        processes_in(&repo)
    );
    assert_eq!(ls_remote(&s, &server.url("r.git"), "2"), "");
}

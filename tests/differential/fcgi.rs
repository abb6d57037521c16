//! The FastCGI backend of the differential suite: one resident daemon of ours
//! (`--listen unix:...`), and a minimal FastCGI client that sends a case's CGI
//! variables as PARAMS and its body as STDIN, and gives back the STDOUT stream,
//! which must be the same CGI reply the CGI run produced.

use git_http_backend_rs::transport::fastcgi::record::{
    self, BeginRequest, Decoded, ROLE_RESPONDER, RecordType,
};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The daemon, killed when dropped (at the end of the test that started it).
pub struct Daemon {
    /// Its socket.
    pub socket: PathBuf,
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Starts our binary as a FastCGI server on a unix socket under `dir`, with an
/// environment as thin as a web server's: PATH only.
pub fn daemon(dir: &Path) -> Daemon {
    let socket = dir.join(format!("differential-fcgi-{}.sock", std::process::id()));
    let child = Command::new(env!("CARGO_BIN_EXE_git-http-backend-rs"))
        .arg("--listen")
        .arg(format!("unix:{}", socket.display()))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the FastCGI daemon");
    let daemon = Daemon { socket, child };
    let deadline = Instant::now() + Duration::from_secs(10);
    while UnixStream::connect(&daemon.socket).is_err() {
        assert!(Instant::now() < deadline, "FastCGI daemon did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    daemon
}

/// What one FastCGI request gave back.
pub struct FcgiReply {
    /// The STDOUT stream (a CGI reply).
    pub stdout: Vec<u8>,
    /// The app status of END_REQUEST.
    pub app_status: u32,
}

/// Sends one request (`params`, `body`) and reads the reply to END_REQUEST.
pub fn request(socket: &Path, params: &[(String, String)], body: &[u8]) -> FcgiReply {
    let mut stream = UnixStream::connect(socket).expect("connect to the FastCGI daemon");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = Vec::new();
    let begin = BeginRequest {
        role: ROLE_RESPONDER,
        flags: 0,
    };
    record::encode(RecordType::BEGIN_REQUEST, 1, &begin.to_bytes(), &mut head);
    let mut pairs = Vec::new();
    for (k, v) in params {
        record::encode_pair(k.as_bytes(), v.as_bytes(), &mut pairs);
    }
    record::encode_stream(RecordType::PARAMS, 1, &pairs, &mut head);
    record::encode(RecordType::PARAMS, 1, &[], &mut head);
    let mut writer = stream.try_clone().unwrap();
    let body = body.to_vec();
    let sender = std::thread::spawn(move || {
        let mut out = head;
        record::encode_stream(RecordType::STDIN, 1, &body, &mut out);
        record::encode(RecordType::STDIN, 1, &[], &mut out);
        // The server may answer (and close) before reading all of STDIN.
        let _ = writer.write_all(&out);
    });
    let mut buf = Vec::new();
    let mut stdout = Vec::new();
    let mut chunk = [0u8; 65536];
    let app_status = 'outer: loop {
        loop {
            match record::decode(&buf) {
                Ok(Decoded::Record(rec, used)) => {
                    let (rtype, content) = (rec.rtype, rec.content.to_vec());
                    buf.drain(..used);
                    if rtype == RecordType::STDOUT {
                        stdout.extend_from_slice(&content);
                    } else if rtype == RecordType::END_REQUEST {
                        break 'outer u32::from_be_bytes(content[..4].try_into().unwrap());
                    }
                }
                Ok(Decoded::Incomplete) => break,
                Err(e) => panic!("bad record from the daemon: {e}"),
            }
        }
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("reading from the FastCGI daemon: {e}"),
        };
        assert!(n > 0, "daemon closed the connection before END_REQUEST");
        buf.extend_from_slice(&chunk[..n]);
    };
    let _ = sender.join();
    FcgiReply { stdout, app_status }
}

//! Test support (Windows, under wine): a stand-in `git.exe` that runs the real
//! Linux git through a helper of `tests/windows_iis.rs`, because a Windows program
//! under wine cannot start a Linux program with pipes.
//!
//! It connects to `GIT_RELAY_ADDR` (127.0.0.1:PORT) and sends, as length-prefixed
//! strings (u32 big-endian length, then bytes): the number of arguments and the
//! arguments (without argv\[0\]), the working directory, the number of environment
//! entries and each `NAME=value` (only `GIT_*`, `REMOTE_USER`, `REMOTE_ADDR`);
//! then its standard input, and half-closes. The helper answers with frames
//! (kind u8, u32 length, bytes): 1 = stdout, 2 = stderr, 3 = exit status (i32).
//! Windows paths are turned into Unix ones on the Linux side.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};

fn put(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

fn run() -> io::Result<i32> {
    let addr = std::env::var("GIT_RELAY_ADDR")
        .map_err(|_| io::Error::other("git relay: GIT_RELAY_ADDR is not set"))?;
    let mut sock = TcpStream::connect(&addr)?;
    let mut head = Vec::new();
    let args: Vec<String> = std::env::args().skip(1).collect();
    head.extend_from_slice(&(args.len() as u32).to_be_bytes());
    for a in &args {
        put(&mut head, a.as_bytes());
    }
    let cwd = std::env::current_dir()?;
    put(&mut head, cwd.to_string_lossy().as_bytes());
    let env: Vec<String> = std::env::vars()
        .filter(|(k, _)| {
            (k.starts_with("GIT_")
                && !matches!(
                    k.as_str(),
                    "GIT_EXEC_PATH" | "GIT_HTTP_BACKEND_GIT" | "GIT_RELAY_ADDR"
                ))
                || k == "REMOTE_USER"
                || k == "REMOTE_ADDR"
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    head.extend_from_slice(&(env.len() as u32).to_be_bytes());
    for e in &env {
        put(&mut head, e.as_bytes());
    }
    sock.write_all(&head)?;
    let mut up = sock.try_clone()?;
    let feeder = std::thread::spawn(move || {
        let _ = io::copy(&mut io::stdin().lock(), &mut up);
        let _ = up.shutdown(Shutdown::Write);
    });
    let mut stdout = io::stdout().lock();
    let mut stderr = io::stderr();
    loop {
        let mut hdr = [0u8; 5];
        if sock.read_exact(&mut hdr).is_err() {
            return Ok(128);
        }
        let len = u32::from_be_bytes([hdr[1], hdr[2], hdr[3], hdr[4]]) as usize;
        let mut data = vec![0u8; len];
        sock.read_exact(&mut data)?;
        match hdr[0] {
            1 => {
                if stdout
                    .write_all(&data)
                    .and_then(|_| stdout.flush())
                    .is_err()
                {
                    // Our reader went away (request aborted): stop git too.
                    let _ = sock.shutdown(Shutdown::Both);
                    return Ok(141);
                }
            }
            2 => {
                let _ = stderr.write_all(&data);
            }
            _ => {
                drop(feeder);
                let code = i32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                return Ok(code);
            }
        }
    }
}

fn main() {
    match run() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("git relay: {e}");
            std::process::exit(128);
        }
    }
}

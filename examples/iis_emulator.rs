//! Test support (Windows, run under wine by `tests/windows_iis.rs`): starts a
//! FastCGI application exactly as IIS's FastCGI module does, and lets FastCGI
//! clients on loopback TCP reach it through IIS's named pipe.
//!
//! `iis_emulator.exe PIPE-ID PROGRAM [ARGS...]`:
//! 1. creates `\\.\pipe\IISFCGI-PIPE-ID` (duplex, overlapped, byte mode, one
//!    instance) and an inheritable shutdown event;
//! 2. starts `PROGRAM ARGS` with standard input = the pipe's server end, standard
//!    output and error invalid, `_FCGI_X_PIPE_` and `_FCGI_SHUTDOWN_EVENT_` set
//!    (plus this process's environment, where the test put `GIT_PROJECT_ROOT` ...);
//! 3. listens on 127.0.0.1:0 and prints `port N`; each TCP connection, one at a
//!    time as IIS does, becomes one client connection on the pipe (opened with
//!    `CreateFileW`, retrying while the pipe is busy), bytes copied both ways until
//!    the application disconnects or the TCP client closes;
//! 4. when its standard input reads `shutdown` (or ends), signals the shutdown
//!    event, waits up to 10 s for the application and prints `exit CODE` (or
//!    `exit killed`).
//!
//! The Windows calls are in the library's `os` module (the crate's only place for
//! `unsafe`).

#[cfg(windows)]
fn main() {
    std::process::exit(emulator::main());
}

#[cfg(not(windows))]
fn main() {
    eprintln!("iis_emulator is a Windows program (build it with --target x86_64-pc-windows-gnu)");
    std::process::exit(2);
}

#[cfg(windows)]
mod emulator {
    use git_http_backend_rs::os::{self, Event, OwnedHandle};
    use std::io::{BufRead, Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    fn quote(arg: &str) -> String {
        if !arg.is_empty() && !arg.contains([' ', '\t', '"']) {
            return arg.to_string();
        }
        format!("\"{}\"", arg.replace('"', "\\\""))
    }

    pub fn main() -> i32 {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.len() < 2 {
            eprintln!("usage: iis_emulator PIPE-ID PROGRAM [ARGS...]");
            return 2;
        }
        let pipe_name = format!(r"\\.\pipe\IISFCGI-{}", args[0]);
        let server = match os::create_iis_pipe(&pipe_name) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("iis_emulator: creating {pipe_name}: {e}");
                return 1;
            }
        };
        let shutdown = Event::new(true).expect("shutdown event");
        let mut env: Vec<(String, String)> = std::env::vars().collect();
        env.push(("_FCGI_X_PIPE_".into(), pipe_name.clone()));
        env.push((
            "_FCGI_SHUTDOWN_EVENT_".into(),
            shutdown.handle().value().to_string(),
        ));
        let command_line: Vec<String> = args[1..].iter().map(|a| quote(a)).collect();
        let child = match os::spawn_like_iis(&command_line.join(" "), server.handle(), &env) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("iis_emulator: starting {}: {e}", args[1]);
                return 1;
            }
        };
        // IIS keeps its copy of the server end? It hands it over; so do we.
        drop(server);

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        println!("port {}", listener.local_addr().unwrap().port());
        let _ = std::io::stdout().flush();

        let stop = Arc::new(AtomicBool::new(false));
        {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let stdin = std::io::stdin();
                for line in stdin.lock().lines() {
                    match line {
                        Ok(l) if l.trim() == "shutdown" => break,
                        Ok(_) => continue,
                        Err(_) => break,
                    }
                }
                stop.store(true, Ordering::SeqCst);
            });
        }

        while !stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((tcp, _)) => {
                    if let Err(e) = carry(tcp, &pipe_name) {
                        eprintln!("iis_emulator: connection: {e}");
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if child.wait_timeout(Duration::from_millis(20)).is_some() {
                        // The application died: nothing to carry connections to.
                        break;
                    }
                }
                Err(e) => {
                    eprintln!("iis_emulator: accept: {e}");
                    break;
                }
            }
        }
        shutdown.set();
        match child.wait_timeout(Duration::from_secs(10)) {
            Some(code) => println!("exit {code}"),
            None => {
                child.kill();
                println!("exit killed");
            }
        }
        let _ = std::io::stdout().flush();
        0
    }

    /// One TCP connection carried over one client connection on the pipe.
    fn carry(tcp: TcpStream, pipe_name: &str) -> std::io::Result<()> {
        tcp.set_nonblocking(false)?;
        let client: Arc<OwnedHandle> =
            Arc::new(os::connect_pipe_client(pipe_name, Duration::from_secs(10))?);
        let cancel = Arc::new(Event::new(false)?);
        // TCP -> pipe.
        let up = {
            let client = client.clone();
            let cancel = cancel.clone();
            let mut tcp = tcp.try_clone()?;
            std::thread::spawn(move || {
                let ev = Event::new(false).expect("event");
                let mut buf = vec![0u8; 64 * 1024];
                // Under wine a shutdown() of the socket does not wake a blocked
                // recv in another thread: poll, and stop once the pipe side ended.
                let _ = tcp.set_read_timeout(Some(Duration::from_millis(100)));
                loop {
                    let n = match tcp.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) =>
                        {
                            if cancel.is_set() {
                                return;
                            }
                            continue;
                        }
                        Err(_) => break,
                    };
                    let mut done = 0;
                    while done < n {
                        match os::pipe_write(client.handle(), &buf[done..n], &ev, Some(&cancel)) {
                            Ok(m) => done += m,
                            Err(_) => return,
                        }
                    }
                }
                // The web server closed its connection: so does the "IIS" side.
                cancel.set();
            })
        };
        // pipe -> TCP.
        let ev = Event::new(false)?;
        let mut out = tcp.try_clone()?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match os::pipe_read(client.handle(), &mut buf, &ev, Some(&cancel), None) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        cancel.set();
        let _ = tcp.shutdown(Shutdown::Both);
        let _ = up.join();
        Ok(())
    }
}

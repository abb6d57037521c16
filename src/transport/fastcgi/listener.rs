//! Unix listening sockets for the FastCGI server: a unix socket or TCP address we
//! bind (`--listen`), or one inherited on fd 0 (spawn-fcgi) or fd 3 (systemd).
//! The only Unix-specific part of the FastCGI transport besides `crate::os`.

use super::conn::Closer;
use super::server::{Accepted, Acceptor};
use crate::mode::{Listen, Source};
use crate::os::InheritedListener;
use anyhow::{Context, bail};
use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A listening socket.
pub enum Listener {
    /// A unix socket; `remove` is the path we bound (deleted at exit).
    Unix {
        /// The socket.
        listener: UnixListener,
        /// The socket file to remove at exit (only for sockets we bound).
        remove: Option<PathBuf>,
    },
    /// A TCP socket.
    Tcp(TcpListener),
}

fn remove_stale_socket(path: &Path) -> anyhow::Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        bail!(
            "{} exists and is not a socket; not replacing it",
            path.display()
        );
    }
    if UnixStream::connect(path).is_ok() {
        bail!("{} is in use by a running server", path.display());
    }
    log::info!("removing stale socket {}", path.display());
    std::fs::remove_file(path).with_context(|| format!("removing stale socket {}", path.display()))
}

impl Listener {
    /// Binds or takes over the socket `listen` names.
    pub fn open(listen: &Listen) -> anyhow::Result<Listener> {
        let listener = match &listen.source {
            Source::Unix(path) => {
                remove_stale_socket(path)?;
                let l = UnixListener::bind(path)
                    .with_context(|| format!("binding unix socket {}", path.display()))?;
                if let Some(mode) = listen.socket_mode {
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                        .with_context(|| format!("setting mode {mode:o} on {}", path.display()))?;
                }
                Listener::Unix {
                    listener: l,
                    remove: Some(path.clone()),
                }
            }
            Source::Tcp(addr) => {
                Listener::Tcp(TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?)
            }
            Source::StdinPipe => bail!("a named pipe on standard input exists only on Windows"),
            Source::Inherited(fd) => {
                match crate::os::take_inherited_listener(*fd)
                    .with_context(|| format!("using the inherited socket on fd {fd}"))?
                {
                    InheritedListener::Unix(l) => Listener::Unix {
                        listener: l,
                        remove: None,
                    },
                    InheritedListener::Tcp(l) => Listener::Tcp(l),
                }
            }
        };
        match &listener {
            Listener::Unix { listener, .. } => listener.set_nonblocking(true),
            Listener::Tcp(l) => l.set_nonblocking(true),
        }
        .context("making the listening socket non-blocking")?;
        Ok(listener)
    }

    fn fd(&self) -> i32 {
        match self {
            Listener::Unix { listener, .. } => listener.as_raw_fd(),
            Listener::Tcp(l) => l.as_raw_fd(),
        }
    }
}

fn unix_halves(stream: UnixStream) -> io::Result<Accepted> {
    stream.set_nonblocking(false)?;
    let writer = stream.try_clone()?;
    let closer_stream = stream.try_clone()?;
    let closer: Closer = Arc::new(move || {
        let _ = closer_stream.shutdown(Shutdown::Both);
    });
    let timeouts = stream.try_clone()?;
    Ok(Accepted {
        reader: Box::new(stream),
        writer: Box::new(writer),
        closer,
        peer: None,
        label: "unix".to_string(),
        set_read_timeout: Box::new(move |t| timeouts.set_read_timeout(t)),
    })
}

fn tcp_halves(stream: TcpStream) -> io::Result<Accepted> {
    stream.set_nonblocking(false)?;
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr()?;
    let writer = stream.try_clone()?;
    let closer_stream = stream.try_clone()?;
    let closer: Closer = Arc::new(move || {
        let _ = closer_stream.shutdown(Shutdown::Both);
    });
    let timeouts = stream.try_clone()?;
    Ok(Accepted {
        reader: Box::new(stream),
        writer: Box::new(writer),
        closer,
        peer: Some(peer.ip()),
        label: peer.to_string(),
        set_read_timeout: Box::new(move |t| timeouts.set_read_timeout(t)),
    })
}

impl Acceptor for Listener {
    fn accept_timeout(&mut self, timeout_ms: i32) -> io::Result<Option<Accepted>> {
        if !crate::os::wait_readable(self.fd(), timeout_ms)? {
            return Ok(None);
        }
        let accepted = match self {
            Listener::Unix { listener, .. } => listener.accept().and_then(|(s, _)| unix_halves(s)),
            Listener::Tcp(l) => l.accept().and_then(|(s, _)| tcp_halves(s)),
        };
        match accepted {
            Ok(a) => Ok(Some(a)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn describe(&self) -> String {
        match self {
            Listener::Unix { listener, .. } => match listener.local_addr() {
                Ok(a) => match a.as_pathname() {
                    Some(p) => format!("unix:{}", p.display()),
                    None => "an unnamed unix socket".to_string(),
                },
                Err(_) => "a unix socket".to_string(),
            },
            Listener::Tcp(l) => match l.local_addr() {
                Ok(a) => a.to_string(),
                Err(_) => "a TCP socket".to_string(),
            },
        }
    }

    fn cleanup(&mut self) {
        if let Listener::Unix {
            remove: Some(path), ..
        } = self
        {
            match std::fs::remove_file(&*path) {
                Ok(()) => log::debug!("removed socket {}", path.display()),
                Err(e) => log::warn!("removing socket {}: {e}", path.display()),
            }
        }
    }
}

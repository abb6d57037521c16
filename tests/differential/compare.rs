//! Parsing CGI output into status, ordered headers and body, and comparing two replies.

/// What a backend process produced for one request.
#[derive(Debug, Clone, Default)]
pub struct RawReply {
    /// Everything written to stdout (CGI headers and body).
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
    /// The exit code (`None` when killed by a signal or by the timeout).
    pub exit: Option<i32>,
    /// True when the process did not finish in time and was killed.
    pub timed_out: bool,
    /// True when a process of the backend's group was still alive after it exited.
    pub left_behind: bool,
}

/// A parsed CGI reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// From `Status:`, else 200.
    pub status: u16,
    /// Header lines in order, as (name, value), including `Status`.
    pub headers: Vec<(String, String)>,
    /// The bytes after the blank line.
    pub body: Vec<u8>,
    /// False when no header terminator was found.
    pub complete: bool,
}

/// Splits CGI output into headers and body.
pub fn parse(out: &[u8]) -> Parsed {
    let (head, body, complete) = match find(out, b"\r\n\r\n") {
        Some(i) => (&out[..i], out[i + 4..].to_vec(), true),
        None => match find(out, b"\n\n") {
            Some(i) => (&out[..i], out[i + 2..].to_vec(), true),
            None => (out, Vec::new(), false),
        },
    };
    let text = String::from_utf8_lossy(head);
    let mut headers = Vec::new();
    let mut status = 200;
    let mut status_seen = false;
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let (name, value) = match line.split_once(':') {
            Some((n, v)) => (n.to_string(), v.trim_start().to_string()),
            None => (line.to_string(), String::new()),
        };
        if name.eq_ignore_ascii_case("status") && !status_seen {
            status_seen = true;
            status = value
                .split_whitespace()
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
        }
        headers.push((name, value));
    }
    Parsed {
        status,
        headers,
        body,
        complete,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// True when `v` looks like an RFC 2822 date as git writes it: `Tue, 24 Nov 2026 01:02:03 +0000`.
pub fn is_rfc2822(v: &str) -> bool {
    let p: Vec<&str> = v.split(' ').collect();
    p.len() == 6
        && p[0].len() == 4
        && p[0].ends_with(',')
        && ["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"].contains(&p[0])
        && (1..=2).contains(&p[1].len())
        && p[1].chars().all(|c| c.is_ascii_digit())
        && [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ]
        .contains(&p[2])
        && p[3].len() == 4
        && p[4].len() == 8
        && p[4].chars().all(|c| c.is_ascii_digit() || c == ':')
        && p[5].len() == 5
        && (p[5].starts_with('+') || p[5].starts_with('-'))
}

/// Header values that depend on the clock: compared by form, not value.
fn clock_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("date") || name.eq_ignore_ascii_case("expires")
}

/// Shortens bytes for a report line.
pub fn short(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let s: String = s.chars().take(300).collect();
    format!(
        "{s:?}{}",
        if b.len() > 300 {
            format!("... ({} bytes)", b.len())
        } else {
            String::new()
        }
    )
}

/// Lists every difference between stock's reply and ours (empty when equal).
pub fn diff(stock: &Parsed, ours: &Parsed) -> Vec<String> {
    let mut d = Vec::new();
    if stock.status != ours.status {
        d.push(format!(
            "status: stock {} ours {}",
            stock.status, ours.status
        ));
    }
    if stock.complete != ours.complete {
        d.push(format!(
            "header block complete: stock {} ours {}",
            stock.complete, ours.complete
        ));
    }
    let same_headers = stock.headers.len() == ours.headers.len()
        && stock
            .headers
            .iter()
            .zip(&ours.headers)
            .all(|((sn, sv), (on, ov))| {
                sn == on && (sv == ov || (clock_header(sn) && is_rfc2822(sv) && is_rfc2822(ov)))
            });
    if !same_headers {
        d.push(format!(
            "headers:\n      stock {:?}\n      ours  {:?}",
            stock.headers, ours.headers
        ));
    }
    if canonical_body(stock) != canonical_body(ours) {
        d.push(format!(
            "body:\n      stock {}\n      ours  {}",
            short(&stock.body),
            short(&ours.body)
        ));
    }
    d
}

/// Stderr normalised for comparison: root paths replaced, trailing whitespace of
/// each line dropped, blank lines dropped.
pub fn norm_stderr(e: &[u8], roots: &[(&str, &str)]) -> String {
    let mut s = String::from_utf8_lossy(e).to_string();
    for (from, to) in roots {
        s = s.replace(from, to);
    }
    s.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The body as compared: for smart results (upload-pack, upload-archive), side-band
/// packets are merged per band, since how a child's pack stream is cut into
/// packets depends on pipe timing, not on the backend. Everything else is compared
/// byte for byte.
pub fn canonical_body(p: &Parsed) -> Vec<u8> {
    let ctype = p
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if !(ctype.ends_with("upload-pack-result") || ctype.ends_with("upload-archive-result")) {
        return p.body.clone();
    }
    let mut out = Vec::new();
    let mut run: [Vec<u8>; 4] = Default::default();
    let flush_run = |run: &mut [Vec<u8>; 4], out: &mut Vec<u8>| {
        for (band, data) in run.iter_mut().enumerate() {
            if !data.is_empty() {
                out.extend_from_slice(format!("<band {band}: {} bytes>", data.len()).as_bytes());
                out.append(data);
            }
        }
    };
    let b = &p.body;
    let mut i = 0;
    while i + 4 <= b.len() {
        let Some(len) = std::str::from_utf8(&b[i..i + 4])
            .ok()
            .and_then(|h| usize::from_str_radix(h, 16).ok())
        else {
            return p.body.clone();
        };
        if len < 4 {
            flush_run(&mut run, &mut out);
            out.extend_from_slice(&b[i..i + 4]);
            i += 4;
            continue;
        }
        if i + len > b.len() {
            return p.body.clone();
        }
        let payload = &b[i + 4..i + len];
        match payload.first() {
            Some(&band @ 1..=3) => run[band as usize].extend_from_slice(&payload[1..]),
            _ => {
                flush_run(&mut run, &mut out);
                out.extend_from_slice(&b[i..i + len]);
            }
        }
        i += len;
    }
    if i != b.len() {
        // Not pkt-lines throughout (a v0 pack without side-band follows NAK raw).
        return p.body.clone();
    }
    flush_run(&mut run, &mut out);
    out
}

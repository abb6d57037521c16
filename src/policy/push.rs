//! Per-ref push rules: the ACL's verdict on every command of a push, before git
//! runs, and the receive-pack result that reports a refusal.
//!
//! Creations and deletions are known from the zero ids and judged here. For an
//! update, fast-forward or not is only known once the objects arrive: when the
//! user may fast-forward a branch but not rewind it, the push runs with
//! `receive.denyNonFastForwards=true`, so git itself refuses a rewind of that
//! branch ("non-fast-forward"). That setting covers every branch of the push, so
//! a push mixing branches the user may rewind with branches they may only
//! fast-forward gets no rewinds at all (never more than the rules allow). git
//! only checks `refs/heads/`: an update elsewhere that the user may not rewind is
//! refused outright.
//!
//! When any command is refused, no git runs: the client gets a well-formed
//! receive-pack result (in the side-band it asked for) with `unpack ok` and an `ng`
//! line for every command (the refused ones with the rule that refused them, the
//! others "not attempted"), so `git push` prints `! [remote rejected] main -> main
//! (...)` and the repository is left exactly as it was.
//!
//! ```
//! use git_http_backend_rs::policy::push::report;
//! let body = report(b"report-status", &[(b"refs/heads/main".to_vec(), "no".into())]);
//! assert_eq!(body, b"000eunpack ok\n001ang refs/heads/main no\n0000");
//! ```

use super::acl::{Acl, Decision, UpdateKind};
use crate::error::{HttpError, Result};
use crate::pktline::{self, CommandList, MAX_PKT_LEN};

/// What to do with a push that passed the command-level checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushPlan {
    /// Set when a command is refused: run no git, answer with this receive-pack
    /// result (after reading the rest of the request).
    pub refusal: Option<Vec<u8>>,
    /// git configuration for the receive-pack child (`receive.denyNonFastForwards`).
    pub config: Vec<(String, String)>,
    /// The log line for a refusal.
    pub log: String,
}

fn is_zero(id: &str) -> bool {
    id.bytes().all(|b| b == b'0')
}

fn verb(kind: UpdateKind) -> &'static str {
    match kind {
        UpdateKind::Create => "create",
        UpdateKind::Delete => "delete",
        UpdateKind::FastForward => "push",
        UpdateKind::Rewind => "force-push",
    }
}

/// Why `d` refused `kind`, naming the rule (file name and line) or the file.
fn reason(acl: &Acl, user: &str, kind: UpdateKind, d: &Decision) -> String {
    let base = |p: &std::path::Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let what = verb(kind);
    match (&d.rule, d.reason) {
        (Some(site), _) => format!(
            "{what} denied for {user} by {}:{}: {}",
            base(&site.file),
            site.line,
            site.text
        ),
        (None, Some(why)) => format!("{what} denied for {user}: {why}"),
        (None, None) => format!(
            "{what} denied for {user}: no rule in {} allows it",
            acl.files().first().map(|p| base(p)).unwrap_or_default()
        ),
    }
}

/// The first name under which `kind` of `refname` is refused.
fn refused(
    acl: &Acl,
    names: &[String],
    user: &str,
    refname: &str,
    kind: UpdateKind,
) -> Option<Decision> {
    names
        .iter()
        .map(|n| acl.decide_update(n, user, refname, kind))
        .find(|d| !d.allowed)
}

/// Judges every command of a push for `user` on the repository known by `names`.
/// A command list that could not be read whole cannot be judged: 403.
pub fn judge(acl: &Acl, names: &[String], user: &str, commands: &CommandList) -> Result<PushPlan> {
    let Some(updates) = &commands.updates else {
        let mut e = HttpError::forbidden("Service not enabled: 'receive-pack'");
        e.message = "ACL: the push's command list could not be read whole; refused".into();
        return Err(e);
    };
    let mut verdicts: Vec<Option<String>> = Vec::with_capacity(updates.len());
    let mut ff_only = false;
    for u in updates {
        let Ok(refname) = std::str::from_utf8(&u.name) else {
            verdicts.push(Some("ref name is not UTF-8".into()));
            continue;
        };
        let kind = if is_zero(&u.old_id) {
            UpdateKind::Create
        } else if is_zero(&u.new_id) {
            UpdateKind::Delete
        } else {
            UpdateKind::FastForward
        };
        if let Some(d) = refused(acl, names, user, refname, kind) {
            verdicts.push(Some(reason(acl, user, kind, &d)));
            continue;
        }
        if kind == UpdateKind::FastForward
            && let Some(d) = refused(acl, names, user, refname, UpdateKind::Rewind)
        {
            if refname.starts_with("refs/heads/") {
                ff_only = true;
            } else {
                verdicts.push(Some(format!(
                    "{} (only fast-forwards allowed, which are checked only under refs/heads/)",
                    reason(acl, user, UpdateKind::Rewind, &d)
                )));
                continue;
            }
        }
        verdicts.push(None);
    }
    let mut plan = PushPlan::default();
    if verdicts.iter().any(Option::is_some) {
        let mut lines = Vec::with_capacity(updates.len());
        let mut log = Vec::new();
        for (u, v) in updates.iter().zip(verdicts) {
            let why = match v {
                Some(why) => {
                    log.push(format!("{}: {why}", String::from_utf8_lossy(&u.name)));
                    why
                }
                None => "not attempted: another ref of this push was refused".to_string(),
            };
            lines.push((u.name.clone(), why));
        }
        plan.log = format!(
            "ACL: push to '{}' by {user} refused: {}",
            names.first().map(String::as_str).unwrap_or_default(),
            log.join("; ")
        );
        plan.refusal = Some(report(&commands.capabilities, &lines));
    } else if ff_only {
        plan.config
            .push(("receive.denyNonFastForwards".into(), "true".into()));
    }
    Ok(plan)
}

/// receive-pack's result for a push where nothing was applied: `unpack ok`, then
/// `ng <ref> <reason>` for each command, as report-status (v1 and v2 read the same
/// for `ng`), wrapped in side-band 1 when the client asked for `side-band-64k`
/// or `side-band`, and followed by receive-pack's final flush in that case.
pub fn report(capabilities: &[u8], results: &[(Vec<u8>, String)]) -> Vec<u8> {
    let caps: Vec<&[u8]> = capabilities
        .split(|&b| b == b' ')
        .filter(|c| !c.is_empty())
        .collect();
    let has = |c: &[u8]| caps.contains(&c);
    let mut inner = Vec::new();
    if has(b"report-status") || has(b"report-status-v2") {
        inner.extend(pktline::encode(b"unpack ok\n"));
        for (name, why) in results {
            let mut line = b"ng ".to_vec();
            line.extend_from_slice(name);
            line.push(b' ');
            let room = (MAX_PKT_LEN - 5).saturating_sub(line.len());
            let why: String = why.replace('\n', " ");
            let why = if why.len() > room {
                why.chars().take(room.min(200)).collect()
            } else {
                why
            };
            line.extend_from_slice(why.as_bytes());
            line.push(b'\n');
            line.truncate(MAX_PKT_LEN - 4);
            inner.extend(pktline::encode(&line));
        }
        inner.extend_from_slice(pktline::FLUSH);
    }
    let band_max = if has(b"side-band-64k") {
        MAX_PKT_LEN
    } else if has(b"side-band") {
        1000
    } else {
        return inner;
    };
    let mut out = Vec::with_capacity(inner.len() + 16);
    for chunk in inner.chunks(band_max - 5) {
        out.extend(format!("{:04x}", chunk.len() + 5).into_bytes());
        out.push(1);
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(pktline::FLUSH);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pktline::RefUpdate;
    use std::path::Path;

    const Z: &str = "0000000000000000000000000000000000000000";
    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    fn acl() -> Acl {
        Acl::from_text(
            Path::new("/etc/acl.conf"),
            "@rm = rita\nrepo app\n    RW+ = admin\n    RW feature/ = bob rita\n    RW+ feature/ = rita\n    \
             - main = bob\n    RW refs/heads/ = bob carl\n    RW refs/tags/v = @rm\n    \
             RW+ refs/notes/ = bob\n    RW refs/notes/ = carl\n",
        )
        .unwrap()
    }

    fn list(caps: &str, cmds: &[(&str, &str, &str)]) -> CommandList {
        CommandList {
            raw: Vec::new(),
            updates: Some(
                cmds.iter()
                    .map(|(o, n, r)| RefUpdate {
                        old_id: o.to_string(),
                        new_id: n.to_string(),
                        name: r.as_bytes().to_vec(),
                    })
                    .collect(),
            ),
            capabilities: caps.as_bytes().to_vec(),
        }
    }

    fn judge_as(user: &str, cmds: &[(&str, &str, &str)]) -> PushPlan {
        judge(&acl(), &["app".into()], user, &list("report-status", cmds)).unwrap()
    }

    #[test]
    fn verdicts() {
        // Fast-forwardable update with W but not +: git must refuse rewinds.
        let p = judge_as("bob", &[(A, B, "refs/heads/feature/x")]);
        assert_eq!(p.refusal, None);
        assert_eq!(p.config.len(), 1);
        // RW+: no constraint.
        let p = judge_as(
            "admin",
            &[(A, B, "refs/heads/main"), (A, Z, "refs/heads/x")],
        );
        assert_eq!(p, PushPlan::default());
        // Deleting needs + (no D in the repo).
        let p = judge_as("bob", &[(A, Z, "refs/heads/feature/x")]);
        let text = String::from_utf8_lossy(p.refusal.as_ref().unwrap()).into_owned();
        assert!(
            text.contains("ng refs/heads/feature/x delete denied for bob"),
            "{text}"
        );
        // A deny rule names itself; the other command is not attempted.
        let p = judge_as(
            "bob",
            &[(Z, B, "refs/heads/feature/y"), (A, B, "refs/heads/main")],
        );
        let text = String::from_utf8_lossy(p.refusal.as_ref().unwrap()).into_owned();
        assert!(
            text.contains("ng refs/heads/main push denied for bob by acl.conf:6: - main = bob"),
            "{text}"
        );
        assert!(
            text.contains("ng refs/heads/feature/y not attempted"),
            "{text}"
        );
        assert!(p.log.contains("refs/heads/main"));
        // Tags: only release managers create v*.
        assert!(judge_as("bob", &[(Z, A, "refs/tags/v1")]).refusal.is_some());
        assert!(
            judge_as("rita", &[(Z, A, "refs/tags/v1")])
                .refusal
                .is_none()
        );
        // Outside refs/heads/ git cannot enforce fast-forwards: W without + is refused.
        let p = judge_as(
            "carl",
            &[(A, B, "refs/heads/feature/z"), (A, B, "refs/notes/x")],
        );
        let text = String::from_utf8_lossy(p.refusal.as_ref().unwrap()).into_owned();
        assert!(
            text.contains("ng refs/notes/x force-push denied for carl"),
            "{text}"
        );
        assert!(text.contains("only fast-forwards allowed"), "{text}");
        // rita may rewind feature/ branches: no constraint.
        assert_eq!(
            judge_as("rita", &[(A, B, "refs/heads/feature/z")]),
            PushPlan::default()
        );
        let p = judge_as("bob", &[(A, B, "refs/notes/x")]);
        assert_eq!(p, PushPlan::default());
        // An unreadable command list is refused.
        let mut l = list("", &[]);
        l.updates = None;
        assert_eq!(
            judge(&acl(), &["app".into()], "admin", &l)
                .unwrap_err()
                .status,
            403
        );
    }

    #[test]
    fn report_framing() {
        let r = vec![(b"refs/heads/main".to_vec(), "no".to_string())];
        let plain = report(b"report-status-v2 agent=git/2", &r);
        assert_eq!(plain, b"000eunpack ok\n001ang refs/heads/main no\n0000");
        let banded = report(b"report-status side-band-64k", &r);
        let mut want = format!("{:04x}", plain.len() + 5).into_bytes();
        want.push(1);
        want.extend_from_slice(&plain);
        want.extend_from_slice(b"0000");
        assert_eq!(banded, want);
        assert_eq!(report(b"side-band-64k", &r), b"0000");
        assert_eq!(report(b"", &r), b"");
        // Small side-band: split into 1000-byte packets.
        let long = vec![(vec![b'r'; 3000], "x".to_string())];
        let out = report(b"report-status side-band", &long);
        assert_eq!(&out[..5], b"03e8\x01");
    }
}

//! `git-http-backend-rs access [--acl FILE] REPO USER PERM [REF]`: explains a
//! decision, with `gitolite access`'s arguments and exit codes (0 allowed, 1 denied,
//! 2 bad file or arguments).

use super::{Acl, Perm, repo_name};
use std::path::{Path, PathBuf};

/// The usage line of the `access` command.
pub const ACCESS_USAGE: &str = "usage: git-http-backend-rs access [--acl FILE] REPO USER PERM [REF]
  PERM: R, W, +, C or D; REF defaults to `any` (deny rules skipped unless deny-rules);
  FILE defaults to $GIT_HTTP_ACL_FILE. Exit: 0 allowed, 1 denied, 2 bad file or arguments.";

/// Runs `access` with the words after `access` on the command line.
pub fn access_command(args: &[String]) -> i32 {
    let mut acl: Option<PathBuf> = None;
    let mut rest: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        if let Some(v) = arg.strip_prefix("--acl=") {
            acl = Some(PathBuf::from(v));
        } else if arg == "--acl" {
            i += 1;
            let Some(v) = args.get(i) else {
                eprintln!("access: --acl needs a file\n{ACCESS_USAGE}");
                return 2;
            };
            acl = Some(PathBuf::from(v));
        } else if arg == "-h" || arg == "--help" {
            println!("{ACCESS_USAGE}");
            return 0;
        } else if arg.starts_with("--") {
            eprintln!("access: unknown option {arg}\n{ACCESS_USAGE}");
            return 2;
        } else {
            rest.push(arg);
        }
        i += 1;
    }
    match rest.as_slice() {
        [repo, user, perm] => access_main(acl.as_deref(), repo, user, perm, None),
        [repo, user, perm, refname] => access_main(acl.as_deref(), repo, user, perm, Some(refname)),
        _ => {
            eprintln!("access: expected REPO USER PERM [REF]\n{ACCESS_USAGE}");
            2
        }
    }
}

/// Decides one question and prints the verdict with the deciding rule's
/// `file:line` (or that no rule matched) on stdout. `acl_file` defaults to
/// `$GIT_HTTP_ACL_FILE`; `refname` `None` or `any` is gitolite's `any`. Returns the
/// exit code: 0 allowed, 1 denied, 2 bad file or arguments.
pub fn access_main(
    acl_file: Option<&Path>,
    repo: &str,
    user: &str,
    perm: &str,
    refname: Option<&str>,
) -> i32 {
    let from_env = std::env::var_os("GIT_HTTP_ACL_FILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let Some(file) = acl_file.map(Path::to_path_buf).or(from_env) else {
        eprintln!("access: no ACL file (use --acl FILE or set GIT_HTTP_ACL_FILE)");
        return 2;
    };
    let Some(perm) = Perm::parse(perm) else {
        eprintln!("access: invalid PERM `{perm}` (expected R, W, +, C or D)");
        return 2;
    };
    let acl = match Acl::load(&file) {
        Ok(acl) => acl,
        Err(e) => {
            eprintln!("access: {e}");
            return 2;
        }
    };
    for w in acl.warnings() {
        eprintln!("warning: {w}");
    }
    let repo = repo_name(repo);
    let refname = refname.filter(|r| *r != "any");
    let decision = acl.decide(&repo, user, perm, refname);
    let shown_ref = match refname {
        None => "any".to_string(),
        Some(r) if r.starts_with("refs/") => r.to_string(),
        Some(r) => format!("refs/heads/{r}"),
    };
    println!("{repo} {user} {perm} {shown_ref}: {decision}");
    if decision.allowed { 0 } else { 1 }
}

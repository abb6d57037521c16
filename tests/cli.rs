//! The command line as a user meets it: `--help` lists every option the parser
//! knows (taken from the clap definition, not a copy), `help`, `--version` with
//! the git version, and errors in the one form `fatal: <what>: <why>`.
#![cfg(unix)]

use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_git-http-backend-rs");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("GIT_HTTP_BACKEND_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("running the binary")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every argument of `cmd` (and of its visible subcommands, through
/// `help SUB`) appears in the help text, with its default where it has one.
fn check_help(cmd: &clap::Command, path: &[&str]) -> usize {
    let mut args: Vec<&str> = vec!["help"];
    args.extend_from_slice(path);
    let help_sub = run(&args);
    let mut args: Vec<&str> = path.to_vec();
    args.push("--help");
    let out = run(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        text(&out.stderr)
    );
    let help = text(&out.stdout);
    assert_eq!(
        text(&help_sub.stdout),
        help,
        "`help {path:?}` differs from --help"
    );
    let mut checked = 0;
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let shown = match arg.get_long() {
            Some(long) => format!("--{long}"),
            None => format!("<{}>", arg.get_id().as_str().to_uppercase()),
        };
        let shown = match (arg.get_long(), arg.get_value_names()) {
            (None, Some(names)) => format!("<{}>", names[0]),
            _ => shown,
        };
        let optional_form = shown.replace('<', "[").replace('>', "]");
        assert!(
            help.contains(&shown) || help.contains(&optional_form),
            "{path:?} --help lacks {shown}:\n{help}"
        );
        let takes_value = arg.get_action().takes_values();
        for default in arg.get_default_values().iter().filter(|_| takes_value) {
            let d = format!("[default: {}]", default.to_string_lossy());
            assert!(help.contains(&d), "{path:?} --help lacks {d} for {shown}");
        }
        let documented = arg.get_help().is_some() || arg.get_long_help().is_some();
        assert!(documented, "{path:?}: {shown} has no help text");
        checked += 1;
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        assert!(
            help.contains(sub.get_name()),
            "{path:?} --help lacks {}",
            sub.get_name()
        );
        let mut p = path.to_vec();
        p.push(sub.get_name());
        checked += check_help(sub, &p);
    }
    checked
}

#[test]
fn help_lists_every_option_with_its_default() {
    let mut cmd = git_http_backend_rs::cli::command();
    cmd.build();
    let checked = check_help(&cmd, &[]);
    for must in [
        "--listen",
        "--socket-group",
        "--socket-owner",
        "--max-connections",
        "--acl",
    ] {
        assert!(text(&run(&["--help"]).stdout).contains(must), "{must}");
    }
    assert!(checked >= 15, "only {checked} arguments checked");
}

#[test]
fn version_names_ours_and_git() {
    let out = run(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    let v = text(&out.stdout);
    let git = Command::new("git").arg("--version").output().unwrap();
    let git = text(&git.stdout);
    assert!(
        v.starts_with(&format!(
            "git-http-backend-rs {}\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{v}"
    );
    assert!(v.contains(git.trim()), "{v} lacks {git}");
    assert_eq!(text(&run(&["-V"]).stdout), v);
}

#[test]
fn errors_have_one_form_and_exit_2() {
    for (args, start) in [
        (
            &["--listen", "8081"][..],
            "fatal: --listen 8081: expected unix:/path or IP:PORT",
        ),
        (
            &["serve", "--listen", "8081", "/tmp"][..],
            "fatal: --listen 8081: expected HOST:PORT",
        ),
        (
            &["--socket-mode", "rw"][..],
            "fatal: --socket-mode rw: expected octal",
        ),
        (
            &["--idle-timeout", "soon"][..],
            "fatal: --idle-timeout soon: expected whole seconds",
        ),
        (&["--frobnicate"][..], "fatal: --frobnicate: unknown option"),
        (&["frobnicate"][..], "fatal: frobnicate: unknown command"),
        (&["serve"][..], "fatal: missing argument: <DIR>"),
        (
            &["--max-connections", "4"][..],
            "fatal: no socket to serve: give --listen",
        ),
        (
            &["--listen", "unix:/nonexistent-dir/x.sock"][..],
            "fatal: binding unix socket",
        ),
    ] {
        let out = run(args);
        let err = text(&out.stderr);
        let code = out.status.code();
        let first = err.lines().find(|l| l.contains("fatal:")).unwrap_or("");
        assert!(first.contains(start), "{args:?}: {err}");
        assert!(
            code == Some(2) || code == Some(1),
            "{args:?}: exit {code:?}"
        );
        assert_eq!(err.matches("fatal:").count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn socket_options_need_a_unix_socket_we_bind() {
    let out = run(&["--listen", "127.0.0.1:0", "--socket-group", "0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "fatal: --socket-group: applies only to a unix socket bound with --listen unix:/path"
        ),
        "{err}"
    );
}

#[test]
fn no_arguments_outside_a_web_server_print_usage() {
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("Usage: git-http-backend-rs"));
}

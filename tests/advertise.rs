//! Differential tests of the in-process ref advertisement and `ls-refs`: each case
//! runs the stock git-http-backend and ours as CGI on the same repository and
//! compares the replies byte for byte, and checks (through a logging `git` wrapper)
//! that ours answered without starting git where the model applies, and through git
//! where it does not.
#![cfg(unix)]

mod common;

use common::{BIN, TempDir};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn stock_program() -> PathBuf {
    let out = Command::new("git").arg("--exec-path").output().unwrap();
    let dir = String::from_utf8(out.stdout).unwrap();
    PathBuf::from(dir.trim()).join("git-http-backend")
}

/// Runs `git` with a fixed identity and no machine config.
fn g(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "A")
        .env("GIT_AUTHOR_EMAIL", "a@example.com")
        .env("GIT_COMMITTER_NAME", "A")
        .env("GIT_COMMITTER_EMAIL", "a@example.com")
        .env("GIT_AUTHOR_DATE", "1700000000 +0000")
        .env("GIT_COMMITTER_DATE", "1700000000 +0000")
        .stdin(Stdio::null())
        .output()
        .expect("git must be installed");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn g_stdin(dir: &Path, args: &[&str], input: &[u8]) {
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Site {
    root: TempDir,
    wrapper: PathBuf,
    log: PathBuf,
}

impl Site {
    fn new(tag: &str) -> Site {
        let root = TempDir::new(tag);
        let log = root.0.join("git.log");
        let wrapper = root.0.join("git-wrapper");
        let real = Command::new("sh")
            .args(["-c", "command -v git"])
            .output()
            .unwrap();
        let real = String::from_utf8(real.stdout).unwrap().trim().to_string();
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
                log.display(),
                real
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(root.0.join("home")).unwrap();
        Site { root, wrapper, log }
    }

    fn path(&self, repo: &str) -> PathBuf {
        self.root.0.join(repo)
    }

    fn cgi(
        &self,
        program: &Path,
        ours: bool,
        req: &Req,
        repo: &str,
        extra: &[(&str, &str)],
    ) -> Vec<u8> {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", self.root.0.join("home"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_PROJECT_ROOT", &self.root.0)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("REMOTE_USER", "u")
            .env("REMOTE_ADDR", "127.0.0.1")
            .env("SERVER_PROTOCOL", "HTTP/1.1")
            .env(
                "REQUEST_METHOD",
                if req.body.is_some() { "POST" } else { "GET" },
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if ours {
            cmd.env("GIT_HTTP_BACKEND_GIT", &self.wrapper);
        }
        match &req.body {
            Some(body) => {
                cmd.env("PATH_INFO", format!("/{repo}/git-upload-pack"))
                    .env("CONTENT_TYPE", "application/x-git-upload-pack-request")
                    .env("CONTENT_LENGTH", body.len().to_string());
            }
            None => {
                cmd.env("PATH_INFO", format!("/{repo}/info/refs"))
                    .env("QUERY_STRING", format!("service=git-{}", req.service));
            }
        }
        if let Some(p) = req.protocol {
            cmd.env("GIT_PROTOCOL", p);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let body = req.body.clone().unwrap_or_default();
        // A program that dies early (a bad config) need not read the body.
        let _ = child.stdin.take().unwrap().write_all(&body);
        let out = child.wait_with_output().unwrap();
        out.stdout
    }

    fn spawned(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        s
    }
}

#[derive(Clone)]
struct Req {
    /// The `object-format=` an ls-refs request names.
    format: Option<&'static str>,
    service: &'static str,
    protocol: Option<&'static str>,
    body: Option<Vec<u8>>,
    name: String,
}

fn pkt(s: &str) -> Vec<u8> {
    let mut v = format!("{:04x}", s.len() + 4).into_bytes();
    v.extend_from_slice(s.as_bytes());
    v
}

fn ls_refs_body(args: &[&str], format: Option<&str>) -> Vec<u8> {
    let mut b = pkt("command=ls-refs\n");
    b.extend(pkt("agent=git/2.47.3\n"));
    if let Some(f) = format {
        b.extend(pkt(&format!("object-format={f}\n")));
    }
    b.extend_from_slice(b"0001");
    for a in args {
        b.extend(pkt(&format!("{a}\n")));
    }
    b.extend_from_slice(b"0000");
    b
}

/// The requests every case compares: both advertisements in v0, v1 and v2, and
/// several `ls-refs` calls.
fn requests() -> Vec<Req> {
    let mut out = Vec::new();
    for service in ["upload-pack", "receive-pack"] {
        for protocol in [None, Some("version=1"), Some("version=2")] {
            out.push(Req {
                format: None,
                service,
                protocol,
                body: None,
                name: format!("info/refs {service} {protocol:?}"),
            });
        }
    }
    let calls: &[&[&str]] = &[
        &[],
        &["peel", "symrefs"],
        &["peel", "symrefs", "unborn"],
        &["ref-prefix refs/heads/", "ref-prefix refs/tags/", "peel"],
        &["ref-prefix HEAD", "symrefs", "unborn"],
        &[
            "ref-prefix refs/heads/ma",
            "ref-prefix refs/heads/main",
            "symrefs",
        ],
        &["ref-prefix refs/remotes/", "symrefs", "peel"],
    ];
    for args in calls {
        for format in [None, Some("sha1"), Some("sha256")] {
            out.push(Req {
                format,
                service: "upload-pack",
                protocol: Some("version=2"),
                body: Some(ls_refs_body(args, format)),
                name: format!("ls-refs {args:?} {format:?}"),
            });
        }
    }
    out
}

/// Compares every request on `repo`; `in_process`: whether ours must answer
/// without git.
fn compare(site: &Site, repo: &str, extra: &[(&str, &str)], in_process: bool) {
    compare_with(site, repo, extra, in_process, in_process)
}

/// [`compare`]; `caps_in_process`: whether the v2 capability advertisement (which
/// reads no refs) must be served without git.
fn compare_with(
    site: &Site,
    repo: &str,
    extra: &[(&str, &str)],
    in_process: bool,
    caps_in_process: bool,
) {
    let hash = g(&site.path(repo), &["rev-parse", "--show-object-format"]);
    compare_expecting(site, repo, extra, &|req: &Req| {
        // git refuses an ls-refs whose object format is not the repository's: ours
        // leaves that to git.
        let caps =
            req.body.is_none() && req.service == "upload-pack" && req.protocol == Some("version=2");
        Some(if caps {
            caps_in_process
        } else {
            in_process && (req.body.is_none() || req.format.unwrap_or("sha1") == hash)
        })
    })
}

/// Compares every request on `repo`; `expect` says for each whether ours must
/// answer without git (Some(true)), through git (Some(false)), or either (None).
fn compare_expecting(
    site: &Site,
    repo: &str,
    extra: &[(&str, &str)],
    expect: &dyn Fn(&Req) -> Option<bool>,
) {
    let stock = stock_program();
    // A first request learns the git binary (that one runs git).
    site.cgi(Path::new(BIN), true, &requests()[0], repo, extra);
    site.spawned();
    let mut failures = Vec::new();
    for req in requests() {
        let theirs = site.cgi(&stock, false, &req, repo, extra);
        let ours = site.cgi(Path::new(BIN), true, &req, repo, extra);
        let log = site.spawned();
        let ran_git = log.contains("upload-pack") || log.contains("receive-pack");
        if theirs != ours {
            failures.push(format!(
                "{repo} {}: differs\n--- stock\n{}\n--- ours\n{}",
                req.name,
                String::from_utf8_lossy(&theirs),
                String::from_utf8_lossy(&ours)
            ));
        }
        if let Some(in_process) = expect(&req)
            && ran_git == in_process
        {
            failures.push(format!(
                "{repo} {}: expected {}, git log: {log:?}",
                req.name,
                if in_process { "no git child" } else { "git" },
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A repository with loose and packed refs, packed and loose tag objects, a tag of
/// a tag, a tag of a tree, a symbolic ref besides HEAD.
fn rich_repo(site: &Site, name: &str, format: &str) -> PathBuf {
    let repo = site.path(name);
    g(
        &site.root.0,
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            "--object-format",
            format,
            name,
        ],
    );
    let tree = g(&repo, &["mktree"]);
    let c1 = g(&repo, &["commit-tree", &tree, "-m", "one"]);
    let c2 = g(&repo, &["commit-tree", &tree, "-p", &c1, "-m", "two"]);
    g(&repo, &["update-ref", "refs/heads/main", &c1]);
    g(&repo, &["update-ref", "refs/heads/mainline", &c1]);
    g(&repo, &["update-ref", "refs/heads/b2", &c1]);
    g(&repo, &["tag", "-a", "-m", "t1", "v1", &c1]);
    g(&repo, &["tag", "light", &c1]);
    g(&repo, &["tag", "-a", "-m", "tt", "tagtag", "v1"]);
    g(&repo, &["tag", "-a", "-m", "tree", "treetag", &tree]);
    g(&repo, &["repack", "-a", "-d", "-q"]);
    g(&repo, &["pack-refs", "--all"]);
    g(&repo, &["update-ref", "refs/heads/main", &c2]);
    g(&repo, &["tag", "-a", "-m", "t2", "v2", &c2]);
    let v1 = g(&repo, &["rev-parse", "v1"]);
    g(&repo, &["update-ref", "refs/tags/v1copy", &v1]);
    g(&repo, &["update-ref", "refs/remotes/origin/main", &c1]);
    g(
        &repo,
        &[
            "symbolic-ref",
            "refs/remotes/origin/HEAD",
            "refs/remotes/origin/main",
        ],
    );
    repo
}

#[test]
fn advertise_rich_sha1_and_sha256() {
    let site = Site::new("adv-rich");
    rich_repo(&site, "r.git", "sha1");
    compare(&site, "r.git", &[], true);
    rich_repo(&site, "s.git", "sha256");
    compare(&site, "s.git", &[], true);
}

#[test]
fn advertise_empty_and_unborn() {
    let site = Site::new("adv-empty");
    g(
        &site.root.0,
        &["init", "-q", "--bare", "-b", "main", "e.git"],
    );
    compare(&site, "e.git", &[], true);
    let repo = rich_repo(&site, "u.git", "sha1");
    g(&repo, &["symbolic-ref", "HEAD", "refs/heads/nothing"]);
    compare(&site, "u.git", &[], true);
    let repo = rich_repo(&site, "d.git", "sha1");
    let c = g(&repo, &["rev-parse", "v1^{commit}"]);
    std::fs::write(repo.join("HEAD"), format!("{c}\n")).unwrap();
    compare(&site, "d.git", &[], true);
}

#[test]
fn advertise_config_capabilities() {
    let site = Site::new("adv-config");
    let repo = rich_repo(&site, "c.git", "sha1");
    let sets: &[&[(&str, &str)]] = &[
        &[
            ("uploadpack.allowTipSHA1InWant", "true"),
            ("uploadpack.allowFilter", "true"),
            ("receive.advertisePushOptions", "true"),
        ],
        &[
            ("uploadpack.allowReachableSHA1InWant", "true"),
            ("receive.advertiseAtomic", "false"),
            ("repack.useDeltaBaseOffset", "false"),
            ("uploadpack.allowRefInWant", "true"),
            ("uploadpack.allowSidebandAll", "true"),
            ("lsrefs.unborn", "ignore"),
        ],
        &[
            ("uploadpack.allowAnySHA1InWant", "true"),
            ("transfer.advertiseObjectInfo", "true"),
            ("uploadpack.advertiseBundleURIs", "true"),
            ("lsrefs.unborn", "allow"),
        ],
    ];
    for set in sets {
        let cfg = repo.join("config");
        let before = std::fs::read(&cfg).unwrap();
        for (k, v) in *set {
            g(&repo, &["config", k, v]);
        }
        compare(&site, "c.git", &[], true);
        std::fs::write(&cfg, before).unwrap();
    }
}

#[test]
fn advertise_hidden_refs() {
    let site = Site::new("adv-hide");
    let repo = rich_repo(&site, "h.git", "sha1");
    // The packed-refs jump list: "refs/heads/ma" skips packed refs/heads/mainline.
    g(
        &repo,
        &["config", "--add", "transfer.hideRefs", "refs/heads/ma"],
    );
    g(
        &repo,
        &["config", "--add", "uploadpack.hideRefs", "refs/tags/v1/"],
    );
    g(
        &repo,
        &["config", "--add", "receive.hideRefs", "refs/remotes"],
    );
    compare(&site, "h.git", &[], true);
    g(
        &repo,
        &["config", "--add", "uploadpack.hideRefs", "refs/tags"],
    );
    g(
        &repo,
        &["config", "--add", "uploadpack.hideRefs", "!refs/tags/v2"],
    );
    g(
        &repo,
        &["config", "--add", "transfer.hideRefs", "^refs/heads/b2"],
    );
    compare(&site, "h.git", &[], true);
}

#[test]
fn advertise_namespaces() {
    let site = Site::new("adv-ns");
    let repo = rich_repo(&site, "n.git", "sha1");
    let c = g(&repo, &["rev-parse", "main"]);
    let c1 = g(&repo, &["rev-parse", "v1^{commit}"]);
    g(
        &repo,
        &["update-ref", "refs/namespaces/foo/refs/heads/main", &c1],
    );
    g(
        &repo,
        &["update-ref", "refs/namespaces/foo/refs/heads/dev", &c],
    );
    g(&repo, &["pack-refs", "--all"]);
    g(
        &repo,
        &["update-ref", "refs/namespaces/foo/refs/tags/t", &c],
    );
    g(
        &repo,
        &[
            "symbolic-ref",
            "refs/namespaces/foo/HEAD",
            "refs/namespaces/foo/refs/heads/main",
        ],
    );
    compare(&site, "n.git", &[("GIT_NAMESPACE", "foo")], true);
    g(
        &repo,
        &[
            "config",
            "--add",
            "transfer.hideRefs",
            "^refs/namespaces/foo/refs/tags",
        ],
    );
    compare(&site, "n.git", &[("GIT_NAMESPACE", "foo")], true);
}

#[test]
fn advertise_ten_thousand_refs_and_updates() {
    let site = Site::new("adv-many");
    let repo = rich_repo(&site, "m.git", "sha1");
    let c = g(&repo, &["rev-parse", "main"]);
    let v1 = g(&repo, &["rev-parse", "v1"]);
    let mut input = String::new();
    for i in 0..10_000 {
        let (kind, target) = if i % 3 == 0 {
            ("tags", &v1)
        } else {
            ("heads", &c)
        };
        input.push_str(&format!("create refs/{kind}/many/{i:05} {target}\n"));
    }
    g_stdin(&repo, &["update-ref", "--stdin"], input.as_bytes());
    g(&repo, &["pack-refs", "--all"]);
    compare(&site, "m.git", &[], true);
    // A ref updated between two requests is seen by the next one.
    let c1 = g(&repo, &["rev-parse", "v1^{commit}"]);
    g(&repo, &["update-ref", "refs/heads/many/00001", &c1]);
    g(&repo, &["update-ref", "-d", "refs/heads/many/00002"]);
    g(&repo, &["update-ref", "-d", "refs/tags/many/00003"]);
    compare(&site, "m.git", &[], true);
}

#[test]
fn advertise_falls_back_to_git() {
    let site = Site::new("adv-fallback");
    // Alternates.
    let repo = rich_repo(&site, "a.git", "sha1");
    let other = rich_repo(&site, "o.git", "sha1");
    std::fs::write(
        repo.join("objects/info/alternates"),
        format!("{}\n", other.join("objects").display()),
    )
    .unwrap();
    compare(&site, "a.git", &[], false);
    // A broken ref (to a missing object).
    let repo = rich_repo(&site, "b.git", "sha1");
    std::fs::write(
        repo.join("refs/heads/broken"),
        "1234567890123456789012345678901234567890\n",
    )
    .unwrap();
    compare_with(&site, "b.git", &[], false, true);
    // An unknown repository extension.
    let repo = rich_repo(&site, "x.git", "sha1");
    g(&repo, &["config", "core.repositoryformatversion", "1"]);
    g(&repo, &["config", "extensions.preciousObjects", "true"]);
    compare(&site, "x.git", &[], false);
}

/// Writes `data` as a loose object file under `hex` (not its hash, maybe).
fn write_object_file(repo: &Path, hex: &str, data: &[u8]) {
    let dir = repo.join("objects").join(&hex[..2]);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&hex[2..]), data).unwrap();
}

/// Writes `body` as a tag object without git's checks; returns its id.
fn write_literal_tag(repo: &Path, body: &str) -> String {
    let path = repo.join("literal-tag");
    std::fs::write(&path, body).unwrap();
    g(
        repo,
        &[
            "hash-object",
            "-t",
            "tag",
            "--literally",
            "-w",
            path.to_str().unwrap(),
        ],
    )
}

fn object_file(repo: &Path, hex: &str) -> Vec<u8> {
    std::fs::read(repo.join("objects").join(&hex[..2]).join(&hex[2..])).unwrap()
}

/// The expectation for a repository with a tag only git peels: the upload-pack
/// advertisements (v0, v1) and a full `ls-refs` with `peel` run git; the others
/// (no peeling, or not reaching the tag) may be answered in-process.
fn peels_through_git(req: &Req) -> Option<bool> {
    let v0_upload =
        req.body.is_none() && req.service == "upload-pack" && req.protocol != Some("version=2");
    let body = req.body.as_deref().unwrap_or_default();
    let peels_all = req.name.starts_with("ls-refs [\"peel\"")
        && !String::from_utf8_lossy(body).contains("ref-prefix");
    (v0_upload || peels_all).then_some(false)
}

/// Repositories that git treats in its own way (dies on, or declines to peel):
/// ours leaves each to git, byte for byte the same reply.
#[test]
fn advertise_odd_repositories_fall_back_to_git() {
    let site = Site::new("adv-odd");
    // GIT_NAMESPACE ending in a slash: git dies.
    rich_repo(&site, "ns.git", "sha1");
    compare_with(&site, "ns.git", &[("GIT_NAMESPACE", "foo/")], false, false);
    // A loose ref that is a directory of packed refs.
    let repo = rich_repo(&site, "df.git", "sha1");
    let c = g(&repo, &["rev-parse", "main"]);
    g(&repo, &["update-ref", "refs/tags/v/1", &c]);
    g(&repo, &["pack-refs", "--all"]);
    std::fs::write(repo.join("refs/tags/v"), format!("{c}\n")).unwrap();
    compare_with(&site, "df.git", &[], false, true);
    // Loose tags git does not peel: stored under another name, a type line that is
    // not the target's type; and one damaged past its first 4 KiB.
    let repo = rich_repo(&site, "tags.git", "sha1");
    let c = g(&repo, &["rev-parse", "main"]);
    let mut message = String::new();
    let mut x: u64 = 1;
    while message.len() < 24_000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        message.push_str(&format!("{:016x}", x));
    }
    g(&repo, &["tag", "-a", "-m", &message, "big", &c]);
    let big = g(&repo, &["rev-parse", "big"]);
    let renamed = "3".repeat(40);
    write_object_file(&repo, &renamed, &object_file(&repo, &big));
    std::fs::write(repo.join("refs/tags/renamed"), format!("{renamed}\n")).unwrap();
    compare_expecting(&site, "tags.git", &[], &peels_through_git);
    let repo = rich_repo(&site, "type.git", "sha1");
    let c = g(&repo, &["rev-parse", "main"]);
    let body = format!(
        "object {c}\ntype blob\ntag odd\ntagger A <a@example.com> 1700000000 +0000\n\nodd\n"
    );
    let odd = write_literal_tag(&repo, &body);
    g(&repo, &["update-ref", "refs/tags/odd", &odd]);
    // No `tag` line: git's parse_tag_buffer refuses it.
    let notag = write_literal_tag(&repo, &format!("object {c}\ntype commit\n\nno tag line\n"));
    std::fs::write(repo.join("refs/tags/notag"), format!("{notag}\n")).unwrap();
    compare_expecting(&site, "type.git", &[], &peels_through_git);
    let repo = rich_repo(&site, "damaged.git", "sha1");
    let c = g(&repo, &["rev-parse", "main"]);
    g(&repo, &["tag", "-a", "-m", &message, "big", &c]);
    let big = g(&repo, &["rev-parse", "big"]);
    let mut data = object_file(&repo, &big);
    assert!(
        data.len() > 8192,
        "the tag is stored past 4 KiB: {}",
        data.len()
    );
    let n = data.len();
    data[n - 50] ^= 0x55;
    write_object_file(&repo, &big, &data);
    compare_expecting(&site, "damaged.git", &[], &peels_through_git);
}

/// git matches config section names in any case: an `[Include]` (or the command
/// line's lowercased `includeif`) that hides refs hides them here too, in-process.
#[test]
fn advertise_includes_in_any_case() {
    let site = Site::new("adv-inc");
    let repo = rich_repo(&site, "i.git", "sha1");
    let hide = site.path("hide.cfg");
    std::fs::write(&hide, "[transfer]\n\thideRefs = refs/heads/b2\n").unwrap();
    let mut config = std::fs::read_to_string(repo.join("config")).unwrap();
    config.push_str(&format!("[Include]\n\tpath = {}\n", hide.display()));
    std::fs::write(repo.join("config"), &config).unwrap();
    compare(&site, "i.git", &[], true);
    let hide2 = site.path("hide2.cfg");
    std::fs::write(&hide2, "[uploadpack]\n\thideRefs = refs/tags/\n").unwrap();
    let params = format!(
        "'includeif.gitdir:{}/.path'='{}'",
        std::fs::canonicalize(&repo).unwrap().display(),
        hide2.display()
    );
    compare(&site, "i.git", &[("GIT_CONFIG_PARAMETERS", &params)], true);
}

/// Include paths git cannot use make it die (500, same bytes from both); several
/// paths of one `[include]` are read in order.
#[test]
fn advertise_include_paths_as_git_reads_them() {
    let site = Site::new("adv-incpath");
    let repo = rich_repo(&site, "p.git", "sha1");
    let original = std::fs::read_to_string(repo.join("config")).unwrap();
    let deny = site.path("deny.cfg");
    // Hide the tags, show them again (the later rule wins).
    std::fs::write(&deny, "[transfer]\n\thideRefs = refs/tags/\n").unwrap();
    let allow = site.path("allow.cfg");
    std::fs::write(&allow, "[transfer]\n\thideRefs = !refs/tags/\n").unwrap();
    let any = |_: &Req| None;
    for extra in [
        "[include]\n\tpath\n".to_string(),
        "[include]\n\tpath =\n".to_string(),
        format!("[include]\n\tpath = {}\n", site.root.0.display()),
        "[include]\n\tpath = ~nosuchuser-here/x\n".to_string(),
        format!(
            "[include]\n\tpath = {}\n\tpath = {}\n",
            deny.display(),
            allow.display()
        ),
        format!(
            "[include]\n\tpath = {}\n\tpath = {}\n",
            allow.display(),
            deny.display()
        ),
        "[includeIf \"gitdir:./\"]\n\tpath = ../deny.cfg\n".to_string(),
    ] {
        std::fs::write(repo.join("config"), format!("{original}{extra}")).unwrap();
        compare_expecting(&site, "p.git", &[], &any);
    }
    std::fs::write(repo.join("config"), &original).unwrap();
    for params in ["'include.path'=''", "'include.path'"] {
        compare_expecting(&site, "p.git", &[("GIT_CONFIG_PARAMETERS", params)], &any);
    }
}

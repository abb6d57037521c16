//! Fixture repositories for the differential suite, built once per test run with real git.
//!
//! Everything lives in one temporary directory; `root` is the `GIT_PROJECT_ROOT` most
//! cases use. Ids (commits, tags, loose objects, pack names) are recorded so the case
//! table can name real files and build real requests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The fixture set: paths and the ids the cases need.
pub struct Fixture {
    /// The project root (`GIT_PROJECT_ROOT`).
    pub root: PathBuf,
    /// Scratch space for per-case fresh copies.
    pub scratch: PathBuf,
    /// `main` of repo.git.
    pub main: String,
    /// The commit before `main` (`main~1`).
    pub main_parent: String,
    /// `feature` of repo.git.
    pub feature: String,
    /// The annotated tag object `v1`.
    pub tag_v1: String,
    /// A commit that exists only in the pack data below (not in any served repo).
    pub new_commit: String,
    /// `git pack-objects --stdout` of `new_commit ^main`.
    pub push_pack: Vec<u8>,
    /// A loose object of repo.git, as `xx/yyyy...`.
    pub loose: String,
    /// The pack of repo.git, `pack-<hex>` (without extension).
    pub pack: String,
    /// A loose object of sha256.git.
    pub loose256: String,
    /// The pack of sha256.git.
    pub pack256: String,
    /// `main` of sha256.git.
    pub main256: String,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

/// The shared fixture, built on first use.
pub fn get() -> &'static Fixture {
    FIXTURE.get_or_init(build)
}

/// A `git` command with the machine's config shut out and fixed identities and dates.
pub fn git_cmd(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "A U Thor")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "C O Mitter")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .env("GIT_AUTHOR_DATE", "1700000000 +0000")
        .env("GIT_COMMITTER_DATE", "1700000000 +0000")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE");
    c
}

/// Runs git in `dir`, panicking with its stderr on failure; returns trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_cmd(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running git {args:?}: {e}"));
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

fn git_stdin(dir: &Path, args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = git_cmd(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn git");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

fn sh(cmd: &str) {
    let st = Command::new("sh").arg("-c").arg(cmd).status().expect("sh");
    assert!(st.success(), "sh -c {cmd}");
}

fn commit(dir: &Path, file: &str, text: &str, date: u64) {
    write(&dir.join(file), text);
    git(dir, &["add", file]);
    let d = format!("{date} +0000");
    let out = git_cmd(dir)
        .env("GIT_AUTHOR_DATE", &d)
        .env("GIT_COMMITTER_DATE", &d)
        .args(["commit", "-q", "-m", &format!("change {file} at {date}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "commit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// First loose object (`xx/yyy`) of a bare repository.
fn first_loose(gitdir: &Path) -> String {
    let mut found = Vec::new();
    for d in std::fs::read_dir(gitdir.join("objects")).unwrap() {
        let d = d.unwrap();
        let name = d.file_name().to_string_lossy().to_string();
        if name.len() == 2 && name.chars().all(|c| c.is_ascii_hexdigit()) {
            for f in std::fs::read_dir(d.path()).unwrap() {
                found.push(format!(
                    "{name}/{}",
                    f.unwrap().file_name().to_string_lossy()
                ));
            }
        }
    }
    found.sort();
    found.into_iter().next().expect("a loose object")
}

fn first_pack(gitdir: &Path) -> String {
    let mut packs: Vec<String> = std::fs::read_dir(gitdir.join("objects/pack"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".pack"))
        .map(|n| n.trim_end_matches(".pack").to_string())
        .collect();
    packs.sort();
    packs.into_iter().next().expect("a pack")
}

/// Makes a non-bare source repo with history: two packed commits, then loose ones.
fn source_repo(dir: &Path, format: &str) {
    std::fs::create_dir_all(dir).unwrap();
    git(
        dir,
        &[
            "init",
            "-q",
            "-b",
            "main",
            &format!("--object-format={format}"),
        ],
    );
    commit(dir, "a.txt", "one\n", 1_700_000_000);
    commit(dir, "b.txt", "two\n", 1_700_000_100);
    git(dir, &["repack", "-q", "-a", "-d"]);
    git(dir, &["branch", "feature"]);
    commit(dir, "c.txt", "three\n", 1_700_000_200);
    commit(dir, "a.txt", "one again\n", 1_700_000_300);
    git(dir, &["tag", "light", "HEAD~1"]);
    git(dir, &["tag", "-a", "-m", "version one", "v1", "HEAD"]);
    git(dir, &["tag", "-a", "-m", "tag of a tag", "v1-outer", "v1"]);
}

fn bare_from(src: &Path, dest: &Path) {
    let out = git_cmd(src.parent().unwrap())
        .args(["clone", "-q", "--bare"])
        .arg(src)
        .arg(dest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "clone: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    git(dest, &["remote", "remove", "origin"]);
    write(&dest.join("git-daemon-export-ok"), "");
    git(dest, &["config", "pack.threads", "1"]);
}

fn copy(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a {} {}", from.display(), to.display());
}

fn build() -> Fixture {
    // Statics are never dropped, so a TempDir would leak: use one directory per test
    // process under cargo's tmp dir, and remove those of processes that are gone.
    let parent = Path::new(env!("CARGO_TARGET_TMPDIR")).join("differential");
    std::fs::create_dir_all(&parent).unwrap();
    for e in std::fs::read_dir(&parent).unwrap().flatten() {
        let pid = e.file_name().to_string_lossy().to_string();
        if !Path::new("/proc").join(&pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let base = parent.join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let base = base.canonicalize().unwrap();
    let root = base.join("root");
    let scratch = base.join("scratch");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&scratch).unwrap();

    // repo.git: packed and loose objects, branch, tags, alternates.
    let src = base.join("src");
    source_repo(&src, "sha1");
    let main = git(&src, &["rev-parse", "main"]);
    let main_parent = git(&src, &["rev-parse", "main~1"]);
    let feature = git(&src, &["rev-parse", "feature"]);
    let tag_v1 = git(&src, &["rev-parse", "v1"]);
    let repo = root.join("repo.git");
    bare_from(&src, &repo);
    git(&repo, &["update-ref", "refs/heads/loose-branch", &feature]);
    git(&root, &["init", "-q", "--bare", "alt.git"]);
    write(
        &repo.join("objects/info/alternates"),
        &format!("{}\n", root.join("alt.git/objects").display()),
    );
    write(
        &repo.join("objects/info/http-alternates"),
        "../../alt.git/objects\n",
    );
    git(&repo, &["update-server-info"]);
    let loose = first_loose(&repo);
    let pack = first_pack(&repo);

    // packs.git: several packs with the same mtime (git's pack order on ties).
    let packs = root.join("packs.git");
    bare_from(&src, &packs);
    for rev in ["main", "main~1", "feature", "v1"] {
        git_stdin(
            &packs,
            &["pack-objects", "--revs", "-q", "objects/pack/pack"],
            format!("{rev}\n").as_bytes(),
        );
    }
    let pack_dir = packs.join("objects/pack");
    let status = Command::new("touch")
        .arg("-d")
        .arg("2020-01-01 00:00:00")
        .args(
            std::fs::read_dir(&pack_dir)
                .unwrap()
                .flatten()
                .map(|e| e.path()),
        )
        .status()
        .expect("touch");
    assert!(status.success());

    // A commit to push, not in any served repository.
    git(&src, &["checkout", "-q", "-b", "topush"]);
    commit(&src, "d.txt", "pushed\n", 1_700_000_400);
    let new_commit = git(&src, &["rev-parse", "HEAD"]);
    let push_pack = git_stdin(
        &src,
        &["pack-objects", "--stdout", "--revs", "-q"],
        format!("{new_commit}\n^{main}\n").as_bytes(),
    );

    // SHA-256.
    let src256 = base.join("src256");
    source_repo(&src256, "sha256");
    let main256 = git(&src256, &["rev-parse", "main"]);
    let r256 = root.join("sha256.git");
    bare_from(&src256, &r256);
    git(&r256, &["update-server-info"]);
    let loose256 = first_loose(&r256);
    let pack256 = first_pack(&r256);

    // Not exported.
    copy(&repo, &root.join("noexport.git"));
    std::fs::remove_file(root.join("noexport.git/git-daemon-export-ok")).unwrap();

    // x.git reached as x; a repo without alternates files and packs.
    git(&root, &["init", "-q", "--bare", "-b", "main", "x.git"]);
    write(&root.join("x.git/git-daemon-export-ok"), "");

    // Non-bare repo (work/.git) and a non-bare repo named w2.git (w2.git/.git).
    for name in ["work", "w2.git"] {
        let w = root.join(name);
        std::fs::create_dir_all(&w).unwrap();
        git(&w, &["init", "-q", "-b", "main"]);
        commit(&w, "f.txt", "work\n", 1_700_000_500);
        write(&w.join(".git/git-daemon-export-ok"), "");
    }

    // Gitfiles: a directory with a .git file, and a plain file that is a gitfile.
    let real = base.join("gf-real.git");
    copy(&repo, &real);
    std::fs::create_dir_all(root.join("gf")).unwrap();
    write(
        &root.join("gf/.git"),
        &format!("gitdir: {}\n", real.display()),
    );
    write(
        &root.join("gflink"),
        &format!("gitdir: {}\n", real.display()),
    );

    // A plain directory that is not a repository; `...` as an ordinary name.
    std::fs::create_dir_all(root.join("plain")).unwrap();
    std::fs::create_dir_all(root.join("...")).unwrap();
    copy(&repo, &root.join(".../r.git"));

    // Namespaces.
    let ns = root.join("ns.git");
    copy(&repo, &ns);
    git(
        &ns,
        &[
            "update-ref",
            "refs/namespaces/foo/refs/heads/main",
            &feature,
        ],
    );
    git(
        &ns,
        &["update-ref", "refs/namespaces/foo/refs/heads/other", &main],
    );
    git(
        &ns,
        &["update-ref", "refs/namespaces/foo/refs/tags/v1", &tag_v1],
    );
    git(
        &ns,
        &[
            "symbolic-ref",
            "refs/namespaces/foo/HEAD",
            "refs/namespaces/foo/refs/heads/main",
        ],
    );
    git(&ns, &["update-server-info"]);

    // Owned by someone else.
    copy(&repo, &root.join("other.git"));
    sh(&format!(
        "chown -R 65534:65534 '{}'",
        root.join("other.git").display()
    ));

    // Configuration variants.
    for (name, key, value) in [
        ("getanyfile-off.git", "http.getanyfile", "false"),
        ("uploadpack-off.git", "http.uploadpack", "false"),
        ("receivepack-on.git", "http.receivepack", "true"),
        ("receivepack-off.git", "http.receivepack", "false"),
        ("archive-on.git", "http.uploadarchive", "true"),
        ("smallbuf.git", "http.maxrequestbuffer", "1k"),
        ("badbool.git", "http.uploadpack", "maybe"),
        ("badbool-getany.git", "http.getanyfile", "maybe"),
    ] {
        let d = root.join(name);
        copy(&repo, &d);
        git(&d, &["config", key, value]);
    }

    // Repositories git cannot open (enter_repo's check_repository_format, R15):
    // their config file as written, the bare copy otherwise intact.
    let bare = "[core]\n\tbare = true\n";
    for (name, config) in [
        (
            "fmt-v2.git",
            "[core]\n\trepositoryformatversion = 2\n\tbare = true\n".to_string(),
        ),
        (
            "fmt-v99.git",
            "[core]\n\trepositoryformatversion = 99\n\tbare = true\n".to_string(),
        ),
        (
            "fmt-badnum.git",
            "[core]\n\trepositoryformatversion = two\n\tbare = true\n".to_string(),
        ),
        (
            "ext-unknown.git",
            format!(
                "[core]\n\trepositoryformatversion = 1\n{bare}[extensions]\n\tfrobnicate = true\n"
            ),
        ),
        (
            "ext-unknown2.git",
            format!(
                "[core]\n\trepositoryformatversion = 1\n{bare}[extensions]\n\tfrobnicate = true\n\twibble\n"
            ),
        ),
        (
            "ext-unknown-v0.git",
            format!(
                "[core]\n\trepositoryformatversion = 0\n{bare}[extensions]\n\tfrobnicate = true\n"
            ),
        ),
        (
            "ext-unknown-noversion.git",
            format!("{bare}[extensions]\n\tfrobnicate = true\n"),
        ),
        (
            "ext-v1only-v0.git",
            format!(
                "[core]\n\trepositoryformatversion = 0\n{bare}[extensions]\n\trefstorage = files\n"
            ),
        ),
        (
            "ext-badhash.git",
            format!(
                "[core]\n\trepositoryformatversion = 1\n{bare}[extensions]\n\tobjectformat = sha3\n"
            ),
        ),
        (
            "ext-badrefs.git",
            format!(
                "[core]\n\trepositoryformatversion = 1\n{bare}[extensions]\n\trefstorage = sql\n"
            ),
        ),
        (
            "ext-reftable.git",
            format!(
                "[core]\n\trepositoryformatversion = 1\n{bare}[extensions]\n\trefstorage = reftable\n"
            ),
        ),
        (
            "ext-partialclone-nobool.git",
            format!("[core]\n\trepositoryformatversion = 1\n{bare}[extensions]\n\tpartialclone\n"),
        ),
        (
            "ext-precious-badbool.git",
            format!(
                "[core]\n\trepositoryformatversion = 1\n{bare}[extensions]\n\tpreciousobjects = maybe\n"
            ),
        ),
        (
            "ext-noop.git",
            format!(
                "[core]\n\trepositoryformatversion = 1\n{bare}[extensions]\n\tnoop = x\n\tnoop-v1 = y\n\tpreciousobjects = true\n"
            ),
        ),
        (
            "core-bare-badbool.git",
            "[core]\n\trepositoryformatversion = 0\n\tbare = maybe\n".to_string(),
        ),
        (
            "core-worktree-nobool.git",
            "[core]\n\trepositoryformatversion = 0\n\tbare = true\n\tworktree\n".to_string(),
        ),
        (
            "config-syntax.git",
            "[core\n\trepositoryformatversion = 0\n".to_string(),
        ),
        (
            "config-syntax-late.git",
            "[core]\n\trepositoryformatversion = 0\n\tbare = true\n[http\n".to_string(),
        ),
        ("config-unreadable.git", bare.to_string()),
    ] {
        let d = root.join(name);
        copy(&repo, &d);
        write(&d.join("config"), &config);
    }
    // The same failure in a repository that is not exported: stock checks the
    // format before the export.
    copy(&root.join("fmt-v2.git"), &root.join("fmt-v2-noexport.git"));
    std::fs::remove_file(root.join("fmt-v2-noexport.git/git-daemon-export-ok")).unwrap();
    // A config file that is a directory (unreadable as a file).
    std::fs::remove_file(root.join("config-unreadable.git/config")).unwrap();
    std::fs::create_dir(root.join("config-unreadable.git/config")).unwrap();
    // HEAD that is not a ref or an id; HEAD missing; a ref store git cannot read.
    copy(&repo, &root.join("head-garbage.git"));
    write(&root.join("head-garbage.git/HEAD"), "garbage\n");
    copy(&repo, &root.join("head-missing.git"));
    std::fs::remove_file(root.join("head-missing.git/HEAD")).unwrap();
    copy(&repo, &root.join("head-dangling.git"));
    write(
        &root.join("head-dangling.git/HEAD"),
        "ref: refs/heads/nosuch\n",
    );
    copy(&repo, &root.join("objects-missing.git"));
    std::fs::remove_dir_all(root.join("objects-missing.git/objects")).unwrap();
    // The repository directory is a symlink to one owned by someone else (git
    // checks the owner of the link itself: lstat).
    sh(&format!(
        "ln -s '{}' '{}'",
        root.join("other.git").display(),
        root.join("link-to-other.git").display()
    ));

    // Config files outside the repositories: global, system, HOME, includes.
    let cfg = base.join("cfg");
    std::fs::create_dir_all(cfg.join("home")).unwrap();
    write(
        &cfg.join("global-uploadpack-off"),
        "[http]\n\tuploadpack = false\n",
    );
    write(
        &cfg.join("system-getanyfile-off"),
        "[http]\n\tgetanyfile = false\n",
    );
    write(&cfg.join("global-safe-all"), "[safe]\n\tdirectory = *\n");
    write(
        &cfg.join("home/.gitconfig"),
        "[http]\n\tgetanyfile = false\n",
    );
    write(
        &cfg.join("included"),
        "[http]\n\treceivepack = true\n\tmaxrequestbuffer = 1k\n",
    );
    let inc = root.join("include.git");
    copy(&repo, &inc);
    git(
        &inc,
        &[
            "config",
            "include.path",
            &cfg.join("included").display().to_string(),
        ],
    );
    let units = root.join("units.git");
    copy(&repo, &units);
    git(&units, &["config", "http.maxrequestbuffer", "100M"]);

    // Push targets (copied fresh per backend by the runner).
    let push = root.join("push.git");
    copy(&repo, &push);
    git(&push, &["config", "core.logAllRefUpdates", "true"]);
    let hook = push.join("hooks/pre-receive");
    write(
        &hook,
        "#!/bin/sh\nenv | sort > hook-env.txt\ncat > hook-stdin.txt\nexit 0\n",
    );
    sh(&format!("chmod +x '{}'", hook.display()));
    let reject = root.join("reject.git");
    copy(&repo, &reject);
    let hook = reject.join("hooks/pre-receive");
    write(&hook, "#!/bin/sh\necho 'rejected by policy' >&2\nexit 1\n");
    sh(&format!("chmod +x '{}'", hook.display()));

    Fixture {
        root,
        scratch,
        main,
        main_parent,
        feature,
        tag_v1,
        new_commit,
        push_pack,
        loose,
        pack,
        loose256,
        pack256,
        main256,
    }
}

/// Copies `root/<name>` into a new project root under scratch; returns that root.
pub fn fresh_root(fx: &Fixture, name: &str, tag: &str) -> PathBuf {
    let r = fx.scratch.join(tag);
    let _ = std::fs::remove_dir_all(&r);
    std::fs::create_dir_all(&r).unwrap();
    copy(&fx.root.join(name), &r.join(name));
    r
}

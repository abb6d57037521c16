//! The case table: every rule of the contract as a request, run through stock and ours.
//!
//! A case is data: CGI variables (values may contain `{root}`, replaced by the project
//! root the runner uses), stdin bytes, an optional repository to copy fresh per backend,
//! and what to expect: the same reply as stock, or (for the deliberate differences the
//! README lists) our own reply, asserted exactly.

use super::fixtures::Fixture;

/// Which test function runs a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Method, path and route matching; aliasing.
    Routes,
    /// Repository lookup, export, ownership, configuration.
    Repo,
    /// Dumb HTTP files.
    Dumb,
    /// Smart advertisements and the query string.
    Smart,
    /// POST requests: content types, bodies, lengths, limits.
    Post,
    /// receive-pack pushes against fresh copies.
    Push,
}

/// What our body must be (for deliberate differences).
#[derive(Debug, Clone)]
pub enum BodyCheck {
    /// Exactly empty.
    Empty,
    /// Exactly these bytes.
    Exact(Vec<u8>),
    /// Contains this text.
    Contains(String),
    /// Anything.
    Any,
}

/// Our reply, asserted exactly, where we differ from stock on purpose.
#[derive(Debug, Clone)]
pub struct OurCheck {
    /// Expected status (0: any, but the request must end with an error: status >= 400,
    /// a non-zero exit, or a truncated reply, plus a log line).
    pub status: u16,
    /// The exact header list, when given (`Status` included; dates checked by form).
    pub headers: Option<Vec<(String, String)>>,
    /// The body.
    pub body: BodyCheck,
    /// Which deliberate difference this is.
    pub why: &'static str,
}

/// The expectation of a case.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Ours must equal stock (status, headers in order, body bytes).
    Same,
    /// A deliberate difference: ours is checked against this, stock is not compared.
    Ours(OurCheck),
}

/// How stderr is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StderrCheck {
    /// Equal after normalising (paths, trailing newlines).
    Same,
    /// Both empty or both non-empty.
    Loose,
    /// Not compared.
    Ignore,
    /// Both non-empty, and ours mentions this text (case-insensitive).
    OursContains(&'static str),
}

/// One request and its expectation.
#[derive(Debug, Clone)]
pub struct Case {
    /// Unique name (used in reports and with `DIFF_CASE=` to run one case).
    pub name: String,
    /// Which test runs it.
    pub group: Group,
    /// CGI variables and settings; values may contain `{root}`.
    pub env: Vec<(String, String)>,
    /// Stdin bytes.
    pub body: Vec<u8>,
    /// A repository under root to copy fresh for each backend (for cases that write).
    pub fresh: Option<&'static str>,
    /// What to expect.
    pub expect: Expect,
    /// How to compare stderr.
    pub stderr: StderrCheck,
    /// False when the stock program must not be run at all (it would hang: Q4).
    pub run_stock: bool,
    /// Seconds before a backend is killed.
    pub timeout: u64,
    /// Compare the hook's PATH too (other push cases mask it; see `push_hook_env_path`).
    pub hook_path: bool,
}

impl Case {
    /// A request with the default server environment.
    pub fn new(name: &str, group: Group, method: &str, path: &str) -> Case {
        let path_env =
            std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        Case {
            name: name.to_string(),
            group,
            env: vec![
                ("PATH".into(), path_env),
                ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
                ("GIT_CONFIG_GLOBAL".into(), "/dev/null".into()),
                ("GATEWAY_INTERFACE".into(), "CGI/1.1".into()),
                ("SERVER_PROTOCOL".into(), "HTTP/1.1".into()),
                ("REMOTE_ADDR".into(), "127.0.0.1".into()),
                ("GIT_PROJECT_ROOT".into(), "{root}".into()),
                ("REQUEST_METHOD".into(), method.into()),
                ("PATH_INFO".into(), path.into()),
            ],
            body: Vec::new(),
            fresh: None,
            expect: Expect::Same,
            stderr: StderrCheck::Same,
            run_stock: true,
            timeout: 20,
            hook_path: false,
        }
    }

    /// A GET request.
    pub fn get(name: &str, group: Group, path: &str) -> Case {
        Case::new(name, group, "GET", path)
    }

    /// A POST with content type, `CONTENT_LENGTH` of the body, and the body.
    pub fn post(name: &str, group: Group, path: &str, ctype: &str, body: Vec<u8>) -> Case {
        Case::new(name, group, "POST", path)
            .env("CONTENT_TYPE", ctype)
            .env("CONTENT_LENGTH", &body.len().to_string())
            .body(body)
    }

    /// Sets (or replaces) a variable.
    pub fn env(mut self, k: &str, v: &str) -> Case {
        self.env.retain(|(n, _)| n != k);
        self.env.push((k.into(), v.into()));
        self
    }

    /// Removes a variable.
    pub fn unset(mut self, k: &str) -> Case {
        self.env.retain(|(n, _)| n != k);
        self
    }

    /// Sets stdin.
    pub fn body(mut self, b: Vec<u8>) -> Case {
        self.body = b;
        self
    }

    /// Runs against fresh copies of `repo`.
    pub fn fresh(mut self, repo: &'static str) -> Case {
        self.fresh = Some(repo);
        self
    }

    /// Sets the stderr comparison.
    pub fn stderr(mut self, s: StderrCheck) -> Case {
        self.stderr = s;
        self
    }

    /// A deliberate difference: assert our reply.
    pub fn ours(
        mut self,
        status: u16,
        headers: Option<Vec<(&str, &str)>>,
        body: BodyCheck,
        why: &'static str,
    ) -> Case {
        self.expect = Expect::Ours(OurCheck {
            status,
            headers: headers.map(|h| {
                h.into_iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect()
            }),
            body,
            why,
        });
        self
    }

    /// Do not run stock (it would hang).
    pub fn no_stock(mut self) -> Case {
        self.run_stock = false;
        self
    }
}

/// One pkt-line.
pub fn pkt(s: &str) -> Vec<u8> {
    pkt_bytes(s.as_bytes())
}

/// One pkt-line of bytes.
pub fn pkt_bytes(b: &[u8]) -> Vec<u8> {
    let mut v = format!("{:04x}", b.len() + 4).into_bytes();
    v.extend_from_slice(b);
    v
}

/// Concatenates parts.
pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// gzip of `b`.
pub fn gzip(b: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// The three no-cache headers after a status line.
pub fn err_headers(status: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("Status", status),
        ("Expires", "Fri, 01 Jan 1980 00:00:00 GMT"),
        ("Pragma", "no-cache"),
        ("Cache-Control", "no-cache, max-age=0, must-revalidate"),
    ]
}

const UP: &str = "application/x-git-upload-pack-request";
const RP: &str = "application/x-git-receive-pack-request";
const UA: &str = "application/x-git-upload-archive-request";
const ZERO: &str = "0000000000000000000000000000000000000000";

/// Marks a case as the Q1 difference (403 from info/refs: each header once).
fn q1_repo(k: Case) -> Case {
    k.ours(
        403,
        Some(err_headers("403 Forbidden")),
        BodyCheck::Empty,
        "Q1: stock repeats the no-cache headers around Status on a 403 from info/refs?service=",
    )
}

/// The whole table.
pub fn all(fx: &Fixture) -> Vec<Case> {
    use Group::*;
    let mut c = Vec::new();
    let root = fx.root.display().to_string();

    // ---- R2, R11, R12: methods and routes ----
    c.push(Case::get("no_request_method", Routes, "/repo.git/HEAD").unset("REQUEST_METHOD"));
    // Without GATEWAY_INTERFACE either, nothing says "CGI" but the missing method.
    c.push(
        Case::get(
            "no_request_method_no_gateway_interface",
            Routes,
            "/repo.git/HEAD",
        )
        .unset("REQUEST_METHOD")
        .unset("GATEWAY_INTERFACE"),
    );
    c.push(Case::new(
        "head_method_is_get",
        Routes,
        "HEAD",
        "/repo.git/HEAD",
    ));
    c.push(Case::new(
        "head_method_info_refs",
        Routes,
        "HEAD",
        "/repo.git/info/refs",
    ));
    c.push(
        Case::new(
            "head_method_smart_advert",
            Routes,
            "HEAD",
            "/repo.git/info/refs",
        )
        .env("QUERY_STRING", "service=git-upload-pack"),
    );
    for (name, method, path, proto) in [
        ("post_on_head_http11", "POST", "/repo.git/HEAD", "HTTP/1.1"),
        (
            "post_on_info_refs_http10",
            "POST",
            "/repo.git/info/refs",
            "HTTP/1.0",
        ),
        (
            "post_on_loose_http11",
            "POST",
            "/repo.git/objects/ab/cdef0123456789abcdef0123456789abcdef01",
            "HTTP/1.1",
        ),
        (
            "get_on_upload_pack_http11",
            "GET",
            "/repo.git/git-upload-pack",
            "HTTP/1.1",
        ),
        (
            "get_on_receive_pack_http10",
            "GET",
            "/repo.git/git-receive-pack",
            "HTTP/1.0",
        ),
        (
            "get_on_upload_archive_http11",
            "GET",
            "/repo.git/git-upload-archive",
            "HTTP/1.1",
        ),
        (
            "get_on_missing_repo_post_route",
            "GET",
            "/nothere.git/git-upload-pack",
            "HTTP/1.1",
        ),
        (
            "post_on_missing_repo_get_route",
            "POST",
            "/nothere.git/info/refs",
            "HTTP/1.1",
        ),
        ("put_on_head", "PUT", "/repo.git/HEAD", "HTTP/1.1"),
        (
            "delete_on_pack",
            "DELETE",
            &format!("/repo.git/objects/pack/{}.pack", fx.pack),
            "HTTP/1.1",
        ),
        (
            "options_on_upload_pack",
            "OPTIONS",
            "/repo.git/git-upload-pack",
            "HTTP/1.1",
        ),
        (
            "http2_protocol_wrong_method",
            "POST",
            "/repo.git/HEAD",
            "HTTP/2.0",
        ),
    ] {
        c.push(Case::new(name, Routes, method, path).env("SERVER_PROTOCOL", proto));
    }
    c.push(
        Case::new(
            "no_server_protocol_wrong_method",
            Routes,
            "POST",
            "/repo.git/HEAD",
        )
        .unset("SERVER_PROTOCOL"),
    );
    c.push(Case::get("unsupported_path", Routes, "/repo.git/foo"));
    c.push(Case::get("unsupported_repo_root", Routes, "/repo.git"));
    c.push(Case::get(
        "unsupported_bad_loose_name",
        Routes,
        "/repo.git/objects/zz/cdef0123456789abcdef0123456789abcdef01",
    ));
    c.push(Case::get(
        "unsupported_pack_wrong_len",
        Routes,
        "/repo.git/objects/pack/pack-1234.pack",
    ));
    c.push(Case::get(
        "unsupported_upper_hex",
        Routes,
        "/repo.git/objects/AB/CDEF0123456789ABCDEF0123456789ABCDEF01",
    ));

    // ---- R4, R5: aliasing ----
    for (name, path) in [
        ("alias_dotdot", "/repo.git/../repo.git/HEAD"),
        ("alias_double_slash", "/repo.git//HEAD"),
        ("alias_dot_segment", "/./repo.git/HEAD"),
        ("alias_trailing_dot", "/repo.git/info/refs/."),
        ("alias_trailing_dotdot", "/repo.git/HEAD/.."),
        ("alias_relative", "repo.git/HEAD"),
        ("alias_just_dotdot", "/.."),
    ] {
        c.push(Case::get(name, Routes, path));
    }
    c.push(Case::get(
        "tilde_prefix_not_aliased",
        Routes,
        "~repo.git/HEAD",
    ));
    c.push(Case::get("triple_dot_is_a_name", Routes, "/.../r.git/HEAD"));
    c.push(Case::get(
        "dotfile_name_not_aliased",
        Routes,
        "/.hidden.git/HEAD",
    ));

    // ---- R4, R6, R8: where the repository is ----
    c.push(Case::get("project_root_no_path_info", Repo, "").unset("PATH_INFO"));
    c.push(Case::get("project_root_empty_path_info", Repo, ""));
    c.push(
        Case::get("path_translated_only", Repo, "/repo.git/HEAD")
            .unset("GIT_PROJECT_ROOT")
            .env("PATH_TRANSLATED", "{root}/repo.git/HEAD"),
    );
    c.push(
        Case::get("path_translated_not_alias_checked", Repo, "/x")
            .unset("GIT_PROJECT_ROOT")
            .env("PATH_TRANSLATED", "{root}/./plain/../repo.git/info/refs"),
    );
    c.push(
        Case::get("path_translated_trailing_slashes", Repo, "/x")
            .unset("GIT_PROJECT_ROOT")
            .env("PATH_TRANSLATED", "{root}/repo.git//HEAD"),
    );
    c.push(
        Case::get("empty_project_root_uses_translated", Repo, "/x")
            .env("GIT_PROJECT_ROOT", "")
            .env("PATH_TRANSLATED", "{root}/repo.git/HEAD"),
    );
    c.push(
        Case::get("neither_root_nor_translated", Repo, "/repo.git/HEAD").unset("GIT_PROJECT_ROOT"),
    );
    c.push(
        Case::get("project_root_trailing_slash", Repo, "/repo.git/HEAD")
            .env("GIT_PROJECT_ROOT", "{root}/"),
    );
    c.push(
        Case::get(
            "project_root_relative_path_info_translated",
            Repo,
            "/repo.git/HEAD",
        )
        .env("PATH_TRANSLATED", "/nonexistent/x/HEAD"),
    );
    c.push(Case::get("suffix_non_bare", Repo, "/work/HEAD"));
    c.push(Case::get(
        "suffix_non_bare_info_refs",
        Repo,
        "/work/info/refs",
    ));
    c.push(Case::get("suffix_dot_git_added", Repo, "/x/HEAD"));
    c.push(Case::get("suffix_dot_git_dot_git", Repo, "/w2/HEAD"));
    c.push(Case::get(
        "suffix_explicit_dot_git_dir",
        Repo,
        "/work/.git/HEAD",
    ));
    c.push(Case::get("gitfile_in_dir", Repo, "/gf/HEAD"));
    c.push(Case::get("gitfile_plain_file", Repo, "/gflink/info/refs"));
    c.push(Case::get("not_a_repo_missing", Repo, "/nothere/HEAD"));
    c.push(Case::get("not_a_repo_plain_dir", Repo, "/plain/HEAD"));
    c.push(Case::get("not_a_repo_root_itself", Repo, "/HEAD"));
    // R10
    c.push(Case::get("not_exported", Repo, "/noexport.git/HEAD"));
    c.push(
        Case::get("not_exported_smart", Repo, "/noexport.git/info/refs")
            .env("QUERY_STRING", "service=git-upload-pack"),
    );
    c.push(
        Case::get("export_all_empty_value", Repo, "/noexport.git/HEAD")
            .env("GIT_HTTP_EXPORT_ALL", ""),
    );
    c.push(
        Case::get("export_all_any_value", Repo, "/noexport.git/info/refs")
            .env("GIT_HTTP_EXPORT_ALL", "0"),
    );
    // R9
    c.push(Case::get("dubious_owner", Repo, "/other.git/HEAD"));
    c.push(
        Case::get("dubious_owner_safe_star", Repo, "/other.git/HEAD")
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "safe.directory")
            .env("GIT_CONFIG_VALUE_0", "*"),
    );
    c.push(
        Case::get("dubious_owner_safe_path", Repo, "/other.git/info/refs")
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "safe.directory")
            .env("GIT_CONFIG_VALUE_0", &format!("{root}/other.git")),
    );
    c.push(
        Case::get("dubious_owner_safe_other_path", Repo, "/other.git/HEAD")
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "safe.directory")
            .env("GIT_CONFIG_VALUE_0", &format!("{root}/repo.git")),
    );
    c.push(
        Case::get("assume_different_owner", Repo, "/repo.git/HEAD")
            .env("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1"),
    );
    c.push(
        Case::get("assume_different_owner_smart", Repo, "/repo.git/info/refs")
            .env("QUERY_STRING", "service=git-upload-pack")
            .env("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1"),
    );
    c.push(
        Case::get("assume_different_owner_safe", Repo, "/repo.git/HEAD")
            .env("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "safe.directory")
            .env("GIT_CONFIG_VALUE_0", "*"),
    );
    // R15: repositories git cannot open: stock checks them in enter_repo
    // (check_repository_format) before it replies; so must we, before any header.
    for repo in [
        "fmt-v2",
        "fmt-v99",
        "fmt-badnum",
        "ext-unknown",
        "ext-unknown2",
        "ext-unknown-v0",
        "ext-unknown-noversion",
        "ext-v1only-v0",
        "ext-badhash",
        "ext-badrefs",
        "ext-reftable",
        "ext-partialclone-nobool",
        "ext-precious-badbool",
        "ext-noop",
        "core-bare-badbool",
        "core-worktree-nobool",
        "config-syntax",
        "config-syntax-late",
        "config-unreadable",
        "fmt-v2-noexport",
        "head-garbage",
        "head-missing",
        "head-dangling",
        "objects-missing",
        "link-to-other",
    ] {
        let name = repo.replace('-', "_");
        c.push(Case::get(
            &format!("unopenable_{name}_dumb"),
            Repo,
            &format!("/{repo}.git/HEAD"),
        ));
        c.push(
            Case::get(
                &format!("unopenable_{name}_smart"),
                Repo,
                &format!("/{repo}.git/info/refs"),
            )
            .env("QUERY_STRING", "service=git-upload-pack"),
        );
    }
    c.push(Case::post(
        "unopenable_fmt_v2_post",
        Post,
        "/fmt-v2.git/git-upload-pack",
        UP,
        b"0000".to_vec(),
    ));
    c.push(
        Case::get(
            "unopenable_link_to_other_safe",
            Repo,
            "/link-to-other.git/HEAD",
        )
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "safe.directory")
        .env("GIT_CONFIG_VALUE_0", "{root}/other.git"),
    );

    // R22: bad config values
    c.push(
        Case::get("bad_boolean_uploadpack", Repo, "/badbool.git/info/refs")
            .env("QUERY_STRING", "service=git-upload-pack"),
    );
    c.push(Case::get(
        "bad_boolean_uploadpack_dumb",
        Repo,
        "/badbool.git/HEAD",
    ));
    c.push(Case::get(
        "bad_boolean_getanyfile",
        Repo,
        "/badbool-getany.git/HEAD",
    ));
    c.push(
        Case::get("config_from_env_getanyfile_off", Repo, "/repo.git/HEAD")
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "http.getanyfile")
            .env("GIT_CONFIG_VALUE_0", "false"),
    );

    // R22: config files outside the repository.
    let cfg = fx.root.parent().unwrap().join("cfg").display().to_string();
    c.push(q1_repo(
        Case::get(
            "config_global_file_uploadpack_off",
            Repo,
            "/repo.git/info/refs",
        )
        .env("QUERY_STRING", "service=git-upload-pack")
        .env("GIT_CONFIG_GLOBAL", &format!("{cfg}/global-uploadpack-off")),
    ));
    c.push(
        Case::get("config_system_file_getanyfile_off", Repo, "/repo.git/HEAD")
            .unset("GIT_CONFIG_NOSYSTEM")
            .env("GIT_CONFIG_SYSTEM", &format!("{cfg}/system-getanyfile-off")),
    );
    c.push(
        Case::get(
            "config_nosystem_ignores_system_file",
            Repo,
            "/repo.git/HEAD",
        )
        .env("GIT_CONFIG_SYSTEM", &format!("{cfg}/system-getanyfile-off")),
    );
    c.push(
        Case::get("config_home_gitconfig", Repo, "/repo.git/HEAD")
            .unset("GIT_CONFIG_GLOBAL")
            .env("HOME", &format!("{cfg}/home")),
    );
    c.push(
        Case::get("config_global_safe_directory", Repo, "/other.git/HEAD")
            .env("GIT_CONFIG_GLOBAL", &format!("{cfg}/global-safe-all")),
    );
    c.push(
        Case::get(
            "config_include_receivepack_on",
            Repo,
            "/include.git/info/refs",
        )
        .env("QUERY_STRING", "service=git-receive-pack"),
    );

    // ---- R31-R35: dumb routes ----
    let loose_path = format!("/repo.git/objects/{}", fx.loose);
    let pack_path = format!("/repo.git/objects/pack/{}.pack", fx.pack);
    let idx_path = format!("/repo.git/objects/pack/{}.idx", fx.pack);
    let loose256 = format!("/sha256.git/objects/{}", fx.loose256);
    let pack256 = format!("/sha256.git/objects/pack/{}.pack", fx.pack256);
    let idx256 = format!("/sha256.git/objects/pack/{}.idx", fx.pack256);
    for (name, path) in [
        ("dumb_head", "/repo.git/HEAD"),
        ("dumb_info_refs", "/repo.git/info/refs"),
        ("dumb_alternates", "/repo.git/objects/info/alternates"),
        (
            "dumb_http_alternates",
            "/repo.git/objects/info/http-alternates",
        ),
        ("dumb_info_packs", "/repo.git/objects/info/packs"),
        ("dumb_loose_sha1", &loose_path),
        ("dumb_pack_sha1", &pack_path),
        ("dumb_idx_sha1", &idx_path),
        ("dumb_head_sha256", "/sha256.git/HEAD"),
        ("dumb_info_refs_sha256", "/sha256.git/info/refs"),
        ("dumb_info_packs_sha256", "/sha256.git/objects/info/packs"),
        ("dumb_loose_sha256", &loose256),
        ("dumb_pack_sha256", &pack256),
        ("dumb_idx_sha256", &idx256),
        ("dumb_info_packs_no_packs", "/x.git/objects/info/packs"),
        (
            "dumb_info_packs_same_mtime",
            "/packs.git/objects/info/packs",
        ),
        ("dumb_info_refs_empty_repo", "/x.git/info/refs"),
        ("dumb_head_unborn", "/x.git/HEAD"),
        ("dumb_info_refs_non_bare", "/work/info/refs"),
    ] {
        c.push(Case::get(name, Dumb, path));
    }
    c.push(
        Case::get(
            "dumb_info_refs_ignores_other_query",
            Dumb,
            "/repo.git/info/refs",
        )
        .env("QUERY_STRING", "foo=bar"),
    );
    // A missing dumb file: stock writes its 404 after the cache headers were added.
    for (name, path) in [
        (
            "dumb_loose_missing",
            "/repo.git/objects/ab/cdef0123456789abcdef0123456789abcdef01".to_string(),
        ),
        (
            "dumb_pack_missing",
            format!("/repo.git/objects/pack/pack-{}.pack", "0".repeat(40)),
        ),
        (
            "dumb_idx_missing_sha256",
            format!("/sha256.git/objects/pack/pack-{}.idx", "0".repeat(64)),
        ),
        (
            "dumb_alternates_missing",
            "/x.git/objects/info/alternates".to_string(),
        ),
        (
            "dumb_http_alternates_missing",
            "/x.git/objects/info/http-alternates".to_string(),
        ),
    ] {
        c.push(Case::get(name, Dumb, &path).ours(
            404,
            Some(err_headers("404 Not Found")),
            BodyCheck::Empty,
            "stock doubles the header block for a missing dumb file; we send each header once",
        ));
    }
    // R21
    for (name, path) in [
        (
            "getanyfile_off_head",
            "/getanyfile-off.git/HEAD".to_string(),
        ),
        (
            "getanyfile_off_alternates",
            "/getanyfile-off.git/objects/info/alternates".to_string(),
        ),
        (
            "getanyfile_off_http_alternates",
            "/getanyfile-off.git/objects/info/http-alternates".to_string(),
        ),
        (
            "getanyfile_off_info_packs",
            "/getanyfile-off.git/objects/info/packs".to_string(),
        ),
        (
            "getanyfile_off_loose",
            format!("/getanyfile-off.git/objects/{}", fx.loose),
        ),
        (
            "getanyfile_off_pack",
            format!("/getanyfile-off.git/objects/pack/{}.pack", fx.pack),
        ),
        (
            "getanyfile_off_idx",
            format!("/getanyfile-off.git/objects/pack/{}.idx", fx.pack),
        ),
    ] {
        c.push(Case::get(name, Dumb, &path));
    }
    c.push(
        Case::get(
            "getanyfile_off_info_refs",
            Dumb,
            "/getanyfile-off.git/info/refs",
        )
        .ours(
            403,
            Some(err_headers("403 Forbidden")),
            BodyCheck::Empty,
            "Q1 (dumb info/refs too): stock repeats the no-cache headers around Status on this 403",
        ),
    );
    c.push(
        Case::get(
            "getanyfile_off_smart_still_served",
            Dumb,
            "/getanyfile-off.git/info/refs",
        )
        .env("QUERY_STRING", "service=git-upload-pack"),
    );
    // Namespaces (dumb)
    c.push(
        Case::get("namespace_dumb_info_refs", Dumb, "/ns.git/info/refs")
            .env("GIT_NAMESPACE", "foo"),
    );
    c.push(Case::get("namespace_dumb_head", Dumb, "/ns.git/HEAD").env("GIT_NAMESPACE", "foo"));
    c.push(
        Case::get("namespace_dumb_head_missing_ns", Dumb, "/ns.git/HEAD")
            .env("GIT_NAMESPACE", "bar"),
    );

    // ---- R19, R20, R23, R24, R3: smart advertisement ----
    let q1 = |name: &str, path: &str, query: &str, extra: &[(&str, &str)]| {
        let mut k = Case::get(name, Smart, path).env("QUERY_STRING", query);
        for (a, b) in extra {
            k = k.env(a, b);
        }
        k.ours(
            403,
            Some(err_headers("403 Forbidden")),
            BodyCheck::Empty,
            "Q1: stock repeats the no-cache headers around Status on a 403 from info/refs?service=",
        )
    };
    c.push(q1(
        "service_unknown",
        "/repo.git/info/refs",
        "service=git-foo",
        &[],
    ));
    c.push(q1(
        "service_without_git_prefix",
        "/repo.git/info/refs",
        "service=upload-pack",
        &[],
    ));
    c.push(q1(
        "service_empty_value",
        "/repo.git/info/refs",
        "service=",
        &[],
    ));
    c.push(q1(
        "service_plus_is_space",
        "/repo.git/info/refs",
        "service=git+upload-pack",
        &[],
    ));
    c.push(q1(
        "service_upload_pack_disabled",
        "/uploadpack-off.git/info/refs",
        "service=git-upload-pack",
        &[],
    ));
    c.push(q1(
        "service_receive_pack_no_user",
        "/repo.git/info/refs",
        "service=git-receive-pack",
        &[],
    ));
    c.push(q1(
        "service_receive_pack_empty_user",
        "/repo.git/info/refs",
        "service=git-receive-pack",
        &[("REMOTE_USER", "")],
    ));
    c.push(q1(
        "service_receive_pack_config_off_user",
        "/receivepack-off.git/info/refs",
        "service=git-receive-pack",
        &[("REMOTE_USER", "alice")],
    ));
    c.push(q1(
        "service_upload_archive_default_off",
        "/repo.git/info/refs",
        "service=git-upload-archive",
        &[],
    ));
    c.push(q1(
        "service_upload_archive_default_empty_user",
        "/repo.git/info/refs",
        "service=git-upload-archive",
        &[("REMOTE_USER", "")],
    ));
    c.push(q1(
        "query_duplicate_later_wins_bad",
        "/repo.git/info/refs",
        "service=git-upload-pack&service=git-foo",
        &[],
    ));
    let adv = |name: &str, path: &str, query: &str, extra: &[(&str, &str)]| {
        let mut k = Case::get(name, Smart, path).env("QUERY_STRING", query);
        for (a, b) in extra {
            k = k.env(a, b);
        }
        k
    };
    c.push(adv(
        "smart_upload_pack_v0",
        "/repo.git/info/refs",
        "service=git-upload-pack",
        &[],
    ));
    c.push(adv(
        "smart_upload_pack_v2",
        "/repo.git/info/refs",
        "service=git-upload-pack",
        &[("HTTP_GIT_PROTOCOL", "version=2")],
    ));
    c.push(adv(
        "smart_upload_pack_v1",
        "/repo.git/info/refs",
        "service=git-upload-pack",
        &[("HTTP_GIT_PROTOCOL", "version=1")],
    ));
    c.push(adv(
        "smart_receive_pack_user_v0",
        "/repo.git/info/refs",
        "service=git-receive-pack",
        &[("REMOTE_USER", "alice")],
    ));
    c.push(adv(
        "smart_receive_pack_user_v2",
        "/repo.git/info/refs",
        "service=git-receive-pack",
        &[("REMOTE_USER", "alice"), ("HTTP_GIT_PROTOCOL", "version=2")],
    ));
    c.push(adv(
        "smart_receive_pack_config_on",
        "/receivepack-on.git/info/refs",
        "service=git-receive-pack",
        &[],
    ));
    c.push(adv(
        "smart_upload_archive_on",
        "/archive-on.git/info/refs",
        "service=git-upload-archive",
        &[],
    ));
    c.push(adv(
        "service_upload_archive_default_user",
        "/repo.git/info/refs",
        "service=git-upload-archive",
        &[("REMOTE_USER", "alice"), ("HTTP_GIT_PROTOCOL", "version=2")],
    ));
    c.push(adv(
        "smart_upload_archive_on_v2",
        "/archive-on.git/info/refs",
        "service=git-upload-archive",
        &[("HTTP_GIT_PROTOCOL", "version=2")],
    ));
    c.push(adv(
        "git_protocol_server_wins",
        "/repo.git/info/refs",
        "service=git-upload-pack",
        &[
            ("HTTP_GIT_PROTOCOL", "version=2"),
            ("GIT_PROTOCOL", "version=0"),
        ],
    ));
    c.push(adv(
        "git_protocol_server_only_v2",
        "/repo.git/info/refs",
        "service=git-upload-pack",
        &[("GIT_PROTOCOL", "version=2")],
    ));
    c.push(adv(
        "git_protocol_v2_among_others",
        "/repo.git/info/refs",
        "service=git-upload-pack",
        &[("HTTP_GIT_PROTOCOL", "foo=bar:version=2")],
    ));
    c.push(adv(
        "query_percent_decoding",
        "/repo.git/info/refs",
        "service=git%2dupload-pack",
        &[],
    ));
    c.push(adv(
        "query_percent_upper",
        "/repo.git/info/refs",
        "service=git%2Dupload%2Dpack",
        &[],
    ));
    c.push(adv(
        "query_duplicate_later_wins_good",
        "/repo.git/info/refs",
        "service=git-foo&service=git-upload-pack",
        &[],
    ));
    c.push(adv(
        "query_other_params",
        "/repo.git/info/refs",
        "a=b&service=git-upload-pack&c",
        &[],
    ));
    c.push(adv(
        "query_encoded_name",
        "/repo.git/info/refs",
        "%73ervice=git-upload-pack",
        &[],
    ));
    c.push(q1("query_no_equals", "/repo.git/info/refs", "service", &[]));
    c.push(adv(
        "smart_sha256_v0",
        "/sha256.git/info/refs",
        "service=git-upload-pack",
        &[],
    ));
    c.push(adv(
        "smart_sha256_v2",
        "/sha256.git/info/refs",
        "service=git-upload-pack",
        &[("HTTP_GIT_PROTOCOL", "version=2")],
    ));
    c.push(adv(
        "smart_empty_repo",
        "/x/info/refs",
        "service=git-upload-pack",
        &[],
    ));
    c.push(adv(
        "namespace_smart_v0",
        "/ns.git/info/refs",
        "service=git-upload-pack",
        &[("GIT_NAMESPACE", "foo")],
    ));
    c.push(adv(
        "namespace_smart_v2",
        "/ns.git/info/refs",
        "service=git-upload-pack",
        &[("GIT_NAMESPACE", "foo"), ("HTTP_GIT_PROTOCOL", "version=2")],
    ));
    c.push(adv(
        "smart_non_bare",
        "/work/info/refs",
        "service=git-upload-pack",
        &[],
    ));

    // ---- R17, R25, R28-R30: POST ----
    let want_v0 = cat(&[
        &pkt(&format!("want {} no-progress ofs-delta\n", fx.main)),
        b"0000",
        &pkt("done\n"),
    ]);
    let have_v0 = cat(&[
        &pkt(&format!("want {} no-progress ofs-delta\n", fx.main)),
        b"0000",
        &pkt(&format!("have {}\n", fx.main_parent)),
        &pkt("done\n"),
    ]);
    let ls_refs = cat(&[
        &pkt("command=ls-refs\n"),
        b"0001",
        &pkt("peel\n"),
        &pkt("symrefs\n"),
        &pkt("ref-prefix refs/\n"),
        b"0000",
    ]);
    let fetch_v2 = cat(&[
        &pkt("command=fetch\n"),
        b"0001",
        &pkt("no-progress\n"),
        &pkt("ofs-delta\n"),
        &pkt(&format!("want {}\n", fx.main)),
        &pkt("done\n"),
        b"0000",
    ]);
    let fetch_v2_256 = cat(&[
        &pkt("command=fetch\n"),
        &pkt("object-format=sha256\n"),
        b"0001",
        &pkt("no-progress\n"),
        &pkt(&format!("want {}\n", fx.main256)),
        &pkt("done\n"),
        b"0000",
    ]);
    let v2 = |k: Case| k.env("HTTP_GIT_PROTOCOL", "version=2");
    c.push(Case::post(
        "upload_pack_v0",
        Post,
        "/repo.git/git-upload-pack",
        UP,
        want_v0.clone(),
    ));
    c.push(Case::post(
        "upload_pack_v0_have",
        Post,
        "/repo.git/git-upload-pack",
        UP,
        have_v0.clone(),
    ));
    c.push(v2(Case::post(
        "upload_pack_v2_ls_refs",
        Post,
        "/repo.git/git-upload-pack",
        UP,
        ls_refs.clone(),
    )));
    c.push(v2(Case::post(
        "upload_pack_v2_fetch",
        Post,
        "/repo.git/git-upload-pack",
        UP,
        fetch_v2.clone(),
    )));
    c.push(v2(Case::post(
        "upload_pack_v2_fetch_sha256",
        Post,
        "/sha256.git/git-upload-pack",
        UP,
        fetch_v2_256,
    )));
    c.push(
        v2(Case::post(
            "upload_pack_v2_ls_refs_namespace",
            Post,
            "/ns.git/git-upload-pack",
            UP,
            ls_refs.clone(),
        ))
        .env("GIT_NAMESPACE", "foo"),
    );
    c.push(Case::post(
        "upload_pack_want_annotated_tag",
        Post,
        "/repo.git/git-upload-pack",
        UP,
        cat(&[
            &pkt(&format!(
                "want {} no-progress ofs-delta include-tag\n",
                fx.tag_v1
            )),
            b"0000",
            &pkt("done\n"),
        ]),
    ));
    c.push(Case::post(
        "upload_pack_unknown_want",
        Post,
        "/repo.git/git-upload-pack",
        UP,
        cat(&[
            &pkt(&format!("want {} no-progress\n", "1".repeat(40))),
            b"0000",
            &pkt("done\n"),
        ]),
    ));
    c.push(
        Case::post(
            "upload_pack_gzip",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            gzip(&want_v0),
        )
        .env("HTTP_CONTENT_ENCODING", "gzip"),
    );
    c.push(
        Case::post(
            "upload_pack_x_gzip",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            gzip(&want_v0),
        )
        .env("HTTP_CONTENT_ENCODING", "x-gzip"),
    );
    c.push(
        v2(Case::post(
            "upload_pack_v2_gzip",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            gzip(&fetch_v2),
        ))
        .env("HTTP_CONTENT_ENCODING", "gzip"),
    );
    c.push(
        Case::post(
            "upload_pack_other_encoding_passthrough",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            want_v0.clone(),
        )
        .env("HTTP_CONTENT_ENCODING", "identity"),
    );
    c.push(
        Case::post(
            "upload_pack_chunked",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            want_v0.clone(),
        )
        .unset("CONTENT_LENGTH"),
    );
    c.push(
        Case::post(
            "upload_pack_chunked_gzip",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            gzip(&want_v0),
        )
        .unset("CONTENT_LENGTH")
        .env("HTTP_CONTENT_ENCODING", "gzip"),
    );
    c.push(
        Case::post(
            "content_length_empty_reads_to_eof",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            want_v0.clone(),
        )
        .env("CONTENT_LENGTH", ""),
    );
    c.push(
        Case::post(
            "content_length_minus_one",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            want_v0.clone(),
        )
        .env("CONTENT_LENGTH", "-1"),
    );
    c.push(
        Case::post(
            "content_length_leading_space",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            want_v0.clone(),
        )
        .env("CONTENT_LENGTH", &format!(" {}", want_v0.len())),
    );
    c.push(
        Case::post(
            "content_length_plus",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            want_v0.clone(),
        )
        .env("CONTENT_LENGTH", &format!("+{}", want_v0.len())),
    );
    c.push(
        Case::post(
            "content_length_hex",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            want_v0.clone(),
        )
        .env("CONTENT_LENGTH", &format!("0x{:x}", want_v0.len())),
    );
    c.push(
        Case::post(
            "content_length_octal",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            want_v0.clone(),
        )
        .env("CONTENT_LENGTH", &format!("0{:o}", want_v0.len())),
    );
    c.push(
        Case::post(
            "content_length_minus_two",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            want_v0.clone(),
        )
        .env("CONTENT_LENGTH", "-2"),
    );
    c.push(
        Case::post(
            "content_length_zero_chunked_body",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            want_v0.clone(),
        )
        .env("CONTENT_LENGTH", "0"),
    );
    // A 1024-byte v2 ls-refs request, announced as `1k`.
    let mut onek = cat(&[
        &pkt("command=ls-refs\n"),
        b"0001",
        &pkt("ref-prefix refs/heads/\n"),
    ]);
    let pad = 1024 - onek.len() - 4 - 4 - "ref-prefix refs/zz".len() - 1;
    onek.extend(pkt(&format!("ref-prefix refs/zz{}\n", "z".repeat(pad))));
    onek.extend_from_slice(b"0000");
    assert_eq!(onek.len(), 1024);
    c.push(
        v2(Case::post(
            "content_length_1k_unit",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            onek.clone(),
        ))
        .env("CONTENT_LENGTH", "1k"),
    );
    c.push(
        v2(Case::post(
            "content_length_body_longer_than_length",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            cat(&[&ls_refs, b"garbage-after"]),
        ))
        .env("CONTENT_LENGTH", &ls_refs.len().to_string()),
    );
    let q5 = "Q5: an unparsable CONTENT_LENGTH fails after stock's 200 headers; we send a 500 before any header";
    for (name, v) in [
        (
            "content_length_trailing_space",
            format!("{} ", want_v0.len()),
        ),
        ("content_length_garbage", "abc".to_string()),
        ("content_length_1e30", "1e30".to_string()),
        (
            "content_length_overflow",
            "99999999999999999999999".to_string(),
        ),
    ] {
        c.push(
            Case::post(name, Post, "/repo.git/git-upload-pack", UP, want_v0.clone())
                .env("CONTENT_LENGTH", &v)
                .ours(
                    500,
                    Some(err_headers("500 Internal Server Error")),
                    BodyCheck::Empty,
                    q5,
                )
                .stderr(StderrCheck::Ignore),
        );
    }
    // R30 / Q2: request buffer limit.
    let big = cat(&[&want_v0, &vec![b'0'; 2000]]);
    let q2_413 =
        "Q2: a body over the request buffer fails after stock's 200; we send a clean 413 first";
    c.push(
        Case::post(
            "over_config_max_request_buffer",
            Post,
            "/smallbuf.git/git-upload-pack",
            UP,
            big.clone(),
        )
        .ours(
            413,
            None,
            BodyCheck::Contains("request was larger than our maximum size".into()),
            q2_413,
        )
        .stderr(StderrCheck::Ignore),
    );
    c.push(
        Case::post(
            "over_env_max_request_buffer",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            want_v0.clone(),
        )
        .env("GIT_HTTP_MAX_REQUEST_BUFFER", "50")
        .ours(
            413,
            None,
            BodyCheck::Contains("request was larger than our maximum size".into()),
            q2_413,
        )
        .stderr(StderrCheck::Ignore),
    );
    // Read to EOF, stock's buffer starts at 8 KiB whatever the limit: over that fails...
    let huge = cat(&[&want_v0, &vec![b'0'; 10_000]]);
    c.push(
        Case::post(
            "over_max_request_buffer_chunked",
            Post,
            "/smallbuf.git/git-upload-pack",
            UP,
            huge.clone(),
        )
        .unset("CONTENT_LENGTH")
        .ours(
            413,
            None,
            BodyCheck::Contains("request was larger than our maximum size".into()),
            q2_413,
        )
        .stderr(StderrCheck::Ignore),
    );
    // ...but a chunked body under 8 KiB passes even with a 1k limit.
    c.push(
        Case::post(
            "chunked_under_8k_floor_small_buffer",
            Post,
            "/smallbuf.git/git-upload-pack",
            UP,
            big.clone(),
        )
        .unset("CONTENT_LENGTH"),
    );
    // The limit applies to the compressed body, not to what it inflates to.
    c.push(
        Case::post(
            "max_request_buffer_counts_compressed_size",
            Post,
            "/smallbuf.git/git-upload-pack",
            UP,
            gzip(&big),
        )
        .env("HTTP_CONTENT_ENCODING", "gzip"),
    );
    let mut noise = Vec::new();
    let mut x: u32 = 12345;
    for _ in 0..3000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        noise.push((x >> 16) as u8);
    }
    c.push(
        Case::post(
            "over_max_request_buffer_gzip_compressed",
            Post,
            "/smallbuf.git/git-upload-pack",
            UP,
            gzip(&cat(&[&want_v0, &noise])),
        )
        .env("HTTP_CONTENT_ENCODING", "gzip")
        .ours(
            413,
            None,
            BodyCheck::Contains("request was larger than our maximum size".into()),
            q2_413,
        )
        .stderr(StderrCheck::Ignore),
    );
    c.push(
        Case::post(
            "over_included_max_request_buffer",
            Post,
            "/include.git/git-upload-pack",
            UP,
            big.clone(),
        )
        .ours(
            413,
            None,
            BodyCheck::Contains("request was larger than our maximum size".into()),
            q2_413,
        )
        .stderr(StderrCheck::Ignore),
    );
    c.push(Case::post(
        "max_request_buffer_unit_m",
        Post,
        "/units.git/git-upload-pack",
        UP,
        big.clone(),
    ));
    c.push(Case::post(
        "within_config_max_request_buffer",
        Post,
        "/smallbuf.git/git-upload-pack",
        UP,
        want_v0.clone(),
    ));
    c.push(
        Case::post(
            "env_max_request_buffer_overrides_config",
            Post,
            "/smallbuf.git/git-upload-pack",
            UP,
            big.clone(),
        )
        .env("GIT_HTTP_MAX_REQUEST_BUFFER", "10M"),
    );
    c.push(
        Case::post(
            "max_request_buffer_exact_fit",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            want_v0.clone(),
        )
        .env("GIT_HTTP_MAX_REQUEST_BUFFER", &want_v0.len().to_string()),
    );
    c.push(
        Case::post(
            "bad_env_max_request_buffer",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            want_v0.clone(),
        )
        .env("GIT_HTTP_MAX_REQUEST_BUFFER", "lots"),
    );
    c.push(
        Case::get(
            "bad_env_max_request_buffer_get",
            Post,
            "/repo.git/info/refs",
        )
        .env("QUERY_STRING", "service=git-upload-pack")
        .env("GIT_HTTP_MAX_REQUEST_BUFFER", "lots"),
    );
    // R28 / Q2: bad gzip
    c.push(
        Case::post(
            "upload_pack_bad_gzip",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            b"this is not gzip".to_vec(),
        )
        .env("HTTP_CONTENT_ENCODING", "gzip")
        .ours(
            400,
            None,
            BodyCheck::Any,
            "Q2: bad gzip for upload-pack: we send 400 before any 200",
        )
        .stderr(StderrCheck::Ignore),
    );
    let mut trunc = gzip(&want_v0);
    trunc.truncate(trunc.len() / 2);
    c.push(
        Case::post(
            "upload_pack_truncated_gzip",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            trunc,
        )
        .env("HTTP_CONTENT_ENCODING", "gzip")
        .ours(
            400,
            None,
            BodyCheck::Any,
            "Q2: bad gzip for upload-pack: we send 400 before any 200",
        )
        .stderr(StderrCheck::Ignore),
    );
    c.push(
        Case::post(
            "upload_pack_short_body",
            Post,
            "/repo.git/git-upload-pack",
            UP,
            want_v0.clone(),
        )
        .env("CONTENT_LENGTH", &(want_v0.len() + 100).to_string())
        .ours(
            400,
            None,
            BodyCheck::Any,
            "short upload-pack body (EOF before CONTENT_LENGTH): we send 400",
        )
        .stderr(StderrCheck::Ignore),
    );
    // R17: content types, per service
    let bad_ct = |name: &str, path: &str, ct: Option<&str>, svc: &str, extra: &[(&str, &str)]| {
        let mut k = Case::post(name, Post, path, ct.unwrap_or(""), want_v0.clone());
        if ct.is_none() {
            k = k.unset("CONTENT_TYPE");
        }
        for (a, b) in extra {
            k = k.env(a, b);
        }
        let _ = svc;
        k
    };
    c.push(bad_ct(
        "ctype_wrong_upload_pack",
        "/repo.git/git-upload-pack",
        Some("text/plain"),
        "upload-pack",
        &[],
    ));
    c.push(bad_ct(
        "ctype_empty_upload_pack",
        "/repo.git/git-upload-pack",
        Some(""),
        "upload-pack",
        &[],
    ));
    c.push(bad_ct(
        "ctype_missing_upload_pack",
        "/repo.git/git-upload-pack",
        None,
        "upload-pack",
        &[],
    ));
    c.push(bad_ct(
        "ctype_with_charset_upload_pack",
        "/repo.git/git-upload-pack",
        Some("application/x-git-upload-pack-request; charset=utf-8"),
        "upload-pack",
        &[],
    ));
    c.push(bad_ct(
        "ctype_other_service",
        "/repo.git/git-upload-pack",
        Some(RP),
        "upload-pack",
        &[],
    ));
    c.push(bad_ct(
        "ctype_wrong_receive_pack",
        "/repo.git/git-receive-pack",
        Some("text/plain"),
        "receive-pack",
        &[("REMOTE_USER", "alice")],
    ));
    c.push(bad_ct(
        "ctype_missing_receive_pack",
        "/repo.git/git-receive-pack",
        None,
        "receive-pack",
        &[("REMOTE_USER", "alice")],
    ));
    c.push(bad_ct(
        "ctype_wrong_upload_archive",
        "/archive-on.git/git-upload-archive",
        Some("text/plain"),
        "upload-archive",
        &[],
    ));
    c.push(bad_ct(
        "ctype_empty_upload_archive",
        "/archive-on.git/git-upload-archive",
        Some(""),
        "upload-archive",
        &[],
    ));
    c.push(bad_ct(
        "ctype_wrong_but_service_disabled",
        "/uploadpack-off.git/git-upload-pack",
        Some("text/plain"),
        "upload-pack",
        &[],
    ));
    c.push(bad_ct(
        "ctype_wrong_receive_pack_no_user",
        "/repo.git/git-receive-pack",
        Some("text/plain"),
        "receive-pack",
        &[],
    ));
    c.push(bad_ct(
        "ctype_wrong_not_a_repo",
        "/nothere.git/git-upload-pack",
        Some("text/plain"),
        "upload-pack",
        &[],
    ));
    let long_ct = format!("application/{}", "x".repeat(1500));
    c.push(
        Case::post(
            "ctype_longer_than_1k",
            Post,
            "/repo.git/git-upload-pack",
            &long_ct,
            want_v0.clone(),
        )
        .ours(
            415,
            Some(vec![
                ("Status", "415 Unsupported Media Type"),
                ("Expires", "Fri, 01 Jan 1980 00:00:00 GMT"),
                ("Pragma", "no-cache"),
                ("Cache-Control", "no-cache, max-age=0, must-revalidate"),
            ]),
            BodyCheck::Exact(
                format!(
                    "Expected POST with Content-Type '{UP}', but received '{long_ct}' instead.\n"
                )
                .into_bytes(),
            ),
            "Q6: stock dies formatting a 415 with a long Content-Type; we send one clean 415",
        )
        .stderr(StderrCheck::Ignore),
    );
    // Disabled services on POST.
    c.push(Case::post(
        "post_upload_pack_disabled",
        Post,
        "/uploadpack-off.git/git-upload-pack",
        UP,
        want_v0.clone(),
    ));
    c.push(Case::post(
        "post_receive_pack_no_user",
        Post,
        "/repo.git/git-receive-pack",
        RP,
        b"0000".to_vec(),
    ));
    c.push(Case::post(
        "post_upload_archive_default_off",
        Post,
        "/repo.git/git-upload-archive",
        UA,
        b"0000".to_vec(),
    ));
    c.push(Case::post(
        "post_upload_pack_bad_boolean",
        Post,
        "/badbool.git/git-upload-pack",
        UP,
        want_v0.clone(),
    ));
    c.push(Case::post(
        "post_upload_pack_not_exported",
        Post,
        "/noexport.git/git-upload-pack",
        UP,
        want_v0.clone(),
    ));
    // upload-archive (R19, R25).
    let archive_req = cat(&[
        &pkt("argument --format=tar\n"),
        &pkt("argument main\n"),
        &pkt("argument a.txt\n"),
        b"0000",
    ]);
    c.push(v2(Case::post(
        "upload_archive_v2",
        Post,
        "/archive-on.git/git-upload-archive",
        UA,
        archive_req.clone(),
    )));
    c.push(v2(Case::post(
        "upload_archive_default_user_v2",
        Post,
        "/repo.git/git-upload-archive",
        UA,
        archive_req.clone(),
    )
    .env("REMOTE_USER", "alice")));
    c.push(v2(Case::post(
        "upload_archive_default_anonymous_v2",
        Post,
        "/repo.git/git-upload-archive",
        UA,
        archive_req.clone(),
    )));
    c.push(Case::post(
        "upload_archive_v0",
        Post,
        "/archive-on.git/git-upload-archive",
        UA,
        archive_req.clone(),
    ));
    c.push(v2(Case::post(
        "upload_archive_bad_ref",
        Post,
        "/archive-on.git/git-upload-archive",
        UA,
        cat(&[
            &pkt("argument --format=tar\n"),
            &pkt("argument nosuchref\n"),
            b"0000",
        ]),
    )));

    // ---- R26, R27: pushes against fresh copies ----
    let rp_body = |cmd: String, pack: bool| {
        let mut b = cat(&[&pkt_bytes(cmd.as_bytes()), b"0000"]);
        if pack {
            b.extend_from_slice(&fx.push_pack);
        }
        b
    };
    let push = |name: &str, repo: &'static str, body: Vec<u8>| {
        Case::post(name, Push, &format!("/{repo}/git-receive-pack"), RP, body)
            .env("REMOTE_USER", "alice")
            .env("REMOTE_ADDR", "192.0.2.7")
            .fresh(repo)
    };
    let create = rp_body(
        format!("{ZERO} {} refs/heads/new\0report-status\n", fx.new_commit),
        true,
    );
    let update = rp_body(
        format!(
            "{} {} refs/heads/main\0report-status\n",
            fx.main, fx.new_commit
        ),
        true,
    );
    let delete = rp_body(
        format!(
            "{} {ZERO} refs/heads/feature\0report-status delete-refs\n",
            fx.feature
        ),
        false,
    );
    let stale = rp_body(
        format!(
            "{} {} refs/heads/main\0report-status\n",
            fx.feature, fx.new_commit
        ),
        true,
    );
    let sideband = rp_body(
        format!(
            "{ZERO} {} refs/heads/sb\0report-status side-band-64k\n",
            fx.new_commit
        ),
        true,
    );
    c.push(push("push_create", "push.git", create.clone()));
    c.push(push("push_update", "push.git", update.clone()));
    c.push(push("push_delete", "push.git", delete.clone()));
    c.push(push("push_stale_old_value", "push.git", stale));
    c.push(push("push_side_band", "push.git", sideband));
    c.push(push("push_gzip", "push.git", gzip(&update)).env("HTTP_CONTENT_ENCODING", "gzip"));
    c.push(push("push_chunked", "push.git", create.clone()).unset("CONTENT_LENGTH"));
    c.push(push("push_no_remote_addr", "push.git", create.clone()).unset("REMOTE_ADDR"));
    c.push(
        push("push_committer_from_env", "push.git", create.clone())
            .env("GIT_COMMITTER_NAME", "Server Name")
            .env("GIT_COMMITTER_EMAIL", "server@example.com"),
    );
    let mut k = push("push_hook_env_path", "push.git", create.clone());
    k.hook_path = true;
    c.push(k);
    c.push(push("push_hook_rejects", "reject.git", create.clone()));
    c.push(
        push(
            "push_config_on_no_user",
            "receivepack-on.git",
            create.clone(),
        )
        .unset("REMOTE_USER"),
    );
    c.push(push("push_namespace", "push.git", create.clone()).env("GIT_NAMESPACE", "foo"));
    // Stock dies after its 200 but has closed stdout by then: the reply is a bare 200.
    // We refuse it with a 400 before git starts.
    c.push(
        push(
            "push_bad_gzip",
            "push.git",
            b"this is not gzip at all".to_vec(),
        )
        .env("HTTP_CONTENT_ENCODING", "gzip")
        .ours(
            400,
            None,
            BodyCheck::Empty,
            "bad gzip on receive-pack: stock dies after its 200 (bare 200 reply); we answer 400 before git starts",
        )
        .stderr(StderrCheck::OursContains("gzip")),
    );
    c.push(
        push(
            "push_gzip_inflates_to_garbage",
            "push.git",
            gzip(&[b'x'; 5000]),
        )
        .env("HTTP_CONTENT_ENCODING", "gzip"),
    );
    c.push(
        push("push_short_body", "push.git", create.clone())
            .env("CONTENT_LENGTH", &(create.len() + 50).to_string())
            .no_stock()
            .ours(
                0,
                None,
                BodyCheck::Any,
                "Q4: stock spins forever on a short receive-pack body; we end with an error",
            )
            .stderr(StderrCheck::Ignore),
    );
    c
}

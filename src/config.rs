//! The `http.*` settings of a repository and the `safe.directory` list, read
//! in-process the way git reads them (spawning `git config` costs about a millisecond
//! per request).
//!
//! Sources, in git's order (the last value of a single-valued key wins):
//! 1. system: `GIT_CONFIG_SYSTEM`, else the system file of the `git` we run
//!    (`<prefix>/etc/gitconfig`, `/etc/gitconfig` for prefix `/usr`), unless
//!    `GIT_CONFIG_NOSYSTEM` is true;
//! 2. global: `GIT_CONFIG_GLOBAL`, else `$XDG_CONFIG_HOME/git/config` (or
//!    `$HOME/.config/git/config`) and `$HOME/.gitconfig`;
//! 3. repository: `<commondir>/config`, then `<git_dir>/config.worktree` if
//!    `extensions.worktreeConfig` is on;
//! 4. command line: `GIT_CONFIG_COUNT` + `GIT_CONFIG_KEY_<n>`/`GIT_CONFIG_VALUE_<n>`,
//!    then `GIT_CONFIG_PARAMETERS`.
//!
//! `include.path` and `includeIf` (`gitdir:`, `gitdir/i:`, `onbranch:`) are followed by
//! `gix-config`. Every environment variable comes from the request's [`Env`], never
//! from the process (one FastCGI process serves requests with different environments).
//! `safe.directory` is read from the protected sources only (1, 2 and 4).

use crate::error::{HttpError, Result};
use crate::gitnum::NumError;
use crate::request::Env;
use bstr::{BStr, BString};
use gix_config::file::{Metadata, includes, init};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// git-http-backend's settings for one repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// `http.getanyfile` (default true): gates every dumb route.
    pub getanyfile: bool,
    /// `http.uploadpack` (None: not set, default on).
    pub uploadpack: Option<bool>,
    /// `http.receivepack` (None: not set, default on iff REMOTE_USER is non-empty).
    pub receivepack: Option<bool>,
    /// `http.uploadarchive` (None: not set, default off).
    pub uploadarchive: Option<bool>,
    /// `http.maxrequestbuffer` in bytes (None: not set).
    pub max_request_buffer: Option<u64>,
    /// `http.lfs` (ours, not git's): serve the Git LFS API for this repository.
    /// `None` when unset; a value that is not a boolean is `Some(false)` (off is
    /// the safe reading) with a warning, so it never breaks git's own requests.
    pub lfs: Option<bool>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            getanyfile: true,
            uploadpack: None,
            receivepack: None,
            uploadarchive: None,
            max_request_buffer: None,
            lfs: None,
        }
    }
}

/// The last value of a key (None: no `=`) and the file it came from.
type Found = (Option<Vec<u8>>, Option<PathBuf>);

/// Reads the settings for the repository whose git directory is `git_dir`, from the
/// system, global and repository config files and the `GIT_CONFIG_*` variables of
/// `env`. A malformed value is an internal error, as in git.
pub fn load(git_dir: &Path, env: &Env) -> Result<HttpConfig> {
    load_with_file(git_dir, env).map(|(c, _)| c)
}

/// [`load`], also returning the whole merged config (read once per request; the
/// in-process advertisement reads its settings from it).
pub fn load_with_file(git_dir: &Path, env: &Env) -> Result<(HttpConfig, gix_config::File)> {
    let file = read(Some(git_dir), env)?;
    let mut last: [Option<Found>; 6] = Default::default();
    const KEYS: [&str; 6] = [
        "getanyfile",
        "uploadpack",
        "receivepack",
        "uploadarchive",
        "maxrequestbuffer",
        "lfs",
    ];
    if let Some(sections) = file.sections_by_name("http") {
        for section in sections.filter(|s| s.header().subsection_name().is_none()) {
            for (slot, key) in last.iter_mut().zip(KEYS) {
                if let Some(value) = section.value_implicit(key) {
                    *slot = Some((value.map(Vec::from), section.meta().path.clone()));
                }
            }
        }
    }
    let boolean = |i: usize| -> Result<Option<bool>> {
        match &last[i] {
            None => Ok(None),
            Some((value, _)) => {
                config_bool(&format!("http.{}", KEYS[i]), value.as_deref()).map(Some)
            }
        }
    };
    // git's order: getanyfile, maxrequestbuffer, then the services.
    let getanyfile = boolean(0)?.unwrap_or(true);
    let max_request_buffer = match &last[4] {
        None => None,
        Some((value, origin)) => Some(config_ulong(
            "http.maxrequestbuffer",
            value.as_deref(),
            origin.as_deref(),
            git_dir,
        )?),
    };
    let uploadpack = boolean(1)?;
    let receivepack = boolean(2)?;
    let uploadarchive = boolean(3)?;
    let lfs = boolean(5).unwrap_or_else(|e| {
        log::warn!("{}: Git LFS stays off", e.message);
        Some(false)
    });
    let config = HttpConfig {
        getanyfile,
        uploadpack,
        receivepack,
        uploadarchive,
        max_request_buffer,
        lfs,
    };
    Ok((config, file))
}

/// True if `git_dir` (already canonical) is listed by `safe.directory` in the
/// protected config (system, global, command line) of `env`.
///
/// As git's `safe_directory_cb`: an empty value resets the list, `*` allows every
/// directory, `~/` and `%(prefix)/` are expanded, a relative value other than `.` is
/// ignored, the value is resolved like `realpath` (a missing last component is
/// allowed, a missing directory above it skips the entry), and a value ending in
/// `/*` allows everything below it.
pub fn is_safe_directory(git_dir: &Path, env: &Env) -> bool {
    let file = match read(None, env) {
        Ok(file) => file,
        Err(e) => {
            log::error!("reading safe.directory: {}", e.message);
            return false;
        }
    };
    let target = crate::os::os_to_bytes(git_dir.as_os_str().to_owned());
    let mut safe = false;
    let Some(sections) = file.sections_by_name("safe") else {
        return false;
    };
    let home = env.get("HOME").map(os_path);
    let prefix = git_prefix(env);
    for section in sections.filter(|s| s.header().subsection_name().is_none()) {
        for value in section.values("directory") {
            let value: &[u8] = value.as_ref();
            if value.is_empty() {
                safe = false;
            } else if value == b"*" {
                safe = true;
            } else if let Some(allowed) = interpolate_path(value, home.as_deref(), &prefix) {
                if !allowed.is_absolute() && value != b"." {
                    log::warn!(
                        "safe.directory '{}' not absolute",
                        String::from_utf8_lossy(value)
                    );
                    continue;
                }
                let Some(normalized) = real_path(&allowed) else {
                    continue;
                };
                let normalized = crate::os::os_to_bytes(normalized.into_os_string());
                if let Some(stem) = normalized
                    .strip_suffix(b"*")
                    .filter(|_| normalized.ends_with(b"/*"))
                {
                    if target.starts_with(stem) {
                        safe = true;
                    }
                } else if normalized == target {
                    safe = true;
                }
            } else {
                log::warn!(
                    "safe.directory: failed to expand user dir in: '{}'",
                    String::from_utf8_lossy(value)
                );
            }
        }
    }
    safe
}

/// Reads the config git would see for `git_dir` (None: the protected config only,
/// without the repository files, as `safe.directory` wants) into one file, in order.
fn read(git_dir: Option<&Path>, env: &Env) -> Result<gix_config::File> {
    // Most setups include no file: read without what conditional includes need
    // (the canonical repository path and HEAD's branch, a dozen system calls per
    // request), and again with it only when some file has an include.
    match read_with(git_dir, env, false)? {
        Some(file) => Ok(file),
        None => read_with(git_dir, env, true)?
            .ok_or_else(|| HttpError::die("reading the configuration files")),
    }
}

/// True if `file` has an `include` or `includeIf` section (of any spelling).
fn has_includes(file: &gix_config::File) -> bool {
    file.sections_by_name("include").is_some() || file.sections_by_name("includeIf").is_some()
}

/// The configuration `read` describes; without `follow`, `Ok(None)` as soon as a
/// file turns out to include another.
fn read_with(git_dir: Option<&Path>, env: &Env, follow: bool) -> Result<Option<gix_config::File>> {
    let home = env.get("HOME").map(os_path);
    let prefix = git_prefix(env);
    // git enters the repository and names it `.`: `gitdir:` patterns are matched
    // against its real path and then its absolute path, `<real path>/.` (so
    // `gitdir:/srv/r.git/` matches the bare repository /srv/r.git). gix-config
    // tries the path it is given, then that path's real path: give it the second.
    let canonical_git_dir = git_dir.filter(|_| follow).map(|d| {
        std::fs::canonicalize(d)
            .unwrap_or_else(|_| d.to_path_buf())
            .join(".")
    });
    let gitdir_ctx = IncludeContext {
        git_dir_real: git_dir
            .filter(|_| follow)
            .and_then(real_path)
            .map(|p| slashes(crate::os::os_to_bytes(p.into_os_string()))),
        home: home.as_deref(),
        prefix: &prefix,
    };
    let commondir = git_dir.map(commondir);
    let branch = match git_dir {
        Some(d) if follow => head_branch(d),
        _ => None,
    };
    let branch_ref = branch.as_ref().map(|b| b.as_ref());
    let interpolate = gix_config::path::interpolate::Context {
        git_install_dir: Some(prefix.as_path()),
        home_dir: home.as_deref(),
        home_for_user: Some(gix_config::path::interpolate::home_for_user),
    };
    let options = |ignore_io_errors| init::Options {
        includes: if follow {
            includes::Options {
                // git allows a chain of 10 included files and dies at the 11th;
                // gix-config refuses to enter depth `max_depth`.
                max_depth: MAX_INCLUDE_DEPTH + 1,
                ..includes::Options::follow(
                    interpolate,
                    includes::conditional::Context {
                        git_dir: canonical_git_dir.as_deref(),
                        branch_name: branch_ref,
                    },
                )
            }
        } else {
            includes::Options::no_follow()
        },
        lossy: true,
        ignore_io_errors,
    };
    let mut buf = Vec::with_capacity(1024);
    let mut protected = Vec::with_capacity(3);
    if !env_bool(env, "GIT_CONFIG_NOSYSTEM")? {
        let system = match env.get("GIT_CONFIG_SYSTEM") {
            Some(p) => os_path(p),
            None => system_config_for(&prefix),
        };
        protected.push(meta(system, gix_config::Source::System));
    }
    match env.get("GIT_CONFIG_GLOBAL") {
        Some(p) => protected.push(meta(os_path(p), gix_config::Source::User)),
        None => {
            match env.get_nonempty("XDG_CONFIG_HOME") {
                Some(x) => {
                    protected.push(meta(os_path(x).join("git/config"), gix_config::Source::Git))
                }
                None => {
                    if let Some(h) = env.get("HOME") {
                        protected.push(meta(
                            join_bytes(h, b"/.config/git/config"),
                            gix_config::Source::Git,
                        ));
                    }
                }
            }
            if let Some(h) = env.get("HOME") {
                protected.push(meta(
                    join_bytes(h, b"/.gitconfig"),
                    gix_config::Source::User,
                ));
            }
        }
    }
    // git skips unreadable (EACCES) system and global files; we skip any IO error there.
    protected.retain(|m| m.path.as_ref().is_some_and(|p| !p.as_os_str().is_empty()));
    let mut file = gix_config::File::default();
    for m in protected {
        if let Some(f) = read_file(m, &mut buf, options(true), &gitdir_ctx, None)? {
            if !follow && has_includes(&f) {
                return Ok(None);
            }
            append(&mut file, f)?;
        }
    }

    if let (Some(git_dir), Some(commondir)) = (git_dir, commondir) {
        let local = meta(commondir.join("config"), gix_config::Source::Local);
        if let Some(repo) = read_file(local, &mut buf, options(false), &gitdir_ctx, Some(git_dir))?
        {
            if !follow && has_includes(&repo) {
                return Ok(None);
            }
            let worktree_config = match repo.string_implicit("extensions.worktreeConfig") {
                Some(v) => config_bool(
                    "extensions.worktreeconfig",
                    v.as_deref().map(|v| v.as_ref()),
                )?,
                None => false,
            };
            append(&mut file, repo)?;
            if worktree_config {
                let wt = meta(
                    git_dir.join("config.worktree"),
                    gix_config::Source::Worktree,
                );
                if let Some(wt) =
                    read_file(wt, &mut buf, options(false), &gitdir_ctx, Some(git_dir))?
                {
                    if !follow && has_includes(&wt) {
                        return Ok(None);
                    }
                    append(&mut file, wt)?;
                }
            }
        }
    }

    let pairs = command_line_pairs(env)
        .map_err(|e| HttpError::die(format!("{e}\nunable to parse command-line config")))?;
    if !pairs.is_empty() {
        let mut cli = gix_config::File::new(Metadata::from(gix_config::Source::Cli));
        for (key, value) in &pairs {
            let (section, subsection, name) = split_key(key);
            let mut s = cli
                .new_section(section, subsection.map(BString::from))
                .map_err(|e| config_error("parsing the command-line config", e))?;
            s.push(name, value.as_deref().map(BStr::new))
                .map_err(|e| config_error("parsing the command-line config", e))?;
        }
        if !follow && has_includes(&cli) {
            return Ok(None);
        }
        follow_includes(&mut cli, options(false), &gitdir_ctx, |e| {
            config_error("following includes of the command-line config", e)
        })?;
        append(&mut file, cli)?;
    }
    Ok(Some(file))
}

/// Reads one config file and its includes; `Ok(None)` if it does not exist. A syntax
/// error is fatal with git's message (the file named as git names it: relative to the
/// repository, which git has entered, for repository files).
fn read_file(
    m: Metadata,
    buf: &mut Vec<u8>,
    options: init::Options<'_>,
    ctx: &IncludeContext,
    git_dir: Option<&Path>,
) -> Result<Option<gix_config::File>> {
    let path = m.path.clone().unwrap_or_default();
    let no_follow = init::Options {
        includes: includes::Options::no_follow(),
        ..options
    };
    let file =
        gix_config::File::from_paths_metadata_buf(&mut std::iter::once(m), buf, false, no_follow)
            .map_err(|e| read_error(&e, &path, git_dir))?;
    let Some(mut file) = file else {
        return Ok(None);
    };
    follow_includes(&mut file, options, ctx, |e| read_error(e, &path, git_dir))?;
    Ok(Some(file))
}

/// git's `MAX_INCLUDE_DEPTH`.
const MAX_INCLUDE_DEPTH: u8 = 10;

/// What git's `gitdir:` include conditions are evaluated with.
struct IncludeContext<'a> {
    /// The repository's real path (`/` separators); None: no repository, where
    /// no `gitdir:` condition holds.
    git_dir_real: Option<Vec<u8>>,
    home: Option<&'a Path>,
    prefix: &'a Path,
}

/// Follows the includes of `file` as git does, if `options` say to follow them.
///
/// gix-config follows only sections spelled `include` and `includeIf`, and its
/// `gitdir:` matching differs from git's in corners (the absolute path git tries
/// second, the literal prefix of `./` patterns, the real path of the config file).
/// So the sections of `file` itself are rewritten first: a `gitdir:` condition is
/// decided here, by git's rules, and its section becomes `[include]` (true) or
/// `[include "..."]` (false: never followed); other conditions are respelled
/// `includeIf`; `[Include]` becomes `[include]`. Files included from there are
/// left to gix-config; one with an include spelled otherwise, that git would
/// follow, is refused rather than silently not followed.
fn follow_includes(
    file: &mut gix_config::File,
    options: init::Options<'_>,
    ctx: &IncludeContext,
    on_error: impl FnOnce(&gix_error::Error) -> HttpError,
) -> Result<()> {
    if options.includes.max_depth == 0 {
        return Ok(());
    }
    rewrite_includes(file, ctx)?;
    check_include_paths(file, ctx)?;
    file.resolve_includes(options).map_err(|e| on_error(&e))?;
    match odd_include(file, ctx) {
        Some(odd) => Err(HttpError::die(format!(
            "[{odd}] in an included config file: spell it [include] or [includeIf \"...\"] \
             (git follows it, this program would not)"
        ))),
        None => Ok(()),
    }
}

/// How git reads an include section's header: Some(None) for `[include]`,
/// Some(Some(condition)) for `[includeIf "condition"]`, in any case; else None.
fn include_kind<'a>(name: &BStr, sub: Option<&'a BStr>) -> Option<Option<&'a BStr>> {
    match sub {
        None if name.eq_ignore_ascii_case(b"include") => Some(None),
        Some(c) if name.eq_ignore_ascii_case(b"includeif") => Some(Some(c)),
        _ => None,
    }
}

/// The header of the first section, from an included file, that git would follow
/// as an include and gix-config would not (spelled other than `include` or
/// `includeIf`, its condition true or not decided here).
fn odd_include(file: &gix_config::File, ctx: &IncludeContext) -> Option<String> {
    file.sections().find_map(|s| {
        let h = s.header();
        let name = h.name();
        let cond = include_kind(name, h.subsection_name())?;
        if name == "include" || name == "includeIf" {
            return None;
        }
        let config_path = s.meta().path.as_deref();
        let holds = cond.is_none_or(|c| gitdir_condition(c, config_path, ctx) != Some(false));
        holds.then(|| name.to_string())
    })
}

/// The rewrite [`follow_includes`] describes, for the sections of `file` itself.
fn rewrite_includes(file: &mut gix_config::File, ctx: &IncludeContext) -> Result<()> {
    let mut renames: Vec<(String, Option<BString>, &str, Option<BString>)> = Vec::new();
    for s in file.sections() {
        let h = s.header();
        let name = h.name();
        let sub = h.subsection_name();
        let Some(cond) = include_kind(name, sub) else {
            continue;
        };
        let to = match cond {
            None => ("include", None),
            Some(c) => match gitdir_condition(c, s.meta().path.as_deref(), ctx) {
                Some(true) => ("include", None),
                Some(false) => ("include", Some(BString::from("gitdir condition not met"))),
                None => ("includeIf", Some(BString::from(c))),
            },
        };
        if (name.as_ref() as &[u8], sub) == (to.0.as_bytes(), to.1.as_ref().map(|b| b.as_ref())) {
            continue;
        }
        // One rename per name (in any case: the lookup ignores case) and condition.
        let key = (
            name.to_string().to_ascii_lowercase(),
            sub.map(BString::from),
            to.0,
            to.1,
        );
        if !renames.contains(&key) {
            renames.push(key);
        }
    }
    for (name, sub, to, to_sub) in renames {
        file.rename_section(&name, sub.as_ref().map(|b| b.as_ref()), to, to_sub)
            .map_err(|e| config_error("reading an include section", e))?;
    }
    Ok(())
}

/// git dies on an `[include]` path it cannot use (no value, a `~user` it cannot
/// expand, a relative path on the command line, a directory) where gix-config
/// skips it; and it reads the paths of one section in order, where gix-config
/// splices each file right after the section (so several come out reversed: they
/// are put in reverse order here).
fn check_include_paths(file: &mut gix_config::File, ctx: &IncludeContext) -> Result<()> {
    let ids: Vec<_> = file
        .sections_and_ids()
        .filter(|(s, _)| s.header().name() == "include" && s.header().subsection_name().is_none())
        .map(|(_, id)| id)
        .collect();
    for id in ids {
        let Some(mut section) = file.section_mut_by_id(id) else {
            continue;
        };
        // The values, last first (with None for a `path` without `=`).
        let mut popped: Vec<Option<BString>> = Vec::new();
        while let Some(v) = section.value_implicit("path") {
            popped.push(v);
            section.remove("path");
        }
        let dir = section
            .meta()
            .path
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf);
        // git names the repository's own files relatively (`config`): an empty
        // path there is the empty path, which does not exist.
        let own_file = matches!(
            section.meta().source,
            gix_config::Source::Local | gix_config::Source::Worktree
        );
        for v in popped.iter().rev() {
            let Some(v) = v else {
                return Err(HttpError::die("missing value for 'include.path'"));
            };
            if v.is_empty() && own_file {
                continue;
            }
            let Some(expanded) = interpolate_path(v, ctx.home, ctx.prefix) else {
                return Err(HttpError::die(format!(
                    "could not expand include path '{v}'"
                )));
            };
            let full = if expanded.is_absolute() {
                expanded
            } else {
                match &dir {
                    Some(d) => d.join(expanded),
                    None => {
                        return Err(HttpError::die(
                            "relative config includes must come from files",
                        ));
                    }
                }
            };
            if full.is_dir() {
                return Err(HttpError::die(format!(
                    "unable to read include file '{}': Is a directory",
                    full.display()
                )));
            }
        }
        // Last first: gix-config puts each file right after the section, so the
        // first path's file ends up first.
        for v in popped.into_iter().flatten() {
            section
                .push("path", Some(v.as_ref()))
                .map_err(|e| config_error("reading an include section", e))?;
        }
    }
    Ok(())
}

/// `/` separators, as git shows paths on every system.
fn slashes(mut bytes: Vec<u8>) -> Vec<u8> {
    if cfg!(windows) {
        for b in &mut bytes {
            if *b == b'\\' {
                *b = b'/';
            }
        }
    }
    bytes
}

/// git's `include_by_gitdir` for a `gitdir:` or `gitdir/i:` condition (None for
/// another condition): the pattern, `~`/`%(prefix)` expanded, `./` taken relative
/// to the real path of the config file (whose directory is then a literal
/// prefix), `**/` before a relative one, `**` after a trailing slash; matched
/// against the repository's real path, then against git's absolute path of `.`
/// (`<real path>/.`: git enters the repository).
fn gitdir_condition(cond: &BStr, config_path: Option<&Path>, ctx: &IncludeContext) -> Option<bool> {
    let (pattern, icase) = if let Some(p) = cond.strip_prefix(b"gitdir:") {
        (p, false)
    } else if let Some(p) = cond.strip_prefix(b"gitdir/i:") {
        (p, true)
    } else {
        return None;
    };
    let Some(real) = &ctx.git_dir_real else {
        return Some(false);
    };
    let mut pat = match interpolate_path(pattern, ctx.home, ctx.prefix) {
        Some(p) => slashes(crate::os::os_to_bytes(p.into_os_string())),
        None => pattern.to_vec(),
    };
    let mut literal = 0;
    if pat.starts_with(b"./") || (cfg!(windows) && pat.starts_with(b".\\")) {
        let Some(config_path) = config_path else {
            log::warn!("error: relative config include conditionals must come from files");
            return Some(false);
        };
        let Some(file) = real_path(config_path) else {
            return Some(false);
        };
        let file = slashes(crate::os::os_to_bytes(file.into_os_string()));
        let slash = file.iter().rposition(|&b| b == b'/')?;
        pat.splice(0..1, file[..slash].iter().copied());
        literal = slash + 1;
    } else if !(pat.starts_with(b"/") || os_path(&pat).is_absolute()) {
        pat.splice(0..0, b"**/".iter().copied());
    }
    if pat.ends_with(b"/") {
        pat.extend_from_slice(b"**");
    }
    let mode = if icase {
        gix_glob::wildmatch::Mode::NO_MATCH_SLASH_LITERAL | gix_glob::wildmatch::Mode::IGNORE_CASE
    } else {
        gix_glob::wildmatch::Mode::NO_MATCH_SLASH_LITERAL
    };
    let mut absolute = real.clone();
    absolute.extend_from_slice(if real.ends_with(b"/") { b"." } else { b"/." });
    for text in [real, &absolute] {
        if literal > 0 {
            if text.len() < literal {
                return Some(false);
            }
            let (a, b) = (&pat[..literal], &text[..literal]);
            if !(if icase {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }) {
                return Some(false);
            }
        }
        if gix_glob::wildmatch(
            BStr::new(&pat[literal..]),
            BStr::new(&text[literal..]),
            mode,
        ) {
            return Some(true);
        }
    }
    Some(false)
}

/// git's message for a config file that cannot be read or parsed (the file named as
/// git names it: relative to the repository, which git has entered, for repository
/// files).
fn read_error(e: &gix_error::Error, path: &Path, git_dir: Option<&Path>) -> HttpError {
    let shown = match git_dir.and_then(|d| path.strip_prefix(d).ok()) {
        Some(rel) => format!("./{}", rel.display()),
        None => path.display().to_string(),
    };
    match e.downcast_any_ref::<gix_config::parse::Error>() {
        Some(parse) => HttpError::die(format!(
            "bad config line {} in file {shown}",
            parse.line_number()
        )),
        None => {
            // git: `warning: unable to access 'config': Is a directory`, then
            // `fatal: unknown error occurred while reading the configuration files`.
            let why = io_cause(e).map_or_else(|| e.to_string(), crate::os::strerror);
            let shown = shown.strip_prefix("./").unwrap_or(&shown);
            log::warn!("warning: unable to access '{shown}': {why}");
            HttpError::die("unknown error occurred while reading the configuration files")
        }
    }
}

/// The `io::Error` somewhere in the source chain of `e`.
fn io_cause<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cur = err.source();
    }
    None
}

fn append(file: &mut gix_config::File, other: gix_config::File) -> Result<()> {
    file.append(other)
        .map(|_| ())
        .map_err(|e| config_error("merging config files", e))
}

fn meta(path: PathBuf, source: gix_config::Source) -> Metadata {
    Metadata::from(source).at(path)
}

fn config_error(what: &str, e: impl std::fmt::Display) -> HttpError {
    HttpError::die(format!("{what}: {e}"))
}

fn os_path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(crate::os::bytes_to_os(bytes))
}

fn join_bytes(a: &[u8], b: &[u8]) -> PathBuf {
    let mut v = a.to_vec();
    v.extend_from_slice(b);
    os_path(&v)
}

/// `<git_dir>/commondir` names the main repository's git directory of a linked
/// worktree; the repository config lives there.
fn commondir(git_dir: &Path) -> PathBuf {
    match std::fs::read(git_dir.join("commondir")) {
        Ok(data) => {
            let data = data.strip_suffix(b"\n").unwrap_or(&data);
            let data = data.strip_suffix(b"\r").unwrap_or(data);
            if data.is_empty() {
                return git_dir.to_path_buf();
            }
            let p = os_path(data);
            if p.is_absolute() { p } else { git_dir.join(p) }
        }
        Err(_) => git_dir.to_path_buf(),
    }
}

/// The branch `HEAD` points to, for `includeIf "onbranch:..."` (files backend only).
fn head_branch(git_dir: &Path) -> Option<gix_ref::FullName> {
    // git resolves HEAD through symbolic refs (files with `ref: `, or symlinks into
    // refs/) to the name at the end, which need not exist.
    let mut name = b"HEAD".to_vec();
    let mut resolved = false;
    for _ in 0..5 {
        let path = git_dir.join(os_path(&name));
        let next = match std::fs::read_link(&path) {
            Ok(target) => {
                let target = crate::os::os_to_bytes(target.into_os_string());
                if !target.starts_with(b"refs/") {
                    return None;
                }
                target
            }
            Err(_) => match std::fs::read(&path) {
                Ok(data) => match data.strip_prefix(b"ref:") {
                    Some(target) => target.trim_ascii().to_vec(),
                    None => {
                        resolved = true;
                        break;
                    }
                },
                Err(_) => {
                    resolved = true;
                    break;
                }
            },
        };
        name = next;
    }
    if !resolved || !name.starts_with(b"refs/heads/") {
        return None;
    }
    gix_ref::FullName::try_from(BString::from(name)).ok()
}

/// `git_env_bool(name, 0)`: a bad value is fatal, as in git.
fn env_bool(env: &Env, name: &str) -> Result<bool> {
    match env.get(name) {
        None => Ok(false),
        Some(v) => parse_maybe_bool(Some(v)).ok_or_else(|| {
            HttpError::die(format!(
                "bad boolean environment value '{}' for '{name}'",
                String::from_utf8_lossy(v)
            ))
        }),
    }
}

/// git's `git_parse_maybe_bool`: `None` (a key without `=`) is true, the empty string
/// false, the words true/yes/on and false/no/off in any case, else an `int` (with a
/// unit) that is true if not zero.
pub(crate) fn parse_maybe_bool(value: Option<&[u8]>) -> Option<bool> {
    let Some(value) = value else {
        return Some(true);
    };
    if value.is_empty() {
        return Some(false);
    }
    for word in ["true", "yes", "on"] {
        if value.eq_ignore_ascii_case(word.as_bytes()) {
            return Some(true);
        }
    }
    for word in ["false", "no", "off"] {
        if value.eq_ignore_ascii_case(word.as_bytes()) {
            return Some(false);
        }
    }
    // git_parse_int: a signed number in [-INT_MAX, INT_MAX].
    let n = crate::gitnum::parse_signed(std::str::from_utf8(value).ok()?)?;
    (n.unsigned_abs() <= i32::MAX as u64).then_some(n != 0)
}

/// git's `git_config_bool`, with its message for a bad value.
pub(crate) fn config_bool(key: &str, value: Option<&[u8]>) -> Result<bool> {
    parse_maybe_bool(value).ok_or_else(|| {
        HttpError::die(format!(
            "bad boolean config value '{}' for '{key}'",
            String::from_utf8_lossy(value.unwrap_or_default())
        ))
    })
}

/// git's `git_config_ulong`, with `die_bad_number`'s message for a bad value (the file
/// is named relative to the git directory, as git does after `chdir` into it).
fn config_ulong(
    key: &str,
    value: Option<&[u8]>,
    origin: Option<&Path>,
    git_dir: &Path,
) -> Result<u64> {
    let text = String::from_utf8_lossy(value.unwrap_or_default());
    let parsed = match value.map(std::str::from_utf8) {
        Some(Ok(v)) => crate::gitnum::parse_unsigned_checked(v),
        _ => Err(NumError::Invalid),
    };
    let kind = match parsed {
        Ok(n) => return Ok(n),
        Err(NumError::OutOfRange) => "out of range",
        Err(NumError::Invalid) => "invalid unit",
    };
    Err(HttpError::die(match origin {
        Some(path) => {
            let shown = path.strip_prefix(git_dir).unwrap_or(path);
            format!(
                "bad numeric config value '{text}' for '{key}' in file {}: {kind}",
                shown.display()
            )
        }
        None => format!("bad numeric config value '{text}' for '{key}': {kind}"),
    }))
}

/// git's `git_config_parse_key` for command-line keys: a section, a variable name
/// starting with a letter, only letters, digits and `-` outside the subsection.
fn validate_key(key: &[u8]) -> std::result::Result<String, String> {
    let shown = String::from_utf8_lossy(key);
    let Some(last_dot) = key.iter().rposition(|&b| b == b'.').filter(|&i| i > 0) else {
        return Err(format!("key does not contain a section: {shown}"));
    };
    if last_dot + 1 == key.len() {
        return Err(format!("key does not contain variable name: {shown}"));
    }
    let first_dot = key.iter().position(|&b| b == b'.').unwrap_or(last_dot);
    let keychar = |c: u8| c.is_ascii_alphanumeric() || c == b'-';
    if !key[..first_dot].iter().all(|&c| keychar(c))
        || !key[last_dot + 1..].iter().all(|&c| keychar(c))
        || !key[last_dot + 1].is_ascii_alphabetic()
    {
        return Err(format!("invalid key: {shown}"));
    }
    if key[first_dot..last_dot].contains(&b'\n') {
        return Err(format!("invalid key (newline): {shown}"));
    }
    let mut out = key.to_vec();
    out[..first_dot].make_ascii_lowercase();
    out[last_dot + 1..].make_ascii_lowercase();
    String::from_utf8(out).map_err(|_| format!("invalid key: {shown}"))
}

/// Splits a validated key into section, subsection and variable name.
fn split_key(key: &str) -> (&str, Option<&str>, &str) {
    let first = key.find('.').expect("validated key has a dot");
    let last = key.rfind('.').expect("validated key has a dot");
    let sub = (first != last).then(|| &key[first + 1..last]);
    (&key[..first], sub, &key[last + 1..])
}

type Pairs = Vec<(String, Option<Vec<u8>>)>;

/// The command-line config of `env` in git's order: `GIT_CONFIG_COUNT` pairs, then
/// `GIT_CONFIG_PARAMETERS`.
pub(crate) fn command_line_pairs(env: &Env) -> std::result::Result<Pairs, String> {
    let mut pairs = Vec::new();
    if let Some(count) = env.get("GIT_CONFIG_COUNT") {
        let text = String::from_utf8_lossy(count);
        let t = text.trim_start();
        let t = t.strip_prefix('+').unwrap_or(t);
        let count: u64 = if t.is_empty() {
            0
        } else if t.bytes().all(|b| b.is_ascii_digit()) {
            t.parse().unwrap_or(u64::MAX)
        } else if let Some(neg) = t
            .strip_prefix('-')
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        {
            // strtoul negates: anything but -0 is huge.
            if neg.bytes().all(|b| b == b'0') {
                0
            } else {
                u64::MAX
            }
        } else {
            return Err("bogus count in GIT_CONFIG_COUNT".into());
        };
        if count > i32::MAX as u64 {
            return Err("too many entries in GIT_CONFIG_COUNT".into());
        }
        for i in 0..count {
            let key = env
                .get(&format!("GIT_CONFIG_KEY_{i}"))
                .ok_or_else(|| format!("missing config key GIT_CONFIG_KEY_{i}"))?;
            let value = env
                .get(&format!("GIT_CONFIG_VALUE_{i}"))
                .ok_or_else(|| format!("missing config value GIT_CONFIG_VALUE_{i}"))?;
            pairs.push((parse_pair_key(key)?, Some(value.to_vec())));
        }
    }
    if let Some(params) = env.get("GIT_CONFIG_PARAMETERS") {
        parse_parameters(params, &mut pairs)?;
    }
    Ok(pairs)
}

fn parse_pair_key(key: &[u8]) -> std::result::Result<String, String> {
    if key.is_empty() {
        return Err("empty config key".into());
    }
    validate_key(key)
}

/// git's `sq_dequote_step`: one single-quoted word at the start of `s`; returns the
/// word and the rest (None: the input ended right after the word).
fn sq_dequote_step(s: &[u8]) -> Option<(Vec<u8>, Option<&[u8]>)> {
    if s.first() != Some(&b'\'') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = 1;
    loop {
        let c = *s.get(i)?;
        if c != b'\'' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        match s.get(i) {
            None => return Some((out, None)),
            Some(b'\\')
                if matches!(s.get(i + 1), Some(b'\'' | b'!')) && s.get(i + 2) == Some(&b'\'') =>
            {
                out.push(s[i + 1]);
                i += 3;
            }
            Some(_) => return Some((out, Some(&s[i..]))),
        }
    }
}

/// git's `parse_config_env_list` for `GIT_CONFIG_PARAMETERS`: `'key'='value'`,
/// `'key'=` (no value: true) and old-style `'key=value'` entries.
fn parse_parameters(mut cur: &[u8], pairs: &mut Pairs) -> std::result::Result<(), String> {
    let bogus = || "bogus format in GIT_CONFIG_PARAMETERS".to_string();
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c');
    while !cur.is_empty() {
        let (key, rest) = sq_dequote_step(cur).ok_or_else(bogus)?;
        let rest = match rest {
            None => {
                pairs.push(old_style_parameter(&key)?);
                break;
            }
            Some(r) if is_space(r[0]) => {
                pairs.push(old_style_parameter(&key)?);
                r
            }
            Some(r) if r[0] == b'=' => {
                let r = &r[1..];
                match r.first() {
                    Some(b'\'') => {
                        let (value, rest) = sq_dequote_step(r).ok_or_else(bogus)?;
                        if rest.is_some_and(|r| !is_space(r[0])) {
                            return Err(bogus());
                        }
                        pairs.push((parse_pair_key(&key)?, Some(value)));
                        rest.unwrap_or_default()
                    }
                    None => {
                        pairs.push((parse_pair_key(&key)?, None));
                        r
                    }
                    Some(&c) if is_space(c) => {
                        pairs.push((parse_pair_key(&key)?, None));
                        r
                    }
                    Some(_) => return Err(bogus()),
                }
            }
            Some(_) => return Err(bogus()),
        };
        let skip = rest.iter().take_while(|&&b| is_space(b)).count();
        cur = &rest[skip..];
    }
    Ok(())
}

/// git's `git_config_parse_parameter`: `key=value` (split at the first `=`), or a
/// bare `key` (true).
fn old_style_parameter(text: &[u8]) -> std::result::Result<(String, Option<Vec<u8>>), String> {
    let (key, value) = match text.iter().position(|&b| b == b'=') {
        Some(i) => (&text[..i], Some(text[i + 1..].to_vec())),
        None => (text, None),
    };
    let key = key.trim_ascii();
    if key.is_empty() {
        return Err(format!(
            "bogus config parameter: {}",
            String::from_utf8_lossy(text)
        ));
    }
    Ok((parse_pair_key(key)?, value))
}

/// `~/`, `~user/` and `%(prefix)/` expansion as git's `interpolate_path`.
fn interpolate_path(value: &[u8], home: Option<&Path>, prefix: &Path) -> Option<PathBuf> {
    if let Some(rest) = value.strip_prefix(b"%(prefix)/") {
        return Some(prefix.join(os_path(rest)));
    }
    let Some(rest) = value.strip_prefix(b"~") else {
        return Some(os_path(value));
    };
    let slash = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
    let (user, tail) = rest.split_at(slash);
    let mut home = if user.is_empty() {
        crate::os::os_to_bytes(home?.as_os_str().to_owned())
    } else {
        let dir = gix_config::path::interpolate::home_for_user(std::str::from_utf8(user).ok()?)?;
        crate::os::os_to_bytes(dir.into_os_string())
    };
    home.extend_from_slice(tail);
    Some(os_path(&home))
}

/// git's `strbuf_realpath` (not dying): resolves symlinks, `.` and `..`; the last
/// component may be missing, any other missing component is a failure.
fn real_path(path: &Path) -> Option<PathBuf> {
    let mut resolved = if path.is_absolute() {
        PathBuf::from("/")
    } else {
        std::env::current_dir().ok()?
    };
    let mut remaining: Vec<std::ffi::OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .rev()
        .collect();
    let mut links = 0;
    while let Some(next) = remaining.pop() {
        if next == ".." {
            resolved.pop();
            continue;
        }
        resolved.push(&next);
        match std::fs::symlink_metadata(&resolved) {
            Err(e) => {
                if e.kind() != std::io::ErrorKind::NotFound || !remaining.is_empty() {
                    return None;
                }
            }
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > 32 {
                    return None;
                }
                let target = std::fs::read_link(&resolved).ok()?;
                resolved.pop();
                if target.is_absolute() {
                    resolved = PathBuf::from("/");
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(n) => remaining.push(n.to_owned()),
                        Component::ParentDir => remaining.push("..".into()),
                        _ => {}
                    }
                }
            }
            Ok(_) => {}
        }
    }
    Some(resolved)
}

/// The install prefix of the git binary at `git`: `<prefix>` of `<prefix>/bin/git`.
/// With `git_for_windows`, also the layouts of Git for Windows, whose system
/// config is `<install>\\etc\\gitconfig`: `<install>\\cmd\\git.exe`,
/// `<install>\\bin\\git.exe`, `<install>\\mingw64\\bin\\git.exe` and
/// `<install>\\mingw64\\libexec\\git-core\\git.exe` (what `GIT_EXEC_PATH` names).
fn install_prefix(git: &Path, git_for_windows: bool) -> Option<PathBuf> {
    let dirs: Vec<String> = git
        .parent()?
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_ascii_lowercase())
        .collect();
    let ends = |tail: &[&str]| {
        dirs.len() > tail.len()
            && dirs[dirs.len() - tail.len()..]
                .iter()
                .zip(tail)
                .all(|(a, b)| a == b)
    };
    let up = |n: usize| {
        let mut p = git.parent()?.to_path_buf();
        for _ in 0..n {
            p = p.parent()?.to_path_buf();
        }
        Some(p)
    };
    if git_for_windows {
        for tail in [
            &["mingw64", "libexec", "git-core"][..],
            &["mingw32", "libexec", "git-core"],
            &["clangarm64", "libexec", "git-core"],
            &["mingw64", "bin"],
            &["mingw32", "bin"],
            &["clangarm64", "bin"],
            &["cmd"],
        ] {
            if ends(tail) {
                return up(tail.len());
            }
        }
    }
    if ends(&["bin"]) { up(1) } else { None }
}

/// `<prefix>/etc/gitconfig`, or `/etc/gitconfig` for prefix `/usr` (git's Makefile).
fn system_config_for(prefix: &Path) -> PathBuf {
    if prefix == Path::new("/usr") || prefix == Path::new("/") {
        PathBuf::from("/etc/gitconfig")
    } else {
        prefix.join("etc/gitconfig")
    }
}

/// (program, PATH) -> install prefix.
type PrefixCache = HashMap<(Vec<u8>, Vec<u8>), PathBuf>;

/// The install prefix of the `git` we run (`GIT_HTTP_BACKEND_GIT`, else `git` on
/// `env`'s PATH): `<prefix>` of `<prefix>/bin/git`, `/usr` if not found. Cached per
/// (program, PATH): it costs a few `stat`s.
fn git_prefix(env: &Env) -> PathBuf {
    static CACHE: OnceLock<Mutex<PrefixCache>> = OnceLock::new();
    let program = crate::os::os_to_bytes(crate::child::git_program(env));
    let path_var = env.get("PATH").unwrap_or_default().to_vec();
    let key = (program, path_var);
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(p) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return p;
    }
    let prefix = crate::child::find_in_path(&key.0, &key.1)
        .and_then(|git| install_prefix(&git, cfg!(windows)))
        .unwrap_or_else(|| PathBuf::from("/usr"));
    if let Ok(mut c) = cache.lock() {
        if c.len() > 64 {
            c.clear();
        }
        c.insert(key, prefix.clone());
    }
    prefix
}

/// git's exec path (`GIT_EXEC_PATH`, else `<prefix>/libexec/git-core` or
/// `<prefix>/lib/git-core` of the `git` we run, whichever exists).
pub fn git_exec_path(env: &Env) -> Option<PathBuf> {
    if let Some(p) = env.get_nonempty("GIT_EXEC_PATH") {
        return Some(os_path(p));
    }
    let prefix = git_prefix(env);
    ["libexec/git-core", "lib/git-core"]
        .iter()
        .map(|d| prefix.join(d))
        .find(|d| d.join("git-upload-pack").exists())
}

// Unix only: these compare with the real git, which a Windows test binary under wine
// cannot run with pipes (see docs/windows.md).
#[cfg(all(test, unix))]
mod tests {
    //! Every case is checked against git itself (`git config`, git's ownership check,
    //! the stock `git-http-backend`) run with the same environment.
    use super::*;
    use std::process::Command;

    /// Install prefixes: git's own layout everywhere, Git for Windows' only with
    /// the flag (paths written with `/` so the test runs on Linux and under wine).
    #[test]
    fn install_prefixes() {
        let p = |s: &str, win: bool| install_prefix(Path::new(s), win);
        assert_eq!(p("/usr/bin/git", false), Some(PathBuf::from("/usr")));
        assert_eq!(
            p("/opt/git/bin/git", false),
            Some(PathBuf::from("/opt/git"))
        );
        assert_eq!(p("/usr/libexec/git-core/git", false), None);
        assert_eq!(p("/git", false), None);
        let gfw = "/c/Program Files/Git";
        for exe in [
            "cmd/git.exe",
            "bin/git.exe",
            "mingw64/bin/git.exe",
            "MinGW64/libexec/git-core/git.exe",
        ] {
            assert_eq!(
                p(&format!("{gfw}/{exe}"), true),
                Some(PathBuf::from(gfw)),
                "{exe}"
            );
        }
        assert_eq!(p(&format!("{gfw}/cmd/git.exe"), false), None);
        assert_eq!(
            system_config_for(Path::new(gfw)),
            Path::new(gfw).join("etc/gitconfig")
        );
    }

    const HTTP_BOOLS: [&str; 4] = [
        "http.getanyfile",
        "http.uploadpack",
        "http.receivepack",
        "http.uploadarchive",
    ];

    struct Fx {
        _tmp: tempfile::TempDir,
        root: PathBuf,
        home: PathBuf,
        git_dir: PathBuf,
    }

    impl Fx {
        fn new() -> Fx {
            let tmp = tempfile::tempdir().expect("tempdir");
            let root = std::fs::canonicalize(tmp.path()).expect("canonical tempdir");
            let home = root.join("home");
            std::fs::create_dir(&home).expect("mkdir home");
            let git_dir = root.join("r.git");
            let fx = Fx {
                _tmp: tmp,
                root,
                home,
                git_dir,
            };
            let out = fx
                .git(&fx.env(&[]), &["init", "-q", "--bare", "r.git"])
                .current_dir(&fx.root)
                .output()
                .expect("git init runs");
            assert!(out.status.success(), "git init: {out:?}");
            fx
        }

        /// PATH, HOME and no system file, then `extra` ("NAME" alone removes NAME).
        fn env(&self, extra: &[(&str, &str)]) -> Env {
            let mut env = Env::new();
            env.set(
                "PATH",
                std::env::var_os("PATH")
                    .expect("PATH is set")
                    .as_encoded_bytes(),
            );
            env.set("HOME", self.home.as_os_str().as_encoded_bytes());
            env.set("GIT_CONFIG_NOSYSTEM", "1");
            for (k, v) in extra {
                if v.is_empty() && k.starts_with('-') {
                    env.remove(&k[1..]);
                } else {
                    env.set(k, v);
                }
            }
            env
        }

        fn git(&self, env: &Env, args: &[&str]) -> Command {
            let mut cmd = Command::new("git");
            cmd.env_clear();
            for (k, v) in env.iter() {
                cmd.env(crate::os::bytes_to_os(k), crate::os::bytes_to_os(v));
            }
            cmd.args(args);
            cmd
        }

        fn write(&self, rel: &str, text: &str) -> PathBuf {
            let p = self.root.join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, text).expect("write config");
            p
        }

        fn repo_config(&self, text: &str) {
            let p = self.git_dir.join("config");
            let mut old = std::fs::read_to_string(&p).expect("read repo config");
            old.push_str(text);
            std::fs::write(&p, old).expect("write repo config");
        }

        /// `git config --type=<ty> --get <key>` for the repository: Ok(None) if unset,
        /// Err(message) if git dies.
        fn git_get(
            &self,
            env: &Env,
            ty: &str,
            key: &str,
        ) -> std::result::Result<Option<String>, String> {
            let mut env = env.clone();
            env.set("GIT_DIR", self.git_dir.as_os_str().as_encoded_bytes());
            let out = self
                .git(&env, &["config", &format!("--type={ty}"), "--get", key])
                .current_dir(&self.root)
                .output()
                .expect("git config runs");
            match out.status.code() {
                Some(0) => Ok(Some(
                    String::from_utf8_lossy(&out.stdout).trim_end().to_string(),
                )),
                Some(1) => Ok(None),
                _ => {
                    let err = String::from_utf8_lossy(&out.stderr);
                    let last = err.lines().last().unwrap_or_default();
                    Err(last.strip_prefix("fatal: ").unwrap_or(last).to_string())
                }
            }
        }

        /// Asserts that `load` agrees with `git config` on every key.
        fn assert_same(&self, env: &Env) -> HttpConfig {
            let ours = load(&self.git_dir, env);
            let mut git = Vec::new();
            for key in HTTP_BOOLS {
                git.push(
                    self.git_get(env, "bool", key)
                        .map(|v| v.map(|v| v == "true")),
                );
            }
            let max = self
                .git_get(env, "int", "http.maxrequestbuffer")
                .map(|v| v.map(|v| v.parse::<u64>().expect("git prints a number")));
            // git's order of evaluation: getanyfile, maxrequestbuffer, the services.
            let first_err = git[0]
                .clone()
                .err()
                .or_else(|| max.clone().err())
                .or_else(|| git.iter().find_map(|g| g.clone().err()));
            match (ours, first_err) {
                (Ok(c), None) => {
                    assert_eq!(c.getanyfile, git[0].clone().unwrap().unwrap_or(true));
                    assert_eq!(c.uploadpack, git[1].clone().unwrap());
                    assert_eq!(c.receivepack, git[2].clone().unwrap());
                    assert_eq!(c.uploadarchive, git[3].clone().unwrap());
                    assert_eq!(c.max_request_buffer, max.unwrap());
                    c
                }
                (Err(e), Some(g)) => {
                    assert_eq!(e.status, 500);
                    if g.starts_with("bad numeric") {
                        // git config names the file by its absolute path.
                        let head = g.split(" in file").next().unwrap();
                        assert!(
                            e.message.starts_with(head.trim_end_matches(|c| c != '\'')),
                            "{e:?} vs {g}"
                        );
                        assert_eq!(e.message.rsplit(": ").next(), g.rsplit(": ").next());
                    } else {
                        assert_eq!(e.message, g);
                    }
                    HttpConfig::default()
                }
                (ours, git) => panic!("ours {ours:?}, git {git:?}"),
            }
        }
    }

    /// True if the stock git-http-backend serves the receive-pack advertisement.
    fn stock_advertises(fx: &Fx, env: &Env) -> bool {
        let (stdout, _) = stock(fx, env);
        stdout.contains("Content-Type: application/x-git-receive-pack-advertisement")
    }

    /// The last line the stock git-http-backend logs for an info/refs request.
    fn stock_error(fx: &Fx, env: &Env) -> String {
        let (stdout, stderr) = stock(fx, env);
        assert!(stdout.starts_with("Status: 500"), "{stdout}");
        stderr.lines().last().unwrap_or_default().to_string()
    }

    /// Runs the stock git-http-backend for `GET /r.git/info/refs?service=git-receive-pack`.
    fn stock(fx: &Fx, env: &Env) -> (String, String) {
        let exec = Command::new("git")
            .arg("--exec-path")
            .output()
            .expect("git --exec-path");
        let exec = String::from_utf8_lossy(&exec.stdout).trim().to_string();
        let mut env = env.clone();
        for (k, v) in [
            ("GIT_PROJECT_ROOT", fx.root.to_str().unwrap()),
            ("GIT_HTTP_EXPORT_ALL", "1"),
            ("REQUEST_METHOD", "GET"),
            ("PATH_INFO", "/r.git/info/refs"),
            ("QUERY_STRING", "service=git-receive-pack"),
        ] {
            env.set(k, v);
        }
        let out = Command::new(format!("{exec}/git-http-backend"))
            .env_clear()
            .envs(
                env.iter()
                    .map(|(k, v)| (crate::os::bytes_to_os(k), crate::os::bytes_to_os(v))),
            )
            .output()
            .expect("stock git-http-backend runs");
        (
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }

    #[test]
    fn precedence_system_global_repo_command_line() {
        let fx = Fx::new();
        let system = fx.write(
            "system",
            "[http]\n\tgetanyfile = false\n\tuploadpack = false\n\treceivepack = false\n\tuploadarchive = false\n\tmaxrequestbuffer = 1k\n",
        );
        fx.write("home/.config/git/config", "[http]\n\tuploadpack = true\n\treceivepack = true\n\tuploadarchive = true\n\tmaxrequestbuffer = 2k\n");
        fx.write(
            "home/.gitconfig",
            "[HTTP]\n\tReceivePack = false\n\tuploadarchive = true\n\tmaxrequestbuffer = 3k\n",
        );
        fx.repo_config("[http]\n\tuploadarchive = false\n\tmaxRequestBuffer = 4k\n");
        let sys = system.to_str().unwrap();
        let base = [("-GIT_CONFIG_NOSYSTEM", ""), ("GIT_CONFIG_SYSTEM", sys)];
        let c = fx.assert_same(&fx.env(&base));
        assert_eq!(
            c,
            HttpConfig {
                getanyfile: false,
                uploadpack: Some(true),
                receivepack: Some(false),
                uploadarchive: Some(false),
                max_request_buffer: Some(4096),
                lfs: None,
            }
        );
        // Command line beats the repository; GIT_CONFIG_PARAMETERS beats GIT_CONFIG_COUNT.
        let mut with_cli = base.to_vec();
        with_cli.extend([
            ("GIT_CONFIG_COUNT", "2"),
            ("GIT_CONFIG_KEY_0", "http.maxrequestbuffer"),
            ("GIT_CONFIG_VALUE_0", "5k"),
            ("GIT_CONFIG_KEY_1", "Http.UploadArchive"),
            ("GIT_CONFIG_VALUE_1", "yes"),
            ("GIT_CONFIG_PARAMETERS", "'http.maxrequestbuffer'='6k'"),
        ]);
        let c = fx.assert_same(&fx.env(&with_cli));
        assert_eq!(
            (c.uploadarchive, c.max_request_buffer),
            (Some(true), Some(6144))
        );
        // GIT_CONFIG_NOSYSTEM wins over GIT_CONFIG_SYSTEM.
        let mut nosys = base.to_vec();
        nosys.push(("GIT_CONFIG_NOSYSTEM", "true"));
        assert!(fx.assert_same(&fx.env(&nosys)).getanyfile);
        // XDG_CONFIG_HOME replaces ~/.config; GIT_CONFIG_GLOBAL replaces both files.
        fx.write("xdg/git/config", "[http]\n\tgetanyfile = off\n");
        let xdg = fx.root.join("xdg");
        assert!(
            !fx.assert_same(&fx.env(&[("XDG_CONFIG_HOME", xdg.to_str().unwrap())]))
                .getanyfile
        );
        let only = fx.write("only", "[http]\n\tuploadpack = 0\n");
        let c = fx.assert_same(&fx.env(&[("GIT_CONFIG_GLOBAL", only.to_str().unwrap())]));
        assert_eq!((c.uploadpack, c.receivepack), (Some(false), None));
        for global in ["", "/dev/null"] {
            assert_eq!(
                fx.assert_same(&fx.env(&[("GIT_CONFIG_GLOBAL", global)]))
                    .receivepack,
                None
            );
        }
        // No HOME (Apache gives CGIs none): no global files at all.
        assert_eq!(fx.assert_same(&fx.env(&[("-HOME", "")])).uploadpack, None);
    }

    #[test]
    fn includes_and_include_if() {
        let fx = Fx::new();
        let gd = fx.git_dir.to_str().unwrap().to_string();
        fx.write("r.git/inc1", "[http]\n\tuploadpack = false\n");
        fx.write("home/inc2", "[http]\n\treceivepack = true\n");
        fx.write("gd", "[http]\n\tuploadarchive = true\n");
        fx.write("gdi", "[http]\n\tmaxrequestbuffer = 7m\n");
        fx.write("nomatch", "[http]\n\tgetanyfile = false\n");
        fx.write("home/.gitconfig", "[include]\n\tpath = ~/inc2\n");
        fx.repo_config(&format!(
            "[include]\n\tpath = inc1\n\tpath = missing-is-fine\n\
             [includeIf \"gitdir:{gd}\"]\n\tpath = ../gd\n\
             [includeIf \"gitdir/i:{upper}/\"]\n\tpath = ../gdi\n\
             [includeIf \"gitdir:/nowhere/\"]\n\tpath = ../nomatch\n\
             [includeIf \"gitdir:{gd}x\"]\n\tpath = ../nomatch\n\
             [http]\n\treceivepack = false\n",
            upper = fx.root.to_str().unwrap().to_uppercase()
        ));
        let c = fx.assert_same(&fx.env(&[]));
        assert_eq!(
            c,
            HttpConfig {
                getanyfile: true,
                uploadpack: Some(false),
                receivepack: Some(false),
                uploadarchive: Some(true),
                max_request_buffer: Some(7 << 20),
                lfs: None,
            }
        );
        // An include's values sit where the include is: a later repo value still wins,
        // a later include beats an earlier value.
        fx.repo_config("[include]\n\tpath = ../home/inc2\n");
        assert_eq!(fx.assert_same(&fx.env(&[])).receivepack, Some(true));
        // Includes from the command line (absolute paths).
        let cli = fx.write("cli", "[http]\n\tgetanyfile = no\n");
        let params = format!("'include.path'='{}'", cli.display());
        assert!(
            !fx.assert_same(&fx.env(&[("GIT_CONFIG_PARAMETERS", &params)]))
                .getanyfile
        );
        // onbranch: HEAD of a fresh bare repository is refs/heads/<default>.
        let head = std::fs::read_to_string(fx.git_dir.join("HEAD")).unwrap();
        let branch = head.trim().rsplit('/').next().unwrap().to_string();
        fx.write("ob", "[http]\n\tuploadarchive = false\n");
        fx.repo_config(&format!(
            "[includeIf \"onbranch:{branch}\"]\n\tpath = ../ob\n"
        ));
        assert_eq!(fx.assert_same(&fx.env(&[])).uploadarchive, Some(false));
        // Only the repository's file includes, its section spelled otherwise: the
        // files are read again with the conditional context, as git reads them.
        fx.write("home/.gitconfig", "[http]\n\tgetanyfile = true\n");
        fx.repo_config(&format!(
            "[IncludeIF \"onbranch:{branch}\"]\n\tpath = ../ob\n"
        ));
        assert_eq!(fx.assert_same(&fx.env(&[])).uploadarchive, Some(false));
        fx.repo_config("[http]\n\tuploadarchive = true\n");
        assert_eq!(fx.assert_same(&fx.env(&[])).uploadarchive, Some(true));
    }

    /// git matches section names in any case: `[Include]`, `[INCLUDEIF "..."]` and the
    /// command line's lowercased `includeif.<cond>.path` are followed as git follows
    /// them (gix-config alone follows only `include` and `includeIf`).
    #[test]
    fn includes_spelled_in_any_case() {
        let fx = Fx::new();
        let gd = fx.git_dir.to_str().unwrap().to_string();
        fx.write("inc1", "[http]\n\tuploadpack = false\n");
        fx.write("inc2", "[http]\n\treceivepack = true\n");
        fx.write("inc3", "[http]\n\tuploadarchive = true\n");
        fx.write("home/.gitconfig", "[Include]\n\tpath = ../inc1\n");
        fx.repo_config(&format!(
            "[INCLUDEIF \"gitdir:{gd}\"]\n\tpath = ../inc2\n\
             [InClUdE]\n\tpath = ../inc3\n"
        ));
        let c = fx.assert_same(&fx.env(&[]));
        assert_eq!(
            (c.uploadpack, c.receivepack, c.uploadarchive),
            (Some(false), Some(true), Some(true))
        );
        // The command line: section names come lowercased.
        let cli = fx.write("cli", "[http]\n\tgetanyfile = no\n");
        let params = format!("'includeIf.gitdir:{gd}.path'='{}'", cli.display());
        assert!(
            !fx.assert_same(&fx.env(&[("GIT_CONFIG_PARAMETERS", &params)]))
                .getanyfile
        );
        let key = format!("INCLUDEIF.gitdir:{gd}.path");
        let cli = cli.display().to_string();
        let env = fx.env(&[
            ("GIT_CONFIG_COUNT", "1"),
            ("GIT_CONFIG_KEY_0", &key),
            ("GIT_CONFIG_VALUE_0", &cli),
        ]);
        assert!(!fx.assert_same(&env).getanyfile);
        // `gitdir:./` in the repository's own config: git compares the literal
        // directory `<repo>/` with the shorter `<repo>` and gives up.
        fx.write("inc4", "[http]\n\tgetanyfile = false\n");
        fx.repo_config("[includeIf \"gitdir:./\"]\n\tpath = ../inc4\n");
        assert!(fx.assert_same(&fx.env(&[])).getanyfile);
        // onbranch: through a chain of symbolic refs, and a symlinked HEAD.
        let head = std::fs::read_to_string(fx.git_dir.join("HEAD")).unwrap();
        let branch = head.trim().rsplit('/').next().unwrap().to_string();
        std::fs::create_dir_all(fx.git_dir.join("refs/heads")).unwrap();
        std::fs::write(
            fx.git_dir.join("refs/heads/alias"),
            format!("ref: refs/heads/{branch}\n"),
        )
        .unwrap();
        std::fs::write(fx.git_dir.join("HEAD"), "ref: refs/heads/alias\n").unwrap();
        fx.repo_config(&format!(
            "[includeIf \"onbranch:{branch}\"]\n\tpath = ../inc4\n"
        ));
        assert!(!fx.assert_same(&fx.env(&[])).getanyfile);
        #[cfg(unix)]
        {
            std::fs::remove_file(fx.git_dir.join("HEAD")).unwrap();
            std::os::unix::fs::symlink(format!("refs/heads/{branch}"), fx.git_dir.join("HEAD"))
                .unwrap();
            assert!(!fx.assert_same(&fx.env(&[])).getanyfile);
        }
        std::fs::write(fx.git_dir.join("HEAD"), head).unwrap();
        // A chain of 10 included files is followed, as git follows it.
        for i in 1..10 {
            fx.write(
                &format!("chain/f{i}"),
                &format!("[include]\n\tpath = f{}\n", i + 1),
            );
        }
        fx.write("chain/f10", "[http]\n\tuploadpack = true\n");
        fx.repo_config("[include]\n\tpath = ../chain/f1\n");
        assert_eq!(fx.assert_same(&fx.env(&[])).uploadpack, Some(true));
        // One level down, gix-config would not follow it: refused, never ignored
        // (unless its gitdir: condition is false).
        fx.write("inc3", "[INCLUDEIF \"gitdir:/nowhere/\"]\n\tpath = inc1\n");
        assert!(load(&fx.git_dir, &fx.env(&[])).is_ok());
        // The same condition spelled twice in one file.
        fx.repo_config(&format!(
            "[includeIf \"gitdir:{gd}\"]\n\tpath = ../inc2\n\
             [INCLUDEIF \"gitdir:{gd}\"]\n\tpath = ../inc2\n\
             [Include]\n\tpath = ../inc2\n[include]\n\tpath = ../inc2\n"
        ));
        assert_eq!(fx.assert_same(&fx.env(&[])).receivepack, Some(true));
        fx.write("inc3", "[Include]\n\tpath = inc1\n");
        let e = load(&fx.git_dir, &fx.env(&[])).unwrap_err();
        assert_eq!(e.status, 500);
        assert!(
            e.message.contains("[Include] in an included config file"),
            "{e:?}"
        );
    }

    #[test]
    fn booleans_in_every_spelling() {
        let fx = Fx::new();
        let spellings = [
            "= true",
            "= TRUE",
            "= Yes",
            "= on",
            "= 1",
            "= 2",
            "= -1",
            "= 1k",
            "= 0x10",
            "",
            "= false",
            "= No",
            "= OFF",
            "= 0",
            "= 00",
            "=",
            "= \"\"",
            "= \"true\"",
            "= 0k",
            "= 2147483647",
            "= -2147483647",
        ];
        for s in spellings {
            std::fs::write(
                fx.git_dir.join("config"),
                format!("[http]\n\tuploadpack {s}\n"),
            )
            .unwrap();
            let c = fx.assert_same(&fx.env(&[]));
            assert!(c.uploadpack.is_some(), "{s}");
        }
        for bad in [
            "= maybe",
            "= 2147483648",
            "= -2147483648",
            "= 1x",
            "= truee",
            "= 1.0",
        ] {
            std::fs::write(
                fx.git_dir.join("config"),
                format!("[http]\n\tgetanyfile {bad}\n"),
            )
            .unwrap();
            let e = load(&fx.git_dir, &fx.env(&[])).unwrap_err();
            assert_eq!(e.status, 500);
            fx.assert_same(&fx.env(&[]));
            assert_eq!(
                format!("fatal: {}", e.message),
                stock_error(&fx, &fx.env(&[]))
            );
        }
        // A bad value that a later one overrides is never looked at (git's configset).
        std::fs::write(
            fx.git_dir.join("config"),
            "[http]\n\treceivepack = maybe\n\treceivepack = on\n",
        )
        .unwrap();
        // (`git config --get` checks every value, so ask the stock program.)
        assert_eq!(
            load(&fx.git_dir, &fx.env(&[])).unwrap().receivepack,
            Some(true)
        );
        assert!(stock_advertises(&fx, &fx.env(&[])));
        // GIT_CONFIG_NOSYSTEM is a boolean too.
        let e = load(&fx.git_dir, &fx.env(&[("GIT_CONFIG_NOSYSTEM", "perhaps")])).unwrap_err();
        assert_eq!(
            e.message,
            "bad boolean environment value 'perhaps' for 'GIT_CONFIG_NOSYSTEM'"
        );
    }

    #[test]
    fn max_request_buffer_units() {
        let fx = Fx::new();
        for good in ["100", "100k", "1M", "2g", "0x10", "010", "+5", " 5", "0"] {
            std::fs::write(
                fx.git_dir.join("config"),
                format!("[http]\n\tmaxrequestbuffer = {good}\n"),
            )
            .unwrap();
            assert!(
                fx.assert_same(&fx.env(&[])).max_request_buffer.is_some(),
                "{good}"
            );
        }
        for bad in [
            "10x",
            "-1",
            "",
            "1kk",
            "99999999999999999999",
            "99999999999999999k",
            "abc",
        ] {
            std::fs::write(
                fx.git_dir.join("config"),
                format!("[http]\n\tmaxrequestbuffer = {bad}\n"),
            )
            .unwrap();
            let e = load(&fx.git_dir, &fx.env(&[])).unwrap_err();
            assert_eq!(e.status, 500);
            assert_eq!(
                format!("fatal: {}", e.message),
                stock_error(&fx, &fx.env(&[])),
                "{bad}"
            );
        }
        // Implicit value, an included file, the command line.
        std::fs::write(fx.git_dir.join("config"), "[http]\n\tmaxrequestbuffer\n").unwrap();
        assert_eq!(
            format!(
                "fatal: {}",
                load(&fx.git_dir, &fx.env(&[])).unwrap_err().message
            ),
            stock_error(&fx, &fx.env(&[]))
        );
        fx.write("r.git/inc", "[http]\n\tmaxrequestbuffer = 1q\n");
        std::fs::write(fx.git_dir.join("config"), "[include]\n\tpath = inc\n").unwrap();
        assert_eq!(
            format!(
                "fatal: {}",
                load(&fx.git_dir, &fx.env(&[])).unwrap_err().message
            ),
            stock_error(&fx, &fx.env(&[]))
        );
        std::fs::write(fx.git_dir.join("config"), "").unwrap();
        let env = fx.env(&[("GIT_CONFIG_PARAMETERS", "'http.maxrequestbuffer'='1z'")]);
        assert_eq!(
            format!("fatal: {}", load(&fx.git_dir, &env).unwrap_err().message),
            stock_error(&fx, &env)
        );
    }

    #[test]
    fn command_line_formats() {
        let fx = Fx::new();
        for params in [
            "'http.uploadpack'='false'",
            "'http.uploadpack=false'",
            "'http.uploadpack'= 'http.receivepack'='no'",
            "'http.uploadpack'",
            "'http.receivepack=on' 'http.uploadpack'='1'  'HTTP.GetAnyFile'='0'",
            "'http.uploadpack'='fa'\\''lse'",
            "'http.uploadarchive=true'\n'http.uploadarchive'=''",
        ] {
            let env = fx.env(&[("GIT_CONFIG_PARAMETERS", params)]);
            fx.assert_same(&env);
            // 'fa'\''lse' is the bad boolean "fa'lse".
            assert_eq!(
                load(&fx.git_dir, &env).is_ok(),
                !params.contains("fa'"),
                "{params}"
            );
        }
        for bogus in [
            "'http.uploadpack",
            "'http.uploadpack'x",
            "http.uploadpack",
            "'nodot'='1'",
            "'http.1x'='1'",
        ] {
            let env = fx.env(&[("GIT_CONFIG_PARAMETERS", bogus)]);
            let e = load(&fx.git_dir, &env).unwrap_err();
            assert!(
                e.message.ends_with("unable to parse command-line config"),
                "{e:?}"
            );
            assert_eq!(
                stock_error(&fx, &env),
                "fatal: unable to parse command-line config",
                "{bogus}"
            );
        }
        for (count, key) in [
            ("x", "http.uploadpack"),
            ("2", "http.uploadpack"),
            ("1", "bad"),
        ] {
            let env = fx.env(&[
                ("GIT_CONFIG_COUNT", count),
                ("GIT_CONFIG_KEY_0", key),
                ("GIT_CONFIG_VALUE_0", "1"),
            ]);
            assert!(load(&fx.git_dir, &env).is_err());
            assert_eq!(
                stock_error(&fx, &env),
                "fatal: unable to parse command-line config"
            );
        }
        let env = fx.env(&[("GIT_CONFIG_COUNT", ""), ("GIT_CONFIG_PARAMETERS", "")]);
        assert_eq!(fx.assert_same(&env), HttpConfig::default());
    }

    /// git's verdict: does discovery accept `dir` when it pretends not to own it?
    fn git_says_safe(fx: &Fx, env: &Env, dir: &Path) -> bool {
        let mut env = env.clone();
        env.set("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1");
        let out = fx
            .git(&env, &["rev-parse", "--git-dir"])
            .current_dir(dir)
            .output()
            .expect("git rev-parse runs");
        if !out.status.success() {
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("dubious ownership"),
                "{out:?}"
            );
        }
        out.status.success()
    }

    #[test]
    fn safe_directory_variants() {
        let fx = Fx::new();
        std::fs::create_dir_all(fx.root.join("srv/sub")).unwrap();
        let out = fx
            .git(&fx.env(&[]), &["init", "-q", "--bare", "srv/sub/s.git"])
            .current_dir(&fx.root)
            .output()
            .unwrap();
        assert!(out.status.success());
        std::os::unix::fs::symlink(fx.root.join("srv"), fx.root.join("link")).unwrap();
        let repo = fx.root.join("srv/sub/s.git");
        let r = repo.to_str().unwrap();
        let root = fx.root.to_str().unwrap();
        let global = |text: &str| std::fs::write(fx.home.join(".gitconfig"), text).unwrap();
        let cases: Vec<(String, bool)> = vec![
            (String::new(), false),
            ("*".into(), true),
            (r.into(), true),
            (format!("{r}/"), true),
            (format!("{root}/link/sub/s.git"), true),
            (format!("{root}/srv/*"), true),
            (format!("{root}/link/*"), true),
            (format!("{root}/sr*"), false),
            (format!("{root}/srv/sub/s.git/*"), false),
            (format!("{root}/other/*"), false),
            (format!("{root}/missing/dir"), false),
            ("~/../srv/sub/s.git".into(), true),
            ("srv/sub/s.git".into(), false),
        ];
        // `~` is fx.home = <root>/home, so `~/../srv` is <root>/srv.
        for (value, expect) in &cases {
            global(&format!("[safe]\n\tdirectory = {value}\n"));
            let env = fx.env(&[]);
            assert_eq!(git_says_safe(&fx, &env, &repo), *expect, "git: {value}");
            assert_eq!(is_safe_directory(&repo, &env), *expect, "ours: {value}");
        }
        // An empty value resets the list; a later entry counts again.
        for (text, expect) in [
            ("[safe]\n\tdirectory = *\n\tdirectory =\n", false),
            ("[safe]\n\tdirectory = *\n\tdirectory\n", false),
            (
                "[safe]\n\tdirectory = *\n\tdirectory =\n[safe]\n\tdirectory = {r}\n",
                true,
            ),
        ] {
            global(&text.replace("{r}", r));
            let env = fx.env(&[]);
            assert_eq!(git_says_safe(&fx, &env, &repo), expect, "git: {text}");
            assert_eq!(is_safe_directory(&repo, &env), expect, "ours: {text}");
        }
        // The repository's own config does not count; the command line and an
        // included global file do.
        global("");
        std::fs::write(
            repo.join("config"),
            "[core]\n\tbare = true\n[safe]\n\tdirectory = *\n",
        )
        .unwrap();
        let env = fx.env(&[]);
        assert!(!git_says_safe(&fx, &env, &repo));
        assert!(!is_safe_directory(&repo, &env));
        let env = fx.env(&[
            ("GIT_CONFIG_COUNT", "1"),
            ("GIT_CONFIG_KEY_0", "safe.directory"),
            ("GIT_CONFIG_VALUE_0", r),
        ]);
        assert!(git_says_safe(&fx, &env, &repo));
        assert!(is_safe_directory(&repo, &env));
        fx.write("home/safe.inc", &format!("[safe]\n\tdirectory = {r}\n"));
        global("[include]\n\tpath = safe.inc\n");
        let env = fx.env(&[]);
        assert!(git_says_safe(&fx, &env, &repo));
        assert!(is_safe_directory(&repo, &env));
    }

    #[test]
    fn system_file_of_the_git_we_run() {
        // git reports the system file it wants when that file is missing or listed.
        for path in ["/usr/local/bin:/usr/bin:/bin", "/usr/bin:/bin"] {
            let out = Command::new("git")
                .env_clear()
                .env("PATH", path)
                .args(["config", "--system", "--show-origin", "--list"])
                .output()
                .expect("git runs");
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            let env = Env::from_pairs([("PATH", path)]);
            let ours = system_config_for(&git_prefix(&env));
            let ours = ours.to_str().unwrap();
            assert!(
                text.contains(&format!("file:{ours}\t")) || text.contains(&format!("'{ours}'")),
                "{path}: {ours} vs {text}"
            );
        }
        let env = Env::from_pairs([
            ("PATH", "/usr/bin"),
            ("GIT_HTTP_BACKEND_GIT", "/opt/git/bin/git"),
        ]);
        assert_eq!(
            system_config_for(&git_prefix(&env)),
            Path::new("/opt/git/etc/gitconfig")
        );
        let env = Env::from_pairs([("PATH", "/nonexistent")]);
        assert_eq!(
            system_config_for(&git_prefix(&env)),
            Path::new("/etc/gitconfig")
        );
    }

    #[test]
    fn worktree_config_needs_the_extension() {
        let fx = Fx::new();
        std::fs::write(
            fx.git_dir.join("config.worktree"),
            "[http]\n\tuploadpack = false\n",
        )
        .unwrap();
        assert_eq!(fx.assert_same(&fx.env(&[])).uploadpack, None);
        fx.repo_config(
            "[core]\n\trepositoryformatversion = 1\n[extensions]\n\tworktreeConfig = true\n",
        );
        assert_eq!(fx.assert_same(&fx.env(&[])).uploadpack, Some(false));
    }

    #[test]
    fn bad_config_line_like_stock() {
        let fx = Fx::new();
        fx.repo_config("[http]\n\tuploadpack = true\n[broken\n");
        let e = load(&fx.git_dir, &fx.env(&[])).unwrap_err();
        assert_eq!(
            format!("fatal: {}", e.message),
            stock_error(&fx, &fx.env(&[]))
        );
    }
}

#[cfg(all(test, unix))]
mod bench {
    //! `cargo test --release --lib config::bench -- --ignored --nocapture`: median time
    //! of `load()` against spawning `git config --get http.uploadpack`.
    use super::*;
    use std::time::{Duration, Instant};

    fn median(mut v: Vec<Duration>) -> Duration {
        v.sort();
        v[v.len() / 2]
    }

    #[test]
    #[ignore = "measurement, run by hand"]
    fn load_vs_git_config() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let git_dir = tmp.path().join("r.git");
        let status = std::process::Command::new("git")
            .args(["init", "-q", "--bare"])
            .arg(&git_dir)
            .status()
            .expect("git init");
        assert!(status.success());
        let mut cfg = std::fs::read_to_string(git_dir.join("config")).unwrap();
        cfg.push_str(
            "[http]\n\tuploadpack = true\n\treceivepack = false\n\tmaxrequestbuffer = 10m\n",
        );
        std::fs::write(git_dir.join("config"), cfg).unwrap();
        let mut env = Env::from_process();
        env.set("HOME", tmp.path().as_os_str().as_encoded_bytes());
        let ours: Vec<Duration> = (0..1000)
            .map(|_| {
                let t = Instant::now();
                let c = load(&git_dir, &env).expect("load");
                assert_eq!(c.uploadpack, Some(true));
                t.elapsed()
            })
            .collect();
        let git: Vec<Duration> = (0..20)
            .map(|_| {
                let t = Instant::now();
                let out = std::process::Command::new("git")
                    .env_clear()
                    .envs(
                        env.iter()
                            .map(|(k, v)| (crate::os::bytes_to_os(k), crate::os::bytes_to_os(v))),
                    )
                    .env("GIT_DIR", &git_dir)
                    .args(["config", "--get", "http.uploadpack"])
                    .output()
                    .expect("git config");
                assert_eq!(out.stdout, b"true\n");
                t.elapsed()
            })
            .collect();
        println!(
            "load(): median {:?} (1000 runs); git config --get: median {:?} (20 runs)",
            median(ours),
            median(git)
        );
    }
}

//! Request paths that Windows would read as another file than the one named:
//! refused before repository resolution on Windows (see `repo::request_path`).
//!
//! NTFS and the Win32 path rules make many spellings name the same file or a
//! device: a backslash is a separator (so `\..\` walks past git's alias check), a
//! colon starts a drive or an alternate data stream (`HEAD::$DATA` is `HEAD`),
//! trailing dots and spaces are dropped (`r.git.` is `r.git`), `CON`, `NUL`,
//! `COM1`... are devices in every directory and with any extension, `REPOSI~1.GIT`
//! is the 8.3 short name of `repository.git`, and names compare without case. A
//! web server's ACL or an ACL rule that names `secret.git` must not be walked
//! around with `SECRET.GIT` or `SECRET~1.GIT`.
//!
//! On Linux these are ordinary, distinct file names, and the stock
//! git-http-backend serves them; so the check runs only on Windows, while the
//! rules themselves are plain functions tested on every platform.
//! Case variants are checked after resolution, against the spelling on disk
//! ([`case_differs`]).
//!
//! ```
//! use git_http_backend_rs::winpath::refusal;
//! assert_eq!(refusal(b"/r.git/info/refs"), None);
//! assert!(refusal(b"/r.git/HEAD::$DATA").is_some());
//! assert!(refusal(b"/nul.git/info/refs").is_some());
//! ```

/// Device names Win32 resolves in every directory, with or without extension.
const DEVICES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$", "COM0", "COM1", "COM2", "COM3",
    "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "COM¹", "COM²", "COM³", "LPT0", "LPT1", "LPT2",
    "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "LPT¹", "LPT²", "LPT³",
];

/// Why Windows would misread one path component, if it would.
fn component_refusal(c: &[u8]) -> Option<&'static str> {
    if c.iter().any(|&b| b < 0x20 || b"<>\"|?*".contains(&b)) {
        return Some("a character Windows does not allow in file names");
    }
    if c.ends_with(b".") && !matches!(c, b"." | b"..") {
        return Some("a trailing dot (Windows drops it)");
    }
    if c.ends_with(b" ") {
        return Some("a trailing space (Windows drops it)");
    }
    if c.windows(2).any(|w| w[0] == b'~' && w[1].is_ascii_digit()) {
        return Some("an 8.3 short name (NAME~1)");
    }
    let stem = c.split(|&b| b == b'.').next().unwrap_or(c);
    let stem = String::from_utf8_lossy(stem);
    let stem = stem.trim_end_matches(' ').to_uppercase();
    if DEVICES.contains(&stem.as_str()) {
        return Some("a reserved device name (CON, NUL, COM1, ...)");
    }
    None
}

/// Why a `PATH_INFO` would name another file on Windows than it says, or `None`
/// if it is safe: backslashes, colons (drive letters, `::$DATA` streams), and per
/// component trailing dots or spaces, 8.3 short names, device names and
/// characters Windows forbids.
pub fn refusal(path_info: &[u8]) -> Option<&'static str> {
    if path_info.contains(&b'\\') {
        return Some("a backslash (a path separator on Windows)");
    }
    if path_info.contains(&b':') {
        return Some("a colon (a drive letter or an NTFS stream)");
    }
    path_info
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .find_map(component_refusal)
}

/// True if `requested` and `on_disk` (relative paths, `/` or `\` separated) name
/// the same components ignoring ASCII and Unicode case, but not byte for byte:
/// the request reached a repository through another spelling than its own.
pub fn case_differs(requested: &str, on_disk: &str) -> bool {
    let norm = |s: &str| -> Vec<String> {
        s.split(['/', '\\'])
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (a, b) = (norm(requested), norm(on_disk));
    a != b
        && a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|(x, y)| x.to_lowercase() == y.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backslashes_drives_and_unc_prefixes() {
        for bad in [
            &b"/r.git\\..\\secret.git/info/refs"[..],
            b"/..\\secret.git/HEAD",
            b"/C:/Windows/win.ini",
            b"/c:secret.git/HEAD",
            b"/\\\\server\\share\\r.git/HEAD",
            b"\\\\?\\C:\\r.git/HEAD",
        ] {
            assert!(refusal(bad).is_some(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn streams_trailing_dots_and_spaces() {
        for bad in [
            &b"/r.git/HEAD::$DATA"[..],
            b"/r.git::$INDEX_ALLOCATION/HEAD",
            b"/r.git/objects/info/packs:stream",
            b"/r.git./info/refs",
            b"/r.git../info/refs",
            b"/.../info/refs",
            b"/r.git /info/refs",
            b"/r.git/HEAD. . .",
        ] {
            assert!(refusal(bad).is_some(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn device_names_in_any_case_and_with_extensions() {
        for bad in [
            &b"/CON/info/refs"[..],
            b"/nul.git/info/refs",
            b"/r.git/objects/aux.idx",
            b"/Com1.git/HEAD",
            b"/lpt9/HEAD",
            b"/conin$/HEAD",
            b"/NUL .git/HEAD",
            "/COM\u{b9}.git/HEAD".as_bytes(),
        ] {
            assert!(refusal(bad).is_some(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn short_names_and_forbidden_characters() {
        for bad in [
            &b"/REPOSI~1.GIT/info/refs"[..],
            b"/team/PROJEC~12/r.git/HEAD",
            b"/r?.git/HEAD",
            b"/r*.git/HEAD",
            b"/r.git/\x01HEAD",
            b"/r<x>.git/HEAD",
        ] {
            assert!(refusal(bad).is_some(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn ordinary_paths_pass() {
        for good in [
            &b"/r.git/info/refs"[..],
            b"/team/project.git/objects/pack/pack-0123.pack",
            b"/r.git/HEAD",
            b"/~alice/r.git/info/refs",
            b"/con-tools.git/HEAD",
            b"/console.git/HEAD",
            b"/com10.git/HEAD",
            b"/a b.git/HEAD",
            b"/r.git/objects/info/http-alternates",
            b"/d\xc3\xa9p\xc3\xb4t.git/HEAD",
        ] {
            assert_eq!(refusal(good), None, "{}", String::from_utf8_lossy(good));
        }
    }

    #[test]
    fn case_variants() {
        assert!(case_differs("Secret.git", "secret.git"));
        assert!(case_differs("team/R.GIT", "team\\r.git"));
        assert!(case_differs("ÉQUIPE/r.git", "équipe/r.git"));
        assert!(!case_differs("secret.git", "secret.git"));
        assert!(!case_differs("a/r.git", "a\\r.git"));
        // Another name altogether (a junction): not a case variant.
        assert!(!case_differs("link.git", "target.git"));
    }
}

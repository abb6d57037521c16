//! The route table: which request path suffix is served by which handler.
//!
//! Like git's `http-backend.c`, the routes are data: a method, a fixed-length
//! suffix pattern and a [`Handler`]. The first row whose pattern matches the END of
//! the path decides; what precedes the match is the repository path.
//!
//! ```
//! use git_http_backend_rs::routes::{find, Handler, Method};
//! let m = find(b"/srv/git/r.git/info/refs").unwrap();
//! assert_eq!(m.route.handler, Handler::InfoRefs);
//! assert_eq!(m.repo_path, b"/srv/git/r.git");
//! assert_eq!(m.arg, b"info/refs");
//! assert_eq!(m.route.method, Method::Get);
//! ```

/// The methods routes are declared with (`HEAD` is treated as `GET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET (and HEAD).
    Get,
    /// POST.
    Post,
    /// PUT (Git LFS object uploads only).
    Put,
}

impl Method {
    /// The `Allow` header value for a wrong-method reply on this route.
    pub fn allow(self) -> &'static str {
        match self {
            Method::Get => "GET, HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }

    /// Parses a CGI `REQUEST_METHOD`; `HEAD` is `GET`. Anything else is `None`.
    pub fn parse(method: &[u8]) -> Option<Method> {
        match method {
            b"GET" | b"HEAD" => Some(Method::Get),
            b"POST" => Some(Method::Post),
            b"PUT" => Some(Method::Put),
            _ => None,
        }
    }
}

/// What serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    /// Dumb `HEAD`.
    Head,
    /// `info/refs`: smart advertisement with `?service=`, else the dumb ref list.
    InfoRefs,
    /// `objects/info/alternates` and `http-alternates`: a text file.
    TextFile,
    /// `objects/info/packs`.
    InfoPacks,
    /// A loose object.
    LooseObject,
    /// A pack file.
    Pack,
    /// A pack index.
    PackIndex,
    /// POST `git-upload-pack`, `git-receive-pack`, `git-upload-archive`.
    ServiceRpc,
    /// Git LFS: POST `info/lfs/objects/batch`.
    LfsBatch,
    /// Git LFS: GET `info/lfs/objects/<oid>` (basic download).
    LfsDownload,
    /// Git LFS: PUT `info/lfs/objects/<oid>` (basic upload).
    LfsUpload,
    /// Git LFS: POST `info/lfs/verify` (basic verify action).
    LfsVerify,
    /// Git LFS: GET `info/lfs/locks` (list).
    LfsLockList,
    /// Git LFS: POST `info/lfs/locks` (create).
    LfsLockCreate,
    /// Git LFS: POST `info/lfs/locks/verify`.
    LfsLockVerify,
    /// Git LFS: POST `info/lfs/locks/<id>/unlock`.
    LfsUnlock,
}

impl Handler {
    /// True for the Git LFS routes, which exist only where LFS is enabled.
    pub fn is_lfs(self) -> bool {
        matches!(
            self,
            LfsBatch
                | LfsDownload
                | LfsUpload
                | LfsVerify
                | LfsLockList
                | LfsLockCreate
                | LfsLockVerify
                | LfsUnlock
        )
    }
}

/// One piece of a suffix pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg {
    /// These exact bytes.
    Lit(&'static str),
    /// This many lowercase hex digits.
    Hex(usize),
}

/// One row of the route table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The method the route answers.
    pub method: Method,
    /// The suffix pattern; it starts with `/`.
    pub pattern: &'static [Seg],
    /// The handler.
    pub handler: Handler,
}

use Handler::*;
use Method::*;
use Seg::*;

const fn r(method: Method, pattern: &'static [Seg], handler: Handler) -> Route {
    Route {
        method,
        pattern,
        handler,
    }
}

/// The table, in git-http-backend's order.
pub static ROUTES: &[Route] = &[
    r(Get, &[Lit("/HEAD")], Head),
    r(Get, &[Lit("/info/refs")], InfoRefs),
    r(Get, &[Lit("/objects/info/alternates")], TextFile),
    r(Get, &[Lit("/objects/info/http-alternates")], TextFile),
    r(Get, &[Lit("/objects/info/packs")], InfoPacks),
    r(
        Get,
        &[Lit("/objects/"), Hex(2), Lit("/"), Hex(38)],
        LooseObject,
    ),
    r(
        Get,
        &[Lit("/objects/"), Hex(2), Lit("/"), Hex(62)],
        LooseObject,
    ),
    r(
        Get,
        &[Lit("/objects/pack/pack-"), Hex(40), Lit(".pack")],
        Pack,
    ),
    r(
        Get,
        &[Lit("/objects/pack/pack-"), Hex(64), Lit(".pack")],
        Pack,
    ),
    r(
        Get,
        &[Lit("/objects/pack/pack-"), Hex(40), Lit(".idx")],
        PackIndex,
    ),
    r(
        Get,
        &[Lit("/objects/pack/pack-"), Hex(64), Lit(".idx")],
        PackIndex,
    ),
    r(Post, &[Lit("/git-upload-pack")], ServiceRpc),
    r(Post, &[Lit("/git-upload-archive")], ServiceRpc),
    r(Post, &[Lit("/git-receive-pack")], ServiceRpc),
    // Git LFS (src/service/lfs/); a path may have one row per method.
    r(Post, &[Lit("/info/lfs/objects/batch")], LfsBatch),
    r(Get, &[Lit("/info/lfs/objects/"), Hex(64)], LfsDownload),
    r(Put, &[Lit("/info/lfs/objects/"), Hex(64)], LfsUpload),
    r(Post, &[Lit("/info/lfs/verify")], LfsVerify),
    r(Get, &[Lit("/info/lfs/locks")], LfsLockList),
    r(Post, &[Lit("/info/lfs/locks")], LfsLockCreate),
    r(Post, &[Lit("/info/lfs/locks/verify")], LfsLockVerify),
    r(
        Post,
        &[Lit("/info/lfs/locks/"), Hex(64), Lit("/unlock")],
        LfsUnlock,
    ),
];

/// A matched route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match<'p> {
    /// The row that matched.
    pub route: &'static Route,
    /// The path before the matched suffix: the repository.
    pub repo_path: &'p [u8],
    /// The matched suffix without its leading `/` (`info/refs`, `git-upload-pack`).
    pub arg: &'p [u8],
}

fn pattern_len(pattern: &[Seg]) -> usize {
    pattern
        .iter()
        .map(|s| match s {
            Lit(l) => l.len(),
            Hex(n) => *n,
        })
        .sum()
}

fn matches(pattern: &[Seg], mut text: &[u8]) -> bool {
    for seg in pattern {
        match seg {
            Lit(l) => match text.strip_prefix(l.as_bytes()) {
                Some(rest) => text = rest,
                None => return false,
            },
            Hex(n) => {
                if !text[..*n]
                    .iter()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
                {
                    return false;
                }
                text = &text[*n..];
            }
        }
    }
    text.is_empty()
}

/// Finds the first route whose pattern matches the end of `path`.
pub fn find(path: &[u8]) -> Option<Match<'_>> {
    find_all(path).next()
}

/// Finds the route for `path` and `method`: the first row matching both, else the
/// first row matching the path (whose method then does not fit: a 405).
pub fn find_for(path: &[u8], method: Option<Method>) -> Option<Match<'_>> {
    find_all(path)
        .find(|m| Some(m.route.method) == method)
        .or_else(|| find(path))
}

fn find_all(path: &[u8]) -> impl Iterator<Item = Match<'_>> {
    ROUTES.iter().filter_map(move |route| {
        let len = pattern_len(route.pattern);
        let start = path.len().checked_sub(len)?;
        matches(route.pattern, &path[start..]).then(|| Match {
            route,
            repo_path: &path[..start],
            arg: &path[start + 1..],
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler(path: &str) -> Option<Handler> {
        find(path.as_bytes()).map(|m| m.route.handler)
    }

    #[test]
    fn every_route() {
        let h38 = "0123456789abcdef0123456789abcdef012345";
        let h40 = "0123456789abcdef0123456789abcdef01234567";
        let h62 = format!("{h40}0123456789abcdef0123ab");
        let h64 = format!("{h40}0123456789abcdef01234567");
        assert_eq!(handler("/r/HEAD"), Some(Head));
        assert_eq!(handler("/r/info/refs"), Some(InfoRefs));
        assert_eq!(handler("/r/objects/info/alternates"), Some(TextFile));
        assert_eq!(handler("/r/objects/info/http-alternates"), Some(TextFile));
        assert_eq!(handler("/r/objects/info/packs"), Some(InfoPacks));
        assert_eq!(handler(&format!("/r/objects/ab/{h38}")), Some(LooseObject));
        assert_eq!(handler(&format!("/r/objects/ab/{h62}")), Some(LooseObject));
        assert_eq!(
            handler(&format!("/r/objects/pack/pack-{h40}.pack")),
            Some(Pack)
        );
        assert_eq!(
            handler(&format!("/r/objects/pack/pack-{h64}.pack")),
            Some(Pack)
        );
        assert_eq!(
            handler(&format!("/r/objects/pack/pack-{h40}.idx")),
            Some(PackIndex)
        );
        assert_eq!(
            handler(&format!("/r/objects/pack/pack-{h64}.idx")),
            Some(PackIndex)
        );
        assert_eq!(handler("/r/git-upload-pack"), Some(ServiceRpc));
        assert_eq!(handler("/r/git-upload-archive"), Some(ServiceRpc));
        assert_eq!(handler("/r/git-receive-pack"), Some(ServiceRpc));
        assert_eq!(handler("/r/info/lfs/objects/batch"), Some(LfsBatch));
        assert_eq!(
            handler(&format!("/r/info/lfs/objects/{h64}")),
            Some(LfsDownload)
        );
        assert_eq!(handler("/r/info/lfs/verify"), Some(LfsVerify));
        assert_eq!(handler("/r/info/lfs/locks"), Some(LfsLockList));
        assert_eq!(handler("/r/info/lfs/locks/verify"), Some(LfsLockVerify));
        assert_eq!(
            handler(&format!("/r/info/lfs/locks/{h64}/unlock")),
            Some(LfsUnlock)
        );
    }

    #[test]
    fn lfs_method_rows() {
        let h64 = "0123456789abcdef".repeat(4);
        let path = format!("/r.git/info/lfs/objects/{h64}");
        let m = find_for(path.as_bytes(), Some(Method::Put)).unwrap();
        assert_eq!(m.route.handler, LfsUpload);
        assert_eq!(m.repo_path, b"/r.git");
        let m = find_for(path.as_bytes(), Some(Method::Get)).unwrap();
        assert_eq!(m.route.handler, LfsDownload);
        let m = find_for(path.as_bytes(), Some(Method::Post)).unwrap();
        assert_eq!(
            m.route.method,
            Method::Get,
            "no POST row: the first row, a 405"
        );
        let m = find_for(b"/r/info/lfs/locks", Some(Method::Post)).unwrap();
        assert_eq!(m.route.handler, LfsLockCreate);
        assert_eq!(handler(&format!("/r/info/lfs/objects/{}", &h64[1..])), None);
        assert_eq!(
            handler(&format!("/r/info/lfs/objects/{}", h64.to_uppercase())),
            None
        );
        assert!(LfsBatch.is_lfs() && !ServiceRpc.is_lfs());
    }

    #[test]
    fn near_misses() {
        assert_eq!(handler("/r/info/refs/"), None);
        assert_eq!(
            handler("/r/objects/AB/0123456789abcdef0123456789abcdef012345"),
            None
        );
        assert_eq!(
            handler("/r/objects/ab/0123456789abcdef0123456789abcdef01234"),
            None
        );
        assert_eq!(handler("/r/git-upload-packs"), None);
        assert_eq!(handler("HEAD"), None);
        assert_eq!(handler(""), None);
    }

    #[test]
    fn repo_path_and_arg() {
        let m = find(b"/srv/a.git/git-receive-pack").unwrap();
        assert_eq!(m.repo_path, b"/srv/a.git");
        assert_eq!(m.arg, b"git-receive-pack");
        assert_eq!(m.route.method.allow(), "POST");
        let m = find(b"/HEAD").unwrap();
        assert_eq!(m.repo_path, b"");
    }
}

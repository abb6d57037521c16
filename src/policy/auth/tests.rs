use super::*;

/// Lines made by `htpasswd -nb [-B|-m|-2|-5|-s|-p|-d] u secret` (apache2-utils 2.4).
const FIXTURES: &[(&str, HashKind)] = &[
    (
        "u:$2y$05$BUQVA841vayEbeI48zqqz.EFqAQCiDz5BGpVwIpz7QWN8XTc13z62",
        HashKind::Bcrypt,
    ),
    (
        "u:$2y$10$ES.6OKHY/6.2PY6WM3dxKOkPUSaQclux49Lf1XAJQfzTxGPrsUCkK",
        HashKind::Bcrypt,
    ),
    ("u:$apr1$pLZzPe/U$eBuWG1qO4U9j7h9/.xQ8c/", HashKind::Apr1),
    (
        "u:$5$otR2yiQAGxCnkLwz$Wuxf65d3c5JPABEUvwGaVkwjCXGJzzAg9TwvT6oNcC/",
        HashKind::Sha256Crypt,
    ),
    (
        "u:$6$sf4mg6xttV4XiFQF$Mktn4OoJcLD1ZsLGlZWIpyN6NyqaGTl4zgtbBF/npW4xqjdMJIHDbjxkpsmaHIAQoKigORxEhcYVoj1ZOGuhw0",
        HashKind::Sha512Crypt,
    ),
    ("u:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", HashKind::Sha1),
    ("u:secret", HashKind::Refused),
    ("u:GwNPjlFI8ILRc", HashKind::Refused),
];

#[test]
fn every_hash_kind_from_committed_fixtures() {
    for (line, kind) in FIXTURES {
        let file = Htpasswd::parse(line).unwrap();
        let hash = line.split_once(':').unwrap().1;
        assert_eq!(HashKind::of(hash), *kind, "{line}");
        let accepted = *kind != HashKind::Refused;
        assert_eq!(file.verify("u", b"secret").unwrap(), accepted, "{line}");
        assert!(!file.verify("u", b"Secret").unwrap(), "{line}");
        assert!(!file.verify("u", b"").unwrap(), "{line}");
        assert!(!file.verify("v", b"secret").unwrap(), "{line}");
        assert_eq!(file.refused.len(), usize::from(!accepted), "{line}");
    }
}

#[test]
#[cfg(unix)]
fn every_hash_kind_made_by_htpasswd_now() {
    // A test that needs htpasswd fails when it is missing (apache2-utils).
    for flag in ["-B", "-m", "-2", "-5", "-s"] {
        let out = std::process::Command::new("htpasswd")
            .args(["-nb", flag, "carol", "pa:ss wörd"])
            .output()
            .expect("htpasswd (apache2-utils) must be installed");
        assert!(out.status.success(), "htpasswd {flag}");
        let text = String::from_utf8(out.stdout).unwrap();
        let file = Htpasswd::parse(&text).unwrap();
        assert!(
            file.verify("carol", "pa:ss wörd".as_bytes()).unwrap(),
            "{flag}: {text}"
        );
        assert!(!file.verify("carol", b"pa:ss").unwrap(), "{flag}");
    }
}

#[test]
fn file_format() {
    let f = Htpasswd::parse("\n# comment\n  a:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=:extra\na:{SHA}x\n")
        .unwrap();
    assert_eq!(f.len(), 1);
    assert!(f.verify("a", b"secret").unwrap());
    assert_eq!(
        Htpasswd::parse("a:x\nno-colon\n").unwrap_err(),
        "line 2: no ':' between user and hash"
    );
    assert_eq!(
        Htpasswd::parse(":x").unwrap_err(),
        "line 1: empty user name"
    );
    assert!(Htpasswd::parse("").unwrap().is_empty());
    // A malformed hash of a known kind is an error for that user only.
    let f = Htpasswd::parse("a:$2y$05$short").unwrap();
    assert!(f.verify("a", b"x").is_err());
}

#[test]
fn authorization_header() {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    assert_eq!(
        parse_authorization(format!("Basic {}", b64("alice:pa:ss")).as_bytes()),
        Credentials::Basic {
            user: "alice".into(),
            password: b"pa:ss".to_vec()
        }
    );
    assert_eq!(
        parse_authorization(format!("bAsIc   {} ", b64("a:")).as_bytes()),
        Credentials::Basic {
            user: "a".into(),
            password: vec![]
        }
    );
    assert!(matches!(
        parse_authorization(b"Bearer abc"),
        Credentials::Unusable(_)
    ));
    assert!(matches!(
        parse_authorization(b"Basic !!!"),
        Credentials::Unusable(_)
    ));
    assert!(matches!(
        parse_authorization(format!("Basic {}", b64("nocolon")).as_bytes()),
        Credentials::Unusable(_)
    ));
    assert!(matches!(
        parse_authorization(format!("Basic {}", b64(":pw")).as_bytes()),
        Credentials::Unusable(_)
    ));
    assert!(matches!(
        parse_authorization(b"Basic"),
        Credentials::Unusable(_)
    ));
}

#[test]
fn challenge_header() {
    assert_eq!(challenge("Git"), "Basic realm=\"Git\", charset=\"UTF-8\"");
    assert_eq!(
        challenge("a \"b\" \\c"),
        "Basic realm=\"a \\\"b\\\" \\\\c\", charset=\"UTF-8\""
    );
}

fn env_with(file: &Path, auth: Option<String>) -> Env {
    let mut env = Env::from_pairs([("GIT_HTTP_AUTH_FILE", file.to_str().unwrap())]);
    if let Some(a) = auth {
        env.set("HTTP_AUTHORIZATION", a);
    }
    env
}

fn basic(user: &str, pw: &str) -> Option<String> {
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
    ))
}

#[test]
fn authenticate_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("htpasswd");
    std::fs::write(&file, FIXTURES[0].0).unwrap();

    // Off: nothing happens, but the header never reaches git.
    let mut env = Env::from_pairs([("HTTP_AUTHORIZATION", "Basic eDp5")]);
    authenticate(&mut env).unwrap();
    assert_eq!(env.get("HTTP_AUTHORIZATION"), None);
    assert_eq!(env.get("REMOTE_USER"), None);

    // No credentials: anonymous.
    let mut env = env_with(&file, None);
    authenticate(&mut env).unwrap();
    assert_eq!(env.get("REMOTE_USER"), None);

    // Valid: REMOTE_USER set, header gone.
    let mut env = env_with(&file, basic("u", "secret"));
    authenticate(&mut env).unwrap();
    assert_eq!(env.get_str("REMOTE_USER"), Some("u"));
    assert_eq!(env.get_str("AUTH_TYPE"), Some("Basic"));
    assert_eq!(env.get("HTTP_AUTHORIZATION"), None);

    // Wrong: 401 with the realm's challenge.
    let mut env = env_with(&file, basic("u", "nope"));
    env.set("GIT_HTTP_AUTH_REALM", "Repos");
    let e = authenticate(&mut env).unwrap_err();
    assert_eq!(e.status, 401);
    assert_eq!(
        e.challenge.as_deref(),
        Some("Basic realm=\"Repos\", charset=\"UTF-8\"")
    );
    assert_eq!(env.get("REMOTE_USER"), None);
    let mut env = env_with(&file, Some("Digest x".into()));
    assert_eq!(authenticate(&mut env).unwrap_err().status, 401);

    // The web server's REMOTE_USER wins; Authorization is not even looked at.
    let mut env = env_with(&file, basic("u", "nope"));
    env.set("REMOTE_USER", "frontend-user");
    authenticate(&mut env).unwrap();
    assert_eq!(env.get_str("REMOTE_USER"), Some("frontend-user"));

    // Unreadable or malformed file: credentials fail closed with a 500.
    let missing = dir.path().join("missing");
    let mut env = env_with(&missing, basic("u", "secret"));
    assert_eq!(authenticate(&mut env).unwrap_err().status, 500);
    let bad = dir.path().join("bad");
    std::fs::write(&bad, "u:x\ngarbage\n").unwrap();
    let mut env = env_with(&bad, basic("u", "secret"));
    assert_eq!(authenticate(&mut env).unwrap_err().status, 500);
    let mut env = env_with(&bad, None);
    authenticate(&mut env).unwrap();
}

#[test]
fn cache_remembers_success_only_and_forgets_on_change() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("htpasswd");
    std::fs::write(&file, FIXTURES[1].0).unwrap(); // bcrypt cost 10
    assert_eq!(check(&file, "u", b"secret"), Check::Valid { cached: false });
    assert_eq!(check(&file, "u", b"secret"), Check::Valid { cached: true });
    assert_eq!(check(&file, "u", b"wrong"), Check::Invalid);
    assert_eq!(check(&file, "u", b"wrong"), Check::Invalid);
    // The cache holds keyed hashes, never the password.
    let loaded = load(&file);
    let passed = loaded.passed.lock().unwrap();
    assert_eq!(passed.len(), 1);
    let id = *passed.keys().next().unwrap();
    drop(passed);
    assert_eq!(Some(id), cache_id("u", b"secret"));
    assert_ne!(cache_id("u", b"secret"), cache_id("u", b"secreT"));
    assert_ne!(cache_id("u:s", b"ecret"), cache_id("u", b"s:ecret"));
    // A changed file (new password) is re-read and the old success forgotten.
    let other = dir.path().join("tmp");
    std::fs::write(&other, "u:{SHA}x\n").unwrap();
    std::fs::rename(&other, &file).unwrap(); // a new inode, maybe in the same second
    assert_eq!(check(&file, "u", b"secret"), Check::Invalid);
    std::fs::write(&file, "garbage\n").unwrap();
    assert_eq!(check(&file, "u", b"secret"), Check::Broken);
}

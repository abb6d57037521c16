//! Unit tests of the ACL parser and evaluator (the gitolite differential test is
//! `tests/acl_gitolite.rs`).

use super::*;

fn acl(text: &str) -> Acl {
    Acl::from_text(Path::new("/acl/gitolite.conf"), text).unwrap()
}

#[test]
fn placeholder() {
    let a = acl("repo foo\n RW+ = alice\n");
    assert!(a.decide("foo", "alice", Perm::Force, Some("main")).allowed);
}

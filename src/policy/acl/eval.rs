//! Judging a question against a [`Parsed`] ACL: gitolite's `access()` (Conf/Load.pm)
//! and the permission its update hook asks for.
//!
//! 1. The repository's memberships: itself, `@all`, every `repo` item that equals it
//!    or matches it as `/^ITEM$/`, the groups listing it, and the groups holding a
//!    pattern that matches it. The user's: itself, `@all`, the groups listing it.
//! 2. The rules of those repository items for those users, in global file order.
//! 3. The first rule whose refex matches the ref (or any rule, for `any`) decides:
//!    a `-` rule denies (for `any` only with `option deny-rules`), a rule holding
//!    the permission allows; other rules are passed over. No rule: denied.

use super::parse::{Parsed, Refex};
use super::syntax::{Matcher, fold_repo_case, is_refname, is_reponame, is_username, same_name};
use super::{Decision, Perm, UpdateKind};

/// The permission letter gitolite checks (`aa`): `R`, `W`, `+`, `C` or `D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aa {
    R,
    W,
    Plus,
    C,
    D,
}

impl Aa {
    /// Does a rule's permission (`RW+C`, ...) hold this one? (gitolite's `$perm =~ /$aaq/`)
    fn held_by(self, perm: &str) -> bool {
        match self {
            Aa::R => perm.contains('R'),
            Aa::W => perm.contains('W'),
            Aa::Plus => perm.contains('+'),
            Aa::C => perm.starts_with("RW") && perm.contains('C'),
            Aa::D => perm.contains('D'),
        }
    }
}

/// Which repository items and users apply to one question.
struct Scope<'a> {
    parsed: &'a Parsed,
    keys: Vec<bool>,
    users: Vec<bool>,
}

impl<'a> Scope<'a> {
    fn new(parsed: &'a Parsed, repo: &str, user: &str) -> Scope<'a> {
        let mut repo_groups = groups_listing(parsed, repo);
        for (matcher, groups) in &parsed.pattern_groups {
            if matcher.matches(repo, true) {
                repo_groups.extend(groups.iter().map(String::as_str));
            }
        }
        let keys = parsed
            .repo_keys
            .iter()
            .map(|k| {
                k.name == "@all"
                    || same_name(&k.name, repo)
                    || k.matcher.as_ref().is_some_and(|m| m.matches(repo, true))
                    || repo_groups.contains(&k.name.as_str())
            })
            .collect();
        let user_groups = groups_listing(parsed, user);
        let users = parsed
            .users
            .iter()
            .map(|u| u == "@all" || same_name(u, user) || user_groups.contains(&u.as_str()))
            .collect();
        Scope {
            parsed,
            keys,
            users,
        }
    }

    /// An access option's value for this repository: the last one set wins, and it
    /// counts if it is not empty or `0` (Perl truth).
    fn option(&self, name: &str) -> bool {
        self.parsed
            .options
            .iter()
            .rev()
            .find(|o| o.name == name && self.keys[o.repo])
            .is_some_and(|o| !o.value.is_empty() && o.value != "0")
    }
}

/// The groups that list `name` literally (gitolite's inside-out `%groups`); on
/// Windows under any spelling of it ([`same_name`]).
fn groups_listing<'a>(parsed: &'a Parsed, name: &str) -> Vec<&'a str> {
    if fold_repo_case() {
        parsed
            .groups_of
            .iter()
            .filter(|(member, _)| same_name(member, name))
            .flat_map(|(_, g)| g.iter().map(String::as_str))
            .collect()
    } else {
        parsed
            .groups_of
            .get(name)
            .map(|g| g.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

/// Checks the question's names as gitolite does; `Err` is the reason for a denial.
fn check_names(repo: &str, user: &str) -> Result<(), &'static str> {
    if !is_username(user) || user.starts_with('@') {
        return Err("invalid user name");
    }
    if !is_reponame(repo) || repo.starts_with('@') {
        return Err("invalid repository name");
    }
    if repo.ends_with('/')
        || repo.contains("..")
        || repo.contains(".git/")
        || repo.ends_with(".git")
    {
        return Err("invalid repository name");
    }
    Ok(())
}

/// `refs/heads/` in front of a ref that does not start with `refs/`.
fn qualify(refname: &str) -> std::borrow::Cow<'_, str> {
    if refname.starts_with("refs/") {
        refname.into()
    } else {
        format!("refs/heads/{refname}").into()
    }
}

/// See [`super::Acl::decide`].
pub fn decide(
    parsed: &Parsed,
    repo: &str,
    user: &str,
    perm: Perm,
    refname: Option<&str>,
) -> Decision {
    if let Err(reason) = check_names(repo, user) {
        return Decision::invalid(reason);
    }
    let scope = Scope::new(parsed, repo, user);
    // `gitolite access` turns C into W and D into + unless the repo uses them.
    let aa = match perm {
        Perm::Read => Aa::R,
        Perm::Write => Aa::W,
        Perm::Force => Aa::Plus,
        Perm::Create if scope.option("CREATE_IS_C") => Aa::C,
        Perm::Create => Aa::W,
        Perm::Delete if scope.option("DELETE_IS_D") => Aa::D,
        Perm::Delete => Aa::Plus,
    };
    access(&scope, user, aa, refname)
}

/// See [`super::Acl::decide_update`].
pub fn decide_update(
    parsed: &Parsed,
    repo: &str,
    user: &str,
    refname: &str,
    kind: UpdateKind,
) -> Decision {
    if let Err(reason) = check_names(repo, user) {
        return Decision::invalid(reason);
    }
    let scope = Scope::new(parsed, repo, user);
    let full = qualify(refname);
    // gitolite's update hook (Hooks/Update.pm `args`).
    let aa = match kind {
        UpdateKind::Create if scope.option("CREATE_IS_C") => Aa::C,
        UpdateKind::Create => Aa::W,
        UpdateKind::Delete if scope.option("DELETE_IS_D") => Aa::D,
        UpdateKind::Delete => Aa::Plus,
        UpdateKind::FastForward if full.contains("refs/tags/") => Aa::Plus,
        UpdateKind::FastForward => Aa::W,
        UpdateKind::Rewind => Aa::Plus,
    };
    access(&scope, user, aa, Some(&full))
}

/// gitolite's `access()` loop.
fn access(scope: &Scope, user: &str, aa: Aa, refname: Option<&str>) -> Decision {
    let full = refname.map(qualify);
    if let Some(r) = &full
        && !is_refname(r)
    {
        return Decision::invalid("invalid characters in ref name");
    }
    let parsed = scope.parsed;
    let deny_rules = full.is_none() && scope.option("deny-rules");
    for rule in &parsed.rules {
        if !scope.keys[rule.repo] || !scope.users[rule.user] {
            continue;
        }
        let deny = rule.perm == "-";
        // Deny rules are skipped when the ref is not known yet, unless deny-rules.
        if deny && full.is_none() && !deny_rules {
            continue;
        }
        if let Some(r) = &full
            && !refex_matches(&rule.refex, user, r)
        {
            continue;
        }
        let site = &parsed.sites[rule.site];
        if deny {
            return Decision::by_rule(false, site);
        }
        if aa.held_by(rule.perm) {
            return Decision::by_rule(true, site);
        }
    }
    Decision::fallthru()
}

fn refex_matches(refex: &Refex, user: &str, refname: &str) -> bool {
    match refex {
        Refex::Fixed(m) => m.matches(refname, false),
        Refex::PerUser(text) => {
            // Spliced in as text, as gitolite does for its own names; a domain
            // account's backslash would start a regex escape (`CORP\dave`:
            // `\d`), so such a name goes in escaped (and, git refusing `\` in
            // ref names, then matches nothing: fails closed).
            let user = if user.contains('\\') {
                regex::escape(user)
            } else {
                user.to_string()
            };
            let text = text.replacen("/USER/", &format!("/{user}/"), 1);
            Matcher::new(&text, false).is_ok_and(|m| m.matches(refname, false))
        }
    }
}

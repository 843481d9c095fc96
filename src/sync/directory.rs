//! The directory sync's plan, pure: a directory (the source of truth: mailboxes with their names,
//! aliases and delegates) against the accounts a provisioning target holds, matched by lowercased
//! primary address. Users become user accounts, shared mailboxes group accounts (functional
//! accounts, whose members are the delegates). Every user mailbox has an account, a disabled one an
//! inactive account (it can still be someone's delegate, and comes back when enabled). Nothing is
//! ever deleted: an account whose mailbox is gone is deactivated (a user) or emptied (a group: a
//! group without members is a disabled functional account).

use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    User,
    Group,
}

/// A mailbox as the directory has it.
#[derive(Clone, Debug, PartialEq)]
pub struct Mailbox {
    /// The directory's object id (a user's SSO account key).
    pub id: String,
    pub kind: Kind,
    /// Primary address, lowercased.
    pub address: String,
    pub display_name: String,
    /// Other addresses, lowercased, sorted, without the primary.
    pub aliases: Vec<String>,
    /// Primary addresses of the people with full access, lowercased, sorted.
    pub delegates: Vec<String>,
    /// A user mailbox whose account is disabled is `false`; shared mailboxes are always enabled.
    pub enabled: bool,
}

/// An account as the target holds it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Account {
    pub id: String,
    /// Primary address, lowercased.
    pub address: String,
    pub display_name: String,
    pub aliases: Vec<String>,
    /// Users: delegates' addresses; groups: members' addresses (lowercased, sorted).
    pub delegates: Vec<String>,
    /// Users: `active`; groups: whether they have members.
    pub active: bool,
}

/// Which addresses take part (all of them when empty).
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// Primary-address domains, lowercased.
    pub domains: Vec<String>,
    pub only: Vec<String>,
    pub except: Vec<String>,
    pub shared: bool,
}

impl Scope {
    pub fn takes(&self, kind: Kind, address: &str) -> bool {
        let address = address.trim().to_lowercase();
        let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
        (kind == Kind::User || self.shared)
            && (self.domains.is_empty() || self.domains.iter().any(|d| d == domain))
            && (self.only.is_empty() || self.only.contains(&address))
            && !self.except.contains(&address)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Create(Mailbox),
    /// The account as it must become; `changes` names what differs.
    Update {
        account: Account,
        wanted: Mailbox,
    },
    /// A user whose mailbox is gone or disabled; a group whose shared mailbox is gone.
    Deactivate(Account),
    Unchanged(Account),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub kind: Kind,
    pub address: String,
    pub action: Action,
    /// What changes, for people: "name", "aliases +a -b", "delegates +c", "active".
    pub changes: Vec<String>,
}

fn diff(what: &str, had: &[String], wants: &[String]) -> Option<String> {
    let had: BTreeSet<&String> = had.iter().collect();
    let wants: BTreeSet<&String> = wants.iter().collect();
    let added: Vec<String> = wants.difference(&had).map(|a| format!("+{a}")).collect();
    let removed: Vec<String> = had.difference(&wants).map(|a| format!("-{a}")).collect();
    let all: Vec<String> = added.into_iter().chain(removed).collect();
    (!all.is_empty()).then(|| format!("{what} {}", all.join(" ")))
}

/// What differs between an account and its mailbox.
pub fn changes(kind: Kind, account: &Account, wanted: &Mailbox) -> Vec<String> {
    let mut changes = Vec::new();
    if account.display_name.trim() != wanted.display_name.trim() {
        changes.push("name".to_string());
    }
    changes.extend(diff("aliases", &account.aliases, &wanted.aliases));
    changes.extend(diff(
        if kind == Kind::User { "delegates" } else { "members" },
        &account.delegates,
        &wanted.delegates,
    ));
    if kind == Kind::User && account.active != wanted.enabled {
        changes.push(if wanted.enabled { "activated" } else { "deactivated" }.to_string());
    }
    changes
}

/// Every account's action, users first (groups' members must exist), each kind by address.
/// Delegates and members are the ones that have (or get) a user account: someone without one
/// cannot be a member, and wanting them would make every run a change.
pub fn plan(mailboxes: &[Mailbox], users: &[Account], groups: &[Account], scope: &Scope) -> Vec<Planned> {
    plan_with(mailboxes, users, groups, scope, false)
}

/// The plan; with `rewrite_users` every user in step is written again too (its SSO key, which the
/// target never returns, cannot be seen to be set).
pub fn plan_with(
    mailboxes: &[Mailbox],
    users: &[Account],
    groups: &[Account],
    scope: &Scope,
    rewrite_users: bool,
) -> Vec<Planned> {
    let in_scope = |m: &&Mailbox| scope.takes(m.kind, &m.address);
    let accounts: BTreeSet<&str> = users
        .iter()
        .map(|a| a.address.as_str())
        .chain(mailboxes.iter().filter(in_scope).filter(|m| m.kind == Kind::User).map(|m| m.address.as_str()))
        .collect();
    let mailboxes: Vec<Mailbox> = mailboxes
        .iter()
        .filter(in_scope)
        .map(|m| Mailbox {
            delegates: m.delegates.iter().filter(|d| accounts.contains(d.as_str())).cloned().collect(),
            ..m.clone()
        })
        .collect();
    let mut planned = Vec::new();
    for (kind, accounts) in [(Kind::User, users), (Kind::Group, groups)] {
        let wanted: BTreeMap<&str, &Mailbox> =
            mailboxes.iter().filter(|m| m.kind == kind).map(|m| (m.address.as_str(), m)).collect();
        let held: BTreeMap<&str, &Account> =
            accounts.iter().filter(|a| scope.takes(kind, &a.address)).map(|a| (a.address.as_str(), a)).collect();
        for (address, mailbox) in &wanted {
            let action = match held.get(address) {
                None => Planned {
                    kind,
                    address: address.to_string(),
                    action: Action::Create((*mailbox).clone()),
                    changes: vec!["created".into()],
                },
                Some(account) => {
                    let mut changes = changes(kind, account, mailbox);
                    if changes.is_empty() && rewrite_users && kind == Kind::User {
                        changes.push("rewritten".into());
                    }
                    let action = if changes.is_empty() {
                        Action::Unchanged((*account).clone())
                    } else {
                        Action::Update { account: (*account).clone(), wanted: (*mailbox).clone() }
                    };
                    Planned { kind, address: address.to_string(), action, changes }
                }
            };
            planned.push(action);
        }
        for (address, account) in held.iter().filter(|(a, _)| !wanted.contains_key(*a)) {
            let gone = match kind {
                Kind::User => account.active,
                Kind::Group => !account.delegates.is_empty() || account.active,
            };
            let (action, changes) = if gone {
                let what = if kind == Kind::User { "deactivated" } else { "emptied" };
                (Action::Deactivate((*account).clone()), vec![what.to_string()])
            } else {
                (Action::Unchanged((*account).clone()), Vec::new())
            };
            planned.push(Planned { kind, address: address.to_string(), action, changes });
        }
    }
    planned
}

/// The aliases of a directory's `proxyAddresses`: its `smtp:` entries (the upper-case `SMTP:` one
/// is the primary), lowercased, sorted, without the primary and without the tenant's routing
/// addresses (`*.onmicrosoft.com`), which no organisation owns in a mail service.
pub fn aliases(proxy_addresses: &[String], primary: &str) -> Vec<String> {
    let mut aliases: Vec<String> = proxy_addresses
        .iter()
        .filter_map(|p| p.trim().split_once(':').filter(|(prefix, _)| prefix.eq_ignore_ascii_case("smtp")))
        .map(|(_, address)| address.trim().to_lowercase())
        .filter(|a| !a.is_empty() && a != primary && !a.ends_with(".onmicrosoft.com"))
        .collect();
    aliases.sort();
    aliases.dedup();
    aliases
}

/// The primary address: the `SMTP:` entry of `proxyAddresses`, else `mail`; lowercased.
pub fn primary(proxy_addresses: &[String], mail: Option<&str>) -> Option<String> {
    proxy_addresses
        .iter()
        .find_map(|p| p.trim().strip_prefix("SMTP:"))
        .or(mail)
        .map(|a| a.trim().to_lowercase())
        .filter(|a| a.contains('@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(kind: Kind, address: &str, name: &str) -> Mailbox {
        Mailbox {
            id: format!("id-{address}"),
            kind,
            address: address.into(),
            display_name: name.into(),
            aliases: vec![],
            delegates: vec![],
            enabled: true,
        }
    }

    fn account(address: &str, name: &str, active: bool) -> Account {
        Account {
            id: format!("z-{address}"),
            address: address.into(),
            display_name: name.into(),
            active,
            ..Default::default()
        }
    }

    fn all() -> Scope {
        Scope { shared: true, ..Scope::default() }
    }

    #[test]
    fn aliases_are_the_smtp_entries_but_the_primary() {
        let proxies: Vec<String> = [
            "SMTP:Ann.Lee@Contoso.example",
            "smtp:ann@contoso.example",
            "X500:/o=x",
            "SIP:ann@x",
            "smtp:A@Fabrikam.example",
        ]
        .map(String::from)
        .to_vec();
        let primary = primary(&proxies, Some("other@x")).unwrap();
        assert_eq!(primary, "ann.lee@contoso.example");
        assert_eq!(aliases(&proxies, &primary), ["a@fabrikam.example", "ann@contoso.example"]);
        assert_eq!(super::primary(&[], Some(" B@x.example ")).as_deref(), Some("b@x.example"));
    }

    #[test]
    fn creates_updates_deactivates_and_never_deletes() {
        let mut renamed = mailbox(Kind::User, "b@x", "Bea New");
        renamed.aliases = vec!["bee@x".into()];
        let mut disabled = mailbox(Kind::User, "c@x", "Cy");
        disabled.enabled = false;
        let mut shared = mailbox(Kind::Group, "info@x", "Info");
        shared.delegates = vec!["b@x".into()];
        let mailboxes =
            vec![mailbox(Kind::User, "a@x", "Ann"), renamed, disabled, shared, mailbox(Kind::User, "new-off@x", "Off")];
        let mailboxes = {
            let mut m = mailboxes;
            m[4].enabled = false;
            m
        };
        let users = vec![account("b@x", "Bea Old", true), account("c@x", "Cy", true), account("gone@x", "Gone", true)];
        let mut old_group = account("old@x", "Old", true);
        old_group.delegates = vec!["b@x".into()];
        let groups = vec![old_group];
        let plan = plan(&mailboxes, &users, &groups, &all());
        let by: BTreeMap<&str, &Planned> = plan.iter().map(|p| (p.address.as_str(), p)).collect();
        assert!(matches!(by["a@x"].action, Action::Create(_)));
        assert_eq!(by["b@x"].changes, ["name", "aliases +bee@x"]);
        assert_eq!(by["c@x"].changes, ["deactivated"]);
        assert!(matches!(by["gone@x"].action, Action::Deactivate(_)));
        assert!(matches!(by["info@x"].action, Action::Create(_)));
        assert_eq!(by["old@x"].changes, ["emptied"]);
        assert!(matches!(by["new-off@x"].action, Action::Create(_)), "a disabled user gets an inactive account");
        assert_eq!(plan.iter().position(|p| p.kind == Kind::Group), Some(5), "users first");
    }

    #[test]
    fn members_without_an_account_are_left_out() {
        let mut shared = mailbox(Kind::Group, "info@x", "Info");
        shared.delegates = vec!["a@x".into(), "nobody@x".into(), "old@x".into()];
        let mut group = account("info@x", "Info", true);
        group.delegates = vec!["a@x".into(), "old@x".into()];
        let plan =
            plan(&[mailbox(Kind::User, "a@x", "A"), shared], &[account("old@x", "Old", false)], &[group], &all());
        let info = plan.iter().find(|p| p.address == "info@x").unwrap();
        assert!(matches!(info.action, Action::Unchanged(_)), "{info:?}");
    }

    #[test]
    fn the_scope_limits_both_sides() {
        let scope = Scope { domains: vec!["x".into()], except: vec!["b@x".into()], shared: false, ..Scope::default() };
        let mailboxes =
            vec![mailbox(Kind::User, "a@x", "A"), mailbox(Kind::User, "a@y", "A"), mailbox(Kind::Group, "s@x", "S")];
        let users = vec![account("b@x", "B", true), account("z@y", "Z", true)];
        let plan = plan(&mailboxes, &users, &[], &scope);
        let addresses: Vec<&str> = plan.iter().map(|p| p.address.as_str()).collect();
        assert_eq!(addresses, ["a@x"], "other domains, excluded and shared mailboxes are left alone");
    }
}

//! The ground truth of a full directory → Zivver sync (no filters), from the directory as it is now.
//!
//! - `users`: one per user mailbox (`purpose` "user" with a primary SMTP address), sorted by
//!   `userName`: `userName` = the lowercased primary SMTP address; `name` = the trimmed display
//!   name; `aliases` = the lowercased `smtp:` entries other than the primary, on a claimed domain
//!   only (not `*.onmicrosoft.com`), deduplicated, sorted; `delegates` = the lowercased primary
//!   addresses of the FullAccess holders that are themselves user mailboxes (others cannot be Zivver
//!   users), the mailbox itself excluded, sorted; `active` = `accountEnabled`; `sso_account_key` =
//!   the directory object id; `external_account_id` and `division` = what Zivver had for that
//!   userName at start (null and "/" for a new user): they must be preserved.
//! - `groups`: one per shared mailbox, sorted by `externalId`: `externalId` (lowercased primary),
//!   `displayName` (trimmed), `aliases` (as for users), `members` = the delegates' addresses as
//!   for users (not ids; empty = a disabled functional account), `external_account_id` as at start.
//! - `deactivated_users`: the lowercased userNames of the Zivver users (now) that are no user
//!   mailbox of the directory: they must be `active: false` (nothing else is said about them).
//! - `emptied_groups`: the lowercased externalIds of the Zivver groups (now) that are no shared
//!   mailbox of the directory: they must have no members.
//!
//! Room/equipment mailboxes and users without a mailbox take no part.

use crate::data::{DirUser, DirectoryData, ZivverData};
use serde_json::{Value, json};

fn primary(u: &DirUser) -> Option<String> {
    u.primary_smtp().map(str::to_ascii_lowercase).filter(|p| !p.is_empty())
}

fn aliases(u: &DirUser, domains: &[String], me: &str) -> Vec<String> {
    let mut out: Vec<String> = u
        .proxy_addresses
        .iter()
        .filter_map(|p| p.strip_prefix("smtp:"))
        .map(str::to_ascii_lowercase)
        .filter(|a| a != me)
        .filter(|a| {
            a.rsplit_once('@')
                .is_some_and(|(_, d)| domains.is_empty() || domains.iter().any(|x| x.eq_ignore_ascii_case(d)))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn is_user_mailbox(u: &DirUser) -> bool {
    u.purpose.as_deref() == Some("user") && primary(u).is_some()
}

fn delegates(dir: &DirectoryData, u: &DirUser, me: &str) -> Vec<String> {
    let mut out: Vec<String> = u
        .full_access
        .iter()
        .filter_map(|upn| dir.user(upn))
        .filter(|d| is_user_mailbox(d))
        .filter_map(primary)
        .filter(|a| a != me)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// See the module documentation. `users_now` / `groups_now`: the userNames and externalIds in
/// Zivver now.
pub(crate) fn expected(
    dir: &DirectoryData,
    initial: &ZivverData,
    users_now: &[String],
    groups_now: &[String],
) -> Value {
    let domains = &initial.domains;
    let mut users = Vec::new();
    let mut user_names = Vec::new();
    for u in dir.users.iter().filter(|u| is_user_mailbox(u)) {
        let me = primary(u).unwrap_or_default();
        let was = initial.users.iter().find(|z| z.user_name.eq_ignore_ascii_case(&me));
        users.push(json!({
            "userName": me,
            "name": u.display_name.trim(),
            "aliases": aliases(u, domains, &me),
            "delegates": delegates(dir, u, &me),
            "active": u.account_enabled,
            "sso_account_key": u.id,
            "external_account_id": was.and_then(|z| z.external_account_id.clone()),
            "division": was.map_or("/".to_string(), |z| if z.division.is_empty() { "/".into() } else { z.division.clone() }),
        }));
        user_names.push(me);
    }
    users.sort_by(|a, b| a["userName"].as_str().cmp(&b["userName"].as_str()));
    let mut groups = Vec::new();
    let mut group_ids = Vec::new();
    for u in dir.users.iter().filter(|u| u.purpose.as_deref() == Some("shared")) {
        let Some(me) = primary(u) else { continue };
        let was = initial.groups.iter().find(|g| g.external_id.eq_ignore_ascii_case(&me));
        groups.push(json!({
            "externalId": me,
            "displayName": u.display_name.trim(),
            "aliases": aliases(u, domains, &me),
            "members": delegates(dir, u, &me),
            "external_account_id": was.and_then(|g| g.external_account_id.clone()),
        }));
        group_ids.push(me);
    }
    groups.sort_by(|a, b| a["externalId"].as_str().cmp(&b["externalId"].as_str()));
    let mut deactivated: Vec<String> =
        users_now.iter().map(|n| n.to_ascii_lowercase()).filter(|n| !user_names.contains(n)).collect();
    deactivated.sort();
    deactivated.dedup();
    let mut emptied: Vec<String> =
        groups_now.iter().map(|n| n.to_ascii_lowercase()).filter(|n| !group_ids.contains(n)).collect();
    emptied.sort();
    emptied.dedup();
    json!({"users": users, "groups": groups, "deactivated_users": deactivated, "emptied_groups": emptied})
}

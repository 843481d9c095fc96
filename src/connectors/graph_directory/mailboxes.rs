//! Every mailbox of the directory: users page by page (999 a page, by `@odata.nextLink`), then
//! for each user with an address its mailbox's purpose (user, shared, room...) and its full-access
//! delegates, in parallel. Delegates are named by UPN and become their primary addresses.

use super::models::{Group, MailboxSettings, Member, Page, Permission, User};
use super::{GraphDirectory, SERVICE, decode, encode};
use crate::actions::Context;
use crate::connectors::Mailbox;
use crate::error::Error;
use crate::http::{Flow, Request};
use crate::log;
use crate::sync::directory::{Kind, aliases, primary};
use std::collections::{HashMap, HashSet};

const SELECT: &str = "id,displayName,mail,userPrincipalName,proxyAddresses,accountEnabled";
/// Pages one read may take before the directory is taken to be endless (50 million users).
const MAX_PAGES: usize = 50_000;

/// Every page from `first` on, by `@odata.nextLink`.
fn all_pages<T: serde::de::DeserializeOwned>(
    ctx: &mut Context,
    graph: &mut GraphDirectory,
    first: Request,
    what: &str,
) -> Result<Vec<T>, Error> {
    let mut items = Vec::new();
    let mut next = Some(first);
    let mut pages = 0;
    while let Some(request) = next.take() {
        pages += 1;
        if pages > MAX_PAGES {
            return Err(Error::new(
                format!("Microsoft Graph kept returning more pages ({what})."),
                "Report this to Microsoft support.",
                "",
            ));
        }
        let outcome = ctx.http.send_with(&mut graph.auth, request)?;
        let page: Page<T> = decode(what, outcome)?;
        items.extend(page.value);
        log::progress(what, items.len(), items.len());
        if let Some(link) = page.next_link {
            next = Some(graph.next(&link)?);
        }
    }
    Ok(items)
}

/// The ids of the users in `group` (by display name), nested groups included.
fn members(ctx: &mut Context, graph: &mut GraphDirectory, group: &str) -> Result<HashSet<String>, Error> {
    let filter = format!("displayName eq '{}'", group.replace('\'', "''"));
    let path = format!("/v1.0/groups?$filter={}&$select=id,displayName", encode(&filter));
    let groups: Page<Group> = graph.get(ctx, path, &format!("finding the group {group:?}"))?;
    let id = groups
        .value
        .into_iter()
        .find(|g| g.display_name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(group.trim())))
        .and_then(|g| g.id)
        .ok_or_else(|| {
            Error::invalid(
                "input.group",
                format!("the directory has no group named {group:?}"),
                "Give a group's display name as Entra shows it.",
            )
        })?;
    let first =
        graph.request(format!("/v1.0/groups/{}/transitiveMembers?$select=id,userPrincipalName&$top=999", encode(&id)));
    let members: Vec<Member> = all_pages(ctx, graph, first, "reading the group's members")?;
    Ok(members
        .into_iter()
        .filter(|m| m.odata_type.as_deref().is_none_or(|t| t.ends_with(".user")))
        .filter_map(|m| m.id)
        .collect())
}

enum Job {
    Settings(usize),
    Permissions(usize),
}

pub fn read(ctx: &mut Context, graph: &mut GraphDirectory, group: Option<&str>) -> Result<Vec<Mailbox>, Error> {
    let only = match group {
        Some(group) => Some(members(ctx, graph, group)?),
        None => None,
    };
    let first = graph.request(format!("/v1.0/users?$select={SELECT}&$top=999"));
    let users: Vec<User> = all_pages(ctx, graph, first, "listing the directory's users")?;
    // Delegates are named by UPN; each becomes that user's primary address.
    let address_of: HashMap<String, String> = users
        .iter()
        .filter_map(|u| {
            Some((u.user_principal_name.as_deref()?.to_lowercase(), primary(&u.proxy_addresses, u.mail.as_deref())?))
        })
        .collect();
    let with_mail: Vec<(usize, String)> = users
        .iter()
        .enumerate()
        .filter(|(_, u)| only.as_ref().is_none_or(|o| u.id.as_ref().is_some_and(|id| o.contains(id))))
        .filter_map(|(i, u)| Some((i, primary(&u.proxy_addresses, u.mail.as_deref())?)))
        .filter(|(i, _)| users[*i].id.is_some())
        .collect();
    let mut jobs = Vec::new();
    for (n, (i, _)) in with_mail.iter().enumerate() {
        let id = users[*i].id.clone().unwrap_or_default();
        jobs.push((Job::Settings(n), graph.request(GraphDirectory::user_path(&id, "/mailboxSettings"))));
        jobs.push((Job::Permissions(n), graph.request(GraphDirectory::user_path(&id, "/mailboxPermissions"))));
    }
    let mut purposes: Vec<Option<String>> = vec![None; with_mail.len()];
    let mut delegates: Vec<Vec<String>> = vec![Vec::new(); with_mail.len()];
    let total = jobs.len();
    let mut done = 0;
    let mut failure = None;
    ctx.http.run(&mut graph.auth, jobs, |job, outcome, _| {
        done += 1;
        log::progress("reading mailboxes", done, total);
        // No mailbox (a user without Exchange, or one hosted on-premises): it takes no part.
        let no_mailbox = matches!(&outcome, Ok(r) if r.status == 404);
        let read = match job {
            // `purposes` stays None: no mailbox.
            Job::Settings(_) | Job::Permissions(_) if no_mailbox => Ok(()),
            Job::Settings(n) => decode::<MailboxSettings>("reading a mailbox's settings", outcome)
                .map(|s| purposes[n] = Some(s.user_purpose.unwrap_or_else(|| "user".into()).to_ascii_lowercase())),
            Job::Permissions(n) => decode::<Page<Permission>>("reading a mailbox's permissions", outcome).map(|p| {
                delegates[n] = p
                    .value
                    .iter()
                    .filter(|p| p.access_rights.iter().any(|r| r.eq_ignore_ascii_case("FullAccess")))
                    .filter_map(|p| address_of.get(&p.user.as_deref()?.to_lowercase()).cloned())
                    .collect()
            }),
        };
        match read {
            Ok(()) => Flow::Continue,
            Err(error) => {
                failure = Some(error);
                Flow::Stop
            }
        }
    })?;
    if let Some(error) = failure {
        return Err(error);
    }
    let mut mailboxes = Vec::new();
    let mut other = 0;
    for (n, (i, address)) in with_mail.into_iter().enumerate() {
        let user = &users[i];
        let kind = match purposes[n].as_deref() {
            Some("user") => Kind::User,
            Some("shared") => Kind::Group,
            Some(_) => {
                other += 1; // rooms and equipment have no people behind them
                continue;
            }
            None => continue,
        };
        let mut delegates = std::mem::take(&mut delegates[n]);
        delegates.retain(|d| *d != address);
        delegates.sort();
        delegates.dedup();
        mailboxes.push(Mailbox {
            id: user.id.clone().unwrap_or_default(),
            kind,
            aliases: aliases(&user.proxy_addresses, &address),
            display_name: user.display_name.clone().unwrap_or_else(|| address.clone()).trim().to_string(),
            delegates,
            // A shared mailbox's account is disabled by design: that does not disable the mailbox.
            enabled: kind == Kind::Group || user.account_enabled,
            address,
        });
    }
    log::info(format!(
        "{SERVICE}: {} users, {} user and {} shared mailboxes ({other} rooms and other resources left out)",
        users.len(),
        mailboxes.iter().filter(|m| m.kind == Kind::User).count(),
        mailboxes.iter().filter(|m| m.kind == Kind::Group).count()
    ));
    Ok(mailboxes)
}

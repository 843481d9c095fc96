//! Zivver's accounts read page by page and changed as the plan says: a create looks the account up
//! after a lost answer or a conflict; every update is a read-modify-write PUT that keeps what
//! Zivver owns and always sends the SSO key; a group's members change by PATCH, one group at a time.

use super::models::{CORE_GROUP, CORE_USER, Group, List, MemberRef, PATCH_OP, User, ZIVVER_GROUP, ZIVVER_USER};
use super::{SERVICE, Zivver, decode};
use crate::actions::Context;
use crate::actions::sync_directory::out_of_time;
use crate::connectors::{DirectoryAccount, Mailbox, Planned};
use crate::error::Error;
use crate::http::encode;
use crate::http::{HttpError, Method};
use crate::log;
use crate::sync::directory::{Action, Kind};
use serde_json::{Value, json};
use std::collections::HashMap;

const PAGE_SIZE: usize = 100;
/// Creates tried for one account, each after a lookup showed the one before had not landed.
const MAX_CREATES: u32 = 6;
/// Pages one read may take (10 million accounts).
const MAX_PAGES: usize = 100_000;

fn lower_sorted(list: &[String]) -> Vec<String> {
    let mut list: Vec<String> = list.iter().map(|a| a.trim().to_lowercase()).filter(|a| !a.is_empty()).collect();
    list.sort();
    list.dedup();
    list
}

fn every<T: serde::de::DeserializeOwned>(
    ctx: &mut Context,
    zivver: &mut Zivver,
    resource: &str,
) -> Result<Vec<T>, Error> {
    let mut items: Vec<T> = Vec::new();
    for page in 0..MAX_PAGES {
        let path = format!("/{resource}?startIndex={}&count={PAGE_SIZE}", page * PAGE_SIZE + 1);
        let list: List<T> = zivver.get(ctx, path, &format!("listing the {}", resource.to_lowercase()))?;
        let got = list.resources.len();
        items.extend(list.resources);
        log::progress(&format!("reading Zivver's {}", resource.to_lowercase()), items.len(), items.len());
        if got == 0 || items.len() as i64 >= list.total_results.unwrap_or(0) {
            return Ok(items);
        }
    }
    Err(Error::new(format!("Zivver kept returning more pages of {resource}."), "Report this to Zivver support.", ""))
}

fn user_account(user: &User) -> Option<DirectoryAccount> {
    Some(DirectoryAccount {
        id: user.id.clone()?,
        address: user.user_name.as_deref()?.trim().to_lowercase(),
        display_name: user.name.as_ref().and_then(|n| n.formatted.clone()).unwrap_or_default(),
        aliases: lower_sorted(&user.zivver.aliases),
        delegates: lower_sorted(&user.zivver.delegates),
        active: user.active,
    })
}

fn group_account(group: &Group, address_of: &HashMap<String, String>) -> Option<DirectoryAccount> {
    let members: Vec<String> = group
        .members
        .iter()
        .filter_map(|m| m.value.as_ref())
        .map(|id| address_of.get(id).cloned().unwrap_or_else(|| format!("(account {id})")))
        .collect();
    Some(DirectoryAccount {
        id: group.id.clone()?,
        address: group.external_id.as_deref()?.trim().to_lowercase(),
        display_name: group.display_name.clone().unwrap_or_default(),
        aliases: lower_sorted(&group.zivver.aliases),
        active: !members.is_empty(),
        delegates: lower_sorted(&members),
    })
}

pub fn read(ctx: &mut Context, zivver: &mut Zivver) -> Result<(Vec<DirectoryAccount>, Vec<DirectoryAccount>), Error> {
    zivver.users = every(ctx, zivver, "Users")?;
    zivver.groups = every(ctx, zivver, "Groups")?;
    let users: Vec<DirectoryAccount> = zivver.users.iter().filter_map(user_account).collect();
    let address_of: HashMap<String, String> = users.iter().map(|u| (u.id.clone(), u.address.clone())).collect();
    let groups = zivver.groups.iter().filter_map(|g| group_account(g, &address_of)).collect();
    Ok((users, groups))
}

fn kept_failing(kind: &str, address: &str) -> Error {
    Error::new(
        format!("Creating {kind} {address} in Zivver kept failing without an answer."),
        "Run sync_directory again later: it looks the account up first, so nothing is created twice.",
        "",
    )
}

fn filter(attribute: &str, value: &str) -> String {
    let expression = format!("{attribute} eq \"{}\"", value.replace('"', "\\\""));
    encode(&expression)
}

/// The changes of one run, in order, with the ids users get (groups' members need them).
struct Run<'r, 'c> {
    ctx: &'r mut Context<'c>,
    zivver: &'r mut Zivver,
    /// Users' ids by address.
    ids: HashMap<String, String>,
    /// Planned users written without some of their delegates (not created yet).
    short: Vec<usize>,
}

/// A write's answer: the resource, or (the answer lost, or a conflict) `None`: look it up.
fn written<T: serde::de::DeserializeOwned>(
    what: &str,
    outcome: Result<crate::http::Response, HttpError>,
) -> Result<Option<T>, Error> {
    match outcome {
        Err(HttpError::OutcomeUnknown { .. }) => Ok(None),
        Ok(response) if response.status == 409 => Ok(None),
        outcome => decode(what, outcome).map(Some),
    }
}

impl Run<'_, '_> {
    fn send<T: serde::de::DeserializeOwned>(
        &mut self,
        request: crate::http::Request,
        what: &str,
    ) -> Result<Option<T>, Error> {
        let outcome = self.ctx.http.send_with(&mut self.zivver.auth, request)?;
        if matches!(outcome, Err(HttpError::BudgetExhausted { .. })) {
            return Err(out_of_time());
        }
        written(what, outcome)
    }

    fn get<T: serde::de::DeserializeOwned>(&mut self, path: String, what: &str) -> Result<T, Error> {
        let request = self.zivver.request(Method::Get, path);
        self.send(request, what)?
            .ok_or_else(|| Error::new(format!("Zivver gave no answer ({what})."), "Run sync_directory again.", ""))
    }

    fn members(&self, addresses: &[String]) -> Vec<MemberRef> {
        addresses
            .iter()
            .filter_map(|a| self.ids.get(a))
            .map(|id| MemberRef { value: Some(id.clone()), ..MemberRef::default() })
            .collect()
    }

    /// The user as the mailbox says, on top of what Zivver holds (`base`).
    fn user_from(&self, mut base: User, mailbox: Option<&Mailbox>, active: bool) -> User {
        base.rest.remove("meta");
        if let Some(mailbox) = mailbox {
            base.user_name = Some(mailbox.address.clone());
            let mut name = base.name.take().unwrap_or_default();
            name.formatted = Some(mailbox.display_name.clone());
            base.name = Some(name);
            base.zivver.aliases = mailbox.aliases.clone();
            // Zivver takes only delegates it has: the others come in the second pass.
            base.zivver.delegates = mailbox.delegates.iter().filter(|d| self.ids.contains_key(*d)).cloned().collect();
            // Write-only, and cleared by a PUT without it: always sent.
            base.zivver.sso_account_key = Some(mailbox.id.clone());
        }
        base.active = active;
        if !base.rest.contains_key("schemas") {
            base.rest.insert("schemas".into(), json!([CORE_USER, ZIVVER_USER]));
        }
        base
    }

    fn group_from(&self, mut base: Group, mailbox: &Mailbox) -> Group {
        base.rest.remove("meta");
        base.external_id = Some(mailbox.address.clone());
        base.display_name = Some(mailbox.display_name.clone());
        base.zivver.aliases = mailbox.aliases.clone();
        base.members = self.members(&mailbox.delegates);
        if !base.rest.contains_key("schemas") {
            base.rest.insert("schemas".into(), json!([CORE_GROUP, ZIVVER_GROUP]));
        }
        base
    }

    fn find_user(&mut self, address: &str) -> Result<Option<User>, Error> {
        let list: List<User> =
            self.get(format!("/Users?filter={}", filter("userName", address)), &format!("looking up user {address}"))?;
        Ok(list.resources.into_iter().find(|u| u.user_name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(address))))
    }

    fn find_group(&mut self, address: &str) -> Result<Option<Group>, Error> {
        let list: List<Group> = self
            .get(format!("/Groups?filter={}", filter("externalId", address)), &format!("looking up group {address}"))?;
        Ok(list
            .resources
            .into_iter()
            .find(|g| g.external_id.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(address))))
    }

    fn put_user(&mut self, id: &str, user: &User) -> Result<String, Error> {
        let what = format!("updating user {}", user.user_name.as_deref().unwrap_or(id));
        let request = self.zivver.send(Method::Put, format!("/Users/{}", encode(id)), user);
        let _: Option<User> = self.send(request, &what)?;
        Ok(id.to_string())
    }

    fn create_user(&mut self, mailbox: &Mailbox) -> Result<String, Error> {
        for _ in 0..MAX_CREATES {
            let user = self.user_from(User::default(), Some(mailbox), mailbox.enabled);
            let request = self.zivver.send(Method::Post, "/Users", &user);
            if let Some(created) = self.send::<User>(request, &format!("creating user {}", mailbox.address))?
                && let Some(id) = created.id
            {
                return Ok(id);
            }
            // The answer was lost, or the user is there already: found, it is brought in line;
            // not there, the create is tried again.
            if let Some(found) = self.find_user(&mailbox.address)? {
                let id = found.id.clone().unwrap_or_default();
                let user = self.user_from(found, Some(mailbox), mailbox.enabled);
                return self.put_user(&id, &user);
            }
        }
        Err(kept_failing("user", &mailbox.address))
    }

    fn update_user(&mut self, account: &DirectoryAccount, mailbox: Option<&Mailbox>) -> Result<String, Error> {
        let current: User =
            self.get(format!("/Users/{}", encode(&account.id)), &format!("reading user {}", account.address))?;
        let active = mailbox.is_some_and(|m| m.enabled);
        let user = self.user_from(current, mailbox, active);
        self.put_user(&account.id, &user)
    }

    fn create_group(&mut self, mailbox: &Mailbox) -> Result<String, Error> {
        for _ in 0..MAX_CREATES {
            let group = self.group_from(Group::default(), mailbox);
            let request = self.zivver.send(Method::Post, "/Groups", &group);
            if let Some(created) = self.send::<Group>(request, &format!("creating group {}", mailbox.address))?
                && let Some(id) = created.id
            {
                return Ok(id);
            }
            if let Some(found) = self.find_group(&mailbox.address)? {
                let id = found.id.clone().unwrap_or_default();
                return self.update_group(&id, found, mailbox, true);
            }
        }
        Err(kept_failing("group", &mailbox.address))
    }

    /// A group read afresh: its name and aliases by PUT when they change, else its members by PATCH.
    fn update_group(&mut self, id: &str, current: Group, mailbox: &Mailbox, whole: bool) -> Result<String, Error> {
        let what = format!("updating group {}", mailbox.address);
        let request = if whole {
            self.zivver.send(Method::Put, format!("/Groups/{}", encode(id)), &self.group_from(current, mailbox))
        } else {
            let members = self.members(&mailbox.delegates);
            let body =
                json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "members", "value": members}]});
            self.zivver.send(Method::Patch, format!("/Groups/{}", encode(id)), &body)
        };
        let _: Option<Value> = self.send(request, &what)?;
        Ok(id.to_string())
    }

    fn empty_group(&mut self, account: &DirectoryAccount) -> Result<String, Error> {
        let body = json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "members"}]});
        let request = self.zivver.send(Method::Patch, format!("/Groups/{}", encode(&account.id)), &body);
        let _: Option<Value> = self.send(request, &format!("emptying group {}", account.address))?;
        Ok(account.id.clone())
    }

    /// Users written before some of their delegates existed get them now (Zivver refuses a
    /// delegate it does not have yet); a failure fails that user's result.
    fn second_pass(&mut self, planned: &[Planned], results: &mut [Result<Option<String>, Error>]) {
        for n in std::mem::take(&mut self.short) {
            let (Action::Create(mailbox) | Action::Update { wanted: mailbox, .. }) = &planned[n].action else {
                continue;
            };
            let Ok(Some(id)) = &results[n] else { continue };
            let account =
                DirectoryAccount { id: id.clone(), address: mailbox.address.clone(), ..DirectoryAccount::default() };
            if let Err(error) = self.update_user(&account, Some(mailbox)) {
                results[n] = Err(error);
            }
        }
    }

    fn one(&mut self, planned: &Planned) -> Result<String, Error> {
        if self.ctx.http.remaining_ms() == 0 {
            return Err(out_of_time());
        }
        match (&planned.action, planned.kind) {
            (Action::Create(mailbox), Kind::User) => self.create_user(mailbox),
            (Action::Create(mailbox), Kind::Group) => self.create_group(mailbox),
            (Action::Update { account, wanted }, Kind::User) => self.update_user(account, Some(wanted)),
            (Action::Deactivate(account), Kind::User) => self.update_user(account, None),
            (Action::Update { account, wanted }, Kind::Group) => {
                let current: Group = self
                    .get(format!("/Groups/{}", encode(&account.id)), &format!("reading group {}", account.address))?;
                let whole = planned.changes.iter().any(|c| !c.starts_with("members"));
                self.update_group(&account.id, current, wanted, whole)
            }
            (Action::Deactivate(account), Kind::Group) => self.empty_group(account),
            (Action::Unchanged(account), _) => Ok(account.id.clone()),
        }
    }
}

pub fn apply(ctx: &mut Context, zivver: &mut Zivver, planned: &[Planned]) -> Vec<Result<Option<String>, Error>> {
    let ids: HashMap<String, String> = zivver
        .users
        .iter()
        .filter_map(|u| Some((u.user_name.as_deref()?.trim().to_lowercase(), u.id.clone()?)))
        .collect();
    let mut run = Run { ctx, zivver, ids, short: Vec::new() };
    let mut results = Vec::with_capacity(planned.len());
    let first_group = planned.iter().position(|p| p.kind == Kind::Group).unwrap_or(planned.len());
    for (n, item) in planned.iter().enumerate() {
        if n == first_group {
            run.second_pass(planned, &mut results);
        }
        log::progress("changing Zivver accounts", n, planned.len());
        if let (Action::Create(mailbox) | Action::Update { wanted: mailbox, .. }, Kind::User) =
            (&item.action, item.kind)
            && mailbox.delegates.iter().any(|d| !run.ids.contains_key(d))
        {
            run.short.push(n);
        }
        let result = run.one(item);
        if let (Ok(id), Kind::User) = (&result, item.kind) {
            run.ids.insert(item.address.clone(), id.clone());
        }
        if let Err(error) = &result {
            log::info(format!(
                "{SERVICE}: {} {}: {}",
                if item.kind == Kind::User { "user" } else { "group" },
                item.address,
                error.cause
            ));
        }
        results.push(result.map(Some));
    }
    if first_group == planned.len() {
        run.second_pass(planned, &mut results);
    }
    results
}

#[cfg(test)]
mod tests {
    use crate::actions::{run_with, sync_directory};
    use crate::http::fake::{FakeTransport, Reply};
    use crate::http::{Method, Request};
    use crate::types::{Connection, DirectoryOutcome, GraphDirectoryConnection, SyncDirectoryInput, ZivverConnection};
    use serde_json::{Value, json};
    use std::cell::RefCell;

    fn connection() -> Connection {
        Connection {
            graph_directory: Some(GraphDirectoryConnection {
                tenant: "t".into(),
                client_id: "c".into(),
                client_secret: "graph-S3cret".into(),
                login_url: Some("https://login.example".into()),
                graph_url: Some("https://graph.example".into()),
            }),
            zivver: Some(ZivverConnection {
                base_url: Some("https://zivver.example/api/scim/v2".into()),
                api_key: "zivver-K3y".into(),
                rate_limit: None,
            }),
            ..crate::actions::hostile_tests::no_sections()
        }
    }

    fn input() -> SyncDirectoryInput {
        SyncDirectoryInput {
            rewrite_all: None,
            source: None,
            target: None,
            domains: None,
            group: None,
            mailboxes: None,
            exclude_mailboxes: None,
            include_shared: None,
            dry_run: None,
        }
    }

    /// Ann (renamed in Exchange) and Bob (new) in the directory; Zivver has Ann with its own division
    /// and external id. Bob's create lands but its answer is lost.
    fn services(sent: &RefCell<Vec<(Method, String, Value)>>) -> impl FnMut(&Request) -> Reply + '_ {
        let mut bob: Option<Value> = None;
        move |request: &Request| {
            let path = request.path.as_str();
            let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
            if request.method != Method::Get && !path.contains("/oauth2/") {
                sent.borrow_mut().push((request.method, path.to_string(), body.clone()));
            }
            let ann = json!({"id": "z-ann", "userName": "ann@x.example", "name": {"formatted": "Ann Old"}, "active": true,
                "urn:ietf:params:scim:schemas:zivver:0.1:User": {"aliases": [], "delegates": [], "ExternalAccountId": "ext-1"},
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"division": "/Sales"},
                "meta": {"resourceType": "User"}});
            let list = |items: Vec<Value>| json!({"totalResults": items.len(), "Resources": items});
            match (request.method, path) {
                (_, p) if p.contains("/oauth2/v2.0/token") => {
                    Reply::json(200, &json!({"access_token": "t", "expires_in": 3599}))
                }
                (_, p) if p.starts_with("/v1.0/users?") => Reply::json(
                    200,
                    &json!({"value": [
                    {"id": "d-ann", "displayName": "Ann New", "mail": "Ann@x.example", "userPrincipalName": "ann@x.example",
                     "proxyAddresses": ["SMTP:Ann@x.example", "smtp:a@x.example"], "accountEnabled": true},
                    {"id": "d-bob", "displayName": "Bob", "mail": "bob@x.example", "userPrincipalName": "bob@x.example",
                     "proxyAddresses": ["SMTP:bob@x.example"], "accountEnabled": true}]}),
                ),
                (_, p) if p.ends_with("/mailboxSettings") => Reply::json(200, &json!({"userPurpose": "user"})),
                (_, p) if p.ends_with("/mailboxPermissions") && p.contains("d-bob") => {
                    Reply::json(200, &json!({"value": [{"user": "ann@x.example", "accessRights": ["FullAccess"]}]}))
                }
                (_, p) if p.ends_with("/mailboxPermissions") => Reply::json(200, &json!({"value": []})),
                (Method::Get, p) if p.starts_with("/Users?filter=") => {
                    Reply::json(200, &list(bob.iter().cloned().collect()))
                }
                (Method::Get, p) if p.starts_with("/Users?") => Reply::json(200, &list(vec![ann])),
                (Method::Get, p) if p.starts_with("/Groups?") => Reply::json(200, &list(vec![])),
                (Method::Get, "/Users/z-ann") => Reply::json(200, &ann),
                (Method::Post, "/Users") => {
                    bob = Some(json!({"id": "z-bob", "userName": "bob@x.example", "active": true}));
                    Reply::status(502)
                }
                (Method::Put, _) => Reply::json(200, &body),
                _ => Reply::json(400, &json!({"status": "400", "detail": format!("unexpected {path}")})),
            }
        }
    }

    #[test]
    fn updates_keep_what_zivver_owns_and_a_lost_create_is_found_not_repeated() {
        let sent = RefCell::new(Vec::new());
        let mut transport = FakeTransport::new(services(&sent));
        let output = run_with(&connection(), &mut transport, |ctx| sync_directory::run(ctx, input())).unwrap();
        let outcomes: Vec<(String, DirectoryOutcome)> =
            output.results.iter().map(|r| (r.address.clone(), r.outcome)).collect();
        assert_eq!(
            outcomes,
            [
                ("ann@x.example".to_string(), DirectoryOutcome::Updated),
                ("bob@x.example".into(), DirectoryOutcome::Created)
            ],
            "{:?}",
            output.results
        );
        assert_eq!(output.results[0].changes, ["name", "aliases +a@x.example"]);
        let sent = sent.borrow();
        let put_ann = &sent.iter().find(|(m, p, _)| *m == Method::Put && p == "/Users/z-ann").unwrap().2;
        let zivver = &put_ann["urn:ietf:params:scim:schemas:zivver:0.1:User"];
        assert_eq!(
            (zivver["ExternalAccountId"].clone(), zivver["SsoAccountKey"].clone()),
            (json!("ext-1"), json!("d-ann"))
        );
        assert_eq!(put_ann["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["division"], "/Sales");
        assert_eq!(put_ann["name"]["formatted"], "Ann New");
        assert!(put_ann.get("meta").is_none());
        let posts = sent.iter().filter(|(m, _, _)| *m == Method::Post).count();
        assert_eq!(posts, 1, "the lost create is looked up, not repeated");
        let put_bob = &sent.iter().find(|(m, p, _)| *m == Method::Put && p == "/Users/z-bob").unwrap().2;
        assert_eq!(put_bob["urn:ietf:params:scim:schemas:zivver:0.1:User"]["SsoAccountKey"], "d-bob");
        assert_eq!(put_bob["urn:ietf:params:scim:schemas:zivver:0.1:User"]["delegates"], json!(["ann@x.example"]));
        assert!(sent.iter().all(|(m, _, _)| *m != Method::Get), "only writes are recorded");
    }

    #[test]
    fn a_dry_run_writes_nothing() {
        let sent = RefCell::new(Vec::new());
        let mut transport = FakeTransport::new(services(&sent));
        let output = run_with(&connection(), &mut transport, |ctx| {
            sync_directory::run(ctx, SyncDirectoryInput { dry_run: Some(true), ..input() })
        })
        .unwrap();
        assert_eq!(output.results.len(), 2);
        assert!(sent.borrow().is_empty());
    }
}

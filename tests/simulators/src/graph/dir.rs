//! Microsoft Graph's directory side (contracts/zivver-scim.md, "Source"): `/v1.0/users` (paged by
//! nextLink, `$select`), `/users/{id|upn}/mailboxSettings` (`userPurpose`),
//! `/users/{id|upn}/mailboxPermissions` (the contract's stand-in for Exchange's FullAccess list),
//! `/groups?$filter=displayName eq '...'` and `/groups/{id}/transitiveMembers`. `/_sim/graph/directory`
//! changes it.
//!
//! Choices where the contract is silent:
//! - Without `$select`, a user has Graph's default set minus what the simulator does not model:
//!   `id`, `businessPhones` ([]), `displayName`, `mail`, `userPrincipalName`: notably no
//!   `proxyAddresses` nor `accountEnabled`. `$select` takes those six; anything else is `400`.
//! - Users are listed in directory order (creation order; added users last); `$skiptoken` is
//!   base64url of (offset, top, select), so a user deleted while a client pages may shift the rest.
//! - mailboxPermissions lists `NT AUTHORITY\SELF` first (with FullAccess, as Exchange does), then
//!   the FullAccess delegates, then the other permissions; it is not paged.
//! - transitiveMembers lists each member once (users and nested groups, depth-first in member
//!   order); `$select` takes `id`, `displayName`, `userPrincipalName`, `mail` (groups have no UPN
//!   nor mail and leave them out).
//! - Deleting a user removes it from every group and every permission list.

use super::{GraphSim, bad, gerr};
use crate::data::{DirGroup, DirPermission, DirUser, DirectoryData};
use crate::generate::{guid, new_dir_user};
use crate::server::{Reply, Req};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::Method;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

const USER_PROPS: [&str; 6] = ["id", "displayName", "mail", "userPrincipalName", "proxyAddresses", "accountEnabled"];
const MEMBER_PROPS: [&str; 4] = ["id", "displayName", "userPrincipalName", "mail"];
const DIR_TOP_DEFAULT: usize = 100;
const DIR_TOP_MAX: usize = 999;

pub(super) struct DirState {
    pub data: DirectoryData,
    pub changes: u64,
    rng: ChaCha8Rng,
}

impl DirState {
    pub fn new(data: &DirectoryData, seed: u64) -> DirState {
        DirState { data: data.clone(), changes: 0, rng: ChaCha8Rng::seed_from_u64(seed ^ 0xd1_ad31) }
    }
}

/// A directory listing's position and query, carried by `$skiptoken`.
#[derive(Serialize, Deserialize)]
struct Page {
    o: usize,
    t: usize,
    s: Option<String>,
    /// "users" or the group id of a transitiveMembers listing.
    k: String,
}

fn resource_not_found(key: &str) -> Reply {
    gerr(
        404,
        "Request_ResourceNotFound",
        &format!("Resource '{key}' does not exist or one of its queried reference-property objects are not present."),
    )
}

fn parse_select(s: Option<&str>, allowed: &[&str], ty: &str) -> Result<Option<Vec<String>>, Reply> {
    let Some(s) = s else { return Ok(None) };
    let mut out = Vec::new();
    for p in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match allowed.iter().find(|k| k.eq_ignore_ascii_case(p)) {
            Some(k) => out.push(k.to_string()),
            None => return Err(bad(&format!("Could not find a property named '{p}' on type 'microsoft.graph.{ty}'."))),
        }
    }
    Ok(Some(out))
}

fn top_of(req: &Req) -> Result<usize, Reply> {
    match req.param("$top").map(str::trim) {
        None => Ok(DIR_TOP_DEFAULT),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=DIR_TOP_MAX).contains(&n) => Ok(n),
            _ => Err(bad(&format!("Invalid page size specified: '{v}'. Must be between 1 and {DIR_TOP_MAX}."))),
        },
    }
}

/// A user as `/users` lists it.
fn user_json(u: &DirUser, select: Option<&[String]>) -> Value {
    let mut all = Map::new();
    all.insert("displayName".into(), json!(u.display_name));
    all.insert("mail".into(), json!(u.mail));
    all.insert("userPrincipalName".into(), json!(u.user_principal_name));
    all.insert("proxyAddresses".into(), json!(u.proxy_addresses));
    all.insert("accountEnabled".into(), json!(u.account_enabled));
    let mut out = Map::new();
    out.insert("id".into(), json!(u.id));
    match select {
        None => {
            out.insert("businessPhones".into(), json!([]));
            for k in ["displayName", "mail", "userPrincipalName"] {
                out.insert(k.into(), all[k].clone());
            }
        }
        Some(sel) => {
            for k in &USER_PROPS[1..] {
                if sel.iter().any(|s| s == k) {
                    out.insert((*k).into(), all[*k].clone());
                }
            }
        }
    }
    Value::Object(out)
}

/// A user as the state and `/_sim/graph/directory` show it.
pub(super) fn state_user(u: &DirUser) -> Value {
    let mut v = user_json(u, Some(&USER_PROPS.iter().map(|s| s.to_string()).collect::<Vec<_>>()));
    v["purpose"] = json!(u.purpose);
    v["full_access"] = json!(u.full_access);
    v["other_permissions"] = json!(u.other_permissions);
    v["timeZone"] = json!(u.time_zone);
    v
}

fn find<'a>(d: &'a DirectoryData, key: &str) -> Option<&'a DirUser> {
    d.user(key)
}

fn index(d: &DirectoryData, key: &str) -> Option<usize> {
    d.users.iter().position(|u| u.id.eq_ignore_ascii_case(key) || u.user_principal_name.eq_ignore_ascii_case(key))
}

/// Every member of group `id` once (users and nested groups), depth-first in member order.
fn transitive(d: &DirectoryData, id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    seen.insert(id.to_string());
    fn walk(d: &DirectoryData, g: &DirGroup, seen: &mut std::collections::HashSet<String>, out: &mut Vec<Value>) {
        for m in &g.members {
            if !seen.insert(m.clone()) {
                continue;
            }
            if let Some(u) = d.users.iter().find(|u| &u.id == m) {
                out.push(json!({"@odata.type": "#microsoft.graph.user", "id": u.id, "displayName": u.display_name,
                                "userPrincipalName": u.user_principal_name, "mail": u.mail}));
            } else if let Some(sub) = d.groups.iter().find(|x| &x.id == m) {
                out.push(
                    json!({"@odata.type": "#microsoft.graph.group", "id": sub.id, "displayName": sub.display_name}),
                );
                walk(d, sub, seen, out);
            }
        }
    }
    if let Some(g) = d.groups.iter().find(|g| g.id == id) {
        walk(d, g, &mut seen, &mut out);
    }
    out
}

impl GraphSim {
    fn dir(&self) -> std::sync::MutexGuard<'_, DirState> {
        self.directory.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The directory now.
    pub fn directory_snapshot(&self) -> DirectoryData {
        self.dir().data.clone()
    }

    pub(super) fn directory_reset(&self) {
        *self.dir() = DirState::new(&self.dir_initial, self.seed);
    }

    pub(super) fn directory_state(&self) -> Value {
        let d = self.dir();
        json!({"users": d.data.users.iter().map(state_user).collect::<Vec<_>>(),
               "groups": d.data.groups, "changes": d.changes})
    }

    /// The directory routes below `/v1.0` (None: not one of them).
    pub(super) fn directory_route(&self, req: &Req, s: &[&str]) -> Option<Reply> {
        let get = req.method == Method::GET;
        Some(match s {
            ["users"] if get => self.list_users(req),
            ["users"] => gerr(405, "Request_BadRequest", "The simulator's directory is read-only."),
            ["users", key] if get && !self.is_mailbox(key) => self.get_user(req, key),
            ["users", key, "mailboxSettings"] if get => self.mailbox_settings(key),
            ["users", key, "mailboxPermissions"] if get => self.mailbox_permissions(key),
            ["groups"] if get => self.list_groups(req),
            ["groups", id] if get => {
                let d = self.dir();
                match d.data.groups.iter().find(|g| g.id.eq_ignore_ascii_case(id)) {
                    Some(g) => Reply::json(200, &json!({"id": g.id, "displayName": g.display_name})),
                    None => resource_not_found(id),
                }
            }
            ["groups", id, "transitiveMembers"] if get => self.transitive_members(req, id),
            _ => return None,
        })
    }

    fn is_mailbox(&self, key: &str) -> bool {
        key.eq_ignore_ascii_case(&self.initial.mailbox)
    }

    fn get_user(&self, req: &Req, key: &str) -> Reply {
        let select = match parse_select(req.param("$select"), &USER_PROPS, "user") {
            Ok(s) => s,
            Err(r) => return r,
        };
        match find(&self.dir().data, key) {
            Some(u) => Reply::json(200, &user_json(u, select.as_deref())),
            None => resource_not_found(key),
        }
    }

    fn page_of(&self, req: &Req, kind: &str) -> Result<Page, Reply> {
        match req.param("$skiptoken") {
            Some(tok) => URL_SAFE_NO_PAD
                .decode(tok.trim())
                .ok()
                .and_then(|b| serde_json::from_slice::<Page>(&b).ok())
                .filter(|p| p.k == kind)
                .ok_or_else(|| bad("The $skiptoken is invalid.")),
            None => Ok(Page {
                o: 0,
                t: top_of(req)?,
                s: req.param("$select").map(str::trim).filter(|s| !s.is_empty()).map(str::to_string),
                k: kind.to_string(),
            }),
        }
    }

    /// The next page's absolute URL (only `$skiptoken`, which carries the rest).
    fn next_link(&self, req: &Req, p: &Page, total: usize) -> Option<String> {
        let next = p.o + p.t;
        (next < total).then(|| {
            let tok = Page { o: next, t: p.t, s: p.s.clone(), k: p.k.clone() };
            let tok = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&tok).unwrap_or_default());
            format!("{}{}?%24skiptoken={tok}", self.base, req.path)
        })
    }

    fn list_users(&self, req: &Req) -> Reply {
        if req.param("$filter").is_some() || req.param("$search").is_some() {
            return bad("The simulator's /users takes $select, $top and $skiptoken only.");
        }
        let p = match self.page_of(req, "users") {
            Ok(p) => p,
            Err(r) => return r,
        };
        let select = match parse_select(p.s.as_deref(), &USER_PROPS, "user") {
            Ok(s) => s,
            Err(r) => return r,
        };
        let d = self.dir();
        let total = d.data.users.len();
        let value: Vec<Value> =
            d.data.users.iter().skip(p.o).take(p.t).map(|u| user_json(u, select.as_deref())).collect();
        let mut out = json!({"@odata.context": format!("{}/v1.0/$metadata#users", self.base), "value": value});
        if let Some(l) = self.next_link(req, &p, total) {
            out["@odata.nextLink"] = json!(l);
        }
        Reply::json(200, &out)
    }

    fn mailbox_settings(&self, key: &str) -> Reply {
        let d = self.dir();
        let Some(u) = find(&d.data, key) else { return resource_not_found(key) };
        let Some(purpose) = &u.purpose else {
            return gerr(
                404,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            );
        };
        Reply::json(
            200,
            &json!({
                "@odata.context": format!("{}/v1.0/$metadata#users('{}')/mailboxSettings", self.base, u.id),
                "archiveFolder": format!("AAMkA{}AAA=", &u.id.replace('-', "")),
                "timeZone": u.time_zone,
                "automaticRepliesSetting": {"status": "disabled", "externalAudience": "all",
                                            "internalReplyMessage": "", "externalReplyMessage": ""},
                "language": {"locale": "nl-NL", "displayName": "Nederlands (Nederland)"},
                "dateFormat": "d-M-yyyy",
                "timeFormat": "HH:mm",
                "userPurpose": purpose,
                "delegateMeetingMessageDeliveryOptions": "sendToDelegateOrInformationOnly",
            }),
        )
    }

    fn mailbox_permissions(&self, key: &str) -> Reply {
        let d = self.dir();
        let Some(u) = find(&d.data, key) else { return resource_not_found(key) };
        if u.purpose.is_none() {
            return gerr(
                404,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            );
        }
        let entry = |user: &str, rights: &[String]| json!({"user": user, "accessRights": rights, "isInherited": false, "deny": false});
        let mut value = vec![entry("NT AUTHORITY\\SELF", &["FullAccess".into(), "ReadPermission".into()])];
        for upn in &u.full_access {
            value.push(entry(upn, &["FullAccess".into()]));
        }
        for p in &u.other_permissions {
            value.push(entry(&p.user, &p.access_rights));
        }
        Reply::json(
            200,
            &json!({"@odata.context": format!("{}/v1.0/$metadata#users('{}')/mailboxPermissions", self.base, u.id),
                    "value": value}),
        )
    }

    fn list_groups(&self, req: &Req) -> Reply {
        let name = match req.param("$filter").map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(f) => {
                let rest = f.get(..11).filter(|p| p.eq_ignore_ascii_case("displayName")).map(|_| f[11..].trim_start());
                let quoted = rest
                    .and_then(|r| r.get(..2).filter(|o| o.eq_ignore_ascii_case("eq")).map(|_| r[2..].trim()))
                    .and_then(|q| q.strip_prefix('\'').and_then(|q| q.strip_suffix('\'')));
                match quoted {
                    Some(q) if !q.replace("''", "").contains('\'') => Some(q.replace("''", "'")),
                    _ => {
                        return bad(&format!(
                            "Invalid filter clause: '{f}' (the simulator supports displayName eq '...')"
                        ));
                    }
                }
            }
        };
        let d = self.dir();
        let value: Vec<Value> = d
            .data
            .groups
            .iter()
            .filter(|g| name.as_ref().is_none_or(|n| g.display_name.eq_ignore_ascii_case(n)))
            .map(|g| json!({"id": g.id, "displayName": g.display_name, "securityEnabled": true, "mailEnabled": false}))
            .collect();
        Reply::json(200, &json!({"@odata.context": format!("{}/v1.0/$metadata#groups", self.base), "value": value}))
    }

    fn transitive_members(&self, req: &Req, id: &str) -> Reply {
        let d = self.dir();
        let Some(g) = d.data.groups.iter().find(|g| g.id.eq_ignore_ascii_case(id)) else {
            return resource_not_found(id);
        };
        let gid = g.id.clone();
        let p = match self.page_of(req, &gid) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let select = match parse_select(p.s.as_deref(), &MEMBER_PROPS, "directoryObject") {
            Ok(s) => s,
            Err(r) => return r,
        };
        let all = transitive(&d.data, &gid);
        let value: Vec<Value> = all
            .iter()
            .skip(p.o)
            .take(p.t)
            .map(|m| {
                let mut o = Map::new();
                o.insert("@odata.type".into(), m["@odata.type"].clone());
                o.insert("id".into(), m["id"].clone());
                for k in &MEMBER_PROPS[1..] {
                    let wanted = select.as_ref().is_none_or(|s| s.iter().any(|x| x == k));
                    if wanted && let Some(v) = m.get(*k) {
                        o.insert((*k).into(), v.clone());
                    }
                }
                Value::Object(o)
            })
            .collect();
        let mut out =
            json!({"@odata.context": format!("{}/v1.0/$metadata#directoryObjects", self.base), "value": value});
        if let Some(l) = self.next_link(req, &p, all.len()) {
            out["@odata.nextLink"] = json!(l);
        }
        Reply::json(200, &out)
    }

    /// One change to the directory (`/_sim/graph/directory`); returns the user after it.
    pub fn directory_change(&self, spec: &Value) -> Result<Value, (u16, String)> {
        let e = |s: u16, m: String| (s, m);
        let str_of = |k: &str| -> Result<String, (u16, String)> {
            spec[k].as_str().map(str::to_string).ok_or_else(|| e(400, format!("{k} must be a string")))
        };
        let op = str_of("op")?;
        let mut d = self.dir();
        let d = &mut *d;
        if op == "add_user" {
            let display = str_of("display_name")?;
            let address = str_of("address")?;
            if !address.contains('@') {
                return Err(e(400, format!("not an address: {address}")));
            }
            let taken = d.data.users.iter().any(|u| {
                u.user_principal_name.eq_ignore_ascii_case(&address)
                    || u.proxy_addresses
                        .iter()
                        .any(|p| p.split_once(':').is_some_and(|(_, a)| a.eq_ignore_ascii_case(&address)))
            });
            if taken {
                return Err(e(409, format!("{address} is taken")));
            }
            let shared = match &spec["shared"] {
                Value::Null => false,
                v => v.as_bool().ok_or_else(|| e(400, "shared must be a boolean".into()))?,
            };
            let in_group = spec["in_group"].as_bool().unwrap_or(false);
            let u = new_dir_user(guid(&mut d.rng), &display, &address, shared);
            if in_group
                && let Some(g) = d.data.groups.iter_mut().find(|g| g.display_name == crate::generate::ZIVVER_GROUP)
            {
                g.members.push(u.id.clone());
            }
            let v = state_user(&u);
            d.data.users.push(u);
            d.changes += 1;
            return Ok(v);
        }
        let key = str_of("id")?;
        let i = index(&d.data, &key).ok_or_else(|| e(404, format!("no directory user {key}")))?;
        match op.as_str() {
            "rename" => d.data.users[i].display_name = str_of("display_name")?,
            "add_alias" => {
                let a = str_of("address")?;
                if !a.contains('@') {
                    return Err(e(400, format!("not an address: {a}")));
                }
                let u = &mut d.data.users[i];
                if u.proxy_addresses.iter().any(|p| p.split_once(':').is_some_and(|(_, x)| x.eq_ignore_ascii_case(&a)))
                {
                    return Err(e(409, format!("{a} is already an address of this user")));
                }
                u.proxy_addresses.push(format!("smtp:{a}"));
            }
            "remove_alias" => {
                let a = str_of("address")?;
                let u = &mut d.data.users[i];
                if u.primary_smtp().is_some_and(|p| p.eq_ignore_ascii_case(&a)) {
                    return Err(e(400, format!("{a} is the primary address")));
                }
                let before = u.proxy_addresses.len();
                u.proxy_addresses.retain(|p| !p.strip_prefix("smtp:").is_some_and(|x| x.eq_ignore_ascii_case(&a)));
                if u.proxy_addresses.len() == before {
                    return Err(e(404, format!("{a} is not an alias of this user")));
                }
            }
            "add_delegate" => {
                let who = str_of("upn")?;
                let upn = find(&d.data, &who)
                    .map(|u| u.user_principal_name.clone())
                    .ok_or_else(|| e(400, format!("no directory user {who}")))?;
                let u = &mut d.data.users[i];
                if u.purpose.is_none() {
                    return Err(e(400, "the user has no mailbox".into()));
                }
                if !u.full_access.iter().any(|x| x.eq_ignore_ascii_case(&upn)) {
                    u.full_access.push(upn);
                }
            }
            "remove_delegate" => {
                let who = str_of("upn")?;
                let upn = find(&d.data, &who).map(|u| u.user_principal_name.clone()).unwrap_or(who.clone());
                let u = &mut d.data.users[i];
                let before = u.full_access.len();
                u.full_access.retain(|x| !x.eq_ignore_ascii_case(&upn));
                if u.full_access.len() == before {
                    return Err(e(404, format!("{who} has no FullAccess on this mailbox")));
                }
            }
            "disable" => d.data.users[i].account_enabled = false,
            "enable" => d.data.users[i].account_enabled = true,
            "delete" => {
                let u = d.data.users.remove(i);
                for g in &mut d.data.groups {
                    g.members.retain(|m| *m != u.id);
                }
                for o in &mut d.data.users {
                    o.full_access.retain(|x| !x.eq_ignore_ascii_case(&u.user_principal_name));
                    o.other_permissions
                        .retain(|p: &DirPermission| !p.user.eq_ignore_ascii_case(&u.user_principal_name));
                }
                d.changes += 1;
                return Ok(state_user(&u));
            }
            other => return Err(e(400, format!("unknown op {other}"))),
        }
        d.changes += 1;
        Ok(state_user(&d.data.users[i]))
    }
}

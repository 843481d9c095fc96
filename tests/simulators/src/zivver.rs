//! The Zivver SCIM 2.0 simulator (contracts/zivver-scim.md, "Destination"): `/api/scim/v2/Users` and
//! `/Groups` (functional accounts) behind `Authorization: Bearer <api key>`, filters on `userName` /
//! `externalId`, `startIndex`/`count` paging, full-replace PUTs (the write-only `SsoAccountKey` is
//! cleared by a PUT without it), group membership PATCH, `400` for unknown ids, `405` for every
//! DELETE, and Zivver's rate limit (50 requests per rolling 10 seconds per API key, `429` without
//! Retry-After).
//!
//! Choices where the contract is silent:
//! - `delegates` are the delegate users' `userName`s (e-mail addresses), matched case-insensitively;
//!   each must be an existing Zivver user (else `400 "Invalid delegate: x"`), so a client creates
//!   users before it sets delegates. They read back as the delegate's current `userName` (kept as
//!   user ids inside, so a renamed delegate follows).
//! - A PUT is a full replace: whatever it omits is reset (`name.formatted` "", `active` true,
//!   `aliases`/`delegates` [], `SsoAccountKey` and `ExternalAccountId` cleared, `division` "/").
//!   Clearing a set SsoAccountKey / ExternalAccountId / division is counted (`sso_keys_cleared`,
//!   `external_ids_cleared`, `divisions_cleared`). `ExternalAccountId` is only returned when set.
//! - `userName`, `aliases` and group `externalId` must be e-mail addresses on a claimed domain
//!   (`ZivverData::domains`), else `400 "Domain not claimed: x"`; `userName` and `externalId` are
//!   unique case-insensitively (`409`, scimType `uniqueness`) and kept as written.
//! - POST/PUT bodies must list the resource's core schema in `schemas` (`400 invalidSyntax`);
//!   PATCH bodies the PatchOp schema. Other bodies than JSON objects are `400`; a Content-Type
//!   other than `application/scim+json` / `application/json` is `415`.
//! - PATCH `/Users/{id}` is `405` (updates are PUTs); PATCH `/Groups/{id}` takes `add`/`replace`/
//!   `remove` (case-insensitive) on `members`, `remove` on `members[value eq "id"]`, `replace` on
//!   `displayName`, and `replace` without path of `{displayName?, members?}`; all operations apply
//!   or none; the answer is `200` with the group.
//! - Lists are in creation order; `startIndex` < 1 counts as 1, `count` is capped at 100 (0 gives
//!   only `totalResults`).
//! - The rate limit counts requests with the valid key only (a wrong key is `401` and never
//!   limited), before any injected fault: a 5xx still spent budget. Rate-limited requests are not
//!   in `requests` (they have `rate_limited`). DELETEs are counted (`deletes_attempted`) before
//!   anything else, so even a rate-limited or faulted one counts.
//! - Overlapping PUT/PATCH requests on one group are answered normally but counted
//!   (`concurrent_group_edits`): the contract asks clients for one membership edit at a time.

mod expected;
pub(crate) use expected::expected;

use crate::data::{Dataset, ZivverData};
use crate::faults::Control;
use crate::generate::guid;
use crate::server::{App, InFlight, Reply, Req, configure_control};
use http::Method;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the SCIM API lives on the simulator's port.
pub const BASE: &str = "/api/scim/v2";
const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ZIVVER_USER: &str = "urn:ietf:params:scim:schemas:zivver:0.1:User";
const ZIVVER_GROUP: &str = "urn:ietf:params:scim:schemas:zivver:0.1:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const COUNT_MAX: usize = 100;

/// Zivver settings (`/_sim/config` takes `budget`, `window_s`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ZivverConfig {
    /// Requests per rolling window per API key before `429` (0 = unlimited).
    pub budget: u32,
    pub window_s: u64,
}

impl Default for ZivverConfig {
    fn default() -> Self {
        ZivverConfig { budget: 50, window_s: 10 }
    }
}

fn now_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn iso(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default()
}

fn scim(status: u16, v: &Value) -> Reply {
    let mut r = Reply::json(status, v);
    r.headers = vec![("Content-Type".into(), "application/scim+json; charset=utf-8".into())];
    r
}

/// `{"schemas": [Error], "status": "400", "detail", "scimType"?}`.
fn err(status: u16, scim_type: Option<&str>, detail: &str) -> Reply {
    let mut v = json!({"schemas": [ERROR], "status": status.to_string(), "detail": detail});
    if let Some(t) = scim_type {
        v["scimType"] = json!(t);
    }
    scim(status, &v)
}

fn bad(detail: &str) -> Reply {
    err(400, None, detail)
}

#[derive(Clone)]
struct ZUser {
    id: String,
    user_name: String,
    name: String,
    active: bool,
    aliases: Vec<String>,
    /// Delegate user ids.
    delegates: Vec<String>,
    sso: Option<String>,
    ext: Option<String>,
    division: String,
    created_s: i64,
    modified_s: i64,
}

#[derive(Clone)]
struct ZGroup {
    id: String,
    external_id: String,
    display_name: String,
    members: Vec<String>,
    aliases: Vec<String>,
    ext: Option<String>,
    created_s: i64,
    modified_s: i64,
}

#[derive(Default)]
struct Counts {
    user_creates: u64,
    group_creates: u64,
    puts: u64,
    patches: u64,
    sso_keys_cleared: u64,
    external_ids_cleared: u64,
    divisions_cleared: u64,
}

struct ZState {
    users: Vec<ZUser>,
    groups: Vec<ZGroup>,
    counts: Counts,
    rng: ChaCha8Rng,
}

#[derive(Default)]
struct Limiter {
    accepted: VecDeque<Instant>,
    max_in_window: usize,
    rate_limited: u64,
    deletes_attempted: u64,
    group_edits: HashMap<String, u32>,
    concurrent_group_edits: u64,
}

/// Held while a counted request is answered: ends a group edit.
struct Guard {
    limiter: Arc<Mutex<Limiter>>,
    group: Option<String>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(g) = &self.group {
            let mut l = self.limiter.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = l.group_edits.get_mut(g) {
                *n = n.saturating_sub(1);
            }
        }
    }
}

pub(crate) struct ZivverSim {
    initial: ZivverData,
    /// "http://127.0.0.1:Z/api/scim/v2" (meta.location, Location).
    base: String,
    control: Control,
    config: Mutex<ZivverConfig>,
    state: Mutex<ZState>,
    limiter: Arc<Mutex<Limiter>>,
    seed: u64,
}

/// A user as the request body describes it (validated).
struct UserIn {
    user_name: String,
    name: String,
    active: bool,
    aliases: Vec<String>,
    delegates: Vec<String>,
    sso: Option<String>,
    ext: Option<String>,
    division: String,
}

fn has_schema(body: &Value, schema: &str) -> bool {
    body["schemas"]
        .as_array()
        .is_some_and(|a| a.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(schema))))
}

fn string_list(v: &Value, what: &str) -> Result<Vec<String>, Reply> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(str::to_string).ok_or_else(|| bad(&format!("{what} must be an array of strings"))))
            .collect(),
        _ => Err(bad(&format!("{what} must be an array of strings"))),
    }
}

fn opt_string(v: &Value, what: &str) -> Result<Option<String>, Reply> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(bad(&format!("{what} must be a string"))),
    }
}

/// `attr eq "value"` → (attr, value).
fn parse_filter(f: &str) -> Result<(String, String), Reply> {
    let invalid = || err(400, Some("invalidFilter"), &format!("Unsupported filter: {f}"));
    let f = f.trim();
    let (attr, rest) = f.split_once(char::is_whitespace).ok_or_else(invalid)?;
    let rest = rest.trim_start();
    let (op, value) = rest.split_once(char::is_whitespace).ok_or_else(invalid)?;
    if !op.eq_ignore_ascii_case("eq") {
        return Err(invalid());
    }
    let v = value.trim().strip_prefix('"').and_then(|v| v.strip_suffix('"')).ok_or_else(invalid)?;
    Ok((attr.to_string(), v.replace("\\\"", "\"").replace("\\\\", "\\")))
}

fn paging(req: &Req) -> Result<(usize, usize), Reply> {
    let num = |k: &str, default: i64| -> Result<i64, Reply> {
        match req.param(k).map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) => v.parse::<i64>().map_err(|_| err(400, Some("invalidValue"), &format!("Invalid {k}: {v}"))),
        }
    };
    let start = num("startIndex", 1)?.max(1) as usize;
    let count = num("count", COUNT_MAX as i64)?.clamp(0, COUNT_MAX as i64) as usize;
    Ok((start, count))
}

fn list_response(items: Vec<Value>, start: usize, count: usize) -> Reply {
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(start - 1).take(count).collect();
    scim(
        200,
        &json!({"schemas": [LIST], "totalResults": total, "startIndex": start, "itemsPerPage": page.len(), "Resources": page}),
    )
}

impl ZivverSim {
    pub fn new(data: Arc<Dataset>, control: Control, config: ZivverConfig, base: String) -> ZivverSim {
        let seed = data.seed.unwrap_or(0);
        ZivverSim {
            state: Mutex::new(Self::load(&data.zivver, seed)),
            initial: data.zivver.clone(),
            base,
            control,
            config: Mutex::new(config),
            limiter: Arc::new(Mutex::new(Limiter::default())),
            seed,
        }
    }

    fn load(d: &ZivverData, seed: u64) -> ZState {
        let t = now_s() - 86_400;
        let users: Vec<ZUser> = d
            .users
            .iter()
            .map(|u| ZUser {
                id: u.id.clone(),
                user_name: u.user_name.clone(),
                name: u.name.clone(),
                active: u.active,
                aliases: u.aliases.clone(),
                delegates: Vec::new(),
                sso: u.sso_account_key.clone(),
                ext: u.external_account_id.clone(),
                division: if u.division.is_empty() { "/".into() } else { u.division.clone() },
                created_s: t,
                modified_s: t,
            })
            .collect();
        let mut users = users;
        for (i, u) in d.users.iter().enumerate() {
            let ids: Vec<String> = u
                .delegates
                .iter()
                .filter_map(|n| d.users.iter().find(|x| x.user_name.eq_ignore_ascii_case(n)).map(|x| x.id.clone()))
                .collect();
            users[i].delegates = ids;
        }
        let groups = d
            .groups
            .iter()
            .map(|g| ZGroup {
                id: g.id.clone(),
                external_id: g.external_id.clone(),
                display_name: g.display_name.clone(),
                members: g.members.clone(),
                aliases: g.aliases.clone(),
                ext: g.external_account_id.clone(),
                created_s: t,
                modified_s: t,
            })
            .collect();
        ZState { users, groups, counts: Counts::default(), rng: ChaCha8Rng::seed_from_u64(seed ^ 0x21_77e2_0001) }
    }

    fn st(&self) -> std::sync::MutexGuard<'_, ZState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lim(&self) -> std::sync::MutexGuard<'_, Limiter> {
        self.limiter.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn config(&self) -> ZivverConfig {
        self.config.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replace the settings (clears the rate window).
    pub fn set_config(&self, c: ZivverConfig) {
        *self.config.lock().unwrap_or_else(|e| e.into_inner()) = c;
        self.lim().accepted.clear();
    }

    /// The initial organization (what must be preserved: ExternalAccountIds, divisions).
    pub fn initial(&self) -> &ZivverData {
        &self.initial
    }

    /// Current (userName, externalId) lists for the ground truth.
    pub fn names(&self) -> (Vec<String>, Vec<String>) {
        let st = self.st();
        (
            st.users.iter().map(|u| u.user_name.clone()).collect(),
            st.groups.iter().map(|g| g.external_id.clone()).collect(),
        )
    }

    fn bearer(req: &Req) -> Option<&str> {
        req.header("authorization")
            .and_then(|h| h.trim().split_once(' '))
            .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
    }

    fn claimed(&self, address: &str) -> Result<(), Reply> {
        let Some((local, domain)) = address.rsplit_once('@') else {
            return Err(bad(&format!("Invalid e-mail address: {address}")));
        };
        if local.is_empty() || domain.is_empty() || address.chars().any(char::is_whitespace) {
            return Err(bad(&format!("Invalid e-mail address: {address}")));
        }
        if !self.initial.domains.is_empty() && !self.initial.domains.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
            return Err(bad(&format!("Domain not claimed: {domain}")));
        }
        Ok(())
    }

    fn user_json(&self, st: &ZState, u: &ZUser) -> Value {
        let delegates: Vec<&str> = u
            .delegates
            .iter()
            .filter_map(|id| st.users.iter().find(|x| &x.id == id).map(|x| x.user_name.as_str()))
            .collect();
        let mut ext = Map::new();
        ext.insert("aliases".into(), json!(u.aliases));
        ext.insert("delegates".into(), json!(delegates));
        if let Some(e) = &u.ext {
            ext.insert("ExternalAccountId".into(), json!(e));
        }
        json!({
            "schemas": [CORE_USER, ZIVVER_USER, ENTERPRISE],
            "id": u.id,
            "userName": u.user_name,
            "name": {"formatted": u.name},
            "active": u.active,
            ZIVVER_USER: ext,
            ENTERPRISE: {"division": u.division},
            "meta": {"resourceType": "User", "created": iso(u.created_s), "lastModified": iso(u.modified_s),
                     "location": format!("{}/Users/{}", self.base, u.id)},
        })
    }

    fn group_json(&self, st: &ZState, g: &ZGroup) -> Value {
        let members: Vec<Value> = g
            .members
            .iter()
            .map(|id| {
                let display = st.users.iter().find(|u| &u.id == id).map(|u| u.user_name.clone());
                json!({"value": id, "display": display, "$ref": format!("{}/Users/{id}", self.base)})
            })
            .collect();
        let mut ext = Map::new();
        ext.insert("aliases".into(), json!(g.aliases));
        if let Some(e) = &g.ext {
            ext.insert("ExternalAccountId".into(), json!(e));
        }
        json!({
            "schemas": [CORE_GROUP, ZIVVER_GROUP],
            "id": g.id,
            "externalId": g.external_id,
            "displayName": g.display_name,
            "members": members,
            ZIVVER_GROUP: ext,
            "meta": {"resourceType": "Group", "created": iso(g.created_s), "lastModified": iso(g.modified_s),
                     "location": format!("{}/Groups/{}", self.base, g.id)},
        })
    }

    fn body(req: &Req) -> Result<Value, Reply> {
        let ct = req.header("content-type").unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if ct != "application/scim+json" && ct != "application/json" {
            return Err(err(415, None, &format!("Unsupported Content-Type: {ct:?}")));
        }
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(v) if v.is_object() => Ok(v),
            Ok(_) => Err(err(400, Some("invalidSyntax"), "The request body must be a JSON object")),
            Err(e) => Err(err(400, Some("invalidSyntax"), &format!("Invalid JSON: {e}"))),
        }
    }

    /// Validate a POST/PUT user body; `me` is the id of the user being replaced.
    fn user_in(&self, st: &ZState, b: &Value, me: Option<&str>) -> Result<UserIn, Reply> {
        if !has_schema(b, CORE_USER) {
            return Err(err(400, Some("invalidSyntax"), &format!("schemas must include {CORE_USER}")));
        }
        let user_name = b["userName"].as_str().map(str::trim).filter(|s| !s.is_empty());
        let Some(user_name) = user_name else { return Err(err(400, Some("invalidValue"), "userName is required")) };
        self.claimed(user_name)?;
        if st.users.iter().any(|u| Some(u.id.as_str()) != me && u.user_name.eq_ignore_ascii_case(user_name)) {
            return Err(err(409, Some("uniqueness"), &format!("userName {user_name} is already in use")));
        }
        let name = match &b["name"] {
            Value::Null => String::new(),
            Value::Object(o) => match o.get("formatted") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(_) => return Err(bad("name.formatted must be a string")),
            },
            _ => return Err(bad("name must be an object")),
        };
        let active = match &b["active"] {
            Value::Null => true,
            v => v.as_bool().ok_or_else(|| bad("active must be a boolean"))?,
        };
        let z = &b[ZIVVER_USER];
        if !z.is_null() && !z.is_object() {
            return Err(bad(&format!("{ZIVVER_USER} must be an object")));
        }
        let mut aliases: Vec<String> = Vec::new();
        for a in string_list(&z["aliases"], "aliases")? {
            self.claimed(&a)?;
            if !aliases.iter().any(|x| x.eq_ignore_ascii_case(&a)) {
                aliases.push(a);
            }
        }
        let mut delegates = Vec::new();
        for d in string_list(&z["delegates"], "delegates")? {
            let Some(u) = st.users.iter().find(|u| u.user_name.eq_ignore_ascii_case(d.trim())) else {
                return Err(bad(&format!("Invalid delegate: {d}")));
            };
            if !delegates.contains(&u.id) {
                delegates.push(u.id.clone());
            }
        }
        let sso = opt_string(&z["SsoAccountKey"], "SsoAccountKey")?;
        let ext = opt_string(&z["ExternalAccountId"], "ExternalAccountId")?;
        let e = &b[ENTERPRISE];
        let division = match e.get("division") {
            None | Some(Value::Null) => "/".to_string(),
            Some(Value::String(s)) if s.trim().is_empty() => "/".to_string(),
            Some(Value::String(s)) => {
                if !self.initial.divisions.iter().any(|d| d == s) && s != "/" {
                    return Err(bad(&format!("Invalid division: {s}")));
                }
                s.clone()
            }
            Some(_) => return Err(bad("division must be a string")),
        };
        Ok(UserIn { user_name: user_name.to_string(), name, active, aliases, delegates, sso, ext, division })
    }

    fn list_users(&self, req: &Req) -> Reply {
        let (start, count) = match paging(req) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let filter = match req.param("filter").map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(f) => match parse_filter(f) {
                Ok((a, v)) if a.eq_ignore_ascii_case("userName") => Some(v),
                Ok(_) => {
                    return err(400, Some("invalidFilter"), &format!("Unsupported filter: {f} (userName eq only)"));
                }
                Err(r) => return r,
            },
        };
        let st = self.st();
        let items: Vec<Value> = st
            .users
            .iter()
            .filter(|u| filter.as_ref().is_none_or(|v| u.user_name.eq_ignore_ascii_case(v)))
            .map(|u| self.user_json(&st, u))
            .collect();
        list_response(items, start, count)
    }

    fn create_user(&self, req: &Req) -> Reply {
        let b = match Self::body(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let mut st = self.st();
        let u = match self.user_in(&st, &b, None) {
            Ok(u) => u,
            Err(r) => return r,
        };
        let now = now_s();
        let id = guid(&mut st.rng);
        let user = ZUser {
            id: id.clone(),
            user_name: u.user_name,
            name: u.name,
            active: u.active,
            aliases: u.aliases,
            delegates: u.delegates,
            sso: u.sso,
            ext: u.ext,
            division: u.division,
            created_s: now,
            modified_s: now,
        };
        st.users.push(user.clone());
        st.counts.user_creates += 1;
        let v = self.user_json(&st, &user);
        scim(201, &v).with_header("Location", format!("{}/Users/{id}", self.base))
    }

    fn put_user(&self, req: &Req, id: &str) -> Reply {
        let b = match Self::body(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let mut st = self.st();
        let Some(i) = st.users.iter().position(|u| u.id == id) else { return bad(&format!("User {id} not found")) };
        let u = match self.user_in(&st, &b, Some(id)) {
            Ok(u) => u,
            Err(r) => return r,
        };
        let old = st.users[i].clone();
        if old.sso.is_some() && u.sso.is_none() {
            st.counts.sso_keys_cleared += 1;
        }
        if old.ext.is_some() && u.ext.is_none() {
            st.counts.external_ids_cleared += 1;
        }
        if old.division != "/" && u.division == "/" {
            st.counts.divisions_cleared += 1;
        }
        st.counts.puts += 1;
        let user = ZUser {
            id: old.id,
            user_name: u.user_name,
            name: u.name,
            active: u.active,
            aliases: u.aliases,
            delegates: u.delegates,
            sso: u.sso,
            ext: u.ext,
            division: u.division,
            created_s: old.created_s,
            modified_s: now_s(),
        };
        st.users[i] = user.clone();
        scim(200, &self.user_json(&st, &user))
    }

    /// Validate a members array ([{"value": id}]) against the users.
    fn members_in(st: &ZState, v: &Value) -> Result<Vec<String>, Reply> {
        let arr = match v {
            Value::Null => return Ok(Vec::new()),
            Value::Array(a) => a,
            _ => return Err(bad("members must be an array")),
        };
        let mut out = Vec::new();
        for m in arr {
            let Some(id) = m["value"].as_str() else { return Err(bad("a member needs a \"value\" (a user id)")) };
            if !st.users.iter().any(|u| u.id == id) {
                return Err(bad(&format!("Invalid member: {id} is not a user")));
            }
            if !out.iter().any(|x| x == id) {
                out.push(id.to_string());
            }
        }
        Ok(out)
    }

    /// Validate a POST/PUT group body → (externalId, displayName, members, aliases, ExternalAccountId).
    #[allow(clippy::type_complexity)]
    fn group_in(
        &self,
        st: &ZState,
        b: &Value,
        me: Option<&str>,
    ) -> Result<(String, String, Vec<String>, Vec<String>, Option<String>), Reply> {
        if !has_schema(b, CORE_GROUP) {
            return Err(err(400, Some("invalidSyntax"), &format!("schemas must include {CORE_GROUP}")));
        }
        let Some(xid) = b["externalId"].as_str().map(str::trim).filter(|s| !s.is_empty()) else {
            return Err(err(400, Some("invalidValue"), "externalId is required"));
        };
        self.claimed(xid)?;
        if st.groups.iter().any(|g| Some(g.id.as_str()) != me && g.external_id.eq_ignore_ascii_case(xid)) {
            return Err(err(409, Some("uniqueness"), &format!("externalId {xid} is already in use")));
        }
        let Some(display) = b["displayName"].as_str() else {
            return Err(err(400, Some("invalidValue"), "displayName is required"));
        };
        let members = Self::members_in(st, &b["members"])?;
        let z = &b[ZIVVER_GROUP];
        let mut aliases: Vec<String> = Vec::new();
        for a in string_list(&z["aliases"], "aliases")? {
            self.claimed(&a)?;
            if !aliases.iter().any(|x| x.eq_ignore_ascii_case(&a)) {
                aliases.push(a);
            }
        }
        let ext = opt_string(&z["ExternalAccountId"], "ExternalAccountId")?;
        Ok((xid.to_string(), display.to_string(), members, aliases, ext))
    }

    fn list_groups(&self, req: &Req) -> Reply {
        let (start, count) = match paging(req) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let filter = match req.param("filter").map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(f) => match parse_filter(f) {
                Ok((a, v)) if a.eq_ignore_ascii_case("externalId") || a.eq_ignore_ascii_case("displayName") => {
                    Some((a.eq_ignore_ascii_case("externalId"), v))
                }
                Ok(_) => {
                    return err(
                        400,
                        Some("invalidFilter"),
                        &format!("Unsupported filter: {f} (externalId or displayName eq only)"),
                    );
                }
                Err(r) => return r,
            },
        };
        let st = self.st();
        let items: Vec<Value> = st
            .groups
            .iter()
            .filter(|g| match &filter {
                None => true,
                Some((true, v)) => g.external_id.eq_ignore_ascii_case(v),
                Some((false, v)) => g.display_name.eq_ignore_ascii_case(v),
            })
            .map(|g| self.group_json(&st, g))
            .collect();
        list_response(items, start, count)
    }

    fn create_group(&self, req: &Req) -> Reply {
        let b = match Self::body(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let mut st = self.st();
        let (external_id, display_name, members, aliases, ext) = match self.group_in(&st, &b, None) {
            Ok(g) => g,
            Err(r) => return r,
        };
        let now = now_s();
        let id = guid(&mut st.rng);
        let g = ZGroup {
            id: id.clone(),
            external_id,
            display_name,
            members,
            aliases,
            ext,
            created_s: now,
            modified_s: now,
        };
        st.groups.push(g.clone());
        st.counts.group_creates += 1;
        let v = self.group_json(&st, &g);
        scim(201, &v).with_header("Location", format!("{}/Groups/{id}", self.base))
    }

    fn put_group(&self, req: &Req, id: &str) -> Reply {
        let b = match Self::body(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let mut st = self.st();
        let Some(i) = st.groups.iter().position(|g| g.id == id) else { return bad(&format!("Group {id} not found")) };
        let (external_id, display_name, members, aliases, ext) = match self.group_in(&st, &b, Some(id)) {
            Ok(g) => g,
            Err(r) => return r,
        };
        if st.groups[i].ext.is_some() && ext.is_none() {
            st.counts.external_ids_cleared += 1;
        }
        st.counts.puts += 1;
        let g = &mut st.groups[i];
        g.external_id = external_id;
        g.display_name = display_name;
        g.members = members;
        g.aliases = aliases;
        g.ext = ext;
        g.modified_s = now_s();
        let g = st.groups[i].clone();
        scim(200, &self.group_json(&st, &g))
    }

    fn patch_group(&self, req: &Req, id: &str) -> Reply {
        let b = match Self::body(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let mut st = self.st();
        let Some(i) = st.groups.iter().position(|g| g.id == id) else { return bad(&format!("Group {id} not found")) };
        if !has_schema(&b, PATCH_OP) {
            return err(400, Some("invalidSyntax"), &format!("schemas must include {PATCH_OP}"));
        }
        let Some(ops) = b["Operations"].as_array().filter(|o| !o.is_empty()) else {
            return err(400, Some("invalidSyntax"), "Operations must be a non-empty array");
        };
        let mut g = st.groups[i].clone();
        for o in ops {
            let op = o["op"].as_str().unwrap_or("").to_ascii_lowercase();
            let path = o["path"].as_str().map(str::trim);
            let value = &o["value"];
            let member_filter = path.and_then(|p| {
                let p = p.strip_prefix("members[")?.strip_suffix(']')?;
                match parse_filter(p) {
                    Ok((a, v)) if a.eq_ignore_ascii_case("value") => Some(v),
                    _ => None,
                }
            });
            match (op.as_str(), path) {
                ("add", Some(p)) if p.eq_ignore_ascii_case("members") => {
                    let add = match Self::members_in(&st, value) {
                        Ok(m) => m,
                        Err(r) => return r,
                    };
                    for m in add {
                        if !g.members.contains(&m) {
                            g.members.push(m);
                        }
                    }
                }
                ("replace", Some(p)) if p.eq_ignore_ascii_case("members") => match Self::members_in(&st, value) {
                    Ok(m) => g.members = m,
                    Err(r) => return r,
                },
                ("remove", Some(p)) if p.eq_ignore_ascii_case("members") => {
                    if value.is_null() {
                        g.members.clear();
                    } else {
                        let Some(arr) = value.as_array() else { return bad("members must be an array") };
                        let gone: Vec<&str> = arr.iter().filter_map(|m| m["value"].as_str()).collect();
                        g.members.retain(|m| !gone.contains(&m.as_str()));
                    }
                }
                ("remove", Some(_)) if member_filter.is_some() => {
                    let v = member_filter.unwrap_or_default();
                    g.members.retain(|m| *m != v);
                }
                ("replace", Some(p)) if p.eq_ignore_ascii_case("displayName") => match value.as_str() {
                    Some(s) => g.display_name = s.to_string(),
                    None => return bad("displayName must be a string"),
                },
                ("replace", None) if value.is_object() => {
                    if let Some(d) = value.get("displayName") {
                        match d.as_str() {
                            Some(s) => g.display_name = s.to_string(),
                            None => return bad("displayName must be a string"),
                        }
                    }
                    if let Some(m) = value.get("members") {
                        match Self::members_in(&st, m) {
                            Ok(m) => g.members = m,
                            Err(r) => return r,
                        }
                    }
                }
                ("add" | "replace" | "remove", p) => {
                    return err(400, Some("invalidPath"), &format!("Unsupported {op} path: {}", p.unwrap_or("(none)")));
                }
                _ => return err(400, Some("invalidSyntax"), &format!("Unsupported op: {:?}", o["op"])),
            }
        }
        g.modified_s = now_s();
        st.groups[i] = g.clone();
        st.counts.patches += 1;
        scim(200, &self.group_json(&st, &g))
    }

    fn scim_route(&self, req: &Req, s: &[&str]) -> Reply {
        match Self::bearer(req) {
            None => return err(401, None, "Authorization header with a Bearer API key is required"),
            Some(k) if k != self.initial.api_key => return err(401, None, "Invalid API key"),
            _ => {}
        }
        let m = req.method.as_str();
        if m == "DELETE" {
            return err(405, None, "Deleting is not supported: deactivate users, empty groups")
                .with_header("Allow", "GET, POST, PUT, PATCH");
        }
        match (m, s) {
            ("GET", ["Users"]) => self.list_users(req),
            ("POST", ["Users"]) => self.create_user(req),
            ("GET", ["Users", id]) => {
                let st = self.st();
                match st.users.iter().find(|u| u.id == *id) {
                    Some(u) => scim(200, &self.user_json(&st, u)),
                    None => bad(&format!("User {id} not found")),
                }
            }
            ("PUT", ["Users", id]) => self.put_user(req, id),
            ("PATCH", ["Users", _]) => err(405, None, "PATCH is not supported on Users: PUT the whole user"),
            ("GET", ["Groups"]) => self.list_groups(req),
            ("POST", ["Groups"]) => self.create_group(req),
            ("GET", ["Groups", id]) => {
                let st = self.st();
                match st.groups.iter().find(|g| g.id == *id) {
                    Some(g) => scim(200, &self.group_json(&st, g)),
                    None => bad(&format!("Group {id} not found")),
                }
            }
            ("PUT", ["Groups", id]) => self.put_group(req, id),
            ("PATCH", ["Groups", id]) => self.patch_group(req, id),
            (_, ["Users" | "Groups", ..]) => err(405, None, &format!("{m} is not supported here")),
            _ => err(404, None, "Unknown endpoint"),
        }
    }

    /// The path below `/api/scim/v2`, or None.
    fn scim_segments(req: &Req) -> Option<Vec<String>> {
        let s = req.segments();
        (s.len() >= 3 && s[0] == "api" && s[1] == "scim" && s[2] == "v2").then(|| s[3..].to_vec())
    }

    fn state_user(st: &ZState, u: &ZUser) -> Value {
        let delegates: Vec<String> = u
            .delegates
            .iter()
            .filter_map(|id| st.users.iter().find(|x| &x.id == id).map(|x| x.user_name.clone()))
            .collect();
        json!({"id": u.id, "userName": u.user_name, "name": u.name, "active": u.active, "aliases": u.aliases,
               "delegates": delegates, "sso_account_key": u.sso, "external_account_id": u.ext, "division": u.division})
    }

    fn state_group(st: &ZState, g: &ZGroup) -> Value {
        let mut addresses: Vec<String> = g
            .members
            .iter()
            .filter_map(|id| st.users.iter().find(|x| &x.id == id).map(|x| x.user_name.to_lowercase()))
            .collect();
        addresses.sort();
        json!({"id": g.id, "externalId": g.external_id, "displayName": g.display_name, "members": g.members,
               "member_addresses": addresses, "aliases": g.aliases, "external_account_id": g.ext})
    }
}

impl App for ZivverSim {
    fn control(&self) -> &Control {
        &self.control
    }

    fn route(&self, req: &Req) -> String {
        let s = Self::scim_segments(req).unwrap_or_else(|| req.segments());
        let mut out = String::new();
        for (n, seg) in s.iter().enumerate() {
            out.push('/');
            out.push_str(if n == 1 { "{id}" } else { seg });
        }
        format!("{} {}", req.method, if out.is_empty() { "/" } else { &out })
    }

    fn handle(&self, req: &Req) -> Reply {
        match Self::scim_segments(req) {
            Some(s) => {
                let s: Vec<&str> = s.iter().map(String::as_str).collect();
                self.scim_route(req, &s)
            }
            None => err(404, None, &format!("Unknown endpoint (the SCIM API is below {BASE})")),
        }
    }

    fn server_error(&self, status: u16, variant: u32) -> Reply {
        match status {
            502 if variant.is_multiple_of(2) => Reply::text(
                502,
                "text/html",
                "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>",
            ),
            s => err(s, None, "Internal server error"),
        }
    }

    fn too_many_requests(&self, _retry_after: u64) -> Reply {
        let c = self.config();
        Reply::json(
            429,
            &json!({"code": 429, "message": "Too many requests",
                    "emptiedBucketDetails": {"budget": c.budget, "windowSeconds": c.window_s}}),
        )
    }

    fn bad_request(&self, message: &str) -> Reply {
        bad(message)
    }

    fn admit(&self, req: &Req) -> Result<Option<InFlight>, Reply> {
        let mut l = self.lim();
        if req.method == Method::DELETE {
            l.deletes_attempted += 1;
        }
        let Some(s) = Self::scim_segments(req) else { return Ok(None) };
        if Self::bearer(req) != Some(self.initial.api_key.as_str()) {
            return Ok(None);
        }
        let c = self.config();
        if c.budget > 0 {
            let now = Instant::now();
            let window = Duration::from_secs(c.window_s.max(1));
            while l.accepted.front().is_some_and(|t| now.duration_since(*t) >= window) {
                l.accepted.pop_front();
            }
            if l.accepted.len() >= c.budget as usize {
                l.rate_limited += 1;
                drop(l);
                return Err(self.too_many_requests(0));
            }
            l.accepted.push_back(now);
        }
        let n = l.accepted.len();
        l.max_in_window = l.max_in_window.max(n);
        let group = match (req.method.as_str(), s.as_slice()) {
            ("PUT" | "PATCH", [g, id]) if g == "Groups" => Some(id.clone()),
            _ => None,
        };
        if let Some(g) = &group {
            let e = l.group_edits.entry(g.clone()).or_insert(0);
            *e += 1;
            if *e > 1 {
                l.concurrent_group_edits += 1;
            }
        }
        Ok(Some(Box::new(Guard { limiter: self.limiter.clone(), group })))
    }

    fn state(&self) -> Value {
        let (requests, faults, mut config) = self.control.state_parts();
        if let (Some(c), Ok(Value::Object(s))) = (config.as_object_mut(), serde_json::to_value(self.config())) {
            c.extend(s);
        }
        let st = self.st();
        let l = self.lim();
        let c = &st.counts;
        json!({
            "service": "zivver",
            "users": st.users.iter().map(|u| Self::state_user(&st, u)).collect::<Vec<_>>(),
            "groups": st.groups.iter().map(|g| Self::state_group(&st, g)).collect::<Vec<_>>(),
            "counts": {"creates": c.user_creates + c.group_creates, "user_creates": c.user_creates,
                       "group_creates": c.group_creates, "puts": c.puts, "patches": c.patches,
                       "deletes_attempted": l.deletes_attempted, "rate_limited": l.rate_limited},
            "max_in_window": l.max_in_window,
            "rate_limited": l.rate_limited,
            "sso_keys_cleared": c.sso_keys_cleared,
            "external_ids_cleared": c.external_ids_cleared,
            "divisions_cleared": c.divisions_cleared,
            "concurrent_group_edits": l.concurrent_group_edits,
            "requests_total": requests.as_object().map_or(0, |m| m.values().filter_map(Value::as_u64).sum::<u64>()),
            "requests": requests,
            "faults": faults,
            "config": config,
            "events": self.control.events(),
        })
    }

    fn reset(&self) {
        self.control.reset();
        *self.st() = Self::load(&self.initial, self.seed);
        let mut l = self.lim();
        let edits = std::mem::take(&mut l.group_edits);
        *l = Limiter { group_edits: edits, ..Limiter::default() };
    }

    fn configure(&self, body: &Value) -> Result<Value, String> {
        configure_control(&self.control, body)?;
        let mut c = self.config();
        let num = |k: &str| body.get(k).map(|v| v.as_u64().ok_or(format!("{k} must be a non-negative integer")));
        if let Some(v) = num("budget") {
            c.budget = u32::try_from(v?).map_err(|e| e.to_string())?;
        }
        if let Some(v) = num("window_s") {
            c.window_s = v?;
        }
        self.set_config(c);
        let (_, _, mut config) = self.control.state_parts();
        if let (Some(o), Ok(Value::Object(s))) = (config.as_object_mut(), serde_json::to_value(self.config())) {
            o.extend(s);
        }
        Ok(config)
    }
}

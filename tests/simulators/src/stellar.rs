//! The Stellar Cyber simulator (contracts/stellar-cyber.md): legacy (Basic user:api_key) and scoped
//! (Bearer key) token requests answered with short-lived JWTs, tenants, users, cases with every
//! listed filter, `skip`/`limit` paging (at most 500), comments, case updates, summaries,
//! observables and alerts; plus `/_sim/stellar/*` calls that play an analyst.

use crate::data::{Dataset, StellarData, StellarUser};
use crate::faults::Control;
use crate::generate::{STELLAR_SEVERITIES, STELLAR_STATUSES};
use crate::server::{App, Reply, Req, configure_control};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::Method;
use rand::rngs::ChaCha8Rng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) const BASE: &str = "/connect/api/v1";
const LIMIT_MAX: i64 = 500;
const LIMIT_DEFAULT: i64 = 100;
const RESOLUTIONS: [&str; 3] = ["False Positive", "Benign", "True Positive"];

/// Stellar instance settings (`/_sim/config` takes `token_ttl_s`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StellarConfig {
    /// Access token (JWT) lifetime; the real service gives about 10 minutes.
    pub token_ttl_s: u64,
    /// Generated cases; None = half the ARMOR ticket count. Ignored for data that has a Stellar section
    /// (a `--data` file with one, or a `DataSource::Dataset`).
    pub cases: Option<usize>,
}

impl Default for StellarConfig {
    fn default() -> Self {
        StellarConfig { token_ttl_s: 600, cases: None }
    }
}

fn err(status: u16, msg: &str) -> Reply {
    Reply::json(status, &json!({"error": msg}))
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn is_closed(status: &str) -> bool {
    matches!(status, "Resolved" | "Cancelled")
}

/// A case's score as a number: some cases carry it as a string ("57.5").
fn score_of(c: &Value) -> Option<f64> {
    match &c["score"] {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn tags_of(c: &Value) -> Vec<String> {
    c["tags"].as_array().map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

fn comma_list(v: &str) -> Vec<String> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn hash_bytes(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A validated change to a case (PUT body or an analyst's change).
#[derive(Default)]
struct Change {
    status: Option<String>,
    /// Some("") unassigns.
    assignee: Option<String>,
    severity: Option<String>,
    resolution: Option<String>,
    update_alerts: Option<bool>,
    tags_add: Vec<String>,
    tags_delete: Vec<String>,
    touches_tags: bool,
}

impl Change {
    fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.assignee.is_none()
            && self.severity.is_none()
            && self.resolution.is_none()
            && self.update_alerts.is_none()
            && !self.touches_tags
    }
}

struct StState {
    /// `_id` -> case.
    cases: BTreeMap<String, Value>,
    comments: Vec<Value>,
    /// `_id` -> the resolution a PUT set (not a case field in the contract).
    resolutions: BTreeMap<String, String>,
    /// `_id`s of cases a PUT sent `update_alerts: true` for.
    alerts_updated: BTreeMap<String, bool>,
    comments_posted: BTreeMap<String, u64>,
    case_updates: BTreeMap<String, u64>,
    cases_added: u64,
    next_id: u64,
}

impl StState {
    fn load(d: &StellarData) -> StState {
        StState {
            cases: d.cases.iter().filter_map(|c| Some((c["_id"].as_str()?.to_string(), c.clone()))).collect(),
            comments: d.comments.clone(),
            resolutions: BTreeMap::new(),
            alerts_updated: BTreeMap::new(),
            comments_posted: BTreeMap::new(),
            case_updates: BTreeMap::new(),
            cases_added: 0,
            next_id: 1,
        }
    }

    /// A new 24-hex id (an ObjectId: seconds, then a counter).
    fn new_id(&mut self) -> String {
        let secs = (now_ms() / 1000) as u32;
        self.next_id += 1;
        format!("{secs:08x}5e11a{:011x}", self.next_id)
    }
}

struct Sessions {
    /// JWT -> (expires at, user id).
    tokens: HashMap<String, (Instant, String)>,
    issued_basic: u64,
    issued_scoped: u64,
    rng: ChaCha8Rng,
}

pub(crate) struct StellarSim {
    /// The initial data, times shifted to the start instant (what reset restores).
    initial: StellarData,
    control: Control,
    config: Mutex<StellarConfig>,
    state: Mutex<StState>,
    sessions: Mutex<Sessions>,
}

impl StellarSim {
    pub fn new(data: Arc<Dataset>, control: Control, config: StellarConfig) -> StellarSim {
        let mut initial = data.stellar.clone();
        if let Some(anchor) = initial.anchor_ms.take() {
            let shift = now_ms() - anchor;
            let mv = |v: &mut Value, k: &str| {
                if let Some(t) = v[k].as_i64() {
                    v[k] = json!(t + shift);
                }
            };
            for c in initial.cases.iter_mut().chain(initial.comments.iter_mut()) {
                mv(c, "created_at");
                mv(c, "modified_at");
            }
        }
        let seed = data.seed.unwrap_or(0);
        StellarSim {
            state: Mutex::new(StState::load(&initial)),
            initial,
            control,
            config: Mutex::new(config),
            sessions: Mutex::new(Sessions {
                tokens: HashMap::new(),
                issued_basic: 0,
                issued_scoped: 0,
                rng: ChaCha8Rng::seed_from_u64(seed ^ 0x57e1_7070),
            }),
        }
    }

    fn st(&self) -> std::sync::MutexGuard<'_, StState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn config(&self) -> StellarConfig {
        self.config.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_config(&self, c: StellarConfig) {
        *self.config.lock().unwrap_or_else(|e| e.into_inner()) = c;
    }

    fn user(&self, id: &str) -> Option<&StellarUser> {
        self.initial.users.iter().find(|u| u.user_id == id)
    }

    /// Analyst #1: the first user that is not the sync user.
    fn analyst(&self) -> &StellarUser {
        self.initial.analysts().next().unwrap_or(&self.initial.users[0])
    }

    // ---- auth ----

    /// `POST /access_token`: Basic base64(user:api_key) or Bearer <scoped key>.
    fn access_token(&self, req: &Req) -> Reply {
        let Some((scheme, cred)) = req.header("authorization").and_then(|h| h.trim().split_once(' ')) else {
            return err(401, "Authorization header required");
        };
        let c = &self.initial.credentials;
        let cred = cred.trim();
        let basic = if scheme.eq_ignore_ascii_case("basic") {
            let decoded = STANDARD.decode(cred).ok().and_then(|b| String::from_utf8(b).ok());
            match decoded.as_deref().and_then(|d| d.split_once(':')) {
                Some((u, k)) if u == c.user && k == c.api_key && !k.is_empty() => true,
                _ => return err(401, "Invalid user or API key"),
            }
        } else if scheme.eq_ignore_ascii_case("bearer") {
            if cred != c.scoped_key || cred.is_empty() {
                return err(401, "Invalid API key");
            }
            false
        } else {
            return err(401, "Unsupported authorization scheme");
        };
        let ttl = self.config().token_ttl_s;
        let now_s = now_ms() / 1000;
        let exp = now_s + ttl as i64;
        let mut s = self.sessions();
        let now = Instant::now();
        s.tokens.retain(|_, (e, _)| *e > now);
        let mut jti = [0u8; 12];
        s.rng.fill_bytes(&mut jti);
        let mut sig = [0u8; 32];
        s.rng.fill_bytes(&mut sig);
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(
            json!({"sub": c.user_id, "exp": exp, "iat": now_s, "jti": hex(&jti), "scoped": !basic}).to_string(),
        );
        let token = format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(sig));
        s.tokens.insert(token.clone(), (now + Duration::from_secs(ttl), c.user_id.clone()));
        if basic {
            s.issued_basic += 1;
        } else {
            s.issued_scoped += 1;
        }
        Reply::json(200, &json!({"access_token": token, "exp": exp}))
    }

    /// The user id behind the bearer JWT.
    fn bearer(&self, req: &Req) -> Result<String, Reply> {
        let token = req
            .header("authorization")
            .and_then(|h| h.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim().to_string())
            .ok_or_else(|| err(401, "Authorization: Bearer <access token> required"))?;
        match self.sessions().tokens.get(&token) {
            Some((exp, user)) if *exp > Instant::now() => Ok(user.clone()),
            Some(_) => Err(err(401, "Token expired")),
            None => Err(err(401, "Invalid token")),
        }
    }

    // ---- reads ----

    fn int(req: &Req, name: &str) -> Result<Option<i64>, Reply> {
        match req.param(name).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| err(400, &format!("{name} must be an integer"))),
        }
    }

    /// `limit` (1..=500, default 100) and `skip` (≥ 0).
    fn paging(req: &Req) -> Result<(usize, usize), Reply> {
        let limit = Self::int(req, "limit")?.unwrap_or(LIMIT_DEFAULT);
        if limit > LIMIT_MAX {
            return Err(err(400, &format!("limit must be at most {LIMIT_MAX}")));
        }
        if limit < 1 {
            return Err(err(400, "limit must be at least 1"));
        }
        let skip = Self::int(req, "skip")?.unwrap_or(0);
        if skip < 0 {
            return Err(err(400, "skip must not be negative"));
        }
        Ok((limit as usize, skip as usize))
    }

    fn list_cases(&self, req: &Req) -> Reply {
        match self.filtered_cases(req) {
            Ok(r) => r,
            Err(r) => r,
        }
    }

    fn filtered_cases(&self, req: &Req) -> Result<Reply, Reply> {
        let range = |field: &'static str| -> Result<(Option<i64>, Option<i64>), Reply> {
            Ok((Self::int(req, &format!("FROM~{field}"))?, Self::int(req, &format!("TO~{field}"))?))
        };
        let (m_from, m_to) = range("modified_at")?;
        let (c_from, c_to) = range("created_at")?;
        let sort = match req.param("sort").map(str::trim) {
            None | Some("") => "created_at",
            Some("modified_at") => "modified_at",
            Some("created_at") => "created_at",
            Some(other) => return Err(err(400, &format!("sort must be modified_at or created_at, not {other}"))),
        };
        let desc = match req.param("order").map(str::trim) {
            None | Some("") => req.param("sort").is_none(),
            Some(o) if o.eq_ignore_ascii_case("asc") => false,
            Some(o) if o.eq_ignore_ascii_case("desc") => true,
            Some(other) => return Err(err(400, &format!("order must be asc or desc, not {other}"))),
        };
        let (limit, skip) = Self::paging(req)?;
        let tenant = req.param("tenantid").map(str::trim).filter(|s| !s.is_empty());
        let cust = req.param("cust_id").map(str::trim).filter(|s| !s.is_empty());
        let statuses = req.param("status").map(comma_list);
        let tags = req.param("tags").map(comma_list);
        let not_tags = req.param("NOT~tags").map(comma_list);
        let not_by = req.param("NOT~modified_by").map(comma_list);
        let min_score = match req.param("FROM~score").map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(v) => Some(v.parse::<f64>().map_err(|_| err(400, "FROM~score must be a number"))?),
        };
        let min_size = Self::int(req, "min_size_auto")?;
        let ticket = Self::int(req, "ticket_id")?;
        let within = |v: i64, lo: Option<i64>, hi: Option<i64>| lo.is_none_or(|l| v >= l) && hi.is_none_or(|h| v <= h);
        let st = self.st();
        let mut hits: Vec<&Value> = st
            .cases
            .values()
            .filter(|c| {
                let cust_id = c["cust_id"].as_str().unwrap_or("");
                let case_tags = tags_of(c);
                within(c["modified_at"].as_i64().unwrap_or(0), m_from, m_to)
                    && within(c["created_at"].as_i64().unwrap_or(0), c_from, c_to)
                    && tenant.is_none_or(|t| t == cust_id)
                    && cust.is_none_or(|t| t == cust_id)
                    && statuses.as_ref().is_none_or(|l| l.iter().any(|s| c["status"] == s.as_str()))
                    && tags.as_ref().is_none_or(|l| l.iter().any(|t| case_tags.contains(t)))
                    && not_tags.as_ref().is_none_or(|l| !l.iter().any(|t| case_tags.contains(t)))
                    && not_by.as_ref().is_none_or(|l| !l.iter().any(|u| c["modified_by"] == u.as_str()))
                    && min_score.is_none_or(|m| score_of(c).is_some_and(|s| s >= m))
                    && min_size.is_none_or(|m| c["size"].as_i64().unwrap_or(0) >= m)
                    && ticket.is_none_or(|t| c["ticket_id"].as_i64() == Some(t))
            })
            .collect();
        // Ties (the same millisecond) in `_id` order, whichever direction: paging stays stable.
        hits.sort_by(|a, b| {
            let (x, y) = (a[sort].as_i64().unwrap_or(0), b[sort].as_i64().unwrap_or(0));
            let primary = if desc { y.cmp(&x) } else { x.cmp(&y) };
            primary.then_with(|| a["_id"].as_str().cmp(&b["_id"].as_str()))
        });
        let total = hits.len();
        let page: Vec<&Value> = hits.into_iter().skip(skip).take(limit).collect();
        Ok(Reply::json(200, &json!({"data": {"cases": page, "total": total}})))
    }

    fn case(&self, id: &str) -> Result<Value, Reply> {
        self.st().cases.get(id).cloned().ok_or_else(|| err(404, "case not found"))
    }

    fn summary(c: &Value, formatted: bool) -> String {
        let tags = tags_of(c);
        let assignee = c["assignee_name"].as_str().filter(|s| !s.is_empty()).unwrap_or("Unassigned");
        let size = c["size"].as_i64().map_or("unknown".to_string(), |n| n.to_string());
        let score = score_of(c).map_or("unknown".to_string(), |s| s.to_string());
        let lines = [
            format!("Case #{}: {}", c["ticket_id"], c["name"].as_str().unwrap_or("").trim()),
            format!("Tenant: {}", c["tenant_name"].as_str().unwrap_or("").trim()),
            format!(
                "Status: {} | Severity: {} | Score: {score} | Alerts: {size}",
                c["status"].as_str().unwrap_or(""),
                c["severity"].as_str().unwrap_or("")
            ),
            format!("Assignee: {assignee}"),
            format!("Tags: {}", if tags.is_empty() { "none".to_string() } else { tags.join(", ") }),
        ];
        if formatted { lines.join("\n") } else { lines.join("; ") }
    }

    fn observables(c: &Value) -> Value {
        let id = c["_id"].as_str().unwrap_or("");
        let h = hash_bytes(&[id, "observables"]);
        let n = 1 + (h[0] % 4) as usize;
        let kinds = ["srcip", "dstip", "domain", "user", "hash"];
        let obs: Vec<Value> = (0..n)
            .map(|i| {
                let b = &h[1 + i * 4..5 + i * 4];
                let kind = kinds[(b[0] as usize) % kinds.len()];
                let value = match kind {
                    "srcip" => format!("10.{}.{}.{}", b[1], b[2], b[3]),
                    "dstip" => format!("185.{}.{}.{}", b[1], b[2], b[3]),
                    "domain" => format!("cdn-{}.bad-example.test", hex(&b[1..])),
                    "user" => format!("user{}@customer.test", b[1]),
                    _ => hex(&hash_bytes(&[id, &i.to_string()])),
                };
                json!({"type": kind, "value": value, "count": 1 + b[3] % 9})
            })
            .collect();
        json!({"observables": obs})
    }

    fn alerts(c: &Value, limit: usize, skip: usize) -> Value {
        let id = c["_id"].as_str().unwrap_or("");
        let total = c["size"].as_i64().unwrap_or(0).max(0) as usize;
        let created = c["created_at"].as_i64().unwrap_or(0);
        let name = c["name"].as_str().unwrap_or("").trim();
        let docs: Vec<Value> = (skip..total.min(skip.saturating_add(limit)))
            .map(|i| {
                let h = hash_bytes(&[id, "alert", &i.to_string()]);
                json!({"_id": hex(&h[..12]), "_index": "aella-ser-1748736000000-",
                       "_source": {"timestamp": created + i as i64 * 1000, "cust_id": c["cust_id"],
                                   "xdr_event": {"display_name": name},
                                   "srcip": format!("10.{}.{}.{}", h[12], h[13], h[14]),
                                   "dstip": format!("185.{}.{}.{}", h[15], h[16], h[17]),
                                   "score": score_of(c)}})
            })
            .collect();
        json!({"data": {"docs": docs, "total": total}})
    }

    fn comments_of(st: &StState, id: &str) -> Vec<Value> {
        let mut list: Vec<Value> = st.comments.iter().filter(|c| c["case_id"] == id).cloned().collect();
        list.sort_by(|a, b| {
            let key = |v: &Value| (v["created_at"].as_i64().unwrap_or(0), v["_id"].as_str().unwrap_or("").to_string());
            key(a).cmp(&key(b))
        });
        list
    }

    // ---- writes ----

    fn body(req: &Req) -> Result<Map<String, Value>, Reply> {
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(err(400, "body must be a JSON object")),
            Err(e) => Err(err(400, &format!("invalid JSON: {e}"))),
        }
    }

    fn parse_change(&self, b: &Map<String, Value>) -> Result<Change, String> {
        let mut ch = Change::default();
        let one_of = |key: &str, allowed: &[&str]| -> Result<Option<String>, String> {
            match b.get(key) {
                None => Ok(None),
                Some(Value::String(s)) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
                Some(v) => Err(format!("{key} must be one of {}, not {v}", allowed.join(", "))),
            }
        };
        ch.status = one_of("status", &STELLAR_STATUSES)?;
        ch.severity = one_of("severity", &STELLAR_SEVERITIES)?;
        ch.resolution = one_of("resolution", &RESOLUTIONS)?;
        ch.assignee = match b.get("assignee") {
            None => None,
            Some(Value::Null) => Some(String::new()),
            Some(Value::String(s)) if s.is_empty() || self.user(s).is_some() => Some(s.clone()),
            Some(v) => return Err(format!("assignee {v} is not a user")),
        };
        ch.update_alerts = match b.get("update_alerts") {
            None => None,
            Some(Value::Bool(x)) => Some(*x),
            Some(_) => return Err("update_alerts must be a boolean".into()),
        };
        if let Some(t) = b.get("tags") {
            let Value::Object(t) = t else { return Err("tags must be {\"add\": [...], \"delete\": [...]}".into()) };
            let list = |k: &str| -> Result<Vec<String>, String> {
                match t.get(k) {
                    None | Some(Value::Null) => Ok(Vec::new()),
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|x| x.as_str().map(str::to_string).ok_or_else(|| format!("tags.{k} must be strings")))
                        .collect(),
                    Some(_) => Err(format!("tags.{k} must be an array")),
                }
            };
            ch.tags_add = list("add")?;
            ch.tags_delete = list("delete")?;
            ch.touches_tags = true;
        }
        Ok(ch)
    }

    /// Apply a validated change as `user` at `at_ms`: fields, then modified_at/by, version + 1.
    fn apply(&self, st: &mut StState, id: &str, ch: &Change, user: &StellarUser, at_ms: i64) -> Option<Value> {
        let c = st.cases.get_mut(id)?;
        if let Some(s) = &ch.status {
            c["status"] = json!(s);
            c["closed"] = json!(is_closed(s));
        }
        if let Some(s) = &ch.severity {
            c["severity"] = json!(s);
        }
        if let Some(a) = &ch.assignee {
            c["assignee"] = json!(a);
            c["assignee_name"] = json!(self.user(a).map_or(String::new(), |u| u.name.clone()));
        }
        if ch.touches_tags {
            let mut tags = tags_of(c);
            for t in &ch.tags_add {
                if !tags.contains(t) {
                    tags.push(t.clone());
                }
            }
            tags.retain(|t| !ch.tags_delete.contains(t));
            c["tags"] = json!(tags);
        }
        Self::touch(c, user, at_ms);
        let out = c.clone();
        if let Some(r) = &ch.resolution {
            st.resolutions.insert(id.to_string(), r.clone());
        }
        if let Some(u) = ch.update_alerts {
            st.alerts_updated.insert(id.to_string(), u);
        }
        *st.case_updates.entry(user.user_id.clone()).or_insert(0) += 1;
        Some(out)
    }

    fn touch(c: &mut Value, user: &StellarUser, at_ms: i64) {
        c["modified_at"] = json!(at_ms);
        c["modified_by"] = json!(user.user_id);
        c["modified_by_name"] = json!(user.name);
        c["version"] = json!(c["version"].as_i64().unwrap_or(0) + 1);
    }

    /// Post a comment as `user` at `at_ms`; the case's modified_at/by move, version + 1 (a choice).
    fn add_comment(&self, st: &mut StState, id: &str, text: &str, user: &StellarUser, at_ms: i64) -> Option<Value> {
        if !st.cases.contains_key(id) {
            return None;
        }
        let cid = st.new_id();
        let comment = json!({"_id": cid, "case_id": id, "comment": text, "user": user.user_id, "created_at": at_ms, "modified_at": at_ms});
        st.comments.push(comment.clone());
        if let Some(c) = st.cases.get_mut(id) {
            Self::touch(c, user, at_ms);
        }
        *st.comments_posted.entry(user.user_id.clone()).or_insert(0) += 1;
        Some(comment)
    }

    fn post_comment(&self, req: &Req, id: &str, user_id: &str) -> Reply {
        let b = match Self::body(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let Some(text) = b.get("comment").and_then(Value::as_str).filter(|s| !s.trim().is_empty()) else {
            return err(400, "comment is required");
        };
        let Some(user) = self.user(user_id) else { return err(401, "Invalid token") };
        let mut st = self.st();
        match self.add_comment(&mut st, id, text, user, now_ms()) {
            Some(c) => Reply::json(200, &json!({"data": c})),
            None => err(404, "case not found"),
        }
    }

    fn put_case(&self, req: &Req, id: &str, user_id: &str) -> Reply {
        let b = match Self::body(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        if !self.st().cases.contains_key(id) {
            return err(404, "case not found");
        }
        let ch = match self.parse_change(&b) {
            Ok(c) => c,
            Err(e) => return err(400, &e),
        };
        if ch.is_empty() {
            return err(400, "nothing to update");
        }
        let Some(user) = self.user(user_id) else { return err(401, "Invalid token") };
        let mut st = self.st();
        match self.apply(&mut st, id, &ch, user, now_ms()) {
            Some(c) => Reply::json(200, &json!({"data": c})),
            None => err(404, "case not found"),
        }
    }

    // ---- the analyst (admin) ----

    /// Analyst #1 changes a case: `{"status"?, "assignee"?, "severity"?, "resolution"?, "tags"?,
    /// "comment"?, "at_ms"?}` → `{"case": Case, "comment": Comment|null}`.
    pub fn analyst_change(&self, case_id: &str, change: &Value) -> Result<Value, (u16, String)> {
        let Value::Object(b) = change else { return Err((400, "change must be a JSON object".into())) };
        let ch = self.parse_change(b).map_err(|e| (400, e))?;
        let comment = match b.get("comment") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(_) => return Err((400, "comment must be a non-empty string".into())),
        };
        let at_ms = match b.get("at_ms") {
            None | Some(Value::Null) => now_ms(),
            Some(v) => v.as_i64().ok_or((400, "at_ms must be an integer (epoch ms)".to_string()))?,
        };
        if ch.is_empty() && comment.is_none() {
            return Err((400, "nothing to change".into()));
        }
        let user = self.analyst();
        let mut st = self.st();
        if !st.cases.contains_key(case_id) {
            return Err((404, "case not found".into()));
        }
        if !ch.is_empty() {
            self.apply(&mut st, case_id, &ch, user, at_ms);
        }
        let posted = comment.and_then(|t| self.add_comment(&mut st, case_id, &t, user, at_ms));
        Ok(json!({"case": st.cases.get(case_id), "comment": posted}))
    }

    /// A new case by analyst #1: `{"cust_id", "name", "severity"?, "score"?, "size"?, "tags"?,
    /// "status"?, "at_ms"?}` → the case.
    pub fn add_case(&self, spec: &Value) -> Result<Value, (u16, String)> {
        let bad = |m: &str| (400u16, m.to_string());
        let cust = spec["cust_id"].as_str().ok_or_else(|| bad("cust_id is required"))?;
        let tenant = self.initial.tenant(cust).ok_or_else(|| bad("unknown cust_id"))?;
        let name = spec["name"].as_str().filter(|s| !s.trim().is_empty()).ok_or_else(|| bad("name is required"))?;
        let pick = |key: &str, allowed: &[&str], default: &str| -> Result<String, (u16, String)> {
            match &spec[key] {
                Value::Null => Ok(default.to_string()),
                Value::String(s) if allowed.contains(&s.as_str()) => Ok(s.clone()),
                v => Err(bad(&format!("{key} must be one of {}, not {v}", allowed.join(", ")))),
            }
        };
        let severity = pick("severity", &STELLAR_SEVERITIES, "Medium")?;
        let status = pick("status", &STELLAR_STATUSES, "New")?;
        let score = match &spec["score"] {
            Value::Null => json!(50.0),
            v @ (Value::Number(_) | Value::String(_)) => v.clone(),
            _ => return Err(bad("score must be a number")),
        };
        let size = match &spec["size"] {
            Value::Null => json!(1),
            Value::Number(n) if n.is_i64() => json!(n),
            _ => return Err(bad("size must be an integer")),
        };
        let tags = match &spec["tags"] {
            Value::Null => json!([]),
            Value::Array(a) if a.iter().all(Value::is_string) => json!(a),
            _ => return Err(bad("tags must be an array of strings")),
        };
        let at_ms = match &spec["at_ms"] {
            Value::Null => now_ms(),
            v => v.as_i64().ok_or_else(|| bad("at_ms must be an integer (epoch ms)"))?,
        };
        let user = self.analyst();
        let mut st = self.st();
        let ticket_id = st
            .cases
            .values()
            .filter(|c| c["cust_id"] == cust)
            .filter_map(|c| c["ticket_id"].as_i64())
            .max()
            .map_or(1001, |m| m + 1);
        let id = st.new_id();
        let case = json!({
            "_id": id, "ticket_id": ticket_id, "name": name, "status": status, "severity": severity,
            "score": score, "size": size, "tenant_name": tenant.cust_name, "cust_id": cust,
            "assignee": "", "assignee_name": "", "tags": tags, "acknowledged": false, "closed": is_closed(&status),
            "created_by": user.user_id, "modified_by": user.user_id, "modified_by_name": user.name,
            "version": 1, "created_at": at_ms, "modified_at": at_ms,
        });
        st.cases.insert(id, case.clone());
        st.cases_added += 1;
        Ok(case)
    }

    fn admin_reply(r: Result<Value, (u16, String)>, wrap: impl Fn(Value) -> Value) -> Reply {
        match r {
            Ok(v) => Reply::json(200, &wrap(v)),
            Err((status, msg)) => err(status, &msg),
        }
    }

    fn api(&self, req: &Req, s: &[String]) -> Reply {
        let get = req.method == Method::GET;
        let s: Vec<&str> = s.iter().map(String::as_str).collect();
        if let ["access_token"] = s[..] {
            return if req.method == Method::POST { self.access_token(req) } else { err(405, "method not allowed") };
        }
        // Every route but the token request wants the JWT, known or not.
        let user = match self.bearer(req) {
            Ok(u) => u,
            Err(r) => return r,
        };
        let known = matches!(
            s[..],
            ["tenants"]
                | ["users"]
                | ["cases"]
                | ["cases", _]
                | ["cases", _, "summary" | "observables" | "alerts" | "comments"]
        );
        if !known {
            return err(404, "not found");
        }
        let i = &self.initial;
        match s[..] {
            ["tenants"] if get => {
                let list: Vec<Value> =
                    i.tenants.iter().map(|t| json!({"cust_id": t.cust_id, "cust_name": t.cust_name})).collect();
                Reply::json(200, &json!({"data": list}))
            }
            ["users"] if get => {
                let list: Vec<Value> =
                    i.users.iter().map(|u| json!({"user_id": u.user_id, "email": u.email})).collect();
                Reply::json(200, &json!({"data": list}))
            }
            ["cases"] if get => self.list_cases(req),
            ["cases", id] if get => match self.case(id) {
                Ok(c) => Reply::json(200, &json!({"data": c})),
                Err(r) => r,
            },
            ["cases", id] if req.method == Method::PUT => self.put_case(req, id, &user),
            ["cases", id, "summary"] if get => match self.case(id) {
                Ok(c) => {
                    let formatted = req.param("formatted").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
                    Reply::json(200, &json!({"data": Self::summary(&c, formatted)}))
                }
                Err(r) => r,
            },
            ["cases", id, "observables"] if get => match self.case(id) {
                Ok(c) => Reply::json(200, &Self::observables(&c)),
                Err(r) => r,
            },
            ["cases", id, "alerts"] if get => match (self.case(id), Self::paging(req)) {
                (Ok(c), Ok((limit, skip))) => Reply::json(200, &Self::alerts(&c, limit, skip)),
                (Err(r), _) | (_, Err(r)) => r,
            },
            ["cases", id, "comments"] if get => {
                let st = self.st();
                if !st.cases.contains_key(id) {
                    return err(404, "case not found");
                }
                Reply::json(200, &json!({"data": Self::comments_of(&st, id)}))
            }
            ["cases", id, "comments"] if req.method == Method::POST => self.post_comment(req, id, &user),
            _ => err(405, "method not allowed"),
        }
    }

    fn count_by_user(m: &BTreeMap<String, u64>) -> Value {
        json!({"total": m.values().sum::<u64>(), "by_user": m})
    }
}

impl App for StellarSim {
    fn control(&self) -> &Control {
        &self.control
    }

    fn route(&self, req: &Req) -> String {
        let segs = req.segments();
        let mut out = String::new();
        for (n, s) in segs.iter().enumerate() {
            if n > 0 && segs[n - 1] == "cases" && n == 4 {
                out.push_str("/{id}");
            } else {
                out.push('/');
                out.push_str(s);
            }
        }
        format!("{} {}", req.method, if out.is_empty() { "/" } else { &out })
    }

    fn handle(&self, req: &Req) -> Reply {
        let segs = req.segments();
        match segs.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["connect", "api", "v1", ..] => self.api(req, &segs[3..]),
            _ => err(404, "not found"),
        }
    }

    fn server_error(&self, status: u16, variant: u32) -> Reply {
        match status {
            502 => Reply::text(502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>"),
            503 => Reply::text(503, "text/plain; charset=utf-8", "Service Unavailable"),
            s if variant.is_multiple_of(2) => err(s, "Internal Server Error"),
            s => Reply::text(s, "text/plain; charset=utf-8", "Internal Server Error"),
        }
    }

    fn too_many_requests(&self, _retry_after: u64) -> Reply {
        Reply::text(429, "text/plain; charset=utf-8", "Rate limit exceeded")
    }

    fn bad_request(&self, message: &str) -> Reply {
        err(400, message)
    }

    fn state(&self) -> Value {
        let (requests, faults, mut config) = self.control.state_parts();
        if let (Some(c), Ok(Value::Object(s))) = (config.as_object_mut(), serde_json::to_value(self.config())) {
            c.extend(s);
        }
        let (active, basic, scoped) = {
            let s = self.sessions();
            let now = Instant::now();
            (s.tokens.values().filter(|(e, _)| *e > now).count(), s.issued_basic, s.issued_scoped)
        };
        let i = &self.initial;
        let st = self.st();
        let cases: Vec<Value> = st
            .cases
            .iter()
            .map(|(id, c)| {
                let mut c = c.clone();
                c["comments"] = json!(Self::comments_of(&st, id));
                c["resolution"] = json!(st.resolutions.get(id));
                c["alerts_updated"] = json!(st.alerts_updated.get(id).copied().unwrap_or(false));
                c
            })
            .collect();
        json!({
            "service": "stellar",
            "sync_user_id": i.credentials.user_id,
            "credentials": {"user": i.credentials.user, "user_id": i.credentials.user_id},
            "tenants": i.tenants,
            "users": i.users,
            "cases": cases,
            "comments_posted": Self::count_by_user(&st.comments_posted),
            "case_updates": Self::count_by_user(&st.case_updates),
            "cases_added": st.cases_added,
            "tokens_issued": basic + scoped,
            "tokens_issued_by_mode": {"basic": basic, "scoped": scoped},
            "sessions": {"active_tokens": active},
            "requests_total": requests.as_object().map_or(0, |m| m.values().filter_map(Value::as_u64).sum::<u64>()),
            "requests": requests,
            "faults": faults,
            "config": config,
            "events": self.control.events(),
        })
    }

    fn reset(&self) {
        self.control.reset();
        *self.st() = StState::load(&self.initial);
        let mut s = self.sessions();
        s.tokens.clear();
        s.issued_basic = 0;
        s.issued_scoped = 0;
    }

    fn configure(&self, body: &Value) -> Result<Value, String> {
        configure_control(&self.control, body)?;
        if let Some(v) = body.get("token_ttl_s") {
            let ttl = v.as_u64().ok_or("token_ttl_s must be a non-negative integer")?;
            self.set_config(StellarConfig { token_ttl_s: ttl, ..self.config() });
        }
        let (_, _, mut config) = self.control.state_parts();
        if let (Some(c), Ok(Value::Object(s))) = (config.as_object_mut(), serde_json::to_value(self.config())) {
            c.extend(s);
        }
        Ok(config)
    }

    fn sim_extra(&self, req: &Req) -> Option<Reply> {
        if req.method != Method::POST {
            return None;
        }
        let body = || -> Result<Value, Reply> {
            if req.body.is_empty() {
                return Ok(json!({}));
            }
            serde_json::from_slice(&req.body).map_err(|e| err(400, &format!("invalid JSON: {e}")))
        };
        match req.path.trim_end_matches('/') {
            "/_sim/stellar/analyst" => Some(match body() {
                Ok(b) => {
                    let id = b["case_id"].as_str().unwrap_or("").to_string();
                    Self::admin_reply(self.analyst_change(&id, &b), |v| v)
                }
                Err(r) => r,
            }),
            "/_sim/stellar/cases" => Some(match body() {
                Ok(b) => Self::admin_reply(self.add_case(&b), |c| json!({"_id": c["_id"], "data": c})),
                Err(r) => r,
            }),
            _ => None,
        }
    }
}

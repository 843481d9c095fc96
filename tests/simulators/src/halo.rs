//! The HaloPSA / HaloITSM simulator (contracts/halo.md): OAuth2 client credentials with expiring
//! bearer tokens, a rolling per-client rate limit, lookups with instance-specific ids, clients with
//! custom fields, tickets (array POSTs, `pageinate` paging, filters, the create race) and actions.

use crate::conditions::parse_date;
use crate::data::{Dataset, HaloData};
use crate::faults::Control;
use crate::server::{App, Reply, Req, configure_control, parse_query};
use chrono::{DateTime, Utc};
use http::Method;
use rand::rngs::ChaCha8Rng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SUMMARY_MAX: usize = 250;
const PAGE_MAX: usize = 100;
const PAGE_DEFAULT: usize = 50;
/// Halo's text, whatever the configured limit (clients match on the status, not the numbers).
const RATE_LIMIT_TEXT: &str = "Rate Limit Reached - 300 Requests per rolling 5 minute window";
const ORDER_FIELDS: [&str; 7] =
    ["id", "summary", "dateoccurred", "last_update", "status_id", "client_id", "client_name"];

/// Instance settings beyond the data (`/_sim/config` takes the same keys).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HaloConfig {
    /// Hosted multi-tenant instance: the token request must carry `?tenant=<name>`.
    pub multi_tenant: bool,
    /// Access token lifetime (`expires_in`).
    pub token_ttl_s: u64,
    /// Requests per client id per rolling window (hosted: 300 per 5 minutes); None = unlimited.
    pub client_rate_limit: Option<u32>,
    pub client_rate_window_ms: u64,
    /// How long a ticket create takes; another create arriving meanwhile fails with 500.
    pub create_delay_ms: u64,
    /// The instance's action outcome names (ids 1, 2, ... in this order).
    pub outcomes: Vec<String>,
}

impl Default for HaloConfig {
    fn default() -> Self {
        HaloConfig {
            multi_tenant: true,
            token_ttl_s: 3600,
            client_rate_limit: Some(300),
            client_rate_window_ms: 300_000,
            create_delay_ms: 30,
            outcomes: vec!["Private Note".into(), "Public Note".into()],
        }
    }
}

const CONFIG_KEYS: [&str; 6] =
    ["multi_tenant", "token_ttl_s", "client_rate_limit", "client_rate_window_ms", "create_delay_ms", "outcomes"];

// ---- error shapes: Halo is not uniform (plain text, a JSON string, a JSON object) ----

fn err_text(status: u16, msg: &str) -> Reply {
    Reply::text(status, "text/plain; charset=utf-8", msg)
}

fn err_string(status: u16, msg: &str) -> Reply {
    Reply::json(status, &json!(msg))
}

fn err_object(status: u16, msg: &str) -> Reply {
    Reply::json(status, &json!({"ClassName": "HaloValidationException", "Message": msg}))
}

fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    Reply::json(status, &json!({"error": error, "error_description": description}))
}

fn unauthorized(description: &str) -> Reply {
    err_text(401, "")
        .with_header("WWW-Authenticate", format!("Bearer error=\"invalid_token\", error_description=\"{description}\""))
}

fn flag(req: &Req, name: &str) -> bool {
    req.param(name).is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1")
}

fn int_param(req: &Req, name: &str) -> Result<Option<i64>, Reply> {
    match req.param(name).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse::<i64>().map(Some).map_err(|_| err_text(400, &format!("{name} must be an integer"))),
    }
}

/// `pageinate=true&page_size=N&page_no=P` (at most 100 a page). Without `pageinate` the answer
/// holds the first 100 records only: a client that does not page sees a short list.
struct Page {
    paged: bool,
    size: usize,
    no: usize,
}

impl Page {
    fn parse(req: &Req) -> Result<Page, Reply> {
        if !flag(req, "pageinate") {
            return Ok(Page { paged: false, size: PAGE_MAX, no: 1 });
        }
        let size = int_param(req, "page_size")?.map_or(PAGE_DEFAULT, |n| n.clamp(1, PAGE_MAX as i64) as usize);
        let no = int_param(req, "page_no")?.map_or(1, |n| n.max(1) as usize);
        Ok(Page { paged: true, size, no })
    }

    fn reply(&self, key: &str, records: Vec<Value>) -> Reply {
        let total = records.len();
        let start = (self.no - 1).saturating_mul(self.size).min(total);
        let items: Vec<Value> = records.into_iter().skip(start).take(self.size).collect();
        let mut out = Map::new();
        if self.paged {
            out.insert("page_no".into(), json!(self.no));
            out.insert("page_size".into(), json!(self.size));
        }
        out.insert("record_count".into(), json!(total));
        out.insert(key.into(), Value::Array(items));
        Reply::json(200, &Value::Object(out))
    }
}

/// The body of a POST: Halo takes an array of records.
fn body_array(req: &Req) -> Result<Vec<Map<String, Value>>, Reply> {
    let v: Value = serde_json::from_slice(&req.body).map_err(|e| err_text(400, &format!("Invalid JSON: {e}")))?;
    let Value::Array(items) = v else {
        return Err(err_object(400, "The body must be a JSON array of records"));
    };
    items
        .into_iter()
        .map(|i| match i {
            // Halo's JSON binding is case-insensitive; its field names are lower case.
            Value::Object(m) => Ok(m.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect()),
            _ => Err(err_object(400, "Each record must be a JSON object")),
        })
        .collect()
}

/// Halo keeps custom field values as text.
fn text_value(v: &Value) -> Value {
    match v {
        Value::Null | Value::String(_) => v.clone(),
        other => json!(other.to_string()),
    }
}

fn strip_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => {
            let (x, y) = (a.as_str().unwrap_or(""), b.as_str().unwrap_or(""));
            x.to_lowercase().cmp(&y.to_lowercase())
        }
    }
}

struct HaloState {
    clients: BTreeMap<i64, Value>,
    tickets: BTreeMap<i64, Value>,
    actions: BTreeMap<i64, Value>,
    next_ticket_id: i64,
    next_action_id: i64,
    /// A create in flight holds the ticket-number sequence until then.
    create_busy_until: Option<Instant>,
    create_race_failures: u64,
    /// The last `last_update` handed out: stamps strictly increase, so every change moves it.
    last_stamp: DateTime<Utc>,
}

impl HaloState {
    fn load(d: &HaloData) -> HaloState {
        let by_id = |list: &[Value]| -> BTreeMap<i64, Value> {
            list.iter().filter_map(|v| Some((v.get("id")?.as_i64()?, v.clone()))).collect()
        };
        let tickets = by_id(&d.tickets);
        let actions = by_id(&d.actions);
        HaloState {
            clients: by_id(&d.clients),
            next_ticket_id: tickets.keys().next_back().map_or(1, |k| k + 1).max(3001),
            next_action_id: actions.keys().next_back().map_or(1, |k| k + 1).max(1001),
            tickets,
            actions,
            create_busy_until: None,
            create_race_failures: 0,
            last_stamp: DateTime::<Utc>::MIN_UTC,
        }
    }

    fn stamp(&mut self) -> String {
        let mut now = Utc::now();
        if now <= self.last_stamp {
            now = self.last_stamp + chrono::Duration::milliseconds(1);
        }
        self.last_stamp = now;
        now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

struct Sessions {
    /// Access token -> (expires at, client id).
    tokens: HashMap<String, (Instant, String)>,
    /// Client id -> instants of its admitted requests within the rolling window.
    windows: HashMap<String, VecDeque<Instant>>,
    rate_limited: u64,
    rng: ChaCha8Rng,
}

pub(crate) struct HaloSim {
    data: Arc<Dataset>,
    control: Control,
    /// "http://127.0.0.1:R", for `/authinfo`.
    base_url: String,
    config: Mutex<HaloConfig>,
    state: Mutex<HaloState>,
    sessions: Mutex<Sessions>,
}

impl HaloSim {
    pub fn new(data: Arc<Dataset>, control: Control, config: HaloConfig, base_url: String) -> HaloSim {
        let seed = data.seed.unwrap_or(0);
        HaloSim {
            state: Mutex::new(HaloState::load(&data.halo)),
            sessions: Mutex::new(Sessions {
                tokens: HashMap::new(),
                windows: HashMap::new(),
                rate_limited: 0,
                rng: ChaCha8Rng::seed_from_u64(seed ^ 0x4a10_70ce),
            }),
            config: Mutex::new(config),
            data,
            control,
            base_url,
        }
    }

    fn st(&self) -> std::sync::MutexGuard<'_, HaloState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn config(&self) -> HaloConfig {
        self.config.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_config(&self, c: HaloConfig) {
        *self.config.lock().unwrap_or_else(|e| e.into_inner()) = c;
        self.sessions().windows.clear();
    }

    fn halo(&self) -> &HaloData {
        &self.data.halo
    }

    // ---- auth and the rolling rate limit ----

    /// Admit one request of `client` unless its rolling window is full.
    fn admit(&self, client: &str) -> bool {
        let c = self.config();
        let Some(limit) = c.client_rate_limit.filter(|n| *n > 0) else { return true };
        let window = Duration::from_millis(c.client_rate_window_ms);
        let now = Instant::now();
        let mut s = self.sessions();
        let q = s.windows.entry(client.to_string()).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        if q.len() >= limit as usize {
            s.rate_limited += 1;
            return false;
        }
        q.push_back(now);
        true
    }

    fn rate_limited() -> Reply {
        // No Retry-After: Halo does not say when to come back.
        err_text(429, RATE_LIMIT_TEXT)
    }

    /// `POST /auth/token`, form-encoded client credentials.
    fn token(&self, req: &Req) -> Reply {
        let body = String::from_utf8_lossy(&req.body).into_owned();
        let form = parse_query(Some(&body));
        let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let creds = &self.halo().credentials;
        let config = self.config();
        if config.multi_tenant {
            match req.param("tenant").map(str::trim) {
                None | Some("") => return oauth_error(400, "invalid_request", "The tenant parameter is required"),
                Some(t) if !t.eq_ignore_ascii_case(&creds.tenant) => {
                    return oauth_error(401, "invalid_client", "Unknown tenant");
                }
                Some(_) => {}
            }
        }
        match field("grant_type") {
            Some("client_credentials") => {}
            None => return oauth_error(400, "invalid_request", "grant_type is required"),
            Some(_) => return oauth_error(400, "unsupported_grant_type", "Only client_credentials is supported"),
        }
        if field("client_id") != Some(creds.client_id.as_str())
            || field("client_secret") != Some(creds.client_secret.as_str())
        {
            return Reply::json(401, &json!({"error": "invalid_client"}));
        }
        if field("scope").is_some_and(|s| !s.trim().is_empty() && s.trim() != "all") {
            return oauth_error(400, "invalid_scope", "The only scope is all");
        }
        if !self.admit(&creds.client_id) {
            return Self::rate_limited();
        }
        let mut s = self.sessions();
        let now = Instant::now();
        s.tokens.retain(|_, (exp, _)| *exp > now);
        let mut secret = |prefix: &str| format!("{prefix}{:016x}{:016x}", s.rng.next_u64(), s.rng.next_u64());
        let (token, refresh, id_token) = (secret("halotok_"), secret("halorefresh_"), secret("haloid_"));
        s.tokens.insert(token.clone(), (now + Duration::from_secs(config.token_ttl_s), creds.client_id.clone()));
        Reply::json(
            200,
            &json!({"access_token": token, "token_type": "Bearer", "expires_in": config.token_ttl_s, "scope": "all",
                    "refresh_token": refresh, "id_token": id_token}),
        )
    }

    /// The client id behind the bearer token.
    fn bearer(&self, req: &Req) -> Result<String, Reply> {
        let token = req
            .header("authorization")
            .and_then(|h| h.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim().to_string())
            .ok_or_else(|| unauthorized("A bearer token is required"))?;
        match self.sessions().tokens.get(&token) {
            Some((exp, client)) if *exp > Instant::now() => Ok(client.clone()),
            Some(_) => Err(unauthorized("The token expired")),
            None => Err(unauthorized("The token is invalid")),
        }
    }

    // ---- lookups ----

    fn lookups(&self, s: &str, req: &Req) -> Reply {
        let h = self.halo();
        let refs = |list: &[crate::data::HaloRef]| -> Value {
            Value::Array(list.iter().map(|r| json!({"id": r.id, "name": r.name})).collect())
        };
        let v = match s {
            "tickettype" => refs(&h.ticket_types),
            "status" => match req.param("type").map(str::trim) {
                None | Some("") => self.statuses_json(),
                Some(t) if t.eq_ignore_ascii_case("ticket") => self.statuses_json(),
                Some(_) => json!([]),
            },
            "priority" => {
                Value::Array(h.priorities.iter().map(|p| json!({"priorityid": p.id, "name": p.name})).collect())
            }
            "team" => refs(&h.teams),
            "agent" => {
                Value::Array(h.agents.iter().map(|a| json!({"id": a.id, "name": a.name, "email": a.email})).collect())
            }
            _ => match int_param(req, "lookupid") {
                Ok(Some(12)) => refs(&h.impacts),
                Ok(Some(27)) => refs(&h.urgencies),
                Ok(_) => json!([]),
                Err(r) => return r,
            },
        };
        Reply::json(200, &v)
    }

    fn statuses_json(&self) -> Value {
        let list = self.halo().statuses.iter();
        Value::Array(
            list.map(|s| json!({"id": s.id, "name": s.name, "type": if s.closed { "closed" } else { "open" }}))
                .collect(),
        )
    }

    fn closed_status(&self, id: i64) -> bool {
        self.halo().statuses.iter().any(|s| s.id == id && s.closed)
    }

    // ---- clients ----

    fn client_json(c: &Value, with_fields: bool) -> Value {
        let mut c = c.clone();
        if !with_fields && let Some(m) = c.as_object_mut() {
            m.remove("customfields");
        }
        c
    }

    fn list_clients(&self, req: &Req) -> Reply {
        let page = match Page::parse(req) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let search = req.param("search").map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
        let with_fields = flag(req, "include_custom_fields");
        let st = self.st();
        let mut list: Vec<&Value> = st
            .clients
            .values()
            .filter(|c| {
                search.as_ref().is_none_or(|q| c["name"].as_str().is_some_and(|n| n.to_lowercase().contains(q)))
            })
            .collect();
        list.sort_by(|a, b| compare(&a["name"], &b["name"]).then(compare(&a["id"], &b["id"])));
        page.reply("clients", list.into_iter().map(|c| Self::client_json(c, with_fields)).collect())
    }

    /// `POST /Client [{"id", "customfields": [{"id", "value"}], "name"?, "inactive"?}]`: only what is
    /// sent changes. All records are checked before any is applied.
    fn post_clients(&self, req: &Req) -> Reply {
        let items = match body_array(req) {
            Ok(i) => i,
            Err(r) => return r,
        };
        let defs = &self.halo().client_fields;
        let mut st = self.st();
        let mut updated = Vec::with_capacity(items.len());
        for item in &items {
            let Some(id) = item.get("id").and_then(Value::as_i64).filter(|i| *i > 0) else {
                return err_object(400, "Creating clients is not supported here: send the id of an existing client");
            };
            let Some(mut rec) = st.clients.get(&id).cloned() else {
                return err_object(400, &format!("Client {id} does not exist"));
            };
            if let Some(name) = item.get("name") {
                match name.as_str().map(str::trim) {
                    Some(n) if !n.is_empty() => rec["name"] = json!(n),
                    _ => return err_object(400, "name must be a non-empty string"),
                }
            }
            if let Some(inactive) = item.get("inactive") {
                let Some(b) = inactive.as_bool() else { return err_object(400, "inactive must be a boolean") };
                rec["inactive"] = json!(b);
            }
            if let Some(cfs) = item.get("customfields") {
                let Some(cfs) = cfs.as_array() else { return err_object(400, "customfields must be an array") };
                for cf in cfs {
                    let Some(fid) = cf.get("id").and_then(Value::as_i64) else {
                        return err_object(400, "Each custom field needs a numeric id");
                    };
                    if !defs.iter().any(|d| d.id == fid) {
                        return err_object(400, &format!("Custom field {fid} does not exist"));
                    }
                    let value = text_value(cf.get("value").unwrap_or(&Value::Null));
                    if let Some(slot) = rec["customfields"]
                        .as_array_mut()
                        .and_then(|a| a.iter_mut().find(|x| x["id"].as_i64() == Some(fid)))
                    {
                        slot["value"] = value;
                    }
                }
            }
            updated.push((id, rec));
        }
        for (id, rec) in &updated {
            st.clients.insert(*id, rec.clone());
        }
        let out: Vec<Value> = updated.into_iter().map(|(_, r)| r).collect();
        Self::batch_reply(req, out)
    }

    /// The last processed record, or all of them in input order with `?returnall=true`.
    fn batch_reply(req: &Req, mut records: Vec<Value>) -> Reply {
        if flag(req, "returnall") {
            return Reply::json(201, &Value::Array(records));
        }
        Reply::json(201, &records.pop().unwrap_or(Value::Null))
    }

    fn list_sites(&self, req: &Req) -> Reply {
        let client = match int_param(req, "client_id") {
            Ok(c) => c,
            Err(r) => return r,
        };
        let sites: Vec<&Value> =
            self.halo().sites.iter().filter(|s| client.is_none_or(|c| s["client_id"].as_i64() == Some(c))).collect();
        Reply::json(200, &json!(sites))
    }

    // ---- tickets ----

    fn ticket_json(t: &Value, details: bool, fields: bool) -> Value {
        let mut t = t.clone();
        if let Some(m) = t.as_object_mut() {
            if !details {
                m.remove("details");
            }
            if !fields {
                m.remove("customfields");
            }
        }
        t
    }

    fn list_tickets(&self, req: &Req) -> Reply {
        let page = match Page::parse(req) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let ints = (|| Ok((int_param(req, "client_id")?, int_param(req, "status_id")?, int_param(req, "agent_id")?)))();
        let (client, status, agent) = match ints {
            Ok(v) => v,
            Err(r) => return r,
        };
        let date = |name: &str| -> Result<Option<DateTime<Utc>>, Reply> {
            match req.param(name).map(str::trim).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => parse_date(v).map(Some).ok_or_else(|| err_text(400, &format!("{name} is not a date"))),
            }
        };
        let (from, to) = match (date("lastupdatefromdate"), date("lastupdatetodate")) {
            (Ok(f), Ok(t)) => (f, t),
            (Err(r), _) | (_, Err(r)) => return r,
        };
        let ids: Option<Vec<i64>> = match req.param("ticketids").map(str::trim).filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => match v.split(',').map(|x| x.trim().parse::<i64>()).collect() {
                Ok(ids) => Some(ids),
                Err(_) => return err_text(400, "ticketids must be a comma-separated list of integers"),
            },
        };
        let order = req.param("order").map(|o| o.trim().to_ascii_lowercase()).filter(|o| !o.is_empty());
        if let Some(o) = &order
            && !ORDER_FIELDS.contains(&o.as_str())
        {
            return err_string(400, &format!("Cannot order by '{o}'"));
        }
        let (open_only, closed_only) = (flag(req, "open_only"), flag(req, "closed_only"));
        let search = req.param("search").map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
        let search_summary = req.param("search_summary").map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
        let third_party = req.param("third_party_id_string");
        let contains = |v: &Value, q: &str| v.as_str().is_some_and(|s| s.to_lowercase().contains(q));
        let st = self.st();
        let mut list: Vec<&Value> = st
            .tickets
            .values()
            .filter(|t| {
                let closed = self.closed_status(t["status_id"].as_i64().unwrap_or(0));
                let updated = t["last_update"].as_str().and_then(parse_date);
                client.is_none_or(|c| t["client_id"].as_i64() == Some(c))
                    && status.is_none_or(|s| t["status_id"].as_i64() == Some(s))
                    && agent.is_none_or(|a| t["agent_id"].as_i64() == Some(a))
                    && !(open_only && closed)
                    && (closed || !closed_only)
                    && search.as_ref().is_none_or(|q| {
                        contains(&t["summary"], q)
                            || contains(&t["details"], q)
                            || t["id"].as_i64().is_some_and(|id| id.to_string() == *q)
                    })
                    && search_summary.as_ref().is_none_or(|q| contains(&t["summary"], q))
                    && from.is_none_or(|f| updated.is_some_and(|u| u >= f))
                    && to.is_none_or(|f| updated.is_some_and(|u| u <= f))
                    && ids.as_ref().is_none_or(|ids| ids.contains(&t["id"].as_i64().unwrap_or(0)))
                    && third_party.is_none_or(|k| t["third_party_id_string"].as_str() == Some(k))
            })
            .collect();
        let key = order.unwrap_or_else(|| "id".into());
        list.sort_by(|a, b| compare(&a[key.as_str()], &b[key.as_str()]).then(compare(&a["id"], &b["id"])));
        if flag(req, "orderdesc") {
            list.reverse();
        }
        let fields = flag(req, "include_custom_fields");
        page.reply("tickets", list.into_iter().map(|t| Self::ticket_json(t, false, fields)).collect())
    }

    fn get_ticket(&self, req: &Req, id: Option<i64>) -> Reply {
        let st = self.st();
        match id.and_then(|i| st.tickets.get(&i)) {
            Some(t) => {
                let details = flag(req, "includedetails");
                Reply::json(200, &Self::ticket_json(t, details, details))
            }
            None => err_text(404, "Ticket not found"),
        }
    }

    fn id_of(v: &Value, what: &str) -> Result<i64, Reply> {
        v.as_i64().ok_or_else(|| err_object(400, &format!("{what} must be an integer")))
    }

    fn string_of(v: &Value, what: &str) -> Result<String, Reply> {
        match v {
            Value::Null => Ok(String::new()),
            Value::String(s) => Ok(s.clone()),
            _ => Err(err_object(400, &format!("{what} must be a string"))),
        }
    }

    /// A new ticket's defaults: the first ticket type, the first open status, Medium, nobody.
    fn new_ticket(&self) -> Value {
        let h = self.halo();
        let status = h.statuses.iter().find(|s| !s.closed).map_or(0, |s| s.id);
        let priority = h.priority_id("Medium").or(h.priorities.first().map(|p| p.id)).unwrap_or(0);
        let fields: Vec<Value> =
            h.ticket_fields.iter().map(|f| json!({"id": f.id, "name": f.name, "value": ""})).collect();
        json!({"id": 0, "summary": "", "details": "", "tickettype_id": h.ticket_types.first().map_or(0, |t| t.id),
               "client_id": 0, "client_name": "", "site_id": 0, "user_id": 0, "status_id": status,
               "priority_id": priority, "team": "", "agent_id": 0, "category_1": "", "impact": 0, "urgency": 0,
               "third_party_id_string": "", "hasbeenclosed": false, "closure_note": "", "dateoccurred": "",
               "last_update": "", "customfields": fields})
    }

    /// One record of a POST /Tickets applied to `cur` (the stored ticket, or a new one's defaults):
    /// only the fields sent change; every id sent must exist.
    fn build_ticket(
        &self,
        st: &HaloState,
        cur: &Value,
        item: &Map<String, Value>,
        creating: bool,
    ) -> Result<Value, Reply> {
        let h = self.halo();
        let mut t = cur.clone();
        let was_closed = !creating && self.closed_status(cur["status_id"].as_i64().unwrap_or(0));
        for (k, v) in item {
            match k.as_str() {
                "summary" => {
                    let s = Self::string_of(v, "summary")?;
                    if s.chars().count() > SUMMARY_MAX {
                        return Err(err_string(400, "Summary must be 250 characters or fewer."));
                    }
                    t["summary"] = json!(s);
                }
                "details" | "category_1" | "third_party_id_string" | "closure_note" => {
                    t[k.as_str()] = json!(Self::string_of(v, k)?);
                }
                "dateoccurred" => {
                    let s = Self::string_of(v, k)?;
                    if !s.is_empty() && parse_date(&s).is_none() {
                        return Err(err_object(400, "dateoccurred is not a date"));
                    }
                    t["dateoccurred"] = json!(s);
                }
                "tickettype_id" => {
                    let id = Self::id_of(v, k)?;
                    if !h.ticket_types.iter().any(|x| x.id == id) {
                        return Err(err_object(400, &format!("Ticket type {id} does not exist")));
                    }
                    t[k.as_str()] = json!(id);
                }
                "status_id" => {
                    let id = Self::id_of(v, k)?;
                    if !h.statuses.iter().any(|x| x.id == id) {
                        return Err(err_object(400, &format!("Status {id} does not exist")));
                    }
                    t[k.as_str()] = json!(id);
                }
                "priority_id" => {
                    let id = Self::id_of(v, k)?;
                    if !h.priorities.iter().any(|x| x.id == id) {
                        return Err(err_object(400, &format!("Priority {id} does not exist")));
                    }
                    t[k.as_str()] = json!(id);
                }
                "client_id" => {
                    let id = Self::id_of(v, k)?;
                    if !st.clients.contains_key(&id) {
                        return Err(err_object(400, &format!("Client {id} does not exist")));
                    }
                    t[k.as_str()] = json!(id);
                }
                "site_id" => {
                    let id = Self::id_of(v, k)?;
                    if id != 0 && !h.sites.iter().any(|s| s["id"].as_i64() == Some(id)) {
                        return Err(err_object(400, &format!("Site {id} does not exist")));
                    }
                    t[k.as_str()] = json!(id);
                }
                "user_id" => t["user_id"] = json!(Self::id_of(v, k)?),
                "agent_id" => {
                    let id = Self::id_of(v, k)?;
                    if id != 0 && !h.agents.iter().any(|a| a.id == id) {
                        return Err(err_object(400, &format!("Agent {id} does not exist")));
                    }
                    t[k.as_str()] = json!(id);
                }
                "impact" | "urgency" => {
                    let id = Self::id_of(v, k)?;
                    let list = if k == "impact" { &h.impacts } else { &h.urgencies };
                    if id != 0 && !list.iter().any(|x| x.id == id) {
                        return Err(err_object(400, &format!("{k} {id} does not exist")));
                    }
                    t[k.as_str()] = json!(id);
                }
                "team" => {
                    let name = Self::string_of(v, k)?;
                    match h.teams.iter().find(|x| x.name.eq_ignore_ascii_case(name.trim())) {
                        Some(team) => t["team"] = json!(team.name),
                        None if name.trim().is_empty() => t["team"] = json!(""),
                        None => return Err(err_object(400, &format!("Team '{name}' does not exist"))),
                    }
                }
                "customfields" => {
                    let Some(cfs) = v.as_array() else { return Err(err_object(400, "customfields must be an array")) };
                    for cf in cfs {
                        let fid = Self::id_of(cf.get("id").unwrap_or(&Value::Null), "custom field id")?;
                        let slot = t["customfields"]
                            .as_array_mut()
                            .and_then(|a| a.iter_mut().find(|x| x["id"].as_i64() == Some(fid)));
                        let Some(slot) = slot else {
                            return Err(err_object(400, &format!("Custom field {fid} does not exist")));
                        };
                        slot["value"] = text_value(cf.get("value").unwrap_or(&Value::Null));
                    }
                }
                // Read-only or unknown fields are ignored, as Halo does.
                _ => {}
            }
        }
        if creating {
            if t["summary"].as_str().is_none_or(|s| s.trim().is_empty()) {
                return Err(err_object(400, "summary is required"));
            }
            if t["client_id"].as_i64().unwrap_or(0) == 0 {
                return Err(err_object(400, "client_id is required"));
            }
        }
        let client = t["client_id"].as_i64().unwrap_or(0);
        t["client_name"] = st.clients.get(&client).map_or(json!(""), |c| c["name"].clone());
        if t["site_id"].as_i64().unwrap_or(0) == 0 {
            let site = h.sites.iter().find(|s| s["client_id"].as_i64() == Some(client));
            t["site_id"] = site.map_or(json!(0), |s| s["id"].clone());
        }
        let prio = t["priority_id"].as_i64().unwrap_or(0);
        t["priority"] = json!({"name": h.priorities.iter().find(|p| p.id == prio).map(|p| p.name.clone())});
        let agent = t["agent_id"].as_i64().unwrap_or(0);
        t["agent_name"] =
            json!(h.agents.iter().find(|a| a.id == agent).map_or("Unassigned".to_string(), |a| a.name.clone()));
        // Moving to a closed-type status closes the ticket; it stays "has been closed" if reopened.
        if self.closed_status(t["status_id"].as_i64().unwrap_or(0)) && !was_closed {
            t["hasbeenclosed"] = json!(true);
        }
        Ok(t)
    }

    /// `POST /Tickets`: records without an id create, with one update. A batch that creates while
    /// another create is in flight fails whole with 500 (Halo's ticket-number race).
    fn post_tickets(&self, req: &Req) -> Reply {
        let items = match body_array(req) {
            Ok(i) => i,
            Err(r) => return r,
        };
        let is_create = |i: &Map<String, Value>| i.get("id").is_none_or(|v| v.is_null() || v.as_i64() == Some(0));
        let creates = items.iter().any(is_create);
        let delay = Duration::from_millis(self.config().create_delay_ms);
        let mut st = self.st();
        let now = Instant::now();
        if creates && st.create_busy_until.is_some_and(|t| t > now) {
            st.create_race_failures += 1;
            return Reply::json(
                500,
                &json!({"ClassName": "System.Data.SqlClient.SqlException",
                        "Message": "Violation of UNIQUE KEY constraint 'UQ_FAULTS_TICKETNUMBER'. Cannot insert duplicate key."}),
            );
        }
        let mut built = Vec::with_capacity(items.len());
        for item in &items {
            let (cur, creating) = if is_create(item) {
                (self.new_ticket(), true)
            } else {
                let id = match Self::id_of(&item["id"], "id") {
                    Ok(i) => i,
                    Err(r) => return r,
                };
                match st.tickets.get(&id) {
                    Some(t) => (t.clone(), false),
                    None => return err_object(400, &format!("Ticket {id} does not exist")),
                }
            };
            match self.build_ticket(&st, &cur, item, creating) {
                Ok(t) => built.push((creating, t)),
                Err(r) => return r,
            }
        }
        let mut out = Vec::with_capacity(built.len());
        for (creating, mut t) in built {
            let stamp = st.stamp();
            if creating {
                t["id"] = json!(st.next_ticket_id);
                st.next_ticket_id += 1;
                if t["dateoccurred"].as_str().is_none_or(str::is_empty) {
                    t["dateoccurred"] = json!(stamp);
                }
            }
            t["last_update"] = json!(stamp);
            st.tickets.insert(t["id"].as_i64().unwrap_or(0), t.clone());
            out.push(t);
        }
        if creates {
            st.create_busy_until = Some(now + delay);
        }
        drop(st);
        let reply = Self::batch_reply(req, out);
        if creates { reply.after(delay) } else { reply }
    }

    // ---- actions ----

    fn list_actions(&self, req: &Req) -> Reply {
        let ticket = match int_param(req, "ticket_id") {
            Ok(Some(t)) => t,
            Ok(None) => return err_text(400, "ticket_id is required"),
            Err(r) => return r,
        };
        let st = self.st();
        // Newest first, as Halo lists them: clients must not rely on creation order.
        let actions: Vec<&Value> =
            st.actions.values().rev().filter(|a| a["ticket_id"].as_i64() == Some(ticket)).collect();
        Reply::json(200, &json!({"ticket_id": ticket, "record_count": actions.len(), "actions": actions}))
    }

    fn post_actions(&self, req: &Req) -> Reply {
        let items = match body_array(req) {
            Ok(i) => i,
            Err(r) => return r,
        };
        let outcomes = self.config().outcomes;
        let mut st = self.st();
        let mut built = Vec::with_capacity(items.len());
        for item in &items {
            let ticket = match Self::id_of(item.get("ticket_id").unwrap_or(&Value::Null), "ticket_id") {
                Ok(t) => t,
                Err(r) => return r,
            };
            if !st.tickets.contains_key(&ticket) {
                return err_object(400, &format!("Ticket {ticket} does not exist"));
            }
            let (note, html) =
                match (item.get("note").and_then(Value::as_str), item.get("note_html").and_then(Value::as_str)) {
                    (_, Some(h)) => (strip_html(h), Some(h.to_string())),
                    (Some(n), None) => (n.to_string(), None),
                    (None, None) => return err_object(400, "note or note_html is required"),
                };
            let outcome = match (item.get("outcome"), item.get("outcome_id").and_then(Value::as_i64)) {
                (Some(Value::String(name)), _) => outcomes.iter().position(|o| o.eq_ignore_ascii_case(name.trim())),
                (_, Some(id)) => usize::try_from(id - 1).ok().filter(|i| *i < outcomes.len()),
                _ => return err_object(400, "outcome is required"),
            };
            let Some(oi) = outcome else {
                let sent = item.get("outcome").or(item.get("outcome_id")).cloned().unwrap_or_default();
                return err_object(400, &format!("Outcome {sent} does not exist"));
            };
            let hidden = match item.get("hiddenfromuser") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return err_object(400, "hiddenfromuser must be a boolean"),
            };
            let who = item.get("who").and_then(Value::as_str).filter(|w| !w.trim().is_empty()).unwrap_or("API User");
            let mut a = json!({"id": 0, "ticket_id": ticket, "note": note, "outcome": outcomes[oi], "outcome_id": oi + 1,
                               "who": who, "datetime": "", "hiddenfromuser": hidden});
            if let Some(h) = html {
                a["note_html"] = json!(h);
            }
            built.push(a);
        }
        let mut out = Vec::with_capacity(built.len());
        for mut a in built {
            let stamp = st.stamp();
            a["id"] = json!(st.next_action_id);
            st.next_action_id += 1;
            a["datetime"] = json!(stamp);
            let ticket = a["ticket_id"].as_i64().unwrap_or(0);
            if let Some(t) = st.tickets.get_mut(&ticket) {
                t["last_update"] = json!(stamp);
            }
            st.actions.insert(a["id"].as_i64().unwrap_or(0), a.clone());
            out.push(a);
        }
        Self::batch_reply(req, out)
    }

    fn api(&self, req: &Req, s: &[&str], orig: &[String]) -> Reply {
        let get = req.method == Method::GET;
        let post = req.method == Method::POST;
        match s {
            [l @ ("tickettype" | "status" | "priority" | "team" | "lookup" | "agent")] if get => self.lookups(l, req),
            ["client"] if get => self.list_clients(req),
            ["client"] if post => self.post_clients(req),
            ["site"] if get => self.list_sites(req),
            ["tickets"] if get => self.list_tickets(req),
            ["tickets"] if post => self.post_tickets(req),
            ["tickets", _] if get => self.get_ticket(req, orig[1].parse().ok()),
            ["actions"] if get => self.list_actions(req),
            ["actions"] if post => self.post_actions(req),
            [
                "tickettype" | "status" | "priority" | "team" | "lookup" | "agent" | "client" | "site" | "tickets"
                | "actions",
                ..,
            ] => err_text(405, "The requested resource does not support this method."),
            _ => err_text(404, "Not Found"),
        }
    }
}

impl App for HaloSim {
    fn control(&self) -> &Control {
        &self.control
    }

    fn route(&self, req: &Req) -> String {
        let t: String = req
            .segments()
            .iter()
            .map(
                |s| if s.parse::<i64>().is_ok() { "/{id}".to_string() } else { format!("/{}", s.to_ascii_lowercase()) },
            )
            .collect();
        format!("{} {}", req.method, if t.is_empty() { "/" } else { &t })
    }

    fn handle(&self, req: &Req) -> Reply {
        let orig = req.segments();
        let lower: Vec<String> = orig.iter().map(|s| s.to_ascii_lowercase()).collect();
        let s: Vec<&str> = lower.iter().map(String::as_str).collect();
        match s[..] {
            ["auth", "token"] if req.method == Method::POST => self.token(req),
            ["auth", "token"] => err_text(405, "The requested resource does not support this method."),
            // Unauthenticated: tells a client where the authorisation server is.
            ["api", "authinfo"] if req.method == Method::GET => Reply::json(
                200,
                &json!({"auth_url": format!("{}/auth", self.base_url), "tenant_id": self.halo().credentials.tenant}),
            ),
            ["api", ..] => {
                let client = match self.bearer(req) {
                    Ok(c) => c,
                    Err(r) => return r,
                };
                if !self.admit(&client) {
                    return Self::rate_limited();
                }
                self.api(req, &s[1..], &orig[1..])
            }
            _ => err_text(404, "Not Found"),
        }
    }

    fn server_error(&self, status: u16, variant: u32) -> Reply {
        match status {
            502 => Reply::text(502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>"),
            503 => err_text(503, "Service Unavailable"),
            s if variant.is_multiple_of(2) => err_string(s, "An error occurred."),
            s => Reply::json(s, &json!({"ClassName": "System.Exception", "Message": "An unexpected error occurred."})),
        }
    }

    fn too_many_requests(&self, _retry_after: u64) -> Reply {
        Self::rate_limited()
    }

    fn bad_request(&self, message: &str) -> Reply {
        err_text(400, message)
    }

    fn state(&self) -> Value {
        let (requests, mut faults, mut config) = self.control.state_parts();
        let halo_config = serde_json::to_value(self.config()).unwrap_or_default();
        if let (Some(c), Some(h)) = (config.as_object_mut(), halo_config.as_object()) {
            c.extend(h.clone());
        }
        let sessions = self.sessions();
        let now = Instant::now();
        // Both kinds of 429 in one counter: the shared limiter's and Halo's own per-client one.
        let shared = faults["rate_limited"].as_u64().unwrap_or(0);
        faults["rate_limited"] = json!(shared + sessions.rate_limited);
        let h = self.halo();
        let st = self.st();
        json!({
            "service": "halo",
            "credentials": {"tenant": h.credentials.tenant, "client_id": h.credentials.client_id},
            "ticket_types": h.ticket_types,
            "statuses": self.statuses_json(),
            "priorities": h.priorities,
            "teams": h.teams,
            "agents": h.agents,
            "client_fields": h.client_fields,
            "ticket_fields": h.ticket_fields,
            "clients": st.clients.values().collect::<Vec<_>>(),
            "sites": h.sites,
            "tickets": st.tickets.values().collect::<Vec<_>>(),
            "actions": st.actions.values().collect::<Vec<_>>(),
            "create_race_failures": st.create_race_failures,
            "sessions": {"active_tokens": sessions.tokens.values().filter(|(e, _)| *e > now).count()},
            "requests_total": requests.as_object().map_or(0, |m| m.values().filter_map(Value::as_u64).sum::<u64>()),
            "requests": requests,
            "faults": faults,
            "config": config,
            "events": self.control.events(),
        })
    }

    fn reset(&self) {
        self.control.reset();
        *self.st() = HaloState::load(self.halo());
        let mut s = self.sessions();
        s.tokens.clear();
        s.windows.clear();
        s.rate_limited = 0;
    }

    fn configure(&self, body: &Value) -> Result<Value, String> {
        configure_control(&self.control, body)?;
        let mut cur = serde_json::to_value(self.config()).map_err(|e| e.to_string())?;
        let mut changed = false;
        for key in CONFIG_KEYS {
            if let Some(v) = body.get(key) {
                cur[key] = v.clone();
                changed = true;
            }
        }
        if changed {
            let c: HaloConfig = serde_json::from_value(cur).map_err(|e| format!("halo config: {e}"))?;
            self.set_config(c);
        }
        let (_, _, mut config) = self.control.state_parts();
        if let (Some(c), Ok(Value::Object(h))) = (config.as_object_mut(), serde_json::to_value(self.config())) {
            c.extend(h);
        }
        Ok(config)
    }
}

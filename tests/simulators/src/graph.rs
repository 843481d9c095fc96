//! The Microsoft Graph mail simulator (contracts/mailbox-archer.md): one server for both the login
//! host (`POST /{tenant}/oauth2/v2.0/token`, client credentials) and Graph (`/v1.0/users/{mailbox}/
//! mailFolders...`): folders by name, messages with `$top`/`$select`/`$filter`/`$orderby`, paging
//! by an opaque `@odata.nextLink`, text or HTML bodies by `Prefer`, ids that change on a move
//! unless `Prefer: IdType="ImmutableId"`, move and category PATCH, and Graph's throttling (4
//! concurrent requests per mailbox, a per-10-minutes budget). `/_sim/graph/messages` delivers new
//! mail.
//!
//! Choices where the contract is silent:
//! - Folders: the mailbox's folders are all top-level and fewer than ten, so the folder list never
//!   pages. `$filter` on folders supports `displayName eq '...'` (case-insensitive, `''` escapes).
//! - Messages without `$orderby` come newest first (Graph's default); ties (one second) are ordered
//!   by immutable id, whatever the direction, so paging is stable.
//! - `$filter` supports `receivedDateTime ge|gt|le|lt|eq <ISO 8601 with Z or offset>` joined by
//!   `and`; anything else is `400 BadRequest`. With `$orderby`, the first `$filter` property must be
//!   the `$orderby` property (else `400 InefficientFilter`), checked before the filter syntax.
//! - `$skiptoken` is base64url of the listing (offset, top, select, filter, orderby, folder); the
//!   other query parameters are ignored when it is present. `$skip` works too but is counted
//!   (`skip_requests` in the state) so a test can see a client built it.
//! - A message without a sender has no `from` key at all.
//! - The per-10-minutes budget counts per mailbox (there is one app).
//! - Throttled (concurrency or budget) requests are answered at once, without injected latency, and
//!   are not in `requests` (they have their own counters).

mod dir;

use crate::data::{Dataset, DirectoryData, MailData, MailFolder, MailMessage};
use crate::faults::Control;
use crate::generate::{html_of, immutable_id, reported_message};
use crate::server::{App, InFlight, Reply, Req, configure_control, parse_query};
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use http::Method;
use rand::rngs::ChaCha8Rng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
const TOP_DEFAULT: usize = 10;
const TOP_MAX: usize = 1000;
const BUDGET_WINDOW: Duration = Duration::from_secs(600);
/// Every property a message answers with (the `$select` vocabulary), in Graph's order.
const PROPERTIES: [&str; 24] = [
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "receivedDateTime",
    "sentDateTime",
    "hasAttachments",
    "internetMessageId",
    "subject",
    "bodyPreview",
    "importance",
    "parentFolderId",
    "conversationId",
    "isRead",
    "isDraft",
    "webLink",
    "body",
    "sender",
    "from",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "flag",
];

/// Graph settings (`/_sim/config` takes `token_ttl_s`, `max_concurrent`, `per_10min`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GraphConfig {
    /// Access token lifetime (`expires_in`).
    pub token_ttl_s: u64,
    /// Generated messages in the Phishing folder; None = 40. Ignored for data that has a mail section.
    pub messages: Option<usize>,
    /// Concurrent requests per mailbox before `429 ApplicationThrottled`.
    pub max_concurrent: u32,
    /// Requests per mailbox per 10 minutes before `429` (0 = unlimited).
    pub per_10min: u32,
    /// Generated directory users; None = 60. Ignored for data that has a directory section.
    pub directory_users: Option<usize>,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig { token_ttl_s: 3599, messages: None, max_concurrent: 4, per_10min: 10_000, directory_users: None }
    }
}

fn now_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn iso(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default()
}

/// `{"error": {"code", "message", "innerError"}}`.
fn gerr(status: u16, code: &str, message: &str) -> Reply {
    let inner = json!({"date": iso(now_s()), "request-id": "00000000-0000-0000-0000-000000000000",
                       "client-request-id": "00000000-0000-0000-0000-000000000000"});
    Reply::json(status, &json!({"error": {"code": code, "message": message, "innerError": inner}}))
}

fn bad(message: &str) -> Reply {
    gerr(400, "BadRequest", message)
}

fn not_found() -> Reply {
    gerr(404, "ErrorItemNotFound", "The specified object was not found in the store.")
}

/// The REST id of a message after `generation` moves (it changes when the message moves).
fn rest_id(immutable: &str, generation: u32) -> String {
    let h1 = Sha256::digest(format!("{immutable}:{generation}").as_bytes());
    let h2 = Sha256::digest(h1);
    let mut b = h1.to_vec();
    b.extend_from_slice(&h2);
    b.extend_from_slice(&h1[..20]);
    format!("AAMkADk0{}AAA=", URL_SAFE_NO_PAD.encode(b))
}

/// A message as the simulator keeps it.
#[derive(Clone)]
struct Msg {
    m: MailMessage,
    generation: u32,
    rest: String,
    modified_s: i64,
    is_read: bool,
}

impl Msg {
    fn new(m: MailMessage) -> Msg {
        Msg { rest: rest_id(&m.id, 0), modified_s: m.received_s, generation: 0, is_read: false, m }
    }
}

struct GState {
    messages: Vec<Msg>,
    /// internetMessageIds ever put in the Phishing folder (initial + delivered).
    truth: Vec<String>,
    moves: u64,
    category_patches: u64,
    delivered: u64,
    skip_requests: u64,
    rng: ChaCha8Rng,
}

#[derive(Default)]
struct Throttle {
    /// Every counted request being answered (mailbox or not) and the most at once.
    in_flight_total: u32,
    max_in_flight_total: u32,
    in_flight: HashMap<String, u32>,
    max_in_flight: BTreeMap<String, u32>,
    concurrency_rejections: u64,
    budget: HashMap<String, VecDeque<Instant>>,
    budget_rejections: u64,
}

struct Tokens {
    tokens: HashMap<String, Instant>,
    issued: u64,
    failures: u64,
    rng: ChaCha8Rng,
}

/// Held while a request on a mailbox is being answered.
struct Guard {
    throttle: Arc<Mutex<Throttle>>,
    /// None: a request on no mailbox (`/users`, `/groups`, the token).
    mailbox: Option<String>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut t = self.throttle.lock().unwrap_or_else(|e| e.into_inner());
        t.in_flight_total = t.in_flight_total.saturating_sub(1);
        if let Some(n) = self.mailbox.as_ref().and_then(|m| t.in_flight.get_mut(m)) {
            *n = n.saturating_sub(1);
        }
    }
}

/// A listing's position and query, carried by `$skiptoken`.
#[derive(Clone, Serialize, Deserialize)]
struct Listing {
    o: usize,
    t: usize,
    s: Option<String>,
    f: Option<String>,
    ob: Option<String>,
    fo: Option<String>,
}

/// What the Prefer header(s) asked for.
struct Prefer {
    text: bool,
    immutable: bool,
}

fn prefer(req: &Req) -> Prefer {
    let mut p = Prefer { text: false, immutable: false };
    for v in req.headers.get_all("prefer").iter().filter_map(|v| v.to_str().ok()) {
        for pref in v.split(',') {
            let Some((k, val)) = pref.split_once('=') else { continue };
            let val = val.trim().trim_matches('"');
            match k.trim().to_ascii_lowercase().as_str() {
                "outlook.body-content-type" => p.text = val.eq_ignore_ascii_case("text"),
                "idtype" => p.immutable = val.eq_ignore_ascii_case("ImmutableId"),
                _ => {}
            }
        }
    }
    p
}

/// One `receivedDateTime` comparison, in unix milliseconds.
struct Clause {
    op: String,
    at_ms: i64,
}

fn parse_filter(f: &str) -> Result<Vec<Clause>, Reply> {
    let invalid = || {
        bad(&format!(
            "Invalid filter clause: '{f}' (the simulator supports receivedDateTime ge|gt|le|lt|eq <ISO> joined by and)"
        ))
    };
    let mut out = Vec::new();
    let words: Vec<&str> = f.split_whitespace().collect();
    for clause in words.split(|w| w.eq_ignore_ascii_case("and")) {
        let [prop, op, value] = clause else { return Err(invalid()) };
        let op = op.to_ascii_lowercase();
        if !prop.eq_ignore_ascii_case("receivedDateTime") || !["ge", "gt", "le", "lt", "eq"].contains(&op.as_str()) {
            return Err(invalid());
        }
        let at = chrono::DateTime::parse_from_rfc3339(value).map_err(|_| invalid())?;
        out.push(Clause { op, at_ms: at.timestamp_millis() });
    }
    if out.is_empty() {
        return Err(invalid());
    }
    Ok(out)
}

fn matches(clauses: &[Clause], received_s: i64) -> bool {
    let t = received_s * 1000;
    clauses.iter().all(|c| match c.op.as_str() {
        "ge" => t >= c.at_ms,
        "gt" => t > c.at_ms,
        "le" => t <= c.at_ms,
        "lt" => t < c.at_ms,
        _ => t == c.at_ms,
    })
}

fn addr(a: &crate::data::MailAddress) -> Value {
    json!({"emailAddress": {"name": a.name, "address": a.address}})
}

pub(crate) struct GraphSim {
    initial: MailData,
    /// "http://127.0.0.1:P": nextLinks are absolute.
    base: String,
    control: Control,
    config: Mutex<GraphConfig>,
    state: Mutex<GState>,
    tokens: Mutex<Tokens>,
    throttle: Arc<Mutex<Throttle>>,
    seed: u64,
    /// The directory as it was at start (reset goes back to it) and as it is now.
    dir_initial: DirectoryData,
    directory: Mutex<dir::DirState>,
}

impl GraphSim {
    pub fn new(data: Arc<Dataset>, control: Control, config: GraphConfig, base: String) -> GraphSim {
        let mut initial = data.mail.clone();
        if let Some(anchor) = initial.anchor_s.take() {
            let shift = now_s() - anchor;
            for m in &mut initial.messages {
                m.received_s += shift;
            }
        }
        let seed = data.seed.unwrap_or(0);
        GraphSim {
            state: Mutex::new(Self::load(&initial, seed)),
            initial,
            base,
            control,
            config: Mutex::new(config),
            tokens: Mutex::new(Tokens {
                tokens: HashMap::new(),
                issued: 0,
                failures: 0,
                rng: ChaCha8Rng::seed_from_u64(seed ^ 0x70_4e11),
            }),
            throttle: Arc::new(Mutex::new(Throttle::default())),
            seed,
            directory: Mutex::new(dir::DirState::new(&data.directory, seed)),
            dir_initial: data.directory.clone(),
        }
    }

    fn load(d: &MailData, seed: u64) -> GState {
        GState {
            messages: d.messages.iter().cloned().map(Msg::new).collect(),
            truth: d.truth.clone(),
            moves: 0,
            category_patches: 0,
            delivered: 0,
            skip_requests: 0,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xde11_7e55),
        }
    }

    fn st(&self) -> std::sync::MutexGuard<'_, GState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn throttle(&self) -> std::sync::MutexGuard<'_, Throttle> {
        self.throttle.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tok(&self) -> std::sync::MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn config(&self) -> GraphConfig {
        self.config.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_config(&self, c: GraphConfig) {
        *self.config.lock().unwrap_or_else(|e| e.into_inner()) = c;
        self.throttle().budget.clear();
    }

    /// A folder by id or well-known name (what Graph takes in paths and `destinationId`).
    fn folder(&self, key: &str) -> Option<&MailFolder> {
        self.initial
            .folders
            .iter()
            .find(|f| f.id == key || f.well_known.as_deref().is_some_and(|w| w.eq_ignore_ascii_case(key)))
    }

    // ---- login ----

    fn token(&self, req: &Req, tenant: &str) -> Reply {
        let aad = |status: u16, error: &str, desc: &str| {
            Reply::json(
                status,
                &json!({"error": error, "error_description": format!("{desc}\r\nTrace ID: 00000000-0000-0000-0000-000000000000\r\nTimestamp: {}", iso(now_s())),
                                        "error_codes": [desc[6..].split(':').next().and_then(|c| c.parse::<u64>().ok()).unwrap_or(0)], "timestamp": iso(now_s())}),
            )
        };
        let form = parse_query(Some(&String::from_utf8_lossy(&req.body)));
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let c = &self.initial.credentials;
        let fail = |r: Reply| {
            self.tok().failures += 1;
            r
        };
        let Some(grant) = get("grant_type") else {
            return fail(aad(
                400,
                "invalid_request",
                "AADSTS900144: The request body must contain the following parameter: 'grant_type'.",
            ));
        };
        if grant != "client_credentials" {
            return fail(aad(
                400,
                "unsupported_grant_type",
                "AADSTS70003: The app requested an unsupported grant type.",
            ));
        }
        if get("scope") != Some(GRAPH_SCOPE) {
            return fail(aad(
                400,
                "invalid_request",
                "AADSTS70011: The provided value for the input parameter 'scope' is not valid. The scope must be https://graph.microsoft.com/.default.",
            ));
        }
        if !tenant.eq_ignore_ascii_case(&c.tenant)
            || get("client_id") != Some(c.client_id.as_str())
            || get("client_secret") != Some(c.client_secret.as_str())
        {
            return fail(aad(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app.",
            ));
        }
        let ttl = self.config().token_ttl_s;
        let mut t = self.tok();
        let now = Instant::now();
        t.tokens.retain(|_, e| *e > now);
        let mut sig = [0u8; 48];
        t.rng.fill_bytes(&mut sig);
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"RS256"}"#);
        let payload = URL_SAFE_NO_PAD.encode(
            json!({"aud": "https://graph.microsoft.com", "tid": c.tenant, "appid": c.client_id, "roles": ["Mail.ReadWrite", "User.Read.All", "MailboxSettings.Read"],
                   "exp": now_s() + ttl as i64, "iat": now_s()})
            .to_string(),
        );
        let token = format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(sig));
        t.tokens.insert(token.clone(), now + Duration::from_secs(ttl));
        t.issued += 1;
        Reply::json(
            200,
            &json!({"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl, "access_token": token}),
        )
    }

    fn authorized(&self, req: &Req) -> Result<(), Reply> {
        let token = req
            .header("authorization")
            .and_then(|h| h.trim().split_once(' '))
            .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        let Some(token) = token else {
            return Err(gerr(401, "InvalidAuthenticationToken", "Access token is empty."));
        };
        match self.tok().tokens.get(token) {
            Some(e) if *e > Instant::now() => Ok(()),
            _ => Err(gerr(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")),
        }
    }

    // ---- messages ----

    fn message_json(&self, msg: &Msg, p: &Prefer, select: Option<&[String]>) -> Value {
        let m = &msg.m;
        let id = if p.immutable { m.id.clone() } else { msg.rest.clone() };
        let etag_src = format!("{}:{}:{:?}:{}", m.id, msg.generation, m.categories, msg.is_read);
        let change_key = URL_SAFE.encode(&Sha256::digest(etag_src.as_bytes())[..21]);
        let preview: String = m.body_text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(255).collect();
        let body = if p.text {
            json!({"contentType": "text", "content": m.body_text})
        } else {
            json!({"contentType": "html", "content": m.body_html})
        };
        let mut all = Map::new();
        all.insert("createdDateTime".into(), json!(iso(m.received_s)));
        all.insert("lastModifiedDateTime".into(), json!(iso(msg.modified_s)));
        all.insert("changeKey".into(), json!(change_key));
        all.insert("categories".into(), json!(m.categories));
        all.insert("receivedDateTime".into(), json!(iso(m.received_s)));
        all.insert("sentDateTime".into(), json!(iso(m.received_s - 2)));
        all.insert("hasAttachments".into(), json!(m.has_attachments));
        all.insert("internetMessageId".into(), json!(m.internet_message_id));
        all.insert("subject".into(), json!(m.subject));
        all.insert("bodyPreview".into(), json!(preview));
        all.insert("importance".into(), json!("normal"));
        all.insert("parentFolderId".into(), json!(m.folder_id));
        all.insert("conversationId".into(), json!(format!("AAQkAD{}", &change_key[..16])));
        all.insert("isRead".into(), json!(msg.is_read));
        all.insert("isDraft".into(), json!(false));
        all.insert(
            "webLink".into(),
            json!(format!("https://outlook.office365.com/owa/?ItemID={}&viewmodel=ReadMessageItem", m.id)),
        );
        all.insert("body".into(), body);
        if let Some(f) = &m.from {
            all.insert("sender".into(), addr(f));
            all.insert("from".into(), addr(f));
        }
        all.insert("toRecipients".into(), json!(m.to.iter().map(addr).collect::<Vec<_>>()));
        all.insert("ccRecipients".into(), json!(m.cc.iter().map(addr).collect::<Vec<_>>()));
        all.insert("bccRecipients".into(), json!([]));
        all.insert("replyTo".into(), json!([]));
        all.insert("flag".into(), json!({"flagStatus": "notFlagged"}));
        let mut out = Map::new();
        out.insert("@odata.etag".into(), json!(format!("W/\"CQAAABYAAAB{change_key}\"")));
        out.insert("id".into(), json!(id));
        for k in PROPERTIES {
            let wanted = select.is_none_or(|s| s.iter().any(|x| x.eq_ignore_ascii_case(k)));
            if let (true, Some(v)) = (wanted, all.remove(k)) {
                out.insert(k.into(), v);
            }
        }
        Value::Object(out)
    }

    fn parse_select(s: Option<&str>) -> Result<Option<Vec<String>>, Reply> {
        let Some(s) = s else { return Ok(None) };
        let mut out = Vec::new();
        for p in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if !p.eq_ignore_ascii_case("id") && !PROPERTIES.iter().any(|k| k.eq_ignore_ascii_case(p)) {
                return Err(bad(&format!("Could not find a property named '{p}' on type 'microsoft.graph.message'.")));
            }
            out.push(p.to_string());
        }
        Ok(Some(out))
    }

    /// `GET .../messages` (folder None: the whole mailbox).
    fn list_messages(&self, req: &Req, mailbox: &str, folder: Option<&str>) -> Reply {
        let folder_id = match folder {
            Some(f) => match self.folder(f) {
                Some(f) => Some(f.id.clone()),
                None => return not_found(),
            },
            None => None,
        };
        let listing = match req.param("$skiptoken") {
            Some(tok) => {
                let l = URL_SAFE_NO_PAD
                    .decode(tok.trim())
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Listing>(&b).ok())
                    .filter(|l| l.fo == folder_id);
                match l {
                    Some(l) => l,
                    None => return bad("The $skiptoken is invalid."),
                }
            }
            None => {
                let t = match req.param("$top").map(str::trim) {
                    None => TOP_DEFAULT,
                    Some(v) => match v.parse::<usize>() {
                        Ok(n) if (1..=TOP_MAX).contains(&n) => n,
                        _ => return bad(&format!("Invalid $top value '{v}': it must be between 1 and {TOP_MAX}.")),
                    },
                };
                let o = match req.param("$skip").map(str::trim) {
                    None => 0,
                    Some(v) => match v.parse::<usize>() {
                        Ok(n) => {
                            self.st().skip_requests += 1;
                            n
                        }
                        Err(_) => return bad(&format!("Invalid $skip value '{v}'.")),
                    },
                };
                let nonempty = |k: &str| req.param(k).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
                Listing {
                    o,
                    t,
                    s: nonempty("$select"),
                    f: nonempty("$filter"),
                    ob: nonempty("$orderby"),
                    fo: folder_id.clone(),
                }
            }
        };
        let select = match Self::parse_select(listing.s.as_deref()) {
            Ok(s) => s,
            Err(r) => return r,
        };
        let desc = match listing.ob.as_deref() {
            None => true,
            Some(ob) => {
                let w: Vec<&str> = ob.split_whitespace().collect();
                let dir = match w[..] {
                    [p] if p.eq_ignore_ascii_case("receivedDateTime") => "asc",
                    [p, d] if p.eq_ignore_ascii_case("receivedDateTime") => d,
                    _ => return bad(&format!("The simulator orders by receivedDateTime only, not '{ob}'.")),
                };
                if let Some(f) = &listing.f {
                    let first = f.trim_start_matches('(').split_whitespace().next().unwrap_or("");
                    if !first.eq_ignore_ascii_case(w[0]) {
                        return gerr(
                            400,
                            "InefficientFilter",
                            "The restriction or sort order is too complex for this operation.",
                        );
                    }
                }
                match dir.to_ascii_lowercase().as_str() {
                    "asc" => false,
                    "desc" => true,
                    _ => return bad(&format!("Invalid $orderby direction '{dir}'.")),
                }
            }
        };
        let clauses = match listing.f.as_deref().map(parse_filter).transpose() {
            Ok(c) => c,
            Err(r) => return r,
        };
        let p = prefer(req);
        let st = self.st();
        let mut hits: Vec<&Msg> = st
            .messages
            .iter()
            .filter(|m| folder_id.as_ref().is_none_or(|f| &m.m.folder_id == f))
            .filter(|m| clauses.as_ref().is_none_or(|c| matches(c, m.m.received_s)))
            .collect();
        hits.sort_by(|a, b| {
            let primary = if desc { b.m.received_s.cmp(&a.m.received_s) } else { a.m.received_s.cmp(&b.m.received_s) };
            primary.then_with(|| a.m.id.cmp(&b.m.id))
        });
        let total = hits.len();
        let value: Vec<Value> =
            hits.iter().skip(listing.o).take(listing.t).map(|m| self.message_json(m, &p, select.as_deref())).collect();
        let mut folder_part = String::new();
        if let Some(f) = folder {
            folder_part = format!("/mailFolders('{f}')");
        }
        let sel = listing.s.as_ref().map_or(String::new(), |s| format!("({s})"));
        let mut out = json!({
            "@odata.context": format!("{}/v1.0/$metadata#users('{mailbox}'){folder_part}/messages{sel}", self.base),
            "value": value,
        });
        if listing.o + listing.t < total {
            let next = Listing { o: listing.o + listing.t, ..listing };
            let tok = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&next).unwrap_or_default());
            out["@odata.nextLink"] = json!(format!("{}{}?%24skiptoken={tok}", self.base, req.path));
        }
        drop(st);
        Self::with_preference(Reply::json(200, &out), &p)
    }

    fn with_preference(r: Reply, p: &Prefer) -> Reply {
        let mut applied = Vec::new();
        if p.text {
            applied.push("outlook.body-content-type=\"text\"");
        }
        if p.immutable {
            applied.push("IdType=\"ImmutableId\"");
        }
        if applied.is_empty() { r } else { r.with_header("Preference-Applied", applied.join(", ")) }
    }

    fn index_of(st: &GState, id: &str) -> Option<usize> {
        st.messages.iter().position(|m| m.m.id == id || m.rest == id)
    }

    fn get_message(&self, req: &Req, id: &str) -> Reply {
        let select = match Self::parse_select(req.param("$select")) {
            Ok(s) => s,
            Err(r) => return r,
        };
        let p = prefer(req);
        let st = self.st();
        match Self::index_of(&st, id) {
            Some(i) => {
                Self::with_preference(Reply::json(200, &self.message_json(&st.messages[i], &p, select.as_deref())), &p)
            }
            None => not_found(),
        }
    }

    fn body(req: &Req) -> Result<Map<String, Value>, Reply> {
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(bad("The request body must be a JSON object.")),
            Err(_) => Err(gerr(400, "BadRequest", "Unable to read JSON request payload.")),
        }
    }

    fn move_message(&self, req: &Req, id: &str) -> Reply {
        let b = match Self::body(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let Some(dest) = b.get("destinationId").and_then(Value::as_str) else {
            return gerr(400, "ErrorInvalidRequest", "destinationId is required.");
        };
        let Some(dest) = self.folder(dest).map(|f| f.id.clone()) else { return not_found() };
        let p = prefer(req);
        let mut st = self.st();
        let Some(i) = Self::index_of(&st, id) else { return not_found() };
        let m = &mut st.messages[i];
        m.m.folder_id = dest;
        m.generation += 1;
        m.rest = rest_id(&m.m.id, m.generation);
        m.modified_s = now_s();
        st.moves += 1;
        Self::with_preference(Reply::json(201, &self.message_json(&st.messages[i], &p, None)), &p)
    }

    fn patch_message(&self, req: &Req, id: &str) -> Reply {
        let b = match Self::body(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let mut categories = None;
        let mut is_read = None;
        for (k, v) in &b {
            match k.as_str() {
                "categories" => match v.as_array().filter(|a| a.iter().all(Value::is_string)) {
                    Some(a) => {
                        categories = Some(a.iter().filter_map(|c| c.as_str().map(str::to_string)).collect::<Vec<_>>())
                    }
                    None => return bad("categories must be an array of strings."),
                },
                "isRead" => match v.as_bool() {
                    Some(r) => is_read = Some(r),
                    None => return bad("isRead must be a boolean."),
                },
                other => return bad(&format!("The property '{other}' cannot be changed by the simulator.")),
            }
        }
        let p = prefer(req);
        let mut st = self.st();
        let Some(i) = Self::index_of(&st, id) else { return not_found() };
        if let Some(c) = categories {
            st.messages[i].m.categories = c;
            st.category_patches += 1;
        }
        if let Some(r) = is_read {
            st.messages[i].is_read = r;
        }
        st.messages[i].modified_s = now_s();
        Self::with_preference(Reply::json(200, &self.message_json(&st.messages[i], &p, None)), &p)
    }

    fn folder_json(&self, st: &GState, f: &MailFolder) -> Value {
        let in_it = st.messages.iter().filter(|m| m.m.folder_id == f.id);
        let (total, unread) = in_it.fold((0, 0), |(t, u), m| (t + 1, u + usize::from(!m.is_read)));
        let root = format!("AAMkA{}", &f.id[5..30]);
        json!({"id": f.id, "displayName": f.display_name, "parentFolderId": root, "childFolderCount": 0,
               "unreadItemCount": unread, "totalItemCount": total, "sizeInBytes": total * 18_432, "isHidden": false})
    }

    fn list_folders(&self, req: &Req, mailbox: &str) -> Reply {
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
        let top = match req.param("$top").map(str::trim) {
            None => TOP_DEFAULT,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=TOP_MAX).contains(&n) => n,
                _ => return bad(&format!("Invalid $top value '{v}'.")),
            },
        };
        let st = self.st();
        let value: Vec<Value> = self
            .initial
            .folders
            .iter()
            .filter(|f| name.as_ref().is_none_or(|n| f.display_name.eq_ignore_ascii_case(n)))
            .take(top)
            .map(|f| self.folder_json(&st, f))
            .collect();
        Reply::json(
            200,
            &json!({"@odata.context": format!("{}/v1.0/$metadata#users('{mailbox}')/mailFolders", self.base), "value": value}),
        )
    }

    fn graph(&self, req: &Req, s: &[&str]) -> Reply {
        if let Err(r) = self.authorized(req) {
            return r;
        }
        if let Some(r) = self.directory_route(req, s) {
            return r;
        }
        let ["users", mailbox, rest @ ..] = s else {
            return gerr(400, "BadRequest", "Resource not found for the segment.");
        };
        if !mailbox.eq_ignore_ascii_case(&self.initial.mailbox) {
            return gerr(404, "ErrorInvalidUser", &format!("The requested user '{mailbox}' is invalid."));
        }
        let m = &req.method;
        match rest {
            ["mailFolders"] if m == Method::GET => self.list_folders(req, mailbox),
            ["mailFolders", f] if m == Method::GET => match self.folder(f) {
                Some(f) => Reply::json(200, &self.folder_json(&self.st(), f)),
                None => not_found(),
            },
            ["mailFolders", f, "messages"] if m == Method::GET => self.list_messages(req, mailbox, Some(f)),
            ["messages"] if m == Method::GET => self.list_messages(req, mailbox, None),
            ["mailFolders", _, "messages", id] | ["messages", id] => match m.as_str() {
                "GET" => self.get_message(req, id),
                "PATCH" => self.patch_message(req, id),
                _ => gerr(405, "BadRequest", "The HTTP method is not allowed for this resource."),
            },
            ["mailFolders", _, "messages", id, "move"] | ["messages", id, "move"] if m == Method::POST => {
                self.move_message(req, id)
            }
            _ => gerr(400, "BadRequest", "Resource not found for the segment."),
        }
    }

    // ---- admin ----

    /// New mail now: `{"count"?: n (1), "same_second"?: bool, "folder"?: name (Phishing), "subject"?: s}`
    /// → `{"messages": [...]}` (state shape). Without `same_second`, the mails get distinct seconds,
    /// never before the newest mail already in the mailbox.
    pub fn deliver(&self, spec: &Value) -> Result<Value, (u16, String)> {
        let e = |m: &str| (400u16, m.to_string());
        let count = match &spec["count"] {
            Value::Null => 1,
            v => v.as_u64().filter(|n| (1..=1000).contains(n)).ok_or_else(|| e("count must be 1..1000"))? as usize,
        };
        let same = match &spec["same_second"] {
            Value::Null => false,
            v => v.as_bool().ok_or_else(|| e("same_second must be a boolean"))?,
        };
        let folder_name = spec["folder"].as_str().unwrap_or(&self.initial.folder);
        let folder =
            self.initial.folder_named(folder_name).ok_or_else(|| (404, format!("no folder {folder_name}")))?.clone();
        let subject = match &spec["subject"] {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            _ => return Err(e("subject must be a string")),
        };
        let org =
            self.initial.mailbox.split('@').nth(1).and_then(|d| d.split('.').next()).unwrap_or("contoso").to_string();
        let now = now_s();
        let mut st = self.st();
        let newest = st.messages.iter().map(|m| m.m.received_s).max().unwrap_or(now);
        let mut out = Vec::new();
        for i in 0..count {
            let at = if same { now } else { (now - (count - 1 - i) as i64).max(newest + 1 + i as i64) };
            let mut m = reported_message(&mut st.rng, &self.initial.mailbox, &org, &folder.id, at, subject.clone());
            m.id = immutable_id(&mut st.rng);
            m.internet_message_id = format!("<sim.{}.{}.{i}@{org}.example>", self.seed, st.delivered);
            m.body_html = html_of(&m.body_text);
            st.delivered += 1;
            if folder.id == self.initial.folder_named(&self.initial.folder).map_or(String::new(), |f| f.id.clone()) {
                st.truth.push(m.internet_message_id.clone());
            }
            let msg = Msg::new(m);
            out.push(Self::state_message(&msg));
            st.messages.push(msg);
        }
        Ok(json!({"messages": out}))
    }

    fn state_message(m: &Msg) -> Value {
        json!({"id": m.m.id, "restId": m.rest, "internetMessageId": m.m.internet_message_id, "subject": m.m.subject,
               "receivedDateTime": iso(m.m.received_s), "categories": m.m.categories, "isRead": m.is_read,
               "folderId": m.m.folder_id})
    }

    fn mailbox_of(req: &Req) -> Option<String> {
        let s = req.segments();
        (s.len() >= 3 && s[0] == "v1.0" && s[1] == "users").then(|| s[2].to_ascii_lowercase())
    }
}

impl App for GraphSim {
    fn control(&self) -> &Control {
        &self.control
    }

    fn route(&self, req: &Req) -> String {
        let s = req.segments();
        let mut out = String::new();
        for (n, seg) in s.iter().enumerate() {
            let prev = if n > 0 { s[n - 1].as_str() } else { "" };
            let t = if s.first().is_some_and(|f| f != "v1.0") && n == 0 {
                "{tenant}"
            } else {
                match prev {
                    "users" => "{mailbox}",
                    "groups" => "{group}",
                    "mailFolders" => "{folder}",
                    "messages" => "{id}",
                    _ => seg.as_str(),
                }
            };
            out.push('/');
            out.push_str(t);
        }
        format!("{} {}", req.method, if out.is_empty() { "/" } else { &out })
    }

    fn handle(&self, req: &Req) -> Reply {
        let segs = req.segments();
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        match s[..] {
            [tenant, "oauth2", "v2.0", "token"] if req.method == Method::POST => self.token(req, tenant),
            ["v1.0", ref rest @ ..] => self.graph(req, rest),
            _ => gerr(404, "NotFound", "Resource not found."),
        }
    }

    fn server_error(&self, status: u16, variant: u32) -> Reply {
        match status {
            503 => gerr(503, "ServiceUnavailable", "Service Unavailable").with_header("Retry-After", "2"),
            502 if variant.is_multiple_of(2) => {
                Reply::text(502, "text/html", "<html><body><h2>502 Bad Gateway</h2></body></html>")
            }
            s => gerr(s, "InternalServerError", "An internal server error occurred. The operation failed."),
        }
    }

    fn too_many_requests(&self, retry_after: u64) -> Reply {
        gerr(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.")
            .with_header("Retry-After", retry_after.to_string())
    }

    fn bad_request(&self, message: &str) -> Reply {
        bad(message)
    }

    fn admit(&self, req: &Req) -> Result<Option<InFlight>, Reply> {
        let Some(mailbox) = Self::mailbox_of(req) else {
            let mut t = self.throttle();
            t.in_flight_total += 1;
            t.max_in_flight_total = t.max_in_flight_total.max(t.in_flight_total);
            return Ok(Some(Box::new(Guard { throttle: self.throttle.clone(), mailbox: None })));
        };
        let c = self.config();
        let mut t = self.throttle();
        let now = Instant::now();
        let n = t.in_flight.get(&mailbox).copied().unwrap_or(0);
        if n >= c.max_concurrent {
            t.concurrency_rejections += 1;
            return Err(gerr(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.")
                .with_header("Retry-After", "1"));
        }
        if c.per_10min > 0 {
            let w = t.budget.entry(mailbox.clone()).or_default();
            while w.front().is_some_and(|x| now.duration_since(*x) >= BUDGET_WINDOW) {
                w.pop_front();
            }
            if w.len() >= c.per_10min as usize {
                let wait = BUDGET_WINDOW.saturating_sub(now.duration_since(*w.front().unwrap_or(&now)));
                t.budget_rejections += 1;
                let secs = wait.as_millis().div_ceil(1000).clamp(1, 600);
                return Err(gerr(429, "ApplicationThrottled", "Application is over its MailboxRequests limit.")
                    .with_header("Retry-After", secs.to_string()));
            }
            w.push_back(now);
        }
        t.in_flight.insert(mailbox.clone(), n + 1);
        let max = t.max_in_flight.entry(mailbox.clone()).or_insert(0);
        *max = (*max).max(n + 1);
        t.in_flight_total += 1;
        t.max_in_flight_total = t.max_in_flight_total.max(t.in_flight_total);
        Ok(Some(Box::new(Guard { throttle: self.throttle.clone(), mailbox: Some(mailbox) })))
    }

    fn state(&self) -> Value {
        let (requests, faults, mut config) = self.control.state_parts();
        if let (Some(c), Ok(Value::Object(s))) = (config.as_object_mut(), serde_json::to_value(self.config())) {
            c.extend(s);
        }
        let st = self.st();
        let folders: Vec<Value> = self
            .initial
            .folders
            .iter()
            .map(|f| {
                let mut msgs: Vec<&Msg> = st.messages.iter().filter(|m| m.m.folder_id == f.id).collect();
                msgs.sort_by(|a, b| a.m.received_s.cmp(&b.m.received_s).then_with(|| a.m.id.cmp(&b.m.id)));
                json!({"id": f.id, "displayName": f.display_name, "wellKnownName": f.well_known,
                       "messages": msgs.into_iter().map(Self::state_message).collect::<Vec<_>>()})
            })
            .collect();
        let t = self.throttle();
        let tk = self.tok();
        json!({
            "service": "graph",
            "mailbox": self.initial.mailbox,
            "folder": self.initial.folder,
            "folders": folders,
            "truth": st.truth,
            "moves": st.moves,
            "category_patches": st.category_patches,
            "delivered": st.delivered,
            "skip_requests": st.skip_requests,
            "max_in_flight": t.max_in_flight,
            "max_in_flight_total": t.max_in_flight_total,
            "directory": self.directory_state(),
            "in_flight": t.in_flight,
            "concurrency_rejections": t.concurrency_rejections,
            "budget_rejections": t.budget_rejections,
            "tokens_issued": tk.issued,
            "token_failures": tk.failures,
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
        self.directory_reset();
        let mut t = self.throttle();
        t.max_in_flight = t.in_flight.iter().map(|(k, v)| (k.clone(), *v)).collect();
        t.concurrency_rejections = 0;
        t.max_in_flight_total = t.in_flight_total;
        t.budget.clear();
        t.budget_rejections = 0;
        drop(t);
        let mut k = self.tok();
        k.tokens.clear();
        k.issued = 0;
        k.failures = 0;
    }

    fn configure(&self, body: &Value) -> Result<Value, String> {
        configure_control(&self.control, body)?;
        let mut c = self.config();
        let num = |k: &str| body.get(k).map(|v| v.as_u64().ok_or(format!("{k} must be a non-negative integer")));
        if let Some(v) = num("token_ttl_s") {
            c.token_ttl_s = v?;
        }
        if let Some(v) = num("max_concurrent") {
            c.max_concurrent = u32::try_from(v?).map_err(|e| e.to_string())?;
        }
        if let Some(v) = num("per_10min") {
            c.per_10min = u32::try_from(v?).map_err(|e| e.to_string())?;
        }
        self.set_config(c);
        let (_, _, mut config) = self.control.state_parts();
        if let (Some(o), Ok(Value::Object(s))) = (config.as_object_mut(), serde_json::to_value(self.config())) {
            o.extend(s);
        }
        Ok(config)
    }

    fn sim_extra(&self, req: &Req) -> Option<Reply> {
        let path = req.path.trim_end_matches('/');
        if req.method != Method::POST || (path != "/_sim/graph/messages" && path != "/_sim/graph/directory") {
            return None;
        }
        let spec: Value = if req.body.is_empty() {
            json!({})
        } else {
            match serde_json::from_slice(&req.body) {
                Ok(v) => v,
                Err(e) => return Some(bad(&format!("invalid JSON: {e}"))),
            }
        };
        let done = if path == "/_sim/graph/directory" { self.directory_change(&spec) } else { self.deliver(&spec) };
        Some(match done {
            Ok(v) => Reply::json(200, &v),
            Err((s, m)) => gerr(s, "BadRequest", &m),
        })
    }
}

//! The ARMOR API simulator (contracts/armor.md): password login with one-time codes and expiring
//! FH-AUTH tokens, ARMOR-PSK signed requests (HMAC-SHA512, time window, nonce replay), account
//! scoping by X-Account-Context, accounts, and tickets with opaque page tokens.

use crate::data::{ArmorAccount, ArmorTicket, Dataset};
use crate::faults::Control;
use crate::server::{App, Reply, Req, configure_control};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use http::Method;
use rand::rngs::ChaCha8Rng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Allowed clock skew and nonce memory for ARMOR-PSK.
const PSK_WINDOW_S: i64 = 300;
/// Page size cap of /tickets/list.
const MAX_RESULTS: usize = 50;
/// One-time login codes live this long.
const CODE_TTL: Duration = Duration::from_secs(300);

/// The ARMOR-PSK signature: base64(HMAC-SHA512(secret, keyId + METHOD + pathWithQuery + nonce + ts + body)).
pub fn armor_psk_signature(
    key_id: &str,
    secret: &str,
    method: &str,
    path_and_query: &str,
    nonce: &str,
    unix_seconds: &str,
    body: &[u8],
) -> String {
    let mut mac = <Hmac<Sha512>>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(key_id.as_bytes());
    mac.update(method.to_ascii_uppercase().as_bytes());
    mac.update(path_and_query.as_bytes());
    mac.update(nonce.as_bytes());
    mac.update(unix_seconds.as_bytes());
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// A ready `Authorization` header value for ARMOR-PSK (what a correct client sends).
pub fn armor_psk_header(
    key_id: &str,
    secret: &str,
    method: &str,
    path_and_query: &str,
    nonce: &str,
    unix_seconds: i64,
    body: &[u8],
) -> String {
    let ts = unix_seconds.to_string();
    let sig = armor_psk_signature(key_id, secret, method, path_and_query, nonce, &ts, body);
    format!("ARMOR-PSK {key_id}:{sig}:{nonce}:{ts}")
}

/// The numeric id `/details` gives each status name.
fn status_id(name: &str) -> i64 {
    const IDS: [(&str, i64); 9] = [
        ("New", 1),
        ("Open", 2),
        ("In Progress", 3),
        ("Waiting for Support", 4),
        ("Waiting for Customer", 5),
        ("Closed", 6),
        ("Resolved", 7),
        ("Completed", 8),
        ("Pending Vendor", 9),
    ];
    IDS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, i)| *i).unwrap_or(10)
}

/// Read-only lookups built once from the dataset.
struct Index {
    by_id: HashMap<i64, usize>,
    children: HashMap<i64, Vec<i64>>,
    ticket_by_key: HashMap<String, usize>,
    /// Ticket indexes per account, oldest first (created, then key).
    tickets_by_account: HashMap<i64, Vec<usize>>,
}

impl Index {
    fn new(d: &Dataset) -> Index {
        let accounts = &d.armor.accounts;
        let mut by_id = HashMap::new();
        let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
        for (i, a) in accounts.iter().enumerate() {
            by_id.insert(a.id, i);
            children.entry(a.parent).or_default().push(a.id);
        }
        for c in children.values_mut() {
            c.sort_unstable();
        }
        let tickets = &d.armor.tickets;
        let ticket_by_key = tickets.iter().enumerate().map(|(i, t)| (t.issue_key_id.clone(), i)).collect();
        let mut tickets_by_account: HashMap<i64, Vec<usize>> = HashMap::new();
        for (i, t) in tickets.iter().enumerate() {
            tickets_by_account.entry(t.account_id).or_default().push(i);
        }
        // Parse each date once, not per comparison.
        let created: Vec<i64> = tickets.iter().map(|t| date_key(&t.created_date)).collect();
        for list in tickets_by_account.values_mut() {
            list.sort_by(|a, b| {
                created[*a].cmp(&created[*b]).then_with(|| tickets[*a].issue_key_id.cmp(&tickets[*b].issue_key_id))
            });
        }
        Index { by_id, children, ticket_by_key, tickets_by_account }
    }

    /// Is `id` the account `ancestor` or one of its descendants? Bounded walk up the parent chain.
    fn within(&self, accounts: &[ArmorAccount], id: i64, ancestor: i64) -> bool {
        let mut cur = id;
        for _ in 0..=accounts.len() {
            let Some(&i) = self.by_id.get(&cur) else { return false };
            if cur == ancestor {
                return true;
            }
            cur = accounts[i].parent;
        }
        false
    }

    /// `ctx` and all its descendants (breadth first, bounded by the account count).
    fn subtree(&self, ctx: i64, limit: usize) -> Vec<i64> {
        let mut out = vec![ctx];
        let mut i = 0;
        while i < out.len() && out.len() <= limit {
            if let Some(kids) = self.children.get(&out[i]) {
                out.extend(kids.iter().copied().filter(|k| *k != ctx));
            }
            i += 1;
        }
        out.truncate(limit.max(1));
        out
    }
}

fn date_key(s: &str) -> i64 {
    crate::conditions::parse_date(s).map(|d| d.timestamp()).unwrap_or(0)
}

struct AuthState {
    /// One-time login code -> issued at.
    codes: HashMap<String, Instant>,
    /// Access token -> expires at.
    tokens: HashMap<String, Instant>,
    /// "keyId:nonce" -> unix time first seen, plus insertion order for pruning.
    nonces: HashMap<String, i64>,
    nonce_order: VecDeque<(String, i64)>,
    token_ttl_s: u64,
    /// Bumped by reset: page tokens from before are "old" (400).
    generation: u64,
    rng: ChaCha8Rng,
}

pub(crate) struct ArmorSim {
    data: Arc<Dataset>,
    index: Index,
    control: Control,
    page_key: Vec<u8>,
    references: AtomicU64,
    auth: Mutex<AuthState>,
}

impl ArmorSim {
    pub fn new(data: Arc<Dataset>, control: Control, token_ttl_s: u64) -> ArmorSim {
        let index = Index::new(&data);
        let page_key = Sha256::digest(format!("page-token:{}", data.credentials.armor.secret_key)).to_vec();
        let seed = data.seed.unwrap_or(0);
        ArmorSim {
            index,
            control,
            page_key,
            references: AtomicU64::new(1),
            auth: Mutex::new(AuthState {
                codes: HashMap::new(),
                tokens: HashMap::new(),
                nonces: HashMap::new(),
                nonce_order: VecDeque::new(),
                token_ttl_s,
                generation: 1,
                rng: ChaCha8Rng::seed_from_u64(seed ^ 0xa770_0a77),
            }),
            data,
        }
    }

    fn auth(&self) -> std::sync::MutexGuard<'_, AuthState> {
        self.auth.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_token_ttl(&self, s: u64) {
        self.auth().token_ttl_s = s;
    }

    // ---- error shapes (the real service is not uniform) ----

    fn reference(&self) -> String {
        let n = self.references.fetch_add(1, Ordering::Relaxed);
        format!("ARM-{:08X}", n.wrapping_mul(2_654_435_761) & 0xffff_ffff)
    }

    fn err_code(&self, status: u16, code: &str, message: &str, detail: Option<&str>) -> Reply {
        Reply::json(
            status,
            &json!({"ErrorCode": code, "Message": message, "Detail": detail, "ReferenceId": self.reference()}),
        )
    }

    fn err_msg(status: u16, message: &str) -> Reply {
        Reply::json(status, &json!({"message": message}))
    }

    fn err_text(status: u16, text: &str) -> Reply {
        Reply::text(status, "text/plain; charset=utf-8", text)
    }

    fn unauthorized(&self, detail: &str) -> Reply {
        self.err_code(401, "Unauthorized", "Authorization has been denied for this request.", Some(detail))
    }

    // ---- auth ----

    fn new_secret(rng: &mut ChaCha8Rng, prefix: &str) -> String {
        format!("{prefix}{:016x}{:016x}", rng.next_u64(), rng.next_u64())
    }

    fn body_json(&self, req: &Req) -> Result<Value, Reply> {
        serde_json::from_slice::<Value>(&req.body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| Self::err_msg(400, "The request body must be a JSON object."))
    }

    fn authorize(&self, req: &Req) -> Reply {
        let body = match self.body_json(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let (Some(user), Some(pass)) = (body["username"].as_str(), body["password"].as_str()) else {
            return Self::err_msg(400, "username and password are required.");
        };
        let c = &self.data.credentials.armor;
        if user.eq_ignore_ascii_case(&c.mfa_username) && pass == c.mfa_password {
            return self.err_code(403, "MfaRequired", "Multi-factor authentication is required for this user.", None);
        }
        if !(user.eq_ignore_ascii_case(&c.username) && pass == c.password) {
            return self.unauthorized("Invalid username or password.");
        }
        let mut a = self.auth();
        let now = Instant::now();
        a.codes.retain(|_, t| now.duration_since(*t) < CODE_TTL);
        let code = Self::new_secret(&mut a.rng, "fhcode_");
        a.codes.insert(code.clone(), now);
        Reply::json(200, &json!({"code": code, "redirect_uri": null}))
    }

    fn issue_token(a: &mut AuthState) -> Value {
        let now = Instant::now();
        a.tokens.retain(|_, exp| *exp > now);
        let token = Self::new_secret(&mut a.rng, "fhtok_");
        let id_token = Self::new_secret(&mut a.rng, "fhid_");
        a.tokens.insert(token.clone(), now + Duration::from_secs(a.token_ttl_s));
        json!({"access_token": token, "id_token": id_token, "expires_in": a.token_ttl_s})
    }

    fn token(&self, req: &Req) -> Reply {
        let body = match self.body_json(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        if body["grant_type"].as_str() != Some("authorization_code") {
            return Self::err_msg(400, "grant_type must be authorization_code.");
        }
        let Some(code) = body["code"].as_str() else {
            return Self::err_msg(400, "code is required.");
        };
        let mut a = self.auth();
        match a.codes.remove(code) {
            Some(t) if t.elapsed() < CODE_TTL => Reply::json(200, &Self::issue_token(&mut a)),
            _ => self.unauthorized("The authorization code is invalid, expired or already used."),
        }
    }

    fn reissue(&self, req: &Req) -> Reply {
        let body = match self.body_json(req) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let Some(token) = body["token"].as_str() else {
            return Self::err_msg(400, "token is required.");
        };
        let mut a = self.auth();
        match a.tokens.get(token) {
            Some(exp) if *exp > Instant::now() => Reply::json(200, &Self::issue_token(&mut a)),
            _ => self.unauthorized("The token is invalid or expired."),
        }
    }

    /// Check the Authorization header; the caller is the MSP's root account.
    fn authenticate(&self, req: &Req) -> Result<i64, Reply> {
        let caller = self.data.credentials.armor.account_id;
        let Some(h) = req.header("authorization") else {
            return Err(self.unauthorized("Missing Authorization header."));
        };
        let (scheme, rest) = h.trim().split_once(' ').unwrap_or((h, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("FH-AUTH") {
            return match self.auth().tokens.get(rest) {
                Some(exp) if *exp > Instant::now() => Ok(caller),
                Some(_) => Err(self.unauthorized("The access token has expired.")),
                None => Err(self.unauthorized("The access token is invalid.")),
            };
        }
        if scheme.eq_ignore_ascii_case("ARMOR-PSK") {
            return self.verify_psk(req, rest).map(|_| caller);
        }
        Err(self.unauthorized("Unsupported authorization scheme."))
    }

    fn verify_psk(&self, req: &Req, value: &str) -> Result<(), Reply> {
        let parts: Vec<&str> = value.split(':').collect();
        let [key_id, sig, nonce, ts] = parts[..] else {
            return Err(self.unauthorized("Malformed ARMOR-PSK header."));
        };
        let c = &self.data.credentials.armor;
        if key_id != c.key_id {
            return Err(self.unauthorized("Unknown API key."));
        }
        let Ok(ts_num) = ts.parse::<i64>() else {
            return Err(self.unauthorized("Invalid timestamp."));
        };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        if (now - ts_num).abs() > PSK_WINDOW_S {
            return Err(self.unauthorized("Request timestamp is outside the allowed window."));
        }
        if nonce.is_empty() {
            return Err(self.unauthorized("Missing nonce."));
        }
        let Ok(sig_bytes) = STANDARD.decode(sig) else {
            return Err(self.unauthorized("Invalid signature."));
        };
        let mut mac = <Hmac<Sha512>>::new_from_slice(c.secret_key.as_bytes()).expect("HMAC takes any key length");
        for part in [
            key_id.as_bytes(),
            req.method.as_str().as_bytes(),
            req.path_and_query.as_bytes(),
            nonce.as_bytes(),
            ts.as_bytes(),
            &req.body,
        ] {
            mac.update(part);
        }
        if mac.verify_slice(&sig_bytes).is_err() {
            return Err(self.unauthorized("Invalid signature."));
        }
        let mut a = self.auth();
        while a.nonce_order.front().is_some_and(|(_, t)| now - *t > PSK_WINDOW_S) {
            if let Some((k, _)) = a.nonce_order.pop_front() {
                a.nonces.remove(&k);
            }
        }
        let k = format!("{key_id}:{nonce}");
        if a.nonces.contains_key(&k) {
            return Err(self.unauthorized("Nonce has already been used."));
        }
        a.nonces.insert(k.clone(), now);
        a.nonce_order.push_back((k, now));
        Ok(())
    }

    /// X-Account-Context must name the caller's account or a descendant.
    fn context(&self, req: &Req, caller: i64) -> Result<i64, Reply> {
        let Some(h) = req.header("x-account-context") else {
            return Err(Self::err_msg(403, "X-Account-Context header is required."));
        };
        match h.trim().parse::<i64>() {
            Ok(id) if self.index.within(&self.data.armor.accounts, id, caller) => Ok(id),
            _ => Err(Self::err_msg(403, "You do not have access to the requested account context.")),
        }
    }

    fn guard(&self, req: &Req) -> Result<i64, Reply> {
        let caller = self.authenticate(req)?;
        self.context(req, caller)
    }

    // ---- data ----

    fn account_json(a: &ArmorAccount) -> Value {
        json!({"id": a.id, "name": a.name, "currency": a.currency, "status": a.status, "parent": a.parent,
               "products": a.products, "accountType": a.account_type, "isSynced": a.is_synced, "isFreeTrial": a.is_free_trial})
    }

    fn detail_json(a: &ArmorAccount) -> Value {
        let ad = &a.address;
        json!({"accountId": a.id.to_string(), "name": a.name, "addressLine1": ad.address_line1, "addressLine2": ad.address_line2,
               "city": ad.city, "state": ad.state, "postalCode": ad.postal_code, "country": ad.country})
    }

    fn summary_json(t: &ArmorTicket) -> Value {
        json!({"issueKeyId": t.issue_key_id, "summary": t.summary, "currentStatus": t.current_status, "requestType": t.request_type,
               "reporter": t.reporter, "assignee": t.assignee, "createdDate": t.created_date, "updatedDate": t.updated_date})
    }

    fn list_accounts(&self, ctx: i64) -> Reply {
        let accounts = &self.data.armor.accounts;
        let mut ids = self.index.subtree(ctx, accounts.len());
        ids[1..].sort_unstable();
        let list: Vec<Value> =
            ids.iter().filter_map(|id| self.index.by_id.get(id).map(|i| Self::account_json(&accounts[*i]))).collect();
        Reply::json(200, &Value::Array(list))
    }

    fn get_account(&self, ctx: i64, id: &str) -> Reply {
        let accounts = &self.data.armor.accounts;
        match id.parse::<i64>() {
            Ok(id) if self.index.within(accounts, id, ctx) => {
                Reply::json(200, &Self::detail_json(&accounts[self.index.by_id[&id]]))
            }
            _ => Self::err_msg(404, "Account not found."),
        }
    }

    fn page_tag(&self, ctx: i64, filter: &str, offset: usize, generation: u64) -> String {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.page_key).expect("HMAC takes any key length");
        mac.update(format!("{ctx}|{filter}|{offset}|{generation}").as_bytes());
        mac.finalize().into_bytes()[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    fn encode_page_token(&self, ctx: i64, filter: &str, offset: usize, generation: u64) -> String {
        URL_SAFE_NO_PAD.encode(format!("{offset}.{generation}.{}", self.page_tag(ctx, filter, offset, generation)))
    }

    /// The offset a token stands for, if it is genuine, current and issued for this very query.
    fn decode_page_token(&self, token: &str, ctx: i64, filter: &str, generation: u64) -> Option<usize> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).ok()?).ok()?;
        let mut it = raw.split('.');
        let (offset, token_gen, tag) = (it.next()?.parse::<usize>().ok()?, it.next()?.parse::<u64>().ok()?, it.next()?);
        if it.next().is_some() || token_gen != generation || tag != self.page_tag(ctx, filter, offset, generation) {
            return None;
        }
        Some(offset)
    }

    fn list_tickets(&self, req: &Req, ctx: i64) -> Reply {
        let tickets = &self.data.armor.tickets;
        let request_type = req.param("requestType").map(str::trim).filter(|s| !s.is_empty());
        let max = match req.param("maxResults").map(str::trim).filter(|s| !s.is_empty()) {
            None => MAX_RESULTS,
            Some(s) => match s.parse::<i64>() {
                Ok(n) => n.clamp(1, MAX_RESULTS as i64) as usize,
                Err(_) => return Self::err_msg(400, "maxResults must be an integer."),
            },
        };
        let order_by = req.param("orderBy").unwrap_or("created").trim().to_ascii_lowercase();
        if !matches!(order_by.as_str(), "created" | "updated") {
            return Self::err_msg(400, "orderBy must be created or updated.");
        }
        let dir = req.param("orderByDirection").unwrap_or("desc").trim().to_ascii_lowercase();
        if !matches!(dir.as_str(), "asc" | "desc") {
            return Self::err_msg(400, "orderByDirection must be asc or desc.");
        }
        let mut items: Vec<usize> = self
            .index
            .tickets_by_account
            .get(&ctx)
            .map(|v| {
                v.iter()
                    .copied()
                    .filter(|i| request_type.is_none_or(|rt| tickets[*i].request_type.eq_ignore_ascii_case(rt)))
                    .collect()
            })
            .unwrap_or_default();
        if order_by == "updated" {
            items.sort_by_cached_key(|i| (date_key(&tickets[*i].updated_date), tickets[*i].issue_key_id.clone()));
        }
        if dir == "desc" {
            items.reverse();
        }
        // A token only continues the listing it came from (same context, filter and order).
        let filter = format!("{}|{order_by}|{dir}", request_type.unwrap_or("").to_lowercase());
        let generation = self.auth().generation;
        let offset = match req.param("nextPageToken").map(str::trim).filter(|s| !s.is_empty() && *s != "null") {
            None => 0,
            Some(tok) => match self.decode_page_token(tok, ctx, &filter, generation) {
                Some(o) if o <= items.len() => o,
                _ => return Self::err_msg(400, "The nextPageToken is invalid or expired."),
            },
        };
        let end = (offset + max).min(items.len());
        let page: Vec<Value> = items[offset..end].iter().map(|i| Self::summary_json(&tickets[*i])).collect();
        let mut out = serde_json::Map::new();
        if end < items.len() {
            out.insert("nextPageToken".into(), json!(self.encode_page_token(ctx, &filter, end, generation)));
        } else if ctx % 2 == 0 {
            // The last page says so either with null or by leaving the key out.
            out.insert("nextPageToken".into(), Value::Null);
        }
        out.insert("maxResults".into(), json!(max));
        out.insert("total".into(), json!(items.len()));
        out.insert("items".into(), Value::Array(page));
        Reply::json(200, &Value::Object(out))
    }

    fn ticket_in_context(&self, ctx: i64, key: &str) -> Option<&ArmorTicket> {
        let t = &self.data.armor.tickets[*self.index.ticket_by_key.get(key)?];
        (t.account_id == ctx).then_some(t)
    }

    fn ticket_details(&self, ctx: i64, key: &str) -> Reply {
        let Some(t) = self.ticket_in_context(ctx, key) else {
            return self.err_code(404, "TicketNotFound", "The ticket was not found.", Some(key));
        };
        Reply::json(
            200,
            &json!({
            "issueKeyId": t.issue_key_id, "summary": t.summary, "description": t.description,
            "createdDate": t.created_date, "updatedDate": t.updated_date,
            "currentStatus": {"name": t.current_status, "id": status_id(&t.current_status)},
            "requestType": t.request_type, "reporter": t.reporter, "assignee": t.assignee, "priority": t.priority}),
        )
    }

    fn ticket_comments(&self, ctx: i64, key: &str) -> Reply {
        match self.ticket_in_context(ctx, key) {
            None => self.err_code(404, "TicketNotFound", "The ticket was not found.", Some(key)),
            // Old tickets without comments: the real service answers 404 here instead of [].
            Some(t) if t.comments404 => Self::err_text(404, "Not Found"),
            Some(t) => Reply::json(200, &serde_json::to_value(&t.comments).unwrap_or(Value::Array(vec![]))),
        }
    }
}

impl App for ArmorSim {
    fn control(&self) -> &Control {
        &self.control
    }

    fn route(&self, req: &Req) -> String {
        let segs: Vec<String> = req.segments().iter().map(|s| s.to_ascii_lowercase()).collect();
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let t = match s[..] {
            ["auth", "authorize"] => "/auth/authorize",
            ["auth", "token"] => "/auth/token",
            ["auth", "token", "reissue"] => "/auth/token/reissue",
            ["accounts"] => "/accounts",
            ["accounts", _] => "/accounts/{id}",
            ["tickets", "list"] => "/tickets/list",
            ["tickets", _, "details"] => "/tickets/{key}/details",
            ["tickets", _, "comments"] => "/tickets/{key}/comments",
            _ => "/other",
        };
        format!("{} {t}", req.method)
    }

    fn handle(&self, req: &Req) -> Reply {
        let segs = req.segments();
        let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
        let s: Vec<&str> = lower.iter().map(String::as_str).collect();
        let get = req.method == Method::GET;
        let post = req.method == Method::POST;
        let with_ctx = |f: &dyn Fn(i64) -> Reply| match self.guard(req) {
            Ok(ctx) => f(ctx),
            Err(r) => r,
        };
        match s[..] {
            ["auth", "authorize"] if post => self.authorize(req),
            ["auth", "token"] if post => self.token(req),
            ["auth", "token", "reissue"] if post => self.reissue(req),
            ["accounts"] if get => with_ctx(&|ctx| self.list_accounts(ctx)),
            ["accounts", _] if get => with_ctx(&|ctx| self.get_account(ctx, &segs[1])),
            ["tickets", "list"] if get => with_ctx(&|ctx| self.list_tickets(req, ctx)),
            ["tickets", _, "details"] if get => with_ctx(&|ctx| self.ticket_details(ctx, &segs[1])),
            ["tickets", _, "comments"] if get => with_ctx(&|ctx| self.ticket_comments(ctx, &segs[1])),
            ["auth", ..] => Self::err_msg(405, "The requested resource does not support this method."),
            ["accounts", ..] | ["tickets", ..] => {
                with_ctx(&|_| Self::err_msg(405, "The requested resource does not support this method."))
            }
            _ => Self::err_text(404, "Not Found"),
        }
    }

    fn server_error(&self, status: u16, variant: u32) -> Reply {
        match status {
            502 => Reply::text(
                502,
                "text/html",
                "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
            ),
            503 if variant.is_multiple_of(2) => Self::err_msg(503, "Service Unavailable"),
            503 => Self::err_text(503, "Service Unavailable"),
            s => self.err_code(s, "InternalServerError", "An unexpected error occurred.", None),
        }
    }

    fn too_many_requests(&self, retry_after: u64) -> Reply {
        Self::err_msg(429, "Too many requests. Please retry later.").with_header("Retry-After", retry_after.to_string())
    }

    fn bad_request(&self, message: &str) -> Reply {
        Self::err_msg(400, message)
    }

    fn state(&self) -> Value {
        let (requests, faults, mut config) = self.control.state_parts();
        let a = self.auth();
        config["token_ttl_s"] = json!(a.token_ttl_s);
        let now = Instant::now();
        json!({
            "service": "armor",
            "accounts": self.data.armor.accounts,
            "tickets": self.data.armor.tickets,
            "sessions": {"active_tokens": a.tokens.values().filter(|e| **e > now).count(), "pending_codes": a.codes.len(),
                         "nonces_remembered": a.nonces.len(), "page_token_generation": a.generation},
            "requests_total": requests.as_object().map_or(0, |m| m.values().filter_map(Value::as_u64).sum::<u64>()),
            "requests": requests,
            "faults": faults,
            "config": config,
            "events": self.control.events(),
        })
    }

    fn reset(&self) {
        self.control.reset();
        let mut a = self.auth();
        a.codes.clear();
        a.tokens.clear();
        a.nonces.clear();
        a.nonce_order.clear();
        a.generation += 1;
    }

    fn configure(&self, body: &Value) -> Result<Value, String> {
        configure_control(&self.control, body)?;
        if let Some(t) = body.get("token_ttl_s") {
            self.set_token_ttl(t.as_u64().ok_or("token_ttl_s must be a non-negative integer")?);
        }
        let (_, _, mut config) = self.control.state_parts();
        config["token_ttl_s"] = json!(self.auth().token_ttl_s);
        Ok(config)
    }
}

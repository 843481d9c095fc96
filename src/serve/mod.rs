//! The component as an HTTP service (`wasi:http/incoming-handler`): a plain request (method,
//! path, headers, body) in, a plain response out. Pure: the WASI glue that reads the request and
//! writes the answer is `http/incoming.rs`; everything here is tested natively.
//!
//! Routes, statuses and bodies are the harness's `http` mode (`tests/harness/src/server.rs`), so
//! both servers answer alike:
//! - `GET /api/v1/health` → 200 `{"status": "ok", ...}`, open;
//! - `GET /api/v1/info` → 200 `{"actions": [...]}`;
//! - `POST /actions/<name>` (an action_start) → the action_event: 200 ok, 500 the action's own
//!   error; 400 a body that is not an action_start, names another action or has an input or
//!   connection of the wrong shape; 404 an unknown action. `POST /actions/<name>/test` runs
//!   test_connection with the message's connection;
//! - `POST /webhooks/halo` → `{"events": [<trigger_event>...]}` (see `webhooks.rs`);
//! - anything else 404; a body over [`MAX_BODY`] 413.
//!
//! `PSA_BRIDGE_HTTP_TOKEN`, when set, is required as `Authorization: Bearer <token>` on every
//! route but the health check and the webhooks (401 with `WWW-Authenticate: Bearer`): Halo sends
//! one `Authorization` header, which carries the webhook secret (`PSA_BRIDGE_HALO_WEBHOOK_SECRET`)
//! instead. Without a secret configured the webhook answers 503 and accepts nothing.

pub mod dispatch;
pub mod protocol;
pub mod webhooks;

use crate::types::PluginError;
use dispatch::Via;
use protocol::{event_error, event_ok, plain_error};
use serde_json::{Value, json};

/// The largest request body read; a longer one is answered 413.
pub const MAX_BODY: usize = 16 << 20;

pub const TOKEN_VARIABLE: &str = "PSA_BRIDGE_HTTP_TOKEN";
pub const HALO_SECRET_VARIABLE: &str = "PSA_BRIDGE_HALO_WEBHOOK_SECRET";

#[derive(Clone, Debug, Default)]
pub struct Request {
    pub method: String,
    /// The path with its query, as sent (`/webhooks/halo?trigger=ticket_created`).
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The server's settings, from its environment (`wasi:cli/environment`).
#[derive(Clone, Default)]
pub struct Config {
    pub token: Option<String>,
    pub halo_webhook_secret: Option<String>,
}

impl Config {
    /// Reads [`TOKEN_VARIABLE`] and [`HALO_SECRET_VARIABLE`]; blank means unset.
    pub fn from_env() -> Config {
        let read = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        Config { token: read(TOKEN_VARIABLE), halo_webhook_secret: read(HALO_SECRET_VARIABLE) }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("token", &self.token.as_ref().map(|_| "********"))
            .field("halo_webhook_secret", &self.halo_webhook_secret.as_ref().map(|_| "********"))
            .finish()
    }
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn json_response(status: u16, body: &Value) -> Response {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if status == 401 {
        headers.push(("www-authenticate".to_string(), "Bearer".to_string()));
    }
    Response { status, headers, body: serde_json::to_vec(body).unwrap_or_default() }
}

/// The answer to a body longer than [`MAX_BODY`] (the glue stops reading there).
pub fn too_large() -> Response {
    json_response(413, &plain_error(format!("the body is over {MAX_BODY} bytes")))
}

/// Answers one request. `via` is the transport actions run on (`None`: WASI).
pub fn handle(request: &Request, config: &Config, via: Via<'_>) -> Response {
    if request.body.len() > MAX_BODY {
        return too_large();
    }
    let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
    let path = path.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let method = request.method.to_ascii_uppercase();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["api", "v1", "health"]) => {
            return json_response(
                200,
                &json!({"status": "ok", "service": "psa-bridge", "version": env!("CARGO_PKG_VERSION")}),
            );
        }
        ("POST", ["webhooks", "halo"]) => return halo_webhook(request, config, query),
        _ => {}
    }
    if let Some(token) = &config.token {
        let given = request.header("authorization").unwrap_or_default().trim();
        let given = given.strip_prefix("Bearer ").or_else(|| given.strip_prefix("bearer ")).unwrap_or_default();
        if !webhooks::same(given.trim().as_bytes(), token.as_bytes()) {
            return json_response(401, &plain_error("a bearer token is required (Authorization: Bearer <token>)"));
        }
    }
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["api", "v1", "info"]) => json_response(200, &json!({"actions": dispatch::names()})),
        ("POST", ["actions", action]) => run(request, action, false, via),
        ("POST", ["actions", action, "test"]) => run(request, action, true, via),
        _ => json_response(
            404,
            &plain_error(
                "routes: POST /actions/<name>, POST /actions/<name>/test, POST /webhooks/halo, GET /api/v1/health",
            ),
        ),
    }
}

fn client_error(status: u16, cause: String, assistance: &str, meta: &Value) -> Response {
    json_response(
        status,
        &event_error(&PluginError { cause, assistance: assistance.into(), data: String::new() }, "", meta),
    )
}

/// One action_start for the path's `action` (test_connection with its connection when `test`).
fn run(request: &Request, action: &str, test: bool, via: Via<'_>) -> Response {
    let Some(entry) = dispatch::find(action) else {
        return client_error(
            404,
            format!("There is no action {action:?}."),
            &format!("Post to one of: {}.", dispatch::names().join(", ")),
            &json!({}),
        );
    };
    let start = match protocol::parse_action_start(&request.body) {
        Ok(start) => start,
        Err(problem) => {
            return client_error(
                400,
                format!("The body is not an action_start message: {problem}."),
                "Send an action_start message (help.md describes it).",
                &json!({}),
            );
        }
    };
    if let Some(named) = start.action.as_deref().filter(|named| *named != action) {
        return client_error(
            400,
            format!(
                "The body is not an action_start message: it names the action {named:?}, but it was posted to /actions/{action}."
            ),
            "Send an action_start message (help.md describes it).",
            &json!({}),
        );
    }
    let malformed = |problem: String| {
        client_error(
            400,
            format!("The message is malformed: {problem}."),
            "Correct the field named above; the spec (plugin.spec.yaml) lists every input and its type.",
            &start.meta,
        )
    };
    let connection = match dispatch::connection(start.connection.clone()) {
        Ok(connection) => connection,
        Err(problem) => return malformed(problem),
    };
    let entry = if test { dispatch::find("test_connection").unwrap_or(entry) } else { entry };
    crate::log::capture();
    let outcome = entry.run(via, &connection, start.input.clone());
    let log = crate::log::captured();
    match outcome {
        Err(problem) => malformed(problem),
        Ok(Ok(output)) => json_response(200, &event_ok(output, &log, &start.meta)),
        Ok(Err(error)) => json_response(500, &event_error(&error, &log, &start.meta)),
    }
}

/// A Halo delivery: the secret first (nothing is read before it checks out), then all of the body.
fn halo_webhook(request: &Request, config: &Config, query: &str) -> Response {
    let Some(secret) = &config.halo_webhook_secret else {
        return json_response(
            503,
            &plain_error(format!(
                "the Halo webhook is not configured: set {HALO_SECRET_VARIABLE} where the component runs"
            )),
        );
    };
    if !webhooks::authorized(request.header("authorization"), secret) {
        let mut response =
            json_response(401, &plain_error("the webhook secret is missing or wrong (Basic password or Bearer token)"));
        response.headers.retain(|(name, _)| name != "www-authenticate");
        response.headers.push(("www-authenticate".into(), "Basic realm=\"psa-bridge webhooks\"".into()));
        return response;
    }
    let trigger = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == "trigger")
        .map(|(_, value)| value);
    match webhooks::events(&request.body, trigger) {
        Ok(events) => json_response(200, &json!({"events": events})),
        Err(problem) => {
            json_response(400, &plain_error(format!("the delivery was refused, no event emitted: {problem}")))
        }
    }
}

#[cfg(test)]
mod tests;

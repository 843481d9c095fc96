//! `http` mode: the platform's REST interface, one fresh component instance per request.
//! Served safely: an optional bearer token on every route but the health check, client mistakes
//! answered 4xx (a body that is not an action_start, or that names another action than the
//! path), and the operator's host allow-list applied to every connection (see `CallOptions`).
//! `POST /webhooks/<name>` goes to the component's own `wasi:http/incoming-handler` (it checks the
//! webhook secret itself); the trigger events it answers are printed to stdout one per line, or
//! posted one by one to `--dispatcher`, and its answer is the webhook's.

use crate::Status;
use crate::message;
use crate::plugin::{CallOptions, Plugin};
use anyhow::Result;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::net::TcpListener;

/// Largest action_start body accepted.
const MAX_BODY: usize = 64 << 20;
/// Largest webhook delivery passed on (the component's own bound).
const MAX_WEBHOOK_BODY: usize = 16 << 20;

/// How the server itself is protected, and where webhook events go.
#[derive(Clone, Default)]
pub struct ServeOptions {
    /// Every request but `GET /api/v1/health` and the webhooks (which the component checks against
    /// its webhook secret) must carry `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// The component's environment when it handles a webhook (the token and the webhook secret,
    /// by their variable names; nothing else).
    pub webhook_env: Vec<(String, String)>,
    /// `http://host:port/path` to POST each trigger event to; stdout, one per line, when absent.
    pub dispatcher: Option<String>,
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.webhook_env.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("ServeOptions")
            .field("token", &self.token.as_ref().map(|_| "********"))
            .field("webhook_env", &names)
            .field("dispatcher", &self.dispatcher)
            .finish()
    }
}

pub async fn serve(
    plugin: Arc<Plugin>,
    listener: TcpListener,
    options: CallOptions,
    serve: ServeOptions,
) -> Result<()> {
    let (options, serve) = (Arc::new(options), Arc::new(serve));
    loop {
        let (stream, _) = listener.accept().await?;
        let (plugin, options, serve) = (plugin.clone(), options.clone(), serve.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(plugin.clone(), options.clone(), serve.clone(), request));
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// Compares without stopping at the first difference, so the time taken says nothing of the token.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorized(serve: &ServeOptions, request: &Request<Incoming>) -> bool {
    let Some(token) = &serve.token else { return true };
    let given = request.headers().get(hyper::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let given = given.strip_prefix("Bearer ").or_else(|| given.strip_prefix("bearer ")).unwrap_or_default();
    same(given.trim().as_bytes(), token.as_bytes())
}

fn client_error(status: StatusCode, cause: String, assistance: &str) -> (StatusCode, Value) {
    (status, message::event_error(message::error(cause, assistance, ""), "", &json!({})))
}

async fn handle(
    plugin: Arc<Plugin>,
    options: Arc<CallOptions>,
    serve: Arc<ServeOptions>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = request.uri().path().trim_end_matches('/').to_string();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if request.method() == Method::POST && segments.len() == 2 && segments[0] == "webhooks" {
        return Ok(webhook(&plugin, &options, &serve, request).await);
    }
    let health = request.method() == Method::GET && segments == ["api", "v1", "health"];
    let (status, body) = if !health && !authorized(&serve, &request) {
        (StatusCode::UNAUTHORIZED, json!({"error": "a bearer token is required (Authorization: Bearer <token>)"}))
    } else {
        match (request.method(), segments.as_slice()) {
            (&Method::GET, ["api", "v1", "health"]) => (StatusCode::OK, json!({"status": "ok"})),
            (&Method::GET, ["api", "v1", "info"]) => {
                (StatusCode::OK, json!({"actions": plugin.actions.keys().collect::<Vec<_>>()}))
            }
            (&Method::POST, ["actions", action]) | (&Method::POST, ["actions", action, "test"]) => {
                let test = segments.len() == 3;
                let action = action.to_string();
                match Limited::new(request.into_body(), MAX_BODY).collect().await {
                    Ok(collected) => {
                        let text = String::from_utf8_lossy(&collected.to_bytes()).into_owned();
                        run(&plugin, &options, &text, &action, test).await
                    }
                    Err(_) => {
                        (StatusCode::PAYLOAD_TOO_LARGE, json!({"error": format!("the body is over {MAX_BODY} bytes")}))
                    }
                }
            }
            _ => (
                StatusCode::NOT_FOUND,
                json!({"error": "routes: POST /actions/<name>, POST /actions/<name>/test, GET /api/v1/health"}),
            ),
        }
    };
    let mut response = Response::builder().status(status).header("content-type", "application/json");
    if status == StatusCode::UNAUTHORIZED {
        response = response.header("www-authenticate", "Bearer");
    }
    Ok(response.body(Full::new(Bytes::from(serde_json::to_vec(&body).unwrap_or_default()))).unwrap_or_default())
}

fn json_answer(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(body).unwrap_or_default())))
        .unwrap_or_default()
}

/// A webhook delivery, answered by the component itself; its events go on to the dispatcher.
async fn webhook(
    plugin: &Plugin,
    options: &CallOptions,
    serve: &ServeOptions,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    if !plugin.serves_http() {
        return json_answer(StatusCode::NOT_FOUND, &json!({"error": "this component serves no webhooks"}));
    }
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_WEBHOOK_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return json_answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                &json!({"error": format!("the body is over {MAX_WEBHOOK_BODY} bytes")}),
            );
        }
    };
    let answer = match plugin
        .handle_http(Request::from_parts(parts, Full::new(body)), &serve.webhook_env, options)
        .await
    {
        Ok(answer) => answer,
        Err(failure) => {
            return json_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"error": format!("the plugin stopped unexpectedly while handling the webhook: {failure:#}")}),
            );
        }
    };
    if answer.status == 200
        && let Ok(delivered) = serde_json::from_slice::<Value>(&answer.body)
    {
        for event in delivered["events"].as_array().into_iter().flatten() {
            dispatch(serve.dispatcher.as_deref(), event).await;
        }
    }
    let mut response = Response::builder().status(answer.status);
    for (name, value) in &answer.headers {
        response = response.header(name, value);
    }
    response.body(Full::new(Bytes::from(answer.body))).unwrap_or_default()
}

/// One trigger event: a line on stdout, or a POST to the dispatcher (a failure is reported on
/// stderr; the webhook's answer stays the component's).
async fn dispatch(dispatcher: Option<&str>, event: &Value) {
    let line = serde_json::to_string(event).unwrap_or_default();
    let Some(url) = dispatcher else {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
        return;
    };
    if let Err(problem) = post(url, line).await {
        crate::progress::print_line(&format!("psa-bridge-host: the dispatcher did not take an event: {problem}"));
    }
}

async fn post(url: &str, body: String) -> Result<()> {
    let parsed = url::Url::parse(url)?;
    anyhow::ensure!(parsed.scheme() == "http", "only http:// dispatchers are supported");
    let status =
        tokio::time::timeout(std::time::Duration::from_secs(30), crate::schedule::post(&parsed, body.as_bytes()))
            .await??;
    anyhow::ensure!((200..300).contains(&status), "it answered {status}");
    Ok(())
}

/// One action_start for `action` (the path's), after the checks a client's mistake fails.
async fn run(plugin: &Plugin, options: &CallOptions, text: &str, action: &str, test: bool) -> (StatusCode, Value) {
    if !plugin.actions.contains_key(action) {
        let known = plugin.actions.keys().cloned().collect::<Vec<_>>().join(", ");
        return client_error(
            StatusCode::NOT_FOUND,
            format!("There is no action {action:?}."),
            &format!("Post to one of: {known}."),
        );
    }
    let text = match with_action(text, action) {
        Ok(text) => text,
        Err(cause) => {
            return client_error(
                StatusCode::BAD_REQUEST,
                cause,
                "Send an action_start message (help.md; the harness's `sample` command prints one).",
            );
        }
    };
    let (event, status, _) = crate::run_message_with_status(plugin, &text, test, options).await;
    let code = match status {
        Status::Ok => StatusCode::OK,
        Status::Malformed => StatusCode::BAD_REQUEST,
        Status::Refused => StatusCode::FORBIDDEN,
        Status::ActionError | Status::Crashed => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (code, event)
}

/// The message with the path's action: a body may leave `body.action` out, not name another.
fn with_action(text: &str, action: &str) -> Result<String, String> {
    let mut message: Value = serde_json::from_str(text)
        .map_err(|e| format!("The body is not an action_start message: it is not JSON ({e})."))?;
    let Some(body) = message.get_mut("body").and_then(Value::as_object_mut) else {
        return Err("The body is not an action_start message: it has no `body` object.".into());
    };
    match body.get("action") {
        None | Some(Value::Null) => {
            body.insert("action".into(), Value::String(action.to_string()));
        }
        Some(Value::String(named)) if named == action => {}
        Some(named) => {
            return Err(format!("The body names the action {named}, but it was posted to /actions/{action}."));
        }
    }
    message::parse_action_start(&message.to_string())
        .map_err(|problem| format!("The body is not an action_start message: {problem}."))?;
    Ok(message.to_string())
}

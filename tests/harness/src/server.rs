//! `http` mode: the platform's REST interface, one fresh component instance per request.

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

pub async fn serve(plugin: Arc<Plugin>, listener: TcpListener, options: CallOptions) -> Result<()> {
    let options = Arc::new(options);
    loop {
        let (stream, _) = listener.accept().await?;
        let (plugin, options) = (plugin.clone(), options.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(plugin.clone(), options.clone(), request));
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn handle(
    plugin: Arc<Plugin>,
    options: Arc<CallOptions>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = request.uri().path().trim_end_matches('/').to_string();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (status, body) = match (request.method(), segments.as_slice()) {
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
                    let text = with_action(&text, &action);
                    let (event, ok) = crate::run_message(&plugin, &text, test, &options).await;
                    (if ok { StatusCode::OK } else { StatusCode::INTERNAL_SERVER_ERROR }, event)
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
    };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default())
}

/// The route names the action; a body that names none (or another) is run as the route says.
fn with_action(text: &str, action: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(mut message) => {
            if let Some(body) = message.get_mut("body").and_then(Value::as_object_mut) {
                body.insert("action".into(), Value::String(action.to_string()));
            }
            message.to_string()
        }
        Err(_) => text.to_string(),
    }
}

//! The HTTP plumbing shared by the simulators: hyper 1 connection loop, request/answer types,
//! the fault pipeline and the `/_sim/*` endpoints.
//!
//! A service future that returns `Err` makes hyper close the connection without writing an answer:
//! that is how "dropped connection" and "write landed but the answer was lost" are simulated.

use crate::faults::{Control, Decision, Trickle};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

/// Largest request body read (bigger ones get a 413-ish error in the service's shape).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// One request, fully read.
pub(crate) struct Req {
    pub method: Method,
    /// Path as sent (still percent-encoded).
    pub path: String,
    /// Raw query string as sent (without '?').
    pub query: Option<String>,
    /// Path with query, exactly as sent: what ARMOR-PSK signs.
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Decoded query parameters in order.
    pub params: Vec<(String, String)>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// First query parameter with this name (case-insensitive, like both real services).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Path segments, percent-decoded, without empty ones (so trailing slashes do not matter).
    pub fn segments(&self) -> Vec<String> {
        self.path.split('/').filter(|s| !s.is_empty()).map(decode).collect()
    }

    pub fn is_write(&self) -> bool {
        matches!(self.method, Method::POST | Method::PUT | Method::PATCH)
    }
}

/// Percent-decode; `+` is a space (both services run query strings through form decoding).
pub(crate) fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_decode_str(&s).decode_utf8_lossy().into_owned()
}

pub(crate) fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    let Some(q) = q else { return Vec::new() };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// An answer.
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Processing time: the answer goes out this long after the work was done (Halo's creates).
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, v: &Value) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json; charset=utf-8".into())],
            body: serde_json::to_vec(v).unwrap_or_default(),
            delay: Duration::ZERO,
        }
    }

    pub fn text(status: u16, content_type: &str, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
            delay: Duration::ZERO,
        }
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    fn into_response(self) -> Response<SimBody> {
        let body = SimBody::Whole(Some(Bytes::from(self.body)));
        Self::respond(self.status, &self.headers, body)
    }

    fn respond(status: u16, headers: &[(String, String)], body: SimBody) -> Response<SimBody> {
        let mut b = Response::builder().status(status);
        for (k, v) in headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b.body(body).unwrap_or_else(|_| {
            let mut r = Response::new(SimBody::Whole(Some(Bytes::from_static(b"invalid response header"))));
            *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
    }

    /// The headers now (with the Content-Length of the whole body), the body in `t.chunks` pieces
    /// over `t.duration_ms` from a task of its own. `trickle_done` is recorded just before the last
    /// piece is handed to the connection, so a client cannot have the whole body before it.
    fn into_trickle(self, t: &Trickle, app: Arc<dyn App>, about: Value) -> Response<SimBody> {
        let mut headers = self.headers;
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-length"));
        headers.push(("Content-Length".into(), self.body.len().to_string()));
        let chunks = t.chunks.max(1) as usize;
        let size = self.body.len().div_ceil(chunks).max(1);
        let pieces: Vec<Bytes> = self.body.chunks(size).map(Bytes::copy_from_slice).collect();
        let gap = Duration::from_millis(t.duration_ms / (pieces.len().max(2) as u64 - 1));
        let (tx, rx) = mpsc::channel(1);
        let record = move |event: &str| {
            let mut e = about.clone();
            e["event"] = json!(event);
            app.control().record(e);
        };
        record("trickle_start");
        tokio::spawn(async move {
            let last = pieces.len().saturating_sub(1);
            for (i, piece) in pieces.into_iter().enumerate() {
                if i > 0 {
                    tokio::time::sleep(gap).await;
                }
                if i == last {
                    record("trickle_done");
                }
                if tx.send(piece).await.is_err() {
                    return; // the client went away
                }
            }
        });
        Self::respond(self.status, &headers, SimBody::Trickle(rx))
    }
}

/// An answer's body: whole at once, or in pieces as a trickle task sends them.
pub(crate) enum SimBody {
    Whole(Option<Bytes>),
    Trickle(mpsc::Receiver<Bytes>),
}

impl Body for SimBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            SimBody::Whole(bytes) => Poll::Ready(bytes.take().filter(|b| !b.is_empty()).map(|b| Ok(Frame::data(b)))),
            SimBody::Trickle(rx) => rx.poll_recv(cx).map(|piece| piece.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, SimBody::Whole(None)) || matches!(self, SimBody::Whole(Some(b)) if b.is_empty())
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            SimBody::Whole(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            SimBody::Trickle(_) => SizeHint::default(),
        }
    }
}

/// One simulated service.
pub(crate) trait App: Send + Sync + 'static {
    fn control(&self) -> &Control;
    /// "METHOD /route/{id}" template for the request counters.
    fn route(&self, req: &Req) -> String;
    fn handle(&self, req: &Req) -> Reply;
    /// An injected 5xx in the service's error shape (`variant` picks among shapes).
    fn server_error(&self, status: u16, variant: u32) -> Reply;
    /// A 429 in the service's error shape (with Retry-After where the service sends one).
    fn too_many_requests(&self, retry_after: u64) -> Reply;
    fn bad_request(&self, message: &str) -> Reply;
    fn state(&self) -> Value;
    fn reset(&self);
    /// Apply a `/_sim/config` body; returns the new config.
    fn configure(&self, body: &Value) -> Result<Value, String>;
    /// Service-specific `/_sim/*` endpoints (never faulted, never counted); None = unknown.
    fn sim_extra(&self, _req: &Req) -> Option<Reply> {
        None
    }
    /// Called for every counted request before anything else happens to it (injected latency
    /// included): `Err` answers at once (e.g. Graph's concurrency 429), `Ok(Some(guard))` is held
    /// until the answer is handed to the connection, so a service can count what is in flight
    /// truthfully.
    fn admit(&self, _req: &Req) -> Result<Option<InFlight>, Reply> {
        Ok(None)
    }
    /// Whether a lost answer may hit this request (the write happened, the answer did not come):
    /// POST/PUT/PATCH by default; a service whose reads come as POST says otherwise.
    fn is_write(&self, req: &Req) -> bool {
        req.is_write()
    }
}

/// What `App::admit` hands back to be dropped when the answer goes out.
pub(crate) type InFlight = Box<dyn std::any::Any + Send>;

/// The error that makes hyper close the connection without answering.
#[derive(Debug)]
pub(crate) struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

/// Accept connections until `stop` flips.
pub(crate) async fn serve(listener: TcpListener, app: Arc<dyn App>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((s, _)) => s,
                    Err(_) => {
                        // e.g. out of file descriptors: back off instead of spinning.
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let mut stop = stop.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| handle(app.clone(), req));
                    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
                    tokio::select! {
                        _ = conn => {}
                        _ = stop.changed() => {}
                    }
                });
            }
        }
    }
}

async fn handle(app: Arc<dyn App>, req: Request<Incoming>) -> Result<Response<SimBody>, Dropped> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => return Ok(app.bad_request("request body unreadable or too large").into_response()),
    };
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    let query = parts.uri.query().map(str::to_string);
    let req = Req {
        method: parts.method,
        path: parts.uri.path().to_string(),
        params: parse_query(query.as_deref()),
        query,
        path_and_query,
        headers: parts.headers,
        body,
    };
    if req.path == "/_sim" || req.path.starts_with("/_sim/") {
        return Ok(sim_endpoint(&*app, &req).into_response());
    }
    let route = app.route(&req);
    let page = req.param("page").map(str::to_string);
    app.control().record(json!({"event": "request", "route": route, "page": page}));
    let _in_flight = match app.admit(&req) {
        Ok(guard) => guard,
        Err(reply) => return Ok(reply.into_response()),
    };
    let trickle = app.control().trickle_for(&route, page.as_deref());
    let latency = app.control().latency();
    if !latency.is_zero() && trickle.is_none() {
        tokio::time::sleep(latency).await;
    }
    let reply = match app.control().decide(&route, app.is_write(&req), Instant::now()) {
        Decision::Drop => return Err(Dropped),
        Decision::RateLimited(s) | Decision::Fault429(s) => app.too_many_requests(s),
        Decision::Fault5xx(status, variant) => app.server_error(status, variant),
        Decision::Proceed { lose_answer } => {
            let reply = app.handle(&req);
            if !reply.delay.is_zero() {
                tokio::time::sleep(reply.delay).await;
            }
            if lose_answer {
                return Err(Dropped);
            }
            if let Some(t) = trickle {
                let about = json!({"route": route, "page": page});
                return Ok(reply.into_trickle(&t, app.clone(), about));
            }
            reply
        }
    };
    Ok(reply.into_response())
}

/// `GET /_sim/state`, `POST /_sim/reset`, `GET|POST /_sim/config`: never faulted, never counted.
fn sim_endpoint(app: &dyn App, req: &Req) -> Reply {
    match (req.method.as_str(), req.path.trim_end_matches('/')) {
        ("GET", "/_sim/state") => Reply::json(200, &app.state()),
        ("POST", "/_sim/reset") => {
            app.reset();
            Reply::json(200, &serde_json::json!({"reset": true}))
        }
        ("GET", "/_sim/config") => match app.configure(&Value::Object(Default::default())) {
            Ok(v) => Reply::json(200, &v),
            Err(e) => Reply::json(400, &serde_json::json!({"error": e})),
        },
        ("POST", "/_sim/config") => {
            let body: Value = if req.body.is_empty() {
                Value::Object(Default::default())
            } else {
                match serde_json::from_slice(&req.body) {
                    Ok(v) => v,
                    Err(e) => return Reply::json(400, &serde_json::json!({"error": format!("invalid JSON: {e}")})),
                }
            };
            match app.configure(&body) {
                Ok(v) => Reply::json(200, &v),
                Err(e) => Reply::json(400, &serde_json::json!({"error": e})),
            }
        }
        _ => app
            .sim_extra(req)
            .unwrap_or_else(|| Reply::json(404, &serde_json::json!({"error": "unknown /_sim endpoint"}))),
    }
}

/// Shared `/_sim/config` parsing: `{"faults": {...}, "rate_limit_per_min": n|null,
/// "trickle": {...}|null}`; other keys are left to the service. Absent keys leave settings unchanged.
pub(crate) fn configure_control(control: &Control, body: &Value) -> Result<(), String> {
    if !body.is_object() {
        return Err("config must be a JSON object".into());
    }
    if let Some(f) = body.get("faults") {
        let f: crate::Faults = serde_json::from_value(f.clone()).map_err(|e| format!("faults: {e}"))?;
        control.set_faults(f);
    }
    if let Some(t) = body.get("trickle") {
        let t: Option<crate::faults::Trickle> =
            serde_json::from_value(t.clone()).map_err(|e| format!("trickle: {e}"))?;
        control.set_trickle(t);
    }
    if let Some(r) = body.get("rate_limit_per_min") {
        match r {
            Value::Null => control.set_rate_limit(None),
            v => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) => control.set_rate_limit(Some(n)),
                None => return Err("rate_limit_per_min must be a non-negative integer or null".into()),
            },
        }
    }
    Ok(())
}

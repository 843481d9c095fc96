//! HTTP as the connectors see it: plain request/response values, a [`Transport`] that starts
//! requests and reports completions, and a [`Scheduler`] that adds concurrency, retries and auth.
//! Only `wasi.rs` touches WASI; everything else is pure and tested natively against `fake.rs`.

mod answers;
mod retry;
mod scheduler;

pub mod fake;
#[cfg(target_arch = "wasm32")]
pub mod incoming;
#[cfg(target_arch = "wasm32")]
pub mod wasi;

pub use answers::decode;
pub use retry::{RetryPolicy, parse_retry_after};
pub use scheduler::{Auth, Flow, FollowUps, NoAuth, Scheduler, Stats};

use std::fmt;
use std::rc::Rc;

/// Everything but unreserved characters is encoded in a path segment or a query value.
const UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A path segment or query value, percent-encoded.
pub fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, UNRESERVED).to_string()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
        }
    }
}

/// Scheme and authority of a service, parsed once from the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub https: bool,
    /// `host` or `host:port`.
    pub authority: String,
    /// Prefix of every path, without a trailing slash ("" or "/v4_6_release/apis/3.0").
    pub base_path: String,
}

impl Origin {
    /// Parses `https://host[:port][/base]` (or a bare host, meaning https). Plain http is only
    /// accepted for loopback hosts, which is what the simulators and tests use.
    pub fn parse(url: &str) -> Result<Origin, String> {
        let url = url.trim();
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else if url.contains("://") {
            return Err(format!("unsupported scheme in {url:?}: use https://"));
        } else {
            (true, url)
        };
        let (authority, base_path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let host = host_of(authority);
        let valid_host = !host.is_empty()
            && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !valid_host || authority.contains('@') || base_path.contains(['?', '#']) {
            return Err(format!("{url:?} is not a valid host or URL"));
        }
        if !https && !is_loopback(host) {
            return Err(format!("{url:?} uses plain http: only https is allowed outside loopback"));
        }
        Ok(Origin { https, authority: authority.to_ascii_lowercase(), base_path: base_path.to_string() })
    }

    pub fn host(&self) -> &str {
        host_of(&self.authority)
    }

    pub fn url(&self) -> String {
        format!("{}://{}{}", if self.https { "https" } else { "http" }, self.authority, self.base_path)
    }
}

fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host == "::1" || host.starts_with("127.")
}

#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    pub origin: Rc<Origin>,
    /// Path below the origin's base path, with the query string, already percent-encoded.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Safe to send again when the outcome of an attempt is unknown.
    pub idempotent: bool,
}

impl Request {
    pub fn new(method: Method, origin: &Rc<Origin>, path: impl Into<String>) -> Request {
        Request {
            method,
            origin: Rc::clone(origin),
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
            idempotent: method != Method::Post,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.set_header(name, value);
        self
    }

    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.into()));
    }

    pub fn json_body(mut self, body: &impl serde::Serialize) -> Request {
        // Serializing our own plain data types cannot fail.
        self.body = serde_json::to_vec(body).unwrap_or_default();
        self.set_header("content-type", "application/json");
        self
    }

    /// A POST whose repetition is harmless (e.g. a login).
    pub fn retry_safe(mut self) -> Request {
        self.idempotent = true;
        self
    }

    /// The path as sent on the wire (base path + path), which is also what signatures cover.
    pub fn full_path(&self) -> String {
        format!("{}{}", self.origin.base_path, self.path)
    }

    /// `METHOD https://host/path` without the query string, for messages.
    pub fn describe(&self) -> String {
        let path = self.full_path();
        let path = path.split('?').next().unwrap_or_default();
        format!(
            "{} {}://{}{}",
            self.method.as_str(),
            if self.origin.https { "https" } else { "http" },
            self.origin.authority,
            path
        )
    }
}

#[derive(Clone, Debug, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The service's clock: its `Date` header, in epoch milliseconds.
    pub fn date_ms(&self) -> Option<i64> {
        let date = self.header("date")?;
        chrono::DateTime::parse_from_rfc2822(date.trim()).ok().map(|t| t.timestamp_millis())
    }

    /// The body as text for messages: bounded, never a credential (requests' headers are not in it).
    pub fn body_snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        match text.char_indices().nth(300) {
            Some((i, _)) => format!("{}…", &text[..i]),
            None => text.to_string(),
        }
    }
}

/// Why a request got no HTTP response at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// DNS, refused, reset, TLS: nothing or something may have reached the server.
    Connection,
    Timeout,
    /// The host refused to send it (outside the allow-list).
    Denied,
    /// The response was larger than the limit.
    TooLarge,
    /// A malformed request or response.
    Protocol,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportError {
    pub kind: TransportErrorKind,
    pub detail: String,
}

impl TransportError {
    pub fn new(kind: TransportErrorKind, detail: impl Into<String>) -> TransportError {
        TransportError { kind, detail: detail.into() }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportErrorKind::Connection => "connection failed",
            TransportErrorKind::Timeout => "timed out",
            TransportErrorKind::Denied => "refused by the host (not on the allowed list)",
            TransportErrorKind::TooLarge => "response too large",
            TransportErrorKind::Protocol => "protocol error",
        };
        write!(f, "{what}: {}", self.detail)
    }
}

/// A request that ended without a usable answer after the retries the policy allows.
#[derive(Clone, Debug)]
pub enum HttpError {
    Transport {
        request: String,
        error: TransportError,
        attempts: u32,
    },
    /// A non-idempotent request failed in a way that may or may not have applied it.
    OutcomeUnknown {
        request: String,
        error: String,
    },
    /// The action's time budget ran out before the request could be (re)tried.
    BudgetExhausted {
        request: String,
    },
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Transport { request, error, attempts } => {
                write!(f, "{request}: {error} (after {attempts} attempt{})", if *attempts == 1 { "" } else { "s" })
            }
            HttpError::OutcomeUnknown { request, error } => write!(f, "{request}: outcome unknown ({error})"),
            HttpError::BudgetExhausted { request } => write!(f, "{request}: the action's time budget ran out"),
        }
    }
}

/// The outside world of the component: start requests, learn when they finish, tell time.
pub trait Transport {
    /// Starts `request`; its completion is reported by a later [`Transport::wait`] under `id`.
    fn start(&mut self, id: u64, request: &Request) -> Result<(), TransportError>;
    /// Blocks until at least one started request completes or `wake_at_ms` (monotonic) passes.
    /// Returns the completions (possibly none on a wake-up).
    fn wait(&mut self, wake_at_ms: Option<u64>) -> Vec<(u64, Result<Response, TransportError>)>;
    /// Monotonic milliseconds.
    fn now_ms(&self) -> u64;
    /// Wall-clock seconds since the Unix epoch (signatures carry it).
    fn unix_seconds(&self) -> u64;
    fn random_u64(&mut self) -> u64;
}

impl Scheduler<'_> {
    /// [`Scheduler::run`] for work where any failure ends the whole step: the first error stops
    /// the run (nothing new starts, what is in flight is abandoned) and is returned.
    pub fn try_run<C>(
        &mut self,
        auth: &mut dyn Auth,
        jobs: impl IntoIterator<Item = (C, Request)>,
        mut on_done: impl FnMut(C, Result<Response, HttpError>, &mut FollowUps<C>) -> Result<(), crate::error::Error>,
    ) -> Result<(), crate::error::Error> {
        let mut failure = None;
        self.run(auth, jobs, |context, outcome, next| match on_done(context, outcome, next) {
            Ok(()) => Flow::Continue,
            Err(error) => {
                failure = Some(error);
                Flow::Stop
            }
        })?;
        failure.map_or(Ok(()), Err)
    }
}

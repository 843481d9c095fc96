//! A tiny blocking HTTP/1.1 client over std TcpStream (one request per connection), so the tests
//! see exactly what the simulators send — including a connection closed without an answer.
#![allow(dead_code)]

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use psa_bridge_sim::Simulators;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Send one request; Err(UnexpectedEof) when the server closed the connection without answering.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> std::io::Result<Resp> {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut s = TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    if raw.is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed without an answer"));
    }
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("complete response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).expect("status line");
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
    let mut body = raw[split + 4..].to_vec();
    if let Some(len) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    Ok(Resp { status, headers, body })
}

pub fn get(url: &str, headers: &[(&str, &str)]) -> Resp {
    request("GET", url, headers, b"").expect("GET answered")
}

/// Percent-encode a query value (everything but unreserved characters).
pub fn enc(s: &str) -> String {
    const SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    utf8_percent_encode(s, SET).to_string()
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

// ---- ARMOR ----

pub fn armor_login(sims: &Simulators) -> String {
    let c = &sims.dataset().credentials.armor;
    let body = serde_json::json!({"username": c.username, "password": c.password}).to_string();
    let r = request(
        "POST",
        &format!("{}/auth/authorize", sims.armor_url()),
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let code = r.json()["code"].as_str().unwrap().to_string();
    let body = serde_json::json!({"code": code, "grant_type": "authorization_code"}).to_string();
    let r = request(
        "POST",
        &format!("{}/auth/token", sims.armor_url()),
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["access_token"].as_str().unwrap().to_string()
}

/// GET an ARMOR path with a token and an account context.
pub fn armor_get(sims: &Simulators, token: &str, ctx: i64, path: &str) -> Resp {
    let auth = format!("FH-AUTH {token}");
    let ctx = ctx.to_string();
    get(&format!("{}{path}", sims.armor_url()), &[("Authorization", &auth), ("X-Account-Context", &ctx)])
}

static NONCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

pub fn nonce() -> String {
    format!("n{}-{}", std::process::id(), NONCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// GET with a correct ARMOR-PSK signature.
pub fn armor_psk_get(sims: &Simulators, ctx: i64, path: &str) -> Resp {
    let c = &sims.dataset().credentials.armor;
    let auth = psa_bridge_sim::armor_psk_header(&c.key_id, &c.secret_key, "GET", path, &nonce(), now_unix(), b"");
    let ctx = ctx.to_string();
    get(&format!("{}{path}", sims.armor_url()), &[("Authorization", &auth), ("X-Account-Context", &ctx)])
}

// ---- ConnectWise ----

pub fn cw_auth(sims: &Simulators) -> String {
    use base64::Engine;
    let c = &sims.dataset().credentials.connectwise;
    let raw = format!("{}+{}:{}", c.company_id, c.public_key, c.private_key);
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
}

/// A request to the ConnectWise API with correct credentials; `path` is below the base URL.
pub fn cw(sims: &Simulators, method: &str, path: &str, body: Option<&Value>) -> Resp {
    cw_with(sims, method, path, body, &[])
}

pub fn cw_with(sims: &Simulators, method: &str, path: &str, body: Option<&Value>, extra: &[(&str, &str)]) -> Resp {
    let auth = cw_auth(sims);
    let client = sims.dataset().credentials.connectwise.client_id.clone();
    let mut headers =
        vec![("Authorization", auth.as_str()), ("clientId", client.as_str()), ("Content-Type", "application/json")];
    headers.extend_from_slice(extra);
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    request(method, &format!("{}{path}", sims.connectwise_url()), &headers, body.as_bytes()).expect("answered")
}

/// Parse a Link header into (rel, url) pairs.
pub fn links(r: &Resp) -> Vec<(String, String)> {
    let Some(h) = r.header("link") else { return vec![] };
    h.split(", <")
        .filter_map(|part| {
            let part = part.trim_start_matches('<');
            let (url, rel) = part.split_once(">; rel=\"")?;
            Some((rel.trim_end_matches('"').to_string(), url.to_string()))
        })
        .collect()
}

pub fn link(r: &Resp, rel: &str) -> Option<String> {
    links(r).into_iter().find(|(k, _)| k == rel).map(|(_, u)| u)
}

/// ids of a JSON array of records.
pub fn ids(v: &Value) -> Vec<i64> {
    v.as_array().expect("array").iter().map(|r| r["id"].as_i64().expect("id")).collect()
}

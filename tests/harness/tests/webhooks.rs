//! `psa-bridge-host http` with the component's own HTTP service behind `POST /webhooks/<name>`:
//! Halo deliveries checked against the webhook secret by the component, their trigger events on
//! stdout one per line (or posted to `--dispatcher`), refusals emitting nothing; the actions, the
//! token and the health check as before.

mod common;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const TOKEN: &str = "Harness-T0ken-Webhooks";
const SECRET: &str = "Harness-Webhook-S3cret";
const CLIENT_SECRET: &str = "Harness-Halo-Client-S3cret";

struct Served {
    child: Child,
    address: String,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(reader: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

fn serve(args: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_psa-bridge-host"))
        .args(["--component", common::component_path().to_str().unwrap(), "--allow-loopback", "http", "--port", "0"])
        .args(args)
        .env("PSA_BRIDGE_HTTP_TOKEN", TOKEN)
        .env("PSA_BRIDGE_HALO_WEBHOOK_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = lines(child.stdout.take().unwrap());
    let stderr = lines(child.stderr.take().unwrap());
    let line = stderr.recv_timeout(Duration::from_secs(120)).expect("the host says where it serves");
    let address = line.rsplit("http://").next().unwrap().trim().to_string();
    Served { child, address, stdout, stderr }
}

/// One request; the status and the JSON body.
fn request(address: &str, method: &str, path: &str, authorization: Option<&str>, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let auth = authorization.map(|a| format!("authorization: {a}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_default();
    // The component's answers may come chunked.
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { unchunk(body) } else { body.to_string() };
    assert!(!answer.contains(SECRET) && !answer.contains(CLIENT_SECRET), "a secret in an answer: {answer}");
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// A stand-in Halo on 127.0.0.1: a token for anyone, one ticket type.
fn halo() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buffer = [0u8; 8192];
            let read = stream.read(&mut buffer).unwrap_or(0);
            let head = String::from_utf8_lossy(&buffer[..read]);
            let body = if head.lines().next().unwrap_or_default().contains("/token") {
                json!({"access_token": "tok", "token_type": "Bearer", "expires_in": 3600}).to_string()
            } else {
                json!([{"id": 1, "name": "Incident"}]).to_string()
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

fn test_connection(halo: &str) -> String {
    json!({"version": "v1", "type": "action_start", "body": {"action": "test_connection", "meta": {}, "input": {},
        "connection": {"halo": {"base_url": halo, "client_id": "cid", "client_secret": CLIENT_SECRET}, "tuning": {"max_attempts": 1}}}})
    .to_string()
}

fn basic(password: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("halo:{password}")))
}

fn delivery() -> String {
    json!([
        {"id": "d-1", "event": "New Ticket Logged", "webhook_id": "w-1",
         "ticket": {"id": 9001, "summary": "Phishing reported", "status_id": 1, "client_id": 12, "client_name": "Acme",
                    "agent_name": "Unassigned", "team": "Security", "dateoccurred": "2026-05-01T10:00:00", "last_update": "2026-05-01T10:00:00"}},
        {"id": "d-2", "event": "Ticket Status Changed",
         "ticket": {"id": "9002", "summary": "Laptop stolen", "status_id": 9, "last_update": "2026-05-01T11:00:00"}}
    ])
    .to_string()
}

fn no_more_lines(rx: &mpsc::Receiver<String>) {
    if let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
        panic!("unexpected output: {line}");
    }
}

#[test]
fn webhooks_are_answered_by_the_component_and_their_events_printed() {
    let served = serve(&[]);
    let halo = halo();
    let bearer = format!("Bearer {TOKEN}");

    // The actions and the token, as before.
    assert_eq!(request(&served.address, "GET", "/api/v1/health", None, "").0, 200);
    assert_eq!(request(&served.address, "POST", "/actions/test_connection", None, &test_connection(&halo)).0, 401);
    let (status, event) =
        request(&served.address, "POST", "/actions/test_connection", Some(&bearer), &test_connection(&halo));
    assert_eq!(status, 200, "{event:#}");
    assert_eq!(event["body"]["output"]["services"][0]["service"], "halo");
    no_more_lines(&served.stdout);

    // A delivery with the secret (Halo's Basic authentication): its events, also on stdout.
    let (status, answer) = request(&served.address, "POST", "/webhooks/halo", Some(&basic(SECRET)), &delivery());
    assert_eq!(status, 200, "{answer:#}");
    let events = answer["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 2);
    let printed: Vec<Value> = (0..2)
        .map(|_| serde_json::from_str(&served.stdout.recv_timeout(Duration::from_secs(30)).unwrap()).unwrap())
        .collect();
    assert_eq!(printed, events);
    assert_eq!(printed[0]["type"], "trigger_event");
    assert_eq!(printed[0]["body"]["trigger"], "ticket_created");
    assert_eq!(printed[0]["body"]["output"]["ticket"]["id"], "9001");
    assert_eq!(printed[0]["body"]["output"]["ticket"]["client_name"], "Acme");
    assert_eq!(printed[1]["body"]["trigger"], "ticket_status_changed");
    assert!(printed[1]["body"]["output"]["event_id"].as_str().unwrap().starts_with("halo:9002:"));
    // Bearer works too; the same delivery again gives the same event ids.
    let (status, again) =
        request(&served.address, "POST", "/webhooks/halo", Some(&format!("Bearer {SECRET}")), &delivery());
    assert_eq!(status, 200);
    assert_eq!(again["events"], answer["events"]);
    for _ in 0..2 {
        served.stdout.recv_timeout(Duration::from_secs(30)).unwrap();
    }

    // Refusals: nothing printed.
    for authorization in [None, Some(basic("wrong")), Some(bearer.clone())] {
        let (status, answer) =
            request(&served.address, "POST", "/webhooks/halo", authorization.as_deref(), &delivery());
        assert_eq!(status, 401, "{authorization:?}: {answer:#}");
        assert!(answer.get("events").is_none());
    }
    let malformed = r#"[{"ticket": {"id": 1}}, {"ticket": {"summary": "no id"}}]"#;
    let (status, answer) = request(&served.address, "POST", "/webhooks/halo", Some(&basic(SECRET)), malformed);
    assert_eq!(status, 400, "{answer:#}");
    assert!(answer.get("events").is_none());
    assert_eq!(request(&served.address, "POST", "/webhooks/halo", Some(&basic(SECRET)), "not json").0, 400);
    no_more_lines(&served.stdout);
    let log: Vec<String> = served.stderr.try_iter().collect();
    assert!(!log.join("\n").contains(SECRET) && !log.join("\n").contains(TOKEN), "{log:?}");
}

#[test]
fn with_a_dispatcher_each_event_is_posted_there() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let dispatcher = format!("http://{}/events?source=halo", listener.local_addr().unwrap());
    let (tx, received) = mpsc::channel();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut data = Vec::new();
            let mut buffer = [0u8; 8192];
            // Read the head, then as much body as content-length says.
            loop {
                let n = stream.read(&mut buffer).unwrap_or(0);
                data.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&data).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= length || n == 0 {
                        let _ = tx.send((head.lines().next().unwrap_or_default().to_string(), body.to_string()));
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
        }
    });
    let served = serve(&["--dispatcher", &dispatcher]);
    let (status, answer) = request(&served.address, "POST", "/webhooks/halo", Some(&basic(SECRET)), &delivery());
    assert_eq!(status, 200, "{answer:#}");
    for expected in answer["events"].as_array().unwrap() {
        let (line, body) = received.recv_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!(line, "POST /events?source=halo HTTP/1.1");
        assert_eq!(&serde_json::from_str::<Value>(&body).unwrap(), expected);
    }
    no_more_lines(&served.stdout);
}

//! `psa-bridge-host http` as an operator runs it: this machine only by default, a bearer token
//! from a file or the environment, client mistakes answered 4xx, and an operator allow-list that
//! caps the hosts any request's connection may name — refused before a request leaves.

mod common;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

/// The host serving on a free port; stopped when dropped.
struct Served {
    child: Child,
    address: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str], token: Option<&str>) -> Served {
    let mut command = Command::new(env!("CARGO_BIN_EXE_psa-bridge-host"));
    command
        .args(["--component", common::component_path().to_str().unwrap(), "--allow-loopback", "http", "--port", "0"])
        .args(args)
        .env_remove("PSA_BRIDGE_HTTP_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(token) = token {
        command.env("PSA_BRIDGE_HTTP_TOKEN", token);
    }
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(60)).expect("the host says where it serves");
    let address = line.rsplit("http://").next().unwrap().trim().to_string();
    Served { child, address }
}

/// One request; the status and the JSON body.
fn request(address: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let auth = token.map(|t| format!("authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// A stand-in service on 127.0.0.1 that counts what reaches it (answers 500, at most `max` times).
fn counting_service(max: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max).flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut stream = stream;
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = stream
                .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, seen)
}

fn get_accounts(base_url: &str, action: &str) -> String {
    json!({"version": "v1", "type": "action_start", "body": {"action": action, "meta": {}, "input": {},
        "connection": {"armor": {"base_url": base_url, "account_id": 1001, "api_key": {"key_id": "kid", "secret_key": "s3cret-Serving"}},
                       "tuning": {"max_attempts": 1}}}})
    .to_string()
}

#[test]
fn it_listens_on_this_machine_only_unless_told_otherwise() {
    let served = serve(&[], None);
    assert!(served.address.starts_with("127.0.0.1:"), "{}", served.address);
    assert_eq!(request(&served.address, "GET", "/api/v1/health", None, "").0, 200);
}

#[test]
fn a_request_without_the_token_gets_401_and_the_health_check_stays_open() {
    let served = serve(&[], Some("T0ken-From-Env"));
    let (url, seen) = counting_service(5);
    let body = get_accounts(&url, "get_accounts");
    assert_eq!(request(&served.address, "POST", "/actions/get_accounts", None, &body).0, 401);
    assert_eq!(request(&served.address, "POST", "/actions/get_accounts", Some("wrong"), &body).0, 401);
    assert_eq!(request(&served.address, "GET", "/api/v1/info", None, "").0, 401);
    assert_eq!(request(&served.address, "GET", "/api/v1/health", None, "").0, 200);
    assert_eq!(seen.load(Ordering::SeqCst), 0, "nothing ran");
    let (status, event) = request(&served.address, "POST", "/actions/get_accounts", Some("T0ken-From-Env"), &body);
    assert_eq!(status, 500, "it ran (the stand-in service fails): {event:#}");
    assert!(seen.load(Ordering::SeqCst) >= 1);
    assert!(!event.to_string().contains("s3cret-Serving"));

    // The token from a file works the same.
    let file = std::env::temp_dir().join(format!("psa-bridge-token-{}", std::process::id()));
    std::fs::write(&file, "T0ken-From-File\n").unwrap();
    let served = serve(&["--token-file", file.to_str().unwrap()], None);
    assert_eq!(request(&served.address, "GET", "/api/v1/info", Some("T0ken-From-File"), "").0, 200);
    assert_eq!(request(&served.address, "GET", "/api/v1/info", None, "").0, 401);
    let _ = std::fs::remove_file(file);
}

#[test]
fn client_mistakes_are_4xx_and_run_nothing() {
    let served = serve(&[], None);
    let (url, seen) = counting_service(5);
    let (status, event) = request(&served.address, "POST", "/actions/get_accounts", None, "{\"not\": \"a message\"}");
    assert_eq!(status, 400, "{event:#}");
    assert!(event["body"]["error"]["cause"].as_str().unwrap().contains("not an action_start"), "{event:#}");
    assert_eq!(request(&served.address, "POST", "/actions/get_accounts", None, "not json").0, 400);
    let (status, event) = request(&served.address, "POST", "/actions/get_accounts", None, &get_accounts(&url, "nope"));
    assert_eq!(status, 400, "{event:#}");
    assert!(event["body"]["error"]["cause"].as_str().unwrap().contains("names the action \"nope\""), "{event:#}");
    assert_eq!(request(&served.address, "POST", "/actions/nope", None, &get_accounts(&url, "nope")).0, 404);
    let wrong_type = get_accounts(&url, "get_accounts").replace("\"input\":{}", "\"input\":{\"statuses\":7}");
    assert_eq!(request(&served.address, "POST", "/actions/get_accounts", None, &wrong_type).0, 400);
    assert_eq!(seen.load(Ordering::SeqCst), 0, "no request left");
}

#[test]
fn a_connection_naming_a_host_outside_the_allow_list_is_refused_before_any_request_leaves() {
    let (url, seen) = counting_service(5);
    let port = url.rsplit(':').next().unwrap().to_string();
    let served = serve(&["--allow-host", "api.armor.com", "--allow-host", "127.0.0.2"], None);
    let (status, event) =
        request(&served.address, "POST", "/actions/get_accounts", None, &get_accounts(&url, "get_accounts"));
    assert_eq!(status, 403, "{event:#}");
    assert!(event["body"]["error"]["cause"].as_str().unwrap().contains("may not call"), "{event:#}");
    assert_eq!(seen.load(Ordering::SeqCst), 0, "refused before any request left");

    let allowed = format!("127.0.0.1:{port}");
    let served = serve(&["--allow-host", &allowed], None);
    let (status, _) =
        request(&served.address, "POST", "/actions/get_accounts", None, &get_accounts(&url, "get_accounts"));
    assert_eq!(status, 500, "allowed: it ran");
    assert!(seen.load(Ordering::SeqCst) >= 1);
}

//! Shared by the end-to-end tests: the built component (loaded once), simulators, and checks.
#![allow(dead_code)]

use psa_bridge_host::plugin::{CallOptions, Plugin};
use psa_bridge_sim::{SimConfig, Simulators};
use psa_bridge_workflow::{Step, Workflow, component_path};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

pub fn plugin() -> &'static Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        let path = component_path();
        assert!(path.exists(), "{} is missing: run `make component` first (make test does)", path.display());
        Plugin::load(&path).expect("the component loads")
    })
}

pub fn options() -> CallOptions {
    CallOptions { allow_loopback: true, timeout: Some(Duration::from_secs(300)), ..CallOptions::default() }
}

pub fn start(config: SimConfig) -> Simulators {
    Simulators::start(config).expect("the simulators start")
}

pub fn workflow(connection: Value) -> Workflow<'static> {
    Workflow::new(plugin(), connection, options())
}

/// The connection with only one ARMOR auth mode.
pub fn armor_mode(sims: &Simulators, mode: &str) -> Value {
    let mut connection = sims.connection();
    let drop = if mode == "api_key" { "login" } else { "api_key" };
    connection["armor"].as_object_mut().unwrap().remove(drop);
    connection
}

/// Every credential value of the dataset: none may appear in any output, log or error.
pub fn secrets(sims: &Simulators) -> Vec<String> {
    let c = &sims.dataset().credentials;
    vec![
        c.armor.username.clone(),
        c.armor.password.clone(),
        c.armor.key_id.clone(),
        c.armor.secret_key.clone(),
        c.armor.mfa_password.clone(),
        c.connectwise.public_key.clone(),
        c.connectwise.private_key.clone(),
        c.connectwise.client_id.clone(),
        sims.dataset().halo.credentials.client_id.clone(),
        sims.dataset().halo.credentials.client_secret.clone(),
    ]
}

pub fn assert_no_secrets(sims: &Simulators, steps: &[&Step]) {
    for step in steps {
        let text = step.event.to_string();
        for secret in secrets(sims) {
            assert!(!text.contains(&secret), "{}: a credential appears in the event", step.action);
        }
    }
}

pub fn expect_ok(step: &Step) -> &Value {
    assert!(step.ok, "{} failed: {:#}", step.action, step.event["body"]["error"]);
    step.output()
}

pub fn expect_error(step: &Step) -> (String, String) {
    assert!(!step.ok, "{} should have failed: {:#}", step.action, step.output());
    let error = step.error();
    let cause = error["cause"].as_str().unwrap_or_default().to_string();
    assert!(!cause.is_empty() && !error["assistance"].as_str().unwrap_or_default().is_empty(), "{error:#}");
    (cause, error["data"].as_str().unwrap_or_default().to_string())
}

/// Requests per route since the simulator started (or was reset).
pub fn requests(state: &Value, route: &str) -> u64 {
    state["requests"][route].as_u64().unwrap_or(0)
}

/// Writes the output of a step where the validator reads real outputs (.output/action_<name>.json).
pub fn save_output(step: &Step) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.output");
    std::fs::create_dir_all(&dir).unwrap();
    let text = serde_json::to_string_pretty(step.output()).unwrap();
    std::fs::write(dir.join(format!("action_{}.json", step.action)), text).unwrap();
}

/// A tiny HTTP server on 127.0.0.1 for misbehaving services: `answer` gets the request line
/// ("GET /path HTTP/1.1") and returns the status line + headers + body. Serves at most
/// `max_requests` connections, then stops. Returns its URL.
pub fn stub(max_requests: usize, answer: impl Fn(&str) -> Vec<u8> + Send + 'static) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max_requests) {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            // Skip the headers (and ignore any body: these stubs answer GETs).
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = stream.write_all(&answer(request_line.trim()));
        }
    });
    url
}

pub fn http_response(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut response =
        format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n", body.len())
            .into_bytes();
    response.extend_from_slice(body);
    response
}

/// The chaos seeds: `PSA_CHAOS_SEEDS` (comma-separated) or `default` (one seed in `make test`).
pub fn chaos_seeds(default: u64) -> Vec<u64> {
    std::env::var("PSA_CHAOS_SEEDS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![default])
}

/// Every ARMOR ticket of a matched account is on the board once, with its company, status and
/// one note per comment; nothing else is.
pub fn assert_posted_exactly_once(sims: &Simulators, matched: &BTreeMap<u64, u64>) {
    let state = sims.connectwise_state();
    let board = sims.dataset().armor_board_id().unwrap();
    let mut by_key: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for ticket in state["tickets"].as_array().unwrap() {
        if let Some(key) = ticket["externalXRef"].as_str() {
            by_key.entry(key.strip_prefix("armor:").unwrap_or(key).to_string()).or_default().push(ticket);
        }
    }
    let mut posted = 0;
    for armor in &sims.dataset().armor.tickets {
        let found = by_key.get(&armor.issue_key_id).map(Vec::as_slice).unwrap_or_default();
        match matched.get(&(armor.account_id as u64)) {
            None => assert!(found.is_empty(), "{} has no company yet was posted", armor.issue_key_id),
            Some(company) => {
                assert_eq!(found.len(), 1, "{} is on the board {} times", armor.issue_key_id, found.len());
                let ticket = found[0];
                assert_eq!(ticket["company"]["id"], *company, "{}", armor.issue_key_id);
                assert_eq!(ticket["board"]["id"], board);
                assert!(ticket["summary"].as_str().unwrap().chars().count() <= 100);
                let notes = state["notes"][ticket["id"].to_string()].as_array().cloned().unwrap_or_default();
                for comment in &armor.comments {
                    let marker = format!("[psa-bridge armor comment {}]", comment.id);
                    let copies = notes.iter().filter(|n| n["text"].as_str().unwrap_or("").contains(&marker)).count();
                    assert_eq!(copies, 1, "{} comment {} appears {copies} times", armor.issue_key_id, comment.id);
                }
                posted += 1;
            }
        }
    }
    assert!(posted > 0);
}

pub fn matched_map(output: &Value) -> BTreeMap<u64, u64> {
    output["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["account_id"].as_str().unwrap().parse::<u64>().unwrap(),
                m["company_id"].as_str().unwrap().parse::<u64>().unwrap(),
            )
        })
        .collect()
}

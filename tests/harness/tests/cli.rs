//! The `psa-bridge-host` binary as a user runs it.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

fn host(args: &[&str], stdin: &str) -> (serde_json::Value, i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_psa-bridge-host"))
        .args(["--component", common::component_path().to_str().unwrap()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (json, out.status.code().unwrap_or(-1), format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn run_with_a_host_that_is_not_reachable_exits_1_with_a_structured_error() {
    let message = serde_json::json!({"version": "v1", "type": "action_start", "body": {"action": "get_accounts", "meta": {}, "input": {},
        "connection": {"armor": {"base_url": "http://127.0.0.1:9", "account_id": 1001, "api_key": {"key_id": "kid-Distinct", "secret_key": "secret-Distinct-42"}},
            "tuning": {"max_attempts": 2}}}});
    let (event, code, all) = host(&["run", "--allow-loopback"], &message.to_string());
    assert_eq!(code, 1, "{all}");
    assert_eq!(event["type"], "action_event");
    assert_eq!(event["body"]["status"], "error");
    assert!(event["body"]["error"]["cause"].as_str().unwrap().contains("Could not reach ARMOR"), "{event:#}");
    assert!(!event["body"]["error"]["assistance"].as_str().unwrap().is_empty());
    assert!(!all.contains("secret-Distinct-42") && !all.contains("kid-Distinct"), "a credential leaked: {all}");
}

#[test]
fn run_reads_the_sample_messages() {
    let dir = format!("{}/..", env!("CARGO_MANIFEST_DIR"));
    let mut samples: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    samples.sort();
    assert!(samples.len() >= 12, "one sample per action in tests/: {samples:?}");
    for path in samples {
        let path = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut message: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        // Tests never leave the machine: the samples' real hosts become a closed loopback port.
        let connection = &mut message["body"]["connection"];
        if connection.get("armor").is_some() {
            connection["armor"]["base_url"] = "http://127.0.0.1:9".into();
        }
        if connection.get("connectwise").is_some() {
            connection["connectwise"]["site"] = "http://127.0.0.1:9".into();
        }
        if connection.get("halo").is_some() {
            connection["halo"]["base_url"] = "http://127.0.0.1:9".into();
        }
        if connection.get("stellar_cyber").is_some() {
            connection["stellar_cyber"]["host"] = "http://127.0.0.1:9".into();
        }
        connection["tuning"] = serde_json::json!({"max_attempts": 2});
        let (event, code, all) = host(&["run", "--allow-loopback", "--timeout-s", "60"], &message.to_string());
        assert_eq!(event["type"], "action_event", "{path}: {all}");
        assert!(code == 0 || code == 1, "{path}: exit {code}");
        if code == 1 {
            assert!(!event["body"]["error"]["cause"].as_str().unwrap_or_default().is_empty(), "{path}: {event:#}");
        }
    }
}

#[test]
fn a_malformed_message_exits_1() {
    let (event, code, _) = host(&["run"], "{");
    assert_eq!(code, 1);
    assert!(event["body"]["error"]["cause"].as_str().unwrap().contains("not valid JSON"));
}

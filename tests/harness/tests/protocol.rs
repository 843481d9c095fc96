//! The message protocol: every malformed message gets a clear error naming the field; the
//! component's imports are standard WASI only; outbound requests obey the allow-list.

mod common;

use common::{cause, message, options, plugin, run};
use serde_json::{Value, json};

fn armor(base_url: &str) -> serde_json::Value {
    json!({"armor": {"base_url": base_url, "account_id": 1001, "login": {"username": "user@example.com", "password": "pw-Distinct-123"}}})
}

fn run_text(text: &str) -> serde_json::Value {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(psa_bridge_host::run_message(plugin(), text, false, &options())).0
}

#[test]
fn malformed_messages_name_what_is_wrong() {
    let cases = [
        ("not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (r#"{"version": "v2", "type": "action_start", "body": {}}"#, "`version`"),
        (r#"{"version": "v1", "type": "trigger_start", "body": {}}"#, "`type`"),
        (r#"{"version": "v1", "type": "action_start"}"#, "`body`"),
        (r#"{"version": "v1", "type": "action_start", "body": {"input": {}}}"#, "`body.action`"),
        (
            r#"{"version": "v1", "type": "action_start", "body": {"action": "get_accounts", "input": []}}"#,
            "`body.input`",
        ),
        (
            r#"{"version": "v1", "type": "action_start", "body": {"action": "get_accounts", "extra": 1}}"#,
            "`body.extra`",
        ),
        (r#"{"version": "v1", "type": "action_start", "extra": 1, "body": {}}"#, "`extra`"),
    ];
    for (text, expected) in cases {
        let event = run_text(text);
        let cause = cause(&event);
        assert!(cause.contains(expected), "{text}: {cause}");
        assert_eq!(event["type"], "action_event");
    }
}

#[test]
fn input_fields_are_checked_against_the_component_types() {
    let connection = armor("https://api.armor.com");
    let cases = [
        ("no_such_action", json!({}), "unknown action `no_such_action`"),
        ("get_accounts", json!({"include_addresses": "yes"}), "`input.include_addresses` must be true or false"),
        ("get_accounts", json!({"parent_id": -4}), "`input.parent_id` must be a string"),
        ("get_accounts", json!({"colour": "red"}), "`input.colour` is not a known field"),
        ("post_tickets", json!({}), "`input.tickets` is required but missing"),
        (
            "post_tickets",
            json!({"tickets": [{"system": "armor", "key": "ATS-1"}]}),
            "`input.tickets[0].account_id` is required",
        ),
        ("get_tickets", json!({"account_ids": ["1", 2]}), "`input.account_ids[1]` must be a string"),
        (
            "match_companies",
            json!({"accounts": [{"system": "armor", "id": "1", "name": "A", "status": "Active", "address": 5}]}),
            "`input.accounts[0].address` must be an object",
        ),
    ];
    for (action, input, expected) in cases {
        let (event, ok) = run(&message(action, input.clone(), connection.clone()), &options());
        assert!(!ok);
        let cause = cause(&event);
        assert!(cause.contains(expected), "{action} {input}: {cause}");
    }
    let (event, _) = run(&message("get_accounts", json!({}), json!({"armor": {"account_id": "1001"}})), &options());
    assert!(cause(&event).contains("`connection.armor.account_id` must be an integer"));
}

#[test]
fn an_action_checks_for_its_connection_section() {
    let (event, ok) = run(&message("get_accounts", json!({}), json!({"connectwise": null})), &options());
    assert!(!ok);
    assert!(cause(&event).contains("configures no source system"), "{event:#}");
    let (event, _) = run(&message("get_accounts", json!({"source": "connectwise"}), json!({})), &options());
    assert!(cause(&event).contains("\"connectwise\" is not a source system"), "{event:#}");
}

#[test]
fn the_component_imports_only_standard_wasi() {
    let bytes = std::fs::read(common::component_path()).unwrap();
    let mut imports = Vec::new();
    // Nested components and modules have imports of their own, wired inside; only the outer
    // component's imports are what a host must provide.
    let mut depth = 0;
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        match payload.unwrap() {
            wasmparser::Payload::Version { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth -= 1,
            wasmparser::Payload::ComponentImportSection(section) if depth == 1 => {
                for import in section {
                    imports.push(import.unwrap().name.name.to_string());
                }
            }
            _ => {}
        }
    }
    assert!(imports.iter().any(|i| i.starts_with("wasi:http/outgoing-handler@0.2")), "{imports:?}");
    for import in &imports {
        assert!(import.starts_with("wasi:") && import.contains("@0.2."), "non-standard import {import}");
    }
}

#[test]
fn hosts_outside_the_connection_and_plain_http_are_refused() {
    // Loopback over plain http, but the harness was not told to allow it.
    let strict = psa_bridge_host::plugin::CallOptions { allow_loopback: false, ..options() };
    let mut connection = armor("http://127.0.0.1:9");
    connection["tuning"] = json!({"max_attempts": 2});
    let (event, ok) = run(&message("test_connection", json!({}), connection), &strict);
    assert!(!ok);
    let error = &event["body"]["error"];
    assert!(error["data"].as_str().unwrap().contains("refused by the host"), "{event:#}");

    // A non-loopback plain http URL is refused by the component itself.
    let (event, _) = run(&message("test_connection", json!({}), armor("http://api.armor.com")), &options());
    assert!(cause(&event).contains("plain http"), "{event:#}");
}

#[test]
fn the_policy_only_allows_the_origins_the_component_names() {
    use psa_bridge_host::outbound::OutboundPolicy;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let origins = |connection: Value| runtime.block_on(plugin().allowed_origins(&connection)).unwrap();
    let cw = json!({"site": "api-na.myconnectwise.net", "company_id": "msp", "api_key": {"public_key": "p", "private_key": "k"}, "client_id": "c"});
    let armor_key = json!({"key_id": "kid", "secret_key": "s-Distinct-1"});
    let connection = json!({"armor": {"account_id": 1001, "api_key": armor_key}, "connectwise": cw});
    let named = origins(connection).unwrap();
    assert_eq!(
        named,
        ["https://api.armor.com:443", "https://api-na.myconnectwise.net:443"],
        "ARMOR's default host comes from the component"
    );
    let policy = OutboundPolicy::from_origins(&named, false);
    let allowed = |uri: &str| policy.check(&uri.parse().unwrap()).is_ok();
    assert!(allowed("https://api.armor.com/accounts"));
    assert!(allowed("https://api-na.myconnectwise.net/v4_6_release/apis/3.0/company/companies"));
    assert!(!allowed("https://evil.example.com/"));
    assert!(!allowed("https://api.armor.com:8443/"));
    assert!(!allowed("http://api.armor.com/"));
    let local =
        origins(json!({"armor": {"base_url": "http://127.0.0.1:8080", "account_id": 1001, "api_key": armor_key}}))
            .unwrap();
    let loopback = OutboundPolicy::from_origins(&local, true);
    assert!(loopback.check(&"http://127.0.0.1:8080/x".parse().unwrap()).is_ok());
    assert!(loopback.check(&"http://127.0.0.1:8081/x".parse().unwrap()).is_err());
    // A connection the component cannot read names no origin: its own error says why, secrets masked.
    let error =
        origins(json!({"armor": {"base_url": "ftp://x", "account_id": 1001, "api_key": armor_key}})).unwrap_err();
    assert!(error["cause"].as_str().unwrap().contains("base_url"), "{error}");
    assert!(!error.to_string().contains("s-Distinct-1"));
}

//! Resource bounds, host isolation and secrets: misbehaving services on 127.0.0.1 and a runaway
//! call must end in a clear error within a bound; no credential appears anywhere.

mod common;

use common::*;
use psa_bridge_host::plugin::CallOptions;
use psa_bridge_sim::{Faults, SimConfig};
use psa_bridge_workflow::Workflow;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn armor_at(url: &str) -> Value {
    json!({"armor": {"base_url": url, "account_id": 1001, "api_key": {"key_id": "kid-S3cr3t", "secret_key": "Shh-S3cr3t-99"}},
           "tuning": {"max_attempts": 2}})
}

fn cw_at(url: &str) -> Value {
    json!({"connectwise": {"site": url, "company_id": "msp", "api_key": {"public_key": "pub-S3cr3t", "private_key": "priv-S3cr3t-77"},
           "client_id": "client-S3cr3t"}, "tuning": {"max_attempts": 2}})
}

#[test]
fn an_oversized_answer_stops_with_a_clear_error() {
    let url = stub(4, |_| {
        // 20 MB of valid JSON: more than the plugin accepts from any one answer.
        let body = format!("[{}]", vec!["{\"id\":1}"; 2_500_000].join(","));
        http_response("200 OK", "", body.as_bytes())
    });
    let step = workflow(armor_at(&url)).run("get_accounts", json!({"include_addresses": false}));
    let (cause, data) = expect_error(&step);
    assert!(cause.contains("larger than the plugin accepts"), "{cause} / {data}");
}

#[test]
fn endless_paging_stops() {
    // ARMOR: the next page token never changes.
    let url = stub(60, |line| {
        let body = if line.contains("/tickets/list") {
            json!({"nextPageToken": "again", "items": [{"issueKeyId": "ATS-1"}]})
        } else {
            json!([{"id": 1001, "name": "MSP", "parent": -1}])
        };
        http_response("200 OK", "", body.to_string().as_bytes())
    });
    let input = json!({"account_ids": ["1001"], "include_details": false, "include_comments": false});
    let step = workflow(armor_at(&url)).run("get_tickets", input);
    assert!(expect_error(&step).0.contains("kept returning more pages"));

    // ConnectWise: a Link header promising a billion pages, and one pointing at another host.
    for link in
        [r#"<{base}/company/companies?page=1000000000>; rel="last""#, r#"<http://127.0.0.2:9/x?page=2>; rel="next""#]
    {
        let served = Arc::new(AtomicUsize::new(0));
        let counter = served.clone();
        let url = stub(10, move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            http_response("200 OK", &format!("link: {link}\r\n"), b"[]")
        });
        let step = workflow(cw_at(&url)).run("match_companies", json!({"accounts": []}));
        let (cause, _) = expect_error(&step);
        assert!(cause.contains("kept returning more pages") || cause.contains("another address"), "{cause}");
        assert!(served.load(Ordering::SeqCst) <= 2, "stopped at once");
    }
}

#[test]
fn redirects_are_not_followed() {
    let elsewhere_hits = Arc::new(AtomicUsize::new(0));
    let hits = elsewhere_hits.clone();
    let elsewhere = stub(5, move |_| {
        hits.fetch_add(1, Ordering::SeqCst);
        http_response("200 OK", "", b"[]")
    });
    let url = stub(5, move |_| http_response("302 Found", &format!("location: {elsewhere}/accounts\r\n"), b""));
    let step = workflow(armor_at(&url)).run("get_accounts", json!({}));
    let (_, data) = expect_error(&step);
    assert!(data.contains("302"), "{data}");
    assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 0, "the redirect target was never contacted");
}

#[test]
fn the_harness_stops_a_call_that_runs_too_long() {
    let url = stub(20, |_| {
        std::thread::sleep(Duration::from_secs(3));
        http_response("200 OK", "", b"[]")
    });
    let options = CallOptions { timeout: Some(Duration::from_secs(1)), ..options() };
    let started = Instant::now();
    let step = Workflow::new(plugin(), armor_at(&url), options).run("get_accounts", json!({}));
    let (_, data) = expect_error(&step);
    assert!(data.contains("did not finish within 1 s"), "{data}");
    assert!(started.elapsed() < Duration::from_secs(3), "stopped on time");
}

#[test]
fn no_credential_appears_in_any_output_log_or_error() {
    let sims = start(SimConfig::generated(8, 60, 60, 13));
    sims.set_faults(Faults { p5xx: 0.05, p429: 0.02, pdrop: 0.05, plost: 0.03, seed: 5, ..Faults::default() });
    let mut steps = Vec::new();
    for mode in ["api_key", "login"] {
        steps.extend(workflow(armor_mode(&sims, mode)).chain());
    }
    let c = &sims.dataset().credentials;
    let mut broken = vec![];
    let mut wrong_password = armor_mode(&sims, "login");
    wrong_password["armor"]["login"]["password"] = json!(format!("{}-wrong", c.armor.password));
    broken.push(wrong_password);
    let mut wrong_secret = armor_mode(&sims, "api_key");
    wrong_secret["armor"]["api_key"]["secret_key"] = json!(format!("{}-wrong", c.armor.secret_key));
    broken.push(wrong_secret);
    let mut wrong_private = sims.connection();
    wrong_private["connectwise"]["api_key"]["private_key"] = json!(format!("{}-wrong", c.connectwise.private_key));
    broken.push(wrong_private);
    for connection in broken {
        steps.extend(workflow(connection).chain());
    }
    let bad_input = workflow(sims.connection());
    steps.push(bad_input.run("post_tickets", json!({"tickets": [{"key": "ATS-1"}]})));
    steps.push(bad_input.run("get_tickets", json!({"cursor": c.armor.secret_key})));
    assert!(steps.iter().any(|s| s.ok) && steps.iter().any(|s| !s.ok));
    assert_no_secrets(&sims, &steps.iter().collect::<Vec<_>>());
    eprintln!("secrets scan: {} events, 0 hits", steps.len());
}

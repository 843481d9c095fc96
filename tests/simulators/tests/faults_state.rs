//! Fault injection, rate limiting and the /_sim endpoints.

mod common;

use common::*;
use psa_bridge_sim::{Faults, SimConfig, Simulators};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn start() -> Simulators {
    Simulators::start(SimConfig::small()).expect("simulators start")
}

fn sim_state(url: &str) -> Value {
    get(&format!("{url}/_sim/state"), &[]).json()
}

fn new_ticket(sims: &Simulators, xref: &str) -> Value {
    let d = sims.dataset();
    let company = d.truth.accounts.iter().find(|t| t.kind == "exact").unwrap().company_ids[0];
    json!({"summary": "fault test", "board": {"id": d.armor_board_id().unwrap()}, "company": {"id": company}, "externalXRef": xref})
}

fn post_ticket(sims: &Simulators, xref: &str) -> std::io::Result<Resp> {
    let auth = cw_auth(sims);
    let client = sims.dataset().credentials.connectwise.client_id.clone();
    let body = new_ticket(sims, xref).to_string();
    request(
        "POST",
        &format!("{}/service/tickets", sims.connectwise_url()),
        &[("Authorization", &auth), ("clientId", &client)],
        body.as_bytes(),
    )
}

fn tickets_with_xref(state: &Value, xref: &str) -> usize {
    state["tickets"].as_array().unwrap().iter().filter(|t| t["externalXRef"] == xref).count()
}

#[test]
fn injected_5xx_in_each_services_shape() {
    let sims = start();
    sims.set_faults(Faults { p5xx: 1.0, seed: 3, ..Faults::default() });
    let token_less = format!("{}/accounts", sims.armor_url());
    let mut seen = std::collections::HashSet::new();
    for _ in 0..12 {
        let r = get(&token_less, &[]);
        assert!([500, 502, 503].contains(&r.status));
        seen.insert(r.status);
        let r = cw(&sims, "GET", "/company/companies", None);
        assert!([500, 502, 503].contains(&r.status));
        let v = r.json();
        assert!(v["code"].is_string() && v["message"].is_string() && v["errors"].is_array());
    }
    assert!(seen.len() >= 2, "several 5xx kinds: {seen:?}");
    // /_sim is never faulted; the state counts the faults.
    assert_eq!(sim_state(&sims.armor_url())["faults"]["http_5xx"], 12);
    assert_eq!(sims.connectwise_state()["faults"]["http_5xx"], 12);
}

#[test]
fn injected_429_has_retry_after() {
    let sims = start();
    sims.set_faults(Faults { p429: 1.0, ..Faults::default() });
    for r in [get(&format!("{}/accounts", sims.armor_url()), &[]), cw(&sims, "GET", "/company/companies", None)] {
        assert_eq!(r.status, 429);
        let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&secs));
    }
    assert_eq!(sims.connectwise_state()["faults"]["http_429"], 1);
}

#[test]
fn dropped_connection_changes_nothing() {
    let sims = start();
    sims.set_faults(Faults { pdrop: 1.0, ..Faults::default() });
    let e = post_ticket(&sims, "ATS-DROP").err().expect("no answer");
    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    assert!(request("GET", &format!("{}/accounts", sims.armor_url()), &[], b"").is_err());
    let state = sims.connectwise_state();
    assert_eq!(tickets_with_xref(&state, "ATS-DROP"), 0);
    assert_eq!(state["faults"]["dropped"], 1);
}

#[test]
fn lost_answer_still_applies_the_write() {
    let sims = start();
    sims.set_faults(Faults { plost: 1.0, ..Faults::default() });
    assert!(post_ticket(&sims, "ATS-LOST").is_err(), "the answer is lost");
    assert_eq!(tickets_with_xref(&sims.connectwise_state(), "ATS-LOST"), 1, "but the ticket landed");
    // Reads are never "lost".
    let r = cw(&sims, "GET", &format!("/service/tickets?conditions={}", enc("externalXRef=\"ATS-LOST\"")), None);
    assert_eq!(ids(&r.json()).len(), 1);
    assert_eq!(sims.connectwise_state()["faults"]["lost"], 1);
}

#[test]
fn latency_is_added_before_answering() {
    let sims = start();
    sims.set_faults(Faults { latency_ms: 150, ..Faults::default() });
    let t = Instant::now();
    assert_eq!(cw(&sims, "GET", "/service/boards", None).status, 200);
    assert!(t.elapsed() >= Duration::from_millis(150));
    let t = Instant::now();
    assert_eq!(get(&format!("{}/_sim/config", sims.connectwise_site()), &[]).status, 200);
    assert!(t.elapsed() < Duration::from_millis(150), "/_sim is not delayed");
}

#[test]
fn faults_are_reproducible_per_seed() {
    let sims = start();
    let run = |seed: u64| -> Vec<u16> {
        sims.set_faults(Faults { p5xx: 0.3, p429: 0.2, seed, ..Faults::default() });
        (0..40).map(|_| cw(&sims, "GET", "/service/boards", None).status).collect()
    };
    let a = run(7);
    assert_eq!(a, run(7));
    assert_ne!(a, run(8));
    assert!(a.contains(&200) && a.iter().any(|s| *s >= 500) && a.contains(&429));
}

#[test]
fn rate_limit_gives_429_with_retry_after() {
    let sims = start();
    sims.set_rate_limit(Some(5));
    for _ in 0..5 {
        assert_eq!(cw(&sims, "GET", "/service/boards", None).status, 200);
    }
    let r = cw(&sims, "GET", "/service/boards", None);
    assert_eq!(r.status, 429);
    let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((55..=60).contains(&secs), "the oldest request leaves the window in ~60 s: {secs}");
    assert_eq!(r.json()["code"], "TooManyRequests");
    // Per service: ARMOR has its own budget.
    assert_eq!(get(&format!("{}/nope", sims.armor_url()), &[]).status, 404);
    let state = sims.connectwise_state();
    assert_eq!(state["faults"]["rate_limited"], 1);
    sims.set_rate_limit(None);
    assert_eq!(cw(&sims, "GET", "/service/boards", None).status, 200);
}

#[test]
fn state_counts_requests_by_route_and_reset_restores() {
    let sims = start();
    let token = armor_login(&sims);
    armor_get(&sims, &token, 1001, "/accounts");
    armor_get(&sims, &token, 1001, "/accounts/7001");
    armor_get(&sims, &token, 1001, "/accounts/7002");
    let a = sim_state(&sims.armor_url());
    assert_eq!(a["requests"]["GET /accounts/{id}"], 2);
    assert_eq!(a["requests"]["POST /auth/authorize"], 1);
    assert_eq!(a["requests_total"], 5);
    assert_eq!(a["accounts"].as_array().unwrap().len(), sims.dataset().armor.accounts.len());
    let t0 = &a["tickets"][0];
    for k in ["issueKeyId", "accountId", "currentStatus", "comments"] {
        assert!(t0.get(k).is_some(), "{k}");
    }

    let before = sims.connectwise_state();
    let initial_tickets = before["tickets"].as_array().unwrap().len();
    assert_eq!(post_ticket(&sims, "ATS-STATE").unwrap().status, 201);
    let id = sims.dataset().truth.accounts.iter().find(|t| t.kind == "suffix").unwrap().company_ids[0];
    let r = cw(
        &sims,
        "PATCH",
        &format!("/company/companies/{id}"),
        Some(&json!([{"op": "replace", "path": "name", "value": "Renamed"}])),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let http_state = sim_state(&sims.connectwise_site());
    assert_eq!(http_state["tickets"].as_array().unwrap().len(), initial_tickets + 1);
    assert_eq!(http_state["requests"]["POST /service/tickets"], 1);
    assert_eq!(http_state["requests"]["PATCH /company/companies/{id}"], 1);
    for k in ["companies", "boards", "statuses", "tickets", "notes", "custom_fields", "requests", "faults", "config"] {
        assert!(http_state.get(k).is_some(), "{k}");
    }
    let t = http_state["tickets"].as_array().unwrap().iter().find(|t| t["externalXRef"] == "ATS-STATE").unwrap();
    for k in ["externalXRef", "company", "board", "status"] {
        assert!(t.get(k).is_some(), "{k}");
    }

    // Over HTTP, then through the API.
    assert_eq!(request("POST", &format!("{}/_sim/reset", sims.connectwise_site()), &[], b"").unwrap().status, 200);
    let after = sims.connectwise_state();
    assert_eq!(after["companies"], before["companies"]);
    assert_eq!(after["tickets"], before["tickets"]);
    assert_eq!(after["requests_total"], 0);
    sims.reset();
    assert_eq!(sims.armor_state()["requests_total"], 0);
    assert_eq!(armor_get(&sims, &token, 1001, "/accounts").status, 401, "sessions end with a reset");
}

#[test]
fn sim_config_endpoint_sets_faults_rate_limit_and_ttl() {
    let sims = start();
    let cw_site = sims.connectwise_site();
    let post = |url: &str, body: &str| request("POST", &format!("{url}/_sim/config"), &[], body.as_bytes()).unwrap();
    let r = post(&cw_site, r#"{"faults": {"p5xx": 1.0, "seed": 1}}"#);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["faults"]["p5xx"], 1.0);
    assert!(cw(&sims, "GET", "/service/boards", None).status >= 500);
    assert!(!armor_login(&sims).is_empty(), "ARMOR unaffected");
    assert_eq!(post(&cw_site, r#"{"faults": {}}"#).status, 200);
    assert_eq!(cw(&sims, "GET", "/service/boards", None).status, 200);
    assert_eq!(post(&cw_site, r#"{"rate_limit_per_min": 1}"#).json()["rate_limit_per_min"], 1);
    assert_eq!(cw(&sims, "GET", "/service/boards", None).status, 200);
    assert_eq!(cw(&sims, "GET", "/service/boards", None).status, 429);
    assert_eq!(post(&cw_site, r#"{"rate_limit_per_min": null}"#).status, 200);
    assert_eq!(cw(&sims, "GET", "/service/boards", None).status, 200);
    let r = post(&sims.armor_url(), r#"{"token_ttl_s": 5}"#);
    assert_eq!(r.json()["token_ttl_s"], 5);
    let c = &sims.dataset().credentials.armor;
    let code = request(
        "POST",
        &format!("{}/auth/authorize", sims.armor_url()),
        &[],
        json!({"username": c.username, "password": c.password}).to_string().as_bytes(),
    )
    .unwrap()
    .json()["code"]
        .clone();
    let t = request(
        "POST",
        &format!("{}/auth/token", sims.armor_url()),
        &[],
        json!({"code": code, "grant_type": "authorization_code"}).to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(t.json()["expires_in"], 5);
    assert_eq!(post(&cw_site, "not json").status, 400);
    assert_eq!(post(&cw_site, r#"{"faults": {"p5xx": "high"}}"#).status, 400);
    assert_eq!(get(&format!("{cw_site}/_sim/config"), &[]).status, 200);
}

#[test]
fn trickle_sends_one_chosen_answer_slowly_and_the_event_log_shows_it() {
    let sims = start();
    let cw_site = sims.connectwise_site();
    let path = "/company/companies?pageSize=100&page=2";
    let whole = cw(&sims, "GET", path, None);
    assert_eq!(whole.status, 200);
    assert_eq!(sim_state(&cw_site)["config"]["trickle"], Value::Null, "off by default");

    let config = r#"{"trickle": {"route": "GET /company/companies", "page": 2, "chunks": 10, "duration_ms": 600}}"#;
    let r = request("POST", &format!("{cw_site}/_sim/config"), &[], config.as_bytes()).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["trickle"]["chunks"], 10);
    sims.reset(); // the event log starts again; the trickle stays, like faults
    let other = cw(&sims, "GET", "/company/companies?pageSize=100&page=3", None);
    let started = Instant::now();
    let slow = cw(&sims, "GET", path, None);
    let took = started.elapsed();
    assert_eq!((slow.status, slow.json()), (200, whole.json()), "the same answer, only slower");
    assert_eq!(slow.header("content-length"), Some(whole.body.len().to_string().as_str()));
    assert!(took >= Duration::from_millis(500), "took {took:?}");
    assert_eq!(other.status, 200);

    let events = sim_state(&cw_site)["events"].as_array().unwrap().clone();
    let summary: Vec<(String, Value)> =
        events.iter().map(|e| (e["event"].as_str().unwrap().to_string(), e["page"].clone())).collect();
    assert_eq!(
        summary,
        vec![
            ("request".to_string(), json!("3")),
            ("request".to_string(), json!("2")),
            ("trickle_start".to_string(), json!("2")),
            ("trickle_done".to_string(), json!("2")),
        ]
    );
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![0, 1, 2, 3]);

    let r = request("POST", &format!("{cw_site}/_sim/config"), &[], br#"{"trickle": null}"#).unwrap();
    assert_eq!(r.json()["trickle"], Value::Null);
    assert_eq!(cw(&sims, "GET", path, None).json(), whole.json());
    let events = sim_state(&cw_site)["events"].as_array().unwrap().clone();
    assert_eq!(events.last().unwrap()["event"], "request", "no trickle once it is off");
    let r = request("POST", &format!("{cw_site}/_sim/config"), &[], br#"{"trickle": {"chunks": "many"}}"#).unwrap();
    assert_eq!(r.status, 400);
}

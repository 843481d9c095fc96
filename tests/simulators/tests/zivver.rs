//! The Microsoft Graph directory and the Zivver SCIM simulator against contracts/zivver-scim.md.

mod common;

use common::*;
use psa_bridge_sim::{SimConfig, Simulators};
use serde_json::{Value, json};

fn start() -> Simulators {
    Simulators::start(SimConfig::generated(5, 30, 10, 11)).expect("simulators start")
}

fn zv(sims: &Simulators, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let c = sims.zivver_connection();
    let auth = format!("Bearer {}", c["api_key"].as_str().unwrap());
    let url = format!("{}{path}", c["base_url"].as_str().unwrap());
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    request(method, &url, &[("Authorization", &auth), ("Content-Type", "application/scim+json")], body.as_bytes())
        .expect("answered")
}

#[test]
fn smoke() {
    let sims = start();
    let r = zv(&sims, "GET", "/Users?count=5", None);
    assert_eq!(r.status, 200, "{}", r.text());
    println!("{}", serde_json::to_string_pretty(&r.json()).unwrap());
    println!("{}", serde_json::to_string_pretty(&sims.zivver_expected()).unwrap());
    println!(
        "{}",
        serde_json::to_string_pretty(&sims.graph_state()["directory"]["users"].as_array().unwrap()[0..4]).unwrap()
    );
    let _ = json!({});
}

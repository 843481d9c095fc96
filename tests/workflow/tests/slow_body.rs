//! One slow answer must not hold up the others: while ConnectWise trickles page 2 of the
//! companies, the component keeps reading the other pages and asks for the next ones.
//! Checked by the order of the simulator's events, not by timing.

mod common;

use common::*;
use psa_bridge_sim::SimConfig;
use serde_json::{Value, json};
use std::io::{Read, Write};

/// Pages in flight at once (the default `tuning.max_concurrency`): after page 1, pages 2..=9.
const WINDOW: u64 = 8;
const COMPANY_ROUTE: &str = "GET /company/companies";

/// `POST {site}/_sim/config` with `body`, over a plain TCP connection.
fn sim_config(site: &str, body: &Value) {
    let authority = site.strip_prefix("http://").unwrap();
    let body = body.to_string();
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    let head = format!(
        "POST /_sim/config HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

fn page_of(event: &Value) -> Option<u64> {
    event["page"].as_str().and_then(|p| p.parse().ok())
}

#[test]
fn later_pages_are_requested_while_page_2_trickles() {
    let sims = start(SimConfig::generated(30, 11_500, 0, 5));
    let live = sims.dataset().connectwise.companies.iter().filter(|c| c["deletedFlag"] == json!(false)).count();
    let pages = live.div_ceil(1000) as u64;
    assert!(pages > WINDOW + 1, "{pages} pages: too few for a page beyond the first window");

    // Every other ConnectWise answer waits 300 ms; page 2's headers go out at once and its body
    // over 3 s. So page 2's headers are the first the component sees of the window, and a
    // transport that reads each body to its end before looking at the others cannot ask for a
    // page beyond the window until page 2 is complete.
    sim_config(
        &sims.connectwise_site(),
        &json!({
            "faults": {"latency_ms": 300},
            "trickle": {"route": COMPANY_ROUTE, "page": 2, "chunks": 30, "duration_ms": 3000},
        }),
    );

    let step = workflow(sims.connection()).run("match_companies", json!({"dry_run": true}));
    let output = expect_ok(&step);
    assert!(output["counts"]["matched"].as_u64().unwrap() > 0, "{:#}", output["counts"]);

    let state = sims.connectwise_state();
    let events: Vec<&Value> =
        state["events"].as_array().unwrap().iter().filter(|e| e["route"] == COMPANY_ROUTE).collect();
    let order: Vec<String> = events.iter().map(|e| format!("{} {}", e["event"].as_str().unwrap(), e["page"])).collect();
    eprintln!("ConnectWise company-list events in order: {order:?}");
    let position = |event: &str, page: u64| events.iter().position(|e| e["event"] == event && page_of(e) == Some(page));
    assert!(position("trickle_start", 2).is_some(), "page 2 was trickled: {order:?}");
    let page_2_done = position("trickle_done", 2).unwrap_or_else(|| panic!("page 2 finished: {order:?}"));
    for page in WINDOW + 2..=pages {
        let requested = position("request", page).unwrap_or_else(|| panic!("page {page} requested: {order:?}"));
        assert!(requested < page_2_done, "page {page} was only requested after page 2's body was complete: {order:?}");
    }
    // Every page was read once: page 2 completed rather than timing out and being retried.
    for page in 1..=pages {
        assert_eq!(
            events.iter().filter(|e| e["event"] == "request" && page_of(e) == Some(page)).count(),
            1,
            "page {page}: {order:?}"
        );
    }
}

//! Generated data and ground truth, the Dataset file format, the binary, and a 10,000-record run.

mod common;

use common::*;
use psa_bridge_sim::generate::{generate, small};
use psa_bridge_sim::names::{distance, key};
use psa_bridge_sim::{DataSource, Dataset, Expect, SimConfig, Simulators};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::BufRead;
use std::time::Instant;

fn company(d: &Dataset, id: i64) -> &Value {
    d.company(id).unwrap_or_else(|| panic!("company {id} exists"))
}

/// The ground truth holds: every counterpart exists, and no other live company is as close.
fn check_truth(d: &Dataset) {
    // (id, name key) of every live company, computed once.
    let live: Vec<(i64, String)> = d
        .connectwise
        .companies
        .iter()
        .filter(|c| c["deletedFlag"] == false)
        .map(|c| (c["id"].as_i64().unwrap(), key(c["name"].as_str().unwrap())))
        .collect();
    for t in &d.truth.accounts {
        let account_key = key(&t.armor_name);
        let closest_other = |exclude: &[i64]| {
            live.iter()
                .filter(|(id, _)| !exclude.contains(id))
                // Length difference bounds the distance: skip the far ones cheaply.
                .map(|(_, k)| {
                    let gap = k.chars().count().abs_diff(account_key.chars().count());
                    if gap > 3 { gap } else { distance(&account_key, k) }
                })
                .min()
                .unwrap_or(usize::MAX)
        };
        match t.expect {
            Expect::None => {
                assert!(t.company_ids.is_empty());
                assert!(closest_other(&[]) > 0, "{}: a live company has the same name", t.armor_name);
            }
            Expect::Ambiguous => {
                assert_eq!(t.company_ids.len(), 2);
                let (a, b) = (company(d, t.company_ids[0]), company(d, t.company_ids[1]));
                assert_eq!(a["name"], b["name"]);
                for f in ["addressLine1", "city", "zip"] {
                    assert_eq!(a[f], b[f], "ambiguous twins share their address");
                }
            }
            Expect::Match => {
                assert_eq!(t.company_ids.len(), 1, "{}", t.armor_name);
                let c = company(d, t.company_ids[0]);
                assert_eq!(c["deletedFlag"], false);
                let own = distance(&account_key, &key(c["name"].as_str().unwrap()));
                match t.kind.as_str() {
                    "custom_field" => {
                        let v = c["customFields"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .find(|f| f["caption"] == "ARMORcompanyId")
                            .unwrap();
                        assert_eq!(v["value"], t.armor_id.to_string());
                    }
                    "typo" => assert_eq!(own, 1, "{} vs {}", t.armor_name, c["name"]),
                    "exact" | "address" | "decoy" => assert_eq!(c["name"], t.armor_name.as_str()),
                    _ => assert_eq!(own, 0, "{} vs {}", t.armor_name, c["name"]),
                }
                if t.kind == "address" {
                    let twin = company(d, t.decoy_ids[0]);
                    assert_eq!(twin["name"], c["name"]);
                    let acc = d.armor.accounts.iter().find(|a| a.id == t.armor_id).unwrap();
                    assert_eq!(c["zip"].as_str(), acc.address.postal_code.as_deref());
                    assert_eq!(c["city"].as_str(), acc.address.city.as_deref());
                    assert_eq!(c["addressLine1"].as_str(), acc.address.address_line1.as_deref());
                    assert_ne!(twin["zip"], c["zip"]);
                }
                if t.kind == "deleted" {
                    let gone = company(d, t.decoy_ids[0]);
                    assert_eq!(
                        (gone["deletedFlag"].clone(), gone["name"].as_str()),
                        (json!(true), Some(t.armor_name.as_str()))
                    );
                }
                if t.kind != "custom_field" {
                    let mut exclude = t.company_ids.clone();
                    exclude.extend(&t.decoy_ids);
                    if t.kind == "address" {
                        exclude.retain(|i| *i != t.decoy_ids[0]);
                        exclude.push(t.decoy_ids[0]);
                    }
                    let other = closest_other(&exclude);
                    assert!(other > own, "{}: another company is as close ({other} <= {own})", t.armor_name);
                    for dec in &t.decoy_ids {
                        let dn = company(d, *dec)["name"].as_str().unwrap();
                        if t.kind == "decoy" {
                            assert!(distance(&account_key, &key(dn)) > own, "decoy {dn} too close");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn generation_is_deterministic_and_the_truth_holds() {
    let a = small();
    assert_eq!(a, small());
    assert_ne!(a.connectwise.companies, generate(40, 400, 200, 43).connectwise.companies);
    assert_eq!(a.armor.accounts.len(), 41);
    assert_eq!(a.connectwise.companies.len(), 400);
    assert_eq!(a.armor.tickets.len(), 200);
    let kinds: HashSet<&str> = a.truth.accounts.iter().map(|t| t.kind.as_str()).collect();
    for k in [
        "exact",
        "case_punct",
        "and_amp",
        "accent",
        "the_prefix",
        "suffix",
        "whitespace",
        "typo",
        "address",
        "ambiguous",
        "none",
        "decoy",
        "custom_field",
        "deleted",
    ] {
        assert!(kinds.contains(k), "kind {k} present");
    }
    let names: Vec<&str> = a.armor.accounts.iter().map(|x| x.name.as_str()).collect();
    for needle in ["\"", "\\", "%", "_", "'"] {
        assert!(names.iter().any(|n| n.contains(needle)), "a name with {needle}");
    }
    assert!(names.iter().any(|n| !n.is_ascii() && n.chars().any(|c| c as u32 > 0x3000)), "non-Latin");
    // Custom fields: instance ids, every company lists all, unrelated fields carry values.
    let ids: Vec<i64> = ["ARMORcompanyId", "ARMORcompanyName", "ARMORparentId", "ARMORdateUpdated"]
        .iter()
        .map(|c| a.custom_field_id(c).unwrap())
        .collect();
    assert!(ids.iter().all(|i| *i > 4));
    for c in &a.connectwise.companies {
        assert_eq!(c["customFields"].as_array().unwrap().len(), a.connectwise.custom_fields.len());
    }
    assert!(a.connectwise.companies.iter().any(|c| {
        c["customFields"].as_array().unwrap().iter().any(|f| f["caption"] == "Tier" && f["value"].is_string())
    }));
    let grandchildren = a.armor.accounts.iter().filter(|x| x.parent != 1001 && x.parent != -1).count();
    assert!(grandchildren > 0 && grandchildren < 20);
    for seed in [42, 1, 2, 3, 4, 5] {
        check_truth(&generate(40, 400, 200, seed));
    }
    // More accounts than account words: the vocabulary is reused and the truth must still hold.
    check_truth(&generate(130, 400, 10, 9));
}

#[test]
fn dataset_file_round_trip() {
    let d = generate(12, 60, 30, 5);
    let path = std::env::temp_dir().join(format!("psa-sim-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_vec(&d).unwrap()).unwrap();
    let mut cfg = SimConfig::small();
    cfg.data = DataSource::File(path.clone());
    let sims = Simulators::start(cfg).unwrap();
    let mut started = d.clone();
    psa_bridge_sim::generate::add_other_sources_link_fields(&mut started);
    assert_eq!(sims.dataset(), &started, "the data as written, with the other sources' link fields");
    assert_eq!(ids(&cw(&sims, "GET", "/company/companies?pageSize=1000", None).json()).len(), 60);
    std::fs::remove_file(path).ok();
    // A minimal hand-written dataset also loads (optional fields default).
    let mut v = serde_json::to_value(&d).unwrap();
    v.as_object_mut().unwrap().remove("truth");
    v["connectwise"].as_object_mut().unwrap().remove("notes");
    let parsed: Dataset = serde_json::from_value(v).unwrap();
    assert!(parsed.truth.accounts.is_empty());
}

#[test]
fn connection_has_exactly_the_plugin_keys() {
    let sims = Simulators::start(SimConfig::generated(3, 10, 5, 1)).unwrap();
    let c = sims.connection();
    assert_eq!(c["armor"]["base_url"], sims.armor_url());
    assert_eq!(c["armor"]["account_id"], 1001);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<HashSet<String>>();
    let set = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<HashSet<String>>();
    assert_eq!(keys(&c), set(&["armor", "connectwise"]));
    assert_eq!(keys(&c["armor"]), set(&["base_url", "account_id", "login", "api_key"]));
    assert_eq!(keys(&c["armor"]["login"]), set(&["username", "password"]));
    assert_eq!(keys(&c["armor"]["api_key"]), set(&["key_id", "secret_key"]));
    assert_eq!(keys(&c["connectwise"]), set(&["site", "codebase", "company_id", "api_key", "client_id"]));
    assert_eq!(keys(&c["connectwise"]["api_key"]), set(&["public_key", "private_key"]));
    assert_eq!(
        format!(
            "{}/{}apis/3.0",
            c["connectwise"]["site"].as_str().unwrap(),
            c["connectwise"]["codebase"].as_str().unwrap()
        ),
        sims.connectwise_url()
    );
}

#[test]
fn ten_thousand_companies_and_tickets_page_quickly() {
    let t0 = Instant::now();
    let mut d = generate(500, 10_000, 10_000, 3);
    let generated = t0.elapsed();
    let board = d.armor_board_id().unwrap();
    let company_ids: Vec<i64> = d.connectwise.companies.iter().map(|c| c["id"].as_i64().unwrap()).collect();
    d.connectwise.tickets = (0..10_000)
        .map(|i| {
            json!({"id": 20_000 + i, "summary": format!("ticket {i}"), "recordType": "ServiceTicket", "board": {"id": board, "name": "ARMORtickets"},
                   "status": {"id": 31, "name": "New"}, "company": {"id": company_ids[i as usize % company_ids.len()]},
                   "externalXRef": format!("ATS-{}", 100_000 + i), "closedFlag": false})
        })
        .collect();
    let t1 = Instant::now();
    let sims = Simulators::start(SimConfig::with_dataset(d)).unwrap();
    let started = t1.elapsed();
    let d = sims.dataset();
    assert_eq!(d.connectwise.companies.len(), 10_000);

    let t2 = Instant::now();
    let mut seen = Vec::new();
    for page in 1..=11 {
        let r = cw(&sims, "GET", &format!("/company/companies?pageSize=1000&page={page}&fields=id,name"), None);
        let got = ids(&r.json());
        if page == 11 {
            assert!(got.is_empty());
        } else {
            assert_eq!(got.len(), 1000);
        }
        seen.extend(got);
    }
    assert_eq!(seen.len(), 10_000);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 10_000);
    let mut path = "/service/tickets?pageSize=1000&fields=id,externalXRef".to_string();
    let mut tickets = 0;
    for _ in 0..20 {
        let r = cw_with(&sims, "GET", &path, None, &[("pagination-type", "forward-only")]);
        tickets += ids(&r.json()).len();
        match link(&r, "next") {
            Some(n) => path = n.trim_start_matches(&sims.connectwise_url()).to_string(),
            None => break,
        }
    }
    assert_eq!(tickets, 10_000);
    let cw_paging = t2.elapsed();

    let t3 = Instant::now();
    let token = armor_login(&sims);
    let mut armor_total = 0;
    let mut requests = 0;
    for acc in d.armor.accounts.iter() {
        let mut next: Option<String> = None;
        for _ in 0..1000 {
            let mut p = "/tickets/list?maxResults=50".to_string();
            if let Some(t) = &next {
                p.push_str(&format!("&nextPageToken={}", enc(t)));
            }
            let v = armor_get(&sims, &token, acc.id, &p).json();
            requests += 1;
            armor_total += v["items"].as_array().unwrap().len();
            match v.get("nextPageToken").and_then(Value::as_str) {
                Some(t) => next = Some(t.to_string()),
                None => break,
            }
        }
    }
    assert_eq!(armor_total, 10_000);
    let armor_paging = t3.elapsed();
    eprintln!(
        "scale: generate {generated:?}, start {started:?}, CW 10k companies + 10k tickets paged in {cw_paging:?}, \
         ARMOR 10k tickets over {requests} pages in {armor_paging:?}"
    );
    assert!(t0.elapsed().as_secs() < 60);
}

#[test]
fn the_binary_prints_one_json_line_and_serves() {
    let exe = env!("CARGO_BIN_EXE_psa-bridge-sim");
    let mut child = std::process::Command::new(exe)
        .args([
            "--accounts",
            "5",
            "--companies",
            "50",
            "--tickets",
            "20",
            "--seed",
            "3",
            "--p5xx",
            "0",
            "--rate-limit-per-min",
            "1000",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    let armor = ready["armor"].as_str().unwrap().to_string();
    assert!(ready["connectwise"].as_str().unwrap().ends_with("/v4_6_release/apis/3.0"));
    assert_eq!(ready["connection"]["armor"]["base_url"], armor.as_str());
    let state = get(&format!("{armor}/_sim/state"), &[]).json();
    assert_eq!(state["accounts"].as_array().unwrap().len(), 6);
    assert_eq!(state["config"]["rate_limit_per_min"], 1000);
    child.kill().unwrap();
    child.wait().unwrap();

    // --write-data, then --data with that file.
    let path = std::env::temp_dir().join(format!("psa-sim-bin-{}.json", std::process::id()));
    let st = std::process::Command::new(exe)
        .args(["--accounts", "4", "--companies", "20", "--tickets", "5", "--write-data"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(st.success());
    let written: Dataset = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(written, generate(4, 20, 5, 42));
    let bad =
        std::process::Command::new(exe).args(["--p5xx", "2"]).stderr(std::process::Stdio::null()).status().unwrap();
    assert!(!bad.success());
    let mut child = std::process::Command::new(exe)
        .arg("--data")
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ready["connection"]["connectwise"]["company_id"], written.credentials.connectwise.company_id.as_str());
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_file(path).ok();
}

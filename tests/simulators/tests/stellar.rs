//! The Stellar Cyber simulator against contracts/stellar-cyber.md.

mod common;

use base64::Engine;
use common::*;
use psa_bridge_sim::generate::{STELLAR_SEVERITIES, STELLAR_STATUSES, generate, stellar_from};
use psa_bridge_sim::{Dataset, Expect, Faults, SimConfig, Simulators, StellarConfig, StellarData};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::BufRead;
use std::time::Duration;

const DAY_MS: i64 = 86_400_000;

fn start() -> Simulators {
    Simulators::start(SimConfig::generated(30, 120, 300, 7)).expect("simulators start")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn basic_header(user: &str, key: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{key}")))
}

fn token_request(sims: &Simulators, auth: Option<&str>) -> Resp {
    let url = format!("{}/connect/api/v1/access_token", sims.stellar_url());
    let headers: Vec<(&str, &str)> = auth.map(|a| vec![("Authorization", a)]).unwrap_or_default();
    request("POST", &url, &headers, b"").expect("answered")
}

fn token(sims: &Simulators) -> String {
    let c = sims.stellar_connection();
    let auth = basic_header(c["user"].as_str().unwrap(), c["api_key"].as_str().unwrap());
    let r = token_request(sims, Some(&auth));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["access_token"].as_str().unwrap().to_string()
}

/// A request below `/connect/api/v1` with a bearer token.
fn api(sims: &Simulators, tok: &str, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let auth = format!("Bearer {tok}");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let url = format!("{}{path}", sims.stellar_api_url());
    request(method, &url, &[("Authorization", &auth), ("Content-Type", "application/json")], body.as_bytes())
        .expect("answered")
}

fn get_ok(sims: &Simulators, tok: &str, path: &str) -> Value {
    let r = api(sims, tok, "GET", path, None);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

/// Every `_id` a case query matches, paging with `skip` by `limit` until a short page.
fn all_ids(sims: &Simulators, tok: &str, query: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let sep = if query.is_empty() { "" } else { "&" };
        let v = get_ok(sims, tok, &format!("/cases?{query}{sep}limit={limit}&skip={}", out.len()));
        let page = v["data"]["cases"].as_array().unwrap().clone();
        let total = v["data"]["total"].as_u64().unwrap() as usize;
        out.extend(page.iter().map(|c| c["_id"].as_str().unwrap().to_string()));
        if page.len() < limit {
            assert_eq!(out.len(), total, "{query}: total counts every match");
            return out;
        }
    }
}

fn state_cases(sims: &Simulators) -> Vec<Value> {
    sims.stellar_state()["cases"].as_array().unwrap().clone()
}

fn case_in_state(sims: &Simulators, id: &str) -> Value {
    state_cases(sims).into_iter().find(|c| c["_id"] == id).expect("case in state")
}

fn tags(c: &Value) -> Vec<String> {
    c["tags"].as_array().map(|a| a.iter().map(|t| t.as_str().unwrap().to_string()).collect()).unwrap_or_default()
}

fn score(c: &Value) -> Option<f64> {
    c["score"].as_f64().or_else(|| c["score"].as_str().and_then(|s| s.parse().ok()))
}

fn fingerprint(d: &Dataset) -> String {
    let v = json!([d.seed, d.credentials, d.armor, d.connectwise, d.truth, d.halo]);
    Sha256::digest(v.to_string().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn other_services_data_unchanged_by_stellar() {
    // What generate(30, 120, 40, seed) gave before the Stellar simulator existed (commit 272937c).
    for (seed, before) in [
        (1, "22a7b8c985aeb1fca33e7020caff3c0fdce66b5913ab94a9c76c440af6c3a04a"),
        (7, "e90c6bd9ff7ace089e727d2baa18db7f66d93d9a51660c66b9b1d2546ca72014"),
        (42, "38ec1137ac0f77ba9b6d853e9309b0cdf0836fb37c067a0801ae285726c58131"),
    ] {
        let d = generate(30, 120, 40, seed);
        assert_eq!(fingerprint(&d), before, "seed {seed}: ARMOR/ConnectWise/Halo/truth unchanged");
        assert!(!d.stellar.is_empty());
    }
}

#[test]
fn auth_both_ways_expiry_and_401s() {
    let sims = start();
    let c = sims.stellar_connection();
    let (user, key) = (c["user"].as_str().unwrap(), c["api_key"].as_str().unwrap());
    assert_eq!(user, "psa-bridge@stellar-sim.test");
    assert!(key.starts_with("StellarKey-"));
    let scoped = sims.stellar_scoped_connection();
    assert_eq!(scoped["host"], sims.stellar_url().as_str());
    assert_eq!(scoped.as_object().unwrap().len(), 2);
    let scoped_key = scoped["api_key"].as_str().unwrap();
    assert!(scoped_key.starts_with("StellarScoped-"));
    let sync_id = sims.stellar_state()["sync_user_id"].as_str().unwrap().to_string();

    let before = now_ms() / 1000;
    let r = token_request(&sims, Some(&basic_header(user, key)));
    assert_eq!(r.status, 200, "{}", r.text());
    let t = r.json();
    let jwt = t["access_token"].as_str().unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "three base64url parts");
    let payload: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(payload["sub"], sync_id.as_str());
    let exp = t["exp"].as_i64().unwrap();
    assert_eq!(payload["exp"], exp);
    assert!((before + 599..=before + 602).contains(&exp), "about 10 minutes: {exp} vs {before}");
    assert_eq!(get_ok(&sims, jwt, "/cases?limit=1")["data"]["cases"].as_array().unwrap().len(), 1);

    // Scoped key: Bearer on the token request, same user.
    let r = token_request(&sims, Some(&format!("Bearer {scoped_key}")));
    assert_eq!(r.status, 200, "{}", r.text());
    let jwt2 = r.json()["access_token"].as_str().unwrap().to_string();
    assert_ne!(jwt2, jwt);
    let p2: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwt2.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(p2["sub"], sync_id.as_str());
    assert_eq!(api(&sims, &jwt2, "GET", "/users", None).status, 200);

    // Wrong credentials.
    for auth in [
        Some(basic_header(user, "StellarKey-nope")),
        Some(basic_header("someone@stellar-sim.test", key)),
        Some(basic_header(user, scoped_key)),
        Some(format!("Bearer {key}")),
        Some("Bearer ".to_string()),
        Some("Basic !!!".to_string()),
        None,
    ] {
        let r = token_request(&sims, auth.as_deref());
        assert_eq!(r.status, 401, "{auth:?}");
        assert!(r.json()["error"].is_string());
    }
    // Other routes want the JWT: not the key, not nothing, not garbage.
    for auth in [format!("Bearer {scoped_key}"), "Bearer abc.def.ghi".into(), basic_header(user, key)] {
        let r = request("GET", &format!("{}/cases", sims.stellar_api_url()), &[("Authorization", &auth)], b"").unwrap();
        assert_eq!(r.status, 401, "{auth}");
        assert!(r.json()["error"].is_string());
    }
    assert_eq!(get(&format!("{}/users", sims.stellar_api_url()), &[]).status, 401);
    assert_eq!(get(&format!("{}/no/such/route", sims.stellar_api_url()), &[]).status, 401, "auth before routing");
    let st = sims.stellar_state();
    assert_eq!(st["tokens_issued"], 2);
    assert_eq!(st["tokens_issued_by_mode"], json!({"basic": 1, "scoped": 1}));

    // Expiry.
    sims.set_stellar_config(StellarConfig { token_ttl_s: 1, ..sims.stellar_config() });
    let short = token(&sims);
    assert_eq!(api(&sims, &short, "GET", "/tenants", None).status, 200);
    std::thread::sleep(Duration::from_millis(1200));
    let r = api(&sims, &short, "GET", "/tenants", None);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "Token expired");
    // Reset ends the sessions.
    sims.reset();
    assert_eq!(api(&sims, &jwt2, "GET", "/users", None).status, 401);
    assert_eq!(sims.stellar_state()["tokens_issued"], 0);
}

#[test]
fn tenants_and_users_follow_the_truth() {
    let sims = start();
    let d = sims.dataset();
    let tok = token(&sims);
    let tenants = get_ok(&sims, &tok, "/tenants")["data"].as_array().unwrap().clone();
    assert_eq!(tenants.len(), d.stellar.tenants.len());
    for t in &tenants {
        assert_eq!(t.as_object().unwrap().len(), 2, "cust_id and cust_name only");
        assert!(t["cust_id"].as_str().unwrap().chars().all(|c| c.is_ascii_hexdigit()));
    }
    let subs = d.armor.accounts.iter().filter(|a| a.parent != -1).count();
    let with_counterpart = d.stellar.tenants.iter().filter(|t| t.armor_id.is_some()).count();
    assert!(with_counterpart * 2 > subs && with_counterpart < subs, "about two thirds: {with_counterpart}/{subs}");
    assert_eq!(d.stellar.tenants.iter().filter(|t| t.armor_id.is_none()).count(), 2);
    let mut matched = 0;
    for t in &d.stellar.tenants {
        match t.armor_id {
            None => assert_eq!(t.company, None),
            Some(a) => {
                let acct = d.armor.accounts.iter().find(|x| x.id == a).unwrap();
                assert_eq!(t.cust_name.trim(), acct.name.trim(), "same customer name");
                let truth = d.truth_for(a).unwrap();
                if truth.expect == Expect::Match {
                    let company = t.company.unwrap() as i64;
                    assert_eq!(company, truth.company_ids[0]);
                    assert!(d.halo.client_for_company(company).is_some(), "Halo client follows");
                    matched += 1;
                } else {
                    assert_eq!(t.company, None);
                }
            }
        }
    }
    assert!(matched > 0);
    let users = get_ok(&sims, &tok, "/users")["data"].as_array().unwrap().clone();
    assert_eq!(users.len(), 4);
    assert!(users.iter().all(|u| u.as_object().unwrap().len() == 2));
    let sync = users.iter().find(|u| u["email"] == "psa-bridge@stellar-sim.test").unwrap();
    assert_eq!(sync["user_id"], sims.stellar_state()["sync_user_id"]);
}

#[test]
fn generated_cases_are_deterministic_and_messy() {
    let a = generate(40, 200, 400, 11);
    assert_eq!(a.stellar, generate(40, 200, 400, 11).stellar);
    assert_ne!(a.stellar.cases, generate(40, 200, 400, 12).stellar.cases);
    let s = &a.stellar;
    assert_eq!(s.cases.len(), 200, "half the ARMOR tickets");
    let anchor = s.anchor_ms.unwrap();
    let mut by_modified: HashMap<i64, usize> = HashMap::new();
    let mut keys = HashSet::new();
    let mut ticket_tenants: HashMap<i64, BTreeSet<String>> = HashMap::new();
    let analysts: HashSet<&str> = s.analysts().map(|u| u.user_id.as_str()).collect();
    for c in &s.cases {
        let id = c["_id"].as_str().unwrap();
        assert!(id.len() == 24 && id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        let (created, modified) = (c["created_at"].as_i64().unwrap(), c["modified_at"].as_i64().unwrap());
        assert!(created <= modified && modified < anchor && created >= anchor - 10 * DAY_MS);
        *by_modified.entry(modified).or_default() += 1;
        let cust = c["cust_id"].as_str().unwrap().to_string();
        assert!(keys.insert((cust.clone(), c["ticket_id"].as_i64().unwrap())), "ticket_id unique within cust_id");
        ticket_tenants.entry(c["ticket_id"].as_i64().unwrap()).or_default().insert(cust.clone());
        assert_eq!(c["tenant_name"].as_str(), s.tenant(&cust).map(|t| t.cust_name.as_str()));
        let st = c["status"].as_str().unwrap();
        assert_eq!(c["closed"], json!(st == "Resolved" || st == "Cancelled"));
        let sc = score(c).unwrap();
        assert!((0.0..=100.0).contains(&sc));
        if let Some(n) = c["size"].as_i64() {
            assert!((1..=60).contains(&n));
        }
        assert!(!tags(c).contains(&"ticket_opened".to_string()));
        for k in [
            "_id",
            "ticket_id",
            "name",
            "status",
            "severity",
            "score",
            "size",
            "tenant_name",
            "cust_id",
            "assignee",
            "assignee_name",
            "tags",
            "acknowledged",
            "closed",
            "created_by",
            "modified_by",
            "modified_by_name",
            "version",
            "created_at",
            "modified_at",
        ] {
            assert!(c.get(k).is_some(), "case field {k}");
        }
        assert_eq!(c.as_object().unwrap().len(), 20, "exactly the contract's fields");
        let comments: Vec<&Value> = s.comments.iter().filter(|m| m["case_id"] == id).collect();
        assert!(comments.len() <= 3);
        for m in comments {
            assert!(analysts.contains(m["user"].as_str().unwrap()));
            let at = m["created_at"].as_i64().unwrap();
            assert!(created <= at && at <= modified);
        }
    }
    let shared: usize = by_modified.values().filter(|n| **n > 1).sum();
    assert!(shared * 10 >= s.cases.len(), "at least 10 % share a modified_at millisecond: {shared}");
    assert!(s.cases.iter().any(|c| c["modified_at"].as_i64().unwrap() < anchor - 7 * DAY_MS), "older than 7 days");
    assert!(ticket_tenants.values().any(|t| t.len() > 1), "ticket ids collide across tenants");
    for st in STELLAR_STATUSES {
        assert!(s.cases.iter().any(|c| c["status"] == st), "status {st}");
    }
    for sev in STELLAR_SEVERITIES {
        assert!(s.cases.iter().any(|c| c["severity"] == sev), "severity {sev}");
    }
    let open = s.cases.iter().filter(|c| c["status"] == "New" || c["status"] == "In Progress").count();
    assert!(open * 2 > s.cases.len(), "mostly New / In Progress");
    let assigned = s.cases.iter().filter(|c| c["assignee"] != "").count();
    assert!(assigned * 3 > s.cases.len() && assigned * 3 < s.cases.len() * 2, "about half assigned: {assigned}");
    assert!(s.cases.iter().any(|c| c["tags"].is_null()));
    assert!(s.cases.iter().any(|c| c["size"].is_null()));
    assert!(s.cases.iter().any(|c| c["score"].is_string()));
    assert!(s.cases.iter().any(|c| c["name"].as_str().unwrap() != c["name"].as_str().unwrap().trim()));
    assert!(s.comments.len() > s.cases.len() / 2);
    // The served times are recent: shifted so the anchor is the start.
    let sims = Simulators::start(SimConfig::with_dataset(a.clone())).unwrap();
    let now = now_ms();
    let served = state_cases(&sims);
    assert_eq!(served.len(), 200);
    for c in &served {
        let orig = s.cases.iter().find(|x| x["_id"] == c["_id"]).unwrap();
        let shift = c["modified_at"].as_i64().unwrap() - orig["modified_at"].as_i64().unwrap();
        assert_eq!(c["created_at"].as_i64().unwrap() - orig["created_at"].as_i64().unwrap(), shift);
        assert!((now - shift - anchor).abs() < 60_000, "shifted to the start");
        assert!(c["modified_at"].as_i64().unwrap() <= now);
    }
}

#[test]
fn the_guarantees_hold_for_every_seed_and_size() {
    for (accounts, tickets, seed) in [(5, 4, 1), (12, 30, 2), (30, 90, 3), (60, 500, 4), (0, 20, 5), (8, 0, 6)] {
        let d = generate(accounts, accounts * 5 + 10, tickets, seed);
        let s = &d.stellar;
        assert_eq!(s.cases.len(), d.armor.tickets.len() / 2, "half the ARMOR tickets ({tickets} asked)");
        assert_eq!(s.tenants.iter().filter(|t| t.armor_id.is_none()).count(), 2);
        let mut by_modified: HashMap<i64, usize> = HashMap::new();
        let mut keys = HashSet::new();
        for c in &s.cases {
            assert!(s.tenant(c["cust_id"].as_str().unwrap()).is_some());
            assert!(c["created_at"].as_i64() <= c["modified_at"].as_i64());
            *by_modified.entry(c["modified_at"].as_i64().unwrap()).or_default() += 1;
            assert!(keys.insert((c["cust_id"].clone(), c["ticket_id"].clone())));
            assert!(keys.len() <= s.cases.len());
        }
        let shared: usize = by_modified.values().filter(|n| **n > 1).sum();
        assert!(shared * 10 >= s.cases.len(), "seed {seed}: {shared} of {}", s.cases.len());
        let ids: HashSet<&str> = s.cases.iter().chain(&s.comments).map(|c| c["_id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), s.cases.len() + s.comments.len(), "ids unique");
    }
}

#[test]
fn data_without_a_stellar_section_gets_the_seeds() {
    let mut d = generate(12, 60, 30, 5);
    let expected = d.stellar.clone();
    d.stellar = StellarData::default();
    let sims = Simulators::start(SimConfig::with_dataset(d)).unwrap();
    assert_eq!(sims.dataset().stellar, expected);
    // A configured case count regenerates generated data only.
    let mut config = SimConfig::generated(12, 60, 30, 5);
    config.stellar.cases = Some(9);
    let sims = Simulators::start(config).unwrap();
    assert_eq!(sims.dataset().stellar.cases.len(), 9);
    assert_eq!(sims.dataset().stellar, stellar_from(&generate(12, 60, 30, 5), 5, 9));
}

#[test]
fn every_filter() {
    let sims = start();
    let tok = token(&sims);
    let cases = state_cases(&sims);
    assert_eq!(cases.len(), 150);
    let check = |query: &str, keep: &dyn Fn(&Value) -> bool| {
        let mut got = all_ids(&sims, &tok, query, 500);
        got.sort();
        let mut want: Vec<String> =
            cases.iter().filter(|c| keep(c)).map(|c| c["_id"].as_str().unwrap().to_string()).collect();
        want.sort();
        assert_eq!(got, want, "{query}");
        want.len()
    };
    let ms = |c: &Value, k: &str| c[k].as_i64().unwrap();
    let mut mods: Vec<i64> = cases.iter().map(|c| ms(c, "modified_at")).collect();
    mods.sort();
    let (lo, hi) = (mods[30], mods[100]);
    // Inclusive at both ends.
    let n =
        check(&format!("FROM~modified_at={lo}&TO~modified_at={hi}"), &|c| (lo..=hi).contains(&ms(c, "modified_at")));
    assert!(n >= 71);
    check(&format!("FROM~modified_at={hi}"), &|c| ms(c, "modified_at") >= hi);
    check(&format!("TO~modified_at={lo}"), &|c| ms(c, "modified_at") <= lo);
    let mut creates: Vec<i64> = cases.iter().map(|c| ms(c, "created_at")).collect();
    creates.sort();
    let (clo, chi) = (creates[20], creates[90]);
    check(&format!("FROM~created_at={clo}&TO~created_at={chi}"), &|c| (clo..=chi).contains(&ms(c, "created_at")));
    // Tenants: tenantid and cust_id both filter by cust_id.
    let cust = cases[0]["cust_id"].as_str().unwrap().to_string();
    let n = check(&format!("tenantid={cust}"), &|c| c["cust_id"] == cust.as_str());
    assert!(n >= 1);
    check(&format!("cust_id={cust}"), &|c| c["cust_id"] == cust.as_str());
    check(&format!("cust_id={cust}&tenantid=0000"), &|_| false);
    // Status: a comma list.
    let n = check("status=New,Escalated", &|c| c["status"] == "New" || c["status"] == "Escalated");
    assert!(n > 0);
    check(&format!("status={}", enc("In Progress")), &|c| c["status"] == "In Progress");
    // Tags: any of; NOT~tags: none of (null tags have none).
    let n = check("tags=vip,malware", &|c| tags(c).iter().any(|t| t == "vip" || t == "malware"));
    assert!(n > 0);
    let n = check("NOT~tags=vip,malware", &|c| !tags(c).iter().any(|t| t == "vip" || t == "malware"));
    assert!(n > 0);
    // NOT~modified_by.
    let by = cases[0]["modified_by"].as_str().unwrap().to_string();
    let n = check(&format!("NOT~modified_by={by}"), &|c| c["modified_by"] != by.as_str());
    assert!(n > 0 && n < 150);
    // FROM~score (string scores count), min_size_auto (null size is 0).
    let n = check("FROM~score=57.5", &|c| score(c).unwrap() >= 57.5);
    assert!(n > 0 && n < 150);
    let n = check("min_size_auto=30", &|c| c["size"].as_i64().unwrap_or(0) >= 30);
    assert!(n > 0 && n < 150);
    // ticket_id: unique only within a tenant.
    let mut per_ticket: HashMap<i64, usize> = HashMap::new();
    for c in &cases {
        *per_ticket.entry(c["ticket_id"].as_i64().unwrap()).or_default() += 1;
    }
    let (&dup, _) = per_ticket.iter().find(|(_, n)| **n > 1).expect("a ticket id in two tenants");
    assert!(check(&format!("ticket_id={dup}"), &|c| c["ticket_id"] == dup) > 1);
    let one = cases.iter().find(|c| c["ticket_id"] == dup).unwrap();
    let one_cust = one["cust_id"].as_str().unwrap().to_string();
    assert_eq!(check(&format!("ticket_id={dup}&cust_id={one_cust}"), &|c| c["_id"] == one["_id"]), 1);
    // Everything at once.
    check(
        &format!(
            "FROM~modified_at={lo}&status=New,{}&FROM~score=20&min_size_auto=5&NOT~tags=noise",
            enc("In Progress")
        ),
        &|c| {
            ms(c, "modified_at") >= lo
                && (c["status"] == "New" || c["status"] == "In Progress")
                && score(c).unwrap() >= 20.0
                && c["size"].as_i64().unwrap_or(0) >= 5
                && !tags(c).contains(&"noise".to_string())
        },
    );
    // Percent-encoded `~` is the same parameter.
    check(&format!("FROM%7Emodified_at={hi}"), &|c| ms(c, "modified_at") >= hi);

    // Sorting.
    let order = |q: &str, key: &str| -> Vec<(i64, String)> {
        let v = get_ok(&sims, &tok, &format!("/cases?{q}&limit=500"));
        v["data"]["cases"].as_array().unwrap().iter().map(|c| (ms(c, key), c["_id"].as_str().unwrap().into())).collect()
    };
    let asc = order("sort=modified_at&order=asc", "modified_at");
    assert!(asc.windows(2).all(|w| w[0] <= w[1]), "ascending, ties by _id");
    let desc = order("sort=modified_at&order=desc", "modified_at");
    assert!(desc.windows(2).all(|w| w[0].0 > w[1].0 || (w[0].0 == w[1].0 && w[0].1 < w[1].1)));
    let c_asc = order("sort=created_at&order=asc", "created_at");
    assert!(c_asc.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(order("sort=modified_at", "modified_at"), asc, "order defaults to asc with a sort");
    let default = order("x=1", "created_at");
    assert!(default.windows(2).all(|w| w[0].0 >= w[1].0), "no sort: newest created first");
    for bad in ["sort=name", "order=up", "FROM~modified_at=yesterday", "FROM~score=high", "ticket_id=x"] {
        let r = api(&sims, &tok, "GET", &format!("/cases?{bad}"), None);
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.json()["error"].is_string());
    }
}

#[test]
fn paging_with_skip_limit_and_the_500_cap() {
    let sims = start();
    let tok = token(&sims);
    let v = get_ok(&sims, &tok, "/cases?sort=modified_at&order=asc");
    assert_eq!(v["data"]["cases"].as_array().unwrap().len(), 100, "default limit 100");
    assert_eq!(v["data"]["total"], 150);
    let full: Vec<String> = get_ok(&sims, &tok, "/cases?sort=modified_at&order=asc&limit=500")["data"]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(full.len(), 150);
    let paged = all_ids(&sims, &tok, "sort=modified_at&order=asc", 7);
    assert_eq!(paged, full, "skip pages are stable, no duplicates or holes");
    let r = api(&sims, &tok, "GET", "/cases?limit=501", None);
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("500"));
    for bad in ["limit=0", "limit=-1", "limit=ten", "skip=-5"] {
        assert_eq!(api(&sims, &tok, "GET", &format!("/cases?{bad}"), None).status, 400, "{bad}");
    }
    let v = get_ok(&sims, &tok, "/cases?skip=1000");
    assert_eq!(v["data"]["cases"], json!([]));
    assert_eq!(v["data"]["total"], 150);
    assert_eq!(sims.stellar_state()["requests"]["GET /connect/api/v1/cases"].as_u64().unwrap(), 30);
}

#[test]
fn case_reads_summary_observables_alerts() {
    let sims = start();
    let tok = token(&sims);
    let cases = state_cases(&sims);
    let c = cases.iter().find(|c| c["size"].as_i64().is_some_and(|n| n > 3)).unwrap();
    let id = c["_id"].as_str().unwrap();
    let one = get_ok(&sims, &tok, &format!("/cases/{id}"))["data"].clone();
    assert_eq!(one["_id"], id);
    assert_eq!(one.as_object().unwrap().len(), 20);
    let r = api(&sims, &tok, "GET", "/cases/0123456789abcdef01234567", None);
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), json!({"error": "case not found"}));
    let s = get_ok(&sims, &tok, &format!("/cases/{id}/summary?formatted=true"))["data"].as_str().unwrap().to_string();
    assert!(s.contains(&format!("Case #{}", c["ticket_id"])) && s.contains('\n'));
    let o = get_ok(&sims, &tok, &format!("/cases/{id}/observables"));
    assert!(!o["observables"].as_array().unwrap().is_empty());
    let size = c["size"].as_u64().unwrap();
    let a = get_ok(&sims, &tok, &format!("/cases/{id}/alerts?limit=2&skip=1"));
    assert_eq!(a["data"]["total"], size);
    let docs = a["data"]["docs"].as_array().unwrap();
    assert_eq!(docs.len(), 2);
    assert!(docs[0]["_id"].is_string() && docs[0]["_index"].is_string() && docs[0]["_source"].is_object());
    assert_eq!(api(&sims, &tok, "GET", &format!("/cases/{id}/alerts?limit=501"), None).status, 400);
    let comments = get_ok(&sims, &tok, &format!("/cases/{id}/comments"))["data"].clone();
    assert_eq!(comments, c["comments"]);
    assert_eq!(api(&sims, &tok, "DELETE", &format!("/cases/{id}"), None).status, 405);
    assert_eq!(api(&sims, &tok, "GET", "/nothing", None).status, 404);
    let st = sims.stellar_state();
    assert_eq!(st["requests"]["GET /connect/api/v1/cases/{id}"], 2);
    assert_eq!(st["requests"]["GET /connect/api/v1/cases/{id}/alerts"], 2);
}

#[test]
fn comments_move_the_case_and_not_modified_by_skips_the_sync() {
    let sims = start();
    let tok = token(&sims);
    let sync = sims.stellar_state()["sync_user_id"].as_str().unwrap().to_string();
    let cases = state_cases(&sims);
    let c = &cases[3];
    let id = c["_id"].as_str().unwrap();
    let before = now_ms();
    let r =
        api(&sims, &tok, "POST", &format!("/cases/{id}/comments"), Some(&json!({"comment": "PSA ticket 5001 opened"})));
    assert_eq!(r.status, 200, "{}", r.text());
    let m = r.json()["data"].clone();
    assert_eq!(m["case_id"], id);
    assert_eq!(m["user"], sync.as_str());
    assert_eq!(m["comment"], "PSA ticket 5001 opened");
    assert!(m["_id"].as_str().unwrap().len() == 24);
    assert!(m["created_at"].as_i64().unwrap() >= before);
    let after = case_in_state(&sims, id);
    assert!(after["modified_at"].as_i64().unwrap() >= before);
    assert_eq!(after["modified_by"], sync.as_str());
    assert_eq!(after["modified_by_name"], "PSA Bridge Sync");
    assert_eq!(after["version"].as_i64().unwrap(), c["version"].as_i64().unwrap() + 1);
    let listed = get_ok(&sims, &tok, &format!("/cases/{id}/comments"))["data"].as_array().unwrap().clone();
    assert_eq!(listed.last().unwrap()["_id"], m["_id"]);
    for bad in [json!({"comment": ""}), json!({"comment": "   "}), json!({}), json!({"comment": 5})] {
        assert_eq!(api(&sims, &tok, "POST", &format!("/cases/{id}/comments"), Some(&bad)).status, 400, "{bad}");
    }
    let r = api(&sims, &tok, "POST", "/cases/ffffffffffffffffffffffff/comments", Some(&json!({"comment": "x"})));
    assert_eq!(r.status, 404);

    // The incremental read: the sync's own comment is excluded by NOT~modified_by...
    let q = format!("FROM~modified_at={before}&NOT~modified_by={sync}&sort=modified_at&order=asc");
    assert!(all_ids(&sims, &tok, &q, 100).is_empty());
    assert_eq!(all_ids(&sims, &tok, &format!("FROM~modified_at={before}"), 100), vec![id.to_string()]);
    // ...an analyst's comment shows.
    let other = cases[5]["_id"].as_str().unwrap();
    let out = sims.stellar_analyst(other, json!({"comment": "Customer called back"})).unwrap();
    assert_eq!(out["comment"]["comment"], "Customer called back");
    assert_eq!(all_ids(&sims, &tok, &q, 100), vec![other.to_string()]);
    let st = sims.stellar_state();
    assert_eq!(st["comments_posted"]["total"], 2);
    assert_eq!(st["comments_posted"]["by_user"][&sync], 1);
    let analyst = sims.dataset().stellar.analysts().next().unwrap().user_id.clone();
    assert_eq!(st["comments_posted"]["by_user"][&analyst], 1);
}

#[test]
fn put_validates_and_applies() {
    let sims = start();
    let tok = token(&sims);
    let sync = sims.stellar_state()["sync_user_id"].as_str().unwrap().to_string();
    let cases = state_cases(&sims);
    let c = cases.iter().find(|c| c["status"] == "New").unwrap();
    let id = c["_id"].as_str().unwrap();
    let path = format!("/cases/{id}");
    for bad in [
        json!({"status": "Closed"}),
        json!({"status": "new"}),
        json!({"severity": "Urgent"}),
        json!({"resolution": "Fixed"}),
        json!({"assignee": "nobody"}),
        json!({"update_alerts": "yes"}),
        json!({"tags": ["ticket_opened"]}),
        json!({"tags": {"add": "ticket_opened"}}),
        json!({"status": "Resolved", "severity": "Huge"}),
        json!({}),
        json!([1]),
    ] {
        let r = api(&sims, &tok, "PUT", &path, Some(&bad));
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.json()["error"].is_string());
    }
    assert_eq!(case_in_state(&sims, id)["version"], c["version"], "a 400 changes nothing");
    assert_eq!(api(&sims, &tok, "PUT", "/cases/ffffffffffffffffffffffff", Some(&json!({"status": "New"}))).status, 404);

    let analyst = sims.dataset().stellar.analysts().nth(1).unwrap().clone();
    let before = now_ms();
    let body = json!({"status": "Resolved", "assignee": analyst.user_id, "severity": "Critical",
                      "resolution": "True Positive", "update_alerts": true,
                      "tags": {"add": ["ticket_opened", "vip"], "delete": ["noise"]}});
    let r = api(&sims, &tok, "PUT", &path, Some(&body));
    assert_eq!(r.status, 200, "{}", r.text());
    let u = r.json()["data"].clone();
    assert_eq!(u["status"], "Resolved");
    assert_eq!(u["closed"], true);
    assert_eq!(u["assignee"], analyst.user_id.as_str());
    assert_eq!(u["assignee_name"], analyst.name.as_str());
    assert_eq!(u["severity"], "Critical");
    assert!(tags(&u).contains(&"ticket_opened".to_string()) && !tags(&u).contains(&"noise".to_string()));
    assert_eq!(u["modified_by"], sync.as_str());
    assert!(u["modified_at"].as_i64().unwrap() >= before);
    assert_eq!(u["version"].as_i64().unwrap(), c["version"].as_i64().unwrap() + 1);
    assert_eq!(u.as_object().unwrap().len(), 20);
    let s = case_in_state(&sims, id);
    assert_eq!(s["resolution"], "True Positive");
    assert_eq!(s["alerts_updated"], true);
    assert_eq!(all_ids(&sims, &tok, "tags=ticket_opened", 100), vec![id.to_string()]);
    assert!(!all_ids(&sims, &tok, "NOT~tags=ticket_opened", 500).contains(&id.to_string()));
    // Reopen, delete the tag, unassign.
    let r = api(
        &sims,
        &tok,
        "PUT",
        &path,
        Some(&json!({"status": "In Progress", "tags": {"delete": ["ticket_opened"]}, "assignee": ""})),
    );
    assert_eq!(r.status, 200);
    let u = r.json()["data"].clone();
    assert_eq!(u["closed"], false);
    assert_eq!(u["assignee_name"], "");
    assert!(!tags(&u).contains(&"ticket_opened".to_string()));
    // tags on a case with null tags.
    if let Some(n) = cases.iter().find(|c| c["tags"].is_null()) {
        let r = api(
            &sims,
            &tok,
            "PUT",
            &format!("/cases/{}", n["_id"].as_str().unwrap()),
            Some(&json!({"tags": {"add": ["ticket_opened"]}})),
        );
        assert_eq!(r.json()["data"]["tags"], json!(["ticket_opened"]));
    }
    let st = sims.stellar_state();
    assert_eq!(st["case_updates"]["by_user"][&sync].as_u64().unwrap(), st["case_updates"]["total"].as_u64().unwrap());
    assert!(st["case_updates"]["total"].as_u64().unwrap() >= 2);
}

#[test]
fn analyst_admin_calls_and_reset() {
    let sims = start();
    let tok = token(&sims);
    let analyst = sims.dataset().stellar.analysts().next().unwrap().clone();
    let cases = state_cases(&sims);
    let (a, b) = (cases[1].clone(), cases[2].clone());
    let (aid, bid) = (a["_id"].as_str().unwrap(), b["_id"].as_str().unwrap());
    let requests_before = sims.stellar_state()["requests_total"].clone();

    // Over HTTP, planting the same millisecond on two cases.
    let at = now_ms() - 5_000;
    let url = format!("{}/_sim/stellar/analyst", sims.stellar_url());
    let body = json!({"case_id": aid, "status": "Escalated", "severity": "High", "at_ms": at}).to_string();
    let r = request("POST", &url, &[("Content-Type", "application/json")], body.as_bytes()).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let out = r.json();
    assert_eq!(out["case"]["status"], "Escalated");
    assert_eq!(out["case"]["modified_at"], at);
    assert_eq!(out["case"]["modified_by"], analyst.user_id.as_str());
    assert_eq!(out["case"]["modified_by_name"], analyst.name.as_str());
    assert_eq!(out["comment"], Value::Null);
    let out = sims
        .stellar_analyst(
            bid,
            json!({"comment": "Also seen on the mail gateway", "assignee": analyst.user_id, "at_ms": at}),
        )
        .unwrap();
    assert_eq!(out["case"]["modified_at"], at);
    assert_eq!(out["case"]["assignee_name"], analyst.name.as_str());
    assert_eq!(out["comment"]["user"], analyst.user_id.as_str());
    assert_eq!(out["comment"]["created_at"], at);
    let mut both = all_ids(&sims, &tok, &format!("FROM~modified_at={at}&TO~modified_at={at}"), 100);
    both.sort();
    let mut want = vec![aid.to_string(), bid.to_string()];
    want.sort();
    assert_eq!(both, want);
    for (case, change, status) in [
        ("ffffffffffffffffffffffff", json!({"status": "New"}), 404),
        (aid, json!({"status": "Done"}), 400),
        (aid, json!({}), 400),
        (aid, json!({"at_ms": "soon", "status": "New"}), 400),
    ] {
        let body = json!({"case_id": case})
            .as_object()
            .unwrap()
            .clone()
            .into_iter()
            .chain(change.as_object().unwrap().clone())
            .collect::<serde_json::Map<_, _>>();
        let r = request("POST", &url, &[], Value::Object(body).to_string().as_bytes()).unwrap();
        assert_eq!(r.status, status, "{change}");
        assert!(r.json()["error"].is_string());
    }
    assert!(sims.stellar_analyst("nope", json!({"status": "New"})).is_err());

    // New cases.
    let cust = a["cust_id"].as_str().unwrap().to_string();
    let max_ticket =
        cases.iter().filter(|c| c["cust_id"] == cust.as_str()).map(|c| c["ticket_id"].as_i64().unwrap()).max().unwrap();
    let r = request(
        "POST",
        &format!("{}/_sim/stellar/cases", sims.stellar_url()),
        &[],
        json!({"cust_id": cust, "name": "Fresh ransomware alert", "severity": "Critical", "score": 91, "size": 12,
               "tags": ["malware"], "at_ms": at})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let new = r.json();
    let new_id = new["_id"].as_str().unwrap().to_string();
    assert_eq!(new["data"]["ticket_id"], max_ticket + 1);
    assert_eq!(new["data"]["status"], "New");
    assert_eq!(new["data"]["created_at"], at);
    let via_api = get_ok(&sims, &tok, &format!("/cases/{new_id}"))["data"].clone();
    assert_eq!(via_api, new["data"]);
    let id2 = sims.stellar_add_case(json!({"cust_id": cust, "name": "Another", "severity": "Low"})).unwrap();
    assert_eq!(get_ok(&sims, &tok, &format!("/cases/{id2}"))["data"]["ticket_id"], max_ticket + 2);
    assert!(sims.stellar_add_case(json!({"cust_id": "nope", "name": "x"})).is_err());
    assert!(sims.stellar_add_case(json!({"cust_id": cust, "name": "x", "severity": "Mega"})).is_err());

    let st = sims.stellar_state();
    assert_eq!(st["cases_added"], 2);
    assert_eq!(st["cases"].as_array().unwrap().len(), 152);
    assert_eq!(st["case_updates"]["by_user"][&analyst.user_id], 2);
    // Admin calls are not API requests: only the listing and the two GETs above were counted.
    assert_eq!(st["requests_total"].as_u64().unwrap(), requests_before.as_u64().unwrap() + 3);

    sims.reset();
    let st = sims.stellar_state();
    assert_eq!(st["cases"].as_array().unwrap().len(), 150);
    assert_eq!(st["cases"].as_array().unwrap().clone(), cases, "reset restores the initial state");
    assert_eq!(st["cases_added"], 0);
    assert_eq!(st["case_updates"]["total"], 0);
    assert_eq!(st["requests_total"], 0);
}

#[test]
fn faults_are_decided_per_seed() {
    let sims = start();
    let tok = token(&sims);
    let f = Faults { p5xx: 0.25, p429: 0.2, seed: 5, ..Faults::default() };
    let run = || {
        sims.set_stellar_faults(f);
        (0..60)
            .map(|_| api(&sims, &tok, "GET", "/cases?limit=1", None))
            .map(|r| (r.status, r.text()))
            .collect::<Vec<_>>()
    };
    let first = run();
    assert_eq!(first, run(), "same seed, same decisions");
    assert!(first.iter().any(|(s, _)| *s == 200));
    let r429: Vec<_> = first.iter().filter(|(s, _)| *s == 429).collect();
    assert!(!r429.is_empty());
    assert!(r429.iter().all(|(_, t)| t == "Rate limit exceeded"));
    let r5xx: Vec<_> = first.iter().filter(|(s, _)| *s >= 500).collect();
    assert!(!r5xx.is_empty());
    for (_, t) in &r5xx {
        // `{"error": ...}` or a text body.
        match serde_json::from_str::<Value>(t) {
            Ok(v) => assert!(v["error"].is_string(), "{t}"),
            Err(_) => assert!(!t.is_empty()),
        }
    }
    // The other services are untouched by set_stellar_faults.
    assert_eq!(sims.halo_state()["config"]["faults"]["p5xx"], 0.0);
    // A lost write: applied, then the connection closes.
    sims.set_stellar_faults(Faults { plost: 1.0, seed: 1, ..Faults::default() });
    let id = state_cases(&sims)[0]["_id"].as_str().unwrap().to_string();
    let auth = format!("Bearer {tok}");
    let answered = request(
        "POST",
        &format!("{}/cases/{id}/comments", sims.stellar_api_url()),
        &[("Authorization", &auth)],
        br#"{"comment": "lost answer"}"#,
    );
    let Err(err) = answered else { panic!("the answer should be lost") };
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    assert!(case_in_state(&sims, &id)["comments"].as_array().unwrap().iter().any(|c| c["comment"] == "lost answer"));
    assert_eq!(sims.stellar_state()["faults"]["lost"], 1);
    // set_faults covers Stellar; /_sim is never faulted.
    sims.set_faults(Faults { p5xx: 1.0, seed: 2, ..Faults::default() });
    assert!(api(&sims, &tok, "GET", "/users", None).status >= 500);
    assert_eq!(get(&format!("{}/_sim/state", sims.stellar_url()), &[]).status, 200);
    sims.set_faults(Faults { pdrop: 1.0, seed: 2, ..Faults::default() });
    assert!(request("GET", &format!("{}/users", sims.stellar_api_url()), &[], b"").is_err());
    sims.set_faults(Faults::default());
    // /_sim/config sets the token lifetime.
    let r = request("POST", &format!("{}/_sim/config", sims.stellar_url()), &[], br#"{"token_ttl_s": 42}"#).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["token_ttl_s"], 42);
    assert_eq!(sims.stellar_config().token_ttl_s, 42);
}

#[test]
fn the_binary_serves_stellar() {
    let exe = env!("CARGO_BIN_EXE_psa-bridge-sim");
    let spawn = |args: &[&str]| {
        let mut child = std::process::Command::new(exe)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        (child, serde_json::from_str::<Value>(&line).unwrap())
    };
    let (mut child, ready) = spawn(&[
        "--accounts",
        "6",
        "--companies",
        "40",
        "--tickets",
        "10",
        "--seed",
        "3",
        "--stellar-cases",
        "12",
        "--stellar-token-ttl-s",
        "30",
    ]);
    let url = ready["stellar"].as_str().unwrap().to_string();
    assert_eq!(ready["stellar_connection"]["host"], url.as_str());
    assert_eq!(ready["stellar_connection"]["user"], "psa-bridge@stellar-sim.test");
    let state = get(&format!("{url}/_sim/state"), &[]).json();
    assert_eq!(state["cases"].as_array().unwrap().len(), 12);
    assert_eq!(state["config"]["token_ttl_s"], 30);
    let c = &ready["stellar_connection"];
    let auth = basic_header(c["user"].as_str().unwrap(), c["api_key"].as_str().unwrap());
    let r = request("POST", &format!("{url}/connect/api/v1/access_token"), &[("Authorization", &auth)], b"").unwrap();
    assert_eq!(r.status, 200);
    let exp = r.json()["exp"].as_i64().unwrap();
    assert!((exp - now_ms() / 1000 - 30).abs() <= 2);
    child.kill().unwrap();
    child.wait().unwrap();

    // A data file without a stellar section gets the seed's Stellar data.
    let mut d = generate(5, 30, 14, 8);
    let expected = d.stellar.clone();
    d.stellar = StellarData::default();
    let mut file = serde_json::to_value(&d).unwrap();
    file.as_object_mut().unwrap().remove("stellar");
    let path = std::env::temp_dir().join(format!("psa-sim-stellar-{}.json", std::process::id()));
    std::fs::write(&path, file.to_string()).unwrap();
    let (mut child, ready) = spawn(&["--data", path.to_str().unwrap()]);
    let state = get(&format!("{}/_sim/state", ready["stellar"].as_str().unwrap()), &[]).json();
    let ids: Vec<&Value> = state["cases"].as_array().unwrap().iter().map(|c| &c["_id"]).collect();
    let mut want: Vec<&Value> = expected.cases.iter().map(|c| &c["_id"]).collect();
    want.sort_by_key(|v| v.as_str().unwrap().to_string());
    assert_eq!(ids, want);
    assert_eq!(ready["stellar_connection"]["api_key"], expected.credentials.api_key.as_str());
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_file(path).ok();
}

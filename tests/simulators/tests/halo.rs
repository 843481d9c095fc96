//! The HaloPSA simulator against contracts/halo.md.

mod common;

use common::*;
use psa_bridge_sim::{DataSource, Dataset, Faults, HaloConfig, SimConfig, Simulators};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

fn start_with(halo: HaloConfig) -> Simulators {
    let mut config = SimConfig::generated(30, 120, 10, 7);
    config.halo = halo;
    Simulators::start(config).expect("simulators start")
}

fn start() -> Simulators {
    start_with(HaloConfig::default())
}

fn token_request(sims: &Simulators, query: &str, form: &str) -> Resp {
    let url = format!("{}/auth/token{query}", sims.halo_url());
    request("POST", &url, &[("Content-Type", "application/x-www-form-urlencoded")], form.as_bytes()).unwrap()
}

fn good_form(sims: &Simulators) -> String {
    let c = &sims.dataset().halo.credentials;
    format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&scope=all",
        enc(&c.client_id),
        enc(&c.client_secret)
    )
}

fn token(sims: &Simulators) -> String {
    let tenant = format!("?tenant={}", sims.dataset().halo.credentials.tenant);
    let r = token_request(sims, &tenant, &good_form(sims));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["access_token"].as_str().unwrap().to_string()
}

/// A request below `{base}/api` with a bearer token.
fn api(sims: &Simulators, tok: &str, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let auth = format!("Bearer {tok}");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let url = format!("{}/api{path}", sims.halo_url());
    request(method, &url, &[("Authorization", &auth), ("Content-Type", "application/json")], body.as_bytes())
        .expect("answered")
}

/// An active client of the initial data (the counterpart of an "exact" truth entry).
fn some_client(sims: &Simulators) -> i64 {
    let d = sims.dataset();
    let company = d.truth.accounts.iter().find(|t| t.kind == "exact").unwrap().company_ids[0];
    d.halo.client_for_company(company).unwrap()["id"].as_i64().unwrap()
}

fn create(sims: &Simulators, tok: &str, fields: Value) -> Value {
    let r = api(sims, tok, "POST", "/Tickets", Some(&json!([fields])));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

#[test]
fn client_credentials_tenant_and_expiry() {
    let sims = start();
    let c = sims.dataset().halo.credentials.clone();
    let tenant = format!("?tenant={}", c.tenant);
    let r = token_request(&sims, &tenant, &good_form(&sims));
    assert_eq!(r.status, 200);
    let t = r.json();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["scope"], "all");
    assert!(t["refresh_token"].is_string() && t["id_token"].is_string());
    // Hosted instances need the tenant; a wrong one is an unknown client.
    assert_eq!(token_request(&sims, "", &good_form(&sims)).status, 400);
    assert_eq!(token_request(&sims, "?tenant=someoneelse", &good_form(&sims)).status, 401);
    let bad = format!("grant_type=client_credentials&client_id={}&client_secret=nope&scope=all", enc(&c.client_id));
    let r = token_request(&sims, &tenant, &bad);
    assert_eq!((r.status, r.json()), (401, json!({"error": "invalid_client"})));
    let r = token_request(&sims, &tenant, "grant_type=client_credentials&client_id=other&client_secret=x");
    assert_eq!((r.status, r.json()), (401, json!({"error": "invalid_client"})));
    assert_eq!(token_request(&sims, &tenant, &good_form(&sims).replace("client_credentials", "password")).status, 400);

    // /authinfo needs no token and names the auth server.
    let info = get(&format!("{}/api/authinfo", sims.halo_url()), &[]).json();
    assert_eq!(info, json!({"auth_url": format!("{}/auth", sims.halo_url()), "tenant_id": c.tenant}));

    let tok = t["access_token"].as_str().unwrap();
    assert_eq!(api(&sims, tok, "GET", "/TicketType", None).status, 200);
    assert_eq!(api(&sims, "forged", "GET", "/TicketType", None).status, 401);
    assert_eq!(get(&format!("{}/api/TicketType", sims.halo_url()), &[]).status, 401);
    let mut cfg = sims.halo_config();
    cfg.token_ttl_s = 1;
    sims.set_halo_config(cfg);
    let short = token(&sims);
    std::thread::sleep(Duration::from_millis(1100));
    let r = api(&sims, &short, "GET", "/TicketType", None);
    assert_eq!(r.status, 401, "expired");
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
}

#[test]
fn single_tenant_instances_take_no_tenant() {
    let sims = start_with(HaloConfig { multi_tenant: false, ..HaloConfig::default() });
    assert_eq!(token_request(&sims, "", &good_form(&sims)).status, 200);
}

#[test]
fn lookups_have_instance_specific_ids() {
    let sims = start();
    let tok = token(&sims);
    let h = &sims.dataset().halo;
    let types = api(&sims, &tok, "GET", "/TicketType", None).json();
    let security = types.as_array().unwrap().iter().find(|t| t["name"] == "Security Incident").unwrap();
    assert_eq!(security["id"].as_i64(), h.ticket_type_id("Security Incident"));
    // Paths are case-insensitive.
    assert_eq!(api(&sims, &tok, "GET", "/tickettype", None).json(), types);

    let statuses = api(&sims, &tok, "GET", "/Status?type=ticket", None).json();
    let names: Vec<(&str, &str)> = statuses
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["type"].as_str().unwrap()))
        .collect();
    for (name, kind) in [
        ("New", "open"),
        ("In Progress", "open"),
        ("Waiting on Customer", "open"),
        ("Resolved", "closed"),
        ("Closed", "closed"),
    ] {
        assert!(names.contains(&(name, kind)), "{name} {kind} in {names:?}");
    }
    let hard_coded: HashSet<i64> = [1, 2, 4, 5].into();
    assert!(statuses.as_array().unwrap().iter().all(|s| !hard_coded.contains(&s["id"].as_i64().unwrap())));

    let prios = api(&sims, &tok, "GET", "/Priority", None).json();
    let prio_names: Vec<&str> = prios.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(prio_names, ["Critical", "High", "Medium", "Low"]);
    assert!(prios[0]["priorityid"].is_i64() && prios[0].get("id").is_none());
    assert!(!prio_names.iter().any(|n| n.starts_with('P')));

    let teams = api(&sims, &tok, "GET", "/Team", None).json();
    assert!(teams.as_array().unwrap().iter().any(|t| t["name"] == "Security Operations"));
    let impact = api(&sims, &tok, "GET", "/Lookup?lookupid=12", None).json();
    let urgency = api(&sims, &tok, "GET", "/Lookup?lookupid=27", None).json();
    assert_eq!(impact.as_array().unwrap().len(), 3);
    assert_eq!(urgency[0]["name"], "High");
    let agents = api(&sims, &tok, "GET", "/Agent", None).json();
    assert!(agents.as_array().unwrap().iter().all(|a| a["email"].as_str().unwrap().contains('@')));

    // Another seed, other ids.
    let other = Simulators::start(SimConfig::generated(3, 20, 0, 8)).unwrap();
    assert_ne!(other.dataset().halo.status_id("New"), h.status_id("New"));
    assert_ne!(other.dataset().halo.client_field_id("ARMORcompanyId"), h.client_field_id("ARMORcompanyId"));
}

#[test]
fn clients_mirror_the_connectwise_companies_and_page() {
    let sims = start();
    let tok = token(&sims);
    let d = sims.dataset();
    assert_eq!(d.halo.clients.len(), d.connectwise.companies.len());
    for t in &d.truth.accounts {
        for company in &t.company_ids {
            let c = d.company(*company).unwrap();
            let client = d.halo.client_for_company(*company).unwrap();
            assert_eq!(client["name"], c["name"]);
            assert_eq!(client["inactive"], c["deletedFlag"]);
        }
    }
    // A pre-stamped CW company is pre-stamped in Halo too.
    let stamped = d.truth.accounts.iter().find(|t| t.kind == "custom_field").unwrap();
    let client = d.halo.client_for_company(stamped.company_ids[0]).unwrap();
    let field = d.halo.client_field_id("ARMORcompanyId").unwrap();
    let value = client["customfields"].as_array().unwrap().iter().find(|f| f["id"] == field).unwrap();
    assert_eq!(value["value"], stamped.armor_id.to_string());
    assert_eq!(value["name"], "ARMORcompanyId");

    // Pages of at most 100 cover every client once.
    let mut seen = HashSet::new();
    for page in 1..=2 {
        let r = api(
            &sims,
            &tok,
            "GET",
            &format!("/Client?pageinate=true&page_size=1000&page_no={page}&include_custom_fields=true"),
            None,
        )
        .json();
        assert_eq!(r["page_size"], 100);
        assert_eq!(r["record_count"], 120);
        for c in r["clients"].as_array().unwrap() {
            assert_eq!(c["customfields"].as_array().unwrap().len(), d.halo.client_fields.len());
            assert!(seen.insert(c["id"].as_i64().unwrap()));
        }
    }
    assert_eq!(seen.len(), 120);
    // Unpaged: the first 100 only; without include_custom_fields, no custom fields.
    let r = api(&sims, &tok, "GET", "/Client", None).json();
    assert_eq!((r["record_count"].as_u64(), r["clients"].as_array().unwrap().len()), (Some(120), 100));
    assert!(r["clients"][0].get("customfields").is_none());
    let name = client["name"].as_str().unwrap().trim().to_string();
    let r = api(&sims, &tok, "GET", &format!("/Client?pageinate=true&search={}", enc(&name)), None).json();
    assert!(r["clients"].as_array().unwrap().iter().any(|c| c["id"] == client["id"]));

    // POST /Client changes only the custom field named.
    let id = client["id"].as_i64().unwrap();
    let name_field = d.halo.client_field_id("ARMORcompanyName").unwrap();
    let body = json!([{"id": id, "customfields": [{"id": name_field, "value": "Renamed Co"}]}]);
    let r = api(&sims, &tok, "POST", "/Client", Some(&body));
    assert_eq!(r.status, 201, "{}", r.text());
    let after = sims.halo_state()["clients"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap().clone();
    for (before, now) in
        client["customfields"].as_array().unwrap().iter().zip(after["customfields"].as_array().unwrap())
    {
        if before["id"] == name_field {
            assert_eq!(now["value"], "Renamed Co");
        } else {
            assert_eq!(now, before);
        }
    }
    assert_eq!(
        api(&sims, &tok, "POST", "/Client", Some(&json!([{"id": id, "customfields": [{"id": 9999, "value": "x"}]}])))
            .status,
        400
    );

    let sites = api(&sims, &tok, "GET", &format!("/Site?client_id={id}"), None).json();
    assert!(!sites.as_array().unwrap().is_empty());
    assert!(sites.as_array().unwrap().iter().all(|s| s["client_id"] == id));
}

#[test]
fn ticket_create_update_and_returnall() {
    let sims = start();
    let tok = token(&sims);
    let h = sims.dataset().halo.clone();
    let client = some_client(&sims);
    let security = h.ticket_type_id("Security Incident").unwrap();
    let t = create(
        &sims,
        &tok,
        json!({"summary": "Suspicious login", "details": "<p>From 10.0.0.1</p>", "tickettype_id": security,
        "client_id": client, "priority_id": h.priority_id("High").unwrap(), "team": "Security Operations",
        "third_party_id_string": "ATS-10001", "customfields": [{"id": 170, "value": "ARMOR"}]}),
    );
    let id = t["id"].as_i64().unwrap();
    assert!(id >= 3001);
    assert_eq!(t["status_id"].as_i64(), h.status_id("New"));
    assert_eq!(t["priority"]["name"], "High");
    assert_eq!(t["agent_name"], "Unassigned");
    assert_eq!(t["hasbeenclosed"], false);
    assert!(t["client_name"].is_string() && t["site_id"].as_i64().unwrap() > 0);

    // An update changes only the fields sent, and moves last_update.
    let r = api(&sims, &tok, "POST", "/Tickets", Some(&json!([{"id": id, "summary": "Suspicious login (confirmed)"}])));
    let u = r.json();
    assert_eq!(u["summary"], "Suspicious login (confirmed)");
    assert_eq!(u["details"], "<p>From 10.0.0.1</p>");
    assert_eq!(u["third_party_id_string"], "ATS-10001");
    assert!(u["last_update"].as_str().unwrap() > t["last_update"].as_str().unwrap());

    // The answer is the last record; ?returnall=true gives all of them in input order.
    let batch = json!([{"summary": "one", "client_id": client}, {"id": id, "category_1": "Security"}, {"summary": "three", "client_id": client}]);
    let last = api(&sims, &tok, "POST", "/Tickets", Some(&batch)).json();
    assert_eq!(last["summary"], "three");
    let all = api(&sims, &tok, "POST", "/Tickets?returnall=true", Some(&batch)).json();
    let summaries: Vec<&str> = all.as_array().unwrap().iter().map(|t| t["summary"].as_str().unwrap()).collect();
    assert_eq!(summaries, ["one", "Suspicious login (confirmed)", "three"]);
    assert_eq!(all[1]["category_1"], "Security");

    let one = api(&sims, &tok, "GET", &format!("/Tickets/{id}?includedetails=true"), None);
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["details"], "<p>From 10.0.0.1</p>");
    assert_eq!(one.json()["customfields"][0]["value"], "ARMOR");
    assert_eq!(api(&sims, &tok, "GET", "/Tickets/999999", None).status, 404);
}

#[test]
fn invalid_tickets_are_400_and_change_nothing() {
    let sims = start();
    let tok = token(&sims);
    let client = some_client(&sims);
    let before = sims.halo_state()["tickets"].clone();
    let long = "x".repeat(251);
    let r = api(
        &sims,
        &tok,
        "POST",
        "/Tickets",
        Some(&json!([{"summary": "ok", "client_id": client}, {"summary": long, "client_id": client}])),
    );
    assert_eq!(r.status, 400);
    assert!(r.json().is_string(), "a plain string: {}", r.text());
    for bad in [
        json!({"tickettype_id": 999_999}),
        json!({"status_id": 1}),
        json!({"client_id": 999_999}),
        json!({"priority_id": 999}),
        json!({"team": "Nobody's Team"}),
        json!({"agent_id": 999}),
    ] {
        let mut t = json!({"summary": "bad ids", "client_id": client});
        for (k, v) in bad.as_object().unwrap() {
            t[k] = v.clone();
        }
        let r = api(&sims, &tok, "POST", "/Tickets", Some(&json!([t])));
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.json()["Message"].is_string(), "a JSON object: {}", r.text());
    }
    assert_eq!(
        api(&sims, &tok, "POST", "/Tickets", Some(&json!({"summary": "not an array", "client_id": client}))).status,
        400
    );
    assert_eq!(sims.halo_state()["tickets"], before);
    // Exactly 250 characters is fine.
    create(&sims, &tok, json!({"summary": "y".repeat(250), "client_id": client}));
}

#[test]
fn ticket_filters_and_paging() {
    let sims = start();
    let tok = token(&sims);
    let h = sims.dataset().halo.clone();
    let client = some_client(&sims);
    let mut ids = Vec::new();
    for i in 0..105 {
        let t = create(
            &sims,
            &tok,
            json!({"summary": format!("Alert {i:03}"), "client_id": client, "third_party_id_string": format!("ATS-{}", 20_000 + i)}),
        );
        ids.push(t["id"].as_i64().unwrap());
    }
    let list = |q: &str| api(&sims, &tok, "GET", &format!("/Tickets?{q}"), None).json();
    let got =
        |v: &Value| v["tickets"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect::<Vec<_>>();

    let p1 = list(&format!("pageinate=true&page_size=500&page_no=1&client_id={client}"));
    assert_eq!((p1["page_size"].as_u64(), p1["page_no"].as_u64()), (Some(100), Some(1)));
    let total = p1["record_count"].as_u64().unwrap();
    assert!(total >= 105);
    let p2 = list(&format!("pageinate=true&page_size=100&page_no=2&client_id={client}"));
    assert_eq!((got(&p1).len() + got(&p2).len()) as u64, total);
    assert!(p1["tickets"][0].get("details").is_none() && p1["tickets"][0].get("customfields").is_none());
    assert!(list("pageinate=true&include_custom_fields=true")["tickets"][0]["customfields"].is_array());

    let key = list("third_party_id_string=ATS-20007&pageinate=true");
    assert_eq!(got(&key), [ids[7]]);
    assert_eq!(list("third_party_id_string=ATS-99999&pageinate=true")["record_count"], 0);
    assert_eq!(got(&list(&format!("ticketids={},{}", ids[3], ids[4]))), [ids[3], ids[4]]);
    assert_eq!(got(&list("search_summary=alert%20042")), [ids[42]]);
    assert_eq!(got(&list("search=ALERT%20043")), [ids[43]]);
    let desc = got(&list("order=id&orderdesc=true&pageinate=true&page_size=3"));
    assert_eq!(desc, [ids[104], ids[103], ids[102]]);
    assert_eq!(got(&list("order=summary&pageinate=true&page_size=1&search_summary=alert"))[0], ids[0]);
    assert_eq!(api(&sims, &tok, "GET", "/Tickets?order=nonsense", None).status, 400);

    // Close one; open_only / closed_only / status_id / last update window see it.
    let resolved = h.status_id("Resolved").unwrap();
    let since = create(&sims, &tok, json!({"summary": "marker", "client_id": client}))["last_update"]
        .as_str()
        .unwrap()
        .to_string();
    let closed = api(
        &sims,
        &tok,
        "POST",
        "/Tickets",
        Some(&json!([{"id": ids[0], "status_id": resolved, "closure_note": "False positive"}])),
    )
    .json();
    assert_eq!(closed["hasbeenclosed"], true);
    assert_eq!(closed["closure_note"], "False positive");
    assert!(got(&list(&format!("closed_only=true&client_id={client}"))).contains(&ids[0]));
    assert!(!got(&list(&format!("open_only=true&client_id={client}&pageinate=true&page_size=100"))).contains(&ids[0]));
    assert_eq!(got(&list(&format!("status_id={resolved}&client_id={client}"))), [ids[0]]);
    let recent = got(&list(&format!("lastupdatefromdate={}", enc(&since))));
    assert!(recent.contains(&ids[0]) && !recent.contains(&ids[1]), "{recent:?}");
    assert!(got(&list(&format!("lastupdatetodate={}", enc(&since)))).contains(&ids[1]));
    // Reopening keeps "has been closed".
    let reopened = api(
        &sims,
        &tok,
        "POST",
        "/Tickets",
        Some(&json!([{"id": ids[0], "status_id": h.status_id("In Progress").unwrap()}])),
    )
    .json();
    assert_eq!(reopened["hasbeenclosed"], true);
}

#[test]
fn concurrent_creates_race_and_one_fails() {
    let sims = start_with(HaloConfig { create_delay_ms: 400, ..HaloConfig::default() });
    let tok = token(&sims);
    let client = some_client(&sims);
    let before = sims.halo_state()["tickets"].as_array().unwrap().len();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let (sims, tok) = (&sims, &tok);
                s.spawn(move || {
                    api(
                        sims,
                        tok,
                        "POST",
                        "/Tickets",
                        Some(&json!([{"summary": format!("race {i}"), "client_id": client}])),
                    )
                    .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, [201, 500], "{statuses:?}");
    let state = sims.halo_state();
    assert_eq!(state["tickets"].as_array().unwrap().len(), before + 1, "the failed create applied nothing");
    assert_eq!(state["create_race_failures"], 1);
    // One at a time, creates never race; updates do not take part.
    create(&sims, &tok, json!({"summary": "after 1", "client_id": client}));
    let t = create(&sims, &tok, json!({"summary": "after 2", "client_id": client}));
    assert_eq!(sims.halo_state()["create_race_failures"], 1);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let a = s.spawn(|| {
            api(&sims, &tok, "POST", "/Tickets", Some(&json!([{"summary": "solo", "client_id": client}]))).status
        });
        std::thread::sleep(Duration::from_millis(50));
        let b =
            s.spawn(|| api(&sims, &tok, "POST", "/Tickets", Some(&json!([{"id": t["id"], "category_1": "x"}]))).status);
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    assert_eq!(statuses, [201, 201]);
}

#[test]
fn actions_resolve_outcomes_by_name() {
    let sims = start();
    let tok = token(&sims);
    let client = some_client(&sims);
    let t = create(&sims, &tok, json!({"summary": "with notes", "client_id": client}));
    let id = t["id"].as_i64().unwrap();
    let body = json!([{"ticket_id": id, "note": "first", "outcome": "Private Note", "hiddenfromuser": true, "who": "ARMOR SOC"},
                      {"ticket_id": id, "note_html": "<p>second <b>note</b></p>", "outcome": "public note"}]);
    let r = api(&sims, &tok, "POST", "/Actions?returnall=true", Some(&body));
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    assert_eq!(created[0]["outcome"], "Private Note");
    assert_eq!(created[0]["hiddenfromuser"], true);
    assert_eq!(created[1]["note"], "second note");
    assert_eq!(created[1]["outcome"], "Public Note");
    let listed = api(&sims, &tok, "GET", &format!("/Actions?ticket_id={id}"), None).json();
    assert_eq!(listed["ticket_id"], id);
    assert_eq!(listed["record_count"], 2);
    // Newest first: not the order they were sent in.
    assert_eq!(listed["actions"][0]["id"], created[1]["id"]);
    let after = api(&sims, &tok, "GET", &format!("/Tickets/{id}"), None).json();
    assert!(after["last_update"].as_str().unwrap() > t["last_update"].as_str().unwrap());

    let r = api(
        &sims,
        &tok,
        "POST",
        "/Actions",
        Some(&json!([{"ticket_id": id, "note": "x", "outcome": "Internal Note"}])),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        api(
            &sims,
            &tok,
            "POST",
            "/Actions",
            Some(&json!([{"ticket_id": 999_999, "note": "x", "outcome": "Private Note"}]))
        )
        .status,
        400
    );
    // Outcome names are the instance's: configure the seed's "Internal Note".
    let mut cfg = sims.halo_config();
    cfg.outcomes = vec!["Internal Note".into(), "Customer Update".into()];
    sims.set_halo_config(cfg);
    assert_eq!(
        api(
            &sims,
            &tok,
            "POST",
            "/Actions",
            Some(&json!([{"ticket_id": id, "note": "x", "outcome": "Internal Note"}]))
        )
        .status,
        201
    );
    assert_eq!(
        api(&sims, &tok, "POST", "/Actions", Some(&json!([{"ticket_id": id, "note": "x", "outcome": "Private Note"}])))
            .status,
        400
    );
    assert_eq!(sims.halo_state()["actions"].as_array().unwrap().iter().filter(|a| a["ticket_id"] == id).count(), 3);
}

#[test]
fn rolling_rate_limit_per_client() {
    let sims =
        start_with(HaloConfig { client_rate_limit: Some(5), client_rate_window_ms: 1500, ..HaloConfig::default() });
    let tok = token(&sims); // the token request counts too
    for _ in 0..4 {
        assert_eq!(api(&sims, &tok, "GET", "/Team", None).status, 200);
    }
    let r = api(&sims, &tok, "GET", "/Team", None);
    assert_eq!(r.status, 429);
    assert_eq!(r.text(), "Rate Limit Reached - 300 Requests per rolling 5 minute window");
    assert!(r.header("retry-after").is_none());
    assert_eq!(sims.halo_state()["faults"]["rate_limited"], 1);
    std::thread::sleep(Duration::from_millis(1600));
    assert_eq!(api(&sims, &tok, "GET", "/Team", None).status, 200, "the window rolled on");
}

#[test]
fn error_bodies_vary_in_shape() {
    let sims = start();
    let tok = token(&sims);
    let r = api(&sims, &tok, "GET", "/Tickets?pageinate=true&page_size=abc", None);
    assert_eq!(r.status, 400);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let r = api(&sims, &tok, "GET", "/Tickets?order=bogus", None);
    assert!(r.json().is_string());
    let r = api(&sims, &tok, "POST", "/Tickets", Some(&json!([{"summary": "s", "client_id": 999_999}])));
    assert!(r.json().is_object());
    assert_eq!(api(&sims, &tok, "GET", "/NoSuchThing", None).status, 404);
}

#[test]
fn faults_state_reset_and_config() {
    let sims = start();
    let tok = token(&sims);
    let client = some_client(&sims);
    sims.set_halo_faults(Faults { p5xx: 1.0, seed: 5, ..Faults::default() });
    let mut shapes = HashSet::new();
    for _ in 0..12 {
        let r = api(&sims, &tok, "GET", "/Team", None);
        assert!([500, 502, 503].contains(&r.status));
        shapes.insert(r.header("content-type").unwrap().split(';').next().unwrap().to_string());
    }
    assert!(shapes.len() >= 2, "{shapes:?}");
    assert_eq!(cw(&sims, "GET", "/service/boards", None).status, 200, "only Halo is faulted");
    sims.set_halo_faults(Faults { p429: 1.0, ..Faults::default() });
    let r = api(&sims, &tok, "GET", "/Team", None);
    assert_eq!((r.status, r.header("retry-after")), (429, None));
    sims.set_faults(Faults { plost: 1.0, ..Faults::default() });
    let body = json!([{"summary": "lost answer", "client_id": client, "third_party_id_string": "ATS-LOST"}]);
    let auth = format!("Bearer {tok}");
    let lost = request(
        "POST",
        &format!("{}/api/Tickets", sims.halo_url()),
        &[("Authorization", &auth)],
        body.to_string().as_bytes(),
    );
    assert!(lost.is_err(), "the answer is lost");
    sims.set_faults(Faults::default());
    let found = api(&sims, &tok, "GET", "/Tickets?third_party_id_string=ATS-LOST&pageinate=true", None).json();
    assert_eq!(found["record_count"], 1, "but the ticket landed");

    let state = get(&format!("{}/_sim/state", sims.halo_url()), &[]).json();
    assert_eq!(state["service"], "halo");
    assert_eq!(state["faults"]["http_5xx"], 12);
    assert_eq!(state["faults"]["lost"], 1);
    assert!(state["requests"]["GET /api/team"].as_u64().unwrap() >= 13);
    assert_eq!(state["requests"]["POST /auth/token"], 1);
    assert!(state["clients"].is_array() && state["actions"].is_array() && state["create_race_failures"] == 0);

    let r = request(
        "POST",
        &format!("{}/_sim/config", sims.halo_url()),
        &[],
        br#"{"token_ttl_s": 5, "create_delay_ms": 0}"#,
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["token_ttl_s"], 5);
    assert_eq!(sims.halo_config().create_delay_ms, 0);
    assert_eq!(
        request("POST", &format!("{}/_sim/config", sims.halo_url()), &[], br#"{"outcomes": 3}"#).unwrap().status,
        400
    );

    assert_eq!(request("POST", &format!("{}/_sim/reset", sims.halo_url()), &[], b"").unwrap().status, 200);
    let state = sims.halo_state();
    assert_eq!(state["tickets"].as_array().unwrap().len(), sims.dataset().halo.tickets.len());
    assert_eq!(state["requests_total"], 0);
    assert_eq!(api(&sims, &tok, "GET", "/Team", None).status, 401, "reset ends the sessions");
    assert_eq!(sims.halo_config().token_ttl_s, 5, "the config stays");
}

#[test]
fn connection_sections_and_old_data_files() {
    let sims = start();
    let h = sims.halo_connection();
    let keys: HashSet<&str> = h.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, HashSet::from(["base_url", "tenant", "client_id", "client_secret", "scope"]));
    assert_eq!(h["base_url"], sims.halo_url());
    assert_eq!(h["scope"], "all");
    assert!(sims.connection().get("halo").is_none(), "connection() keeps one destination");

    // A data file from before Halo: the Halo section is derived from its companies.
    let mut v = serde_json::to_value(sims.dataset()).unwrap();
    v.as_object_mut().unwrap().remove("halo");
    let old: Dataset = serde_json::from_value(v).unwrap();
    assert!(old.halo.is_empty());
    let path = std::env::temp_dir().join(format!("psa-sim-halo-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
    let mut cfg = SimConfig::small();
    cfg.data = DataSource::File(path.clone());
    let from_file = Simulators::start(cfg).unwrap();
    std::fs::remove_file(path).ok();
    assert_eq!(from_file.dataset().halo, sims.dataset().halo);
}

//! Stellar Cyber <-> Halo and ConnectWise end to end: the real component under the harness against
//! the simulators; cases become tickets once, analysts' and technicians' changes cross once each
//! way, a cycle without changes writes nothing, and faults lose and duplicate nothing.

mod common;

use common::*;
use psa_bridge_sim::{Faults, SimConfig, Simulators};
use psa_bridge_workflow::{Step, TwoWay, Workflow};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const SEVERITIES: [&str; 4] = ["Critical", "High", "Medium", "Low"];
const MIN_SCORE: f64 = 20.0;

/// Halo has priorities named as the severities (the seed's default map); ConnectWise numbers them.
fn priority_map(destination: &str) -> Value {
    let cw = [
        "Priority 1 - Emergency Response",
        "Priority 2 - Quick Response",
        "Priority 3 - Normal Response",
        "Priority 4 - Schedule Maintenance",
    ];
    let to = |i: usize| if destination == "halo" { SEVERITIES[i] } else { cw[i] };
    json!((0..4).map(|i| json!({"from": SEVERITIES[i], "to": to(i)})).collect::<Vec<_>>())
}

/// Stellar with `cases` cases and Halo (no rate limit: the bench paces), or ConnectWise.
fn sims(seed: u64, cases: usize, destination: &str) -> (Simulators, Value) {
    let mut config = SimConfig::generated(30, 300, 0, seed);
    config.stellar.cases = Some(cases);
    let sims = start(config);
    let mut connection = json!({"stellar_cyber": sims.stellar_connection()});
    if destination == "halo" {
        let mut halo = sims.halo_config();
        halo.client_rate_limit = None;
        sims.set_halo_config(halo);
        connection["halo"] = sims.halo_connection();
        connection["halo"]["rate_limit"] = json!({"requests": 0, "window_seconds": 300});
    } else {
        connection["connectwise"] = sims.connection()["connectwise"].clone();
    }
    (sims, connection)
}

fn read_filters() -> Value {
    json!({"source": "stellar_cyber", "min_score": MIN_SCORE})
}

fn options(destination: &str) -> Value {
    json!({"destination": destination, "priority_map": priority_map(destination)})
}

fn link(workflow: &Workflow) -> Value {
    let accounts = expect_ok(&workflow.run("get_accounts", json!({"source": "stellar_cyber"}))).clone();
    expect_ok(&workflow.run("match_companies", json!({"accounts": accounts["accounts"]}))).clone()
}

fn cycle(workflow: &Workflow, state: &mut TwoWay, destination: &str) -> Vec<Step> {
    let steps = workflow.two_way_cycle(state, &read_filters(), &options(destination));
    for step in &steps {
        expect_ok(step);
    }
    steps
}

fn output<'a>(steps: &'a [Step], action: &str) -> &'a Value {
    steps.iter().rev().find(|s| s.action == action).map(Step::output).unwrap()
}

/// Writes the sync made on each side so far: Stellar comments and case updates, PSA POSTs/PATCHes.
fn writes(sims: &Simulators) -> (u64, u64) {
    let stellar = sims.stellar_state();
    let sync_user = stellar["sync_user_id"].as_str().unwrap().to_string();
    let by_sync = |what: &str| stellar[what]["by_user"][&sync_user].as_u64().unwrap_or(0);
    let psa = [sims.halo_state(), sims.connectwise_state()]
        .iter()
        .flat_map(|s| s["requests"].as_object().cloned().unwrap_or_default())
        .filter(|(route, _)| {
            (route.starts_with("POST") || route.starts_with("PATCH") || route.starts_with("PUT"))
                && !route.contains("/auth")
                && !route.contains("/token")
        })
        .map(|(_, n)| n.as_u64().unwrap_or(0))
        .sum();
    (by_sync("comments_posted") + by_sync("case_updates"), psa)
}

/// The cases that pass the filters, by id: modified in the look-back window and scored enough.
fn expected_cases(sims: &Simulators, since_ms: i64) -> BTreeMap<String, Value> {
    sims.stellar_state()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["modified_at"].as_i64().unwrap() >= since_ms)
        .filter(|c| score(c) >= MIN_SCORE)
        .map(|c| (c["_id"].as_str().unwrap().to_string(), c.clone()))
        .collect()
}

fn score(case: &Value) -> f64 {
    case["score"].as_f64().or_else(|| case["score"].as_str().and_then(|s| s.trim().parse().ok())).unwrap_or(0.0)
}

fn halo_tickets_by_key(sims: &Simulators) -> BTreeMap<String, Vec<Value>> {
    let mut by_key: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for ticket in sims.halo_state()["tickets"].as_array().unwrap() {
        if let Some(key) = ticket["third_party_id_string"].as_str().and_then(|k| k.strip_prefix("stellar_cyber:")) {
            by_key.entry(key.to_string()).or_default().push(ticket.clone());
        }
    }
    by_key
}

fn case(sims: &Simulators, id: &str) -> Value {
    sims.stellar_state()["cases"].as_array().unwrap().iter().find(|c| c["_id"] == id).cloned().unwrap()
}

fn halo_actions(sims: &Simulators, ticket_id: &Value) -> Vec<Value> {
    sims.halo_state()["actions"].as_array().unwrap().iter().filter(|a| a["ticket_id"] == *ticket_id).cloned().collect()
}

/// Each case that passes the filters and whose tenant is linked is one Halo ticket with the
/// tenant's client, its severity as priority and its status; each comment one Action.
fn assert_cases_posted_once(sims: &Simulators, links: &BTreeMap<String, u64>, since_ms: i64) -> usize {
    let expected = expected_cases(sims, since_ms);
    let by_key = halo_tickets_by_key(sims);
    let state = sims.halo_state();
    let priority_named = |name: &str| {
        state["priorities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"].as_str().unwrap().eq_ignore_ascii_case(name))
            .map(|p| p["id"].clone())
    };
    let mut posted = 0;
    for (key, tickets) in &by_key {
        assert!(expected.contains_key(key), "case {key} was posted but does not pass the filters");
        assert_eq!(tickets.len(), 1, "case {key} is {} Halo tickets", tickets.len());
    }
    for (id, case) in &expected {
        let tenant = case["cust_id"].as_str().unwrap();
        let Some(client) = links.get(tenant) else {
            assert!(!by_key.contains_key(id), "case {id} of unlinked tenant {tenant} was posted");
            continue;
        };
        let ticket = &by_key.get(id).unwrap_or_else(|| panic!("case {id} was not posted"))[0];
        assert_eq!(ticket["client_id"], *client, "case {id}");
        let status_named = |name: &str| {
            state["statuses"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["name"].as_str().unwrap().eq_ignore_ascii_case(name))
                .map(|s| s["id"].clone())
        };
        let status = case["status"].as_str().unwrap();
        let expected_status = status_named(status).or_else(|| status_named("New")).unwrap();
        assert_eq!(ticket["status_id"], expected_status, "case {id} ({status})");
        if let Some(priority) = priority_named(case["severity"].as_str().unwrap()) {
            assert_eq!(ticket["priority_id"], priority, "case {id}");
        }
        let actions = halo_actions(sims, &ticket["id"]);
        for comment in case["comments"].as_array().unwrap() {
            let text = comment["comment"].as_str().unwrap();
            if text.contains("[psa-bridge ") {
                continue;
            }
            let marker = format!("[psa-bridge stellar_cyber comment {}]", comment["_id"].as_str().unwrap());
            let copies = actions.iter().filter(|a| a["note"].as_str().unwrap_or("").contains(&marker)).count();
            assert_eq!(copies, 1, "comment {marker} is {copies} Actions");
        }
        assert!(case["tags"].as_array().unwrap().iter().any(|t| t == "ticket_opened"), "case {id} is tagged");
        posted += 1;
    }
    posted
}

fn links(output: &Value) -> BTreeMap<String, u64> {
    output["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["account_id"].as_str().unwrap().to_string(), m["company_id"].as_str().unwrap().parse().unwrap()))
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn look_back_ms() -> i64 {
    now_ms() - 7 * 86_400_000
}

#[test]
fn cases_become_halo_tickets_once_and_changes_cross_once_each_way_over_five_cycles() {
    let (sims, connection) = sims(5, 80, "halo");
    let workflow = workflow(connection);
    let matched = link(&workflow);
    let links = links(&matched);
    assert!(!links.is_empty());
    for tenant in &sims.dataset().stellar.tenants {
        if tenant.company.is_none() {
            assert!(!links.contains_key(&tenant.cust_id), "tenant {} has no counterpart", tenant.cust_id);
        }
    }
    let since_ms = look_back_ms();
    let mut state = TwoWay::default();
    let first = cycle(&workflow, &mut state, "halo");
    let posted = assert_cases_posted_once(&sims, &links, since_ms);
    assert!(posted > 10, "{posted} cases posted");
    assert_no_secrets_stellar(&sims, &first);

    // A cycle without human changes writes nothing on either side.
    let quiet = writes(&sims);
    let steps = cycle(&workflow, &mut state, "halo");
    assert_eq!(writes(&sims), quiet, "a quiet cycle writes nothing: {:#}", output(&steps, "sync_back")["counts"]);

    let by_key = halo_tickets_by_key(&sims);
    let (analysed, worked) = {
        let mut keys = by_key.keys();
        (keys.next().unwrap().clone(), keys.next().unwrap().clone())
    };
    let worked_ticket = by_key[&worked][0]["id"].as_u64().unwrap().to_string();
    for round in 0..3 {
        // The analyst comments on one case; a technician notes on another's ticket.
        let remark = format!("Analyst remark {round}");
        sims.stellar_analyst(&analysed, json!({"comment": remark})).unwrap();
        let note = format!("Technician note {round}");
        expect_ok(
            &workflow.run("add_comment", json!({"destination": "halo", "ticket_id": worked_ticket, "comment": note})),
        );
        cycle(&workflow, &mut state, "halo");
        let analysed_ticket = &halo_tickets_by_key(&sims)[&analysed][0];
        let copies = halo_actions(&sims, &analysed_ticket["id"])
            .iter()
            .filter(|a| a["note"].as_str().unwrap_or("").contains(&remark))
            .count();
        assert_eq!(copies, 1, "round {round}: the analyst's comment is in Halo once");
        let comments = case(&sims, &worked)["comments"].clone();
        let copies =
            comments.as_array().unwrap().iter().filter(|c| c["comment"].as_str().unwrap().contains(&note)).count();
        assert_eq!(copies, 1, "round {round}: the technician's note is on the case once");
        let quiet = writes(&sims);
        cycle(&workflow, &mut state, "halo");
        assert_eq!(writes(&sims), quiet, "round {round}: the cycle after writes nothing");
    }

    // The technician closes a ticket: the case is resolved with the closure note as a comment.
    expect_ok(&workflow.run(
        "close_ticket",
        json!({"destination": "halo", "ticket_id": worked_ticket, "resolution": "Reimaged the laptop."}),
    ));
    let steps = cycle(&workflow, &mut state, "halo");
    let closed = case(&sims, &worked);
    assert_eq!(closed["status"], "Resolved", "{:#}", output(&steps, "sync_back"));
    assert_eq!(closed["resolution"], "True Positive");
    assert!(
        closed["comments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["comment"].as_str().unwrap().contains("Reimaged the laptop."))
    );
    // The analyst moves a case on: its ticket follows on the next cycle, and nothing bounces back.
    sims.stellar_analyst(&analysed, json!({"status": "Escalated"})).unwrap();
    cycle(&workflow, &mut state, "halo");
    let ticket = &halo_tickets_by_key(&sims)[&analysed][0];
    let statuses = sims.halo_state()["statuses"].clone();
    let status_name =
        statuses.as_array().unwrap().iter().find(|s| s["id"] == ticket["status_id"]).unwrap()["name"].clone();
    let quiet = writes(&sims);
    cycle(&workflow, &mut state, "halo");
    assert_eq!(
        writes(&sims),
        quiet,
        "after the analyst's change, a quiet cycle writes nothing (ticket status {status_name})"
    );
    assert_eq!(case(&sims, &analysed)["status"], "Escalated", "the analyst's status stays");
    assert_cases_posted_once(&sims, &links, since_ms);
}

#[test]
fn when_both_sides_change_the_status_the_case_wins_and_the_notes_still_cross() {
    let (sims, connection) = sims(6, 30, "halo");
    let workflow = workflow(connection);
    link(&workflow);
    let mut state = TwoWay::default();
    cycle(&workflow, &mut state, "halo");
    let by_key = halo_tickets_by_key(&sims);
    let (key, tickets) = by_key.iter().find(|(k, _)| case(&sims, k)["status"] == "New").expect("a new case");
    let ticket_id = tickets[0]["id"].as_u64().unwrap().to_string();
    sims.stellar_analyst(key, json!({"status": "Escalated"})).unwrap();
    expect_ok(&workflow.run(
        "update_ticket",
        json!({"destination": "halo", "ticket_id": ticket_id, "ticket": {"status": "In Progress"}}),
    ));
    expect_ok(
        &workflow
            .run("add_comment", json!({"destination": "halo", "ticket_id": ticket_id, "comment": "Working on it."})),
    );
    cycle(&workflow, &mut state, "halo");
    assert_eq!(case(&sims, key)["status"], "Escalated", "the case's status wins");
    let ticket = expect_ok(&workflow.run("get_ticket", json!({"destination": "halo", "ticket_id": ticket_id}))).clone();
    assert_eq!(
        ticket["ticket"]["status"], "New",
        "the ticket follows the case (Escalated has no Halo status: the default)"
    );
    let comments = case(&sims, key)["comments"].clone();
    assert!(comments.as_array().unwrap().iter().any(|c| c["comment"].as_str().unwrap().contains("Working on it.")));
    let quiet = writes(&sims);
    cycle(&workflow, &mut state, "halo");
    assert_eq!(writes(&sims), quiet, "settled: nothing more is written");
}

#[test]
fn a_cycle_that_fails_before_its_checkpoint_is_kept_loses_and_duplicates_nothing() {
    let (sims, connection) = sims(7, 40, "halo");
    let workflow = workflow(connection);
    let links = links(&link(&workflow));
    let since_ms = look_back_ms();
    let mut state = TwoWay::default();
    // The cycle writes every ticket, then fails before its state is kept (the caller never stores it).
    let mut lost = state.clone();
    cycle(&workflow, &mut lost, "halo");
    let key = halo_tickets_by_key(&sims).keys().next().unwrap().clone();
    sims.stellar_analyst(&key, json!({"comment": "After the crash."})).unwrap();
    cycle(&workflow, &mut state, "halo");
    assert_cases_posted_once(&sims, &links, since_ms);
    let quiet = writes(&sims);
    cycle(&workflow, &mut state, "halo");
    assert_eq!(writes(&sims), quiet);
}

#[test]
fn cases_modified_in_the_same_millisecond_are_neither_lost_nor_repeated() {
    let (sims, connection) = sims(8, 0, "halo");
    let workflow = workflow(connection);
    let tenant = sims.dataset().stellar.tenants[0].cust_id.clone();
    let at = now_ms() - 1_000;
    let add = |name: &str| {
        sims.stellar_add_case(
            json!({"cust_id": tenant, "name": name, "severity": "High", "score": 90, "size": 3, "at_ms": at}),
        )
        .unwrap()
    };
    let first = add("first");
    let read = |since: Option<&Value>| {
        let mut input = json!({"source": "stellar_cyber"});
        if let Some(s) = since {
            input["since"] = s.clone();
        }
        expect_ok(&workflow.run("get_tickets", input)).clone()
    };
    let one = read(None);
    let keys = |o: &Value| {
        o["tickets"].as_array().unwrap().iter().map(|t| t["key"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(keys(&one), vec![first.clone()]);
    // Another case lands in the very same millisecond after the read.
    let second = add("second");
    let two = read(one.get("next_since"));
    assert_eq!(keys(&two), vec![second], "the same-millisecond case is found and the first not repeated");
    let three = read(two.get("next_since"));
    assert!(keys(&three).is_empty(), "{:#}", three);
}

#[test]
fn cases_go_to_connectwise_and_a_closed_ticket_resolves_its_case() {
    let (sims, connection) = sims(9, 30, "connectwise");
    let workflow = workflow(connection);
    let links = links(&link(&workflow));
    assert!(!links.is_empty());
    let mut state = TwoWay::default();
    let first = cycle(&workflow, &mut state, "connectwise");
    let posted = output(&first, "post_tickets");
    assert!(posted["counts"]["created"].as_u64().unwrap() > 0, "{:#}", posted["results"]);
    let cw = sims.connectwise_state();
    let ticket = cw["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["externalXRef"].as_str().is_some_and(|k| k.starts_with("stellar_cyber:")))
        .unwrap()
        .clone();
    let key = ticket["externalXRef"].as_str().unwrap().trim_start_matches("stellar_cyber:").to_string();
    let quiet = writes(&sims);
    cycle(&workflow, &mut state, "connectwise");
    assert_eq!(writes(&sims), quiet, "a quiet cycle writes nothing");
    expect_ok(&workflow.run("close_ticket", json!({"destination": "connectwise", "ticket_id": ticket["id"].to_string(), "resolution": "Blocked the sender."})));
    cycle(&workflow, &mut state, "connectwise");
    let resolved = case(&sims, &key);
    assert_eq!(resolved["status"], "Resolved");
    assert!(
        resolved["comments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["comment"].as_str().unwrap().contains("Blocked the sender."))
    );
    let quiet = writes(&sims);
    cycle(&workflow, &mut state, "connectwise");
    assert_eq!(writes(&sims), quiet, "the resolved case does not bounce back");
}

fn chaos(seed: u64) {
    let (sims, connection) = sims(seed, 60, "halo");
    let workflow = workflow(connection);
    let links = links(&link(&workflow));
    let since_ms = look_back_ms();
    let faults = Faults { p5xx: 0.10, p429: 0.05, pdrop: 0.02, plost: 0.01, seed, ..Faults::default() };
    sims.set_faults(faults);
    sims.set_stellar_config(psa_bridge_sim::StellarConfig { token_ttl_s: 20, ..sims.stellar_config() });
    let mut state = TwoWay::default();
    let mut runs = 0;
    loop {
        runs += 1;
        let steps = workflow.two_way_cycle(&mut state, &read_filters(), &options("halo"));
        let clean = steps.iter().all(|s| s.ok)
            && output(&steps, "post_tickets")["counts"]["failed"] == 0
            && output(&steps, "sync_back")["counts"]["failed"] == 0;
        if clean || runs == 2 {
            assert!(clean, "seed {seed}: not converged in 2 runs");
            break;
        }
    }
    // Changes on both sides, carried under the same faults: each arrives once.
    let by_key = halo_tickets_by_key(&sims);
    let planted: Vec<(String, String)> =
        by_key.iter().take(3).map(|(k, t)| (k.clone(), t[0]["id"].to_string())).collect();
    sims.set_faults(Faults::default());
    for (i, (key, ticket)) in planted.iter().enumerate() {
        sims.stellar_analyst(key, json!({"comment": format!("Chaos analyst {i}")})).unwrap();
        expect_ok(&workflow.run(
            "add_comment",
            json!({"destination": "halo", "ticket_id": ticket, "comment": format!("Chaos technician {i}")}),
        ));
    }
    sims.set_faults(faults);
    let mut back_runs = 0;
    loop {
        back_runs += 1;
        let steps = workflow.two_way_cycle(&mut state, &read_filters(), &options("halo"));
        let clean = steps.iter().all(|s| s.ok)
            && output(&steps, "post_tickets")["counts"]["failed"] == 0
            && output(&steps, "sync_back")["counts"]["failed"] == 0;
        if clean || back_runs == 2 {
            assert!(clean, "seed {seed}: the changes did not cross in 2 runs");
            break;
        }
    }
    sims.set_faults(Faults::default());
    assert_cases_posted_once(&sims, &links, since_ms);
    for (i, (key, _)) in planted.iter().enumerate() {
        let note = format!("Chaos technician {i}");
        let comments = case(&sims, key)["comments"].clone();
        let copies =
            comments.as_array().unwrap().iter().filter(|c| c["comment"].as_str().unwrap().contains(&note)).count();
        assert_eq!(copies, 1, "seed {seed}: {note} is on the case {copies} times");
    }
    eprintln!("Stellar chaos seed {seed}: converged in {runs} runs, the changes crossed in {back_runs}");
}

#[test]
fn sync_back_plans_on_a_dry_run_and_carries_priority_and_assignee_when_asked() {
    let (sims, connection) = sims(10, 20, "halo");
    let scoped = json!({"stellar_cyber": sims.stellar_scoped_connection()});
    let checked = expect_ok(&workflow(scoped).run("test_connection", json!({}))).clone();
    assert!(checked["services"][0]["detail"].as_str().unwrap().contains("scoped"), "{checked}");
    let workflow = workflow(connection);
    link(&workflow);
    let mut state = TwoWay::default();
    cycle(&workflow, &mut state, "halo");
    let (key, tickets) =
        halo_tickets_by_key(&sims).into_iter().find(|(k, _)| case(&sims, k)["severity"] != "Critical").unwrap();
    let ticket_id = tickets[0]["id"].to_string();
    expect_ok(&workflow.run(
        "update_ticket",
        json!({"destination": "halo", "ticket_id": ticket_id, "ticket": {"priority": "Critical"}}),
    ));
    expect_ok(
        &workflow.run("assign_ticket", json!({"destination": "halo", "ticket_id": ticket_id, "agent": "Priya Shah"})),
    );
    let input = json!({"source": "stellar_cyber", "destination": "halo", "priority_map": priority_map("halo"),
                       "sync_priority": true, "assignee_comments": true, "since": state.back_since});
    let before = writes(&sims);
    let mut dry = input.clone();
    dry["dry_run"] = json!(true);
    let plan = expect_ok(&workflow.run("sync_back", dry)).clone();
    assert_eq!(writes(&sims), before, "a dry run writes nothing");
    let planned = plan["results"].as_array().unwrap().iter().find(|r| r["key"] == key.as_str()).unwrap().clone();
    assert_eq!(
        (planned["outcome"].as_str(), planned["severity"].as_str()),
        (Some("updated"), Some("Critical")),
        "{planned}"
    );
    assert_eq!(planned["comments_added"], 1, "the assignment comment");
    assert!(plan["next_since"].is_null(), "a dry run does not move on");
    let step = workflow.run("sync_back", input.clone());
    let done = expect_ok(&step).clone();
    save_output(&step);
    let result = done["results"].as_array().unwrap().iter().find(|r| r["key"] == key.as_str()).unwrap().clone();
    assert_eq!(result, planned, "the run does what the dry run planned");
    let updated = case(&sims, &key);
    assert_eq!(updated["severity"], "Critical");
    let said = updated["comments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["comment"].as_str().unwrap().contains("is assigned to Priya Shah"))
        .count();
    assert_eq!(said, 1);
    let quiet = writes(&sims);
    let again = expect_ok(&workflow.run("sync_back", input)).clone();
    assert_eq!(writes(&sims), quiet, "{:#}", again["counts"]);
}

#[test]
fn chaos_converges_with_nothing_lost_or_duplicated() {
    for seed in chaos_seeds(29) {
        chaos(seed);
    }
}

fn assert_no_secrets_stellar(sims: &Simulators, steps: &[Step]) {
    let connection = sims.stellar_connection();
    let secrets: Vec<String> = [&connection["api_key"], &connection["user"]]
        .iter()
        .filter_map(|v| v.as_str())
        .map(str::to_string)
        .chain(secrets(sims))
        .collect();
    for step in steps {
        let text = step.event.to_string();
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{}: a credential appears in the event", step.action);
        }
    }
}

#[test]
fn a_case_changed_after_the_read_is_deferred_and_crosses_on_the_next_cycle() {
    let (sims, connection) = sims(11, 20, "halo");
    let workflow = workflow(connection);
    link(&workflow);
    let mut state = TwoWay::default();
    cycle(&workflow, &mut state, "halo");
    let (key, tickets) = halo_tickets_by_key(&sims).into_iter().next().unwrap();
    let ticket_id = tickets[0]["id"].to_string();
    expect_ok(&workflow.run(
        "add_comment",
        json!({"destination": "halo", "ticket_id": ticket_id, "comment": "Technician before the analyst."}),
    ));
    // The analyst comments after this cycle's read (its checkpoint): the way back leaves the case alone.
    std::thread::sleep(std::time::Duration::from_millis(5));
    sims.stellar_analyst(&key, json!({"comment": "Analyst after the read."})).unwrap();
    let input = json!({"source": "stellar_cyber", "destination": "halo", "priority_map": priority_map("halo"),
                       "since": state.back_since, "source_checkpoint": state.since});
    let back = expect_ok(&workflow.run("sync_back", input.clone())).clone();
    let result = back["results"].as_array().unwrap().iter().find(|r| r["key"] == key.as_str()).unwrap().clone();
    assert_eq!(result["outcome"], "deferred", "{result}");
    assert_eq!(back["next_since"], input["since"], "a deferred ticket is read again next time");
    let on_case = |text: &str| {
        case(&sims, &key)["comments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["comment"].as_str().unwrap().contains(text))
            .count()
    };
    assert_eq!(on_case("Technician before the analyst."), 0);
    cycle(&workflow, &mut state, "halo");
    assert_eq!(on_case("Technician before the analyst."), 1, "the note crosses once, a cycle later");
    let in_halo = halo_actions(&sims, &tickets[0]["id"])
        .iter()
        .filter(|a| a["note"].as_str().unwrap_or("").contains("Analyst after the read."))
        .count();
    assert_eq!(in_halo, 1, "the analyst's comment is in Halo once");
}

/// `sync` for Stellar Cyber <-> Halo: one call per cycle links, posts and carries back; the state
/// keeps both checkpoints, so a technician's close resolves the case once and a quiet run writes nothing.
#[test]
fn sync_carries_cases_to_halo_and_a_technicians_close_back_once() {
    let (sims, connection) = sims(7, 60, "halo");
    let workflow = workflow(connection);
    let input = json!({
        "source": "stellar_cyber", "destination": "halo",
        "read": {"min_score": MIN_SCORE}, "post": {"priority_map": priority_map("halo")},
    });
    let run = |state: &Value| {
        let mut input = input.clone();
        if !state.is_null() {
            input["state"] = state.clone();
        }
        let step = workflow.run("sync", input);
        expect_ok(&step).clone()
    };
    let first = run(&Value::Null);
    assert!(first["counts"]["link"]["matched"].as_u64() > Some(0));
    assert!(first["counts"]["back"].is_object(), "sync back ran");
    let links = links(&link(&workflow));
    let posted = assert_cases_posted_once(&sims, &links, look_back_ms());
    assert_eq!(first["counts"]["post"]["created"].as_u64(), Some(posted as u64));

    let quiet = writes(&sims);
    let second = run(&first["state"]);
    assert_eq!(writes(&sims), quiet, "a quiet run writes nothing: {:#}", second["counts"]);

    let by_key = halo_tickets_by_key(&sims);
    let (key, tickets) = by_key.iter().next().unwrap();
    let ticket = tickets[0]["id"].as_u64().unwrap().to_string();
    expect_ok(
        &workflow.run("close_ticket", json!({"destination": "halo", "ticket_id": ticket, "resolution": "Done."})),
    );
    let third = run(&second["state"]);
    assert_eq!(case(&sims, key)["status"], "Resolved", "{:#}", third["items"]);
    assert!(third["items"].as_array().unwrap().iter().any(|i| i["step"] == "back" && i["key"] == *key));
    let quiet = writes(&sims);
    run(&third["state"]);
    assert_eq!(writes(&sims), quiet, "the run after writes nothing");
    assert_cases_posted_once(&sims, &links, look_back_ms());
}

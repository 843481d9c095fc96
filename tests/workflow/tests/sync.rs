//! `sync`: one call per cycle, the state kept by the caller between calls. It does what the
//! chained actions do, a second run writes nothing and reads only what changed, its dry run plans
//! exactly what it then does, a lost state or a cut-short run converges, and the drift report
//! finds what a test planted and nothing else.

mod common;

use common::*;
use psa_bridge_sim::data::Expect;
use psa_bridge_sim::{SimConfig, Simulators};
use psa_bridge_workflow::{Step, Workflow};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Runs sync with `input` and the state, again at once while it says there is more.
fn sync_until_done(workflow: &Workflow, input: &Value, state: Option<Value>) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut state = state;
    for _ in 0..20 {
        let mut input = input.clone();
        if let Some(state) = &state {
            input["state"] = state.clone();
        }
        let step = workflow.run("sync", input);
        let output = expect_ok(&step).clone();
        steps.push(step);
        state = Some(output["state"].clone());
        if output["has_more"] != true {
            return steps;
        }
    }
    panic!("sync did not finish in 20 runs");
}

/// Every account's company as match_companies sees it now (a dry run: nothing written).
fn matches(workflow: &Workflow) -> BTreeMap<u64, u64> {
    matched_map(expect_ok(&workflow.run("match_companies", json!({"dry_run": true}))))
}

fn writes(sims: &Simulators) -> u64 {
    let state = sims.connectwise_state();
    ["POST /service/tickets", "PATCH /service/tickets/{id}", "POST /service/tickets/{id}/notes"]
        .iter()
        .map(|route| requests(&state, route))
        .sum::<u64>()
}

/// The board as a set of (key, company, status) and the notes per ticket key.
fn board(sims: &Simulators) -> BTreeSet<(String, String, String, usize)> {
    let state = sims.connectwise_state();
    state["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| {
            let key = t["externalXRef"].as_str()?.to_string();
            let notes = state["notes"][t["id"].to_string()].as_array().map_or(0, Vec::len);
            Some((key, t["company"]["id"].to_string(), t["status"]["name"].to_string(), notes))
        })
        .collect()
}

/// (step, action, key, target) of every item; the target of a ticket this run creates is left
/// out (a dry run has none).
fn plan(output: &Value) -> Vec<(String, String, String, Option<String>)> {
    let items = output["items"].as_array().unwrap();
    let created: BTreeSet<&str> =
        items.iter().filter(|i| i["action"] == "create").filter_map(|i| i["key"].as_str()).collect();
    items
        .iter()
        .map(|i| {
            let target = (!created.contains(i["key"].as_str().unwrap_or_default()))
                .then(|| i["target"].as_str().unwrap_or_default().to_string());
            let text = |k: &str| i[k].as_str().unwrap_or_default().to_string();
            (text("step"), text("action"), text("key"), target)
        })
        .collect()
}

#[test]
fn sync_does_what_the_chained_actions_do_and_a_second_run_reads_only_what_changed_and_writes_nothing() {
    let config = SimConfig::generated(25, 250, 400, 8);
    let chained = start(config.clone());
    let steps = workflow(chained.connection()).chain();
    let chain_post = expect_ok(steps.last().unwrap()).clone();

    let sims = start(config);
    let workflow = workflow(sims.connection());
    let first = workflow.run("sync", json!({}));
    let output = expect_ok(&first).clone();
    assert_eq!(output["has_more"], false);
    for count in ["created", "updated", "notes_added", "skipped", "failed"] {
        assert_eq!(output["counts"]["post"][count], chain_post["counts"][count], "{count}: {:#}", output["counts"]);
    }
    assert_eq!(board(&sims), board(&chained), "the board holds what the chained actions put there");
    let matched = matched_map(expect_ok(steps.iter().find(|s| s.action == "match_companies").unwrap()));
    assert_posted_exactly_once(&sims, &matched);
    assert!(output["drift"].is_array(), "the first run reconciles");
    assert!(output["state"]["since"].is_string() && output["state"]["reconciled"].is_string());

    let (details, written) = (requests(&sims.armor_state(), "GET /tickets/{key}/details"), writes(&sims));
    let second = workflow.run("sync", json!({"state": output["state"]}));
    let again = expect_ok(&second);
    assert_eq!(again["counts"]["read"], 0, "nothing changed since the checkpoint");
    assert_eq!(again["items"], json!([]));
    assert!(again["counts"]["link"].is_null() && again["drift"].is_null(), "no reconciliation within a day");
    assert_eq!(requests(&sims.armor_state(), "GET /tickets/{key}/details"), details);
    assert_eq!(writes(&sims), written, "the second run writes nothing");
    assert_no_secrets(&sims, &[&first, &second]);
}

#[test]
fn the_dry_run_plans_exactly_what_the_run_then_does() {
    let sims = start(SimConfig::generated(12, 120, 150, 17));
    let workflow = workflow(sims.connection());
    let dry = workflow.run("sync", json!({"dry_run": true}));
    let dry = expect_ok(&dry).clone();
    assert_eq!(writes(&sims), 0, "a dry run writes nothing");
    assert_eq!(dry["state"]["since"], Value::Null, "a dry run leaves the state as it was");
    let real = workflow.run("sync", json!({}));
    let real = expect_ok(&real).clone();
    let (planned, done) = (plan(&dry), plan(&real));
    assert!(planned.iter().any(|p| p.1 == "link") && planned.iter().any(|p| p.1 == "create"));
    assert!(planned.iter().any(|p| p.1 == "note"), "{planned:?}");
    assert_eq!(planned.len(), done.len());
    for (i, (p, d)) in planned.iter().zip(&done).enumerate() {
        assert_eq!(p, d, "item {i}");
    }
    assert_eq!(dry["counts"]["post"]["created"], real["counts"]["post"]["created"]);
}

/// The platform keeps the old state when a run fails after its writes: the next run repeats the
/// cycle and finds everything already there. A run longer than its budget goes on from its state.
#[test]
fn a_lost_state_and_a_cut_short_run_converge_with_nothing_lost_or_duplicated() {
    let sims = start(SimConfig::generated(12, 120, 150, 29));
    let workflow = workflow(sims.connection());
    let first = workflow.run("sync", json!({}));
    let created = expect_ok(&first)["counts"]["post"]["created"].as_u64().unwrap();
    assert!(created > 0);
    // Its state never reached the caller: the next run starts from none.
    let again = workflow.run("sync", json!({}));
    let counts = &expect_ok(&again)["counts"]["post"];
    assert_eq!((counts["created"].as_u64(), counts["notes_added"].as_u64()), (Some(0), Some(0)), "{counts}");
    assert_posted_exactly_once(&sims, &matches(&workflow));

    // A new pair under a budget that holds a few tickets per run.
    let slow = start(SimConfig::generated(12, 120, 150, 31));
    let mut connection = slow.connection();
    connection["tuning"] = json!({"time_budget_seconds": 2});
    slow.set_connectwise_trickle(Some(psa_bridge_sim::Trickle {
        route: "POST /service/tickets".into(),
        page: None,
        chunks: 2,
        duration_ms: 400,
    }));
    let runs = sync_until_done(&crate::workflow(connection), &json!({}), None);
    slow.set_connectwise_trickle(None);
    assert!(runs.len() > 1, "the budget cut the first run short");
    assert_posted_exactly_once(&slow, &matches(&crate::workflow(slow.connection())));
    let total: u64 = runs.iter().map(|r| r.output()["counts"]["post"]["created"].as_u64().unwrap()).sum();
    eprintln!("budget: {} runs created {total} tickets", runs.len());
}

#[test]
fn the_drift_report_finds_what_was_planted_and_nothing_else() {
    let mut dataset = SimConfig::generated(12, 120, 150, 5).data.load().unwrap();
    // A deleted company that still carries the link of an account that matches another company.
    let field = dataset.custom_field_id("ARMORcompanyId").unwrap();
    let linked = dataset.truth.accounts.iter().find(|t| t.expect == Expect::Match).unwrap().armor_id;
    let deleted = dataset.connectwise.companies.iter_mut().find(|c| c["deletedFlag"] == true).unwrap();
    let deleted_id = deleted["id"].to_string();
    deleted["customFields"] = json!([{"id": field, "caption": "ARMORcompanyId", "value": linked.to_string()}]);
    let without: BTreeSet<String> =
        dataset.truth.accounts.iter().filter(|t| t.expect != Expect::Match).map(|t| t.armor_id.to_string()).collect();
    let sims = start(SimConfig::with_dataset(dataset));
    let workflow = workflow(sims.connection());

    let first = workflow.run("sync", json!({}));
    let output = expect_ok(&first).clone();
    let found = |output: &Value| -> BTreeMap<String, BTreeSet<(String, Option<String>)>> {
        let mut found: BTreeMap<String, BTreeSet<(String, Option<String>)>> = BTreeMap::new();
        for d in output["drift"].as_array().unwrap() {
            let target = d["target"].as_str().map(str::to_string);
            found
                .entry(d["kind"].as_str().unwrap().to_string())
                .or_default()
                .insert((d["key"].as_str().unwrap().to_string(), target));
        }
        found
    };
    let drift = found(&output);
    assert_eq!(drift["link_to_deleted_company"], BTreeSet::from([(linked.to_string(), Some(deleted_id))]));
    let accounts: BTreeSet<String> = drift["account_without_company"].iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(accounts, without, "every account the truth leaves without a company, and no other");
    assert!(!drift.contains_key("closed_in_destination") && !drift.contains_key("closed_at_source"));

    // A technician closes one ticket the source still has open.
    let created = output["items"].as_array().unwrap().iter().find(|i| i["action"] == "create").unwrap().clone();
    let ticket = created["target"].as_str().unwrap();
    expect_ok(&workflow.run("close_ticket", json!({"ticket_id": ticket})));
    let written = writes(&sims);
    let next_step = workflow.run("sync", json!({"state": output["state"], "reconcile": true}));
    save_output(&next_step);
    let next = expect_ok(&next_step).clone();
    let drift = found(&next);
    assert_eq!(
        drift["closed_in_destination"],
        BTreeSet::from([(created["key"].as_str().unwrap().to_string(), Some(ticket.to_string()))])
    );
    assert_eq!(drift.len(), 3, "{drift:?}");
    assert_eq!(writes(&sims), written, "the reconciliation undoes nothing the technician did");
}

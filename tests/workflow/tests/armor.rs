//! get_accounts and get_tickets: the real component under the harness against the ARMOR simulator.

mod common;

use common::*;
use psa_bridge_sim::{Faults, SimConfig};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

fn keys(output: &Value) -> Vec<String> {
    output["tickets"].as_array().unwrap().iter().map(|t| t["key"].as_str().unwrap().to_string()).collect()
}

#[test]
fn every_account_and_ticket_comes_back_exactly_once_in_both_auth_modes() {
    let sims = start(SimConfig::generated(30, 200, 600, 11));
    let dataset = sims.dataset();
    let expected_accounts: BTreeSet<u64> = dataset.armor.accounts.iter().map(|a| a.id as u64).collect();
    let expected_tickets: BTreeMap<String, usize> =
        dataset.armor.tickets.iter().map(|t| (t.issue_key_id.clone(), t.comments.len())).collect();
    assert!(dataset.armor.tickets.iter().filter(|t| t.account_id == 7001).count() > 100, "paging needs a big account");

    for mode in ["api_key", "login"] {
        let workflow = workflow(armor_mode(&sims, mode));
        let accounts = workflow.run("get_accounts", json!({}));
        let output = expect_ok(&accounts);
        let ids: Vec<u64> = output["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().parse::<u64>().unwrap())
            .collect();
        assert_eq!(ids.len(), expected_accounts.len(), "{mode}: each account once");
        assert_eq!(ids.iter().copied().collect::<BTreeSet<_>>(), expected_accounts, "{mode}");
        let root = output["accounts"].as_array().unwrap().iter().find(|a| a["id"] == "1001").unwrap();
        assert!(root.get("parent_id").is_none(), "the root has no parent");
        assert!(
            output["accounts"].as_array().unwrap().iter().all(|a| a["currency"].as_str().is_none_or(|c| c == c.trim()))
        );

        let tickets = workflow.run("get_tickets", json!({}));
        let output = expect_ok(&tickets);
        let got = keys(output);
        assert_eq!(got.len(), expected_tickets.len(), "{mode}: each ticket once");
        for ticket in output["tickets"].as_array().unwrap() {
            let key = ticket["key"].as_str().unwrap();
            let comments = ticket["comments"].as_array().map_or(0, Vec::len);
            assert_eq!(Some(&comments), expected_tickets.get(key), "{mode}: comments of {key}");
            assert!(ticket["created"].as_str().unwrap().ends_with('Z'), "ISO-8601 UTC");
            assert!(ticket.get("description").is_some() && ticket.get("priority").is_some(), "details were read");
        }
        assert!(output.get("next_cursor").is_none());
        assert_no_secrets(&sims, &[&accounts, &tickets]);
    }
}

#[test]
fn filters_and_the_cursor_resume_where_a_maximum_stopped() {
    let sims = start(SimConfig::generated(12, 100, 300, 5));
    let workflow = workflow(sims.connection());
    let all = keys(expect_ok(&workflow.run("get_tickets", json!({"include_comments": false}))));

    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    for _ in 0..20 {
        let mut input = json!({"max_tickets": 70, "include_comments": false});
        if !cursor.is_null() {
            input["cursor"] = cursor.clone();
        }
        let step = workflow.run("get_tickets", input);
        let output = expect_ok(&step);
        assert!(output["count"].as_u64().unwrap() <= 70);
        seen.extend(keys(output));
        cursor = output.get("next_cursor").cloned().unwrap_or(Value::Null);
        if cursor.is_null() {
            break;
        }
    }
    assert!(cursor.is_null(), "the cursor ran out");
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no ticket twice across resumed calls");
    assert_eq!(unique, all.iter().collect::<BTreeSet<_>>(), "no ticket lost across resumed calls");

    let statuses = expect_ok(
        &workflow
            .run("get_tickets", json!({"statuses": ["closed"], "include_details": false, "include_comments": false})),
    )
    .clone();
    assert!(statuses["tickets"].as_array().unwrap().iter().all(|t| t["status"] == "Closed"));
    let one =
        expect_ok(&workflow.run("get_tickets", json!({"account_ids": ["7001"], "include_comments": false}))).clone();
    assert!(one["tickets"].as_array().unwrap().iter().all(|t| t["account_id"] == "7001"));

    let subtree =
        expect_ok(&workflow.run("get_accounts", json!({"parent_id": "7001", "include_addresses": false}))).clone();
    let ids: Vec<u64> = subtree["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().parse::<u64>().unwrap())
        .collect();
    assert!(ids.contains(&7001) && !ids.contains(&1001));
    let garbage = workflow.run("get_tickets", json!({"cursor": "not-a-cursor"}));
    assert!(expect_error(&garbage).0.contains("input.cursor"));
}

#[test]
fn an_expiring_token_is_renewed_mid_run() {
    let mut config = SimConfig::generated(10, 50, 400, 3);
    config.token_ttl_s = 1;
    config.faults = Faults { latency_ms: 15, ..Faults::default() };
    let sims = start(config);
    let workflow = workflow(armor_mode(&sims, "login"));
    let step = workflow.run("get_tickets", json!({}));
    let output = expect_ok(&step);
    assert_eq!(output["count"].as_u64().unwrap() as usize, sims.dataset().armor.tickets.len());
    let renewals: u64 = step
        .log()
        .lines()
        .find_map(|l| l.split(", ").find_map(|p| p.strip_suffix(" re-authentications")).and_then(|n| n.parse().ok()))
        .unwrap_or(0);
    assert!(renewals >= 1, "a 1-second token must have been renewed: {}", step.log());
}

#[test]
fn reads_survive_20_percent_faults() {
    let sims = start(SimConfig::generated(10, 60, 150, 21));
    let workflow = workflow(sims.connection());
    let clean_accounts = expect_ok(&workflow.run("get_accounts", json!({}))).clone();
    let clean_tickets = expect_ok(&workflow.run("get_tickets", json!({}))).clone();

    sims.set_faults(Faults { p5xx: 0.08, p429: 0.04, pdrop: 0.08, seed: 99, ..Faults::default() });
    let accounts = workflow.run("get_accounts", json!({}));
    let tickets = workflow.run("get_tickets", json!({}));
    assert_eq!(expect_ok(&accounts), &clean_accounts, "same accounts despite faults");
    assert_eq!(expect_ok(&tickets)["tickets"], clean_tickets["tickets"], "same tickets despite faults");
    let faults = &sims.armor_state()["faults"];
    assert!(faults["http_5xx"].as_u64().unwrap() > 10 && faults["dropped"].as_u64().unwrap() > 10, "{faults}");
}

#[test]
fn wrong_credentials_and_contexts_are_explained() {
    let sims = start(SimConfig::small());
    let c = &sims.dataset().credentials.armor;

    let mut bad_password = armor_mode(&sims, "login");
    bad_password["armor"]["login"]["password"] = json!("not-the-password");
    let step = workflow(bad_password).run("get_accounts", json!({}));
    assert!(expect_error(&step).0.contains("rejected the username or password"));

    let mut mfa = armor_mode(&sims, "login");
    mfa["armor"]["login"] = json!({"username": c.mfa_username, "password": c.mfa_password});
    let step = workflow(mfa).run("get_accounts", json!({}));
    assert!(expect_error(&step).0.contains("multi-factor"));

    let mut bad_secret = armor_mode(&sims, "api_key");
    bad_secret["armor"]["api_key"]["secret_key"] = json!("not-the-secret");
    let step = workflow(bad_secret).run("get_accounts", json!({}));
    assert!(expect_error(&step).0.contains("API key signature"));

    let mut unknown = sims.connection();
    unknown["armor"]["account_id"] = json!(424242);
    let step = workflow(unknown).run("get_accounts", json!({}));
    assert!(expect_error(&step).0.contains("refused access"));

    let step = workflow(sims.connection()).run("get_tickets", json!({"account_ids": ["999999"]}));
    assert!(expect_error(&step).0.contains("refused access"));
    let step = workflow(sims.connection()).run("test_connection", json!({}));
    expect_ok(&step);
}

#[test]
fn malformed_answers_are_reported_not_trusted() {
    for (body, expected) in [
        ("{not json", "malformed"),
        (r#"[{"id": "seven", "name": "A"}]"#, "malformed"),
        (r#"{"accounts": []}"#, "malformed"),
        (r#"[{"name": "no id"}]"#, "malformed"),
    ] {
        let url = stub(40, move |_| http_response("200 OK", "", body.as_bytes()));
        let connection = json!({"armor": {"base_url": url, "account_id": 1001, "api_key": {"key_id": "k-Distinct", "secret_key": "s-Distinct-77"}},
            "tuning": {"max_attempts": 2}});
        let step = workflow(connection).run("get_accounts", json!({"include_addresses": false}));
        let (cause, data) = expect_error(&step);
        assert!(cause.contains(expected), "{body}: {cause}");
        assert!(!data.is_empty(), "{body}: the data says what was wrong");
        assert!(!step.event.to_string().contains("s-Distinct-77"));
    }
}

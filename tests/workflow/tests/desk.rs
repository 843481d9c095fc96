//! The ticket actions end to end: the real component under the harness against the Halo and
//! ConnectWise simulators, each action's effect checked in the simulator's state.

mod common;

use common::*;
use psa_bridge_sim::{Faults, SimConfig, Simulators};
use psa_bridge_workflow::{Step, Workflow};
use serde_json::{Value, json};

fn halo_only(sims: &Simulators) -> Value {
    let mut connection = sims.connection();
    connection.as_object_mut().unwrap().remove("connectwise");
    connection["halo"] = sims.halo_connection();
    connection
}

fn connectwise_only(sims: &Simulators) -> Value {
    let mut connection = sims.connection();
    connection.as_object_mut().unwrap().remove("armor");
    connection
}

/// An active client (Halo) or company (ConnectWise) that has a name.
fn active(records: &[Value], inactive_flag: &str) -> Value {
    records.iter().find(|c| c[inactive_flag] != json!(true) && c["name"].is_string()).cloned().unwrap()
}

/// Whether a simulator's numeric id is the plugin's text one.
fn same_id(value: &Value, id: &str) -> bool {
    value.as_u64().is_some_and(|n| n.to_string() == id)
}

fn ticket_in<'a>(state: &'a Value, id: &str) -> &'a Value {
    state["tickets"].as_array().unwrap().iter().find(|t| same_id(&t["id"], id)).unwrap()
}

/// Runs `action` and keeps its output for the validator.
fn ok(workflow: &Workflow, action: &str, input: Value) -> (Value, Step) {
    let step = workflow.run(action, input);
    let output = expect_ok(&step).clone();
    save_output(&step);
    (output, step)
}

fn custom<'a>(ticket: &'a Value, name: &str) -> &'a str {
    ticket["custom_fields"].as_array().unwrap().iter().find(|f| f["name"] == name).unwrap()["value"].as_str().unwrap()
}

#[test]
fn every_ticket_action_works_against_halo() {
    let sims = start(SimConfig::generated(10, 40, 0, 5));
    let workflow = workflow(halo_only(&sims));
    let client = active(&sims.dataset().halo.clients, "inactive");
    let client_name = client["name"].as_str().unwrap().trim().to_string();
    let mut steps = Vec::new();

    let fields = json!({
        "summary": "Ransomware beacon on FS01", "details": "Seen at 09:12.\nIsolate <FS01> & call back.",
        "company": client_name, "ticket_type": "security incident", "status": "New", "priority": "High",
        "team": "Security Operations", "agent": "priya.shah@halo-sim.test", "category": "Malware",
        "impact": "Single User", "urgency": "High",
        "custom_fields": [{"name": "Customer Reference", "value": "INC-77"}]
    });
    let input = json!({"ticket": fields, "external_key": "soar:case-1"});
    let (created, step) = ok(&workflow, "create_ticket", input.clone());
    steps.push(step);
    let ticket = &created["ticket"];
    assert_eq!(created["created"], true);
    let id = ticket["id"].as_str().unwrap().to_string();
    assert_eq!(
        (&ticket["system"], &ticket["summary"], &ticket["company_name"], &ticket["ticket_type"], &ticket["status"]),
        (
            &json!("halo"),
            &json!("Ransomware beacon on FS01"),
            &json!(client_name),
            &json!("Security Incident"),
            &json!("New")
        )
    );
    assert_eq!(
        (&ticket["priority"], &ticket["team"], &ticket["agent"]),
        (&json!("High"), &json!("Security Operations"), &json!("Priya Shah"))
    );
    assert_eq!(ticket["details"], "Seen at 09:12.\nIsolate <FS01> & call back.");
    assert_eq!(
        (custom(ticket, "Customer Reference"), ticket["external_key"].as_str()),
        ("INC-77", Some("soar:case-1"))
    );
    let state = sims.halo_state();
    let stored = ticket_in(&state, &id);
    assert_eq!(stored["client_id"], client["id"]);
    assert_eq!(stored["category_1"], "Malware");
    let tickets_before = state["tickets"].as_array().unwrap().len();

    // The same external key again: the ticket that has it, nothing created.
    let (again, _) = ok(&workflow, "create_ticket", input);
    assert_eq!((again["created"].clone(), again["ticket"]["id"].clone()), (json!(false), json!(id)));
    assert_eq!(sims.halo_state()["tickets"].as_array().unwrap().len(), tickets_before);

    let update = json!({"ticket_id": id, "ticket": {"status": "In Progress", "summary": "Ransomware on FS01: contained",
                        "custom_fields": [{"name": "Source System", "value": "SOAR"}]}});
    let (updated, step) = ok(&workflow, "update_ticket", update);
    steps.push(step);
    let ticket = &updated["ticket"];
    assert_eq!(
        (&ticket["status"], &ticket["closed"], &ticket["summary"]),
        (&json!("In Progress"), &json!(false), &json!("Ransomware on FS01: contained"))
    );
    assert_eq!((custom(ticket, "Source System"), custom(ticket, "Customer Reference")), ("SOAR", "INC-77"));

    let (assigned, step) =
        ok(&workflow, "assign_ticket", json!({"ticket_id": id, "agent": "alex morgan", "team": "1st line support"}));
    steps.push(step);
    assert_eq!(
        (&assigned["ticket"]["agent"], &assigned["ticket"]["team"]),
        (&json!("Alex Morgan"), &json!("1st Line Support"))
    );

    let (internal, step) = ok(&workflow, "add_comment", json!({"ticket_id": id, "comment": "Isolated the host."}));
    steps.push(step);
    assert_eq!((&internal["note"]["public"], &internal["note"]["outcome"]), (&json!(false), &json!("Private Note")));
    let (public, _) =
        ok(&workflow, "add_comment", json!({"ticket_id": id, "comment": "We are on it.", "public": true}));
    assert_eq!((&public["note"]["public"], &public["note"]["outcome"]), (&json!(true), &json!("Public Note")));
    let state = sims.halo_state();
    let mut actions: Vec<&Value> =
        state["actions"].as_array().unwrap().iter().filter(|a| same_id(&a["ticket_id"], &id)).collect();
    actions.sort_by_key(|a| a["id"].as_u64());
    assert_eq!(actions.iter().map(|a| a["hiddenfromuser"].clone()).collect::<Vec<_>>(), [json!(true), json!(false)]);

    let (got, step) = ok(&workflow, "get_ticket", json!({"ticket_id": id, "include_notes": true}));
    steps.push(step);
    let texts: Vec<&str> = got["notes"].as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Isolated the host.", "We are on it."]);

    let (found, step) =
        ok(&workflow, "search_tickets", json!({"company": client_name, "open": true, "summary": "ransomware"}));
    steps.push(step);
    assert_eq!(
        (found["count"].clone(), found["tickets"][0]["id"].clone(), found["more"].clone()),
        (json!(1), json!(id), json!(false))
    );
    let (by_key, _) =
        ok(&workflow, "search_tickets", json!({"external_key": "soar:case-1", "team": "1st Line Support"}));
    assert_eq!(by_key["count"], 1);
    let all = sims.halo_state()["tickets"].as_array().unwrap().len();
    assert!(all > 2, "the data set has tickets to page through");
    let (first, _) = ok(&workflow, "search_tickets", json!({"max_results": 2}));
    assert_eq!((first["count"].clone(), first["more"].clone()), (json!(2), json!(true)));
    let (every, _) = ok(&workflow, "search_tickets", json!({}));
    assert_eq!((every["count"].as_u64().unwrap() as usize, every["more"].clone()), (all, json!(false)));

    let (closed, step) = ok(&workflow, "close_ticket", json!({"ticket_id": id, "resolution": "Host rebuilt."}));
    steps.push(step);
    assert_eq!((&closed["ticket"]["status"], &closed["ticket"]["closed"]), (&json!("Resolved"), &json!(true)));
    let state = sims.halo_state();
    assert_eq!(ticket_in(&state, &id)["closure_note"], "Host rebuilt.");
    let (closed_only, _) = ok(&workflow, "search_tickets", json!({"open": false, "external_key": "soar:case-1"}));
    assert_eq!(closed_only["count"], 1);

    // Clear errors: unknown names, bad ids, fields Halo lacks, bad credentials.
    let (cause, _) = expect_error(&workflow.run("assign_ticket", json!({"ticket_id": id, "team": "Red Team"})));
    assert!(cause.contains("no team named \"Red Team\"") && cause.contains("Security Operations"), "{cause}");
    let (cause, _) = expect_error(&workflow.run("get_ticket", json!({"ticket_id": "T-1"})));
    assert!(cause.contains("input.ticket_id"), "{cause}");
    let (cause, _) = expect_error(&workflow.run("get_ticket", json!({"ticket_id": "999999"})));
    assert_eq!(cause, "Halo has no ticket 999999.");
    let (cause, _) = expect_error(&workflow.run("add_comment", json!({"ticket_id": "999999", "comment": "x"})));
    assert_eq!(cause, "Halo has no ticket 999999.");
    let (cause, data) =
        expect_error(&workflow.run("add_comment", json!({"ticket_id": id, "comment": "x", "outcome": "Nope"})));
    assert!(cause.contains("refused") && data.contains("Nope"), "{cause} {data}");
    let (cause, _) = expect_error(&workflow.run("close_ticket", json!({"ticket_id": id, "status": "In Progress"})));
    assert!(cause.contains("not a closed status") && cause.contains("Resolved, Closed"), "{cause}");
    let (cause, _) = expect_error(&workflow.run("search_tickets", json!({"board": "ARMORtickets"})));
    assert!(cause.contains("no service boards"), "{cause}");
    let (cause, _) = expect_error(&workflow.run("update_ticket", json!({"ticket_id": id, "ticket": {}})));
    assert!(cause.contains("sets no field"), "{cause}");
    let (cause, _) =
        expect_error(&workflow.run(
            "update_ticket",
            json!({"ticket_id": id, "ticket": {"custom_fields": [{"name": "Nope", "value": "x"}]}}),
        ));
    assert!(cause.contains("no custom field named \"Nope\"") && cause.contains("Customer Reference"), "{cause}");
    let mut wrong = halo_only(&sims);
    wrong["halo"]["client_secret"] = json!("not-the-secret");
    let denied = Workflow::new(plugin(), wrong, options()).run("get_ticket", json!({"ticket_id": id}));
    let (cause, _) = expect_error(&denied);
    assert!(cause.contains("credentials"), "{cause}");
    steps.push(denied);
    let refs: Vec<&Step> = steps.iter().collect();
    assert_no_secrets(&sims, &refs);
}

/// A create whose answer is lost is found by its key, never made twice; a comment whose answer is
/// lost is found among the new notes.
#[test]
fn lost_answers_create_nothing_twice_on_halo() {
    let sims = start(SimConfig::generated(10, 40, 0, 6));
    let workflow = workflow(halo_only(&sims));
    let client = active(&sims.dataset().halo.clients, "inactive");
    sims.set_halo_faults(Faults { plost: 0.5, seed: 3, ..Faults::default() });
    let mut ids = Vec::new();
    for n in 0..6 {
        let input = json!({"ticket": {"summary": format!("Alert {n}"), "company": client["id"].to_string()},
                           "external_key": format!("soar:lost-{n}")});
        let step = workflow.run("create_ticket", input);
        let output = expect_ok(&step);
        ids.push(output["ticket"]["id"].as_str().unwrap().to_string());
        let comment = workflow.run("add_comment", json!({"ticket_id": ids[n], "comment": format!("note {n}")}));
        expect_ok(&comment);
    }
    sims.set_halo_faults(Faults::default());
    let state = sims.halo_state();
    for (n, id) in ids.iter().enumerate() {
        let key = format!("soar:lost-{n}");
        let with_key: Vec<&Value> =
            state["tickets"].as_array().unwrap().iter().filter(|t| t["third_party_id_string"] == key).collect();
        assert_eq!(with_key.len(), 1, "{key}");
        let notes = state["actions"].as_array().unwrap().iter().filter(|a| same_id(&a["ticket_id"], id)).count();
        assert_eq!(notes, 1, "ticket {id}");
    }
    assert!(state["faults"]["lost"].as_u64().unwrap_or(0) > 0, "answers were lost: {:#}", state["faults"]);
}

#[test]
fn every_ticket_action_works_against_connectwise() {
    let sims = start(SimConfig::generated(10, 40, 0, 5));
    let workflow = workflow(connectwise_only(&sims));
    let company = active(&sims.dataset().connectwise.companies, "deletedFlag");
    let identifier = company["identifier"].as_str().unwrap().to_string();
    let mut steps = Vec::new();

    let fields = json!({
        "summary": "Phishing report from the CFO", "details": "Forwarded mail attached.",
        "company": identifier, "ticket_type": "security incident", "status": "Open", "priority": "Priority 2 - High",
        "team": "soc", "agent": "jsmith@msp.example",
        "custom_fields": [{"name": "Customer Reference", "value": "INC-9"}, {"name": "Escalated", "value": "true"}]
    });
    let priorities: Vec<String> = sims.dataset().connectwise.priorities.iter().map(|p| p.name.clone()).collect();
    let mut fields = fields;
    fields["priority"] = json!(priorities[0]);
    let input = json!({"ticket": fields, "external_key": "soar:cw-1"});
    let (created, step) = ok(&workflow, "create_ticket", input.clone());
    steps.push(step);
    let ticket = &created["ticket"];
    let id = ticket["id"].as_str().unwrap().to_string();
    assert_eq!(created["created"], true);
    assert_eq!(
        (
            &ticket["system"],
            &ticket["board"],
            &ticket["ticket_type"],
            &ticket["status"],
            &ticket["team"],
            &ticket["agent"]
        ),
        (
            &json!("connectwise"),
            &json!("ARMORtickets"),
            &json!("Security Incident"),
            &json!("Open"),
            &json!("SOC"),
            &json!("jsmith")
        )
    );
    assert_eq!(
        (&ticket["priority"], &ticket["company_id"]),
        (&json!(priorities[0]), &json!(company["id"].to_string()))
    );
    assert_eq!((custom(ticket, "Customer Reference"), custom(ticket, "Escalated")), ("INC-9", "true"));
    let state = sims.connectwise_state();
    assert_eq!(ticket_in(&state, &id)["externalXRef"], "soar:cw-1");
    // The description is the ticket's first note, as in ConnectWise.
    assert_eq!(state["notes"][id.as_str()][0]["text"], "Forwarded mail attached.");
    let tickets_before = state["tickets"].as_array().unwrap().len();

    let (again, _) = ok(&workflow, "create_ticket", input);
    assert_eq!((again["created"].clone(), again["ticket"]["id"].clone()), (json!(false), json!(id)));
    assert_eq!(sims.connectwise_state()["tickets"].as_array().unwrap().len(), tickets_before);

    let types = state["types"].as_array().unwrap();
    let board = &ticket_in(&state, &id)["board"]["id"];
    let other_type =
        types.iter().find(|t| &t["board"]["id"] == board && t["name"] != "Security Incident").unwrap()["name"].clone();
    let update = json!({"ticket_id": id, "ticket": {"status": "In Progress", "ticket_type": other_type,
                        "custom_fields": [{"name": "Escalated", "value": "false"}]}});
    let (updated, step) = ok(&workflow, "update_ticket", update);
    steps.push(step);
    let ticket = &updated["ticket"];
    assert_eq!((&ticket["status"], &ticket["ticket_type"]), (&json!("In Progress"), &other_type));
    // The whole array went back: the field not named kept its value.
    assert_eq!((custom(ticket, "Escalated"), custom(ticket, "Customer Reference")), ("false", "INC-9"));

    let state = sims.connectwise_state();
    let other = state["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["identifier"] != "jsmith" && m["identifier"] != "APIMember" && m["inactiveFlag"] == false)
        .unwrap()["identifier"]
        .clone();
    let board = &ticket_in(&state, &id)["board"]["id"];
    let teams = state["teams"].as_array().unwrap();
    let team = teams.iter().find(|t| &t["boardId"] == board && t["name"] != "SOC").unwrap()["name"].clone();
    let (assigned, step) = ok(&workflow, "assign_ticket", json!({"ticket_id": id, "agent": other, "team": team}));
    steps.push(step);
    assert_eq!((&assigned["ticket"]["agent"], &assigned["ticket"]["team"]), (&other, &team));

    let (internal, step) = ok(&workflow, "add_comment", json!({"ticket_id": id, "comment": "Headers checked."}));
    steps.push(step);
    assert_eq!(internal["note"]["public"], false);
    let (public, _) =
        ok(&workflow, "add_comment", json!({"ticket_id": id, "comment": "Thanks, we are looking.", "public": true}));
    assert_eq!(public["note"]["public"], true);
    let state = sims.connectwise_state();
    let notes = state["notes"][id.as_str()].as_array().unwrap();
    assert_eq!(notes.len(), 3);
    assert_eq!((&notes[1]["internalAnalysisFlag"], &notes[2]["detailDescriptionFlag"]), (&json!(true), &json!(true)));

    let (got, step) = ok(&workflow, "get_ticket", json!({"ticket_id": id, "include_notes": true}));
    steps.push(step);
    let texts: Vec<&str> = got["notes"].as_array().unwrap().iter().map(|n| n["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Forwarded mail attached.", "Headers checked.", "Thanks, we are looking."]);

    let search = json!({"company": identifier, "open": true, "summary": "PHISHING", "board": "ARMORtickets",
                        "team": team, "agent": other, "status": "In Progress",
                        "updated_since": "2020-01-01T00:00:00+02:00", "external_key": "soar:cw-1"});
    let (found, step) = ok(&workflow, "search_tickets", search);
    steps.push(step);
    assert_eq!((found["count"].clone(), found["tickets"][0]["id"].clone()), (json!(1), json!(id)));
    let all = sims.connectwise_state()["tickets"].as_array().unwrap().len();
    let (first, _) = ok(&workflow, "search_tickets", json!({"max_results": 2}));
    assert_eq!((first["count"].clone(), first["more"].clone()), (json!(2), json!(true)));
    let (every, _) = ok(&workflow, "search_tickets", json!({}));
    assert_eq!((every["count"].as_u64().unwrap() as usize, every["more"].clone()), (all, json!(false)));

    let (closed, step) =
        ok(&workflow, "close_ticket", json!({"ticket_id": id, "resolution": "Reported to the vendor."}));
    steps.push(step);
    assert_eq!((&closed["ticket"]["status"], &closed["ticket"]["closed"]), (&json!("Resolved"), &json!(true)));
    let state = sims.connectwise_state();
    let resolution = state["notes"][id.as_str()].as_array().unwrap().last().unwrap().clone();
    assert_eq!((&resolution["text"], &resolution["resolutionFlag"]), (&json!("Reported to the vendor."), &json!(true)));

    let (cause, _) = expect_error(&workflow.run("assign_ticket", json!({"ticket_id": id, "team": "Service Desk"})));
    assert!(
        cause.contains("no team on the ARMORtickets board named \"Service Desk\"") && cause.contains("SOC"),
        "{cause}"
    );
    let (cause, _) = expect_error(&workflow.run("assign_ticket", json!({"ticket_id": id, "agent": "nobody"})));
    assert!(cause.contains("no active member"), "{cause}");
    let (cause, _) = expect_error(&workflow.run("get_ticket", json!({"ticket_id": "999999"})));
    assert_eq!(cause, "ConnectWise has no ticket 999999.");
    let (cause, _) = expect_error(&workflow.run("add_comment", json!({"ticket_id": "999999", "comment": "x"})));
    assert_eq!(cause, "ConnectWise has no ticket 999999.");
    let (cause, _) =
        expect_error(&workflow.run("update_ticket", json!({"ticket_id": id, "ticket": {"details": "more"}})));
    assert!(cause.contains("first note"), "{cause}");
    let (cause, _) =
        expect_error(&workflow.run("update_ticket", json!({"ticket_id": id, "ticket": {"urgency": "High"}})));
    assert!(cause.contains("no urgency"), "{cause}");
    let (cause, _) = expect_error(&workflow.run("close_ticket", json!({"ticket_id": id, "status": "Open"})));
    assert!(cause.contains("Resolved, Completed, Closed"), "{cause}");
    let mut wrong = connectwise_only(&sims);
    wrong["connectwise"]["api_key"]["private_key"] = json!("not-the-key");
    let denied = Workflow::new(plugin(), wrong, options()).run("get_ticket", json!({"ticket_id": id}));
    let (cause, _) = expect_error(&denied);
    assert!(cause.contains("rejected the API keys"), "{cause}");
    steps.push(denied);
    let refs: Vec<&Step> = steps.iter().collect();
    assert_no_secrets(&sims, &refs);
}

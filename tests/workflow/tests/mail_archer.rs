//! Microsoft 365 mailbox -> RSA Archer end to end: the real component under the harness against the
//! Graph and Archer simulators. Every message in the folder becomes exactly one incident with its
//! fields; a restart or a second run creates nothing; a burst in one second loses nothing; Archer's
//! refusals on HTTP 200 are reported per message; faults converge; Graph's concurrency limit holds.

mod common;

use common::*;
use psa_bridge_sim::{ArcherConfig, Faults, GraphConfig, SimConfig, Simulators};
use psa_bridge_workflow::{Step, Workflow};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const KEY_PREFIX: &str = "graph_mail:";

fn sims(seed: u64, messages: usize) -> (Simulators, Value) {
    let mut config = SimConfig::generated(5, 20, 0, seed);
    config.graph.messages = Some(messages);
    let sims = start(config);
    let connection = json!({"graph_mail": sims.mail_connection(), "archer": sims.archer_connection()});
    (sims, connection)
}

/// The fields the seed script filled, by name.
fn archer_options() -> Value {
    json!({"fields": [
        {"name": "Date Reported", "value": "{sent}"},
        {"name": "Reporter Email", "value": "{reporter?}"},
        {"name": "Category", "value": "Phishing"},
        {"name": "Incident Owner", "value": "soc.analyst"},
    ]})
}

/// get_tickets (every cursor) then post_tickets: the steps, and the read's next_since.
fn run(workflow: &Workflow, read: Value) -> (Vec<Step>, Option<Value>) {
    let mut steps = Vec::new();
    let (tickets, since) = workflow.read_all(&mut steps, read).expect("get_tickets succeeds");
    if !tickets.is_empty() {
        workflow.post_all(&mut steps, json!({"destination": "archer", "tickets": tickets, "archer": archer_options()}));
    }
    (steps, since)
}

fn read(since: &Option<Value>) -> Value {
    let mut input = json!({"source": "graph_mail"});
    if let Some(since) = since {
        input["since"] = since.clone();
    }
    input
}

fn post_counts(steps: &[Step]) -> Value {
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    for step in steps.iter().filter(|s| s.action == "post_tickets" && s.ok) {
        for (name, n) in step.output()["counts"].as_object().unwrap() {
            *totals.entry(name.clone()).or_default() += n.as_u64().unwrap_or(0);
        }
    }
    json!(totals)
}

/// Incidents by the message id in their key field (lowercased, as Archer compares).
fn incidents(sims: &Simulators) -> BTreeMap<String, Vec<Value>> {
    let mut by_id: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for content in sims.archer_state()["contents"].as_array().unwrap() {
        if let Some(key) = content["fields"]["Message ID"].as_str() {
            let id = key.strip_prefix(KEY_PREFIX).unwrap_or(key).to_lowercase();
            by_id.entry(id).or_default().push(content.clone());
        }
    }
    by_id
}

fn truth(sims: &Simulators) -> Vec<String> {
    sims.graph_state()["truth"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect()
}

fn folder_messages(sims: &Simulators) -> Vec<Value> {
    let state = sims.graph_state();
    let folder = state["folder"].as_str().unwrap().to_string();
    state["folders"].as_array().unwrap().iter().find(|f| f["displayName"] == folder.as_str()).unwrap()["messages"]
        .as_array()
        .unwrap()
        .clone()
}

/// Every message of the ground truth is exactly one incident, and no incident is anything else.
fn assert_each_message_once(sims: &Simulators) {
    let by_id = incidents(sims);
    let truth = truth(sims);
    for id in &truth {
        let copies = by_id.get(&id.to_lowercase()).map_or(0, Vec::len);
        assert_eq!(copies, 1, "message {id} is {copies} incidents");
    }
    assert_eq!(by_id.len(), truth.len(), "incidents of messages outside the folder");
    assert_eq!(sims.archer_state()["counts"]["duplicates"], 0);
}

fn max_in_flight(sims: &Simulators) -> u64 {
    let state = sims.graph_state();
    state["max_in_flight"].as_object().unwrap().values().filter_map(Value::as_u64).max().unwrap_or(0)
}

fn graph_secrets(sims: &Simulators) -> Vec<String> {
    let mail = sims.mail_connection();
    let archer = sims.archer_connection();
    vec![mail["client_secret"].as_str().unwrap().to_string(), archer["password"].as_str().unwrap().to_string()]
}

fn assert_no_secrets_here(sims: &Simulators, steps: &[Step]) {
    for step in steps {
        let text = step.event.to_string();
        for secret in graph_secrets(sims) {
            assert!(!text.contains(&secret), "{}: a credential appears in the event", step.action);
        }
    }
}

#[test]
fn every_message_becomes_one_incident_with_its_fields_and_a_restart_creates_nothing() {
    let (sims, connection) = sims(11, 40);
    let workflow = workflow(connection);
    let check = expect_ok(&workflow.run("test_connection", json!({}))).clone();
    assert_eq!(check["services"].as_array().unwrap().len(), 2, "{check:#}");
    let accounts = expect_ok(&workflow.run("get_accounts", json!({"source": "graph_mail"}))).clone();
    assert_eq!(accounts["accounts"][0]["id"], sims.mail_connection()["mailbox"]);

    // The dry run plans every create and writes nothing.
    let mut steps = Vec::new();
    let (tickets, _) = workflow.read_all(&mut steps, read(&None)).unwrap();
    assert_eq!(tickets.len(), truth(&sims).len());
    let plan = expect_ok(&workflow.run(
        "post_tickets",
        json!({"destination": "archer", "tickets": tickets, "archer": archer_options(), "dry_run": true}),
    ))
    .clone();
    assert_eq!(plan["counts"]["created"], tickets.len());
    assert_eq!(sims.archer_state()["counts"]["creates"], 0, "a dry run writes nothing");

    let (first, since) = run(&workflow, read(&None));
    assert_eq!(post_counts(&first)["created"], tickets.len(), "{:#}", post_counts(&first));
    assert_each_message_once(&sims);
    assert!(max_in_flight(&sims) <= 4, "Graph saw {} requests at once", max_in_flight(&sims));
    assert_no_secrets_here(&sims, &first);

    // Each incident has the fields the seed filled, in their types' shapes.
    let by_id = incidents(&sims);
    for message in folder_messages(&sims) {
        let id = message["internetMessageId"].as_str().unwrap().to_lowercase();
        let fields = &by_id[&id][0]["fields"];
        let subject = message["subject"].as_str().map(str::trim).filter(|s| !s.is_empty()).unwrap_or("(no subject)");
        let title = fields["Incident Title"].as_str().unwrap();
        assert!(title.starts_with("ABUSE - "), "{title}");
        assert!(subject.starts_with(title["ABUSE - ".len()..].trim_end_matches('…')), "{title} / {subject}");
        let description = fields["Description"].as_str().unwrap();
        for line in ["From: ", "Sent: ", "To: ", "CC: ", "Subject: "] {
            assert!(description.contains(line), "{description}");
        }
        assert_eq!(fields["Incident Status"], json!(["New"]), "{fields:#}");
        assert_eq!(fields["Category"], json!(["Phishing"]));
        assert_eq!(fields["Incident Owner"], json!(["soc.analyst"]), "{fields:#}");
        let reported = fields["Date Reported"].as_str().unwrap();
        assert_eq!(reported.get(..19), message["receivedDateTime"].as_str().unwrap().get(..19));
    }

    // The next run reads nothing new and writes nothing; a restart without state creates nothing.
    let creates = sims.archer_state()["counts"]["creates"].clone();
    let (second, _) = run(&workflow, read(&since));
    assert!(second.iter().all(|s| s.action == "get_tickets"), "nothing new to post");
    assert_eq!(second[0].output()["count"], 0);
    let (restart, _) = run(&workflow, read(&None));
    let counts = post_counts(&restart);
    assert_eq!((counts["created"].clone(), counts["unchanged"].clone()), (json!(0), json!(tickets.len())));
    assert_eq!(sims.archer_state()["counts"]["creates"], creates);
    assert_eq!(sims.archer_state()["counts"]["updates"], 0, "analysts own the status once it exists");
    save_output(&workflow.run("get_tickets", json!({"source": "graph_mail", "max_tickets": 2})));
}

#[test]
fn a_burst_in_one_second_loses_and_repeats_nothing() {
    let (sims, connection) = sims(12, 10);
    let workflow = workflow(connection);
    let (_, mut since) = run(&workflow, read(&None));
    for round in 0..3 {
        sims.graph_deliver(json!({"count": 25, "same_second": true})).unwrap();
        // Read in small calls: a cursor falls inside the second.
        let mut input = read(&since);
        input["max_tickets"] = json!(7);
        let (steps, next) = run(&workflow, input);
        assert!(steps.iter().filter(|s| s.action == "get_tickets").count() >= 4, "round {round}");
        assert_eq!(post_counts(&steps)["created"], 25, "round {round}: {:#}", post_counts(&steps));
        since = next;
    }
    assert_each_message_once(&sims);
}

#[test]
fn an_archer_refusal_on_http_200_is_reported_for_that_message_and_the_others_go_on() {
    let (sims, connection) = sims(13, 12);
    let workflow = workflow(connection);
    let refused = folder_messages(&sims)
        .iter()
        .find_map(|m| m["subject"].as_str().filter(|s| s.trim().len() > 8).map(|s| s.trim().to_string()))
        .unwrap();
    sims.set_archer_config(ArcherConfig { reject_text: Some(refused.clone()), ..sims.archer_config() });
    let (steps, _) = run(&workflow, read(&None));
    let post = steps.iter().find(|s| s.action == "post_tickets").unwrap();
    let results = post.output()["results"].as_array().unwrap();
    let failed: Vec<&Value> = results.iter().filter(|r| r["outcome"] == "failed").collect();
    assert!(!failed.is_empty());
    for result in &failed {
        let cause = result["error"]["cause"].as_str().unwrap();
        assert!(cause.contains("Archer refused") && cause.contains("disallowed content"), "{cause}");
    }
    let created = results.iter().filter(|r| r["outcome"] == "created").count();
    assert_eq!(created + failed.len(), results.len());
    assert!(sims.archer_state()["counts"]["validation_failures"].as_u64().unwrap() >= failed.len() as u64);

    // Fixed in Archer, the next run creates the refused ones and nothing twice.
    sims.set_archer_config(ArcherConfig { reject_text: None, ..sims.archer_config() });
    let (again, _) = run(&workflow, read(&None));
    assert_eq!(post_counts(&again)["created"], failed.len());
    assert_each_message_once(&sims);
}

#[test]
fn names_archer_lacks_and_wrong_credentials_are_clear_errors_without_secrets() {
    let (sims, connection) = sims(14, 3);
    let workflow = workflow(connection.clone());
    let mut steps = Vec::new();
    let (tickets, _) = workflow.read_all(&mut steps, read(&None)).unwrap();
    let post = |archer: Value| {
        workflow.run("post_tickets", json!({"destination": "archer", "tickets": tickets, "archer": archer}))
    };
    let (cause, _) = expect_error(&post(json!({"application": "Incidents"})));
    assert!(cause.contains("no application \"Incidents\""), "{cause}");
    let step = post(json!({"fields": [{"name": "Severity Level", "value": "High"}]}));
    assert!(step.error()["assistance"].as_str().unwrap().contains("Incident Title"), "{:#}", step.error());
    // A placeholder the tickets lack fails each of them, naming it and the facts they have.
    let typo = expect_ok(&post(json!({"fields": [{"name": "Category", "value": "{subjekt}"}]}))).clone();
    for result in typo["results"].as_array().unwrap() {
        assert_eq!(result["outcome"], "failed");
        assert!(result["error"]["cause"].as_str().unwrap().contains("no \"subjekt\""), "{result:#}");
        assert!(result["error"]["data"].as_str().unwrap().contains("from, to, cc, sent"), "{result:#}");
    }
    let (cause, _) = expect_error(&post(json!({"title": "ABUSE - {summary"})));
    assert!(cause.contains("input.archer.title"), "{cause}");
    assert_eq!(sims.archer_state()["counts"]["creates"], 0, "nothing is written");

    let mut wrong = connection.clone();
    wrong["archer"]["password"] = json!("not-the-password");
    let (cause, data) = expect_error(&workflow_with(wrong, &tickets));
    assert!(cause.contains("Archer refused the login"), "{cause} {data}");
    let mut wrong = connection.clone();
    wrong["graph_mail"]["client_secret"] = json!("not-the-secret");
    let step = psa_bridge_workflow::Workflow::new(plugin(), wrong, options()).run("get_tickets", read(&None));
    let (cause, _) = expect_error(&step);
    assert!(cause.contains("client credentials"), "{cause}");
    let mut old = connection.clone();
    old["archer"]["prefix"] = json!("api");
    let (cause, _) = expect_error(&workflow_with(old, &tickets));
    assert!(cause.contains("no REST API at /api"), "{cause}");
    assert_no_secrets_here(&sims, &steps);
}

fn workflow_with(connection: Value, tickets: &[Value]) -> Step {
    psa_bridge_workflow::Workflow::new(plugin(), connection, options())
        .run("post_tickets", json!({"destination": "archer", "tickets": tickets}))
}

#[test]
fn posted_messages_are_tagged_and_filed_and_an_older_archer_prefix_works() {
    let (sims, mut connection) = sims(15, 6);
    connection["graph_mail"]["processed_category"] = json!("In Archer");
    connection["graph_mail"]["processed_folder"] = json!("archive");
    connection["archer"]["prefix"] = json!("api");
    sims.set_archer_config(ArcherConfig { prefix: "api".into(), ..sims.archer_config() });
    let workflow = workflow(connection);
    let (steps, _) = run(&workflow, read(&None));
    assert_eq!(post_counts(&steps)["created"], 6, "{:#}", post_counts(&steps));
    assert_each_message_once(&sims);
    let state = sims.graph_state();
    assert_eq!(state["category_patches"], 6);
    assert_eq!(state["moves"], 6);
    assert!(max_in_flight(&sims) <= 4, "Graph saw {} requests at once", max_in_flight(&sims));
    assert!(folder_messages(&sims).is_empty(), "every posted message left the folder");
}

fn chaos(seed: u64) {
    let (sims, mut connection) = sims(seed, 60);
    // Tagging the posted messages sends Graph requests in parallel: the limit of 4 must hold.
    connection["graph_mail"]["processed_category"] = json!("In Archer");
    let workflow = workflow(connection);
    let faults = Faults { p5xx: 0.10, p429: 0.05, pdrop: 0.02, plost: 0.01, latency_ms: 5, seed };
    sims.set_faults(faults);
    sims.set_graph_config(GraphConfig { token_ttl_s: 20, ..sims.graph_config() });
    sims.set_archer_config(ArcherConfig { session_ttl_s: 5, ..sims.archer_config() });
    let mut since = None;
    let mut runs = 0;
    loop {
        runs += 1;
        let mut steps = Vec::new();
        let read_ok = workflow.read_all(&mut steps, read(&since));
        let clean = match read_ok {
            Some((tickets, next)) => {
                let posted = tickets.is_empty()
                    || workflow.post_all(
                        &mut steps,
                        json!({"destination": "archer", "tickets": tickets, "archer": archer_options()}),
                    );
                let failed = post_counts(&steps)["failed"].as_u64().unwrap_or(0);
                if posted && failed == 0 {
                    since = next;
                }
                posted && failed == 0
            }
            None => false,
        };
        if clean {
            break;
        }
        assert!(runs < 2, "seed {seed}: not converged after {runs} runs: {:#}", steps.last().unwrap().event);
    }
    sims.set_faults(Faults::default());
    eprintln!("seed {seed}: converged in {runs} run(s)");
    assert_each_message_once(&sims);
    assert!(max_in_flight(&sims) <= 4, "seed {seed}: Graph saw {} requests at once", max_in_flight(&sims));
    assert_eq!(sims.graph_state()["concurrency_rejections"], 0, "seed {seed}");
}

#[test]
fn chaos_converges_with_nothing_lost_or_duplicated() {
    for seed in chaos_seeds(29) {
        chaos(seed);
    }
}

/// `sync` for the pair: no companies to link and no tickets to compare, so it reads, posts and
/// keeps the checkpoint; new mail arrives once, and a run from the state reads 3 requests' worth.
#[test]
fn sync_posts_the_folder_once_and_a_run_from_its_state_posts_only_new_mail() {
    let (sims, connection) = sims(53, 30);
    let workflow = workflow(connection);
    let input = json!({"source": "graph_mail", "destination": "archer", "post": {"archer": archer_options()}});
    let first = workflow.run("sync", input.clone());
    let output = expect_ok(&first).clone();
    assert_eq!(output["counts"]["post"]["created"], 30, "{:#}", output["counts"]);
    assert!(output["counts"]["link"].is_null(), "Archer has no companies");
    assert_eq!(output["drift"], json!([]));
    assert_each_message_once(&sims);

    sims.graph_deliver(json!({"count": 2})).unwrap();
    let mut next = input.clone();
    next["state"] = output["state"].clone();
    let second = workflow.run("sync", next);
    let again = expect_ok(&second);
    assert_eq!((again["counts"]["read"].as_u64(), again["counts"]["post"]["created"].as_u64()), (Some(2), Some(2)));
    assert_each_message_once(&sims);
    assert_eq!(sims.archer_state()["counts"]["duplicates"], 0);
    assert_no_secrets_here(&sims, &[first, second]);
}

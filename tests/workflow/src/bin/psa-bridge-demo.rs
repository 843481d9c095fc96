//! `make demo`: simulators with a realistic data set, every action chained like a workflow,
//! a readable summary — then the same again, to show that a second run changes nothing, and once more
//! as a scheduled sync (with `since`), which reads only what changed.

use anyhow::{Context, Result, bail};
use psa_bridge_host::plugin::{CallOptions, Plugin};
use psa_bridge_host::progress::StderrProgress;
use psa_bridge_sim::{SimConfig, Simulators};
use psa_bridge_workflow::{Step, TwoWay, Workflow, component_path, next_since, requests_served};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ACCOUNTS: usize = 300;
const COMPANIES: usize = 3_000;
const TICKETS: usize = 1_500;
const SEED: u64 = 7;

fn main() -> Result<()> {
    let started = Instant::now();
    let plugin = Plugin::load(&component_path())
        .map_err(anyhow::Error::from)
        .context("loading the component (run `make component` first)")?;
    println!(
        "psa-bridge demo — component {} KB, {} in {:.0} ms",
        plugin.component_bytes / 1024,
        if plugin.loaded_from_cache { "loaded precompiled" } else { "compiled" },
        plugin.load_time.as_secs_f64() * 1e3
    );
    println!(
        "Starting the ARMOR, ConnectWise, Halo, Stellar Cyber, Microsoft Graph, Archer and Zivver simulators: {ACCOUNTS} accounts, {COMPANIES} companies, {TICKETS} tickets (seed {SEED}) …"
    );
    let sims = Simulators::start(SimConfig::generated(ACCOUNTS, COMPANIES, TICKETS, SEED))?;
    println!(
        "  ARMOR       {}\n  ConnectWise {}\n  Halo        {}\n",
        sims.armor_url(),
        sims.connectwise_url(),
        sims.halo_url()
    );

    let options = CallOptions {
        allow_loopback: true,
        timeout: Some(Duration::from_secs(600)),
        progress: Some(Arc::new(StderrProgress::default())),
        ..CallOptions::default()
    };
    let workflow = Workflow::new(&plugin, sims.connection(), options.clone());
    let connectwise = Target { name: "ConnectWise", state: Simulators::connectwise_state };

    println!("== ARMOR -> ConnectWise: first run ==");
    let first = run_chain(&workflow, &sims, &connectwise, None)?;
    println!("\n== Second run (same data: nothing should change) ==");
    let second = run_chain(&workflow, &sims, &connectwise, None)?;
    println!("\n== Scheduled run (since = the last run's next_since: only changed tickets are read) ==");
    let scheduled = run_chain(&workflow, &sims, &connectwise, second.next_since.as_ref())?;

    // The same pair in one call per cycle: the state carries the checkpoints from call to call.
    println!("\n== ARMOR -> ConnectWise with sync: one call per cycle, the state kept between calls ==");
    let sync_quiet = sync_cycles(&workflow, &sims)?;

    // The same ARMOR into Halo: one connection section swapped, the same chain. The simulator's
    // 300-per-5-minutes limit is off here so the demo stays short (make bench measures the pacing).
    println!("\n== ARMOR -> Halo ({}): first run ==", sims.halo_url());
    let mut config = sims.halo_config();
    config.client_rate_limit = None;
    sims.set_halo_config(config);
    let mut connection = sims.connection();
    connection.as_object_mut().map(|c| c.remove("connectwise"));
    connection["halo"] = sims.halo_connection();
    connection["halo"]["rate_limit"] = serde_json::json!({"requests": 0, "window_seconds": 300});
    let halo_workflow = Workflow::new(&plugin, connection, options);
    let halo = Target { name: "Halo", state: Simulators::halo_state };
    let halo_first = run_chain(&halo_workflow, &sims, &halo, None)?;
    println!("\n== ARMOR -> Halo: second run (nothing should change) ==");
    let halo_second = run_chain(&halo_workflow, &sims, &halo, None)?;

    // An analyst's workflow on each PSA with the same seven actions: the ticket ids of one chain
    // feed the next action, names stand in for the instance's ids.
    println!("\n== Ticket actions on ConnectWise ==");
    ticket_actions(&workflow, "SOC")?;
    println!("\n== Ticket actions on Halo ==");
    ticket_actions(&halo_workflow, "Security Operations")?;

    // Stellar Cyber cases into the same Halo, both ways: an analyst and a technician each change
    // something between cycles; each change crosses once, and a cycle without changes writes nothing.
    println!("\n== Stellar Cyber <-> Halo ({}): two-way sync ==", sims.stellar_url());
    let mut connection = halo_workflow.connection.clone();
    connection.as_object_mut().map(|c| c.remove("armor"));
    connection["stellar_cyber"] = sims.stellar_connection();
    let stellar_workflow = Workflow::new(&plugin, connection, halo_workflow.options.clone());
    let quiet_writes = two_way(&stellar_workflow, &sims)?;

    // Suspicious e-mails reported to a mailbox become Archer incidents: every message once, a
    // burst in one second included, and a restart without state creates nothing.
    println!(
        "\n== Mailbox ({}) -> Archer ({}): suspicious e-mails become incidents ==",
        sims.graph_url(),
        sims.archer_url()
    );
    let connection = json!({"graph_mail": sims.mail_connection(), "archer": sims.archer_connection()});
    let mail_workflow = Workflow::new(&plugin, connection, stellar_workflow.options.clone());
    let restart_creates = mail_to_archer(&mail_workflow, &sims)?;

    // Zivver's accounts follow Exchange Online: a dry run's plan, the sync, a few directory
    // changes, and a run with nothing changed.
    println!("\n== Exchange Online ({}) -> Zivver ({}): the directory sync ==", sims.graph_url(), sims.zivver_url());
    let connection = json!({"graph_directory": sims.directory_connection(), "zivver": sims.zivver_connection()});
    let directory_workflow = Workflow::new(&plugin, connection, mail_workflow.options.clone());
    let directory_quiet = directory_to_zivver(&directory_workflow, &sims)?;

    let writes = second.writes + scheduled.writes;
    println!(
        "\nSecond run: {} ConnectWise writes, {} tickets created, {} companies updated — {}.",
        writes,
        second.created,
        second.companies_updated,
        if writes == 0 && second.created == 0 && second.companies_updated == 0 {
            "idempotent"
        } else {
            "NOT idempotent"
        }
    );
    println!(
        "Halo: first run {} tickets created, {} clients linked; second run {} Halo writes — {}.",
        halo_first.created,
        halo_first.companies_updated,
        halo_second.writes,
        if halo_second.writes == 0 && halo_second.created == 0 { "idempotent" } else { "NOT idempotent" }
    );
    println!("Total {:.1} s. Simulators stopped.", started.elapsed().as_secs_f64());
    drop(sims);
    println!(
        "Stellar Cyber <-> Halo: a cycle without changes wrote {quiet_writes} — {}.",
        if quiet_writes == 0 { "no echo" } else { "NOT quiet" }
    );
    println!(
        "Exchange Online -> Zivver: a run with nothing changed wrote {directory_quiet} — {}.",
        if directory_quiet == 0 { "in step" } else { "NOT in step" }
    );
    println!(
        "Sync ARMOR -> ConnectWise: a cycle with nothing changed wrote {sync_quiet} — {}.",
        if sync_quiet == 0 { "in step" } else { "NOT in step" }
    );
    println!(
        "Mailbox -> Archer: a restart without state created {restart_creates} incidents — {}.",
        if restart_creates == 0 { "exactly once" } else { "DUPLICATES" }
    );
    if writes != 0
        || first.created == 0
        || halo_second.writes != 0
        || halo_first.created == 0
        || quiet_writes != 0
        || restart_creates != 0
        || directory_quiet != 0
        || sync_quiet != 0
    {
        bail!("the demo did not behave as expected");
    }
    Ok(())
}

/// A first sync (it reconciles: everything read, what is missing posted, the drift reported), then
/// a cycle from its state with nothing changed; returns that cycle's ConnectWise writes.
fn sync_cycles(workflow: &Workflow, sims: &Simulators) -> Result<u64> {
    let summary = |output: &Value| {
        let post = &output["counts"]["post"];
        println!(
            "  read {}, created {}, updated {}, notes {}, skipped {}; {} items; state since {}",
            output["counts"]["read"],
            post["created"],
            post["updated"],
            post["notes_added"],
            post["skipped"],
            output["items"].as_array().map_or(0, Vec::len),
            output["state"]["since"]
        );
    };
    let first = workflow.run("sync", json!({}));
    let output = first.output().clone();
    if !first.ok {
        bail!("sync failed: {}", first.error());
    }
    println!("  -- the first call reconciles --");
    summary(&output);
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    for drift in output["drift"].as_array().into_iter().flatten() {
        *kinds.entry(drift["kind"].as_str().unwrap_or("?").to_string()).or_default() += 1;
    }
    println!("  drift: {kinds:?}");
    let before = writes(&sims.connectwise_state());
    let (requests_before, started) =
        (requests_served(&sims.armor_state()) + requests_served(&sims.connectwise_state()), Instant::now());
    let next = workflow.run("sync", json!({"state": output["state"]}));
    if !next.ok {
        bail!("sync failed: {}", next.error());
    }
    println!("  -- the next cycle, nothing changed --");
    summary(next.output());
    let requests = requests_served(&sims.armor_state()) + requests_served(&sims.connectwise_state()) - requests_before;
    let quiet = writes(&sims.connectwise_state()) - before;
    println!("  {requests} requests, {quiet} writes in {:.2} s", started.elapsed().as_secs_f64());
    Ok(quiet)
}

/// Links Stellar's tenants, then runs the two-way cycle three times: the first brings the cases
/// over; before the second an analyst escalates a case and comments, a technician notes on and
/// closes another's ticket; the third has nothing to do. Returns the third cycle's writes.
fn two_way(workflow: &Workflow, sims: &Simulators) -> Result<u64> {
    let accounts = workflow.run("get_accounts", json!({"source": "stellar_cyber"}));
    show(&accounts)?;
    show(&workflow.run("match_companies", json!({"accounts": accounts.output()["accounts"]})))?;
    let severities: Vec<Value> =
        ["Critical", "High", "Medium", "Low"].iter().map(|s| json!({"from": s, "to": s})).collect();
    let read = json!({"source": "stellar_cyber", "min_score": 20});
    let options = json!({"priority_map": severities});
    let mut state = TwoWay::default();
    let both_writes = || writes(&sims.stellar_state()) + writes(&sims.halo_state());
    for cycle in 1..=3 {
        match cycle {
            1 => println!("  -- cycle 1: the cases come over --"),
            2 => {
                let tickets = workflow.run("search_tickets", json!({"open": true}));
                let ours: Vec<&Value> = tickets.output()["tickets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|t| t["external_key"].as_str().is_some_and(|k| k.starts_with("stellar_cyber:")))
                    .collect();
                let [analysed, worked, ..] = ours.as_slice() else { bail!("fewer than two Stellar tickets in Halo") };
                let case = analysed["external_key"].as_str().unwrap_or_default().trim_start_matches("stellar_cyber:");
                sims.stellar_analyst(
                    case,
                    json!({"status": "In Progress", "comment": "Confirmed: the host beacons to a known C2."}),
                )?;
                println!(
                    "  -- analyst: case {case} In Progress, with a comment; technician: a note on ticket #{} and closed --",
                    worked["id"].as_str().unwrap_or("?")
                );
                show(&workflow.run(
                    "add_comment",
                    json!({"ticket_id": worked["id"], "comment": "Called the user: the laptop is with IT."}),
                ))?;
                show(
                    &workflow.run("close_ticket", json!({"ticket_id": worked["id"], "resolution": "Laptop reimaged."})),
                )?;
                println!("  -- cycle 2: each change crosses once --");
            }
            _ => println!("  -- cycle 3: nothing changed --"),
        }
        let before = both_writes();
        for step in workflow.two_way_cycle(&mut state, &read, &options) {
            show(&step)?;
        }
        let written = both_writes() - before;
        println!("  writes this cycle: {written} (Stellar Cyber and Halo)");
        if cycle == 3 {
            return Ok(written);
        }
    }
    Ok(0)
}

/// The folder read and posted; a burst of messages received in one second read and posted from the
/// checkpoint; then a restart that reads the whole folder again. Returns the restart's creates.
fn mail_to_archer(workflow: &Workflow, sims: &Simulators) -> Result<u64> {
    let archer = json!({"fields": [{"name": "Date Reported", "value": "{sent}"}, {"name": "Category", "value": "Phishing"},
                                   {"name": "Incident Owner", "value": "soc.analyst"}]});
    let cycle = |since: Option<&Value>| -> Result<Value> {
        let mut input = json!({"source": "graph_mail"});
        if let Some(since) = since {
            input["since"] = since.clone();
        }
        let read = show(&workflow.run("get_tickets", input))?;
        if read["count"].as_u64().unwrap_or(0) > 0 {
            show(&workflow.run(
                "post_tickets",
                json!({"destination": "archer", "tickets": read["tickets"], "archer": archer.clone()}),
            ))?;
        }
        Ok(read["next_since"].clone())
    };
    show(&workflow.run("test_connection", json!({})))?;
    println!("  -- the folder --");
    let since = cycle(None)?;
    sims.graph_deliver(json!({"count": 12, "same_second": true}))?;
    println!("  -- 12 messages arrive in the same second --");
    cycle(Some(&since))?;
    let creates = || sims.archer_state()["counts"]["creates"].as_u64().unwrap_or(0);
    let before = creates();
    println!("  -- a restart without state: the whole folder again --");
    cycle(None)?;
    let state = sims.archer_state();
    println!(
        "  Archer holds {} incidents, {} duplicated; Graph saw at most {} requests at once",
        state["contents"].as_array().map_or(0, Vec::len),
        state["counts"]["duplicates"],
        sims.graph_state()["max_in_flight"].as_object().map_or(0, |m| m
            .values()
            .filter_map(Value::as_u64)
            .max()
            .unwrap_or(0))
    );
    Ok(creates() - before)
}

/// The plan, the sync, four directory changes synced, then a quiet run; returns its Zivver writes.
fn directory_to_zivver(workflow: &Workflow, sims: &Simulators) -> Result<u64> {
    let zivver_writes = || {
        let counts = sims.zivver_state()["counts"].clone();
        ["creates", "puts", "patches", "deletes_attempted"].iter().map(|c| counts[c].as_u64().unwrap_or(0)).sum::<u64>()
    };
    show(&workflow.run("test_connection", json!({})))?;
    println!(
        "  -- the plan (dry run), then the first sync (taking over Zivver's accounts: every user written once) --"
    );
    show(&workflow.run("sync_directory", json!({"dry_run": true, "rewrite_all": true})))?;
    show(&workflow.run("sync_directory", json!({"rewrite_all": true})))?;
    let users = sims.graph_state()["directory"]["users"].as_array().cloned().unwrap_or_default();
    let people: Vec<&Value> = users.iter().filter(|u| u["purpose"] == "user" && u["accountEnabled"] == true).collect();
    if let [renamed, leaver, ..] = people.as_slice() {
        sims.directory_change(json!({"op": "rename", "id": renamed["id"], "display_name": "Renamed In Exchange"}))?;
        sims.directory_change(json!({"op": "disable", "id": leaver["id"]}))?;
        println!(
            "  -- in Exchange: {} renamed, {} disabled --",
            renamed["mail"].as_str().unwrap_or("?"),
            leaver["mail"].as_str().unwrap_or("?")
        );
    }
    show(&workflow.run("sync_directory", json!({})))?;
    println!("  -- nothing changed --");
    let before = zivver_writes();
    show(&workflow.run("sync_directory", json!({})))?;
    Ok(zivver_writes() - before)
}

/// Prints one step's line; its output, or its error.
fn show(step: &Step) -> Result<Value> {
    println!(
        "  {:<16} {:<6} {:>7.2} s  {}",
        step.action,
        if step.ok { "ok" } else { "ERROR" },
        step.elapsed.as_secs_f64(),
        describe(step)
    );
    if step.ok { Ok(step.output().clone()) } else { bail!("{} failed: {}", step.action, step.error()) }
}

/// Escalates a new ticket for the company of the first open one: created once (a retry finds it),
/// assigned to `team`, commented, read back with its notes, and closed.
fn ticket_actions(workflow: &Workflow, team: &str) -> Result<()> {
    let run = |action: &str, input: Value| -> Result<Value> {
        let step = workflow.run(action, input);
        println!(
            "  {:<16} {:<6} {:>7.2} s  {}",
            step.action,
            if step.ok { "ok" } else { "ERROR" },
            step.elapsed.as_secs_f64(),
            describe(&step)
        );
        if !step.ok {
            bail!("{action} failed: {}", step.error());
        }
        Ok(step.output().clone())
    };
    let open = run("search_tickets", json!({"open": true, "max_results": 3}))?;
    let company = open["tickets"][0]["company_id"].clone();
    let escalation = json!({"ticket": {"summary": "Escalation: repeated ransomware alerts", "company": company,
                                       "details": "Three alerts in an hour: please call the customer."},
                            "external_key": "demo:escalation-1"});
    let created = run("create_ticket", escalation.clone())?;
    let again = run("create_ticket", escalation)?;
    let id = created["ticket"]["id"].clone();
    if again["created"] != json!(false) || again["ticket"]["id"] != id {
        bail!("create_ticket made a second ticket for the same external key");
    }
    run("assign_ticket", json!({"ticket_id": id, "team": team}))?;
    run("add_comment", json!({"ticket_id": id, "comment": "Called the customer: the host is isolated."}))?;
    run("get_ticket", json!({"ticket_id": id, "include_notes": true}))?;
    run("close_ticket", json!({"ticket_id": id, "resolution": "Host rebuilt from a clean image."}))?;
    Ok(())
}

struct RunSummary {
    writes: u64,
    next_since: Option<Value>,
    created: u64,
    companies_updated: u64,
}

/// The destination a chain writes to, and how to read its simulator's state.
struct Target {
    name: &'static str,
    state: fn(&Simulators) -> Value,
}

fn run_chain(workflow: &Workflow, sims: &Simulators, target: &Target, since: Option<&Value>) -> Result<RunSummary> {
    let requests_before = (requests_served(&sims.armor_state()), requests_served(&(target.state)(sims)));
    let writes_before = writes(&(target.state)(sims));
    let steps = workflow.chain_since(since);
    for step in &steps {
        println!(
            "  {:<16} {:<6} {:>7.2} s  {}",
            step.action,
            if step.ok { "ok" } else { "ERROR" },
            step.elapsed.as_secs_f64(),
            describe(step)
        );
        if !step.ok {
            bail!("{} failed: {}", step.action, step.error());
        }
    }
    let armor = requests_served(&sims.armor_state()) - requests_before.0;
    let state = (target.state)(sims);
    let served = requests_served(&state) - requests_before.1;
    let writes = writes(&state) - writes_before;
    println!("  requests: {armor} to ARMOR, {served} to {} ({writes} writes)", target.name);
    let output = |action: &str| {
        steps.iter().rev().find(|s| s.action == action).map(Step::output).cloned().unwrap_or(Value::Null)
    };
    Ok(RunSummary {
        writes,
        next_since: next_since(&steps),
        created: output("post_tickets")["counts"]["created"].as_u64().unwrap_or(0),
        companies_updated: output("match_companies")["counts"]["updated"].as_u64().unwrap_or(0),
    })
}

/// One line about what a step did.
fn describe(step: &Step) -> String {
    let o = step.output();
    match step.action.as_str() {
        "test_connection" => {
            let services: Vec<String> = o["services"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| s["service"].as_str().unwrap_or("?").to_string())
                .collect();
            format!("authenticated to {}", services.join(" and "))
        }
        "get_accounts" => format!("{} accounts with addresses", o["count"]),
        "match_companies" => {
            let mut by_method: BTreeMap<String, usize> = BTreeMap::new();
            for m in o["matched"].as_array().into_iter().flatten() {
                *by_method.entry(m["method"].as_str().unwrap_or("?").to_string()).or_default() += 1;
            }
            let methods: Vec<String> = by_method.iter().map(|(m, n)| format!("{m} {n}")).collect();
            let c = &o["counts"];
            format!(
                "{} matched ({}), {} ambiguous, {} unmatched; {} companies updated, {} unchanged",
                c["matched"],
                methods.join(", "),
                c["ambiguous"],
                c["unmatched"],
                c["updated"],
                c["unchanged"]
            )
        }
        "get_tickets" => {
            let comments: usize = o["tickets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| t["comments"].as_array().map_or(0, Vec::len))
                .sum();
            format!(
                "{} tickets with {comments} comments{}",
                o["count"],
                if o["next_cursor"].is_string() { " (more to come)" } else { "" }
            )
        }
        "post_tickets" => {
            let c = &o["counts"];
            format!(
                "{} created, {} updated, {} unchanged, {} skipped (no company), {} failed; {} notes added",
                c["created"], c["updated"], c["unchanged"], c["skipped"], c["failed"], c["notes_added"]
            )
        }
        "sync_back" => {
            let c = &o["counts"];
            format!(
                "{} tickets updated since: {} cases updated ({} statuses, {} comments), {} in step, {} deferred, {} failed",
                c["tickets"],
                c["updated"],
                c["statuses_set"],
                c["comments_added"],
                c["unchanged"],
                c["deferred"],
                c["failed"]
            )
        }
        "search_tickets" => {
            format!("{} tickets{}", o["count"], if o["more"] == true { " (more match)" } else { "" })
        }
        "create_ticket" => format!(
            "ticket #{} {}",
            o["ticket"]["id"].as_str().unwrap_or("?"),
            if o["created"] == true { "created" } else { "already there (same external key): nothing created" }
        ),
        "update_ticket" | "assign_ticket" | "close_ticket" => {
            let t = &o["ticket"];
            let team = t["team"].as_str().map(|team| format!(", team {team}")).unwrap_or_default();
            format!("ticket #{}: status {}{team}", t["id"].as_str().unwrap_or("?"), t["status"].as_str().unwrap_or("?"))
        }
        "add_comment" => format!(
            "{} note #{} on ticket #{}",
            if o["note"]["public"] == true { "public" } else { "internal" },
            o["note"]["id"].as_str().unwrap_or("?"),
            o["note"]["ticket_id"].as_str().unwrap_or("?")
        ),
        "sync_directory" => {
            let c = &o["counts"];
            format!(
                "{}{} mailboxes, {} accounts: {} created, {} updated, {} deactivated, {} emptied, {} unchanged, {} failed",
                if o["dry_run"] == true { "plan: " } else { "" },
                c["mailboxes"],
                c["accounts"],
                c["created"],
                c["updated"],
                c["deactivated"],
                c["emptied"],
                c["unchanged"],
                c["failed"]
            )
        }
        "get_ticket" => format!(
            "ticket #{} \"{}\" ({}), notes: {}",
            o["ticket"]["id"].as_str().unwrap_or("?"),
            o["ticket"]["summary"].as_str().unwrap_or(""),
            o["ticket"]["company_name"].as_str().unwrap_or("?"),
            o["notes"].as_array().map_or(0, Vec::len)
        ),
        _ => String::new(),
    }
}

/// A destination's writes so far (POST, PATCH and PUT requests; token requests are no writes).
fn writes(state: &Value) -> u64 {
    state["requests"]
        .as_object()
        .map(|r| {
            r.iter()
                .filter(|(route, _)| ["POST ", "PATCH ", "PUT "].iter().any(|m| route.starts_with(m)))
                .filter(|(route, _)| !route.contains("/auth") && !route.contains("access_token"))
                .filter_map(|(_, n)| n.as_u64())
                .sum()
        })
        .unwrap_or(0)
}

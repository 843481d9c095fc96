//! `psa-bridge-host task` and `trigger` as the platform's scheduler runs them, the built binary
//! against the simulators on 127.0.0.1: events one per line, none twice, a change reported once,
//! a dispatcher that fails and recovers, and SIGKILLs at any moment losing and repeating nothing
//! (but the one event in flight).

mod common;

use psa_bridge_sim::{SimConfig, Simulators};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

const TRIGGER: &str = "new_or_changed_tickets";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("psa-bridge-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn host() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_psa-bridge-host"));
    command.args(["--component", common::component_path().to_str().unwrap(), "--allow-loopback", "--timeout-s", "120"]);
    command
}

fn trigger_message(dir: &Path, input: Value, connection: Value, dispatcher: Option<&str>) -> PathBuf {
    let mut body = json!({"trigger": TRIGGER, "meta": {}, "input": input, "connection": connection});
    if let Some(url) = dispatcher {
        body["dispatcher"] = json!({"url": url});
    }
    let path = dir.join("trigger_start.json");
    std::fs::write(&path, json!({"version": "v1", "type": "trigger_start", "body": body}).to_string()).unwrap();
    path
}

/// Runs to the end (bounded by --polls / --runs); stdout lines as JSON, and stderr.
fn run_to_end(command: &mut Command) -> (Vec<Value>, String, bool) {
    let output = command.stdout(Stdio::piped()).stderr(Stdio::piped()).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON document per line ({e}): {l}")))
        .collect();
    (lines, String::from_utf8_lossy(&output.stderr).into_owned(), output.status.success())
}

fn event_ids(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| e["body"]["output"]["event_id"].as_str().unwrap().to_string()).collect()
}

fn assert_trigger_events(events: &[Value]) {
    for event in events {
        assert_eq!(event["version"], "v1");
        assert_eq!(event["type"], "trigger_event");
        assert_eq!(event["body"]["trigger"], TRIGGER);
        assert_eq!(event["body"]["meta"], json!({}));
        let output = &event["body"]["output"];
        assert!(["new", "changed"].contains(&output["change"].as_str().unwrap()), "{output}");
        assert!(output["ticket"]["key"].is_string() && output["event_id"].is_string(), "{output}");
    }
}

fn secrets(sims: &Simulators) -> Vec<String> {
    let c = &sims.dataset().credentials;
    let mut all = vec![
        c.armor.password.clone(),
        c.armor.secret_key.clone(),
        c.connectwise.private_key.clone(),
        c.connectwise.public_key.clone(),
    ];
    all.push(sims.dataset().stellar.credentials.api_key.clone());
    all
}

fn assert_no_secrets(sims: &Simulators, texts: &[&str]) {
    for text in texts {
        for secret in secrets(sims) {
            assert!(!text.contains(&secret), "a credential appears in the output, the log or the state file");
        }
    }
}

fn stellar() -> (Simulators, Value) {
    let mut config = SimConfig::generated(6, 6, 0, 11);
    config.stellar.cases = Some(12);
    let sims = Simulators::start(config).unwrap();
    let connection = json!({"stellar_cyber": sims.stellar_connection()});
    (sims, connection)
}

fn case_ids(sims: &Simulators) -> Vec<String> {
    sims.stellar_state()["cases"].as_array().unwrap().iter().map(|c| c["_id"].as_str().unwrap().to_string()).collect()
}

/// Case reads the Stellar simulator answered (one or more per poll).
fn case_reads(sims: &Simulators) -> u64 {
    sims.stellar_state()["requests"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(route, _)| route.starts_with("GET") && route.ends_with("/cases"))
        .filter_map(|(_, n)| n.as_u64())
        .sum()
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running host; SIGKILLed when dropped.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(command: &mut Command) -> Running {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Running { child, lines }
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(started.elapsed() < Duration::from_secs(30), "SIGTERM did not stop the host");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn trigger_events_are_printed_one_per_line_and_a_second_poll_reports_none() {
    let sims = Simulators::start(SimConfig::small()).unwrap();
    let dir = temp_dir("trigger-armor");
    // Thirty years back: every ARMOR ticket is a change to report on the first poll.
    let message = trigger_message(&dir, json!({"look_back_minutes": 30 * 365 * 24 * 60}), sims.connection(), None);
    let state = dir.join("state.json");
    let (events, stderr, ok) =
        run_to_end(host().args(["trigger", "--file"]).arg(&message).arg("--state-file").arg(&state).args([
            "--polls",
            "2",
            "--interval-s",
            "0.2",
        ]));
    assert!(ok, "{stderr}");
    assert_trigger_events(&events);
    let tickets: BTreeSet<String> = sims.armor_state()["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["issueKeyId"].as_str().unwrap().to_string())
        .collect();
    let reported: BTreeSet<String> =
        events.iter().map(|e| e["body"]["output"]["ticket"]["key"].as_str().unwrap().to_string()).collect();
    assert_eq!(reported, tickets, "every ticket once on the first poll");
    assert_eq!(events.len(), tickets.len(), "the second poll reported none again");
    let ids: BTreeSet<String> = event_ids(&events).into_iter().collect();
    assert_eq!(ids.len(), events.len(), "event ids are distinct");

    let file: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(file["outbox"], json!([]), "everything delivered");
    assert_eq!(file["state"]["source"], "armor");
    assert!(file["state"]["since"].is_string() && file["state"]["cursor"].is_null());
    let stdout = events.iter().map(Value::to_string).collect::<Vec<_>>().join("\n");
    assert_no_secrets(&sims, &[&stdout, &stderr, &std::fs::read_to_string(&state).unwrap()]);

    // Run again with the state file: still nothing new.
    let (again, stderr, ok) = run_to_end(
        host().args(["trigger", "--file"]).arg(&message).arg("--state-file").arg(&state).args(["--polls", "1"]),
    );
    assert!(ok && again.is_empty(), "{stderr} {again:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_change_at_the_source_is_reported_exactly_once() {
    let (sims, connection) = stellar();
    let dir = temp_dir("trigger-once");
    let message = trigger_message(&dir, json!({}), connection, None);
    let state = dir.join("state.json");
    let mut running = Running::start(
        host().args(["trigger", "--file"]).arg(&message).arg("--state-file").arg(&state).args(["--interval-s", "0.2"]),
    );
    wait_until("the first poll", Duration::from_secs(60), || state.exists());
    let changed = case_ids(&sims)[0].clone();
    sims.stellar_analyst(&changed, json!({"status": "Escalated"})).unwrap();
    let tenant = sims.stellar_state()["tenants"][0]["cust_id"].as_str().unwrap().to_string();
    let added = sims.stellar_add_case(json!({"cust_id": tenant, "name": "Beaconing to a new domain"})).unwrap();
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while events.len() < 2 && Instant::now() < deadline {
        if let Ok(line) = running.lines.recv_timeout(Duration::from_millis(100)) {
            events.push(serde_json::from_str::<Value>(&line).unwrap());
        }
    }
    // Several more polls: the overlap reads both again, and neither comes back.
    let reads = case_reads(&sims);
    wait_until("three more polls", Duration::from_secs(60), || case_reads(&sims) >= reads + 3);
    assert!(running.terminate(), "SIGTERM stops the host cleanly");
    // Whatever it printed after the first two is still in the channel.
    std::thread::sleep(Duration::from_millis(100));
    events.extend(running.lines.try_iter().map(|l| serde_json::from_str::<Value>(&l).unwrap()));
    assert_trigger_events(&events);
    let summary: BTreeMap<String, String> = events
        .iter()
        .map(|e| {
            let output = &e["body"]["output"];
            (output["ticket"]["key"].as_str().unwrap().to_string(), output["change"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(summary, BTreeMap::from([(changed, "changed".to_string()), (added, "new".to_string())]));
    assert_eq!(events.len(), 2, "{events:#?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A dispatcher on 127.0.0.1: answers `fail_first` POSTs 503, then 200 after `delay`; keeps every
/// body it accepted (or received, when the sender was gone before the answer), and tells `seen`
/// of each request as it arrives.
struct Dispatcher {
    url: String,
    accepted: Arc<Mutex<Vec<Value>>>,
    refused: Arc<Mutex<usize>>,
    arrivals: mpsc::Receiver<()>,
}

fn dispatcher(fail_first: usize, delay: Duration) -> Dispatcher {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(Mutex::new(0));
    let (tx, arrivals) = mpsc::channel();
    let (keep, count) = (accepted.clone(), refused.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let _ = tx.send(());
            let refuse = {
                let mut refused = count.lock().unwrap();
                *refused += 1;
                *refused <= fail_first
            };
            let status = if refuse {
                "503 Service Unavailable"
            } else {
                // Received: from here on it counts as delivered, whether or not the answer arrives.
                keep.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
                std::thread::sleep(delay);
                "200 OK"
            };
            let _ = write!(stream, "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    Dispatcher { url, accepted, refused, arrivals }
}

#[test]
fn a_dispatcher_that_fails_then_recovers_gets_every_event_once() {
    let sims = Simulators::start(SimConfig::small()).unwrap();
    let dir = temp_dir("trigger-dispatcher");
    let dispatcher = dispatcher(3, Duration::ZERO);
    let message = trigger_message(
        &dir,
        json!({"look_back_minutes": 30 * 365 * 24 * 60}),
        sims.connection(),
        Some(&dispatcher.url),
    );
    let state = dir.join("state.json");
    let (printed, stderr, ok) = run_to_end(
        host().args(["trigger", "--file"]).arg(&message).arg("--state-file").arg(&state).args(["--polls", "1"]),
    );
    assert!(ok, "{stderr}");
    assert!(printed.is_empty(), "events go to the dispatcher, not stdout");
    assert!(stderr.contains("the dispatcher answered 503; retrying"), "{stderr}");
    let accepted = dispatcher.accepted.lock().unwrap().clone();
    assert_trigger_events(&accepted);
    let tickets = sims.armor_state()["tickets"].as_array().unwrap().len();
    assert_eq!(accepted.len(), tickets);
    assert_eq!(event_ids(&accepted).into_iter().collect::<BTreeSet<_>>().len(), tickets, "each once");
    assert_eq!(*dispatcher.refused.lock().unwrap(), tickets + 3);
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(file["outbox"], json!([]));
    drop(dispatcher.arrivals);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The moment of a kill, and what it may repeat.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Moment {
    /// Right after the changes: before, during or after a poll's read.
    AfterChanges,
    /// While the dispatcher holds an event it has not answered.
    Delivering,
    /// With nothing left to deliver: between polls.
    Idle,
}

#[test]
fn sigkill_at_any_moment_loses_nothing_and_repeats_only_the_event_in_flight() {
    let (sims, connection) = stellar();
    let dir = temp_dir("trigger-sigkill");
    // Slow answers, so kills land while events are being delivered.
    let dispatcher = dispatcher(0, Duration::from_millis(60));
    let message = trigger_message(&dir, json!({"include_comments": true}), connection, Some(&dispatcher.url));
    let state = dir.join("state.json");
    let start = || {
        Running::start(
            host()
                .args(["trigger", "--file"])
                .arg(&message)
                .arg("--state-file")
                .arg(&state)
                .args(["--interval-s", "0.2"]),
        )
    };
    let mut running = start();
    wait_until("the first poll", Duration::from_secs(60), || state.exists());
    let cases = case_ids(&sims);
    let tenant = sims.stellar_state()["tenants"][0]["cust_id"].as_str().unwrap().to_string();
    // Every change is a comment with a unique text: each must reach the dispatcher in some event.
    let mut expected: Vec<(String, String)> = Vec::new();
    let moments = [
        Moment::AfterChanges,
        Moment::Delivering,
        Moment::Idle,
        Moment::Delivering,
        Moment::AfterChanges,
        Moment::Idle,
        Moment::Delivering,
    ];
    let mut kills: BTreeMap<String, usize> = BTreeMap::new();
    let mut repeats_after_idle_kills = 0;
    let repeats = |accepted: &[Value]| {
        let ids = event_ids(accepted);
        ids.len() - ids.iter().collect::<BTreeSet<_>>().len()
    };
    for (round, moment) in moments.iter().enumerate() {
        while dispatcher.arrivals.try_recv().is_ok() {}
        for n in 0..4 {
            let case = &cases[(round * 4 + n) % cases.len()];
            let text = format!("round {round} change {n}");
            sims.stellar_analyst(case, json!({"comment": text})).unwrap();
            expected.push((case.clone(), text));
        }
        if round % 2 == 1 {
            let added = sims.stellar_add_case(json!({"cust_id": tenant, "name": format!("New case {round}")})).unwrap();
            expected.push((added, String::new()));
        }
        match moment {
            Moment::AfterChanges => std::thread::sleep(Duration::from_millis(30 + 40 * round as u64)),
            Moment::Delivering => {
                dispatcher.arrivals.recv_timeout(Duration::from_secs(60)).expect("a delivery starts");
                std::thread::sleep(Duration::from_millis(10));
            }
            Moment::Idle => {
                wait_until("every change delivered", Duration::from_secs(60), || {
                    delivered_all(&dispatcher.accepted.lock().unwrap(), &expected)
                });
                let reads = case_reads(&sims);
                wait_until("two quiet polls", Duration::from_secs(60), || case_reads(&sims) >= reads + 2);
            }
        }
        let before = repeats(&dispatcher.accepted.lock().unwrap());
        running.kill();
        *kills.entry(format!("{moment:?}")).or_default() += 1;
        running = start();
        if *moment == Moment::Idle {
            // The restarted host polls twice and delivers nothing again.
            let reads = case_reads(&sims);
            wait_until("two polls after the restart", Duration::from_secs(60), || case_reads(&sims) >= reads + 2);
            repeats_after_idle_kills += repeats(&dispatcher.accepted.lock().unwrap()) - before;
        }
    }
    wait_until("every change delivered after the last restart", Duration::from_secs(90), || {
        delivered_all(&dispatcher.accepted.lock().unwrap(), &expected)
    });
    let reads = case_reads(&sims);
    wait_until("two quiet polls", Duration::from_secs(60), || case_reads(&sims) >= reads + 2);
    assert!(running.terminate());

    let accepted = dispatcher.accepted.lock().unwrap().clone();
    assert_trigger_events(&accepted);
    let repeated = repeats(&accepted);
    let in_flight_kills =
        kills.get("Delivering").copied().unwrap_or(0) + kills.get("AfterChanges").copied().unwrap_or(0);
    eprintln!(
        "sigkill: {} kills {kills:?}, {} changes, {} events delivered, {repeated} repeated (at most one per kill while delivering)",
        moments.len(),
        expected.len(),
        accepted.len()
    );
    assert!(
        repeated <= in_flight_kills,
        "{repeated} events repeated with only {in_flight_kills} kills that could have one in flight"
    );
    assert_eq!(repeats_after_idle_kills, 0, "a kill between polls repeats nothing");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(file["outbox"], json!([]));
    assert_no_secrets(&sims, &[&std::fs::read_to_string(&state).unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Whether every expected change (case, comment text; "" for a new case) reached the dispatcher.
fn delivered_all(accepted: &[Value], expected: &[(String, String)]) -> bool {
    expected.iter().all(|(case, text)| {
        accepted.iter().any(|event| {
            let ticket = &event["body"]["output"]["ticket"];
            ticket["key"] == case.as_str()
                && (text.is_empty()
                    || ticket["comments"].as_array().is_some_and(|c| {
                        c.iter().any(|c| c["body"].as_str().is_some_and(|b| b.contains(text.as_str())))
                    }))
        })
    })
}

fn task_message(dir: &Path, input: Value, connection: Value, state: Value) -> PathBuf {
    let path = dir.join("task_start.json");
    let body =
        json!({"task": "sync_pair", "meta": {"run": 1}, "input": input, "connection": connection, "state": state});
    std::fs::write(&path, json!({"version": "v1", "type": "task_start", "body": body}).to_string()).unwrap();
    path
}

#[test]
fn a_failed_task_run_keeps_the_state_file() {
    let sims = Simulators::start(SimConfig::small()).unwrap();
    let dir = temp_dir("task-failed");
    let mut connection = sims.connection();
    // Nothing listens here: every run fails.
    connection["armor"]["base_url"] = json!("http://127.0.0.1:9");
    connection["tuning"] = json!({"max_attempts": 1, "time_budget_seconds": 20});
    let message = task_message(&dir, json!({}), connection, json!({}));
    let state = dir.join("state.json");
    let kept = json!({"version": 1, "source": "armor", "destination": "connectwise", "since": "2024-05-01T00:00:00Z"});
    std::fs::write(&state, kept.to_string()).unwrap();
    let before = std::fs::read(&state).unwrap();
    let (events, stderr, ok) =
        run_to_end(host().args(["task", "--file"]).arg(&message).arg("--state-file").arg(&state).args([
            "--runs",
            "2",
            "--interval-s",
            "0.1",
        ]));
    assert!(!ok, "the last run failed: exit 1");
    assert_eq!(events.len(), 2, "{stderr}");
    for event in &events {
        assert_eq!(event["type"], "task_event");
        let body = &event["body"];
        assert_eq!((body["task"].as_str(), body["status"].as_str()), (Some("sync_pair"), Some("error")));
        assert!([400, 500].contains(&body["status_code"].as_u64().unwrap()), "{body}");
        assert_eq!(body["state"], kept, "the event carries the state kept");
        assert_eq!(body["has_more_pages"], false);
        assert_eq!(body["meta"], json!({"run": 1}));
        assert!(body["error"]["cause"].is_string());
    }
    assert_eq!(std::fs::read(&state).unwrap(), before, "the state file is untouched");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every ARMOR ticket key on the ConnectWise board, with how many tickets carry it.
fn posted_keys(sims: &Simulators) -> BTreeMap<String, usize> {
    let mut keys = BTreeMap::new();
    for ticket in sims.connectwise_state()["tickets"].as_array().unwrap() {
        // The simulator's own tickets (INC-…) carry other references.
        if let Some(key) = ticket["externalXRef"].as_str().and_then(|k| k.strip_prefix("armor:")) {
            *keys.entry(key.to_string()).or_default() += 1;
        }
    }
    keys
}

#[test]
fn sigkill_during_sync_pair_runs_posts_every_ticket_exactly_once() {
    let mut config = SimConfig::small();
    // Slower answers, so the kills land while a run is writing.
    config.faults.latency_ms = 15;
    let sims = Simulators::start(config).unwrap();
    let dir = temp_dir("task-sigkill");
    // Tickets of accounts without a company go to one company: every ticket has a place.
    let catch_all = sims.connectwise_state()["companies"][0]["id"].to_string();
    let input = json!({"post": {"catch_all_company": catch_all}});
    let message = task_message(&dir, input, sims.connection(), json!({}));
    let state = dir.join("state.json");
    let start = || {
        Running::start(
            host().args(["task", "--file"]).arg(&message).arg("--state-file").arg(&state).args(["--interval-s", "0.3"]),
        )
    };
    let tickets: BTreeSet<String> = sims.armor_state()["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["issueKeyId"].as_str().unwrap().to_string())
        .collect();
    // Kill while the first runs are writing: after 0.4 s, 0.9 s, 1.5 s, 2.2 s of each life.
    let mut kills = 0;
    for wait_ms in [400u64, 900, 1_500, 2_200] {
        let running = start();
        std::thread::sleep(Duration::from_millis(wait_ms));
        running.kill();
        kills += 1;
    }
    let mut running = start();
    wait_until("every ticket posted", Duration::from_secs(180), || {
        let posted = posted_keys(&sims);
        tickets.iter().all(|k| posted.contains_key(k))
    });
    // One more run after it is all there: it writes nothing new.
    let lines_before = running.lines.try_iter().count();
    let _ = running.lines.recv_timeout(Duration::from_secs(60));
    assert!(running.terminate());
    let posted = posted_keys(&sims);
    let twice: Vec<_> = posted.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!(
        "sync_pair sigkill: {kills} kills, {} tickets, {} on the board, {} twice, {lines_before} events after",
        tickets.len(),
        posted.len(),
        twice.len()
    );
    assert!(twice.is_empty(), "tickets posted twice: {twice:?}");
    assert_eq!(posted.keys().cloned().collect::<BTreeSet<_>>(), tickets);
    let saved = std::fs::read_to_string(&state).unwrap();
    assert_no_secrets(&sims, &[&saved]);
    std::fs::remove_dir_all(&dir).unwrap();
}

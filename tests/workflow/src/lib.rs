//! Runs the actions the way a workflow does — each action_start goes through the harness, and
//! each output becomes the next input — against simulators or real services. Shared by the
//! demo, the benchmark and the end-to-end tests.

use psa_bridge_host::plugin::{CallOptions, Plugin};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// get_tickets is called again with its cursor at most this often in one chain.
const MAX_TICKET_CALLS: usize = 50;

/// The release component: `PSA_BRIDGE_COMPONENT`, else where `make component` puts it.
pub fn component_path() -> PathBuf {
    if let Ok(path) = std::env::var("PSA_BRIDGE_COMPONENT") {
        return PathBuf::from(path);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("wasm32-wasip2/component/psa_bridge.wasm")
}

/// One action run.
pub struct Step {
    pub action: String,
    pub event: Value,
    pub ok: bool,
    pub elapsed: Duration,
}

impl Step {
    pub fn output(&self) -> &Value {
        &self.event["body"]["output"]
    }

    pub fn error(&self) -> &Value {
        &self.event["body"]["error"]
    }

    pub fn log(&self) -> &str {
        self.event["body"]["log"].as_str().unwrap_or_default()
    }
}

pub struct Workflow<'a> {
    pub plugin: &'a Plugin,
    pub connection: Value,
    pub options: CallOptions,
    runtime: tokio::runtime::Runtime,
}

impl<'a> Workflow<'a> {
    pub fn new(plugin: &'a Plugin, connection: Value, options: CallOptions) -> Workflow<'a> {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
        Workflow { plugin, connection, options, runtime }
    }

    /// One action_start message through the harness.
    pub fn run(&self, action: &str, input: Value) -> Step {
        let message = json!({"version": "v1", "type": "action_start",
            "body": {"action": action, "meta": {}, "input": input, "connection": self.connection}});
        let started = Instant::now();
        let (event, ok) = self.runtime.block_on(psa_bridge_host::run_message(
            self.plugin,
            &message.to_string(),
            false,
            &self.options,
        ));
        Step { action: action.to_string(), event, ok, elapsed: started.elapsed() }
    }

    /// test_connection, get_accounts, match_companies, get_tickets and post_tickets (each following
    /// its cursor): each output chained into the next input. Stops at the first failed step.
    pub fn chain(&self) -> Vec<Step> {
        self.chain_since(None)
    }

    /// The chain as a scheduled sync runs it: get_tickets with `since` = the `next_since` of the
    /// previous run (see [`next_since`]), so only changed tickets are read in detail and posted.
    pub fn chain_since(&self, since: Option<&Value>) -> Vec<Step> {
        let mut steps = vec![self.run("test_connection", json!({}))];
        if !steps[0].ok {
            return steps;
        }
        steps.push(self.run("get_accounts", json!({"include_addresses": true})));
        let Some(accounts) = last_ok(&steps).map(|o| o["accounts"].clone()) else { return steps };
        steps.push(self.run("match_companies", json!({"accounts": accounts})));
        if last_ok(&steps).is_none() {
            return steps;
        }
        let account_ids: Vec<Value> =
            accounts.as_array().map(|a| a.iter().map(|a| a["id"].clone()).collect()).unwrap_or_default();
        let mut input = json!({"account_ids": account_ids});
        if let Some(since) = since {
            input["since"] = since.clone();
        }
        let Some((tickets, _)) = self.read_all(&mut steps, input) else { return steps };
        self.post_all(&mut steps, json!({"tickets": tickets}));
        steps
    }

    /// get_tickets with `input`, again with each next_cursor until the read is complete: every
    /// ticket and the last call's next_since; `None` when a call failed (it is the last step).
    pub fn read_all(&self, steps: &mut Vec<Step>, input: Value) -> Option<(Vec<Value>, Option<Value>)> {
        let mut tickets: Vec<Value> = Vec::new();
        let mut cursor: Option<Value> = None;
        for _ in 0..MAX_TICKET_CALLS {
            let mut input = input.clone();
            if let Some(c) = &cursor {
                input["cursor"] = c.clone();
            }
            steps.push(self.run("get_tickets", input));
            let output = last_ok(steps)?;
            tickets.extend(output["tickets"].as_array().cloned().unwrap_or_default());
            cursor = output.get("next_cursor").cloned().filter(|c| !c.is_null());
            if cursor.is_none() {
                return Some((tickets, output.get("next_since").cloned().filter(|c| !c.is_null())));
            }
        }
        Some((tickets, None))
    }

    /// post_tickets with `input`, again with each next_cursor (a run longer than the time
    /// budget); `false` when a call failed.
    pub fn post_all(&self, steps: &mut Vec<Step>, input: Value) -> bool {
        let mut cursor: Option<Value> = None;
        for _ in 0..MAX_TICKET_CALLS {
            let mut input = input.clone();
            if let Some(c) = &cursor {
                input["cursor"] = c.clone();
            }
            steps.push(self.run("post_tickets", input));
            let Some(output) = last_ok(steps) else { return false };
            cursor = output.get("next_cursor").cloned().filter(|c| !c.is_null());
            if cursor.is_none() {
                return true;
            }
        }
        true
    }
}

/// What a two-way sync keeps between cycles: the `next_since` of get_tickets and of sync_back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TwoWay {
    pub since: Option<Value>,
    pub back_since: Option<Value>,
}

impl Workflow<'_> {
    /// One cycle of a two-way sync as a scheduled workflow runs it: get_tickets (from `state`,
    /// with `read`'s filters) -> post_tickets -> sync_back (with this cycle's checkpoint), each
    /// following its cursor; `options` (maps, board, destination) go to post_tickets and
    /// sync_back. `state` advances only when every step succeeded.
    pub fn two_way_cycle(&self, state: &mut TwoWay, read: &Value, options: &Value) -> Vec<Step> {
        let merged = |base: &Value, extra: &Value| {
            let mut merged = base.clone();
            for (k, v) in extra.as_object().into_iter().flatten() {
                merged[k] = v.clone();
            }
            merged
        };
        let mut steps = Vec::new();
        let mut input = read.clone();
        if let Some(since) = &state.since {
            input["since"] = since.clone();
        }
        let Some((tickets, checkpoint)) = self.read_all(&mut steps, input) else { return steps };
        if !self.post_all(&mut steps, merged(options, &json!({"tickets": tickets}))) {
            return steps;
        }
        let mut input = merged(options, &json!({"source": read.get("source").cloned().unwrap_or(Value::Null)}));
        if let Some(fields) = input.as_object_mut() {
            fields.retain(|k, v| !v.is_null() && !POST_ONLY.contains(&k.as_str()));
        }
        if let Some(since) = &state.back_since {
            input["since"] = since.clone();
        }
        if let Some(c) = &checkpoint {
            input["source_checkpoint"] = c.clone();
        }
        steps.push(self.run("sync_back", input));
        let Some(output) = last_ok(&steps) else { return steps };
        let back_since = output.get("next_since").cloned().filter(|c| !c.is_null());
        *state = TwoWay { since: checkpoint, back_since };
        steps
    }
}

/// post_tickets inputs that sync_back does not take.
const POST_ONLY: &[&str] = &[
    "tickets",
    "catch_all_company",
    "ticket_type",
    "team",
    "agent",
    "category",
    "impact",
    "urgency",
    "note_outcome",
    "post_comments",
    "cursor",
];

/// The `next_since` of a chain's last get_tickets call, for the next run's [`Workflow::chain_since`].
pub fn next_since(steps: &[Step]) -> Option<Value> {
    let last = steps.iter().rev().find(|s| s.action == "get_tickets" && s.ok)?;
    last.output().get("next_since").filter(|v| v.is_string()).cloned()
}

fn last_ok(steps: &[Step]) -> Option<&Value> {
    steps.last().filter(|s| s.ok).map(Step::output)
}

/// Requests each simulator answered so far (from `/_sim/state`).
pub fn requests_served(state: &Value) -> u64 {
    state["requests"].as_object().map(|r| r.values().filter_map(Value::as_u64).sum()).unwrap_or(0)
}

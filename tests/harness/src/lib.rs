//! psa-bridge-host: runs the psa-bridge component the way the automation platform does.
//! `plugin` loads and calls it, `convert` maps JSON to WIT values by the component's own types,
//! `message` speaks the platform's protocol, `outbound` decides which hosts it may reach.

pub mod convert;
pub mod message;
pub mod outbound;
pub mod plugin;
pub mod progress;
pub mod schedule;
pub mod server;
pub mod spec;
pub mod state_file;
pub mod stderr;

use message::ActionStart;
use outbound::OutboundPolicy;
use plugin::{CallOptions, Kind, Plugin};
use serde_json::Value;
use std::time::Duration;

/// Runs one action_start message (`test` forces test_connection) and answers the action_event.
/// Never fails: every problem becomes a status-error event. The bool says whether it is ok.
pub async fn run_message(plugin: &Plugin, text: &str, test: bool, options: &CallOptions) -> (Value, bool) {
    let (event, ok, _) = run_message_with_stats(plugin, text, test, options).await;
    (event, ok)
}

/// How a message ended, for answers that tell a client's mistake from the action's own error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// The action ran and answered an error.
    ActionError,
    /// Not an action_start, or an input of the wrong type: the client's mistake.
    Malformed,
    /// The connection names a host the operator does not allow (`--allow-host`); nothing was sent.
    Refused,
    /// The component stopped unexpectedly.
    Crashed,
}

/// What one call of the component cost (the benchmark reports these).
#[derive(Clone, Copy, Debug, Default)]
pub struct CallStats {
    /// The largest the instance's linear memory grew.
    pub peak_memory_bytes: usize,
    pub instantiate_time: Duration,
    pub call_time: Duration,
}

/// [`run_message`], plus the call's stats: `None` when the message never reached the component
/// (malformed) or the component stopped unexpectedly.
pub async fn run_message_with_stats(
    plugin: &Plugin,
    text: &str,
    test: bool,
    options: &CallOptions,
) -> (Value, bool, Option<CallStats>) {
    let (event, status, stats) = run_message_with_status(plugin, text, test, options).await;
    (event, status == Status::Ok, stats)
}

/// [`run_message_with_stats`] with how the message ended.
pub async fn run_message_with_status(
    plugin: &Plugin,
    text: &str,
    test: bool,
    options: &CallOptions,
) -> (Value, Status, Option<CallStats>) {
    let start = match message::parse_action_start(text) {
        Ok(start) => start,
        Err(problem) => {
            let error = message::error(
                format!("The message is malformed: {problem}."),
                "Send an action_start message as described in help.md (the harness's `sample` command prints one).",
                "",
            );
            return (message::event_error(error, "", &Value::Object(Default::default())), Status::Malformed, None);
        }
    };
    let ActionStart { action, meta, input, connection } = start;
    let (action, input) =
        if test { ("test_connection".to_string(), Value::Object(Default::default())) } else { (action, input) };
    let called = call(plugin, Kind::Action, &action, &connection, &input, &Value::Null, options).await;
    let event = match called.result {
        Ok(output) => message::event_ok(output, &called.log, &meta),
        Err(error) => message::event_error(error, &called.log, &meta),
    };
    (event, called.status, called.stats)
}

/// How one call of an export ended: its output or error (as JSON), the component's log, how it
/// ended, and its stats (`None` when it never reached the component or the component stopped).
pub struct Called {
    pub result: Result<Value, Value>,
    pub log: String,
    pub status: Status,
    pub stats: Option<CallStats>,
}

impl Called {
    fn failed(error: Value, status: Status) -> Called {
        Called { result: Err(error), log: String::new(), status, stats: None }
    }
}

/// Calls an action, task or trigger with the message's connection, input and state (null: none),
/// allowed to reach only the hosts the connection names (and the operator allows). Never fails:
/// every problem becomes an error with a status.
pub async fn call(
    plugin: &Plugin,
    kind: Kind,
    name: &str,
    connection: &Value,
    input: &Value,
    state: &Value,
    options: &CallOptions,
) -> Called {
    let params = match plugin.params_of(kind, name, connection, input, state) {
        Ok(params) => params,
        Err(problem) => {
            let error = message::error(
                format!("The message is malformed: {problem}."),
                "Correct the field named above; the spec (plugin.spec.yaml) lists every input and its type.",
                "",
            );
            return Called::failed(error, Status::Malformed);
        }
    };
    let policy = match plugin.allowed_origins(connection).await {
        Ok(Ok(origins)) => {
            if let Some(origin) = origins.iter().find(|o| !options.operator_allows(o)) {
                let error = message::error(
                    format!("The connection names {origin}, which this host may not call."),
                    "Name only the hosts the operator allows, or ask the operator to add this one (psa-bridge-host \
                     --allow-host).",
                    "",
                );
                return Called::failed(error, Status::Refused);
            }
            OutboundPolicy::from_origins(&origins, options.allow_loopback)
        }
        Ok(Err(error)) => return Called::failed(error, Status::Malformed),
        Err(failure) => {
            let error = message::error(
                "The plugin could not say which hosts the connection may call.",
                "Check the connection against help.md; if it looks right, report this with the data below.",
                format!("{failure:#}"),
            );
            return Called::failed(error, Status::Crashed);
        }
    };
    match plugin.call_kind(kind, name, params, policy, options).await {
        Ok(outcome) => {
            let stats = CallStats {
                peak_memory_bytes: outcome.peak_memory_bytes,
                instantiate_time: outcome.instantiate_time,
                call_time: outcome.call_time,
            };
            let status = if outcome.result.is_ok() { Status::Ok } else { Status::ActionError };
            Called { result: outcome.result, log: outcome.log, status, stats: Some(stats) }
        }
        Err(failure) => {
            let error = message::error(
                format!("The plugin stopped unexpectedly while running {name}."),
                "Run it again; if it happens again, report it with the data below.",
                format!("{failure:#}"),
            );
            Called::failed(error, Status::Crashed)
        }
    }
}

//! The platform's message protocol: `action_start` in, `action_event` out.

use serde_json::{Value, json};

pub struct ActionStart {
    pub action: String,
    pub meta: Value,
    pub input: Value,
    pub connection: Value,
}

/// Parses and checks an `action_start` document; the error names the offending field.
pub fn parse_action_start(text: &str) -> Result<ActionStart, String> {
    let message: Value = serde_json::from_str(text).map_err(|e| format!("the message is not valid JSON: {e}"))?;
    let Some(message) = message.as_object() else { return Err("the message must be a JSON object".into()) };
    match message.get("version").and_then(Value::as_str) {
        Some("v1") => {}
        Some(other) => return Err(format!("`version` must be \"v1\", not {other:?}")),
        None => return Err("`version` is missing (expected \"v1\")".into()),
    }
    match message.get("type").and_then(Value::as_str) {
        Some("action_start") => {}
        Some(other) => return Err(format!("`type` must be \"action_start\", not {other:?}")),
        None => return Err("`type` is missing (expected \"action_start\")".into()),
    }
    if let Some(key) = message.keys().find(|k| !["version", "type", "body"].contains(&k.as_str())) {
        return Err(format!("`{key}` is not a field of an action_start message"));
    }
    let body = message.get("body").and_then(Value::as_object).ok_or("`body` must be an object")?;
    if let Some(key) =
        body.keys().find(|k| !["action", "meta", "input", "connection", "trigger", "dispatcher"].contains(&k.as_str()))
    {
        return Err(format!("`body.{key}` is not a field of an action_start body"));
    }
    let action = body.get("action").and_then(Value::as_str).ok_or("`body.action` must be the action's name")?;
    let object = |key: &str| -> Result<Value, String> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(json!({})),
            Some(v @ Value::Object(_)) => Ok(v.clone()),
            Some(_) => Err(format!("`body.{key}` must be an object")),
        }
    };
    Ok(ActionStart {
        action: action.to_string(),
        meta: object("meta")?,
        input: object("input")?,
        connection: object("connection")?,
    })
}

pub fn event_ok(output: Value, log: &str, meta: &Value) -> Value {
    json!({"version": "v1", "type": "action_event", "body": {"log": log, "status": "ok", "meta": meta, "output": output}})
}

pub fn event_error(error: Value, log: &str, meta: &Value) -> Value {
    json!({"version": "v1", "type": "action_event", "body": {"log": log, "status": "error", "meta": meta, "error": error}})
}

/// An error raised by the harness itself, in the plugin-error shape.
pub fn error(cause: impl Into<String>, assistance: impl Into<String>, data: impl Into<String>) -> Value {
    json!({"cause": cause.into(), "assistance": assistance.into(), "data": data.into()})
}

/// A `task_start` or `trigger_start` message.
pub struct ScheduledStart {
    /// `body.task` or `body.trigger`.
    pub name: String,
    pub meta: Value,
    pub input: Value,
    pub connection: Value,
    /// A task's state (what the last run returned); null when absent or empty.
    pub state: Value,
    /// A trigger's `body.dispatcher.url`.
    pub dispatcher_url: Option<String>,
}

/// Parses and checks a `task_start` (`kind` "task") or `trigger_start` ("trigger") document.
pub fn parse_scheduled_start(text: &str, kind: &str) -> Result<ScheduledStart, String> {
    let message: Value = serde_json::from_str(text).map_err(|e| format!("the message is not valid JSON: {e}"))?;
    let Some(message) = message.as_object() else { return Err("the message must be a JSON object".into()) };
    let wanted = format!("{kind}_start");
    match message.get("version").and_then(Value::as_str) {
        Some("v1") => {}
        Some(other) => return Err(format!("`version` must be \"v1\", not {other:?}")),
        None => return Err("`version` is missing (expected \"v1\")".into()),
    }
    match message.get("type").and_then(Value::as_str) {
        Some(t) if t == wanted => {}
        Some(other) => return Err(format!("`type` must be {wanted:?}, not {other:?}")),
        None => return Err(format!("`type` is missing (expected {wanted:?})")),
    }
    if let Some(key) = message.keys().find(|k| !["version", "type", "body"].contains(&k.as_str())) {
        return Err(format!("`{key}` is not a field of a {wanted} message"));
    }
    let body = message.get("body").and_then(Value::as_object).ok_or("`body` must be an object")?;
    let known = ["meta", "input", "connection", "state", "dispatcher", kind];
    if let Some(key) = body.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("`body.{key}` is not a field of a {wanted} body"));
    }
    let name = body.get(kind).and_then(Value::as_str).ok_or(format!("`body.{kind}` must be the {kind}'s name"))?;
    let object = |key: &str| -> Result<Value, String> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(json!({})),
            Some(v @ Value::Object(_)) => Ok(v.clone()),
            Some(_) => Err(format!("`body.{key}` must be an object")),
        }
    };
    let state = match object("state")? {
        Value::Object(o) if o.is_empty() => Value::Null,
        state => state,
    };
    let dispatcher_url = match object("dispatcher")?.get("url") {
        None | Some(Value::Null) => None,
        Some(Value::String(url)) if !url.trim().is_empty() => Some(url.trim().to_string()),
        Some(_) => return Err("`body.dispatcher.url` must be a URL".into()),
    };
    Ok(ScheduledStart {
        name: name.to_string(),
        meta: object("meta")?,
        input: object("input")?,
        connection: object("connection")?,
        state,
        dispatcher_url,
    })
}

/// A `task_event`: the run's output, the state to keep, and whether to run again at once.
pub fn task_event(
    task: &str,
    meta: &Value,
    log: &str,
    result: &Result<Value, Value>,
    status_code: u16,
    state: &Value,
    has_more_pages: bool,
) -> Value {
    let mut body = json!({
        "task": task, "meta": meta, "log": log,
        "status": if result.is_ok() { "ok" } else { "error" }, "status_code": status_code,
        "output": result.as_ref().ok().cloned().unwrap_or(Value::Null), "state": state,
        "has_more_pages": has_more_pages,
    });
    if let Err(error) = result {
        body["error"] = error.clone();
    }
    json!({"version": "v1", "type": "task_event", "body": body})
}

/// A `trigger_event`: one event, each starting a workflow.
pub fn trigger_event(trigger: &str, output: Value, meta: &Value) -> Value {
    json!({"version": "v1", "type": "trigger_event", "body": {"trigger": trigger, "output": output, "meta": meta}})
}

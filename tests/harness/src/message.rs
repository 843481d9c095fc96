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

//! The platform's messages as the server speaks them: `action_start` in, `action_event` out, and
//! the `trigger_event`s a webhook delivery becomes. The shapes are the harness's
//! (`tests/harness/src/message.rs`), so either server answers the same JSON.

use crate::types::PluginError;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// An `action_start` message, checked: `action` is what the body named (if it named one).
#[derive(Debug)]
pub struct ActionStart {
    pub action: Option<String>,
    pub meta: Value,
    pub input: Value,
    pub connection: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    version: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    body: Option<Body>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    action: Option<Value>,
    meta: Option<Value>,
    input: Option<Value>,
    connection: Option<Value>,
    // Accepted and ignored, as the harness does (a trigger_start shares the envelope).
    #[allow(dead_code)]
    trigger: Option<Value>,
    #[allow(dead_code)]
    dispatcher: Option<Value>,
}

/// Parses and checks an `action_start` document; the error names the offending field.
pub fn parse_action_start(text: &[u8]) -> Result<ActionStart, String> {
    let message: Message = serde_json::from_slice(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => format!("{e}"),
        _ => format!("it is not JSON ({e})"),
    })?;
    match message.version.as_deref() {
        Some("v1") => {}
        Some(other) => return Err(format!("`version` must be \"v1\", not {other:?}")),
        None => return Err("`version` is missing (expected \"v1\")".into()),
    }
    match message.kind.as_deref() {
        Some("action_start") => {}
        Some(other) => return Err(format!("`type` must be \"action_start\", not {other:?}")),
        None => return Err("`type` is missing (expected \"action_start\")".into()),
    }
    let body = message.body.ok_or("it has no `body` object")?;
    let action = match body.action {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name),
        Some(_) => return Err("`body.action` must be the action's name".into()),
    };
    let object = |key: &str, value: Option<Value>| -> Result<Value, String> {
        match value {
            None | Some(Value::Null) => Ok(json!({})),
            Some(v @ Value::Object(_)) => Ok(v),
            Some(_) => Err(format!("`body.{key}` must be an object")),
        }
    };
    Ok(ActionStart {
        action,
        meta: object("meta", body.meta)?,
        input: object("input", body.input)?,
        connection: object("connection", body.connection)?,
    })
}

pub fn event_ok(output: Value, log: &str, meta: &Value) -> Value {
    json!({"version": "v1", "type": "action_event", "body": {"log": log, "status": "ok", "meta": meta, "output": output}})
}

pub fn event_error(error: &PluginError, log: &str, meta: &Value) -> Value {
    let error = json!({"cause": error.cause, "assistance": error.assistance, "data": error.data});
    json!({"version": "v1", "type": "action_event", "body": {"log": log, "status": "error", "meta": meta, "error": error}})
}

pub fn trigger_event(trigger: &str, output: Value) -> Value {
    json!({"version": "v1", "type": "trigger_event", "body": {"trigger": trigger, "output": output, "meta": {}}})
}

/// The JSON of a value the component returns: an absent `option` (null) is left out of its
/// record, as the harness leaves it out (`convert::to_json`). Nulls in lists stay.
pub fn output_json<T: serde::Serialize>(value: &T) -> Value {
    strip_nulls(serde_json::to_value(value).unwrap_or(Value::Null))
}

fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, strip_nulls(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// A JSON object with one `error` text: the answer to a request that is not a message at all.
pub fn plain_error(text: impl Into<String>) -> Value {
    Value::Object(Map::from_iter([("error".to_string(), Value::String(text.into()))]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_checked_field_by_field() {
        let ok = br#"{"version":"v1","type":"action_start","body":{"action":"get_accounts","input":null,"connection":{"a":1}}}"#;
        let start = parse_action_start(ok).unwrap();
        assert_eq!(start.action.as_deref(), Some("get_accounts"));
        assert_eq!(start.input, json!({}));
        assert_eq!(start.meta, json!({}));
        let problem = |text: &str| parse_action_start(text.as_bytes()).unwrap_err();
        assert!(problem("not json").contains("not JSON"));
        assert!(problem(r#"{"version":"v2","type":"action_start","body":{}}"#).contains("`version`"));
        assert!(problem(r#"{"version":"v1","type":"action_event","body":{}}"#).contains("`type`"));
        assert!(problem(r#"{"version":"v1","type":"action_start"}"#).contains("no `body`"));
        assert!(problem(r#"{"version":"v1","type":"action_start","body":{"input":[]}}"#).contains("`body.input`"));
        assert!(problem(r#"{"version":"v1","type":"action_start","body":{},"extra":1}"#).contains("extra"));
        assert!(problem(r#"{"version":"v1","type":"action_start","body":{"nope":1}}"#).contains("nope"));
        assert!(problem(r#"{"version":"v1","type":"action_start","body":{"action":7}}"#).contains("`body.action`"));
    }

    #[test]
    fn outputs_leave_absent_options_out_but_keep_nulls_in_lists() {
        let value = output_json(&json!({"a": null, "b": {"c": null, "d": 1}, "e": [null, {"f": null}]}));
        assert_eq!(value, json!({"b": {"d": 1}, "e": [null, {}]}));
    }
}

//! Shared by the end-to-end tests: the built component, loaded once per test binary.
#![allow(dead_code)]

use psa_bridge_host::plugin::{CallOptions, Plugin};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// The release component: `PSA_BRIDGE_COMPONENT`, else where `make component` puts it.
pub fn component_path() -> PathBuf {
    if let Ok(path) = std::env::var("PSA_BRIDGE_COMPONENT") {
        return PathBuf::from(path);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let path = target.join("wasm32-wasip2/component/psa_bridge.wasm");
    assert!(path.exists(), "{} is missing: run `make component` first (make test does)", path.display());
    path
}

pub fn plugin() -> &'static Plugin {
    static PLUGIN: OnceLock<Plugin> = OnceLock::new();
    PLUGIN.get_or_init(|| Plugin::load(&component_path()).expect("the component loads"))
}

pub fn options() -> CallOptions {
    CallOptions { allow_loopback: true, timeout: Some(Duration::from_secs(300)), ..CallOptions::default() }
}

/// Runs one message through the harness as the platform would; returns the action_event.
pub fn run(message: &Value, options: &CallOptions) -> (Value, bool) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(psa_bridge_host::run_message(plugin(), &message.to_string(), false, options))
}

pub fn message(action: &str, input: Value, connection: Value) -> Value {
    serde_json::json!({"version": "v1", "type": "action_start", "body": {"action": action, "meta": {}, "input": input, "connection": connection}})
}

/// The error's cause of a status-error event (panics with the event otherwise).
pub fn cause(event: &Value) -> String {
    assert_eq!(event["body"]["status"], "error", "expected an error: {event:#}");
    let error = &event["body"]["error"];
    assert!(!error["assistance"].as_str().unwrap_or_default().is_empty(), "no assistance: {event:#}");
    error["cause"].as_str().unwrap_or_default().to_string()
}

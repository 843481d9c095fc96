//! What the harness reads from plugin.spec.yaml: identity, and examples for `sample`.

use anyhow::{Context, Result};
use serde_json::{Map, Value, json};
use std::path::Path;

pub struct Spec {
    pub yaml: Value,
}

impl Spec {
    pub fn load(path: &Path) -> Result<Spec> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let yaml: Value =
            serde_yaml::from_str(&text).with_context(|| format!("{} is not valid YAML", path.display()))?;
        Ok(Spec { yaml })
    }

    pub fn field(&self, key: &str) -> &str {
        self.yaml.get(key).and_then(Value::as_str).unwrap_or("")
    }

    /// A valid action_start for `action`, built from the spec's examples.
    pub fn sample(&self, action: &str) -> Result<Value> {
        let input = if action == "test_connection" {
            json!({})
        } else {
            let inputs = self
                .yaml
                .pointer(&format!("/actions/{action}"))
                .with_context(|| format!("the spec has no action `{action}`"))?
                .get("input");
            examples(inputs)
        };
        let connection = examples(self.yaml.get("connection"));
        Ok(
            json!({"version": "v1", "type": "action_start", "body": {"action": action, "meta": {}, "input": input, "connection": connection}}),
        )
    }
}

/// `{name: example}` for every property that has an example.
fn examples(properties: Option<&Value>) -> Value {
    let mut out = Map::new();
    if let Some(properties) = properties.and_then(Value::as_object) {
        for (name, property) in properties {
            if let Some(example) = property.get("example") {
                out.insert(name.clone(), example.clone());
            }
        }
    }
    Value::Object(out)
}

//! Archer's REST answers, as tolerant serde types. Every answer is wrapped:
//! `{"RequestedObject": ..., "IsSuccessful": bool, "ValidationMessages": [...]}` — and a refusal
//! often comes as HTTP 200 with `IsSuccessful: false`, so the flag is what counts.

use crate::lenient;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Wrapped<T> {
    #[serde(rename = "RequestedObject", default = "none")]
    pub requested_object: Option<T>,
    #[serde(rename = "IsSuccessful", default, deserialize_with = "lenient::flag")]
    pub is_successful: bool,
    #[serde(rename = "ValidationMessages", default, deserialize_with = "messages")]
    pub validation_messages: Vec<ValidationMessage>,
}

fn none<T>() -> Option<T> {
    None
}

#[derive(Debug, Default, Deserialize)]
pub struct ValidationMessage {
    #[serde(rename = "ResourcedMessage", default, deserialize_with = "lenient::text")]
    pub resourced_message: Option<String>,
    #[serde(rename = "Reason", default, deserialize_with = "lenient::text")]
    pub reason: Option<String>,
    #[serde(rename = "Description", default, deserialize_with = "lenient::text")]
    pub description: Option<String>,
}

fn messages<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ValidationMessage>, D::Error> {
    Ok(Option::<Vec<ValidationMessage>>::deserialize(d)?.unwrap_or_default())
}

impl<T> Wrapped<T> {
    /// What Archer said, joined: "Reason: message; ...".
    pub fn said(&self) -> String {
        let said: Vec<String> = self
            .validation_messages
            .iter()
            .filter_map(|m| {
                let text = m.resourced_message.clone().or_else(|| m.description.clone())?;
                Some(match &m.reason {
                    Some(reason) => format!("{reason}: {text}"),
                    None => text,
                })
            })
            .collect();
        if said.is_empty() { "no validation message".into() } else { said.join("; ") }
    }
}

#[derive(Debug, Deserialize)]
pub struct Session {
    #[serde(rename = "SessionToken", default, deserialize_with = "lenient::text")]
    pub session_token: Option<String>,
}

/// An application, a level, a values-list value: what is looked up by name.
#[derive(Clone, Debug, Deserialize)]
pub struct Named {
    #[serde(rename = "Id", deserialize_with = "lenient::id")]
    pub id: u64,
    #[serde(rename = "Name", default, deserialize_with = "lenient::text")]
    pub name: Option<String>,
    #[serde(rename = "Alias", default, deserialize_with = "lenient::text")]
    pub alias: Option<String>,
}

/// Archer objects are found by their name or their alias, in any case.
fn named(name: &Option<String>, alias: &Option<String>, wanted: &str) -> bool {
    [name, alias].into_iter().flatten().any(|n| n.eq_ignore_ascii_case(wanted.trim()))
}

impl Named {
    pub fn is(&self, wanted: &str) -> bool {
        named(&self.name, &self.alias, wanted)
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct FieldDefinition {
    #[serde(rename = "Id", deserialize_with = "lenient::id")]
    pub id: u64,
    #[serde(rename = "Name", default, deserialize_with = "lenient::text")]
    pub name: Option<String>,
    #[serde(rename = "Alias", default, deserialize_with = "lenient::text")]
    pub alias: Option<String>,
    #[serde(rename = "Type", default, deserialize_with = "lenient::opt_int")]
    pub field_type: Option<i64>,
    #[serde(rename = "IsRequired", default, deserialize_with = "lenient::flag")]
    pub is_required: bool,
    #[serde(rename = "RelatedValuesListId", default, deserialize_with = "lenient::opt_int")]
    pub values_list_id: Option<i64>,
}

impl FieldDefinition {
    pub fn is(&self, wanted: &str) -> bool {
        named(&self.name, &self.alias, wanted)
    }

    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.id.to_string())
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct User {
    #[serde(rename = "Id", deserialize_with = "lenient::id")]
    pub id: u64,
    #[serde(rename = "UserName", default, deserialize_with = "lenient::text")]
    pub user_name: Option<String>,
    #[serde(rename = "DisplayName", default, deserialize_with = "lenient::text")]
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ContentId {
    #[serde(rename = "Id", deserialize_with = "lenient::id")]
    pub id: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerates_what_archer_sends() {
        let refused: Wrapped<ContentId> = lenient::from_json(
            br#"{"Links": [], "RequestedObject": null, "IsSuccessful": false, "ValidationMessages": [
                {"Reason": "Validation", "Severity": 3, "ResourcedMessage": "Incident Title is required."},
                {"Reason": null, "Description": "Other"}]}"#,
        )
        .unwrap();
        assert!(!refused.is_successful && refused.requested_object.is_none());
        assert_eq!(refused.said(), "Validation: Incident Title is required.; Other");
        let fields: Vec<Wrapped<FieldDefinition>> = lenient::from_json(
            br#"[{"RequestedObject": {"Id": "15012", "Name": " Incident Status ", "Type": 4,
                 "RelatedValuesListId": 77, "IsRequired": null}, "IsSuccessful": true}]"#,
        )
        .unwrap();
        let field = fields[0].requested_object.as_ref().unwrap();
        assert!(field.is("incident status") && field.id == 15012 && field.values_list_id == Some(77));
    }
}

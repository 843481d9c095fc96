//! ConnectWise's JSON as it arrives (contracts/connectwise.md), tolerant of nulls and extras.

use crate::lenient;
use serde::Deserialize;

/// `{"code", "message", "errors": [{"code", "message", "field"}]}`.
#[derive(Deserialize, Debug, Default)]
pub struct ErrorBody {
    #[serde(default, deserialize_with = "lenient::text")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub message: Option<String>,
    #[serde(default)]
    pub errors: Option<Vec<FieldError>>,
}

#[derive(Deserialize, Debug, Default)]
pub struct FieldError {
    #[serde(default, deserialize_with = "lenient::text")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub field: Option<String>,
}

/// `{"id": 1, "name": "..."}` references (status, country, board, company).
#[derive(Deserialize, Debug, Clone, Default)]
pub struct Reference {
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub identifier: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Company {
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient::text")]
    pub identifier: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub address_line1: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub city: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub zip: Option<String>,
    #[serde(default)]
    pub country: Option<Reference>,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub deleted_flag: bool,
    #[serde(default)]
    pub custom_fields: Option<CustomFields>,
}

/// A company's `customFields` kept as the text the service sent, parsed only where needed: all
/// 20,000 companies of a big instance fit in a few MiB this way, where parsed they take over 100.
#[derive(Deserialize, Debug, Clone)]
#[serde(transparent)]
pub struct CustomFields(Box<serde_json::value::RawValue>);

impl CustomFields {
    pub fn parse(&self) -> Result<Vec<CustomField>, String> {
        lenient::from_json(self.0.get().as_bytes())
    }
}

/// A company custom field. Properties we don't model are kept, so the array goes back whole.
#[derive(Deserialize, serde::Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CustomField {
    pub id: serde_json::Value,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub field_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl CustomField {
    /// The value as text for comparisons: `7001`, `"7001"` and `"7001 "` are the same value.
    pub fn text(&self) -> Option<String> {
        match self.value.as_ref()? {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
            serde_json::Value::Number(n) => Some(match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{}", f as i64),
                _ => n.to_string(),
            }),
            other => Some(other.to_string()),
        }
    }
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Board {
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct BoardStatus {
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub default_flag: bool,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub inactive_flag: bool,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub closed_status: bool,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ServiceTicket {
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient::text", rename = "externalXRef")]
    pub external_x_ref: Option<String>,
    #[serde(default)]
    pub status: Option<Reference>,
    #[serde(default)]
    pub company: Option<Reference>,
    #[serde(default)]
    pub board: Option<Reference>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub summary: Option<String>,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub closed_flag: bool,
    #[serde(default)]
    pub priority: Option<Reference>,
    #[serde(default)]
    pub team: Option<Reference>,
    #[serde(default)]
    pub owner: Option<Reference>,
    #[serde(default, rename = "type")]
    pub service_type: Option<Reference>,
    #[serde(default, rename = "_info")]
    pub info: Option<Info>,
    #[serde(default)]
    pub custom_fields: Option<CustomFields>,
}

/// A record's `_info`: when it was entered and last changed.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    #[serde(default, deserialize_with = "lenient::text")]
    pub date_entered: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub last_updated: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub text: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub ticket_id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub detail_description_flag: bool,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub internal_analysis_flag: bool,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub resolution_flag: bool,
    #[serde(default, deserialize_with = "lenient::text")]
    pub date_created: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub created_by: Option<String>,
}

/// A member (a technician): tickets are assigned by their identifier.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient::text")]
    pub identifier: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub office_email: Option<String>,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub inactive_flag: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_fields_are_kept_as_sent_and_parsed_on_demand() {
        let page = br#"[{"id": 1, "customFields": [{"id": 37, "caption": "ARMORcompanyId", "value": "7001", "entryMethod": "EntryField"}]},
                        {"id": 2, "customFields": null}, {"id": 3}, {"id": 4, "customFields": [{"id": 5, "caption": 9}]}]"#;
        let companies: Vec<Company> = lenient::from_json(page).unwrap();
        let fields = companies[0].custom_fields.as_ref().unwrap().parse().unwrap();
        assert_eq!(fields[0].text().as_deref(), Some("7001"));
        assert_eq!(fields[0].other["entryMethod"], "EntryField");
        assert!(companies[1].custom_fields.is_none() && companies[2].custom_fields.is_none());
        let problem = companies[3].custom_fields.as_ref().unwrap().parse().unwrap_err();
        assert!(problem.contains(r#""caption": 9"#), "{problem}");
    }
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Priority {
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub default_flag: bool,
}

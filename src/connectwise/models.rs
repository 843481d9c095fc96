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
    pub custom_fields: Option<Vec<CustomField>>,
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
}

#[derive(Deserialize, Debug, Clone)]
pub struct Note {
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub text: Option<String>,
}

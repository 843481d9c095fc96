//! Stellar Cyber's JSON, tolerant of what it sends: ids and numbers as strings or numbers,
//! nulls and missing fields, padded text.

use crate::lenient;
use serde::{Deserialize, Deserializer};

/// `{"data": ...}`, the envelope of most answers.
#[derive(Debug, Default, Deserialize)]
pub struct Data<T> {
    #[serde(default = "Option::default")]
    pub data: Option<T>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default, deserialize_with = "lenient::text")]
    pub error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Token {
    #[serde(default, deserialize_with = "lenient::text")]
    pub access_token: Option<String>,
    /// Epoch seconds.
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub exp: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Tenant {
    #[serde(default, deserialize_with = "lenient::text")]
    pub cust_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub cust_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct User {
    #[serde(default, deserialize_with = "required_text")]
    pub user_id: String,
    #[serde(default, deserialize_with = "lenient::text")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub user_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CasePage {
    #[serde(default)]
    pub cases: Option<Vec<Case>>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub total: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Case {
    #[serde(rename = "_id", deserialize_with = "required_text")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::text")]
    pub ticket_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub severity: Option<String>,
    #[serde(default, deserialize_with = "number")]
    pub score: Option<f64>,
    /// The alert count.
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub size: Option<i64>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub tenant_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub cust_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub assignee: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub assignee_name: Option<String>,
    #[serde(default, deserialize_with = "texts")]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub created_by: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub modified_by: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub modified_by_name: Option<String>,
    /// Epoch ms.
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub created_at: Option<i64>,
    /// Epoch ms.
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub modified_at: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Comment {
    #[serde(rename = "_id", deserialize_with = "required_text")]
    pub id: String,
    #[serde(default, deserialize_with = "lenient::text")]
    pub comment: Option<String>,
    /// A user id.
    #[serde(default, deserialize_with = "lenient::text")]
    pub user: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub created_at: Option<i64>,
}

/// Text that must be there: a missing or blank value is an error naming it.
fn required_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    lenient::text(d)?.ok_or_else(|| serde::de::Error::custom("an id is missing"))
}

/// A number given as a number or a numeric string; anything else is no value.
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A list of texts (null meaning none), each trimmed, blanks dropped.
fn texts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let values: Option<Vec<Option<String>>> = Option::deserialize(d)?;
    Ok(values
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_tolerate_strings_for_numbers_nulls_and_padding() {
        let case: Case = serde_json::from_str(
            r#"{"_id": " 5f1e ", "ticket_id": 12, "score": "57.5", "size": null, "tags": null,
                "modified_at": "1700000000123", "status": "New ", "unknown": {"x": 1}}"#,
        )
        .unwrap();
        assert_eq!(case.id, "5f1e");
        assert_eq!(case.ticket_id.as_deref(), Some("12"));
        assert_eq!(case.score, Some(57.5));
        assert_eq!(case.size, None);
        assert!(case.tags.is_empty());
        assert_eq!(case.modified_at, Some(1_700_000_000_123));
        assert_eq!(case.status.as_deref(), Some("New"));
        assert!(serde_json::from_str::<Case>(r#"{"name": "no id"}"#).is_err(), "a case without an id is an error");
    }
}

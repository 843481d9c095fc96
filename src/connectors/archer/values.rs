//! A field's value in the shape its type needs (`FieldContents` of a content create or update):
//! text as is, numbers and dates parsed, values lists by value name, users by user name,
//! cross-references by content id, links as `name|url`. Several values are separated by `;`.

use serde_json::{Value, json};

/// Archer's field types, as far as incidents are written.
pub const TEXT: i64 = 1;
pub const NUMERIC: i64 = 2;
pub const DATE: i64 = 3;
pub const VALUES_LIST: i64 = 4;
pub const EXTERNAL_LINKS: i64 = 7;
pub const USERS_GROUPS: i64 = 8;
pub const CROSS_REFERENCE: i64 = 9;
pub const IP_ADDRESS: i64 = 19;

/// A field incidents are written to, with what its values are named by.
#[derive(Clone, Debug, Default)]
pub struct Field {
    pub id: u64,
    pub name: String,
    pub field_type: i64,
    /// Values-list fields: `(value id, name)`; users fields: `(user id, user name / display name)`.
    pub choices: Vec<(u64, Vec<String>)>,
}

pub fn writable(field_type: i64) -> bool {
    matches!(
        field_type,
        TEXT | NUMERIC | DATE | VALUES_LIST | EXTERNAL_LINKS | USERS_GROUPS | CROSS_REFERENCE | IP_ADDRESS
    )
}

pub fn type_name(field_type: i64) -> String {
    match field_type {
        TEXT => "text".into(),
        NUMERIC => "numeric".into(),
        DATE => "date".into(),
        VALUES_LIST => "values list".into(),
        EXTERNAL_LINKS => "external links".into(),
        USERS_GROUPS => "user/groups list".into(),
        CROSS_REFERENCE => "cross-reference".into(),
        IP_ADDRESS => "IP address".into(),
        other => format!("type {other}"),
    }
}

fn items(text: &str) -> impl Iterator<Item = &str> {
    text.split(';').map(str::trim).filter(|v| !v.is_empty())
}

impl Field {
    fn choice(&self, wanted: &str) -> Result<u64, String> {
        self.choices
            .iter()
            .find(|(_, names)| names.iter().any(|n| n.trim().eq_ignore_ascii_case(wanted)))
            .map(|(id, _)| *id)
            .ok_or_else(|| {
                let known: Vec<&str> =
                    self.choices.iter().filter_map(|(_, names)| names.first().map(String::as_str)).take(20).collect();
                format!("{:?} has no value {wanted:?} (it has: {})", self.name, known.join(", "))
            })
    }

    /// The value `text` writes, or why it cannot; `None` for blank text (the field is left out).
    pub fn value(&self, text: &str) -> Result<Option<Value>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let value = match self.field_type {
            TEXT | IP_ADDRESS => json!(text),
            NUMERIC => {
                let n: f64 = text.parse().map_err(|_| format!("{:?} takes a number, not {text:?}", self.name))?;
                json!(n)
            }
            DATE => {
                let instant = crate::lenient::iso_utc(text);
                chrono::DateTime::parse_from_rfc3339(&instant)
                    .map_err(|_| format!("{:?} takes an ISO-8601 date, not {text:?}", self.name))?;
                json!(instant)
            }
            VALUES_LIST => {
                let ids = items(text).map(|v| self.choice(v)).collect::<Result<Vec<u64>, String>>()?;
                json!({"ValuesListIds": ids, "OtherText": null})
            }
            USERS_GROUPS => {
                let users =
                    items(text).map(|v| self.choice(v).map(|id| json!({"ID": id}))).collect::<Result<Vec<_>, _>>()?;
                json!({"UserList": users, "GroupList": []})
            }
            CROSS_REFERENCE => {
                let ids = items(text)
                    .map(|v| v.parse::<u64>().map(|id| json!({"ContentID": id})))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| format!("{:?} takes content ids, not {text:?}", self.name))?;
                json!(ids)
            }
            EXTERNAL_LINKS => {
                let links: Vec<Value> = items(text)
                    .map(|link| match link.split_once('|') {
                        Some((name, url)) => json!({"Name": name.trim(), "URL": url.trim()}),
                        None => json!({"Name": link, "URL": link}),
                    })
                    .collect();
                json!(links)
            }
            other => {
                return Err(format!(
                    "{:?} is a {} field, which psa-bridge does not write",
                    self.name,
                    type_name(other)
                ));
            }
        };
        Ok(Some(value))
    }

    /// The `FieldContents` entry for `value`.
    pub fn content(&self, value: Value) -> Value {
        json!({"Type": self.field_type, "Value": value, "FieldId": self.id})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(field_type: i64) -> Field {
        let choices = vec![(88, vec!["New".to_string()]), (89, vec!["jdoe".to_string(), "John Doe".to_string()])];
        Field { id: 15010, name: "F".into(), field_type, choices }
    }

    #[test]
    fn each_type_gets_its_shape() {
        assert_eq!(field(TEXT).value(" hi ").unwrap(), Some(json!("hi")));
        assert_eq!(field(TEXT).value("  ").unwrap(), None);
        assert_eq!(field(NUMERIC).value("7.5").unwrap(), Some(json!(7.5)));
        assert_eq!(field(DATE).value("2026-11-30 08:15:02").unwrap(), Some(json!("2026-11-30T08:15:02Z")));
        assert_eq!(field(VALUES_LIST).value("new").unwrap(), Some(json!({"ValuesListIds": [88], "OtherText": null})));
        assert_eq!(
            field(USERS_GROUPS).value("John Doe; jdoe").unwrap(),
            Some(json!({"UserList": [{"ID": 89}, {"ID": 89}], "GroupList": []}))
        );
        assert_eq!(
            field(CROSS_REFERENCE).value("201;202").unwrap(),
            Some(json!([{"ContentID": 201}, {"ContentID": 202}]))
        );
        assert_eq!(
            field(EXTERNAL_LINKS).value("Case|https://x/1").unwrap(),
            Some(json!([{"Name": "Case", "URL": "https://x/1"}]))
        );
        assert_eq!(
            field(IP_ADDRESS).content(json!("10.0.0.1")),
            json!({"Type": 19, "Value": "10.0.0.1", "FieldId": 15010})
        );
    }

    #[test]
    fn a_value_that_does_not_fit_says_why() {
        assert!(
            field(VALUES_LIST).value("Closed").unwrap_err().contains("has no value \"Closed\" (it has: New, jdoe)")
        );
        assert!(field(NUMERIC).value("many").is_err());
        assert!(field(DATE).value("yesterday").is_err());
        assert!(field(CROSS_REFERENCE).value("INC-1").is_err());
        assert!(field(6).value("x").is_err(), "tracking ids are Archer's own");
    }
}

//! The four ARMOR custom fields on a ConnectWise company, found by caption (ids differ per
//! instance). Updates rewrite the whole array — sending a part wipes the rest — and only when
//! an ARMOR value really changes, so a re-run writes nothing.

use super::models::CustomField;
use serde_json::Value;

pub const COMPANY_ID: &str = "ARMORcompanyId";
pub const COMPANY_NAME: &str = "ARMORcompanyName";
pub const PARENT_ID: &str = "ARMORparentId";
pub const DATE_UPDATED: &str = "ARMORdateUpdated";
pub const CAPTIONS: [&str; 4] = [COMPANY_ID, COMPANY_NAME, PARENT_ID, DATE_UPDATED];

/// What a matched company should carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub account_id: u64,
    pub account_name: String,
    pub parent_id: Option<u64>,
}

fn is_caption(field: &CustomField, caption: &str) -> bool {
    field.caption.as_deref().is_some_and(|c| c.trim().eq_ignore_ascii_case(caption))
}

/// The captions of the four that are not defined (absent from a company's array).
pub fn missing_captions(fields: &[CustomField]) -> Vec<&'static str> {
    CAPTIONS.into_iter().filter(|caption| !fields.iter().any(|f| is_caption(f, caption))).collect()
}

/// The value of the field with `caption`, as text.
pub fn value_of(fields: &[CustomField], caption: &str) -> Option<String> {
    fields.iter().find(|f| is_caption(f, caption)).and_then(CustomField::text)
}

/// The account a company is stamped with (its ARMORcompanyId), if a valid one.
pub fn stamped_account(fields: &[CustomField]) -> Option<u64> {
    value_of(fields, COMPANY_ID).and_then(|v| v.parse().ok())
}

/// The whole array with the ARMOR values set, or `None` when they already hold them.
/// `now` (ISO-8601) is written to ARMORdateUpdated only alongside a real change.
pub fn stamped(fields: &[CustomField], stamp: &Stamp, now: &str) -> Option<Vec<CustomField>> {
    let wanted = [
        (COMPANY_ID, Some(stamp.account_id.to_string())),
        (COMPANY_NAME, Some(stamp.account_name.trim().to_string()).filter(|n| !n.is_empty())),
        (PARENT_ID, stamp.parent_id.map(|p| p.to_string())),
    ];
    let changed = wanted.iter().any(|(caption, value)| value_of(fields, caption) != *value);
    if !changed {
        return None;
    }
    let mut updated = fields.to_vec();
    for field in &mut updated {
        let value = wanted
            .iter()
            .find(|(caption, _)| is_caption(field, caption))
            .map(|(_, value)| value.clone())
            .or_else(|| is_caption(field, DATE_UPDATED).then(|| Some(now.to_string())));
        if let Some(value) = value {
            field.value = Some(typed(field.field_type.as_deref(), value));
        }
    }
    Some(updated)
}

/// A value in the JSON type the field's type expects.
fn typed(field_type: Option<&str>, value: Option<String>) -> Value {
    match (field_type.map(str::to_ascii_lowercase).as_deref(), value) {
        (_, None) => Value::Null,
        (Some("number"), Some(v)) => v.parse::<i64>().map(Value::from).unwrap_or(Value::String(v)),
        (_, Some(v)) => Value::String(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields() -> Vec<CustomField> {
        serde_json::from_value(json!([
            {"id": 37, "caption": "ARMORcompanyId", "type": "Text", "entryMethod": "EntryField", "numberOfDecimals": 0},
            {"id": 38, "caption": "ARMORcompanyName", "type": "Text", "value": null},
            {"id": 39, "caption": "ARMORparentId", "type": "Number"},
            {"id": 40, "caption": "ARMORdateUpdated", "type": "Date"},
            {"id": 12, "caption": "Tier", "type": "Text", "value": "Gold"}
        ]))
        .unwrap()
    }

    fn stamp() -> Stamp {
        Stamp { account_id: 7001, account_name: "Contoso Ltd".into(), parent_id: Some(1001) }
    }

    #[test]
    fn writes_all_four_and_keeps_the_rest() {
        let updated = stamped(&fields(), &stamp(), "2024-05-01T12:00:00Z").unwrap();
        assert_eq!(updated.len(), 5);
        assert_eq!(updated[0].value, Some(json!("7001")));
        assert_eq!(updated[1].value, Some(json!("Contoso Ltd")));
        assert_eq!(updated[2].value, Some(json!(1001)), "a Number field gets a number");
        assert_eq!(updated[3].value, Some(json!("2024-05-01T12:00:00Z")));
        assert_eq!(updated[4].value, Some(json!("Gold")), "unrelated fields survive");
        assert_eq!(updated[0].other.get("entryMethod"), Some(&json!("EntryField")), "unknown properties survive");
        // Once stamped, nothing changes, whatever time it is.
        assert_eq!(stamped(&updated, &stamp(), "2030-01-01T00:00:00Z"), None);
    }

    #[test]
    fn a_changed_name_or_parent_is_a_change() {
        let updated = stamped(&fields(), &stamp(), "t1").unwrap();
        let renamed = Stamp { account_name: "Contoso Limited".into(), ..stamp() };
        assert!(stamped(&updated, &renamed, "t2").is_some());
        let moved = Stamp { parent_id: None, ..stamp() };
        let rewritten = stamped(&updated, &moved, "t2").unwrap();
        assert_eq!(rewritten[2].value, Some(serde_json::Value::Null));
    }

    #[test]
    fn finds_fields_by_caption_and_reports_missing_ones() {
        assert!(missing_captions(&fields()).is_empty());
        let partial: Vec<CustomField> = fields().into_iter().filter(|f| f.caption.as_deref() != Some("ARMORparentId")).collect();
        assert_eq!(missing_captions(&partial), vec![PARENT_ID]);
        let mut numeric = fields();
        numeric[0].value = Some(json!(7001.0));
        assert_eq!(stamped_account(&numeric), Some(7001));
    }
}

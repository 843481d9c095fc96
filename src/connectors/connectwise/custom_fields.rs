//! A source's four link fields on a ConnectWise company (`ARMORcompanyId`, `ARMORcompanyName`,
//! `ARMORparentId`, `ARMORdateUpdated` for ARMOR), found by caption (ids differ per instance).
//! Updates rewrite the whole array — sending a part wipes the rest — and only when a value
//! really changes, so a re-run writes nothing.

use super::models::CustomField;
use crate::connectors::LinkWrite;
use serde_json::Value;

pub use crate::sync::link::Captions;

fn is_caption(field: &CustomField, caption: &str) -> bool {
    field.caption.as_deref().is_some_and(|c| c.trim().eq_ignore_ascii_case(caption))
}

/// The captions of the four that are not defined (absent from a company's array).
pub fn missing_captions<'a>(fields: &[CustomField], captions: &'a Captions) -> Vec<&'a str> {
    captions.all().into_iter().filter(|caption| !fields.iter().any(|f| is_caption(f, caption))).collect()
}

/// The value of the field with `caption`, as text.
pub fn value_of(fields: &[CustomField], caption: &str) -> Option<String> {
    fields.iter().find(|f| is_caption(f, caption)).and_then(CustomField::text)
}

/// The account a company is linked to (its `…companyId`), if set.
pub fn linked_account(fields: &[CustomField], captions: &Captions) -> Option<String> {
    value_of(fields, &captions.company_id)
}

/// The whole array with the link's values set, or `None` when they already hold them.
/// `link.now` is written to `…dateUpdated` only alongside a real change.
pub fn stamped(fields: &[CustomField], captions: &Captions, link: &LinkWrite) -> Option<Vec<CustomField>> {
    if !captions.changes(link, |caption| value_of(fields, caption)) {
        return None;
    }
    let wanted = captions.values(link);
    let mut updated = fields.to_vec();
    for field in &mut updated {
        let value = wanted.iter().find(|(caption, _)| is_caption(field, caption)).map(|(_, value)| value.clone());
        if let Some(value) = value {
            field.value = Some(typed(field.field_type.as_deref(), value));
        }
    }
    Some(updated)
}

/// The whole array with the fields named in `wanted` (caption, value) set; an empty value clears
/// one. Errs with the first caption the array lacks.
pub fn with_values<'a>(fields: &[CustomField], wanted: &'a [(String, String)]) -> Result<Vec<CustomField>, &'a str> {
    let mut updated = fields.to_vec();
    for (caption, value) in wanted {
        let field = updated.iter_mut().find(|f| is_caption(f, caption)).ok_or(caption.as_str())?;
        let value = Some(value.trim().to_string()).filter(|v| !v.is_empty());
        field.value = Some(typed(field.field_type.as_deref(), value));
    }
    Ok(updated)
}

/// A value in the JSON type the field's type expects.
fn typed(field_type: Option<&str>, value: Option<String>) -> Value {
    match (field_type.map(str::to_ascii_lowercase).as_deref(), value) {
        (_, None) => Value::Null,
        (Some("number"), Some(v)) => v.parse::<i64>().map(Value::from).unwrap_or(Value::String(v)),
        (Some("checkbox"), Some(v)) if matches!(v.to_ascii_lowercase().as_str(), "true" | "false") => {
            Value::Bool(v.eq_ignore_ascii_case("true"))
        }
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

    fn stamp() -> LinkWrite {
        let now = "2024-05-01T12:00:00Z".into();
        LinkWrite {
            company: 0,
            source: &crate::connectors::armor::SYSTEM,
            account_id: "7001".into(),
            account_name: "Contoso Ltd".into(),
            parent_id: Some("1001".into()),
            now,
        }
    }

    fn captions() -> Captions {
        Captions::of(&crate::connectors::armor::SYSTEM)
    }

    fn at(link: LinkWrite, now: &str) -> LinkWrite {
        LinkWrite { now: now.into(), ..link }
    }

    #[test]
    fn writes_all_four_and_keeps_the_rest() {
        let updated = stamped(&fields(), &captions(), &stamp()).unwrap();
        assert_eq!(updated.len(), 5);
        assert_eq!(updated[0].value, Some(json!("7001")));
        assert_eq!(updated[1].value, Some(json!("Contoso Ltd")));
        assert_eq!(updated[2].value, Some(json!(1001)), "a Number field gets a number");
        assert_eq!(updated[3].value, Some(json!("2024-05-01T12:00:00Z")));
        assert_eq!(updated[4].value, Some(json!("Gold")), "unrelated fields survive");
        assert_eq!(updated[0].other.get("entryMethod"), Some(&json!("EntryField")), "unknown properties survive");
        // Once stamped, nothing changes, whatever time it is.
        assert_eq!(stamped(&updated, &captions(), &at(stamp(), "2030-01-01T00:00:00Z")), None);
    }

    #[test]
    fn a_changed_name_or_parent_is_a_change() {
        let updated = stamped(&fields(), &captions(), &at(stamp(), "t1")).unwrap();
        let renamed = LinkWrite { account_name: "Contoso Limited".into(), ..at(stamp(), "t2") };
        assert!(stamped(&updated, &captions(), &renamed).is_some());
        let moved = LinkWrite { parent_id: None, ..at(stamp(), "t2") };
        let rewritten = stamped(&updated, &captions(), &moved).unwrap();
        assert_eq!(rewritten[2].value, Some(serde_json::Value::Null));
    }

    #[test]
    fn finds_fields_by_caption_and_reports_missing_ones() {
        assert!(missing_captions(&fields(), &captions()).is_empty());
        let partial: Vec<CustomField> =
            fields().into_iter().filter(|f| f.caption.as_deref() != Some("ARMORparentId")).collect();
        assert_eq!(missing_captions(&partial, &captions()), vec!["ARMORparentId"]);
        let mut numeric = fields();
        numeric[0].value = Some(json!(7001.0));
        assert_eq!(linked_account(&numeric, &captions()), Some("7001".to_string()));
    }
}

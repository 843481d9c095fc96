//! Deserializers for what real services send: ids as numbers or strings, padded strings,
//! empty strings meaning "no value", nulls where a default is meant.

use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Text(String),
}

/// A signed integer given as a number or a numeric string.
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    opt_int(d)?.ok_or_else(|| serde::de::Error::custom("expected an integer, found nothing"))
}

/// A non-negative id given as a number or a numeric string.
pub fn id<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = int(d)?;
    u64::try_from(n).map_err(|_| serde::de::Error::custom(format!("expected an id, found {n}")))
}

pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<NumberOrString>::deserialize(d)? {
        None => Ok(None),
        Some(NumberOrString::Unsigned(n)) => i64::try_from(n).map(Some).map_err(serde::de::Error::custom),
        Some(NumberOrString::Signed(n)) => Ok(Some(n)),
        Some(NumberOrString::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
        Some(NumberOrString::Float(f)) => Err(serde::de::Error::custom(format!("expected an integer, found {f}"))),
        Some(NumberOrString::Text(s)) if s.trim().is_empty() => Ok(None),
        Some(NumberOrString::Text(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("expected an integer, found {s:?}"))),
    }
}

/// Trimmed text; null, missing, empty and blank become `None`. Numbers are taken as text.
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<NumberOrString>::deserialize(d)? {
        None => None,
        Some(NumberOrString::Text(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Some(NumberOrString::Unsigned(n)) => Some(n.to_string()),
        Some(NumberOrString::Signed(n)) => Some(n.to_string()),
        Some(NumberOrString::Float(f)) => Some(f.to_string()),
    })
}

/// A list of texts, trimmed; null, missing, null entries and blank ones left out.
pub fn texts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let list = Option::<Vec<Option<String>>>::deserialize(d)?.unwrap_or_default();
    Ok(list.into_iter().flatten().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect())
}

/// `true`/`false`, or null/missing meaning `default` (callers pick it with `#[serde(default)]`).
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

/// Decodes a JSON body; a problem is shown with the text around it (`... "id": "x"}] ...`), which
/// says where it is as well as a path would, without a second, path-tracking copy of every
/// deserializer in the component.
pub fn from_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| {
        let at = offset(body, e.line(), e.column());
        let (from, to) = (at.saturating_sub(CONTEXT), (at + CONTEXT).min(body.len()));
        let near = String::from_utf8_lossy(&body[from..to]);
        format!(
            "{e}, near: {}{}{}",
            if from > 0 { "…" } else { "" },
            near.trim(),
            if to < body.len() { "…" } else { "" }
        )
    })
}

/// Bytes of the body shown on each side of a problem.
const CONTEXT: usize = 40;

/// The byte offset of a 1-based line and column (serde_json counts columns in bytes).
fn offset(body: &[u8], line: usize, column: usize) -> usize {
    let line_start: usize = body.split(|&b| b == b'\n').take(line.saturating_sub(1)).map(|l| l.len() + 1).sum();
    (line_start + column).saturating_sub(1).min(body.len())
}

/// An ISO-8601 instant normalised to UTC (`2024-05-01T12:00:00Z`). Unparseable text is kept as
/// sent rather than lost.
pub fn iso_utc(text: &str) -> String {
    use chrono::{DateTime, SecondsFormat, Utc};
    let text = text.trim();
    match DateTime::parse_from_rfc3339(text).or_else(|_| DateTime::parse_from_rfc3339(&as_rfc3339(text))) {
        Ok(t) => t.with_timezone(&Utc).to_rfc3339_opts(SecondsFormat::Secs, true),
        Err(_) => text.to_string(),
    }
}

/// An ISO-8601 instant in epoch milliseconds (its fraction kept), in any of the forms [`iso_utc`]
/// reads; `None` when it is not one.
pub fn epoch_ms(text: &str) -> Option<i64> {
    use chrono::DateTime;
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_rfc3339(&as_rfc3339(text)))
        .ok()
        .map(|t| t.timestamp_millis())
}

/// The ISO-8601 forms services send that RFC 3339 lacks, made RFC 3339: a space for the `T`,
/// an offset without its colon (`+0200`), no offset at all (UTC). A pattern parser for these
/// three would add its whole machinery to the component.
fn as_rfc3339(text: &str) -> String {
    let mut t = text.replacen(' ', "T", 1);
    let time = t.find('T').map_or(t.len(), |i| i + 1);
    match t[time..].rfind(['+', '-']).map(|i| time + i) {
        Some(sign) if t.len() == sign + 5 && t[sign + 1..].bytes().all(|b| b.is_ascii_digit()) => {
            t.insert(sign + 3, ':')
        }
        Some(_) => {}
        None if t.ends_with(['Z', 'z']) => {}
        None => t.push('Z'),
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    struct Sample {
        #[serde(deserialize_with = "id")]
        id: u64,
        #[serde(default, deserialize_with = "opt_int")]
        parent: Option<i64>,
        #[serde(default, deserialize_with = "text")]
        name: Option<String>,
    }

    #[test]
    fn takes_ids_as_numbers_or_strings() {
        let a: Sample = from_json(br#"{"id": "7001", "parent": -1, "name": "  Contoso  "}"#).unwrap();
        assert_eq!((a.id, a.parent, a.name.as_deref()), (7001, Some(-1), Some("Contoso")));
        let b: Sample = from_json(br#"{"id": 7001, "parent": null, "name": ""}"#).unwrap();
        assert_eq!((b.parent, b.name), (None, None));
        let c: Sample = from_json(br#"{"id": 7001}"#).unwrap();
        assert_eq!(c.parent, None);
    }

    #[test]
    fn shows_where_a_problem_is() {
        let err = from_json::<Vec<Sample>>(br#"[{"id": 1}, {"id": "x"}]"#).unwrap_err();
        assert!(err.contains("near: [{\"id\": 1}, {\"id\": \"x\"}]"), "{err}");
        let long = format!("[{}{{\"id\": \"bad\"}}]", "{\"id\": 1}, ".repeat(50));
        let err = from_json::<Vec<Sample>>(long.as_bytes()).unwrap_err();
        assert!(err.contains("…") && err.contains("\"bad\""), "{err}");
        assert!(from_json::<Vec<Sample>>(b"[{\"id\": 1}").is_err());
        assert!(from_json::<Vec<Sample>>(br#"[{"id": -5}]"#).is_err());
    }

    #[test]
    fn normalises_instants_to_utc() {
        assert_eq!(iso_utc("2024-05-01T12:00:00Z"), "2024-05-01T12:00:00Z");
        assert_eq!(iso_utc("2024-05-01T14:00:00+02:00"), "2024-05-01T12:00:00Z");
        assert_eq!(iso_utc("2024-05-01T12:00:00.123"), "2024-05-01T12:00:00Z");
        assert_eq!(iso_utc("2024-05-01T12:00:00.000+0000"), "2024-05-01T12:00:00Z");
        assert_eq!(iso_utc("2024-05-01 14:30:00-0130"), "2024-05-01T16:00:00Z");
        assert_eq!(iso_utc("2024-05-01 12:00:00"), "2024-05-01T12:00:00Z");
        assert_eq!(iso_utc("last Tuesday"), "last Tuesday");
        assert_eq!(epoch_ms("2024-05-01T12:00:00.250+0000"), Some(1_714_564_800_250));
        assert_eq!(epoch_ms("2024-05-01 14:00:00+02:00"), Some(1_714_564_800_000));
        assert_eq!(epoch_ms("last Tuesday"), None);
    }
}

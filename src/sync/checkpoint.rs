//! Checkpoints and cursors: one versioned envelope, opaque to users (base64 of JSON), checked on
//! the way in, so a cursor of one kind or version is never read as another.

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

const VERSION: u32 = 2;

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    v: u32,
    /// What it resumes, e.g. "armor/tickets".
    kind: String,
    data: T,
}

pub fn encode<T: Serialize>(kind: &str, data: &T) -> String {
    let json = serde_json::to_vec(&Envelope { v: VERSION, kind: kind.to_string(), data }).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

/// The data of a checkpoint of `kind`, or why it is not one.
pub fn decode<T: DeserializeOwned>(kind: &str, text: &str) -> Result<T, String> {
    let not_ours = || format!("it is not a {kind} cursor returned by this plugin");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| not_ours())?;
    let header: Envelope<serde::de::IgnoredAny> = serde_json::from_slice(&bytes).map_err(|_| not_ours())?;
    if header.kind != kind {
        return Err(format!("it is a {} cursor, not a {kind} one", header.kind));
    }
    if header.v != VERSION {
        return Err(format!("cursor version {} is not supported (this plugin writes version {VERSION})", header.v));
    }
    let envelope: Envelope<T> = serde_json::from_slice(&bytes).map_err(|_| not_ours())?;
    Ok(envelope.data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_other_kinds_versions_and_garbage() {
        let text = encode("armor/tickets", &vec![1, 2, 3]);
        assert_eq!(decode::<Vec<i32>>("armor/tickets", &text).unwrap(), vec![1, 2, 3]);
        assert!(decode::<Vec<i32>>("halo/tickets", &text).unwrap_err().contains("armor/tickets cursor"));
        assert!(decode::<Vec<i32>>("armor/tickets", "not base64!").is_err());
        let old =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"v":1,"kind":"armor/tickets","data":[]}"#);
        assert!(decode::<Vec<i32>>("armor/tickets", &old).unwrap_err().contains("version 1"));
        assert!(decode::<String>("armor/tickets", &text).is_err(), "the wrong shape");
    }
}

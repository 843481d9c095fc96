//! The resume cursor of get_tickets: which ticket lists are unfinished and where each stands.
//! Opaque to users (base64 of JSON); checked on the way in.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// One ticket list: an account, optionally one request type, read page by page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stream {
    #[serde(rename = "a")]
    pub account_id: u64,
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub request_type: Option<String>,
    /// ARMOR's page token; none means the first page.
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
    /// Tickets of that page already returned.
    #[serde(rename = "s", default)]
    pub skip: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    v: u32,
    pub streams: Vec<Stream>,
    /// When the first call of the run started reading (unix seconds, ARMOR's clock where known):
    /// the run's last call derives its `next_since` from it. Absent in older cursors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<i64>,
}

impl Cursor {
    pub fn new(streams: Vec<Stream>, started: Option<i64>) -> Cursor {
        Cursor { v: 1, streams, started }
    }
}

pub fn encode(cursor: &Cursor) -> String {
    let json = serde_json::to_vec(cursor).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

pub fn decode(cursor: &str) -> Result<Cursor, String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| "it is not a cursor returned by get_tickets".to_string())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| "it is not a cursor returned by get_tickets".to_string())?;
    if cursor.v != 1 {
        return Err(format!("cursor version {} is not supported", cursor.v));
    }
    Ok(cursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let streams = vec![
            Stream { account_id: 7001, request_type: None, page_token: None, skip: 0 },
            Stream { account_id: 7002, request_type: Some("Incident".into()), page_token: Some("t/+=".into()), skip: 20 },
        ];
        let cursor = Cursor::new(streams, Some(1_714_564_800));
        assert_eq!(decode(&encode(&cursor)).unwrap(), cursor);
        let older = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"v":1,"streams":[{"a":7001,"s":0}]}"#);
        assert_eq!(decode(&older).unwrap().started, None);
        assert!(decode("not a cursor").is_err());
        assert!(decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"{\"v\":9,\"streams\":[]}")).is_err());
    }
}

//! The resume cursor of ARMOR's get_tickets: which ticket lists are unfinished and where each
//! stands, in the one checkpoint envelope.

use crate::sync::checkpoint;
use serde::{Deserialize, Serialize};

const KIND: &str = "armor/tickets";

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
    pub streams: Vec<Stream>,
    /// When the first call of the run started reading (unix seconds, ARMOR's clock where known):
    /// the run's last call derives its `next_since` from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<i64>,
}

impl Cursor {
    pub fn new(streams: Vec<Stream>, started: Option<i64>) -> Cursor {
        Cursor { streams, started }
    }
}

pub fn encode(cursor: &Cursor) -> String {
    checkpoint::encode(KIND, cursor)
}

pub fn decode(text: &str) -> Result<Cursor, String> {
    checkpoint::decode(KIND, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let streams = vec![
            Stream { account_id: 7001, request_type: None, page_token: None, skip: 0 },
            Stream {
                account_id: 7002,
                request_type: Some("Incident".into()),
                page_token: Some("t/+=".into()),
                skip: 20,
            },
        ];
        let cursor = Cursor::new(streams, Some(1_714_564_800));
        assert_eq!(decode(&encode(&cursor)).unwrap(), cursor);
        assert!(decode("not a cursor").is_err());
    }
}

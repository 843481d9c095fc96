//! ARMOR's JSON, as it really arrives (contracts/armor.md): ids as numbers or strings, padded
//! currencies, nulls and empty strings, statuses as text or objects, unknown fields ignored.

use crate::lenient;
use serde::Deserialize;

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub status: Option<String>,
    /// -1 for a root account.
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub parent: Option<i64>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub account_type: Option<String>,
}

impl Account {
    pub fn parent_id(&self) -> Option<u64> {
        self.parent.filter(|p| *p > 0).map(|p| p as u64)
    }
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct AccountDetail {
    #[serde(default, deserialize_with = "lenient::text")]
    pub address_line1: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub address_line2: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub city: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub postal_code: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub country: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct TicketPage {
    #[serde(default, deserialize_with = "lenient::text")]
    pub next_page_token: Option<String>,
    #[serde(default)]
    pub items: Option<Vec<TicketSummary>>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct TicketSummary {
    #[serde(deserialize_with = "required_text")]
    pub issue_key_id: String,
    #[serde(default, deserialize_with = "lenient::text")]
    pub summary: Option<String>,
    #[serde(default)]
    pub current_status: Option<Status>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub request_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub reporter: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub assignee: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub created_date: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub updated_date: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct TicketDetails {
    #[serde(default, deserialize_with = "lenient::text")]
    pub summary: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub description: Option<String>,
    #[serde(default)]
    pub current_status: Option<Status>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub request_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub priority: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub reporter: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub assignee: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub created_date: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub updated_date: Option<String>,
}

/// A status is a name in lists and `{"name", "id"}` in details.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum Status {
    Name(String),
    Object {
        #[serde(default, deserialize_with = "lenient::text")]
        name: Option<String>,
    },
}

impl Status {
    pub fn name(&self) -> Option<String> {
        match self {
            Status::Name(name) => Some(name.trim().to_string()).filter(|n| !n.is_empty()),
            Status::Object { name } => name.clone(),
        }
    }
}

#[derive(Deserialize, Debug, Clone)]
pub struct Comment {
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient::text")]
    pub author: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub body: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub created: Option<String>,
    #[serde(default = "public_by_default", deserialize_with = "lenient::flag")]
    pub public: bool,
}

fn public_by_default() -> bool {
    true
}

/// The shapes of ARMOR's error bodies (contracts/armor.md, Errors).
#[derive(Deserialize, Debug, Default)]
pub struct ErrorBody {
    #[serde(default, rename = "Message", alias = "message", deserialize_with = "lenient::text")]
    pub message: Option<String>,
    #[serde(default, rename = "Detail", alias = "detail", deserialize_with = "lenient::text")]
    pub detail: Option<String>,
    #[serde(default, rename = "ReferenceId", alias = "referenceId", deserialize_with = "lenient::text")]
    pub reference_id: Option<String>,
    #[serde(default, rename = "ErrorCode", alias = "errorCode", deserialize_with = "lenient::text")]
    pub error_code: Option<String>,
}

fn required_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    lenient::text(d)?.ok_or_else(|| serde::de::Error::custom("expected a ticket key, found nothing"))
}

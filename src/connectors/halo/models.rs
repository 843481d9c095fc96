//! Halo's records as they come: ids as numbers or strings, names padded or missing, lists wrapped
//! in paging envelopes or bare.

use crate::lenient;
use serde::Deserialize;

#[derive(Deserialize, Debug, Clone)]
pub struct Token {
    #[serde(default, deserialize_with = "lenient::text")]
    pub access_token: Option<String>,
    /// Seconds; Halo issues an hour.
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub expires_in: Option<i64>,
}

/// `{"error": "invalid_client", "error_description": ...}` from the auth server.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct OAuthError {
    #[serde(default, deserialize_with = "lenient::text")]
    pub error: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub error_description: Option<String>,
}

/// A named lookup value: ticket types, statuses, teams, agents, impact and urgency.
#[derive(Deserialize, Debug, Clone)]
pub struct Named {
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: Option<String>,
    /// Statuses: "closed" for the ones that close a ticket.
    #[serde(default, rename = "type", deserialize_with = "lenient::text")]
    pub kind: Option<String>,
    /// Agents.
    #[serde(default, deserialize_with = "lenient::text")]
    pub email: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Priority {
    #[serde(deserialize_with = "lenient::id")]
    pub priorityid: u64,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: Option<String>,
}

#[derive(Deserialize, Debug, Clone, PartialEq)]
pub struct CustomField {
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub value: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Client {
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub inactive: bool,
    #[serde(default)]
    pub customfields: Option<Vec<CustomField>>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct ClientPage {
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub record_count: Option<i64>,
    #[serde(default)]
    pub clients: Vec<Client>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Ticket {
    #[serde(deserialize_with = "lenient::id")]
    pub id: u64,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub status_id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub third_party_id_string: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub summary: Option<String>,
    /// HTML.
    #[serde(default, deserialize_with = "lenient::text")]
    pub details: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub client_id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub client_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub tickettype_id: Option<i64>,
    #[serde(default)]
    pub priority: Option<PriorityName>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub team: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub agent_id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub agent_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub category_1: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub dateoccurred: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub last_update: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub closure_note: Option<String>,
    #[serde(default)]
    pub customfields: Option<Vec<CustomField>>,
}

/// `"priority": {"name": "High"}` on a ticket.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct PriorityName {
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct TicketPage {
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub record_count: Option<i64>,
    #[serde(default)]
    pub tickets: Vec<Ticket>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Action {
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub ticket_id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub outcome: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub who: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub datetime: Option<String>,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub hiddenfromuser: bool,
    #[serde(default, deserialize_with = "lenient::text")]
    pub note: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub note_html: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct ActionPage {
    #[serde(default)]
    pub actions: Vec<Action>,
}

/// A client's site: where Halo keeps the address.
#[derive(Deserialize, Debug, Clone)]
pub struct Site {
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub client_id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: Option<String>,
    #[serde(default)]
    pub delivery_address: Option<DeliveryAddress>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub country: Option<String>,
}

/// Halo's address lines: street, street 2, town, county or state, postcode.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct DeliveryAddress {
    #[serde(default, deserialize_with = "lenient::text")]
    pub line1: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub line3: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub line4: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub postcode: Option<String>,
}

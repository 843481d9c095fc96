//! The directory's answers, as tolerant serde types (a user without a mailbox has no `mail`).

use crate::lenient;
use serde::Deserialize;

pub use crate::connectors::graph_mail::models::Page;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default, deserialize_with = "lenient::text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub mail: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub user_principal_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::texts")]
    pub proxy_addresses: Vec<String>,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub account_enabled: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailboxSettings {
    #[serde(default, deserialize_with = "lenient::text")]
    pub user_purpose: Option<String>,
}

/// One entry of the stand-in for Exchange's mailbox permissions.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    #[serde(default, deserialize_with = "lenient::text")]
    pub user: Option<String>,
    #[serde(default, deserialize_with = "lenient::texts")]
    pub access_rights: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Member {
    #[serde(default, deserialize_with = "lenient::text")]
    pub id: Option<String>,
    #[serde(rename = "@odata.type", default, deserialize_with = "lenient::text")]
    pub odata_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    #[serde(default, deserialize_with = "lenient::text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub display_name: Option<String>,
}

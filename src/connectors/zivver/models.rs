//! Zivver's SCIM resources, as tolerant serde types that keep what they do not know: an update is
//! a full PUT of the resource as read, so Zivver's own attributes (`ExternalAccountId`, the
//! division, schemas, anything new) go back as they came.

use crate::lenient;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ZIVVER_USER: &str = "urn:ietf:params:scim:schemas:zivver:0.1:User";
pub const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ZIVVER_GROUP: &str = "urn:ietf:params:scim:schemas:zivver:0.1:Group";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Debug, Deserialize)]
pub struct List<T> {
    #[serde(rename = "totalResults", default, deserialize_with = "lenient::opt_int")]
    pub total_results: Option<i64>,
    #[serde(rename = "Resources", default = "Vec::new")]
    pub resources: Vec<T>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Name {
    #[serde(default, deserialize_with = "lenient::text", skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct UserExtension {
    #[serde(default, deserialize_with = "lenient::texts")]
    pub aliases: Vec<String>,
    #[serde(default, deserialize_with = "lenient::texts")]
    pub delegates: Vec<String>,
    /// Write-only: never read back, and a PUT without it clears it.
    #[serde(rename = "SsoAccountKey", default, skip_serializing_if = "Option::is_none")]
    pub sso_account_key: Option<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct User {
    #[serde(default, deserialize_with = "lenient::text", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "userName", default, deserialize_with = "lenient::text")]
    pub user_name: Option<String>,
    #[serde(default)]
    pub name: Option<Name>,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub active: bool,
    #[serde(rename = "urn:ietf:params:scim:schemas:zivver:0.1:User", default)]
    pub zivver: UserExtension,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct MemberRef {
    #[serde(default, deserialize_with = "lenient::text")]
    pub value: Option<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct GroupExtension {
    #[serde(default, deserialize_with = "lenient::texts")]
    pub aliases: Vec<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Group {
    #[serde(default, deserialize_with = "lenient::text", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "externalId", default, deserialize_with = "lenient::text")]
    pub external_id: Option<String>,
    #[serde(rename = "displayName", default, deserialize_with = "lenient::text")]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "members")]
    pub members: Vec<MemberRef>,
    #[serde(rename = "urn:ietf:params:scim:schemas:zivver:0.1:Group", default)]
    pub zivver: GroupExtension,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

fn members<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<MemberRef>, D::Error> {
    Ok(Option::<Vec<MemberRef>>::deserialize(d)?.unwrap_or_default())
}

/// A SCIM error: `{"schemas", "status", "detail"}`; Zivver's 429 is `{"code", "message", ...}`.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default, deserialize_with = "lenient::text")]
    pub detail: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_user_goes_back_with_what_zivver_owns() {
        let read = json!({"id": "u1", "schemas": [CORE_USER, ZIVVER_USER], "userName": "Ann@X", "name": {"formatted": "Ann", "givenName": "A"},
            "active": true, "meta": {"resourceType": "User"},
            ZIVVER_USER: {"aliases": ["a@x", null], "delegates": null, "ExternalAccountId": "ext-9"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"division": "/Sales"}});
        let mut user: User = serde_json::from_value(read).unwrap();
        assert_eq!((user.zivver.aliases.clone(), user.zivver.delegates.is_empty()), (vec!["a@x".to_string()], true));
        user.zivver.sso_account_key = Some("obj-1".into());
        let sent = serde_json::to_value(&user).unwrap();
        assert_eq!(sent[ZIVVER_USER]["ExternalAccountId"], "ext-9");
        assert_eq!(sent[ZIVVER_USER]["SsoAccountKey"], "obj-1");
        assert_eq!(sent["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["division"], "/Sales");
        assert_eq!(sent["name"]["givenName"], "A");
    }
}

//! Microsoft Graph's answers, as tolerant serde types: missing, null and padded values are normal
//! (a draft has no sender, a message may have no subject).

use crate::lenient;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct Token {
    #[serde(default, deserialize_with = "lenient::text")]
    pub access_token: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub expires_in: Option<i64>,
}

/// A page of a collection; `@odata.nextLink` is followed as given.
#[derive(Debug, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default, deserialize_with = "lenient::text")]
    pub next_link: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Folder {
    #[serde(deserialize_with = "lenient::text")]
    pub id: Option<String>,
    #[serde(rename = "displayName", default, deserialize_with = "lenient::text")]
    pub display_name: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    #[serde(default, deserialize_with = "lenient::text")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub internet_message_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub subject: Option<String>,
    #[serde(default)]
    pub from: Option<Recipient>,
    #[serde(default, deserialize_with = "recipients")]
    pub to_recipients: Vec<Recipient>,
    #[serde(default, deserialize_with = "recipients")]
    pub cc_recipients: Vec<Recipient>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub received_date_time: Option<String>,
    #[serde(default)]
    pub body: Option<Body>,
    #[serde(default, deserialize_with = "lenient::flag")]
    pub has_attachments: bool,
    #[serde(default, deserialize_with = "lenient::texts")]
    pub categories: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    #[serde(default)]
    pub email_address: Option<EmailAddress>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct EmailAddress {
    #[serde(default, deserialize_with = "lenient::text")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub address: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Body {
    #[serde(default, deserialize_with = "lenient::text")]
    pub content_type: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
}

/// Graph's errors: `{"error": {"code", "message"}}`; the token endpoint's: `{"error": "invalid_client",
/// "error_description"}`.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: Option<ErrorField>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub error_description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ErrorField {
    Code(String),
    Detail {
        #[serde(default, deserialize_with = "lenient::text")]
        code: Option<String>,
        #[serde(default, deserialize_with = "lenient::text")]
        message: Option<String>,
    },
}

impl ErrorBody {
    /// "code: message", as short as the answer allows.
    pub fn describe(&self) -> Option<String> {
        let (code, message) = match &self.error {
            Some(ErrorField::Code(code)) => (Some(code.clone()), self.error_description.clone()),
            Some(ErrorField::Detail { code, message }) => (code.clone(), message.clone()),
            None => (None, self.error_description.clone()),
        };
        match (code, message) {
            (Some(code), Some(message)) => Some(format!("{code}: {message}")),
            (code, message) => code.or(message),
        }
    }

    pub fn code(&self) -> Option<&str> {
        match &self.error {
            Some(ErrorField::Code(code)) => Some(code),
            Some(ErrorField::Detail { code, .. }) => code.as_deref(),
            None => None,
        }
    }
}

/// A null recipient list is an empty one.
fn recipients<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Recipient>, D::Error> {
    Ok(Option::<Vec<Recipient>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerates_what_graph_sends() {
        let page: Page<Message> = lenient::from_json(
            br#"{"value": [{"id": "AAMk=", "internetMessageId": " <a@b> ", "subject": null,
                 "toRecipients": null, "ccRecipients": [{"emailAddress": {"address": "c@d"}}],
                 "receivedDateTime": "2026-11-30T08:15:02Z", "body": {"contentType": "text", "content": "hi"},
                 "hasAttachments": null, "categories": [null, " x "], "extra": 1}],
                 "@odata.nextLink": "https://graph.microsoft.com/v1.0/x?$skiptoken=1"}"#,
        )
        .unwrap();
        let message = &page.value[0];
        assert_eq!(message.internet_message_id.as_deref(), Some("<a@b>"));
        assert!(message.subject.is_none() && message.from.is_none() && message.to_recipients.is_empty());
        assert_eq!(message.categories, ["x"]);
        assert!(page.next_link.is_some());
        let token: ErrorBody =
            lenient::from_json(br#"{"error": "invalid_client", "error_description": "AADSTS7000215"}"#).unwrap();
        assert_eq!(token.describe().as_deref(), Some("invalid_client: AADSTS7000215"));
        let graph: ErrorBody =
            lenient::from_json(br#"{"error": {"code": "InefficientFilter", "message": "too complex"}}"#).unwrap();
        assert_eq!(graph.code(), Some("InefficientFilter"));
    }
}

//! A message as a ticket: keyed by its `internetMessageId` (the same in every folder and after
//! a move), the whole body as text, and what a reviewer needs as facts — from, to, cc, sent.

use super::models::{Message, Recipient};
use crate::types::{CustomField, Ticket};

pub const STATUS: &str = "New";
const NO_SUBJECT: &str = "(no subject)";

/// "Name <address>", or whichever of the two there is.
pub fn person(recipient: &Recipient) -> Option<String> {
    let email = recipient.email_address.as_ref()?;
    match (email.name.as_deref(), email.address.as_deref()) {
        (Some(name), Some(address)) if !name.eq_ignore_ascii_case(address) => Some(format!("{name} <{address}>")),
        (_, Some(address)) => Some(address.to_string()),
        (Some(name), None) => Some(name.to_string()),
        (None, None) => None,
    }
}

fn people(list: &[Recipient]) -> String {
    list.iter().filter_map(person).collect::<Vec<_>>().join("; ")
}

/// The key a message is found by: its `internetMessageId`, or (a draft has none) its Graph id.
pub fn key(message: &Message) -> Option<&str> {
    message.internet_message_id.as_deref().or(message.id.as_deref())
}

pub fn body_text(message: &Message) -> String {
    let Some(body) = &message.body else { return String::new() };
    let content = body.content.as_deref().unwrap_or_default();
    // Asked for text; a body Graph cannot convert still comes as HTML.
    let text = if body.content_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("html")) {
        crate::html::to_text(content)
    } else {
        content.replace("\r\n", "\n")
    };
    text.trim().to_string()
}

pub fn ticket(mailbox: &str, message: &Message) -> Ticket {
    let received = message.received_date_time.as_deref().map(crate::lenient::iso_utc);
    let from = message.from.as_ref().and_then(person);
    let fact = |name: &str, value: String| CustomField { name: name.into(), value };
    let mut facts = vec![
        fact("from", from.clone().unwrap_or_default()),
        fact("to", people(&message.to_recipients)),
        fact("cc", people(&message.cc_recipients)),
        fact("sent", received.clone().unwrap_or_default()),
        fact("message_id", message.internet_message_id.clone().unwrap_or_default()),
        fact("has_attachments", message.has_attachments.to_string()),
    ];
    if let Some(id) = &message.id {
        facts.push(fact("graph_id", id.clone()));
    }
    Ticket {
        system: super::SYSTEM.name.to_string(),
        key: key(message).unwrap_or_default().to_string(),
        account_id: mailbox.to_string(),
        summary: message.subject.clone().unwrap_or_else(|| NO_SUBJECT.to_string()),
        description: Some(body_text(message)),
        status: STATUS.to_string(),
        request_type: None,
        priority: None,
        severity: None,
        reporter: message.from.as_ref().and_then(|f| f.email_address.as_ref()).and_then(|e| e.address.clone()),
        assignee: None,
        created: received.clone(),
        updated: received,
        url: None,
        comments: Some(Vec::new()),
        tags: Some(message.categories.clone()),
        facts: Some(facts),
    }
}

/// A fact of a ticket, by name.
pub fn fact<'a>(ticket: &'a Ticket, name: &str) -> Option<&'a str> {
    ticket.facts.iter().flatten().find(|f| f.name == name).map(|f| f.value.as_str()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lenient;

    #[test]
    fn a_message_becomes_a_ticket_with_every_field() {
        let message: Message = lenient::from_json(
            br#"{"id": "AAMkImm=", "internetMessageId": "<x1@mail.example>", "subject": "  FW: Invoice  ",
                "from": {"emailAddress": {"name": "Ann Lee", "address": "ann@contoso.example"}},
                "toRecipients": [{"emailAddress": {"name": "Phishing", "address": "phishing@contoso.example"}},
                                 {"emailAddress": {"address": "b@contoso.example"}}],
                "ccRecipients": [], "receivedDateTime": "2026-11-30T08:15:02Z",
                "body": {"contentType": "html", "content": "<p>Click &amp; pay</p><p>now</p>"},
                "hasAttachments": true}"#,
        )
        .unwrap();
        let ticket = ticket("phishing@contoso.example", &message);
        assert_eq!((ticket.key.as_str(), ticket.summary.as_str()), ("<x1@mail.example>", "FW: Invoice"));
        assert_eq!(ticket.description.as_deref(), Some("Click & pay\nnow"));
        assert_eq!(ticket.reporter.as_deref(), Some("ann@contoso.example"));
        assert_eq!(fact(&ticket, "from"), Some("Ann Lee <ann@contoso.example>"));
        assert_eq!(fact(&ticket, "to"), Some("Phishing <phishing@contoso.example>; b@contoso.example"));
        assert_eq!(fact(&ticket, "cc"), None);
        assert_eq!(fact(&ticket, "sent"), Some("2026-11-30T08:15:02Z"));
        assert_eq!(fact(&ticket, "has_attachments"), Some("true"));
        assert_eq!(fact(&ticket, "graph_id"), Some("AAMkImm="));
    }

    #[test]
    fn a_message_without_subject_sender_or_message_id_still_maps() {
        let message: Message = lenient::from_json(br#"{"id": "AAMk2", "subject": null, "body": null}"#).unwrap();
        let ticket = ticket("m@x", &message);
        assert_eq!((ticket.key.as_str(), ticket.summary.as_str()), ("AAMk2", NO_SUBJECT));
        assert_eq!((ticket.reporter, ticket.description.as_deref()), (None, Some("")));
    }
}

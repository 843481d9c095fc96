//! Halo's ticket webhooks, pure: who may deliver (the shared secret), and what a delivery means
//! (one trigger event per ticket in it).
//!
//! The model, from Halo's webhook documentation (Configuration > Integrations > Webhooks): a
//! delivery is one JSON object, or an array of them when the webhook batches. Each object carries
//! Halo's envelope (`id`, `event`/`event_name`, `webhook_id`, `object_id`, `timestamp`, ...) and,
//! with the "full object" and "small object" payloads, the ticket under `ticket`; a custom payload
//! may be the ticket itself (its `id` is then the ticket's). An "event information only" payload
//! has no ticket: its `object_id` is the ticket's id. Ids come as numbers or strings; nulls and
//! unknown fields are tolerated; status, priority and the other lookups may be ids or display
//! values (Halo's "use display value" setting), so each is carried as given.
//!
//! The trigger: `?trigger=<name>` on the URL when given (one Halo webhook per event), else the
//! event's name: status / closed / resolved / re-opened → `ticket_status_changed`; new / logged /
//! created (not an action or note) → `ticket_created`; anything else → `ticket_updated`.

use super::protocol::trigger_event;
use crate::lenient;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const TRIGGERS: [&str; 3] = ["ticket_created", "ticket_updated", "ticket_status_changed"];

/// Compares without stopping at the first difference, so the time taken says nothing of the secret.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    let longest = a.len().max(b.len());
    let mut difference = u8::from(a.len() != b.len());
    for i in 0..longest {
        difference |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    difference == 0
}

/// Whether the delivery carries the secret: `Authorization: Basic` with it as the password (any
/// user name: Halo's "Basic Authentication"), or `Authorization: Bearer <secret>` (Halo's "Bearer
/// Token").
pub fn authorized(authorization: Option<&str>, secret: &str) -> bool {
    let Some(value) = authorization.map(str::trim) else { return false };
    let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return same(credentials.as_bytes(), secret.as_bytes());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credentials) else { return false };
        let password = decoded.iter().position(|&b| b == b':').map(|i| &decoded[i + 1..]).unwrap_or_default();
        return same(password, secret.as_bytes());
    }
    false
}

/// The trigger_event messages of one delivery, in its order, or why the delivery is refused
/// (nothing is emitted then: all or nothing).
pub fn events(body: &[u8], trigger: Option<&str>) -> Result<Vec<Value>, String> {
    if let Some(name) = trigger
        && !TRIGGERS.contains(&name)
    {
        return Err(format!("`trigger={name}` is not one of {}", TRIGGERS.join(", ")));
    }
    let delivery: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON ({e})"))?;
    let items = match delivery {
        Value::Array(items) => items,
        item @ Value::Object(_) => vec![item],
        _ => return Err("the body must be a ticket object or an array of them".into()),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let at = |problem: String| format!("item {i}: {problem}");
            if !item.is_object() {
                return Err(at("not an object".into()));
            }
            let envelope: Envelope = serde_json::from_value(item.clone()).map_err(|e| at(e.to_string()))?;
            let nested = item.get("ticket").filter(|t| t.is_object());
            let ticket_json = nested.unwrap_or(&item);
            let ticket: HaloTicket = serde_json::from_value(ticket_json.clone()).map_err(|e| at(e.to_string()))?;
            // Without a nested ticket, an envelope's own `id` is the delivery's, not the ticket's.
            let id = match nested {
                Some(_) => ticket.id.clone().or(envelope.object_id.clone()),
                None => envelope.object_id.clone().or(ticket.id.clone()),
            }
            .ok_or_else(|| at("the ticket has no id".into()))?;
            let name = trigger.map(str::to_string).unwrap_or_else(|| trigger_of(envelope.event.as_deref()).into());
            let event_id = event_id(&name, &id, &ticket, ticket_json);
            let output = TriggerOutput {
                event_id,
                event: envelope.event.clone(),
                webhook_id: envelope.webhook_id.clone(),
                timestamp: envelope.timestamp.as_deref().map(lenient::iso_utc),
                ticket: TicketOutput::from(ticket, id),
            };
            Ok(trigger_event(&name, serde_json::to_value(output).unwrap_or(Value::Null)))
        })
        .collect()
}

/// The trigger an event's name means (see the module's documentation).
pub fn trigger_of(event: Option<&str>) -> &'static str {
    let name = event.unwrap_or_default().to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
    if has(&["status", "closed", "resolved", "reopen", "re-open"]) {
        "ticket_status_changed"
    } else if has(&["new", "logged", "created"]) && !has(&["action", "note", "comment", "reply"]) {
        "ticket_created"
    } else {
        "ticket_updated"
    }
}

/// Stable for one version of one ticket under one trigger: a delivery Halo repeats (a retry, a
/// second webhook) gives the same id, so a consumer can drop the repeat. The version is Halo's
/// `last_update` where sent, else the ticket's whole content.
fn event_id(trigger: &str, id: &str, ticket: &HaloTicket, json: &Value) -> String {
    let version = ticket.last_update.clone().unwrap_or_else(|| json.to_string());
    let digest = Sha256::digest(format!("{trigger}\n{id}\n{version}").as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("halo:{id}:{hex}")
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Envelope {
    #[serde(deserialize_with = "lenient::text")]
    object_id: Option<String>,
    #[serde(deserialize_with = "lenient::text", alias = "event_name", alias = "eventname")]
    event: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    webhook_id: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    timestamp: Option<String>,
}

/// A Halo ticket as webhooks send it; every field optional, unknown ones ignored.
#[derive(Deserialize, Default)]
#[serde(default)]
struct HaloTicket {
    #[serde(deserialize_with = "lenient::text")]
    id: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    summary: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    details: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    status_id: Option<String>,
    #[serde(deserialize_with = "name_or_text", alias = "status_name")]
    status: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    tickettype_id: Option<String>,
    #[serde(deserialize_with = "name_or_text", alias = "tickettype_name")]
    tickettype: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    client_id: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    client_name: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    site_id: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    site_name: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    user_id: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    user_name: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    agent_id: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    agent_name: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    team_id: Option<String>,
    #[serde(deserialize_with = "name_or_text")]
    team: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    priority_id: Option<String>,
    #[serde(deserialize_with = "name_or_text")]
    priority: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    category_1: Option<String>,
    #[serde(deserialize_with = "name_or_text")]
    impact: Option<String>,
    #[serde(deserialize_with = "name_or_text")]
    urgency: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    third_party_id_string: Option<String>,
    #[serde(deserialize_with = "truthy")]
    hasbeenclosed: Option<bool>,
    #[serde(deserialize_with = "lenient::text")]
    closure_note: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    dateoccurred: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    last_update: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    dateclosed: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    deadlinedate: Option<String>,
    customfields: Option<Vec<Option<HaloField>>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct HaloField {
    #[serde(deserialize_with = "lenient::text")]
    id: Option<String>,
    #[serde(deserialize_with = "lenient::text")]
    name: Option<String>,
    #[serde(deserialize_with = "any_text")]
    value: Option<String>,
    #[serde(deserialize_with = "any_text")]
    display: Option<String>,
}

/// What a workflow gets: the ticket with Halo's fields under neutral names, absent when not sent.
#[derive(Serialize)]
struct TriggerOutput {
    event_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
    ticket: TicketOutput,
}

#[derive(Serialize)]
struct TicketOutput {
    system: &'static str,
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    /// As text (Halo sends HTML).
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket_type_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    site_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    site_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    team_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    team: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    impact: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    urgency: Option<String>,
    /// `third_party_id_string`: the key a sync or create_ticket stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    external_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    closed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    closure_note: Option<String>,
    /// ISO-8601 UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    updated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    closed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deadline: Option<String>,
    custom_fields: Vec<FieldOutput>,
}

#[derive(Serialize)]
struct FieldOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
}

impl TicketOutput {
    fn from(t: HaloTicket, id: String) -> TicketOutput {
        let date = |d: Option<String>| d.as_deref().map(lenient::iso_utc);
        // With display values on, Halo sends the status's name in `status_id`.
        let status = t.status.or_else(|| t.status_id.clone().filter(|s| s.parse::<i64>().is_err()));
        TicketOutput {
            system: "halo",
            id,
            summary: t.summary,
            details: t.details.map(|d| crate::html::to_text(&d)).filter(|d| !d.is_empty()),
            status_id: t.status_id,
            status,
            ticket_type_id: t.tickettype_id,
            ticket_type: t.tickettype,
            client_id: t.client_id,
            client_name: t.client_name,
            site_id: t.site_id,
            site_name: t.site_name,
            user_id: t.user_id,
            user_name: t.user_name,
            agent_id: t.agent_id,
            agent_name: t.agent_name,
            team_id: t.team_id,
            team: t.team,
            priority_id: t.priority_id,
            priority: t.priority,
            category: t.category_1,
            impact: t.impact,
            urgency: t.urgency,
            external_key: t.third_party_id_string,
            closed: t.hasbeenclosed,
            closure_note: t.closure_note,
            created: date(t.dateoccurred),
            updated: date(t.last_update),
            closed_at: date(t.dateclosed),
            deadline: date(t.deadlinedate),
            custom_fields: t
                .customfields
                .unwrap_or_default()
                .into_iter()
                .flatten()
                .map(|f| FieldOutput { id: f.id, name: f.name, value: f.display.or(f.value) })
                .collect(),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NameOrText {
    Named {
        #[serde(default, deserialize_with = "lenient::text")]
        name: Option<String>,
    },
    Text(#[serde(deserialize_with = "lenient::text")] Option<String>),
}

/// A lookup as a name (`"High"`, `7`) or an object with a `name` (`{"id": 7, "name": "High"}`).
fn name_or_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<NameOrText>::deserialize(d)? {
        None => None,
        Some(NameOrText::Named { name }) | Some(NameOrText::Text(name)) => name,
    })
}

/// `true`/`false`, `1`/`0` or their text.
fn truthy<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Number(f64),
        Text(String),
    }
    Ok(match Option::<Flag>::deserialize(d)? {
        None => None,
        Some(Flag::Bool(b)) => Some(b),
        Some(Flag::Number(n)) => Some(n != 0.0),
        Some(Flag::Text(t)) => match t.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
    })
}

/// Any value as text: strings and numbers as they are, lists and objects as compact JSON.
fn any_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn basic(user: &str, password: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
    }

    #[test]
    fn the_secret_is_accepted_as_basic_password_or_bearer_token_and_nothing_else() {
        let secret = "s3cret:with-colon";
        assert!(authorized(Some(&basic("halo", secret)), secret));
        assert!(authorized(Some(&basic("", secret)), secret));
        assert!(authorized(Some(&format!("Bearer {secret}")), secret));
        assert!(authorized(Some(&format!("bearer  {secret} ")), secret));
        assert!(!authorized(Some(&basic(secret, "x")), secret), "the secret as the user name");
        assert!(!authorized(Some(&basic("halo", "s3cret")), secret), "a prefix");
        assert!(!authorized(Some("Bearer "), secret));
        assert!(!authorized(Some(secret), secret), "no scheme");
        assert!(!authorized(Some("Basic !!!"), secret));
        assert!(!authorized(None, secret));
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"abc", b"abcd") && !same(b"", b"a"));
    }

    fn ticket(id: Value, status_id: Value, last_update: &str) -> Value {
        json!({"id": id, "summary": "Printer on fire", "details": "<p>It <b>burns</b></p>", "status_id": status_id,
               "client_id": 12, "client_name": "Acme", "agent_id": null, "agent_name": "Unassigned", "team": "1st Line",
               "priority_id": "3", "priority": {"id": 3, "name": "High"}, "tickettype_id": 1,
               "dateoccurred": "2026-05-01T10:00:00", "last_update": last_update, "hasbeenclosed": false,
               "third_party_id_string": "armor:T-1", "unknown_thing": {"deep": [1, 2]},
               "customfields": [{"id": 140, "name": "CFInvestigation", "value": 7, "display": "INV-7"}, null]})
    }

    #[test]
    fn one_object_is_one_event_with_the_ticket_and_a_stable_id() {
        let delivery = json!({"id": "d-1", "event": "New Ticket Logged", "webhook_id": "w-9", "object_id": 1001,
                              "timestamp": "2026-05-01T10:00:05Z", "ticket": ticket(json!(1001), json!(1), "2026-05-01T10:00:00")});
        let body = delivery.to_string();
        let events = events(body.as_bytes(), None).unwrap();
        assert_eq!(events.len(), 1);
        let event = &events[0];
        assert_eq!(event["type"], "trigger_event");
        assert_eq!(event["version"], "v1");
        assert_eq!(event["body"]["trigger"], "ticket_created");
        assert_eq!(event["body"]["meta"], json!({}));
        let output = &event["body"]["output"];
        assert_eq!(output["event"], "New Ticket Logged");
        assert_eq!(output["webhook_id"], "w-9");
        let t = &output["ticket"];
        assert_eq!(t["id"], "1001");
        assert_eq!(t["summary"], "Printer on fire");
        assert_eq!(t["details"], "It burns");
        assert_eq!(t["status_id"], "1");
        assert!(t.get("status").is_none(), "a numeric status id is no name");
        assert_eq!(t["client_id"], "12");
        assert_eq!(t["client_name"], "Acme");
        assert!(t.get("agent_id").is_none());
        assert_eq!(t["priority"], "High");
        assert_eq!(t["priority_id"], "3");
        assert_eq!(t["team"], "1st Line");
        assert_eq!(t["external_key"], "armor:T-1");
        assert_eq!(t["closed"], false);
        assert_eq!(t["created"], "2026-05-01T10:00:00Z");
        assert_eq!(t["custom_fields"], json!([{"id": "140", "name": "CFInvestigation", "value": "INV-7"}]));
        let id = output["event_id"].as_str().unwrap();
        assert!(id.starts_with("halo:1001:"), "{id}");
        // The same delivery again (Halo retries): the same id. A newer version: another.
        assert_eq!(super::events(body.as_bytes(), None).unwrap()[0]["body"]["output"]["event_id"], id);
        let newer = body.replace("\"last_update\":\"2026-05-01T10:00:00\"", "\"last_update\":\"2026-05-01T11:00:00\"");
        assert_ne!(super::events(newer.as_bytes(), None).unwrap()[0]["body"]["output"]["event_id"], id);
    }

    #[test]
    fn a_batch_is_one_event_per_ticket_in_order_with_each_trigger_from_its_event() {
        let delivery = json!([
            {"event": "New Ticket Logged", "ticket": ticket(json!(1), json!(1), "a")},
            {"event_name": "Ticket Updated", "ticket": ticket(json!("2"), json!(2), "b")},
            {"event": "Status Changed", "ticket": ticket(json!(3), json!("In Progress"), "c")},
            {"event": "Ticket Closed", "ticket": ticket(json!(4), json!(9), "d")},
            {"event": "New Action Added", "ticket": ticket(json!(5), json!(2), "e")},
            // A custom payload: the ticket itself, no envelope.
            ticket(json!(6), json!(1), "f"),
            // Event information only: the ticket's id in object_id.
            {"id": "delivery-7", "event": "Ticket Reassigned", "object_id": "7"},
        ]);
        let events = events(delivery.to_string().as_bytes(), None).unwrap();
        let triggers: Vec<_> = events.iter().map(|e| e["body"]["trigger"].as_str().unwrap()).collect();
        assert_eq!(
            triggers,
            [
                "ticket_created",
                "ticket_updated",
                "ticket_status_changed",
                "ticket_status_changed",
                "ticket_updated",
                "ticket_updated",
                "ticket_updated"
            ]
        );
        let ids: Vec<_> = events.iter().map(|e| e["body"]["output"]["ticket"]["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["1", "2", "3", "4", "5", "6", "7"]);
        assert_eq!(events[2]["body"]["output"]["ticket"]["status"], "In Progress", "a display value is the name");
        let distinct: std::collections::BTreeSet<_> =
            events.iter().map(|e| e["body"]["output"]["event_id"].to_string()).collect();
        assert_eq!(distinct.len(), 7);
    }

    #[test]
    fn the_url_may_name_the_trigger() {
        let body = json!({"event": "New Ticket Logged", "ticket": {"id": 1}}).to_string();
        let events = events(body.as_bytes(), Some("ticket_status_changed")).unwrap();
        assert_eq!(events[0]["body"]["trigger"], "ticket_status_changed");
        assert!(super::events(body.as_bytes(), Some("ticket_deleted")).unwrap_err().contains("not one of"));
    }

    #[test]
    fn a_malformed_delivery_is_refused_whole() {
        let refused = |body: &str| events(body.as_bytes(), None).unwrap_err();
        assert!(refused("not json").contains("not JSON"));
        assert!(refused("42").contains("object or an array"));
        assert!(refused("\"x\"").contains("object or an array"));
        assert!(refused(r#"[{"ticket": {"id": 1}}, 7]"#).contains("item 1: not an object"));
        assert!(
            refused(r#"[{"ticket": {"id": 1}}, {"ticket": {"summary": "no id"}}]"#)
                .contains("item 1: the ticket has no id")
        );
        assert!(refused(r#"{"ticket": {"id": {"nested": 1}}}"#).contains("item 0"));
        assert_eq!(events(b"[]", None).unwrap(), Vec::<Value>::new(), "an empty batch is no event");
    }

    #[test]
    fn event_names_map_to_the_three_triggers() {
        for (name, trigger) in [
            (Some("New Ticket Logged"), "ticket_created"),
            (Some("Ticket Created"), "ticket_created"),
            (Some("Ticket Status Changed"), "ticket_status_changed"),
            (Some("Ticket Resolved"), "ticket_status_changed"),
            (Some("Ticket Re-Opened"), "ticket_status_changed"),
            (Some("Ticket Updated"), "ticket_updated"),
            (Some("New Note Added"), "ticket_updated"),
            (None, "ticket_updated"),
        ] {
            assert_eq!(trigger_of(name), trigger, "{name:?}");
        }
    }
}

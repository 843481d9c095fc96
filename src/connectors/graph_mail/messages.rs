//! The mailbox as one account, and the folder's messages as tickets: pages of 100 in received
//! order from the checkpoint, each page by the `@odata.nextLink` Graph gives. Messages received in
//! the same second are neither lost nor repeated (the checkpoint keeps the ones read in the last
//! minute); a maximum or the time budget ends the read early with a cursor.

use super::models::{Folder, Message, Page};
use super::{GraphMail, MAX_CONCURRENT, SERVICE, encode, mapping};
use crate::actions::Context;
use crate::desk::given;
use crate::error::Error;
use crate::http::{Flow, Method, Request};
use crate::log;
use crate::sync::keys;
use crate::sync::watermark::Watermark;
use crate::types::{Account, GetAccountsInput, GetTicketsInput, GetTicketsOutput, Ticket};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use std::collections::HashSet;

/// Received times have whole seconds, and a message can show up in the index a little after its
/// time: the next read starts a minute early and leaves out what it read.
pub type Checkpoint = Watermark<60_000>;

const PAGE_SIZE: usize = 100;
const SELECT: &str =
    "id,internetMessageId,subject,from,toRecipients,ccRecipients,receivedDateTime,body,hasAttachments,categories";
/// Pages one read may take before the folder is taken to be endless (5 million messages).
const MAX_PAGES: usize = 50_000;
const DAY_MS: i64 = 86_400_000;
/// Folders Graph knows by name in every mailbox, in place of an id.
const WELL_KNOWN: &[&str] = &[
    "inbox",
    "archive",
    "deleteditems",
    "junkemail",
    "drafts",
    "sentitems",
    "outbox",
    "clutter",
    "conversationhistory",
];

pub fn accounts(mail: &GraphMail, input: &GetAccountsInput) -> Vec<Account> {
    let mailbox = &mail.api.mailbox;
    let wanted = given(&input.account_id).or(given(&input.parent_id)).is_none_or(|id| id.eq_ignore_ascii_case(mailbox));
    let active = input.statuses.as_ref().is_none_or(|s| s.iter().any(|s| s.trim().eq_ignore_ascii_case("active")));
    (wanted && active)
        .then(|| Account {
            system: super::SYSTEM.name.to_string(),
            id: mailbox.clone(),
            name: mailbox.clone(),
            parent_id: None,
            status: "Active".into(),
            account_type: Some("Mailbox".into()),
            currency: None,
            address: None,
        })
        .into_iter()
        .collect()
}

/// The id of the folder `name` names: a well-known name as it is, a display name looked up.
fn find_folder(ctx: &mut Context, mail: &mut GraphMail, name: &str) -> Result<String, Error> {
    if WELL_KNOWN.iter().any(|w| w.eq_ignore_ascii_case(name)) {
        return Ok(name.to_ascii_lowercase());
    }
    let filter = format!("displayName eq '{}'", name.replace('\'', "''"));
    let path = mail.api.mailbox_path(&format!("/mailFolders?$filter={}&$select=id,displayName", encode(&filter)));
    let folders: Page<Folder> = mail.get(ctx, path, &format!("finding the folder {name:?}"))?;
    folders
        .value
        .into_iter()
        .find(|f| f.display_name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .and_then(|f| f.id)
        .ok_or_else(|| {
            Error::new(
                format!("{} has no folder named {name:?}.", mail.api.mailbox),
                "Give a top-level folder's display name as Outlook shows it, or a well-known name such as inbox.",
                "",
            )
        })
}

/// The id of the folder the connection reads (looked up once).
pub fn folder_id(ctx: &mut Context, mail: &mut GraphMail) -> Result<String, Error> {
    if let Some(id) = &mail.folder_id {
        return Ok(id.clone());
    }
    let name = mail.folder.clone();
    let id = find_folder(ctx, mail, &name)?;
    mail.folder_id = Some(id.clone());
    Ok(id)
}

fn checkpoint(field: &str, text: &str) -> Result<Checkpoint, Error> {
    Checkpoint::parse(text).map_err(|problem| {
        Error::invalid(
            field,
            problem,
            "Pass the next_since (or next_cursor) of a previous get_tickets call unchanged, or an ISO-8601 instant \
             such as 2024-05-01T00:00:00Z.",
        )
    })
}

fn received_ms(message: &Message) -> Option<i64> {
    let text = crate::lenient::iso_utc(message.received_date_time.as_deref()?);
    DateTime::parse_from_rfc3339(&text).ok().map(|t| t.timestamp_millis())
}

/// What a message is known by in the checkpoint: short, and the same after a move.
fn seen_id(message: &Message) -> String {
    keys::digest(mapping::key(message).unwrap_or_default())
}

pub fn read(ctx: &mut Context, mail: &mut GraphMail, input: &GetTicketsInput) -> Result<GetTicketsOutput, Error> {
    crate::connectors::refuse_other_filters(input, &super::SYSTEM, &["look_back_days"])?;
    ctx.http.cap_in_flight(MAX_CONCURRENT);
    let start = match (given(&input.cursor), given(&input.since)) {
        (Some(cursor), _) => Some(checkpoint("input.cursor", cursor)?),
        (None, Some(since)) => Some(checkpoint("input.since", since)?),
        (None, None) => input
            .look_back_days
            .map(|days| Checkpoint::at(ctx.http.unix_seconds() as i64 * 1000 - i64::from(days) * DAY_MS)),
    };
    let started_ms = ctx.http.unix_seconds() as i64 * 1000;
    let mailbox = mail.api.mailbox.clone();
    let accounts: Vec<&str> = input.account_ids.iter().flatten().map(|a| a.trim()).filter(|a| !a.is_empty()).collect();
    let wanted_status = |ticket: &Ticket| {
        input.statuses.as_ref().is_none_or(|s| s.iter().any(|s| s.trim().eq_ignore_ascii_case(&ticket.status)))
    };
    let max = input.max_tickets.map_or(usize::MAX, |m| m as usize);
    let folder = folder_id(ctx, mail)?;

    let mut query = format!("$top={PAGE_SIZE}&$select={SELECT}&$orderby={}", encode("receivedDateTime asc"));
    if let Some(start) = &start {
        // Whole seconds, rounded down: Graph compares received times in seconds.
        let from = DateTime::<Utc>::from_timestamp_millis(start.from_ms().div_euclid(1000) * 1000)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        // The property the order is by comes first in the filter, or Graph refuses it as inefficient.
        query.push_str(&format!("&$filter={}", encode(&format!("receivedDateTime ge {from}"))));
    }
    let first = mail.api.get(mail.api.mailbox_path(&format!("/mailFolders/{}/messages?{query}", encode(&folder))));
    let reserve_ms = (ctx.tuning.time_budget_ms / 10).min(10_000);
    let mut messages: Vec<Message> = Vec::new();
    let mut keys_read: HashSet<String> = HashSet::new();
    let mut next: Option<Request> = Some(first);
    let (mut pages, mut complete, mut server_ms) = (0usize, false, None::<i64>);
    let skip_all = !accounts.is_empty() && !accounts.iter().any(|a| a.eq_ignore_ascii_case(&mailbox));
    while let Some(request) = next.take().filter(|_| !skip_all) {
        if messages.len() >= max || ctx.http.remaining_ms() <= reserve_ms {
            break;
        }
        pages += 1;
        if pages > MAX_PAGES {
            return Err(Error::new(
                "Microsoft Graph kept returning more pages of messages.",
                "Read a narrower window (since), or report this to Microsoft support.",
                format!("{MAX_PAGES} pages"),
            ));
        }
        let outcome = ctx.http.send_with(&mut mail.auth, request)?;
        if let Some(at) = outcome.as_ref().ok().and_then(|r| r.date_ms()) {
            server_ms = Some(server_ms.map_or(at, |s| s.min(at)));
        }
        let page: Page<Message> = mail.api.decode("listing the folder's messages", outcome)?;
        log::progress("reading messages", messages.len() + page.value.len(), messages.len() + page.value.len());
        let mut cut = false;
        for message in page.value {
            if messages.len() >= max {
                cut = true;
                break;
            }
            let Some(key) = mapping::key(&message).map(str::to_string) else {
                log::info(format!("{SERVICE}: a message without an id was left out"));
                continue;
            };
            let at = received_ms(&message).unwrap_or(started_ms);
            if start.as_ref().is_some_and(|s| !s.is_new(&seen_id(&message), at)) || !keys_read.insert(key) {
                continue;
            }
            messages.push(message);
        }
        match page.next_link {
            Some(link) if !cut => next = Some(mail.api.next(&link)?),
            Some(_) => {}
            None => complete = !cut,
        }
    }
    complete |= skip_all;

    let read_ids: Vec<(String, i64)> =
        messages.iter().map(|m| (seen_id(m), received_ms(m).unwrap_or(started_ms))).collect();
    let reached = start.unwrap_or_default().advanced(read_ids.iter().map(|(id, at)| (id.as_str(), *at)));
    let tickets: Vec<Ticket> =
        messages.iter().map(|m| mapping::ticket(&mailbox, m)).filter(|t| wanted_status(t)).collect();
    if !complete {
        log::info(format!("stopped early after {} messages: pass next_cursor to continue", tickets.len()));
    }
    let (next_cursor, next_since) = reached.read_outcome(complete, server_ms.unwrap_or(started_ms).min(started_ms));
    Ok(GetTicketsOutput {
        source: super::SYSTEM.name.to_string(),
        count: tickets.len() as u32,
        tickets,
        next_cursor,
        next_since,
    })
}

enum Filing {
    Tag(usize),
    Move(usize),
}

/// Tags (then moves) each posted message as the connection asks; a failure is logged, never lost
/// work: the incident exists, and the message is only filed.
pub fn file_posted(ctx: &mut Context, mail: &mut GraphMail, tickets: &[&Ticket]) {
    if mail.processed_category.is_none() && mail.processed_folder.is_none() {
        return;
    }
    ctx.http.cap_in_flight(MAX_CONCURRENT);
    let destination = match mail.processed_folder.clone() {
        Some(name) => match find_folder(ctx, mail, &name) {
            Ok(id) => Some(id),
            Err(error) => {
                log::info(format!("{SERVICE}: posted messages are not filed: {}", error.cause));
                None
            }
        },
        None => None,
    };
    let ids: Vec<Option<&str>> = tickets.iter().map(|t| mapping::fact(t, "graph_id")).collect();
    let message_path = |id: &str, rest: &str| mail.api.mailbox_path(&format!("/messages/{}{rest}", encode(id)));
    let mut tags: Vec<(Filing, Request)> = Vec::new();
    if let Some(category) = &mail.processed_category {
        for (i, (ticket, id)) in tickets.iter().zip(&ids).enumerate() {
            let categories = ticket.tags.clone().unwrap_or_default();
            if let Some(id) = id
                && !categories.iter().any(|c| c.eq_ignore_ascii_case(category))
            {
                let mut categories = categories;
                categories.push(category.clone());
                let body = json!({ "categories": categories });
                tags.push((Filing::Tag(i), mail.api.send(Method::Patch, message_path(id, ""), &body)));
            }
        }
    }
    let moves: Vec<(Filing, Request)> = match &destination {
        Some(folder) => (ids.iter().enumerate())
            .filter_map(|(i, id)| {
                let body = json!({ "destinationId": folder });
                Some((Filing::Move(i), mail.api.send(Method::Post, message_path((*id)?, "/move"), &body)))
            })
            .collect(),
        None => Vec::new(),
    };
    let mut failed = 0;
    for jobs in [tags, moves] {
        let result = ctx.http.run(&mut mail.auth, jobs, |job, outcome, _| {
            let (i, what) = match job {
                Filing::Tag(i) => (i, "tagging"),
                Filing::Move(i) => (i, "filing"),
            };
            if !matches!(&outcome, Ok(r) if r.is_success()) {
                failed += 1;
                let why = match &outcome {
                    Ok(response) => format!("HTTP {}: {}", response.status, super::error_message(response)),
                    Err(error) => error.to_string(),
                };
                log::info(format!("{SERVICE}: {what} message {} failed ({why})", tickets[i].key));
            }
            Flow::Continue
        });
        if let Err(error) = result {
            log::info(format!("{SERVICE}: posted messages are not filed: {}", error.cause));
            return;
        }
    }
    if failed > 0 {
        log::info(format!("{SERVICE}: {failed} posted messages were not tagged or filed; their incidents exist"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::run_with;
    use crate::http::fake::{FakeTransport, Reply};
    use crate::types::{Connection, GraphMailConnection};
    use serde_json::Value;

    fn connection() -> Connection {
        Connection {
            graph_mail: Some(GraphMailConnection {
                tenant: "contoso.example".into(),
                client_id: "app-1".into(),
                client_secret: "graph-S3cret".into(),
                mailbox: "Phishing@Contoso.example".into(),
                folder: Some("Phishing".into()),
                processed_folder: None,
                processed_category: None,
                login_url: Some("https://login.example".into()),
                graph_url: Some("https://graph.example".into()),
            }),
            ..crate::actions::hostile_tests::no_sections()
        }
    }

    fn message(n: usize, at: &str) -> Value {
        json!({"id": format!("imm-{n}"), "internetMessageId": format!("<m{n}@x>"), "subject": format!("s{n}"),
               "receivedDateTime": at, "body": {"contentType": "text", "content": "b"}})
    }

    /// Five messages, three of them in one second, in pages of two by nextLink.
    fn graph(request: &Request) -> Reply {
        let path = request.path.as_str();
        if path.contains("/oauth2/v2.0/token") {
            return Reply::json(200, &json!({"access_token": "t", "expires_in": 3599}));
        }
        if path.contains("/mailFolders?") {
            return Reply::json(200, &json!({"value": [{"id": "F1", "displayName": "Phishing"}]}));
        }
        let at = ["2026-11-30T08:00:00Z", "2026-11-30T08:00:01Z", "2026-11-30T08:00:01Z", "2026-11-30T08:00:01Z"];
        let all: Vec<Value> =
            (0..5).map(|n| message(n, at.get(n).copied().unwrap_or("2026-11-30T08:00:02Z"))).collect();
        let page = path.split("$skiptoken=").nth(1).and_then(|p| p.parse::<usize>().ok()).unwrap_or(0);
        let items: Vec<Value> = all.iter().skip(page * 2).take(2).cloned().collect();
        let mut body = json!({"value": items});
        if page * 2 + 2 < all.len() {
            body["@odata.nextLink"] = json!(format!(
                "https://graph.example/v1.0/users/phishing%40contoso.example/mailFolders/F1/messages?$skiptoken={}",
                page + 1
            ));
        }
        Reply::json(200, &body)
    }

    fn input(since: Option<&str>) -> GetTicketsInput {
        let mut input = crate::actions::hostile_tests::tickets_input();
        input.source = Some("graph_mail".into());
        input.since = since.map(str::to_string);
        input
    }

    #[test]
    fn every_page_is_read_by_its_link_and_the_same_second_is_neither_lost_nor_repeated() {
        let mut transport = FakeTransport::new(graph);
        let output = run_with(&connection(), &mut transport, |ctx| {
            read(ctx, &mut GraphMail::from_connection(ctx.connection, "test")?, &input(None))
        })
        .unwrap();
        assert_eq!(output.count, 5);
        let first = transport.sent.iter().find(|r| r.path.contains("/messages?")).unwrap();
        assert!(
            first.path.contains("$orderby=receivedDateTime%20asc") && !first.path.contains("$filter"),
            "{}",
            first.path
        );
        assert!(first.headers.iter().any(|(n, v)| n == "prefer" && v.contains("ImmutableId") && v.contains("text")));
        assert!(transport.peak_in_flight <= MAX_CONCURRENT);

        // Cut after 3 (inside the second 08:00:01): the cursor's read leaves out those and finds the rest.
        let mut capped = input(None);
        capped.max_tickets = Some(3);
        let mut transport = FakeTransport::new(graph);
        let cut = run_with(&connection(), &mut transport, |ctx| {
            read(ctx, &mut GraphMail::from_connection(ctx.connection, "test")?, &capped)
        })
        .unwrap();
        let cursor = cut.next_cursor.clone().unwrap();
        let mut rest = input(None);
        rest.cursor = Some(cursor);
        let mut transport = FakeTransport::new(graph);
        let next = run_with(&connection(), &mut transport, |ctx| {
            read(ctx, &mut GraphMail::from_connection(ctx.connection, "test")?, &rest)
        })
        .unwrap();
        let keys: Vec<&str> = cut.tickets.iter().chain(&next.tickets).map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["<m0@x>", "<m1@x>", "<m2@x>", "<m3@x>", "<m4@x>"]);
        let filtered = transport.sent.iter().find(|r| r.path.contains("/messages?")).unwrap();
        assert!(
            filtered.path.contains("$filter=receivedDateTime%20ge%202026-11-30T07%3A59%3A01Z"),
            "{}",
            filtered.path
        );
    }

    #[test]
    fn a_next_link_to_another_host_is_refused() {
        let mut transport = FakeTransport::new(|request: &Request| {
            if request.path.contains("/messages?") {
                let body = json!({"value": [message(0, "2026-11-30T08:00:00Z")],
                                  "@odata.nextLink": "https://evil.example/v1.0/x"});
                return Reply::json(200, &body);
            }
            graph(request)
        });
        let error = run_with(&connection(), &mut transport, |ctx| {
            read(ctx, &mut GraphMail::from_connection(ctx.connection, "test")?, &input(None))
        })
        .unwrap_err();
        assert!(error.cause.contains("points away from Graph"), "{error:?}");
        assert!(transport.sent.iter().all(|r| r.origin.host() != "evil.example"));
    }
}

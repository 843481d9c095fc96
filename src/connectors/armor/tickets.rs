//! ARMOR tickets of one, several or all accounts: every page, then details and comments, all
//! in parallel. A maximum or the time budget ends the run early with a cursor to resume from.

use super::cursor::{self, Cursor, Stream};
use super::{Armor, ArmorApi, mapping, models};
use crate::actions::Context;
use crate::error::Error;
use crate::http::{HttpError, Request, Response};
use crate::log;
use crate::sync::paging::PageGuard;
use crate::types::{GetTicketsInput, GetTicketsOutput, Ticket};
use chrono::{DateTime, Utc};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// ARMOR's largest page.
const PAGE_SIZE: usize = 50;
/// `next_since` lies this far before the run started: clocks differ a little, and a ticket that
/// changed while the run was reading is read again next time rather than missed.
const SINCE_OVERLAP_S: i64 = 300;

enum Job {
    Page { stream: usize },
    Details { slot: usize },
    Comments { slot: usize },
}

/// A ticket being completed (details and comments may still be in flight).
struct Slot {
    stream: usize,
    summary: models::TicketSummary,
    details: Option<models::TicketDetails>,
    comments: Option<Vec<models::Comment>>,
}

struct Filters {
    statuses: Option<Vec<String>>,
    since: Option<DateTime<Utc>>,
}

impl Filters {
    fn keep(&self, t: &models::TicketSummary) -> bool {
        if let Some(statuses) = &self.statuses {
            let status = t.current_status.as_ref().and_then(models::Status::name).unwrap_or_default();
            if !statuses.iter().any(|s| s.trim().eq_ignore_ascii_case(&status)) {
                return false;
            }
        }
        match self.since {
            None => true,
            // Tickets whose dates can't be read are kept: better a ticket too many than one lost.
            Some(since) => {
                let after = |d: &Option<String>| d.as_deref().and_then(|d| parse_instant(d).ok()).map(|d| d > since);
                match (after(&t.created_date), after(&t.updated_date)) {
                    (None, None) => true,
                    (created, updated) => created == Some(true) || updated == Some(true),
                }
            }
        }
    }
}

pub fn read(ctx: &mut Context, armor: &mut Armor, input: &GetTicketsInput) -> Result<GetTicketsOutput, Error> {
    crate::connectors::refuse_other_filters(input, &super::SYSTEM, &["request_types"])?;
    let filters = Filters {
        statuses: input.statuses.clone(),
        since: match &input.since {
            None => None,
            Some(text) => Some(parse_instant(text).map_err(|_| {
                Error::invalid(
                    "input.since",
                    format!("{text:?} is not an ISO-8601 date-time"),
                    "Give e.g. 2024-05-01T00:00:00Z.",
                )
            })?),
        },
    };
    // When the run began reading, in unix seconds: a resumed run keeps its first call's instant.
    let (mut streams, mut started) = match &input.cursor {
        Some(text) if !text.trim().is_empty() => {
            let resumed = cursor::decode(text).map_err(|problem| {
                Error::invalid(
                    "input.cursor",
                    problem,
                    "Pass the next_cursor of a previous get_tickets call unchanged, or leave cursor out.",
                )
            })?;
            (resumed.streams, resumed.started)
        }
        _ => {
            let accounts = match &input.account_ids {
                Some(ids) if !ids.is_empty() => super::account_ids(ids, "input.account_ids")?,
                _ => armor.accounts(&mut ctx.http, armor.api.account_id)?.iter().map(|a| a.id).collect(),
            };
            let types: Vec<Option<String>> = match &input.request_types {
                Some(types) if !types.is_empty() => types.iter().map(|t| Some(t.trim().to_string())).collect(),
                _ => vec![None],
            };
            let streams = accounts
                .iter()
                .flat_map(|a| {
                    types.iter().map(move |t| Stream {
                        account_id: *a,
                        request_type: t.clone(),
                        page_token: None,
                        skip: 0,
                    })
                })
                .collect();
            (streams, Some(ctx.http.unix_seconds() as i64))
        }
    };
    let max = input.max_tickets.map(|m| m as usize).unwrap_or(usize::MAX);
    let with_details = input.include_details.unwrap_or(true);
    let with_comments = input.include_comments.unwrap_or(true);
    // Stop starting pages when this little of the budget is left, to return in time.
    let reserve_ms = (ctx.tuning.time_budget_ms / 5).min(30_000);

    let mut slots: Vec<Slot> = Vec::new();
    let mut guards: Vec<PageGuard> = (0..streams.len()).map(|_| PageGuard::default()).collect();
    // Streams that still have pages to read and are not being read; started as the window allows.
    let mut waiting: Vec<usize> = (0..streams.len()).rev().collect();
    let mut unfinished: Vec<bool> = vec![true; streams.len()];
    let mut reading = 0usize;
    let lists_at_once = ctx.tuning.max_concurrency.max(1);
    let (mut tickets_done, mut tickets_known) = (0usize, 0usize);

    let api = &armor.api;
    let page_request = |s: &Stream| page_request(api, s);
    let mut first_jobs = Vec::new();
    while reading < lists_at_once {
        let Some(i) = waiting.pop() else { break };
        reading += 1;
        first_jobs.push((Job::Page { stream: i }, page_request(&streams[i])));
    }

    ctx.http.try_run(&mut armor.auth, first_jobs, |job, outcome, next| {
        match job {
            Job::Page { stream } => {
                reading -= 1;
                // ARMOR's own clock, so updatedDate compares with like; the earliest instant is the safe one.
                if let (Some(start), Some(server)) =
                    (started, outcome.as_ref().ok().and_then(|r| r.date_ms()).map(|ms| ms.div_euclid(1000)))
                {
                    started = Some(start.min(server));
                }
                let page = read_page(api, &streams[stream], outcome)?;
                let items = page.items.unwrap_or_default();
                if streams[stream].page_token.is_none() {
                    tickets_known += items.len();
                }
                let skip = std::mem::take(&mut streams[stream].skip).min(items.len());
                let mut paused = false;
                for (position, summary) in items.into_iter().enumerate().skip(skip) {
                    if slots.len() >= max {
                        streams[stream].skip = position;
                        paused = true;
                        break;
                    }
                    if !filters.keep(&summary) {
                        continue;
                    }
                    let slot = slots.len();
                    let key = summary.issue_key_id.clone();
                    slots.push(Slot { stream, summary, details: None, comments: None });
                    let account = streams[stream].account_id;
                    if with_details {
                        next.push(
                            Job::Details { slot },
                            api.get(ArmorApi::path(&["tickets", &key, "details"]), account),
                        );
                    }
                    if with_comments {
                        next.push(
                            Job::Comments { slot },
                            api.get(ArmorApi::path(&["tickets", &key, "comments"]), account),
                        );
                    }
                    if !with_details && !with_comments {
                        tickets_done += 1;
                    }
                }
                if !paused {
                    match page.next_page_token {
                        Some(token) => {
                            guards[stream].next(&token).map_err(|problem| endless(&streams[stream], problem))?;
                            streams[stream].page_token = Some(token);
                        }
                        None => unfinished[stream] = false,
                    }
                }
                // Keep reading this list, or start another, unless the maximum or the budget says stop.
                let can_go_on = slots.len() < max && next.remaining_ms() > reserve_ms;
                let mut candidates = Vec::new();
                if unfinished[stream] && !paused {
                    candidates.push(stream);
                }
                while candidates.len() + reading < lists_at_once {
                    match waiting.pop() {
                        Some(s) => candidates.push(s),
                        None => break,
                    }
                }
                for s in candidates {
                    if can_go_on {
                        reading += 1;
                        next.push(Job::Page { stream: s }, page_request(&streams[s]));
                    } else {
                        waiting.push(s);
                    }
                }
            }
            Job::Details { slot } => {
                let what = format!("reading ticket {}", slots[slot].summary.issue_key_id);
                slots[slot].details = Some(api.decode::<models::TicketDetails>(&what, outcome)?);
                tickets_done += complete(&slots[slot], with_details, with_comments) as usize;
            }
            Job::Comments { slot } => {
                let what = format!("reading the comments of ticket {}", slots[slot].summary.issue_key_id);
                // Some old tickets answer 404 instead of an empty list.
                let comments = match outcome {
                    Ok(response) if response.status == 404 => Ok(Vec::new()),
                    outcome => api.decode::<Vec<models::Comment>>(&what, outcome),
                };
                slots[slot].comments = Some(comments?);
                tickets_done += complete(&slots[slot], with_details, with_comments) as usize;
            }
        }
        log::progress("reading tickets", tickets_done, tickets_known.max(slots.len()));
        Ok(())
    })?;

    let mut tickets: Vec<(usize, Ticket)> = slots
        .into_iter()
        .map(|slot| {
            let account = streams[slot.stream].account_id;
            let comments = with_comments.then_some(slot.comments.unwrap_or_default());
            (slot.stream, mapping::ticket(account, &slot.summary, slot.details.as_ref(), comments))
        })
        .collect();
    // Stream order, then page order: the same result whatever the concurrency.
    tickets.sort_by_key(|(stream, _)| *stream);
    let tickets: Vec<Ticket> = tickets.into_iter().map(|(_, t)| t).collect();
    let rest: Vec<Stream> = streams.into_iter().zip(unfinished).filter(|(_, u)| *u).map(|(s, _)| s).collect();
    let (next_cursor, next_since) = if rest.is_empty() {
        let since = started.and_then(|t| DateTime::from_timestamp(t - SINCE_OVERLAP_S, 0));
        (None, since.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
    } else {
        log::info(format!("stopped early with {} ticket lists unfinished: pass next_cursor to continue", rest.len()));
        (Some(cursor::encode(&Cursor::new(rest, started))), None)
    };
    Ok(GetTicketsOutput {
        source: super::SYSTEM.name.to_string(),
        count: tickets.len() as u32,
        tickets,
        next_cursor,
        next_since,
    })
}

fn page_request(api: &ArmorApi, stream: &Stream) -> Request {
    let encode = |v: &str| utf8_percent_encode(v, NON_ALPHANUMERIC).to_string();
    let mut path = format!("/tickets/list?maxResults={PAGE_SIZE}&orderBy=created&orderByDirection=desc");
    if let Some(t) = &stream.request_type {
        path.push_str(&format!("&requestType={}", encode(t)));
    }
    if let Some(token) = &stream.page_token {
        path.push_str(&format!("&nextPageToken={}", encode(token)));
    }
    api.get(path, stream.account_id)
}

fn read_page(
    api: &ArmorApi,
    stream: &Stream,
    outcome: Result<Response, HttpError>,
) -> Result<models::TicketPage, Error> {
    if stream.page_token.is_some() && matches!(&outcome, Ok(r) if r.status == 400) {
        return Err(Error::new(
            format!(
                "ARMOR no longer accepts the page token of account {}'s ticket list (it expired).",
                stream.account_id
            ),
            "Run get_tickets again without the cursor; post_tickets skips tickets it already posted.",
            "HTTP 400 on a next-page token",
        ));
    }
    api.decode(&format!("listing the tickets of account {}", stream.account_id), outcome)
}

fn complete(slot: &Slot, with_details: bool, with_comments: bool) -> bool {
    (!with_details || slot.details.is_some()) && (!with_comments || slot.comments.is_some())
}

fn endless(stream: &Stream, problem: String) -> Error {
    Error::new(
        format!("ARMOR kept returning more pages of account {}'s ticket list.", stream.account_id),
        "Report this to ARMOR support; the list never ended (a page token repeated or too many pages).",
        problem,
    )
}

fn parse_instant(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    let normalized = crate::lenient::iso_utc(text);
    DateTime::parse_from_rfc3339(&normalized).map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::run_with;
    use crate::http::fake::{FakeTransport, Reply};
    use crate::types::GetTicketsInput;
    use serde_json::json;

    /// ARMOR answers with its Date 13 minutes before the host's clock (1,700,000,000 = 22:13:20).
    fn armor(request: &crate::http::Request) -> Reply {
        armor_at(request, "Tue, 14 Nov 2023 22:00:00 GMT")
    }

    fn armor_at(request: &crate::http::Request, date: &str) -> Reply {
        let reply = if request.path.starts_with("/tickets/list") {
            Reply::json(
                200,
                &json!({"nextPageToken": null, "items": [
                    {"issueKeyId": "ATS-1", "summary": "old", "currentStatus": "Open", "createdDate": "2023-10-01T00:00:00Z", "updatedDate": "2023-11-01T00:00:00Z"},
                    {"issueKeyId": "ATS-2", "summary": "commented", "currentStatus": "Open", "createdDate": "2023-10-01T00:00:00Z", "updatedDate": "2023-11-14T20:00:00Z"},
                    {"issueKeyId": "ATS-3", "summary": "new", "currentStatus": "New", "createdDate": "2023-11-14T21:00:00Z", "updatedDate": null}
                ]}),
            )
        } else if request.path.ends_with("/details") {
            Reply::json(200, &json!({"description": "d"}))
        } else {
            Reply::json(200, &json!([]))
        };
        reply.with_header("date", date)
    }

    fn input(since: Option<&str>, max_tickets: Option<u32>, cursor: Option<String>) -> GetTicketsInput {
        GetTicketsInput {
            source: None,
            account_ids: Some(vec!["7001".into()]),
            statuses: None,
            request_types: None,
            since: since.map(str::to_string),
            include_details: None,
            include_comments: None,
            max_tickets,
            cursor,
            min_score: None,
            min_alert_count: None,
            tags: None,
            exclude_tags: None,
            look_back_days: None,
        }
    }

    #[test]
    fn since_reads_only_changed_tickets_and_next_since_comes_from_armors_clock() {
        let connection = crate::actions::hostile_tests::connection();
        let mut transport = FakeTransport::new(armor);
        let output = run_with(&connection, &mut transport, |ctx| {
            read(
                ctx,
                &mut Armor::from_connection(ctx.connection, "test").unwrap(),
                &input(Some("2023-11-14T12:00:00Z"), None, None),
            )
        })
        .unwrap();
        let keys: Vec<&str> = output.tickets.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["ATS-2", "ATS-3"]);
        assert!(transport.sent.iter().all(|r| !r.path.contains("ATS-1")), "an unchanged ticket is not read in detail");
        assert_eq!(output.next_since.as_deref(), Some("2023-11-14T21:55:00Z"), "ARMOR's Date less five minutes");
        assert_eq!(output.next_cursor, None);
    }

    #[test]
    fn a_resumed_run_gives_the_next_since_of_its_first_call() {
        let connection = crate::actions::hostile_tests::connection();
        let first = run_with(&connection, &mut FakeTransport::new(armor), |ctx| {
            read(ctx, &mut Armor::from_connection(ctx.connection, "test").unwrap(), &input(None, Some(2), None))
        })
        .unwrap();
        assert_eq!(first.next_since, None, "no next_since before every ticket was read");
        let cursor = first.next_cursor.clone();
        assert!(cursor.is_some());
        // The host clock runs on; the resumed call still reports the first call's instant.
        let clock = std::rc::Rc::new(std::cell::Cell::new(3_600_000));
        let mut later =
            FakeTransport::with_clock(clock, |r: &crate::http::Request| armor_at(r, "Tue, 14 Nov 2023 23:00:00 GMT"));
        let last = run_with(&connection, &mut later, |ctx| {
            read(ctx, &mut Armor::from_connection(ctx.connection, "test").unwrap(), &input(None, Some(2), cursor))
        })
        .unwrap();
        assert_eq!(last.tickets.len(), 1);
        assert_eq!(last.next_since.as_deref(), Some("2023-11-14T21:55:00Z"));
    }
}

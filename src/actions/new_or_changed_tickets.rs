//! The polling trigger: each poll reports the source's tickets created or changed since the last.
//!
//! One poll is one get_tickets from the state's checkpoint (`since`, and `cursor` when the last
//! poll was cut short). Sources read with an overlap (ARMOR's next-since lies a few minutes
//! early; Stellar Cyber's checkpoint starts before its last time), so a ticket version can come
//! back: the state remembers the events reported in the overlap window (`event-id@epoch-ms`, the
//! watermark's seen-entry form) and none is reported twice.

use super::Context;
use crate::connectors;
use crate::error::Error;
use crate::lenient;
use crate::log;
use crate::sync::keys;
use crate::sync::watermark::{self, Watermark};
use crate::types::{
    GetTicketsInput, NewOrChangedTicketsInput, Ticket, TicketChange, TicketEvent, TicketPoll, TriggerState,
};
use chrono::{DateTime, SecondsFormat, Utc};

const ACTION: &str = "new_or_changed_tickets";
/// The trigger state's version.
const VERSION: u32 = 1;
/// Reported events are remembered this long before the checkpoint: a source reads again at most
/// this far back (ARMOR: a ticket changed after its checkpoint; Stellar Cyber and the mailbox: from
/// their overlap before it).
const WINDOW_MS: i64 = 15 * 60 * 1000;
/// At most this many remembered events (the newest are kept): the state stays small.
const MAX_SEEN: usize = 5_000;

pub fn run(
    ctx: &mut Context,
    input: NewOrChangedTicketsInput,
    state: Option<TriggerState>,
) -> Result<TicketPoll, Error> {
    let mut source = connectors::source(ctx.connection, input.source.as_deref(), ACTION)?;
    let system = source.system().name;
    if let Some(state) = &state {
        check(state, system)?;
    }
    let state = state.unwrap_or(TriggerState {
        version: VERSION,
        source: system.to_string(),
        since: None,
        cursor: None,
        seen: Vec::new(),
    });
    let now_ms = ctx.http.unix_seconds() as i64 * 1000;
    // The first poll starts `look_back_minutes` ago: by default, only what changes from now on.
    let first = state.since.as_deref().is_none_or(|s| s.trim().is_empty());
    let since = match state.since.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(since) => since.to_string(),
        None => instant(now_ms - i64::from(input.look_back_minutes.unwrap_or(0)) * 60_000),
    };
    let since_ms = checkpoint_ms(&since)?;
    let mut seen: Vec<(String, i64)> = state
        .seen
        .iter()
        .map(|e| watermark::parse_entry(e))
        .collect::<Result<_, _>>()
        .map_err(|problem| bad_state("state.seen", problem))?;

    let read = source.tickets(
        ctx,
        &GetTicketsInput {
            source: Some(system.to_string()),
            account_ids: input.account_ids,
            statuses: input.statuses,
            request_types: input.request_types,
            since: Some(since.clone()),
            include_details: input.include_details,
            include_comments: Some(input.include_comments.unwrap_or(false)),
            max_tickets: None,
            cursor: state.cursor.filter(|c| !c.trim().is_empty()),
            min_score: input.min_score,
            min_alert_count: input.min_alert_count,
            tags: input.tags,
            exclude_tags: input.exclude_tags,
            look_back_days: None,
        },
    )?;

    let mut tickets: Vec<(i64, Ticket)> =
        read.tickets.into_iter().map(|t| (version(&t).and_then(lenient::epoch_ms).unwrap_or(now_ms), t)).collect();
    // Oldest change first: the order they happened in, whatever order the source listed them in.
    tickets.sort_by(|(a, x), (b, y)| (a, &x.key).cmp(&(b, &y.key)));
    let mut events = Vec::new();
    let mut repeated = 0;
    for (at_ms, ticket) in tickets {
        // A source that reads from before its checkpoint (Stellar Cyber's overlap) may return what
        // changed before the first poll's start: not a change "from now on".
        if first && at_ms <= since_ms {
            continue;
        }
        let event_id = version_id(&ticket, version(&ticket).unwrap_or_default());
        // The id alone names the version; the time only says how long to remember it.
        if seen.iter().any(|(id, _)| *id == event_id) {
            repeated += 1;
            continue;
        }
        // New: created after the last checkpoint, and its creation not reported already (a ticket
        // created in the overlap and changed since is a change). The creation is remembered as the
        // event its first version has.
        let created = ticket.created.as_deref().and_then(|c| Some((version_id(&ticket, c), lenient::epoch_ms(c)?)));
        let change = match created {
            Some((created_id, created_ms)) if created_ms > since_ms => {
                if created_id == event_id {
                    TicketChange::New
                } else if seen.iter().any(|(id, _)| *id == created_id) {
                    TicketChange::Changed
                } else {
                    seen.push((created_id, created_ms));
                    TicketChange::New
                }
            }
            _ => TicketChange::Changed,
        };
        seen.push((event_id.clone(), at_ms));
        events.push(TicketEvent { change, ticket, event_id });
    }
    if repeated > 0 {
        log::info(format!("{repeated} ticket versions read again in the overlap were reported before"));
    }

    let has_more = read.next_cursor.is_some();
    let (since, cursor) = match read.next_cursor {
        // Cut short: the next poll goes on from the cursor, with the same checkpoint.
        Some(cursor) => (since, Some(cursor)),
        // Complete: the source's next checkpoint, never one before this poll's (the first poll's
        // `since` is "now": ARMOR's next-since, a few minutes earlier, would report changes before it).
        None => match read.next_since {
            Some(next) if checkpoint_ms(&next).is_ok_and(|ms| ms >= since_ms) => (next, None),
            _ => (since, None),
        },
    };
    // A source returns nothing from before its checkpoint less its overlap (at most the window).
    let forget_before = checkpoint_ms(&since).unwrap_or(since_ms) - WINDOW_MS;
    seen.retain(|(_, ms)| *ms >= forget_before);
    seen.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    seen.dedup();
    if seen.len() > MAX_SEEN {
        seen.drain(..seen.len() - MAX_SEEN);
    }
    log::info(format!(
        "{} events ({} new tickets)",
        events.len(),
        events.iter().filter(|e| e.change == TicketChange::New).count()
    ));
    Ok(TicketPoll {
        events,
        state: TriggerState {
            version: VERSION,
            source: system.to_string(),
            since: Some(since),
            cursor,
            seen: seen.iter().map(|(id, ms)| watermark::entry(id, *ms)).collect(),
        },
        has_more,
    })
}

/// The ticket's version: when it last changed (when it was created, if it never changed).
fn version(ticket: &Ticket) -> Option<&str> {
    ticket.updated.as_deref().or(ticket.created.as_deref()).map(str::trim).filter(|v| !v.is_empty())
}

/// Stable for one version of one ticket: a short digest of `system:key@updated`.
fn version_id(ticket: &Ticket, version: &str) -> String {
    keys::digest(&format!("{}:{}@{}", ticket.system, ticket.key.trim(), version.trim()))
}

fn check(state: &TriggerState, system: &str) -> Result<(), Error> {
    if state.version != VERSION {
        return Err(bad_state(
            "state.version",
            format!("version {} is not supported (this plugin writes {VERSION})", state.version),
        ));
    }
    if !state.source.eq_ignore_ascii_case(system) {
        return Err(bad_state(
            "state.source",
            format!("it is the state of a {} trigger, not of {system}", state.source),
        ));
    }
    Ok(())
}

fn bad_state(field: &str, problem: impl std::fmt::Display) -> Error {
    Error::invalid(
        field,
        problem,
        "Pass the state the last poll returned unchanged, or clear the trigger's state to start from now.",
    )
}

/// A checkpoint's time (an ISO-8601 instant, or a watermark that starts with one), epoch ms.
fn checkpoint_ms(text: &str) -> Result<i64, Error> {
    Watermark::<0>::parse(text).map(|w| w.at_ms).map_err(|problem| bad_state("state.since", problem))
}

fn instant(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::run_with;
    use crate::http::fake::{FakeTransport, Reply};
    use serde_json::{Value, json};
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    /// The fake clock's start: 2023-11-14T22:13:21Z.
    const START_MS: u64 = 1_000;

    fn iso(clock_ms: i64) -> String {
        instant(1_700_000_000_000 + clock_ms)
    }

    /// ARMOR with one account's tickets as `tickets` holds them now, its Date the fake clock's.
    struct World {
        clock: Rc<Cell<u64>>,
        tickets: Rc<RefCell<Vec<Value>>>,
    }

    impl World {
        fn new() -> World {
            let old = json!({"issueKeyId": "ATS-1", "summary": "old", "currentStatus": "Open",
                "createdDate": "2023-10-01T00:00:00Z", "updatedDate": "2023-11-14T22:00:00Z"});
            World { clock: Rc::new(Cell::new(START_MS)), tickets: Rc::new(RefCell::new(vec![old])) }
        }

        fn upsert(&self, key: &str, created_ms: i64, updated_ms: i64) {
            let mut tickets = self.tickets.borrow_mut();
            tickets.retain(|t| t["issueKeyId"] != key);
            tickets.push(json!({"issueKeyId": key, "summary": key, "currentStatus": "Open",
                "createdDate": iso(created_ms), "updatedDate": iso(updated_ms)}));
        }

        fn poll(
            &self,
            input: NewOrChangedTicketsInput,
            state: Option<TriggerState>,
        ) -> Result<TicketPoll, crate::error::Error> {
            let connection = crate::actions::hostile_tests::connection();
            let (clock, tickets) = (self.clock.clone(), self.tickets.clone());
            let mut transport = FakeTransport::with_clock(self.clock.clone(), move |request| {
                let date = DateTime::<Utc>::from_timestamp_millis(1_700_000_000_000 + clock.get() as i64)
                    .unwrap()
                    .to_rfc2822()
                    .replace("+0000", "GMT");
                let reply = if request.path.starts_with("/tickets/list") {
                    Reply::json(200, &json!({"nextPageToken": null, "items": *tickets.borrow()}))
                } else if request.path.ends_with("/details") {
                    Reply::json(200, &json!({"description": "d"}))
                } else {
                    Reply::json(200, &json!([]))
                };
                reply.with_header("date", &date)
            });
            run_with(&connection, &mut transport, |ctx| run(ctx, input, state))
        }
    }

    fn input(look_back_minutes: Option<u32>) -> NewOrChangedTicketsInput {
        NewOrChangedTicketsInput {
            source: None,
            account_ids: Some(vec!["7001".into()]),
            statuses: None,
            request_types: None,
            include_details: None,
            include_comments: None,
            min_score: None,
            min_alert_count: None,
            tags: None,
            exclude_tags: None,
            look_back_minutes,
        }
    }

    fn summary(poll: &TicketPoll) -> Vec<(String, TicketChange)> {
        poll.events.iter().map(|e| (e.ticket.key.clone(), e.change)).collect()
    }

    const MINUTE: u64 = 60_000;

    #[test]
    fn each_change_is_reported_once_though_armor_reads_with_an_overlap() {
        let world = World::new();
        let first = world.poll(input(None), None).unwrap();
        assert!(first.events.is_empty(), "by default only what changes from now on");
        assert_eq!(first.state.since.as_deref(), Some("2023-11-14T22:13:21Z"), "the first poll's own start");
        assert!(!first.has_more);

        world.upsert("ATS-2", (START_MS + MINUTE) as i64, (START_MS + MINUTE) as i64);
        world.upsert("ATS-1", 0, (START_MS + 2 * MINUTE) as i64);
        world.clock.set(START_MS + 5 * MINUTE);
        let second = world.poll(input(None), Some(first.state)).unwrap();
        assert_eq!(summary(&second), [("ATS-2".into(), TicketChange::New), ("ATS-1".into(), TicketChange::Changed)]);
        assert_eq!(second.state.since.as_deref(), Some("2023-11-14T22:13:21Z"), "ARMOR's next-since is earlier");
        let ids: Vec<&str> = second.events.iter().map(|e| e.event_id.as_str()).collect();
        assert!(ids.iter().all(|id| id.len() == 16) && ids[0] != ids[1]);

        // ARMOR's overlap reads both again: neither is reported twice.
        world.clock.set(START_MS + 7 * MINUTE);
        let third = world.poll(input(None), Some(second.state)).unwrap();
        assert!(third.events.is_empty(), "{:?}", summary(&third));
        assert_eq!(third.state.since.as_deref(), Some("2023-11-14T22:15:21Z"), "ARMOR's Date less five minutes");

        // ATS-2, new in the overlap, changes again: a change, not new a second time.
        world.upsert("ATS-2", (START_MS + MINUTE) as i64, (START_MS + 8 * MINUTE) as i64);
        world.clock.set(START_MS + 9 * MINUTE);
        let fourth = world.poll(input(None), Some(third.state)).unwrap();
        assert_eq!(summary(&fourth), [("ATS-2".into(), TicketChange::Changed)]);
        assert_ne!(fourth.events[0].event_id, second.events[0].event_id, "another version, another id");

        // Much later, nothing changed: the state stays small, and no old event comes back.
        world.clock.set(START_MS + 90 * MINUTE);
        let fifth = world.poll(input(None), Some(fourth.state.clone())).unwrap();
        assert!(fifth.events.is_empty());
        world.clock.set(START_MS + 100 * MINUTE);
        let sixth = world.poll(input(None), Some(fifth.state.clone())).unwrap();
        assert!(sixth.events.is_empty());
        assert!(sixth.state.seen.is_empty(), "events long before the checkpoint are forgotten: {:?}", sixth.state.seen);
    }

    #[test]
    fn look_back_reports_recent_changes_on_the_first_poll() {
        let world = World::new();
        world.upsert("ATS-9", START_MS as i64 - 30 * MINUTE as i64, START_MS as i64 - 10 * MINUTE as i64);
        let poll = world.poll(input(Some(60)), None).unwrap();
        // ATS-1 changed at 22:00, 13 minutes ago; ATS-9 was created 30 minutes ago.
        assert_eq!(summary(&poll), [("ATS-1".into(), TicketChange::Changed), ("ATS-9".into(), TicketChange::New)]);
        let again = world.poll(input(Some(60)), Some(poll.state)).unwrap();
        assert!(again.events.is_empty());
    }

    #[test]
    fn a_state_of_another_source_or_version_is_refused() {
        let world = World::new();
        let state = world.poll(input(None), None).unwrap().state;
        let other = TriggerState { source: "stellar_cyber".into(), ..state.clone() };
        let error = world.poll(input(None), Some(other)).unwrap_err();
        assert!(error.cause.contains("state.source"), "{}", error.cause);
        let newer = TriggerState { version: 2, ..state.clone() };
        assert!(world.poll(input(None), Some(newer)).unwrap_err().cause.contains("state.version"));
        let broken = TriggerState { seen: vec!["no-time".into()], ..state };
        assert!(world.poll(input(None), Some(broken)).unwrap_err().cause.contains("state.seen"));
    }

    #[test]
    fn the_remembered_events_are_bounded() {
        let world = World::new();
        let mut state = world.poll(input(None), None).unwrap().state;
        let base = 1_700_000_000_000 + START_MS as i64;
        state.seen = (0..MAX_SEEN as i64 + 50).map(|i| watermark::entry(&format!("{i:016x}"), base + i)).collect();
        let poll = world.poll(input(None), Some(state)).unwrap();
        assert_eq!(poll.state.seen.len(), MAX_SEEN);
        assert!(
            poll.state.seen.last().unwrap().ends_with(&format!("@{}", base + MAX_SEEN as i64 + 49)),
            "the newest kept"
        );
    }
}

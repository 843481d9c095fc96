//! The pure parts of `sync`: the state a run starts from and leaves, the items it reports, and
//! the drift a reconciliation finds.

use crate::error::Error;
use crate::matching::CompanyRecord;
use crate::sync::watermark::Watermark;
use crate::types::{
    Account, Drift, DriftKind, FieldUpdate, MatchCompaniesOutput, PostOutcome, PostTicketsOutput, PsaTicket,
    SyncAction, SyncBackOutcome, SyncBackOutput, SyncItem, SyncState, SyncStep,
};
use std::collections::{HashMap, HashSet};

pub const STATE_VERSION: u32 = 1;

pub fn initial_state(source: &str, destination: &str) -> SyncState {
    SyncState {
        version: STATE_VERSION,
        source: source.to_string(),
        destination: destination.to_string(),
        since: None,
        read_cursor: None,
        post_cursor: None,
        full_read: false,
        repeat: false,
        back_since: None,
        reconciled: None,
    }
}

/// The state to start from: the one given, checked against the pair, or a first run's.
pub fn starting_state(given: Option<SyncState>, source: &str, destination: &str) -> Result<SyncState, Error> {
    let Some(state) = given else { return Ok(initial_state(source, destination)) };
    let fix = "Pass the state the last sync of this pair returned, unchanged; leave it out to start over (nothing is \
               posted twice).";
    if state.version != STATE_VERSION {
        return Err(Error::invalid(
            "input.state.version",
            format!("version {} is not one this plugin reads (it reads {STATE_VERSION})", state.version),
            fix,
        ));
    }
    for (field, stored, wanted) in [("source", &state.source, source), ("destination", &state.destination, destination)]
    {
        if !stored.trim().eq_ignore_ascii_case(wanted) {
            return Err(Error::invalid(
                &format!("input.state.{field}"),
                format!("the state belongs to {stored:?}, not {wanted:?}"),
                fix,
            ));
        }
    }
    Ok(state)
}

/// Whether this run reconciles: asked for, or the last reconciliation is missing or too old.
pub fn reconciles(asked: Option<bool>, state: &SyncState, now_s: i64, every_hours: u32) -> bool {
    if state.read_cursor.is_some() || state.post_cursor.is_some() {
        // A cycle in progress goes on as it started.
        return state.full_read;
    }
    asked.unwrap_or_else(|| {
        let last = state.reconciled.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t.trim()).ok());
        last.is_none_or(|last| now_s - last.timestamp() >= i64::from(every_hours) * 3600)
    })
}

/// How one run's read and post ended.
pub struct Progress<'a> {
    /// The read's next-cursor: it was cut short.
    pub read_cursor: Option<&'a str>,
    /// The read's next-since, when it was complete.
    pub read_since: Option<&'a str>,
    pub post: &'a PostTicketsOutput,
    /// The sync back's next-since, when it ran and wrote.
    pub back_since: Option<&'a str>,
    /// ISO-8601 UTC, for a completed reconciliation.
    pub reconciled: Option<String>,
}

/// The state after a run, and whether there is more to do at once. It advances only past work
/// that was written: a post the budget cut short resumes on the same read, a failed ticket keeps
/// the cycle's `since` for the next cycle.
pub fn advance(state: &SyncState, full_read: bool, progress: &Progress) -> (SyncState, bool) {
    let mut next = state.clone();
    next.full_read = full_read;
    let post = progress.post;
    next.repeat |= post.counts.failed > post.counts.unfinished;
    if let Some(cursor) = &post.next_cursor {
        next.post_cursor = Some(cursor.clone());
        return (next, true);
    }
    next.post_cursor = None;
    if let Some(cursor) = progress.read_cursor {
        next.read_cursor = Some(cursor.to_string());
        return (next, true);
    }
    next.read_cursor = None;
    if !next.repeat {
        // A full read's next-since is as good a checkpoint as an incremental one's.
        if let Some(since) = progress.read_since {
            next.since = Some(since.to_string());
        }
    }
    next.repeat = false;
    next.full_read = false;
    if let Some(since) = progress.back_since {
        next.back_since = Some(since.to_string());
    }
    if let Some(at) = &progress.reconciled {
        next.reconciled = Some(at.clone());
    }
    (next, false)
}

fn item(step: SyncStep, action: SyncAction, key: &str, target: Option<&str>, reason: String) -> SyncItem {
    SyncItem { step, action, key: key.to_string(), target: target.map(str::to_string), reason, error: None }
}

/// The links written (or planned) and failed.
pub fn link_items(output: &MatchCompaniesOutput) -> Vec<SyncItem> {
    output
        .matched
        .iter()
        .filter_map(|m| {
            let reason = format!("{} matches company {:?} ({:?})", m.account_name, m.company_name, m.method);
            match m.update {
                FieldUpdate::Updated | FieldUpdate::WouldUpdate => {
                    Some(item(SyncStep::Link, SyncAction::Link, &m.account_id, Some(&m.company_id), reason))
                }
                FieldUpdate::Failed => Some(SyncItem {
                    error: m.error.clone(),
                    ..item(SyncStep::Link, SyncAction::Failed, &m.account_id, Some(&m.company_id), reason)
                }),
                FieldUpdate::Unchanged => None,
            }
        })
        .collect()
}

/// The tickets created, updated, closed and noted (or planned), and the failures. `closing`
/// says whether a destination status closes a ticket.
pub fn post_items(output: &PostTicketsOutput, closing: impl Fn(&str) -> bool) -> Vec<SyncItem> {
    let mut items = Vec::new();
    for r in &output.results {
        let target = r.ticket_id.as_deref();
        let status = r.status.as_deref().unwrap_or("unchanged");
        match r.outcome {
            PostOutcome::Created => items.push(item(
                SyncStep::Post,
                SyncAction::Create,
                &r.key,
                target,
                format!("new at the source ({status})"),
            )),
            PostOutcome::Updated => {
                let closes = r.status.as_deref().is_some_and(&closing);
                let action = if closes { SyncAction::Close } else { SyncAction::Update };
                items.push(item(
                    SyncStep::Post,
                    action,
                    &r.key,
                    target,
                    format!("changed at the source (status {status})"),
                ))
            }
            PostOutcome::Failed => items.push(SyncItem {
                error: r.error.clone(),
                ..item(SyncStep::Post, SyncAction::Failed, &r.key, target, "could not be posted".into())
            }),
            PostOutcome::Unchanged | PostOutcome::Skipped => {}
        }
        if r.notes_added > 0 {
            let reason = format!("{} new comment(s) at the source", r.notes_added);
            items.push(item(SyncStep::Post, SyncAction::Note, &r.key, target, reason));
        }
    }
    items
}

/// The source items changed (or planned) by sync back, and the failures.
pub fn back_items(output: &SyncBackOutput) -> Vec<SyncItem> {
    let mut items = Vec::new();
    for r in &output.results {
        let ticket = Some(r.ticket_id.as_str());
        match r.outcome {
            SyncBackOutcome::Updated => {
                let changes: Vec<String> = [("status", &r.status), ("severity", &r.severity)]
                    .iter()
                    .filter_map(|(what, value)| value.as_ref().map(|v| format!("{what} {v}")))
                    .collect();
                if !changes.is_empty() {
                    let reason = format!("ticket {} changed: {}", r.ticket_id, changes.join(", "));
                    items.push(item(SyncStep::Back, SyncAction::Status, &r.key, ticket, reason));
                }
            }
            SyncBackOutcome::Failed => items.push(SyncItem {
                error: r.error.clone(),
                ..item(SyncStep::Back, SyncAction::Failed, &r.key, ticket, "could not be carried back".into())
            }),
            SyncBackOutcome::Unchanged | SyncBackOutcome::Deferred | SyncBackOutcome::Missing => {}
        }
        if r.comments_added > 0 {
            let reason = format!("{} new note(s) on ticket {}", r.comments_added, r.ticket_id);
            items.push(item(SyncStep::Back, SyncAction::Comment, &r.key, ticket, reason));
        }
    }
    items
}

/// A source ticket as the reconciliation sees it.
pub struct SourceTicket<'a> {
    pub key: &'a str,
    pub status: &'a str,
    pub updated: Option<&'a str>,
    /// Whether the status it maps to in the destination closes a ticket.
    pub closed: bool,
    /// The keys the destination may hold it under, current first.
    pub keys: Vec<String>,
}

/// Epoch ms of an ISO-8601 instant or a checkpoint that starts with one.
fn instant_ms(text: &str) -> Option<i64> {
    Watermark::<0>::parse(text).ok().map(|w| w.at_ms)
}

/// Which tickets of a reconciliation's full read are posted: those changed since the checkpoint
/// and those the destination does not hold. The others are left as the destination has them, so
/// a reconciliation never undoes what a technician changed; they are the ones drift compares.
pub fn to_post(tickets: &[SourceTicket], destination: &[PsaTicket], since: Option<&str>) -> Vec<bool> {
    let held: HashSet<&str> = destination.iter().filter_map(|t| t.external_key.as_deref().map(str::trim)).collect();
    let since_ms = since.and_then(instant_ms);
    tickets
        .iter()
        .map(|t| {
            let changed = match (since_ms, t.updated.and_then(instant_ms)) {
                (Some(since), Some(updated)) => updated >= since,
                _ => true,
            };
            changed || !t.keys.iter().any(|k| held.contains(k.as_str()))
        })
        .collect()
}

/// Tickets open on one side and closed on the other. Destination tickets of no source ticket are
/// not this pair's (or the source no longer lists them) and are left alone.
pub fn ticket_drift(source: &[SourceTicket], destination: &[PsaTicket]) -> Vec<Drift> {
    let by_key: HashMap<&str, &PsaTicket> =
        destination.iter().filter_map(|t| t.external_key.as_deref().map(|k| (k.trim(), t))).collect();
    let mut drift = Vec::new();
    for ticket in source {
        let Some(held) = ticket.keys.iter().find_map(|k| by_key.get(k.as_str())) else { continue };
        let kind = match (ticket.closed, held.closed) {
            (false, true) => DriftKind::ClosedInDestination,
            (true, false) => DriftKind::ClosedAtSource,
            _ => continue,
        };
        drift.push(Drift {
            kind,
            key: ticket.key.to_string(),
            target: Some(held.id.clone()),
            detail: format!("{:?} at the source, {:?} in the destination", ticket.status.trim(), held.status.trim()),
        });
    }
    drift
}

/// Links to deleted companies, and accounts no company is linked to (nor `linked` by this run).
pub fn link_drift(accounts: &[Account], companies: &[CompanyRecord], linked: &HashSet<String>) -> Vec<Drift> {
    let mut drift: Vec<Drift> = companies
        .iter()
        .filter(|c| c.deleted)
        .filter_map(|c| {
            let account = c.linked_account.as_deref()?.trim();
            Some(Drift {
                kind: DriftKind::LinkToDeletedCompany,
                key: account.to_string(),
                target: Some(c.id.clone()),
                detail: format!("company {:?} is deleted but still linked to account {account}", c.name.trim()),
            })
        })
        .collect();
    let live: HashSet<&str> =
        companies.iter().filter(|c| !c.deleted).filter_map(|c| c.linked_account.as_deref().map(str::trim)).collect();
    for account in accounts {
        let id = account.id.trim();
        if !live.contains(id) && !linked.contains(id) {
            drift.push(Drift {
                kind: DriftKind::AccountWithoutCompany,
                key: id.to_string(),
                target: None,
                detail: format!(
                    "account {:?} ({}) is linked to no company",
                    account.name.trim(),
                    account.status.trim()
                ),
            });
        }
    }
    drift
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{PostCounts, PostResult};

    fn counts(failed: u32, unfinished: u32) -> PostCounts {
        PostCounts {
            tickets: 0,
            created: 0,
            updated: 0,
            unchanged: 0,
            skipped: 0,
            failed,
            notes_added: 0,
            catch_all: 0,
            resumed: 0,
            unfinished,
        }
    }

    fn posted(failed: u32, unfinished: u32, next_cursor: Option<&str>) -> PostTicketsOutput {
        PostTicketsOutput {
            destination: "connectwise".into(),
            results: Vec::new(),
            counts: counts(failed, unfinished),
            dry_run: false,
            next_cursor: next_cursor.map(str::to_string),
        }
    }

    fn progress<'a>(post: &'a PostTicketsOutput, read_cursor: Option<&'a str>) -> Progress<'a> {
        Progress { read_cursor, read_since: Some("2026-12-01T10:00:00Z"), post, back_since: None, reconciled: None }
    }

    fn psa(id: &str, key: &str, closed: bool) -> PsaTicket {
        PsaTicket {
            system: "connectwise".into(),
            id: id.into(),
            summary: String::new(),
            details: None,
            company_id: "1".into(),
            company_name: None,
            board: None,
            ticket_type: None,
            status: if closed { "Closed" } else { "New" }.into(),
            closed,
            priority: None,
            team: None,
            agent: None,
            category: None,
            external_key: Some(key.into()),
            created: None,
            updated: None,
            closure_note: None,
            custom_fields: Vec::new(),
        }
    }

    fn source<'a>(key: &'a str, updated: &'a str, closed: bool) -> SourceTicket<'a> {
        SourceTicket { key, status: "Open", updated: Some(updated), closed, keys: vec![format!("armor:{key}")] }
    }

    #[test]
    fn a_state_of_another_pair_or_version_is_refused_and_none_starts_over() {
        let state = initial_state("armor", "connectwise");
        assert_eq!(starting_state(None, "armor", "connectwise").unwrap(), state);
        assert!(starting_state(Some(state.clone()), "armor", "halo").unwrap_err().cause.contains("destination"));
        let old = SyncState { version: 9, ..state };
        assert!(starting_state(Some(old), "armor", "connectwise").unwrap_err().cause.contains("version 9"));
    }

    #[test]
    fn a_complete_run_moves_the_checkpoint_and_a_failure_keeps_it_for_the_next_cycle() {
        let start = SyncState { since: Some("2026-11-30T00:00:00Z".into()), ..initial_state("armor", "connectwise") };
        let ok = posted(0, 0, None);
        let (next, more) = advance(&start, false, &progress(&ok, None));
        assert_eq!((next.since.as_deref(), more), (Some("2026-12-01T10:00:00Z"), false));

        let failed = posted(1, 0, None);
        let (next, more) = advance(&start, false, &progress(&failed, None));
        assert_eq!((next.since, next.repeat, more), (start.since.clone(), false, false));
    }

    #[test]
    fn a_cut_short_run_resumes_where_it_stopped() {
        let start = initial_state("armor", "connectwise");
        // The post was cut: the same read again, with the post's cursor.
        let cut = posted(3, 3, Some("c1"));
        let (next, more) = advance(&start, true, &progress(&cut, Some("r2")));
        assert_eq!(
            (next.read_cursor, next.post_cursor.as_deref(), next.full_read, more),
            (None, Some("c1"), true, true)
        );
        // The read was cut, the post of what it read complete: the read goes on.
        let ok = posted(0, 0, None);
        let (next, more) = advance(&start, true, &progress(&ok, Some("r2")));
        assert_eq!((next.read_cursor.as_deref(), next.post_cursor, next.since, more), (Some("r2"), None, None, true));
        // A failure in one part of a cycle keeps the cycle's since when it ends.
        let failed = posted(1, 0, None);
        let (middle, _) = advance(&start, false, &progress(&failed, Some("r2")));
        let (end, more) = advance(&middle, false, &progress(&ok, None));
        assert_eq!((end.since, end.repeat, end.read_cursor, more), (None, false, None, false));
        assert!(
            reconciles(Some(false), &SyncState { full_read: true, ..middle }, 0, 24),
            "a cycle goes on as it began"
        );
    }

    #[test]
    fn reconciliation_comes_when_asked_first_and_when_the_last_is_old() {
        let state = initial_state("armor", "connectwise");
        assert!(reconciles(None, &state, 0, 24));
        let recent = SyncState { reconciled: Some("2026-12-01T00:00:00Z".into()), ..state };
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap().timestamp();
        assert!(!reconciles(None, &recent, at + 3600, 24));
        assert!(reconciles(None, &recent, at + 25 * 3600, 24));
        assert!(reconciles(Some(true), &recent, at, 24));
    }

    #[test]
    fn a_reconciliation_posts_what_changed_or_is_missing_and_compares_the_rest() {
        let held = [psa("10", "armor:A", true), psa("11", "armor:B", false)];
        let tickets = [
            source("A", "2026-11-01T00:00:00Z", false),
            source("B", "2026-12-01T12:00:00Z", false),
            source("C", "2026-11-01T00:00:00Z", false),
        ];
        let chosen = to_post(&tickets, &held, Some("2026-12-01T10:00:00Z#x@1"));
        assert_eq!(chosen, [false, true, true], "A unchanged and held, B changed, C missing");
        let drift = ticket_drift(&tickets[..1], &held);
        assert_eq!(drift.len(), 1);
        assert_eq!((drift[0].kind, drift[0].target.as_deref()), (DriftKind::ClosedInDestination, Some("10")));
        let closed_at_source = [source("B", "2026-11-01T00:00:00Z", true)];
        assert_eq!(ticket_drift(&closed_at_source, &held)[0].kind, DriftKind::ClosedAtSource);
    }

    #[test]
    fn links_to_deleted_companies_and_accounts_without_one_are_drift() {
        let company = |id: &str, deleted: bool, account: Option<&str>| CompanyRecord {
            id: id.into(),
            identifier: id.into(),
            name: format!("Company {id}"),
            address: Default::default(),
            deleted,
            linked_account: account.map(str::to_string),
        };
        let account = |id: &str| Account {
            system: "armor".into(),
            id: id.into(),
            name: format!("Account {id}"),
            parent_id: None,
            status: "Active".into(),
            account_type: None,
            currency: None,
            address: None,
        };
        let companies = [company("1", false, Some("7001")), company("2", true, Some("7002"))];
        let accounts = [account("7001"), account("7002"), account("7003"), account("7004")];
        let linked: HashSet<String> = ["7004".to_string()].into();
        let drift = link_drift(&accounts, &companies, &linked);
        let found: Vec<(DriftKind, &str)> = drift.iter().map(|d| (d.kind, d.key.as_str())).collect();
        assert_eq!(
            found,
            [
                (DriftKind::LinkToDeletedCompany, "7002"),
                (DriftKind::AccountWithoutCompany, "7002"),
                (DriftKind::AccountWithoutCompany, "7003")
            ]
        );
    }

    #[test]
    fn items_say_what_each_write_is() {
        let result = |key: &str, outcome, status: &str, notes| PostResult {
            system: "armor".into(),
            key: key.into(),
            outcome,
            ticket_id: Some("5".into()),
            company_id: None,
            catch_all: false,
            status: Some(status.into()),
            priority: None,
            notes_added: notes,
            error: None,
        };
        let output = PostTicketsOutput {
            results: vec![
                result("A", PostOutcome::Created, "New", 2),
                result("B", PostOutcome::Updated, "Closed", 0),
                result("C", PostOutcome::Updated, "In Progress", 0),
                result("D", PostOutcome::Unchanged, "New", 0),
            ],
            ..posted(0, 0, None)
        };
        let items = post_items(&output, |s| s == "Closed");
        let found: Vec<(SyncAction, &str)> = items.iter().map(|i| (i.action, i.key.as_str())).collect();
        assert_eq!(
            found,
            [(SyncAction::Create, "A"), (SyncAction::Note, "A"), (SyncAction::Close, "B"), (SyncAction::Update, "C")]
        );
    }
}

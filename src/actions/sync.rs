//! One call syncs a pair: link accounts to companies, read from the state's checkpoint, post,
//! carry the destination's changes back, and (on reconciling runs) report the drift. The caller
//! keeps the state between runs; it advances only past work that was written.

use super::Context;
use super::post_tickets;
use crate::connectors::{self, Destination, Source};
use crate::error::Error;
use crate::log;
use crate::matching::{self, MatchOptions};
use crate::sync::link::{self, LinkOptions};
use crate::sync::pair::{self, Progress, SourceTicket};
use crate::sync::{back, keys, resume};
use crate::types::{
    Account, Drift, GetAccountsInput, GetTicketsInput, MatchCompaniesOutput, PostTicketsInput, SearchTicketsInput,
    SyncBackInput, SyncCounts, SyncInput, SyncOutput, SyncPost, SyncRead, Ticket,
};
use std::collections::HashSet;

const DEFAULT_RECONCILE_HOURS: u32 = 24;

pub fn run(ctx: &mut Context, input: SyncInput) -> Result<SyncOutput, Error> {
    let mut source = connectors::source(ctx.connection, input.source.as_deref(), "sync")?;
    let mut destination = connectors::destination(ctx.connection, input.destination.as_deref(), "sync")?;
    let (from, to) = (source.system(), destination.system());
    let state = pair::starting_state(input.state.clone(), from.name, to.name)?;
    let dry_run = input.dry_run.unwrap_or(false);
    let now_s = ctx.http.unix_seconds() as i64;
    let every = input.reconcile_hours.unwrap_or(DEFAULT_RECONCILE_HOURS);
    let full_read = pair::reconciles(input.reconcile, &state, now_s, every);
    let read = input.read.clone().unwrap_or_else(no_read_options);
    let post_options = input.post.clone().unwrap_or_else(no_post_options);
    let mut items = Vec::new();

    let wants_link = input.link.unwrap_or(full_read && state.read_cursor.is_none() && state.post_cursor.is_none());
    let linked = if wants_link && destination.has_companies() {
        let accounts = source.accounts(ctx, &all_accounts(true))?;
        let options = LinkOptions {
            matching: MatchOptions {
                min_confidence: input.min_confidence.unwrap_or(matching::DEFAULT_MIN_CONFIDENCE),
                include_deleted: false,
            },
            overrides: input.overrides.clone().unwrap_or_default(),
            dry_run,
        };
        let output = link::run(ctx, destination.as_mut(), from, &accounts, &options)?;
        items.extend(pair::link_items(&output));
        Some((accounts, output))
    } else {
        None
    };

    let since = if full_read { None } else { state.since.clone() };
    log::info(format!(
        "reading {} tickets {}",
        from.label,
        if full_read {
            "(all: a reconciliation)".to_string()
        } else {
            format!("since {}", since.as_deref().unwrap_or("the start"))
        }
    ));
    let tickets = source.tickets(ctx, &tickets_input(&read, since, state.read_cursor.clone()))?;
    // A reconciliation reads everything but posts only what changed or is missing: it compares
    // the rest, so it never undoes what a technician did.
    let held = match destination.desk() {
        Some(desk) if full_read => {
            let every = SearchTicketsInput { board: post_options.board.clone(), ..no_search() };
            Some(desk.search(ctx, &every, None)?)
        }
        _ => None,
    };
    let key_max = destination.tickets().parts().1.key_max();
    let mut read_tickets: Vec<SourceTicket> = tickets
        .tickets
        .iter()
        .map(|t| SourceTicket {
            key: &t.key,
            status: &t.status,
            updated: t.updated.as_deref(),
            closed: false,
            keys: keys::ticket_keys(from, &t.key, key_max),
        })
        .collect();
    let chosen = match &held {
        Some(held) => pair::to_post(&read_tickets, held, state.since.as_deref()),
        None => vec![true; tickets.tickets.len()],
    };
    let to_post: Vec<Ticket> =
        tickets.tickets.iter().zip(&chosen).filter(|(_, chosen)| **chosen).map(|(t, _)| t.clone()).collect();
    let post_input = post_input(&post_options, to_post, state.post_cursor.as_deref(), dry_run);
    let posted = post_tickets::post(ctx, destination.as_mut(), &post_input)?;
    items.extend(pair::post_items(&posted.output, |status| posted.closes(status)));

    let read_done = tickets.next_cursor.is_none() && posted.output.next_cursor.is_none();
    let wants_back = input.sync_back.unwrap_or(true) && read_done;
    let back = match source.feedback() {
        Some(feedback) if wants_back => {
            let back_input = back_input(&input, &state, &post_options, tickets.next_since.clone(), dry_run);
            let output = back::run(ctx, from, feedback, destination.as_mut(), &back_input)?;
            items.extend(pair::back_items(&output));
            Some(output)
        }
        None if input.sync_back == Some(true) => {
            return Err(Error::invalid(
                "input.sync_back",
                format!("{} takes no changes back", from.label),
                "Leave sync_back out for this source.",
            ));
        }
        _ => None,
    };

    let drift = if full_read && read_done {
        for ticket in &mut read_tickets {
            ticket.closed = posted.closes_source(ticket.status);
        }
        let compared: Vec<SourceTicket> =
            read_tickets.into_iter().zip(&chosen).filter(|(_, chosen)| !**chosen).map(|(t, _)| t).collect();
        let mut drift = held.as_deref().map(|held| pair::ticket_drift(&compared, held)).unwrap_or_default();
        let linked_accounts = linked.as_ref().map(|(a, o)| (a.as_slice(), o));
        drift.extend(link_drift(ctx, source.as_mut(), destination.as_mut(), linked_accounts)?);
        log::info(format!("reconciliation: {} inconsistencies", drift.len()));
        Some(drift)
    } else {
        if full_read {
            log::info("the reconciliation's read goes on in the next run; its drift is reported when it ends");
        }
        None
    };

    let reconciled = (full_read && read_done).then(|| {
        chrono::DateTime::from_timestamp(now_s, 0)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    });
    let progress = Progress {
        read_cursor: tickets.next_cursor.as_deref(),
        read_since: tickets.next_since.as_deref(),
        post: &posted.output,
        back_since: back.as_ref().and_then(|b| b.next_since.as_deref()),
        reconciled,
    };
    let (next, has_more) = pair::advance(&state, full_read, &progress);
    Ok(SyncOutput {
        source: from.name.to_string(),
        destination: to.name.to_string(),
        // A dry run writes nothing, so its state is the one it was given.
        state: if dry_run { state } else { next },
        has_more,
        dry_run,
        counts: SyncCounts {
            link: linked.map(|(_, output)| output.counts),
            read: tickets.tickets.len() as u32,
            post: Some(posted.output.counts),
            back: back.map(|b| b.counts),
        },
        items,
        drift,
    })
}

/// Links to deleted companies and accounts without a company (none where the destination has no companies).
fn link_drift(
    ctx: &mut Context,
    source: &mut dyn Source,
    destination: &mut dyn Destination,
    linked: Option<(&[Account], &MatchCompaniesOutput)>,
) -> Result<Vec<Drift>, Error> {
    if !destination.has_companies() {
        return Ok(Vec::new());
    }
    let companies = destination.companies(ctx, source.system(), true)?;
    let fetched;
    let (accounts, linked_now): (&[Account], HashSet<String>) = match linked {
        Some((accounts, output)) => {
            (accounts, output.matched.iter().map(|m| m.account_id.trim().to_string()).collect())
        }
        None => {
            fetched = source.accounts(ctx, &all_accounts(false))?;
            (&fetched, HashSet::new())
        }
    };
    Ok(pair::link_drift(accounts, &companies, &linked_now))
}

fn all_accounts(include_addresses: bool) -> GetAccountsInput {
    GetAccountsInput {
        source: None,
        include_addresses: Some(include_addresses),
        statuses: None,
        parent_id: None,
        account_id: None,
    }
}

fn tickets_input(read: &SyncRead, since: Option<String>, cursor: Option<String>) -> GetTicketsInput {
    GetTicketsInput {
        source: None,
        account_ids: read.account_ids.clone(),
        statuses: read.statuses.clone(),
        request_types: read.request_types.clone(),
        since,
        include_details: Some(true),
        include_comments: read.include_comments,
        max_tickets: None,
        cursor,
        min_score: read.min_score,
        min_alert_count: read.min_alert_count,
        tags: read.tags.clone(),
        exclude_tags: read.exclude_tags.clone(),
        look_back_days: read.look_back_days,
    }
}

fn post_input(post: &SyncPost, tickets: Vec<Ticket>, cursor: Option<&str>, dry_run: bool) -> PostTicketsInput {
    // A read that came back different since the cut (new changes at the source) starts its post
    // over: nothing is posted twice either way.
    let cursor = cursor.filter(|c| resume::read(c, &tickets).is_ok()).map(str::to_string);
    PostTicketsInput {
        destination: None,
        tickets,
        board: post.board.clone(),
        status_map: post.status_map.clone(),
        default_status: post.default_status.clone(),
        priority_map: post.priority_map.clone(),
        default_priority: post.default_priority.clone(),
        catch_all_company: post.catch_all_company.clone(),
        ticket_type: post.ticket_type.clone(),
        team: post.team.clone(),
        agent: post.agent.clone(),
        category: post.category.clone(),
        impact: post.impact.clone(),
        urgency: post.urgency.clone(),
        note_outcome: post.note_outcome.clone(),
        archer: post.archer.clone(),
        post_comments: post.post_comments,
        dry_run: Some(dry_run),
        cursor,
    }
}

fn back_input(
    input: &SyncInput,
    state: &crate::types::SyncState,
    post: &SyncPost,
    source_checkpoint: Option<String>,
    dry_run: bool,
) -> SyncBackInput {
    let back = input.back.clone().unwrap_or(crate::types::SyncBackOptions {
        reverse_status_map: None,
        sync_priority: None,
        reverse_priority_map: None,
        resolution: None,
        sync_notes: None,
        assignee_comments: None,
    });
    SyncBackInput {
        source: None,
        destination: None,
        since: state.back_since.clone(),
        look_back_days: input.read.as_ref().and_then(|r| r.look_back_days),
        source_checkpoint,
        status_map: post.status_map.clone(),
        default_status: post.default_status.clone(),
        reverse_status_map: back.reverse_status_map,
        sync_priority: back.sync_priority,
        priority_map: post.priority_map.clone(),
        default_priority: post.default_priority.clone(),
        reverse_priority_map: back.reverse_priority_map,
        resolution: back.resolution,
        sync_notes: back.sync_notes,
        assignee_comments: back.assignee_comments,
        board: post.board.clone(),
        dry_run: Some(dry_run),
    }
}

fn no_read_options() -> SyncRead {
    SyncRead {
        account_ids: None,
        statuses: None,
        request_types: None,
        include_comments: None,
        min_score: None,
        min_alert_count: None,
        tags: None,
        exclude_tags: None,
        look_back_days: None,
    }
}

fn no_post_options() -> SyncPost {
    SyncPost {
        board: None,
        status_map: None,
        default_status: None,
        priority_map: None,
        default_priority: None,
        catch_all_company: None,
        ticket_type: None,
        team: None,
        agent: None,
        category: None,
        impact: None,
        urgency: None,
        note_outcome: None,
        archer: None,
        post_comments: None,
    }
}

fn no_search() -> SearchTicketsInput {
    SearchTicketsInput {
        destination: None,
        company: None,
        status: None,
        open: None,
        agent: None,
        team: None,
        summary: None,
        updated_since: None,
        external_key: None,
        board: None,
        max_results: None,
    }
}

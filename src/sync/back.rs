//! The way back: what technicians did in the destination — statuses, closures, priorities, notes,
//! assignments — carried to the source items the tickets came from. Generic: the source's side
//! is [`Feedback`], the destination's its [`Desk`] and the same status and priority resolution
//! post_tickets uses, so "in step" means exactly what post_tickets would write.
//!
//! No echo: a ticket whose status is the one its item's status goes to is in step and changes
//! nothing; notes the sync wrote (markers) never go back; comments it writes on the item carry
//! markers, so they are neither written twice nor brought to the destination again. An item
//! changed at the source after the cycle's read is left alone (`deferred`): its change flows to
//! the destination first, which makes the source win a conflict on the status.

use crate::actions::Context;
use crate::connectors::{self, Desk, Destination, System};
use crate::desk::{given, instant};
use crate::error::Error;
use crate::log;
use crate::sync::keys;
use crate::sync::post::MAX_NOTE_POSTS;
use crate::sync::value_map::ValueMap;
use crate::types::{
    PostTicketsInput, PsaTicket, SearchTicketsInput, SyncBackCounts, SyncBackInput, SyncBackOutcome, SyncBackOutput,
    SyncBackResult, ValueMapping,
};

const DEFAULT_LOOK_BACK_DAYS: u32 = 7;
/// `next_since` lies this far before the run started: clocks differ, and a ticket changed while
/// the run read is read again rather than missed (in step, it changes nothing).
const SINCE_OVERLAP_S: i64 = 120;

/// A source item as the way back needs it.
pub struct SourceItem {
    pub status: String,
    pub severity: Option<String>,
    /// The last change was the sync's own.
    pub changed_by_sync: bool,
    /// When it last changed, epoch ms.
    pub modified_ms: Option<i64>,
    /// Every comment's text (markers say which the sync wrote).
    pub comments: Vec<String>,
}

/// What to change on an item.
#[derive(Debug, Default, PartialEq)]
pub struct SourceChange {
    pub status: Option<String>,
    pub resolution: Option<String>,
    pub severity: Option<String>,
}

/// A source that takes changes back.
pub trait Feedback {
    /// The item stored under `key`, with its comments; `None` when it is gone.
    fn item(&mut self, ctx: &mut Context, key: &str) -> Result<Option<SourceItem>, Error>;
    fn change(&mut self, ctx: &mut Context, key: &str, change: &SourceChange) -> Result<(), Error>;
    /// Adds a comment; `false` when the answer was lost and it may or may not be there.
    fn comment(&mut self, ctx: &mut Context, key: &str, text: &str) -> Result<bool, Error>;
    /// The statuses an item may have.
    fn statuses(&self) -> &'static [&'static str];
    /// The status a closed ticket resolves its item with, and whether a status closes an item.
    fn resolved_status(&self) -> &'static str;
    fn is_closed(&self, status: &str) -> bool;
    fn severities(&self) -> &'static [&'static str];
    fn resolutions(&self) -> &'static [&'static str];
    fn default_resolution(&self) -> &'static str;
    /// A get_tickets checkpoint (its next_since) as epoch ms.
    fn checkpoint_ms(&self, text: &str) -> Result<i64, Error>;
}

/// Runs the way back from `destination` to `source` (whose `feedback` is `back`).
pub fn run(
    ctx: &mut Context,
    source: &'static System,
    back: &mut dyn Feedback,
    destination: &mut dyn Destination,
    input: &SyncBackInput,
) -> Result<SyncBackOutput, Error> {
    let dry_run = input.dry_run.unwrap_or(false);
    let started = ctx.http.unix_seconds() as i64;
    let since = match given(&input.since) {
        Some(text) => instant("input.since", text)?,
        None => {
            let days = i64::from(input.look_back_days.unwrap_or(DEFAULT_LOOK_BACK_DAYS));
            chrono::DateTime::from_timestamp(started - days * 86_400, 0).unwrap_or_default()
        }
    };
    let checkpoint = given(&input.source_checkpoint).map(|c| back.checkpoint_ms(c)).transpose()?;
    let resolution = match given(&input.resolution) {
        None => back.default_resolution().to_string(),
        Some(r) => one_of("input.resolution", r, back.resolutions())?,
    };
    let rules = Rules::new(ctx, back, destination, input)?;
    let dest = destination.system();
    let filter = SearchTicketsInput {
        destination: None,
        company: None,
        status: None,
        open: None,
        agent: None,
        team: None,
        summary: None,
        updated_since: Some(since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        external_key: None,
        board: input.board.clone(),
        max_results: None,
    };
    let prefix = format!("{}:", source.name);
    let tickets: Vec<(String, PsaTicket)> = connectors::desk(destination, "sync_back")?
        .search(ctx, &filter, None)?
        .into_iter()
        .filter_map(|t| Some((t.external_key.as_deref()?.strip_prefix(&prefix)?.to_string(), t)))
        .collect();
    let desk = connectors::desk(destination, "sync_back")?;
    let mut work = Way { ctx, back, desk, dest, rules: &rules, dry_run, checkpoint, resolution };
    let mut results = Vec::with_capacity(tickets.len());
    for (n, (key, ticket)) in tickets.iter().enumerate() {
        log::progress("carrying ticket changes back", n, tickets.len());
        let mut result = SyncBackResult {
            key: key.clone(),
            ticket_id: ticket.id.clone(),
            outcome: SyncBackOutcome::Unchanged,
            status: None,
            severity: None,
            comments_added: 0,
            error: None,
        };
        if let Err(error) = work.one(key, ticket, &mut result) {
            result.outcome = SyncBackOutcome::Failed;
            result.error = Some(error);
        }
        results.push(result);
    }
    let count = |o: SyncBackOutcome| results.iter().filter(|r| r.outcome == o).count() as u32;
    let counts = SyncBackCounts {
        tickets: results.len() as u32,
        updated: count(SyncBackOutcome::Updated),
        unchanged: count(SyncBackOutcome::Unchanged),
        deferred: count(SyncBackOutcome::Deferred),
        missing: count(SyncBackOutcome::Missing),
        failed: count(SyncBackOutcome::Failed),
        statuses_set: results.iter().filter(|r| r.status.is_some()).count() as u32,
        comments_added: results.iter().map(|r| r.comments_added).sum(),
    };
    // A ticket left for later (failed, deferred) is read again next time: `since` stays.
    let moved_on = match counts.failed + counts.deferred {
        0 => chrono::DateTime::from_timestamp(started - SINCE_OVERLAP_S, 0).unwrap_or(since),
        _ => since,
    };
    let next_since = (!dry_run).then(|| moved_on.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    Ok(SyncBackOutput {
        source: source.name.to_string(),
        destination: dest.name.to_string(),
        results,
        counts,
        dry_run,
        next_since,
    })
}

/// `value` as one of `allowed` (case-insensitive), in the source's spelling.
fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<String, Error> {
    allowed.iter().find(|a| a.eq_ignore_ascii_case(value.trim())).map(|a| a.to_string()).ok_or_else(|| {
        Error::invalid(
            field,
            format!("{value:?} is not one of the source's values"),
            format!("Give one of: {}.", allowed.join(", ")),
        )
    })
}

/// How statuses and priorities go each way.
struct Rules {
    /// Source status -> destination status, exactly as post_tickets resolves it.
    forward: ValueMap,
    reverse: Vec<ValueMapping>,
    status_map: Vec<ValueMapping>,
    /// Source severity -> destination priority, when priorities are carried back.
    priorities: Option<(ValueMap, Vec<ValueMapping>, Vec<ValueMapping>)>,
    sync_notes: bool,
    assignee_comments: bool,
}

impl Rules {
    fn new(
        ctx: &mut Context,
        back: &dyn Feedback,
        destination: &mut dyn Destination,
        input: &SyncBackInput,
    ) -> Result<Rules, Error> {
        let sync_priority = input.sync_priority.unwrap_or(false);
        let post = PostTicketsInput {
            destination: None,
            tickets: Vec::new(),
            board: input.board.clone(),
            status_map: input.status_map.clone(),
            default_status: input.default_status.clone(),
            priority_map: input.priority_map.clone(),
            default_priority: input.default_priority.clone(),
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
            dry_run: None,
            cursor: None,
        };
        let targets = destination.tickets().prepare(ctx, &post, sync_priority)?;
        let status_map = input.status_map.clone().unwrap_or_default();
        let forward = ValueMap::new("status", targets.statuses, status_map.clone(), input.default_status.as_deref())
            .map_err(|problem| {
                Error::invalid("input.default_status", problem, format!("Name a status of {}.", targets.place))
            })?;
        for (i, m) in input.reverse_status_map.iter().flatten().enumerate() {
            one_of(&format!("input.reverse_status_map[{i}].to"), &m.to, back.statuses())?;
        }
        let priorities = if sync_priority {
            let map = input.priority_map.clone().unwrap_or_default();
            let forward = ValueMap::new("priority", targets.priorities, map.clone(), input.default_priority.as_deref())
                .map_err(|problem| {
                    Error::invalid("input.default_priority", problem, "Name a priority the destination has.")
                })?;
            for (i, m) in input.reverse_priority_map.iter().flatten().enumerate() {
                one_of(&format!("input.reverse_priority_map[{i}].to"), &m.to, back.severities())?;
            }
            Some((forward, map, input.reverse_priority_map.clone().unwrap_or_default()))
        } else {
            None
        };
        Ok(Rules {
            forward,
            reverse: input.reverse_status_map.clone().unwrap_or_default(),
            status_map,
            priorities,
            sync_notes: input.sync_notes.unwrap_or(true),
            assignee_comments: input.assignee_comments.unwrap_or(false),
        })
    }
}

/// The source value a destination value goes back to: the reverse map, else the forward map
/// read backwards, else a source value of the same name.
fn reverse(value: &str, reverse: &[ValueMapping], forward: &[ValueMapping], allowed: &[&str]) -> Option<String> {
    let eq = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    let candidate = reverse
        .iter()
        .find(|m| eq(&m.from, value))
        .map(|m| m.to.clone())
        .or_else(|| forward.iter().find(|m| eq(&m.to, value)).map(|m| m.from.clone()))
        .unwrap_or_else(|| value.to_string());
    allowed.iter().find(|a| eq(a, &candidate)).map(|a| a.to_string())
}

struct Way<'a, 'c> {
    ctx: &'a mut Context<'c>,
    back: &'a mut dyn Feedback,
    desk: &'a mut dyn Desk,
    dest: &'static System,
    rules: &'a Rules,
    dry_run: bool,
    checkpoint: Option<i64>,
    resolution: String,
}

impl Way<'_, '_> {
    fn one(&mut self, key: &str, ticket: &PsaTicket, result: &mut SyncBackResult) -> Result<(), Error> {
        let Some(item) = self.back.item(self.ctx, key)? else {
            result.outcome = SyncBackOutcome::Missing;
            return Ok(());
        };
        if let (Some(checkpoint), Some(modified)) = (self.checkpoint, item.modified_ms)
            && !item.changed_by_sync
            && modified > checkpoint
        {
            result.outcome = SyncBackOutcome::Deferred;
            return Ok(());
        }
        let mut change = SourceChange::default();
        if let Some(status) = self.status(&item, ticket) {
            if self.back.is_closed(&status) {
                change.resolution = Some(self.resolution.clone());
            }
            change.status = Some(status);
        }
        if let Some((forward, map, reverse_map)) = &self.rules.priorities
            && let Some(priority) = ticket.priority.as_deref()
        {
            let in_step = item
                .severity
                .as_deref()
                .and_then(|s| forward.resolve(s).ok())
                .is_some_and(|t| t.name.trim().eq_ignore_ascii_case(priority.trim()));
            if !in_step {
                change.severity = reverse(priority, reverse_map, map, self.back.severities())
                    .filter(|s| item.severity.as_deref().is_none_or(|now| !now.eq_ignore_ascii_case(s)));
            }
        }
        let mut comments = Vec::new();
        if self.rules.sync_notes {
            for note in self.desk.notes(self.ctx, crate::desk::ticket_id(&ticket.id)?)? {
                let text = note.text.trim();
                let marker = keys::comment_marker(self.dest.name, &note.id);
                if text.is_empty() || keys::written_by_sync(text) || item.comments.iter().any(|c| c.contains(&marker)) {
                    continue;
                }
                let by = note.author.as_deref().map(|a| format!(" by {a}")).unwrap_or_default();
                comments.push((marker.clone(), format!("{text}\n\n— {} note{by}\n{marker}", self.dest.label)));
            }
        }
        if self.rules.sync_notes
            && ticket.closed
            && let Some(note) = ticket.closure_note.as_deref().map(str::trim).filter(|n| !n.is_empty())
            && !keys::written_by_sync(note)
        {
            let marker = keys::closure_marker(self.dest.name, &ticket.id);
            if !item.comments.iter().any(|c| c.contains(&marker) && c.contains(note)) {
                comments.push((marker.clone(), format!("{note}\n\n— {} closure note\n{marker}", self.dest.label)));
            }
        }
        if self.rules.assignee_comments {
            let marker = keys::assignee_marker(self.dest.name, &ticket.id);
            let said = item.comments.iter().rev().find(|c| c.contains(&marker)).map(|c| assignee_said(c));
            let now = ticket.agent.clone().unwrap_or_default();
            if said.as_deref().unwrap_or_default() != now.as_str() {
                let text = if now.is_empty() {
                    format!("{} ticket {} is unassigned.", self.dest.label, ticket.id)
                } else {
                    format!("{} ticket {} is assigned to {now}.", self.dest.label, ticket.id)
                };
                comments.push((marker.clone(), format!("{text}\n{marker}")));
            }
        }
        if change == SourceChange::default() && comments.is_empty() {
            return Ok(());
        }
        result.outcome = SyncBackOutcome::Updated;
        result.status = change.status.clone();
        result.severity = change.severity.clone();
        if self.dry_run {
            result.comments_added = comments.len() as u32;
            return Ok(());
        }
        // Comments first: the closure note is on the item before the item is resolved.
        for (marker, text) in &comments {
            self.comment_once(key, marker, text)?;
            result.comments_added += 1;
        }
        if change != SourceChange::default() {
            self.back.change(self.ctx, key, &change)?;
        }
        Ok(())
    }

    /// The status the item goes to, when the ticket is not in step with it.
    fn status(&self, item: &SourceItem, ticket: &PsaTicket) -> Option<String> {
        let forward = self.rules.forward.resolve(&item.status).ok();
        let in_step = forward.is_some_and(|t| t.name.trim().eq_ignore_ascii_case(ticket.status.trim()))
            || (ticket.closed && self.back.is_closed(&item.status));
        if in_step {
            return None;
        }
        let target = reverse(&ticket.status, &self.rules.reverse, &self.rules.status_map, self.back.statuses())
            .filter(|s| self.back.is_closed(s) == ticket.closed)
            .or_else(|| ticket.closed.then(|| self.back.resolved_status().to_string()));
        match target {
            Some(status) if !status.eq_ignore_ascii_case(&item.status) => Some(status),
            Some(_) => None,
            None => {
                log::info(format!(
                    "{} status {:?} of ticket {} has no status to go back to (map it with reverse_status_map)",
                    self.dest.label, ticket.status, ticket.id
                ));
                None
            }
        }
    }

    /// Adds the comment unless it is there; a post whose answer was lost is looked for before it
    /// is tried again, a bounded number of times.
    fn comment_once(&mut self, key: &str, marker: &str, text: &str) -> Result<(), Error> {
        for _ in 0..MAX_NOTE_POSTS {
            if self.back.comment(self.ctx, key, text)? {
                return Ok(());
            }
            let item = self.back.item(self.ctx, key)?;
            if item.is_some_and(|i| i.comments.iter().any(|c| c.contains(marker))) {
                return Ok(());
            }
        }
        Err(Error::new(
            format!(
                "The source lost the answer to every one of {MAX_NOTE_POSTS} posts of a comment on {key}, and none landed."
            ),
            "Run sync_back again later; it adds only what is missing.",
            "",
        ))
    }
}

/// The agent an assignment comment named (its first line, after "assigned to").
fn assignee_said(comment: &str) -> String {
    let line = comment.lines().next().unwrap_or_default();
    line.split_once(" is assigned to ").map(|(_, who)| who.trim_end_matches('.').to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(from: &str, to: &str) -> ValueMapping {
        ValueMapping { from: from.into(), to: to.into() }
    }

    #[test]
    fn a_destination_value_goes_back_by_the_reverse_map_then_the_forward_map_then_its_name() {
        let allowed = ["New", "In Progress", "Escalated", "Resolved", "Cancelled"];
        let forward = [m("Escalated", "Waiting on Customer")];
        assert_eq!(reverse("Closed", &[m("closed", "Resolved")], &forward, &allowed).as_deref(), Some("Resolved"));
        assert_eq!(reverse("waiting on customer", &[], &forward, &allowed).as_deref(), Some("Escalated"));
        assert_eq!(reverse("in progress", &[], &forward, &allowed).as_deref(), Some("In Progress"));
        assert_eq!(reverse("Scheduled", &[], &forward, &allowed), None);
    }

    #[test]
    fn an_assignment_comment_says_who() {
        assert_eq!(
            assignee_said("Halo ticket 3001 is assigned to Ana Diaz.\n[psa-bridge halo assignee 3001]"),
            "Ana Diaz"
        );
        assert_eq!(assignee_said("Halo ticket 3001 is unassigned.\n[m]"), "");
    }
}

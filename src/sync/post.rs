//! The exactly-once writer: source tickets into a destination, each once. A ticket is looked up by
//! its key (and the keys earlier versions wrote) before it is created; a create whose answer was
//! lost is looked up before it is tried again, a bounded number of times; statuses are kept in
//! step; each comment becomes one note, found again by its marker, one note at a time per ticket
//! so notes keep the comments' order. One ticket's failure never stops the batch.

use crate::actions::Context;
use crate::connectors::{self, System};
use crate::error::Error;
use crate::http::{Auth, Flow, HttpError, Request, Response};
use crate::log;
use crate::sync::value_map::{Target, ValueMap};
use crate::sync::{keys, resume};
use crate::types::{Comment, PostCounts, PostOutcome, PostResult, PostTicketsInput, PostTicketsOutput, Ticket};
use std::collections::{BTreeSet, HashMap, VecDeque};

/// Creates tried for one ticket, each after a lookup showed the one before had not landed. At
/// 13% failed answers (5xx, drops, lost), 3 left one ticket in ~450 for the next run; 6 leave one in ~200,000.
pub const MAX_CREATES: u32 = 6;
/// The same bound for each note: posts tried, each after reading the notes showed it missing.
pub const MAX_NOTE_POSTS: u32 = 6;
/// Tickets looked up and posted together at first. A chunk finishes before the next starts, so a
/// run cut short by its time budget keeps what its earlier chunks did; later chunks are sized to
/// take about half the budget left at the pace the earlier ones went (Halo at its rate limit
/// looks each key up alone, so a call whose budget holds only a few tickets still finishes some).
const FIRST_CHUNK: usize = 10;

/// A ticket already in the destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Existing {
    pub id: String,
    /// The key it is stored under.
    pub key: String,
    pub status_id: Option<String>,
}

/// What the destination offers tickets: statuses, and priorities when asked for.
pub struct Targets {
    /// Where tickets go, for messages ("the ARMORtickets board").
    pub place: String,
    pub statuses: Vec<Target>,
    pub priorities: Vec<Target>,
    /// Ids of the statuses that close a ticket.
    pub closed: Vec<String>,
}

/// Everything a create needs, resolved.
pub struct NewTicket<'a> {
    pub ticket: &'a Ticket,
    pub key: &'a str,
    pub company: &'a str,
    pub status: &'a Target,
    pub priority: Option<&'a Target>,
    pub summary: String,
    pub description: String,
}

/// One page of a ticket's notes, and the request for the next one if there is one.
pub struct NotesPage {
    pub texts: Vec<String>,
    pub next: Option<Request>,
}

/// A destination's side of the exactly-once protocol: what it reads up front, and (through
/// `parts`) the credentials and the requests and answers of each ticket's way.
pub trait TicketWriter {
    /// Finds where tickets go and what statuses and priorities there are, by the names the input
    /// gives (failing fast, naming what is missing).
    fn prepare(&mut self, ctx: &mut Context, input: &PostTicketsInput, with_priorities: bool)
    -> Result<Targets, Error>;
    /// Companies linked to each of `accounts` of `source`, deleted ones left out, in id order.
    fn companies_by_account(
        &mut self,
        ctx: &mut Context,
        source: &'static System,
        accounts: &[String],
    ) -> Result<HashMap<String, Vec<String>>, Error>;
    /// The id of the company `name` names (its id or identifier).
    fn company(&mut self, ctx: &mut Context, name: &str) -> Result<String, Error>;
    /// Tickets stored under any of `keys`, in id order.
    fn existing(&mut self, ctx: &mut Context, keys: &[String]) -> Result<HashMap<String, Vec<Existing>>, Error>;
    /// The credentials every request is signed with, and the requests and answers themselves.
    fn parts(&mut self) -> (&mut dyn Auth, &dyn TicketRequests);
}

/// The requests of one ticket's way and what their answers mean.
pub trait TicketRequests {
    /// The longest key its key field holds.
    fn key_max(&self) -> usize;
    /// The longest summary it accepts.
    fn summary_max(&self) -> usize;
    /// Whether what 0.1 wrote there (bare keys) must be looked for too.
    fn has_legacy_keys(&self) -> bool {
        false
    }
    /// Whether creates must go one at a time (the service races on concurrent creates).
    fn serial_creates(&self) -> bool {
        false
    }
    /// Whether tickets there keep notes (comments become notes only where they do).
    fn takes_notes(&self) -> bool {
        true
    }
    /// Whether an existing ticket's status follows the source's (else it is set on create only).
    fn follows_status(&self) -> bool {
        true
    }
    /// Why `ticket` cannot be created as it is (a value the destination cannot take), before trying.
    fn check(&self, ticket: &NewTicket) -> Result<(), Error> {
        let _ = ticket;
        Ok(())
    }
    /// Where a company carries its link to `source`'s accounts, for messages ("the ARMORcompanyId custom field").
    fn link_field(&self, source: &System) -> String;
    fn create(&self, ticket: &NewTicket) -> Request;
    /// The new ticket's id.
    fn created(&self, key: &str, outcome: Result<Response, HttpError>) -> Result<String, Error>;
    /// Finds the ticket stored under `key` (after a create whose answer was lost).
    fn lookup(&self, key: &str) -> Request;
    fn looked_up(&self, key: &str, outcome: Result<Response, HttpError>) -> Result<Option<Existing>, Error>;
    /// Moves the ticket to `status`; `closure` is the closure note when that status closes it.
    fn update_status(&self, ticket_id: &str, status: &Target, closure: Option<&str>) -> Request;
    fn updated(&self, key: &str, outcome: Result<Response, HttpError>) -> Result<(), Error>;
    /// The first page of a ticket's notes.
    fn notes(&self, ticket_id: &str) -> Request;
    fn notes_page(&self, key: &str, outcome: Result<Response, HttpError>) -> Result<NotesPage, Error>;
    fn add_note(&self, ticket_id: &str, text: &str, public: bool) -> Request;
    fn note_added(&self, key: &str, outcome: Result<Response, HttpError>) -> Result<(), Error>;
}

/// Why the notes are being read.
#[derive(Clone, Copy)]
enum Purpose {
    /// Which comments have no note yet.
    Missing,
    /// Whether comment `c`, whose post lost its answer, landed.
    Check(usize),
}

enum Job {
    Create(usize),
    /// After a create whose answer was lost: did it land?
    Lookup(usize),
    Update(usize),
    Notes(usize, Purpose),
    PostNote(usize, usize),
}

impl Job {
    /// The work (ticket) it belongs to.
    fn work(&self) -> usize {
        match self {
            Job::Create(w) | Job::Lookup(w) | Job::Update(w) | Job::Notes(w, _) | Job::PostNote(w, _) => *w,
        }
    }
}

/// One source ticket's way into the destination.
struct Work<'a> {
    ticket: &'a Ticket,
    source: &'static System,
    key: String,
    company: String,
    catch_all: bool,
    status: Target,
    priority: Option<Target>,
    ticket_id: Option<String>,
    creates: u32,
    created: bool,
    updated: bool,
    notes_added: u32,
    /// Posts of the note being added now.
    note_posts: u32,
    /// Note texts read so far, page by page.
    read: Vec<String>,
    /// Comments still to post, in order.
    to_post: VecDeque<usize>,
    error: Option<Error>,
    /// The time budget ran out on one of its requests: the next call (with the cursor) finishes it.
    out_of_time: bool,
}

/// What a post wrote, and the destination's statuses it wrote them with.
pub struct Posted {
    pub output: PostTicketsOutput,
    /// Source status -> destination status, as this post mapped them.
    pub statuses: ValueMap,
    /// Ids of the statuses that close a ticket.
    pub closed: Vec<String>,
}

impl Posted {
    /// Whether the destination status `name` closes a ticket.
    pub fn closes(&self, name: &str) -> bool {
        self.statuses.target(name).is_some_and(|t| self.closed.contains(&t.id))
    }

    /// Whether a source ticket of status `status` is closed once posted.
    pub fn closes_source(&self, status: &str) -> bool {
        self.statuses.resolve(status).is_ok_and(|t| self.closed.contains(&t.id))
    }
}

pub fn run(
    ctx: &mut Context,
    writer: &mut dyn TicketWriter,
    destination: &'static System,
    input: &PostTicketsInput,
) -> Result<Posted, Error> {
    let dry_run = input.dry_run.unwrap_or(false);
    let takes_notes = writer.parts().1.takes_notes();
    let post_comments = input.post_comments.unwrap_or(true) && takes_notes;
    let comments = input.tickets.iter().map(|t| t.comments.as_ref().map_or(0, Vec::len)).sum::<usize>();
    if !takes_notes && comments > 0 && input.post_comments != Some(false) {
        log::info(format!("{} keeps no notes: the tickets' {comments} comments are not posted", destination.label));
    }
    let with_priorities = input.priority_map.is_some() || input.default_priority.is_some();
    let targets = writer.prepare(ctx, input, with_priorities)?;
    let closed = targets.closed.clone();
    let place = targets.place.clone();
    let statuses = ValueMap::new(
        "status",
        targets.statuses,
        input.status_map.clone().unwrap_or_default(),
        input.default_status.as_deref(),
    )
    .map_err(|problem| {
        Error::invalid(
            "input.default_status",
            problem,
            format!("Name a status of {place}, or leave default_status out."),
        )
    })?;
    let priority_map = input.priority_map.clone().unwrap_or_default();
    let priorities =
        ValueMap::new("priority", targets.priorities, priority_map.clone(), input.default_priority.as_deref())
            .map_err(|problem| {
                Error::invalid(
                    "input.default_priority",
                    problem,
                    "Name a priority the destination has, or leave default_priority out.",
                )
            })?;
    let catch_all = match input.catch_all_company.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(name) => Some(writer.company(ctx, name)?),
        None => None,
    };

    // The first occurrence of each ticket is posted; repeats in the input share its result.
    let mut first_of: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, ticket) in input.tickets.iter().enumerate() {
        first_of.entry((ticket.system.trim(), ticket.key.trim())).or_insert(i);
    }
    let (key_max, legacy) = {
        let (_, requests) = writer.parts();
        (requests.key_max(), requests.has_legacy_keys())
    };
    let keys_of = |system: &'static System, key: &str| -> Vec<String> {
        let mut keys = keys::ticket_keys(system, key, key_max);
        keys.truncate(if legacy { keys.len() } else { 1 });
        keys
    };
    let mut companies: HashMap<(&str, String), Vec<String>> = HashMap::new();
    let mut accounts_of: HashMap<&'static str, Vec<String>> = HashMap::new();
    for ticket in &input.tickets {
        if let Some(system) = connectors::by_name(&ticket.system) {
            accounts_of.entry(system.name).or_default().push(ticket.account_id.trim().to_string());
        }
    }
    for (name, mut accounts) in accounts_of {
        accounts.sort();
        accounts.dedup();
        let source = connectors::by_name(name).unwrap_or(destination);
        for (account, ids) in writer.companies_by_account(ctx, source, &accounts)? {
            companies.insert((name, account), ids);
        }
    }
    // A ticket is looked up only when it has somewhere to go: a skipped one would cost a request
    // for nothing where the destination looks keys up one by one.
    let has_place = |i: usize| -> bool {
        let ticket = &input.tickets[i];
        connectors::by_name(&ticket.system).is_some_and(|system| {
            let linked =
                companies.get(&(system.name, ticket.account_id.trim().to_string())).is_some_and(|c| !c.is_empty());
            !ticket.key.trim().is_empty() && (linked || catch_all.is_some())
        })
    };
    let finished_before = match input.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(cursor) => resume::read(cursor, &input.tickets)?,
        None => BTreeSet::new(),
    };
    let first_of_index = |i: usize| {
        let ticket = &input.tickets[i];
        first_of.get(&(ticket.system.trim(), ticket.key.trim())).copied().unwrap_or(i)
    };
    let mut firsts: Vec<usize> = first_of.values().copied().filter(|i| !finished_before.contains(i)).collect();
    firsts.sort_unstable();

    let mut results: Vec<Option<PostResult>> = vec![None; input.tickets.len()];
    // First occurrences the time budget left undone.
    let mut unfinished: BTreeSet<usize> = BTreeSet::new();
    let (mut start, mut size) = (0, FIRST_CHUNK);
    while start < firsts.len() {
        let chunk_started_ms = ctx.http.now_ms();
        let chunk = &firsts[start..(start + size).min(firsts.len())];
        if ctx.http.remaining_ms() == 0 {
            unfinished.extend(firsts[start..].iter().copied());
            break;
        }
        let chunk_keys: Vec<String> = dedup(
            chunk
                .iter()
                .filter(|&&i| has_place(i))
                .filter_map(|&i| {
                    let ticket = &input.tickets[i];
                    connectors::by_name(&ticket.system).map(|system| keys_of(system, ticket.key.trim()))
                })
                .flatten(),
        );
        let existing = match writer.existing(ctx, &chunk_keys) {
            Ok(existing) => existing,
            Err(_) if ctx.http.remaining_ms() == 0 => {
                unfinished.extend(firsts[start..].iter().copied());
                break;
            }
            Err(error) => return Err(error),
        };
        let mut works: Vec<Work> = Vec::new();
        let mut work_of_input: Vec<(usize, usize)> = Vec::new();
        let (auth, requests) = writer.parts();
        let serial = requests.serial_creates();
        let mut jobs: Vec<(Job, Request)> = Vec::new();
        // Tickets to create, in input order, when creates go one at a time.
        let mut creates: VecDeque<usize> = VecDeque::new();
        for &i in chunk {
            let ticket = &input.tickets[i];
            let key = ticket.key.trim();
            let fail = |error: Error| Some(PostResult::failed(ticket, error));
            let Some(source) = connectors::by_name(&ticket.system) else {
                results[i] = fail(Error::invalid(
                    &format!("input.tickets[{i}].system"),
                    format!("{:?} is not a system psa-bridge knows", ticket.system),
                    "Pass tickets as get_tickets returns them.",
                ));
                continue;
            };
            if key.is_empty() {
                results[i] = fail(Error::invalid(
                    &format!("input.tickets[{i}].key"),
                    "the key is empty",
                    "Pass tickets as get_tickets returns them.",
                ));
                continue;
            }
            let (company, is_catch_all) = match companies
                .get(&(source.name, ticket.account_id.trim().to_string()))
                .map(Vec::as_slice)
            {
                None | Some([]) => match &catch_all {
                    Some(company) => (company.clone(), true),
                    None => {
                        results[i] =
                            Some(PostResult::skipped(ticket, source, destination, &requests.link_field(source)));
                        continue;
                    }
                },
                Some([company]) => (company.clone(), false),
                Some(several) => {
                    results[i] = fail(Error::new(
                        format!(
                            "Several {} companies are linked to {} account {}: {}.",
                            destination.label,
                            source.label,
                            ticket.account_id,
                            several.join(", ")
                        ),
                        "Clear the link on all but one of them (or run match_companies), then post the ticket again.",
                        "",
                    ));
                    continue;
                }
            };
            let status = match statuses.resolve(&ticket.status) {
                Ok(status) => status.clone(),
                Err(problem) => {
                    results[i] = Some(PostResult {
                        company_id: Some(company),
                        ..PostResult::failed(
                            ticket,
                            Error::new(
                                format!("Ticket {key} has no status to go to in {place}: {problem}."),
                                "Add the status there, or map it with status_map / default_status.",
                                format!("source status {:?}", ticket.status),
                            ),
                        )
                    });
                    continue;
                }
            };
            let priority = match ticket.priority.as_deref().or(ticket.severity.as_deref()) {
                _ if !with_priorities => None,
                Some(value) if priority_map.iter().any(|m| m.from.trim().eq_ignore_ascii_case(value.trim())) => {
                    match priorities.resolve(value) {
                        Ok(priority) => Some(priority.clone()),
                        Err(problem) => {
                            results[i] = fail(Error::new(
                                format!("Ticket {key} has no priority to go to: {problem}."),
                                "Fix the priority_map entry, or add the priority in the destination.",
                                format!("source priority {value:?}"),
                            ));
                            continue;
                        }
                    }
                }
                value => priorities.resolve(value.unwrap_or_default()).ok().cloned(),
            };
            let candidates = keys_of(source, key);
            let found = candidates.iter().find_map(|k| existing.get(k).and_then(|t| t.first())).cloned();
            let index = works.len();
            let mut work = Work {
                ticket,
                source,
                key: candidates[0].clone(),
                company,
                catch_all: is_catch_all,
                status,
                priority,
                ticket_id: found.as_ref().map(|t| t.id.clone()),
                creates: 0,
                created: false,
                updated: false,
                notes_added: 0,
                note_posts: 0,
                read: Vec::new(),
                to_post: VecDeque::new(),
                error: None,
                out_of_time: false,
            };
            if found.is_none()
                && let Err(error) = requests.check(&new_ticket(requests, &work))
            {
                results[i] = Some(PostResult { company_id: Some(work.company), ..PostResult::failed(ticket, error) });
                continue;
            }
            let comments = comments_of(ticket, post_comments).len() as u32;
            match found {
                None if dry_run => {
                    work.created = true;
                    work.notes_added = comments;
                }
                None if serial => creates.push_back(index),
                None => jobs.push((Job::Create(index), create_request(requests, &work))),
                Some(existing) => {
                    if requests.follows_status() && existing.status_id.as_deref() != Some(work.status.id.as_str()) {
                        if dry_run {
                            work.updated = true;
                        } else {
                            let closure = closed.contains(&work.status.id).then(|| closure_note(&work));
                            let request = requests.update_status(&existing.id, &work.status, closure.as_deref());
                            jobs.push((Job::Update(index), request));
                        }
                    }
                    if comments > 0 {
                        jobs.push((Job::Notes(index, Purpose::Missing), requests.notes(&existing.id)));
                    }
                }
            }
            work_of_input.push((i, index));
            works.push(work);
        }

        if let Some(first) = creates.pop_front() {
            jobs.push((Job::Create(first), create_request(requests, &works[first])));
        }
        let total = jobs.len() + creates.len();
        let mut finished = 0;
        ctx.http.run(auth, jobs, |job, outcome, next| {
            finished += 1;
            log::progress("posting tickets", finished, total.max(finished));
            let creating = matches!(job, Job::Create(_) | Job::Lookup(_));
            if matches!(outcome, Err(HttpError::BudgetExhausted { .. })) {
                works[job.work()].out_of_time = true;
            }
            let follow_ups = step(requests, &mut works, job, outcome, dry_run, post_comments);
            let still_creating = follow_ups.iter().any(|(job, _)| matches!(job, Job::Create(_) | Job::Lookup(_)));
            for (job, request) in follow_ups {
                match job {
                    Job::Create(_) | Job::Lookup(_) if serial => next.push_first(job, request),
                    _ => next.push(job, request),
                }
            }
            // One create at a time: the next starts once the one before has landed or given up.
            if creating
                && !still_creating
                && let Some(w) = creates.pop_front()
            {
                next.push_first(Job::Create(w), create_request(requests, &works[w]));
            }
            Flow::Continue
        })?;

        for (i, w) in work_of_input {
            if works[w].out_of_time {
                unfinished.insert(i);
            }
            results[i] = Some(works[w].result());
        }
        start += chunk.len();
        let ms_per_ticket = (ctx.http.now_ms().saturating_sub(chunk_started_ms) / chunk.len() as u64).max(1);
        size = ((ctx.http.remaining_ms() / 2 / ms_per_ticket) as usize).max(FIRST_CHUNK);
    }

    for i in 0..input.tickets.len() {
        let first = first_of_index(i);
        if results[i].is_none() && first != i && !finished_before.contains(&first) {
            results[i] = results[first].clone();
        }
    }
    let is_unfinished = |i: usize| unfinished.contains(&first_of_index(i));
    for (i, result) in results.iter_mut().enumerate() {
        if is_unfinished(i) {
            // What it got done stays in the result; the error says how to finish it.
            let done = result.take().unwrap_or_else(|| PostResult::failed(&input.tickets[i], out_of_time()));
            *result = Some(PostResult { outcome: PostOutcome::Failed, error: Some(out_of_time()), ..done });
        }
    }
    let next_cursor = (!unfinished.is_empty()).then(|| {
        let done: BTreeSet<usize> = (0..input.tickets.len()).filter(|&i| !is_unfinished(i)).collect();
        resume::write(&input.tickets, &done)
    });
    let resumed = results.iter().filter(|r| r.is_none()).count() as u32;
    let unfinished_count = (0..input.tickets.len()).filter(|&i| is_unfinished(i)).count() as u32;
    let results: Vec<PostResult> = results.into_iter().flatten().collect();
    let counts = PostCounts { resumed, unfinished: unfinished_count, ..count(&results) };
    log::info(format!(
        "post_tickets{}: {} created, {} updated, {} unchanged, {} skipped (no company), {} failed, {} notes, {} to the catch-all company, {} finished by an earlier call, {} left for the next call",
        if dry_run { " (dry run)" } else { "" },
        counts.created,
        counts.updated,
        counts.unchanged,
        counts.skipped,
        counts.failed,
        counts.notes_added,
        counts.catch_all,
        counts.resumed,
        counts.unfinished,
    ));
    let output = PostTicketsOutput { destination: destination.name.to_string(), results, counts, dry_run, next_cursor };
    Ok(Posted { output, statuses, closed })
}

/// Handles one finished request of a ticket's way; returns the requests that follow from it.
/// Only note requests (and a create, which has no notes yet) continue the ticket's note chain,
/// so there is never more than one chain per ticket.
fn step(
    writer: &dyn TicketRequests,
    works: &mut [Work],
    job: Job,
    outcome: Result<Response, HttpError>,
    dry_run: bool,
    post_comments: bool,
) -> Vec<(Job, Request)> {
    let index = job.work();
    let work = &mut works[index];
    let key = work.key.clone();
    let comments = comments_of(work.ticket, post_comments);
    match job {
        Job::Create(w) => {
            work.creates += 1;
            match outcome {
                Err(HttpError::OutcomeUnknown { .. }) => return vec![(Job::Lookup(w), writer.lookup(&key))],
                outcome => match writer.created(&key, outcome) {
                    Ok(id) => {
                        work.ticket_id = Some(id);
                        work.created = true;
                        // A new ticket has no notes yet: post every comment.
                        work.to_post = (0..comments.len()).collect();
                    }
                    Err(error) => work.error = Some(error),
                },
            }
        }
        Job::Lookup(w) => match writer.looked_up(&key, outcome) {
            Ok(Some(landed)) => {
                work.ticket_id = Some(landed.id.clone());
                work.created = true;
                if !comments.is_empty() {
                    work.read.clear();
                    return vec![(Job::Notes(w, Purpose::Missing), writer.notes(&landed.id))];
                }
            }
            Ok(None) if work.creates < MAX_CREATES => return vec![(Job::Create(w), create_request(writer, work))],
            Ok(None) => {
                work.error = Some(Error::new(
                    format!("Creating ticket {key} kept failing without an answer."),
                    "Run post_tickets again later: it checks before creating, so nothing is duplicated.",
                    format!("{} attempts", work.creates),
                ))
            }
            Err(error) => work.error = Some(error),
        },
        Job::Update(_) => {
            match writer.updated(&key, outcome) {
                Ok(()) => work.updated = true,
                Err(error) => work.error = Some(error),
            }
            return Vec::new();
        }
        Job::Notes(w, purpose) => match writer.notes_page(&key, outcome) {
            Ok(page) => {
                work.read.extend(page.texts);
                if let Some(next) = page.next {
                    return vec![(Job::Notes(w, purpose), next)];
                }
                let texts = std::mem::take(&mut work.read);
                let has = |c: usize| keys::has_note(work.source, &comments[c].id, texts.iter().map(String::as_str));
                match purpose {
                    Purpose::Missing if dry_run => {
                        work.notes_added += (0..comments.len()).filter(|&c| !has(c)).count() as u32
                    }
                    Purpose::Missing => work.to_post = (0..comments.len()).filter(|&c| !has(c)).collect(),
                    Purpose::Check(c) if has(c) => work.notes_added += 1,
                    // The lost note did not land: post it again.
                    Purpose::Check(c) if work.note_posts < MAX_NOTE_POSTS => {
                        work.note_posts += 1;
                        return vec![(Job::PostNote(w, c), note_request(writer, work, &comments[c]))];
                    }
                    Purpose::Check(c) => {
                        work.error = Some(Error::new(
                            format!(
                                "Adding {} comment {} to ticket {key} kept failing without an answer.",
                                work.source.label, comments[c].id
                            ),
                            "Run post_tickets again later: it checks the notes before adding, so nothing is duplicated.",
                            format!("{} attempts", work.note_posts),
                        ))
                    }
                }
            }
            Err(error) => work.error = Some(error),
        },
        Job::PostNote(w, c) => match outcome {
            Err(HttpError::OutcomeUnknown { .. }) => {
                work.read.clear();
                return vec![(
                    Job::Notes(w, Purpose::Check(c)),
                    writer.notes(work.ticket_id.as_deref().unwrap_or_default()),
                )];
            }
            outcome => match writer.note_added(&key, outcome) {
                Ok(()) => work.notes_added += 1,
                Err(error) => work.error = Some(error),
            },
        },
    }
    // Next comment of this ticket, if all went well so far.
    if work.error.is_some() || work.ticket_id.is_none() {
        return Vec::new();
    }
    match work.to_post.pop_front() {
        Some(c) => {
            work.note_posts = 1;
            vec![(Job::PostNote(index, c), note_request(writer, work, &comments[c]))]
        }
        None => Vec::new(),
    }
}

fn new_ticket<'a>(writer: &dyn TicketRequests, work: &'a Work) -> NewTicket<'a> {
    let (summary, cut) = shorten_summary(&work.ticket.summary, writer.summary_max());
    NewTicket {
        ticket: work.ticket,
        key: &work.key,
        company: &work.company,
        status: &work.status,
        priority: work.priority.as_ref(),
        summary,
        description: description(work.ticket, work.source, cut),
    }
}

fn create_request(writer: &dyn TicketRequests, work: &Work) -> Request {
    writer.create(&new_ticket(writer, work))
}

fn note_request(writer: &dyn TicketRequests, work: &Work, comment: &Comment) -> Request {
    writer.add_note(work.ticket_id.as_deref().unwrap_or_default(), &note_text(comment, work.source), comment.public)
}

/// Why a ticket is closed, for destinations that keep a closure note.
fn closure_note(work: &Work) -> String {
    // The marker keeps the way back from carrying the sync's own note to the source.
    let (label, key, status) = (work.source.label, work.ticket.key.trim(), work.ticket.status.trim());
    format!("Closed because {label} ticket {key} is {status}.\n{}", keys::status_marker(work.source.name, key))
}

/// A summary the destination accepts: cut at a word boundary with an ellipsis when too long
/// (`true` then: the description carries the whole).
pub fn shorten_summary(summary: &str, max: usize) -> (String, bool) {
    let summary = summary.trim();
    let summary = if summary.is_empty() { "(no summary)" } else { summary };
    if summary.chars().count() <= max {
        return (summary.to_string(), false);
    }
    let budget = max - 1; // room for the ellipsis
    let cut: String = summary.chars().take(budget).collect();
    let at_word = match cut.rfind(char::is_whitespace) {
        Some(i) if i >= budget / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    (format!("{}…", at_word.trim_end()), true)
}

/// The description: the whole summary when it was cut, the source's description, and where the
/// ticket came from.
pub fn description(ticket: &Ticket, source: &System, summary_cut: bool) -> String {
    let mut parts = Vec::new();
    if summary_cut {
        parts.push(ticket.summary.trim().to_string());
    }
    if let Some(description) = ticket.description.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        parts.push(description.to_string());
    }
    let mut origin = format!("{} ticket {} (account {})", source.label, ticket.key.trim(), ticket.account_id.trim());
    for (label, value) in [
        ("type", &ticket.request_type),
        ("priority", &ticket.priority),
        ("severity", &ticket.severity),
        ("reporter", &ticket.reporter),
        ("link", &ticket.url),
    ] {
        if let Some(value) = value {
            origin.push_str(&format!(", {label} {value}"));
        }
    }
    parts.push(origin);
    parts.join("\n\n")
}

/// A comment as a note: its text, who wrote it and when, and the marker that finds it again.
pub fn note_text(comment: &Comment, source: &System) -> String {
    let author = comment.author.as_deref().unwrap_or(source.label);
    let when = comment.created.as_deref().map(|c| format!(", {c}")).unwrap_or_default();
    format!("{}\n\n— {author}{when} {}", comment.body.trim(), keys::note_marker(source.name, &comment.id))
}

impl Work<'_> {
    fn result(&self) -> PostResult {
        let outcome = match (&self.error, self.created, self.updated || self.notes_added > 0) {
            (Some(_), _, _) => PostOutcome::Failed,
            (None, true, _) => PostOutcome::Created,
            (None, false, true) => PostOutcome::Updated,
            (None, false, false) => PostOutcome::Unchanged,
        };
        PostResult {
            system: self.source.name.to_string(),
            key: self.ticket.key.trim().to_string(),
            outcome,
            ticket_id: self.ticket_id.clone(),
            company_id: Some(self.company.clone()),
            catch_all: self.catch_all,
            status: Some(self.status.name.clone()),
            priority: self.priority.as_ref().map(|p| p.name.clone()),
            notes_added: self.notes_added,
            error: self.error.clone(),
        }
    }
}

impl PostResult {
    fn failed(ticket: &Ticket, error: Error) -> PostResult {
        PostResult::unposted(ticket, PostOutcome::Failed, error)
    }

    fn skipped(ticket: &Ticket, source: &System, destination: &System, link_field: &str) -> PostResult {
        let key = ticket.key.trim();
        let error = Error::new(
            format!(
                "No {} company is linked to {} account {} ({link_field}), so ticket {key} has nowhere to go.",
                destination.label, source.label, ticket.account_id
            ),
            "Run match_companies (or set the link on the right company by hand), or give catch_all_company, then post the ticket again.",
            "",
        );
        PostResult::unposted(ticket, PostOutcome::Skipped, error)
    }

    fn unposted(ticket: &Ticket, outcome: PostOutcome, error: Error) -> PostResult {
        PostResult {
            system: ticket.system.trim().to_string(),
            key: ticket.key.trim().to_string(),
            outcome,
            ticket_id: None,
            company_id: None,
            catch_all: false,
            status: None,
            priority: None,
            notes_added: 0,
            error: Some(error),
        }
    }
}

fn count(results: &[PostResult]) -> PostCounts {
    let of = |outcome: PostOutcome| results.iter().filter(|r| r.outcome == outcome).count() as u32;
    PostCounts {
        tickets: results.len() as u32,
        created: of(PostOutcome::Created),
        updated: of(PostOutcome::Updated),
        unchanged: of(PostOutcome::Unchanged),
        skipped: of(PostOutcome::Skipped),
        failed: of(PostOutcome::Failed),
        notes_added: results.iter().map(|r| r.notes_added).sum(),
        catch_all: results.iter().filter(|r| r.catch_all).count() as u32,
        resumed: 0,
        unfinished: 0,
    }
}

/// The error of a ticket the time budget left for the next call.
fn out_of_time() -> Error {
    Error::new(
        "The action's time budget ran out before this ticket was done.",
        "Run post_tickets again with the same tickets and the output's next_cursor: it goes on from here.",
        "",
    )
}

fn comments_of(ticket: &Ticket, post_comments: bool) -> &[Comment] {
    match (&ticket.comments, post_comments) {
        (Some(comments), true) => comments,
        _ => &[],
    }
}

fn dedup<T: Ord>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut items: Vec<T> = items.collect();
    items.sort();
    items.dedup();
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::armor;

    #[test]
    fn summaries_are_cut_at_a_word_boundary() {
        let (short, cut) = shorten_summary("Short one", 100);
        assert_eq!((short.as_str(), cut), ("Short one", false));
        let long = "Suspicious outbound traffic detected from host web-01 to a known command and control address in the EU region";
        let (s, cut) = shorten_summary(long, 100);
        assert!(cut && s.chars().count() <= 100 && s.ends_with('…'), "{s}");
        assert!(long.starts_with(s.trim_end_matches('…')));
        assert!(!s.trim_end_matches('…').ends_with(' '));
        let (s, _) = shorten_summary(&"é".repeat(300), 100);
        assert_eq!(s.chars().count(), 100);
        assert_eq!(shorten_summary("   ", 100).0, "(no summary)");
    }

    #[test]
    fn notes_carry_the_marker_that_finds_them() {
        let comment = Comment {
            id: "55".into(),
            author: Some("ARMOR SOC".into()),
            body: "Blocked.".into(),
            created: None,
            public: true,
        };
        let text = note_text(&comment, &armor::SYSTEM);
        assert!(text.ends_with("[psa-bridge armor comment 55]"), "{text}");
        assert!(keys::has_note(&armor::SYSTEM, "55", [text.as_str()]));
    }
}

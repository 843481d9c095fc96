//! ARMOR tickets onto a ConnectWise service board, exactly once: each ticket is looked up by
//! externalXRef (its ARMOR key) before it is created, a lost answer to a create is checked
//! before trying again, statuses are kept in step, and each comment becomes one note.

use super::Context;
use crate::connectwise::conditions::Condition;
use crate::connectwise::custom_fields::{self, COMPANY_ID};
use crate::connectwise::models::{Board, BoardStatus, Company, Note, ServiceTicket};
use crate::connectwise::tickets::{self, StatusResolver};
use crate::connectwise::{ConnectWise, SERVICE, paging, query};
use crate::error::Error;
use crate::http::{Flow, HttpError, Method, NoAuth, Request, Response};
use crate::log;
use crate::types::{Comment, PostCounts, PostOutcome, PostResult, PostTicketsInput, PostTicketsOutput, Ticket};
use serde_json::json;
use std::collections::{HashMap, VecDeque};

const DEFAULT_BOARD: &str = "ARMORtickets";
/// ConnectWise's limit on externalXRef, the de-duplication key.
const XREF_MAX: usize = 100;
/// Keys or ids per `in (...)` condition: keeps URLs well under common limits.
const IN_CHUNK: usize = 100;
/// Creates tried for one ticket, each after a lookup showed the one before had not landed. At
/// 13% failed answers (5xx, drops, lost), 3 left one ticket in ~450 for the next run; 6 leave one in ~200,000.
const MAX_CREATES: u32 = 6;
/// The same bound for each note: posts tried, each after reading the notes showed it missing.
const MAX_NOTE_POSTS: u32 = 6;

/// One ARMOR ticket's way onto the board.
struct Work<'a> {
    ticket: &'a Ticket,
    company: u64,
    status: (u64, String),
    ticket_id: Option<u64>,
    creates: u32,
    created: bool,
    patched: bool,
    notes_added: u32,
    /// Posts of the note being added now.
    note_posts: u32,
    /// Comments still to post, in order (one at a time, so notes keep the comments' order).
    to_post: VecDeque<usize>,
    error: Option<Error>,
}

enum Job {
    Create(usize),
    /// After a create whose answer was lost: did it land?
    Lookup(usize),
    Patch(usize),
    Notes(usize),
    PostNote(usize, usize),
    /// After a note whose answer was lost.
    CheckNote(usize, usize),
}

pub fn run(ctx: &mut Context, input: PostTicketsInput) -> Result<PostTicketsOutput, Error> {
    let cw = ConnectWise::from_connection(ctx.connection, "post_tickets")?;
    let dry_run = input.dry_run.unwrap_or(false);
    let post_comments = input.post_comments.unwrap_or(true);
    let board_name = input.board.as_deref().map(str::trim).filter(|b| !b.is_empty()).unwrap_or(DEFAULT_BOARD);

    let board = find_board(ctx, &cw, board_name)?;
    let mut statuses: Vec<BoardStatus> = Vec::new();
    paging::for_each_page(&cw, &mut ctx.http, &format!("/service/boards/{}/statuses", board.id), "board statuses", |page| {
        statuses.extend(page)
    })?;
    let resolver = StatusResolver::new(statuses, input.status_map.clone().unwrap_or_default(), input.default_status.as_deref())
        .map_err(|problem| {
            Error::invalid("input.default_status", problem, format!("Name a status of the {board_name} board, or leave default_status out."))
        })?;

    // The first occurrence of each key is posted; repeats in the input share its result.
    let mut first_of: HashMap<&str, usize> = HashMap::new();
    for (i, ticket) in input.tickets.iter().enumerate() {
        first_of.entry(ticket.key.trim()).or_insert(i);
    }
    let accounts: Vec<u64> = dedup(input.tickets.iter().map(|t| t.account_id));
    let companies = companies_by_account(ctx, &cw, &accounts)?;
    let keys: Vec<&str> = dedup(first_of.keys().copied().filter(|k| !k.is_empty() && k.len() <= XREF_MAX));
    let existing = existing_tickets(ctx, &cw, &keys)?;

    let mut results: Vec<Option<PostResult>> = vec![None; input.tickets.len()];
    let mut works: Vec<Work> = Vec::new();
    let mut work_of_input: Vec<Option<usize>> = vec![None; input.tickets.len()];
    let mut jobs = Vec::new();
    for (i, ticket) in input.tickets.iter().enumerate() {
        let key = ticket.key.trim();
        if first_of.get(key) != Some(&i) {
            continue;
        }
        let fail = |error: Error| PostResult::failed(key, None, error);
        if key.is_empty() || key.len() > XREF_MAX {
            results[i] = Some(fail(Error::invalid(
                &format!("input.tickets[{i}].key"),
                format!("the key must be 1 to {XREF_MAX} characters"),
                "Pass tickets as get_tickets returns them.",
            )));
            continue;
        }
        let company = match companies.get(&ticket.account_id).map(Vec::as_slice) {
            None | Some([]) => {
                results[i] = Some(PostResult::skipped(key, ticket.account_id));
                continue;
            }
            Some([company]) => *company,
            Some(several) => {
                results[i] = Some(fail(Error::new(
                    format!("Several ConnectWise companies carry {COMPANY_ID} {}: {several:?}.", ticket.account_id),
                    "Clear the field on all but one of them (or run match_companies), then run post_tickets again.",
                    "",
                )));
                continue;
            }
        };
        let status = match resolver.resolve(&ticket.status) {
            Ok(status) => status,
            Err(problem) => {
                results[i] = Some(PostResult { company_id: Some(company), ..fail(Error::new(
                    format!("Ticket {key} has no status to go to on the {board_name} board: {problem}."),
                    "Add the status to the board, or map it with status_map / default_status.",
                    format!("ARMOR status {:?}", ticket.status),
                )) });
                continue;
            }
        };
        let index = works.len();
        let found = existing.get(key).and_then(|t| t.iter().min_by_key(|t| t.id));
        let mut work = Work {
            ticket,
            company,
            status,
            ticket_id: found.map(|t| t.id),
            creates: 0,
            created: false,
            patched: false,
            notes_added: 0,
            note_posts: 0,
            to_post: VecDeque::new(),
            error: None,
        };
        let comments = comment_count(ticket, post_comments);
        match found {
            None if dry_run => {
                work.created = true;
                work.notes_added = comments;
            }
            None => jobs.push((Job::Create(index), create_request(&cw, &board, &work))),
            Some(existing) => {
                if existing.status.as_ref().and_then(|s| s.id) != Some(work.status.0 as i64) {
                    if dry_run {
                        work.patched = true;
                    } else {
                        jobs.push((Job::Patch(index), patch_request(&cw, existing.id, work.status.0)));
                    }
                }
                if comments > 0 {
                    jobs.push((Job::Notes(index), notes_request(&cw, existing.id)));
                }
            }
        }
        work_of_input[i] = Some(index);
        works.push(work);
    }

    let total = jobs.len();
    let mut finished = 0;
    ctx.http.run(&mut NoAuth, jobs, |job, outcome, next| {
        finished += 1;
        log::progress("posting tickets", finished, total.max(finished));
        for (job, request) in step(&cw, &board, &mut works, job, outcome, dry_run, post_comments) {
            next.push(job, request);
        }
        Flow::Continue
    })?;

    for (i, ticket) in input.tickets.iter().enumerate() {
        if results[i].is_some() {
            continue;
        }
        let first = first_of.get(ticket.key.trim()).copied().unwrap_or(i);
        results[i] = match work_of_input[first] {
            Some(w) => Some(works[w].result()),
            None => results[first].clone(),
        };
    }
    let results: Vec<PostResult> = results.into_iter().flatten().collect();
    let counts = count(&results);
    log::info(format!(
        "post_tickets{}: {} created, {} updated, {} unchanged, {} skipped, {} failed, {} notes",
        if dry_run { " (dry run)" } else { "" },
        counts.created,
        counts.updated,
        counts.unchanged,
        counts.skipped,
        counts.failed,
        counts.notes_added
    ));
    Ok(PostTicketsOutput { results, counts, dry_run })
}

/// Handles one finished request of a ticket's way; returns the requests that follow from it.
fn step(
    cw: &ConnectWise,
    board: &Board,
    works: &mut [Work],
    job: Job,
    outcome: Result<Response, HttpError>,
    dry_run: bool,
    post_comments: bool,
) -> Vec<(Job, Request)> {
    let index = match &job {
        Job::Create(w) | Job::Lookup(w) | Job::Patch(w) | Job::Notes(w) | Job::PostNote(w, _) | Job::CheckNote(w, _) => *w,
    };
    let work = &mut works[index];
    let key = work.ticket.key.trim().to_string();
    let comments = comments_of(work.ticket, post_comments);
    match job {
        Job::Create(w) => {
            work.creates += 1;
            match outcome {
                Err(HttpError::OutcomeUnknown { .. }) => return vec![(Job::Lookup(w), lookup_request(cw, &key))],
                outcome => match cw.decode::<ServiceTicket>(&format!("creating ticket {key}"), outcome) {
                    Ok(created) => {
                        work.ticket_id = Some(created.id);
                        work.created = true;
                        // A new ticket has no notes yet: post every comment.
                        work.to_post = (0..comments.len()).collect();
                    }
                    Err(error) => work.error = Some(error),
                },
            }
        }
        Job::Lookup(w) => match cw.decode::<Vec<ServiceTicket>>(&format!("looking up ticket {key}"), outcome) {
            Ok(found) => match found.iter().min_by_key(|t| t.id) {
                Some(landed) => {
                    work.ticket_id = Some(landed.id);
                    work.created = true;
                    if !comments.is_empty() {
                        return vec![(Job::Notes(w), notes_request(cw, landed.id))];
                    }
                }
                None if work.creates < MAX_CREATES => return vec![(Job::Create(w), create_request(cw, board, work))],
                None => {
                    work.error = Some(Error::new(
                        format!("Creating ticket {key} in {SERVICE} kept failing without an answer."),
                        "Run post_tickets again later: it checks before creating, so nothing is duplicated.",
                        format!("{} attempts", work.creates),
                    ))
                }
            },
            Err(error) => work.error = Some(error),
        },
        Job::Patch(_) => match cw.decode::<serde_json::Value>(&format!("updating the status of ticket {key}"), outcome) {
            Ok(_) => work.patched = true,
            Err(error) => work.error = Some(error),
        },
        Job::Notes(_) => match cw.decode::<Vec<Note>>(&format!("reading the notes of ticket {key}"), outcome) {
            Ok(notes) => {
                let missing = (0..comments.len()).filter(|&c| !tickets::has_note(&notes, comments[c].id));
                if dry_run {
                    work.notes_added += missing.count() as u32;
                } else {
                    work.to_post = missing.collect();
                }
            }
            Err(error) => work.error = Some(error),
        },
        Job::PostNote(w, c) => match outcome {
            Err(HttpError::OutcomeUnknown { .. }) => {
                return vec![(Job::CheckNote(w, c), notes_request(cw, work.ticket_id.unwrap_or_default()))];
            }
            outcome => match cw.decode::<serde_json::Value>(&format!("adding a note to ticket {key}"), outcome) {
                Ok(_) => work.notes_added += 1,
                Err(error) => work.error = Some(error),
            },
        },
        Job::CheckNote(w, c) => match cw.decode::<Vec<Note>>(&format!("reading the notes of ticket {key}"), outcome) {
            Ok(notes) if tickets::has_note(&notes, comments[c].id) => work.notes_added += 1,
            // The lost note did not land: post it again.
            Ok(_) if work.note_posts < MAX_NOTE_POSTS => {
                work.note_posts += 1;
                return vec![(Job::PostNote(w, c), note_request(cw, work.ticket_id.unwrap_or_default(), &comments[c]))];
            }
            Ok(_) => {
                work.error = Some(Error::new(
                    format!("Adding ARMOR comment {} to ticket {key} in {SERVICE} kept failing without an answer.", comments[c].id),
                    "Run post_tickets again later: it checks the notes before adding, so nothing is duplicated.",
                    format!("{} attempts", work.note_posts),
                ))
            }
            Err(error) => work.error = Some(error),
        },
    }
    // Next comment of this ticket, if all went well so far.
    match (&work.error, work.ticket_id, work.to_post.pop_front()) {
        (None, Some(ticket_id), Some(c)) => {
            work.note_posts = 1;
            vec![(Job::PostNote(index, c), note_request(cw, ticket_id, &comments[c]))]
        }
        _ => Vec::new(),
    }
}

impl Work<'_> {
    fn result(&self) -> PostResult {
        let outcome = match (&self.error, self.created, self.patched || self.notes_added > 0) {
            (Some(_), _, _) => PostOutcome::Failed,
            (None, true, _) => PostOutcome::Created,
            (None, false, true) => PostOutcome::Updated,
            (None, false, false) => PostOutcome::Unchanged,
        };
        PostResult {
            key: self.ticket.key.trim().to_string(),
            outcome,
            ticket_id: self.ticket_id,
            company_id: Some(self.company),
            board_status: Some(self.status.1.clone()),
            notes_added: self.notes_added,
            error: self.error.clone(),
        }
    }
}

impl PostResult {
    fn failed(key: &str, company_id: Option<u64>, error: Error) -> PostResult {
        PostResult {
            key: key.to_string(),
            outcome: PostOutcome::Failed,
            ticket_id: None,
            company_id,
            board_status: None,
            notes_added: 0,
            error: Some(error),
        }
    }

    fn skipped(key: &str, account_id: u64) -> PostResult {
        PostResult {
            key: key.to_string(),
            outcome: PostOutcome::Skipped,
            ticket_id: None,
            company_id: None,
            board_status: None,
            notes_added: 0,
            error: Some(Error::new(
                format!("No ConnectWise company carries {COMPANY_ID} {account_id}, so ticket {key} has nowhere to go."),
                "Run match_companies (or set the field on the right company by hand), then post the ticket again.",
                "",
            )),
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
    }
}

fn comments_of(ticket: &Ticket, post_comments: bool) -> &[Comment] {
    match (&ticket.comments, post_comments) {
        (Some(comments), true) => comments,
        _ => &[],
    }
}

fn comment_count(ticket: &Ticket, post_comments: bool) -> u32 {
    comments_of(ticket, post_comments).len() as u32
}

fn dedup<T: Ord + Clone>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut items: Vec<T> = items.collect();
    items.sort();
    items.dedup();
    items
}

fn find_board(ctx: &mut Context, cw: &ConnectWise, name: &str) -> Result<Board, Error> {
    let condition = Condition::eq("name", name).to_string();
    let path = format!("/service/boards?{}", query(&[("conditions", &condition), ("fields", "id,name")]));
    let boards: Vec<Board> = cw.decode("finding the service board", ctx.http.send(cw.get(path)))?;
    let exact = boards.iter().find(|b| b.name.as_deref() == Some(name));
    exact.or(boards.first()).cloned().ok_or_else(|| {
        Error::new(
            format!("ConnectWise has no service board named {name:?}."),
            "Create it in ConnectWise under System > Setup Tables > Service Board, with the statuses your ARMOR \
             tickets use (e.g. New, In Progress, Completed, Closed), or name an existing board in the `board` input.",
            "",
        )
    })
}

/// Companies stamped with each account's ARMORcompanyId, deleted ones left out.
fn companies_by_account(ctx: &mut Context, cw: &ConnectWise, accounts: &[u64]) -> Result<HashMap<u64, Vec<u64>>, Error> {
    let mut by_account: HashMap<u64, Vec<u64>> = HashMap::new();
    let chunks: Vec<Condition> = if accounts.len() > 2 * IN_CHUNK {
        vec![Condition::custom_field_set(COMPANY_ID)]
    } else {
        accounts.chunks(IN_CHUNK).map(|chunk| Condition::custom_field_in(COMPANY_ID, chunk.iter().map(u64::to_string))).collect()
    };
    for custom in chunks {
        let path = format!(
            "/company/companies?{}",
            query(&[
                ("conditions", &Condition::eq("deletedFlag", false).to_string()),
                ("customFieldConditions", &custom.to_string()),
                ("fields", "id,identifier,name,customFields"),
                ("orderBy", "id asc"),
            ])
        );
        paging::for_each_page::<Company>(cw, &mut ctx.http, &path, "companies by ARMOR account", |page| {
            for company in page {
                let fields = company.custom_fields.as_ref().map(|f| f.parse()).transpose().unwrap_or_else(|problem| {
                    log::info(format!("skipping {SERVICE} company {}: its custom fields could not be read ({problem})", company.id));
                    None
                });
                if let Some(account) = custom_fields::stamped_account(fields.as_deref().unwrap_or_default()) {
                    by_account.entry(account).or_default().push(company.id);
                }
            }
        })?;
    }
    Ok(by_account)
}

/// Tickets already posted, by externalXRef.
fn existing_tickets(ctx: &mut Context, cw: &ConnectWise, keys: &[&str]) -> Result<HashMap<String, Vec<ServiceTicket>>, Error> {
    let mut existing: HashMap<String, Vec<ServiceTicket>> = HashMap::new();
    for chunk in keys.chunks(IN_CHUNK) {
        let condition = Condition::is_in("externalXRef", chunk.iter().copied()).to_string();
        let path = format!(
            "/service/tickets?{}",
            query(&[("conditions", &condition), ("fields", "id,externalXRef,status,company,board"), ("orderBy", "id asc")])
        );
        paging::for_each_page::<ServiceTicket>(cw, &mut ctx.http, &path, "tickets already posted", |page| {
            for ticket in page {
                if let Some(key) = ticket.external_x_ref.clone() {
                    existing.entry(key).or_default().push(ticket);
                }
            }
        })?;
    }
    Ok(existing)
}

fn create_request(cw: &ConnectWise, board: &Board, work: &Work) -> Request {
    let (summary, cut) = tickets::shorten_summary(&work.ticket.summary);
    cw.request(Method::Post, "/service/tickets").json_body(&json!({
        "summary": summary,
        "board": {"id": board.id},
        "company": {"id": work.company},
        "status": {"id": work.status.0},
        "initialDescription": tickets::description(work.ticket, cut),
        "externalXRef": work.ticket.key.trim(),
    }))
}

fn lookup_request(cw: &ConnectWise, key: &str) -> Request {
    let condition = Condition::eq("externalXRef", key).to_string();
    cw.get(format!("/service/tickets?{}", query(&[("conditions", &condition), ("fields", "id,externalXRef,status")])))
}

fn patch_request(cw: &ConnectWise, ticket_id: u64, status_id: u64) -> Request {
    cw.request(Method::Patch, format!("/service/tickets/{ticket_id}"))
        .json_body(&json!([{"op": "replace", "path": "status", "value": {"id": status_id}}]))
}

fn notes_request(cw: &ConnectWise, ticket_id: u64) -> Request {
    cw.get(format!("/service/tickets/{ticket_id}/notes?{}", query(&[("fields", "id,text"), ("pageSize", "1000")])))
}

fn note_request(cw: &ConnectWise, ticket_id: u64, comment: &Comment) -> Request {
    cw.request(Method::Post, format!("/service/tickets/{ticket_id}/notes"))
        .json_body(&json!({"text": tickets::note_text(comment), "detailDescriptionFlag": true}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::hostile_tests::{connection, ticket};
    use crate::actions::run_with;
    use crate::http::fake::{FakeTransport, Reply};
    use crate::http::{Method, Request};
    use serde_json::json;

    /// A ConnectWise whose every note POST fails without an answer, and where none ever lands.
    fn notes_never_land(request: &Request) -> Reply {
        let path = request.path.as_str();
        match (&request.method, path) {
            (Method::Post, p) if p.ends_with("/notes") => Reply::status(503),
            (Method::Post, _) => Reply::json(201, &json!({"id": 900, "externalXRef": "ATS-1"})),
            (_, p) if p.starts_with("/service/boards?") => Reply::json(200, &json!([{"id": 3, "name": "ARMORtickets"}])),
            (_, p) if p.starts_with("/service/boards/3/statuses") => {
                Reply::json(200, &json!([{"id": 31, "name": "Open", "defaultFlag": true}]))
            }
            (_, p) if p.starts_with("/company/companies") => {
                Reply::json(200, &json!([{"id": 250, "customFields": [{"id": 37, "caption": "ARMORcompanyId", "value": "7001"}]}]))
            }
            _ => Reply::json(200, &json!([])),
        }
    }

    /// Five creates fail without an answer and lookups find nothing; the sixth lands.
    #[test]
    fn a_create_is_tried_again_after_each_lookup_up_to_the_bound() {
        let mut creates = 0;
        let mut transport = FakeTransport::new(|request: &Request| match (&request.method, request.path.as_str()) {
            (Method::Post, "/service/tickets") => {
                creates += 1;
                if creates <= 5 { Reply::status(503) } else { Reply::json(201, &json!({"id": 900})) }
            }
            _ => notes_never_land(request),
        });
        let output = run_with(&connection(), &mut transport, |ctx| run(ctx, input(0))).unwrap();
        assert_eq!(output.results[0].outcome, PostOutcome::Created, "{:?}", output.results[0].error);
        let lookups = transport.sent.iter().filter(|r| r.method == Method::Get && r.path.starts_with("/service/tickets?")).count();
        assert_eq!(lookups, 1 + 5, "the batch lookup, then one before each new create");
    }

    fn input(comments: usize) -> PostTicketsInput {
        PostTicketsInput {
            tickets: vec![ticket("ATS-1".into(), "s".into(), comments)],
            board: None,
            status_map: None,
            default_status: None,
            post_comments: None,
            dry_run: None,
        }
    }

    #[test]
    fn a_note_that_never_lands_is_tried_a_bounded_number_of_times() {
        let mut transport = FakeTransport::new(notes_never_land);
        let output = run_with(&connection(), &mut transport, |ctx| run(ctx, input(2))).unwrap();
        let result = &output.results[0];
        assert_eq!(result.outcome, PostOutcome::Failed);
        assert!(result.error.as_ref().unwrap().cause.contains("kept failing"), "{:?}", result.error);
        let note_posts = transport.sent.iter().filter(|r| r.method == Method::Post && r.path.ends_with("/notes")).count();
        assert_eq!(note_posts, MAX_NOTE_POSTS as usize, "each post after a read showed the note missing; the second comment waits");
    }
}

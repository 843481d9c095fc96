//! Source tickets into the destination the connection (or the input) names, exactly once.

use super::Context;
use crate::connectors;
use crate::connectors::Destination;
use crate::error::Error;
use crate::sync::post::{self, Posted};
use crate::types::{PostOutcome, PostTicketsInput, PostTicketsOutput, Ticket};

pub fn run(ctx: &mut Context, input: PostTicketsInput) -> Result<PostTicketsOutput, Error> {
    let mut destination = connectors::destination(ctx.connection, input.destination.as_deref(), "post_tickets")?;
    Ok(post(ctx, destination.as_mut(), &input)?.output)
}

/// Posts, then tells the sources what the destination now holds (sync posts through it too).
pub fn post(ctx: &mut Context, destination: &mut dyn Destination, input: &PostTicketsInput) -> Result<Posted, Error> {
    let system = destination.system();
    let posted = post::run(ctx, destination.tickets(), system, input)?;
    if !posted.output.dry_run {
        tell_sources(ctx, input, &posted.output);
    }
    Ok(posted)
}

/// Tells each configured source which of its tickets the destination now holds.
fn tell_sources(ctx: &mut Context, input: &PostTicketsInput, output: &PostTicketsOutput) {
    let held: std::collections::HashSet<(&str, &str)> = output
        .results
        .iter()
        .filter(|r| matches!(r.outcome, PostOutcome::Created | PostOutcome::Updated | PostOutcome::Unchanged))
        .map(|r| (r.system.as_str(), r.key.as_str()))
        .collect();
    let held = |t: &Ticket| held.contains(&(t.system.as_str(), t.key.as_str()));
    for system in connectors::SYSTEMS.iter().filter(|s| s.source.is_some() && (s.configured)(ctx.connection)) {
        let tickets: Vec<&Ticket> = input.tickets.iter().filter(|t| t.system == system.name && held(t)).collect();
        if tickets.is_empty() {
            continue;
        }
        match system.source.map(|open| open(ctx.connection)) {
            Some(Ok(mut source)) => source.posted(ctx, &tickets),
            Some(Err(error)) => {
                crate::log::info(format!("could not tell {} what was posted: {}", system.label, error.cause))
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::hostile_tests::{connection, post_input, ticket};
    use crate::actions::run_with;
    use crate::http::fake::{FakeTransport, Reply};
    use crate::http::{Method, Request};
    use crate::sync::post::MAX_NOTE_POSTS;
    use crate::types::PostOutcome;
    use serde_json::{Value, json};
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    /// A ConnectWise with board 3, company 250 linked to ARMOR account 7001, no tickets, and
    /// every note POST failing without an answer (none ever lands).
    fn connectwise(request: &Request) -> Reply {
        let path = request.path.as_str();
        match (&request.method, path) {
            (Method::Post, p) if p.ends_with("/notes") => Reply::status(503),
            (Method::Post, _) => Reply::json(201, &json!({"id": 900, "externalXRef": "armor:ATS-1"})),
            (_, p) if p.starts_with("/service/boards?") => {
                Reply::json(200, &json!([{"id": 3, "name": "ARMORtickets"}]))
            }
            (_, p) if p.starts_with("/service/boards/3/statuses") => Reply::json(
                200,
                &json!([{"id": 31, "name": "Open", "defaultFlag": true}, {"id": 32, "name": "Closed"}]),
            ),
            (_, p) if p.starts_with("/company/companies") => Reply::json(
                200,
                &json!([{"id": 250, "customFields": [{"id": 37, "caption": "ARMORcompanyId", "value": "7001"}]}]),
            ),
            _ => Reply::json(200, &json!([])),
        }
    }

    fn input(comments: usize) -> PostTicketsInput {
        post_input(vec![ticket("ATS-1".into(), "s".into(), comments)])
    }

    fn note_posts(transport_sent: &[Request]) -> usize {
        transport_sent.iter().filter(|r| r.method == Method::Post && r.path.ends_with("/notes")).count()
    }

    /// An existing ticket (under its 0.2 key) with the status `Closed` on the board.
    fn existing(request: &Request) -> Option<Reply> {
        (request.method == Method::Get && request.path.starts_with("/service/tickets?")).then(|| {
            Reply::json(
                200,
                &json!([{"id": 900, "externalXRef": "armor:ATS-1", "status": {"id": 32, "name": "Closed"}}]),
            )
        })
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
            _ => connectwise(request),
        });
        let output = run_with(&connection(), &mut transport, |ctx| run(ctx, input(0))).unwrap();
        assert_eq!(output.results[0].outcome, PostOutcome::Created, "{:?}", output.results[0].error);
        let lookups = transport
            .sent
            .iter()
            .filter(|r| r.method == Method::Get && r.path.starts_with("/service/tickets?"))
            .count();
        assert_eq!(lookups, 1 + 5, "the batch lookup, then one before each new create");
    }

    #[test]
    fn a_note_that_never_lands_is_tried_a_bounded_number_of_times() {
        let mut transport = FakeTransport::new(connectwise);
        let output = run_with(&connection(), &mut transport, |ctx| run(ctx, input(2))).unwrap();
        let result = &output.results[0];
        assert_eq!(result.outcome, PostOutcome::Failed);
        assert!(result.error.as_ref().unwrap().cause.contains("kept failing"), "{:?}", result.error);
        assert_eq!(
            note_posts(&transport.sent),
            MAX_NOTE_POSTS as usize,
            "each post after a read showed the note missing; the second comment waits"
        );
    }

    /// Review defect: a status change and new comments both started a note chain, so a second
    /// chain ran in parallel, out of order. The PATCH answers slowly here, after the first note
    /// was started: the second note must still wait for the first one's answer.
    #[test]
    fn a_status_change_does_not_start_a_second_note_chain() {
        let clock = Rc::new(Cell::new(1_000));
        let note_starts: Rc<RefCell<Vec<(u64, String)>>> = Rc::default();
        let (time, starts) = (clock.clone(), note_starts.clone());
        let mut transport = FakeTransport::with_clock(clock, move |request: &Request| {
            if let Some(reply) = existing(request) {
                return reply;
            }
            match (&request.method, request.path.as_str()) {
                (Method::Patch, _) => Reply::json(200, &json!({})).after(100),
                (Method::Post, p) if p.ends_with("/notes") => {
                    let body: Value = serde_json::from_slice(&request.body).unwrap();
                    starts.borrow_mut().push((time.get(), body["text"].as_str().unwrap_or_default().to_string()));
                    Reply::json(201, &json!({"id": 1})).after(500)
                }
                (Method::Get, p) if p.contains("/notes") => Reply::json(200, &json!([])).after(10),
                _ => connectwise(request),
            }
        });
        let output = run_with(&connection(), &mut transport, |ctx| run(ctx, input(2))).unwrap();
        let result = &output.results[0];
        assert_eq!((result.outcome, result.notes_added), (PostOutcome::Updated, 2), "{:?}", result.error);
        let starts = note_starts.borrow();
        assert_eq!(starts.len(), 2);
        assert!(
            starts[0].1.contains("comment 0]") && starts[1].1.contains("comment 1]"),
            "in the comments' order: {starts:?}"
        );
        assert!(starts[1].0 >= starts[0].0 + 500, "the second note waited for the first one's answer: {starts:?}");
    }

    /// Review defect: notes were read with one pageSize=1000 request, so on a ticket with more
    /// notes the later comments were posted again on every run. Notes are read page by page.
    #[test]
    fn notes_beyond_the_first_page_are_found() {
        let mut transport = FakeTransport::new(|request: &Request| {
            if let Some(reply) = existing(request) {
                return reply;
            }
            let path = request.path.as_str();
            match &request.method {
                Method::Get if path.contains("/notes") && path.contains("page=2") => {
                    let notes: Vec<Value> = (0..2)
                        .map(|c| json!({"id": 2000 + c, "text": format!("b\n\n— x [ARMOR comment {c}]")}))
                        .collect();
                    Reply::json(200, &json!(notes))
                }
                Method::Get if path.contains("/notes") => {
                    let notes: Vec<Value> =
                        (0..1000).map(|n| json!({"id": n, "text": format!("technician note {n}")})).collect();
                    let next = "https://cw.example/v4_6_release/apis/3.0/service/tickets/900/notes?fields=id%2Ctext&pageSize=1000&page=2";
                    Reply::json(200, &json!(notes)).with_header("link", &format!("<{next}>; rel=\"next\""))
                }
                _ => connectwise(request),
            }
        });
        let mut input = input(2);
        input.tickets[0].status = "Closed".into();
        let output = run_with(&connection(), &mut transport, |ctx| run(ctx, input)).unwrap();
        let result = &output.results[0];
        assert_eq!((result.outcome, result.notes_added), (PostOutcome::Unchanged, 0), "{:?}", result.error);
        assert_eq!(note_posts(&transport.sent), 0, "both comments were on the second page, as 0.1 markers");
    }

    /// What 0.1 posted — the bare ARMOR key — is found, and no second ticket is created.
    #[test]
    fn tickets_posted_by_0_1_under_bare_keys_are_found() {
        let mut transport = FakeTransport::new(|request: &Request| match (&request.method, request.path.as_str()) {
            (Method::Get, p) if p.starts_with("/service/tickets?") => {
                let query = percent_encoding::percent_decode_str(p).decode_utf8_lossy().to_string();
                assert!(
                    query.contains(r#""armor:ATS-1""#) && query.contains(r#""ATS-1""#),
                    "both keys are looked up: {query}"
                );
                Reply::json(200, &json!([{"id": 77, "externalXRef": "ATS-1", "status": {"id": 31}}]))
            }
            _ => connectwise(request),
        });
        let output = run_with(&connection(), &mut transport, |ctx| run(ctx, input(0))).unwrap();
        let result = &output.results[0];
        assert_eq!(
            (result.outcome, result.ticket_id.as_deref()),
            (PostOutcome::Unchanged, Some("77")),
            "{:?}",
            result.error
        );
        assert!(transport.sent.iter().all(|r| r.method == Method::Get), "nothing is written");
    }

    #[test]
    fn tickets_without_a_company_go_to_the_catch_all_or_are_skipped() {
        let unlinked = |request: &Request| match request.path.as_str() {
            p if p.starts_with("/company/companies") && p.contains("customFieldConditions") => {
                Reply::json(200, &json!([]))
            }
            p if p.starts_with("/company/companies") => {
                Reply::json(200, &json!([{"id": 19, "identifier": "Unsorted"}]))
            }
            _ => connectwise(request),
        };
        let output = run_with(&connection(), &mut FakeTransport::new(unlinked), |ctx| run(ctx, input(0))).unwrap();
        assert_eq!((output.results[0].outcome, output.counts.skipped), (PostOutcome::Skipped, 1));
        let mut with_catch_all = input(0);
        with_catch_all.catch_all_company = Some("Unsorted".into());
        let mut transport = FakeTransport::new(unlinked);
        let output = run_with(&connection(), &mut transport, |ctx| run(ctx, with_catch_all)).unwrap();
        let result = &output.results[0];
        assert_eq!(
            (result.outcome, result.company_id.as_deref(), result.catch_all),
            (PostOutcome::Created, Some("19"), true)
        );
        assert_eq!(output.counts.catch_all, 1);
        let create = transport.sent.iter().find(|r| r.method == Method::Post).unwrap();
        let body: Value = serde_json::from_slice(&create.body).unwrap();
        assert_eq!((body["company"]["id"].clone(), body["externalXRef"].clone()), (json!(19), json!("armor:ATS-1")));
    }
}

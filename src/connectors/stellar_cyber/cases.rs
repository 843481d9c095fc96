//! Tenants as accounts, and cases as tickets: every page (by `modified_at`, ascending, from the
//! checkpoint), then each case's comments and summary in parallel. A maximum or the time budget
//! ends the run early with a checkpoint of what it finished as the cursor.

use super::{Checkpoint, StellarApi, StellarCyber, encode, mapping, models};
use crate::actions::Context;
use crate::desk::given;
use crate::error::Error;
use crate::http::{Flow, HttpError, Request};
use crate::log;
use crate::types::{Account, GetAccountsInput, GetTicketsInput, GetTicketsOutput, Ticket};
use std::collections::HashMap;

/// Stellar Cyber's largest page.
pub const PAGE_SIZE: usize = 500;
/// Pages one read may take before the list is taken to be endless (25 million cases).
const MAX_PAGES: usize = 50_000;
const DEFAULT_LOOK_BACK_DAYS: u32 = 7;
const DAY_MS: i64 = 86_400_000;

pub fn accounts(
    ctx: &mut Context,
    stellar: &mut StellarCyber,
    input: &GetAccountsInput,
) -> Result<Vec<Account>, Error> {
    let only = given(&input.account_id).or(given(&input.parent_id)).or(stellar.tenant.as_deref()).map(str::to_string);
    let mut accounts: Vec<Account> = stellar
        .tenants(ctx)?
        .into_iter()
        .filter_map(|t| {
            let id = t.cust_id?;
            Some(Account {
                system: super::SYSTEM.name.to_string(),
                name: t.cust_name.unwrap_or_else(|| id.clone()),
                id,
                parent_id: None,
                status: "Active".into(),
                account_type: Some("Tenant".into()),
                currency: None,
                address: None,
            })
        })
        .filter(|a| only.as_deref().is_none_or(|o| a.id == o))
        .filter(|a| input.statuses.as_ref().is_none_or(|s| s.iter().any(|s| s.trim().eq_ignore_ascii_case(&a.status))))
        .collect();
    accounts.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.id.cmp(&b.id)));
    Ok(accounts)
}

/// The query filters a read sends with every page.
struct Query {
    params: Vec<(&'static str, String)>,
}

impl Query {
    fn new(input: &GetTicketsInput, tenant: Option<&str>, sync_user: Option<&str>) -> Result<Query, Error> {
        let mut params = Vec::new();
        let list = |values: &Option<Vec<String>>| {
            values
                .iter()
                .flatten()
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(encode)
                .collect::<Vec<_>>()
                .join(",")
        };
        let accounts: Vec<&str> =
            input.account_ids.iter().flatten().map(|a| a.trim()).filter(|a| !a.is_empty()).collect();
        match (tenant, accounts.as_slice()) {
            (Some(tenant), _) => params.push(("cust_id", encode(tenant))),
            (None, [one]) => params.push(("cust_id", encode(one))),
            _ => {}
        }
        for (name, values) in [("status", &input.statuses), ("tags", &input.tags), ("NOT~tags", &input.exclude_tags)] {
            let values = list(values);
            if !values.is_empty() {
                params.push((name, values));
            }
        }
        if let Some(user) = sync_user {
            params.push(("NOT~modified_by", encode(user)));
        }
        if let Some(score) = input.min_score {
            if !score.is_finite() || score < 0.0 {
                return Err(Error::invalid(
                    "input.min_score",
                    format!("{score} is not a score"),
                    "Give a score of 0 or more, e.g. 50.",
                ));
            }
            params.push(("FROM~score", score.to_string()));
        }
        if let Some(alerts) = input.min_alert_count {
            params.push(("min_size_auto", alerts.to_string()));
        }
        Ok(Query { params })
    }

    fn page(&self, api: &StellarApi, from_ms: i64, skip: usize) -> Request {
        let mut path =
            format!("/cases?FROM~modified_at={from_ms}&sort=modified_at&order=asc&limit={PAGE_SIZE}&skip={skip}");
        for (name, value) in &self.params {
            path.push_str(&format!("&{name}={value}"));
        }
        api.get(path)
    }
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

enum Job {
    Comments(usize),
    Summary(usize),
}

pub fn read(ctx: &mut Context, stellar: &mut StellarCyber, input: &GetTicketsInput) -> Result<GetTicketsOutput, Error> {
    let filters = ["min_score", "min_alert_count", "tags", "exclude_tags", "look_back_days"];
    crate::connectors::refuse_other_filters(input, &super::SYSTEM, &filters)?;
    let start = match (given(&input.cursor), given(&input.since)) {
        (Some(cursor), _) => checkpoint("input.cursor", cursor)?,
        (None, Some(since)) => checkpoint("input.since", since)?,
        (None, None) => {
            let days = input.look_back_days.unwrap_or(DEFAULT_LOOK_BACK_DAYS);
            Checkpoint::at(ctx.http.unix_seconds() as i64 * 1000 - i64::from(days) * DAY_MS)
        }
    };
    let started_ms = ctx.http.unix_seconds() as i64 * 1000;
    let with_details = input.include_details.unwrap_or(true);
    let with_comments = input.include_comments.unwrap_or(true);
    let max = input.max_tickets.map_or(usize::MAX, |m| m as usize);
    let sync_user = stellar.sync_user(ctx)?;
    let users = if with_comments { stellar.user_names(ctx)? } else { HashMap::new() };
    let query = Query::new(input, stellar.tenant.as_deref(), sync_user.as_deref())?;
    let accounts: Vec<String> =
        input.account_ids.iter().flatten().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect();
    // Stop starting pages when this little of the budget is left, to fetch comments and return in time.
    let reserve_ms = (ctx.tuning.time_budget_ms / 4).min(60_000);

    // Cases in `modified_at` order; a case read twice (changed during the read) keeps its later version.
    let mut cases: Vec<Option<models::Case>> = Vec::new();
    let mut position: HashMap<String, usize> = HashMap::new();
    let (mut from_ms, mut skip, mut pages) = (start.from_ms(), 0usize, 0usize);
    let mut complete = false;
    let mut server_ms: Option<i64> = None;
    while position.len() < max && ctx.http.remaining_ms() > reserve_ms {
        pages += 1;
        if pages > MAX_PAGES {
            return Err(Error::new(
                "Stellar Cyber kept returning more pages of cases.",
                "Narrow the read (since, tags, min_score) or report this to Stellar Cyber support.",
                format!("{MAX_PAGES} pages from modified_at {from_ms}"),
            ));
        }
        let outcome = ctx.http.send_with(&mut stellar.auth, query.page(&stellar.api, from_ms, skip))?;
        if let Some(at) = outcome.as_ref().ok().and_then(|r| r.date_ms()) {
            server_ms = Some(server_ms.map_or(at, |s| s.min(at)));
        }
        let page: models::Data<models::CasePage> = stellar.api.decode("listing cases", outcome)?;
        let items = page.data.and_then(|d| d.cases).unwrap_or_default();
        let full = items.len() >= PAGE_SIZE;
        let last = items.last().and_then(|c| c.modified_at).unwrap_or(from_ms);
        let at_last = items.iter().filter(|c| c.modified_at == Some(last)).count();
        let mut cut = false;
        for case in items {
            if position.len() >= max {
                cut = true;
                break;
            }
            let modified = case.modified_at.unwrap_or(from_ms);
            if !start.is_new(&case.id, modified)
                || (!accounts.is_empty() && !accounts.iter().any(|a| Some(a) == case.cust_id.as_ref()))
            {
                continue;
            }
            if let Some(&earlier) = position.get(&case.id) {
                if cases[earlier].as_ref().and_then(|c| c.modified_at).unwrap_or(0) >= modified {
                    continue;
                }
                cases[earlier] = None;
            }
            position.insert(case.id.clone(), cases.len());
            cases.push(Some(case));
        }
        if cut {
            break;
        }
        if !full {
            complete = true;
            break;
        }
        // The next page starts at the last millisecond read, past the cases of it already read.
        if last == from_ms {
            skip += at_last.max(1);
        } else {
            from_ms = last;
            skip = at_last;
        }
    }
    let cases: Vec<models::Case> = cases.into_iter().flatten().collect();

    let mut comments: Vec<Option<Vec<models::Comment>>> = vec![None; cases.len()];
    let mut summaries: Vec<Option<String>> = vec![None; cases.len()];
    let mut jobs = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        if with_comments {
            jobs.push((Job::Comments(i), stellar.api.get(StellarApi::path(&["cases", &case.id, "comments"]))));
        }
        if with_details {
            let path = format!("{}?formatted=true", StellarApi::path(&["cases", &case.id, "summary"]));
            jobs.push((Job::Summary(i), stellar.api.get(path)));
        }
    }
    let total = jobs.len();
    let mut done = 0;
    let mut summary_read = vec![false; cases.len()];
    let mut failure = None;
    let api = &stellar.api;
    ctx.http.run(&mut stellar.auth, jobs, |job, outcome, _| {
        // Out of time: the cases before the first unfinished one are returned, with a cursor.
        if matches!(outcome, Err(HttpError::BudgetExhausted { .. })) {
            return Flow::Continue;
        }
        done += 1;
        log::progress("reading cases", done, total);
        let gone = matches!(&outcome, Ok(r) if r.status == 404);
        let read = match job {
            Job::Comments(i) => {
                let what = format!("reading the comments of case {}", cases[i].id);
                let read = if gone {
                    Ok(models::Data { data: None })
                } else {
                    api.decode::<models::Data<Vec<models::Comment>>>(&what, outcome)
                };
                read.map(|c| comments[i] = Some(c.data.unwrap_or_default()))
            }
            Job::Summary(i) => {
                let what = format!("reading the summary of case {}", cases[i].id);
                let read = if gone {
                    Ok(models::Data { data: None })
                } else {
                    api.decode::<models::Data<serde_json::Value>>(&what, outcome)
                };
                read.map(|s| {
                    summaries[i] = s.data.and_then(|d| d.as_str().map(str::to_string));
                    summary_read[i] = true;
                })
            }
        };
        match read {
            Ok(()) => Flow::Continue,
            Err(error) => {
                failure = Some(error);
                Flow::Stop
            }
        }
    })?;
    if let Some(error) = failure {
        return Err(error);
    }
    let finished = (0..cases.len())
        .position(|i| (with_comments && comments[i].is_none()) || (with_details && !summary_read[i]))
        .unwrap_or(cases.len());
    let mut cases = cases;
    if finished < cases.len() {
        complete = false;
        cases.truncate(finished);
        comments.truncate(finished);
        summaries.truncate(finished);
    }

    let origin = stellar.api.origin.url();
    let read = cases.iter().map(|c| (c.id.as_str(), c.modified_at.unwrap_or(from_ms)));
    let reached = start.advanced(read);
    let tickets: Vec<Ticket> = cases
        .iter()
        .zip(comments)
        .zip(summaries)
        .map(|((case, comments), summary)| {
            mapping::ticket(
                &origin,
                case,
                summary,
                if with_comments { Some(comments.unwrap_or_default()) } else { None },
                &users,
            )
        })
        .collect();
    if !complete {
        log::info(format!("stopped early after {} cases: pass next_cursor to continue", tickets.len()));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::run_with;
    use crate::http::fake::{FakeTransport, Reply};
    use crate::types::{Connection, StellarCyberConnection};
    use serde_json::json;
    use std::cell::Cell;
    use std::rc::Rc;

    fn connection() -> Connection {
        Connection {
            stellar_cyber: Some(StellarCyberConnection {
                host: "dp.stellar.example".into(),
                user: Some("sync@msp.example".into()),
                api_key: "stellar-S3cret".into(),
                tenant: None,
                sync_user_id: None,
                case_tag: None,
            }),
            ..crate::actions::hostile_tests::no_sections()
        }
    }

    fn input(since: Option<&str>) -> GetTicketsInput {
        GetTicketsInput {
            source: Some("stellar_cyber".into()),
            account_ids: None,
            statuses: None,
            request_types: None,
            since: since.map(str::to_string),
            include_details: Some(false),
            include_comments: Some(true),
            max_tickets: None,
            cursor: None,
            min_score: Some(40.0),
            min_alert_count: Some(2),
            tags: Some(vec!["vip".into()]),
            exclude_tags: Some(vec!["noise".into()]),
            look_back_days: None,
        }
    }

    const T: i64 = 1_700_000_000_000;

    /// 1,001 cases, 600 of them in the same millisecond; tokens live 60 s; the clock moves 1 s per request.
    fn stellar(clock: Rc<Cell<u64>>, tokens: Rc<Cell<u32>>) -> impl FnMut(&crate::http::Request) -> Reply {
        let cases: Vec<serde_json::Value> = (0..1001)
            .map(|i| json!({"_id": format!("c{i:04}"), "name": "x", "cust_id": "t1", "modified_at": if i < 600 { T } else { T + i }}))
            .collect();
        move |request| {
            clock.set(clock.get() + 1_000);
            let path = request.path.as_str();
            if path.ends_with("/access_token") {
                tokens.set(tokens.get() + 1);
                let now = 1_700_000_000 + clock.get() / 1000;
                return Reply::json(200, &json!({"access_token": format!("jwt-{}", tokens.get()), "exp": now + 60}));
            }
            assert!(request.headers.iter().any(|(k, v)| k == "authorization" && v.starts_with("Bearer jwt-")));
            if path.ends_with("/users") {
                return Reply::json(200, &json!({"data": [{"user_id": "u-sync", "email": "SYNC@msp.example"}]}));
            }
            if path.contains("/comments") {
                return Reply::json(200, &json!({"data": []}));
            }
            let query = |name: &str| {
                path.split(['?', '&']).find_map(|p| p.strip_prefix(&format!("{name}="))).map(str::to_string)
            };
            assert_eq!(query("NOT~modified_by").as_deref(), Some("u-sync"));
            assert_eq!((query("FROM~score").as_deref(), query("min_size_auto").as_deref()), (Some("40"), Some("2")));
            assert_eq!((query("tags").as_deref(), query("NOT~tags").as_deref()), (Some("vip"), Some("noise")));
            let from: i64 = query("FROM~modified_at").unwrap().parse().unwrap();
            let skip: usize = query("skip").unwrap().parse().unwrap();
            let page: Vec<_> = cases
                .iter()
                .filter(|c| c["modified_at"].as_i64().unwrap() >= from)
                .skip(skip)
                .take(PAGE_SIZE)
                .cloned()
                .collect();
            Reply::json(200, &json!({"data": {"cases": page, "total": 1001}}))
        }
    }

    #[test]
    fn every_page_is_read_past_a_crowded_millisecond_and_tokens_are_renewed_before_they_expire() {
        let connection = connection();
        let (clock, tokens) = (Rc::new(Cell::new(1_000)), Rc::new(Cell::new(0)));
        let mut transport = FakeTransport::with_clock(clock.clone(), stellar(clock, tokens.clone()));
        // At a second per request the 10-minute budget holds about half of the ~1,010 requests:
        // the first call returns what it finished and a cursor, the next goes on from there.
        let (mut keys, mut calls, mut cursor) = (Vec::new(), 0, None::<String>);
        let next_since = loop {
            calls += 1;
            let mut input = input(Some("2023-11-14T00:00:00Z"));
            input.cursor = cursor.take();
            let output = run_with(&connection, &mut transport, |ctx| {
                read(ctx, &mut StellarCyber::from_connection(ctx.connection, "test").unwrap(), &input)
            })
            .unwrap();
            keys.extend(output.tickets.into_iter().map(|t| t.key));
            match output.next_cursor {
                Some(next) if calls < 5 => cursor = Some(next),
                _ => break output.next_since.expect("the last call is complete"),
            }
        };
        let unique: std::collections::BTreeSet<&String> = keys.iter().collect();
        assert_eq!((keys.len(), unique.len()), (1001, 1001), "every case once, over {calls} calls");
        assert!(calls >= 2, "the budget cut the first call short");
        // 60 s tokens renewed 15 s before they expire, never refused: about one per 45 requests.
        assert!((15..=40).contains(&tokens.get()), "{} tokens", tokens.get());
        // Past the newest case: the run's start less the overlap, as the clock went on.
        let checkpoint = Checkpoint::parse(&next_since).unwrap();
        assert!(checkpoint.at_ms >= T + 1_000, "{next_since}");
    }

    #[test]
    fn filters_that_are_not_stellars_are_refused() {
        let connection = connection();
        let mut transport = FakeTransport::new(|_| Reply::status(500));
        let error = run_with(&connection, &mut transport, |ctx| {
            let mut input = input(None);
            input.request_types = Some(vec!["Incident".into()]);
            read(ctx, &mut StellarCyber::from_connection(ctx.connection, "test").unwrap(), &input)
        })
        .unwrap_err();
        assert!(error.cause.contains("input.request_types"), "{}", error.cause);
        assert!(transport.sent.is_empty());
    }
}

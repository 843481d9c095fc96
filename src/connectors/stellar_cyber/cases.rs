//! Tenants as accounts, and cases as tickets: every page (by `modified_at`, ascending, from the
//! checkpoint), then each case's comments and summary in parallel. A maximum or the time budget
//! ends the run early with a checkpoint of what it finished as the cursor.

use super::checkpoint::{Checkpoint, OVERLAP_MS};
use super::{StellarApi, StellarCyber, encode, mapping, models};
use crate::actions::Context;
use crate::desk::given;
use crate::error::Error;
use crate::http::Request;
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
    if input.request_types.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(Error::invalid(
            "input.request_types",
            "Stellar Cyber cases have no request types",
            "Leave request_types out; filter cases with statuses, tags, min_score or min_alert_count.",
        ));
    }
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
        if let Some(at) = outcome
            .as_ref()
            .ok()
            .and_then(|r| r.header("date"))
            .and_then(|d| chrono::DateTime::parse_from_rfc2822(d.trim()).ok())
        {
            server_ms = Some(server_ms.map_or(at.timestamp_millis(), |s| s.min(at.timestamp_millis())));
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
    let api = &stellar.api;
    ctx.http.try_run(&mut stellar.auth, jobs, |job, outcome, _| {
        done += 1;
        log::progress("reading cases", done, total);
        let gone = matches!(&outcome, Ok(r) if r.status == 404);
        match job {
            Job::Comments(i) => {
                let what = format!("reading the comments of case {}", cases[i].id);
                comments[i] = Some(if gone {
                    Vec::new()
                } else {
                    api.decode::<models::Data<Vec<models::Comment>>>(&what, outcome)?.data.unwrap_or_default()
                });
            }
            Job::Summary(i) if !gone => {
                let what = format!("reading the summary of case {}", cases[i].id);
                summaries[i] = api
                    .decode::<models::Data<serde_json::Value>>(&what, outcome)?
                    .data
                    .and_then(|d| d.as_str().map(str::to_string));
            }
            Job::Summary(_) => {}
        }
        Ok(())
    })?;

    let origin = stellar.api.origin.url();
    let read = cases.iter().map(|c| (c.id.as_str(), c.modified_at.unwrap_or(from_ms)));
    let mut reached = start.advanced(read);
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
    let (next_cursor, next_since) = if complete {
        // Nothing is missed before the run started (less the overlap, for clocks and late indexing).
        let quiet_until = server_ms.unwrap_or(started_ms).min(started_ms) - OVERLAP_MS;
        reached = reached.with_at(quiet_until);
        (None, Some(reached.encode()))
    } else {
        log::info(format!("stopped early after {} cases: pass next_cursor to continue", tickets.len()));
        (Some(reached.encode()), None)
    };
    Ok(GetTicketsOutput {
        source: super::SYSTEM.name.to_string(),
        count: tickets.len() as u32,
        tickets,
        next_cursor,
        next_since,
    })
}

//! ARMOR accounts matched to ConnectWise companies, and the matched companies stamped with the
//! four ARMOR custom fields — only where a value changes, with the whole field array.

use super::Context;
use crate::armor::Armor;
use crate::connectwise::conditions::Condition;
use crate::connectwise::custom_fields::{self, Stamp};
use crate::connectwise::models::{Company, CustomField, CustomFields};
use crate::connectwise::{ConnectWise, SERVICE, paging, query};
use crate::error::Error;
use crate::http::{Flow, Method, NoAuth, Request, Response};
use crate::log;
use crate::matching::{self, AccountRecord, CompanyRecord, Decision, MatchOptions};
use crate::types::{
    Account, AmbiguousMatch, CompanyMatch, FieldUpdate, GetAccountsInput, MatchCandidate, MatchCompaniesInput,
    MatchCompaniesOutput, MatchCounts, MatchMethod, UnmatchedAccount,
};
use serde_json::json;
use std::collections::HashMap;

const FIELDS: &str = "id,identifier,name,addressLine1,city,state,zip,country,deletedFlag,customFields";

/// The companies as the match needs them: match records, and beside each its custom fields as
/// sent, parsed again only if it is matched and written.
struct Companies {
    records: Vec<CompanyRecord>,
    custom_fields: Vec<Option<CustomFields>>,
}

enum Job {
    Patch(usize),
    /// PATCH was refused for another field's sake: read the whole company ...
    Get(usize),
    /// ... and write it back whole with the new custom fields.
    Put(usize),
}

pub fn run(ctx: &mut Context, input: MatchCompaniesInput) -> Result<MatchCompaniesOutput, Error> {
    let cw = ConnectWise::from_connection(ctx.connection, "match_companies")?;
    let dry_run = input.dry_run.unwrap_or(false);
    let min_confidence = input.min_confidence.unwrap_or(matching::DEFAULT_MIN_CONFIDENCE);
    if !(0.0..=1.0).contains(&min_confidence) {
        return Err(Error::invalid("input.min_confidence", format!("{min_confidence} is not between 0 and 1"), "Give e.g. 0.9."));
    }
    let options = MatchOptions { min_confidence, include_deleted: input.include_deleted.unwrap_or(false) };

    let accounts = match input.accounts {
        Some(accounts) => accounts,
        None => {
            let mut armor = Armor::from_connection(ctx.connection, "match_companies (given no accounts)")?;
            let context = armor.api.account_id;
            let everything = GetAccountsInput { include_addresses: Some(true), statuses: None, parent_id: None, account_id: None };
            super::get_accounts::fetch(ctx, &mut armor, context, &everything)?
        }
    };
    let Companies { records, custom_fields } = read_companies(ctx, &cw, options.include_deleted)?;
    log::info(format!("matching {} ARMOR accounts against {} {SERVICE} companies", accounts.len(), records.len()));
    if let Some(fields) = custom_fields.iter().find_map(|f| f.as_ref().and_then(|f| f.parse().ok())) {
        let missing = custom_fields::missing_captions(&fields);
        if !missing.is_empty() {
            return Err(Error::new(
                format!("{SERVICE} has no company custom field(s) {}.", missing.join(", ")),
                "Create them in ConnectWise under System > Setup Tables > Custom Fields (screen: Company, Text fields; \
                 ARMORdateUpdated may be a Date), then run match_companies again.",
                format!("defined company custom fields: {}", fields.iter().filter_map(|f| f.caption.clone()).collect::<Vec<_>>().join(", ")),
            ));
        }
    }

    let matching_started = ctx.http.now_ms();
    let overrides = resolve_overrides(&input.overrides.unwrap_or_default(), &records)?;
    let matcher = matching::Matcher::new(&records, &options);
    let mut decisions: Vec<Decision> = accounts
        .iter()
        .map(|account| match overrides.get(&account.id) {
            Some(&company) => Decision::Matched { company, method: matching::Method::CustomField, confidence: 1.0 },
            None => matcher.decide(&account_record(account)),
        })
        .collect();
    demote_shared_matches(&mut decisions, &accounts);
    log::info(format!("matching took {} ms", ctx.http.now_ms() - matching_started));

    let now = chrono::DateTime::from_timestamp(ctx.http.unix_seconds() as i64, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut matched = Vec::new();
    let mut ambiguous = Vec::new();
    let mut unmatched = Vec::new();
    // Per matched entry, the new custom fields to write (None: already right).
    let mut writes: Vec<Option<Vec<CustomField>>> = Vec::new();
    for (account, decision) in accounts.iter().zip(decisions) {
        match decision {
            Decision::Matched { company, method, confidence } => {
                let stamp = Stamp { account_id: account.id, account_name: account.name.clone(), parent_id: account.parent_id };
                let company_id = records[company].id;
                // Fields that can't be read are never written: that could wipe the ones we didn't understand.
                let (write, error) = match custom_fields[company].as_ref().map(CustomFields::parse).transpose() {
                    Ok(fields) => (custom_fields::stamped(&fields.unwrap_or_default(), &stamp, &now), None),
                    Err(problem) => (None, Some(unreadable_fields(company_id, problem))),
                };
                let update = match (&write, &error, dry_run) {
                    (_, Some(_), _) => FieldUpdate::Failed,
                    (None, _, _) => FieldUpdate::Unchanged,
                    (Some(_), _, true) => FieldUpdate::WouldUpdate,
                    (Some(_), _, false) => FieldUpdate::Updated,
                };
                let method = if overrides.contains_key(&account.id) { MatchMethod::Override } else { wit_method(method) };
                matched.push(CompanyMatch {
                    armor_id: account.id,
                    armor_name: account.name.clone(),
                    company_id,
                    company_identifier: records[company].identifier.clone(),
                    company_name: records[company].name.clone(),
                    method,
                    confidence,
                    update,
                    error,
                });
                writes.push(if dry_run { None } else { write });
            }
            Decision::Ambiguous { reason, candidates } => ambiguous.push(AmbiguousMatch {
                armor_id: account.id,
                armor_name: account.name.clone(),
                reason,
                candidates: candidates.iter().map(|c| candidate(&records, c)).collect(),
            }),
            Decision::Unmatched { best } => unmatched.push(UnmatchedAccount {
                armor_id: account.id,
                armor_name: account.name.clone(),
                best_candidate: best.map(|c| candidate(&records, &c)),
            }),
        }
    }

    write_fields(ctx, &cw, &mut matched, &writes)?;
    let counts = MatchCounts {
        accounts: accounts.len() as u32,
        matched: matched.len() as u32,
        updated: matched.iter().filter(|m| matches!(m.update, FieldUpdate::Updated | FieldUpdate::WouldUpdate)).count() as u32,
        unchanged: matched.iter().filter(|m| m.update == FieldUpdate::Unchanged).count() as u32,
        ambiguous: ambiguous.len() as u32,
        unmatched: unmatched.len() as u32,
        failed: matched.iter().filter(|m| m.update == FieldUpdate::Failed).count() as u32,
    };
    log::info(format!(
        "matched {}, ambiguous {}, unmatched {}; {} companies {}updated, {} failed",
        counts.matched,
        counts.ambiguous,
        counts.unmatched,
        counts.updated,
        if dry_run { "would be " } else { "" },
        counts.failed
    ));
    Ok(MatchCompaniesOutput { matched, ambiguous, unmatched, counts, dry_run })
}

/// Every company, reduced page by page as pages arrive, so raw pages are never all held at once.
fn read_companies(ctx: &mut Context, cw: &ConnectWise, include_deleted: bool) -> Result<Companies, Error> {
    let mut params = vec![("fields", FIELDS), ("orderBy", "id asc")];
    let not_deleted = Condition::eq("deletedFlag", false).to_string();
    if !include_deleted {
        params.push(("conditions", &not_deleted));
    }
    let mut companies: Vec<(CompanyRecord, Option<CustomFields>)> = Vec::new();
    paging::for_each_page(cw, &mut ctx.http, &format!("/company/companies?{}", query(&params)), "companies", |page: Vec<Company>| {
        companies.extend(page.into_iter().map(|company| (company_record(&company), company.custom_fields)))
    })?;
    // Pages arrive in any order; matching must not depend on it.
    companies.sort_by_key(|(record, _)| record.id);
    companies.dedup_by_key(|(record, _)| record.id);
    let (records, custom_fields) = companies.into_iter().unzip();
    Ok(Companies { records, custom_fields })
}

/// A company as matching sees it (also used by the benchmark). Custom fields that can't be read
/// carry no ARMOR id; writing them is refused later.
pub fn company_record(company: &Company) -> CompanyRecord {
    let fields = company.custom_fields.as_ref().and_then(|f| f.parse().ok()).unwrap_or_default();
    CompanyRecord {
        id: company.id,
        identifier: company.identifier.clone().unwrap_or_default(),
        name: company.name.clone().unwrap_or_default(),
        address: matching::Address {
            line1: company.address_line1.clone(),
            city: company.city.clone(),
            state: company.state.clone(),
            postal_code: company.zip.clone(),
            country: company.country.as_ref().and_then(|c| c.name.clone().or(c.identifier.clone())),
        },
        deleted: company.deleted_flag,
        armor_id: custom_fields::stamped_account(&fields),
    }
}

fn account_record(account: &Account) -> AccountRecord {
    AccountRecord {
        id: account.id,
        name: account.name.clone(),
        address: account.address.as_ref().map(|a| matching::Address {
            line1: a.line1.clone(),
            city: a.city.clone(),
            state: a.state.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }),
    }
}

/// ARMOR id -> company index, for the overrides; an override naming no company is an input error.
fn resolve_overrides(overrides: &[crate::types::AccountOverride], records: &[CompanyRecord]) -> Result<HashMap<u64, usize>, Error> {
    let mut resolved = HashMap::new();
    for (i, o) in overrides.iter().enumerate() {
        let found = records.iter().position(|r| {
            o.company_id == Some(r.id) || o.company_identifier.as_deref().is_some_and(|id| id.trim().eq_ignore_ascii_case(&r.identifier))
        });
        match found {
            Some(index) => {
                resolved.insert(o.armor_id, index);
            }
            None => {
                return Err(Error::invalid(
                    &format!("input.overrides[{i}]"),
                    "it names no ConnectWise company (by company_id or company_identifier)",
                    "Give the ID or identifier of an existing, not deleted company.",
                ));
            }
        }
    }
    Ok(resolved)
}

/// Two accounts matched to one company would overwrite each other's stamp on every run: report
/// them as ambiguous instead of picking one.
fn demote_shared_matches(decisions: &mut [Decision], accounts: &[Account]) {
    let mut claims: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, decision) in decisions.iter().enumerate() {
        if let Decision::Matched { company, .. } = decision {
            claims.entry(*company).or_default().push(i);
        }
    }
    for (company, claimants) in claims.into_iter().filter(|(_, c)| c.len() > 1) {
        let names: Vec<String> = claimants.iter().map(|&i| format!("{} ({})", accounts[i].name, accounts[i].id)).collect();
        for i in claimants {
            let confidence = match decisions[i] {
                Decision::Matched { confidence, .. } => confidence,
                _ => 0.0,
            };
            decisions[i] = Decision::Ambiguous {
                reason: format!("the same company matches several ARMOR accounts: {}", names.join(", ")),
                candidates: vec![matching::Candidate { company, confidence }],
            };
        }
    }
}

fn candidate(records: &[CompanyRecord], c: &matching::Candidate) -> MatchCandidate {
    let r = &records[c.company];
    MatchCandidate { company_id: r.id, company_identifier: r.identifier.clone(), company_name: r.name.clone(), confidence: c.confidence }
}

fn wit_method(method: matching::Method) -> MatchMethod {
    match method {
        matching::Method::CustomField => MatchMethod::CustomField,
        matching::Method::ExactName => MatchMethod::ExactName,
        matching::Method::NormalizedName => MatchMethod::NormalizedName,
        matching::Method::NameAndAddress => MatchMethod::NameAndAddress,
        matching::Method::FuzzyName => MatchMethod::FuzzyName,
    }
}

/// PATCHes every company whose fields change (in parallel), falling back to GET + PUT where the
/// service re-validates an unrelated legacy field and refuses the PATCH.
fn write_fields(ctx: &mut Context, cw: &ConnectWise, matched: &mut [CompanyMatch], writes: &[Option<Vec<CustomField>>]) -> Result<(), Error> {
    let jobs: Vec<(Job, Request)> = writes
        .iter()
        .enumerate()
        .filter_map(|(i, w)| w.as_ref().map(|fields| (Job::Patch(i), patch_request(cw, matched[i].company_id, fields))))
        .collect();
    let total = jobs.len();
    let mut done = 0;
    ctx.http.run(&mut NoAuth, jobs, |job, outcome, next| {
        let (i, step) = match job {
            Job::Patch(i) => (i, "updating the ARMOR fields of company"),
            Job::Get(i) => (i, "reading company"),
            Job::Put(i) => (i, "writing company"),
        };
        let what = format!("{step} {}", matched[i].company_id);
        let fields = writes[i].as_deref().unwrap_or_default();
        match (job, outcome) {
            (Job::Patch(i), Ok(response)) if revalidation_refusal(&response) => {
                log::info(format!("{SERVICE} refused a PATCH of company {} for another field; writing it whole", matched[i].company_id));
                next.push(Job::Get(i), cw.get(format!("/company/companies/{}", matched[i].company_id)));
                return Flow::Continue;
            }
            (Job::Get(i), outcome) => match cw.decode::<serde_json::Value>(&what, outcome) {
                Ok(mut company) => {
                    company["customFields"] = json!(fields);
                    let put = cw.request(Method::Put, format!("/company/companies/{}", matched[i].company_id)).json_body(&company);
                    next.push(Job::Put(i), put);
                    return Flow::Continue;
                }
                Err(error) => fail(&mut matched[i], error),
            },
            (_, outcome) => {
                if let Err(error) = cw.decode::<serde_json::Value>(&what, outcome) {
                    fail(&mut matched[i], error);
                }
            }
        }
        done += 1;
        log::progress("company fields", done, total);
        Flow::Continue
    })
}

fn patch_request(cw: &ConnectWise, company_id: u64, fields: &[CustomField]) -> Request {
    cw.request(Method::Patch, format!("/company/companies/{company_id}"))
        .json_body(&json!([{"op": "replace", "path": "customFields", "value": fields}]))
}

/// A 400 about a field other than the custom fields: the record's own legacy data is invalid.
fn revalidation_refusal(response: &Response) -> bool {
    if response.status != 400 {
        return false;
    }
    let Ok(body) = crate::lenient::from_json::<crate::connectwise::models::ErrorBody>(&response.body) else { return false };
    let fields: Vec<String> = body.errors.unwrap_or_default().into_iter().filter_map(|e| e.field).collect();
    !fields.is_empty() && fields.iter().all(|f| !f.to_ascii_lowercase().starts_with("customfield"))
}

fn unreadable_fields(company_id: u64, problem: String) -> Error {
    Error::new(
        format!("The custom fields of {SERVICE} company {company_id} could not be read, so they were not changed."),
        "Check the company's custom fields in ConnectWise; if they look right, report this with the data below.",
        problem,
    )
}

fn fail(entry: &mut CompanyMatch, error: Error) {
    entry.update = FieldUpdate::Failed;
    entry.error = Some(error);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::hostile_tests::connection;
    use crate::actions::run_with;
    use crate::http::fake::{FakeTransport, Reply};

    /// Contoso's custom fields come back in a shape that can't be read; another company's are fine.
    fn connectwise(request: &Request) -> Reply {
        let fields = |id: u64| json!(custom_fields::CAPTIONS.iter().enumerate().map(|(i, c)| json!({"id": id + i as u64, "caption": c})).collect::<Vec<_>>());
        match request.method {
            Method::Get => Reply::json(200, &json!([
                {"id": 250, "identifier": "Contoso", "name": "Contoso Ltd", "customFields": [{"id": 37, "caption": 9}]},
                {"id": 251, "identifier": "Fabrikam", "name": "Fabrikam Inc", "customFields": fields(37)}
            ])),
            _ => Reply::json(200, &json!({})),
        }
    }

    #[test]
    fn unreadable_custom_fields_fail_that_match_and_are_never_written() {
        let account = Account { id: 7001, name: "Contoso Ltd".into(), parent_id: None, status: "Active".into(), account_type: None, currency: None, address: None };
        let input = MatchCompaniesInput { accounts: Some(vec![account]), overrides: None, dry_run: None, min_confidence: None, include_deleted: None };
        let mut transport = FakeTransport::new(connectwise);
        let output = run_with(&connection(), &mut transport, |ctx| run(ctx, input)).unwrap();
        let matched = &output.matched[0];
        assert_eq!((matched.company_id, matched.update), (250, FieldUpdate::Failed));
        assert!(matched.error.as_ref().unwrap().cause.contains("could not be read"), "{:?}", matched.error);
        assert!(transport.sent.iter().all(|r| r.method == Method::Get), "nothing is written");
    }
}

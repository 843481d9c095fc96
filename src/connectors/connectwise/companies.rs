//! ConnectWise as a destination of links: every company read page by page (custom fields kept as
//! sent), and a source's four link fields written whole where a value changes, falling back to
//! GET + PUT where ConnectWise re-validates an unrelated legacy field and refuses the PATCH.

use super::conditions::{Condition, Field};
use super::custom_fields::{self, Captions};
use super::models::{Company, CustomField, CustomFields, ErrorBody};
use super::{ConnectWise, SERVICE, paging, query};
use crate::actions::Context;
use crate::connectors::{LinkWrite, System};
use crate::error::Error;
use crate::http::{Flow, Method, NoAuth, Request, Response};
use crate::log;
use crate::matching::{self, CompanyRecord};
use serde_json::json;

const FIELDS: &str = "id,identifier,name,addressLine1,city,state,zip,country,deletedFlag,customFields";

/// The companies of the last read: ids and custom fields as sent, parsed again only for the
/// companies whose link is written.
#[derive(Default)]
pub struct Companies {
    ids: Vec<String>,
    custom_fields: Vec<Option<CustomFields>>,
}

enum Job {
    Patch(usize),
    /// PATCH was refused for another field's sake: read the whole company ...
    Get(usize),
    /// ... and write it back whole with the new custom fields.
    Put(usize),
}

impl Companies {
    /// Every company, reduced page by page as pages arrive, so raw pages are never all held at once.
    pub fn read(
        &mut self,
        ctx: &mut Context,
        cw: &ConnectWise,
        source: &System,
        include_deleted: bool,
    ) -> Result<Vec<CompanyRecord>, Error> {
        let captions = Captions::of(source);
        let mut params = vec![("fields", FIELDS), ("orderBy", "id asc")];
        let not_deleted = Condition::eq(Field::DeletedFlag, false).to_string();
        if !include_deleted {
            params.push(("conditions", &not_deleted));
        }
        let mut companies: Vec<(CompanyRecord, Option<CustomFields>)> = Vec::new();
        let path = format!("/company/companies?{}", query(&params));
        paging::for_each_page(cw, &mut ctx.http, &path, "companies", |page: Vec<Company>| {
            companies
                .extend(page.into_iter().map(|company| (company_record(&company, &captions), company.custom_fields)))
        })?;
        // Pages arrive in any order; matching must not depend on it.
        companies.sort_by_key(|(record, _)| record.id.parse::<u64>().unwrap_or(u64::MAX));
        companies.dedup_by(|a, b| a.0.id == b.0.id);
        if let Some(fields) = companies.iter().find_map(|(_, f)| f.as_ref().and_then(|f| f.parse().ok())) {
            let missing = custom_fields::missing_captions(&fields, &captions);
            if !missing.is_empty() {
                return Err(Error::new(
                    format!("{SERVICE} has no company custom field(s) {}.", missing.join(", ")),
                    format!(
                        "Create them in ConnectWise under System > Setup Tables > Custom Fields (screen: Company, Text fields; \
                         {} may be a Date), then run match_companies again.",
                        captions.date_updated
                    ),
                    format!(
                        "defined company custom fields: {}",
                        fields.iter().filter_map(|f| f.caption.clone()).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        let (records, custom_fields): (Vec<CompanyRecord>, Vec<Option<CustomFields>>) = companies.into_iter().unzip();
        self.ids = records.iter().map(|r| r.id.clone()).collect();
        self.custom_fields = custom_fields;
        Ok(records)
    }

    /// PATCHes every company whose link changes (in parallel); per link whether it changed.
    pub fn write(
        &mut self,
        ctx: &mut Context,
        cw: &ConnectWise,
        links: &[LinkWrite],
        dry_run: bool,
    ) -> Vec<Result<bool, Error>> {
        let mut results: Vec<Result<bool, Error>> = Vec::with_capacity(links.len());
        let mut writes: Vec<Option<Vec<CustomField>>> = Vec::with_capacity(links.len());
        for link in links {
            let id = self.ids.get(link.company).cloned().unwrap_or_default();
            // Fields that can't be read are never written: that could wipe the ones we didn't understand.
            match self.custom_fields.get(link.company).and_then(Option::as_ref).map(CustomFields::parse).transpose() {
                Ok(fields) => {
                    let write = custom_fields::stamped(&fields.unwrap_or_default(), &Captions::of(link.source), link);
                    results.push(Ok(write.is_some()));
                    writes.push(if dry_run { None } else { write });
                }
                Err(problem) => {
                    results.push(Err(unreadable_fields(&id, problem)));
                    writes.push(None);
                }
            }
        }
        let company_id = |i: usize| self.ids.get(links[i].company).cloned().unwrap_or_default();
        let jobs: Vec<(Job, Request)> = writes
            .iter()
            .enumerate()
            .filter_map(|(i, w)| w.as_ref().map(|fields| (Job::Patch(i), patch_request(cw, &company_id(i), fields))))
            .collect();
        let total = jobs.len();
        let mut done = 0;
        let ran = ctx.http.run(&mut NoAuth, jobs, |job, outcome, next| {
            let (i, step) = match job {
                Job::Patch(i) => (i, "updating the link fields of company"),
                Job::Get(i) => (i, "reading company"),
                Job::Put(i) => (i, "writing company"),
            };
            let id = company_id(i);
            let what = format!("{step} {id}");
            let fields = writes[i].as_deref().unwrap_or_default();
            match (job, outcome) {
                (Job::Patch(i), Ok(response)) if revalidation_refusal(&response) => {
                    log::info(format!("{SERVICE} refused a PATCH of company {id} for another field; writing it whole"));
                    next.push(Job::Get(i), cw.get(format!("/company/companies/{id}")));
                    return Flow::Continue;
                }
                (Job::Get(i), outcome) => match cw.decode::<serde_json::Value>(&what, outcome) {
                    Ok(mut company) => {
                        company["customFields"] = json!(fields);
                        next.push(
                            Job::Put(i),
                            cw.request(Method::Put, format!("/company/companies/{id}")).json_body(&company),
                        );
                        return Flow::Continue;
                    }
                    Err(error) => results[i] = Err(error),
                },
                (_, outcome) => {
                    if let Err(error) = cw.decode::<serde_json::Value>(&what, outcome) {
                        results[i] = Err(error);
                    }
                }
            }
            done += 1;
            log::progress("company fields", done, total);
            Flow::Continue
        });
        if let Err(error) = ran {
            // Only an auth failure ends a run early; every write not yet judged shares it.
            for (result, write) in results.iter_mut().zip(&writes) {
                if write.is_some() && matches!(result, Ok(true)) {
                    *result = Err(error.clone());
                }
            }
        }
        results
    }
}

/// A company as matching sees it (also used by the benchmark). Custom fields that can't be read
/// carry no link; writing them is refused later.
pub fn company_record(company: &Company, captions: &Captions) -> CompanyRecord {
    let fields = company.custom_fields.as_ref().and_then(|f| f.parse().ok()).unwrap_or_default();
    CompanyRecord {
        id: company.id.to_string(),
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
        linked_account: custom_fields::linked_account(&fields, captions),
    }
}

fn patch_request(cw: &ConnectWise, company_id: &str, fields: &[CustomField]) -> Request {
    cw.request(Method::Patch, format!("/company/companies/{company_id}"))
        .json_body(&json!([{"op": "replace", "path": "customFields", "value": fields}]))
}

/// A 400 about a field other than the custom fields: the record's own legacy data is invalid.
fn revalidation_refusal(response: &Response) -> bool {
    if response.status != 400 {
        return false;
    }
    let Ok(body) = crate::lenient::from_json::<ErrorBody>(&response.body) else { return false };
    let fields: Vec<String> = body.errors.unwrap_or_default().into_iter().filter_map(|e| e.field).collect();
    !fields.is_empty() && fields.iter().all(|f| !f.to_ascii_lowercase().starts_with("customfield"))
}

fn unreadable_fields(company_id: &str, problem: String) -> Error {
    Error::new(
        format!("The custom fields of {SERVICE} company {company_id} could not be read, so they were not changed."),
        "Check the company's custom fields in ConnectWise; if they look right, report this with the data below.",
        problem,
    )
}

//! ConnectWise's side of the exactly-once writer: service tickets on a board, keyed by
//! `externalXRef`, statuses of that board, notes read page by page.

use super::conditions::{Condition, Field};
use super::custom_fields::{self, Captions};
use super::models::{Board, BoardStatus, Company, Note, Priority, ServiceTicket};
use super::paging::{self, PAGE_SIZE};
use super::{ConnectWise, SERVICE, query};
use crate::actions::Context;
use crate::connectors::System;
use crate::error::Error;
use crate::http::{Auth, HttpError, Method, NoAuth, Request, Response};
use crate::log;
use crate::sync::post::{Existing, NewTicket, NotesPage, Targets, TicketRequests, TicketWriter};
use crate::sync::value_map::Target;
use crate::types::PostTicketsInput;
use serde_json::json;
use std::collections::HashMap;

pub const DEFAULT_BOARD: &str = "ARMORtickets";
/// ConnectWise's limit on externalXRef, the de-duplication key.
const XREF_MAX: usize = 100;
/// ConnectWise refuses longer summaries.
const SUMMARY_MAX: usize = 100;
/// Values per `in (...)` condition: keeps URLs well under common limits.
const IN_CHUNK: usize = 100;

/// The ticket writer of one ConnectWise instance; `prepare` finds the board.
pub struct Tickets {
    pub requests: Requests,
    /// ConnectWise's credentials ride on every request as headers.
    no_auth: NoAuth,
}

/// The requests of a ticket's way onto the board `prepare` found.
pub struct Requests {
    pub cw: ConnectWise,
    board: Option<Board>,
}

impl Tickets {
    pub fn new(cw: ConnectWise) -> Tickets {
        Tickets { requests: Requests { cw, board: None }, no_auth: NoAuth }
    }

    pub(super) fn find_board(&self, ctx: &mut Context, name: &str) -> Result<Board, Error> {
        let cw = &self.requests.cw;
        let condition = Condition::eq(Field::Name, name).to_string();
        let path = format!("/service/boards?{}", query(&[("conditions", &condition), ("fields", "id,name")]));
        let boards: Vec<Board> = cw.decode("finding the service board", ctx.http.send(cw.get(path)))?;
        let exact = boards.iter().find(|b| b.name.as_deref() == Some(name));
        exact.or(boards.first()).cloned().ok_or_else(|| {
            Error::new(
                format!("ConnectWise has no service board named {name:?}."),
                "Create it in ConnectWise under System > Setup Tables > Service Board, with the statuses your tickets use \
                 (e.g. New, In Progress, Completed, Closed), or name an existing board in the `board` input.",
                "",
            )
        })
    }
}

impl TicketWriter for Tickets {
    fn prepare(
        &mut self,
        ctx: &mut Context,
        input: &PostTicketsInput,
        with_priorities: bool,
    ) -> Result<Targets, Error> {
        let name = input.board.as_deref().map(str::trim).filter(|b| !b.is_empty()).unwrap_or(DEFAULT_BOARD);
        let board = self.find_board(ctx, name)?;
        let mut statuses: Vec<BoardStatus> = Vec::new();
        let path = format!("/service/boards/{}/statuses", board.id);
        paging::for_each_page(&self.requests.cw, &mut ctx.http, &path, "board statuses", |page| statuses.extend(page))?;
        let statuses: Vec<BoardStatus> = statuses.into_iter().filter(|s| !s.inactive_flag).collect();
        let closed = statuses.iter().filter(|s| s.closed_status).map(|s| s.id.to_string()).collect();
        let statuses = statuses
            .into_iter()
            .map(|s| Target { id: s.id.to_string(), name: s.name.unwrap_or_default(), default: s.default_flag })
            .collect();
        let mut priorities = Vec::new();
        if with_priorities {
            let mut found: Vec<Priority> = Vec::new();
            paging::for_each_page(
                &self.requests.cw,
                &mut ctx.http,
                "/service/priorities?fields=id,name,defaultFlag",
                "priorities",
                |page| found.extend(page),
            )?;
            priorities = found
                .into_iter()
                .map(|p| Target { id: p.id.to_string(), name: p.name.unwrap_or_default(), default: p.default_flag })
                .collect();
        }
        self.requests.board = Some(board);
        Ok(Targets { place: format!("the {name} board"), statuses, priorities, closed })
    }

    fn companies_by_account(
        &mut self,
        ctx: &mut Context,
        source: &'static System,
        accounts: &[String],
    ) -> Result<HashMap<String, Vec<String>>, Error> {
        let captions = Captions::of(source);
        let mut by_account: HashMap<String, Vec<String>> = HashMap::new();
        let chunks: Vec<Condition> = if accounts.len() > 2 * IN_CHUNK {
            vec![Condition::custom_field_set(&captions.company_id)]
        } else {
            accounts
                .chunks(IN_CHUNK)
                .map(|chunk| Condition::custom_field_in(&captions.company_id, chunk.iter().cloned()))
                .collect()
        };
        for custom in chunks {
            let path = format!(
                "/company/companies?{}",
                query(&[
                    ("conditions", &Condition::eq(Field::DeletedFlag, false).to_string()),
                    ("customFieldConditions", &custom.to_string()),
                    ("fields", "id,identifier,name,customFields"),
                    ("orderBy", "id asc"),
                ])
            );
            paging::for_each_page::<Company>(
                &self.requests.cw,
                &mut ctx.http,
                &path,
                "companies by account",
                |page| {
                    for company in page {
                        let fields =
                            company.custom_fields.as_ref().map(|f| f.parse()).transpose().unwrap_or_else(|problem| {
                                log::info(format!(
                                    "skipping {SERVICE} company {}: its custom fields could not be read ({problem})",
                                    company.id
                                ));
                                None
                            });
                        if let Some(account) =
                            custom_fields::linked_account(fields.as_deref().unwrap_or_default(), &captions)
                        {
                            by_account.entry(account).or_default().push(company.id.to_string());
                        }
                    }
                },
            )?;
        }
        Ok(by_account)
    }

    fn company(&mut self, ctx: &mut Context, name: &str) -> Result<String, Error> {
        let condition = match name.parse::<u64>() {
            Ok(id) => Condition::eq(Field::Id, id),
            Err(_) => Condition::eq(Field::Identifier, name),
        };
        let path = format!(
            "/company/companies?{}",
            query(&[("conditions", &condition.to_string()), ("fields", "id,identifier,deletedFlag")])
        );
        let found: Vec<Company> =
            self.requests.cw.decode("finding the catch-all company", ctx.http.send(self.requests.cw.get(path)))?;
        found.iter().find(|c| !c.deleted_flag).map(|c| c.id.to_string()).ok_or_else(|| {
            Error::invalid(
                "input.catch_all_company",
                format!("no {SERVICE} company (not deleted) has the id or identifier {name:?}"),
                "Give the id or identifier of an existing company, or leave catch_all_company out.",
            )
        })
    }

    fn existing(&mut self, ctx: &mut Context, keys: &[String]) -> Result<HashMap<String, Vec<Existing>>, Error> {
        let mut existing: HashMap<String, Vec<Existing>> = HashMap::new();
        for chunk in keys.chunks(IN_CHUNK) {
            let condition = Condition::is_in(Field::ExternalXRef, chunk.iter().map(String::as_str)).to_string();
            let path = format!(
                "/service/tickets?{}",
                query(&[
                    ("conditions", &condition),
                    ("fields", "id,externalXRef,status,company,board"),
                    ("orderBy", "id asc")
                ])
            );
            paging::for_each_page::<ServiceTicket>(
                &self.requests.cw,
                &mut ctx.http,
                &path,
                "tickets already posted",
                |page| {
                    for ticket in page {
                        if let Some(found) = existing_of(&ticket) {
                            existing.entry(found.key.clone()).or_default().push(found);
                        }
                    }
                },
            )?;
        }
        Ok(existing)
    }

    fn parts(&mut self) -> (&mut dyn Auth, &dyn TicketRequests) {
        (&mut self.no_auth, &self.requests)
    }
}

impl TicketRequests for Requests {
    fn key_max(&self) -> usize {
        XREF_MAX
    }

    fn summary_max(&self) -> usize {
        SUMMARY_MAX
    }

    fn link_field(&self, source: &System) -> String {
        format!("the {} custom field", Captions::of(source).company_id)
    }

    fn create(&self, new: &NewTicket) -> Request {
        let mut body = json!({
            "summary": new.summary,
            "board": {"id": self.board.as_ref().map_or(0, |b| b.id)},
            "company": {"id": numeric(new.company)},
            "status": {"id": numeric(&new.status.id)},
            "initialDescription": new.description,
            "externalXRef": new.key,
        });
        if let Some(priority) = new.priority {
            body["priority"] = json!({"id": numeric(&priority.id)});
        }
        self.cw.request(Method::Post, "/service/tickets").json_body(&body)
    }

    fn created(&self, key: &str, outcome: Result<Response, HttpError>) -> Result<String, Error> {
        let created: ServiceTicket = self.cw.decode(&format!("creating ticket {key}"), outcome)?;
        Ok(created.id.to_string())
    }

    fn lookup(&self, key: &str) -> Request {
        let condition = Condition::eq(Field::ExternalXRef, key).to_string();
        self.cw.get(format!(
            "/service/tickets?{}",
            query(&[("conditions", &condition), ("fields", "id,externalXRef,status"), ("orderBy", "id asc")])
        ))
    }

    fn looked_up(&self, key: &str, outcome: Result<Response, HttpError>) -> Result<Option<Existing>, Error> {
        let found: Vec<ServiceTicket> = self.cw.decode(&format!("looking up ticket {key}"), outcome)?;
        Ok(found.iter().filter_map(existing_of).find(|t| t.key == key))
    }

    fn has_legacy_keys(&self) -> bool {
        true // 0.1 posted to ConnectWise
    }

    fn update_status(&self, ticket_id: &str, status: &Target, _closure: Option<&str>) -> Request {
        self.cw
            .request(Method::Patch, format!("/service/tickets/{ticket_id}"))
            .json_body(&json!([{"op": "replace", "path": "status", "value": {"id": numeric(&status.id)}}]))
    }

    fn updated(&self, key: &str, outcome: Result<Response, HttpError>) -> Result<(), Error> {
        self.cw.decode::<serde_json::Value>(&format!("updating the status of ticket {key}"), outcome).map(drop)
    }

    fn notes(&self, ticket_id: &str) -> Request {
        let size = PAGE_SIZE.to_string();
        self.cw.get(format!(
            "/service/tickets/{ticket_id}/notes?{}",
            query(&[("fields", "id,text"), ("orderBy", "id asc"), ("pageSize", &size), ("page", "1")])
        ))
    }

    fn notes_page(&self, key: &str, outcome: Result<Response, HttpError>) -> Result<NotesPage, Error> {
        // The page asked for is in the request's own path; the next one follows while pages are full.
        let links = outcome.as_ref().ok().and_then(|r| r.header("link")).map(paging::parse_links).unwrap_or_default();
        let notes: Vec<Note> = self.cw.decode(&format!("reading the notes of ticket {key}"), outcome)?;
        let next = links.next.as_deref().and_then(|url| self.cw.path_of(url)).map(|path| self.cw.get(path));
        Ok(NotesPage { texts: notes.into_iter().filter_map(|n| n.text).collect(), next })
    }

    fn add_note(&self, ticket_id: &str, text: &str, _public: bool) -> Request {
        self.cw
            .request(Method::Post, format!("/service/tickets/{ticket_id}/notes"))
            .json_body(&json!({"text": text, "detailDescriptionFlag": true}))
    }

    fn note_added(&self, key: &str, outcome: Result<Response, HttpError>) -> Result<(), Error> {
        self.cw.decode::<serde_json::Value>(&format!("adding a note to ticket {key}"), outcome).map(drop)
    }
}

fn existing_of(ticket: &ServiceTicket) -> Option<Existing> {
    Some(Existing {
        id: ticket.id.to_string(),
        key: ticket.external_x_ref.clone()?,
        status_id: ticket.status.as_ref().and_then(|s| s.id).map(|id| id.to_string()),
    })
}

/// ConnectWise ids are numbers on the wire; ours are strings.
fn numeric(id: &str) -> serde_json::Value {
    id.parse::<i64>().map_or_else(|_| json!(id), |n| json!(n))
}

//! Halo's side of the exactly-once writer: tickets keyed by `third_party_id_string` (looked up one
//! key at a time: Halo filters on one value), created one at a time (concurrent creates race on
//! the ticket number), statuses and the rest resolved by name, comments as Actions.

use super::lookups::{List, Lookups, is_closed};
use super::models::{ActionPage, Client, Ticket, TicketPage};
use super::{Halo, HaloApi, PAGE_SIZE, SERVICE, clients, query};
use crate::actions::Context;
use crate::connectors::System;
use crate::desk::{given, no_fields};
use crate::error::Error;
use crate::html;
use crate::http::{Auth, HttpError, Request, Response};
use crate::sync::link::Captions;
use crate::sync::post::{Existing, NewTicket, NotesPage, Targets, TicketRequests, TicketWriter};
use crate::sync::value_map::Target;
use crate::types::{PostTicketsInput, TicketFields};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Halo's limit on summaries (longer is a 400).
const SUMMARY_MAX: usize = 250;
/// The contract names no limit for `third_party_id_string`; keys are kept well inside any.
const KEY_MAX: usize = 200;
/// The Action outcome comments become, unless the input names another.
const DEFAULT_OUTCOME: &str = "Private Note";

pub struct Tickets {
    pub halo: Halo,
    pub(super) lookups: Lookups,
    /// Active clients, read once per run for the links and the catch-all company.
    clients: Option<Vec<Client>>,
    requests: Requests,
}

/// What every ticket of the run is created with, resolved by name in `prepare`.
pub struct Requests {
    api: HaloApi,
    fixed: serde_json::Map<String, Value>,
    outcome: String,
}

impl Tickets {
    pub fn new(halo: Halo) -> Tickets {
        let requests =
            Requests { api: halo.api.clone(), fixed: serde_json::Map::new(), outcome: DEFAULT_OUTCOME.into() };
        Tickets { halo, lookups: Lookups::default(), clients: None, requests }
    }

    fn active_clients(&mut self, ctx: &mut Context) -> Result<&[Client], Error> {
        if self.clients.is_none() {
            let mut active = clients::fetch(ctx, &mut self.halo)?;
            active.retain(|c| !c.inactive);
            self.clients = Some(active);
        }
        Ok(self.clients.as_deref().unwrap_or_default())
    }
}

impl TicketWriter for Tickets {
    fn prepare(
        &mut self,
        ctx: &mut Context,
        input: &PostTicketsInput,
        with_priorities: bool,
    ) -> Result<Targets, Error> {
        let fields = TicketFields {
            ticket_type: input.ticket_type.clone(),
            team: input.team.clone(),
            agent: input.agent.clone(),
            category: input.category.clone(),
            impact: input.impact.clone(),
            urgency: input.urgency.clone(),
            ..no_fields()
        };
        let fixed = self.record_of(ctx, &fields, "input.")?;
        let statuses = self.lookups.list(ctx, &mut self.halo, List::Status)?.to_vec();
        let closed = statuses.iter().filter(|s| is_closed(s)).map(|s| s.id.to_string()).collect();
        // Halo marks no default status: a new ticket's own default is "New".
        let statuses: Vec<Target> = statuses
            .into_iter()
            .map(|s| {
                let name = s.name.unwrap_or_default();
                Target { id: s.id.to_string(), default: name.trim().eq_ignore_ascii_case("new"), name }
            })
            .collect();
        let mut priorities = Vec::new();
        if with_priorities {
            priorities = (self.lookups.list(ctx, &mut self.halo, List::Priority)?.iter())
                .map(|p| Target { id: p.id.to_string(), name: p.name.clone().unwrap_or_default(), default: false })
                .collect();
        }
        let outcome = given(&input.note_outcome).unwrap_or(DEFAULT_OUTCOME).to_string();
        self.requests = Requests { api: self.halo.api.clone(), fixed, outcome };
        Ok(Targets { place: "Halo".into(), statuses, priorities, closed })
    }

    fn companies_by_account(
        &mut self,
        ctx: &mut Context,
        source: &'static System,
        accounts: &[String],
    ) -> Result<HashMap<String, Vec<String>>, Error> {
        let captions = Captions::named(source, self.halo.api.link_fields.as_ref());
        let wanted: std::collections::HashSet<&str> = accounts.iter().map(String::as_str).collect();
        let mut by_account: HashMap<String, Vec<String>> = HashMap::new();
        for client in self.active_clients(ctx)? {
            if let Some(account) =
                clients::value_of(client, &captions.company_id).filter(|a| wanted.contains(a.as_str()))
            {
                by_account.entry(account).or_default().push(client.id.to_string());
            }
        }
        Ok(by_account)
    }

    fn company(&mut self, ctx: &mut Context, name: &str) -> Result<String, Error> {
        let name = name.trim();
        let clients = self.active_clients(ctx)?;
        let named = |c: &&Client| c.name.as_deref().is_some_and(|n| n.trim().eq_ignore_ascii_case(name));
        let found = clients.iter().find(|c| c.id.to_string() == name).or_else(|| clients.iter().find(named));
        found.map(|c| c.id.to_string()).ok_or_else(|| {
            Error::invalid(
                "input.catch_all_company",
                format!("no active {SERVICE} client has the id or name {name:?}"),
                "Give the id or name of an existing client, or leave catch_all_company out.",
            )
        })
    }

    fn existing(&mut self, ctx: &mut Context, keys: &[String]) -> Result<HashMap<String, Vec<Existing>>, Error> {
        let mut existing: HashMap<String, Vec<Existing>> = HashMap::new();
        let api = &self.halo.api;
        let jobs = keys.iter().map(|key| (key.clone(), lookup_request(api, key)));
        let mut done = 0;
        ctx.http.try_run(&mut self.halo.auth, jobs, |key, outcome, _| {
            if let Some(found) = looked_up(api, &key, outcome)? {
                existing.entry(key).or_default().push(found);
            }
            done += 1;
            crate::log::progress("tickets already posted", done, keys.len());
            Ok(())
        })?;
        Ok(existing)
    }

    fn parts(&mut self) -> (&mut dyn Auth, &dyn TicketRequests) {
        (&mut self.halo.auth, &self.requests)
    }
}

impl Requests {
    fn api(&self) -> &HaloApi {
        &self.api
    }
}

impl TicketRequests for Requests {
    fn key_max(&self) -> usize {
        KEY_MAX
    }

    fn summary_max(&self) -> usize {
        SUMMARY_MAX
    }

    fn serial_creates(&self) -> bool {
        true
    }

    fn link_field(&self, source: &System) -> String {
        format!("the {} client custom field", Captions::named(source, self.api.link_fields.as_ref()).company_id)
    }

    fn create(&self, new: &NewTicket) -> Request {
        let mut record = self.fixed.clone();
        record.insert("summary".into(), json!(new.summary));
        record.insert("details".into(), json!(html::from_text(&new.description)));
        record.insert("client_id".into(), numeric(new.company));
        record.insert("status_id".into(), numeric(&new.status.id));
        record.insert("third_party_id_string".into(), json!(new.key));
        if let Some(priority) = new.priority {
            record.insert("priority_id".into(), numeric(&priority.id));
        }
        if let Some(created) = &new.ticket.created {
            record.insert("dateoccurred".into(), json!(created));
        }
        self.api().post("/Tickets", &json!([record]))
    }

    fn created(&self, key: &str, outcome: Result<Response, HttpError>) -> Result<String, Error> {
        let created: Ticket = self.api().decode(&format!("creating ticket {key}"), outcome)?;
        Ok(created.id.to_string())
    }

    fn lookup(&self, key: &str) -> Request {
        lookup_request(self.api(), key)
    }

    fn looked_up(&self, key: &str, outcome: Result<Response, HttpError>) -> Result<Option<Existing>, Error> {
        looked_up(self.api(), key, outcome)
    }

    fn update_status(&self, ticket_id: &str, status: &Target, closure: Option<&str>) -> Request {
        let mut record = json!({"id": numeric(ticket_id), "status_id": numeric(&status.id)});
        if let Some(note) = closure {
            record["closure_note"] = json!(note);
        }
        self.api().post("/Tickets", &json!([record]))
    }

    fn updated(&self, key: &str, outcome: Result<Response, HttpError>) -> Result<(), Error> {
        self.api().decode::<Value>(&format!("updating the status of ticket {key}"), outcome).map(drop)
    }

    fn notes(&self, ticket_id: &str) -> Request {
        self.api().get(format!("/Actions?{}", query(&[("ticket_id", ticket_id)])))
    }

    fn notes_page(&self, key: &str, outcome: Result<Response, HttpError>) -> Result<NotesPage, Error> {
        let page: ActionPage = self.api().decode(&format!("reading the actions of ticket {key}"), outcome)?;
        let texts = page.actions.into_iter().filter_map(|a| a.note.or(a.note_html)).collect();
        Ok(NotesPage { texts, next: None })
    }

    /// Comments go in as private notes whatever their visibility at the source: a security
    /// provider's comment is the technician's to pass on.
    fn add_note(&self, ticket_id: &str, text: &str, _public: bool) -> Request {
        let action =
            json!({"ticket_id": numeric(ticket_id), "note": text, "outcome": self.outcome, "hiddenfromuser": true});
        self.api().post("/Actions", &json!([action]))
    }

    fn note_added(&self, key: &str, outcome: Result<Response, HttpError>) -> Result<(), Error> {
        self.api().decode::<Value>(&format!("adding an action to ticket {key}"), outcome).map(drop)
    }
}

pub(super) fn lookup_request(api: &HaloApi, key: &str) -> Request {
    let size = PAGE_SIZE.to_string();
    api.get(format!(
        "/Tickets?{}",
        query(&[("pageinate", "true"), ("page_size", &size), ("page_no", "1"), ("third_party_id_string", key)])
    ))
}

/// The ticket stored under exactly `key` (Halo's filter may match loosely), lowest id first.
pub(super) fn looked_up(
    api: &HaloApi,
    key: &str,
    outcome: Result<Response, HttpError>,
) -> Result<Option<Existing>, Error> {
    let page: TicketPage = api.decode(&format!("looking up ticket {key}"), outcome)?;
    let mut found: Vec<&Ticket> =
        page.tickets.iter().filter(|t| t.third_party_id_string.as_deref() == Some(key)).collect();
    found.sort_by_key(|t| t.id);
    Ok(found.first().map(|t| Existing {
        id: t.id.to_string(),
        key: key.to_string(),
        status_id: t.status_id.map(|s| s.to_string()),
    }))
}

/// Halo ids are numbers on the wire; ours are strings.
fn numeric(id: &str) -> Value {
    id.parse::<i64>().map_or_else(|_| json!(id), |n| json!(n))
}

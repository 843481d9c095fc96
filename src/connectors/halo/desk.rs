//! Halo's ticket desk: single tickets read, written and searched with every name resolved through
//! the instance's lists, details as text, comments as Actions.

use super::lookups::{List, is_closed};
use super::models::{Action, ActionPage, ClientPage, CustomField, Ticket, TicketPage};
use super::tickets::Tickets;
use super::{PAGE_SIZE, SERVICE, query};
use crate::actions::Context;
use crate::desk::{Desk, NewComment, given, instant, lost, no_ticket};
use crate::error::Error;
use crate::html;
use crate::http::{HttpError, Response};
use crate::lenient::iso_utc;
use crate::sync::paging::MAX_PAGES;
use crate::types::{CustomField as NamedValue, PsaNote, PsaTicket, SearchTicketsInput, TicketFields};
use serde_json::{Map, Value, json};

/// The Action outcomes comments become unless the input names one.
const PRIVATE_OUTCOME: &str = "Private Note";
const PUBLIC_OUTCOME: &str = "Public Note";

impl Tickets {
    /// The Halo fields `fields` sets, every name resolved (custom fields aside: they need the
    /// ticket's field ids). `prefix` is where the fields sit in the input, for messages.
    pub(super) fn record_of(
        &mut self,
        ctx: &mut Context,
        fields: &TicketFields,
        prefix: &str,
    ) -> Result<Map<String, Value>, Error> {
        self.halo.api.pace(ctx);
        let mut record = Map::new();
        if let Some(summary) = given(&fields.summary) {
            record.insert("summary".into(), json!(summary));
        }
        if let Some(details) = fields.details.as_deref().filter(|d| !d.trim().is_empty()) {
            record.insert("details".into(), json!(html::from_text(details)));
        }
        if let Some(company) = given(&fields.company) {
            record.insert("client_id".into(), json!(self.client_id(ctx, company, &format!("{prefix}company"))?));
        }
        if given(&fields.board).is_some() {
            return Err(Error::invalid(
                &format!("{prefix}board"),
                "Halo has no service boards",
                "Leave board out for Halo; name the ticket_type or team instead.",
            ));
        }
        for (value, list, field, key) in [
            (&fields.ticket_type, List::TicketType, "ticket_type", "tickettype_id"),
            (&fields.status, List::Status, "status", "status_id"),
            (&fields.priority, List::Priority, "priority", "priority_id"),
            (&fields.agent, List::Agent, "agent", "agent_id"),
            (&fields.impact, List::Impact, "impact", "impact"),
            (&fields.urgency, List::Urgency, "urgency", "urgency"),
        ] {
            if let Some(name) = given(value) {
                let id = self.lookups.id_of(ctx, &mut self.halo, list, name, &format!("{prefix}{field}"))?;
                record.insert(key.into(), json!(id));
            }
        }
        if let Some(name) = given(&fields.team) {
            let id = self.lookups.id_of(ctx, &mut self.halo, List::Team, name, &format!("{prefix}team"))?;
            // Halo takes a ticket's team by name: the list's spelling of it.
            let team = self.lookups.by_id(ctx, &mut self.halo, List::Team, id)?.and_then(|t| t.name);
            record.insert("team".into(), json!(team.as_deref().map_or(name, str::trim)));
        }
        if let Some(category) = given(&fields.category) {
            record.insert("category_1".into(), json!(category));
        }
        Ok(record)
    }

    /// A client by id, or by its exact name (Halo's search narrows, the name decides).
    fn client_id(&mut self, ctx: &mut Context, company: &str, field: &str) -> Result<u64, Error> {
        if let Ok(id) = company.parse::<u64>() {
            return Ok(id);
        }
        let size = PAGE_SIZE.to_string();
        let params = [("pageinate", "true"), ("page_size", size.as_str()), ("page_no", "1"), ("search", company)];
        let outcome =
            ctx.http.send_with(&mut self.halo.auth, self.halo.api.get(format!("/Client?{}", query(&params))))?;
        let page: ClientPage = self.halo.api.decode("finding the client", outcome)?;
        let named: Vec<u64> = page
            .clients
            .iter()
            .filter(|c| !c.inactive && c.name.as_deref().is_some_and(|n| n.trim().eq_ignore_ascii_case(company)))
            .map(|c| c.id)
            .collect();
        match named.as_slice() {
            [id] => Ok(*id),
            [] => Err(Error::invalid(
                field,
                format!("no active {SERVICE} client is named {company:?}"),
                "Give the client's id or its exact name as Halo shows it.",
            )),
            several => Err(Error::invalid(
                field,
                format!(
                    "several {SERVICE} clients are named {company:?} (ids {})",
                    several.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                ),
                "Give the client's id instead.",
            )),
        }
    }

    /// The ticket with its details and custom fields, or a clear error when there is none.
    fn read_ticket(&mut self, ctx: &mut Context, id: u64) -> Result<Ticket, Error> {
        self.halo.api.pace(ctx);
        let request = self.halo.api.get(format!("/Tickets/{id}?includedetails=true"));
        let outcome = ctx.http.send_with(&mut self.halo.auth, request)?;
        if matches!(&outcome, Ok(r) if r.status == 404) {
            return Err(no_ticket(SERVICE, id));
        }
        self.halo.api.decode(&format!("reading ticket {id}"), outcome)
    }

    /// Posts one ticket record; `None` when the answer was lost.
    fn post_ticket(
        &mut self,
        ctx: &mut Context,
        record: Map<String, Value>,
        what: &str,
    ) -> Result<Option<PsaTicket>, Error> {
        let request = self.halo.api.post("/Tickets", &json!([record]));
        let outcome = ctx.http.send_with(&mut self.halo.auth, request)?;
        if lost(&outcome) {
            return Ok(None);
        }
        let ticket: Ticket = self.halo.api.decode(what, outcome)?;
        self.psa(ctx, ticket).map(Some)
    }

    /// A Halo ticket with its instance's names in place of ids.
    fn psa(&mut self, ctx: &mut Context, ticket: Ticket) -> Result<PsaTicket, Error> {
        let status_id = ticket.status_id.unwrap_or(0).max(0) as u64;
        let status = self.lookups.by_id(ctx, &mut self.halo, List::Status, status_id)?;
        let ticket_type = match ticket.tickettype_id.filter(|t| *t > 0) {
            Some(t) => self.lookups.by_id(ctx, &mut self.halo, List::TicketType, t as u64)?.and_then(|t| t.name),
            None => None,
        };
        let text = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(PsaTicket {
            system: super::SYSTEM.name.into(),
            id: ticket.id.to_string(),
            summary: ticket.summary.unwrap_or_default(),
            details: ticket.details.map(|d| html::to_text(&d)),
            company_id: ticket.client_id.map(|c| c.to_string()).unwrap_or_default(),
            company_name: text(ticket.client_name),
            board: None,
            ticket_type,
            status: status.as_ref().and_then(|s| s.name.clone()).unwrap_or_else(|| status_id.to_string()),
            closed: status.as_ref().is_some_and(is_closed),
            priority: text(ticket.priority.and_then(|p| p.name)),
            team: text(ticket.team),
            agent: ticket.agent_id.filter(|a| *a > 0).and(text(ticket.agent_name)),
            category: text(ticket.category_1),
            external_key: text(ticket.third_party_id_string),
            created: text(ticket.dateoccurred).map(|d| iso_utc(&d)),
            updated: text(ticket.last_update).map(|d| iso_utc(&d)),
            closure_note: text(ticket.closure_note).map(|n| html::to_text(&n)),
            custom_fields: ticket
                .customfields
                .unwrap_or_default()
                .into_iter()
                .map(|f| NamedValue { name: f.name.unwrap_or_default(), value: f.value.unwrap_or_default() })
                .collect(),
        })
    }

    fn decode_action(&self, id: u64, outcome: Result<Response, HttpError>) -> Result<Action, Error> {
        self.halo.api.decode(&format!("adding an action to ticket {id}"), outcome)
    }
}

/// The ticket's custom fields `wanted` names, as Halo's `[{id, value}]`.
fn custom_values(defined: &[CustomField], wanted: &[NamedValue], id: u64) -> Result<Value, Error> {
    let mut values = Vec::with_capacity(wanted.len());
    for field in wanted {
        let found = defined
            .iter()
            .find(|d| d.name.as_deref().is_some_and(|n| n.trim().eq_ignore_ascii_case(field.name.trim())));
        let Some(found) = found else {
            return Err(Error::invalid(
                "input.ticket.custom_fields",
                format!(
                    "Halo ticket {id} has no custom field named {:?} (it has: {})",
                    field.name,
                    defined.iter().filter_map(|d| d.name.as_deref()).collect::<Vec<_>>().join(", ")
                ),
                "Name a custom field of the ticket's type, as Halo's Custom Fields setup names it.",
            ));
        };
        values.push(json!({"id": found.id, "value": field.value}));
    }
    Ok(Value::Array(values))
}

fn note(action: Action, ticket: u64) -> PsaNote {
    let text = action.note.or_else(|| action.note_html.map(|h| html::to_text(&h))).unwrap_or_default();
    PsaNote {
        id: action.id.map(|i| i.to_string()).unwrap_or_default(),
        ticket_id: action.ticket_id.map_or_else(|| ticket.to_string(), |t| t.to_string()),
        text,
        public: !action.hiddenfromuser,
        author: action.who,
        created: action.datetime.map(|d| iso_utc(&d)),
        outcome: action.outcome,
    }
}

impl Desk for Tickets {
    fn create(
        &mut self,
        ctx: &mut Context,
        fields: &TicketFields,
        key: Option<&str>,
    ) -> Result<Option<PsaTicket>, Error> {
        let mut record = self.record_of(ctx, fields, "input.ticket.")?;
        if let Some(key) = key {
            record.insert("third_party_id_string".into(), json!(key));
        }
        self.post_ticket(ctx, record, "creating the ticket")
    }

    fn find_by_key(&mut self, ctx: &mut Context, key: &str) -> Result<Option<PsaTicket>, Error> {
        self.halo.api.pace(ctx);
        let outcome = ctx.http.send_with(&mut self.halo.auth, super::tickets::lookup_request(&self.halo.api, key))?;
        match super::tickets::looked_up(&self.halo.api, key, outcome)? {
            Some(found) => {
                let id = found.id.parse::<u64>().unwrap_or_default();
                let ticket = self.read_ticket(ctx, id)?;
                self.psa(ctx, ticket).map(Some)
            }
            None => Ok(None),
        }
    }

    fn get(&mut self, ctx: &mut Context, id: u64) -> Result<PsaTicket, Error> {
        let ticket = self.read_ticket(ctx, id)?;
        self.psa(ctx, ticket)
    }

    fn update(&mut self, ctx: &mut Context, id: u64, fields: &TicketFields) -> Result<PsaTicket, Error> {
        let current = self.read_ticket(ctx, id)?;
        let mut record = self.record_of(ctx, fields, "input.ticket.")?;
        if let Some(wanted) = fields.custom_fields.as_deref().filter(|f| !f.is_empty()) {
            let defined = current.customfields.as_deref().unwrap_or_default();
            record.insert("customfields".into(), custom_values(defined, wanted, id)?);
        }
        record.insert("id".into(), json!(id));
        // An update changes only what it sends, so a retried one is harmless: read it back.
        match self.post_ticket(ctx, record, &format!("updating ticket {id}"))? {
            Some(ticket) => Ok(ticket),
            None => self.get(ctx, id),
        }
    }

    fn close(
        &mut self,
        ctx: &mut Context,
        id: u64,
        status: Option<&str>,
        resolution: Option<&str>,
    ) -> Result<PsaTicket, Error> {
        self.read_ticket(ctx, id)?;
        let closed = self.lookups.closed_statuses(ctx, &mut self.halo)?;
        let status_id = match status {
            Some(name) => {
                let id = self.lookups.id_of(ctx, &mut self.halo, List::Status, name, "input.status")?;
                if !closed.contains(&id) {
                    let statuses = self.lookups.list(ctx, &mut self.halo, List::Status)?;
                    let names: Vec<&str> =
                        statuses.iter().filter(|s| is_closed(s)).filter_map(|s| s.name.as_deref()).collect();
                    return Err(Error::invalid(
                        "input.status",
                        format!("{name:?} is not a closed status in Halo (closed ones: {})", names.join(", ")),
                        "Name a status of type Closed, or leave status out for the first one.",
                    ));
                }
                id
            }
            None => *closed.first().ok_or_else(|| {
                Error::new(
                    "Halo has no closed-type ticket status.",
                    "Add one under Configuration > Tickets > Status (type Closed).",
                    "",
                )
            })?,
        };
        let mut record = Map::new();
        record.insert("id".into(), json!(id));
        record.insert("status_id".into(), json!(status_id));
        if let Some(note) = resolution {
            record.insert("closure_note".into(), json!(note));
        }
        match self.post_ticket(ctx, record, &format!("closing ticket {id}"))? {
            Some(ticket) => Ok(ticket),
            None => self.get(ctx, id),
        }
    }

    fn search(
        &mut self,
        ctx: &mut Context,
        filter: &SearchTicketsInput,
        limit: Option<usize>,
    ) -> Result<Vec<PsaTicket>, Error> {
        self.halo.api.pace(ctx);
        if given(&filter.board).is_some() {
            return Err(Error::invalid(
                "input.board",
                "Halo has no service boards",
                "Leave board out for Halo; filter by team or status instead.",
            ));
        }
        let mut params: Vec<(&str, String)> = vec![("include_custom_fields", "true".into())];
        if let Some(company) = given(&filter.company) {
            params.push(("client_id", self.client_id(ctx, company, "input.company")?.to_string()));
        }
        for (value, list, field, key) in [
            (&filter.status, List::Status, "input.status", "status_id"),
            (&filter.agent, List::Agent, "input.agent", "agent_id"),
        ] {
            if let Some(name) = given(value) {
                params.push((key, self.lookups.id_of(ctx, &mut self.halo, list, name, field)?.to_string()));
            }
        }
        let team = match given(&filter.team) {
            Some(name) => {
                let id = self.lookups.id_of(ctx, &mut self.halo, List::Team, name, "input.team")?;
                self.lookups.by_id(ctx, &mut self.halo, List::Team, id)?.and_then(|t| t.name)
            }
            None => None,
        };
        match filter.open {
            Some(true) => params.push(("open_only", "true".into())),
            Some(false) => params.push(("closed_only", "true".into())),
            None => {}
        }
        if let Some(summary) = given(&filter.summary) {
            params.push(("search_summary", summary.into()));
        }
        if let Some(since) = given(&filter.updated_since) {
            let since = instant("input.updated_since", since)?;
            params.push(("lastupdatefromdate", since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
        }
        if let Some(key) = given(&filter.external_key) {
            params.push(("third_party_id_string", key.into()));
        }
        let wanted = limit.map_or(usize::MAX, |l| l + 1);
        let mut found: Vec<Ticket> = Vec::new();
        for page_no in 1..=MAX_PAGES {
            let (size, number) = (PAGE_SIZE.to_string(), page_no.to_string());
            let mut all: Vec<(&str, &str)> = vec![("pageinate", "true"), ("page_size", &size), ("page_no", &number)];
            all.extend(params.iter().map(|(k, v)| (*k, v.as_str())));
            let request = self.halo.api.get(format!("/Tickets?{}", query(&all)));
            let outcome = ctx.http.send_with(&mut self.halo.auth, request)?;
            let page: TicketPage = self.halo.api.decode("searching tickets", outcome)?;
            let full = page.tickets.len() >= PAGE_SIZE;
            let of_team = |t: &Ticket| {
                team.as_deref()
                    .is_none_or(|team| t.team.as_deref().is_some_and(|n| n.trim().eq_ignore_ascii_case(team)))
            };
            found.extend(page.tickets.into_iter().filter(of_team));
            let total = page.record_count.map_or(usize::MAX, |c| c.max(0) as usize);
            crate::log::progress("searching tickets", (page_no * PAGE_SIZE).min(total), total);
            if !full || found.len() >= wanted || page_no * PAGE_SIZE >= total {
                break;
            }
        }
        found.truncate(wanted);
        found.into_iter().map(|t| self.psa(ctx, t)).collect()
    }

    fn notes(&mut self, ctx: &mut Context, id: u64) -> Result<Vec<PsaNote>, Error> {
        // Halo lists no actions for a ticket it does not have: say so instead.
        self.read_ticket(ctx, id)?;
        let request = self.halo.api.get(format!("/Actions?{}", query(&[("ticket_id", &id.to_string())])));
        let outcome = ctx.http.send_with(&mut self.halo.auth, request)?;
        let page: ActionPage = self.halo.api.decode(&format!("reading the actions of ticket {id}"), outcome)?;
        // Halo lists actions newest first.
        let mut actions = page.actions;
        actions.sort_by_key(|a| a.id.unwrap_or(i64::MAX));
        Ok(actions.into_iter().map(|a| note(a, id)).collect())
    }

    fn comment(&mut self, ctx: &mut Context, id: u64, comment: &NewComment) -> Result<Option<PsaNote>, Error> {
        self.halo.api.pace(ctx);
        let outcome = comment.outcome.unwrap_or(if comment.public { PUBLIC_OUTCOME } else { PRIVATE_OUTCOME });
        let action =
            json!({"ticket_id": id, "note": comment.text, "outcome": outcome, "hiddenfromuser": !comment.public});
        let request = self.halo.api.post("/Actions", &json!([action]));
        let answer = ctx.http.send_with(&mut self.halo.auth, request)?;
        if lost(&answer) {
            return Ok(None);
        }
        Ok(Some(note(self.decode_action(id, answer)?, id)))
    }
}

//! ConnectWise's ticket desk: service tickets read, patched and searched, with boards, statuses,
//! service types, teams and members named, not numbered; comments as ticket notes.

use super::conditions::{Condition, Field};
use super::custom_fields;
use super::models::{Board, BoardStatus, Member, Note, Priority, ServiceTicket};
use super::paging::{self, PAGE_SIZE};
use super::tickets::{DEFAULT_BOARD, Tickets};
use super::{SERVICE, query};
use crate::actions::Context;
use crate::desk::{self, Desk, NewComment, given, instant, lost, no_ticket};
use crate::error::Error;
use crate::http::Method;
use crate::lenient::iso_utc;
use crate::types::{CustomField as NamedValue, PsaNote, PsaTicket, SearchTicketsInput, TicketFields};
use serde_json::{Value, json};

/// A named entry of one of ConnectWise's lists (statuses, types, teams, priorities).
struct Entry {
    id: u64,
    name: String,
}

impl Tickets {
    fn cw_get<T: serde::de::DeserializeOwned>(&self, ctx: &mut Context, path: &str, what: &str) -> Result<T, Error> {
        let cw = &self.requests.cw;
        cw.decode(what, ctx.http.send(cw.get(path)))
    }

    /// Every entry of a list, all pages.
    fn entries(&self, ctx: &mut Context, path: &str, what: &str) -> Result<Vec<Entry>, Error> {
        let mut found: Vec<Board> = Vec::new();
        paging::for_each_page(&self.requests.cw, &mut ctx.http, path, what, |page| found.extend(page))?;
        found.sort_by_key(|e| e.id);
        Ok(found.into_iter().map(|e| Entry { id: e.id, name: e.name.unwrap_or_default() }).collect())
    }

    /// The id of the entry named `name`, or a clear error naming what there is.
    fn pick(entries: &[Entry], name: &str, what: &str, field: &str) -> Result<u64, Error> {
        entries.iter().find(|e| e.name.trim().eq_ignore_ascii_case(name.trim())).map(|e| e.id).ok_or_else(|| {
            Error::invalid(
                field,
                format!(
                    "{SERVICE} has no {what} named {name:?} (it has: {})",
                    entries.iter().map(|e| e.name.trim()).collect::<Vec<_>>().join(", ")
                ),
                format!("Name one of them, or leave {field} out."),
            )
        })
    }

    fn statuses(&self, ctx: &mut Context, board: u64) -> Result<Vec<BoardStatus>, Error> {
        let mut statuses: Vec<BoardStatus> = Vec::new();
        let path = format!("/service/boards/{board}/statuses");
        paging::for_each_page(&self.requests.cw, &mut ctx.http, &path, "board statuses", |page| statuses.extend(page))?;
        statuses.retain(|s| !s.inactive_flag);
        Ok(statuses)
    }

    /// A member by identifier or e-mail (active ones only).
    fn member(&self, ctx: &mut Context, name: &str, field: &str) -> Result<Member, Error> {
        let by = if name.contains('@') { Field::OfficeEmail } else { Field::Identifier };
        let condition = Condition::eq(by, name.trim()).to_string();
        let path = format!(
            "/system/members?{}",
            query(&[("conditions", &condition), ("fields", "id,identifier,officeEmail,inactiveFlag")])
        );
        let found: Vec<Member> = self.cw_get(ctx, &path, "finding the member")?;
        found.into_iter().find(|m| !m.inactive_flag).ok_or_else(|| {
            Error::invalid(
                field,
                format!("{SERVICE} has no active member with the identifier or e-mail {name:?}"),
                "Give a member's identifier (System > Members) or office e-mail.",
            )
        })
    }

    fn company_ref(company: &str) -> Value {
        match company.parse::<u64>() {
            Ok(id) => json!({"id": id}),
            Err(_) => json!({"identifier": company}),
        }
    }

    /// The JSON-Patch operations (or, on create, the fields) `fields` sets on a ticket of `board`
    /// (its current one, or the one `fields` names).
    fn ticket_values(
        &self,
        ctx: &mut Context,
        fields: &TicketFields,
        board: &Board,
        creating: bool,
    ) -> Result<Vec<(&'static str, Value)>, Error> {
        let field = |name: &str| format!("input.ticket.{name}");
        for (value, name) in [(&fields.category, "category"), (&fields.impact, "impact"), (&fields.urgency, "urgency")]
        {
            if given(value).is_some() {
                return Err(Error::invalid(
                    &field(name),
                    format!("{SERVICE} tickets have no {name}"),
                    format!("Leave {name} out for ConnectWise (it is a Halo field)."),
                ));
            }
        }
        let mut values: Vec<(&'static str, Value)> = Vec::new();
        if let Some(summary) = given(&fields.summary) {
            values.push(("summary", json!(summary)));
        }
        if let Some(details) = fields.details.as_deref().filter(|d| !d.trim().is_empty()) {
            if !creating {
                return Err(Error::invalid(
                    &field("details"),
                    "ConnectWise keeps a ticket's description as its first note",
                    "Add what changed as a note with add_comment.",
                ));
            }
            values.push(("initialDescription", json!(details)));
        }
        if let Some(company) = given(&fields.company) {
            values.push(("company", Self::company_ref(company)));
        }
        if creating || given(&fields.board).is_some() {
            values.push(("board", json!({"id": board.id})));
        }
        let board_name = board.name.clone().unwrap_or_default();
        if let Some(name) = given(&fields.status) {
            let statuses: Vec<Entry> = self
                .statuses(ctx, board.id)?
                .into_iter()
                .map(|s| Entry { id: s.id, name: s.name.unwrap_or_default() })
                .collect();
            let what = format!("status on the {board_name} board");
            values.push(("status", json!({"id": Self::pick(&statuses, name, &what, &field("status"))?})));
        }
        if let Some(name) = given(&fields.priority) {
            let mut priorities: Vec<Priority> = Vec::new();
            paging::for_each_page(&self.requests.cw, &mut ctx.http, "/service/priorities", "priorities", |page| {
                priorities.extend(page)
            })?;
            let entries: Vec<Entry> =
                priorities.into_iter().map(|p| Entry { id: p.id, name: p.name.unwrap_or_default() }).collect();
            values.push(("priority", json!({"id": Self::pick(&entries, name, "priority", &field("priority"))?})));
        }
        for (value, list, what, name, key) in [
            (&fields.ticket_type, "types", "service type", "ticket_type", "type"),
            (&fields.team, "teams", "team", "team", "team"),
        ] {
            if let Some(wanted) = given(value) {
                let entries = self.entries(ctx, &format!("/service/boards/{}/{list}", board.id), list)?;
                let what = format!("{what} on the {board_name} board");
                values.push((key, json!({"id": Self::pick(&entries, wanted, &what, &field(name))?})));
            }
        }
        if let Some(agent) = given(&fields.agent) {
            values.push(("owner", json!({"id": self.member(ctx, agent, &field("agent"))?.id})));
        }
        Ok(values)
    }

    fn read_ticket(&self, ctx: &mut Context, id: u64) -> Result<ServiceTicket, Error> {
        let cw = &self.requests.cw;
        let outcome = ctx.http.send(cw.get(format!("/service/tickets/{id}")));
        if matches!(&outcome, Ok(r) if r.status == 404) {
            return Err(no_ticket(SERVICE, id));
        }
        cw.decode(&format!("reading ticket {id}"), outcome)
    }

    fn board_of(ticket: &ServiceTicket) -> Board {
        let board = ticket.board.clone().unwrap_or_default();
        Board { id: board.id.unwrap_or(0).max(0) as u64, name: board.name }
    }

    fn patch(&self, ctx: &mut Context, id: u64, operations: Vec<Value>) -> Result<PsaTicket, Error> {
        let cw = &self.requests.cw;
        // A patch replaces values, so sending it again is harmless: it may be retried.
        let request = cw
            .request(Method::Patch, format!("/service/tickets/{id}"))
            .json_body(&Value::Array(operations))
            .retry_safe();
        let ticket: ServiceTicket = cw.decode(&format!("updating ticket {id}"), ctx.http.send(request))?;
        psa(ticket)
    }
}

/// A ConnectWise ticket as the actions show it.
fn psa(ticket: ServiceTicket) -> Result<PsaTicket, Error> {
    let name = |r: &Option<super::models::Reference>| r.as_ref().and_then(|r| r.name.clone());
    let custom_fields = match ticket.custom_fields.as_ref().map(|f| f.parse()).transpose() {
        Ok(fields) => fields.unwrap_or_default(),
        Err(problem) => return Err(Error::malformed(SERVICE, &format!("reading ticket {}", ticket.id), problem)),
    };
    let company = ticket.company.clone().unwrap_or_default();
    Ok(PsaTicket {
        system: super::SYSTEM.name.into(),
        id: ticket.id.to_string(),
        summary: ticket.summary.clone().unwrap_or_default(),
        details: None,
        company_id: company.id.map(|c| c.to_string()).unwrap_or_default(),
        company_name: company.name.or(company.identifier),
        board: name(&ticket.board),
        ticket_type: name(&ticket.service_type),
        status: name(&ticket.status).unwrap_or_default(),
        closed: ticket.closed_flag,
        priority: name(&ticket.priority),
        team: name(&ticket.team),
        agent: ticket.owner.as_ref().and_then(|o| o.identifier.clone().or(o.name.clone())),
        category: None,
        external_key: ticket.external_x_ref.clone(),
        created: ticket.info.as_ref().and_then(|i| i.date_entered.as_deref()).map(iso_utc),
        updated: ticket.info.as_ref().and_then(|i| i.last_updated.as_deref()).map(iso_utc),
        closure_note: None,
        custom_fields: custom_fields
            .iter()
            .map(|f| NamedValue { name: f.caption.clone().unwrap_or_default(), value: f.text().unwrap_or_default() })
            .collect(),
    })
}

fn note(note: Note, ticket: u64) -> PsaNote {
    PsaNote {
        id: note.id.map(|i| i.to_string()).unwrap_or_default(),
        ticket_id: note.ticket_id.map_or_else(|| ticket.to_string(), |t| t.to_string()),
        text: note.text.unwrap_or_default(),
        // ConnectWise shows the customer the description and resolution, not internal analysis.
        public: !note.internal_analysis_flag,
        author: note.created_by,
        created: note.date_created.as_deref().map(iso_utc),
        outcome: None,
    }
}

impl Desk for Tickets {
    fn create(
        &mut self,
        ctx: &mut Context,
        fields: &TicketFields,
        key: Option<&str>,
    ) -> Result<Option<PsaTicket>, Error> {
        let board = self.find_board(ctx, given(&fields.board).unwrap_or(DEFAULT_BOARD))?;
        let mut body: serde_json::Map<String, Value> =
            self.ticket_values(ctx, fields, &board, true)?.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        if let Some(key) = key {
            body.insert("externalXRef".into(), json!(key));
        }
        let cw = &self.requests.cw;
        let outcome = ctx.http.send(cw.request(Method::Post, "/service/tickets").json_body(&body));
        if lost(&outcome) {
            return Ok(None);
        }
        let ticket: ServiceTicket = cw.decode("creating the ticket", outcome)?;
        psa(ticket).map(Some)
    }

    fn find_by_key(&mut self, ctx: &mut Context, key: &str) -> Result<Option<PsaTicket>, Error> {
        let condition = Condition::eq(Field::ExternalXRef, key).to_string();
        let path = format!("/service/tickets?{}", query(&[("conditions", &condition), ("orderBy", "id asc")]));
        let found: Vec<ServiceTicket> = self.cw_get(ctx, &path, "looking up the ticket by its key")?;
        found.into_iter().find(|t| t.external_x_ref.as_deref() == Some(key)).map(psa).transpose()
    }

    fn get(&mut self, ctx: &mut Context, id: u64) -> Result<PsaTicket, Error> {
        psa(self.read_ticket(ctx, id)?)
    }

    fn update(&mut self, ctx: &mut Context, id: u64, fields: &TicketFields) -> Result<PsaTicket, Error> {
        let current = self.read_ticket(ctx, id)?;
        let board = match given(&fields.board) {
            Some(name) => self.find_board(ctx, name)?,
            None => Self::board_of(&current),
        };
        let mut operations: Vec<Value> = self
            .ticket_values(ctx, fields, &board, false)?
            .into_iter()
            .map(|(path, value)| json!({"op": "replace", "path": path, "value": value}))
            .collect();
        if let Some(wanted) = fields.custom_fields.as_deref().filter(|f| !f.is_empty()) {
            let defined = match current.custom_fields.as_ref().map(|f| f.parse()).transpose() {
                Ok(fields) => fields.unwrap_or_default(),
                Err(problem) => return Err(Error::malformed(SERVICE, &format!("reading ticket {id}"), problem)),
            };
            let wanted: Vec<(String, String)> = wanted.iter().map(|f| (f.name.clone(), f.value.clone())).collect();
            // Sending part of the array wipes the rest: the whole array goes back.
            let all = custom_fields::with_values(&defined, &wanted).map_err(|caption| {
                Error::invalid(
                    "input.ticket.custom_fields",
                    format!(
                        "{SERVICE} tickets have no custom field {caption:?} (they have: {})",
                        defined.iter().filter_map(|d| d.caption.as_deref()).collect::<Vec<_>>().join(", ")
                    ),
                    "Name a ticket custom field by its caption (System > Setup Tables > Custom Fields).",
                )
            })?;
            operations.push(json!({"op": "replace", "path": "customFields", "value": all}));
        }
        self.patch(ctx, id, operations)
    }

    fn close(
        &mut self,
        ctx: &mut Context,
        id: u64,
        status: Option<&str>,
        resolution: Option<&str>,
    ) -> Result<PsaTicket, Error> {
        let current = self.read_ticket(ctx, id)?;
        let board = Self::board_of(&current);
        let board_name = board.name.clone().unwrap_or_default();
        let closed: Vec<Entry> = self
            .statuses(ctx, board.id)?
            .into_iter()
            .filter(|s| s.closed_status)
            .map(|s| Entry { id: s.id, name: s.name.unwrap_or_default() })
            .collect();
        let status_id = match status {
            Some(name) => Self::pick(&closed, name, &format!("closed status on the {board_name} board"), "input.status")?,
            None => closed.first().map(|s| s.id).ok_or_else(|| {
                Error::new(
                    format!("The {board_name} board has no closed status."),
                    "Mark one of its statuses Closed in ConnectWise (System > Setup Tables > Service Board > Statuses).",
                    "",
                )
            })?,
        };
        if let Some(text) = resolution {
            let note = NewComment { text, public: true, outcome: None, resolution: true };
            desk::add_once(ctx, self, id, &note)?;
        }
        self.patch(ctx, id, vec![json!({"op": "replace", "path": "status", "value": {"id": status_id}})])
    }

    fn search(
        &mut self,
        ctx: &mut Context,
        filter: &SearchTicketsInput,
        limit: Option<usize>,
    ) -> Result<Vec<PsaTicket>, Error> {
        let mut conditions = Vec::new();
        if let Some(company) = given(&filter.company) {
            conditions.push(match company.parse::<u64>() {
                Ok(id) => Condition::eq(Field::CompanyId, id),
                Err(_) => Condition::eq(Field::CompanyIdentifier, company),
            });
        }
        if let Some(status) = given(&filter.status) {
            conditions.push(Condition::eq(Field::StatusName, status));
        }
        if let Some(open) = filter.open {
            conditions.push(Condition::eq(Field::ClosedFlag, !open));
        }
        if let Some(agent) = given(&filter.agent) {
            let member = self.member(ctx, agent, "input.agent")?;
            conditions.push(Condition::eq(Field::OwnerIdentifier, member.identifier.unwrap_or_default().as_str()));
        }
        if let Some(team) = given(&filter.team) {
            conditions.push(Condition::eq(Field::TeamName, team));
        }
        if let Some(summary) = given(&filter.summary) {
            conditions.push(Condition::contains(Field::Summary, summary));
        }
        if let Some(since) = given(&filter.updated_since) {
            conditions.push(Condition::at_or_after(Field::LastUpdated, instant("input.updated_since", since)?));
        }
        if let Some(key) = given(&filter.external_key) {
            conditions.push(Condition::eq(Field::ExternalXRef, key));
        }
        if let Some(board) = given(&filter.board) {
            conditions.push(Condition::eq(Field::BoardName, board));
        }
        let mut params = vec![("orderBy", "id asc".to_string())];
        if let Some(all) = Condition::all(conditions) {
            params.push(("conditions", all.to_string()));
        }
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let path = format!("/service/tickets?{}", query(&params));
        let tickets: Vec<ServiceTicket> = match limit.map(|l| l + 1).filter(|wanted| *wanted <= PAGE_SIZE) {
            // One page holds them all: no need to read every match.
            Some(wanted) => self.cw_get(ctx, &format!("{path}&pageSize={wanted}&page=1"), "searching tickets")?,
            None => {
                let mut all = Vec::new();
                paging::for_each_page(&self.requests.cw, &mut ctx.http, &path, "tickets", |page| all.extend(page))?;
                all.sort_by_key(|t: &ServiceTicket| t.id);
                all
            }
        };
        tickets.into_iter().map(psa).collect()
    }

    fn notes(&mut self, ctx: &mut Context, id: u64) -> Result<Vec<PsaNote>, Error> {
        self.read_ticket(ctx, id)?;
        let mut notes: Vec<Note> = Vec::new();
        let path = format!("/service/tickets/{id}/notes?{}", query(&[("orderBy", "id asc")]));
        paging::for_each_page(&self.requests.cw, &mut ctx.http, &path, "notes", |page| notes.extend(page))?;
        notes.sort_by_key(|n| n.id.unwrap_or(i64::MAX));
        Ok(notes.into_iter().map(|n| note(n, id)).collect())
    }

    fn comment(&mut self, ctx: &mut Context, id: u64, comment: &NewComment) -> Result<Option<PsaNote>, Error> {
        if comment.outcome.is_some() {
            return Err(Error::invalid(
                "input.outcome",
                format!("{SERVICE} notes have no outcome"),
                "Leave outcome out for ConnectWise (it is a Halo Action's).",
            ));
        }
        let body = json!({
            "text": comment.text,
            "detailDescriptionFlag": comment.public && !comment.resolution,
            "internalAnalysisFlag": !comment.public,
            "resolutionFlag": comment.resolution,
        });
        let cw = &self.requests.cw;
        let outcome = ctx.http.send(cw.request(Method::Post, format!("/service/tickets/{id}/notes")).json_body(&body));
        if lost(&outcome) {
            return Ok(None);
        }
        if matches!(&outcome, Ok(r) if r.status == 404) {
            return Err(no_ticket(SERVICE, id));
        }
        let added: Note = cw.decode(&format!("adding a note to ticket {id}"), outcome)?;
        Ok(Some(note(added, id)))
    }
}

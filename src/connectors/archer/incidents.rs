//! Archer's side of the exactly-once writer: incidents found by the text field holding each
//! ticket's key (one search for many keys), created with every configured field in the shape its
//! type needs, their status kept in step. Success is what `IsSuccessful` says, not the HTTP status.

use super::models::{ContentId, Wrapped};
use super::schema::{self, Schema};
use super::search::{self, Query};
use super::values::Field;
use super::{Archer, ArcherApi, SERVICE, refused};
use crate::actions::Context;
use crate::connectors::System;
use crate::error::Error;
use crate::http::{Auth, Flow, HttpError, Method, Request, Response};
use crate::sync::post::{Existing, NewTicket, NotesPage, Targets, TicketRequests, TicketWriter, shorten_summary};
use crate::sync::value_map::Target;
use crate::types::PostTicketsInput;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Archer's text fields hold 255 characters unless made longer; keys and titles fit in that.
const TEXT_MAX: usize = 255;

pub struct Requests {
    api: ArcherApi,
    /// Empty until `prepare` (which the writer runs before building any request).
    schema: Schema,
}

impl Requests {
    pub fn new(api: ArcherApi) -> Self {
        Requests { api, schema: Schema::default() }
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn search(&self, keys: &[String], page: usize) -> Request {
        let schema = self.schema();
        let mut display = vec![schema.key.id];
        display.extend(schema.status.as_ref().map(|s| s.id));
        let query = Query { module: schema.module_id, field: schema.key.id, values: keys, display: &display };
        self.api.search(search::envelope(&query, page))
    }

    /// The incidents a search page found, by the key they hold; `true` when there are more pages.
    fn found(
        &self,
        outcome: Result<Response, HttpError>,
        into: &mut HashMap<String, Vec<Existing>>,
        page: usize,
    ) -> Result<bool, Error> {
        let what = "searching for incidents by key";
        let response = match outcome {
            Ok(response) if response.is_success() => response,
            Ok(response) if response.status == 500 => {
                let body = String::from_utf8_lossy(&response.body).to_string();
                return Err(Error::new(
                    "Archer's search failed.",
                    "Check that the API user may search the application, and that Archer's web services (ws/search.asmx) are reachable.",
                    search::results(&body).err().unwrap_or_else(|| response.body_snippet()),
                ));
            }
            outcome => return self.api.decode::<Value>(what, outcome).map(|_| false),
        };
        let results = search::results(&String::from_utf8_lossy(&response.body))
            .map_err(|problem| Error::malformed(SERVICE, what, problem))?;
        let schema = self.schema();
        for record in &results.records {
            let Some(key) = record.fields.get(&schema.key.id).map(|f| f.text.trim().to_string()) else { continue };
            let status_id = schema.status.as_ref().and_then(|status| {
                let value = record.fields.get(&status.id)?;
                value.value_ids.first().copied().or_else(|| {
                    status
                        .choices
                        .iter()
                        .find(|(_, n)| n.iter().any(|n| n.eq_ignore_ascii_case(&value.text)))
                        .map(|(id, _)| *id)
                })
            });
            let existing = Existing {
                id: record.content_id.to_string(),
                key: key.clone(),
                status_id: Some(status_id.map_or_else(String::new, |id| id.to_string())),
            };
            into.entry(key).or_default().push(existing);
        }
        Ok(page * search::PAGE_SIZE < results.total && !results.records.is_empty())
    }

    fn content(&self, id: Option<&str>, fields: Map<String, Value>) -> Value {
        let mut content = json!({"LevelId": self.schema().level_id, "FieldContents": fields});
        if let Some(id) = id {
            content["Id"] = json!(id.parse::<u64>().unwrap_or_default());
        }
        json!({ "Content": content })
    }

    /// Every field a new incident gets, or the first one that cannot be filled.
    fn fields(&self, new: &NewTicket) -> Result<Map<String, Value>, Error> {
        let schema = self.schema();
        let ticket = new.ticket;
        let value = |field: &Field, text: &str| -> Result<Option<(String, Value)>, Error> {
            let value = field.value(text).map_err(|problem| {
                Error::new(
                    format!("Ticket {} has no value for Archer: {problem}.", ticket.key),
                    "Fix the input's archer fields (or the source's value), then post the ticket again.",
                    "",
                )
            })?;
            Ok(value.map(|v| (field.id.to_string(), field.content(v))))
        };
        let render = |field: &Field, template: &super::template::Template| {
            template.render(ticket).map_err(|missing| {
                Error::new(
                    format!("Ticket {} has no {missing:?} for the Archer field {:?}.", ticket.key, field.name),
                    "Name a field or fact the ticket has, or mark it optional as {name?}.",
                    format!(
                        "facts: {}",
                        ticket.facts.iter().flatten().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                )
            })
        };
        let (title_field, title) = &schema.title;
        let mut entries = vec![
            value(&schema.key, new.key)?,
            value(title_field, &shorten_summary(&render(title_field, title)?, TEXT_MAX).0)?,
        ];
        for (field, template) in schema.details.iter().chain(&schema.fields) {
            entries.push(value(field, &render(field, template)?)?);
        }
        let chosen = [(&schema.status, Some(new.status)), (&schema.priority, new.priority)];
        for (field, target) in chosen {
            if let (Some(field), Some(Ok(id))) = (field, target.map(|t| t.id.parse::<u64>())) {
                entries.push(Some((
                    field.id.to_string(),
                    field.content(json!({"ValuesListIds": [id], "OtherText": null})),
                )));
            }
        }
        Ok(entries.into_iter().flatten().collect())
    }
}

fn targets(field: Option<&Field>) -> Vec<Target> {
    match field {
        Some(field) => field
            .choices
            .iter()
            .enumerate()
            .map(|(i, (id, names))| {
                let name = names.first().cloned().unwrap_or_default();
                Target { id: id.to_string(), default: i == 0, name }
            })
            .collect(),
        // Without a status field every ticket is "in step".
        None => vec![Target { id: String::new(), name: "(no status field)".into(), default: true }],
    }
}

fn is_closed(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    ["closed", "resolved", "cancelled", "canceled", "complete", "completed"].contains(&name.as_str())
}

impl TicketWriter for Archer {
    fn prepare(
        &mut self,
        ctx: &mut Context,
        input: &PostTicketsInput,
        with_priorities: bool,
    ) -> Result<Targets, Error> {
        let schema = schema::resolve(ctx, self, input.archer.as_ref(), with_priorities)?;
        let statuses = targets(schema.status.as_ref());
        let closed = statuses.iter().filter(|s| is_closed(&s.name)).map(|s| s.id.clone()).collect();
        let priorities = if schema.priority.is_some() { targets(schema.priority.as_ref()) } else { Vec::new() };
        let place = format!("the Archer application {}", schema.application);
        self.requests.schema = schema;
        Ok(Targets { place, statuses, priorities, closed })
    }

    /// Every ticket goes to the application: Archer has no companies.
    fn companies_by_account(
        &mut self,
        _: &mut Context,
        _: &'static System,
        accounts: &[String],
    ) -> Result<HashMap<String, Vec<String>>, Error> {
        let module = self.requests.schema().module_id.to_string();
        Ok(accounts.iter().map(|a| (a.clone(), vec![module.clone()])).collect())
    }

    fn company(&mut self, _: &mut Context, _: &str) -> Result<String, Error> {
        Ok(self.requests.schema().module_id.to_string())
    }

    fn existing(&mut self, ctx: &mut Context, keys: &[String]) -> Result<HashMap<String, Vec<Existing>>, Error> {
        let chunks: Vec<Vec<String>> = keys.chunks(search::KEYS_PER_SEARCH).map(<[String]>::to_vec).collect();
        let jobs: Vec<((usize, usize), Request)> =
            chunks.iter().enumerate().map(|(c, chunk)| ((c, 1), self.requests.search(chunk, 1))).collect();
        let mut found: HashMap<String, Vec<Existing>> = HashMap::new();
        let mut failure = None;
        let requests = &self.requests;
        ctx.http.run(&mut self.auth, jobs, |(c, page), outcome, next| {
            match requests.found(outcome, &mut found, page) {
                Ok(true) => {
                    next.push((c, page + 1), requests.search(&chunks[c], page + 1));
                    Flow::Continue
                }
                Ok(false) => Flow::Continue,
                Err(error) => {
                    failure = Some(error);
                    Flow::Stop
                }
            }
        })?;
        if let Some(error) = failure {
            return Err(error);
        }
        for list in found.values_mut() {
            list.sort_by_key(|e| e.id.parse::<u64>().unwrap_or(u64::MAX));
        }
        Ok(found)
    }

    fn parts(&mut self) -> (&mut dyn Auth, &dyn TicketRequests) {
        (&mut self.auth, &self.requests)
    }
}

impl TicketRequests for Requests {
    fn key_max(&self) -> usize {
        TEXT_MAX
    }

    fn summary_max(&self) -> usize {
        TEXT_MAX
    }

    fn takes_notes(&self) -> bool {
        false
    }

    /// Analysts own an incident's workflow once it exists: the status is set on create only.
    fn follows_status(&self) -> bool {
        false
    }

    fn link_field(&self, _: &System) -> String {
        format!("the {} application", self.schema().application)
    }

    fn check(&self, new: &NewTicket) -> Result<(), Error> {
        self.fields(new).map(drop)
    }

    fn create(&self, new: &NewTicket) -> Request {
        // `check` has shown the fields can be filled.
        let fields = self.fields(new).unwrap_or_default();
        self.api.send(Method::Post, "/core/content", &self.content(None, fields))
    }

    fn created(&self, key: &str, outcome: Result<Response, HttpError>) -> Result<String, Error> {
        let created: ContentId = self.api.object(&format!("creating the incident for {key}"), outcome)?;
        Ok(created.id.to_string())
    }

    fn lookup(&self, key: &str) -> Request {
        self.search(&[key.to_string()], 1)
    }

    fn looked_up(&self, key: &str, outcome: Result<Response, HttpError>) -> Result<Option<Existing>, Error> {
        let mut found = HashMap::new();
        self.found(outcome, &mut found, 1)?;
        Ok(found.remove(key.trim()).and_then(|mut list| {
            list.sort_by_key(|e| e.id.parse::<u64>().unwrap_or(u64::MAX));
            list.into_iter().next()
        }))
    }

    fn update_status(&self, ticket_id: &str, status: &Target, _closure: Option<&str>) -> Request {
        let mut fields = Map::new();
        if let (Some(field), Ok(id)) = (&self.schema().status, status.id.parse::<u64>()) {
            fields.insert(field.id.to_string(), field.content(json!({"ValuesListIds": [id], "OtherText": null})));
        }
        self.api.send(Method::Put, "/core/content", &self.content(Some(ticket_id), fields))
    }

    fn updated(&self, key: &str, outcome: Result<Response, HttpError>) -> Result<(), Error> {
        let what = format!("updating the status of the incident for {key}");
        let answer: Wrapped<Value> = self.api.decode(&what, outcome)?;
        if answer.is_successful { Ok(()) } else { Err(refused(&what, &answer)) }
    }

    // Archer incidents keep no notes (`takes_notes`): these are never asked for.
    fn notes(&self, ticket_id: &str) -> Request {
        self.api.get(&format!("/core/content/{ticket_id}"))
    }

    fn notes_page(&self, _: &str, _: Result<Response, HttpError>) -> Result<NotesPage, Error> {
        Ok(NotesPage { texts: Vec::new(), next: None })
    }

    fn add_note(&self, ticket_id: &str, _: &str, _: bool) -> Request {
        self.notes(ticket_id)
    }

    fn note_added(&self, key: &str, _: Result<Response, HttpError>) -> Result<(), Error> {
        Err(Error::new(format!("Archer keeps no notes (incident for {key})."), "Post to Archer without comments.", ""))
    }
}

#[cfg(test)]
mod tests {
    use crate::actions::hostile_tests::{post_input, ticket};
    use crate::actions::{post_tickets, run_with};
    use crate::html::escape;
    use crate::http::fake::{FakeTransport, Reply};
    use crate::http::{Method, Request};
    use crate::types::{ArcherConnection, Connection, PostOutcome};
    use serde_json::{Value, json};
    use std::cell::RefCell;

    fn connection() -> Connection {
        Connection {
            archer: Some(ArcherConnection {
                base_url: "https://archer.example/RSAarcher".into(),
                prefix: None,
                instance: "Prod".into(),
                user: "svc".into(),
                domain: None,
                password: "archer-S3cret".into(),
            }),
            ..crate::actions::hostile_tests::no_sections()
        }
    }

    fn list(items: Value) -> Value {
        json!(
            items
                .as_array()
                .unwrap()
                .iter()
                .map(|i| json!({"RequestedObject": i, "IsSuccessful": true}))
                .collect::<Vec<_>>()
        )
    }

    fn soap(records: &str, count: usize) -> Reply {
        let inner =
            format!("<?xml version=\"1.0\" encoding=\"utf-16\"?><Records count=\"{count}\">{records}</Records>");
        let body = format!(
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><ExecuteSearchResponse \
             xmlns=\"http://archer-tech.com/webservices/\"><ExecuteSearchResult>{}</ExecuteSearchResult>\
             </ExecuteSearchResponse></soap:Body></soap:Envelope>",
            escape(&inner)
        );
        let mut reply = Reply::status(200);
        if let Ok(response) = &mut reply.result {
            response.body = body.into_bytes();
        }
        reply
    }

    /// An instance with the default fields; `created` holds the keys Archer stored.
    fn archer<'a>(created: &'a RefCell<Vec<String>>, creates: &'a RefCell<u32>) -> impl FnMut(&Request) -> Reply + 'a {
        move |request: &Request| {
            let path = request.path.as_str();
            let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
            match (request.method, path) {
                (Method::Post, "/platformapi/core/security/login") => {
                    Reply::json(200, &json!({"RequestedObject": {"SessionToken": "S1"}, "IsSuccessful": true}))
                }
                (_, "/platformapi/core/system/application") => {
                    Reply::json(200, &list(json!([{"Id": 70, "Name": "Security Incidents"}])))
                }
                (_, "/platformapi/core/system/level/module/70") => {
                    Reply::json(200, &list(json!([{"Id": 9, "Name": "Incidents"}])))
                }
                (_, "/platformapi/core/system/fielddefinition/level/9") => Reply::json(
                    200,
                    &list(
                        json!([{"Id": 1, "Name": "Message ID", "Type": 1}, {"Id": 2, "Name": "Incident Title", "Type": 1},
                                 {"Id": 3, "Name": "Description", "Type": 1},
                                 {"Id": 4, "Name": "Incident Status", "Type": 4, "RelatedValuesListId": 40}]),
                    ),
                ),
                (_, "/platformapi/core/system/valueslistvalue/valueslist/40") => {
                    Reply::json(200, &list(json!([{"Id": 401, "Name": "New"}, {"Id": 402, "Name": "Closed"}])))
                }
                (Method::Post, "/ws/search.asmx") => {
                    let text = String::from_utf8_lossy(&request.body);
                    assert!(text.contains("<sessionToken>S1</sessionToken>"), "the session is signed in");
                    let found: String = created
                        .borrow()
                        .iter()
                        .enumerate()
                        .filter(|(_, key)| text.contains(&escape(&escape(key))))
                        .map(|(i, key)| {
                            format!(
                                "<Record contentId=\"{}\"><Field id=\"1\" type=\"1\">{}</Field></Record>",
                                500 + i,
                                escape(key)
                            )
                        })
                        .collect();
                    soap(&found, found.matches("<Record").count())
                }
                (Method::Post, "/platformapi/core/content") => {
                    *creates.borrow_mut() += 1;
                    let key = body["Content"]["FieldContents"]["1"]["Value"].as_str().unwrap_or_default().to_string();
                    assert_eq!(body["Content"]["FieldContents"]["4"]["Value"]["ValuesListIds"], json!([401]));
                    if key.ends_with("REFUSED") {
                        return Reply::json(
                            200,
                            &json!({"IsSuccessful": false, "RequestedObject": null,
                            "ValidationMessages": [{"Reason": "Validation", "ResourcedMessage": "Incident Title is too long."}]}),
                        );
                    }
                    created.borrow_mut().push(key);
                    if *creates.borrow() == 1 {
                        return Reply::status(503); // landed, answer lost
                    }
                    Reply::json(200, &json!({"RequestedObject": {"Id": 900}, "IsSuccessful": true}))
                }
                _ => Reply::json(404, &json!({"Message": "No HTTP resource was found."})),
            }
        }
    }

    #[test]
    fn a_lost_create_is_found_by_search_and_a_refusal_on_200_fails_only_its_ticket() {
        let (created, creates) = (RefCell::new(Vec::new()), RefCell::new(0));
        let mut transport = FakeTransport::new(archer(&created, &creates));
        let mut input =
            post_input(vec![ticket("M-1".into(), "Invoice".into(), 1), ticket("M-REFUSED".into(), "x".into(), 0)]);
        input.tickets.iter_mut().for_each(|t| t.system = "graph_mail".into());
        let output = run_with(&connection(), &mut transport, |ctx| post_tickets::run(ctx, input.clone())).unwrap();
        let outcomes: Vec<PostOutcome> = output.results.iter().map(|r| r.outcome).collect();
        assert_eq!(outcomes, [PostOutcome::Created, PostOutcome::Failed], "{:?}", output.results);
        assert_eq!(output.results[0].ticket_id.as_deref(), Some("500"), "found by the search after the lost answer");
        let refusal = output.results[1].error.as_ref().unwrap();
        assert!(refusal.cause.contains("Incident Title is too long."), "{refusal:?}");
        assert_eq!(*creates.borrow(), 2, "one create each: the lost one was not repeated");
        assert_eq!(output.results[0].notes_added, 0, "Archer keeps no notes");
        assert!(
            transport
                .sent
                .iter()
                .all(|r| !String::from_utf8_lossy(&r.body).contains("archer-S3cret") || r.path.ends_with("/login"))
        );

        // Posted again: found, nothing written (the status is Archer's now).
        let mut transport = FakeTransport::new(archer(&created, &creates));
        let output = run_with(&connection(), &mut transport, |ctx| post_tickets::run(ctx, input)).unwrap();
        assert_eq!(output.results[0].outcome, PostOutcome::Unchanged);
        assert_eq!(*creates.borrow(), 3, "only the refused ticket is tried again");
    }
}

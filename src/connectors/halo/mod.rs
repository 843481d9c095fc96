//! HaloPSA / HaloITSM (contracts/halo.md): a destination of links (client custom fields, by name)
//! and tickets (keyed by `third_party_id_string`, comments as Actions, created one at a time).

pub mod auth;
pub mod clients;
pub mod desk;
pub mod lookups;
pub mod models;
pub mod tickets;

use crate::actions::Context;
use crate::connectors::{Desk, Destination, LinkWrite, System, TicketWriter};
use crate::error::Error;
use crate::http::{HttpError, Method, Origin, Request, Response};
use crate::matching::CompanyRecord;
use crate::types::Connection;
use auth::HaloAuth;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use std::rc::Rc;

pub const SERVICE: &str = "Halo";
/// Hosted instances allow 300 requests per rolling 5 minutes per client id.
const DEFAULT_RATE_LIMIT: (u32, u64) = (300, 5 * 60 * 1000);
/// Halo's largest page.
pub const PAGE_SIZE: usize = 100;

pub const SYSTEM: System = System {
    name: "halo",
    label: "Halo",
    configured,
    secrets,
    origins,
    check,
    source: None,
    destination: Some(open),
    directory: None,
    provisioning: None,
    legacy: None,
};

fn configured(connection: &Connection) -> bool {
    connection.halo.is_some()
}

fn secrets(connection: &Connection) -> Vec<String> {
    connection.halo.iter().flat_map(|h| [h.client_id.clone(), h.client_secret.clone()]).collect()
}

fn origins(connection: &Connection) -> Result<Vec<Origin>, Error> {
    let halo = Halo::from_connection(connection, "the connection")?;
    Ok(vec![(*halo.api.origin).clone(), (*halo.auth.origin).clone()])
}

fn check(ctx: &mut Context) -> Result<String, Error> {
    let mut halo = Halo::from_connection(ctx.connection, "test_connection")?;
    let outcome = ctx.http.send_with(&mut halo.auth, halo.api.get("/TicketType"))?;
    halo.api.decode::<serde_json::Value>("reading the ticket types", outcome)?;
    Ok("authenticated with client credentials; ticket types readable".into())
}

fn open(connection: &Connection) -> Result<Box<dyn Destination>, Error> {
    let halo = Halo::from_connection(connection, "this action")?;
    Ok(Box::new(HaloDestination { clients: clients::Clients::default(), tickets: tickets::Tickets::new(halo) }))
}

/// A Halo instance: `api` builds and reads requests, `auth` signs them. Kept apart so a run can
/// sign with `auth` while its callback decodes with `api`.
pub struct Halo {
    pub api: HaloApi,
    pub auth: HaloAuth,
}

#[derive(Clone)]
pub struct HaloApi {
    pub origin: Rc<Origin>,
    /// Requests the instance allows per rolling window of so many ms (0 requests: no limit known).
    pub rate_limit: (u32, u64),
    /// The client custom fields that hold a link, by name (`None`: the source's default captions).
    pub link_fields: Option<crate::types::LinkFields>,
}

impl Halo {
    pub fn from_connection(connection: &Connection, action: &str) -> Result<Halo, Error> {
        let section = connection.halo.as_ref().ok_or_else(|| Error::missing_section("halo", action))?;
        let base = section.base_url.trim().trim_end_matches('/');
        let url = |field: &str, given: &Option<String>, default: String| -> Result<Rc<Origin>, Error> {
            let url = given.as_deref().map(str::trim).filter(|u| !u.is_empty()).map_or(default, str::to_string);
            Origin::parse(&url).map(Rc::new).map_err(|problem| {
                Error::invalid(
                    &format!("connection.halo.{field}"),
                    problem,
                    "Give your Halo URL, e.g. https://acme.halopsa.com (the API and auth URLs derive from it).",
                )
            })
        };
        if base.is_empty() {
            return Err(Error::invalid(
                "connection.halo.base_url",
                "it is empty",
                "Give your Halo URL, e.g. https://acme.halopsa.com.",
            ));
        }
        let api = url("resource_url", &section.resource_url, format!("{base}/api"))?;
        let auth = url("auth_url", &section.auth_url, format!("{base}/auth"))?;
        for (field, value) in [("client_id", &section.client_id), ("client_secret", &section.client_secret)] {
            if value.trim().is_empty() {
                return Err(Error::invalid(
                    &format!("connection.halo.{field}"),
                    "it is empty",
                    "Fill in the client ID and secret of a Halo API application (Client ID and Secret authentication).",
                ));
            }
        }
        let tenant = section.tenant.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
        let scope = section.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or("all").to_string();
        Ok(Halo {
            api: HaloApi {
                origin: api,
                rate_limit: section
                    .rate_limit
                    .map_or(DEFAULT_RATE_LIMIT, |l| (l.requests, u64::from(l.window_seconds.max(1)) * 1000)),
                link_fields: section.link_fields.clone(),
            },
            auth: HaloAuth::new(
                auth,
                tenant,
                section.client_id.trim().to_string(),
                section.client_secret.clone(),
                scope,
            ),
        })
    }
}

impl HaloApi {
    pub fn get(&self, path: impl Into<String>) -> Request {
        Request::new(Method::Get, &self.origin, path).header("accept", "application/json")
    }

    /// A POST of `records` (Halo takes arrays: an item without id creates, one with id updates).
    pub fn post(&self, path: &str, records: &serde_json::Value) -> Request {
        Request::new(Method::Post, &self.origin, path).header("accept", "application/json").json_body(records)
    }

    /// A 2xx answer decoded as `T`; anything else a clear error about `what`.
    pub fn decode<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        outcome: Result<Response, HttpError>,
    ) -> Result<T, Error> {
        crate::http::decode(SERVICE, what, outcome, |response| status_error(what, response))
    }

    /// Paces every request of the run under the instance's documented limit, so it is met, not hit.
    pub fn pace(&self, ctx: &mut Context) {
        let (requests, window_ms) = self.rate_limit;
        if requests > 0 {
            ctx.http.limit_to(requests, window_ms);
        }
    }
}

pub fn status_error(what: &str, response: &Response) -> Error {
    let message = error_message(response);
    match response.status {
        401 => Error::new(
            "Halo rejected the access token even after requesting a new one.",
            "Check that the API application in connection.halo may use the API (its permissions and scope `all`).",
            format!("HTTP 401 ({what}): {message}"),
        ),
        403 => Error::new(
            format!("Halo refused access ({what})."),
            "Give the API application's agent the permissions needed (tickets, clients, actions: read and edit).",
            format!("HTTP 403: {message}"),
        ),
        429 => Error::new(
            format!("Halo kept rate limiting the requests ({what})."),
            "Run the action again later (it resumes where it can), or set connection.halo.rate_limit to the limit \
             your instance has.",
            format!("HTTP 429: {message}"),
        ),
        _ => Error::status(SERVICE, what, response, &message),
    }
}

/// Halo's error bodies are a plain string, a JSON string or an object with a message in one of
/// several fields.
pub fn error_message(response: &Response) -> String {
    match serde_json::from_slice::<serde_json::Value>(&response.body) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(serde_json::Value::Object(body)) => {
            let fields = ["message", "error_description", "error", "title", "detail"];
            let found: Vec<String> =
                fields.iter().filter_map(|f| body.get(*f).and_then(|v| v.as_str())).map(str::to_string).collect();
            if found.is_empty() { response.body_snippet() } else { found.join(" — ") }
        }
        _ => response.body_snippet(),
    }
}

/// A query string with every value percent-encoded.
pub fn query(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC)))
        .collect::<Vec<_>>()
        .join("&")
}

struct HaloDestination {
    clients: clients::Clients,
    tickets: tickets::Tickets,
}

impl Destination for HaloDestination {
    fn system(&self) -> &'static System {
        &SYSTEM
    }

    fn companies(
        &mut self,
        ctx: &mut Context,
        source: &'static System,
        include_deleted: bool,
    ) -> Result<Vec<CompanyRecord>, Error> {
        self.clients.read(ctx, &mut self.tickets.halo, source, include_deleted)
    }

    fn write_links(&mut self, ctx: &mut Context, links: &[LinkWrite], dry_run: bool) -> Vec<Result<bool, Error>> {
        self.clients.write(ctx, &mut self.tickets.halo, links, dry_run)
    }

    fn tickets(&mut self) -> &mut dyn TicketWriter {
        &mut self.tickets
    }

    fn desk(&mut self) -> Option<&mut dyn Desk> {
        Some(&mut self.tickets)
    }
}

#[cfg(test)]
mod tests {
    use crate::actions::hostile_tests::{post_input as input, ticket};
    use crate::actions::{post_tickets, run_with};
    use crate::http::fake::{FakeTransport, Reply};
    use crate::http::{Method, Request};
    use crate::types::*;
    use serde_json::{Value, json};
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    fn connection() -> Connection {
        Connection {
            halo: Some(HaloConnection {
                base_url: "https://acme.halo.example".into(),
                resource_url: None,
                auth_url: None,
                tenant: Some("acme".into()),
                client_id: "halo-client".into(),
                client_secret: "halo-S3cret".into(),
                scope: None,
                rate_limit: None,
                link_fields: None,
            }),
            ..crate::actions::hostile_tests::no_sections()
        }
    }

    /// A Halo with client 12 linked to ARMOR account 7001, statuses New (1) and Closed (9, closed),
    /// and `existing` under the key `armor:ATS-1`.
    fn halo(request: &Request, existing: &Value) -> Reply {
        let path = request.path.as_str();
        match (&request.method, path) {
            (Method::Post, p) if p.starts_with("/token") => {
                Reply::json(200, &json!({"access_token": "tok", "expires_in": 3600}))
            }
            (_, p) if p.starts_with("/Status") => Reply::json(
                200,
                &json!([{"id": 1, "name": "New", "type": "open"}, {"id": 9, "name": "Closed", "type": "closed"}]),
            ),
            (_, p) if p.starts_with("/Client") => Reply::json(
                200,
                &json!({"record_count": 1, "clients": [
                    {"id": 12, "name": "Contoso", "customfields": [{"id": 140, "name": "ARMORcompanyId", "value": "7001"}]}
                ]}),
            ),
            (Method::Get, p) if p.starts_with("/Tickets") && p.ends_with("ATS%2D1") => {
                Reply::json(200, &json!({"tickets": existing}))
            }
            (Method::Get, p) if p.starts_with("/Tickets") => Reply::json(200, &json!({"tickets": []})),
            (Method::Get, p) if p.starts_with("/Actions") => Reply::json(200, &json!({"actions": []})),
            _ => Reply::json(200, &json!({"id": 500})),
        }
    }

    /// Concurrent creates race on Halo's ticket number: each create starts only after the one
    /// before has been answered.
    #[test]
    fn tickets_are_created_one_at_a_time() {
        let clock = Rc::new(Cell::new(1_000));
        let starts: Rc<RefCell<Vec<u64>>> = Rc::default();
        let (time, seen) = (clock.clone(), starts.clone());
        let mut transport = FakeTransport::with_clock(clock, move |request: &Request| {
            if request.method == Method::Post && request.path.starts_with("/Tickets") {
                seen.borrow_mut().push(time.get());
                return Reply::json(201, &json!({"id": 500 + seen.borrow().len()})).after(50);
            }
            halo(request, &json!([]))
        });
        let tickets = (1..=3).map(|n| ticket(format!("ATS-{n}0"), "s".into(), 0)).collect();
        let output = run_with(&connection(), &mut transport, |ctx| post_tickets::run(ctx, input(tickets))).unwrap();
        assert_eq!(output.counts.created, 3, "{:?}", output.results);
        let starts = starts.borrow();
        assert!(starts.windows(2).all(|w| w[1] >= w[0] + 50), "creates overlapped: {starts:?}");
        let token = transport.sent.iter().find(|r| r.path.starts_with("/token")).unwrap();
        assert_eq!(token.path, "/token?tenant=acme");
        let form = String::from_utf8_lossy(&token.body).to_string();
        assert!(form.contains("grant_type=client_credentials") && form.contains("scope=all"), "{form}");
        let create =
            transport.sent.iter().find(|r| r.method == Method::Post && r.path.starts_with("/Tickets")).unwrap();
        let body: Value = serde_json::from_slice(&create.body).unwrap();
        assert_eq!(
            (body[0]["client_id"].clone(), body[0]["third_party_id_string"].clone()),
            (json!(12), json!("armor:ATS-10"))
        );
        assert_eq!(
            create.headers.iter().find(|(n, _)| n == "authorization").map(|(_, v)| v.as_str()),
            Some("Bearer tok")
        );
    }

    /// A run longer than the time budget posts what it can and returns a cursor; the call with the
    /// cursor posts the rest without looking the finished tickets up again, and nothing twice.
    #[test]
    fn the_time_budget_returns_a_cursor_that_resumes_the_run() {
        let clock = Rc::new(Cell::new(1_000));
        let created: Rc<RefCell<Vec<String>>> = Rc::default();
        let looked_up: Rc<RefCell<Vec<String>>> = Rc::default();
        let (made, seen) = (created.clone(), looked_up.clone());
        let mut transport = FakeTransport::with_clock(clock, move |request: &Request| {
            if request.method == Method::Get && request.path.starts_with("/Tickets?") {
                let key = request.path.rsplit("third_party_id_string=").next().unwrap_or_default().to_string();
                seen.borrow_mut().push(key);
            }
            if request.method == Method::Post && request.path.starts_with("/Tickets") {
                let body: Value = serde_json::from_slice(&request.body).unwrap();
                made.borrow_mut().push(body[0]["third_party_id_string"].as_str().unwrap_or_default().to_string());
                return Reply::json(201, &json!({"id": 500 + made.borrow().len()})).after(300);
            }
            halo(request, &json!([]))
        });
        let mut connection = connection();
        connection.tuning = Some(Tuning {
            max_concurrency: None,
            request_timeout_seconds: None,
            max_attempts: None,
            time_budget_seconds: Some(1),
        });
        let tickets: Vec<Ticket> = (1..=6).map(|n| ticket(format!("ATS-{n}0"), "s".into(), 0)).collect();
        let first =
            run_with(&connection, &mut transport, |ctx| post_tickets::run(ctx, input(tickets.clone()))).unwrap();
        let cursor = first.next_cursor.clone().expect("a cursor when the budget ran out");
        assert!(first.counts.created >= 1 && first.counts.unfinished >= 1, "{:?}", first.counts);
        assert_eq!(first.counts.created + first.counts.unfinished, 6, "{:?}", first.counts);
        let unfinished = first.results.iter().filter(|r| r.outcome == PostOutcome::Failed).count();
        assert_eq!(unfinished as u32, first.counts.unfinished);
        assert!(first.results.iter().any(|r| r.error.as_ref().is_some_and(|e| e.cause.contains("time budget"))));

        looked_up.borrow_mut().clear();
        let mut connection = connection.clone();
        connection.tuning = None;
        let again = PostTicketsInput { cursor: Some(cursor), ..input(tickets.clone()) };
        let second = run_with(&connection, &mut transport, |ctx| post_tickets::run(ctx, again)).unwrap();
        assert_eq!(second.next_cursor, None);
        assert_eq!((second.counts.resumed, second.counts.created), (first.counts.created, first.counts.unfinished));
        assert_eq!(second.results.len() as u32, first.counts.unfinished);
        assert_eq!(
            looked_up.borrow().len() as u32,
            first.counts.unfinished,
            "finished tickets are not looked up again"
        );
        let mut all = created.borrow().clone();
        all.sort();
        all.dedup();
        assert_eq!((all.len(), created.borrow().len()), (6, 6), "each ticket created once: {:?}", created.borrow());

        let wrong =
            PostTicketsInput { cursor: second.next_cursor.or(first.next_cursor), ..input(tickets[..3].to_vec()) };
        let error = run_with(&connection, &mut transport, |ctx| post_tickets::run(ctx, wrong)).unwrap_err();
        assert!(error.cause.contains("another list of tickets"), "{error:?}");
    }

    /// A closed source ticket closes the Halo ticket with a closed-type status and a closure note.
    #[test]
    fn a_closed_source_ticket_closes_the_halo_ticket() {
        let existing = json!([{"id": 77, "status_id": 1, "third_party_id_string": "armor:ATS-1"}]);
        let mut transport = FakeTransport::new(move |request: &Request| halo(request, &existing));
        let mut closed = ticket("ATS-1".into(), "s".into(), 0);
        closed.status = "Closed".into();
        let output =
            run_with(&connection(), &mut transport, |ctx| post_tickets::run(ctx, input(vec![closed]))).unwrap();
        assert_eq!(output.results[0].outcome, PostOutcome::Updated, "{:?}", output.results[0].error);
        let update =
            transport.sent.iter().find(|r| r.method == Method::Post && r.path.starts_with("/Tickets")).unwrap();
        let body: Value = serde_json::from_slice(&update.body).unwrap();
        assert_eq!((body[0]["id"].clone(), body[0]["status_id"].clone()), (json!(77), json!(9)));
        assert!(body[0]["closure_note"].as_str().unwrap().contains("ARMOR ticket ATS-1"), "{body}");
    }

    #[test]
    fn unknown_names_fail_fast_naming_what_there_is() {
        let mut transport = FakeTransport::new(|request: &Request| match request.path.as_str() {
            p if p.starts_with("/Team") => {
                Reply::json(200, &json!([{"id": 3, "name": "SOC"}, {"id": 4, "name": "Service Desk"}]))
            }
            _ => halo(request, &json!([])),
        });
        let mut wrong = input(vec![ticket("ATS-1".into(), "s".into(), 0)]);
        wrong.team = Some("Security".into());
        let error = run_with(&connection(), &mut transport, |ctx| post_tickets::run(ctx, wrong)).unwrap_err();
        assert!(
            error.cause.contains("no team named \"Security\"") && error.cause.contains("SOC, Service Desk"),
            "{error:?}"
        );
        assert!(
            transport.sent.iter().all(|r| !(r.method == Method::Post && r.path.starts_with("/Tickets"))),
            "nothing written"
        );
        assert!(!format!("{error:?}").contains("halo-S3cret"));
    }
}

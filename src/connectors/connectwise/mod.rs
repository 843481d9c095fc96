//! ConnectWise Manage REST v3 (contracts/connectwise.md): a destination of links (company custom
//! fields) and tickets (service tickets on a board, notes).

pub mod companies;
pub mod conditions;
pub mod custom_fields;
pub mod desk;
pub mod models;
pub mod paging;
pub mod tickets;

use crate::actions::Context;
use crate::connectors::{Desk, Destination, LinkWrite, System, TicketWriter};
use crate::error::Error;
use crate::http::{HttpError, Method, Origin, Request, Response};
use crate::lenient;
use crate::matching::CompanyRecord;
use crate::types::Connection;
use base64::Engine as _;
use std::rc::Rc;

pub const SYSTEM: System = System {
    name: "connectwise",
    label: "ConnectWise",
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
    connection.connectwise.is_some()
}

fn secrets(connection: &Connection) -> Vec<String> {
    connection
        .connectwise
        .iter()
        .flat_map(|cw| [cw.api_key.public_key.clone(), cw.api_key.private_key.clone(), cw.client_id.clone()])
        .collect()
}

fn origins(connection: &Connection) -> Result<Vec<Origin>, Error> {
    Ok(vec![(*ConnectWise::from_connection(connection, "the connection")?.origin).clone()])
}

fn check(ctx: &mut Context) -> Result<String, Error> {
    let cw = ConnectWise::from_connection(ctx.connection, "test_connection")?;
    let outcome = ctx.http.send(cw.get("/company/companies?pageSize=1&fields=id"));
    cw.decode::<serde_json::Value>("reading one company", outcome)?;
    Ok("authenticated; companies readable".into())
}

fn open(connection: &Connection) -> Result<Box<dyn Destination>, Error> {
    let cw = ConnectWise::from_connection(connection, "this action")?;
    Ok(Box::new(ConnectWiseDestination {
        companies: companies::Companies::default(),
        tickets: tickets::Tickets::new(cw),
    }))
}

struct ConnectWiseDestination {
    companies: companies::Companies,
    tickets: tickets::Tickets,
}

impl Destination for ConnectWiseDestination {
    fn system(&self) -> &'static System {
        &SYSTEM
    }

    fn companies(
        &mut self,
        ctx: &mut Context,
        source: &'static System,
        include_deleted: bool,
    ) -> Result<Vec<CompanyRecord>, Error> {
        self.companies.read(ctx, &self.tickets.requests.cw, source, include_deleted)
    }

    fn write_links(&mut self, ctx: &mut Context, links: &[LinkWrite], dry_run: bool) -> Vec<Result<bool, Error>> {
        self.companies.write(ctx, &self.tickets.requests.cw, links, dry_run)
    }

    fn tickets(&mut self) -> &mut dyn TicketWriter {
        &mut self.tickets
    }

    fn desk(&mut self) -> Option<&mut dyn Desk> {
        Some(&mut self.tickets)
    }
}

pub const SERVICE: &str = "ConnectWise";
const DEFAULT_CODEBASE: &str = "v4_6_release/";
const ACCEPT: &str = "application/vnd.connectwise.com+json; version=2022.1";

/// Requests and answers of one ConnectWise instance. Credentials ride on every request as
/// headers, so there is no separate auth state.
pub struct ConnectWise {
    pub origin: Rc<Origin>,
    authorization: String,
    client_id: String,
}

impl ConnectWise {
    pub fn from_connection(connection: &Connection, action: &str) -> Result<ConnectWise, Error> {
        let section = connection.connectwise.as_ref().ok_or_else(|| Error::missing_section("connectwise", action))?;
        let codebase = section.codebase.as_deref().map(str::trim).filter(|c| !c.is_empty()).unwrap_or(DEFAULT_CODEBASE);
        let codebase = codebase.trim_matches('/');
        if codebase.is_empty() || !codebase.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
            return Err(Error::invalid(
                "connection.connectwise.codebase",
                format!("{codebase:?} is not a codebase"),
                "Give your instance's codebase, e.g. v4_6_release/ (see https://<site>/login/companyinfo/<company>).",
            ));
        }
        let site = section.site.trim().trim_end_matches('/');
        let origin = Origin::parse(&format!("{site}/{codebase}/apis/3.0")).map_err(|problem| {
            Error::invalid("connection.connectwise.site", problem, "Give the API host, e.g. api-na.myconnectwise.net.")
        })?;
        for (field, value) in [
            ("company_id", &section.company_id),
            ("api_key.public_key", &section.api_key.public_key),
            ("api_key.private_key", &section.api_key.private_key),
            ("client_id", &section.client_id),
        ] {
            if value.trim().is_empty() {
                return Err(Error::invalid(
                    &format!("connection.connectwise.{field}"),
                    "it is empty",
                    "Fill in the ConnectWise API member's keys, your company ID and the integration's client ID.",
                ));
            }
        }
        let credentials =
            format!("{}+{}:{}", section.company_id.trim(), section.api_key.public_key, section.api_key.private_key);
        Ok(ConnectWise {
            origin: Rc::new(origin),
            authorization: format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(credentials)),
            client_id: section.client_id.trim().to_string(),
        })
    }

    pub fn request(&self, method: Method, path: impl Into<String>) -> Request {
        Request::new(method, &self.origin, path)
            .header("authorization", self.authorization.clone())
            .header("clientid", self.client_id.clone())
            .header("accept", ACCEPT)
    }

    pub fn get(&self, path: impl Into<String>) -> Request {
        self.request(Method::Get, path)
    }

    /// The path below our base of a URL the service gave us (a Link header), or `None` when it
    /// points anywhere else: links are never followed to another host.
    pub fn path_of(&self, url: &str) -> Option<String> {
        let base = self.origin.url();
        let rest = url.strip_prefix(&base)?;
        (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')).then(|| rest.to_string())
    }

    /// A 2xx answer decoded as `T`; anything else a clear error about `what`.
    pub fn decode<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        outcome: Result<Response, HttpError>,
    ) -> Result<T, Error> {
        crate::http::decode(SERVICE, what, outcome, |response| self.status_error(what, response))
    }

    pub fn status_error(&self, what: &str, response: &Response) -> Error {
        let message = error_message(response);
        match response.status {
            401 => Error::new(
                "ConnectWise rejected the API keys.",
                "Check connection.connectwise.company_id and api_key (public and private key of an API member).",
                format!("HTTP 401 ({what}): {message}"),
            ),
            400 if message.to_ascii_lowercase().contains("clientid") => Error::new(
                "ConnectWise refused the request for lack of a valid client ID.",
                "Set connection.connectwise.client_id to the integration's client ID (developer.connectwise.com).",
                format!("HTTP 400 ({what}): {message}"),
            ),
            403 => Error::new(
                format!("ConnectWise refused access ({what})."),
                "Give the API member's security role the needed permissions (Companies and Service Desk: inquire, add, edit).",
                format!("HTTP 403: {message}"),
            ),
            _ => Error::status(SERVICE, what, response, &message),
        }
    }
}

/// A query string with every value percent-encoded (conditions carry quotes, spaces, `&`, `%`).
pub fn query(params: &[(&str, &str)]) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    params
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC)))
        .collect::<Vec<_>>()
        .join("&")
}

/// ConnectWise's message and field errors, or the plain text.
pub fn error_message(response: &Response) -> String {
    match lenient::from_json::<models::ErrorBody>(&response.body) {
        Ok(body) if body.message.is_some() || body.code.is_some() => {
            let mut parts: Vec<String> = [body.code, body.message].into_iter().flatten().collect();
            for e in body.errors.unwrap_or_default() {
                let detail: Vec<String> = [e.field, e.code, e.message].into_iter().flatten().collect();
                if !detail.is_empty() {
                    parts.push(detail.join(" "));
                }
            }
            parts.join(" — ")
        }
        _ => response.body_snippet(),
    }
}

//! RSA Archer (contracts/mailbox-archer.md): a destination whose tickets are content records of an
//! application — security incidents — written through the REST API and found again through the
//! SOAP search, by a text field that holds each ticket's key.

pub mod auth;
pub mod incidents;
pub mod models;
pub mod schema;
pub mod search;
pub mod template;
pub mod values;

use crate::actions::Context;
use crate::connectors::{Desk, Destination, LinkWrite, System, TicketWriter};
use crate::desk::given;
use crate::error::Error;
use crate::http::{HttpError, Method, Origin, Request, Response};
use crate::lenient;
use crate::matching::CompanyRecord;
use crate::types::Connection;
use auth::ArcherAuth;
use std::rc::Rc;

pub const SERVICE: &str = "Archer";
const DEFAULT_PREFIX: &str = "platformapi";

pub const SYSTEM: System = System {
    name: "archer",
    label: "Archer",
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
    connection.archer.is_some()
}

fn secrets(connection: &Connection) -> Vec<String> {
    connection.archer.iter().map(|a| a.password.clone()).collect()
}

fn origins(connection: &Connection) -> Result<Vec<Origin>, Error> {
    Ok(vec![(*Archer::from_connection(connection, "the connection")?.api.origin).clone()])
}

fn check(ctx: &mut Context) -> Result<String, Error> {
    let mut archer = Archer::from_connection(ctx.connection, "test_connection")?;
    let applications = schema::applications(ctx, &mut archer)?;
    Ok(format!("logged in; {} applications readable", applications.len()))
}

fn open(connection: &Connection) -> Result<Box<dyn Destination>, Error> {
    Ok(Box::new(Archer::from_connection(connection, "this action")?))
}

/// An Archer connection: `api` builds and reads requests, `auth` signs them.
pub struct Archer {
    pub api: ArcherApi,
    pub auth: ArcherAuth,
    /// Where incidents go and how their fields are filled, once `prepare` has looked it up.
    requests: incidents::Requests,
}

#[derive(Clone)]
pub struct ArcherApi {
    pub origin: Rc<Origin>,
    /// "platformapi" or "api".
    pub prefix: String,
}

impl Archer {
    pub fn from_connection(connection: &Connection, action: &str) -> Result<Archer, Error> {
        let section = connection.archer.as_ref().ok_or_else(|| Error::missing_section("archer", action))?;
        let fix = "Give the Archer web address, e.g. https://archer.example.com/RSAarcher.";
        if section.base_url.trim().is_empty() {
            return Err(Error::invalid("connection.archer.base_url", "it is empty", fix));
        }
        let origin = Rc::new(
            Origin::parse(&section.base_url).map_err(|p| Error::invalid("connection.archer.base_url", p, fix))?,
        );
        let prefix = given(&section.prefix).unwrap_or(DEFAULT_PREFIX).trim_matches('/').to_string();
        for (field, value) in
            [("instance", &section.instance), ("user", &section.user), ("password", &section.password)]
        {
            if value.trim().is_empty() {
                return Err(Error::invalid(
                    &format!("connection.archer.{field}"),
                    "it is empty",
                    "Give the Archer instance name and the API user's name and password.",
                ));
            }
        }
        let auth = ArcherAuth::new(
            origin.clone(),
            prefix.clone(),
            section.instance.trim().to_string(),
            section.user.trim().to_string(),
            given(&section.domain).unwrap_or_default().to_string(),
            section.password.clone(),
        );
        let api = ArcherApi { origin, prefix };
        Ok(Archer { requests: incidents::Requests::new(api.clone()), api, auth })
    }

    /// A GET of `path` (below the prefix), as the wrapped list or object `T`.
    pub fn get<T: serde::de::DeserializeOwned>(
        &mut self,
        ctx: &mut Context,
        path: &str,
        what: &str,
    ) -> Result<T, Error> {
        let outcome = ctx.http.send_with(&mut self.auth, self.api.get(path))?;
        self.api.decode(what, outcome)
    }
}

impl ArcherApi {
    pub fn get(&self, path: &str) -> Request {
        Request::new(Method::Get, &self.origin, format!("/{}{path}", self.prefix)).header("accept", "application/json")
    }

    pub fn send(&self, method: Method, path: &str, body: &serde_json::Value) -> Request {
        Request::new(method, &self.origin, format!("/{}{path}", self.prefix))
            .header("accept", "application/json")
            .json_body(body)
    }

    /// A search request (SOAP, outside the REST prefix); the session goes in when it is signed.
    pub fn search(&self, envelope: String) -> Request {
        let mut request = Request::new(Method::Post, &self.origin, search::PATH)
            .header("content-type", "text/xml; charset=utf-8")
            .header("soapaction", search::ACTION)
            .retry_safe();
        request.body = envelope.into_bytes();
        request
    }

    pub fn decode<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        outcome: Result<Response, HttpError>,
    ) -> Result<T, Error> {
        crate::http::decode(SERVICE, what, outcome, |response| status_error(what, response))
    }

    /// A wrapped answer's object, when Archer says it succeeded (on any 2xx); else what it said.
    pub fn object<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        outcome: Result<Response, HttpError>,
    ) -> Result<T, Error> {
        let answer: models::Wrapped<T> = self.decode(what, outcome)?;
        match answer.requested_object {
            Some(object) if answer.is_successful => Ok(object),
            _ => Err(refused(what, &answer)),
        }
    }
}

/// Archer answered 200 but did not do it.
pub fn refused<T>(what: &str, answer: &models::Wrapped<T>) -> Error {
    Error::new(
        format!("Archer refused {what}: {}", answer.said()),
        "Fix what Archer names (a required field, a value the field does not accept, a value too long) in the \
         input's archer fields, then post again.",
        "",
    )
}

pub fn status_error(what: &str, response: &Response) -> Error {
    let message = error_message(response);
    match response.status {
        401 => Error::new(
            "Archer refused the session even after logging in again.",
            "Check connection.archer (user, domain, password) and that the account may use the API.",
            format!("HTTP 401 ({what}): {message}"),
        ),
        403 => Error::new(
            format!("Archer refused access ({what})."),
            "Give the API user's role read and create access to the application.",
            format!("HTTP 403: {message}"),
        ),
        _ => Error::status(SERVICE, what, response, &message),
    }
}

/// Archer's errors are `{"Message": ...}`, an IIS HTML page, or a wrapped answer.
pub fn error_message(response: &Response) -> String {
    #[derive(serde::Deserialize)]
    struct Plain {
        #[serde(rename = "Message", default, deserialize_with = "lenient::text")]
        message: Option<String>,
    }
    match lenient::from_json::<Plain>(&response.body) {
        Ok(Plain { message: Some(message) }) => message,
        _ => match lenient::from_json::<models::Wrapped<serde_json::Value>>(&response.body) {
            Ok(answer) if !answer.validation_messages.is_empty() => answer.said(),
            _ => response.body_snippet(),
        },
    }
}

impl Destination for Archer {
    fn system(&self) -> &'static System {
        &SYSTEM
    }

    fn companies(&mut self, _: &mut Context, source: &'static System, _: bool) -> Result<Vec<CompanyRecord>, Error> {
        Err(Error::new(
            format!("Archer has no companies to link {} accounts to.", source.label),
            "Leave match_companies out for Archer: post_tickets writes every ticket to the application in input.archer.",
            "",
        ))
    }

    fn has_companies(&self) -> bool {
        false
    }

    fn write_links(&mut self, _: &mut Context, links: &[LinkWrite], _: bool) -> Vec<Result<bool, Error>> {
        links
            .iter()
            .map(|_| Err(Error::new("Archer has no companies to link.", "Leave match_companies out.", "")))
            .collect()
    }

    fn tickets(&mut self) -> &mut dyn TicketWriter {
        self
    }

    fn desk(&mut self) -> Option<&mut dyn Desk> {
        None
    }
}

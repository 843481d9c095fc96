//! Zivver's SCIM API (contracts/zivver-scim.md): the accounts that follow a directory — users, and
//! functional accounts (shared mailboxes) as groups — created and updated, never deleted, paced
//! under Zivver's 50 requests per 10 seconds.

pub mod accounts;
pub mod models;

use crate::actions::Context;
use crate::connectors::{DirectoryAccount, Planned, Provisioning, System};
use crate::desk::given;
use crate::error::Error;
use crate::http::{HttpError, Method, Origin, Request, Response};
use crate::lenient;
use crate::types::Connection;
use std::rc::Rc;

pub const SERVICE: &str = "Zivver";
const DEFAULT_BASE: &str = "https://app.zivver.com/api/scim/v2";
/// Zivver's documented limit: 50 requests per 10 seconds.
const DEFAULT_LIMIT: (u32, u64) = (50, 10_000);

pub const SYSTEM: System = System {
    name: "zivver",
    label: "Zivver",
    configured,
    secrets,
    origins,
    check,
    source: None,
    destination: None,
    directory: None,
    provisioning: Some(open),
    legacy: None,
};

fn configured(connection: &Connection) -> bool {
    connection.zivver.is_some()
}

fn secrets(connection: &Connection) -> Vec<String> {
    connection.zivver.iter().map(|z| z.api_key.clone()).collect()
}

fn origins(connection: &Connection) -> Result<Vec<Origin>, Error> {
    Ok(vec![(*Zivver::from_connection(connection, "the connection")?.origin).clone()])
}

fn check(ctx: &mut Context) -> Result<String, Error> {
    let mut zivver = Zivver::from_connection(ctx.connection, "test_connection")?;
    zivver.pace(ctx);
    let list: models::List<models::User> = zivver.get(ctx, "/Users?startIndex=1&count=1".into(), "reading one user")?;
    Ok(format!("API key accepted; {} users", list.total_results.unwrap_or(0)))
}

fn open(connection: &Connection) -> Result<Box<dyn Provisioning>, Error> {
    Ok(Box::new(Zivver::from_connection(connection, "this action")?))
}

impl Provisioning for Zivver {
    fn system(&self) -> &'static System {
        &SYSTEM
    }

    fn accounts(&mut self, ctx: &mut Context) -> Result<(Vec<DirectoryAccount>, Vec<DirectoryAccount>), Error> {
        self.pace(ctx);
        accounts::read(ctx, self)
    }

    fn apply(&mut self, ctx: &mut Context, planned: &[Planned]) -> Vec<Result<Option<String>, Error>> {
        self.pace(ctx);
        accounts::apply(ctx, self, planned)
    }
}

pub struct Zivver {
    pub origin: Rc<Origin>,
    pub auth: ApiKey,
    rate_limit: (u32, u64),
    /// The users and groups as read, by id (what a read-modify-write starts from).
    pub users: Vec<models::User>,
    pub groups: Vec<models::Group>,
}

/// The API key, as a Bearer token on every request.
pub struct ApiKey(String);

impl crate::http::Auth for ApiKey {
    fn sign(&mut self, request: &mut Request, _: &mut crate::http::Scheduler) -> Result<(), Error> {
        request.set_header("authorization", format!("Bearer {}", self.0));
        Ok(())
    }
}

impl Zivver {
    pub fn from_connection(connection: &Connection, action: &str) -> Result<Zivver, Error> {
        let section = connection.zivver.as_ref().ok_or_else(|| Error::missing_section("zivver", action))?;
        let base = given(&section.base_url).unwrap_or(DEFAULT_BASE);
        let origin = Rc::new(Origin::parse(base).map_err(|problem| {
            Error::invalid("connection.zivver.base_url", problem, format!("Leave it out for {DEFAULT_BASE}."))
        })?);
        if section.api_key.trim().is_empty() {
            return Err(Error::invalid(
                "connection.zivver.api_key",
                "it is empty",
                "Create an API key in Zivver's organisation settings (SCIM / directory sync) and give it here.",
            ));
        }
        let rate_limit = section
            .rate_limit
            .as_ref()
            .map_or(DEFAULT_LIMIT, |l| (l.requests, u64::from(l.window_seconds.max(1)) * 1000));
        Ok(Zivver {
            origin,
            auth: ApiKey(section.api_key.trim().to_string()),
            rate_limit,
            users: Vec::new(),
            groups: Vec::new(),
        })
    }

    /// Every later request paced under Zivver's limit (0 requests: none).
    fn pace(&self, ctx: &mut Context) {
        let (requests, window_ms) = self.rate_limit;
        if requests > 0 {
            ctx.http.limit_to(requests, window_ms);
        }
    }

    pub fn request(&self, method: Method, path: impl Into<String>) -> Request {
        Request::new(method, &self.origin, path.into()).header("accept", "application/scim+json")
    }

    pub fn send(&self, method: Method, path: impl Into<String>, body: &impl serde::Serialize) -> Request {
        let mut request = self.request(method, path).json_body(body);
        request.set_header("content-type", "application/scim+json");
        request
    }

    pub fn get<T: serde::de::DeserializeOwned>(
        &mut self,
        ctx: &mut Context,
        path: String,
        what: &str,
    ) -> Result<T, Error> {
        let request = self.request(Method::Get, path);
        let outcome = ctx.http.send_with(&mut self.auth, request)?;
        decode(what, outcome)
    }
}

pub fn decode<T: serde::de::DeserializeOwned>(what: &str, outcome: Result<Response, HttpError>) -> Result<T, Error> {
    crate::http::decode(SERVICE, what, outcome, |response| status_error(what, response))
}

pub fn status_error(what: &str, response: &Response) -> Error {
    let message = error_message(response);
    match response.status {
        401 | 403 => Error::new(
            "Zivver refused the API key.",
            "Check connection.zivver.api_key (an organisation API key for SCIM) and base_url.",
            format!("HTTP {} ({what}): {message}", response.status),
        ),
        _ => Error::status(SERVICE, what, response, &message),
    }
}

pub fn error_message(response: &Response) -> String {
    match lenient::from_json::<models::ErrorBody>(&response.body) {
        Ok(models::ErrorBody { detail: Some(text), .. } | models::ErrorBody { message: Some(text), .. }) => text,
        _ => response.body_snippet(),
    }
}

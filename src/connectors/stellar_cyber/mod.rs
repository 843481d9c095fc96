//! Stellar Cyber (contracts/stellar-cyber.md): a source of tenants and cases that takes changes
//! back — statuses, severities, comments — from the PSA its cases went to.

pub mod auth;
pub mod cases;
pub mod feedback;
pub mod mapping;
pub mod models;

use crate::actions::Context;
use crate::connectors::{Feedback, Source, System};
use crate::error::Error;
use crate::http::{HttpError, Method, Origin, Request, Response};
use crate::lenient;
use crate::types::{Account, Connection, GetAccountsInput, GetTicketsInput, GetTicketsOutput, Ticket};
use auth::StellarAuth;
use std::collections::HashMap;
use std::rc::Rc;

pub const SERVICE: &str = "Stellar Cyber";
/// Cases are listed by `modified_at` (ms); the next read starts 5 s before the last one read.
pub type Checkpoint = crate::sync::watermark::Watermark<5_000>;
const BASE_PATH: &str = "/connect/api/v1";
const DEFAULT_CASE_TAG: &str = "ticket_opened";

pub const SYSTEM: System = System {
    name: "stellar_cyber",
    label: "Stellar Cyber",
    configured,
    secrets,
    origins,
    check,
    source: Some(open),
    destination: None,
    directory: None,
    provisioning: None,
    legacy: None,
};

fn configured(connection: &Connection) -> bool {
    connection.stellar_cyber.is_some()
}

/// The user is masked too: it is half of a legacy token.
fn secrets(connection: &Connection) -> Vec<String> {
    connection.stellar_cyber.iter().flat_map(|s| s.user.iter().cloned().chain([s.api_key.clone()])).collect()
}

fn origins(connection: &Connection) -> Result<Vec<Origin>, Error> {
    Ok(vec![(*StellarCyber::from_connection(connection, "the connection")?.api.origin).clone()])
}

fn check(ctx: &mut Context) -> Result<String, Error> {
    let mut stellar = StellarCyber::from_connection(ctx.connection, "test_connection")?;
    let tenants = stellar.tenants(ctx)?;
    let mode = if stellar.auth.user.is_some() { "a legacy API token (user and key)" } else { "a scoped API key" };
    Ok(format!("authenticated with {mode}; {} tenants readable", tenants.len()))
}

fn open(connection: &Connection) -> Result<Box<dyn Source>, Error> {
    Ok(Box::new(StellarCyber::from_connection(connection, "this action")?))
}

impl Source for StellarCyber {
    fn system(&self) -> &'static System {
        &SYSTEM
    }

    fn accounts(&mut self, ctx: &mut Context, input: &GetAccountsInput) -> Result<Vec<Account>, Error> {
        cases::accounts(ctx, self, input)
    }

    fn tickets(&mut self, ctx: &mut Context, input: &GetTicketsInput) -> Result<GetTicketsOutput, Error> {
        cases::read(ctx, self, input)
    }

    fn posted(&mut self, ctx: &mut Context, tickets: &[&Ticket]) {
        feedback::tag_posted(ctx, self, tickets);
    }

    fn feedback(&mut self) -> Option<&mut dyn Feedback> {
        Some(self)
    }
}

/// A Stellar Cyber connection: `api` builds and reads requests, `auth` signs them.
pub struct StellarCyber {
    pub api: StellarApi,
    pub auth: StellarAuth,
    /// The connection's tenant, when it names one.
    pub tenant: Option<String>,
    /// The tag posted cases get (`None`: none).
    pub case_tag: Option<String>,
    /// Who the sync writes as: given, or looked up once from the user.
    sync_user: SyncUser,
    /// The users, read once.
    users: Option<Vec<models::User>>,
}

enum SyncUser {
    Known(String),
    Unknown,
    NotLookedUp,
}

pub struct StellarApi {
    pub origin: Rc<Origin>,
}

impl StellarCyber {
    pub fn from_connection(connection: &Connection, action: &str) -> Result<StellarCyber, Error> {
        let section =
            connection.stellar_cyber.as_ref().ok_or_else(|| Error::missing_section("stellar_cyber", action))?;
        let host = section.host.trim().trim_end_matches('/');
        let fix = "Give the Data Processor's host, e.g. acme.stellarcyber.cloud (https is implied).";
        if host.is_empty() {
            return Err(Error::invalid("connection.stellar_cyber.host", "it is empty", fix));
        }
        let url = if host.contains("://") { host.to_string() } else { format!("https://{host}") };
        let origin = Rc::new(
            Origin::parse(&url).map_err(|problem| Error::invalid("connection.stellar_cyber.host", problem, fix))?,
        );
        if section.api_key.trim().is_empty() {
            return Err(Error::invalid(
                "connection.stellar_cyber.api_key",
                "it is empty",
                "Give an API key (with `user` for a legacy token, alone for a scoped key).",
            ));
        }
        let user = crate::desk::given(&section.user).map(str::to_string);
        let sync_user = match crate::desk::given(&section.sync_user_id) {
            Some(id) => SyncUser::Known(id.to_string()),
            None if user.is_some() => SyncUser::NotLookedUp,
            None => SyncUser::Unknown,
        };
        let case_tag = match &section.case_tag {
            None => Some(DEFAULT_CASE_TAG.to_string()),
            Some(tag) => Some(tag.trim().to_string()).filter(|t| !t.is_empty()),
        };
        Ok(StellarCyber {
            auth: StellarAuth::new(origin.clone(), user, section.api_key.trim().to_string()),
            api: StellarApi { origin },
            tenant: crate::desk::given(&section.tenant).map(str::to_string),
            case_tag,
            sync_user,
            users: None,
        })
    }

    /// A GET of `path`, decoded as `T`.
    pub fn get<T: serde::de::DeserializeOwned>(
        &mut self,
        ctx: &mut Context,
        path: String,
        what: &str,
    ) -> Result<T, Error> {
        let outcome = ctx.http.send_with(&mut self.auth, self.api.get(path))?;
        self.api.decode(what, outcome)
    }

    pub fn tenants(&mut self, ctx: &mut Context) -> Result<Vec<models::Tenant>, Error> {
        let list: models::Data<Vec<models::Tenant>> = self.get(ctx, "/tenants".into(), "listing the tenants")?;
        Ok(list.data.unwrap_or_default())
    }

    /// Every user (read once per run).
    pub fn users(&mut self, ctx: &mut Context) -> Result<&[models::User], Error> {
        if self.users.is_none() {
            let users: models::Data<Vec<models::User>> = self.get(ctx, "/users".into(), "listing the users")?;
            self.users = Some(users.data.unwrap_or_default());
        }
        Ok(self.users.as_deref().unwrap_or_default())
    }

    /// User id -> e-mail (or name), to name authors.
    pub fn user_names(&mut self, ctx: &mut Context) -> Result<HashMap<String, String>, Error> {
        Ok(self
            .users(ctx)?
            .iter()
            .filter_map(|u| Some((u.user_id.clone(), u.email.clone().or_else(|| u.user_name.clone())?)))
            .collect())
    }

    /// The user id the sync writes as: given, or the user's among the users.
    pub fn sync_user(&mut self, ctx: &mut Context) -> Result<Option<String>, Error> {
        if let SyncUser::NotLookedUp = self.sync_user {
            let me = self.auth.user.clone().unwrap_or_default();
            let found = self
                .users(ctx)?
                .iter()
                .find(|u| [&u.email, &u.user_name].into_iter().flatten().any(|name| name.eq_ignore_ascii_case(&me)));
            self.sync_user = match found {
                Some(user) => SyncUser::Known(user.user_id.clone()),
                None => {
                    crate::log::info(format!(
                        "{SERVICE}: the API user is not among the users; the sync's own changes are read back \
                         (harmlessly): set connection.stellar_cyber.sync_user_id to skip them"
                    ));
                    SyncUser::Unknown
                }
            };
        }
        Ok(match &self.sync_user {
            SyncUser::Known(id) => Some(id.clone()),
            _ => None,
        })
    }
}

impl StellarApi {
    pub fn get(&self, path: impl Into<String>) -> Request {
        Request::new(Method::Get, &self.origin, format!("{BASE_PATH}{}", path.into()))
            .header("accept", "application/json")
    }

    pub fn send(&self, method: Method, path: impl Into<String>, body: &serde_json::Value) -> Request {
        Request::new(method, &self.origin, format!("{BASE_PATH}{}", path.into()))
            .header("accept", "application/json")
            .json_body(body)
    }

    /// `/cases/{id}/comments`: every segment encoded.
    pub fn path(segments: &[&str]) -> String {
        segments.iter().map(|s| format!("/{}", encode(s))).collect()
    }

    /// A 2xx answer decoded as `T`; anything else a clear error about `what`.
    pub fn decode<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        outcome: Result<Response, HttpError>,
    ) -> Result<T, Error> {
        crate::http::decode(SERVICE, what, outcome, |response| status_error(what, response))
    }
}

pub use crate::http::encode;

pub fn status_error(what: &str, response: &Response) -> Error {
    let message = error_message(response);
    match response.status {
        401 => Error::new(
            "Stellar Cyber rejected the access token even after requesting a new one.",
            "Check connection.stellar_cyber (user and API key, or a scoped key) and that the user may use the API.",
            format!("HTTP 401 ({what}): {message}"),
        ),
        403 => Error::new(
            format!("Stellar Cyber refused access ({what})."),
            "Give the API user's role the case permissions (read and edit) for the tenants it syncs.",
            format!("HTTP 403: {message}"),
        ),
        404 => Error::new(
            format!("Stellar Cyber has no such object ({what})."),
            "Check the case id; the case may have been deleted.",
            format!("HTTP 404: {message}"),
        ),
        _ => Error::status(SERVICE, what, response, &message),
    }
}

/// Stellar Cyber's errors are `{"error": "..."}` or plain text.
pub fn error_message(response: &Response) -> String {
    match lenient::from_json::<models::ErrorBody>(&response.body) {
        Ok(models::ErrorBody { error: Some(error) }) => error,
        _ => response.body_snippet(),
    }
}

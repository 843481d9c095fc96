//! ARMOR (contracts/armor.md): a source of accounts and tickets. The client builds requests,
//! decodes answers and explains errors; `accounts` and `tickets` read them.

pub mod accounts;
pub mod auth;
pub mod cursor;
pub mod mapping;
pub mod models;
pub mod tickets;

use crate::actions::Context;
use crate::connectors::{LegacyKeys, Source, System};
use crate::error::Error;
use crate::http::{HttpError, Method, Origin, Request, Response};
use crate::lenient;
use crate::types::{Account, Connection, GetAccountsInput, GetTicketsInput, GetTicketsOutput};
use auth::{ApiKeyAuth, ArmorAuth, PasswordAuth};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::rc::Rc;

pub const SERVICE: &str = "ARMOR";
const DEFAULT_BASE_URL: &str = "https://api.armor.com";
/// Everything but unreserved characters is encoded in a path segment, so keys like `../x?y#z`
/// stay one segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

pub const SYSTEM: System = System {
    name: "armor",
    label: "ARMOR",
    configured,
    secrets,
    origins,
    check,
    source: Some(open),
    destination: None,
    directory: None,
    provisioning: None,
    // 0.1 posted ARMOR tickets under their bare keys, notes marked `[ARMOR comment N]`.
    legacy: Some(LegacyKeys { note_label: "ARMOR" }),
};

fn configured(connection: &Connection) -> bool {
    connection.armor.is_some()
}

/// Usernames and key ids are masked too: they are half of a credential.
fn secrets(connection: &Connection) -> Vec<String> {
    let mut secrets = Vec::new();
    if let Some(armor) = &connection.armor {
        if let Some(login) = &armor.login {
            secrets.extend([login.username.clone(), login.password.clone()]);
        }
        if let Some(key) = &armor.api_key {
            secrets.extend([key.key_id.clone(), key.secret_key.clone()]);
        }
    }
    secrets
}

fn origins(connection: &Connection) -> Result<Vec<Origin>, Error> {
    Ok(vec![(*Armor::from_connection(connection, "the connection")?.api.origin).clone()])
}

fn check(ctx: &mut Context) -> Result<String, Error> {
    let mut armor = Armor::from_connection(ctx.connection, "test_connection")?;
    let account = armor.api.account_id;
    let request = armor.api.get(ArmorApi::path(&["accounts", &account.to_string()]), account);
    let outcome = ctx.http.send_with(&mut armor.auth, request)?;
    armor.api.decode::<serde_json::Value>("reading the connection's own account", outcome)?;
    let mode = if armor.api.api_key { "API key" } else { "username and password" };
    Ok(format!("authenticated with {mode}; account {account} readable"))
}

fn open(connection: &Connection) -> Result<Box<dyn Source>, Error> {
    Ok(Box::new(Armor::from_connection(connection, "this action")?))
}

impl Source for Armor {
    fn system(&self) -> &'static System {
        &SYSTEM
    }

    fn accounts(&mut self, ctx: &mut Context, input: &GetAccountsInput) -> Result<Vec<Account>, Error> {
        accounts::read(ctx, self, input)
    }

    fn tickets(&mut self, ctx: &mut Context, input: &GetTicketsInput) -> Result<GetTicketsOutput, Error> {
        tickets::read(ctx, self, input)
    }
}

/// An ARMOR account id given as text (ARMOR's ids are numbers).
pub fn account_id(text: &str, field: &str) -> Result<u64, Error> {
    text.trim().parse().map_err(|_| {
        Error::invalid(
            field,
            format!("{text:?} is not an ARMOR account id"),
            "Give an account id as get_accounts lists it, e.g. \"7001\".",
        )
    })
}

/// Several account ids, each checked.
pub fn account_ids(texts: &[String], field: &str) -> Result<Vec<u64>, Error> {
    texts.iter().enumerate().map(|(i, t)| account_id(t, &format!("{field}[{i}]"))).collect()
}

/// An ARMOR connection: `api` builds and reads requests, `auth` signs them. Kept apart so a
/// run can sign with `auth` while its callback decodes with `api`.
pub struct Armor {
    pub api: ArmorApi,
    pub auth: ArmorAuth,
}

pub struct ArmorApi {
    pub origin: Rc<Origin>,
    /// The MSP's own account (X-Account-Context unless a call says otherwise).
    pub account_id: u64,
    /// Whether requests are signed with an API key (errors explain 401s differently).
    pub api_key: bool,
}

impl Armor {
    pub fn from_connection(connection: &Connection, action: &str) -> Result<Armor, Error> {
        let section = connection.armor.as_ref().ok_or_else(|| Error::missing_section("armor", action))?;
        let url = section.base_url.as_deref().filter(|u| !u.trim().is_empty()).unwrap_or(DEFAULT_BASE_URL);
        let origin = Rc::new(Origin::parse(url).map_err(|problem| {
            Error::invalid("connection.armor.base_url", problem, "Give ARMOR's API URL, e.g. https://api.armor.com.")
        })?);
        let auth = match (&section.api_key, &section.login) {
            (Some(key), _) if !key.key_id.is_empty() && !key.secret_key.is_empty() => {
                ArmorAuth::ApiKey(ApiKeyAuth { key_id: key.key_id.clone(), secret: key.secret_key.clone() })
            }
            (_, Some(login)) if !login.username.is_empty() && !login.password.is_empty() => {
                ArmorAuth::Password(PasswordAuth::new(origin.clone(), login.username.clone(), login.password.clone()))
            }
            _ => {
                return Err(Error::new(
                    "The ARMOR connection has no usable credentials.",
                    "Set connection.armor.api_key (key_id and secret_key; preferred) or connection.armor.login (username and password).",
                    "",
                ));
            }
        };
        let api = ArmorApi { origin, account_id: section.account_id, api_key: matches!(auth, ArmorAuth::ApiKey(_)) };
        Ok(Armor { api, auth })
    }

    /// Every account visible in the name of `context` (the account and all below it).
    pub fn accounts(&mut self, http: &mut crate::http::Scheduler, context: u64) -> Result<Vec<models::Account>, Error> {
        let request = self.api.get("/accounts", context);
        let outcome = http.send_with(&mut self.auth, request)?;
        self.api.decode("listing accounts", outcome)
    }
}

impl ArmorApi {
    /// A GET in the name of `account` (X-Account-Context).
    pub fn get(&self, path: impl Into<String>, account: u64) -> Request {
        Request::new(Method::Get, &self.origin, path)
            .header("accept", "application/json")
            .header("x-account-context", account.to_string())
    }

    /// `/accounts/{id}`, `/tickets/{key}/details`: every segment encoded.
    pub fn path(segments: &[&str]) -> String {
        segments.iter().map(|s| format!("/{}", utf8_percent_encode(s, SEGMENT))).collect()
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
        match (response.status, self.api_key) {
            (401, true) => Error::new(
                "ARMOR rejected the API key signature.",
                "Check connection.armor.api_key (key ID and secret) and that this machine's clock is correct (within 5 minutes).",
                format!("HTTP 401 ({what}): {message}"),
            ),
            (401, false) => Error::new(
                "ARMOR rejected the login token even after logging in again.",
                "Check connection.armor.login, and that the user may use the API.",
                format!("HTTP 401 ({what}): {message}"),
            ),
            (403, _) => Error::new(
                format!("ARMOR refused access ({what}): the account is unknown or not visible to these credentials."),
                "Check connection.armor.account_id (your MSP's ARMOR account ID) and any account IDs in the input.",
                format!("HTTP 403: {message}"),
            ),
            _ => Error::status(SERVICE, what, response, &message),
        }
    }
}

/// ARMOR's message and reference id from any of its error body shapes, or the plain text.
pub fn error_message(response: &Response) -> String {
    match lenient::from_json::<models::ErrorBody>(&response.body) {
        Ok(body) if body.message.is_some() || body.detail.is_some() => {
            let mut parts: Vec<String> = [body.error_code, body.message, body.detail].into_iter().flatten().collect();
            if let Some(reference) = body.reference_id {
                parts.push(format!("reference {reference}"));
            }
            parts.join(" — ")
        }
        _ => response.body_snippet(),
    }
}

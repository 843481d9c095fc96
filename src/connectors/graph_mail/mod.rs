//! A Microsoft 365 mailbox through Microsoft Graph (contracts/mailbox-archer.md): a source whose
//! tickets are the messages of one folder — suspicious e-mails people report — read incrementally
//! by received time, and optionally filed or tagged once their incident exists.

pub mod auth;
pub mod mapping;
pub mod messages;
pub mod models;

use crate::actions::Context;
use crate::connectors::{Source, System};
use crate::desk::given;
use crate::error::Error;
use crate::http::{HttpError, Method, Origin, Request, Response};
use crate::lenient;
use crate::types::{Account, Connection, GetAccountsInput, GetTicketsInput, GetTicketsOutput, Ticket};
use auth::GraphAuth;
use std::rc::Rc;

pub const SERVICE: &str = "Microsoft Graph";
pub const DEFAULT_LOGIN: &str = "https://login.microsoftonline.com";
pub const DEFAULT_GRAPH: &str = "https://graph.microsoft.com";
const DEFAULT_FOLDER: &str = "inbox";
/// Graph allows 4 concurrent requests per mailbox; a fifth is answered 429.
pub const MAX_CONCURRENT: usize = 4;

pub const SYSTEM: System = System {
    name: "graph_mail",
    label: "Microsoft 365 mailbox",
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
    connection.graph_mail.is_some()
}

fn secrets(connection: &Connection) -> Vec<String> {
    connection.graph_mail.iter().map(|g| g.client_secret.clone()).collect()
}

fn origins(connection: &Connection) -> Result<Vec<Origin>, Error> {
    let mail = GraphMail::from_connection(connection, "the connection")?;
    Ok(vec![(*mail.login).clone(), (*mail.api.origin).clone()])
}

fn check(ctx: &mut Context) -> Result<String, Error> {
    let mut mail = GraphMail::from_connection(ctx.connection, "test_connection")?;
    messages::folder_id(ctx, &mut mail)?;
    Ok(format!("authenticated with client credentials; folder {:?} of {} readable", mail.folder, mail.api.mailbox))
}

fn open(connection: &Connection) -> Result<Box<dyn Source>, Error> {
    Ok(Box::new(GraphMail::from_connection(connection, "this action")?))
}

impl Source for GraphMail {
    fn system(&self) -> &'static System {
        &SYSTEM
    }

    fn accounts(&mut self, _: &mut Context, input: &GetAccountsInput) -> Result<Vec<Account>, Error> {
        Ok(messages::accounts(self, input))
    }

    fn tickets(&mut self, ctx: &mut Context, input: &GetTicketsInput) -> Result<GetTicketsOutput, Error> {
        messages::read(ctx, self, input)
    }

    fn posted(&mut self, ctx: &mut Context, tickets: &[&Ticket]) {
        messages::file_posted(ctx, self, tickets);
    }
}

/// A mailbox connection: `api` builds and reads requests, `auth` signs them.
pub struct GraphMail {
    pub api: GraphApi,
    pub auth: GraphAuth,
    login: Rc<Origin>,
    /// The folder read, as the connection names it.
    pub folder: String,
    pub processed_folder: Option<String>,
    pub processed_category: Option<String>,
    /// The folder's id, looked up once.
    folder_id: Option<String>,
}

pub struct GraphApi {
    pub origin: Rc<Origin>,
    /// The mailbox's address, lowercased (Graph compares it case-insensitively).
    pub mailbox: String,
}

/// A Graph or login origin from the connection, or the public cloud's.
pub fn origin(field: &str, value: Option<&str>, default: &str) -> Result<Rc<Origin>, Error> {
    Origin::parse(value.unwrap_or(default)).map(Rc::new).map_err(|problem| {
        Error::invalid(field, problem, format!("Leave it out for {default}, or give an https:// URL."))
    })
}

impl GraphMail {
    pub fn from_connection(connection: &Connection, action: &str) -> Result<GraphMail, Error> {
        let section = connection.graph_mail.as_ref().ok_or_else(|| Error::missing_section("graph_mail", action))?;
        let required = |field: &str, value: &str, fix: &str| -> Result<String, Error> {
            let value = value.trim();
            if value.is_empty() {
                return Err(Error::invalid(&format!("connection.graph_mail.{field}"), "it is empty", fix));
            }
            Ok(value.to_string())
        };
        let registration = "Copy it from the app registration's Overview page in the Microsoft Entra admin center.";
        let tenant = required("tenant", &section.tenant, registration)?;
        let client_id = required("client_id", &section.client_id, registration)?;
        let client_secret = required(
            "client_secret",
            &section.client_secret,
            "Create a client secret under Certificates & secrets and give its value.",
        )?;
        let mailbox = required("mailbox", &section.mailbox, "Give the mailbox's address, e.g. phishing@contoso.com.")?;
        if !mailbox.contains('@') {
            return Err(Error::invalid(
                "connection.graph_mail.mailbox",
                format!("{mailbox:?} is not an e-mail address"),
                "Give the mailbox's address, e.g. phishing@contoso.com.",
            ));
        }
        let login = origin("connection.graph_mail.login_url", given(&section.login_url), DEFAULT_LOGIN)?;
        let graph = origin("connection.graph_mail.graph_url", given(&section.graph_url), DEFAULT_GRAPH)?;
        Ok(GraphMail {
            auth: GraphAuth::new(login.clone(), tenant, client_id, client_secret),
            api: GraphApi { origin: graph, mailbox: mailbox.to_lowercase() },
            login,
            folder: given(&section.folder).unwrap_or(DEFAULT_FOLDER).to_string(),
            processed_folder: given(&section.processed_folder).map(str::to_string),
            processed_category: given(&section.processed_category).map(str::to_string),
            folder_id: None,
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
}

impl GraphApi {
    /// `/v1.0/users/{mailbox}{rest}`.
    pub fn mailbox_path(&self, rest: &str) -> String {
        format!("/v1.0/users/{}{rest}", encode(&self.mailbox))
    }

    pub fn get(&self, path: impl Into<String>) -> Request {
        // Text bodies, and ids that stay the same when a message moves.
        Request::new(Method::Get, &self.origin, path.into())
            .header("accept", "application/json")
            .header("prefer", "outlook.body-content-type=\"text\", IdType=\"ImmutableId\"")
    }

    pub fn send(&self, method: Method, path: impl Into<String>, body: &serde_json::Value) -> Request {
        Request::new(method, &self.origin, path.into())
            .header("accept", "application/json")
            .header("prefer", "IdType=\"ImmutableId\"")
            .json_body(body)
    }

    /// The request an `@odata.nextLink` names.
    pub fn next(&self, link: &str) -> Result<Request, Error> {
        next_link_path(&self.origin, link, "connection.graph_mail.graph_url").map(|path| self.get(path))
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

/// The path of an `@odata.nextLink`, followed as given but only on Graph's own origin and never
/// with characters that would change what the request means.
pub fn next_link_path(origin: &Origin, link: &str, field: &str) -> Result<String, Error> {
    let base = origin.url();
    let plain = |rest: &&str| rest.starts_with('/') && !rest.contains(['#', ' ', '"', '\\']) && !rest.contains("/../");
    match link.strip_prefix(base.as_str()).filter(plain) {
        Some(rest) => Ok(rest.to_string()),
        None => Err(Error::new(
            "Microsoft Graph's link to the next page points away from Graph.",
            format!("Check {field}: it must be the host Graph answers from."),
            format!("link {link:?}, Graph at {base}"),
        )),
    }
}

pub use crate::http::encode;

pub fn status_error(what: &str, response: &Response) -> Error {
    let message = error_message(response);
    match response.status {
        401 => Error::new(
            "Microsoft Graph rejected the access token even after requesting a new one.",
            "Check that the app registration's secret is valid and the app has Mail.Read (application) with admin \
             consent.",
            format!("HTTP 401 ({what}): {message}"),
        ),
        403 => Error::new(
            format!("Microsoft Graph refused access ({what})."),
            "Grant the app the application permission Mail.Read (Mail.ReadWrite to file or tag messages) with admin \
             consent; an application access policy may also limit the mailboxes it reaches.",
            format!("HTTP 403: {message}"),
        ),
        404 => Error::new(
            format!("Microsoft Graph has no such mailbox, folder or message ({what})."),
            "Check connection.graph_mail.mailbox and folder.",
            format!("HTTP 404: {message}"),
        ),
        _ => Error::status(SERVICE, what, response, &message),
    }
}

pub fn error_message(response: &Response) -> String {
    lenient::from_json::<models::ErrorBody>(&response.body)
        .ok()
        .and_then(|e| e.describe())
        .unwrap_or_else(|| response.body_snippet())
}

//! Exchange Online's directory through Microsoft Graph (contracts/zivver-scim.md): the source of
//! truth of a directory sync — user and shared mailboxes with their names, aliases and delegates.
//! It shares the mailbox connector's Graph client (client credentials, answers, errors).

pub mod mailboxes;
pub mod models;

use crate::actions::Context;
use crate::connectors::graph_mail::auth::GraphAuth;
use crate::connectors::graph_mail::{DEFAULT_GRAPH, DEFAULT_LOGIN, encode, error_message, next_link_path, origin};
use crate::connectors::{Directory, Mailbox, System};
use crate::desk::given;
use crate::error::Error;
use crate::http::{HttpError, Method, Origin, Request, Response};
use crate::types::Connection;
use std::rc::Rc;

pub const SERVICE: &str = "Microsoft Graph";

pub const SYSTEM: System = System {
    name: "graph_directory",
    label: "Exchange Online",
    configured,
    secrets,
    origins,
    check,
    source: None,
    destination: None,
    directory: Some(open),
    provisioning: None,
    legacy: None,
};

fn configured(connection: &Connection) -> bool {
    connection.graph_directory.is_some()
}

fn secrets(connection: &Connection) -> Vec<String> {
    connection.graph_directory.iter().map(|g| g.client_secret.clone()).collect()
}

fn origins(connection: &Connection) -> Result<Vec<Origin>, Error> {
    let graph = GraphDirectory::from_connection(connection, "the connection")?;
    Ok(vec![(*graph.login).clone(), (*graph.origin).clone()])
}

fn check(ctx: &mut Context) -> Result<String, Error> {
    let mut graph = GraphDirectory::from_connection(ctx.connection, "test_connection")?;
    let page: models::Page<models::User> =
        graph.get(ctx, "/v1.0/users?$select=id&$top=1".into(), "reading one user")?;
    Ok(format!("authenticated with client credentials; users readable ({} on the first page)", page.value.len()))
}

fn open(connection: &Connection) -> Result<Box<dyn Directory>, Error> {
    Ok(Box::new(GraphDirectory::from_connection(connection, "this action")?))
}

impl Directory for GraphDirectory {
    fn system(&self) -> &'static System {
        &SYSTEM
    }

    fn mailboxes(&mut self, ctx: &mut Context, group: Option<&str>) -> Result<Vec<Mailbox>, Error> {
        mailboxes::read(ctx, self, group)
    }
}

pub struct GraphDirectory {
    pub origin: Rc<Origin>,
    pub auth: GraphAuth,
    login: Rc<Origin>,
}

impl GraphDirectory {
    pub fn from_connection(connection: &Connection, action: &str) -> Result<GraphDirectory, Error> {
        let section =
            connection.graph_directory.as_ref().ok_or_else(|| Error::missing_section("graph_directory", action))?;
        let registration = "Copy it from the app registration in the Microsoft Entra admin center.";
        for (field, value) in
            [("tenant", &section.tenant), ("client_id", &section.client_id), ("client_secret", &section.client_secret)]
        {
            if value.trim().is_empty() {
                return Err(Error::invalid(
                    &format!("connection.graph_directory.{field}"),
                    "it is empty",
                    registration,
                ));
            }
        }
        let login = origin("connection.graph_directory.login_url", given(&section.login_url), DEFAULT_LOGIN)?;
        let graph = origin("connection.graph_directory.graph_url", given(&section.graph_url), DEFAULT_GRAPH)?;
        Ok(GraphDirectory {
            auth: GraphAuth::new(
                login.clone(),
                section.tenant.trim().to_string(),
                section.client_id.trim().to_string(),
                section.client_secret.trim().to_string(),
            ),
            origin: graph,
            login,
        })
    }

    pub fn request(&self, path: impl Into<String>) -> Request {
        Request::new(Method::Get, &self.origin, path.into()).header("accept", "application/json")
    }

    pub fn get<T: serde::de::DeserializeOwned>(
        &mut self,
        ctx: &mut Context,
        path: String,
        what: &str,
    ) -> Result<T, Error> {
        let request = self.request(path);
        let outcome = ctx.http.send_with(&mut self.auth, request)?;
        decode(what, outcome)
    }

    /// The request an `@odata.nextLink` names.
    pub fn next(&self, link: &str) -> Result<Request, Error> {
        next_link_path(&self.origin, link, "connection.graph_directory.graph_url").map(|path| self.request(path))
    }

    pub fn user_path(id: &str, rest: &str) -> String {
        format!("/v1.0/users/{}{rest}", encode(id))
    }
}

pub fn decode<T: serde::de::DeserializeOwned>(what: &str, outcome: Result<Response, HttpError>) -> Result<T, Error> {
    crate::http::decode(SERVICE, what, outcome, |response| status_error(what, response))
}

pub fn status_error(what: &str, response: &Response) -> Error {
    let message = error_message(response);
    match response.status {
        401 | 403 => Error::new(
            format!("Microsoft Graph refused the app's access ({what})."),
            "Grant the app registration the application permissions User.Read.All and MailboxSettings.Read (and \
             GroupMember.Read.All for input.group) with admin consent.",
            format!("HTTP {}: {message}", response.status),
        ),
        _ => Error::status(SERVICE, what, response, &message),
    }
}

//! Archer's REST session: `POST {prefix}/core/security/login` with instance, user, domain and
//! password answers a session token, sent as `Authorization: Archer session-id="<token>"` (and in
//! the body of SOAP searches). Logged in once per run; a session that expired (401, or the SOAP
//! fault "Invalid session token") is renewed once for everyone.

use super::{SERVICE, models};
use crate::error::Error;
use crate::http::{Auth, Method, Origin, Request, Response, Scheduler};
use crate::lenient;
use serde_json::json;
use std::rc::Rc;

/// The element of a SOAP body that `sign` fills in.
pub const SESSION_ELEMENT: &str = "<sessionToken></sessionToken>";

pub struct ArcherAuth {
    origin: Rc<Origin>,
    prefix: String,
    instance: String,
    user: String,
    domain: String,
    password: String,
    session: Option<String>,
    generation: u64,
}

impl ArcherAuth {
    pub fn new(
        origin: Rc<Origin>,
        prefix: String,
        instance: String,
        user: String,
        domain: String,
        password: String,
    ) -> Self {
        ArcherAuth { origin, prefix, instance, user, domain, password, session: None, generation: 0 }
    }

    fn log_in(&mut self, http: &mut Scheduler) -> Result<(), Error> {
        let body = json!({"InstanceName": self.instance, "Username": self.user, "UserDomain": self.domain,
                          "Password": self.password});
        let request = Request::new(Method::Post, &self.origin, format!("/{}/core/security/login", self.prefix))
            .header("accept", "application/json")
            .json_body(&body)
            .retry_safe();
        let response = http.send(request).map_err(|e| Error::unreachable(SERVICE, &e))?;
        if response.status == 404 {
            return Err(Error::new(
                format!("Archer has no REST API at /{} on this host.", self.prefix),
                "Check connection.archer.base_url, and set prefix to \"api\" for Archer before 6.5 (\"platformapi\" \
                 after).",
                format!("HTTP 404: {}", response.body_snippet()),
            ));
        }
        if !response.is_success() {
            return Err(Error::status(SERVICE, "logging in", &response, &response.body_snippet()));
        }
        let answer = lenient::from_json::<models::Wrapped<models::Session>>(&response.body)
            .map_err(|e| Error::malformed(SERVICE, "the login", e))?;
        let token = answer.requested_object.as_ref().and_then(|s| s.session_token.clone());
        match token {
            Some(token) if answer.is_successful => {
                self.session = Some(token);
                self.generation += 1;
                Ok(())
            }
            _ => Err(Error::new(
                "Archer refused the login.",
                "Check connection.archer.instance, user, domain (none for an Archer-local user) and password, and \
                 that the account is active and may use the API.",
                answer.said(),
            )),
        }
    }
}

impl Auth for ArcherAuth {
    fn sign(&mut self, request: &mut Request, http: &mut Scheduler) -> Result<(), Error> {
        if self.session.is_none() {
            self.log_in(http)?;
        }
        let token = self.session.clone().unwrap_or_default();
        request.set_header("authorization", format!("Archer session-id=\"{token}\""));
        let body = String::from_utf8_lossy(&request.body);
        if body.contains(SESSION_ELEMENT) {
            let signed =
                body.replace(SESSION_ELEMENT, &format!("<sessionToken>{}</sessionToken>", crate::html::escape(&token)));
            request.body = signed.into_bytes();
        }
        Ok(())
    }

    fn renew(&mut self, generation: u64, http: &mut Scheduler) -> Result<bool, Error> {
        if generation == self.generation {
            self.log_in(http)?;
        }
        Ok(true)
    }

    fn generation(&self) -> u64 {
        self.generation
    }

    /// The SOAP search says an expired session with a fault, not a 401.
    fn refused(&self, response: &Response) -> bool {
        response.status == 401
            || (response.status == 500 && String::from_utf8_lossy(&response.body).contains("Invalid session token"))
    }
}

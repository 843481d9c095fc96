//! Microsoft identity platform client credentials: `POST {login}/{tenant}/oauth2/v2.0/token` with the
//! app's id and secret for `https://graph.microsoft.com/.default`, answered with a bearer token
//! that lasts about an hour. Renewed five minutes before it expires (or at three quarters of a
//! shorter life), and once for everyone when Graph answers 401. No user, no interactive login.

use super::{SERVICE, error_message};
use crate::error::Error;
use crate::http::{Auth, Method, Origin, Request, Scheduler};
use crate::lenient;
use std::rc::Rc;

const RENEW_BEFORE_S: i64 = 300;
const SCOPE: &str = "https://graph.microsoft.com/.default";

pub struct GraphAuth {
    login: Rc<Origin>,
    tenant: String,
    client_id: String,
    client_secret: String,
    /// The token and when to renew it (epoch seconds).
    token: Option<(String, i64)>,
    generation: u64,
}

impl GraphAuth {
    pub fn new(login: Rc<Origin>, tenant: String, client_id: String, client_secret: String) -> Self {
        GraphAuth { login, tenant, client_id, client_secret, token: None, generation: 0 }
    }

    fn token_request(&self) -> Request {
        let form: String = [
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.as_str()),
            ("scope", SCOPE),
            ("grant_type", "client_credentials"),
        ]
        .iter()
        .map(|(name, value)| format!("{name}={}", super::encode(value)))
        .collect::<Vec<_>>()
        .join("&");
        let mut request =
            Request::new(Method::Post, &self.login, format!("/{}/oauth2/v2.0/token", super::encode(&self.tenant)))
                .header("accept", "application/json")
                .header("content-type", "application/x-www-form-urlencoded")
                .retry_safe();
        request.body = form.into_bytes();
        request
    }

    fn log_in(&mut self, http: &mut Scheduler) -> Result<(), Error> {
        let response = http.send(self.token_request()).map_err(|e| Error::unreachable("the Microsoft login", &e))?;
        if !response.is_success() {
            if matches!(response.status, 400 | 401) {
                return Err(Error::new(
                    "Microsoft refused the app registration's client credentials.",
                    "Check connection.graph_mail.tenant, client_id and client_secret (the secret's value, not its id, \
                     and not expired), and that the app has the application permission Mail.Read with admin consent.",
                    format!("HTTP {}: {}", response.status, error_message(&response)),
                ));
            }
            return Err(Error::status(SERVICE, "requesting an access token", &response, &error_message(&response)));
        }
        let answer = lenient::from_json::<super::models::Token>(&response.body)
            .map_err(|e| Error::malformed(SERVICE, "the token request", e))?;
        let token = answer
            .access_token
            .ok_or_else(|| Error::malformed(SERVICE, "the token request", "no `access_token` in the answer"))?;
        let life = answer.expires_in.unwrap_or(3599).max(1);
        let renew_at = http.unix_seconds() as i64 + life - RENEW_BEFORE_S.min(life / 4);
        self.token = Some((token, renew_at));
        self.generation += 1;
        Ok(())
    }
}

impl Auth for GraphAuth {
    fn sign(&mut self, request: &mut Request, http: &mut Scheduler) -> Result<(), Error> {
        let now = http.unix_seconds() as i64;
        if !matches!(&self.token, Some((_, renew_at)) if now < *renew_at) {
            self.log_in(http)?;
        }
        let token = self.token.as_ref().map(|(t, _)| t.as_str()).unwrap_or_default();
        request.set_header("authorization", format!("Bearer {token}"));
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
}

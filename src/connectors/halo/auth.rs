//! Halo's OAuth2 client credentials: a form-encoded token request to the authorisation server
//! (with `?tenant=` on hosted multi-tenant instances), the token sent as a Bearer, renewed once
//! for everyone when it expires mid-run.

use super::{SERVICE, error_message, models};
use crate::error::Error;
use crate::http::{Auth, Method, Origin, Request, Scheduler};
use crate::lenient;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use std::rc::Rc;

pub struct HaloAuth {
    pub origin: Rc<Origin>,
    pub tenant: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    pub scope: String,
    token: Option<String>,
    generation: u64,
}

impl HaloAuth {
    pub fn new(
        origin: Rc<Origin>,
        tenant: Option<String>,
        client_id: String,
        client_secret: String,
        scope: String,
    ) -> Self {
        HaloAuth { origin, tenant, client_id, client_secret, scope, token: None, generation: 0 }
    }

    /// The token request: the same credentials every time, so repeating it is harmless.
    pub fn token_request(&self) -> Request {
        let encode = |v: &str| utf8_percent_encode(v, NON_ALPHANUMERIC).to_string();
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
            encode(&self.client_id),
            encode(&self.client_secret),
            encode(&self.scope)
        );
        let path = match &self.tenant {
            Some(tenant) => format!("/token?tenant={}", encode(tenant)),
            None => "/token".to_string(),
        };
        let mut request = Request::new(Method::Post, &self.origin, path)
            .header("accept", "application/json")
            .header("content-type", "application/x-www-form-urlencoded")
            .retry_safe();
        request.body = form.into_bytes();
        request
    }

    fn log_in(&mut self, http: &mut Scheduler) -> Result<(), Error> {
        let response = http.send(self.token_request()).map_err(|e| Error::unreachable(SERVICE, &e))?;
        if !response.is_success() {
            let refusal = lenient::from_json::<models::OAuthError>(&response.body).unwrap_or_default();
            if matches!(response.status, 400 | 401) {
                return Err(Error::new(
                    "Halo refused the API application's credentials.",
                    "Check connection.halo.client_id and client_secret (Configuration > Integrations > Halo API > \
                     Applications, authentication method Client ID and Secret), and the tenant for hosted instances.",
                    format!(
                        "HTTP {}: {}",
                        response.status,
                        refusal.error_description.or(refusal.error).unwrap_or_else(|| error_message(&response))
                    ),
                ));
            }
            return Err(Error::status(SERVICE, "requesting a token", &response, &error_message(&response)));
        }
        let token = lenient::from_json::<models::Token>(&response.body)
            .map_err(|e| Error::malformed(SERVICE, "the token request", e))?
            .access_token
            .ok_or_else(|| Error::malformed(SERVICE, "the token request", "no `access_token` in the answer"))?;
        self.token = Some(token);
        self.generation += 1;
        Ok(())
    }
}

impl Auth for HaloAuth {
    fn sign(&mut self, request: &mut Request, http: &mut Scheduler) -> Result<(), Error> {
        if self.token.is_none() {
            self.log_in(http)?;
        }
        request.set_header("authorization", format!("Bearer {}", self.token.as_deref().unwrap_or_default()));
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

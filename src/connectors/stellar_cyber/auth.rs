//! Stellar Cyber's access tokens: `POST /access_token` with Basic user:key (a legacy API token)
//! or the scoped key as a Bearer, answered with a JWT that lasts about ten minutes. The JWT is
//! renewed a little before its `exp`, and once for everyone when a request is answered 401.

use super::{BASE_PATH, SERVICE, error_message, models};
use crate::error::Error;
use crate::http::{Auth, Method, Origin, Request, Scheduler};
use crate::lenient;
use std::rc::Rc;

/// Renew this long before `exp` (the seed's margin), so a token never expires in flight — or a
/// quarter of the token's life, when it lives less than two minutes.
const RENEW_BEFORE_S: i64 = 30;

pub struct StellarAuth {
    pub origin: Rc<Origin>,
    /// Set for a legacy API token; `None` for a scoped key.
    pub user: Option<String>,
    api_key: String,
    /// The JWT and when to renew it (epoch seconds; `None`: when it is refused).
    token: Option<(String, Option<i64>)>,
    generation: u64,
}

impl StellarAuth {
    pub fn new(origin: Rc<Origin>, user: Option<String>, api_key: String) -> Self {
        StellarAuth { origin, user, api_key, token: None, generation: 0 }
    }

    fn token_request(&self) -> Request {
        use base64::Engine;
        let authorization = match &self.user {
            Some(user) => {
                let pair = format!("{user}:{}", self.api_key);
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
            }
            None => format!("Bearer {}", self.api_key),
        };
        Request::new(Method::Post, &self.origin, format!("{BASE_PATH}/access_token"))
            .header("accept", "application/json")
            .header("authorization", authorization)
            .retry_safe()
    }

    fn log_in(&mut self, http: &mut Scheduler) -> Result<(), Error> {
        let response = http.send(self.token_request()).map_err(|e| Error::unreachable(SERVICE, &e))?;
        if !response.is_success() {
            if matches!(response.status, 401 | 403) {
                let what = if self.user.is_some() { "user and API key" } else { "scoped API key" };
                return Err(Error::new(
                    format!("Stellar Cyber refused the {what}."),
                    "Check connection.stellar_cyber.user and api_key (a legacy API token from the user's profile), \
                     or a scoped key alone.",
                    format!("HTTP {}: {}", response.status, error_message(&response)),
                ));
            }
            return Err(Error::status(SERVICE, "requesting an access token", &response, &error_message(&response)));
        }
        let answer = lenient::from_json::<models::Token>(&response.body)
            .map_err(|e| Error::malformed(SERVICE, "the access token request", e))?;
        let token = answer
            .access_token
            .ok_or_else(|| Error::malformed(SERVICE, "the access token request", "no `access_token` in the answer"))?;
        let now = http.unix_seconds() as i64;
        let renew_at = answer.exp.map(|exp| exp - RENEW_BEFORE_S.min((exp - now).max(0) / 4));
        self.token = Some((token, renew_at));
        self.generation += 1;
        Ok(())
    }
}

impl Auth for StellarAuth {
    fn sign(&mut self, request: &mut Request, http: &mut Scheduler) -> Result<(), Error> {
        let now = http.unix_seconds() as i64;
        let fresh = matches!(&self.token, Some((_, renew_at)) if renew_at.is_none_or(|at| now < at));
        if !fresh {
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

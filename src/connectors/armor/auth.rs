//! ARMOR's two ways in: username/password (authorize -> code -> token, renewed on 401) and an
//! API key that signs every request (ARMOR-PSK, HMAC-SHA512 over the request, fresh nonce).

use super::error_message;
use crate::error::Error;
use crate::http::{Auth, Method, Origin, Request, Response, Scheduler};
use crate::lenient;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha512;
use std::rc::Rc;

pub enum ArmorAuth {
    Password(PasswordAuth),
    ApiKey(ApiKeyAuth),
}

/// Login codes tried in one login before giving up.
const CODES_PER_LOGIN: u32 = 3;

pub struct PasswordAuth {
    pub origin: Rc<Origin>,
    pub username: String,
    pub password: String,
    token: Option<String>,
    generation: u64,
}

pub struct ApiKeyAuth {
    pub key_id: String,
    pub secret: String,
}

impl PasswordAuth {
    pub fn new(origin: Rc<Origin>, username: String, password: String) -> Self {
        PasswordAuth { origin, username, password, token: None, generation: 0 }
    }

    /// Authorize, then exchange the code for a token. A code is good for one exchange: when the
    /// answer to an exchange is lost and its retry is refused as "already used", a new code is
    /// fetched rather than failing.
    fn log_in(&mut self, http: &mut Scheduler) -> Result<(), Error> {
        let mut codes = 0;
        loop {
            codes += 1;
            let code = self.authorize(http)?;
            match self.exchange(http, &code)? {
                Ok(token) => {
                    self.token = Some(token);
                    self.generation += 1;
                    return Ok(());
                }
                Err(refused) if refused.status == 401 && codes < CODES_PER_LOGIN => continue,
                Err(refused) => {
                    let message = error_message(&refused);
                    return Err(Error::status("ARMOR", "exchanging the login code for a token", &refused, &message));
                }
            }
        }
    }

    fn authorize(&self, http: &mut Scheduler) -> Result<String, Error> {
        #[derive(Deserialize)]
        struct Code {
            #[serde(deserialize_with = "lenient::text")]
            code: Option<String>,
        }
        let authorize = Request::new(Method::Post, &self.origin, "/auth/authorize")
            .header("accept", "application/json")
            .json_body(&json!({ "username": self.username, "password": self.password }))
            .retry_safe();
        let response = http.send(authorize).map_err(|e| Error::unreachable("ARMOR", &e))?;
        match response.status {
            200..=299 => {}
            401 => {
                return Err(Error::new(
                    "ARMOR rejected the username or password.",
                    "Check connection.armor.login, or use an ARMOR API key (connection.armor.api_key) instead.",
                    format!("HTTP 401: {}", error_message(&response)),
                ));
            }
            403 => {
                return Err(Error::new(
                    "ARMOR requires multi-factor authentication for this user, which an unattended plugin cannot complete.",
                    "Create an ARMOR API key (Account > API Keys) and put it in connection.armor.api_key.",
                    format!("HTTP 403: {}", error_message(&response)),
                ));
            }
            _ => return Err(Error::status("ARMOR", "logging in", &response, &error_message(&response))),
        }
        lenient::from_json::<Code>(&response.body)
            .map_err(|e| Error::malformed("ARMOR", "the login", e))?
            .code
            .ok_or_else(|| Error::malformed("ARMOR", "the login", "no `code` in the answer"))
    }

    /// The token for `code`, or ARMOR's answer refusing it.
    fn exchange(&self, http: &mut Scheduler, code: &str) -> Result<Result<String, Response>, Error> {
        #[derive(Deserialize)]
        struct Token {
            #[serde(deserialize_with = "lenient::text")]
            access_token: Option<String>,
        }
        let exchange = Request::new(Method::Post, &self.origin, "/auth/token")
            .header("accept", "application/json")
            .json_body(&json!({ "code": code, "grant_type": "authorization_code" }))
            .retry_safe();
        let response = http.send(exchange).map_err(|e| Error::unreachable("ARMOR", &e))?;
        if !response.is_success() {
            return Ok(Err(response));
        }
        let token = lenient::from_json::<Token>(&response.body)
            .map_err(|e| Error::malformed("ARMOR", "the token request", e))?
            .access_token
            .ok_or_else(|| Error::malformed("ARMOR", "the token request", "no `access_token` in the answer"))?;
        Ok(Ok(token))
    }
}

impl Auth for ArmorAuth {
    fn sign(&mut self, request: &mut Request, http: &mut Scheduler) -> Result<(), Error> {
        match self {
            ArmorAuth::Password(auth) => {
                if auth.token.is_none() {
                    auth.log_in(http)?;
                }
                let token = auth.token.as_deref().unwrap_or_default();
                request.set_header("authorization", format!("FH-AUTH {token}"));
            }
            ArmorAuth::ApiKey(key) => {
                let nonce = format!("{:016x}{:016x}", http.random_u64(), http.random_u64());
                let header = key.authorization(request, &nonce, http.unix_seconds());
                request.set_header("authorization", header);
            }
        }
        Ok(())
    }

    fn renew(&mut self, generation: u64, http: &mut Scheduler) -> Result<bool, Error> {
        match self {
            ArmorAuth::Password(auth) if generation == auth.generation => {
                auth.log_in(http)?;
                Ok(true)
            }
            ArmorAuth::Password(_) => Ok(true),
            // A signature is made fresh for every attempt: a 401 means the key or the clock is wrong.
            ArmorAuth::ApiKey(_) => Ok(false),
        }
    }

    fn generation(&self) -> u64 {
        match self {
            ArmorAuth::Password(auth) => auth.generation,
            ArmorAuth::ApiKey(_) => 0,
        }
    }
}

impl ApiKeyAuth {
    /// `ARMOR-PSK <keyId>:<signature>:<nonce>:<unixSeconds>` where the signature is
    /// base64(HMAC-SHA512(secret, keyId + METHOD + path + nonce + unixSeconds + body)).
    pub fn authorization(&self, request: &Request, nonce: &str, unix_seconds: u64) -> String {
        let mut mac = Hmac::<Sha512>::new_from_slice(self.secret.as_bytes()).expect("HMAC takes a key of any length");
        mac.update(self.key_id.as_bytes());
        mac.update(request.method.as_str().as_bytes());
        mac.update(request.full_path().as_bytes());
        mac.update(nonce.as_bytes());
        mac.update(unix_seconds.to_string().as_bytes());
        mac.update(&request.body);
        let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        format!("ARMOR-PSK {}:{signature}:{nonce}:{unix_seconds}", self.key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_method_path_nonce_time_and_body() {
        let origin = Rc::new(Origin::parse("https://api.armor.com").unwrap());
        let key = ApiKeyAuth { key_id: "key-1".into(), secret: "s3cret".into() };
        let request = Request::new(Method::Get, &origin, "/tickets/list?maxResults=50");
        let header = key.authorization(&request, "abc", 1_700_000_000);
        let parts: Vec<&str> = header.trim_start_matches("ARMOR-PSK ").split(':').collect();
        assert_eq!((parts[0], parts[2], parts[3]), ("key-1", "abc", "1700000000"));
        let mut mac = Hmac::<Sha512>::new_from_slice(b"s3cret").unwrap();
        mac.update(b"key-1GET/tickets/list?maxResults=50abc1700000000");
        let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(parts[1], expected);
        // A different nonce or body changes the signature.
        assert_ne!(header, key.authorization(&request, "abd", 1_700_000_000));
        let post = Request::new(Method::Post, &origin, "/x").json_body(&json!({"a": 1}));
        assert_ne!(
            key.authorization(&post, "abc", 1),
            key.authorization(&Request::new(Method::Post, &origin, "/x"), "abc", 1)
        );
    }

    /// The answer to the first exchange is lost after ARMOR used the code; its retry is refused
    /// as "already used". The login fetches a new code instead of failing.
    #[test]
    fn a_code_used_by_a_lost_exchange_is_replaced_by_a_new_one() {
        use crate::http::fake::{FakeTransport, Reply};
        use crate::http::{RetryPolicy, TransportError, TransportErrorKind};
        let (mut codes, mut exchanges) = (0, 0);
        let mut transport = FakeTransport::new(|request| match request.path.as_str() {
            "/auth/authorize" => {
                codes += 1;
                Reply::json(200, &json!({"code": format!("code-{codes}")}))
            }
            _ => {
                exchanges += 1;
                let body = String::from_utf8_lossy(&request.body);
                match exchanges {
                    1 => Reply::error(TransportError::new(TransportErrorKind::Connection, "connection closed")),
                    _ if body.contains("code-1") => {
                        Reply::json(401, &json!({"message": "The authorization code is already used."}))
                    }
                    _ => Reply::json(200, &json!({"access_token": "tok-2"})),
                }
            }
        });
        let mut http = Scheduler::new(&mut transport, RetryPolicy::default(), 4, 60_000);
        let origin = Rc::new(Origin::parse("https://api.armor.com").unwrap());
        let mut auth = PasswordAuth::new(origin, "user".into(), "pw".into());
        auth.log_in(&mut http).unwrap();
        assert_eq!(auth.token.as_deref(), Some("tok-2"));
        assert_eq!(auth.generation, 1);
    }
}

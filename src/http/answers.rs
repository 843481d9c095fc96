//! Answers as errors: no answer, an unexpected status or a body of the wrong shape, each a clear
//! plugin error naming the service and what was being done.

use super::{HttpError, Response, TransportErrorKind};
use crate::error::Error;
use crate::lenient;

impl Error {
    /// A request that got no usable answer, after retries.
    pub fn unreachable(service: &str, error: &HttpError) -> Error {
        if let HttpError::Transport { error: e, .. } = error
            && e.kind == TransportErrorKind::TooLarge
        {
            return Error::new(
                format!("{service} sent an answer larger than the plugin accepts."),
                format!("Narrow the request (fewer accounts or tickets per run), or report this to {service} support."),
                error.to_string(),
            );
        }
        let assistance = match error {
            HttpError::OutcomeUnknown { .. } => {
                "The change may or may not have been applied. Run the action again: it checks before writing."
                    .to_string()
            }
            HttpError::BudgetExhausted { .. } => {
                "Run the action again (it resumes where possible), or raise tuning.time_budget_seconds.".to_string()
            }
            HttpError::Transport { error, .. } if error.kind == TransportErrorKind::Denied => format!(
                "Allow outbound requests to the {service} host in the plugin host, and check the connection's URL."
            ),
            HttpError::Transport { .. } => {
                format!("Check the {service} URL in the connection and that {service} is reachable, then try again.")
            }
        };
        Error::new(format!("Could not reach {service}."), assistance, error.to_string())
    }

    /// A response that is not what the contract promises (bad JSON, missing fields, wrong types).
    pub fn malformed(service: &str, what: &str, problem: impl std::fmt::Display) -> Error {
        Error::new(
            format!("{service} sent a malformed answer to {what}."),
            format!("Try again later; if it persists, report it to {service} support with the data below."),
            problem.to_string(),
        )
    }

    /// An unexpected HTTP status; `message` is the service's own message and reference, if any.
    pub fn status(service: &str, what: &str, response: &Response, message: &str) -> Error {
        let data = format!("HTTP {}: {}", response.status, if message.is_empty() { "(no message)" } else { message });
        let (cause, assistance) = match response.status {
            401 => (
                format!("{service} rejected the credentials ({what})."),
                format!("Check the {service} credentials in the connection."),
            ),
            403 => (
                format!("{service} refused access ({what})."),
                format!("Check that the {service} account in the connection may see this data."),
            ),
            404 => (format!("{service} has no such record ({what})."), "Check the IDs given in the input.".to_string()),
            429 => (
                format!("{service} kept rate limiting the requests ({what})."),
                "Run the action again later or lower tuning.max_concurrency.".to_string(),
            ),
            500..=599 => (format!("{service} failed to answer ({what})."), "Try again later.".to_string()),
            _ => (
                format!("{service} refused the request ({what})."),
                "See the data below for the service's reason.".to_string(),
            ),
        };
        Error::new(cause, assistance, data)
    }
}

/// A 2xx answer of `service` decoded as `T`; no answer, another status (explained by
/// `status_error`) or a body of the wrong shape is a clear error about `what`.
pub fn decode<T: serde::de::DeserializeOwned>(
    service: &str,
    what: &str,
    outcome: Result<Response, HttpError>,
    status_error: impl FnOnce(&Response) -> Error,
) -> Result<T, Error> {
    let response = outcome.map_err(|e| Error::unreachable(service, &e))?;
    if !response.is_success() {
        return Err(status_error(&response));
    }
    lenient::from_json(&response.body).map_err(|problem| Error::malformed(service, what, problem))
}

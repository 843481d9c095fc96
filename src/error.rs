//! The one error type of every action: the WIT `plugin-error` (cause, assistance, data).

use crate::http::{HttpError, Response};
use crate::lenient;
pub use crate::types::PluginError as Error;

impl Error {
    pub fn new(cause: impl Into<String>, assistance: impl Into<String>, data: impl Into<String>) -> Error {
        Error { cause: cause.into(), assistance: assistance.into(), data: data.into() }
    }

    /// The connection lacks the section an action needs.
    pub fn missing_section(section: &str, action: &str) -> Error {
        Error::new(
            format!("The connection has no `{section}` section, which {action} needs."),
            format!("Add the `{section}` section to the plugin connection (see help.md, Setup)."),
            "",
        )
    }

    /// A connection or input value is unusable; `field` is its JSON path.
    pub fn invalid(field: &str, problem: impl std::fmt::Display, fix: impl Into<String>) -> Error {
        Error::new(format!("Invalid `{field}`: {problem}."), fix, "")
    }

    /// A request that got no usable answer, after retries.
    pub fn unreachable(service: &str, error: &HttpError) -> Error {
        if let HttpError::Transport { error: e, .. } = error
            && e.kind == crate::http::TransportErrorKind::TooLarge
        {
            return Error::new(
                format!("{service} sent an answer larger than the plugin accepts."),
                format!("Narrow the request (fewer accounts or tickets per run), or report this to {service} support."),
                error.to_string(),
            );
        }
        let assistance = match error {
            HttpError::OutcomeUnknown { .. } => {
                "The change may or may not have been applied. Run the action again: it checks before writing.".to_string()
            }
            HttpError::BudgetExhausted { .. } => {
                "Run the action again (it resumes where possible), or raise tuning.time_budget_seconds.".to_string()
            }
            HttpError::Transport { error, .. } if error.kind == crate::http::TransportErrorKind::Denied => format!(
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
            401 => (format!("{service} rejected the credentials ({what})."), format!("Check the {service} credentials in the connection.")),
            403 => (format!("{service} refused access ({what})."), format!("Check that the {service} account in the connection may see this data.")),
            404 => (format!("{service} has no such record ({what})."), "Check the IDs given in the input.".to_string()),
            429 => (format!("{service} kept rate limiting the requests ({what})."), "Run the action again later or lower tuning.max_concurrency.".to_string()),
            500..=599 => (format!("{service} failed to answer ({what})."), "Try again later.".to_string()),
            _ => (format!("{service} refused the request ({what})."), "See the data below for the service's reason.".to_string()),
        };
        Error::new(cause, assistance, data)
    }

    /// Replaces every secret by asterisks, in every field.
    pub fn redacted(mut self, secrets: &[String]) -> Error {
        for text in [&mut self.cause, &mut self.assistance, &mut self.data] {
            *text = redact(text, secrets);
        }
        self
    }
}

pub fn redact(text: &str, secrets: &[String]) -> String {
    secrets.iter().filter(|s| s.len() >= 3).fold(text.to_string(), |text, secret| text.replace(secret.as_str(), "********"))
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

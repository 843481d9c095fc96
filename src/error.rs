//! The one error type of every action: the WIT `plugin-error` (cause, assistance, data).
//! What a service's answer means as an error lives with HTTP (`http/answers.rs`).

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

    /// Replaces every secret by asterisks, in every field.
    pub fn redacted(mut self, secrets: &[String]) -> Error {
        for text in [&mut self.cause, &mut self.assistance, &mut self.data] {
            *text = redact(text, secrets);
        }
        self
    }
}

pub fn redact(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 3)
        .fold(text.to_string(), |text, secret| text.replace(secret.as_str(), "********"))
}

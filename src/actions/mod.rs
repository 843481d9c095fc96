//! One file per action: orchestration only. HTTP details live in the service clients.

pub mod get_accounts;
pub mod get_tickets;
pub mod match_companies;
pub mod new_or_changed_tickets;
pub mod post_tickets;
pub mod sync;
pub mod sync_back;
pub mod sync_directory;
pub mod test_connection;
pub mod ticket_actions;

#[cfg(test)]
pub(crate) mod hostile_tests;

use crate::connection::Tuning;
use crate::connectors;
use crate::error::Error;
use crate::http::{Scheduler, Transport};
use crate::log;
use crate::types::Connection;

/// What an action runs with: its connection, its limits, and the HTTP scheduler.
pub struct Context<'a> {
    pub connection: &'a Connection,
    pub tuning: Tuning,
    pub http: Scheduler<'a>,
}

/// Runs an action over WASI HTTP.
#[cfg(target_arch = "wasm32")]
pub fn run<T>(connection: &Connection, action: impl FnOnce(&mut Context) -> Result<T, Error>) -> Result<T, Error> {
    let secrets = connectors::secrets(connection);
    let tuning = Tuning::from_connection(connection).map_err(|e| e.redacted(&secrets))?;
    let mut transport = crate::http::wasi::WasiTransport::new(tuning.request_timeout_ms, tuning.max_response_bytes);
    run_with(connection, &mut transport, action)
}

/// Runs an action over any transport (natively: the fake one). Errors leave with secrets masked.
pub fn run_with<T>(
    connection: &Connection,
    transport: &mut dyn Transport,
    action: impl FnOnce(&mut Context) -> Result<T, Error>,
) -> Result<T, Error> {
    let secrets = connectors::secrets(connection);
    log::set_secrets(secrets.clone());
    let tuning = Tuning::from_connection(connection).map_err(|e| e.redacted(&secrets))?;
    let http = Scheduler::new(transport, tuning.retry.clone(), tuning.max_concurrency, tuning.time_budget_ms);
    let mut context = Context { connection, tuning, http };
    let result = action(&mut context);
    let stats = &context.http.stats;
    log::info(format!(
        "{} requests, {} retries, {} rate-limited, {} re-authentications",
        stats.requests, stats.retries, stats.rate_limited, stats.reauthentications
    ));
    result.map_err(|e| e.redacted(&secrets))
}

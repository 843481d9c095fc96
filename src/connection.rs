//! The connection's tuning as checked settings, defaults applied. Each system reads its own section.

use crate::error::Error;
use crate::http::RetryPolicy;
use crate::types::{self, Connection};

/// How hard an action may drive the services (the connection's `tuning`, with defaults).
#[derive(Clone, Debug)]
pub struct Tuning {
    pub max_concurrency: usize,
    pub request_timeout_ms: u64,
    pub time_budget_ms: u64,
    pub retry: RetryPolicy,
    pub max_response_bytes: usize,
}

impl Tuning {
    pub fn from_connection(connection: &Connection) -> Result<Tuning, Error> {
        let tuning = connection.tuning.unwrap_or(types::Tuning {
            max_concurrency: None,
            request_timeout_seconds: None,
            max_attempts: None,
            time_budget_seconds: None,
        });
        let bounded = |field: &str, value: Option<u32>, default: u32, max: u32| -> Result<u32, Error> {
            match value {
                None => Ok(default),
                Some(v) if (1..=max).contains(&v) => Ok(v),
                Some(v) => Err(Error::invalid(
                    &format!("connection.tuning.{field}"),
                    format!("{v} is outside 1..={max}"),
                    format!("Leave it out for the default ({default}) or give a value from 1 to {max}."),
                )),
            }
        };
        Ok(Tuning {
            max_concurrency: bounded("max_concurrency", tuning.max_concurrency, 8, 64)? as usize,
            request_timeout_ms: u64::from(bounded("request_timeout_seconds", tuning.request_timeout_seconds, 30, 600)?)
                * 1000,
            time_budget_ms: u64::from(bounded("time_budget_seconds", tuning.time_budget_seconds, 600, 86_400)?) * 1000,
            retry: RetryPolicy {
                max_attempts: bounded("max_attempts", tuning.max_attempts, 10, 20)?,
                ..RetryPolicy::default()
            },
            // The largest real answers (a 1000-company page, every account) are a few MB.
            max_response_bytes: 16 * 1024 * 1024,
        })
    }
}

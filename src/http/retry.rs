//! When to try a request again, and how long to wait first.

use super::{Request, Response, TransportError, TransportErrorKind};

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    /// A Retry-After longer than this is not waited for: the request fails instead.
    pub max_retry_after_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_attempts: 6, base_delay_ms: 200, max_delay_ms: 10_000, max_retry_after_ms: 120_000 }
    }
}

/// What to do with a finished attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Done,
    /// Try again after at least this long.
    Retry {
        after_ms: u64,
        rate_limited: bool,
    },
    /// The request may have been applied and cannot be repeated blindly.
    OutcomeUnknown,
}

impl RetryPolicy {
    /// `attempt` is 1 for the first attempt. `random` feeds the jitter.
    pub fn judge(
        &self,
        request: &Request,
        result: &Result<Response, TransportError>,
        attempt: u32,
        random: u64,
    ) -> Verdict {
        let retryable = match result {
            Ok(response) => match response.status {
                // Rate limited: the request was not processed, so even a POST can go again.
                429 => {
                    let after = response.header("retry-after").and_then(parse_retry_after);
                    return match after {
                        Some(ms) if ms > self.max_retry_after_ms => Verdict::Done,
                        _ if attempt >= self.max_attempts => Verdict::Done,
                        Some(ms) => {
                            Verdict::Retry { after_ms: ms.max(self.backoff(attempt, random)), rate_limited: true }
                        }
                        None => {
                            Verdict::Retry { after_ms: self.backoff(attempt, random).max(1000), rate_limited: true }
                        }
                    };
                }
                500 | 502 | 503 | 504 => true,
                _ => return Verdict::Done,
            },
            Err(error) => match error.kind {
                TransportErrorKind::Connection | TransportErrorKind::Timeout => true,
                TransportErrorKind::Denied | TransportErrorKind::TooLarge | TransportErrorKind::Protocol => {
                    return Verdict::Done;
                }
            },
        };
        if retryable && !request.idempotent {
            return Verdict::OutcomeUnknown;
        }
        if attempt >= self.max_attempts {
            return Verdict::Done;
        }
        Verdict::Retry { after_ms: self.backoff(attempt, random), rate_limited: false }
    }

    /// Exponential backoff with "equal jitter": half fixed, half random, so waits never collapse to 0.
    pub fn backoff(&self, attempt: u32, random: u64) -> u64 {
        let exp = self.base_delay_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(self.max_delay_ms).max(1);
        capped / 2 + random % (capped / 2 + 1)
    }
}

/// `Retry-After` as delta-seconds (the form both services send). HTTP dates are not used by them.
pub fn parse_retry_after(value: &str) -> Option<u64> {
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then_some((seconds * 1000.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Method, Origin};
    use std::rc::Rc;

    fn request(method: Method) -> Request {
        let origin = Rc::new(Origin::parse("https://api.example.com").unwrap());
        Request::new(method, &origin, "/x")
    }

    fn status(code: u16, retry_after: Option<&str>) -> Result<Response, TransportError> {
        let headers = retry_after.map(|v| vec![("Retry-After".to_string(), v.to_string())]).unwrap_or_default();
        Ok(Response { status: code, headers, body: vec![] })
    }

    #[test]
    fn transient_statuses_retry_for_reads_only() {
        let policy = RetryPolicy::default();
        for code in [500, 502, 503, 504] {
            assert!(matches!(policy.judge(&request(Method::Get), &status(code, None), 1, 0), Verdict::Retry { .. }));
            assert_eq!(policy.judge(&request(Method::Post), &status(code, None), 1, 0), Verdict::OutcomeUnknown);
        }
        for code in [200, 201, 400, 401, 403, 404] {
            assert_eq!(policy.judge(&request(Method::Get), &status(code, None), 1, 0), Verdict::Done);
        }
    }

    #[test]
    fn rate_limit_honours_retry_after_even_for_posts() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.judge(&request(Method::Post), &status(429, Some("7")), 1, 0),
            Verdict::Retry { after_ms: 7000, rate_limited: true }
        );
        assert_eq!(policy.judge(&request(Method::Get), &status(429, Some("3600")), 1, 0), Verdict::Done);
    }

    #[test]
    fn attempts_are_bounded() {
        let policy = RetryPolicy { max_attempts: 3, ..RetryPolicy::default() };
        let dropped = Err(TransportError::new(TransportErrorKind::Connection, "reset"));
        assert!(matches!(policy.judge(&request(Method::Get), &dropped, 2, 0), Verdict::Retry { .. }));
        assert_eq!(policy.judge(&request(Method::Get), &dropped, 3, 0), Verdict::Done);
        let denied = Err(TransportError::new(TransportErrorKind::Denied, "not allowed"));
        assert_eq!(policy.judge(&request(Method::Get), &denied, 1, 0), Verdict::Done);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::default();
        assert!((100..=200).contains(&policy.backoff(1, 12345)));
        assert!((400..=800).contains(&policy.backoff(3, 999)));
        assert!(policy.backoff(30, u64::MAX) <= policy.max_delay_ms);
    }

    #[test]
    fn retry_after_parses_seconds() {
        assert_eq!(parse_retry_after(" 2 "), Some(2000));
        assert_eq!(parse_retry_after("0.5"), Some(500));
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}

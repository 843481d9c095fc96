//! Fault injection and rate limiting, decided per request from a seeded RNG so a run is reproducible
//! (for a given request order). `/_sim/*` never comes here.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Per-request faults. Probabilities are 0..1; `Default` is no faults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Delay before every answer.
    pub latency_ms: u64,
    /// 500/502/503 in the service's error shape.
    pub p5xx: f64,
    /// 429 with Retry-After.
    pub p429: f64,
    /// Close the connection without an answer, before doing anything.
    pub pdrop: f64,
    /// Writes only (POST/PUT/PATCH): apply the write, then close without an answer.
    pub plost: f64,
    pub seed: u64,
}

impl Faults {
    fn sanitized(mut self) -> Self {
        for p in [&mut self.p5xx, &mut self.p429, &mut self.pdrop, &mut self.plost] {
            *p = if p.is_finite() { p.clamp(0.0, 1.0) } else { 0.0 };
        }
        self.latency_ms = self.latency_ms.min(120_000);
        self
    }
}

/// One answer sent slowly, for tests of clients that read several answers at once: a request on
/// `route` (the template the counters use, e.g. `"GET /company/companies"`) whose `page` query
/// parameter is `page` (any page when `None`) gets its headers at once (without `latency_ms`:
/// the trickle is its slowness) and its body in `chunks` pieces spread over `duration_ms`.
/// Off by default; set through `/_sim/config {"trickle": {...}|null}` or `--trickle-*`.
/// The event log records when such an answer starts and when its last piece goes out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Trickle {
    pub route: String,
    pub page: Option<u64>,
    pub chunks: u32,
    pub duration_ms: u64,
}

impl Trickle {
    fn sanitized(mut self) -> Self {
        self.chunks = self.chunks.clamp(1, 10_000);
        self.duration_ms = self.duration_ms.min(120_000);
        self
    }
}

/// The event log keeps at most this many events (the oldest are forgotten).
const MAX_EVENTS: usize = 100_000;

/// What to do with one request.
#[derive(Debug, PartialEq)]
pub(crate) enum Decision {
    Drop,
    /// Over the configured rate limit; Retry-After seconds.
    RateLimited(u64),
    /// Injected 429; Retry-After seconds.
    Fault429(u64),
    /// Injected 5xx status; the second value picks an error body variant.
    Fault5xx(u16, u32),
    /// Serve it; `lose_answer` = apply, then drop the connection.
    Proceed {
        lose_answer: bool,
    },
}

#[derive(Default)]
struct Counters {
    by_route: BTreeMap<String, u64>,
    http_5xx: u64,
    http_429: u64,
    dropped: u64,
    lost: u64,
    rate_limited: u64,
    /// What each 429 asked for: [from, until] in unix milliseconds (the bench adds them up,
    /// overlaps counted once, across services). At most MAX_EVENTS are kept.
    pauses: Vec<[u64; 2]>,
}

struct Inner {
    faults: Faults,
    rng: ChaCha8Rng,
    rate_limit_per_min: Option<u32>,
    /// Instants of the requests admitted in the last minute (sliding window, at most the limit long).
    window: VecDeque<Instant>,
    counters: Counters,
    trickle: Option<Trickle>,
    /// What the service saw and did, in order (`/_sim/state` `events`).
    events: VecDeque<Value>,
    next_event: u64,
}

/// Per-service fault/rate-limit configuration and request counters.
pub(crate) struct Control {
    salt: u64,
    inner: Mutex<Inner>,
}

const WINDOW: Duration = Duration::from_secs(60);

impl Counters {
    /// A 429 that asks for `secs` from now.
    fn pause(&mut self, secs: u64) {
        if self.pauses.len() < MAX_EVENTS {
            let now =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
            self.pauses.push([now, now + secs * 1000]);
        }
    }
}

impl Control {
    /// `salt` keeps the two services' random sequences apart under the same seed.
    pub fn new(faults: Faults, rate_limit_per_min: Option<u32>, salt: u64) -> Self {
        let faults = faults.sanitized();
        Control {
            salt,
            inner: Mutex::new(Inner {
                rng: ChaCha8Rng::seed_from_u64(faults.seed ^ salt),
                faults,
                rate_limit_per_min,
                window: VecDeque::new(),
                counters: Counters::default(),
                trickle: None,
                events: VecDeque::new(),
                next_event: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_faults(&self, f: Faults) {
        let f = f.sanitized();
        let mut g = self.lock();
        g.rng = ChaCha8Rng::seed_from_u64(f.seed ^ self.salt);
        g.faults = f;
    }

    pub fn set_rate_limit(&self, per_min: Option<u32>) {
        let mut g = self.lock();
        g.rate_limit_per_min = per_min.filter(|n| *n > 0);
        g.window.clear();
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.lock().faults.latency_ms)
    }

    pub fn set_trickle(&self, t: Option<Trickle>) {
        self.lock().trickle = t.map(Trickle::sanitized);
    }

    /// The trickle that applies to a request on `route` with this `page` parameter, if any.
    pub fn trickle_for(&self, route: &str, page: Option<&str>) -> Option<Trickle> {
        let g = self.lock();
        let t = g.trickle.as_ref()?;
        let page_matches = t.page.is_none_or(|p| page.and_then(|v| v.trim().parse::<u64>().ok()) == Some(p));
        (t.route.eq_ignore_ascii_case(route) && page_matches).then(|| t.clone())
    }

    /// Appends `event` (an object) to the log with the next sequence number `seq`.
    pub fn record(&self, mut event: Value) {
        let mut g = self.lock();
        event["seq"] = json!(g.next_event);
        g.next_event += 1;
        if g.events.len() == MAX_EVENTS {
            g.events.pop_front();
        }
        g.events.push_back(event);
    }

    pub fn events(&self) -> Value {
        Value::Array(self.lock().events.iter().cloned().collect())
    }

    /// Zero the counters and the event log, forget the rate window, restart the fault sequence.
    pub fn reset(&self) {
        let mut g = self.lock();
        g.counters = Counters::default();
        g.events.clear();
        g.next_event = 0;
        g.window.clear();
        g.rng = ChaCha8Rng::seed_from_u64(g.faults.seed ^ self.salt);
    }

    /// Count the request and decide its fate. Always draws the same number of random values so the
    /// sequence of decisions depends only on the seed and the request order.
    pub fn decide(&self, route: &str, is_write: bool, now: Instant) -> Decision {
        let mut g = self.lock();
        let g = &mut *g;
        *g.counters.by_route.entry(route.to_string()).or_insert(0) += 1;
        let (r_drop, r_429, r_5xx, r_lost): (f64, f64, f64, f64) =
            (g.rng.random(), g.rng.random(), g.rng.random(), g.rng.random());
        let pick: u32 = g.rng.random();
        let f = g.faults;
        if r_drop < f.pdrop {
            g.counters.dropped += 1;
            return Decision::Drop;
        }
        if let Some(limit) = g.rate_limit_per_min {
            while g.window.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
                g.window.pop_front();
            }
            if g.window.len() >= limit as usize {
                // Retry when the oldest admitted request leaves the window.
                let oldest = g.window.front().copied().unwrap_or(now);
                let wait = WINDOW.saturating_sub(now.duration_since(oldest));
                let secs = wait.as_millis().div_ceil(1000).clamp(1, 60) as u64;
                g.counters.rate_limited += 1;
                g.counters.pause(secs);
                return Decision::RateLimited(secs);
            }
            g.window.push_back(now);
        }
        if r_429 < f.p429 {
            g.counters.http_429 += 1;
            let secs = 1 + u64::from(pick % 2);
            g.counters.pause(secs);
            return Decision::Fault429(secs);
        }
        if r_5xx < f.p5xx {
            g.counters.http_5xx += 1;
            let status = [500, 502, 503][(pick % 3) as usize];
            return Decision::Fault5xx(status, pick / 3);
        }
        let lose_answer = is_write && r_lost < f.plost;
        if lose_answer {
            g.counters.lost += 1;
        }
        Decision::Proceed { lose_answer }
    }

    /// `requests` ("METHOD /route/{id}" -> count), `faults` and `config` for `/_sim/state`.
    pub fn state_parts(&self) -> (Value, Value, Value) {
        let g = self.lock();
        let c = &g.counters;
        let requests = json!(c.by_route);
        let faults = json!({"http_5xx": c.http_5xx, "http_429": c.http_429, "dropped": c.dropped,
                            "lost": c.lost, "rate_limited": c.rate_limited, "pauses_ms": c.pauses});
        let config = json!({"faults": g.faults, "rate_limit_per_min": g.rate_limit_per_min, "trickle": g.trickle});
        (requests, faults, config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_decisions() {
        let f = Faults { p5xx: 0.3, p429: 0.2, pdrop: 0.1, plost: 0.5, seed: 9, ..Faults::default() };
        let run = || {
            let c = Control::new(f, None, 1);
            (0..200).map(|i| format!("{:?}", c.decide("GET /x", i % 2 == 0, Instant::now()))).collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn rate_limit_window() {
        let c = Control::new(Faults::default(), Some(3), 0);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(c.decide("GET /x", false, t0), Decision::Proceed { lose_answer: false });
        }
        assert_eq!(c.decide("GET /x", false, t0 + Duration::from_secs(20)), Decision::RateLimited(40));
        assert_eq!(c.decide("GET /x", false, t0 + Duration::from_secs(60)), Decision::Proceed { lose_answer: false });
    }

    #[test]
    fn trickle_matches_its_route_and_page_only() {
        let c = Control::new(Faults::default(), None, 0);
        assert_eq!(c.trickle_for("GET /x", Some("2")), None, "off by default");
        let t = Trickle { route: "GET /x".into(), page: Some(2), chunks: 0, duration_ms: 10 };
        c.set_trickle(Some(t));
        assert_eq!(c.trickle_for("GET /x", Some("2")).map(|t| t.chunks), Some(1), "at least one chunk");
        assert!(c.trickle_for("get /X", Some(" 2")).is_some(), "route case-insensitive, page trimmed");
        assert_eq!(c.trickle_for("GET /x", Some("3")), None);
        assert_eq!(c.trickle_for("GET /x", None), None);
        assert_eq!(c.trickle_for("GET /y", Some("2")), None);
        c.set_trickle(None);
        assert_eq!(c.trickle_for("GET /x", Some("2")), None);
    }
}

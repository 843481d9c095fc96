//! Many requests in flight from one single-threaded component: a bounded window of started
//! requests, retries with backoff on a timer instead of blocking, a pause for everyone when 429s
//! show a rate limit, and one re-authentication when credentials expire mid-run.

use super::retry::Verdict;
use super::{HttpError, Request, Response, RetryPolicy, Transport, TransportError};
use crate::error::Error;
use std::collections::{HashMap, VecDeque};

/// A rate limit is learnt over this window (the services count requests per minute).
const RATE_WINDOW_MS: u64 = 60_000;
/// Once limited, stay this far below the rate that got through.
const RATE_HEADROOM: f64 = 0.9;
/// Fewer requests than this in a minute tell nothing about a limit (a stray 429 under load).
const RATE_MIN_SAMPLE: usize = 50;
/// A limit shows as 429s for most of the requests in flight at once, where stray 429s (a few
/// percent, at random) are spread among successes: at least `LIMIT_EVIDENCE` of the last
/// `LIMIT_SAMPLE` answers. At 5% stray 429s that happens about once in 2,000 answers.
const LIMIT_SAMPLE: usize = 8;
const LIMIT_EVIDENCE: usize = 4;
/// Each success relaxes the pace this much, so a limit that is gone stops slowing the run within
/// a few dozen requests; a limit still there is met again at once (`limit`) and paced again.
const PACE_RELAX: f64 = 0.95;

/// A declared limit is kept this far under: retries and the service's own clock count too.
const DECLARED_HEADROOM: f64 = 0.95;
/// A declared limit's window is kept in this many slices, each with its share of the requests.
const DECLARED_BURSTS: u64 = 20;

/// A request answered 401 is sent again with renewed credentials at most this often. More than
/// once, because a short-lived token can expire again while the request waits out a backoff;
/// bounded, because credentials the service refuses right after a login are not going to work.
const RENEWALS_PER_REQUEST: u32 = 3;

/// Adds credentials to requests. One implementation per service and auth mode.
pub trait Auth {
    /// Called for every attempt (signatures need a fresh nonce each time); may log in first
    /// through `http`.
    fn sign(&mut self, request: &mut Request, http: &mut Scheduler) -> Result<(), Error>;
    /// An attempt signed at `generation` was answered 401. Renew the credentials if that is
    /// possible (and not already done since); `Ok(true)` means "send it again".
    fn renew(&mut self, generation: u64, http: &mut Scheduler) -> Result<bool, Error> {
        let _ = (generation, http);
        Ok(false)
    }
    /// Bumped on every renewal, so 401s of requests signed before it don't renew twice.
    fn generation(&self) -> u64 {
        0
    }
    /// Whether an answer says the credentials were refused (401; some services say it otherwise).
    fn refused(&self, response: &Response) -> bool {
        response.status == 401
    }
}

/// For requests that carry their own credentials (or none).
pub struct NoAuth;

impl Auth for NoAuth {
    fn sign(&mut self, _: &mut Request, _: &mut Scheduler) -> Result<(), Error> {
        Ok(())
    }
}

/// What the completion callback wants next.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Start nothing new, abandon what is in flight, return.
    Stop,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Attempts put on the wire.
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub reauthentications: u64,
}

struct Job<C> {
    context: C,
    request: Request,
    attempt: u32,
    not_before_ms: u64,
    auth_generation: u64,
    /// When the last attempt started, to forget it in `recent_starts` if it was refused.
    started_ms: u64,
    /// Fresh credentials this request was sent again with after a 401.
    renewals: u32,
}

pub struct Scheduler<'t> {
    transport: &'t mut dyn Transport,
    pub policy: RetryPolicy,
    max_in_flight: usize,
    /// Requests in flight at most: halved on evidence of a rate limit, one more per success.
    window: f64,
    deadline_ms: u64,
    /// Nothing starts before this: set only on evidence of a rate limit, not for a stray 429.
    paused_until_ms: u64,
    /// Start times of recent attempts that were not rate limited, to learn the service's limit.
    recent_starts: VecDeque<u64>,
    /// The last `LIMIT_SAMPLE` HTTP answers, `true` for a 429.
    recent_answers: VecDeque<bool>,
    /// Requests that got through in the minute before a limit was last met: a 429 at that rate
    /// again is the same limit, even a single one. Forgotten once more than that get through.
    limit: Option<usize>,
    /// Once a rate limit was learnt: the least time between two request starts.
    pace_ms: Option<f64>,
    last_start_ms: u64,
    /// A limit the service documents as (starts, window ms) pairs, met by counting: at most that
    /// many starts in any such window (the whole window, and a slice of it that bounds bursts).
    declared: Vec<(usize, u64)>,
    declared_starts: VecDeque<u64>,
    next_id: u64,
    /// Completions that `send` saw while waiting for its own, owed to a running `run`.
    stashed: Vec<(u64, Result<Response, TransportError>)>,
    pub stats: Stats,
}

impl<'t> Scheduler<'t> {
    pub fn new(transport: &'t mut dyn Transport, policy: RetryPolicy, max_in_flight: usize, budget_ms: u64) -> Self {
        let deadline_ms = transport.now_ms().saturating_add(budget_ms);
        let max_in_flight = max_in_flight.max(1);
        Scheduler {
            transport,
            policy,
            max_in_flight,
            window: max_in_flight as f64,
            deadline_ms,
            paused_until_ms: 0,
            recent_starts: VecDeque::new(),
            recent_answers: VecDeque::new(),
            limit: None,
            pace_ms: None,
            last_start_ms: 0,
            declared: Vec::new(),
            declared_starts: VecDeque::new(),
            next_id: 0,
            stashed: Vec::new(),
            stats: Stats::default(),
        }
    }

    pub fn now_ms(&self) -> u64 {
        self.transport.now_ms()
    }

    pub fn unix_seconds(&self) -> u64 {
        self.transport.unix_seconds()
    }

    pub fn random_u64(&mut self) -> u64 {
        self.transport.random_u64()
    }

    /// Milliseconds left of the action's time budget.
    pub fn remaining_ms(&self) -> u64 {
        self.deadline_ms.saturating_sub(self.now_ms())
    }

    /// One request with retries and no auth hook, e.g. a login. Safe to call from inside `run`.
    pub fn send(&mut self, request: Request) -> Result<Response, HttpError> {
        let mut result = None;
        let _ = self.run_jobs(&mut NoAuth, vec![((), request)], &mut |(), outcome, _| {
            result = Some(outcome);
            Flow::Stop
        });
        result.unwrap_or_else(unreachable_outcome)
    }

    /// One request with `auth`.
    pub fn send_with(&mut self, auth: &mut dyn Auth, request: Request) -> Result<Result<Response, HttpError>, Error> {
        let mut result = None;
        self.run_jobs(auth, vec![((), request)], &mut |(), outcome, _| {
            result = Some(outcome);
            Flow::Stop
        })?;
        Ok(result.unwrap_or_else(unreachable_outcome))
    }

    /// Runs `jobs` with up to `max_in_flight` in flight; `on_done` sees each final outcome (after
    /// retries) with its context and may queue follow-up jobs (the next page) through the sender.
    /// Only an auth failure aborts the whole run.
    pub fn run<C>(
        &mut self,
        auth: &mut dyn Auth,
        jobs: impl IntoIterator<Item = (C, Request)>,
        mut on_done: impl FnMut(C, Result<Response, HttpError>, &mut FollowUps<C>) -> Flow,
    ) -> Result<(), Error> {
        self.run_jobs(auth, jobs.into_iter().collect(), &mut on_done)
    }

    fn run_jobs<C>(
        &mut self,
        auth: &mut dyn Auth,
        jobs: Vec<(C, Request)>,
        on_done: &mut OnDone<C>,
    ) -> Result<(), Error> {
        let mut ready: VecDeque<Job<C>> = jobs.into_iter().map(|(c, r)| new_job(c, r)).collect();
        let mut delayed: Vec<Job<C>> = Vec::new();
        let mut in_flight: HashMap<u64, Job<C>> = HashMap::new();
        let mut follow_ups = FollowUps { jobs: Vec::new(), first: Vec::new(), remaining_ms: 0 };

        while !(ready.is_empty() && delayed.is_empty() && in_flight.is_empty()) {
            let now = self.now_ms();
            // Backoffs that have run out join the queue again.
            let mut i = 0;
            while i < delayed.len() {
                if delayed[i].not_before_ms <= now {
                    ready.push_back(delayed.swap_remove(i));
                } else {
                    i += 1;
                }
            }

            self.forget_old_starts(now);
            while now >= self.next_start_ms() && in_flight.len() < self.allowed_in_flight() && !ready.is_empty() {
                let Some(mut job) = ready.pop_front() else { break };
                if now >= self.deadline_ms {
                    let error = HttpError::BudgetExhausted { request: job.request.describe() };
                    if self.finish(job.context, Err(error), on_done, &mut follow_ups, &mut ready) == Flow::Stop {
                        return Ok(());
                    }
                    continue;
                }
                let mut attempt = job.request.clone();
                auth.sign(&mut attempt, self)?;
                job.auth_generation = auth.generation();
                job.attempt += 1;
                self.stats.requests += 1;
                job.started_ms = now;
                self.note_start(now);
                let id = self.next_id;
                self.next_id += 1;
                // A request that cannot even start is answered like one that failed on the wire.
                if let Err(error) = self.transport.start(id, &attempt) {
                    self.stashed.push((id, Err(error)));
                }
                in_flight.insert(id, job);
            }

            let completions = if self.stashed.iter().any(|(id, _)| in_flight.contains_key(id)) {
                let (mine, theirs): (Vec<_>, Vec<_>) =
                    std::mem::take(&mut self.stashed).into_iter().partition(|(id, _)| in_flight.contains_key(id));
                self.stashed = theirs;
                mine
            } else {
                let wake_at = delayed
                    .iter()
                    .map(|job| job.not_before_ms)
                    .chain((!ready.is_empty()).then_some(self.next_start_ms().max(now + 1)))
                    .min();
                if in_flight.is_empty() && wake_at.is_none() {
                    continue;
                }
                let got = self.transport.wait(wake_at);
                let (mine, theirs): (Vec<_>, Vec<_>) = got.into_iter().partition(|(id, _)| in_flight.contains_key(id));
                self.stashed.extend(theirs);
                mine
            };

            for (id, result) in completions {
                let Some(mut job) = in_flight.remove(&id) else { continue };
                let now = self.now_ms();
                if let Ok(response) = &result
                    && auth.refused(response)
                    && job.renewals < RENEWALS_PER_REQUEST
                {
                    let renewed = if job.auth_generation == auth.generation() {
                        let renewed = auth.renew(job.auth_generation, self)?;
                        if renewed {
                            self.stats.reauthentications += 1;
                        }
                        renewed
                    } else {
                        true // someone else renewed since this attempt was signed
                    };
                    if renewed {
                        job.renewals += 1;
                        ready.push_front(job);
                        continue;
                    }
                }
                let random = self.transport.random_u64();
                let verdict = self.policy.judge(&job.request, &result, job.attempt, random);
                let outcome = match verdict {
                    Verdict::Retry { after_ms, rate_limited } => {
                        if rate_limited {
                            self.rate_limited(now, job.started_ms, after_ms);
                        }
                        if now + after_ms < self.deadline_ms {
                            self.stats.retries += 1;
                            job.not_before_ms = now + after_ms;
                            delayed.push(job);
                            continue;
                        }
                        Err(HttpError::BudgetExhausted { request: job.request.describe() })
                    }
                    Verdict::OutcomeUnknown => Err(HttpError::OutcomeUnknown {
                        request: job.request.describe(),
                        error: match &result {
                            Ok(response) => format!("HTTP {}", response.status),
                            Err(error) => error.to_string(),
                        },
                    }),
                    Verdict::Done => {
                        if matches!(&result, Ok(r) if r.status != 429) {
                            self.got_through();
                        }
                        result.map_err(|error| HttpError::Transport {
                            request: job.request.describe(),
                            error,
                            attempts: job.attempt,
                        })
                    }
                };
                if self.finish(job.context, outcome, on_done, &mut follow_ups, &mut ready) == Flow::Stop {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Never more than `requests` in flight from now on (a service's own concurrency limit, e.g.
    /// Graph's four per mailbox).
    pub fn cap_in_flight(&mut self, requests: usize) {
        self.max_in_flight = self.max_in_flight.min(requests.max(1));
        self.window = self.window.min(self.max_in_flight as f64);
    }

    /// Keeps every later request within `requests` per rolling `window_ms` (a documented limit,
    /// e.g. Halo's 300 per 5 minutes), a little under it so retries and clock drift stay inside.
    /// The same rate holds over each twentieth of the window: a burst is at most a twentieth of
    /// the limit, so an action that starts right after another (whose requests the service still
    /// counts) stays inside the limit too.
    pub fn limit_to(&mut self, requests: u32, window_ms: u64) {
        let allowed = ((f64::from(requests) * DECLARED_HEADROOM) as u64).max(1);
        let burst = (allowed / DECLARED_BURSTS).max(1);
        let window_ms = window_ms.max(1);
        self.declared = vec![(allowed as usize, window_ms), (burst as usize, (window_ms * burst).div_ceil(allowed))];
    }

    /// When the next request may start: after any pause, paced once a limit was learnt, and
    /// inside a declared limit.
    fn next_start_ms(&self) -> u64 {
        let paced = self.pace_ms.map_or(0, |pace| self.last_start_ms + pace as u64);
        let starts = &self.declared_starts;
        let declared = (self.declared.iter())
            .filter(|(allowed, _)| starts.len() >= *allowed)
            .map(|(allowed, window_ms)| starts[starts.len() - allowed] + window_ms)
            .max()
            .unwrap_or(0);
        self.paused_until_ms.max(paced).max(declared)
    }

    /// Near a known limit, one request at a time: if the limit is still there, only that one is
    /// refused, not all the window.
    fn allowed_in_flight(&self) -> usize {
        match self.limit {
            Some(limit) if self.recent_starts.len() as f64 >= limit as f64 * RATE_HEADROOM => 1,
            _ => self.window as usize,
        }
    }

    fn note_start(&mut self, now: u64) {
        self.last_start_ms = now;
        self.recent_starts.push_back(now);
        // The first pair is the whole window: the most starts over the longest time.
        if let Some(&(allowed, window_ms)) = self.declared.first() {
            self.declared_starts.push_back(now);
            while self.declared_starts.len() > allowed
                || self.declared_starts.front().is_some_and(|&t| t + window_ms <= now)
            {
                self.declared_starts.pop_front();
            }
        }
    }

    fn forget_old_starts(&mut self, now: u64) {
        while self.recent_starts.front().is_some_and(|&t| t + RATE_WINDOW_MS <= now) {
            self.recent_starts.pop_front();
        }
    }

    fn note_answer(&mut self, rate_limited: bool) {
        self.recent_answers.push_back(rate_limited);
        if self.recent_answers.len() > LIMIT_SAMPLE {
            self.recent_answers.pop_front();
        }
    }

    /// An answer that was not a 429: grow the window back fast (one per success, so it doubles
    /// every round trip) and relax the pace.
    fn got_through(&mut self) {
        self.note_answer(false);
        self.window = (self.window + 1.0).min(self.max_in_flight as f64);
        self.pace_ms = self.pace_ms.map(|p| p * PACE_RELAX).filter(|p| *p >= 1.0);
        // More got through in a minute than when it was met: that was no limit, or it was raised.
        if self.limit.is_some_and(|limit| self.recent_starts.len() > limit) {
            self.limit = None;
        }
    }

    /// A 429. The refused request waits out its own Retry-After (its retry is delayed by the
    /// caller). Only evidence of a limit slows everyone: most recent answers refused, or a 429
    /// at the rate that was refused before. Then pause everyone until Retry-After, halve the
    /// window, and pace requests just under the rate that got through, so the limit is met
    /// instead of hit again.
    fn rate_limited(&mut self, now: u64, started_ms: u64, retry_after_ms: u64) {
        self.stats.rate_limited += 1;
        // The refused attempt is in `recent_starts` too; it did not get through.
        if let Some(i) = self.recent_starts.iter().rposition(|&t| t == started_ms) {
            self.recent_starts.remove(i);
        }
        self.note_answer(true);
        let got_through = self.recent_starts.len();
        let clustered = self.recent_answers.iter().filter(|&&refused| refused).count() >= LIMIT_EVIDENCE;
        let at_known_limit = self.limit.is_some_and(|limit| got_through as f64 >= limit as f64 * RATE_HEADROOM);
        if got_through < RATE_MIN_SAMPLE || !(clustered || at_known_limit) {
            return;
        }
        self.limit = Some(got_through);
        // The answers that made this evidence must not count again.
        self.recent_answers.clear();
        self.paused_until_ms = self.paused_until_ms.max(now + retry_after_ms);
        self.window = (self.window / 2.0).max(1.0);
        // The rate that got through, over the time it took (a limit met in a burst is met again
        // through the pause, not the pace).
        let span_ms = self.recent_starts.front().map_or(RATE_WINDOW_MS, |&first| now - first).max(1);
        let pace = span_ms as f64 / (got_through as f64 * RATE_HEADROOM);
        self.pace_ms = Some(self.pace_ms.map_or(pace, |p| p.max(pace))).filter(|p| *p >= 1.0);
    }

    fn finish<C>(
        &mut self,
        context: C,
        outcome: Result<Response, HttpError>,
        on_done: &mut OnDone<C>,
        follow_ups: &mut FollowUps<C>,
        ready: &mut VecDeque<Job<C>>,
    ) -> Flow {
        follow_ups.remaining_ms = self.remaining_ms();
        let flow = on_done(context, outcome, follow_ups);
        ready.extend(follow_ups.jobs.drain(..).map(|(c, r)| new_job(c, r)));
        for (c, r) in follow_ups.first.drain(..).rev() {
            ready.push_front(new_job(c, r));
        }
        flow
    }
}

/// What `run` calls with each finished job.
type OnDone<'f, C> = dyn FnMut(C, Result<Response, HttpError>, &mut FollowUps<C>) -> Flow + 'f;

/// Lets a completion queue the requests that depend on it.
pub struct FollowUps<C> {
    jobs: Vec<(C, Request)>,
    /// Started before everything already waiting.
    first: Vec<(C, Request)>,
    remaining_ms: u64,
}

impl<C> FollowUps<C> {
    /// What is left of the action's time budget.
    pub fn remaining_ms(&self) -> u64 {
        self.remaining_ms
    }

    pub fn push(&mut self, context: C, request: Request) {
        self.jobs.push((context, request));
    }

    /// Queues a request ahead of everything already waiting: for a chain the whole run waits on
    /// (creates one at a time), which a long queue under a rate limit would otherwise starve.
    pub fn push_first(&mut self, context: C, request: Request) {
        self.first.push((context, request));
    }
}

fn new_job<C>(context: C, request: Request) -> Job<C> {
    Job { context, request, attempt: 0, not_before_ms: 0, auth_generation: 0, started_ms: 0, renewals: 0 }
}

fn unreachable_outcome() -> Result<Response, HttpError> {
    // run_jobs reports every job it was given unless auth fails, which `send` does not use.
    Err(HttpError::BudgetExhausted { request: "request".to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::fake::{FakeTransport, Reply};
    use crate::http::{Method, Origin, TransportErrorKind};
    use std::cell::Cell;
    use std::rc::Rc;

    fn origin() -> Rc<Origin> {
        Rc::new(Origin::parse("https://api.example.com").unwrap())
    }

    fn get(path: &str) -> Request {
        Request::new(Method::Get, &origin(), path)
    }

    fn collect(
        http: &mut Scheduler,
        auth: &mut dyn Auth,
        jobs: Vec<(usize, Request)>,
    ) -> Vec<(usize, Result<Response, HttpError>)> {
        let mut out = Vec::new();
        http.run(auth, jobs, |i, r, _| {
            out.push((i, r));
            Flow::Continue
        })
        .unwrap();
        out.sort_by_key(|(i, _)| *i);
        out
    }

    #[test]
    fn keeps_the_window_full_and_no_fuller() {
        let mut transport = FakeTransport::new(|_| Reply::status(200).after(100));
        let mut http = Scheduler::new(&mut transport, RetryPolicy::default(), 8, 60_000);
        let started = http.now_ms();
        let jobs = (0..40).map(|i| (i, get(&format!("/item/{i}")))).collect();
        let results = collect(&mut http, &mut NoAuth, jobs);
        let elapsed = http.now_ms() - started;
        assert_eq!(results.len(), 40);
        assert!(results.iter().all(|(_, r)| r.as_ref().unwrap().status == 200));
        assert_eq!(elapsed, 500, "40 requests of 100 ms, 8 at a time");
        assert_eq!(transport.peak_in_flight, 8);
    }

    #[test]
    fn retries_transient_failures_then_succeeds() {
        let calls = Cell::new(0);
        let mut transport = FakeTransport::new(|_| {
            calls.set(calls.get() + 1);
            match calls.get() {
                1 => Reply::status(503),
                2 => Reply::error(TransportError::new(TransportErrorKind::Connection, "reset")),
                _ => Reply::status(200),
            }
        });
        let mut http = Scheduler::new(&mut transport, RetryPolicy::default(), 4, 60_000);
        let results = collect(&mut http, &mut NoAuth, vec![(0, get("/x"))]);
        assert_eq!(results[0].1.as_ref().unwrap().status, 200);
        assert_eq!(http.stats.requests, 3);
        assert_eq!(http.stats.retries, 2);
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let mut transport = FakeTransport::new(|_| Reply::status(502));
        let policy = RetryPolicy { max_attempts: 3, ..RetryPolicy::default() };
        let mut http = Scheduler::new(&mut transport, policy, 4, 60_000);
        let results = collect(&mut http, &mut NoAuth, vec![(0, get("/x"))]);
        assert_eq!(results[0].1.as_ref().unwrap().status, 502, "the last answer is handed over");
        assert_eq!(http.stats.requests, 3);
    }

    #[test]
    fn honours_retry_after_for_the_refused_request() {
        let first = Cell::new(true);
        let mut transport = FakeTransport::new(|_| {
            if first.replace(false) { Reply::status(429).with_header("Retry-After", "2") } else { Reply::status(200) }
        });
        let mut http = Scheduler::new(&mut transport, RetryPolicy::default(), 1, 60_000);
        let started = http.now_ms();
        let results = collect(&mut http, &mut NoAuth, vec![(0, get("/a")), (1, get("/b"))]);
        assert!(results.iter().all(|(_, r)| r.as_ref().unwrap().status == 200));
        assert_eq!(http.stats.rate_limited, 1);
        assert!(http.now_ms() - started >= 2_000, "the refused request waits out its Retry-After");
    }

    /// A service allowing `per_minute` requests per rolling minute, as the simulators and
    /// ConnectWise do: over it, 429 with Retry-After until the oldest admitted request leaves.
    fn rolling_limit(clock: Rc<Cell<u64>>, per_minute: usize, latency_ms: u64) -> impl FnMut(&Request) -> Reply {
        let mut accepted: VecDeque<u64> = VecDeque::new();
        move |_| {
            let now = clock.get();
            while accepted.front().is_some_and(|&t| t + 60_000 <= now) {
                accepted.pop_front();
            }
            if accepted.len() >= per_minute {
                let wait = accepted.front().map_or(1, |&t| (t + 60_000 - now).div_ceil(1000));
                return Reply::status(429).with_header("Retry-After", &wait.to_string()).after(latency_ms);
            }
            accepted.push_back(now);
            Reply::status(200).after(latency_ms)
        }
    }

    #[test]
    fn a_learnt_rate_limit_keeps_429s_rare() {
        let clock = Rc::new(Cell::new(0));
        let mut transport = FakeTransport::with_clock(clock.clone(), rolling_limit(clock, 100, 10));
        let mut http =
            Scheduler::new(&mut transport, RetryPolicy { max_attempts: 20, ..RetryPolicy::default() }, 8, 3_600_000);
        let results = collect(&mut http, &mut NoAuth, (0..400).map(|i| (i, get("/x"))).collect());
        assert!(results.iter().all(|(_, r)| r.as_ref().unwrap().status == 200), "every request got through");
        eprintln!("100/min: {} of {} requests rate limited", http.stats.rate_limited, http.stats.requests);
        let share = http.stats.rate_limited as f64 / http.stats.requests as f64;
        assert!(share < 0.02, "{} of {} requests were rate limited", http.stats.rate_limited, http.stats.requests);
    }

    /// The benchmark's case: a limit of 1,000 a minute, a run of 2.5 times that.
    #[test]
    fn a_limit_of_1000_a_minute_is_met() {
        let clock = Rc::new(Cell::new(0));
        let mut transport = FakeTransport::with_clock(clock.clone(), rolling_limit(clock, 1000, 25));
        let mut http =
            Scheduler::new(&mut transport, RetryPolicy { max_attempts: 20, ..RetryPolicy::default() }, 8, 3_600_000);
        let started = http.now_ms();
        let results = collect(&mut http, &mut NoAuth, (0..2500).map(|i| (i, get("/x"))).collect());
        let elapsed = http.now_ms() - started;
        assert!(results.iter().all(|(_, r)| r.as_ref().unwrap().status == 200), "every request got through");
        let (limited, requests) = (http.stats.rate_limited, http.stats.requests);
        eprintln!("1000/min: {limited} of {requests} requests rate limited, {elapsed} ms virtual");
        assert!((limited as f64) < 0.02 * requests as f64, "{limited} of {requests} requests were rate limited");
    }

    /// Deterministic pseudo-random numbers for fake services (xorshift).
    fn random(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// 2,000 requests at 8 in flight, 25 ms each; `p429` of the answers (at random) are 429 with
    /// Retry-After 1 s. Returns the virtual time the run took and the Retry-After pauses as
    /// (from, to) intervals.
    fn run_with_stray_429s(p429: f64) -> (u64, Vec<(u64, u64)>) {
        let clock = Rc::new(Cell::new(0));
        let now = clock.clone();
        let pauses = Rc::new(std::cell::RefCell::new(Vec::new()));
        let seen = pauses.clone();
        let mut next = random(7);
        let mut transport = FakeTransport::with_clock(clock, move |_| {
            if (next() % 10_000) as f64 / 10_000.0 < p429 {
                let answered = now.get() + 25;
                seen.borrow_mut().push((answered, answered + 1_000));
                return Reply::status(429).with_header("Retry-After", "1").after(25);
            }
            Reply::status(200).after(25)
        });
        let mut http =
            Scheduler::new(&mut transport, RetryPolicy { max_attempts: 20, ..RetryPolicy::default() }, 8, 3_600_000);
        let started = http.now_ms();
        let results = collect(&mut http, &mut NoAuth, (0..2000).map(|i| (i, get("/x"))).collect());
        assert!(results.iter().all(|(_, r)| r.as_ref().unwrap().status == 200), "every request got through");
        let elapsed = http.now_ms() - started;
        drop(transport);
        let pauses = pauses.borrow().clone();
        (elapsed, pauses)
    }

    /// Milliseconds covered by `intervals`, overlaps counted once.
    fn covered_ms(mut intervals: Vec<(u64, u64)>) -> u64 {
        intervals.sort_unstable();
        let mut total = 0;
        let mut reached = 0;
        for (from, to) in intervals {
            let from = from.max(reached);
            if to > from {
                total += to - from;
                reached = to;
            }
        }
        total
    }

    /// Random 429s among many successes are no rate limit: each refused request waits out its own
    /// Retry-After while the others go on at full speed.
    #[test]
    fn stray_429s_delay_only_their_own_requests() {
        let (fault_free_ms, none) = run_with_stray_429s(0.0);
        assert!(none.is_empty());
        let (elapsed, pauses) = run_with_stray_429s(0.05);
        assert!(pauses.len() > 50, "the service did answer 429 now and then");
        let paused_ms = covered_ms(pauses);
        eprintln!("stray 429s: {elapsed} ms virtual; fault-free {fault_free_ms} ms, pauses cover {paused_ms} ms");
        assert!(
            elapsed * 2 <= 3 * (fault_free_ms + paused_ms),
            "{elapsed} ms against {fault_free_ms} ms without 429s and {paused_ms} ms of Retry-After pauses"
        );
    }

    #[test]
    fn a_failed_post_is_not_repeated_blindly() {
        let mut transport = FakeTransport::new(|_| Reply::status(503));
        let mut http = Scheduler::new(&mut transport, RetryPolicy::default(), 4, 60_000);
        let post = Request::new(Method::Post, &origin(), "/tickets");
        let results = collect(&mut http, &mut NoAuth, vec![(0, post)]);
        assert!(matches!(results[0].1, Err(HttpError::OutcomeUnknown { .. })));
        assert_eq!(http.stats.requests, 1);
    }

    /// Token auth whose first token has expired: every request renews at most once.
    struct TokenAuth {
        token: u32,
        renewals: u32,
    }

    impl Auth for TokenAuth {
        fn sign(&mut self, request: &mut Request, _: &mut Scheduler) -> Result<(), Error> {
            request.set_header("authorization", format!("token-{}", self.token));
            Ok(())
        }
        fn renew(&mut self, _: u64, http: &mut Scheduler) -> Result<bool, Error> {
            // Logging in goes through the same scheduler while other requests are in flight.
            let login = http.send(Request::new(Method::Post, &origin(), "/login").retry_safe()).unwrap();
            assert_eq!(login.status, 200);
            self.token += 1;
            self.renewals += 1;
            Ok(true)
        }
        fn generation(&self) -> u64 {
            u64::from(self.token)
        }
    }

    /// A service that logs anyone in and accepts only `token`.
    fn accepting(token: &'static str) -> impl FnMut(&Request) -> Reply {
        move |r| {
            let sent = r.headers.iter().find(|(n, _)| n == "authorization").map(|(_, v)| v.as_str());
            match (r.path.as_str(), sent) {
                ("/login", _) => Reply::status(200),
                (_, Some(t)) if t == token => Reply::status(200),
                _ => Reply::status(401),
            }
        }
    }

    #[test]
    fn renews_an_expired_token_once_for_all_requests() {
        let mut transport = FakeTransport::new(accepting("token-1"));
        let mut auth = TokenAuth { token: 0, renewals: 0 };
        let mut http = Scheduler::new(&mut transport, RetryPolicy::default(), 4, 60_000);
        let jobs = (0..10).map(|i| (i, get(&format!("/{i}")))).collect();
        let results = collect(&mut http, &mut auth, jobs);
        assert!(results.iter().all(|(_, r)| r.as_ref().unwrap().status == 200));
        assert_eq!(auth.renewals, 1);
    }

    #[test]
    fn a_401_that_outlasts_the_renewals_is_handed_over() {
        let mut transport =
            FakeTransport::new(|r| if r.path == "/login" { Reply::status(200) } else { Reply::status(401) });
        let mut auth = TokenAuth { token: 0, renewals: 0 };
        let mut http = Scheduler::new(&mut transport, RetryPolicy::default(), 4, 60_000);
        let results = collect(&mut http, &mut auth, vec![(0, get("/x"))]);
        assert_eq!(results[0].1.as_ref().unwrap().status, 401);
        assert_eq!(auth.renewals, RENEWALS_PER_REQUEST);
    }

    /// A short-lived token expires again while its request waits out a backoff: renewed again.
    #[test]
    fn a_token_that_expires_again_is_renewed_again() {
        let mut transport = FakeTransport::new(accepting("token-3"));
        let mut auth = TokenAuth { token: 1, renewals: 0 };
        let mut http = Scheduler::new(&mut transport, RetryPolicy::default(), 4, 60_000);
        let results = collect(&mut http, &mut auth, vec![(0, get("/x"))]);
        assert_eq!(results[0].1.as_ref().unwrap().status, 200);
        assert_eq!(auth.renewals, 2);
    }

    #[test]
    fn follow_ups_fetch_every_page() {
        let mut transport = FakeTransport::new(|r| {
            let page: u32 = r.path.trim_start_matches("/page/").parse().unwrap();
            Reply::json(200, &serde_json::json!({ "page": page, "next": if page < 5 { Some(page + 1) } else { None } }))
        });
        let mut http = Scheduler::new(&mut transport, RetryPolicy::default(), 4, 60_000);
        let mut seen = Vec::new();
        http.run(&mut NoAuth, vec![((), get("/page/1"))], |(), r, next| {
            let body: serde_json::Value = serde_json::from_slice(&r.unwrap().body).unwrap();
            seen.push(body["page"].as_u64().unwrap());
            if let Some(n) = body["next"].as_u64() {
                next.push((), get(&format!("/page/{n}")));
            }
            Flow::Continue
        })
        .unwrap();
        assert_eq!(seen, vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn stop_abandons_the_rest() {
        let mut transport = FakeTransport::new(|_| Reply::status(200));
        let mut http = Scheduler::new(&mut transport, RetryPolicy::default(), 2, 60_000);
        let mut done = 0;
        http.run(&mut NoAuth, (0..10).map(|i| (i, get("/x"))), |_, _, _| {
            done += 1;
            if done == 3 { Flow::Stop } else { Flow::Continue }
        })
        .unwrap();
        assert_eq!(done, 3);
        assert!(http.stats.requests <= 4);
    }

    #[test]
    fn the_time_budget_bounds_retries() {
        let mut transport = FakeTransport::new(|_| Reply::status(503).after(400));
        let policy = RetryPolicy { max_attempts: 20, ..RetryPolicy::default() };
        let mut http = Scheduler::new(&mut transport, policy, 2, 3_000);
        let results = collect(&mut http, &mut NoAuth, vec![(0, get("/x"))]);
        assert!(matches!(results[0].1, Err(HttpError::BudgetExhausted { .. })));
        assert!(http.stats.requests < 20);
    }

    /// A documented limit (Halo's 300 per 5 minutes) is met by counting: bursts go at full
    /// speed, and no rolling window ever holds more than the limit less its margin.
    #[test]
    fn a_declared_limit_is_never_exceeded() {
        let clock = Rc::new(Cell::new(0));
        let starts: Rc<std::cell::RefCell<Vec<u64>>> = Rc::default();
        let (time, seen) = (clock.clone(), starts.clone());
        let mut transport = FakeTransport::with_clock(clock, move |_: &Request| {
            seen.borrow_mut().push(time.get());
            Reply::json(200, &serde_json::json!({})).after(20)
        });
        let mut http = Scheduler::new(&mut transport, RetryPolicy::default(), 8, 3_600_000);
        http.limit_to(100, 60_000);
        let jobs: Vec<(usize, Request)> = (0..250).map(|i| (i, get("/x"))).collect();
        let done = collect(&mut http, &mut NoAuth, jobs);
        assert_eq!(done.len(), 250);
        let starts = starts.borrow();
        assert!(starts.windows(96).all(|w| w[95] >= w[0] + 60_000), "more than 95 starts in a minute");
        // Bursts of a twentieth: the next action, starting at once, finds the limit unspent.
        assert!(starts[3] < 1_000, "a short burst goes at once: {}", starts[3]);
        assert!(starts.windows(5).all(|w| w[4] >= w[0] + 60_000 * 4 / 95), "a burst of more than 4");
        assert!(
            *starts.last().unwrap() < 250 * 60_000 / 95 + 3_000,
            "no slower than the limit needs: {}",
            starts.last().unwrap()
        );
    }
}

//! Many requests in flight from one single-threaded component: a bounded window of started
//! requests, retries with backoff on a timer instead of blocking, a pause for everyone when a
//! service says 429, and one re-authentication when credentials expire mid-run.

use super::retry::Verdict;
use super::{HttpError, Request, Response, RetryPolicy, Transport, TransportError};
use crate::error::Error;
use std::collections::{HashMap, VecDeque};

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
    renewed: bool,
}

pub struct Scheduler<'t> {
    transport: &'t mut dyn Transport,
    pub policy: RetryPolicy,
    max_in_flight: usize,
    /// Additive-increase / multiplicative-decrease window under rate limiting.
    window: f64,
    deadline_ms: u64,
    paused_until_ms: u64,
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
        result.unwrap_or_else(|| unreachable_outcome())
    }

    /// One request with `auth`.
    pub fn send_with(&mut self, auth: &mut dyn Auth, request: Request) -> Result<Result<Response, HttpError>, Error> {
        let mut result = None;
        self.run_jobs(auth, vec![((), request)], &mut |(), outcome, _| {
            result = Some(outcome);
            Flow::Stop
        })?;
        Ok(result.unwrap_or_else(|| unreachable_outcome()))
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
        on_done: &mut dyn FnMut(C, Result<Response, HttpError>, &mut FollowUps<C>) -> Flow,
    ) -> Result<(), Error> {
        let mut ready: VecDeque<Job<C>> = jobs.into_iter().map(|(c, r)| new_job(c, r)).collect();
        let mut delayed: Vec<Job<C>> = Vec::new();
        let mut in_flight: HashMap<u64, Job<C>> = HashMap::new();
        let mut follow_ups = FollowUps { jobs: Vec::new() };

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

            while now >= self.paused_until_ms && in_flight.len() < self.window as usize && !ready.is_empty() {
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
                    .chain((!ready.is_empty()).then_some(self.paused_until_ms.max(now + 1)))
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
                    && response.status == 401
                    && !job.renewed
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
                        job.renewed = true;
                        ready.push_front(job);
                        continue;
                    }
                }
                let random = self.transport.random_u64();
                let verdict = self.policy.judge(&job.request, &result, job.attempt, random);
                let outcome = match verdict {
                    Verdict::Retry { after_ms, rate_limited } => {
                        if rate_limited {
                            self.stats.rate_limited += 1;
                            self.paused_until_ms = self.paused_until_ms.max(now + after_ms);
                            self.window = (self.window / 2.0).max(1.0);
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
                            self.window = (self.window + 1.0 / self.window).min(self.max_in_flight as f64);
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

    fn finish<C>(
        &mut self,
        context: C,
        outcome: Result<Response, HttpError>,
        on_done: &mut dyn FnMut(C, Result<Response, HttpError>, &mut FollowUps<C>) -> Flow,
        follow_ups: &mut FollowUps<C>,
        ready: &mut VecDeque<Job<C>>,
    ) -> Flow {
        let flow = on_done(context, outcome, follow_ups);
        ready.extend(follow_ups.jobs.drain(..).map(|(c, r)| new_job(c, r)));
        flow
    }
}

/// Lets a completion queue the requests that depend on it.
pub struct FollowUps<C> {
    jobs: Vec<(C, Request)>,
}

impl<C> FollowUps<C> {
    pub fn push(&mut self, context: C, request: Request) {
        self.jobs.push((context, request));
    }
}

fn new_job<C>(context: C, request: Request) -> Job<C> {
    Job { context, request, attempt: 0, not_before_ms: 0, auth_generation: 0, renewed: false }
}

fn unreachable_outcome() -> Result<Response, HttpError> {
    // run_jobs reports every job it was given unless auth fails, which `send` does not use.
    Err(HttpError::BudgetExhausted { request: "request".to_string() })
}

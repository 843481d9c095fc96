//! The platform's recurring work, run locally.
//!
//! `task`: one run after another, each given the state the last successful run returned (kept in
//! a state file, replaced atomically); a failed run keeps the old state; `has_more_pages` runs
//! again at once, otherwise the next run waits the interval.
//!
//! `trigger`: one poll after another; each poll's events are delivered one by one (printed one
//! per line, or POSTed to the dispatcher). Nothing is lost or repeated across a kill: before
//! delivering, the poll's new state and its undelivered events (the outbox) are written together
//! to the state file; after each delivery the outbox is written again without that event; a
//! start delivers what the outbox holds first. Only the one event in flight when the process is
//! killed (delivered, but not yet struck from the outbox) is delivered again: its `event_id` is
//! the same, so the consumer can drop it.

use crate::message::{self, ScheduledStart};
use crate::plugin::{CallOptions, Kind, Plugin};
use crate::{Called, Status, call, state_file};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use tokio::sync::watch;

/// How often, and how many times.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    pub interval: Duration,
    /// Stop after this many runs (polls); never when `None`.
    pub limit: Option<u64>,
}

/// Set by SIGINT or SIGTERM: the loops stop at the next point between runs (or deliveries).
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Listens for SIGINT and SIGTERM from now on.
    pub fn on_signals() -> Result<Stop> {
        use tokio::signal::unix::{SignalKind, signal};
        let (sender, receiver) = watch::channel(false);
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            eprintln!("psa-bridge-host: stopping after the current step");
            let _ = sender.send(true);
            // Keep the sender alive: a dropped sender would read as a change.
            std::future::pending::<()>().await;
        });
        Ok(Stop(receiver))
    }

    /// A stop that is never asked for (tests).
    pub fn never() -> Stop {
        let (sender, receiver) = watch::channel(false);
        std::mem::forget(sender);
        Stop(receiver)
    }

    pub fn requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits `duration`; false when a stop was asked for meanwhile.
    pub async fn sleep(&mut self, duration: Duration) -> bool {
        if self.requested() {
            return false;
        }
        let stopped = tokio::select! {
            _ = tokio::time::sleep(duration) => false,
            _ = self.0.wait_for(|stop| *stop) => true,
        };
        !stopped && !self.requested()
    }
}

/// One line on stdout, flushed (a reader sees it at once).
fn print_line(value: &Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string(value)?)?;
    out.flush().context("cannot write to stdout")
}

fn status_code(status: Status) -> u16 {
    match status {
        Status::Ok => 200,
        Status::Malformed | Status::Refused => 400,
        Status::ActionError | Status::Crashed => 500,
    }
}

/// Runs the task of a `task_start` message on `schedule`; true when the last run succeeded.
pub async fn run_task(
    plugin: &Plugin,
    start: &ScheduledStart,
    state_path: &Path,
    schedule: Schedule,
    options: &CallOptions,
    stop: Stop,
) -> Result<bool> {
    plugin.export(Kind::Task, &start.name).map_err(anyhow::Error::msg)?;
    let run = move |state: Value| async move {
        call(plugin, Kind::Task, &start.name, &start.connection, &start.input, &state, options).await
    };
    run_task_with(start, state_path, schedule, stop, run).await
}

/// [`run_task`] with any way of running the task once (given the state, null for none).
pub async fn run_task_with<F, Fut>(
    start: &ScheduledStart,
    state_path: &Path,
    schedule: Schedule,
    mut stop: Stop,
    mut run: F,
) -> Result<bool>
where
    F: FnMut(Value) -> Fut,
    Fut: std::future::Future<Output = Called>,
{
    let mut runs = 0u64;
    let mut last_ok = true;
    loop {
        if stop.requested() {
            break;
        }
        // The file's state, once there is one; the message's before the first success.
        let state = state_file::read(state_path)?.unwrap_or_else(|| start.state.clone());
        let called = run(state.clone()).await;
        let (kept, has_more) = match &called.result {
            Ok(output) => {
                let new_state = output.get("state").cloned().unwrap_or(Value::Null);
                // Written before the event is told: the platform's store happens with the event.
                state_file::write(state_path, &new_state)?;
                (new_state, output.get("has_more").and_then(Value::as_bool).unwrap_or(false))
            }
            Err(_) => (state, false),
        };
        last_ok = called.result.is_ok();
        let code = status_code(called.status);
        print_line(&message::task_event(&start.name, &start.meta, &called.log, &called.result, code, &kept, has_more))?;
        runs += 1;
        if schedule.limit.is_some_and(|limit| runs >= limit) {
            break;
        }
        if has_more {
            continue;
        }
        if !stop.sleep(schedule.interval).await {
            break;
        }
    }
    Ok(last_ok)
}

/// Where a trigger's events go.
pub enum Sink {
    /// One JSON line each on stdout.
    Stdout,
    /// POSTed one by one; retried with backoff until accepted (2xx).
    Dispatcher(url::Url),
}

impl Sink {
    pub fn new(url: Option<&str>) -> Result<Sink> {
        let Some(url) = url else { return Ok(Sink::Stdout) };
        let parsed = url::Url::parse(url).with_context(|| format!("the dispatcher URL {url:?} is not a URL"))?;
        if parsed.scheme() != "http" || parsed.host_str().is_none() {
            bail!("the dispatcher URL must be http://host[:port]/path (the platform's local dispatcher)");
        }
        Ok(Sink::Dispatcher(parsed))
    }

    /// Delivers one event; false when a stop was asked for before it was accepted.
    async fn deliver(&self, event: &Value, stop: &mut Stop) -> Result<bool> {
        let url = match self {
            Sink::Stdout => {
                print_line(event)?;
                return Ok(true);
            }
            Sink::Dispatcher(url) => url,
        };
        let body = serde_json::to_vec(event)?;
        let mut backoff = Duration::from_millis(200);
        loop {
            let problem = match tokio::time::timeout(Duration::from_secs(10), post(url, &body)).await {
                Ok(Ok(status)) if (200..300).contains(&status) => return Ok(true),
                Ok(Ok(status)) => format!("answered {status}"),
                Ok(Err(error)) => format!("{error:#}"),
                Err(_) => "did not answer within 10 s".to_string(),
            };
            eprintln!("psa-bridge-host: the dispatcher {problem}; retrying in {} ms", backoff.as_millis());
            if !stop.sleep(backoff).await {
                return Ok(false);
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }
}

/// One POST of JSON over HTTP/1.1; the answer's status (the webhook server's dispatcher too).
pub(crate) async fn post(url: &url::Url, body: &[u8]) -> Result<u16> {
    use http_body_util::{BodyExt, Full};
    let host = url.host_str().context("the dispatcher URL has no host")?;
    let port = url.port_or_known_default().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port)).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let path = &url[url::Position::BeforePath..];
    let request = http::Request::post(path)
        .header(http::header::HOST, format!("{host}:{port}"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(bytes::Bytes::copy_from_slice(body)))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await;
    Ok(status)
}

/// What a trigger's state file holds: the state for the next poll and the events not yet delivered.
fn trigger_file(state: &Value, outbox: &[Value]) -> Value {
    json!({"state": state, "outbox": outbox})
}

/// Delivers the outbox front to back, rewriting the file after each; false when stopped first.
async fn drain(sink: &Sink, path: &Path, state: &Value, outbox: &mut Vec<Value>, stop: &mut Stop) -> Result<bool> {
    while let Some(event) = outbox.first() {
        if stop.requested() || !sink.deliver(event, stop).await? {
            return Ok(false);
        }
        outbox.remove(0);
        state_file::write(path, &trigger_file(state, outbox))?;
    }
    Ok(true)
}

/// Polls the trigger of a `trigger_start` message on `schedule` and delivers every event.
pub async fn run_trigger(
    plugin: &Plugin,
    start: &ScheduledStart,
    state_path: &Path,
    schedule: Schedule,
    sink: &Sink,
    options: &CallOptions,
    mut stop: Stop,
) -> Result<bool> {
    plugin.export(Kind::Trigger, &start.name).map_err(anyhow::Error::msg)?;
    let file = state_file::read(state_path)?.unwrap_or_else(|| trigger_file(&Value::Null, &[]));
    let mut state = file.get("state").cloned().unwrap_or(Value::Null);
    let mut outbox: Vec<Value> = match file.get("outbox") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(events)) => events.clone(),
        Some(_) => bail!("{}: `outbox` is not a list of events", state_path.display()),
    };
    if !outbox.is_empty() {
        eprintln!("psa-bridge-host: delivering {} events left from the last run first", outbox.len());
    }
    if !drain(sink, state_path, &state, &mut outbox, &mut stop).await? {
        return Ok(true);
    }
    let mut polls = 0u64;
    let mut last_ok = true;
    loop {
        if stop.requested() {
            break;
        }
        let called = call(plugin, Kind::Trigger, &start.name, &start.connection, &start.input, &state, options).await;
        let mut has_more = false;
        match &called.result {
            Ok(poll) => {
                outbox = match poll.get("events") {
                    Some(Value::Array(events)) => {
                        events.iter().map(|e| message::trigger_event(&start.name, e.clone(), &start.meta)).collect()
                    }
                    _ => Vec::new(),
                };
                state = poll.get("state").cloned().unwrap_or(Value::Null);
                has_more = poll.get("has_more").and_then(Value::as_bool).unwrap_or(false);
                // The new state and what is owed for it, in one write: a kill after it loses nothing.
                state_file::write(state_path, &trigger_file(&state, &outbox))?;
                if !drain(sink, state_path, &state, &mut outbox, &mut stop).await? {
                    break;
                }
            }
            Err(error) => {
                eprintln!("psa-bridge-host: the poll failed (the state is kept): {error}");
                if !called.log.trim().is_empty() {
                    eprintln!("{}", called.log.trim_end());
                }
            }
        }
        last_ok = called.result.is_ok();
        polls += 1;
        if schedule.limit.is_some_and(|limit| polls >= limit) {
            break;
        }
        if has_more {
            continue;
        }
        if !stop.sleep(schedule.interval).await {
            break;
        }
    }
    Ok(last_ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn start() -> ScheduledStart {
        ScheduledStart {
            name: "sync_pair".into(),
            meta: json!({}),
            input: json!({}),
            connection: json!({}),
            state: json!({"since": "from the message"}),
            dispatcher_url: None,
        }
    }

    fn dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("psa-bridge-schedule-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn ok(state: Value, has_more: bool) -> Called {
        Called {
            result: Ok(json!({"state": state, "has_more": has_more})),
            log: String::new(),
            status: Status::Ok,
            stats: None,
        }
    }

    #[tokio::test]
    async fn has_more_pages_runs_again_at_once_and_a_failed_run_keeps_the_state() {
        let dir = dir("task");
        let path = dir.join("state.json");
        let mut given = Vec::new();
        let mut answers = vec![
            ok(json!({"since": "1"}), true),
            Called {
                result: Err(json!({"cause": "down", "assistance": "wait", "data": ""})),
                log: String::new(),
                status: Status::ActionError,
                stats: None,
            },
            ok(json!({"since": "2"}), false),
        ]
        .into_iter();
        let started = Instant::now();
        // An hour between runs: only has_more_pages (and the failure's "run again" being the limit) runs at once.
        let schedule = Schedule { interval: Duration::from_secs(3600), limit: Some(2) };
        let ok_at_end = run_task_with(&start(), &path, schedule, Stop::never(), |state| {
            given.push(state);
            let answer = answers.next().unwrap();
            async move { answer }
        })
        .await
        .unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "has_more_pages waited the interval");
        assert!(!ok_at_end, "the last run failed");
        assert_eq!(given, [json!({"since": "from the message"}), json!({"since": "1"})]);
        assert_eq!(state_file::read(&path).unwrap(), Some(json!({"since": "1"})), "the failed run kept the state");

        // The next start reads the file, not the message.
        let schedule = Schedule { interval: Duration::from_secs(3600), limit: Some(1) };
        let mut seen = Vec::new();
        run_task_with(&start(), &path, schedule, Stop::never(), |state| {
            seen.push(state);
            async { ok(json!({"since": "2"}), false) }
        })
        .await
        .unwrap();
        assert_eq!(seen, [json!({"since": "1"})]);
        assert_eq!(state_file::read(&path).unwrap(), Some(json!({"since": "2"})));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

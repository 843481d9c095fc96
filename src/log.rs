//! What the component tells its host on stderr: plain log lines (the platform's `log`) and
//! `PROGRESS {json}` lines the harness turns into a progress display. Secrets never get through.

use std::cell::RefCell;

thread_local! {
    static SECRETS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// The lines logged since [`capture`] began, for a host that wants the log in its answer
    /// (the HTTP server's action_event); `None` when nobody collects them.
    static CAPTURED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Collects every line logged from now on (as well as writing it to stderr) until [`captured`].
pub fn capture() {
    CAPTURED.with(|c| *c.borrow_mut() = Some(String::new()));
}

/// The lines collected since [`capture`], one per line, each ending in a newline; collecting stops.
pub fn captured() -> String {
    CAPTURED.with(|c| c.borrow_mut().take()).unwrap_or_default()
}

/// Values to mask in everything logged from now on (the connection's credentials).
pub fn set_secrets(secrets: Vec<String>) {
    SECRETS.with(|s| *s.borrow_mut() = secrets);
}

pub fn secrets() -> Vec<String> {
    SECRETS.with(|s| s.borrow().clone())
}

pub fn info(message: impl AsRef<str>) {
    let line = crate::error::redact(message.as_ref(), &secrets());
    CAPTURED.with(|c| {
        if let Some(log) = c.borrow_mut().as_mut() {
            log.push_str(&line);
            log.push('\n');
        }
    });
    eprintln!("{line}");
}

/// `done` of `total` items of `step`; the harness shows the latest per step.
pub fn progress(step: &str, done: usize, total: usize) {
    eprintln!("PROGRESS {}", serde_json::json!({ "step": step, "done": done, "total": total }));
}

//! What the component tells its host on stderr: plain log lines (the platform's `log`) and
//! `PROGRESS {json}` lines the harness turns into a progress display. Secrets never get through.

use std::cell::RefCell;

thread_local! {
    static SECRETS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
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
    eprintln!("{line}");
}

/// `done` of `total` items of `step`; the harness shows the latest per step.
pub fn progress(step: &str, done: usize, total: usize) {
    eprintln!("PROGRESS {}", serde_json::json!({ "step": step, "done": done, "total": total }));
}

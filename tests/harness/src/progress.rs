//! Progress of long steps, shown on the harness's stderr (one line per tenth, per step).

use crate::stderr::Progress;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct StderrProgress {
    last_tenth: Mutex<HashMap<String, u64>>,
}

impl Progress for StderrProgress {
    fn report(&self, step: &str, done: u64, total: u64) {
        let tenth = if total == 0 { 10 } else { (done * 10 / total).min(10) };
        let mut last = self.last_tenth.lock().unwrap_or_else(|e| e.into_inner());
        if last.get(step) == Some(&tenth) {
            return;
        }
        last.insert(step.to_string(), tenth);
        eprintln!("  … {step}: {done}/{total}");
    }
}

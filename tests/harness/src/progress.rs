//! Progress of long steps on the harness's stderr: a live bar per step for a person at a terminal,
//! one line per tenth per step everywhere else (pipes, CI, tests), so logs read as they always did.

use crate::stderr::Progress;
use indicatif::{MultiProgress, ProgressBar, ProgressState, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub enum StderrProgress {
    Lines(Lines),
    Bars(Bars),
}

impl Default for StderrProgress {
    fn default() -> StderrProgress {
        StderrProgress::Lines(Lines::default())
    }
}

impl StderrProgress {
    /// Bars when stderr is a terminal, lines otherwise.
    pub fn for_stderr() -> StderrProgress {
        StderrProgress::new(std::io::stderr().is_terminal())
    }

    /// The flag is passed in so the choice can be tested without a terminal.
    pub fn new(stderr_is_terminal: bool) -> StderrProgress {
        if stderr_is_terminal { StderrProgress::Bars(Bars::new(terminal().clone())) } else { StderrProgress::default() }
    }

    /// The action is over: call before anything else is printed, so no bar is left half drawn.
    pub fn finish(&self) {
        if let StderrProgress::Bars(bars) = self {
            bars.finish();
        }
    }
}

impl Progress for StderrProgress {
    fn report(&self, step: &str, done: u64, total: u64) {
        match self {
            StderrProgress::Lines(lines) => lines.report(step, done, total),
            StderrProgress::Bars(bars) => bars.report(step, done, total),
        }
    }
}

/// Prints one of the harness's own lines on stderr; while bars are shown, above them, so neither is garbled.
pub fn print_line(line: &str) {
    match TERMINAL.get() {
        Some(multi) => multi.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    }
}

/// There is one stderr, so one set of bars for the whole process.
static TERMINAL: OnceLock<MultiProgress> = OnceLock::new();

fn terminal() -> &'static MultiProgress {
    TERMINAL.get_or_init(MultiProgress::new)
}

#[derive(Default)]
pub struct Lines {
    last_tenth: Mutex<HashMap<String, u64>>,
}

impl Lines {
    fn report(&self, step: &str, done: u64, total: u64) {
        if let Some(line) = self.line(step, done, total) {
            eprintln!("{line}");
        }
    }

    /// The line to print, when this report starts a new tenth of its step.
    fn line(&self, step: &str, done: u64, total: u64) -> Option<String> {
        // A step of no items is all done.
        let tenth = (done * 10).checked_div(total).map_or(10, |t| t.min(10));
        let mut last = self.last_tenth.lock().unwrap_or_else(|e| e.into_inner());
        if last.get(step) == Some(&tenth) {
            return None;
        }
        last.insert(step.to_string(), tenth);
        Some(format!("  … {step}: {done}/{total}"))
    }
}

pub struct Bars {
    multi: MultiProgress,
    /// The running steps; a finished one leaves a summary line and no bar.
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn new(multi: MultiProgress) -> Bars {
        Bars { multi, bars: Mutex::default() }
    }

    fn report(&self, step: &str, done: u64, total: u64) {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        let bar = bars.entry(step.to_string()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new(total).with_style(bar_style()).with_prefix(step.to_string()));
            // Elapsed time and ETA keep moving while a slow request holds the next report back.
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        // Totals grow as pages reveal how many there are.
        bar.set_length(total);
        bar.set_position(done);
        if done >= total {
            let bar = bars.remove(step).expect("just inserted");
            let secs = bar.elapsed().as_secs_f64();
            self.close(
                &bar,
                format!("  ✓ {step}: {done}/{total} in {secs:.1} s ({:.1}/s)", done as f64 / secs.max(1e-3)),
            );
        }
    }

    /// Steps that never reached their total (the action failed or was cut short) say where they stopped.
    fn finish(&self) {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        for (step, bar) in bars.drain() {
            let (done, total) = (bar.position(), bar.length().unwrap_or(0));
            self.close(
                &bar,
                format!("  ✗ {step}: stopped at {done}/{total} after {:.1} s", bar.elapsed().as_secs_f64()),
            );
        }
        let _ = self.multi.clear();
    }

    /// Replaces a bar with a line that stays, above the bars still running.
    fn close(&self, bar: &ProgressBar, summary: String) {
        let _ = self.multi.println(summary);
        bar.finish_and_clear();
        self.multi.remove(bar);
    }
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("  {prefix} [{bar:30}] {pos}/{len}  {rate}  ETA {eta}")
        .expect("valid template")
        .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.1}/s", state.per_sec());
        })
        .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::ProgressDrawTarget;

    #[test]
    fn piped_mode_prints_a_line_per_tenth_per_step() {
        let lines = Lines::default();
        let mut printed = Vec::new();
        for done in 1..=20 {
            printed.extend(lines.line("addresses", done, 20));
            if done == 5 {
                printed.extend(lines.line("company fields", 0, 0));
            }
        }
        let expected = [
            "  … addresses: 1/20",
            "  … addresses: 2/20",
            "  … addresses: 4/20",
            "  … company fields: 0/0",
            "  … addresses: 6/20",
            "  … addresses: 8/20",
            "  … addresses: 10/20",
            "  … addresses: 12/20",
            "  … addresses: 14/20",
            "  … addresses: 16/20",
            "  … addresses: 18/20",
            "  … addresses: 20/20",
        ];
        assert_eq!(printed, expected);
    }

    #[test]
    fn bars_only_on_a_terminal() {
        assert!(matches!(StderrProgress::new(false), StderrProgress::Lines(_)));
        assert!(matches!(StderrProgress::new(true), StderrProgress::Bars(_)));
        assert!(matches!(StderrProgress::default(), StderrProgress::Lines(_)));
    }

    #[test]
    fn a_bar_per_running_step_until_done_or_the_action_ends() {
        let bars = Bars::new(MultiProgress::with_draw_target(ProgressDrawTarget::hidden()));
        bars.report("addresses", 1, 3);
        bars.report("pages", 1, 4);
        bars.report("addresses", 2, 3);
        assert_eq!(bars.bars.lock().unwrap().len(), 2);
        assert_eq!(bars.bars.lock().unwrap()["addresses"].position(), 2);
        bars.report("addresses", 3, 3);
        assert_eq!(bars.bars.lock().unwrap().keys().collect::<Vec<_>>(), ["pages"]);
        bars.finish();
        assert!(bars.bars.lock().unwrap().is_empty());
    }
}

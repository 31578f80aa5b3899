//! Replay progress on a terminal (`tocsin run --input`): bytes read of the
//! inputs' total size with a bar and an ETA, or a spinner when a size is
//! unknown (stdin, pipes), and the event rate.
//!
//! Off the hot path: the replay loop calls [`Progress::tick`] once every
//! [`Progress::EVERY`] records, and the bar is redrawn at most ten times a
//! second. Shown only when stderr is a terminal and `--no-progress` is not
//! given, so redirected stderr never receives escape codes; cleared before
//! the end-of-run summary.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Between redraws.
const INTERVAL: Duration = Duration::from_millis(100);

pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    last: Instant,
}

impl Progress {
    /// Records between two [`Progress::tick`] calls.
    pub const EVERY: u64 = 1024;

    /// A bar over `total` bytes (a spinner without one), shown only if
    /// `wanted` and stderr is a terminal.
    pub fn new(wanted: bool, total: Option<u64>) -> Progress {
        let now = Instant::now();
        let bar = (wanted && std::io::stderr().is_terminal()).then(|| bar(total));
        Progress {
            bar,
            started: now,
            last: now,
        }
    }

    pub fn is_shown(&self) -> bool {
        self.bar.is_some()
    }

    /// `records` read so far, `bytes` of the inputs consumed; redraws at most every 100 ms.
    pub fn tick(&mut self, records: u64, bytes: u64) {
        let Some(bar) = &self.bar else { return };
        let now = Instant::now();
        if now.duration_since(self.last) < INTERVAL {
            return;
        }
        self.last = now;
        let secs = now.duration_since(self.started).as_secs_f64();
        let rate = if secs > 0.0 { records as f64 / secs } else { 0.0 };
        bar.set_position(bytes);
        bar.set_message(format!("{records} events · {rate:.0} events/s"));
    }

    /// Removes the bar (before the summary is printed).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

fn bar(total: Option<u64>) -> ProgressBar {
    let (bar, template) = match total {
        Some(len) => (
            ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr_with_hz(10)),
            "{spinner} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} · {msg} · ETA {eta}",
        ),
        None => (
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10)),
            "{spinner} [{elapsed_precise}] {bytes} read · {msg}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("0 events");
    // Keeps the spinner and the clock moving while input stalls (a drawing
    // thread of indicatif's; the replay loop never waits for it).
    bar.enable_steady_tick(INTERVAL);
    bar
}

//! Hot reload of the rule set while streaming: on SIGHUP, and when a rule
//! file changes (polled every half second, acted on once the files have
//! been still for another half second, so an editor's save-in-steps or a
//! `git pull` is one reload), the rules are loaded, validated and compiled
//! on this thread, off the hot path. A set with any error is rejected and
//! logged, and the running set stays; a good one is handed to the consumer
//! loop, which swaps it in between two records ([`crate::pipeline::Processor::reload`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::run::prepare;
use super::RuleArgs;
use crate::metrics::Metrics;
use crate::source::kafka::RuleUpdates;

const POLL: Duration = Duration::from_millis(500);

/// What the rule files look like now: (path, modified, length).
fn snapshot(paths: &[PathBuf]) -> Vec<(PathBuf, Option<SystemTime>, u64)> {
    crate::rules::rule_files(paths)
        .into_iter()
        .map(|p| {
            let m = std::fs::metadata(&p).ok();
            let modified = m.as_ref().and_then(|m| m.modified().ok());
            let len = m.map_or(0, |m| m.len());
            (p, modified, len)
        })
        .collect()
}

/// Starts the reloader thread; compiled rule sets arrive in `updates`.
pub fn spawn(
    args: RuleArgs,
    time_fields: Vec<String>,
    updates: RuleUpdates,
    metrics: Option<Arc<Metrics>>,
) -> std::io::Result<()> {
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())?;
    std::thread::Builder::new()
        .name("tocsin-reload".into())
        .spawn(move || {
            let mut seen = snapshot(&args.rules);
            loop {
                std::thread::sleep(POLL);
                let signalled = hup.swap(false, Ordering::Relaxed);
                let now = snapshot(&args.rules);
                let changed = now != seen;
                if !signalled && !changed {
                    continue;
                }
                if changed && !signalled {
                    // Debounce: act once the files have been still for a poll.
                    std::thread::sleep(POLL);
                    let settled = snapshot(&args.rules);
                    if settled != now {
                        continue;
                    }
                }
                seen = snapshot(&args.rules);
                let why = if signalled { "SIGHUP" } else { "rule files changed" };
                reload(&args, &time_fields, &updates, metrics.as_deref(), why);
            }
        })?;
    Ok(())
}

fn reload(args: &RuleArgs, time_fields: &[String], updates: &RuleUpdates, metrics: Option<&Metrics>, why: &str) {
    let started = std::time::Instant::now();
    let mut p = match prepare(args, None, false) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(trigger = why, error = %format!("{e:#}"), "rule reload rejected; the running rules stay");
            metrics.inspect(|m| m.reloaded(false));
            return;
        }
    };
    if !p.errors.is_empty() {
        for e in &p.errors {
            tracing::error!(trigger = why, "{e}");
        }
        tracing::error!(
            trigger = why,
            errors = p.errors.len(),
            "rule reload rejected; the running rules stay"
        );
        metrics.inspect(|m| m.reloaded(false));
        return;
    }
    if !time_fields.is_empty() {
        if let Some(d) = Arc::get_mut(&mut p.detector) {
            for sp in &mut d.sources {
                sp.time.fields = time_fields.to_vec();
            }
        }
    }
    tracing::info!(
        trigger = why,
        rules = p.detector.active_rules,
        correlations = p.detector.correlations.specs.len(),
        compile_ms = started.elapsed().as_millis() as u64,
        "rule set compiled; swapping it in"
    );
    updates.offer(p.detector);
}

//! Metrics: what the engine exports for platform teams, in the Prometheus
//! text format, over HTTP ([`http`]) on `--metrics-addr`.
//!
//! The hot path never touches this registry per event: the pipeline keeps
//! its own counters ([`crate::pipeline::Stats`]) and publishes a copy here
//! at each flush (every few thousand records or 25 ms); latencies go into
//! HDR histograms under a mutex taken once per alert or batch. A scrape
//! reads the last published state, so it never slows processing down.

pub mod http;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::pipeline::Stats;

/// Everything a scrape shows. Shared (`Arc`) by the pipeline, the Kafka
/// source and the HTTP server.
pub struct Metrics {
    started: Instant,
    pipeline: Mutex<Published>,
    /// Event→alert latency, milliseconds (wall clock at emission − event time).
    alert_latency_ms: Mutex<Histogram<u64>>,
    /// Time to apply one correlation flush and emit its alerts, microseconds.
    batch_us: Mutex<Histogram<u64>>,
    /// From a commit point to its offsets committed (output, then the
    /// checkpoint, acknowledged), microseconds.
    commit_us: Mutex<Histogram<u64>>,
    /// Time the loop spends taking a checkpoint (encoding the correlation
    /// state) at a commit point, microseconds: it reads nothing meanwhile.
    checkpoint_us: Mutex<Histogram<u64>>,
    /// Consumer lag per (topic, partition), from librdkafka statistics.
    lag: Mutex<BTreeMap<(String, i32), i64>>,
    /// Pipeline watermark, ns since the epoch (`i64::MIN`: none yet).
    watermark_ns: AtomicI64,
    /// The broker answers (cleared by consumer errors, set by deliveries).
    broker_ok: AtomicBool,
    /// Rules compiled and the pipeline running.
    running: AtomicBool,
    /// `/readyz` fails above this total lag (None: lag never fails it).
    max_lag: Option<i64>,
    /// Rule reloads: (swapped in, rejected).
    reloads: Mutex<(u64, u64)>,
}

/// Pipeline counters as of the last flush, with per-source and per-rule detail.
#[derive(Clone, Debug, Default)]
pub struct Published {
    pub stats: Stats,
    /// Events per source name.
    pub source_events: Vec<(String, u64)>,
    /// Correlation rule → groups tracked.
    pub groups: Vec<(String, usize)>,
    pub late_hits: u64,
    /// Log-quality totals per source.
    pub quality: Vec<crate::pipeline::quality::QualityTotals>,
    /// Per rule: estimated evaluation seconds (sampled), sampled evaluations.
    pub rule_eval: Vec<(String, f64, u64)>,
}

/// Latencies above this are clamped (a replay of old logs has huge ones).
const MAX_LATENCY_MS: u64 = 366 * 24 * 3_600_000;

fn histogram(max: u64) -> Mutex<Histogram<u64>> {
    // 3 significant digits over [1, max]: a few tens of KiB, fixed.
    Mutex::new(Histogram::new_with_bounds(1, max, 3).unwrap_or_else(|_| Histogram::new(3).expect("histogram")))
}

impl Metrics {
    pub fn new(max_lag: Option<i64>) -> Metrics {
        Metrics {
            started: Instant::now(),
            pipeline: Mutex::default(),
            alert_latency_ms: histogram(MAX_LATENCY_MS),
            batch_us: histogram(3_600_000_000),
            commit_us: histogram(3_600_000_000),
            checkpoint_us: histogram(3_600_000_000),
            lag: Mutex::default(),
            watermark_ns: AtomicI64::new(i64::MIN),
            broker_ok: AtomicBool::new(true),
            running: AtomicBool::new(false),
            max_lag,
            reloads: Mutex::default(),
        }
    }

    pub fn publish(&self, p: Published, watermark_ns: i64) {
        *lock(&self.pipeline) = p;
        self.watermark_ns.store(watermark_ns, Ordering::Relaxed);
    }

    /// An alert about an event at `event_ns` was emitted now.
    pub fn alert_emitted(&self, event_ns: i128) {
        let now = wall_ns();
        let ms = ((now - event_ns).max(0) / 1_000_000).clamp(1, MAX_LATENCY_MS as i128) as u64;
        let _ = lock(&self.alert_latency_ms).record(ms);
    }

    pub fn batch_done(&self, took: std::time::Duration) {
        let us = (took.as_micros() as u64).max(1);
        lock(&self.batch_us).saturating_record(us);
    }

    pub fn commit_done(&self, took: std::time::Duration) {
        let us = (took.as_micros() as u64).max(1);
        lock(&self.commit_us).saturating_record(us);
    }

    pub fn checkpoint_taken(&self, took: std::time::Duration) {
        let us = (took.as_micros() as u64).max(1);
        lock(&self.checkpoint_us).saturating_record(us);
    }

    pub fn set_lag(&self, lag: BTreeMap<(String, i32), i64>) {
        *lock(&self.lag) = lag;
    }

    pub fn set_broker_ok(&self, ok: bool) {
        self.broker_ok.store(ok, Ordering::Relaxed);
    }

    /// A rule reload finished: swapped in (`true`) or rejected.
    pub fn reloaded(&self, ok: bool) {
        let mut r = lock(&self.reloads);
        if ok {
            r.0 += 1;
        } else {
            r.1 += 1;
        }
    }

    pub fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::Relaxed);
    }

    /// `/readyz`: `Ok` when the engine runs, the broker answers and the lag
    /// is under the threshold; otherwise why not.
    pub fn ready(&self) -> Result<(), String> {
        if !self.running.load(Ordering::Relaxed) {
            return Err("not running yet".into());
        }
        if !self.broker_ok.load(Ordering::Relaxed) {
            return Err("broker unreachable".into());
        }
        let lag: i64 = lock(&self.lag).values().sum();
        match self.max_lag {
            Some(max) if lag > max => Err(format!("consumer lag {lag} above {max}")),
            _ => Ok(()),
        }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let p = lock(&self.pipeline).clone();
        let s = &p.stats;
        let mut o = String::with_capacity(4096);
        metric(&mut o, "tocsin_uptime_seconds", "gauge", "Seconds since start.");
        sample(
            &mut o,
            "tocsin_uptime_seconds",
            &[],
            self.started.elapsed().as_secs_f64(),
        );
        counter(&mut o, "tocsin_records_total", "Records read.", s.records);
        metric(
            &mut o,
            "tocsin_events_total",
            "counter",
            "Events classified, per source.",
        );
        for (src, n) in &p.source_events {
            sample(&mut o, "tocsin_events_total", &[("source", src)], *n as f64);
        }
        counter(
            &mut o,
            "tocsin_unclassified_total",
            "Records no source claimed.",
            s.unclassified,
        );
        counter(
            &mut o,
            "tocsin_matched_events_total",
            "Events matching at least one rule.",
            s.matched_events,
        );
        metric(
            &mut o,
            "tocsin_dead_letters_total",
            "counter",
            "Records sent to the dead-letter output, per reason.",
        );
        for (reason, n) in &s.dead_letters {
            sample(&mut o, "tocsin_dead_letters_total", &[("reason", reason)], *n as f64);
        }
        metric(
            &mut o,
            "tocsin_rule_alerts_total",
            "counter",
            "Alerts (and suppression updates) per rule.",
        );
        for (rule, n) in &s.rule_alerts {
            sample(&mut o, "tocsin_rule_alerts_total", &[("rule", rule)], *n as f64);
        }
        counter(&mut o, "tocsin_alerts_total", "Alerts emitted.", s.alerts);
        counter(
            &mut o,
            "tocsin_correlation_hits_total",
            "Rule matches fed to correlations.",
            s.correlation_hits,
        );
        counter(
            &mut o,
            "tocsin_late_hits_total",
            "Correlation hits behind the watermark.",
            p.late_hits,
        );
        metric(
            &mut o,
            "tocsin_correlation_groups",
            "gauge",
            "Correlation groups holding state, per rule.",
        );
        for (rule, n) in &p.groups {
            sample(&mut o, "tocsin_correlation_groups", &[("rule", rule)], *n as f64);
        }
        metric(
            &mut o,
            "tocsin_correlation_evicted_total",
            "counter",
            "Groups evicted by a state cap, per rule.",
        );
        for (rule, n) in &s.correlation_evicted {
            sample(&mut o, "tocsin_correlation_evicted_total", &[("rule", rule)], *n as f64);
        }
        render_quality(&mut o, &p.quality);
        metric(
            &mut o,
            "tocsin_rule_eval_seconds_total",
            "counter",
            "Estimated time evaluating each rule's condition (one event in 1024 timed, scaled).",
        );
        for (rule, secs, _) in &p.rule_eval {
            sample(&mut o, "tocsin_rule_eval_seconds_total", &[("rule", rule)], *secs);
        }
        metric(
            &mut o,
            "tocsin_rule_eval_sampled_total",
            "counter",
            "Timed evaluations per rule.",
        );
        for (rule, _, n) in &p.rule_eval {
            sample(&mut o, "tocsin_rule_eval_sampled_total", &[("rule", rule)], *n as f64);
        }
        self.render_time(&mut o);
        metric(
            &mut o,
            "tocsin_consumer_lag",
            "gauge",
            "Messages behind the partition end (Kafka).",
        );
        for ((topic, part), lag) in lock(&self.lag).iter() {
            let part = part.to_string();
            sample(
                &mut o,
                "tocsin_consumer_lag",
                &[("topic", topic), ("partition", &part)],
                *lag as f64,
            );
        }
        let (ok, rejected) = *lock(&self.reloads);
        metric(
            &mut o,
            "tocsin_rule_reloads_total",
            "counter",
            "Rule reloads, by outcome.",
        );
        sample(&mut o, "tocsin_rule_reloads_total", &[("outcome", "ok")], ok as f64);
        sample(
            &mut o,
            "tocsin_rule_reloads_total",
            &[("outcome", "rejected")],
            rejected as f64,
        );
        let ready = if self.ready().is_ok() { 1.0 } else { 0.0 };
        metric(&mut o, "tocsin_ready", "gauge", "1 when /readyz passes.");
        sample(&mut o, "tocsin_ready", &[], ready);
        o
    }

    fn render_time(&self, o: &mut String) {
        let wm = self.watermark_ns.load(Ordering::Relaxed);
        metric(
            o,
            "tocsin_watermark_delay_seconds",
            "gauge",
            "Wall clock minus the event-time watermark.",
        );
        if wm != i64::MIN && wm != i64::MAX {
            sample(
                o,
                "tocsin_watermark_delay_seconds",
                &[],
                (wall_ns() - wm as i128) as f64 / 1e9,
            );
        }
        summary(
            o,
            "tocsin_alert_latency_seconds",
            "Event time to alert emission.",
            &lock(&self.alert_latency_ms),
            1e-3,
        );
        summary(
            o,
            "tocsin_batch_seconds",
            "Applying one correlation flush and emitting its alerts.",
            &lock(&self.batch_us),
            1e-6,
        );
        summary(
            o,
            "tocsin_commit_seconds",
            "From a commit point to its offsets committed: output, then checkpoint, acknowledged (Kafka input).",
            &lock(&self.commit_us),
            1e-6,
        );
        summary(
            o,
            "tocsin_checkpoint_seconds",
            "Taking a checkpoint of the pipeline state at a commit point (the loop reads nothing meanwhile).",
            &lock(&self.checkpoint_us),
            1e-6,
        );
    }
}

fn render_quality(o: &mut String, quality: &[crate::pipeline::quality::QualityTotals]) {
    metric(
        o,
        "tocsin_source_missing_field_total",
        "counter",
        "Events missing a required attribute, per source and field.",
    );
    for q in quality {
        for (field, n) in &q.missing {
            sample(
                o,
                "tocsin_source_missing_field_total",
                &[("source", &q.source), ("field", field)],
                *n as f64,
            );
        }
    }
    metric(
        o,
        "tocsin_source_non_utc_time_total",
        "counter",
        "Events whose timestamp is not UTC, per source.",
    );
    for q in quality {
        sample(
            o,
            "tocsin_source_non_utc_time_total",
            &[("source", &q.source)],
            q.non_utc as f64,
        );
    }
    metric(
        o,
        "tocsin_source_secret_events_total",
        "counter",
        "Scanned events carrying a secret, per source.",
    );
    for q in quality {
        sample(
            o,
            "tocsin_source_secret_events_total",
            &[("source", &q.source)],
            q.secrets as f64,
        );
    }
    metric(
        o,
        "tocsin_source_last_event_age_seconds",
        "gauge",
        "Wall clock minus the newest event time, per source.",
    );
    for q in quality {
        if let Some(t) = q.last_event_ns {
            let age = (wall_ns() - t as i128) as f64 / 1e9;
            sample(o, "tocsin_source_last_event_age_seconds", &[("source", &q.source)], age);
        }
    }
}

fn wall_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

fn metric(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn counter(o: &mut String, name: &str, help: &str, v: u64) {
    metric(o, name, "counter", help);
    sample(o, name, &[], v as f64);
}

fn sample(o: &mut String, name: &str, labels: &[(&str, &str)], v: f64) {
    o.push_str(name);
    if !labels.is_empty() {
        o.push('{');
        for (i, (k, val)) in labels.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            let _ = write!(o, "{k}=\"{}\"", escape(val));
        }
        o.push('}');
    }
    let _ = writeln!(o, " {v}");
}

/// Label values escape backslash, quote and newline (exposition format).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn summary(o: &mut String, name: &str, help: &str, h: &Histogram<u64>, unit: f64) {
    metric(o, name, "summary", help);
    for q in ["0.5", "0.9", "0.99", "0.999"] {
        let v = if h.is_empty() {
            0.0
        } else {
            h.value_at_quantile(q.parse().unwrap_or(0.5)) as f64 * unit
        };
        sample(o, name, &[("quantile", q)], v);
    }
    let sum: f64 = h
        .iter_recorded()
        .map(|v| v.value_iterated_to() as f64 * v.count_at_value() as f64)
        .sum();
    sample(o, &format!("{name}_sum"), &[], sum * unit);
    sample(o, &format!("{name}_count"), &[], h.len() as f64);
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

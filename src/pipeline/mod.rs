//! The per-record path: decode → classify → match → (correlate) → alert,
//! with every outcome counted.
//!
//! A [`Processor`] is owned by one thread and reuses its decoder and matcher
//! scratch across records. Every record read ends as exactly one of: alerts
//! and/or correlation hits, a counted no-match, an unclassified count, or a
//! dead letter. Matches of rules that a correlation references become hits;
//! the correlator applies them in event-time order as the watermark passes
//! them and its firings become correlation alerts.

mod checkpoint;
pub mod quality;

pub use checkpoint::CheckpointError;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::alert::redact::Redactor;
use crate::alert::{alert_id, rfc3339, Alert, AlertKind, Evidence, LogSourceRef, RuleRef, TimeSource, Window};
use crate::correlate::watermark::Watermarks;
use crate::correlate::window::HitData;
use crate::correlate::{seq, unseq, Correlator, NewHit, Output as Firing, Overflow};
use crate::decode::extract::Extraction;
use crate::decode::JsonDecoder;
use crate::detector::{Detector, SourcePlan};
use crate::event::{Position, ValueRef};
use crate::matcher::Scratch;
use crate::metrics::Metrics;
use crate::sink::{DeadLetter, Output};

/// Counters of one run (or one worker), merged for the summary.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Stats {
    pub records: u64,
    pub events: u64,
    pub unclassified: u64,
    pub matched_events: u64,
    pub alerts: u64,
    pub correlation_hits: u64,
    pub correlation_alerts: u64,
    /// `state_overflow` meta-alerts raised (a cap evicted correlation state).
    pub overflow_alerts: u64,
    /// Correlation rule id → groups evicted by a state cap (as of the last flush).
    pub correlation_evicted: BTreeMap<String, u64>,
    pub dead_letters: BTreeMap<&'static str, u64>,
    /// Rule id → alerts.
    pub rule_alerts: BTreeMap<String, u64>,
}

impl Stats {
    pub fn dead_letter_total(&self) -> u64 {
        self.dead_letters.values().sum()
    }
}

/// Correlation settings of a run.
#[derive(Clone, Debug)]
pub struct CorrelationConfig {
    pub shards: usize,
    pub max_out_of_orderness_ns: i64,
    pub allowed_lateness_ns: i64,
    pub max_groups: usize,
}

impl Default for CorrelationConfig {
    fn default() -> Self {
        CorrelationConfig {
            shards: 1,
            max_out_of_orderness_ns: 5_000_000_000,
            allowed_lateness_ns: 0,
            max_groups: 1_000_000,
        }
    }
}

pub struct Processor {
    decoder: JsonDecoder,
    /// Field extraction's scratch and the decoder of augmented events.
    extraction: Extraction,
    scratch: Scratch,
    core: Core,
}

/// Everything but the decoder and scratch, so the decoded event can borrow
/// those while the rest is updated.
struct Core {
    detector: Arc<Detector>,
    redactor: Redactor,
    correlator: Correlator,
    watermarks: Watermarks,
    /// Input partitions (files, topic-partitions) by a hash of their identity
    /// (no per-record allocation), and their positions' shape.
    partitions: HashMap<u64, Vec<u32>>,
    partition_names: Vec<Position>,
    stats: Stats,
    /// Open suppressed alerts: (correlation, group) → the first alert and the firings folded into it.
    open: HashMap<(u32, Vec<Option<String>>), OpenAlert>,
    /// Records processed since the correlator last applied its hits, and when it did.
    since_flush: usize,
    last_flush: std::time::Instant,
    /// Live input (Kafka, stdin): flush on the wall clock too, for latency.
    /// Off for file replays, whose flushes then depend on the input alone,
    /// so the alert file is the same byte for byte in every run and shard
    /// count ([`Processor::set_streaming`]).
    streaming: bool,
    /// Events per source (index of [`Detector::sources`]).
    source_events: Vec<u64>,
    /// Where counters are published at each flush (`--metrics-addr`).
    metrics: Option<Arc<Metrics>>,
    /// How this processor was built (a rule reload builds the next one alike).
    correlation_config: CorrelationConfig,
    max_event_bytes: usize,
    /// Log-quality monitoring of each source.
    quality: quality::Quality,
    quality_config: crate::config::QualityConfig,
    /// End of input: every period and window is judged.
    finished: bool,
    /// Per source, per rule of its plan: (nanoseconds, evaluations) measured
    /// on one event in [`PROFILE_EVERY`] (a runaway rule shows in metrics).
    rule_time: Vec<Vec<(u64, u64)>>,
}

/// One event in this many has each evaluated rule timed.
pub const PROFILE_EVERY: u64 = 1024;

/// Records between correlator flushes: each flush is one barrier over the
/// shard threads, so it is amortised over many records.
pub const FLUSH_EVERY: usize = 4096;

/// Longest a flush waits while records keep arriving (log-quality periods
/// are judged at flushes; correlation firings use [`FLUSH_MIN_GAP`]).
pub const FLUSH_AFTER: std::time::Duration = std::time::Duration::from_millis(25);

/// Once the watermark has passed something that may fire
/// ([`crate::correlate::Correlator::due`]), the flush runs as soon as this
/// much time has passed since the previous one: correlation alerts wait at
/// most this after their watermark, and a busy stream pays at most one
/// barrier over the shard threads per gap (benches/README.md, "Latency").
pub const FLUSH_MIN_GAP: std::time::Duration = std::time::Duration::from_millis(2);

/// An alert whose suppression period is running: its first firing and what
/// later firings folded in (the alert is rebuilt from these, so a checkpoint
/// stores plain data).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct OpenAlert {
    first: Firing,
    /// Event time (ns) of the first firing: the period runs from here.
    since: i64,
    /// Sum of the folded firings' values.
    added: u64,
    updates: u64,
    last: i64,
    window_end: i64,
}

impl Processor {
    pub fn new(detector: Arc<Detector>, redactor: Redactor, max_event_bytes: usize) -> Self {
        Self::with_correlation(detector, redactor, max_event_bytes, &CorrelationConfig::default())
    }

    pub fn with_correlation(
        detector: Arc<Detector>,
        redactor: Redactor,
        max_event_bytes: usize,
        c: &CorrelationConfig,
    ) -> Self {
        let detector_sources = detector.sources.len();
        let detector_for_quality = detector.clone();
        let correlator = Correlator::new(
            detector.correlations.clone(),
            c.shards,
            c.max_groups,
            c.allowed_lateness_ns,
        );
        Processor {
            decoder: JsonDecoder::new(max_event_bytes),
            extraction: Extraction::new(),
            scratch: Scratch::new(),
            core: Core {
                detector,
                redactor,
                correlator,
                watermarks: Watermarks::new(c.max_out_of_orderness_ns),
                partitions: HashMap::new(),
                partition_names: Vec::new(),
                stats: Stats::default(),
                open: HashMap::new(),
                since_flush: 0,
                last_flush: std::time::Instant::now(),
                streaming: false,
                source_events: vec![0; detector_sources],
                metrics: None,
                correlation_config: c.clone(),
                max_event_bytes,
                quality: quality::Quality::new(&detector_for_quality, Default::default()),
                quality_config: Default::default(),
                finished: false,
                rule_time: detector_for_quality
                    .sources
                    .iter()
                    .map(|sp| vec![(0, 0); sp.plan.rules.len()])
                    .collect(),
            },
        }
    }

    /// Log-quality thresholds (`[quality]`); call before processing.
    pub fn set_quality(&mut self, cfg: crate::config::QualityConfig) {
        self.core.quality = quality::Quality::new(&self.core.detector, cfg.clone());
        self.core.quality_config = cfg;
    }

    /// Swaps in a new rule set (hot reload) between two records: what is
    /// due is flushed and emitted, the state is checkpointed and restored
    /// into a processor built for `detector`, so the windows of every
    /// correlation rule that did not change carry on (changed or removed
    /// ones start empty, reported in the result). Counters continue.
    pub fn reload(
        &mut self,
        detector: Arc<Detector>,
        out: &mut dyn Output,
    ) -> Result<crate::correlate::image::Restored, CheckpointError> {
        let bytes = self.checkpoint(out)?;
        let core = &self.core;
        let mut next = Processor::with_correlation(
            detector,
            core.redactor.clone(),
            core.max_event_bytes,
            &core.correlation_config,
        );
        next.set_quality(self.core.quality_config.clone());
        let restored = next.restore(&bytes)?;
        next.core.stats = std::mem::take(&mut self.core.stats);
        next.core.metrics = self.core.metrics.take();
        next.core.streaming = self.core.streaming;
        *self = next;
        self.core.publish();
        Ok(restored)
    }

    pub fn stats(&self) -> &Stats {
        &self.core.stats
    }

    /// Live input: also flush when the watermark passes something that can
    /// fire ([`FLUSH_MIN_GAP`]) or [`FLUSH_AFTER`] has passed, so alerts do
    /// not wait for [`FLUSH_EVERY`] records. Replays of files leave it off:
    /// where correlation alerts fall among match alerts in the output then
    /// depends on the input alone.
    pub fn set_streaming(&mut self, on: bool) {
        self.core.streaming = on;
    }

    pub fn metrics(&self) -> Option<Arc<Metrics>> {
        self.core.metrics.clone()
    }

    /// Publishes counters and latencies to `metrics` from now on.
    pub fn set_metrics(&mut self, metrics: Arc<Metrics>) {
        self.core.metrics = Some(metrics);
        self.core.publish();
    }

    /// Registers an input partition up front (so the watermark waits for it).
    pub fn partition(&mut self, pos: &Position) -> u32 {
        self.core.partition(pos)
    }

    /// Marks a partition finished (end of file): it no longer holds the watermark back.
    pub fn finish_partition(&mut self, pos: &Position, out: &mut dyn Output) -> std::io::Result<()> {
        let p = self.core.partition(pos);
        self.core.watermarks.finish(p);
        self.core.observe_watermark();
        self.flush(out)
    }

    /// Marks an input partition idle (it stops holding the watermark back) or active again.
    pub fn set_idle(&mut self, pos: &Position, idle: bool) {
        let p = self.core.partition(pos);
        self.core.watermarks.set_idle(p, idle);
        self.core.observe_watermark();
    }

    /// Applies the correlation hits the watermark has passed and emits what
    /// fired. Called every [`FLUSH_EVERY`] records and by sources at batch
    /// ends; when it runs never changes which alerts are produced.
    pub fn flush(&mut self, out: &mut dyn Output) -> std::io::Result<()> {
        self.core.flush(out)
    }

    /// End of input: flushes every window.
    pub fn finish(&mut self, out: &mut dyn Output) -> std::io::Result<()> {
        self.core.finished = true;
        self.core.correlator.observe_watermark(i64::MAX);
        self.flush(out)
    }

    pub fn late_hits(&self) -> u64 {
        self.core.correlator.late
    }

    pub fn tracked_groups(&self) -> usize {
        self.core.correlator.tracked_groups()
    }

    /// Processes one raw record. `true_len` is the record's length when the
    /// reader kept only a prefix of an over-long record.
    pub fn process(
        &mut self,
        raw: &[u8],
        true_len: usize,
        pos: Position,
        transport_ns: Option<i128>,
        out: &mut dyn Output,
    ) -> std::io::Result<()> {
        self.core.stats.records += 1;
        let partition = self.core.partition(&pos);
        let detector = self.core.detector.clone();
        let decoded = if true_len > raw.len() {
            Err(crate::decode::DecodeError::TooLarge {
                size: true_len,
                limit: raw.len().saturating_sub(1),
            })
        } else {
            self.decoder.decode(raw)
        };
        let decoded = match decoded {
            Ok(d) => d,
            Err(e) => {
                *self.core.stats.dead_letters.entry(e.reason()).or_default() += 1;
                return out.dead_letter(&DeadLetter::new(e.reason(), e.to_string(), pos, raw).with_len(true_len));
            }
        };
        let root = decoded.root();
        // A source with `[[extract]]` parses its fields before its `when` is
        // checked; the winner's are added to a second decoded document.
        let mut extracted = false;
        let extraction = &mut self.extraction;
        let Some((si, sp)) = detector.sources.iter().enumerate().find(|(_, s)| {
            let (claims, x) = match s.source.reads(&pos) {
                true => s.source.classify(root, extraction, transport_ns),
                false => (false, false),
            };
            extracted = x;
            claims
        }) else {
            self.core.stats.unclassified += 1;
            return Ok(());
        };
        let augmented;
        let (root, scanned) = match sp.source.extract.as_deref().filter(|_| extracted) {
            Some(ex) => match self.extraction.augment(ex, raw) {
                Ok((d, text)) => {
                    augmented = d;
                    (augmented.root(), text)
                }
                Err(_) => (root, raw),
            },
            None => (root, raw),
        };
        let (time_ns, time_source) = match sp.time.extract(root, transport_ns) {
            Ok(t) => t,
            Err(e) => {
                *self.core.stats.dead_letters.entry("no_event_time").or_default() += 1;
                return out.dead_letter(&DeadLetter::new("no_event_time", e.to_string(), pos, raw));
            }
        };
        self.core.stats.events += 1;
        self.core.source_events[si] += 1;
        let event_time = time_ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
        let offset = match &pos {
            Position::File { line, .. } => *line,
            Position::Kafka { offset, .. } => *offset as u64,
        };
        let record_seq = seq(partition, offset);
        self.core
            .quality
            .observe(si, root, event_time, record_seq, &self.core.redactor);
        let profile = self.core.stats.events % PROFILE_EVERY == 1;
        if profile {
            self.scratch.set_profiling(true);
        }
        let matched = sp.plan.scan_raw(root, Some(scanned), &mut self.scratch).to_vec();
        if profile {
            if let Some(times) = self.core.rule_time.get_mut(si) {
                for &(r, ns) in self.scratch.timings() {
                    if let Some(t) = times.get_mut(r as usize) {
                        t.0 += ns;
                        t.1 += 1;
                    }
                }
            }
            self.scratch.set_profiling(false);
        }
        if !matched.is_empty() {
            self.core.stats.matched_events += 1;
            let offset = match &pos {
                Position::File { line, .. } => *line,
                Position::Kafka { offset, .. } => *offset as u64,
            };
            let ctx = MatchContext {
                root,
                raw,
                pos: &pos,
                time_ns,
                time_source,
                seq: seq(partition, offset),
                sp,
            };
            let late = self.core.correlate(&ctx, &matched);
            self.core.alert_matches(&ctx, &matched, out)?;
            if let Some(corrs) = late {
                *self.core.stats.dead_letters.entry("late").or_default() += 1;
                let detail = format!("event time is behind the correlation watermark; correlation(s): {corrs}");
                out.dead_letter(&DeadLetter::new("late", detail, pos.clone(), raw))?;
            }
        }
        drop(decoded);
        self.core
            .watermarks
            .observe(partition, time_ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64);
        self.core.observe_watermark();
        self.core.since_flush += 1;
        // Count for throughput. Live input also: the watermark passing a
        // hit or window end (checked every 8 records, a clock read) for
        // correlation latency, and time (every 64) for the periodic work; a
        // lull flushes too (sources).
        let since = self.core.since_flush;
        let core = &self.core;
        let due = since >= FLUSH_EVERY
            || (core.streaming
                && since.is_multiple_of(8)
                && ((core.correlator.due() && core.last_flush.elapsed() >= FLUSH_MIN_GAP)
                    || (since.is_multiple_of(64) && core.last_flush.elapsed() >= FLUSH_AFTER)));
        if due {
            self.core.flush(out)?;
        }
        Ok(())
    }
}

impl Core {
    /// Registers an input partition up front (so the watermark waits for it).
    fn partition(&mut self, pos: &Position) -> u32 {
        let key = partition_hash(pos);
        let known = self.partitions.get(&key).into_iter().flatten();
        if let Some(&p) = known
            .into_iter()
            .find(|&&p| same_partition(&self.partition_names[p as usize], pos))
        {
            return p;
        }
        let p = self.watermarks.add_partition();
        self.partitions.entry(key).or_default().push(p);
        self.partition_names.push(pos.clone());
        p
    }

    /// Single-match alerts, except for rules a correlation silences (`generate: false`).
    fn alert_matches(
        &mut self,
        ctx: &MatchContext<'_, '_, '_>,
        matched: &[u32],
        out: &mut dyn Output,
    ) -> std::io::Result<()> {
        let silent = &self.detector.correlations.silent_detections;
        let mut evidence: Option<serde_json::Value> = None;
        for &r in matched {
            let rule = &ctx.sp.plan.rules[r as usize];
            if silent.contains(rule.key()) {
                continue;
            }
            // Redact once per event, however many rules it matched.
            let event = evidence.get_or_insert_with(|| {
                let mut e = ctx.root.to_json();
                self.redactor.redact(&mut e);
                e
            });
            let alert = ctx.alert(rule, event.clone());
            self.stats.alerts += 1;
            if let Some(m) = &self.metrics {
                m.alert_emitted(ctx.time_ns);
            }
            *self.stats.rule_alerts.entry(alert.rule.id.clone()).or_default() += 1;
            out.alert(&alert)?;
        }
        Ok(())
    }

    /// Turns matches of referenced rules into hits. Returns the correlations
    /// for which the event came too late, if any.
    fn correlate(&mut self, ctx: &MatchContext<'_, '_, '_>, matched: &[u32]) -> Option<String> {
        let set = self.detector.correlations.clone();
        if set.is_empty() {
            return None;
        }
        let mut late: Vec<String> = Vec::new();
        let time = ctx.time_ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
        for &r in matched {
            let rule = &ctx.sp.plan.rules[r as usize];
            let Some(refs) = set.by_detection.get(rule.key()) else {
                continue;
            };
            for &(corr, j) in refs {
                let spec = &set.specs[corr as usize];
                let group = spec.group_fields[j as usize]
                    .iter()
                    .map(|f| ctx.field_text(f))
                    .collect();
                let value = spec.value_fields[j as usize]
                    .as_deref()
                    .and_then(|f| ctx.field_text(f))
                    .map(String::into_boxed_str);
                let hit = NewHit {
                    corr,
                    group,
                    data: HitData {
                        time,
                        seq: ctx.seq,
                        rule: j,
                        value,
                    },
                };
                self.stats.correlation_hits += 1;
                if !self.correlator.push(hit) {
                    late.push(spec.rule.key().to_string());
                }
            }
        }
        (!late.is_empty()).then(|| late.join(", "))
    }

    fn flush(&mut self, out: &mut dyn Output) -> std::io::Result<()> {
        let started = std::time::Instant::now();
        self.since_flush = 0;
        self.last_flush = started;
        if !self.detector.correlations.is_empty() {
            let firings = self.correlator.flush();
            let stats = self.correlator.stats();
            for (spec, &n) in self.detector.correlations.specs.iter().zip(&stats.evicted_per_rule) {
                if n > 0 {
                    self.stats.correlation_evicted.insert(spec.rule.key().to_string(), n);
                }
            }
            self.emit(firings, out)?;
        }
        let wm = if self.finished {
            i64::MAX
        } else {
            self.watermarks.current()
        };
        for f in self.quality.judge(wm) {
            *self
                .stats
                .rule_alerts
                .entry(quality_rule_id(&f).to_string())
                .or_default() += 1;
            self.stats.alerts += 1;
            let alert = quality_alert(&f, self.position(quality_seq(&f)));
            out.alert(&alert)?;
        }
        if let Some(m) = &self.metrics {
            m.batch_done(started.elapsed());
        }
        self.publish();
        Ok(())
    }

    /// Sampled rule evaluation time per rule id, summed over sources:
    /// (rule, estimated seconds over all events, sampled evaluations).
    fn rule_eval(&self) -> Vec<(String, f64, u64)> {
        let mut by_rule: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for (sp, times) in self.detector.sources.iter().zip(&self.rule_time) {
            for (rule, &(ns, n)) in sp.plan.rules.iter().zip(times) {
                if n > 0 {
                    let e = by_rule.entry(rule.key()).or_default();
                    e.0 += ns;
                    e.1 += n;
                }
            }
        }
        by_rule
            .into_iter()
            .map(|(k, (ns, n))| (k.to_string(), ns as f64 * PROFILE_EVERY as f64 / 1e9, n))
            .collect()
    }

    /// Copies the counters to the metrics registry (once per flush, never per event).
    fn publish(&self) {
        let Some(m) = &self.metrics else { return };
        let set = &self.detector.correlations;
        let tracked = self.correlator.stats().tracked;
        m.publish(
            crate::metrics::Published {
                stats: self.stats.clone(),
                source_events: self
                    .detector
                    .sources
                    .iter()
                    .zip(&self.source_events)
                    .map(|(s, &n)| (s.source.name.clone(), n))
                    .collect(),
                groups: set
                    .specs
                    .iter()
                    .zip(tracked)
                    .map(|(s, n)| (s.rule.key().to_string(), n))
                    .collect(),
                late_hits: self.correlator.late,
                quality: self.quality.totals(),
                rule_eval: self.rule_eval(),
            },
            self.watermarks.current(),
        );
    }

    fn observe_watermark(&mut self) {
        self.correlator.observe_watermark(self.watermarks.current());
    }

    fn emit(&mut self, firings: Vec<Firing>, out: &mut dyn Output) -> std::io::Result<()> {
        for o in self.correlator.take_overflows() {
            self.stats.overflow_alerts += 1;
            out.alert(&self.overflow_alert(&o))?;
        }
        for f in firings.into_iter().filter(|f| f.publish) {
            let alert = match self.suppress(&f) {
                Some(update) => update,
                None => {
                    self.stats.correlation_alerts += 1;
                    self.stats.alerts += 1;
                    self.correlation_alert(&f)
                }
            };
            *self.stats.rule_alerts.entry(alert.rule.id.clone()).or_default() += 1;
            if let Some(m) = &self.metrics {
                m.alert_emitted(f.fire.last.0 as i128);
            }
            out.alert(&alert)?;
        }
        Ok(())
    }

    /// `tocsin: {suppress: 30m}`: a repeat firing of the same group inside the
    /// period folds into the open alert, re-emitted as an update with the same
    /// `alert_id`, the summed `count` and `updates` incremented. Returns the
    /// update, or `None` when the firing opens a new alert.
    fn suppress(&mut self, f: &Firing) -> Option<Alert> {
        let period = self.detector.correlations.specs[f.corr as usize].suppress_ns?;
        let key = (f.corr, f.group.clone());
        let t = f.fire.last.0;
        if let Some(open) = self.open.get_mut(&key) {
            if t.saturating_sub(open.since) < period {
                open.added += f.fire.value as u64;
                open.updates += 1;
                open.last = t;
                open.window_end = f.fire.window_end;
                let open = open.clone();
                return Some(self.updated_alert(&open));
            }
        }
        let open = OpenAlert {
            first: f.clone(),
            since: t,
            added: 0,
            updates: 0,
            last: t,
            window_end: f.fire.window_end,
        };
        self.open.insert(key, open);
        self.open.retain(|_, o| t.saturating_sub(o.since) < period);
        None
    }

    /// The open alert with the folded firings: same `alert_id`, summed `count`.
    fn updated_alert(&self, open: &OpenAlert) -> Alert {
        let mut a = self.correlation_alert(&open.first);
        a.count += open.added;
        a.updates = open.updates;
        a.last_event_time = Some(rfc3339(open.last as i128));
        if let Some(w) = &mut a.window {
            w.end = rfc3339(open.window_end as i128);
        }
        a
    }

    fn position(&self, s: crate::correlate::window::Seq) -> Position {
        let (p, offset) = unseq(s);
        match self.partition_names.get(p as usize) {
            Some(Position::File { file, .. }) => Position::File {
                file: file.clone(),
                line: offset,
            },
            Some(Position::Kafka { topic, partition, .. }) => Position::Kafka {
                topic: topic.clone(),
                partition: *partition,
                offset: offset as i64,
            },
            None => Position::File {
                file: "?".into(),
                line: offset,
            },
        }
    }

    /// The `state_overflow` meta-alert: which rule lost state, from when, how much.
    fn overflow_alert(&self, o: &Overflow) -> Alert {
        let rule = &self.detector.correlations.specs[o.corr as usize].rule;
        Alert {
            alert_id: alert_id(AlertKind::StateOverflow, rule.key(), &[], o.first.0 as i128, b""),
            kind: AlertKind::StateOverflow,
            rule: RuleRef::of_correlation(rule),
            event_time: rfc3339(o.first.0 as i128),
            time_source: TimeSource::Event,
            logsource: LogSourceRef::default(),
            count: o.evicted,
            group: serde_json::Map::new(),
            source: self.position(o.first.1),
            evidence: Vec::new(),
            window: None,
            first_event_time: None,
            last_event_time: None,
            value: None,
            contributing_rules: Vec::new(),
            evidence_refs: Vec::new(),
            updates: 0,
        }
    }

    fn correlation_alert(&self, f: &Firing) -> Alert {
        let set = &self.detector.correlations;
        let spec = &set.specs[f.corr as usize];
        let rule = &spec.rule;
        let pairs: Vec<(&str, &str)> = spec
            .group_names
            .iter()
            .zip(&f.group)
            .map(|(n, v)| (n.as_str(), v.as_deref().unwrap_or("")))
            .collect();
        let group = spec
            .group_names
            .iter()
            .zip(&f.group)
            .map(|(n, v)| {
                (
                    n.clone(),
                    v.clone().map_or(serde_json::Value::Null, serde_json::Value::String),
                )
            })
            .collect();
        let value_type = matches!(
            rule.kind,
            crate::rules::ast::CorrelationType::ValueSum
                | crate::rules::ast::CorrelationType::ValueAvg
                | crate::rules::ast::CorrelationType::ValuePercentile
        );
        let contributing_rules = (0..rule.rules.len())
            .filter(|i| f.fire.rules & (1 << i) != 0)
            .map(|i| match &spec.refs[i] {
                crate::correlate::RefTarget::Detection(k) => k.clone(),
                crate::correlate::RefTarget::Correlation(c) => set.specs[*c as usize].rule.key().to_string(),
            })
            .collect();
        Alert {
            alert_id: alert_id(AlertKind::Correlation, rule.key(), &pairs, f.fire.first.0 as i128, b""),
            kind: AlertKind::Correlation,
            rule: RuleRef::of_correlation(rule),
            event_time: rfc3339(f.fire.first.0 as i128),
            time_source: TimeSource::Event,
            logsource: LogSourceRef::default(),
            count: if value_type { f.fire.hits } else { f.fire.value as u64 },
            group,
            source: self.position(f.fire.first.1),
            evidence: Vec::new(),
            window: Some(Window {
                start: rfc3339(f.fire.window_start as i128),
                end: rfc3339(f.fire.window_end as i128),
            }),
            first_event_time: Some(rfc3339(f.fire.first.0 as i128)),
            last_event_time: Some(rfc3339(f.fire.last.0 as i128)),
            value: value_type.then_some(f.fire.value),
            contributing_rules,
            evidence_refs: f.fire.evidence.iter().map(|e| self.position(e.1)).collect(),
            updates: 0,
        }
    }
}

fn quality_seq(f: &quality::Finding) -> crate::correlate::window::Seq {
    match f {
        quality::Finding::Quality { first, .. } => *first,
        quality::Finding::Silent { at, .. } => *at,
    }
}

fn quality_rule_id(f: &quality::Finding) -> &'static str {
    match f {
        quality::Finding::Quality { .. } => "tocsin-log-quality",
        quality::Finding::Silent { .. } => "tocsin-source-silent",
    }
}

/// The `log_quality` and `source_silent` meta-alerts.
fn quality_alert(f: &quality::Finding, source_pos: Position) -> Alert {
    use quality::Finding;
    let s = |v: &str| serde_json::Value::String(v.to_string());
    let (kind, title, level, time, group, count, value, window, first) = match f {
        Finding::Quality {
            source,
            measure,
            field,
            count,
            events,
            start,
            end,
            ..
        } => {
            let mut g = serde_json::Map::new();
            g.insert("source".into(), s(source));
            g.insert("measure".into(), s(measure));
            if let Some(field) = field {
                g.insert("field".into(), s(field));
            }
            let share = *count as f64 / (*events).max(1) as f64;
            let window = Window {
                start: rfc3339(*start as i128),
                end: rfc3339(*end as i128),
            };
            let title = format!("Log quality: {measure} in source {source}");
            (
                AlertKind::LogQuality,
                title,
                "low",
                *start,
                g,
                *count,
                Some(share),
                Some(window),
                None,
            )
        }
        Finding::Silent {
            source,
            last,
            max_silence,
            ..
        } => {
            let mut g = serde_json::Map::new();
            g.insert("source".into(), s(source));
            let title = format!("Source {source} silent");
            let at = last.saturating_add(*max_silence);
            (
                AlertKind::SourceSilent,
                title,
                "medium",
                at,
                g,
                1,
                None,
                None,
                Some(*last),
            )
        }
    };
    let id = quality_rule_id(f);
    let pairs: Vec<(&str, &str)> = group
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("")))
        .collect();
    Alert {
        alert_id: alert_id(kind, id, &pairs, time as i128, b""),
        kind,
        rule: RuleRef {
            id: id.to_string(),
            title,
            level: Some(level),
            tags: Vec::new(),
            author: None,
        },
        event_time: rfc3339(time as i128),
        time_source: TimeSource::Event,
        logsource: LogSourceRef::default(),
        count,
        group,
        source: source_pos,
        evidence: Vec::new(),
        window,
        first_event_time: first.map(|t| rfc3339(t as i128)),
        last_event_time: None,
        value,
        contributing_rules: Vec::new(),
        evidence_refs: Vec::new(),
        updates: 0,
    }
}

/// Hash of the input partition a position belongs to (file, or topic and partition).
fn partition_hash(pos: &Position) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut h = rustc_hash::FxBuildHasher.build_hasher();
    match pos {
        Position::File { file, .. } => (0u8, file).hash(&mut h),
        Position::Kafka { topic, partition, .. } => (1u8, topic, partition).hash(&mut h),
    }
    h.finish()
}

fn same_partition(a: &Position, b: &Position) -> bool {
    match (a, b) {
        (Position::File { file: x, .. }, Position::File { file: y, .. }) => x == y,
        (
            Position::Kafka {
                topic: t1,
                partition: p1,
                ..
            },
            Position::Kafka {
                topic: t2,
                partition: p2,
                ..
            },
        ) => p1 == p2 && t1 == t2,
        _ => false,
    }
}

struct MatchContext<'a, 't, 'i> {
    root: ValueRef<'t, 'i>,
    raw: &'a [u8],
    pos: &'a Position,
    time_ns: i128,
    time_source: TimeSource,
    seq: u64,
    sp: &'a SourcePlan,
}

impl MatchContext<'_, '_, '_> {
    /// A rule field's value as text, read through the source's field mapping.
    fn field_text(&self, field: &str) -> Option<String> {
        self.sp
            .opts
            .paths(field)
            .iter()
            .find_map(|p| self.root.lookup(p))
            .and_then(|v| v.text())
            .map(|t| t.as_str().to_string())
    }

    fn alert(&self, rule: &crate::rules::Rule, event: serde_json::Value) -> Alert {
        let event_time = rfc3339(self.time_ns);
        Alert {
            alert_id: alert_id(AlertKind::Match, rule.key(), &[], self.time_ns, self.raw),
            kind: AlertKind::Match,
            rule: RuleRef::of(rule),
            event_time: event_time.clone(),
            time_source: self.time_source,
            logsource: LogSourceRef::from(&self.sp.source.logsource),
            count: 1,
            group: serde_json::Map::new(),
            source: self.pos.clone(),
            evidence: vec![Evidence {
                source: self.pos.clone(),
                event_time,
                event,
            }],
            window: None,
            first_event_time: None,
            last_event_time: None,
            value: None,
            contributing_rules: Vec::new(),
            evidence_refs: Vec::new(),
            updates: 0,
        }
    }
}

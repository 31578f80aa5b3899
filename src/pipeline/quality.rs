//! Log-quality monitoring: each source's events checked against what the
//! logging standards require of it, per period of event time.
//!
//! Per source and period: the share of events missing each required
//! attribute, the share whose timestamp is not UTC (an explicit non-zero
//! offset, or no zone at all), and events carrying secrets (every Nth event
//! scanned with the redactor's detectors — the standards' never-log list).
//! A period is judged once the watermark passes its end, so the alerts are
//! the same for a replay and a stream; a share above its threshold raises a
//! `log_quality` alert. A gap between two events of a source longer than its
//! `max_silence` raises `source_silent` (also judged on event time).
//!
//! A source's required fields are its `required_fields`, which a `schema`
//! fills with the source schema's (`config::schema`); each is read through
//! the source's field mapping, and `@timestamp` through its time fields too.
//!
//! Costs on the hot path: a few field lookups per event (paths resolved
//! once, here), and a JSON copy of one event in `secret_scan_every`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use crate::alert::redact::Redactor;
use crate::config::QualityConfig;
use crate::correlate::window::Seq;
use crate::detector::Detector;
use crate::event::{Kind, ValueRef};

/// What a judged period (or a silence) found: the pipeline turns each into an alert.
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    /// `count` of `events` in `[start, end)` broke the rule `measure` (for `field`).
    Quality {
        source: String,
        measure: &'static str,
        field: Option<String>,
        count: u64,
        events: u64,
        threshold: f64,
        start: i64,
        end: i64,
        /// Input position of the first offending event (earliest by event
        /// time, then position).
        first: Seq,
    },
    /// No event of `source` between `last` and `last + max_silence`.
    Silent {
        source: String,
        last: i64,
        max_silence: i64,
        /// Input position of that last event.
        at: Seq,
    },
}

/// Offending events counted, and the first of them: the earliest by
/// (event time, input position), so the finding names the same event
/// whatever order the events arrived in (partitions interleave).
#[derive(Clone, Copy, Debug, Default)]
struct Counter {
    n: u64,
    first: (i64, Seq),
}

/// Counters of one source in one period.
#[derive(Clone, Debug, Default)]
struct Period {
    events: u64,
    /// Per required field: events without it.
    missing: Vec<Counter>,
    non_utc: Counter,
    secrets: Counter,
}

fn count(c: &mut Counter, time: i64, seq: Seq) {
    if c.n == 0 || (time, seq) < c.first {
        c.first = (time, seq);
    }
    c.n += 1;
}

struct SourceQuality {
    name: String,
    required: Vec<String>,
    /// Event paths of each required field (through the source's mapping).
    paths: Vec<Vec<String>>,
    time_fields: Vec<String>,
    max_silence: Option<i64>,
    periods: BTreeMap<i64, Period>,
    /// Latest event time seen (metrics).
    last_time: Option<i64>,
    /// With `max_silence`: event times the watermark has not passed yet,
    /// judged in (time, position) order so arrival order never matters.
    pending: BinaryHeap<Reverse<(i64, Seq)>>,
    /// The latest event the watermark passed, and whether the silence after it was reported.
    judged_last: Option<(i64, Seq)>,
    silent_reported: bool,
    seen: u64,
    /// Totals for metrics.
    totals: Period,
}

/// The monitor of a pipeline (one per processor).
pub struct Quality {
    cfg: QualityConfig,
    period_ns: i64,
    sources: Vec<SourceQuality>,
    /// Periods ending at or before this were judged; later events for them are ignored.
    judged_until: i64,
}

/// Per-source totals, for metrics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QualityTotals {
    pub source: String,
    pub missing: Vec<(String, u64)>,
    pub non_utc: u64,
    pub secrets: u64,
    pub last_event_ns: Option<i64>,
}

impl Quality {
    pub fn new(detector: &Detector, cfg: QualityConfig) -> Quality {
        let period_ns = crate::correlate::parse_duration_ms(&cfg.period)
            .filter(|&ms| ms > 0)
            .unwrap_or(3_600_000) as i64
            * 1_000_000;
        let sources = detector
            .sources
            .iter()
            .map(|sp| SourceQuality {
                name: sp.source.name.clone(),
                paths: sp
                    .source
                    .required_fields
                    .iter()
                    .map(|f| {
                        let mut paths = sp.opts.paths(f);
                        // The event time is `@timestamp` as the schemas see it
                        // (`classify::ecs`), wherever the source reads it (Zeek's `ts`).
                        if f == "@timestamp" {
                            paths.extend(
                                sp.time
                                    .fields
                                    .iter()
                                    .filter(|t| !paths.contains(t))
                                    .cloned()
                                    .collect::<Vec<_>>(),
                            );
                        }
                        paths
                    })
                    .collect(),
                required: sp.source.required_fields.clone(),
                time_fields: sp.time.fields.clone(),
                max_silence: sp.source.max_silence_ns,
                periods: BTreeMap::new(),
                last_time: None,
                pending: BinaryHeap::new(),
                judged_last: None,
                silent_reported: false,
                seen: 0,
                totals: Period {
                    missing: vec![Counter::default(); sp.source.required_fields.len()],
                    ..Period::default()
                },
            })
            .collect();
        Quality {
            cfg,
            period_ns,
            sources,
            judged_until: i64::MIN,
        }
    }

    /// Counts one classified event of source `si` at event time `time`.
    pub fn observe(&mut self, si: usize, root: ValueRef<'_, '_>, time: i64, seq: Seq, redactor: &Redactor) {
        let start = time.div_euclid(self.period_ns) * self.period_ns;
        let scan_every = self.cfg.secret_scan_every;
        let Some(s) = self.sources.get_mut(si) else { return };
        // Monitoring is per source, opted into by declaring what it must carry
        // (`required_fields`) or how long it may be silent (`max_silence`).
        if s.required.is_empty() && s.max_silence.is_none() {
            return;
        }
        s.seen += 1;
        s.last_time = Some(s.last_time.map_or(time, |t| t.max(time)));
        if s.max_silence.is_some() {
            s.pending.push(Reverse((time, seq)));
        }
        // A bit per required field (at most 64 are checked): no allocation per event.
        let missing: u64 = (0..s.paths.len().min(64))
            .filter(|&i| !s.paths[i].iter().any(|p| root.lookup(p).is_some_and(present)))
            .fold(0, |m, i| m | 1 << i);
        let non_utc = s
            .time_fields
            .iter()
            .find_map(|f| root.lookup(f))
            .is_some_and(|v| !utc(v));
        let secret = scan_every > 0 && s.seen % scan_every == 1 % scan_every && {
            let mut copy = root.to_json();
            redactor.redact(&mut copy) > 0
        };
        let n = s.required.len();
        let period = (start + self.period_ns > self.judged_until).then(|| {
            s.periods.entry(start).or_insert_with(|| Period {
                missing: vec![Counter::default(); n],
                ..Period::default()
            })
        });
        for p in std::iter::once(&mut s.totals).chain(period) {
            p.events += 1;
            if missing != 0 {
                for (i, m) in p.missing.iter_mut().enumerate().take(64) {
                    if missing & (1 << i) != 0 {
                        count(m, time, seq);
                    }
                }
            }
            if non_utc {
                count(&mut p.non_utc, time, seq);
            }
            if secret {
                count(&mut p.secrets, time, seq);
            }
        }
    }

    /// Judges every period that ended at or before `watermark`, and silences
    /// the watermark has passed. Findings in (time, source, measure) order.
    pub fn judge(&mut self, watermark: i64) -> Vec<Finding> {
        let mut out = Vec::new();
        for s in &mut self.sources {
            let due: Vec<i64> = s
                .periods
                .keys()
                .copied()
                .take_while(|&start| start.saturating_add(self.period_ns) <= watermark)
                .collect();
            for start in due {
                let Some(p) = s.periods.remove(&start) else { continue };
                let end = start.saturating_add(self.period_ns);
                findings(&self.cfg, s, &p, start, end, &mut out);
            }
            if let Some(limit) = s.max_silence {
                silences(s, limit, watermark, &mut out);
            }
        }
        if watermark != i64::MAX && watermark != i64::MIN {
            let floor = watermark.div_euclid(self.period_ns).saturating_mul(self.period_ns);
            self.judged_until = self.judged_until.max(floor);
        }
        out.sort_by_key(|f| match f {
            Finding::Quality { start, .. } => *start,
            Finding::Silent { last, max_silence, .. } => last + max_silence,
        });
        out
    }

    pub fn totals(&self) -> Vec<QualityTotals> {
        self.sources
            .iter()
            .map(|s| QualityTotals {
                source: s.name.clone(),
                missing: s
                    .required
                    .iter()
                    .cloned()
                    .zip(s.totals.missing.iter().map(|m| m.n))
                    .collect(),
                non_utc: s.totals.non_utc.n,
                secrets: s.totals.secrets.n,
                last_event_ns: s.last_time,
            })
            .collect()
    }
}

/// Gaps longer than `limit` between consecutive events the watermark has
/// passed, and a silence still running at the watermark (not at the end of
/// input: a replay that ends is not a source that stopped). Either way the
/// finding is (the event before the gap), so it is reported once and the
/// same whenever it is noticed.
fn silences(s: &mut SourceQuality, limit: i64, watermark: i64, out: &mut Vec<Finding>) {
    let mut report = |s: &mut SourceQuality, last: (i64, Seq)| {
        if !s.silent_reported {
            s.silent_reported = true;
            out.push(Finding::Silent {
                source: s.name.clone(),
                last: last.0,
                max_silence: limit,
                at: last.1,
            });
        }
    };
    while let Some(&Reverse((t, seq))) = s.pending.peek() {
        if t > watermark {
            break;
        }
        s.pending.pop();
        if let Some(last) = s.judged_last {
            if t > last.0.saturating_add(limit) {
                report(s, last);
            }
            if t >= last.0 {
                s.judged_last = Some((t, seq));
                s.silent_reported = false;
            }
        } else {
            s.judged_last = Some((t, seq));
        }
    }
    if let Some(last) = s.judged_last {
        if watermark != i64::MAX && watermark > last.0.saturating_add(limit) {
            report(s, last);
        }
    }
}

fn findings(cfg: &QualityConfig, s: &SourceQuality, p: &Period, start: i64, end: i64, out: &mut Vec<Finding>) {
    let share = |n: u64| n as f64 / p.events.max(1) as f64;
    let mut push = |measure: &'static str, field: Option<String>, c: Counter, threshold: f64| {
        out.push(Finding::Quality {
            source: s.name.clone(),
            measure,
            field,
            count: c.n,
            events: p.events,
            threshold,
            start,
            end,
            first: c.first.1,
        })
    };
    for (field, &m) in s.required.iter().zip(&p.missing) {
        if m.n > 0 && share(m.n) > cfg.max_missing_share {
            push("missing_field", Some(field.clone()), m, cfg.max_missing_share);
        }
    }
    if p.non_utc.n > 0 && share(p.non_utc.n) > cfg.max_non_utc_share {
        push("non_utc_time", None, p.non_utc, cfg.max_non_utc_share);
    }
    if p.secrets.n > 0 {
        push("secret_in_event", None, p.secrets, 0.0);
    }
}

/// A value that is there: not null, not an empty string.
fn present(v: ValueRef<'_, '_>) -> bool {
    match v.kind() {
        Kind::Null => false,
        Kind::Str(s) => !s.trim().is_empty(),
        _ => true,
    }
}

/// Whether a timestamp is unambiguously UTC: epoch numbers are, strings
/// must end in `Z` or a zero offset (`+00:00`, `-00:00`, `+0000`).
fn utc(v: ValueRef<'_, '_>) -> bool {
    match v.kind() {
        Kind::Str(s) => {
            let s = s.trim();
            if s.parse::<f64>().is_ok() {
                return true;
            }
            s.ends_with('Z')
                || s.ends_with('z')
                || ["+00:00", "-00:00", "+0000", "-0000"].iter().any(|z| s.ends_with(z))
        }
        _ => true,
    }
}

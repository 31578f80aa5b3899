//! The per-record path: decode → classify → match → alert, with every
//! outcome counted.
//!
//! A [`Processor`] is owned by one thread and reuses its decoder and matcher
//! scratch across records. Every record read ends as exactly one of: alerts,
//! a counted no-match, an unclassified count, or a dead letter.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::alert::redact::Redactor;
use crate::alert::{alert_id, rfc3339, Alert, AlertKind, Evidence, LogSourceRef, RuleRef, TimeSource};
use crate::decode::JsonDecoder;
use crate::detector::Detector;
use crate::event::{Position, ValueRef};
use crate::matcher::Scratch;
use crate::sink::{DeadLetter, Output};

/// Counters of one run (or one worker), merged for the summary.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Stats {
    pub records: u64,
    pub events: u64,
    pub unclassified: u64,
    pub matched_events: u64,
    pub alerts: u64,
    pub dead_letters: BTreeMap<&'static str, u64>,
    /// Rule id → alerts.
    pub rule_alerts: BTreeMap<String, u64>,
}

impl Stats {
    pub fn dead_letter_total(&self) -> u64 {
        self.dead_letters.values().sum()
    }
}

pub struct Processor {
    detector: Arc<Detector>,
    decoder: JsonDecoder,
    scratch: Scratch,
    redactor: Redactor,
    pub stats: Stats,
}

impl Processor {
    pub fn new(detector: Arc<Detector>, redactor: Redactor, max_event_bytes: usize) -> Self {
        Processor {
            detector,
            decoder: JsonDecoder::new(max_event_bytes),
            scratch: Scratch::new(),
            redactor,
            stats: Stats::default(),
        }
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
        self.stats.records += 1;
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
                *self.stats.dead_letters.entry(e.reason()).or_default() += 1;
                return out.dead_letter(&DeadLetter::new(e.reason(), e.to_string(), pos, raw).with_len(true_len));
            }
        };
        let root = decoded.root();
        let Some(sp) = self.detector.sources.iter().find(|s| s.source.claims(root)) else {
            self.stats.unclassified += 1;
            return Ok(());
        };
        let (time_ns, time_source) = match sp.time.extract(root, transport_ns) {
            Ok(t) => t,
            Err(e) => {
                *self.stats.dead_letters.entry("no_event_time").or_default() += 1;
                return out.dead_letter(&DeadLetter::new("no_event_time", e.to_string(), pos, raw));
            }
        };
        self.stats.events += 1;
        let matched = sp.plan.scan_raw(root, Some(raw), &mut self.scratch);
        if matched.is_empty() {
            return Ok(());
        }
        self.stats.matched_events += 1;
        let ctx = MatchContext {
            root,
            raw,
            pos: &pos,
            time_ns,
            time_source,
            logsource: LogSourceRef::from(&sp.source.logsource),
        };
        for &r in matched {
            let rule = &sp.plan.rules[r as usize];
            let alert = ctx.alert(rule, &self.redactor);
            self.stats.alerts += 1;
            *self.stats.rule_alerts.entry(alert.rule.id.clone()).or_default() += 1;
            out.alert(&alert)?;
        }
        Ok(())
    }
}

struct MatchContext<'a, 't, 'i> {
    root: ValueRef<'t, 'i>,
    raw: &'a [u8],
    pos: &'a Position,
    time_ns: i128,
    time_source: TimeSource,
    logsource: LogSourceRef,
}

impl MatchContext<'_, '_, '_> {
    fn alert(&self, rule: &crate::rules::Rule, redactor: &Redactor) -> Alert {
        let mut event = self.root.to_json();
        redactor.redact(&mut event);
        let event_time = rfc3339(self.time_ns);
        Alert {
            alert_id: alert_id(AlertKind::Match, rule.key(), &[], self.time_ns, self.raw),
            kind: AlertKind::Match,
            rule: RuleRef::of(rule),
            event_time: event_time.clone(),
            time_source: self.time_source,
            logsource: self.logsource.clone(),
            count: 1,
            group: serde_json::Map::new(),
            source: self.pos.clone(),
            evidence: vec![Evidence {
                source: self.pos.clone(),
                event_time,
                event,
            }],
        }
    }
}

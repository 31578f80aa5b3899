//! Alerts: the record security operations consume, its deterministic identity
//! and its evidence.
//!
//! The JSON shape is a contract (`schemas/alert.schema.json`): fields are
//! added, never renamed. Alert ids are content hashes, so a replay, a retry or
//! a restart re-emits the same id and consumers can de-duplicate on it.

pub mod format;
pub mod redact;
pub mod sign;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::event::Position;
use crate::rules::{LogSource, Rule};

/// What produced the alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// One event matched a detection rule.
    Match,
    /// A correlation rule's condition was met over a window.
    Correlation,
    /// Meta-alert: a cap evicted groups of a correlation rule, so detections
    /// of that rule may have been missed (at most one per rule per hour of event time).
    StateOverflow,
    /// A source's events broke what the logging standards require of them
    /// over a period (missing required attributes, non-UTC time, secrets).
    LogQuality,
    /// A source sent nothing for longer than its `max_silence`.
    SourceSilent,
}

impl AlertKind {
    /// The name the JSON, CEF and syslog renderings and the alert id use.
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::Match => "match",
            AlertKind::Correlation => "correlation",
            AlertKind::StateOverflow => "state_overflow",
            AlertKind::LogQuality => "log_quality",
            AlertKind::SourceSilent => "source_silent",
        }
    }
}

/// Where an event's time came from (recorded so analysts can trust or discount it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// The configured timestamp field of the event.
    Event,
    /// The transport's timestamp (e.g. the Kafka message timestamp).
    Transport,
    /// The time Tocsin read the event (only when the source allows it).
    Ingest,
}

#[derive(Clone, Debug, Serialize)]
pub struct RuleRef {
    pub id: String,
    pub title: String,
    pub level: Option<&'static str>,
    pub tags: Vec<String>,
    /// Kept as the Detection Rule License requires attribution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

impl RuleRef {
    pub fn of(rule: &Rule) -> Self {
        Self::new(rule.key(), &rule.title, rule.level, &rule.tags, &rule.author)
    }

    pub fn of_correlation(rule: &crate::rules::ast::CorrelationRule) -> Self {
        Self::new(rule.key(), &rule.title, rule.level, &rule.tags, &rule.author)
    }

    fn new(
        id: &str,
        title: &str,
        level: Option<crate::rules::Level>,
        tags: &[String],
        author: &Option<String>,
    ) -> Self {
        RuleRef {
            id: id.to_string(),
            title: title.to_string(),
            level: level.map(|l| l.as_str()),
            tags: tags.to_vec(),
            author: author.clone(),
        }
    }
}

/// One piece of evidence: where the event is, and the event with secrets masked.
#[derive(Clone, Debug, Serialize)]
pub struct Evidence {
    pub source: Position,
    pub event_time: String,
    pub event: serde_json::Value,
}

/// The alert record (one NDJSON line, or one Kafka message).
#[derive(Clone, Debug, Serialize)]
pub struct Alert {
    pub alert_id: String,
    pub kind: AlertKind,
    pub rule: RuleRef,
    /// RFC 3339 UTC time of the (first contributing) event.
    pub event_time: String,
    pub time_source: TimeSource,
    pub logsource: LogSourceRef,
    pub count: u64,
    /// Group-by field → value; empty for single-event matches.
    pub group: serde_json::Map<String, serde_json::Value>,
    /// Input position of the (first contributing) event.
    pub source: Position,
    pub evidence: Vec<Evidence>,
    /// Correlations: the window that satisfied the condition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    /// Correlations: time of the first and last contributing events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_event_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_event_time: Option<String>,
    /// Correlations: the aggregated value for value_sum / value_avg / value_percentile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Correlations: ids of the referenced rules that contributed hits.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contributing_rules: Vec<String>,
    /// Correlations: input positions of contributing events (oldest first, at most 8).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence_refs: Vec<Position>,
    /// Suppression: how many repeat firings were folded into this alert (0 for a new alert;
    /// an update carries the same `alert_id` with the summed `count`).
    #[serde(skip_serializing_if = "is_zero")]
    pub updates: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A correlation window, RFC 3339 UTC.
#[derive(Clone, Debug, Serialize)]
pub struct Window {
    pub start: String,
    pub end: String,
}

/// The event's logsource as classified (not the rule's).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct LogSourceRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

impl From<&LogSource> for LogSourceRef {
    fn from(l: &LogSource) -> Self {
        LogSourceRef {
            product: l.product.clone(),
            category: l.category.clone(),
            service: l.service.clone(),
        }
    }
}

/// Deterministic alert id: SHA-256 over (kind, rule id, group values, event
/// time in nanoseconds, and a discriminator), truncated to 128 bits, hex.
///
/// For single matches the discriminator is the hash of the raw event bytes, so
/// two different events at the same instant get different ids while a replay
/// of the same event gets the same one, whichever transport carried it.
pub fn alert_id(
    kind: AlertKind,
    rule_id: &str,
    group: &[(&str, &str)],
    event_time_ns: i128,
    discriminator: &[u8],
) -> String {
    let mut h = Sha256::new();
    let field = |h: &mut Sha256, b: &[u8]| {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    };
    field(&mut h, kind.name().as_bytes());
    field(&mut h, rule_id.as_bytes());
    for (k, v) in group {
        field(&mut h, k.as_bytes());
        field(&mut h, v.as_bytes());
    }
    h.update(event_time_ns.to_be_bytes());
    field(&mut h, discriminator);
    let digest = h.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Formats nanoseconds since the epoch as RFC 3339 UTC (`2024-05-01T10:00:00.123Z`).
pub fn rfc3339(ns: i128) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp_nanos(ns)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_discriminating() {
        let a = alert_id(AlertKind::Match, "r1", &[], 1_000, b"event-a");
        assert_eq!(a, alert_id(AlertKind::Match, "r1", &[], 1_000, b"event-a"));
        assert_eq!(a.len(), 32);
        assert_ne!(a, alert_id(AlertKind::Match, "r1", &[], 1_000, b"event-b"));
        assert_ne!(a, alert_id(AlertKind::Match, "r2", &[], 1_000, b"event-a"));
        assert_ne!(a, alert_id(AlertKind::Match, "r1", &[], 1_001, b"event-a"));
        assert_ne!(
            alert_id(AlertKind::Correlation, "r", &[("user", "ab")], 0, b""),
            alert_id(AlertKind::Correlation, "r", &[("user", "a"), ("b", "")], 0, b"")
        );
    }

    #[test]
    fn formats_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_500_000_000), "1970-01-01T00:00:01.5Z");
    }
}

//! Event time: which field holds it, how it is written, and what happens when
//! it is missing.
//!
//! Windows use event time only, so the choice is explicit and recorded on the
//! alert ([`TimeSource`]). Accepted forms: RFC 3339 (`2024-05-01T10:00:00Z`,
//! with any offset), the same without an offset (read as UTC) or with a space
//! instead of `T`, and epoch numbers — seconds (fractions allowed, as Zeek
//! writes them) or milliseconds (values of 10^12 and above).

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::alert::TimeSource;
use crate::event::{Kind, ValueRef};

/// What to do when no configured field holds a usable time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFallback {
    /// Send the event to the dead-letter output (reason `no_event_time`).
    #[default]
    DeadLetter,
    /// Use the transport timestamp (Kafka message time), else dead-letter.
    Transport,
    /// Use the time Tocsin read the event. Breaks replay determinism: opt-in only.
    Ingest,
}

/// Where to find the time of an event.
#[derive(Clone, Debug)]
pub struct TimeConfig {
    /// Candidate fields (dotted paths), first usable wins.
    pub fields: Vec<String>,
    pub fallback: TimeFallback,
}

impl Default for TimeConfig {
    fn default() -> Self {
        TimeConfig {
            fields: vec!["@timestamp".into()],
            fallback: TimeFallback::DeadLetter,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no usable event time in field(s) {fields}")]
pub struct NoEventTime {
    pub fields: String,
}

impl TimeConfig {
    /// The event time in nanoseconds since the epoch, and where it came from.
    pub fn extract(
        &self,
        root: ValueRef<'_, '_>,
        transport_ns: Option<i128>,
    ) -> Result<(i128, TimeSource), NoEventTime> {
        if let Some(ns) = self.fields.iter().find_map(|f| root.lookup(f).and_then(parse_time)) {
            return Ok((ns, TimeSource::Event));
        }
        match (self.fallback, transport_ns) {
            (TimeFallback::Transport | TimeFallback::Ingest, Some(ns)) => Ok((ns, TimeSource::Transport)),
            (TimeFallback::Ingest, None) => Ok((now_ns(), TimeSource::Ingest)),
            _ => Err(NoEventTime {
                fields: self.fields.join(", "),
            }),
        }
    }
}

fn now_ns() -> i128 {
    OffsetDateTime::now_utc().unix_timestamp_nanos()
}

/// Reads a time value in any accepted form.
pub fn parse_time(v: ValueRef<'_, '_>) -> Option<i128> {
    match v.kind() {
        Kind::Str(s) => parse_time_str(s),
        Kind::I64(n) => epoch(n as f64),
        Kind::U64(n) => epoch(n as f64),
        Kind::F64(n) => epoch(n),
        _ => None,
    }
}

pub fn parse_time_str(s: &str) -> Option<i128> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    let naive = format_description!(
        version = 2,
        "[year]-[month]-[day][first [T][ ]][hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    if let Ok(t) = PrimitiveDateTime::parse(s.trim_end_matches('Z'), &naive) {
        return Some(t.assume_utc().unix_timestamp_nanos());
    }
    s.parse::<f64>().ok().and_then(epoch)
}

fn epoch(v: f64) -> Option<i128> {
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    let secs = if v >= 1e12 { v / 1000.0 } else { v };
    let whole = secs.trunc();
    Some(whole as i128 * 1_000_000_000 + ((secs - whole) * 1e9).round() as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_accepted_forms() {
        let base = 1_714_557_600_000_000_000i128; // 2024-05-01T10:00:00Z
        assert_eq!(parse_time_str("2024-05-01T10:00:00Z"), Some(base));
        assert_eq!(parse_time_str("2024-05-01T12:00:00+02:00"), Some(base));
        assert_eq!(parse_time_str("2024-05-01 10:00:00"), Some(base));
        assert_eq!(parse_time_str("2024-05-01T10:00:00.250Z"), Some(base + 250_000_000));
        assert_eq!(parse_time_str("1714557600"), Some(base));
        assert_eq!(parse_time_str("1714557600000"), Some(base));
        assert_eq!(parse_time_str("1714557600.5"), Some(base + 500_000_000));
        assert_eq!(parse_time_str("yesterday"), None);
    }
}

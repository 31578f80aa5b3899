//! One scalar event value seen as text, the way Sigma compares values.
//!
//! Sigma matches numbers and booleans by their text (`EventID: 4624` matches
//! the number 4624 and the string "4624"), so numbers are rendered into a
//! stack buffer rather than a fresh `String` per value.

use std::net::IpAddr;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::pattern::TimePart;

/// A scalar event value and its text.
pub enum Text<'a> {
    Str(&'a str),
    /// A JSON number with its canonical text (`4624`, `1.5`).
    Num {
        buf: [u8; 40],
        len: u8,
        value: f64,
    },
}

impl<'a> Text<'a> {
    pub fn from_i64(v: i64) -> Text<'static> {
        let mut b = itoa::Buffer::new();
        Text::from_formatted(b.format(v), v as f64)
    }

    pub fn from_u64(v: u64) -> Text<'static> {
        let mut b = itoa::Buffer::new();
        Text::from_formatted(b.format(v), v as f64)
    }

    pub fn from_f64(v: f64) -> Text<'static> {
        let mut b = ryu::Buffer::new();
        let s = if v.is_finite() { b.format_finite(v) } else { "NaN" };
        Text::from_formatted(s, v)
    }

    pub fn from_bool(v: bool) -> Text<'static> {
        Text::Str(if v { "true" } else { "false" })
    }

    fn from_formatted(s: &str, value: f64) -> Text<'static> {
        let mut buf = [0u8; 40];
        let len = s.len().min(40);
        buf[..len].copy_from_slice(&s.as_bytes()[..len]);
        Text::Num {
            buf,
            len: len as u8,
            value,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Text::Str(s) => s,
            // The buffer only ever holds ASCII digits, sign, dot and exponent.
            Text::Num { buf, len, .. } => std::str::from_utf8(&buf[..*len as usize]).unwrap_or(""),
        }
    }

    /// The numeric value when the event holds a JSON number.
    pub fn number(&self) -> Option<f64> {
        match self {
            Text::Num { value, .. } => Some(*value),
            Text::Str(_) => None,
        }
    }
}

/// Reads a number written as text (`"42"`, `" 3.5 "`, `"0x1F"`).
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(hex, 16).ok().map(|v| v as f64);
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Reads an IP address, tolerating IPv6 brackets and a zone suffix.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    let t = s.trim().trim_start_matches('[').trim_end_matches(']');
    let t = t.split('%').next().unwrap_or(t);
    t.parse().ok()
}

/// Parses a timestamp: RFC 3339 text, or epoch seconds / milliseconds.
pub fn parse_timestamp(text: &Text<'_>) -> Option<OffsetDateTime> {
    let epoch = |v: f64| {
        // Values beyond year 33658 in seconds are taken as milliseconds.
        let secs = if v.abs() >= 1e12 { v / 1000.0 } else { v };
        OffsetDateTime::from_unix_timestamp_nanos((secs * 1e9) as i128).ok()
    };
    match text {
        Text::Num { value, .. } => epoch(*value),
        Text::Str(s) => OffsetDateTime::parse(s.trim(), &Rfc3339)
            .ok()
            .or_else(|| parse_number(s).and_then(epoch)),
    }
}

/// Extracts a calendar part (UTC) from a timestamp value.
pub fn time_part(text: &Text<'_>, part: TimePart) -> Option<f64> {
    let t = parse_timestamp(text)?.to_offset(time::UtcOffset::UTC);
    Some(match part {
        TimePart::Minute => t.minute() as f64,
        TimePart::Hour => t.hour() as f64,
        TimePart::Day => t.day() as f64,
        TimePart::Week => t.iso_week() as f64,
        TimePart::Month => u8::from(t.month()) as f64,
        TimePart::Year => t.year() as f64,
    })
}

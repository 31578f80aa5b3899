//! RFC 5424 syslog:
//!
//! ```text
//! <PRI>1 TIMESTAMP HOSTNAME tocsin - ALERT [tocsin@32473 alertId="…" rule="…" …] MSG
//! ```
//!
//! - PRI = facility × 8 + severity: the facility is configured
//!   (`output.syslog_facility`, default `local0` = 16), the severity comes
//!   from the rule level ([`super::syslog_severity`]).
//! - TIMESTAMP is the alert's `event_time` (so a replay renders the same
//!   bytes), in the RFC's profile of RFC 3339: UTC `Z`, at most six
//!   fractional digits (truncated); `-` if it cannot be read.
//! - HOSTNAME: `output.syslog_hostname`, else this machine's name (read
//!   from `/proc/sys/kernel/hostname`, else `$HOSTNAME`), printable ASCII
//!   only, at most 255 characters, `-` when empty. APP-NAME `tocsin`,
//!   PROCID `-`, MSGID `ALERT`.
//! - One SD-ELEMENT `tocsin@32473` (32473 is the enterprise number RFC 5612
//!   reserves for documentation) with SD-PARAMs, in this order, each only
//!   when present: `alertId`, `rule` (rule id), `title`, `level`, `kind`,
//!   `count`, `src`, `user`, `host` ([`super::entity`]), `signature`. The
//!   names are fixed ASCII and valid SD-NAMEs (1–32 printable characters
//!   other than `=`, space, `]`, `"`). Values escape `"`, `\` and `]` with a
//!   backslash (§6.3.3); the RFC has no escape for line breaks, so CR and LF
//!   are written as spaces to keep one message per line (the MSG carries the
//!   exact values).
//! - MSG: the alert JSON (signed when signing is on), UTF-8 without a BOM.

use std::io::Write as _;

use serde::{Deserialize, Serialize};

use super::{entity, syslog_severity, write_json, Escaping, RenderError};
use crate::alert::Alert;

/// The SD-ID of Tocsin's structured data.
pub const SD_ID: &str = "tocsin@32473";

/// A syslog facility (RFC 5424 §6.2.1), by name in the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Facility(u8);

/// Facility names, by code.
const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "ntp",
    "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

impl Default for Facility {
    /// `local0` (16).
    fn default() -> Self {
        Facility(16)
    }
}

impl Facility {
    pub fn code(self) -> u8 {
        self.0
    }

    pub fn name(self) -> &'static str {
        FACILITIES.get(usize::from(self.0)).copied().unwrap_or("local0")
    }
}

/// A facility name that RFC 5424 does not list.
#[derive(Debug, thiserror::Error)]
#[error("unknown syslog facility `{0}` (expected one of kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, ntp, audit, alert, clock, local0 … local7)")]
pub struct UnknownFacility(pub String);

impl std::str::FromStr for Facility {
    type Err = UnknownFacility;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FACILITIES
            .iter()
            .position(|n| *n == s)
            .and_then(|i| u8::try_from(i).ok())
            .map(Facility)
            .ok_or_else(|| UnknownFacility(s.to_string()))
    }
}

impl TryFrom<String> for Facility {
    type Error = UnknownFacility;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Facility> for String {
    fn from(f: Facility) -> String {
        f.name().to_string()
    }
}

/// This machine's name, as far as it can be known without a system call.
pub fn machine_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
}

/// A valid HOSTNAME field: printable ASCII (33–126) only, at most 255, `-` if empty.
pub fn hostname(raw: &str) -> String {
    let h: String = raw.chars().filter(|c| ('!'..='~').contains(c)).take(255).collect();
    if h.is_empty() {
        "-".into()
    } else {
        h
    }
}

fn sd_escape(b: u8) -> Option<&'static [u8]> {
    match b {
        b'"' => Some(b"\\\""),
        b'\\' => Some(b"\\\\"),
        b']' => Some(b"\\]"),
        b'\n' | b'\r' => Some(b" "),
        _ => None,
    }
}

fn esc(out: &mut Vec<u8>) -> Escaping<'_> {
    Escaping { out, escape: sd_escape }
}

/// Appends the syslog message of `alert` (no line terminator).
pub fn write(
    alert: &Alert,
    sig: Option<&str>,
    facility: Facility,
    host: &str,
    out: &mut Vec<u8>,
) -> Result<(), RenderError> {
    let pri = u16::from(facility.code()) * 8 + u16::from(syslog_severity(alert.rule.level));
    write!(out, "<{pri}>1 ")?;
    timestamp(&alert.event_time, out)?;
    out.push(b' ');
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b" tocsin - ALERT [");
    out.extend_from_slice(SD_ID.as_bytes());
    let param = |out: &mut Vec<u8>, name: &str| {
        out.push(b' ');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"=\"");
    };
    param(out, "alertId");
    esc(out).write_all(alert.alert_id.as_bytes())?;
    out.push(b'"');
    param(out, "rule");
    esc(out).write_all(alert.rule.id.as_bytes())?;
    out.push(b'"');
    param(out, "title");
    esc(out).write_all(alert.rule.title.as_bytes())?;
    out.push(b'"');
    if let Some(level) = alert.rule.level {
        param(out, "level");
        out.extend_from_slice(level.as_bytes());
        out.push(b'"');
    }
    param(out, "kind");
    out.extend_from_slice(alert.kind.name().as_bytes());
    out.push(b'"');
    param(out, "count");
    write!(out, "{}\"", alert.count)?;
    for (name, fields) in [
        ("src", super::entity::SOURCE),
        ("user", super::entity::USER),
        ("host", super::entity::HOST),
    ] {
        if let Some(v) = entity(alert, fields) {
            param(out, name);
            v.write_to(&mut esc(out))?;
            out.push(b'"');
        }
    }
    if let Some(sig) = sig {
        param(out, "signature");
        out.extend_from_slice(sig.as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b"] ");
    write_json(alert, sig, out)
}

/// RFC 5424 TIMESTAMP of an RFC 3339 time: `YYYY-MM-DDThh:mm:ss[.ffffff]Z`.
fn timestamp(rfc3339: &str, out: &mut Vec<u8>) -> std::io::Result<()> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.to_offset(time::UtcOffset::UTC))
        .filter(|t| (0..=9999).contains(&t.year()));
    let Some(t) = t else {
        out.push(b'-');
        return Ok(());
    };
    write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )?;
    let micros = t.microsecond();
    if micros > 0 {
        let mut digits = [0u8; 6];
        let mut n = micros;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        let len = 6 - digits.iter().rev().take_while(|&&d| d == b'0').count();
        out.push(b'.');
        out.extend_from_slice(&digits[..len]);
    }
    out.push(b'Z');
    Ok(())
}

/// The MSG of an RFC 5424 message (what follows the header and the
/// structured data), or `None` if `line` is not one. Used by
/// `tocsin verify-alert` to check the alert JSON a syslog line carries.
pub fn message(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    if b.first() != Some(&b'<') {
        return None;
    }
    // PRI-VERSION, TIMESTAMP, HOSTNAME, APP-NAME, PROCID, MSGID: six fields, one space after each.
    let mut i = 0;
    for _ in 0..6 {
        i += b.get(i..)?.iter().position(|&c| c == b' ')? + 1;
    }
    // STRUCTURED-DATA: `-` or SD-ELEMENTs, whose quoted values may escape `"`, `\`, `]`.
    if b.get(i) == Some(&b'-') {
        i += 1;
    } else {
        while b.get(i) == Some(&b'[') {
            let mut quoted = false;
            i += 1;
            loop {
                match *b.get(i)? {
                    b'\\' if quoted => i += 1,
                    b'"' => quoted = !quoted,
                    b']' if !quoted => break,
                    _ => {}
                }
                i += 1;
            }
            i += 1;
        }
    }
    match b.get(i) {
        None => Some(""),
        Some(b' ') => line.get(i + 1..),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> String {
        let mut v = Vec::new();
        timestamp(s, &mut v).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn timestamps_follow_the_rfc5424_profile() {
        assert_eq!(ts("2026-11-02T09:11:30Z"), "2026-11-02T09:11:30Z");
        assert_eq!(ts("2026-11-02T09:11:30.123456789Z"), "2026-11-02T09:11:30.123456Z");
        assert_eq!(ts("2026-11-02T09:11:30.5Z"), "2026-11-02T09:11:30.5Z");
        assert_eq!(ts("2026-11-02T09:11:30.000000900Z"), "2026-11-02T09:11:30Z");
        assert_eq!(ts("2026-11-02T10:11:30+01:00"), "2026-11-02T09:11:30Z");
        assert_eq!(ts("garbage"), "-");
    }

    #[test]
    fn facilities_by_name() {
        assert_eq!("local0".parse::<Facility>().unwrap().code(), 16);
        assert_eq!("auth".parse::<Facility>().unwrap().code(), 4);
        assert_eq!("local7".parse::<Facility>().unwrap().name(), "local7");
        assert!("local8".parse::<Facility>().is_err());
        assert_eq!(Facility::default().name(), "local0");
    }

    #[test]
    fn hostnames_are_printable_ascii() {
        assert_eq!(hostname("web 01\n.example"), "web01.example");
        assert_eq!(hostname("é"), "-");
        assert_eq!(hostname(&"a".repeat(300)).len(), 255);
    }

    #[test]
    fn message_skips_header_and_structured_data() {
        assert_eq!(
            message(r#"<131>1 2026-01-01T00:00:00Z h tocsin - ALERT [x@1 a="q\"] ] b" c="\\"] {"k":1}"#),
            Some(r#"{"k":1}"#)
        );
        assert_eq!(message("<13>1 - - - - - - hello"), Some("hello"));
        assert_eq!(message("<13>1 - - - - - -"), Some(""));
        assert_eq!(message("{}"), None);
        assert_eq!(message(r#"<13>1 - - - - - [x a="unterminated"#), None);
    }

    #[test]
    fn param_names_are_valid_sd_names() {
        for n in [
            "alertId",
            "rule",
            "title",
            "level",
            "kind",
            "count",
            "src",
            "user",
            "host",
            "signature",
            SD_ID,
        ] {
            assert!((1..=32).contains(&n.len()), "{n}");
            assert!(
                n.bytes().all(|c| (33..=126).contains(&c) && !b"= ]\"".contains(&c)),
                "{n}"
            );
        }
    }
}

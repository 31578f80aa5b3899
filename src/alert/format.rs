//! Alert formats: JSON (the schema'd default), CEF and RFC 5424 syslog.
//!
//! [`AlertRenderer::render`] appends one alert, in the output's format and
//! without a line terminator, to a caller-owned `Vec<u8>` that the caller
//! clears and reuses: CEF and syslog are written straight into it (escaping
//! on the fly, numbers through `itoa`), so they allocate no more per alert
//! than JSON already does.
//!
//! - **JSON**: exactly the bytes `serde_json` writes for [`Alert`] (the
//!   contract `schemas/alert.schema.json` describes).
//! - **CEF** ([`cef`]): `CEF:0|Tocsin|Tocsin|<version>|<rule id>|<title>|<severity>|<extension>`.
//! - **Syslog** ([`syslog`]): RFC 5424 with the alert's key facts as
//!   structured data in `[tocsin@32473 …]` and the alert JSON as MSG.
//!
//! With a [`Signer`] every format carries the signature ([`super::sign`]):
//! JSON and the syslog MSG as a last member `"signature"`, CEF as
//! `cs2Label=signature cs2=…`, syslog also as SD-PARAM `signature`.
//!
//! A format never lets one alert span two lines: JSON escapes line breaks;
//! CEF escapes them in extension values as `\n`/`\r` and — as CEF allows no
//! line breaks in its header — writes them as spaces in header fields;
//! RFC 5424 has no escape for them, so they are written as spaces in SD-PARAM
//! values (the exact value is in the MSG JSON).

pub mod cef;
pub mod syslog;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use syslog::Facility;

use super::sign::{SignError, Signer};
use super::Alert;

/// How alerts are written to an output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AlertFormat {
    /// One JSON object (`schemas/alert.schema.json`).
    #[default]
    Json,
    /// ArcSight Common Event Format, version 0.
    Cef,
    /// RFC 5424 syslog with structured data; MSG is the alert JSON.
    Syslog,
}

impl AlertFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertFormat::Json => "json",
            AlertFormat::Cef => "cef",
            AlertFormat::Syslog => "syslog",
        }
    }
}

impl fmt::Display for AlertFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown format name.
#[derive(Debug, thiserror::Error)]
#[error("unknown alert format `{0}` (expected json, cef or syslog)")]
pub struct UnknownFormat(pub String);

impl FromStr for AlertFormat {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(AlertFormat::Json),
            "cef" => Ok(AlertFormat::Cef),
            "syslog" => Ok(AlertFormat::Syslog),
            other => Err(UnknownFormat(other.to_string())),
        }
    }
}

/// Why an alert could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("serialising the alert: {0}")]
    Json(#[from] serde_json::Error),
    #[error("signing the alert: {0}")]
    Sign(#[from] SignError),
    #[error("writing the alert: {0}")]
    Io(#[from] std::io::Error),
}

impl From<RenderError> for std::io::Error {
    fn from(e: RenderError) -> Self {
        match e {
            RenderError::Io(e) => e,
            other => std::io::Error::other(other),
        }
    }
}

/// Renders alerts in one format, optionally signed.
#[derive(Clone, Debug)]
pub struct AlertRenderer {
    format: AlertFormat,
    signer: Option<Signer>,
    facility: Facility,
    hostname: String,
}

impl Default for AlertRenderer {
    /// Unsigned JSON.
    fn default() -> Self {
        AlertRenderer::new(AlertFormat::Json)
    }
}

impl AlertRenderer {
    /// Unsigned; syslog facility `local0`, HOSTNAME this machine's name.
    pub fn new(format: AlertFormat) -> Self {
        AlertRenderer {
            format,
            signer: None,
            facility: Facility::default(),
            hostname: syslog::hostname(&syslog::machine_hostname()),
        }
    }

    /// The renderer `output` asks for in `format`: its signing key, syslog
    /// facility and hostname.
    pub fn from_config(format: AlertFormat, output: &crate::config::OutputConfig) -> Result<Self, SignError> {
        let mut r = AlertRenderer::new(format).with_facility(output.syslog_facility);
        if let Some(h) = &output.syslog_hostname {
            r = r.with_hostname(h);
        }
        if let Some(key) = &output.sign_key {
            r = r.with_signer(Signer::new(key)?);
        }
        Ok(r)
    }

    pub fn with_signer(mut self, signer: Signer) -> Self {
        self.signer = Some(signer);
        self
    }

    pub fn with_facility(mut self, facility: Facility) -> Self {
        self.facility = facility;
        self
    }

    /// The syslog HOSTNAME (characters outside printable ASCII dropped, at
    /// most 255; empty becomes the NILVALUE `-`).
    pub fn with_hostname(mut self, hostname: &str) -> Self {
        self.hostname = syslog::hostname(hostname);
        self
    }

    pub fn format(&self) -> AlertFormat {
        self.format
    }

    pub fn is_signed(&self) -> bool {
        self.signer.is_some()
    }

    /// Appends `alert` to `out` (no line terminator).
    pub fn render(&self, alert: &Alert, out: &mut Vec<u8>) -> Result<(), RenderError> {
        let sig = match &self.signer {
            Some(s) => Some(s.sign(alert)?),
            None => None,
        };
        let sig = sig.as_ref().and_then(|s| std::str::from_utf8(s).ok());
        match self.format {
            AlertFormat::Json => write_json(alert, sig, out),
            AlertFormat::Cef => cef::write(alert, sig, out),
            AlertFormat::Syslog => syslog::write(alert, sig, self.facility, &self.hostname, out),
        }
    }
}

/// The alert's JSON, with `"signature":"…"` as its last member when signed.
fn write_json(alert: &Alert, sig: Option<&str>, out: &mut Vec<u8>) -> Result<(), RenderError> {
    let start = out.len();
    serde_json::to_writer(&mut *out, alert)?;
    if let Some(sig) = sig {
        // The alert serialises as a non-empty object: replace its closing brace.
        if out.len() > start + 2 && out.last() == Some(&b'}') {
            out.pop();
            out.extend_from_slice(b",\"signature\":\"");
            out.extend_from_slice(sig.as_bytes());
            out.extend_from_slice(b"\"}");
        }
    }
    Ok(())
}

/// Severity of a Sigma level on CEF's 0–10 scale (no level: 5).
pub fn cef_severity(level: Option<&str>) -> u8 {
    match level {
        Some("informational") => 1,
        Some("low") => 3,
        Some("medium") => 5,
        Some("high") => 8,
        Some("critical") => 10,
        _ => 5,
    }
}

/// Syslog severity (RFC 5424 §6.2.1) of a Sigma level: critical → 2
/// Critical, high → 3 Error, medium → 4 Warning, low → 5 Notice,
/// informational → 6 Informational; no level → 5 Notice.
pub fn syslog_severity(level: Option<&str>) -> u8 {
    match level {
        Some("critical") => 2,
        Some("high") => 3,
        Some("medium") => 4,
        Some("low") => 5,
        Some("informational") => 6,
        _ => 5,
    }
}

/// Who and where, for the formats' dedicated fields: the first of these
/// fields found in the alert's group, then in its first evidence event
/// (dotted paths walk nested objects; a literal dotted key also counts).
pub mod entity {
    /// Source address (CEF `src` when it is an IP address, `shost` otherwise).
    pub const SOURCE: &[&str] = &[
        "IpAddress",
        "SourceIp",
        "SourceAddress",
        "ClientAddress",
        "src_ip",
        "source.ip",
        "client.ip",
        "id.orig_h",
        "winlog.event_data.IpAddress",
        "rhost",
    ];
    /// User name (CEF `suser`).
    pub const USER: &[&str] = &[
        "TargetUserName",
        "User",
        "SubjectUserName",
        "AccountName",
        "user",
        "username",
        "user.name",
        "winlog.event_data.TargetUserName",
        "winlog.event_data.User",
    ];
    /// Host the event happened on (CEF `dhost`).
    pub const HOST: &[&str] = &[
        "Computer",
        "ComputerName",
        "host.name",
        "host.hostname",
        "hostname",
        "winlog.computer_name",
        "host",
    ];
}

/// A scalar value of the alert for `fields` (see [`entity`]).
pub(crate) fn entity<'a>(alert: &'a Alert, fields: &[&str]) -> Option<Scalar<'a>> {
    for f in fields {
        if let Some(s) = alert.group.get(*f).and_then(Scalar::of) {
            return Some(s);
        }
    }
    let event = &alert.evidence.first()?.event;
    for f in fields {
        if let Some(s) = lookup(event, f).and_then(Scalar::of) {
            return Some(s);
        }
    }
    None
}

fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    if let Some(direct) = obj.get(path) {
        return Some(direct);
    }
    let (head, rest) = path.split_once('.')?;
    lookup(obj.get(head)?, rest)
}

/// A JSON scalar worth printing (empty strings and containers are not).
#[derive(Clone, Copy)]
pub(crate) enum Scalar<'a> {
    Str(&'a str),
    Num(&'a serde_json::Number),
    Bool(bool),
}

impl<'a> Scalar<'a> {
    fn of(v: &'a Value) -> Option<Self> {
        match v {
            Value::String(s) if !s.is_empty() => Some(Scalar::Str(s)),
            Value::Number(n) => Some(Scalar::Num(n)),
            Value::Bool(b) => Some(Scalar::Bool(*b)),
            _ => None,
        }
    }

    /// Writes the value's text through `w` (no allocation: numbers are formatted in place).
    pub(crate) fn write_to(self, w: &mut impl std::io::Write) -> std::io::Result<()> {
        match self {
            Scalar::Str(s) => w.write_all(s.as_bytes()),
            Scalar::Num(n) => write!(w, "{n}"),
            Scalar::Bool(b) => w.write_all(if b { b"true" } else { b"false" }),
        }
    }

    pub(crate) fn is_ip(self) -> bool {
        matches!(self, Scalar::Str(s) if s.parse::<std::net::IpAddr>().is_ok())
    }
}

/// Milliseconds since the epoch of an RFC 3339 time.
pub(crate) fn epoch_ms(rfc3339: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).ok()
}

/// Writes bytes, escaping each byte through a table (escapes only touch
/// ASCII, so UTF-8 passes through intact).
pub(crate) struct Escaping<'a> {
    pub out: &'a mut Vec<u8>,
    pub escape: fn(u8) -> Option<&'static [u8]>,
}

impl std::io::Write for Escaping<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for &b in buf {
            match (self.escape)(b) {
                Some(e) => self.out.extend_from_slice(e),
                None => self.out.push(b),
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_parse_and_print() {
        for f in [AlertFormat::Json, AlertFormat::Cef, AlertFormat::Syslog] {
            assert_eq!(f.as_str().parse::<AlertFormat>().unwrap(), f);
            assert_eq!(serde_json::to_string(&f).unwrap(), format!("\"{f}\""));
        }
        assert!("CEF".parse::<AlertFormat>().is_err());
    }

    #[test]
    fn severities_follow_the_level() {
        assert_eq!(cef_severity(Some("critical")), 10);
        assert_eq!(cef_severity(None), 5);
        assert_eq!(syslog_severity(Some("high")), 3);
        assert_eq!(syslog_severity(Some("informational")), 6);
    }

    #[test]
    fn lookup_walks_paths_and_literal_dotted_keys() {
        let v = serde_json::json!({"host": {"name": "h1"}, "source.ip": "10.0.0.1"});
        assert_eq!(lookup(&v, "host.name"), Some(&serde_json::json!("h1")));
        assert_eq!(lookup(&v, "source.ip"), Some(&serde_json::json!("10.0.0.1")));
        assert_eq!(lookup(&v, "host.name.x"), None);
    }

    #[test]
    fn epoch_ms_of_rfc3339() {
        assert_eq!(epoch_ms("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(epoch_ms("1969-12-31T23:59:59.9995Z"), Some(-1));
        assert_eq!(epoch_ms("nope"), None);
    }
}

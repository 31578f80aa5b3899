//! CEF (ArcSight Common Event Format, version 0):
//!
//! ```text
//! CEF:0|Tocsin|Tocsin|<version>|<rule id>|<rule title>|<severity>|<extension>
//! ```
//!
//! Escaping, per the CEF implementation standard:
//! - header fields: `\` → `\\` and `|` → `\|`; the standard allows no line
//!   breaks in the header, so CR and LF are written as spaces;
//! - extension values: `\` → `\\`, `=` → `\=`, LF → `\n`, CR → `\r` (pipes
//!   are not escaped in the extension). Keys are fixed ASCII names.
//!
//! Severity is 0–10 from the rule level ([`super::cef_severity`]).
//! Extension, in this order, each only when the alert has it:
//! `rt` (event time, ms since the epoch), `cat` (alert kind), `cnt` (count),
//! `start`/`end` (first/last contributing event of a correlation, ms),
//! `src` (source IP) or `shost` (a source that is not an IP), `suser`,
//! `dhost` (from the group values, else the first evidence event:
//! [`super::entity`]), `cs1Label=alertId cs1=…`, `cs2Label=signature cs2=…`
//! (signed output), `cs3Label=source cs3=…` (input position),
//! `cs4Label=tags cs4=…` (comma-separated), and last `msg`:
//! `<title> (<kind>, count <n>[, <group field>=<value>…])`.

use std::io::Write as _;

use super::{cef_severity, entity, epoch_ms, Escaping, RenderError, Scalar};
use crate::alert::{Alert, AlertKind};

fn header_escape(b: u8) -> Option<&'static [u8]> {
    match b {
        b'\\' => Some(b"\\\\"),
        b'|' => Some(b"\\|"),
        b'\n' | b'\r' => Some(b" "),
        _ => None,
    }
}

fn ext_escape(b: u8) -> Option<&'static [u8]> {
    match b {
        b'\\' => Some(b"\\\\"),
        b'=' => Some(b"\\="),
        b'\n' => Some(b"\\n"),
        b'\r' => Some(b"\\r"),
        _ => None,
    }
}

fn header(out: &mut Vec<u8>) -> Escaping<'_> {
    Escaping {
        out,
        escape: header_escape,
    }
}

fn ext(out: &mut Vec<u8>) -> Escaping<'_> {
    Escaping {
        out,
        escape: ext_escape,
    }
}

fn kind_name(k: AlertKind) -> &'static str {
    k.name()
}

/// Appends the CEF line of `alert` (no line terminator).
pub fn write(alert: &Alert, sig: Option<&str>, out: &mut Vec<u8>) -> Result<(), RenderError> {
    out.extend_from_slice(b"CEF:0|Tocsin|Tocsin|");
    header(out).write_all(env!("CARGO_PKG_VERSION").as_bytes())?;
    out.push(b'|');
    header(out).write_all(alert.rule.id.as_bytes())?;
    out.push(b'|');
    header(out).write_all(alert.rule.title.as_bytes())?;
    out.push(b'|');
    write!(out, "{}|", cef_severity(alert.rule.level))?;

    // Extension: `key=value` pairs separated by one space.
    let mut first = true;
    let mut key = |out: &mut Vec<u8>, k: &str| {
        if !first {
            out.push(b' ');
        }
        first = false;
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
    };
    if let Some(ms) = epoch_ms(&alert.event_time) {
        key(out, "rt");
        write!(out, "{ms}")?;
    }
    key(out, "cat");
    out.extend_from_slice(kind_name(alert.kind).as_bytes());
    key(out, "cnt");
    write!(out, "{}", alert.count)?;
    if let Some(ms) = alert.first_event_time.as_deref().and_then(epoch_ms) {
        key(out, "start");
        write!(out, "{ms}")?;
    }
    if let Some(ms) = alert.last_event_time.as_deref().and_then(epoch_ms) {
        key(out, "end");
        write!(out, "{ms}")?;
    }
    if let Some(src) = entity(alert, super::entity::SOURCE) {
        key(out, if src.is_ip() { "src" } else { "shost" });
        src.write_to(&mut ext(out))?;
    }
    if let Some(user) = entity(alert, super::entity::USER) {
        key(out, "suser");
        user.write_to(&mut ext(out))?;
    }
    if let Some(host) = entity(alert, super::entity::HOST) {
        key(out, "dhost");
        host.write_to(&mut ext(out))?;
    }
    key(out, "cs1Label");
    out.extend_from_slice(b"alertId");
    key(out, "cs1");
    ext(out).write_all(alert.alert_id.as_bytes())?;
    if let Some(sig) = sig {
        key(out, "cs2Label");
        out.extend_from_slice(b"signature");
        key(out, "cs2");
        out.extend_from_slice(sig.as_bytes());
    }
    key(out, "cs3Label");
    out.extend_from_slice(b"source");
    key(out, "cs3");
    write!(ext(out), "{}", alert.source)?;
    if !alert.rule.tags.is_empty() {
        key(out, "cs4Label");
        out.extend_from_slice(b"tags");
        key(out, "cs4");
        let mut w = ext(out);
        for (i, t) in alert.rule.tags.iter().enumerate() {
            if i > 0 {
                w.write_all(b",")?;
            }
            w.write_all(t.as_bytes())?;
        }
    }
    key(out, "msg");
    let mut w = ext(out);
    write!(
        w,
        "{} ({}, count {}",
        alert.rule.title,
        kind_name(alert.kind),
        alert.count
    )?;
    for (k, v) in &alert.group {
        write!(w, ", {k}=")?;
        match Scalar::of(v) {
            Some(s) => s.write_to(&mut w)?,
            None => serde_json::to_writer(&mut w, v)?,
        }
    }
    w.write_all(b")")?;
    Ok(())
}

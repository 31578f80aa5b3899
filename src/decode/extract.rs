//! Field extraction: named capture groups of regexes over a text field
//! become event fields.
//!
//! Why: many pipelines deliver a log line unparsed — a raw syslog line in
//! `message`, as rsyslog → Kafka, Fluent Bit or Filebeat's plain log input
//! ship the auth log. Sigma rules need fields (`user.name`, `source.ip`,
//! `event.outcome`), so a source (or its profile) can declare `[[extract]]`
//! entries that parse them out of the line. They are compiled once, when the
//! config loads; a bad pattern is a config error.
//!
//! Semantics (documented in `profiles/README.md`):
//!
//! - Entries run in order, each independently. An entry reads its `field`
//!   (a text field of the event, or a field an earlier entry extracted, so
//!   one entry can split a syslog header off and later ones parse the
//!   message); when `contains` is set and the text lacks it, the entry is
//!   skipped without running a regex. The first of its `patterns` that
//!   matches sets its named groups, then the entry's `set` constants.
//! - A field the event already has (not null), or that an earlier entry
//!   set, is never overwritten: extraction fills gaps, it never rewrites what
//!   the pipeline delivered.
//! - Group names are field names (dots allowed: `(?P<user.name>\S+)`). Names
//!   starting with `_` are scratch (readable by later entries, not added to
//!   the event), except `_ts`: the event time, added as `@timestamp` (see
//!   [`syslog_time`]). Groups listed in `integers` whose text is a plain
//!   integer are added as JSON numbers, the others as strings.
//!
//! How the fields reach every later stage: the pipeline builds, for an event
//! with extracted fields, the original JSON object plus the fields as
//! top-level dotted keys (`"user.name":"admin"`, which every lookup resolves
//! like a nested path, as for Zeek's `id.orig_h`), decodes that into a
//! second reusable tape ([`Extraction::augment`]) and carries on with it:
//! matching, correlation group-by, evidence, alert entities, log quality and
//! the ECS view see one ordinary event, and nothing downstream changed.
//!
//! Cost: only events read by a source with `extract` pay anything; no regex
//! is compiled per event, capture slots and buffers are reused, and a
//! `contains` prefilter (a SIMD substring search) skips the regexes on lines
//! that cannot match. `benches/README.md` has the measured figure.

use std::sync::atomic::{AtomicU64, Ordering};

use memchr::memmem;
use regex::{CaptureLocations, Regex};
use time::{Date, Month, OffsetDateTime};

use super::json::{DecodeError, Decoded, JsonDecoder};
use crate::config::{ExtractConfig, OneOrMany, Scalar};
use crate::event::ValueRef;

/// The capture group holding the event time.
pub const TIME_GROUP: &str = "_ts";
/// The field the event time is added as.
pub const TIME_FIELD: &str = "@timestamp";

/// Why an `[[extract]]` entry cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    #[error("extract entry {entry}: pattern `{pattern}`: {reason}")]
    Pattern {
        entry: usize,
        pattern: String,
        reason: String,
    },
    #[error("extract entry {entry}: {reason}")]
    Entry { entry: usize, reason: String },
}

impl ExtractError {
    /// The entry at fault (1-based, in the source's merged order).
    pub fn entry(&self) -> usize {
        match self {
            ExtractError::Pattern { entry, .. } | ExtractError::Entry { entry, .. } => *entry,
        }
    }

    /// The pattern at fault, if one is.
    pub fn pattern(&self) -> Option<&str> {
        match self {
            ExtractError::Pattern { pattern, .. } => Some(pattern),
            ExtractError::Entry { .. } => None,
        }
    }
}

/// The compiled `[[extract]]` entries of one source.
pub struct Extractor {
    /// Unique per compiled extractor: keys its capture slots in [`Extraction`].
    id: u64,
    /// Field names; `names[0]` is [`TIME_FIELD`].
    names: Vec<Box<str>>,
    rules: Vec<Rule>,
}

impl std::fmt::Debug for Extractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extractor")
            .field("entries", &self.rules.len())
            .field("patterns", &self.rules.iter().map(|r| r.patterns.len()).sum::<usize>())
            .finish()
    }
}

struct Rule {
    field: Box<str>,
    contains: Option<memmem::Finder<'static>>,
    patterns: Vec<Pattern>,
    set: Vec<(u32, Const)>,
}

struct Pattern {
    regex: Regex,
    groups: Vec<Group>,
}

#[derive(Clone, Copy)]
struct Group {
    index: usize,
    name: u32,
    kind: GroupKind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum GroupKind {
    Text,
    Integer,
    Time,
}

/// A `set` value: its JSON and, for a scalar, its text.
struct Const {
    json: Box<str>,
    kind: Kind,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Extractor {
    /// Compiles a source's entries; `None` when there are none.
    pub fn compile(entries: &[ExtractConfig]) -> Result<Option<Extractor>, ExtractError> {
        if entries.is_empty() {
            return Ok(None);
        }
        let mut names: Vec<Box<str>> = vec![TIME_FIELD.into()];
        let mut intern = |n: &str| -> u32 {
            match names.iter().position(|x| &**x == n) {
                Some(i) => i as u32,
                None => {
                    names.push(n.into());
                    (names.len() - 1) as u32
                }
            }
        };
        let mut rules = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let entry = i + 1;
            let bad = |reason: String| ExtractError::Entry { entry, reason };
            if e.field.trim().is_empty() {
                return Err(bad("`field` is empty".into()));
            }
            if e.patterns.is_empty() {
                return Err(bad("`patterns` is empty".into()));
            }
            let mut patterns = Vec::with_capacity(e.patterns.len());
            let mut group_names: Vec<String> = Vec::new();
            for p in &e.patterns {
                let regex = Regex::new(p).map_err(|err| ExtractError::Pattern {
                    entry,
                    pattern: p.clone(),
                    reason: regex_reason(&err),
                })?;
                let mut groups = Vec::new();
                for (index, name) in regex.capture_names().enumerate() {
                    let Some(name) = name else { continue };
                    group_names.push(name.to_string());
                    let kind = if name == TIME_GROUP {
                        GroupKind::Time
                    } else if e.integers.iter().any(|n| n == name) {
                        GroupKind::Integer
                    } else {
                        GroupKind::Text
                    };
                    let id = if kind == GroupKind::Time { 0 } else { intern(name) };
                    groups.push(Group { index, name: id, kind });
                }
                patterns.push(Pattern { regex, groups });
            }
            for n in &e.integers {
                if !group_names.contains(n) {
                    return Err(bad(format!("`integers` names `{n}`, which no pattern captures")));
                }
            }
            let mut set = Vec::with_capacity(e.set.len());
            for (k, v) in &e.set {
                if k.is_empty() || k.starts_with('_') {
                    return Err(bad(format!("`set` key `{k}` is not a field name")));
                }
                set.push((intern(k), Const::of(v)));
            }
            rules.push(Rule {
                field: e.field.as_str().into(),
                contains: e
                    .contains
                    .as_deref()
                    .filter(|c| !c.is_empty())
                    .map(|c| memmem::Finder::new(c.as_bytes()).into_owned()),
                patterns,
                set,
            });
        }
        Ok(Some(Extractor {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            names,
            rules,
        }))
    }
}

/// The regex crate's message without its multi-line caret diagram.
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    match text.lines().rev().find_map(|l| l.trim().strip_prefix("error: ")) {
        Some(reason) => reason.to_string(),
        None => text.lines().map(str::trim).collect::<Vec<_>>().join(" "),
    }
}

impl Const {
    fn of(v: &OneOrMany) -> Const {
        let scalar = |s: &Scalar| match s {
            Scalar::Str(s) => serde_json::Value::String(s.clone()),
            Scalar::Int(i) => serde_json::Value::from(*i),
            Scalar::Bool(b) => serde_json::Value::Bool(*b),
        };
        let (json, kind) = match v {
            OneOrMany::One(Scalar::Str(s)) => (serde_json::Value::String(s.clone()), Kind::Str),
            OneOrMany::One(s) => (scalar(s), Kind::Raw),
            OneOrMany::Many(items) => (
                serde_json::Value::Array(items.iter().map(scalar).collect()),
                Kind::Array,
            ),
        };
        let json = match (&json, kind) {
            // Strings are kept unquoted (their text); raw values as JSON.
            (serde_json::Value::String(s), Kind::Str) => s.clone(),
            _ => json.to_string(),
        };
        Const {
            json: json.into(),
            kind,
        }
    }
}

/// How a field's bytes in the arena are written as JSON.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// A string (escaped when written).
    Str,
    /// JSON text that is also the value's text: a number or a boolean.
    Raw,
    /// A JSON array: no single text.
    Array,
}

struct Field {
    name: u32,
    start: u32,
    end: u32,
    kind: Kind,
}

/// Per-thread scratch of extraction: the fields extracted from the current
/// event, reusable capture slots, and the decoder of augmented documents.
pub struct Extraction {
    /// The extractor the current fields come from.
    of: u64,
    fields: Vec<Field>,
    arena: Vec<u8>,
    /// Capture slots per extractor id, per pattern.
    slots: Vec<(u64, Vec<CaptureLocations>)>,
    /// A copy of the text an entry parses when it is an extracted field.
    hay: String,
    json: Vec<u8>,
    decoder: JsonDecoder,
}

impl Default for Extraction {
    fn default() -> Self {
        Self::new()
    }
}

impl Extraction {
    pub fn new() -> Self {
        Extraction {
            of: 0,
            fields: Vec::new(),
            arena: Vec::new(),
            slots: Vec::new(),
            hay: String::new(),
            json: Vec::new(),
            // The augmented document is the checked original plus extracted text.
            decoder: JsonDecoder::new(usize::MAX),
        }
    }

    /// Runs `ex` over `event`. Returns whether any field was extracted.
    /// `reference_ns` (the transport timestamp, else now) dates a syslog
    /// time without a year.
    pub fn run(&mut self, ex: &Extractor, event: ValueRef<'_, '_>, reference_ns: Option<i128>) -> bool {
        self.of = ex.id;
        self.fields.clear();
        self.arena.clear();
        let slot = match self.slots.iter().position(|(id, _)| *id == ex.id) {
            Some(i) => i,
            None => {
                // Extractors of replaced rule sets leave theirs behind: bounded.
                if self.slots.len() >= 64 {
                    self.slots.clear();
                }
                let locs = ex
                    .rules
                    .iter()
                    .flat_map(|r| &r.patterns)
                    .map(|p| p.regex.capture_locations())
                    .collect();
                self.slots.push((ex.id, locs));
                self.slots.len() - 1
            }
        };
        let mut locs = std::mem::take(&mut self.slots[slot].1);
        let mut hay_buf = std::mem::take(&mut self.hay);
        let mut pi = 0;
        for rule in &ex.rules {
            let first = pi;
            pi += rule.patterns.len();
            // The text: an event field, else one extracted by an earlier entry.
            let (hay, from_arena) = match event.lookup(&rule.field).map(|v| v.kind()) {
                Some(crate::event::Kind::Str(s)) => (s, None),
                Some(_) => continue,
                None => match self.find(ex, &rule.field) {
                    Some(f) if f.kind == Kind::Str => ("", Some((f.start as usize, f.end as usize))),
                    _ => continue,
                },
            };
            // An arena text is copied out (into a reused buffer): the arena
            // grows while its captures are added.
            let hay = match from_arena {
                Some((s, e)) => {
                    hay_buf.clear();
                    hay_buf.push_str(std::str::from_utf8(&self.arena[s..e]).unwrap_or_default());
                    hay_buf.as_str()
                }
                None => hay,
            };
            if let Some(f) = &rule.contains {
                if f.find(hay.as_bytes()).is_none() {
                    continue;
                }
            }
            let Some((p, locs)) = rule
                .patterns
                .iter()
                .zip(&mut locs[first..pi])
                .find_map(|(p, l)| p.regex.captures_read(l, hay).map(|_| (p, l)))
            else {
                continue;
            };
            for g in &p.groups {
                let Some((s, e)) = locs.get(g.index) else { continue };
                self.add_capture(ex, event, g, &hay[s..e], reference_ns);
            }
            for (name, c) in &rule.set {
                if self.present(ex, event, *name) {
                    continue;
                }
                self.push(*name, c.json.as_bytes(), c.kind);
            }
        }
        self.slots[slot].1 = locs;
        self.hay = hay_buf;
        !self.fields.is_empty()
    }

    fn add_capture(
        &mut self,
        ex: &Extractor,
        event: ValueRef<'_, '_>,
        g: &Group,
        text: &str,
        reference_ns: Option<i128>,
    ) {
        if self.present(ex, event, g.name) {
            return;
        }
        match g.kind {
            GroupKind::Time => {
                let reference = reference_ns.unwrap_or_else(|| OffsetDateTime::now_utc().unix_timestamp_nanos());
                if let Some(t) = syslog_time(text, reference) {
                    self.push(0, t.as_bytes(), Kind::Str);
                }
            }
            GroupKind::Integer if is_integer(text) => self.push(g.name, text.as_bytes(), Kind::Raw),
            _ => self.push(g.name, text.as_bytes(), Kind::Str),
        }
    }

    fn push(&mut self, name: u32, bytes: &[u8], kind: Kind) {
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(bytes);
        self.fields.push(Field {
            name,
            start,
            end: self.arena.len() as u32,
            kind,
        });
    }

    /// Whether the event (not null) or an earlier capture already holds field `name`.
    fn present(&self, ex: &Extractor, event: ValueRef<'_, '_>, name: u32) -> bool {
        self.fields.iter().any(|f| f.name == name)
            || event.lookup(&ex.names[name as usize]).is_some_and(|v| !v.is_null())
    }

    fn find(&self, ex: &Extractor, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| &*ex.names[f.name as usize] == name)
    }

    /// The text of extracted field `name` (scratch `_` fields included), if
    /// the last [`Extraction::run`] was of `ex` and set it. Arrays have no text.
    pub fn get(&self, ex: &Extractor, name: &str) -> Option<&str> {
        if self.of != ex.id {
            return None;
        }
        let f = self.find(ex, name)?;
        (f.kind != Kind::Array)
            .then(|| std::str::from_utf8(&self.arena[f.start as usize..f.end as usize]).ok())
            .flatten()
    }

    /// The extracted fields added to the event (scratch `_` fields left out),
    /// as (name, JSON value), in the order they were set.
    pub fn fields(&self, ex: &Extractor) -> Vec<(String, serde_json::Value)> {
        if self.of != ex.id {
            return Vec::new();
        }
        self.fields
            .iter()
            .filter(|f| !ex.names[f.name as usize].starts_with('_'))
            .map(|f| {
                let text = String::from_utf8_lossy(&self.arena[f.start as usize..f.end as usize]);
                let v = match f.kind {
                    Kind::Str => serde_json::Value::String(text.into_owned()),
                    Kind::Raw | Kind::Array => serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
                };
                (ex.names[f.name as usize].to_string(), v)
            })
            .collect()
    }

    /// Decodes `raw` (the record `event` was decoded from) with the fields of
    /// the last [`Extraction::run`] of `ex` added as top-level keys. Returns
    /// the decoded document and its JSON text (for the keyword prefilter).
    pub fn augment(&mut self, ex: &Extractor, raw: &[u8]) -> Result<(Decoded<'_>, &[u8]), DecodeError> {
        self.json.clear();
        let body = raw.trim_ascii();
        // `raw` decoded as an object, so it ends with `}`.
        let inner = body.strip_suffix(b"}").unwrap_or(body);
        self.json.extend_from_slice(inner);
        let mut empty = inner.trim_ascii_end().ends_with(b"{");
        if self.of == ex.id {
            for f in &self.fields {
                let name = &ex.names[f.name as usize];
                if name.starts_with('_') {
                    continue;
                }
                if !empty {
                    self.json.push(b',');
                }
                empty = false;
                write_json_string(&mut self.json, name.as_bytes());
                self.json.push(b':');
                let bytes = &self.arena[f.start as usize..f.end as usize];
                match f.kind {
                    Kind::Str => write_json_string(&mut self.json, bytes),
                    Kind::Raw | Kind::Array => self.json.extend_from_slice(bytes),
                }
            }
        }
        self.json.push(b'}');
        let Extraction { decoder, json, .. } = self;
        let decoded = decoder.decode(json)?;
        Ok((decoded, json.as_slice()))
    }
}

/// A plain integer (no sign, no leading zero, fits i64): added as a JSON number.
fn is_integer(s: &str) -> bool {
    !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

/// JSON string escaping as serde_json writes it.
fn write_json_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 0xf) as usize]);
            }
            c => out.push(c),
        }
    }
    out.push(b'"');
}

/// The `@timestamp` for a captured syslog time, or `None` when it is not one.
///
/// - RFC 3339 / ISO 8601 with a date (RFC 5424, rsyslog's high-precision
///   format): kept as written, its offset included.
/// - RFC 3164 `Mmm dd hh:mm:ss` (optionally with fractions): no year, no
///   zone. The year is the one of the reference time (the Kafka message
///   timestamp, else the current time) that puts the stamp closest to it,
///   so a December line read in January is dated the year before. The
///   result has no offset (`2024-03-01T10:00:00`): read as UTC, and counted
///   by log-quality monitoring as a timestamp that is not UTC, which it may
///   well not be.
pub fn syslog_time(s: &str, reference_ns: i128) -> Option<String> {
    let s = s.trim();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        return super::time::parse_time_str(s).map(|_| s.to_string());
    }
    let mut parts = s.split_ascii_whitespace();
    let (month, day, clock) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(month))
        .and_then(|i| Month::try_from(i as u8 + 1).ok())?;
    let day: u8 = day.parse().ok()?;
    let hms = clock.split('.').next()?;
    let mut hms_parts = hms.split(':').map(|p| p.parse::<u8>().ok().filter(|_| p.len() == 2));
    let (h, m, sec) = (hms_parts.next()??, hms_parts.next()??, hms_parts.next()??);
    if hms_parts.next().is_some() || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    if let Some(frac) = clock.split_once('.').map(|(_, f)| f) {
        if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    let reference = OffsetDateTime::from_unix_timestamp_nanos(reference_ns).ok()?;
    let y = reference.year();
    let at = |year: i32| -> Option<(i128, i32)> {
        let date = Date::from_calendar_date(year, month, day).ok()?;
        let t = date
            .with_hms(h.min(23), m, sec.min(59))
            .ok()?
            .assume_utc()
            .unix_timestamp_nanos();
        Some(((t - reference_ns).abs(), year))
    };
    let (_, year) = [y - 1, y, y + 1].into_iter().filter_map(at).min()?;
    Some(format!("{year:04}-{:02}-{day:02}T{clock}", month as u8))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(toml_text: &str) -> Vec<ExtractConfig> {
        #[derive(serde::Deserialize)]
        struct E {
            extract: Vec<ExtractConfig>,
        }
        toml::from_str::<E>(toml_text).expect("entries parse").extract
    }

    fn extractor(toml_text: &str) -> Extractor {
        Extractor::compile(&entries(toml_text))
            .expect("compiles")
            .expect("some")
    }

    const REF: i128 = 1_709_287_200_000_000_000; // 2024-03-01T10:00:00Z

    fn run(ex: &Extractor, json: &str) -> (Vec<(String, serde_json::Value)>, serde_json::Value) {
        let mut d = JsonDecoder::new(1 << 20);
        let ev = d.decode(json.as_bytes()).unwrap();
        let mut x = Extraction::new();
        x.run(ex, ev.root(), Some(REF));
        let fields = x.fields(ex);
        let (aug, _) = x.augment(ex, json.as_bytes()).unwrap();
        (fields, aug.root().to_json())
    }

    const SSHD: &str = r#"
        [[extract]]
        field = "message"
        contains = "sshd["
        patterns = ['^(?P<_ts>\w{3} [ \d]\d \d\d:\d\d:\d\d) (?P<host.hostname>\S+) sshd\[(?P<process.pid>\d+)\]: (?P<_msg>.*)$']
        integers = ["process.pid"]

        [[extract]]
        field = "_msg"
        patterns = [
            '^Failed (?P<ssh.method>\S+) for (?:invalid user )?(?P<user.name>\S+) from (?P<source.ip>\S+) port (?P<source.port>\d+)',
        ]
        integers = ["source.port"]
        set = { "event.outcome" = "failure", "event.category" = ["authentication"] }
    "#;

    #[test]
    fn dotted_group_names_are_fields_and_entries_chain() {
        let ex = extractor(SSHD);
        let (fields, aug) = run(
            &ex,
            r#"{"host":{"name":"bastion1"},"message":"Mar  1 10:00:00 bastion1 sshd[1234]: Failed password for invalid user admin from 203.0.113.7 port 52144 ssh2"}"#,
        );
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "@timestamp",
                "host.hostname",
                "process.pid",
                "ssh.method",
                "user.name",
                "source.ip",
                "source.port",
                // `set` in key order.
                "event.category",
                "event.outcome"
            ]
        );
        assert_eq!(aug["@timestamp"], "2024-03-01T10:00:00");
        assert_eq!(aug["process.pid"], 1234);
        assert_eq!(aug["source.port"], 52144);
        assert_eq!(aug["user.name"], "admin");
        assert_eq!(aug["event.category"], serde_json::json!(["authentication"]));
        assert_eq!(aug["host"]["name"], "bastion1", "the original object is kept");
        assert!(aug.get("_msg").is_none(), "scratch fields stay out of the event");
    }

    #[test]
    fn existing_fields_win_and_unmatched_lines_extract_nothing() {
        let ex = extractor(SSHD);
        let (_, aug) = run(
            &ex,
            r#"{"@timestamp":"2024-03-01T10:00:00.5Z","user":{"name":"kept"},"message":"Mar  1 10:00:00 h sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2"}"#,
        );
        assert_eq!(aug["@timestamp"], "2024-03-01T10:00:00.5Z");
        assert_eq!(aug["user"]["name"], "kept");
        assert!(aug.get("user.name").is_none());
        assert_eq!(aug["source.ip"], "10.0.0.1");

        let mut d = JsonDecoder::new(1 << 20);
        let mut x = Extraction::new();
        for line in [
            r#"{"message":"Mar  1 10:00:00 h CRON[5]: (root) CMD (true)"}"#,
            r#"{"message":42}"#,
            r#"{"other":"x"}"#,
        ] {
            let ev = d.decode(line.as_bytes()).unwrap();
            assert!(!x.run(&ex, ev.root(), Some(REF)), "{line}");
        }
    }

    #[test]
    fn values_are_escaped_and_lookups_see_extracted_fields() {
        let ex = extractor(
            r#"
            [[extract]]
            field = "message"
            patterns = ['^user=(?P<user.name>.*)$']
            "#,
        );
        let line = r#"{"message":"user=a\"b\\c\td"}"#;
        let (_, aug) = run(&ex, line);
        assert_eq!(aug["user.name"], "a\"b\\c\td");
        let mut d = JsonDecoder::new(1 << 20);
        let ev = d.decode(line.as_bytes()).unwrap();
        let mut x = Extraction::new();
        assert!(x.run(&ex, ev.root(), None));
        assert_eq!(x.get(&ex, "user.name"), Some("a\"b\\c\td"));
        let (aug, _) = x.augment(&ex, line.as_bytes()).unwrap();
        let v = aug.root().lookup("user.name").unwrap().to_json();
        assert_eq!(v, serde_json::json!("a\"b\\c\td"));
    }

    #[test]
    fn empty_objects_and_whitespace_around_the_record() {
        let ex = extractor("[[extract]]\nfield = \"m\"\npatterns = ['(?P<x>y)']\nset = { k = true }");
        let (_, aug) = run(&ex, "  {\"m\":\"y\"}  ");
        assert_eq!(aug, serde_json::json!({"m": "y", "x": "y", "k": true}));
    }

    #[test]
    fn first_matching_pattern_wins_and_integers_only_when_integral() {
        let ex = extractor(
            r#"
            [[extract]]
            field = "m"
            patterns = ['^a (?P<n>\S+)', '^(?P<n>.*)$']
            integers = ["n"]
            "#,
        );
        assert_eq!(run(&ex, r#"{"m":"a 17"}"#).1["n"], 17);
        assert_eq!(run(&ex, r#"{"m":"a 017"}"#).1["n"], "017");
        assert_eq!(run(&ex, r#"{"m":"b 17"}"#).1["n"], "b 17");
    }

    #[test]
    fn bad_entries_are_named() {
        let e = Extractor::compile(&entries(
            "[[extract]]\nfield = \"m\"\npatterns = ['ok', '(?P<user.name>[a-']",
        ))
        .unwrap_err();
        assert_eq!(e.pattern(), Some("(?P<user.name>[a-"));
        let text = e.to_string();
        assert!(
            text.starts_with("extract entry 1: pattern `(?P<user.name>[a-`: "),
            "{text}"
        );
        assert!(text.contains("unclosed character class"), "{text}");
        let e = Extractor::compile(&entries(
            "[[extract]]\nfield = \"m\"\npatterns = ['(?P<a>x)']\nintegers = [\"b\"]",
        ))
        .unwrap_err();
        assert!(e.to_string().contains("`integers` names `b`"), "{e}");
        assert!(Extractor::compile(&[]).unwrap().is_none());
    }

    #[test]
    fn syslog_times() {
        let r = REF;
        assert_eq!(
            syslog_time("Mar  1 10:00:00", r).as_deref(),
            Some("2024-03-01T10:00:00")
        );
        assert_eq!(
            syslog_time("Mar 1 09:59:58.123", r).as_deref(),
            Some("2024-03-01T09:59:58.123")
        );
        // A December line read in March belongs to the year before...
        assert_eq!(
            syslog_time("Dec 31 23:59:59", r).as_deref(),
            Some("2023-12-31T23:59:59")
        );
        // ... and a January line read on 31 December (clock skew) to the next.
        let dec31 = 1_735_689_590_000_000_000; // 2024-12-31T23:59:50Z
        assert_eq!(
            syslog_time("Jan  1 00:00:05", dec31).as_deref(),
            Some("2025-01-01T00:00:05")
        );
        // 29 February only exists in leap years: 2024 is one.
        assert_eq!(
            syslog_time("Feb 29 12:00:00", r).as_deref(),
            Some("2024-02-29T12:00:00")
        );
        assert_eq!(
            syslog_time("2024-03-01T10:00:00.123+01:00", r).as_deref(),
            Some("2024-03-01T10:00:00.123+01:00")
        );
        for bad in [
            "Foo  1 10:00:00",
            "Mar 32 10:00:00",
            "Mar  1 25:00:00",
            "Mar 1 10:00",
            "2024-13-01T00:00:00Z",
            "",
        ] {
            assert_eq!(syslog_time(bad, r), None, "{bad}");
        }
        // The result reads back as the same instant, UTC assumed.
        assert_eq!(super::super::time::parse_time_str("2024-03-01T10:00:00"), Some(REF));
    }

    #[test]
    fn regex_group_names_may_hold_dots() {
        let r = Regex::new(r"(?P<source.ip>\S+) (?P<a.b.c>\d)").unwrap();
        let names: Vec<_> = r.capture_names().flatten().collect();
        assert_eq!(names, ["source.ip", "a.b.c"]);
    }
}

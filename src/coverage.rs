//! Coverage of the logging standards' requirements by rules.
//!
//! The requirements are data (`coverage/requirements.toml`, embedded; see its
//! header for the keys), derived from the reference documents. A rule covers
//! a requirement by carrying the Sigma tag `tocsin.req.<id>` (Sigma allows
//! custom tag namespaces); detection and correlation rules both count.
//!
//! Not every requirement is a rule's business. Data never to log, the
//! attributes a source must carry and the time zone of its timestamps are
//! checked by the log-quality monitor (`pipeline::quality`) instead; a
//! requirement says so with `monitored_by` (which check, and for a secret
//! scan the samples its detectors must flag; `tests/coverage.rs` holds each
//! claim to the monitor and the schemas). The monitor checks a source's
//! schema-required attributes when its config names the schema (`schema =
//! "vpn"`, [`crate::config::schema`]), as the shipped config does for each of
//! its sources that has one. A requirement neither a rule nor
//! the monitor can serve says why with `not_detectable`. Each requirement is
//! then in one of three states, in this order of precedence:
//!
//! - **covered**: at least one rule carries its tag;
//! - **monitored**: no rule, but a log-quality check serves it;
//! - **uncovered**: neither (with the `not_detectable` reason when it has one).
//!
//! The report keeps every requirement of the file, whatever its state, in file
//! order: none is dropped, and its totals add up to the file's count. Tags in
//! the `tocsin.req.` namespace that name no requirement are reported, not
//! ignored, so a typo cannot silently claim coverage; so are rules tagging a
//! requirement marked `not_detectable` (one of the two is wrong).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::rules::ast::{CorrelationRule, Modifier, Value};
use crate::rules::{LoadedRules, Rule};

/// The tag namespace a rule uses to declare what it covers.
pub const TAG_PREFIX: &str = "tocsin.req.";

/// The shipped requirement list.
pub const EMBEDDED: &str = include_str!("../coverage/requirements.toml");

/// What kind of obligation a requirement is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An activity that must be logged; rules detect its abuse.
    Event,
    /// A field the source's events must carry.
    Attribute,
    /// A data export rather than an event stream.
    Export,
    /// Data that must never be logged.
    Exclusion,
    /// How logs are collected and kept.
    Collection,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Event => "event",
            Kind::Attribute => "attribute",
            Kind::Export => "export",
            Kind::Exclusion => "exclusion",
            Kind::Collection => "collection",
        }
    }
}

/// Where a requirement comes from.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Ref {
    /// File name in the reference documents.
    pub doc: String,
    /// Heading path, headings joined by ` > `.
    pub section: String,
    /// Verbatim text of that section.
    pub quote: String,
}

/// A check of the log-quality monitor (`pipeline::quality`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// The share of a source's events missing a field of its `required_fields`.
    RequiredField,
    /// The share of a source's events whose timestamp is not in UTC (or has no zone).
    UtcTimestamp,
    /// Events carrying a secret, found by the redactor's detectors.
    SecretScan,
    /// A source quiet for longer than its `max_silence`.
    SourceSilence,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::RequiredField => "required field",
            Check::UtcTimestamp => "UTC timestamp",
            Check::SecretScan => "secret scan",
            Check::SourceSilence => "source silence",
        }
    }
}

/// How the log-quality monitor serves a requirement no rule covers.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Monitor {
    pub check: Check,
    /// `required-field`: the fields checked (a subset of the requirement's,
    /// each required by its source schema).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// `secret-scan`: events (JSON objects, as text) the detectors flag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<String>,
    /// What the check does not catch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<String>,
}

impl Monitor {
    /// `log-quality: required field (user.name)`, as the report prints it.
    pub fn describe(&self) -> String {
        let mut s = format!("log-quality: {}", self.check.as_str());
        if !self.fields.is_empty() {
            s.push_str(&format!(" ({})", self.fields.join(", ")));
        }
        s
    }
}

/// One requirement of the standards.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    pub source: String,
    pub kind: Kind,
    #[serde(default)]
    pub optional: bool,
    pub text: String,
    /// Normalized-schema fields it relies on (dotted ECS paths).
    #[serde(default)]
    pub fields: Vec<String>,
    pub refs: Vec<Ref>,
    /// The log-quality check that serves it, when no rule can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitored_by: Option<Monitor>,
    /// Why neither a stream rule nor the monitor can serve it (one line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_detectable: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequirementFile {
    #[serde(default)]
    requirement: Vec<Requirement>,
}

/// A requirement list that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequirementsError {
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: requirement id `{id}` appears more than once")]
    DuplicateId { file: String, id: String },
    #[error("{file}: requirement `{id}` has {what}")]
    Incomplete {
        file: String,
        id: String,
        what: &'static str,
    },
    #[error("{file}: requirement `{id}`: {what}")]
    BadMonitor { file: String, id: String, what: String },
}

/// Parses and checks a requirement list: ids unique, non-empty, with text and a reference.
pub fn parse_requirements(text: &str, file: &str) -> Result<Vec<Requirement>, RequirementsError> {
    let parsed: RequirementFile = toml::from_str(text).map_err(|e: toml::de::Error| RequirementsError::Parse {
        file: file.to_string(),
        message: e.to_string(),
    })?;
    let mut seen = BTreeSet::new();
    for r in &parsed.requirement {
        let incomplete = |what| RequirementsError::Incomplete {
            file: file.to_string(),
            id: r.id.clone(),
            what,
        };
        if r.id.trim().is_empty() {
            return Err(incomplete("an empty id"));
        }
        if r.text.trim().is_empty() {
            return Err(incomplete("no text"));
        }
        if r.refs.is_empty() {
            return Err(incomplete("no reference"));
        }
        if r.not_detectable.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err(incomplete("an empty `not_detectable` reason"));
        }
        if let Some(m) = &r.monitored_by {
            check_monitor(r, m).map_err(|what| RequirementsError::BadMonitor {
                file: file.to_string(),
                id: r.id.clone(),
                what,
            })?;
        }
        if !seen.insert(r.id.to_ascii_lowercase()) {
            return Err(RequirementsError::DuplicateId {
                file: file.to_string(),
                id: r.id.clone(),
            });
        }
    }
    Ok(parsed.requirement)
}

/// A `monitored_by` claim that cannot be right whatever the monitor does.
fn check_monitor(r: &Requirement, m: &Monitor) -> Result<(), String> {
    if r.not_detectable.is_some() {
        return Err("`monitored_by` and `not_detectable` exclude each other".into());
    }
    match m.check {
        Check::RequiredField => {
            if m.fields.is_empty() {
                return Err("a `required-field` check names the fields it checks".into());
            }
            if let Some(f) = m.fields.iter().find(|f| !r.fields.contains(f)) {
                return Err(format!("checked field `{f}` is not one of the requirement's fields"));
            }
        }
        Check::UtcTimestamp | Check::SecretScan | Check::SourceSilence if !m.fields.is_empty() => {
            return Err(format!("a `{}` check takes no fields", m.check.as_str()));
        }
        _ => {}
    }
    match (m.check, m.samples.is_empty()) {
        (Check::SecretScan, true) => Err("a `secret-scan` check needs samples its detectors flag".into()),
        (Check::SecretScan, false) => match m
            .samples
            .iter()
            .find(|s| !matches!(serde_json::from_str(s), Ok(serde_json::Value::Object(_))))
        {
            Some(s) => Err(format!("sample `{s}` is not a JSON object")),
            None => Ok(()),
        },
        (_, false) => Err(format!("a `{}` check takes no samples", m.check.as_str())),
        (_, true) => Ok(()),
    }
}

/// A rule, as the report names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RuleRef {
    pub id: String,
    pub title: String,
    /// `detection` or `correlation`.
    pub kind: &'static str,
    pub file: String,
    /// Event fields the rule reads, as written in the rule: its detection's
    /// fields (and `fieldref` targets); a correlation's group-by (through its
    /// aliases) and counted field.
    pub fields: Vec<String>,
}

/// How a requirement is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// A rule carries its tag.
    Covered,
    /// No rule, but a log-quality check (`monitored_by`).
    Monitored,
    /// Neither.
    Uncovered,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Covered => "covered",
            State::Monitored => "monitored",
            State::Uncovered => "uncovered",
        }
    }
}

/// One requirement and the rules that cover it.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    #[serde(flatten)]
    pub requirement: Requirement,
    pub state: State,
    /// Whether a rule covers it (`state == covered`).
    pub covered: bool,
    pub rules: Vec<RuleRef>,
}

/// A rule tagging a requirement marked `not_detectable`: the tag or the reason is wrong.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Contradiction {
    pub requirement: String,
    pub rule: String,
    pub file: String,
}

/// A `tocsin.req.` tag naming no requirement.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct UnknownTag {
    pub rule: String,
    pub file: String,
    pub tag: String,
}

/// Counts of one kind (or of all): `covered + monitored + uncovered == requirements`.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    pub requirements: usize,
    pub covered: usize,
    pub monitored: usize,
    pub uncovered: usize,
    /// Of the uncovered, those with a `not_detectable` reason.
    pub not_detectable: usize,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub totals: Totals,
    pub by_kind: BTreeMap<Kind, Totals>,
    /// Every requirement, in file order.
    pub requirements: Vec<Entry>,
    /// Ids of the uncovered requirements (neither a rule nor the monitor), in file order.
    pub uncovered: Vec<String>,
    pub unknown_tags: Vec<UnknownTag>,
    /// Rules tagging a requirement marked `not_detectable`.
    pub contradictions: Vec<Contradiction>,
    /// Rules read (detection and correlation).
    pub rules: usize,
}

/// Which requirements the rules cover.
pub fn report(requirements: Vec<Requirement>, rules: &LoadedRules) -> Report {
    let index: HashMap<String, usize> = requirements
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.to_ascii_lowercase(), i))
        .collect();
    let mut covering: Vec<BTreeSet<RuleRef>> = vec![BTreeSet::new(); requirements.len()];
    let mut unknown = BTreeSet::new();
    let tagged = rules
        .rules
        .iter()
        .map(|r| (&r.tags, detection_ref(r)))
        .chain(rules.correlations.iter().map(|c| (&c.tags, correlation_ref(c))));
    for (tags, rule) in tagged {
        for tag in tags {
            let lower = tag.to_ascii_lowercase();
            let Some(id) = lower.strip_prefix(TAG_PREFIX) else {
                continue;
            };
            match index.get(id) {
                Some(&i) => {
                    covering[i].insert(rule.clone());
                }
                None => {
                    unknown.insert(UnknownTag {
                        rule: rule.id.clone(),
                        file: rule.file.clone(),
                        tag: tag.clone(),
                    });
                }
            }
        }
    }
    let mut totals = Totals::default();
    let mut by_kind: BTreeMap<Kind, Totals> = BTreeMap::new();
    let mut uncovered = Vec::new();
    let mut contradictions = Vec::new();
    let entries: Vec<Entry> = requirements
        .into_iter()
        .zip(covering)
        .map(|(requirement, rules)| {
            let state = if !rules.is_empty() {
                State::Covered
            } else if requirement.monitored_by.is_some() {
                State::Monitored
            } else {
                State::Uncovered
            };
            if requirement.not_detectable.is_some() {
                contradictions.extend(rules.iter().map(|r| Contradiction {
                    requirement: requirement.id.clone(),
                    rule: r.id.clone(),
                    file: r.file.clone(),
                }));
            }
            let kind = by_kind.entry(requirement.kind).or_default();
            for t in [&mut totals, kind] {
                t.requirements += 1;
                match state {
                    State::Covered => t.covered += 1,
                    State::Monitored => t.monitored += 1,
                    State::Uncovered => {
                        t.uncovered += 1;
                        if requirement.not_detectable.is_some() {
                            t.not_detectable += 1;
                        }
                    }
                }
            }
            if state == State::Uncovered {
                uncovered.push(requirement.id.clone());
            }
            Entry {
                requirement,
                state,
                covered: state == State::Covered,
                rules: rules.into_iter().collect(),
            }
        })
        .collect();
    Report {
        totals,
        by_kind,
        requirements: entries,
        uncovered,
        unknown_tags: unknown.into_iter().collect(),
        contradictions,
        rules: rules.rules.len() + rules.correlations.len(),
    }
}

fn detection_ref(r: &Rule) -> RuleRef {
    RuleRef {
        id: r.key().to_string(),
        title: r.title.clone(),
        kind: "detection",
        file: r.location.file.display().to_string(),
        fields: detection_fields(r),
    }
}

/// The event fields a detection rule reads, as written in the rule (sorted,
/// each once): the fields of its detection items, and the targets of
/// `fieldref` (`a|fieldref: b` reads field b too). Keyword searches read no
/// named field.
pub fn detection_fields(r: &Rule) -> Vec<String> {
    let mut fields: BTreeSet<String> = BTreeSet::new();
    for item in r
        .detection
        .identifiers
        .iter()
        .flat_map(|s| &s.groups)
        .flat_map(|g| &g.items)
    {
        fields.extend(item.field.clone());
        if item.has(Modifier::Fieldref) {
            fields.extend(item.values.iter().filter_map(|v| match v {
                Value::String(s) => Some(s.raw.clone()),
                _ => None,
            }));
        }
    }
    fields.into_iter().collect()
}

/// The event fields a correlation reads in the events of each rule it
/// references: (the reference as written, the field), sorted, each once. Its
/// group-by fields (an alias stands for the field it names for that rule)
/// and the field its condition counts (`value_count`, ...).
pub fn correlation_fields(c: &CorrelationRule) -> Vec<(String, String)> {
    let mut out: BTreeSet<(String, String)> = BTreeSet::new();
    for r in &c.rules {
        let rule = &r.reference;
        for g in &c.group_by {
            let field = match c.aliases.iter().find(|a| &a.name == g) {
                Some(a) => a.fields.iter().find(|(x, _)| x == rule).map(|(_, f)| f.clone()),
                None => Some(g.clone()),
            };
            out.extend(field.map(|f| (rule.clone(), f)));
        }
        out.extend(c.condition.field.clone().map(|f| (rule.clone(), f)));
    }
    out.into_iter().collect()
}

fn correlation_ref(c: &CorrelationRule) -> RuleRef {
    let mut fields: BTreeSet<String> = BTreeSet::new();
    for g in &c.group_by {
        match c.aliases.iter().find(|a| &a.name == g) {
            Some(a) => fields.extend(a.fields.iter().map(|(_, f)| f.clone())),
            None => {
                fields.insert(g.clone());
            }
        }
    }
    fields.extend(c.condition.field.clone());
    RuleRef {
        id: c.key().to_string(),
        title: c.title.clone(),
        kind: "correlation",
        file: c.location.file.display().to_string(),
        fields: fields.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_list_parses_with_unique_ids() {
        let r = parse_requirements(EMBEDDED, "coverage/requirements.toml").unwrap();
        assert!(r.len() > 100, "{}", r.len());
    }

    #[test]
    fn duplicates_and_unknown_keys_are_rejected() {
        let one = "[[requirement]]\nid = \"a\"\nsource = \"any\"\nkind = \"event\"\ntext = \"t\"\nrefs = [{ doc = \"d\", section = \"s\", quote = \"q\" }]\n";
        assert!(matches!(
            parse_requirements(&format!("{one}{}", one.replace("\"a\"", "\"A\"")), "f"),
            Err(RequirementsError::DuplicateId { .. })
        ));
        assert!(matches!(
            parse_requirements(&one.replace("text", "txt"), "f"),
            Err(RequirementsError::Parse { .. })
        ));
        assert!(matches!(
            parse_requirements(&one.replace("\"event\"", "\"rule\""), "f"),
            Err(RequirementsError::Parse { .. })
        ));
    }

    #[test]
    fn monitored_by_claims_that_cannot_hold_are_rejected() {
        let one = "[[requirement]]\nid = \"a\"\nsource = \"vpn\"\nkind = \"attribute\"\ntext = \"t\"\nfields = [\"user.name\"]\nrefs = [{ doc = \"d\", section = \"s\", quote = \"q\" }]\n";
        let with = |extra: &str| parse_requirements(&format!("{one}{extra}"), "f");
        assert!(with("[requirement.monitored_by]\ncheck = \"required-field\"\nfields = [\"user.name\"]\n").is_ok());
        let bad = [
            // no field named, or a field the requirement does not rely on
            "[requirement.monitored_by]\ncheck = \"required-field\"\n",
            "[requirement.monitored_by]\ncheck = \"required-field\"\nfields = [\"source.ip\"]\n",
            // a secret scan without samples, or with a sample that is not an event
            "[requirement.monitored_by]\ncheck = \"secret-scan\"\n",
            "[requirement.monitored_by]\ncheck = \"secret-scan\"\nsamples = [\"password=x\"]\n",
            // samples on another check
            "[requirement.monitored_by]\ncheck = \"utc-timestamp\"\nsamples = [\"{}\"]\n",
        ];
        for b in bad {
            assert!(matches!(with(b), Err(RequirementsError::BadMonitor { .. })), "{b}");
        }
        // an unknown check, and monitored yet not detectable
        assert!(matches!(
            with("[requirement.monitored_by]\ncheck = \"guess\"\n"),
            Err(RequirementsError::Parse { .. })
        ));
        let both = one.replace("text = \"t\"\n", "text = \"t\"\nnot_detectable = \"why\"\n");
        assert!(matches!(
            parse_requirements(
                &format!("{both}[requirement.monitored_by]\ncheck = \"utc-timestamp\"\n"),
                "f"
            ),
            Err(RequirementsError::BadMonitor { .. })
        ));
        assert!(matches!(
            parse_requirements(
                &one.replace("text = \"t\"\n", "text = \"t\"\nnot_detectable = \" \"\n"),
                "f"
            ),
            Err(RequirementsError::Incomplete { .. })
        ));
    }
}

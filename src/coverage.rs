//! Coverage of the logging standards' requirements by rules.
//!
//! The requirements are data (`coverage/requirements.toml`, embedded; see its
//! header for the keys), derived from the reference documents. A rule covers
//! a requirement by carrying the Sigma tag `tocsin.req.<id>` (Sigma allows
//! custom tag namespaces); detection and correlation rules both count.
//!
//! The report keeps every requirement of the file, covered or not, in file
//! order: none is dropped, and its totals add up to the file's count. Tags in
//! the `tocsin.req.` namespace that name no requirement are reported, not
//! ignored, so a typo cannot silently claim coverage.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::rules::ast::CorrelationRule;
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
        if !seen.insert(r.id.to_ascii_lowercase()) {
            return Err(RequirementsError::DuplicateId {
                file: file.to_string(),
                id: r.id.clone(),
            });
        }
    }
    Ok(parsed.requirement)
}

/// A rule, as the report names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RuleRef {
    pub id: String,
    pub title: String,
    /// `detection` or `correlation`.
    pub kind: &'static str,
    pub file: String,
    /// Event fields the rule reads (as written in the rule).
    pub fields: Vec<String>,
}

/// One requirement and the rules that cover it.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    #[serde(flatten)]
    pub requirement: Requirement,
    pub covered: bool,
    pub rules: Vec<RuleRef>,
}

/// A `tocsin.req.` tag naming no requirement.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct UnknownTag {
    pub rule: String,
    pub file: String,
    pub tag: String,
}

/// Counts of one kind (or of all).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    pub requirements: usize,
    pub covered: usize,
    pub uncovered: usize,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub totals: Totals,
    pub by_kind: BTreeMap<Kind, Totals>,
    /// Every requirement, in file order.
    pub requirements: Vec<Entry>,
    /// Ids of the uncovered requirements, in file order.
    pub uncovered: Vec<String>,
    pub unknown_tags: Vec<UnknownTag>,
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
    let entries: Vec<Entry> = requirements
        .into_iter()
        .zip(covering)
        .map(|(requirement, rules)| {
            let covered = !rules.is_empty();
            let kind = by_kind.entry(requirement.kind).or_default();
            for t in [&mut totals, kind] {
                t.requirements += 1;
                if covered {
                    t.covered += 1;
                } else {
                    t.uncovered += 1;
                }
            }
            if !covered {
                uncovered.push(requirement.id.clone());
            }
            Entry {
                requirement,
                covered,
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
        rules: rules.rules.len() + rules.correlations.len(),
    }
}

fn detection_ref(r: &Rule) -> RuleRef {
    let fields: BTreeSet<String> = r
        .detection
        .identifiers
        .iter()
        .flat_map(|s| &s.groups)
        .flat_map(|g| &g.items)
        .filter_map(|i| i.field.clone())
        .collect();
    RuleRef {
        id: r.key().to_string(),
        title: r.title.clone(),
        kind: "detection",
        file: r.location.file.display().to_string(),
        fields: fields.into_iter().collect(),
    }
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
}

//! Classify: decide which configured source an event belongs to, and so its
//! Sigma logsource and field mapping.
//!
//! Sources are tried in config order; the first whose `when` conditions all
//! hold wins. A source without conditions takes every event that reaches it,
//! so it belongs last. An event no source claims is counted as unclassified —
//! never silently dropped.
//!
//! A source with `[[extract]]` entries ([`crate::decode::extract`]) extracts
//! its fields first, and its `when` sees them: a raw syslog line in `message`
//! is claimed by `process.name = sshd` parsed out of its header.

pub mod ecs;

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::SourceConfig;
use crate::decode::extract::{Extraction, Extractor};
use crate::event::ValueRef;
use crate::rules::LogSource;

/// A source ready to classify events.
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub logsource: LogSource,
    when: Vec<(String, Vec<String>)>,
    pub field_map: HashMap<String, Vec<String>>,
    pub field_prefixes: Vec<String>,
    pub time_fields: Option<Vec<String>>,
    /// Kafka topics this source reads; empty = any input.
    pub topics: Vec<String>,
    /// Attributes the logging standards require of this source (rule field
    /// names, read through the field mapping): log-quality monitoring.
    pub required_fields: Vec<String>,
    /// Longer than this between two events (event time) raises `source_silent`.
    pub max_silence_ns: Option<i64>,
    /// Field extraction (`[[extract]]`), compiled.
    pub extract: Option<Arc<Extractor>>,
}

impl Source {
    pub fn from_config(c: &SourceConfig) -> Source {
        Source {
            name: c.name.clone(),
            logsource: LogSource {
                product: c.product.clone(),
                category: c.category.clone(),
                service: c.service.clone(),
            },
            when: c.when.iter().map(|(k, v)| (k.clone(), v.to_strings())).collect(),
            field_map: c.field_map.iter().map(|(k, v)| (k.clone(), v.to_strings())).collect(),
            field_prefixes: c.field_prefixes.clone(),
            time_fields: c.time_fields.clone(),
            topics: c.topics.clone(),
            required_fields: c.required_fields.clone(),
            max_silence_ns: c
                .max_silence
                .as_deref()
                .and_then(crate::correlate::parse_duration_ms)
                .map(|ms| ms as i64 * 1_000_000),
            // Config loading compiled these already and reports errors with
            // file and line; a source built from an unchecked config loses
            // its extraction (logged) rather than the process.
            extract: Extractor::compile(&c.extract)
                .unwrap_or_else(|e| {
                    tracing::error!(source = %c.name, error = %e, "field extraction disabled");
                    None
                })
                .map(Arc::new),
        }
    }

    /// A source that takes every event with the given logsource (`--logsource`).
    pub fn fixed(logsource: LogSource) -> Source {
        Source {
            name: "cli".into(),
            logsource,
            when: Vec::new(),
            field_map: HashMap::new(),
            field_prefixes: Vec::new(),
            time_fields: None,
            topics: Vec::new(),
            required_fields: Vec::new(),
            max_silence_ns: None,
            extract: None,
        }
    }

    /// Whether records read at `pos` may belong to this source: a source that
    /// lists topics only takes records of those topics; files go to any source.
    pub fn reads(&self, pos: &crate::event::Position) -> bool {
        match pos {
            crate::event::Position::Kafka { topic, .. } => {
                self.topics.is_empty() || self.topics.iter().any(|t| **t == **topic)
            }
            crate::event::Position::File { .. } => true,
        }
    }

    /// Whether this source claims the event. A condition on a list field
    /// (ECS `event.category: ["authentication"]`) holds when any element does.
    /// Extraction is not run: see [`Source::classify`].
    pub fn claims(&self, event: ValueRef<'_, '_>) -> bool {
        self.claims_with(event, None)
    }

    /// [`Source::claims`], conditions also holding on the fields `extracted`
    /// by this source's extractor (the event's own fields first).
    pub fn claims_with(&self, event: ValueRef<'_, '_>, extracted: Option<&Extraction>) -> bool {
        self.when.iter().all(|(path, accepted)| {
            let accepts = |t: &str| accepted.iter().any(|a| a.eq_ignore_ascii_case(t));
            let ok = |v: ValueRef<'_, '_>| v.text().is_some_and(|t| accepts(t.as_str()));
            match event.lookup(path) {
                Some(v) => match v.kind() {
                    crate::event::Kind::Array(items) => items.elements().any(ok),
                    _ => ok(v),
                },
                None => extracted
                    .zip(self.extract.as_deref())
                    .and_then(|(x, ex)| x.get(ex, path))
                    .is_some_and(accepts),
            }
        })
    }

    /// Runs this source's extraction (if it has one) on `event`, then
    /// checks its `when`. Returns whether the source claims the event, and
    /// whether fields were extracted (they are in `scratch`, to be added with
    /// [`Extraction::augment`]). `reference_ns` dates syslog times without a
    /// year (the transport timestamp; `None`: now).
    pub fn classify(
        &self,
        event: ValueRef<'_, '_>,
        scratch: &mut Extraction,
        reference_ns: Option<i128>,
    ) -> (bool, bool) {
        match &self.extract {
            Some(ex) => {
                let extracted = scratch.run(ex, event, reference_ns);
                (self.claims_with(event, Some(scratch)), extracted)
            }
            None => (self.claims(event), false),
        }
    }
}

#[cfg(test)]
mod claim_tests {
    use super::*;

    #[test]
    fn a_condition_on_a_list_field_holds_when_any_element_does() {
        let cfg: crate::config::Config = crate::config::Config::parse(
            "[[sources]]\nname = \"auth\"\nproduct = \"p\"\nwhen = { \"event.category\" = \"authentication\" }\n",
            "t.toml",
        )
        .expect("config");
        let src = Source::from_config(&cfg.sources[0]);
        let mut decoder = crate::decode::JsonDecoder::new(1 << 16);
        let mut claims = |json: &str| {
            let d = decoder.decode(json.as_bytes()).expect("json");
            src.claims(d.root())
        };
        assert!(claims(r#"{"event":{"category":["iam","authentication"]}}"#));
        assert!(claims(r#"{"event":{"category":"authentication"}}"#));
        assert!(!claims(r#"{"event":{"category":["iam"]}}"#));
        assert!(!claims(r#"{"event":{}}"#));
    }
}

/// Whether a rule written for `rule` applies to events of `source`: every key
/// the rule sets must be set to the same value (case-insensitively) by the source.
pub fn applies(rule: &LogSource, source: &LogSource) -> bool {
    let same = |r: &Option<String>, s: &Option<String>| match (r, s) {
        (None, _) => true,
        (Some(r), Some(s)) => r.eq_ignore_ascii_case(s),
        (Some(_), None) => false,
    };
    same(&rule.product, &source.product)
        && same(&rule.category, &source.category)
        && same(&rule.service, &source.service)
}

/// Parses `product=P,category=C,service=S` (any subset, any order).
pub fn parse_logsource(s: &str) -> Result<LogSource, String> {
    let mut ls = LogSource::default();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("`{part}`: expected key=value"))?;
        let v = Some(v.trim().to_string()).filter(|v| !v.is_empty());
        match k.trim() {
            "product" => ls.product = v,
            "category" => ls.category = v,
            "service" => ls.service = v,
            other => {
                return Err(format!(
                    "unknown logsource key `{other}` (expected product, category or service)"
                ))
            }
        }
    }
    if ls == LogSource::default() {
        return Err("empty logsource: give at least one of product, category, service".into());
    }
    Ok(ls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_applicability() {
        let src = parse_logsource("product=windows,category=process_creation").unwrap();
        assert!(applies(&parse_logsource("product=windows").unwrap(), &src));
        assert!(applies(
            &parse_logsource("category=process_creation,product=Windows").unwrap(),
            &src
        ));
        assert!(!applies(
            &parse_logsource("product=windows,service=security").unwrap(),
            &src
        ));
        assert!(!applies(&parse_logsource("product=linux").unwrap(), &src));
        assert!(parse_logsource("produkt=x").is_err());
        assert!(parse_logsource("").is_err());
    }
}

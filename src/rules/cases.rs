//! Rule test cases: the `tests` list under a rule's Tocsin extension key.
//!
//! ```yaml
//! tocsin:
//!   tests:
//!     - name: encoded powershell matches      # required, unique within the rule
//!       match: true                            # the rule must (true) / must not (false) match
//!       event: { "Image": "C:\\...\\powershell.exe", "CommandLine": "powershell -enc AAAA" }
//!     - name: five failures then a success
//!       events:                                # an event sequence (with time fields)
//!         - { "@timestamp": "2026-01-01T10:00:00Z", ... }
//!       alerts: 1                              # alerts of this rule over the sequence
//!       source: windows-security               # optional: a source of --config
//! ```
//!
//! Contract:
//! - A case is a map with exactly the keys `name`, `match`, `alerts`, `event`,
//!   `events`, `source`. `name` is a non-empty string, unique within the rule.
//!   Exactly one of `event` (a map) and `events` (a non-empty list of maps) is
//!   given; `event` goes with `match` (a boolean), `events` with `alerts` (a
//!   non-negative integer). Correlation rules take only `events`/`alerts`;
//!   detection rules take either form.
//! - Every violation is a [`RuleError`] at the offending node, so the loader
//!   reports it as `file:line:col` like any other rule error and the rule is
//!   not loaded.
//! - Nothing here runs a case: `tocsin test` (`cli::test`) does.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::ast::Location;
use super::error::{RuleError, RuleErrorKind};
use super::yaml::{self, Node, NodeKind, Resolved};

/// The keys a test case may have.
pub const CASE_KEYS: &str = "name, match, event, events, alerts, source";

/// What a case feeds the rule.
#[derive(Clone, Debug, PartialEq)]
pub enum CaseInput {
    /// One event (`event:`).
    Event(serde_json::Value),
    /// An event sequence (`events:`), replayed in order.
    Events(Vec<serde_json::Value>),
}

impl CaseInput {
    pub fn events(&self) -> &[serde_json::Value] {
        match self {
            CaseInput::Event(e) => std::slice::from_ref(e),
            CaseInput::Events(v) => v,
        }
    }
}

/// What a case expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// `match: true|false`: the rule matches the event, or does not.
    Match(bool),
    /// `alerts: N`: the rule raises exactly N alerts over the events.
    Alerts(u64),
}

/// One parsed test case.
#[derive(Clone, Debug, PartialEq)]
pub struct TestCase {
    pub name: String,
    pub input: CaseInput,
    pub expect: Expect,
    /// `source:` — evaluate through this source of the config (its `when`,
    /// field mapping and time fields), with where it was written.
    pub source: Option<(String, Location)>,
    /// Where the case starts.
    pub location: Location,
}

impl TestCase {
    /// True for a case that expects the rule to fire (`match: true`, `alerts` ≥ 1).
    pub fn expects_firing(&self) -> bool {
        match self.expect {
            Expect::Match(m) => m,
            Expect::Alerts(n) => n > 0,
        }
    }
}

fn loc(file: &Arc<PathBuf>, node: &Node) -> Location {
    Location {
        file: file.clone(),
        line: node.line,
        column: node.column,
    }
}

fn invalid(file: &Arc<PathBuf>, node: &Node, key: &str, reason: impl Into<String>) -> RuleError {
    RuleError::new(
        loc(file, node),
        RuleErrorKind::InvalidKey {
            key: key.into(),
            reason: reason.into(),
        },
    )
}

/// Parses the value of `tocsin.tests`. `correlation`: the rule is a
/// correlation rule (only `events`/`alerts` cases). Returns the valid cases
/// and every problem found.
pub fn parse_tests(node: &Node, file: &Arc<PathBuf>, correlation: bool) -> (Vec<TestCase>, Vec<RuleError>) {
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    let Some(items) = node.as_seq() else {
        errors.push(invalid(
            file,
            node,
            "tocsin.tests",
            format!("must be a list of test cases, found {}", node.describe()),
        ));
        return (cases, errors);
    };
    let mut names: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let key = format!("tocsin.tests[{i}]");
        let before = errors.len();
        let case = parse_case(item, file, correlation, &key, &mut errors);
        match case {
            Some(case) if errors.len() == before => {
                if let Some(first) = names.get(&case.name) {
                    errors.push(invalid(
                        file,
                        item,
                        &format!("{key}.name"),
                        format!("duplicate test name `{}` (first at line {first})", case.name),
                    ));
                } else {
                    names.insert(case.name.clone(), item.line);
                    cases.push(case);
                }
            }
            _ => {}
        }
    }
    (cases, errors)
}

fn parse_case(
    item: &Node,
    file: &Arc<PathBuf>,
    correlation: bool,
    key: &str,
    errors: &mut Vec<RuleError>,
) -> Option<TestCase> {
    let Some(entries) = item.as_map() else {
        errors.push(invalid(
            file,
            item,
            key,
            format!("a test case must be a map ({CASE_KEYS}), found {}", item.describe()),
        ));
        return None;
    };
    let mut name = None;
    let mut expect_match: Option<(bool, &Node)> = None;
    let mut alerts: Option<(u64, &Node)> = None;
    let mut event: Option<(serde_json::Value, &Node)> = None;
    let mut events: Option<(Vec<serde_json::Value>, &Node)> = None;
    let mut source = None;
    let mut seen: Vec<&str> = Vec::new();
    for (k, v) in entries {
        let Some(field) = k.as_scalar() else {
            errors.push(invalid(file, k, key, format!("keys must be strings ({CASE_KEYS})")));
            continue;
        };
        if seen.contains(&field) {
            errors.push(RuleError::new(
                loc(file, k),
                RuleErrorKind::DuplicateKey(format!("{key}.{field}")),
            ));
            continue;
        }
        seen.push(field);
        let here = format!("{key}.{field}");
        match field {
            "name" => match &v.kind {
                NodeKind::Scalar { text, .. } if !v.is_null() && !text.trim().is_empty() => {
                    name = Some(text.clone());
                }
                _ => errors.push(invalid(file, v, &here, "must be a non-empty string")),
            },
            "match" => match v.resolve() {
                Some(Resolved::Bool(b)) => expect_match = Some((b, k)),
                _ => errors.push(invalid(
                    file,
                    v,
                    &here,
                    format!("must be true or false, found {}", v.describe()),
                )),
            },
            "alerts" => match v.resolve() {
                Some(Resolved::Int(n)) if n >= 0 => alerts = Some((u64::try_from(n).unwrap_or(u64::MAX), k)),
                _ => errors.push(invalid(
                    file,
                    v,
                    &here,
                    format!(
                        "must be a non-negative integer, found `{}`",
                        v.as_scalar().unwrap_or(v.describe())
                    ),
                )),
            },
            "event" => {
                if let Some(e) = event_json(v, file, &here, errors) {
                    event = Some((e, k));
                }
            }
            "events" => match v.as_seq() {
                Some([]) => errors.push(invalid(file, v, &here, "must list at least one event")),
                Some(list) => {
                    let before = errors.len();
                    let parsed: Vec<_> = list
                        .iter()
                        .enumerate()
                        .filter_map(|(j, e)| event_json(e, file, &format!("{here}[{j}]"), errors))
                        .collect();
                    if errors.len() == before {
                        events = Some((parsed, k));
                    }
                }
                None => errors.push(invalid(
                    file,
                    v,
                    &here,
                    format!("must be a list of events (maps), found {}", v.describe()),
                )),
            },
            "source" => match &v.kind {
                NodeKind::Scalar { text, .. } if !v.is_null() && !text.trim().is_empty() => {
                    source = Some((text.clone(), loc(file, v)));
                }
                _ => errors.push(invalid(file, v, &here, "must be the name of a source of the config")),
            },
            _ => errors.push(invalid(
                file,
                k,
                &here,
                format!("unknown key in a test case; known keys: {CASE_KEYS}"),
            )),
        }
    }
    if !seen.contains(&"name") {
        errors.push(RuleError::new(
            loc(file, item),
            RuleErrorKind::MissingKey(format!("{key}.name")),
        ));
    }
    let has = |k: &str| seen.contains(&k);
    let input = match (has("event"), has("events")) {
        (true, true) => {
            let at = entries
                .iter()
                .find(|(k, _)| k.as_scalar() == Some("events"))
                .map_or(item, |(k, _)| k);
            errors.push(invalid(
                file,
                at,
                key,
                "give either `event` (one event, with `match`) or `events` (a sequence, with `alerts`), not both",
            ));
            None
        }
        (false, false) => {
            errors.push(invalid(
                file,
                item,
                key,
                "needs `event` (one event, with `match`) or `events` (a sequence, with `alerts`)",
            ));
            None
        }
        (true, false) if correlation => {
            let at = event.as_ref().map_or(item, |(_, k)| k);
            errors.push(invalid(
                file,
                at,
                &format!("{key}.event"),
                "a correlation rule is tested over an event sequence: use `events` and `alerts`",
            ));
            None
        }
        (true, false) => event.map(|(e, _)| CaseInput::Event(e)),
        (false, true) => events.map(|(e, _)| CaseInput::Events(e)),
    };
    let expect = if has("events") {
        if let Some((_, k)) = expect_match {
            errors.push(invalid(
                file,
                k,
                &format!("{key}.match"),
                "`match` goes with `event`; an `events` sequence expects a number of `alerts`",
            ));
        }
        if !has("alerts") {
            errors.push(RuleError::new(
                loc(file, item),
                RuleErrorKind::MissingKey(format!("{key}.alerts")),
            ));
        }
        alerts.map(|(n, _)| Expect::Alerts(n))
    } else {
        if let Some((_, k)) = alerts {
            errors.push(invalid(
                file,
                k,
                &format!("{key}.alerts"),
                "`alerts` goes with an `events` sequence; one `event` expects `match: true|false`",
            ));
        }
        if has("event") && !has("match") {
            errors.push(RuleError::new(
                loc(file, item),
                RuleErrorKind::MissingKey(format!("{key}.match")),
            ));
        }
        expect_match.map(|(b, _)| Expect::Match(b))
    };
    Some(TestCase {
        name: name?,
        input: input?,
        expect: expect?,
        source,
        location: loc(file, item),
    })
}

/// An event: a map, converted to JSON (scalars typed by the YAML core schema).
fn event_json(v: &Node, file: &Arc<PathBuf>, key: &str, errors: &mut Vec<RuleError>) -> Option<serde_json::Value> {
    if v.as_map().is_none() {
        errors.push(invalid(
            file,
            v,
            key,
            format!("an event must be a map of fields, found {}", v.describe()),
        ));
        return None;
    }
    if let Some(dup) = v.find_duplicate_key() {
        errors.push(RuleError::new(
            loc(file, dup),
            RuleErrorKind::DuplicateKey(format!("{key}.{}", dup.as_scalar().unwrap_or_default())),
        ));
        return None;
    }
    Some(v.to_json())
}

/// The test cases of every document of a rule file, keyed by where the
/// document starts (line, column) — the `location` of the rule it holds.
/// Documents whose cases do not parse are left out: the loader reports them.
pub fn cases_in_file(text: &str, file: &Arc<PathBuf>) -> HashMap<(usize, usize), Vec<TestCase>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = HashMap::new();
    for doc in yaml::parse_stream(text).into_iter().flatten() {
        let Some(tests) = doc.root.get("tocsin").and_then(|t| t.get("tests")) else {
            continue;
        };
        let correlation = doc.root.get("correlation").is_some();
        let (cases, errors) = parse_tests(tests, file, correlation);
        if errors.is_empty() {
            out.insert((doc.line, doc.column), cases);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, correlation: bool) -> (Vec<TestCase>, Vec<RuleError>) {
        let docs = yaml::parse_stream(text);
        let doc = docs.into_iter().next().unwrap().unwrap();
        parse_tests(&doc.root, &Arc::new(PathBuf::from("r.yml")), correlation)
    }

    #[test]
    fn both_forms_parse() {
        let (cases, errors) = parse(
            "- name: a\n  match: true\n  event: {Image: 'x.exe', N: 3}\n\
             - name: b\n  events:\n    - {'@timestamp': '2026-01-01T00:00:00Z'}\n  alerts: 0\n  source: s\n",
            false,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].expect, Expect::Match(true));
        assert_eq!(
            cases[0].input,
            CaseInput::Event(serde_json::json!({"Image": "x.exe", "N": 3}))
        );
        assert_eq!(cases[1].expect, Expect::Alerts(0));
        assert_eq!(cases[1].source.as_ref().map(|s| s.0.as_str()), Some("s"));
        assert_eq!((cases[1].location.line, cases[1].location.column), (4, 3));
        assert!(!cases[1].expects_firing());
    }

    #[test]
    fn problems_are_located() {
        let bad = [
            ("- match: true\n  event: {a: 1}\n", 1, "name"),
            (
                "- name: a\n  match: true\n  event: {a: 1}\n  events: [{a: 1}]\n  alerts: 1\n",
                4,
                "not both",
            ),
            ("- name: a\n  match: true\n", 1, "needs `event`"),
            ("- name: a\n  match: yes\n  event: {a: 1}\n", 2, "true or false"),
            (
                "- name: a\n  match: true\n  event: {a: 1}\n  expect: 1\n",
                4,
                "unknown key",
            ),
            ("- name: a\n  events: [{a: 1}]\n", 1, "alerts"),
            ("- name: a\n  events: [{a: 1}, 3]\n  alerts: 1\n", 2, "must be a map"),
            ("- name: a\n  events: []\n  alerts: 1\n", 2, "at least one"),
            ("- name: a\n  event: {a: 1}\n  alerts: 1\n", 3, "`alerts` goes with"),
            ("- name: a\n  events: [{a: 1}]\n  alerts: -1\n", 3, "non-negative"),
            (
                "- name: a\n  match: true\n  event: {a: 1}\n- name: a\n  match: false\n  event: {a: 2}\n",
                4,
                "duplicate test name",
            ),
            ("{name: a}\n", 1, "list of test cases"),
            ("- name: ''\n  match: true\n  event: {a: 1}\n", 1, "non-empty"),
        ];
        for (text, line, needle) in bad {
            let (_, errors) = parse(text, false);
            assert!(!errors.is_empty(), "{text}");
            let e = &errors[0];
            assert_eq!(e.location.line, line, "{text}: {e}");
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
        let (_, errors) = parse("- name: a\n  match: true\n  event: {a: 1}\n", true);
        assert!(errors[0].to_string().contains("use `events`"), "{:?}", errors);
    }
}

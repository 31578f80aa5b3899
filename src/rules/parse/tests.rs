use super::*;
use crate::rules::ast::{Condition, Modifier, SigmaString, StrPart, Value};

fn file() -> Arc<PathBuf> {
    Arc::new(PathBuf::from("test.yml"))
}

fn rules(text: &str) -> Vec<Rule> {
    let (rules, errors) = parse_str(text, file());
    assert!(errors.is_empty(), "unexpected errors: {errors:#?}");
    rules
}

fn rule(text: &str) -> Rule {
    let mut r = rules(text);
    assert_eq!(r.len(), 1);
    r.remove(0)
}

fn errors(text: &str) -> Vec<RuleError> {
    let (rules, errors) = parse_str(text, file());
    assert!(rules.is_empty(), "expected no rules, got {rules:#?}");
    assert!(!errors.is_empty());
    errors
}

/// The single error of `text`, with its line.
fn error(text: &str) -> (RuleErrorKind, usize) {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    (errs[0].kind.clone(), errs[0].location.line)
}

/// A rule whose detection is `detection` (indented by two spaces already).
fn with_detection(detection: &str) -> String {
    format!("title: Test\nid: r1\nlogsource:\n  product: windows\ndetection:\n{detection}")
}

fn values(text: &str) -> Vec<Value> {
    let r = rule(&with_detection(&format!("  sel:\n    f: {text}\n  condition: sel\n")));
    r.detection.identifiers[0].groups[0].items[0].values.clone()
}

fn num(text: &str, value: f64) -> Value {
    Value::Number {
        text: text.into(),
        value,
    }
}

fn lit(s: &str) -> StrPart {
    StrPart::Literal(s.into())
}

const FULL: &str = r#"title: Suspicious Thing
id: 5f1f9d4c-0000-4000-8000-000000000001
name: suspicious_thing
status: test
description: Detects a thing
author: Someone
date: 2024-01-02
references:
    - https://example.com
level: high
tags:
    - attack.execution
    - attack.t1059
logsource:
    category: process_creation
    product: windows
    definition: 'Requirements: Sysmon'
detection:
    selection_img:
        Image|endswith:
            - '\cmd.exe'
            - '\powershell.exe'
    selection_cli:
        CommandLine|contains|all:
            - ' -enc '
            - 'bypass'
        EventID: 4688
    filter_main:
        User: SYSTEM
    condition: all of selection_* and not filter_main
falsepositives:
    - Admins
fields:
    - CommandLine
tocsin:
    suppress: 10m
    max_groups: 5000
custom_key: [1, x]
"#;

#[test]
fn full_rule() {
    let r = rule(FULL);
    assert_eq!(r.title, "Suspicious Thing");
    assert_eq!(r.id.as_deref(), Some("5f1f9d4c-0000-4000-8000-000000000001"));
    assert_eq!(r.key(), "5f1f9d4c-0000-4000-8000-000000000001");
    assert_eq!(r.name.as_deref(), Some("suspicious_thing"));
    assert_eq!(r.status.as_deref(), Some("test"));
    assert_eq!(r.description.as_deref(), Some("Detects a thing"));
    assert_eq!(r.author.as_deref(), Some("Someone"));
    assert_eq!(r.level, Some(Level::High));
    assert_eq!(r.tags, ["attack.execution", "attack.t1059"]);
    assert_eq!(
        r.logsource,
        LogSource {
            product: Some("windows".into()),
            category: Some("process_creation".into()),
            service: None
        }
    );
    assert_eq!(r.falsepositives, ["Admins"]);
    assert_eq!(r.fields, ["CommandLine"]);
    assert_eq!(
        r.tocsin,
        Some(serde_json::json!({"suppress": "10m", "max_groups": 5000}))
    );
    assert_eq!(r.custom["date"], serde_json::json!("2024-01-02"));
    assert_eq!(r.custom["references"], serde_json::json!(["https://example.com"]));
    assert_eq!(r.custom["custom_key"], serde_json::json!([1, "x"]));
    assert_eq!(r.custom.len(), 3);
    assert_eq!((r.location.line, r.location.column), (1, 1));

    let d = &r.detection;
    assert_eq!(d.location.line, 18);
    let names: Vec<_> = d.identifiers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["selection_img", "selection_cli", "filter_main"]);
    assert_eq!(
        d.condition,
        Condition::And(vec![
            Condition::AllOf(vec!["selection_img".into(), "selection_cli".into()]),
            Condition::Not(Box::new(Condition::Ident("filter_main".into()))),
        ])
    );
    let img = &d.identifiers[0];
    assert_eq!(img.location.line, 19);
    let item = &img.groups[0].items[0];
    assert_eq!(item.field.as_deref(), Some("Image"));
    assert_eq!(item.modifiers, [Modifier::EndsWith]);
    assert_eq!(item.location.line, 20);
    assert_eq!(item.values[0], Value::String(SigmaString::parse("\\cmd.exe")));
    let cli = &d.identifiers[1].groups[0];
    assert_eq!(cli.items.len(), 2);
    assert_eq!(cli.items[0].modifiers, [Modifier::Contains, Modifier::All]);
    assert!(cli.items[0].has(Modifier::All));
    assert_eq!(cli.items[1].values, [num("4688", 4688.0)]);
}

#[test]
fn minimal_rule_and_optional_keys() {
    let r = rule("title: x\nlogsource: {service: sshd}\ndetection: {k: [a], condition: k}\n");
    assert_eq!(r.id, None);
    assert_eq!(r.key(), "x");
    assert_eq!(r.level, None);
    assert!(r.tags.is_empty() && r.falsepositives.is_empty() && r.fields.is_empty());
    assert_eq!(r.logsource.service.as_deref(), Some("sshd"));
    assert!(r.tocsin.is_none() && r.custom.is_empty());
    // falsepositives as a single string; empty optional keys.
    let r = rule(
        "title: x\nfalsepositives: Unknown\ndescription:\nlogsource: {product: p}\ndetection: {k: [a], condition: k}\n",
    );
    assert_eq!(r.falsepositives, ["Unknown"]);
    assert_eq!(r.description, None);
}

// ---------------------------------------------------------------- escaping

#[test]
fn sigma_string_escaping() {
    assert_eq!(
        SigmaString::parse("a*b?c").parts,
        [lit("a"), StrPart::AnyString, lit("b"), StrPart::AnyChar, lit("c")]
    );
    assert_eq!(SigmaString::parse(r"a\*b").parts, [lit("a*b")]);
    assert_eq!(SigmaString::parse(r"a\?b").parts, [lit("a?b")]);
    assert_eq!(SigmaString::parse(r"a\\b").parts, [lit(r"a\b")]);
    assert_eq!(SigmaString::parse(r"\\*").parts, [lit("\\"), StrPart::AnyString]);
    assert_eq!(SigmaString::parse(r"C:\Windows\W").parts, [lit(r"C:\Windows\W")]);
    assert_eq!(SigmaString::parse(r"end\").parts, [lit(r"end\")]);
    assert_eq!(SigmaString::parse(r"\\\*").parts, [lit(r"\*")]);
    assert!(SigmaString::parse("").parts.is_empty());

    // Through YAML: single quotes keep backslashes, double quotes unescape first.
    let v = values(r#"['C:\Windows\*', "a\\*b", '\\server\share']"#);
    assert_eq!(
        v,
        [
            Value::String(SigmaString::parse(r"C:\Windows\*")),
            Value::String(SigmaString::parse(r"a\*b")),
            Value::String(SigmaString::parse(r"\\server\share")),
        ]
    );
    let Value::String(s) = &v[0] else { panic!() };
    assert_eq!(s.parts, [lit(r"C:\Windows*")]);
    let Value::String(s) = &v[2] else { panic!() };
    assert_eq!(s.parts, [lit(r"\server\share")]);
}

// ---------------------------------------------------------------- typing

#[test]
fn value_typing() {
    assert_eq!(values("00000429"), [num("00000429", 429.0)]);
    assert_eq!(values("4624"), [num("4624", 4624.0)]);
    assert_eq!(values("-1"), [num("-1", -1.0)]);
    assert_eq!(values("0x10"), [num("0x10", 16.0)]);
    assert_eq!(values("1e3"), [num("1e3", 1000.0)]);
    assert_eq!(values("1.50"), [num("1.50", 1.5)]);
    assert_eq!(values("'4624'"), [Value::String(SigmaString::literal("4624"))]);
    assert_eq!(
        values("\"00000429\""),
        [Value::String(SigmaString::literal("00000429"))]
    );
    assert_eq!(
        values("true"),
        [Value::Bool {
            text: "true".into(),
            value: true
        }]
    );
    assert_eq!(
        values("FALSE"),
        [Value::Bool {
            text: "FALSE".into(),
            value: false
        }]
    );
    assert_eq!(values("'true'"), [Value::String(SigmaString::literal("true"))]);
    assert_eq!(values("yes"), [Value::String(SigmaString::literal("yes"))]);
    assert_eq!(values("~"), [Value::Null]);
    assert_eq!(values("null"), [Value::Null]);
    assert_eq!(values(""), [Value::Null]);
    assert_eq!(values("[null]"), [Value::Null]);
    assert_eq!(values("'null'"), [Value::String(SigmaString::literal("null"))]);
    assert_eq!(values("!!str 42"), [Value::String(SigmaString::literal("42"))]);
    assert_eq!(
        values("2024-01-02"),
        [Value::String(SigmaString::literal("2024-01-02"))]
    );
    assert_eq!(
        values("[1, '1', x*]"),
        [
            num("1", 1.0),
            Value::String(SigmaString::literal("1")),
            Value::String(SigmaString::parse("x*"))
        ]
    );
    // Text as written, for messages and text matching.
    assert_eq!(values("00000429")[0].text(), "00000429");
}

#[test]
fn regex_values_keep_raw_text() {
    let r = rule(&with_detection(
        "  sel:\n    f|re: '^a\\\\d+.*\\*$'\n  condition: sel\n",
    ));
    let Value::String(s) = &r.detection.identifiers[0].groups[0].items[0].values[0] else {
        panic!()
    };
    assert_eq!(s.raw, r"^a\\d+.*\*$");
}

// ---------------------------------------------------------------- search identifiers

#[test]
fn search_identifier_shapes() {
    let r = rule(&with_detection(
        "  map:\n    a: 1\n    b|contains: x\n  list_of_maps:\n    - a: 1\n    - b: 2\n      c: 3\n  keywords:\n    - foo\n    - 42\n  kw_all:\n    '|all':\n      - x\n      - y\n    a: 1\n  condition: 1 of them\n",
    ));
    let ids = &r.detection.identifiers;
    assert_eq!(ids.len(), 4);
    assert_eq!(ids[0].groups.len(), 1);
    assert_eq!(ids[0].groups[0].items.len(), 2);
    assert_eq!(ids[1].groups.len(), 2);
    assert_eq!(ids[1].groups[1].items.len(), 2);
    assert_eq!(ids[1].groups[1].location.line, 11);
    let kw = &ids[2].groups;
    assert_eq!(kw.len(), 1);
    assert_eq!(kw[0].items.len(), 1);
    assert_eq!(kw[0].items[0].field, None);
    assert!(kw[0].items[0].modifiers.is_empty());
    assert_eq!(
        kw[0].items[0].values,
        [Value::String(SigmaString::literal("foo")), num("42", 42.0)]
    );
    let all = &ids[3].groups[0].items[0];
    assert_eq!(all.field, None);
    assert_eq!(all.modifiers, [Modifier::All]);
    assert_eq!(all.values.len(), 2);
    assert_eq!(ids[3].groups[0].items[1].field.as_deref(), Some("a"));
}

#[test]
fn invalid_search_identifiers() {
    // A plain string.
    let (kind, line) = error(&with_detection("  sel: foo\n  condition: sel\n"));
    assert!(
        matches!(&kind, RuleErrorKind::InvalidSearchIdentifier { name, reason }
        if name == "sel" && reason.contains("must be a map or a list")),
        "{kind:?}"
    );
    assert_eq!(line, 6);
    // A number, and nothing at all.
    let (kind, _) = error(&with_detection("  sel: 5\n  condition: sel\n"));
    assert!(matches!(kind, RuleErrorKind::InvalidSearchIdentifier { .. }));
    let (kind, _) = error(&with_detection("  sel:\n  condition: sel\n"));
    assert!(matches!(&kind, RuleErrorKind::InvalidSearchIdentifier { reason, .. } if reason.contains("empty")));
    // Empty list, empty map.
    let (kind, line) = error(&with_detection("  sel: []\n  condition: sel\n"));
    assert!(matches!(&kind, RuleErrorKind::InvalidSearchIdentifier { reason, .. } if reason.contains("empty list")));
    assert_eq!(line, 6);
    let (kind, _) = error(&with_detection("  sel: {}\n  condition: sel\n"));
    assert!(matches!(&kind, RuleErrorKind::InvalidSearchIdentifier { reason, .. } if reason.contains("empty map")));
    // Mixed maps and scalars.
    let (kind, line) = error(&with_detection("  sel:\n    - a: 1\n    - foo\n  condition: sel\n"));
    assert!(matches!(&kind, RuleErrorKind::InvalidSearchIdentifier { reason, .. } if reason.contains("mixes")));
    assert_eq!(line, 8);
    // Nested list.
    let (kind, line) = error(&with_detection("  sel:\n    - [a, b]\n  condition: sel\n"));
    assert!(matches!(kind, RuleErrorKind::InvalidSearchIdentifier { .. }));
    assert_eq!(line, 7);
    // Null keyword.
    let (kind, line) = error(&with_detection("  sel:\n    - a\n    - ~\n  condition: sel\n"));
    assert!(matches!(kind, RuleErrorKind::InvalidValue(_)), "{kind:?}");
    assert_eq!(line, 8);
}

#[test]
fn invalid_values() {
    // null inside a list.
    let (kind, line) = error(&with_detection(
        "  sel:\n    f:\n      - a\n      - null\n  condition: sel\n",
    ));
    assert!(
        matches!(&kind, RuleErrorKind::InvalidValue(m) if m.contains("null inside a value list")),
        "{kind:?}"
    );
    assert_eq!(line, 9);
    // A map as a value.
    let (kind, line) = error(&with_detection("  sel:\n    f:\n      g: 1\n  condition: sel\n"));
    assert!(
        matches!(&kind, RuleErrorKind::InvalidValue(m) if m.contains("map")),
        "{kind:?}"
    );
    assert_eq!(line, 8);
    // Empty list.
    let (kind, line) = error(&with_detection("  sel:\n    f: []\n  condition: sel\n"));
    assert!(
        matches!(&kind, RuleErrorKind::InvalidValue(m) if m.contains("empty")),
        "{kind:?}"
    );
    assert_eq!(line, 7);
    // A list inside a value list.
    let (kind, _) = error(&with_detection("  sel:\n    f: [a, [b]]\n  condition: sel\n"));
    assert!(matches!(kind, RuleErrorKind::InvalidValue(_)));
}

#[test]
fn modifiers_in_rules() {
    // Unknown modifier: at the key.
    let (kind, line) = error(&with_detection(
        "  sel:\n    a: 1\n    f|contians: x\n  condition: sel\n",
    ));
    assert_eq!(kind, RuleErrorKind::UnknownModifier("contians".into()));
    assert_eq!(line, 8);
    // `i` without `re`.
    let (kind, line) = error(&with_detection("  sel:\n    f|contains|i: x\n  condition: sel\n"));
    assert!(
        matches!(&kind, RuleErrorKind::InvalidModifiers(m) if m.contains("`i`") && m.contains("after `re`")),
        "{kind:?}"
    );
    assert_eq!(line, 7);
    // Non-boolean exists: at the value.
    let (kind, line) = error(&with_detection("  sel:\n    f|exists: 'yes'\n  condition: sel\n"));
    assert!(
        matches!(&kind, RuleErrorKind::InvalidValue(m) if m.contains("exists")),
        "{kind:?}"
    );
    assert_eq!(line, 7);
    let (kind, _) = error(&with_detection("  sel:\n    f|exists: 1\n  condition: sel\n"));
    assert!(matches!(kind, RuleErrorKind::InvalidValue(_)));
    // Valid exists.
    let r = rule(&with_detection("  sel:\n    f|exists: false\n  condition: sel\n"));
    let item = &r.detection.identifiers[0].groups[0].items[0];
    assert_eq!(item.modifiers, [Modifier::Exists]);
    assert!(matches!(item.values[..], [Value::Bool { value: false, .. }]));
    // A bad combination: at the key.
    let (kind, line) = error(&with_detection("  sel:\n    f|re|contains: x\n  condition: sel\n"));
    assert!(matches!(kind, RuleErrorKind::InvalidModifiers(_)));
    assert_eq!(line, 7);
    // A non-number for gte: at the offending list item.
    let (kind, line) = error(&with_detection(
        "  sel:\n    f|gte:\n      - 1\n      - x\n  condition: sel\n",
    ));
    assert!(matches!(kind, RuleErrorKind::InvalidValue(_)));
    assert_eq!(line, 9);
    // Time part + comparison.
    let r = rule(&with_detection("  sel:\n    f|hour|gte: 22\n  condition: sel\n"));
    assert_eq!(
        r.detection.identifiers[0].groups[0].items[0].modifiers,
        [Modifier::Hour, Modifier::Gte]
    );
    // Keyword with a modifier only.
    let r = rule(&with_detection("  sel:\n    '|contains': x\n  condition: sel\n"));
    let item = &r.detection.identifiers[0].groups[0].items[0];
    assert_eq!(
        (item.field.as_deref(), &item.modifiers[..]),
        (None, &[Modifier::Contains][..])
    );
}

#[test]
fn duplicate_keys() {
    let (kind, line) = error(&with_detection(
        "  sel:\n    a: 1\n  sel:\n    b: 2\n  condition: sel\n",
    ));
    assert_eq!(kind, RuleErrorKind::DuplicateKey("sel".into()));
    assert_eq!(line, 8);
    let (kind, line) = error(&with_detection("  sel:\n    a: 1\n    a: 2\n  condition: sel\n"));
    assert_eq!(kind, RuleErrorKind::DuplicateKey("a".into()));
    assert_eq!(line, 8);
    let (kind, line) = error("title: a\ntitle: b\nlogsource: {product: p}\ndetection: {k: [a], condition: k}\n");
    assert_eq!(kind, RuleErrorKind::DuplicateKey("title".into()));
    assert_eq!(line, 2);
    let (kind, line) =
        error("title: a\nlogsource: {product: p}\ndetection: {k: [a], condition: k}\nx:\n  y: 1\n  y: 2\n");
    assert_eq!(kind, RuleErrorKind::DuplicateKey("y".into()));
    assert_eq!(line, 6);
}

// ---------------------------------------------------------------- conditions

#[test]
fn conditions() {
    let r = rule(&with_detection(
        "  a: [x]\n  b: [y]\n  c: [z]\n  condition: a or b and not c\n",
    ));
    assert_eq!(
        r.detection.condition,
        Condition::Or(vec![
            Condition::Ident("a".into()),
            Condition::And(vec![
                Condition::Ident("b".into()),
                Condition::Not(Box::new(Condition::Ident("c".into())))
            ])
        ])
    );
    // A list of conditions is an OR.
    let r = rule(&with_detection("  a: [x]\n  b: [y]\n  condition:\n    - a\n    - b\n"));
    assert_eq!(
        r.detection.condition,
        Condition::Or(vec![Condition::Ident("a".into()), Condition::Ident("b".into())])
    );
    let r = rule(&with_detection("  a: [x]\n  condition: [a]\n"));
    assert_eq!(r.detection.condition, Condition::Ident("a".into()));
    // `nothing` is an identifier.
    let r = rule(&with_detection("  nothing: [x]\n  condition: not nothing\n"));
    assert_eq!(
        r.detection.condition,
        Condition::Not(Box::new(Condition::Ident("nothing".into())))
    );
    // `them` skips `_` names.
    let r = rule(&with_detection(
        "  a: [x]\n  _b: [y]\n  c: [z]\n  condition: all of them\n",
    ));
    assert_eq!(r.detection.condition, Condition::AllOf(vec!["a".into(), "c".into()]));
}

#[test]
fn condition_errors() {
    let (kind, line) = error(&with_detection("  sel: [x]\n  condition: 1 of filter_*\n"));
    assert_eq!(kind, RuleErrorKind::PatternMatchesNothing("filter_*".into()));
    assert_eq!(line, 7);
    let (kind, _) = error(&with_detection("  sel: [x]\n  condition: sel and other\n"));
    assert_eq!(kind, RuleErrorKind::UnknownIdentifier("other".into()));
    let (kind, line) = error(&with_detection("  sel: [x]\n  condition: sel | count() by host > 5\n"));
    assert_eq!(kind, RuleErrorKind::Aggregation("count() by host > 5".into()));
    assert_eq!(line, 7);
    let (kind, _) = error(&with_detection("  sel: [x]\n  condition: (sel\n"));
    assert!(
        matches!(&kind, RuleErrorKind::BadCondition(m) if m.contains("(sel")),
        "{kind:?}"
    );
    let (kind, line) = error(&with_detection("  sel: [x]\n  condition:\n    - sel\n    - sel or\n"));
    assert!(matches!(kind, RuleErrorKind::BadCondition(_)));
    assert_eq!(line, 9);
    let (kind, _) = error(&with_detection("  sel: [x]\n  condition:\n"));
    assert!(matches!(kind, RuleErrorKind::BadCondition(_)));
    let (kind, line) = error(&with_detection("  sel: [x]\n"));
    assert_eq!(kind, RuleErrorKind::MissingKey("condition".into()));
    assert_eq!(line, 5);
    let (kind, line) = error(&with_detection("  sel: [x]\n  timeframe: 5m\n  condition: sel\n"));
    assert!(matches!(&kind, RuleErrorKind::Unsupported(m) if m.contains("`timeframe` belongs to correlation rules")));
    assert_eq!(line, 7);
    // A broken identifier does not also make the condition fail.
    let errs = errors(&with_detection("  sel: foo\n  condition: sel\n"));
    assert_eq!(errs.len(), 1);
}

// ---------------------------------------------------------------- top level

#[test]
fn top_level_errors() {
    let det = "detection:\n  sel: [x]\n  condition: sel\n";
    // No logsource.
    let (kind, line) = error(&format!("title: t\n{det}"));
    assert_eq!(kind, RuleErrorKind::MissingKey("logsource".into()));
    assert_eq!(line, 1);
    // Logsource without product/category/service.
    let (kind, line) = error(&format!("title: t\nlogsource:\n  definition: x\n{det}"));
    assert!(matches!(&kind, RuleErrorKind::InvalidKey { key, .. } if key == "logsource"));
    assert_eq!(line, 3);
    let (kind, _) = error(&format!("title: t\nlogsource: windows\n{det}"));
    assert!(matches!(&kind, RuleErrorKind::InvalidKey { key, .. } if key == "logsource"));
    // No title, empty title, non-string title.
    let (kind, _) = error(&format!("logsource: {{product: p}}\n{det}"));
    assert_eq!(kind, RuleErrorKind::MissingKey("title".into()));
    let (kind, line) = error(&format!("id: x\ntitle:\nlogsource: {{product: p}}\n{det}"));
    assert!(matches!(&kind, RuleErrorKind::InvalidKey { key, .. } if key == "title"));
    assert_eq!(line, 2);
    let (kind, _) = error(&format!("title: [a]\nlogsource: {{product: p}}\n{det}"));
    assert!(matches!(&kind, RuleErrorKind::InvalidKey { key, .. } if key == "title"));
    // No detection.
    let (kind, _) = error("title: t\nlogsource: {product: p}\n");
    assert_eq!(kind, RuleErrorKind::MissingKey("detection".into()));
    let (kind, line) = error("title: t\nlogsource: {product: p}\ndetection: sel\n");
    assert!(matches!(&kind, RuleErrorKind::InvalidKey { key, .. } if key == "detection"));
    assert_eq!(line, 3);
    // Bad level.
    let (kind, line) = error(&format!("title: t\nlevel: severe\nlogsource: {{product: p}}\n{det}"));
    assert!(matches!(&kind, RuleErrorKind::InvalidKey { key, reason } if key == "level" && reason.contains("severe")));
    assert_eq!(line, 2);
    // Tags must be a list of strings.
    let (kind, _) = error(&format!("title: t\ntags: attack.t1\nlogsource: {{product: p}}\n{det}"));
    assert!(matches!(&kind, RuleErrorKind::InvalidKey { key, .. } if key == "tags"));
    let (kind, line) = error(&format!(
        "title: t\ntags:\n  - a\n  - {{b: c}}\nlogsource: {{product: p}}\n{det}"
    ));
    assert!(matches!(&kind, RuleErrorKind::InvalidKey { key, .. } if key == "tags"));
    assert_eq!(line, 4);
    // Not a map.
    let (kind, _) = error("- a\n- b\n");
    assert_eq!(kind, RuleErrorKind::InvalidDocument("a list".into()));
    let (kind, _) = error("just text\n");
    assert!(matches!(kind, RuleErrorKind::InvalidDocument(_)));
}

#[test]
fn several_errors_in_one_document_carry_the_rule_key() {
    let errs = errors("title: T\nid: the-id\nlevel: bad\ndetection:\n  sel: x\n  condition: sel\n");
    let kinds: Vec<_> = errs.iter().map(|e| (&e.kind, e.location.line)).collect();
    assert_eq!(errs.len(), 3, "{kinds:#?}");
    assert!(errs.iter().all(|e| e.rule.as_deref() == Some("the-id")));
    assert!(matches!(errs[0].kind, RuleErrorKind::InvalidKey { .. }));
    assert_eq!(errs[0].location.line, 3);
    assert_eq!(errs[1].kind, RuleErrorKind::MissingKey("logsource".into()));
    assert!(matches!(errs[2].kind, RuleErrorKind::InvalidSearchIdentifier { .. }));
    assert_eq!(errs[2].location.line, 5);
    assert_eq!(errs[2].location.column, 8);
    assert!(
        errs[2]
            .to_string()
            .starts_with("test.yml:5:8: rule the-id: search identifier `sel`"),
        "{}",
        errs[2]
    );
    // Without an id the title names the rule.
    let errs = errors("title: Only Title\ndetection: {sel: x, condition: sel}\n");
    assert!(errs.iter().all(|e| e.rule.as_deref() == Some("Only Title")));
}

#[test]
fn unsupported_documents() {
    // Correlation documents are not detection rules: `parse_str` leaves them out (`parse_file` has them).
    let corr =
        "title: c\nname: c\ncorrelation:\n  type: event_count\n  rules: r\n  timespan: 1m\n  condition: {gte: 2}\n";
    let (rs, errs) = parse_str(corr, file());
    assert!(rs.is_empty() && errs.is_empty(), "{rs:?} {errs:?}");
    assert_eq!(parse_file(corr, file()).correlations.len(), 1);
    let (kind, line) = error(&corr.replace("  timespan: 1m\n", ""));
    assert_eq!(kind, RuleErrorKind::MissingKey("correlation.timespan".into()));
    assert_eq!(line, 3);
    let (kind, line) = error("title: g\naction: global\nlogsource: {product: p}\n");
    assert!(
        matches!(&kind, RuleErrorKind::Unsupported(m) if m.contains("removed in Sigma 2")),
        "{kind:?}"
    );
    assert_eq!(line, 2);
    for action in ["repeat", "reset"] {
        let (kind, _) = error(&format!("action: {action}\n"));
        assert!(matches!(&kind, RuleErrorKind::Unsupported(m) if m.contains("v1 rule collections")));
    }
    let (kind, _) = error("title: f\nlogsource: {product: p}\nfilter:\n  rules: [x]\n");
    assert!(matches!(kind, RuleErrorKind::Unsupported(_)));
}

// ---------------------------------------------------------------- files

#[test]
fn multi_document_files() {
    let one = with_detection("  sel: [x]\n  condition: sel\n");
    let text = format!("{one}---\n{}\n---\n", one.replace("r1", "r2"));
    let rs = rules(&text);
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[1].id.as_deref(), Some("r2"));
    assert_eq!(rs[1].location.line, 8);

    // A bad document between good ones: the others still load.
    let bad = with_detection("  sel: foo\n  condition: sel\n").replace("r1", "bad");
    let text = format!("{one}---\n{bad}---\n{}", one.replace("r1", "r3"));
    let (rs, errs) = parse_str(&text, file());
    assert_eq!(rs.iter().map(|r| r.key()).collect::<Vec<_>>(), ["r1", "r3"]);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].rule.as_deref(), Some("bad"));
    assert_eq!(errs[0].location.line, 14);

    // A YAML syntax error in the middle document.
    let text = format!("{one}---\ntitle: [unclosed\nx: y\n---\n{}", one.replace("r1", "r3"));
    let (rs, errs) = parse_str(&text, file());
    assert_eq!(rs.iter().map(|r| r.key()).collect::<Vec<_>>(), ["r1", "r3"]);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(matches!(errs[0].kind, RuleErrorKind::Yaml(_)));
    assert!((9..=10).contains(&errs[0].location.line), "{:?}", errs[0]);
}

#[test]
fn yaml_error_location() {
    let (kind, line) = error("title: t\nlogsource:\n  product: p\n detection: x\n");
    assert!(matches!(kind, RuleErrorKind::Yaml(_)), "{kind:?}");
    assert_eq!(line, 4);
    let errs = errors("title: 'unterminated\n");
    assert!(matches!(errs[0].kind, RuleErrorKind::Yaml(_)));
}

#[test]
fn bom_and_crlf() {
    let text = format!(
        "\u{feff}{}",
        with_detection("  sel: [x]\n  condition: sel\n").replace('\n', "\r\n")
    );
    let r = rule(&text);
    assert_eq!(r.title, "Test");
    assert_eq!(r.detection.location.line, 5);
}

#[test]
fn anchors_in_rules() {
    let r = rule(&with_detection(
        "  a: &v\n    f: [x, y]\n  b: *v\n  condition: a and b\n",
    ));
    assert_eq!(r.detection.identifiers[1].groups[0].items[0].values.len(), 2);
}

//! Correlation rules through the loader: parsing from files, linking references
//! across documents and files, chains, and every link error with its file and line.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tocsin::rules::ast::{CmpOp, CorrelationRule, CorrelationType};
use tocsin::rules::load::{link, Target};
use tocsin::rules::parse::parse_file;
use tocsin::rules::{load_paths, LoadedRules, RuleError, RuleErrorKind};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

/// 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` not in text"))
        + 1
}

fn load(dir: &Path) -> LoadedRules {
    let loaded = load_paths(&[dir.to_path_buf()]);
    for e in &loaded.errors {
        eprintln!("{e}");
    }
    loaded
}

fn correlation<'a>(loaded: &'a LoadedRules, key: &str) -> &'a CorrelationRule {
    loaded
        .correlations
        .iter()
        .find(|c| c.key() == key)
        .unwrap_or_else(|| panic!("no correlation {key}"))
}

fn file_name(e: &RuleError) -> String {
    e.location.file.file_name().unwrap().to_string_lossy().into_owned()
}

/// A detection rule with the given id and name.
fn detection(id: &str, name: &str) -> String {
    format!(
        "title: Rule {id}\nid: {id}\nname: {name}\nlogsource:\n    product: windows\ndetection:\n    sel:\n        EventID: 4625\n    condition: sel\n"
    )
}

/// An event_count correlation with the given id over `rules`.
fn event_count(id: &str, rules: &[&str]) -> String {
    let mut text = format!("title: Correlation {id}\nid: {id}\ncorrelation:\n    type: event_count\n    rules:\n");
    for r in rules {
        text.push_str(&format!("        - {r}\n"));
    }
    text.push_str("    group-by: [User]\n    timespan: 5m\n    condition:\n        gte: 3\n");
    text
}

// ------------------------------------------------------------ spec examples

/// "Failed Logins Followed by Successful Login", the complete example of the
/// Sigma correlation rules specification (v2.0.x), copied verbatim: a
/// multi-document file with a chained correlation and references by name.
const SPEC_FULL_EXAMPLE: &str = r#"title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
status: experimental
description: Detects multiple failed logins by a single user followed by a successful login of that user
references:
    - https://reference.com
author: Florian Roth (Nextron Systems)
date: 2023-06-16
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
falsepositives:
    - Unlikely
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
description: Detects multiple failed logins within a certain amount of time
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - User
    timespan: 10m
    condition:
        gte: 10
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
description: Detects a successful login
name: successful_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 528
            - 4624
    condition: selection
"#;

/// The correlation snippets of the specification, copied verbatim. The
/// `temporal` and `temporal_ordered` snippets show only the `correlation` map;
/// the mandatory `title` is prepended to them (marked below).
const SPEC_SNIPPETS: &[&str] = &[
    // Event Count
    r#"title: Many failed logins
id: 0e95725d-7320-415d-80f7-004da920fc11
correlation:
    type: event_count
    rules:
        - 5638f7c0-ac70-491d-8465-2a65075e0d86
    group-by:
        - ComputerName
    timespan: 1h
    condition:
        gte: 100
"#,
    // Value Count
    r#"title: Failed login
id: 0e95725d-7320-415d-80f7-004da920fc12
correlation:
    type: value_count
    rules:
        - 5638f7c0-ac70-491d-8465-2a65075e0d86
    group-by:
        - ComputerName
        - WorkstationName
    timespan: 1d
    condition:
        field: User
        gte: 100
"#,
    // Temporal Proximity (title added)
    r#"title: Recon commands
correlation:
    type: temporal
    rules:
        - recon_cmd_a
        - recon_cmd_b
        - recon_cmd_c
    group-by:
        - ComputerName
        - User
    timespan: 5m
"#,
    // Ordered Temporal Proximity (title added)
    r#"title: Many failed logins followed by a successful login
correlation:
    type: temporal_ordered
    rules:
        - many_failed_logins
        - successful_login
    group-by:
        - User
    timespan: 1h
"#,
    // Field Name Aliases
    r#"title: —
id: —
correlation:
    type: temporal
    rules:
        - internal_error
        - new_network_connection
    group-by:
        - internal_ip
        - remote_ip
    timespan: 10s
    aliases:
        internal_ip:
            internal_error: destination.ip
            new_network_connection: source.ip
        remote_ip:
            internal_error: source.ip
            new_network_connection: destination.ip
"#,
    // From the specification repository's test data (tests/correlation/).
    r#"title: Many failed logins
id: 0e95725d-7320-415d-80f7-004da920fc11
taxonomy: ecs
correlation:
    type: event_count
    rules:
        - 5638f7c0-ac70-491d-8465-2a65075e0d86
    group-by:
        - dns.question.name
    timespan: 1h
    condition:
        gte: 100"#,
    r#"title: Suspicious average network traffic
correlation:
    type: value_avg
    rules: 
        - rule_a_id
    group-by:
        - SourceIP
        - User
    timespan: 24h
    condition:
        field: BytesOut
        gt: 500"#,
];

#[test]
fn spec_snippets_parse() {
    let mut kinds = Vec::new();
    for (i, text) in SPEC_SNIPPETS.iter().enumerate() {
        let p = parse_file(text, Arc::new(PathBuf::from(format!("snippet{i}.yml"))));
        assert!(p.errors.is_empty(), "snippet {i}: {:#?}", p.errors);
        assert_eq!(p.correlations.len(), 1, "snippet {i}");
        kinds.push(p.correlations[0].kind);
    }
    use CorrelationType::*;
    assert_eq!(
        kinds,
        [
            EventCount,
            ValueCount,
            Temporal,
            TemporalOrdered,
            Temporal,
            EventCount,
            ValueAvg
        ]
    );
    let p = parse_file(SPEC_SNIPPETS[2], Arc::new(PathBuf::from("t.yml")));
    let c = &p.correlations[0];
    assert_eq!(c.condition.bounds, [(CmpOp::Gte, 3.0)]);
    assert_eq!(c.timespan_ms, 300_000);
    let p = parse_file(SPEC_SNIPPETS[4], Arc::new(PathBuf::from("t.yml")));
    let c = &p.correlations[0];
    assert_eq!(c.id.as_deref(), Some("—"));
    assert_eq!(c.aliases.len(), 2);
    assert_eq!(c.aliases[1].name, "remote_ip");
    assert_eq!(
        c.aliases[1].fields[1],
        ("new_network_connection".into(), "destination.ip".into())
    );
}

#[test]
fn spec_full_example_multi_document_and_chain() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "mr_failed_then_success.yml", SPEC_FULL_EXAMPLE);
    let loaded = load(dir.path());
    assert!(loaded.errors.is_empty());
    assert_eq!(loaded.files, 1);
    assert_eq!(loaded.rules.len(), 2);
    assert_eq!(loaded.correlations.len(), 2);

    let outer = correlation(&loaded, "b180ead8-d58f-40b2-ae54-c8940995b9b6");
    assert_eq!(outer.kind, CorrelationType::TemporalOrdered);
    assert_eq!(outer.condition.bounds, [(CmpOp::Gte, 2.0)]);
    assert_eq!(outer.timespan_ms, 600_000);
    assert_eq!(outer.rules[0].location.line, 12);
    assert_eq!(outer.custom["date"], "2023-06-16");

    // The chain: outer → multiple_failed_login (a correlation) → failed_login (a detection rule).
    let inner = match loaded.resolve(&outer.rules[0].reference) {
        Some(Target::Correlation(i)) => &loaded.correlations[i],
        other => panic!("{other:?}"),
    };
    assert_eq!(inner.name.as_deref(), Some("multiple_failed_login"));
    assert_eq!(inner.condition.bounds, [(CmpOp::Gte, 10.0)]);
    match loaded.resolve(&inner.rules[0].reference) {
        Some(Target::Detection(i)) => assert_eq!(loaded.rules[i].title, "Single failed login"),
        other => panic!("{other:?}"),
    }
    match loaded.resolve("successful_login") {
        Some(Target::Detection(i)) => assert_eq!(loaded.rules[i].key(), "4d0a2c83-c62c-4ed4-b475-c7e23a9269b8"),
        other => panic!("{other:?}"),
    }
    // By id as well as by name.
    assert_eq!(
        loaded.resolve("a8418a5a-5fc4-46b5-b23b-6c73beb19d41"),
        loaded.resolve("multiple_failed_login")
    );
    assert_eq!(loaded.resolve("nope"), None);
}

// ------------------------------------------------------------ linking

#[test]
fn references_by_id_and_name_across_files_and_chains() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "base.yml",
        &format!(
            "{}---\n{}",
            detection("r-1", "failed_login"),
            detection("r-2", "lockout")
        ),
    );
    // By id and by name, in another file.
    write(d, "corr.yml", &event_count("c-1", &["r-1", "lockout"]));
    // A chain spread over files: c-3 → c-2 → c-1.
    fs::create_dir_all(d.join("chain")).unwrap();
    write(d, "chain/a.yml", &event_count("c-3", &["c-2"]));
    write(d, "chain/b.yml", &event_count("c-2", &["c-1", "failed_login"]));

    let loaded = load(d);
    assert!(loaded.errors.is_empty());
    assert_eq!(loaded.rules.len(), 2);
    let keys: Vec<_> = loaded.correlations.iter().map(|c| c.key()).collect();
    // Files in path order: base.yml, chain/a.yml, chain/b.yml, corr.yml.
    assert_eq!(keys, ["c-3", "c-2", "c-1"]);

    let c1 = correlation(&loaded, "c-1");
    let targets: Vec<_> = c1.rules.iter().map(|r| loaded.resolve(&r.reference)).collect();
    assert_eq!(targets, [Some(Target::Detection(0)), Some(Target::Detection(1))]);
    let c2 = correlation(&loaded, "c-2");
    assert_eq!(loaded.resolve(&c2.rules[0].reference), Some(Target::Correlation(2)));
    assert_eq!(loaded.resolve(&c2.rules[1].reference), Some(Target::Detection(0)));
    assert_eq!(loaded.resolve("c-2"), Some(Target::Correlation(1)));
}

#[test]
fn unknown_reference_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "base.yml", &detection("r-1", "failed_login"));
    let text = event_count("c-bad", &["r-1", "failed_logon"]);
    write(d, "bad.yml", &text);
    write(d, "good.yml", &event_count("c-good", &["failed_login"]));

    let loaded = load(d);
    let keys: Vec<_> = loaded.correlations.iter().map(|c| c.key()).collect();
    assert_eq!(keys, ["c-good"]);
    assert_eq!(loaded.errors.len(), 1);
    let e = &loaded.errors[0];
    assert_eq!(
        e.kind,
        RuleErrorKind::UnknownReference {
            reference: "failed_logon".into()
        }
    );
    assert_eq!(file_name(e), "bad.yml");
    let line = line_of(&text, "- failed_logon");
    assert_eq!((e.location.line, e.location.column), (line, 11));
    assert_eq!(e.rule.as_deref(), Some("c-bad"));
    assert!(
        e.to_string().ends_with(&format!(
            "bad.yml:{line}:11: rule c-bad: reference `failed_logon` matches no loaded rule (by `id` or `name`)"
        )),
        "{e}"
    );
}

#[test]
fn cycles_are_reported_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "base.yml", &detection("r-1", "failed_login"));
    // A → B → A, in two files; C depends on the cycle; D is fine.
    let a = event_count("corr-a", &["r-1", "corr-b"]);
    write(d, "a.yml", &a);
    write(d, "b.yml", &event_count("corr-b", &["corr-a"]));
    let c = event_count("corr-c", &["corr-b"]);
    write(d, "c.yml", &c);
    write(d, "d.yml", &event_count("corr-d", &["r-1"]));
    // A correlation that references itself.
    let s = event_count("corr-self", &["corr-self"]);
    write(d, "self.yml", &s);

    let loaded = load(d);
    let keys: Vec<_> = loaded.correlations.iter().map(|c| c.key()).collect();
    assert_eq!(keys, ["corr-d"]);
    assert_eq!(loaded.errors.len(), 3, "{:#?}", loaded.errors);

    let cycle = &loaded.errors[0];
    assert_eq!(
        cycle.kind,
        RuleErrorKind::CorrelationCycle {
            path: "corr-a -> corr-b -> corr-a".into()
        }
    );
    assert_eq!(file_name(cycle), "a.yml");
    assert_eq!(cycle.location.line, line_of(&a, "- corr-b"));
    assert_eq!(cycle.rule.as_deref(), Some("corr-a"));

    let own = &loaded.errors[1];
    assert_eq!(
        own.kind,
        RuleErrorKind::CorrelationCycle {
            path: "corr-self -> corr-self".into()
        }
    );
    assert_eq!(
        (file_name(own).as_str(), own.location.line),
        ("self.yml", line_of(&s, "- corr-self"))
    );

    let broken = &loaded.errors[2];
    assert_eq!(
        broken.kind,
        RuleErrorKind::BrokenReference {
            reference: "corr-b".into()
        }
    );
    assert_eq!(
        (file_name(broken).as_str(), broken.location.line),
        ("c.yml", line_of(&c, "- corr-b"))
    );
}

#[test]
fn aliases_resolve_to_the_correlation_rules() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "base.yml",
        &format!(
            "{}---\n{}",
            detection("r-err", "internal_error"),
            detection("r-conn", "new_network_connection")
        ),
    );
    let good = "title: Internal error then connection\nid: c-alias\ncorrelation:\n    type: temporal\n    rules:\n        - internal_error\n        - r-conn\n    group-by:\n        - internal_ip\n    timespan: 10s\n    aliases:\n        internal_ip:\n            r-err: destination.ip\n            new_network_connection: source.ip\n";
    write(d, "good.yml", good);
    // An alias key that is a real rule, but not one of the correlation's rules.
    let outside = good
        .replace("c-alias", "c-outside")
        .replace("        - r-conn\n", "")
        .replace("internal_error\n        - ", "internal_error\n");
    write(d, "outside.yml", &outside);
    // An alias key that matches no rule.
    let unknown = good
        .replace("c-alias", "c-unknown")
        .replace("r-err: destination", "r-typo: destination");
    write(d, "unknown.yml", &unknown);

    let loaded = load(d);
    let keys: Vec<_> = loaded.correlations.iter().map(|c| c.key()).collect();
    assert_eq!(keys, ["c-alias"]);
    let c = &loaded.correlations[0];
    let alias = &c.aliases[0];
    // Alias keys and `rules` may name the same rule differently (id vs name).
    for (reference, _) in &alias.fields {
        let t = loaded.resolve(reference).unwrap();
        assert!(c.rules.iter().any(|r| loaded.resolve(&r.reference) == Some(t)));
    }

    assert_eq!(loaded.errors.len(), 2, "{:#?}", loaded.errors);
    let e = loaded.errors.iter().find(|e| file_name(e) == "outside.yml").unwrap();
    assert!(
        matches!(&e.kind, RuleErrorKind::InvalidCorrelation(m) if m.contains("`new_network_connection`, which is not one of this correlation's `rules`")),
        "{e}"
    );
    assert_eq!(e.location.line, line_of(&outside, "internal_ip:"));
    let e = loaded.errors.iter().find(|e| file_name(e) == "unknown.yml").unwrap();
    assert_eq!(
        e.kind,
        RuleErrorKind::UnknownReference {
            reference: "r-typo".into()
        }
    );
    assert_eq!(e.location.line, line_of(&unknown, "internal_ip:"));
}

#[test]
fn duplicate_and_ambiguous_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // r-2's id is r-1's name: the reference `shared` is ambiguous.
    write(
        d,
        "base.yml",
        &format!("{}---\n{}", detection("r-1", "shared"), detection("shared", "second")),
    );
    let amb = event_count("c-amb", &["shared"]);
    write(d, "c1.yml", &amb);
    // A correlation reusing a detection rule's id, and one reusing a correlation's name.
    write(d, "c2.yml", &event_count("r-1", &["second"]));
    write(
        d,
        "c3.yml",
        &format!(
            "{}---\n{}",
            event_count("c-named", &["second"]).replace("id: c-named\n", "id: c-named\nname: dup\n"),
            event_count("c-named-2", &["second"]).replace("id: c-named-2\n", "id: c-named-2\nname: dup\n")
        ),
    );

    let loaded = load(d);
    let keys: Vec<_> = loaded.correlations.iter().map(|c| c.key()).collect();
    assert_eq!(keys, ["c-named"]);
    assert_eq!(loaded.errors.len(), 3, "{:#?}", loaded.errors);
    let by_file = |f: &str| loaded.errors.iter().find(|e| file_name(e) == f).unwrap();

    let e = by_file("c1.yml");
    match &e.kind {
        RuleErrorKind::AmbiguousReference { reference, matches } => {
            assert_eq!(reference, "shared");
            assert_eq!(matches.len(), 2);
            assert_eq!((matches[0].line, matches[1].line), (1, 10));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.location.line, line_of(&amb, "- shared"));

    let e = by_file("c2.yml");
    assert!(
        matches!(&e.kind, RuleErrorKind::DuplicateRuleId { id, first } if id == "r-1" && first.file.ends_with("base.yml")),
        "{e}"
    );
    let e = by_file("c3.yml");
    assert!(
        matches!(&e.kind, RuleErrorKind::DuplicateRuleName { name, first } if name == "dup" && first.line == 1),
        "{e}"
    );
    assert_eq!(e.location.line, 12);
    assert_eq!(e.rule.as_deref(), Some("c-named-2"));
}

#[test]
fn link_for_callers_that_build_their_own_rule_set() {
    // The embedded loader's path: parse_file per text, then link once.
    let file = Arc::new(PathBuf::from("embedded.yml"));
    let text = format!(
        "{}---\n{}---\n{}",
        detection("r-1", "failed_login"),
        event_count("c-1", &["failed_login"]),
        event_count("c-2", &["missing"])
    );
    let p = parse_file(&text, file);
    assert!(p.errors.is_empty());
    let mut loaded = LoadedRules {
        rules: p.rules,
        correlations: p.correlations,
        ..LoadedRules::default()
    };
    loaded.link();
    assert_eq!(loaded.correlations.len(), 1);
    assert_eq!(loaded.errors.len(), 1);
    assert!(matches!(loaded.errors[0].kind, RuleErrorKind::UnknownReference { .. }));

    // The free function: linking a linked set again is a no-op.
    let mut correlations = loaded.correlations.clone();
    assert!(link(&loaded.rules, &mut correlations).is_empty());
    assert_eq!(correlations.len(), 1);
}

//! `tocsin test` through the binary: the test cases written in rules
//! (`tocsin: {tests: …}`), the table, exit codes, JUnit XML, and the shipped
//! pack passing its own cases (what CI runs).

mod common;

use std::fs;
use std::path::Path;
use std::process::Output;

use quick_xml::events::Event;

const DETECTION: &str = r#"
title: Encoded PowerShell
id: 6f0c1c9e-0000-4000-8000-000000000001
level: high
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\powershell.exe'
        CommandLine|contains: ' -enc '
    condition: selection
tocsin:
    tests:
        - name: encoded powershell matches
          match: true
          event: { "Image": "C:\\Windows\\System32\\powershell.exe", "CommandLine": "powershell -enc AAAA" }
        - name: a script file does not
          match: false
          event: { "Image": "C:\\Windows\\System32\\powershell.exe", "CommandLine": "powershell -File x.ps1" }
"#;

const CORRELATION: &str = r#"
title: Failed logon
id: 6f0c1c9e-0000-4000-8000-000000000002
name: t_failed
level: informational
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4625
    condition: selection
---
title: Three failures for one user
id: 6f0c1c9e-0000-4000-8000-000000000003
level: medium
correlation:
    type: event_count
    rules:
        - t_failed
    group-by:
        - TargetUserName
    timespan: 5m
    condition:
        gte: 3
tocsin:
    tests:
        - name: three failures in a minute fire
          events:
              - { "@timestamp": "2026-01-01T10:00:00Z", "EventID": 4625, "TargetUserName": "bob" }
              - { "@timestamp": "2026-01-01T10:00:20Z", "EventID": 4625, "TargetUserName": "bob" }
              - { "@timestamp": "2026-01-01T10:00:40Z", "EventID": 4625, "TargetUserName": "bob" }
          alerts: 1
        - name: three users once each stay quiet
          events:
              - { "@timestamp": "2026-01-01T10:00:00Z", "EventID": 4625, "TargetUserName": "a" }
              - { "@timestamp": "2026-01-01T10:00:20Z", "EventID": 4625, "TargetUserName": "b" }
              - { "@timestamp": "2026-01-01T10:00:40Z", "EventID": 4625, "TargetUserName": "c" }
          alerts: 0
"#;

fn test_cmd(args: &[&str]) -> (Output, String) {
    let mut all = vec!["test"];
    all.extend_from_slice(args);
    let o = common::run(&all);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    (o, out)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// The table row of a rule (by id).
fn row<'a>(table: &'a str, id: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.contains(id))
        .unwrap_or_else(|| panic!("no row for {id}:\n{table}"))
}

#[test]
fn a_passing_pack_exits_zero_with_a_row_per_rule() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "det.yml", DETECTION);
    write(dir.path(), "corr.yml", CORRELATION);
    let (o, out) = test_cmd(&["--rules", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(row(&out, "-000000000001").starts_with("ok"), "{out}");
    assert!(row(&out, "-000000000001").contains("2/2"), "{out}");
    assert!(row(&out, "-000000000003").starts_with("ok"), "{out}");
    // The referenced detection rule has no cases of its own: listed, not failed.
    assert!(row(&out, "-000000000002").starts_with('-'), "{out}");
    assert!(
        out.contains("3 rule(s), 4 case(s): 4 passed, 0 failed; 1 rule(s) without test cases"),
        "{out}"
    );
    // --require-cases turns the rule without cases into a failure.
    let (o, out) = test_cmd(&["--require-cases", "--rules", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(row(&out, "-000000000002").starts_with("FAIL"), "{out}");
    assert!(row(&out, "-000000000002").contains("no test cases"), "{out}");
}

#[test]
fn a_failing_case_exits_one_and_names_the_difference() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = DETECTION.replace("match: false", "match: true");
    write(dir.path(), "det.yml", &wrong);
    let corr = CORRELATION.replace("alerts: 0", "alerts: 2");
    write(dir.path(), "corr.yml", &corr);
    let (o, out) = test_cmd(&["--rules", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let det = row(&out, "-000000000001");
    assert!(det.starts_with("FAIL") && det.contains("1/2"), "{det}");
    assert!(det.contains("Encoded PowerShell"), "{det}");
    assert!(
        det.contains("case `a script file does not`: expected a match, got none"),
        "{det}"
    );
    let corr = row(&out, "-000000000003");
    assert!(corr.starts_with("FAIL"), "{corr}");
    assert!(
        corr.contains("case `three users once each stay quiet`: expected 2 alerts, got 0"),
        "{corr}"
    );
    assert!(out.contains("4 case(s): 2 passed, 2 failed"), "{out}");
}

#[test]
fn a_malformed_case_is_a_load_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    // Line 16 of DETECTION (the leading newline counts) is the first case's `match`.
    let bad = DETECTION.replacen("match: true", "matches: true", 1);
    let path = write(dir.path(), "det.yml", &bad);
    let (o, out) = test_cmd(&["--rules", &path]);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains(&format!("{path}:16:11:")), "{out}");
    assert!(out.contains("`tocsin.tests[0].matches`: unknown key"), "{out}");
    assert!(out.contains("no case was run"), "{out}");

    // Both `event` and `events`, and no name: each reported at its line.
    let both = DETECTION.replace(
        "        - name: a script file does not\n",
        "        - events: [{ \"a\": 1 }]\n",
    );
    let path = write(dir.path(), "det.yml", &both);
    let (o, out) = test_cmd(&["--rules", &path]);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("missing required key `tocsin.tests[1].name`"), "{out}");
    assert!(out.contains("not both"), "{out}");

    // `tocsin validate` rejects the same file.
    let v = common::run(&["validate", "--rules", &path]);
    assert_eq!(v.status.code(), Some(2));

    // A source the config does not define.
    let sourced = DETECTION.replacen(
        "          match: true\n",
        "          match: true\n          source: nowhere\n",
        1,
    );
    let path = write(dir.path(), "det.yml", &sourced);
    let (o, out) = test_cmd(&["--rules", &path]);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("source `nowhere` needs a --config"), "{out}");
}

/// Attributes of an XML start tag, unescaped.
fn attrs(e: &quick_xml::events::BytesStart) -> std::collections::HashMap<String, String> {
    e.attributes()
        .map(|a| {
            let a = a.expect("well-formed attribute");
            (
                String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                a.unescape_value().expect("valid escapes").into_owned(),
            )
        })
        .collect()
}

#[test]
fn junit_xml_is_well_formed_and_counts_cases_and_failures() {
    let dir = tempfile::tempdir().unwrap();
    // A failing case whose name and message need escaping.
    let tricky = DETECTION
        .replace("match: false", "match: true")
        .replace("a script file does not", "'<a> & \"b\" don''t'");
    write(dir.path(), "det.yml", &tricky);
    write(dir.path(), "corr.yml", CORRELATION);
    let junit = dir.path().join("junit.xml");
    let (o, out) = test_cmd(&[
        "--rules",
        dir.path().to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let xml = fs::read_to_string(&junit).unwrap();

    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut suites, mut cases, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    let mut depth = 0i32;
    loop {
        let ev = reader
            .read_event()
            .unwrap_or_else(|e| panic!("not well-formed: {e}\n{xml}"));
        let tag = match &ev {
            Event::Start(e) => {
                depth += 1;
                e
            }
            Event::Empty(e) => e,
            Event::End(_) => {
                depth -= 1;
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        match tag.name().as_ref() {
            b"testsuite" => suites.push(attrs(tag)),
            b"testcase" => cases.push(attrs(tag)),
            b"failure" => failures.push(attrs(tag)),
            other => panic!("unexpected element {}", String::from_utf8_lossy(other)),
        }
    }
    assert_eq!(depth, 0, "balanced tags:\n{xml}");
    assert_eq!(suites.len(), 1, "one testsuite");
    assert_eq!(suites[0]["tests"], "4");
    assert_eq!(suites[0]["failures"], "1");
    assert_eq!(cases.len(), 4);
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["message"], "expected a match, got none");
    let failed = cases
        .iter()
        .find(|c| c["name"].contains("<a>"))
        .expect("the tricky case");
    assert_eq!(failed["name"], "Encoded PowerShell: <a> & \"b\" don't");
    assert_eq!(failed["classname"], "6f0c1c9e-0000-4000-8000-000000000001");
    assert!(failed["file"].ends_with("det.yml"));
}

/// `source:` evaluates through a config source: its `when`, field mapping
/// and time fields, so a case can hold the event as Winlogbeat writes it.
#[test]
fn cases_run_through_a_config_source() {
    let dir = tempfile::tempdir().unwrap();
    let rule = r#"
title: Audit log cleared
id: 6f0c1c9e-0000-4000-8000-000000000004
level: high
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 1102
    condition: selection
tocsin:
    tests:
        - name: winlogbeat shape
          source: windows-security
          match: true
          event: {"@timestamp": "2026-01-01T00:00:00Z", "winlog": {"channel": "Security", "event_id": 1102}}
        - name: another channel is not claimed
          source: windows-security
          match: true
          event: {"@timestamp": "2026-01-01T00:00:00Z", "winlog": {"channel": "System", "event_id": 1102}}
"#;
    let path = write(dir.path(), "r.yml", rule);
    let cfg = common::repo().join("samples/tocsin.toml");
    let (o, out) = test_cmd(&["--rules", &path, "--config", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let r = row(&out, "-000000000004");
    assert!(r.contains("1/2"), "{r}");
    assert!(
        r.contains("case `another channel is not claimed`: expected a match, got none; 1 event(s) not claimed by source `windows-security`"),
        "{r}"
    );
}
/// CI: every shipped rule has a case that fires and one that stays silent,
/// and they all pass.
#[test]
fn the_shipped_pack_passes_its_own_cases() {
    let rules = common::repo().join("rules");
    let junit = tempfile::NamedTempFile::new().unwrap();
    let (o, out) = test_cmd(&[
        "--require-cases",
        "--rules",
        rules.to_str().unwrap(),
        "--junit",
        junit.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains(" 0 failed; 0 rule(s) without test cases"), "{out}");
    // The embedded copy (no --rules) is the same pack.
    let (o, embedded) = test_cmd(&["--require-cases"]);
    assert_eq!(o.status.code(), Some(0), "{embedded}");
    let last = |s: &str| s.lines().last().unwrap_or_default().to_string();
    assert_eq!(last(&out), last(&embedded));
}

/// The shipped pack validates with no error, and every rule carries what an
/// analyst needs: a UUID, a title, a description, a level, an ATT&CK
/// technique and tactic, and false-positive notes.
#[test]
fn the_shipped_pack_validates_and_every_rule_is_documented() {
    let rules = common::repo().join("rules");
    let v = common::run(&["validate", "--rules", rules.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&v.stdout);
    assert_eq!(v.status.code(), Some(0), "{out}");
    assert!(out.contains("0 rejected (0 error(s))"), "{out}");

    let loaded = tocsin::rules::load_paths(&[rules]);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    const TACTICS: &[&str] = &[
        "reconnaissance",
        "resource-development",
        "initial-access",
        "execution",
        "persistence",
        "privilege-escalation",
        "defense-evasion",
        "credential-access",
        "discovery",
        "lateral-movement",
        "collection",
        "command-and-control",
        "exfiltration",
        "impact",
    ];
    let is_uuid = |s: &str| {
        let parts: Vec<&str> = s.split('-').collect();
        parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12]) && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
    };
    let is_technique = |t: &str| {
        t.strip_prefix("attack.t").is_some_and(|n| {
            let (base, sub) = n.split_once('.').unwrap_or((n, "000"));
            base.len() == 4 && base.chars().all(|c| c.is_ascii_digit()) && sub.chars().all(|c| c.is_ascii_digit())
        })
    };
    let mut problems = Vec::new();
    let mut check = |key: &str,
                     id: Option<&str>,
                     description: Option<&str>,
                     level: bool,
                     tags: &[String],
                     falsepositives: &[String]| {
        let mut missing = Vec::new();
        if !id.is_some_and(is_uuid) {
            missing.push("a UUID id");
        }
        if description.is_none_or(|d| d.trim().is_empty()) {
            missing.push("a description");
        }
        if !level {
            missing.push("a level");
        }
        if !tags.iter().any(|t| is_technique(t)) {
            missing.push("an ATT&CK technique tag");
        }
        if !tags
            .iter()
            .any(|t| t.strip_prefix("attack.").is_some_and(|x| TACTICS.contains(&x)))
        {
            missing.push("an ATT&CK tactic tag");
        }
        if falsepositives.is_empty() {
            missing.push("false-positive notes");
        }
        if !missing.is_empty() {
            problems.push(format!("{key}: lacks {}", missing.join(", ")));
        }
    };
    for r in &loaded.rules {
        check(
            r.key(),
            r.id.as_deref(),
            r.description.as_deref(),
            r.level.is_some(),
            &r.tags,
            &r.falsepositives,
        );
    }
    for c in &loaded.correlations {
        check(
            c.key(),
            c.id.as_deref(),
            c.description.as_deref(),
            c.level.is_some(),
            &c.tags,
            &c.falsepositives,
        );
    }
    assert!(problems.is_empty(), "{problems:#?}");
    let total = loaded.rules.len() + loaded.correlations.len();
    assert!(total >= 40, "the pack has {total} rules");
}

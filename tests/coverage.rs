//! Coverage report (issue 6): the requirement list `coverage/requirements.toml`
//! and `tocsin coverage`.
//!
//! - ids are unique; every reference names a document of
//!   `../shared/reference/`, a heading path that exists there (each heading
//!   found, in order, the child inside its parent) and a quote found
//!   verbatim inside that section;
//! - every field a requirement relies on is a field of the event schema,
//!   every source is a source schema (or `any` / `application`), and every
//!   field a source schema requires is backed by a requirement;
//! - the report lists a requirement covered when a rule tags it
//!   `tocsin.req.<id>`, uncovered otherwise, drops none (its count is the
//!   file's), and reports tags naming no requirement.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

fn requirements_text() -> String {
    std::fs::read_to_string(common::repo().join("coverage/requirements.toml")).unwrap()
}

/// The data file read as plain TOML, independently of the engine's parser.
fn requirements() -> Vec<toml::Value> {
    let t: toml::Table = requirements_text().parse().unwrap();
    t["requirement"].as_array().unwrap().clone()
}

fn s<'a>(v: &'a toml::Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("`{key}` missing in {v}"))
}

#[test]
fn ids_are_unique() {
    let reqs = requirements();
    let mut seen = BTreeSet::new();
    for r in &reqs {
        let id = s(r, "id");
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-".contains(c)),
            "`{id}`: ids are lowercase tag suffixes"
        );
        assert!(seen.insert(id.to_string()), "duplicate requirement id `{id}`");
    }
    assert_eq!(seen.len(), reqs.len());
    // The engine's own parser agrees on the count.
    let parsed = tocsin::coverage::parse_requirements(&requirements_text(), "requirements.toml").unwrap();
    assert_eq!(parsed.len(), reqs.len());
}

/// A line that is a heading: a Markdown `#` heading or setext heading, or
/// an unindented line equal to a heading some reference cites (the plain-text
/// documents have no markup).
fn heading_text(line: &str) -> Option<&str> {
    if line.starts_with('#') {
        Some(line.trim_start_matches('#').trim())
    } else if line.starts_with(char::is_whitespace) {
        None
    } else {
        Some(line.trim_end())
    }
}

#[test]
fn every_reference_cites_an_existing_section_and_quotes_it() {
    let reference = common::shared().join("reference");
    let reqs = requirements();
    // Per document: every heading cited anywhere, by depth (for sibling checks).
    let mut cited: BTreeMap<String, Vec<BTreeSet<String>>> = BTreeMap::new();
    for r in &reqs {
        for rf in r["refs"].as_array().unwrap() {
            let levels = cited.entry(s(rf, "doc").to_string()).or_default();
            for (depth, h) in s(rf, "section").split(" > ").enumerate() {
                if levels.len() <= depth {
                    levels.push(BTreeSet::new());
                }
                levels[depth].insert(h.to_string());
            }
        }
    }
    let all_cited = |doc: &str| -> BTreeSet<String> { cited[doc].iter().flatten().cloned().collect() };
    let mut problems = Vec::new();
    for r in &reqs {
        let id = s(r, "id");
        let refs = r["refs"].as_array().unwrap();
        assert!(!refs.is_empty(), "{id}: no reference");
        for rf in refs {
            let doc = s(rf, "doc");
            let path = reference.join(doc);
            let Ok(text) = std::fs::read_to_string(&path) else {
                problems.push(format!("{id}: no document {}", path.display()));
                continue;
            };
            let lines: Vec<&str> = text.lines().collect();
            // Section boundaries: Markdown headings (ATX and setext) and cited headings.
            let cited_here = all_cited(doc);
            let is_boundary = |i: usize| {
                let l = lines[i];
                l.starts_with('#')
                    || (i + 1 < lines.len()
                        && !l.trim().is_empty()
                        && lines[i + 1].len() >= 3
                        && (lines[i + 1].chars().all(|c| c == '-') || lines[i + 1].chars().all(|c| c == '=')))
                    || heading_text(l).is_some_and(|h| cited_here.contains(h))
            };
            let components: Vec<&str> = s(rf, "section").split(" > ").collect();
            let mut at = 0usize;
            let mut found = true;
            for (depth, comp) in components.iter().enumerate() {
                let from = if depth == 0 { 0 } else { at + 1 };
                let Some(i) = (from..lines.len()).find(|&i| heading_text(lines[i]) == Some(comp)) else {
                    problems.push(format!("{id}: heading `{comp}` not found in {doc} (after line {from})"));
                    found = false;
                    break;
                };
                if depth > 0 {
                    // The child lies inside its parent: no other heading of the
                    // parent's level in between.
                    let siblings = &cited[doc][depth - 1];
                    if let Some(k) = (at + 1..i).find(|&k| {
                        heading_text(lines[k]).is_some_and(|h| siblings.contains(h) && h != components[depth - 1])
                    }) {
                        problems.push(format!(
                            "{id}: `{comp}` is not under `{}` in {doc} (line {} starts another section)",
                            components[depth - 1],
                            k + 1
                        ));
                        found = false;
                        break;
                    }
                }
                at = i;
            }
            if !found {
                continue;
            }
            let end = (at + 1..lines.len()).find(|&i| is_boundary(i)).unwrap_or(lines.len());
            let body = lines[at..end].join("\n");
            let quote = s(rf, "quote");
            if !body.contains(quote) {
                problems.push(format!(
                    "{id}: quote `{quote}` not in {doc} section `{}` (lines {}-{end})",
                    s(rf, "section"),
                    at + 1
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Every field of the event schema, with its description.
fn event_schema_fields() -> BTreeMap<String, String> {
    fn walk(s: &Value, path: &str, out: &mut BTreeMap<String, String>) {
        for (k, v) in s["properties"].as_object().into_iter().flatten() {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            out.insert(p.clone(), v["description"].as_str().unwrap_or_default().to_string());
            walk(v, &p, out);
        }
    }
    let text = std::fs::read_to_string(common::repo().join("schemas/event.schema.json")).unwrap();
    let mut out = BTreeMap::new();
    walk(&serde_json::from_str(&text).unwrap(), "", &mut out);
    out
}

fn source_schemas() -> BTreeMap<String, Value> {
    std::fs::read_dir(common::repo().join("schemas/sources"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .trim_end_matches(".schema.json")
                .to_string();
            (
                name,
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn requirements_rely_on_schema_fields_and_schemas_on_requirements() {
    let fields = event_schema_fields();
    let schemas = source_schemas();
    let reqs = requirements();
    let mut kinds = BTreeSet::new();
    for r in &reqs {
        let id = s(r, "id");
        kinds.insert(s(r, "kind").to_string());
        let source = s(r, "source");
        assert!(
            schemas.contains_key(source) || source == "any" || source == "application",
            "{id}: source `{source}` is not a source schema, `any` or `application`"
        );
        for f in r["fields"].as_array().unwrap() {
            let f = f.as_str().unwrap();
            let Some(description) = fields.get(f) else {
                panic!("{id}: field `{f}` is not in schemas/event.schema.json");
            };
            // The schema documents why the field is there: the standard it serves.
            assert!(
                description.contains(".md"),
                "{id}: schemas/event.schema.json does not cite the standard for `{f}`: {description}"
            );
        }
        if s(r, "kind") == "event" || s(r, "kind") == "attribute" {
            assert!(
                !r["fields"].as_array().unwrap().is_empty() || id == "aud.before-after",
                "{id}: no fields"
            );
        }
    }
    assert_eq!(
        kinds,
        ["attribute", "collection", "event", "exclusion", "export"]
            .map(String::from)
            .into(),
    );
    // Every field a source schema requires (unconditionally or not) is one
    // a requirement of that source (or of all sources) relies on.
    for (name, schema) in &schemas {
        let mut required: BTreeSet<String> = schema["x-tocsin-required-fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        for w in schema["x-tocsin-required-when"].as_array().into_iter().flatten() {
            required.extend(
                w["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string()),
            );
        }
        let application = name == "application-activity" || name == "unauthenticated-activity";
        let backed: BTreeSet<String> = reqs
            .iter()
            .filter(|r| {
                let src = s(r, "source");
                src == name || src == "any" || (application && src == "application")
            })
            .flat_map(|r| {
                r["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
            })
            .collect();
        let unbacked: Vec<&String> = required.difference(&backed).collect();
        assert!(
            unbacked.is_empty(),
            "{name}: required fields no requirement relies on: {unbacked:?}"
        );
    }
}

const RULES: &str = r#"
title: DGA NXDOMAIN Answer
id: 9a0f7c2e-1d3b-4e5f-8a6b-7c8d9e0f1a01
name: coverage_nx
tags:
    - attack.t1568.002
    - tocsin.req.dns.nxdomain
    - TOCSIN.REQ.DNS.RESPONSE-CODE
logsource:
    category: dns
detection:
    selection:
        dns.response_code: NXDOMAIN
    condition: selection
level: low
---
title: Failed Logon
id: 9a0f7c2e-1d3b-4e5f-8a6b-7c8d9e0f1a02
name: coverage_failed
tags:
    - tocsin.req.dir.auth-failure
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4625
    condition: selection
level: low
---
title: Brute Force Then Success
id: 9a0f7c2e-1d3b-4e5f-8a6b-7c8d9e0f1a03
tags:
    - tocsin.req.dir.auth-success-after-failures
    - tocsin.req.dir.no-such-requirement
correlation:
    type: event_count
    rules:
        - coverage_failed
    group-by:
        - TargetUserName
    timespan: 5m
    condition:
        gte: 5
level: high
"#;

fn coverage(dir: &Path, rules: &str, json: bool) -> (Option<i32>, String, String) {
    let p = dir.join("rules.yml");
    std::fs::write(&p, rules).unwrap();
    let mut args = vec!["coverage", "--rules", p.to_str().unwrap()];
    if json {
        args.push("--json");
    }
    let o = common::run(&args);
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn tagged_requirements_are_covered_the_others_uncovered_none_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = coverage(dir.path(), RULES, true);
    // The unknown tag makes the exit code 2, and is reported.
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("tocsin.req.dir.no-such-requirement"), "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();

    let reqs = requirements();
    let entries = report["requirements"].as_array().unwrap();
    assert_eq!(entries.len(), reqs.len(), "every requirement is in the report");
    assert_eq!(report["totals"]["requirements"], reqs.len());
    let ids: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let file_ids: Vec<&str> = reqs.iter().map(|r| s(r, "id")).collect();
    assert_eq!(ids, file_ids, "in file order, none dropped");

    let want: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("dir.auth-failure", vec!["9a0f7c2e-1d3b-4e5f-8a6b-7c8d9e0f1a02"]),
        (
            "dir.auth-success-after-failures",
            vec!["9a0f7c2e-1d3b-4e5f-8a6b-7c8d9e0f1a03"],
        ),
        ("dns.nxdomain", vec!["9a0f7c2e-1d3b-4e5f-8a6b-7c8d9e0f1a01"]),
        ("dns.response-code", vec!["9a0f7c2e-1d3b-4e5f-8a6b-7c8d9e0f1a01"]),
    ]);
    let mut got: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in entries {
        let rules: Vec<&str> = e["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(e["covered"], !rules.is_empty());
        if !rules.is_empty() {
            got.insert(e["id"].as_str().unwrap(), rules);
        }
    }
    assert_eq!(got, want);
    let uncovered: Vec<&str> = report["uncovered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let want_uncovered: Vec<&str> = file_ids.iter().copied().filter(|id| !want.contains_key(id)).collect();
    assert_eq!(uncovered, want_uncovered);
    assert_eq!(report["totals"]["covered"], 4);
    assert_eq!(report["totals"]["uncovered"], reqs.len() - 4);
    let by_kind_total: u64 = report["by_kind"]
        .as_object()
        .unwrap()
        .values()
        .map(|t| t["requirements"].as_u64().unwrap())
        .sum();
    assert_eq!(by_kind_total as usize, reqs.len());
    // What the covering rules read, for the engineer checking field use.
    let nx = entries.iter().find(|e| e["id"] == "dns.nxdomain").unwrap();
    assert_eq!(nx["rules"][0]["fields"], serde_json::json!(["dns.response_code"]));
    assert_eq!(
        nx["fields"],
        serde_json::json!(["dns.response_code", "dns.question.name", "source.ip"])
    );
    let brute = entries
        .iter()
        .find(|e| e["id"] == "dir.auth-success-after-failures")
        .unwrap();
    assert_eq!(brute["rules"][0]["kind"], "correlation");
    assert_eq!(brute["rules"][0]["fields"], serde_json::json!(["TargetUserName"]));
    assert_eq!(
        report["unknown_tags"],
        serde_json::json!([{"rule": "9a0f7c2e-1d3b-4e5f-8a6b-7c8d9e0f1a03",
            "file": dir.path().join("rules.yml").display().to_string(),
            "tag": "tocsin.req.dir.no-such-requirement"}])
    );
}

#[test]
fn text_report_lists_every_requirement_and_the_uncovered_ones() {
    let dir = tempfile::tempdir().unwrap();
    let rules = RULES.replace("    - tocsin.req.dir.no-such-requirement\n", "");
    let (code, out, err) = coverage(dir.path(), &rules, false);
    assert_eq!(code, Some(0), "{err}");
    let reqs = requirements();
    for r in &reqs {
        let id = s(r, "id");
        let marked: Vec<&str> = out
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some(id))
            .collect();
        assert_eq!(marked.len(), 1, "`{id}` listed once:\n{out}");
        let covered = [
            "dir.auth-failure",
            "dir.auth-success-after-failures",
            "dns.nxdomain",
            "dns.response-code",
        ]
        .contains(&id);
        assert_eq!(marked[0].starts_with('✔'), covered, "{}", marked[0]);
    }
    assert!(out.contains("← Brute Force Then Success"), "{out}");
    assert!(
        out.contains(&format!("Uncovered requirements ({}):", reqs.len() - 4)),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{} requirement(s): 4 covered, {} uncovered",
            reqs.len(),
            reqs.len() - 4
        )),
        "{out}"
    );
}

#[test]
fn the_shipped_rule_pack_is_reported_against_every_requirement() {
    let o = common::run(&["coverage", "--json"]);
    let report: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&o.stderr));
    });
    assert_eq!(report["requirements"].as_array().unwrap().len(), requirements().len());
    assert_eq!(
        report["totals"]["covered"].as_u64().unwrap() + report["totals"]["uncovered"].as_u64().unwrap(),
        requirements().len() as u64
    );
}

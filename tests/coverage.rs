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
//!   `tocsin.req.<id>`, monitored when no rule does but a log-quality check
//!   serves it (`monitored_by`), uncovered otherwise; drops none (its count is
//!   the file's; the totals add up), and reports tags naming no requirement;
//! - the shipped pack covers at least the pinned number of requirements, every
//!   event requirement is covered or says why not (`not_detectable`), and a
//!   rule's attribute tag names a field the rule reads;
//! - every `monitored_by` claim holds: the attribute is in its source schema's
//!   `x-tocsin-required-fields` and `tocsin run` raises the log-quality alert
//!   when it is missing from a source that names the schema (`schema = …`,
//!   no `required_fields` of its own); each secret sample is flagged; a non-UTC time and a
//!   silence are reported.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

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

/// Ids of the requirements with a `monitored_by` claim, from the data file.
fn monitored_ids() -> BTreeSet<String> {
    requirements()
        .iter()
        .filter(|r| r.get("monitored_by").is_some())
        .map(|r| s(r, "id").to_string())
        .collect()
}

#[test]
fn tagged_requirements_are_covered_the_others_monitored_or_uncovered_none_dropped() {
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
    let monitored = monitored_ids();
    let mut got: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in entries {
        let id = e["id"].as_str().unwrap();
        let rules: Vec<&str> = e["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(e["covered"], !rules.is_empty());
        // Covered wins over monitored, monitored over uncovered.
        let state = if !rules.is_empty() {
            "covered"
        } else if monitored.contains(id) {
            "monitored"
        } else {
            "uncovered"
        };
        assert_eq!(e["state"], state, "{id}");
        if !rules.is_empty() {
            got.insert(id, rules);
        }
    }
    assert_eq!(got, want);
    // dns.response-code is both tagged and monitored: it counts as covered.
    assert!(monitored.contains("dns.response-code"));
    let uncovered: Vec<&str> = report["uncovered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let want_uncovered: Vec<&str> = file_ids
        .iter()
        .copied()
        .filter(|id| !want.contains_key(id) && !monitored.contains(*id))
        .collect();
    assert_eq!(uncovered, want_uncovered);
    let monitored_only = monitored.iter().filter(|id| !want.contains_key(id.as_str())).count();
    assert_eq!(report["totals"]["covered"], 4);
    assert_eq!(report["totals"]["monitored"], monitored_only);
    assert_eq!(report["totals"]["uncovered"], reqs.len() - 4 - monitored_only);
    assert_totals_add_up(&report);
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
    assert_eq!(report["contradictions"], serde_json::json!([]));
}

/// Totals: per kind and overall, covered + monitored + uncovered = requirements;
/// the kinds sum to the whole; the entries' states and the uncovered list agree.
fn assert_totals_add_up(report: &Value) {
    let n = |t: &Value, k: &str| t[k].as_u64().unwrap_or_else(|| panic!("`{k}` in {t}"));
    let totals = &report["totals"];
    let mut sum = BTreeMap::<&str, u64>::new();
    for t in report["by_kind"].as_object().unwrap().values().chain([totals]) {
        assert_eq!(
            n(t, "covered") + n(t, "monitored") + n(t, "uncovered"),
            n(t, "requirements"),
            "{t}"
        );
        assert!(n(t, "not_detectable") <= n(t, "uncovered"), "{t}");
    }
    for t in report["by_kind"].as_object().unwrap().values() {
        for k in ["requirements", "covered", "monitored", "uncovered", "not_detectable"] {
            *sum.entry(k).or_default() += n(t, k);
        }
    }
    for (k, v) in sum {
        assert_eq!(v, n(totals, k), "by_kind {k} sums to the total");
    }
    let entries = report["requirements"].as_array().unwrap();
    assert_eq!(entries.len() as u64, n(totals, "requirements"));
    for (state, key) in [
        ("covered", "covered"),
        ("monitored", "monitored"),
        ("uncovered", "uncovered"),
    ] {
        let count = entries.iter().filter(|e| e["state"] == state).count() as u64;
        assert_eq!(count, n(totals, key), "entries in state {state}");
    }
    let reasons = entries
        .iter()
        .filter(|e| e["state"] == "uncovered" && e["not_detectable"].is_string())
        .count() as u64;
    assert_eq!(reasons, n(totals, "not_detectable"));
    assert_eq!(
        report["uncovered"].as_array().unwrap().len() as u64,
        n(totals, "uncovered")
    );
}

#[test]
fn text_report_marks_the_three_states_and_totals() {
    let dir = tempfile::tempdir().unwrap();
    let rules = RULES.replace("    - tocsin.req.dir.no-such-requirement\n", "");
    let (code, out, err) = coverage(dir.path(), &rules, false);
    assert_eq!(code, Some(0), "{err}");
    let reqs = requirements();
    let monitored = monitored_ids();
    let covered = [
        "dir.auth-failure",
        "dir.auth-success-after-failures",
        "dns.nxdomain",
        "dns.response-code",
    ];
    for r in &reqs {
        let id = s(r, "id");
        let marked: Vec<&str> = out
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some(id))
            .collect();
        assert_eq!(marked.len(), 1, "`{id}` listed once:\n{out}");
        let marker = if covered.contains(&id) {
            '✔'
        } else if monitored.contains(id) {
            '◐'
        } else {
            '✘'
        };
        assert!(marked[0].starts_with(marker), "{}", marked[0]);
    }
    assert!(out.contains("← Brute Force Then Success"), "{out}");
    assert!(out.contains("    monitored by log-quality: secret scan"), "{out}");
    assert!(
        out.contains("    not detectable: a logout ends a session normally"),
        "{out}"
    );
    let m = monitored.iter().filter(|id| !covered.contains(&id.as_str())).count();
    let u = reqs.len() - 4 - m;
    let nd = reqs
        .iter()
        .filter(|r| r.get("not_detectable").is_some() && !covered.contains(&s(r, "id")))
        .count();
    assert!(
        out.contains(&format!("Monitored by log quality, no rule ({m}):")),
        "{out}"
    );
    assert!(out.contains(&format!("Uncovered requirements ({u}):")), "{out}");
    assert!(
        out.contains(&format!(
            "{} requirement(s): 4 covered by rules, {m} monitored by log quality, {u} uncovered ({nd} not detectable)",
            reqs.len()
        )),
        "{out}"
    );
}

#[test]
fn a_rule_tagging_a_requirement_marked_not_detectable_is_a_contradiction() {
    let dir = tempfile::tempdir().unwrap();
    let rules = RULES.replace("tocsin.req.dir.no-such-requirement", "tocsin.req.slc.logout");
    let (code, out, err) = coverage(dir.path(), &rules, true);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("tocsin.req.slc.logout"), "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["contradictions"][0]["requirement"], "slc.logout");
}

/// The shipped pack's coverage report (`tocsin coverage --json`, embedded pack).
fn shipped() -> (Output, Value) {
    let o = common::run(&["coverage", "--json"]);
    let report: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&o.stderr));
    });
    (o, report)
}

/// Requirements the shipped pack covers by rules, and (requirement, rule)
/// pairs. Pinned: a tag lost from a rule fails here; raise them when you add.
const SHIPPED_COVERED: u64 = 100;
const SHIPPED_TAG_PAIRS: usize = 357;

#[test]
fn the_shipped_rule_pack_covers_the_pinned_requirements_and_every_event_is_accounted_for() {
    let (o, report) = shipped();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(report["requirements"].as_array().unwrap().len(), requirements().len());
    assert_eq!(report["unknown_tags"], serde_json::json!([]));
    assert_eq!(report["contradictions"], serde_json::json!([]));
    assert_eq!(report["rule_errors"], 0);
    assert_totals_add_up(&report);
    let covered = report["totals"]["covered"].as_u64().unwrap();
    assert!(
        covered >= SHIPPED_COVERED,
        "the shipped pack covers {covered} requirements, fewer than the pinned {SHIPPED_COVERED}: a tag was lost"
    );
    let entries = report["requirements"].as_array().unwrap();
    let pairs: usize = entries.iter().map(|e| e["rules"].as_array().unwrap().len()).sum();
    assert!(
        pairs >= SHIPPED_TAG_PAIRS,
        "{pairs} (requirement, rule) pairs, fewer than the pinned {SHIPPED_TAG_PAIRS}: a tag was lost"
    );
    // Every event requirement: a rule covers it, or the list says why none can.
    let unaccounted: Vec<&str> = entries
        .iter()
        .filter(|e| e["kind"] == "event" && e["state"] != "covered" && !e["not_detectable"].is_string())
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert!(
        unaccounted.is_empty(),
        "event requirements neither covered nor explained: {unaccounted:?}"
    );
    for kind in ["event", "export", "exclusion", "collection"] {
        let t = &report["by_kind"][kind];
        assert_eq!(
            t["uncovered"], t["not_detectable"],
            "every uncovered {kind} requirement carries a reason: {t}"
        );
    }
}

/// Rule field names that are not ECS and that no profile maps, with the ECS
/// field(s) they hold: Windows Security EventData (where the ECS field depends
/// on the event ID: `TargetUserName` is the logon account of 4624/4625, the
/// new account of 4720, the group of 4732), and the SigmaHQ taxonomy of the
/// Linux file_event category.
const NATIVE_NAMES: &[(&str, &[&str])] = &[
    ("SubjectUserName", &["user.name"]),
    ("TargetUserName", &["user.name", "user.target.name", "group.name"]),
    ("TargetFilename", &["file.path"]),
];

/// Whether rule field `read` holds ECS field `ecs`: the same name, a native
/// name above, or names that a profile maps to the same event path.
fn holds(read: &str, ecs: &str, profiles: &BTreeMap<String, BTreeSet<String>>) -> bool {
    if read == ecs || NATIVE_NAMES.iter().any(|(n, e)| *n == read && e.contains(&ecs)) {
        return true;
    }
    // Paths a name reaches: its own, and what any profile maps it to.
    let paths = |name: &str| -> BTreeSet<String> {
        let mut p = profiles.get(name).cloned().unwrap_or_default();
        p.insert(name.to_string());
        p
    };
    !paths(read).is_disjoint(&paths(ecs))
}

/// Every profile's field_map: rule field → event paths (over all profiles).
fn profile_maps() -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in std::fs::read_dir(common::repo().join("profiles")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let t: toml::Table = std::fs::read_to_string(&p).unwrap().parse().unwrap();
        for (k, v) in t.get("field_map").and_then(|m| m.as_table()).into_iter().flatten() {
            let paths: Vec<String> = match v {
                toml::Value::String(s) => vec![s.clone()],
                toml::Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
                other => panic!("{}: {k} = {other}", p.display()),
            };
            out.entry(k.clone()).or_default().extend(paths);
        }
    }
    out
}

#[test]
fn an_attribute_tag_names_a_field_the_rule_reads() {
    let (_, report) = shipped();
    let profiles = profile_maps();
    let mut problems = Vec::new();
    for e in report["requirements"].as_array().unwrap() {
        if e["kind"] != "attribute" {
            continue;
        }
        let wanted: Vec<&str> = e["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        for rule in e["rules"].as_array().unwrap() {
            let reads: Vec<&str> = rule["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap())
                .collect();
            if !reads.iter().any(|r| wanted.iter().any(|w| holds(r, w, &profiles))) {
                problems.push(format!(
                    "{} ({}) tags `{}` ({wanted:?}) but reads only {reads:?}",
                    rule["title"], rule["file"], e["id"]
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ── log-quality claims, replayed through the monitor ────────────────────────

/// The source schemas a requirement's `source` names.
fn schemas_of(source: &str) -> Vec<String> {
    match source {
        "application" => vec!["application-activity".into(), "unauthenticated-activity".into()],
        s => vec![s.to_string()],
    }
}

/// Removes a dotted path from a JSON object (nested objects).
fn remove_path(v: &mut Value, path: &str) -> bool {
    let Some(obj) = v.as_object_mut() else { return false };
    if obj.remove(path).is_some() {
        return true;
    }
    match path.split_once('.') {
        Some((head, rest)) => obj.get_mut(head).is_some_and(|inner| remove_path(inner, rest)),
        None => false,
    }
}

fn first_example(schema: &str) -> Value {
    let p = common::repo().join("schemas/examples").join(format!("{schema}.json"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let first = match &v {
        Value::Array(a) => a[0].clone(),
        other => other.get("examples").map_or(other.clone(), |e| e[0].clone()),
    };
    assert!(first.is_object(), "{}: no example event", p.display());
    first
}

#[test]
fn every_log_quality_claim_is_checked_by_the_monitor() {
    let schemas = source_schemas();
    let mut config = String::from(
        "[input]\ntime_fields = [\"@timestamp\"]\n\n[quality]\nperiod = \"1h\"\nmax_missing_share = 0.0\nmax_non_utc_share = 0.0\nsecret_scan_every = 1\n",
    );
    let mut source = |name: &str, extra: &str| {
        config.push_str(&format!(
            "\n[[sources]]\nname = \"{name}\"\ncategory = \"coverage-check\"\nwhen = {{ \"coverage_case\" = \"{name}\" }}\n{extra}\n"
        ));
    };
    let mut events: Vec<Value> = Vec::new();
    let mut minute = 0u32;
    // Each event one minute after the previous (plus `gap`); a `+02:00` time
    // is written as the same instant in that zone.
    let mut event = |mut e: Value, case: &str, zone: &str, gap: u32| {
        minute += 1 + gap;
        let hour = 10 + minute / 60 + if zone == "Z" { 0 } else { 2 };
        e["@timestamp"] = format!("2026-03-02T{hour:02}:{:02}:00{zone}", minute % 60).into();
        e["coverage_case"] = case.into();
        events.push(e);
    };
    // Expected alerts: (source, measure, field).
    let mut want: BTreeSet<(String, String, Option<String>)> = BTreeSet::new();
    // required-field claims, per source schema.
    let mut required: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in requirements() {
        let Some(m) = r.get("monitored_by") else { continue };
        let id = s(&r, "id");
        match s(m, "check") {
            "required-field" => {
                let fields: Vec<String> = m["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap().to_string())
                    .collect();
                for schema in schemas_of(s(&r, "source")) {
                    let listed: BTreeSet<&str> = schemas.get(&schema).unwrap_or_else(|| {
                        panic!("{id}: a required-field claim needs a source schema, not `{schema}`")
                    })["x-tocsin-required-fields"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap())
                        .collect();
                    for f in &fields {
                        assert!(
                            listed.contains(f.as_str()),
                            "{id}: `{f}` is not in x-tocsin-required-fields of {schema}"
                        );
                        required.entry(schema.clone()).or_default().insert(f.clone());
                    }
                }
            }
            "utc-timestamp" => {
                let case = format!("utc-{id}");
                source(&case, "required_fields = [\"@timestamp\"]");
                event(first_example("vpn"), &case, "+02:00", 0);
                want.insert((case, "non_utc_time".into(), None));
            }
            "source-silence" => {
                let case = format!("silence-{id}");
                source(&case, "max_silence = \"15m\"");
                event(first_example("vpn"), &case, "Z", 0);
                event(first_example("vpn"), &case, "Z", 40);
                want.insert((case, "source_silent".into(), None));
            }
            "secret-scan" => {
                for (i, sample) in m["samples"].as_array().unwrap().iter().enumerate() {
                    let case = format!("secret-{id}-{i}");
                    source(&case, "required_fields = [\"@timestamp\"]");
                    event(serde_json::from_str(sample.as_str().unwrap()).unwrap(), &case, "Z", 0);
                    want.insert((case, "secret_in_event".into(), None));
                }
            }
            other => panic!("{id}: this test does not know the check `{other}`: add how to verify it"),
        }
    }
    // Through the source's `schema` alone: the claim holds for any source
    // naming its seed schema, with no hand-written `required_fields`.
    for (schema, fields) in &required {
        let case = format!("required-{schema}");
        source(&case, &format!("schema = \"{schema}\""));
        for f in fields {
            let mut e = first_example(schema);
            assert!(remove_path(&mut e, f), "{schema}: its first example lacks `{f}`");
            event(e, &case, "Z", 0);
            want.insert((case.clone(), "missing_field".into(), Some(f.clone())));
        }
        // And a complete event: the check is not vacuous (this one is not counted).
        event(first_example(schema), &case, "Z", 0);
    }
    // A clean source raises nothing.
    source("clean", "required_fields = [\"@timestamp\"]");
    event(first_example("vpn"), "clean", "Z", 0);

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tocsin.toml");
    std::fs::write(&cfg, &config).unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "title: nothing\nid: coverage-nothing\nlogsource:\n    category: coverage-none\ndetection:\n    sel:\n        x: y\n    condition: sel\nlevel: low\n",
    )
    .unwrap();
    let input = common::write_lines(dir.path(), "in.ndjson", events.iter().map(|e| e.to_string()));
    let r = common::try_replay(dir.path(), "claims", &cfg, &rules, &input)
        .unwrap_or_else(|e| panic!("tocsin run failed: {e}\n{config}"));
    let got: BTreeSet<(String, String, Option<String>)> = r
        .alerts
        .iter()
        .filter(|a| a["kind"] == "log_quality" || a["kind"] == "source_silent")
        .map(|a| {
            let g = &a["group"];
            let measure = if a["kind"] == "source_silent" {
                "source_silent".to_string()
            } else {
                g["measure"].as_str().unwrap().to_string()
            };
            (
                g["source"].as_str().unwrap().to_string(),
                measure,
                g["field"].as_str().map(String::from),
            )
        })
        .collect();
    let missing: Vec<_> = want.difference(&got).collect();
    assert!(missing.is_empty(), "claims the monitor did not confirm: {missing:?}");
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(extra.is_empty(), "findings no claim explains: {extra:?}");
}

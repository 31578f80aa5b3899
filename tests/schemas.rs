//! Event schemas (issue 6, "Schemas"): `schemas/event.schema.json` and one
//! schema per seed source in `schemas/sources/`.
//!
//! - every schema is valid JSON Schema (draft 2020-12 meta-schema) and compiles,
//!   source schemas resolving `../event.schema.json`;
//! - every example in `schemas/examples/<source>.json` validates against its
//!   source schema; every one in `examples/invalid/` fails, and only because
//!   the field it names is missing;
//! - `x-tocsin-required-fields` equals the schema's effective unconditional
//!   `required` set (own and inherited through `allOf`/`$ref`), and
//!   `x-tocsin-required-when` its conditional ones (`if`/`then`), so the
//!   machine-readable lists cannot drift from the schemas;
//! - the shipped `samples/events.ndjson` and `samples/bastion.ndjson`,
//!   classified by `samples/tocsin.toml` (raw syslog lines parsed by their
//!   source's extraction first, as the pipeline does),
//!   checked per configured source against its source schema as the schemas
//!   see it: the ECS view through the source's profile
//!   (`tocsin::classify::ecs::ecs_view`). ECS-shaped fields are taken as
//!   they are; native ones (Zeek, Winlogbeat EventData) through the profile's
//!   ECS `field_map` entries. What the standards require and the samples do
//!   not carry is pinned below, field by field, with the reason.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, Resource, Validator};
use serde_json::{json, Value};

use tocsin::classify::ecs::ecs_view;
use tocsin::classify::Source;
use tocsin::config::{profile, Config};
use tocsin::decode::extract::Extraction;
use tocsin::decode::time::TimeConfig;
use tocsin::decode::JsonDecoder;

const EVENT_ID: &str = "https://tocsin.dev/schemas/event.schema.json";

fn schemas() -> PathBuf {
    common::repo().join("schemas")
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", p.display()))
}

fn event_schema() -> Value {
    read_json(&schemas().join("event.schema.json"))
}

/// The source schemas by name (file stem without `.schema`), sorted.
fn source_schemas() -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(schemas().join("sources")).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap();
        let stem = name
            .strip_suffix(".schema.json")
            .unwrap_or_else(|| panic!("{name}: source schemas are named <source>.schema.json"));
        out.insert(stem.to_string(), read_json(&p));
    }
    out
}

fn compile(schema: &Value) -> Validator {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .with_resource(
            EVENT_ID,
            Resource::from_contents(event_schema()).expect("event schema resource"),
        )
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("schema does not compile: {e}"))
}

/// Validation errors as (dotted instance path, message); `Required` errors
/// name the missing field by its full dotted path.
fn errors(v: &Validator, instance: &Value) -> Vec<(String, String, bool)> {
    v.iter_errors(instance)
        .map(|e| {
            let parent: Vec<&str> = e.instance_path.as_str().split('/').filter(|s| !s.is_empty()).collect();
            match &e.kind {
                ValidationErrorKind::Required { property } => {
                    let mut path = parent.join(".");
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(property.as_str().unwrap_or_default());
                    (path, e.to_string(), true)
                }
                _ => (parent.join("."), e.to_string(), false),
            }
        })
        .collect()
}

/// The required fields `instance` lacks, by full dotted path. A missing
/// object (`user`) stands for the required fields under it (`user.name`)
/// among `leaves`, the schema's required fields.
fn missing_fields(v: &Validator, instance: &Value, leaves: &BTreeSet<String>) -> BTreeSet<String> {
    let errs = errors(v, instance);
    let other: Vec<_> = errs.iter().filter(|e| !e.2).collect();
    assert!(
        other.is_empty(),
        "errors other than missing fields: {other:?}\n{instance}"
    );
    errs.into_iter()
        .flat_map(|(path, _, _)| {
            let under: Vec<String> = leaves
                .iter()
                .filter(|l| l.starts_with(&format!("{path}.")))
                .cloned()
                .collect();
            if under.is_empty() {
                vec![path]
            } else {
                under
            }
        })
        .collect()
}

/// The fields a source schema requires of `instance`: the unconditional
/// ones and those of each `if` that holds for it.
fn required_of(s: &Value, instance: &Value) -> BTreeSet<String> {
    let (mut plain, when) = effective_required(s);
    for (cond, fields) in when {
        if compile(&cond).is_valid(instance) {
            plain.extend(fields);
        }
    }
    plain
}

/// Dotted paths a schema fragment requires unconditionally: its `required`,
/// nested through `properties`.
fn required_paths(s: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    for r in s["required"].as_array().into_iter().flatten() {
        let key = r.as_str().unwrap();
        let path = if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        };
        match s["properties"].get(key) {
            Some(sub) if sub.get("required").is_some() => required_paths(sub, &path, out),
            _ => {
                out.insert(path);
            }
        }
    }
}

/// A source schema's effective unconditional required fields (own, plus
/// `allOf` members without `if`, following `$ref` to the event schema) and
/// its conditional ones: (the `if` schema, the `then` fields).
fn effective_required(s: &Value) -> (BTreeSet<String>, Vec<(Value, BTreeSet<String>)>) {
    let mut plain = BTreeSet::new();
    let mut when = Vec::new();
    required_paths(s, "", &mut plain);
    for member in s["allOf"].as_array().into_iter().flatten() {
        if let Some(r) = member.get("$ref") {
            assert_eq!(r, "../event.schema.json", "only the event schema is referenced");
            let (inherited, inherited_when) = effective_required(&event_schema());
            plain.extend(inherited);
            when.extend(inherited_when);
        } else if let Some(cond) = member.get("if") {
            let mut then = BTreeSet::new();
            required_paths(&member["then"], "", &mut then);
            when.push((cond.clone(), then));
        } else {
            required_paths(member, "", &mut plain);
        }
    }
    (plain, when)
}

/// The nested JSON setting dotted `path` to `value`.
fn nested(path: &str, value: Value) -> Value {
    path.rsplit('.').fold(value, |inner, key| json!({ key: inner }))
}

#[test]
fn every_schema_is_valid_json_schema_and_compiles() {
    let mut all: Vec<(String, Value)> = vec![
        ("event".into(), event_schema()),
        ("alert".into(), read_json(&schemas().join("alert.schema.json"))),
    ];
    all.extend(source_schemas());
    assert_eq!(all.len(), 2 + 15, "the event and alert schemas and 15 source schemas");
    for (name, s) in &all {
        assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema", "{name}");
        if let Err(e) = jsonschema::draft202012::meta::validate(s) {
            panic!("{name}: not a valid draft 2020-12 schema: {e}");
        }
        compile(s);
        assert!(
            s["description"].as_str().is_some_and(|d| d.len() > 40),
            "{name}: describe the schema and cite the standard"
        );
    }
}

#[test]
fn every_event_schema_field_is_documented() {
    fn walk(s: &Value, path: &str, undocumented: &mut Vec<String>) {
        for (k, v) in s["properties"].as_object().into_iter().flatten() {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if v["description"].as_str().is_none_or(str::is_empty) {
                undocumented.push(p.clone());
            }
            walk(v, &p, undocumented);
        }
    }
    let mut undocumented = Vec::new();
    walk(&event_schema(), "", &mut undocumented);
    assert!(
        undocumented.is_empty(),
        "fields without a description: {undocumented:?}"
    );
}

#[test]
fn source_schemas_extend_the_event_schema_and_name_their_sources() {
    for (name, s) in source_schemas() {
        assert_eq!(
            s["$id"],
            format!("https://tocsin.dev/schemas/sources/{name}.schema.json"),
            "{name}"
        );
        assert_eq!(s["allOf"][0]["$ref"], "../event.schema.json", "{name}: allOf + $ref");
        let description = s["description"].as_str().unwrap();
        assert!(
            description.contains("-logging.md") || description.contains("-logging-standard.md"),
            "{name}: the description cites the reference section"
        );
        for p in s["x-tocsin-profiles"].as_array().into_iter().flatten() {
            let p = p.as_str().unwrap();
            profile::get(p).unwrap_or_else(|e| panic!("{name}: x-tocsin-profiles: {e}"));
        }
    }
}

#[test]
fn machine_readable_required_fields_match_the_schemas() {
    for (name, s) in source_schemas() {
        let (plain, when) = effective_required(&s);
        let listed: BTreeSet<String> = s["x-tocsin-required-fields"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: x-tocsin-required-fields"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(listed, plain, "{name}: x-tocsin-required-fields != effective required");
        assert_eq!(
            listed.len(),
            s["x-tocsin-required-fields"].as_array().unwrap().len(),
            "{name}: duplicates in x-tocsin-required-fields"
        );
        assert!(plain.contains("@timestamp"), "{name}");

        let listed_when = s["x-tocsin-required-when"].as_array().cloned().unwrap_or_default();
        assert_eq!(listed_when.len(), when.len(), "{name}: x-tocsin-required-when entries");
        let ifs: Vec<Validator> = when.iter().map(|(cond, _)| compile(cond)).collect();
        for entry in &listed_when {
            let field = entry["field"].as_str().unwrap();
            let fields: BTreeSet<String> = entry["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            // Instances the entry's condition holds for, and one it does not.
            let holds: Vec<Value> = if let Some(v) = entry.get("contains") {
                vec![nested(field, json!([v]))]
            } else if let Some(v) = entry.get("equals") {
                vec![nested(field, v.clone())]
            } else {
                entry["in"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| nested(field, v.clone()))
                    .collect()
            };
            let fails = nested(field, json!("__none__"));
            let i = ifs
                .iter()
                .position(|v| holds.iter().all(|h| v.is_valid(h)) && !v.is_valid(&fails))
                .unwrap_or_else(|| panic!("{name}: no `if` in allOf matches {entry}"));
            assert_eq!(when[i].1, fields, "{name}: {entry}");
        }
    }
}

#[test]
fn examples_validate_and_invalid_examples_fail_on_their_missing_field() {
    let sources = source_schemas();
    let examples = schemas().join("examples");
    let files = |dir: &Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| {
                let p = e.unwrap().path();
                (p.extension()? == "json").then(|| p.file_stem().unwrap().to_str().unwrap().to_string())
            })
            .collect()
    };
    let names: BTreeSet<String> = sources.keys().cloned().collect();
    assert_eq!(files(&examples), names, "one example file per source schema");
    assert_eq!(
        files(&examples.join("invalid")),
        names,
        "one invalid-example file per source schema"
    );
    for (name, s) in &sources {
        let v = compile(s);
        let valid = read_json(&examples.join(format!("{name}.json")));
        let valid = valid.as_array().unwrap();
        assert!(valid.len() >= 2, "{name}: at least 2 valid examples");
        for (i, e) in valid.iter().enumerate() {
            let errs = errors(&v, e);
            assert!(errs.is_empty(), "{name} example {i} is invalid: {errs:?}");
        }
        let invalid = read_json(&examples.join("invalid").join(format!("{name}.json")));
        let invalid = invalid.as_array().unwrap();
        assert!(!invalid.is_empty(), "{name}: at least 1 invalid example");
        for (i, case) in invalid.iter().enumerate() {
            let missing = case["missing"].as_str().unwrap();
            assert_eq!(
                missing_fields(&v, &case["event"], &required_of(s, &case["event"])),
                BTreeSet::from([missing.to_string()]),
                "{name} invalid example {i}"
            );
        }
    }
}

/// How each source of `samples/tocsin.toml` is checked: the profile whose
/// ECS view the schema sees, the source schema, and the fields the
/// standards require that the shipped samples lack (with why).
struct SampleCheck {
    source: &'static str,
    profile: Option<&'static str>,
    /// `None`: no source schema covers the source (its events are only classified).
    schema: Option<&'static str>,
    /// (fields missing, number of events missing exactly them).
    expected: &'static [(&'static [&'static str], usize)],
}

const SAMPLE_CHECKS: &[SampleCheck] = &[
    // Sysmon via Winlogbeat: the ECS fields endpoint protection needs
    // (host.name, event.provider, event.code) are there as shipped.
    SampleCheck {
        source: "windows-sysmon-process",
        profile: Some("winlogbeat-sysmon"),
        schema: Some("endpoint-protection"),
        expected: &[(&[], 6)],
    },
    // Winlogbeat with its security module: who, what and outcome in ECS
    // (user.name, event.action, event.outcome) beside winlog.event_data,
    // where SigmaHQ rules read them. (Without the module's processors they
    // stay in EventData only, which no static field mapping can project:
    // user.name is TargetUserName or SubjectUserName by event ID.)
    SampleCheck {
        source: "windows-security",
        profile: Some("winlogbeat-security"),
        schema: Some("directory"),
        expected: &[(&[], 27)],
    },
    // Filebeat system.auth: ECS-shaped. host.name comes from host.hostname
    // and the key from system.auth.ssh.signature through the profile (the
    // publickey lines end "ssh2: RSA SHA256:...", as sshd logs them).
    SampleCheck {
        source: "linux-sshd",
        profile: Some("filebeat-sshd"),
        schema: Some("bastion"),
        expected: &[(&[], 3)],
    },
    // Zeek dns.log, native: every required field through the zeek-dns
    // profile, @timestamp from ts. The heartbeat line without a time (the
    // engine dead-letters it) lacks all but the query.
    SampleCheck {
        source: "zeek-dns",
        profile: Some("zeek-dns"),
        schema: Some("dns"),
        expected: &[(&[], 4), (&["@timestamp", "dns.response_code", "source.ip"], 1)],
    },
    // Raw syslog sshd lines (samples/bastion.ndjson), parsed by the
    // profile's extraction: the ECS view of the parsed event. Only the
    // `Accepted publickey` line carries a key fingerprint (sshd logs none
    // for passwords, invalid users or disconnects); the PAM session line is
    // no sshd event the profile parses (no event.action).
    SampleCheck {
        source: "linux-sshd-syslog",
        profile: Some("syslog-sshd"),
        schema: Some("bastion"),
        expected: &[
            (&[], 1),
            (&["ssh.key.fingerprint"], 4),
            (&["event.action", "ssh.key.fingerprint"], 1),
        ],
    },
    // Auditbeat file integrity: no seed source schema covers it.
    SampleCheck {
        source: "linux-file-integrity",
        profile: None,
        schema: None,
        expected: &[(&[], 1)],
    },
];

/// Leaf field paths of the event schema (what an ECS view can hold).
fn schema_fields() -> Vec<String> {
    fn walk(s: &Value, path: &str, out: &mut Vec<String>) {
        for (k, v) in s["properties"].as_object().into_iter().flatten() {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if v.get("properties").is_some() {
                walk(v, &p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&event_schema(), "", &mut out);
    out
}

#[test]
fn shipped_samples_validate_per_source_as_far_as_the_standards_fields_are_there() {
    let repo = common::repo();
    let text = std::fs::read_to_string(repo.join("samples/tocsin.toml")).unwrap();
    let config = Config::parse(&text, "samples/tocsin.toml").unwrap();
    let configured: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
    let checked: Vec<&str> = SAMPLE_CHECKS.iter().map(|c| c.source).collect();
    assert_eq!(configured, checked, "every configured sample source is checked");

    // The sample sources as shipped, each given the profile of its shape:
    // the sample's own keys win, so classification is unchanged.
    let sources: Vec<Source> = config
        .sources
        .iter()
        .zip(SAMPLE_CHECKS)
        .map(|(s, c)| {
            let mut s = s.clone();
            s.profile = c.profile.map(str::to_string);
            profile::apply(&mut s).unwrap();
            Source::from_config(&s)
        })
        .collect();
    let schemas = source_schemas();
    let validators: Vec<Option<Validator>> = SAMPLE_CHECKS
        .iter()
        .map(|c| c.schema.map(|s| compile(&schemas[s])))
        .collect();
    let fields = schema_fields();
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();

    let mut seen: Vec<BTreeMap<Vec<String>, usize>> = vec![BTreeMap::new(); sources.len()];
    let mut unparsed = 0;
    let mut unclaimed = Vec::new();
    let mut decoder = JsonDecoder::new(1 << 20);
    let mut extraction = Extraction::new();
    let text = ["samples/events.ndjson", "samples/bastion.ndjson"]
        .map(|f| std::fs::read_to_string(repo.join(f)).unwrap())
        .concat();
    for line in text.lines() {
        let Ok(ev) = decoder.decode(line.as_bytes()) else {
            unparsed += 1; // the truncated line, a dead letter by design
            continue;
        };
        // As the pipeline classifies: a source's extraction, then its `when`.
        let mut extracted = false;
        let Some(i) = sources.iter().position(|s| {
            let (claims, x) = s.classify(ev.root(), &mut extraction, None);
            extracted = x;
            claims
        }) else {
            unclaimed.push(line);
            continue;
        };
        let augmented;
        let ev = match sources[i].extract.as_deref().filter(|_| extracted) {
            Some(ex) => {
                augmented = extraction.augment(ex, line.as_bytes()).unwrap().0;
                &augmented
            }
            None => &ev,
        };
        let Some((validator, schema)) = validators[i].as_ref().zip(SAMPLE_CHECKS[i].schema) else {
            *seen[i].entry(Vec::new()).or_default() += 1;
            continue;
        };
        let time = TimeConfig {
            fields: sources[i]
                .time_fields
                .clone()
                .unwrap_or_else(|| config.input.time_fields.clone()),
            fallback: config.input.time_fallback,
        };
        let view = ecs_view(&sources[i], &time, ev.root(), &fields);
        let missing: Vec<String> = missing_fields(validator, &view, &required_of(&schemas[schema], &view))
            .into_iter()
            .collect();
        *seen[i].entry(missing).or_default() += 1;
    }
    assert_eq!(unparsed, 1);
    // The CRON line of the bastion's auth log: no sample source claims it.
    assert_eq!(unclaimed.len(), 1, "{unclaimed:?}");
    assert!(unclaimed[0].contains("CRON["), "{unclaimed:?}");
    for (check, got) in SAMPLE_CHECKS.iter().zip(&seen) {
        let want: BTreeMap<Vec<String>, usize> = check
            .expected
            .iter()
            .map(|(f, n)| (f.iter().map(|s| s.to_string()).collect(), *n))
            .collect();
        assert_eq!(got, &want, "{}: events by missing required fields", check.source);
    }
}

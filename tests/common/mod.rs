//! Helpers shared by the integration tests: run the real `tocsin` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tocsin"))
}

/// `../shared` beside the checkout.
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("spawn tocsin")
}

pub fn stdout_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("alert line is not JSON ({e}): {l}")))
        .collect()
}

pub fn file_lines(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("line is not JSON ({e}): {l}")))
        .collect()
}

/// Checks alerts against `schemas/alert.schema.json`, the contract with consumers.
pub fn assert_schema_valid(alerts: &[serde_json::Value]) {
    let text = std::fs::read_to_string(repo().join("schemas/alert.schema.json")).expect("alert schema");
    let schema =
        jsonschema::validator_for(&serde_json::from_str(&text).expect("schema is JSON")).expect("valid schema");
    for a in alerts {
        let errors: Vec<String> = schema
            .iter_errors(a)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "alert violates schema: {errors:?}\n{a}");
    }
}

/// Logsource given to every event by the correlation tests (`--logsource`).
pub const WINDOWS_SECURITY: &str = "product=windows,service=security";

/// What one `tocsin run` wrote.
pub struct RunOutput {
    /// The alert file, verbatim.
    pub raw: String,
    pub alerts: Vec<serde_json::Value>,
    pub dead_letters: Vec<serde_json::Value>,
}

impl RunOutput {
    /// The correlation alerts, in output order.
    pub fn correlations(&self) -> Vec<&serde_json::Value> {
        self.alerts.iter().filter(|a| a["kind"] == "correlation").collect()
    }

    /// The correlation alert ids, sorted (a multiset: repeats stay).
    pub fn correlation_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .correlations()
            .iter()
            .map(|a| a["alert_id"].as_str().expect("alert_id").to_string())
            .collect();
        ids.sort();
        ids
    }
}

/// Runs `tocsin run` with the rules `rules_yaml` (written to `dir/rules.yml`)
/// over `inputs`, every event classified as [`WINDOWS_SECURITY`], alerts and
/// dead letters to files in `dir`; `extra` flags are appended. Panics unless it succeeds.
pub fn run_rules(dir: &Path, rules_yaml: &str, inputs: &[&Path], extra: &[&str]) -> RunOutput {
    let rules = dir.join("rules.yml");
    std::fs::write(&rules, rules_yaml).unwrap();
    let out = dir.join("alerts.ndjson");
    let dl = dir.join("dead.ndjson");
    let mut args = vec![
        "run",
        "--rules",
        rules.to_str().unwrap(),
        "--logsource",
        WINDOWS_SECURITY,
        "--output",
        out.to_str().unwrap(),
        "--dead-letter",
        dl.to_str().unwrap(),
        "--input",
    ];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    args.extend(extra);
    let o = run(&args);
    assert!(
        o.status.success(),
        "tocsin run failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    RunOutput {
        raw: std::fs::read_to_string(&out).unwrap_or_default(),
        alerts: file_lines(&out),
        dead_letters: file_lines(&dl),
    }
}

/// Writes NDJSON lines to `dir/name` and returns the path.
pub fn write_lines(dir: &Path, name: &str, lines: impl IntoIterator<Item = String>) -> PathBuf {
    let p = dir.join(name);
    let text: Vec<String> = lines.into_iter().collect();
    std::fs::write(&p, text.join("\n")).unwrap();
    p
}

/// Nanoseconds since the epoch of an RFC 3339 time as the alerts write it.
pub fn rfc3339_ns(s: &str) -> i128 {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("`{s}` is not RFC 3339: {e}"))
        .unix_timestamp_nanos()
}

/// RFC 3339 UTC of milliseconds since the epoch, as the alerts write times.
pub fn rfc3339_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// The Kafka tests' rules: failed and successful logons, five failures of
/// one user (event_count) and then a success (temporal_ordered).
pub const BRUTE_FORCE_RULES: &str = r#"
title: Failed Logon
id: failed-logon
name: failed_logon
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4625
    condition: selection
level: low
---
title: Successful Logon
id: successful-logon
name: successful_logon
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4624
    condition: selection
level: low
---
title: Many Failed Logons
id: many-failed
name: many_failed
correlation:
    type: event_count
    rules:
        - failed_logon
    group-by:
        - TargetUserName
    timespan: 10m
    condition:
        gte: 5
generate: true
level: medium
---
title: Brute Force Then Success
id: brute-then-success
correlation:
    type: temporal_ordered
    rules:
        - many_failed
        - successful_logon
    group-by:
        - TargetUserName
    timespan: 10m
generate: true
level: high
"#;

/// What `tocsin run --config … --rules … --input …` wrote into its files.
pub struct Replayed {
    pub alerts: Vec<serde_json::Value>,
    pub dead_letters: Vec<serde_json::Value>,
    /// The `--summary-json` stats.
    pub stats: serde_json::Value,
}

/// Replays `input` with `config` and `rules` (file or directory), its files
/// named after `name` in `dir`. `Err(stderr)` when the run fails; the alerts
/// of a successful one are checked against the alert schema.
pub fn try_replay(dir: &Path, name: &str, config: &Path, rules: &Path, input: &Path) -> Result<Replayed, String> {
    let out = dir.join(format!("{name}.alerts.ndjson"));
    let dead = dir.join(format!("{name}.dead.ndjson"));
    let summary = dir.join(format!("{name}.summary.json"));
    let path = |p: &Path| p.to_str().expect("UTF-8 path").to_string();
    let o = run(&[
        "run",
        "--config",
        &path(config),
        "--rules",
        &path(rules),
        "--input",
        &path(input),
        "--output",
        &path(&out),
        "--dead-letter",
        &path(&dead),
        "--summary-json",
        &path(&summary),
    ]);
    if !o.status.success() {
        return Err(String::from_utf8_lossy(&o.stderr).into_owned());
    }
    let alerts = file_lines(&out);
    assert_schema_valid(&alerts);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).expect("summary written")).expect("summary is JSON");
    Ok(Replayed {
        alerts,
        dead_letters: file_lines(&dead),
        stats: summary["stats"].clone(),
    })
}

/// [`try_replay`] that must succeed.
pub fn replay(dir: &Path, name: &str, config: &Path, rules: &Path, input: &Path) -> Replayed {
    try_replay(dir, name, config, rules, input).unwrap_or_else(|e| panic!("tocsin run ({name}) failed: {e}"))
}

/// A Kafka position in an alert (`{"topic", "partition", "offset"}`) as `topic/partition@offset`.
pub fn kafka_pos(v: &serde_json::Value) -> String {
    format!(
        "{}/{}@{}",
        v["topic"].as_str().unwrap(),
        v["partition"].as_i64().unwrap(),
        v["offset"].as_i64().unwrap()
    )
}

/// An alert in one line: what it is, for whom, how many, when, from where
/// (and, for a correlation, its window and the positions of its evidence).
pub fn describe_alert(a: &serde_json::Value) -> String {
    let mut s = format!(
        "{} {} {} count={} at={} src={}",
        a["kind"].as_str().unwrap(),
        a["rule"]["id"].as_str().unwrap(),
        a["group"],
        a["count"],
        a["event_time"].as_str().unwrap(),
        kafka_pos(&a["source"]),
    );
    if a["kind"] == "correlation" {
        let refs: Vec<String> = a["evidence_refs"].as_array().unwrap().iter().map(kafka_pos).collect();
        s += &format!(
            " {}..{} refs=[{}]",
            a["first_event_time"].as_str().unwrap(),
            a["last_event_time"].as_str().unwrap(),
            refs.join(" ")
        );
    }
    s
}

//! Log-quality monitoring through the binary: a source's required
//! attributes, UTC timestamps and secrets are checked per period of event
//! time, and a gap longer than `max_silence` raises `source_silent`.

mod common;

use serde_json::Value;

const CONFIG: &str = r#"
[quality]
period = "1h"
max_missing_share = 0.05
max_non_utc_share = 0.05
secret_scan_every = 1

[[sources]]
name = "vpn"
product = "vpn"
required_fields = ["user.name", "source.ip"]
max_silence = "30m"
"#;

const RULES: &str = "title: any vpn login\nid: vpn-login\nlogsource:\n    product: vpn\ndetection:\n    sel:\n        event.action: login\n    condition: sel\nlevel: low\n";

/// Minute `m` after 10:00 UTC, written with `zone` (`Z` or an offset).
fn event(m: u32, user: Option<&str>, ip: Option<&str>, zone: &str, extra: &str) -> String {
    let (h, mm) = (10 + m / 60, m % 60);
    let time = if zone == "Z" {
        format!("2026-03-02T{h:02}:{mm:02}:00Z")
    } else {
        // The same instant written in another zone (+02:00).
        format!("2026-03-02T{:02}:{mm:02}:00{zone}", h + 2)
    };
    let mut fields = vec![
        format!("\"@timestamp\":\"{time}\""),
        "\"event\":{\"action\":\"logout\"}".into(),
    ];
    if let Some(u) = user {
        fields.push(format!("\"user\":{{\"name\":\"{u}\"}}"));
    }
    if let Some(ip) = ip {
        fields.push(format!("\"source\":{{\"ip\":\"{ip}\"}}"));
    }
    if !extra.is_empty() {
        fields.push(extra.to_string());
    }
    format!("{{{}}}", fields.join(","))
}

fn run(lines: Vec<String>) -> Vec<Value> {
    run_config(CONFIG, lines).unwrap_or_else(|e| panic!("tocsin run failed: {e}"))
}

fn describe(a: &Value) -> String {
    format!(
        "{} {} {} count={} value={} window={}",
        a["kind"].as_str().unwrap(),
        a["event_time"].as_str().unwrap(),
        a["group"],
        a["count"],
        a["value"],
        a["window"]
    )
}

#[test]
fn periods_are_judged_against_the_standards_and_silence_is_reported() {
    let mut lines = Vec::new();
    // 10:00–10:39: 20 events, 5 without source.ip (25%), 2 in +02:00 (10%), one with a password.
    for m in 0..20u32 {
        let ip = (m % 4 != 0).then_some("10.1.1.1");
        let zone = if m == 3 || m == 7 { "+02:00" } else { "Z" };
        let extra = if m == 11 {
            "\"password\":\"hunter2-Secret!\""
        } else {
            ""
        };
        lines.push(event(m * 2, Some("ann"), ip, zone, extra));
    }
    // Silent 10:38 → 11:40 (more than 30 minutes), then a clean hour.
    for m in 100..130u32 {
        lines.push(event(m, Some("bob"), Some("10.1.1.2"), "Z", ""));
    }
    let got: Vec<String> = run(lines)
        .iter()
        .filter(|a| a["kind"] != "match")
        .map(describe)
        .collect();
    let want = vec![
        r#"log_quality 2026-03-02T10:00:00Z {"source":"vpn","measure":"missing_field","field":"source.ip"} count=5 value=0.25 window={"start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}"#,
        r#"log_quality 2026-03-02T10:00:00Z {"source":"vpn","measure":"non_utc_time"} count=2 value=0.1 window={"start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}"#,
        r#"log_quality 2026-03-02T10:00:00Z {"source":"vpn","measure":"secret_in_event"} count=1 value=0.05 window={"start":"2026-03-02T10:00:00Z","end":"2026-03-02T11:00:00Z"}"#,
        r#"source_silent 2026-03-02T11:08:00Z {"source":"vpn"} count=1 value=null window=null"#,
    ];
    assert_eq!(got, want);
}

#[test]
fn a_clean_source_raises_nothing_and_ids_are_stable() {
    let lines: Vec<String> = (0..90)
        .map(|m| event(m, Some("ann"), Some("10.1.1.1"), "Z", ""))
        .collect();
    let alerts = run(lines.clone());
    assert!(alerts.iter().all(|a| a["kind"] == "match"), "{alerts:?}");
    // A dirty run twice: the same alert ids.
    let dirty: Vec<String> = (0..30).map(|m| event(m, Some("ann"), None, "Z", "")).collect();
    let ids = |v: Vec<Value>| {
        v.iter()
            .map(|a| a["alert_id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(run(dirty.clone())), ids(run(dirty)));
}

/// Runs `lines` with `config` (no rule fires); the alerts, or the failed output.
fn run_config(config: &str, lines: Vec<String>) -> Result<Vec<Value>, String> {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tocsin.toml");
    std::fs::write(&cfg, config).unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let input = common::write_lines(dir.path(), "in.ndjson", lines);
    common::try_replay(dir.path(), "run", &cfg, &rules, &input).map(|r| r.alerts)
}

/// A bastion login with everything `schemas/sources/bastion.schema.json`
/// requires, and the minute `m`.
fn bastion_event(m: u32, fingerprint: bool) -> Value {
    let mut e = serde_json::json!({
        "@timestamp": format!("2026-03-02T10:{m:02}:00Z"),
        "host": {"name": "bastion-1"},
        "event": {"action": "ssh_login", "outcome": "success", "category": ["authentication"]},
        "user": {"name": "deploy"},
        "source": {"ip": "10.1.1.1"},
        "ssh": {"key": {"fingerprint": "ED25519 SHA256:3Tq1sOpV0dGmE6pA5c7n0pH8Q4wM1x9bYtZr2uLkD0s"}}
    });
    if !fingerprint {
        e["ssh"].as_object_mut().unwrap().clear();
    }
    e
}

#[test]
fn a_sources_schema_makes_its_required_fields_checked() {
    let config =
        |extra: &str| format!("[[sources]]\nname = \"bastion\"\ncategory = \"bastion\"\nschema = \"bastion\"\n{extra}");
    // 10 logins, 3 without the key's fingerprint: the schema requires it.
    let lines: Vec<String> = (0..10).map(|m| bastion_event(m, m < 7).to_string()).collect();
    let findings = |alerts: Vec<Value>| -> Vec<String> {
        alerts
            .iter()
            .filter(|a| a["kind"] == "log_quality")
            .map(|a| format!("{} {} {}", a["group"]["measure"], a["group"]["field"], a["count"]))
            .collect()
    };
    let got = findings(run_config(&config(""), lines.clone()).unwrap());
    assert_eq!(got, [r#""missing_field" "ssh.key.fingerprint" 3"#]);
    // The source's own required fields are added to the schema's.
    let got = findings(run_config(&config("required_fields = [\"labels.site\"]\n"), lines).unwrap());
    assert_eq!(
        got,
        [
            r#""missing_field" "ssh.key.fingerprint" 3"#,
            r#""missing_field" "labels.site" 10"#
        ]
    );
    // Complete events raise nothing.
    let clean: Vec<String> = (0..10).map(|m| bastion_event(m, true).to_string()).collect();
    assert_eq!(findings(run_config(&config(""), clean).unwrap()), Vec::<String>::new());
}

#[test]
fn an_unknown_schema_is_a_config_error_with_its_line_and_the_known_ones() {
    let err = run_config(
        "[quality]\nperiod = \"1h\"\n\n[[sources]]\nname = \"b\"\ncategory = \"bastion\"\nschema = \"bastoin\"\n",
        vec![],
    )
    .unwrap_err();
    assert!(err.contains("tocsin.toml:7"), "{err}");
    assert!(err.contains("source `b`: unknown schema `bastoin`"), "{err}");
    for known in ["bastion", "directory", "dns", "hypervisor", "web-proxy"] {
        assert!(err.contains(known), "{known} missing from: {err}");
    }
}

//! Source profiles (issue 6): the same Sigma rules give the same matches on
//! every shape of their logsource, the configs differing only in `profile`.
//!
//! - Windows: `../shared/realdata/win-spray-deepblue` holds the same 295
//!   events as Winlogbeat ECS JSON and as flat evtx JSON; rules written with
//!   SigmaHQ's names (EventID, SubjectUserName, TargetUserName, UserData's
//!   SubjectUserName) and with ECS names (event.code, host.name, source.ip),
//!   plus a correlation, must match the same records (by EventRecordID) and
//!   give the same correlation alerts, whichever profile reads them.
//! - Zeek: `../shared/realdata/zeek-dga` through `zeek-dns`: a rule written
//!   with Zeek's names and the same rule written with ECS names match the
//!   same events, as many as `truth.json` counts, and NXDOMAIN bursts grouped
//!   by `source.ip` (mapped to `id.orig_h`) find the two infected clients.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// Runs `tocsin run` with one source `name` of profile `profile`, over `input`.
fn replay(dir: &Path, profile: &str, rules_yaml: &str, input: &Path) -> (Vec<Value>, Value) {
    let config = dir.join(format!("{profile}.toml"));
    std::fs::write(
        &config,
        format!("[[sources]]\nname = \"src\"\nprofile = \"{profile}\"\n"),
    )
    .unwrap();
    let rules = dir.join("rules.yml");
    std::fs::write(&rules, rules_yaml).unwrap();
    let r = common::replay(dir, profile, &config, &rules, input);
    assert!(
        r.dead_letters.is_empty(),
        "{profile}: dead letters {:?}",
        r.dead_letters
    );
    (r.alerts, r.stats)
}

/// Rule id → sorted identities of the matched events (`key` reads one from an evidence event).
fn matches_by_rule(alerts: &[Value], key: impl Fn(&Value) -> String) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in alerts.iter().filter(|a| a["kind"] == "match") {
        let rule = a["rule"]["id"].as_str().unwrap().to_string();
        out.entry(rule).or_default().push(key(&a["evidence"][0]["event"]));
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

/// The correlation alerts with what must not depend on the shape.
fn correlations(alerts: &[Value]) -> Vec<Value> {
    let mut v: Vec<Value> = alerts
        .iter()
        .filter(|a| a["kind"] == "correlation")
        .map(|a| {
            serde_json::json!({
                "alert_id": a["alert_id"], "rule": a["rule"]["id"], "group": a["group"],
                "count": a["count"], "window": a["window"],
            })
        })
        .collect();
    v.sort_by_key(|a| a.to_string());
    v
}

const WINDOWS_RULES: &str = r#"
title: Explicit Credential Logon by jwrig
id: 0d7c4a52-61f1-4d0e-9a36-6f3f1b7c2a01
name: explicit_credential_logon
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4648
        SubjectUserName: jwrig
    filter_machine:
        TargetUserName|endswith: '$'
    condition: selection and not filter_machine
level: low
---
title: Security Log Cleared (UserData)
id: 0d7c4a52-61f1-4d0e-9a36-6f3f1b7c2a02
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 1102
        SubjectUserName: jwrig
    condition: selection
level: high
---
title: Explicit Credential Logon Towards a Private Address (ECS names)
id: 0d7c4a52-61f1-4d0e-9a36-6f3f1b7c2a03
logsource:
    product: windows
    service: security
detection:
    selection:
        event.code: '4648'
        host.name: DESKTOP-JR78RLP
        source.ip|cidr: 172.16.0.0/12
    condition: selection
level: low
---
title: Password Spray With Explicit Credentials
id: 0d7c4a52-61f1-4d0e-9a36-6f3f1b7c2a04
correlation:
    type: value_count
    rules:
        - explicit_credential_logon
    group-by:
        - SubjectUserName
        - Computer
    timespan: 5m
    condition:
        field: TargetUserName
        gte: 10
    generate: true
level: high
"#;

#[test]
fn windows_rules_match_the_same_records_on_winlogbeat_and_flat_evtx() {
    let data = common::shared().join("realdata/win-spray-deepblue");
    let dir = tempfile::tempdir().unwrap();
    let (wlb, wlb_stats) = replay(
        dir.path(),
        "winlogbeat-security",
        WINDOWS_RULES,
        &data.join("events.ndjson"),
    );
    let (flat, flat_stats) = replay(
        dir.path(),
        "evtx-flat-security",
        WINDOWS_RULES,
        &data.join("events.flat.ndjson"),
    );
    for stats in [&wlb_stats, &flat_stats] {
        assert_eq!(stats["records"], 295, "{stats}");
        assert_eq!(stats["unclassified"], 0, "{stats}");
    }
    let wlb_matches = matches_by_rule(&wlb, |e| e["winlog"]["record_id"].to_string());
    let flat_matches = matches_by_rule(&flat, |e| e["EventRecordID"].to_string());
    let counts: BTreeMap<&str, usize> = wlb_matches.iter().map(|(k, v)| (&k[k.len() - 2..], v.len())).collect();
    // truth.json: 294 explicit-credential logons by jwrig, one log clear.
    assert_eq!(counts, BTreeMap::from([("01", 294), ("02", 1), ("03", 294)]));
    assert_eq!(
        wlb_matches, flat_matches,
        "rule matches per record differ between the shapes"
    );
    assert_eq!(wlb.len(), flat.len());

    let (wc, fc) = (correlations(&wlb), correlations(&flat));
    assert!(!wc.is_empty(), "no spray alert");
    assert_eq!(wc, fc, "correlation alerts differ between the shapes");
    for c in &wc {
        assert_eq!(
            c["group"],
            serde_json::json!({"SubjectUserName": "jwrig", "Computer": "DESKTOP-JR78RLP"})
        );
    }
}

const ZEEK_RULES: &str = r#"
title: NXDOMAIN Answer (Zeek names)
id: 5a1e0b7e-3c55-4b8e-9d0f-2f4a6c8e0a01
name: nxdomain_zeek
logsource:
    product: zeek
    service: dns
detection:
    selection:
        rcode_name: NXDOMAIN
    condition: selection
level: informational
---
title: NXDOMAIN Answer (ECS names)
id: 5a1e0b7e-3c55-4b8e-9d0f-2f4a6c8e0a02
name: nxdomain_ecs
logsource:
    category: dns
detection:
    selection:
        dns.response_code: NXDOMAIN
    condition: selection
level: informational
---
title: NXDOMAIN Burst From One Client (ECS group-by)
id: 5a1e0b7e-3c55-4b8e-9d0f-2f4a6c8e0a03
correlation:
    type: value_count
    rules:
        - nxdomain_ecs
    group-by:
        - source.ip
    timespan: 10m
    condition:
        field: dns.question.name
        gte: 10
    generate: true
level: high
---
title: NXDOMAIN Burst From One Client (Zeek group-by)
id: 5a1e0b7e-3c55-4b8e-9d0f-2f4a6c8e0a04
correlation:
    type: value_count
    rules:
        - nxdomain_zeek
    group-by:
        - id.orig_h
    timespan: 10m
    condition:
        field: query
        gte: 10
    generate: true
level: high
"#;

#[test]
fn zeek_dns_rules_match_the_same_events_by_zeek_and_by_ecs_names() {
    let data = common::shared().join("realdata/zeek-dga");
    let truth: Value = serde_json::from_slice(&std::fs::read(data.join("truth.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (alerts, stats) = replay(dir.path(), "zeek-dns", ZEEK_RULES, &data.join("events.ndjson"));
    assert_eq!(stats["records"], truth["event_count"], "{stats}");
    assert_eq!(stats["unclassified"], 0, "{stats}");

    let by_rule = matches_by_rule(&alerts, |e| format!("{}/{}", e["uid"], e["ts"]));
    let zeek = &by_rule["5a1e0b7e-3c55-4b8e-9d0f-2f4a6c8e0a01"];
    let ecs = &by_rule["5a1e0b7e-3c55-4b8e-9d0f-2f4a6c8e0a02"];
    assert_eq!(zeek.len() as u64, truth["facts"]["nxdomain_total"].as_u64().unwrap());
    assert_eq!(
        zeek, ecs,
        "the same rule by Zeek and by ECS names matched different events"
    );

    // Both bursts, per client, found by both group-bys; entities from truth.json.
    let mut want: Vec<String> = truth["expect"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["detection"] == "dga_nxdomain_burst")
        .map(|e| e["entity"]["id.orig_h"].as_str().unwrap().to_string())
        .collect();
    want.sort();
    assert_eq!(want.len(), 2);
    // The ECS and the Zeek group-by give the same alerts: same client, count and window.
    let bursts = |rule: &str, field: &str| -> Vec<String> {
        let mut v: Vec<String> = alerts
            .iter()
            .filter(|a| a["kind"] == "correlation" && a["rule"]["id"].as_str().unwrap().ends_with(rule))
            .map(|a| format!("{} {} {}", a["group"][field], a["count"], a["window"]))
            .collect();
        v.sort();
        v
    };
    assert!(!bursts("0a03", "source.ip").is_empty());
    assert_eq!(bursts("0a03", "source.ip"), bursts("0a04", "id.orig_h"));
    for (rule, field) in [("0a03", "source.ip"), ("0a04", "id.orig_h")] {
        let mut got: Vec<String> = alerts
            .iter()
            .filter(|a| a["kind"] == "correlation" && a["rule"]["id"].as_str().unwrap().ends_with(rule))
            .map(|a| a["group"][field].as_str().unwrap().to_string())
            .collect();
        got.sort();
        got.dedup();
        assert_eq!(got, want, "{field}");
    }
}

#[test]
fn an_unknown_profile_is_a_config_error_naming_it_and_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[[sources]]\nname = \"dc\"\nproduct = \"windows\"\nprofile = \"winlogbeat-securty\"\n",
    )
    .unwrap();
    let o = common::run(&["config", "--config", config.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("c.toml:4"), "{err}");
    assert!(err.contains("unknown profile `winlogbeat-securty`"), "{err}");
    for known in ["winlogbeat-security", "evtx-flat-security", "zeek-dns", "k8s-audit"] {
        assert!(err.contains(known), "{known} missing from: {err}");
    }
}

#[test]
fn config_print_shows_the_merged_source() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[[sources]]\nname = \"dns\"\nprofile = \"zeek-dns\"\nwhen = { \"_path\" = \"dns\" }\n",
    )
    .unwrap();
    let o = common::run(&["config", "--config", config.to_str().unwrap(), "--print"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed: toml::Table = String::from_utf8_lossy(&o.stdout).parse().unwrap();
    let src = &printed["sources"][0];
    assert_eq!(src["profile"].as_str(), Some("zeek-dns"));
    assert_eq!(src["product"].as_str(), Some("zeek"));
    assert_eq!(src["category"].as_str(), Some("dns"));
    assert_eq!(src["when"]["_path"].as_str(), Some("dns"));
    assert_eq!(src["field_map"]["source.ip"].as_str(), Some("id.orig_h"));
    assert_eq!(src["time_fields"][0].as_str(), Some("ts"));
}

/// Every embedded profile is documented in `profiles/README.md` with an
/// example event that a source of that profile claims and times, and whose
/// ECS view holds fields; every ECS name a profile maps is a field of the
/// event schema (Winlogbeat's `winlog.*` names aside).
#[test]
fn every_profile_is_documented_with_an_example_it_claims() {
    use tocsin::classify::ecs::ecs_view;
    use tocsin::classify::Source;
    use tocsin::config::{profile, SourceConfig};
    use tocsin::decode::time::TimeConfig;
    use tocsin::decode::JsonDecoder;

    let readme = std::fs::read_to_string(common::repo().join("profiles/README.md")).unwrap();
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(common::repo().join("schemas/event.schema.json")).unwrap())
            .unwrap();
    let mut ecs_fields = Vec::new();
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
    walk(&schema, "", &mut ecs_fields);
    let field_refs: Vec<&str> = ecs_fields.iter().map(String::as_str).collect();
    // ECS names also include the fields of arrays of objects (`dns.answers.data`).
    let mut names_ok = ecs_fields.clone();
    for f in &ecs_fields {
        let node = f.split('.').fold(&schema, |s, k| &s["properties"][k]);
        for k in node["items"]["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            names_ok.push(format!("{f}.{k}"));
        }
    }

    let names = profile::names();
    assert_eq!(names.len(), 13, "{names:?}");
    let mut decoder = JsonDecoder::new(1 << 20);
    let mut extraction = tocsin::decode::extract::Extraction::new();
    for name in &names {
        let heading = format!("### `{name}`");
        let section = readme
            .split(&heading)
            .nth(1)
            .unwrap_or_else(|| panic!("profiles/README.md has no `{heading}` section"));
        let section = section.split("\n### ").next().unwrap();
        let example = section
            .split("```json\n")
            .nth(1)
            .and_then(|s| s.split("\n```").next())
            .unwrap_or_else(|| panic!("{name}: no example event in profiles/README.md"));

        let mut c: SourceConfig = toml::from_str(&format!("name = \"t\"\nprofile = \"{name}\"")).unwrap();
        profile::apply(&mut c).unwrap();
        for key in c.field_map.keys().filter(|k| k.contains('.')) {
            assert!(
                names_ok.contains(key) || key.starts_with("winlog."),
                "{name}: field_map key `{key}` is not an event schema field"
            );
        }
        let source = Source::from_config(&c);
        let ev = decoder
            .decode(example.as_bytes())
            .unwrap_or_else(|e| panic!("{name}: example is not JSON: {e:?}"));
        // As the pipeline does: extraction (syslog-sshd), then `when`, then
        // the event with the extracted fields.
        let (claims, extracted) = source.classify(ev.root(), &mut extraction, None);
        assert!(claims, "{name}: its source does not claim its example");
        let augmented;
        let ev = match source.extract.as_deref().filter(|_| extracted) {
            Some(ex) => {
                augmented = extraction.augment(ex, example.as_bytes()).unwrap().0;
                &augmented
            }
            None => &ev,
        };
        let time = TimeConfig {
            fields: c.time_fields.clone().unwrap(),
            ..TimeConfig::default()
        };
        assert!(
            time.extract(ev.root(), None).is_ok(),
            "{name}: no event time in the example"
        );
        let view = ecs_view(&source, &time, ev.root(), &field_refs);
        let leaves = view.to_string().matches("\":").count();
        assert!(leaves >= 4, "{name}: the example's ECS view holds little: {view}");
    }
}

const OKTA_RULES: &str = r#"
title: Okta MFA factor reset
id: okta-factor-reset
name: okta_factor_reset
logsource: {product: okta, service: okta}
detection:
    s:
        event.action: user.mfa.factor.deactivate
        user.target.name|endswith: '@example.com'
    condition: s
level: medium
---
title: Okta MFA factors of one user reset twice
id: okta-factor-resets
correlation:
    type: event_count
    rules: [okta_factor_reset]
    group-by: [user.target.name]
    timespan: 1h
    condition: {gte: 2}
generate: true
level: high
"#;

/// Okta's `target[]` is a list of objects: `user.target.name` (mapped to
/// `target.alternateId`) matches through it, and the correlation groups by
/// the first element's value (the user).
#[test]
fn okta_rules_read_fields_inside_the_target_list() {
    let dir = tempfile::tempdir().unwrap();
    let event = |at: &str, user: &str| {
        format!(
            r#"{{"uuid":"{at}","published":"2026-11-02T10:{at}:00.000Z","eventType":"user.mfa.factor.deactivate","actor":{{"alternateId":"admin@example.com"}},"client":{{"ipAddress":"203.0.113.20"}},"outcome":{{"result":"SUCCESS"}},"target":[{{"type":"User","alternateId":"{user}"}},{{"type":"AppInstance","alternateId":"Okta Admin Console"}}]}}"#
        )
    };
    let input = dir.path().join("okta.ndjson");
    let lines = [
        event("01", "bob@example.com"),
        event("07", "carol@example.org"),
        event("12", "bob@example.com"),
    ];
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let (alerts, stats) = replay(dir.path(), "okta-system-log", OKTA_RULES, &input);
    assert_eq!(stats["unclassified"], 0, "{stats}");
    let matched: Vec<&str> = alerts
        .iter()
        .filter(|a| a["kind"] == "match")
        .map(|a| a["evidence"][0]["event"]["uuid"].as_str().unwrap())
        .collect();
    assert_eq!(matched, ["01", "12"], "only bob's resets (example.com) match");
    let corr: Vec<String> = correlations(&alerts)
        .iter()
        .map(|a| format!("{} {}", a["group"]["user.target.name"], a["count"]))
        .collect();
    assert_eq!(corr, [r#""bob@example.com" 2"#]);
}

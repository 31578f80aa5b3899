//! The shipped rule pack against real logs (`../shared/realdata/`): each set is
//! replayed through `tocsin run --rules rules` with a config that classifies its
//! shape (`tests/realdata/*.toml`), then
//!
//! - every `expect` of its `truth.json` fires: an alert of a rule mapped to that
//!   detection below, about the expected entity, inside the expected window;
//! - every `expect_not` stays silent;
//! - nothing else fires: each alert belongs to an expected detection or to the
//!   short, explained list of other true events in the set (background quiet);
//! - the benign DNS set raises no alert from the DNS rules at all;
//! - the Windows sets give the same detections in both shapes (Winlogbeat ECS
//!   and flat evtx JSON).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

// ── the rules each truth.json detection maps to ─────────────────────────────

/// Password Spraying With Explicit Credentials From One Account (4648).
const EXPLICIT_SPRAY: &str = "8a0c2e4f-6b7d-4e9f-9a1c-3e5f7b9d1a12";
/// Password Spraying From One Source (4625).
const FAILED_LOGON_SPRAY: &str = "2c4e6a8b-0d1f-4a3c-9e5b-7f9a1c3e5a60";
/// Security Audit Log Cleared (1102).
const SECURITY_LOG_CLEARED: &str = "9e4d2a71-2c3b-4f5e-8a6d-7b8c9d0e1f03";
/// User Account Created (4720).
const USER_CREATED: &str = "1f3a5c7e-9b2d-4f6a-8c1e-3a5b7c9d1e05";
/// User Account Deleted (4726).
const USER_DELETED: &str = "2a4c6e8f-0b1d-4e3f-9a5c-7e9b1d3f5a06";
/// User Account Created Then Deleted (correlation).
const USER_CREATED_THEN_DELETED: &str = "2e4a6c8d-0f1b-4cd3-9e5a-7c9d1f3b5e16";
/// Remote Process Creation Through WMIC.
const WMIC_REMOTE: &str = "5b7d9f1a-3c4e-4fa6-8b8d-0f2a4c6e8b19";
/// Local or Domain Account Added With net.exe.
const NET_USER_ADD: &str = "6c8e0a2b-4d5f-4ab7-9c9e-1a3b5d7f9c20";
/// Member Added to a Privileged Local or Domain Group.
const ADMIN_GROUP_MEMBER: &str = "2b7e5f10-8d4c-4a3b-9f2e-1c0d9e8f7a04";
/// User Account Created Then Added to a Privileged Group (correlation).
const USER_CREATED_THEN_ADMIN: &str = "4a6c8e0f-2b3d-4ef5-9a7c-9e1f3b5d7a18";
/// NXDOMAIN Burst for Many Distinct Names From One Client (DGA).
const DGA: &str = "8d2f4a61-0c3b-4e7d-9a85-6b1c2d3e4f02";

/// The rules that implement a `detection` named in a truth.json.
fn rules_for(detection: &str) -> &'static [&'static str] {
    match detection {
        "password_spray" => &[EXPLICIT_SPRAY, FAILED_LOGON_SPRAY],
        "security_log_cleared" => &[SECURITY_LOG_CLEARED],
        "user_created" => &[USER_CREATED],
        "user_created_then_deleted" => &[USER_CREATED_THEN_DELETED],
        "wmic_remote_process_create" => &[WMIC_REMOTE],
        "net_user_add" => &[NET_USER_ADD],
        "dga_nxdomain_burst" => &[DGA],
        "user_created_and_added_to_admin_group" => &[ADMIN_GROUP_MEMBER, USER_CREATED_THEN_ADMIN],
        other => panic!("truth.json names detection `{other}`, which this test does not map to rules"),
    }
}

/// Alerts a set may raise beyond its `expect` entries: true events of the
/// recording, each with the reason.
fn also_true(set: &str) -> &'static [(&'static str, &'static str)] {
    match set {
        "win-backdoor-user-otrf" => &[(
            USER_DELETED,
            "4726: the backdoor account is deleted when `net user /add` rolls back",
        )],
        _ => &[],
    }
}

// ── replay ──────────────────────────────────────────────────────────────────

fn realdata() -> PathBuf {
    common::shared().join("realdata")
}

fn truth(set: &str) -> Value {
    let p = realdata().join(set).join("truth.json");
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .expect("truth.json is JSON")
}

/// `tocsin run --rules rules --config tests/realdata/<config> --input <file>`:
/// the alerts. Fails on a non-zero exit or any dead letter.
fn replay(input: &Path, config: &str) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let (out, dead) = (dir.path().join("alerts.ndjson"), dir.path().join("dead.ndjson"));
    let repo = common::repo();
    let o = common::bin()
        .arg("run")
        .arg("--rules")
        .arg(repo.join("rules"))
        .arg("--config")
        .arg(repo.join("tests/realdata").join(config))
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(&out)
        .arg("--dead-letter")
        .arg(&dead)
        .output()
        .expect("spawn tocsin");
    assert!(
        o.status.success(),
        "tocsin run {}: {}",
        input.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let dl = common::file_lines(&dead);
    assert!(dl.is_empty(), "{}: dead letters: {dl:?}", input.display());
    common::file_lines(&out)
}

/// A truth.json time: RFC 3339 text, or seconds since the epoch (zeek-dga's
/// capture-relative `ts`), as nanoseconds.
fn truth_ns(v: &Value) -> i128 {
    match v {
        Value::String(s) => common::rfc3339_ns(s),
        Value::Number(n) => (n.as_f64().expect("seconds") * 1e9).round() as i128,
        other => panic!("not a time: {other}"),
    }
}

/// The value at a dotted path of a JSON event: nested objects, literal dotted keys, or a mix.
fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    if let Some(x) = obj.get(path) {
        return Some(x);
    }
    path.match_indices('.')
        .find_map(|(i, _)| lookup(obj.get(&path[..i])?, &path[i + 1..]))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether an alert is about `entity` (field → value): a correlation's group
/// holds each value, or a match's evidence event has it at the field's path.
fn about(alert: &Value, entity: &serde_json::Map<String, Value>) -> bool {
    entity.iter().all(|(field, want)| {
        let want = text(want);
        let in_group = alert["group"]
            .as_object()
            .is_some_and(|g| g.values().any(|v| text(v) == want));
        let in_event = alert["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| lookup(&e["event"], field).is_some_and(|v| text(v) == want));
        in_group || in_event
    })
}

/// Whether the alert's contributing events lie inside `[start, end]` (1 ms slack
/// for seconds written as floats).
fn inside(alert: &Value, window: &[Value]) -> bool {
    let (start, end) = (truth_ns(&window[0]) - 1_000_000, truth_ns(&window[1]) + 1_000_000);
    let first = common::rfc3339_ns(
        alert["first_event_time"]
            .as_str()
            .or(alert["event_time"].as_str())
            .unwrap(),
    );
    let last = common::rfc3339_ns(
        alert["last_event_time"]
            .as_str()
            .or(alert["event_time"].as_str())
            .unwrap(),
    );
    start <= first && last <= end
}

fn rule_id(alert: &Value) -> &str {
    alert["rule"]["id"].as_str().unwrap_or_default()
}

/// Checks one replay of `set` against its truth.json; `flat` picks `entity_flat`.
fn check(set: &str, alerts: &[Value], flat: bool) {
    let t = truth(set);
    let mut explained: BTreeSet<&str> = also_true(set).iter().map(|(id, _)| *id).collect();
    for e in t["expect"].as_array().into_iter().flatten() {
        let detection = e["detection"].as_str().unwrap();
        let rules = rules_for(detection);
        explained.extend(rules);
        let entity = match (flat, e.get("entity_flat")) {
            (true, Some(f)) => f,
            _ => &e["entity"],
        };
        let entity = entity.as_object().expect("entity map");
        let window = e["window"].as_array().expect("window");
        let hit = alerts
            .iter()
            .any(|a| rules.contains(&rule_id(a)) && about(a, entity) && inside(a, window));
        assert!(
            hit,
            "{set}: expected `{detection}` ({rules:?}) for {entity:?} in {window:?}; alerts:\n{}",
            summary(alerts)
        );
    }
    for e in t["expect_not"].as_array().into_iter().flatten() {
        let detection = e["detection"].as_str().unwrap();
        let rules = rules_for(detection);
        let entity = e.get("entity").and_then(Value::as_object);
        let wrong: Vec<&Value> = alerts
            .iter()
            .filter(|a| rules.contains(&rule_id(a)) && entity.is_none_or(|en| about(a, en)))
            .collect();
        assert!(
            wrong.is_empty(),
            "{set}: `{detection}` must stay silent ({}), got:\n{}",
            e["reason"],
            summary(&wrong.into_iter().cloned().collect::<Vec<_>>())
        );
    }
    let unexplained: Vec<Value> = alerts
        .iter()
        .filter(|a| !explained.contains(rule_id(a)))
        .cloned()
        .collect();
    assert!(
        unexplained.is_empty(),
        "{set}: background raised alerts no expectation explains:\n{}",
        summary(&unexplained)
    );
}

fn summary(alerts: &[Value]) -> String {
    alerts
        .iter()
        .map(|a| {
            format!(
                "  {} {} {} group={} at {}",
                a["kind"], a["rule"]["id"], a["rule"]["title"], a["group"], a["event_time"]
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// (rule, group) of every alert, distinct alert ids once: the detections, whatever the shape.
fn detections(alerts: &[Value]) -> BTreeSet<(String, String, String)> {
    alerts
        .iter()
        .map(|a| {
            (
                rule_id(a).to_string(),
                a["group"].to_string(),
                a["first_event_time"]
                    .as_str()
                    .or(a["event_time"].as_str())
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

/// Replays a Windows set in both shapes and checks each; they must agree.
fn windows_set(set: &str) {
    let t = truth(set);
    let dir = realdata().join(set);
    let ecs = replay(&dir.join(t["events_file"].as_str().unwrap()), "winlogbeat.toml");
    check(set, &ecs, false);
    let flat = replay(&dir.join(t["events_flat_file"].as_str().unwrap()), "windows-flat.toml");
    check(set, &flat, true);
    assert_eq!(
        detections(&ecs),
        detections(&flat),
        "{set}: the Winlogbeat and flat shapes give different detections"
    );
}

// ── the sets ────────────────────────────────────────────────────────────────

#[test]
fn win_spray_deepblue() {
    windows_set("win-spray-deepblue");
}

#[test]
fn win_backdoor_user_otrf() {
    windows_set("win-backdoor-user-otrf");
}

#[test]
fn zeek_dga() {
    let set = "zeek-dga";
    let t = truth(set);
    let alerts = replay(
        &realdata().join(set).join(t["events_file"].as_str().unwrap()),
        "zeek-dns.toml",
    );
    check(set, &alerts, false);
    // Suppression folds a host's repeated firings into one alert per entity.
    let ids: BTreeSet<&str> = alerts.iter().map(|a| a["alert_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "one DGA alert per client address:\n{}", summary(&alerts));
}

#[test]
fn dns_benign_brim_stays_quiet() {
    let set = "dns-benign-brim";
    let t = truth(set);
    let alerts = replay(
        &realdata().join(set).join(t["events_file"].as_str().unwrap()),
        "zeek-dns.toml",
    );
    check(set, &alerts, false);
    let dns = tocsin::rules::load_paths(&[common::repo().join("rules/network/dns")]);
    assert!(dns.errors.is_empty(), "{:?}", dns.errors);
    let ids: BTreeSet<&str> = dns
        .rules
        .iter()
        .map(|r| r.key())
        .chain(dns.correlations.iter().map(|c| c.key()))
        .collect();
    assert!(ids.contains(DGA) && ids.len() >= 6, "the DNS rules: {ids:?}");
    let from_dns: Vec<Value> = alerts.iter().filter(|a| ids.contains(rule_id(a))).cloned().collect();
    assert!(
        from_dns.is_empty(),
        "53,615 background lookups raised DNS alerts:\n{}",
        summary(&from_dns)
    );
}

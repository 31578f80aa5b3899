//! Raw syslog sshd lines (issue 6: "Linux sshd ... as a raw syslog line in
//! `message` (parsed by the profile)"): field extraction (`[[extract]]`) and
//! the `syslog-sshd` profile.
//!
//! - the profile parses every sshd message the shipped rules need, from
//!   RFC 3164 and RFC 5424 lines, into the names `filebeat-sshd` provides;
//! - the same brute force then success, as Filebeat ECS JSON and as raw
//!   syslog lines (with the pipeline's `@timestamp`, bare RFC 5424, bare RFC
//!   3164), gives the same alerts with the shipped `rules/linux/sshd` rules;
//! - a bad pattern is a config error naming the source, the pattern, the
//!   reason and the line;
//! - a line no pattern parses is still classified and counted, and one no
//!   source claims is counted as unclassified: nothing is dropped silently.

mod common;

use std::path::Path;

use serde_json::{json, Value};

use tocsin::classify::Source;
use tocsin::config::Config;
use tocsin::decode::extract::Extraction;
use tocsin::decode::JsonDecoder;

/// The syslog-sshd source of a one-source config.
fn syslog_source() -> Source {
    let cfg = Config::parse("[[sources]]\nname = \"auth\"\nprofile = \"syslog-sshd\"\n", "t.toml").unwrap();
    Source::from_config(&cfg.sources[0])
}

/// The event as the pipeline continues with it (original + extracted
/// fields), or `None` when the source does not claim it.
fn parse(source: &Source, line: &Value) -> Option<Value> {
    let text = line.to_string();
    let mut d = JsonDecoder::new(1 << 20);
    let ev = d.decode(text.as_bytes()).unwrap();
    let mut x = Extraction::new();
    // 2024-03-01T10:00:00Z dates the year-less lines.
    let (claims, extracted) = source.classify(ev.root(), &mut x, Some(1_709_287_200_000_000_000));
    if !claims {
        return None;
    }
    if !extracted {
        return Some(ev.root().to_json());
    }
    let (aug, _) = x.augment(source.extract.as_deref().unwrap(), text.as_bytes()).unwrap();
    Some(aug.root().to_json())
}

fn msg(m: &str) -> Value {
    json!({ "message": m })
}

#[test]
fn the_profile_parses_the_sshd_messages_detection_needs() {
    let s = syslog_source();
    let fp = "RSA SHA256:LC7u45LFTZVgAtATRynyqPOkbTW/6nnNC8vMqcg2X2o";
    let cases: Vec<(Value, Value)> = vec![
        (
            json!({"@timestamp": "2024-03-01T10:00:00Z", "host": {"name": "bastion1"},
                   "message": "Mar  1 10:00:00 bastion1 sshd[1234]: Failed password for invalid user admin from 203.0.113.7 port 52144 ssh2"}),
            json!({"@timestamp": "2024-03-01T10:00:00Z", "host.hostname": "bastion1", "process.name": "sshd",
                   "process.pid": 1234, "system.auth.ssh.method": "password", "user.name": "admin",
                   "source.ip": "203.0.113.7", "source.port": 52144, "event.action": "ssh_login",
                   "event.outcome": "failure", "event.category": ["authentication"]}),
        ),
        (
            msg("Mar  1 10:00:05 bastion1 sshd[1240]: Failed publickey for root from 203.0.113.8 port 40000 ssh2: ED25519 SHA256:abc"),
            json!({"@timestamp": "2024-03-01T10:00:05", "system.auth.ssh.method": "publickey", "user.name": "root",
                   "system.auth.ssh.signature": "ED25519 SHA256:abc", "event.outcome": "failure"}),
        ),
        (
            msg(&format!("<38>1 2024-03-01T10:01:00.123Z bastion1 sshd 1250 - - Accepted publickey for deploy from 198.51.100.23 port 51710 ssh2: {fp}")),
            json!({"@timestamp": "2024-03-01T10:01:00.123Z", "host.hostname": "bastion1", "process.pid": 1250,
                   "system.auth.ssh.method": "publickey", "user.name": "deploy", "source.ip": "198.51.100.23",
                   "source.port": 51710, "system.auth.ssh.signature": fp, "event.action": "ssh_login",
                   "event.outcome": "success"}),
        ),
        (
            // RFC 5424 without PRI, with structured data; OpenSSH 9.8+'s sshd-session.
            msg("2024-03-01T10:01:30+01:00 bastion1 sshd-session 77 - [meta x=\"1\"] Accepted password for alice from 10.0.0.5 port 2222 ssh2"),
            json!({"@timestamp": "2024-03-01T10:01:30+01:00", "process.name": "sshd-session", "process.pid": 77,
                   "system.auth.ssh.method": "password", "user.name": "alice", "event.outcome": "success"}),
        ),
        (
            msg("<86>Mar  1 10:02:00 bastion1 sshd[1260]: Invalid user oracle from 198.51.100.23 port 40022"),
            json!({"user.name": "oracle", "source.ip": "198.51.100.23", "source.port": 40022,
                   "event.action": "invalid_user", "event.outcome": "failure"}),
        ),
        (
            msg("Mar  1 10:02:01 bastion1 sshd[1260]: Connection closed by invalid user oracle 198.51.100.23 port 40022 [preauth]"),
            json!({"user.name": "oracle", "source.ip": "198.51.100.23", "event.action": "ssh_disconnect",
                   "event.category": ["session"]}),
        ),
        (
            msg("Mar  1 10:02:02 bastion1 sshd[1261]: Connection closed by authenticating user root 203.0.113.9 port 1111 [preauth]"),
            json!({"user.name": "root", "source.ip": "203.0.113.9", "source.port": 1111, "event.action": "ssh_disconnect"}),
        ),
        (
            msg("Mar  1 10:02:03 bastion1 sshd[1262]: Connection closed by 203.0.113.10 port 2222 [preauth]"),
            json!({"source.ip": "203.0.113.10", "event.action": "ssh_disconnect"}),
        ),
        (
            msg("Mar  1 10:03:00 bastion1 sshd[1250]: Disconnected from user deploy 198.51.100.23 port 51710"),
            json!({"user.name": "deploy", "source.ip": "198.51.100.23", "event.action": "ssh_disconnect"}),
        ),
        (
            msg("Mar  1 10:04:00 bastion1 sshd[1270]: error: maximum authentication attempts exceeded for invalid user admin from 203.0.113.7 port 52150 ssh2 [preauth]"),
            json!({"user.name": "admin", "source.ip": "203.0.113.7", "source.port": 52150,
                   "event.action": "ssh_max_auth_attempts", "event.outcome": "failure"}),
        ),
        (
            // rsyslog's `%syslogtag%%msg%`: no time or host in the line.
            msg("sshd[1280]: Accepted password for bob from 10.0.0.6 port 3333 ssh2"),
            json!({"process.pid": 1280, "user.name": "bob", "source.ip": "10.0.0.6", "event.outcome": "success"}),
        ),
        (
            // An sshd message no pattern parses: the header's fields only.
            msg("Mar  1 10:05:00 bastion1 sshd[1290]: Received disconnect from 203.0.113.7 port 52150:11: Bye Bye [preauth]"),
            json!({"@timestamp": "2024-03-01T10:05:00", "host.hostname": "bastion1", "process.name": "sshd", "process.pid": 1290}),
        ),
    ];
    for (line, want) in cases {
        let got = parse(&s, &line).unwrap_or_else(|| panic!("not claimed: {line}"));
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(&got[k], v, "{k} of {line}\ngot {got}");
        }
    }
    let got = parse(
        &s,
        &msg("Mar  1 10:05:00 bastion1 sshd[1290]: Received disconnect from x"),
    )
    .unwrap();
    assert!(
        got.get("event.action").is_none() && got.get("user.name").is_none(),
        "{got}"
    );

    // Not sshd: not claimed (the event goes to a later source, or is counted as unclassified).
    for other in [
        msg("Mar  1 10:00:00 bastion1 CRON[5]: pam_unix(cron:session): session opened for user root"),
        msg("Mar  1 10:00:00 bastion1 sudo: alice : TTY=pts/0 ; COMMAND=/bin/sshd_config_edit"),
        json!({"event": {"dataset": "x"}}),
    ] {
        assert_eq!(parse(&s, &other), None, "{other}");
    }
}

/// The same ten failures then a root login from one address, and a key
/// login after an authorized_keys change, in four shapes.
fn sequence() -> Vec<Attempt> {
    // (time, outcome, user, port, method, host)
    let mut v = Vec::new();
    for (i, user) in [
        "admin", "oracle", "test", "ubuntu", "pi", "git", "postgres", "user", "deploy", "guest",
    ]
    .iter()
    .enumerate()
    {
        v.push((
            format!("2026-11-02T11:0{i}:10Z"),
            "failure",
            user.to_string(),
            40000 + i as u16,
            "password",
            "198.51.100.23",
        ));
    }
    v.push((
        "2026-11-02T11:09:50Z".into(),
        "success",
        "root".into(),
        40100,
        "password",
        "198.51.100.23",
    ));
    v.push((
        "2026-11-02T11:30:00Z".into(),
        "success",
        "deploy".into(),
        51710,
        "publickey",
        "203.0.113.7",
    ));
    v
}

const FP: &str = "RSA SHA256:LC7u45LFTZVgAtATRynyqPOkbTW/6nnNC8vMqcg2X2o";
const KEY_WRITTEN: &str = r#"{"@timestamp":"2026-11-02T11:20:00Z","host":{"name":"bastion-1"},"event":{"module":"file_integrity","action":["updated"],"category":["file"]},"file":{"path":"/home/deploy/.ssh/authorized_keys"}}"#;

type Attempt = (String, &'static str, String, u16, &'static str, &'static str);

/// The sequence in one shape: `line` renders an attempt given its sshd
/// message; the authorized_keys write goes in before the key login.
fn lines(mut line: impl FnMut(&Attempt, String) -> String) -> Vec<String> {
    let mut out = Vec::new();
    for a in sequence() {
        let (_, outcome, user, port, method, ip) = &a;
        if *method == "publickey" {
            out.push(KEY_WRITTEN.to_string()); // in time order: 11:20, before the 11:30 key login
        }
        let verb = if *outcome == "success" { "Accepted" } else { "Failed" };
        let sig = if *method == "publickey" {
            format!(": {FP}")
        } else {
            String::new()
        };
        let body = format!("{verb} {method} for {user} from {ip} port {port} ssh2{sig}");
        out.push(line(&a, body));
    }
    out
}

fn ecs_lines() -> Vec<String> {
    lines(|(t, outcome, user, port, method, ip), message| {
        let mut e = json!({
            "@timestamp": t, "host": {"hostname": "bastion-1"},
            "event": {"dataset": "system.auth", "action": "ssh_login", "outcome": outcome, "category": ["authentication"]},
            "process": {"name": "sshd", "pid": 2231}, "user": {"name": user},
            "source": {"ip": ip, "port": port},
            "system": {"auth": {"ssh": {"method": method}}},
            "message": message,
        });
        if *method == "publickey" {
            e["system"]["auth"]["ssh"]["signature"] = json!(FP);
        }
        e.to_string()
    })
}

/// `shape`: "pipeline" (Filebeat log input: @timestamp, host.name, the raw
/// RFC 3164 line), "5424" (the bare RFC 5424 line), "3164" (the bare RFC
/// 3164 line: year inferred, no zone).
fn syslog_lines(shape: &str) -> Vec<String> {
    lines(|(t, ..), body| {
        let ts = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap();
        let bsd = format!(
            "Nov {:>2} {:02}:{:02}:{:02}",
            ts.day(),
            ts.hour(),
            ts.minute(),
            ts.second()
        );
        let e = match shape {
            "pipeline" => json!({"@timestamp": t, "host": {"name": "bastion-1"},
                                 "message": format!("{bsd} bastion-1 sshd[2231]: {body}")}),
            "5424" => json!({"message": format!("<38>1 {t} bastion-1 sshd 2231 - - {body}")}),
            "3164" => json!({"message": format!("{bsd} bastion-1 sshd[2231]: {body}")}),
            _ => unreachable!(),
        };
        e.to_string()
    })
}

const CONFIG: &str = r#"
[[sources]]
name = "fim"
product = "linux"
category = "file_event"
when = { "event.module" = "file_integrity" }
field_map = { TargetFilename = "file.path" }

[[sources]]
name = "sshd"
profile = "PROFILE"
"#;

/// `tocsin run` with the shipped Linux rules; the alerts and the summary stats.
fn replay(dir: &Path, name: &str, profile: &str, lines: Vec<String>) -> (Vec<Value>, Value) {
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(&config, CONFIG.replace("PROFILE", profile)).unwrap();
    let input = common::write_lines(dir, &format!("{name}.ndjson"), lines);
    let r = common::replay(dir, name, &config, &common::repo().join("rules/linux"), &input);
    assert!(r.dead_letters.is_empty(), "{name}: {:?}", r.dead_letters);
    (r.alerts, r.stats)
}

/// What must not depend on the shape: rule, kind, time, group, count,
/// window, and who/where as the alert formats read them.
fn essence(alerts: &[Value]) -> Vec<Value> {
    let field = |ev: &Value, path: &str| -> Value {
        ev.get(path)
            .cloned()
            .or_else(|| ev.pointer(&format!("/{}", path.replace('.', "/"))).cloned())
            .unwrap_or(Value::Null)
    };
    let mut v: Vec<Value> = alerts
        .iter()
        .map(|a| {
            let ev = &a["evidence"][0]["event"];
            json!({
                "rule": a["rule"]["id"], "kind": a["kind"], "event_time": a["event_time"],
                "group": a["group"], "count": a["count"], "window": a["window"],
                "alert_id": if a["kind"] == "correlation" { a["alert_id"].clone() } else { Value::Null },
                "user": field(ev, "user.name"), "source_ip": field(ev, "source.ip"),
                "source_port": field(ev, "source.port"),
            })
        })
        .collect();
    v.sort_by_key(|a| a.to_string());
    v
}

#[test]
fn the_same_sshd_sequence_gives_the_same_alerts_as_ecs_json_and_as_raw_syslog_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (ecs, ecs_stats) = replay(dir.path(), "ecs", "filebeat-sshd", ecs_lines());
    let titles: Vec<&str> = {
        let mut t: Vec<&str> = ecs.iter().map(|a| a["rule"]["title"].as_str().unwrap()).collect();
        t.sort();
        t
    };
    assert_eq!(
        titles,
        [
            // The ten failures feed the brute-force correlation (not published on their own).
            "SSH Brute Force From One Source Followed by a Successful Login",
            "SSH Key Added on a Host Then Used to Log In",
            "SSH Login as Root Accepted",
        ]
    );
    let want = essence(&ecs);
    for shape in ["pipeline", "5424"] {
        let (got, stats) = replay(dir.path(), shape, "syslog-sshd", syslog_lines(shape));
        assert_eq!(essence(&got), want, "{shape}");
        assert_eq!(stats["events"], ecs_stats["events"], "{shape}");
        assert_eq!(stats["correlation_hits"], ecs_stats["correlation_hits"], "{shape}");
    }
    // Bare RFC 3164: the year is inferred (the current one, or its
    // neighbour nearest to now) and the time has no zone; the same alerts
    // at the inferred time.
    let (got, _) = replay(dir.path(), "3164", "syslog-sshd", syslog_lines("3164"));
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let year = tocsin::decode::extract::syslog_time("Nov  2 11:00:10", now).unwrap()[..4].to_string();
    let mut rules: Vec<(String, String)> = got
        .iter()
        .map(|a| {
            (
                a["rule"]["id"].as_str().unwrap().to_string(),
                a["event_time"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    rules.sort();
    let mut want_rules: Vec<(String, String)> = ecs
        .iter()
        .map(|a| {
            (
                a["rule"]["id"].as_str().unwrap().to_string(),
                a["event_time"].as_str().unwrap().replacen("2026", &year, 1),
            )
        })
        .collect();
    want_rules.sort();
    // The key-written event keeps its 2026 @timestamp: the correlation
    // across the two sources only holds when the inferred year is 2026.
    if year != "2026" {
        want_rules.retain(|(_, t)| !t.ends_with("11:20:00Z"));
        rules.retain(|(_, t)| !t.contains("11:20:00"));
    }
    assert_eq!(rules, want_rules);
}

#[test]
fn a_bad_pattern_is_a_config_error_naming_source_pattern_reason_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        r#"[[sources]]
name = "auth"
product = "linux"
service = "sshd"

[[extract]]
field = "message"
patterns = [
    '^sshd\[(?P<process.pid>\d+)\]: (?P<_msg>.*)$',
    '^Failed (?P<user.name>\S+ from (?P<source.ip>\S+)',
]
"#
        .replace("[[extract]]", "[[sources.extract]]"),
    )
    .unwrap();
    let o = common::run(&["config", "--config", config.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("c.toml:10"), "{err}");
    assert!(err.contains("source `auth`"), "{err}");
    assert!(
        err.contains(r"pattern `^Failed (?P<user.name>\S+ from (?P<source.ip>\S+)`"),
        "{err}"
    );
    assert!(err.contains("unclosed group"), "{err}");

    // The same pattern added to a profile's entries: named with the source.
    std::fs::write(
        &config,
        "[[sources]]\nname = \"auth2\"\nprofile = \"syslog-sshd\"\n[[sources.extract]]\nfield = \"message\"\npatterns = ['(?P<a>x', 'y']\n",
    )
    .unwrap();
    let o = common::run(&["run", "--config", config.to_str().unwrap(), "--input", "/dev/null"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("c.toml:6") && err.contains("source `auth2`"), "{err}");
    assert!(err.contains("pattern `(?P<a>x`"), "{err}");
}

#[test]
fn lines_no_pattern_parses_are_classified_and_counted_and_unclaimed_ones_counted() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        // Parsed.
        r#"{"@timestamp":"2026-11-02T11:00:00Z","message":"Nov  2 11:00:00 bastion-1 sshd[1]: Failed password for root from 203.0.113.7 port 1 ssh2"}"#,
        // sshd, no message pattern: the header's fields, classified, counted.
        r#"{"@timestamp":"2026-11-02T11:00:01Z","message":"Nov  2 11:00:01 bastion-1 sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0"}"#,
        r#"{"@timestamp":"2026-11-02T11:00:02Z","message":"Nov  2 11:00:02 bastion-1 sshd[1]: Received disconnect from 203.0.113.7 port 1:11: Bye [preauth]"}"#,
        // Not sshd: unclassified, counted.
        r#"{"@timestamp":"2026-11-02T11:00:03Z","message":"Nov  2 11:00:03 bastion-1 CRON[9]: (root) CMD (true)"}"#,
        // No time anywhere (no header): a dead letter would be wrong for an
        // unclaimed line, and it is not claimed.
        r#"{"message":"kernel: eth0 link up"}"#,
    ];
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[[sources]]\nname = \"auth\"\nprofile = \"syslog-sshd\"\n").unwrap();
    let input = common::write_lines(dir.path(), "in.ndjson", lines.iter().map(|s| s.to_string()));
    let summary = dir.path().join("s.json");
    let dead = dir.path().join("d.ndjson");
    let o = common::run(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--rules",
        common::repo().join("rules/linux/sshd").to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        "/dev/null",
        "--dead-letter",
        dead.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(s["stats"]["records"], 5);
    assert_eq!(s["stats"]["events"], 3, "{s}");
    assert_eq!(s["stats"]["unclassified"], 2, "{s}");
    assert_eq!(s["stats"]["matched_events"], 1, "{s}");
    assert!(common::file_lines(&dead).is_empty());
}

/// A bare RFC 3164 line has no zone: its `@timestamp` is written without
/// one, and log-quality monitoring reports the share of such times; the
/// pipeline's `@timestamp`, when there is one, is used instead.
#[test]
fn year_less_zone_less_syslog_times_are_reported_by_log_quality() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[[sources]]\nname = \"auth\"\nprofile = \"syslog-sshd\"\nrequired_fields = [\"user.name\"]\n",
    )
    .unwrap();
    let line = |i: usize, pipeline: bool| {
        let m = format!(
            "Nov  2 11:0{i}:10 bastion-1 sshd[22]: Failed password for root from 198.51.100.23 port 4000{i} ssh2"
        );
        if pipeline {
            json!({"@timestamp": format!("2026-11-02T11:0{i}:10Z"), "message": m}).to_string()
        } else {
            json!({ "message": m }).to_string()
        }
    };
    let run = |name: &str, pipeline: bool| {
        let input = common::write_lines(dir.path(), name, (0..5).map(|i| line(i, pipeline)));
        let o = common::run(&[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--rules",
            common::repo().join("rules/linux/sshd").to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        common::stdout_lines(&o)
    };
    let bare = run("bare.ndjson", false);
    assert_eq!(bare.len(), 1, "{bare:?}");
    assert_eq!(bare[0]["kind"], "log_quality");
    assert_eq!(bare[0]["group"]["measure"], "non_utc_time");
    assert_eq!(bare[0]["count"], 5);
    assert!(run("pipeline.ndjson", true).is_empty());
}

//! `tocsin run` through the binary: the embedded default, malformed input,
//! determinism, and the alert schema contract.

mod common;

use std::fs;
use std::io::Write;

use serde_json::Value;

#[test]
fn embedded_default_produces_the_expected_alerts() {
    let o = common::run(&["run"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let alerts = common::stdout_lines(&o);
    let mut titles: Vec<&str> = alerts.iter().map(|a| a["rule"]["title"].as_str().unwrap()).collect();
    titles.sort();
    assert_eq!(
        titles,
        vec![
            "Account Locked Out",
            "Account Locked Out",
            "Account Locked Out",
            "Account Lockout Storm on One Host",
            "Brute Force Followed by Successful Logon",
            "Certutil Used to Download a File",
            "Log quality: missing_field in source linux-sshd-syslog",
            "Log quality: missing_field in source linux-sshd-syslog",
            "Member Added to a Privileged Local or Domain Group",
            "Password Spraying From One Source",
            "PowerShell Encoded Command",
            "SSH Key Added on a Host Then Used to Log In",
            "SSH Login as Root Accepted",
            "Security Audit Log Cleared",
        ]
    );
    // samples/bastion.ndjson: authorized_keys written (Auditbeat), then a key
    // login read from a raw RFC 5424 sshd line by the syslog-sshd profile.
    let key = alerts
        .iter()
        .find(|a| a["rule"]["title"] == "SSH Key Added on a Host Then Used to Log In")
        .unwrap();
    assert_eq!(key["group"]["host.name"], "bastion-1");
    assert_eq!(key["window"]["end"], "2026-11-02T09:25:30Z");
    assert_eq!(key["evidence_refs"][1]["topic"], "syslog-auth");
    // The one deliberate log-quality finding: the raw-syslog bastion source
    // (`schema = "bastion"`) lacks the key fingerprint of its password
    // attempts, disconnects and PAM line (5 of 6), the PAM line also an
    // action; every other sample source satisfies its schema.
    let mut quality: Vec<String> = alerts
        .iter()
        .filter(|a| a["kind"] == "log_quality")
        .map(|a| format!("{} {} {}", a["group"]["source"], a["group"]["field"], a["count"]))
        .collect();
    quality.sort();
    assert_eq!(
        quality,
        [
            r#""linux-sshd-syslog" "event.action" 1"#,
            r#""linux-sshd-syslog" "ssh.key.fingerprint" 5"#
        ]
    );
    let brute = alerts
        .iter()
        .find(|a| a["rule"]["title"] == "Brute Force Followed by Successful Logon")
        .unwrap();
    assert_eq!(brute["kind"], "correlation");
    assert_eq!(brute["group"]["TargetUserName"], "carol");
    assert_eq!(brute["window"]["end"], "2026-11-02T09:11:30Z");
    let spray = alerts
        .iter()
        .find(|a| a["rule"]["title"] == "Password Spraying From One Source")
        .unwrap();
    assert_eq!(spray["group"]["IpAddress"], "203.0.113.50");
    assert_eq!(spray["count"], 10);
    common::assert_schema_valid(&alerts);
    let admin = alerts
        .iter()
        .find(|a| a["rule"]["title"] == "Member Added to a Privileged Local or Domain Group")
        .unwrap();
    assert_eq!(
        admin["evidence"][0]["event"]["winlog"]["event_data"]["MemberName"],
        "CN=mallory,OU=Users,DC=corp,DC=local"
    );
    // The real path: sample line 9 went to partition 0 of `winlogbeat` as its 5th record.
    assert_eq!(
        admin["source"],
        serde_json::json!({"type": "kafka", "topic": "winlogbeat", "partition": 0, "offset": 4})
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("\"reason\":\"invalid_json\""), "{stderr}");
    assert!(stderr.contains("\"reason\":\"no_event_time\""), "{stderr}");
    // The secret in the sample `net use` command line never reaches an alert.
    assert!(!String::from_utf8_lossy(&o.stdout).contains("Winter2026!"));
}

/// The same events give the same alerts streamed through Kafka (the embedded
/// default, two partitions per topic) as replayed from the file.
#[test]
fn kafka_and_file_replay_give_the_same_alert_ids() {
    let ids = |alerts: &[Value]| {
        let mut v: Vec<String> = alerts
            .iter()
            .map(|a| a["alert_id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let kafka = common::run(&["run"]);
    let repo = common::repo();
    let file = common::run(&[
        "run",
        "--rules",
        repo.join("rules").to_str().unwrap(),
        "--config",
        repo.join("samples/tocsin.toml").to_str().unwrap(),
        "--input",
        repo.join("samples/events.ndjson").to_str().unwrap(),
        repo.join("samples/bastion.ndjson").to_str().unwrap(),
    ]);
    assert!(kafka.status.success() && file.status.success());
    let (k, f) = (common::stdout_lines(&kafka), common::stdout_lines(&file));
    assert_eq!(k.len(), 14);
    assert_eq!(ids(&k), ids(&f));
}

#[test]
fn same_input_gives_byte_identical_alerts() {
    let a = common::run(&["run"]);
    let b = common::run(&["run"]);
    assert!(a.status.success() && b.status.success());
    assert_eq!(a.stdout, b.stdout);
}

const RULE: &str = r#"
title: Test Rule
id: 11111111-2222-3333-4444-555555555555
level: high
logsource:
    product: test
detection:
    selection:
        msg|contains: needle
    condition: selection
"#;

#[test]
fn malformed_lines_go_to_dead_letters_and_good_lines_still_alert() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rule.yml");
    fs::write(&rules, RULE).unwrap();
    let input = dir.path().join("in.ndjson");
    let mut f = fs::File::create(&input).unwrap();
    let good = |n: u32| format!("{{\"@timestamp\":\"2024-01-01T00:00:0{n}Z\",\"msg\":\"a needle {n}\"}}\n");
    f.write_all(good(1).as_bytes()).unwrap(); // line 1
    f.write_all(b"{\"msg\": \"needle\", \n").unwrap(); // 2: invalid JSON
    f.write_all(b"{\"msg\":\"needle \xff\xfe\",\"@timestamp\":\"2024-01-01T00:00:00Z\"}\n")
        .unwrap(); // 3: invalid UTF-8
    f.write_all(b"[\"needle\"]\n").unwrap(); // 4: not an object
    f.write_all(b"\n").unwrap(); // 5: empty
    let big = format!(
        "{{\"@timestamp\":\"2024-01-01T00:00:00Z\",\"msg\":\"needle{}\"}}\n",
        "x".repeat(10 * 1024 * 1024)
    );
    f.write_all(big.as_bytes()).unwrap(); // 6: 10 MB
    f.write_all(b"{\"msg\":\"needle without time\"}\n").unwrap(); // 7: no event time
    f.write_all(good(2).as_bytes()).unwrap(); // 8
    drop(f);
    let out = dir.path().join("alerts.ndjson");
    let dl = dir.path().join("dead.ndjson");
    let summary = dir.path().join("summary.json");
    let o = common::run(&[
        "run",
        "--rules",
        rules.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--logsource",
        "product=test",
        "--output",
        out.to_str().unwrap(),
        "--dead-letter",
        dl.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let alerts = common::file_lines(&out);
    let lines: Vec<u64> = alerts.iter().map(|a| a["source"]["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![1, 8]);
    common::assert_schema_valid(&alerts);
    let dead = common::file_lines(&dl);
    let got: Vec<(u64, &str)> = dead
        .iter()
        .map(|d| (d["source"]["line"].as_u64().unwrap(), d["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, "invalid_json"),
            (3, "invalid_utf8"),
            (4, "not_object"),
            (5, "empty"),
            (6, "too_large"),
            (7, "no_event_time")
        ]
    );
    assert_eq!(
        dead[1]["raw_base64"].as_str().map(|s| !s.is_empty()),
        Some(true),
        "invalid UTF-8 kept as base64"
    );
    assert!(
        dead[4]["raw_len"].as_u64().unwrap() > 10 * 1024 * 1024,
        "true length of the long line is reported"
    );
    let s: Value = serde_json::from_slice(&fs::read(&summary).unwrap()).unwrap();
    assert_eq!(s["stats"]["records"], 8);
    assert_eq!(s["stats"]["alerts"], 2);
    assert_eq!(s["stats"]["dead_letters"]["invalid_json"], 1);
    assert_eq!(s["stats"]["dead_letters"]["too_large"], 1);
}

#[test]
fn bad_rules_refuse_to_run_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    fs::write(&bad, RULE.replace("msg|contains", "msg|containz")).unwrap();
    let o = common::run(&[
        "run",
        "--rules",
        bad.to_str().unwrap(),
        "--input",
        "-",
        "--logsource",
        "product=test",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("{}:9:", bad.display())), "{err}");
    assert!(err.contains("containz"), "{err}");
}

#[test]
fn validate_lists_every_problem_and_summarises() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("good.yml"), RULE).unwrap();
    fs::write(
        dir.path().join("bad_regex.yml"),
        RULE.replace("msg|contains: needle", "msg|re: 'a(b'")
            .replace("1111", "4444"),
    )
    .unwrap();
    fs::write(
        dir.path().join("bad_cidr.yml"),
        RULE.replace("msg|contains: needle", "ip|cidr: 10.0.0.0/33")
            .replace("1111", "2222"),
    )
    .unwrap();
    fs::write(
        dir.path().join("bad_cond.yml"),
        RULE.replace("condition: selection", "condition: selection and")
            .replace("1111", "3333"),
    )
    .unwrap();
    let o = common::run(&["validate", "--rules", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("bad_regex.yml:9:") && out.contains("regular expression"),
        "{out}"
    );
    assert!(out.contains("bad_cidr.yml:9:") && out.contains("CIDR"), "{out}");
    assert!(out.contains("bad_cond.yml:10:"), "{out}");
    assert!(out.contains("1 rule(s) loaded, 3 rejected"), "{out}");
}

/// Archived logs replay as they are: a gzip file from `../shared/realdata`
/// is decompressed on the fly (by its magic bytes) and every record is read.
#[test]
fn gzip_input_is_read_transparently() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("s.json");
    let input = common::shared().join("realdata/dns-benign-brim/events.ndjson.gz");
    let out = common::bin()
        .current_dir(common::repo())
        .args([
            "run",
            "--rules",
            "rules/network",
            "--logsource",
            "product=zeek,service=dns",
            "--time-field",
            "ts",
            "--input",
        ])
        .arg(&input)
        .args(["--output", "/dev/null", "--dead-letter", "/dev/null", "--summary-json"])
        .arg(&summary)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(s["stats"]["records"], 53_615, "truth.json event_count");
    assert_eq!(s["stats"]["dead_letters"], serde_json::json!({}), "every line decoded");
}

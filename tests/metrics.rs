//! The metrics endpoint through the binary: a replay of the samples with
//! `--metrics-addr 127.0.0.1:0 --metrics-hold`, then `/metrics` scraped over
//! HTTP and checked against the run's own summary; `/healthz`, `/readyz`, 404.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the metrics endpoint");
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// `name{labels}` → value, for every sample line.
fn samples(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// Text exposition rule: every sample follows its family's `# TYPE` line,
/// and a family's samples are contiguous.
fn assert_exposition_grouped(body: &str) {
    let mut current = String::new();
    let mut done = std::collections::BTreeSet::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split_whitespace().next().unwrap().to_string();
            assert!(done.insert(name.clone()), "family {name} declared twice");
            current = name;
        } else if !line.starts_with('#') && !line.is_empty() {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = name.trim_end_matches("_sum").trim_end_matches("_count");
            assert!(
                name == current || family == current,
                "sample `{line}` outside its family block (current: {current})"
            );
        }
    }
}

#[test]
fn a_replay_is_scraped_with_the_summary_counts() {
    let dir = tempfile::tempdir().unwrap();
    let repo = common::repo();
    let log = dir.path().join("stderr");
    let summary = dir.path().join("summary.json");
    let mut child = common::bin()
        .current_dir(&repo)
        .args([
            "--log-format",
            "json",
            "run",
            "--rules",
            "rules",
            "--config",
            "samples/tocsin.toml",
            "--input",
            "samples/events.ndjson",
            "--output",
            "/dev/null",
            "--dead-letter",
            "/dev/null",
            "--metrics-addr",
            "127.0.0.1:0",
            "--metrics-hold",
            "--summary-json",
        ])
        .arg(&summary)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("serving metrics until") {
            let line = text
                .lines()
                .find(|l| l.contains("metrics listening"))
                .expect("address logged");
            let v: serde_json::Value = serde_json::from_str(line).expect("JSON log line");
            break v["fields"]["addr"].as_str().expect("addr field").to_string();
        }
        assert!(child.try_wait().unwrap().is_none(), "exited early:\n{text}");
        assert!(Instant::now() < deadline, "no metrics endpoint:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    };

    let (status, body) = get(&addr, "/metrics");
    assert_eq!(status, 200);
    assert_exposition_grouped(&body);
    let m = samples(&body);
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    let stats = &s["stats"];
    assert_eq!(m["tocsin_records_total"], stats["records"].as_f64().unwrap());
    assert_eq!(m["tocsin_alerts_total"], stats["alerts"].as_f64().unwrap());
    assert_eq!(m["tocsin_alerts_total"], 11.0, "the samples give 11 alerts");
    for (reason, n) in stats["dead_letters"].as_object().unwrap() {
        assert_eq!(
            m[&format!("tocsin_dead_letters_total{{reason=\"{reason}\"}}")],
            n.as_f64().unwrap()
        );
    }
    for (rule, n) in stats["rule_alerts"].as_object().unwrap() {
        assert_eq!(
            m[&format!("tocsin_rule_alerts_total{{rule=\"{rule}\"}}")],
            n.as_f64().unwrap()
        );
    }
    let per_source: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("tocsin_events_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        per_source,
        stats["events"].as_f64().unwrap(),
        "events per source add up"
    );
    assert_eq!(
        m["tocsin_alert_latency_seconds_count"], 11.0,
        "one latency sample per alert"
    );
    assert!(m["tocsin_batch_seconds_count"] >= 1.0);
    assert!(m.keys().any(|k| k.starts_with("tocsin_correlation_groups{rule=")));
    assert_eq!(m["tocsin_ready"], 1.0);

    assert_eq!(get(&addr, "/healthz"), (200, "ok\n".into()));
    assert_eq!(get(&addr, "/readyz"), (200, "ready\n".into()));
    assert_eq!(get(&addr, "/nope").0, 404);

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

/// One event in 1,024 has its rules timed: over 2,100 events a rule that
/// every event wakes is timed three times, and its estimated time exported.
#[test]
fn rule_evaluation_time_is_sampled_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("r.yml");
    std::fs::write(
        &rules,
        "title: failed logon\nid: failed-logon-x\nlogsource:\n    product: windows\n    service: security\ndetection:\n    sel:\n        EventID: 4625\n        TargetUserName|re: '^[a-z]+[0-9]*$'\n    condition: sel\nlevel: low\n",
    )
    .unwrap();
    let lines: Vec<String> = (0..2100)
        .map(|i| format!("{{\"@timestamp\":\"2026-01-01T00:00:00Z\",\"EventID\":4625,\"TargetUserName\":\"u{i}\"}}"))
        .collect();
    let input = common::write_lines(dir.path(), "in.ndjson", lines);
    let log = dir.path().join("stderr");
    let mut child = common::bin()
        .args(["--log-format", "json", "run", "--rules"])
        .arg(&rules)
        .args(["--logsource", "product=windows,service=security", "--input"])
        .arg(&input)
        .args([
            "--output",
            "/dev/null",
            "--metrics-addr",
            "127.0.0.1:0",
            "--metrics-hold",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("serving metrics until") {
            let line = text.lines().find(|l| l.contains("metrics listening")).unwrap();
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            break v["fields"]["addr"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no metrics endpoint:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let m = samples(&get(&addr, "/metrics").1);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert_eq!(m["tocsin_rule_eval_sampled_total{rule=\"failed-logon-x\"}"], 3.0);
    assert!(m["tocsin_rule_eval_seconds_total{rule=\"failed-logon-x\"}"] > 0.0);
}

//! Correlation through the public `tocsin run` path: the same events give the
//! same alert ids with 1 or 8 shards, shuffled within the out-of-orderness
//! bound, or split over several files; the alerts equal a brute-force
//! reference model; late events are dead-lettered.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

const RULES: &str = r#"
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
title: Many Failed Logons
id: many-failed
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
"#;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Failed (and some successful) logons for a few users, in event-time order.
fn stream(seed: u64, n: usize) -> Vec<(i64, String, u32)> {
    let mut rng = Rng(seed | 1);
    let mut t = 1_700_000_000i64;
    (0..n)
        .map(|_| {
            t += (rng.next() % 40) as i64;
            let user = format!("user{}", rng.next() % 6);
            let eid = if rng.next().is_multiple_of(5) { 4624 } else { 4625 };
            (t, user, eid)
        })
        .collect()
}

fn line(e: &(i64, String, u32)) -> String {
    format!(
        r#"{{"@timestamp":{},"EventID":{},"Channel":"Security","TargetUserName":"{}","IpAddress":"10.0.0.1"}}"#,
        e.0, e.2, e.1
    )
}

/// Reference: sliding 10-minute window per user, fire at the 5th hit, then restart.
fn model(events: &[(i64, String, u32)]) -> BTreeSet<(String, i64)> {
    let mut out = BTreeSet::new();
    let mut windows: std::collections::HashMap<&str, Vec<i64>> = Default::default();
    for (t, user, eid) in events {
        if *eid != 4625 {
            continue;
        }
        let w = windows.entry(user).or_default();
        w.retain(|&x| x >= t - 600);
        w.push(*t);
        if w.len() >= 5 {
            out.insert((user.clone(), w[0]));
            w.clear();
        }
    }
    out
}

fn run(dir: &Path, inputs: &[&Path], extra: &[&str]) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let o = common::run_rules(dir, RULES, inputs, extra);
    (o.alerts, o.dead_letters)
}

fn correlation_ids(alerts: &[serde_json::Value]) -> BTreeSet<String> {
    alerts
        .iter()
        .filter(|a| a["kind"] == "correlation")
        .map(|a| a["alert_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn same_alerts_across_shards_shuffles_and_file_splits_and_equal_to_model() {
    for seed in [1u64, 7, 42] {
        let dir = tempfile::tempdir().unwrap();
        let events = stream(seed, 400);
        let whole = dir.path().join("whole.ndjson");
        fs::write(&whole, events.iter().map(line).collect::<Vec<_>>().join("\n")).unwrap();
        let (alerts, dead) = run(dir.path(), &[&whole], &[]);
        assert!(dead.is_empty(), "{dead:?}");
        let expected = model(&events);
        assert!(!expected.is_empty());
        let got: BTreeSet<(String, i64)> = alerts
            .iter()
            .filter(|a| a["kind"] == "correlation")
            .map(|a| {
                let first = a["first_event_time"].as_str().unwrap();
                let t = time::OffsetDateTime::parse(first, &time::format_description::well_known::Rfc3339).unwrap();
                (
                    a["group"]["TargetUserName"].as_str().unwrap().to_string(),
                    t.unix_timestamp(),
                )
            })
            .collect();
        assert_eq!(got, expected, "seed {seed}: alerts differ from the reference model");
        let ids = correlation_ids(&alerts);

        let (sharded, _) = run(dir.path(), &[&whole], &["--shards", "8"]);
        assert_eq!(correlation_ids(&sharded), ids, "seed {seed}: 8 shards");

        // Shuffle: swap neighbours closer than the 5 s bound.
        let mut shuffled = events.clone();
        for i in (1..shuffled.len()).step_by(2) {
            if shuffled[i].0 - shuffled[i - 1].0 < 5 {
                shuffled.swap(i, i - 1);
            }
        }
        let sh = dir.path().join("shuffled.ndjson");
        fs::write(&sh, shuffled.iter().map(line).collect::<Vec<_>>().join("\n")).unwrap();
        let (alerts_sh, dead_sh) = run(dir.path(), &[&sh], &["--shards", "3"]);
        assert!(dead_sh.is_empty(), "nothing is late within the bound: {dead_sh:?}");
        assert_eq!(correlation_ids(&alerts_sh), ids, "seed {seed}: shuffled");

        // Split into three consecutive chunks, read as three partitions.
        let parts: Vec<_> = events
            .chunks(events.len() / 3 + 1)
            .enumerate()
            .map(|(i, c)| {
                let p = dir.path().join(format!("part{i}.ndjson"));
                fs::write(&p, c.iter().map(line).collect::<Vec<_>>().join("\n")).unwrap();
                p
            })
            .collect();
        let refs: Vec<&Path> = parts.iter().map(|p| p.as_path()).collect();
        let (alerts_split, dead_split) = run(dir.path(), &refs, &[]);
        assert!(dead_split.is_empty(), "{dead_split:?}");
        assert_eq!(correlation_ids(&alerts_split), ids, "seed {seed}: split files");
    }
}

#[test]
fn late_events_are_dead_lettered_with_reason_late() {
    let dir = tempfile::tempdir().unwrap();
    let mut events = stream(3, 50);
    let last = events.last().unwrap().0;
    events.push((last + 100, "zed".into(), 4625));
    events.push((last - 3600, "zed".into(), 4625)); // an hour behind the stream
    let f = dir.path().join("late.ndjson");
    fs::write(&f, events.iter().map(line).collect::<Vec<_>>().join("\n")).unwrap();
    let (_, dead) = run(dir.path(), &[&f], &[]);
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["reason"], "late");
    assert_eq!(dead[0]["source"]["line"], 52);
}

#[test]
fn suppression_folds_repeat_firings_into_one_alert() {
    let dir = tempfile::tempdir().unwrap();
    // 20 failures for one user within ten minutes: `gte: 5` fires four times.
    let events: Vec<_> = (0..20)
        .map(|i| (1_700_000_000 + i * 20, "mallory".to_string(), 4625))
        .collect();
    let f = dir.path().join("burst.ndjson");
    fs::write(&f, events.iter().map(line).collect::<Vec<_>>().join("\n")).unwrap();
    let (plain, _) = run(dir.path(), &[&f], &[]);
    assert_eq!(correlation_ids(&plain).len(), 4, "without suppression: four alerts");

    let rules = RULES.replace("generate: true", "generate: true\ntocsin:\n    suppress: 30m");
    let alerts: Vec<_> = common::run_rules(dir.path(), &rules, &[&f], &[])
        .alerts
        .into_iter()
        .filter(|a| a["kind"] == "correlation")
        .collect();
    assert_eq!(alerts.len(), 4, "one alert and three updates");
    assert_eq!(correlation_ids(&alerts).len(), 1, "updates keep the alert id");
    let last = alerts.last().unwrap();
    assert_eq!(last["count"], 20);
    assert_eq!(last["updates"], 3);
    assert!(alerts[0].get("updates").is_none());
}

#[test]
fn a_rule_cap_evicts_oldest_groups_and_raises_a_state_overflow_meta_alert() {
    let dir = tempfile::tempdir().unwrap();
    // 30 users fail once each, a second apart; then user0..user4 fail 5 times.
    let mut events: Vec<_> = (0..30).map(|i| (1_700_000_000 + i, format!("user{i}"), 4625)).collect();
    for k in 0..5 {
        for u in 0..5 {
            events.push((1_700_000_100 + k * 5 + u, format!("user{u}"), 4625));
        }
    }
    let f = dir.path().join("many.ndjson");
    fs::write(&f, events.iter().map(line).collect::<Vec<_>>().join("\n")).unwrap();
    let capped = RULES.replace("generate: true", "generate: true\ntocsin:\n    max_groups: 10");
    for shards in ["1", "4"] {
        let o = common::run_rules(dir.path(), &capped, &[&f], &["--shards", shards]);
        assert!(o.dead_letters.is_empty(), "{:?}", o.dead_letters);
        common::assert_schema_valid(&o.alerts);
        let overflow: Vec<_> = o.alerts.iter().filter(|a| a["kind"] == "state_overflow").collect();
        assert_eq!(overflow.len(), 1, "one meta-alert per rule per hour: {overflow:?}");
        assert_eq!(overflow[0]["rule"]["id"], "many-failed");
        assert_eq!(overflow[0]["count"], 1);
        // The 5 users hit repeatedly are the newest groups: never evicted, all fire.
        let fired: BTreeSet<_> = o
            .correlations()
            .iter()
            .map(|a| a["group"]["TargetUserName"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(fired, (0..5).map(|u| format!("user{u}")).collect(), "shards={shards}");
    }
}

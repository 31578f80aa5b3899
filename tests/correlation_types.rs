//! End to end through `tocsin run`, one test per correlation type and
//! feature (design notes §3), each with hand-written events and the exact
//! alerts expected: rule, group, count or value, window, first and last event
//! time, contributing rules, and the input lines of the evidence.
//!
//! Events are written in event-time order unless a test says otherwise; times
//! are seconds after 2024-05-01T10:00:00Z. Line numbers count from 1.

mod common;

use serde_json::{json, Value};

/// 2024-05-01T10:00:00Z.
const T0: i64 = 1_714_557_600;

/// Detection rules the correlations reference. `vpn-login` names the user
/// `SubjectUserName` where the Windows logon rules say `TargetUserName`.
const BASE: &str = "
title: Failed Logon
id: failed-logon
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
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4624
    condition: selection
level: low
---
title: Special Privileges Assigned
id: special-logon
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4672
    condition: selection
level: low
---
title: VPN Login
id: vpn-login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 6272
    condition: selection
level: low
---
title: Outbound Transfer
id: transfer
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 5156
    condition: selection
level: low
";

/// RFC 3339 of `secs` after [`T0`], as alerts write times.
fn at(secs: i64) -> String {
    common::rfc3339_ms((T0 + secs) * 1000)
}

/// An event at `secs` with `EventID` and the given fields.
fn ev(secs: i64, event_id: u32, fields: Value) -> String {
    let mut v = json!({ "@timestamp": at(secs), "EventID": event_id, "Channel": "Security" });
    v.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    v.to_string()
}

/// A failed logon (4625) of `user`.
fn failed(secs: i64, user: &str) -> String {
    ev(secs, 4625, json!({ "TargetUserName": user }))
}

/// A successful logon (4624) of `user`.
fn success(secs: i64, user: &str) -> String {
    ev(secs, 4624, json!({ "TargetUserName": user }))
}

/// A transfer (5156) of `bytes` by `user`.
fn transfer(secs: i64, user: &str, bytes: Value) -> String {
    ev(secs, 5156, json!({ "TargetUserName": user, "BytesSent": bytes }))
}

/// Runs the base rules plus `correlations` over `events` (one file).
fn run(correlations: &str, events: &[String], extra: &[&str]) -> common::RunOutput {
    let dir = tempfile::tempdir().unwrap();
    let input = common::write_lines(dir.path(), "events.ndjson", events.iter().cloned());
    common::run_rules(dir.path(), &format!("{BASE}---\n{correlations}"), &[&input], extra)
}

/// A correlation alert as the tests state it: rule, group, count, value
/// (value_* types only), window `[start, end]`, first and last event time,
/// contributing rules and the input lines of `evidence_refs`.
fn summary(a: &Value) -> Value {
    let lines: Vec<Value> = a["evidence_refs"]
        .as_array()
        .map_or(Vec::new(), |r| r.iter().map(|p| p["line"].clone()).collect());
    let mut s = json!({
        "rule": a["rule"]["id"],
        "group": a["group"],
        "count": a["count"],
        "window": [a["window"]["start"], a["window"]["end"]],
        "first": a["first_event_time"],
        "last": a["last_event_time"],
        "contributing": a["contributing_rules"],
        "refs": lines,
    });
    if let Some(v) = a.get("value") {
        s["value"] = v.clone();
    }
    s
}

/// Every correlation alert of a run, summarised, in output order.
fn summaries(o: &common::RunOutput) -> Vec<Value> {
    o.correlations().into_iter().map(summary).collect()
}

/// [`summaries`] of a run that must have no dead letters.
fn correlations(o: &common::RunOutput) -> Vec<Value> {
    assert!(o.dead_letters.is_empty(), "{:?}", o.dead_letters);
    summaries(o)
}

/// (reason, input line) of each dead letter.
fn dead_letters(o: &common::RunOutput) -> Vec<(Value, Value)> {
    o.dead_letters
        .iter()
        .map(|d| (d["reason"].clone(), d["source"]["line"].clone()))
        .collect()
}

/// The expected summary of one alert (`value: None` for counting types).
#[allow(clippy::too_many_arguments)]
fn alert(
    rule: &str,
    group: Value,
    count: u64,
    value: Option<f64>,
    window: (i64, i64),
    first_last: (i64, i64),
    contributing: &[&str],
    refs: &[u64],
) -> Value {
    let mut s = json!({
        "rule": rule,
        "group": group,
        "count": count,
        "window": [at(window.0), at(window.1)],
        "first": at(first_last.0),
        "last": at(first_last.1),
        "contributing": contributing,
        "refs": refs,
    });
    if let Some(v) = value {
        s["value"] = json!(v);
    }
    s
}

/// Every alert of a run in output order: `match <rule> @<secs>` or `correlation <rule> <group>`.
/// Match alerts in output order, then correlation alerts in output order.
/// Correlation alerts are emitted at correlator flushes (batched: every few
/// thousand records, at partition ends and at end of input), so where they
/// fall between match alerts is not part of the contract; the order within
/// each kind is.
fn trace(o: &common::RunOutput) -> Vec<String> {
    let (matches, others): (Vec<_>, Vec<_>) = o.alerts.iter().partition(|a| a["kind"] == "match");
    let matches = matches.into_iter().map(|a| {
        let secs = common::rfc3339_ns(a["event_time"].as_str().unwrap()) / 1_000_000_000 - T0 as i128;
        format!("match {} @{secs}", a["rule"]["id"].as_str().unwrap())
    });
    let others = others.into_iter().map(|a| {
        format!(
            "{} {} {}",
            a["kind"].as_str().unwrap(),
            a["rule"]["id"].as_str().unwrap(),
            a["group"]
        )
    });
    matches.chain(others).collect()
}

#[test]
fn temporal_fires_when_every_rule_is_seen_within_the_span_in_any_order() {
    let rules = "
title: Logon Chain
id: logon-chain
correlation:
    type: temporal
    rules: [failed-logon, successful-logon, special-logon]
    group-by: [TargetUserName]
    timespan: 5m
";
    let events = [
        ev(0, 4672, json!({ "TargetUserName": "alice" })),
        failed(10, "bob"),
        failed(60, "alice"),
        success(70, "bob"),
        success(120, "alice"),
        // bob's failure (10) and success (70) are more than 5m before this.
        ev(400, 4672, json!({ "TargetUserName": "bob" })),
    ];
    assert_eq!(
        correlations(&run(rules, &events, &[])),
        [alert(
            "logon-chain",
            json!({ "TargetUserName": "alice" }),
            3,
            None,
            (0, 120),
            (0, 120),
            &["failed-logon", "successful-logon", "special-logon"],
            &[1, 3, 5],
        )]
    );
}

/// temporal_ordered over failure, success, privileges for alice (in order),
/// bob (reversed), carol (privileges before success; in order too late).
fn ordered_run() -> common::RunOutput {
    let rules = "
title: Failure Success Privileges
id: ordered-chain
correlation:
    type: temporal_ordered
    rules: [failed-logon, successful-logon, special-logon]
    group-by: [TargetUserName]
    timespan: 5m
";
    let special = |secs, user: &str| ev(secs, 4672, json!({ "TargetUserName": user }));
    let events = [
        failed(0, "alice"),
        special(10, "bob"),
        success(20, "bob"),
        success(30, "alice"),
        failed(40, "bob"), // bob: reverse order
        failed(50, "carol"),
        special(60, "alice"),
        special(70, "carol"), // carol: privileges before the success
        success(80, "carol"),
        special(400, "carol"), // in order at last, but 350s after carol's failure
    ];
    run(rules, &events, &[])
}

/// alice's sequence: lines 1 (failure), 4 (success), 7 (privileges).
fn ordered_alert(refs: &[u64]) -> Value {
    let all = ["failed-logon", "successful-logon", "special-logon"];
    alert(
        "ordered-chain",
        json!({ "TargetUserName": "alice" }),
        3,
        None,
        (0, 60),
        (0, 60),
        &all,
        refs,
    )
}

#[test]
fn temporal_ordered_fires_only_in_the_order_of_its_rules() {
    // Everything but the evidence lines, which the next test checks.
    let without_refs = |mut a: Value| {
        a.as_object_mut().unwrap().remove("refs");
        a
    };
    let got: Vec<Value> = correlations(&ordered_run()).into_iter().map(without_refs).collect();
    assert_eq!(got, [without_refs(ordered_alert(&[]))]);
}

#[test]
fn temporal_ordered_evidence_names_every_step() {
    assert_eq!(correlations(&ordered_run()), [ordered_alert(&[1, 4, 7])]);
}

#[test]
fn value_count_counts_distinct_values_and_ignores_hits_without_the_field() {
    let rules = "
title: Password Spray
id: spray
correlation:
    type: value_count
    rules: [failed-logon]
    group-by: [IpAddress]
    timespan: 5m
    condition:
        field: TargetUserName
        gte: 3
";
    let from = |secs, ip: &str, user: Option<&str>| {
        let mut f = json!({ "IpAddress": ip });
        if let Some(u) = user {
            f["TargetUserName"] = json!(u);
        }
        ev(secs, 4625, f)
    };
    let events = [
        from(0, "10.0.0.1", Some("alice")),
        from(10, "10.0.0.1", Some("alice")),
        from(20, "10.0.0.1", Some("bob")),
        from(25, "10.0.0.1", None),
        from(30, "10.0.0.1", Some("carol")),
        from(40, "10.0.0.2", Some("alice")),
        from(50, "10.0.0.2", Some("bob")),
        from(60, "10.0.0.2", Some("alice")),
        from(400, "10.0.0.2", Some("dave")), // alice and bob have left the window
    ];
    // Each distinct user counts at its latest hit: the window that shows
    // alice, bob and carol starts at alice's second failure (10).
    assert_eq!(
        correlations(&run(rules, &events, &[])),
        [alert(
            "spray",
            json!({ "IpAddress": "10.0.0.1" }),
            3,
            None,
            (10, 30),
            (10, 30),
            &["failed-logon"],
            &[2, 3, 5],
        )]
    );
}

const VALUE_RULE: &str = "
title: Transfer Volume
id: volume
correlation:
    type: TYPE
    rules: [transfer]
    group-by: [TargetUserName]
    timespan: 1m
    condition:
        field: BytesSent
CONDITION";

/// A value_* correlation over `transfer` hits: `kind`, and the condition lines beyond `field`.
fn value_rule(kind: &str, condition: &str) -> String {
    VALUE_RULE.replace("TYPE", kind).replace("CONDITION", condition)
}

#[test]
fn value_sum_fires_when_the_sum_in_the_window_reaches_the_bound() {
    let events = [
        transfer(0, "alice", json!(300)),
        transfer(5, "alice", json!("n/a")), // not a number: ignored
        transfer(10, "alice", json!(400)),
        transfer(20, "alice", json!("500")),
        transfer(30, "bob", json!(900)),
        transfer(100, "bob", json!(200)), // bob's 900 has left the window
    ];
    assert_eq!(
        correlations(&run(&value_rule("value_sum", "        gte: 1000\n"), &events, &[])),
        [alert(
            "volume",
            json!({ "TargetUserName": "alice" }),
            3,
            Some(1200.0),
            (0, 20),
            (0, 20),
            &["transfer"],
            &[1, 3, 4],
        )]
    );
}

#[test]
fn value_avg_fires_at_the_first_hit_that_lifts_the_average() {
    let events = [
        transfer(0, "alice", json!(10)),
        transfer(5, "bob", json!(30)),
        transfer(10, "alice", json!(20)),
        transfer(20, "alice", json!(90)),
        // bob's 30 has left the window: the average is 45, not 37.5.
        transfer(80, "bob", json!(45)),
    ];
    assert_eq!(
        correlations(&run(&value_rule("value_avg", "        gte: 40\n"), &events, &[])),
        [
            alert(
                "volume",
                json!({ "TargetUserName": "alice" }),
                3,
                Some(40.0),
                (0, 20),
                (0, 20),
                &["transfer"],
                &[1, 3, 4],
            ),
            alert(
                "volume",
                json!({ "TargetUserName": "bob" }),
                1,
                Some(45.0),
                (80, 80),
                (80, 80),
                &["transfer"],
                &[5],
            ),
        ]
    );
}

#[test]
fn value_percentile_uses_the_nearest_rank() {
    // Median by nearest rank: 10 after two hits (an average would be 105), 200 after three.
    let events = [
        transfer(0, "alice", json!(10)),
        transfer(10, "alice", json!(200)),
        transfer(20, "alice", json!(300)),
    ];
    let rules = value_rule("value_percentile", "        percentile: 50\n        gte: 100\n");
    assert_eq!(
        correlations(&run(&rules, &events, &[])),
        [alert(
            "volume",
            json!({ "TargetUserName": "alice" }),
            3,
            Some(200.0),
            (0, 20),
            (0, 20),
            &["transfer"],
            &[1, 2, 3],
        )]
    );
}

/// `count_rule("lt: 3")`: event_count over failed logons per user in 10-minute complete windows.
fn count_rule(condition: &str) -> String {
    format!(
        "
title: Failure Count
id: failures
correlation:
    type: event_count
    rules: [failed-logon]
    group-by: [TargetUserName]
    timespan: 10m
    condition: {{{condition}}}
generate: true
"
    )
}

#[test]
fn upper_bound_judges_complete_windows_when_the_watermark_passes_their_end() {
    let events = [
        failed(0, "alice"),
        failed(60, "alice"),
        failed(700, "bob"), // watermark 695 passes alice's window end (600)
        failed(710, "bob"),
        failed(720, "bob"),
        failed(800, "alice"), // opens alice's second window; judged at end of input
    ];
    let o = run(&count_rule("lt: 3"), &events, &[]);
    let alice = json!({ "TargetUserName": "alice" });
    assert_eq!(
        correlations(&o),
        [
            alert(
                "failures",
                alice.clone(),
                2,
                None,
                (0, 600),
                (0, 60),
                &["failed-logon"],
                &[1, 2]
            ),
            alert(
                "failures",
                alice,
                1,
                None,
                (800, 1400),
                (800, 800),
                &["failed-logon"],
                &[6]
            ),
        ]
    );
    let c = r#"correlation failures {"TargetUserName":"alice"}"#;
    assert_eq!(
        trace(&o),
        [
            "match failed-logon @0",
            "match failed-logon @60",
            "match failed-logon @700",
            "match failed-logon @710",
            "match failed-logon @720",
            "match failed-logon @800",
            c,
            c,
        ]
    );
}

#[test]
fn range_condition_judges_complete_half_open_windows() {
    let mut events = vec![failed(0, "alice")];
    events.extend((1..=5).map(|s| failed(s, "bob"))); // 5: above the range
    events.extend([failed(10, "carol"), failed(20, "carol")]); // 2: below
    events.extend([failed(30, "dave"), failed(40, "dave"), failed(50, "dave")]);
    events.extend([failed(60, "alice"), failed(120, "alice"), failed(180, "alice")]);
    // Exactly at the end of alice's window [0, 600): opens the next one.
    events.push(failed(600, "alice"));
    let o = run(&count_rule("gt: 2, lte: 4"), &events, &[]);
    assert_eq!(
        correlations(&o),
        [
            // Complete windows fire in the order they end (when they are decided).
            alert(
                "failures",
                json!({ "TargetUserName": "alice" }),
                4,
                None,
                (0, 600),
                (0, 180),
                &["failed-logon"],
                &[1, 12, 13, 14],
            ),
            alert(
                "failures",
                json!({ "TargetUserName": "dave" }),
                3,
                None,
                (30, 630),
                (30, 50),
                &["failed-logon"],
                &[9, 10, 11],
            ),
        ]
    );
}

#[test]
fn sliding_window_includes_a_hit_exactly_one_timespan_back() {
    let events = [failed(0, "alice"), failed(300, "alice"), failed(600, "alice")];
    assert_eq!(
        correlations(&run(&count_rule("gte: 3"), &events, &[])),
        [alert(
            "failures",
            json!({ "TargetUserName": "alice" }),
            3,
            None,
            (0, 600),
            (0, 600),
            &["failed-logon"],
            &[1, 2, 3],
        )]
    );
}

#[test]
fn sliding_window_includes_its_edge_without_a_hit_in_between() {
    let events = [failed(0, "alice"), failed(600, "alice")];
    assert_eq!(
        correlations(&run(&count_rule("gte: 2"), &events, &[])),
        [alert(
            "failures",
            json!({ "TargetUserName": "alice" }),
            2,
            None,
            (0, 600),
            (0, 600),
            &["failed-logon"],
            &[1, 2],
        )]
    );
}

#[test]
fn without_group_by_all_hits_share_one_global_group() {
    let rules = "
title: Failures Anywhere
id: failures-anywhere
correlation:
    type: event_count
    rules: [failed-logon]
    timespan: 5m
    condition:
        gte: 3
";
    let events = [
        failed(0, "alice"),
        failed(10, "bob"),
        failed(20, "carol"),
        failed(30, "dave"),
        failed(40, "erin"),
    ];
    assert_eq!(
        correlations(&run(rules, &events, &[])),
        [alert(
            "failures-anywhere",
            json!({}),
            3,
            None,
            (0, 20),
            (0, 20),
            &["failed-logon"],
            &[1, 2, 3]
        )]
    );
}

#[test]
fn aliases_join_fields_named_differently_in_each_rule() {
    let rules = "
title: Failure Then VPN
id: failure-vpn
correlation:
    type: temporal
    rules: [failed-logon, vpn-login]
    group-by: [account]
    timespan: 5m
    aliases:
        account:
            failed-logon: TargetUserName
            vpn-login: SubjectUserName
";
    let vpn = |secs, user: &str| ev(secs, 6272, json!({ "SubjectUserName": user }));
    let events = [
        failed(0, "alice"),
        vpn(10, "bob"),
        vpn(20, "alice"),
        // The failed-logon rule reads TargetUserName (carol), not SubjectUserName.
        ev(30, 4625, json!({ "TargetUserName": "carol", "SubjectUserName": "bob" })),
    ];
    assert_eq!(
        correlations(&run(rules, &events, &[])),
        [alert(
            "failure-vpn",
            json!({ "account": "alice" }),
            2,
            None,
            (0, 20),
            (0, 20),
            &["failed-logon", "vpn-login"],
            &[1, 3],
        )]
    );
}

/// `many-failed` (3 failures in 5m per user) and `brute-success` (a
/// `many-failed` firing, then a successful logon of the user, within 10m),
/// both with `generate: GENERATE`.
const CHAIN: &str = "
title: Many Failed
id: many-failed
correlation:
    type: event_count
    rules: [failed-logon]
    group-by: [TargetUserName]
    timespan: 5m
    condition:
        gte: 3
generate: GENERATE
---
title: Brute Force Success
id: brute-success
correlation:
    type: temporal_ordered
    rules: [many-failed, successful-logon]
    group-by: [TargetUserName]
    timespan: 10m
generate: GENERATE
";

fn chain_events() -> Vec<String> {
    vec![
        failed(0, "alice"),
        failed(10, "alice"),
        success(15, "alice"), // before many-failed fires: not part of a sequence
        failed(20, "alice"),  // many-failed fires here
        success(30, "bob"),
        failed(40, "bob"),
        failed(50, "bob"),
        failed(60, "bob"), // many-failed fires; no success follows
        success(100, "alice"),
    ]
}

#[test]
fn chained_correlation_consumes_firings_at_the_time_of_the_hit_that_made_them() {
    let o = run(&CHAIN.replace("GENERATE", "true"), &chain_events(), &[]);
    let many = |user: &str, first, last, refs: &[u64]| {
        let g = json!({ "TargetUserName": user });
        alert(
            "many-failed",
            g,
            3,
            None,
            (first, last),
            (first, last),
            &["failed-logon"],
            refs,
        )
    };
    assert_eq!(
        correlations(&o),
        [
            many("alice", 0, 20, &[1, 2, 4]),
            many("bob", 40, 60, &[6, 7, 8]),
            alert(
                "brute-success",
                json!({ "TargetUserName": "alice" }),
                2,
                None,
                (20, 100),
                (20, 100),
                &["many-failed", "successful-logon"],
                &[4, 9],
            ),
        ]
    );
}

#[test]
fn generate_false_silences_the_referenced_rules_and_true_keeps_them() {
    let silent = run(&CHAIN.replace("GENERATE", "false"), &chain_events(), &[]);
    assert_eq!(
        trace(&silent),
        [r#"correlation brute-success {"TargetUserName":"alice"}"#],
        "base and inner correlation silent"
    );
    let loud = run(&CHAIN.replace("GENERATE", "true"), &chain_events(), &[]);
    assert_eq!(
        trace(&loud),
        [
            "match failed-logon @0",
            "match failed-logon @10",
            "match successful-logon @15",
            "match failed-logon @20",
            "match successful-logon @30",
            "match failed-logon @40",
            "match failed-logon @50",
            "match failed-logon @60",
            "match successful-logon @100",
            r#"correlation many-failed {"TargetUserName":"alice"}"#,
            r#"correlation many-failed {"TargetUserName":"bob"}"#,
            r#"correlation brute-success {"TargetUserName":"alice"}"#,
        ]
    );
}

#[test]
fn event_without_usable_time_is_dead_lettered_as_no_event_time() {
    let events = [
        failed(0, "alice"),
        failed(10, "alice"),
        json!({ "EventID": 4625, "TargetUserName": "alice" }).to_string(),
        json!({ "@timestamp": "yesterday", "EventID": 4625, "TargetUserName": "alice" }).to_string(),
        failed(20, "alice"),
    ];
    let o = run(&count_rule("gte: 3"), &events, &[]);
    let no_time = json!("no_event_time");
    assert_eq!(dead_letters(&o), [(no_time.clone(), json!(3)), (no_time, json!(4))]);
    assert_eq!(
        summaries(&o),
        [alert(
            "failures",
            json!({ "TargetUserName": "alice" }),
            3,
            None,
            (0, 20),
            (0, 20),
            &["failed-logon"],
            &[1, 2, 5],
        )]
    );
}

#[test]
fn event_later_than_the_allowed_lateness_is_dead_lettered_as_late() {
    // Watermark after line 3: 200 − 5s bound; applied up to it − 60s lateness = 135.
    let events = [
        failed(0, "alice"),
        failed(100, "alice"),
        failed(200, "alice"),
        failed(150, "alice"), // 50s behind: within the allowed lateness
        failed(100, "alice"), // 100s behind: late
    ];
    let rules = count_rule("gte: 4");
    let o = run(&rules, &events, &["--allowed-lateness", "1m"]);
    assert_eq!(dead_letters(&o), [(json!("late"), json!(5))]);
    assert_eq!(
        summaries(&o),
        [alert(
            "failures",
            json!({ "TargetUserName": "alice" }),
            4,
            None,
            (0, 200),
            (0, 200),
            &["failed-logon"],
            &[1, 2, 4, 3],
        )]
    );
    // Without the allowed lateness line 4 is late too, and three hits do not fire.
    let strict = run(&rules, &events, &[]);
    assert_eq!(
        dead_letters(&strict),
        [(json!("late"), json!(4)), (json!("late"), json!(5))]
    );
    assert!(strict.correlations().is_empty());
}

#[test]
fn value_sum_counts_every_contributing_hit_beyond_the_evidence_cap() {
    let events: Vec<String> = (0..10).map(|i| transfer(i * 5, "alice", json!(100))).collect();
    assert_eq!(
        correlations(&run(&value_rule("value_sum", "        gte: 1000\n"), &events, &[])),
        [alert(
            "volume",
            json!({ "TargetUserName": "alice" }),
            10,
            Some(1000.0),
            (0, 45),
            (0, 45),
            &["transfer"],
            &[1, 2, 3, 4, 5, 6, 7, 8],
        )]
    );
}

/// `quiet` (fewer than 2 failures of a user in a 10-minute complete window)
/// chained into `quiet-after-success` (a success, then a `quiet` firing).
const CHAIN_OVER_COMPLETE: &str = "
title: Quiet
id: quiet
correlation:
    type: event_count
    rules: [failed-logon]
    group-by: [TargetUserName]
    timespan: 10m
    condition:
        lt: 2
---
title: Quiet After Success
id: quiet-after-success
correlation:
    type: temporal_ordered
    rules: [successful-logon, quiet]
    group-by: [TargetUserName]
    timespan: 1h
generate: true
";

#[test]
fn chaining_over_a_complete_window_keeps_time_order_and_partitioning() {
    let events = [
        failed(0, "alice"), // quiet window [0, 600) for alice, one hit
        success(300, "alice"),
        failed(400, "zed"), // watermark 395: the outer layer applies the success
        failed(700, "zed"), // watermark 695: alice's window closes
    ];
    let dir = tempfile::tempdir().unwrap();
    let whole = common::write_lines(dir.path(), "whole.ndjson", events.iter().cloned());
    let a = common::write_lines(dir.path(), "a.ndjson", events[..2].iter().cloned());
    let b = common::write_lines(dir.path(), "b.ndjson", events[2..].iter().cloned());
    let rules = format!("{BASE}---\n{CHAIN_OVER_COMPLETE}");
    let one = common::run_rules(dir.path(), &rules, &[&whole], &[]);
    for alert in one.correlations() {
        let (first, last) = (alert["first_event_time"].as_str(), alert["last_event_time"].as_str());
        assert!(first <= last, "time runs backwards: {alert}");
    }
    let split = common::run_rules(dir.path(), &rules, &[&a, &b], &[]);
    assert_eq!(split.correlation_ids(), one.correlation_ids(), "split over two files");
}

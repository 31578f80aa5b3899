//! Property tests of correlation through `tocsin run` (issue 4): on generated
//! logon streams and generated rule parameters,
//! - the correlation alerts equal a reference model written here;
//! - `--shards 8` writes byte-for-byte the alert file of `--shards 1`;
//! - shuffling the input within `--max-out-of-orderness` keeps the alerts
//!   (ids, groups, first and last event times, counts);
//! - splitting the input over 2–3 files (partitions) keeps the alerts.
//!
//! The rules: `brute-user` (event_count, sliding `gte`, per user),
//! `spray-ip` (value_count of distinct users per source IP) and
//! `brute-then-success` (temporal_ordered: a `brute-user` firing, then a
//! successful logon of the same user), so chaining is covered too.
//!
//! Event times are distinct. Hits with equal times are applied in (source
//! partition, offset) order (design notes §3), so reordering or re-splitting
//! equal-time events may legitimately change which one a window sees first.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::json;

/// 2024-05-01T10:00:00Z in milliseconds.
const BASE_MS: i64 = 1_714_557_600_000;

/// Longest generated stream (also the length of the jitter and split vectors).
const MAX_EVENTS: usize = 120;

/// The generated correlation parameters (timespans in seconds).
#[derive(Clone, Debug)]
struct Params {
    brute_n: usize,
    brute_span: i64,
    spray_n: usize,
    spray_span: i64,
    seq_span: i64,
}

/// One logon event: failed (4625) or successful (4624), by a user (or none:
/// `TargetUserName` absent) from one of a few source IPs.
#[derive(Clone, Debug)]
struct Ev {
    ms: i64,
    user: Option<u8>,
    ip: u8,
    success: bool,
}

fn rules(p: &Params) -> String {
    let base = |title: &str, id: &str, event_id: u32| {
        format!(
            "title: {title}\nid: {id}\nlogsource:\n    product: windows\n    service: security\n\
             detection:\n    selection:\n        EventID: {event_id}\n    condition: selection\nlevel: low\n"
        )
    };
    let corr = |id: &str, body: String| format!("title: {id}\nid: {id}\ncorrelation:\n{body}generate: true\n");
    [
        base("Failed Logon", "failed-logon", 4625),
        base("Successful Logon", "successful-logon", 4624),
        corr(
            "brute-user",
            format!(
                "    type: event_count\n    rules: [failed-logon]\n    group-by: [TargetUserName]\n    \
                 timespan: {}s\n    condition:\n        gte: {}\n",
                p.brute_span, p.brute_n
            ),
        ),
        corr(
            "spray-ip",
            format!(
                "    type: value_count\n    rules: [failed-logon]\n    group-by: [IpAddress]\n    \
                 timespan: {}s\n    condition:\n        field: TargetUserName\n        gte: {}\n",
                p.spray_span, p.spray_n
            ),
        ),
        corr(
            "brute-then-success",
            format!(
                "    type: temporal_ordered\n    rules: [brute-user, successful-logon]\n    \
                 group-by: [TargetUserName]\n    timespan: {}s\n",
                p.seq_span
            ),
        ),
    ]
    .join("---\n")
}

fn line(e: &Ev) -> String {
    let mut v = json!({
        "@timestamp": common::rfc3339_ms(e.ms),
        "EventID": if e.success { 4624 } else { 4625 },
        "Channel": "Security",
        "IpAddress": format!("10.0.0.{}", e.ip),
    });
    if let Some(u) = e.user {
        v["TargetUserName"] = json!(format!("user{u}"));
    }
    v.to_string()
}

/// An alert reduced to what the model predicts: (rule, group value, first and
/// last event time in ms, count).
type Summary = (String, Option<String>, i64, i64, u64);

/// The reference: each rule's sliding-window semantics per group, straight
/// from design notes §3, over the events in time order.
/// - A window holds the hits of the last `timespan`, both ends included.
/// - `brute-user` fires at the hit that makes `gte` hold; the group restarts.
/// - `spray-ip` counts the distinct users of an IP (hits without a user are
///   ignored); each user counts at its latest hit, so the first contributing
///   event is the oldest of those latest hits; the group restarts after firing.
/// - `brute-then-success` fires at a successful logon when a `brute-user`
///   firing of the user (at the time of the failure that made it fire) lies
///   within its timespan; the latest such firing starts the sequence.
fn model(p: &Params, events: &[Ev]) -> Vec<Summary> {
    let user = |u: Option<u8>| u.map(|u| format!("user{u}"));
    let mut out = Vec::new();
    let mut brute: HashMap<Option<u8>, Vec<i64>> = HashMap::new();
    let mut spray: HashMap<u8, HashMap<u8, i64>> = HashMap::new();
    let mut brute_fired: HashMap<Option<u8>, i64> = HashMap::new();
    for e in events {
        if e.success {
            if let Some(start) = brute_fired.remove(&e.user) {
                if start >= e.ms - p.seq_span * 1000 {
                    out.push(("brute-then-success".into(), user(e.user), start, e.ms, 2));
                }
            }
            continue;
        }
        let w = brute.entry(e.user).or_default();
        w.retain(|&t| t >= e.ms - p.brute_span * 1000);
        w.push(e.ms);
        if w.len() >= p.brute_n {
            out.push(("brute-user".into(), user(e.user), w[0], e.ms, w.len() as u64));
            w.clear();
            brute_fired.insert(e.user, e.ms);
        }
        if let Some(u) = e.user {
            let seen = spray.entry(e.ip).or_default();
            seen.retain(|_, t| *t >= e.ms - p.spray_span * 1000);
            seen.insert(u, e.ms);
            if seen.len() >= p.spray_n {
                let first = *seen.values().min().unwrap();
                let ip = Some(format!("10.0.0.{}", e.ip));
                out.push(("spray-ip".into(), ip, first, e.ms, seen.len() as u64));
                seen.clear();
            }
        }
    }
    out.sort();
    out
}

fn summaries(o: &common::RunOutput) -> Vec<Summary> {
    let ms = |v: &serde_json::Value| (common::rfc3339_ns(v.as_str().expect("time")) / 1_000_000) as i64;
    let mut s: Vec<Summary> = o
        .correlations()
        .iter()
        .map(|a| {
            let group = a["group"].as_object().expect("group");
            assert_eq!(group.len(), 1, "{a}");
            (
                a["rule"]["id"].as_str().unwrap().to_string(),
                group.values().next().unwrap().as_str().map(str::to_string),
                ms(&a["first_event_time"]),
                ms(&a["last_event_time"]),
                a["count"].as_u64().unwrap(),
            )
        })
        .collect();
    s.sort();
    s
}

fn params() -> impl Strategy<Value = Params> {
    (
        2usize..=5,
        prop::sample::select(vec![10i64, 30, 60, 120]),
        2usize..=4,
        prop::sample::select(vec![30i64, 60, 300]),
        prop::sample::select(vec![30i64, 60, 600]),
    )
        .prop_map(|(brute_n, brute_span, spray_n, spray_span, seq_span)| Params {
            brute_n,
            brute_span,
            spray_n,
            spray_span,
            seq_span,
        })
}

/// Strictly increasing times: gaps of whole seconds, of milliseconds, and
/// pauses longer than most windows. With `edges`, hits land exactly on
/// window edges often (whole-second gaps, spans multiples of 10 s); without,
/// never: times are nudged so no two are a multiple of 10 s apart.
fn stream(edges: bool) -> impl Strategy<Value = Vec<Ev>> {
    let gap = prop_oneof![
        4 => (1i64..=20).prop_map(|s| s * 1000),
        4 => 1i64..20_000,
        1 => (60i64..=900).prop_map(|s| s * 1000),
    ];
    let event = (
        gap,
        prop::option::weighted(0.9, 0u8..4),
        0u8..3,
        prop::bool::weighted(0.25),
    );
    prop::collection::vec(event, 1..MAX_EVENTS).prop_map(move |v| {
        let mut ms = BASE_MS;
        let mut residues = std::collections::HashSet::new();
        v.into_iter()
            .map(|(gap, user, ip, success)| {
                ms += gap;
                while !edges && !residues.insert(ms % 10_000) {
                    ms += 1;
                }
                Ev { ms, user, ip, success }
            })
            .collect()
    })
}

/// Reorders `events` so that none comes after an event more than `bound_ms`
/// later: sorting by time + jitter, jitter in `[0, bound_ms)`, guarantees it
/// (b after a ⇒ t_b + j_b ≤ t_a + j_a ⇒ t_b − t_a ≤ j_a − j_b < bound).
fn shuffle_within(events: &[Ev], bound_ms: i64, jitter: &[u16]) -> Vec<Ev> {
    let mut keyed: Vec<(i64, &Ev)> = events
        .iter()
        .zip(jitter)
        .map(|(e, &j)| (e.ms + j as i64 * bound_ms / 65_536, e))
        .collect();
    keyed.sort_by_key(|k| k.0);
    let out: Vec<Ev> = keyed.into_iter().map(|(_, e)| e.clone()).collect();
    for (i, b) in out.iter().enumerate() {
        let latest_before = out[..i].iter().map(|a| a.ms).max().unwrap_or(i64::MIN);
        assert!(
            latest_before.saturating_sub(b.ms) < bound_ms,
            "shuffle exceeds the bound"
        );
    }
    out
}

fn write(dir: &Path, name: &str, events: &[Ev]) -> PathBuf {
    common::write_lines(dir, name, events.iter().map(line))
}

/// The ordered stream in one file, one shard: the run the others must equal.
fn baseline(dir: &Path, p: &Params, events: &[Ev]) -> common::RunOutput {
    let whole = write(dir, "whole.ndjson", events);
    let o = common::run_rules(dir, &rules(p), &[&whole], &[]);
    assert!(o.dead_letters.is_empty(), "{:?}", o.dead_letters);
    o
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// The variant run's correlation alerts equal the baseline's: ids and summaries.
fn assert_same_alerts(variant: &common::RunOutput, baseline: &common::RunOutput) -> Result<(), TestCaseError> {
    prop_assert!(
        variant.dead_letters.is_empty(),
        "nothing is late within the bound: {:?}",
        variant.dead_letters
    );
    prop_assert_eq!(variant.correlation_ids(), baseline.correlation_ids());
    prop_assert_eq!(summaries(variant), summaries(baseline));
    Ok(())
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn alerts_equal_the_reference_model(p in params(), events in stream(false)) {
        let dir = tempfile::tempdir().unwrap();
        let o = baseline(dir.path(), &p, &events);
        prop_assert_eq!(summaries(&o), model(&p, &events));
    }

    #[test]
    fn eight_shards_write_the_same_alert_file_as_one(p in params(), events in stream(true)) {
        let dir = tempfile::tempdir().unwrap();
        let one = baseline(dir.path(), &p, &events);
        let whole = dir.path().join("whole.ndjson");
        let eight = common::run_rules(dir.path(), &rules(&p), &[&whole], &["--shards", "8"]);
        prop_assert_eq!(&eight.raw, &one.raw);
    }

    #[test]
    fn shuffling_within_the_bound_keeps_the_alerts(
        p in params(),
        events in stream(true),
        bound_s in 1i64..=30,
        jitter in prop::collection::vec(any::<u16>(), MAX_EVENTS),
        shards in prop::sample::select(vec!["1", "3", "8"]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let base = baseline(dir.path(), &p, &events);
        let shuffled = write(dir.path(), "shuffled.ndjson", &shuffle_within(&events, bound_s * 1000, &jitter));
        let bound = format!("{bound_s}s");
        let flags = ["--max-out-of-orderness", bound.as_str(), "--shards", shards];
        assert_same_alerts(&common::run_rules(dir.path(), &rules(&p), &[&shuffled], &flags), &base)?;
    }

    #[test]
    fn splitting_over_files_keeps_the_alerts(
        p in params(),
        events in stream(true),
        files in 2usize..=3,
        assign in prop::collection::vec(any::<u8>(), MAX_EVENTS),
        bound_s in 1i64..=10,
        jitter in prop::collection::vec(any::<u16>(), MAX_EVENTS),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let base = baseline(dir.path(), &p, &events);
        // Each file is a subsequence of a stream shuffled within the bound, so
        // each partition keeps the bound on its own.
        let shuffled = shuffle_within(&events, bound_s * 1000, &jitter);
        let parts: Vec<PathBuf> = (0..files)
            .map(|f| {
                let mine: Vec<Ev> = shuffled
                    .iter()
                    .zip(&assign)
                    .filter(|(_, &a)| a as usize % files == f)
                    .map(|(e, _)| e.clone())
                    .collect();
                write(dir.path(), &format!("part{f}.ndjson"), &mine)
            })
            .collect();
        let inputs: Vec<&Path> = parts.iter().map(PathBuf::as_path).collect();
        let bound = format!("{bound_s}s");
        let o = common::run_rules(dir.path(), &rules(&p), &inputs, &["--max-out-of-orderness", &bound]);
        assert_same_alerts(&o, &base)?;
    }
}

proptest! {
    // More cases: an edge that matters (a group's previous hit exactly one timespan back) is not in every stream.
    #![proptest_config(config(256))]

    #[test]
    fn alerts_equal_the_reference_model_on_window_edges(p in params(), events in stream(true)) {
        let dir = tempfile::tempdir().unwrap();
        let o = baseline(dir.path(), &p, &events);
        prop_assert_eq!(summaries(&o), model(&p, &events));
    }
}

//! Correlator semantics on hand-built hits (no parsing, no events): sliding
//! windows, restart after firing, complete windows for upper bounds, chaining,
//! and independence from shard count and arrival order.

use std::path::PathBuf;
use std::sync::Arc;

use super::window::HitData;
use super::*;
use crate::rules::ast::{CmpOp, CorrelationCondition, CorrelationRule, CorrelationType, Location, RuleRef};

const S: i64 = 1_000_000_000;
const MIN: i64 = 60 * S;

fn loc() -> Location {
    Location {
        file: Arc::new(PathBuf::from("t.yml")),
        line: 1,
        column: 1,
    }
}

fn corr(
    id: &str,
    kind: CorrelationType,
    rules: &[&str],
    group: &[&str],
    span_ms: u64,
    bounds: &[(CmpOp, f64)],
    field: Option<&str>,
) -> Arc<CorrelationRule> {
    Arc::new(CorrelationRule {
        title: id.into(),
        id: Some(id.into()),
        name: None,
        status: None,
        description: None,
        author: None,
        level: None,
        tags: vec![],
        falsepositives: vec![],
        kind,
        rules: rules
            .iter()
            .map(|r| RuleRef {
                reference: r.to_string(),
                location: loc(),
            })
            .collect(),
        group_by: group.iter().map(|g| g.to_string()).collect(),
        timespan_ms: span_ms,
        condition: CorrelationCondition {
            bounds: bounds.to_vec(),
            field: field.map(str::to_string),
            percentile: None,
            location: loc(),
        },
        aliases: vec![],
        generate: false,
        tocsin: None,
        custom: Default::default(),
        location: loc(),
    })
}

fn rule(id: &str) -> Arc<crate::rules::Rule> {
    let text = format!(
        "title: {id}\nid: {id}\nlogsource:\n    product: t\ndetection:\n    s:\n        a: b\n    condition: s\n"
    );
    let (mut rules, errors) = crate::rules::parse::parse_str(&text, Arc::new(PathBuf::from("r.yml")));
    assert!(errors.is_empty(), "{errors:?}");
    Arc::new(rules.remove(0))
}

/// A set with one correlation over one detection rule.
fn single(base: &str, c: Arc<CorrelationRule>) -> Arc<CorrelationSet> {
    Arc::new(CorrelationSet::build(&[rule(base)], &[c]).expect("links"))
}

fn hit(corr: u32, group: &str, t: i64, seq: u64, rule: u8, value: Option<&str>) -> NewHit {
    NewHit {
        corr,
        group: vec![Some(group.to_string())],
        data: HitData {
            time: t,
            seq,
            rule,
            value: value.map(Into::into),
        },
    }
}

/// Runs hits through a correlator, advancing the watermark after each, then flushing.
fn run(
    set: &Arc<CorrelationSet>,
    shards: usize,
    hits: &[NewHit],
    bound: i64,
) -> Vec<(u32, Vec<Option<String>>, i64, f64)> {
    let mut c = Correlator::new(set.clone(), shards, 1_000_000, 0);
    let mut max = i64::MIN;
    let mut out = Vec::new();
    for h in hits {
        max = max.max(h.data.time);
        assert!(c.push(h.clone()), "unexpectedly late");
        out.extend(c.advance(max - bound - 1));
    }
    out.extend(c.advance(i64::MAX));
    out.into_iter()
        .map(|o| (o.corr, o.group, o.fire.first.0, o.fire.value))
        .collect()
}

fn brute_force_set() -> Arc<CorrelationSet> {
    let rules = vec![rule("fail"), rule("ok")];
    let corrs = vec![
        corr(
            "many_fail",
            CorrelationType::EventCount,
            &["fail"],
            &["user"],
            600_000,
            &[(CmpOp::Gte, 5.0)],
            None,
        ),
        corr(
            "then_ok",
            CorrelationType::TemporalOrdered,
            &["many_fail", "ok"],
            &["user"],
            600_000,
            &[],
            None,
        ),
    ];
    // temporal_ordered with no explicit condition: all referenced rules, in order.
    let mut corrs = corrs;
    Arc::make_mut(&mut corrs[1]).condition.bounds = vec![(CmpOp::Gte, 2.0)];
    Arc::new(CorrelationSet::build(&rules, &corrs).expect("links"))
}

#[test]
fn event_count_slides_instead_of_bucketing() {
    let set = Arc::new(
        CorrelationSet::build(
            &[rule("fail")],
            &[corr(
                "c",
                CorrelationType::EventCount,
                &["fail"],
                &["user"],
                600_000,
                &[(CmpOp::Gte, 5.0)],
                None,
            )],
        )
        .unwrap(),
    );
    // Five hits straddling an hour boundary (xx:58 .. xx+1:03): one sliding 10-minute span.
    let base = 3600 * S * 100 - 2 * MIN;
    let hits: Vec<_> = (0..5)
        .map(|i| hit(0, "alice", base + i as i64 * MIN + i as i64, i, 0, None))
        .collect();
    let out = run(&set, 1, &hits, 0);
    assert_eq!(out, vec![(0, vec![Some("alice".into())], base, 5.0)]);
    // Four hits, then a fifth 11 minutes after the first: the first has left the window.
    let mut hits: Vec<_> = (0..4).map(|i| hit(0, "bob", i * MIN, i as u64, 0, None)).collect();
    hits.push(hit(0, "bob", 11 * MIN, 9, 0, None));
    assert!(run(&set, 1, &hits, 0).is_empty());
}

#[test]
fn window_restarts_after_firing() {
    let set = Arc::new(
        CorrelationSet::build(
            &[rule("fail")],
            &[corr(
                "c",
                CorrelationType::EventCount,
                &["fail"],
                &["user"],
                600_000,
                &[(CmpOp::Gte, 3.0)],
                None,
            )],
        )
        .unwrap(),
    );
    let hits: Vec<_> = (0..7).map(|i| hit(0, "u", i * S, i as u64, 0, None)).collect();
    let fired: Vec<i64> = run(&set, 1, &hits, 0).iter().map(|o| o.2).collect();
    assert_eq!(
        fired,
        vec![0, 3 * S],
        "hits 0-2 fire, the window restarts, 3-5 fire, hit 6 is alone"
    );
}

#[test]
fn value_count_counts_distinct_values_and_ignores_missing_field() {
    let set = Arc::new(
        CorrelationSet::build(
            &[rule("fail")],
            &[corr(
                "spray",
                CorrelationType::ValueCount,
                &["fail"],
                &["src"],
                600_000,
                &[(CmpOp::Gte, 3.0)],
                Some("user"),
            )],
        )
        .unwrap(),
    );
    let hits = vec![
        hit(0, "1.2.3.4", 0, 0, 0, Some("a")),
        hit(0, "1.2.3.4", S, 1, 0, Some("a")),
        hit(0, "1.2.3.4", 2 * S, 2, 0, None),
        hit(0, "1.2.3.4", 3 * S, 3, 0, Some("b")),
        hit(0, "1.2.3.4", 4 * S, 4, 0, Some("c")),
    ];
    let out = run(&set, 1, &hits, 0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].3, 3.0);
}

#[test]
fn upper_bounds_are_judged_on_complete_windows() {
    let set = Arc::new(
        CorrelationSet::build(
            &[rule("login")],
            &[corr(
                "few",
                CorrelationType::EventCount,
                &["login"],
                &["user"],
                3_600_000,
                &[(CmpOp::Lt, 3.0)],
                None,
            )],
        )
        .unwrap(),
    );
    let hits = vec![
        hit(0, "quiet", 0, 0, 0, None),
        hit(0, "busy", 0, 2, 0, None),
        hit(0, "busy", MIN, 3, 0, None),
        hit(0, "busy", 2 * MIN, 4, 0, None),
        hit(0, "quiet", 10 * MIN, 1, 0, None),
    ];
    let out = run(&set, 1, &hits, 0);
    assert_eq!(out, vec![(0, vec![Some("quiet".into())], 0, 2.0)]);
}

#[test]
fn brute_force_then_success_chains_correlations() {
    let set = brute_force_set();
    let mut hits: Vec<_> = (0..5).map(|i| hit(0, "alice", i * S, i as u64, 0, None)).collect();
    // The success rule feeds `then_ok` (correlation 1) directly, as reference 1.
    hits.push(hit(1, "alice", 10 * S, 10, 1, None));
    let out = run(&set, 1, &hits, 0);
    let corrs: Vec<u32> = out.iter().map(|o| o.0).collect();
    assert_eq!(corrs, vec![0, 1], "inner fires, then the outer with the success");
    // Success before the failures: no sequence.
    let mut hits = vec![hit(1, "bob", 0, 0, 1, None)];
    hits.extend((1..6).map(|i| hit(0, "bob", i * S, i as u64, 0, None)));
    let out = run(&set, 1, &hits, 0);
    assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), vec![0]);
}

#[test]
fn shard_count_and_shuffling_within_bound_do_not_change_firings() {
    let set = brute_force_set();
    let mut hits = Vec::new();
    let mut seq = 0;
    for u in 0..40u64 {
        let user = format!("user{u}");
        for i in 0..(3 + u % 5) {
            seq += 1;
            hits.push(hit(0, &user, (u as i64 * 7 + i as i64) * S, seq, 0, None));
        }
        seq += 1;
        hits.push(hit(1, &user, (u as i64 * 7 + 6) * S, seq, 1, None));
    }
    hits.sort_by_key(|h| (h.data.time, h.data.seq));
    let reference = run(&set, 1, &hits, 5 * S);
    assert!(!reference.is_empty());
    for shards in [2, 8] {
        assert_eq!(run(&set, shards, &hits, 5 * S), reference, "{shards} shards");
    }
    // Swap neighbours less than the 5 s bound apart.
    let mut shuffled = hits.clone();
    for i in (1..shuffled.len()).step_by(2) {
        if shuffled[i].data.time - shuffled[i - 1].data.time < 5 * S {
            shuffled.swap(i, i - 1);
        }
    }
    let order = |v: &[NewHit]| v.iter().map(|h| h.data.seq).collect::<Vec<_>>();
    assert_ne!(order(&shuffled), order(&hits));
    assert_eq!(run(&set, 3, &shuffled, 5 * S), reference);
}

#[test]
fn setting_durations_accept_zero_and_milliseconds() {
    assert_eq!(parse_duration_ms("0s"), Some(0));
    assert_eq!(parse_duration_ms("250ms"), Some(250));
    assert_eq!(parse_duration_ms("30m"), Some(1_800_000));
    assert_eq!(parse_duration_ms("1w"), Some(604_800_000));
    assert_eq!(parse_duration_ms("10"), None);
    assert_eq!(parse_duration_ms("5x"), None);
}

#[test]
fn late_hits_are_refused_and_counted() {
    let set = brute_force_set();
    let mut c = Correlator::new(set, 2, 100, 0);
    assert!(c.push(hit(0, "a", 100 * S, 1, 0, None)));
    c.advance(90 * S);
    assert!(!c.push(hit(0, "a", 80 * S, 2, 0, None)));
    assert_eq!(c.late, 1);
    assert!(c.push(hit(0, "a", 95 * S, 3, 0, None)));
}

#[test]
fn global_cap_evicts_oldest_groups() {
    let set = Arc::new(
        CorrelationSet::build(
            &[rule("fail")],
            &[corr(
                "c",
                CorrelationType::EventCount,
                &["fail"],
                &["user"],
                600_000,
                &[(CmpOp::Gte, 5.0)],
                None,
            )],
        )
        .unwrap(),
    );
    let mut c = Correlator::new(set, 1, 10, 0);
    for i in 0..100 {
        c.push(hit(0, &format!("u{i}"), i * S, i as u64, 0, None));
    }
    c.advance(200 * S - 700 * S);
    c.advance(99 * S);
    assert!(c.tracked_groups() <= 10);
    assert_eq!(c.stats().evicted, 90);
}

#[test]
fn temporal_needs_every_rule_in_any_order_within_the_span() {
    let mut c = corr(
        "t",
        CorrelationType::Temporal,
        &["a", "b"],
        &["user"],
        60_000,
        &[(CmpOp::Gte, 2.0)],
        None,
    );
    Arc::make_mut(&mut c).generate = true;
    let set = Arc::new(CorrelationSet::build(&[rule("a"), rule("b")], &[c]).unwrap());
    // b then a within a minute: fires; a then b two minutes apart: does not.
    let hits = vec![hit(0, "x", 0, 0, 1, None), hit(0, "x", 30 * S, 1, 0, None)];
    assert_eq!(run(&set, 1, &hits, 0).len(), 1);
    let hits = vec![hit(0, "y", 0, 0, 0, None), hit(0, "y", 2 * MIN, 1, 1, None)];
    assert!(run(&set, 1, &hits, 0).is_empty());
}

#[test]
fn value_sum_and_avg_aggregate_the_field() {
    let sum = corr(
        "s",
        CorrelationType::ValueSum,
        &["x"],
        &["user"],
        600_000,
        &[(CmpOp::Gt, 1000.0)],
        Some("bytes"),
    );
    let set = single("x", sum);
    let hits: Vec<_> = [400, 300, 200, 200]
        .iter()
        .enumerate()
        .map(|(i, b)| hit(0, "u", i as i64 * S, i as u64, 0, Some(&b.to_string())))
        .collect();
    let out = run(&set, 1, &hits, 0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].3, 1100.0, "fires at the hit that first exceeds 1000");
    let avg = corr(
        "a",
        CorrelationType::ValueAvg,
        &["x"],
        &["user"],
        600_000,
        &[(CmpOp::Gte, 300.0)],
        Some("bytes"),
    );
    let set = single("x", avg);
    let hits: Vec<_> = [100, 200, 600]
        .iter()
        .enumerate()
        .map(|(i, b)| hit(0, "u", i as i64 * S, i as u64, 0, Some(&b.to_string())))
        .collect();
    let out = run(&set, 1, &hits, 0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].3, 300.0);
}

#[test]
fn rule_cap_evicts_and_raises_one_meta_alert_per_period() {
    let mut c = (*corr(
        "capped",
        CorrelationType::EventCount,
        &["fail"],
        &["user"],
        600_000,
        &[(CmpOp::Gte, 5.0)],
        None,
    ))
    .clone();
    c.tocsin = Some(serde_json::json!({"max_groups": 4}));
    let set = single("fail", Arc::new(c));
    for (shards, flush_each) in [(1, false), (3, false), (3, true)] {
        let mut c = Correlator::new(set.clone(), shards, 1_000_000, 0);
        // 10 users in the first minute, then 10 more two hours later.
        for i in 0..20i64 {
            let t = if i < 10 { i * S } else { 2 * 3600 * S + i * S };
            c.push(hit(0, &format!("u{i}"), t, i as u64, 0, None));
            if flush_each {
                c.advance(t - 1);
            }
        }
        c.advance(i64::MAX);
        let stats = c.stats();
        // The cap is split over the shards: each keeps ⌈4 / shards⌉.
        let kept_per_shard = 4usize.div_ceil(shards);
        assert!(stats.tracked[0] == 0, "end of input expires every window");
        assert_eq!(stats.evicted_per_rule, [stats.evicted]);
        assert!(
            stats.evicted >= 20 - 2 * (kept_per_shard * shards) as u64,
            "{shards}: {stats:?}"
        );
        let overflows = c.take_overflows();
        assert_eq!(
            overflows.len(),
            2,
            "one meta-alert per hour of event time: {overflows:?}"
        );
        assert!(overflows[0].first.0 < 10 * S && overflows[1].first.0 >= 2 * 3600 * S);
        assert!(overflows.iter().all(|o| o.evicted == 1));
    }
}

#[test]
fn eviction_keeps_the_most_recently_updated_groups() {
    let set = single(
        "fail",
        corr(
            "c",
            CorrelationType::EventCount,
            &["fail"],
            &["user"],
            600_000,
            &[(CmpOp::Gte, 3.0)],
            None,
        ),
    );
    let mut c = Correlator::new(set, 1, 2, 0);
    // a, b tracked; a is hit again (now the newest); c's arrival evicts b.
    for (i, u) in ["a", "b", "a", "c", "a"].iter().enumerate() {
        c.push(hit(0, u, i as i64 * S, i as u64, 0, None));
    }
    let fired = c.advance(i64::MAX);
    assert_eq!(c.stats().evicted, 1);
    assert_eq!(fired.len(), 1, "a reached 3 hits despite the cap");
    assert_eq!(fired[0].group, vec![Some("a".to_string())]);
}

/// [`run`] with a checkpoint after `split` hits: the first correlator's image
/// goes through bytes into a fresh one with another shard count.
fn run_restored(
    set: &Arc<CorrelationSet>,
    shards: (usize, usize),
    hits: &[NewHit],
    bound: i64,
    split: usize,
) -> Vec<(u32, Vec<Option<String>>, i64, f64)> {
    let mut c = Correlator::new(set.clone(), shards.0, 1_000_000, 0);
    let mut max = i64::MIN;
    let mut out = Vec::new();
    for (i, h) in hits.iter().enumerate() {
        if i == split {
            let bytes = postcard::to_allocvec(&c.image().expect("image")).expect("encode");
            drop(c);
            c = Correlator::new(set.clone(), shards.1, 1_000_000, 0);
            let restored = c
                .restore(postcard::from_bytes(&bytes).expect("decode"))
                .expect("restore");
            assert!(restored.dropped_rules.is_empty());
        }
        max = max.max(h.data.time);
        assert!(c.push(h.clone()), "unexpectedly late");
        out.extend(c.advance(max - bound - 1));
    }
    out.extend(c.advance(i64::MAX));
    out.into_iter()
        .map(|o| (o.corr, o.group, o.fire.first.0, o.fire.value))
        .collect()
}

#[test]
fn a_restored_image_continues_every_open_window_exactly() {
    let set = brute_force_set();
    let mut hits = Vec::new();
    for u in 0..12u64 {
        for i in 0..(3 + u % 5) {
            hits.push(hit(
                0,
                &format!("user{u}"),
                (u as i64 * 3 + i as i64) * S,
                hits.len() as u64,
                0,
                None,
            ));
        }
        hits.push(hit(
            1,
            &format!("user{u}"),
            (u as i64 * 3 + 6) * S,
            hits.len() as u64,
            1,
            None,
        ));
    }
    hits.sort_by_key(|h| (h.data.time, h.data.seq));
    let reference = run(&set, 1, &hits, 5 * S);
    assert!(reference.iter().any(|o| o.0 == 1), "the chained rule fires");
    for split in 0..hits.len() {
        for shards in [(1, 1), (1, 4), (3, 2)] {
            assert_eq!(
                run_restored(&set, shards, &hits, 5 * S, split),
                reference,
                "checkpoint after {split} hits, shards {shards:?}"
            );
        }
    }
}

#[test]
fn restore_drops_the_state_of_changed_or_removed_rules() {
    let set = brute_force_set();
    let mut c = Correlator::new(set.clone(), 2, 1_000, 0);
    for i in 0..3 {
        c.push(hit(0, "alice", i * S, i as u64, 0, None));
    }
    c.advance(10 * S);
    let image = c.image().expect("image");
    // Same rules: everything kept.
    let mut same = Correlator::new(set.clone(), 1, 1_000, 0);
    let r = same.restore(postcard::from_bytes(&postcard::to_allocvec(&image).expect("e")).expect("d"));
    assert_eq!(r.expect("restore").groups, 1);
    // `many_fail` now needs 6: its state must not be reused.
    let rules = vec![rule("fail"), rule("ok")];
    let mut changed = (*set.specs[0].rule).clone();
    changed.condition.bounds = vec![(CmpOp::Gte, 6.0)];
    let other = Arc::new(CorrelationSet::build(&rules, &[Arc::new(changed)]).expect("links"));
    let mut c2 = Correlator::new(other, 1, 1_000, 0);
    let r = c2.restore(image).expect("restore");
    assert_eq!(r.groups, 0);
    assert_eq!(r.dropped_rules, vec!["many_fail".to_string(), "then_ok".to_string()]);
}

/// `due` says when a flush could fire: once the watermark passes a buffered
/// hit, or the end of a complete window (upper-bounded condition); never
/// for the expiry of a sliding window, which fires nothing.
#[test]
fn due_follows_hits_and_window_ends() {
    let sliding = single(
        "fail",
        corr(
            "burst",
            CorrelationType::EventCount,
            &["fail"],
            &["user"],
            60_000,
            &[(CmpOp::Gte, 2.0)],
            None,
        ),
    );
    let mut c = Correlator::new(sliding, 2, 1_000, 0);
    assert!(!c.due(), "nothing yet");
    assert!(c.push(hit(0, "alice", 10 * S, 1, 0, None)));
    c.observe_watermark(9 * S);
    assert!(!c.due(), "the watermark has not reached the hit");
    c.observe_watermark(10 * S);
    assert!(c.due(), "the watermark reached the hit");
    assert!(c.flush().is_empty());
    assert!(!c.due(), "applied; a sliding window's expiry fires nothing");
    c.observe_watermark(10 * MIN);
    assert!(!c.due(), "even past the window's end");

    let complete = single(
        "fail",
        corr(
            "few",
            CorrelationType::EventCount,
            &["fail"],
            &["user"],
            60_000,
            &[(CmpOp::Lt, 3.0)],
            None,
        ),
    );
    let mut c = Correlator::new(complete, 2, 1_000, 0);
    assert!(c.push(hit(0, "bob", 10 * S, 1, 0, None)));
    assert!(c.advance(10 * S).is_empty());
    c.observe_watermark(69 * S);
    assert!(!c.due(), "the window [10 s, 70 s) is still open");
    c.observe_watermark(70 * S);
    assert!(c.due(), "the window closed: it is judged now");
    assert_eq!(c.flush().len(), 1, "fewer than 3 hits in the window");
    assert!(!c.due());
}

/// Flushing only when `due` gives exactly the firings of flushing after
/// every hit (shuffled within the bound, several shards).
#[test]
fn flushing_when_due_loses_nothing() {
    let set = brute_force_set();
    let mut hits = Vec::new();
    for i in 0..40i64 {
        let user = ["alice", "bob", "carol"][(i % 3) as usize];
        // Failures (correlation 0), and now and then a success (reference 1 of correlation 1).
        let ok = u8::from(i % 7 == 6);
        // Out of order by up to 3 s, within the 5 s bound.
        let t = i * 20 * S + (i * 7919 % 4) * S;
        hits.push(hit(ok as u32, user, t, i as u64, ok, None));
    }
    let every = run(&set, 3, &hits, 5 * S);
    let mut c = Correlator::new(set.clone(), 3, 1_000_000, 0);
    let (mut max, mut out, mut flushes) = (i64::MIN, Vec::new(), 0);
    for h in &hits {
        max = max.max(h.data.time);
        assert!(c.push(h.clone()));
        c.observe_watermark(max - 5 * S - 1);
        if c.due() {
            flushes += 1;
            out.extend(c.flush());
        }
    }
    out.extend(c.advance(i64::MAX));
    let due: Vec<_> = out
        .into_iter()
        .map(|o| (o.corr, o.group, o.fire.first.0, o.fire.value))
        .collect();
    assert!(
        every.iter().any(|f| f.0 == 0) && every.iter().any(|f| f.0 == 1),
        "{every:?}"
    );
    assert_eq!(due, every);
    assert!(flushes < hits.len(), "not a flush per hit: {flushes}");
}

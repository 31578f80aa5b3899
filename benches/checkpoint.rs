//! Checkpoint cost: encoding (and restoring) the whole correlation state, as
//! each commit point does when the rule set has correlation rules.
//!
//! `cargo bench --bench checkpoint` prints, for 10k / 100k / 1M tracked
//! event_count groups (each holding 2 hits), the image + postcard time, the
//! bytes written to the state topic, and the restore time.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tocsin::correlate::window::HitData;
use tocsin::correlate::{CorrelationSet, Correlator, NewHit};

const RULES: &str = "title: Failed\nid: fail\nlogsource:\n    product: t\ndetection:\n    s:\n        a: b\n    condition: s\n\
---\ntitle: C\nid: c\ncorrelation:\n    type: event_count\n    rules: [fail]\n    group-by: [user]\n    timespan: 10m\n    condition:\n        gte: 5\n";

fn set() -> Arc<CorrelationSet> {
    let dir = std::env::temp_dir().join(format!("tocsin-bench-checkpoint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("rules.yml");
    std::fs::write(&file, RULES).expect("write rules");
    let loaded = tocsin::rules::load_paths(&[PathBuf::from(&file)]);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let rules: Vec<_> = loaded.rules.into_iter().map(Arc::new).collect();
    let corrs: Vec<_> = loaded.correlations.into_iter().map(Arc::new).collect();
    Arc::new(CorrelationSet::build(&rules, &corrs).expect("links"))
}

fn main() {
    let set = set();
    println!("| groups | image + encode | bytes | bytes/group | decode + restore |");
    println!("|---|---|---|---|---|");
    for groups in [10_000u64, 100_000, 1_000_000] {
        let mut c = Correlator::new(set.clone(), 2, 10_000_000, 0);
        for i in 0..groups * 2 {
            let g = i % groups;
            c.push(NewHit {
                corr: 0,
                group: vec![Some(format!("user-{g:08}"))],
                data: HitData {
                    time: i as i64 * 1_000,
                    seq: i,
                    rule: 0,
                    value: None,
                },
            });
        }
        c.advance(groups as i64 * 2_000);
        let t = Instant::now();
        let image = c.image().expect("image");
        let bytes = postcard::to_allocvec(&image).expect("encode");
        let encode = t.elapsed();
        let t = Instant::now();
        let mut fresh = Correlator::new(set.clone(), 2, 10_000_000, 0);
        let restored = fresh
            .restore(postcard::from_bytes(&bytes).expect("decode"))
            .expect("restore");
        fresh.advance(groups as i64 * 2_000);
        let restore = t.elapsed();
        assert_eq!(restored.groups as u64, groups);
        println!(
            "| {groups} | {:.1} ms | {} | {:.1} | {:.1} ms |",
            encode.as_secs_f64() * 1e3,
            bytes.len(),
            bytes.len() as f64 / groups as f64,
            restore.as_secs_f64() * 1e3
        );
    }
}

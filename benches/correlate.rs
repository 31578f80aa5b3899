//! Correlation benchmarks: hits applied per second by one shard (the unit of
//! parallelism: `--shards N` runs N of these on N threads) for event_count,
//! value_count and temporal_ordered with 10, 100k and 10M distinct groups, and
//! the bytes each tracked group costs (a counting allocator).
//!
//! `cargo bench --bench correlate` (memory figures print first), or
//! `cargo bench --bench correlate -- 'groups=100000'` for one size, or
//! `cargo bench --bench correlate -- nothing` for the memory figures alone.
//!
//! The hit stream: hit `i` goes to group `(i · 7919) mod G` at event time
//! `i · span / (4G)`, so each group sees about four hits per `timespan`: it
//! stays tracked (a steady state of G groups) and rarely fires, as most
//! users and addresses do in real traffic.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use tocsin::correlate::shard::{Firing, Hit, Shard};
use tocsin::correlate::window::HitData;
use tocsin::correlate::CorrelationSet;

/// Counts live heap bytes, to measure what a tracked group costs.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new.wrapping_sub(l.size()), Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const BASE: &str =
    "title: Failed\nid: fail\nlogsource:\n    product: t\ndetection:\n    s:\n        a: b\n    condition: s\n\
---\ntitle: Succeeded\nid: ok\nlogsource:\n    product: t\ndetection:\n    s:\n        a: c\n    condition: s\n";

/// (name, correlation body): each is benchmarked alone.
const KINDS: [(&str, &str); 3] = [
    (
        "event_count",
        "type: event_count\n    rules: [fail]\n    group-by: [user]\n    timespan: 10m\n    condition:\n        gte: 5",
    ),
    (
        "value_count",
        "type: value_count\n    rules: [fail]\n    group-by: [src]\n    timespan: 10m\n    condition:\n        gte: 10\n        field: user",
    ),
    (
        "temporal_ordered",
        "type: temporal_ordered\n    rules: [fail, ok]\n    group-by: [user]\n    timespan: 10m",
    ),
];

const SPAN_NS: i64 = 600_000_000_000;

fn set_of(body: &str) -> Arc<CorrelationSet> {
    let dir = std::env::temp_dir().join(format!("tocsin-bench-correlate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("rules.yml");
    let text = format!("{BASE}---\ntitle: C\nid: c\ncorrelation:\n    {body}\n");
    std::fs::write(&file, text).expect("write rules");
    let loaded = tocsin::rules::load_paths(&[PathBuf::from(&file)]);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let rules: Vec<_> = loaded.rules.into_iter().map(Arc::new).collect();
    let corrs: Vec<_> = loaded.correlations.into_iter().map(Arc::new).collect();
    Arc::new(CorrelationSet::build(&rules, &corrs).expect("links"))
}

/// The stream of hits for `groups` groups, from hit number `from`.
struct Stream {
    keys: Vec<Box<str>>,
    users: Vec<Box<str>>,
    dt: i64,
    next: u64,
    two_rules: bool,
}

impl Stream {
    fn new(groups: usize, two_rules: bool) -> Stream {
        Stream::with_keys(groups, two_rules, |g| format!("user-{g}"))
    }

    fn with_keys(groups: usize, two_rules: bool, key: impl Fn(usize) -> String) -> Stream {
        Stream {
            keys: (0..groups).map(|g| key(g).into_boxed_str()).collect(),
            users: (0..100).map(|u| format!("u{u}").into_boxed_str()).collect(),
            dt: (SPAN_NS / (4 * groups as i64)).max(1),
            next: 0,
            two_rules,
        }
    }

    fn hit(&mut self) -> Hit {
        let i = self.next;
        self.next += 1;
        let g = (i.wrapping_mul(7919) % self.keys.len() as u64) as usize;
        Hit {
            corr: 0,
            group: self.keys[g].clone(),
            data: HitData {
                time: 1_700_000_000_000_000_000 + i as i64 * self.dt,
                seq: i,
                rule: if self.two_rules { (i / 7 % 2) as u8 } else { 0 },
                value: Some(self.users[(i % 97) as usize].clone()),
            },
        }
    }

    fn time(&self) -> i64 {
        1_700_000_000_000_000_000 + self.next as i64 * self.dt
    }
}

/// Pushes `n` hits and applies them (the watermark just behind the last).
fn feed(shard: &mut Shard, set: &CorrelationSet, s: &mut Stream, n: usize, out: &mut Vec<Firing>) {
    for _ in 0..n {
        shard.push(s.hit());
    }
    shard.advance(set, 0, s.time() - 1, out);
    out.clear();
}

fn throughput(c: &mut Criterion) {
    const BATCH: usize = 100_000;
    for (name, body) in KINDS {
        let set = set_of(body);
        let mut g = c.benchmark_group(format!("shard/{name}"));
        g.throughput(Throughput::Elements(BATCH as u64))
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5));
        for groups in [10usize, 100_000, 10_000_000] {
            let mut shard = Shard::new(&set, usize::MAX, vec![usize::MAX]);
            let mut s = Stream::new(groups, name == "temporal_ordered");
            let mut out = Vec::new();
            // Reach the steady state: every group tracked.
            for _ in 0..(groups / BATCH + 1) {
                feed(&mut shard, &set, &mut s, BATCH, &mut out);
            }
            g.bench_function(format!("groups={groups}"), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        feed(&mut shard, &set, &mut s, BATCH, &mut out);
                    }
                    start.elapsed()
                })
            });
            black_box(shard.tracked_groups());
        }
        g.finish();
    }
}

/// Resident set size (Linux), to see what the allocator's own overhead adds.
fn rss() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    Some(kb.trim().trim_end_matches("kB").trim().parse::<usize>().ok()? * 1024)
}

/// Live heap bytes and RSS growth per tracked group after `hits_each` hits
/// per group, and the number of groups.
fn bytes_per_group(body: &str, groups: usize, hits_each: usize, long_keys: bool) -> (f64, Option<f64>, usize) {
    let set = set_of(body);
    let mut s = if long_keys {
        // 27-32 bytes: user and host joined, as `group-by: [user, host]` makes them.
        Stream::with_keys(groups, false, |g| {
            format!("user-{g}\u{1f}WKS-{:05}.corp.local", g % 20_000)
        })
    } else {
        Stream::new(groups, false)
    };
    // Hits inside one timespan: dt such that all of them fit.
    s.dt = (SPAN_NS / (groups * hits_each + 1) as i64).max(1);
    let before = LIVE.load(Ordering::Relaxed);
    let rss_before = rss();
    let mut shard = Shard::new(&set, usize::MAX, vec![usize::MAX]);
    let mut out = Vec::new();
    for _ in 0..hits_each {
        for _ in 0..groups / 10_000 {
            feed(&mut shard, &set, &mut s, 10_000, &mut out);
        }
    }
    let tracked = shard.tracked_groups();
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    let rss = rss()
        .zip(rss_before)
        .map(|(a, b)| a.saturating_sub(b) as f64 / tracked as f64);
    drop(shard);
    (bytes as f64 / tracked as f64, rss, tracked)
}

/// The memory cases: (correlation, long keys, hits per group).
fn memory_cases() -> Vec<(&'static str, &'static str, bool, usize)> {
    let mut cases = Vec::new();
    for ((name, body), long) in [(KINDS[0], false), (KINDS[1], false), (KINDS[0], true)] {
        for hits in [1, 4] {
            cases.push((name, body, long, hits));
        }
    }
    cases
}

/// Each case runs in a fresh process (this executable, re-run with
/// `TOCSIN_BENCH_MEMORY_CASE`), so its RSS growth is not hidden by memory an
/// earlier case freed.
fn memory_report() {
    println!("bytes per tracked group (live heap / groups, and RSS growth / groups):");
    let exe = std::env::current_exe().expect("bench executable");
    for i in 0..memory_cases().len() {
        let out = std::process::Command::new(&exe)
            .env("TOCSIN_BENCH_MEMORY_CASE", i.to_string())
            .output()
            .expect("re-running the bench for a memory case");
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

fn memory_case(i: usize) {
    let (name, body, long, hits) = memory_cases()[i];
    let keys = if long { "keys 27-32 B" } else { "keys 6-11 B " };
    let (b, rss, n) = bytes_per_group(body, 1_000_000, hits, long);
    let rss = rss.map_or("-".to_string(), |r| format!("{r:.1}"));
    println!("  {name:<12} {keys}  {hits} hit(s)/group  {n:>9} groups  {b:>6.1} B/group heap  {rss:>6} B/group RSS");
}

criterion_group!(benches, throughput);

fn main() {
    if let Some(i) = std::env::var("TOCSIN_BENCH_MEMORY_CASE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        memory_case(i);
        return;
    }
    memory_report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}

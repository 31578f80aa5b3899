//! Throughput of the per-record path over a generated Windows event stream.
//!
//! - `decode`: `JsonDecoder::decode` alone.
//! - `decode_match/rules=N`: decode + classify + match + alert through
//!   `Processor::process`, with the first N (by path) SigmaHQ Windows rules
//!   that load, compile and apply to a source of `benches/windows-flat.toml`.
//! - `decode_match/shipped`: the repository's `rules/` pack with
//!   `samples/tocsin.toml`, over the same stream in Winlogbeat layout.
//!
//! `cargo bench --bench matcher`; see `benches/README.md` for measured figures.

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, SamplingMode, Throughput};
use tocsin::alert::redact::Redactor;
use tocsin::decode::JsonDecoder;
use tocsin::detector::Detector;
use tocsin::event::Position;
use tocsin::pipeline::Processor;

use common::gen::{EventGen, Shape};
use common::Count;

/// Events per iteration: ~14 MB of JSON, well beyond the caches.
const EVENTS: usize = 20_000;
const SEED: u64 = 42;

fn generate(shape: Shape) -> Vec<String> {
    let mut g = EventGen::new(SEED).with_shape(shape);
    (0..EVENTS).map(|_| g.next_event()).collect()
}

fn configure(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, secs: u64) {
    // Each iteration is a whole pass over EVENTS: flat sampling keeps the
    // run short without distorting per-element figures.
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(2));
    g.measurement_time(Duration::from_secs(secs));
    g.throughput(Throughput::Elements(EVENTS as u64));
}

/// Runs every event through `proc` once, as `tocsin run` does.
fn feed(proc: &mut Processor, events: &[String], out: &mut Count) {
    let file = String::from("bench.ndjson");
    for (i, e) in events.iter().enumerate() {
        let pos = Position::File {
            file: file.clone(),
            line: i as u64 + 1,
        };
        proc.process(e.as_bytes(), e.len(), pos, None, out)
            .expect("count output never fails");
    }
}

fn processor(det: &Arc<Detector>, max_event_bytes: usize) -> Processor {
    Processor::new(det.clone(), Redactor::default_on(), max_event_bytes)
}

/// One pass outside the measurement, to report what the benchmark exercises.
fn describe(label: &str, det: &Arc<Detector>, events: &[String], max_event_bytes: usize) {
    let mut proc = processor(det, max_event_bytes);
    let mut out = Count::default();
    feed(&mut proc, events, &mut out);
    let s = proc.stats();
    eprintln!(
        "[{label}] {} active rules; {} events: {} classified, {} unclassified, {} dead letters, {} with alerts ({:.3}%), {} alerts",
        det.active_rules,
        s.records,
        s.events,
        s.unclassified,
        s.dead_letter_total(),
        s.matched_events,
        100.0 * s.matched_events as f64 / s.records.max(1) as f64,
        s.alerts
    );
}

fn bench_decode(c: &mut Criterion) {
    let events = generate(Shape::Flat);
    let bytes: usize = events.iter().map(String::len).sum();
    eprintln!(
        "[decode] {EVENTS} events, {bytes} bytes ({:.0} bytes/event)",
        bytes as f64 / EVENTS as f64
    );
    let mut g = c.benchmark_group("decode");
    configure(&mut g, 5);
    g.bench_function("flat", |b| {
        let mut d = JsonDecoder::new(1 << 20);
        b.iter(|| {
            let mut fields = 0usize;
            for e in &events {
                let decoded = d.decode(e.as_bytes()).expect("generated events are valid");
                fields += decoded.root().entries().count();
            }
            black_box(fields)
        })
    });
    g.finish();
}

fn bench_decode_match(c: &mut Criterion) {
    let cfg = common::flat_config();
    let usable = common::usable_rules(&common::windows_rules_dir(), &cfg);
    eprintln!(
        "[rules] {} Windows rules loaded ({} load errors), {} rejected by the compiler, {} idle (no source), {} usable",
        usable.loaded,
        usable.load_errors,
        usable.compile_rejected,
        usable.idle,
        usable.rules.len()
    );
    let events = generate(Shape::Flat);
    let mut g = c.benchmark_group("decode_match");
    configure(&mut g, 8);
    let all = usable.rules.len();
    for (label, n) in [("10", 10), ("100", 100), ("1000", 1000), ("all", all)] {
        let n = n.min(all);
        let det = Arc::new(common::build(&usable.rules[..n], &cfg));
        assert!(det.errors.is_empty(), "usable rules compile");
        let name = format!("rules={label}");
        describe(&name, &det, &events, cfg.input.max_event_bytes);
        g.bench_function(&name, |b| {
            let mut proc = processor(&det, cfg.input.max_event_bytes);
            let mut out = Count::default();
            b.iter(|| feed(&mut proc, &events, &mut out));
            black_box(out.alerts);
        });
    }

    let shipped_cfg = common::load_config(&common::repo().join("samples/tocsin.toml"));
    let shipped = common::usable_rules(&common::repo().join("rules"), &shipped_cfg);
    let mut det = common::build(&shipped.rules, &shipped_cfg);
    // The shipped pack includes correlations: hits, watermarks and firings are part of the path.
    // Linked against every shipped rule: correlations over sources this config
    // lacks stay idle, as in `tocsin run`.
    let all = tocsin::rules::load_paths(&[common::repo().join("rules")]);
    let all_rules: Vec<Arc<_>> = all.rules.into_iter().map(Arc::new).collect();
    let corrs: Vec<Arc<_>> = all.correlations.into_iter().map(Arc::new).collect();
    det.correlations =
        Arc::new(tocsin::correlate::CorrelationSet::build(&all_rules, &corrs).expect("shipped correlations link"));
    let det = Arc::new(det);
    let wlb = generate(Shape::Winlogbeat);
    describe("shipped", &det, &wlb, shipped_cfg.input.max_event_bytes);
    g.bench_function("shipped", |b| {
        // A fresh processor per pass: replaying the same event times into one
        // correlator would make every hit after the first pass late.
        b.iter_batched(
            || processor(&det, shipped_cfg.input.max_event_bytes),
            |mut proc| {
                let mut out = Count::default();
                feed(&mut proc, &wlb, &mut out);
                let _ = proc.finish(&mut out);
                black_box(out.alerts)
            },
            criterion::BatchSize::LargeInput,
        );
    });
    g.finish();
}

criterion_group!(benches, bench_decode, bench_decode_match);
criterion_main!(benches);

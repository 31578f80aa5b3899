//! Differential test: the indexed matcher (`Plan::scan`) against the naive
//! reference evaluator, with every Windows rule of the SigmaHQ corpus, over
//! the real conformance events and over random events built from the rules'
//! own fields and values (mangled: case, dashes, prefixes, suffixes), so that
//! near-misses and partial matches are common.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value as J};
use tocsin::decode::JsonDecoder;
use tocsin::matcher::compile::CompileOptions;
use tocsin::matcher::{reference, Plan, Scratch};
use tocsin::rules::{load_paths, LogSource, Rule, StrPart, Value};

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/sigma")
}

fn windows_plans() -> Vec<(Plan, Vec<Arc<Rule>>)> {
    let loaded = load_paths(&[shared().join("rules/rules/windows")]);
    let rules: Vec<Arc<Rule>> = loaded.rules.into_iter().map(Arc::new).collect();
    let mut by_ls: BTreeMap<LogSource, Vec<Arc<Rule>>> = BTreeMap::new();
    for r in &rules {
        by_ls.entry(r.logsource.clone()).or_default().push(r.clone());
    }
    by_ls
        .into_values()
        .map(|rs| {
            let (plan, _) = Plan::compile(&rs, &CompileOptions::default());
            let compiled = plan.rules.clone();
            (plan, compiled)
        })
        .collect()
}

/// Compares both evaluators on one event; returns how many rules matched.
fn compare(plans: &[(Plan, Vec<Arc<Rule>>)], event: &str, dec: &mut JsonDecoder, s: &mut Scratch) -> usize {
    let ev = dec.decode(event.as_bytes()).expect("event JSON");
    let opts = CompileOptions::default();
    let mut total = 0;
    for (plan, rules) in plans {
        let fast: BTreeSet<u32> = plan.scan(ev.root(), s).iter().copied().collect();
        let slow: BTreeSet<u32> = (0..rules.len() as u32)
            .filter(|&i| reference::matches(&rules[i as usize], ev.root(), &opts))
            .collect();
        if fast != slow {
            let name = |i: &u32| rules[*i as usize].title.clone();
            panic!(
                "indexed and reference disagree on {event}\nindexed only: {:?}\nreference only: {:?}",
                fast.difference(&slow).map(name).collect::<Vec<_>>(),
                slow.difference(&fast).map(name).collect::<Vec<_>>()
            );
        }
        total += fast.len();
    }
    total
}

#[test]
fn indexed_matcher_agrees_with_reference_on_conformance_events() {
    let plans = windows_plans();
    let (mut dec, mut s) = (JsonDecoder::new(1 << 20), Scratch::new());
    let mut events = 0;
    let mut matches = 0;
    for entry in std::fs::read_dir(shared().join("conformance")).unwrap() {
        let p = entry.unwrap().path().join("events.ndjson");
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            matches += compare(&plans, line, &mut dec, &mut s);
            events += 1;
        }
    }
    assert!(events >= 147, "{events} events");
    assert!(matches >= 122, "the conformance events do match rules ({matches})");
}

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Field name → literal texts the rules test it with.
fn vocabulary(plans: &[(Plan, Vec<Arc<Rule>>)]) -> Vec<(String, Vec<String>)> {
    let mut vocab: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, rules) in plans {
        for r in rules {
            for id in &r.detection.identifiers {
                for g in &id.groups {
                    for item in &g.items {
                        let field = item.field.clone().unwrap_or_else(|| "Keywords".into());
                        let set = vocab.entry(field).or_default();
                        for v in &item.values {
                            let text = match v {
                                Value::String(s) => s
                                    .parts
                                    .iter()
                                    .map(|p| match p {
                                        StrPart::Literal(l) => l.as_str(),
                                        StrPart::AnyString => "",
                                        StrPart::AnyChar => "x",
                                    })
                                    .collect(),
                                other => other.text(),
                            };
                            set.insert(text);
                        }
                    }
                }
            }
        }
    }
    vocab.into_iter().map(|(k, v)| (k, v.into_iter().collect())).collect()
}

fn mangle(rng: &mut Rng, v: &str, pool: &[String]) -> String {
    match rng.below(9) {
        0 => v.to_uppercase(),
        1 => format!("C:\\Windows\\System32\\{v}"),
        2 => format!("{v} --flag /x"),
        3 => v.replace('-', "/").replace(' ', "  "),
        4 => v.replace('/', "\u{2013}"),
        5 => format!("{v}{}", pool[rng.below(pool.len())]),
        6 => v.chars().take(v.chars().count().saturating_sub(1)).collect(),
        _ => v.to_string(),
    }
}

#[test]
fn indexed_matcher_agrees_with_reference_on_random_events() {
    let plans = windows_plans();
    let vocab = vocabulary(&plans);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut dec, mut s) = (JsonDecoder::new(1 << 20), Scratch::new());
    let mut matched_events = 0;
    for _ in 0..1500 {
        let mut obj = Map::new();
        for _ in 0..1 + rng.below(10) {
            let (field, values) = &vocab[rng.below(vocab.len())];
            let v = &values[rng.below(values.len())];
            let text = mangle(&mut rng, v, values);
            let value = match rng.below(12) {
                0 => J::Null,
                1 => text.parse::<i64>().map(J::from).unwrap_or(J::String(text)),
                2 => J::Array(vec![J::String(text), J::String("other".into())]),
                _ => J::String(text),
            };
            obj.insert(field.clone(), value);
        }
        let event = J::Object(obj).to_string();
        if compare(&plans, &event, &mut dec, &mut s) > 0 {
            matched_events += 1;
        }
    }
    assert!(
        matched_events > 20,
        "random events exercise matches too ({matched_events})"
    );
}

//! Shared by the benchmarks: the event generator and the rule / detector setup.
#![allow(dead_code)]

pub mod gen;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tocsin::alert::Alert;
use tocsin::classify::Source;
use tocsin::config::Config;
use tocsin::detector::{Detector, TimeDefaults};
use tocsin::rules::{load_paths, Rule};
use tocsin::sink::{DeadLetter, Output};

/// The crate root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The SigmaHQ Windows rules (read-only, beside the checkout).
pub fn windows_rules_dir() -> PathBuf {
    repo().join("../shared/sigma/rules/rules/windows")
}

/// The source config of the generated flat stream.
pub fn flat_config() -> Config {
    load_config(&repo().join("benches/windows-flat.toml"))
}

pub fn load_config(path: &Path) -> Config {
    Config::load(path).unwrap_or_else(|e| panic!("{e}"))
}

pub fn sources(cfg: &Config) -> Vec<Source> {
    cfg.sources.iter().map(Source::from_config).collect()
}

pub fn time_defaults(cfg: &Config) -> TimeDefaults {
    TimeDefaults {
        fields: cfg.input.time_fields.clone(),
        fallback: cfg.input.time_fallback,
    }
}

/// Compiles `rules` for the sources of `cfg`.
pub fn build(rules: &[Arc<Rule>], cfg: &Config) -> Detector {
    Detector::build(rules, sources(cfg), &cfg.placeholders, &time_defaults(cfg))
}

/// What loading a rule directory for a config found.
pub struct Usable {
    /// Rules that parse, compile, and apply to at least one source, sorted by path.
    pub rules: Vec<Arc<Rule>>,
    pub loaded: usize,
    /// Rejected at load (parse) time: errors, not rules.
    pub load_errors: usize,
    /// Rejected by the compiler.
    pub compile_rejected: usize,
    /// Whose logsource no source provides.
    pub idle: usize,
}

/// The rules under `dir` that load and compile for at least one source of `cfg`.
pub fn usable_rules(dir: &Path, cfg: &Config) -> Usable {
    let loaded = load_paths(&[dir.to_path_buf()]);
    let load_errors = loaded.errors.len();
    let mut rules: Vec<Arc<Rule>> = loaded.rules.into_iter().map(Arc::new).collect();
    rules.sort_by(|a, b| {
        a.location
            .file
            .cmp(&b.location.file)
            .then(a.location.line.cmp(&b.location.line))
    });
    let det = build(&rules, cfg);
    let failed: HashSet<&str> = det.errors.iter().filter_map(|e| e.rule.as_deref()).collect();
    let idle: HashSet<*const Rule> = det.idle_rules.iter().map(Arc::as_ptr).collect();
    let total = rules.len();
    let compile_rejected = rules.iter().filter(|r| failed.contains(r.key())).count();
    let usable: Vec<Arc<Rule>> = rules
        .iter()
        .filter(|r| !failed.contains(r.key()) && !idle.contains(&Arc::as_ptr(r)))
        .cloned()
        .collect();
    Usable {
        rules: usable,
        loaded: total,
        load_errors,
        compile_rejected,
        idle: idle.len(),
    }
}

/// An output that only counts, so that benchmarks measure the engine and not
/// the collection of alerts.
#[derive(Default)]
pub struct Count {
    pub alerts: u64,
    pub dead_letters: u64,
}

impl Output for Count {
    fn alert(&mut self, alert: &Alert) -> std::io::Result<()> {
        std::hint::black_box(alert);
        self.alerts += 1;
        Ok(())
    }

    fn dead_letter(&mut self, dl: &DeadLetter) -> std::io::Result<()> {
        std::hint::black_box(dl);
        self.dead_letters += 1;
        Ok(())
    }
}

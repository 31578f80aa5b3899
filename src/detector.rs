//! The compiled detection state: configured sources, each with the plan of
//! the rules that apply to its logsource.
//!
//! Built once at start-up (and on reload), then shared read-only by every
//! worker. Building reports what a detection engineer needs to know: rules
//! that failed to compile, and rules that no source feeds (idle rules).

use std::sync::Arc;

use crate::classify::{applies, Source};
use crate::correlate::CorrelationSet;
use crate::decode::time::{TimeConfig, TimeFallback};
use crate::matcher::compile::CompileOptions;
use crate::matcher::pattern::Placeholders;
use crate::matcher::Plan;
use crate::rules::{Rule, RuleError};

/// One source with its compiled plan.
pub struct SourcePlan {
    pub source: Source,
    pub plan: Plan,
    pub time: TimeConfig,
    /// Field mapping of this source (group-by and value fields of correlations read through it).
    pub opts: CompileOptions,
}

/// All sources and plans, plus what building them found.
pub struct Detector {
    pub sources: Vec<SourcePlan>,
    /// Rules that compiled for at least one source.
    pub active_rules: usize,
    /// Rules whose logsource no configured source provides.
    pub idle_rules: Vec<Arc<Rule>>,
    /// Rules rejected by the compiler (bad regex, undefined placeholder, …).
    pub errors: Vec<RuleError>,
    /// Correlation rules over the detection rules.
    pub correlations: Arc<CorrelationSet>,
}

/// Time settings shared by sources that do not override them.
#[derive(Clone, Debug)]
pub struct TimeDefaults {
    pub fields: Vec<String>,
    pub fallback: TimeFallback,
}

impl Detector {
    pub fn build(
        rules: &[Arc<Rule>],
        sources: Vec<Source>,
        placeholders: &Placeholders,
        time: &TimeDefaults,
    ) -> Detector {
        let mut errors: Vec<RuleError> = Vec::new();
        let mut used = vec![false; rules.len()];
        let mut plans = Vec::new();
        for source in sources {
            let mine: Vec<Arc<Rule>> = rules
                .iter()
                .enumerate()
                .filter(|(_, r)| applies(&r.logsource, &source.logsource))
                .map(|(i, r)| {
                    used[i] = true;
                    r.clone()
                })
                .collect();
            let opts = CompileOptions {
                field_map: source.field_map.clone(),
                field_prefixes: source.field_prefixes.clone(),
                placeholders: placeholders.clone(),
            };
            let (plan, errs) = Plan::compile(&mine, &opts);
            let opts = CompileOptions {
                placeholders: Default::default(),
                ..opts
            };
            for e in errs {
                if !errors.iter().any(|x| x.location == e.location && x.kind == e.kind) {
                    errors.push(e);
                }
            }
            let time = TimeConfig {
                fields: source.time_fields.clone().unwrap_or_else(|| time.fields.clone()),
                fallback: time.fallback,
            };
            plans.push(SourcePlan {
                source,
                plan,
                time,
                opts,
            });
        }
        let failed: std::collections::HashSet<String> = errors.iter().filter_map(|e| e.rule.clone()).collect();
        let active_rules = rules
            .iter()
            .zip(&used)
            .filter(|(r, u)| **u && !failed.contains(r.key()))
            .count();
        let idle_rules = rules
            .iter()
            .zip(&used)
            .filter(|(_, u)| !**u)
            .map(|(r, _)| r.clone())
            .collect();
        Detector {
            sources: plans,
            active_rules,
            idle_rules,
            errors,
            correlations: Arc::new(CorrelationSet::default()),
        }
    }
}

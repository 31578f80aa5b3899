//! Correlate: Sigma correlation rules over event time, in shards that each
//! own their groups' state.
//!
//! Data flow: a detection match of a rule that correlations reference becomes
//! one [`shard::Hit`] per such correlation, keyed by the correlation and its
//! group-by values and routed to shard `hash(correlation, group) % shards`.
//! Watermark advances are applied layer by layer (correlations of base rules,
//! then correlations of correlations), so a correlation that consumes another
//! one's firings sees them at the event time and position of the hit that
//! made them fire, in order with its other hits.
//!
//! Modules: [`window`] (per-group state and firing rules), [`shard`] (buffer,
//! order, timers, caps), [`watermark`] (per-partition event-time progress).

pub mod shard;
pub mod watermark;
pub mod window;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use shard::{Firing, Hit, Shard, ShardStats};
use window::{HitData, Seq, WindowSpec};

use crate::rules::ast::CorrelationRule;
use crate::rules::Rule;

/// What a referenced rule is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefTarget {
    /// A detection rule, by its key ([`Rule::key`]).
    Detection(String),
    /// Another correlation, by index in [`CorrelationSet::specs`].
    Correlation(u32),
}

/// One correlation rule, compiled.
#[derive(Clone, Debug)]
pub struct CorrSpec {
    pub rule: Arc<CorrelationRule>,
    pub window: WindowSpec,
    /// 0 for correlations over detection rules only; 1 + the deepest referenced correlation otherwise.
    pub layer: u8,
    pub refs: Vec<RefTarget>,
    /// Group-by output names (alias names where aliased).
    pub group_names: Vec<String>,
    /// Per referenced rule: the field read for each group-by name.
    pub group_fields: Vec<Vec<String>>,
    /// Per referenced rule: the field read for the condition's `field`.
    pub value_fields: Vec<Option<String>>,
    /// `tocsin: {suppress: 30m}`: repeat firings of a group within this period fold into one alert.
    pub suppress_ns: Option<i64>,
}

/// All correlation rules of a rule set, with who feeds whom.
#[derive(Clone, Debug, Default)]
pub struct CorrelationSet {
    pub specs: Vec<CorrSpec>,
    /// Detection rule key → (correlation, index of the reference).
    pub by_detection: HashMap<String, Vec<(u32, u8)>>,
    /// Correlation → (outer correlation, index of the reference).
    pub by_correlation: Vec<Vec<(u32, u8)>>,
    /// Detection rules that must not alert on their own (`generate: false` somewhere).
    pub silent_detections: std::collections::HashSet<String>,
    pub silent_correlations: Vec<bool>,
    pub max_layer: u8,
}

/// A problem linking correlations (the loader reports these with locations first).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinkError {
    #[error("correlation `{corr}` references unknown rule `{reference}`")]
    Unknown { corr: String, reference: String },
    #[error("correlation `{corr}` is part of a reference cycle")]
    Cycle { corr: String },
}

impl CorrelationSet {
    pub fn build(rules: &[Arc<Rule>], correlations: &[Arc<CorrelationRule>]) -> Result<CorrelationSet, LinkError> {
        let mut det_names: HashMap<&str, &str> = HashMap::new();
        for r in rules {
            for n in [r.id.as_deref(), r.name.as_deref()].into_iter().flatten() {
                det_names.insert(n, r.key());
            }
        }
        let mut corr_names: HashMap<&str, u32> = HashMap::new();
        for (i, c) in correlations.iter().enumerate() {
            for n in [c.id.as_deref(), c.name.as_deref(), Some(c.title.as_str())]
                .into_iter()
                .flatten()
            {
                corr_names.entry(n).or_insert(i as u32);
            }
        }
        let mut refs_all = Vec::new();
        for c in correlations {
            let mut refs = Vec::new();
            for r in &c.rules {
                let t = if let Some(k) = det_names.get(r.reference.as_str()) {
                    RefTarget::Detection(k.to_string())
                } else if let Some(&i) = corr_names.get(r.reference.as_str()) {
                    RefTarget::Correlation(i)
                } else {
                    return Err(LinkError::Unknown {
                        corr: c.key().into(),
                        reference: r.reference.clone(),
                    });
                };
                refs.push(t);
            }
            refs_all.push(refs);
        }
        let layers = layers(&refs_all, correlations)?;
        let mut set = CorrelationSet {
            by_correlation: vec![Vec::new(); correlations.len()],
            silent_correlations: vec![false; correlations.len()],
            ..Default::default()
        };
        for (i, (c, refs)) in correlations.iter().zip(refs_all).enumerate() {
            for (j, t) in refs.iter().enumerate() {
                match t {
                    RefTarget::Detection(k) => {
                        set.by_detection.entry(k.clone()).or_default().push((i as u32, j as u8));
                        if !c.generate {
                            set.silent_detections.insert(k.clone());
                        }
                    }
                    &RefTarget::Correlation(o) => {
                        set.by_correlation[o as usize].push((i as u32, j as u8));
                        if !c.generate {
                            set.silent_correlations[o as usize] = true;
                        }
                    }
                }
            }
            set.specs.push(spec(c.clone(), refs, layers[i]));
        }
        set.max_layer = layers.iter().copied().max().unwrap_or(0);
        Ok(set)
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }
}

fn spec(rule: Arc<CorrelationRule>, refs: Vec<RefTarget>, layer: u8) -> CorrSpec {
    let field_of = |name: &str, j: usize| -> String {
        let reference = &rule.rules[j].reference;
        rule.aliases
            .iter()
            .find(|a| a.name == name)
            .and_then(|a| a.fields.iter().find(|(r, _)| r == reference).map(|(_, f)| f.clone()))
            .unwrap_or_else(|| name.to_string())
    };
    let group_fields = (0..refs.len())
        .map(|j| rule.group_by.iter().map(|g| field_of(g, j)).collect())
        .collect();
    let value_fields = (0..refs.len())
        .map(|j| rule.condition.field.as_deref().map(|f| field_of(f, j)))
        .collect();
    let suppress_ns = rule
        .tocsin
        .as_ref()
        .and_then(|t| t.get("suppress"))
        .and_then(|v| v.as_str())
        .and_then(parse_duration_ms)
        .map(|ms| ms as i64 * 1_000_000);
    CorrSpec {
        window: WindowSpec::new(rule.kind, rule.condition.clone(), rule.timespan_ms, refs.len()),
        layer,
        group_names: rule.group_by.clone(),
        group_fields,
        value_fields,
        suppress_ns,
        refs,
        rule,
    }
}

/// Durations of settings (`--allowed-lateness`, `tocsin: {suppress}`): the
/// rule timespan syntax (`30s`, `10m`, `1h`, `2d`, `1w`), plus `ms` and zero.
pub fn parse_duration_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse().ok();
    }
    if s.len() > 1 && s[..s.len() - 1].bytes().all(|b| b == b'0') {
        return crate::rules::parse::correlation::parse_timespan(&format!("1{}", &s[s.len() - 1..]))
            .ok()
            .map(|_| 0);
    }
    crate::rules::parse::correlation::parse_timespan(s).ok()
}

fn layers(refs: &[Vec<RefTarget>], corrs: &[Arc<CorrelationRule>]) -> Result<Vec<u8>, LinkError> {
    // 0 = unvisited, 1 = visiting, 2 = done
    fn visit(
        i: usize,
        refs: &[Vec<RefTarget>],
        mark: &mut [u8],
        layer: &mut [u8],
        corrs: &[Arc<CorrelationRule>],
    ) -> Result<u8, LinkError> {
        match mark[i] {
            2 => return Ok(layer[i]),
            1 => {
                return Err(LinkError::Cycle {
                    corr: corrs[i].key().into(),
                })
            }
            _ => {}
        }
        mark[i] = 1;
        let mut l = 0u8;
        for t in &refs[i] {
            if let RefTarget::Correlation(o) = t {
                l = l.max(visit(*o as usize, refs, mark, layer, corrs)?.saturating_add(1));
            }
        }
        mark[i] = 2;
        layer[i] = l;
        Ok(l)
    }
    let mut mark = vec![0u8; refs.len()];
    let mut layer = vec![0u8; refs.len()];
    for i in 0..refs.len() {
        visit(i, refs, &mut mark, &mut layer, corrs)?;
    }
    Ok(layer)
}

/// A hit ready for routing: which correlation, group values, time, position.
#[derive(Clone, Debug)]
pub struct NewHit {
    pub corr: u32,
    pub group: Vec<Option<String>>,
    pub data: HitData,
}

/// A firing with its group values, ready to become an alert.
#[derive(Clone, Debug)]
pub struct Output {
    pub corr: u32,
    pub group: Vec<Option<String>>,
    pub fire: window::Fire,
    /// Whether it should be published (false: silenced by `generate: false` of an outer rule).
    pub publish: bool,
}

/// Drives the shards deterministically (the threaded runner uses the same
/// rounds); `shards` only changes where state lives, never the result.
pub struct Correlator {
    pub set: Arc<CorrelationSet>,
    shards: Vec<Shard>,
    applied: i64,
    lateness: i64,
    pub late: u64,
}

/// Group values travel joined by the unit separator.
const SEP: char = '\u{1f}';

fn join(group: &[Option<String>]) -> Box<str> {
    let mut s = String::new();
    for (i, v) in group.iter().enumerate() {
        if i > 0 {
            s.push(SEP);
        }
        match v {
            Some(v) => s.push_str(v),
            None => s.push('\u{0}'),
        }
    }
    s.into_boxed_str()
}

fn split(group: &str, n: usize) -> Vec<Option<String>> {
    if n == 0 {
        return Vec::new();
    }
    group
        .split(SEP)
        .map(|v| (v != "\u{0}").then(|| v.to_string()))
        .collect()
}

impl Correlator {
    pub fn new(set: Arc<CorrelationSet>, shards: usize, max_groups: usize, allowed_lateness_ns: i64) -> Self {
        let n = shards.max(1);
        let per_shard = max_groups.div_ceil(n).max(1);
        Correlator {
            shards: (0..n).map(|_| Shard::new(&set, per_shard)).collect(),
            set,
            applied: i64::MIN,
            lateness: allowed_lateness_ns,
            late: 0,
        }
    }

    /// Whether a hit at `time` arrives too late to be applied in order.
    pub fn is_late(&self, time: i64) -> bool {
        self.applied != i64::MIN && time <= self.applied
    }

    /// Routes a hit; returns false (and counts it) when it is late.
    pub fn push(&mut self, h: NewHit) -> bool {
        if self.is_late(h.data.time) {
            self.late += 1;
            return false;
        }
        let group = join(&h.group);
        let shard = route(h.corr, &group, self.shards.len());
        self.shards[shard].push(Hit {
            corr: h.corr,
            group,
            data: h.data,
        });
        true
    }

    /// Advances to pipeline watermark `wm` (minus the allowed lateness) and
    /// returns the firings, in deterministic order.
    pub fn advance(&mut self, wm: i64) -> Vec<Output> {
        let target = if wm == i64::MAX {
            wm
        } else {
            wm.saturating_sub(self.lateness)
        };
        if target <= self.applied {
            return Vec::new();
        }
        let mut outputs = Vec::new();
        for layer in 0..=self.set.max_layer {
            let mut firings: Vec<Firing> = Vec::new();
            for s in &mut self.shards {
                s.advance(&self.set, layer, target, &mut firings);
            }
            firings.sort_by(|a, b| (a.fire.last, a.corr, &a.group).cmp(&(b.fire.last, b.corr, &b.group)));
            for f in firings {
                let spec = &self.set.specs[f.corr as usize];
                let group = split(&f.group, spec.group_names.len());
                for &(outer, j) in &self.set.by_correlation[f.corr as usize] {
                    let ospec = &self.set.specs[outer as usize];
                    let og = ospec.group_fields[j as usize]
                        .iter()
                        .map(|name| {
                            spec.group_names
                                .iter()
                                .position(|n| n == name)
                                .and_then(|i| group[i].clone())
                        })
                        .collect::<Vec<_>>();
                    let value = ospec.value_fields[j as usize]
                        .as_ref()
                        .and_then(|name| spec.group_names.iter().position(|n| n == name))
                        .and_then(|i| group[i].clone())
                        .map(String::into_boxed_str);
                    let data = HitData {
                        time: f.fire.last.0,
                        seq: f.fire.last.1,
                        rule: j,
                        value,
                    };
                    let g = join(&og);
                    let shard = route(outer, &g, self.shards.len());
                    self.shards[shard].push(Hit {
                        corr: outer,
                        group: g,
                        data,
                    });
                }
                outputs.push(Output {
                    corr: f.corr,
                    group,
                    publish: !self.set.silent_correlations[f.corr as usize],
                    fire: f.fire,
                });
            }
        }
        self.applied = target;
        outputs
    }

    pub fn tracked_groups(&self) -> usize {
        self.shards.iter().map(Shard::tracked_groups).sum()
    }

    pub fn stats(&self) -> ShardStats {
        let mut t = ShardStats::default();
        for s in &self.shards {
            t.applied += s.stats.applied;
            t.fired += s.stats.fired;
            t.expired += s.stats.expired;
            t.evicted += s.stats.evicted;
        }
        t
    }
}

/// Shard of a (correlation, group): stable across runs and platforms (FNV-1a).
pub fn route(corr: u32, group: &str, shards: usize) -> usize {
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 ^= *b as u64;
                self.0 = self.0.wrapping_mul(0x100_0000_01b3);
            }
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    corr.hash(&mut h);
    group.hash(&mut h);
    (h.finish() % shards.max(1) as u64) as usize
}

/// Packs a partition index and an offset into a [`Seq`].
pub fn seq(partition: u32, offset: u64) -> Seq {
    ((partition as u64) << 48) | (offset & 0xFFFF_FFFF_FFFF)
}

pub fn unseq(s: Seq) -> (u32, u64) {
    ((s >> 48) as u32, s & 0xFFFF_FFFF_FFFF)
}

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
//! order, timers, caps), `worker` (a thread per shard, bounded channels),
//! [`watermark`] (per-partition event-time progress).

pub mod image;
pub mod shard;
pub mod watermark;
pub mod window;
mod worker;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use shard::{Evictions, Firing, Hit, Shard, ShardStats};
use window::{HitData, Seq, WindowSpec};
use worker::Worker;

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
    /// `tocsin: {max_groups: N}`: this rule's own cap on tracked groups.
    pub max_groups: Option<usize>,
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
        max_groups: rule
            .tocsin
            .as_ref()
            .and_then(|t| t.get("max_groups"))
            .and_then(|v| v.as_u64())
            .map(|n| n.max(1) as usize),
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
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Output {
    pub corr: u32,
    pub group: Vec<Option<String>>,
    pub fire: window::Fire,
    /// Whether it should be published (false: silenced by `generate: false` of an outer rule).
    pub publish: bool,
}

/// A correlation rule lost state to a cap: raised as a `state_overflow`
/// meta-alert for the first eviction of the rule in each hour of event time
/// ([`shard::OVERFLOW_PERIOD_NS`]); every eviction is counted in the stats.
/// Deterministic for a given shard count: shards report their first eviction
/// per period, and a flush only holds hits before anything later flushes hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Overflow {
    pub corr: u32,
    /// Event time and position of the hit whose new group forced the eviction.
    pub first: (i64, Seq),
    /// Groups that hit evicted.
    pub evicted: u64,
}

/// Coordinates the shard workers. Hits are routed by
/// `hash(correlation, group)`; each advance runs layer by layer with a barrier
/// per layer, and firings are ordered by (event time, correlation, group), so
/// `shards` changes where state lives and how much runs in parallel, never
/// the firings (evictions by a cap are per shard; see [`Overflow`]).
pub struct Correlator {
    pub set: Arc<CorrelationSet>,
    workers: Vec<Worker>,
    /// Hits per shard not yet sent.
    outbox: Vec<Vec<Hit>>,
    /// Watermark (minus the allowed lateness) admitted: hits at or before it are late.
    target: i64,
    applied: i64,
    lateness: i64,
    pub late: u64,
    /// The shards' counters as of their last advance.
    shard_stats: Vec<ShardStats>,
    /// Per correlation: the overflow period of its last meta-alert.
    overflow: Vec<Option<i64>>,
    overflows: Vec<Overflow>,
    /// Earliest event time at which a flush could fire something: hits
    /// routed since the last flush, and each shard's [`Shard::next_due`]
    /// as of its last advance. Lets the pipeline flush as soon as the
    /// watermark passes it instead of on a timer ([`Correlator::due`]).
    next_due: i64,
    shard_due: Vec<i64>,
}

/// Hits sent to a worker at a time.
const BATCH: usize = 512;

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
    /// `max_groups` is the global cap; a rule's `tocsin: {max_groups: N}` caps
    /// it alone. Both are divided evenly among the shards.
    pub fn new(set: Arc<CorrelationSet>, shards: usize, max_groups: usize, allowed_lateness_ns: i64) -> Self {
        let n = shards.max(1);
        let per_shard = max_groups.div_ceil(n).max(1);
        let caps: Vec<usize> = set
            .specs
            .iter()
            .map(|s| s.max_groups.map_or(usize::MAX, |m| m.div_ceil(n).max(1)))
            .collect();
        let workers = (0..n)
            .map(|i| Worker::spawn(i, set.clone(), Shard::new(&set, per_shard, caps.clone())))
            .collect();
        Correlator {
            workers,
            outbox: vec![Vec::new(); n],
            target: i64::MIN,
            applied: i64::MIN,
            lateness: allowed_lateness_ns,
            late: 0,
            shard_stats: vec![ShardStats::default(); n],
            overflow: vec![None; set.specs.len()],
            overflows: Vec::new(),
            next_due: i64::MAX,
            shard_due: vec![i64::MAX; n],
            set,
        }
    }

    /// Whether a hit at `time` arrives too late to be applied in order.
    pub fn is_late(&self, time: i64) -> bool {
        self.target != i64::MIN && time <= self.target
    }

    /// Routes a hit; returns false (and counts it) when it is late.
    pub fn push(&mut self, h: NewHit) -> bool {
        if self.is_late(h.data.time) {
            self.late += 1;
            return false;
        }
        let group = join(&h.group);
        self.route_hit(Hit {
            corr: h.corr,
            group,
            data: h.data,
        });
        true
    }

    fn route_hit(&mut self, hit: Hit) {
        self.next_due = self.next_due.min(hit.data.time);
        let shard = route(hit.corr, &hit.group, self.workers.len());
        self.outbox[shard].push(hit);
        if self.outbox[shard].len() >= BATCH {
            self.workers[shard].send_hits(std::mem::take(&mut self.outbox[shard]));
        }
    }

    /// Admits pipeline watermark `wm`: from now on hits at or before
    /// `wm − allowed lateness` are late. Cheap; nothing is applied until
    /// [`Correlator::flush`], so callers may batch advances freely without
    /// changing any result.
    pub fn observe_watermark(&mut self, wm: i64) {
        let target = if wm == i64::MAX {
            wm
        } else {
            wm.saturating_sub(self.lateness)
        };
        self.target = self.target.max(target);
    }

    /// Whether a [`Correlator::flush`] now could fire something: the
    /// admitted watermark passed a buffered hit or a window's end. Cheap (two
    /// comparisons), so the pipeline asks after every record.
    pub fn due(&self) -> bool {
        self.target > self.applied && self.next_due <= self.target
    }

    /// [`Correlator::observe_watermark`] then [`Correlator::flush`].
    pub fn advance(&mut self, wm: i64) -> Vec<Output> {
        self.observe_watermark(wm);
        self.flush()
    }

    /// Applies every hit up to the admitted watermark and returns the
    /// firings, in deterministic order.
    pub fn flush(&mut self) -> Vec<Output> {
        if self.target <= self.applied {
            return Vec::new();
        }
        let mut outputs = Vec::new();
        for layer in 0..=self.set.max_layer {
            let mut firings = self.advance_layer(layer);
            firings.sort_by(|a, b| (a.fire.decided, a.corr, &a.group).cmp(&(b.fire.decided, b.corr, &b.group)));
            for f in firings {
                outputs.push(self.feed_outer(f));
            }
        }
        self.applied = self.target;
        self.next_due = self.shard_due.iter().copied().fold(i64::MAX, i64::min);
        outputs
    }

    /// One layer on every shard at once (a barrier): their firings and evictions.
    fn advance_layer(&mut self, layer: u8) -> Vec<Firing> {
        for (w, out) in self.workers.iter().zip(&mut self.outbox) {
            if !out.is_empty() {
                w.send_hits(std::mem::take(out));
            }
            w.advance(layer, self.target);
        }
        let mut firings = Vec::new();
        let mut evictions: Vec<Evictions> = Vec::new();
        for (i, w) in self.workers.iter().enumerate() {
            let r = w.reply();
            firings.extend(r.firings);
            evictions.extend(r.evictions);
            self.shard_stats[i] = r.stats;
            self.shard_due[i] = r.next_due;
        }
        self.note_evictions(evictions);
        firings
    }

    fn note_evictions(&mut self, mut evictions: Vec<Evictions>) {
        evictions.sort_by_key(|e| (e.first, e.corr));
        for e in evictions {
            let period = e.first.0.div_euclid(shard::OVERFLOW_PERIOD_NS);
            let last = &mut self.overflow[e.corr as usize];
            if *last != Some(period) {
                *last = Some(period);
                self.overflows.push(Overflow {
                    corr: e.corr,
                    first: e.first,
                    evicted: e.count,
                });
            }
        }
    }

    /// Meta-alerts raised since the last call.
    pub fn take_overflows(&mut self) -> Vec<Overflow> {
        std::mem::take(&mut self.overflows)
    }

    /// Turns a firing into hits of the correlations that reference it, and
    /// into an output.
    fn feed_outer(&mut self, f: Firing) -> Output {
        let set = self.set.clone();
        let spec = &set.specs[f.corr as usize];
        let group = split(&f.group, spec.group_names.len());
        let value_of = |name: &str| {
            spec.group_names
                .iter()
                .position(|n| n == name)
                .and_then(|i| group[i].clone())
        };
        for &(outer, j) in &set.by_correlation[f.corr as usize] {
            let ospec = &set.specs[outer as usize];
            let og: Vec<Option<String>> = ospec.group_fields[j as usize].iter().map(|n| value_of(n)).collect();
            let value = ospec.value_fields[j as usize]
                .as_deref()
                .and_then(value_of)
                .map(String::into_boxed_str);
            let data = HitData {
                time: f.fire.decided.0,
                seq: f.fire.decided.1,
                rule: j,
                value,
            };
            self.route_hit(Hit {
                corr: outer,
                group: join(&og),
                data,
            });
        }
        Output {
            corr: f.corr,
            publish: !set.silent_correlations[f.corr as usize],
            group,
            fire: f.fire,
        }
    }

    /// Groups holding state as of the last advance.
    pub fn tracked_groups(&self) -> usize {
        self.shard_stats.iter().map(|s| s.tracked.iter().sum::<usize>()).sum()
    }

    /// Counters summed over the shards, as of the last advance.
    pub fn stats(&self) -> ShardStats {
        let n = self.set.specs.len();
        let mut t = ShardStats {
            tracked: vec![0; n],
            evicted_per_rule: vec![0; n],
            ..ShardStats::default()
        };
        for s in &self.shard_stats {
            t.applied += s.applied;
            t.fired += s.fired;
            t.expired += s.expired;
            t.evicted += s.evicted;
            for (a, b) in t.tracked.iter_mut().zip(&s.tracked) {
                *a += b;
            }
            for (a, b) in t.evicted_per_rule.iter_mut().zip(&s.evicted_per_rule) {
                *a += b;
            }
        }
        t
    }
}

/// Shard of a (correlation, group): stable across runs and platforms (FNV-1a).
pub fn route(corr: u32, group: &str, shards: usize) -> usize {
    let mut h = Fnv64::default();
    corr.hash(&mut h);
    group.hash(&mut h);
    (h.finish() % shards.max(1) as u64) as usize
}

/// FNV-1a: a hash that is the same in every process and on every platform
/// (routing, checkpoint fingerprints), unlike std's randomised one.
pub(crate) struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv64 {
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

/// Packs a partition index and an offset into a [`Seq`].
pub fn seq(partition: u32, offset: u64) -> Seq {
    ((partition as u64) << 48) | (offset & 0xFFFF_FFFF_FFFF)
}

pub fn unseq(s: Seq) -> (u32, u64) {
    ((s >> 48) as u32, s & 0xFFFF_FFFF_FFFF)
}

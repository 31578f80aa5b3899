//! Per-group window state of one correlation rule, and the rule that decides
//! when it fires.
//!
//! Two regimes (design notes §3):
//! - **Sliding** — conditions with only lower bounds (`gt`, `gte`, `neq`): the
//!   condition is checked at every hit over the hits of the last `timespan`
//!   (inclusive), and the first hit that satisfies it fires with the value at
//!   that hit; the group's state is then cleared. State is bounded by what the
//!   condition needs: at most N timestamps for `gte: N`, at most N distinct
//!   values for value_count.
//! - **Complete windows** — conditions with an upper bound (`lt`, `lte`, `eq`,
//!   ranges): the group's first hit opens `[t0, t0 + timespan)`; when the
//!   watermark passes its end the window is judged once.
//!
//! Times are nanoseconds since the epoch (`i64`, good until 2262).

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::rules::ast::{CmpOp, CorrelationCondition, CorrelationType};

/// Orders hits with equal event time: (source partition << 48 | offset).
pub type Seq = u64;

/// What a hit carries into a window.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HitData {
    pub time: i64,
    pub seq: Seq,
    /// Index of the referenced rule (in the correlation's `rules` list).
    pub rule: u8,
    /// value_count: the field's text; value_*: parsed as a number.
    pub value: Option<Box<str>>,
}

/// A satisfied condition.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Fire {
    /// The value that satisfied the condition (count, distinct count, sum, …).
    pub value: f64,
    pub window_start: i64,
    pub window_end: i64,
    /// Time and position of the first contributing hit (alert identity).
    pub first: (i64, Seq),
    /// Time and position of the last contributing hit.
    pub last: (i64, Seq),
    /// When the firing was decided: the hit that made a sliding window fire,
    /// or the end of a complete window (with its last hit's position). A
    /// correlation of this one receives the firing at this time, which is
    /// later than anything the outer layer applied before.
    pub decided: (i64, Seq),
    /// Contributing hits (value_* alerts report it as `count`).
    pub hits: u64,
    /// Bit set of the referenced rules that contributed.
    pub rules: u64,
    /// Contributing hits (time, position), oldest first, at most [`EVIDENCE`].
    pub evidence: Vec<(i64, Seq)>,
}

/// Evidence references kept per firing.
pub const EVIDENCE: usize = 8;

/// The static description of a correlation that windows need.
#[derive(Clone, Debug)]
pub struct WindowSpec {
    pub kind: CorrelationType,
    pub condition: CorrelationCondition,
    pub span: i64,
    pub rules: usize,
    /// Sliding regime (no upper bound in the condition).
    pub sliding: bool,
    /// Hits a sliding event_count / value_count state must keep to decide.
    pub need: usize,
}

impl WindowSpec {
    pub fn new(kind: CorrelationType, condition: CorrelationCondition, span_ms: u64, rules: usize) -> WindowSpec {
        let sliding = !condition.has_upper_bound();
        // Smallest count satisfying every lower bound (gte n → n, gt n → ⌊n⌋+1).
        let need = condition
            .bounds
            .iter()
            .map(|&(op, b)| match op {
                CmpOp::Gte => b.ceil().max(1.0) as usize,
                CmpOp::Gt => (b.floor() + 1.0).max(1.0) as usize,
                _ => 1,
            })
            .max()
            .unwrap_or(1);
        WindowSpec {
            kind,
            condition,
            span: (span_ms as i64).saturating_mul(1_000_000),
            rules,
            sliding,
            need,
        }
    }
}

/// A temporal_ordered partial sequence: the hit of each step done so far.
pub type Partial = Box<[(i64, Seq)]>;

/// The state of one group.
///
/// Variants are at most 32 bytes (rare, large states are boxed) and grow
/// their buffers exactly: millions of groups are tracked at once, most
/// holding one or two hits (benches/README.md: bytes per group). Serde
/// support is for checkpoints (`crate::checkpoint`), never the hot path.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum GroupState {
    /// event_count (sliding): recent hit (time, seq), at most `need`.
    Count(VecDeque<(i64, Seq)>),
    /// value_count (sliding): value → latest (time, seq), at most `need`.
    Distinct(Box<FxHashMap<Box<str>, (i64, Seq)>>),
    /// temporal (sliding): per referenced rule, its latest (time, seq).
    Temporal(Box<[Option<(i64, Seq)>]>),
    /// temporal_ordered (sliding): for each step k, the partial sequence with
    /// the latest start that completed steps 0..=k: the hit of each step.
    Ordered(Box<[Option<Partial>]>),
    /// value_sum / value_avg / value_percentile (sliding): (time, seq, value) in the window.
    Values(VecDeque<(i64, Seq, f64)>),
    /// Any type under an upper-bound condition: one complete window.
    Fixed(Box<FixedWindow>),
}

/// Accumulator of one complete window `[start, start + span)`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FixedWindow {
    pub start: i64,
    pub count: u64,
    pub distinct: FxHashMap<Box<str>, ()>,
    pub values: Vec<f64>,
    pub rules: u64,
    pub order_step: usize,
    pub first: (i64, Seq),
    pub last: (i64, Seq),
    pub evidence: Vec<(i64, Seq)>,
}

impl GroupState {
    pub fn new(spec: &WindowSpec, first: &HitData) -> GroupState {
        if !spec.sliding {
            return GroupState::Fixed(Box::new(FixedWindow {
                start: first.time,
                count: 0,
                distinct: FxHashMap::default(),
                values: Vec::new(),
                rules: 0,
                order_step: 0,
                first: (first.time, first.seq),
                last: (first.time, first.seq),
                evidence: Vec::new(),
            }));
        }
        match spec.kind {
            CorrelationType::EventCount => GroupState::Count(VecDeque::new()),
            CorrelationType::ValueCount => GroupState::Distinct(Box::default()),
            CorrelationType::Temporal => GroupState::Temporal(vec![None; spec.rules].into_boxed_slice()),
            CorrelationType::TemporalOrdered => GroupState::Ordered(vec![None; spec.rules].into_boxed_slice()),
            _ => GroupState::Values(VecDeque::new()),
        }
    }

    /// Whether the state holds nothing (a sliding window that fired and restarted).
    pub fn is_empty(&self) -> bool {
        match self {
            GroupState::Count(q) => q.is_empty(),
            GroupState::Distinct(m) => m.is_empty(),
            GroupState::Temporal(v) => v.iter().all(Option::is_none),
            GroupState::Ordered(v) => v.iter().all(Option::is_none),
            GroupState::Values(q) => q.is_empty(),
            GroupState::Fixed(_) => false,
        }
    }

    /// The window end after which this state can be dropped or judged.
    pub fn deadline(&self, spec: &WindowSpec) -> i64 {
        let latest = match self {
            GroupState::Count(q) => q.back().map(|h| h.0),
            GroupState::Distinct(m) => m.values().map(|h| h.0).max(),
            GroupState::Temporal(v) => v.iter().flatten().map(|h| h.0).max(),
            GroupState::Ordered(v) => v.iter().flatten().map(|p| p[0].0).max(),
            GroupState::Values(q) => q.back().map(|h| h.0),
            GroupState::Fixed(w) => return w.start.saturating_add(spec.span),
        };
        latest.unwrap_or(i64::MIN).saturating_add(spec.span)
    }

    /// Applies one hit (hits arrive in (time, seq) order). Sliding states may
    /// fire here; complete windows only accumulate (see [`GroupState::close`]).
    pub fn apply(&mut self, spec: &WindowSpec, h: &HitData) -> Option<Fire> {
        let horizon = h.time.saturating_sub(spec.span);
        match self {
            GroupState::Count(q) => {
                while q.front().is_some_and(|&(t, _)| t < horizon) {
                    q.pop_front();
                }
                if q.len() == spec.need {
                    q.pop_front();
                }
                push_exact(q, (h.time, h.seq), spec.need);
                let n = q.len() as f64;
                spec.condition.holds(n).then(|| {
                    let ev: Vec<_> = q.iter().copied().collect();
                    let f = fire(n, &ev, h, 1);
                    q.clear();
                    f
                })
            }
            GroupState::Distinct(m) => {
                let v = h.value.as_ref()?;
                m.retain(|_, &mut (t, _)| t >= horizon);
                m.insert(v.clone(), (h.time, h.seq));
                let n = m.len() as f64;
                spec.condition.holds(n).then(|| {
                    let mut ev: Vec<_> = m.values().copied().collect();
                    ev.sort_unstable();
                    let f = fire(n, &ev, h, 1);
                    m.clear();
                    f
                })
            }
            GroupState::Temporal(seen) => {
                for s in seen.iter_mut() {
                    if s.is_some_and(|(t, _)| t < horizon) {
                        *s = None;
                    }
                }
                seen[h.rule as usize] = Some((h.time, h.seq));
                let n = seen.iter().flatten().count() as f64;
                spec.condition.holds(n).then(|| {
                    let mut ev: Vec<_> = seen.iter().flatten().copied().collect();
                    ev.sort_unstable();
                    let bits = seen
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.is_some())
                        .fold(0u64, |b, (i, _)| b | 1 << i);
                    let f = fire(n, &ev, h, bits);
                    seen.iter_mut().for_each(|s| *s = None);
                    f
                })
            }
            GroupState::Ordered(steps) => ordered_apply(steps, spec, h, horizon),
            GroupState::Values(q) => {
                let x = h.value.as_deref().and_then(|v| v.trim().parse::<f64>().ok())?;
                while q.front().is_some_and(|&(t, _, _)| t < horizon) {
                    q.pop_front();
                }
                q.push_back((h.time, h.seq, x));
                let v = aggregate(spec, q.iter().map(|e| e.2));
                spec.condition.holds(v).then(|| {
                    let ev: Vec<_> = q.iter().map(|e| (e.0, e.1)).collect();
                    let f = fire(v, &ev, h, 1);
                    q.clear();
                    f
                })
            }
            GroupState::Fixed(w) => {
                w.accumulate(spec, h);
                None
            }
        }
    }

    /// Judges a complete window once the watermark has passed its end.
    pub fn close(&self, spec: &WindowSpec) -> Option<Fire> {
        let GroupState::Fixed(w) = self else { return None };
        let value = match spec.kind {
            CorrelationType::EventCount => w.count as f64,
            CorrelationType::ValueCount => w.distinct.len() as f64,
            CorrelationType::Temporal => w.rules.count_ones() as f64,
            CorrelationType::TemporalOrdered => w.order_step as f64,
            _ => aggregate(spec, w.values.iter().copied()),
        };
        let end = w.start.saturating_add(spec.span);
        spec.condition.holds(value).then(|| Fire {
            value,
            window_start: w.start,
            window_end: end,
            first: w.first,
            last: w.last,
            decided: (end, w.last.1),
            hits: w.count,
            rules: w.rules,
            evidence: w.evidence.clone(),
        })
    }
}

impl FixedWindow {
    fn accumulate(&mut self, spec: &WindowSpec, h: &HitData) {
        self.count += 1;
        self.rules |= 1 << h.rule;
        self.last = (h.time, h.seq);
        if self.evidence.len() < EVIDENCE {
            self.evidence.push((h.time, h.seq));
        }
        if spec.kind == CorrelationType::TemporalOrdered && h.rule as usize == self.order_step {
            self.order_step += 1;
        }
        if let Some(v) = &h.value {
            match spec.kind {
                CorrelationType::ValueCount => {
                    self.distinct.insert(v.clone(), ());
                }
                CorrelationType::ValueSum | CorrelationType::ValueAvg | CorrelationType::ValuePercentile => {
                    if let Ok(x) = v.trim().parse::<f64>() {
                        self.values.push(x);
                    }
                }
                _ => {}
            }
        }
    }
}

fn ordered_apply(steps: &mut [Option<Partial>], spec: &WindowSpec, h: &HitData, horizon: i64) -> Option<Fire> {
    for s in steps.iter_mut() {
        if s.as_ref().is_some_and(|p| p[0].0 < horizon) {
            *s = None;
        }
    }
    let k = h.rule as usize;
    let this = (h.time, h.seq);
    let partial: Partial = match k {
        0 => Box::new([this]),
        _ => steps[k - 1].as_ref()?.iter().copied().chain([this]).collect(),
    };
    // Keep the latest start: it leaves the most time for the remaining steps.
    if steps[k].as_ref().is_none_or(|cur| cur[0] < partial[0]) {
        steps[k] = Some(partial.clone());
    }
    if k + 1 < steps.len() {
        return None;
    }
    let n = steps.len() as f64;
    if !spec.condition.holds(n) {
        return None;
    }
    steps.iter_mut().for_each(|s| *s = None);
    Some(fire(n, &partial, h, (1u64 << spec.rules.min(63)) - 1))
}

/// Pushes growing the buffer to at most `limit` slots, not the doubling
/// `VecDeque` would do: a group of one hit keeps one slot.
fn push_exact<T>(q: &mut VecDeque<T>, item: T, limit: usize) {
    if q.len() == q.capacity() {
        let grow = q.capacity().clamp(1, limit.saturating_sub(q.len()).max(1));
        q.reserve_exact(grow);
    }
    q.push_back(item);
}

fn aggregate(spec: &WindowSpec, values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    if v.is_empty() {
        return 0.0;
    }
    match spec.kind {
        CorrelationType::ValueSum => v.iter().sum(),
        CorrelationType::ValueAvg => v.iter().sum::<f64>() / v.len() as f64,
        _ => {
            // Nearest-rank percentile.
            v.sort_by(f64::total_cmp);
            let p = spec.condition.percentile.unwrap_or(50.0).clamp(0.0, 100.0);
            let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
            v[rank.min(v.len()) - 1]
        }
    }
}

fn fire(value: f64, hits: &[(i64, Seq)], last: &HitData, rules: u64) -> Fire {
    let first = hits.first().copied().unwrap_or((last.time, last.seq));
    Fire {
        value,
        window_start: first.0,
        window_end: last.time,
        first,
        last: (last.time, last.seq),
        decided: (last.time, last.seq),
        hits: hits.len() as u64,
        rules,
        evidence: hits.iter().take(EVIDENCE).copied().collect(),
    }
}

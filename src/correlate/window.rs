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

/// event_count windows keep their hits in an exact-size slice (16 bytes in
/// the group, 16 per hit) up to this many; beyond it (large `gte: N`), in a
/// ring, so a full window drops its oldest hit in O(1).
const COUNT_SLICE_MAX: usize = 32;

/// value_count windows keep their distinct values in an exact-size slice
/// searched linearly up to this many; beyond it, in a hash map.
const DISTINCT_SLICE_MAX: usize = 16;

/// The state of one group: 16 bytes, because millions of groups are tracked
/// at once, most of them event_count groups holding a few hits
/// (benches/README.md: bytes per group).
///
/// `Count`, the commonest, is an exact-size slice; the null niche of its
/// pointer holds the enum's tag, which is why every other kind shares one
/// boxed variant. Buffers grow exactly, and a window that fired holds no
/// heap memory at all.
///
/// Serde (checkpoints, `crate::checkpoint`) uses the encoding of the plain
/// one-variant-per-kind enum [`StateRepr`], whatever the representation in
/// memory.
#[derive(Clone, Debug)]
pub enum GroupState {
    /// event_count (sliding): recent hits (time, seq), oldest first, at most
    /// `need` (and at most [`COUNT_SLICE_MAX`]; larger windows are
    /// [`OtherState::CountRing`]).
    Count(Box<[(i64, Seq)]>),
    /// Every other kind.
    Other(Box<OtherState>),
}

/// The state of a group of any kind but a small event_count window (24 bytes,
/// boxed in [`GroupState::Other`]).
#[derive(Clone, Debug)]
pub enum OtherState {
    /// event_count (sliding) needing more than [`COUNT_SLICE_MAX`] hits:
    /// recent hits, at most `need`.
    CountRing(Box<VecDeque<(i64, Seq)>>),
    /// value_count (sliding): distinct values with their latest (time, seq),
    /// in (time, seq) order, at most [`DISTINCT_SLICE_MAX`] (and `need`).
    Distinct(Box<[(Box<str>, i64, Seq)]>),
    /// value_count (sliding) holding more than [`DISTINCT_SLICE_MAX`] values:
    /// value → latest (time, seq), at most `need`.
    DistinctMap(Box<FxHashMap<Box<str>, (i64, Seq)>>),
    /// temporal (sliding): per referenced rule, its latest (time, seq).
    Temporal(Box<[Option<(i64, Seq)>]>),
    /// temporal_ordered (sliding): for each step k, the partial sequence with
    /// the latest start that completed steps 0..=k: the hit of each step.
    Ordered(Box<[Option<Partial>]>),
    /// value_sum / value_avg / value_percentile (sliding): (time, seq, value) in the window.
    Values(Box<VecDeque<(i64, Seq, f64)>>),
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
        let other = |o| GroupState::Other(Box::new(o));
        if !spec.sliding {
            return other(OtherState::Fixed(Box::new(FixedWindow {
                start: first.time,
                count: 0,
                distinct: FxHashMap::default(),
                values: Vec::new(),
                rules: 0,
                order_step: 0,
                first: (first.time, first.seq),
                last: (first.time, first.seq),
                evidence: Vec::new(),
            })));
        }
        match spec.kind {
            CorrelationType::EventCount => GroupState::Count(Box::default()),
            CorrelationType::ValueCount => other(OtherState::Distinct(Box::default())),
            CorrelationType::Temporal => other(OtherState::Temporal(vec![None; spec.rules].into_boxed_slice())),
            CorrelationType::TemporalOrdered => other(OtherState::Ordered(vec![None; spec.rules].into_boxed_slice())),
            _ => other(OtherState::Values(Box::default())),
        }
    }

    /// Whether the state holds nothing (a sliding window that fired and restarted).
    pub fn is_empty(&self) -> bool {
        match self {
            GroupState::Count(q) => q.is_empty(),
            GroupState::Other(o) => match &**o {
                OtherState::CountRing(q) => q.is_empty(),
                OtherState::Distinct(m) => m.is_empty(),
                OtherState::DistinctMap(m) => m.is_empty(),
                OtherState::Temporal(v) => v.iter().all(Option::is_none),
                OtherState::Ordered(v) => v.iter().all(Option::is_none),
                OtherState::Values(q) => q.is_empty(),
                OtherState::Fixed(_) => false,
            },
        }
    }

    /// The window end after which this state can be dropped or judged.
    pub fn deadline(&self, spec: &WindowSpec) -> i64 {
        let latest = match self {
            GroupState::Count(q) => q.last().map(|h| h.0),
            GroupState::Other(o) => match &**o {
                OtherState::CountRing(q) => q.back().map(|h| h.0),
                OtherState::Distinct(m) => m.iter().map(|h| h.1).max(),
                OtherState::DistinctMap(m) => m.values().map(|h| h.0).max(),
                OtherState::Temporal(v) => v.iter().flatten().map(|h| h.0).max(),
                OtherState::Ordered(v) => v.iter().flatten().map(|p| p[0].0).max(),
                OtherState::Values(q) => q.back().map(|h| h.0),
                OtherState::Fixed(w) => return w.start.saturating_add(spec.span),
            },
        };
        latest.unwrap_or(i64::MIN).saturating_add(spec.span)
    }

    /// Applies one hit (hits arrive in (time, seq) order). Sliding states may
    /// fire here; complete windows only accumulate (see [`GroupState::close`]).
    pub fn apply(&mut self, spec: &WindowSpec, h: &HitData) -> Option<Fire> {
        let horizon = h.time.saturating_sub(spec.span);
        let q = match self {
            GroupState::Count(q) => q,
            GroupState::Other(o) => return o.apply(spec, h, horizon),
        };
        // Drop the hits the window has left, and the oldest of a full window.
        let mut from = q.iter().take_while(|&&(t, _)| t < horizon).count();
        if q.len() - from == spec.need {
            from += 1;
        }
        let n = q.len() - from + 1;
        let this = (h.time, h.seq);
        if spec.condition.holds(n as f64) {
            let ev: Vec<_> = q[from..].iter().copied().chain([this]).collect();
            *q = Box::default();
            return Some(fire(n as f64, &ev, h, 1));
        }
        if n <= COUNT_SLICE_MAX {
            slide(q, from, None, this);
        } else {
            let mut ring: VecDeque<_> = q[from..].iter().copied().collect();
            ring.push_back(this);
            *self = GroupState::Other(Box::new(OtherState::CountRing(Box::new(ring))));
        }
        None
    }

    /// Judges a complete window once the watermark has passed its end.
    pub fn close(&self, spec: &WindowSpec) -> Option<Fire> {
        let GroupState::Other(o) = self else { return None };
        let OtherState::Fixed(w) = &**o else { return None };
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

impl OtherState {
    fn apply(&mut self, spec: &WindowSpec, h: &HitData, horizon: i64) -> Option<Fire> {
        match self {
            OtherState::CountRing(q) => {
                while q.front().is_some_and(|&(t, _)| t < horizon) {
                    q.pop_front();
                }
                if q.len() == spec.need {
                    q.pop_front();
                }
                q.push_back((h.time, h.seq));
                let n = q.len() as f64;
                if !spec.condition.holds(n) {
                    return None;
                }
                let ev: Vec<_> = q.iter().copied().collect();
                **q = VecDeque::new();
                Some(fire(n, &ev, h, 1))
            }
            OtherState::Distinct(m) => {
                let v = h.value.as_ref()?;
                // In (time, seq) order: the values the window has left are a prefix.
                let from = m.iter().take_while(|e| e.1 < horizon).count();
                let again = m[from..].iter().position(|e| e.0 == *v).map(|i| i + from);
                let n = m.len() - from + usize::from(again.is_none());
                if spec.condition.holds(n as f64) {
                    let ev: Vec<_> = (from..m.len())
                        .filter(|&i| Some(i) != again)
                        .map(|i| (m[i].1, m[i].2))
                        .chain([(h.time, h.seq)])
                        .collect();
                    *m = Box::default();
                    return Some(fire(n as f64, &ev, h, 1));
                }
                let this = (v.clone(), h.time, h.seq);
                if n <= DISTINCT_SLICE_MAX {
                    slide(m, from, again, this);
                } else {
                    let mut map: FxHashMap<Box<str>, (i64, Seq)> = std::mem::take(m)
                        .into_vec()
                        .into_iter()
                        .skip(from)
                        .map(|(k, t, s)| (k, (t, s)))
                        .collect();
                    map.insert(this.0, (this.1, this.2));
                    *self = OtherState::DistinctMap(Box::new(map));
                }
                None
            }
            OtherState::DistinctMap(m) => {
                let v = h.value.as_ref()?;
                m.retain(|_, &mut (t, _)| t >= horizon);
                m.insert(v.clone(), (h.time, h.seq));
                let n = m.len() as f64;
                if !spec.condition.holds(n) {
                    return None;
                }
                let mut ev: Vec<_> = m.values().copied().collect();
                ev.sort_unstable();
                *self = OtherState::Distinct(Box::default());
                Some(fire(n, &ev, h, 1))
            }
            OtherState::Temporal(seen) => {
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
            OtherState::Ordered(steps) => ordered_apply(steps, spec, h, horizon),
            OtherState::Values(q) => {
                let x = h.value.as_deref().and_then(|v| v.trim().parse::<f64>().ok())?;
                while q.front().is_some_and(|&(t, _, _)| t < horizon) {
                    q.pop_front();
                }
                q.push_back((h.time, h.seq, x));
                let v = aggregate(spec, q.iter().map(|e| e.2));
                if !spec.condition.holds(v) {
                    return None;
                }
                let ev: Vec<_> = q.iter().map(|e| (e.0, e.1)).collect();
                **q = VecDeque::new();
                Some(fire(v, &ev, h, 1))
            }
            OtherState::Fixed(w) => {
                w.accumulate(spec, h);
                None
            }
        }
    }
}

/// Replaces `buf` by `buf[from..]` without the element at `skip` (when it is
/// in that range), followed by `item`: in place when the length stays the
/// same, else in a new exact-size allocation.
fn slide<T>(buf: &mut Box<[T]>, from: usize, skip: Option<usize>, item: T) {
    let skip = skip.filter(|&s| s >= from);
    match (from, skip) {
        (1, None) | (0, Some(_)) => {
            let at = skip.unwrap_or(0);
            buf[at..].rotate_left(1);
            if let Some(last) = buf.last_mut() {
                *last = item;
            }
        }
        _ => {
            let mut v = Vec::from(std::mem::take(buf));
            if let Some(s) = skip {
                v.remove(s);
            }
            v.drain(..from);
            v.reserve_exact(1);
            v.push(item);
            *buf = v.into_boxed_slice();
        }
    }
}

/// The checkpoint encoding of a [`GroupState`]: one variant per kind, as the
/// state was laid out before the compact representation (so checkpoints keep
/// their format).
#[derive(serde::Deserialize)]
#[serde(rename = "GroupState")]
enum StateRepr {
    Count(Vec<(i64, Seq)>),
    Distinct(FxHashMap<Box<str>, (i64, Seq)>),
    Temporal(Box<[Option<(i64, Seq)>]>),
    Ordered(Box<[Option<Partial>]>),
    Values(VecDeque<(i64, Seq, f64)>),
    Fixed(Box<FixedWindow>),
}

impl serde::Serialize for GroupState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// A small value_count slice, encoded as the map it stands for.
        struct AsMap<'a>(&'a [(Box<str>, i64, Seq)]);
        impl serde::Serialize for AsMap<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().map(|(k, t, q)| (k, (t, q))))
            }
        }
        const NAME: &str = "GroupState";
        let o = match self {
            GroupState::Count(q) => return s.serialize_newtype_variant(NAME, 0, "Count", &q[..]),
            GroupState::Other(o) => &**o,
        };
        match o {
            OtherState::CountRing(q) => s.serialize_newtype_variant(NAME, 0, "Count", &**q),
            OtherState::Distinct(m) => s.serialize_newtype_variant(NAME, 1, "Distinct", &AsMap(m)),
            OtherState::DistinctMap(m) => s.serialize_newtype_variant(NAME, 1, "Distinct", &**m),
            OtherState::Temporal(v) => s.serialize_newtype_variant(NAME, 2, "Temporal", v),
            OtherState::Ordered(v) => s.serialize_newtype_variant(NAME, 3, "Ordered", v),
            OtherState::Values(q) => s.serialize_newtype_variant(NAME, 4, "Values", &**q),
            OtherState::Fixed(w) => s.serialize_newtype_variant(NAME, 5, "Fixed", &**w),
        }
    }
}

impl<'de> serde::Deserialize<'de> for GroupState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let other = |o| GroupState::Other(Box::new(o));
        Ok(match StateRepr::deserialize(d)? {
            StateRepr::Count(q) if q.len() <= COUNT_SLICE_MAX => GroupState::Count(q.into_boxed_slice()),
            StateRepr::Count(q) => other(OtherState::CountRing(Box::new(q.into()))),
            StateRepr::Distinct(m) if m.len() <= DISTINCT_SLICE_MAX => {
                let mut v: Vec<_> = m.into_iter().map(|(k, (t, s))| (k, t, s)).collect();
                v.sort_unstable_by(|a, b| (a.1, a.2, &a.0).cmp(&(b.1, b.2, &b.0)));
                other(OtherState::Distinct(v.into_boxed_slice()))
            }
            StateRepr::Distinct(m) => other(OtherState::DistinctMap(Box::new(m))),
            StateRepr::Temporal(v) => other(OtherState::Temporal(v)),
            StateRepr::Ordered(v) => other(OtherState::Ordered(v)),
            StateRepr::Values(q) => other(OtherState::Values(Box::new(q))),
            StateRepr::Fixed(w) => other(OtherState::Fixed(w)),
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
    // The last step fires when the condition holds, and the state restarts.
    let n = steps.len() as f64;
    if k + 1 == steps.len() && spec.condition.holds(n) {
        steps.iter_mut().for_each(|s| *s = None);
        return Some(fire(n, &partial, h, (1u64 << spec.rules.min(63)) - 1));
    }
    // Keep the latest start: it leaves the most time for the remaining steps.
    if steps[k].as_ref().is_none_or(|cur| cur[0] < partial[0]) {
        steps[k] = Some(partial);
    }
    None
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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::path::PathBuf;
    use std::sync::Arc;

    use rustc_hash::FxHashMap;

    use super::*;
    use crate::rules::ast::Location;

    fn spec(kind: CorrelationType, gte: f64) -> WindowSpec {
        let condition = CorrelationCondition {
            bounds: vec![(CmpOp::Gte, gte)],
            field: None,
            percentile: None,
            location: Location {
                file: Arc::new(PathBuf::from("t.yml")),
                line: 1,
                column: 1,
            },
        };
        WindowSpec::new(kind, condition, 60_000, 1)
    }

    /// The straightforward model of a sliding event_count / value_count window
    /// (the layout before the compact one): a deque of hits, a map of values.
    #[derive(Default)]
    struct Model {
        hits: VecDeque<(i64, Seq)>,
        values: FxHashMap<Box<str>, (i64, Seq)>,
    }

    impl Model {
        fn apply(&mut self, spec: &WindowSpec, h: &HitData) -> Option<Fire> {
            let horizon = h.time.saturating_sub(spec.span);
            if spec.kind == CorrelationType::EventCount {
                let q = &mut self.hits;
                while q.front().is_some_and(|&(t, _)| t < horizon) {
                    q.pop_front();
                }
                if q.len() == spec.need {
                    q.pop_front();
                }
                q.push_back((h.time, h.seq));
                let n = q.len() as f64;
                let ev: Vec<_> = q.iter().copied().collect();
                return spec.condition.holds(n).then(|| {
                    q.clear();
                    fire(n, &ev, h, 1)
                });
            }
            let m = &mut self.values;
            let v = h.value.as_ref()?;
            m.retain(|_, &mut (t, _)| t >= horizon);
            m.insert(v.clone(), (h.time, h.seq));
            let n = m.len() as f64;
            let mut ev: Vec<_> = m.values().copied().collect();
            ev.sort_unstable();
            spec.condition.holds(n).then(|| {
                m.clear();
                fire(n, &ev, h, 1)
            })
        }

        fn latest(&self) -> Option<i64> {
            self.hits
                .back()
                .map(|h| h.0)
                .max(self.values.values().map(|h| h.0).max())
        }
    }

    /// Random hit streams through both, for thresholds on both sides of the
    /// slice/ring and slice/map switches, with a checkpoint round trip
    /// (postcard) every few hits: same firings, deadlines and emptiness.
    #[test]
    fn compact_states_behave_as_the_plain_model() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut fired = 0;
        for kind in [CorrelationType::EventCount, CorrelationType::ValueCount] {
            for need in [1, 2, 3, 5, 16, 17, 20, 32, 33, 40] {
                let spec = spec(kind, need as f64);
                let first = HitData {
                    time: 0,
                    seq: 0,
                    rule: 0,
                    value: None,
                };
                let mut state = GroupState::new(&spec, &first);
                let mut model = Model::default();
                let mut t = 0i64;
                for seq in 0..4_000u64 {
                    // Bursts and gaps around the 60 s span.
                    t += match rnd(10) {
                        0 => 70_000_000_000,
                        1..=3 => 0,
                        _ => rnd(4_000_000_000) as i64,
                    };
                    let distinct = need as u64 + 3;
                    let value = (rnd(12) != 0).then(|| format!("v{}", rnd(distinct)).into_boxed_str());
                    let h = HitData {
                        time: t,
                        seq,
                        rule: 0,
                        value,
                    };
                    let got = state.apply(&spec, &h);
                    assert_eq!(got, model.apply(&spec, &h), "{kind:?} need {need} hit {seq}");
                    fired += usize::from(got.is_some());
                    let want = model.latest().unwrap_or(i64::MIN).saturating_add(spec.span);
                    assert_eq!(state.deadline(&spec), want, "{kind:?} need {need} hit {seq}");
                    assert_eq!(state.is_empty(), model.latest().is_none());
                    if seq % 7 == 0 {
                        let bytes = postcard::to_allocvec(&state).expect("encode");
                        state = postcard::from_bytes(&bytes).expect("decode");
                    }
                }
            }
        }
        assert!(fired > 1_000, "the streams fire often enough to test firing ({fired})");
    }

    #[test]
    fn states_stay_small() {
        assert_eq!(std::mem::size_of::<GroupState>(), 16);
        assert!(std::mem::size_of::<OtherState>() <= 24);
    }
}

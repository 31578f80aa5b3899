//! One correlation shard: the single owner of the state of the groups routed
//! to it. No locks: a shard is driven by one thread.
//!
//! Hits are buffered until the watermark passes them, then applied per
//! correlation *layer* (base-rule correlations first, then correlations of
//! correlations) in (event time, position) order. That order, not arrival
//! order, is what makes the output independent of shuffling within the
//! out-of-orderness bound and of the number of shards.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rustc_hash::FxHashMap;

use super::window::{Fire, GroupState, HitData};
use super::CorrelationSet;

/// A hit routed to a shard.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// Index of the correlation in the [`CorrelationSet`].
    pub corr: u32,
    /// Group-by values joined by `\x1f` (absent fields as empty).
    pub group: Box<str>,
    pub data: HitData,
}

impl Eq for Hit {}

impl Ord for Hit {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.data.time, self.data.seq, self.corr, &self.group, self.data.rule).cmp(&(
            o.data.time,
            o.data.seq,
            o.corr,
            &o.group,
            o.data.rule,
        ))
    }
}

impl PartialOrd for Hit {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// A correlation that fired for a group.
#[derive(Clone, Debug, PartialEq)]
pub struct Firing {
    pub corr: u32,
    pub group: Box<str>,
    pub fire: Fire,
}

/// Counters a shard keeps (merged into run metrics).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShardStats {
    pub applied: u64,
    pub fired: u64,
    pub expired: u64,
    pub evicted: u64,
}

pub struct Shard {
    pending: BinaryHeap<Reverse<Hit>>,
    /// Per correlation: group → state.
    groups: Vec<FxHashMap<Box<str>, GroupState>>,
    /// (deadline, correlation, group): when to judge or drop a group's state.
    timers: BinaryHeap<Reverse<(i64, u32, Box<str>)>>,
    /// Hits held back per layer until the layer's turn.
    pub stats: ShardStats,
    max_groups: usize,
    tracked: usize,
}

impl Shard {
    pub fn new(set: &CorrelationSet, max_groups: usize) -> Shard {
        Shard {
            pending: BinaryHeap::new(),
            groups: vec![FxHashMap::default(); set.specs.len()],
            timers: BinaryHeap::new(),
            stats: ShardStats::default(),
            max_groups: max_groups.max(1),
            tracked: 0,
        }
    }

    pub fn push(&mut self, hit: Hit) {
        self.pending.push(Reverse(hit));
    }

    /// Groups currently holding state.
    pub fn tracked_groups(&self) -> usize {
        self.tracked
    }

    /// Applies every buffered hit of `layer` with time ≤ `wm`, then judges or
    /// expires the windows of that layer the watermark has passed. Firings are
    /// appended to `out` in a deterministic order.
    pub fn advance(&mut self, set: &CorrelationSet, layer: u8, wm: i64, out: &mut Vec<Firing>) {
        let mut held = Vec::new();
        while let Some(Reverse(h)) = self.pending.peek() {
            if h.data.time > wm {
                break;
            }
            let Some(Reverse(h)) = self.pending.pop() else { break };
            if set.specs[h.corr as usize].layer != layer {
                held.push(h);
                continue;
            }
            self.close_due(set, layer, h.data.time, out);
            self.apply(set, h, out);
        }
        for h in held {
            self.pending.push(Reverse(h));
        }
        self.close_due(set, layer, wm, out);
    }

    fn apply(&mut self, set: &CorrelationSet, h: Hit, out: &mut Vec<Firing>) {
        let spec = &set.specs[h.corr as usize].window;
        let groups = &mut self.groups[h.corr as usize];
        let state = match groups.get_mut(&h.group) {
            Some(s) => s,
            None => {
                self.tracked += 1;
                groups
                    .entry(h.group.clone())
                    .or_insert_with(|| GroupState::new(spec, &h.data))
            }
        };
        self.stats.applied += 1;
        let fired = state.apply(spec, &h.data);
        let deadline = state.deadline(spec);
        self.timers.push(Reverse((deadline, h.corr, h.group.clone())));
        if let Some(fire) = fired {
            self.stats.fired += 1;
            out.push(Firing {
                corr: h.corr,
                group: h.group.clone(),
                fire,
            });
        }
        self.enforce_cap(set);
    }

    /// Judges complete windows and drops expired sliding state of `layer` whose deadline ≤ `t`.
    fn close_due(&mut self, set: &CorrelationSet, layer: u8, t: i64, out: &mut Vec<Firing>) {
        let mut later = Vec::new();
        while let Some(Reverse((deadline, _, _))) = self.timers.peek() {
            if *deadline > t {
                break;
            }
            let Some(Reverse((deadline, corr, group))) = self.timers.pop() else {
                break;
            };
            let spec = &set.specs[corr as usize];
            if spec.layer != layer {
                later.push(Reverse((deadline, corr, group)));
                continue;
            }
            let groups = &mut self.groups[corr as usize];
            let Some(state) = groups.get(&group) else { continue };
            // A timer is stale when the state moved its deadline since.
            if state.deadline(&spec.window) != deadline {
                continue;
            }
            if let Some(fire) = state.close(&spec.window) {
                self.stats.fired += 1;
                out.push(Firing {
                    corr,
                    group: group.clone(),
                    fire,
                });
            }
            groups.remove(&group);
            self.tracked -= 1;
            self.stats.expired += 1;
        }
        self.timers.extend(later);
    }

    /// Evicts the groups with the earliest deadline (the least recently
    /// updated) beyond the global cap. Evictions are counted, never silent.
    fn enforce_cap(&mut self, set: &CorrelationSet) {
        while self.tracked > self.max_groups {
            let Some(Reverse((deadline, corr, group))) = self.timers.pop() else {
                return;
            };
            let spec = &set.specs[corr as usize].window;
            let groups = &mut self.groups[corr as usize];
            if groups.get(&group).is_some_and(|st| st.deadline(spec) == deadline) {
                groups.remove(&group);
                self.tracked -= 1;
                self.stats.evicted += 1;
            }
        }
    }
}

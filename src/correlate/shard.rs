//! One correlation shard: the single owner of the state of the groups routed
//! to it. No locks: a shard is driven by one thread (see [`super::worker`]).
//!
//! Hits are buffered until the watermark passes them, then applied per
//! correlation *layer* (base-rule correlations first, then correlations of
//! correlations) in (event time, position) order. That order, not arrival
//! order, is what makes the output independent of shuffling within the
//! out-of-orderness bound and of the number of shards.
//!
//! Memory layout, because a shard may track millions of groups: group states
//! live in a slab of 32-byte [`Slot`]s (key + state; keys up to 15 bytes
//! inline, longer ones in a side table); per correlation an index of slot
//! numbers (`hashbrown::HashTable<u32>`, so the key is stored once) and a heap
//! of 12-byte timers holding exactly one `(deadline, slot)` per group. A timer
//! may be earlier than the group's real deadline (new hits moved it); it is
//! then re-armed when it comes due instead of pushing a timer per hit.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use super::window::{Fire, GroupState, HitData, Seq};
use super::CorrelationSet;

/// A hit routed to a shard.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Hit {
    /// Index of the correlation in the [`CorrelationSet`].
    pub corr: u32,
    /// Group-by values joined by `\x1f` (absent fields as `\0`).
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

/// The first eviction of a correlation's groups in a period (an
/// [`OVERFLOW_PERIOD_NS`]-long bucket of event time) on this shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evictions {
    pub corr: u32,
    /// Groups evicted by that one hit (at most one per cap).
    pub count: u64,
    /// Event time and position of the hit whose new group forced the eviction.
    pub first: (i64, Seq),
}

/// Evictions are reported (and meta-alerted) once per rule per hour of event
/// time; every one is counted in [`ShardStats::evicted_per_rule`].
pub const OVERFLOW_PERIOD_NS: i64 = 3_600_000_000_000;

/// Counters a shard keeps (merged into run metrics).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ShardStats {
    pub applied: u64,
    pub fired: u64,
    pub expired: u64,
    pub evicted: u64,
    /// Groups holding state, per correlation.
    pub tracked: Vec<usize>,
    /// Groups evicted by a cap, per correlation.
    pub evicted_per_rule: Vec<u64>,
}

/// A group: its key (joined group-by values) and window state.
struct Slot {
    key: GroupKey,
    state: GroupState,
}

/// A group key in 16 bytes: up to 15 bytes inline (byte 15 holds the
/// length), so most keys (user names, IPv4 addresses, short host names) cost
/// no allocation; a longer key is kept in [`LongKeys`] and its index stored
/// here (byte 15 = [`GroupKey::LONG`]).
#[derive(Clone, Copy)]
struct GroupKey([u8; 16]);

impl GroupKey {
    const INLINE: usize = 15;
    const LONG: u8 = u8::MAX;
    const EMPTY: GroupKey = GroupKey([0; 16]);

    fn new(key: Box<str>, long: &mut LongKeys) -> GroupKey {
        let mut k = [0u8; 16];
        if key.len() <= Self::INLINE {
            k[..key.len()].copy_from_slice(key.as_bytes());
            k[15] = key.len() as u8;
        } else {
            k[..4].copy_from_slice(&long.insert(key).to_le_bytes());
            k[15] = Self::LONG;
        }
        GroupKey(k)
    }

    fn long_index(&self) -> Option<u32> {
        (self.0[15] == Self::LONG).then(|| u32::from_le_bytes([self.0[0], self.0[1], self.0[2], self.0[3]]))
    }

    fn bytes<'a>(&'a self, long: &'a LongKeys) -> &'a [u8] {
        match self.long_index() {
            Some(i) => long.keys[i as usize].as_bytes(),
            None => &self.0[..self.0[15] as usize],
        }
    }

    fn as_str<'a>(&'a self, long: &'a LongKeys) -> &'a str {
        // Inline bytes are a whole key copied from a `str`.
        std::str::from_utf8(self.bytes(long)).expect("a group key is UTF-8")
    }
}

/// Group keys longer than [`GroupKey::INLINE`] bytes, by index.
#[derive(Default)]
struct LongKeys {
    keys: Vec<Box<str>>,
    free: Vec<u32>,
}

impl LongKeys {
    fn insert(&mut self, key: Box<str>) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.keys[i as usize] = key;
                i
            }
            None => {
                self.keys.push(key);
                (self.keys.len() - 1) as u32
            }
        }
    }

    fn remove(&mut self, i: u32) {
        self.keys[i as usize] = Box::default();
        self.free.push(i);
    }
}

/// A group's timer, `(deadline, slot)` in 12 bytes (not 16) and ordered as
/// that pair: the deadline's bits, order-preserving as unsigned, in two halves.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Timer([u32; 3]);

impl Timer {
    fn new(deadline: i64, slot: u32) -> Timer {
        let d = (deadline as u64) ^ (1 << 63);
        Timer([(d >> 32) as u32, d as u32, slot])
    }

    fn deadline(self) -> i64 {
        (((self.0[0] as u64) << 32 | self.0[1] as u64) ^ (1 << 63)) as i64
    }

    fn slot(self) -> u32 {
        self.0[2]
    }
}

pub struct Shard {
    pending: BinaryHeap<Reverse<Hit>>,
    /// Per correlation: group key → slot number.
    index: Vec<HashTable<u32>>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    long_keys: LongKeys,
    /// Per correlation: one timer per group.
    timers: Vec<BinaryHeap<Reverse<Timer>>>,
    /// Correlations of each layer.
    layers: Vec<Vec<u32>>,
    /// Per correlation: most groups kept (the rule's `tocsin.max_groups` share).
    caps: Vec<usize>,
    max_groups: usize,
    total: usize,
    evictions: Vec<Evictions>,
    /// Per correlation: the overflow period of its last reported eviction.
    reported: Vec<Option<i64>>,
    pub stats: ShardStats,
}

fn key_hash(key: &[u8]) -> u64 {
    FxBuildHasher.hash_one(key)
}

impl Shard {
    /// A shard keeping at most `max_groups` groups in all, and for each
    /// correlation at most `caps[corr]` (already divided among the shards).
    pub fn new(set: &CorrelationSet, max_groups: usize, caps: Vec<usize>) -> Shard {
        let n = set.specs.len();
        let mut layers = vec![Vec::new(); set.max_layer as usize + 1];
        for (i, s) in set.specs.iter().enumerate() {
            layers[s.layer as usize].push(i as u32);
        }
        Shard {
            pending: BinaryHeap::new(),
            index: (0..n).map(|_| HashTable::new()).collect(),
            slots: Vec::new(),
            free: Vec::new(),
            long_keys: LongKeys::default(),
            timers: (0..n).map(|_| BinaryHeap::new()).collect(),
            layers,
            caps,
            max_groups: max_groups.max(1),
            total: 0,
            evictions: Vec::new(),
            reported: vec![None; n],
            stats: ShardStats {
                tracked: vec![0; n],
                evicted_per_rule: vec![0; n],
                ..ShardStats::default()
            },
        }
    }

    pub fn push(&mut self, hit: Hit) {
        self.pending.push(Reverse(hit));
    }

    /// Earliest event time at which an advance could fire something: the
    /// oldest buffered hit, or the earliest timer of a window that is judged
    /// when it closes (sliding windows decide on hits; their timers only
    /// drop state, which no output depends on). Timers re-armed lazily may
    /// be early, so this errs early, never late.
    pub fn next_due(&self, set: &CorrelationSet) -> i64 {
        let hit = self.pending.peek().map_or(i64::MAX, |Reverse(h)| h.data.time);
        self.timers
            .iter()
            .zip(&set.specs)
            .filter(|(_, spec)| !spec.window.sliding)
            .filter_map(|(t, _)| t.peek().map(|Reverse(t)| t.deadline()))
            .fold(hit, i64::min)
    }

    /// Groups currently holding state.
    pub fn tracked_groups(&self) -> usize {
        self.total
    }

    /// Evictions since the last call, per correlation.
    pub fn take_evictions(&mut self) -> Vec<Evictions> {
        std::mem::take(&mut self.evictions)
    }

    /// Applies every buffered hit of `layer` with time ≤ `wm`, then judges or
    /// expires the windows of that layer the watermark has passed. Firings are
    /// appended to `out`; the caller orders them.
    pub fn advance(&mut self, set: &CorrelationSet, layer: u8, wm: i64, out: &mut Vec<Firing>) {
        let mut held = Vec::new();
        while let Some(Reverse(h)) = self.pending.peek() {
            if h.data.time > wm {
                break;
            }
            let Some(Reverse(h)) = self.pending.pop() else { break };
            if set.specs[h.corr as usize].layer != layer {
                held.push(Reverse(h));
                continue;
            }
            self.close_due(set, layer, h.data.time, true, out);
            self.apply(set, h, out);
        }
        self.pending.extend(held);
        self.close_due(set, layer, wm, false, out);
    }

    fn apply(&mut self, set: &CorrelationSet, h: Hit, out: &mut Vec<Firing>) {
        let corr = h.corr as usize;
        let spec = &set.specs[corr].window;
        let hash = key_hash(h.group.as_bytes());
        let (slots, long) = (&self.slots, &self.long_keys);
        let found = self.index[corr]
            .find(hash, |&i| slots[i as usize].key.bytes(long) == h.group.as_bytes())
            .copied();
        self.stats.applied += 1;
        let (slot, fired) = match found {
            Some(i) => (i, self.slots[i as usize].state.apply(spec, &h.data)),
            None => {
                let mut state = GroupState::new(spec, &h.data);
                let fired = state.apply(spec, &h.data);
                let deadline = state.deadline(spec);
                let i = self.insert(corr, hash, h.group, state);
                self.timers[corr].push(Reverse(Timer::new(deadline, i)));
                self.enforce_caps(set, corr, i, (h.data.time, h.data.seq));
                (i, fired)
            }
        };
        if let Some(fire) = fired {
            self.stats.fired += 1;
            out.push(Firing {
                corr: h.corr,
                group: self.slots[slot as usize].key.as_str(&self.long_keys).into(),
                fire,
            });
        }
    }

    fn insert(&mut self, corr: usize, hash: u64, key: Box<str>, state: GroupState) -> u32 {
        let slot = Slot {
            key: GroupKey::new(key, &mut self.long_keys),
            state,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        let (slots, long) = (&self.slots, &self.long_keys);
        self.index[corr].insert_unique(hash, i, |&j| key_hash(slots[j as usize].key.bytes(long)));
        self.total += 1;
        self.stats.tracked[corr] += 1;
        i
    }

    fn remove(&mut self, corr: usize, slot: u32) {
        let s = &mut self.slots[slot as usize];
        let hash = key_hash(s.key.bytes(&self.long_keys));
        if let Ok(e) = self.index[corr].find_entry(hash, |&i| i == slot) {
            e.remove();
        }
        if let Some(i) = s.key.long_index() {
            self.long_keys.remove(i);
        }
        s.key = GroupKey::EMPTY;
        s.state = GroupState::Count(Box::default());
        self.free.push(slot);
        self.total -= 1;
        self.stats.tracked[corr] -= 1;
    }

    /// Pops the group of `corr` with the earliest deadline due by `t`, or
    /// `None`. A timer that new hits made early is re-armed at the real
    /// deadline when that is past `t`, or whenever `exact` (eviction wants the
    /// group that is really oldest).
    fn pop_due(&mut self, set: &CorrelationSet, corr: usize, t: i64, exact: bool) -> Option<u32> {
        let spec = &set.specs[corr].window;
        while let Some(&Reverse(timer)) = self.timers[corr].peek() {
            let (deadline, slot) = (timer.deadline(), timer.slot());
            if deadline > t {
                return None;
            }
            self.timers[corr].pop();
            let real = self.slots[slot as usize].state.deadline(spec);
            if real > deadline && (exact || real > t) {
                self.timers[corr].push(Reverse(Timer::new(real, slot)));
                continue;
            }
            return Some(slot);
        }
        None
    }

    /// Judges complete windows and drops expired state of `layer` whose
    /// deadline has passed at `t`. `before_hit`: a hit at `t` is about to be
    /// applied, and a sliding window still includes a hit exactly one
    /// timespan old (its edge), while a complete window `[start, end)` does
    /// not include a hit at its end.
    fn close_due(&mut self, set: &CorrelationSet, layer: u8, t: i64, before_hit: bool, out: &mut Vec<Firing>) {
        for li in 0..self.layers[layer as usize].len() {
            let corr = self.layers[layer as usize][li] as usize;
            let t = if before_hit && set.specs[corr].window.sliding {
                t.saturating_sub(1)
            } else {
                t
            };
            while let Some(slot) = self.pop_due(set, corr, t, false) {
                let s = &self.slots[slot as usize];
                if let Some(fire) = s.state.close(&set.specs[corr].window) {
                    self.stats.fired += 1;
                    out.push(Firing {
                        corr: corr as u32,
                        group: s.key.as_str(&self.long_keys).into(),
                        fire,
                    });
                }
                self.remove(corr, slot);
                self.stats.expired += 1;
            }
        }
    }

    /// Evicts the groups with the earliest deadline (the least recently
    /// updated) beyond the rule's cap and the shard's cap, never the group
    /// `just` created. Evictions are counted and reported, never silent.
    fn enforce_caps(&mut self, set: &CorrelationSet, corr: usize, just: u32, time: (i64, Seq)) {
        while self.stats.tracked[corr] > self.caps[corr] {
            if !self.evict_oldest(set, corr, just, time) {
                break;
            }
        }
        while self.total > self.max_groups {
            let mut order: Vec<(i64, usize)> = (0..self.timers.len())
                .filter_map(|c| self.timers[c].peek().map(|Reverse(t)| (t.deadline(), c)))
                .collect();
            order.sort_unstable();
            if !order.iter().any(|&(_, c)| self.evict_oldest(set, c, just, time)) {
                break;
            }
        }
    }

    fn evict_oldest(&mut self, set: &CorrelationSet, corr: usize, just: u32, time: (i64, Seq)) -> bool {
        let mut kept_new = false;
        let victim = loop {
            match self.pop_due(set, corr, i64::MAX, true) {
                Some(s) if s == just => kept_new = true,
                other => break other,
            }
        };
        if kept_new {
            let d = self.slots[just as usize].state.deadline(&set.specs[corr].window);
            self.timers[corr].push(Reverse(Timer::new(d, just)));
        }
        let Some(slot) = victim else { return false };
        let empty = self.slots[slot as usize].state.is_empty();
        self.remove(corr, slot);
        if empty {
            // A window that fired and restarted holds nothing: no loss.
            self.stats.expired += 1;
            return true;
        }
        self.stats.evicted += 1;
        self.stats.evicted_per_rule[corr] += 1;
        let period = time.0.div_euclid(OVERFLOW_PERIOD_NS);
        match self.evictions.last_mut() {
            Some(e) if e.corr == corr as u32 && e.first == time => e.count += 1,
            _ if self.reported[corr] == Some(period) => {}
            _ => {
                self.reported[corr] = Some(period);
                self.evictions.push(Evictions {
                    corr: corr as u32,
                    count: 1,
                    first: time,
                });
            }
        }
        true
    }
}

/// A shard's state as a checkpoint holds it: independent of the shard count
/// (groups are re-routed on import), borrowed when written so a checkpoint
/// does not copy millions of groups first.
#[derive(serde::Serialize)]
pub struct ShardImageRef<'a> {
    pub pending: Vec<&'a Hit>,
    pub groups: Vec<(u32, &'a str, &'a GroupState)>,
    pub reported: &'a [Option<i64>],
}

/// The owned form of [`ShardImageRef`] (same encoding), read back from a checkpoint.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ShardImage {
    pub pending: Vec<Hit>,
    pub groups: Vec<(u32, Box<str>, GroupState)>,
    pub reported: Vec<Option<i64>>,
}

impl Shard {
    /// Everything needed to continue exactly where this shard is: buffered
    /// hits, every group's state and which overflow periods were reported.
    pub fn image(&self) -> ShardImageRef<'_> {
        let live: Vec<(u32, &str, &GroupState)> = self
            .index
            .iter()
            .enumerate()
            .flat_map(|(corr, idx)| {
                idx.iter().map(move |&i| {
                    let s = &self.slots[i as usize];
                    (corr as u32, s.key.as_str(&self.long_keys), &s.state)
                })
            })
            .collect();
        ShardImageRef {
            pending: self.pending.iter().map(|Reverse(h)| h).collect(),
            groups: live,
            reported: &self.reported,
        }
    }

    /// Adds a group restored from a checkpoint (its correlation already
    /// mapped to this rule set). Caps apply from the next hit on.
    pub fn restore_group(&mut self, set: &CorrelationSet, corr: u32, key: Box<str>, state: GroupState) {
        let c = corr as usize;
        let deadline = state.deadline(&set.specs[c].window);
        let hash = key_hash(key.as_bytes());
        let i = self.insert(c, hash, key, state);
        self.timers[c].push(Reverse(Timer::new(deadline, i)));
    }

    /// Marks a correlation's overflow period as already reported.
    pub fn restore_reported(&mut self, corr: u32, period: Option<i64>) {
        if let Some(r) = self.reported.get_mut(corr as usize) {
            *r = (*r).max(period);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_order_as_deadline_then_slot() {
        let ds = [
            i64::MIN,
            i64::MIN + 1,
            -(1 << 40),
            -1,
            0,
            1,
            1 << 32,
            (1 << 32) - 1,
            i64::MAX - 1,
            i64::MAX,
        ];
        let mut pairs: Vec<(i64, u32)> = Vec::new();
        for &d in &ds {
            for s in [0, 1, u32::MAX] {
                pairs.push((d, s));
                let t = Timer::new(d, s);
                assert_eq!((t.deadline(), t.slot()), (d, s));
            }
        }
        for a in &pairs {
            for b in &pairs {
                assert_eq!(Timer::new(a.0, a.1).cmp(&Timer::new(b.0, b.1)), a.cmp(b));
            }
        }
        assert_eq!(std::mem::size_of::<Reverse<Timer>>(), 12);
    }

    #[test]
    fn keys_up_to_15_bytes_are_inline_and_longer_ones_shared_out() {
        let mut long = LongKeys::default();
        for key in [
            "",
            "a",
            "10.0.0.1",
            "255.255.255.255",
            "0123456789abcdef",
            "ü\u{1f}ßé-ñ",
            "administrator\u{1f}WKS-0042",
        ] {
            let k = GroupKey::new(key.into(), &mut long);
            assert_eq!(k.as_str(&long), key);
            assert_eq!(k.long_index().is_some(), key.len() > GroupKey::INLINE, "{key:?}");
        }
        assert_eq!(long.keys.len(), 2);
        long.remove(0);
        let k = GroupKey::new("a-key-longer-than-15".into(), &mut long);
        assert_eq!(k.long_index(), Some(0), "a freed index is reused");
        assert_eq!(std::mem::size_of::<Slot>(), 32);
    }
}

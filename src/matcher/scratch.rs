//! Per-thread working memory of the matcher, reused across events so that
//! matching an event allocates nothing in the steady state.

use super::AtomId;

/// Satisfied atoms of the current event, plus reusable buffers.
#[derive(Default)]
pub struct Scratch {
    bits: Vec<u64>,
    set: Vec<AtomId>,
    lower: String,
    /// The raw record, ASCII-lowercased, for the keyword prefilter.
    pub(super) raw_lower: Vec<u8>,
    /// Lazily computed atoms of this event: known bit and value bit.
    known: Vec<u64>,
    known_list: Vec<AtomId>,
    /// Per-rule stamp of the last event that evaluated it (no clearing needed).
    pub(super) rule_stamp: Vec<u32>,
    pub(super) epoch: u32,
    /// Rules matched by the last scan, in rule order.
    pub(super) matched: Vec<u32>,
    /// Profiling (a sampled event): each rule evaluated by the last scan and
    /// the nanoseconds its condition (lazy atoms included) took.
    pub(super) timing: Option<Vec<(u32, u64)>>,
}

impl Scratch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Times each rule evaluated by the next scans (on), or stops (off).
    pub fn set_profiling(&mut self, on: bool) {
        match (on, &mut self.timing) {
            (true, Some(t)) => t.clear(),
            (true, None) => self.timing = Some(Vec::new()),
            (false, _) => self.timing = None,
        }
    }

    /// (rule index, nanoseconds) of the rules the last scans evaluated while profiling.
    pub fn timings(&self) -> &[(u32, u64)] {
        self.timing.as_deref().unwrap_or(&[])
    }

    /// Prepares for a new event of a plan with `atoms` atoms and `rules` rules.
    pub(super) fn begin(&mut self, atoms: usize, rules: usize) {
        for &a in &self.set {
            self.bits[a as usize / 64] &= !(1u64 << (a % 64));
        }
        self.set.clear();
        for &a in &self.known_list {
            self.known[a as usize / 64] &= !(1u64 << (a % 64));
        }
        self.known_list.clear();
        let words = atoms.div_ceil(64);
        if self.bits.len() < words {
            self.bits.resize(words, 0);
            self.known.resize(words, 0);
        }
        if self.rule_stamp.len() < rules {
            self.rule_stamp.resize(rules, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.rule_stamp.iter_mut().for_each(|s| *s = u32::MAX);
            self.epoch = 1;
        }
        self.matched.clear();
    }

    #[inline]
    pub fn set(&mut self, a: AtomId) {
        let (w, b) = (a as usize / 64, 1u64 << (a % 64));
        if self.bits[w] & b == 0 {
            self.bits[w] |= b;
            self.set.push(a);
        }
    }

    #[inline]
    pub fn is_set(&self, a: AtomId) -> bool {
        self.bits[a as usize / 64] & (1u64 << (a % 64)) != 0
    }

    /// The value of a lazily computed atom, if computed for this event.
    pub(super) fn lazy_value(&self, a: AtomId) -> Option<bool> {
        let (w, b) = (a as usize / 64, 1u64 << (a % 64));
        (self.known[w] & b != 0).then(|| self.bits[w] & b != 0)
    }

    /// Records a lazily computed atom. A true value is set without waking
    /// rules: lazy atoms trigger nothing.
    pub(super) fn remember(&mut self, a: AtomId, holds: bool) {
        let (w, b) = (a as usize / 64, 1u64 << (a % 64));
        self.known[w] |= b;
        self.known_list.push(a);
        if holds {
            self.set(a);
        }
    }

    /// Atoms set so far for this event, in the order they were set.
    pub(super) fn set_atoms(&self) -> &[AtomId] {
        &self.set
    }

    /// Lowercases `s` into the reusable buffer and lends it out; give it back
    /// with [`Scratch::recycle_lowercase`].
    pub(super) fn lowercase(&mut self, s: &str) -> String {
        let mut buf = std::mem::take(&mut self.lower);
        buf.clear();
        if s.is_ascii() {
            buf.push_str(s);
            buf.make_ascii_lowercase();
        } else {
            buf.extend(s.chars().flat_map(char::to_lowercase));
        }
        buf
    }

    pub(super) fn recycle_lowercase(&mut self, buf: String) {
        self.lower = buf;
    }

    /// Rules matched by the last scan, ascending.
    pub fn matched(&self) -> &[u32] {
        &self.matched
    }
}

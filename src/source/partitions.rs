//! The topic-partitions a Kafka consumer loop has assigned, as it tracks
//! them per message: the next offset (what a commit covers), activity for
//! idle detection, and a shared topic name for [`Position`]s.
//!
//! Why a table and not maps keyed by `(String, i32)`: a message then costs
//! no allocation and no string-keyed tree lookup. Messages arrive in runs of
//! one partition, so the last partition looked up is tried first; otherwise
//! a linear scan over the (tens of) assigned partitions.
//!
//! Idle detection counts messages instead of reading the clock per message:
//! [`Partitions::sweep`], called every ~100 ms by the loop whether or not
//! messages flow, marks a partition idle once it received nothing for
//! `idle_timeout` and is caught up. Running the sweep on a timer, not only
//! when the consumer has nothing to deliver, matters: one silent partition
//! among busy ones must stop holding the watermark back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::event::Position;

/// A topic-partition as librdkafka names it.
pub type Tp = (String, i32);

/// One assigned topic-partition.
#[derive(Debug)]
pub struct Part {
    pub topic: Arc<str>,
    pub partition: i32,
    /// Next offset to read: what a commit covers (none until a message or
    /// the restored checkpoint says).
    pub next: Option<i64>,
    /// Replay: the end offset to stop at, once looked up.
    pub end: Option<i64>,
    received: u64,
    swept: u64,
    active_at: Instant,
    idle: bool,
}

impl Part {
    /// Its position at `offset`.
    pub fn position(&self, offset: i64) -> Position {
        Position::Kafka {
            topic: self.topic.clone(),
            partition: self.partition,
            offset,
        }
    }

    pub fn tp(&self) -> Tp {
        (self.topic.to_string(), self.partition)
    }
}

/// The assigned topic-partitions.
#[derive(Debug, Default)]
pub struct Partitions {
    parts: Vec<Part>,
    last: usize,
}

/// What a message changed about its partition's idleness.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    Active,
    /// It was idle: the caller makes it hold the watermark again.
    Woke,
}

impl Partitions {
    /// The index of a topic-partition, registering it when new.
    pub fn index(&mut self, topic: &str, partition: i32) -> usize {
        let is = |p: &Part| p.partition == partition && *p.topic == *topic;
        if self.parts.get(self.last).is_some_and(is) {
            return self.last;
        }
        let i = match self.parts.iter().position(is) {
            Some(i) => i,
            None => {
                self.parts.push(Part {
                    topic: topic.into(),
                    partition,
                    next: None,
                    end: None,
                    received: 0,
                    swept: 0,
                    active_at: Instant::now(),
                    idle: false,
                });
                self.parts.len() - 1
            }
        };
        self.last = i;
        i
    }

    pub fn iter(&self) -> impl Iterator<Item = &Part> {
        self.parts.iter()
    }

    pub fn get(&self, i: usize) -> &Part {
        &self.parts[i]
    }

    pub fn get_mut(&mut self, i: usize) -> &mut Part {
        &mut self.parts[i]
    }

    /// A message at `offset` was read from partition `i`.
    pub fn received(&mut self, i: usize, offset: i64) -> Seen {
        let p = &mut self.parts[i];
        p.next = Some(offset + 1);
        p.received += 1;
        if p.idle {
            p.idle = false;
            p.active_at = Instant::now();
            return Seen::Woke;
        }
        Seen::Active
    }

    /// Forgets a revoked partition.
    pub fn remove(&mut self, topic: &str, partition: i32) {
        self.parts.retain(|p| !(p.partition == partition && *p.topic == *topic));
        self.last = 0;
    }

    /// Whether a commit would cover this partition.
    pub fn has_offset(&self, topic: &str, partition: i32) -> bool {
        self.parts
            .iter()
            .any(|p| p.partition == partition && *p.topic == *topic && p.next.is_some())
    }

    /// Next offset per partition: what a commit covers.
    pub fn offsets(&self) -> BTreeMap<Tp, i64> {
        self.parts.iter().filter_map(|p| Some((p.tp(), p.next?))).collect()
    }

    /// Starts every partition's silence anew (a rule reload: the restored
    /// state starts them idle, and they hold the watermark again from now).
    pub fn reset_activity(&mut self, now: Instant) {
        for p in &mut self.parts {
            p.active_at = now;
            p.swept = p.received;
            p.idle = false;
        }
    }

    /// Marks idle the partitions that received nothing for `idle_timeout`
    /// and are caught up; returns them. Silence alone is not enough: a
    /// partition whose first fetch is slow (a busy broker) is silent but
    /// behind, and marking it idle would make its events late.
    pub fn sweep(&mut self, now: Instant, idle_timeout: Duration, caught_up: &BTreeSet<Tp>) -> Vec<&Part> {
        let mut went_idle = Vec::new();
        for p in &mut self.parts {
            if p.received != p.swept {
                p.swept = p.received;
                p.active_at = now;
            } else if !p.idle
                && now.duration_since(p.active_at) >= idle_timeout
                && caught_up.contains(&(p.topic.to_string(), p.partition))
            {
                p.idle = true;
                went_idle.push(&*p);
            }
        }
        went_idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_offsets_and_idleness() {
        let mut parts = Partitions::default();
        let a = parts.index("auth", 0);
        let b = parts.index("auth", 1);
        assert_ne!(a, b);
        assert_eq!(parts.index("auth", 0), a);
        assert_eq!(parts.index("dns", 0), 2);
        assert_eq!(parts.received(a, 41), Seen::Active);
        assert!(parts.has_offset("auth", 0) && !parts.has_offset("auth", 1));
        assert_eq!(parts.offsets(), BTreeMap::from([(("auth".to_string(), 0), 42)]));

        let t0 = Instant::now();
        let caught_up = BTreeSet::from([("auth".to_string(), 0), ("auth".to_string(), 1)]);
        let idle = Duration::from_secs(10);
        // The first sweep sees auth/0's message: active now.
        assert!(parts.sweep(t0, idle, &caught_up).is_empty());
        let later = t0 + Duration::from_secs(11);
        parts.received(b, 7);
        let went: Vec<Tp> = parts.sweep(later, idle, &caught_up).iter().map(|p| p.tp()).collect();
        // auth/0 silent 11 s and caught up; auth/1 just received; dns/0 not caught up.
        assert_eq!(went, vec![("auth".to_string(), 0)]);
        assert!(parts.sweep(later, idle, &caught_up).is_empty(), "reported once");
        assert_eq!(parts.received(a, 42), Seen::Woke);
        parts.remove("auth", 0);
        assert!(!parts.has_offset("auth", 0));
        assert_eq!(parts.offsets().len(), 1);
    }
}

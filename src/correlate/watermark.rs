//! Event-time watermarks: per input partition, the largest event time seen
//! minus the out-of-orderness bound; the pipeline watermark is the minimum
//! over active partitions. A finished partition (end of file) or an idle one
//! (no record for `idle_timeout`, streaming only) does not hold it back.
//!
//! Watermark `W` promises: no more on-time records with event time ≤ `W`
//! (as Flink's bounded-out-of-orderness generator, `max − bound − 1ns`).

/// Watermark state of all partitions of a run.
#[derive(Clone, Debug)]
pub struct Watermarks {
    bound: i64,
    parts: Vec<Partition>,
}

#[derive(Clone, Copy, Debug)]
struct Partition {
    max_time: i64,
    finished: bool,
    idle: bool,
}

impl Watermarks {
    /// `bound`: max out-of-orderness in nanoseconds.
    pub fn new(bound: i64) -> Self {
        Watermarks {
            bound,
            parts: Vec::new(),
        }
    }

    /// Registers a partition; returns its index.
    pub fn add_partition(&mut self) -> u32 {
        self.parts.push(Partition {
            max_time: i64::MIN,
            finished: false,
            idle: false,
        });
        (self.parts.len() - 1) as u32
    }

    pub fn observe(&mut self, part: u32, time: i64) {
        if let Some(p) = self.parts.get_mut(part as usize) {
            p.max_time = p.max_time.max(time);
            p.idle = false;
        }
    }

    pub fn finish(&mut self, part: u32) {
        if let Some(p) = self.parts.get_mut(part as usize) {
            p.finished = true;
        }
    }

    pub fn set_idle(&mut self, part: u32, idle: bool) {
        if let Some(p) = self.parts.get_mut(part as usize) {
            p.idle = idle;
        }
    }

    /// Largest event time seen per partition (checkpoints).
    pub fn max_times(&self) -> Vec<i64> {
        self.parts.iter().map(|p| p.max_time).collect()
    }

    /// Restores a partition's progress from a checkpoint: it resumes idle, so
    /// it holds the watermark back again only once it is assigned or delivers.
    pub fn restore(&mut self, part: u32, max_time: i64) {
        if let Some(p) = self.parts.get_mut(part as usize) {
            p.max_time = p.max_time.max(max_time);
            p.idle = true;
        }
    }

    /// The pipeline watermark: `i64::MAX` once every partition has finished,
    /// `i64::MIN` while an active partition has seen nothing.
    pub fn current(&self) -> i64 {
        let active = self.parts.iter().filter(|p| !p.finished && !p.idle);
        let mut any = false;
        let mut min = i64::MAX;
        for p in active {
            any = true;
            let w = if p.max_time == i64::MIN {
                i64::MIN
            } else {
                p.max_time.saturating_sub(self.bound).saturating_sub(1)
            };
            min = min.min(w);
        }
        if !any && self.parts.iter().all(|p| p.finished) {
            return i64::MAX;
        }
        if !any {
            // Every unfinished partition is idle: advance to what has been seen.
            return self
                .parts
                .iter()
                .map(|p| p.max_time.saturating_sub(self.bound).saturating_sub(1))
                .max()
                .unwrap_or(i64::MIN);
        }
        min
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_over_active_partitions() {
        let mut w = Watermarks::new(5);
        let (a, b) = (w.add_partition(), w.add_partition());
        assert_eq!(w.current(), i64::MIN);
        w.observe(a, 100);
        assert_eq!(w.current(), i64::MIN, "b has seen nothing yet");
        w.observe(b, 50);
        assert_eq!(w.current(), 44);
        w.observe(b, 40);
        assert_eq!(w.current(), 44, "never moves back");
        w.finish(b);
        assert_eq!(w.current(), 94);
        w.set_idle(a, true);
        assert_eq!(w.current(), 94);
        w.finish(a);
        assert_eq!(w.current(), i64::MAX);
    }
}

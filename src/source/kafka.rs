//! Kafka source: one consumer-group subscription over every source topic,
//! each message through the same [`Processor`] as file input, and offsets
//! committed only once everything derived from them is acknowledged.
//!
//! Commit protocol (at-least-once): every `commit_interval`, on a rebalance
//! that revokes partitions, and at shutdown, the sink is flushed — every
//! alert and dead letter sent so far is acknowledged by the broker — and only
//! then are the next offsets of the messages processed so far committed. A
//! crash between the two replays those messages; alert ids are deterministic,
//! so the replay re-emits the same ids, never different ones.
//!
//! Each topic-partition is an input partition of the pipeline watermark; one
//! silent for `idle_timeout` stops holding it back. Broker trouble is logged
//! and retried by librdkafka, never a crash: the loop keeps polling.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::event::Position;
use crate::pipeline::Processor;
use crate::sink::kafka::{Flusher, KafkaOutput, SinkError};

/// What the consumer loop needs besides the processor and the sink.
#[derive(Clone, Debug)]
pub struct KafkaSource {
    /// Brokers and pass-through librdkafka properties.
    pub client: ClientConfig,
    pub group_id: String,
    pub topics: Vec<String>,
    pub commit_interval: Duration,
    pub idle_timeout: Duration,
    pub shutdown_timeout: Duration,
    /// Replay: stop (and flush every window) once these end offsets
    /// (exclusive, per topic-partition) are consumed, instead of streaming on.
    pub stop_at: Option<BTreeMap<(String, i32), i64>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("creating the Kafka consumer: {0}")]
    Create(KafkaError),
    #[error("subscribing to {topics:?}: {source}")]
    Subscribe { topics: Vec<String>, source: KafkaError },
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("committing offsets: {0}")]
    Commit(KafkaError),
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

/// Next offsets to commit, per topic-partition (shared with the rebalance callback).
type Offsets = Arc<Mutex<BTreeMap<(String, i32), i64>>>;

/// Commits the work of revoked partitions before they go to another member,
/// and tells the loop which partitions came and went.
struct Context {
    offsets: Offsets,
    flusher: Flusher,
    changes: Mutex<Vec<((String, i32), bool)>>,
}

impl ClientContext for Context {}

impl ConsumerContext for Context {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let mut changes = lock(&self.changes);
            changes.extend(
                tpl.elements()
                    .iter()
                    .map(|e| ((e.topic().to_string(), e.partition()), true)),
            );
        }
    }

    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(revoked) = rebalance else { return };
        lock(&self.changes).extend(
            revoked
                .elements()
                .iter()
                .map(|e| ((e.topic().to_string(), e.partition()), false)),
        );
        let mut offsets = self.offsets.lock().unwrap_or_else(|p| p.into_inner());
        let mut tpl = TopicPartitionList::new();
        for e in revoked.elements() {
            if let Some(next) = offsets.remove(&(e.topic().to_string(), e.partition())) {
                let _ = tpl.add_partition_offset(e.topic(), e.partition(), Offset::Offset(next));
            }
        }
        if tpl.count() == 0 {
            return;
        }
        match self.flusher.flush(Duration::from_secs(30)) {
            Ok(()) => match consumer.commit(&tpl, CommitMode::Sync) {
                Ok(()) => tracing::info!(partitions = tpl.count(), "committed revoked partitions"),
                Err(e) => tracing::warn!(error = %e, "commit of revoked partitions failed; they will be replayed"),
            },
            Err(e) => tracing::warn!(error = %e, "output not acknowledged; revoked partitions will be replayed"),
        }
    }
}

/// Counters of one consumer run.
#[derive(Clone, Debug, Default)]
pub struct SourceStats {
    pub messages: u64,
    pub commits: u64,
}

impl KafkaSource {
    /// Consumes until `stop` is set (or, for a replay, the end offsets are
    /// reached), processing every message and committing as described above.
    pub fn run(
        &self,
        proc: &mut Processor,
        out: &mut KafkaOutput,
        stop: &AtomicBool,
    ) -> Result<SourceStats, SourceError> {
        let offsets: Offsets = Arc::default();
        let consumer = self.consumer(offsets.clone(), out.flusher())?;
        let mut stats = SourceStats::default();
        let mut last_commit = Instant::now();
        let mut last_seen: BTreeMap<(String, i32), Instant> = BTreeMap::new();
        let mut remaining = self.stop_at.clone();
        while !stop.load(Ordering::Relaxed) {
            if remaining.as_ref().is_some_and(BTreeMap::is_empty) {
                break;
            }
            let polled = consumer.poll(Duration::from_millis(100));
            let assigned = self.track_assignment(&consumer, proc, &mut last_seen);
            if let Some(r) = remaining.as_mut() {
                skip_consumed(&consumer, &assigned, r);
            }
            match polled {
                Some(Ok(msg)) => {
                    let tp = (msg.topic().to_string(), msg.partition());
                    let pos = Position::Kafka {
                        topic: tp.0.clone(),
                        partition: tp.1,
                        offset: msg.offset(),
                    };
                    let payload = msg.payload().unwrap_or_default();
                    let transport_ns = msg.timestamp().to_millis().map(|ms| ms as i128 * 1_000_000);
                    // Only a partition marked idle needs waking: no per-message watermark work.
                    if let Some(seen) = last_seen.insert(tp.clone(), Instant::now()) {
                        if seen.elapsed() >= self.idle_timeout {
                            proc.set_idle(&pos, false);
                        }
                    }
                    proc.process(payload, payload.len(), pos, transport_ns, out)?;
                    stats.messages += 1;
                    lock(&offsets).insert(tp.clone(), msg.offset() + 1);
                    if let Some(r) = remaining.as_mut() {
                        if r.get(&tp).is_some_and(|&end| msg.offset() + 1 >= end) {
                            r.remove(&tp);
                        }
                    }
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "Kafka consumer error; retrying");
                    std::thread::sleep(Duration::from_millis(200));
                }
                // A lull ends a batch: what the watermark has passed fires now,
                // not at the next commit.
                None => {
                    self.mark_idle(proc, &last_seen);
                    proc.flush(out)?;
                }
            }
            if last_commit.elapsed() >= self.commit_interval {
                proc.flush(out)?;
                self.commit(
                    &consumer,
                    out,
                    &offsets,
                    self.commit_interval.max(Duration::from_secs(10)),
                )?;
                stats.commits += 1;
                last_commit = Instant::now();
            }
        }
        if self.stop_at.is_some() {
            proc.finish(out)?;
        } else {
            proc.flush(out)?;
        }
        self.commit(&consumer, out, &offsets, self.shutdown_timeout)?;
        stats.commits += 1;
        consumer.unsubscribe();
        Ok(stats)
    }

    fn consumer(&self, offsets: Offsets, flusher: Flusher) -> Result<BaseConsumer<Context>, SourceError> {
        let mut c = self.client.clone();
        if c.get("auto.offset.reset").is_none() {
            c.set("auto.offset.reset", "earliest");
        }
        c.set("group.id", &self.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        let consumer: BaseConsumer<Context> = c
            .create_with_context(Context {
                offsets,
                flusher,
                changes: Mutex::default(),
            })
            .map_err(SourceError::Create)?;
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(|source| SourceError::Subscribe {
            topics: self.topics.clone(),
            source,
        })?;
        Ok(consumer)
    }

    /// An assigned partition holds the watermark back from the start (until
    /// it delivers or goes idle), so events of a partition that is slow to
    /// deliver are not late merely because another partition came first. A
    /// revoked one stops holding it. Returns the partitions newly assigned.
    fn track_assignment(
        &self,
        consumer: &BaseConsumer<Context>,
        proc: &mut Processor,
        last_seen: &mut BTreeMap<(String, i32), Instant>,
    ) -> Vec<(String, i32)> {
        let changes = std::mem::take(&mut *lock(&consumer.context().changes));
        let mut new = Vec::new();
        for ((topic, partition), assigned) in changes {
            let pos = Position::Kafka {
                topic: topic.clone(),
                partition,
                offset: 0,
            };
            proc.partition(&pos);
            proc.set_idle(&pos, !assigned);
            if assigned {
                last_seen.insert((topic.clone(), partition), Instant::now());
                new.push((topic, partition));
            } else {
                last_seen.remove(&(topic, partition));
            }
        }
        new
    }

    /// Partitions silent for `idle_timeout` stop holding the watermark back.
    fn mark_idle(&self, proc: &mut Processor, last_seen: &BTreeMap<(String, i32), Instant>) {
        for ((topic, partition), seen) in last_seen {
            if seen.elapsed() >= self.idle_timeout {
                let pos = Position::Kafka {
                    topic: topic.clone(),
                    partition: *partition,
                    offset: 0,
                };
                proc.set_idle(&pos, true);
            }
        }
    }

    /// Flushes the sink, then commits what was processed (never the other way round).
    fn commit(
        &self,
        consumer: &BaseConsumer<Context>,
        out: &KafkaOutput,
        offsets: &Offsets,
        timeout: Duration,
    ) -> Result<(), SourceError> {
        out.flush(timeout)?;
        let tpl = {
            let offsets = lock(offsets);
            let mut tpl = TopicPartitionList::new();
            for ((topic, partition), next) in offsets.iter() {
                let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(*next));
            }
            tpl
        };
        if tpl.count() > 0 {
            consumer.commit(&tpl, CommitMode::Sync).map_err(SourceError::Commit)?;
        }
        Ok(())
    }
}

/// Replay: a partition whose group already committed its end offset (a
/// replay resumed after an earlier run) delivers nothing more, so it is not
/// waited for; otherwise the replay would never end.
fn skip_consumed(
    consumer: &BaseConsumer<Context>,
    assigned: &[(String, i32)],
    remaining: &mut BTreeMap<(String, i32), i64>,
) {
    let mut tpl = TopicPartitionList::new();
    for tp in assigned.iter().filter(|tp| remaining.contains_key(*tp)) {
        tpl.add_partition(&tp.0, tp.1);
    }
    if tpl.count() == 0 {
        return;
    }
    match consumer.committed_offsets(tpl, Duration::from_secs(10)) {
        Ok(committed) => {
            for e in committed.elements() {
                let tp = (e.topic().to_string(), e.partition());
                if let (Offset::Offset(next), Some(&end)) = (e.offset(), remaining.get(&tp)) {
                    if next >= end {
                        remaining.remove(&tp);
                    }
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "reading committed offsets; waiting for every partition's end"),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

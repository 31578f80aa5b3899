//! Kafka source: one consumer-group subscription over every source topic,
//! each message through the same [`Processor`] as file input, and offsets
//! committed only once everything derived from them is acknowledged.
//!
//! Commit points: every `commit_interval`, on a rebalance that revokes
//! partitions (inside the callback, with the same processor and producer),
//! and at shutdown. At each, the correlator applies what the watermark passed
//! and its alerts are sent; with correlation rules, a checkpoint of the whole
//! pipeline state and the offsets it covers is written to the state topic
//! ([`crate::sink::state`]); then:
//! - at-least-once (default): offsets are committed only once every alert,
//!   dead letter and checkpoint record sent up to the commit point is
//!   acknowledged, in that order (output, then the checkpoint that claims it,
//!   then the offsets). Periodic commit points do this without stalling the
//!   loop ([`Work::commit_point`], [`Work::drive_commits`]: output epochs are
//!   counted in the producer's delivery callback); revoke and shutdown commit
//!   points wait. A crash replays from the last checkpoint (or commit); alert
//!   ids are deterministic, so the replay re-emits the same ids.
//! - exactly-once (`kafka.exactly_once`): output, checkpoint and offsets
//!   commit in one Kafka transaction; a crash aborts the open one, and
//!   `read_committed` consumers see every alert once.
//!
//! On start, the group's last checkpoint is restored and each assigned
//! partition resumes at the checkpoint's offset (not the committed one, which
//! may be newer after a crash between the two), so the state and the input
//! position always agree: a window open at a crash neither loses its hits
//! nor counts them twice.
//!
//! Each topic-partition is an input partition of the pipeline watermark; one
//! caught up and silent for `idle_timeout` stops holding it back (a timed
//! sweep, [`crate::source::partitions`], so also while other partitions
//! stream). Broker trouble is logged
//! and retried by librdkafka, never a crash: the loop keeps polling.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::detector::Detector;
use crate::event::Position;
use crate::metrics::Metrics;
use crate::pipeline::{CheckpointError, Processor};
use crate::sink::kafka::{KafkaOutput, SinkError, EPOCHS};
use crate::sink::state::{StateError, StateTopic};
use crate::source::partitions::{Partitions, Seen, Tp};

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
    /// Compacted topic holding correlation checkpoints (used only when the
    /// rule set has correlations).
    pub state_topic: String,
    /// Replay: stop (and flush every window) once these end offsets
    /// (exclusive, per topic-partition) are consumed, instead of streaming on.
    pub stop_at: Option<BTreeMap<(String, i32), i64>>,
    /// Rule sets compiled by a reloader, swapped in between two records.
    pub rule_updates: RuleUpdates,
}

/// A mailbox for the newest compiled rule set (hot reload): the reloader
/// offers, the consumer loop takes; an older set not yet taken is replaced.
#[derive(Clone, Default)]
pub struct RuleUpdates(Arc<Mutex<Option<Arc<Detector>>>>);

impl RuleUpdates {
    pub fn offer(&self, detector: Arc<Detector>) {
        *lock(&self.0) = Some(detector);
    }

    pub fn take(&self) -> Option<Arc<Detector>> {
        lock(&self.0).take()
    }
}

impl std::fmt::Debug for RuleUpdates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RuleUpdates")
    }
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
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("the consumer has no group metadata for a transactional offset commit")]
    NoGroupMetadata,
}

/// How often the loop looks for partitions gone idle, busy or not.
const SWEEP_EVERY: Duration = Duration::from_millis(100);

/// Consumer errors: at most one log line per this period.
const ERROR_LOG_EVERY: Duration = Duration::from_secs(5);

/// Rate-limited reporting of consumer errors (broker unreachable and the like).
#[derive(Default)]
struct ErrorLog {
    last: Option<Instant>,
    folded: u64,
    since: Option<Instant>,
}

impl ErrorLog {
    fn report(&mut self, e: &KafkaError) {
        self.since.get_or_insert_with(Instant::now);
        if self.last.is_some_and(|t| t.elapsed() < ERROR_LOG_EVERY) {
            self.folded += 1;
            return;
        }
        tracing::warn!(error = %e, more = self.folded, "Kafka consumer error; librdkafka keeps retrying");
        self.last = Some(Instant::now());
        self.folded = 0;
    }

    /// A message after errors: the broker is back. True if there were errors.
    fn recovered(&mut self) -> bool {
        let Some(since) = self.since.take() else { return false };
        tracing::info!(after = ?since.elapsed(), "Kafka consumer receiving again");
        self.last = None;
        self.folded = 0;
        true
    }
}

/// What the loop and the rebalance callback share. The callback runs inside
/// `poll`, when the loop does not hold the lock, so revoked partitions are
/// checkpointed and committed with the same processor and producer.
struct Work {
    proc: Processor,
    out: KafkaOutput,
    /// Assigned topic-partitions: next offset to read (what a commit
    /// covers) and activity.
    parts: Partitions,
    /// Checkpoints, when the rule set has correlation state.
    state: Option<StateTopic>,
    /// Where each partition resumes: the restored checkpoint's offsets.
    resume: BTreeMap<Tp, i64>,
    /// Partitions assigned (true) and revoked (false) since the loop looked.
    changes: Vec<(Tp, bool)>,
    /// A commit that failed inside the callback, for the loop to report.
    failed: Option<SourceError>,
    /// Periodic commit points waiting for their output (then their
    /// checkpoint) to be acknowledged, oldest first ([`Work::commit_point`]).
    pending: VecDeque<PendingCommit>,
    commits: u64,
    /// Messages processed since the last commit.
    dirty: bool,
    /// Output counters (alerts, dead letters) as of the last commit.
    committed_output: (u64, u64),
    /// Partitions whose fetch position reached their end (librdkafka
    /// statistics): only these may be marked idle.
    caught_up: BTreeSet<Tp>,
    timeout: Duration,
}

/// A periodic commit point of the at-least-once mode, taken without waiting:
/// its output epoch, the state encoded then and the offsets it covers.
struct PendingCommit {
    epoch: u64,
    /// The checkpoint, until it is sent (after the epoch's acknowledgement).
    state: Option<Vec<u8>>,
    offsets: BTreeMap<Tp, i64>,
    /// The checkpoint (if any) has been sent; waiting for its acknowledgement.
    saved: bool,
    taken: Instant,
}

/// Commit points waiting at once; at this many the next one is skipped (the
/// broker is not acknowledging: nothing more is committed until it does).
const MAX_PENDING: usize = EPOCHS - 2;

impl Work {
    /// The periodic commit point of the at-least-once mode, without stalling
    /// the loop (a synchronous one waited for two round trips of
    /// acknowledgements: 30–100 ms of reading nothing every second,
    /// benches/README.md "Latency"). Same order as [`Work::commit`], driven by
    /// [`Work::drive_commits`]: the output emitted up to here is
    /// acknowledged → the checkpoint taken here is sent and acknowledged →
    /// the offsets are committed. Returns false when too many commit points
    /// are still waiting (nothing is taken; the caller reports it).
    fn commit_point(&mut self) -> Result<bool, SourceError> {
        if self.pending.len() >= MAX_PENDING {
            return Ok(false);
        }
        let state = self.proc_state()?;
        let epoch = self.out.close_epoch(self.timeout)?;
        self.pending.push_back(PendingCommit {
            epoch,
            state,
            offsets: self.parts.offsets(),
            saved: false,
            taken: Instant::now(),
        });
        self.dirty = false;
        self.committed_output = (self.out.alerts, self.out.dead_letters);
        Ok(true)
    }

    /// Moves waiting commit points on as their output is acknowledged;
    /// returns how many were committed. Cheap when nothing is waiting.
    fn drive_commits(&mut self, consumer: &BaseConsumer<Context>) -> Result<usize, SourceError> {
        if self.pending.is_empty() {
            return Ok(0);
        }
        self.out.delivery_errors()?;
        let mut done = 0;
        while let Some(front) = self.pending.front_mut() {
            if !front.saved {
                if !self.out.epoch_acknowledged(front.epoch) {
                    break;
                }
                if let (Some(bytes), Some(state)) = (front.state.take(), &mut self.state) {
                    let size = state.save(&self.out, &front.offsets, bytes)?;
                    tracing::debug!(bytes = size, topic = state.topic(), "checkpoint written");
                }
                front.saved = true;
            }
            if !self.out.checkpoint_acknowledged() {
                break;
            }
            let tpl = offsets_tpl(&front.offsets);
            if tpl.count() > 0 {
                consumer.commit(&tpl, CommitMode::Async).map_err(SourceError::Commit)?;
            }
            if let Some(m) = self.proc.metrics() {
                m.commit_done(front.taken.elapsed());
            }
            self.commits += 1;
            self.pending.pop_front();
            done += 1;
        }
        Ok(done)
    }

    /// The commit point, in this order: apply what the watermark passed and
    /// emit it, checkpoint the state with the offsets it covers, make all of
    /// it durable (flush, or the transaction commit that also commits the
    /// offsets), and only then commit the offsets.
    /// `mode`: periodic commits are asynchronous (a commit that cannot reach
    /// the coordinator must not stall the loop; the checkpoint, not the
    /// committed offset, is where a restart resumes); revoke and shutdown
    /// commits wait for the broker's answer.
    fn commit(
        &mut self,
        consumer: &BaseConsumer<Context>,
        timeout: Duration,
        mode: CommitMode,
    ) -> Result<(), SourceError> {
        let started = std::time::Instant::now();
        // Waiting periodic commit points are superseded: this one covers
        // everything they did (its flush waits for all their output).
        self.pending.clear();
        if self.out.is_transactional() {
            self.checkpoint()?;
            let group = consumer.group_metadata().ok_or(SourceError::NoGroupMetadata)?;
            self.out
                .commit_transaction(&offsets_tpl(&self.parts.offsets()), &group, timeout)?;
        } else {
            // Output first, then the checkpoint that claims it was written:
            // a checkpoint never becomes durable ahead of the alerts it covers.
            let pipeline = self.proc_state()?;
            self.out.flush(timeout)?;
            if let Some(bytes) = pipeline {
                self.save(bytes)?;
                self.out.flush(timeout)?;
            }
            let tpl = offsets_tpl(&self.parts.offsets());
            if tpl.count() > 0 {
                consumer.commit(&tpl, mode).map_err(SourceError::Commit)?;
            }
        }
        if let Some(m) = self.proc.metrics() {
            m.commit_done(started.elapsed());
        }
        self.commits += 1;
        self.dirty = false;
        self.committed_output = (self.out.alerts, self.out.dead_letters);
        Ok(())
    }

    /// Messages read or output emitted (a watermark-driven firing) since the last commit.
    fn needs_commit(&self) -> bool {
        self.dirty || (self.out.alerts, self.out.dead_letters) != self.committed_output
    }

    /// Applies what the watermark passed, emits it, and encodes the state
    /// (when there is correlation state to keep).
    fn proc_state(&mut self) -> Result<Option<Vec<u8>>, SourceError> {
        if self.state.is_some() {
            let started = Instant::now();
            let bytes = self.proc.checkpoint(&mut self.out)?;
            if let Some(m) = self.proc.metrics() {
                m.checkpoint_taken(started.elapsed());
            }
            Ok(Some(bytes))
        } else {
            self.proc.flush(&mut self.out)?;
            Ok(None)
        }
    }

    fn save(&mut self, bytes: Vec<u8>) -> Result<(), SourceError> {
        if let Some(state) = &mut self.state {
            let size = state.save(&self.out, &self.parts.offsets(), bytes)?;
            tracing::debug!(bytes = size, topic = state.topic(), "checkpoint written");
        }
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<(), SourceError> {
        match self.proc_state()? {
            Some(bytes) => self.save(bytes),
            None => Ok(()),
        }
    }
}

fn offsets_tpl(offsets: &BTreeMap<Tp, i64>) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), next) in offsets {
        let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(*next));
    }
    tpl
}

/// Starts assigned partitions at the restored checkpoint's offsets, and
/// commits the work of revoked partitions before they go to another member.
struct Context {
    work: Arc<Mutex<Work>>,
    metrics: Option<Arc<Metrics>>,
}

impl ClientContext for Context {
    /// librdkafka statistics (every second): which assigned partitions are
    /// caught up (may go idle), and consumer lag per partition for metrics.
    fn stats(&self, statistics: rdkafka::Statistics) {
        let mut caught_up = BTreeSet::new();
        let mut lag = BTreeMap::new();
        for (topic, t) in &statistics.topics {
            for (&partition, p) in &t.partitions {
                if partition < 0 || !p.desired {
                    continue;
                }
                let end = if p.ls_offset >= 0 { p.ls_offset } else { p.hi_offset };
                if end < 0 {
                    continue;
                }
                // Caught up: the application received everything up to the
                // end, or nothing was fetched and the fetch position is at
                // the end (fetched messages may wait in the consumer queue,
                // so the fetch position alone says nothing).
                let delivered_all = p.app_offset >= 0 && p.app_offset >= end;
                let nothing_to_deliver = p.app_offset < 0 && p.rxmsgs == 0 && p.next_offset >= end;
                if delivered_all || nothing_to_deliver {
                    caught_up.insert((topic.clone(), partition));
                }
                let at = [p.app_offset, p.committed_offset, p.next_offset]
                    .into_iter()
                    .find(|&o| o >= 0);
                if let Some(at) = at {
                    lag.insert((topic.clone(), partition), (end - at).max(0));
                }
            }
        }
        lock(&self.work).caught_up = caught_up;
        if let Some(m) = &self.metrics {
            m.set_lag(lag);
        }
    }
}

impl ConsumerContext for Context {
    fn commit_callback(&self, result: rdkafka::error::KafkaResult<()>, offsets: &TopicPartitionList) {
        if let Err(e) = result {
            tracing::warn!(error = %e, partitions = offsets.count(), "offset commit failed; it is retried at the next commit point");
        }
    }

    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        let cooperative = matches!(consumer.rebalance_protocol(), RebalanceProtocol::Cooperative);
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.assigned(tpl);
                if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.revoked(consumer, tpl);
                if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                }
            }
            other => {
                tracing::error!(error = ?other, "rebalance failed");
                consumer.unassign()
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "applying the rebalance");
        }
    }
}

impl Context {
    fn assigned(&self, tpl: &mut TopicPartitionList) {
        let mut w = lock(&self.work);
        let parts: Vec<Tp> = tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_string(), e.partition()))
            .collect();
        for tp in parts {
            let i = w.parts.index(&tp.0, tp.1);
            if let Some(&next) = w.resume.get(&tp) {
                match tpl.set_partition_offset(&tp.0, tp.1, Offset::Offset(next)) {
                    Ok(()) => {
                        w.parts.get_mut(i).next = Some(next);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, topic = %tp.0, partition = tp.1, "resuming at the checkpoint")
                    }
                }
            }
            w.changes.push((tp, true));
        }
    }

    fn revoked(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let mut w = lock(&self.work);
        let revoked: Vec<Tp> = tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_string(), e.partition()))
            .collect();
        if consumer.assignment_lost() {
            // The session expired (broker unreachable): the partitions may
            // already belong to another member; committing would be wrong.
            tracing::warn!(
                partitions = revoked.len(),
                "assignment lost (group session expired); rejoining, work since the last commit will be replayed"
            );
        } else if w.dirty && revoked.iter().any(|tp| w.parts.has_offset(&tp.0, tp.1)) {
            let timeout = w.timeout;
            match w.commit(consumer, timeout, CommitMode::Sync) {
                Ok(()) => tracing::info!(partitions = revoked.len(), "committed revoked partitions"),
                Err(e) if w.out.is_transactional() => {
                    tracing::error!(error = %e, "transaction for revoked partitions failed");
                    w.failed.get_or_insert(e);
                }
                Err(e) => tracing::warn!(error = %e, "commit of revoked partitions failed; they will be replayed"),
            }
        }
        for tp in revoked {
            w.parts.remove(&tp.0, tp.1);
            w.changes.push((tp, false));
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
    /// With correlation rules, first restores the group's last checkpoint.
    /// Returns the pipeline's counters and the source's.
    pub fn run(
        &self,
        proc: Processor,
        out: KafkaOutput,
        stop: &AtomicBool,
    ) -> Result<(crate::pipeline::Stats, SourceStats), SourceError> {
        let work = Arc::new(Mutex::new(self.start(proc, out)?));
        let consumer = self.consumer(work.clone())?;
        let mut stats = SourceStats::default();
        let mut last_commit = Instant::now();
        let mut last_sweep = Instant::now();
        let mut remaining = self.stop_at.clone();
        let mut errors = ErrorLog::default();
        let mut unavailable: Option<Instant> = None;
        while !stop.load(Ordering::Relaxed) {
            if remaining.as_ref().is_some_and(BTreeMap::is_empty) {
                break;
            }
            let polled = consumer.poll(Duration::from_millis(100));
            let mut w = lock(&work);
            if let Some(e) = w.failed.take() {
                return Err(e);
            }
            let assigned = track_assignment(&mut w);
            if let Some(r) = remaining.as_mut() {
                skip_consumed(&consumer, &assigned, &w.resume, r);
            }
            match polled {
                Some(Ok(msg)) => {
                    if errors.recovered() {
                        if let Some(m) = w.proc.metrics() {
                            m.set_broker_ok(true);
                        }
                    }
                    let i = self.process(&mut w, &msg)?;
                    stats.messages += 1;
                    if let Some(r) = remaining.as_mut() {
                        let p = w.parts.get_mut(i);
                        let end = match p.end {
                            Some(end) => end,
                            None => *p.end.insert(r.get(&p.tp()).copied().unwrap_or(i64::MAX)),
                        };
                        if msg.offset() + 1 >= end {
                            r.remove(&p.tp());
                        }
                    }
                }
                // librdkafka reconnects by itself (with backoff); errors here
                // report, they do not stop anything. Logged at most every few
                // seconds with how many were folded, never one line each.
                Some(Err(e)) => {
                    if let Some(m) = w.proc.metrics() {
                        m.set_broker_ok(false);
                    }
                    drop(w);
                    errors.report(&e);
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                // A lull ends a batch: what the watermark has passed fires now,
                // not at the next commit.
                None => {
                    let Work { proc, out, .. } = &mut *w;
                    proc.flush(out)?;
                }
            }
            // One clock read per message, for the sweep and the commit point.
            let now = Instant::now();
            if now.duration_since(last_sweep) >= SWEEP_EVERY {
                last_sweep = now;
                self.sweep_idle(&mut w, now);
            }
            if let Some(detector) = self.rule_updates.take() {
                swap_rules(&mut w, detector)?;
            }
            // Nothing read and nothing emitted since the last commit: no
            // checkpoint or transaction to write (an idle stream costs nothing).
            if w.drive_commits(&consumer)? > 0 && unavailable.take().is_some() {
                tracing::info!("broker reachable again; output acknowledged and offsets committed");
            }
            if now.duration_since(last_commit) >= self.commit_interval && w.needs_commit() {
                if w.out.is_transactional() {
                    let timeout = self.commit_interval.max(Duration::from_secs(10));
                    w.commit(&consumer, timeout, CommitMode::Async)?;
                } else if !w.commit_point()? && unavailable.is_none() {
                    // The broker is unreachable: the producer keeps retrying
                    // (no message timeout); nothing is committed until it is back.
                    tracing::warn!(
                        waiting = MAX_PENDING,
                        "output not acknowledged (broker unreachable?); offsets not committed, retrying"
                    );
                    unavailable = Some(Instant::now());
                }
                last_commit = Instant::now();
            }
        }
        self.stop(&consumer, &work)?;
        consumer.unsubscribe();
        let w = lock(&work);
        stats.commits = w.commits;
        Ok((w.proc.stats().clone(), stats))
    }

    /// Restores the group's last checkpoint (when there is correlation state).
    fn start(&self, mut proc: Processor, out: KafkaOutput) -> Result<Work, SourceError> {
        proc.set_streaming(self.stop_at.is_none());
        let mut resume = BTreeMap::new();
        let mut state = None;
        if proc.has_state() {
            let mut topic = StateTopic::new(&self.state_topic, &self.group_id);
            if let Some(cp) = topic.load(&self.client)? {
                let restored = proc.restore(&cp.pipeline)?;
                tracing::info!(
                    groups = restored.groups,
                    pending_hits = restored.pending_hits,
                    dropped_rules = ?restored.dropped_rules,
                    partitions = cp.offsets.len(),
                    "correlation state restored from the last checkpoint"
                );
                resume = cp.offsets.into_iter().map(|(t, p, next)| ((t, p), next)).collect();
            }
            state = Some(topic);
        }
        Ok(Work {
            proc,
            out,
            parts: Partitions::default(),
            state,
            resume,
            changes: Vec::new(),
            failed: None,
            pending: VecDeque::new(),
            commits: 0,
            dirty: false,
            committed_output: (0, 0),
            caught_up: BTreeSet::new(),
            timeout: self.shutdown_timeout,
        })
    }

    /// One message through the pipeline; returns its partition's index.
    /// No allocation of its own: the partition table shares the topic name.
    fn process(&self, w: &mut Work, msg: &BorrowedMessage<'_>) -> Result<usize, SourceError> {
        let i = w.parts.index(msg.topic(), msg.partition());
        let woke = w.parts.received(i, msg.offset()) == Seen::Woke;
        let pos = w.parts.get(i).position(msg.offset());
        if woke {
            w.proc.set_idle(&pos, false);
        }
        let payload = msg.payload().unwrap_or_default();
        let transport_ns = msg.timestamp().to_millis().map(|ms| ms as i128 * 1_000_000);
        let Work { proc, out, .. } = w;
        proc.process(payload, payload.len(), pos, transport_ns, out)?;
        w.dirty = true;
        Ok(i)
    }

    /// Shutdown or end of replay: emit what is due, checkpoint, commit.
    fn stop(&self, consumer: &BaseConsumer<Context>, work: &Mutex<Work>) -> Result<(), SourceError> {
        let mut w = lock(work);
        if self.stop_at.is_some() {
            // The checkpoint is taken before end of input flushes every
            // window, so it never claims the watermark reached the end of time.
            w.commit(consumer, self.shutdown_timeout, CommitMode::Sync)?;
            let Work { proc, out, .. } = &mut *w;
            proc.finish(out)?;
            if out.is_transactional() {
                let group = consumer.group_metadata().ok_or(SourceError::NoGroupMetadata)?;
                out.commit_transaction(&TopicPartitionList::new(), &group, self.shutdown_timeout)?;
            } else {
                out.flush(self.shutdown_timeout)?;
            }
            return Ok(());
        }
        w.commit(consumer, self.shutdown_timeout, CommitMode::Sync)
    }

    fn consumer(&self, work: Arc<Mutex<Work>>) -> Result<BaseConsumer<Context>, SourceError> {
        let mut c = self.client.clone();
        if c.get("auto.offset.reset").is_none() {
            c.set("auto.offset.reset", "earliest");
        }
        c.set("group.id", &self.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        // librdkafka waits this long to fetch again once its local queue is
        // full (default 1 s): the engine drains the queue far sooner and then
        // idled (benches/README.md, "What bounds the ratio").
        if c.get("fetch.queue.backoff.ms").is_none() {
            c.set("fetch.queue.backoff.ms", "20");
        }
        let metrics = {
            let w = lock(&work);
            if w.out.is_transactional() {
                c.set("isolation.level", "read_committed");
            }
            w.proc.metrics()
        };
        if c.get("statistics.interval.ms").is_none() {
            c.set("statistics.interval.ms", "1000");
        }
        let consumer: BaseConsumer<Context> = c
            .create_with_context(Context { work, metrics })
            .map_err(SourceError::Create)?;
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(|source| SourceError::Subscribe {
            topics: self.topics.clone(),
            source,
        })?;
        Ok(consumer)
    }

    /// Partitions caught up and silent for `idle_timeout` stop holding the
    /// watermark back ([`Partitions::sweep`]).
    fn sweep_idle(&self, w: &mut Work, now: Instant) {
        let Work {
            parts, proc, caught_up, ..
        } = w;
        for p in parts.sweep(now, self.idle_timeout, caught_up) {
            proc.set_idle(&p.position(0), true);
        }
    }
}

/// Swaps in a reloaded rule set; the partitions assigned now hold the
/// watermark again from this moment (the restored state starts them idle).
fn swap_rules(w: &mut Work, detector: Arc<Detector>) -> Result<(), SourceError> {
    let Work { proc, out, .. } = w;
    let metrics = proc.metrics();
    match proc.reload(detector, out) {
        Ok(restored) => {
            tracing::info!(
                groups_kept = restored.groups,
                state_dropped_for = ?restored.dropped_rules,
                "rules reloaded"
            );
            metrics.inspect(|m| m.reloaded(true));
        }
        Err(e) => return Err(e.into()),
    }
    let Work { parts, proc, .. } = w;
    for p in parts.iter() {
        let pos = p.position(0);
        proc.partition(&pos);
        proc.set_idle(&pos, false);
    }
    parts.reset_activity(Instant::now());
    Ok(())
}

/// An assigned partition holds the watermark back from the start (until it
/// delivers or goes idle), so events of a partition that is slow to deliver
/// are not late merely because another partition came first. A revoked one
/// stops holding it. Returns the partitions newly assigned.
fn track_assignment(w: &mut Work) -> Vec<Tp> {
    let changes = std::mem::take(&mut w.changes);
    let mut new = Vec::new();
    for ((topic, partition), assigned) in changes {
        let pos = Position::Kafka {
            topic: topic.as_str().into(),
            partition,
            offset: 0,
        };
        w.proc.partition(&pos);
        w.proc.set_idle(&pos, !assigned);
        if assigned {
            new.push((topic, partition));
        }
    }
    new
}

/// Replay: a partition whose group already committed its end offset (a
/// replay resumed after an earlier run) delivers nothing more, so it is not
/// waited for; otherwise the replay would never end.
fn skip_consumed(
    consumer: &BaseConsumer<Context>,
    assigned: &[Tp],
    resume: &BTreeMap<Tp, i64>,
    remaining: &mut BTreeMap<Tp, i64>,
) {
    // Only when the assignment changed (not on every poll: a profile showed it).
    if assigned.is_empty() {
        return;
    }
    remaining.retain(|tp, end| resume.get(tp).is_none_or(|next| next < end));
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

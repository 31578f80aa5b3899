//! Kafka sink: alerts and dead letters to their topics through one
//! idempotent producer.
//!
//! Alerts are keyed by their group (rule id and group-by values), so one
//! entity's alerts land in one partition and keep their order. Dead letters
//! carry the original record bytes as value and the reason, detail and input
//! position as headers, so a consumer can fix and replay them unchanged.
//!
//! Delivery is asynchronous; [`KafkaOutput::flush`] waits for every message
//! sent so far to be acknowledged (or failed) — the source commits input
//! offsets only after it succeeds (at-least-once). In exactly-once mode the
//! producer is transactional: output and consumed offsets commit together in
//! [`KafkaOutput::commit_transaction`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, TopicPartitionList};

use super::{DeadLetter, Output};
use crate::alert::format::AlertRenderer;
use crate::alert::Alert;
use crate::event::Position;

/// Output epochs tracked at once (a ring of in-flight counters): the source
/// keeps fewer commit points than this waiting for acknowledgement.
pub const EPOCHS: usize = 8;

/// The counter slot of checkpoint records (state topic), apart from output.
const STATE_SLOT: usize = EPOCHS;

/// Counts failed deliveries (the first error is kept for the report) and
/// messages in flight per output epoch and for checkpoints: a commit point
/// learns that everything before it is acknowledged without waiting for it.
#[derive(Default)]
pub struct Deliveries {
    failed: Mutex<(u64, Option<String>)>,
    in_flight: [AtomicU64; EPOCHS + 1],
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    /// The counter slot of the message ([`KafkaOutput::close_epoch`]).
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, slot: usize) {
        if let Err((e, _)) = result {
            let mut f = self.failed.lock().unwrap_or_else(|p| p.into_inner());
            f.0 += 1;
            f.1.get_or_insert_with(|| e.to_string());
        }
        if let Some(n) = self.in_flight.get(slot) {
            n.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Why output could not be confirmed.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("creating the Kafka producer: {0}")]
    Create(KafkaError),
    #[error("waiting for the broker to acknowledge output: {0}")]
    Flush(KafkaError),
    #[error("{count} message(s) could not be delivered (first error: {first})")]
    Delivery { count: u64, first: String },
    #[error("Kafka transaction ({step}): {source}")]
    Transaction { step: &'static str, source: KafkaError },
}

pub struct KafkaOutput {
    producer: ThreadedProducer<Deliveries>,
    /// Exactly-once: a transaction is always open; commits close it and open the next.
    transactional: bool,
    alerts_topic: String,
    dead_letter_topic: String,
    buf: Vec<u8>,
    /// Format (and signing) of alert messages: unsigned JSON unless [`KafkaOutput::with_renderer`].
    renderer: AlertRenderer,
    key: String,
    /// Output sent now belongs to this epoch (its slot: `epoch % EPOCHS`).
    epoch: u64,
    pub alerts: u64,
    pub dead_letters: u64,
}

impl KafkaOutput {
    /// A producer over `client` (brokers and pass-through properties already
    /// set); idempotence is forced on so retries never duplicate output. With
    /// a `transactional_id` (exactly-once), transactions are initialised —
    /// fencing any earlier instance with the same id — and one is opened.
    pub fn new(
        client: &ClientConfig,
        alerts_topic: &str,
        dead_letter_topic: &str,
        transactional_id: Option<&str>,
        timeout: Duration,
    ) -> Result<Self, SinkError> {
        let mut c = client.clone();
        c.set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .set("compression.type", "lz4");
        match transactional_id {
            Some(id) => {
                c.set("transactional.id", id);
            }
            // At-least-once: an unreachable broker delays output, never drops
            // it — messages are retried until delivered (offsets wait).
            None if c.get("message.timeout.ms").is_none() => {
                c.set("message.timeout.ms", "0");
            }
            None => {}
        }
        let producer: ThreadedProducer<Deliveries> = c
            .create_with_context(Deliveries::default())
            .map_err(SinkError::Create)?;
        if transactional_id.is_some() {
            producer.init_transactions(timeout).map_err(txn("init"))?;
            producer.begin_transaction().map_err(txn("begin"))?;
        }
        Ok(KafkaOutput {
            producer,
            transactional: transactional_id.is_some(),
            alerts_topic: alerts_topic.to_string(),
            dead_letter_topic: dead_letter_topic.to_string(),
            buf: Vec::with_capacity(2048),
            renderer: AlertRenderer::default(),
            key: String::new(),
            epoch: 0,
            alerts: 0,
            dead_letters: 0,
        })
    }

    /// Alert messages in `renderer`'s format (`output.alerts_format`, `output.sign_key`).
    pub fn with_renderer(mut self, renderer: AlertRenderer) -> Self {
        self.renderer = renderer;
        self
    }

    pub fn is_transactional(&self) -> bool {
        self.transactional
    }

    /// Waits until everything sent so far is acknowledged; an error means
    /// some of it may not be on the broker, so input must not be committed.
    pub fn flush(&self, timeout: Duration) -> Result<(), SinkError> {
        // Not `ThreadedProducer::flush`: it polls the main queue for 100 ms
        // whose delivery reports the producer's own thread takes, so every
        // flush with anything in flight cost 100 ms (benches/README.md). The
        // polling thread serves the reports; wait for the queue to empty.
        let deadline = std::time::Instant::now() + timeout;
        while self.producer.in_flight_count() > 0 {
            if std::time::Instant::now() >= deadline {
                return Err(SinkError::Flush(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        self.delivery_errors()
    }

    /// Ends the current output epoch and returns it: what is sent from now
    /// on belongs to the next. [`KafkaOutput::epoch_acknowledged`] tells when
    /// the returned epoch's messages are all acknowledged. Waits (up to
    /// `timeout`) only if the next epoch's slot is still busy from
    /// [`EPOCHS`] epochs ago.
    pub fn close_epoch(&mut self, timeout: Duration) -> Result<u64, SinkError> {
        let closed = self.epoch;
        self.epoch += 1;
        let next = &self.producer.context().in_flight[self.slot()];
        let deadline = std::time::Instant::now() + timeout;
        while next.load(Ordering::Acquire) > 0 {
            if std::time::Instant::now() >= deadline {
                return Err(SinkError::Flush(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        Ok(closed)
    }

    /// Whether every message of `epoch` (one of the last [`EPOCHS`] closed)
    /// has been acknowledged or failed ([`KafkaOutput::delivery_errors`]).
    pub fn epoch_acknowledged(&self, epoch: u64) -> bool {
        self.producer.context().in_flight[(epoch % EPOCHS as u64) as usize].load(Ordering::Acquire) == 0
    }

    /// Whether every checkpoint record sent ([`KafkaOutput::send_keyed`]) has
    /// been acknowledged or failed.
    pub fn checkpoint_acknowledged(&self) -> bool {
        self.producer.context().in_flight[STATE_SLOT].load(Ordering::Acquire) == 0
    }

    fn slot(&self) -> usize {
        (self.epoch % EPOCHS as u64) as usize
    }

    /// Deliveries that failed since the last call: output that may not be on
    /// the broker, so input must not be committed past it.
    pub fn delivery_errors(&self) -> Result<(), SinkError> {
        let mut f = self.producer.context().failed.lock().unwrap_or_else(|p| p.into_inner());
        if f.0 > 0 {
            let (count, first) = std::mem::take(&mut *f);
            return Err(SinkError::Delivery {
                count,
                first: first.unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// Exactly-once: commits the open transaction — output sent so far and
    /// the consumer's `offsets` atomically — and opens the next one.
    pub fn commit_transaction(
        &self,
        offsets: &TopicPartitionList,
        group: &ConsumerGroupMetadata,
        timeout: Duration,
    ) -> Result<(), SinkError> {
        if offsets.count() > 0 {
            self.producer
                .send_offsets_to_transaction(offsets, group, timeout)
                .map_err(txn("send offsets"))?;
        }
        self.producer.commit_transaction(timeout).map_err(txn("commit"))?;
        self.delivery_errors()?;
        self.producer.begin_transaction().map_err(txn("begin"))
    }

    /// Sends a keyed record (a `None` payload is a tombstone) to partition 0
    /// of a topic: checkpoints ([`super::state`]), whose records must stay in
    /// order. In the open transaction if there is one.
    pub fn send_keyed(&self, topic: &str, key: &str, payload: Option<&[u8]>) -> std::io::Result<()> {
        let mut record = BaseRecord::with_opaque_to(topic, STATE_SLOT).key(key).partition(0);
        if let Some(p) = payload {
            record = record.payload(p);
        }
        self.send(record)
    }

    /// Sends, waiting for room when the producer's queue is full (backpressure).
    fn send(&self, record: BaseRecord<'_, str, [u8], usize>) -> std::io::Result<()> {
        let mut record = record;
        let mut waited = 0u32;
        let in_flight = &self.producer.context().in_flight[record.delivery_opaque.min(STATE_SLOT)];
        // Counted before it can be delivered; uncounted if never enqueued.
        in_flight.fetch_add(1, Ordering::AcqRel);
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    waited += 1;
                    // Every ~10 s of waiting: a stall is reported, never silent.
                    if waited.is_multiple_of(2000) {
                        tracing::warn!(
                            waited_ms = waited * 5,
                            "producer queue full: the broker is not acknowledging output"
                        );
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => {
                    in_flight.fetch_sub(1, Ordering::AcqRel);
                    return Err(std::io::Error::other(e));
                }
            }
        }
    }
}

impl Output for KafkaOutput {
    fn alert(&mut self, alert: &Alert) -> std::io::Result<()> {
        self.buf.clear();
        self.renderer.render(alert, &mut self.buf)?;
        self.key.clear();
        self.key.push_str(&alert.rule.id);
        for v in alert.group.values() {
            self.key.push('\u{1f}');
            self.key.push_str(v.as_str().unwrap_or_default());
        }
        let record = BaseRecord::with_opaque_to(&self.alerts_topic, self.slot())
            .key(self.key.as_str())
            .payload(&self.buf[..]);
        self.send(record)?;
        self.alerts += 1;
        Ok(())
    }

    fn dead_letter(&mut self, dl: &DeadLetter) -> std::io::Result<()> {
        let raw: Vec<u8> = match (&dl.raw, &dl.raw_base64) {
            (Some(t), _) => t.as_bytes().to_vec(),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD.decode(b).unwrap_or_default(),
            (None, None) => Vec::new(),
        };
        let mut headers = OwnedHeaders::new()
            .insert(header("tocsin.reason", dl.reason))
            .insert(header("tocsin.detail", &dl.detail));
        match &dl.source {
            Position::Kafka {
                topic,
                partition,
                offset,
            } => {
                headers = headers
                    .insert(header("tocsin.source.topic", topic))
                    .insert(header("tocsin.source.partition", &partition.to_string()))
                    .insert(header("tocsin.source.offset", &offset.to_string()));
            }
            Position::File { file, line } => {
                headers = headers
                    .insert(header("tocsin.source.file", file))
                    .insert(header("tocsin.source.line", &line.to_string()));
            }
        }
        let record = BaseRecord::with_opaque_to(&self.dead_letter_topic, self.slot())
            .payload(&raw[..])
            .headers(headers);
        self.send(record)?;
        self.dead_letters += 1;
        Ok(())
    }
}

fn txn(step: &'static str) -> impl Fn(KafkaError) -> SinkError {
    move |source| SinkError::Transaction { step, source }
}

fn header<'a>(key: &'a str, value: &'a str) -> Header<'a, &'a str> {
    Header {
        key,
        value: Some(value),
    }
}

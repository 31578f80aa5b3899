//! The embedded broker: librdkafka's in-process mock cluster, a real
//! Kafka-protocol listener on loopback. `tocsin run` with no brokers
//! configured starts one, creates the topics, produces the sample events to
//! their source topics, runs the same consumer → pipeline → producer path as
//! production, and reads the alerts back from the alert topic.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{
    BaseRecord, DefaultProducerContext, DeliveryResult, Producer, ProducerContext, ThreadedProducer,
};
use rdkafka::ClientContext;

/// Partitions of each topic the embedded broker creates.
pub const PARTITIONS: i32 = 2;

pub struct EmbeddedBroker {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl EmbeddedBroker {
    /// Starts a one-broker cluster with `topics` created ([`PARTITIONS`] each).
    pub fn start(topics: &[String]) -> Result<Self, KafkaError> {
        let cluster = MockCluster::new(1)?;
        for t in topics {
            cluster.create_topic(t, PARTITIONS, 1)?;
        }
        Ok(EmbeddedBroker { cluster })
    }

    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }
}

/// End offsets (exclusive) per topic-partition.
pub type EndOffsets = BTreeMap<(String, i32), i64>;

/// Records the end offset (last acknowledged + 1) of every partition written,
/// and the first delivery error.
#[derive(Default)]
struct Ends(Mutex<(EndOffsets, Option<String>)>);

impl ClientContext for Ends {}

impl ProducerContext for Ends {
    type DeliveryOpaque = ();

    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match r {
            Ok(m) => {
                let e = g.0.entry((m.topic().to_string(), m.partition())).or_insert(0);
                *e = (*e).max(m.offset() + 1);
            }
            Err((e, _)) => {
                g.1.get_or_insert_with(|| e.to_string());
            }
        }
    }
}

/// Produces `records` (topic, payload), record `i` to partition `i mod
/// PARTITIONS` so runs are repeatable, and returns each partition's end
/// offset as acknowledged by the broker.
pub fn produce(bootstrap: &str, records: &[(String, Vec<u8>)]) -> Result<EndOffsets, KafkaError> {
    let producer: ThreadedProducer<Ends> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .create_with_context(Ends::default())?;
    for (i, (topic, payload)) in records.iter().enumerate() {
        let mut rec = BaseRecord::to(topic).payload(payload).partition(i as i32 % PARTITIONS);
        loop {
            match producer.send::<(), _>(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull), r)) => {
                    rec = r;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(e),
            }
        }
    }
    producer.flush(Duration::from_secs(30))?;
    let g = producer.context().0.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = &g.1 {
        tracing::error!(error = %e, "an event was not delivered to the embedded broker");
        return Err(KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::Fail));
    }
    Ok(g.0.clone())
}

pub use super::topic::{read_all, Record};

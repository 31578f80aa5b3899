//! Reading a whole topic back: the checkpoint topic at start-up, and the
//! embedded default's alert and dead-letter topics.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

/// One record read back from a topic.
#[derive(Clone, Debug)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

/// Reads every record of `topic` up to its current end (all partitions),
/// in (partition, offset) order.
pub fn read_all(bootstrap: &str, topic: &str) -> Result<Vec<Record>, KafkaError> {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", bootstrap);
    read_topic(&client, topic)
}

/// [`read_all`] with a client's properties (TLS, SASL). Reads committed
/// records only; a partition ends at its end offset or at end-of-partition
/// (transaction markers sit between the last record and the end offset).
pub fn read_topic(client: &ClientConfig, topic: &str) -> Result<Vec<Record>, KafkaError> {
    let consumer: BaseConsumer = client
        .clone()
        .set("group.id", "tocsin-topic-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .create()?;
    let meta = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let mut tpl = TopicPartitionList::new();
    let mut ends = BTreeMap::new();
    for p in meta.topics().iter().flat_map(|t| t.partitions()) {
        let (_, high) = consumer.fetch_watermarks(topic, p.id(), Duration::from_secs(10))?;
        if high > 0 {
            tpl.add_partition_offset(topic, p.id(), Offset::Beginning)?;
            ends.insert(p.id(), high);
        }
    }
    consumer.assign(&tpl)?;
    let mut out = Vec::new();
    while !ends.is_empty() {
        match consumer.poll(Duration::from_secs(10)) {
            Some(Ok(m)) => {
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|x| {
                                let v = x.value.map(|v| String::from_utf8_lossy(v).into_owned());
                                (x.key.to_string(), v.unwrap_or_default())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(Record {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    payload: m.payload().unwrap_or_default().to_vec(),
                    headers,
                });
                if ends.get(&m.partition()).is_some_and(|&e| m.offset() + 1 >= e) {
                    ends.remove(&m.partition());
                }
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                ends.remove(&p);
            }
            Some(Err(e)) => return Err(e),
            None => break,
        }
    }
    out.sort_by_key(|r| (r.partition, r.offset));
    Ok(out)
}

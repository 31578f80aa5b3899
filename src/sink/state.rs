//! Checkpoints in a Kafka topic (`output.state_topic`, compacted), so a
//! restarted engine restores its correlation state before consuming.
//!
//! A checkpoint is the pipeline's encoded state plus the input offsets it
//! covers ([`Checkpoint`]). It may exceed a Kafka message, so it is written
//! as chunks keyed `<group>/<epoch>/<n>`, then a manifest keyed `<group>`
//! naming the epoch, chunk count, length and checksum, then tombstones for
//! the previous epoch's chunks. A reader takes the last manifest and its
//! chunks; a checkpoint interrupted before its manifest is never used, and
//! compaction keeps exactly the latest one.
//!
//! Written through the output producer: at-least-once, checkpoints are
//! acknowledged before offsets are committed; exactly-once, they are part of
//! the transaction that commits the offsets and the output.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hasher;

use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use serde::{Deserialize, Serialize};

use super::kafka::KafkaOutput;
use crate::correlate::Fnv64;

/// Largest chunk: well under Kafka's default 1 MB message limit.
const CHUNK: usize = 512 * 1024;

/// What one checkpoint holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Next offset to read per (topic, partition): where the state stops.
    pub offsets: Vec<(String, i32, i64)>,
    /// [`crate::pipeline::Processor::checkpoint`] bytes.
    pub pipeline: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    epoch: u64,
    chunks: u32,
    len: u64,
    checksum: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("reading checkpoint topic `{topic}`: {source}")]
    Read { topic: String, source: KafkaError },
    #[error("checkpoint topic `{topic}`: epoch {epoch} of group `{group}` is incomplete or corrupt ({what}); refusing to start without its state")]
    Corrupt {
        topic: String,
        group: String,
        epoch: u64,
        what: String,
    },
    #[error("writing checkpoint: {0}")]
    Write(#[from] std::io::Error),
    #[error("encoding checkpoint: {0}")]
    Encode(postcard::Error),
}

/// The checkpoints of one consumer group in the state topic.
pub struct StateTopic {
    topic: String,
    group: String,
    /// Epoch of the last checkpoint written or loaded, and its chunk count.
    last: Option<(u64, u32)>,
}

impl StateTopic {
    pub fn new(topic: &str, group: &str) -> StateTopic {
        StateTopic {
            topic: topic.to_string(),
            group: group.to_string(),
            last: None,
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The group's newest complete checkpoint, if any.
    pub fn load(&mut self, client: &ClientConfig) -> Result<Option<Checkpoint>, StateError> {
        let records = crate::source::topic::read_topic(client, &self.topic).map_err(|source| StateError::Read {
            topic: self.topic.clone(),
            source,
        })?;
        let mut manifest: Option<Manifest> = None;
        let mut chunks: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        for r in records {
            let Some(key) = r.key else { continue };
            if key == self.group.as_bytes() {
                manifest = postcard::from_bytes(&r.payload).ok();
            } else if key.starts_with(self.group.as_bytes()) && key.get(self.group.len()) == Some(&b'/') {
                if r.payload.is_empty() {
                    chunks.remove(&key);
                } else {
                    chunks.insert(key, r.payload);
                }
            }
        }
        let Some(m) = manifest else { return Ok(None) };
        let corrupt = |what: String| StateError::Corrupt {
            topic: self.topic.clone(),
            group: self.group.clone(),
            epoch: m.epoch,
            what,
        };
        let mut bytes = Vec::with_capacity(m.len as usize);
        for n in 0..m.chunks {
            let part = chunks
                .get(self.chunk_key(m.epoch, n).as_bytes())
                .ok_or_else(|| corrupt(format!("chunk {n} of {} missing", m.chunks)))?;
            bytes.extend_from_slice(part);
        }
        if bytes.len() as u64 != m.len || checksum(&bytes) != m.checksum {
            return Err(corrupt("length or checksum mismatch".into()));
        }
        let cp = postcard::from_bytes(&bytes).map_err(|e| corrupt(e.to_string()))?;
        self.last = Some((m.epoch, m.chunks));
        Ok(Some(cp))
    }

    /// Sends a checkpoint through `out` (chunks, manifest, then tombstones
    /// for the previous epoch). The caller makes it durable: a flush before
    /// committing offsets, or the transaction commit.
    pub fn save(
        &mut self,
        out: &KafkaOutput,
        offsets: &BTreeMap<(String, i32), i64>,
        pipeline: Vec<u8>,
    ) -> Result<usize, StateError> {
        let cp = Checkpoint {
            offsets: offsets.iter().map(|((t, p), o)| (t.clone(), *p, *o)).collect(),
            pipeline,
        };
        let bytes = postcard::to_allocvec(&cp).map_err(StateError::Encode)?;
        let epoch = self.last.map_or(1, |(e, _)| e + 1);
        let mut n = 0u32;
        for part in bytes.chunks(CHUNK) {
            out.send_keyed(&self.topic, &self.chunk_key(epoch, n), Some(part))?;
            n += 1;
        }
        let m = Manifest {
            epoch,
            chunks: n,
            len: bytes.len() as u64,
            checksum: checksum(&bytes),
        };
        let m = postcard::to_allocvec(&m).map_err(StateError::Encode)?;
        out.send_keyed(&self.topic, &self.group, Some(&m))?;
        if let Some((old, chunks)) = self.last {
            for i in 0..chunks {
                out.send_keyed(&self.topic, &self.chunk_key(old, i), None)?;
            }
        }
        self.last = Some((epoch, n));
        Ok(bytes.len())
    }

    fn chunk_key(&self, epoch: u64, n: u32) -> String {
        format!("{}/{epoch}/{n}", self.group)
    }
}

fn checksum(bytes: &[u8]) -> u64 {
    let mut h = Fnv64::default();
    h.write(bytes);
    h.finish()
}

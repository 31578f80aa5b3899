//! Pipeline checkpoints: what a restarted engine needs to continue exactly
//! where a commit left off — correlation state (open windows and hits the
//! watermark has not passed yet), each input partition's event-time progress
//! and position numbering, and open suppressed alerts.
//!
//! Single-event matching is stateless, so a pipeline without correlation
//! rules has nothing to checkpoint. The encoding is postcard behind a magic
//! and a version, so a checkpoint from another format is refused, never misread.

use serde::{Deserialize, Serialize};

use super::{OpenAlert, Processor};
use crate::correlate::image::{CorrelatorImage, ImageError, Restored};
use crate::event::Position;

const MAGIC: &[u8; 8] = b"TOCSINCK";
const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("encoding the checkpoint: {0}")]
    Encode(postcard::Error),
    #[error("emitting what the flush before a checkpoint fired: {0}")]
    Output(#[from] std::io::Error),
    #[error("decoding the checkpoint: {0}")]
    Decode(postcard::Error),
    #[error("not a Tocsin checkpoint of version {VERSION} (found {0})")]
    Version(String),
    #[error("a checkpoint can only be restored into a processor that has not processed anything yet")]
    NotFresh,
}

/// An input partition, independent of offsets (postcard needs a plain enum).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum PartitionId {
    File(String),
    Kafka(String, i32),
}

#[derive(Serialize, Deserialize)]
struct Image {
    /// In the writer's numbering (positions in correlation state refer to it).
    partitions: Vec<(PartitionId, i64)>,
    correlator: CorrelatorImage,
    /// Open suppressed alerts, with their correlation's rule key.
    open: Vec<(String, OpenAlert)>,
}

impl Processor {
    /// Whether there is state worth checkpointing (correlation rules exist).
    pub fn has_state(&self) -> bool {
        !self.core.detector.correlations.is_empty()
    }

    /// Flushes, then encodes the pipeline's state. Everything the flush emits
    /// goes to `out` first, so the checkpoint and the output agree.
    pub fn checkpoint(&mut self, out: &mut dyn crate::sink::Output) -> Result<Vec<u8>, CheckpointError> {
        self.flush(out)?;
        let core = &mut self.core;
        let max = core.watermarks.max_times();
        let partitions = core
            .partition_names
            .iter()
            .zip(max)
            .map(|(p, t)| (partition_id(p), t))
            .collect();
        let specs = &core.detector.correlations.specs;
        let open = core
            .open
            .iter()
            .map(|((corr, _), o)| (specs[*corr as usize].rule.key().to_string(), o.clone()))
            .collect();
        let image = Image {
            partitions,
            correlator: core.correlator.image()?,
            open,
        };
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        postcard::to_io(&image, &mut bytes).map_err(CheckpointError::Encode)?;
        Ok(bytes)
    }

    /// Restores a checkpoint into a processor that has not processed anything
    /// yet. Partitions come back idle (assignment or data wakes them).
    pub fn restore(&mut self, bytes: &[u8]) -> Result<Restored, CheckpointError> {
        let core = &mut self.core;
        if core.stats.records > 0 || !core.partition_names.is_empty() {
            return Err(CheckpointError::NotFresh);
        }
        let body = match bytes.split_at_checked(MAGIC.len() + 4) {
            Some((head, body)) if head[..8] == MAGIC[..] && head[8..] == VERSION.to_le_bytes() => body,
            Some((head, _)) => return Err(CheckpointError::Version(String::from_utf8_lossy(head).into_owned())),
            None => return Err(CheckpointError::Version("a truncated record".into())),
        };
        let image: Image = postcard::from_bytes(body).map_err(CheckpointError::Decode)?;
        for (id, max_time) in image.partitions {
            let p = core.partition(&position(id));
            core.watermarks.restore(p, max_time);
        }
        let restored = core.correlator.restore(image.correlator)?;
        let specs = &core.detector.correlations.specs;
        for (key, o) in image.open {
            // Suppression is only kept for a rule the correlator kept too.
            if restored.dropped_rules.contains(&key) {
                continue;
            }
            if let Some(corr) = specs.iter().position(|s| s.rule.key() == key) {
                let mut o = o;
                o.first.corr = corr as u32;
                core.open.insert((corr as u32, o.first.group.clone()), o);
            }
        }
        core.observe_watermark();
        Ok(restored)
    }
}

fn partition_id(p: &Position) -> PartitionId {
    match p {
        Position::File { file, .. } => PartitionId::File(file.clone()),
        Position::Kafka { topic, partition, .. } => PartitionId::Kafka(topic.to_string(), *partition),
    }
}

fn position(id: PartitionId) -> Position {
    match id {
        PartitionId::File(file) => Position::File { file, line: 0 },
        PartitionId::Kafka(topic, partition) => Position::Kafka {
            topic: topic.into(),
            partition,
            offset: 0,
        },
    }
}

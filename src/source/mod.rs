//! Sources: where raw records come from: files and stdin (NDJSON), a Kafka
//! consumer group, and the embedded broker that the default run feeds. Every source hands out the
//! raw bytes of one record and its [`crate::event::Position`].

pub mod embedded;
pub mod file;
pub mod kafka;
pub mod partitions;
pub mod topic;

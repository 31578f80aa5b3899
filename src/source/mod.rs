//! Sources: where raw records come from. Files and stdin (NDJSON) here; the
//! Kafka consumer joins with the Kafka pipeline. Every source hands out the
//! raw bytes of one record and its [`crate::event::Position`].

pub mod file;

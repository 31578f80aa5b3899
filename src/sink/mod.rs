//! Sinks: where alerts and dead letters go. File/stdout NDJSON here; Kafka
//! topics join them with the Kafka pipeline.

pub mod dead_letter;
pub mod file;
pub mod kafka;

pub use dead_letter::DeadLetter;
pub use file::{AlertWriter, NdjsonWriter};

use crate::alert::Alert;

/// Receives what the engine derives from each input record.
pub trait Output {
    fn alert(&mut self, alert: &Alert) -> std::io::Result<()>;
    fn dead_letter(&mut self, dl: &DeadLetter) -> std::io::Result<()>;
}

/// Collects everything in memory (tests, `tocsin test`, benchmarks).
#[derive(Default)]
pub struct Collect {
    pub alerts: Vec<Alert>,
    pub dead_letters: Vec<DeadLetter>,
}

impl Output for Collect {
    fn alert(&mut self, alert: &Alert) -> std::io::Result<()> {
        self.alerts.push(alert.clone());
        Ok(())
    }

    fn dead_letter(&mut self, dl: &DeadLetter) -> std::io::Result<()> {
        self.dead_letters.push(dl.clone());
        Ok(())
    }
}
pub mod state;

//! NDJSON output to a file or stdout.

use std::io::{self, Write};

use serde::Serialize;

use super::{DeadLetter, Output};
use crate::alert::Alert;

/// Writes one JSON object per line.
pub struct NdjsonWriter {
    out: Box<dyn Write + Send>,
}

impl NdjsonWriter {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        NdjsonWriter { out }
    }

    pub fn write<T: Serialize>(&mut self, record: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Alerts to one writer, dead letters to another.
pub struct FileOutput {
    pub alerts: NdjsonWriter,
    pub dead_letters: NdjsonWriter,
}

impl Output for FileOutput {
    fn alert(&mut self, alert: &Alert) -> io::Result<()> {
        self.alerts.write(alert)
    }

    fn dead_letter(&mut self, dl: &DeadLetter) -> io::Result<()> {
        self.dead_letters.write(dl)
    }
}

impl FileOutput {
    pub fn flush(&mut self) -> io::Result<()> {
        self.alerts.flush()?;
        self.dead_letters.flush()
    }
}

//! Output to a file or stdout: alerts one per line in the output's format
//! ([`AlertFormat`](crate::alert::format::AlertFormat)), dead letters as NDJSON.

use std::io::{self, Write};

use serde::Serialize;

use super::{DeadLetter, Output};
use crate::alert::format::AlertRenderer;
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

/// Writes one rendered alert per line (JSON unsigned: the same bytes as
/// [`NdjsonWriter`]), through one reused buffer.
pub struct AlertWriter {
    out: Box<dyn Write + Send>,
    renderer: AlertRenderer,
    buf: Vec<u8>,
}

impl AlertWriter {
    pub fn new(out: Box<dyn Write + Send>, renderer: AlertRenderer) -> Self {
        AlertWriter {
            out,
            renderer,
            buf: Vec::with_capacity(4096),
        }
    }

    pub fn write(&mut self, alert: &Alert) -> io::Result<()> {
        self.buf.clear();
        self.renderer.render(alert, &mut self.buf)?;
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Alerts to one writer, dead letters to another.
pub struct FileOutput {
    pub alerts: AlertWriter,
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

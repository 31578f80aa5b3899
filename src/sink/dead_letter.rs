//! Dead letters: input that could not be processed, with the reason and the
//! original bytes, so nothing read is ever lost silently.

use base64::Engine as _;
use serde::Serialize;

use crate::event::Position;

/// One dead-letter record. `reason` is a stable code (`invalid_json`,
/// `invalid_utf8`, `not_object`, `empty`, `too_large`, `no_event_time`, `late`).
#[derive(Clone, Debug, Serialize)]
pub struct DeadLetter {
    pub reason: &'static str,
    pub detail: String,
    pub source: Position,
    /// Byte length of the original record.
    pub raw_len: usize,
    /// The original bytes when they are valid UTF-8 …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// … otherwise base64 of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_base64: Option<String>,
}

impl DeadLetter {
    pub fn new(reason: &'static str, detail: impl Into<String>, source: Position, raw: &[u8]) -> Self {
        let (text, b64) = match std::str::from_utf8(raw) {
            Ok(s) => (Some(s.to_string()), None),
            Err(_) => (None, Some(base64::engine::general_purpose::STANDARD.encode(raw))),
        };
        DeadLetter {
            reason,
            detail: detail.into(),
            source,
            raw_len: raw.len(),
            raw: text,
            raw_base64: b64,
        }
    }

    /// Records the true length when only a prefix of the record was kept.
    pub fn with_len(mut self, len: usize) -> Self {
        self.raw_len = self.raw_len.max(len);
        self
    }
}

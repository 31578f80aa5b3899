//! JSON decoding with simd-json into a reusable tape.
//!
//! simd-json parses in place, so each payload is copied once into a padded
//! buffer owned by the decoder; the tape, the copy and simd-json's scratch
//! buffers are all reused, so decoding allocates nothing per event once the
//! buffers have grown to the largest event seen.

use simd_json::{fill_tape_padded, Buffers, ErrorType, Tape, INPUT_PADDING};

use crate::event::ValueRef;

/// Why a payload is not a decodable event. The reason codes are stable: they
/// label dead letters and metrics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty payload")]
    Empty,
    #[error("payload of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("payload is not valid UTF-8")]
    InvalidUtf8,
    #[error("invalid JSON at byte {index}: {reason}")]
    InvalidJson { index: usize, reason: String },
    #[error("JSON value is {found}, not an object")]
    NotObject { found: &'static str },
}

impl DecodeError {
    /// Short reason code for dead letters and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Empty => "empty",
            DecodeError::TooLarge { .. } => "too_large",
            DecodeError::InvalidUtf8 => "invalid_utf8",
            DecodeError::InvalidJson { .. } => "invalid_json",
            DecodeError::NotObject { .. } => "not_object",
        }
    }
}

/// A reusable decoder. One per thread.
pub struct JsonDecoder {
    input: Vec<u8>,
    buffers: Buffers,
    tape: Tape<'static>,
    max_bytes: usize,
}

/// A decoded event borrowing the decoder's buffers; hands them back on drop.
pub struct Decoded<'d> {
    tape: Tape<'d>,
    home: &'d mut Tape<'static>,
}

impl Decoded<'_> {
    /// The event's root object.
    pub fn root(&self) -> ValueRef<'_, '_> {
        // A successful decode always yields a non-empty tape whose root is an object.
        match ValueRef::root(&self.tape.0) {
            Some(v) => v,
            None => unreachable_root(),
        }
    }
}

fn unreachable_root() -> ValueRef<'static, 'static> {
    static EMPTY: [simd_json::Node<'static>; 1] = [simd_json::Node::Object { len: 0, count: 0 }];
    ValueRef::root(&EMPTY).expect("static empty object")
}

impl Drop for Decoded<'_> {
    fn drop(&mut self) {
        let tape = std::mem::replace(&mut self.tape, Tape(Vec::new()));
        *self.home = tape.reset();
    }
}

impl JsonDecoder {
    pub fn new(max_bytes: usize) -> Self {
        JsonDecoder {
            input: Vec::new(),
            buffers: Buffers::default(),
            tape: Tape(Vec::new()),
            max_bytes,
        }
    }

    /// Decodes one payload (a line without its newline, or a message value).
    pub fn decode(&mut self, raw: &[u8]) -> Result<Decoded<'_>, DecodeError> {
        let trimmed = trim_ascii(raw);
        if trimmed.is_empty() {
            return Err(DecodeError::Empty);
        }
        if raw.len() > self.max_bytes {
            return Err(DecodeError::TooLarge {
                size: raw.len(),
                limit: self.max_bytes,
            });
        }
        let len = trimmed.len();
        self.input.clear();
        self.input.extend_from_slice(trimmed);
        self.input.resize(len + INPUT_PADDING, 0);
        let JsonDecoder {
            input, buffers, tape, ..
        } = self;
        let mut fresh: Tape<'_> = std::mem::replace(tape, Tape(Vec::new())).reset();
        if let Err(e) = fill_tape_padded(input, len, buffers, &mut fresh) {
            *tape = fresh.reset();
            return Err(match e.error() {
                ErrorType::InvalidUtf8 => DecodeError::InvalidUtf8,
                other => {
                    if std::str::from_utf8(trimmed).is_err() {
                        DecodeError::InvalidUtf8
                    } else {
                        DecodeError::InvalidJson {
                            index: e.index(),
                            reason: format!("{other:?}"),
                        }
                    }
                }
            });
        }
        let decoded = Decoded {
            tape: fresh,
            home: tape,
        };
        match decoded.tape.0.first() {
            Some(simd_json::Node::Object { .. }) => Ok(decoded),
            other => Err(DecodeError::NotObject {
                found: match other {
                    Some(simd_json::Node::Array { .. }) => "an array",
                    Some(simd_json::Node::String(_)) => "a string",
                    Some(simd_json::Node::Static(simd_json::StaticNode::Null)) => "null",
                    Some(simd_json::Node::Static(simd_json::StaticNode::Bool(_))) => "a boolean",
                    _ => "a number",
                },
            }),
        }
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_reuses() {
        let mut d = JsonDecoder::new(1 << 20);
        for i in 0..3 {
            let line = format!(r#"{{"a":{{"b":{i}}},"s":"x\"y"}}"#);
            let ev = d.decode(line.as_bytes()).expect("valid");
            let root = ev.root();
            assert_eq!(
                root.lookup("a.b")
                    .and_then(|v| v.text())
                    .map(|t| t.as_str().to_string()),
                Some(i.to_string())
            );
            assert_eq!(root.get("s").map(|v| v.to_json()), Some(serde_json::json!("x\"y")));
        }
    }

    #[test]
    fn classifies_bad_payloads() {
        let mut d = JsonDecoder::new(64);
        let reason = |d: &mut JsonDecoder, b: &[u8]| d.decode(b).err().map(|e| e.reason());
        assert_eq!(reason(&mut d, b"   "), Some("empty"));
        assert_eq!(reason(&mut d, b"{\"a\":"), Some("invalid_json"));
        assert_eq!(reason(&mut d, b"[1,2]"), Some("not_object"));
        assert_eq!(reason(&mut d, b"\"s\""), Some("not_object"));
        assert_eq!(reason(&mut d, b"{\"a\":\"\xff\xfe\"}"), Some("invalid_utf8"));
        assert_eq!(reason(&mut d, &[b'{'; 100]), Some("too_large"));
        assert!(d.decode(b"{}").is_ok());
    }
}

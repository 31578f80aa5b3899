//! Decode: bytes → an event view and its event time.
pub mod extract;
pub mod json;
pub mod time;

pub use json::{DecodeError, Decoded, JsonDecoder};

//! Alert signing: tamper evidence for alerts on their way to a SIEM.
//!
//! With `output.sign_key` set, every alert carries a field `signature`: the
//! lowercase hex HMAC-SHA256, keyed with the UTF-8 bytes of the key, of the
//! alert's **canonical JSON** without the `signature` field. A consumer that
//! holds the key recomputes it ([`Signer::verify`], `tocsin verify-alert`).
//!
//! # Canonical JSON
//!
//! The canonical form of an alert is its JSON value (as Tocsin writes it,
//! minus the `signature` member) serialised as follows:
//!
//! - no whitespace anywhere (no spaces, no newlines, no trailing newline);
//! - object members sorted by key, keys compared as UTF-8 byte strings
//!   (which is Unicode code point order), at every depth; array elements in
//!   their order;
//! - strings in double quotes, with `"` → `\"`, `\` → `\\`, U+0008 → `\b`,
//!   U+0009 → `\t`, U+000A → `\n`, U+000C → `\f`, U+000D → `\r`, every other
//!   character below U+0020 → `\u00XX` (four lowercase hex digits), and every
//!   other character (`/` and all non-ASCII included) as its UTF-8 bytes;
//! - integers in plain decimal (`-12`, `0`, `18446744073709551615`); other
//!   numbers as the shortest decimal that reads back as the same IEEE-754
//!   double, as serde_json writes them: with a `.` or an exponent (`0.5`,
//!   `100000.0`, `1e+20`, `1.5e-7`, `-0.0`);
//! - `true`, `false`, `null`.
//!
//! The signature therefore covers every value of the alert, but not its
//! layout: a consumer that re-orders keys or re-indents the JSON does not
//! break it, any change to a key, a value or the structure does.
//!
//! Computing it costs a `serde_json::Value` of the alert per signed alert;
//! unsigned output does not pay it.

use std::io::{self, Write};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::Alert;

type HmacSha256 = Hmac<Sha256>;

/// The field that carries the signature.
pub const FIELD: &str = "signature";

/// Why an alert does not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    #[error("not a JSON object")]
    NotAnObject,
    #[error("no `signature` field")]
    Unsigned,
    #[error("`signature` is not 64 lowercase hex digits")]
    Malformed,
    #[error("signature does not match: the alert was changed or signed with another key")]
    Mismatch,
}

/// Why signing was impossible.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("output.sign_key is empty")]
    EmptyKey,
    #[error("serialising the alert: {0}")]
    Json(#[from] serde_json::Error),
}

/// An HMAC-SHA256 key, keyed once. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct Signer {
    mac: HmacSha256,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(***)")
    }
}

impl Signer {
    /// A signer keyed with the UTF-8 bytes of `key` (must be non-empty).
    pub fn new(key: &str) -> Result<Signer, SignError> {
        if key.is_empty() {
            return Err(SignError::EmptyKey);
        }
        // HMAC takes keys of any length: `new_from_slice` cannot fail.
        let mac = HmacSha256::new_from_slice(key.as_bytes()).map_err(|_| SignError::EmptyKey)?;
        Ok(Signer { mac })
    }

    /// The signature of `alert`, as 64 lowercase hex digits.
    pub fn sign(&self, alert: &Alert) -> Result<[u8; 64], SignError> {
        let v = serde_json::to_value(alert)?;
        Ok(self.sign_value(&v))
    }

    /// The signature of a JSON alert value (its `signature` member, if any, left out).
    pub fn sign_value(&self, alert: &Value) -> [u8; 64] {
        let mut w = MacWriter(self.mac.clone());
        // Writing into a MAC never fails.
        let _ = write_canonical(&mut w, alert, true);
        hex(&w.0.finalize().into_bytes())
    }

    /// Checks the `signature` field of a JSON alert (constant-time comparison).
    pub fn verify(&self, alert: &Value) -> Result<(), VerifyError> {
        let obj = alert.as_object().ok_or(VerifyError::NotAnObject)?;
        let sig = obj.get(FIELD).ok_or(VerifyError::Unsigned)?;
        let sig = sig.as_str().ok_or(VerifyError::Malformed)?;
        let raw = unhex(sig).ok_or(VerifyError::Malformed)?;
        let mut w = MacWriter(self.mac.clone());
        let _ = write_canonical(&mut w, alert, true);
        w.0.verify_slice(&raw).map_err(|_| VerifyError::Mismatch)
    }
}

/// Writes `v` in canonical form (see the module doc). With `top_level_unsigned`,
/// the root object's `signature` member is left out.
pub fn write_canonical<W: Write>(w: &mut W, v: &Value, top_level_unsigned: bool) -> io::Result<()> {
    match v {
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map
                .iter()
                .filter(|(k, _)| !(top_level_unsigned && k.as_str() == FIELD))
                .collect();
            members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            w.write_all(b"{")?;
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                serde_json::to_writer(&mut *w, k)?;
                w.write_all(b":")?;
                write_canonical(w, v, false)?;
            }
            w.write_all(b"}")
        }
        Value::Array(items) => {
            w.write_all(b"[")?;
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    w.write_all(b",")?;
                }
                write_canonical(w, v, false)?;
            }
            w.write_all(b"]")
        }
        scalar => Ok(serde_json::to_writer(w, scalar)?),
    }
}

/// The canonical JSON of `v` without its top-level `signature` (for tests and tools).
pub fn canonical(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = write_canonical(&mut out, v, true);
    out
}

struct MacWriter(HmacSha256);

impl Write for MacWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in bytes.iter().take(32).enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
    }
    out
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        // RFC 4231 test case 2, through the same MAC the signer uses.
        let mut m = HmacSha256::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        assert_eq!(
            std::str::from_utf8(&hex(&m.finalize().into_bytes())).unwrap(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn canonical_form_sorts_keys_at_every_depth_and_drops_top_signature() {
        let v: Value = serde_json::from_str(
            r#"{"b":1,"a":{"z":[3,{"y":"\n\u0001é/","x":null}],"signature":"kept"},"signature":"x","é":0.5,"Z":true}"#,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(canonical(&v)).unwrap(),
            r#"{"Z":true,"a":{"signature":"kept","z":[3,{"x":null,"y":"\n\u0001é/"}]},"b":1,"é":0.5}"#
        );
    }

    #[test]
    fn numbers_are_spelled_as_documented() {
        let spell = |v: Value| String::from_utf8(canonical(&v)).unwrap();
        assert_eq!(spell(json!(0.5)), "0.5");
        assert_eq!(spell(json!(100000.0)), "100000.0");
        assert_eq!(spell(json!(1e20)), "1e+20");
        assert_eq!(spell(json!(1.5e-7)), "1.5e-7");
        assert_eq!(spell(json!(-0.0)), "-0.0");
        assert_eq!(spell(json!(-12)), "-12");
        assert_eq!(spell(json!(u64::MAX)), "18446744073709551615");
    }

    #[test]
    fn numbers_round_trip_through_text() {
        for n in [
            json!(1e20),
            json!(1.5e-7),
            json!(100000.0),
            json!(-0.0),
            json!(u64::MAX),
            json!(-12),
        ] {
            let text = String::from_utf8(canonical(&n)).unwrap();
            let back: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(canonical(&back), text.as_bytes(), "{text}");
        }
    }

    #[test]
    fn verify_rejects_changes_and_malformed_signatures() {
        let s = Signer::new("k").unwrap();
        let mut v = json!({"alert_id": "a", "count": 1});
        let sig = s.sign_value(&v);
        v["signature"] = json!(std::str::from_utf8(&sig).unwrap());
        assert_eq!(s.verify(&v), Ok(()));
        assert_eq!(Signer::new("other").unwrap().verify(&v), Err(VerifyError::Mismatch));
        let mut changed = v.clone();
        changed["count"] = json!(2);
        assert_eq!(s.verify(&changed), Err(VerifyError::Mismatch));
        let mut bad = v.clone();
        bad["signature"] = json!("ABC");
        assert_eq!(s.verify(&bad), Err(VerifyError::Malformed));
        assert_eq!(s.verify(&json!({"alert_id": "a"})), Err(VerifyError::Unsigned));
        assert_eq!(s.verify(&json!([1])), Err(VerifyError::NotAnObject));
        assert!(matches!(Signer::new(""), Err(SignError::EmptyKey)));
        assert_eq!(format!("{s:?}"), "Signer(***)");
    }
}

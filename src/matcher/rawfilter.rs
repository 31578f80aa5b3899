//! Keyword prefilter on the raw record: keyword (field-less) rules search
//! every value of an event, so before walking them all the raw JSON is
//! searched once for the literals every eager keyword atom needs. Most records
//! contain none of them, and their values are never scanned.
//!
//! The search must never miss a value that a keyword matches (false positives
//! only cost a scan). A literal appears verbatim in the raw text when:
//!
//! - it is spelled as JSON spells it: `\` and `"` escaped (every encoder must),
//!   no control characters (their escapes vary);
//! - the record uses no optional escape, `\uXXXX` or `\/`, which an encoder
//!   may write for any character (a candidate is an escape only after an even
//!   number of backslashes: `\\u` is an escaped backslash, then `u`);
//! - case folds the same way: the matcher lowercases ASCII values byte by byte
//!   and non-ASCII ones with Unicode's `to_lowercase`, under which only two
//!   non-ASCII characters yield ASCII (U+0130 `İ` → `i̇`, U+212A Kelvin → `k`).
//!   Records holding either are scanned whatever the literals.
//!
//! Two searches, so that each gets SIMD Teddy candidates on 3-byte (literals)
//! or rare 2-byte (escapes) fingerprints: the literals in the raw text
//! ASCII-lowercased into a reused buffer, then the escapes and the two
//! characters in the raw text itself.

use aho_corasick::{AhoCorasick, Input, MatchKind};

use super::pattern::{GlobPart, Pred};

/// Optional escapes, then the UTF-8 of the characters that lowercase to ASCII.
const HAZARDS: [&str; 4] = ["\\u", "\\/", "\u{130}", "\u{212A}"];

pub struct RawFilter {
    literals: AhoCorasick,
    hazards: AhoCorasick,
}

impl RawFilter {
    /// A filter for `literals` (from [`json_literal`]); `None` if it cannot be built.
    pub fn new(literals: &[String]) -> Option<RawFilter> {
        let leftmost = |patterns: Vec<String>| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostFirst)
                .build(patterns)
                .ok()
        };
        Some(RawFilter {
            literals: leftmost(literals.iter().map(|l| l.to_ascii_lowercase()).collect())?,
            hazards: leftmost(HAZARDS.iter().map(|h| h.to_string()).collect())?,
        })
    }

    /// False only when no value of the record `raw` can contain a literal.
    /// `buf` is working memory.
    pub fn possible(&self, raw: &[u8], buf: &mut Vec<u8>) -> bool {
        buf.clear();
        buf.extend(raw.iter().map(u8::to_ascii_lowercase));
        self.literals.is_match(buf.as_slice()) || self.hazard(raw)
    }

    /// Whether `raw` holds an optional escape or a character that lowercases to ASCII.
    fn hazard(&self, raw: &[u8]) -> bool {
        let mut at = 0;
        while let Some(m) = self.hazards.find(Input::new(raw).range(at..)) {
            if m.pattern().as_usize() >= 2 || is_escape(raw, m.start()) {
                return true;
            }
            at = m.end();
        }
        false
    }
}

/// Whether the backslash at `at` starts an escape (is not itself escaped).
fn is_escape(text: &[u8], at: usize) -> bool {
    text[..at].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 0
}

/// A literal every value satisfying `pred` contains, spelled as it appears
/// in raw JSON (see the module documentation), or `None`.
pub fn json_literal(pred: &Pred) -> Option<String> {
    let Pred::Glob(g) = pred else { return None };
    let lit = g
        .parts
        .iter()
        .filter_map(|p| match p {
            GlobPart::Lit(l) => Some(l),
            _ => None,
        })
        .max_by_key(|l| l.len())?;
    let plain = |c: char| c.is_ascii() && !c.is_ascii_control();
    // Numbers are matched by their canonical text, which the raw JSON may
    // spell differently (`1.50`, `15e-1`): number-like literals cannot prefilter.
    let numeric = lit
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
    if lit.is_empty() || numeric || !lit.chars().all(plain) {
        return None;
    }
    Some(lit.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(literals: &[&str]) -> RawFilter {
        let lits: Vec<String> = literals.iter().map(|l| l.to_string()).collect();
        RawFilter::new(&lits).expect("builds")
    }

    fn possible(f: &RawFilter, raw: &str) -> bool {
        f.possible(raw.as_bytes(), &mut Vec::new())
    }

    #[test]
    fn escapes_are_told_from_escaped_backslashes() {
        let f = filter(&["zzz"]);
        assert!(!possible(&f, r#"{"f":"C:\\Users\\x"}"#));
        assert!(!possible(&f, r#"{"f":"\\\\u"}"#));
        assert!(!possible(&f, r#"{"f":"a\\/b"}"#));
        assert!(possible(&f, r#"{"f":"\u00e9"}"#));
        assert!(possible(&f, r#"{"f":"\\\u00e9"}"#));
        assert!(possible(&f, r#"{"f":"a\/b"}"#));
    }

    #[test]
    fn literals_are_found_in_any_case_and_inside_escape_candidates() {
        let f = filter(&[r"\\users", "users", "kiwi"]);
        assert!(possible(&f, r#"{"f":"C:\\USERS"}"#));
        assert!(possible(&f, r#"{"f":"x\\users"}"#));
        assert!(!possible(&f, r#"{"f":"C:\\Windows"}"#));
        let f = filter(&["users"]);
        assert!(possible(&f, r#"{"f":"C:\\Users"}"#));
    }

    #[test]
    fn characters_folding_to_ascii_make_any_record_possible() {
        let f = filter(&["kiwi"]);
        assert!(possible(&f, "{\"f\":\"\u{212A}iwi\"}"));
        assert!(possible(&f, "{\"f\":\"kiw\u{130}\"}"));
        assert!(!possible(&f, "{\"f\":\"k\u{e9}wi\"}"));
    }
}

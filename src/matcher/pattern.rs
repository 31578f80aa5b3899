//! Sigma value semantics: a field item's modifiers and values become
//! predicates on one event value.
//!
//! This is where every value modifier of the specification lives. Modifiers
//! apply left to right to a list of *variants* (one written value can become
//! several: `base64offset` gives three, `expand` one per placeholder value);
//! a value matches when any of its variants matches. The output is
//! independent of any index: [`super::index`] decides how to evaluate it fast,
//! and [`super::reference`] evaluates it naively, which is how the two are
//! checked against each other.

use std::collections::HashMap;
use std::net::IpAddr;

use base64::Engine as _;

use crate::rules::{FieldItem, Modifier, RuleErrorKind, SigmaString, StrPart, Value};

/// One part of a compiled glob.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GlobPart {
    /// Literal text (lowercased already when the glob is case-insensitive).
    Lit(String),
    /// `*`: any run of characters, newlines included.
    Star,
    /// `?`: exactly one character.
    One,
    /// One of `-`, `/`, en dash, em dash, horizontal bar (`windash`).
    Dash,
}

/// A wildcard pattern matched against a whole field value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Glob {
    pub parts: Vec<GlobPart>,
    /// Case-sensitive (`cased`). Otherwise literals are stored lowercased and
    /// the value is lowercased before matching.
    pub cased: bool,
}

/// The characters `windash` treats as interchangeable.
pub const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// A numeric comparison (`lt`, `lte`, `gt`, `gte`, or equality for time parts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cmp {
    Lt,
    Lte,
    Gt,
    Gte,
    Eq,
}

impl Cmp {
    pub fn holds(self, lhs: f64, rhs: f64) -> bool {
        match self {
            Cmp::Lt => lhs < rhs,
            Cmp::Lte => lhs <= rhs,
            Cmp::Gt => lhs > rhs,
            Cmp::Gte => lhs >= rhs,
            Cmp::Eq => lhs == rhs,
        }
    }
}

/// A calendar part of a timestamp (`minute` … `year` modifiers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// An IPv4 or IPv6 network (`cidr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = s.trim().split_once('/').unwrap_or((s.trim(), ""));
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if p.is_empty() { max } else { p.parse().ok()? };
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix as u32).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// How a field reference compares the two values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefMode {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

impl RefMode {
    /// Whether `value` relates to the referenced field's value `other`, case-folded unless `cased`.
    pub fn holds(self, value: &str, other: &str, cased: bool) -> bool {
        let (l, r) = (fold(value, cased), fold(other, cased));
        match self {
            RefMode::Equals => l == r,
            RefMode::Contains => l.contains(r.as_ref()),
            RefMode::StartsWith => l.starts_with(r.as_ref()),
            RefMode::EndsWith => l.ends_with(r.as_ref()),
        }
    }
}

/// Lowercases only when there is something to lowercase.
fn fold(t: &str, cased: bool) -> std::borrow::Cow<'_, str> {
    if cased || !t.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
        std::borrow::Cow::Borrowed(t)
    } else {
        std::borrow::Cow::Owned(t.to_lowercase())
    }
}

/// One test on one event value. A value of a rule becomes an OR of these.
#[derive(Clone, Debug, PartialEq)]
pub enum Pred {
    Glob(Glob),
    /// A regex in Rust syntax with its flags already inlined (`(?i)` …).
    Regex(String),
    Num(Cmp, f64),
    Time(TimePart, Cmp, f64),
    Cidr(Cidr),
    /// The value equals (or contains, …) the value of another field.
    FieldRef {
        field: String,
        mode: RefMode,
        cased: bool,
    },
}

/// What one field item tests.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemTest {
    /// `exists: true/false`.
    Exists(bool),
    /// `null`: the field is absent or null.
    Null,
    /// Values: each an OR of predicates; the values are AND'ed with `all`,
    /// else OR'ed. `negate` (`neq`) inverts the whole item.
    Values {
        values: Vec<Vec<Pred>>,
        all: bool,
        negate: bool,
    },
}

/// Placeholder values for `expand`, from the config (`[placeholders]`).
pub type Placeholders = HashMap<String, Vec<String>>;

type Variant = Vec<VPart>;

/// A variant under construction: literal bytes (encodings may leave UTF-8) or wildcards.
#[derive(Clone, Debug, PartialEq)]
enum VPart {
    Bytes(Vec<u8>),
    Star,
    One,
    Dash,
}

/// Compiles one field item into its test.
pub fn compile_item(item: &FieldItem, placeholders: &Placeholders) -> Result<ItemTest, RuleErrorKind> {
    if item.has(Modifier::Exists) {
        return match item.values.as_slice() {
            [Value::Bool { value, .. }] => Ok(ItemTest::Exists(*value)),
            _ => Err(RuleErrorKind::InvalidValue("`exists` takes a single boolean".into())),
        };
    }
    if matches!(item.values.as_slice(), [Value::Null]) {
        return Ok(ItemTest::Null);
    }
    let mut values = Vec::with_capacity(item.values.len());
    for v in &item.values {
        values.push(compile_value(item, v, placeholders)?);
    }
    Ok(ItemTest::Values {
        values,
        all: item.has(Modifier::All),
        negate: item.has(Modifier::Neq),
    })
}

fn compile_value(item: &FieldItem, v: &Value, ph: &Placeholders) -> Result<Vec<Pred>, RuleErrorKind> {
    let m = &item.modifiers;
    if let Some(cmp) = numeric_cmp(m) {
        let time = time_part(m);
        let n = number_of(v)?;
        return Ok(vec![match time {
            Some(t) => Pred::Time(t, cmp, n),
            None => Pred::Num(cmp, n),
        }]);
    }
    if let Some(t) = time_part(m) {
        return Ok(vec![Pred::Time(t, Cmp::Eq, number_of(v)?)]);
    }
    let text = raw_text(v)?;
    if m.contains(&Modifier::Re) {
        return Ok(vec![Pred::Regex(regex_source(&text, m))]);
    }
    if m.contains(&Modifier::Cidr) {
        let c = Cidr::parse(&text).ok_or_else(|| RuleErrorKind::BadCidr(text.clone()))?;
        return Ok(vec![Pred::Cidr(c)]);
    }
    let cased = m.contains(&Modifier::Cased);
    if m.contains(&Modifier::Fieldref) {
        let mode = if m.contains(&Modifier::Contains) {
            RefMode::Contains
        } else if m.contains(&Modifier::StartsWith) {
            RefMode::StartsWith
        } else if m.contains(&Modifier::EndsWith) {
            RefMode::EndsWith
        } else {
            RefMode::Equals
        };
        return Ok(vec![Pred::FieldRef {
            field: text,
            mode,
            cased,
        }]);
    }
    let variants = string_variants(v, m, ph)?;
    Ok(variants
        .into_iter()
        .map(|var| Pred::Glob(to_glob(var, cased)))
        .collect())
}

fn numeric_cmp(m: &[Modifier]) -> Option<Cmp> {
    m.iter().find_map(|m| match m {
        Modifier::Lt => Some(Cmp::Lt),
        Modifier::Lte => Some(Cmp::Lte),
        Modifier::Gt => Some(Cmp::Gt),
        Modifier::Gte => Some(Cmp::Gte),
        _ => None,
    })
}

fn time_part(m: &[Modifier]) -> Option<TimePart> {
    m.iter().find_map(|m| match m {
        Modifier::Minute => Some(TimePart::Minute),
        Modifier::Hour => Some(TimePart::Hour),
        Modifier::Day => Some(TimePart::Day),
        Modifier::Week => Some(TimePart::Week),
        Modifier::Month => Some(TimePart::Month),
        Modifier::Year => Some(TimePart::Year),
        _ => None,
    })
}

fn number_of(v: &Value) -> Result<f64, RuleErrorKind> {
    match v {
        Value::Number { value, .. } => Ok(*value),
        Value::String(s) => s
            .raw
            .trim()
            .parse()
            .map_err(|_| RuleErrorKind::InvalidValue(format!("`{s}` is not a number"))),
        other => Err(RuleErrorKind::InvalidValue(format!(
            "`{}` is not a number",
            other.text()
        ))),
    }
}

/// The value as written (regexes, CIDRs and field names are not escape-processed).
fn raw_text(v: &Value) -> Result<String, RuleErrorKind> {
    match v {
        Value::String(s) => Ok(s.raw.clone()),
        Value::Number { text, .. } | Value::Bool { text, .. } => Ok(text.clone()),
        Value::Null => Err(RuleErrorKind::InvalidValue("null is not allowed here".into())),
    }
}

/// Inlines the `re` sub-modifiers as regex flags.
fn regex_source(pattern: &str, m: &[Modifier]) -> String {
    let mut flags = String::new();
    for (modifier, flag) in [(Modifier::ReI, 'i'), (Modifier::ReM, 'm'), (Modifier::ReS, 's')] {
        if m.contains(&modifier) {
            flags.push(flag);
        }
    }
    if flags.is_empty() {
        pattern.to_string()
    } else {
        format!("(?{flags}){pattern}")
    }
}

/// Runs the string modifiers left to right over the value's variants.
fn string_variants(v: &Value, m: &[Modifier], ph: &Placeholders) -> Result<Vec<Variant>, RuleErrorKind> {
    let base: Variant = match v {
        Value::String(s) => from_sigma(s),
        Value::Number { text, .. } | Value::Bool { text, .. } => {
            vec![VPart::Bytes(text.as_bytes().to_vec())]
        }
        Value::Null => return Err(RuleErrorKind::InvalidValue("null inside a value list".into())),
    };
    let mut variants = vec![base];
    for modifier in m {
        variants = match modifier {
            Modifier::Expand => flat_map(variants, |v| expand(v, ph))?,
            Modifier::Windash => variants.into_iter().map(windash).collect(),
            Modifier::Utf16le | Modifier::Wide => map_bytes(variants, |s| utf16(s, false, false))?,
            Modifier::Utf16be => map_bytes(variants, |s| utf16(s, true, false))?,
            Modifier::Utf16 => map_bytes(variants, |s| utf16(s, false, true))?,
            Modifier::Base64 => map_bytes(variants, |b| {
                base64::engine::general_purpose::STANDARD.encode(b).into_bytes()
            })?,
            Modifier::Base64Offset => flat_map(variants, |v| Ok(base64_offsets(&literal_bytes(&v)?)))?,
            Modifier::Contains => wrap(variants, true, true),
            Modifier::StartsWith => wrap(variants, false, true),
            Modifier::EndsWith => wrap(variants, true, false),
            _ => variants,
        };
    }
    Ok(variants)
}

fn from_sigma(s: &SigmaString) -> Variant {
    s.parts
        .iter()
        .map(|p| match p {
            StrPart::Literal(l) => VPart::Bytes(l.as_bytes().to_vec()),
            StrPart::AnyString => VPart::Star,
            StrPart::AnyChar => VPart::One,
        })
        .collect()
}

fn flat_map(
    variants: Vec<Variant>,
    f: impl Fn(Variant) -> Result<Vec<Variant>, RuleErrorKind>,
) -> Result<Vec<Variant>, RuleErrorKind> {
    let mut out = Vec::new();
    for v in variants {
        out.extend(f(v)?);
    }
    Ok(out)
}

/// Applies a byte encoding to a variant that must be plain text (no wildcards).
fn map_bytes(variants: Vec<Variant>, f: impl Fn(&[u8]) -> Vec<u8>) -> Result<Vec<Variant>, RuleErrorKind> {
    variants
        .into_iter()
        .map(|v| Ok(vec![VPart::Bytes(f(&literal_bytes(&v)?))]))
        .collect()
}

fn literal_bytes(v: &Variant) -> Result<Vec<u8>, RuleErrorKind> {
    let mut out = Vec::new();
    for p in v {
        match p {
            VPart::Bytes(b) => out.extend_from_slice(b),
            _ => {
                return Err(RuleErrorKind::InvalidModifiers(
                    "encoding modifiers (base64, base64offset, utf16*, wide) cannot encode wildcards; apply contains/startswith/endswith after them".into(),
                ))
            }
        }
    }
    Ok(out)
}

fn wrap(variants: Vec<Variant>, before: bool, after: bool) -> Vec<Variant> {
    variants
        .into_iter()
        .map(|mut v| {
            if before {
                v.insert(0, VPart::Star);
            }
            if after {
                v.push(VPart::Star);
            }
            v
        })
        .collect()
}

/// `windash`: every dash-like character of the value matches any of [`DASHES`].
fn windash(v: Variant) -> Variant {
    let mut out = Vec::new();
    for p in v {
        let VPart::Bytes(b) = p else {
            out.push(p);
            continue;
        };
        let text = String::from_utf8_lossy(&b).into_owned();
        let mut lit = String::new();
        for c in text.chars() {
            if DASHES.contains(&c) {
                if !lit.is_empty() {
                    out.push(VPart::Bytes(std::mem::take(&mut lit).into_bytes()));
                }
                out.push(VPart::Dash);
            } else {
                lit.push(c);
            }
        }
        if !lit.is_empty() {
            out.push(VPart::Bytes(lit.into_bytes()));
        }
    }
    out
}

/// `expand`: each `%name%` in the literal text becomes each configured value
/// (wildcards in placeholder values stay wildcards).
fn expand(v: Variant, ph: &Placeholders) -> Result<Vec<Variant>, RuleErrorKind> {
    let mut results: Vec<Variant> = vec![Vec::new()];
    for p in v {
        let VPart::Bytes(b) = p else {
            results.iter_mut().for_each(|r| r.push(p.clone()));
            continue;
        };
        let text = String::from_utf8_lossy(&b).into_owned();
        for seg in split_placeholders(&text) {
            match seg {
                Seg::Text(t) => results
                    .iter_mut()
                    .for_each(|r| r.push(VPart::Bytes(t.as_bytes().to_vec()))),
                Seg::Placeholder(name) => {
                    let values = ph
                        .get(name)
                        .ok_or_else(|| RuleErrorKind::UndefinedPlaceholder(name.to_string()))?;
                    let mut next = Vec::with_capacity(results.len() * values.len());
                    for r in &results {
                        for val in values {
                            let mut r = r.clone();
                            r.extend(from_sigma(&SigmaString::parse(val)));
                            next.push(r);
                        }
                    }
                    results = next;
                }
            }
        }
    }
    Ok(results)
}

enum Seg<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

fn split_placeholders(s: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find('%') {
        let Some(len) = rest[start + 1..].find('%') else {
            break;
        };
        let name = &rest[start + 1..start + 1 + len];
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
            out.push(Seg::Text(&rest[..start + 1]));
            rest = &rest[start + 1..];
            continue;
        }
        if start > 0 {
            out.push(Seg::Text(&rest[..start]));
        }
        out.push(Seg::Placeholder(name));
        rest = &rest[start + len + 2..];
    }
    if !rest.is_empty() {
        out.push(Seg::Text(rest));
    }
    out
}

fn utf16(s: &[u8], big_endian: bool, bom: bool) -> Vec<u8> {
    let text = String::from_utf8_lossy(s);
    let mut out = Vec::with_capacity(s.len() * 2 + 2);
    if bom {
        out.extend_from_slice(&[0xFF, 0xFE]);
    }
    for u in text.encode_utf16() {
        let b = if big_endian { u.to_be_bytes() } else { u.to_le_bytes() };
        out.extend_from_slice(&b);
    }
    out
}

/// The three base64 renderings of `value` at byte offsets 0, 1 and 2 of an
/// enclosing string, trimmed to the characters that do not depend on the
/// neighbouring bytes (as pySigma computes them).
fn base64_offsets(value: &[u8]) -> Vec<Variant> {
    const START: [usize; 3] = [0, 2, 3];
    const END_TRIM: [usize; 3] = [0, 3, 2];
    let engine = base64::engine::general_purpose::STANDARD;
    (0..3)
        .map(|i| {
            let mut shifted = vec![b' '; i];
            shifted.extend_from_slice(value);
            let enc = engine.encode(&shifted);
            let trim = END_TRIM[(value.len() + i) % 3];
            let end = enc.len().saturating_sub(trim);
            let s = enc.get(START[i]..end).unwrap_or("");
            vec![VPart::Bytes(s.as_bytes().to_vec())]
        })
        .collect()
}

/// Turns a finished variant into a glob: merges adjacent literals and stars,
/// lowercases literals unless `cased`.
fn to_glob(v: Variant, cased: bool) -> Glob {
    let mut parts: Vec<GlobPart> = Vec::new();
    for p in v {
        let gp = match p {
            VPart::Bytes(b) => {
                if b.is_empty() {
                    continue;
                }
                let s = String::from_utf8_lossy(&b).into_owned();
                GlobPart::Lit(if cased { s } else { s.to_lowercase() })
            }
            VPart::Star => GlobPart::Star,
            VPart::One => GlobPart::One,
            VPart::Dash => GlobPart::Dash,
        };
        match (parts.last_mut(), gp) {
            (Some(GlobPart::Lit(prev)), GlobPart::Lit(s)) => prev.push_str(&s),
            (Some(GlobPart::Star), GlobPart::Star) => {}
            (_, gp) => parts.push(gp),
        }
    }
    Glob { parts, cased }
}

impl Glob {
    /// Matches the whole of `text` (already lowercased when the glob is not cased).
    ///
    /// Iterative wildcard matching with one backtrack point (the last star):
    /// never exponential. A star followed by a literal jumps to the literal's
    /// next occurrence (a SIMD substring search) instead of growing one
    /// character at a time; when there is none, nothing after the star can
    /// match and neither can an earlier star's longer absorption.
    pub fn is_match(&self, text: &str) -> bool {
        match self.parts.as_slice() {
            [] => return text.is_empty(),
            [GlobPart::Lit(l)] => return text == l,
            [GlobPart::Star] => return true,
            [GlobPart::Star, GlobPart::Lit(l), GlobPart::Star] => return text.contains(l.as_str()),
            [GlobPart::Lit(l), GlobPart::Star] => return text.starts_with(l.as_str()),
            [GlobPart::Star, GlobPart::Lit(l)] => return text.ends_with(l.as_str()),
            _ => {}
        }
        let parts = &self.parts;
        let (mut pi, mut ti) = (0usize, 0usize);
        let mut backtrack: Option<(usize, usize)> = None;
        loop {
            if pi < parts.len() {
                match &parts[pi] {
                    GlobPart::Star => {
                        let Some(at) = self.next_start(pi + 1, text, ti) else {
                            return false;
                        };
                        backtrack = Some((pi, at));
                        pi += 1;
                        ti = at;
                        continue;
                    }
                    GlobPart::Lit(l) if text[ti..].starts_with(l.as_str()) => {
                        ti += l.len();
                        pi += 1;
                        continue;
                    }
                    GlobPart::One => {
                        if let Some(c) = text[ti..].chars().next() {
                            ti += c.len_utf8();
                            pi += 1;
                            continue;
                        }
                    }
                    GlobPart::Dash => {
                        if let Some(c) = text[ti..].chars().next().filter(|c| DASHES.contains(c)) {
                            ti += c.len_utf8();
                            pi += 1;
                            continue;
                        }
                    }
                    GlobPart::Lit(_) => {}
                }
            } else if ti == text.len() {
                return true;
            }
            // Mismatch: let the last star absorb one more character.
            let Some((bp, bt)) = backtrack else {
                return false;
            };
            let Some(c) = text[bt..].chars().next() else {
                return false;
            };
            let Some(nt) = self.next_start(bp + 1, text, bt + c.len_utf8()) else {
                return false;
            };
            backtrack = Some((bp, nt));
            pi = bp + 1;
            ti = nt;
        }
    }

    /// Where part `pi` can start at or after byte `from` of `text`: the next
    /// occurrence of a literal, or `from` itself for any other part.
    fn next_start(&self, pi: usize, text: &str, from: usize) -> Option<usize> {
        match self.parts.get(pi) {
            Some(GlobPart::Lit(l)) => text[from..].find(l.as_str()).map(|k| from + k),
            _ => Some(from),
        }
    }

    /// The literal text when the glob has no wildcards at all.
    pub fn exact(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [GlobPart::Lit(s)] => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Glob, GlobPart, DASHES};
    use proptest::prelude::*;

    /// Backtracking over every split: exponential, obviously right.
    fn naive(parts: &[GlobPart], text: &str) -> bool {
        let first = |t: &str| t.chars().next();
        match parts.split_first() {
            None => text.is_empty(),
            Some((GlobPart::Star, rest)) => text
                .char_indices()
                .map(|(i, _)| i)
                .chain([text.len()])
                .any(|i| naive(rest, &text[i..])),
            Some((GlobPart::Lit(l), rest)) => text.strip_prefix(l.as_str()).is_some_and(|t| naive(rest, t)),
            Some((GlobPart::One, rest)) => first(text).is_some_and(|c| naive(rest, &text[c.len_utf8()..])),
            Some((GlobPart::Dash, rest)) => {
                first(text).is_some_and(|c| DASHES.contains(&c) && naive(rest, &text[c.len_utf8()..]))
            }
        }
    }

    fn part() -> impl Strategy<Value = GlobPart> {
        prop_oneof![
            "[ab-]{1,3}".prop_map(GlobPart::Lit),
            Just(GlobPart::Star),
            Just(GlobPart::One),
            Just(GlobPart::Dash),
        ]
    }

    /// A text the glob matches: each wildcard filled from `fills`.
    fn instance(parts: &[GlobPart], fills: &[String]) -> String {
        let mut out = String::new();
        for (p, fill) in parts.iter().zip(fills) {
            match p {
                GlobPart::Lit(l) => out.push_str(l),
                GlobPart::Star => out.push_str(fill),
                GlobPart::One => out.push(fill.chars().next().unwrap_or('a')),
                GlobPart::Dash => out.push('\u{2013}'),
            }
        }
        out
    }

    proptest! {
        #[test]
        fn glob_matches_like_naive_backtracking(
            parts in prop::collection::vec(part(), 0..7),
            fills in prop::collection::vec("[ab-]{0,4}", 7),
            cut in 0usize..16,
            noise in "[ab-]{0,2}",
        ) {
            let g = Glob { parts: parts.clone(), cased: true };
            // The instance itself, and near misses: a character dropped or noise inserted.
            let text = instance(&parts, &fills);
            let mut near: Vec<char> = text.chars().collect();
            if cut < near.len() {
                near.remove(cut);
            }
            let dropped: String = near.into_iter().collect();
            let at = text.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(text.len());
            let noisy = format!("{}{noise}{}", &text[..at], &text[at..]);
            for t in [text, dropped, noisy] {
                prop_assert_eq!(g.is_match(&t), naive(&parts, &t), "{:?} on {:?}", parts, t);
            }
        }
    }
}

//! Per-field indexes: every predicate of every rule on one field, evaluated in
//! one pass over the field's value.
//!
//! Contract: after [`FieldIndex::scan`] on a value, every atom of this field
//! that the value satisfies has been set, and no other. Literal patterns of all
//! rules share one Aho-Corasick automaton per field and case mode, exact values
//! one hash map, regexes one `RegexSet`; what cannot be indexed (globs with no
//! literal, numeric and network tests) is checked directly. Wildcard globs are
//! indexed by their longest literal and verified only when it occurs.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use regex::RegexSet;
use rustc_hash::FxHashMap;

use super::pattern::{Glob, GlobPart, Pred};
use super::scalar::{parse_ip, parse_number, time_part, Text};
use super::scratch::Scratch;
use super::trie::ByteTrie;
use super::AtomId;
use crate::rules::RuleErrorKind;

/// How an Aho-Corasick hit of a literal settles its atom.
#[derive(Clone, Copy, Debug)]
enum Hit {
    Anywhere(AtomId),
    /// The literal is one piece of a wildcard glob: verify the whole glob.
    Verify(AtomId, u32),
}

/// What an anchored literal settles: the atom itself, or a glob to verify.
#[derive(Clone, Copy, Debug)]
enum Anchored {
    Atom(AtomId),
    Verify(AtomId, u32),
}

/// An exact value and the atoms it sets.
type ExactEntry = (Box<str>, Vec<AtomId>);

/// Literal and glob predicates for one case mode.
///
/// In folding (case-insensitive) mode the patterns are stored lowercased and
/// the value must be ASCII (folded on the fly, byte by byte: no copy) or
/// already lowercased by the caller (non-ASCII values).
#[derive(Default)]
struct TextIndex {
    fold: bool,
    /// Exact values by the hash of their (folded) bytes.
    exact: FxHashMap<u64, Vec<ExactEntry>>,
    /// Byte lengths of the exact values (bit n: some value has length n;
    /// bit 255: some value is 255 bytes or longer): most values are skipped
    /// without hashing them.
    exact_lens: [u64; 4],
    /// `startswith` literals (and globs that begin with a literal), walked forward.
    prefix: ByteTrie<Anchored>,
    /// `endswith` literals (and globs that end with a literal), walked backward.
    suffix: ByteTrie<Anchored>,
    literals: Vec<String>,
    /// Length of the longest literal in bytes.
    longest: usize,
    hits: Vec<Vec<Hit>>,
    ac: Option<AhoCorasick>,
    globs: Vec<Glob>,
    /// Globs with no literal piece (`*`, `?`, `??-`): verified on every value.
    always: Vec<(AtomId, u32)>,
}

impl TextIndex {
    fn add(&mut self, atom: AtomId, glob: Glob) {
        if let Some(exact) = glob.exact() {
            let n = exact.len().min(255);
            self.exact_lens[n / 64] |= 1 << (n % 64);
            let bucket = self.exact.entry(hash_bytes(exact.as_bytes(), false)).or_default();
            match bucket.iter_mut().find(|(k, _)| **k == *exact) {
                Some((_, atoms)) => atoms.push(atom),
                None => bucket.push((exact.into(), vec![atom])),
            }
            return;
        }
        match glob.parts.as_slice() {
            [GlobPart::Star, GlobPart::Lit(l), GlobPart::Star] => {
                return self.push_literal(l.clone(), Hit::Anywhere(atom))
            }
            [GlobPart::Lit(l), GlobPart::Star] => return self.prefix.insert(l.bytes(), Anchored::Atom(atom)),
            [GlobPart::Star, GlobPart::Lit(l)] => return self.suffix.insert(l.bytes().rev(), Anchored::Atom(atom)),
            _ => {}
        }
        let gid = self.globs.len() as u32;
        let (first, last) = (glob.parts.first().cloned(), glob.parts.last().cloned());
        let key = longest_literal(&glob);
        self.globs.push(glob);
        match (first, last, key) {
            (Some(GlobPart::Lit(l)), _, _) => self.prefix.insert(l.bytes(), Anchored::Verify(atom, gid)),
            (_, Some(GlobPart::Lit(l)), _) => self.suffix.insert(l.bytes().rev(), Anchored::Verify(atom, gid)),
            (_, _, Some(l)) => self.push_literal(l, Hit::Verify(atom, gid)),
            _ => self.always.push((atom, gid)),
        }
    }

    fn push_literal(&mut self, lit: String, hit: Hit) {
        match self.literals.iter().position(|l| *l == lit) {
            Some(i) => self.hits[i].push(hit),
            None => {
                self.literals.push(lit);
                self.hits.push(vec![hit]);
            }
        }
    }

    fn build(&mut self) -> Result<(), RuleErrorKind> {
        if self.literals.is_empty() {
            return Ok(());
        }
        self.longest = self.literals.iter().map(String::len).max().unwrap_or(0);
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(self.fold)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&self.literals)
            .or_else(|_| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .ascii_case_insensitive(self.fold)
                    .build(&self.literals)
            })
            .map_err(|e| RuleErrorKind::Unsupported(format!("literal index: {e}")))?;
        self.ac = Some(ac);
        Ok(())
    }

    fn scan(&self, text: &str, s: &mut Scratch) {
        let fold = self.fold;
        let n = text.len().min(255);
        let maybe_exact = self.exact_lens[n / 64] & (1 << (n % 64)) != 0;
        if let Some(bucket) = maybe_exact
            .then(|| self.exact.get(&hash_bytes(text.as_bytes(), fold)))
            .flatten()
        {
            for (k, atoms) in bucket {
                if (fold && k.eq_ignore_ascii_case(text)) || **k == *text {
                    atoms.iter().for_each(|&a| s.set(a));
                }
            }
        }
        let mut anchored = |h: &Anchored, _: usize| match *h {
            Anchored::Atom(a) => s.set(a),
            Anchored::Verify(a, g) => {
                if !s.is_set(a) && self.verify(g, text, s) {
                    s.set(a);
                }
            }
        };
        let lower = |b: u8| if fold { b.to_ascii_lowercase() } else { b };
        if !self.prefix.is_empty() {
            self.prefix.walk(text.bytes().map(lower), &mut anchored);
        }
        if !self.suffix.is_empty() {
            self.suffix.walk(text.bytes().rev().map(lower), &mut anchored);
        }
        if let Some(ac) = &self.ac {
            // Most values hold none of the literals: a leftmost search skips
            // ahead with the automaton's prefilter; only a hit pays for the
            // overlapping scan that finds every literal.
            let Some(first) = ac.find(text) else {
                return self.scan_always(text, s);
            };
            // No match ends before the first one found, so none starts
            // before its end minus the longest literal.
            let from = first.end().saturating_sub(self.longest);
            for m in ac.find_overlapping_iter(aho_corasick::Input::new(text).range(from..)) {
                for hit in &self.hits[m.pattern().as_usize()] {
                    match *hit {
                        Hit::Anywhere(a) => s.set(a),
                        Hit::Verify(a, g) if !s.is_set(a) && self.verify(g, text, s) => s.set(a),
                        Hit::Verify(..) => {}
                    }
                }
            }
        }
        self.scan_always(text, s);
    }

    /// Verifies a whole glob; globs compare against lowercased text when folding.
    fn verify(&self, g: u32, text: &str, s: &mut Scratch) -> bool {
        let glob = &self.globs[g as usize];
        if !self.fold || !text.bytes().any(|b| b.is_ascii_uppercase()) {
            return glob.is_match(text);
        }
        let lower = s.lowercase(text);
        let hit = glob.is_match(&lower);
        s.recycle_lowercase(lower);
        hit
    }

    fn scan_always(&self, text: &str, s: &mut Scratch) {
        for &(a, g) in &self.always {
            if !s.is_set(a) && self.verify(g, text, s) {
                s.set(a);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.exact.is_empty()
            && self.literals.is_empty()
            && self.always.is_empty()
            && self.prefix.is_empty()
            && self.suffix.is_empty()
    }

    fn pattern_count(&self) -> usize {
        self.exact.len() + self.literals.len() + self.always.len() + self.prefix.len_nodes() + self.suffix.len_nodes()
    }
}

/// FxHash-style hash of bytes, optionally ASCII-folded, so a folded lookup
/// needs no lowercased copy of the value.
#[inline]
fn hash_bytes(b: &[u8], fold: bool) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = b.len() as u64;
    for &c in b {
        let c = if fold { c.to_ascii_lowercase() } else { c };
        h = (h.rotate_left(5) ^ c as u64).wrapping_mul(K);
    }
    h
}

fn longest_literal(g: &Glob) -> Option<String> {
    g.parts
        .iter()
        .filter_map(|p| match p {
            GlobPart::Lit(l) => Some(l),
            _ => None,
        })
        .max_by_key(|l| l.len())
        .cloned()
}

/// Every predicate on one field (or on the keyword pseudo-field).
#[derive(Default)]
pub struct FieldIndex {
    /// `exists` atom: set when the field is present, null or not.
    pub exists: Option<AtomId>,
    /// Set when the field is present and not null (`null` tests negate it).
    pub nonnull: Option<AtomId>,
    ci: TextIndex,
    cs: TextIndex,
    regex_src: Vec<(AtomId, String)>,
    regex: Option<(RegexSet, Vec<AtomId>)>,
    /// Patterns the `regex` crate rejects (look-around, back-references).
    fancy: Vec<(AtomId, fancy_regex::Regex)>,
    /// Numeric, time and network tests.
    direct: Vec<(AtomId, Pred)>,
}

impl FieldIndex {
    /// Registers a predicate (field references are handled by the plan, not here).
    pub fn add(&mut self, atom: AtomId, pred: Pred) {
        match pred {
            Pred::Glob(g) if g.cased => self.cs.add(atom, g),
            Pred::Glob(g) => {
                self.ci.fold = true;
                self.ci.add(atom, g)
            }
            Pred::Regex(r) => self.regex_src.push((atom, r)),
            other => self.direct.push((atom, other)),
        }
    }

    /// Builds the automata. Regex errors name the pattern.
    pub fn build(&mut self) -> Result<(), RuleErrorKind> {
        self.ci.build()?;
        self.cs.build()?;
        let mut plain = Vec::new();
        for (atom, src) in std::mem::take(&mut self.regex_src) {
            match regex::Regex::new(&src) {
                Ok(_) => plain.push((atom, src)),
                Err(_) => self.fancy.push((atom, compile_fancy(&src)?)),
            }
        }
        if !plain.is_empty() {
            let set = RegexSet::new(plain.iter().map(|(_, s)| s)).map_err(|e| RuleErrorKind::BadRegex {
                pattern: plain.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>().join(" | "),
                reason: e.to_string(),
            })?;
            self.regex = Some((set, plain.into_iter().map(|(a, _)| a).collect()));
        }
        Ok(())
    }

    /// Sets the atoms satisfied by one scalar value of the field.
    pub fn scan(&self, text: &Text<'_>, s: &mut Scratch) {
        let raw = text.as_str();
        if !self.cs.is_empty() {
            self.cs.scan(raw, s);
        }
        if !self.ci.is_empty() {
            if raw.is_ascii() {
                self.ci.scan(raw, s);
            } else {
                let lower = s.lowercase(raw);
                self.ci.scan(&lower, s);
                s.recycle_lowercase(lower);
            }
        }
        if let Some((set, atoms)) = &self.regex {
            for i in set.matches(raw).iter() {
                s.set(atoms[i]);
            }
        }
        for (a, re) in &self.fancy {
            if !s.is_set(*a) && re.is_match(raw).unwrap_or(false) {
                s.set(*a);
            }
        }
        for (a, pred) in &self.direct {
            if !s.is_set(*a) && direct_match(pred, text) {
                s.set(*a);
            }
        }
    }

    pub fn pattern_count(&self) -> usize {
        self.ci.pattern_count()
            + self.cs.pattern_count()
            + self.fancy.len()
            + self.direct.len()
            + self.regex.as_ref().map_or(0, |(_, a)| a.len())
    }
}

pub fn compile_regex(src: &str) -> Result<(), RuleErrorKind> {
    if regex::Regex::new(src).is_ok() {
        return Ok(());
    }
    compile_fancy(src).map(|_| ())
}

fn compile_fancy(src: &str) -> Result<fancy_regex::Regex, RuleErrorKind> {
    fancy_regex::Regex::new(src).map_err(|e| RuleErrorKind::BadRegex {
        pattern: src.to_string(),
        reason: e.to_string(),
    })
}

fn direct_match(pred: &Pred, text: &Text<'_>) -> bool {
    match pred {
        Pred::Num(cmp, rhs) => text
            .number()
            .or_else(|| parse_number(text.as_str()))
            .is_some_and(|n| cmp.holds(n, *rhs)),
        Pred::Time(part, cmp, rhs) => time_part(text, *part).is_some_and(|n| cmp.holds(n, *rhs)),
        Pred::Cidr(net) => parse_ip(text.as_str()).is_some_and(|ip| net.contains(ip)),
        Pred::Glob(_) | Pred::Regex(_) | Pred::FieldRef { .. } => false,
    }
}

//! Compiles a set of rules into one [`Plan`]: shared atoms, per-field indexes,
//! a path trie over event fields, and for each rule its condition plus the
//! atoms that can trigger it.
//!
//! Atoms are deduplicated across rules (the same `Image|endswith: '\cmd.exe'`
//! in 200 rules is one atom), which is what makes matching cost grow with the
//! number of distinct patterns rather than with the number of rules.

use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::index::{compile_regex, FieldIndex};
use super::pattern::{compile_item, ItemTest, Placeholders, Pred, RefMode};
use super::rawfilter::{json_literal, RawFilter};
use super::trigger::choose_triggers;
use super::AtomId;
use crate::rules::{Condition, FieldItem, Modifier, Rule, RuleError, RuleErrorKind};

/// What the compiler needs besides the rules.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// Rule field name → event paths (first present wins is not assumed: any path may match).
    pub field_map: HashMap<String, Vec<String>>,
    /// For fields not in `field_map`: the field as written, then each prefix + field.
    pub field_prefixes: Vec<String>,
    /// Values for `expand` placeholders.
    pub placeholders: Placeholders,
}

impl CompileOptions {
    /// The event paths a rule field reads.
    pub fn paths(&self, field: &str) -> Vec<String> {
        if let Some(p) = self.field_map.get(field) {
            return p.clone();
        }
        std::iter::once(field.to_string())
            .chain(self.field_prefixes.iter().map(|pre| format!("{pre}{field}")))
            .collect()
    }
}

/// A rule condition over atoms.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Atom(AtomId),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// Where an atom's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Field(u32),
    Keywords,
}

/// What an atom tests; kept for the reference evaluator and diagnostics.
#[derive(Clone, Debug, PartialEq)]
pub enum AtomKind {
    Exists,
    NonNull,
    Pred(Pred),
}

#[derive(Clone, Debug)]
pub struct AtomDef {
    pub target: Target,
    pub kind: AtomKind,
}

/// An atom evaluated on demand: its field and its compiled test.
#[derive(Clone, Debug)]
pub struct LazyAtom {
    pub target: Target,
    pub test: LazyTest,
}

#[derive(Clone, Debug)]
pub enum LazyTest {
    Glob(super::pattern::Glob),
    Regex(regex::Regex),
    Fancy(fancy_regex::Regex),
    Direct(Pred),
}

impl LazyAtom {
    /// The on-demand form of an expensive predicate that triggers no rule;
    /// `None` for plain literals, which the shared per-field automata settle
    /// more cheaply than on-demand lookups would (measured: see benches/README.md).
    fn new(target: Target, pred: &Pred) -> Option<LazyAtom> {
        let test = match pred {
            Pred::Glob(g) if is_indexed_literal(g) => return None,
            Pred::Glob(g) => LazyTest::Glob(g.clone()),
            Pred::Regex(src) => match regex::Regex::new(src) {
                Ok(r) => LazyTest::Regex(r),
                Err(_) => LazyTest::Fancy(fancy_regex::Regex::new(src).ok()?),
            },
            Pred::FieldRef { .. } => return None,
            other => LazyTest::Direct(other.clone()),
        };
        Some(LazyAtom { target, test })
    }
}

/// Globs that the literal index settles without verification.
fn is_indexed_literal(g: &super::pattern::Glob) -> bool {
    use super::pattern::GlobPart::{Lit, Star};
    matches!(
        g.parts.as_slice(),
        [] | [Lit(_)] | [Star, Lit(_), Star] | [Lit(_), Star] | [Star, Lit(_)]
    )
}

/// A field reference atom, evaluated after the walk by direct lookups.
#[derive(Clone, Debug)]
pub struct FieldRefAtom {
    pub atom: AtomId,
    pub left: Vec<String>,
    pub right: Vec<String>,
    pub mode: RefMode,
    pub cased: bool,
}

#[derive(Default)]
pub(super) struct TrieNode {
    pub children: FxHashMap<Box<str>, u32>,
    pub slots: Vec<u32>,
}

/// All rules of one logsource, compiled together.
pub struct Plan {
    pub rules: Vec<Arc<Rule>>,
    pub(super) exprs: Vec<Expr>,
    pub(super) trie: Vec<TrieNode>,
    pub(super) fields: Vec<FieldIndex>,
    /// Slot → the event paths that feed it.
    pub(super) field_paths: Vec<Vec<String>>,
    pub(super) keywords: Option<FieldIndex>,
    pub(super) fieldrefs: Vec<FieldRefAtom>,
    pub(super) atoms: Vec<AtomDef>,
    pub(super) triggers: Vec<Vec<u32>>,
    pub(super) always: Vec<u32>,
    /// Atoms computed on demand while evaluating a condition, not in the
    /// per-field scan (expensive tests that trigger no rule). `None` = eager.
    pub(super) lazy: Vec<Option<LazyAtom>>,
    /// Literals one of which every eager keyword atom needs, searched in the
    /// raw record: when none occurs, the keyword scan of every value is
    /// skipped. `None` when some keyword atom has no such literal.
    pub(super) keyword_prefilter: Option<RawFilter>,
}

impl Plan {
    /// Compiles `rules`; a rule that fails is left out and its error returned.
    pub fn compile(rules: &[Arc<Rule>], opts: &CompileOptions) -> (Plan, Vec<RuleError>) {
        let mut b = Builder::new(opts);
        let mut errors = Vec::new();
        for rule in rules {
            match b.add_rule(rule) {
                Ok(expr) => {
                    b.plan.rules.push(rule.clone());
                    b.plan.exprs.push(expr);
                }
                Err(e) => errors.push(e.with_rule(rule.key())),
            }
        }
        (b.finish(&mut errors), errors)
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    pub fn atom_count(&self) -> usize {
        self.atoms.len()
    }

    /// Distinct indexed patterns over all fields: a measure of plan size.
    pub fn pattern_count(&self) -> usize {
        self.fields
            .iter()
            .chain(self.keywords.as_ref())
            .map(FieldIndex::pattern_count)
            .sum()
    }

    /// Rules evaluated on every event because no atom is necessary for them
    /// (e.g. a condition that is only `not filter`).
    pub fn always_evaluated(&self) -> usize {
        self.always.len()
    }

    pub fn atom(&self, a: AtomId) -> &AtomDef {
        &self.atoms[a as usize]
    }

    pub fn expr(&self, rule: usize) -> &Expr {
        &self.exprs[rule]
    }

    pub fn slot_paths(&self, slot: u32) -> &[String] {
        &self.field_paths[slot as usize]
    }
}

struct Builder<'o> {
    opts: &'o CompileOptions,
    plan: Plan,
    slots: HashMap<String, u32>,
    atom_keys: HashMap<(Target, String), AtomId>,
    pending: Vec<(AtomId, Target, Pred)>,
}

impl<'o> Builder<'o> {
    fn new(opts: &'o CompileOptions) -> Self {
        Builder {
            opts,
            plan: Plan {
                rules: Vec::new(),
                exprs: Vec::new(),
                trie: vec![TrieNode::default()],
                fields: Vec::new(),
                field_paths: Vec::new(),
                keywords: None,
                fieldrefs: Vec::new(),
                atoms: Vec::new(),
                triggers: Vec::new(),
                always: Vec::new(),
                lazy: Vec::new(),
                keyword_prefilter: None,
            },
            slots: HashMap::new(),
            atom_keys: HashMap::new(),
            pending: Vec::new(),
        }
    }

    /// Validates every item of the rule first, so a failing rule leaves no atoms behind.
    fn add_rule(&mut self, rule: &Rule) -> Result<Expr, RuleError> {
        let mut tests: HashMap<&str, Vec<Vec<(&FieldItem, ItemTest)>>> = HashMap::new();
        for ident in &rule.detection.identifiers {
            let mut groups = Vec::new();
            for g in &ident.groups {
                let mut items = Vec::new();
                for item in &g.items {
                    let test = compile_item(&keyword_defaults(item), &self.opts.placeholders)
                        .and_then(|t| validate_regexes(&t).map(|_| t))
                        .map_err(|k| RuleError::new(item.location.clone(), k))?;
                    items.push((item, test));
                }
                groups.push(items);
            }
            tests.insert(ident.name.as_str(), groups);
        }
        let mut idents = HashMap::new();
        for (name, groups) in tests {
            let ors = groups
                .into_iter()
                .map(|items| and(items.into_iter().map(|(item, t)| self.item_expr(item, t)).collect()))
                .collect();
            idents.insert(name, or(ors));
        }
        Ok(condition_expr(&rule.detection.condition, &idents))
    }

    fn item_expr(&mut self, item: &FieldItem, test: ItemTest) -> Expr {
        let target = match &item.field {
            Some(f) => Target::Field(self.slot(f)),
            None => Target::Keywords,
        };
        match test {
            ItemTest::Exists(want) => {
                let e = Expr::Atom(self.atom(target, AtomKind::Exists));
                if want {
                    e
                } else {
                    Expr::Not(Box::new(e))
                }
            }
            ItemTest::Null => Expr::Not(Box::new(Expr::Atom(self.atom(target, AtomKind::NonNull)))),
            ItemTest::Values { values, all, negate } => {
                let exprs = values
                    .into_iter()
                    .map(|preds| {
                        or(preds
                            .into_iter()
                            .map(|p| Expr::Atom(self.pred_atom(target, p)))
                            .collect())
                    })
                    .collect();
                let e = if all { and(exprs) } else { or(exprs) };
                if negate {
                    Expr::Not(Box::new(e))
                } else {
                    e
                }
            }
        }
    }

    fn slot(&mut self, field: &str) -> u32 {
        if let Some(&s) = self.slots.get(field) {
            return s;
        }
        let s = self.plan.fields.len() as u32;
        let paths = self.paths(field);
        for p in &paths {
            insert_path(&mut self.plan.trie, p, s);
        }
        self.plan.fields.push(FieldIndex::default());
        self.plan.field_paths.push(paths);
        self.slots.insert(field.to_string(), s);
        s
    }

    fn paths(&self, field: &str) -> Vec<String> {
        self.opts.paths(field)
    }

    fn atom(&mut self, target: Target, kind: AtomKind) -> AtomId {
        let key = (target, format!("{kind:?}"));
        if let Some(&a) = self.atom_keys.get(&key) {
            return a;
        }
        let a = self.plan.atoms.len() as AtomId;
        self.atom_keys.insert(key, a);
        match (&kind, target) {
            (AtomKind::Exists, Target::Field(s)) => self.plan.fields[s as usize].exists = Some(a),
            (AtomKind::NonNull, Target::Field(s)) => self.plan.fields[s as usize].nonnull = Some(a),
            (AtomKind::Pred(p), _) => self.pending.push((a, target, p.clone())),
            // Keyword items never carry exists/null (the parser forbids field-less exists).
            _ => {}
        }
        self.plan.atoms.push(AtomDef { target, kind });
        a
    }

    fn pred_atom(&mut self, target: Target, pred: Pred) -> AtomId {
        if let (Pred::FieldRef { field, mode, cased }, Target::Field(s)) = (&pred, target) {
            let key = (target, format!("{pred:?}"));
            if let Some(&a) = self.atom_keys.get(&key) {
                return a;
            }
            let a = self.plan.atoms.len() as AtomId;
            self.atom_keys.insert(key, a);
            self.plan.fieldrefs.push(FieldRefAtom {
                atom: a,
                left: self.plan.field_paths[s as usize].clone(),
                right: self.paths(field),
                mode: *mode,
                cased: *cased,
            });
            self.plan.atoms.push(AtomDef {
                target,
                kind: AtomKind::Pred(pred),
            });
            return a;
        }
        self.atom(target, AtomKind::Pred(pred))
    }

    fn finish(mut self, errors: &mut Vec<RuleError>) -> Plan {
        let (triggers, always) = choose_triggers(&self.plan);
        self.plan.lazy = vec![None; self.plan.atoms.len()];
        let mut kw_literals: Option<Vec<String>> = Some(Vec::new());
        for (atom, target, pred) in std::mem::take(&mut self.pending) {
            if target == Target::Keywords
                && triggers[atom as usize].is_empty()
                && LazyAtom::new(target, &pred).is_some()
            {
                // lazy keyword atoms are computed exactly on demand
            } else if target == Target::Keywords {
                match (&mut kw_literals, json_literal(&pred)) {
                    (Some(v), Some(l)) => v.push(l),
                    _ => kw_literals = None,
                }
            }
            // An expensive test that wakes no rule is only computed when a
            // condition asks for it: most events never pay for it.
            if triggers[atom as usize].is_empty() {
                if let Some(lazy) = LazyAtom::new(target, &pred) {
                    self.plan.lazy[atom as usize] = Some(lazy);
                    continue;
                }
            }
            let idx = match target {
                Target::Field(s) => &mut self.plan.fields[s as usize],
                Target::Keywords => self.plan.keywords.get_or_insert_with(FieldIndex::default),
            };
            idx.add(atom, pred);
        }
        for idx in self.plan.fields.iter_mut().chain(self.plan.keywords.as_mut()) {
            if let Err(kind) = idx.build() {
                let loc = self.plan.rules.first().map(|r| r.location.clone());
                if let Some(loc) = loc {
                    errors.push(RuleError::new(loc, kind));
                }
            }
        }
        self.plan.triggers = triggers;
        self.plan.always = always;
        if self.plan.keywords.is_some() {
            self.plan.keyword_prefilter = kw_literals.and_then(|lits| RawFilter::new(&lits));
        }
        self.plan
    }
}

/// Field-less values (keywords) are searched anywhere in a value unless the
/// rule anchors them explicitly.
fn keyword_defaults(item: &FieldItem) -> std::borrow::Cow<'_, FieldItem> {
    let positional = [
        Modifier::Contains,
        Modifier::StartsWith,
        Modifier::EndsWith,
        Modifier::Re,
    ];
    if item.field.is_some() || item.modifiers.iter().any(|m| positional.contains(m)) {
        return std::borrow::Cow::Borrowed(item);
    }
    let mut owned = item.clone();
    owned.modifiers.push(Modifier::Contains);
    std::borrow::Cow::Owned(owned)
}

fn validate_regexes(t: &ItemTest) -> Result<(), RuleErrorKind> {
    if let ItemTest::Values { values, .. } = t {
        for p in values.iter().flatten() {
            if let Pred::Regex(src) = p {
                compile_regex(src)?;
            }
        }
    }
    Ok(())
}

fn condition_expr(c: &Condition, idents: &HashMap<&str, Expr>) -> Expr {
    let get = |n: &String| idents.get(n.as_str()).cloned().unwrap_or(Expr::Or(vec![]));
    match c {
        Condition::And(cs) => and(cs.iter().map(|c| condition_expr(c, idents)).collect()),
        Condition::Or(cs) => or(cs.iter().map(|c| condition_expr(c, idents)).collect()),
        Condition::Not(c) => Expr::Not(Box::new(condition_expr(c, idents))),
        Condition::Ident(n) => get(n),
        Condition::OneOf(ns) => or(ns.iter().map(get).collect()),
        Condition::AllOf(ns) => and(ns.iter().map(get).collect()),
    }
}

/// AND with flattening; `And([])` is true.
fn and(mut es: Vec<Expr>) -> Expr {
    if es.len() == 1 {
        return es.pop().unwrap_or(Expr::And(vec![]));
    }
    Expr::And(
        es.into_iter()
            .flat_map(|e| match e {
                Expr::And(inner) => inner,
                e => vec![e],
            })
            .collect(),
    )
}

/// OR with flattening; `Or([])` is false.
fn or(mut es: Vec<Expr>) -> Expr {
    if es.len() == 1 {
        return es.pop().unwrap_or(Expr::Or(vec![]));
    }
    Expr::Or(
        es.into_iter()
            .flat_map(|e| match e {
                Expr::Or(inner) => inner,
                e => vec![e],
            })
            .collect(),
    )
}

/// Inserts every reading of a dotted path: `a.b.c` may be nested objects, a
/// literal key `a.b.c`, or any mix (`a.b` → `c`), as real pipelines produce all of them.
fn insert_path(trie: &mut Vec<TrieNode>, path: &str, slot: u32) {
    let segs: Vec<&str> = path.split('.').collect();
    let gaps = segs.len().saturating_sub(1).min(12);
    for mask in 0u32..(1 << gaps) {
        let mut keys = Vec::new();
        let mut cur = String::from(segs[0]);
        for (i, seg) in segs.iter().enumerate().skip(1) {
            if i - 1 < gaps && mask & (1 << (i - 1)) != 0 {
                keys.push(std::mem::take(&mut cur));
                cur.push_str(seg);
            } else {
                cur.push('.');
                cur.push_str(seg);
            }
        }
        keys.push(cur);
        let mut node = 0usize;
        for k in keys {
            node = match trie[node].children.get(k.as_str()) {
                Some(&n) => n as usize,
                None => {
                    trie.push(TrieNode::default());
                    let n = trie.len() - 1;
                    trie[node].children.insert(k.into_boxed_str(), n as u32);
                    n
                }
            };
        }
        if !trie[node].slots.contains(&slot) {
            trie[node].slots.push(slot);
        }
    }
}

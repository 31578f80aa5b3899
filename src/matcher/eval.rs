//! Matching one event against a [`Plan`]: walk the event once, let each
//! referenced field's index set its atoms, then evaluate only the rules that
//! one of their trigger atoms woke up.

use super::compile::{Expr, FieldRefAtom, Plan, TrieNode};
use super::index::FieldIndex;
use super::pattern::RefMode;
use super::scratch::Scratch;
use crate::event::{Kind, ValueRef};

impl Plan {
    /// Matches one event; returns the indexes (into [`Plan::rules`]) of the
    /// rules it matches, ascending. Allocation-free once `scratch` is warm.
    pub fn scan<'s>(&self, event: ValueRef<'_, '_>, s: &'s mut Scratch) -> &'s [u32] {
        s.begin(self.atoms.len(), self.rules.len());
        self.walk(0, event, s);
        if let Some(kw) = &self.keywords {
            scan_all_values(kw, event, s);
        }
        for fr in &self.fieldrefs {
            if field_ref_holds(fr, event, s) {
                s.set(fr.atom);
            }
        }
        let epoch = s.epoch;
        let mut i = 0;
        while i < s.set_atoms().len() {
            let a = s.set_atoms()[i] as usize;
            for &r in &self.triggers[a] {
                self.consider(r, epoch, s);
            }
            i += 1;
        }
        for &r in &self.always {
            self.consider(r, epoch, s);
        }
        s.matched.sort_unstable();
        &s.matched
    }

    #[inline]
    fn consider(&self, r: u32, epoch: u32, s: &mut Scratch) {
        if s.rule_stamp[r as usize] == epoch {
            return;
        }
        s.rule_stamp[r as usize] = epoch;
        if eval(&self.exprs[r as usize], s) {
            s.matched.push(r);
        }
    }

    fn walk(&self, node: usize, obj: ValueRef<'_, '_>, s: &mut Scratch) {
        let trie: &TrieNode = &self.trie[node];
        for (key, value) in obj.entries() {
            let Some(&child) = trie.children.get(key) else {
                continue;
            };
            let c = &self.trie[child as usize];
            for &slot in &c.slots {
                visit(&self.fields[slot as usize], value, s);
            }
            if !c.children.is_empty() && value.is_object() {
                self.walk(child as usize, value, s);
            }
        }
    }
}

/// Feeds one field value (scalar, or each scalar of an array) to its index.
fn visit(idx: &FieldIndex, value: ValueRef<'_, '_>, s: &mut Scratch) {
    if let Some(a) = idx.exists {
        s.set(a);
    }
    if value.is_null() {
        return;
    }
    if let Some(a) = idx.nonnull {
        s.set(a);
    }
    match value.kind() {
        Kind::Array(arr) => {
            for el in arr.elements() {
                if let Some(t) = el.text() {
                    idx.scan(&t, s);
                }
            }
        }
        _ => {
            if let Some(t) = value.text() {
                idx.scan(&t, s);
            }
        }
    }
}

/// Keywords search every scalar of the event, however deep.
fn scan_all_values(idx: &FieldIndex, value: ValueRef<'_, '_>, s: &mut Scratch) {
    match value.kind() {
        Kind::Object(o) => o.entries().for_each(|(_, v)| scan_all_values(idx, v, s)),
        Kind::Array(a) => a.elements().for_each(|v| scan_all_values(idx, v, s)),
        _ => {
            if let Some(t) = value.text() {
                idx.scan(&t, s);
            }
        }
    }
}

pub(super) fn field_ref_holds(fr: &FieldRefAtom, event: ValueRef<'_, '_>, s: &mut Scratch) -> bool {
    let first = |paths: &[String]| paths.iter().find_map(|p| event.lookup(p)).and_then(|v| v.text());
    let (Some(left), Some(right)) = (first(&fr.left), first(&fr.right)) else {
        return false;
    };
    let (l, r) = if fr.cased {
        (left.as_str().to_string(), right.as_str().to_string())
    } else {
        let l = s.lowercase(left.as_str());
        let r = l.clone();
        s.recycle_lowercase(r);
        let r = s.lowercase(right.as_str());
        let out = (l, r.clone());
        s.recycle_lowercase(r);
        out
    };
    match fr.mode {
        RefMode::Equals => l == r,
        RefMode::Contains => l.contains(&r),
        RefMode::StartsWith => l.starts_with(&r),
        RefMode::EndsWith => l.ends_with(&r),
    }
}

pub(super) fn eval(e: &Expr, s: &Scratch) -> bool {
    match e {
        Expr::Atom(a) => s.is_set(*a),
        Expr::Not(e) => !eval(e, s),
        Expr::And(es) => es.iter().all(|e| eval(e, s)),
        Expr::Or(es) => es.iter().any(|e| eval(e, s)),
    }
}

//! Trigger selection: for each rule, a set of atoms at least one of which is
//! true whenever the rule matches. The matcher evaluates a rule's condition
//! only when one of its triggers fired, so rules that cannot match an event
//! cost nothing for it.
//!
//! Contract (checked by the differential tests against `reference`): the set
//! chosen for a rule is *necessary* — never omitting an atom that a match
//! could depend on. Rules for which no such set exists (a condition that is
//! only negations) are evaluated on every event.

use super::compile::{AtomKind, Expr, Plan};
use super::pattern::{Glob, GlobPart, Pred};
use super::AtomId;

/// Atom → rules it triggers, and the rules evaluated on every event.
pub fn choose_triggers(plan: &Plan) -> (Vec<Vec<u32>>, Vec<u32>) {
    let mut triggers = vec![Vec::new(); plan.atoms.len()];
    let mut always = Vec::new();
    for (r, e) in plan.exprs.iter().enumerate() {
        match necessary(plan, e) {
            Some((atoms, _)) if !atoms.is_empty() => {
                for a in atoms {
                    let t: &mut Vec<u32> = &mut triggers[a as usize];
                    if t.last() != Some(&(r as u32)) {
                        t.push(r as u32);
                    }
                }
            }
            _ => always.push(r as u32),
        }
    }
    (triggers, always)
}

/// A necessary atom set for `e` and its estimated cost (expected number of
/// firings; lower is better), or `None` when `e` can be true with no atom set.
fn necessary(plan: &Plan, e: &Expr) -> Option<(Vec<AtomId>, f64)> {
    match e {
        Expr::Atom(a) => Some((vec![*a], cost(plan, *a))),
        Expr::Not(_) => None,
        // An empty OR is false: nothing can trigger it, so no atom is needed.
        Expr::Or(es) if es.is_empty() => Some((vec![], 0.0)),
        Expr::Or(es) => {
            let mut atoms = Vec::new();
            let mut total = 0.0;
            for e in es {
                let (a, c) = necessary(plan, e)?;
                atoms.extend(a);
                total += c;
            }
            Some((atoms, total))
        }
        Expr::And(es) => es
            .iter()
            .filter_map(|e| necessary(plan, e))
            .min_by(|a, b| a.1.total_cmp(&b.1)),
    }
}

/// Rough likelihood that an atom is true for an event: long literals are rare,
/// numbers and presence tests common.
fn cost(plan: &Plan, a: AtomId) -> f64 {
    let rarity = match &plan.atom(a).kind {
        AtomKind::Exists | AtomKind::NonNull => 0.0,
        // Flags are what a rule narrows down, not what picks its events out:
        // `Initiated: 'true'` holds for nearly every Sysmon network connection
        // (woke 17 rules per such event, 46% of all rule evaluations at 1,000
        // rules), while the rule's other selection (process or destination
        // lists) rarely holds. Any other necessary set is preferred.
        AtomKind::Pred(Pred::Glob(g)) if is_flag(g) => return FLAG_COST,
        AtomKind::Pred(Pred::Glob(g)) => {
            let lit: usize = g
                .parts
                .iter()
                .map(|p| match p {
                    GlobPart::Lit(l) if l.bytes().all(|b| b.is_ascii_digit()) => 1,
                    GlobPart::Lit(l) => l.len(),
                    _ => 0,
                })
                .sum();
            let anchored = !matches!(g.parts.first(), Some(GlobPart::Star)) as usize
                + !matches!(g.parts.last(), Some(GlobPart::Star)) as usize;
            (lit + anchored) as f64
        }
        AtomKind::Pred(Pred::Regex(_)) => 4.0,
        AtomKind::Pred(_) => 1.0,
    };
    1.0 / (1.0 + rarity)
}

/// Cost of a flag test: above any set of literals a rule could list.
const FLAG_COST: f64 = 1e3;

/// An exact boolean value.
fn is_flag(g: &Glob) -> bool {
    matches!(g.parts.as_slice(), [GlobPart::Lit(l)] if l.eq_ignore_ascii_case("true") || l.eq_ignore_ascii_case("false"))
}

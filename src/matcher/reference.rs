//! The reference evaluator: Sigma semantics applied rule by rule, value by
//! value, with no index, no dedup and no trigger selection.
//!
//! It exists to be obviously correct, not fast. The differential tests run
//! random events through both it and [`super::Plan::scan`] and require the
//! same matches; any disagreement is a bug in the fast path.

use super::compile::CompileOptions;
use super::pattern::{compile_item, ItemTest, Pred};
use super::scalar::{parse_ip, parse_number, time_part, Text};
use crate::event::{Kind, ValueRef};
use crate::rules::{Condition, FieldItem, Modifier, Rule};

/// Whether `rule` matches `event`. Items that fail to compile never match.
pub fn matches(rule: &Rule, event: ValueRef<'_, '_>, opts: &CompileOptions) -> bool {
    cond(rule, &rule.detection.condition, event, opts)
}

fn cond(rule: &Rule, c: &Condition, ev: ValueRef<'_, '_>, o: &CompileOptions) -> bool {
    let ident = |n: &String| {
        rule.detection
            .identifier(n)
            .is_some_and(|id| id.groups.iter().any(|g| g.items.iter().all(|i| item(i, ev, o))))
    };
    match c {
        Condition::And(cs) => cs.iter().all(|c| cond(rule, c, ev, o)),
        Condition::Or(cs) => cs.iter().any(|c| cond(rule, c, ev, o)),
        Condition::Not(c) => !cond(rule, c, ev, o),
        Condition::Ident(n) => ident(n),
        Condition::OneOf(ns) => ns.iter().any(ident),
        Condition::AllOf(ns) => ns.iter().all(ident),
    }
}

fn item(it: &FieldItem, ev: ValueRef<'_, '_>, o: &CompileOptions) -> bool {
    let mut it = it.clone();
    let positional = [
        Modifier::Contains,
        Modifier::StartsWith,
        Modifier::EndsWith,
        Modifier::Re,
    ];
    if it.field.is_none() && !it.modifiers.iter().any(|m| positional.contains(m)) {
        it.modifiers.push(Modifier::Contains);
    }
    let Ok(test) = compile_item(&it, &o.placeholders) else {
        return false;
    };
    let values: Vec<ValueRef<'_, '_>> = match &it.field {
        Some(f) => {
            let mut all = Vec::new();
            for p in paths(f, o) {
                ev.any_at(&p, &mut |v| {
                    all.push(v);
                    false
                });
            }
            all
        }
        None => {
            let mut all = Vec::new();
            leaves(ev, &mut all);
            all
        }
    };
    match test {
        ItemTest::Exists(want) => values.is_empty() != want,
        ItemTest::Null => values.iter().all(|v| v.is_null()),
        ItemTest::Values {
            values: vs,
            all,
            negate,
        } => {
            let scalars: Vec<Text<'_>> = values.iter().flat_map(scalars).collect();
            let one = |preds: &Vec<Pred>| preds.iter().any(|p| scalars.iter().any(|t| pred(p, t, ev, o)));
            let hit = if all { vs.iter().all(one) } else { vs.iter().any(one) };
            hit != negate
        }
    }
}

fn paths(field: &str, o: &CompileOptions) -> Vec<String> {
    o.paths(field)
}

fn leaves<'t, 'i>(v: ValueRef<'t, 'i>, out: &mut Vec<ValueRef<'t, 'i>>) {
    match v.kind() {
        Kind::Object(o) => o.entries().for_each(|(_, v)| leaves(v, out)),
        Kind::Array(a) => a.elements().for_each(|v| leaves(v, out)),
        _ => out.push(v),
    }
}

fn scalars<'i>(v: &ValueRef<'_, 'i>) -> Vec<Text<'i>> {
    match v.kind() {
        Kind::Array(a) => a.elements().filter_map(|e| e.text()).collect(),
        _ => v.text().into_iter().collect(),
    }
}

fn pred(p: &Pred, t: &Text<'_>, ev: ValueRef<'_, '_>, o: &CompileOptions) -> bool {
    let s = t.as_str();
    match p {
        Pred::Glob(g) if g.cased => g.is_match(s),
        Pred::Glob(g) => g.is_match(&s.to_lowercase()),
        Pred::Regex(r) => regex_match(r, s),
        Pred::Num(cmp, n) => t.number().or_else(|| parse_number(s)).is_some_and(|v| cmp.holds(v, *n)),
        Pred::Time(part, cmp, n) => time_part(t, *part).is_some_and(|v| cmp.holds(v, *n)),
        Pred::Cidr(c) => parse_ip(s).is_some_and(|ip| c.contains(ip)),
        Pred::FieldRef { field, mode, cased } => {
            let Some(other) = paths(field, o).iter().find_map(|p| ev.lookup(p)).and_then(|v| v.text()) else {
                return false;
            };
            mode.holds(s, other.as_str(), *cased)
        }
    }
}

/// Compiled regexes, cached per thread: the reference is naive about
/// matching, not about compiling the same pattern a million times.
fn regex_match(pattern: &str, text: &str) -> bool {
    thread_local! {
        static CACHE: std::cell::RefCell<std::collections::HashMap<String, Option<fancy_regex::Regex>>> =
            Default::default();
    }
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        let re = c
            .entry(pattern.to_string())
            .or_insert_with(|| fancy_regex::Regex::new(pattern).ok());
        re.as_ref().is_some_and(|re| re.is_match(text).unwrap_or(false))
    })
}

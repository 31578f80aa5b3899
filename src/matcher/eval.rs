//! Matching one event against a [`Plan`]: walk the event once, let each
//! referenced field's index set its atoms, then evaluate only the rules that
//! one of their trigger atoms woke up.

use super::compile::{Expr, FieldRefAtom, LazyTest, Plan, Target, TrieNode};
use super::index::FieldIndex;
use super::scalar::{parse_ip, parse_number, time_part, Text};
use super::scratch::Scratch;
use super::AtomId;
use crate::event::{Kind, ValueRef};

impl Plan {
    /// Matches one event; returns the indexes (into [`Plan::rules`]) of the
    /// rules it matches, ascending. Allocation-free once `scratch` is warm.
    pub fn scan<'s>(&self, event: ValueRef<'_, '_>, s: &'s mut Scratch) -> &'s [u32] {
        self.scan_raw(event, None, s)
    }

    /// As [`Plan::scan`], with the raw JSON of the event: lets keyword rules
    /// skip the walk over every value when none of their literals occurs.
    pub fn scan_raw<'s>(&self, event: ValueRef<'_, '_>, raw: Option<&[u8]>, s: &'s mut Scratch) -> &'s [u32] {
        s.begin(self.atoms.len(), self.rules.len());
        self.walk(0, event, s);
        if let Some(kw) = &self.keywords {
            if self.keywords_possible(raw, s) {
                scan_all_values(kw, event, s);
            }
        }
        for fr in &self.fieldrefs {
            if field_ref_holds(fr, event) {
                s.set(fr.atom);
            }
        }
        let epoch = s.epoch;
        // Only atoms set by the scan wake rules; atoms a condition computes
        // lazily never do (they trigger nothing by construction).
        let woken = s.set_atoms().len();
        for i in 0..woken {
            let a = s.set_atoms()[i] as usize;
            for &r in &self.triggers[a] {
                self.consider(r, epoch, event, s);
            }
        }
        for &r in &self.always {
            self.consider(r, epoch, event, s);
        }
        s.matched.sort_unstable();
        &s.matched
    }

    /// False only when the raw record proves no eager keyword atom can hold.
    fn keywords_possible(&self, raw: Option<&[u8]>, s: &mut Scratch) -> bool {
        let (Some(pf), Some(raw)) = (&self.keyword_prefilter, raw) else {
            return true;
        };
        pf.possible(raw, &mut s.raw_lower)
    }

    #[inline]
    fn consider(&self, r: u32, epoch: u32, event: ValueRef<'_, '_>, s: &mut Scratch) {
        if s.rule_stamp[r as usize] == epoch {
            return;
        }
        s.rule_stamp[r as usize] = epoch;
        let started = s.timing.is_some().then(std::time::Instant::now);
        if self.eval(&self.exprs[r as usize], event, s) {
            s.matched.push(r);
        }
        if let (Some(t0), Some(t)) = (started, &mut s.timing) {
            t.push((r, t0.elapsed().as_nanos() as u64));
        }
    }

    fn eval(&self, e: &Expr, event: ValueRef<'_, '_>, s: &mut Scratch) -> bool {
        match e {
            Expr::Atom(a) => s.is_set(*a) || self.lazy_atom(*a, event, s),
            Expr::Not(e) => !self.eval(e, event, s),
            Expr::And(es) => es.iter().all(|e| self.eval(e, event, s)),
            Expr::Or(es) => es.iter().any(|e| self.eval(e, event, s)),
        }
    }

    /// Computes a lazy atom once per event (memoised in the scratch).
    fn lazy_atom(&self, a: AtomId, event: ValueRef<'_, '_>, s: &mut Scratch) -> bool {
        let Some(lazy) = &self.lazy[a as usize] else {
            return false;
        };
        if let Some(known) = s.lazy_value(a) {
            return known;
        }
        let holds = match lazy.target {
            Target::Field(slot) => self.field_paths[slot as usize]
                .iter()
                .any(|p| event.any_at(p, &mut |v| any_scalar(v, &mut |t| lazy_holds(&lazy.test, t, s)))),
            Target::Keywords => any_leaf(event, &mut |t| lazy_holds(&lazy.test, t, s)),
        };
        s.remember(a, holds);
        holds
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
            if c.children.is_empty() {
                continue;
            }
            // Into nested objects, and into lists of objects (every element).
            match value.kind() {
                Kind::Object(_) => self.walk(child as usize, value, s),
                Kind::Array(items) => items
                    .elements()
                    .filter(|e| e.is_object())
                    .for_each(|e| self.walk(child as usize, e, s)),
                _ => {}
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

pub(super) fn field_ref_holds(fr: &FieldRefAtom, event: ValueRef<'_, '_>) -> bool {
    let first = |paths: &[String]| paths.iter().find_map(|p| event.lookup(p)).and_then(|v| v.text());
    let (Some(left), Some(right)) = (first(&fr.left), first(&fr.right)) else {
        return false;
    };
    fr.mode.holds(left.as_str(), right.as_str(), fr.cased)
}

fn any_scalar(v: ValueRef<'_, '_>, f: &mut dyn FnMut(&Text<'_>) -> bool) -> bool {
    match v.kind() {
        Kind::Array(a) => a.elements().any(|e| e.text().is_some_and(|t| f(&t))),
        _ => v.text().is_some_and(|t| f(&t)),
    }
}

fn any_leaf(v: ValueRef<'_, '_>, f: &mut dyn FnMut(&Text<'_>) -> bool) -> bool {
    match v.kind() {
        Kind::Object(o) => o.entries().any(|(_, v)| any_leaf(v, f)),
        Kind::Array(a) => a.elements().any(|v| any_leaf(v, f)),
        _ => v.text().is_some_and(|t| f(&t)),
    }
}

fn lazy_holds(test: &LazyTest, t: &Text<'_>, s: &mut Scratch) -> bool {
    use super::pattern::Pred;
    let raw = t.as_str();
    match test {
        LazyTest::Glob(g) if g.cased => g.is_match(raw),
        LazyTest::Glob(g) => {
            let lower = s.lowercase(raw);
            let hit = g.is_match(&lower);
            s.recycle_lowercase(lower);
            hit
        }
        LazyTest::Regex(r) => r.is_match(raw),
        LazyTest::Fancy(r) => r.is_match(raw).unwrap_or(false),
        LazyTest::Direct(Pred::Num(cmp, rhs)) => t
            .number()
            .or_else(|| parse_number(raw))
            .is_some_and(|n| cmp.holds(n, *rhs)),
        LazyTest::Direct(Pred::Time(part, cmp, rhs)) => time_part(t, *part).is_some_and(|n| cmp.holds(n, *rhs)),
        LazyTest::Direct(Pred::Cidr(net)) => parse_ip(raw).is_some_and(|ip| net.contains(ip)),
        LazyTest::Direct(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use crate::decode::JsonDecoder;
    use crate::matcher::compile::CompileOptions;
    use crate::matcher::{Plan, Scratch};
    use crate::rules::parse::parse_str;

    fn keyword_plan(keywords: &[&str]) -> Plan {
        let list: String = keywords.iter().map(|k| format!("        - '{k}'\n")).collect();
        let yaml =
            format!("title: t\nid: r1\nlogsource:\n    product: test\ndetection:\n    keywords:\n{list}    condition: keywords\n");
        let (rules, errors) = parse_str(&yaml, Arc::new(PathBuf::from("t.yml")));
        assert!(errors.is_empty(), "{errors:?}");
        let rules: Vec<_> = rules.into_iter().map(Arc::new).collect();
        let (plan, errors) = Plan::compile(&rules, &CompileOptions::default());
        assert!(errors.is_empty(), "{errors:?}");
        plan
    }

    /// Scans with and without the raw record; both must agree.
    fn matches(plan: &Plan, record: &str) -> bool {
        let mut dec = JsonDecoder::new(1 << 20);
        let ev = dec.decode(record.as_bytes()).expect("test record is JSON");
        let mut s = Scratch::new();
        let plain = !plan.scan(ev.root(), &mut s).is_empty();
        let raw = !plan.scan_raw(ev.root(), Some(record.as_bytes()), &mut s).is_empty();
        assert_eq!(plain, raw, "raw prefilter changed the result on {record}");
        raw
    }

    #[test]
    fn keyword_prefilter_handles_json_escapes() {
        let plan = keyword_plan(&[r"\mimilib.dll", r#"say "hi""#, "a/b", "kiwi"]);
        assert!(plan.keyword_prefilter.is_some());
        assert!(matches(&plan, r#"{"f":"C:\\Temp\\MIMILIB.DLL"}"#));
        assert!(matches(&plan, r#"{"f":"C:\\Temp\u005cmimilib.dll"}"#));
        assert!(matches(&plan, r#"{"f":"x \u0022say \"hi\""}"#));
        assert!(matches(&plan, r#"{"f":"a\/b"}"#));
        assert!(matches(&plan, r#"{"f":"A/B"}"#));
        assert!(!matches(&plan, r#"{"f":"C:\\Users\\mimilib.dl"}"#));
        assert!(!matches(&plan, r#"{"f":"C:\\Users\\x","g":"a\\/b"}"#));
        // Windows paths do not defeat the prefilter; optional escapes do.
        let mut s = Scratch::new();
        assert!(!plan.keywords_possible(Some(br#"{"f":"C:\\Users\\x"}"#), &mut s));
        assert!(plan.keywords_possible(Some(br#"{"f":"C:\\Users\u0020x"}"#), &mut s));
        // Non-ASCII text is searched too, unless it may lowercase to a literal.
        assert!(!plan.keywords_possible(Some("{\"f\":\"C:\\\\Us\u{e9}rs\"}".as_bytes()), &mut s));
        assert!(matches(&plan, "{\"f\":\"\u{212A}IWI\"}"));
        assert!(matches(&plan, "{\"f\":\"KIW\u{130}\"}"));
    }

    /// Field paths run through lists of objects (Okta `target[]`, CloudTrail
    /// `items[]`): a rule holds when any element does — indexed atoms (the
    /// walk), lazy atoms (regex, numbers, `exists`) and the reference alike.
    #[test]
    fn paths_through_lists_of_objects() {
        let yaml = r#"
title: indexed
id: r-eq
logsource: {product: test}
detection:
    s: {target.alternateId: mallory@example.com}
    condition: s
---
title: lazy
id: r-re
logsource: {product: test}
detection:
    s: {req.perms.items.ranges.items.cidr|re: '^0\.0\.0\.0/0$'}
    condition: s
---
title: number and exists
id: r-num
logsource: {product: test}
detection:
    s:
        target.port|gte: 1024
        target.type|exists: true
    condition: s
"#;
        let (rules, errors) = parse_str(yaml, Arc::new(PathBuf::from("t.yml")));
        assert!(errors.is_empty(), "{errors:?}");
        let rules: Vec<_> = rules.into_iter().map(Arc::new).collect();
        let opts = CompileOptions::default();
        let (plan, errors) = Plan::compile(&rules, &opts);
        assert!(errors.is_empty(), "{errors:?}");
        let ids = |record: &str| -> Vec<String> {
            let mut dec = JsonDecoder::new(1 << 20);
            let ev = dec.decode(record.as_bytes()).expect("JSON");
            let mut s = Scratch::new();
            let fast: Vec<String> = plan
                .scan(ev.root(), &mut s)
                .iter()
                .map(|&i| plan.rules[i as usize].key().to_string())
                .collect();
            let slow: Vec<String> = rules
                .iter()
                .filter(|r| crate::matcher::reference::matches(r, ev.root(), &opts))
                .map(|r| r.key().to_string())
                .collect();
            assert_eq!(fast, slow, "fast path and reference differ on {record}");
            fast
        };
        let okta = r#"{"target":[{"alternateId":"bob@example.com","type":"User"},{"alternateId":"mallory@example.com","port":8443}]}"#;
        assert_eq!(ids(okta), ["r-eq", "r-num"]);
        assert_eq!(ids(r#"{"target":{"alternateId":"mallory@example.com"}}"#), ["r-eq"]);
        assert_eq!(
            ids(r#"{"target":[{"alternateId":"bob@example.com"},"mallory@example.com"]}"#),
            Vec::<String>::new()
        );
        let trail = r#"{"req":{"perms":{"items":[{"ranges":{"items":[{"cidr":"10.0.0.0/8"}]}},{"ranges":{"items":[{"cidr":"0.0.0.0/0"}]}}]}}}"#;
        assert_eq!(ids(trail), ["r-re"]);
        assert_eq!(ids(&trail.replace("0.0.0.0/0", "192.0.2.0/24")), Vec::<String>::new());
    }
}

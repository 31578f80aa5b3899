//! Loading rule files and directories, and linking correlation rules to the rules they reference.
//!
//! Contract:
//! - Each path is a file (loaded whatever its extension) or a directory, walked
//!   recursively for files ending `.yml` / `.yaml`. Hidden entries (name starting
//!   with `.`, e.g. `.git` or editor lock files) are skipped while walking, and
//!   symlinked directories are not followed (no cycles); symlinked files are read.
//! - Order is deterministic: the files under each given path are sorted by path;
//!   a file reached twice is loaded once.
//! - Nothing stops the load: unreadable files (`Io`), YAML and rule errors are all
//!   collected. A rule whose `id` was already loaded is dropped with a
//!   [`RuleErrorKind::DuplicateRuleId`] error at the second occurrence.
//! - Correlation rules are collected from every file (a correlation may sit in
//!   the same multi-document file as its rules or anywhere else) and then
//!   [`link`]ed: after loading, every reference of every correlation in
//!   [`LoadedRules::correlations`] resolves to exactly one detection or
//!   correlation rule, by `id` or `name`, and correlations do not reference each
//!   other in a cycle. Correlations that fail this are dropped, with their errors.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::ast::{CorrelationRule, Location, Rule};
use super::error::{RuleError, RuleErrorKind};
use super::parse::parse_file;

/// The outcome of loading: the valid rules, every error, and how many files were read.
#[derive(Debug, Default)]
pub struct LoadedRules {
    pub rules: Vec<Rule>,
    /// Correlation rules whose references all resolve (see [`link`]).
    pub correlations: Vec<CorrelationRule>,
    pub errors: Vec<RuleError>,
    /// Rule files attempted (read or not).
    pub files: usize,
}

/// What a rule reference resolves to: an index into [`LoadedRules::rules`] or [`LoadedRules::correlations`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Detection(usize),
    Correlation(usize),
}

impl LoadedRules {
    /// The one rule whose `id` or `name` is `reference`; `None` when no rule or
    /// more than one matches (a linked correlation's references always resolve).
    pub fn resolve(&self, reference: &str) -> Option<Target> {
        resolve(&self.rules, &self.correlations, reference)
    }

    /// Links [`LoadedRules::correlations`] (see [`link`]), appending the errors.
    /// For callers that build a `LoadedRules` themselves; [`load_paths`] already links.
    pub fn link(&mut self) {
        let errors = link(&self.rules, &mut self.correlations);
        self.errors.extend(errors);
    }
}

/// The one rule of `rules` or `correlations` whose `id` or `name` is `reference`.
pub fn resolve(rules: &[Rule], correlations: &[CorrelationRule], reference: &str) -> Option<Target> {
    let mut found = None;
    let detections = rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.id.as_deref() == Some(reference) || r.name.as_deref() == Some(reference))
        .map(|(i, _)| Target::Detection(i));
    let corrs = correlations
        .iter()
        .enumerate()
        .filter(|(_, c)| c.id.as_deref() == Some(reference) || c.name.as_deref() == Some(reference))
        .map(|(i, _)| Target::Correlation(i));
    for t in detections.chain(corrs) {
        if found.replace(t).is_some() {
            return None;
        }
    }
    found
}

fn file_error(path: &Path, kind: RuleErrorKind) -> RuleError {
    RuleError::new(
        Location {
            file: Arc::new(path.to_path_buf()),
            line: 1,
            column: 1,
        },
        kind,
    )
}

fn is_rule_file(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// Collects rule files under `dir` (unsorted) into `out`.
fn walk(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<RuleError>) {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(file_error(dir, RuleErrorKind::Io(e.to_string())));
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                errors.push(file_error(dir, RuleErrorKind::Io(e.to_string())));
                continue;
            }
        };
        let path = entry.path();
        if is_hidden(&path) {
            continue;
        }
        let Ok(ft) = entry.file_type() else {
            errors.push(file_error(&path, RuleErrorKind::Io("cannot read file type".into())));
            continue;
        };
        if ft.is_dir() {
            walk(&path, out, errors);
        } else if is_rule_file(&path) && !(ft.is_symlink() && path.is_dir()) {
            out.push(path);
        }
    }
}

/// Loads every rule under `paths` (files or directories).
/// The rule files `paths` name (directories searched recursively), sorted:
/// what [`load_paths`] reads, for watching them.
pub fn rule_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found, &mut errors);
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    files
}

pub fn load_paths(paths: &[PathBuf]) -> LoadedRules {
    let mut loaded = LoadedRules::default();
    let mut files = Vec::new();
    for path in paths {
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                let mut found = Vec::new();
                walk(path, &mut found, &mut loaded.errors);
                found.sort();
                files.extend(found);
            }
            Ok(_) => files.push(path.clone()),
            Err(e) => loaded.errors.push(file_error(path, RuleErrorKind::Io(e.to_string()))),
        }
    }

    let mut seen_files = HashSet::new();
    let mut ids: HashMap<String, Location> = HashMap::new();
    for path in files {
        if !seen_files.insert(path.clone()) {
            continue;
        }
        loaded.files += 1;
        let text = match fs::read(&path).map(String::from_utf8) {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                loaded
                    .errors
                    .push(file_error(&path, RuleErrorKind::Io(format!("not valid UTF-8: {e}"))));
                continue;
            }
            Err(e) => {
                loaded.errors.push(file_error(&path, RuleErrorKind::Io(e.to_string())));
                continue;
            }
        };
        let parsed = parse_file(&text, Arc::new(path));
        loaded.errors.extend(parsed.errors);
        loaded.correlations.extend(parsed.correlations);
        for rule in parsed.rules {
            if let Some(id) = &rule.id {
                if let Some(first) = ids.get(id) {
                    loaded.errors.push(
                        RuleError::new(
                            rule.location.clone(),
                            RuleErrorKind::DuplicateRuleId {
                                id: id.clone(),
                                first: first.clone(),
                            },
                        )
                        .with_rule(id.clone()),
                    );
                    continue;
                }
                ids.insert(id.clone(), rule.location.clone());
            }
            loaded.rules.push(rule);
        }
    }
    loaded.link();
    loaded
}

/// Checks the references of `correlations` against `rules` and each other, and
/// removes the correlations that fail, returning their errors (each at the
/// offending rule or reference, naming the correlation):
///
/// - a rule (detection or correlation) whose `id` or `name` another rule already
///   has: [`RuleErrorKind::DuplicateRuleId`] / [`RuleErrorKind::DuplicateRuleName`]
///   at the later one (detection rules count as earlier than correlations, which
///   are in the order given); a duplicate correlation is removed, a duplicate
///   detection rule is only reported (it is not ours to remove);
/// - every entry of `rules` and every rule key of `aliases` must match exactly one
///   rule by `id` or `name` ([`RuleErrorKind::UnknownReference`],
///   [`RuleErrorKind::AmbiguousReference`]), and alias keys must name one of the
///   correlation's own `rules`;
/// - correlations must not reference each other in a cycle
///   ([`RuleErrorKind::CorrelationCycle`], reported once per cycle, at the
///   reference that starts it in its first correlation);
/// - a correlation that references a removed correlation is removed too
///   ([`RuleErrorKind::BrokenReference`]).
pub fn link(rules: &[Rule], correlations: &mut Vec<CorrelationRule>) -> Vec<RuleError> {
    let mut errors = Vec::new();
    let n = correlations.len();
    let mut bad = vec![false; n];
    let corrs: &[CorrelationRule] = correlations;

    // Unique ids and names; the first holder of each keeps it.
    let mut ids: HashMap<&str, &Location> = HashMap::new();
    let mut names: HashMap<&str, &Location> = HashMap::new();
    let holders = rules
        .iter()
        .map(|r| (None, r.id.as_deref(), r.name.as_deref(), r.key(), &r.location))
        .chain(
            corrs
                .iter()
                .enumerate()
                .map(|(i, c)| (Some(i), c.id.as_deref(), c.name.as_deref(), c.key(), &c.location)),
        );
    for (corr, id, name, key, location) in holders {
        let mut duplicate = |kind: RuleErrorKind| {
            errors.push(RuleError::new(location.clone(), kind).with_rule(key));
            if let Some(i) = corr {
                bad[i] = true;
            }
        };
        if let Some(id) = id {
            match ids.get(id) {
                Some(first) => duplicate(RuleErrorKind::DuplicateRuleId {
                    id: id.to_owned(),
                    first: (*first).clone(),
                }),
                None => {
                    ids.insert(id, location);
                }
            }
        }
        if let Some(name) = name {
            match names.get(name) {
                Some(first) => duplicate(RuleErrorKind::DuplicateRuleName {
                    name: name.to_owned(),
                    first: (*first).clone(),
                }),
                None => {
                    names.insert(name, location);
                }
            }
        }
    }

    // Every id and name → the rules holding it (duplicate correlations left out).
    fn add<'a>(index: &mut HashMap<&'a str, Vec<Target>>, keys: [Option<&'a str>; 2], t: Target) {
        for key in keys.into_iter().flatten() {
            let v = index.entry(key).or_default();
            if !v.contains(&t) {
                v.push(t);
            }
        }
    }
    let mut index: HashMap<&str, Vec<Target>> = HashMap::new();
    for (i, r) in rules.iter().enumerate() {
        add(&mut index, [r.id.as_deref(), r.name.as_deref()], Target::Detection(i));
    }
    for (i, c) in corrs.iter().enumerate().filter(|&(i, _)| !bad[i]) {
        add(&mut index, [c.id.as_deref(), c.name.as_deref()], Target::Correlation(i));
    }
    let location_of = |t: Target| match t {
        Target::Detection(i) => rules[i].location.clone(),
        Target::Correlation(i) => corrs[i].location.clone(),
    };

    // Resolve references; `edges[i]`: the correlations `i` references, with the reference.
    let mut edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    for (i, c) in corrs.iter().enumerate() {
        if bad[i] {
            continue;
        }
        let mut fail = |location: &Location, kind: RuleErrorKind, bad: &mut Vec<bool>| {
            errors.push(RuleError::new(location.clone(), kind).with_rule(c.key()));
            bad[i] = true;
        };
        let lookup = |reference: &str| -> Result<Target, RuleErrorKind> {
            match index.get(reference).map(Vec::as_slice) {
                None | Some([]) => Err(RuleErrorKind::UnknownReference {
                    reference: reference.to_owned(),
                }),
                Some([t]) => Ok(*t),
                Some(many) => Err(RuleErrorKind::AmbiguousReference {
                    reference: reference.to_owned(),
                    matches: many.iter().map(|&t| location_of(t)).collect(),
                }),
            }
        };
        let mut targets = Vec::new();
        for (r, rule_ref) in c.rules.iter().enumerate() {
            match lookup(&rule_ref.reference) {
                Ok(t) => {
                    if targets.contains(&t) {
                        fail(
                            &rule_ref.location,
                            RuleErrorKind::InvalidCorrelation(format!(
                                "`{}` names a rule that `rules` already lists under another id or name",
                                rule_ref.reference
                            )),
                            &mut bad,
                        );
                    }
                    if let Target::Correlation(j) = t {
                        edges[i].push((j, r));
                    }
                    targets.push(t);
                }
                Err(kind) => fail(&rule_ref.location, kind, &mut bad),
            }
        }
        for alias in &c.aliases {
            for (reference, _) in &alias.fields {
                match lookup(reference) {
                    Ok(t) if targets.contains(&t) => {}
                    Ok(_) => fail(
                        &alias.location,
                        RuleErrorKind::InvalidCorrelation(format!(
                            "alias `{}` maps rule `{reference}`, which is not one of this correlation's `rules`",
                            alias.name
                        )),
                        &mut bad,
                    ),
                    Err(kind) => fail(&alias.location, kind, &mut bad),
                }
            }
        }
    }

    // Cycles: for each correlation in order, the shortest path back to itself.
    for start in 0..n {
        if bad[start] {
            continue;
        }
        let Some(cycle) = find_cycle(start, &edges, &bad) else {
            continue;
        };
        let path: Vec<&str> = cycle
            .iter()
            .map(|&i| corrs[i].key())
            .chain([corrs[start].key()])
            .collect();
        let first_ref = edges[start]
            .iter()
            .find(|&&(j, _)| j == *cycle.get(1).unwrap_or(&start))
            .map(|&(_, r)| &corrs[start].rules[r]);
        let location = first_ref.map_or_else(|| corrs[start].location.clone(), |r| r.location.clone());
        errors.push(
            RuleError::new(
                location,
                RuleErrorKind::CorrelationCycle {
                    path: path.join(" -> "),
                },
            )
            .with_rule(corrs[start].key()),
        );
        for i in cycle {
            bad[i] = true;
        }
    }

    // Correlations that reference removed correlations, until nothing changes.
    loop {
        let mut changed = false;
        for i in 0..n {
            if bad[i] {
                continue;
            }
            if let Some(&(_, r)) = edges[i].iter().find(|&&(j, _)| bad[j]) {
                let rule_ref = &corrs[i].rules[r];
                errors.push(
                    RuleError::new(
                        rule_ref.location.clone(),
                        RuleErrorKind::BrokenReference {
                            reference: rule_ref.reference.clone(),
                        },
                    )
                    .with_rule(corrs[i].key()),
                );
                bad[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }

    let mut keep = bad.iter().map(|b| !b);
    correlations.retain(|_| keep.next().unwrap_or(true));
    errors
}

/// The correlations on a shortest cycle through `start` (starting with `start`), skipping `bad` ones.
fn find_cycle(start: usize, edges: &[Vec<(usize, usize)>], bad: &[bool]) -> Option<Vec<usize>> {
    let mut parent: Vec<Option<usize>> = vec![None; edges.len()];
    let mut queue = std::collections::VecDeque::from([start]);
    let mut seen = vec![false; edges.len()];
    while let Some(i) = queue.pop_front() {
        for &(j, _) in &edges[i] {
            if bad[j] {
                continue;
            }
            if j == start {
                let mut path = vec![i];
                let mut at = i;
                while let Some(p) = parent[at] {
                    path.push(p);
                    at = p;
                }
                if *path.last().unwrap_or(&start) != start {
                    path.push(start);
                }
                path.reverse();
                return Some(path);
            }
            if !seen[j] {
                seen[j] = true;
                parent[j] = Some(i);
                queue.push_back(j);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = "title: T\nid: ID\nlogsource: {product: windows}\ndetection:\n  sel: {a: 1}\n  condition: sel\n";

    #[test]
    fn walks_sorted_skips_hidden_and_other_extensions() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("b/sub")).unwrap();
        fs::create_dir_all(d.join(".git")).unwrap();
        fs::write(d.join("b/sub/z.yml"), RULE.replace("ID", "1")).unwrap();
        fs::write(d.join("b/a.yaml"), RULE.replace("ID", "2")).unwrap();
        fs::write(d.join("a.yml"), RULE.replace("ID", "3")).unwrap();
        fs::write(d.join("notes.txt"), "not a rule").unwrap();
        fs::write(d.join(".hidden.yml"), "{{{").unwrap();
        fs::write(d.join(".git/x.yml"), "{{{").unwrap();
        let loaded = load_paths(&[d.to_path_buf()]);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        assert_eq!(loaded.files, 3);
        let ids: Vec<_> = loaded.rules.iter().map(|r| r.key()).collect();
        assert_eq!(ids, ["3", "2", "1"]);
    }

    #[test]
    fn explicit_file_any_extension_and_dedup() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("rule.txt");
        fs::write(&f, RULE).unwrap();
        let loaded = load_paths(&[f.clone(), f]);
        assert_eq!((loaded.files, loaded.rules.len()), (1, 1));
        assert!(loaded.errors.is_empty());
    }

    #[test]
    fn io_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.yml");
        let bad = dir.path().join("bad.yml");
        fs::write(&bad, b"title: \xff\xfe\n").unwrap();
        let loaded = load_paths(&[missing, bad]);
        assert_eq!(loaded.errors.len(), 2);
        assert!(loaded.errors.iter().all(|e| matches!(e.kind, RuleErrorKind::Io(_))));
        assert!(loaded.errors[1].to_string().contains("UTF-8"));
    }

    #[test]
    fn duplicate_ids() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.yml"), RULE).unwrap();
        fs::write(
            dir.path().join("b.yml"),
            format!("{RULE}---\n{}", RULE.replace("ID", "OTHER")),
        )
        .unwrap();
        let loaded = load_paths(&[dir.path().to_path_buf()]);
        assert_eq!(loaded.rules.len(), 2);
        assert_eq!(loaded.errors.len(), 1);
        let e = &loaded.errors[0];
        assert!(e.location.file.ends_with("b.yml"));
        assert_eq!(e.location.line, 1);
        assert_eq!(e.rule.as_deref(), Some("ID"));
        match &e.kind {
            RuleErrorKind::DuplicateRuleId { id, first } => {
                assert_eq!(id, "ID");
                assert!(first.file.ends_with("a.yml"));
            }
            other => panic!("{other:?}"),
        }
    }
}

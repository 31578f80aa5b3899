//! Loading rule files and directories.
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

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::ast::{Location, Rule};
use super::error::{RuleError, RuleErrorKind};
use super::parse::parse_str;

/// The outcome of loading: the valid rules, every error, and how many files were read.
#[derive(Debug, Default)]
pub struct LoadedRules {
    pub rules: Vec<Rule>,
    pub errors: Vec<RuleError>,
    /// Rule files attempted (read or not).
    pub files: usize,
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
        let (rules, errors) = parse_str(&text, Arc::new(path));
        loaded.errors.extend(errors);
        for rule in rules {
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
    loaded
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

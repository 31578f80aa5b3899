//! Loading rule directories: every broken rule is reported with its precise
//! error kind and line, good rules still load, and the SigmaHQ corpus parses.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use tocsin::rules::{load_paths, RuleError, RuleErrorKind};

const GOOD: &str = r#"title: Good Rule
id: 00000000-0000-0000-0000-000000000001
status: test
level: medium
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\cmd.exe'
        EventID: 00000429
    filter_main:
        User|startswith: 'NT AUTHORITY\'
    condition: selection and not 1 of filter_*
"#;

/// A valid rule with `id` replaced, for building broken variants.
fn good(id: &str) -> String {
    GOOD.replace("00000000-0000-0000-0000-000000000001", id)
}

/// A broken file: its text, and the expected error line and kind.
struct Broken {
    file: &'static str,
    text: String,
    line: usize,
    kind: fn(&RuleErrorKind) -> bool,
}

fn broken_cases() -> Vec<Broken> {
    use RuleErrorKind as K;
    vec![
        Broken {
            file: "no_logsource.yml",
            text: good("b01").replace("logsource:\n    product: windows\n    category: process_creation\n", ""),
            line: 1,
            kind: |k| *k == K::MissingKey("logsource".into()),
        },
        Broken {
            file: "null_in_list.yml",
            text: good("b02").replace(
                "        EventID: 00000429\n",
                "        EventID:\n            - 1\n            - null\n",
            ),
            line: 13,
            kind: |k| matches!(k, K::InvalidValue(m) if m.contains("null inside a value list")),
        },
        Broken {
            file: "exists_not_bool.yml",
            text: good("b03").replace("EventID: 00000429", "EventID|exists: 'yes'"),
            line: 11,
            kind: |k| matches!(k, K::InvalidValue(m) if m.contains("exists")),
        },
        Broken {
            file: "plain_string_identifier.yml",
            text: good("b04").replace(
                "    filter_main:\n        User|startswith: 'NT AUTHORITY\\'\n",
                "    filter_main: SYSTEM\n",
            ),
            line: 12,
            kind: |k| {
                matches!(k, K::InvalidSearchIdentifier { name, reason }
                    if name == "filter_main" && reason.contains("must be a map or a list"))
            },
        },
        Broken {
            file: "unknown_modifier.yml",
            text: good("b05").replace("Image|endswith", "Image|endswtih"),
            line: 10,
            kind: |k| *k == K::UnknownModifier("endswtih".into()),
        },
        Broken {
            file: "i_without_re.yml",
            text: good("b06").replace("Image|endswith", "Image|endswith|i"),
            line: 10,
            kind: |k| matches!(k, K::InvalidModifiers(m) if m.contains("only valid after `re`")),
        },
        Broken {
            file: "bad_combination.yml",
            text: good("b07").replace("Image|endswith", "Image|re|endswith"),
            line: 10,
            kind: |k| matches!(k, K::InvalidModifiers(m) if m.contains("`re` cannot be combined with `endswith`")),
        },
        Broken {
            file: "yaml_syntax.yml",
            text: good("b08").replace("    filter_main:\n", "   filter_main:\n"),
            line: 12,
            kind: |k| matches!(k, K::Yaml(_)),
        },
        Broken {
            file: "unknown_identifier.yml",
            text: good("b09").replace("condition: selection and", "condition: selecton and"),
            line: 14,
            kind: |k| *k == K::UnknownIdentifier("selecton".into()),
        },
        Broken {
            file: "pattern_nothing.yml",
            text: good("b10").replace("1 of filter_*", "1 of filters_*"),
            line: 14,
            kind: |k| *k == K::PatternMatchesNothing("filters_*".into()),
        },
        Broken {
            file: "aggregation.yml",
            text: good("b11").replace(
                "condition: selection and not 1 of filter_*",
                "condition: selection | count() by Computer > 10",
            ),
            line: 14,
            kind: |k| *k == K::Aggregation("count() by Computer > 10".into()),
        },
        Broken {
            file: "bad_condition.yml",
            text: good("b12").replace("condition: selection and not", "condition: (selection and not"),
            line: 14,
            kind: |k| matches!(k, K::BadCondition(m) if m.contains("missing `)`")),
        },
        Broken {
            file: "bad_level.yml",
            text: good("b13").replace("level: medium", "level: severe"),
            line: 4,
            kind: |k| matches!(k, K::InvalidKey { key, .. } if key == "level"),
        },
        Broken {
            file: "timeframe.yml",
            text: good("b14").replace("    condition:", "    timeframe: 5m\n    condition:"),
            line: 14,
            kind: |k| matches!(k, K::Unsupported(m) if m.contains("timeframe")),
        },
        Broken {
            file: "duplicate_identifier.yml",
            text: good("b15").replace(
                "    filter_main:\n",
                "    selection:\n        User: x\n    filter_main:\n",
            ),
            line: 12,
            kind: |k| *k == K::DuplicateKey("selection".into()),
        },
        Broken {
            file: "correlation.yml",
            text: "title: Many failures\nid: b16\ncorrelation:\n    type: event_count\n    rules: [x]\n    condition: {gte: 3}\n".into(),
            line: 3,
            kind: |k| *k == K::MissingKey("correlation.timespan".into()),
        },
        Broken {
            file: "v1_collection.yml",
            text: "action: global\ntitle: Old style\nlogsource:\n    product: windows\n".into(),
            line: 1,
            kind: |k| matches!(k, K::Unsupported(m) if m.contains("Sigma 2")),
        },
        Broken {
            file: "no_title.yml",
            text: good("b18").replace("title: Good Rule\n", ""),
            line: 1,
            kind: |k| *k == K::MissingKey("title".into()),
        },
        Broken {
            file: "extension_typo.yml",
            text: format!("{}tocsin:\n    supress: 10m\n", good("b19")),
            line: 16,
            kind: |k| matches!(k, K::InvalidKey { key, reason } if key == "tocsin.supress" && reason.contains("unknown key")),
        },
        Broken {
            file: "extension_bad_duration.yml",
            text: format!("{}tocsin:\n    suppress: 10 minutes\n", good("b20")),
            line: 16,
            kind: |k| matches!(k, K::InvalidKey { key, reason } if key == "tocsin.suppress" && reason.contains("not a duration")),
        },
        Broken {
            // Sorted after `good.yml`, so this is the second occurrence of the id.
            file: "zz_duplicate_id.yml",
            text: GOOD.to_string(),
            line: 1,
            kind: |k| {
                matches!(k, K::DuplicateRuleId { id, first }
                    if id == "00000000-0000-0000-0000-000000000001" && first.file.ends_with("good.yml"))
            },
        },
    ]
}

fn write(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, text).unwrap();
    path
}

fn file_name(e: &RuleError) -> String {
    e.location.file.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn broken_rules_report_kind_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "good.yml", GOOD.as_bytes());
    write(d, "sub/good2.yaml", good("good-2").as_bytes());
    write(d, "sub/README.md", b"# not a rule");
    write(d, ".git/config.yml", b"{{{ not loaded");
    // Two rules in one file, then an empty trailing document.
    write(
        d,
        "multi.yml",
        format!("{}---\n{}---\n", good("multi-1"), good("multi-2")).as_bytes(),
    );
    // A multi-document file whose middle document is broken (line 27 = 15 + 12).
    write(
        d,
        "multi_broken.yml",
        format!(
            "{}---\n{}---\n{}",
            good("mb-1"),
            good("mb-2").replace(
                "    filter_main:\n        User|startswith: 'NT AUTHORITY\\'\n",
                "    filter_main: oops\n"
            ),
            good("mb-3")
        )
        .as_bytes(),
    );
    write(d, "not_utf8.yml", b"title: \xff\xfe\n");
    let cases = broken_cases();
    for c in &cases {
        write(d, c.file, c.text.as_bytes());
    }

    let loaded = load_paths(&[d.to_path_buf()]);
    for e in &loaded.errors {
        eprintln!("{e}");
    }

    let keys: Vec<&str> = loaded.rules.iter().map(|r| r.key()).collect();
    assert_eq!(
        keys,
        [
            "00000000-0000-0000-0000-000000000001",
            "multi-1",
            "multi-2",
            "mb-1",
            "mb-3",
            "good-2"
        ]
    );
    assert_eq!(loaded.files, cases.len() + 5);

    let mut by_file: BTreeMap<String, Vec<&RuleError>> = BTreeMap::new();
    for e in &loaded.errors {
        by_file.entry(file_name(e)).or_default().push(e);
    }
    for c in &cases {
        let errs = by_file
            .remove(c.file)
            .unwrap_or_else(|| panic!("{}: no error reported", c.file));
        assert_eq!(errs.len(), 1, "{}: {errs:#?}", c.file);
        let e = errs[0];
        assert!((c.kind)(&e.kind), "{}: unexpected kind {:?}", c.file, e.kind);
        assert_eq!(e.location.line, c.line, "{}: wrong line for {e}", c.file);
        assert!(e.location.column >= 1);
    }

    let mb = by_file.remove("multi_broken.yml").expect("multi_broken.yml error");
    assert_eq!(mb.len(), 1);
    assert!(matches!(mb[0].kind, RuleErrorKind::InvalidSearchIdentifier { .. }));
    assert_eq!(mb[0].location.line, 27);
    assert_eq!(mb[0].rule.as_deref(), Some("mb-2"));

    let io = by_file.remove("not_utf8.yml").expect("not_utf8.yml error");
    assert!(matches!(io[0].kind, RuleErrorKind::Io(_)));

    assert!(by_file.is_empty(), "unexpected errors: {by_file:#?}");

    // Errors name their rule once the id is known.
    let e = loaded
        .errors
        .iter()
        .find(|e| file_name(e) == "unknown_modifier.yml")
        .unwrap();
    assert_eq!(e.rule.as_deref(), Some("b05"));
    assert!(
        e.to_string()
            .contains("unknown_modifier.yml:10:9: rule b05: unknown modifier `endswtih`"),
        "{e}"
    );
}

#[test]
fn missing_path_is_an_io_error() {
    let loaded = load_paths(&[PathBuf::from("/nonexistent/tocsin/rules")]);
    assert_eq!(loaded.files, 0);
    assert_eq!(loaded.errors.len(), 1);
    assert!(matches!(loaded.errors[0].kind, RuleErrorKind::Io(_)));
}

#[test]
fn sigmahq_corpus_parses() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/sigma/rules"));
    assert!(root.is_dir(), "SigmaHQ corpus not found at {}", root.display());
    let loaded = load_paths(&[root.to_path_buf()]);

    let mut rejected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in &loaded.errors {
        rejected
            .entry(e.location.file.display().to_string())
            .or_default()
            .push(e.to_string());
    }
    for (file, reasons) in &rejected {
        eprintln!("rejected {file}:");
        for r in reasons {
            eprintln!("    {r}");
        }
    }
    let parsed_files = loaded.files - rejected.len();
    eprintln!(
        "SigmaHQ corpus: {} files, {} rules parsed, {} files rejected",
        loaded.files,
        loaded.rules.len(),
        rejected.len()
    );
    assert!(loaded.files > 3000, "only {} rule files found", loaded.files);
    assert!(
        parsed_files * 100 >= loaded.files * 99,
        "only {parsed_files} of {} files parsed",
        loaded.files
    );
    for r in &loaded.rules {
        assert!(!r.detection.identifiers.is_empty(), "{}", r.location);
        for s in &r.detection.identifiers {
            for g in &s.groups {
                for i in &g.items {
                    assert!(!i.values.is_empty(), "{}", i.location);
                }
            }
        }
    }
}

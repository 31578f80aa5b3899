//! The embedded default: sample rules, config and events compiled into the
//! binary, so `tocsin run` with no arguments shows real alerts from any
//! directory with nothing else installed.

use std::path::PathBuf;
use std::sync::Arc;

use include_dir::{include_dir, Dir};

use crate::config::{Config, ConfigError};
use crate::rules::{parse::parse_file, LoadedRules};

static RULES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/rules");
static SAMPLES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/samples");

/// The shipped rule pack, parsed from the embedded copy of `rules/`.
pub fn rules() -> LoadedRules {
    let files = rule_files();
    let mut out = LoadedRules {
        rules: Vec::new(),
        correlations: Vec::new(),
        errors: Vec::new(),
        files: files.len(),
    };
    for (path, text) in files {
        let parsed = parse_file(text, Arc::new(path));
        out.rules.extend(parsed.rules);
        out.correlations.extend(parsed.correlations);
        out.errors.extend(parsed.errors);
    }
    out.link();
    out
}

/// The embedded rule files (`rules/...` paths, sorted) and their text.
pub fn rule_files() -> Vec<(PathBuf, &'static str)> {
    let mut files: Vec<_> = Vec::new();
    collect(&RULES, &mut files);
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
        .into_iter()
        .map(|(path, text)| (PathBuf::from("rules").join(path), text))
        .collect()
}

fn collect<'a>(dir: &'a Dir<'a>, out: &mut Vec<(PathBuf, &'a str)>) {
    for f in dir.files() {
        let p = f.path();
        if matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
            if let Some(t) = f.contents_utf8() {
                out.push((p.to_path_buf(), t));
            }
        }
    }
    for d in dir.dirs() {
        collect(d, out);
    }
}

/// The sample config (`samples/tocsin.toml`).
pub fn config() -> Result<Config, ConfigError> {
    let text = SAMPLES
        .get_file("tocsin.toml")
        .and_then(|f| f.contents_utf8())
        .unwrap_or_default();
    Config::parse_with_env(text, "samples/tocsin.toml", std::env::vars())
}

/// The sample event files, in the order the demo produces them.
pub const EVENT_FILES: [&str; 2] = ["events.ndjson", "bastion.ndjson"];

/// The sample events: `samples/events.ndjson`, then `samples/bastion.ndjson`
/// (a bastion's raw syslog sshd lines and a file-integrity event).
pub fn events() -> Vec<u8> {
    let mut out = Vec::new();
    for name in EVENT_FILES {
        if let Some(f) = SAMPLES.get_file(name) {
            out.extend_from_slice(f.contents());
            if !out.ends_with(b"\n") {
                out.push(b'\n');
            }
        }
    }
    out
}

//! Helpers shared by the integration tests: run the real `tocsin` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tocsin"))
}

/// `../shared` beside the checkout.
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("spawn tocsin")
}

pub fn stdout_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("alert line is not JSON ({e}): {l}")))
        .collect()
}

pub fn file_lines(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("line is not JSON ({e}): {l}")))
        .collect()
}

/// Checks alerts against `schemas/alert.schema.json`, the contract with consumers.
pub fn assert_schema_valid(alerts: &[serde_json::Value]) {
    let text = std::fs::read_to_string(repo().join("schemas/alert.schema.json")).expect("alert schema");
    let schema =
        jsonschema::validator_for(&serde_json::from_str(&text).expect("schema is JSON")).expect("valid schema");
    for a in alerts {
        let errors: Vec<String> = schema
            .iter_errors(a)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "alert violates schema: {errors:?}\n{a}");
    }
}

//! The replay progress bar: never on redirected stderr, shown on a terminal
//! (a pseudo-terminal from util-linux `script`) unless `--no-progress`.

mod common;

use std::path::Path;
use std::process::Command;

/// A replay input big enough to take a few hundred milliseconds.
fn input(dir: &Path) -> std::path::PathBuf {
    let lines = (0..40_000).map(|i| {
        format!(
            r#"{{"@timestamp":"2026-11-02T09:{:02}:{:02}Z","EventID":4625,"TargetUserName":"user{}","IpAddress":"10.0.0.{}"}}"#,
            (i / 60) % 60,
            i % 60,
            i % 97,
            i % 250
        )
    });
    common::write_lines(dir, "events.ndjson", lines)
}

const RULE: &str = r#"
title: Failed logon
id: 6d4f3a53-0d4e-4a3c-9b53-6a1d9e1f0001
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4625, TargetUserName: user13}
  condition: sel
level: low
"#;

fn args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let rules = dir.join("rules.yml");
    std::fs::write(&rules, RULE).unwrap();
    let mut a: Vec<String> = [
        "run",
        "--rules",
        rules.to_str().unwrap(),
        "--logsource",
        common::WINDOWS_SECURITY,
        "--output",
        dir.join("alerts.ndjson").to_str().unwrap(),
        "--input",
        input(dir).to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

#[test]
fn redirected_stderr_gets_no_progress_escape_codes() {
    let dir = tempfile::tempdir().unwrap();
    // `output()` pipes stderr: not a terminal.
    let o = common::bin()
        .args(args(dir.path(), &[]))
        .env("TERM", "xterm")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !stderr.contains('\u{1b}'),
        "escape codes on redirected stderr: {stderr:?}"
    );
    assert!(
        !stderr.contains('\r'),
        "carriage returns on redirected stderr: {stderr:?}"
    );
    assert!(stderr.contains("── summary"), "the summary stays: {stderr}");
    assert!(stderr.contains("records read") && stderr.contains("40000"), "{stderr}");
    assert_eq!(
        common::file_lines(&dir.path().join("alerts.ndjson")).len(),
        40_000 / 97 + 1
    );
}

/// Runs `tocsin` with `args` on a pseudo-terminal; what the terminal showed.
fn on_a_terminal(args: &[String]) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed (no pseudo-terminal)");
        return None;
    }
    let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_tocsin").to_string())
        .chain(args.iter().cloned())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let o = Command::new("script")
        .args(["-qefc", &quoted.join(" "), "/dev/null"])
        .env("TERM", "xterm")
        .env("COLUMNS", "120")
        .output()
        .expect("spawn script");
    let shown = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{shown}\n{}", String::from_utf8_lossy(&o.stderr));
    Some(shown)
}

#[test]
fn a_terminal_shows_the_bar_unless_no_progress() {
    let dir = tempfile::tempdir().unwrap();
    let Some(shown) = on_a_terminal(&args(dir.path(), &[])) else {
        return;
    };
    assert!(
        shown.contains("ETA") && shown.contains("events"),
        "no progress bar drawn: {shown:?}"
    );
    assert!(
        shown.contains("\u{1b}[2K"),
        "the bar is cleared with escape codes: {shown:?}"
    );
    assert!(shown.contains("── summary"), "the summary stays: {shown}");

    let quiet = on_a_terminal(&args(dir.path(), &["--no-progress"])).unwrap_or_default();
    assert!(
        !quiet.contains("ETA") && !quiet.contains("\u{1b}[2K"),
        "--no-progress still drew: {quiet:?}"
    );
    assert!(quiet.contains("── summary"), "{quiet}");
}

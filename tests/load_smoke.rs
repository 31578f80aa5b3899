//! `tocsin-load` keeps working: a small ceiling + Tocsin run against the
//! in-process mock cluster reads every produced message in both modes.

use std::process::Command;
use std::time::Instant;

/// The `key=value` pairs of the `RESULT mode=<mode> …` line of `stdout`.
fn result(stdout: &str, mode: &str) -> Vec<(String, String)> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("RESULT mode={mode} ")))
        .unwrap_or_else(|| panic!("no RESULT line for {mode} in:\n{stdout}"));
    line.split_whitespace()
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn get<'a>(kv: &'a [(String, String)], key: &str) -> &'a str {
    kv.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key} in {kv:?}"))
}

#[test]
fn ceiling_and_tocsin_read_every_message() {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_tocsin-load"))
        .args([
            "--mode",
            "both",
            "--events",
            "2000",
            "--partitions",
            "3",
            "--timeout",
            "60s",
        ])
        .output()
        .expect("run tocsin-load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tocsin-load failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );

    let ceiling = result(&stdout, "ceiling");
    assert_eq!(get(&ceiling, "messages"), "2000", "{stdout}");
    let tocsin = result(&stdout, "tocsin");
    assert_eq!(get(&tocsin, "messages"), "2000", "{stdout}");
    assert_eq!(get(&tocsin, "dead_letters"), "0", "{stdout}");
    // The shipped rules fire on the generated stream (correlations over failed logons).
    assert!(get(&tocsin, "alerts").parse::<u64>().unwrap() > 0, "{stdout}");
    for kv in [&ceiling, &tocsin] {
        assert!(get(kv, "msgs_per_s").parse::<f64>().unwrap() > 0.0);
    }
    let ratio = result(&stdout, "ratio");
    assert!(get(&ratio, "ratio").parse::<f64>().unwrap() > 0.0);
    eprintln!("tocsin-load smoke run: {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn latency_reads_back_every_match_alert() {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_tocsin-load"))
        .args([
            "--mode",
            "latency",
            "--rate",
            "2000",
            "--seconds",
            "1",
            "--drain",
            "500ms",
            "--attack-rate",
            "1.0",
            "--property",
            "fetch.wait.max.ms=10",
            "--timeout",
            "60s",
        ])
        .output()
        .expect("run tocsin-load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tocsin-load failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let r = result(&stdout, "latency");
    assert_eq!(get(&r, "sent"), "2000", "{stdout}");
    assert_eq!(get(&r, "messages"), "2000", "{stdout}");
    // Every match alert the engine sent was read back and timed.
    let matches: u64 = get(&r, "match_alerts").parse().unwrap();
    assert!(matches > 0, "{stdout}");
    assert_eq!(get(&r, "engine_match_alerts"), get(&r, "match_alerts"), "{stdout}");
    assert!(get(&r, "p99_us").parse::<u64>().unwrap() > 0, "{stdout}");
    eprintln!(
        "tocsin-load latency smoke run: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

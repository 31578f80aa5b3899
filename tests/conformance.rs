//! Every SigmaHQ conformance case (`../shared/sigma/conformance`) through the
//! public `tocsin run` path: the case's rule file, its events, its logsource;
//! the number of alerts must equal `expected_matches` exactly.

mod common;

use std::fs;

#[test]
fn sigma_conformance_cases_match_exactly() {
    let root = common::shared().join("sigma/conformance");
    let manifest =
        fs::read_to_string(root.join("manifest.tsv")).expect("conformance manifest (../shared beside the checkout)");
    let out_dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut cases = 0;
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (id, product, category, service, expected) = (cols[0], cols[2], cols[3], cols[4], cols[6]);
        let expected: usize = expected.parse().expect("expected_matches");
        let dir = root.join(id);
        let mut ls = vec![format!("product={product}")];
        if !category.is_empty() {
            ls.push(format!("category={category}"));
        }
        if !service.is_empty() {
            ls.push(format!("service={service}"));
        }
        let out = out_dir.path().join(format!("{id}.ndjson"));
        let dl = out_dir.path().join(format!("{id}.dead.ndjson"));
        let o = common::run(&[
            "run",
            "--rules",
            dir.join("rule.yml").to_str().unwrap(),
            "--input",
            dir.join("events.ndjson").to_str().unwrap(),
            "--logsource",
            &ls.join(","),
            "--output",
            out.to_str().unwrap(),
            "--dead-letter",
            dl.to_str().unwrap(),
        ]);
        cases += 1;
        let got = common::file_lines(&out).len();
        let dead = common::file_lines(&dl).len();
        if !o.status.success() || got != expected || dead != 0 {
            failures.push(format!(
                "{id} ({}): expected {expected}, got {got} alerts, {dead} dead letters, exit {:?}\n{}",
                cols[1],
                o.status.code(),
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .take(5)
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
    }
    assert_eq!(cases, 122, "all conformance cases ran");
    assert!(
        failures.is_empty(),
        "{} of {cases} conformance cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

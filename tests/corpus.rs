//! The SigmaHQ corpus (`../shared/sigma/rules`, unchanged) through
//! `tocsin validate`: at least 99% of the rules load, and every rejection
//! names something a detection engineer can act on.

mod common;

#[test]
fn validate_loads_at_least_99_percent_of_the_sigmahq_corpus() {
    let corpus = common::shared().join("sigma/rules");
    let o = common::run(&["validate", "--rules", corpus.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    let summary = out.lines().last().unwrap_or_default();
    // "3780 rule file(s): 3755 rule(s) loaded, 25 rejected (25 error(s))"
    let num = |after: &str| -> usize {
        let i = summary.find(after).unwrap_or_else(|| panic!("summary: {summary}"));
        summary[..i]
            .split_whitespace()
            .last()
            .unwrap()
            .trim_start_matches(':')
            .parse()
            .unwrap()
    };
    let (files, loaded, rejected) = (num(" rule file(s)"), num(" rule(s) loaded"), num(" rejected"));
    assert!(files >= 3780, "{summary}");
    assert_eq!(loaded + rejected, files, "one rule per file: {summary}");
    assert!(loaded * 100 >= files * 99, "only {loaded}/{files} loaded:\n{out}");
    for line in out.lines().filter(|l| l.contains(".yml:")) {
        assert!(
            line.contains("placeholder") && line.contains("[placeholders]"),
            "unexpected rejection (only undefined expand placeholders are expected): {line}"
        );
    }
}

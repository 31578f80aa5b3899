//! `tocsin test`: run the test cases written in the rules (`tocsin: {tests: …}`,
//! see [`crate::rules::cases`]) and report a table, optionally JUnit XML.
//!
//! - A detection rule's case runs the rule alone over its event(s): through
//!   a source that gives every event the rule's own logsource (field names as
//!   written in the rule), or through the named `source` of `--config` (its
//!   `when`, field mapping and time fields). `match: true` passes when the
//!   rule alerts, `match: false` when it does not, `alerts: N` when it raises
//!   exactly N alerts.
//! - A correlation rule's case replays its events through the correlation and
//!   every rule it references (transitively, from the same rule set), each
//!   event offered to every referenced rule (or through the named source);
//!   end of input flushes the windows; it passes when the correlation raised
//!   exactly `alerts` distinct alerts (suppressed repeats count once).
//! - Single events may omit a time (the time of the test run is used); event
//!   sequences need one: `input.time_fields` of the config (default
//!   `@timestamp`) then the native time fields of common formats (`ts`,
//!   `eventTime`, `published`, `requestReceivedTimestamp`, `timestamp`), or
//!   with `source:` that source's time fields. An event the engine cannot
//!   use (no event time, out of order beyond the replay's bound: a dead
//!   letter) fails the case whatever it expects, so a case never passes by
//!   accident.
//! - Exit codes: 0 every case passed; 1 a case failed (or, with
//!   `--require-cases`, a rule lacks a firing and a silent case); 2 a rule
//!   or a case did not load (every problem listed as `file:line:col`).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use super::{demo, RuleArgs};
use crate::alert::redact::Redactor;
use crate::alert::AlertKind;
use crate::classify::{applies, Source};
use crate::config::Config;
use crate::correlate::CorrelationSet;
use crate::decode::time::TimeFallback;
use crate::detector::{Detector, TimeDefaults};
use crate::event::Position;
use crate::pipeline::{CorrelationConfig, Processor};
use crate::rules::ast::CorrelationRule;
use crate::rules::cases::{cases_in_file, Expect, TestCase};
use crate::rules::load::Target;
use crate::rules::{load_paths, LoadedRules, Location, LogSource, Rule, RuleError, RuleErrorKind};
use crate::sink::Collect;

#[derive(clap::Args, Debug)]
pub struct TestArgs {
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Also write the results as JUnit XML (one testsuite, one testcase per case).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Count a rule without at least one case that fires and one that stays silent as a failure.
    #[arg(long)]
    pub require_cases: bool,
}

/// The logsource every referenced rule is given when a correlation case names no source.
const TEST_PRODUCT: &str = "tocsin-test";

/// Time fields tried after `input.time_fields` when a case names no source,
/// so events can be written as their native formats carry time: Zeek `ts`,
/// CloudTrail `eventTime`, Okta `published`, Kubernetes audit
/// `requestReceivedTimestamp`, syslog-style `timestamp`.
const NATIVE_TIME_FIELDS: &[&str] = &["ts", "eventTime", "published", "requestReceivedTimestamp", "timestamp"];

/// A rule under test.
enum Subject<'a> {
    Detection(&'a Rule),
    Correlation(usize, &'a CorrelationRule),
}

impl Subject<'_> {
    fn key(&self) -> &str {
        match self {
            Subject::Detection(r) => r.key(),
            Subject::Correlation(_, c) => c.key(),
        }
    }

    fn title(&self) -> &str {
        match self {
            Subject::Detection(r) => &r.title,
            Subject::Correlation(_, c) => &c.title,
        }
    }

    fn location(&self) -> &Location {
        match self {
            Subject::Detection(r) => &r.location,
            Subject::Correlation(_, c) => &c.location,
        }
    }
}

/// The outcome of one case.
pub struct CaseResult {
    pub name: String,
    pub location: Location,
    /// `None` when the case passed; else what differed.
    pub failure: Option<String>,
    pub seconds: f64,
}

/// The outcomes of one rule's cases.
pub struct RuleResult {
    pub key: String,
    pub title: String,
    pub location: Location,
    pub cases: Vec<CaseResult>,
    /// With `--require-cases`: what the rule's cases lack.
    pub missing: Option<String>,
}

impl RuleResult {
    fn failed(&self) -> usize {
        self.cases.iter().filter(|c| c.failure.is_some()).count()
    }

    fn ok(&self) -> bool {
        self.failed() == 0 && self.missing.is_none()
    }
}

pub fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    let config = super::run::effective_config(&args.rules)?;
    let demo = args.rules.rules.is_empty();
    let loaded = if demo {
        demo::rules()
    } else {
        load_paths(&args.rules.rules)
    };

    // Load errors, then what fails to compile for the rule's own logsource.
    let mut errors = loaded.errors.clone();
    errors.extend(compile_errors(&loaded, &config));

    let cases = load_cases(&loaded, demo)?;
    let mut subjects: Vec<Subject> = loaded.rules.iter().map(Subject::Detection).collect();
    subjects.extend(
        loaded
            .correlations
            .iter()
            .enumerate()
            .map(|(i, c)| Subject::Correlation(i, c)),
    );
    subjects.sort_by(|a, b| {
        let (la, lb) = (a.location(), b.location());
        (la.file.as_path(), la.line, la.column).cmp(&(lb.file.as_path(), lb.line, lb.column))
    });
    let cases_of = |s: &Subject| -> &[TestCase] {
        let l = s.location();
        cases
            .get(&(l.file.to_path_buf(), l.line, l.column))
            .map_or(&[][..], Vec::as_slice)
    };

    for sub in &subjects {
        errors.extend(unknown_sources(sub, cases_of(sub), &config));
    }
    if !errors.is_empty() {
        for e in &errors {
            println!("{e}");
        }
        println!(
            "{} problem(s) loading rules and test cases: no case was run",
            errors.len()
        );
        return Ok(ExitCode::from(2));
    }

    let started = Instant::now();
    let mut results = Vec::new();
    for s in &subjects {
        let mut out = Vec::new();
        for case in cases_of(s) {
            let t = Instant::now();
            let failure = match s {
                Subject::Detection(rule) => run_detection(rule, case, &config)?,
                Subject::Correlation(i, c) => run_correlation(&loaded, *i, c, case, &config)?,
            };
            out.push(CaseResult {
                name: case.name.clone(),
                location: case.location.clone(),
                failure,
                seconds: t.elapsed().as_secs_f64(),
            });
        }
        let missing = if args.require_cases {
            missing_cases(cases_of(s))
        } else {
            None
        };
        results.push(RuleResult {
            key: s.key().to_string(),
            title: s.title().to_string(),
            location: s.location().clone(),
            cases: out,
            missing,
        });
    }
    let seconds = started.elapsed().as_secs_f64();
    print!("{}", table(&results));
    if let Some(path) = &args.junit {
        std::fs::write(path, junit(&results, seconds)).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if results.iter().all(RuleResult::ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Every loaded rule's test cases, keyed by (file, line, column) of the rule's
/// document: the files are read again (or taken from the embedded pack).
type Cases = HashMap<(PathBuf, usize, usize), Vec<TestCase>>;

fn load_cases(loaded: &LoadedRules, demo: bool) -> anyhow::Result<Cases> {
    let mut files: BTreeSet<PathBuf> = BTreeSet::new();
    files.extend(loaded.rules.iter().map(|r| r.location.file.to_path_buf()));
    files.extend(loaded.correlations.iter().map(|c| c.location.file.to_path_buf()));
    let embedded: HashMap<PathBuf, &str> = if demo {
        demo::rule_files().into_iter().collect()
    } else {
        HashMap::new()
    };
    let mut cases = Cases::new();
    for file in files {
        let text = match embedded.get(&file) {
            Some(t) => (*t).to_string(),
            None => std::fs::read_to_string(&file).with_context(|| file.display().to_string())?,
        };
        let arc = Arc::new(file.clone());
        for ((line, column), list) in cases_in_file(&text, &arc) {
            cases.insert((file.clone(), line, column), list);
        }
    }
    Ok(cases)
}

/// Cases naming a source the config does not have: load errors at their `source`.
fn unknown_sources(subject: &Subject, cases: &[TestCase], config: &Config) -> Vec<RuleError> {
    let known: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
    let mut errors = Vec::new();
    for case in cases {
        let Some((name, at)) = &case.source else { continue };
        if known.contains(&name.as_str()) {
            continue;
        }
        let reason = if known.is_empty() {
            format!("test `{}`: source `{name}` needs a --config that defines it", case.name)
        } else {
            format!(
                "test `{}`: `{name}` is not a source of the config (sources: {})",
                case.name,
                known.join(", ")
            )
        };
        let kind = RuleErrorKind::InvalidKey {
            key: "tocsin.tests.source".into(),
            reason,
        };
        errors.push(RuleError::new(at.clone(), kind).with_rule(subject.key()));
    }
    errors
}

/// `--require-cases`: what a rule's cases lack (a case that fires, one that stays silent).
fn missing_cases(cases: &[TestCase]) -> Option<String> {
    let fires = cases.iter().any(TestCase::expects_firing);
    let silent = cases.iter().any(|c| !c.expects_firing());
    match (fires, silent) {
        (true, true) => None,
        (false, false) => Some("no test cases".into()),
        (false, true) => Some("no case where the rule fires".into()),
        (true, false) => Some("no case where the rule stays silent".into()),
    }
}

/// Compile errors of every detection rule, each compiled for its own logsource.
fn compile_errors(loaded: &LoadedRules, config: &Config) -> Vec<RuleError> {
    let rules: Vec<Arc<Rule>> = loaded.rules.iter().cloned().map(Arc::new).collect();
    let logsources: BTreeSet<LogSource> = rules.iter().map(|r| r.logsource.clone()).collect();
    let sources = logsources.into_iter().map(Source::fixed).collect();
    Detector::build(
        &rules,
        sources,
        &config.placeholders,
        &time_defaults(config, TimeFallback::Ingest),
    )
    .errors
}

fn time_defaults(config: &Config, fallback: TimeFallback) -> TimeDefaults {
    TimeDefaults {
        fields: config.input.time_fields.clone(),
        fallback,
    }
}

/// [`time_defaults`] plus [`NATIVE_TIME_FIELDS`], for cases without a source.
fn native_time_defaults(config: &Config, fallback: TimeFallback) -> TimeDefaults {
    let mut t = time_defaults(config, fallback);
    for f in NATIVE_TIME_FIELDS {
        if !t.fields.iter().any(|x| x == f) {
            t.fields.push((*f).to_string());
        }
    }
    t
}

/// The config source a case names (checked to exist before any case runs).
fn named_source(config: &Config, case: &TestCase) -> Option<Source> {
    let (name, _) = case.source.as_ref()?;
    config.sources.iter().find(|s| &s.name == name).map(Source::from_config)
}

/// What one replay of a case's events produced.
struct Replay {
    /// Distinct alert ids of the rule under test.
    alerts: BTreeSet<String>,
    /// Why events produced nothing, for the difference message.
    notes: Vec<String>,
    /// The first event the engine could not use (no event time, late, …):
    /// the case is broken whatever it expects, so it fails with this.
    broken: Option<String>,
    hits: u64,
}

fn replay(
    rules: &[Arc<Rule>],
    correlations: &[Arc<CorrelationRule>],
    source: Source,
    config: &Config,
    fallback: TimeFallback,
    case: &TestCase,
    subject: (&str, AlertKind),
) -> anyhow::Result<Replay> {
    let source_name = source.name.clone();
    let time = match case.source {
        Some(_) => time_defaults(config, fallback),
        None => native_time_defaults(config, fallback),
    };
    let mut detector = Detector::build(rules, vec![source], &config.placeholders, &time);
    detector.correlations = Arc::new(CorrelationSet::build(rules, correlations)?);
    let corr = CorrelationConfig {
        shards: 1,
        ..CorrelationConfig::default()
    };
    let limit = config.input.max_event_bytes;
    let mut proc = Processor::with_correlation(Arc::new(detector), Redactor::default_on(), limit, &corr);
    let mut out = Collect::default();
    let file = format!("{}#{}", case.location, case.name);
    let partition = Position::File {
        file: file.clone(),
        line: 0,
    };
    proc.partition(&partition);
    for (i, event) in case.input.events().iter().enumerate() {
        let raw = serde_json::to_vec(event)?;
        let pos = Position::File {
            file: file.clone(),
            line: i as u64 + 1,
        };
        proc.process(&raw, raw.len(), pos, None, &mut out)?;
    }
    proc.finish_partition(&partition, &mut out)?;
    proc.finish(&mut out)?;

    let (key, kind) = subject;
    let alerts = out
        .alerts
        .iter()
        .filter(|a| a.kind == kind && a.rule.id == key)
        .map(|a| a.alert_id.clone())
        .collect();
    let mut notes = Vec::new();
    let mut broken = None;
    let stats = proc.stats();
    if stats.unclassified > 0 {
        notes.push(format!(
            "{} event(s) not claimed by source `{source_name}` (its `when` does not hold)",
            stats.unclassified
        ));
    }
    for dl in &out.dead_letters {
        let line = match &dl.source {
            Position::File { line, .. } => *line,
            Position::Kafka { offset, .. } => *offset as u64,
        };
        let note = format!("event {line} dead-lettered ({}: {})", dl.reason, dl.detail);
        broken.get_or_insert_with(|| note.clone());
        notes.push(note);
    }
    Ok(Replay {
        alerts,
        notes,
        broken,
        hits: stats.correlation_hits,
    })
}

/// Runs one case of a detection rule; `None` when it passes.
fn run_detection(rule: &Rule, case: &TestCase, config: &Config) -> anyhow::Result<Option<String>> {
    let source = match named_source(config, case) {
        Some(s) => {
            if !applies(&rule.logsource, &s.logsource) {
                return Ok(Some(format!(
                    "the rule's logsource `{}` is not provided by source `{}` (`{}`)",
                    rule.logsource, s.name, s.logsource
                )));
            }
            s
        }
        None => Source::fixed(rule.logsource.clone()),
    };
    let rules = [Arc::new(rule.clone())];
    let r = replay(
        &rules,
        &[],
        source,
        config,
        TimeFallback::Ingest,
        case,
        (rule.key(), AlertKind::Match),
    )?;
    if let Some(b) = r.broken {
        return Ok(Some(b));
    }
    let got = r.alerts.len() as u64;
    let diff = match case.expect {
        Expect::Match(true) if got == 0 => Some("expected a match, got none".to_string()),
        Expect::Match(false) if got > 0 => Some("expected no match, got a match".to_string()),
        Expect::Alerts(n) if n != got => Some(format!("expected {}, got {got}", alerts(n))),
        _ => None,
    };
    Ok(diff.map(|d| with_notes(d, &r.notes)))
}

/// Runs one case of a correlation rule; `None` when it passes.
fn run_correlation(
    loaded: &LoadedRules,
    index: usize,
    corr: &CorrelationRule,
    case: &TestCase,
    config: &Config,
) -> anyhow::Result<Option<String>> {
    let (dets, corrs) = referenced(loaded, index);
    let named = named_source(config, case);
    let mut rules = Vec::new();
    for &d in &dets {
        let mut rule = loaded.rules[d].clone();
        match &named {
            Some(s) if !applies(&rule.logsource, &s.logsource) => {
                return Ok(Some(format!(
                    "referenced rule `{}` (logsource `{}`) is not fed by source `{}` (`{}`)",
                    rule.key(),
                    rule.logsource,
                    s.name,
                    s.logsource
                )));
            }
            Some(_) => {}
            None => {
                rule.logsource = LogSource {
                    product: Some(TEST_PRODUCT.into()),
                    ..LogSource::default()
                }
            }
        }
        rules.push(Arc::new(rule));
    }
    let source = named.unwrap_or_else(|| {
        Source::fixed(LogSource {
            product: Some(TEST_PRODUCT.into()),
            ..LogSource::default()
        })
    });
    let correlations: Vec<Arc<CorrelationRule>> = corrs
        .iter()
        .map(|&c| Arc::new(loaded.correlations[c].clone()))
        .collect();
    let r = replay(
        &rules,
        &correlations,
        source,
        config,
        TimeFallback::DeadLetter,
        case,
        (corr.key(), AlertKind::Correlation),
    )?;
    if let Some(b) = r.broken {
        return Ok(Some(b));
    }
    let got = r.alerts.len() as u64;
    let Expect::Alerts(want) = case.expect else {
        // The parser gives correlation rules `alerts` cases only.
        return Ok(Some("a correlation case must expect a number of alerts".into()));
    };
    Ok((want != got).then(|| {
        let d = format!(
            "expected {}, got {got} ({} hit(s) of the referenced rules)",
            alerts(want),
            r.hits
        );
        with_notes(d, &r.notes)
    }))
}

fn alerts(n: u64) -> String {
    if n == 1 {
        "1 alert".into()
    } else {
        format!("{n} alerts")
    }
}

fn with_notes(diff: String, notes: &[String]) -> String {
    match notes.first() {
        None => diff,
        Some(first) if notes.len() == 1 => format!("{diff}; {first}"),
        Some(first) => format!("{diff}; {first} (and {} more)", notes.len() - 1),
    }
}

/// The correlation `index` and everything it references, transitively:
/// (detection rule indexes, correlation indexes with `index` first).
fn referenced(loaded: &LoadedRules, index: usize) -> (Vec<usize>, Vec<usize>) {
    let mut dets = Vec::new();
    let mut corrs = vec![index];
    let mut i = 0;
    while i < corrs.len() {
        for r in &loaded.correlations[corrs[i]].rules {
            match loaded.resolve(&r.reference) {
                Some(Target::Detection(d)) if !dets.contains(&d) => dets.push(d),
                Some(Target::Correlation(c)) if !corrs.contains(&c) => corrs.push(c),
                _ => {}
            }
        }
        i += 1;
    }
    (dets, corrs)
}

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// The human report: one row per rule, then a summary line.
pub fn table(results: &[RuleResult]) -> String {
    const TITLE: usize = 52;
    let key_w = results.iter().map(|r| r.key.chars().count()).max().unwrap_or(4).max(4);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<6} {:>7}  {:<key_w$}  {:<TITLE$}  FIRST DIFFERENCE",
        "RESULT", "CASES", "RULE", "TITLE"
    );
    let (mut cases, mut failed, mut without) = (0, 0, 0);
    for r in results {
        let n = r.cases.len();
        cases += n;
        failed += r.failed();
        if n == 0 {
            without += 1;
        }
        let result = if !r.ok() {
            "FAIL"
        } else if n == 0 {
            "-"
        } else {
            "ok"
        };
        let diff = r
            .cases
            .iter()
            .find_map(|c| c.failure.as_ref().map(|f| format!("case `{}`: {f}", c.name)))
            .or_else(|| r.missing.clone())
            .unwrap_or_default();
        let row = format!(
            "{:<6} {:>7}  {:<key_w$}  {:<TITLE$}  {}",
            result,
            format!("{}/{}", n - r.failed(), n),
            r.key,
            clip(&r.title, TITLE),
            diff
        );
        let _ = writeln!(s, "{}", row.trim_end());
    }
    let incomplete = results.iter().filter(|r| r.missing.is_some()).count();
    let _ = write!(
        s,
        "{} rule(s), {cases} case(s): {} passed, {failed} failed; {without} rule(s) without test cases",
        results.len(),
        cases - failed
    );
    if incomplete > 0 {
        let _ = write!(s, "; {incomplete} rule(s) lack a firing or a silent case");
    }
    s.push('\n');
    s
}

/// Escapes text for XML 1.0 content and attribute values; characters XML
/// cannot hold (control characters other than tab, newline, carriage return;
/// U+FFFE, U+FFFF) become U+FFFD.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one `<testsuite>`, one `<testcase>` per case (classname: the
/// rule id; name: title and case), a `<failure>` for each failed case; with
/// `--require-cases`, a rule lacking cases adds a failed `(test cases)` testcase.
pub fn junit(results: &[RuleResult], seconds: f64) -> String {
    let mut body = String::new();
    let (mut tests, mut failures) = (0, 0);
    for r in results {
        let file = r.location.file.display().to_string();
        for c in &r.cases {
            tests += 1;
            let _ = write!(
                body,
                "  <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\" time=\"{:.3}\"",
                xml_escape(&r.key),
                xml_escape(&format!("{}: {}", r.title, c.name)),
                xml_escape(&file),
                c.location.line,
                c.seconds
            );
            match &c.failure {
                None => body.push_str("/>\n"),
                Some(f) => {
                    failures += 1;
                    let _ = write!(
                        body,
                        ">\n    <failure message=\"{}\" type=\"RuleTestFailure\">{}</failure>\n  </testcase>\n",
                        xml_escape(f),
                        xml_escape(&format!("{}: case `{}`: {f}", c.location, c.name))
                    );
                }
            }
        }
        if let Some(m) = &r.missing {
            tests += 1;
            failures += 1;
            let _ = write!(
                body,
                "  <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\" time=\"0.000\">\n    <failure message=\"{}\" type=\"MissingTestCases\"/>\n  </testcase>\n",
                xml_escape(&r.key),
                xml_escape(&format!("{}: (test cases)", r.title)),
                xml_escape(&file),
                r.location.line,
                xml_escape(m)
            );
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"tocsin rule tests\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{seconds:.3}\">\n{body}</testsuite>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_xml() {
        assert_eq!(
            xml_escape("a<b>&\"c\"'d'\n\u{1}\u{ffff}é"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;&#10;\u{fffd}\u{fffd}é"
        );
    }

    #[test]
    fn counts_in_junit() {
        let loc = Location {
            file: Arc::new(PathBuf::from("r.yml")),
            line: 3,
            column: 1,
        };
        let case = |name: &str, failure: Option<&str>| CaseResult {
            name: name.into(),
            location: loc.clone(),
            failure: failure.map(String::from),
            seconds: 0.0,
        };
        let results = vec![RuleResult {
            key: "id-1".into(),
            title: "T <1>".into(),
            location: loc.clone(),
            cases: vec![case("a", None), case("b & c", Some("expected 1 alert, got 0"))],
            missing: None,
        }];
        let x = junit(&results, 0.5);
        assert!(x.contains("tests=\"2\" failures=\"1\""), "{x}");
        assert!(x.contains("name=\"T &lt;1&gt;: b &amp; c\""), "{x}");
        let t = table(&results);
        assert!(
            t.contains("FAIL") && t.contains("case `b & c`: expected 1 alert, got 0"),
            "{t}"
        );
    }
}

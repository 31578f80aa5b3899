//! `tocsin run`: NDJSON files or stdin in, alerts out.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};

use super::{demo, RuleArgs};
use crate::alert::redact::Redactor;
use crate::classify::{parse_logsource, Source};
use crate::config::Config;
use crate::detector::{Detector, TimeDefaults};
use crate::event::Position;
use crate::pipeline::{Processor, Stats};
use crate::rules::{load_paths, LogSource, RuleError};
use crate::sink::file::{FileOutput, NdjsonWriter};
use crate::source::file::LineReader;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub rules: RuleArgs,
    /// NDJSON input files (`-` for stdin). Default: the shipped samples.
    #[arg(long = "input", num_args = 1.., value_name = "FILE")]
    pub input: Vec<PathBuf>,
    /// Where alerts go (`-` for stdout).
    #[arg(long, default_value = "-")]
    pub output: PathBuf,
    /// Where dead letters go (`-` for stderr, the default).
    #[arg(long, default_value = "-")]
    pub dead_letter: PathBuf,
    /// Give every event this logsource (`product=P,category=C,service=S`)
    /// instead of classifying by the config's sources.
    #[arg(long)]
    pub logsource: Option<String>,
    /// Event time field(s), first usable wins (overrides the config).
    #[arg(long = "time-field")]
    pub time_field: Vec<String>,
    /// Run with the rules that load, reporting the others, instead of refusing to start.
    #[arg(long)]
    pub lenient: bool,
    /// Write the run summary as JSON to this file.
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
}

/// Everything loaded and compiled, ready to run or to report on.
pub struct Prepared {
    pub config: Config,
    pub detector: Arc<Detector>,
    pub errors: Vec<RuleError>,
    pub files: usize,
    /// Rules that parsed (some may still have failed to compile).
    pub parsed_rules: usize,
    pub demo: bool,
}

impl Prepared {
    /// Rules rejected at parse or compile time (distinct file + rule).
    pub fn rejected_rules(&self) -> usize {
        rejected(&self.errors)
    }

    /// Rules that loaded and compiled.
    pub fn loaded_rules(&self) -> usize {
        self.parsed_rules - rejected(&self.detector.errors).min(self.parsed_rules)
    }
}

fn rejected(errors: &[RuleError]) -> usize {
    let keys: BTreeSet<(String, String)> = errors
        .iter()
        .map(|e| {
            let rule = e.rule.clone().unwrap_or_else(|| e.location.line.to_string());
            (e.location.file.display().to_string(), rule)
        })
        .collect();
    keys.len()
}

/// Loads config and rules and compiles them. `every_logsource` compiles each
/// rule for its own logsource when no source is configured (for `validate`).
pub fn prepare(args: &RuleArgs, logsource: Option<&str>, every_logsource: bool) -> anyhow::Result<Prepared> {
    let demo = args.rules.is_empty();
    let config = match (&args.config, demo) {
        (Some(p), _) => Config::load(p)?,
        (None, true) => demo::config()?,
        (None, false) => Config::default(),
    };
    let loaded = if demo { demo::rules() } else { load_paths(&args.rules) };
    let rules: Vec<Arc<_>> = loaded.rules.into_iter().map(Arc::new).collect();
    let sources: Vec<Source> = if let Some(ls) = logsource {
        vec![Source::fixed(
            parse_logsource(ls).map_err(anyhow::Error::msg).context("--logsource")?,
        )]
    } else if !config.sources.is_empty() {
        config.sources.iter().map(Source::from_config).collect()
    } else if every_logsource {
        let distinct: BTreeSet<LogSource> = rules.iter().map(|r| r.logsource.clone()).collect();
        distinct.into_iter().map(Source::fixed).collect()
    } else {
        bail!("no sources: give --logsource product=…,category=… or a --config file with [[sources]]");
    };
    let time = TimeDefaults {
        fields: config.input.time_fields.clone(),
        fallback: config.input.time_fallback,
    };
    let detector = Detector::build(&rules, sources, &config.placeholders, &time);
    let mut errors = loaded.errors;
    errors.extend(detector.errors.iter().cloned());
    Ok(Prepared {
        parsed_rules: rules.len(),
        config,
        detector: Arc::new(detector),
        errors,
        files: loaded.files,
        demo,
    })
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut p = prepare(&args.rules, args.logsource.as_deref(), false)?;
    if !args.time_field.is_empty() {
        p.config.input.time_fields = args.time_field.clone();
        if let Some(d) = Arc::get_mut(&mut p.detector) {
            for sp in &mut d.sources {
                sp.time.fields = args.time_field.clone();
            }
        }
    }
    if !p.errors.is_empty() {
        for e in &p.errors {
            eprintln!("{e}");
        }
        if !args.lenient {
            eprintln!(
                "{} rule(s) rejected: fix them, or pass --lenient to run without them",
                p.rejected_rules()
            );
            return Ok(ExitCode::from(2));
        }
        tracing::warn!(
            rejected = p.rejected_rules(),
            "running without rejected rules (--lenient)"
        );
    }
    report_idle(&p.detector);
    tracing::info!(
        rules = p.detector.active_rules,
        sources = p.detector.sources.len(),
        "rules compiled"
    );
    let redactor = match &p.config.redact {
        Some(c) => Redactor::new(c)?,
        None => Redactor::default_on(),
    };
    let mut out = FileOutput {
        alerts: NdjsonWriter::new(writer(&args.output, false)?),
        dead_letters: NdjsonWriter::new(writer(&args.dead_letter, true)?),
    };
    let mut proc = Processor::new(p.detector.clone(), redactor, p.config.input.max_event_bytes);
    let started = Instant::now();
    if args.input.is_empty() && p.demo {
        let reader = LineReader::from_reader(
            Box::new(demo::events()),
            "samples/events.ndjson".into(),
            p.config.input.max_event_bytes,
        );
        feed(reader, &mut proc, &mut out)?;
    } else if args.input.is_empty() {
        bail!("no --input given (use `-` for stdin)");
    } else {
        for path in &args.input {
            feed(
                LineReader::open(path, p.config.input.max_event_bytes)?,
                &mut proc,
                &mut out,
            )?;
        }
    }
    out.flush()?;
    let elapsed = started.elapsed();
    print_summary(&proc.stats, elapsed.as_secs_f64());
    if let Some(path) = &args.summary_json {
        let json = serde_json::json!({ "stats": proc.stats, "seconds": elapsed.as_secs_f64() });
        std::fs::write(path, serde_json::to_vec_pretty(&json)?).with_context(|| path.display().to_string())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn feed(mut reader: LineReader, proc: &mut Processor, out: &mut FileOutput) -> anyhow::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    let file = reader.name().to_string();
    while let Some(line) = reader.next_line(&mut buf).with_context(|| file.clone())? {
        let pos = Position::File {
            file: file.clone(),
            line: line.number,
        };
        proc.process(&buf, line.len, pos, None, out)?;
    }
    Ok(())
}

fn writer(path: &Path, stderr: bool) -> anyhow::Result<Box<dyn Write + Send>> {
    Ok(if path == Path::new("-") {
        if stderr {
            Box::new(io::stderr())
        } else {
            Box::new(BufWriter::with_capacity(1 << 16, io::stdout()))
        }
    } else {
        let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        Box::new(BufWriter::with_capacity(1 << 16, f))
    })
}

fn report_idle(d: &Detector) {
    if d.idle_rules.is_empty() {
        return;
    }
    let shown: Vec<String> = d
        .idle_rules
        .iter()
        .take(10)
        .map(|r| format!("{} ({})", r.title, r.logsource))
        .collect();
    tracing::warn!(
        idle = d.idle_rules.len(),
        examples = %shown.join("; "),
        "rules whose logsource no configured source provides will never fire"
    );
}

fn print_summary(s: &Stats, secs: f64) {
    let rate = if secs > 0.0 { s.records as f64 / secs } else { 0.0 };
    let mut e = io::stderr().lock();
    let _ = writeln!(e, "── summary ──────────────────────────────────────────");
    let _ = writeln!(e, "records read       {:>12}", s.records);
    let _ = writeln!(e, "events matched on  {:>12}", s.events);
    let _ = writeln!(e, "unclassified       {:>12}", s.unclassified);
    let _ = writeln!(e, "events with alerts {:>12}", s.matched_events);
    let _ = writeln!(e, "alerts             {:>12}", s.alerts);
    let _ = writeln!(e, "dead letters       {:>12}", s.dead_letter_total());
    for (reason, n) in &s.dead_letters {
        let _ = writeln!(e, "  {reason:<16} {n:>12}");
    }
    let _ = writeln!(e, "wall time          {secs:>11.3}s  ({rate:.0} records/s)");
    if !s.rule_alerts.is_empty() {
        let _ = writeln!(e, "alerts per rule:");
        let mut rows: Vec<_> = s.rule_alerts.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (rule, n) in rows.iter().take(30) {
            let _ = writeln!(e, "  {n:>8}  {rule}");
        }
    }
}

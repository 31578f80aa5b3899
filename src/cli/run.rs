//! `tocsin run`: NDJSON files or stdin in, alerts out.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};

use super::progress::Progress;
use super::{demo, RuleArgs};
use crate::alert::format::{AlertFormat, AlertRenderer};
use crate::alert::redact::Redactor;
use crate::classify::{parse_logsource, Source};
use crate::config::Config;
use crate::correlate::CorrelationSet;
use crate::detector::{Detector, TimeDefaults};
use crate::event::Position;
use crate::metrics::Metrics;
use crate::pipeline::{CorrelationConfig, Processor, Stats};
use crate::rules::{load_paths, LogSource, RuleError};
use crate::sink::file::{AlertWriter, FileOutput, NdjsonWriter};
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
    /// Format of the alerts written to --output: json (default), cef, or
    /// syslog (RFC 5424). The Kafka alert topic's is `output.alerts_format`.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<AlertFormat>,
    /// No progress bar (it is shown only when stderr is a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
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
    /// Correlation shard threads (default: the number of cores; results never depend on it).
    #[arg(long)]
    pub shards: Option<usize>,
    /// How far out of event-time order records may arrive (`5s`, `1m`, …).
    #[arg(long, default_value = "5s")]
    pub max_out_of_orderness: String,
    /// How much later than the watermark a hit is still applied (`0s` = none).
    #[arg(long, default_value = "0s")]
    pub allowed_lateness: String,
    /// Global cap on correlation groups held in memory; the oldest are evicted beyond it.
    #[arg(long, default_value_t = 1_000_000)]
    pub max_groups: usize,
    /// Serve Prometheus metrics, /healthz and /readyz on this address (e.g.
    /// 0.0.0.0:9898; port 0 picks a free one, logged at start).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<String>,
    /// After a file replay, keep serving metrics until SIGTERM/SIGINT (for
    /// scraping a backtest's final counters).
    #[arg(long, requires = "metrics_addr")]
    pub metrics_hold: bool,
    /// /readyz fails while the total consumer lag exceeds this many messages.
    #[arg(long, value_name = "MESSAGES")]
    pub ready_max_lag: Option<i64>,
}

fn duration_ns(flag: &str, v: &str) -> anyhow::Result<i64> {
    crate::correlate::parse_duration_ms(v)
        .map(|ms| ms as i64 * 1_000_000)
        .with_context(|| format!("{flag}: `{v}` is not a duration like 500ms, 5s, 10m, 1h"))
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

/// The config a command runs with: the file, the sample config for the
/// embedded default (no rules given), or the defaults; then the
/// environment's overrides.
pub fn effective_config(args: &RuleArgs) -> anyhow::Result<Config> {
    Ok(match (&args.config, args.rules.is_empty()) {
        (Some(p), _) => Config::load(p)?,
        (None, true) => demo::config()?,
        (None, false) => Config::parse_with_env("", "(defaults)", std::env::vars())?,
    })
}

/// Loads config and rules and compiles them. `every_logsource` compiles each
/// rule for its own logsource when no source is configured (for `validate`).
pub fn prepare(args: &RuleArgs, logsource: Option<&str>, every_logsource: bool) -> anyhow::Result<Prepared> {
    let demo = args.rules.is_empty();
    let config = effective_config(args)?;
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
    let mut detector = Detector::build(&rules, sources, &config.placeholders, &time);
    let correlations: Vec<Arc<_>> = loaded.correlations.into_iter().map(Arc::new).collect();
    detector.correlations = Arc::new(CorrelationSet::build(&rules, &correlations)?);
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
    let renderer = AlertRenderer::from_config(args.format.unwrap_or_default(), &p.config.output)?;
    if renderer.is_signed() {
        tracing::info!("alerts are signed (output.sign_key)");
    }
    let mut out = FileOutput {
        alerts: AlertWriter::new(writer(&args.output, false)?, renderer),
        dead_letters: NdjsonWriter::new(writer(&args.dead_letter, true)?),
    };
    let corr = CorrelationConfig {
        shards: args
            .shards
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
            .max(1),
        max_out_of_orderness_ns: duration_ns("--max-out-of-orderness", &args.max_out_of_orderness)?,
        allowed_lateness_ns: duration_ns("--allowed-lateness", &args.allowed_lateness)?,
        max_groups: args.max_groups.max(1),
    };
    let limit = p.config.input.max_event_bytes;
    tracing::info!(config = %p.config.to_masked_json(), "effective config (secrets masked)");
    let mut proc = Processor::with_correlation(p.detector.clone(), redactor, limit, &corr);
    proc.set_quality(p.config.quality.clone());
    let metrics = start_metrics(&args)?;
    if let Some(m) = &metrics {
        proc.set_metrics(m.clone());
        m.set_running(true);
    }
    if args.input.is_empty() {
        let stats = match p.config.kafka.brokers.clone() {
            Some(brokers) => super::kafka::run_cluster(&p, &args, proc, &brokers)?,
            None => super::kafka::run_embedded(&p, &args, proc, &demo::events())?,
        };
        write_summary_json(&args, &stats, None)?;
        return Ok(ExitCode::SUCCESS);
    }
    // stdin may be a live stream (`tail -F … | tocsin run`): flush for latency.
    proc.set_streaming(args.input.iter().any(|p| p == Path::new("-")));
    let started = Instant::now();
    let readers = args
        .input
        .iter()
        .map(|path| LineReader::open(path, limit))
        .collect::<Result<Vec<_>, _>>()?;
    let total = readers.iter().map(LineReader::size).sum::<Option<u64>>();
    let mut progress = Progress::new(!args.no_progress, total);
    feed(readers, &mut proc, &mut out, &mut progress)?;
    proc.finish(&mut out)?;
    out.flush()?;
    progress.finish();
    let elapsed = started.elapsed();
    print_summary(proc.stats(), elapsed.as_secs_f64());
    write_summary_json(&args, proc.stats(), Some(elapsed.as_secs_f64()))?;
    if args.metrics_hold {
        hold_until_signal()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--metrics-addr`: the registry and its HTTP endpoint.
fn start_metrics(args: &RunArgs) -> anyhow::Result<Option<Arc<Metrics>>> {
    let Some(addr) = &args.metrics_addr else {
        return Ok(None);
    };
    let m = Arc::new(Metrics::new(args.ready_max_lag));
    let bound = crate::metrics::http::serve(addr, m.clone()).with_context(|| format!("--metrics-addr {addr}"))?;
    tracing::info!(addr = %bound, "metrics listening (/metrics, /healthz, /readyz)");
    Ok(Some(m))
}

fn hold_until_signal() -> anyhow::Result<()> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).context("installing the signal handler")?;
    }
    tracing::info!("replay done; serving metrics until SIGTERM/SIGINT (--metrics-hold)");
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(())
}

fn write_summary_json(args: &RunArgs, stats: &Stats, seconds: Option<f64>) -> anyhow::Result<()> {
    if let Some(path) = &args.summary_json {
        let json = serde_json::json!({ "stats": stats, "seconds": seconds });
        std::fs::write(path, serde_json::to_vec_pretty(&json)?).with_context(|| path.display().to_string())?;
    }
    Ok(())
}

/// Reads the inputs round-robin, one line at a time. Each file is its own
/// partition for the watermark (the minimum over unfinished files), so files
/// that each hold part of a stream give the same alerts as the whole stream.
/// Progress is reported every [`Progress::EVERY`] records.
fn feed(
    mut readers: Vec<LineReader>,
    proc: &mut Processor,
    out: &mut FileOutput,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    let names: Vec<String> = readers.iter().map(|r| r.name().to_string()).collect();
    for name in &names {
        proc.partition(&Position::File {
            file: name.clone(),
            line: 0,
        });
    }
    let mut buf = Vec::with_capacity(4096);
    let mut open: Vec<usize> = (0..readers.len()).collect();
    let mut records = 0u64;
    while !open.is_empty() {
        let mut still = Vec::with_capacity(open.len());
        for &i in &open {
            let file = &names[i];
            match readers[i].next_line(&mut buf).with_context(|| file.clone())? {
                Some(line) => {
                    let pos = Position::File {
                        file: file.clone(),
                        line: line.number,
                    };
                    proc.process(&buf, line.len, pos, None, out)?;
                    still.push(i);
                    records += 1;
                    if records.is_multiple_of(Progress::EVERY) {
                        progress.tick(records, readers.iter().map(LineReader::bytes_read).sum());
                    }
                }
                None => proc.finish_partition(
                    &Position::File {
                        file: file.clone(),
                        line: 0,
                    },
                    out,
                )?,
            }
        }
        open = still;
    }
    Ok(())
}

pub(super) fn writer(path: &Path, stderr: bool) -> anyhow::Result<Box<dyn Write + Send>> {
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

pub(super) fn print_summary(s: &Stats, secs: f64) {
    let rate = if secs > 0.0 { s.records as f64 / secs } else { 0.0 };
    let mut e = io::stderr().lock();
    let _ = writeln!(e, "── summary ──────────────────────────────────────────");
    let _ = writeln!(e, "records read       {:>12}", s.records);
    let _ = writeln!(e, "events matched on  {:>12}", s.events);
    let _ = writeln!(e, "unclassified       {:>12}", s.unclassified);
    let _ = writeln!(e, "events with alerts {:>12}", s.matched_events);
    let _ = writeln!(e, "alerts             {:>12}", s.alerts);
    let _ = writeln!(e, "  correlation      {:>12}", s.correlation_alerts);
    let _ = writeln!(e, "correlation hits   {:>12}", s.correlation_hits);
    if !s.correlation_evicted.is_empty() {
        let _ = writeln!(
            e,
            "groups evicted by a state cap (state_overflow alerts: {}):",
            s.overflow_alerts
        );
        for (rule, n) in &s.correlation_evicted {
            let _ = writeln!(e, "  {n:>8}  {rule}");
        }
    }
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

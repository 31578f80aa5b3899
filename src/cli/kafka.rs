//! `tocsin run` on Kafka: against the configured cluster (streaming until
//! SIGTERM/SIGINT), or — with no `kafka.brokers` and no `--input` — against
//! the embedded broker fed with the sample events, printing the alerts it
//! reads back from the alert topic.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use rdkafka::config::ClientConfig;

use super::run::{print_summary, writer, Prepared, RunArgs};
use crate::alert::format::{AlertFormat, AlertRenderer};
use crate::config::KafkaConfig;
use crate::decode::JsonDecoder;
use crate::pipeline::{Processor, Stats};
use crate::sink::kafka::KafkaOutput;
use crate::source::embedded::{self, EmbeddedBroker};
use crate::source::kafka::KafkaSource;

/// Streams from the configured cluster until a termination signal.
pub fn run_cluster(p: &Prepared, args: &RunArgs, proc: Processor, brokers: &str) -> anyhow::Result<Stats> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).context("installing the signal handler")?;
    }
    let source = source(p, brokers, None);
    shutdown_deadline(stop.clone(), source.shutdown_timeout);
    if !p.demo {
        super::reload::spawn(
            args.rules.clone(),
            args.time_field.clone(),
            source.rule_updates.clone(),
            proc.metrics(),
        )
        .context("starting the rule reloader")?;
    }
    if args.format.is_some() {
        tracing::warn!("--format applies to file and stdout output; the alert topic's format is output.alerts_format");
    }
    let out = output(p, &source.client, p.config.output.alerts_format)?;
    tracing::info!(brokers, topics = ?source.topics, group = %source.group_id, "consuming");
    let started = Instant::now();
    let (stats, source_stats) = source.run(proc, out, &stop)?;
    tracing::info!(
        messages = source_stats.messages,
        commits = source_stats.commits,
        "stopped; offsets committed"
    );
    print_summary(&stats, started.elapsed().as_secs_f64());
    Ok(stats)
}

/// Once a termination signal arrives, the engine has `timeout` to drain,
/// commit and leave; past it (a broker that stopped answering), it exits
/// with an error instead of hanging. Nothing uncommitted is lost: a restart
/// resumes at the last checkpoint or commit.
fn shutdown_deadline(stop: Arc<AtomicBool>, timeout: std::time::Duration) {
    std::thread::spawn(move || {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        std::thread::sleep(timeout + std::time::Duration::from_secs(1));
        tracing::error!(
            ?timeout,
            "shutdown deadline passed before the final commit; exiting without it"
        );
        std::process::exit(1);
    });
}

/// The embedded default: broker, samples in, pipeline, alerts read back out.
pub fn run_embedded(p: &Prepared, args: &RunArgs, proc: Processor, events: &[u8]) -> anyhow::Result<Stats> {
    let topics = KafkaConfig::topics(&p.config.sources);
    let mut all = topics.clone();
    all.extend([
        p.config.output.alerts_topic.clone(),
        p.config.output.dead_letter_topic.clone(),
        p.config.output.state_topic.clone(),
    ]);
    let broker = EmbeddedBroker::start(&all).context("starting the embedded broker")?;
    let bootstrap = broker.bootstrap_servers();
    tracing::info!(%bootstrap, topics = ?all, "embedded Kafka-protocol broker started");
    let records = by_topic(p, events, &topics);
    let ends = embedded::produce(&bootstrap, &records).context("producing the sample events")?;
    tracing::info!(events = records.len(), "sample events produced to their source topics");

    let source = source(p, &bootstrap, Some(ends));
    // The alerts printed are the alert topic's messages: `--format` chooses their format here.
    let out = output(p, &source.client, args.format.unwrap_or(p.config.output.alerts_format))?;
    let started = Instant::now();
    let (stats, _) = source.run(proc, out, &AtomicBool::new(false))?;
    let secs = started.elapsed().as_secs_f64();

    // Partitions interleave differently run to run: print in event-time order.
    let mut read: Vec<(String, String, Vec<u8>)> = embedded::read_all(&bootstrap, &p.config.output.alerts_topic)?
        .into_iter()
        .map(|r| {
            // JSON, or the alert JSON a syslog line carries (CEF sorts by its text).
            let text = std::str::from_utf8(&r.payload).unwrap_or_default();
            let json = crate::alert::format::syslog::message(text).unwrap_or(text);
            let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
            let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            (field("event_time"), field("alert_id"), r.payload)
        })
        .collect();
    read.sort();
    let mut alerts = writer(&args.output, false)?;
    for (_, _, payload) in read {
        alerts.write_all(&payload)?;
        alerts.write_all(b"\n")?;
    }
    alerts.flush()?;
    let mut dead = writer(&args.dead_letter, true)?;
    for r in embedded::read_all(&bootstrap, &p.config.output.dead_letter_topic)? {
        let h: BTreeMap<_, _> = r.headers.into_iter().collect();
        let line = serde_json::json!({
            "reason": h.get("tocsin.reason"),
            "detail": h.get("tocsin.detail"),
            "source": {
                "topic": h.get("tocsin.source.topic"),
                "partition": h.get("tocsin.source.partition").and_then(|v| v.parse::<i64>().ok()),
                "offset": h.get("tocsin.source.offset").and_then(|v| v.parse::<i64>().ok()),
            },
            "raw": String::from_utf8_lossy(&r.payload),
        });
        serde_json::to_writer(&mut dead, &line)?;
        dead.write_all(b"\n")?;
    }
    dead.flush()?;
    print_summary(&stats, secs);
    Ok(stats)
}

fn source(p: &Prepared, brokers: &str, stop_at: Option<BTreeMap<(String, i32), i64>>) -> KafkaSource {
    let k = &p.config.kafka;
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", brokers);
    for (key, v) in &k.properties {
        client.set(key, v);
    }
    KafkaSource {
        client,
        group_id: k.group_id.clone(),
        topics: KafkaConfig::topics(&p.config.sources),
        commit_interval: KafkaConfig::duration(&k.commit_interval),
        idle_timeout: KafkaConfig::duration(&k.idle_timeout),
        shutdown_timeout: KafkaConfig::duration(&k.shutdown_timeout),
        state_topic: p.config.output.state_topic.clone(),
        rule_updates: Default::default(),
        stop_at: stop_at.map(|m| m.into_iter().filter(|(_, end)| *end > 0).collect()),
    }
}

fn output(p: &Prepared, client: &ClientConfig, format: AlertFormat) -> anyhow::Result<KafkaOutput> {
    let o = &p.config.output;
    let k = &p.config.kafka;
    let txn_id = k.exactly_once.then(|| k.transactional_id());
    let timeout = KafkaConfig::duration(&k.shutdown_timeout);
    let renderer = AlertRenderer::from_config(format, o)?;
    Ok(KafkaOutput::new(
        client,
        &o.alerts_topic,
        &o.dead_letter_topic,
        txn_id.as_deref(),
        timeout,
    )?
    .with_renderer(renderer))
}

/// Each sample line goes to the first topic of the first source that claims
/// it (lines no source claims, malformed ones included, to the first topic):
/// the shape of a real deployment, where each log pipeline has its topic.
fn by_topic(p: &Prepared, events: &[u8], topics: &[String]) -> Vec<(String, Vec<u8>)> {
    let mut decoder = JsonDecoder::new(p.config.input.max_event_bytes);
    let mut extraction = crate::decode::extract::Extraction::new();
    let fallback = topics.first().cloned().unwrap_or_else(|| "events".into());
    events
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .map(|line| {
            let topic = decoder.decode(line).ok().and_then(|d| {
                let root = d.root();
                p.detector
                    .sources
                    .iter()
                    .find(|s| s.source.classify(root, &mut extraction, None).0)
                    .and_then(|s| s.source.topics.first().cloned())
            });
            (topic.unwrap_or_else(|| fallback.clone()), line.to_vec())
        })
        .collect()
}

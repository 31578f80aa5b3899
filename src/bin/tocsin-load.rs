//! `tocsin-load`: end-to-end load over the Kafka protocol (issue 5, "Performance").
//!
//! Modes, all over the same synthetic Windows events (`benches/common/gen.rs`,
//! Winlogbeat layout, so `samples/tocsin.toml` classifies them):
//!
//! - `ceiling`: the bare librdkafka bound: a `BaseConsumer` (consumer group,
//!   subscribe) reads every message of the input topic and a `ThreadedProducer`
//!   configured like Tocsin's sink (idempotent, lz4, linger 5 ms) writes each
//!   payload to an output topic, until all are consumed and acknowledged.
//! - `tocsin`: the same messages through the engine's real Kafka path as a
//!   library: `KafkaSource` (replay: `stop_at` = the end offsets) →
//!   `Processor::with_correlation` → `KafkaOutput`, with the rules and config
//!   loaded by `cli::run::prepare` as `tocsin run` loads them.
//! - `both`: ceiling and tocsin alternately over the one produced topic
//!   (`--repeat` times), then the ratio of the best runs and of the medians.
//! - `latency`: Tocsin streaming while a producer sends events at `--rate`
//!   per second for `--seconds`, each event's `@timestamp` set to the wall
//!   clock at its send; a consumer of the alert topic records now − event
//!   time of every alert in an HDR histogram (µs): match alerts from their
//!   `event_time`, correlation alerts apart and from `last_event_time` (they
//!   wait for the watermark, i.e. the out-of-orderness bound, by design).
//!
//! For `ceiling`, `tocsin` and `both`, the N events are produced first and
//! their end offsets taken from the broker's delivery reports (not from
//! watermarks, which tansu under-reports after batched produces), so every
//! measurement reads the same bytes. Throughput counts from the consumer's
//! creation to the last acknowledgement: group join, Tocsin's checkpoint
//! restore and final commit are inside the measured time, for both.
//!
//! The broker is an in-process mock cluster (librdkafka's, a real Kafka
//! listener on loopback) unless `--brokers` names one. The mock keeps only
//! ~5 MiB of each partition's log, so the default partition count there
//! grows with the data, and a run the mock dropped data from fails. The last
//! stdout line of each measurement is `RESULT key=value …` for scripts and
//! the smoke test. Results and their caveats: `benches/README.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use clap::Parser;
use hdrhistogram::Histogram;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{
    BaseProducer, BaseRecord, DefaultProducerContext, DeliveryResult, Producer, ProducerContext, ThreadedProducer,
};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use tocsin::alert::redact::Redactor;
use tocsin::cli::run::{prepare, Prepared};
use tocsin::cli::RuleArgs;
use tocsin::config::KafkaConfig;
use tocsin::pipeline::{CorrelationConfig, Processor, Stats};
use tocsin::sink::kafka::KafkaOutput;
use tocsin::source::kafka::KafkaSource;

#[path = "../../benches/common/gen.rs"]
#[allow(dead_code)]
mod gen;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Ceiling,
    Tocsin,
    Both,
    Latency,
}

#[derive(Parser, Debug)]
#[command(
    name = "tocsin-load",
    about = "Kafka end-to-end load: bare librdkafka ceiling, Tocsin throughput, event→alert latency"
)]
struct Args {
    #[arg(long, value_enum)]
    mode: Mode,
    /// Events produced before a throughput measurement.
    #[arg(long, default_value_t = 200_000)]
    events: u64,
    /// Partitions of every topic created. Default 4; on the mock cluster, which
    /// keeps only ~5 MiB of each partition's log, at least enough to hold the
    /// events (`latency`: 2 s of sending), a multiple of 4.
    #[arg(long = "partitions")]
    partitions_arg: Option<i32>,
    /// The partition count in use.
    #[arg(skip)]
    partitions: i32,
    /// An external broker (`HOST:PORT`); default: an in-process mock cluster.
    #[arg(long)]
    brokers: Option<String>,
    /// `both`: measurements of each kind, alternating.
    #[arg(long, default_value_t = 1)]
    repeat: u32,
    /// Generator seed and attack rate (see benches/README.md).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = gen::DEFAULT_ATTACK_RATE)]
    attack_rate: f64,
    /// Rules (default: the shipped `rules/`).
    #[arg(long = "rules", num_args = 1..)]
    rules: Vec<PathBuf>,
    /// Config (default: `samples/tocsin.toml`). Its source topics are renamed
    /// with this run's suffix on an external broker.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Correlation shard threads (default: the number of cores, as `tocsin run`).
    #[arg(long)]
    shards: Option<usize>,
    /// Watermark bound (`tocsin run --max-out-of-orderness`).
    #[arg(long, default_value = "5s")]
    max_out_of_orderness: String,
    /// Compression of the input producer (the event shipper): none, lz4, zstd, gzip, snappy.
    #[arg(long, default_value = "none")]
    input_compression: String,
    /// `latency`: events per second.
    #[arg(long, default_value_t = 10_000.0)]
    rate: f64,
    /// `latency`: how long to send.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// `latency`: wait after the last send before stopping the engine.
    #[arg(long, default_value = "2s")]
    drain: String,
    /// librdkafka property for the engine's (and the ceiling's) clients, as
    /// `[kafka.properties]` would set it, e.g. `fetch.wait.max.ms=10`. Repeatable.
    #[arg(long = "property", value_name = "KEY=VALUE")]
    properties: Vec<String>,
    /// A measurement still running after this is stopped and reported as failed.
    #[arg(long, default_value = "10m")]
    timeout: String,
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOCSIN_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    match run(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn duration(flag: &str, v: &str) -> anyhow::Result<Duration> {
    tocsin::correlate::parse_duration_ms(v)
        .map(Duration::from_millis)
        .with_context(|| format!("{flag}: `{v}` is not a duration like 500ms, 5s, 10m"))
}

/// librdkafka's mock cluster drops a partition's oldest message sets once
/// its log passes 5 MiB (hard-coded in `rdkafka_mock.c`); the default
/// partition count keeps each under this.
const MOCK_PARTITION_BYTES: u64 = 4 << 20;

/// The default partition count (see `--partitions`).
fn default_partitions(a: &Args, mock: bool) -> i32 {
    if !mock {
        return 4;
    }
    // Latency: the engine may lag up to ~2 s behind the producer before the
    // mock drops what it has not read.
    let events = match a.mode {
        Mode::Latency => (a.rate * 2.0) as u64,
        _ => a.events,
    };
    let mut g = gen::EventGen::with_attack_rate(a.seed, a.attack_rate).with_shape(gen::Shape::Winlogbeat);
    let sample = events.clamp(1, 2_000);
    let bytes: u64 = (0..sample).map(|_| g.next_event().len() as u64).sum();
    let estimate = bytes * events / sample;
    let need = estimate.div_ceil(MOCK_PARTITION_BYTES) as i32;
    (need.max(4) + 3) / 4 * 4
}

/// Returns whether every measurement read every message it should have.
fn run(mut a: Args) -> anyhow::Result<bool> {
    let broker = Broker::start(a.brokers.as_deref())?;
    a.partitions = a
        .partitions_arg
        .unwrap_or_else(|| default_partitions(&a, broker.mock.is_some()));
    if a.partitions < 1 || a.events == 0 {
        bail!("--partitions and --events must be at least 1");
    }
    let suffix = broker.suffix();
    let env = Env::load(&a, &suffix)?;
    let mut topics: Vec<(String, i32)> = [&env.input, &env.output, &env.alerts, &env.dead]
        .into_iter()
        .map(|t| (t.clone(), a.partitions))
        .collect();
    // The checkpoint topic has one partition, as the config documents.
    let reps = if a.mode == Mode::Both { a.repeat.max(1) } else { 1 };
    topics.extend((0..reps).map(|r| (env.state(r), 1)));
    broker.create_topics(&topics)?;
    eprintln!(
        "broker {} ({}), topics (name, partitions) {topics:?}, {} partitions",
        broker.bootstrap,
        if broker.mock.is_some() {
            "in-process mock cluster"
        } else {
            "external"
        },
        a.partitions
    );
    println!("load average before: {}", loadavg());
    let timeout = duration("--timeout", &a.timeout)?;

    if a.mode == Mode::Latency {
        return latency(&a, &broker, &env);
    }

    let input = produce_input(&a, &broker, &env)?;
    println!("load average after producing: {}", loadavg());
    let mut ok = true;
    let (mut ceilings, mut tocsins) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        if matches!(a.mode, Mode::Ceiling | Mode::Both) {
            let before = loadavg();
            let r = ceiling(&broker, &env, &input, rep, timeout)?;
            r.print("ceiling", rep, &before, &input);
            if r.messages != input.total {
                eprintln!("error: ceiling read {} of {} messages", r.messages, input.total);
                ok = false;
            }
            ceilings.push(r.rate());
        }
        if matches!(a.mode, Mode::Tocsin | Mode::Both) {
            let before = loadavg();
            let r = tocsin_replay(&a, &broker, &env, &input, rep, timeout)?;
            r.print("tocsin", rep, &before, &input);
            if r.messages != input.total {
                eprintln!("error: tocsin read {} of {} messages", r.messages, input.total);
                ok = false;
            }
            tocsins.push(r.rate());
        }
    }
    if a.mode == Mode::Both {
        let (bc, bt) = (best(&ceilings), best(&tocsins));
        let (mc, mt) = (median(&ceilings), median(&tocsins));
        println!(
            "ratio tocsin / ceiling: best of {reps} each {bt:.0} / {bc:.0} msg/s = {:.1}%; medians {mt:.0} / {mc:.0} = {:.1}%",
            100.0 * bt / bc.max(1.0),
            100.0 * mt / mc.max(1.0)
        );
        println!(
            "RESULT mode=ratio tocsin_msgs_per_s={bt:.0} ceiling_msgs_per_s={bc:.0} ratio={:.3} median_ratio={:.3}",
            bt / bc.max(1.0),
            mt / mc.max(1.0)
        );
    }
    Ok(ok)
}

fn best(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// CPU time (user + system) of the whole process so far, in seconds: the
/// engine or the bare client, their librdkafka threads, and the in-process
/// mock broker when there is one.
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces): utime, stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// One line every second on stderr.
struct Progress {
    last: Instant,
}

impl Progress {
    fn new() -> Self {
        Progress { last: Instant::now() }
    }

    fn due(&mut self) -> bool {
        if self.last.elapsed() >= Duration::from_secs(1) {
            self.last = Instant::now();
            true
        } else {
            false
        }
    }
}

// ── the broker ───────────────────────────────────────────────────────────

struct Broker {
    bootstrap: String,
    /// Owns the mock cluster (when there is no external broker).
    mock: Option<BaseProducer<DefaultProducerContext>>,
    /// `bootstrap.servers`, the base of every client here.
    client: ClientConfig,
}

impl Broker {
    fn start(brokers: Option<&str>) -> anyhow::Result<Broker> {
        let mut client = ClientConfig::new();
        if let Some(b) = brokers {
            client.set("bootstrap.servers", b);
            return Ok(Broker {
                bootstrap: b.to_string(),
                mock: None,
                client,
            });
        }
        let holder: BaseProducer<DefaultProducerContext> = ClientConfig::new()
            .set("test.mock.num.brokers", "1")
            .create()
            .context("starting the mock cluster")?;
        let bootstrap = holder
            .client()
            .mock_cluster()
            .context("the producer owns a mock cluster")?
            .bootstrap_servers();
        // One member per group: no need to wait the default 3 s for others to join.
        // SAFETY: the mock cluster lives as long as `holder`, whose handle owns it;
        // the pointer is only used here, while `holder` is alive.
        unsafe {
            let mc = rdkafka::bindings::rd_kafka_handle_mock_cluster(holder.client().native_ptr());
            if mc.is_null() {
                bail!("no mock cluster behind the holder handle");
            }
            rdkafka::bindings::rd_kafka_mock_group_initial_rebalance_delay_ms(mc, 0);
        }
        client.set("bootstrap.servers", &bootstrap);
        Ok(Broker {
            bootstrap,
            mock: Some(holder),
            client,
        })
    }

    /// Topic-name suffix: none on a fresh mock cluster; on an external broker,
    /// one per run, so earlier runs' topics and groups are never read.
    fn suffix(&self) -> String {
        if self.mock.is_some() {
            String::new()
        } else {
            let ms = now_ns() / 1_000_000;
            format!("-load{}-{}", ms % 100_000_000, std::process::id())
        }
    }

    /// Creates (topic, partitions) pairs; one that exists already is kept.
    fn create_topics(&self, topics: &[(String, i32)]) -> anyhow::Result<()> {
        if let Some(holder) = &self.mock {
            let mock = holder.client().mock_cluster().context("mock cluster")?;
            for (t, partitions) in topics {
                mock.create_topic(t, *partitions, 1)
                    .with_context(|| format!("creating {t}"))?;
            }
            return Ok(());
        }
        let admin: AdminClient<DefaultClientContext> = self.client.create().context("admin client")?;
        let new: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|(t, p)| NewTopic::new(t, *p, TopicReplication::Fixed(1)))
            .collect();
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = block_on(admin.create_topics(&new, &opts)).context("creating topics")?;
        for r in results {
            match r {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((t, e)) => bail!("creating topic {t}: {e}"),
            }
        }
        Ok(())
    }
}

/// Runs a future on this thread (rdkafka's admin futures are completed by
/// its own background thread; no async runtime needed).
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

// ── rules, config and topic names ────────────────────────────────────────

struct Env {
    prepared: Prepared,
    input: String,
    output: String,
    alerts: String,
    dead: String,
    state_base: String,
    suffix: String,
    /// `--property` pairs.
    properties: Vec<(String, String)>,
}

impl Env {
    /// Loads rules and config as `tocsin run --rules … --config …` does; the
    /// config's source topics get `suffix` (a copy in a temporary file).
    fn load(a: &Args, suffix: &str) -> anyhow::Result<Env> {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let config = a.config.clone().unwrap_or_else(|| repo.join("samples/tocsin.toml"));
        let rules = if a.rules.is_empty() {
            vec![repo.join("rules")]
        } else {
            a.rules.clone()
        };
        let text = std::fs::read_to_string(&config).with_context(|| config.display().to_string())?;
        let mut doc: toml::Table = toml::from_str(&text).with_context(|| config.display().to_string())?;
        if let Some(toml::Value::Array(sources)) = doc.get_mut("sources") {
            for s in sources.iter_mut() {
                if let Some(toml::Value::Array(ts)) = s.get_mut("topics") {
                    for t in ts.iter_mut() {
                        if let toml::Value::String(name) = t {
                            name.push_str(suffix);
                        }
                    }
                }
            }
        }
        let tmp = std::env::temp_dir().join(format!("tocsin-load-{}.toml", std::process::id()));
        std::fs::write(&tmp, toml::to_string(&doc)?).with_context(|| tmp.display().to_string())?;
        let prepared = prepare(
            &RuleArgs {
                rules: rules.clone(),
                config: Some(tmp.clone()),
            },
            None,
            false,
        );
        let _ = std::fs::remove_file(&tmp);
        let prepared = prepared?;
        if !prepared.errors.is_empty() {
            for e in &prepared.errors {
                eprintln!("{e}");
            }
            bail!("{} rule(s) rejected", prepared.rejected_rules());
        }
        let topics = KafkaConfig::topics(&prepared.config.sources);
        let input = topics.first().cloned().context("the config has no source topic")?;
        let o = &prepared.config.output;
        eprintln!(
            "rules: {} loaded ({} correlations) from {:?}; config {}; input topic {input}",
            prepared.loaded_rules(),
            prepared.detector.correlations.specs.len(),
            rules,
            config.display(),
        );
        let properties = a
            .properties
            .iter()
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .with_context(|| format!("--property {kv}: expected KEY=VALUE"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Env {
            properties,
            output: format!("tocsin-load-ceiling-out{suffix}"),
            alerts: format!("{}{suffix}", o.alerts_topic),
            dead: format!("{}{suffix}", o.dead_letter_topic),
            state_base: format!("{}{suffix}", o.state_topic),
            suffix: suffix.to_string(),
            input,
            prepared,
        })
    }

    /// The state topic of repetition `rep` (each starts with no checkpoint).
    fn state(&self, rep: u32) -> String {
        if rep == 0 {
            self.state_base.clone()
        } else {
            format!("{}-{rep}", self.state_base)
        }
    }

    fn group(&self, what: &str, rep: u32) -> String {
        format!("tocsin-load-{what}-{rep}{}", self.suffix)
    }

    /// The client Tocsin's source and sink use: brokers plus `[kafka.properties]`.
    fn client(&self, broker: &Broker) -> ClientConfig {
        let mut c = broker.client.clone();
        for (k, v) in &self.prepared.config.kafka.properties {
            c.set(k, v);
        }
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }

    fn processor(&self, a: &Args) -> anyhow::Result<Processor> {
        let p = &self.prepared;
        let redactor = match &p.config.redact {
            Some(c) => Redactor::new(c)?,
            None => Redactor::default_on(),
        };
        let corr = CorrelationConfig {
            shards: a
                .shards
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
                .max(1),
            max_out_of_orderness_ns: duration("--max-out-of-orderness", &a.max_out_of_orderness)?.as_nanos() as i64,
            ..CorrelationConfig::default()
        };
        Ok(Processor::with_correlation(
            p.detector.clone(),
            redactor,
            p.config.input.max_event_bytes,
            &corr,
        ))
    }

    fn source(&self, broker: &Broker, group: String, state: String, stop_at: Option<Ends>) -> KafkaSource {
        let k = &self.prepared.config.kafka;
        KafkaSource {
            client: self.client(broker),
            group_id: group,
            // Only the topic the load writes: the config's other source topics get
            // no traffic here, and an empty subscribed partition would hold the
            // watermark back for `idle_timeout`.
            topics: vec![self.input.clone()],
            commit_interval: KafkaConfig::duration(&k.commit_interval),
            idle_timeout: KafkaConfig::duration(&k.idle_timeout),
            shutdown_timeout: KafkaConfig::duration(&k.shutdown_timeout),
            state_topic: state,
            stop_at,
            rule_updates: Default::default(),
        }
    }

    fn output(&self, client: &ClientConfig) -> anyhow::Result<KafkaOutput> {
        Ok(KafkaOutput::new(
            client,
            &self.alerts,
            &self.dead,
            None,
            Duration::from_secs(30),
        )?)
    }
}

// ── producing the input ──────────────────────────────────────────────────

type Ends = BTreeMap<(String, i32), i64>;

/// Acknowledged deliveries per partition: (count, highest offset + 1), and failures.
#[derive(Default)]
struct Acks {
    parts: Mutex<BTreeMap<i32, (u64, i64)>>,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = ();

    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        match r {
            Ok(m) => {
                let mut g = self.parts.lock().unwrap_or_else(|p| p.into_inner());
                let e = g.entry(m.partition()).or_insert((0, 0));
                e.0 += 1;
                e.1 = e.1.max(m.offset() + 1);
            }
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.first_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert_with(|| e.to_string());
            }
        }
    }
}

impl Acks {
    fn acked(&self) -> u64 {
        let g = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        g.values().map(|v| v.0).sum()
    }

    fn check(&self) -> anyhow::Result<()> {
        let n = self.failed.load(Ordering::Relaxed);
        if n > 0 {
            let first = self.first_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
            bail!(
                "{n} message(s) not delivered (first error: {})",
                first.unwrap_or_default()
            );
        }
        Ok(())
    }
}

/// Sends, waiting for room when the producer's queue is full.
fn send<C: ProducerContext<DeliveryOpaque = ()>>(
    p: &ThreadedProducer<C>,
    mut rec: BaseRecord<'_, (), [u8]>,
) -> anyhow::Result<()> {
    loop {
        match p.send(rec) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                rec = r;
                std::thread::sleep(Duration::from_micros(500));
            }
            Err((e, _)) => bail!("producing: {e}"),
        }
    }
}

/// What was produced: per-partition acknowledged counts and end offsets.
struct Input {
    total: u64,
    bytes: u64,
    /// Per partition: (acknowledged messages, end offset).
    parts: BTreeMap<i32, (u64, i64)>,
    topic: String,
}

impl Input {
    fn ends(&self) -> Ends {
        self.parts
            .iter()
            .filter(|(_, (n, _))| *n > 0)
            .map(|(&p, &(_, end))| ((self.topic.clone(), p), end))
            .collect()
    }
}

fn input_producer(a: &Args, broker: &Broker) -> anyhow::Result<ThreadedProducer<Acks>> {
    broker
        .client
        .clone()
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("compression.type", &a.input_compression)
        .create_with_context(Acks::default())
        .context("input producer")
}

/// Produces the N events, event `i` to partition `i mod P`.
fn produce_input(a: &Args, broker: &Broker, env: &Env) -> anyhow::Result<Input> {
    let producer = input_producer(a, broker)?;
    let mut g = gen::EventGen::with_attack_rate(a.seed, a.attack_rate).with_shape(gen::Shape::Winlogbeat);
    let mut line = String::with_capacity(2048);
    let mut bytes = 0u64;
    let started = Instant::now();
    let mut progress = Progress::new();
    for i in 0..a.events {
        line.clear();
        g.next_into(&mut line);
        bytes += line.len() as u64;
        let rec = BaseRecord::to(&env.input)
            .payload(line.as_bytes())
            .partition((i % a.partitions as u64) as i32);
        send(&producer, rec)?;
        if progress.due() {
            eprintln!(
                "producing: {i} sent, {} acknowledged, {:.1} s",
                producer.context().acked(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    producer.flush(Duration::from_secs(120)).context("flushing the input")?;
    producer.context().check()?;
    let parts = producer
        .context()
        .parts
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let total: u64 = parts.values().map(|v| v.0).sum();
    for (p, (n, end)) in &parts {
        if *n as i64 != *end {
            eprintln!("warning: partition {p}: {n} acknowledged but end offset {end} (topic not fresh?)");
        }
    }
    if total != a.events {
        bail!("{total} of {} events acknowledged", a.events);
    }
    if broker.mock.is_some() {
        check_retained(broker, &env.input, &parts)?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "produced {total} events ({:.1} MB, {:.0} B/event) to {} in {secs:.2} s ({:.0} msg/s); ends {:?}",
        bytes as f64 / 1e6,
        bytes as f64 / total as f64,
        env.input,
        total as f64 / secs,
        parts.iter().map(|(p, (_, e))| (*p, *e)).collect::<Vec<_>>()
    );
    Ok(Input {
        total,
        bytes,
        parts,
        topic: env.input.clone(),
    })
}

/// Fails when the mock cluster has already dropped the oldest messages of a
/// partition (more than ~5 MiB written to it).
fn check_retained(broker: &Broker, topic: &str, parts: &BTreeMap<i32, (u64, i64)>) -> anyhow::Result<()> {
    let c: BaseConsumer = broker.client.clone().create().context("watermark reader")?;
    for p in parts.keys() {
        let (low, _) = c
            .fetch_watermarks(topic, *p, Duration::from_secs(10))
            .context("reading watermarks")?;
        if low > 0 {
            bail!(
                "the mock cluster dropped offsets 0..{low} of {topic}/{p}: it keeps only ~5 MiB per partition; \
                 use more --partitions or fewer --events"
            );
        }
    }
    Ok(())
}

// ── throughput ───────────────────────────────────────────────────────────

struct Measured {
    messages: u64,
    secs: f64,
    /// Process CPU seconds during the measurement.
    cpu: f64,
    /// Ceiling: time from start to the first message (group join, first fetch).
    first: Option<f64>,
    stats: Option<Stats>,
    commits: u64,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.messages as f64 / self.secs.max(1e-9)
    }

    fn print(&self, what: &str, rep: u32, load_before: &str, input: &Input) {
        let mb = input.bytes as f64 * self.messages as f64 / input.total as f64 / 1e6;
        let mut line = format!(
            "{what:<8} run {}: {} messages, {mb:.1} MB in {:.3} s: {:.0} msg/s, {:.1} MB/s",
            rep + 1,
            self.messages,
            self.secs,
            self.rate(),
            mb / self.secs.max(1e-9)
        );
        if let Some(f) = self.first {
            let _ = write!(
                line,
                " (first message after {f:.3} s; {:.0} msg/s from it)",
                self.messages as f64 / (self.secs - f).max(1e-9)
            );
        }
        let _ = write!(
            line,
            "; CPU {:.2} s ({:.0} msg per CPU-s); load {load_before} → {}",
            self.cpu,
            self.messages as f64 / self.cpu.max(0.01),
            loadavg()
        );
        println!("{line}");
        let mut result = format!(
            "RESULT mode={what} run={} messages={} seconds={:.3} msgs_per_s={:.0} mb_per_s={:.1} cpu_s={:.2}",
            rep + 1,
            self.messages,
            self.secs,
            self.rate(),
            mb / self.secs.max(1e-9),
            self.cpu
        );
        if let Some(s) = &self.stats {
            println!(
                "         alerts {} (match {}, correlation {}), events classified {}, unclassified {}, \
                 dead letters {}, commits {}",
                s.alerts,
                s.alerts - s.correlation_alerts - s.overflow_alerts,
                s.correlation_alerts,
                s.events,
                s.unclassified,
                s.dead_letter_total(),
                self.commits
            );
            let _ = write!(
                result,
                " alerts={} correlation_alerts={} dead_letters={}",
                s.alerts,
                s.correlation_alerts,
                s.dead_letter_total()
            );
        }
        println!("{result}");
    }
}

/// Delivered / failed counts of the ceiling's output.
#[derive(Default)]
struct Count {
    ok: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Count {}

impl ProducerContext for Count {
    type DeliveryOpaque = ();

    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        match r {
            Ok(_) => self.ok.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// Bare librdkafka: consume every input message, produce its payload to the
/// output topic (same partition), flush, commit.
fn ceiling(broker: &Broker, env: &Env, input: &Input, rep: u32, timeout: Duration) -> anyhow::Result<Measured> {
    let client = env.client(broker);
    let cpu0 = cpu_secs();
    let started = Instant::now();
    let producer: ThreadedProducer<Count> = client
        .clone()
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("compression.type", "lz4")
        .create_with_context(Count::default())
        .context("ceiling producer")?;
    let consumer: BaseConsumer = client
        .clone()
        .set("group.id", env.group("ceiling", rep))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .create()
        .context("ceiling consumer")?;
    consumer.subscribe(&[&env.input]).context("subscribing")?;
    // Per partition: messages still to read (acknowledged count) and end offset.
    let mut remaining: BTreeMap<i32, (u64, i64)> = input
        .parts
        .iter()
        .filter(|(_, (n, _))| *n > 0)
        .map(|(&p, &v)| (p, v))
        .collect();
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    let mut messages = 0u64;
    let mut first = None;
    let mut progress = Progress::new();
    while !remaining.is_empty() {
        if started.elapsed() > timeout {
            eprintln!("ceiling: timed out with {messages} of {} consumed", input.total);
            break;
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                first.get_or_insert_with(|| started.elapsed().as_secs_f64());
                let p = m.partition();
                let rec = BaseRecord::to(&env.output)
                    .payload(m.payload().unwrap_or_default())
                    .partition(p);
                send(&producer, rec)?;
                messages += 1;
                next.insert(p, m.offset() + 1);
                if let Some(r) = remaining.get_mut(&p) {
                    r.0 = r.0.saturating_sub(1);
                    if r.0 == 0 || m.offset() + 1 >= r.1 {
                        remaining.remove(&p);
                    }
                }
            }
            Some(Err(e)) => eprintln!("ceiling: consumer error: {e}"),
            None => {}
        }
        if progress.due() {
            eprintln!(
                "ceiling: {messages}/{} consumed, {} produced and acknowledged, {:.1} s",
                input.total,
                producer.context().ok.load(Ordering::Relaxed),
                started.elapsed().as_secs_f64()
            );
        }
    }
    producer.flush(Duration::from_secs(60)).context("flushing the output")?;
    let mut tpl = TopicPartitionList::new();
    for (p, o) in &next {
        tpl.add_partition_offset(&env.input, *p, Offset::Offset(*o))?;
    }
    if tpl.count() > 0 {
        consumer.commit(&tpl, CommitMode::Sync).context("committing")?;
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu0;
    let failed = producer.context().failed.load(Ordering::Relaxed);
    if failed > 0 {
        bail!("ceiling: {failed} output message(s) not delivered");
    }
    consumer.unsubscribe();
    Ok(Measured {
        messages,
        secs,
        cpu,
        first,
        stats: None,
        commits: 1,
    })
}

/// Reads a group's committed offsets every second (what Tocsin has
/// processed and made durable) to print progress, and sets `stop` after the
/// timeout.
fn monitor(
    client: ClientConfig,
    group: String,
    input: &Input,
    stop: &AtomicBool,
    done: &AtomicBool,
    timeout: Duration,
) {
    let consumer: Result<BaseConsumer, _> = client.clone().set("group.id", &group).create();
    let started = Instant::now();
    let mut progress = Progress::new();
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        if started.elapsed() > timeout {
            eprintln!("tocsin: timed out; stopping the engine");
            stop.store(true, Ordering::Relaxed);
            return;
        }
        if !progress.due() {
            continue;
        }
        let Ok(c) = &consumer else {
            eprintln!("tocsin: running, {:.1} s", started.elapsed().as_secs_f64());
            continue;
        };
        let mut tpl = TopicPartitionList::new();
        for p in input.parts.keys() {
            tpl.add_partition(&input.topic, *p);
        }
        let committed: i64 = c
            .committed_offsets(tpl, Duration::from_secs(1))
            .map(|t| {
                t.elements()
                    .iter()
                    .map(|e| match e.offset() {
                        Offset::Offset(o) => o,
                        _ => 0,
                    })
                    .sum()
            })
            .unwrap_or(0);
        eprintln!(
            "tocsin: {committed}/{} committed, {:.1} s",
            input.total,
            started.elapsed().as_secs_f64()
        );
    }
}

/// Tocsin's Kafka path over the produced input, as a replay to its end offsets.
fn tocsin_replay(
    a: &Args,
    broker: &Broker,
    env: &Env,
    input: &Input,
    rep: u32,
    timeout: Duration,
) -> anyhow::Result<Measured> {
    let group = env.group("tocsin", rep);
    let source = env.source(broker, group.clone(), env.state(rep), Some(input.ends()));
    let proc = env.processor(a)?;
    let stop = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let cpu0 = cpu_secs();
    let (result, secs) = std::thread::scope(|s| {
        s.spawn(|| monitor(source.client.clone(), group.clone(), input, &stop, &done, timeout));
        let started = Instant::now();
        let result = env
            .output(&source.client)
            .and_then(|out| Ok(source.run(proc, out, &stop)?));
        let secs = started.elapsed().as_secs_f64();
        done.store(true, Ordering::Relaxed);
        (result, secs)
    });
    let cpu = cpu_secs() - cpu0;
    let (stats, source_stats) = result?;
    Ok(Measured {
        messages: source_stats.messages,
        secs,
        cpu,
        first: None,
        stats: Some(stats),
        commits: source_stats.commits,
    })
}

// ── latency ──────────────────────────────────────────────────────────────

/// `@timestamp` values the generator writes: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
const TS_LEN: usize = 27;

/// An event with the position of its `@timestamp` value, to rewrite per send.
struct Template {
    bytes: Vec<u8>,
    ts: usize,
}

fn templates(a: &Args, n: usize) -> anyhow::Result<Vec<Template>> {
    let mut g = gen::EventGen::with_attack_rate(a.seed, a.attack_rate).with_shape(gen::Shape::Winlogbeat);
    let key = br#""@timestamp""#;
    (0..n)
        .map(|_| {
            let e = g.next_event().into_bytes();
            let mut at = e
                .windows(key.len())
                .position(|w| w == key)
                .context("a generated event without @timestamp")?
                + key.len();
            // `: "` (the generator's spacing) or `:"`.
            while matches!(e.get(at), Some(b':' | b' ')) {
                at += 1;
            }
            if e.get(at) != Some(&b'"') {
                bail!("unexpected @timestamp layout in {}", String::from_utf8_lossy(&e));
            }
            at += 1;
            if e.get(at + TS_LEN - 1) != Some(&b'Z') {
                bail!("unexpected @timestamp layout in {}", String::from_utf8_lossy(&e));
            }
            Ok(Template { bytes: e, ts: at })
        })
        .collect()
}

/// `ns` since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (µs).
fn write_ts(out: &mut [u8], ns: i128) {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ns).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let mut s = String::with_capacity(TS_LEN);
    let _ = write!(
        s,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    );
    out.copy_from_slice(&s.as_bytes()[..TS_LEN]);
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 1 h, 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// A match alert's `event_time` is its event's; a correlation alert's is the
/// first event of its window, so its latency is taken from
/// `last_event_time`, the event that completed the condition.
#[derive(serde::Deserialize)]
struct AlertTimes {
    kind: String,
    event_time: String,
    #[serde(default)]
    last_event_time: Option<String>,
}

/// What the alert-topic reader saw.
struct Latencies {
    matches: Histogram<u64>,
    correlations: Histogram<u64>,
    /// Correlation alerts split at the alert message's Kafka timestamp (the
    /// engine's produce call): event → engine emit, and emit → read back.
    correlations_engine: Histogram<u64>,
    correlations_transport: Histogram<u64>,
    unparsed: u64,
}

fn read_alerts(
    mut client: ClientConfig,
    topic: &str,
    partitions: i32,
    stop: &AtomicBool,
    seen: &AtomicU64,
    live: &Mutex<Histogram<u64>>,
) -> anyhow::Result<Latencies> {
    let consumer: BaseConsumer = client
        .set("group.id", "tocsin-load-alert-reader")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()
        .context("alert reader")?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let mut out = Latencies {
        matches: histogram(),
        correlations: histogram(),
        correlations_engine: histogram(),
        correlations_transport: histogram(),
        unparsed: 0,
    };
    let mut quiet_since: Option<Instant> = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            // Drain: stop after one quiet second.
            let q = quiet_since.get_or_insert_with(Instant::now);
            if q.elapsed() > Duration::from_secs(1) {
                break;
            }
        }
        match consumer.poll(Duration::from_millis(50)) {
            Some(Ok(m)) => {
                let now = now_ns();
                if stop.load(Ordering::Relaxed) {
                    quiet_since = Some(Instant::now());
                }
                let parsed = serde_json::from_slice::<AlertTimes>(m.payload().unwrap_or_default())
                    .ok()
                    .and_then(|t| {
                        let from = t.last_event_time.as_deref().unwrap_or(&t.event_time);
                        let at =
                            time::OffsetDateTime::parse(from, &time::format_description::well_known::Rfc3339).ok()?;
                        Some((t.kind, at.unix_timestamp_nanos()))
                    });
                let Some((kind, at)) = parsed else {
                    out.unparsed += 1;
                    continue;
                };
                let us = ((now - at) / 1000).clamp(1, 3_600_000_000) as u64;
                if kind == "match" {
                    out.matches.saturating_record(us);
                    live.lock().unwrap_or_else(|p| p.into_inner()).saturating_record(us);
                    seen.fetch_add(1, Ordering::Relaxed);
                } else {
                    out.correlations.saturating_record(us);
                    if let Some(ms) = m.timestamp().to_millis() {
                        let emit = ms as i128 * 1_000_000;
                        let us = |d: i128| (d / 1000).clamp(1, 3_600_000_000) as u64;
                        out.correlations_engine.saturating_record(us(emit - at));
                        out.correlations_transport.saturating_record(us(now - emit));
                    }
                }
            }
            Some(Err(e)) => eprintln!("alert reader: {e}"),
            None => {}
        }
    }
    Ok(out)
}

fn print_histogram(what: &str, h: &Histogram<u64>) {
    if h.is_empty() {
        println!("{what}: none");
        return;
    }
    let ms = |v: u64| v as f64 / 1000.0;
    println!(
        "{what}: {} alerts, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms (min {:.2} ms, mean {:.2} ms)",
        h.len(),
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max()),
        ms(h.min()),
        h.mean() / 1000.0
    );
}

fn latency(a: &Args, broker: &Broker, env: &Env) -> anyhow::Result<bool> {
    if a.rate <= 0.0 || a.seconds == 0 {
        bail!("--rate and --seconds must be positive");
    }
    let drain = duration("--drain", &a.drain)?;
    let total = (a.rate * a.seconds as f64).round() as u64;
    let pool = templates(a, total.min(200_000) as usize)?;
    let client = env.client(broker);
    let source = env.source(broker, env.group("latency", 0), env.state(0), None);
    let mut proc = env.processor(a)?;
    // The engine's own view (commit points, correlation flushes), printed at the end.
    let metrics = Arc::new(tocsin::metrics::Metrics::new(None));
    proc.set_metrics(metrics.clone());
    let out = env.output(&source.client)?;
    let producer = input_producer(a, broker)?;
    let stop_engine = AtomicBool::new(false);
    let stop_reader = AtomicBool::new(false);
    let seen = AtomicU64::new(0);
    let live = Mutex::new(histogram());

    let (engine, reader, sent, send_secs) = std::thread::scope(|s| -> anyhow::Result<_> {
        let engine = s.spawn(|| source.run(proc, out, &stop_engine));
        let reader = s.spawn(|| read_alerts(client.clone(), &env.alerts, a.partitions, &stop_reader, &seen, &live));
        // Let the engine join its group before the clock starts.
        std::thread::sleep(Duration::from_millis(500));
        // Sending in a closure: on an error the engine and reader still get their stop flags.
        let sending = || -> anyhow::Result<(u64, f64)> {
            let started = Instant::now();
            let mut progress = Progress::new();
            let mut buf = Vec::with_capacity(2048);
            let mut sent = 0u64;
            let end = Duration::from_secs(a.seconds);
            while sent < total {
                let elapsed = started.elapsed();
                if elapsed > end + Duration::from_secs(5) {
                    eprintln!("latency: could not send at {} msg/s; stopping at {sent}", a.rate);
                    break;
                }
                let due = ((elapsed.as_secs_f64() * a.rate) as u64 + 1).min(total);
                while sent < due {
                    let t = &pool[(sent % pool.len() as u64) as usize];
                    buf.clear();
                    buf.extend_from_slice(&t.bytes);
                    write_ts(&mut buf[t.ts..t.ts + TS_LEN], now_ns());
                    let rec = BaseRecord::to(&env.input)
                        .payload(&buf[..])
                        .partition((sent % a.partitions as u64) as i32);
                    send(&producer, rec)?;
                    sent += 1;
                }
                if progress.due() {
                    let h = live.lock().unwrap_or_else(|p| p.into_inner());
                    eprintln!(
                        "latency: {sent} sent ({:.0}/s), {} match alerts, p50 {:.1} ms, p99 {:.1} ms",
                        sent as f64 / started.elapsed().as_secs_f64(),
                        seen.load(Ordering::Relaxed),
                        h.value_at_quantile(0.5) as f64 / 1000.0,
                        h.value_at_quantile(0.99) as f64 / 1000.0,
                    );
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            Ok((sent, started.elapsed().as_secs_f64()))
        };
        let sending = sending();
        let flushed = producer.flush(Duration::from_secs(30));
        if sending.is_ok() {
            std::thread::sleep(drain);
        }
        stop_engine.store(true, Ordering::Relaxed);
        let engine = engine.join().map_err(|_| anyhow::anyhow!("engine thread panicked"))?;
        stop_reader.store(true, Ordering::Relaxed);
        let reader = reader.join().map_err(|_| anyhow::anyhow!("reader thread panicked"))?;
        let (sent, send_secs) = sending?;
        flushed.context("flushing the input")?;
        Ok((engine, reader, sent, send_secs))
    })?;
    producer.context().check()?;
    let (stats, source_stats) = engine?;
    let lat = reader?;
    println!(
        "latency run: {sent} events sent in {send_secs:.2} s ({:.0} msg/s, target {:.0}), {} partitions, \
         max out-of-orderness {}, {} shards; engine read {} messages",
        sent as f64 / send_secs,
        a.rate,
        a.partitions,
        a.max_out_of_orderness,
        a.shards
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
        source_stats.messages
    );
    println!(
        "engine: alerts {} (match {}, correlation {}), dead letters {}",
        stats.alerts,
        stats.alerts - stats.correlation_alerts - stats.overflow_alerts,
        stats.correlation_alerts,
        stats.dead_letter_total()
    );
    print_histogram("match alerts (event → alert read back)", &lat.matches);
    print_histogram("correlation alerts", &lat.correlations);
    print_histogram("  of which event → engine produce (ms clock)", &lat.correlations_engine);
    print_histogram("  of which produce → read back (ms clock)", &lat.correlations_transport);
    for line in metrics.render().lines() {
        let summary = [
            "tocsin_commit_seconds",
            "tocsin_checkpoint_seconds",
            "tocsin_batch_seconds",
            "tocsin_alert_latency_seconds",
        ];
        if summary.iter().any(|m| line.starts_with(m)) {
            println!("engine metric: {line}");
        }
    }
    if lat.unparsed > 0 {
        println!("{} alert(s) without a parsable kind/event_time", lat.unparsed);
    }
    println!("load average after: {}", loadavg());
    let m = &lat.matches;
    let bound = duration("--max-out-of-orderness", &a.max_out_of_orderness)?;
    let target_us = (bound + Duration::from_millis(50)).as_micros() as u64;
    if !m.is_empty() {
        let p99 = m.value_at_quantile(0.99);
        println!(
            "target: match-alert p99 ≤ out-of-orderness bound + 50 ms = {:.0} ms: {:.1} ms ({})",
            target_us as f64 / 1000.0,
            p99 as f64 / 1000.0,
            if p99 <= target_us { "met" } else { "NOT met" }
        );
    }
    println!(
        "RESULT mode=latency sent={sent} rate={:.0} messages={} engine_match_alerts={} match_alerts={} p50_us={} \
         p99_us={} p999_us={} max_us={} correlation_alerts={}",
        sent as f64 / send_secs,
        source_stats.messages,
        stats.alerts - stats.correlation_alerts - stats.overflow_alerts,
        m.len(),
        m.value_at_quantile(0.5),
        m.value_at_quantile(0.99),
        m.value_at_quantile(0.999),
        m.max(),
        lat.correlations.len()
    );
    if source_stats.messages != sent {
        eprintln!(
            "error: the engine read {} of {sent} messages (on the mock cluster: it lagged past the ~5 MiB per \
             partition the mock keeps; use more --partitions)",
            source_stats.messages
        );
    }
    Ok(source_stats.messages == sent)
}

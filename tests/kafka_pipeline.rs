//! The Kafka path through the real Kafka protocol: librdkafka's in-process
//! mock cluster (a real listener on loopback), input topics of three
//! partitions, the consumer-group source, the pipeline and the producer sink.
//!
//! Every test reads its results back from the broker — the alert topic, the
//! dead-letter topic and the group's committed offsets — and compares them
//! with what the scenario must give, exactly.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use serde_json::Value;

use tocsin::alert::redact::Redactor;
use tocsin::cli::run::{prepare, Prepared};
use tocsin::cli::RuleArgs;
use tocsin::config::KafkaConfig;
use tocsin::pipeline::{CorrelationConfig, Processor};
use tocsin::sink::kafka::KafkaOutput;
use tocsin::sink::state::StateTopic;
use tocsin::source::embedded::{read_all, Record};
use tocsin::source::kafka::{KafkaSource, SourceStats};

const PARTITIONS: i32 = 3;
/// Checkpoints of every group of these tests (keyed by group id).
const STATE_TOPIC: &str = "tocsin-state";
const INPUT: [&str; 2] = ["winlogbeat", "winlogbeat-dc2"];

use common::BRUTE_FORCE_RULES as RULES;

/// The config file: fast commits; `extra_kafka` adds lines to `[kafka]`.
fn config_text(group: &str, extra_kafka: &str) -> String {
    format!(
        r#"
[input]
time_fields = ["@timestamp"]

[kafka]
group_id = "{group}"
commit_interval = "200ms"
idle_timeout = "10s"
shutdown_timeout = "5s"
{extra_kafka}

[kafka.properties]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"

[output]
alerts_topic = "alerts"
dead_letter_topic = "dead-letters"

[[sources]]
name = "windows-security"
product = "windows"
service = "security"
topics = ["winlogbeat", "winlogbeat-dc2"]
when = {{ "Channel" = "Security" }}
"#
    )
}

/// Config and rules loaded the way `tocsin run --config … --rules …` loads them.
fn prepared(dir: &Path, group: &str) -> Prepared {
    let cfg = dir.join("tocsin.toml");
    std::fs::write(&cfg, config_text(group, "")).unwrap();
    let rules = dir.join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let p = prepare(
        &RuleArgs {
            rules: vec![rules],
            config: Some(cfg),
        },
        None,
        false,
    )
    .expect("config and rules load");
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    p
}

// ── the mock cluster ─────────────────────────────────────────────────────

/// (partition, offset) of a delivered record, or the delivery error.
type Landed = Result<(i32, i64), String>;

/// Where each produced record landed, by its index.
#[derive(Default)]
struct Delivered(Mutex<BTreeMap<usize, Landed>>);

impl ClientContext for Delivered {}

impl ProducerContext for Delivered {
    type DeliveryOpaque = usize;

    fn delivery(&self, r: &DeliveryResult<'_>, i: usize) {
        let v = match r {
            Ok(m) => Ok((m.partition(), m.offset())),
            Err((e, _)) => Err(e.to_string()),
        };
        self.0.lock().unwrap().insert(i, v);
    }
}

/// A one-broker mock cluster, owned by the producer that feeds it the input.
struct Cluster {
    producer: BaseProducer<Delivered>,
    bootstrap: String,
}

type Ends = BTreeMap<(String, i32), i64>;

impl Cluster {
    fn start(topics: &[&str]) -> Cluster {
        let producer: BaseProducer<Delivered> = ClientConfig::new()
            .set("test.mock.num.brokers", "1")
            .set("enable.idempotence", "true")
            .create_with_context(Delivered::default())
            .expect("mock cluster");
        let bootstrap = {
            let mock = producer
                .client()
                .mock_cluster()
                .expect("the producer owns a mock cluster");
            for t in topics {
                mock.create_topic(t, PARTITIONS, 1).expect("create topic");
            }
            mock.create_topic(STATE_TOPIC, 1, 1).expect("create the state topic");
            mock.bootstrap_servers()
        };
        // Each group here has one member: no need to wait the default 3 s for others to join.
        // SAFETY: the mock cluster lives as long as `producer`, whose handle owns it.
        unsafe {
            let mc = rdkafka::bindings::rd_kafka_handle_mock_cluster(producer.client().native_ptr());
            assert!(!mc.is_null());
            rdkafka::bindings::rd_kafka_mock_group_initial_rebalance_delay_ms(mc, 0);
        }
        Cluster { producer, bootstrap }
    }

    /// Produces `records` to their partitions; returns where each landed.
    fn produce(&self, records: &[In]) -> Vec<(String, i32, i64)> {
        produce_with(&self.producer, records)
    }

    /// [`Cluster::produce`] through a new client (the owner's connections
    /// may still be backing off after a broker outage).
    fn produce_fresh(&self, records: &[In]) -> Vec<(String, i32, i64)> {
        let p: BaseProducer<Delivered> = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("enable.idempotence", "true")
            .create_with_context(Delivered::default())
            .expect("producer");
        produce_with(&p, records)
    }

    /// End offsets of the input topics, as the broker reports them.
    fn ends(&self) -> Ends {
        let c = reader(&self.bootstrap, "kt-watermarks");
        let mut out = Ends::new();
        for t in INPUT {
            for p in 0..PARTITIONS {
                let (_, high) = c.fetch_watermarks(t, p, Duration::from_secs(5)).unwrap();
                out.insert((t.to_string(), p), high);
            }
        }
        out
    }

    /// The group's committed offsets for every input partition (-1: none).
    fn committed(&self, group: &str) -> Ends {
        let c = reader(&self.bootstrap, group);
        let mut tpl = TopicPartitionList::new();
        for t in INPUT {
            for p in 0..PARTITIONS {
                tpl.add_partition(t, p);
            }
        }
        let got = c
            .committed_offsets(tpl, Duration::from_secs(5))
            .expect("committed offsets");
        got.elements()
            .iter()
            .map(|e| {
                let o = match e.offset() {
                    Offset::Offset(o) => o,
                    _ => -1,
                };
                ((e.topic().to_string(), e.partition()), o)
            })
            .collect()
    }
}

/// Produces `records` to their partitions with `producer`; returns where each landed.
fn produce_with(producer: &BaseProducer<Delivered>, records: &[In]) -> Vec<(String, i32, i64)> {
    producer.context().0.lock().unwrap().clear();
    for (i, r) in records.iter().enumerate() {
        let rec = BaseRecord::with_opaque_to(r.topic, i)
            .partition(r.partition)
            .key(r.key.as_bytes())
            .payload(&r.payload[..]);
        producer.send(rec).map_err(|(e, _)| e).expect("send");
    }
    producer.flush(Duration::from_secs(30)).expect("flush input");
    let d = producer.context().0.lock().unwrap();
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (p, o) = d[&i].clone().expect("delivered");
            assert_eq!(p, r.partition);
            (r.topic.to_string(), p, o)
        })
        .collect()
}

fn reader(bootstrap: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap()
}

// ── the scenario ─────────────────────────────────────────────────────────

/// One input record: topic, partition, key (the host that logged it), bytes.
#[derive(Clone)]
struct In {
    topic: &'static str,
    partition: i32,
    key: String,
    payload: Vec<u8>,
    /// Second batch of the restart test.
    late_batch: bool,
}

/// `2026-11-02T09:MM:SSZ`, `t` seconds after 09:00.
fn ts(t: u32) -> String {
    format!("2026-11-02T09:{:02}:{:02}Z", t / 60, t % 60)
}

fn logon(t: u32, event_id: u32, user: &str) -> Vec<u8> {
    format!(
        r#"{{"@timestamp":"{}","Channel":"Security","EventID":{event_id},"TargetUserName":"{user}","IpAddress":"10.0.0.9"}}"#,
        ts(t)
    )
    .into_bytes()
}

const FAIL: u32 = 4625;
const OK: u32 = 4624;

/// Hosts log to partitions by host, so one user's logons are spread over all
/// partitions and arrive out of event-time order; each partition is in order.
fn scenario() -> Vec<In> {
    let r = |topic: &'static str, partition: i32, payload: Vec<u8>| In {
        topic,
        partition,
        key: format!("{topic}-host{partition}"),
        payload,
        late_batch: false,
    };
    let (w, d) = (INPUT[0], INPUT[1]);
    let mut v = vec![
        // winlogbeat/0
        r(w, 0, logon(30, FAIL, "alice")),
        r(
            w,
            0,
            br#"{"@timestamp":"2026-11-02T09:00:50Z","Channel":"System","EventID":7036}"#.to_vec(),
        ),
        r(w, 0, logon(90, FAIL, "alice")),
        r(w, 0, logon(180, OK, "alice")),
        r(w, 0, logon(360, FAIL, "erin")),
        r(
            w,
            0,
            br#"{"@timestamp":"2026-11-02T09:07:00Z","Channel":"Security","EventID":46"#.to_vec(),
        ),
        r(w, 0, logon(500, FAIL, "dan")),
        // winlogbeat/1
        r(w, 1, logon(60, FAIL, "alice")),
        r(
            w,
            1,
            br#"{"Channel":"Security","EventID":4625,"TargetUserName":"nobody"}"#.to_vec(),
        ),
        r(w, 1, logon(150, FAIL, "alice")),
        r(w, 1, logon(200, FAIL, "bob")),
        r(w, 1, logon(390, FAIL, "erin")),
        r(w, 1, logon(530, FAIL, "dan")),
        // winlogbeat/2
        r(w, 2, logon(0, FAIL, "alice")),
        r(w, 2, logon(100, 4634, "alice")),
        r(w, 2, logon(120, FAIL, "alice")),
        r(w, 2, logon(240, OK, "carol")),
        r(w, 2, b"[1,2,3]".to_vec()),
        r(w, 2, Vec::new()),
        // winlogbeat-dc2/0
        r(d, 0, logon(300, FAIL, "erin")),
        r(d, 0, b"\xff\xfe{\"not\":\"utf8\"}".to_vec()),
        // winlogbeat-dc2/1
        r(d, 1, logon(330, FAIL, "erin")),
        r(d, 1, logon(560, FAIL, "dan")),
        // winlogbeat-dc2/2
        r(d, 2, logon(260, FAIL, "bob")),
        r(d, 2, logon(420, FAIL, "erin")),
    ];
    // Dan's brute force straddles the restart of `restart_resumes_from_committed_offsets`.
    let mut late = vec![
        r(w, 0, logon(590, FAIL, "dan")),
        r(d, 0, logon(620, FAIL, "dan")),
        r(w, 1, logon(650, OK, "dan")),
        r(d, 1, b"{\"@timestamp\":".to_vec()),
        r(w, 2, logon(700, FAIL, "frank")),
    ];
    late.iter_mut().for_each(|x| x.late_batch = true);
    v.extend(late);
    v
}

// ── running the pipeline ─────────────────────────────────────────────────

struct Outcome {
    stats: SourceStats,
    alerts: Vec<Record>,
    dead_letters: Vec<Record>,
}

/// Runs the source over `bootstrap` until `stop_at` as a replay, into
/// `alerts_topic` / `dead_topic`, and reads both topics back.
fn replay(p: &Prepared, bootstrap: &str, group: &str, stop_at: Ends, alerts_topic: &str, dead_topic: &str) -> Outcome {
    let k = &p.config.kafka;
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", bootstrap);
    for (key, v) in &k.properties {
        client.set(key, v);
    }
    let source = KafkaSource {
        client,
        group_id: group.to_string(),
        topics: KafkaConfig::topics(&p.config.sources),
        commit_interval: KafkaConfig::duration(&k.commit_interval),
        idle_timeout: KafkaConfig::duration(&k.idle_timeout),
        shutdown_timeout: KafkaConfig::duration(&k.shutdown_timeout),
        state_topic: STATE_TOPIC.to_string(),
        stop_at: Some(stop_at),
        rule_updates: Default::default(),
    };
    let corr = CorrelationConfig {
        shards: 2,
        ..CorrelationConfig::default()
    };
    let proc = Processor::with_correlation(
        p.detector.clone(),
        Redactor::default_on(),
        p.config.input.max_event_bytes,
        &corr,
    );
    let out =
        KafkaOutput::new(&source.client, alerts_topic, dead_topic, None, Duration::from_secs(10)).expect("producer");
    // A replay that does not end by itself is a failure, not a hung test.
    let stop = AtomicBool::new(false);
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let stats = std::thread::scope(|s| {
        let stop = &stop;
        let watchdog = s.spawn(move || {
            let timed_out = finished.recv_timeout(Duration::from_secs(20)).is_err();
            stop.store(timed_out, Ordering::Relaxed);
            timed_out
        });
        let (_, stats) = source.run(proc, out, stop).expect("source run");
        let _ = done.send(());
        assert!(
            !watchdog.join().unwrap(),
            "the replay did not reach its end offsets within 20 s"
        );
        stats
    });
    Outcome {
        stats,
        alerts: read_all(bootstrap, alerts_topic).expect("read alerts"),
        dead_letters: read_all(bootstrap, dead_topic).expect("read dead letters"),
    }
}

fn json(r: &Record) -> Value {
    serde_json::from_slice(&r.payload).expect("alert is JSON")
}

/// What the whole scenario must give: (alerts described, dead letters as
/// (reason, source topic, partition, offset, original bytes)).
type DeadLetterRow = (String, String, i32, i64, Vec<u8>);

fn expected(input: &[In], at: &[(String, i32, i64)]) -> (Vec<String>, Vec<DeadLetterRow>) {
    let where_ = |t: u32, user: &str| -> String {
        let needle = format!("\"@timestamp\":\"{}\"", ts(t));
        let i = input
            .iter()
            .position(|r| {
                let s = String::from_utf8_lossy(&r.payload);
                s.contains(&needle) && s.contains(&format!("\"{user}\""))
            })
            .unwrap_or_else(|| panic!("no event at {t} for {user}"));
        format!("{}/{}@{}", at[i].0, at[i].1, at[i].2)
    };
    let m = |rule: &str, t: u32, user: &str| format!("match {rule} {{}} count=1 at={} src={}", ts(t), where_(t, user));
    let mut alerts = Vec::new();
    for (user, times) in [
        ("alice", &[0, 30, 60, 90, 120, 150][..]),
        ("bob", &[200, 260]),
        ("erin", &[300, 330, 360, 390, 420]),
        ("dan", &[500, 530, 560, 590, 620]),
        ("frank", &[700]),
    ] {
        alerts.extend(times.iter().map(|&t| m("failed-logon", t, user)));
    }
    for (user, t) in [("alice", 180), ("carol", 240), ("dan", 650)] {
        alerts.push(m("successful-logon", t, user));
    }
    // event_count fires at the 5th failure; its window starts at the first.
    for (user, times) in [
        ("alice", [0, 30, 60, 90, 120]),
        ("erin", [300, 330, 360, 390, 420]),
        ("dan", [500, 530, 560, 590, 620]),
    ] {
        let refs: Vec<String> = times.iter().map(|&t| where_(t, user)).collect();
        alerts.push(format!(
            "correlation many-failed {{\"TargetUserName\":\"{user}\"}} count=5 at={} src={} {}..{} refs=[{}]",
            ts(times[0]),
            refs[0],
            ts(times[0]),
            ts(times[4]),
            refs.join(" ")
        ));
    }
    // temporal_ordered: the inner firing counts at its 5th failure, then the success.
    for (user, fired, ok) in [("alice", 120, 180), ("dan", 620, 650)] {
        alerts.push(format!(
            "correlation brute-then-success {{\"TargetUserName\":\"{user}\"}} count=2 at={} src={} {}..{} refs=[{} {}]",
            ts(fired),
            where_(fired, user),
            ts(fired),
            ts(ok),
            where_(fired, user),
            where_(ok, user)
        ));
    }
    alerts.sort();

    let mut dead = Vec::new();
    for (i, r) in input.iter().enumerate() {
        let reason = match &r.payload[..] {
            b"" => "empty",
            b"[1,2,3]" => "not_object",
            p if std::str::from_utf8(p).is_err() => "invalid_utf8",
            p if serde_json::from_slice::<Value>(p).is_err() => "invalid_json",
            p if !String::from_utf8_lossy(p).contains("@timestamp") => "no_event_time",
            _ => continue,
        };
        dead.push((reason.to_string(), at[i].0.clone(), at[i].1, at[i].2, r.payload.clone()));
    }
    dead.sort();
    (alerts, dead)
}

fn describe_all(alerts: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = alerts.iter().map(|r| common::describe_alert(&json(r))).collect();
    v.sort();
    v
}

/// Dead letters as rows, checking each carries exactly the documented headers.
fn dead_rows(records: &[Record]) -> Vec<DeadLetterRow> {
    let mut v: Vec<DeadLetterRow> = records
        .iter()
        .map(|r| {
            let h: BTreeMap<&str, &str> = r.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            assert_eq!(
                h.keys().copied().collect::<Vec<_>>(),
                [
                    "tocsin.detail",
                    "tocsin.reason",
                    "tocsin.source.offset",
                    "tocsin.source.partition",
                    "tocsin.source.topic"
                ],
                "{h:?}"
            );
            assert!(!h["tocsin.detail"].is_empty());
            (
                h["tocsin.reason"].to_string(),
                h["tocsin.source.topic"].to_string(),
                h["tocsin.source.partition"].parse().unwrap(),
                h["tocsin.source.offset"].parse().unwrap(),
                r.payload.clone(),
            )
        })
        .collect();
    v.sort();
    v
}

fn ids(alerts: &[Record], kind: &str) -> Vec<String> {
    let mut v: Vec<String> = alerts
        .iter()
        .map(json)
        .filter(|a| a["kind"] == kind)
        .map(|a| a["alert_id"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn output_topics(suffixes: &[&str]) -> Vec<String> {
    suffixes
        .iter()
        .flat_map(|s| [format!("alerts{s}"), format!("dead-letters{s}")])
        .collect()
}

// ── tests ────────────────────────────────────────────────────────────────

/// The whole scenario in one replay: exact alerts and dead letters read back
/// from their topics, alert keys, and the group's committed offsets.
#[test]
fn replay_gives_exact_alerts_dead_letters_and_commits() {
    let outputs = output_topics(&[""]);
    let mut topics: Vec<&str> = INPUT.to_vec();
    topics.extend(outputs.iter().map(String::as_str));
    let cluster = Cluster::start(&topics);
    let dir = tempfile::tempdir().unwrap();
    let p = prepared(dir.path(), "kt-replay");
    let input = scenario();
    let at = cluster.produce(&input);
    let ends = cluster.ends();
    assert_eq!(ends.len(), 6);
    assert!(
        ends.values().all(|&e| e > 0),
        "every input partition holds records: {ends:?}"
    );

    let out = replay(
        &p,
        &cluster.bootstrap,
        "kt-replay",
        ends.clone(),
        "alerts",
        "dead-letters",
    );
    assert_eq!(out.stats.messages, input.len() as u64);

    let (want_alerts, want_dead) = expected(&input, &at);
    assert_eq!(describe_all(&out.alerts), want_alerts);
    assert_eq!(dead_rows(&out.dead_letters), want_dead);

    let alerts: Vec<Value> = out.alerts.iter().map(json).collect();
    common::assert_schema_valid(&alerts);
    let unique: BTreeSet<&str> = alerts.iter().map(|a| a["alert_id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), alerts.len(), "alert ids are unique");

    // Alerts are keyed by rule id and group values: one group, one key, one partition.
    let mut partition_of: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    for (r, a) in out.alerts.iter().zip(&alerts) {
        let mut key = a["rule"]["id"].as_str().unwrap().to_string();
        for v in a["group"].as_object().unwrap().values() {
            key.push('\u{1f}');
            key.push_str(v.as_str().unwrap());
        }
        assert_eq!(r.key.as_deref(), Some(key.as_bytes()), "{a}");
        partition_of.entry(key).or_default().insert(r.partition);
    }
    // failed-logon, successful-logon, many-failed × {alice, erin, dan}, brute-then-success × {alice, dan}
    assert_eq!(partition_of.len(), 7, "{partition_of:?}");
    for (key, parts) in &partition_of {
        assert_eq!(parts.len(), 1, "{key:?}: {parts:?}");
    }

    assert_eq!(cluster.committed("kt-replay"), ends);
}

/// At-least-once across a restart: a replay up to the end of a first batch,
/// a second batch, a second run of the same group. The second run starts at
/// the committed offsets: nothing is processed twice and nothing is skipped,
/// so single-event alerts and dead letters equal those of one run over all.
///
/// Correlation state is not checkpointed yet (design §4: changelog topic), so
/// only correlations whose hits all precede the restart are checked here;
/// see `correlation_state_survives_a_restart` for the rest.
#[test]
fn restart_resumes_from_committed_offsets() {
    let outputs = output_topics(&["-a", "-b", "-all"]);
    let mut topics: Vec<&str> = INPUT.to_vec();
    topics.extend(outputs.iter().map(String::as_str));
    let cluster = Cluster::start(&topics);
    let dir = tempfile::tempdir().unwrap();
    let p = prepared(dir.path(), "kt-restart");
    let input = scenario();
    let (first, second): (Vec<In>, Vec<In>) = input.iter().cloned().partition(|r| !r.late_batch);

    cluster.produce(&first);
    let ends_a = cluster.ends();
    let a = replay(
        &p,
        &cluster.bootstrap,
        "kt-restart",
        ends_a.clone(),
        "alerts-a",
        "dead-letters-a",
    );
    assert_eq!(a.stats.messages, first.len() as u64);
    assert_eq!(cluster.committed("kt-restart"), ends_a);

    cluster.produce(&second);
    let ends = cluster.ends();
    let b = replay(
        &p,
        &cluster.bootstrap,
        "kt-restart",
        ends.clone(),
        "alerts-b",
        "dead-letters-b",
    );
    assert_eq!(
        b.stats.messages,
        second.len() as u64,
        "resumed at the committed offsets"
    );
    assert_eq!(cluster.committed("kt-restart"), ends);

    let all = replay(
        &p,
        &cluster.bootstrap,
        "kt-all",
        ends.clone(),
        "alerts-all",
        "dead-letters-all",
    );
    assert_eq!(all.stats.messages, input.len() as u64);

    let union = |f: &dyn Fn(&Outcome) -> Vec<String>| {
        let mut v = f(&a);
        v.extend(f(&b));
        v.sort();
        v
    };
    assert_eq!(union(&|o| ids(&o.alerts, "match")), ids(&all.alerts, "match"));
    let mut dead = dead_rows(&a.dead_letters);
    dead.extend(dead_rows(&b.dead_letters));
    dead.sort();
    assert_eq!(dead, dead_rows(&all.dead_letters));

    // Correlations of groups whose hits all came before the restart: same alerts, same ids.
    let before: Vec<Value> = all
        .alerts
        .iter()
        .map(json)
        .filter(|x| x["kind"] == "correlation")
        .filter(|x| {
            x["evidence_refs"].as_array().unwrap().iter().all(|r| {
                let tp = (
                    r["topic"].as_str().unwrap().to_string(),
                    r["partition"].as_i64().unwrap() as i32,
                );
                r["offset"].as_i64().unwrap() < ends_a[&tp]
            })
        })
        .collect();
    assert_eq!(before.len(), 3, "alice ×2 and erin: {before:?}");
    let corr_a = ids(&a.alerts, "correlation");
    for x in &before {
        assert!(corr_a.contains(&x["alert_id"].as_str().unwrap().to_string()), "{x}");
    }
    // No correlation alert the single run would not give (B alone holds no complete brute force).
    let all_corr = ids(&all.alerts, "correlation");
    for id in union(&|o| ids(&o.alerts, "correlation")) {
        assert!(all_corr.contains(&id), "{id}");
    }
}

/// Correlation state survives a restart: Dan's brute force straddles it
/// (failures before, the success after), and the restarted group gives the
/// same correlation alerts as one uninterrupted run. At-least-once: a firing
/// may be emitted again by the restarted run, with the same id.
#[test]
fn correlation_state_survives_a_restart() {
    let outputs = output_topics(&["-a", "-b", "-all"]);
    let mut topics: Vec<&str> = INPUT.to_vec();
    topics.extend(outputs.iter().map(String::as_str));
    let cluster = Cluster::start(&topics);
    let dir = tempfile::tempdir().unwrap();
    let p = prepared(dir.path(), "kt-restart");
    let input = scenario();
    let (first, second): (Vec<In>, Vec<In>) = input.iter().cloned().partition(|r| !r.late_batch);
    cluster.produce(&first);
    let ends_a = cluster.ends();
    let a = replay(
        &p,
        &cluster.bootstrap,
        "kt-restart",
        ends_a.clone(),
        "alerts-a",
        "dead-letters-a",
    );
    cluster.produce(&second);
    let b = replay(
        &p,
        &cluster.bootstrap,
        "kt-restart",
        cluster.ends(),
        "alerts-b",
        "dead-letters-b",
    );
    let all = replay(
        &p,
        &cluster.bootstrap,
        "kt-all",
        cluster.ends(),
        "alerts-all",
        "dead-letters-all",
    );
    let mut restarted = ids(&a.alerts, "correlation");
    restarted.extend(ids(&b.alerts, "correlation"));
    restarted.sort();
    restarted.dedup();
    let all_ids = ids(&all.alerts, "correlation");
    assert_eq!(all_ids.len(), 5, "{all_ids:?}");
    assert_eq!(restarted, all_ids);
    assert!(
        ids(&b.alerts, "correlation")
            .iter()
            .any(|id| !ids(&a.alerts, "correlation").contains(id)),
        "the straddling brute force fires after the restart"
    );
}

/// `tocsin run` against a cluster streams until SIGTERM, then drains,
/// commits and exits 0 within `shutdown_timeout`. Commits are made only at
/// shutdown here (a 1 h interval), so the committed offsets prove it.
#[test]
fn binary_streams_until_sigterm_and_commits_on_exit() {
    let cluster = Cluster::start(&["winlogbeat", "winlogbeat-dc2", "alerts", "dead-letters"]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tocsin.toml");
    let brokers = format!("brokers = \"{}\"", cluster.bootstrap);
    let text = config_text("kt-binary", &brokers)
        .replace("commit_interval = \"200ms\"", "commit_interval = \"1h\"")
        .replace("idle_timeout = \"10s\"", "idle_timeout = \"3s\"");
    std::fs::write(&cfg, text).unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
    let mut child = common::bin()
        .args([
            "run",
            "--rules",
            rules.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn tocsin");
    let log = || std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default();

    let input: Vec<In> = scenario().into_iter().filter(|r| !r.late_batch).collect();
    cluster.produce(&input);
    let ends = cluster.ends();
    // Streaming: single matches at once; correlations once the watermark
    // passes their hits (partitions caught up and silent for idle_timeout =
    // 3 s stop holding it, and it then trails the newest event, 09:09:20, by
    // 5 s). Dan's brute force is incomplete in this batch. The engine starts
    // on empty topics: were its partitions idle before the input arrives,
    // the first to deliver would move the watermark past the others' events
    // (late, as in any event-time engine), hence 3 s, not less.
    let want_matches = 18; // failed and successful logons of the first batch
    let want_correlations = [
        "brute-then-success {\"TargetUserName\":\"alice\"}",
        "many-failed {\"TargetUserName\":\"alice\"}",
        "many-failed {\"TargetUserName\":\"erin\"}",
    ];
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        let got: Vec<Value> = read_all(&cluster.bootstrap, "alerts")
            .unwrap()
            .iter()
            .map(json)
            .collect();
        let matches = got.iter().filter(|a| a["kind"] == "match").count();
        let mut correlations: Vec<String> = got
            .iter()
            .filter(|a| a["kind"] == "correlation")
            .map(|a| format!("{} {}", a["rule"]["id"].as_str().unwrap(), a["group"]))
            .collect();
        correlations.sort();
        if matches >= want_matches && correlations.len() >= want_correlations.len() {
            assert_eq!(matches, want_matches);
            assert_eq!(correlations, want_correlations);
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "tocsin exited early:\n{}", log());
        assert!(
            Instant::now() < deadline,
            "after 25 s: {matches} match alerts, correlations {correlations:?}\ndead letters: {:?}\n{}",
            read_all(&cluster.bootstrap, "dead-letters")
                .unwrap()
                .iter()
                .map(|r| (r.headers.clone(), String::from_utf8_lossy(&r.payload).into_owned()))
                .collect::<Vec<_>>(),
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        cluster.committed("kt-binary").values().all(|&o| o < 0),
        "nothing committed before shutdown"
    );

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let sent = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if sent.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            panic!(
                "tocsin did not exit within shutdown_timeout (5s) of SIGTERM:\n{}",
                log()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}:\n{}", log());
    assert_eq!(cluster.committed("kt-binary"), ends, "{}", log());
    let dead = read_all(&cluster.bootstrap, "dead-letters").unwrap();
    assert_eq!(dead.len(), 5, "dead letters of the first batch");
}

// ── crashes ──────────────────────────────────────────────────────────────

/// A `tocsin run` child process streaming from the cluster.
struct Engine {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Engine {
    fn start(dir: &Path, name: &str, config: &str) -> Engine {
        Engine::start_with(dir, name, config, &[])
    }

    fn start_with(dir: &Path, name: &str, config: &str, extra: &[&str]) -> Engine {
        let cfg = dir.join(format!("{name}.toml"));
        std::fs::write(&cfg, config).unwrap();
        let rules = dir.join("rules.yml");
        std::fs::write(&rules, RULES).unwrap();
        let log = dir.join(format!("{name}.log"));
        let child = common::bin()
            .args([
                "--log-format",
                "json",
                "run",
                "--rules",
                rules.to_str().unwrap(),
                "--config",
                cfg.to_str().unwrap(),
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            // TOCSIN_TEST_ENGINE_LOG=debug to see what an engine under test did.
            .env(
                "TOCSIN_LOG",
                std::env::var("TOCSIN_TEST_ENGINE_LOG").unwrap_or_else(|_| "info".into()),
            )
            .spawn()
            .expect("spawn tocsin");
        Engine { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The metrics endpoint's address (`--metrics-addr 127.0.0.1:0`), from the log.
    fn metrics_addr(&mut self) -> String {
        let mut addr = None;
        let log = self.log.clone();
        self.wait_for(10, "the metrics address in the log", || {
            addr = std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("metrics listening"))
                .find_map(|l| {
                    let v: Value = serde_json::from_str(l).ok()?;
                    v["fields"]["addr"].as_str().map(str::to_string)
                });
            addr.is_some()
        });
        addr.unwrap()
    }

    /// Waits up to `secs` for `done`, failing with the engine's log.
    fn wait_for(&mut self, secs: u64, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !done() {
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "tocsin exited early:\n{}",
                self.log()
            );
            assert!(
                Instant::now() < deadline,
                "after {secs} s, still waiting for {what}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }

    fn terminate(mut self) {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}:\n{}", self.log());
    }
}

/// A failing test never leaves an engine running behind it.
impl Drop for Engine {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Alert ids on a topic (read committed), every occurrence, sorted.
fn all_ids(bootstrap: &str, topic: &str) -> Vec<String> {
    let mut v: Vec<String> = read_all(bootstrap, topic)
        .unwrap()
        .iter()
        .map(|r| json(r)["alert_id"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// Input offsets covered by the group's last checkpoint in the state topic.
fn checkpointed(bootstrap: &str, group: &str) -> Ends {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", bootstrap);
    let cp = StateTopic::new(STATE_TOPIC, group)
        .load(&client)
        .expect("state topic readable");
    cp.map(|c| c.offsets.into_iter().map(|(t, p, o)| ((t, p), o)).collect())
        .unwrap_or_default()
}

/// Kills the engine (SIGKILL) at two points of a stream whose brute force
/// straddles both — after a checkpoint with Dan's failures in an open
/// window, and after it processed (and, at-least-once, emitted) the next
/// batch without committing — then lets a third run finish. Every alert of
/// an uninterrupted run must be there, and no other.
///
/// Exactly-once runs the transactional path (fencing, offsets and the
/// checkpoint in the transaction) but cannot check de-duplication here: the
/// mock cluster accepts transactions without their semantics — fetch
/// responses list no aborted transactions and TxnOffsetCommit is not stored
/// (librdkafka `rdkafka_mock_handlers.c`) — and tansu has no transactions.
/// That is also why progress is read from the checkpoint, not the group.
fn crash_test(eos: bool) {
    let group = if eos { "kt-crash-eos" } else { "kt-crash" };
    let cluster = Cluster::start(&[
        "winlogbeat",
        "winlogbeat-dc2",
        "alerts",
        "dead-letters",
        "alerts-ref",
        "dead-ref",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let config = |commit: &str| {
        let extra = format!("brokers = \"{}\"\nexactly_once = {eos}", cluster.bootstrap);
        config_text(group, &extra)
            .replace(
                "commit_interval = \"200ms\"",
                &format!("commit_interval = \"{commit}\""),
            )
            .replace("idle_timeout = \"10s\"", "idle_timeout = \"3s\"")
    };
    let input = scenario();
    let (first, second): (Vec<In>, Vec<In>) = input.iter().cloned().partition(|r| !r.late_batch);

    // 1: the first batch, committed (with a checkpoint), then killed.
    cluster.produce(&first);
    let ends = cluster.ends();
    let mut e = Engine::start(dir.path(), "first", &config("200ms"));
    e.wait_for(20, "a checkpoint covering the first batch", || {
        checkpointed(&cluster.bootstrap, group) == ends && (eos || cluster.committed(group) == ends)
    });
    e.kill();
    let after_first = all_ids(&cluster.bootstrap, "alerts");

    // 2: the second batch processed but never committed, then killed.
    cluster.produce(&second);
    let mut e = Engine::start(dir.path(), "second", &config("1h"));
    if eos {
        std::thread::sleep(Duration::from_secs(3));
    } else {
        e.wait_for(20, "alerts of the second batch", || {
            all_ids(&cluster.bootstrap, "alerts").len() > after_first.len()
        });
    }
    e.kill();

    // The reference: one uninterrupted replay of everything in a fresh group.
    let p = prepared(dir.path(), "kt-crash-ref");
    let reference = replay(
        &p,
        &cluster.bootstrap,
        "kt-crash-ref",
        cluster.ends(),
        "alerts-ref",
        "dead-ref",
    );
    let mut want: Vec<String> = reference
        .alerts
        .iter()
        .map(|r| json(r)["alert_id"].as_str().unwrap().to_string())
        .collect();
    want.sort();
    assert_eq!(ids(&reference.alerts, "correlation").len(), 5);

    // 3: restart and run until every alert is there.
    let mut e = Engine::start(dir.path(), "third", &config("200ms"));
    let ends = cluster.ends();
    e.wait_for(30, "every alert of the uninterrupted run", || {
        let mut got = all_ids(&cluster.bootstrap, "alerts");
        got.dedup();
        got.len() >= want.len() && checkpointed(&cluster.bootstrap, group) == ends
    });
    e.terminate();
    let got = all_ids(&cluster.bootstrap, "alerts");
    let mut unique = got.clone();
    unique.dedup();
    assert_eq!(unique, want, "nothing lost, nothing different");
    if !eos {
        assert!(
            got.len() > want.len(),
            "the uncommitted batch was emitted twice (same ids)"
        );
        assert_eq!(cluster.committed(group), ends);
    }
}

#[test]
fn crash_mid_window_loses_no_alert_at_least_once() {
    crash_test(false);
}

#[test]
fn crash_mid_window_loses_no_alert_exactly_once_mode() {
    crash_test(true);
}

/// A broker outage longer than the commit timeout: the engine logs it,
/// keeps running, commits nothing meanwhile, and once the broker is back
/// processes what arrives and commits — never a crash, never a silent stall.
#[test]
fn broker_outage_is_retried_and_reported() {
    let cluster = Cluster::start(&["winlogbeat", "winlogbeat-dc2", "alerts", "dead-letters"]);
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("brokers = \"{}\"", cluster.bootstrap);
    let config = config_text("kt-outage", &extra).replace("idle_timeout = \"10s\"", "idle_timeout = \"3s\"");
    let input = scenario();
    let (first, second): (Vec<In>, Vec<In>) = input.iter().cloned().partition(|r| !r.late_batch);
    cluster.produce(&first);
    let ends = cluster.ends();
    let mut e = Engine::start_with(dir.path(), "outage", &config, &["--metrics-addr", "127.0.0.1:0"]);
    let metrics = e.metrics_addr();
    e.wait_for(20, "the first batch committed", || {
        cluster.committed("kt-outage") == ends
    });
    e.wait_for(10, "consumer lag exported", || {
        http_get(&metrics, "/metrics").1.contains("tocsin_consumer_lag{")
    });
    assert_eq!(http_get(&metrics, "/readyz").0, 200);
    let before = all_ids(&cluster.bootstrap, "alerts").len();

    let mock = cluster.producer.client().mock_cluster().expect("mock cluster");
    mock.broker_down(1).expect("broker down");
    std::thread::sleep(Duration::from_secs(12));
    assert!(
        e.child.try_wait().unwrap().is_none(),
        "tocsin exited during the outage:\n{}",
        e.log()
    );
    assert_eq!(
        http_get(&metrics, "/readyz"),
        (503, "not ready: broker unreachable\n".to_string()),
        "readiness reports the outage"
    );
    mock.broker_up(1).expect("broker up");

    cluster.produce_fresh(&second);
    let ends = cluster.ends();
    e.wait_for(30, "the second batch processed and committed", || {
        all_ids(&cluster.bootstrap, "alerts").len() > before && cluster.committed("kt-outage") == ends
    });
    e.wait_for(10, "ready again", || http_get(&metrics, "/readyz").0 == 200);
    let log = e.log();
    e.terminate();
    assert!(
        log.contains("Kafka consumer error") || log.contains("output not acknowledged"),
        "the outage is reported:\n{log}"
    );
}

/// SIGTERM while the broker is unreachable: the final commit cannot happen,
/// and the engine still exits within `shutdown_timeout` (5 s here) plus a
/// second, with an error, instead of hanging.
#[test]
fn sigterm_during_an_outage_exits_within_the_deadline() {
    let cluster = Cluster::start(&["winlogbeat", "winlogbeat-dc2", "alerts", "dead-letters"]);
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("brokers = \"{}\"", cluster.bootstrap);
    let input: Vec<In> = scenario().into_iter().filter(|r| !r.late_batch).collect();
    cluster.produce(&input);
    let ends = cluster.ends();
    let mut e = Engine::start(dir.path(), "deadline", &config_text("kt-deadline", &extra));
    e.wait_for(20, "the batch committed", || cluster.committed("kt-deadline") == ends);
    let mock = cluster.producer.client().mock_cluster().expect("mock cluster");
    mock.broker_down(1).expect("broker down");
    let sent = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &e.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = loop {
        if let Some(s) = e.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(9),
            "no exit 9 s after SIGTERM:\n{}",
            e.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    mock.broker_up(1).expect("broker up");
    // The final flush and commit cannot reach the broker: an error exit, in time.
    assert_eq!(status.code(), Some(1), "{status}:\n{}", e.log());
    assert!(
        e.log().contains("ERROR"),
        "the failed final commit is reported:\n{}",
        e.log()
    );
}

/// A GET over a plain TCP connection: (status, body).
fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the metrics endpoint");
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (
        status,
        text.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    )
}

/// Hot reload while streaming: a rule added to the file is picked up by the
/// watcher and Alice's brute-force window, open across the swap, still
/// fires with all five failures; a broken file (then SIGHUP) is rejected
/// and the running rules stay; fixing it and SIGHUP reloads again.
#[test]
fn rules_reload_on_change_and_sighup_keeping_window_state() {
    let cluster = Cluster::start(&["winlogbeat", "winlogbeat-dc2", "alerts", "dead-letters"]);
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("brokers = \"{}\"", cluster.bootstrap);
    let config = config_text("kt-reload", &extra).replace("idle_timeout = \"10s\"", "idle_timeout = \"3s\"");
    let rec = |t: u32, id: u32, user: &str| In {
        topic: INPUT[0],
        partition: (t / 30 % 3) as i32,
        key: "host".into(),
        payload: logon(t, id, user),
        late_batch: false,
    };
    let alerts = |rule: &str| -> Vec<Value> {
        read_all(&cluster.bootstrap, "alerts")
            .unwrap()
            .iter()
            .map(json)
            .filter(|a| a["rule"]["id"] == rule)
            .collect()
    };
    let mut e = Engine::start(dir.path(), "reload", &config);
    let rules = dir.path().join("rules.yml");
    let log_path = e.log.clone();
    let reloads = |what: &str| {
        std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .matches(what)
            .count()
    };

    cluster.produce(&[rec(0, FAIL, "alice"), rec(30, FAIL, "alice"), rec(60, FAIL, "alice")]);
    e.wait_for(20, "three failed-logon alerts", || alerts("failed-logon").len() == 3);

    const EXTRA_RULE: &str = "---\ntitle: Logon From The Lab Subnet\nid: lab-subnet\nlogsource:\n    product: windows\n    service: security\ndetection:\n    selection:\n        IpAddress|cidr: 10.0.0.0/24\n    condition: selection\nlevel: low\n";
    std::fs::write(&rules, format!("{RULES}{EXTRA_RULE}")).unwrap();
    e.wait_for(20, "the changed file reloaded", || reloads("rules reloaded") == 1);

    cluster.produce(&[rec(90, FAIL, "alice"), rec(120, FAIL, "alice"), rec(180, OK, "alice")]);
    e.wait_for(30, "the brute force across the reload", || {
        !alerts("many-failed").is_empty()
    });
    let fired = &alerts("many-failed")[0];
    assert_eq!(fired["count"], 5, "{fired}");
    assert_eq!(
        fired["first_event_time"],
        ts(0),
        "hits from before the reload counted: {fired}"
    );
    e.wait_for(10, "the added rule on new events", || alerts("lab-subnet").len() == 3);

    std::fs::write(&rules, "title: broken\ndetection: [\n").unwrap();
    e.wait_for(20, "the broken file rejected", || reloads("rule reload rejected") == 1);
    let hup = |e: &Engine| {
        let sent = std::process::Command::new("kill")
            .args(["-HUP", &e.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    };
    hup(&e);
    e.wait_for(20, "SIGHUP with the broken file rejected too", || {
        reloads("rule reload rejected") == 2
    });
    cluster.produce(&[rec(240, FAIL, "zed")]);
    e.wait_for(20, "the running rules still alerting", || {
        alerts("failed-logon").len() == 6 && alerts("lab-subnet").len() == 4
    });
    std::fs::write(&rules, RULES).unwrap();
    hup(&e);
    e.wait_for(20, "reloaded after the fix", || reloads("rules reloaded") >= 2);
    e.terminate();
}

/// One partition keeps streaming while the others fall silent: the silent
/// ones (caught up, nothing for `idle_timeout`) stop holding the watermark
/// back although the consumer never runs dry, so Alice's brute force fires
/// while the stream goes on — not only when it pauses.
#[test]
fn silent_partitions_among_a_busy_one_go_idle() {
    let cluster = Cluster::start(&["winlogbeat", "winlogbeat-dc2", "alerts", "dead-letters"]);
    let dir = tempfile::tempdir().unwrap();
    let extra = format!("brokers = \"{}\"", cluster.bootstrap);
    let config = config_text("kt-idle", &extra).replace("idle_timeout = \"10s\"", "idle_timeout = \"1s\"");
    let w = INPUT[0];
    let rec = |partition: i32, payload: Vec<u8>| In {
        topic: w,
        partition,
        key: format!("host{partition}"),
        payload,
        late_batch: false,
    };
    let mut attack: Vec<In> = (0..5).map(|i| rec(0, logon(i * 10, FAIL, "alice"))).collect();
    attack.push(rec(0, logon(60, OK, "alice")));
    cluster.produce(&attack);
    let mut e = Engine::start(dir.path(), "idle", &config);

    // Logoffs (matching no rule) on partition 1, about every 20 ms, event
    // time running from 09:05 on: the consumer always has something to read.
    let stop = AtomicBool::new(false);
    let fired = std::thread::scope(|s| {
        let feeder = s.spawn(|| {
            let mut t = 300;
            while !stop.load(Ordering::Relaxed) {
                cluster.produce(&[rec(1, logon(t, 4634, "svc"))]);
                t += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            t - 300
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut fired = false;
        while !fired && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(250));
            fired = read_all(&cluster.bootstrap, "alerts")
                .unwrap()
                .iter()
                .any(|r| json(r)["rule"]["id"] == "brute-then-success");
        }
        stop.store(true, Ordering::Relaxed);
        let sent = feeder.join().unwrap();
        assert!(sent >= 5, "the feeder kept the stream busy ({sent} records)");
        fired
    });
    let log = e.log();
    e.wait_for(5, "the engine still running", || true);
    e.terminate();
    assert!(
        fired,
        "no brute-force alert while partition 1 kept streaming: the silent partitions held the watermark\n{log}"
    );
}

//! The Kafka path against a real Kafka-API broker that is not librdkafka:
//! [tansu](https://github.com/tansu-io/tansu), through the real `tocsin`
//! binary. The mock cluster of `kafka_pipeline.rs` shares its protocol code
//! with the client, so it cannot catch a request the client sends that a
//! broker handles differently (group join and commit, idempotent and
//! compressed produce, headers); a second implementation can.
//!
//! The broker: `TOCSIN_TANSU_BROKERS` if set (`.ci/run` starts one);
//! otherwise a `tansu` on PATH or in `~/.cargo/bin` is started per test on a
//! free port, in-memory; otherwise the tests say loudly that they were
//! skipped and pass — unless `TOCSIN_REQUIRE_TANSU=1`, where a missing broker
//! fails them (CI must not pass by skipping).
//!
//! tansu has no transactions and under-reports high watermarks after batched
//! produces, so nothing here trusts watermarks: the input ends are the
//! offsets the broker acknowledged, and output topics are read until the
//! expected number of records has arrived, then for a quiet period in which
//! nothing more may arrive.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use serde_json::Value;

const PARTITIONS: i32 = 3;

use common::BRUTE_FORCE_RULES as RULES;

// ── the broker ───────────────────────────────────────────────────────────

/// A tansu broker: the one named by `TOCSIN_TANSU_BROKERS`, or a child
/// process of this test (killed on drop, so a failing test leaves none behind).
struct Broker {
    bootstrap: String,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `tansu` on PATH, else in `$CARGO_HOME/bin` or `~/.cargo/bin` (where
/// `cargo install` puts it, often not on PATH).
fn tansu_binary() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(std::env::var_os("CARGO_HOME").map(|c| Path::new(&c).join("bin")));
    dirs.extend(std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin")));
    dirs.into_iter().map(|d| d.join("tansu")).find(|p| p.is_file())
}

/// The broker to test against, or `None` (after saying so) when there is
/// none and none is required.
fn broker(test: &str) -> Option<Broker> {
    if let Some(b) = std::env::var("TOCSIN_TANSU_BROKERS")
        .ok()
        .filter(|b| !b.trim().is_empty())
    {
        return Some(Broker {
            bootstrap: b,
            child: None,
            _dir: None,
        });
    }
    let required = std::env::var("TOCSIN_REQUIRE_TANSU").is_ok_and(|v| v == "1");
    let Some(bin) = tansu_binary() else {
        assert!(
            !required,
            "TOCSIN_REQUIRE_TANSU=1 but there is no broker: set TOCSIN_TANSU_BROKERS or install tansu \
             (cargo install tansu --no-default-features --features dynostore --locked)"
        );
        // Straight to the process's stderr, in one write: libtest hides
        // `eprintln!` of passing tests, and a skip must not pass unnoticed.
        let msg = format!(
            "\n=== SKIPPED kafka_tansu ({test}): no tansu broker ===\n\
             TOCSIN_TANSU_BROKERS is unset and no `tansu` is on PATH or in ~/.cargo/bin.\n\
             Install it (cargo install tansu --no-default-features --features dynostore --locked)\n\
             or set TOCSIN_REQUIRE_TANSU=1 to make a missing broker a failure.\n\n"
        );
        let _ = std::io::stderr().lock().write_all(msg.as_bytes());
        return None;
    };
    Some(start_tansu(&bin))
}

/// Starts `bin` on a free loopback port with in-memory storage and waits
/// until it accepts connections. The port is found by binding port 0 and
/// letting it go, so another process may take it first: retried.
fn start_tansu(bin: &Path) -> Broker {
    let dir = tempfile::tempdir().unwrap();
    let mut last = String::new();
    for attempt in 0..3 {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("tcp://127.0.0.1:{port}");
        let log_path = dir.path().join(format!("tansu-{attempt}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(bin)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let mut broker = Broker {
            bootstrap: format!("127.0.0.1:{port}"),
            child: Some(child),
            _dir: None,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                broker._dir = Some(dir);
                return broker;
            }
            if let Some(status) = broker.child.as_mut().unwrap().try_wait().unwrap() {
                last = format!(
                    "tansu exited ({status}): {}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
                break;
            }
            if Instant::now() > deadline {
                last = "tansu did not accept connections within 15 s".into();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("could not start tansu: {last}");
}

/// Runs a future to completion on this thread (the admin client's futures
/// are completed by its own thread; no async runtime is needed).
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
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park_timeout(Duration::from_millis(100)),
        }
    }
}

/// Topic names unique to one test of one run, so tests can share an
/// external broker (and reruns do not see each other's records).
struct Names {
    prefix: String,
}

impl Names {
    fn new(test: &str) -> Names {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        Names {
            prefix: format!("{test}-{}-{nanos}", std::process::id()),
        }
    }

    fn get(&self, what: &str) -> String {
        format!("{}-{what}", self.prefix)
    }
}

impl Broker {
    fn create_topics(&self, topics: &[String]) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .create()
            .expect("admin client");
        let new: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|t| NewTopic::new(t, PARTITIONS, TopicReplication::Fixed(1)))
            .collect();
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let results = block_on(admin.create_topics(&new, &opts)).expect("create topics");
        for r in results {
            r.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e}"));
        }
        // Until the metadata lists every partition, a producer would fail them.
        let c = reader(&self.bootstrap);
        for t in topics {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let n = c
                    .fetch_metadata(Some(t), Duration::from_secs(5))
                    .ok()
                    .and_then(|m| m.topics().first().map(|t| t.partitions().len()));
                if n == Some(PARTITIONS as usize) {
                    break;
                }
                assert!(Instant::now() < deadline, "topic {t} has {n:?} partitions after 10 s");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn reader(bootstrap: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "tocsin-tansu-reader")
        .set("enable.auto.commit", "false")
        // No transactions on tansu: nothing to wait for, and its LSO is not trusted.
        .set("isolation.level", "read_uncommitted")
        .create()
        .expect("reader")
}

// ── producing input ──────────────────────────────────────────────────────

/// One input record: its topic, partition and bytes.
#[derive(Clone, Debug)]
struct In {
    topic: String,
    partition: i32,
    payload: Vec<u8>,
}

/// (topic, partition, offset) where a record landed, as acknowledged.
type At = (String, i32, i64);

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

/// Produces `records` to their partitions and returns where each landed,
/// as the broker acknowledged it.
fn produce(bootstrap: &str, records: &[In]) -> Vec<At> {
    let producer: BaseProducer<Delivered> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .create_with_context(Delivered::default())
        .expect("producer");
    for (i, r) in records.iter().enumerate() {
        let rec: BaseRecord<'_, (), [u8], usize> = BaseRecord::with_opaque_to(&r.topic, i)
            .partition(r.partition)
            .payload(&r.payload[..]);
        producer.send(rec).map_err(|(e, _)| e).expect("send");
    }
    producer.flush(Duration::from_secs(30)).expect("flush input");
    let d = producer.context().0.lock().unwrap();
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (p, o) = d[&i]
                .clone()
                .unwrap_or_else(|e| panic!("record {i} not delivered: {e}"));
            assert_eq!(p, r.partition);
            (r.topic.clone(), p, o)
        })
        .collect()
}

/// The next offset of every partition written, from the acknowledgements.
fn ends(at: &[At]) -> BTreeMap<(String, i32), i64> {
    let mut out = BTreeMap::new();
    for (t, p, o) in at {
        let e = out.entry((t.clone(), *p)).or_insert(0);
        *e = (*e).max(o + 1);
    }
    out
}

// ── reading output ───────────────────────────────────────────────────────

/// One record read back from an output topic.
#[derive(Clone, Debug)]
struct Out {
    partition: i32,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    headers: BTreeMap<String, String>,
}

/// Reads one output topic from its beginning, keeping what it has read.
struct Reader {
    consumer: BaseConsumer,
    topic: String,
    read: Vec<Out>,
}

impl Reader {
    fn new(bootstrap: &str, topic: &str) -> Reader {
        let consumer = reader(bootstrap);
        let mut tpl = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            tpl.add_partition_offset(topic, p, Offset::Beginning).unwrap();
        }
        consumer.assign(&tpl).unwrap();
        Reader {
            consumer,
            topic: topic.to_string(),
            read: Vec::new(),
        }
    }

    /// Polls until `done` holds for what was read or `deadline` passes.
    fn poll_until(&mut self, deadline: Instant, done: impl Fn(&[Out]) -> bool) {
        while !done(&self.read) && Instant::now() < deadline {
            match self.consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => self.read.push(Out {
                    partition: m.partition(),
                    key: m.key().map(<[u8]>::to_vec),
                    payload: m.payload().unwrap_or_default().to_vec(),
                    headers: m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|x| {
                                    let v = x.value.map(|v| String::from_utf8_lossy(v).into_owned());
                                    (x.key.to_string(), v.unwrap_or_default())
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                }),
                Some(Err(e)) => eprintln!("reading {}: {e}", self.topic),
                None => {}
            }
        }
    }

    /// Waits up to `timeout` for `want` records.
    fn at_least(&mut self, want: usize, timeout: Duration) -> usize {
        self.poll_until(Instant::now() + timeout, |r| r.len() >= want);
        self.read.len()
    }
}

/// Everything `topic` holds: read until `want` records have arrived (or
/// `timeout`), then for `quiet` more, so that extra records are seen too.
fn read(bootstrap: &str, topic: &str, want: usize, timeout: Duration, quiet: Duration) -> Vec<Out> {
    let mut r = Reader::new(bootstrap, topic);
    r.at_least(want, timeout);
    r.poll_until(Instant::now() + quiet, |_| false);
    r.read
}

/// The group's committed offsets for `partitions` (-1: none).
fn committed(bootstrap: &str, group: &str, partitions: &BTreeMap<(String, i32), i64>) -> BTreeMap<(String, i32), i64> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for (t, p) in partitions.keys() {
        tpl.add_partition(t, *p);
    }
    c.committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets")
        .elements()
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

// ── the engine ───────────────────────────────────────────────────────────

/// The topics and group of one test.
struct Setup {
    broker: Broker,
    inputs: [String; 2],
    alerts: String,
    dead: String,
    /// Correlation checkpoints (`output.state_topic`).
    state: String,
    group: String,
    dir: tempfile::TempDir,
}

fn setup(test: &str) -> Option<Setup> {
    let broker = broker(test)?;
    let n = Names::new(test);
    let s = Setup {
        inputs: [n.get("winlogbeat"), n.get("winlogbeat-dc2")],
        alerts: n.get("alerts"),
        dead: n.get("dead-letters"),
        state: n.get("state"),
        group: n.get("group"),
        dir: tempfile::tempdir().unwrap(),
        broker,
    };
    let mut topics = s.inputs.to_vec();
    topics.extend([s.alerts.clone(), s.dead.clone(), s.state.clone()]);
    s.broker.create_topics(&topics);
    std::fs::write(s.dir.path().join("rules.yml"), RULES).unwrap();
    std::fs::write(s.dir.path().join("tocsin.toml"), s.config()).unwrap();
    Some(s)
}

impl Setup {
    /// Fast commits, a short idle timeout (correlations fire once silent
    /// partitions stop holding the watermark), a short shutdown. The idle
    /// timeout is not shorter because a partition whose first fetch lags the
    /// others by that much is marked idle, the watermark passes its events and
    /// they arrive late: on two busy cores, 1 s is not enough.
    fn config(&self) -> String {
        format!(
            r#"
[input]
time_fields = ["@timestamp"]

[kafka]
brokers = "{brokers}"
group_id = "{group}"
commit_interval = "200ms"
idle_timeout = "3s"
shutdown_timeout = "10s"

[kafka.properties]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"

[output]
alerts_topic = "{alerts}"
dead_letter_topic = "{dead}"
state_topic = "{state}"

[[sources]]
name = "windows-security"
product = "windows"
service = "security"
topics = ["{a}", "{b}"]
when = {{ "Channel" = "Security" }}
"#,
            brokers = self.broker.bootstrap,
            group = self.group,
            alerts = self.alerts,
            dead = self.dead,
            state = self.state,
            a = self.inputs[0],
            b = self.inputs[1],
        )
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts `tocsin run` streaming from the broker; run `n` logs to its own files.
    fn start(&self, n: u32) -> Engine {
        let stderr = self.path(&format!("stderr-{n}"));
        let summary = self.path(&format!("summary-{n}.json"));
        let child = common::bin()
            .args(["run", "--rules"])
            .arg(self.path("rules.yml"))
            .arg("--config")
            .arg(self.path("tocsin.toml"))
            .arg("--summary-json")
            .arg(&summary)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn tocsin");
        Engine {
            child: Some(child),
            stderr,
            summary,
        }
    }

    fn read_alerts(&self, want: usize, timeout: Duration, quiet: Duration) -> Vec<Out> {
        read(&self.broker.bootstrap, &self.alerts, want, timeout, quiet)
    }

    fn read_dead(&self, want: usize, timeout: Duration, quiet: Duration) -> Vec<Out> {
        read(&self.broker.bootstrap, &self.dead, want, timeout, quiet)
    }
}

/// A running `tocsin run`; killed on drop if still running (a failed test).
struct Engine {
    child: Option<Child>,
    stderr: PathBuf,
    summary: PathBuf,
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Engine {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn assert_running(&mut self) {
        if let Some(s) = self.child.as_mut().unwrap().try_wait().unwrap() {
            panic!("tocsin exited early ({s}):\n{}", self.log());
        }
    }

    /// Waits (up to `timeout`) until `topic` holds `want` records, checking
    /// that the engine keeps running.
    fn wait_for(&mut self, s: &Setup, topic: &str, want: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut r = Reader::new(&s.broker.bootstrap, topic);
        loop {
            self.assert_running();
            let got = r.at_least(want, Duration::from_millis(500));
            if got >= want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "after {timeout:?}, {topic} holds {got} of {want} records:\n{}",
                self.log()
            );
        }
    }

    /// SIGTERM, then the exit status within the shutdown timeout (10 s) plus
    /// slack; the run summary it wrote on the way out.
    fn stop(&mut self) -> Value {
        let mut child = self.child.take().unwrap();
        let kill = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let sent = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if sent.elapsed() > Duration::from_secs(15) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("tocsin did not exit within 15 s of SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "{status}:\n{}", self.log());
        let text =
            std::fs::read_to_string(&self.summary).unwrap_or_else(|e| panic!("no run summary ({e}):\n{}", self.log()));
        serde_json::from_str(&text).unwrap()
    }
}

// ── the scenario ─────────────────────────────────────────────────────────

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

/// A brute force on alice spread over every partition of both topics (each
/// partition in event-time order, the whole out of order), failures of bob
/// that stay below the threshold, carol's logon, malformed records of every
/// kind, and a late logoff (matches nothing) so the watermark passes the rest.
fn scenario(s: &Setup) -> Vec<In> {
    let (w, d) = (&s.inputs[0], &s.inputs[1]);
    let r = |topic: &String, partition: i32, payload: Vec<u8>| In {
        topic: topic.clone(),
        partition,
        payload,
    };
    vec![
        r(w, 0, logon(0, FAIL, "alice")),
        r(
            w,
            0,
            b"{\"@timestamp\":\"2026-11-02T09:00:50Z\",\"Channel\":\"Security\",\"EventID\":46".to_vec(),
        ),
        r(w, 0, logon(90, FAIL, "alice")),
        r(w, 0, logon(180, OK, "alice")),
        r(w, 1, logon(30, FAIL, "alice")),
        r(
            w,
            1,
            br#"{"Channel":"Security","EventID":4625,"TargetUserName":"nobody"}"#.to_vec(),
        ),
        r(w, 1, logon(200, FAIL, "bob")),
        r(w, 2, logon(60, FAIL, "alice")),
        r(w, 2, b"[1,2,3]".to_vec()),
        r(w, 2, logon(240, OK, "carol")),
        r(d, 0, logon(120, FAIL, "alice")),
        r(d, 0, b"\xff\xfe{\"not\":\"utf8\"}".to_vec()),
        r(d, 1, Vec::new()),
        r(d, 1, logon(260, FAIL, "bob")),
        r(d, 2, logon(900, 4634, "alice")),
    ]
}

/// A dead letter: (reason, source topic, partition, offset, original bytes).
type DeadRow = (String, String, i32, i64, Vec<u8>);

/// What `input`, landed at `at`, must give: alerts described, dead letters.
fn expected(input: &[In], at: &[At]) -> (Vec<String>, Vec<DeadRow>) {
    let where_ = |t: u32, user: &str| {
        let i = input
            .iter()
            .position(|r| {
                let p = String::from_utf8_lossy(&r.payload);
                p.contains(&ts(t)) && p.contains(&format!("\"{user}\""))
            })
            .unwrap();
        format!("{}/{}@{}", at[i].0, at[i].1, at[i].2)
    };
    let m = |rule: &str, t: u32, user: &str| format!("match {rule} {{}} count=1 at={} src={}", ts(t), where_(t, user));
    let mut alerts = Vec::new();
    for (user, t) in [
        ("alice", 0),
        ("alice", 30),
        ("alice", 60),
        ("alice", 90),
        ("alice", 120),
        ("bob", 200),
        ("bob", 260),
    ] {
        alerts.push(m("failed-logon", t, user));
    }
    for (user, t) in [("alice", 180), ("carol", 240)] {
        alerts.push(m("successful-logon", t, user));
    }
    let refs: Vec<String> = [0, 30, 60, 90, 120].iter().map(|&t| where_(t, "alice")).collect();
    alerts.push(format!(
        "correlation many-failed {{\"TargetUserName\":\"alice\"}} count=5 at={} src={} {}..{} refs=[{}]",
        ts(0),
        refs[0],
        ts(0),
        ts(120),
        refs.join(" ")
    ));
    alerts.push(format!(
        "correlation brute-then-success {{\"TargetUserName\":\"alice\"}} count=2 at={} src={} {}..{} refs=[{} {}]",
        ts(120),
        where_(120, "alice"),
        ts(120),
        ts(180),
        where_(120, "alice"),
        where_(180, "alice")
    ));
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

fn json(r: &Out) -> Value {
    serde_json::from_slice(&r.payload).expect("alert is JSON")
}

fn describe_all(alerts: &[Out]) -> Vec<String> {
    let mut v: Vec<String> = alerts.iter().map(|r| common::describe_alert(&json(r))).collect();
    v.sort();
    v
}

/// Dead letters as rows, checking each carries exactly the documented headers.
fn dead_rows(records: &[Out]) -> Vec<DeadRow> {
    let mut v: Vec<DeadRow> = records
        .iter()
        .map(|r| {
            let h = &r.headers;
            assert_eq!(
                h.keys().map(String::as_str).collect::<Vec<_>>(),
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
                h["tocsin.reason"].clone(),
                h["tocsin.source.topic"].clone(),
                h["tocsin.source.partition"].parse().unwrap(),
                h["tocsin.source.offset"].parse().unwrap(),
                r.payload.clone(),
            )
        })
        .collect();
    v.sort();
    v
}

fn alert_ids(alerts: &[Out]) -> Vec<String> {
    let mut v: Vec<String> = alerts
        .iter()
        .map(|r| json(r)["alert_id"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

/// Generous: tansu and the engine share two cores with the rest of the suite.
const WAIT: Duration = Duration::from_secs(60);
/// How long an output topic must stay silent after the expected count.
const QUIET: Duration = Duration::from_secs(2);

/// Produces the scenario, runs the engine until the alerts and dead letters
/// are out, stops it with SIGTERM. Returns the input, where it landed, the
/// alerts and dead letters read back, and the run summary.
fn first_run(s: &Setup) -> (Vec<In>, Vec<At>, Vec<Out>, Vec<Out>, Value) {
    let input = scenario(s);
    let at = produce(&s.broker.bootstrap, &input);
    let (want_alerts, want_dead) = expected(&input, &at);
    let mut engine = s.start(1);
    engine.wait_for(s, &s.alerts, want_alerts.len(), WAIT);
    engine.wait_for(s, &s.dead, want_dead.len(), WAIT);
    let summary = engine.stop();
    let alerts = s.read_alerts(want_alerts.len(), WAIT, QUIET);
    let dead = s.read_dead(want_dead.len(), WAIT, QUIET);
    (input, at, alerts, dead, summary)
}

// ── tests ────────────────────────────────────────────────────────────────

/// Streams the scenario: exact alerts (rules, groups, counts, times, input
/// positions) and dead letters (reasons, headers, original bytes) on their
/// topics, alert keys, and the group's commits at the acknowledged ends.
#[test]
fn streams_exact_alerts_and_dead_letters_and_commits_on_sigterm() {
    let Some(s) = setup("tansu-stream") else { return };
    let (input, at, alerts, dead, summary) = first_run(&s);
    let (want_alerts, want_dead) = expected(&input, &at);
    assert_eq!(want_alerts.len(), 11);
    assert_eq!(want_dead.len(), 5);

    assert_eq!(describe_all(&alerts), want_alerts);
    assert_eq!(dead_rows(&dead), want_dead);
    assert_eq!(summary["stats"]["records"], input.len(), "{summary}");

    let values: Vec<Value> = alerts.iter().map(json).collect();
    common::assert_schema_valid(&values);
    let ids: BTreeSet<&str> = values.iter().map(|a| a["alert_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), values.len(), "alert ids are unique");
    // Keyed by rule id and group values: one group's alerts in one partition.
    let mut partition_of: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    for (r, a) in alerts.iter().zip(&values) {
        let mut key = a["rule"]["id"].as_str().unwrap().to_string();
        for v in a["group"].as_object().unwrap().values() {
            key.push('\u{1f}');
            key.push_str(v.as_str().unwrap());
        }
        assert_eq!(r.key.as_deref(), Some(key.as_bytes()), "{a}");
        partition_of.entry(key).or_default().insert(r.partition);
    }
    assert_eq!(partition_of.len(), 4, "{partition_of:?}");
    assert!(partition_of.values().all(|p| p.len() == 1), "{partition_of:?}");

    // Alert ids do not depend on the transport: a file replay of the same
    // records (one file per partition, each in order) gives the same ones.
    let mut files: BTreeMap<(String, i32), Vec<&[u8]>> = BTreeMap::new();
    for r in &input {
        files
            .entry((r.topic.clone(), r.partition))
            .or_default()
            .push(&r.payload);
    }
    let files: Vec<PathBuf> = files
        .values()
        .enumerate()
        .map(|(i, lines)| {
            let f = s.path(&format!("input-{i}.ndjson"));
            std::fs::write(&f, lines.join(&b"\n"[..])).unwrap();
            f
        })
        .collect();
    let replay = s.path("replay.ndjson");
    let out = common::bin()
        .args(["run", "--rules"])
        .arg(s.path("rules.yml"))
        .arg("--config")
        .arg(s.path("tocsin.toml"))
        .arg("--output")
        .arg(&replay)
        .arg("--dead-letter")
        .arg(s.path("replay-dead.ndjson"))
        .arg("--input")
        .args(&files)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut replayed: Vec<String> = common::file_lines(&replay)
        .iter()
        .map(|a| a["alert_id"].as_str().unwrap().to_string())
        .collect();
    replayed.sort();
    assert_eq!(alert_ids(&alerts), replayed);

    // Acknowledged offsets: each fresh partition from 0 without gaps, so the
    // ends below are what the broker holds, whatever watermark it reports.
    let mut per_partition: BTreeMap<(String, i32), Vec<i64>> = BTreeMap::new();
    for (t, p, o) in &at {
        per_partition.entry((t.clone(), *p)).or_default().push(*o);
    }
    for (tp, offsets) in &mut per_partition {
        offsets.sort();
        assert_eq!(*offsets, (0..offsets.len() as i64).collect::<Vec<_>>(), "{tp:?}");
    }
    let ends = ends(&at);
    assert_eq!(ends.len(), 6, "every input partition holds records");
    assert_eq!(committed(&s.broker.bootstrap, &s.group, &ends), ends);
}

/// A second run of the same group starts at the committed offsets: it
/// processes only what arrived since (one logon, one malformed record) and
/// re-emits nothing of the first run.
#[test]
fn second_run_resumes_from_committed_offsets() {
    let Some(s) = setup("tansu-restart") else { return };
    let (input, at, alerts, dead, _) = first_run(&s);
    let (want_alerts, want_dead) = expected(&input, &at);
    assert_eq!(describe_all(&alerts), want_alerts);
    assert_eq!(dead_rows(&dead), want_dead);
    let first_ends = ends(&at);
    assert_eq!(committed(&s.broker.bootstrap, &s.group, &first_ends), first_ends);

    let mut engine = s.start(2);
    let more = vec![
        In {
            topic: s.inputs[1].clone(),
            partition: 2,
            payload: logon(960, OK, "zoe"),
        },
        In {
            topic: s.inputs[0].clone(),
            partition: 1,
            payload: b"{\"@timestamp\":".to_vec(),
        },
    ];
    let more_at = produce(&s.broker.bootstrap, &more);
    engine.wait_for(&s, &s.alerts, alerts.len() + 1, WAIT);
    engine.wait_for(&s, &s.dead, dead.len() + 1, WAIT);
    let summary = engine.stop();
    assert_eq!(summary["stats"]["records"], 2, "only the new records: {summary}");

    let alerts2 = s.read_alerts(alerts.len() + 1, WAIT, QUIET);
    let dead2 = s.read_dead(dead.len() + 1, WAIT, QUIET);
    let mut want = alert_ids(&alerts);
    let new: Vec<Value> = alerts2
        .iter()
        .map(json)
        .filter(|a| !want.contains(&a["alert_id"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(
        common::describe_alert(&new[0]),
        format!(
            "match successful-logon {{}} count=1 at={} src={}/{}@{}",
            ts(960),
            more_at[0].0,
            more_at[0].1,
            more_at[0].2
        )
    );
    want.push(new[0]["alert_id"].as_str().unwrap().to_string());
    want.sort();
    assert_eq!(alert_ids(&alerts2), want, "nothing of the first run re-emitted");

    let mut want_dead = dead_rows(&dead);
    want_dead.push((
        "invalid_json".into(),
        more_at[1].0.clone(),
        more_at[1].1,
        more_at[1].2,
        more[1].payload.clone(),
    ));
    want_dead.sort();
    assert_eq!(dead_rows(&dead2), want_dead);

    let mut all = at;
    all.extend(more_at);
    let all_ends = ends(&all);
    assert_eq!(committed(&s.broker.bootstrap, &s.group, &all_ends), all_ends);
}

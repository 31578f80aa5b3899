//! The Docker Compose deployment hangs together: docker-compose.yml, the
//! Dockerfile, deploy/tocsin.toml and the producer's routes name the same
//! files, paths, topics and broker address. Docker is not needed (nor run):
//! each file is parsed and every cross-reference checked, and the config is
//! loaded by the engine itself, so a rename on one side fails here instead
//! of at `docker compose up`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use tocsin::cli::run::prepare;
use tocsin::cli::RuleArgs;
use tocsin::config::{Config, KafkaConfig};
use tocsin::decode::JsonDecoder;

// ── docker-compose.yml ───────────────────────────────────────────────────

fn compose() -> Yaml {
    let text = std::fs::read_to_string(common::repo().join("docker-compose.yml")).expect("docker-compose.yml");
    let mut docs = YamlLoader::load_from_str(&text).expect("docker-compose.yml is YAML");
    assert_eq!(docs.len(), 1, "one YAML document");
    docs.remove(0)
}

fn service<'a>(c: &'a Yaml, name: &str) -> &'a Yaml {
    let s = &c["services"][name];
    assert!(s.as_hash().is_some(), "docker-compose.yml has no service `{name}`");
    s
}

/// A scalar as text (compose accepts numbers and booleans where it means strings).
fn text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `environment:` as a map, in either of compose's two forms.
fn env(s: &Yaml) -> BTreeMap<String, String> {
    match &s["environment"] {
        Yaml::Hash(h) => h
            .iter()
            .map(|(k, v)| (text(k).unwrap(), text(v).unwrap_or_default()))
            .collect(),
        Yaml::Array(a) => a
            .iter()
            .map(|kv| {
                let kv = text(kv).unwrap();
                let (k, v) = kv.split_once('=').unwrap_or((&kv, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// A command-like field (`command`, `entrypoint`, healthcheck `test`) as a
/// list of words; `None` when absent.
fn words(y: &Yaml) -> Option<Vec<String>> {
    match y {
        Yaml::Array(a) => Some(a.iter().map(|w| text(w).unwrap()).collect()),
        Yaml::String(s) => Some(s.split_whitespace().map(String::from).collect()),
        _ => None,
    }
}

/// Bind mounts of a service: container path → host path (relative to the repo).
fn mounts(s: &Yaml) -> BTreeMap<String, PathBuf> {
    s["volumes"]
        .as_vec()
        .map(|v| v.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|m| {
            let m = text(m).expect("short volume syntax");
            let mut parts = m.split(':');
            let (host, target) = (parts.next()?, parts.next()?);
            host.starts_with('.')
                .then(|| (target.to_string(), common::repo().join(host)))
        })
        .collect()
}

fn depends_on(s: &Yaml, other: &str) -> Option<String> {
    text(&s["depends_on"][other]["condition"])
}

// ── Dockerfile ───────────────────────────────────────────────────────────

/// One build stage: its base image and its instructions (continuations joined).
#[derive(Debug, Default)]
struct Stage {
    from: String,
    name: Option<String>,
    instructions: Vec<(String, String)>,
}

impl Stage {
    fn args(&self, instr: &str) -> Vec<&str> {
        self.instructions
            .iter()
            .filter(|(i, _)| i == instr)
            .map(|(_, a)| a.as_str())
            .collect()
    }

    /// The JSON (exec) form of the last `instr` (ENTRYPOINT, CMD) of the stage.
    fn exec_form(&self, instr: &str) -> Vec<String> {
        let arg = self.args(instr).last().copied().unwrap_or_else(|| panic!("no {instr}"));
        serde_json::from_str(arg).unwrap_or_else(|e| panic!("{instr} is not in exec form ({e}): {arg}"))
    }

    /// `COPY` instructions as (from stage, sources, destination).
    fn copies(&self) -> Vec<(Option<String>, Vec<String>, String)> {
        self.args("COPY")
            .into_iter()
            .map(|a| {
                let mut from = None;
                let mut paths = Vec::new();
                for w in a.split_whitespace() {
                    match w.strip_prefix("--from=") {
                        Some(f) => from = Some(f.to_string()),
                        None if w.starts_with("--") => {}
                        None => paths.push(w.to_string()),
                    }
                }
                let dest = paths.pop().expect("COPY destination");
                (from, paths, dest)
            })
            .collect()
    }
}

fn dockerfile(path: &Path) -> Vec<Stage> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut stages: Vec<Stage> = Vec::new();
    let mut logical = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && logical.is_empty()) {
            continue;
        }
        if let Some(part) = line.strip_suffix('\\') {
            logical.push_str(part);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        let full = std::mem::take(&mut logical);
        let (instr, args) = full.split_once(char::is_whitespace).unwrap_or((&full, ""));
        let (instr, args) = (instr.to_ascii_uppercase(), args.trim().to_string());
        if instr == "FROM" {
            let w: Vec<&str> = args.split_whitespace().collect();
            stages.push(Stage {
                from: w[0].to_string(),
                name: (w.len() == 3 && w[1].eq_ignore_ascii_case("as")).then(|| w[2].to_string()),
                instructions: Vec::new(),
            });
        } else {
            stages
                .last_mut()
                .expect("an instruction before FROM")
                .instructions
                .push((instr, args));
        }
    }
    stages
}

/// The value after `flag` in a command line.
fn flag<'a>(cmd: &'a [String], flag: &str) -> Option<&'a str> {
    cmd.iter()
        .position(|w| w == flag)
        .and_then(|i| cmd.get(i + 1))
        .map(String::as_str)
}

// ── the pieces, resolved ─────────────────────────────────────────────────

/// What the tocsin container runs and where its files come from.
struct Engine {
    stages: Vec<Stage>,
    /// ENTRYPOINT + CMD as the container runs them (compose overrides applied).
    command: Vec<String>,
    mounts: BTreeMap<String, PathBuf>,
}

fn engine(c: &Yaml) -> Engine {
    let s = service(c, "tocsin");
    let context = text(&s["build"]["context"]).expect("tocsin is built from source: build.context");
    let file = text(&s["build"]["dockerfile"]).unwrap_or_else(|| "Dockerfile".into());
    let path = common::repo().join(&context).join(&file);
    assert!(
        path.is_file(),
        "tocsin's build points to {}, which does not exist",
        path.display()
    );
    let stages = dockerfile(&path);
    assert!(stages.len() >= 2, "a multi-stage build: {stages:?}");
    let runtime = stages.last().unwrap();
    let entrypoint = words(&s["entrypoint"]).unwrap_or_else(|| runtime.exec_form("ENTRYPOINT"));
    let cmd = words(&s["command"]).unwrap_or_else(|| runtime.exec_form("CMD"));
    Engine {
        command: entrypoint.into_iter().chain(cmd).collect(),
        mounts: mounts(s),
        stages,
    }
}

impl Engine {
    /// The host file mounted at the config path the container is started with.
    fn config_file(&self) -> PathBuf {
        let target = flag(&self.command, "--config").expect("tocsin is started with --config");
        let host = self.mounts.get(target).unwrap_or_else(|| {
            panic!(
                "nothing is mounted at {target}, the --config path; mounts: {:?}",
                self.mounts
            )
        });
        assert!(
            host.is_file(),
            "{} (mounted at {target}) does not exist",
            host.display()
        );
        host.clone()
    }

    fn config(&self) -> Config {
        let path = self.config_file();
        Config::load(&path).unwrap_or_else(|e| panic!("the mounted config does not load: {e}"))
    }
}

/// Topics the `topics` service creates: name → (partitions, the whole command line).
fn created_topics(c: &Yaml) -> BTreeMap<String, (u32, String)> {
    let s = service(c, "topics");
    let script = words(&s["command"]).expect("topics has a command").join("\n");
    let mut out = BTreeMap::new();
    for line in script
        .lines()
        .filter(|l| l.contains("kafka-topics.sh") && l.contains("--create"))
    {
        let w: Vec<String> = line.split_whitespace().map(String::from).collect();
        let topic = flag(&w, "--topic").unwrap_or_else(|| panic!("no --topic: {line}"));
        assert_eq!(
            flag(&w, "--bootstrap-server"),
            Some("kafka:9092"),
            "topics talks to the kafka service: {line}"
        );
        let partitions = flag(&w, "--partitions")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no --partitions: {line}"));
        out.insert(topic.to_string(), (partitions, line.to_string()));
    }
    out
}

/// Topics the engine with `cfg` reads and writes.
fn engine_topics(cfg: &Config) -> (Vec<String>, Vec<String>) {
    let sources = KafkaConfig::topics(&cfg.sources);
    let outputs = vec![
        cfg.output.alerts_topic.clone(),
        cfg.output.dead_letter_topic.clone(),
        cfg.output.state_topic.clone(),
    ];
    (sources, outputs)
}

// ── tests ────────────────────────────────────────────────────────────────

#[test]
fn services_exist_and_start_in_order() {
    let c = compose();
    for name in ["kafka", "topics", "tocsin", "producer"] {
        service(&c, name);
    }
    let services: BTreeSet<String> = c["services"]
        .as_hash()
        .unwrap()
        .keys()
        .map(|k| text(k).unwrap())
        .collect();
    assert_eq!(services.len(), 4, "{services:?}");
    let healthy = Some("service_healthy".to_string());
    let done = Some("service_completed_successfully".to_string());
    assert_eq!(depends_on(service(&c, "topics"), "kafka"), healthy);
    assert!(
        c["services"]["kafka"]["healthcheck"]["test"].as_vec().is_some(),
        "`service_healthy` needs a healthcheck on kafka"
    );
    assert_eq!(depends_on(service(&c, "tocsin"), "topics"), done);
    assert_eq!(depends_on(service(&c, "producer"), "topics"), done);
}

/// Single-node KRaft: the node is broker and controller, votes for itself
/// on its CONTROLLER listener, and advertises a PLAINTEXT listener.
#[test]
fn kafka_runs_single_node_kraft() {
    let c = compose();
    let k = service(&c, "kafka");
    assert!(text(&k["image"]).unwrap().starts_with("apache/kafka:"));
    let e = env(k);
    let get = |key: &str| e.get(key).unwrap_or_else(|| panic!("kafka has no {key}")).as_str();
    let roles: BTreeSet<&str> = get("KAFKA_PROCESS_ROLES").split(',').collect();
    assert_eq!(roles, BTreeSet::from(["broker", "controller"]));
    let listeners: BTreeMap<&str, &str> = get("KAFKA_LISTENERS")
        .split(',')
        .map(|l| l.split_once("://").expect("NAME://host:port"))
        .collect();
    assert_eq!(
        listeners.keys().copied().collect::<Vec<_>>(),
        ["CONTROLLER", "PLAINTEXT"]
    );
    assert_eq!(get("KAFKA_CONTROLLER_LISTENER_NAMES"), "CONTROLLER");
    let controller_port = listeners["CONTROLLER"].rsplit(':').next().unwrap();
    let hostname = text(&k["hostname"]).unwrap_or_else(|| "kafka".into());
    assert_eq!(
        get("KAFKA_CONTROLLER_QUORUM_VOTERS"),
        format!("{}@{hostname}:{controller_port}", get("KAFKA_NODE_ID")),
        "the only voter is this node, on its CONTROLLER listener"
    );
    let protocols: BTreeMap<&str, &str> = get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP")
        .split(',')
        .map(|l| l.split_once(':').unwrap())
        .collect();
    for name in listeners.keys() {
        assert!(protocols.contains_key(name), "{name} has no security protocol");
    }
    assert!(get("KAFKA_ADVERTISED_LISTENERS").starts_with("PLAINTEXT://"));
    assert_eq!(get("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"), "1", "one broker");
}

/// The broker address in the mounted config is the one the kafka service
/// advertises, and the kafka service answers to that host name.
#[test]
fn config_brokers_match_the_advertised_listener() {
    let c = compose();
    let cfg = engine(&c).config();
    let k = service(&c, "kafka");
    let advertised = env(k)["KAFKA_ADVERTISED_LISTENERS"].clone();
    let plaintext = advertised
        .split(',')
        .find_map(|l| l.strip_prefix("PLAINTEXT://"))
        .unwrap_or_else(|| panic!("no PLAINTEXT advertised listener: {advertised}"));
    assert_eq!(cfg.kafka.brokers.as_deref(), Some(plaintext));
    let host = plaintext.rsplit_once(':').unwrap().0;
    let hostname = text(&k["hostname"]);
    assert!(
        host == "kafka" || hostname.as_deref() == Some(host),
        "`{host}` is neither the service name nor its hostname"
    );
    assert_eq!(
        env(service(&c, "producer")).get("BOOTSTRAP").map(String::as_str),
        Some(plaintext)
    );
}

/// The config the container is started with is a file of the repository that
/// the engine loads, and `tocsin validate` accepts it with the shipped rules.
#[test]
fn mounted_config_loads_and_validates() {
    let c = compose();
    let e = engine(&c);
    let cfg = e.config();
    assert!(cfg.kafka.brokers.is_some(), "the container streams from the cluster");
    // The same sources as the samples, so the sample events classify alike.
    let samples = Config::load(&common::repo().join("samples/tocsin.toml")).unwrap();
    assert_eq!(format!("{:?}", cfg.sources), format!("{:?}", samples.sources));
    assert_eq!(format!("{:?}", cfg.input), format!("{:?}", samples.input));

    let out = common::run(&[
        "validate",
        "--config",
        e.config_file().to_str().unwrap(),
        "--rules",
        common::repo().join("rules").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "tocsin validate: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every topic the engine reads or writes is created up front, source topics
/// with several partitions, the state topic compacted.
#[test]
fn topics_service_creates_every_engine_topic() {
    let c = compose();
    let cfg = engine(&c).config();
    let created = created_topics(&c);
    let (sources, outputs) = engine_topics(&cfg);
    assert!(!sources.is_empty());
    for t in &sources {
        let (partitions, _) = created
            .get(t)
            .unwrap_or_else(|| panic!("source topic `{t}` is not created; created: {:?}", created.keys()));
        assert!(*partitions >= 2, "`{t}`: {partitions} partition(s)");
    }
    for t in &outputs {
        assert!(
            created.contains_key(t),
            "`{t}` is not created; created: {:?}",
            created.keys()
        );
    }
    // Checkpoints: compacted, one partition (written to partition 0 in order).
    let state_topic = &cfg.output.state_topic;
    let (state_partitions, state) = &created[state_topic];
    assert!(state.contains("--config cleanup.policy=compact"), "{state}");
    assert_eq!(*state_partitions, 1, "{state}");
    for (t, (_, line)) in &created {
        if t != state_topic {
            assert!(
                !line.contains("cleanup.policy=compact"),
                "only the state topic is compacted: {line}"
            );
        }
    }
    // Nothing is created that the engine does not use (a stale name would hide here).
    let used: BTreeSet<&String> = sources.iter().chain(&outputs).collect();
    assert_eq!(created.keys().collect::<BTreeSet<_>>(), used);
    assert_eq!(
        env(service(&c, "kafka"))
            .get("KAFKA_AUTO_CREATE_TOPICS_ENABLE")
            .map(String::as_str),
        Some("false"),
        "a misspelt topic must fail rather than be auto-created"
    );
}

/// The image's command, the files it copies and the compose mounts agree.
#[test]
fn dockerfile_runtime_agrees_with_the_compose_service() {
    let c = compose();
    let e = engine(&c);
    let (build, runtime) = (&e.stages[0], e.stages.last().unwrap());

    let cmd = &e.command;
    assert_eq!(cmd.get(1).map(String::as_str), Some("run"), "{cmd:?}");
    // The binary: copied from the build stage to the path the entrypoint runs.
    let build_name = build.name.clone().expect("the build stage is named");
    let binary = runtime
        .copies()
        .into_iter()
        .find(|(from, _, _)| from.as_deref() == Some(build_name.as_str()))
        .map(|(_, _, dest)| dest)
        .expect("the runtime stage copies the binary from the build stage");
    assert_eq!(cmd[0], binary, "ENTRYPOINT runs the copied binary");
    let built = build.args("RUN").join(" ");
    assert!(built.contains("--bin tocsin") && built.contains("--locked"), "{built}");
    // The rules: copied from the repository's rules/, or mounted over.
    let rules = flag(cmd, "--rules").expect("--rules");
    let copied = runtime
        .copies()
        .into_iter()
        .any(|(from, src, dest)| from.is_none() && src == ["rules/"] && dest.trim_end_matches('/') == rules);
    assert!(
        copied || e.mounts.contains_key(rules),
        "nothing puts the rules at {rules}"
    );
    e.config_file();

    // The builder has what rdkafka's bundled librdkafka build needs.
    let packages = build.args("RUN").join(" ");
    for p in ["build-essential", "cmake", "zlib1g-dev"] {
        assert!(packages.contains(p), "the build stage does not install {p}");
    }
    // A binary built against a newer glibc than the runtime's would not start.
    let debian = |image: &str| image.rsplit(['-', ':']).next().unwrap().to_string();
    assert_eq!(runtime.from, "debian:bookworm-slim");
    assert_eq!(debian(&build.from), "bookworm", "{}", build.from);
    // The builder is the toolchain the crate promises to build with.
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(common::repo().join("Cargo.toml")).unwrap()).unwrap();
    let msrv = manifest["package"]["rust-version"].as_str().unwrap();
    assert_eq!(build.from, format!("rust:{msrv}-bookworm"));
}

/// The build context keeps everything `cargo build` reads.
#[test]
fn dockerignore_keeps_what_the_build_needs() {
    let text = std::fs::read_to_string(common::repo().join(".dockerignore")).expect(".dockerignore");
    let ignored: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('/'))
        .collect();
    for needed in ["Cargo.toml", "Cargo.lock", "src", "benches", "rules", "samples"] {
        assert!(!ignored.contains(&needed), "{needed} is needed by the build");
        assert!(common::repo().join(needed).exists());
    }
    assert!(
        ignored.contains(&"target"),
        "target/ would send gigabytes to the daemon"
    );
}

/// The producer sends every sample line to the topic whose source claims it
/// (unclaimed lines to the first source topic, as the embedded demo does).
#[test]
fn producer_routes_each_sample_to_its_source_topic() {
    let c = compose();
    let p = service(&c, "producer");
    let m = mounts(p);
    let entry = words(&p["entrypoint"]).expect("producer entrypoint");
    let host = |container: &str| {
        m.get(container)
            .unwrap_or_else(|| panic!("producer runs {container}, which is not mounted: {m:?}"))
            .clone()
    };
    assert_eq!(entry[0], "/bin/bash");
    assert_eq!(host(&entry[1]), common::repo().join("./deploy/produce.sh"));
    let routes_file = host(&entry[2]);
    let events: Vec<PathBuf> = entry[3..].iter().map(|e| host(e)).collect();
    assert_eq!(
        events,
        [
            common::repo().join("./samples/events.ndjson"),
            common::repo().join("./samples/bastion.ndjson")
        ]
    );

    let routes: Vec<(String, String)> = std::fs::read_to_string(&routes_file)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (topic, text) = l.split_once('\t').unwrap_or((l, ""));
            (topic.to_string(), text.to_string())
        })
        .collect();
    assert!(!routes.is_empty());

    let e = engine(&c);
    let prepared = prepare(
        &RuleArgs {
            rules: vec![common::repo().join("rules")],
            config: Some(e.config_file()),
        },
        None,
        false,
    )
    .unwrap();
    let sources = KafkaConfig::topics(&prepared.config.sources);
    for (topic, _) in &routes {
        assert!(sources.contains(topic), "route to `{topic}`, not a source topic");
    }
    let mut decoder = JsonDecoder::new(prepared.config.input.max_event_bytes);
    let mut extraction = tocsin::decode::extract::Extraction::new();
    let mut per_topic: BTreeMap<String, usize> = BTreeMap::new();
    let samples: String = events.iter().map(|e| std::fs::read_to_string(e).unwrap()).collect();
    for (n, line) in samples.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let want = decoder
            .decode(line.as_bytes())
            .ok()
            .and_then(|d| {
                let root = d.root();
                prepared
                    .detector
                    .sources
                    .iter()
                    .find(|s| s.source.classify(root, &mut extraction, None).0)
                    .and_then(|s| s.source.topics.first().cloned())
            })
            .unwrap_or_else(|| sources[0].clone());
        let got = routes
            .iter()
            .find(|(_, text)| line.contains(text.as_str()))
            .map(|(t, _)| t.clone());
        assert_eq!(got.as_ref(), Some(&want), "sample line {}: {line}", n + 1);
        *per_topic.entry(want).or_default() += 1;
    }
    // Every source topic receives samples: the demo exercises each source.
    assert_eq!(per_topic.keys().collect::<BTreeSet<_>>(), sources.iter().collect());
}

//! The configuration file (TOML): one struct per stage, unknown keys rejected.
//!
//! Raw config is only parsed and checked here; the stages turn it into their
//! runtime form (sources into classifiers, placeholders into the compiler's
//! options), following ripgrep's split between raw and compiled arguments.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

pub mod env;
pub mod profile;
pub mod schema;

use serde::{Deserialize, Serialize};

use crate::alert::format::{AlertFormat, Facility};
use crate::alert::redact::RedactConfig;
use crate::decode::time::TimeFallback;

/// The whole file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub input: InputConfig,
    /// Sources, tried in order: an event belongs to the first whose `when` holds.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// Values for Sigma `expand` placeholders (`%name%`).
    #[serde(default, serialize_with = "sorted")]
    pub placeholders: HashMap<String, Vec<String>>,
    #[serde(default)]
    pub redact: Option<RedactConfig>,
    /// The Kafka cluster; without `brokers`, `tocsin run` starts an embedded one.
    #[serde(default)]
    pub kafka: KafkaConfig,
    /// Where alerts and dead letters go on Kafka.
    #[serde(default)]
    pub output: OutputConfig,
    /// Log-quality monitoring thresholds.
    #[serde(default)]
    pub quality: QualityConfig,
}

/// Log-quality monitoring: each source's events are checked against what
/// the standards require (its `required_fields`, UTC timestamps, no secrets)
/// per period of event time; a share above its threshold raises a
/// `log_quality` alert for that source and period.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualityConfig {
    /// Length of a checked period (event time). Default `1h`.
    pub period: String,
    /// Share of a period's events missing a required field that raises an alert. Default 0.05.
    pub max_missing_share: f64,
    /// Share with a timestamp not in UTC (or with no zone) that raises an alert. Default 0.05.
    pub max_non_utc_share: f64,
    /// Every Nth event of a source is scanned for secrets (the redactor's
    /// detectors); any secret found raises an alert. Default 256; 0 = off.
    pub secret_scan_every: u64,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            period: "1h".into(),
            max_missing_share: 0.05,
            max_non_utc_share: 0.05,
            secret_scan_every: 256,
        }
    }
}

/// Connection to Kafka and consumer-group behaviour.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// `bootstrap.servers`. Unset: an embedded in-process broker fed the samples.
    pub brokers: Option<String>,
    /// Consumer group shared by every instance. Default `tocsin`.
    #[serde(default = "default_group_id")]
    pub group_id: String,
    /// Any librdkafka property, passed through unchanged (TLS, SASL, timeouts, …).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// How often processed input offsets are committed (after output is acknowledged). Default `1s`.
    #[serde(default = "default_commit_interval")]
    pub commit_interval: String,
    /// A partition silent this long stops holding the watermark back. Default `30s`.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: String,
    /// SIGTERM/SIGINT: time allowed to drain, flush, commit and leave the group. Default `30s`.
    #[serde(default = "default_shutdown_timeout")]
    pub shutdown_timeout: String,
    /// Kafka transactions: alerts, dead letters, checkpoints and consumed
    /// offsets commit atomically. Default false (at-least-once).
    #[serde(default)]
    pub exactly_once: bool,
    /// `transactional.id` of this instance (exactly-once): unique per
    /// instance and stable across its restarts, so a restart fences the
    /// previous incarnation. Default `<group_id>-0`.
    #[serde(default)]
    pub transactional_id: Option<String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: None,
            group_id: default_group_id(),
            properties: BTreeMap::new(),
            commit_interval: default_commit_interval(),
            idle_timeout: default_idle_timeout(),
            shutdown_timeout: default_shutdown_timeout(),
            exactly_once: false,
            transactional_id: None,
        }
    }
}

fn default_group_id() -> String {
    "tocsin".into()
}
fn default_commit_interval() -> String {
    "1s".into()
}
fn default_idle_timeout() -> String {
    "30s".into()
}
fn default_shutdown_timeout() -> String {
    "30s".into()
}

/// Output topics, the alert topic's format, and alert signing.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Default `tocsin-alerts`.
    #[serde(default = "default_alerts_topic")]
    pub alerts_topic: String,
    /// Default `tocsin-dead-letters`.
    #[serde(default = "default_dead_letter_topic")]
    pub dead_letter_topic: String,
    /// Correlation checkpoints (create it with `cleanup.policy=compact`, one
    /// partition). Default `tocsin-state`.
    #[serde(default = "default_state_topic")]
    pub state_topic: String,
    /// Format of the messages on the alert topic: `json` (default), `cef` or
    /// `syslog` (file and stdout output choose with `tocsin run --format`).
    #[serde(default)]
    pub alerts_format: AlertFormat,
    /// HMAC-SHA256 key (its UTF-8 bytes): every alert, in every output and
    /// format, carries a `signature` over its canonical JSON
    /// ([`crate::alert::sign`]). Unset: alerts are not signed. Never printed.
    #[serde(default)]
    pub sign_key: Option<String>,
    /// Facility of syslog-format alerts (`kern` … `local7`). Default `local0`.
    #[serde(default)]
    pub syslog_facility: Facility,
    /// HOSTNAME of syslog-format alerts. Default: this machine's name.
    #[serde(default)]
    pub syslog_hostname: Option<String>,
}

impl std::fmt::Debug for OutputConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputConfig")
            .field("alerts_topic", &self.alerts_topic)
            .field("dead_letter_topic", &self.dead_letter_topic)
            .field("state_topic", &self.state_topic)
            .field("alerts_format", &self.alerts_format)
            .field("sign_key", &self.sign_key.as_ref().map(|_| "***"))
            .field("syslog_facility", &self.syslog_facility)
            .field("syslog_hostname", &self.syslog_hostname)
            .finish()
    }
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            alerts_topic: default_alerts_topic(),
            dead_letter_topic: default_dead_letter_topic(),
            state_topic: default_state_topic(),
            alerts_format: AlertFormat::default(),
            sign_key: None,
            syslog_facility: Facility::default(),
            syslog_hostname: None,
        }
    }
}

fn default_alerts_topic() -> String {
    "tocsin-alerts".into()
}
fn default_dead_letter_topic() -> String {
    "tocsin-dead-letters".into()
}
fn default_state_topic() -> String {
    "tocsin-state".into()
}

/// How events are read and timed.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// Fields holding the event time, first usable wins. Default `["@timestamp"]`.
    #[serde(default = "default_time_fields")]
    pub time_fields: Vec<String>,
    /// What to do without a usable event time. Default: dead-letter.
    #[serde(default)]
    pub time_fallback: TimeFallback,
    /// Larger events go to the dead-letter output (`too_large`). Default 1 MiB.
    #[serde(default = "default_max_event_bytes")]
    pub max_event_bytes: usize,
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig {
            time_fields: default_time_fields(),
            time_fallback: TimeFallback::default(),
            max_event_bytes: default_max_event_bytes(),
        }
    }
}

fn default_time_fields() -> Vec<String> {
    vec!["@timestamp".into()]
}

fn default_max_event_bytes() -> usize {
    1 << 20
}

/// One log source: which events belong to it and what Sigma logsource they are.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub name: String,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub service: Option<String>,
    /// Kafka topics carrying this source (used by the Kafka source).
    #[serde(default)]
    pub topics: Vec<String>,
    /// Field conditions: event field (dotted path) → accepted value(s), compared as text.
    #[serde(default)]
    pub when: BTreeMap<String, OneOrMany>,
    /// Rule field → event path, so rules written for one shape run on another.
    #[serde(default)]
    pub field_map: BTreeMap<String, OneOrMany>,
    /// Prefixes tried for rule fields not in `field_map` (after the field as
    /// written), e.g. `winlog.event_data.` so Windows rules run on Winlogbeat events.
    #[serde(default)]
    pub field_prefixes: Vec<String>,
    /// Overrides `input.time_fields` for this source.
    #[serde(default)]
    pub time_fields: Option<Vec<String>>,
    /// Attributes the standards require of this source (rule field names,
    /// read through `field_map`): the share of events missing each one is
    /// monitored and alerted on (`[quality]`). With `schema`, the schema's
    /// required fields come first and these are added ([`schema`]).
    #[serde(default)]
    pub required_fields: Vec<String>,
    /// A gap in this source's events longer than this (event time, e.g.
    /// `15m`) raises a `source_silent` alert.
    #[serde(default)]
    pub max_silence: Option<String>,
    /// A source profile (`profiles/<name>.toml`, embedded) merged under this
    /// source's own keys when the config is loaded; see [`profile`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// A seed source schema (`schemas/sources/<name>.schema.json`, embedded)
    /// whose required fields (`x-tocsin-required-fields`) this source must
    /// carry: merged into `required_fields` when the config is loaded; see
    /// [`schema`]. A profile may set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Field extraction from a text field (a raw syslog line in `message`):
    /// named regex captures become event fields
    /// ([`crate::decode::extract`]). Runs before `when` is checked, so
    /// conditions can test extracted fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extract: Vec<ExtractConfig>,
}

/// One `[[extract]]` entry of a source or profile (see
/// [`crate::decode::extract`] for the semantics).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractConfig {
    /// The text to parse: an event field (dotted path) or a field an earlier entry extracted.
    pub field: String,
    /// Skip the entry unless the text contains this (cheap prefilter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// Regexes (Rust `regex` syntax) with named groups; the first that matches wins.
    pub patterns: Vec<String>,
    /// Groups added as JSON numbers when their text is an integer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub integers: Vec<String>,
    /// Constant fields added when a pattern of the entry matches.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, OneOrMany>,
}

/// A scalar or a list of scalars (numbers are kept as their text).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(Scalar),
    Many(Vec<Scalar>),
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Scalar {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl OneOrMany {
    pub fn to_strings(&self) -> Vec<String> {
        let s = |v: &Scalar| match v {
            Scalar::Str(s) => s.clone(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Bool(b) => b.to_string(),
        };
        match self {
            OneOrMany::One(v) => vec![s(v)],
            OneOrMany::Many(vs) => vs.iter().map(s).collect(),
        }
    }
}

/// Key names whose values are never printed (librdkafka's `sasl.password`,
/// `ssl.key.password`, `sasl.oauthbearer.client.secret`, the redaction HMAC key,
/// the alert signing key, …).
const SECRET_KEYS: [&str; 7] = [
    "password",
    "secret",
    "hmac_key",
    "sign_key",
    "token",
    "credential",
    "private",
];

fn mask_secrets(v: &mut toml::Value) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t.iter_mut() {
                let k = k.to_ascii_lowercase();
                // Strings only: `secret_scan_every = 256` is a setting, not a secret.
                if SECRET_KEYS.iter().any(|s| k.contains(s)) && v.is_str() {
                    *v = toml::Value::String("***".into());
                } else {
                    mask_secrets(v);
                }
            }
        }
        toml::Value::Array(a) => a.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

fn sorted<S: serde::Serializer>(m: &HashMap<String, Vec<String>>, s: S) -> Result<S::Ok, S::Error> {
    let sorted: BTreeMap<_, _> = m.iter().collect();
    sorted.serialize(s)
}

/// A config file problem, with the file and (when known) the line.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl Config {
    /// Reads and checks a TOML config file, with the process environment's
    /// overrides ([`env`]) applied.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: None,
            message: e.to_string(),
        })?;
        Config::parse_with_env(&text, &file, std::env::vars())
    }

    /// Checks config text (no environment).
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| ConfigError {
            file: file.to_string(),
            line: e.span().map(|s| text[..s.start.min(text.len())].lines().count().max(1)),
            message: e.message().to_string(),
        })?;
        cfg.apply_profiles(file, Some(text))?;
        cfg.apply_schemas(file, Some(text))?;
        cfg.check_extract(file, Some(text))?;
        cfg.validate(file)?;
        Ok(cfg)
    }

    /// [`Config::parse`], then the overrides among `vars` one at a time, so
    /// a bad one is reported with its variable.
    pub fn parse_with_env(
        text: &str,
        file: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let base = Config::parse(text, file)?;
        let overrides = env::overrides(vars);
        if overrides.is_empty() {
            return Ok(base);
        }
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
            file: file.to_string(),
            line: None,
            message: e.message().to_string(),
        })?;
        let mut cfg = base;
        for o in &overrides {
            let err = |message: String| ConfigError {
                file: format!("environment variable {}", o.var),
                line: None,
                message,
            };
            env::apply(&mut table, o).map_err(err)?;
            cfg = toml::Value::Table(table.clone())
                .try_into()
                .map_err(|e: toml::de::Error| err(format!("{} (key `{}`)", e.message(), o.path.join("."))))?;
            cfg.apply_profiles(&format!("environment variable {}", o.var), None)?;
            cfg.apply_schemas(&format!("environment variable {}", o.var), None)?;
            cfg.check_extract(&format!("environment variable {}", o.var), None)?;
            cfg.validate(&format!("environment variable {}", o.var))?;
        }
        Ok(cfg)
    }

    /// The effective config as TOML, defaults included, secrets masked
    /// (`tocsin config --print`).
    pub fn to_masked_toml(&self) -> String {
        toml::to_string_pretty(&self.masked()).unwrap_or_default()
    }

    /// The effective config on one line (JSON), secrets masked: logged at start-up.
    pub fn to_masked_json(&self) -> String {
        serde_json::to_string(&self.masked()).unwrap_or_default()
    }

    fn masked(&self) -> toml::Value {
        let mut v = toml::Value::try_from(self).unwrap_or_else(|_| toml::Value::Table(toml::Table::new()));
        mask_secrets(&mut v);
        v
    }

    /// Merges each source's `profile` under its keys ([`profile::apply`]).
    /// `text`, when given, locates an unknown profile's line.
    fn apply_profiles(&mut self, file: &str, text: Option<&str>) -> Result<(), ConfigError> {
        for s in &mut self.sources {
            profile::apply(s).map_err(|e| ConfigError {
                file: file.to_string(),
                line: text.zip(s.profile.as_deref()).and_then(|(t, p)| profile_line(t, p)),
                message: format!("source `{}`: {e}", s.name),
            })?;
        }
        Ok(())
    }

    /// Merges the required fields of each source's `schema` into its
    /// `required_fields` ([`schema::apply`]), after the profiles (which may
    /// set `schema`). `text`, when given, locates an unknown schema's line.
    fn apply_schemas(&mut self, file: &str, text: Option<&str>) -> Result<(), ConfigError> {
        for s in &mut self.sources {
            schema::apply(s).map_err(|e| {
                let from_profile = s
                    .profile
                    .as_deref()
                    .filter(|p| profile::get(p).is_ok_and(|p| p.schema.is_some() && p.schema == s.schema));
                ConfigError {
                    file: file.to_string(),
                    line: text
                        .zip(s.schema.as_deref())
                        .and_then(|(t, n)| key_line(t, "schema", n))
                        .or_else(|| text.zip(from_profile).and_then(|(t, p)| profile_line(t, p))),
                    message: match from_profile {
                        Some(p) => format!("source `{}` (profile `{p}`): {e}", s.name),
                        None => format!("source `{}`: {e}", s.name),
                    },
                }
            })?;
        }
        Ok(())
    }

    /// Compiles each source's `[[extract]]` entries (profile's included): a
    /// bad pattern is reported with the source, where the entry comes from,
    /// the pattern, the regex error and (from `text`) the pattern's line.
    fn check_extract(&self, file: &str, text: Option<&str>) -> Result<(), ConfigError> {
        for s in &self.sources {
            let Err(e) = crate::decode::extract::Extractor::compile(&s.extract) else {
                continue;
            };
            let from_profile = s.profile.as_deref().filter(|p| {
                let entry = s.extract.get(e.entry().wrapping_sub(1));
                profile::get(p).is_ok_and(|p| entry.is_some_and(|x| p.extract.contains(x)))
            });
            let line = match (text, e.pattern(), from_profile) {
                (Some(t), Some(pat), None) => t.lines().position(|l| l.contains(pat)).map(|i| i + 1),
                _ => None,
            };
            let origin = from_profile.map(|p| format!(" (profile `{p}`)")).unwrap_or_default();
            return Err(ConfigError {
                file: file.to_string(),
                line,
                message: format!("source `{}`{origin}: {e}", s.name),
            });
        }
        Ok(())
    }

    fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let err = |message: String| ConfigError {
            file: file.to_string(),
            line: None,
            message,
        };
        let mut names = std::collections::HashSet::new();
        for s in &self.sources {
            if !names.insert(&s.name) {
                return Err(err(format!("duplicate source name `{}`", s.name)));
            }
            if s.product.is_none() && s.category.is_none() && s.service.is_none() {
                return Err(err(format!(
                    "source `{}` needs at least one of product, category, service",
                    s.name
                )));
            }
        }
        if self.output.sign_key.as_deref() == Some("") {
            return Err(err(
                "output.sign_key must not be empty (leave it out to sign nothing)".into()
            ));
        }
        if self.input.max_event_bytes == 0 {
            return Err(err("input.max_event_bytes must be positive".into()));
        }
        for (key, v) in [
            ("kafka.commit_interval", &self.kafka.commit_interval),
            ("kafka.idle_timeout", &self.kafka.idle_timeout),
            ("kafka.shutdown_timeout", &self.kafka.shutdown_timeout),
        ] {
            if crate::correlate::parse_duration_ms(v).is_none() {
                return Err(err(format!("{key}: `{v}` is not a duration (250ms, 30s, 10m, 1h)")));
            }
        }
        if crate::correlate::parse_duration_ms(&self.quality.period).is_none_or(|ms| ms == 0) {
            return Err(err(format!(
                "quality.period: `{}` is not a positive duration",
                self.quality.period
            )));
        }
        for (key, v) in [
            ("quality.max_missing_share", self.quality.max_missing_share),
            ("quality.max_non_utc_share", self.quality.max_non_utc_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(err(format!("{key}: {v} is not a share between 0 and 1")));
            }
        }
        for s in &self.sources {
            if let Some(v) = &s.max_silence {
                if crate::correlate::parse_duration_ms(v).is_none_or(|ms| ms == 0) {
                    return Err(err(format!(
                        "source `{}`: max_silence `{v}` is not a positive duration",
                        s.name
                    )));
                }
            }
        }
        Ok(())
    }
}

/// The line of `profile = "<name>"` in config text (for error messages).
fn profile_line(text: &str, name: &str) -> Option<usize> {
    key_line(text, "profile", name)
}

/// The line of `<key> = "<name>"` in config text (for error messages).
fn key_line(text: &str, key: &str, name: &str) -> Option<usize> {
    let quoted = [format!("\"{name}\""), format!("'{name}'")];
    text.lines()
        .position(|l| l.contains(key) && quoted.iter().any(|q| l.contains(q.as_str())))
        .map(|i| i + 1)
}

impl KafkaConfig {
    /// The configured `transactional_id`, or `<group_id>-0`.
    pub fn transactional_id(&self) -> String {
        self.transactional_id
            .clone()
            .unwrap_or_else(|| format!("{}-0", self.group_id))
    }

    /// A checked duration setting (validated at load).
    pub fn duration(v: &str) -> std::time::Duration {
        std::time::Duration::from_millis(crate::correlate::parse_duration_ms(v).unwrap_or(0))
    }

    /// The source topics of `sources`, each once, in order.
    pub fn topics(sources: &[SourceConfig]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in sources.iter().flat_map(|s| &s.topics) {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
        out
    }
}

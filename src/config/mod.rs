//! The configuration file (TOML): one struct per stage, unknown keys rejected.
//!
//! Raw config is only parsed and checked here; the stages turn it into their
//! runtime form (sources into classifiers, placeholders into the compiler's
//! options), following ripgrep's split between raw and compiled arguments.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

use crate::alert::redact::RedactConfig;
use crate::decode::time::TimeFallback;

/// The whole file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub input: InputConfig,
    /// Sources, tried in order: an event belongs to the first whose `when` holds.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// Values for Sigma `expand` placeholders (`%name%`).
    #[serde(default)]
    pub placeholders: HashMap<String, Vec<String>>,
    #[serde(default)]
    pub redact: Option<RedactConfig>,
}

/// How events are read and timed.
#[derive(Clone, Debug, Deserialize)]
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
#[derive(Clone, Debug, Deserialize)]
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
}

/// A scalar or a list of scalars (numbers are kept as their text).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(Scalar),
    Many(Vec<Scalar>),
}

#[derive(Clone, Debug, Deserialize)]
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

/// A config file problem, with the file and (when known) the line.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl Config {
    /// Reads and checks a TOML config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: None,
            message: e.to_string(),
        })?;
        Config::parse(&text, &file)
    }

    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError {
            file: file.to_string(),
            line: e.span().map(|s| text[..s.start.min(text.len())].lines().count().max(1)),
            message: e.message().to_string(),
        })?;
        cfg.validate(file)?;
        Ok(cfg)
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
        if self.input.max_event_bytes == 0 {
            return Err(err("input.max_event_bytes must be positive".into()));
        }
        Ok(())
    }
}

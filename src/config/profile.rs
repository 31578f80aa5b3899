//! Source profiles: named presets of a source's `when`, `field_map`,
//! `field_prefixes`, `time_fields` and logsource for the shapes real
//! pipelines deliver (Winlogbeat, flat evtx, Filebeat, Zeek, Okta,
//! CloudTrail, Kubernetes audit). Each is a TOML file in `profiles/`,
//! embedded in the binary; `profiles/README.md` documents them.
//!
//! `profile = "<name>"` in a `[[sources]]` entry merges the preset *under*
//! the source's own keys:
//!
//! - `when` and `field_map` are tables, merged entry by entry: the profile's
//!   entries are kept unless the source sets the same key, whose value wins;
//! - `product`, `category`, `service` and `schema` are taken one by one from
//!   the profile when the source leaves them unset;
//! - `field_prefixes` and `time_fields` are lists, taken whole: the source's
//!   when it sets them (a non-empty `field_prefixes`, any `time_fields`),
//!   else the profile's.
//! - `extract` entries are concatenated: the source's first, then the
//!   profile's (each once). Entries run in order and a field set first is
//!   never overwritten, so a source's own entries take precedence field by
//!   field and the profile's fill in the rest.
//!
//! So a source can narrow a profile (`when` entries add conditions), remap
//! one field, or add a category, and a profile can never override what a
//! source states. Merging happens when the config is loaded, so everything
//! downstream (classification, compilation, `tocsin config --print`) sees
//! the merged source; merging twice gives the same result.

use std::collections::BTreeMap;

use include_dir::{include_dir, Dir};
use serde::Deserialize;

use super::{ExtractConfig, OneOrMany, SourceConfig};

static PROFILES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/profiles");

/// One profile file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// One line: the shape this profile reads.
    pub description: String,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub when: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    pub field_map: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    pub field_prefixes: Vec<String>,
    #[serde(default)]
    pub time_fields: Option<Vec<String>>,
    #[serde(default)]
    pub extract: Vec<ExtractConfig>,
    /// The seed source schema the shape delivers (`schemas/sources/`), whose
    /// required fields the source is then checked for ([`super::schema`]).
    #[serde(default)]
    pub schema: Option<String>,
}

/// Why a profile could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    #[error("unknown profile `{name}` (known profiles: {})", known.join(", "))]
    Unknown { name: String, known: Vec<String> },
    /// An embedded profile file that does not parse (caught by the unit tests).
    #[error("profile `{name}` is invalid: {message}")]
    Invalid { name: String, message: String },
}

/// The names of the embedded profiles, sorted.
pub fn names() -> Vec<String> {
    let mut names: Vec<String> = PROFILES
        .files()
        .filter_map(|f| {
            let p = f.path();
            if p.extension().and_then(|e| e.to_str()) == Some("toml") {
                p.file_stem().and_then(|s| s.to_str()).map(str::to_string)
            } else {
                None
            }
        })
        .collect();
    names.sort();
    names
}

/// The embedded profile `name`.
pub fn get(name: &str) -> Result<Profile, ProfileError> {
    let text = PROFILES
        .get_file(format!("{name}.toml"))
        .and_then(|f| f.contents_utf8())
        .ok_or_else(|| ProfileError::Unknown {
            name: name.to_string(),
            known: names(),
        })?;
    toml::from_str(text).map_err(|e: toml::de::Error| ProfileError::Invalid {
        name: name.to_string(),
        message: e.message().to_string(),
    })
}

/// Merges `profile` under `source` (see the module doc for the rule).
pub fn merge(source: &mut SourceConfig, profile: &Profile) {
    for (ours, theirs) in [
        (&mut source.product, &profile.product),
        (&mut source.category, &profile.category),
        (&mut source.service, &profile.service),
        (&mut source.schema, &profile.schema),
    ] {
        if ours.is_none() {
            ours.clone_from(theirs);
        }
    }
    for (k, v) in &profile.when {
        source.when.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for (k, v) in &profile.field_map {
        source.field_map.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if source.field_prefixes.is_empty() {
        source.field_prefixes.clone_from(&profile.field_prefixes);
    }
    if source.time_fields.is_none() {
        source.time_fields.clone_from(&profile.time_fields);
    }
    for e in &profile.extract {
        if !source.extract.contains(e) {
            source.extract.push(e.clone());
        }
    }
}

/// Resolves and merges the source's `profile`, if it names one.
pub fn apply(source: &mut SourceConfig) -> Result<(), ProfileError> {
    if let Some(name) = source.profile.clone() {
        merge(source, &get(&name)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(toml_text: &str) -> SourceConfig {
        toml::from_str(toml_text).expect("source parses")
    }

    #[test]
    fn every_embedded_profile_parses_and_names_a_logsource() {
        let names = names();
        assert!(names.len() >= 12, "{names:?}");
        for n in &names {
            let p = get(n).unwrap_or_else(|e| panic!("{e}"));
            assert!(!p.description.is_empty(), "{n}: description");
            assert!(
                p.product.is_some() || p.category.is_some() || p.service.is_some(),
                "{n}: no logsource"
            );
            assert!(
                p.time_fields.as_ref().is_some_and(|t| !t.is_empty()),
                "{n}: time_fields"
            );
            if let Err(e) = crate::decode::extract::Extractor::compile(&p.extract) {
                panic!("{n}: {e}");
            }
        }
    }

    #[test]
    fn unknown_profile_lists_the_known_ones() {
        let e = get("winlogbeat").unwrap_err().to_string();
        assert!(e.contains("unknown profile `winlogbeat`"), "{e}");
        assert!(e.contains("winlogbeat-security") && e.contains("zeek-dns"), "{e}");
    }

    #[test]
    fn source_keys_win_and_tables_merge_per_entry() {
        let mut s = source(
            r#"
            name = "dc"
            profile = "winlogbeat-security"
            category = "authentication"
            when = { "winlog.computer_name" = "DC01" }
            time_fields = ["event.created"]
            [field_map]
            Computer = "host.name"
            "#,
        );
        apply(&mut s).unwrap();
        assert_eq!(s.product.as_deref(), Some("windows"));
        assert_eq!(s.service.as_deref(), Some("security"));
        assert_eq!(s.category.as_deref(), Some("authentication"));
        let when: Vec<(&str, Vec<String>)> = s.when.iter().map(|(k, v)| (k.as_str(), v.to_strings())).collect();
        assert_eq!(
            when,
            [
                ("winlog.channel", vec!["Security".to_string()]),
                ("winlog.computer_name", vec!["DC01".to_string()])
            ]
        );
        assert_eq!(s.field_map["Computer"].to_strings(), ["host.name"]);
        assert_eq!(s.field_map["EventID"].to_strings(), ["winlog.event_id"]);
        assert_eq!(s.field_prefixes, ["winlog.event_data.", "winlog.user_data."]);
        assert_eq!(s.time_fields.as_deref(), Some(&["event.created".to_string()][..]));
        // Idempotent.
        let before = format!("{s:?}");
        apply(&mut s).unwrap();
        assert_eq!(before, format!("{s:?}"));
    }

    #[test]
    fn extract_entries_of_the_source_come_first_then_the_profiles_once() {
        let mut s = source(
            r#"
            name = "auth"
            profile = "syslog-sshd"
            [[extract]]
            field = "message"
            patterns = ['^(?P<_msg>.*)$']
            "#,
        );
        let profile = get("syslog-sshd").unwrap();
        apply(&mut s).unwrap();
        assert_eq!(s.extract.len(), 1 + profile.extract.len());
        assert_eq!(s.extract[0].patterns, ["^(?P<_msg>.*)$"]);
        assert_eq!(s.extract[1..], profile.extract[..]);
        apply(&mut s).unwrap();
        assert_eq!(s.extract.len(), 1 + profile.extract.len(), "idempotent");
    }

    #[test]
    fn a_profiles_schema_is_taken_unless_the_source_sets_one() {
        let profile = Profile {
            schema: Some("bastion".into()),
            ..get("syslog-sshd").unwrap()
        };
        let mut s = source("name = \"a\"");
        merge(&mut s, &profile);
        assert_eq!(s.schema.as_deref(), Some("bastion"));
        let mut s = source("name = \"a\"\nschema = \"dns\"");
        merge(&mut s, &profile);
        assert_eq!(s.schema.as_deref(), Some("dns"));
    }

    #[test]
    fn a_condition_of_the_source_replaces_the_profiles_on_the_same_key() {
        let mut s = source(
            r#"
            name = "fwd"
            profile = "winlogbeat-security"
            when = { "winlog.channel" = ["Security", "ForwardedEvents"] }
            field_prefixes = ["winlog.event_data."]
            "#,
        );
        apply(&mut s).unwrap();
        assert_eq!(s.when["winlog.channel"].to_strings(), ["Security", "ForwardedEvents"]);
        assert_eq!(s.field_prefixes, ["winlog.event_data."]);
    }
}

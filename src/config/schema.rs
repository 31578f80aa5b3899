//! Source schemas as a source's quality contract: `schema = "<name>"` in a
//! `[[sources]]` entry (or in its profile) names a seed source schema of
//! `schemas/sources/` (embedded in the binary, like the profiles), and the
//! fields that schema requires of every event (`x-tocsin-required-fields`)
//! become required fields of the source, checked by the log-quality monitor
//! (`pipeline::quality`).
//!
//! - The schema's fields come first, then the source's own
//!   `required_fields` not among them: a source can add fields to check, never
//!   drop one the standard requires (to tolerate a known gap, raise
//!   `quality.max_missing_share` or leave `schema` out).
//! - Only the unconditional requirements are checked. Those that hold for
//!   one event type (`x-tocsin-required-when`: the bastion's `user.name` of
//!   login attempts, the hypervisor's `vm.image.name` of creations) are not:
//!   the monitor counts a field missing over all of a source's events.
//! - Names are ECS paths and are read, like every required field, through
//!   the source's `field_map` / `field_prefixes` (a profile's included), so
//!   a native shape is checked through its profile; `@timestamp` is found
//!   through the source's time fields too (Zeek's `ts`).
//!
//! Merging happens when the config is loaded, after the profile's, so
//! `tocsin config --print` shows the resulting `required_fields`; merging
//! twice gives the same result.

use include_dir::{include_dir, Dir};

use super::SourceConfig;

static SCHEMAS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/schemas/sources");

const SUFFIX: &str = ".schema.json";

/// Why a schema could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    #[error("unknown schema `{name}` (known schemas: {})", known.join(", "))]
    Unknown { name: String, known: Vec<String> },
    /// An embedded schema without a usable required-field list (caught by the unit tests).
    #[error("schema `{name}` is invalid: {message}")]
    Invalid { name: String, message: String },
}

/// The names of the embedded source schemas (file names without
/// `.schema.json`), sorted.
pub fn names() -> Vec<String> {
    let mut names: Vec<String> = SCHEMAS
        .files()
        .filter_map(|f| f.path().file_name()?.to_str()?.strip_suffix(SUFFIX).map(str::to_string))
        .collect();
    names.sort();
    names
}

/// The fields the embedded schema `name` requires of every event
/// (`x-tocsin-required-fields`), in its order.
pub fn required_fields(name: &str) -> Result<Vec<String>, SchemaError> {
    let text = SCHEMAS
        .get_file(format!("{name}{SUFFIX}"))
        .and_then(|f| f.contents_utf8())
        .ok_or_else(|| SchemaError::Unknown {
            name: name.to_string(),
            known: names(),
        })?;
    let invalid = |message: String| SchemaError::Invalid {
        name: name.to_string(),
        message,
    };
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    v.get("x-tocsin-required-fields")
        .and_then(|l| l.as_array())
        .ok_or_else(|| invalid("no `x-tocsin-required-fields` list".into()))?
        .iter()
        .map(|f| {
            f.as_str()
                .map(str::to_string)
                .ok_or_else(|| invalid(format!("`{f}` in x-tocsin-required-fields is not a string")))
        })
        .collect()
}

/// Puts the required fields of the source's `schema`, if it names one,
/// before its own `required_fields` (each once).
pub fn apply(source: &mut SourceConfig) -> Result<(), SchemaError> {
    let Some(name) = source.schema.clone() else {
        return Ok(());
    };
    let mut fields = required_fields(&name)?;
    for f in &source.required_fields {
        if !fields.contains(f) {
            fields.push(f.clone());
        }
    }
    source.required_fields = fields;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_schema_lists_its_required_fields() {
        let names = names();
        assert_eq!(names.len(), 15, "{names:?}");
        for n in &names {
            let f = required_fields(n).unwrap_or_else(|e| panic!("{e}"));
            assert!(f.contains(&"@timestamp".to_string()), "{n}: {f:?}");
        }
        assert_eq!(
            required_fields("bastion").unwrap(),
            ["@timestamp", "host.name", "event.action", "ssh.key.fingerprint"]
        );
    }

    #[test]
    fn unknown_schema_lists_the_known_ones() {
        let e = required_fields("bastions").unwrap_err().to_string();
        assert!(e.contains("unknown schema `bastions`"), "{e}");
        assert!(e.contains("bastion, cicd-pipeline") && e.contains("web-proxy"), "{e}");
    }

    #[test]
    fn the_schemas_fields_come_first_and_the_sources_own_are_added_once() {
        let mut s: SourceConfig =
            toml::from_str("name = \"b\"\ncategory = \"bastion\"\nschema = \"bastion\"\nrequired_fields = [\"source.ip\", \"host.name\"]\n")
                .unwrap();
        apply(&mut s).unwrap();
        assert_eq!(
            s.required_fields,
            [
                "@timestamp",
                "host.name",
                "event.action",
                "ssh.key.fingerprint",
                "source.ip"
            ]
        );
        let before = s.required_fields.clone();
        apply(&mut s).unwrap();
        assert_eq!(s.required_fields, before, "idempotent");
    }
}

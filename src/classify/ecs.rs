//! The normalized (ECS) view of an event through its source's field mapping.
//!
//! Rules find their fields through a source's `field_map` and
//! `field_prefixes` ([`CompileOptions::paths`]); a profile that maps ECS names
//! (`source.ip` → Zeek's `id.orig_h`) therefore lets rules written with ECS
//! names run on the native shape. The same resolution, applied to the fields
//! of `schemas/event.schema.json`, gives the event as the schemas see it:
//! that is how native-shaped events are checked against a source schema
//! (`tests/schemas.rs`), and how a required ECS field is found in them.
//!
//! Values are copied, never translated: a profile renames, it does not
//! normalise (Okta's `outcome.result` "SUCCESS" stays "SUCCESS").

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::Source;
use crate::alert::TimeSource;
use crate::decode::time::TimeConfig;
use crate::event::ValueRef;
use crate::matcher::compile::CompileOptions;

/// The event as nested ECS JSON holding each of `paths` (dotted ECS field
/// names) that resolves through `source`'s mapping: the first event path
/// present and not null, as [`CompileOptions::paths`] orders them.
///
/// `@timestamp`, when it does not resolve, is the event time read with
/// `time` (the source's time fields, e.g. Zeek's epoch `ts`) as RFC 3339 UTC;
/// an event without a usable time has none.
pub fn ecs_view(source: &Source, time: &TimeConfig, event: ValueRef<'_, '_>, paths: &[&str]) -> Value {
    let opts = CompileOptions {
        field_map: source.field_map.clone(),
        field_prefixes: source.field_prefixes.clone(),
        placeholders: Default::default(),
    };
    let mut out = Map::new();
    for &path in paths {
        let found = opts
            .paths(path)
            .iter()
            .filter_map(|p| event.lookup(p))
            .find(|v| !v.is_null())
            .map(|v| v.to_json());
        let value = match found {
            Some(v) => v,
            None if path == "@timestamp" => match time.extract(event, None) {
                Ok((ns, TimeSource::Event)) => match rfc3339(ns) {
                    Some(s) => Value::String(s),
                    None => continue,
                },
                _ => continue,
            },
            None => continue,
        };
        insert(&mut out, path, value);
    }
    Value::Object(out)
}

fn rfc3339(ns: i128) -> Option<String> {
    OffsetDateTime::from_unix_timestamp_nanos(ns)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

/// Sets `path` (dotted; `@timestamp` is one key) in nested objects. A path
/// whose parent is already a non-object value is left out.
fn insert(out: &mut Map<String, Value>, path: &str, value: Value) {
    let mut parts: Vec<&str> = if path.starts_with('@') {
        vec![path]
    } else {
        path.split('.').collect()
    };
    let Some(last) = parts.pop() else { return };
    let mut here = out;
    for p in parts {
        let next = here.entry(p.to_string()).or_insert_with(|| Value::Object(Map::new()));
        match next {
            Value::Object(m) => here = m,
            _ => return,
        }
    }
    here.insert(last.to_string(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceConfig;
    use crate::decode::JsonDecoder;

    fn source(text: &str) -> Source {
        let mut c: SourceConfig = toml::from_str(text).unwrap();
        crate::config::profile::apply(&mut c).unwrap();
        Source::from_config(&c)
    }

    #[test]
    fn zeek_dns_through_its_profile() {
        let s = source("name = \"z\"\nprofile = \"zeek-dns\"");
        let time = TimeConfig {
            fields: s.time_fields.clone().unwrap_or_default(),
            ..TimeConfig::default()
        };
        let mut d = JsonDecoder::new(1 << 20);
        let ev = d
            .decode(br#"{"ts":1714557600.5,"id.orig_h":"10.0.0.1","query":"a.example","rcode_name":"NXDOMAIN"}"#)
            .unwrap();
        let v = ecs_view(
            &s,
            &time,
            ev.root(),
            &[
                "@timestamp",
                "source.ip",
                "dns.question.name",
                "dns.response_code",
                "host.name",
            ],
        );
        assert_eq!(
            v,
            serde_json::json!({
                "@timestamp": "2024-05-01T10:00:00.5Z",
                "source": {"ip": "10.0.0.1"},
                "dns": {"question": {"name": "a.example"}, "response_code": "NXDOMAIN"}
            })
        );
    }

    #[test]
    fn ecs_events_are_their_own_view_and_raw_timestamps_are_kept() {
        let s = source("name = \"e\"\ncategory = \"dns\"");
        let mut d = JsonDecoder::new(1 << 20);
        let ev = d
            .decode(br#"{"@timestamp":"2024-05-01 10:00:00","source":{"ip":"10.0.0.1"},"x":1}"#)
            .unwrap();
        let v = ecs_view(&s, &TimeConfig::default(), ev.root(), &["@timestamp", "source.ip"]);
        assert_eq!(
            v,
            serde_json::json!({"@timestamp": "2024-05-01 10:00:00", "source": {"ip": "10.0.0.1"}})
        );
    }
}

//! Environment overrides: `TOCSIN_<SECTION>__<KEY>=value` replaces
//! `[section] key` of the config file (`TOCSIN_KAFKA__BROKERS=k1:9092`,
//! `TOCSIN_KAFKA__PROPERTIES__SASL.PASSWORD=…`, `TOCSIN_OUTPUT__ALERTS_TOPIC=…`),
//! the way container platforms inject settings and secrets.
//!
//! Only variables with a `__` are overrides, so `TOCSIN_LOG` and the like
//! stay what they are. Section and key names are matched case-insensitively
//! (variables are conventionally upper case); a value is read as a TOML value
//! when it parses as one (`true`, `5`, `["a", "b"]`) and as a string
//! otherwise. Each override is checked on its own, so an unknown key or a
//! bad value is reported with the variable that carries it.
//!
//! Layered on the parsed TOML table rather than through the `config` crate:
//! that crate reads dots in keys as paths and folds key case, and source
//! `when` / `field_map` keys are event field names such as `winlog.channel`.

use toml::{Table, Value};

/// Prefix of every override variable.
pub const PREFIX: &str = "TOCSIN_";

/// An override from one environment variable.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub var: String,
    pub path: Vec<String>,
    pub value: Value,
}

/// The overrides among `vars`, in a stable order (by variable name).
pub fn overrides(vars: impl IntoIterator<Item = (String, String)>) -> Vec<Override> {
    let mut out: Vec<Override> = vars
        .into_iter()
        .filter_map(|(var, raw)| {
            let rest = var.strip_prefix(PREFIX)?;
            if !rest.contains("__") {
                return None;
            }
            let path = rest.split("__").map(str::to_ascii_lowercase).collect();
            Some(Override {
                value: parse_value(&raw),
                var,
                path,
            })
        })
        .collect();
    out.sort_by(|a, b| a.var.cmp(&b.var));
    out
}

fn parse_value(raw: &str) -> Value {
    let doc = format!("v = {raw}");
    match doc.parse::<Table>() {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| Value::String(raw.to_string())),
        Err(_) => Value::String(raw.to_string()),
    }
}

/// Sets `o.path` in `table`, creating intermediate tables. Errors when the
/// path runs through something that is not a table.
pub fn apply(table: &mut Table, o: &Override) -> Result<(), String> {
    let Some((last, parents)) = o.path.split_last() else {
        return Err("empty key".into());
    };
    let mut t = table;
    for (i, p) in parents.iter().enumerate() {
        let entry = t.entry(p.clone()).or_insert_with(|| Value::Table(Table::new()));
        t = match entry {
            Value::Table(next) => next,
            _ => return Err(format!("`{}` is not a section", o.path[..=i].join("."))),
        };
    }
    t.insert(last.clone(), o.value.clone());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn only_double_underscore_variables_are_overrides() {
        let o = overrides(vars(&[
            ("TOCSIN_LOG", "debug"),
            ("PATH", "/bin"),
            ("TOCSIN_KAFKA__BROKERS", "k:9092"),
            ("TOCSIN_KAFKA__EXACTLY_ONCE", "true"),
            ("TOCSIN_KAFKA__PROPERTIES__SASL.PASSWORD", "p@ss word"),
        ]));
        let got: Vec<(Vec<String>, Value)> = o.into_iter().map(|o| (o.path, o.value)).collect();
        assert_eq!(
            got,
            vec![
                (vec!["kafka".into(), "brokers".into()], Value::String("k:9092".into())),
                (vec!["kafka".into(), "exactly_once".into()], Value::Boolean(true)),
                (
                    vec!["kafka".into(), "properties".into(), "sasl.password".into()],
                    Value::String("p@ss word".into())
                ),
            ]
        );
    }

    #[test]
    fn apply_creates_sections_and_refuses_to_descend_into_values() {
        let mut t: Table = "[kafka]\ngroup_id = \"g\"\n".parse().unwrap();
        let o = &overrides(vars(&[("TOCSIN_OUTPUT__STATE_TOPIC", "st")]))[0];
        apply(&mut t, o).unwrap();
        assert_eq!(t["output"]["state_topic"].as_str(), Some("st"));
        let bad = &overrides(vars(&[("TOCSIN_KAFKA__GROUP_ID__X", "1")]))[0];
        assert_eq!(apply(&mut t, bad), Err("`kafka.group_id` is not a section".into()));
    }
}

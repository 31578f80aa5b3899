//! The `detection` block: search identifiers, their field items and values, and the condition.
//!
//! Shapes accepted for a search identifier (Sigma v2):
//! - a map: one group (AND of its entries);
//! - a list of maps: one group per map (OR of groups);
//! - a list of plain values: keywords, one group with one field-less item.
//!
//! Values are typed as YAML wrote them: quoted scalars are strings; plain ones
//! follow the core schema, keeping their text (`00000429` is the number 429
//! written `00000429`). Strings go through [`SigmaString::parse`] (wildcards and
//! escapes), which also keeps the raw text for `re`, `cidr` and `fieldref`.
//!
//! Every problem is reported at the node that causes it; one bad search
//! identifier does not hide problems in the next one, and the condition is still
//! checked against all identifier names (broken ones included), so a broken
//! identifier does not also produce "unknown identifier" noise.

use super::{condition, modifier, Ctx};
use crate::rules::ast::{Condition, Detection, FieldItem, Group, SearchIdentifier, SigmaString, Value};
use crate::rules::error::RuleErrorKind;
use crate::rules::yaml::{Node, NodeKind, Resolved};

/// Parses the value of the top-level `detection` key (`key` is the key node, for locations).
pub(super) fn parse_detection(ctx: &mut Ctx, key: &Node, node: &Node) -> Option<Detection> {
    let Some(entries) = node.as_map() else {
        ctx.error(
            node,
            RuleErrorKind::InvalidKey {
                key: "detection".into(),
                reason: format!(
                    "must be a map of search identifiers and a `condition`, found {}",
                    node.describe()
                ),
            },
        );
        return None;
    };
    let errors_before = ctx.errors.len();
    let mut names: Vec<&str> = Vec::new();
    let mut identifiers = Vec::new();
    let mut condition_node = None;
    for (k, v) in entries {
        let Some(name) = k.as_scalar() else {
            ctx.error(
                k,
                RuleErrorKind::InvalidKey {
                    key: "detection".into(),
                    reason: format!("search identifier names must be strings, found {}", k.describe()),
                },
            );
            continue;
        };
        if name == "condition" {
            if condition_node.is_some() {
                ctx.error(k, RuleErrorKind::DuplicateKey(name.into()));
            }
            condition_node = Some(v);
            continue;
        }
        if name == "timeframe" {
            ctx.error(
                k,
                RuleErrorKind::Unsupported(
                    "`timeframe` belongs to correlation rules (Sigma v2); move the aggregation to a correlation rule"
                        .into(),
                ),
            );
            continue;
        }
        if names.contains(&name) {
            ctx.error(k, RuleErrorKind::DuplicateKey(name.into()));
            continue;
        }
        names.push(name);
        if let Some(ident) = parse_search_identifier(ctx, name, k, v) {
            identifiers.push(ident);
        }
    }

    let condition = match condition_node {
        None => {
            ctx.error(key, RuleErrorKind::MissingKey("condition".into()));
            None
        }
        Some(c) => parse_conditions(ctx, c, &names),
    };
    if ctx.errors.len() > errors_before {
        return None;
    }
    Some(Detection {
        identifiers,
        condition: condition?,
        location: ctx.loc(key),
    })
}

fn parse_conditions(ctx: &mut Ctx, node: &Node, names: &[&str]) -> Option<Condition> {
    let one = |ctx: &mut Ctx, n: &Node| -> Option<Condition> {
        let text = match (&n.kind, n.resolve()) {
            (_, Some(Resolved::Null)) => {
                ctx.error(n, RuleErrorKind::BadCondition("the condition is empty".into()));
                return None;
            }
            (NodeKind::Scalar { text, .. }, _) => text,
            _ => {
                ctx.error(
                    n,
                    RuleErrorKind::BadCondition(format!(
                        "a condition must be a string or a list of strings, found {}",
                        n.describe()
                    )),
                );
                return None;
            }
        };
        match condition::parse_condition(text, names) {
            Ok(c) => Some(c),
            Err(kind) => {
                ctx.error(n, kind);
                None
            }
        }
    };
    match &node.kind {
        NodeKind::Seq(items) => {
            if items.is_empty() {
                ctx.error(node, RuleErrorKind::BadCondition("the condition list is empty".into()));
                return None;
            }
            let mut out = Vec::new();
            let mut ok = true;
            for item in items {
                match one(ctx, item) {
                    Some(c) => out.push(c),
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            Some(if out.len() == 1 {
                out.remove(0)
            } else {
                Condition::Or(out)
            })
        }
        _ => one(ctx, node),
    }
}

fn invalid_ident(name: &str, reason: impl Into<String>) -> RuleErrorKind {
    RuleErrorKind::InvalidSearchIdentifier {
        name: name.into(),
        reason: reason.into(),
    }
}

fn parse_search_identifier(ctx: &mut Ctx, name: &str, key: &Node, node: &Node) -> Option<SearchIdentifier> {
    let groups = match &node.kind {
        NodeKind::Map(_) => vec![parse_group(ctx, name, node)?],
        NodeKind::Seq(items) => {
            if items.is_empty() {
                ctx.error(node, invalid_ident(name, "is an empty list"));
                return None;
            }
            if let Some(nested) = items.iter().find(|i| i.as_seq().is_some()) {
                ctx.error(
                    nested,
                    invalid_ident(name, "a list inside a search identifier's list is not allowed"),
                );
                return None;
            }
            let maps = items.iter().filter(|i| i.as_map().is_some()).count();
            if maps == items.len() {
                let mut groups = Vec::new();
                for item in items {
                    groups.push(parse_group(ctx, name, item));
                }
                groups.into_iter().collect::<Option<Vec<_>>>()?
            } else if maps > 0 {
                let first_scalar = items.iter().find(|i| i.as_map().is_none()).unwrap_or(node);
                ctx.error(
                    first_scalar,
                    invalid_ident(
                        name,
                        "mixes maps and plain values in one list; put keywords in their own search identifier",
                    ),
                );
                return None;
            } else {
                // Keywords.
                let values = parse_values(ctx, node)?;
                if let Some(i) = values.iter().position(|v| *v == Value::Null) {
                    ctx.error(&items[i], RuleErrorKind::InvalidValue("null is not a keyword".into()));
                    return None;
                }
                vec![Group {
                    items: vec![FieldItem {
                        field: None,
                        modifiers: Vec::new(),
                        values,
                        location: ctx.loc(node),
                    }],
                    location: ctx.loc(node),
                }]
            }
        }
        NodeKind::Scalar { .. } => {
            let found = if node.is_null() {
                "it is empty".to_string()
            } else {
                format!("found {} `{}`", node.describe(), node.as_scalar().unwrap_or_default())
            };
            ctx.error(
                node,
                invalid_ident(name, format!("a search identifier must be a map or a list ({found})")),
            );
            return None;
        }
    };
    Some(SearchIdentifier {
        name: name.into(),
        groups,
        location: ctx.loc(key),
    })
}

/// One map of `field|mods: values` entries (an AND).
fn parse_group(ctx: &mut Ctx, name: &str, node: &Node) -> Option<Group> {
    let entries = node.as_map().unwrap_or_default();
    if entries.is_empty() {
        ctx.error(node, invalid_ident(name, "is an empty map"));
        return None;
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut items = Vec::new();
    let mut ok = true;
    for (k, v) in entries {
        let key_text = match (&k.kind, k.resolve()) {
            // A `~`/`null` key is a keyword item, as in pySigma.
            (_, Some(Resolved::Null)) => "",
            (NodeKind::Scalar { text, .. }, _) => text.as_str(),
            _ => {
                ctx.error(
                    k,
                    invalid_ident(name, format!("field names must be strings, found {}", k.describe())),
                );
                ok = false;
                continue;
            }
        };
        if seen.contains(&key_text) {
            ctx.error(k, RuleErrorKind::DuplicateKey(key_text.into()));
            ok = false;
            continue;
        }
        seen.push(key_text);
        match parse_item(ctx, k, key_text, v) {
            Some(item) => items.push(item),
            None => ok = false,
        }
    }
    ok.then(|| Group {
        items,
        location: ctx.loc(node),
    })
}

fn parse_item(ctx: &mut Ctx, key: &Node, key_text: &str, value: &Node) -> Option<FieldItem> {
    let parsed = match modifier::parse_key(key_text) {
        Ok(k) => k,
        Err(kind) => {
            ctx.error(key, kind);
            return None;
        }
    };
    let values = parse_values(ctx, value)?;
    if let Err((kind, index)) = modifier::validate(parsed.field.as_deref(), &parsed.modifiers, &values) {
        let at = match (&kind, index, value.as_seq()) {
            (RuleErrorKind::InvalidValue(_), Some(i), Some(items)) => items.get(i).unwrap_or(value),
            (RuleErrorKind::InvalidValue(_), _, _) => value,
            _ => key,
        };
        ctx.error(at, kind);
        return None;
    }
    Some(FieldItem {
        field: parsed.field,
        modifiers: parsed.modifiers,
        values,
        location: ctx.loc(key),
    })
}

/// A scalar or a list of scalars; a list is an OR (AND with `all`).
fn parse_values(ctx: &mut Ctx, node: &Node) -> Option<Vec<Value>> {
    match &node.kind {
        NodeKind::Scalar { .. } => Some(vec![scalar_value(node)]),
        NodeKind::Map(_) => {
            ctx.error(
                node,
                RuleErrorKind::InvalidValue(
                    "a map is not a valid value; nested fields are written `parent.child: value`".into(),
                ),
            );
            None
        }
        NodeKind::Seq(items) => {
            if items.is_empty() {
                ctx.error(node, RuleErrorKind::InvalidValue("empty list of values".into()));
                return None;
            }
            let mut values = Vec::with_capacity(items.len());
            for item in items {
                if item.as_scalar().is_none() {
                    ctx.error(
                        item,
                        RuleErrorKind::InvalidValue(format!(
                            "a value list may only hold plain values, found {}",
                            item.describe()
                        )),
                    );
                    return None;
                }
                if item.is_null() && items.len() > 1 {
                    ctx.error(
                        item,
                        RuleErrorKind::InvalidValue(
                            "null inside a value list; use a separate search identifier for the null check".into(),
                        ),
                    );
                    return None;
                }
                values.push(scalar_value(item));
            }
            Some(values)
        }
    }
}

/// Types one scalar (see the module doc).
pub(super) fn scalar_value(node: &Node) -> Value {
    let text = node.as_scalar().unwrap_or_default();
    match node.resolve() {
        Some(Resolved::Null) => Value::Null,
        Some(Resolved::Bool(value)) => Value::Bool {
            text: text.into(),
            value,
        },
        Some(r @ (Resolved::Int(_) | Resolved::Float(_))) => Value::Number {
            text: text.into(),
            value: r.as_f64().unwrap_or(f64::NAN),
        },
        _ => Value::String(SigmaString::parse(text)),
    }
}

//! Correlation rules (Sigma v2, correlation specification): a condition over the
//! hits of other rules, per group of field values, within a timespan.
//!
//! A document with a top-level `correlation` map is a correlation rule:
//!
//! ```yaml
//! title: Many failed logins
//! id: 0e95725d-7320-415d-80f7-004da920fc11
//! correlation:
//!     type: event_count          # value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile
//!     rules: [failed_login]      # ids or names of detection or correlation rules (a string is one rule)
//!     group-by: [User]           # optional: a string or a list; empty = one global group
//!     timespan: 10m              # <int><unit>, unit s, m, h, d or w
//!     condition: {gte: 10}       # gt, gte, lt, lte, eq, neq (AND'ed), `field`, `percentile`
//!     aliases:                   # optional: alias -> (rule -> field)
//!         user: {failed_login: TargetUserName}
//!     generate: false            # optional; also accepted at the top level
//! ```
//!
//! Contract:
//! - The common keys (`title`, `id`, `name`, `level`, …, `tocsin` and custom
//!   keys) are read as for detection rules; `detection` and `logsource` are errors.
//! - Every problem is reported at the node that causes it; a missing key of the
//!   `correlation` map is reported at the `correlation` key.
//! - The condition always has at least one bound and can hold for some value:
//!   `temporal`/`temporal_ordered` without a condition get `gte: <number of rules>`
//!   (every referenced rule seen). Counts (`event_count`, `value_count`, temporal
//!   types) are judged over non-negative integers, temporal counts up to the
//!   number of rules; `value_sum`/`value_avg`/`value_percentile` over the reals.
//! - `condition.field` is required by `value_count` and the `value_*` types and
//!   rejected elsewhere; `condition.percentile` (0–100, the key pySigma reads)
//!   is required by `value_percentile` and rejected elsewhere.
//! - References are only checked for shape here (non-empty, no duplicates);
//!   resolving them, aliases included, is the loader's job (`rules::load::link`).

use super::{invalid, opt_string, parse_extra, parse_meta, Ctx, Keys};
use crate::rules::ast::{Alias, CmpOp, CorrelationCondition, CorrelationRule, CorrelationType, Location, RuleRef};
use crate::rules::error::RuleErrorKind;
use crate::rules::yaml::{resolve_plain, Document, Node, NodeKind, Resolved};

const TYPES: &str = "event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile";

/// Keys of the `correlation` map.
const BODY_KEYS: &[&str] = &[
    "type",
    "rules",
    "group-by",
    "timespan",
    "condition",
    "aliases",
    "generate",
];

const OPERATORS: &str = "gt, gte, lt, lte, eq, neq";

fn parse_type(s: &str) -> Option<CorrelationType> {
    use CorrelationType::*;
    Some(match s {
        "event_count" => EventCount,
        "value_count" => ValueCount,
        "temporal" => Temporal,
        "temporal_ordered" => TemporalOrdered,
        "value_sum" => ValueSum,
        "value_avg" => ValueAvg,
        "value_percentile" => ValuePercentile,
        _ => return None,
    })
}

fn parse_op(s: &str) -> Option<CmpOp> {
    Some(match s {
        "gt" => CmpOp::Gt,
        "gte" => CmpOp::Gte,
        "lt" => CmpOp::Lt,
        "lte" => CmpOp::Lte,
        "eq" => CmpOp::Eq,
        "neq" => CmpOp::Neq,
        _ => return None,
    })
}

fn op_str(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Gt => "gt",
        CmpOp::Gte => "gte",
        CmpOp::Lt => "lt",
        CmpOp::Lte => "lte",
        CmpOp::Eq => "eq",
        CmpOp::Neq => "neq",
    }
}

/// Parses a timespan (`<int><unit>`, unit `s`, `m`, `h`, `d` or `w`) into milliseconds.
pub fn parse_timespan(text: &str) -> Result<u64, String> {
    let unit_ms: u64 = match text.chars().last() {
        Some('s') => 1_000,
        Some('m') => 60_000,
        Some('h') => 3_600_000,
        Some('d') => 86_400_000,
        Some('w') => 604_800_000,
        Some('M' | 'y') if text.len() > 1 && text[..text.len() - 1].bytes().all(|b| b.is_ascii_digit()) => {
            return Err(format!(
                "`{text}`: months and years have no fixed length; use days (`30d`) or weeks (`4w`)"
            ))
        }
        _ if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(format!(
                "`{text}` has no unit; write a number and a unit, e.g. `{text}s` or `{text}m` (units: s, m, h, d, w)"
            ))
        }
        _ => {
            return Err(format!(
                "`{text}` is not a timespan; expected a number and a unit (s, m, h, d, w), e.g. `10m`"
            ))
        }
    };
    let digits = &text[..text.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{text}` is not a timespan; expected a number and a unit (s, m, h, d, w), e.g. `10m`"
        ));
    }
    let count: u64 = digits.parse().map_err(|_| format!("`{text}` is too large"))?;
    if count == 0 {
        return Err(format!("`{text}` must be greater than zero"));
    }
    count
        .checked_mul(unit_ms)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Parses a document whose top-level `correlation` key is `key` with value `node`.
pub(super) fn parse_correlation(
    ctx: &mut Ctx,
    doc: &Document,
    keys: &Keys,
    key: &Node,
    node: &Node,
) -> Option<CorrelationRule> {
    let meta = parse_meta(ctx, &doc.root, keys);
    for name in ["detection", "logsource"] {
        if let Some((k, _)) = keys.get(name) {
            ctx.error(
                k,
                RuleErrorKind::InvalidCorrelation(format!(
                    "a correlation rule cannot have `{name}`: write the detection as its own rule document and list its id or name in `correlation.rules`"
                )),
            );
        }
    }
    let top_generate = keys.get("generate").map(|(k, v)| (k, parse_bool(ctx, "generate", v)));
    let body = parse_body(ctx, key, node);
    let (tocsin, custom) = parse_extra(ctx, keys, &["correlation", "generate", "detection", "logsource"]);

    let body = body?;
    let generate = match (body.generate, top_generate) {
        (Some(Some(inner)), Some((k, Some(top)))) if inner != top => {
            ctx.error(
                k,
                RuleErrorKind::InvalidCorrelation(
                    "`generate` is set both at the top level and inside `correlation`, to different values".into(),
                ),
            );
            return None;
        }
        (Some(inner), _) => inner?,
        (None, Some((_, top))) => top?,
        (None, None) => false,
    };

    Some(CorrelationRule {
        title: meta.title?,
        id: meta.id,
        name: meta.name,
        status: meta.status,
        description: meta.description,
        author: meta.author,
        level: meta.level,
        tags: meta.tags,
        falsepositives: meta.falsepositives,
        kind: body.kind?,
        rules: body.rules?,
        group_by: body.group_by?,
        timespan_ms: body.timespan_ms?,
        condition: body.condition?,
        aliases: body.aliases?,
        generate,
        tocsin,
        custom,
        location: Location {
            file: ctx.file.clone(),
            line: doc.line,
            column: doc.column,
        },
    })
}

/// The parts of the `correlation` map; `None` where the part had errors.
struct Body {
    kind: Option<CorrelationType>,
    rules: Option<Vec<RuleRef>>,
    group_by: Option<Vec<String>>,
    timespan_ms: Option<u64>,
    condition: Option<CorrelationCondition>,
    aliases: Option<Vec<Alias>>,
    /// `None` when absent; `Some(None)` when present but invalid.
    generate: Option<Option<bool>>,
}

fn parse_body(ctx: &mut Ctx, key: &Node, node: &Node) -> Option<Body> {
    let Some(entries) = node.as_map() else {
        ctx.error(
            node,
            invalid(
                "correlation",
                format!(
                    "must be a map with `type`, `rules`, `timespan` and `condition`, found {}",
                    node.describe()
                ),
            ),
        );
        return None;
    };

    let mut fields: Vec<(&str, &Node)> = Vec::new();
    for (k, v) in entries {
        let Some(name) = k.as_scalar().filter(|_| !k.is_null()) else {
            ctx.error(
                k,
                invalid("correlation", format!("keys must be strings, found {}", k.describe())),
            );
            continue;
        };
        if fields.iter().any(|(n, _)| *n == name) {
            ctx.error(k, RuleErrorKind::DuplicateKey(format!("correlation.{name}")));
            continue;
        }
        if !BODY_KEYS.contains(&name) {
            let hint = match name {
                "group_by" | "groupby" | "group" => " (did you mean `group-by`?)",
                "timeframe" | "window" => " (did you mean `timespan`?)",
                "rule" => " (did you mean `rules`?)",
                "alias" => " (did you mean `aliases`?)",
                "field" | "gt" | "gte" | "lt" | "lte" | "eq" | "neq" | "percentile" => {
                    " (it belongs inside `condition`)"
                }
                _ => "",
            };
            ctx.error(
                k,
                invalid(
                    &format!("correlation.{name}"),
                    format!("unknown key{hint}; expected one of {}", BODY_KEYS.join(", ")),
                ),
            );
            continue;
        }
        fields.push((name, v));
    }
    let get = |name: &str| fields.iter().find(|(n, _)| *n == name).map(|&(_, v)| v);

    let kind = match get("type") {
        None => {
            ctx.error(key, RuleErrorKind::MissingKey("correlation.type".into()));
            None
        }
        Some(v) => match v.as_scalar().filter(|_| !v.is_null()) {
            None => {
                ctx.error(
                    v,
                    invalid(
                        "correlation.type",
                        format!("must be one of {TYPES}, found {}", v.describe()),
                    ),
                );
                None
            }
            Some(t) => {
                let kind = parse_type(t);
                if kind.is_none() {
                    let e = if matches!(t, "value_median" | "temporal_extended" | "temporal_ordered_extended") {
                        RuleErrorKind::Unsupported(format!(
                            "correlation type `{t}` is not supported (supported: {TYPES})"
                        ))
                    } else {
                        invalid(
                            "correlation.type",
                            format!("unknown correlation type `{t}`; expected one of {TYPES}"),
                        )
                    };
                    ctx.error(v, e);
                }
                kind
            }
        },
    };

    let rules = match get("rules") {
        None => {
            ctx.error(key, RuleErrorKind::MissingKey("correlation.rules".into()));
            None
        }
        Some(v) => name_list(ctx, "correlation.rules", "rule ids or names", v, false).map(|items| {
            items
                .into_iter()
                .map(|(reference, n)| RuleRef {
                    reference,
                    location: ctx.loc(n),
                })
                .collect()
        }),
    };

    let group_by = match get("group-by") {
        None => Some(Vec::new()),
        Some(v) => name_list(ctx, "correlation.group-by", "field names", v, true)
            .map(|items| items.into_iter().map(|(name, _)| name).collect()),
    };

    let timespan_ms = match get("timespan") {
        None => {
            ctx.error(key, RuleErrorKind::MissingKey("correlation.timespan".into()));
            None
        }
        Some(v) => match opt_string(ctx, "correlation.timespan", v) {
            None if v.is_null() => {
                ctx.error(
                    v,
                    invalid(
                        "correlation.timespan",
                        "is empty; write a number and a unit, e.g. `10m`",
                    ),
                );
                None
            }
            None => None,
            Some(text) => match parse_timespan(&text) {
                Ok(ms) => Some(ms),
                Err(reason) => {
                    ctx.error(v, invalid("correlation.timespan", reason));
                    None
                }
            },
        },
    };

    let condition = parse_condition(ctx, key, get("condition"), kind, rules.as_ref().map(Vec::len));

    let aliases = match get("aliases") {
        None => Some(Vec::new()),
        Some(v) => parse_aliases(ctx, v),
    };

    let generate = get("generate").map(|v| parse_bool(ctx, "correlation.generate", v));

    Some(Body {
        kind,
        rules,
        group_by,
        timespan_ms,
        condition,
        aliases,
        generate,
    })
}

fn parse_bool(ctx: &mut Ctx, key: &str, node: &Node) -> Option<bool> {
    match node.resolve() {
        Some(Resolved::Bool(b)) => Some(b),
        _ => {
            ctx.error(
                node,
                invalid(key, format!("must be `true` or `false`, found {}", node.describe())),
            );
            None
        }
    }
}

/// A non-empty string or a list of them, without duplicates, each with its node.
/// Null is an empty list; `allow_empty` decides whether an empty list is valid.
fn name_list<'a>(
    ctx: &mut Ctx,
    key: &str,
    what: &str,
    node: &'a Node,
    allow_empty: bool,
) -> Option<Vec<(String, &'a Node)>> {
    let items: Vec<&Node> = match &node.kind {
        _ if node.is_null() => Vec::new(),
        NodeKind::Scalar { .. } => vec![node],
        NodeKind::Seq(items) => items.iter().collect(),
        NodeKind::Map(_) => {
            ctx.error(
                node,
                invalid(key, format!("must be a string or a list of {what}, found a map")),
            );
            return None;
        }
    };
    if items.is_empty() && !allow_empty {
        ctx.error(node, invalid(key, format!("must list at least one of the {what}")));
        return None;
    }
    let mut out: Vec<(String, &Node)> = Vec::new();
    let mut ok = true;
    for item in items {
        match item.as_scalar() {
            Some(text) if !item.is_null() && !text.trim().is_empty() => {
                if out.iter().any(|(t, _)| t == text) {
                    ctx.error(item, invalid(key, format!("`{text}` is listed twice")));
                    ok = false;
                } else {
                    out.push((text.to_owned(), item));
                }
            }
            Some(_) if !item.is_null() => {
                ctx.error(item, invalid(key, "list items must not be empty strings"));
                ok = false;
            }
            _ => {
                ctx.error(
                    item,
                    invalid(key, format!("list items must be {what}, found {}", item.describe())),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// A finite number, plain or quoted (`10`, `2.5`, `'10'`).
fn number(node: &Node) -> Option<f64> {
    let text = node.as_scalar()?;
    let resolved = match node.resolve()? {
        Resolved::Str => resolve_plain(text.trim()),
        r => r,
    };
    resolved.as_f64().filter(|f| f.is_finite())
}

fn found(node: &Node) -> String {
    match node.as_scalar() {
        Some(text) if !node.is_null() => format!("{} `{text}`", node.describe()),
        _ => node.describe().to_owned(),
    }
}

fn parse_condition(
    ctx: &mut Ctx,
    key: &Node,
    node: Option<&Node>,
    kind: Option<CorrelationType>,
    n_rules: Option<usize>,
) -> Option<CorrelationCondition> {
    use CorrelationType::*;
    let temporal = matches!(kind, Some(Temporal | TemporalOrdered));
    let Some(node) = node else {
        if temporal {
            // All referenced rules seen within the timespan.
            return Some(CorrelationCondition {
                bounds: vec![(CmpOp::Gte, n_rules? as f64)],
                field: None,
                percentile: None,
                location: ctx.loc(key),
            });
        }
        if kind.is_some() {
            ctx.error(key, RuleErrorKind::MissingKey("correlation.condition".into()));
        }
        return None;
    };
    let entries = match &node.kind {
        NodeKind::Map(entries) => entries,
        NodeKind::Scalar { .. } if temporal && !node.is_null() => {
            ctx.error(
                node,
                RuleErrorKind::Unsupported(
                    "extended correlation conditions (a boolean expression over the rules) are not supported; \
                     use a map such as `gte: 2`, or omit the condition to require every rule"
                        .into(),
                ),
            );
            return None;
        }
        _ => {
            ctx.error(
                node,
                invalid(
                    "correlation.condition",
                    format!(
                        "must be a map of comparisons such as `gte: 10`, found {}",
                        node.describe()
                    ),
                ),
            );
            return None;
        }
    };

    let errors_before = ctx.errors.len();
    let mut seen: Vec<&str> = Vec::new();
    let mut bounds = Vec::new();
    let mut field: Option<(String, &Node)> = None;
    let mut percentile: Option<(f64, &Node)> = None;
    for (k, v) in entries {
        let Some(name) = k.as_scalar().filter(|_| !k.is_null()) else {
            ctx.error(
                k,
                invalid(
                    "correlation.condition",
                    format!("keys must be strings, found {}", k.describe()),
                ),
            );
            continue;
        };
        if seen.contains(&name) {
            ctx.error(k, RuleErrorKind::DuplicateKey(format!("correlation.condition.{name}")));
            continue;
        }
        seen.push(name);
        let full = format!("correlation.condition.{name}");
        if let Some(op) = parse_op(name) {
            match number(v) {
                Some(x) => bounds.push((op, x)),
                None => ctx.error(v, invalid(&full, format!("must be a number, found {}", found(v)))),
            }
            continue;
        }
        match name {
            "field" => match v.as_scalar() {
                Some(text) if !v.is_null() && !text.trim().is_empty() => field = Some((text.to_owned(), k)),
                _ if v.as_seq().is_some() => ctx.error(
                    v,
                    invalid(&full, "must be one field name; a list of fields is not supported"),
                ),
                _ => ctx.error(v, invalid(&full, format!("must be a field name, found {}", found(v)))),
            },
            "percentile" => match number(v) {
                Some(p) if (0.0..=100.0).contains(&p) => percentile = Some((p, k)),
                Some(p) => ctx.error(v, invalid(&full, format!("must be between 0 and 100, found {p}"))),
                None => ctx.error(
                    v,
                    invalid(&full, format!("must be a number between 0 and 100, found {}", found(v))),
                ),
            },
            other => ctx.error(
                k,
                invalid(
                    "correlation.condition",
                    format!("unknown operator `{other}`; expected {OPERATORS}, `field` or `percentile`"),
                ),
            ),
        }
    }
    if ctx.errors.len() > errors_before {
        return None;
    }

    // Checks that depend on the type.
    let kind = kind?;
    let needs_field = matches!(kind, ValueCount | ValueSum | ValueAvg | ValuePercentile);
    match (&field, needs_field) {
        (None, true) => {
            let what = match kind {
                ValueCount => "whose distinct values are counted",
                ValueSum => "whose values are summed",
                ValueAvg => "whose values are averaged",
                _ => "whose values are ranked",
            };
            ctx.error(
                node,
                RuleErrorKind::InvalidCorrelation(format!(
                    "`{}` needs `condition.field`: the field {what}",
                    kind.as_str()
                )),
            );
        }
        (Some((_, k)), false) => {
            let hint = if kind == EventCount {
                "; to count distinct values of a field use `type: value_count`"
            } else {
                ""
            };
            ctx.error(
                k,
                RuleErrorKind::InvalidCorrelation(format!(
                    "`condition.field` is not used by `{}` correlations{hint}",
                    kind.as_str()
                )),
            );
        }
        _ => {}
    }
    match (&percentile, kind == ValuePercentile) {
        (None, true) => ctx.error(
            node,
            RuleErrorKind::InvalidCorrelation(
                "`value_percentile` needs `condition.percentile`: the percentile (0-100) of `field` to compare".into(),
            ),
        ),
        (Some((_, k)), false) => ctx.error(
            k,
            RuleErrorKind::InvalidCorrelation(format!(
                "`condition.percentile` is only used by `value_percentile` correlations, not `{}`",
                kind.as_str()
            )),
        ),
        _ => {}
    }
    if bounds.is_empty() {
        ctx.error(
            node,
            RuleErrorKind::InvalidCorrelation(format!("the condition needs at least one comparison ({OPERATORS})")),
        );
    } else {
        let domain = match kind {
            EventCount | ValueCount => Domain::Counts { max: None },
            Temporal | TemporalOrdered => Domain::Counts {
                max: n_rules.map(|n| n as f64),
            },
            ValueSum | ValueAvg | ValuePercentile => Domain::Reals,
        };
        if !satisfiable(&bounds, domain) {
            let written: Vec<String> = bounds.iter().map(|&(op, b)| format!("{}: {b}", op_str(op))).collect();
            let why = match domain {
                Domain::Counts { max: Some(max) } => {
                    format!(" for a count of distinct rules between 0 and {max}")
                }
                Domain::Counts { max: None } => " for a count (a whole number, 0 or more)".to_owned(),
                Domain::Reals => String::new(),
            };
            ctx.error(
                node,
                RuleErrorKind::InvalidCorrelation(format!(
                    "the condition `{}` can never hold{why}",
                    written.join(", ")
                )),
            );
        }
    }
    if ctx.errors.len() > errors_before {
        return None;
    }
    Some(CorrelationCondition {
        bounds,
        field: field.map(|(f, _)| f),
        percentile: percentile.map(|(p, _)| p),
        location: ctx.loc(node),
    })
}

/// The values a correlation's measured quantity can take.
#[derive(Clone, Copy, Debug)]
enum Domain {
    /// Whole numbers from 0 to `max` (unbounded when `None`).
    Counts {
        max: Option<f64>,
    },
    Reals,
}

/// Whether some value of `domain` satisfies every bound.
fn satisfiable(bounds: &[(CmpOp, f64)], domain: Domain) -> bool {
    let neq: Vec<f64> = bounds
        .iter()
        .filter(|(op, _)| *op == CmpOp::Neq)
        .map(|&(_, b)| b)
        .collect();
    match domain {
        Domain::Counts { max } => {
            let (mut lo, mut hi) = (0f64, max.unwrap_or(f64::INFINITY));
            for &(op, b) in bounds {
                match op {
                    CmpOp::Gt => lo = lo.max(b.floor() + 1.0),
                    CmpOp::Gte => lo = lo.max(b.ceil()),
                    CmpOp::Lt => hi = hi.min(b.ceil() - 1.0),
                    CmpOp::Lte => hi = hi.min(b.floor()),
                    CmpOp::Eq if b.fract() != 0.0 => return false,
                    CmpOp::Eq => (lo, hi) = (lo.max(b), hi.min(b)),
                    CmpOp::Neq => {}
                }
            }
            if lo > hi {
                return false;
            }
            if hi.is_infinite() {
                return true;
            }
            let mut excluded: Vec<f64> = neq
                .into_iter()
                .filter(|v| v.fract() == 0.0 && (lo..=hi).contains(v))
                .collect();
            excluded.sort_by(f64::total_cmp);
            excluded.dedup();
            (excluded.len() as f64) < hi - lo + 1.0
        }
        Domain::Reals => {
            // (value, inclusive)
            let (mut lo, mut hi) = ((f64::NEG_INFINITY, false), (f64::INFINITY, false));
            fn raise(b: f64, incl: bool, lo: &mut (f64, bool)) {
                if b > lo.0 || (b == lo.0 && !incl) {
                    *lo = (b, incl);
                }
            }
            for &(op, b) in bounds {
                match op {
                    CmpOp::Gt => raise(b, false, &mut lo),
                    CmpOp::Gte => raise(b, true, &mut lo),
                    CmpOp::Lt | CmpOp::Lte => {
                        let incl = op == CmpOp::Lte;
                        if b < hi.0 || (b == hi.0 && !incl) {
                            hi = (b, incl);
                        }
                    }
                    CmpOp::Eq => {
                        raise(b, true, &mut lo);
                        if b < hi.0 {
                            hi = (b, true);
                        }
                    }
                    CmpOp::Neq => {}
                }
            }
            if lo.0 < hi.0 {
                true
            } else {
                lo.0 == hi.0 && lo.1 && hi.1 && !neq.contains(&lo.0)
            }
        }
    }
}

fn parse_aliases(ctx: &mut Ctx, node: &Node) -> Option<Vec<Alias>> {
    if node.is_null() {
        return Some(Vec::new());
    }
    let Some(entries) = node.as_map() else {
        ctx.error(
            node,
            invalid(
                "correlation.aliases",
                format!(
                    "must be a map of alias names to maps of rule → field, found {}",
                    node.describe()
                ),
            ),
        );
        return None;
    };
    let errors_before = ctx.errors.len();
    let mut out: Vec<Alias> = Vec::new();
    for (k, v) in entries {
        let Some(name) = k.as_scalar().filter(|t| !k.is_null() && !t.trim().is_empty()) else {
            ctx.error(
                k,
                invalid(
                    "correlation.aliases",
                    format!("alias names must be strings, found {}", found(k)),
                ),
            );
            continue;
        };
        if out.iter().any(|a| a.name == name) {
            ctx.error(k, RuleErrorKind::DuplicateKey(format!("correlation.aliases.{name}")));
            continue;
        }
        let full = format!("correlation.aliases.{name}");
        let mapping = match v.as_map() {
            Some(m) if !m.is_empty() => m,
            _ => {
                ctx.error(
                    v,
                    invalid(
                        &full,
                        format!(
                            "must map each referenced rule (id or name) to its field, found {}",
                            if v.as_map().is_some() {
                                "an empty map"
                            } else {
                                v.describe()
                            }
                        ),
                    ),
                );
                continue;
            }
        };
        let mut fields: Vec<(String, String)> = Vec::new();
        for (rk, rv) in mapping {
            let Some(rule) = rk.as_scalar().filter(|t| !rk.is_null() && !t.trim().is_empty()) else {
                ctx.error(
                    rk,
                    invalid(&full, format!("keys must be rule ids or names, found {}", found(rk))),
                );
                continue;
            };
            if fields.iter().any(|(r, _)| r == rule) {
                ctx.error(rk, RuleErrorKind::DuplicateKey(format!("{full}.{rule}")));
                continue;
            }
            match rv.as_scalar() {
                Some(f) if !rv.is_null() && !f.trim().is_empty() => fields.push((rule.to_owned(), f.to_owned())),
                _ => ctx.error(
                    rv,
                    invalid(
                        &format!("{full}.{rule}"),
                        format!("must be a field name, found {}", found(rv)),
                    ),
                ),
            }
        }
        out.push(Alias {
            name: name.to_owned(),
            fields,
            location: ctx.loc(k),
        });
    }
    (ctx.errors.len() == errors_before).then_some(out)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;
    use crate::rules::ast::Level;
    use crate::rules::parse::{parse_file, ParsedFile};

    fn parse(text: &str) -> ParsedFile {
        parse_file(text, Arc::new(PathBuf::from("corr.yml")))
    }

    fn corr(text: &str) -> CorrelationRule {
        let mut p = parse(text);
        assert!(p.errors.is_empty(), "unexpected errors: {:#?}", p.errors);
        assert!(p.rules.is_empty());
        assert_eq!(p.correlations.len(), 1);
        p.correlations.remove(0)
    }

    /// The single error of `text`: its kind and line.
    fn error(text: &str) -> (RuleErrorKind, usize) {
        let p = parse(text);
        assert!(
            p.correlations.is_empty(),
            "expected no correlation: {:#?}",
            p.correlations
        );
        assert_eq!(p.errors.len(), 1, "{:#?}", p.errors);
        (p.errors[0].kind.clone(), p.errors[0].location.line)
    }

    /// A correlation document; `body` is the `correlation` map, indented by 4, starting at line 4.
    fn doc(body: &str) -> String {
        format!("title: C\nid: c1\ncorrelation:\n{body}")
    }

    const EVENT_COUNT: &str =
        "    type: event_count\n    rules: [r1]\n    group-by: [User]\n    timespan: 10m\n    condition:\n        gte: 5\n";

    fn invalid_key(kind: &RuleErrorKind) -> (&str, &str) {
        match kind {
            RuleErrorKind::InvalidKey { key, reason } => (key, reason),
            other => panic!("not InvalidKey: {other:?}"),
        }
    }

    fn invalid_corr(kind: &RuleErrorKind) -> &str {
        match kind {
            RuleErrorKind::InvalidCorrelation(m) => m,
            other => panic!("not InvalidCorrelation: {other:?}"),
        }
    }

    #[test]
    fn event_count_full() {
        let text = "title: Many failed logins\nid: c-1\nname: many_failed\nstatus: test\ndescription: d\n\
                    author: me\nlevel: high\ntags: [attack.t1110]\nfalsepositives: Admins\ndate: 2024-01-01\n\
                    tocsin: {suppress: 30m}\ncorrelation:\n    type: event_count\n    rules:\n        - r1\n        - r2\n\
                    \x20   group-by:\n        - User\n        - Host\n    timespan: 1h\n    condition:\n        gt: 3\n        lte: 6\n";
        let c = corr(text);
        assert_eq!(c.title, "Many failed logins");
        assert_eq!((c.id.as_deref(), c.name.as_deref()), (Some("c-1"), Some("many_failed")));
        assert_eq!(c.key(), "c-1");
        assert_eq!(c.level, Some(Level::High));
        assert_eq!(c.tags, ["attack.t1110"]);
        assert_eq!(c.falsepositives, ["Admins"]);
        assert_eq!(c.kind, CorrelationType::EventCount);
        let refs: Vec<_> = c
            .rules
            .iter()
            .map(|r| (r.reference.as_str(), r.location.line))
            .collect();
        assert_eq!(refs, [("r1", 15), ("r2", 16)]);
        assert_eq!(c.rules[0].location.column, 11);
        assert_eq!(c.group_by, ["User", "Host"]);
        assert_eq!(c.timespan_ms, 3_600_000);
        assert_eq!(c.condition.bounds, [(CmpOp::Gt, 3.0), (CmpOp::Lte, 6.0)]);
        assert_eq!(c.condition.field, None);
        assert_eq!(c.condition.location.line, 22);
        assert!(c.condition.holds(4.0) && !c.condition.holds(3.0) && !c.condition.holds(7.0));
        assert!(!c.generate);
        assert_eq!(c.tocsin, Some(serde_json::json!({"suppress": "30m"})));
        assert_eq!(c.custom.get("date"), Some(&serde_json::json!("2024-01-01")));
        assert_eq!((c.location.line, c.location.column), (1, 1));
    }

    #[test]
    fn every_type() {
        let c = corr(&doc(
            "    type: value_count\n    rules: r1\n    timespan: 1d\n    condition: {field: User, gte: 100}\n",
        ));
        assert_eq!(c.kind, CorrelationType::ValueCount);
        assert_eq!(c.rules.len(), 1);
        assert!(c.group_by.is_empty());
        assert_eq!(c.condition.field.as_deref(), Some("User"));

        // Temporal without a condition: every referenced rule.
        for (t, kind) in [
            ("temporal", CorrelationType::Temporal),
            ("temporal_ordered", CorrelationType::TemporalOrdered),
        ] {
            let c = corr(&doc(&format!(
                "    type: {t}\n    rules: [a, b, c]\n    group-by: User\n    timespan: 5m\n"
            )));
            assert_eq!(c.kind, kind);
            assert_eq!(c.group_by, ["User"]);
            assert_eq!(c.condition.bounds, [(CmpOp::Gte, 3.0)]);
            assert_eq!(c.condition.location.line, 3);
            let refs: Vec<_> = c.rules.iter().map(|r| r.reference.as_str()).collect();
            assert_eq!(refs, ["a", "b", "c"]);
        }
        // ... or with one.
        let c = corr(&doc(
            "    type: temporal\n    rules: [a, b, c]\n    timespan: 5m\n    condition: {gte: 2}\n",
        ));
        assert_eq!(c.condition.bounds, [(CmpOp::Gte, 2.0)]);

        for (t, kind) in [
            ("value_sum", CorrelationType::ValueSum),
            ("value_avg", CorrelationType::ValueAvg),
        ] {
            let c = corr(&doc(&format!(
                "    type: {t}\n    rules: [r]\n    timespan: 30s\n    condition: {{field: bytes, gt: 0.5}}\n"
            )));
            assert_eq!(c.kind, kind);
            assert_eq!(c.condition.bounds, [(CmpOp::Gt, 0.5)]);
            assert_eq!(c.condition.field.as_deref(), Some("bytes"));
        }

        let c = corr(&doc(
            "    type: value_percentile\n    rules: [r]\n    timespan: 1h\n    condition: {field: ms, percentile: 95, gte: 2000}\n",
        ));
        assert_eq!(c.kind, CorrelationType::ValuePercentile);
        assert_eq!(c.condition.percentile, Some(95.0));
        assert_eq!(c.condition.bounds, [(CmpOp::Gte, 2000.0)]);
    }

    #[test]
    fn timespan_units() {
        for (text, ms) in [
            ("30s", 30_000),
            ("10m", 600_000),
            ("90m", 5_400_000),
            ("1h", 3_600_000),
            ("2d", 172_800_000),
            ("1w", 604_800_000),
        ] {
            assert_eq!(parse_timespan(text), Ok(ms), "{text}");
            let c = corr(&doc(&EVENT_COUNT.replace("10m", text)));
            assert_eq!(c.timespan_ms, ms);
        }
        for (text, reason) in [
            ("", "not a timespan"),
            ("10", "has no unit"),
            ("1M", "months and years"),
            ("1y", "months and years"),
            ("0m", "greater than zero"),
            ("m", "not a timespan"),
            ("10x", "not a timespan"),
            ("1H", "not a timespan"),
            ("-5m", "not a timespan"),
            ("1.5h", "not a timespan"),
            ("10 m", "not a timespan"),
            ("99999999999999999999s", "too large"),
            ("9999999999999999w", "too large"),
        ] {
            let e = parse_timespan(text).unwrap_err();
            assert!(e.contains(reason), "{text}: {e}");
        }
        // In a rule: at the value.
        let (kind, line) = error(&doc(&EVENT_COUNT.replace("10m", "10")));
        let (key, reason) = invalid_key(&kind);
        assert_eq!(key, "correlation.timespan");
        assert!(reason.contains("no unit"), "{reason}");
        assert_eq!(line, 7);
        let (kind, line) = error(&doc(&EVENT_COUNT.replace("10m", "")));
        assert_eq!(invalid_key(&kind).0, "correlation.timespan");
        assert_eq!(line, 7);
    }

    #[test]
    fn generate_inside_or_top_level() {
        let c = corr(&doc(&format!("{EVENT_COUNT}    generate: true\n")));
        assert!(c.generate);
        let c = corr(&format!("generate: true\n{}", doc(EVENT_COUNT)));
        assert!(c.generate);
        assert!(!c.custom.contains_key("generate"));
        let c = corr(&format!("generate: true\n{}    generate: true\n", doc(EVENT_COUNT)));
        assert!(c.generate);
        let (kind, line) = error(&format!("generate: false\n{}    generate: true\n", doc(EVENT_COUNT)));
        assert!(invalid_corr(&kind).contains("different values"));
        assert_eq!(line, 1);
        let (kind, line) = error(&doc(&format!("{EVENT_COUNT}    generate: yes\n")));
        assert_eq!(invalid_key(&kind).0, "correlation.generate");
        assert_eq!(line, 10);
    }

    #[test]
    fn missing_keys_point_at_correlation() {
        let (kind, line) = error(&doc(&EVENT_COUNT.replace("    type: event_count\n", "")));
        assert_eq!(kind, RuleErrorKind::MissingKey("correlation.type".into()));
        assert_eq!(line, 3);
        let (kind, line) = error(&doc(&EVENT_COUNT.replace("    rules: [r1]\n", "")));
        assert_eq!(kind, RuleErrorKind::MissingKey("correlation.rules".into()));
        assert_eq!(line, 3);
        let (kind, line) = error(&doc(&EVENT_COUNT.replace("    timespan: 10m\n", "")));
        assert_eq!(kind, RuleErrorKind::MissingKey("correlation.timespan".into()));
        assert_eq!(line, 3);
        let (kind, line) = error(&doc(&EVENT_COUNT.replace("    condition:\n        gte: 5\n", "")));
        assert_eq!(kind, RuleErrorKind::MissingKey("correlation.condition".into()));
        assert_eq!(line, 3);
        let (kind, line) = error(&doc(EVENT_COUNT).replace("title: C\n", ""));
        assert_eq!(kind, RuleErrorKind::MissingKey("title".into()));
        assert_eq!(line, 1);

        // Everything missing at once: every problem reported, named by the rule's id.
        let p = parse("title: C\nid: c1\ncorrelation: {}\n");
        let kinds: Vec<_> = p.errors.iter().map(|e| e.kind.to_string()).collect();
        // (Without a type, whether a condition is required is unknown.)
        assert_eq!(kinds.len(), 3, "{kinds:#?}");
        assert!(p.errors.iter().all(|e| e.rule.as_deref() == Some("c1")));
        let (kind, line) = error("title: C\ncorrelation: [a]\n");
        assert_eq!(invalid_key(&kind).0, "correlation");
        assert_eq!(line, 2);
    }

    #[test]
    fn bad_type() {
        let (kind, line) = error(&doc(&EVENT_COUNT.replace("event_count", "event_cnt")));
        let (key, reason) = invalid_key(&kind);
        assert_eq!(key, "correlation.type");
        assert!(reason.contains("unknown correlation type `event_cnt`"), "{reason}");
        assert_eq!(line, 4);
        let (kind, line) = error(&doc(&EVENT_COUNT.replace("event_count", "value_median")));
        assert!(
            matches!(&kind, RuleErrorKind::Unsupported(m) if m.contains("value_median")),
            "{kind:?}"
        );
        assert_eq!(line, 4);
        let (kind, _) = error(&doc(&EVENT_COUNT.replace("event_count", "[event_count]")));
        assert_eq!(invalid_key(&kind).0, "correlation.type");
    }

    #[test]
    fn bad_rules_and_group_by() {
        let (kind, line) = error(&doc(&EVENT_COUNT.replace("[r1]", "[]")));
        assert!(invalid_key(&kind).1.contains("at least one"));
        assert_eq!(line, 5);
        let (kind, line) = error(&doc(&EVENT_COUNT.replace("[r1]", "[r1, r2, r1]")));
        assert_eq!(invalid_key(&kind), ("correlation.rules", "`r1` is listed twice"));
        assert_eq!(line, 5);
        let (kind, line) = error(&doc(
            &EVENT_COUNT.replace("    rules: [r1]\n", "    rules:\n        - r1\n        - ~\n")
        ));
        assert!(invalid_key(&kind).1.contains("found null"), "{kind:?}");
        assert_eq!(line, 7);
        let (kind, _) = error(&doc(&EVENT_COUNT.replace("[r1]", "{r1: x}")));
        assert!(invalid_key(&kind).1.contains("found a map"));
        let (kind, line) = error(&doc(&EVENT_COUNT.replace("[User]", "[User, User]")));
        assert_eq!(invalid_key(&kind), ("correlation.group-by", "`User` is listed twice"));
        assert_eq!(line, 6);
        let (kind, line) = error(&doc(&EVENT_COUNT.replace("[User]", "[[User]]")));
        assert_eq!(invalid_key(&kind).0, "correlation.group-by");
        assert_eq!(line, 6);
        // `group-by: ~` is no grouping.
        assert!(corr(&doc(&EVENT_COUNT.replace("[User]", "~"))).group_by.is_empty());
    }

    #[test]
    fn unknown_and_duplicate_keys() {
        let (kind, line) = error(&doc(&EVENT_COUNT.replace("group-by", "group_by")));
        let (key, reason) = invalid_key(&kind);
        assert_eq!(key, "correlation.group_by");
        assert!(reason.contains("did you mean `group-by`?"), "{reason}");
        assert_eq!(line, 6);
        let (kind, line) = error(&doc(&format!("{EVENT_COUNT}    timeframe: 5m\n")));
        assert!(invalid_key(&kind).1.contains("`timespan`"));
        assert_eq!(line, 10);
        let (kind, line) = error(&doc(&format!("{EVENT_COUNT}    field: x\n")));
        assert!(invalid_key(&kind).1.contains("inside `condition`"));
        assert_eq!(line, 10);
        let (kind, line) = error(&doc(&format!("{EVENT_COUNT}    timespan: 5m\n")));
        assert_eq!(kind, RuleErrorKind::DuplicateKey("correlation.timespan".into()));
        assert_eq!(line, 10);
    }

    #[test]
    fn detection_or_logsource_in_a_correlation() {
        let (kind, line) = error(&format!(
            "{}detection:\n    sel: {{a: 1}}\n    condition: sel\n",
            doc(EVENT_COUNT)
        ));
        assert!(invalid_corr(&kind).contains("cannot have `detection`"));
        assert_eq!(line, 10);
        let (kind, line) = error(&format!("{}logsource: {{product: windows}}\n", doc(EVENT_COUNT)));
        assert!(invalid_corr(&kind).contains("cannot have `logsource`"));
        assert_eq!(line, 10);
    }

    #[test]
    fn condition_errors() {
        // Unknown operator, at its key.
        let (kind, line) = error(&doc(&EVENT_COUNT.replace("gte: 5", "ge: 5")));
        let (key, reason) = invalid_key(&kind);
        assert_eq!(key, "correlation.condition");
        assert!(reason.contains("unknown operator `ge`"), "{reason}");
        assert_eq!((line, 9), (9, 9));
        // Non-numeric bound, at its value.
        let (kind, line) = error(&doc(&EVENT_COUNT.replace("gte: 5", "gte: many")));
        assert_eq!(
            invalid_key(&kind),
            ("correlation.condition.gte", "must be a number, found a string `many`")
        );
        assert_eq!(line, 9);
        let (kind, _) = error(&doc(&EVENT_COUNT.replace("gte: 5", "gte: .inf")));
        assert_eq!(invalid_key(&kind).0, "correlation.condition.gte");
        let (kind, _) = error(&doc(&EVENT_COUNT.replace("gte: 5", "gte: [5]")));
        assert_eq!(invalid_key(&kind).0, "correlation.condition.gte");
        // Quoted numbers are numbers.
        assert_eq!(
            corr(&doc(&EVENT_COUNT.replace("gte: 5", "gte: '5'"))).condition.bounds,
            [(CmpOp::Gte, 5.0)]
        );
        // Duplicate operator.
        let (kind, line) = error(&doc(&EVENT_COUNT.replace("gte: 5", "gte: 5\n        gte: 6")));
        assert_eq!(kind, RuleErrorKind::DuplicateKey("correlation.condition.gte".into()));
        assert_eq!(line, 10);
        // Not a map.
        let (kind, line) = error(&doc(
            &EVENT_COUNT.replace("    condition:\n        gte: 5\n", "    condition: 5\n")
        ));
        assert_eq!(invalid_key(&kind).0, "correlation.condition");
        assert_eq!(line, 8);
        // No bound.
        let (kind, line) = error(&doc(
            &EVENT_COUNT.replace("    condition:\n        gte: 5\n", "    condition: {}\n")
        ));
        assert!(invalid_corr(&kind).contains("at least one comparison"));
        assert_eq!(line, 8);
        let (kind, line) = error(&doc(
            "    type: value_count\n    rules: r\n    timespan: 1h\n    condition:\n        field: User\n",
        ));
        assert!(invalid_corr(&kind).contains("at least one comparison"));
        assert_eq!(line, 8);
        // Extended (string) conditions of temporal rules.
        let (kind, line) = error(&doc(
            "    type: temporal\n    rules: [a, b]\n    timespan: 1h\n    condition: a and b\n",
        ));
        assert!(matches!(kind, RuleErrorKind::Unsupported(_)), "{kind:?}");
        assert_eq!(line, 7);
    }

    #[test]
    fn contradictory_conditions() {
        for (cond, line) in [
            ("{gt: 5, lt: 3}", 8),
            ("{gt: 3, lt: 4}", 8),
            ("{lt: 0}", 8),
            ("{eq: 2.5}", 8),
            ("{eq: 2, neq: 2}", 8),
            ("{gte: 2, lte: 3, neq: 2, neq: 3}", 0),
        ] {
            let text =
                doc(&EVENT_COUNT.replace("    condition:\n        gte: 5\n", &format!("    condition: {cond}\n")));
            let p = parse(&text);
            assert!(p.correlations.is_empty(), "{cond}");
            if line == 0 {
                // Duplicate `neq` is a duplicate key.
                assert!(matches!(p.errors[0].kind, RuleErrorKind::DuplicateKey(_)));
                continue;
            }
            assert_eq!(p.errors.len(), 1, "{cond}: {:#?}", p.errors);
            let m = invalid_corr(&p.errors[0].kind);
            assert!(m.contains("can never hold"), "{cond}: {m}");
            assert_eq!(p.errors[0].location.line, line);
        }
        // Temporal: at most as many distinct rules as are listed.
        let (kind, line) = error(&doc(
            "    type: temporal\n    rules: [a, b, c]\n    timespan: 1h\n    condition: {gte: 4}\n",
        ));
        assert!(invalid_corr(&kind).contains("between 0 and 3"), "{kind:?}");
        assert_eq!(line, 7);
        // Satisfiable ones.
        for cond in [
            "{gt: 3, lte: 4}",
            "{eq: 0}",
            "{neq: 0}",
            "{gte: 2.5, lt: 3.5}",
            "{gt: 1, gte: 1}",
        ] {
            corr(&doc(&EVENT_COUNT.replace(
                "    condition:\n        gte: 5\n",
                &format!("    condition: {cond}\n"),
            )));
        }
        // Reals for value_* types.
        let avg = |cond: &str| {
            doc(&format!(
                "    type: value_avg\n    rules: r\n    timespan: 1h\n    condition: {{field: f, {cond}}}\n"
            ))
        };
        corr(&avg("gt: 3, lt: 4"));
        corr(&avg("gt: -1.5"));
        corr(&avg("eq: 2.5"));
        let (kind, _) = error(&avg("gt: 3, lt: 3"));
        assert!(invalid_corr(&kind).contains("can never hold"));
        let (kind, _) = error(&avg("gte: 3, lte: 3, neq: 3"));
        assert!(invalid_corr(&kind).contains("can never hold"));
    }

    #[test]
    fn satisfiability() {
        use CmpOp::*;
        let counts = Domain::Counts { max: None };
        assert!(satisfiable(&[(Gte, 1.0)], counts));
        assert!(satisfiable(&[(Neq, 0.0)], counts));
        assert!(!satisfiable(&[(Lt, 1.0), (Neq, 0.0)], counts));
        assert!(satisfiable(&[(Lte, 2.0), (Neq, 0.0), (Neq, 1.0)], counts));
        assert!(!satisfiable(&[(Lte, 2.0), (Neq, 0.0), (Neq, 1.0), (Neq, 2.0)], counts));
        assert!(satisfiable(&[(Eq, 3.0)], Domain::Counts { max: Some(3.0) }));
        assert!(!satisfiable(&[(Gt, 3.0)], Domain::Counts { max: Some(3.0) }));
        assert!(satisfiable(&[(Lt, 0.0)], Domain::Reals));
        assert!(satisfiable(&[(Gte, 1.0), (Lte, 1.0)], Domain::Reals));
        assert!(!satisfiable(&[(Gt, 1.0), (Lte, 1.0)], Domain::Reals));
        assert!(!satisfiable(&[(Eq, 1.0), (Eq, 2.0)], Domain::Reals));
    }

    #[test]
    fn field_and_percentile_by_type() {
        let (kind, line) = error(&doc(&EVENT_COUNT.replace("gte: 5", "gte: 5\n        field: User")));
        let m = invalid_corr(&kind);
        assert!(
            m.contains("not used by `event_count`") && m.contains("value_count"),
            "{m}"
        );
        assert_eq!(line, 10);
        for t in ["value_count", "value_sum", "value_avg"] {
            let (kind, line) = error(&doc(&EVENT_COUNT.replace("event_count", t)));
            assert!(
                invalid_corr(&kind).contains(&format!("`{t}` needs `condition.field`")),
                "{kind:?}"
            );
            assert_eq!(line, 9);
        }
        let (kind, _) = error(&doc(
            "    type: temporal\n    rules: [a, b]\n    timespan: 1h\n    condition: {gte: 2, field: x}\n",
        ));
        assert!(invalid_corr(&kind).contains("not used by `temporal`"));
        let (kind, line) = error(&doc(
            "    type: value_count\n    rules: r\n    timespan: 1h\n    condition:\n        field: [a, b]\n        gt: 1\n",
        ));
        assert!(invalid_key(&kind).1.contains("a list of fields is not supported"));
        assert_eq!(line, 8);

        let pct = |cond: &str| {
            doc(&format!(
                "    type: value_percentile\n    rules: r\n    timespan: 1h\n    condition:\n        field: f\n{cond}"
            ))
        };
        let (kind, line) = error(&pct("        gt: 1\n"));
        assert!(invalid_corr(&kind).contains("needs `condition.percentile`"));
        assert_eq!(line, 8);
        let (kind, line) = error(&pct("        gt: 1\n        percentile: 101\n"));
        assert_eq!(
            invalid_key(&kind),
            (
                "correlation.condition.percentile",
                "must be between 0 and 100, found 101"
            )
        );
        assert_eq!(line, 10);
        let (kind, _) = error(&pct("        gt: 1\n        percentile: -1\n"));
        assert!(invalid_key(&kind).1.contains("between 0 and 100"));
        let (kind, _) = error(&pct("        gt: 1\n        percentile: p95\n"));
        assert!(invalid_key(&kind).1.contains("must be a number"));
        assert_eq!(
            corr(&pct("        gt: 1\n        percentile: 0\n"))
                .condition
                .percentile,
            Some(0.0)
        );
        assert_eq!(
            corr(&pct("        gt: 1\n        percentile: 100\n"))
                .condition
                .percentile,
            Some(100.0)
        );
        let (kind, line) = error(&doc(&EVENT_COUNT.replace("gte: 5", "gte: 5\n        percentile: 50")));
        assert!(invalid_corr(&kind).contains("only used by `value_percentile`"));
        assert_eq!(line, 10);
    }

    #[test]
    fn aliases() {
        let c = corr(&doc(
            "    type: temporal\n    rules: [internal_error, new_network_connection]\n    group-by: [internal_ip]\n\
             \x20   timespan: 10s\n    aliases:\n        internal_ip:\n            internal_error: destination.ip\n\
             \x20           new_network_connection: source.ip\n",
        ));
        assert_eq!(c.aliases.len(), 1);
        let a = &c.aliases[0];
        assert_eq!(a.name, "internal_ip");
        assert_eq!(a.location.line, 9);
        assert_eq!(
            a.fields,
            [
                ("internal_error".to_string(), "destination.ip".to_string()),
                ("new_network_connection".to_string(), "source.ip".to_string())
            ]
        );
        let base = "    type: temporal\n    rules: [a, b]\n    timespan: 10s\n    aliases:\n";
        let (kind, line) = error(&doc(&format!("{base}        ip: a\n")));
        assert_eq!(invalid_key(&kind).0, "correlation.aliases.ip");
        assert_eq!(line, 8);
        let (kind, line) = error(&doc(&format!("{base}        ip: {{}}\n")));
        assert!(invalid_key(&kind).1.contains("empty map"));
        assert_eq!(line, 8);
        let (kind, line) = error(&doc(&format!(
            "{base}        ip:\n            a: x\n            a: y\n"
        )));
        assert_eq!(kind, RuleErrorKind::DuplicateKey("correlation.aliases.ip.a".into()));
        assert_eq!(line, 10);
        let (kind, line) = error(&doc(&format!("{base}        ip:\n            a: [x]\n")));
        assert_eq!(invalid_key(&kind).0, "correlation.aliases.ip.a");
        assert_eq!(line, 9);
        let (kind, line) = error(&doc(&format!("{base}        ip: {{a: x}}\n        ip: {{b: y}}\n")));
        assert_eq!(kind, RuleErrorKind::DuplicateKey("correlation.aliases.ip".into()));
        assert_eq!(line, 9);
        let (kind, _) = error(&doc(&format!("{base}        - x\n")));
        assert_eq!(invalid_key(&kind).0, "correlation.aliases");
    }

    #[test]
    fn mixed_file() {
        let text = format!(
            "title: R\nid: r1\nlogsource: {{product: windows}}\ndetection:\n    sel: {{a: 1}}\n    condition: sel\n---\n{}",
            doc(EVENT_COUNT)
        );
        let p = parse(&text);
        assert!(p.errors.is_empty(), "{:#?}", p.errors);
        assert_eq!((p.rules.len(), p.correlations.len()), (1, 1));
        assert_eq!(p.correlations[0].location.line, 7);
        assert_eq!(p.correlations[0].rules[0].location.line, 12);
    }
}

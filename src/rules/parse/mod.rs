//! Sigma rule parser: YAML text to validated [`Rule`]s and [`CorrelationRule`]s.
//!
//! Contract:
//! - [`parse_file`] parses every document of a file. A document is a detection
//!   [`Rule`], a [`CorrelationRule`] (a document with a top-level `correlation`
//!   map) or one or more [`RuleError`]s, never both; a bad document never stops
//!   the others (a YAML syntax error ends only the document it is in).
//!   [`parse_str`] is the same minus the correlation rules, for callers that
//!   only handle detection rules: it drops correlation documents, so callers
//!   that need them use [`parse_file`].
//! - Every error carries the location of the node that caused it and, once the
//!   document's `id` (else `name`, else `title`) is known, the rule it belongs to.
//! - Nothing is evaluated or compiled here: regexes, CIDRs and placeholders are
//!   checked by the compiler, and the rule references of correlation rules are
//!   resolved by the loader (`rules::load::link`).
//!
//! Sub-modules: [`detection`] (search identifiers and values), [`modifier`]
//! (field keys and modifier rules), [`condition`] (the condition grammar),
//! [`correlation`] (correlation rules).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::ast::{CorrelationRule, Level, Location, LogSource, Rule};
use super::error::{RuleError, RuleErrorKind};
use super::yaml::{self, Document, Node, NodeKind};

pub mod condition;
pub mod correlation;
pub mod detection;
pub mod modifier;

/// Per-document state: the file for locations and the errors found so far.
pub(crate) struct Ctx<'a> {
    file: &'a Arc<PathBuf>,
    errors: Vec<RuleError>,
}

impl Ctx<'_> {
    fn loc(&self, node: &Node) -> Location {
        Location {
            file: self.file.clone(),
            line: node.line,
            column: node.column,
        }
    }

    fn error(&mut self, node: &Node, kind: RuleErrorKind) {
        let e = RuleError::new(self.loc(node), kind);
        self.errors.push(e);
    }
}

/// Everything one rule file holds: its detection rules, its correlation rules
/// and the errors of the documents that are neither.
#[derive(Debug, Default)]
pub struct ParsedFile {
    pub rules: Vec<Rule>,
    pub correlations: Vec<CorrelationRule>,
    pub errors: Vec<RuleError>,
}

/// One valid document: a detection rule or a correlation rule.
#[derive(Debug, Clone)]
pub enum ParsedDocument {
    Rule(Rule),
    Correlation(CorrelationRule),
}

/// Parses all documents of one rule file. Empty documents are skipped.
pub fn parse_file(text: &str, file: Arc<PathBuf>) -> ParsedFile {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = ParsedFile::default();
    for doc in yaml::parse_stream(text) {
        match doc {
            Err(e) => out.errors.push(RuleError::new(
                Location {
                    file: file.clone(),
                    line: e.line,
                    column: e.column,
                },
                RuleErrorKind::Yaml(e.message),
            )),
            Ok(doc) if doc.is_empty() => {}
            Ok(doc) => match parse_document(&doc, &file) {
                Ok(ParsedDocument::Rule(rule)) => out.rules.push(rule),
                Ok(ParsedDocument::Correlation(c)) => out.correlations.push(c),
                Err(errs) => out.errors.extend(errs),
            },
        }
    }
    out
}

/// [`parse_file`] for detection rules only: correlation rules are **dropped**
/// (their errors are kept). Callers that handle correlations use [`parse_file`].
pub fn parse_str(text: &str, file: Arc<PathBuf>) -> (Vec<Rule>, Vec<RuleError>) {
    let parsed = parse_file(text, file);
    (parsed.rules, parsed.errors)
}

const LEVELS: &str = "informational, low, medium, high, critical";

/// Parses one non-empty YAML document into a detection or correlation rule.
pub fn parse_document(doc: &Document, file: &Arc<PathBuf>) -> Result<ParsedDocument, Vec<RuleError>> {
    let mut ctx = Ctx {
        file,
        errors: Vec::new(),
    };
    let rule = parse_rule(&mut ctx, doc);
    let key = rule_key(&doc.root);
    match rule {
        Some(rule) if ctx.errors.is_empty() => Ok(rule),
        _ => {
            let mut errors = ctx.errors;
            if let Some(key) = key {
                errors = errors.into_iter().map(|e| e.with_rule(key.clone())).collect();
            }
            Err(errors)
        }
    }
}

/// The document's id, else name, else title (as in [`Rule::key`]), when they are strings.
fn rule_key(root: &Node) -> Option<String> {
    ["id", "name", "title"].iter().find_map(|k| {
        let node = root.get(k)?;
        let text = node.as_scalar()?;
        (!node.is_null()).then(|| text.to_owned())
    })
}

fn invalid(key: &str, reason: impl Into<String>) -> RuleErrorKind {
    RuleErrorKind::InvalidKey {
        key: key.into(),
        reason: reason.into(),
    }
}

/// A scalar's text; `None` for null. Other shapes are an error.
fn opt_string(ctx: &mut Ctx, key: &str, node: &Node) -> Option<String> {
    match &node.kind {
        _ if node.is_null() => None,
        NodeKind::Scalar { text, .. } => Some(text.clone()),
        _ => {
            ctx.error(
                node,
                invalid(key, format!("must be a string, found {}", node.describe())),
            );
            None
        }
    }
}

/// A list of scalars (`allow_scalar`: a single scalar is a one-item list); null is empty.
fn string_list(ctx: &mut Ctx, key: &str, node: &Node, allow_scalar: bool) -> Vec<String> {
    match &node.kind {
        _ if node.is_null() => Vec::new(),
        NodeKind::Scalar { text, .. } if allow_scalar => vec![text.clone()],
        NodeKind::Seq(items) => {
            let mut out = Vec::new();
            for item in items {
                match &item.kind {
                    _ if item.is_null() => {}
                    NodeKind::Scalar { text, .. } => out.push(text.clone()),
                    _ => ctx.error(
                        item,
                        invalid(key, format!("list items must be strings, found {}", item.describe())),
                    ),
                }
            }
            out
        }
        _ => {
            let what = if allow_scalar {
                "a string or a list of strings"
            } else {
                "a list of strings"
            };
            ctx.error(node, invalid(key, format!("must be {what}, found {}", node.describe())));
            Vec::new()
        }
    }
}

/// A document's top-level keys: name, key node, value node (first occurrence of each name).
struct Keys<'a>(Vec<(&'a str, &'a Node, &'a Node)>);

impl<'a> Keys<'a> {
    /// The key and value nodes of `name`.
    fn get(&self, name: &str) -> Option<(&'a Node, &'a Node)> {
        self.0.iter().find(|(n, _, _)| *n == name).map(|&(_, k, v)| (k, v))
    }
}

/// The keys every rule document may have, detection or correlation.
struct Meta {
    title: Option<String>,
    id: Option<String>,
    name: Option<String>,
    status: Option<String>,
    description: Option<String>,
    author: Option<String>,
    level: Option<Level>,
    tags: Vec<String>,
    falsepositives: Vec<String>,
}

/// Top-level keys read by [`parse_meta`].
const META_KEYS: &[&str] = &[
    "title",
    "id",
    "name",
    "status",
    "description",
    "author",
    "level",
    "tags",
    "falsepositives",
];

/// Reads the [`Meta`] keys; a missing or empty `title` is an error.
fn parse_meta(ctx: &mut Ctx, root: &Node, keys: &Keys) -> Meta {
    let title = match keys.get("title") {
        None => {
            ctx.error(root, RuleErrorKind::MissingKey("title".into()));
            None
        }
        Some((_, v)) => match opt_string(ctx, "title", v) {
            Some(t) if !t.trim().is_empty() => Some(t),
            // Non-strings were reported by `opt_string`; null and blank land here.
            _ if v.as_scalar().is_none() => None,
            _ => {
                ctx.error(v, invalid("title", "must not be empty"));
                None
            }
        },
    };

    let string_key = |ctx: &mut Ctx, name: &str| keys.get(name).and_then(|(_, v)| opt_string(ctx, name, v));
    let id = string_key(ctx, "id");
    let name = string_key(ctx, "name");
    let status = string_key(ctx, "status");
    let description = string_key(ctx, "description");
    let author = string_key(ctx, "author");
    let level = keys.get("level").and_then(|(_, v)| {
        let text = opt_string(ctx, "level", v)?;
        let level = Level::parse(&text);
        if level.is_none() {
            ctx.error(v, invalid("level", format!("must be one of {LEVELS}, not `{text}`")));
        }
        level
    });
    let tags = keys
        .get("tags")
        .map_or_else(Vec::new, |(_, v)| string_list(ctx, "tags", v, false));
    let falsepositives = keys
        .get("falsepositives")
        .map_or_else(Vec::new, |(_, v)| string_list(ctx, "falsepositives", v, true));
    Meta {
        title,
        id,
        name,
        status,
        description,
        author,
        level,
        tags,
        falsepositives,
    }
}

/// The `tocsin:` extension keys a rule may set, and what each takes.
const EXTENSION_KEYS: &str =
    "suppress (a duration such as 30m), max_groups (a positive integer), tests (a list of test cases)";

/// Checks the `tocsin:` extension map, so a typo is a load error rather
/// than a setting silently ignored. `correlation`: the rule is a correlation
/// rule (its `tests` are event sequences, see [`crate::rules::cases`]).
fn check_extension(ctx: &mut Ctx, v: &Node, correlation: bool) {
    let Some(map) = v.as_map() else {
        ctx.error(
            v,
            RuleErrorKind::InvalidKey {
                key: "tocsin".into(),
                reason: format!("expected a map of {EXTENSION_KEYS}"),
            },
        );
        return;
    };
    for (k, val) in map {
        let name = k.as_scalar().unwrap_or_default();
        if name == "tests" {
            let (_, errors) = super::cases::parse_tests(val, ctx.file, correlation);
            ctx.errors.extend(errors);
            continue;
        }
        let text = val.as_scalar().unwrap_or_default();
        let problem = match name {
            "suppress" if crate::correlate::parse_duration_ms(text).is_none() => {
                Some(format!("`{text}` is not a duration (30s, 10m, 1h, 2d, 1w)"))
            }
            "max_groups" if text.parse::<u64>().map_or(true, |n| n == 0) => {
                Some(format!("`{text}` is not a positive integer"))
            }
            "suppress" | "max_groups" => None,
            _ => Some(format!("unknown key; known keys: {EXTENSION_KEYS}")),
        };
        if let Some(reason) = problem {
            ctx.error(
                k,
                RuleErrorKind::InvalidKey {
                    key: format!("tocsin.{name}"),
                    reason,
                },
            );
        }
    }
}

/// The `tocsin` key and every top-level key not in `known` (kept as JSON).
fn parse_extra(
    ctx: &mut Ctx,
    keys: &Keys,
    known: &[&str],
) -> (Option<serde_json::Value>, BTreeMap<String, serde_json::Value>) {
    let mut tocsin = None;
    let mut custom = BTreeMap::new();
    for &(name, _, v) in &keys.0 {
        if META_KEYS.contains(&name) || known.contains(&name) {
            continue;
        }
        if let Some(dup) = v.find_duplicate_key() {
            ctx.error(
                dup,
                RuleErrorKind::DuplicateKey(dup.as_scalar().unwrap_or_default().into()),
            );
            continue;
        }
        if name == "tocsin" {
            check_extension(ctx, v, known.contains(&"correlation"));
            tocsin = Some(v.to_json());
        } else {
            custom.insert(name.to_owned(), v.to_json());
        }
    }
    (tocsin, custom)
}

fn parse_rule(ctx: &mut Ctx, doc: &Document) -> Option<ParsedDocument> {
    let root = &doc.root;
    let Some(entries) = root.as_map() else {
        ctx.error(root, RuleErrorKind::InvalidDocument(root.describe().into()));
        return None;
    };

    // Keys by name, first occurrence; duplicates and non-string keys are errors.
    let mut keys = Keys(Vec::new());
    for (k, v) in entries {
        match k.as_scalar() {
            Some(name) if keys.get(name).is_some() => {
                ctx.error(k, RuleErrorKind::DuplicateKey(name.into()));
            }
            Some(name) => keys.0.push((name, k, v)),
            None => ctx.error(
                k,
                invalid("(top level)", format!("keys must be strings, found {}", k.describe())),
            ),
        }
    }

    // Documents that are not detection rules.
    if let Some((k, v)) = keys.get("correlation") {
        return correlation::parse_correlation(ctx, doc, &keys, k, v).map(ParsedDocument::Correlation);
    }
    if let Some((k, v)) = keys.get("action") {
        if let Some(action @ ("global" | "repeat" | "reset")) = v.as_scalar() {
            ctx.error(
                k,
                RuleErrorKind::Unsupported(format!(
                    "`action: {action}`: Sigma v1 rule collections were removed in Sigma 2; write each rule as a complete document"
                )),
            );
            return None;
        }
    }
    if keys.get("detection").is_none() {
        if let Some((k, _)) = keys.get("filter") {
            ctx.error(
                k,
                RuleErrorKind::Unsupported("Sigma filter documents (`filter:`) are not supported".into()),
            );
            return None;
        }
    }

    let meta = parse_meta(ctx, root, &keys);
    let fields = keys
        .get("fields")
        .map_or_else(Vec::new, |(_, v)| string_list(ctx, "fields", v, false));

    let logsource = match keys.get("logsource") {
        None => {
            ctx.error(root, RuleErrorKind::MissingKey("logsource".into()));
            None
        }
        Some((_, v)) => parse_logsource(ctx, v),
    };

    let detection = match keys.get("detection") {
        None => {
            ctx.error(root, RuleErrorKind::MissingKey("detection".into()));
            None
        }
        Some((k, v)) => detection::parse_detection(ctx, k, v),
    };

    let (tocsin, custom) = parse_extra(ctx, &keys, &["logsource", "detection", "fields"]);

    Some(ParsedDocument::Rule(Rule {
        title: meta.title?,
        id: meta.id,
        name: meta.name,
        status: meta.status,
        description: meta.description,
        author: meta.author,
        level: meta.level,
        tags: meta.tags,
        logsource: logsource?,
        detection: detection?,
        falsepositives: meta.falsepositives,
        fields,
        tocsin,
        custom,
        location: Location {
            file: ctx.file.clone(),
            line: doc.line,
            column: doc.column,
        },
    }))
}

fn parse_logsource(ctx: &mut Ctx, node: &Node) -> Option<LogSource> {
    let Some(entries) = node.as_map() else {
        ctx.error(
            node,
            invalid("logsource", format!("must be a map, found {}", node.describe())),
        );
        return None;
    };
    let mut ls = LogSource::default();
    let mut seen: Vec<&str> = Vec::new();
    for (k, v) in entries {
        let Some(name) = k.as_scalar() else {
            ctx.error(
                k,
                invalid("logsource", format!("keys must be strings, found {}", k.describe())),
            );
            continue;
        };
        if seen.contains(&name) {
            ctx.error(k, RuleErrorKind::DuplicateKey(format!("logsource.{name}")));
            continue;
        }
        seen.push(name);
        let slot = match name {
            "product" => &mut ls.product,
            "category" => &mut ls.category,
            "service" => &mut ls.service,
            // `definition` and custom keys are documentation.
            _ => continue,
        };
        *slot = opt_string(ctx, &format!("logsource.{name}"), v);
    }
    if ls.product.is_none() && ls.category.is_none() && ls.service.is_none() {
        ctx.error(
            node,
            invalid("logsource", "needs at least one of `product`, `category` or `service`"),
        );
        return None;
    }
    Some(ls)
}

#[cfg(test)]
mod tests;

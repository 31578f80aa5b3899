//! The Sigma rule as written: a faithful, validated tree of one rule document.
//!
//! The parser (`rules::parse`) produces these types and guarantees the
//! invariants documented on each; the matcher (`matcher::compile`) turns them
//! into an executable plan. Nothing here evaluates events. Keeping the raw form
//! separate from the compiled one (ripgrep's lowargs/hiargs split) lets
//! `tocsin validate` report every problem with its file and line before any
//! index is built.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Where something was written: file, 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    pub file: Arc<PathBuf>,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// One Sigma detection rule (one YAML document of a rule file).
#[derive(Clone, Debug)]
pub struct Rule {
    pub title: String,
    /// The rule's `id` (normally a UUID). When absent, [`Rule::key`] falls back to `name`, then the title.
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub description: Option<String>,
    pub author: Option<String>,
    pub level: Option<Level>,
    pub tags: Vec<String>,
    pub logsource: LogSource,
    pub detection: Detection,
    pub falsepositives: Vec<String>,
    pub fields: Vec<String>,
    /// The Tocsin extension key (`tocsin:`), kept as JSON for the stages that read it.
    pub tocsin: Option<serde_json::Value>,
    /// Every other top-level key (references, date, modified, custom keys), kept as written.
    pub custom: BTreeMap<String, serde_json::Value>,
    /// Start of the document that holds the rule.
    pub location: Location,
}

impl Rule {
    /// A stable key for metrics, alert ids and references: id, else name, else title.
    pub fn key(&self) -> &str {
        self.id.as_deref().or(self.name.as_deref()).unwrap_or(&self.title)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "informational" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }
}

/// The `logsource` block. At least one of product/category/service is set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogSource {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
}

impl fmt::Display for LogSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (k, v) in [
            ("product", &self.product),
            ("category", &self.category),
            ("service", &self.service),
        ] {
            if let Some(v) = v {
                if !first {
                    f.write_str(",")?;
                }
                write!(f, "{k}={v}")?;
                first = false;
            }
        }
        Ok(())
    }
}

/// The `detection` block: named search identifiers and the condition over them.
#[derive(Clone, Debug)]
pub struct Detection {
    /// Search identifiers in file order. Names are unique.
    pub identifiers: Vec<SearchIdentifier>,
    /// The condition; a YAML list of conditions is an OR of its entries.
    /// Every name it references exists in `identifiers` (checked by the parser).
    pub condition: Condition,
    pub location: Location,
}

impl Detection {
    pub fn identifier(&self, name: &str) -> Option<&SearchIdentifier> {
        self.identifiers.iter().find(|s| s.name == name)
    }
}

/// A named search identifier: an OR over groups, each group an AND of items.
///
/// - a map is one group;
/// - a list of maps is one group per map;
/// - a list of plain values (keywords) is one group with one field-less item.
#[derive(Clone, Debug)]
pub struct SearchIdentifier {
    pub name: String,
    pub groups: Vec<Group>,
    pub location: Location,
}

/// An AND of field items (one YAML map).
#[derive(Clone, Debug)]
pub struct Group {
    pub items: Vec<FieldItem>,
    pub location: Location,
}

/// One `field|mod|mod: value(s)` entry, or a keyword list (field `None`).
#[derive(Clone, Debug)]
pub struct FieldItem {
    /// `None` for keywords: the values are searched in every string value of the event.
    pub field: Option<String>,
    /// Modifiers in the order written (they apply left to right).
    pub modifiers: Vec<Modifier>,
    /// The values; OR'ed unless `modifiers` contains [`Modifier::All`].
    /// Never empty. `Value::Null` only appears alone (the parser rejects null inside a list).
    pub values: Vec<Value>,
    pub location: Location,
}

impl FieldItem {
    pub fn has(&self, m: Modifier) -> bool {
        self.modifiers.contains(&m)
    }
}

/// Field value modifiers of the Sigma specification (v2.x).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Modifier {
    Contains,
    StartsWith,
    EndsWith,
    All,
    Exists,
    Cased,
    Neq,
    Windash,
    Re,
    /// `re|i`: case-insensitive regex.
    ReI,
    /// `re|m`: multi-line regex.
    ReM,
    /// `re|s`: dot matches newline.
    ReS,
    Base64,
    Base64Offset,
    Utf16le,
    Utf16be,
    Utf16,
    Wide,
    Lt,
    Lte,
    Gt,
    Gte,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
    Cidr,
    Expand,
    Fieldref,
}

impl Modifier {
    /// The modifier's name as written in a rule.
    pub fn as_str(self) -> &'static str {
        use Modifier::*;
        match self {
            Contains => "contains",
            StartsWith => "startswith",
            EndsWith => "endswith",
            All => "all",
            Exists => "exists",
            Cased => "cased",
            Neq => "neq",
            Windash => "windash",
            Re => "re",
            ReI => "i",
            ReM => "m",
            ReS => "s",
            Base64 => "base64",
            Base64Offset => "base64offset",
            Utf16le => "utf16le",
            Utf16be => "utf16be",
            Utf16 => "utf16",
            Wide => "wide",
            Lt => "lt",
            Lte => "lte",
            Gt => "gt",
            Gte => "gte",
            Minute => "minute",
            Hour => "hour",
            Day => "day",
            Week => "week",
            Month => "month",
            Year => "year",
            Cidr => "cidr",
            Expand => "expand",
            Fieldref => "fieldref",
        }
    }

    /// Parses a modifier name; `after_re` enables the regex flag names `i`, `m`, `s`.
    pub fn parse(s: &str, after_re: bool) -> Option<Modifier> {
        use Modifier::*;
        Some(match s {
            "contains" => Contains,
            "startswith" => StartsWith,
            "endswith" => EndsWith,
            "all" => All,
            "exists" => Exists,
            "cased" => Cased,
            "neq" => Neq,
            "windash" => Windash,
            "re" => Re,
            "i" | "ignorecase" if after_re => ReI,
            "m" | "multiline" if after_re => ReM,
            "s" | "dotall" if after_re => ReS,
            "base64" => Base64,
            "base64offset" => Base64Offset,
            "utf16le" => Utf16le,
            "utf16be" => Utf16be,
            "utf16" => Utf16,
            "wide" => Wide,
            "lt" => Lt,
            "lte" => Lte,
            "gt" => Gt,
            "gte" => Gte,
            "minute" => Minute,
            "hour" => Hour,
            "day" => Day,
            "week" => Week,
            "month" => Month,
            "year" => Year,
            "cidr" => Cidr,
            "expand" => Expand,
            "fieldref" => Fieldref,
            _ => return None,
        })
    }
}

/// A rule value, typed as YAML resolved it, with the text as written.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string (quoted, or plain text that is not a number, bool or null).
    String(SigmaString),
    /// A plain scalar that YAML reads as a number. `text` is the scalar exactly as written
    /// (`0x10`, `1e3`, `4624`); `value` its numeric reading, for lt/gt comparisons.
    Number { text: String, value: f64 },
    /// A plain `true`/`false` (any YAML 1.2 spelling). `text` as written.
    Bool { text: String, value: bool },
    /// `null`, `~` or an empty plain scalar: the field is absent or null.
    Null,
}

impl Value {
    /// The text as written (wildcards rendered back with escapes), for messages and plain-text matching.
    pub fn text(&self) -> String {
        match self {
            Value::String(s) => s.to_string(),
            Value::Number { text, .. } | Value::Bool { text, .. } => text.clone(),
            Value::Null => "null".into(),
        }
    }
}

/// A Sigma string after escape processing: literal runs and wildcards.
///
/// Escaping follows the specification and pySigma: `\*` and `\?` are a literal
/// star and question mark, `\\` a literal backslash, and a backslash before any
/// other character (or at the end) is itself literal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SigmaString {
    pub parts: Vec<StrPart>,
    /// The text exactly as written in the rule (regexes, CIDRs and field
    /// references are read from this, not from the escape-processed parts).
    pub raw: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StrPart {
    Literal(String),
    /// `*`: any sequence of characters, newlines included.
    AnyString,
    /// `?`: exactly one character.
    AnyChar,
}

impl SigmaString {
    /// Parses raw rule text, applying the escaping rules above.
    pub fn parse(raw: &str) -> SigmaString {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&n @ ('*' | '?' | '\\')) => {
                        lit.push(n);
                        chars.next();
                    }
                    _ => lit.push('\\'),
                },
                '*' | '?' => {
                    if !lit.is_empty() {
                        parts.push(StrPart::Literal(std::mem::take(&mut lit)));
                    }
                    parts.push(if c == '*' { StrPart::AnyString } else { StrPart::AnyChar });
                }
                _ => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(StrPart::Literal(lit));
        }
        SigmaString {
            parts,
            raw: raw.to_string(),
        }
    }

    /// A string with no wildcards.
    pub fn literal(s: impl Into<String>) -> SigmaString {
        let s = s.into();
        let mut out = SigmaString {
            parts: Vec::new(),
            raw: String::new(),
        };
        if !s.is_empty() {
            out.parts.push(StrPart::Literal(s));
        }
        out.raw = out.escaped();
        out
    }

    pub fn has_wildcards(&self) -> bool {
        self.parts.iter().any(|p| !matches!(p, StrPart::Literal(_)))
    }

    /// The plain text when there are no wildcards.
    pub fn as_literal(&self) -> Option<String> {
        if self.has_wildcards() {
            return None;
        }
        Some(
            self.parts
                .iter()
                .map(|p| match p {
                    StrPart::Literal(s) => s.as_str(),
                    _ => "",
                })
                .collect(),
        )
    }
}

impl fmt::Display for SigmaString {
    /// The value as written in the rule.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl SigmaString {
    /// Renders the parts back to Sigma syntax (escaping literal `*`, `?` and `\\`).
    pub fn escaped(&self) -> String {
        use fmt::Write as _;
        let mut f = String::new();
        for p in &self.parts {
            match p {
                StrPart::Literal(s) => {
                    for c in s.chars() {
                        if matches!(c, '*' | '?' | '\\') {
                            f.push('\\');
                        }
                        let _ = write!(f, "{c}");
                    }
                }
                StrPart::AnyString => f.push('*'),
                StrPart::AnyChar => f.push('?'),
            }
        }
        f
    }
}

/// A parsed condition. Identifier references are resolved: every name exists.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    /// A search identifier by name.
    Ident(String),
    /// `1 of X*` / `any of X*` / `1 of them`: OR over the listed identifiers (never empty).
    OneOf(Vec<String>),
    /// `all of X*` / `all of them`: AND over the listed identifiers (never empty).
    AllOf(Vec<String>),
}

/// A Sigma correlation rule (specification v2.x, correlation part): a
/// condition over the hits of other rules, per group, within a timespan.
#[derive(Clone, Debug)]
pub struct CorrelationRule {
    pub title: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub description: Option<String>,
    pub author: Option<String>,
    pub level: Option<Level>,
    pub tags: Vec<String>,
    pub falsepositives: Vec<String>,
    pub kind: CorrelationType,
    /// The referenced rules, by `id` or `name`, as written (order matters for `temporal_ordered`).
    pub rules: Vec<RuleRef>,
    /// Group-by fields (after alias resolution these are alias names or field names). Empty = one global group.
    pub group_by: Vec<String>,
    /// Window length in milliseconds.
    pub timespan_ms: u64,
    /// The condition. For `temporal`/`temporal_ordered` without an explicit
    /// condition the parser sets `gte: <number of referenced rules>`.
    pub condition: CorrelationCondition,
    /// `aliases`: alias name → (referenced rule → field in that rule's events).
    pub aliases: Vec<Alias>,
    /// `generate`: when false (the default) the referenced rules do not alert on their own.
    pub generate: bool,
    /// The Tocsin extension key (`tocsin:`), e.g. `{suppress: 30m}`.
    pub tocsin: Option<serde_json::Value>,
    pub custom: BTreeMap<String, serde_json::Value>,
    pub location: Location,
}

impl CorrelationRule {
    /// A stable key: id, else name, else title.
    pub fn key(&self) -> &str {
        self.id.as_deref().or(self.name.as_deref()).unwrap_or(&self.title)
    }
}

/// A reference to another rule by its `id` or `name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRef {
    pub reference: String,
    pub location: Location,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    ValuePercentile,
}

impl CorrelationType {
    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationType::EventCount => "event_count",
            CorrelationType::ValueCount => "value_count",
            CorrelationType::Temporal => "temporal",
            CorrelationType::TemporalOrdered => "temporal_ordered",
            CorrelationType::ValueSum => "value_sum",
            CorrelationType::ValueAvg => "value_avg",
            CorrelationType::ValuePercentile => "value_percentile",
        }
    }
}

/// Comparison operators of a correlation condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

/// `condition:` of a correlation rule: one or more bounds (AND'ed, e.g. `gt: 3, lte: 6`),
/// the field for value_* types and value_count, and the percentile rank for value_percentile.
#[derive(Clone, Debug, PartialEq)]
pub struct CorrelationCondition {
    pub bounds: Vec<(CmpOp, f64)>,
    pub field: Option<String>,
    /// For `value_percentile`: the percentile (0–100) to compare.
    pub percentile: Option<f64>,
    pub location: Location,
}

impl CorrelationCondition {
    /// Whether the condition has an upper bound (lt, lte, eq): such conditions
    /// are judged on complete windows.
    pub fn has_upper_bound(&self) -> bool {
        self.bounds
            .iter()
            .any(|(op, _)| matches!(op, CmpOp::Lt | CmpOp::Lte | CmpOp::Eq))
    }

    pub fn holds(&self, v: f64) -> bool {
        self.bounds.iter().all(|&(op, b)| match op {
            CmpOp::Gt => v > b,
            CmpOp::Gte => v >= b,
            CmpOp::Lt => v < b,
            CmpOp::Lte => v <= b,
            CmpOp::Eq => v == b,
            CmpOp::Neq => v != b,
        })
    }
}

/// One `aliases` entry: a name for fields that are named differently in each rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Alias {
    pub name: String,
    /// Referenced rule (id or name as written) → field name in its events.
    pub fields: Vec<(String, String)>,
    pub location: Location,
}

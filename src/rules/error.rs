//! Rule load errors: what is wrong, where (file, line, column) and in which rule.
//!
//! Every problem a detection engineer can make in a rule file maps to one
//! [`RuleErrorKind`], so tools can act on the kind and humans read the message
//! as `file:line:col: [rule] what is wrong`.

use std::fmt;

use super::ast::Location;

/// A problem found while loading or compiling a rule.
#[derive(Debug, Clone, thiserror::Error)]
pub struct RuleError {
    pub location: Location,
    /// The rule's id (or title) when it was known at the point of failure.
    pub rule: Option<String>,
    pub kind: RuleErrorKind,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location)?;
        if let Some(rule) = &self.rule {
            write!(f, "rule {rule}: ")?;
        }
        write!(f, "{}", self.kind)
    }
}

impl RuleError {
    pub fn new(location: Location, kind: RuleErrorKind) -> Self {
        RuleError {
            location,
            rule: None,
            kind,
        }
    }

    pub fn with_rule(mut self, rule: impl Into<String>) -> Self {
        self.rule.get_or_insert_with(|| rule.into());
        self
    }
}

/// What is wrong with a rule. Messages name the offending text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleErrorKind {
    #[error("cannot read file: {0}")]
    Io(String),
    #[error("YAML syntax error: {0}")]
    Yaml(String),
    #[error("missing required key `{0}`")]
    MissingKey(String),
    #[error("duplicate key `{0}`")]
    DuplicateKey(String),
    #[error("`{key}`: {reason}")]
    InvalidKey { key: String, reason: String },
    #[error("unknown modifier `{0}`")]
    UnknownModifier(String),
    #[error("invalid modifier combination: {0}")]
    InvalidModifiers(String),
    #[error("invalid value: {0}")]
    InvalidValue(String),
    #[error("search identifier `{name}`: {reason}")]
    InvalidSearchIdentifier { name: String, reason: String },
    #[error("condition: {0}")]
    BadCondition(String),
    #[error("condition references unknown search identifier `{0}`")]
    UnknownIdentifier(String),
    #[error("condition pattern `{0}` matches no search identifier")]
    PatternMatchesNothing(String),
    #[error("condition uses a pipe aggregation (`{0}`), removed from Sigma v2: write a correlation rule instead")]
    Aggregation(String),
    #[error("bad regular expression `{pattern}`: {reason}")]
    BadRegex { pattern: String, reason: String },
    #[error("bad CIDR network `{0}`")]
    BadCidr(String),
    #[error("placeholder `%{0}%` is not defined: add it under [placeholders] in the config")]
    UndefinedPlaceholder(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A YAML document that is not a map (a list or a bare value where a rule was expected).
    #[error("a rule document must be a YAML map, found {0}")]
    InvalidDocument(String),
    /// A second rule with an `id` already loaded; the second one is dropped.
    #[error("duplicate rule id `{id}` (first defined at {first})")]
    DuplicateRuleId { id: String, first: Location },
    /// A second rule with a `name` already used by another rule (names are
    /// references for correlation rules, so they must be unique).
    #[error("duplicate rule name `{name}` (first defined at {first})")]
    DuplicateRuleName { name: String, first: Location },
    /// A correlation rule is invalid in a way no single key explains
    /// (e.g. a condition that can never hold, `field` on an `event_count`).
    #[error("correlation: {0}")]
    InvalidCorrelation(String),
    /// A correlation rule (or one of its aliases) references a rule that no loaded rule has as `id` or `name`.
    #[error("reference `{reference}` matches no loaded rule (by `id` or `name`)")]
    UnknownReference { reference: String },
    /// A reference matches more than one rule (by `id` or `name`).
    #[error("reference `{reference}` is ambiguous: it matches the rules at {}", join_locations(.matches))]
    AmbiguousReference { reference: String, matches: Vec<Location> },
    /// A reference to a correlation rule that was not loaded because of its own errors.
    #[error("reference `{reference}` names a correlation rule that was not loaded (see its errors)")]
    BrokenReference { reference: String },
    /// Correlation rules that reference each other in a loop, e.g. `a -> b -> a`.
    #[error("correlation rules reference each other in a cycle: {path}")]
    CorrelationCycle { path: String },
}

fn join_locations(locations: &[Location]) -> String {
    locations.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

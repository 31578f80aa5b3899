//! Sigma rules: the written form ([`ast`]), its parser ([`parse`]) and the
//! loader that walks files and directories ([`load`]).
//!
//! Loading never stops at the first problem: every rule file is read and every
//! error collected, so `tocsin validate` can list them all at once.

pub mod ast;
pub mod cases;
pub mod error;
pub mod load;
pub mod parse;
pub mod yaml;

pub use ast::{
    Condition, Detection, FieldItem, Group, Level, Location, LogSource, Modifier, Rule, SearchIdentifier, SigmaString,
    StrPart, Value,
};
pub use error::{RuleError, RuleErrorKind};
pub use load::{load_paths, rule_files, LoadedRules};

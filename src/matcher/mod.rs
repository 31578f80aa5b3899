//! Single-event matching: all rules of a logsource evaluated together.
//!
//! `pattern` gives Sigma's value semantics, `index` evaluates all patterns of a
//! field in one pass, `compile` builds the [`Plan`], `trigger` picks which
//! atoms wake which rules, `eval` runs a plan on an event, and `reference` is a
//! deliberately naive evaluator that the tests compare the plan against.

pub mod compile;
pub mod eval;
pub mod index;
pub mod pattern;
pub mod rawfilter;
pub mod reference;
pub mod scalar;
pub mod scratch;
pub mod trie;
pub mod trigger;

pub use compile::{CompileOptions, Plan};
pub use scratch::Scratch;

/// Index of a deduplicated predicate in a plan.
pub type AtomId = u32;

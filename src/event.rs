//! The decoded event as every later stage sees it: a read-only view over the
//! simd-json tape, its position in the input, and its event time.
//!
//! The view walks the flat tape directly (objects and arrays know their
//! subtree size), so looking at fields neither allocates nor builds a tree.

use std::fmt;

use simd_json::{Node, StaticNode};

use crate::matcher::scalar::Text;

/// Where an event came from: enough to find the original bytes again.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Position {
    File {
        file: String,
        line: u64,
    },
    /// The topic is shared: every message of a partition names it without
    /// allocating.
    Kafka {
        topic: std::sync::Arc<str>,
        partition: i32,
        offset: i64,
    },
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::File { file, line } => write!(f, "{file}:{line}"),
            Position::Kafka {
                topic,
                partition,
                offset,
            } => write!(f, "{topic}/{partition}@{offset}"),
        }
    }
}

/// A JSON value inside a decoded event.
#[derive(Clone, Copy)]
pub struct ValueRef<'t, 'i>(&'t [Node<'i>]);

/// The shape of a value, with scalars read out.
pub enum Kind<'t, 'i> {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(&'i str),
    Array(ValueRef<'t, 'i>),
    Object(ValueRef<'t, 'i>),
}

fn span(n: &Node<'_>) -> usize {
    match n {
        Node::Object { count, .. } | Node::Array { count, .. } => count + 1,
        _ => 1,
    }
}

impl<'t, 'i> ValueRef<'t, 'i> {
    /// The root value of a tape (`nodes` must be a whole tape).
    pub fn root(nodes: &'t [Node<'i>]) -> Option<Self> {
        let n = nodes.first()?;
        Some(ValueRef(&nodes[..span(n).min(nodes.len())]))
    }

    pub fn kind(&self) -> Kind<'t, 'i> {
        match self.0.first() {
            Some(Node::String(s)) => Kind::Str(s),
            Some(Node::Object { .. }) => Kind::Object(*self),
            Some(Node::Array { .. }) => Kind::Array(*self),
            Some(Node::Static(StaticNode::Bool(b))) => Kind::Bool(*b),
            Some(Node::Static(StaticNode::I64(v))) => Kind::I64(*v),
            Some(Node::Static(StaticNode::U64(v))) => Kind::U64(*v),
            Some(Node::Static(StaticNode::F64(v))) => Kind::F64(*v),
            _ => Kind::Null,
        }
    }

    pub fn is_object(&self) -> bool {
        matches!(self.0.first(), Some(Node::Object { .. }))
    }

    pub fn is_array(&self) -> bool {
        matches!(self.0.first(), Some(Node::Array { .. }))
    }

    pub fn is_null(&self) -> bool {
        matches!(self.0.first(), Some(Node::Static(StaticNode::Null)) | None)
    }

    /// Key/value pairs of an object (empty for anything else).
    pub fn entries(&self) -> Entries<'t, 'i> {
        let rest = if self.is_object() { &self.0[1..] } else { &[][..] };
        Entries(rest)
    }

    /// Elements of an array (empty for anything else).
    pub fn elements(&self) -> Elements<'t, 'i> {
        let rest = if matches!(self.0.first(), Some(Node::Array { .. })) {
            &self.0[1..]
        } else {
            &[][..]
        };
        Elements(rest)
    }

    /// The value of a key of this object.
    pub fn get(&self, key: &str) -> Option<ValueRef<'t, 'i>> {
        self.entries().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Resolves a dotted path: nested objects, literal keys containing dots,
    /// or a mix; through a list of objects, the first element that has it
    /// (see [`ValueRef::any_at`] for every one).
    pub fn lookup(&self, path: &str) -> Option<ValueRef<'t, 'i>> {
        let mut found = None;
        self.any_at(path, &mut |v| {
            found = Some(v);
            true
        });
        found
    }

    /// Calls `f` on each value at a dotted path until it returns true;
    /// returns whether it did. A path runs through lists of objects as
    /// Elasticsearch flattens them: `target.alternateId` over Okta's
    /// `"target": [{..}, {..}]` is every element's `alternateId`, so a rule
    /// on it matches when any element does.
    pub fn any_at(&self, path: &str, f: &mut dyn FnMut(ValueRef<'t, 'i>) -> bool) -> bool {
        if let Kind::Array(items) = self.kind() {
            return items.elements().any(|e| e.is_object() && e.any_at(path, f));
        }
        if self.get(path).is_some_and(&mut *f) {
            return true;
        }
        let mut search = 0;
        while let Some(dot) = path[search..].find('.') {
            let at = search + dot;
            if let Some(inner) = self.get(&path[..at]) {
                if (inner.is_object() || inner.is_array()) && inner.any_at(&path[at + 1..], f) {
                    return true;
                }
            }
            search = at + 1;
        }
        false
    }

    /// The value as Sigma text, when it is a scalar other than null.
    pub fn text(&self) -> Option<Text<'i>> {
        Some(match self.kind() {
            Kind::Str(s) => Text::Str(s),
            Kind::I64(v) => Text::from_i64(v),
            Kind::U64(v) => Text::from_u64(v),
            Kind::F64(v) => Text::from_f64(v),
            Kind::Bool(b) => Text::from_bool(b),
            Kind::Null | Kind::Array(_) | Kind::Object(_) => return None,
        })
    }

    /// An owned copy, for evidence and tests (never on the per-event hot path).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self.kind() {
            Kind::Null => J::Null,
            Kind::Bool(b) => J::Bool(b),
            Kind::I64(v) => J::from(v),
            Kind::U64(v) => J::from(v),
            Kind::F64(v) => serde_json::Number::from_f64(v).map_or(J::Null, J::Number),
            Kind::Str(s) => J::String(s.to_string()),
            Kind::Array(a) => J::Array(a.elements().map(|v| v.to_json()).collect()),
            Kind::Object(o) => J::Object(o.entries().map(|(k, v)| (k.to_string(), v.to_json())).collect()),
        }
    }
}

pub struct Entries<'t, 'i>(&'t [Node<'i>]);

impl<'t, 'i> Iterator for Entries<'t, 'i> {
    type Item = (&'i str, ValueRef<'t, 'i>);

    fn next(&mut self) -> Option<Self::Item> {
        let (k, rest) = self.0.split_first()?;
        let Node::String(k) = k else {
            self.0 = &[];
            return None;
        };
        let n = span(rest.first()?).min(rest.len());
        let (v, tail) = rest.split_at(n);
        self.0 = tail;
        Some((k, ValueRef(v)))
    }
}

pub struct Elements<'t, 'i>(&'t [Node<'i>]);

impl<'t, 'i> Iterator for Elements<'t, 'i> {
    type Item = ValueRef<'t, 'i>;

    fn next(&mut self) -> Option<Self::Item> {
        let n = span(self.0.first()?).min(self.0.len());
        let (v, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(ValueRef(v))
    }
}

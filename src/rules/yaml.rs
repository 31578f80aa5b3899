//! A small YAML tree with source positions, built for rule parsing.
//!
//! Contract:
//! - Every node carries the 1-based line and column where it was written, so
//!   rule errors can point at the offending key or value.
//! - Scalars keep their **original text** and whether they were plain or quoted:
//!   the plain scalar `00000429` stays the text `"00000429"`. Typing a scalar
//!   (null, bool, int, float, string per the YAML 1.2 core schema) is a separate,
//!   explicit step ([`resolve_plain`], [`Node::resolve`]), because Sigma matches
//!   numbers by the text as written.
//! - A stream may hold several documents (`---`). A syntax error ends the
//!   document it occurs in; parsing resumes at the next line that starts a
//!   document, so one broken document does not hide the others.
//! - Anchors and aliases are resolved by copying the anchored node (alias
//!   expansion is capped, so a "billion laughs" file is an error, not an OOM).
//! - Nesting is capped at [`MAX_DEPTH`], so the recursive consumers of the tree
//!   (rule parser, JSON conversion, drop) cannot overflow the stack.
//!
//! The tree is built from the event stream of `yaml_rust2::parser::Parser`,
//! which we drive token by token (its own `load` recurses per nesting level).

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, ScanError, TScalarStyle};

/// Deepest nesting of sequences and maps accepted in a document.
pub const MAX_DEPTH: usize = 128;

/// Most nodes one document may expand to (aliases copy their anchor).
pub const MAX_NODES: usize = 1_000_000;

const CORE_TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// How a scalar was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarStyle {
    /// Unquoted: typed by the core schema (`4624` is a number, `true` a bool).
    Plain,
    /// Single- or double-quoted, literal (`|`) or folded (`>`): always a string.
    Quoted,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    Scalar {
        /// The scalar's text after YAML unescaping/folding, before any typing.
        text: String,
        style: ScalarStyle,
        /// The resolved tag (`!!str` is `tag:yaml.org,2002:str`), if one was written.
        tag: Option<String>,
    },
    Seq(Vec<Node>),
    /// Entries in file order; duplicate keys are kept (callers decide).
    Map(Vec<(Node, Node)>),
}

/// A YAML node and where it starts (1-based line and column).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub line: usize,
    pub column: usize,
}

/// A scalar's type under the YAML 1.2 core schema.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Resolved {
    Null,
    Bool(bool),
    /// An integer; values beyond `i128` resolve to [`Resolved::Float`].
    Int(i128),
    Float(f64),
    Str,
}

impl Resolved {
    /// The numeric reading of an int or float.
    pub fn as_f64(self) -> Option<f64> {
        match self {
            Resolved::Int(i) => Some(i as f64),
            Resolved::Float(f) => Some(f),
            _ => None,
        }
    }
}

/// One document of a stream.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The document's content; an empty document is an empty plain scalar.
    pub root: Node,
    /// Where the document starts (its `---`, or its first node).
    pub line: usize,
    pub column: usize,
}

impl Document {
    /// True for a document with no content (`---` followed by nothing, or only `~`/`null`).
    pub fn is_empty(&self) -> bool {
        self.root.resolve() == Some(Resolved::Null)
    }
}

/// A YAML syntax error (or a document over the depth/size caps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

impl Node {
    fn new(kind: NodeKind, line: usize, column: usize) -> Node {
        Node { kind, line, column }
    }

    /// The scalar's text, for any scalar style.
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The first entry whose key is the scalar `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_scalar() == Some(key))
            .map(|(_, v)| v)
    }

    /// The scalar's type: quoted scalars are strings, plain ones follow the
    /// core schema, and a core-schema tag (`!!str`, `!!int`, …) decides when
    /// written. `None` for sequences and maps.
    pub fn resolve(&self) -> Option<Resolved> {
        let NodeKind::Scalar { text, style, tag } = &self.kind else {
            return None;
        };
        if let Some(tag) = tag {
            return Some(match tag.strip_prefix(CORE_TAG_PREFIX) {
                Some("null" | "bool" | "int" | "float") => resolve_plain(text),
                // `!!str`, the non-specific `!` and application tags: a string.
                _ => Resolved::Str,
            });
        }
        Some(match style {
            ScalarStyle::Quoted => Resolved::Str,
            ScalarStyle::Plain => resolve_plain(text),
        })
    }

    /// True for a null scalar (`null`, `~`, empty plain).
    pub fn is_null(&self) -> bool {
        self.resolve() == Some(Resolved::Null)
    }

    /// A short description of the node's type, for messages ("a list", "a map", …).
    pub fn describe(&self) -> &'static str {
        match (&self.kind, self.resolve()) {
            (NodeKind::Seq(_), _) => "a list",
            (NodeKind::Map(_), _) => "a map",
            (_, Some(Resolved::Null)) => "null",
            (_, Some(Resolved::Bool(_))) => "a boolean",
            (_, Some(Resolved::Int(_) | Resolved::Float(_))) => "a number",
            _ => "a string",
        }
    }

    /// The node as JSON: scalars typed by [`Node::resolve`], strings (and
    /// numbers JSON cannot hold, like `.nan`) keeping their text. Map keys are
    /// the key's scalar text; on duplicate keys the last one wins (see
    /// [`Node::find_duplicate_key`]).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.kind {
            NodeKind::Scalar { text, .. } => match self.resolve() {
                Some(Resolved::Null) => J::Null,
                Some(Resolved::Bool(b)) => J::Bool(b),
                Some(Resolved::Int(i)) => {
                    if let Ok(i) = i64::try_from(i) {
                        J::from(i)
                    } else if let Ok(u) = u64::try_from(i) {
                        J::from(u)
                    } else {
                        float_json(i as f64, text)
                    }
                }
                Some(Resolved::Float(f)) => float_json(f, text),
                _ => J::String(text.clone()),
            },
            NodeKind::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = match k.as_scalar() {
                            Some(s) => s.to_owned(),
                            None => k.to_json().to_string(),
                        };
                        (key, v.to_json())
                    })
                    .collect(),
            ),
        }
    }

    /// The first map key (anywhere below this node) that repeats an earlier
    /// key of the same map, compared by scalar text.
    pub fn find_duplicate_key(&self) -> Option<&Node> {
        match &self.kind {
            NodeKind::Scalar { .. } => None,
            NodeKind::Seq(items) => items.iter().find_map(Node::find_duplicate_key),
            NodeKind::Map(entries) => {
                let mut seen = std::collections::HashSet::new();
                for (k, _) in entries {
                    if let Some(s) = k.as_scalar() {
                        if !seen.insert(s) {
                            return Some(k);
                        }
                    }
                }
                entries
                    .iter()
                    .find_map(|(k, v)| k.find_duplicate_key().or_else(|| v.find_duplicate_key()))
            }
        }
    }

    fn count(&self) -> usize {
        match &self.kind {
            NodeKind::Scalar { .. } => 1,
            NodeKind::Seq(items) => 1 + items.iter().map(Node::count).sum::<usize>(),
            NodeKind::Map(entries) => 1 + entries.iter().map(|(k, v)| k.count() + v.count()).sum::<usize>(),
        }
    }
}

fn float_json(f: f64, text: &str) -> serde_json::Value {
    serde_json::Number::from_f64(f)
        .map(serde_json::Value::Number)
        .unwrap_or_else(|| serde_json::Value::String(text.to_owned()))
}

/// Types a plain scalar by the YAML 1.2 core schema.
///
/// - null: `null`, `Null`, `NULL`, `~` and the empty scalar;
/// - bool: `true`, `True`, `TRUE`, `false`, `False`, `FALSE`;
/// - int: `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`;
/// - float: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`,
///   `[-+]?\.(inf|Inf|INF)`, `\.(nan|NaN|NAN)`;
/// - anything else is a string (YAML 1.1 forms like `yes` or `0777` octal are strings / decimal).
pub fn resolve_plain(text: &str) -> Resolved {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Some(v) = radix_int(hex, 16) {
            return v;
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Some(v) = radix_int(oct, 8) {
            return v;
        }
    }
    let (negative, unsigned) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") {
        return Resolved::Float(if negative { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<i128>() {
            Ok(i) => Resolved::Int(i),
            Err(_) => Resolved::Float(text.parse().unwrap_or(f64::NAN)),
        };
    }
    if is_core_float(unsigned) {
        if let Ok(f) = text.parse::<f64>() {
            return Resolved::Float(f);
        }
    }
    Resolved::Str
}

fn radix_int(digits: &str, radix: u32) -> Option<Resolved> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    Some(match i128::from_str_radix(digits, radix) {
        Ok(i) => Resolved::Int(i),
        Err(_) => Resolved::Float(digits.chars().fold(0f64, |acc, c| {
            acc * radix as f64 + c.to_digit(radix).unwrap_or(0) as f64
        })),
    })
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` (sign already stripped).
fn is_core_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.first() == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Parses every document of `text`. A syntax error yields an `Err` for the
/// document it occurs in; parsing resumes at the next `---` line after it.
pub fn parse_stream(text: &str) -> Vec<Result<Document, YamlError>> {
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let mut out = Vec::new();
    // 1-based line where the current chunk starts.
    let mut start_line = 1;
    loop {
        let chunk = &text[line_starts[start_line - 1]..];
        let mut builder = Builder::new(start_line - 1);
        let mut parser = Parser::new_from_str(chunk);
        let result = loop {
            match parser.next_token() {
                Ok((ev, mark)) => {
                    let end = ev == Event::StreamEnd;
                    builder.on_event(ev, mark);
                    if let Some(e) = builder.error.take() {
                        break Err(e);
                    }
                    if end {
                        break Ok(());
                    }
                }
                Err(e) => break Err(builder.scan_error(&e)),
            }
        };
        out.extend(builder.docs.drain(..).map(Ok));
        let Err(err) = result else {
            return out;
        };
        let resume_from = err.line.max(start_line + 1);
        out.push(Err(err));
        let next = (resume_from..=line_starts.len()).find(|&l| {
            let rest = &text[line_starts[l - 1]..];
            rest.strip_prefix("---")
                .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t', '\r', '\n']))
        });
        match next {
            Some(l) => start_line = l,
            None => return out,
        }
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        anchor: usize,
        line: usize,
        column: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        anchor: usize,
        line: usize,
        column: usize,
    },
}

/// Builds [`Node`] trees from parser events with an explicit stack.
struct Builder {
    line_offset: usize,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    root: Option<Node>,
    doc_start: (usize, usize),
    nodes: usize,
    docs: Vec<Document>,
    error: Option<YamlError>,
}

impl Builder {
    fn new(line_offset: usize) -> Builder {
        Builder {
            line_offset,
            stack: Vec::new(),
            anchors: HashMap::new(),
            root: None,
            doc_start: (1, 1),
            nodes: 0,
            docs: Vec::new(),
            error: None,
        }
    }

    fn pos(&self, mark: Marker) -> (usize, usize) {
        (mark.line() + self.line_offset, mark.col() + 1)
    }

    fn scan_error(&self, e: &ScanError) -> YamlError {
        let (line, column) = self.pos(*e.marker());
        YamlError {
            message: e.info().to_owned(),
            line,
            column,
        }
    }

    fn fail(&mut self, mark: Marker, message: impl Into<String>) {
        if self.error.is_none() {
            let (line, column) = self.pos(mark);
            self.error = Some(YamlError {
                message: message.into(),
                line,
                column,
            });
        }
    }

    fn grow(&mut self, n: usize, mark: Marker) -> bool {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            self.fail(
                mark,
                format!("document expands to more than {MAX_NODES} nodes (alias expansion?)"),
            );
            return false;
        }
        true
    }

    fn open(&mut self, frame: Frame, mark: Marker) {
        if self.stack.len() >= MAX_DEPTH {
            self.fail(mark, format!("nesting deeper than {MAX_DEPTH} levels"));
            return;
        }
        if self.grow(1, mark) {
            self.stack.push(frame);
        }
    }

    fn close(&mut self) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let (node, anchor) = match frame {
            Frame::Seq {
                items,
                anchor,
                line,
                column,
            } => (Node::new(NodeKind::Seq(items), line, column), anchor),
            Frame::Map {
                entries,
                anchor,
                line,
                column,
                ..
            } => (Node::new(NodeKind::Map(entries), line, column), anchor),
        };
        self.anchor(anchor, &node);
        self.push_value(node);
    }

    fn anchor(&mut self, anchor: usize, node: &Node) {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), node.count()));
        }
    }

    fn push_value(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                key,
                line,
                column,
                ..
            }) => match key.take() {
                None => {
                    // A block map's start mark sits at the first `:`; its first key is the real start.
                    if entries.is_empty() && (node.line, node.column) < (*line, *column) {
                        (*line, *column) = (node.line, node.column);
                    }
                    *key = Some(node);
                }
                Some(k) => {
                    let mut node = node;
                    // An empty value's mark is the next token, often on a later
                    // line; point at its key instead (`title:` → the title line).
                    if matches!(&node.kind, NodeKind::Scalar { text, style: ScalarStyle::Plain, tag: None } if text.is_empty())
                    {
                        (node.line, node.column) = (k.line, k.column);
                    }
                    entries.push((k, node));
                }
            },
        }
    }
}

fn tag_text(tag: Option<Tag>) -> Option<String> {
    tag.map(|t| format!("{}{}", t.handle, t.suffix))
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let (line, column) = self.pos(mark);
        match ev {
            Event::Nothing | Event::StreamStart | Event::StreamEnd => {}
            Event::DocumentStart => {
                self.doc_start = (line, column);
                self.anchors.clear();
                self.stack.clear();
                self.root = None;
                self.nodes = 0;
            }
            Event::DocumentEnd => {
                let root = self.root.take().unwrap_or_else(|| {
                    Node::new(
                        NodeKind::Scalar {
                            text: String::new(),
                            style: ScalarStyle::Plain,
                            tag: None,
                        },
                        line,
                        column,
                    )
                });
                let (line, column) = self.doc_start.min((root.line, root.column));
                self.docs.push(Document { root, line, column });
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some((node, size)) => {
                    let (mut node, size) = (node.clone(), *size);
                    if self.grow(size, mark) {
                        node.line = line;
                        node.column = column;
                        self.push_value(node);
                    }
                }
                None => self.fail(mark, "alias to an unknown or unfinished anchor"),
            },
            Event::Scalar(text, style, anchor, tag) => {
                if !self.grow(1, mark) {
                    return;
                }
                let style = match style {
                    TScalarStyle::Plain => ScalarStyle::Plain,
                    _ => ScalarStyle::Quoted,
                };
                let node = Node::new(
                    NodeKind::Scalar {
                        text,
                        style,
                        tag: tag_text(tag),
                    },
                    line,
                    column,
                );
                self.anchor(anchor, &node);
                self.push_value(node);
            }
            Event::SequenceStart(anchor, _) => self.open(
                Frame::Seq {
                    items: Vec::new(),
                    anchor,
                    line,
                    column,
                },
                mark,
            ),
            Event::MappingStart(anchor, _) => self.open(
                Frame::Map {
                    entries: Vec::new(),
                    key: None,
                    anchor,
                    line,
                    column,
                },
                mark,
            ),
            Event::SequenceEnd | Event::MappingEnd => self.close(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let mut docs = parse_stream(text);
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs.remove(0).unwrap().root
    }

    fn scalar(node: &Node) -> (&str, ScalarStyle) {
        match &node.kind {
            NodeKind::Scalar { text, style, .. } => (text, *style),
            other => panic!("not a scalar: {other:?}"),
        }
    }

    #[test]
    fn keeps_original_scalar_text_and_style() {
        let root = one("a: 00000429\nb: '4624'\nc: |\n  lit\nd: 0x1F\n");
        assert_eq!(scalar(root.get("a").unwrap()), ("00000429", ScalarStyle::Plain));
        assert_eq!(scalar(root.get("b").unwrap()), ("4624", ScalarStyle::Quoted));
        assert_eq!(scalar(root.get("c").unwrap()), ("lit\n", ScalarStyle::Quoted));
        assert_eq!(root.get("a").unwrap().resolve(), Some(Resolved::Int(429)));
        assert_eq!(root.get("b").unwrap().resolve(), Some(Resolved::Str));
        assert_eq!(root.get("d").unwrap().resolve(), Some(Resolved::Int(31)));
    }

    #[test]
    fn positions_are_one_based() {
        let root = one("# comment\ntitle: x\nlist:\n  - one\n  - two\n");
        assert_eq!((root.line, root.column), (2, 1));
        let map = root.as_map().unwrap();
        assert_eq!((map[0].0.line, map[0].0.column), (2, 1));
        assert_eq!((map[0].1.line, map[0].1.column), (2, 8));
        let list = root.get("list").unwrap().as_seq().unwrap();
        assert_eq!((list[1].line, list[1].column), (5, 5));
    }

    #[test]
    fn empty_value_points_at_its_key() {
        let root = one("title:\nnext: 1\n");
        let title = root.get("title").unwrap();
        assert!(title.is_null());
        assert_eq!((title.line, title.column), (1, 1));
    }

    #[test]
    fn core_schema() {
        for t in ["", "~", "null", "Null", "NULL"] {
            assert_eq!(resolve_plain(t), Resolved::Null, "{t}");
        }
        for t in ["true", "True", "TRUE"] {
            assert_eq!(resolve_plain(t), Resolved::Bool(true));
        }
        for t in ["false", "False", "FALSE"] {
            assert_eq!(resolve_plain(t), Resolved::Bool(false));
        }
        assert_eq!(resolve_plain("4624"), Resolved::Int(4624));
        assert_eq!(resolve_plain("-12"), Resolved::Int(-12));
        assert_eq!(resolve_plain("+7"), Resolved::Int(7));
        assert_eq!(resolve_plain("0x10"), Resolved::Int(16));
        assert_eq!(resolve_plain("0o17"), Resolved::Int(15));
        assert_eq!(resolve_plain("1e3"), Resolved::Float(1000.0));
        assert_eq!(resolve_plain("1.5"), Resolved::Float(1.5));
        assert_eq!(resolve_plain(".5"), Resolved::Float(0.5));
        assert_eq!(resolve_plain("2."), Resolved::Float(2.0));
        assert_eq!(resolve_plain(".inf"), Resolved::Float(f64::INFINITY));
        assert_eq!(resolve_plain("-.Inf"), Resolved::Float(f64::NEG_INFINITY));
        assert!(matches!(resolve_plain(".nan"), Resolved::Float(f) if f.is_nan()));
        for t in [
            "yes",
            "no",
            "on",
            "0x",
            "0xZZ",
            "1_000",
            "1.2.3",
            "e3",
            "1e",
            "-",
            ".",
            "2023-01-01",
            "10.0.0.0/8",
            "inf",
            "nan",
            "0b101",
            "4624a",
            "TrUe",
        ] {
            assert_eq!(resolve_plain(t), Resolved::Str, "{t}");
        }
        assert_eq!(
            resolve_plain("123456789012345678901234567890123456789012"),
            Resolved::Float(123456789012345678901234567890123456789012f64)
        );
    }

    #[test]
    fn tags_decide_type() {
        let root = one("a: !!str 123\nb: !!int 5\nc: !custom 7\n");
        assert_eq!(root.get("a").unwrap().resolve(), Some(Resolved::Str));
        assert_eq!(root.get("b").unwrap().resolve(), Some(Resolved::Int(5)));
        assert_eq!(root.get("c").unwrap().resolve(), Some(Resolved::Str));
    }

    #[test]
    fn anchors_and_aliases() {
        let root = one("a: &x\n  - 1\n  - q\nb: *x\nc: &s hello\nd: *s\n");
        let a = root.get("a").unwrap();
        let b = root.get("b").unwrap();
        assert_eq!(a.kind, b.kind);
        assert_eq!((b.line, b.column), (4, 4));
        assert_eq!(root.get("d").unwrap().as_scalar(), Some("hello"));
    }

    #[test]
    fn alias_bomb_is_an_error() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let docs = parse_stream(&text);
        let err = docs[0].as_ref().unwrap_err();
        assert!(err.message.contains("more than"), "{err:?}");
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let text = format!("a: {}{}\n", "[".repeat(200), "]".repeat(200));
        let docs = parse_stream(&text);
        assert!(docs[0].is_err(), "{docs:?}");
    }

    #[test]
    fn multi_document_and_recovery() {
        let text = "a: 1\n---\n---\nb: [1, 2\nc: 3\n---\nd: 4\n";
        let docs = parse_stream(text);
        assert_eq!(docs.len(), 4, "{docs:?}");
        assert_eq!(docs[0].as_ref().unwrap().root.get("a").unwrap().as_scalar(), Some("1"));
        assert!(docs[1].as_ref().unwrap().is_empty());
        let err = docs[2].as_ref().unwrap_err();
        assert_eq!(err.line, 5, "{err:?}");
        let last = docs[3].as_ref().unwrap();
        assert_eq!(last.root.get("d").unwrap().as_scalar(), Some("4"));
        assert_eq!((last.line, last.column), (6, 1));
        assert_eq!(last.root.get("d").unwrap().line, 7);
    }

    #[test]
    fn syntax_error_position() {
        let docs = parse_stream("title: x\ndetection:\n  sel: 'unterminated\n");
        assert_eq!(docs.len(), 1);
        let err = docs[0].as_ref().unwrap_err();
        assert!(err.line >= 3, "{err:?}");
    }

    #[test]
    fn json_conversion() {
        let root = one("a: 00000429\nb: 'x'\nc: [true, ~, 1.5, .nan]\nd: {e: f}\ng: 2023-01-01\n");
        let j = root.to_json();
        assert_eq!(
            j,
            serde_json::json!({"a": 429, "b": "x", "c": [true, null, 1.5, ".nan"], "d": {"e": "f"}, "g": "2023-01-01"})
        );
    }

    #[test]
    fn duplicate_keys_found() {
        let root = one("a: 1\nb:\n  c: 1\n  c: 2\n");
        let dup = root.find_duplicate_key().unwrap();
        assert_eq!((dup.as_scalar(), dup.line), (Some("c"), 4));
        assert!(one("a: 1\nb: {c: 1}\n").find_duplicate_key().is_none());
    }
}

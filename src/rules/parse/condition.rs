//! The detection condition: `selection and not 1 of filter_*`.
//!
//! Grammar (Sigma v2; precedence `not` > `and` > `or`, all left-associative):
//!
//! ```text
//! or      := and ("or" and)*
//! and     := not ("and" not)*
//! not     := "not" not | primary
//! primary := "(" or ")" | quant "of" target | IDENT
//! quant   := "1" | "any" | "all"
//! target  := "them" | IDENT | PATTERN        (PATTERN: IDENT with `*` or `?`)
//! ```
//!
//! Words are runs of `[A-Za-z0-9_*?.-]` (plus other alphanumerics); a keyword
//! only matches a whole word, so `nothing`, `order` and `android` are identifiers.
//! Keywords are lower-case, as in pySigma.
//!
//! Contract: the returned [`Condition`] references only names from `names`;
//! `1 of`/`all of` are resolved to the matching identifiers in file order
//! (`them` skips names starting with `_`). A pipe (`| count() …`) is a Sigma v1
//! aggregation and is reported as such.

use crate::rules::ast::Condition;
use crate::rules::error::RuleErrorKind;

/// Deepest nesting of parentheses and `not` accepted.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Word(String),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// 1-based character position in the condition text.
    pos: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '*' | '?' | '.' | '-')
}

const KEYWORDS: &[&str] = &["and", "or", "not", "of", "them", "1", "all", "any"];

fn bad(msg: String) -> RuleErrorKind {
    RuleErrorKind::BadCondition(msg)
}

fn tokenize(text: &str) -> Result<Vec<Token>, RuleErrorKind> {
    if let Some((_, agg)) = text.split_once('|') {
        return Err(RuleErrorKind::Aggregation(agg.trim().to_owned()));
    }
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            let tok = if c == '(' { Tok::LParen } else { Tok::RParen };
            toks.push(Token { tok, pos });
            i += 1;
        } else if is_word_char(c) {
            let start = i;
            while i < chars.len() && is_word_char(chars[i]) {
                i += 1;
            }
            toks.push(Token {
                tok: Tok::Word(chars[start..i].iter().collect()),
                pos,
            });
        } else {
            return Err(bad(format!("unexpected character `{c}` at position {pos} in `{text}`")));
        }
    }
    Ok(toks)
}

/// Glob match with `*` (any sequence) and `?` (one character).
fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn is_pattern(word: &str) -> bool {
    word.contains(['*', '?'])
}

struct Parser<'a> {
    text: &'a str,
    names: &'a [&'a str],
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }

    fn peek_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(x), .. }) if x == w)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }

    fn describe(t: &Token) -> String {
        match &t.tok {
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Word(w) => format!("`{w}`"),
        }
    }

    fn enter(&mut self) -> Result<(), RuleErrorKind> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(bad(format!(
                "nested more than {MAX_DEPTH} levels deep in `{}`",
                self.text
            )));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Condition, RuleErrorKind> {
        let mut items = vec![self.and()?];
        while self.peek_word("or") {
            self.i += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Condition::Or(items)
        })
    }

    fn and(&mut self) -> Result<Condition, RuleErrorKind> {
        let mut items = vec![self.not()?];
        while self.peek_word("and") {
            self.i += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Condition::And(items)
        })
    }

    fn not(&mut self) -> Result<Condition, RuleErrorKind> {
        if self.peek_word("not") {
            self.i += 1;
            self.enter()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Condition::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Condition, RuleErrorKind> {
        let text = self.text;
        let Some(t) = self.next() else {
            return Err(bad(format!(
                "unexpected end of condition `{text}`: expected a search identifier, `not`, `(`, `1 of` or `all of`"
            )));
        };
        let word = match t.tok {
            Tok::LParen => {
                self.enter()?;
                let inner = self.or()?;
                self.depth -= 1;
                return match self.next() {
                    Some(Token { tok: Tok::RParen, .. }) => Ok(inner),
                    Some(other) => Err(bad(format!(
                        "expected `)` to close `(` at position {} but found {} at position {} in `{text}`",
                        t.pos,
                        Self::describe(&other),
                        other.pos
                    ))),
                    None => Err(bad(format!(
                        "missing `)` to close `(` at position {} in `{text}`",
                        t.pos
                    ))),
                };
            }
            Tok::RParen => return Err(bad(format!("unexpected `)` at position {} in `{text}`", t.pos))),
            Tok::Word(w) => w,
        };
        match word.as_str() {
            "1" | "any" | "all" => {
                if !self.peek_word("of") {
                    return Err(bad(format!(
                        "expected `of` after `{word}` at position {} in `{text}`",
                        t.pos
                    )));
                }
                self.i += 1;
                let target = self.target(&word, t.pos)?;
                Ok(if word == "all" {
                    Condition::AllOf(target)
                } else {
                    Condition::OneOf(target)
                })
            }
            "and" | "or" => Err(bad(format!(
                "unexpected `{word}` at position {} in `{text}`: expected a search identifier before it",
                t.pos
            ))),
            "of" => Err(bad(format!(
                "`of` at position {} must follow `1`, `any` or `all` in `{text}`",
                t.pos
            ))),
            "them" => Err(bad(format!(
                "`them` at position {} is only valid after `1 of`, `any of` or `all of` in `{text}`",
                t.pos
            ))),
            _ if self.peek_word("of") => Err(bad(format!(
                "`{word} of` at position {} is not valid: use `1 of`, `any of` or `all of` in `{text}`",
                t.pos
            ))),
            _ if is_pattern(&word) => Err(bad(format!(
                "wildcard pattern `{word}` at position {} is only valid after `1 of` or `all of` in `{text}`",
                t.pos
            ))),
            _ => {
                if self.names.contains(&word.as_str()) {
                    Ok(Condition::Ident(word))
                } else {
                    Err(RuleErrorKind::UnknownIdentifier(word))
                }
            }
        }
    }

    fn target(&mut self, quant: &str, pos: usize) -> Result<Vec<String>, RuleErrorKind> {
        let text = self.text;
        let word = match self.next() {
            Some(Token {
                tok: Tok::Word(w), ..
            }) if !KEYWORDS.contains(&w.as_str()) || w == "them" => w,
            other => {
                return Err(bad(format!(
                    "expected `them` or a search identifier (pattern) after `{quant} of` at position {pos}, found {} in `{text}`",
                    other.as_ref().map_or("the end".into(), Self::describe)
                )))
            }
        };
        let matched: Vec<String> = if word == "them" {
            self.names
                .iter()
                .filter(|n| !n.starts_with('_'))
                .map(|n| n.to_string())
                .collect()
        } else if is_pattern(&word) {
            self.names
                .iter()
                .filter(|n| glob(&word, n))
                .map(|n| n.to_string())
                .collect()
        } else if self.names.contains(&word.as_str()) {
            vec![word.clone()]
        } else {
            return Err(RuleErrorKind::UnknownIdentifier(word));
        };
        if matched.is_empty() {
            return Err(RuleErrorKind::PatternMatchesNothing(word));
        }
        Ok(matched)
    }
}

/// Parses one condition string against the detection's identifier names (file order).
pub fn parse_condition(text: &str, names: &[&str]) -> Result<Condition, RuleErrorKind> {
    let toks = tokenize(text)?;
    if toks.is_empty() {
        return Err(bad("the condition is empty".into()));
    }
    let mut p = Parser {
        text,
        names,
        toks,
        i: 0,
        depth: 0,
    };
    let cond = p.or()?;
    if let Some(t) = p.peek() {
        let hint = match &t.tok {
            Tok::RParen => " (unbalanced parentheses)",
            _ => " (missing `and`/`or`?)",
        };
        return Err(bad(format!(
            "unexpected {} at position {} in `{text}`{hint}",
            Parser::describe(t),
            t.pos
        )));
    }
    Ok(cond)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Condition::*;

    const NAMES: &[&str] = &[
        "selection",
        "selection_img",
        "selection_cli",
        "filter_main_a",
        "filter_main_b",
        "filter_optional",
        "_helper",
        "nothing",
        "order",
        "android",
        "a",
        "b",
        "c",
        "sel.x-1",
    ];

    fn p(text: &str) -> Condition {
        parse_condition(text, NAMES).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn err(text: &str) -> RuleErrorKind {
        parse_condition(text, NAMES).expect_err(text)
    }

    fn id(s: &str) -> Condition {
        Ident(s.into())
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn identifiers_and_keywords() {
        assert_eq!(p("selection"), id("selection"));
        assert_eq!(p("nothing"), id("nothing"));
        assert_eq!(p("not nothing"), Not(Box::new(id("nothing"))));
        assert_eq!(p("order or android"), Or(vec![id("order"), id("android")]));
        assert_eq!(p("sel.x-1"), id("sel.x-1"));
        assert_eq!(p("  selection\n"), id("selection"));
    }

    #[test]
    fn precedence() {
        assert_eq!(
            p("a or b and not c"),
            Or(vec![id("a"), And(vec![id("b"), Not(Box::new(id("c")))])])
        );
        assert_eq!(p("not a and b"), And(vec![Not(Box::new(id("a"))), id("b")]));
        assert_eq!(p("a and b or c"), Or(vec![And(vec![id("a"), id("b")]), id("c")]));
        assert_eq!(p("a and b and c"), And(vec![id("a"), id("b"), id("c")]));
        assert_eq!(p("a or b or c"), Or(vec![id("a"), id("b"), id("c")]));
        assert_eq!(p("(a or b) and c"), And(vec![Or(vec![id("a"), id("b")]), id("c")]));
        assert_eq!(p("((a))"), id("a"));
        assert_eq!(p("not not a"), Not(Box::new(Not(Box::new(id("a"))))));
        assert_eq!(p("not (a or b)"), Not(Box::new(Or(vec![id("a"), id("b")]))));
        assert_eq!(p("a and(b)"), And(vec![id("a"), id("b")]));
    }

    #[test]
    fn quantifiers() {
        assert_eq!(p("1 of selection_*"), OneOf(names(&["selection_img", "selection_cli"])));
        assert_eq!(
            p("any of selection*"),
            OneOf(names(&["selection", "selection_img", "selection_cli"]))
        );
        assert_eq!(
            p("all of filter_main_*"),
            AllOf(names(&["filter_main_a", "filter_main_b"]))
        );
        assert_eq!(p("1 of selection"), OneOf(names(&["selection"])));
        assert_eq!(p("all of a"), AllOf(names(&["a"])));
        assert_eq!(
            p("1 of filter_main_?"),
            OneOf(names(&["filter_main_a", "filter_main_b"]))
        );
        assert_eq!(p("1 of _*"), OneOf(names(&["_helper"])));
        assert_eq!(
            p("selection and not 1 of filter_*"),
            And(vec![
                id("selection"),
                Not(Box::new(OneOf(names(&[
                    "filter_main_a",
                    "filter_main_b",
                    "filter_optional"
                ]))))
            ])
        );
    }

    #[test]
    fn them_skips_underscore_names() {
        let Condition::AllOf(all) = p("all of them") else {
            panic!()
        };
        assert_eq!(all.len(), NAMES.len() - 1);
        assert!(!all.contains(&"_helper".to_string()));
        assert_eq!(all[0], "selection");
        let Condition::OneOf(one) = p("1 of them") else {
            panic!()
        };
        assert_eq!(one, all);
        assert_eq!(
            parse_condition("1 of them", &["_only"]),
            Err(RuleErrorKind::PatternMatchesNothing("them".into()))
        );
    }

    #[test]
    fn resolution_errors() {
        assert_eq!(
            err("1 of nomatch_*"),
            RuleErrorKind::PatternMatchesNothing("nomatch_*".into())
        );
        assert_eq!(err("selection and sel"), RuleErrorKind::UnknownIdentifier("sel".into()));
        assert_eq!(
            err("all of missing"),
            RuleErrorKind::UnknownIdentifier("missing".into())
        );
        assert_eq!(err("Selection"), RuleErrorKind::UnknownIdentifier("Selection".into()));
    }

    #[test]
    fn aggregation() {
        assert_eq!(
            err("selection | count() by host > 5"),
            RuleErrorKind::Aggregation("count() by host > 5".into())
        );
        assert_eq!(
            err("selection | near other"),
            RuleErrorKind::Aggregation("near other".into())
        );
    }

    fn bad_msg(text: &str) -> String {
        match err(text) {
            RuleErrorKind::BadCondition(m) => {
                assert!(m.contains(text.trim()) || text.trim().is_empty(), "{m}");
                m
            }
            other => panic!("{text}: expected BadCondition, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors() {
        assert!(bad_msg("").contains("empty"));
        assert!(bad_msg("   ").contains("empty"));
        assert!(bad_msg("(a and b").contains("missing `)`"));
        assert!(bad_msg("a and b)").contains("unbalanced"));
        assert!(bad_msg(")a").contains("unexpected `)`"));
        assert!(bad_msg("a b").contains("unexpected `b` at position 3"));
        assert!(bad_msg("a and").contains("unexpected end"));
        assert!(bad_msg("and a").contains("unexpected `and`"));
        assert!(bad_msg("a or or b").contains("unexpected `or`"));
        assert!(bad_msg("not").contains("unexpected end"));
        assert!(bad_msg("1 selection").contains("expected `of`"));
        assert!(bad_msg("all of").contains("after `all of`"));
        assert!(bad_msg("1 of (a)").contains("after `1 of`"));
        assert!(bad_msg("2 of selection*").contains("`2 of`"));
        assert!(bad_msg("selection*").contains("only valid after"));
        assert!(bad_msg("them").contains("only valid after"));
        assert!(bad_msg("of a").contains("must follow"));
        assert!(bad_msg("a && b").contains("unexpected character `&`"));
        assert!(bad_msg("All of them").contains("`All of`"));
        assert!(bad_msg("(a and (b)").contains("missing `)`"));
        assert!(bad_msg(&format!("{}a{}", "(".repeat(100), ")".repeat(100))).contains("nested"));
        assert!(bad_msg(&format!("{}a", "not ".repeat(100))).contains("nested"));
    }

    #[test]
    fn glob_matching() {
        assert!(glob("sel*", "selection"));
        assert!(glob("*", ""));
        assert!(glob("*tion", "selection"));
        assert!(glob("s*l*n", "selection"));
        assert!(!glob("s*x", "selection"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("a**", "a"));
    }
}

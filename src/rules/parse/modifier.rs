//! Field keys (`field|mod1|mod2`) and the rules for combining modifiers.
//!
//! Contract: [`parse_key`] accepts exactly the modifier names of the Sigma
//! specification (v2.1 appendix), and [`validate`] rejects every combination
//! that has no meaning, with a message naming the modifiers involved. What a
//! valid combination *does* is the compiler's business.
//!
//! Combination rules (from the specification and pySigma's type checks):
//! - no modifier twice;
//! - `exists` stands alone, needs a field and takes one boolean;
//! - at most one of `contains` / `startswith` / `endswith`;
//! - `re` takes no string-shaping modifier (`contains`, `startswith`, `endswith`,
//!   `windash`, `base64*`, `utf16*`/`wide`, `cidr`, `expand`, `fieldref`, `cased`),
//!   and its flags `i`, `m`, `s` are only valid after it;
//! - `cidr` stands alone;
//! - at most one of `lt` / `lte` / `gt` / `gte`, optionally preceded by one time
//!   part (`minute` … `year`), and only with numbers; a time part alone or with `neq`
//!   also takes numbers;
//! - `base64` and `base64offset` exclude each other; `utf16le` / `utf16be` / `utf16` /
//!   `wide` (one of them) must be followed by one of them;
//! - `fieldref` (needs a field) and `expand` take strings;
//! - null values take no modifier except `neq`.

use crate::rules::ast::{Modifier, Value};
use crate::rules::error::RuleErrorKind;

/// A parsed `field|mods` key. `field` is `None` for keyword items (`|all`, `|contains`, or an empty key).
#[derive(Debug, PartialEq)]
pub struct Key {
    pub field: Option<String>,
    pub modifiers: Vec<Modifier>,
}

const REGEX_FLAGS: &[&str] = &["i", "ignorecase", "m", "multiline", "s", "dotall"];

/// Splits a detection key into its field name and modifiers.
pub fn parse_key(key: &str) -> Result<Key, RuleErrorKind> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or_default();
    let mut modifiers = Vec::new();
    for name in parts {
        let after_re = modifiers.contains(&Modifier::Re);
        match Modifier::parse(name, after_re) {
            Some(m) => modifiers.push(m),
            None if name.is_empty() => {
                return Err(RuleErrorKind::InvalidKey {
                    key: key.to_owned(),
                    reason: "empty modifier name (stray `|`)".into(),
                })
            }
            None if REGEX_FLAGS.contains(&name) => {
                return Err(RuleErrorKind::InvalidModifiers(format!(
                    "`{name}` is a regular expression flag and is only valid after `re`"
                )))
            }
            None => return Err(RuleErrorKind::UnknownModifier(name.to_owned())),
        }
    }
    Ok(Key {
        field: (!field.is_empty()).then(|| field.to_owned()),
        modifiers,
    })
}

/// Why a modifier list is invalid: the error and, for value errors, the index
/// of the offending value (so the caller can point at it; `None` means the
/// key for modifier errors and the whole value for value errors).
pub type Invalid = (RuleErrorKind, Option<usize>);

fn bad_mods(msg: String) -> Invalid {
    (RuleErrorKind::InvalidModifiers(msg), None)
}

fn bad_value(msg: String, index: usize) -> Invalid {
    (RuleErrorKind::InvalidValue(msg), Some(index))
}

fn list(mods: &[Modifier]) -> String {
    mods.iter()
        .map(|m| format!("`{}`", m.as_str()))
        .collect::<Vec<_>>()
        .join(" and ")
}

const POSITION: &[Modifier] = &[Modifier::Contains, Modifier::StartsWith, Modifier::EndsWith];
const COMPARE: &[Modifier] = &[Modifier::Lt, Modifier::Lte, Modifier::Gt, Modifier::Gte];
const TIME_PART: &[Modifier] = &[
    Modifier::Minute,
    Modifier::Hour,
    Modifier::Day,
    Modifier::Week,
    Modifier::Month,
    Modifier::Year,
];
const UTF16: &[Modifier] = &[Modifier::Utf16le, Modifier::Utf16be, Modifier::Utf16, Modifier::Wide];
const BASE64: &[Modifier] = &[Modifier::Base64, Modifier::Base64Offset];
const NOT_WITH_RE: &[Modifier] = &[
    Modifier::Contains,
    Modifier::StartsWith,
    Modifier::EndsWith,
    Modifier::Windash,
    Modifier::Base64,
    Modifier::Base64Offset,
    Modifier::Utf16le,
    Modifier::Utf16be,
    Modifier::Utf16,
    Modifier::Wide,
    Modifier::Cidr,
    Modifier::Expand,
    Modifier::Fieldref,
    Modifier::Cased,
];
const NOT_WITH_FIELDREF: &[Modifier] = &[
    Modifier::Windash,
    Modifier::Base64,
    Modifier::Base64Offset,
    Modifier::Utf16le,
    Modifier::Utf16be,
    Modifier::Utf16,
    Modifier::Wide,
    Modifier::Expand,
];

fn of(mods: &[Modifier], set: &[Modifier]) -> Vec<Modifier> {
    mods.iter().copied().filter(|m| set.contains(m)).collect()
}

fn is_number(v: &Value) -> bool {
    matches!(v, Value::Number { .. })
}

fn is_string(v: &Value) -> bool {
    matches!(v, Value::String(_))
}

/// Checks a field item's modifiers against each other and against its values.
pub fn validate(field: Option<&str>, mods: &[Modifier], values: &[Value]) -> Result<(), Invalid> {
    for (i, m) in mods.iter().enumerate() {
        if mods[..i].contains(m) {
            return Err(bad_mods(format!("`{}` is given more than once", m.as_str())));
        }
    }

    if mods.contains(&Modifier::Exists) {
        if mods.len() > 1 {
            return Err(bad_mods("`exists` cannot be combined with other modifiers".into()));
        }
        if field.is_none() {
            return Err(bad_mods("`exists` needs a field name".into()));
        }
        return match values {
            [Value::Bool { .. }] => Ok(()),
            [other] => Err(bad_value(
                format!("`exists` takes `true` or `false`, not `{}`", other.text()),
                0,
            )),
            _ => Err((
                RuleErrorKind::InvalidValue("`exists` takes a single boolean (`true` or `false`), not a list".into()),
                None,
            )),
        };
    }

    let position = of(mods, POSITION);
    if position.len() > 1 {
        return Err(bad_mods(format!(
            "only one of `contains`, `startswith`, `endswith` may be used, found {}",
            list(&position)
        )));
    }

    if mods.contains(&Modifier::Re) {
        if let Some(&m) = mods.iter().find(|m| NOT_WITH_RE.contains(m)) {
            let hint = if m == Modifier::Cased {
                " (regular expressions are case-sensitive; use `re|i` for case-insensitive)"
            } else {
                ""
            };
            return Err(bad_mods(format!("`re` cannot be combined with `{}`{hint}", m.as_str())));
        }
        if let Some(&m) = mods.iter().find(|m| COMPARE.contains(m) || TIME_PART.contains(m)) {
            return Err(bad_mods(format!("`re` cannot be combined with `{}`", m.as_str())));
        }
    }

    if mods.contains(&Modifier::Cidr) && mods.len() > 1 {
        return Err(bad_mods(format!(
            "`cidr` cannot be combined with other modifiers (found {})",
            list(mods)
        )));
    }

    let compare = of(mods, COMPARE);
    let time = of(mods, TIME_PART);
    if compare.len() > 1 {
        return Err(bad_mods(format!(
            "only one of `lt`, `lte`, `gt`, `gte` may be used, found {}",
            list(&compare)
        )));
    }
    if time.len() > 1 {
        return Err(bad_mods(format!(
            "only one time part (`minute` … `year`) may be used, found {}",
            list(&time)
        )));
    }
    if let Some(&t) = time.first() {
        if let Some(&other) = mods
            .iter()
            .find(|m| !TIME_PART.contains(m) && !COMPARE.contains(m) && **m != Modifier::Neq)
        {
            return Err(bad_mods(format!(
                "`{}` can only be followed by a comparison (`lt`, `lte`, `gt`, `gte`) or `neq`, not combined with `{}`",
                t.as_str(),
                other.as_str()
            )));
        }
        if mods[0] != t {
            return Err(bad_mods(format!("`{}` must be the first modifier", t.as_str())));
        }
    }
    if let Some(&c) = compare.first() {
        if let Some(&other) = mods.iter().find(|m| !TIME_PART.contains(m) && !COMPARE.contains(m)) {
            return Err(bad_mods(format!(
                "`{}` cannot be combined with `{}` (only a time part such as `hour|{}` may precede it)",
                c.as_str(),
                other.as_str(),
                c.as_str()
            )));
        }
    }
    if let Some(&m) = compare.first().or(time.first()) {
        if let Some(i) = values.iter().position(|v| !is_number(v)) {
            return Err(bad_value(
                format!("`{}` compares numbers, not `{}`", m.as_str(), values[i].text()),
                i,
            ));
        }
    }

    let base64 = of(mods, BASE64);
    if base64.len() > 1 {
        return Err(bad_mods("`base64` and `base64offset` are mutually exclusive".into()));
    }
    let utf16 = of(mods, UTF16);
    if utf16.len() > 1 {
        return Err(bad_mods(format!(
            "only one of `utf16le`, `utf16be`, `utf16`, `wide` may be used, found {}",
            list(&utf16)
        )));
    }
    if let Some(&u) = utf16.first() {
        let at = mods.iter().position(|m| *m == u).unwrap_or(0);
        if !mods[at + 1..].iter().any(|m| BASE64.contains(m)) {
            return Err(bad_mods(format!(
                "`{}` must be followed by `base64` or `base64offset`",
                u.as_str()
            )));
        }
    }

    if mods.contains(&Modifier::Fieldref) {
        if field.is_none() {
            return Err(bad_mods("`fieldref` needs a field name".into()));
        }
        if let Some(&m) = mods.iter().find(|m| NOT_WITH_FIELDREF.contains(m)) {
            return Err(bad_mods(format!("`fieldref` cannot be combined with `{}`", m.as_str())));
        }
        if let Some(i) = values.iter().position(|v| !is_string(v)) {
            return Err(bad_value(
                format!("`fieldref` takes field names (strings), not `{}`", values[i].text()),
                i,
            ));
        }
    }
    if mods.contains(&Modifier::Expand) {
        if let Some(i) = values.iter().position(|v| !is_string(v)) {
            return Err(bad_value(
                format!(
                    "`expand` takes placeholder strings like `%name%`, not `{}`",
                    values[i].text()
                ),
                i,
            ));
        }
    }

    if let Some(i) = values.iter().position(|v| *v == Value::Null) {
        if let Some(m) = mods.iter().find(|m| **m != Modifier::Neq) {
            return Err(bad_value(
                format!("null cannot be used with the `{}` modifier", m.as_str()),
                i,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::ast::SigmaString;
    use Modifier::*;

    fn s(t: &str) -> Value {
        Value::String(SigmaString::parse(t))
    }
    fn n(t: &str) -> Value {
        Value::Number {
            text: t.into(),
            value: t.parse().unwrap(),
        }
    }
    fn b(v: bool) -> Value {
        Value::Bool {
            text: v.to_string(),
            value: v,
        }
    }

    fn mods_err(field: Option<&str>, mods: &[Modifier], values: &[Value]) -> String {
        match validate(field, mods, values) {
            Err((RuleErrorKind::InvalidModifiers(m), None)) => m,
            other => panic!("expected InvalidModifiers for {mods:?}, got {other:?}"),
        }
    }

    fn value_err(field: Option<&str>, mods: &[Modifier], values: &[Value]) -> (String, Option<usize>) {
        match validate(field, mods, values) {
            Err((RuleErrorKind::InvalidValue(m), i)) => (m, i),
            other => panic!("expected InvalidValue for {mods:?}, got {other:?}"),
        }
    }

    #[test]
    fn keys() {
        assert_eq!(
            parse_key("CommandLine|contains|all").unwrap(),
            Key {
                field: Some("CommandLine".into()),
                modifiers: vec![Contains, All]
            }
        );
        assert_eq!(
            parse_key("Image").unwrap(),
            Key {
                field: Some("Image".into()),
                modifiers: vec![]
            }
        );
        assert_eq!(
            parse_key("|all").unwrap(),
            Key {
                field: None,
                modifiers: vec![All]
            }
        );
        assert_eq!(parse_key("").unwrap().field, None);
        assert_eq!(parse_key("x|re|i|m|s").unwrap().modifiers, vec![Re, ReI, ReM, ReS]);
        assert_eq!(
            parse_key("x|re|ignorecase|dotall").unwrap().modifiers,
            vec![Re, ReI, ReS]
        );
        assert_eq!(
            parse_key("x|contians"),
            Err(RuleErrorKind::UnknownModifier("contians".into()))
        );
        assert_eq!(
            parse_key("x|Contains"),
            Err(RuleErrorKind::UnknownModifier("Contains".into()))
        );
        assert!(matches!(
            parse_key("x|contains|i"),
            Err(RuleErrorKind::InvalidModifiers(m)) if m.contains("only valid after `re`")
        ));
        assert!(matches!(
            parse_key("x||contains"),
            Err(RuleErrorKind::InvalidKey { .. })
        ));
    }

    #[test]
    fn valid_combinations() {
        let ok: &[(&[Modifier], Vec<Value>)] = &[
            (&[], vec![s("a")]),
            (&[Contains, All], vec![s("a"), s("b")]),
            (&[Contains, Windash], vec![s("-a")]),
            (&[Base64Offset, Contains], vec![s("a")]),
            (&[Wide, Base64Offset, Contains], vec![s("a")]),
            (&[Utf16le, Base64], vec![s("a")]),
            (&[Re], vec![s("a.*b")]),
            (&[Re, ReI, ReM], vec![s("a")]),
            (&[Re, All], vec![s("a"), s("b")]),
            (&[Cidr], vec![s("10.0.0.0/8")]),
            (&[Gte], vec![n("5")]),
            (&[Hour, Gte], vec![n("22")]),
            (&[Hour], vec![n("3")]),
            (&[Exists], vec![b(false)]),
            (&[Fieldref], vec![s("TargetUser")]),
            (&[Fieldref, Neq], vec![s("TargetUser")]),
            (&[Fieldref, StartsWith], vec![s("TargetUser")]),
            (&[Contains, Expand], vec![s("%dirs%")]),
            (&[Contains, Cased], vec![s("a")]),
            (&[Neq], vec![Value::Null]),
            (&[], vec![Value::Null]),
        ];
        for (mods, values) in ok {
            assert_eq!(validate(Some("f"), mods, values), Ok(()), "{mods:?}");
        }
    }

    #[test]
    fn invalid_combinations() {
        let cases: &[(&[Modifier], &str)] = &[
            (&[Contains, Contains], "more than once"),
            (&[Exists, All], "`exists` cannot be combined"),
            (&[Contains, EndsWith], "only one of `contains`"),
            (&[Re, Contains], "`re` cannot be combined with `contains`"),
            (&[Windash, Re], "`re` cannot be combined with `windash`"),
            (&[Re, Cased], "case-insensitive"),
            (&[Base64, Re], "`re` cannot be combined with `base64`"),
            (&[Cidr, All], "`cidr` cannot be combined"),
            (&[Cidr, Contains], "`cidr` cannot be combined"),
            (&[Gt, Lt], "only one of `lt`"),
            (&[Gt, Contains], "`gt` cannot be combined with `contains`"),
            (&[Hour, Minute], "only one time part"),
            (&[Gte, Hour], "`hour` must be the first"),
            (&[Hour, Contains], "`hour` can only be followed"),
            (&[Base64, Base64Offset], "mutually exclusive"),
            (&[Wide], "`wide` must be followed by `base64`"),
            (&[Base64, Utf16le], "`utf16le` must be followed by `base64`"),
            (&[Utf16le, Wide, Base64], "only one of `utf16le`"),
            (&[Fieldref, Base64], "`fieldref` cannot be combined with `base64`"),
        ];
        for (mods, want) in cases {
            let values = if mods.iter().any(|m| COMPARE.contains(m) || TIME_PART.contains(m)) {
                vec![n("1")]
            } else {
                vec![s("x")]
            };
            let got = mods_err(Some("f"), mods, &values);
            assert!(got.contains(want), "{mods:?}: {got}");
        }
        assert!(mods_err(None, &[Exists], &[b(true)]).contains("needs a field"));
        assert!(mods_err(None, &[Fieldref], &[s("x")]).contains("needs a field"));
    }

    #[test]
    fn invalid_values() {
        let (m, i) = value_err(Some("f"), &[Exists], &[s("yes")]);
        assert!(m.contains("`exists` takes `true` or `false`"), "{m}");
        assert_eq!(i, Some(0));
        assert_eq!(value_err(Some("f"), &[Exists], &[b(true), b(false)]).1, None);
        value_err(Some("f"), &[Exists], &[n("1")]);
        let (m, i) = value_err(Some("f"), &[Gte], &[n("1"), s("abc")]);
        assert!(m.contains("compares numbers, not `abc`"), "{m}");
        assert_eq!(i, Some(1));
        value_err(Some("f"), &[Hour], &[s("x")]);
        value_err(Some("f"), &[Fieldref], &[n("1")]);
        value_err(Some("f"), &[Expand], &[b(true)]);
        let (m, _) = value_err(Some("f"), &[Contains], &[Value::Null]);
        assert!(m.contains("null cannot be used with the `contains`"), "{m}");
    }
}

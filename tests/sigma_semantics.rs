//! Sigma value and condition semantics, one construct per test, through the
//! public library API (parse → compile → decode → scan). Every check also
//! runs the naive reference evaluator, so the indexed matcher and the
//! reference must agree on each case.

use std::path::PathBuf;
use std::sync::Arc;

use tocsin::decode::JsonDecoder;
use tocsin::matcher::compile::CompileOptions;
use tocsin::matcher::{reference, Plan, Scratch};
use tocsin::rules::parse::parse_str;

fn rule_with(detection: &str) -> String {
    format!("title: t\nid: r1\nlogsource:\n    product: test\ndetection:\n{detection}")
}

fn check(detection: &str, event: &str, opts: &CompileOptions) -> bool {
    let (rules, errors) = parse_str(&rule_with(detection), Arc::new(PathBuf::from("t.yml")));
    assert!(errors.is_empty(), "parse errors: {errors:?}");
    let rules: Vec<_> = rules.into_iter().map(Arc::new).collect();
    let (plan, errors) = Plan::compile(&rules, opts);
    assert!(errors.is_empty(), "compile errors: {errors:?}");
    let mut dec = JsonDecoder::new(1 << 20);
    let ev = dec.decode(event.as_bytes()).expect("test event is JSON");
    let mut s = Scratch::new();
    let fast = !plan.scan(ev.root(), &mut s).is_empty();
    let slow = reference::matches(&rules[0], ev.root(), opts);
    assert_eq!(
        fast, slow,
        "indexed and reference disagree for\n{detection}\non {event}"
    );
    fast
}

fn m(detection: &str, event: &str) -> bool {
    check(detection, event, &CompileOptions::default())
}

fn compile_error(detection: &str, opts: &CompileOptions) -> String {
    let (rules, errors) = parse_str(&rule_with(detection), Arc::new(PathBuf::from("t.yml")));
    if !errors.is_empty() {
        return errors[0].to_string();
    }
    let rules: Vec<_> = rules.into_iter().map(Arc::new).collect();
    let (_, errors) = Plan::compile(&rules, opts);
    errors.first().map(|e| e.to_string()).unwrap_or_default()
}

const SEL: &str = "    condition: sel\n";

fn sel(body: &str) -> String {
    format!("    sel:\n{body}{SEL}")
}

#[test]
fn equality_is_case_insensitive_by_default_and_exact_with_cased() {
    let d = sel("        f: 'Hello World'\n");
    assert!(m(&d, r#"{"f":"hello world"}"#));
    assert!(!m(&d, r#"{"f":"hello world!"}"#));
    let d = sel("        f|cased: 'Hello'\n");
    assert!(m(&d, r#"{"f":"Hello"}"#));
    assert!(!m(&d, r#"{"f":"hello"}"#));
}

#[test]
fn non_ascii_case_folding() {
    let d = sel("        f|contains: 'ÄRGER'\n");
    assert!(m(&d, r#"{"f":"viel ärger heute"}"#));
}

#[test]
fn wildcards_star_and_question_mark() {
    let d = sel("        f: 'a*c?e'\n");
    assert!(m(&d, r#"{"f":"abbbcde"}"#));
    assert!(m(&d, r#"{"f":"acxe"}"#));
    assert!(!m(&d, r#"{"f":"acde!"}"#));
    assert!(!m(&d, r#"{"f":"ace"}"#));
}

#[test]
fn star_spans_newlines() {
    let d = sel("        f: 'first*last'\n");
    assert!(m(&d, r#"{"f":"first line\nsecond\nlast"}"#));
}

#[test]
fn wildcards_stay_active_inside_contains_startswith_endswith() {
    assert!(m(&sel("        f|contains: 'a*z'\n"), r#"{"f":"xx a-to-z yy"}"#));
    // A wildcard right after a backslash needs the backslash escaped (`\\\\*`):
    // `\\*` is an escaped, literal star.
    let ev = r#"{"f":"C:\\Users\\bob\\AppData\\x.exe"}"#;
    assert!(m(&sel("        f|startswith: 'C:\\Users\\\\*\\AppData'\n"), ev));
    assert!(!m(&sel("        f|startswith: 'C:\\Users\\*\\AppData'\n"), ev));
    assert!(m(
        &sel("        f|startswith: 'C:\\Users\\*\\AppData'\n"),
        r#"{"f":"C:\\Users*\\AppData\\x.exe"}"#
    ));
    assert!(m(&sel("        f|endswith: '.p?1'\n"), r#"{"f":"script.ps1"}"#));
    assert!(!m(&sel("        f|endswith: '.p?1'\n"), r#"{"f":"script.ps1x"}"#));
}

#[test]
fn backslash_escaping_follows_the_spec() {
    // \* is a literal star
    let d = sel("        f: 'a\\*b'\n");
    assert!(m(&d, r#"{"f":"a*b"}"#));
    assert!(!m(&d, r#"{"f":"axxb"}"#));
    // \\ is one literal backslash (and the star after it stays a wildcard)
    let d = sel("        f: 'C:\\\\*'\n");
    assert!(m(&d, r#"{"f":"C:\\Windows"}"#));
    // a backslash before any other character is literal
    let d = sel("        f: 'C:\\Windows\\System32'\n");
    assert!(m(&d, r#"{"f":"c:\\windows\\system32"}"#));
    // \? is a literal question mark
    let d = sel("        f: 'what\\?'\n");
    assert!(m(&d, r#"{"f":"what?"}"#));
    assert!(!m(&d, r#"{"f":"whatx"}"#));
}

#[test]
fn empty_string_matches_only_empty_values() {
    let d = sel("        f: ''\n");
    assert!(m(&d, r#"{"f":""}"#));
    assert!(!m(&d, r#"{"f":"x"}"#));
    assert!(!m(&d, r#"{"g":""}"#));
}

#[test]
fn null_means_absent_or_null() {
    let d = sel("        f: null\n");
    assert!(m(&d, r#"{"g":1}"#));
    assert!(m(&d, r#"{"f":null}"#));
    assert!(!m(&d, r#"{"f":""}"#));
    assert!(!m(&d, r#"{"f":"x"}"#));
}

#[test]
fn numbers_and_booleans_match_numbers_or_strings() {
    let d = sel("        EventID: 4624\n");
    assert!(m(&d, r#"{"EventID":4624}"#));
    assert!(m(&d, r#"{"EventID":"4624"}"#));
    assert!(!m(&d, r#"{"EventID":46240}"#));
    let d = sel("        Enabled: true\n");
    assert!(m(&d, r#"{"Enabled":true}"#));
    assert!(m(&d, r#"{"Enabled":"True"}"#));
    assert!(!m(&d, r#"{"Enabled":false}"#));
}

#[test]
fn original_scalar_text_is_kept() {
    let d = sel("        Status: 00000429\n");
    assert!(m(&d, r#"{"Status":"00000429"}"#));
    assert!(!m(&d, r#"{"Status":429}"#));
    let d = sel("        Code: '0x10'\n");
    assert!(m(&d, r#"{"Code":"0x10"}"#));
}

#[test]
fn lists_are_or_maps_are_and_lists_of_maps_are_or() {
    let d = sel("        a:\n            - x\n            - y\n        b: z\n");
    assert!(m(&d, r#"{"a":"y","b":"z"}"#));
    assert!(!m(&d, r#"{"a":"y","b":"q"}"#));
    let d = sel("        - a: x\n        - b: y\n");
    assert!(m(&d, r#"{"b":"y"}"#));
    assert!(!m(&d, r#"{"a":"y"}"#));
}

#[test]
fn all_modifier_ands_the_values() {
    let d = sel("        f|contains|all:\n            - one\n            - two\n");
    assert!(m(&d, r#"{"f":"two and one"}"#));
    assert!(!m(&d, r#"{"f":"one only"}"#));
}

#[test]
fn exists_tests_presence_even_of_null() {
    let d = sel("        f|exists: true\n");
    assert!(m(&d, r#"{"f":null}"#));
    assert!(m(&d, r#"{"f":""}"#));
    assert!(!m(&d, r#"{"g":1}"#));
    let d = sel("        f|exists: false\n");
    assert!(m(&d, r#"{"g":1}"#));
    assert!(!m(&d, r#"{"f":null}"#));
}

#[test]
fn neq_negates_the_value() {
    let d = sel("        f|neq: admin\n        g: 1\n");
    assert!(m(&d, r#"{"f":"bob","g":1}"#));
    assert!(!m(&d, r#"{"f":"ADMIN","g":1}"#));
}

#[test]
fn windash_makes_all_dashes_interchangeable() {
    let d = sel("        CommandLine|windash|contains: ' -exec bypass'\n");
    for dash in ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"] {
        assert!(
            m(&d, &format!(r#"{{"CommandLine":"powershell {dash}exec bypass"}}"#)),
            "dash {dash}"
        );
    }
    assert!(!m(&d, r#"{"CommandLine":"powershell +exec bypass"}"#));
    // every dash position, independently
    let d = sel("        c|windash|contains: '-a -b'\n");
    assert!(m(&d, r#"{"c":"/a \u2014b"}"#));
}

#[test]
fn all_with_windash_ands_values_and_ors_variants() {
    let d = sel("        c|windash|contains|all:\n            - '-x'\n            - '-y'\n");
    assert!(m(&d, r#"{"c":"tool /x -y"}"#));
    assert!(!m(&d, r#"{"c":"tool /x"}"#));
}

#[test]
fn regex_searches_unanchored_and_honours_flags() {
    assert!(m(&sel("        f|re: 'b[0-9]+c'\n"), r#"{"f":"aab123cdd"}"#));
    assert!(!m(&sel("        f|re: '^b'\n"), r#"{"f":"ab"}"#));
    assert!(
        !m(&sel("        f|re: 'ABC'\n"), r#"{"f":"abc"}"#),
        "case-sensitive by default"
    );
    assert!(m(&sel("        f|re|i: 'ABC'\n"), r#"{"f":"abc"}"#));
    assert!(m(&sel("        f|re|m: '^two$'\n"), r#"{"f":"one\ntwo\nthree"}"#));
    assert!(!m(&sel("        f|re: '^two$'\n"), r#"{"f":"one\ntwo\nthree"}"#));
    assert!(m(&sel("        f|re|s: 'one.two'\n"), r#"{"f":"one\ntwo"}"#));
    assert!(!m(&sel("        f|re: 'one.two'\n"), r#"{"f":"one\ntwo"}"#));
    // look-around (not supported by the regex crate) still works
    assert!(m(&sel("        f|re: 'foo(?!bar)'\n"), r#"{"f":"foobaz"}"#));
    assert!(!m(&sel("        f|re: 'foo(?!bar)'\n"), r#"{"f":"foobar"}"#));
}

fn b64(s: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn base64_encodes_the_value() {
    let d = sel("        f|base64: 'secret'\n");
    assert!(m(&d, &format!(r#"{{"f":"{}"}}"#, b64(b"secret"))));
    let d = sel("        f|base64|contains: 'http'\n");
    assert!(m(&d, &format!(r#"{{"f":"x {} y"}}"#, b64(b"http"))));
}

#[test]
fn base64offset_finds_the_value_at_every_offset() {
    let d = sel("        f|base64offset|contains: 'http://'\n");
    for prefix in ["", "a", "ab", "abc", "abcd"] {
        let enc = b64(format!("{prefix}http://evil.example/x").as_bytes());
        assert!(m(&d, &format!(r#"{{"f":"{enc}"}}"#)), "prefix {prefix:?}: {enc}");
    }
    assert!(!m(&d, &format!(r#"{{"f":"{}"}}"#, b64(b"nothing to see here"))));
}

#[test]
fn utf16_encodings_before_base64() {
    let wide: Vec<u8> = "cmd".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    let d = sel("        f|wide|base64offset|contains: 'cmd'\n");
    let mut shifted = b"xx".to_vec();
    shifted.extend(&wide);
    assert!(m(&d, &format!(r#"{{"f":"{}"}}"#, b64(&shifted))));
    let d = sel("        f|utf16le|base64: 'cmd'\n");
    assert!(m(&d, &format!(r#"{{"f":"{}"}}"#, b64(&wide))));
    let be: Vec<u8> = "cmd".encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
    assert!(m(
        &sel("        f|utf16be|base64: 'cmd'\n"),
        &format!(r#"{{"f":"{}"}}"#, b64(&be))
    ));
    let mut bom = vec![0xFF, 0xFE];
    bom.extend(&wide);
    assert!(m(
        &sel("        f|utf16|base64: 'cmd'\n"),
        &format!(r#"{{"f":"{}"}}"#, b64(&bom))
    ));
}

#[test]
fn numeric_comparisons() {
    assert!(m(&sel("        n|gt: 10\n"), r#"{"n":11}"#));
    assert!(!m(&sel("        n|gt: 10\n"), r#"{"n":10}"#));
    assert!(m(&sel("        n|gte: 10\n"), r#"{"n":"10"}"#));
    assert!(m(&sel("        n|lt: 2.5\n"), r#"{"n":2.4}"#));
    assert!(m(&sel("        n|lte: 3\n"), r#"{"n":3}"#));
    assert!(!m(&sel("        n|lt: 3\n"), r#"{"n":"abc"}"#));
}

#[test]
fn time_part_modifiers() {
    let ev = r#"{"t":"2024-03-10T22:45:00Z"}"#;
    assert!(m(&sel("        t|hour: 22\n"), ev));
    assert!(m(&sel("        t|minute: 45\n"), ev));
    assert!(m(&sel("        t|day: 10\n"), ev));
    assert!(m(&sel("        t|month: 3\n"), ev));
    assert!(m(&sel("        t|year: 2024\n"), ev));
    assert!(m(&sel("        t|week: 10\n"), ev));
    assert!(m(&sel("        t|hour|gte: 20\n"), ev));
    assert!(!m(&sel("        t|hour|lt: 8\n"), ev));
}

#[test]
fn cidr_v4_and_v6() {
    let d = sel("        ip|cidr:\n            - 10.0.0.0/8\n            - 'fd00::/8'\n");
    assert!(m(&d, r#"{"ip":"10.20.30.40"}"#));
    assert!(m(&d, r#"{"ip":"fd12:3456::1"}"#));
    assert!(!m(&d, r#"{"ip":"11.0.0.1"}"#));
    assert!(!m(&d, r#"{"ip":"not an ip"}"#));
    assert!(compile_error(&sel("        ip|cidr: 10.0.0.0/40\n"), &CompileOptions::default()).contains("CIDR"));
}

#[test]
fn expand_substitutes_placeholders_from_config_only_with_the_modifier() {
    let mut opts = CompileOptions::default();
    opts.placeholders
        .insert("admins".into(), vec!["root".into(), "adm_*".into()]);
    let d = sel("        user|expand: '%admins%'\n");
    assert!(check(&d, r#"{"user":"root"}"#, &opts));
    assert!(
        check(&d, r#"{"user":"adm_carol"}"#, &opts),
        "placeholder wildcards stay wildcards"
    );
    assert!(!check(&d, r#"{"user":"bob"}"#, &opts));
    let d = sel("        user: '%admins%'\n");
    assert!(
        check(&d, r#"{"user":"%admins%"}"#, &opts),
        "without expand the text is literal"
    );
    let err = compile_error(&sel("        user|expand: '%nobody%'\n"), &opts);
    assert!(err.contains("placeholder") && err.contains("nobody"), "{err}");
}

#[test]
fn fieldref_compares_two_fields() {
    let d = sel("        a|fieldref: b\n");
    assert!(m(&d, r#"{"a":"X","b":"x"}"#));
    assert!(!m(&d, r#"{"a":"X","b":"y"}"#));
    assert!(!m(&d, r#"{"a":"X"}"#));
}

#[test]
fn keywords_search_every_value_including_numbers() {
    let d = "    keywords:\n        - 'mimikatz'\n        - 4711\n    condition: keywords\n";
    assert!(m(d, r#"{"a":{"b":"run MIMIKATZ now"}}"#));
    assert!(m(d, r#"{"a":[1,2,4711]}"#));
    assert!(!m(d, r#"{"a":"nothing"}"#));
}

#[test]
fn all_keywords_may_match_different_fields() {
    let d = "    keywords:\n        '|all':\n            - 'alpha'\n            - 'beta'\n    condition: keywords\n";
    assert!(m(d, r#"{"x":"alpha","y":"beta"}"#));
    assert!(!m(d, r#"{"x":"alpha"}"#));
}

#[test]
fn nested_paths_and_literal_dotted_keys_both_resolve() {
    let d = sel("        a.b.c: v\n");
    assert!(m(&d, r#"{"a":{"b":{"c":"v"}}}"#));
    assert!(m(&d, r#"{"a.b.c":"v"}"#));
    assert!(m(&d, r#"{"a":{"b.c":"v"}}"#));
    assert!(m(&d, r#"{"a.b":{"c":"v"}}"#));
    assert!(!m(&d, r#"{"a":{"b":{"c":"w"}}}"#));
}

#[test]
fn arrays_match_when_any_element_matches() {
    let d = sel("        tags: admin\n");
    assert!(m(&d, r#"{"tags":["user","admin"]}"#));
    assert!(!m(&d, r#"{"tags":["user"]}"#));
}

#[test]
fn field_mapping_renames_rule_fields() {
    let mut opts = CompileOptions::default();
    opts.field_map
        .insert("CommandLine".into(), vec!["process.command_line".into()]);
    let d = sel("        CommandLine|contains: whoami\n");
    assert!(check(&d, r#"{"process":{"command_line":"whoami /all"}}"#, &opts));
    let mut opts = CompileOptions::default();
    opts.field_prefixes.push("winlog.event_data.".into());
    assert!(check(
        &d,
        r#"{"winlog":{"event_data":{"CommandLine":"whoami"}}}"#,
        &opts
    ));
}

#[test]
fn condition_operators_and_precedence() {
    let ids = "    a:\n        f: a\n    b:\n        g: b\n    c:\n        h: c\n";
    let d = format!("{ids}    condition: a or b and not c\n");
    assert!(m(&d, r#"{"f":"a","h":"c"}"#), "a alone suffices: `and` binds tighter");
    assert!(m(&d, r#"{"g":"b"}"#));
    assert!(!m(&d, r#"{"g":"b","h":"c"}"#));
    let d = format!("{ids}    condition: (a or b) and not c\n");
    assert!(!m(&d, r#"{"f":"a","h":"c"}"#));
    let d = format!("{ids}    condition:\n        - a and b\n        - c\n");
    assert!(m(&d, r#"{"h":"c"}"#), "a list of conditions is an OR");
}

#[test]
fn quantified_selections_and_them() {
    let ids = "    sel_1:\n        f: a\n    sel_2:\n        g: b\n    _filter:\n        h: x\n";
    assert!(m(&format!("{ids}    condition: 1 of sel_*\n"), r#"{"g":"b"}"#));
    assert!(!m(&format!("{ids}    condition: all of sel_*\n"), r#"{"g":"b"}"#));
    assert!(m(
        &format!("{ids}    condition: all of sel_*\n"),
        r#"{"f":"a","g":"b"}"#
    ));
    assert!(m(&format!("{ids}    condition: any of sel_*\n"), r#"{"f":"a"}"#));
    // `them` skips identifiers starting with `_`
    assert!(m(&format!("{ids}    condition: all of them\n"), r#"{"f":"a","g":"b"}"#));
    assert!(m(
        &format!("{ids}    condition: 1 of them and not _filter\n"),
        r#"{"f":"a"}"#
    ));
    assert!(!m(
        &format!("{ids}    condition: 1 of them and not _filter\n"),
        r#"{"f":"a","h":"x"}"#
    ));
}

#[test]
fn negation_only_rules_are_evaluated_for_every_event() {
    let d = "    filter:\n        f: a\n    condition: not filter\n";
    assert!(m(d, r#"{"g":"z"}"#));
    assert!(!m(d, r#"{"f":"a"}"#));
}

#[test]
fn identifier_named_like_a_keyword_prefix() {
    let d = "    nothing:\n        f: a\n    condition: nothing\n";
    assert!(m(d, r#"{"f":"a"}"#));
}

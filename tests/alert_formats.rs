//! Alert formats (JSON, CEF, RFC 5424 syslog) and alert signing.
//!
//! Golden files (`tests/golden/`) pin the exact bytes of alerts with hostile
//! values; set `TOCSIN_BLESS=1` to rewrite them after an intended change
//! (and read the diff). Independent parsers written from the specifications
//! (CEF: split on unescaped `|`, extension on unescaped `=`; RFC 5424: the
//! ABNF of §6) read every rendered alert back and must recover the original
//! values, so the escaping is proven, not only snapshotted.

mod common;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Stdio;

use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use tocsin::alert::format::{AlertFormat, AlertRenderer, Facility};
use tocsin::alert::sign::{self, Signer};
use tocsin::alert::{Alert, AlertKind, Evidence, LogSourceRef, RuleRef, TimeSource, Window};
use tocsin::event::Position;

const KEY: &str = "golden-test-key";
const HOST: &str = "siem-host.example";

/// Every character the formats must escape or must not escape, in one string.
const HOSTILE: &str = "a|b=c\\d\ne\rf]g\"h [x] ü☃ é=|\\";

fn alerts() -> Vec<Alert> {
    let mut group = Map::new();
    group.insert("TargetUserName".into(), json!(format!("ev|l=\\n\"]\nü{HOSTILE}")));
    group.insert("IpAddress".into(), json!("2001:db8::7"));
    let hostile_match = Alert {
        alert_id: "0123456789abcdef0123456789abcdef".into(),
        kind: AlertKind::Match,
        rule: RuleRef {
            id: format!("rule|id=\\{HOSTILE}"),
            title: format!("Title {HOSTILE} end"),
            level: Some("high"),
            tags: vec!["attack.t1110".into(), "tag=with|pipe\\".into()],
            author: Some("Ünïcødé \"Author\"".into()),
        },
        event_time: "2026-11-02T09:11:30.123456789Z".into(),
        time_source: TimeSource::Event,
        logsource: LogSourceRef {
            product: Some("windows".into()),
            category: None,
            service: Some("security".into()),
        },
        count: 1,
        group: Map::new(),
        source: Position::File {
            file: format!("logs/{HOSTILE}.ndjson"),
            line: 7,
        },
        evidence: vec![Evidence {
            source: Position::File {
                file: "logs/x.ndjson".into(),
                line: 7,
            },
            event_time: "2026-11-02T09:11:30.123456789Z".into(),
            event: json!({
                "host": {"name": format!("host{HOSTILE}")},
                "source.ip": "198.51.100.9",
                "user": {"name": "mallory=admin"},
                "n": 1.5e-7,
                "big": 1e20,
                "msg": HOSTILE,
            }),
        }],
        window: None,
        first_event_time: None,
        last_event_time: None,
        value: None,
        contributing_rules: vec![],
        evidence_refs: vec![],
        updates: 0,
    };
    let correlation = Alert {
        alert_id: "fedcba9876543210fedcba9876543210".into(),
        kind: AlertKind::Correlation,
        rule: RuleRef {
            id: "brute-then-success".into(),
            title: "Brute Force Followed by Successful Logon".into(),
            level: None,
            tags: vec![],
            author: None,
        },
        event_time: "2026-11-02T09:10:00Z".into(),
        time_source: TimeSource::Transport,
        logsource: LogSourceRef::default(),
        count: 6,
        group: {
            group.insert("Computer".into(), json!("dc01]\"x"));
            group
        },
        source: Position::Kafka {
            topic: "winlogbeat".into(),
            partition: 2,
            offset: 41,
        },
        evidence: vec![],
        window: Some(Window {
            start: "2026-11-02T09:10:00Z".into(),
            end: "2026-11-02T09:11:30Z".into(),
        }),
        first_event_time: Some("2026-11-02T09:10:00Z".into()),
        last_event_time: Some("2026-11-02T09:11:29.5Z".into()),
        value: Some(0.30000000000000004),
        contributing_rules: vec!["failed-logon".into(), "successful-logon".into()],
        evidence_refs: vec![Position::Kafka {
            topic: "winlogbeat".into(),
            partition: 2,
            offset: 40,
        }],
        updates: 2,
    };
    let overflow = Alert {
        alert_id: "00000000000000000000000000000001".into(),
        kind: AlertKind::StateOverflow,
        rule: RuleRef {
            id: "spray".into(),
            title: "Password Spraying".into(),
            level: Some("informational"),
            tags: vec![],
            author: None,
        },
        event_time: "1999-12-31T23:59:59Z".into(),
        time_source: TimeSource::Ingest,
        logsource: LogSourceRef::default(),
        count: 12,
        group: {
            let mut g = Map::new();
            g.insert("SourceAddress".into(), json!("workstation-7"));
            g
        },
        source: Position::File {
            file: "-".into(),
            line: 1,
        },
        evidence: vec![],
        window: None,
        first_event_time: None,
        last_event_time: None,
        value: None,
        contributing_rules: vec![],
        evidence_refs: vec![],
        updates: 0,
    };
    vec![hostile_match, correlation, overflow]
}

fn renderer(format: AlertFormat, signed: bool) -> AlertRenderer {
    let r = AlertRenderer::new(format).with_hostname(HOST);
    if signed {
        r.with_signer(Signer::new(KEY).unwrap())
    } else {
        r
    }
}

/// The alerts rendered one per line.
fn render_all(r: &AlertRenderer) -> String {
    let mut all = Vec::new();
    let mut buf = Vec::new();
    for a in alerts() {
        buf.clear();
        r.render(&a, &mut buf).unwrap();
        assert!(!buf.contains(&b'\n') && !buf.contains(&b'\r'), "one alert, one line");
        all.extend_from_slice(&buf);
        all.push(b'\n');
    }
    String::from_utf8(all).expect("UTF-8")
}

fn golden(name: &str) -> PathBuf {
    common::repo().join("tests/golden").join(name)
}

fn assert_golden(name: &str, got: &str) {
    let path = golden(name);
    if std::env::var_os("TOCSIN_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
    }
    let want =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (TOCSIN_BLESS=1 writes it)", path.display()));
    assert!(
        want.as_bytes() == got.as_bytes(),
        "{name} differs from its golden file\n--- want\n{want}\n--- got\n{got}"
    );
}

#[test]
fn golden_files_match_byte_for_byte() {
    for (format, ext) in [
        (AlertFormat::Json, "json"),
        (AlertFormat::Cef, "cef"),
        (AlertFormat::Syslog, "syslog"),
    ] {
        assert_golden(&format!("alerts.{ext}"), &render_all(&renderer(format, false)));
        assert_golden(&format!("alerts.signed.{ext}"), &render_all(&renderer(format, true)));
    }
}

#[test]
fn json_is_the_unchanged_serde_bytes_and_schema_valid() {
    let r = renderer(AlertFormat::Json, false);
    let mut values = Vec::new();
    for a in alerts() {
        let mut buf = Vec::new();
        r.render(&a, &mut buf).unwrap();
        assert_eq!(buf, serde_json::to_vec(&a).unwrap());
        values.push(serde_json::from_slice::<Value>(&buf).unwrap());
    }
    common::assert_schema_valid(&values);
    // Signed: the same bytes with `,"signature":"…"` before the closing brace.
    let signed = renderer(AlertFormat::Json, true);
    let mut signed_values = Vec::new();
    for a in alerts() {
        let mut buf = Vec::new();
        signed.render(&a, &mut buf).unwrap();
        let plain = serde_json::to_vec(&a).unwrap();
        let (head, tail) = buf.split_at(plain.len() - 1);
        assert_eq!(head, &plain[..plain.len() - 1]);
        assert!(tail.starts_with(b",\"signature\":\"") && tail.ends_with(b"\"}"));
        signed_values.push(serde_json::from_slice::<Value>(&buf).unwrap());
    }
    common::assert_schema_valid(&signed_values);
}

// ---------------------------------------------------------------- CEF ----

/// A CEF line split per the standard: 7 header fields on unescaped `|`,
/// then the extension's `key=value` pairs on unescaped `=`.
struct Cef {
    header: Vec<String>,
    ext: Vec<(String, String)>,
}

fn parse_cef(line: &str) -> Cef {
    let rest = line.strip_prefix("CEF:").expect("starts with CEF:");
    let chars: Vec<char> = rest.chars().collect();
    let mut header = Vec::new();
    let mut field = String::new();
    let mut i = 0;
    while header.len() < 7 {
        let c = *chars.get(i).unwrap_or_else(|| panic!("short header: {line}"));
        match c {
            '\\' => {
                let next = chars[i + 1];
                assert!(
                    next == '\\' || next == '|',
                    "header escape \\{next} is not in the standard"
                );
                field.push(next);
                i += 1;
            }
            '|' => header.push(std::mem::take(&mut field)),
            '\n' | '\r' => panic!("line break in the header"),
            c => field.push(c),
        }
        i += 1;
    }
    let ext: Vec<char> = chars[i..].to_vec();
    // Unescaped `=` positions; a key is the word before each.
    let mut eqs = Vec::new();
    let mut j = 0;
    while j < ext.len() {
        match ext[j] {
            '\\' => j += 1,
            '=' => eqs.push(j),
            '\n' | '\r' => panic!("raw line break in the extension"),
            _ => {}
        }
        j += 1;
    }
    let key_start = |eq: usize| ext[..eq].iter().rposition(|&c| c == ' ').map_or(0, |p| p + 1);
    let mut pairs = Vec::new();
    for (n, &eq) in eqs.iter().enumerate() {
        let key: String = ext[key_start(eq)..eq].iter().collect();
        assert!(
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric()),
            "bad key `{key}` in {line}"
        );
        let end = eqs.get(n + 1).map_or(ext.len(), |&next| key_start(next) - 1);
        let raw = &ext[eq + 1..end];
        let mut value = String::new();
        let mut k = 0;
        while k < raw.len() {
            if raw[k] == '\\' {
                k += 1;
                value.push(match raw[k] {
                    '\\' => '\\',
                    '=' => '=',
                    'n' => '\n',
                    'r' => '\r',
                    other => panic!("extension escape \\{other} is not in the standard"),
                });
            } else {
                value.push(raw[k]);
            }
            k += 1;
        }
        pairs.push((key, value));
    }
    Cef { header, ext: pairs }
}

impl Cef {
    fn get(&self, key: &str) -> Option<&str> {
        self.ext.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// What a CEF header may hold: line breaks become spaces.
fn header_text(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[test]
fn cef_parses_back_to_the_original_values() {
    let text = render_all(&renderer(AlertFormat::Cef, true));
    let lines: Vec<&str> = text.lines().collect();
    let alerts = alerts();
    let json = render_all(&renderer(AlertFormat::Json, true));
    let json: Vec<Value> = json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for ((line, a), j) in lines.iter().zip(&alerts).zip(&json) {
        let cef = parse_cef(line);
        assert_eq!(
            cef.header,
            vec![
                "0".to_string(),
                "Tocsin".into(),
                "Tocsin".into(),
                env!("CARGO_PKG_VERSION").into(),
                header_text(&a.rule.id),
                header_text(&a.rule.title),
                match a.rule.level {
                    Some("high") => "8".into(),
                    Some("informational") => "1".into(),
                    _ => "5".to_string(),
                },
            ]
        );
        assert_eq!(cef.get("cs1Label"), Some("alertId"));
        assert_eq!(cef.get("cs1"), Some(a.alert_id.as_str()));
        assert_eq!(cef.get("cs2Label"), Some("signature"));
        assert_eq!(cef.get("cs2"), j["signature"].as_str());
        assert_eq!(cef.get("cnt"), Some(a.count.to_string().as_str()));
        assert_eq!(cef.get("cs3"), Some(a.source.to_string().as_str()));
        let msg = cef.get("msg").expect("msg");
        assert!(msg.starts_with(&format!("{} (", a.rule.title)), "{msg}");
        for (k, v) in &a.group {
            assert!(msg.contains(&format!("{k}={}", v.as_str().unwrap())), "{msg}");
        }
    }
    // The hostile match: values from the evidence, escaped and recovered.
    let first = parse_cef(lines[0]);
    assert_eq!(first.get("rt"), Some("1793610690123"));
    assert_eq!(first.get("src"), Some("198.51.100.9"));
    assert_eq!(first.get("suser"), Some("mallory=admin"));
    assert_eq!(first.get("dhost"), Some(format!("host{HOSTILE}").as_str()));
    assert_eq!(first.get("cs4"), Some("attack.t1110,tag=with|pipe\\"));
    assert_eq!(first.get("cat"), Some("match"));
    // The correlation: group values first; an IPv6 source is still `src`.
    let second = parse_cef(lines[1]);
    assert_eq!(second.get("src"), Some("2001:db8::7"));
    assert_eq!(second.get("dhost"), Some("dc01]\"x"));
    assert_eq!(
        second.get("suser"),
        alerts[1].group["TargetUserName"].as_str(),
        "newlines, pipes, equals signs and backslashes survive the round trip"
    );
    assert_eq!(second.get("start"), Some("1793610600000"));
    assert_eq!(second.get("end"), Some("1793610689500"));
    // A source that is not an IP address is a host name.
    let third = parse_cef(lines[2]);
    assert_eq!(third.get("src"), None);
    assert_eq!(third.get("shost"), Some("workstation-7"));
}

// ------------------------------------------------------------- syslog ----

/// An RFC 5424 message parsed per its ABNF (§6).
#[derive(Debug)]
struct Syslog {
    pri: u16,
    version: String,
    timestamp: String,
    hostname: String,
    app: String,
    procid: String,
    msgid: String,
    sd: Vec<(String, Vec<(String, String)>)>,
    msg: String,
}

fn sd_name(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|c| (33..=126).contains(&c) && !b"= ]\"".contains(&c))
}

fn parse_syslog(line: &str) -> Syslog {
    let b = line.as_bytes();
    assert_eq!(b[0], b'<');
    let close = line.find('>').expect("PRI");
    let pri: u16 = line[1..close].parse().expect("PRIVAL");
    assert!(pri <= 191 && (close - 1) <= 3);
    let mut fields = line[close + 1..].splitn(7, ' ');
    let mut next = || fields.next().expect("header field").to_string();
    let (version, timestamp, hostname, app, procid, msgid) = (next(), next(), next(), next(), next(), next());
    let rest = next();
    for (what, v, max) in [
        ("HOSTNAME", &hostname, 255),
        ("APP-NAME", &app, 48),
        ("PROCID", &procid, 128),
        ("MSGID", &msgid, 32),
    ] {
        assert!(
            (1..=max).contains(&v.len()) && v.bytes().all(|c| (33..=126).contains(&c)),
            "{what} `{v}`"
        );
    }
    // STRUCTURED-DATA
    let r: Vec<char> = rest.chars().collect();
    let mut i = 0;
    let mut sd = Vec::new();
    if r.first() == Some(&'-') {
        i = 1;
    } else {
        while r.get(i) == Some(&'[') {
            i += 1;
            let id_end = i + r[i..].iter().position(|&c| c == ' ' || c == ']').expect("SD-ID end");
            let id: String = r[i..id_end].iter().collect();
            assert!(sd_name(&id), "SD-ID `{id}`");
            i = id_end;
            let mut params = Vec::new();
            while r[i] == ' ' {
                i += 1;
                let eq = i + r[i..].iter().position(|&c| c == '=').expect("=");
                let name: String = r[i..eq].iter().collect();
                assert!(sd_name(&name), "PARAM-NAME `{name}`");
                assert_eq!(r[eq + 1], '"');
                i = eq + 2;
                let mut value = String::new();
                loop {
                    match r[i] {
                        '\\' if matches!(r[i + 1], '"' | '\\' | ']') => {
                            value.push(r[i + 1]);
                            i += 2;
                        }
                        '"' => break,
                        ']' => panic!("unescaped ] in PARAM-VALUE of {name}"),
                        c => {
                            value.push(c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                params.push((name, value));
            }
            assert_eq!(r[i], ']', "SD-ELEMENT end");
            i += 1;
            sd.push((id, params));
        }
    }
    let msg: String = match r.get(i) {
        None => String::new(),
        Some(' ') => r[i + 1..].iter().collect(),
        Some(c) => panic!("expected SP before MSG, got {c:?}"),
    };
    Syslog {
        pri,
        version,
        timestamp,
        hostname,
        app,
        procid,
        msgid,
        sd,
        msg,
    }
}

impl Syslog {
    fn param(&self, name: &str) -> Option<&str> {
        self.sd[0].1.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

#[test]
fn syslog_parses_back_to_the_original_values() {
    let text = render_all(&renderer(AlertFormat::Syslog, true));
    let alerts = alerts();
    let lines: Vec<&str> = text.lines().collect();
    for (line, a) in lines.iter().zip(&alerts) {
        let s = parse_syslog(line);
        assert_eq!(s.version, "1");
        assert_eq!(
            (s.hostname.as_str(), s.app.as_str(), s.procid.as_str(), s.msgid.as_str()),
            (HOST, "tocsin", "-", "ALERT")
        );
        assert_eq!(s.sd.len(), 1);
        assert_eq!(s.sd[0].0, "tocsin@32473");
        let sd_text = |v: &str| v.replace(['\n', '\r'], " ");
        assert_eq!(s.param("alertId"), Some(a.alert_id.as_str()));
        assert_eq!(s.param("rule"), Some(sd_text(&a.rule.id).as_str()));
        assert_eq!(s.param("title"), Some(sd_text(&a.rule.title).as_str()));
        assert_eq!(s.param("level"), a.rule.level);
        assert_eq!(s.param("count"), Some(a.count.to_string().as_str()));
        // MSG: the signed alert JSON, no BOM, and the SD signature is its signature.
        assert!(!s.msg.starts_with('\u{feff}'));
        let msg: Value = serde_json::from_str(&s.msg).expect("MSG is JSON");
        let mut unsigned = msg.clone();
        unsigned.as_object_mut().unwrap().remove("signature");
        assert_eq!(
            unsigned,
            serde_json::to_value(a).unwrap(),
            "MSG carries the exact alert"
        );
        assert_eq!(s.param("signature"), msg["signature"].as_str());
        Signer::new(KEY).unwrap().verify(&msg).expect("MSG verifies");
    }
    let first = parse_syslog(lines[0]);
    assert_eq!(first.pri, 16 * 8 + 3, "local0, high → Error");
    assert_eq!(first.timestamp, "2026-11-02T09:11:30.123456Z");
    assert_eq!(first.param("kind"), Some("match"));
    assert_eq!(
        first.param("host"),
        Some(format!("host{}", HOSTILE.replace(['\n', '\r'], " ")).as_str())
    );
    assert_eq!(first.param("src"), Some("198.51.100.9"));
    let second = parse_syslog(lines[1]);
    assert_eq!(second.pri, 16 * 8 + 5, "no level → Notice");
    assert_eq!(second.timestamp, "2026-11-02T09:10:00Z");
    assert_eq!(second.param("host"), Some("dc01]\"x"), "] and \" recovered");
    assert_eq!(
        second.param("user").map(str::to_string),
        alerts[1].group["TargetUserName"]
            .as_str()
            .map(|v| v.replace(['\n', '\r'], " "))
    );
    let third = parse_syslog(lines[2]);
    assert_eq!(third.pri, 16 * 8 + 6);
    assert_eq!(third.param("level"), Some("informational"));
    assert_eq!(third.param("src"), Some("workstation-7"));

    // The facility is configurable.
    let mut buf = Vec::new();
    renderer(AlertFormat::Syslog, false)
        .with_facility("auth".parse::<Facility>().unwrap())
        .render(&alerts[0], &mut buf)
        .unwrap();
    assert_eq!(parse_syslog(std::str::from_utf8(&buf).unwrap()).pri, 4 * 8 + 3);
}

// ------------------------------------------------------------ signing ----

#[test]
fn signature_is_the_hmac_of_the_documented_canonical_json() {
    let a = &alerts()[0];
    let mut buf = Vec::new();
    renderer(AlertFormat::Json, true).render(a, &mut buf).unwrap();
    let v: Value = serde_json::from_slice(&buf).unwrap();
    let canonical = sign::canonical(&v);
    // The canonical form, pinned: keys sorted at every depth, no whitespace,
    // no `signature`, numbers as serde_json writes them.
    assert_golden("canonical.json", &String::from_utf8(canonical.clone()).unwrap());
    let text = String::from_utf8(canonical.clone()).unwrap();
    assert!(text.starts_with(r#"{"alert_id":"0123456789abcdef0123456789abcdef","count":1,"event_time":"#));
    assert!(text.contains(r#""big":1e+20,"host":{"name":"#) && text.contains(r#""n":1.5e-7,"#));
    assert!(!text.contains("signature") && !text.contains(": ") && !text.contains(", "));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(&canonical);
    let want: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(v["signature"], want);
}

#[test]
fn signed_alerts_verify_and_any_changed_byte_fails() {
    let signer = Signer::new(KEY).unwrap();
    for line in render_all(&renderer(AlertFormat::Json, true)).lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        signer.verify(&v).expect("verifies");
        assert!(Signer::new("another key").unwrap().verify(&v).is_err());
        // Change each byte in turn (flip its lowest bit). Every change that
        // makes the line another JSON value fails. The signature covers the
        // value, not its spelling: the only changes that keep the value are
        // digits past a double's precision (0.30000000000000004 and …05 are
        // the same double), and those verify — by design, and only there.
        let bytes = line.as_bytes();
        let mut same_value = Vec::new();
        for i in 0..bytes.len() {
            let mut changed = bytes.to_vec();
            changed[i] ^= 0x01;
            let Ok(parsed) = serde_json::from_slice::<Value>(&changed) else {
                continue; // not JSON any more: cannot verify
            };
            if parsed == v {
                assert!(signer.verify(&parsed).is_ok());
                same_value.push(i);
            } else {
                assert!(
                    signer.verify(&parsed).is_err(),
                    "changing byte {i} ({:?}) went unnoticed",
                    bytes[i] as char
                );
            }
        }
        for i in same_value {
            let token_start = line[..i].rfind(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(0);
            assert!(
                line[token_start..].starts_with(":0.3000000000000000"),
                "byte {i} changed the text but not the value outside a long float: {}",
                &line[token_start..i + 1]
            );
        }
        // Re-ordering keys and re-indenting do not change the JSON value: still verifies.
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        signer.verify(&serde_json::from_str(&pretty).unwrap()).unwrap();
    }
}

#[test]
fn without_a_key_no_format_carries_a_signature() {
    for format in [AlertFormat::Json, AlertFormat::Cef, AlertFormat::Syslog] {
        let text = render_all(&renderer(format, false));
        assert!(!text.contains("signature"), "{format}: {text}");
    }
}

// ------------------------------------------------- through the binary ----

fn samples_run(extra: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let repo = common::repo();
    let mut cmd = common::bin();
    cmd.args([
        "run",
        "--rules",
        repo.join("rules").to_str().unwrap(),
        "--config",
        repo.join("samples/tocsin.toml").to_str().unwrap(),
        "--input",
        repo.join("samples/events.ndjson").to_str().unwrap(),
    ])
    .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("spawn tocsin");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

fn verify_alert(input: &[u8], env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = common::bin();
    cmd.arg("verify-alert")
        .args(args)
        .env_remove("TOCSIN_OUTPUT__SIGN_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn tocsin verify-alert");
    // verify-alert may exit before reading its input (no key given): a
    // broken pipe here is its answer, not a test failure.
    let _ = child.stdin.take().unwrap().write_all(input);
    child.wait_with_output().unwrap()
}

#[test]
fn run_formats_and_signs_and_verify_alert_checks_it() {
    let plain = samples_run(&[], &[]);
    let json = common::stdout_lines(&plain);
    assert!(json.len() >= 10);
    assert!(json.iter().all(|a| a.get("signature").is_none()));

    let env = [("TOCSIN_OUTPUT__SIGN_KEY", KEY)];
    let signed = samples_run(&["--format", "json"], &env);
    let signed_json = common::stdout_lines(&signed);
    common::assert_schema_valid(&signed_json);
    assert_eq!(signed_json.len(), json.len());
    assert!(signed_json
        .iter()
        .all(|a| a["signature"].as_str().is_some_and(|s| s.len() == 64)));
    assert!(
        !String::from_utf8_lossy(&signed.stderr).contains(KEY),
        "the key is never printed"
    );

    // verify-alert: all good → exit 0.
    let ok = verify_alert(&signed.stdout, &[("SIEM_KEY", KEY)], &["--key-env", "SIEM_KEY"]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
    let report = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(
        report.lines().filter(|l| l.starts_with("ok ")).count(),
        json.len(),
        "{report}"
    );

    // One changed value → that alert fails, exit 1.
    let text = String::from_utf8(signed.stdout.clone()).unwrap();
    let tampered = text.replacen("\"count\":1,", "\"count\":2,", 1);
    assert_ne!(tampered, text);
    let bad = verify_alert(tampered.as_bytes(), &env, &[]);
    assert_eq!(bad.status.code(), Some(1));
    let report = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(
        report.lines().filter(|l| l.starts_with("FAILED ")).count(),
        1,
        "{report}"
    );
    // Unsigned alerts fail too; no key at all is an error.
    assert_eq!(verify_alert(&plain.stdout, &env, &[]).status.code(), Some(1));
    let no_key = verify_alert(&signed.stdout, &[], &[]);
    assert!(!no_key.status.success());
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("TOCSIN_OUTPUT__SIGN_KEY"));

    // CEF and syslog: one line per alert, same alerts, signed.
    let cef = samples_run(&["--format", "cef"], &env);
    let cef = String::from_utf8(cef.stdout).unwrap();
    assert_eq!(cef.lines().count(), json.len());
    let mut cef_ids: Vec<String> = cef
        .lines()
        .map(|l| {
            let c = parse_cef(l);
            assert_eq!(c.get("cs2Label"), Some("signature"));
            c.get("cs1").unwrap().to_string()
        })
        .collect();
    let mut ids: Vec<String> = json
        .iter()
        .map(|a| a["alert_id"].as_str().unwrap().to_string())
        .collect();
    cef_ids.sort();
    ids.sort();
    assert_eq!(cef_ids, ids);

    let syslog = samples_run(&["--format", "syslog"], &env);
    assert_eq!(String::from_utf8_lossy(&syslog.stdout).lines().count(), json.len());
    for l in String::from_utf8_lossy(&syslog.stdout).lines() {
        let s = parse_syslog(l);
        assert_eq!(s.app, "tocsin");
    }
    // A SIEM receiving syslog verifies the alert its MSG carries.
    let ok = verify_alert(&syslog.stdout, &env, &[]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
}

#[test]
fn config_keys_for_formats_and_signing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("tocsin.toml");
    std::fs::write(
        &cfg,
        "[output]\nalerts_format = \"syslog\"\nsign_key = \"s3cr3t-signing-key\"\nsyslog_facility = \"local4\"\n",
    )
    .unwrap();
    let o = common::run(&["config", "--print", "--config", cfg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed = String::from_utf8_lossy(&o.stdout);
    assert!(!printed.contains("s3cr3t-signing-key"), "{printed}");
    assert!(printed.contains("sign_key = \"***\""), "{printed}");
    assert!(printed.contains("alerts_format = \"syslog\""), "{printed}");
    assert!(printed.contains("syslog_facility = \"local4\""), "{printed}");

    // The key from the config file verifies what that config signed.
    let a = &alerts()[1];
    let mut buf = Vec::new();
    AlertRenderer::new(AlertFormat::Json)
        .with_signer(Signer::new("s3cr3t-signing-key").unwrap())
        .render(a, &mut buf)
        .unwrap();
    let ok = verify_alert(&buf, &[], &["--config", cfg.to_str().unwrap()]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));

    for (bad, why) in [
        ("[output]\nalerts_format = \"xml\"\n", "xml"),
        ("[output]\nsyslog_facility = \"local9\"\n", "local9"),
        ("[output]\nsign_key = \"\"\n", "sign_key"),
    ] {
        std::fs::write(&cfg, bad).unwrap();
        let o = common::run(&["config", "--config", cfg.to_str().unwrap()]);
        assert!(!o.status.success(), "{bad}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(why),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// The Kafka path: the embedded default prints the alert topic's messages,
/// so they show `output.alerts_format` (and `--format`, which the embedded
/// run applies to the topic it prints).
#[test]
fn kafka_alert_topic_uses_output_alerts_format() {
    let o = common::bin()
        .arg("run")
        .env("TOCSIN_OUTPUT__ALERTS_FORMAT", "cef")
        .env("TOCSIN_OUTPUT__SIGN_KEY", KEY)
        .output()
        .expect("spawn tocsin");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.lines().count(), 14, "{text}");
    for l in text.lines() {
        let c = parse_cef(l);
        assert_eq!(c.header[1], "Tocsin");
        assert!(c.get("cs2").is_some_and(|s| s.len() == 64), "{l}");
    }

    let o = common::bin()
        .args(["run", "--format", "syslog"])
        .env("TOCSIN_OUTPUT__SIGN_KEY", KEY)
        .output()
        .expect("spawn tocsin");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 14, "{text}");
    text.lines().for_each(|l| assert_eq!(parse_syslog(l).msgid, "ALERT"));
    let ok = verify_alert(&o.stdout, &[("TOCSIN_OUTPUT__SIGN_KEY", KEY)], &[]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
}

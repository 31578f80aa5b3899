//! Cost of field extraction (`[[extract]]`, `src/decode/extract.rs`) per
//! event, with the shipped `syslog-sshd` profile: what a source that parses
//! raw syslog lines adds to the per-record path.
//!
//! - `extract/decode_only`: decoding the raw event (every event pays this;
//!   the baseline).
//! - `extract/failed_password_3164`: decode, extract (header + message
//!   patterns, `when` on the extracted `process.name`), build the augmented
//!   document and decode it again: the whole cost of a parsed sshd line, in
//!   the Filebeat log-input shape (`@timestamp`, `host.name`, raw line).
//! - `extract/accepted_publickey_5424`: the same for a bare RFC 5424 line
//!   with a key fingerprint (the time comes from the line).
//! - `extract/cron_not_sshd`: a line of another program on the same topic:
//!   the `contains = "sshd"` prefilter rejects it before any regex.
//! - `extract/sshd_unparsed_message`: an sshd line no message pattern parses
//!   (header fields only; every message pattern tried and failed).
//!
//! `cargo bench --bench extract`; the figures are in `benches/README.md`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use tocsin::classify::Source;
use tocsin::config::Config;
use tocsin::decode::extract::Extraction;
use tocsin::decode::JsonDecoder;

const FAILED: &str = r#"{"@timestamp":"2026-11-02T09:24:12Z","host":{"name":"bastion-1"},"log":{"file":{"path":"/var/log/auth.log"}},"message":"Nov  2 09:24:12 bastion-1 sshd[3120]: Failed password for invalid user oracle from 198.51.100.23 port 40022 ssh2"}"#;
const ACCEPTED: &str = r#"{"message":"<38>1 2026-11-02T09:25:30.000Z bastion-1 sshd 3188 - - Accepted publickey for deploy from 198.51.100.23 port 51710 ssh2: RSA SHA256:LC7u45LFTZVgAtATRynyqPOkbTW/6nnNC8vMqcg2X2o"}"#;
const CRON: &str = r#"{"@timestamp":"2026-11-02T09:30:01Z","host":{"name":"bastion-1"},"log":{"file":{"path":"/var/log/auth.log"}},"message":"Nov  2 09:30:01 bastion-1 CRON[3301]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"}"#;
const UNPARSED: &str = r#"{"@timestamp":"2026-11-02T09:30:02Z","host":{"name":"bastion-1"},"log":{"file":{"path":"/var/log/auth.log"}},"message":"Nov  2 09:30:02 bastion-1 sshd[3188]: Received disconnect from 198.51.100.23 port 51710:11: disconnected by user"}"#;

fn bench(c: &mut Criterion) {
    let cfg = Config::parse(
        "[[sources]]\nname = \"auth\"\nprofile = \"syslog-sshd\"\n",
        "bench.toml",
    )
    .unwrap();
    let source = Source::from_config(&cfg.sources[0]);
    let ex = source.extract.clone().unwrap();
    let mut decoder = JsonDecoder::new(1 << 20);
    let mut x = Extraction::new();
    let mut g = c.benchmark_group("extract");
    g.bench_function("decode_only", |b| {
        b.iter(|| {
            let d = decoder.decode(black_box(FAILED.as_bytes())).unwrap();
            black_box(d.root().is_object());
        })
    });
    for (name, line, claimed) in [
        ("failed_password_3164", FAILED, true),
        ("accepted_publickey_5424", ACCEPTED, true),
        ("cron_not_sshd", CRON, false),
        ("sshd_unparsed_message", UNPARSED, true),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let d = decoder.decode(black_box(line.as_bytes())).unwrap();
                let (claims, extracted) = source.classify(d.root(), &mut x, Some(0));
                assert_eq!(claims, claimed);
                if extracted {
                    let (aug, text) = x.augment(&ex, line.as_bytes()).unwrap();
                    black_box((aug.root().is_object(), text.len()));
                }
            })
        });
    }
    g.finish();
    // The regexes alone (capture slots reused), to see where the time goes.
    let header = regex::Regex::new(r"^(?:<\d{1,3}>)?(?:(?P<_ts>[A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d(?:\.\d+)?|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) (?P<host.hostname>\S+) )?(?P<process.name>sshd(?:-session|-auth)?)\[(?P<process.pid>\d+)\]: (?P<_msg>.*)$").unwrap();
    let body = regex::Regex::new(r"^Failed (?P<system.auth.ssh.method>\S+) for (?:invalid user )?(?P<user.name>.*?) from (?P<source.ip>\S+) port (?P<source.port>\d+)(?: ssh2)?(?:: (?P<system.auth.ssh.signature>\S+ \S+).*)?$").unwrap();
    let line = "Nov  2 09:24:12 bastion-1 sshd[3120]: Failed password for invalid user oracle from 198.51.100.23 port 40022 ssh2";
    let msg = "Failed password for invalid user oracle from 198.51.100.23 port 40022 ssh2";
    let mut g = c.benchmark_group("regex");
    let mut hl = header.capture_locations();
    g.bench_function("header_3164", |b| {
        b.iter(|| black_box(header.captures_read(&mut hl, black_box(line)).is_some()))
    });
    let mut bl = body.capture_locations();
    g.bench_function("failed_body", |b| {
        b.iter(|| black_box(body.captures_read(&mut bl, black_box(msg)).is_some()))
    });
    let ascii = regex::Regex::new(r"^(?:<[0-9]{1,3}>)?(?:(?P<_ts>[A-Z][a-z]{2} [ 0-9]?[0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9](?:\.[0-9]+)?|[0-9]{4}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9](?:\.[0-9]+)?(?:Z|[+-][0-9][0-9]:?[0-9][0-9])?) (?P<host.hostname>[^ ]+) )?(?P<process.name>sshd(?:-session|-auth)?)\[(?P<process.pid>[0-9]+)\]: (?P<_msg>.*)$").unwrap();
    let mut al = ascii.capture_locations();
    g.bench_function("header_3164_ascii_classes", |b| {
        b.iter(|| black_box(ascii.captures_read(&mut al, black_box(line)).is_some()))
    });
    g.bench_function("header_is_match", |b| {
        b.iter(|| black_box(header.is_match(black_box(line))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

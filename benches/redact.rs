//! Cost of redacting one alert's evidence (`Redactor::redact` on the event's
//! JSON value), the per-alert step of `MatchContext::alert`.
//!
//! - `redact/sysmon1_clean`: a ~1.5 KB Sysmon process-creation event
//!   (EventID 1, 29 fields, 24 of them strings) with no secret in it.
//! - `redact/sysmon1_password`: the same event running
//!   `net use … /user:CORP\svc_backup <password>` (one secret in CommandLine).
//! - `redact/cloudtrail_session_token`: a CloudTrail `AssumeRole` record whose
//!   response carries `accessKeyId` / `secretAccessKey` / `sessionToken`
//!   (two redactions: `userIdentity.accessKeyId` and the `credentials` object).
//! - `stream/mixed`, `stream/attacks`: every event of 2,000 generated Windows
//!   events (`benches/common/gen.rs`, seed 42; attack rate 0.004 and 1.0), as
//!   if each had raised an alert: clone the event's JSON value, redact it,
//!   drop it (the pipeline builds the evidence value with `to_json` just
//!   before redacting it, so it is hot in cache). `stream/clone_only` is the
//!   same loop without the redaction: subtract it. Throughput is in events.
//!
//! The single-event benchmarks redact a fresh clone of the event, made just
//! before the timed call and not timed (`BatchSize::PerIteration`: as in the
//! pipeline, where `to_json` has just built the value, it is hot in cache).
//!
//! `cargo bench --bench redact`; see `benches/README.md` for measured figures.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion, Throughput};
use serde_json::{json, Value};
use tocsin::alert::redact::{Redactor, MASK};

use common::gen::EventGen;

const STREAM_EVENTS: usize = 2_000;
const SEED: u64 = 42;

/// Sysmon EventID 1 in the flat evtx JSON shape of the benchmark stream.
fn sysmon_process_creation() -> Value {
    json!({
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Computer": "WS-6439.corp.example.com",
        "Provider_Name": "Microsoft-Windows-Sysmon",
        "EventRecordID": 1420010,
        "@timestamp": "2026-03-02T08:00:00.088499Z",
        "RuleName": "-",
        "UtcTime": "2026-03-02 08:00:00.088",
        "ProcessGuid": "{0D6BF05B-AC83-1348-54B8-126DAE1C6393}",
        "ProcessId": 20806,
        "Image": "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
        "FileVersion": "119.0.2151.72",
        "Description": "Microsoft Edge",
        "Product": "Microsoft Edge",
        "Company": "Microsoft Corporation",
        "OriginalFileName": "msedge.exe",
        "CommandLine": "\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --type=gpu-process --gpu-preferences=UAAAAAAAAADgAAAYAAAAAAAAAAAAAAAAAABgAAAAAAAwAAAAAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAA== --mojo-platform-channel-handle=2056 --field-trial-handle=1884,i,9876543210123456,1234567890,262144 /prefetch:2",
        "CurrentDirectory": "C:\\Users\\ivan.petrov\\",
        "User": "CORP\\ivan.petrov",
        "LogonGuid": "{0D6BF05B-1F2E-6560-3B7A-0D0000000000}",
        "LogonId": "0xd7a3b",
        "TerminalSessionId": 1,
        "IntegrityLevel": "Medium",
        "Hashes": "SHA256=A24E636B64EEC6E58E9BD300B43229D92E4D5E3DC1E37E38D96A7EAA3B18AF5B",
        "ParentProcessGuid": "{0D6BF05B-AB11-1348-1FB8-126DAE1C6100}",
        "ParentProcessId": 7257,
        "ParentImage": "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
        "ParentCommandLine": "\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --profile-directory=Default",
        "ParentUser": "CORP\\ivan.petrov"
    })
}

/// The same event, a `net use` with the password on the command line.
fn sysmon_process_creation_with_password() -> Value {
    let mut v = sysmon_process_creation();
    v["Image"] = json!("C:\\Windows\\System32\\net.exe");
    v["Description"] = json!("Net Command");
    v["Product"] = json!("Microsoft® Windows® Operating System");
    v["OriginalFileName"] = json!("net.exe");
    v["CommandLine"] = json!("net use \\\\fs01\\c$ /user:CORP\\svc_backup Bkp!2024pw /persistent:no");
    v["ParentImage"] = json!("C:\\Windows\\System32\\cmd.exe");
    v["ParentCommandLine"] = json!("C:\\Windows\\system32\\cmd.exe /c \"C:\\Scripts\\map-drives.cmd\"");
    v
}

/// A CloudTrail `AssumeRole` record with temporary credentials in the response.
fn cloudtrail_assume_role() -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAQWERTYUIOPASDFGHJ",
            "arn": "arn:aws:iam::123456789012:user/deploy-bot",
            "accountId": "123456789012",
            "accessKeyId": "AKIAQWERTYUIOPASDFGH",
            "userName": "deploy-bot"
        },
        "eventTime": "2026-03-02T08:00:00Z",
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "198.51.100.20",
        "userAgent": "aws-cli/2.15.10 Python/3.11.6 Linux/6.1.0-17-amd64 exe/x86_64.debian.12 prompt/off command/sts.assume-role",
        "requestParameters": {
            "roleArn": "arn:aws:iam::123456789012:role/Admin",
            "roleSessionName": "deploy-42",
            "durationSeconds": 3600
        },
        "responseElements": {
            "credentials": {
                "accessKeyId": "ASIAZXCVBNMLKJHGFDSA",
                "secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
                "sessionToken": "IQoJb3JpZ2luX2VjEHsaCWV1LXdlc3QtMSJHMEUCIQDx2b3Fz1+Wc0m/lsqDq7TtE2nRbL6vQk+Zb0FwoGZXIvYXdzEJr//////////wEaDOsessiontokenvalue==",
                "expiration": "Mar 2, 2026, 9:00:00 AM"
            },
            "assumedRoleUser": {
                "assumedRoleId": "AROAQWERTYUIOPASDFGHJ:deploy-42",
                "arn": "arn:aws:sts::123456789012:assumed-role/Admin/deploy-42"
            }
        },
        "requestID": "4b1f6c3e-2d7a-4e8b-9c0d-1a2b3c4d5e6f",
        "eventID": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
        "readOnly": true,
        "resources": [{
            "accountId": "123456789012",
            "type": "AWS::IAM::Role",
            "ARN": "arn:aws:iam::123456789012:role/Admin"
        }],
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "123456789012",
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": "sts.eu-west-1.amazonaws.com"
        }
    })
}

fn stream(attack_rate: f64) -> Vec<Value> {
    let mut g = EventGen::with_attack_rate(SEED, attack_rate);
    (0..STREAM_EVENTS)
        .map(|_| serde_json::from_str(&g.next_event()).expect("generated events are valid JSON"))
        .collect()
}

fn configure(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(4));
}

fn bench_events(c: &mut Criterion) {
    let r = Redactor::default_on();
    let cases = [
        ("sysmon1_clean", sysmon_process_creation(), 0),
        ("sysmon1_password", sysmon_process_creation_with_password(), 1),
        ("cloudtrail_session_token", cloudtrail_assume_role(), 2),
    ];
    let mut g = c.benchmark_group("redact");
    configure(&mut g);
    g.throughput(Throughput::Elements(1));
    for (name, event, expected) in cases {
        // What the benchmark exercises (and that it still does).
        let mut once = event.clone();
        let n = r.redact(&mut once);
        let text = once.to_string();
        eprintln!("[redact/{name}] {} bytes, {n} redaction(s)", event.to_string().len());
        assert_eq!(n, expected, "{name}: {text}");
        assert!(!text.contains("Bkp!2024pw") && !text.contains("sessiontokenvalue"));
        assert_eq!(text.matches(MASK).count(), expected);
        g.bench_function(name, |b| {
            b.iter_batched_ref(|| event.clone(), |v| black_box(r.redact(v)), BatchSize::PerIteration)
        });
    }
    g.finish();
}

fn bench_stream(c: &mut Criterion) {
    let r = Redactor::default_on();
    let mut g = c.benchmark_group("stream");
    configure(&mut g);
    g.throughput(Throughput::Elements(STREAM_EVENTS as u64));
    for (name, rate) in [("mixed", common::gen::DEFAULT_ATTACK_RATE), ("attacks", 1.0)] {
        let events = stream(rate);
        let mut once = events.clone();
        let n: usize = once.iter_mut().map(|e| r.redact(e)).sum();
        let bytes: usize = events.iter().map(|e| e.to_string().len()).sum();
        eprintln!("[stream/{name}] {STREAM_EVENTS} events, {bytes} bytes, {n} redaction(s)");
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0;
                for e in &events {
                    let mut v = e.clone();
                    n += r.redact(&mut v);
                    black_box(&v);
                }
                n
            })
        });
        if name == "mixed" {
            g.bench_function("clone_only", |b| {
                b.iter(|| {
                    for e in &events {
                        black_box(&e.clone());
                    }
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench_events, bench_stream);
criterion_main!(benches);

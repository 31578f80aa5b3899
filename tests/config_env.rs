//! Config layering through the binary: the file, then `TOCSIN_SECTION__KEY`
//! environment overrides; `tocsin config --print` shows the result with
//! secrets masked; a bad override names its variable.

mod common;

use std::path::Path;

const CONFIG: &str = r#"
[input]
max_event_bytes = 4096

[kafka]
group_id = "from-file"

[kafka.properties]
"sasl.username" = "svc-tocsin"
"sasl.password" = "file-secret-0451"

[redact]
hmac_key = "hmac-secret-9931"
mode = "hash"

[[sources]]
name = "sec"
product = "windows"
service = "security"
when = { "winlog.channel" = "Security" }
"#;

fn write_config(dir: &Path) -> String {
    let p = dir.join("tocsin.toml");
    std::fs::write(&p, CONFIG).unwrap();
    p.to_str().unwrap().to_string()
}

fn print(cfg: &str, env: &[(&str, &str)]) -> std::process::Output {
    let mut c = common::bin();
    c.args(["config", "--print", "--config", cfg]);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn environment_overrides_the_file_and_secrets_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path());
    let out = print(
        &cfg,
        &[
            ("TOCSIN_KAFKA__GROUP_ID", "from-env"),
            ("TOCSIN_KAFKA__EXACTLY_ONCE", "true"),
            ("TOCSIN_KAFKA__PROPERTIES__SSL.KEY.PASSWORD", "env-secret-7782"),
            ("TOCSIN_LOG", "warn"),
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let printed: toml::Table = text.parse().expect("prints TOML");
    assert_eq!(
        printed["kafka"]["group_id"].as_str(),
        Some("from-env"),
        "env wins over the file"
    );
    assert_eq!(
        printed["kafka"]["exactly_once"].as_bool(),
        Some(true),
        "typed values parse"
    );
    assert_eq!(
        printed["kafka"]["properties"]["sasl.username"].as_str(),
        Some("svc-tocsin")
    );
    assert_eq!(
        printed["input"]["max_event_bytes"].as_integer(),
        Some(4096),
        "the file's own values stay"
    );
    assert_eq!(
        printed["output"]["state_topic"].as_str(),
        Some("tocsin-state"),
        "defaults are filled in"
    );
    assert_eq!(
        printed["sources"][0]["when"]["winlog.channel"].as_str(),
        Some("Security"),
        "dotted field names stay keys"
    );
    for secret in ["file-secret-0451", "env-secret-7782", "hmac-secret-9931"] {
        assert!(!text.contains(secret), "{secret} printed:\n{text}");
    }
    assert_eq!(printed["kafka"]["properties"]["sasl.password"].as_str(), Some("***"));
    assert_eq!(printed["redact"]["hmac_key"].as_str(), Some("***"));
}

#[test]
fn a_bad_override_is_an_error_naming_its_variable() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path());
    for (var, value, want) in [
        ("TOCSIN_KAFKA__BROKERZ", "k:9092", "unknown field `brokerz`"),
        ("TOCSIN_INPUT__MAX_EVENT_BYTES", "lots", "invalid type"),
        ("TOCSIN_INPUT__MAX_EVENT_BYTES", "0", "max_event_bytes must be positive"),
        ("TOCSIN_KAFKA__GROUP_ID__X", "1", "`kafka.group_id` is not a section"),
    ] {
        let out = print(&cfg, &[(var, value)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{var}={value}: {err}");
        assert!(err.contains(&format!("environment variable {var}")), "{err}");
        assert!(err.contains(want), "{var}={value}: {err}");
    }
}

#[test]
fn overrides_reach_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path());
    let input = dir.path().join("in.ndjson");
    let big = format!(
        "{{\"@timestamp\":\"2026-11-02T09:00:00Z\",\"winlog\":{{\"channel\":\"Security\"}},\"pad\":\"{}\"}}\n",
        "x".repeat(3000)
    );
    std::fs::write(&input, big).unwrap();
    let rules = common::repo().join("rules");
    let run = |env: &[(&str, &str)]| {
        let mut c = common::bin();
        c.args(["run", "--rules", rules.to_str().unwrap(), "--config", &cfg, "--input"])
            .arg(&input)
            .args([
                "--output",
                "-",
                "--dead-letter",
                dir.path().join("dl.ndjson").to_str().unwrap(),
            ]);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{log}");
        assert!(log.contains("effective config"), "start-up logs the config:\n{log}");
        for secret in ["file-secret-0451", "hmac-secret-9931"] {
            assert!(!log.contains(secret), "{secret} logged:\n{log}");
        }
        common::file_lines(&dir.path().join("dl.ndjson"))
    };
    assert!(run(&[]).is_empty(), "3 KB fits the file's 4 KiB limit");
    let dead = run(&[("TOCSIN_INPUT__MAX_EVENT_BYTES", "1024")]);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["reason"], "too_large");
}

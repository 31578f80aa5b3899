//! `tocsin verify-alert`: the SIEM side of alert signing. Reads alerts from
//! stdin, one per line — JSON alerts, or RFC 5424 syslog alert lines (their
//! MSG is the alert JSON) — and checks each one's `signature` with the key
//! ([`crate::alert::sign`]). Prints one line per alert and a total; exits 1
//! if any alert does not verify (unsigned, changed, or not an alert).

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::alert::format::syslog;
use crate::alert::sign::Signer;
use crate::config::Config;

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// Environment variable holding the key (the engine reads
    /// `output.sign_key` from this one too).
    #[arg(long, value_name = "VAR", default_value = "TOCSIN_OUTPUT__SIGN_KEY")]
    pub key_env: String,
    /// Take the key from this config file's `output.sign_key` instead
    /// (environment overrides applied).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

pub fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let key = match &args.config {
        Some(path) => Config::load(path)?
            .output
            .sign_key
            .with_context(|| format!("{}: no output.sign_key", path.display()))?,
        None => match std::env::var(&args.key_env) {
            Ok(k) if !k.is_empty() => k,
            _ => bail!(
                "no key: set the environment variable {} (or give --config)",
                args.key_env
            ),
        },
    };
    let signer = Signer::new(&key)?;
    let (ok, failed) = verify_lines(&signer, io::stdin().lock(), &mut io::stdout().lock())?;
    eprintln!("{ok} alert(s) verified, {failed} did not");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Checks every non-blank line of `input`, writing `ok <alert_id> line N` or
/// `FAILED <alert_id or -> line N: <why>` to `report`. Returns (verified, failed).
pub fn verify_lines(signer: &Signer, mut input: impl BufRead, report: &mut impl Write) -> anyhow::Result<(u64, u64)> {
    let (mut ok, mut failed) = (0u64, 0u64);
    let mut raw = Vec::new();
    let mut number = 0u64;
    loop {
        raw.clear();
        if input.read_until(b'\n', &mut raw).context("reading stdin")? == 0 {
            break;
        }
        number += 1;
        let Ok(line) = std::str::from_utf8(&raw) else {
            failed += 1;
            writeln!(report, "FAILED - line {number}: not UTF-8")?;
            continue;
        };
        let line = line.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        let json = if line.starts_with('<') {
            syslog::message(line).unwrap_or(line)
        } else {
            line
        };
        let alert: serde_json::Value = match serde_json::from_str(json) {
            Ok(v) => v,
            Err(e) => {
                failed += 1;
                writeln!(report, "FAILED - line {number}: not a JSON alert ({e})")?;
                continue;
            }
        };
        let id = alert.get("alert_id").and_then(|v| v.as_str()).unwrap_or("-");
        match signer.verify(&alert) {
            Ok(()) => {
                ok += 1;
                writeln!(report, "ok {id} line {number}")?;
            }
            Err(e) => {
                failed += 1;
                writeln!(report, "FAILED {id} line {number}: {e}")?;
            }
        }
    }
    Ok((ok, failed))
}

//! The command-line edge: argument parsing, exit codes, human output.
//! Everything below this module returns typed errors; here they become
//! messages (`anyhow`) and exit codes.

pub mod coverage;
pub mod demo;
pub mod kafka;
pub mod progress;
pub mod reload;
pub mod run;
pub mod test;
pub mod validate;
pub mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "tocsin",
    version,
    about = "Stream-processing detection engine for security logs (Sigma rules)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum LogFormat {
    Text,
    Json,
}

// Parsed once per process: the size of the `run` variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Evaluate rules over NDJSON events and write alerts. With no --rules and
    /// no --input, runs the shipped sample rules over the shipped sample events.
    Run(run::RunArgs),
    /// Load and compile rules (and config) and report every problem.
    Validate(validate::ValidateArgs),
    /// Check the config; `--print` shows the effective one, secrets masked.
    Config(validate::ConfigArgs),
    /// Run the test cases written in the rules (`tocsin: {tests: ...}`) and
    /// report a table (exit 0 all pass, 1 a case failed, 2 load errors).
    Test(test::TestArgs),
    /// Which requirements of the logging standards the rules cover (tags
    /// `tocsin.req.<id>`), and which none does.
    Coverage(coverage::CoverageArgs),
    /// Verify the signatures of JSON alerts (or RFC 5424 syslog alert lines)
    /// read from stdin; exit 1 if any does not verify.
    VerifyAlert(verify::VerifyArgs),
}

/// Rule sources shared by the subcommands.
#[derive(clap::Args, Debug, Clone)]
pub struct RuleArgs {
    /// Rule files or directories (searched recursively for .yml/.yaml).
    #[arg(long = "rules", num_args = 1.., value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// TOML config file (sources, field mappings, placeholders, redaction).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Run(a) => run::run(a),
        Command::Validate(a) => validate::validate(a),
        Command::Config(a) => validate::config(a),
        Command::Test(a) => test::test(a),
        Command::Coverage(a) => coverage::coverage(a),
        Command::VerifyAlert(a) => verify::verify(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOCSIN_LOG").unwrap_or_else(|_| "info".into());
    // Colours only on a terminal: redirected stderr gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_target(false).init(),
        LogFormat::Json => builder.json().init(),
    }
}

//! `tocsin validate`: load and compile everything, list every problem as
//! `file:line:col: rule: what is wrong`, and summarise.

use std::process::ExitCode;

use super::run::{prepare, Prepared};
use super::RuleArgs;

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Logsource to compile for when no config is given (`product=P,category=C,service=S`).
    #[arg(long)]
    pub logsource: Option<String>,
}

pub fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let p: Prepared = prepare(&args.rules, args.logsource.as_deref(), true)?;
    for e in &p.errors {
        println!("{e}");
    }
    let rejected = p.rejected_rules();
    println!(
        "{} rule file(s): {} rule(s) loaded, {} rejected ({} error(s))",
        p.files,
        p.loaded_rules(),
        rejected,
        p.errors.len()
    );
    Ok(if p.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

#[derive(clap::Args, Debug)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Print the effective config (file, then `TOCSIN_SECTION__KEY`
    /// environment overrides, defaults filled in) as TOML, secrets masked.
    #[arg(long)]
    pub print: bool,
}

/// `tocsin config --print`: what the engine would run with.
pub fn config(args: ConfigArgs) -> anyhow::Result<ExitCode> {
    let cfg = super::run::effective_config(&args.rules)?;
    if args.print {
        print!("{}", cfg.to_masked_toml());
    } else {
        println!("config OK (use --print to show it)");
    }
    Ok(ExitCode::SUCCESS)
}

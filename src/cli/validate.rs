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

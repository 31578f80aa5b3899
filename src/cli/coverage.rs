//! `tocsin coverage`: which of the logging standards' requirements the rules
//! cover (rules declare it with `tocsin.req.<id>` tags), and which none does.
//!
//! Exit codes: 0 when the report was made; 2 when it was made but rules
//! failed to load or a `tocsin.req.` tag names no requirement (both are
//! listed); 1 when the requirement list itself is unusable.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::demo;
use crate::coverage::{parse_requirements, report, Report, EMBEDDED, TAG_PREFIX};
use crate::rules::load_paths;

#[derive(clap::Args, Debug)]
pub struct CoverageArgs {
    /// Rule files or directories (searched recursively for .yml/.yaml).
    /// Default: the shipped rule pack.
    #[arg(long = "rules", num_args = 1.., value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Requirement list. Default: the shipped `coverage/requirements.toml`.
    #[arg(long, value_name = "FILE")]
    pub requirements: Option<PathBuf>,
    /// Print the report as one JSON document.
    #[arg(long)]
    pub json: bool,
}

pub fn coverage(args: CoverageArgs) -> anyhow::Result<ExitCode> {
    let (text, file) = match &args.requirements {
        Some(p) => (
            std::fs::read_to_string(p).with_context(|| p.display().to_string())?,
            p.display().to_string(),
        ),
        None => (EMBEDDED.to_string(), "coverage/requirements.toml".to_string()),
    };
    let requirements = parse_requirements(&text, &file)?;
    let loaded = if args.rules.is_empty() {
        demo::rules()
    } else {
        load_paths(&args.rules)
    };
    for e in &loaded.errors {
        eprintln!("{e}");
    }
    let r = report(requirements, &loaded);
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut json = serde_json::to_value(&r)?;
        json["requirements_file"] = file.into();
        json["rule_errors"] = loaded.errors.len().into();
        serde_json::to_writer_pretty(&mut out, &json)?;
        writeln!(out)?;
    } else {
        print_text(&mut out, &r)?;
    }
    for t in &r.unknown_tags {
        eprintln!("{}: rule `{}`: tag `{}` names no requirement", t.file, t.rule, t.tag);
    }
    Ok(if loaded.errors.is_empty() && r.unknown_tags.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn print_text(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    for e in &r.requirements {
        let q = &e.requirement;
        let optional = if q.optional { " (optional)" } else { "" };
        writeln!(
            out,
            "{} {}  [{} {}{}] {}",
            if e.covered { "✔" } else { "✘" },
            q.id,
            q.source,
            q.kind.as_str(),
            optional,
            q.text
        )?;
        if !q.fields.is_empty() {
            writeln!(out, "    fields: {}", q.fields.join(", "))?;
        }
        for rule in &e.rules {
            writeln!(out, "    ← {} ({}, {})", rule.title, rule.id, rule.file)?;
            if !rule.fields.is_empty() {
                writeln!(out, "      reads: {}", rule.fields.join(", "))?;
            }
        }
    }
    writeln!(out)?;
    writeln!(out, "Uncovered requirements ({}):", r.uncovered.len())?;
    for e in r.requirements.iter().filter(|e| !e.covered) {
        let q = &e.requirement;
        writeln!(out, "  {:<36} {:<10} {}", q.id, q.kind.as_str(), q.text)?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{} requirement(s): {} covered, {} uncovered, by {} rule(s) (tag `{TAG_PREFIX}<id>`)",
        r.totals.requirements, r.totals.covered, r.totals.uncovered, r.rules
    )?;
    for (kind, t) in &r.by_kind {
        writeln!(
            out,
            "  {:<10} {:>4} requirement(s): {:>4} covered, {:>4} uncovered",
            kind.as_str(),
            t.requirements,
            t.covered,
            t.uncovered
        )?;
    }
    if !r.unknown_tags.is_empty() {
        writeln!(out, "{} tag(s) name no requirement (see stderr)", r.unknown_tags.len())?;
    }
    Ok(())
}

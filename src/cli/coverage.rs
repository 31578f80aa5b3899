//! `tocsin coverage`: which of the logging standards' requirements the rules
//! cover (rules declare it with `tocsin.req.<id>` tags), which the log-quality
//! monitor serves instead (`monitored_by`), and which neither does (with the
//! `not_detectable` reason where the list gives one).
//!
//! Exit codes: 0 when the report was made; 2 when it was made but rules
//! failed to load, a `tocsin.req.` tag names no requirement, or a rule tags a
//! requirement marked `not_detectable` (all are listed); 1 when the
//! requirement list itself is unusable.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::demo;
use crate::coverage::{parse_requirements, report, Report, State, EMBEDDED, TAG_PREFIX};
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
    for c in &r.contradictions {
        eprintln!(
            "{}: rule `{}` tags `{TAG_PREFIX}{}`, which the requirement list marks not detectable",
            c.file, c.rule, c.requirement
        );
    }
    Ok(
        if loaded.errors.is_empty() && r.unknown_tags.is_empty() && r.contradictions.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        },
    )
}

fn marker(state: State) -> &'static str {
    match state {
        State::Covered => "✔",
        State::Monitored => "◐",
        State::Uncovered => "✘",
    }
}

fn print_text(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    for e in &r.requirements {
        let q = &e.requirement;
        let optional = if q.optional { " (optional)" } else { "" };
        writeln!(
            out,
            "{} {}  [{} {}{}] {}",
            marker(e.state),
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
        if let Some(m) = &q.monitored_by {
            writeln!(out, "    monitored by {}", m.describe())?;
            if let Some(l) = &m.limits {
                writeln!(out, "      limits: {l}")?;
            }
        }
        if let Some(why) = &q.not_detectable {
            writeln!(out, "    not detectable: {why}")?;
        }
    }
    writeln!(out)?;
    let monitored: Vec<_> = r.requirements.iter().filter(|e| e.state == State::Monitored).collect();
    writeln!(out, "Monitored by log quality, no rule ({}):", monitored.len())?;
    for e in monitored {
        let q = &e.requirement;
        let how = q.monitored_by.as_ref().map(|m| m.describe()).unwrap_or_default();
        writeln!(out, "  {:<36} {:<10} {}", q.id, q.kind.as_str(), how)?;
    }
    writeln!(out)?;
    writeln!(out, "Uncovered requirements ({}):", r.uncovered.len())?;
    for e in r.requirements.iter().filter(|e| e.state == State::Uncovered) {
        let q = &e.requirement;
        let why = match &q.not_detectable {
            Some(w) => format!("not detectable: {w}"),
            None => q.text.clone(),
        };
        writeln!(out, "  {:<36} {:<10} {}", q.id, q.kind.as_str(), why)?;
    }
    writeln!(out)?;
    let t = &r.totals;
    writeln!(
        out,
        "{} requirement(s): {} covered by rules, {} monitored by log quality, {} uncovered ({} not detectable), by {} rule(s) (tag `{TAG_PREFIX}<id>`)",
        t.requirements, t.covered, t.monitored, t.uncovered, t.not_detectable, r.rules
    )?;
    for (kind, t) in &r.by_kind {
        writeln!(
            out,
            "  {:<10} {:>4} requirement(s): {:>4} covered, {:>4} monitored, {:>4} uncovered ({} not detectable)",
            kind.as_str(),
            t.requirements,
            t.covered,
            t.monitored,
            t.uncovered,
            t.not_detectable
        )?;
    }
    writeln!(
        out,
        "✔ covered by rules  ◐ monitored by log quality (sources that name their `schema`; see README)  ✘ uncovered"
    )?;
    if !r.unknown_tags.is_empty() {
        writeln!(out, "{} tag(s) name no requirement (see stderr)", r.unknown_tags.len())?;
    }
    if !r.contradictions.is_empty() {
        writeln!(
            out,
            "{} rule tag(s) claim a requirement marked not detectable (see stderr)",
            r.contradictions.len()
        )?;
    }
    Ok(())
}

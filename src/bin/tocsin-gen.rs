//! `tocsin-gen`: writes the benchmarks' synthetic Windows event stream (flat
//! evtx JSON, one object per line) for end-to-end runs.
//!
//! `tocsin-gen --events 200000 --seed 1 --out /tmp/events.ndjson`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[path = "../../benches/common/gen.rs"]
#[allow(dead_code)]
mod gen;

#[derive(Parser, Debug)]
#[command(
    name = "tocsin-gen",
    about = "Generate synthetic Windows events (flat evtx JSON, NDJSON) for benchmarks"
)]
struct Args {
    /// Number of events.
    #[arg(long, default_value_t = 200_000)]
    events: u64,
    /// PRNG seed: the same seed always yields the same file.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output file.
    #[arg(long)]
    out: PathBuf,
    /// Probability that an event carries attack-like values.
    #[arg(long, default_value_t = gen::DEFAULT_ATTACK_RATE)]
    attack_rate: f64,
    /// Event layout: `flat` (evtx JSON, benches/windows-flat.toml) or
    /// `winlogbeat` (samples/tocsin.toml).
    #[arg(long, default_value = "flat")]
    shape: gen::Shape,
}

fn main() -> ExitCode {
    let a = Args::parse();
    if !(0.0..=1.0).contains(&a.attack_rate) {
        eprintln!("error: --attack-rate must be within 0..=1");
        return ExitCode::from(2);
    }
    let g = gen::EventGen::with_attack_rate(a.seed, a.attack_rate).with_shape(a.shape);
    match gen::write_ndjson(&a.out, a.events, g) {
        Ok(bytes) => {
            eprintln!(
                "wrote {} events ({} bytes, {:.0} bytes/event) to {}",
                a.events,
                bytes,
                bytes as f64 / a.events.max(1) as f64,
                a.out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}: {e}", a.out.display());
            ExitCode::from(1)
        }
    }
}

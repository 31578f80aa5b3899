//! The `tocsin` binary: see `tocsin --help` and the README.
fn main() -> std::process::ExitCode {
    tocsin::cli::main()
}

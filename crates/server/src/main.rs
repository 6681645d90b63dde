//! The `tessera` binary: parse, run, turn the error into an exit code.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's malloc: measured back to back on this 2-core VM
/// (`scripts/bench server`), verify went from 42 to 33 µs of CPU per request and refresh from
/// 146 to 132 µs (SQLite) and 128 to 112 µs (Redis).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = tessera_server::cli::Cli::parse();
    match tessera_server::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera: {e:#}");
            ExitCode::FAILURE
        }
    }
}

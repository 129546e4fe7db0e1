//! The `capstan` command line.
//!
//! Helm's names and flags wherever the concept is the same. Every command talks to the renderer
//! (and, for releases, the applier) through their generated gRPC clients: against remote daemons
//! when `--renderer`/`--applier` (or `CAPSTAN_RENDERER`/`CAPSTAN_APPLIER`) are given, or against
//! the same services started in-process on a loopback port otherwise, so there is one code path.
//!
//! Exit codes: 0 success, 1 error, 3 lock held, 4 timeout (see [`exit`]).

pub mod applier;
pub mod chart;
pub mod cli;
pub mod commands;
pub mod diff;
pub mod exit;
pub mod output;
pub mod remote;
pub mod renderer;
pub mod values;

use std::process::ExitCode;

use clap::Parser as _;

/// Parses the command line, runs the command and turns its outcome into an exit code.
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let debug = cli.global.debug;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("Error: starting the async runtime: {error}");
            return ExitCode::from(exit::ERROR);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            exit::report(&error, debug);
            ExitCode::from(exit::code_of(&error))
        }
    }
}

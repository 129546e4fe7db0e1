//! The `capstan` command line.
//!
//! Helm's names and flags wherever the concept is the same. Every command talks to the renderer
//! (and, for releases, the applier) through their generated gRPC clients: against remote daemons
//! when `--renderer`/`--applier` (or `CAPSTAN_RENDERER`/`CAPSTAN_APPLIER`) are given, or against
//! the same services started in-process on a loopback port otherwise, so there is one code path.
//!
//! Exit codes: 0 success, 1 error, 3 lock held, 4 timeout, 141 output closed early (see
//! [`exit`]; nothing is printed but through [`console`], which never panics). Ctrl-C, SIGTERM
//! and SIGHUP cancel a running operation, which ends `failed` with its lock released
//! ([`signals`]).

pub mod applier;
pub mod boolflags;
pub mod chart;
pub mod cli;
pub mod commands;
pub mod console;
pub mod diff;
pub mod exit;
pub mod kubeconfig;
pub(crate) mod lookups;
pub mod oci;
pub mod output;
pub mod parse;
pub mod postrender;
pub mod remote;
pub mod renderer;
pub mod signals;
pub mod sources;
pub mod values;

use std::process::ExitCode;

use tracing::Instrument as _;

use crate::console::eoutln;

/// Parses the command line, runs the command and turns its outcome into an exit code.
pub fn main() -> ExitCode {
    let mut cli = match parse::parse_args(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    // The kubeconfig is read for its namespace only when `-n`/`HELM_NAMESPACE` gives none.
    if cli.global.namespace.as_deref().is_none_or(str::is_empty) {
        cli.global.context_namespace = kubeconfig::context_namespace(&cli.global);
    }
    let debug = cli.global.debug;
    output::set_quiet(cli.global.quiet);
    // `template` renders on threads of its own and waits on this one: the runtime's worker
    // threads would only be started, parked and joined again (see docs/benchmarks.md).
    let mut builder = if matches!(cli.command, cli::Command::Template(_)) {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eoutln!("Error: starting the async runtime: {error}");
            return ExitCode::from(exit::ERROR);
        }
    };
    let outcome = runtime.block_on(run_traced(cli));
    // The command has returned (its work awaited, telemetry flushed): the runtime's idle
    // threads end with the process rather than being woken and joined first.
    runtime.shutdown_background();
    match (outcome, console::finish()) {
        (Err(error), _) => {
            exit::report(&error, debug);
            ExitCode::from(exit::code_of(&error))
        }
        (Ok(code), console::Ending::Written) => ExitCode::from(code),
        (Ok(_), console::Ending::ReaderGone) => ExitCode::from(exit::OUTPUT_CLOSED),
        (Ok(_), console::Ending::Failed(error)) => {
            eoutln!("Error: writing to standard output: {error}");
            ExitCode::from(exit::ERROR)
        }
    }
}

/// Prints a command-line error (or the help or version asked for) and exits as Helm does: 0
/// for help and version, 1 for a usage error (never clap's 2, which is `diff
/// --detailed-exitcode`'s "changes found").
fn usage_error(error: &clap::Error) -> ExitCode {
    let _ = error.print();
    if error.use_stderr() {
        ExitCode::from(exit::ERROR)
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs the command in its root span (`capstan <command>`), with telemetry installed for the
/// duration: logs to stderr only when `RUST_LOG` asks, spans over OTLP only when `OTEL_*`
/// configure an endpoint, flushed before returning. A telemetry set-up that fails is a warning,
/// never the command's failure.
async fn run_traced(cli: cli::Cli) -> anyhow::Result<u8> {
    let telemetry = match capstan_telemetry::trace::init(
        "capstan",
        capstan_telemetry::trace::Logs::OnlyWhenAsked,
    ) {
        Ok(telemetry) => Some(telemetry),
        Err(error) => {
            eoutln!(
                "WARNING: not exporting traces: {:#}",
                anyhow::Error::new(error)
            );
            None
        }
    };
    let span = tracing::info_span!(
        "command",
        otel.name = %format!("capstan {}", cli.command.name()),
        command = cli.command.name(),
        release = tracing::field::Empty,
        namespace = tracing::field::Empty,
    );
    let outcome = commands::run(cli).instrument(span).await;
    // An in-process applier's operation ends (and closes its span) just after its result.
    applier::wait_idle().await;
    if let Some(telemetry) = telemetry {
        telemetry.shutdown().await;
    }
    outcome
}

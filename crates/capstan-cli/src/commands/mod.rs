//! One module per command; [`run`] dispatches.

mod completion;
mod diff;
mod lint;
mod read;
mod release;
mod template;

use crate::cli::{Cli, Command};

/// Runs the parsed command and returns its exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Install(args) => release::install(&cli.global, *args).await,
        Command::Upgrade(args) => release::upgrade(&cli.global, *args).await,
        Command::Rollback(args) => release::rollback(&cli.global, args).await,
        Command::Uninstall(args) => release::uninstall(&cli.global, args).await,
        Command::List(args) => read::list(&cli.global, args).await,
        Command::History(args) => read::history(&cli.global, args).await,
        Command::Status(args) => read::status(&cli.global, args).await,
        Command::Get(command) => read::get(&cli.global, command).await,
        Command::Diff(command) => diff::run(&cli.global, command).await,
        Command::Template(args) => template::run(&cli.global, *args).await,
        Command::Lint(args) => lint::run(&cli.global, *args).await,
        Command::Completion(args) => completion::run(args),
        Command::Version => {
            println!("capstan {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
    }
}

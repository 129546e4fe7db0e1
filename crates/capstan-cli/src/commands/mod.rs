//! One module per command; [`run`] dispatches.

mod template;

use crate::cli::{Cli, Command};

/// Runs the parsed command and returns its exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Template(args) => template::run(&cli.global, *args).await,
        Command::Version => {
            println!("capstan {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
    }
}

//! One module per command; [`run`] dispatches.

mod completion;
mod diff;
mod lint;
mod read;
mod release;
mod template;
mod test;

use crate::cli::{Cli, Command};
use crate::console::outln;

impl Command {
    /// The command's name as typed (`upgrade`, `get values`...), for its span.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Install(_) => "install",
            Command::Upgrade(_) => "upgrade",
            Command::Rollback(_) => "rollback",
            Command::Uninstall(_) => "uninstall",
            Command::List(_) => "list",
            Command::History(_) => "history",
            Command::Status(_) => "status",
            Command::Test(_) => "test",
            Command::Get(_) => "get",
            Command::Diff(_) => "diff",
            Command::Template(_) => "template",
            Command::Lint(_) => "lint",
            Command::Completion(_) => "completion",
            Command::Version => "version",
        }
    }
}

/// Records the release a command is about on its span (names, never values).
pub(crate) fn record_release(name: &str, namespace: &str) {
    let span = tracing::Span::current();
    span.record("release", name);
    span.record("namespace", namespace);
}

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
        Command::Test(args) => test::run(&cli.global, args).await,
        Command::Get(command) => read::get(&cli.global, command).await,
        Command::Diff(command) => diff::run(&cli.global, command).await,
        Command::Template(args) => template::run(&cli.global, *args).await,
        Command::Lint(args) => lint::run(&cli.global, *args).await,
        Command::Completion(args) => completion::run(args),
        Command::Version => {
            outln!("capstan {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
    }
}

//! One module per command; [`run`] dispatches.

mod complete;
mod completion;
mod dependency;
mod diff;
mod env;
mod lint;
mod package;
mod pull;
mod push;
mod read;
mod registry;
mod release;
mod repo;
mod search;
mod show;
mod template;
mod test;

use crate::cli::{Cli, Command};
use crate::console::outln;
use crate::exit;

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
            Command::Repo(_) => "repo",
            Command::Search(_) => "search",
            Command::Pull(_) => "pull",
            Command::Package(_) => "package",
            Command::Dependency(_) => "dependency",
            Command::Show(_) => "show",
            Command::Push(_) => "push",
            Command::Registry(crate::cli::RegistryCommand::Login(_)) => "registry login",
            Command::Registry(crate::cli::RegistryCommand::Logout(_)) => "registry logout",
            Command::Version(_) => "version",
            Command::Env(_) => "env",
            Command::Complete(_) => "__complete",
        }
    }
}

impl Command {
    /// The flag that would fix a missing namespace or release for this command, when it was
    /// not given (see [`crate::exit::explain`]).
    fn fix(&self) -> exit::Fix {
        match self {
            Command::Install(args) if !args.apply.create_namespace => exit::Fix::CreateNamespace,
            Command::Upgrade(args) => match (args.apply.create_namespace, args.install) {
                (false, false) => exit::Fix::CreateNamespaceOrInstall,
                (false, true) => exit::Fix::CreateNamespace,
                (true, false) => exit::Fix::Install,
                (true, true) => exit::Fix::None,
            },
            _ => exit::Fix::None,
        }
    }
}

/// `capstan version`: `version.BuildInfo{...}` as Helm prints it, `--short`, or `--template`
/// over `.Version`, `.GitCommit`, `.GitTreeState` and `.GoVersion`.
fn version(args: &crate::cli::VersionArgs) -> anyhow::Result<u8> {
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    let fields = [
        ("Version", version.as_str()),
        ("GitCommit", ""),
        ("GitTreeState", ""),
        ("GoVersion", ""),
    ];
    if let Some(template) = &args.template {
        let mut text = template.clone();
        for (name, value) in fields {
            for spelling in [format!("{{{{.{name}}}}}"), format!("{{{{ .{name} }}}}")] {
                text = text.replace(&spelling, value);
            }
        }
        if text.contains("{{") {
            anyhow::bail!(
                "version --template {template:?}: only {{{{.Version}}}}, {{{{.GitCommit}}}}, \
                 {{{{.GitTreeState}}}} and {{{{.GoVersion}}}} are known"
            );
        }
        outln!("{text}");
    } else if args.short {
        outln!("{version}");
    } else {
        outln!("capstan {}", env!("CARGO_PKG_VERSION"));
    }
    Ok(0)
}

/// Records the release a command is about on its span (names, never values).
pub(crate) fn record_release(name: &str, namespace: &str) {
    let span = tracing::Span::current();
    span.record("release", name);
    span.record("namespace", namespace);
}

/// Runs the parsed command and returns its exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    let namespace = cli.global.namespace();
    let fix = cli.command.fix();
    dispatch(cli)
        .await
        .map_err(|error| exit::explain(error, &namespace, fix))
}

/// Runs the command.
async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
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
        Command::Push(args) => push::run(*args).await,
        Command::Registry(command) => registry::run(command).await,
        Command::Repo(command) => repo::run(&cli.global, command).await,
        Command::Search(command) => search::run(&cli.global, command).await,
        Command::Pull(args) => pull::run(&cli.global, *args).await,
        Command::Package(args) => package::run(&cli.global, args).await,
        Command::Dependency(command) => dependency::run(&cli.global, command).await,
        Command::Show(command) => show::run(&cli.global, command).await,
        Command::Env(args) => env::run(&cli.global, args),
        Command::Complete(args) => complete::run(&cli.global, args).await,
        Command::Version(args) => version(&args),
    }
}

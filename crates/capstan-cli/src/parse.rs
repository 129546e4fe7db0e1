//! The command line parsed into [`Cli`], with the global flags given to the one subcommand used.
//!
//! clap copies every global flag into every subcommand when it builds the command tree (24
//! flags into 40 subcommands, each copy with its help text allocated anew): that was half of
//! parsing a `capstan template` command line, about 0.3 ms of every process. The subcommand
//! the command line names is found first ([`named_subcommand`]), and only it gets the copies,
//! exactly as clap makes them; the tree the parser walks is then the one it would have walked.
//! A command line whose subcommand is not found so (help, completion, no or an unknown
//! subcommand), or whose parse fails or ends in another subcommand, is parsed with the whole
//! tree, so every message is the one clap gives.

use std::ffi::OsString;

use clap::{Arg, Command, CommandFactory as _, FromArgMatches as _};

use crate::boolflags;
use crate::cli::Cli;

/// The command line parsed as `Cli::try_parse_from` parses it: the same result and the same
/// errors.
pub fn parse_args(args: Vec<OsString>) -> Result<Cli, clap::Error> {
    let command = Cli::command();
    let args = boolflags::normalise(args, &command);
    if let Some(name) = named_subcommand(&command, &args)
        && let Ok(mut matches) = globals_only_for(command, &name).try_get_matches_from(&args)
        && matches.subcommand_name() == Some(name.as_str())
    {
        return from_matches(&mut matches);
    }
    let mut matches = Cli::command().try_get_matches_from(args)?;
    from_matches(&mut matches)
}

/// The [`Cli`] `matches` hold.
fn from_matches(matches: &mut clap::ArgMatches) -> Result<Cli, clap::Error> {
    Cli::from_arg_matches_mut(matches).map_err(|error| error.format(&mut Cli::command()))
}

/// `command` with its global flags copied into the subcommand `name` alone, as clap's
/// propagation copies them into each (a flag the subcommand has of its own is not copied),
/// and no longer global on `command` itself, so that clap propagates them nowhere else. The
/// copies stay global: clap still moves their values between the subcommand's matches and
/// the top's, and copies them into the subcommand's own subcommands.
fn globals_only_for(command: Command, name: &str) -> Command {
    let globals: Vec<Arg> = command
        .get_arguments()
        .filter(|arg| arg.is_global_set())
        .cloned()
        .collect();
    command
        .mut_args(|arg| {
            if arg.is_global_set() {
                arg.global(false)
            } else {
                arg
            }
        })
        .mut_subcommand(name, |mut sub| {
            for arg in globals {
                if !sub.get_arguments().any(|own| own.get_id() == arg.get_id()) {
                    sub = sub.arg(arg);
                }
            }
            sub
        })
}

/// The name of the subcommand `args` (a whole command line) names: its first word that is
/// neither a flag of `command`'s nor a flag's value, when that word is a subcommand's name or
/// alias. None for anything else (`--`, a flag `command` lacks, help, no subcommand).
fn named_subcommand(command: &Command, args: &[OsString]) -> Option<String> {
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        let word = word.to_str()?;
        if word == "--" {
            return None;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, _)) => (name, true),
                None => (long, false),
            };
            let arg = command.get_arguments().find(|arg| {
                arg.get_long() == Some(name)
                    || arg.get_all_aliases().is_some_and(|a| a.contains(&name))
            })?;
            if takes_value(arg) && !value {
                words.next();
            }
        } else if let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            // A cluster of short flags: the first one that takes a value takes the rest of
            // the word, or the next word when it ends the cluster.
            for (at, short) in shorts.char_indices() {
                let arg = command.get_arguments().find(|arg| {
                    arg.get_short() == Some(short)
                        || arg
                            .get_all_short_aliases()
                            .is_some_and(|a| a.contains(&short))
                })?;
                if takes_value(arg) {
                    if at + short.len_utf8() == shorts.len() {
                        words.next();
                    }
                    break;
                }
            }
        } else {
            return command
                .find_subcommand(word)
                .map(|sub| sub.get_name().to_owned());
        }
    }
    None
}

/// Whether `arg` takes a value after it (a flag, not a switch).
fn takes_value(arg: &Arg) -> bool {
    arg.get_num_args().is_none_or(|n| n.takes_values())
        && !matches!(
            arg.get_action(),
            clap::ArgAction::SetTrue
                | clap::ArgAction::SetFalse
                | clap::ArgAction::Count
                | clap::ArgAction::Help
                | clap::ArgAction::HelpShort
                | clap::ArgAction::HelpLong
                | clap::ArgAction::Version
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<OsString> {
        std::iter::once("capstan")
            .chain(line.split_whitespace())
            .map(OsString::from)
            .collect()
    }

    /// What the whole tree gives: the parsed command line, or the error clap renders.
    fn whole_tree(line: &str) -> String {
        let args = boolflags::normalise(words(line), &Cli::command());
        match Cli::command().try_get_matches_from(args) {
            Ok(mut matches) => format!("{:?}", from_matches(&mut matches)),
            Err(error) => format!("{:?} {}", error.kind(), error.render()),
        }
    }

    fn parsed(line: &str) -> String {
        match parse_args(words(line)) {
            Ok(cli) => format!("{:?}", Ok::<_, ()>(cli)),
            Err(error) => format!("{:?} {}", error.kind(), error.render()),
        }
    }

    fn named(line: &str) -> Option<String> {
        named_subcommand(&Cli::command(), &words(line))
    }

    #[test]
    fn the_subcommand_is_found_past_the_global_flags() {
        assert_eq!(named("template rel ./c").as_deref(), Some("template"));
        assert_eq!(named("-n ns template rel ./c").as_deref(), Some("template"));
        assert_eq!(named("-nns template").as_deref(), Some("template"));
        assert_eq!(named("--namespace ns --debug ls").as_deref(), Some("list"));
        assert_eq!(
            named("--namespace=template install").as_deref(),
            Some("install")
        );
        assert_eq!(
            named("--kube-context template install").as_deref(),
            Some("install")
        );
        assert_eq!(named("repo add a b").as_deref(), Some("repo"));
        // Nothing to find: the whole tree parses these.
        assert_eq!(named("help template"), None);
        assert_eq!(named("--help"), None);
        assert_eq!(named("--no-such-flag template"), None);
        assert_eq!(named("-- template"), None);
        assert_eq!(named("templates rel ./c"), None);
        assert_eq!(named(""), None);
    }

    #[test]
    fn only_the_named_subcommand_gets_the_global_flags() {
        let mut command = globals_only_for(Cli::command(), "template");
        command.build();
        let template = command.find_subcommand("template").unwrap();
        assert!(template.get_arguments().any(|a| a.get_id() == "namespace"));
        let install = command.find_subcommand("install").unwrap();
        assert!(!install.get_arguments().any(|a| a.get_id() == "namespace"));
        assert!(!command.get_arguments().any(Arg::is_global_set));
    }

    /// Every command line parses to what the whole tree parses it to, with the same errors.
    #[test]
    fn parsing_with_one_subcommand_agrees_with_the_whole_tree() {
        let lines = [
            "template rel ../c --namespace ns --kube-version 1.33",
            "-n ns template rel ../c",
            "--namespace=a template rel ../c -n b",
            "--debug template rel ../c --set a=1 --set b=2",
            "template rel ../c --debug=false --quiet=true",
            "install web ./c -n ns --kube-context k --wait --timeout 5m",
            "ls -A --kubeconfig /tmp/k",
            "un web --keep-history -n x",
            "repo add stable https://example.com --namespace ns",
            "repo list -o json -n ns",
            "dep update ./c --debug",
            "get values web -n ns --all",
            "show chart ./c --namespace ns",
            "history web --max 3 -n ns",
            "--tls-client-cert c template rel ../c",
            "template rel ../c --tls-client-cert c --tls-client-key k",
            "version",
            "-n ns version --short",
            "--kube-context template install web ./c",
            "template",
            "template rel ../c --no-such-flag",
            "template rel ../c -n",
            "template --help",
            "repo --help",
            "repo add",
            "--help",
            "help template",
            "templat rel ../c",
            "--no-such-flag template",
            "",
        ];
        let mut fast = 0;
        for line in lines {
            let whole = whole_tree(line);
            assert_eq!(parsed(line), whole, "capstan {line}");
            // A line the whole tree parses is parsed by the one subcommand's tree, not again.
            if whole.starts_with("Ok(") {
                let name = named(line).unwrap_or_else(|| panic!("no subcommand in {line}"));
                let args = boolflags::normalise(words(line), &Cli::command());
                let matches = globals_only_for(Cli::command(), &name).try_get_matches_from(args);
                assert_eq!(
                    matches.ok().as_ref().and_then(|m| m.subcommand_name()),
                    Some(name.as_str()),
                    "capstan {line}"
                );
                fast += 1;
            }
        }
        assert!(fast >= 15, "{fast} lines parsed by one subcommand's tree");
    }
}

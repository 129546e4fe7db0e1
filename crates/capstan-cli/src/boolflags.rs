//! Helm's boolean flags also take a value (`--atomic=false`, `--create-namespace=true`: pflag
//! parses it as Go's `strconv.ParseBool`); clap's switches take none. Before clap parses the
//! command line, `--flag=TRUE` becomes `--flag` and `--flag=FALSE` is dropped, for every long
//! flag that is a switch wherever it appears in the command tree. Anything else is left for clap
//! to accept or refuse.

use std::collections::BTreeSet;
use std::ffi::OsString;

use clap::{ArgAction, Command};

/// The command line with Helm's `--switch=BOOL` forms rewritten for clap.
pub fn normalise(args: Vec<OsString>, command: &Command) -> Vec<OsString> {
    let boolean_form = |arg: &OsString| {
        arg.to_str()
            .and_then(|t| t.strip_prefix("--"))
            .and_then(|t| t.split_once('='))
            .is_some_and(|(_, value)| parse_bool(value).is_some())
    };
    if !args.iter().any(boolean_form) {
        return args;
    }
    let mut command = command.clone();
    command.build();
    let flags = Flags::of(&command);
    let mut out = Vec::with_capacity(args.len());
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            out.push(arg);
            out.extend(args.by_ref());
            break;
        }
        let Some(long) = text.strip_prefix("--") else {
            out.push(arg);
            continue;
        };
        match long.split_once('=') {
            Some((name, value)) if flags.switches.contains(name) => match parse_bool(value) {
                Some(true) => out.push(OsString::from(format!("--{name}"))),
                Some(false) => {}
                None => out.push(arg),
            },
            Some(_) => out.push(arg),
            None => {
                let takes_value = flags.valued.contains(long);
                out.push(arg);
                // The flag's value is never read as a flag of its own.
                if takes_value && let Some(value) = args.next() {
                    out.push(value);
                }
            }
        }
    }
    out
}

/// The long flags of a command tree: switches (on, or off, and nothing else, everywhere they
/// appear) and flags that always take a value.
#[derive(Default)]
struct Flags {
    switches: BTreeSet<String>,
    valued: BTreeSet<String>,
}

impl Flags {
    fn of(command: &Command) -> Flags {
        let mut switch_names = BTreeSet::new();
        let mut other_names = BTreeSet::new();
        let mut valued = BTreeSet::new();
        collect(command, &mut switch_names, &mut other_names, &mut valued);
        Flags {
            switches: switch_names.difference(&other_names).cloned().collect(),
            valued,
        }
    }
}

fn collect(
    command: &Command,
    switches: &mut BTreeSet<String>,
    others: &mut BTreeSet<String>,
    valued: &mut BTreeSet<String>,
) {
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else {
            continue;
        };
        let names = std::iter::once(long).chain(arg.get_all_aliases().into_iter().flatten());
        let is_switch = matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse);
        let needs_value = arg.get_num_args().is_some_and(|n| n.min_values() > 0);
        for name in names {
            if is_switch {
                switches.insert(name.to_owned());
            } else {
                others.insert(name.to_owned());
                if needs_value {
                    valued.insert(name.to_owned());
                }
            }
        }
    }
    for sub in command.get_subcommands() {
        collect(sub, switches, others, valued);
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory as _, Parser as _};

    fn normalised(args: &[&str]) -> Vec<String> {
        let args = args.iter().map(OsString::from).collect();
        normalise(args, &crate::cli::Cli::command())
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn switches_take_helms_boolean_values() {
        assert_eq!(
            normalised(&[
                "capstan",
                "upgrade",
                "w",
                "c",
                "--install=true",
                "--atomic=false"
            ]),
            ["capstan", "upgrade", "w", "c", "--install"]
        );
        assert_eq!(
            normalised(&["capstan", "list", "--debug=T", "-a"]),
            ["capstan", "list", "--debug", "-a"]
        );
        // Not a boolean: left for clap to refuse.
        assert_eq!(
            normalised(&["capstan", "list", "--debug=maybe"]),
            ["capstan", "list", "--debug=maybe"]
        );
    }

    #[test]
    fn values_and_operands_are_left_alone() {
        // --wait takes a strategy; a value that looks like a flag; everything after `--`.
        let args = [
            "capstan",
            "upgrade",
            "w",
            "c",
            "--wait=false",
            "--post-renderer-args",
            "--atomic=false",
            "--",
            "--debug=false",
        ];
        assert_eq!(normalised(&args), args);
    }

    #[test]
    fn the_normalised_line_parses() {
        let args = normalised(&["capstan", "install", "w", "c", "--create-namespace=true"]);
        assert!(crate::cli::Cli::try_parse_from(args).is_ok());
    }
}

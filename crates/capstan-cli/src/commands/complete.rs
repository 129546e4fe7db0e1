//! `capstan __complete WORDS... CURRENT`: dynamic shell completion as Helm's (cobra's) hidden
//! command: candidates one per line, then `:<directive>` (4: no file completion; 0: let the
//! shell complete files, e.g. for a chart). Release names, namespaces, revisions and kube
//! contexts come from the cluster and the kubeconfig; flags and subcommands from the command
//! line's own definition.

use clap::CommandFactory as _;
use k8s_openapi::api::core::v1::Namespace;

use crate::cli::{Cli, CompleteArgs, Global};
use crate::console::{eoutln, outln};
use crate::{applier, exit, kubeconfig};

/// Cobra's directive: complete nothing but the candidates.
const NO_FILE: u8 = 4;
/// Cobra's directive: the shell's default (files and directories, e.g. a chart on disk).
const FILES: u8 = 0;
/// Cobra's directive: no space after the candidate (`repo/` goes on to a chart name).
const NO_SPACE: u8 = 2;

/// Commands whose first argument is an existing release.
const RELEASE_FIRST: [&str; 9] = [
    "status",
    "upgrade",
    "rollback",
    "uninstall",
    "history",
    "values",
    "manifest",
    "notes",
    "hooks",
];

/// What to complete, worked out from the words before the cursor.
#[derive(Debug, PartialEq)]
enum Want {
    /// One of these fixed words.
    Words(Vec<String>),
    /// Release names in the namespace.
    Releases,
    /// Revisions of a release.
    Revisions(String),
    /// Namespaces of the cluster.
    Namespaces,
    /// Contexts of the kubeconfig.
    Contexts,
    /// Files (values files, chart directories).
    Files,
    /// Chart references (`repo/chart` from the added repositories) or files.
    Charts,
    /// Nothing (a new release name).
    Nothing,
    /// The `HELM_*` variables of `env`.
    EnvNames,
}

/// `capstan __complete`.
pub async fn run(global: &Global, args: CompleteArgs) -> anyhow::Result<u8> {
    let mut words = args.words;
    let current = words.pop().unwrap_or_default();
    let global = with_connection_flags(global, &words);
    let want = plan(&words, &current);
    let (candidates, directive) = match want {
        Want::Words(words) => (words, NO_FILE),
        Want::Files => (Vec::new(), FILES),
        Want::Charts => charts(&global, &current),
        Want::Nothing => (Vec::new(), NO_FILE),
        Want::Releases => (releases(&global).await.unwrap_or_default(), NO_FILE),
        Want::Revisions(name) => (revisions(&global, &name).await.unwrap_or_default(), NO_FILE),
        Want::Namespaces => (namespaces(&global).await.unwrap_or_default(), NO_FILE),
        Want::Contexts => (kubeconfig::contexts(&global), NO_FILE),
        Want::EnvNames => (
            super::env::variables(&global)
                .into_iter()
                .map(|(name, _)| name.to_owned())
                .collect(),
            NO_FILE,
        ),
    };
    for candidate in candidates.iter().filter(|c| c.starts_with(&current)) {
        outln!("{candidate}");
    }
    outln!(":{directive}");
    eoutln!("Completion ended with directive: {directive}");
    Ok(0)
}

/// The global flags with the namespace, context and kubeconfig typed so far on the line.
fn with_connection_flags(global: &Global, words: &[String]) -> Global {
    let mut global = global.clone();
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        let (flag, inline) = match word.split_once('=') {
            Some((f, v)) => (f, Some(v.to_owned())),
            None => (word.as_str(), None),
        };
        let value = || inline.clone().or_else(|| words.get(i + 1).cloned());
        match flag {
            "-n" | "--namespace" => global.namespace = value(),
            "--kube-context" => global.kube_context = value(),
            "--kubeconfig" => global.kubeconfig = value().map(Into::into),
            _ => {}
        }
        i += 1;
    }
    global.context_namespace = kubeconfig::context_namespace(&global);
    global
}

/// Works out what the word at the cursor is, from the words before it.
fn plan(words: &[String], current: &str) -> Want {
    let root = Cli::command();
    let mut command = &root;
    let mut path: Vec<String> = Vec::new();
    let mut positionals: Vec<String> = Vec::new();
    let mut pending_flag: Option<String> = None;
    for word in words {
        if pending_flag.take().is_some() {
            continue;
        }
        if word.starts_with('-') {
            if !word.contains('=') && takes_value(&built(command), &root, word) {
                pending_flag = Some(word.clone());
            }
            continue;
        }
        if positionals.is_empty()
            && let Some(sub) = command
                .get_subcommands()
                .find(|s| s.get_name() == word || s.get_all_aliases().any(|a| a == word))
        {
            path.push(sub.get_name().to_owned());
            command = sub;
            continue;
        }
        positionals.push(word.clone());
    }
    if let Some(flag) = pending_flag {
        return flag_value(&flag, &positionals);
    }
    if current.starts_with('-') {
        return Want::Words(flags(&built(command), &root));
    }
    if command.has_subcommands() && positionals.is_empty() {
        return Want::Words(
            command
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(|s| s.get_name().to_owned())
                .collect(),
        );
    }
    let leaf = path.last().map(String::as_str).unwrap_or_default();
    let parent = path.first().map(String::as_str).unwrap_or_default();
    match (parent, leaf, positionals.len()) {
        ("diff", "revision", 1 | 2) | ("diff", "rollback", 1) | ("rollback", _, 1) => {
            Want::Revisions(positionals[0].clone())
        }
        ("diff", "upgrade", 1) | ("upgrade", _, 1) | ("install" | "template", _, 1) => Want::Charts,
        ("install" | "template", _, 0)
            if words.iter().any(|w| w == "-g" || w == "--generate-name") =>
        {
            Want::Charts
        }
        ("pull" | "show", _, 0) => Want::Charts,
        ("install", _, 0) => Want::Nothing,
        ("template", _, 0) => Want::Charts,
        ("lint", _, _) => Want::Files,
        ("uninstall", _, _) => Want::Releases,
        (_, leaf, 0) if RELEASE_FIRST.contains(&leaf) || matches!(parent, "get" | "diff") => {
            Want::Releases
        }
        ("completion", _, 0) => Want::Words(
            ["bash", "zsh", "fish", "powershell"]
                .map(String::from)
                .to_vec(),
        ),
        ("env", _, 0) => Want::EnvNames,
        _ => Want::Nothing,
    }
}

/// What a flag's value is.
fn flag_value(flag: &str, positionals: &[String]) -> Want {
    match flag {
        "-n" | "--namespace" => Want::Namespaces,
        "--kube-context" => Want::Contexts,
        "--revision" => positionals
            .first()
            .map_or(Want::Nothing, |name| Want::Revisions(name.clone())),
        "-o" | "--output" => Want::Words(["table", "json", "yaml"].map(String::from).to_vec()),
        "--cascade" => Want::Words(
            ["background", "foreground", "orphan"]
                .map(String::from)
                .to_vec(),
        ),
        _ => Want::Files,
    }
}

/// A command with its arguments: a subcommand's are added only when it is built (they are
/// deferred, see `cli::Command`).
fn built(command: &clap::Command) -> clap::Command {
    let mut command = command.clone();
    command.build();
    command
}

/// Whether `word` (a flag) takes a value on the next word.
fn takes_value(command: &clap::Command, root: &clap::Command, word: &str) -> bool {
    command
        .get_arguments()
        .chain(root.get_arguments())
        .find(|a| {
            a.get_long().is_some_and(|l| word == format!("--{l}"))
                || a.get_short().is_some_and(|s| word == format!("-{s}"))
        })
        .is_some_and(|a| {
            a.get_action().takes_values() && a.get_num_args().is_none_or(|n| n.min_values() > 0)
        })
}

/// The long flags of a command and the global ones.
fn flags(command: &clap::Command, root: &clap::Command) -> Vec<String> {
    let mut out: Vec<String> = command
        .get_arguments()
        .chain(root.get_arguments())
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Chart references as Helm completes them: the added repositories as `repo/` (no space after,
/// the chart name follows), then the charts of the repository typed (`repo/chart`, from its
/// cached index); files and directories too when nothing else matches.
fn charts(global: &Global, current: &str) -> (Vec<String>, u8) {
    let resolver = crate::chart::resolver(global);
    let Ok(file) = resolver.repo_file() else {
        return (Vec::new(), FILES);
    };
    let mut candidates = Vec::new();
    for entry in &file.repositories {
        let prefix = format!("{}/", entry.name);
        if current.starts_with(&prefix) {
            if let Ok(index) = resolver.cached_index(&entry.name) {
                candidates.extend(index.entries.keys().map(|chart| format!("{prefix}{chart}")));
            }
            return (candidates, FILES);
        }
        if prefix.starts_with(current) {
            candidates.push(prefix);
        }
    }
    let directive = if candidates.is_empty() {
        FILES
    } else {
        NO_SPACE
    };
    (candidates, directive)
}

/// The releases in the namespace, every status.
async fn releases(global: &Global) -> anyhow::Result<Vec<String>> {
    let mut client = applier::connect(global).await?;
    let response = client
        .list(capstan_proto::applier::v1::ListRequest {
            namespace: global.namespace(),
            all_namespaces: false,
            states: Vec::new(),
            statuses: Vec::new(),
            filter: String::new(),
        })
        .await
        .map_err(exit::status)?
        .into_inner();
    Ok(response.releases.into_iter().map(|r| r.name).collect())
}

/// A release's revisions, newest first.
async fn revisions(global: &Global, name: &str) -> anyhow::Result<Vec<String>> {
    let mut client = applier::connect(global).await?;
    let response = client
        .history(capstan_proto::applier::v1::HistoryRequest {
            name: name.to_owned(),
            namespace: global.namespace(),
            max: 0,
        })
        .await
        .map_err(exit::status)?
        .into_inner();
    Ok(response
        .revisions
        .iter()
        .rev()
        .map(|r| r.revision.to_string())
        .collect())
}

/// The cluster's namespaces.
async fn namespaces(global: &Global) -> anyhow::Result<Vec<String>> {
    let client = kubeconfig::connect(global).await?;
    let list = kube::Api::<Namespace>::all(client)
        .list(&kube::api::ListParams::default())
        .await?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(line: &str) -> Want {
        let mut words: Vec<String> = line.split(' ').map(String::from).collect();
        let current = words.pop().unwrap_or_default();
        plan(&words, &current)
    }

    #[test]
    fn the_word_at_the_cursor_is_worked_out() {
        assert_eq!(plan_of("status "), Want::Releases);
        assert_eq!(plan_of("status -n apps w"), Want::Releases);
        assert_eq!(plan_of("rollback web "), Want::Revisions("web".into()));
        assert_eq!(plan_of("get values "), Want::Releases);
        assert_eq!(
            plan_of("diff revision web 1 "),
            Want::Revisions("web".into())
        );
        assert_eq!(
            plan_of("status web --revision "),
            Want::Revisions("web".into())
        );
        assert_eq!(plan_of("list -n "), Want::Namespaces);
        assert_eq!(plan_of("list --kube-context "), Want::Contexts);
        assert_eq!(plan_of("install web "), Want::Charts);
        assert_eq!(plan_of("install "), Want::Nothing);
        assert_eq!(plan_of("upgrade web "), Want::Charts);
        assert_eq!(plan_of("show values "), Want::Charts);
        assert_eq!(plan_of("pull "), Want::Charts);
        assert_eq!(plan_of("lint "), Want::Files);
        assert!(matches!(plan_of("stat"), Want::Words(w) if w.contains(&"status".to_owned())));
        assert!(matches!(plan_of("list --al"), Want::Words(w) if w.contains(&"--all".to_owned())));
        assert!(
            matches!(plan_of("status web -o "), Want::Words(w) if w == ["table", "json", "yaml"])
        );
    }
}

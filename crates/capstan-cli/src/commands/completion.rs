//! `capstan completion SHELL`: print the shell completion script, as `helm completion` does.
//! The bash, zsh and fish scripts are dynamic: they ask `capstan __complete` (see
//! [`super::complete`]) for release names, namespaces, revisions, kube contexts and flags, and
//! let the shell complete files (charts, values files) when it says so; PowerShell's is clap's
//! static script.

use clap::CommandFactory as _;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionArgs};
use crate::console::out;

/// bash: candidates from `capstan __complete`, files when its directive allows them.
const BASH: &str = r#"# capstan completion for bash: source <(capstan completion bash)
_capstan_complete() {
    local cur out directive
    cur="${COMP_WORDS[COMP_CWORD]}"
    out=$("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null) || return
    directive="${out##*:}"
    out="${out%:*}"
    local IFS=$'\n'
    COMPREPLY=($(compgen -W "$out" -- "$cur"))
    if [[ $((directive & 2)) -ne 0 ]]; then
        compopt -o nospace 2>/dev/null
    fi
    if [[ ${#COMPREPLY[@]} -eq 0 && $((directive & 4)) -eq 0 ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -F _capstan_complete capstan
"#;

/// zsh: the same protocol through `compadd`, `_files` for charts.
const ZSH: &str = r#"#compdef capstan
# capstan completion for zsh: source <(capstan completion zsh)
_capstan() {
    local out directive
    local -a candidates
    out=$(${words[1]} __complete "${(@)words[2,CURRENT-1]}" "${words[CURRENT]}" 2>/dev/null) || return
    directive=${out##*:}
    out=${out%:*}
    candidates=(${(f)out})
    if (( ${#candidates} )) && (( directive & 2 )); then
        compadd -S '' -- $candidates
    elif (( ${#candidates} )); then
        compadd -- $candidates
    elif (( (directive & 4) == 0 )); then
        _files
    fi
}
compdef _capstan capstan
"#;

/// fish: the same protocol, `__fish_complete_path` for charts.
const FISH: &str = r#"# capstan completion for fish: capstan completion fish | source
function __capstan_complete
    set -l tokens (commandline -opc)
    set -l current (commandline -ct)
    set -l out ($tokens[1] __complete $tokens[2..-1] "$current" 2>/dev/null)
    set -l directive (string replace ':' '' -- $out[-1])
    set -e out[-1]
    for candidate in $out
        echo $candidate
    end
    if test (count $out) -eq 0; and test "$directive" = 0
        __fish_complete_path "$current"
    end
end
complete -c capstan -f -k -a '(__capstan_complete)'
"#;

pub fn run(args: CompletionArgs) -> anyhow::Result<u8> {
    match args.shell {
        Shell::Bash => out!("{BASH}"),
        Shell::Zsh => out!("{ZSH}"),
        Shell::Fish => out!("{FISH}"),
        shell => {
            let mut command = Cli::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut command, "capstan", &mut out);
            out!("{}", String::from_utf8_lossy(&out));
        }
    }
    Ok(0)
}

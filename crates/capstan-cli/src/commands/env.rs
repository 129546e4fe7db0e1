//! `capstan env [NAME]`: the `HELM_*` variables in effect, printed as `helm env` prints them.

use std::path::PathBuf;

use crate::cli::{EnvArgs, Global};
use crate::console::outln;

/// A directory from its own variable, else `$XDG_<kind>_HOME/helm`, else `~/<fallback>/helm`.
fn home(own: &str, xdg: &str, fallback: &str) -> String {
    if let Some(dir) = std::env::var_os(own).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).display().to_string();
    }
    let base = std::env::var_os(xdg)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(fallback)
        });
    base.join("helm").display().to_string()
}

/// A variable's value, or a default under one of the homes.
fn path_or(own: &str, default: impl FnOnce() -> String) -> String {
    std::env::var(own)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(default)
}

/// The variables and their values, sorted by name as Helm prints them.
pub fn variables(global: &Global) -> Vec<(&'static str, String)> {
    let cache = home("HELM_CACHE_HOME", "XDG_CACHE_HOME", ".cache");
    let config = home("HELM_CONFIG_HOME", "XDG_CONFIG_HOME", ".config");
    let data = home("HELM_DATA_HOME", "XDG_DATA_HOME", ".local/share");
    let kube = &global.kube;
    let bin = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let max_history = std::env::var("HELM_MAX_HISTORY")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(10);
    let mut vars = vec![
        ("HELM_BIN", bin),
        ("HELM_BURST_LIMIT", kube.burst_limit.to_string()),
        ("HELM_CACHE_HOME", cache.clone()),
        ("HELM_CONFIG_HOME", config.clone()),
        ("HELM_DATA_HOME", data.clone()),
        ("HELM_DEBUG", global.debug.to_string()),
        (
            "HELM_KUBEAPISERVER",
            kube.kube_apiserver.clone().unwrap_or_default(),
        ),
        ("HELM_KUBEASGROUPS", kube.kube_as_group.join(",")),
        (
            "HELM_KUBEASUSER",
            kube.kube_as_user.clone().unwrap_or_default(),
        ),
        (
            "HELM_KUBECAFILE",
            kube.kube_ca_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        (
            "HELM_KUBECONTEXT",
            global.kube_context.clone().unwrap_or_default(),
        ),
        (
            "HELM_KUBEINSECURE_SKIP_TLS_VERIFY",
            kube.kube_insecure_skip_tls_verify.to_string(),
        ),
        (
            "HELM_KUBETLS_SERVER_NAME",
            kube.kube_tls_server_name.clone().unwrap_or_default(),
        ),
        (
            "HELM_KUBETOKEN",
            kube.kube_token.clone().unwrap_or_default(),
        ),
        ("HELM_MAX_HISTORY", max_history.to_string()),
        ("HELM_NAMESPACE", global.namespace()),
        (
            "HELM_PLUGINS",
            path_or("HELM_PLUGINS", || format!("{data}/plugins")),
        ),
        ("HELM_QPS", format!("{:.2}", kube.qps)),
        (
            "HELM_REGISTRY_CONFIG",
            path_or("HELM_REGISTRY_CONFIG", || {
                format!("{config}/registry/config.json")
            }),
        ),
        (
            "HELM_REPOSITORY_CACHE",
            path_or("HELM_REPOSITORY_CACHE", || format!("{cache}/repository")),
        ),
        (
            "HELM_REPOSITORY_CONFIG",
            path_or("HELM_REPOSITORY_CONFIG", || {
                format!("{config}/repositories.yaml")
            }),
        ),
    ];
    vars.sort_by_key(|(name, _)| *name);
    vars
}

/// Go's `%q` of a plain string: double quotes, with `"` and `\` escaped.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `capstan env`: every variable as `NAME="value"`; `capstan env NAME`: its value alone (an
/// empty line for a name Helm does not know, as Helm).
pub fn run(global: &Global, args: EnvArgs) -> anyhow::Result<u8> {
    let vars = variables(global);
    match args.name {
        Some(name) => {
            let value = vars
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default();
            outln!("{value}");
        }
        None => {
            for (name, value) in &vars {
                outln!("{name}={}", quoted(value));
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn values_are_quoted_as_go_does() {
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quoted(""), "\"\"");
    }
}

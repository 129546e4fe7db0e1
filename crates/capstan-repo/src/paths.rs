//! Helm's directories and files, from Helm's environment variables and XDG defaults.

use std::path::{Path, PathBuf};

/// Where Helm (and capstan) keep repository configuration, caches and registry credentials.
///
/// Resolved as Helm resolves them: `HELM_CONFIG_HOME`, `HELM_CACHE_HOME` and `HELM_DATA_HOME`,
/// else `$XDG_CONFIG_HOME/helm`, `$XDG_CACHE_HOME/helm`, `$XDG_DATA_HOME/helm`, else
/// `~/.config/helm`, `~/.cache/helm`, `~/.local/share/helm`; the files default inside them and
/// are overridden by `HELM_REPOSITORY_CONFIG`, `HELM_REPOSITORY_CACHE` and `HELM_REGISTRY_CONFIG`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmPaths {
    /// Helm's configuration directory.
    pub config_home: PathBuf,
    /// Helm's cache directory.
    pub cache_home: PathBuf,
    /// Helm's data directory.
    pub data_home: PathBuf,
    /// `repositories.yaml`.
    pub repository_config: PathBuf,
    /// The repository cache: `<name>-index.yaml` and `<name>-charts.txt` per repository.
    pub repository_cache: PathBuf,
    /// The registry credentials file (docker's `config.json` format).
    pub registry_config: PathBuf,
}

impl HelmPaths {
    /// The paths from the process environment.
    pub fn from_env() -> HelmPaths {
        HelmPaths::from_lookup(|name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
    }

    /// The paths from an environment given as a lookup function (for tests and daemons).
    pub fn from_lookup(env: impl Fn(&str) -> Option<PathBuf>) -> HelmPaths {
        let home = env("HOME").unwrap_or_else(|| PathBuf::from("/"));
        let base = |helm: &str, xdg: &str, default: &str| {
            env(helm)
                .or_else(|| env(xdg).map(|d| d.join("helm")))
                .unwrap_or_else(|| home.join(default).join("helm"))
        };
        let config_home = base("HELM_CONFIG_HOME", "XDG_CONFIG_HOME", ".config");
        let cache_home = base("HELM_CACHE_HOME", "XDG_CACHE_HOME", ".cache");
        let data_home = base("HELM_DATA_HOME", "XDG_DATA_HOME", ".local/share");
        HelmPaths {
            repository_config: env("HELM_REPOSITORY_CONFIG")
                .unwrap_or_else(|| config_home.join("repositories.yaml")),
            repository_cache: env("HELM_REPOSITORY_CACHE")
                .unwrap_or_else(|| cache_home.join("repository")),
            registry_config: env("HELM_REGISTRY_CONFIG")
                .unwrap_or_else(|| config_home.join("registry/config.json")),
            config_home,
            cache_home,
            data_home,
        }
    }

    /// The cached `index.yaml` of repository `name`.
    pub fn index_file(&self, name: &str) -> PathBuf {
        self.repository_cache.join(format!("{name}-index.yaml"))
    }

    /// The cached chart list of repository `name` (one chart name a line).
    pub fn charts_file(&self, name: &str) -> PathBuf {
        self.repository_cache.join(format!("{name}-charts.txt"))
    }

    /// capstan's content-addressed chart archives, inside Helm's cache directory.
    pub fn chart_cache(&self) -> PathBuf {
        self.cache_home.join("capstan/charts")
    }

    /// Helm's default keyring for `--verify` (`~/.gnupg/pubring.gpg`).
    pub fn default_keyring() -> PathBuf {
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
        Path::new(&home).join(".gnupg/pubring.gpg")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<PathBuf> {
        let pairs: Vec<(String, PathBuf)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), PathBuf::from(v)))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn defaults_follow_xdg_and_home() {
        let p = HelmPaths::from_lookup(lookup(&[("HOME", "/h"), ("XDG_CACHE_HOME", "/xc")]));
        assert_eq!(
            p.repository_config,
            PathBuf::from("/h/.config/helm/repositories.yaml")
        );
        assert_eq!(p.repository_cache, PathBuf::from("/xc/helm/repository"));
        assert_eq!(p.data_home, PathBuf::from("/h/.local/share/helm"));
        assert_eq!(
            p.registry_config,
            PathBuf::from("/h/.config/helm/registry/config.json")
        );
        assert_eq!(
            p.index_file("stable"),
            PathBuf::from("/xc/helm/repository/stable-index.yaml")
        );
    }

    #[test]
    fn helm_variables_win() {
        let p = HelmPaths::from_lookup(lookup(&[
            ("HOME", "/h"),
            ("HELM_CONFIG_HOME", "/c"),
            ("HELM_REPOSITORY_CACHE", "/rc"),
            ("HELM_REGISTRY_CONFIG", "/r.json"),
        ]));
        assert_eq!(p.repository_config, PathBuf::from("/c/repositories.yaml"));
        assert_eq!(p.charts_file("x"), PathBuf::from("/rc/x-charts.txt"));
        assert_eq!(p.registry_config, PathBuf::from("/r.json"));
    }
}

//! The objects a release's render looked up last time (`lookup` in its templates), remembered
//! per release under `<HELM_CACHE_HOME>/capstan/lookups/`, so the next install or upgrade of
//! it reads them before rendering and, when the chart asks the same, renders once.
//!
//! Only the keys are kept (API version, kind, namespace, name: what the templates asked),
//! never an object: every answer is read from the cluster, as the user, just before the
//! render. So a remembered key costs at most a read: one no longer asked is read for nothing,
//! one newly asked is answered by another round, as without this memory, and the render that
//! asks nothing unanswered is the one Helm makes against the same cluster. Nothing is
//! remembered for names that cannot be file names (a release name the applier will refuse);
//! a file that cannot be read or written is as if absent.

use std::path::PathBuf;

use capstan_proto::renderer::v1 as rpb;

use crate::cli::Global;

/// The most keys remembered for one release (the applier's bound on one lookup request).
const MAX_KEYS: usize = 256;

/// Where one release's lookups are remembered.
#[derive(Debug, Clone)]
pub(crate) struct Memory {
    path: Option<PathBuf>,
}

/// Whether `name` is safe as part of a file name: what Kubernetes names are made of.
fn plain(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

impl Memory {
    /// The memory of release `name` in `namespace`.
    pub(crate) fn of(global: &Global, namespace: &str, name: &str) -> Memory {
        let dir = crate::chart::helm_paths(global)
            .cache_home
            .join("capstan")
            .join("lookups");
        Memory::in_dir(dir, namespace, name)
    }

    fn in_dir(dir: PathBuf, namespace: &str, name: &str) -> Memory {
        let path =
            (plain(namespace) && plain(name)).then(|| dir.join(format!("{namespace}_{name}.json")));
        Memory { path }
    }

    /// The keys remembered (none when there is no memory or it cannot be read).
    pub(crate) fn keys(&self) -> Vec<rpb::LookupKey> {
        let Some(path) = &self.path else {
            return Vec::new();
        };
        let Ok(text) = std::fs::read(path) else {
            return Vec::new();
        };
        let Ok(rows) = serde_json::from_slice::<Vec<[String; 4]>>(&text) else {
            return Vec::new();
        };
        rows.into_iter()
            .take(MAX_KEYS)
            .map(|[api_version, kind, namespace, name]| rpb::LookupKey {
                api_version,
                kind,
                namespace,
                name,
            })
            .collect()
    }

    /// Forgets what was remembered (the release is uninstalled).
    pub(crate) fn forget(&self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Remembers `keys` (the first [`MAX_KEYS`]), written whole or not at all.
    pub(crate) fn remember(&self, keys: &[rpb::LookupKey]) {
        let Some(path) = &self.path else {
            return;
        };
        let rows: Vec<[&str; 4]> = keys
            .iter()
            .take(MAX_KEYS)
            .map(|k| {
                [
                    k.api_version.as_str(),
                    k.kind.as_str(),
                    k.namespace.as_str(),
                    k.name.as_str(),
                ]
            })
            .collect();
        let write = || -> std::io::Result<()> {
            let dir = path.parent().unwrap_or(path);
            std::fs::create_dir_all(dir)?;
            let mut file = tempfile::NamedTempFile::new_in(dir)?;
            serde_json::to_writer(&mut file, &rows)?;
            file.persist(path).map_err(|e| e.error)?;
            Ok(())
        };
        if let Err(e) = write() {
            tracing::debug!(error = %e, "could not remember the render's lookups");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: &str, name: &str) -> rpb::LookupKey {
        rpb::LookupKey {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: "db".into(),
            name: name.into(),
        }
    }

    #[test]
    fn keys_are_remembered_per_release() {
        let dir = tempfile::tempdir().unwrap();
        let web = Memory::in_dir(dir.path().into(), "apps", "web");
        assert!(web.keys().is_empty(), "nothing yet");
        let asked = [key("Secret", "web-password"), key("ConfigMap", "")];
        web.remember(&asked);
        assert_eq!(web.keys(), asked);
        assert!(
            Memory::in_dir(dir.path().into(), "apps", "api")
                .keys()
                .is_empty()
        );
        assert!(
            Memory::in_dir(dir.path().into(), "other", "web")
                .keys()
                .is_empty()
        );
        web.forget();
        assert!(web.keys().is_empty(), "forgotten");
        web.forget();
    }

    #[test]
    fn names_that_are_not_plain_are_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        for (namespace, name) in [("apps", "../web"), ("", "web"), ("apps", "Web"), (".", "x")] {
            let memory = Memory::in_dir(dir.path().into(), namespace, name);
            memory.remember(&[key("Secret", "a")]);
            assert!(memory.keys().is_empty(), "{namespace:?} {name:?}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn an_unreadable_memory_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let web = Memory::in_dir(dir.path().into(), "apps", "web");
        std::fs::write(dir.path().join("apps_web.json"), b"{not json").unwrap();
        assert!(web.keys().is_empty());
        web.remember(&[key("Secret", "a")]);
        assert_eq!(web.keys(), [key("Secret", "a")]);
    }
}

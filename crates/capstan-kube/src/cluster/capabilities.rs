//! What the server offers, as charts see it: `.Capabilities` (the server's version and every
//! API version and kind it serves).

use std::collections::BTreeSet;

use capstan_ops::{Capabilities, ClusterError};

use super::KubeCluster;
use super::convert::kube_error;
use crate::retry::retrying;

impl KubeCluster {
    pub(super) async fn capabilities_impl(&self) -> Result<Capabilities, ClusterError> {
        let info = retrying("read the server version", || {
            self.client.apiserver_version()
        })
        .await
        .map_err(|e| kube_error("reading the server version", e))?;
        let discovery = retrying("discover the server's APIs", || async {
            match kube::Discovery::new(self.client.clone())
                .run_aggregated()
                .await
            {
                Ok(d) => Ok(d),
                Err(_) => kube::Discovery::new(self.client.clone()).run().await,
            }
        })
        .await
        .map_err(|e| kube_error("discovering the server's APIs", e))?;
        let mut versions = BTreeSet::new();
        for group in discovery.groups() {
            for version in group.versions() {
                for (resource, _) in group.versioned_resources(version) {
                    versions.insert(format!("{}/{}", resource.api_version, resource.kind));
                    versions.insert(resource.api_version);
                }
            }
        }
        Ok(Capabilities {
            kube_version: Some(kube_version(&info)),
            api_versions: versions.into_iter().collect(),
        })
    }
}

/// The server's version as Helm shows it (`v1.36.3`): its `gitVersion`, unless that is not
/// stamped (a server built from source says `v0.0.0-master+$Format:%H$`), then
/// `v<major>.<minor>.0` (a trailing `+` of the minor, as some providers write it, dropped).
fn kube_version(info: &k8s_openapi::apimachinery::pkg::version::Info) -> String {
    let stamped = info
        .git_version
        .strip_prefix('v')
        .and_then(|v| v.split('.').next())
        .and_then(|major| major.parse::<u32>().ok())
        .is_some_and(|major| major > 0);
    if stamped || info.major.is_empty() {
        info.git_version.clone()
    } else {
        format!(
            "v{}.{}.0",
            info.major.trim_end_matches('+'),
            info.minor.trim_end_matches('+')
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_versions_as_helm_shows_them() {
        let info = |git: &str, major: &str, minor: &str| {
            kube_version(&k8s_openapi::apimachinery::pkg::version::Info {
                git_version: git.into(),
                major: major.into(),
                minor: minor.into(),
                ..Default::default()
            })
        };
        assert_eq!(info("v1.36.3", "1", "36"), "v1.36.3");
        assert_eq!(info("v1.30.2-gke.1", "1", "30+"), "v1.30.2-gke.1");
        assert_eq!(info("v0.0.0-master+$Format:%H$", "1", "36"), "v1.36.0");
        assert_eq!(info("v0.0.0-master+$Format:%H$", "1", "36+"), "v1.36.0");
    }
}

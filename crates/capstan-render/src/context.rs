//! The release, capabilities and limits a render runs with.

use std::time::Duration;

/// The release being rendered: Helm's `.Release`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseInfo {
    /// `Release.Name`.
    pub name: String,
    /// `Release.Namespace`.
    pub namespace: String,
    /// `Release.Revision` (1 on install).
    pub revision: u64,
    /// `Release.IsInstall`.
    pub is_install: bool,
    /// `Release.IsUpgrade`.
    pub is_upgrade: bool,
    /// `Release.Service` (`Helm`, so charts that label `managed-by` keep working).
    pub service: String,
    /// The render's time, RFC 3339 (what `now()` returns); fixed so output is deterministic.
    pub time: String,
}

impl ReleaseInfo {
    /// A first install of `name` in `namespace`, at the Unix epoch.
    pub fn install(name: &str, namespace: &str) -> ReleaseInfo {
        ReleaseInfo {
            name: name.into(),
            namespace: namespace.into(),
            revision: 1,
            is_install: true,
            is_upgrade: false,
            service: "Helm".into(),
            time: "1970-01-01T00:00:00Z".into(),
        }
    }

    /// An upgrade of `name` to `revision`.
    pub fn upgrade(name: &str, namespace: &str, revision: u64) -> ReleaseInfo {
        ReleaseInfo {
            revision,
            is_install: false,
            is_upgrade: true,
            ..ReleaseInfo::install(name, namespace)
        }
    }
}

/// What the cluster offers: Helm's `.Capabilities`, and what `lookup` finds in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// The Kubernetes version, e.g. `v1.37.0`.
    pub kube_version: String,
    /// Available API versions, as `group/version` and optionally `group/version/Kind`.
    pub api_versions: Vec<String>,
    /// The caller's answers to `lookup` ([`crate::lookup`]); `None` (`template`, a client dry
    /// run) answers every lookup empty, as `helm template` does.
    pub lookups: Option<std::sync::Arc<crate::Lookups>>,
    /// Helm's lint mode (`helm lint`): `required` with a missing value and `fail` do not fail the
    /// render; their messages are returned in [`crate::Rendered::lint_messages`].
    pub lint: bool,
    /// `--render-subchart-notes`: the subcharts' NOTES.txt are rendered too and follow the
    /// parent chart's in the notes.
    pub subchart_notes: bool,
    /// The render's CRD list ([`crate::Rendered::crds`]) is left empty, for a caller that will
    /// not install them (`template` without `--include-crds`): they are not copied.
    pub omit_crds: bool,
}

impl Default for Capabilities {
    /// Helm's `template` defaults: the Kubernetes of its client-go (v1.37.0 for Helm v3.22.0,
    /// built as its release is, and for v4.3.1) and Helm's default version set.
    fn default() -> Self {
        // Helm's default version set for renders without a cluster (`helm template`): every
        // group/version its Kubernetes client knows.
        let versions = [
            "v1",
            "admissionregistration.k8s.io/v1",
            "admissionregistration.k8s.io/v1alpha1",
            "admissionregistration.k8s.io/v1beta1",
            "internal.apiserver.k8s.io/v1alpha1",
            "apps/v1",
            "apps/v1beta1",
            "apps/v1beta2",
            "authentication.k8s.io/v1",
            "authentication.k8s.io/v1alpha1",
            "authentication.k8s.io/v1beta1",
            "authorization.k8s.io/v1",
            "authorization.k8s.io/v1beta1",
            "autoscaling/v1",
            "autoscaling/v2",
            "batch/v1",
            "batch/v1beta1",
            "certificates.k8s.io/v1",
            "certificates.k8s.io/v1beta1",
            "certificates.k8s.io/v1alpha1",
            "coordination.k8s.io/v1alpha2",
            "coordination.k8s.io/v1beta1",
            "coordination.k8s.io/v1",
            "discovery.k8s.io/v1",
            "discovery.k8s.io/v1beta1",
            "events.k8s.io/v1",
            "events.k8s.io/v1beta1",
            "extensions/v1beta1",
            "flowcontrol.apiserver.k8s.io/v1",
            "flowcontrol.apiserver.k8s.io/v1beta1",
            "flowcontrol.apiserver.k8s.io/v1beta2",
            "flowcontrol.apiserver.k8s.io/v1beta3",
            "lifecycle.k8s.io/v1alpha1",
            "networking.k8s.io/v1",
            "networking.k8s.io/v1beta1",
            "node.k8s.io/v1",
            "node.k8s.io/v1alpha1",
            "node.k8s.io/v1beta1",
            "policy/v1",
            "policy/v1beta1",
            "rbac.authorization.k8s.io/v1",
            "rbac.authorization.k8s.io/v1beta1",
            "rbac.authorization.k8s.io/v1alpha1",
            "resource.k8s.io/v1",
            "resource.k8s.io/v1beta2",
            "resource.k8s.io/v1beta1",
            "resource.k8s.io/v1alpha3",
            "scheduling.k8s.io/v1alpha3",
            "scheduling.k8s.io/v1beta1",
            "scheduling.k8s.io/v1",
            "storage.k8s.io/v1beta1",
            "storage.k8s.io/v1",
            "storage.k8s.io/v1alpha1",
            "storagemigration.k8s.io/v1",
            "storagemigration.k8s.io/v1beta1",
            "apiextensions.k8s.io/v1beta1",
            "apiextensions.k8s.io/v1",
        ];
        Capabilities {
            kube_version: "v1.37.0".into(),
            api_versions: versions.iter().map(|s| s.to_string()).collect(),
            lookups: None,
            lint: false,
            subchart_notes: false,
            omit_crds: false,
        }
    }
}

/// Bounds on one render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderLimits {
    /// Deepest nesting of `include`/`tpl` calls.
    pub max_include_depth: usize,
    /// minijinja instructions allowed per template evaluation (each include counts anew).
    pub fuel: u64,
    /// Wall-clock budget for the whole render, checked at every include, tpl and output.
    pub timeout: Duration,
    /// Largest total rendered output (bytes).
    pub max_output_bytes: usize,
    /// Largest string one function call may build (`indent`, `printf`, `replace`, `repeat`,
    /// `join`, `toYaml`, ...), checked before the string is allocated: approximate memory bound.
    pub max_string_bytes: usize,
    /// Most Kubernetes objects (manifests and hooks) one render may produce.
    pub max_objects: usize,
}

impl Default for RenderLimits {
    fn default() -> Self {
        RenderLimits {
            max_include_depth: 64,
            fuel: 20_000_000,
            timeout: Duration::from_secs(10),
            max_output_bytes: 64 << 20,
            max_string_bytes: 16 << 20,
            max_objects: 10_000,
        }
    }
}

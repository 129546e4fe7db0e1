//! The checks Helm makes on each rendered object: API version, kind and name present, the name
//! valid for its kind, the API version neither deprecated nor removed.

use crate::finding::{Findings, Severity};

/// The checks Helm makes on each rendered object: it names its API version, kind and name; its
/// name is valid for its kind; its API version is not deprecated or removed.
pub fn check_object(
    findings: &mut Findings,
    file: &str,
    api_version: &str,
    kind: &str,
    name: &str,
) {
    if api_version.is_empty() {
        findings.add(
            Severity::Error,
            file,
            format!("{kind} is missing apiVersion"),
        );
    }
    if kind.is_empty() {
        findings.add(Severity::Error, file, "object is missing kind");
    }
    if name.is_empty() {
        findings.add(
            Severity::Error,
            file,
            format!("{kind} is missing metadata.name"),
        );
    } else if let Err(rule) = valid_name(kind, name) {
        findings.add(
            Severity::Error,
            file,
            format!(
                "object name does not conform to Kubernetes naming requirements: {name:?}: {rule}"
            ),
        );
    }
    if let Some((since, removed, replacement)) = deprecation(api_version, kind) {
        findings.add(
            Severity::Warning,
            file,
            format!(
                "{api_version} {kind} is deprecated in v{since}+, unavailable in v{removed}+; use {replacement} {kind}"
            ),
        );
    }
}

const SUBDOMAIN_RULE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const LABEL_RULE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', start and end with an alphanumeric character, and be at most 63 characters";
const DNS1035_RULE: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, end with an alphanumeric character, and be at most 63 characters";

/// Whether `name` is a valid name for an object of `kind`, by the rule Kubernetes applies to it;
/// kinds Kubernetes does not define (custom resources) are not checked.
pub fn valid_name(kind: &str, name: &str) -> Result<(), String> {
    match kind {
        "Service" => dns1035_label(name).then_some(()).ok_or(DNS1035_RULE.into()),
        "Namespace" => dns1123_label(name).then_some(()).ok_or(LABEL_RULE.into()),
        "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => {
            if name == "." || name == ".." {
                Err(format!("may not be {name:?}"))
            } else if name.contains('/') || name.contains('%') {
                Err("may not contain '/' or '%'".into())
            } else {
                Ok(())
            }
        }
        "Pod"
        | "ConfigMap"
        | "Secret"
        | "ServiceAccount"
        | "Endpoints"
        | "ResourceQuota"
        | "LimitRange"
        | "PersistentVolume"
        | "PersistentVolumeClaim"
        | "ReplicationController"
        | "Deployment"
        | "DaemonSet"
        | "StatefulSet"
        | "ReplicaSet"
        | "ControllerRevision"
        | "Job"
        | "CronJob"
        | "Ingress"
        | "IngressClass"
        | "NetworkPolicy"
        | "HorizontalPodAutoscaler"
        | "PodDisruptionBudget"
        | "PriorityClass"
        | "StorageClass"
        | "RuntimeClass"
        | "Lease"
        | "CustomResourceDefinition"
        | "MutatingWebhookConfiguration"
        | "ValidatingWebhookConfiguration" => dns1123_subdomain(name)
            .then_some(())
            .ok_or(SUBDOMAIN_RULE.into()),
        _ => Ok(()),
    }
}

fn dns1123_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

fn dns1035_label(name: &str) -> bool {
    dns1123_label(name) && name.as_bytes()[0].is_ascii_lowercase()
}

fn dns1123_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(dns1123_label)
}

/// Deprecated or removed API versions Helm's linter warns about: (deprecated in, removed in,
/// replacement).
pub fn deprecation(
    api_version: &str,
    kind: &str,
) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match (api_version, kind) {
        ("extensions/v1beta1", "Ingress") => ("1.14", "1.22", "networking.k8s.io/v1"),
        ("networking.k8s.io/v1beta1", "Ingress" | "IngressClass") => {
            ("1.19", "1.22", "networking.k8s.io/v1")
        }
        (
            "extensions/v1beta1" | "apps/v1beta1" | "apps/v1beta2",
            "Deployment" | "DaemonSet" | "StatefulSet" | "ReplicaSet",
        ) => ("1.9", "1.16", "apps/v1"),
        ("extensions/v1beta1", "NetworkPolicy") => ("1.9", "1.16", "networking.k8s.io/v1"),
        ("batch/v1beta1", "CronJob") => ("1.21", "1.25", "batch/v1"),
        ("policy/v1beta1", "PodDisruptionBudget") => ("1.21", "1.25", "policy/v1"),
        ("autoscaling/v2beta1" | "autoscaling/v2beta2", "HorizontalPodAutoscaler") => {
            ("1.23", "1.26", "autoscaling/v2")
        }
        ("rbac.authorization.k8s.io/v1beta1", _) => {
            ("1.17", "1.22", "rbac.authorization.k8s.io/v1")
        }
        ("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition") => {
            ("1.16", "1.22", "apiextensions.k8s.io/v1")
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_kinds_rules() {
        assert!(valid_name("Deployment", "prod-api.web").is_ok());
        assert!(valid_name("Deployment", "Prod_API").is_err());
        assert!(valid_name("Service", "9web").is_err());
        assert!(valid_name("Service", "web-9").is_ok());
        assert!(valid_name("Namespace", "a.b").is_err());
        assert!(valid_name("ClusterRole", "system:Reader").is_ok());
        assert!(valid_name("ClusterRole", "a/b").is_err());
        assert!(valid_name("Widget", "Any_Name").is_ok());
        assert!(valid_name("ConfigMap", &"a".repeat(254)).is_err());
    }
}

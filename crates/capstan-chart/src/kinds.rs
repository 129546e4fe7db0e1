//! Helm's order of kinds: the order a chart's objects are installed in, and uninstalled in.

use std::cmp::Ordering;

/// Helm's install order of kinds (`releaseutil.InstallOrder`); unknown kinds come after these,
/// alphabetically.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// The position of `kind` in [`INSTALL_ORDER`], or `None` for kinds Helm does not list.
pub fn install_order_index(kind: &str) -> Option<usize> {
    INSTALL_ORDER.iter().position(|k| *k == kind)
}

/// Compares two kinds in install order: listed kinds by their position, then unknown kinds
/// alphabetically.
pub fn compare_install(a: &str, b: &str) -> Ordering {
    match (install_order_index(a), install_order_index(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// Compares two kinds in uninstall order: listed kinds in reverse install order (webhook
/// configurations first), then unknown kinds alphabetically, as Helm's `lessByKind` does.
pub fn compare_uninstall(a: &str, b: &str) -> Ordering {
    match (install_order_index(a), install_order_index(b)) {
        (Some(x), Some(y)) => y.cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_and_uninstall_orders() {
        let mut kinds = vec![
            "Deployment",
            "Widget",
            "Namespace",
            "Service",
            "Apple",
            "ConfigMap",
        ];
        kinds.sort_by(|a, b| compare_install(a, b));
        assert_eq!(
            kinds,
            [
                "Namespace",
                "ConfigMap",
                "Service",
                "Deployment",
                "Apple",
                "Widget"
            ]
        );
        kinds.sort_by(|a, b| compare_uninstall(a, b));
        assert_eq!(
            kinds,
            [
                "Deployment",
                "Service",
                "ConfigMap",
                "Namespace",
                "Apple",
                "Widget"
            ]
        );
    }
}

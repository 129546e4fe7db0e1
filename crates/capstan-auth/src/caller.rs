//! [`Caller`]: an authenticated principal and, under a policy, its tenant; the authorizer every
//! service asks before it acts.

use std::sync::Arc;

use crate::{Error, Impersonation, Operation, Policy, Principal, Result, Tenant};

/// One object a chart would create, as the object check sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// API group (`""` for the core group).
    pub group: String,
    /// Kind.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, when the manifest sets it.
    pub namespace: Option<String>,
    /// Whether the kind is namespaced (the cluster's REST mapping says).
    pub namespaced: bool,
}

impl ObjectInfo {
    /// `Kind/name`, as denials name the object.
    pub fn describe(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// Who is calling, and what they may do.
#[derive(Clone, Debug)]
pub struct Caller {
    principal: Principal,
    tenant: Option<Arc<Tenant>>,
}

impl Caller {
    /// A caller with no restrictions: no policy is configured (single-tenant capstan).
    pub fn unrestricted(principal: Principal) -> Caller {
        Caller {
            principal,
            tenant: None,
        }
    }

    /// The caller `principal` is under `policy`: its tenant, or why it has none.
    pub fn under_policy(principal: Principal, policy: &Policy) -> Result<Caller> {
        let tenant = policy.tenant_of(&principal)?;
        Ok(Caller {
            principal,
            tenant: Some(tenant),
        })
    }

    /// The authenticated principal.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The tenant, when a policy applies.
    pub fn tenant(&self) -> Option<&Tenant> {
        self.tenant.as_deref()
    }

    /// The tenant's name, or `""` when unrestricted (for logs).
    pub fn tenant_name(&self) -> &str {
        self.tenant.as_deref().map_or("", |t| t.name.as_str())
    }

    /// Who the applier must act as for this caller (`None`: its own identity).
    pub fn impersonation(&self) -> Option<&Impersonation> {
        self.tenant.as_deref().map(|t| &t.impersonate)
    }

    /// Whether the caller may use `namespace` at all.
    pub fn may_use_namespace(&self, namespace: &str) -> bool {
        self.tenant
            .as_deref()
            .is_none_or(|t| t.allows_namespace(namespace))
    }

    /// May the caller run `operation` in `namespace`? `namespace` `""` means every namespace
    /// (`list -A`), which is allowed when the operation is: the listing is then filtered with
    /// [`Caller::may_use_namespace`].
    pub fn authorize(&self, operation: Operation, namespace: &str) -> Result<()> {
        let Some(tenant) = self.tenant.as_deref() else {
            return Ok(());
        };
        if !tenant.allows(operation) {
            return Err(Error::Denied(format!(
                "tenant {:?} may not run {operation}",
                tenant.name
            )));
        }
        if !namespace.is_empty() && !tenant.allows_namespace(namespace) {
            return Err(Error::Denied(format!(
                "tenant {:?} may not {operation} in namespace {namespace:?}",
                tenant.name
            )));
        }
        Ok(())
    }

    /// May a release of this caller in `release_namespace` create these objects? A namespaced
    /// object must stay in the release's namespace; a cluster-scoped one must be of a kind the
    /// tenant's `clusterResources` allow. The first object refused is named.
    pub fn check_objects(&self, release_namespace: &str, objects: &[ObjectInfo]) -> Result<()> {
        let Some(tenant) = self.tenant.as_deref() else {
            return Ok(());
        };
        for object in objects {
            if object.namespaced {
                if let Some(namespace) = object.namespace.as_deref()
                    && namespace != release_namespace
                {
                    return Err(Error::Denied(format!(
                        "{} sets namespace {namespace:?}, but tenant {:?}'s release lives in \
                         {release_namespace:?}; a chart may only create objects in its \
                         release's namespace",
                        object.describe(),
                        tenant.name
                    )));
                }
            } else if !tenant.allows_cluster_resource(&object.group, &object.kind) {
                return Err(Error::Denied(format!(
                    "{} is cluster-scoped, and tenant {:?} may not create {} objects \
                     (not in its clusterResources)",
                    object.describe(),
                    tenant.name,
                    if object.group.is_empty() {
                        object.kind.clone()
                    } else {
                        format!("{}/{}", object.group, object.kind)
                    }
                )));
            }
        }
        Ok(())
    }

    /// May the caller add a release, having `existing` already?
    pub fn check_quota(&self, existing: usize) -> Result<()> {
        let Some(tenant) = self.tenant.as_deref() else {
            return Ok(());
        };
        match tenant.max_releases {
            Some(max) if existing >= max as usize => Err(Error::Quota(format!(
                "tenant {:?} has {existing} release(s), its quota (maxReleases {max}) is used up",
                tenant.name
            ))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
tenants:
  team-a:
    namespaces: [team-a, "team-a-*"]
    operations: [install, list, get]
    maxReleases: 2
    clusterResources: ["rbac.authorization.k8s.io/ClusterRole"]
    impersonate: {user: "capstan:tenant:team-a", groups: [capstan:tenants]}
"#;

    fn team_a() -> Caller {
        let policy = Policy::parse(POLICY, "p").unwrap();
        Caller::under_policy(
            Principal::Token {
                name: Some("team-a".into()),
            },
            &policy,
        )
        .unwrap()
    }

    fn object(group: &str, kind: &str, namespace: Option<&str>, namespaced: bool) -> ObjectInfo {
        ObjectInfo {
            group: group.into(),
            kind: kind.into(),
            name: "x".into(),
            namespace: namespace.map(Into::into),
            namespaced,
        }
    }

    #[test]
    fn operations_and_namespaces_are_authorized() {
        let a = team_a();
        assert_eq!(a.tenant_name(), "team-a");
        assert!(a.authorize(Operation::Install, "team-a").is_ok());
        assert!(a.authorize(Operation::Install, "team-a-dev").is_ok());
        assert!(
            a.authorize(Operation::List, "").is_ok(),
            "list -A is filtered"
        );
        let error = a.authorize(Operation::Get, "team-b").unwrap_err();
        assert!(matches!(error, Error::Denied(_)));
        assert_eq!(
            error.to_string(),
            "tenant \"team-a\" may not get in namespace \"team-b\""
        );
        assert_eq!(
            a.authorize(Operation::Uninstall, "team-a")
                .unwrap_err()
                .to_string(),
            "tenant \"team-a\" may not run uninstall"
        );
        assert!(a.may_use_namespace("team-a-x"));
        assert!(!a.may_use_namespace("team-b"));
        assert_eq!(a.impersonation().unwrap().user, "capstan:tenant:team-a");

        let anyone = Caller::unrestricted(Principal::Anonymous);
        assert!(
            anyone
                .authorize(Operation::Uninstall, "kube-system")
                .is_ok()
        );
        assert!(anyone.impersonation().is_none());
        assert!(anyone.check_quota(1000).is_ok());
    }

    #[test]
    fn charts_cannot_escape_their_namespace() {
        let a = team_a();
        let ok = [
            object("apps", "Deployment", None, true),
            object("apps", "Deployment", Some("team-a"), true),
            object("rbac.authorization.k8s.io", "ClusterRole", None, false),
        ];
        assert!(a.check_objects("team-a", &ok).is_ok());
        let elsewhere = a
            .check_objects("team-a", &[object("", "ConfigMap", Some("team-b"), true)])
            .unwrap_err()
            .to_string();
        assert!(
            elsewhere.starts_with("ConfigMap/x sets namespace \"team-b\""),
            "{elsewhere}"
        );
        let binding = a
            .check_objects(
                "team-a",
                &[object(
                    "rbac.authorization.k8s.io",
                    "ClusterRoleBinding",
                    None,
                    false,
                )],
            )
            .unwrap_err()
            .to_string();
        assert!(
            binding.contains("ClusterRoleBinding/x is cluster-scoped"),
            "{binding}"
        );
        let namespace = a
            .check_objects("team-a", &[object("", "Namespace", None, false)])
            .unwrap_err()
            .to_string();
        assert!(
            namespace.contains("may not create Namespace objects"),
            "{namespace}"
        );
        assert!(
            Caller::unrestricted(Principal::Anonymous)
                .check_objects("a", &[object("", "Namespace", Some("b"), false)])
                .is_ok()
        );
    }

    #[test]
    fn quotas_count_existing_releases() {
        let a = team_a();
        assert!(a.check_quota(0).is_ok());
        assert!(a.check_quota(1).is_ok());
        let full = a.check_quota(2).unwrap_err();
        assert!(matches!(full, Error::Quota(_)));
        assert!(full.to_string().contains("maxReleases 2"), "{full}");
    }
}

//! The tenant policy: its YAML model ([`Policy`], [`Tenant`]), validation, and mapping an
//! authenticated [`Principal`] to its tenant.
//!
//! ```yaml
//! tenants:
//!   team-a:
//!     namespaces: [team-a, "team-a-*"]          # globs; at least one
//!     operations: [install, upgrade, rollback, uninstall, list, history, status, get, render]
//!     maxReleases: 10                           # optional: releases across its namespaces
//!     clusterResources: []                      # "group/Kind" globs of cluster-scoped objects
//!     impersonate:                              # the identity the applier acts as
//!       user: capstan:tenant:team-a
//!       groups: [capstan:tenants]
//!     certificates: [ci.team-a.example.com]     # client certificate CN or SAN globs
//!     serviceAccounts: ["system:serviceaccount:team-a:*"]
//!     chartSources: [internal, "partner-*"]     # optional: the renderer's --chart-sources
//!                                               # entries (name globs; "*" all) it may fetch
//!                                               # charts by reference from; none by default
//! ```
//!
//! Bearer tokens name their tenant in the token file (`sha256:<hex> team-a`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use crate::{Error, Glob, Principal, Result};

/// What a tenant may run. `diff` needs [`Operation::Get`] (and [`Operation::Render`] for
/// `diff upgrade`; `diff upgrade --three-way` also [`Operation::Upgrade`], being a server dry
/// run of the upgrade).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// `install` (and `upgrade --install` of a release that does not exist).
    Install,
    /// `upgrade`.
    Upgrade,
    /// `rollback`.
    Rollback,
    /// `uninstall`.
    Uninstall,
    /// `list`.
    List,
    /// `history`.
    History,
    /// `status`.
    Status,
    /// `get values|manifest|notes|hooks|metadata|all` (and what `diff` reads).
    Get,
    /// Rendering a chart on the renderer (and uploading charts to it).
    Render,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 9] = [
        Operation::Install,
        Operation::Upgrade,
        Operation::Rollback,
        Operation::Uninstall,
        Operation::List,
        Operation::History,
        Operation::Status,
        Operation::Get,
        Operation::Render,
    ];

    /// The operation's name in the policy file.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Install => "install",
            Operation::Upgrade => "upgrade",
            Operation::Rollback => "rollback",
            Operation::Uninstall => "uninstall",
            Operation::List => "list",
            Operation::History => "history",
            Operation::Status => "status",
            Operation::Get => "get",
            Operation::Render => "render",
        }
    }

    fn parse(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.as_str() == name)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The Kubernetes identity the applier impersonates for a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Impersonation {
    /// The user name (`Impersonate-User`).
    pub user: String,
    /// The groups (`Impersonate-Group`).
    #[serde(default)]
    pub groups: Vec<String>,
}

/// One tenant of the policy.
#[derive(Clone, Debug)]
pub struct Tenant {
    /// Its name (the key in the policy, and the name tokens carry).
    pub name: String,
    /// The namespaces it may use.
    pub namespaces: Vec<Glob>,
    /// The operations it may run.
    pub operations: BTreeSet<Operation>,
    /// The most releases it may have across its namespaces.
    pub max_releases: Option<u32>,
    /// `group/Kind` patterns (`Kind` alone for the core group) of the cluster-scoped objects
    /// its charts may create.
    pub cluster_resources: Vec<Glob>,
    /// Who the applier acts as for it.
    pub impersonate: Impersonation,
    /// Client certificate names (CN or SAN) that are this tenant.
    pub certificates: Vec<Glob>,
    /// Kubernetes user names (service accounts) that are this tenant.
    pub service_accounts: Vec<Glob>,
    /// Names of the renderer's chart sources (`--chart-sources`) it may render charts by
    /// reference from (`*` for all); none when the policy names none.
    pub chart_sources: Vec<Glob>,
}

impl Tenant {
    /// Whether the tenant may use `namespace`.
    pub fn allows_namespace(&self, namespace: &str) -> bool {
        self.namespaces.iter().any(|g| g.matches(namespace))
    }

    /// Whether the tenant may run `operation`.
    pub fn allows(&self, operation: Operation) -> bool {
        self.operations.contains(&operation)
    }

    /// Whether the tenant's charts may create the cluster-scoped `kind` of `group` (`""` for the
    /// core group).
    pub fn allows_cluster_resource(&self, group: &str, kind: &str) -> bool {
        let key = if group.is_empty() {
            kind.to_owned()
        } else {
            format!("{group}/{kind}")
        };
        self.cluster_resources.iter().any(|g| g.matches(&key))
    }

    /// Whether the tenant may render charts fetched from the renderer's chart source `name`.
    pub fn allows_chart_source(&self, name: &str) -> bool {
        self.chart_sources.iter().any(|g| g.matches(name))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TenantFile {
    namespaces: Vec<Glob>,
    operations: Vec<String>,
    #[serde(default)]
    max_releases: Option<u32>,
    #[serde(default)]
    cluster_resources: Vec<Glob>,
    impersonate: Impersonation,
    #[serde(default)]
    certificates: Vec<Glob>,
    #[serde(default)]
    service_accounts: Vec<Glob>,
    #[serde(default)]
    chart_sources: Vec<Glob>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySourceModel {
    tenants: BTreeMap<String, TenantFile>,
}

/// A validated tenant policy.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    tenants: BTreeMap<String, Arc<Tenant>>,
}

impl Policy {
    /// Parses and validates a policy's YAML text; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Policy> {
        let bad = |reason: String| Error::Policy {
            path: path.to_owned(),
            reason,
        };
        let model: PolicySourceModel =
            serde_yaml_ng::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut tenants = BTreeMap::new();
        for (name, t) in model.tenants {
            let in_tenant = |reason: &str| bad(format!("tenant {name:?}: {reason}"));
            if name.trim().is_empty() || name.contains(char::is_whitespace) {
                return Err(bad(format!("invalid tenant name {name:?}")));
            }
            if t.namespaces.is_empty() {
                return Err(in_tenant("namespaces: at least one namespace is needed"));
            }
            if t.impersonate.user.trim().is_empty() {
                return Err(in_tenant("impersonate.user is empty"));
            }
            let mut operations = BTreeSet::new();
            for op in &t.operations {
                if op == "*" {
                    operations.extend(Operation::ALL);
                } else {
                    operations.insert(Operation::parse(op).ok_or_else(|| {
                        in_tenant(&format!(
                            "unknown operation {op:?} (expected * or one of {})",
                            Operation::ALL.map(Operation::as_str).join(", ")
                        ))
                    })?);
                }
            }
            tenants.insert(
                name.clone(),
                Arc::new(Tenant {
                    name,
                    namespaces: t.namespaces,
                    operations,
                    max_releases: t.max_releases,
                    cluster_resources: t.cluster_resources,
                    impersonate: t.impersonate,
                    certificates: t.certificates,
                    service_accounts: t.service_accounts,
                    chart_sources: t.chart_sources,
                }),
            );
        }
        Ok(Policy { tenants })
    }

    /// The tenant called `name`.
    pub fn tenant(&self, name: &str) -> Option<&Arc<Tenant>> {
        self.tenants.get(name)
    }

    /// Every tenant, by name.
    pub fn tenants(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.tenants.values()
    }

    /// The tenant of an authenticated principal: a token's by the name in the token file, a
    /// certificate's or a Kubernetes user's by the tenant whose patterns match it.
    ///
    /// Fails with [`Error::Denied`] when the principal is no tenant's or matches more than one,
    /// and with [`Error::Unauthenticated`] for an anonymous caller.
    pub fn tenant_of(&self, principal: &Principal) -> Result<Arc<Tenant>> {
        let found: Vec<&Arc<Tenant>> = match principal {
            Principal::Anonymous => {
                return Err(Error::Unauthenticated(
                    "this daemon requires authentication: a bearer token (--token, \
                     --token-file or CAPSTAN_TOKEN) or a client certificate"
                        .into(),
                ));
            }
            Principal::Token { name } => name
                .as_deref()
                .and_then(|n| self.tenants.get(n))
                .into_iter()
                .collect(),
            Principal::Certificate { names } => self
                .tenants
                .values()
                .filter(|t| {
                    t.certificates
                        .iter()
                        .any(|g| names.iter().any(|n| g.matches(n)))
                })
                .collect(),
            Principal::Kubernetes { username } => self
                .tenants
                .values()
                .filter(|t| t.service_accounts.iter().any(|g| g.matches(username)))
                .collect(),
        };
        match found.as_slice() {
            [one] => Ok(Arc::clone(one)),
            [] => Err(Error::Denied(format!(
                "{principal} is authenticated but belongs to no tenant of the policy"
            ))),
            many => Err(Error::Denied(format!(
                "{principal} matches more than one tenant ({}); the policy must be fixed",
                many.iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const POLICY: &str = r#"
tenants:
  team-a:
    namespaces: [team-a, "team-a-*"]
    operations: [install, upgrade, list, get]
    maxReleases: 2
    clusterResources: ["rbac.authorization.k8s.io/ClusterRole", "Namespace"]
    impersonate: {user: "capstan:tenant:team-a", groups: [capstan:tenants]}
    certificates: [ci.team-a.example.com]
    serviceAccounts: ["system:serviceaccount:team-a:*"]
    chartSources: [internal, "partner-*"]
  team-b:
    namespaces: [team-b]
    operations: ["*"]
    impersonate: {user: "capstan:tenant:team-b"}
    certificates: ["*.team-b.example.com"]
"#;

    #[test]
    fn a_policy_parses_and_validates() {
        let policy = Policy::parse(POLICY, "policy.yaml").unwrap();
        let a = policy.tenant("team-a").unwrap();
        assert!(a.allows_namespace("team-a"));
        assert!(a.allows_namespace("team-a-dev"));
        assert!(!a.allows_namespace("team-b"));
        assert!(a.allows(Operation::Install));
        assert!(!a.allows(Operation::Uninstall));
        assert_eq!(a.max_releases, Some(2));
        assert!(a.allows_cluster_resource("rbac.authorization.k8s.io", "ClusterRole"));
        assert!(a.allows_cluster_resource("", "Namespace"));
        assert!(!a.allows_cluster_resource("rbac.authorization.k8s.io", "ClusterRoleBinding"));
        let b = policy.tenant("team-b").unwrap();
        assert_eq!(b.operations.len(), Operation::ALL.len());
        assert!(b.impersonate.groups.is_empty());
    }

    #[test]
    fn chart_sources_are_named_or_none() {
        let policy = Policy::parse(POLICY, "policy.yaml").unwrap();
        let a = policy.tenant("team-a").unwrap();
        assert!(a.allows_chart_source("internal"));
        assert!(a.allows_chart_source("partner-x"));
        assert!(!a.allows_chart_source("public"));
        assert!(
            !policy
                .tenant("team-b")
                .unwrap()
                .allows_chart_source("internal")
        );
        let all = Policy::parse(
            "tenants: {c: {namespaces: [c], operations: [render], impersonate: {user: c}, chartSources: [\"*\"]}}",
            "p.yaml",
        )
        .unwrap();
        assert!(all.tenant("c").unwrap().allows_chart_source("anything"));
    }

    #[test]
    fn invalid_policies_are_refused_with_the_reason() {
        let cases = [
            (
                "tenants: {a: {namespaces: [], operations: [], impersonate: {user: u}}}",
                "at least one namespace",
            ),
            (
                "tenants: {a: {namespaces: [x], operations: [deploy], impersonate: {user: u}}}",
                "unknown operation \"deploy\"",
            ),
            (
                "tenants: {a: {namespaces: [x], operations: [], impersonate: {user: \"\"}}}",
                "impersonate.user is empty",
            ),
            (
                "tenants: {a: {namespaces: [x], operations: []}}",
                "impersonate",
            ),
            (
                "tenants: {a: {namespaces: [x], operations: [], impersonate: {user: u}, quota: 3}}",
                "quota",
            ),
            ("tenant: {}", "tenant"),
        ];
        for (text, expected) in cases {
            let error = Policy::parse(text, "p.yaml").unwrap_err().to_string();
            assert!(error.starts_with("policy p.yaml: "), "{error}");
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn principals_map_to_one_tenant() {
        let policy = Policy::parse(POLICY, "policy.yaml").unwrap();
        let name = |p: Principal| policy.tenant_of(&p).map(|t| t.name.clone());
        assert_eq!(
            name(Principal::Token {
                name: Some("team-b".into())
            })
            .unwrap(),
            "team-b"
        );
        assert!(matches!(
            name(Principal::Token { name: None }),
            Err(Error::Denied(_))
        ));
        assert!(matches!(
            name(Principal::Token {
                name: Some("team-c".into())
            }),
            Err(Error::Denied(_))
        ));
        assert_eq!(
            name(Principal::Certificate {
                names: vec!["someone".into(), "ci.team-a.example.com".into()]
            })
            .unwrap(),
            "team-a"
        );
        assert_eq!(
            name(Principal::Certificate {
                names: vec!["deploy.team-b.example.com".into()]
            })
            .unwrap(),
            "team-b"
        );
        assert_eq!(
            name(Principal::service_account("team-a", "ci")).unwrap(),
            "team-a"
        );
        let denied = name(Principal::service_account("team-b", "ci")).unwrap_err();
        assert!(
            denied
                .to_string()
                .contains("system:serviceaccount:team-b:ci"),
            "{denied}"
        );
        assert!(matches!(
            name(Principal::Anonymous),
            Err(Error::Unauthenticated(_))
        ));
        let ambiguous = Policy::parse(
            "tenants:\n  a: {namespaces: [a], operations: [], impersonate: {user: a}, certificates: [\"*\"]}\n  b: {namespaces: [b], operations: [], impersonate: {user: b}, certificates: [\"x\"]}\n",
            "p",
        )
        .unwrap();
        let error = ambiguous
            .tenant_of(&Principal::Certificate {
                names: vec!["x".into()],
            })
            .unwrap_err();
        assert!(
            error.to_string().contains("more than one tenant (a, b)"),
            "{error}"
        );
    }
}

//! A fresh namespace per test, its failure report and its clean-up.

use std::fmt::Write as _;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt as _;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client, Resource};
use rand::distr::{Alphanumeric, SampleString as _};
use serde_json::json;

/// The label every test namespace carries, so leftovers are easy to find.
pub const TEST_LABEL: &str = "capstan.dev/test";

/// A namespace created for one test.
#[derive(Clone)]
pub struct TestNamespace {
    client: Client,
    name: String,
}

impl TestNamespace {
    /// Creates `<prefix>-<random>` on the local control plane.
    pub async fn create(prefix: &str) -> anyhow::Result<TestNamespace> {
        let client = crate::client().await?;
        let suffix = Alphanumeric
            .sample_string(&mut rand::rng(), 6)
            .to_lowercase();
        let name = format!("{prefix}-{suffix}");
        let namespace: Namespace = serde_json::from_value(
            json!({"metadata": {"name": name, "labels": {TEST_LABEL: "true"}}}),
        )?;
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await?;
        Ok(TestNamespace { client, name })
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A client for the local control plane.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// An API for namespaced objects of kind `K` in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// A report of every pod in the namespace: phase, conditions and container states.
    pub async fn pod_report(&self) -> String {
        let pods = match self.api::<Pod>().list(&ListParams::default()).await {
            Ok(pods) => pods.items,
            Err(error) => return format!("listing pods in {} failed: {error}", self.name),
        };
        let mut report = format!("pods in namespace {} ({}):\n", self.name, pods.len());
        for pod in pods {
            let status = pod.status.unwrap_or_default();
            let conditions: Vec<String> = status
                .conditions
                .unwrap_or_default()
                .into_iter()
                .map(|c| format!("{}={}", c.type_, c.status))
                .collect();
            let _ = writeln!(
                report,
                "  {} phase={} node={} [{}]",
                pod.metadata.name.unwrap_or_default(),
                status.phase.unwrap_or_default(),
                pod.spec
                    .and_then(|s| s.node_name)
                    .unwrap_or_else(|| "-".into()),
                conditions.join(" ")
            );
            for c in status.container_statuses.unwrap_or_default() {
                let state = c.state.unwrap_or_default();
                let state = if let Some(w) = state.waiting {
                    format!("waiting ({})", w.reason.unwrap_or_default())
                } else if let Some(t) = state.terminated {
                    format!(
                        "terminated (exit {}, {})",
                        t.exit_code,
                        t.reason.unwrap_or_default()
                    )
                } else {
                    "running".to_string()
                };
                let _ = writeln!(
                    report,
                    "    container {}: {state}, ready={}, restarts={}",
                    c.name, c.ready, c.restart_count
                );
            }
        }
        report
    }

    /// Grants `user` these RBAC `rules` (a JSON array of PolicyRules) in this namespace: a Role
    /// and a RoleBinding, both named `capstan-tenant`.
    pub async fn grant(&self, user: &str, rules: serde_json::Value) -> anyhow::Result<()> {
        let role: Role = serde_json::from_value(json!({
            "metadata": {"name": "capstan-tenant"},
            "rules": rules,
        }))?;
        self.api::<Role>()
            .create(&PostParams::default(), &role)
            .await?;
        let binding: RoleBinding = serde_json::from_value(json!({
            "metadata": {"name": "capstan-tenant"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "capstan-tenant"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        }))?;
        self.api::<RoleBinding>()
            .create(&PostParams::default(), &binding)
            .await?;
        Ok(())
    }

    /// Deletes the namespace (without waiting for it to be gone).
    pub async fn delete(&self) -> anyhow::Result<()> {
        Api::<Namespace>::all(self.client.clone())
            .delete(&self.name, &DeleteParams::default())
            .await?;
        Ok(())
    }
}

/// Runs `test` in a fresh namespace; on failure prints its pods' status; then deletes the
/// namespace unless `CAPSTAN_KEEP_NAMESPACES` is set. Panics (failing the test) if `test` fails.
pub async fn with_namespace<F, Fut>(prefix: &str, test: F)
where
    F: FnOnce(TestNamespace) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    with_namespaces(&[prefix], |mut namespaces| {
        test(namespaces.pop().expect("one namespace"))
    })
    .await
}

/// [`with_namespace`] for a test that needs several namespaces: one per prefix, in order.
pub async fn with_namespaces<F, Fut>(prefixes: &[&str], test: F)
where
    F: FnOnce(Vec<TestNamespace>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut namespaces = Vec::new();
    for prefix in prefixes {
        namespaces.push(TestNamespace::create(prefix).await.unwrap_or_else(|error| {
            panic!("creating a test namespace on the local control plane: {error:#}")
        }));
    }
    let outcome = AssertUnwindSafe(test(namespaces.clone()))
        .catch_unwind()
        .await;
    let failed = !matches!(outcome, Ok(Ok(())));
    let keep =
        std::env::var_os("CAPSTAN_KEEP_NAMESPACES").is_some_and(|v| !v.is_empty() && v != "0");
    for namespace in &namespaces {
        if failed {
            eprintln!("{}", namespace.pod_report().await);
        }
        if keep {
            eprintln!(
                "keeping namespace {} (CAPSTAN_KEEP_NAMESPACES is set)",
                namespace.name()
            );
        } else if let Err(error) = namespace.delete().await {
            eprintln!("deleting namespace {}: {error:#}", namespace.name());
        }
    }
    let names = namespaces
        .iter()
        .map(TestNamespace::name)
        .collect::<Vec<_>>()
        .join(", ");
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(error)) => panic!("test failed in namespace {names}: {error:?}"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

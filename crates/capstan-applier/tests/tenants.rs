//! Multi-tenant security of the applier against the real local control plane with RBAC on:
//! daemons in-process on 127.0.0.1:0 with a tenant policy, a token file, TokenReview and mutual
//! TLS; tenants' Kubernetes identities are impersonated and bound to Roles per test namespace.
//!
//! Tenant A never sees or touches tenant B's releases (list, status, history, get values,
//! upgrade, rollback, uninstall), cannot escape through a chart (an object in B's namespace, a
//! ClusterRole), is held to its release quota (concurrent installs included); a tenant whose identity lacks rights to a kind is
//! refused before anything is applied, naming the object; and each way of authenticating (token
//! file, service-account token, client certificate) works, while wrong or revoked credentials
//! end UNAUTHENTICATED. A policy kept in a ConfigMap is followed as it changes, and the
//! `capstan-applier` binary wires it all from its flags.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use capstan_applier::{ApplierService, KubeBackend};
use capstan_auth::PolicySource;
use capstan_proto::applier::v1 as pb;
use capstan_proto::applier::v1::applier_client::ApplierClient;
use capstan_server::security::{Reviewer, TlsFiles};
use capstan_server::{Daemon, Security, TokenSet};
use capstan_storage::{Driver, StorageConfig};
use capstan_testkit::{TestNamespace, with_namespace};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use serde_json::json;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::{Code, Request};

const CHART_JSON: &str = r#"{"metadata":{"apiVersion":"v2","name":"demo","version":"0.1.0","appVersion":"1.0.0"},"templates":[],"values":{"color":"blue"}}"#;

fn doc(path: &str, yaml: &str) -> String {
    format!("---\n# Source: demo/templates/{path}\n{yaml}")
}

/// A ConfigMap named `name` (in `namespace`, when given).
fn config_map(name: &str, namespace: Option<&str>, color: &str) -> String {
    let namespace = namespace.map_or(String::new(), |n| format!("\n  namespace: {n}"));
    doc(
        "cm.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}{namespace}\ndata:\n  color: {color}\n"
        ),
    )
}

fn deployment(name: &str) -> String {
    doc(
        "deployment.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n"
        ),
    )
}

fn cluster_role(name: &str) -> String {
    doc(
        "clusterrole.yaml",
        &format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {name}\nrules: []\n"
        ),
    )
}

fn rendered(manifest: String, color: &str) -> pb::Rendered {
    pb::Rendered {
        manifest,
        hooks: vec![],
        notes: String::new(),
        stored_chart_json: CHART_JSON.into(),
        user_values_json: format!(r#"{{"color":"{color}","password":"hunter2"}}"#),
        merged_values_json: format!(r#"{{"color":"{color}","password":"hunter2"}}"#),
        ..pb::Rendered::default()
    }
}

fn with_token<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ASCII"),
    );
    request
}

/// A connection to the applier as one caller (a bearer token, or none).
struct As {
    client: ApplierClient<Channel>,
    token: Option<String>,
}

impl As {
    fn request<T>(&self, message: T) -> Request<T> {
        match &self.token {
            Some(token) => with_token(message, token),
            None => Request::new(message),
        }
    }

    async fn install(
        &mut self,
        name: &str,
        namespace: &str,
        manifest: String,
    ) -> Result<pb::OperationResult, tonic::Status> {
        let request = self.request(pb::InstallRequest {
            name: name.into(),
            namespace: namespace.into(),
            rendered: Some(rendered(manifest, "blue")),
            ..pb::InstallRequest::default()
        });
        let stream = self.client.install(request).await?.into_inner();
        Ok(result(stream).await)
    }

    /// Installs a release whose only object is a pre-install hook with this manifest.
    async fn install_hook(
        &mut self,
        name: &str,
        namespace: &str,
        hook: &str,
    ) -> Result<pb::OperationResult, tonic::Status> {
        let mut rendered = rendered(String::new(), "blue");
        rendered.hooks.push(capstan_proto::renderer::v1::Hook {
            name: "setup".into(),
            kind: "ConfigMap".into(),
            path: "demo/templates/hook.yaml".into(),
            yaml: hook.into(),
            events: vec!["pre-install".into()],
            weight: 0,
            delete_policies: vec![],
        });
        let request = self.request(pb::InstallRequest {
            name: name.into(),
            namespace: namespace.into(),
            rendered: Some(rendered),
            ..pb::InstallRequest::default()
        });
        let stream = self.client.install(request).await?.into_inner();
        Ok(result(stream).await)
    }

    async fn upgrade(
        &mut self,
        name: &str,
        namespace: &str,
        manifest: String,
    ) -> Result<pb::OperationResult, tonic::Status> {
        let request = self.request(pb::UpgradeRequest {
            name: name.into(),
            namespace: namespace.into(),
            rendered: Some(rendered(manifest, "green")),
            ..pb::UpgradeRequest::default()
        });
        let stream = self.client.upgrade(request).await?.into_inner();
        Ok(result(stream).await)
    }

    async fn rollback(&mut self, name: &str, namespace: &str) -> Result<(), tonic::Status> {
        let request = self.request(pb::RollbackRequest {
            name: name.into(),
            namespace: namespace.into(),
            revision: 1,
            ..pb::RollbackRequest::default()
        });
        let stream = self.client.rollback(request).await?.into_inner();
        result(stream).await;
        Ok(())
    }

    async fn uninstall(&mut self, name: &str, namespace: &str) -> Result<(), tonic::Status> {
        let request = self.request(pb::UninstallRequest {
            name: name.into(),
            namespace: namespace.into(),
            ..pb::UninstallRequest::default()
        });
        let stream = self.client.uninstall(request).await?.into_inner();
        result(stream).await;
        Ok(())
    }

    async fn list(&mut self, namespace: Option<&str>) -> Result<Vec<String>, tonic::Status> {
        let request = self.request(pb::ListRequest {
            namespace: namespace.unwrap_or_default().into(),
            all_namespaces: namespace.is_none(),
            ..pb::ListRequest::default()
        });
        let releases = self.client.list(request).await?.into_inner().releases;
        Ok(releases
            .iter()
            .map(|r| format!("{}/{}", r.namespace, r.name))
            .collect())
    }

    /// Looks up `kind` `name` in `namespace` (a core or `apps` kind) for a release there.
    async fn lookup(
        &mut self,
        namespace: &str,
        api_version: &str,
        kind: &str,
        name: &str,
    ) -> Result<Option<serde_json::Value>, tonic::Status> {
        let request = self.request(pb::LookupRequest {
            namespace: namespace.into(),
            keys: vec![capstan_proto::renderer::v1::LookupKey {
                api_version: api_version.into(),
                kind: kind.into(),
                namespace: namespace.into(),
                name: name.into(),
            }],
        });
        let answers = self.client.lookup(request).await?.into_inner().answers;
        Ok(answers
            .into_iter()
            .next()
            .and_then(|a| a.object_json)
            .map(|json| serde_json::from_str(&json).expect("JSON")))
    }

    async fn get(&mut self, name: &str, namespace: &str) -> Result<pb::GetResponse, tonic::Status> {
        let request = self.request(pb::GetRequest {
            name: name.into(),
            namespace: namespace.into(),
            ..pb::GetRequest::default()
        });
        Ok(self.client.get(request).await?.into_inner())
    }

    async fn status(&mut self, name: &str, namespace: &str) -> Result<(), tonic::Status> {
        let request = self.request(pb::StatusRequest {
            name: name.into(),
            namespace: namespace.into(),
            ..pb::StatusRequest::default()
        });
        self.client.status(request).await?;
        Ok(())
    }

    async fn history(&mut self, name: &str, namespace: &str) -> Result<usize, tonic::Status> {
        let request = self.request(pb::HistoryRequest {
            name: name.into(),
            namespace: namespace.into(),
            ..pb::HistoryRequest::default()
        });
        Ok(self
            .client
            .history(request)
            .await?
            .into_inner()
            .revisions
            .len())
    }
}

async fn result(mut stream: tonic::Streaming<pb::OperationEvent>) -> pb::OperationResult {
    while let Some(event) = stream.message().await.expect("the stream goes on") {
        if let Some(pb::operation_event::Event::Result(result)) = event.event {
            return result;
        }
    }
    panic!("the operation ended without a result")
}

/// The user a tenant's requests impersonate in the namespace of a test.
fn user_of(namespace: &TestNamespace) -> String {
    format!("capstan-tenant:{}", namespace.name())
}

/// A Role letting the tenant's user manage what capstan needs in its namespace (release
/// Secrets, Leases, ConfigMaps, Services) and, with `deployments`, Deployments.
async fn grant(namespace: &TestNamespace, deployments: bool) -> anyhow::Result<()> {
    let mut rules = vec![
        json!({"apiGroups": [""], "resources": ["configmaps", "secrets", "services"], "verbs": ["*"]}),
        json!({"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["*"]}),
    ];
    if deployments {
        rules.push(json!({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]}));
    }
    namespace.grant(&user_of(namespace), json!(rules)).await
}

/// A service account and a token for it (a real TokenRequest).
async fn service_account_token(namespace: &TestNamespace, name: &str) -> anyhow::Result<String> {
    let accounts = namespace.api::<ServiceAccount>();
    let account: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": name}}))?;
    accounts.create(&PostParams::default(), &account).await?;
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            audiences: None,
            expiration_seconds: Some(600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    let answer = accounts
        .create_token_request(name, &PostParams::default(), &request)
        .await?;
    Ok(answer
        .status
        .and_then(|s| s.token)
        .expect("a token request returns a token"))
}

/// The policy of a test: tenants `a` and `b` in their namespaces (plus `c`, limited to `a`'s
/// namespace with its own user, when given).
fn policy(a: &TestNamespace, b: &TestNamespace, limited: Option<&TestNamespace>) -> String {
    let mut text = format!(
        r#"tenants:
  a:
    namespaces: ["{a}"]
    operations: ["*"]
    maxReleases: 2
    impersonate: {{user: "{user_a}", groups: [capstan-tenants]}}
    certificates: ["client-a.{a}"]
    serviceAccounts: ["system:serviceaccount:{a}:*"]
  b:
    namespaces: ["{b}"]
    operations: ["*"]
    impersonate: {{user: "{user_b}"}}
"#,
        a = a.name(),
        b = b.name(),
        user_a = user_of(a),
        user_b = user_of(b),
    );
    if let Some(c) = limited {
        text.push_str(&format!(
            r#"  c:
    namespaces: ["{c}"]
    operations: [install, list, history, status, get]
    clusterResources: ["rbac.authorization.k8s.io/ClusterRole"]
    impersonate: {{user: "{user_c}"}}
"#,
            c = c.name(),
            user_c = user_of(c),
        ));
    }
    text
}

/// Starts an applier with `security` over the local control plane; returns its address.
async fn applier(security: Security) -> String {
    let kubeconfig = capstan_testkit::kubeconfig_path();
    let config = capstan_kube::auth::config(Some(&kubeconfig), None)
        .await
        .expect("the local control plane's kubeconfig");
    let client = Client::try_from(config.clone()).expect("a client");
    let storage = StorageConfig {
        driver: Driver::Secret,
        sql_connection_string: None,
    };
    let backend = KubeBackend::new(client, storage).with_config(config);
    let service = ApplierService::new(Arc::new(backend)).into_server();
    let daemon = Daemon::bind("127.0.0.1:0").await.expect("a free port");
    let addr = daemon.local_addr().to_string();
    tokio::spawn(async move {
        daemon
            .serve_secure(
                service,
                capstan_proto::FILE_DESCRIPTOR_SET,
                &security,
                std::future::pending(),
            )
            .await
    });
    addr
}

fn write_policy(dir: &Path, text: &str) -> PolicySource {
    let path = dir.join("policy.yaml");
    std::fs::write(&path, text).unwrap();
    PolicySource::load(&path)
        .unwrap()
        .check_interval(Duration::ZERO)
}

fn tokens() -> TokenSet {
    TokenSet::parse(&format!(
        "{} a\n{} b\n{} c\n",
        TokenSet::entry_for("token-a"),
        TokenSet::entry_for("token-b"),
        TokenSet::entry_for("token-c"),
    ))
    .unwrap()
}

async fn connect(addr: &str, token: Option<&str>) -> As {
    As {
        client: ApplierClient::connect(format!("http://{addr}"))
            .await
            .expect("the applier answers"),
        token: token.map(str::to_owned),
    }
}

fn denied(result: Result<impl std::fmt::Debug, tonic::Status>, what: &str) -> tonic::Status {
    match result {
        Err(status) if status.code() == Code::PermissionDenied => status,
        other => panic!("{what}: expected PERMISSION_DENIED, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_a_never_sees_or_touches_tenant_b() {
    with_namespace("tenant-a", |a| async move {
        with_namespace("tenant-b", |b| async move {
            grant(&a, true).await?;
            grant(&b, true).await?;
            let dir = tempfile::tempdir()?;
            let policy_file = write_policy(dir.path(), &policy(&a, &b, None));
            let addr = applier(Security {
                tokens: Some(tokens()),
                policy: Some(policy_file),
                ..Security::default()
            })
            .await;
            let (na, nb) = (a.name(), b.name());
            let mut as_a = connect(&addr, Some("token-a")).await;
            let mut as_b = connect(&addr, Some("token-b")).await;

            let installed = as_b
                .install("web-b", nb, config_map("web-b", None, "blue"))
                .await?;
            assert!(installed.success, "{:?}", installed.error);
            as_b.upgrade("web-b", nb, config_map("web-b", None, "green"))
                .await?;
            let installed = as_a
                .install("web-a", na, config_map("web-a", None, "blue"))
                .await?;
            assert!(installed.success, "{:?}", installed.error);

            // Reads: list -A shows A's releases only; B's namespace and release are closed.
            let all = as_a.list(None).await?;
            assert!(all.contains(&format!("{na}/web-a")), "{all:?}");
            assert!(
                all.iter().all(|r| !r.starts_with(&format!("{nb}/"))),
                "A's list -A shows none of B's releases: {all:?}"
            );
            assert!(as_b.list(None).await?.contains(&format!("{nb}/web-b")));
            let error = denied(as_a.list(Some(nb)).await, "list in B's namespace");
            assert!(
                error
                    .message()
                    .contains(&format!("may not list in namespace {nb:?}"))
            );
            denied(as_a.status("web-b", nb).await, "status of B's release");
            denied(as_a.history("web-b", nb).await, "history of B's release");
            let error = denied(as_a.get("web-b", nb).await, "B's values");
            assert!(!error.message().contains("hunter2"));
            // Writes.
            denied(
                as_a.upgrade("web-b", nb, config_map("web-b", None, "red"))
                    .await,
                "upgrading B's release",
            );
            denied(as_a.rollback("web-b", nb).await, "rolling back B's release");
            denied(
                as_a.uninstall("web-b", nb).await,
                "uninstalling B's release",
            );
            denied(
                as_a.install("web-x", nb, config_map("web-x", None, "red"))
                    .await,
                "installing into B's namespace",
            );
            // B's release is untouched: two revisions, its own values.
            assert_eq!(as_b.history("web-b", nb).await?, 2);
            let values = as_b.get("web-b", nb).await?.values_json;
            assert!(values.contains("green"), "{values}");
            let cm = b.api::<ConfigMap>().get("web-b").await?;
            assert_eq!(cm.data.unwrap()["color"], "green");

            // Escapes through a chart are refused before anything is applied: hooks too.
            let hook = format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: setup\n  namespace: {nb}\n"
            );
            let error = denied(
                as_a.install_hook("hooked", na, &hook).await,
                "a hook in B's namespace",
            );
            assert!(
                error.message().contains("ConfigMap/setup sets namespace"),
                "{}",
                error.message()
            );
            assert!(b.api::<ConfigMap>().get_opt("setup").await?.is_none());
            let error = denied(
                as_a.install("sneaky", na, config_map("planted", Some(nb), "red"))
                    .await,
                "a chart object in B's namespace",
            );
            assert!(
                error.message().contains("ConfigMap/planted sets namespace"),
                "{}",
                error.message()
            );
            assert!(b.api::<ConfigMap>().get_opt("planted").await?.is_none());
            let role = format!("capstan-escape-{na}");
            let error = denied(
                as_a.install(
                    "sneaky",
                    na,
                    config_map("ok", None, "red") + &cluster_role(&role),
                )
                .await,
                "a ClusterRole",
            );
            assert!(
                error
                    .message()
                    .contains(&format!("ClusterRole/{role} is cluster-scoped")),
                "{}",
                error.message()
            );
            assert!(
                Api::<ClusterRole>::all(a.client())
                    .get_opt(&role)
                    .await?
                    .is_none(),
                "nothing was created"
            );
            assert!(a.api::<ConfigMap>().get_opt("ok").await?.is_none());
            let never = as_a.history("sneaky", na).await.unwrap_err();
            assert_eq!(
                never.code(),
                Code::NotFound,
                "no release record was written"
            );

            // A's own life cycle works, within its quota of 2 releases; its reads see the
            // cluster as A's identity.
            as_a.status("web-a", na).await?;
            as_a.upgrade("web-a", na, config_map("web-a", None, "green"))
                .await?;
            as_a.rollback("web-a", na).await?;
            assert_eq!(as_a.history("web-a", na).await?, 3);
            assert!(
                as_a.install("second", na, config_map("second", None, "blue"))
                    .await?
                    .success
            );
            let full = as_a
                .install("third", na, config_map("third", None, "blue"))
                .await
                .expect_err("the quota is used up");
            assert_eq!(full.code(), Code::ResourceExhausted, "{full:?}");
            assert!(
                full.message().contains("maxReleases 2"),
                "{}",
                full.message()
            );
            as_a.uninstall("second", na).await?;
            assert!(
                as_a.install("third", na, config_map("third", None, "blue"))
                    .await?
                    .success
            );

            // The policy is reloaded when it changes: without `get`, A can no longer read values.
            std::fs::write(
                dir.path().join("policy.yaml"),
                policy(&a, &b, None).replacen(r#"operations: ["*"]"#, "operations: [list]", 1),
            )?;
            let error = denied(as_a.get("web-a", na).await, "get after the policy changed");
            assert!(
                error.message().contains("may not run get"),
                "{}",
                error.message()
            );
            assert!(as_a.list(Some(na)).await?.contains(&format!("{na}/web-a")));
            Ok(())
        })
        .await;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_installs_cannot_overrun_the_quota() {
    with_namespace("tenant-a", |a| async move {
        with_namespace("tenant-b", |b| async move {
            grant(&a, false).await?;
            let dir = tempfile::tempdir()?;
            let addr = applier(Security {
                tokens: Some(tokens()),
                policy: Some(write_policy(dir.path(), &policy(&a, &b, None))),
                ..Security::default()
            })
            .await;
            // Tenant a's quota is 2 releases; five installs race for it.
            let installs = (0..5).map(|i| {
                let (addr, namespace) = (addr.clone(), a.name().to_owned());
                tokio::spawn(async move {
                    let name = format!("race-{i}");
                    let mut as_a = connect(&addr, Some("token-a")).await;
                    as_a.install(&name, &namespace, config_map(&name, None, "blue"))
                        .await
                })
            });
            let (mut installed, mut refused) = (0, 0);
            for install in futures::future::join_all(installs).await {
                match install? {
                    Ok(result) => {
                        assert!(result.success, "{:?}", result.error);
                        installed += 1;
                    }
                    Err(status) => {
                        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                        assert!(status.message().contains("maxReleases 2"), "{status:?}");
                        refused += 1;
                    }
                }
            }
            assert_eq!((installed, refused), (2, 3));
            let mut as_a = connect(&addr, Some("token-a")).await;
            assert_eq!(as_a.list(Some(a.name())).await?.len(), 2);
            Ok(())
        })
        .await;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_clusters_rbac_has_the_final_word() {
    with_namespace("tenant-c", |c| async move {
        // C's user may manage ConfigMaps, Secrets and Leases, but not Deployments, and has no
        // cluster-wide rights; its policy would allow ClusterRoles.
        grant(&c, false).await?;
        let dir = tempfile::tempdir()?;
        let policy_file = write_policy(dir.path(), &policy(&c, &c, Some(&c)));
        let addr = applier(Security {
            tokens: Some(tokens()),
            policy: Some(policy_file),
            ..Security::default()
        })
        .await;
        let nc = c.name();
        let mut as_c = connect(&addr, Some("token-c")).await;
        let error = denied(
            as_c.install(
                "web",
                nc,
                config_map("web-config", None, "blue") + &deployment("web"),
            )
            .await,
            "a Deployment the user may not create",
        );
        assert!(
            error.message().contains("may not create Deployment/web")
                && error.message().contains(&user_of(&c)),
            "{}",
            error.message()
        );
        let role = format!("capstan-c-{nc}");
        let error = denied(
            as_c.install("roles", nc, cluster_role(&role)).await,
            "a ClusterRole the user may not create",
        );
        assert!(
            error
                .message()
                .contains(&format!("ClusterRole/{role} (cluster-scoped)")),
            "{}",
            error.message()
        );
        // Nothing was applied and no release was recorded.
        assert!(c.api::<ConfigMap>().get_opt("web-config").await?.is_none());
        assert!(
            Api::<ClusterRole>::all(c.client())
                .get_opt(&role)
                .await?
                .is_none()
        );
        let records = c
            .api::<Secret>()
            .list(&ListParams::default().labels("owner=helm"))
            .await?;
        assert!(records.items.is_empty(), "no release record");
        // What its user may do works, and C may not uninstall (not in its operations).
        assert!(
            as_c.install("cfg", nc, config_map("cfg", None, "blue"))
                .await?
                .success
        );
        let error = denied(as_c.uninstall("cfg", nc).await, "uninstall");
        assert!(error.message().contains("may not run uninstall"));
        Ok(())
    })
    .await;
}

/// A CA; a server certificate for 127.0.0.1; client certificates with these common names.
fn pki(dir: &Path, clients: &[&str]) -> (TlsFiles, Certificate, Vec<Identity>) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = server.signed_by(&server_key, &issuer).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), server_cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
    let identities = clients
        .iter()
        .map(|cn| {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.distinguished_name.push(DnType::CommonName, *cn);
            let key = KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &issuer).unwrap();
            Identity::from_pem(cert.pem(), key.serialize_pem())
        })
        .collect();
    (
        TlsFiles {
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            client_ca: Some(dir.join("ca.pem")),
        },
        Certificate::from_pem(ca_cert.pem()),
        identities,
    )
}

async fn connect_tls(
    addr: &str,
    ca: &Certificate,
    identity: Option<Identity>,
) -> ApplierClient<Channel> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(ca.clone())
        .domain_name("localhost");
    if let Some(identity) = identity {
        tls = tls.identity(identity);
    }
    let channel = Channel::from_shared(format!("https://{addr}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .expect("the applier answers over TLS");
    ApplierClient::new(channel)
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_service_accounts_and_certificates_authenticate() {
    with_namespace("tenant-auth", |a| async move {
        grant(&a, false).await?;
        let dir = tempfile::tempdir()?;
        let policy_file = write_policy(dir.path(), &policy(&a, &a, None));
        let client_a = format!("client-a.{}", a.name());
        let (tls, ca, mut identities) = pki(dir.path(), &[&client_a, "stranger"]);
        let stranger = identities.pop().unwrap();
        let known = identities.pop().unwrap();
        let reviewer = capstan_kube::auth::TokenReviewer::new(a.client()).ttl(Duration::ZERO);
        let addr = applier(Security {
            tls: Some(tls),
            tokens: Some(tokens()),
            reviewer: Some(Reviewer(Arc::new(reviewer))),
            policy: Some(policy_file),
        })
        .await;
        let na = a.name();
        let list = |namespace: &str| pb::ListRequest {
            namespace: namespace.into(),
            ..pb::ListRequest::default()
        };
        let mut anonymous = connect_tls(&addr, &ca, None).await;

        // A token from the token file.
        assert!(
            anonymous
                .list(with_token(list(na), "token-a"))
                .await
                .is_ok()
        );
        // Wrong and missing tokens.
        let wrong = anonymous
            .list(with_token(list(na), "guess"))
            .await
            .unwrap_err();
        assert_eq!(wrong.code(), Code::Unauthenticated, "{wrong:?}");
        assert!(!wrong.message().contains("guess"));
        let missing = anonymous.list(list(na)).await.unwrap_err();
        assert_eq!(missing.code(), Code::Unauthenticated, "{missing:?}");

        // A service account of A's namespace (TokenReview), and a forged one.
        let sa_token = service_account_token(&a, "deployer").await?;
        let listed = anonymous.list(with_token(list(na), &sa_token)).await?;
        assert!(listed.into_inner().releases.is_empty());
        // The signature's first character changed (its last one may only hold padding bits).
        let signature = sa_token.rfind('.').expect("a JWT") + 1;
        let flipped = if sa_token[signature..].starts_with('A') {
            "B"
        } else {
            "A"
        };
        let forged = format!(
            "{}{flipped}{}",
            &sa_token[..signature],
            &sa_token[signature + 1..]
        );
        let error = anonymous
            .list(with_token(list(na), &forged))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::Unauthenticated, "{error:?}");
        // ... whose namespace is no tenant's: authenticated, but no tenant's.
        let (addr2, ca2) = (addr.clone(), ca.clone());
        with_namespace("tenant-none", |other| async move {
            let (addr, ca) = (addr2, ca2);
            let token = service_account_token(&other, "deployer").await?;
            let mut client = connect_tls(&addr, &ca, None).await;
            let error = client
                .list(with_token(list(other.name()), &token))
                .await
                .unwrap_err();
            assert_eq!(error.code(), Code::PermissionDenied, "{error:?}");
            assert!(
                error.message().contains("belongs to no tenant"),
                "{}",
                error.message()
            );
            Ok(())
        })
        .await;
        // A revoked service-account token (its account deleted) does not authenticate. (A token
        // never used before, as the API server caches successful authentications for 10 s.)
        let doomed = service_account_token(&a, "doomed").await?;
        a.api::<ServiceAccount>()
            .delete("doomed", &DeleteParams::default())
            .await?;
        // The API server notices the deletion through its informer: give it a moment before the
        // first try (a success would be cached for 10 s), and retry in case it was not enough.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        let revoked = loop {
            match anonymous.list(with_token(list(na), &doomed)).await {
                Err(status) => break status,
                Ok(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Ok(_) => panic!("the token of a deleted service account still authenticates"),
            }
        };
        assert_eq!(revoked.code(), Code::Unauthenticated, "{revoked:?}");

        // Client certificates: A's CN is tenant A; another CA-signed CN is no tenant's.
        let mut as_a = connect_tls(&addr, &ca, Some(known)).await;
        assert!(as_a.list(list(na)).await.is_ok());
        let error = as_a.list(list("kube-system")).await.unwrap_err();
        assert_eq!(error.code(), Code::PermissionDenied);
        let mut unknown = connect_tls(&addr, &ca, Some(stranger)).await;
        let error = unknown.list(list(na)).await.unwrap_err();
        assert_eq!(error.code(), Code::PermissionDenied, "{error:?}");
        assert!(
            error.message().contains("certificate \"stranger\""),
            "{}",
            error.message()
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_in_a_config_map_is_followed() {
    with_namespace("tenant-cm", |a| async move {
        grant(&a, false).await?;
        let text = |operations: &str| {
            format!(
                "tenants:\n  a:\n    namespaces: [\"{}\"]\n    operations: [{operations}]\n    impersonate: {{user: \"{}\"}}\n",
                a.name(),
                user_of(&a)
            )
        };
        let map: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": "capstan-policy"},
            "data": {"policy.yaml": text("list")},
        }))?;
        let maps = a.api::<ConfigMap>();
        maps.create(&PostParams::default(), &map).await?;
        let source =
            capstan_kube::auth::policy_from_config_map(&a.client(), a.name(), "capstan-policy")
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
        let follower = capstan_kube::auth::follow_policy_config_map(
            a.client(),
            a.name().to_owned(),
            "capstan-policy".to_owned(),
            source.clone(),
            Duration::from_millis(100),
        );
        let addr = applier(Security {
            tokens: Some(tokens()),
            policy: Some(source),
            ..Security::default()
        })
        .await;
        let na = a.name();
        let mut as_a = connect(&addr, Some("token-a")).await;
        assert!(as_a.list(Some(na)).await?.is_empty());
        let error = denied(as_a.get("web", na).await, "get before the ConfigMap allows it");
        assert!(error.message().contains("may not run get"), "{}", error.message());

        let mut map = maps.get("capstan-policy").await?;
        map.data
            .get_or_insert_default()
            .insert("policy.yaml".into(), text("list, get"));
        maps.replace("capstan-policy", &PostParams::default(), &map)
            .await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match as_a.get("web", na).await {
                // Allowed now: the release simply does not exist.
                Err(status) if status.code() == Code::NotFound => break,
                Err(status)
                    if status.code() == Code::PermissionDenied
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => panic!("get after the ConfigMap changed: {other:?}"),
            }
        }
        follower.abort();
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_binary_serves_tenants() {
    with_namespace("tenant-bin", |a| async move {
        grant(&a, false).await?;
        let dir = tempfile::tempdir()?;
        let policy = dir.path().join("policy.yaml");
        std::fs::write(&policy, policy_text(&a))?;
        let token_file = dir.path().join("tokens");
        std::fs::write(
            &token_file,
            format!("{} a\n", TokenSet::entry_for("token-a")),
        )?;
        let program = Path::new(env!("CARGO_BIN_EXE_capstan-applier"));
        let kubeconfig = capstan_testkit::kubeconfig_path();
        let (daemon, addr) = capstan_server::testing::spawn(
            program,
            [
                "--kubeconfig".as_ref(),
                kubeconfig.as_os_str(),
                "--token-file".as_ref(),
                token_file.as_os_str(),
                "--policy".as_ref(),
                policy.as_os_str(),
                "--token-review".as_ref(),
            ],
        );
        let mut daemon = KillOnDrop(Some(daemon));
        let na = a.name();
        let sa_token = service_account_token(&a, "deployer").await?;
        let mut as_a = connect(&addr, Some("token-a")).await;
        let installed = as_a
            .install("cfg", na, config_map("cfg", None, "blue"))
            .await?;
        assert!(installed.success, "{:?}", installed.error);
        let mut as_sa = connect(&addr, Some(&sa_token)).await;
        assert_eq!(as_sa.list(Some(na)).await?, vec![format!("{na}/cfg")]);
        denied(as_sa.list(Some("kube-system")).await, "another namespace");
        let mut nobody = connect(&addr, None).await;
        let error = nobody.list(Some(na)).await.unwrap_err();
        assert_eq!(error.code(), Code::Unauthenticated);
        // Health and reflection stay open for probes; SIGTERM stops the daemon.
        capstan_server::testing::assert_serves_then_stops(
            daemon.0.take().expect("the daemon runs"),
            &addr,
            "capstan.applier.v1.Applier",
        )
        .await;
        Ok(())
    })
    .await;
}

/// Tenant `a` in `namespace`, all operations, its service accounts included.
fn policy_text(namespace: &TestNamespace) -> String {
    format!(
        "tenants:\n  a:\n    namespaces: [\"{ns}\"]\n    operations: [\"*\"]\n    impersonate: {{user: \"{user}\"}}\n    serviceAccounts: [\"system:serviceaccount:{ns}:*\"]\n",
        ns = namespace.name(),
        user = user_of(namespace)
    )
}

/// Kills the daemon process if the test fails before stopping it.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A tenant's lookups are read as the tenant: what its impersonated user may read is answered
/// (a missing object as none), what it may not is refused by the cluster, and a namespace
/// outside its policy is refused by the applier before the cluster is asked.
#[tokio::test(flavor = "multi_thread")]
async fn lookups_see_only_what_the_tenant_may_read() {
    with_namespace("tenant-lookup", |a| async move {
        // The tenant's user may read Secrets in its namespace, not Deployments.
        grant(&a, false).await?;
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "db"},
            "stringData": {"password": "kept"},
        }))?;
        a.api::<Secret>()
            .create(&Default::default(), &secret)
            .await?;
        let dir = tempfile::tempdir()?;
        let policy_file = write_policy(dir.path(), &policy_text(&a));
        let addr = applier(Security {
            tokens: Some(tokens()),
            policy: Some(policy_file),
            ..Security::default()
        })
        .await;
        let ns = a.name();
        let mut as_a = connect(&addr, Some("token-a")).await;
        let found = as_a
            .lookup(ns, "v1", "Secret", "db")
            .await?
            .expect("the Secret is found");
        assert_eq!(found["data"]["password"], "a2VwdA==");
        assert_eq!(as_a.lookup(ns, "v1", "Secret", "gone").await?, None);
        let error = denied(
            as_a.lookup(ns, "apps/v1", "Deployment", "web").await,
            "a Deployment the user may not read",
        );
        assert!(error.message().contains("forbidden"), "{}", error.message());
        let error = denied(
            as_a.lookup("kube-system", "v1", "Secret", "db").await,
            "a namespace outside the policy",
        );
        assert!(
            error.message().contains("kube-system"),
            "{}",
            error.message()
        );
        Ok(())
    })
    .await;
}

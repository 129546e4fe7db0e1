//! The real `capstan` binary against an applier daemon (in-process, 127.0.0.1:0) that serves two
//! tenants under a policy, on the local control plane with RBAC: tenant A authenticates with a
//! token from the daemon's token file (`--token`), tenant B with a Kubernetes service-account
//! token read from a file (`--token-file`); each installs its release, `list -A` shows each
//! only its own, A's reads, diffs and writes of B's release are refused with a clear message,
//! and a wrong token is UNAUTHENTICATED.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use capstan_applier::{ApplierService, KubeBackend};
use capstan_server::security::Reviewer;
use capstan_server::{Daemon, Security, TokenSet};
use capstan_storage::{Driver, StorageConfig};
use capstan_testkit::{TestNamespace, with_namespace};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::PostParams;
use serde_json::json;

/// A one-template chart under `dir`.
fn chart(dir: &Path) -> String {
    let chart = dir.join("demo");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nannotations:\n  capstan.dev/template-syntax: minijinja\nname: demo\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(chart.join("values.yaml"), "color: blue\n").unwrap();
    std::fs::write(
        chart.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ Release.Name }}\ndata:\n  color: {{ Values.color }}\n",
    )
    .unwrap();
    chart.display().to_string()
}

async fn grant(namespace: &TestNamespace, user: &str) -> anyhow::Result<()> {
    namespace
        .grant(
            user,
            json!([
                {"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["*"]},
                {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["*"]},
            ]),
        )
        .await
}

async fn service_account_token(namespace: &TestNamespace) -> anyhow::Result<String> {
    let accounts = namespace.api::<ServiceAccount>();
    let account: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "ci"}}))?;
    accounts.create(&PostParams::default(), &account).await?;
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    let answer = accounts
        .create_token_request("ci", &PostParams::default(), &request)
        .await?;
    Ok(answer
        .status
        .and_then(|s| s.token)
        .expect("a token request returns a token"))
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn capstan(args: &[&str]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .env_remove("CAPSTAN_RENDERER")
        .env_remove("CAPSTAN_APPLIER")
        .env_remove("CAPSTAN_TOKEN")
        .env_remove("CAPSTAN_TOKEN_PATH")
        .env_remove("HELM_NAMESPACE")
        .output()
        .expect("capstan runs");
    Run {
        ok: status.success(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_capstan_binary_as_two_tenants() {
    with_namespace("cli-tenant-a", |a| async move {
        with_namespace("cli-tenant-b", |b| async move {
            let (na, nb) = (a.name().to_owned(), b.name().to_owned());
            let (user_a, user_b) = (format!("capstan-tenant:{na}"), format!("capstan-tenant:{nb}"));
            grant(&a, &user_a).await?;
            grant(&b, &user_b).await?;
            let dir = tempfile::tempdir()?;
            let policy = dir.path().join("policy.yaml");
            std::fs::write(
                &policy,
                format!(
                    "tenants:\n  a:\n    namespaces: [\"{na}\"]\n    operations: [\"*\"]\n    impersonate: {{user: \"{user_a}\"}}\n  b:\n    namespaces: [\"{nb}\"]\n    operations: [\"*\"]\n    impersonate: {{user: \"{user_b}\"}}\n    serviceAccounts: [\"system:serviceaccount:{nb}:ci\"]\n"
                ),
            )?;
            let sa_token = dir.path().join("token");
            std::fs::write(&sa_token, service_account_token(&b).await? + "\n")?;

            let kubeconfig = capstan_testkit::kubeconfig_path();
            let config = capstan_kube::auth::config(Some(&kubeconfig), None)
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
            let client = kube::Client::try_from(config.clone())?;
            let storage = StorageConfig {
                driver: Driver::Secret,
                sql_connection_string: None,
            };
            let backend = KubeBackend::new(client.clone(), storage).with_config(config);
            let security = Security {
                tokens: Some(TokenSet::parse(&format!("{} a\n", TokenSet::entry_for("token-a")))?),
                reviewer: Some(Reviewer(Arc::new(
                    capstan_kube::auth::TokenReviewer::new(client).ttl(Duration::from_secs(1)),
                ))),
                policy: Some(capstan_auth::PolicySource::load(&policy)?),
                ..Security::default()
            };
            let daemon = Daemon::bind("127.0.0.1:0").await?;
            let addr = daemon.local_addr().to_string();
            let service = ApplierService::new(Arc::new(backend)).into_server();
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

            let chart = chart(dir.path());
            let sa_token = sa_token.display().to_string();
            let runs = tokio::task::spawn_blocking(move || {
                let a = |args: &[&str]| {
                    capstan(&[args, &["--applier", &addr, "--token", "token-a"]].concat())
                };
                let b = |args: &[&str]| {
                    capstan(&[args, &["--applier", &addr, "--token-file", &sa_token]].concat())
                };
                vec![
                    a(&["install", "web", &chart, "-n", &na]),
                    b(&["install", "web", &chart, "-n", &nb, "--set", "color=green"]),
                    a(&["list", "-A", "-o", "json"]),
                    b(&["list", "-A", "-o", "json"]),
                    a(&["status", "web", "-n", &nb]),
                    a(&["get", "values", "web", "-n", &nb]),
                    a(&["uninstall", "web", "-n", &nb]),
                    a(&["diff", "upgrade", "web", &chart, "-n", &nb]),
                    capstan(&["list", "-n", &na, "--applier", &addr, "--token", "wrong"]),
                ]
            })
            .await?;
            let [install_a, install_b, list_a, list_b, status, values, uninstall, diff, wrong] =
                <[Run; 9]>::try_from(runs).map_err(|_| anyhow::anyhow!("nine runs"))?;
            assert!(install_a.ok, "{}", install_a.stderr);
            assert!(install_b.ok, "{}", install_b.stderr);
            let namespaces = |run: &Run| -> Vec<String> {
                let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_default();
                rows.as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| r["namespace"].as_str().unwrap_or_default().to_owned())
                    .collect()
            };
            assert!(list_a.ok, "{}", list_a.stderr);
            assert_eq!(namespaces(&list_a), vec![a.name().to_owned()], "{}", list_a.stdout);
            assert_eq!(namespaces(&list_b), vec![b.name().to_owned()], "{}", list_b.stdout);
            for (run, what) in [
                (&status, "status"),
                (&values, "get"),
                (&uninstall, "uninstall"),
                (&diff, "get"),
            ] {
                assert!(!run.ok, "{what} of B's release as A succeeded");
                assert!(
                    run.stderr.contains(&format!(
                        "tenant \"a\" may not {what} in namespace \"{}\"",
                        b.name()
                    )),
                    "{what}: {}",
                    run.stderr
                );
                assert!(!run.stdout.contains("green"), "B's values never leak");
            }
            assert!(!wrong.ok);
            assert!(wrong.stderr.contains("not valid"), "{}", wrong.stderr);
            Ok(())
        })
        .await;
        Ok(())
    })
    .await;
}

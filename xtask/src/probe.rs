//! Checks that the cluster works: the API answers, the simulated node is Ready, and a Deployment
//! becomes Available.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

/// A client for the cluster in `kubeconfig`.
pub async fn client(kubeconfig: &Path) -> anyhow::Result<Client> {
    let config = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default()).await?;
    Ok(Client::try_from(config)?)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Whether the API server answers; describes the nodes when it does.
pub fn healthy(kubeconfig: &Path) -> anyhow::Result<String> {
    runtime().block_on(async {
        let client = client(kubeconfig).await?;
        let check = async {
            Api::<Namespace>::all(client.clone()).get("default").await?;
            let nodes = Api::<Node>::all(client.clone())
                .list(&ListParams::default())
                .await?;
            let ready = nodes.items.iter().filter(|n| node_ready(n)).count();
            anyhow::Ok(format!("{ready}/{} node(s) Ready", nodes.items.len()))
        };
        tokio::time::timeout(Duration::from_secs(5), check)
            .await
            .context("no answer within 5s")?
    })
}

pub fn node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Creates a one-replica Deployment in `default`, waits until it is Available, and deletes it.
pub fn probe_deployment(kubeconfig: &Path) -> anyhow::Result<()> {
    runtime().block_on(async {
        let client = client(kubeconfig).await?;
        let deployments: Api<Deployment> = Api::namespaced(client, "default");
        let name = "capstan-probe";
        let _ = deployments.delete(name, &DeleteParams::default()).await;
        let deployment: Deployment = serde_json::from_value(json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "probe", "image": "capstan.invalid/probe:1"}]},
                },
            },
        }))?;
        deployments
            .create(&PostParams::default(), &deployment)
            .await
            .context("creating the probe Deployment")?;
        let wait = async {
            loop {
                let d = deployments.get(name).await?;
                if available(&d) {
                    return anyhow::Ok(());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        match tokio::time::timeout(Duration::from_secs(90), wait).await {
            Ok(result) => result?,
            Err(_) => bail!("not Available after 90s"),
        }
        deployments.delete(name, &DeleteParams::default()).await?;
        Ok(())
    })
}

/// Whether a Deployment reports the Available condition with all its replicas available.
pub fn available(deployment: &Deployment) -> bool {
    let wanted = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    let Some(status) = deployment.status.as_ref() else {
        return false;
    };
    let condition = status.conditions.as_ref().is_some_and(|cs| {
        cs.iter()
            .any(|c| c.type_ == "Available" && c.status == "True")
    });
    condition && status.available_replicas.unwrap_or(0) >= wanted
}

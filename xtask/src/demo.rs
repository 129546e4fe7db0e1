//! `cargo xtask demo`: the README's main command. Brings the local control plane up and shows a
//! Deployment becoming available on it, step by step.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::{cluster, probe};

pub fn run() -> anyhow::Result<()> {
    step("cargo xtask cluster up");
    let cluster = cluster::up()?;
    cluster.print_summary();
    let kubeconfig = cluster.state.kubeconfig.clone();
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async move {
        let client = probe::client(&kubeconfig).await?;

        step("kubectl get nodes");
        for node in Api::<Node>::all(client.clone()).list(&ListParams::default()).await?.items {
            let ready = if probe::node_ready(&node) { "Ready" } else { "NotReady" };
            println!("{:<20} {ready}", node.name_any());
        }

        let namespace = "capstan-demo";
        let namespaces: Api<Namespace> = Api::all(client.clone());
        if namespaces.get_opt(namespace).await?.is_none() {
            let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": namespace}}))?;
            namespaces.create(&PostParams::default(), &ns).await?;
        }
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
        let _ = deployments.delete("web", &DeleteParams::default()).await;
        while deployments.get_opt("web").await?.is_some() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        step("kubectl create deployment web --image=nginx --replicas=2 -n capstan-demo");
        let web: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx"}]},
                },
            },
        }))?;
        deployments.create(&PostParams::default(), &web).await.context("creating deployment web")?;
        let started = Instant::now();
        let mut last = String::new();
        loop {
            let d = deployments.get("web").await?;
            let s = d.status.clone().unwrap_or_default();
            let line = format!(
                "deployment/web: {}/{} ready, {} available",
                s.ready_replicas.unwrap_or(0),
                d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                s.available_replicas.unwrap_or(0)
            );
            if line != last {
                println!("[{:>5.2}s] {line}", started.elapsed().as_secs_f64());
                last = line;
            }
            if probe::available(&d) {
                break;
            }
            anyhow::ensure!(started.elapsed() < Duration::from_secs(60), "deployment/web not Available after 60s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        println!("deployment/web is Available after {:.2}s", started.elapsed().as_secs_f64());

        step("kubectl get pods -n capstan-demo");
        for pod in Api::<Pod>::namespaced(client.clone(), namespace).list(&ListParams::default()).await?.items {
            let status = pod.status.unwrap_or_default();
            println!(
                "{:<30} {:<10} node={} ip={}",
                pod.metadata.name.unwrap_or_default(),
                status.phase.unwrap_or_default(),
                pod.spec.and_then(|s| s.node_name).unwrap_or_default(),
                status.pod_ip.unwrap_or_default()
            );
        }

        step("kubectl delete namespace capstan-demo");
        namespaces.delete(namespace, &DeleteParams::default()).await?;
        println!("namespace capstan-demo deleted; the cluster stays up (`cargo xtask cluster down` stops it)");
        anyhow::Ok(())
    })
}

fn step(command: &str) {
    println!("\n$ {command}");
}

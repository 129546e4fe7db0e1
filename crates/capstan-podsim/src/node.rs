//! Registers the simulated node and reports it Ready with room for any number of pods.

use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use crate::{Error, Result};

/// Creates node `name` if it does not exist and marks it Ready, with large capacity.
pub async fn register_node(client: &Client, name: &str) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "capstan-podsim",
            },
        },
    }))
    .expect("a static Node is valid");
    match nodes.create(&PostParams::default(), &node).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(source) => {
            return Err(Error::Kube {
                action: "create",
                object: format!("node/{name}"),
                source,
            });
        }
    }

    let now = jiff::Timestamp::now().to_string();
    let condition = |kind: &str, status: &str, reason: &str| {
        json!({
            "type": kind, "status": status, "reason": reason,
            "lastHeartbeatTime": now, "lastTransitionTime": now,
        })
    };
    let capacity = json!({"cpu": "1k", "memory": "1Ti", "pods": "1M", "ephemeral-storage": "1Ti"});
    let status = json!({
        "status": {
            "conditions": [
                condition("Ready", "True", "KubeletReady"),
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID"),
                condition("NetworkUnavailable", "False", "RouteCreated"),
            ],
            "capacity": capacity,
            "allocatable": capacity,
            // Only a loopback address: what the API server dials for logs or exec (there is no
            // kubelet to answer) never leaves the machine, and no name is looked up.
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
            ],
            "nodeInfo": {
                "machineID": "capstan-podsim", "systemUUID": "capstan-podsim", "bootID": "capstan-podsim",
                "kernelVersion": "simulated", "osImage": "capstan pod-lifecycle simulator",
                "containerRuntimeVersion": "podsim://0.1.0", "kubeletVersion": "v1.36.3",
                "kubeProxyVersion": "v1.36.3", "operatingSystem": "linux", "architecture": "amd64",
            },
            "phase": "Running",
        }
    });
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .map_err(|source| Error::Kube {
            action: "report status of",
            object: format!("node/{name}"),
            source,
        })?;
    // The API server taints a new node `not-ready`; the node lifecycle controller (not run here:
    // no kubelet heartbeats) lifts the taint once the node is Ready. Without this DaemonSets
    // would schedule nothing.
    nodes
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"taints": null}})),
        )
        .await
        .map_err(|source| Error::Kube {
            action: "lift the not-ready taint of",
            object: format!("node/{name}"),
            source,
        })?;
    Ok(())
}

//! Support for capstan's end-to-end scenarios: builders for the objects they create on the local
//! control plane, and the built binaries run as processes ([`process`]).

pub mod process;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

/// A Deployment `name` with `replicas` pods running `image` (whose tag may inject a fault).
pub fn deployment(name: &str, replicas: i32, image: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }))
    .expect("a valid Deployment")
}

/// A Job `name` with one pod running `image`, never retried.
pub fn job(name: &str, image: &str) -> Job {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": image}],
                },
            },
        },
    }))
    .expect("a valid Job")
}

/// A bare, long-running Pod `name` running `image`.
pub fn pod(name: &str, image: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": image}]},
    }))
    .expect("a valid Pod")
}

//! Support for capstan's end-to-end scenarios: builders for the objects they create on the local
//! control plane, and the built binaries run as processes ([`process`]).

pub mod process;

/// The shared chart corpus (`CAPSTAN_CHARTS_DIR`, as `cargo xtask conformance` reads it, else
/// `shared/charts` beside the repository or a parent of it, or this machine's
/// `/work/shared/charts`).
pub fn corpus() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("CAPSTAN_CHARTS_DIR") {
        return dir.into();
    }
    process::repository()
        .ancestors()
        .map(|a| a.join("shared/charts"))
        .chain([std::path::PathBuf::from("/work/shared/charts")])
        .find(|c| c.join("CASES.tsv").is_file())
        .expect("the chart corpus (shared/charts) is present")
}

/// `(revision, status, description)` of each row of `history -o json` output.
pub fn history_rows(json: &str) -> anyhow::Result<Vec<(u64, String, String)>> {
    use anyhow::Context as _;
    let json: serde_json::Value = serde_json::from_str(json)?;
    Ok(json
        .as_array()
        .context("history -o json is an array")?
        .iter()
        .map(|r| {
            (
                r["revision"].as_u64().unwrap_or_default(),
                r["status"].as_str().unwrap_or_default().to_owned(),
                r["description"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

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

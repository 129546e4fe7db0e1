//! Architecture invariants, checked from `cargo metadata`: the domain crates stay free of networking,
//! async runtimes and Kubernetes clients.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use serde_json::Value;

/// Crates that must never depend (directly or transitively) on these.
const DOMAIN_CRATES: [&str; 6] = [
    "capstan-chart",
    "capstan-gotmpl",
    "capstan-sprig",
    "capstan-render",
    "capstan-release",
    "capstan-auth",
];
const FORBIDDEN: [&str; 6] = ["tokio", "tonic", "prost", "kube", "kube-client", "hyper"];

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

/// Every package reachable from `root` through normal (non-dev, non-build) dependencies.
fn normal_closure(meta: &Value, root: &str) -> BTreeSet<String> {
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let nodes: HashMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let Some(start) = names
        .iter()
        .find(|(_, name)| **name == root)
        .map(|(id, _)| *id)
    else {
        return BTreeSet::new();
    };
    let mut seen = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(id) = stack.pop() {
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null());
            let dep_id = dep["pkg"].as_str().unwrap();
            if normal && seen.insert(names[dep_id].to_string()) {
                stack.push(dep_id);
            }
        }
    }
    seen
}

#[test]
fn domain_crates_do_no_networking() {
    let meta = metadata();
    let mut checked = 0;
    for krate in DOMAIN_CRATES {
        let deps = normal_closure(&meta, krate);
        let workspace_member = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == krate);
        if !workspace_member {
            continue;
        }
        checked += 1;
        let bad: Vec<&str> = FORBIDDEN
            .iter()
            .copied()
            .filter(|f| deps.contains(*f))
            .collect();
        assert!(bad.is_empty(), "{krate} must not depend on {bad:?}");
    }
    assert!(checked >= 1, "no domain crate found in the workspace");
}

#[test]
fn xtask_depends_on_nothing_in_the_workspace() {
    let meta = metadata();
    let members: BTreeSet<String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["source"].is_null())
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    let deps = normal_closure(&meta, "xtask");
    let inside: Vec<&String> = deps.iter().filter(|d| members.contains(*d)).collect();
    assert!(
        inside.is_empty(),
        "xtask depends on workspace crates {inside:?}"
    );
}

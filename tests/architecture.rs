//! Architecture invariants, checked from `cargo metadata`: the domain crates (those ARCHITECTURE.md
//! names) stay free of networking, async runtimes and Kubernetes clients; every crate's workspace
//! dependencies are those the crate map in ARCHITECTURE.md lists; kube-rs is used only where
//! ARCHITECTURE.md says; binaries are thin.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use serde_json::Value;

/// Crates that must never depend (directly or transitively) on these.
const DOMAIN_CRATES: [&str; 8] = [
    "capstan-chart",
    "capstan-gotmpl",
    "capstan-sprig",
    "capstan-render",
    "capstan-release",
    "capstan-ops",
    "capstan-auth",
    "capstan-lint",
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

fn architecture_md() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../ARCHITECTURE.md"))
        .expect("ARCHITECTURE.md is readable")
}

/// Each workspace package's direct normal dependencies on other workspace packages.
fn workspace_deps(meta: &Value) -> HashMap<String, BTreeSet<String>> {
    let members: BTreeSet<&str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["source"].is_null())
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["source"].is_null())
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap())
                .filter(|d| members.contains(d))
                .map(str::to_string)
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

/// The crate map of ARCHITECTURE.md: `crates/NAME` rows and their "depends on" cells, as full
/// crate names.
fn crate_map() -> HashMap<String, BTreeSet<String>> {
    architecture_md()
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells.get(1)?.strip_prefix("`crates/")?.strip_suffix('`')?;
            let deps = cells.get(cells.len().checked_sub(2)?)?;
            let deps = if *deps == "-" {
                BTreeSet::new()
            } else {
                deps.split(',')
                    .map(|d| format!("capstan-{}", d.trim()))
                    .collect()
            };
            Some((name.to_string(), deps))
        })
        .collect()
}

#[test]
fn dependencies_are_those_the_crate_map_lists() {
    let actual = workspace_deps(&metadata());
    let map = crate_map();
    assert!(map.len() >= 15, "the crate map was not found: {map:?}");
    let mut wrong = Vec::new();
    for (krate, deps) in &actual {
        if krate == "xtask" || krate == "capstan-e2e" {
            continue;
        }
        match map.get(krate) {
            None => wrong.push(format!("{krate}: not in ARCHITECTURE.md's crate map")),
            Some(listed) if listed != deps => wrong.push(format!(
                "{krate}: depends on {deps:?}, the crate map says {listed:?}"
            )),
            Some(_) => {}
        }
    }
    for krate in map.keys() {
        if !actual.contains_key(krate) {
            wrong.push(format!(
                "{krate}: in the crate map but not in the workspace"
            ));
        }
    }
    wrong.sort();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn kube_rs_is_used_only_where_the_architecture_says() {
    let doc = architecture_md();
    let sentence = doc
        .split("kube-rs is a direct dependency of exactly these")
        .nth(1)
        .expect("ARCHITECTURE.md names the crates that use kube-rs");
    let listed: BTreeSet<String> = sentence
        .split_once("crates:")
        .and_then(|(_, rest)| rest.split_once('.'))
        .map(|(list, _)| list)
        .expect("a list ending with a full stop")
        .split(',')
        .map(|c| c.trim().to_string())
        .collect();
    let meta = metadata();
    let actual: BTreeSet<String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["source"].is_null())
        .filter(|p| {
            p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["kind"].is_null() && d["name"] == "kube")
        })
        .map(|p| p["name"].as_str().unwrap().to_string())
        .filter(|name| name != "xtask" && name != "capstan-e2e")
        .collect();
    assert_eq!(actual, listed);
}

#[test]
fn the_domain_crates_are_those_architecture_md_names() {
    let doc = architecture_md();
    let paragraph = doc
        .split("**The domain crates do no I/O beyond files they are handed.**")
        .nth(1)
        .and_then(|rest| rest.split("depend on no").next())
        .expect("ARCHITECTURE.md states the domain crates' invariant");
    let named: BTreeSet<&str> = paragraph
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| word.starts_with("capstan-"))
        .collect();
    assert_eq!(named, BTreeSet::from(DOMAIN_CRATES));
}

/// The most lines a binary's `main.rs` may have and still be thin.
const THIN_MAIN_LINES: usize = 150;

#[test]
fn binaries_are_thin() {
    let meta = metadata();
    let mut checked = 0;
    for package in meta["packages"].as_array().unwrap() {
        if !package["source"].is_null() || package["name"] == "xtask" {
            continue;
        }
        let targets = package["targets"].as_array().unwrap();
        let kinds = |t: &Value, kind: &str| {
            t["kind"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k.as_str() == Some(kind))
        };
        if !targets.iter().any(|t| kinds(t, "lib")) {
            continue;
        }
        for bin in targets.iter().filter(|t| kinds(t, "bin")) {
            let path = bin["src_path"].as_str().unwrap();
            let text = std::fs::read_to_string(path).expect("the binary's source is readable");
            let modules: Vec<&str> = text
                .lines()
                .filter(|l| {
                    let l = l.trim_start();
                    (l.starts_with("mod ") || l.starts_with("pub mod ")) && l.ends_with(';')
                })
                .collect();
            assert!(
                modules.is_empty(),
                "{path} declares modules of its own ({modules:?}): its code belongs in the library"
            );
            let lines = text.lines().count();
            assert!(
                lines <= THIN_MAIN_LINES,
                "{path} has {lines} lines, more than {THIN_MAIN_LINES}: a thin main parses flags and calls the library"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "the daemons' and the CLI's binaries were not found"
    );
}

//! The kube-prometheus-stack part of `cargo xtask bench apply`: the corpus chart installed with
//! `--wait`, upgraded with one value changed, then upgraded with nothing changed, by capstan and
//! Helm v3 and v4 on the same local control plane, each tool and run in its own namespace and
//! release, timed and with the API server's write counts (`apply`'s steps, counters and table);
//! then the targets checked.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::discovery::Scope;
use kube::{Api, Client};
use serde_json::{Value, json};

use super::apply::{
    Classes, Measured, Step, create_namespace, delete_namespaces, median_writes, steps_table, timed,
};
use super::{Stats, out_dir};
use crate::{conformance, paths};

/// The chart's directory in the corpus.
const CHART: &str = "kube-prometheus-stack";
/// The values every revision gets on the simulated cluster, shared with `tests/charts.rs`.
const VALUES: &str = "tests/fixtures/values/kube-prometheus-stack.yaml";
/// The one value the changing upgrade sets (the kube-state-metrics Deployment's replicas).
const CHANGE: &str = "kube-state-metrics.replicas=2";
/// Timed runs per tool and step, after a warm-up install per tool.
const RUNS: usize = 3;
/// The steps, in order, all on the release the install made: the changing upgrade, then the same
/// upgrade again (nothing changed).
const STEPS: [Step; 3] = [Step::Install, Step::UpgradeOne, Step::UpgradeNone];
/// The targets: capstan's speed-up over each Helm.
const INSTALL_TARGET: f64 = 3.0;
const NO_CHANGE_TARGET: f64 = 5.0;

/// One tool's binary and name, as `apply` names them (`tools[0]` is capstan).
pub struct Tool<'a> {
    pub name: &'a str,
    pub binary: &'a Path,
}

/// The resource (from discovery) and scope (namespaced or not) of each (apiVersion, kind).
type Kinds = BTreeMap<(String, String), (ApiResource, bool)>;

/// Runs one step of `tool` untimed, failing with its output when it fails.
fn untimed(tool: &Tool<'_>, args: &[String], env: &[(&str, String)]) -> anyhow::Result<()> {
    let output = Command::new(tool.binary)
        .args(args)
        .envs(env.iter().cloned())
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "{} {}: {}",
        tool.name,
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// One tool's release of one round.
#[derive(Clone)]
struct Release {
    name: String,
    namespace: String,
}

impl Release {
    fn args(&self, step: Step, chart: &Path, values: &Path) -> Vec<String> {
        let verb = if step == Step::Install {
            "install"
        } else {
            "upgrade"
        };
        let mut args = vec![
            verb.to_string(),
            self.name.clone(),
            chart.display().to_string(),
            "-n".into(),
            self.namespace.clone(),
            "-f".into(),
            values.display().to_string(),
        ];
        if step != Step::Install {
            args.extend(["--set".into(), CHANGE.into()]);
        }
        args.extend(["--wait", "--timeout", "5m"].map(String::from));
        args
    }
}

/// `cargo xtask bench kps`: this part alone, on release binaries built first
/// (`CAPSTAN_BENCH_CAPSTAN=PATH` measures that capstan binary instead of building one).
pub fn run_alone() -> anyhow::Result<()> {
    let capstan = match std::env::var_os("CAPSTAN_BENCH_CAPSTAN") {
        Some(path) => std::path::PathBuf::from(path),
        None => {
            super::build_release(&["capstan-cli", "capstan-applier"], false)?;
            paths::target().join("release").join("capstan")
        }
    };
    let helms = crate::helm::build_all()?;
    let cluster = crate::cluster::up()?;
    let kubeconfig = cluster.state.kubeconfig.clone();
    let names: Vec<String> = helms.iter().map(|h| super::render::helm_name(h)).collect();
    let mut tools = vec![Tool {
        name: "capstan",
        binary: &capstan,
    }];
    for (name, binary) in names.iter().zip(&helms) {
        tools.push(Tool { name, binary });
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = runtime.block_on(crate::probe::client(&kubeconfig))?;
    let report = run(&runtime, &client, &kubeconfig, &tools)?;
    println!("{report}");
    println!("written to {}", out_dir().join("kps.md").display());
    Ok(())
}

/// Measures every tool on kube-prometheus-stack and returns the report's Markdown section (also
/// written to `target/bench/kps.md` and `kps.json`). It uninstalls its releases and deletes its
/// namespaces when done (CRDs stay, as after any install).
pub fn run(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    kubeconfig: &Path,
    tools: &[Tool<'_>],
) -> anyhow::Result<String> {
    let chart = conformance::charts_dir()?.join(CHART);
    let values = paths::root().join(VALUES);
    let capstan = tools[0].binary;
    let base = render(capstan, &chart, "rel", "ns", &values, None)?;
    // Objects that differ between two renders of the same values hold a random value the live
    // object keeps on upgrades (`lookup`): not the change's.
    let random = changed_objects(&base, &render(capstan, &chart, "rel", "ns", &values, None)?);
    let changed_render = render(capstan, &chart, "rel", "ns", &values, Some(CHANGE))?;
    let mut changed = changed_objects(&base, &changed_render);
    changed.retain(|k| !random.contains(k));
    let changed: Vec<String> = changed
        .into_iter()
        .map(|k| k.replace("/ns/", "/NS/").replace("rel-", "RELEASE-"))
        .collect();
    // The chart's kinds are discovered after the warm-up: on a cluster without the chart's
    // CRDs, its custom resources' kinds exist only once the first install has created them.
    let mut discovered: Option<(Classes, Kinds)> = None;

    let env = [("KUBECONFIG", kubeconfig.display().to_string())];
    let stamp = super::rand_suffix() % 10_000;
    let mut releases: Vec<(usize, Release)> = Vec::new();
    let mut results: Vec<BTreeMap<&'static str, Measured>> =
        tools.iter().map(|_| BTreeMap::new()).collect();
    let mut modified: Vec<BTreeMap<&'static str, Vec<Vec<String>>>> =
        tools.iter().map(|_| BTreeMap::new()).collect();
    let measured = (|| -> anyhow::Result<()> {
        for round in 0..=RUNS {
            let warm_up = round == 0;
            println!(
                "{CHART}: {} {round}/{RUNS}",
                if warm_up {
                    "warm-up (installs the CRDs)"
                } else {
                    "round"
                }
            );
            let mut round_releases = Vec::new();
            for (i, tool) in tools.iter().enumerate() {
                let short = tool.name.replace([' ', '.'], "-");
                let release = Release {
                    name: format!("k{stamp}-{round}-{short}"),
                    namespace: format!("bench-kps-{stamp}-{round}-{short}"),
                };
                runtime.block_on(create_namespace(client, &release.namespace))?;
                releases.push((i, release.clone()));
                round_releases.push(release);
            }
            // The warm-up installs only, untimed: the first creates the CRDs every later
            // install finds.
            if warm_up {
                for (i, tool) in tools.iter().enumerate() {
                    let args = round_releases[i].args(STEPS[0], &chart, &values);
                    untimed(tool, &args, &env)?;
                }
                continue;
            }
            let (classes, kinds) = match &discovered {
                Some(known) => known,
                None => {
                    let classes = runtime.block_on(classes(client, &base))?;
                    let kinds = runtime.block_on(resources(client, &base))?;
                    println!(
                        "{CHART}: {} objects of {} resources; `--set {CHANGE}` changes {}",
                        base.len(),
                        classes.objects.len() + usize::from(classes.secrets_in_chart),
                        changed.join(", ")
                    );
                    discovered.insert((classes, kinds))
                }
            };
            let mut objects = Vec::new();
            for release in &round_releases {
                let rendered = render(
                    capstan,
                    &chart,
                    &release.name,
                    &release.namespace,
                    &values,
                    None,
                )?;
                objects.push(located(&rendered, kinds, &release.namespace));
            }
            for &step in &STEPS {
                for (i, tool) in tools.iter().enumerate() {
                    let args = round_releases[i].args(step, &chart, &values);
                    let before = runtime.block_on(snapshot(client, &objects[i]))?;
                    let (sample, writes) = timed(
                        runtime,
                        client,
                        classes,
                        tool.name,
                        step,
                        tool.binary,
                        &args,
                        &env,
                    )?;
                    let after = runtime.block_on(snapshot(client, &objects[i]))?;
                    let release = &round_releases[i];
                    // Named alike for every tool and round, to compare them.
                    let changed: Vec<String> = changed_objects(&before, &after)
                        .into_iter()
                        .map(|k| {
                            k.replace(&release.namespace, "NS")
                                .replace(&release.name, "RELEASE")
                        })
                        .collect();
                    println!("    objects changed: {}", changed.len());
                    let entry = results[i].entry(step.key()).or_default();
                    entry.seconds.push(sample.seconds);
                    entry.writes.push(writes);
                    modified[i].entry(step.key()).or_default().push(changed);
                }
            }
        }
        Ok(())
    })();

    println!("{CHART}: uninstalling {} releases...", releases.len());
    let mut cleanup = Ok(());
    for (i, release) in &releases {
        let args = [
            "uninstall",
            &release.name,
            "-n",
            &release.namespace,
            "--wait",
            "--timeout",
            "5m",
        ];
        let status = Command::new(tools[*i].binary)
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .output()?;
        if !status.status.success() && cleanup.is_ok() {
            cleanup = Err(anyhow::anyhow!(
                "{} uninstall {}: {}",
                tools[*i].name,
                release.name,
                String::from_utf8_lossy(&status.stderr)
            ));
        }
    }
    let namespaces: Vec<String> = releases.iter().map(|(_, r)| r.namespace.clone()).collect();
    runtime.block_on(delete_namespaces(client, &namespaces))?;
    measured?;
    cleanup?;
    report(tools, &results, &modified, base.len(), &changed)
}

/// Where one rendered object lives: its resource, namespace (empty for cluster-scoped) and name.
struct Located {
    resource: ApiResource,
    namespace: String,
    name: String,
}

/// The rendered objects with their resources; namespaced objects without a namespace go to
/// `namespace`.
fn located(
    objects: &BTreeMap<String, Value>,
    kinds: &Kinds,
    namespace: &str,
) -> BTreeMap<String, Located> {
    let mut out = BTreeMap::new();
    for (key, object) in objects {
        let api_version = object["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        let Some((resource, namespaced)) = kinds.get(&(api_version, kind)) else {
            continue;
        };
        let field = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
        let object_namespace = match (namespaced, field("/metadata/namespace")) {
            (false, _) => String::new(),
            (true, Some(ns)) => ns.to_string(),
            (true, None) => namespace.to_string(),
        };
        out.insert(
            key.clone(),
            Located {
                resource: resource.clone(),
                namespace: object_namespace,
                name: field("/metadata/name").unwrap_or_default().to_string(),
            },
        );
    }
    out
}

/// The release's objects as the cluster holds them, without what the API server and controllers
/// write (status, resourceVersion, managedFields, generation, a Deployment's revision).
async fn snapshot(
    client: &Client,
    objects: &BTreeMap<String, Located>,
) -> anyhow::Result<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    for (key, located) in objects {
        let api: Api<DynamicObject> = if located.namespace.is_empty() {
            Api::all_with(client.clone(), &located.resource)
        } else {
            Api::namespaced_with(client.clone(), &located.namespace, &located.resource)
        };
        let Some(object) = api.get_opt(&located.name).await? else {
            continue;
        };
        let mut value = serde_json::to_value(&object)?;
        if let Some(map) = value.as_object_mut() {
            map.remove("status");
        }
        if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in ["resourceVersion", "managedFields", "generation"] {
                metadata.remove(field);
            }
            if let Some(annotations) = metadata
                .get_mut("annotations")
                .and_then(Value::as_object_mut)
            {
                annotations.remove("deployment.kubernetes.io/revision");
            }
        }
        out.insert(key.clone(), value);
    }
    Ok(out)
}

/// The objects `capstan template` renders (release `name` in `namespace`, with the benchmark's
/// values and `set`), by `kind/namespace/name`.
fn render(
    capstan: &Path,
    chart: &Path,
    name: &str,
    namespace: &str,
    values: &Path,
    set: Option<&str>,
) -> anyhow::Result<BTreeMap<String, Value>> {
    let mut command = Command::new(capstan);
    command
        .args(["template", name])
        .arg(chart)
        .args(["-n", namespace, "-f"])
        .arg(values);
    if let Some(set) = set {
        command.args(["--set", set]);
    }
    let output = command.output().context("running capstan template")?;
    if !output.status.success() {
        bail!(
            "capstan template {}: {}",
            chart.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8(output.stdout)?;
    let mut objects = BTreeMap::new();
    for document in serde_yaml_ng::Deserializer::from_str(&text) {
        let value: Value = serde::Deserialize::deserialize(document)?;
        if value.is_null() {
            continue;
        }
        let field = |pointer: &str| value.pointer(pointer).and_then(Value::as_str).unwrap_or("");
        let key = format!(
            "{}/{}/{}",
            field("/kind"),
            field("/metadata/namespace"),
            field("/metadata/name")
        );
        objects.insert(key, value);
    }
    Ok(objects)
}

/// The objects that differ between two renders (`kind/namespace/name`).
fn changed_objects(
    before: &BTreeMap<String, Value>,
    after: &BTreeMap<String, Value>,
) -> Vec<String> {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect()
}

/// The resource (from discovery) and scope (namespaced or not) of every kind rendered, by
/// (apiVersion, kind).
async fn resources(client: &Client, objects: &BTreeMap<String, Value>) -> anyhow::Result<Kinds> {
    let mut out = BTreeMap::new();
    for object in objects.values() {
        let api_version = object["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        if out.contains_key(&(api_version.clone(), kind.clone())) {
            continue;
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
        let gvk = GroupVersionKind::gvk(group, version, &kind);
        let (resource, capabilities) = kube::discovery::pinned_kind(client, &gvk)
            .await
            .with_context(|| format!("discovering {api_version} {kind}"))?;
        let namespaced = capabilities.scope == Scope::Namespaced;
        out.insert((api_version, kind), (resource, namespaced));
    }
    Ok(out)
}

/// The resources (plural names) of the rendered objects, Secrets aside.
async fn classes(client: &Client, objects: &BTreeMap<String, Value>) -> anyhow::Result<Classes> {
    let mut resources = BTreeSet::new();
    let mut secrets_in_chart = false;
    for ((api_version, kind), (resource, _)) in self::resources(client, objects).await? {
        if api_version == "v1" && kind == "Secret" {
            secrets_in_chart = true;
        } else {
            resources.insert(resource.plural);
        }
    }
    Ok(Classes {
        objects: resources.into_iter().collect(),
        secrets_in_chart,
    })
}

/// The median over runs of the writes to `resource`.
fn median_of(measured: &Measured, resource: &str) -> u64 {
    let mut counts: Vec<u64> = measured
        .writes
        .iter()
        .map(|w| w.by_resource.get(resource).copied().unwrap_or(0))
        .collect();
    counts.sort_unstable();
    counts[counts.len() / 2]
}

/// The paired ratio capstan/tool of one step's times.
fn ratio(ours: &Measured, theirs: &Measured) -> f64 {
    let ratios: Vec<f64> = ours
        .seconds
        .iter()
        .zip(&theirs.seconds)
        .map(|(a, b)| a / b)
        .collect();
    Stats::of(&ratios).median
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "not met" }
}

/// The objects of every run of a step, as one sorted set.
fn union(runs: &[Vec<String>]) -> BTreeSet<String> {
    runs.iter().flatten().cloned().collect()
}

fn report(
    tools: &[Tool<'_>],
    results: &[BTreeMap<&'static str, Measured>],
    modified: &[BTreeMap<&'static str, Vec<Vec<String>>>],
    objects: usize,
    changed: &[String],
) -> anyhow::Result<String> {
    let mut report = format!(
        "## kube-prometheus-stack ({objects} objects and the chart's CRDs); {RUNS} runs\n\n\
         Values: `{VALUES}`; the changing upgrade sets `{CHANGE}` (which changes {}); the second \
         upgrade repeats it (nothing changed).\n\n",
        changed.join(", ")
    );
    let names: Vec<&str> = tools.iter().map(|t| t.name).collect();
    let rows = steps_table(&mut report, &STEPS, &names, results)?;

    writeln!(
        report,
        "\nRelease record = Secrets written by POST, PUT or DELETE; the chart's own Secrets are \
         written by PATCH or APPLY on upgrades and count as objects (on install, a Secret a tool \
         creates by POST counts as record). CRDs are not in `objects`: a warm-up install per tool \
         (untimed) created them, so every timed install finds them present, as any install after \
         the first does. CRD write requests per timed install (median; conflicts included): {}.",
        tools
            .iter()
            .enumerate()
            .map(|(i, tool)| format!(
                "{} {}",
                tool.name,
                median_of(
                    &results[i][Step::Install.key()],
                    "customresourcedefinitions"
                )
            ))
            .collect::<Vec<_>>()
            .join(", ")
    )?;

    writeln!(
        report,
        "\nObjects of the release that changed on the cluster (each object read before and after \
         the run, compared without status, resourceVersion, managedFields, generation and a \
         Deployment's revision annotation; exact, unlike the cluster-wide request counts above):\n\n\
         | step | tool | objects changed (median) | which (all runs) |\n|---|---|---|---|"
    )?;
    for step in STEPS {
        for (i, tool) in tools.iter().enumerate() {
            let runs = &modified[i][step.key()];
            let mut counts: Vec<usize> = runs.iter().map(Vec::len).collect();
            counts.sort_unstable();
            let which = if step == Step::Install {
                String::new()
            } else {
                union(runs).into_iter().collect::<Vec<_>>().join(", ")
            };
            writeln!(
                report,
                "| {} | {} | {} | {which} |",
                step.label(),
                tool.name,
                counts[counts.len() / 2]
            )?;
        }
    }

    writeln!(report, "\nTargets:\n")?;
    let ours = &results[0];
    let mut targets = Vec::new();
    for (i, tool) in tools.iter().enumerate().skip(1) {
        let theirs = &results[i];
        for (step, target) in [
            (Step::Install, INSTALL_TARGET),
            (Step::UpgradeNone, NO_CHANGE_TARGET),
        ] {
            let speedup = 1.0 / ratio(&ours[step.key()], &theirs[step.key()]);
            let met = speedup >= target;
            writeln!(
                report,
                "- {} vs {}: {speedup:.2}x faster (target {target}x): {}",
                step.label(),
                tool.name,
                verdict(met)
            )?;
            targets.push(json!({"step": step.key(), "against": tool.name, "speedup": speedup, "target": target, "met": met}));
        }
    }
    let none = union(&modified[0][Step::UpgradeNone.key()]);
    let requests = median_writes(&ours[Step::UpgradeNone.key()].writes).objects;
    writeln!(
        report,
        "- {}: capstan changed {} objects in {RUNS} runs (target 0): {}; object write requests \
         counted cluster-wide: {requests} (median, other clients' writes included)",
        Step::UpgradeNone.label(),
        none.len(),
        verdict(none.is_empty())
    )?;
    let ours_one = union(&modified[0][Step::UpgradeOne.key()]);
    let helms_one: Vec<BTreeSet<String>> = (1..tools.len())
        .map(|i| union(&modified[i][Step::UpgradeOne.key()]))
        .collect();
    let only = helms_one.iter().all(|h| ours_one.is_subset(h));
    writeln!(
        report,
        "- {}: capstan changed {} object(s): {} (each Helm changed the same or more: {}; the \
         value alone changes {} in the chart's output; the grafana Deployment's \
         `checksum/secret` settles on the first upgrade whatever the tool, as the chart hashes \
         a second random password at install): {}",
        Step::UpgradeOne.label(),
        ours_one.len(),
        ours_one.iter().cloned().collect::<Vec<_>>().join(", "),
        only,
        changed.join(", "),
        verdict(only)
    )?;
    std::fs::create_dir_all(out_dir())?;
    std::fs::write(out_dir().join("kps.md"), &report)?;
    std::fs::write(
        out_dir().join("kps.json"),
        serde_json::to_vec_pretty(&json!({"steps": rows, "targets": targets, "changed": changed}))?,
    )?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_objects_are_those_added_removed_or_different() {
        let before: BTreeMap<String, Value> = [
            ("a".to_string(), json!({"x": 1})),
            ("b".to_string(), json!({"x": 1})),
            ("c".to_string(), json!({"x": 1})),
        ]
        .into();
        let after: BTreeMap<String, Value> = [
            ("a".to_string(), json!({"x": 1})),
            ("b".to_string(), json!({"x": 2})),
            ("d".to_string(), json!({"x": 1})),
        ]
        .into();
        assert_eq!(changed_objects(&before, &after), ["b", "c", "d"]);
        assert!(changed_objects(&before, &before).is_empty());
    }

    #[test]
    fn the_union_of_runs_is_sorted_and_without_repeats() {
        let runs = vec![
            vec!["b".to_string()],
            vec!["a".to_string(), "b".to_string()],
        ];
        assert_eq!(union(&runs).into_iter().collect::<Vec<_>>(), ["a", "b"]);
    }
}

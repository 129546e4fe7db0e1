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
use kube::Client;
use kube::api::GroupVersionKind;
use serde_json::{Value, json};

use super::apply::{
    Classes, Measured, Step, create_namespace, delete_namespaces, median_writes, steps_table,
    timed,
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

/// `cargo xtask bench kps`: this part alone, on release binaries built first.
pub fn run_alone() -> anyhow::Result<()> {
    super::build_release(&["capstan-cli", "capstan-applier"], false)?;
    let helms = crate::helm::build_all()?;
    let cluster = crate::cluster::up()?;
    let kubeconfig = cluster.state.kubeconfig.clone();
    let capstan = paths::target().join("release").join("capstan");
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
    let base = render(capstan, &chart, &values, None)?;
    let changed_render = render(capstan, &chart, &values, Some(CHANGE))?;
    let changed = changed_objects(&base, &changed_render);
    let classes = runtime.block_on(classes(client, &base))?;
    println!(
        "{CHART}: {} objects of {} resources; `--set {CHANGE}` changes {}",
        base.len(),
        classes.objects.len() + usize::from(classes.secrets_in_chart),
        changed.join(", ")
    );

    let env = [("KUBECONFIG", kubeconfig.display().to_string())];
    let stamp = super::rand_suffix() % 10_000;
    let mut releases: Vec<(usize, Release)> = Vec::new();
    let mut results: Vec<BTreeMap<&'static str, Measured>> =
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
            // The warm-up installs only: the first creates the CRDs every later install finds.
            let steps: &[Step] = if warm_up { &STEPS[..1] } else { &STEPS };
            for &step in steps {
                for (i, tool) in tools.iter().enumerate() {
                    let args = round_releases[i].args(step, &chart, &values);
                    let (sample, writes) = timed(
                        runtime,
                        client,
                        &classes,
                        tool.name,
                        step,
                        tool.binary,
                        &args,
                        &env,
                    )?;
                    if !warm_up {
                        let entry = results[i].entry(step.key()).or_default();
                        entry.seconds.push(sample.seconds);
                        entry.writes.push(writes);
                    }
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
    report(tools, &results, base.len(), &changed)
}

/// The objects `capstan template` renders (with the benchmark's values and `set`), by
/// `kind/namespace/name`.
fn render(
    capstan: &Path,
    chart: &Path,
    values: &Path,
    set: Option<&str>,
) -> anyhow::Result<BTreeMap<String, Value>> {
    let mut command = Command::new(capstan);
    command
        .args(["template", "rel"])
        .arg(chart)
        .args(["-n", "ns", "-f"])
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

/// The resources (plural names, from discovery) of the rendered objects.
async fn classes(client: &Client, objects: &BTreeMap<String, Value>) -> anyhow::Result<Classes> {
    let mut kinds = BTreeSet::new();
    for object in objects.values() {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        kinds.insert((api_version.to_string(), kind.to_string()));
    }
    let mut resources = BTreeSet::new();
    let mut secrets_in_chart = false;
    for (api_version, kind) in kinds {
        if api_version == "v1" && kind == "Secret" {
            secrets_in_chart = true;
            continue;
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
        let gvk = GroupVersionKind::gvk(group, version, &kind);
        let (resource, _) = kube::discovery::pinned_kind(client, &gvk)
            .await
            .with_context(|| format!("discovering {api_version} {kind}"))?;
        resources.insert(resource.plural);
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

fn report(
    tools: &[Tool<'_>],
    results: &[BTreeMap<&'static str, Measured>],
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
         the first does. CRD write requests per timed install (median; conflicts included):"
    )?;
    for (i, tool) in tools.iter().enumerate() {
        let install = &results[i][Step::Install.key()];
        writeln!(
            report,
            "{}: {}.",
            tool.name,
            median_of(install, "customresourcedefinitions")
        )?;
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
    let none = &ours[Step::UpgradeNone.key()];
    let most = none.writes.iter().map(|w| w.objects).max().unwrap_or(0);
    writeln!(
        report,
        "- {}: capstan's object writes {most} in every run at most (target 0): {}",
        Step::UpgradeNone.label(),
        verdict(most == 0)
    )?;
    let one = &ours[Step::UpgradeOne.key()];
    let most = one.writes.iter().map(|w| w.objects).max().unwrap_or(0);
    let median = median_writes(&one.writes).objects;
    writeln!(
        report,
        "- {}: capstan's object writes {median} (median; at most {most}) for {} changed object(s) \
         (target: only those): {}",
        Step::UpgradeOne.label(),
        changed.len(),
        verdict(most as usize <= changed.len())
    )?;
    std::fs::create_dir_all(out_dir())?;
    std::fs::write(out_dir().join("kps.md"), &report)?;
    std::fs::write(
        out_dir().join("kps.json"),
        serde_json::to_vec_pretty(&json!({"steps": rows, "targets": targets, "changed": changed}))?,
    )?;
    Ok(report)
}

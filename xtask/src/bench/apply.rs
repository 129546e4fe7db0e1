//! `cargo xtask bench apply`: install --wait of a generated 50-object chart (10 Deployments); an
//! upgrade that changes one object, an upgrade that changes nothing, and rollback --wait of a
//! 200-object release; capstan against Helm v3 and v4 on the same local control plane, each tool and
//! run in a fresh namespace. For every step the API server's `apiserver_request_total` is read before
//! and after, so the writes each tool sends are counted. Then 50 releases upgraded at once: 50
//! `capstan upgrade` processes served by one applier daemon against 50 Helm processes, with wall time
//! and peak memory. Then kube-prometheus-stack's install and upgrades (`kps`), with this file's
//! steps, write counts and table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

use super::chartgen::{Flavor, generate, generate_with};
use super::{Sample, Stats, kps, measure, ms, out_dir};
use crate::{cluster, helm, paths, probe};

/// The install step's chart: 50 objects, 10 of them Deployments.
const INSTALL_OBJECTS: usize = 50;
const INSTALL_DEPLOYMENTS: usize = 10;
/// The release the upgrade and rollback steps work on (50 Deployments).
const OBJECTS: usize = 200;
const RUNS: usize = 3;
/// Releases upgraded at once, and the size of each (5 Deployments).
const CONCURRENT: usize = 50;
const CONCURRENT_OBJECTS: usize = 20;
pub(super) const LABEL: &str = "capstan-bench";
pub(super) const LABEL_VALUE: &str = "apply";
const RELEASE: &str = "bench";
/// The `--set` that changes exactly one object (see `chartgen::MARKER_OBJECT`).
const CHANGE: &str = "marker=changed";
/// The write verbs of `apiserver_request_total` (`CREATE`/`UPDATE` are admission verbs, listed for
/// safety; the request metric uses POST, PUT, PATCH, APPLY, DELETE).
const WRITE_VERBS: [&str; 7] = [
    "POST", "PUT", "PATCH", "DELETE", "APPLY", "CREATE", "UPDATE",
];
/// Resources the generated chart creates; writes to them (without a subresource) are object writes.
const CHART_RESOURCES: [&str; 4] = ["deployments", "services", "configmaps", "serviceaccounts"];
/// Resource holding release records (both tools default to the Secret driver).
const RECORD_RESOURCE: &str = "secrets";

/// One timed operation on a release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Install,
    UpgradeOne,
    UpgradeNone,
    Rollback,
}

const STEPS: [Step; 4] = [
    Step::Install,
    Step::UpgradeOne,
    Step::UpgradeNone,
    Step::Rollback,
];

impl Step {
    pub(super) fn label(self) -> &'static str {
        match self {
            Step::Install => "install --wait",
            Step::UpgradeOne => "upgrade (1 object changed) --wait",
            Step::UpgradeNone => "upgrade (nothing changed) --wait",
            Step::Rollback => "rollback 1 --wait",
        }
    }

    pub(super) fn key(self) -> &'static str {
        match self {
            Step::Install => "install",
            Step::UpgradeOne => "upgrade_one_change",
            Step::UpgradeNone => "upgrade_no_change",
            Step::Rollback => "rollback",
        }
    }
}

/// The generated charts of one template language.
struct Charts {
    install: PathBuf,
    upgrade: PathBuf,
    concurrent: PathBuf,
}

impl Charts {
    fn generate(dir: &Path, flavor: Flavor) -> anyhow::Result<Charts> {
        Ok(Charts {
            install: generate_with(dir, flavor, INSTALL_OBJECTS, INSTALL_DEPLOYMENTS)?,
            upgrade: generate(dir, flavor, OBJECTS)?,
            concurrent: generate(dir, flavor, CONCURRENT_OBJECTS)?,
        })
    }
}

struct Tool {
    name: String,
    binary: PathBuf,
    charts: Charts,
}

/// The release of the install step (the upgrade steps work on [`RELEASE`]).
const INSTALLED: &str = "small";

impl Tool {
    /// The untimed install of the release the upgrade steps change.
    fn prepare_args(&self, namespace: &str) -> Vec<String> {
        let chart = self.charts.upgrade.display().to_string();
        [
            "install",
            RELEASE,
            &chart,
            "-n",
            namespace,
            "--wait",
            "--timeout",
            "5m",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn args(&self, step: Step, namespace: &str) -> Vec<String> {
        let chart = self.charts.upgrade.display().to_string();
        let mut args: Vec<String> = match step {
            Step::Install => vec![
                "install".into(),
                INSTALLED.into(),
                self.charts.install.display().to_string(),
            ],
            Step::UpgradeOne | Step::UpgradeNone => vec![
                "upgrade".into(),
                RELEASE.into(),
                chart,
                "--set".into(),
                CHANGE.into(),
            ],
            Step::Rollback => vec!["rollback".into(), RELEASE.into(), "1".into()],
        };
        args.extend(
            ["-n", namespace, "--wait", "--timeout", "2m"]
                .iter()
                .map(|s| s.to_string()),
        );
        args
    }
}

/// Write requests counted by the API server during one run, by category.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub(super) struct Writes {
    pub(super) total: u64,
    /// Writes to the chart's kinds (no subresource).
    pub(super) objects: u64,
    /// Writes to Secrets: the release record.
    pub(super) record: u64,
    /// Everything else: controllers and the pod simulator reacting, leases.
    pub(super) other: u64,
    /// Every non-zero count by `resource[/subresource]`, to see what `other` is.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) by_resource: BTreeMap<String, u64>,
}

/// Which write requests are the chart's objects and which the release record.
pub(super) struct Classes {
    /// The resources (plural names) the chart's objects are, Secrets aside.
    pub(super) objects: Vec<String>,
    /// Whether the chart has Secrets too: then writes to Secrets by PATCH or APPLY (which
    /// neither tool uses for its record) count as objects, the rest (POST, PUT, DELETE) as record.
    pub(super) secrets_in_chart: bool,
}

impl Classes {
    fn generated() -> Classes {
        Classes {
            objects: CHART_RESOURCES.iter().map(|r| r.to_string()).collect(),
            secrets_in_chart: false,
        }
    }
}

/// The times and write counts of one tool's runs of one step.
#[derive(Default)]
pub(super) struct Measured {
    pub(super) seconds: Vec<f64>,
    pub(super) writes: Vec<Writes>,
}

pub fn run() -> anyhow::Result<()> {
    super::build_release(&["capstan-cli", "capstan-applier"], false)?;
    let helms = helm::build_all()?;
    let cluster = cluster::up()?;
    let kubeconfig = cluster.state.kubeconfig.clone();
    let release = paths::target().join("release");
    let capstan = release.join("capstan");
    let dir = out_dir().join("charts");
    let mut tools = vec![Tool {
        name: "capstan".into(),
        binary: capstan.clone(),
        charts: Charts::generate(&dir, Flavor::Capstan)?,
    }];
    for h in &helms {
        tools.push(Tool {
            name: super::render::helm_name(h),
            binary: h.clone(),
            charts: Charts::generate(&dir, Flavor::Helm)?,
        });
    }
    let (ours, theirs) = (&tools[0].charts, &tools[1].charts);
    for (a, b) in [
        (&ours.install, &theirs.install),
        (&ours.upgrade, &theirs.upgrade),
        (&ours.concurrent, &theirs.concurrent),
    ] {
        super::render::check_equivalent(&capstan, a, &helms, b)?;
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = runtime.block_on(probe::client(&kubeconfig))?;
    runtime.block_on(remove_leftovers(&client))?;

    let mut namespaces = Vec::new();
    let result = (|| {
        let steps = measure_steps(&runtime, &client, &kubeconfig, &tools, &mut namespaces)?;
        let concurrent = concurrent_upgrades(
            &runtime,
            &client,
            &kubeconfig,
            &release,
            &tools,
            &mut namespaces,
        )?;
        report(&tools, &steps, &concurrent)?;
        let kps_tools: Vec<kps::Tool<'_>> = tools
            .iter()
            .map(|t| kps::Tool {
                name: &t.name,
                binary: &t.binary,
            })
            .collect();
        let section = kps::run(&runtime, &client, &kubeconfig, &kps_tools)?;
        println!("{section}");
        println!("written to {}", out_dir().join("kps.md").display());
        Ok(())
    })();
    println!("deleting {} benchmark namespaces...", namespaces.len());
    let cleanup = runtime.block_on(delete_namespaces(&client, &namespaces));
    result.and(cleanup)
}

/// Runs the four steps for every tool: a warm-up round, then `RUNS` rounds, alternating tools.
fn measure_steps(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    kubeconfig: &Path,
    tools: &[Tool],
    namespaces: &mut Vec<String>,
) -> anyhow::Result<Vec<BTreeMap<&'static str, Measured>>> {
    let env = [("KUBECONFIG", kubeconfig.display().to_string())];
    let mut results: Vec<BTreeMap<&'static str, Measured>> =
        tools.iter().map(|_| BTreeMap::new()).collect();
    let classes = Classes::generated();
    let stamp = super::rand_suffix() % 1_000_000;
    for round in 0..=RUNS {
        let warm_up = round == 0;
        let round_namespaces: Vec<String> = tools
            .iter()
            .map(|t| {
                let tool = t.name.replace([' ', '.'], "-");
                format!("bench-apply-{stamp}-{round}-{tool}")
            })
            .collect();
        for namespace in &round_namespaces {
            runtime.block_on(create_namespace(client, namespace))?;
            namespaces.push(namespace.clone());
        }
        println!(
            "{} {round}/{RUNS}",
            if warm_up { "warm-up" } else { "round" }
        );
        for step in STEPS {
            if step == Step::UpgradeOne {
                for (i, tool) in tools.iter().enumerate() {
                    measure(&tool.binary, &tool.prepare_args(&round_namespaces[i]), &env)
                        .with_context(|| format!("{} install of {OBJECTS} objects", tool.name))?;
                }
            }
            for (i, tool) in tools.iter().enumerate() {
                let (sample, writes) = timed(
                    runtime,
                    client,
                    &classes,
                    &tool.name,
                    step,
                    &tool.binary,
                    &tool.args(step, &round_namespaces[i]),
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
    Ok(results)
}

/// Runs one tool's `step` once (`binary args`), reading the API server's write counters before and
/// after; prints and returns its time and writes.
#[allow(clippy::too_many_arguments)]
pub(super) fn timed(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    classes: &Classes,
    tool: &str,
    step: Step,
    binary: &Path,
    args: &[String],
    env: &[(&str, String)],
) -> anyhow::Result<(Sample, Writes)> {
    let before = runtime.block_on(write_counts(client))?;
    let sample: Sample =
        measure(binary, args, env).with_context(|| format!("{tool} {}", step.label()))?;
    let after = runtime.block_on(write_counts(client))?;
    let writes = difference(&before, &after, classes);
    println!(
        "  {:<14} {:<34} {:>9}  writes {:>4} (objects {}, record {}, other {}: {})",
        tool,
        step.label(),
        ms(sample.seconds),
        writes.total,
        writes.objects,
        writes.record,
        writes.other,
        other_resources(&writes, classes)
    );
    Ok((sample, writes))
}

/// `CONCURRENT` releases upgraded at once, per tool: `capstan upgrade` processes served by one
/// applier daemon, and Helm processes. Each tool first installs its releases itself (not timed);
/// the timed part is the upgrades' wall time, with every process's peak RSS (and the daemon's).
fn concurrent_upgrades(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    kubeconfig: &Path,
    release: &Path,
    tools: &[Tool],
    namespaces: &mut Vec<String>,
) -> anyhow::Result<Vec<Value>> {
    let names: Vec<String> = (0..CONCURRENT).map(|i| format!("many-{i:02}")).collect();
    let stamp = super::rand_suffix() % 1_000_000;
    let mut results = Vec::new();
    for tool in tools {
        let namespace = format!(
            "bench-apply-{stamp}-many-{}",
            tool.name.replace([' ', '.'], "-")
        );
        runtime.block_on(create_namespace(client, &namespace))?;
        namespaces.push(namespace.clone());
        let chart = tool.charts.concurrent.display().to_string();
        let args = |verb: &str, name: &str| -> Vec<String> {
            let mut args = vec![verb.to_string(), name.to_string(), chart.clone()];
            if verb == "upgrade" {
                args.extend(["--set".to_string(), CHANGE.to_string()]);
            }
            args.extend(
                ["-n", &namespace, "--wait", "--timeout", "5m"]
                    .iter()
                    .map(|s| s.to_string()),
            );
            args
        };
        println!(
            "{}: installing {CONCURRENT} releases of {CONCURRENT_OBJECTS} objects (not timed)...",
            tool.name
        );
        run_all(
            &tool.binary,
            kubeconfig,
            &names,
            |n| args("install", n),
            None,
        )?;

        let is_capstan = tool.name == "capstan";
        let mut daemon = None;
        let result = (|| -> anyhow::Result<Value> {
            let addr = if is_capstan {
                let (child, addr) = start_applier(release, kubeconfig)?;
                daemon = Some(child);
                Some(addr)
            } else {
                None
            };
            let idle_kib = match &daemon {
                Some(d) => vm_hwm(d.id())?,
                None => 0,
            };
            println!("{}: {CONCURRENT} concurrent upgrades...", tool.name);
            let started = Instant::now();
            let client_kib = run_all(
                &tool.binary,
                kubeconfig,
                &names,
                |n| args("upgrade", n),
                addr.as_deref(),
            )?;
            let seconds = started.elapsed().as_secs_f64();
            let daemon_kib = match &daemon {
                Some(d) => vm_hwm(d.id())?,
                None => 0,
            };
            Ok(json!({
                "tool": tool.name,
                "processes": CONCURRENT,
                "objects_per_release": CONCURRENT_OBJECTS,
                "wall_seconds": seconds,
                "clients_peak_rss_kib_sum": client_kib.iter().sum::<u64>(),
                "clients_peak_rss_kib_max": client_kib.iter().max().copied().unwrap_or(0),
                "daemon_idle_hwm_kib": idle_kib,
                "daemon_peak_rss_kib": daemon_kib,
            }))
        })();
        if let Some(mut d) = daemon {
            let _ = d.kill();
            let _ = d.wait();
        }
        results.push(result?);
    }
    Ok(results)
}

/// Starts a `capstan-applier` daemon on a free port; returns it and its address.
fn start_applier(
    release: &Path,
    kubeconfig: &Path,
) -> anyhow::Result<(std::process::Child, String)> {
    let log = out_dir().join("apply-applier.log");
    let mut daemon = Command::new(release.join("capstan-applier"))
        .args(["--listen", "127.0.0.1:0", "--kubeconfig"])
        .arg(kubeconfig)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .context("starting capstan-applier")?;
    let stdout = daemon.stdout.take().context("daemon stdout")?;
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let Some(addr) = line
        .trim()
        .strip_prefix("capstan-applier listening on ")
        .map(str::to_string)
    else {
        let _ = daemon.kill();
        bail!(
            "capstan-applier did not say where it listens (got {line:?}; log {})",
            log.display()
        );
    };
    // Keep draining its stdout so that it never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = reader.read_to_end(&mut sink);
    });
    Ok((daemon, addr))
}

/// Runs one `program` process per release name at once (each under GNU time), waits for all of
/// them, and returns each one's peak RSS in KiB. `applier` points capstan at a daemon.
fn run_all(
    program: &Path,
    kubeconfig: &Path,
    names: &[String],
    args: impl Fn(&str) -> Vec<String>,
    applier: Option<&str>,
) -> anyhow::Result<Vec<u64>> {
    let mut children = Vec::new();
    for name in names {
        let report = super::tempfile_path("rss");
        let mut command = Command::new("/usr/bin/time");
        command
            .arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&report)
            .arg(program)
            .args(args(name))
            .env("KUBECONFIG", kubeconfig)
            .env_remove("CAPSTAN_APPLIER")
            .env_remove("CAPSTAN_RENDERER")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(addr) = applier {
            command.args(["--applier", addr]);
        }
        children.push((name, report, command.spawn()?));
    }
    let mut failures = Vec::new();
    let mut rss = Vec::new();
    for (name, report, child) in children {
        let output = child.wait_with_output()?;
        let text = std::fs::read_to_string(&report).unwrap_or_default();
        let _ = std::fs::remove_file(&report);
        rss.push(
            text.lines()
                .last()
                .unwrap_or("0")
                .trim()
                .parse()
                .unwrap_or(0),
        );
        if !output.status.success() {
            failures.push(format!(
                "{name}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} of {} failed:\n{}",
            failures.len(),
            names.len(),
            failures.join("\n")
        );
    }
    Ok(rss)
}

fn vm_hwm(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0))
}

/// Counter values of `apiserver_request_total` for write verbs, keyed by (resource, subresource,
/// verb), summed over the other labels.
async fn write_counts(client: &Client) -> anyhow::Result<BTreeMap<Counter, f64>> {
    let request = http::Request::get("/metrics").body(Vec::new())?;
    let text = client
        .request_text(request)
        .await
        .context("reading the API server's /metrics")?;
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let label = |name: &str| -> String {
            let key = format!("{name}=\"");
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&key))
                .map(|v| v.trim_end_matches('"').to_string())
                .unwrap_or_default()
        };
        if !WRITE_VERBS.contains(&label("verb").as_str()) {
            continue;
        }
        let value: f64 = value.trim().parse().unwrap_or(0.0);
        *counts
            .entry((label("resource"), label("subresource"), label("verb")))
            .or_insert(0.0) += value;
    }
    Ok(counts)
}

/// One counter of `apiserver_request_total`: resource, subresource, verb.
type Counter = (String, String, String);

fn difference(
    before: &BTreeMap<Counter, f64>,
    after: &BTreeMap<Counter, f64>,
    classes: &Classes,
) -> Writes {
    let mut writes = Writes::default();
    for (counter, value) in after {
        let (resource, subresource, verb) = counter;
        let delta = (value - before.get(counter).unwrap_or(&0.0)).max(0.0) as u64;
        if delta == 0 {
            continue;
        }
        let key = if subresource.is_empty() {
            resource.clone()
        } else {
            format!("{resource}/{subresource}")
        };
        *writes.by_resource.entry(key).or_default() += delta;
        writes.total += delta;
        let secret_object = classes.secrets_in_chart && matches!(verb.as_str(), "PATCH" | "APPLY");
        let object =
            classes.objects.contains(resource) || (resource == RECORD_RESOURCE && secret_object);
        if subresource.is_empty() && object {
            writes.objects += delta;
        } else if subresource.is_empty() && resource == RECORD_RESOURCE {
            writes.record += delta;
        } else {
            writes.other += delta;
        }
    }
    writes
}

pub(super) async fn create_namespace(client: &Client, name: &str) -> anyhow::Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    let namespace: Namespace = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {LABEL: LABEL_VALUE}}
    }))?;
    api.create(&PostParams::default(), &namespace)
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(())
}

pub(super) async fn delete_namespaces(client: &Client, names: &[String]) -> anyhow::Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    for name in names {
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => return Err(e).with_context(|| format!("deleting namespace {name}")),
        }
    }
    Ok(())
}

/// Deletes namespaces an earlier interrupted run left behind, and waits until they are gone, so that
/// their deletion does not show up in the write counts.
async fn remove_leftovers(client: &Client) -> anyhow::Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    let selector = ListParams::default().labels(&format!("{LABEL}={LABEL_VALUE}"));
    let names: Vec<String> = api
        .list(&selector)
        .await?
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    println!("removing {} leftover benchmark namespaces...", names.len());
    delete_namespaces(client, &names).await?;
    let deadline = Instant::now() + std::time::Duration::from_secs(180);
    while !api.list(&selector).await?.items.is_empty() {
        if Instant::now() > deadline {
            bail!("leftover benchmark namespaces are still terminating after 3 minutes");
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    Ok(())
}

/// The resources counted as `other`, with their counts.
fn other_resources(writes: &Writes, classes: &Classes) -> String {
    writes
        .by_resource
        .iter()
        .filter(|(key, _)| key.as_str() != RECORD_RESOURCE && !classes.objects.contains(key))
        .map(|(key, count)| format!("{key} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn median_writes(writes: &[Writes]) -> Writes {
    let pick = |f: fn(&Writes) -> u64| -> u64 {
        let mut v: Vec<u64> = writes.iter().map(f).collect();
        v.sort_unstable();
        v[v.len() / 2]
    };
    Writes {
        total: pick(|w| w.total),
        objects: pick(|w| w.objects),
        record: pick(|w| w.record),
        other: pick(|w| w.other),
        by_resource: BTreeMap::new(),
    }
}

/// Appends the table of `steps` (a row per step and tool; `tools[0]` is capstan, whose time the
/// ratios divide) and returns the JSON rows.
pub(super) fn steps_table(
    report: &mut String,
    steps: &[Step],
    tools: &[&str],
    results: &[BTreeMap<&'static str, Measured>],
) -> anyhow::Result<Vec<Value>> {
    report.push_str(
        "| step | tool | median | min | max | capstan/tool (median of pairs) | writes: all | release record | objects | other |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut rows = Vec::new();
    for &step in steps {
        let ours = &results[0][step.key()];
        let mut row = json!({"step": step.key()});
        for (i, tool) in tools.iter().enumerate() {
            let measured = &results[i][step.key()];
            let stats = Stats::of(&measured.seconds);
            let writes = median_writes(&measured.writes);
            let ratio = if i == 0 {
                None
            } else {
                Some(
                    Stats::of(
                        &ours
                            .seconds
                            .iter()
                            .zip(&measured.seconds)
                            .map(|(a, b)| a / b)
                            .collect::<Vec<_>>(),
                    )
                    .median,
                )
            };
            let ratio_text = match ratio {
                None => String::new(),
                Some(r) if r <= 1.0 => format!("{r:.3} ({:.1}x faster)", 1.0 / r),
                Some(r) => format!("{r:.3} ({r:.1}x slower)"),
            };
            writeln!(
                report,
                "| {} | {} | {} | {} | {} | {ratio_text} | {} | {} | {} | {} |",
                step.label(),
                tool,
                ms(stats.median),
                ms(stats.min),
                ms(stats.max),
                writes.total,
                writes.record,
                writes.objects,
                writes.other
            )?;
            row[*tool] = json!({
                "seconds": stats,
                "ratio": ratio,
                "writes_median": writes,
                "writes_per_run": measured.writes,
            });
        }
        rows.push(row);
    }
    Ok(rows)
}

fn report(
    tools: &[Tool],
    results: &[BTreeMap<&'static str, Measured>],
    concurrent: &[Value],
) -> anyhow::Result<()> {
    let mut report = format!(
        "## install ({INSTALL_OBJECTS} objects, {INSTALL_DEPLOYMENTS} Deployments), upgrade and \
         rollback ({OBJECTS} objects, {} Deployments); {RUNS} runs\n\n",
        OBJECTS.div_ceil(4)
    );
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    let rows = steps_table(&mut report, &STEPS, &names, results)?;
    writeln!(
        report,
        "\nWrites are the API server's `apiserver_request_total` for POST, PUT, PATCH, APPLY and DELETE, \
         read before and after each run (median of runs): release record = Secrets, objects = the \
         chart's kinds, other = everything else: controllers and the pod simulator reacting to an install, \
         Leases (capstan's release lock takes 2 writes per operation; a stray 1 is a controller renewing \
         its lease). `apply.json` has the counts by resource for every run.\n"
    )?;
    writeln!(
        report,
        "## {CONCURRENT} releases ({CONCURRENT_OBJECTS} objects each) upgraded at once\n\n\
         capstan: {CONCURRENT} `capstan upgrade --applier ADDR` processes served by one applier daemon; \
         Helm: {CONCURRENT} `helm upgrade` processes. Peak RSS is each process's maximum (GNU time), \
         summed over the processes, plus the daemon's VmHWM.\n\n\
         | tool | wall time | capstan/tool | client processes: sum of peak RSS (largest) | daemon peak RSS | total |\n\
         |---|---|---|---|---|---|"
    )?;
    let mib = |v: &Value| v.as_u64().unwrap_or(0) as f64 / 1024.0;
    let ours = concurrent
        .first()
        .and_then(|c| c["wall_seconds"].as_f64())
        .unwrap_or(0.0);
    for c in concurrent {
        let wall = c["wall_seconds"].as_f64().unwrap_or(0.0);
        let ratio = if c["tool"] == "capstan" || wall == 0.0 {
            String::new()
        } else {
            format!("{:.3} ({:.1}x faster)", ours / wall, wall / ours)
        };
        let daemon = mib(&c["daemon_peak_rss_kib"]);
        let clients = mib(&c["clients_peak_rss_kib_sum"]);
        writeln!(
            report,
            "| {} | {} | {ratio} | {clients:.0} MiB ({:.0} MiB) | {} | {:.0} MiB |",
            c["tool"].as_str().unwrap_or_default(),
            ms(wall),
            mib(&c["clients_peak_rss_kib_max"]),
            if daemon > 0.0 {
                format!("{daemon:.0} MiB")
            } else {
                "-".into()
            },
            clients + daemon,
        )?;
    }
    std::fs::create_dir_all(out_dir())?;
    std::fs::write(out_dir().join("apply.md"), &report)?;
    std::fs::write(
        out_dir().join("apply.json"),
        serde_json::to_vec_pretty(&json!({"steps": rows, "concurrent": concurrent}))?,
    )?;
    println!("{report}");
    println!("written to {}", out_dir().join("apply.md").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(entries: &[(&str, &str, &str, f64)]) -> BTreeMap<Counter, f64> {
        entries
            .iter()
            .map(|(r, s, v, n)| ((r.to_string(), s.to_string(), v.to_string()), *n))
            .collect()
    }

    #[test]
    fn writes_are_split_into_objects_record_and_other() {
        let before = counters(&[
            ("deployments", "", "PATCH", 10.0),
            ("secrets", "", "POST", 5.0),
        ]);
        let after = counters(&[
            ("deployments", "", "PATCH", 12.0),
            ("deployments", "status", "PUT", 3.0),
            ("secrets", "", "POST", 6.0),
            ("secrets", "", "PUT", 2.0),
            ("secrets", "", "PATCH", 1.0),
            ("leases", "", "POST", 1.0),
        ]);
        let generated = difference(&before, &after, &Classes::generated());
        assert_eq!(
            (
                generated.objects,
                generated.record,
                generated.other,
                generated.total
            ),
            (2, 4, 4, 10)
        );
        assert_eq!(generated.by_resource["deployments/status"], 3);
        // A chart with Secrets of its own: their PATCHes are object writes, not the record's.
        let chart = Classes {
            objects: vec!["deployments".into()],
            secrets_in_chart: true,
        };
        let writes = difference(&before, &after, &chart);
        assert_eq!((writes.objects, writes.record, writes.other), (3, 3, 4));
    }
}

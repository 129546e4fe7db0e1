//! Real charts (`../shared/charts`, unchanged) through the whole lifecycle on the local control
//! plane, one test per chart: `install --wait`, `upgrade --wait` changing one value, `rollback
//! --wait` to the first revision, `uninstall --wait`, checking the history Helm would show at
//! each step and that the changed value reached the cluster and was rolled back.
//!
//! Each test runs the simulator's cloud controllers for its namespace (volumes for claims,
//! load-balancer addresses: `capstan_podsim::run_cloud`). Its release is named after its
//! namespace, so cluster-scoped objects (ClusterRoles, webhooks) never collide between runs.
//! Where a chart's admission webhook would intercept objects cluster-wide and cannot be served
//! here (no webhook server answers in the simulated cluster), the test turns it off in values
//! and says so; CRDs a chart templates are made deletable on uninstall (`keep=false`) so the
//! next run's release can create them again.

use anyhow::{Context as _, ensure};
use capstan_e2e::process::{capstan, capstan_ok};
use capstan_testkit::{TestNamespace, with_namespace};
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};

/// The chart's directory in the shared corpus.
fn chart(name: &str) -> String {
    capstan_e2e::corpus().join(name).display().to_string()
}

/// The chart's values for the simulated cluster shared with `cargo xtask bench apply`
/// (`tests/fixtures/values/<chart>.yaml`), if it has any.
fn values_fixture(chart: &str) -> Option<String> {
    let file = capstan_e2e::process::repository()
        .join("tests/fixtures/values")
        .join(format!("{chart}.yaml"));
    file.is_file().then(|| file.display().to_string())
}

/// One chart's lifecycle.
struct Lifecycle<'a> {
    /// The chart's directory name.
    chart: &'a str,
    /// Values every revision is rendered with (`--set`), e.g. webhooks turned off, after
    /// [`values_fixture`]'s file.
    values: &'a [&'a str],
    /// The value the upgrade changes (`--set`).
    change: &'a str,
    /// Where the change shows in the cluster: (apiVersion, kind, name suffix after the release
    /// name, JSON pointer, value after the upgrade).
    shows: (&'a str, &'a str, &'a str, &'a str, &'a str),
}

/// `apiVersion` split into group and version.
fn gvk(api_version: &str, kind: &str) -> GroupVersionKind {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    GroupVersionKind::gvk(group, version, kind)
}

async fn observed(
    ns: &TestNamespace,
    release: &str,
    shows: (&str, &str, &str, &str, &str),
) -> anyhow::Result<Option<String>> {
    let (api_version, kind, suffix, pointer, _) = shows;
    let resource = ApiResource::from_gvk(&gvk(api_version, kind));
    let api: Api<DynamicObject> = Api::namespaced_with(ns.client(), ns.name(), &resource);
    // A suffix starting with `=` is the whole name (charts that do not prefix it).
    let name = match suffix.strip_prefix('=') {
        Some(whole) => whole.to_owned(),
        None => format!("{release}{suffix}"),
    };
    let object = api
        .get(&name)
        .await
        .with_context(|| format!("{kind} {name}"))?;
    let value = serde_json::to_value(&object)?;
    Ok(value.pointer(pointer).map(|v| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }))
}

fn statuses(ns: &str, release: &str) -> anyhow::Result<Vec<String>> {
    let out = capstan_ok(&["history", release, "-n", ns, "-o", "json"])?;
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out)?;
    Ok(rows
        .iter()
        .map(|r| r["status"].as_str().unwrap_or_default().to_owned())
        .collect())
}

async fn run(ns: &TestNamespace, lifecycle: &Lifecycle<'_>) -> anyhow::Result<()> {
    capstan_podsim::storage::ensure_storage_class(&ns.client()).await?;
    let client = ns.client();
    let namespace = ns.name().to_owned();
    let cloud = tokio::spawn(async move {
        let _ = capstan_podsim::run_cloud(client, Some(namespace)).await;
    });
    let result = steps(ns, lifecycle).await;
    cloud.abort();
    result
}

async fn steps(ns: &TestNamespace, lifecycle: &Lifecycle<'_>) -> anyhow::Result<()> {
    let n = ns.name();
    let release = n;
    let chart = chart(lifecycle.chart);
    let mut values: Vec<&str> = Vec::new();
    let fixture = values_fixture(lifecycle.chart);
    if let Some(file) = &fixture {
        values.extend(["-f", file]);
    }
    for v in lifecycle.values {
        values.extend(["--set", v]);
    }
    let timing = ["--wait", "--timeout", "5m"];
    let started = std::time::Instant::now();
    let install = [
        &["install", release, &chart, "-n", n],
        &timing[..],
        &values[..],
    ]
    .concat();
    let out = capstan_ok(&install)?;
    ensure!(out.contains("STATUS: deployed"), "{out}");
    eprintln!("{}: installed in {:?}", lifecycle.chart, started.elapsed());
    let before = observed(ns, release, lifecycle.shows).await?;

    let upgrade = [
        &["upgrade", release, &chart, "-n", n],
        &timing[..],
        &values[..],
        &["--set", lifecycle.change],
    ]
    .concat();
    capstan_ok(&upgrade)?;
    let after = observed(ns, release, lifecycle.shows).await?;
    ensure!(
        after.as_deref() == Some(lifecycle.shows.4),
        "after the upgrade {:?} is {after:?}",
        lifecycle.shows
    );
    ensure!(statuses(n, release)? == ["superseded", "deployed"]);

    capstan_ok(&[
        "rollback",
        release,
        "1",
        "-n",
        n,
        "--wait",
        "--timeout",
        "5m",
    ])?;
    let rolled = observed(ns, release, lifecycle.shows).await?;
    ensure!(
        rolled == before,
        "rolled back to {rolled:?}, was {before:?}"
    );
    ensure!(statuses(n, release)? == ["superseded", "superseded", "deployed"]);

    let run = capstan(&["uninstall", release, "-n", n, "--wait", "--timeout", "5m"]);
    ensure!(run.code == 0, "{}\n{}", run.stdout, run.stderr);
    ensure!(run.stdout.contains("uninstalled"), "{}", run.stdout);
    let list = capstan_ok(&["list", "-a", "-n", n])?;
    ensure!(!list.contains(release), "{list}");
    eprintln!(
        "{}: whole lifecycle in {:?}",
        lifecycle.chart,
        started.elapsed()
    );
    Ok(())
}

/// Runs in a namespace `<prefix>-<random>` (a prefix that never contains the chart's name, so
/// the chart names its objects `<release>-<chart>...`). The test's runtime has two workers:
/// `capstan` runs block one, the cloud controllers use the other.
async fn lifecycle(prefix: &'static str, lifecycle: Lifecycle<'static>) {
    with_namespace(prefix, |ns| async move { run(&ns, &lifecycle).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana() {
    lifecycle(
        "lc-gf",
        Lifecycle {
            chart: "grafana",
            values: &[],
            change: "replicas=2",
            shows: ("apps/v1", "Deployment", "-grafana", "/spec/replicas", "2"),
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_nginx() {
    lifecycle(
        "lc-in",
        Lifecycle {
            chart: "ingress-nginx",
            // Its admission webhook validates every Ingress of the cluster and no webhook
            // server can answer here: turned off.
            values: &["controller.admissionWebhooks.enabled=false"],
            change: "controller.replicaCount=2",
            shows: (
                "apps/v1",
                "Deployment",
                "-ingress-nginx-controller",
                "/spec/replicas",
                "2",
            ),
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traefik() {
    lifecycle(
        "lc-tr",
        Lifecycle {
            chart: "traefik",
            values: &[],
            change: "deployment.replicas=2",
            shows: ("apps/v1", "Deployment", "-traefik", "/spec/replicas", "2"),
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cert_manager() {
    lifecycle(
        "lc-cm",
        Lifecycle {
            chart: "cert-manager",
            // Its CRDs are templates here: deletable on uninstall so the next run can make them.
            values: &["crds.enabled=true", "crds.keep=false"],
            change: "replicaCount=2",
            shows: (
                "apps/v1",
                "Deployment",
                "-cert-manager",
                "/spec/replicas",
                "2",
            ),
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql() {
    lifecycle(
        "lc-pg",
        Lifecycle {
            chart: "postgresql",
            // The password is generated on install and found again by `lookup` on upgrade.
            values: &[],
            change: "primary.podAnnotations.rev=two",
            shows: (
                "apps/v1",
                "StatefulSet",
                "-postgresql",
                "/spec/template/metadata/annotations/rev",
                "two",
            ),
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis() {
    lifecycle(
        "lc-rd",
        Lifecycle {
            chart: "redis",
            // As postgresql's: generated, then kept through `lookup`.
            values: &[],
            change: "master.podAnnotations.rev=two",
            shows: (
                "apps/v1",
                "StatefulSet",
                "-redis-master",
                "/spec/template/metadata/annotations/rev",
                "two",
            ),
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argo_cd() {
    lifecycle(
        "lc-ac",
        Lifecycle {
            chart: "argo-cd",
            values: &["crds.keep=false"],
            change: "server.replicas=2",
            shows: (
                "apps/v1",
                "Deployment",
                "-argocd-server",
                "/spec/replicas",
                "2",
            ),
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_prometheus_stack() {
    lifecycle(
        "lc-kps",
        Lifecycle {
            chart: "kube-prometheus-stack",
            // Its admission webhooks turned off: tests/fixtures/values/kube-prometheus-stack.yaml.
            values: &[],
            change: "kube-state-metrics.replicas=2",
            shows: (
                "apps/v1",
                "Deployment",
                "-kube-state-metrics",
                "/spec/replicas",
                "2",
            ),
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keda() {
    lifecycle(
        "lc-kd",
        Lifecycle {
            chart: "keda",
            // Its admission webhooks and its external metrics APIService would be called by
            // the API server (the APIService for every discovery) and no server can answer
            // here: turned off.
            values: &["webhooks.enabled=false", "metricsServer.enabled=false"],
            change: "operator.replicaCount=2",
            shows: (
                "apps/v1",
                "Deployment",
                "=keda-operator",
                "/spec/replicas",
                "2",
            ),
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki() {
    lifecycle(
        "lc-lk",
        Lifecycle {
            chart: "loki",
            // What the chart needs before it renders at all (ci/corpus-minimal-values.yaml).
            values: &[
                "loki.useTestSchema=true",
                "loki.storage.bucketNames.chunks=chunks",
                "loki.storage.bucketNames.ruler=ruler",
                "loki.storage.bucketNames.admin=admin",
            ],
            change: "gateway.replicas=2",
            shows: (
                "apps/v1",
                "Deployment",
                "-loki-gateway",
                "/spec/replicas",
                "2",
            ),
        },
    )
    .await;
}

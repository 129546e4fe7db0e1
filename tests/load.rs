//! The multi-tenant load test (loopback only, bounded in count and time): the `capstan-renderer`
//! and `capstan-applier` binaries under a tenant policy with bearer tokens, against the local
//! control plane with RBAC and impersonation, take 500 concurrent requests from 5 tenants:
//! renders, `list -A`, `status` of their own releases and of a neighbour's (which must be
//! refused), and upgrades (render, then upgrade, several at once per release).
//!
//! It fails on any error other than a clear wait for a release lock, on any answer that shows a
//! tenant something of another's, and on a release history that does not add up afterwards.
//! It prints the latency of each kind of request (p50, p99, max); with `CAPSTAN_LOAD_REPORT=DIR`
//! it also writes them to `DIR/load.md` and `DIR/load.json` (`cargo xtask bench load` runs it
//! with release builds for docs/benchmarks.md).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use capstan_e2e::process::{Daemon, repository};
use capstan_proto::applier::v1 as apb;
use capstan_proto::applier::v1::applier_client::ApplierClient;
use capstan_proto::renderer::v1 as rpb;
use capstan_proto::renderer::v1::renderer_client::RendererClient;
use capstan_testkit::{TestNamespace, with_namespaces};
use serde_json::json;
use tonic::transport::Channel;
use tonic::{Code, Request};

const TENANTS: usize = 5;
const REQUESTS: usize = 500;
const RELEASES_PER_TENANT: usize = 2;
/// The whole load phase must end within this.
const LOAD_DEADLINE: Duration = Duration::from_secs(600);
/// How long an upgrade waits for another upgrade's lock on the same release.
const LOCK_WAIT: Duration = Duration::from_secs(300);

/// What one request of the load does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Render,
    List,
    Status,
    /// `status` of another tenant's release: must be refused.
    Probe,
    Upgrade,
}

impl Kind {
    /// The mix: of every 10 requests of a tenant, 4 renders, 2 lists, 2 statuses, 1 probe and
    /// 1 upgrade.
    fn of(i: usize) -> Kind {
        match (i / TENANTS) % 10 {
            0..=3 => Kind::Render,
            4 | 5 => Kind::List,
            6 | 7 => Kind::Status,
            8 => Kind::Probe,
            _ => Kind::Upgrade,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Render => "render",
            Kind::List => "list -A",
            Kind::Status => "status",
            Kind::Probe => "status of a neighbour's release (refused)",
            Kind::Upgrade => "upgrade (render + upgrade)",
        }
    }
}

/// One tenant's connections and credentials.
#[derive(Clone)]
struct Tenant {
    index: usize,
    namespace: String,
    token: String,
    chart_digest: String,
    renderer: RendererClient<Channel>,
    applier: ApplierClient<Channel>,
}

impl Tenant {
    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", self.token).parse().expect("ASCII"),
        );
        request
    }

    fn release(&self, i: usize) -> String {
        format!("web-{}", i % RELEASES_PER_TENANT)
    }

    async fn render(&mut self, release: &str, greeting: &str) -> anyhow::Result<apb::Rendered> {
        let request = self.request(rpb::RenderRequest {
            chart: Some(rpb::ChartSource {
                source: Some(rpb::chart_source::Source::Digest(self.chart_digest.clone())),
            }),
            values: [
                "migration.enabled=false".to_owned(),
                format!("config.greeting={greeting}"),
            ]
            .into_iter()
            .map(|set| rpb::ValuesLayer {
                layer: Some(rpb::values_layer::Layer::Set(set)),
            })
            .collect(),
            release: Some(rpb::ReleaseContext {
                name: release.into(),
                namespace: self.namespace.clone(),
                revision: 1,
                is_install: false,
                is_upgrade: true,
            }),
            capabilities: None,
            chart_values_json: None,
            lookups: None,
            lint_mode: false,
            render_subchart_notes: false,
            omit_stored_chart: false,
            omit_crds: false,
            omit_release_texts: false,
        });
        let r = self.renderer.render(request).await?.into_inner();
        ensure!(!r.manifests.is_empty(), "a render without objects");
        ensure!(
            r.manifests
                .iter()
                .all(|m| m.namespace.is_empty() || m.namespace == self.namespace),
            "a render for {} placed objects elsewhere",
            self.namespace
        );
        Ok(apb::Rendered {
            manifest: r.manifest,
            hooks: r.hooks,
            notes: r.notes,
            stored_chart_json: r.stored_chart_json,
            user_values_json: r.user_values_json,
            merged_values_json: r.merged_values_json,
            crds: r.crds,
        })
    }

    /// Installs (`install`) or upgrades a release; the operation's result.
    async fn deploy(
        &mut self,
        release: &str,
        greeting: &str,
        install: bool,
    ) -> anyhow::Result<apb::OperationResult> {
        let rendered = self.render(release, greeting).await?;
        let stream = if install {
            let request = self.request(apb::InstallRequest {
                name: release.into(),
                namespace: self.namespace.clone(),
                rendered: Some(rendered),
                ..apb::InstallRequest::default()
            });
            self.applier.install(request).await?.into_inner()
        } else {
            let request = self.request(apb::UpgradeRequest {
                name: release.into(),
                namespace: self.namespace.clone(),
                rendered: Some(rendered),
                lock_wait_millis: Some(LOCK_WAIT.as_millis() as u64),
                ..apb::UpgradeRequest::default()
            });
            self.applier.upgrade(request).await?.into_inner()
        };
        result(stream).await
    }

    async fn list(&mut self) -> anyhow::Result<Vec<apb::ReleaseInfo>> {
        let request = self.request(apb::ListRequest {
            all_namespaces: true,
            ..apb::ListRequest::default()
        });
        Ok(self.applier.list(request).await?.into_inner().releases)
    }

    async fn status(
        &mut self,
        name: &str,
        namespace: &str,
    ) -> Result<apb::StatusResponse, tonic::Status> {
        let request = self.request(apb::StatusRequest {
            name: name.into(),
            namespace: namespace.into(),
            ..apb::StatusRequest::default()
        });
        Ok(self.applier.status(request).await?.into_inner())
    }

    async fn history(&mut self, name: &str) -> anyhow::Result<Vec<apb::ReleaseInfo>> {
        let request = self.request(apb::HistoryRequest {
            name: name.into(),
            namespace: self.namespace.clone(),
            ..apb::HistoryRequest::default()
        });
        Ok(self.applier.history(request).await?.into_inner().revisions)
    }
}

async fn result(
    mut stream: tonic::Streaming<apb::OperationEvent>,
) -> anyhow::Result<apb::OperationResult> {
    while let Some(event) = stream.message().await? {
        if let Some(apb::operation_event::Event::Result(result)) = event.event {
            return Ok(result);
        }
    }
    bail!("the operation's stream ended without a result")
}

/// What one request of the load came to.
enum Outcome {
    Ok,
    /// An upgrade that gave up waiting for the release lock (the one error tolerated).
    LockWait,
}

/// Runs request `i` of the load for `tenant`, checking its answer; `neighbour` is the
/// namespace of the next tenant, whose releases must stay out of reach.
async fn run_one(
    i: usize,
    kind: Kind,
    mut tenant: Tenant,
    neighbour: String,
) -> anyhow::Result<Outcome> {
    let release = tenant.release(i / TENANTS / 10);
    match kind {
        Kind::Render => {
            tenant.render(&release, &format!("render-{i}")).await?;
        }
        Kind::List => {
            let releases = tenant.list().await?;
            ensure!(
                releases.iter().all(|r| r.namespace == tenant.namespace),
                "tenant {} listed releases of other namespaces: {:?}",
                tenant.index,
                releases
                    .iter()
                    .map(|r| format!("{}/{}", r.namespace, r.name))
                    .collect::<Vec<_>>()
            );
            ensure!(
                releases.len() == RELEASES_PER_TENANT,
                "tenant {} listed {} releases, not its {RELEASES_PER_TENANT}",
                tenant.index,
                releases.len()
            );
        }
        Kind::Status => {
            let namespace = tenant.namespace.clone();
            let status = tenant.status(&release, &namespace).await?;
            let info = status.release.context("a status without its release")?;
            ensure!(
                info.namespace == namespace && info.name == release,
                "status of {namespace}/{release} answered {}/{}",
                info.namespace,
                info.name
            );
        }
        Kind::Probe => match tenant.status(&release, &neighbour).await {
            Err(status) if status.code() == Code::PermissionDenied => {}
            other => bail!(
                "tenant {} read {neighbour}/{release}: expected PERMISSION_DENIED, got {other:?}",
                tenant.index
            ),
        },
        Kind::Upgrade => {
            let result = tenant
                .deploy(&release, &format!("upgrade-{i}"), false)
                .await?;
            if let Some(error) = result.error {
                if error.code == Code::FailedPrecondition as i32 && error.message.contains("lock") {
                    return Ok(Outcome::LockWait);
                }
                bail!(
                    "upgrade of {}/{release} failed: {error:?}",
                    tenant.namespace
                );
            }
        }
    }
    Ok(Outcome::Ok)
}

/// A Role letting the tenant's impersonated user manage the example chart's kinds, release
/// records and locks in its namespace.
async fn grant(namespace: &TestNamespace, user: &str) -> anyhow::Result<()> {
    namespace
        .grant(
            user,
            json!([
                {"apiGroups": [""], "resources": ["configmaps", "secrets", "services", "serviceaccounts"], "verbs": ["*"]},
                {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]},
                {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["*"]},
            ]),
        )
        .await
}

/// The policy and token file of the tenants `t0`... over these namespaces.
fn write_security(dir: &Path, namespaces: &[TestNamespace]) -> anyhow::Result<()> {
    let (mut policy, mut tokens) = ("tenants:\n".to_owned(), String::new());
    for (i, namespace) in namespaces.iter().enumerate() {
        writeln!(
            policy,
            "  t{i}:\n    namespaces: [\"{ns}\"]\n    operations: [\"*\"]\n    impersonate: {{user: \"capstan-load:{ns}\"}}",
            ns = namespace.name()
        )?;
        writeln!(
            tokens,
            "{} t{i}",
            capstan_server::TokenSet::entry_for(&format!("token-{i}"))
        )?;
    }
    std::fs::write(dir.join("policy.yaml"), policy)?;
    std::fs::write(dir.join("tokens"), tokens)?;
    Ok(())
}

/// Latencies of one kind of request.
#[derive(Default)]
struct Latencies(Vec<Duration>);

impl Latencies {
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort();
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }
}

/// A process's peak resident memory (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/PID/status")
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The latency table, as Markdown and as JSON.
fn report(
    by_kind: &BTreeMap<Kind, Latencies>,
    all: &Latencies,
    wall: Duration,
    lock_waits: usize,
    peak_rss_kib: [(&str, u64); 2],
) -> (String, serde_json::Value) {
    let mut markdown =
        String::from("| requests | count | p50 | p99 | max |\n|---|---|---|---|---|\n");
    let mut rows = Vec::new();
    let mut row = |label: &str, latencies: &Latencies| {
        let (p50, p99, max) = (
            latencies.percentile(50.0),
            latencies.percentile(99.0),
            latencies.percentile(100.0),
        );
        let _ = writeln!(
            markdown,
            "| {label} | {} | {} | {} | {} |",
            latencies.0.len(),
            ms(p50),
            ms(p99),
            ms(max)
        );
        rows.push(json!({
            "requests": label,
            "count": latencies.0.len(),
            "p50_ms": p50.as_secs_f64() * 1000.0,
            "p99_ms": p99.as_secs_f64() * 1000.0,
            "max_ms": max.as_secs_f64() * 1000.0,
        }));
    };
    for (kind, latencies) in by_kind {
        row(kind.label(), latencies);
    }
    row("all", all);
    let _ = writeln!(
        markdown,
        "\n{REQUESTS} requests from {TENANTS} tenants at once, all answered in {}; \
         upgrades that gave up waiting for a release lock: {lock_waits}; peak RSS {}.",
        ms(wall),
        peak_rss_kib
            .iter()
            .map(|(daemon, kib)| format!("{daemon} {} MiB", kib / 1024))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let json = json!({
        "tenants": TENANTS,
        "requests": REQUESTS,
        "wall_ms": wall.as_secs_f64() * 1000.0,
        "lock_waits": lock_waits,
        "peak_rss_kib": peak_rss_kib.iter().map(|(d, k)| (d.to_string(), *k)).collect::<BTreeMap<_, _>>(),
        "rows": rows,
    });
    (markdown, json)
}

#[tokio::test(flavor = "multi_thread")]
async fn five_tenants_five_hundred_requests_at_once() {
    let prefixes = ["load-t0", "load-t1", "load-t2", "load-t3", "load-t4"];
    with_namespaces(&prefixes, |namespaces| async move {
        for namespace in &namespaces {
            grant(namespace, &format!("capstan-load:{}", namespace.name())).await?;
        }
        let dir = tempfile::tempdir()?;
        write_security(dir.path(), &namespaces)?;
        let policy = dir.path().join("policy.yaml");
        let tokens = dir.path().join("tokens");
        let kubeconfig = capstan_testkit::kubeconfig_path();
        let security = [
            "--listen",
            "127.0.0.1:0",
            "--policy",
            policy.to_str().context("utf-8")?,
            "--token-file",
            tokens.to_str().context("utf-8")?,
            // Sized for the load: every request is admitted, none queued behind a refusal.
            "--max-in-flight",
            "600",
            "--max-in-flight-per-tenant",
            "150",
        ];
        let renderer = Daemon::start("capstan-renderer", &security)?;
        let mut applier_args = security.to_vec();
        applier_args.extend(["--kubeconfig", kubeconfig.to_str().context("utf-8")?]);
        let applier = Daemon::start("capstan-applier", &applier_args)?;

        // Each tenant connects (one connection per daemon), uploads the chart and installs its
        // releases.
        let archive = capstan_chart::package_dir(
            &repository().join("examples/charts/webapp"),
            &capstan_chart::Limits::default(),
        )?;
        let mut tenants = Vec::new();
        for (index, namespace) in namespaces.iter().enumerate() {
            let mut tenant = Tenant {
                index,
                namespace: namespace.name().to_owned(),
                token: format!("token-{index}"),
                chart_digest: String::new(),
                renderer: RendererClient::connect(format!("http://{}", renderer.addr)).await?,
                applier: ApplierClient::connect(format!("http://{}", applier.addr)).await?,
            };
            let upload = tenant.request(rpb::UploadChartRequest {
                archive: archive.clone(),
            });
            tenant.chart_digest = tenant
                .renderer
                .upload_chart(upload)
                .await?
                .into_inner()
                .digest;
            for r in 0..RELEASES_PER_TENANT {
                let installed = tenant.deploy(&tenant.release(r), "installed", true).await?;
                ensure!(installed.success, "install: {:?}", installed.error);
            }
            tenants.push(tenant);
        }

        // The load: every request at once.
        let started = Instant::now();
        let tasks: Vec<_> = (0..REQUESTS)
            .map(|i| {
                let kind = Kind::of(i);
                let tenant = tenants[i % TENANTS].clone();
                let neighbour = tenants[(i + 1) % TENANTS].namespace.clone();
                tokio::spawn(async move {
                    let begun = Instant::now();
                    let outcome = run_one(i, kind, tenant, neighbour).await;
                    (i, kind, begun.elapsed(), outcome)
                })
            })
            .collect();
        let finished = tokio::time::timeout(LOAD_DEADLINE, futures::future::join_all(tasks))
            .await
            .context("the load did not finish in time")?;
        let wall = started.elapsed();

        let mut by_kind: BTreeMap<Kind, Latencies> = BTreeMap::new();
        let mut all = Latencies::default();
        let (mut errors, mut lock_waits) = (Vec::new(), 0);
        let mut upgrades = [[0usize; RELEASES_PER_TENANT]; TENANTS];
        for task in finished {
            let (i, kind, elapsed, outcome) = task?;
            by_kind.entry(kind).or_default().0.push(elapsed);
            all.0.push(elapsed);
            match outcome {
                Ok(Outcome::Ok) if kind == Kind::Upgrade => {
                    upgrades[i % TENANTS][(i / TENANTS / 10) % RELEASES_PER_TENANT] += 1;
                }
                Ok(Outcome::Ok) => {}
                Ok(Outcome::LockWait) => lock_waits += 1,
                Err(error) => errors.push(format!("request {i} ({kind:?}): {error:#}")),
            }
        }
        let peak_rss_kib = [
            ("capstan-renderer", peak_rss_kib(renderer.pid())?),
            ("capstan-applier", peak_rss_kib(applier.pid())?),
        ];
        let (markdown, json) = report(&by_kind, &all, wall, lock_waits, peak_rss_kib);
        println!("{markdown}");
        if let Some(out) = std::env::var_os("CAPSTAN_LOAD_REPORT") {
            let out = Path::new(&out);
            std::fs::create_dir_all(out)?;
            std::fs::write(out.join("load.md"), &markdown)?;
            std::fs::write(out.join("load.json"), serde_json::to_string_pretty(&json)?)?;
        }
        ensure!(
            errors.is_empty(),
            "{} of {REQUESTS} requests failed:\n{}",
            errors.len(),
            errors.join("\n")
        );

        // Every upgrade that succeeded is one revision on top of the install; none is left
        // pending; only the last is deployed.
        for (t, tenant) in tenants.iter_mut().enumerate() {
            for (r, upgraded) in upgrades[t].iter().enumerate() {
                let name = tenant.release(r);
                let history = tenant.history(&name).await?;
                ensure!(
                    history.len() == 1 + upgraded,
                    "{}/{name}: {} revisions after {upgraded} upgrades",
                    tenant.namespace,
                    history.len()
                );
                let statuses: Vec<&str> = history.iter().map(|h| h.status.as_str()).collect();
                let (last, earlier) = statuses.split_last().context("a history")?;
                ensure!(
                    *last == "deployed" && earlier.iter().all(|s| *s == "superseded"),
                    "{}/{name}: statuses {statuses:?}",
                    tenant.namespace
                );
            }
        }
        Ok(())
    })
    .await;
}

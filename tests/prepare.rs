//! One prepare path for every client (issue 18), against daemons on the real local control
//! plane: the same upgrades through the `capstan` CLI and through a raw gRPC client (the
//! applier's `Prepare`, the renderer's `Render`, then `Upgrade` with the expected revision)
//! store the same values, and the values Helm v3 stores (`-f empty.yaml` keeps the previous
//! values; `--reuse-values` keeps the previous chart's defaults); and an upgrade prepared
//! before another one landed is refused with the conflict and writes nothing (the CLI then
//! prepares it again, so the render sees the right revision), while a client
//! that sends no expected revision (and the render in the old `rendered` field) is served as
//! before.
//!
//! The binaries are the ones cargo built next to this test (`cargo build -p capstan-cli -p
//! capstan-applier -p capstan-renderer` first).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail, ensure};
use capstan_e2e::process::{Daemon, capstan_ok};
use capstan_proto::applier::v1 as pb;
use capstan_proto::applier::v1::applier_client::ApplierClient;
use capstan_proto::renderer::v1 as rpb;
use capstan_proto::renderer::v1::renderer_client::RendererClient;
use capstan_testkit::{TestNamespace, with_namespace};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use serde_json::{Value, json};

/// A Go-template chart (Helm renders it too) at `dir/<version>`: a ConfigMap showing
/// `greeting`, `color` (or `unset`) and the revision it was rendered for.
fn chart(dir: &Path, version: &str, values: &str) -> anyhow::Result<PathBuf> {
    let chart = dir.join(version);
    std::fs::create_dir_all(chart.join("templates"))?;
    std::fs::write(
        chart.join("Chart.yaml"),
        format!("apiVersion: v2\nname: settings\nversion: {version}\n"),
    )?;
    std::fs::write(chart.join("values.yaml"), values)?;
    std::fs::write(
        chart.join("templates/settings.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\n\
         data:\n  greeting: {{ .Values.greeting | quote }}\n  \
         color: {{ .Values.color | default \"unset\" | quote }}\n  \
         revision: {{ .Release.Revision | quote }}\n",
    )?;
    Ok(chart)
}

/// The two daemons, and the CLI and raw clients of one namespace.
struct Setup {
    namespace: String,
    renderer: Daemon,
    applier: Daemon,
}

impl Setup {
    fn start(ns: &TestNamespace) -> anyhow::Result<Setup> {
        let kubeconfig = capstan_testkit::kubeconfig_path();
        Ok(Setup {
            namespace: ns.name().to_owned(),
            renderer: Daemon::start("capstan-renderer", &["--listen", "127.0.0.1:0"])?,
            applier: Daemon::start(
                "capstan-applier",
                &[
                    "--listen",
                    "127.0.0.1:0",
                    "--kubeconfig",
                    kubeconfig.to_str().context("utf-8 kubeconfig path")?,
                ],
            )?,
        })
    }

    /// `capstan ARGS -n NS --renderer ADDR --applier ADDR`, which must succeed.
    fn capstan(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut all = args.to_vec();
        all.extend([
            "-n",
            &self.namespace,
            "--renderer",
            &self.renderer.addr,
            "--applier",
            &self.applier.addr,
        ]);
        capstan_ok(&all)
    }

    /// `get values NAME [--all] -o json`, parsed.
    fn values(&self, name: &str, all: bool) -> anyhow::Result<Value> {
        let mut args = vec!["get", "values", name, "-o", "json"];
        if all {
            args.push("--all");
        }
        Ok(serde_json::from_str(&self.capstan(&args)?)?)
    }

    async fn applier(&self) -> anyhow::Result<ApplierClient<tonic::transport::Channel>> {
        Ok(ApplierClient::connect(format!("http://{}", self.applier.addr)).await?)
    }

    /// What a platform backend does before an upgrade: prepare it, then render the chart at
    /// `chart` as the plan says.
    async fn prepare_and_render(
        &self,
        name: &str,
        chart: &Path,
        values: Vec<rpb::values_layer::Layer>,
        reuse_values: bool,
    ) -> anyhow::Result<(pb::PrepareResponse, rpb::RenderResponse)> {
        let plan = self
            .applier()
            .await?
            .prepare(pb::PrepareRequest {
                name: name.to_owned(),
                namespace: self.namespace.clone(),
                operation: pb::PrepareOperation::Upgrade.into(),
                values: values
                    .into_iter()
                    .map(|layer| rpb::ValuesLayer { layer: Some(layer) })
                    .collect(),
                reuse_values,
                ..pb::PrepareRequest::default()
            })
            .await?
            .into_inner();
        let archive = capstan_chart::package_dir(chart, &capstan_chart::Limits::default())?;
        let rendered = RendererClient::connect(format!("http://{}", self.renderer.addr))
            .await?
            .render(rpb::RenderRequest {
                chart: Some(rpb::ChartSource {
                    source: Some(rpb::chart_source::Source::Archive(archive)),
                }),
                values: plan.values.clone(),
                release: plan.release.clone(),
                chart_values_json: plan.chart_values_json.clone(),
                ..rpb::RenderRequest::default()
            })
            .await?
            .into_inner();
        Ok((plan, rendered))
    }

    /// Sends `request` and follows its events to the result.
    async fn upgrade(&self, request: pb::UpgradeRequest) -> anyhow::Result<pb::OperationResult> {
        let mut stream = self.applier().await?.upgrade(request).await?.into_inner();
        while let Some(event) = stream.message().await? {
            if let Some(pb::operation_event::Event::Result(result)) = event.event {
                return Ok(result);
            }
        }
        bail!("the upgrade's stream ended without a result")
    }

    /// The upgrade through the raw client, as the plan says; fails when the applier does.
    async fn grpc_upgrade(
        &self,
        name: &str,
        chart: &Path,
        values: Vec<rpb::values_layer::Layer>,
        reuse_values: bool,
    ) -> anyhow::Result<()> {
        let (plan, rendered) = self
            .prepare_and_render(name, chart, values, reuse_values)
            .await?;
        let result = self
            .upgrade(pb::UpgradeRequest {
                name: name.to_owned(),
                namespace: self.namespace.clone(),
                render: Some(rendered),
                expected_revision: Some(plan.expected_revision),
                ..pb::UpgradeRequest::default()
            })
            .await?;
        ensure!(
            result.success,
            "the gRPC upgrade failed: {:?}",
            result.error
        );
        Ok(())
    }
}

/// Helm v3 on the same cluster and namespace, with a scratch home.
struct Helm {
    namespace: String,
    home: tempfile::TempDir,
}

impl Helm {
    fn ok(&self, args: &[&str]) -> anyhow::Result<String> {
        let binary = capstan_testkit::helm::binary("v3.22.0")?;
        let mut command = Command::new(binary);
        for (key, _) in std::env::vars() {
            if key.starts_with("HELM_") || key == "KUBECONFIG" {
                command.env_remove(key);
            }
        }
        let output = command
            .args(args)
            .args(["-n", &self.namespace])
            .env("KUBECONFIG", capstan_testkit::kubeconfig_path())
            .env("HOME", self.home.path())
            .env_remove("XDG_CACHE_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .output()?;
        ensure!(
            output.status.success(),
            "helm {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(String::from_utf8(output.stdout)?)
    }

    fn values(&self, name: &str, all: bool) -> anyhow::Result<Value> {
        let mut args = vec!["get", "values", name, "-o", "json"];
        if all {
            args.push("--all");
        }
        Ok(serde_json::from_str(&self.ok(&args)?)?)
    }
}

/// The `color` the ConfigMap of release `name` shows.
async fn color(ns: &TestNamespace, name: &str) -> anyhow::Result<String> {
    let cm = ns
        .api::<ConfigMap>()
        .get(&format!("{name}-settings"))
        .await?;
    Ok(cm.data.unwrap_or_default()["color"].clone())
}

#[tokio::test]
async fn the_cli_a_grpc_client_and_helm_store_the_same_values() {
    with_namespace("prepare-same", |ns| async move {
        let setup = Setup::start(&ns)?;
        let helm = Helm {
            namespace: ns.name().to_owned(),
            home: tempfile::tempdir()?,
        };
        let dir = tempfile::tempdir()?;
        let v1 = chart(dir.path(), "0.1.0", "greeting: hello\n")?;
        let v2 = chart(dir.path(), "0.2.0", "greeting: hello\ncolor: blue\n")?;
        let (v1s, v2s) = (v1.to_str().context("utf-8")?, v2.to_str().context("utf-8")?);
        let empty = dir.path().join("empty.yaml");
        std::fs::write(&empty, "# no values\n")?;
        let empty = empty.to_str().context("utf-8")?;
        for name in ["cli", "raw"] {
            setup.capstan(&["install", name, v1s, "--set", "greeting=hi"])?;
        }
        helm.ok(&["install", "helm", v1s, "--set", "greeting=hi"])?;

        // `-f empty.yaml`: the values merge to nothing, so the previous ones are kept.
        setup.capstan(&["upgrade", "cli", v2s, "-f", empty])?;
        setup
            .grpc_upgrade(
                "raw",
                &v2,
                vec![rpb::values_layer::Layer::File("# no values\n".into())],
                false,
            )
            .await?;
        helm.ok(&["upgrade", "helm", v2s, "-f", empty])?;
        let expected = json!({"greeting": "hi"});
        ensure!(
            setup.values("cli", false)? == expected,
            "cli: {}",
            setup.values("cli", false)?
        );
        ensure!(
            setup.values("raw", false)? == expected,
            "raw: {}",
            setup.values("raw", false)?
        );
        ensure!(
            helm.values("helm", false)? == expected,
            "helm: {}",
            helm.values("helm", false)?
        );
        for name in ["cli", "raw"] {
            ensure!(
                color(&ns, name).await? == "blue",
                "{name}: the new chart's default"
            );
        }

        // Back to the old chart, then `--reuse-values` to the new one: the old chart's
        // defaults stay (the new `color` default is not seen), Helm's trap.
        for name in ["cli", "raw"] {
            setup.capstan(&["upgrade", name, v1s, "--set", "greeting=hey"])?;
        }
        helm.ok(&["upgrade", "helm", v1s, "--set", "greeting=hey"])?;
        setup.capstan(&["upgrade", "cli", v2s, "--reuse-values"])?;
        setup.grpc_upgrade("raw", &v2, Vec::new(), true).await?;
        helm.ok(&["upgrade", "helm", v2s, "--reuse-values"])?;
        let all = helm.values("helm", true)?;
        ensure!(all == json!({"greeting": "hey"}), "helm: {all}");
        for name in ["cli", "raw"] {
            ensure!(
                setup.values(name, true)? == all,
                "{name}: {}",
                setup.values(name, true)?
            );
            ensure!(
                color(&ns, name).await? == "unset",
                "{name}: the old chart's defaults"
            );
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn an_upgrade_prepared_before_another_landed_is_refused() {
    with_namespace("prepare-race", |ns| async move {
        let setup = Setup::start(&ns)?;
        let dir = tempfile::tempdir()?;
        let v1 = chart(dir.path(), "0.1.0", "greeting: hello\n")?;
        let v1s = v1.to_str().context("utf-8")?;
        setup.capstan(&["install", "web", v1s])?;

        // Prepared and rendered as revision 2 with `greeting=stale`...
        let (plan, rendered) = setup
            .prepare_and_render(
                "web",
                &v1,
                vec![rpb::values_layer::Layer::Set("greeting=stale".into())],
                false,
            )
            .await?;
        ensure!(plan.expected_revision == 1, "{plan:?}");
        // ... when another upgrade lands first.
        setup.capstan(&["upgrade", "web", v1s, "--set", "greeting=fresh"])?;

        let result = setup
            .upgrade(pb::UpgradeRequest {
                name: "web".into(),
                namespace: setup.namespace.clone(),
                render: Some(rendered.clone()),
                expected_revision: Some(plan.expected_revision),
                ..pb::UpgradeRequest::default()
            })
            .await?;
        let error = result.error.context("the stale upgrade must be refused")?;
        ensure!(
            tonic::Code::from(error.code) == tonic::Code::Aborted,
            "{error:?}"
        );
        ensure!(
            error.message.contains(
                "release \"web\" moved from revision 1 to 2 while this upgrade was prepared; run it again"
            ),
            "{}",
            error.message
        );
        let history = capstan_e2e::history_rows(&setup.capstan(&["history", "web", "-o", "json"])?)?;
        ensure!(history.len() == 2, "nothing written: {history:?}");
        ensure!(setup.values("web", false)? == json!({"greeting": "fresh"}));

        // A client that sends no expected revision, and the render as the old `rendered`
        // fields, is served as before.
        let result = setup
            .upgrade(pb::UpgradeRequest {
                name: "web".into(),
                namespace: setup.namespace.clone(),
                rendered: Some(pb::Rendered {
                    manifest: rendered.manifest,
                    hooks: rendered.hooks,
                    notes: rendered.notes,
                    stored_chart_json: rendered.stored_chart_json,
                    user_values_json: rendered.user_values_json,
                    merged_values_json: rendered.merged_values_json,
                    crds: rendered.crds,
                }),
                ..pb::UpgradeRequest::default()
            })
            .await?;
        ensure!(result.success, "{:?}", result.error);
        ensure!(result.release.map(|r| r.revision) == Some(3));
        ensure!(setup.values("web", false)? == json!({"greeting": "stale"}));
        Ok(())
    })
    .await;
}

/// Holds release `name`'s Lease as another applier would, for 5 minutes.
async fn hold_lock(ns: &TestNamespace, name: &str) -> anyhow::Result<()> {
    let now = k8s_openapi::jiff::Timestamp::now();
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(format!("capstan.release.{name}")),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("applier-elsewhere/op-7".into()),
            lease_duration_seconds: Some(300),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        }),
    };
    ns.api::<Lease>()
        .create(&PostParams::default(), &lease)
        .await?;
    Ok(())
}

/// `upgrade --wait-for-lock`, prepared against revision 1, waits for a lock held elsewhere
/// while Helm (which takes no lock) writes revision 2; once the lock is free the applier
/// refuses the stale upgrade, and the CLI prepares, renders and sends it again: revision 3,
/// rendered as revision 3, with the CLI's values.
#[tokio::test]
async fn the_cli_prepares_again_when_the_release_moved_while_it_waited() {
    with_namespace("prepare-again", |ns| async move {
        let setup = Setup::start(&ns)?;
        let helm = Helm {
            namespace: ns.name().to_owned(),
            home: tempfile::tempdir()?,
        };
        let dir = tempfile::tempdir()?;
        let v1 = chart(dir.path(), "0.1.0", "greeting: hello\n")?;
        let v1s = v1.to_str().context("utf-8")?.to_owned();
        setup.capstan(&["install", "web", &v1s])?;
        hold_lock(&ns, "web").await?;
        let mut command = Command::new(capstan_e2e::process::binary("capstan"));
        command
            .args(["upgrade", "web", &v1s, "--set", "greeting=mine"])
            .args(["--wait-for-lock", "60s", "-n", ns.name()])
            .args(["--renderer", &setup.renderer.addr, "--applier", &setup.applier.addr])
            .env("KUBECONFIG", capstan_testkit::kubeconfig_path())
            .env_remove("CAPSTAN_RENDERER")
            .env_remove("CAPSTAN_APPLIER")
            .env_remove("HELM_DRIVER");
        let waiter = tokio::task::spawn_blocking(move || command.output());
        tokio::time::sleep(std::time::Duration::from_secs(4)).await;
        ensure!(!waiter.is_finished(), "the upgrade did not wait for the lock");
        helm.ok(&["upgrade", "web", &v1s, "--set", "greeting=helm"])?;
        ns.api::<Lease>()
            .delete("capstan.release.web", &Default::default())
            .await?;
        let output = waiter.await??;
        let stderr = String::from_utf8_lossy(&output.stderr);
        ensure!(output.status.success(), "{stderr}");
        ensure!(
            stderr.contains(
                "release \"web\" moved from revision 1 to 2 while this upgrade was prepared: preparing it again"
            ),
            "{stderr}"
        );
        let data = ns
            .api::<ConfigMap>()
            .get("web-settings")
            .await?
            .data
            .unwrap_or_default();
        ensure!(data["greeting"] == "mine" && data["revision"] == "3", "{data:?}");
        let history = capstan_e2e::history_rows(&setup.capstan(&["history", "web", "-o", "json"])?)?;
        ensure!(
            history.len() == 3 && history[2].1 == "deployed",
            "{history:?}"
        );
        Ok(())
    })
    .await;
}

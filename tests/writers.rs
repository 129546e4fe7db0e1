//! Objects other writers touch, through the `capstan` binary against the real local control
//! plane and next to Helm v3 doing the same (issue 15 item 7), with the chart
//! `tests/fixtures/charts/writers` (each object behind a value):
//!
//! - a release last written by Helm 3's client-side apply taken over with `--server-side`, with
//!   no field-manager conflicts for what Helm owned (its `Update` fields move to the `Apply`
//!   manager, as client-go's csaupgrade does), also in a `--dry-run=server`;
//! - `helm.sh/resource-policy: keep` on an upgrade that drops the object and on uninstall;
//! - `--take-ownership` on install and upgrade, and the "exists and cannot be imported" refusal
//!   without it, before any revision is recorded (in-process and through the daemons);
//! - an immutable field's change (a StatefulSet's selector, a Job's template), refused with the
//!   object and field named in plain words, with and without `--force` (a PUT, as Helm's);
//! - fields other controllers write (a webhook's `caBundle`, an autoscaler's `replicas`) kept by
//!   upgrades, client-side and server-side.
//!
//! The binaries are the ones cargo built next to this test (run `cargo build -p capstan-cli
//! -p capstan-applier -p capstan-renderer` first) and Helm v3 under `target/helm/`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context as _, ensure};
use capstan_e2e::process::{Daemon, Run, capstan};
use capstan_testkit::{TestNamespace, kubeconfig_path, with_namespace};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

fn chart() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/charts/writers")
        .display()
        .to_string()
}

/// `capstan` and Helm v3 in one namespace.
struct Tools {
    namespace: String,
    home: tempfile::TempDir,
}

impl Tools {
    fn new(ns: &TestNamespace) -> anyhow::Result<Tools> {
        Ok(Tools {
            namespace: ns.name().to_owned(),
            home: tempfile::tempdir()?,
        })
    }

    /// `capstan ARGS -n NAMESPACE`.
    fn capstan(&self, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.extend(["-n", self.namespace.as_str()]);
        capstan(&all)
    }

    /// `helm ARGS -n NAMESPACE` (Helm v3.22), with a scratch home.
    fn helm(&self, args: &[&str]) -> Run {
        let binary = capstan_testkit::helm::binary("v3.22.0").expect("helm v3 is built");
        let home = self.home.path();
        let output = Command::new(binary)
            .args(args)
            .args(["-n", &self.namespace])
            .arg("--kubeconfig")
            .arg(kubeconfig_path())
            .env_remove("HELM_DRIVER")
            .env_remove("HELM_NAMESPACE")
            .env_remove("HELM_MAX_HISTORY")
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .output()
            .expect("helm runs");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Requires success.
fn ok(tool: &str, args: &[&str], run: Run) -> anyhow::Result<Run> {
    ensure!(
        run.code == 0,
        "{tool} {args:?} exited {}:\n{}\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
    Ok(run)
}

/// Requires failure with exit code 1; the error text.
fn fails(tool: &str, args: &[&str], run: Run) -> anyhow::Result<String> {
    ensure!(
        run.code == 1,
        "{tool} {args:?} should fail with 1, exited {}:\n{}\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
    Ok(run.error_line().to_owned())
}

/// Runs one command with both tools, `{r}` in each argument standing for the tool's release
/// name (`c` for capstan, `h` for Helm); both must succeed.
fn both_ok(tools: &Tools, args: &[&str]) -> anyhow::Result<(Run, Run)> {
    let (c, h) = per_tool(args);
    let c_args: Vec<&str> = c.iter().map(String::as_str).collect();
    let h_args: Vec<&str> = h.iter().map(String::as_str).collect();
    Ok((
        ok("capstan", &c_args, tools.capstan(&c_args))?,
        ok("helm", &h_args, tools.helm(&h_args))?,
    ))
}

/// Both tools fail with exit code 1; their error lines.
fn both_fail(tools: &Tools, args: &[&str]) -> anyhow::Result<(String, String)> {
    let (c, h) = per_tool(args);
    let c_args: Vec<&str> = c.iter().map(String::as_str).collect();
    let h_args: Vec<&str> = h.iter().map(String::as_str).collect();
    Ok((
        fails("capstan", &c_args, tools.capstan(&c_args))?,
        fails("helm", &h_args, tools.helm(&h_args))?,
    ))
}

/// The arguments for each tool: `{r}` is the release name (`c`, `h`); `{csa}` asks capstan for
/// client-side apply (`--server-side=false`), which is all Helm 3 does.
fn per_tool(args: &[&str]) -> (Vec<String>, Vec<String>) {
    let with = |r: &str, csa: Option<&str>| {
        args.iter()
            .filter_map(|a| match *a {
                "{csa}" => csa.map(str::to_owned),
                a => Some(a.replace("{r}", r)),
            })
            .collect()
    };
    (with("c", Some("--server-side=false")), with("h", None))
}

/// A ConfigMap's data.
async fn data(ns: &TestNamespace, name: &str) -> anyhow::Result<Option<Value>> {
    let cm = ns.api::<ConfigMap>().get_opt(name).await?;
    Ok(cm.map(|c| json!(c.data.unwrap_or_default())))
}

/// `(manager, operation)` of an object's managed fields on the main resource.
fn managers(
    fields: Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry>>,
) -> Vec<(String, String)> {
    fields
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.subresource.as_deref().unwrap_or_default().is_empty())
        .map(|m| {
            (
                m.manager.unwrap_or_default(),
                m.operation.unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_helm3_client_side_release_is_taken_over_server_side_without_conflicts() {
    with_namespace("writers-csa", |ns| async move {
        let tools = Tools::new(&ns)?;
        let chart = chart();
        let helm = |args: &[&str]| ok("helm", args, tools.helm(args));
        helm(&["install", "r", &chart, "--set", "settings.extra=x"])?;
        helm(&[
            "upgrade",
            "r",
            &chart,
            "--set",
            "settings.extra=x",
            "--set",
            "web.message=two",
        ])?;

        // What Helm 3 wrote is owned by the client-side manager `helm` (operation Update): a
        // server-side apply as `helm` that changes it conflicts, unless the fields move first.
        let changed: ConfigMap =
            serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "r-settings"}, "data": {"message": "three"}}))?;
        let mut params = PatchParams::apply("helm");
        params.dry_run = true;
        let conflict = ns
            .api::<ConfigMap>()
            .patch("r-settings", &params, &Patch::Apply(&changed))
            .await
            .expect_err("a conflict with Helm 3's fields");
        ensure!(
            matches!(&conflict, kube::Error::Api(s) if s.code == 409),
            "{conflict}"
        );

        // A server-side dry run previews the takeover without conflicts and changes nothing.
        let preview = [
            "upgrade",
            "r",
            &chart,
            "--server-side",
            "--dry-run=server",
            "--set",
            "web.message=three",
        ];
        ok("capstan", &preview, tools.capstan(&preview))?;
        ensure!(data(&ns, "r-settings").await? == Some(json!({"message": "two", "extra": "x"})));

        // The takeover: no --force-conflicts; a changed field and a dropped one.
        let upgrade = [
            "upgrade",
            "r",
            &chart,
            "--server-side",
            "--set",
            "web.message=three",
        ];
        ok("capstan", &upgrade, tools.capstan(&upgrade))?;
        let settings = data(&ns, "r-settings").await?;
        ensure!(
            settings == Some(json!({"message": "three"})),
            "{settings:?}"
        );
        for fields in [
            ns.api::<ConfigMap>()
                .get("r-settings")
                .await?
                .metadata
                .managed_fields,
            ns.api::<Deployment>()
                .get("r-web")
                .await?
                .metadata
                .managed_fields,
        ] {
            let managers = managers(fields);
            ensure!(
                managers.contains(&("helm".into(), "Apply".into()))
                    && !managers.contains(&("helm".into(), "Update".into())),
                "{managers:?}"
            );
        }
        // Helm reads the history capstan continued.
        let history = helm(&["history", "r", "-o", "json"])?;
        let rows: Value = serde_json::from_str(&history.stdout)?;
        ensure!(rows.as_array().map(Vec::len) == Some(3), "{rows}");
        ensure!(rows[2]["status"] == "deployed", "{rows}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_keep_policy_keeps_objects_on_upgrade_and_uninstall() {
    with_namespace("writers-keep", |ns| async move {
        let tools = Tools::new(&ns)?;
        let chart = chart();
        both_ok(
            &tools,
            &["install", "{r}", &chart, "--set", "kept.enabled=true"],
        )?;
        // An upgrade that drops the kept object leaves it.
        both_ok(
            &tools,
            &["upgrade", "{r}", &chart, "--set", "kept.enabled=false"],
        )?;
        for r in ["c", "h"] {
            ensure!(
                data(&ns, &format!("{r}-kept")).await?.is_some(),
                "{r}-kept is kept"
            );
        }
        // Back in the chart, then uninstalled: kept, and said so as Helm says it.
        both_ok(
            &tools,
            &["upgrade", "{r}", &chart, "--set", "kept.enabled=true"],
        )?;
        let (c, h) = both_ok(&tools, &["uninstall", "{r}"])?;
        ensure!(
            c.stdout
                == h.stdout
                    .replace("h-kept", "c-kept")
                    .replace("\"h\"", "\"c\""),
            "capstan:\n{}\nhelm:\n{}",
            c.stdout,
            h.stdout
        );
        ensure!(
            c.stdout.contains(
                "These resources were kept due to the resource policy:\n[ConfigMap] c-kept\n"
            ),
            "{}",
            c.stdout
        );
        for r in ["c", "h"] {
            ensure!(
                data(&ns, &format!("{r}-kept")).await?.is_some(),
                "{r}-kept is kept"
            );
            ensure!(
                data(&ns, &format!("{r}-settings")).await?.is_none(),
                "{r}-settings is deleted"
            );
        }
        Ok(())
    })
    .await;
}

/// A ConfigMap written by someone else: no ownership metadata, or another release's.
async fn foreign(ns: &TestNamespace, name: &str, release: Option<&str>) -> anyhow::Result<()> {
    let mut cm = json!({"metadata": {"name": name}, "data": {"message": "theirs", "own": "x"}});
    if let Some(release) = release {
        cm["metadata"]["labels"] = json!({"app.kubernetes.io/managed-by": "Helm"});
        cm["metadata"]["annotations"] = json!({"meta.helm.sh/release-name": release,
            "meta.helm.sh/release-namespace": ns.name()});
    }
    ns.api::<ConfigMap>()
        .create(&PostParams::default(), &serde_json::from_value(cm)?)
        .await?;
    Ok(())
}

#[tokio::test]
async fn take_ownership_adopts_existing_objects_on_install_and_upgrade() {
    with_namespace("writers-adopt", |ns| async move {
        let tools = Tools::new(&ns)?;
        let chart = chart();
        for r in ["c", "h"] {
            foreign(&ns, &format!("{r}-settings"), None).await?;
        }
        // Refused before anything is written: no revision, no object.
        let (c, h) = both_fail(&tools, &["install", "{r}", &chart])?;
        ensure!(
            c.contains("unable to continue with install: configmap/c-settings"),
            "{c}"
        );
        let problems = |text: &str, r: &str| {
            text.split_once("invalid ownership metadata; ")
                .map(|(_, p)| p.replace(&format!("\"{r}\""), "\"R\""))
        };
        ensure!(
            problems(&c, "c").is_some() && problems(&c, "c") == problems(&h, "h"),
            "capstan: {c}\nhelm: {h}"
        );
        let history = tools.capstan(&["history", "c"]);
        ensure!(
            history.code == 1 && history.stderr.contains("not found"),
            "{history:?}"
        );
        ensure!(
            ns.api::<Deployment>().get_opt("c-web").await?.is_none(),
            "nothing applied"
        );

        // Adopted on install (client-side, as Helm 3): the chart's fields and the ownership
        // metadata set, the rest left.
        both_ok(
            &tools,
            &["install", "{r}", &chart, "--take-ownership", "{csa}"],
        )?;
        for r in ["c", "h"] {
            let cm = ns.api::<ConfigMap>().get(&format!("{r}-settings")).await?;
            let annotations = cm.metadata.annotations.unwrap_or_default();
            ensure!(
                annotations
                    .get("meta.helm.sh/release-name")
                    .map(String::as_str)
                    == Some(r),
                "{annotations:?}"
            );
            let labels = cm.metadata.labels.unwrap_or_default();
            ensure!(
                labels
                    .get("app.kubernetes.io/managed-by")
                    .map(String::as_str)
                    == Some("Helm"),
                "{labels:?}"
            );
            let data = json!(cm.data.unwrap_or_default());
            ensure!(
                data == json!({"message": "hello", "own": "x"}),
                "{r}: {data}"
            );
        }

        // On upgrade: an object another release owns.
        for r in ["c", "h"] {
            foreign(&ns, &format!("{r}-kept"), Some("someone")).await?;
        }
        let (c, _) = both_fail(
            &tools,
            &["upgrade", "{r}", &chart, "--set", "kept.enabled=true"],
        )?;
        ensure!(
            c.contains("unable to continue with update: configmap/c-kept")
                && c.contains("current value is \"someone\""),
            "{c}"
        );
        let history = ok(
            "capstan",
            &["history", "c"],
            tools.capstan(&["history", "c"]),
        )?;
        ensure!(
            history.stdout.lines().count() == 2,
            "no revision recorded:\n{}",
            history.stdout
        );
        both_ok(
            &tools,
            &[
                "upgrade",
                "{r}",
                &chart,
                "--set",
                "kept.enabled=true",
                "--take-ownership",
            ],
        )?;
        for r in ["c", "h"] {
            let cm = ns.api::<ConfigMap>().get(&format!("{r}-kept")).await?;
            let annotations = cm.metadata.annotations.unwrap_or_default();
            ensure!(
                annotations
                    .get("meta.helm.sh/release-name")
                    .map(String::as_str)
                    == Some(r),
                "{annotations:?}"
            );
        }

        // Server-side, adopting meets the fields another manager wrote: a conflict, as Helm 4
        // has it, unless --force-conflicts takes them over.
        foreign(&ns, "s-settings", None).await?;
        let ssa = ["install", "s", &chart, "--take-ownership", "--server-side"];
        let run = tools.capstan(&ssa);
        ensure!(
            run.code == 1
                && run.error_line().contains(&format!(
                    "apply configmap/s-settings in namespace {}: Apply failed with 1 conflict",
                    ns.name()
                ))
                && run
                    .error_line()
                    .contains("--force-conflicts takes these fields over"),
            "{run:?}"
        );
        foreign(&ns, "f-settings", None).await?;
        let forced = [
            "install",
            "f",
            &chart,
            "--take-ownership",
            "--server-side",
            "--force-conflicts",
        ];
        ok("capstan", &forced, tools.capstan(&forced))?;
        let adopted = data(&ns, "f-settings").await?;
        ensure!(
            adopted == Some(json!({"message": "hello", "own": "x"})),
            "{adopted:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_ownership_check_and_take_ownership_work_through_the_daemons() {
    with_namespace("writers-daemons", |ns| async move {
        let tools = Tools::new(&ns)?;
        let chart = chart();
        let renderer = Daemon::start("capstan-renderer", &["--listen", "127.0.0.1:0"])?;
        let kubeconfig = kubeconfig_path();
        let kubeconfig = kubeconfig.to_str().context("a UTF-8 path")?;
        let applier = Daemon::start(
            "capstan-applier",
            &["--listen", "127.0.0.1:0", "--kubeconfig", kubeconfig],
        )?;
        let remote = ["--renderer", &renderer.addr, "--applier", &applier.addr];
        let run = |args: &[&str]| {
            let all: Vec<&str> = args.iter().chain(&remote).copied().collect();
            tools.capstan(&all)
        };
        foreign(&ns, "d-settings", None).await?;
        let refused = run(&["install", "d", &chart]);
        ensure!(
            refused.code == 1
                && refused
                    .error_line()
                    .contains("unable to continue with install: configmap/d-settings"),
            "{refused:?}"
        );
        let history = run(&["history", "d"]);
        ensure!(
            history.code == 1 && history.stderr.contains("not found"),
            "{history:?}"
        );
        let adopt = [
            "install",
            "d",
            &chart,
            "--take-ownership",
            "--server-side=false",
        ];
        let adopted = run(&adopt);
        ensure!(adopted.code == 0, "{adopted:?}");
        let cm = ns.api::<ConfigMap>().get("d-settings").await?;
        let annotations = cm.metadata.annotations.unwrap_or_default();
        ensure!(
            annotations
                .get("meta.helm.sh/release-name")
                .map(String::as_str)
                == Some("d"),
            "{annotations:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn immutable_changes_name_the_object_and_field_with_or_without_force() {
    with_namespace("writers-immutable", |ns| async move {
        let tools = Tools::new(&ns)?;
        let chart = chart();
        let base = [
            "--set",
            "statefulset.enabled=true",
            "--set",
            "job.enabled=true",
            "--set",
            "web.enabled=false",
        ];
        let with = |first: &[&'static str], extra: &[&'static str]| -> Vec<String> {
            first
                .iter()
                .chain(&base)
                .chain(extra)
                .map(|s| s.replace("CHART", &chart))
                .collect()
        };
        let install = with(&["install", "{r}", "CHART", "{csa}"], &[]);
        both_ok(
            &tools,
            &install.iter().map(String::as_str).collect::<Vec<_>>(),
        )?;
        let ns_name = ns.name().to_owned();
        for (extra, object, field) in [
            (
                &["--set", "statefulset.tier=b"][..],
                "statefulset/c-db",
                "spec.selector: ",
            ),
            (
                &["--set", "job.message=two"][..],
                "job/c-once",
                "spec.template: field is immutable",
            ),
        ] {
            for force in [false, true] {
                let mut v = with(&["upgrade", "{r}", "CHART"], extra);
                if force {
                    v.push("--force".into());
                }
                let v: Vec<&str> = v.iter().map(String::as_str).collect();
                // Helm refuses too, with or without --force (its --force is a PUT).
                let (c, h) = both_fail(&tools, &v)?;
                ensure!(!h.is_empty(), "helm explains");
                let verb = if force { "replace" } else { "patch" };
                ensure!(
                    c.contains(&format!("{verb} {object} in namespace {ns_name}: ")),
                    "{c}"
                );
                ensure!(c.contains(field) && c.contains(" is invalid: "), "{c}");
                ensure!(c.contains("cannot change once the object exists"), "{c}");
                for dump in ["Status {", "PodTemplateSpec", "{\"", "ErrorResponse"] {
                    ensure!(!c.contains(dump), "no Go or Rust value dumps: {c}");
                }
            }
        }
        // Nothing was recreated: the same StatefulSet and Job, as installed.
        let sts = ns.api::<StatefulSet>().get("c-db").await?;
        let tier = sts
            .spec
            .and_then(|s| s.selector.match_labels)
            .and_then(|l| l.get("tier").cloned());
        ensure!(tier.as_deref() == Some("a"), "{tier:?}");
        ensure!(ns.api::<Job>().get_opt("c-once").await?.is_some());

        // --force replaces what can be replaced: the live object becomes the chart's, hand edits
        // gone, as Helm's PUT leaves it.
        for r in ["c", "h"] {
            ns.api::<ConfigMap>()
                .patch(
                    &format!("{r}-settings"),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"data": {"hand": "h"}})),
                )
                .await?;
        }
        let force = [
            "upgrade",
            "{r}",
            chart.as_str(),
            "--set",
            "web.enabled=false",
            "--set",
            "web.message=forced",
            "--force",
        ];
        both_ok(&tools, &force)?;
        for r in ["c", "h"] {
            let settings = data(&ns, &format!("{r}-settings")).await?;
            ensure!(
                settings == Some(json!({"message": "forced"})),
                "{r}: {settings:?}"
            );
        }
        Ok(())
    })
    .await;
}

/// Writes what other controllers write: cert-manager's CA bundle into the webhook (a JSON patch
/// as manager `cainjector`) and an autoscaler's replica count (through the scale subresource).
async fn other_writers(ns: &TestNamespace, release: &str) -> anyhow::Result<()> {
    let webhooks: Api<ValidatingWebhookConfiguration> = Api::all(ns.client());
    // A strategic merge patch into the webhook named in the chart (merged by name).
    let ca = json!({"webhooks": [{"name": "check.writers.capstan.test",
        "clientConfig": {"caBundle": "Y2EK"}}]});
    webhooks
        .patch(
            &format!("{}-{release}", ns.name()),
            &PatchParams {
                field_manager: Some("cainjector".into()),
                ..PatchParams::default()
            },
            &Patch::Strategic(ca),
        )
        .await?;
    ns.api::<Deployment>()
        .patch_scale(
            &format!("{release}-web"),
            &PatchParams {
                field_manager: Some("horizontal-pod-autoscaler".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn fields_other_controllers_write_survive_upgrades() {
    with_namespace("writers-others", |ns| async move {
        let tools = Tools::new(&ns)?;
        let chart = chart();
        let webhooks: Api<ValidatingWebhookConfiguration> = Api::all(ns.client());
        // capstan client-side, capstan server-side, and Helm 3 as the reference.
        let releases = [
            ("csa", "--server-side=false"),
            ("ssa", "--server-side=true"),
            ("helm", ""),
        ];
        let result = async {
            for (release, mode) in releases {
                let install = [
                    "install",
                    release,
                    chart.as_str(),
                    "--set",
                    "webhook.enabled=true",
                    mode,
                ];
                let upgrade = [
                    "upgrade",
                    release,
                    chart.as_str(),
                    "--set",
                    "webhook.enabled=true",
                    "--set",
                    "webhook.timeoutSeconds=7",
                    "--set",
                    "web.message=bye",
                ];
                let run = |args: &[&str]| {
                    let args: Vec<&str> = args.iter().copied().filter(|a| !a.is_empty()).collect();
                    if release == "helm" {
                        ok("helm", &args, tools.helm(&args))
                    } else {
                        ok("capstan", &args, tools.capstan(&args))
                    }
                };
                run(&install)?;
                other_writers(&ns, release).await?;
                run(&upgrade)?;
                // Twice: an upgrade with nothing new in the chart keeps them too.
                run(&upgrade)?;
                let web = ns
                    .api::<Deployment>()
                    .get(&format!("{release}-web"))
                    .await?;
                let spec = web.spec.context("a deployment spec")?;
                ensure!(
                    spec.replicas == Some(3),
                    "{release}: replicas {:?}",
                    spec.replicas
                );
                let env = spec.template.spec.context("a pod spec")?.containers[0]
                    .env
                    .clone()
                    .unwrap_or_default();
                ensure!(
                    env[0].value.as_deref() == Some("bye"),
                    "{release}: the upgrade applied"
                );
                let webhook = webhooks.get(&format!("{}-{release}", ns.name())).await?;
                let hook = &webhook.webhooks.unwrap_or_default()[0];
                ensure!(
                    hook.timeout_seconds == Some(7),
                    "{release}: the upgrade applied"
                );
                let ca = hook.client_config.ca_bundle.as_ref().map(|b| b.0.clone());
                ensure!(
                    ca.as_deref() == Some(&b"ca\n"[..]),
                    "{release}: caBundle {ca:?}"
                );
            }
            Ok(())
        }
        .await;
        // The webhooks are cluster-scoped: not deleted with the namespace.
        for (release, _) in releases {
            webhooks
                .delete(
                    &format!("{}-{release}", ns.name()),
                    &DeleteParams::default(),
                )
                .await
                .ok();
        }
        result
    })
    .await;
}

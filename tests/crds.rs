//! A chart's `crds/` folders through `capstan`, as a user runs it against the real local
//! control plane: `template --include-crds` prints them exactly as Helm v3 and v4 do (parent's
//! first, then the subchart's, as written); `install` creates them before the release's
//! objects, waits for them to be established and applies a custom resource of each kind;
//! CRDs that already exist are left as they are on install and upgrade, and uninstall keeps
//! them (Helm's policy); `--skip-crds` creates none; a CRD larger than client-side apply's
//! 256 KiB annotation limit installs; an invalid CRD fails the install with its file named and
//! no release recorded.
//!
//! CRDs are cluster-wide, so every test names its API group after its own namespace and
//! deletes its CRDs at the end.

use std::path::Path;

use anyhow::{Context as _, ensure};
use capstan_e2e::process::{capstan, capstan_ok};
use capstan_testkit::{TestNamespace, with_namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject};
use kube::core::GroupVersionKind;

/// A CRD file for `plural.group` of kind `kind`, labelled `version: label`, its schema
/// described by `description` (long to make it large).
fn crd_yaml(group: &str, kind: &str, plural: &str, label: &str, description: &str) -> String {
    format!(
        "# The {kind} CRD.
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {plural}.{group}
  labels:
    version: {label}
spec:
  group: {group}
  names:
    kind: {kind}
    plural: {plural}
    singular: {singular}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          description: {description:?}
          properties:
            spec:
              type: object
              x-kubernetes-preserve-unknown-fields: true
",
        singular = kind.to_lowercase()
    )
}

/// Writes a chart `crdapp` (with a subchart `gadgets`): each has one CRD in `crds/` and a
/// custom resource of that kind in `templates/`, unless `.Values.resources` is false.
fn write_chart(dir: &Path, group: &str, label: &str, description: &str) -> anyhow::Result<String> {
    let chart = dir.join("crdapp");
    let sub = chart.join("charts/gadgets");
    for d in [
        chart.join("crds"),
        chart.join("templates"),
        sub.join("crds"),
        sub.join("templates"),
    ] {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: crdapp\nversion: 0.1.0\n",
    )?;
    std::fs::write(
        chart.join("crds/widgets.yaml"),
        crd_yaml(group, "Widget", "widgets", label, description),
    )?;
    std::fs::write(
        chart.join("templates/widget.yaml"),
        format!(
            "{{{{- if .Values.resources }}}}\napiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: {{{{ .Release.Name }}}}\nspec:\n  size: {label}\n{{{{- end }}}}\n"
        ),
    )?;
    std::fs::write(
        chart.join("templates/config.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  label: x\n",
    )?;
    std::fs::write(
        sub.join("Chart.yaml"),
        "apiVersion: v2\nname: gadgets\nversion: 0.1.0\n",
    )?;
    std::fs::write(
        sub.join("crds/gadgets.yaml"),
        crd_yaml(group, "Gadget", "gadgets", label, "gadgets"),
    )?;
    std::fs::write(
        sub.join("templates/gadget.yaml"),
        format!(
            "{{{{- if .Values.global.resources }}}}\napiVersion: {group}/v1\nkind: Gadget\nmetadata:\n  name: {{{{ .Release.Name }}}}-gadget\n{{{{- end }}}}\n"
        ),
    )?;
    std::fs::write(sub.join("values.yaml"), "")?;
    std::fs::write(
        chart.join("values.yaml"),
        "resources: true\nglobal:\n  resources: true\n",
    )?;
    Ok(chart.display().to_string())
}

/// The API group of a test: unique to its namespace.
fn group_of(ns: &TestNamespace) -> String {
    format!("{}.capstan.test", ns.name())
}

async fn crd(ns: &TestNamespace, name: &str) -> anyhow::Result<Option<CustomResourceDefinition>> {
    Ok(Api::<CustomResourceDefinition>::all(ns.client())
        .get_opt(name)
        .await?)
}

async fn custom(
    ns: &TestNamespace,
    group: &str,
    kind: &str,
    name: &str,
) -> anyhow::Result<Option<DynamicObject>> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, "v1", kind));
    let api: Api<DynamicObject> = Api::namespaced_with(ns.client(), ns.name(), &resource);
    Ok(api.get_opt(name).await?)
}

/// Deletes the test's CRDs (cluster-wide objects outlive the namespace).
async fn delete_crds(ns: &TestNamespace, group: &str) {
    let api = Api::<CustomResourceDefinition>::all(ns.client());
    for plural in ["widgets", "gadgets", "bigs", "broken"] {
        let _ = api
            .delete(&format!("{plural}.{group}"), &DeleteParams::default())
            .await;
    }
}

fn label_of(crd: &CustomResourceDefinition) -> String {
    crd.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("version"))
        .cloned()
        .unwrap_or_default()
}

/// `helm template --include-crds` of the reference Helm `version`.
fn helm_template(version: &str, args: &[&str]) -> anyhow::Result<String> {
    let helm = capstan_testkit::helm::binary(version)?;
    let home = tempfile::tempdir()?;
    let output = std::process::Command::new(helm)
        .arg("template")
        .args(args)
        .env("HELM_CACHE_HOME", home.path().join("cache"))
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_DATA_HOME", home.path().join("data"))
        .output()?;
    ensure!(
        output.status.success(),
        "helm {version} template failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

#[tokio::test]
async fn template_include_crds_prints_them_as_helm_does() {
    with_namespace("crds-template", |ns| async move {
        let dir = tempfile::tempdir()?;
        let chart = write_chart(dir.path(), &group_of(&ns), "one", "widgets")?;
        let args = ["web", chart.as_str(), "--include-crds", "-n", ns.name()];
        let ours = capstan_ok(&[&["template"], &args[..]].concat())?;
        ensure!(
            ours.starts_with("---\n# Source: crdapp/crds/widgets.yaml\n# The Widget CRD.\n"),
            "{ours}"
        );
        ensure!(
            ours.contains("# Source: crdapp/charts/gadgets/crds/gadgets.yaml\n"),
            "{ours}"
        );
        let helm = helm_template("v3.22.0", &args)?;
        ensure!(ours == helm, "helm v3:\n{helm}\ncapstan:\n{ours}");
        // Helm v4 prints the CRDs the same way (it separates templates' documents with an
        // extra blank line, which is not about CRDs).
        let crds_of = |text: &str| -> String {
            let end = text
                .find("# Source: crdapp/templates/")
                .unwrap_or(text.len());
            text[..end].to_string()
        };
        let helm = helm_template("v4.3.1", &args)?;
        ensure!(
            crds_of(&ours) == crds_of(&helm) && crds_of(&ours).contains("gadgets.yaml"),
            "helm v4:\n{helm}\ncapstan:\n{ours}"
        );
        // Without the flag no CRD is printed, and --skip-crds is accepted as Helm accepts it.
        let plain = capstan_ok(&["template", "web", &chart, "--skip-crds", "-n", ns.name()])?;
        ensure!(!plain.contains("crds/"), "{plain}");
        ensure!(
            plain == helm_template("v3.22.0", &["web", &chart, "--skip-crds", "-n", ns.name()])?
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn install_creates_crds_first_and_never_changes_or_deletes_them() {
    with_namespace("crds-life", |ns| async move {
        let group = group_of(&ns);
        let result = async {
            let dir = tempfile::tempdir()?;
            let chart = write_chart(dir.path(), &group, "one", "widgets")?;
            let n = ns.name();
            // A dry run creates no CRD and shows none, as Helm's.
            let dry = capstan_ok(&["install", "web", &chart, "-n", n, "--dry-run"])?;
            ensure!(
                !dry.contains("kind: CustomResourceDefinition") && dry.contains("kind: Widget"),
                "{dry}"
            );
            ensure!(crd(&ns, &format!("widgets.{group}")).await?.is_none());
            let out = capstan_ok(&["install", "web", &chart, "-n", n, "--wait"])?;
            ensure!(out.contains("STATUS: deployed"), "{out}");
            let widgets = crd(&ns, &format!("widgets.{group}"))
                .await?
                .context("the Widget CRD was created")?;
            let annotations = widgets.metadata.annotations.clone().unwrap_or_default();
            ensure!(
                !annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration")
                    && !annotations.contains_key("meta.helm.sh/release-name"),
                "CRDs are created as written: {annotations:?}"
            );
            ensure!(
                crd(&ns, &format!("gadgets.{group}")).await?.is_some(),
                "the subchart's CRD was created"
            );
            ensure!(custom(&ns, &group, "Widget", "web").await?.is_some());
            ensure!(custom(&ns, &group, "Gadget", "web-gadget").await?.is_some());
            // The manifest holds the custom resources, not the CRDs.
            let manifest = capstan_ok(&["get", "manifest", "web", "-n", n])?;
            ensure!(!manifest.contains("CustomResourceDefinition"), "{manifest}");

            // A second release of the chart: the CRDs exist and are left alone.
            let out = capstan_ok(&["install", "other", &chart, "-n", n, "--wait"])?;
            ensure!(out.contains("STATUS: deployed"), "{out}");

            // An upgrade to a chart whose CRD changed does not change the CRD.
            let changed = write_chart(dir.path(), &group, "two", "widgets, changed")?;
            capstan_ok(&["upgrade", "web", &changed, "-n", n, "--wait"])?;
            let widgets = crd(&ns, &format!("widgets.{group}"))
                .await?
                .context("still there")?;
            ensure!(label_of(&widgets) == "one", "the CRD was not upgraded");
            let widget = custom(&ns, &group, "Widget", "web")
                .await?
                .context("the widget")?;
            ensure!(widget.data["spec"]["size"] == "two", "{:?}", widget.data);

            // Uninstall deletes the custom resources and keeps the CRDs.
            capstan_ok(&["uninstall", "web", "-n", n, "--wait"])?;
            capstan_ok(&["uninstall", "other", "-n", n, "--wait"])?;
            ensure!(custom(&ns, &group, "Widget", "web").await?.is_none());
            ensure!(crd(&ns, &format!("widgets.{group}")).await?.is_some());
            ensure!(crd(&ns, &format!("gadgets.{group}")).await?.is_some());
            Ok(())
        }
        .await;
        delete_crds(&ns, &group).await;
        result
    })
    .await;
}

#[tokio::test]
async fn skip_crds_creates_none() {
    with_namespace("crds-skip", |ns| async move {
        let group = group_of(&ns);
        let result = async {
            let dir = tempfile::tempdir()?;
            let chart = write_chart(dir.path(), &group, "one", "widgets")?;
            let n = ns.name();
            let args = [
                "--skip-crds",
                "--set",
                "resources=false,global.resources=false",
                "-n",
                n,
            ];
            capstan_ok(&[&["install", "web", chart.as_str()], &args[..]].concat())?;
            ensure!(crd(&ns, &format!("widgets.{group}")).await?.is_none());
            capstan_ok(&[&["upgrade", "web", chart.as_str()], &args[..]].concat())?;
            ensure!(crd(&ns, &format!("widgets.{group}")).await?.is_none());
            // Without the flag, an upgrade creates the CRDs the release lacks.
            capstan_ok(&[
                "upgrade",
                "web",
                &chart,
                "-n",
                n,
                "--wait",
                "--reset-values",
            ])?;
            ensure!(crd(&ns, &format!("widgets.{group}")).await?.is_some());
            ensure!(custom(&ns, &group, "Widget", "web").await?.is_some());
            Ok(())
        }
        .await;
        delete_crds(&ns, &group).await;
        result
    })
    .await;
}

#[tokio::test]
async fn a_crd_too_large_for_the_last_applied_annotation_installs() {
    with_namespace("crds-big", |ns| async move {
        let group = group_of(&ns);
        let result = async {
            let dir = tempfile::tempdir()?;
            let chart = write_chart(dir.path(), &group, "one", "widgets")?;
            // 300 KiB of description: more than the 256 KiB an annotation may hold.
            let description = "a".repeat(300 * 1024);
            std::fs::write(
                Path::new(&chart).join("crds/bigs.yaml"),
                crd_yaml(&group, "Big", "bigs", "one", &description),
            )?;
            let n = ns.name();
            for mode in ["false", "true"] {
                let name = format!("big-{mode}");
                capstan_ok(&[
                    "install",
                    &name,
                    &chart,
                    "-n",
                    n,
                    "--wait",
                    &format!("--server-side={mode}"),
                ])?;
            }
            let big = crd(&ns, &format!("bigs.{group}"))
                .await?
                .context("the big CRD")?;
            let size = serde_json::to_vec(&big)?.len();
            ensure!(size > 300 * 1024, "the CRD holds {size} bytes");
            Ok(())
        }
        .await;
        delete_crds(&ns, &group).await;
        result
    })
    .await;
}

#[tokio::test]
async fn an_invalid_crd_fails_the_install_naming_it_and_records_nothing() {
    with_namespace("crds-bad", |ns| async move {
        let group = group_of(&ns);
        let result = async {
            let dir = tempfile::tempdir()?;
            let chart = write_chart(dir.path(), &group, "one", "widgets")?;
            // The API server rejects it: the name is not <plural>.<group>.
            std::fs::write(
                Path::new(&chart).join("crds/zz-broken.yaml"),
                crd_yaml(&group, "Broken", "broken", "one", "x")
                    .replace(&format!("name: broken.{group}"), "name: wrong-name"),
            )?;
            let n = ns.name();
            let run = capstan(&["install", "web", &chart, "-n", n]);
            ensure!(run.code != 0, "{}", run.stdout);
            let error = run.error_line();
            ensure!(
                error.contains("failed to install CRDs")
                    && error.contains("customresourcedefinition/wrong-name"),
                "{}",
                run.stderr
            );
            let list = capstan_ok(&["list", "-a", "-n", n])?;
            ensure!(!list.contains("web"), "no release is recorded: {list}");
            ensure!(
                crd(&ns, &format!("widgets.{group}")).await?.is_none(),
                "no CRD is created when one of them is invalid"
            );
            // A file that is not YAML is named too.
            std::fs::write(Path::new(&chart).join("crds/zz-broken.yaml"), "kind: [\n")?;
            let run = capstan(&["install", "web", &chart, "-n", n]);
            ensure!(
                run.code != 0 && run.error_line().contains("crdapp/crds/zz-broken.yaml"),
                "{}",
                run.stderr
            );
            // A plain head over a body that is not YAML: the head names a CRD that does not
            // exist, so the file is parsed whole to create it, and that error names the file.
            std::fs::write(
                Path::new(&chart).join("crds/zz-broken.yaml"),
                format!(
                    "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n\
                     metadata:\n  name: brokens.{group}\nspec:\n  group: [\n"
                ),
            )?;
            let run = capstan(&["install", "web", &chart, "-n", n]);
            ensure!(
                run.code != 0 && run.error_line().contains("crdapp/crds/zz-broken.yaml"),
                "{}",
                run.stderr
            );
            ensure!(
                crd(&ns, &format!("widgets.{group}")).await?.is_none(),
                "no CRD is created when a file is not YAML"
            );
            Ok(())
        }
        .await;
        delete_crds(&ns, &group).await;
        result
    })
    .await;
}

//! Helm's Go-template charts through the real binaries: the in-process renderer and the
//! renderer daemon give byte-identical output; `lint` and `install --dry-run` take Go charts;
//! capstan installs and upgrades a Go chart on the local control plane and Helm reads the
//! release it wrote.

use std::path::PathBuf;

use anyhow::ensure;
use capstan_e2e::corpus;
use capstan_e2e::process::{Daemon, capstan, capstan_ok, repository};
use capstan_testkit::helm::Helm;
use capstan_testkit::with_namespace;

/// Go charts whose output has nothing random (charts that call `randAlphaNum` or `genCA`
/// differ from render to render, in Helm too).
fn go_charts() -> Vec<PathBuf> {
    vec![
        repository().join("tests/fixtures/charts/helm-web"),
        corpus().join("ingress-nginx"),
        corpus().join("kube-state-metrics"),
    ]
}

#[test]
fn the_daemon_renders_go_charts_byte_identical_to_the_cli() {
    let daemon = Daemon::start("capstan-renderer", &["--listen", "127.0.0.1:0"]).unwrap();
    for chart in go_charts() {
        let chart = chart.to_string_lossy().into_owned();
        let args = [
            "template",
            "rel",
            &chart,
            "--namespace",
            "ns",
            "--kube-version",
            "1.33",
        ];
        let local = capstan_ok(&args).unwrap();
        let mut remote_args = args.to_vec();
        remote_args.extend(["--renderer", &daemon.addr]);
        let remote = capstan_ok(&remote_args).unwrap();
        assert!(local.contains("# Source: "), "{chart}: {local}");
        assert_eq!(local, remote, "{chart}: the daemon's render differs");
    }
}

#[test]
fn lint_reads_go_charts_as_helm_does() {
    let chart = corpus().join("podinfo");
    let out = capstan_ok(&["lint", &chart.to_string_lossy()]).unwrap();
    assert!(
        out.contains("[INFO] templates/: templates are read as Go templates"),
        "{out}"
    );
    assert!(
        out.contains("1 chart(s) linted, 0 chart(s) failed"),
        "{out}"
    );
}

#[test]
fn a_go_template_error_names_the_go_source_and_never_jinja() {
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("broken");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: broken\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ .Values.db.host }}\n",
    )
    .unwrap();
    let run = capstan(&["template", "rel", &chart.to_string_lossy()]);
    assert_eq!(run.code, 1, "{run:?}");
    let line = run.error_line();
    assert!(
        line.starts_with("Error: template: broken/templates/cm.yaml:6:")
            && line.ends_with(
                ": executing \"broken/templates/cm.yaml\" at <.Values.db.host>: nil pointer \
                 evaluating interface {}.host"
            ),
        "{run:?}"
    );
    assert!(!run.stderr.to_lowercase().contains("jinja"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn capstan_installs_and_upgrades_a_go_chart_that_helm_reads() {
    with_namespace("gochart", |ns| async move {
        let chart = corpus().join("podinfo");
        let chart = chart.to_string_lossy().into_owned();
        let name = ns.name().to_string();
        let dry = capstan_ok(&["install", "web", &chart, "-n", &name, "--dry-run"])?;
        ensure!(
            dry.contains("kind: Deployment"),
            "dry run shows the manifest: {dry}"
        );
        capstan_ok(&[
            "install",
            "web",
            &chart,
            "-n",
            &name,
            "--wait",
            "--timeout",
            "2m",
        ])?;
        capstan_ok(&[
            "upgrade",
            "web",
            &chart,
            "-n",
            &name,
            "--set",
            "replicaCount=2",
            "--wait",
            "--timeout",
            "2m",
        ])?;
        let helm = Helm::new("v3.22.0", "secret", &name)?;
        let history = helm.json(&["history", "web", "-o", "json"]).await?;
        let statuses: Vec<String> = history
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r["status"].as_str().unwrap_or_default().to_string())
            .collect();
        ensure!(
            statuses == ["superseded", "deployed"],
            "helm reads capstan's history: {statuses:?}"
        );
        let values = helm.run(&["get", "values", "web"]).await?;
        ensure!(values.contains("replicaCount: 2"), "{values}");
        Ok(())
    })
    .await;
}

/// The password Secret bitnami's postgresql chart generates on install, as stored.
async fn postgres_password(ns: &capstan_testkit::TestNamespace) -> anyhow::Result<String> {
    let secret = ns
        .api::<k8s_openapi::api::core::v1::Secret>()
        .get("db-postgresql")
        .await?;
    let data = secret.data.unwrap_or_default();
    let password = data
        .get("postgres-password")
        .ok_or_else(|| anyhow::anyhow!("no postgres-password in {:?}", data.keys()))?;
    Ok(String::from_utf8_lossy(&password.0).into_owned())
}

/// `lookup` reads the live cluster on install and upgrade (bitnami's charts keep the passwords
/// they generated by looking up their own Secret): bitnami postgresql is installed, upgraded
/// with a changed value, and the password Secret is byte-identical before and after, both in
/// process and through the daemons (the applier reads for the renderer). A client dry run,
/// where `lookup` is empty as in Helm, renders a new random password instead.
#[tokio::test(flavor = "multi_thread")]
async fn lookup_keeps_a_generated_password_across_upgrades() {
    with_namespace("lookup", |ns| async move {
        let chart = corpus().join("postgresql");
        let chart = chart.to_string_lossy().into_owned();
        let name = ns.name().to_string();
        capstan_ok(&["install", "db", &chart, "-n", &name])?;
        let installed = postgres_password(&ns).await?;
        ensure!(installed.len() >= 10, "a generated password: {installed:?}");

        capstan_ok(&[
            "upgrade",
            "db",
            &chart,
            "-n",
            &name,
            "--set",
            "primary.resources.requests.cpu=150m",
        ])?;
        ensure!(
            postgres_password(&ns).await? == installed,
            "the in-process upgrade kept the password"
        );

        let renderer = Daemon::start("capstan-renderer", &["--listen", "127.0.0.1:0"])?;
        let kubeconfig = capstan_testkit::kubeconfig_path();
        let applier = Daemon::start(
            "capstan-applier",
            &[
                "--listen",
                "127.0.0.1:0",
                "--kubeconfig",
                kubeconfig.to_str().unwrap_or_default(),
            ],
        )?;
        capstan_ok(&[
            "upgrade",
            "db",
            &chart,
            "-n",
            &name,
            "--reuse-values",
            "--set",
            "primary.resources.requests.cpu=200m",
            "--renderer",
            &renderer.addr,
            "--applier",
            &applier.addr,
        ])?;
        ensure!(
            postgres_password(&ns).await? == installed,
            "the upgrade through the daemons kept the password"
        );

        // Without lookup (a client dry run), the chart cannot see its Secret and makes a new one.
        let dry = capstan_ok(&[
            "upgrade",
            "db",
            &chart,
            "-n",
            &name,
            "--reuse-values",
            "--dry-run",
        ])?;
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&installed);
        ensure!(
            dry.contains("postgres-password: ") && !dry.contains(&encoded),
            "a client dry run renders another password"
        );
        let history = capstan_ok(&["history", "db", "-n", &name])?;
        ensure!(history.lines().count() == 4, "{history}");
        Ok(())
    })
    .await;
}

/// Helm and capstan on one real chart, as during a migration: Helm v3 installs bitnami
/// postgresql, capstan upgrades it (its `lookup` keeps the password Helm's install generated),
/// Helm v4 rolls it back, and capstan lists it and reads the history all three wrote.
#[tokio::test(flavor = "multi_thread")]
async fn helm_and_capstan_take_turns_on_bitnami_postgresql() {
    with_namespace("pg-interop", |ns| async move {
        let chart = corpus().join("postgresql");
        let chart = chart.to_string_lossy().into_owned();
        let name = ns.name().to_string();
        let v3 = Helm::new("v3.22.0", "secret", &name)?;
        let v4 = Helm::new("v4.3.1", "secret", &name)?;
        v3.run(&["install", "db", &chart]).await?;
        let installed = postgres_password(&ns).await?;

        capstan_ok(&[
            "upgrade",
            "db",
            &chart,
            "-n",
            &name,
            "--reuse-values",
            "--set",
            "primary.resources.requests.cpu=150m",
        ])?;
        ensure!(
            postgres_password(&ns).await? == installed,
            "capstan's upgrade kept the password Helm generated"
        );

        v4.run(&["rollback", "db", "1"]).await?;
        ensure!(
            postgres_password(&ns).await? == installed,
            "the rollback kept it too"
        );

        let list = capstan_ok(&["list", "-n", &name, "-o", "json"])?;
        let list: serde_json::Value = serde_json::from_str(&list)?;
        ensure!(
            list[0]["name"] == "db"
                && list[0]["revision"] == "3"
                && list[0]["status"] == "deployed",
            "{list}"
        );
        let history = capstan_ok(&["history", "db", "-n", &name, "-o", "json"])?;
        let history: serde_json::Value = serde_json::from_str(&history)?;
        let rows: Vec<(String, String)> = history
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["status"].as_str().unwrap_or_default().to_string(),
                    r["description"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        ensure!(
            rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>()
                == ["superseded", "superseded", "deployed"]
                && rows[2].1 == "Rollback to 1",
            "{rows:?}"
        );
        Ok(())
    })
    .await;
}

/// `capstan template` of `chart` with Helm's cache directory at `cache_home` (and the compile
/// cache's own variable as given): its output, and whether its log says the chart's
/// translations came from the compile cache.
fn template_with_cache(
    chart: &str,
    cache_home: &std::path::Path,
    compile_cache: Option<&str>,
) -> (String, bool) {
    let mut command = std::process::Command::new(capstan_e2e::process::binary("capstan"));
    command
        .args([
            "template",
            "rel",
            chart,
            "--namespace",
            "ns",
            "--kube-version",
            "1.33",
        ])
        .env("HELM_CACHE_HOME", cache_home)
        .env("RUST_LOG", "capstan_renderer=debug")
        .env_remove("CAPSTAN_RENDERER")
        .env_remove("CAPSTAN_COMPILE_CACHE");
    if let Some(value) = compile_cache {
        command.env("CAPSTAN_COMPILE_CACHE", value);
    }
    let out = command.output().unwrap();
    let stderr = without_colours(&String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{chart}: {stderr}");
    let reused = stderr.contains("reused=true");
    assert!(
        reused || stderr.contains("reused=false"),
        "{chart}: no compile logged: {stderr}"
    );
    (String::from_utf8(out.stdout).unwrap(), reused)
}

/// `text` without its terminal colour sequences (`ESC [ ... m`).
fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn cache_entries(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    entries.sort();
    entries
}

#[test]
fn a_warm_compile_cache_gives_the_cold_output_and_a_damaged_entry_is_ignored() {
    let home = tempfile::tempdir().unwrap();
    let compiled = home.path().join("capstan/compiled");
    for chart in go_charts() {
        let chart = chart.to_string_lossy().into_owned();
        let before = cache_entries(&compiled);
        let (cold, reused) = template_with_cache(&chart, home.path(), None);
        assert!(!reused, "{chart}: the first render found a cache entry");
        assert!(cold.contains("# Source: "), "{chart}: {cold}");
        let after = cache_entries(&compiled);
        let new: Vec<&PathBuf> = after.iter().filter(|p| !before.contains(p)).collect();
        assert_eq!(new.len(), 1, "{chart}: one entry per chart: {after:?}");
        let entry = new[0].clone();
        assert!(entry.to_string_lossy().ends_with(".translations"));

        let (warm, reused) = template_with_cache(&chart, home.path(), None);
        assert!(reused, "{chart}: the second render compiled again");
        assert_eq!(warm, cold, "{chart}: the warm cache changed the output");

        // A damaged entry (a flipped byte, then a truncated file) is ignored and rewritten.
        let whole = std::fs::read(&entry).unwrap();
        let mut flipped = whole.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x55;
        for damaged in [
            flipped,
            whole[..whole.len() / 3].to_vec(),
            b"garbage".to_vec(),
        ] {
            std::fs::write(&entry, &damaged).unwrap();
            let (out, reused) = template_with_cache(&chart, home.path(), None);
            assert!(!reused, "{chart}: a damaged entry was used");
            assert_eq!(out, cold, "{chart}: a damaged entry changed the output");
            assert_eq!(
                std::fs::read(&entry).unwrap(),
                whole,
                "{chart}: the damaged entry was not rewritten"
            );
        }
    }

    // `CAPSTAN_COMPILE_CACHE=off` keeps nothing; a directory there moves the cache.
    let other = tempfile::tempdir().unwrap();
    let chart = go_charts()[0].to_string_lossy().into_owned();
    let (cold, _) = template_with_cache(&chart, other.path(), Some("off"));
    assert!(!other.path().join("capstan").exists());
    let moved = other.path().join("moved");
    let moved_str = moved.to_string_lossy().into_owned();
    let (first, reused) = template_with_cache(&chart, other.path(), Some(&moved_str));
    assert!(!reused);
    let (second, reused) = template_with_cache(&chart, other.path(), Some(&moved_str));
    assert!(reused);
    assert_eq!(cache_entries(&moved).len(), 1);
    assert_eq!(
        (first.as_str(), second.as_str()),
        (cold.as_str(), cold.as_str())
    );
}

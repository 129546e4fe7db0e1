//! Release history that is damaged or shared with Helm, through the `capstan` binary against the
//! real local control plane: records corrupted in each way (bad base64, bad gzip, bad JSON,
//! truncated, a missing part of a split record) are skipped and reported by `list`, `history`,
//! `status`, `get`, `upgrade`, `rollback` and `uninstall`, and uninstall removes them; a
//! record Helm wrote and that was corrupted later; a pending revision left by a killed Helm,
//! cleared by `--recover`; the revision create race against a concurrent `helm upgrade` with
//! `--wait-for-lock`; and the cost of operations on a split (> 1 MiB) release as its history
//! grows. Results are recorded in docs/reliability.md.
//!
//! The binaries are the ones cargo built next to this test (alone, run
//! `cargo build -p capstan-cli -p capstan-applier -p capstan-renderer` first).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use capstan_e2e::process::{Run, binary, capstan};
use capstan_testkit::helm::Helm;
use capstan_testkit::{TestNamespace, with_namespace};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, ListParams, PostParams};

/// The chart both Helm and capstan install (Go templates, a Deployment, a ConfigMap, a hook).
fn chart() -> String {
    capstan_testkit::helm::chart().display().to_string()
}

/// `capstan ARGS -n NAMESPACE`.
fn run(ns: &TestNamespace, args: &[&str]) -> Run {
    let mut all = args.to_vec();
    all.extend(["-n", ns.name()]);
    capstan(&all)
}

/// `capstan ARGS -n NAMESPACE`, which must succeed.
fn ok(ns: &TestNamespace, args: &[&str]) -> anyhow::Result<Run> {
    let out = run(ns, args);
    ensure!(
        out.code == 0,
        "capstan {args:?} exited {}:\n{}\n{}",
        out.code,
        out.stdout,
        out.stderr
    );
    Ok(out)
}

/// `(revision, status)` of each row of `capstan history NAME -o json`.
fn history(ns: &TestNamespace, name: &str) -> anyhow::Result<Vec<(u64, String)>> {
    let out = ok(ns, &["history", name, "-o", "json"])?;
    let rows: serde_json::Value = serde_json::from_str(&out.stdout)?;
    Ok(rows
        .as_array()
        .context("history -o json is an array")?
        .iter()
        .map(|r| {
            (
                r["revision"].as_u64().unwrap_or_default(),
                r["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

/// Names of the Secrets of release `name` (records and parts).
async fn record_secrets(ns: &TestNamespace, name: &str) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for owner in ["helm", "capstan-part"] {
        let selector = format!("owner={owner},name={name}");
        names.extend(
            ns.api::<Secret>()
                .list(&ListParams::default().labels(&selector))
                .await?
                .items
                .into_iter()
                .filter_map(|s| s.metadata.name),
        );
    }
    names.sort();
    Ok(names)
}

/// The ways a stored record is damaged.
#[derive(Clone, Copy, Debug)]
enum Damage {
    /// The payload is not base64.
    Base64,
    /// The payload starts like gzip but is not.
    Gzip,
    /// Valid gzip of text that is not a release's JSON.
    Json,
    /// The payload's gzip stream cut in half.
    Truncated,
    /// One part of a split (> 1 MiB) record deleted.
    MissingPart,
}

impl Damage {
    const ALL: [Damage; 5] = [
        Damage::Base64,
        Damage::Gzip,
        Damage::Json,
        Damage::Truncated,
        Damage::MissingPart,
    ];

    fn label(self) -> &'static str {
        match self {
            Damage::Base64 => "base64",
            Damage::Gzip => "gzip",
            Damage::Json => "json",
            Damage::Truncated => "truncated",
            Damage::MissingPart => "part",
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

/// Damages revision `revision` of release `name` as `damage` says.
async fn damage(ns: &TestNamespace, name: &str, revision: u32, how: Damage) -> anyhow::Result<()> {
    let secrets = ns.api::<Secret>();
    let object = format!("sh.helm.release.v1.{name}.v{revision}");
    if let Damage::MissingPart = how {
        let selector = format!("owner=capstan-part,name={name},version={revision}");
        let parts = secrets
            .list(&ListParams::default().labels(&selector))
            .await?;
        let part = parts
            .items
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .max()
            .with_context(|| format!("{object} has no parts: the chart is not large enough"))?;
        secrets.delete(&part, &DeleteParams::default()).await?;
        return Ok(());
    }
    let mut secret = secrets.get(&object).await?;
    let data = secret.data.get_or_insert_with(BTreeMap::new);
    let payload = data
        .get("release")
        .map(|b| b.0.clone())
        .context("no release data")?;
    let damaged: Vec<u8> = match how {
        Damage::Base64 => b"%%% this is not base64 %%%".to_vec(),
        Damage::Gzip => STANDARD
            .encode([&[0x1f, 0x8b, 0x08][..], b"not a gzip stream at all"].concat())
            .into_bytes(),
        Damage::Json => STANDARD
            .encode(gzip(br#"{"name": "half a record", "info": "#))
            .into_bytes(),
        Damage::Truncated => {
            let compressed = STANDARD.decode(&payload)?;
            STANDARD
                .encode(&compressed[..compressed.len() / 2])
                .into_bytes()
        }
        Damage::MissingPart => unreachable!("handled above"),
    };
    data.insert("release".into(), ByteString(damaged));
    secrets
        .replace(&object, &PostParams::default(), &secret)
        .await?;
    Ok(())
}

/// A copy of the test chart whose records are split: a 1 MiB file of random text makes the
/// stored payload larger than one Secret holds.
fn large_chart(dir: &Path) -> anyhow::Result<String> {
    let root = dir.join("large-web");
    copy_dir(&capstan_testkit::helm::chart(), &root)?;
    std::fs::create_dir_all(root.join("files"))?;
    let random: Vec<u8> = (0..1024 * 1024).map(|_| rand::random::<u8>()).collect();
    std::fs::write(root.join("files/blob.txt"), STANDARD.encode(random))?;
    Ok(root.display().to_string())
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Release `name` with revisions 1 (superseded), 2 (superseded, then damaged) and 3
/// (deployed), then every command a user runs on it.
async fn old_revision_damaged(
    ns: &TestNamespace,
    name: &str,
    chart: &str,
    how: Damage,
) -> anyhow::Result<()> {
    ok(ns, &["install", name, chart])?;
    ok(ns, &["upgrade", name, chart, "--set", "message=two"])?;
    ok(ns, &["upgrade", name, chart, "--set", "message=three"])?;
    damage(ns, name, 2, how).await?;
    let object = format!("sh.helm.release.v1.{name}.v2");
    let warned = |out: &Run, what: &str| {
        ensure!(
            out.stderr
                .contains("warning: skipped an unreadable release record")
                && out.stderr.contains(&object),
            "{how:?}: {what} names no skipped {object}:\n{}",
            out.stderr
        );
        Ok(())
    };

    // list: the latest revision is readable, so the release is listed as it is.
    let list = ok(ns, &["list", "-o", "json"])?;
    let rows: serde_json::Value = serde_json::from_str(&list.stdout)?;
    let row = rows
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == name))
        .with_context(|| format!("{how:?}: {name} not listed: {}", list.stdout))?;
    ensure!(
        row["revision"] == "3" && row["status"] == "deployed",
        "{how:?}: {row}"
    );

    let out = ok(ns, &["history", name])?;
    warned(&out, "history")?;
    let revisions: Vec<u64> = history(ns, name)?.into_iter().map(|r| r.0).collect();
    ensure!(revisions == [1, 3], "{how:?}: history {revisions:?}");

    let status = ok(ns, &["status", name])?;
    ensure!(
        status.stdout.contains("REVISION: 3"),
        "{how:?}: {}",
        status.stdout
    );
    ok(ns, &["get", "values", name])?;
    let get = run(ns, &["get", "values", name, "--revision", "2"]);
    ensure!(
        get.code != 0 && get.error_line().contains(&object),
        "{how:?}: get --revision 2 must fail naming {object}: {}",
        get.stderr
    );

    let upgrade = ok(ns, &["upgrade", name, chart, "--set", "message=four"])?;
    warned(&upgrade, "upgrade")?;
    let rollback = ok(ns, &["rollback", name, "1"])?;
    ensure!(
        rollback.stdout.contains("Rollback was a success"),
        "{how:?}: {}",
        rollback.stdout
    );
    let rows = history(ns, name)?;
    ensure!(
        rows == [
            (1, "superseded".into()),
            (3, "superseded".into()),
            (4, "superseded".into()),
            (5, "deployed".into())
        ],
        "{how:?}: {rows:?}"
    );
    let bad = run(ns, &["rollback", name, "2"]);
    ensure!(
        bad.code != 0 && bad.error_line().contains(&object),
        "{how:?}: rollback to the damaged revision must fail naming it: {}",
        bad.stderr
    );

    ok(ns, &["uninstall", name])?;
    let left = record_secrets(ns, name).await?;
    ensure!(left.is_empty(), "{how:?}: uninstall left {left:?}");
    Ok(())
}

#[tokio::test]
async fn a_damaged_old_revision_is_skipped_reported_and_removed() {
    with_namespace("hist-old", |ns| async move {
        let dir = tempfile::tempdir()?;
        let large = large_chart(dir.path())?;
        let small = chart();
        let mut outcomes = Vec::new();
        for how in Damage::ALL {
            let chart = match how {
                Damage::MissingPart => large.as_str(),
                _ => small.as_str(),
            };
            let name = format!("old-{}", how.label());
            old_revision_damaged(&ns, &name, chart, how).await?;
            outcomes.push(format!("{how:?}: ok"));
        }
        println!("damaged old revision: {}", outcomes.join(", "));
        Ok(())
    })
    .await;
}

/// The newest revision damaged: `list` names it, readers fall back to the newest readable
/// revision and say so; an upgrade goes above the damaged revision; uninstall removes it.
#[tokio::test]
async fn a_damaged_latest_revision_is_reported_and_stepped_over() {
    with_namespace("hist-latest", |ns| async move {
        let chart = chart();
        let chart = chart.as_str();
        for how in [Damage::Gzip, Damage::Truncated] {
            let name = format!("latest-{}", how.label());
            let name = name.as_str();
            ok(&ns, &["install", name, chart])?;
            ok(&ns, &["upgrade", name, chart, "--set", "message=two"])?;
            damage(&ns, name, 2, how).await?;
            let object = format!("sh.helm.release.v1.{name}.v2");

            // list: the damaged record still carries capstan's labels and annotations, but
            // another writer touched its payload, so list decodes it, keeps the release at
            // that revision and names the record.
            let list = ok(&ns, &["list", "-o", "json"])?;
            let rows: serde_json::Value = serde_json::from_str(&list.stdout)?;
            let row = rows
                .as_array()
                .and_then(|rows| rows.iter().find(|r| r["name"] == name))
                .with_context(|| format!("{how:?}: {name} not listed: {}", list.stdout))?;
            ensure!(
                row["revision"] == "2" && list.stderr.contains(&object),
                "{how:?}: list keeps revision 2 and names the unreadable record: {row}\n{}",
                list.stderr
            );

            let status = ok(&ns, &["status", name])?;
            ensure!(
                status.stdout.contains("REVISION: 1") && status.stderr.contains(&object),
                "{how:?}: status shows the newest readable revision and names the skipped one:\n{}{}",
                status.stdout,
                status.stderr
            );
            let get = ok(&ns, &["get", "values", name])?;
            ensure!(get.stderr.contains(&object), "{how:?}: {}", get.stderr);

            let upgrade = ok(&ns, &["upgrade", name, chart, "--set", "message=three"])?;
            ensure!(upgrade.stderr.contains(&object), "{how:?}: {}", upgrade.stderr);
            let rows = history(&ns, name)?;
            ensure!(
                rows.last() == Some(&(3, "deployed".to_owned())),
                "{how:?}: the upgrade takes revision 3, above the damaged one: {rows:?}"
            );
            ok(&ns, &["uninstall", name])?;
            let left = record_secrets(&ns, name).await?;
            ensure!(left.is_empty(), "{how:?}: uninstall left {left:?}");
        }

        // Every record unreadable: uninstall still removes them all.
        ok(&ns, &["install", "all-bad", chart])?;
        damage(&ns, "all-bad", 1, Damage::Base64).await?;
        let status = run(&ns, &["status", "all-bad"]);
        ensure!(
            status.code != 0 && status.error_line().contains("sh.helm.release.v1.all-bad.v1"),
            "{}",
            status.stderr
        );
        ok(&ns, &["uninstall", "all-bad"])?;
        ensure!(record_secrets(&ns, "all-bad").await?.is_empty());
        Ok(())
    })
    .await;
}

/// A record Helm wrote (no capstan annotations, so `list` decodes it) damaged afterwards:
/// `capstan list` keeps the release at that revision and warns, Helm skips it.
#[tokio::test]
async fn a_damaged_record_helm_wrote_is_reported_by_list() {
    with_namespace("hist-helm", |ns| async move {
        let helm = Helm::new("v3.22.0", "secret", ns.name())?;
        let chart = chart();
        helm.run(&["install", "web", &chart]).await?;
        helm.run(&["upgrade", "web", &chart, "--set", "message=two"])
            .await?;
        damage(&ns, "web", 2, Damage::Json).await?;
        let list = ok(&ns, &["list", "-o", "json"])?;
        let rows: serde_json::Value = serde_json::from_str(&list.stdout)?;
        ensure!(
            rows[0]["name"] == "web" && rows[0]["revision"] == "2",
            "the release stays at its latest revision, not an older one: {rows}"
        );
        ensure!(
            list.stderr.contains("sh.helm.release.v1.web.v2"),
            "list names the unreadable record: {}",
            list.stderr
        );
        let helm_list = helm.json(&["list"]).await?;
        println!("helm list with the damaged record: {helm_list}");
        ok(&ns, &["upgrade", "web", &chart, "--set", "message=three"])?;
        let helm_history = helm.json(&["history", "web"]).await?;
        let revisions: Vec<String> = helm_history
            .as_array()
            .context("helm history is an array")?
            .iter()
            .map(|r| capstan_testkit::helm::text(&r["revision"]))
            .collect();
        ensure!(revisions == ["1", "3"], "helm history: {revisions:?}");
        ok(&ns, &["uninstall", "web"])?;
        ensure!(record_secrets(&ns, "web").await?.is_empty());
        Ok(())
    })
    .await;
}

/// The status label of `sh.helm.release.v1.NAME.vN`, when it exists.
async fn status_label(ns: &TestNamespace, name: &str, revision: u32) -> Option<String> {
    let object = format!("sh.helm.release.v1.{name}.v{revision}");
    ns.api::<Secret>()
        .get_opt(&object)
        .await
        .ok()
        .flatten()
        .and_then(|s| s.metadata.labels?.get("status").cloned())
}

/// Starts `helm upgrade --wait` of pods that never become ready and kills it (SIGKILL) once its
/// revision is recorded: the revision stays pending-upgrade, with no lease.
async fn leave_helm_pending(
    helm_binary: &Path,
    ns: &TestNamespace,
    revision: u32,
) -> anyhow::Result<()> {
    let home = tempfile::tempdir()?;
    let mut child = Command::new(helm_binary)
        .args(["upgrade", "web", &chart(), "--wait", "--timeout", "5m"])
        .args(["--set", "image.tag=never-ready", "-n", ns.name()])
        .arg("--kubeconfig")
        .arg(capstan_testkit::kubeconfig_path())
        .env("HELM_DRIVER", "secret")
        .env("HELM_CACHE_HOME", home.path().join("cache"))
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_DATA_HOME", home.path().join("data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let started = Instant::now();
    while status_label(ns, "web", revision).await.as_deref() != Some("pending-upgrade") {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            bail!("helm never recorded revision {revision}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill()?;
    child.wait()?;
    Ok(())
}

#[tokio::test]
async fn a_pending_revision_left_by_helm_is_cleared_with_recover() {
    with_namespace("hist-recover", |ns| async move {
        let helm = Helm::new("v3.22.0", "secret", ns.name())?;
        let helm_binary = capstan_testkit::helm::binary("v3.22.0")?;
        let chart = chart();
        helm.run(&["install", "web", &chart]).await?;
        let trials = 3;
        let mut recovered = 0;
        for trial in 0..trials {
            // Revisions: helm's pending one, then capstan's.
            let pending = 2 + 2 * trial;
            leave_helm_pending(&helm_binary, &ns, pending).await?;
            let refused = run(&ns, &["upgrade", "web", &chart]);
            ensure!(
                refused.code == 3
                    && refused.error_line().contains("in progress")
                    && refused.error_line().contains("--recover"),
                "without --recover: exit {} {}",
                refused.code,
                refused.stderr
            );
            let out = ok(&ns, &["upgrade", "web", &chart, "--recover"])?;
            ensure!(
                out.stderr.contains(&format!("recovered revision {pending}")),
                "{}",
                out.stderr
            );
            let rows = history(&ns, "web")?;
            let tail: Vec<_> = rows.iter().rev().take(2).rev().cloned().collect();
            ensure!(
                tail == [
                    (u64::from(pending), "failed".to_owned()),
                    (u64::from(pending + 1), "deployed".to_owned())
                ],
                "trial {trial}: {rows:?}"
            );
            recovered += 1;
        }
        // Helm reads what capstan wrote.
        let helm_history = helm.json(&["history", "web"]).await?;
        ensure!(
            helm_history.as_array().map(Vec::len) == Some(1 + 2 * trials as usize),
            "{helm_history}"
        );
        println!("pending revisions left by a killed helm v3.22.0 upgrade, cleared by capstan upgrade --recover: {recovered}/{trials}");
        Ok(())
    })
    .await;
}

/// `helm upgrade` and `capstan upgrade` (with `--wait-for-lock` when `wait`) started together,
/// `trials` times; after each, no revision is pending and exactly one, the latest, is deployed.
/// Returns how each trial went.
async fn race_helm(
    ns: &TestNamespace,
    helm: &Helm,
    trials: i64,
    wait: bool,
) -> anyhow::Result<BTreeMap<&'static str, usize>> {
    let chart = chart();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for trial in 0..trials {
        let helm_set = format!("message=helm-{trial}");
        let capstan_set = format!("message=capstan-{trial}");
        let mut command = Command::new(binary("capstan"));
        command
            .args(["upgrade", "web", &chart, "--set", &capstan_set])
            .args(["--history-max", "3", "-n", ns.name()])
            .args(if wait {
                &["--wait-for-lock", "60s"][..]
            } else {
                &[]
            })
            .env("KUBECONFIG", capstan_testkit::kubeconfig_path())
            .env_remove("CAPSTAN_RENDERER")
            .env_remove("CAPSTAN_APPLIER")
            .env_remove("HELM_DRIVER");
        // capstan starts this long after Helm, in steps of 20 ms across the moments where the
        // two reach the history at about the same time; `--history-max 3` makes capstan prune
        // a revision or two between reading the history and creating its revision, which
        // widens the window in which Helm's create can come first.
        let offset = 380 + (trial % 12) * 20;
        let capstan_run = async {
            tokio::time::sleep(Duration::from_millis(offset as u64)).await;
            tokio::task::spawn_blocking(move || command.output()).await
        };
        let helm_args = ["upgrade", "web", &chart, "--set", &helm_set];
        let helm_run = helm.run(&helm_args);
        let (out, helm_result) = tokio::join!(capstan_run, helm_run);
        let out = out??;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let error = stderr
            .lines()
            .find(|l| l.starts_with("Error: "))
            .unwrap_or_default();
        ensure!(
            !wait || out.status.success(),
            "trial {trial}: capstan with --wait-for-lock failed: {stderr}"
        );
        let outcome = if !out.status.success() {
            if error.contains("wrote revision") && error.contains("--wait-for-lock") {
                "capstan lost the create to helm: error naming --wait-for-lock"
            } else if error.contains("in progress") && error.contains("--recover") {
                "capstan found helm's revision pending: error naming --recover"
            } else {
                bail!("trial {trial}: capstan failed unclearly: {stderr}");
            }
        } else if stderr.contains("wrote revision") {
            "capstan lost the create to helm and retried"
        } else if stderr.contains("is pending and no capstan operation holds the lock") {
            "capstan waited for helm's pending revision"
        } else if helm_result.is_err() {
            "helm lost (already exists / in progress)"
        } else {
            "one after the other"
        };
        *counts.entry(outcome).or_default() += 1;
        let rows = history(ns, "web")?;
        let deployed = rows.iter().filter(|r| r.1 == "deployed").count();
        let pending = rows.iter().filter(|r| r.1.starts_with("pending")).count();
        ensure!(
            pending == 0 && deployed == 1 && rows.last().map(|r| r.1.as_str()) == Some("deployed"),
            "trial {trial}: {rows:?}"
        );
    }
    Ok(counts)
}

/// With `--wait-for-lock` capstan always ends deployed on top of whatever Helm wrote, never
/// "already exists".
#[tokio::test]
async fn the_create_race_with_helm_is_retried_with_wait_for_lock() {
    with_namespace("hist-race", |ns| async move {
        let helm = Helm::new("v3.22.0", "secret", ns.name())?;
        helm.run(&["install", "web", &chart()]).await?;
        let trials = 24;
        let counts = race_helm(&ns, &helm, trials, true).await?;
        println!("create race with helm v3.22.0, --wait-for-lock, {trials} trials: {counts:?}");
        Ok(())
    })
    .await;
}

/// Without `--wait-for-lock` capstan either deploys or fails with an error saying what
/// happened and what to do (never a bare "already exists").
#[tokio::test]
async fn the_create_race_with_helm_fails_clearly_without_wait_for_lock() {
    with_namespace("hist-race-nowait", |ns| async move {
        let helm = Helm::new("v3.22.0", "secret", ns.name())?;
        helm.run(&["install", "web", &chart()]).await?;
        let trials = 24;
        let counts = race_helm(&ns, &helm, trials, false).await?;
        println!("create race with helm v3.22.0, no --wait-for-lock, {trials} trials: {counts:?}");
        Ok(())
    })
    .await;
}

/// Median wall time of `capstan ARGS -n NS` over `runs` runs.
fn timed(ns: &TestNamespace, args: &[&str], runs: usize) -> anyhow::Result<Duration> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        ok(ns, args)?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// Operations on a split release cost the same with 1 revision as with 11: only the revisions
/// an operation needs are decoded.
#[tokio::test]
async fn split_release_operations_do_not_slow_down_as_history_grows() {
    with_namespace("hist-cost", |ns| async move {
        let dir = tempfile::tempdir()?;
        let chart = large_chart(dir.path())?;
        let chart = chart.as_str();
        ok(&ns, &["install", "big", chart])?;
        ensure!(
            record_secrets(&ns, "big").await?.len() > 1,
            "the release is split"
        );
        let status_1 = timed(&ns, &["status", "big"], 3)?;
        let started = Instant::now();
        ok(&ns, &["upgrade", "big", chart, "--set", "message=2"])?;
        let upgrade_2 = started.elapsed();
        for revision in 3..=11 {
            let set = format!("message={revision}");
            ok(&ns, &["upgrade", "big", chart, "--set", &set, "--history-max", "0"])?;
        }
        let status_11 = timed(&ns, &["status", "big"], 3)?;
        let started = Instant::now();
        ok(&ns, &["upgrade", "big", chart, "--set", "message=12", "--history-max", "0"])?;
        let upgrade_12 = started.elapsed();
        println!(
            "split release: status {status_1:?} at 1 revision, {status_11:?} at 11; upgrade {upgrade_2:?} to revision 2, {upgrade_12:?} to revision 12"
        );
        // Generous bounds (a shared machine): decoding 11 revisions took 2.4x as long.
        ensure!(
            status_11 < status_1 * 2 + Duration::from_secs(1),
            "status slowed from {status_1:?} to {status_11:?}"
        );
        ensure!(
            upgrade_12 < upgrade_2 * 2 + Duration::from_secs(2),
            "upgrade slowed from {upgrade_2:?} to {upgrade_12:?}"
        );
        ok(&ns, &["uninstall", "big"])?;
        ensure!(record_secrets(&ns, "big").await?.is_empty());
        Ok(())
    })
    .await;
}

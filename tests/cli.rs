//! The `capstan` binary as a user runs it, against the real local control plane: the tutorial's
//! release workflow with `examples/charts/webapp` (install two releases, list, upgrade with
//! `--set`, history, get values, an `--atomic` upgrade to a broken image that rolls itself back,
//! rollback to 2, uninstall `--keep-history` and re-install by rollback), both with the services
//! in-process and against `capstan-renderer` and `capstan-applier` daemons started as separate
//! processes; bad input, which must fail with one clear message and a non-zero exit (with
//! distinct exit codes for a held lock and a timeout); `HELM_DRIVER` and `--history-max`; and
//! Ctrl-C, SIGTERM and SIGHUP, which cancel the operation and leave the revision failed, never
//! pending, and the lock released; output closed early (`| head -1`), which ends quietly; a
//! template error too long for a gRPC status, which arrives shortened;
//! `--wait-for-lock`, `--server-side`/`--force-conflicts`, `--labels` and `--generate-name`; and
//! an applier process killed (`kill -9`) mid-upgrade, whose interrupted revision a new applier
//! recovers once the dead holder's lease expires (and counts in its metrics).
//!
//! The binaries are the ones cargo built next to this test (`cargo test --workspace` builds
//! them; alone, run `cargo build -p capstan-cli -p capstan-applier -p capstan-renderer` first).

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, ensure};
use capstan_e2e::process::{Run, binary};
use capstan_testkit::{TestNamespace, with_namespace};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, PostParams};

fn webapp() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/charts/webapp")
        .display()
        .to_string()
}

/// Runs `capstan` in one namespace, in-process or against daemons.
struct Capstan {
    namespace: String,
    /// `--renderer ADDR --applier ADDR`, or nothing for in-process services.
    remote: Vec<String>,
    /// `HELM_DRIVER`, when set.
    driver: Option<&'static str>,
}

impl Capstan {
    /// `capstan ARGS` in this namespace, ready to run.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary("capstan"));
        command
            .envs(self.driver.map(|d| ("HELM_DRIVER", d)))
            .args(args)
            .args(["-n", &self.namespace])
            .args(&self.remote)
            .env("KUBECONFIG", capstan_testkit::kubeconfig_path())
            .env_remove("CAPSTAN_RENDERER")
            .env_remove("CAPSTAN_APPLIER")
            .env_remove("HELM_NAMESPACE")
            .env_remove("HELM_MAX_HISTORY");
        command
    }

    fn run(&self, args: &[&str]) -> Run {
        self.command(args).output().expect("capstan runs").into()
    }

    /// Runs and requires success; returns standard output.
    fn ok(&self, args: &[&str]) -> anyhow::Result<String> {
        self.run(args).ok(args)
    }

    /// Runs and requires failure; returns standard error.
    fn fails(&self, args: &[&str]) -> anyhow::Result<Run> {
        let run = self.run(args);
        ensure!(
            run.code != 0,
            "capstan {args:?} should have failed:\n{}",
            run.stdout
        );
        // `Error: ` from capstan, `error: ` from clap for a malformed command line.
        let first = run
            .stderr
            .lines()
            .find(|l| l.starts_with("Error: ") || l.starts_with("error: "));
        ensure!(
            first.is_some(),
            "capstan {args:?}: no error line in:\n{}",
            run.stderr
        );
        Ok(run)
    }
}

/// Whitespace-normalised lines (table cells are tab- and space-padded).
fn rows(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect()
}

/// `(revision, status, description)` of each history row.
fn history(capstan: &Capstan, name: &str) -> anyhow::Result<Vec<(u64, String, String)>> {
    capstan_e2e::history_rows(&capstan.ok(&["history", name, "-o", "json"])?)
}

async fn deployment(ns: &TestNamespace, name: &str) -> anyhow::Result<Option<Deployment>> {
    Ok(ns.api::<Deployment>().get_opt(name).await?)
}

fn image(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

/// The tutorial's workflow.
async fn tutorial(ns: &TestNamespace, capstan: &Capstan) -> anyhow::Result<()> {
    let chart = webapp();
    let chart = chart.as_str();

    // Two independent releases of the same chart.
    let out = capstan.ok(&["install", "prod-api", chart, "--wait", "--timeout", "2m"])?;
    ensure!(out.contains("STATUS: deployed"), "{out}");
    ensure!(out.contains("REVISION: 1"), "{out}");
    ensure!(
        out.contains("NOTES:\nwebapp"),
        "install prints the notes: {out}"
    );
    let values = std::env::temp_dir().join(format!("capstan-staging-{}.yaml", ns.name()));
    std::fs::write(&values, "config:\n  greeting: staging\n")?;
    capstan.ok(&[
        "install",
        "staging-api",
        chart,
        "-f",
        values.to_str().unwrap(),
    ])?;
    std::fs::remove_file(&values).ok();

    // list, with the tutorial's columns.
    let list = rows(&capstan.ok(&["list"])?);
    ensure!(
        list[0] == "NAME NAMESPACE REVISION UPDATED STATUS CHART APP VERSION",
        "{list:?}"
    );
    ensure!(list.len() == 3, "{list:?}");
    for (row, name) in list[1..].iter().zip(["prod-api", "staging-api"]) {
        ensure!(
            row.starts_with(&format!("{name} {} 1 ", ns.name())),
            "{row}"
        );
        ensure!(row.ends_with("deployed webapp-0.1.0 1.27.0"), "{row}");
    }
    let filtered = rows(&capstan.ok(&["list", "--filter", "prod.*"])?);
    ensure!(
        filtered.len() == 2 && filtered[1].starts_with("prod-api "),
        "{filtered:?}"
    );
    let all = capstan.ok(&["ls", "-A"])?;
    ensure!(all.contains("staging-api"), "{all}");
    ensure!(capstan.ok(&["list", "--failed"])?.lines().count() == 1);
    let json: serde_json::Value = serde_json::from_str(&capstan.ok(&["list", "-o", "json"])?)?;
    ensure!(
        json[0]["name"] == "prod-api" && json[0]["revision"] == "1",
        "{json}"
    );

    // upgrade with --set.
    let out = capstan.ok(&["upgrade", "prod-api", chart, "--set", "replicaCount=5"])?;
    ensure!(
        out.contains("Release \"prod-api\" has been upgraded"),
        "{out}"
    );
    ensure!(out.contains("REVISION: 2"), "{out}");
    let live = deployment(ns, "prod-api-webapp")
        .await?
        .context("deployed")?;
    ensure!(live.spec.as_ref().and_then(|s| s.replicas) == Some(5));

    // diff: what the next upgrade would change, and how two revisions differ.
    let planned = capstan.run(&[
        "diff",
        "upgrade",
        "prod-api",
        chart,
        "--set",
        "replicaCount=4",
        "--detailed-exitcode",
    ]);
    ensure!(
        planned.code == 2,
        "diff with changes exits 2: {} {}",
        planned.stdout,
        planned.stderr
    );
    ensure!(
        planned
            .stdout
            .contains("prod-api-webapp, Deployment (apps) has changed:")
            && planned.stdout.contains("-  replicas: 5")
            && planned.stdout.contains("+  replicas: 4"),
        "{}",
        planned.stdout
    );
    let same = capstan.run(&[
        "diff",
        "upgrade",
        "prod-api",
        chart,
        "--reuse-values",
        "--detailed-exitcode",
    ]);
    ensure!(
        same.code == 0 && same.stdout.is_empty(),
        "no changes: {} {}",
        same.stdout,
        same.stderr
    );
    let revisions = capstan.ok(&["diff", "revision", "prod-api", "1", "2"])?;
    ensure!(
        revisions.contains("-  replicas: 1") && revisions.contains("+  replicas: 5"),
        "{revisions}"
    );

    // history, with the tutorial's columns.
    let table = rows(&capstan.ok(&["hist", "prod-api"])?);
    ensure!(
        table[0] == "REVISION UPDATED STATUS CHART APP VERSION DESCRIPTION",
        "{table:?}"
    );
    ensure!(
        table[1].starts_with("1 ")
            && table[1].ends_with("superseded webapp-0.1.0 1.27.0 Install complete"),
        "{table:?}"
    );
    ensure!(
        table[2].starts_with("2 ")
            && table[2].ends_with("deployed webapp-0.1.0 1.27.0 Upgrade complete"),
        "{table:?}"
    );

    // get values: user, all, by revision.
    let user = capstan.ok(&["get", "values", "prod-api"])?;
    ensure!(
        user == "USER-SUPPLIED VALUES:\nreplicaCount: 5\n",
        "{user:?}"
    );
    let computed = capstan.ok(&["get", "values", "prod-api", "--all"])?;
    ensure!(computed.starts_with("COMPUTED VALUES:\n"), "{computed}");
    ensure!(
        computed.contains("greeting: Hello from capstan"),
        "{computed}"
    );
    ensure!(computed.contains("replicaCount: 5"), "{computed}");
    let first = capstan.ok(&["get", "values", "prod-api", "--revision", "1"])?;
    ensure!(first == "USER-SUPPLIED VALUES:\nnull\n", "{first:?}");
    let json = capstan.ok(&["get", "values", "prod-api", "-o", "json"])?;
    ensure!(json.trim() == r#"{"replicaCount":5}"#, "{json}");
    let manifest = capstan.ok(&["get", "manifest", "prod-api", "--revision", "1"])?;
    ensure!(
        manifest.contains("# Source: webapp/templates/deployment.yaml"),
        "{manifest}"
    );
    let notes = capstan.ok(&["get", "notes", "prod-api"])?;
    ensure!(notes.contains("(revision 2)"), "{notes}");
    let hooks = capstan.ok(&["get", "hooks", "prod-api"])?;
    ensure!(hooks.contains("helm.sh/hook"), "{hooks}");
    let metadata = capstan.ok(&["get", "metadata", "prod-api"])?;
    ensure!(
        metadata.contains("CHART: webapp") && metadata.contains("REVISION: 2"),
        "{metadata}"
    );
    let everything = capstan.ok(&["get", "all", "prod-api"])?;
    for part in [
        "USER-SUPPLIED VALUES:",
        "COMPUTED VALUES:",
        "MANIFEST:",
        "NOTES:",
    ] {
        ensure!(everything.contains(part), "{part} in {everything}");
    }

    // An atomic upgrade to an image that never gets ready rolls itself back.
    let failed = capstan.fails(&[
        "upgrade",
        "prod-api",
        chart,
        "--atomic",
        "--timeout",
        "15s",
        "--set",
        "image.tag=never-ready",
    ])?;
    ensure!(
        failed
            .stderr
            .contains("has been rolled back due to atomic being set"),
        "{}",
        failed.stderr
    );
    // Progress is streamed as timestamped lines (stderr is not a terminal here).
    ensure!(
        failed
            .stderr
            .lines()
            .any(|l| l.ends_with("waiting (revision 3)") && l.starts_with("20")),
        "{}",
        failed.stderr
    );
    let revisions = history(capstan, "prod-api")?;
    let statuses: Vec<(u64, &str)> = revisions.iter().map(|(r, s, _)| (*r, s.as_str())).collect();
    ensure!(
        statuses
            == [
                (1, "superseded"),
                (2, "superseded"),
                (3, "failed"),
                (4, "deployed")
            ],
        "{revisions:?}"
    );
    ensure!(revisions[3].2 == "Rollback to 2", "{revisions:?}");
    let live = deployment(ns, "prod-api-webapp")
        .await?
        .context("still deployed")?;
    ensure!(!image(&live).contains("never-ready"), "{}", image(&live));

    // Roll back to 2 explicitly.
    let out = capstan.ok(&["rollback", "prod-api", "2", "--wait", "--timeout", "2m"])?;
    ensure!(out.contains("Rollback was a success"), "{out}");
    let revisions = history(capstan, "prod-api")?;
    ensure!(
        revisions
            .last()
            .map(|(r, s, d)| (*r, s.as_str(), d.as_str()))
            == Some((5, "deployed", "Rollback to 2")),
        "{revisions:?}"
    );
    let status = capstan.ok(&["status", "prod-api"])?;
    ensure!(
        status.contains("STATUS: deployed") && status.contains("REVISION: 5"),
        "{status}"
    );
    // status shows the live state of each object.
    ensure!(
        status.contains("RESOURCES:") && status.contains("deployment/prod-api-webapp"),
        "{status}"
    );

    // Uninstall keeping history, then re-install by rollback.
    let out = capstan.ok(&["uninstall", "prod-api", "--keep-history"])?;
    ensure!(out.contains("release \"prod-api\" uninstalled"), "{out}");
    ensure!(
        deployment(ns, "prod-api-webapp").await?.is_none(),
        "objects deleted"
    );
    let uninstalled = rows(&capstan.ok(&["list", "--uninstalled"])?);
    ensure!(
        uninstalled.len() == 2 && uninstalled[1].contains(" uninstalled "),
        "{uninstalled:?}"
    );
    capstan.ok(&["rollback", "prod-api"])?;
    let status: serde_json::Value =
        serde_json::from_str(&capstan.ok(&["status", "prod-api", "-o", "json"])?)?;
    ensure!(status["info"]["status"] == "deployed", "{status}");
    ensure!(status["version"] == 6, "{status}");
    ensure!(
        deployment(ns, "prod-api-webapp").await?.is_some(),
        "re-installed"
    );

    // staging-api was never touched.
    ensure!(history(capstan, "staging-api")?.len() == 1);
    capstan.ok(&["uninstall", "staging-api"])?;
    ensure!(
        capstan
            .fails(&["status", "staging-api"])?
            .stderr
            .contains("not found")
    );
    Ok(())
}

#[tokio::test]
async fn tutorial_in_process() {
    with_namespace("cli-inproc", |ns| async move {
        let capstan = Capstan {
            namespace: ns.name().to_owned(),
            remote: Vec::new(),
            driver: None,
        };
        tutorial(&ns, &capstan).await
    })
    .await;
}

/// A daemon process, stopped when dropped.
struct Daemon {
    child: Child,
    addr: String,
    /// `http://ADDR/metrics`, when started with `--metrics-listen`.
    metrics: Option<String>,
}

impl Daemon {
    fn start(name: &str, args: &[&str]) -> anyhow::Result<Daemon> {
        let mut child = Command::new(binary(name))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env_remove("HELM_DRIVER")
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let mut stdout = BufReader::new(child.stdout.take().context("piped stdout")?);
        let mut last_word = || -> anyhow::Result<String> {
            let mut line = String::new();
            stdout.read_line(&mut line)?;
            Ok(line
                .trim()
                .rsplit(' ')
                .next()
                .filter(|a| a.contains(':'))
                .with_context(|| format!("{name} printed no address: {line:?}"))?
                .to_owned())
        };
        let addr = last_word()?;
        let metrics = if args.contains(&"--metrics-listen") {
            Some(last_word()?)
        } else {
            None
        };
        Ok(Daemon {
            child,
            addr,
            metrics,
        })
    }

    /// The daemon's metrics (`GET /metrics`).
    async fn scrape(&self) -> anyhow::Result<String> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let url = self
            .metrics
            .as_deref()
            .context("started without --metrics-listen")?;
        let host = url
            .trim_start_matches("http://")
            .trim_end_matches("/metrics");
        let mut stream = tokio::net::TcpStream::connect(host).await?;
        let request = format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        Ok(response)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn tutorial_against_daemons() {
    with_namespace("cli-daemons", |ns| async move {
        let renderer = Daemon::start("capstan-renderer", &["--listen", "127.0.0.1:0"])?;
        let kubeconfig = capstan_testkit::kubeconfig_path();
        let applier = Daemon::start(
            "capstan-applier",
            &[
                "--listen",
                "127.0.0.1:0",
                "--kubeconfig",
                kubeconfig.to_str().unwrap(),
            ],
        )?;
        let capstan = Capstan {
            namespace: ns.name().to_owned(),
            remote: vec![
                "--renderer".into(),
                renderer.addr.clone(),
                "--applier".into(),
                applier.addr.clone(),
            ],
            driver: None,
        };
        tutorial(&ns, &capstan).await
    })
    .await;
}

#[tokio::test]
async fn bad_input_fails_with_one_clear_line() {
    with_namespace("cli-bad", |ns| async move {
        let capstan = Capstan {
            namespace: ns.name().to_owned(),
            remote: Vec::new(),
            driver: None,
        };
        let chart = webapp();
        let chart = chart.as_str();
        let first_line = |run: &Run| {
            run.stderr
                .lines()
                .find(|l| l.starts_with("Error: ") || l.starts_with("error: "))
                .unwrap_or_default()
                .to_owned()
        };

        for args in [
            &["status", "ghost"][..],
            &["history", "ghost"],
            &["get", "values", "ghost"],
            &["rollback", "ghost"],
            &["uninstall", "ghost"],
        ] {
            let run = capstan.fails(args)?;
            ensure!(
                first_line(&run).contains("\"ghost\"") && first_line(&run).contains("not found"),
                "{args:?}: {}",
                run.stderr
            );
        }

        let run = capstan.fails(&["install", "Bad_Name", chart])?;
        ensure!(first_line(&run).contains("Bad_Name"), "{}", run.stderr);

        let run = capstan.fails(&["install", "web", "/no/such/chart"])?;
        ensure!(
            first_line(&run).contains("/no/such/chart"),
            "{}",
            run.stderr
        );
        ensure!(first_line(&run).contains("not found"), "{}", run.stderr);

        let run = capstan.fails(&["install", "web", chart, "--set", "a.b[=c"])?;
        ensure!(
            first_line(&run).contains("a.b[=c") || first_line(&run).contains("set"),
            "{}",
            run.stderr
        );

        capstan.ok(&["install", "web", chart])?;
        let run = capstan.fails(&["rollback", "web", "99"])?;
        ensure!(first_line(&run).contains("revision 99"), "{}", run.stderr);
        let run = capstan.fails(&["get", "values", "web", "--revision", "99"])?;
        ensure!(first_line(&run).contains("revision 99"), "{}", run.stderr);
        let run = capstan.fails(&["install", "web", chart])?;
        ensure!(first_line(&run).contains("still in use"), "{}", run.stderr);
        let run = capstan.fails(&["upgrade", "web", chart, "--timeout", "soon"])?;
        ensure!(first_line(&run).contains("soon"), "{}", run.stderr);

        // A release whose lock another live operation holds has its own exit code, and the
        // message says who holds it.
        let now = Timestamp::now();
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some("capstan.release.locked".into()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some("applier-elsewhere/op-42".into()),
                lease_duration_seconds: Some(300),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                ..LeaseSpec::default()
            }),
        };
        ns.api::<Lease>()
            .create(&PostParams::default(), &lease)
            .await?;
        let run = capstan.fails(&["install", "locked", chart])?;
        ensure!(run.code == 3, "exit {}: {}", run.code, run.stderr);
        ensure!(
            first_line(&run).contains("applier-elsewhere/op-42"),
            "{}",
            run.stderr
        );

        // A wait that times out has its own exit code.
        let run = capstan.fails(&[
            "upgrade",
            "web",
            chart,
            "--wait",
            "--timeout",
            "5s",
            "--set",
            "image.tag=never-ready",
        ])?;
        ensure!(run.code == 4, "exit {}: {}", run.code, run.stderr);
        ensure!(first_line(&run).contains("timed out"), "{}", run.stderr);
        Ok(())
    })
    .await;
}

/// `--qps` and `--burst-limit` throttle the client as client-go does: with a burst of one and one
/// request a second, a `history` (the version probe, then reading the release's records) cannot
/// finish within a second, and still answers what an unthrottled one does.
#[tokio::test]
async fn qps_and_burst_limit_throttle_requests() {
    with_namespace("cli-qps", |ns| async move {
        let capstan = Capstan {
            namespace: ns.name().to_owned(),
            remote: Vec::new(),
            driver: None,
        };
        capstan.ok(&["install", "web", &webapp()])?;
        let free = capstan.ok(&["history", "web"])?;
        let started = std::time::Instant::now();
        let throttled = capstan.ok(&["history", "web", "--qps", "1", "--burst-limit", "1"])?;
        let elapsed = started.elapsed();
        ensure!(
            elapsed >= std::time::Duration::from_secs(1),
            "two or more requests at one a second after a burst of one took {elapsed:?}"
        );
        ensure!(rows(&throttled) == rows(&free), "{throttled}\n{free}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn helm_driver_and_history_max_are_honoured() {
    with_namespace("cli-driver", |ns| async move {
        let capstan = Capstan {
            namespace: ns.name().to_owned(),
            remote: Vec::new(),
            driver: Some("configmap"),
        };
        let chart = webapp();
        let chart = chart.as_str();
        capstan.ok(&["install", "cm", chart])?;
        for replicas in ["2", "3", "4"] {
            let set = format!("replicaCount={replicas}");
            capstan.ok(&["upgrade", "cm", chart, "--set", &set, "--history-max", "2"])?;
        }
        let configmaps = ns.api::<ConfigMap>();
        let mut names: Vec<String> = configmaps
            .list(&ListParams::default().labels("owner=helm,name=cm"))
            .await?
            .items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect();
        names.sort();
        ensure!(
            names == ["sh.helm.release.v1.cm.v3", "sh.helm.release.v1.cm.v4"],
            "{names:?}"
        );
        let revisions: Vec<u64> = history(&capstan, "cm")?.iter().map(|r| r.0).collect();
        ensure!(revisions == [3, 4], "{revisions:?}");
        ensure!(
            ns.api::<k8s_openapi::api::core::v1::Secret>()
                .list(&ListParams::default().labels("owner=helm"))
                .await?
                .items
                .is_empty(),
            "nothing stored as Secrets"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn an_interrupt_cancels_and_the_revision_ends_failed() {
    with_namespace("cli-interrupt", |ns| async move {
        let (mut child, mut stderr, _) = start_waiting("install", "web", &webapp(), ns.name())?;
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()?;
        ensure!(status.success());
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest)?;
        let exit = child.wait()?;
        ensure!(!exit.success(), "{rest}");
        ensure!(
            rest.contains("Error: operation cancelled by interrupt"),
            "{rest}"
        );
        let capstan = Capstan {
            namespace: ns.name().to_owned(),
            remote: Vec::new(),
            driver: None,
        };
        let revisions = history(&capstan, "web")?;
        ensure!(
            revisions.len() == 1
                && revisions[0].1 == "failed"
                && revisions[0].2.contains("cancelled"),
            "{revisions:?}"
        );
        Ok(())
    })
    .await;
}

/// Starts `capstan ARGS` (on the local control plane, no daemon address or driver from the
/// environment) and returns once a line of its standard error satisfies `until`: the process,
/// the rest of its standard error, and what it printed up to then.
fn spawn_until(
    args: &[&str],
    until: impl Fn(&str) -> bool,
) -> anyhow::Result<(Child, BufReader<std::process::ChildStderr>, String)> {
    let mut child = Command::new(binary("capstan"))
        .args(args)
        .env("KUBECONFIG", capstan_testkit::kubeconfig_path())
        .env_remove("CAPSTAN_RENDERER")
        .env_remove("CAPSTAN_APPLIER")
        .env_remove("HELM_DRIVER")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stderr = BufReader::new(child.stderr.take().context("piped stderr")?);
    let mut seen = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        ensure!(
            stderr.read_line(&mut line)? > 0,
            "capstan {} ended before the awaited line:\n{seen}",
            args.first().copied().unwrap_or_default()
        );
        seen.push_str(&line);
        if until(line.trim_end()) {
            return Ok((child, stderr, seen));
        }
    }
}

/// Starts `capstan VERB NAME CHART --wait` in `namespace` with pods that never become ready, and
/// returns once it says it is waiting (see [`spawn_until`]).
fn start_waiting(
    verb: &str,
    name: &str,
    chart: &str,
    namespace: &str,
) -> anyhow::Result<(Child, BufReader<std::process::ChildStderr>, String)> {
    spawn_until(
        &[
            verb,
            name,
            chart,
            "--wait",
            "--set",
            "image.tag=never-ready",
            "-n",
            namespace,
        ],
        |line| line.contains("waiting (revision"),
    )
}

/// How many times each signal scenario runs: enough to show a signal never finds the CLI
/// without its handler, whatever it is doing when the wait begins.
const SIGNAL_TRIALS: usize = 3;

/// SIGTERM or SIGHUP to `capstan install`/`upgrade --wait` of release `name` whose pods never
/// become ready, once the wait has begun, [`SIGNAL_TRIALS`] times each way (installs first,
/// then upgrades): the CLI exits 1 saying what cancelled it, the revision ends `failed` (never
/// pending), the release's Lease is gone, and a following upgrade proceeds at once (no lock
/// wait); counts printed.
async fn signal_cancels_each_time(
    ns: &TestNamespace,
    name: &str,
    signal: nix::sys::signal::Signal,
) -> anyhow::Result<()> {
    let capstan = Capstan {
        namespace: ns.name().to_owned(),
        remote: Vec::new(),
        driver: None,
    };
    let chart = webapp();
    let mut cancelled = Vec::new();
    for trial in 0..SIGNAL_TRIALS {
        let verb = if trial == 0 { "install" } else { "upgrade" };
        let (mut child, mut stderr, seen) = start_waiting(verb, name, &chart, ns.name())
            .with_context(|| format!("trial {trial}"))?;
        let sent = std::time::Instant::now();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(child.id())?),
            signal,
        )?;
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest)?;
        let exit = child.wait()?;
        let took = sent.elapsed();
        ensure!(
            exit.code() == Some(1),
            "trial {trial}: capstan {verb} after {signal}: {exit}\n{seen}{rest}"
        );
        ensure!(
            rest.contains(&format!("Error: operation cancelled by {signal}")),
            "trial {trial}: {rest}"
        );
        let revisions = history(&capstan, name)?;
        let last = revisions.last().context("a revision")?;
        ensure!(
            last.0 == revisions.len() as u64
                && last.1 == "failed"
                && last.2.contains("cancelled")
                && revisions.iter().all(|r| !r.1.starts_with("pending")),
            "trial {trial}: {revisions:?}"
        );
        let lease = ns
            .api::<Lease>()
            .get_opt(&format!("capstan.release.{name}"))
            .await?;
        ensure!(
            lease.is_none(),
            "trial {trial}: the lock is still held: {lease:?}"
        );
        // Without --wait-for-lock: a held lock would fail at once with exit 3.
        capstan.ok(&["upgrade", name, &chart, "--set", "image.tag=never-ready"])?;
        let revisions = history(&capstan, name)?;
        ensure!(
            revisions.last().map(|r| r.1.as_str()) == Some("deployed"),
            "trial {trial}: {revisions:?}"
        );
        cancelled.push(took);
    }
    eprintln!(
        "{signal}: {}/{SIGNAL_TRIALS} operations ended failed with the lock released, \
         exits after {cancelled:?}",
        cancelled.len()
    );
    Ok(())
}

#[tokio::test]
async fn sigterm_cancels_and_the_revision_ends_failed() {
    with_namespace("cli-sigterm", |ns| async move {
        signal_cancels_each_time(&ns, "web", nix::sys::signal::Signal::SIGTERM).await
    })
    .await;
}

#[tokio::test]
async fn sighup_cancels_and_the_revision_ends_failed() {
    with_namespace("cli-sighup", |ns| async move {
        signal_cancels_each_time(&ns, "web", nix::sys::signal::Signal::SIGHUP).await
    })
    .await;
}

/// SIGTERM at every moment of an `upgrade --install --wait` (render, lock, record, hooks, apply,
/// wait: a delay from 0 to 2 s after the start, in steps of 200 ms): whatever the CLI was doing,
/// it either ends `operation cancelled by SIGTERM` (exit 1) or, signalled before it listens, is
/// killed before it has started anything; no revision is ever left pending, the Lease is never
/// left held, and the next upgrade proceeds at once. Counts printed.
#[tokio::test]
async fn sigterm_at_any_moment_leaves_nothing_pending() {
    with_namespace("cli-sigterm-any", |ns| async move {
        let capstan = Capstan {
            namespace: ns.name().to_owned(),
            remote: Vec::new(),
            driver: None,
        };
        let chart = webapp();
        let (mut cancelled, mut before) = (0, 0);
        for step in 0..=10u64 {
            let delay = std::time::Duration::from_millis(step * 200);
            let child = capstan
                .command(&[
                    "upgrade",
                    "web",
                    &chart,
                    "--install",
                    "--wait",
                    "--set",
                    "image.tag=never-ready",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()?;
            tokio::time::sleep(delay).await;
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(i32::try_from(child.id())?),
                nix::sys::signal::Signal::SIGTERM,
            )?;
            let output = child.wait_with_output()?;
            let stderr = String::from_utf8_lossy(&output.stderr);
            match output.status.code() {
                Some(1) if stderr.contains("Error: operation cancelled by SIGTERM") => {
                    cancelled += 1
                }
                None => before += 1,
                _ => anyhow::bail!("after {delay:?}: {}: {stderr}", output.status),
            }
            let run = capstan.run(&["history", "web", "-o", "json"]);
            ensure!(
                run.code == 0 || run.stderr.contains("not found"),
                "after {delay:?}: {}",
                run.stderr
            );
            ensure!(
                !run.stdout.contains("pending"),
                "after {delay:?}: {}",
                run.stdout
            );
            let lease = ns.api::<Lease>().get_opt("capstan.release.web").await?;
            ensure!(
                lease.is_none(),
                "after {delay:?}: the lock is held: {lease:?}"
            );
            capstan.ok(&["upgrade", "web", &chart, "--install"])?;
        }
        eprintln!(
            "SIGTERM at 0-2 s: {cancelled} cancelled, {before} before capstan listened, \
             none left pending or locked"
        );
        ensure!(
            cancelled >= 8,
            "{cancelled} cancelled, {before} before listening"
        );
        Ok(())
    })
    .await;
}

/// Runs `capstan ARGS` with its standard output read by a reader that takes `lines` lines and
/// then closes the pipe (with 0, before capstan has written anything); returns the lines read
/// and the run (its standard output empty).
fn into_closing_reader(
    capstan: &Capstan,
    args: &[&str],
    lines: usize,
) -> anyhow::Result<(Vec<String>, Run)> {
    let mut child = capstan
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdout = BufReader::new(child.stdout.take().context("piped stdout")?);
    let mut read = Vec::new();
    for _ in 0..lines {
        let mut line = String::new();
        if stdout.read_line(&mut line)? == 0 {
            break;
        }
        read.push(line.trim_end().to_owned());
    }
    drop(stdout);
    let output = child.wait_with_output()?;
    Ok((
        read,
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::new(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        },
    ))
}

/// `capstan status R | head -1` and every command whose standard output is closed before it
/// has written anything end quietly (no panic, no error) with 141, what a shell reports for Helm
/// killed by SIGPIPE; an upgrade whose output nobody reads still completes; and one whose
/// progress (standard error) nobody reads completes and succeeds.
#[tokio::test]
async fn output_closed_early_ends_quietly() {
    with_namespace("cli-pipe", |ns| async move {
        let capstan = Capstan {
            namespace: ns.name().to_owned(),
            remote: Vec::new(),
            driver: None,
        };
        let chart = webapp();
        capstan.ok(&["install", "web", &chart])?;
        let quiet = |args: &[&str], run: &Run| {
            ensure!(
                !run.stderr.contains("panicked") && !run.stderr.contains("Error"),
                "capstan {args:?} exited {}: {}",
                run.code,
                run.stderr
            );
            Ok(())
        };
        // `| head -1`: the rest of the output may or may not have fit in the pipe by then.
        let (first, run) = into_closing_reader(&capstan, &["status", "web"], 1)?;
        ensure!(first == ["NAME: web"], "{first:?}");
        ensure!(
            run.code == 0 || run.code == 141,
            "exit {}: {}",
            run.code,
            run.stderr
        );
        quiet(&["status", "web"], &run)?;
        let commands: [&[&str]; 7] = [
            &["status", "web"],
            &["list"],
            &["history", "web"],
            &["get", "values", "web", "--all"],
            &["get", "manifest", "web"],
            &["template", "web", &chart],
            &["upgrade", "web", &chart, "--set", "replicaCount=2"],
        ];
        for args in commands {
            let (_, run) = into_closing_reader(&capstan, args, 0)?;
            ensure!(
                run.code == 141,
                "capstan {args:?} exited {}: {}",
                run.code,
                run.stderr
            );
            quiet(args, &run)?;
        }
        let revisions = history(&capstan, "web")?;
        ensure!(
            revisions.len() == 2 && revisions[1].1 == "deployed",
            "{revisions:?}"
        );
        // Progress to a closed standard error: the operation goes on to its end.
        let mut child = capstan
            .command(&[
                "upgrade",
                "web",
                &chart,
                "--wait",
                "--set",
                "replicaCount=1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        drop(child.stderr.take());
        let exit = child.wait()?;
        ensure!(exit.success(), "{exit}");
        let revisions = history(&capstan, "web")?;
        ensure!(
            revisions.len() == 3 && revisions[2].1 == "deployed",
            "{revisions:?}"
        );
        Ok(())
    })
    .await;
}

/// A template error far over the 16 KiB a client accepts in a status (`fail` with 40,000
/// characters) reaches the user as the error, shortened with its start and end kept and the cut
/// said, never as "h2 protocol error": from the in-process renderer and from a daemon.
#[tokio::test]
async fn a_huge_template_error_reaches_the_user_shortened() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir(dir.path().join("templates"))?;
    std::fs::write(
        dir.path().join("Chart.yaml"),
        "apiVersion: v2\nname: huge-error\nversion: 0.1.0\n",
    )?;
    std::fs::write(
        dir.path().join("templates/cm.yaml"),
        "{{ fail (print \"START-\" (repeat 40000 \"x\") \"-END\") }}\n",
    )?;
    let chart = dir.path().display().to_string();
    let renderer = Daemon::start("capstan-renderer", &["--listen", "127.0.0.1:0"])?;
    let runs = [
        (
            "in-process",
            capstan_e2e::process::capstan(&["template", "r", &chart]),
        ),
        (
            "daemon",
            capstan_e2e::process::capstan(&["template", "r", &chart, "--renderer", &renderer.addr]),
        ),
    ];
    for (how, run) in runs {
        let error = run.error_line();
        ensure!(run.code == 1, "{how}: exit {}: {}", run.code, run.stderr);
        ensure!(
            error.starts_with(
                "Error: execution error at (huge-error/templates/cm.yaml:1:3): START-xxx"
            ) && run.stderr.contains("xxx-END")
                && run
                    .stderr
                    .contains("bytes cut here: too long for a gRPC status")
                && !run.stderr.contains("h2 protocol error"),
            "{how}: {}",
            &run.stderr[..run.stderr.len().min(400)]
        );
        ensure!(
            run.stderr.len() < 16 * 1024,
            "{how}: {} bytes",
            run.stderr.len()
        );
    }
    Ok(())
}

/// A Lease on release `name`'s lock that a live operation elsewhere holds.
async fn hold_lock(ns: &TestNamespace, name: &str) -> anyhow::Result<()> {
    let now = Timestamp::now();
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

#[tokio::test]
async fn wait_for_lock_waits_for_the_holder() {
    with_namespace("cli-lockwait", |ns| async move {
        let namespace = ns.name().to_owned();
        let capstan = Capstan {
            namespace: namespace.clone(),
            remote: Vec::new(),
            driver: None,
        };
        let chart = webapp();
        capstan.ok(&["install", "web", &chart])?;
        capstan.ok(&["upgrade", "web", &chart, "--set", "replicaCount=2"])?;
        let operations: [(&str, Vec<&str>); 4] = [
            ("fresh", vec!["install", "fresh", &chart]),
            (
                "web",
                vec!["upgrade", "web", &chart, "--set", "replicaCount=3"],
            ),
            ("web", vec!["rollback", "web", "1"]),
            ("web", vec!["uninstall", "web"]),
        ];
        for (index, (release, args)) in operations.into_iter().enumerate() {
            hold_lock(&ns, release).await?;
            let run = capstan.fails(&args)?;
            ensure!(run.code == 3, "{args:?}: exit {}: {}", run.code, run.stderr);
            // The rollback waits with the bare flag (as long as --timeout), the others 60s.
            let mut waiting: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
            waiting.push("--wait-for-lock".into());
            if index != 2 {
                waiting.push("60s".into());
            }
            let namespace = namespace.clone();
            let started = std::time::Instant::now();
            let waiter = tokio::task::spawn_blocking(move || {
                let capstan = Capstan {
                    namespace,
                    remote: Vec::new(),
                    driver: None,
                };
                let args: Vec<&str> = waiting.iter().map(String::as_str).collect();
                capstan.run(&args)
            });
            tokio::time::sleep(std::time::Duration::from_secs(4)).await;
            ensure!(!waiter.is_finished(), "{args:?} did not wait for the lock");
            ns.api::<Lease>()
                .delete(&format!("capstan.release.{release}"), &Default::default())
                .await?;
            let run = waiter.await?;
            ensure!(
                run.code == 0,
                "{args:?} --wait-for-lock exited {}:\n{}\n{}",
                run.code,
                run.stdout,
                run.stderr
            );
            ensure!(started.elapsed() >= std::time::Duration::from_secs(4));
        }
        let revisions = history(&capstan, "fresh")?;
        ensure!(
            revisions.len() == 1 && revisions[0].1 == "deployed",
            "{revisions:?}"
        );
        ensure!(capstan.fails(&["status", "web"])?.code != 0);
        Ok(())
    })
    .await;
}

/// `get metadata -o json` of a release.
fn metadata(capstan: &Capstan, name: &str) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::from_str(
        &capstan.ok(&["get", "metadata", name, "-o", "json"])?,
    )?)
}

#[tokio::test]
async fn server_side_follows_the_flag_and_then_the_release() {
    with_namespace("cli-ssa", |ns| async move {
        let capstan = Capstan {
            namespace: ns.name().to_owned(),
            remote: Vec::new(),
            driver: None,
        };
        let chart = webapp();
        let chart = chart.as_str();
        let method = |capstan: &Capstan| -> anyhow::Result<String> {
            Ok(metadata(capstan, "web")?["applyMethod"]
                .as_str()
                .unwrap_or_default()
                .to_owned())
        };
        // Installs default to server-side.
        capstan.ok(&["install", "web", chart])?;
        ensure!(method(&capstan)? == "ssa", "{}", method(&capstan)?);
        // An explicit client-side upgrade, then `auto` keeps client-side.
        capstan.ok(&[
            "upgrade",
            "web",
            chart,
            "--set",
            "replicaCount=2",
            "--server-side=false",
        ])?;
        ensure!(method(&capstan)? == "csa", "{}", method(&capstan)?);
        capstan.ok(&[
            "upgrade",
            "web",
            chart,
            "--set",
            "replicaCount=3",
            "--server-side=auto",
        ])?;
        ensure!(method(&capstan)? == "csa", "{}", method(&capstan)?);
        capstan.ok(&["upgrade", "web", chart, "--set", "replicaCount=4"])?;
        ensure!(method(&capstan)? == "csa", "{}", method(&capstan)?);
        // Back to server-side, taking over the fields client-side apply owned.
        capstan.ok(&[
            "upgrade",
            "web",
            chart,
            "--set",
            "replicaCount=5",
            "--server-side",
            "--force-conflicts",
        ])?;
        ensure!(method(&capstan)? == "ssa", "{}", method(&capstan)?);
        let replicas = deployment(&ns, "web-webapp")
            .await?
            .and_then(|d| d.spec)
            .and_then(|s| s.replicas);
        ensure!(replicas == Some(5), "{replicas:?}");
        capstan.ok(&["rollback", "web", "2", "--server-side=false"])?;
        ensure!(method(&capstan)? == "csa", "{}", method(&capstan)?);
        // A fresh install that asks for client-side.
        capstan.ok(&["install", "csa", chart, "--server-side=false"])?;
        ensure!(
            metadata(&capstan, "csa")?["applyMethod"] == "csa",
            "{}",
            metadata(&capstan, "csa")?
        );
        let run = capstan.fails(&["upgrade", "web", chart, "--server-side=maybe"])?;
        ensure!(run.stderr.contains("maybe"), "{}", run.stderr);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn labels_are_stored_and_names_can_be_generated() {
    with_namespace("cli-labels", |ns| async move {
        let capstan = Capstan {
            namespace: ns.name().to_owned(),
            remote: Vec::new(),
            driver: None,
        };
        let chart = webapp();
        let chart = chart.as_str();
        capstan.ok(&["install", "web", chart, "--labels", "team=api,tier=web"])?;
        let labels = &metadata(&capstan, "web")?["labels"];
        ensure!(
            *labels == serde_json::json!({"team": "api", "tier": "web"}),
            "{labels}"
        );
        let table = capstan.ok(&["get", "metadata", "web"])?;
        ensure!(table.contains("LABELS: team=api,tier=web"), "{table}");
        // An upgrade's labels go over the previous revision's.
        capstan.ok(&["upgrade", "web", chart, "--labels", "tier=backend"])?;
        let labels = &metadata(&capstan, "web")?["labels"];
        ensure!(
            *labels == serde_json::json!({"team": "api", "tier": "backend"}),
            "{labels}"
        );
        // The release record (the Secret) carries them too.
        let secret = ns
            .api::<k8s_openapi::api::core::v1::Secret>()
            .get("sh.helm.release.v1.web.v2")
            .await?;
        let stored = secret.metadata.labels.unwrap_or_default();
        ensure!(
            stored.get("team").map(String::as_str) == Some("api")
                && stored.get("tier").map(String::as_str) == Some("backend"),
            "{stored:?}"
        );
        // Helm's system labels are refused.
        let run = capstan.fails(&["upgrade", "web", chart, "--labels", "owner=me"])?;
        ensure!(run.stderr.contains("owner"), "{}", run.stderr);
        let run = capstan.fails(&["install", "bad", chart, "--labels", "novalue"])?;
        ensure!(run.stderr.contains("novalue"), "{}", run.stderr);

        // --generate-name: `<chart>-<unix seconds>`.
        let out = capstan.ok(&["install", "--generate-name", chart])?;
        let name = out
            .lines()
            .find_map(|l| l.strip_prefix("NAME: "))
            .context("install prints the name")?
            .trim()
            .to_owned();
        let seconds = name.strip_prefix("webapp-").unwrap_or_default();
        ensure!(
            !seconds.is_empty() && seconds.chars().all(|c| c.is_ascii_digit()),
            "{name}"
        );
        let revisions = history(&capstan, &name)?;
        ensure!(
            revisions.len() == 1 && revisions[0].1 == "deployed",
            "{revisions:?}"
        );
        let run = capstan.fails(&["install", "one", chart, "--generate-name"])?;
        ensure!(run.stderr.contains("--generate-name"), "{}", run.stderr);
        Ok(())
    })
    .await;
}

/// `diff upgrade --three-way` compares the live objects with a server-side dry run of the
/// upgrade: an object deleted by hand shows up (the stored manifests see no change), a chart
/// change shows against the live value, and nothing is written.
#[tokio::test]
async fn three_way_diff_compares_against_the_live_objects() {
    with_namespace("cli-threeway", |ns| async move {
        let capstan = Capstan {
            namespace: ns.name().to_owned(),
            remote: Vec::new(),
            driver: None,
        };
        let chart = webapp();
        let chart = chart.as_str();
        capstan.ok(&["install", "web", chart])?;
        ns.api::<ConfigMap>()
            .delete("web-webapp", &Default::default())
            .await?;

        let two_way = capstan.run(&["diff", "upgrade", "web", chart, "--detailed-exitcode"]);
        ensure!(
            two_way.code == 0 && two_way.stdout.is_empty(),
            "the stored manifests see no change: {} {}",
            two_way.stdout,
            two_way.stderr
        );
        let three_way = capstan.run(&[
            "diff",
            "upgrade",
            "web",
            chart,
            "--three-way",
            "--detailed-exitcode",
        ]);
        ensure!(
            three_way.code == 2
                && three_way
                    .stdout
                    .contains("web-webapp, ConfigMap has been added:"),
            "the deleted ConfigMap shows: {} {}",
            three_way.stdout,
            three_way.stderr
        );
        ensure!(
            !three_way.stdout.contains("Deployment"),
            "unchanged objects do not show: {}",
            three_way.stdout
        );

        let changed = capstan.ok(&[
            "diff",
            "upgrade",
            "web",
            chart,
            "--three-way",
            "--set",
            "replicaCount=3",
        ])?;
        ensure!(
            changed.contains("web-webapp, Deployment (apps) has changed:")
                && changed.contains("-  replicas: 1")
                && changed.contains("+  replicas: 3"),
            "{changed}"
        );
        for noise in ["resourceVersion", "managedFields", "uid:", "status:"] {
            ensure!(!changed.contains(noise), "{noise} in {changed}");
        }
        // A dry run: nothing was written.
        ensure!(ns.api::<ConfigMap>().get_opt("web-webapp").await?.is_none());
        let revisions = history(&capstan, "web")?;
        ensure!(revisions.len() == 1, "{revisions:?}");
        Ok(())
    })
    .await;
}

/// Writes a one-ConfigMap chart `values` at `version` into `dir` and returns its path.
fn config_chart(dir: &std::path::Path, version: &str, values: &str) -> anyhow::Result<String> {
    let chart = dir.join(format!("settings-{version}"));
    std::fs::create_dir_all(chart.join("templates"))?;
    std::fs::write(
        chart.join("Chart.yaml"),
        format!(
            "apiVersion: v2\nannotations:\n  capstan.dev/template-syntax: minijinja\nname: settings\nversion: {version}\n"
        ),
    )?;
    std::fs::write(chart.join("values.yaml"), values)?;
    std::fs::write(
        chart.join("templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ Release.Name }}-settings\n\
         data:\n  greeting: {{ Values.greeting | quote }}\n  \
         color: {{ Values.color | default(\"unset\") | quote }}\n",
    )?;
    Ok(chart.display().to_string())
}

/// The tutorial's `--reuse-values` trap, as Helm has it: the previous chart's defaults are kept,
/// so a default the new chart adds is ignored; `--reset-then-reuse-values` takes the new
/// chart's defaults under the previous user values; `--reset-values` drops the user values.
#[tokio::test]
async fn reuse_values_keeps_the_previous_charts_defaults() {
    with_namespace("cli-reuse", |ns| async move {
        let capstan = Capstan {
            namespace: ns.name().to_owned(),
            remote: Vec::new(),
            driver: None,
        };
        let dir = tempfile::tempdir()?;
        let v1 = config_chart(dir.path(), "0.1.0", "greeting: hello\n")?;
        let v2 = config_chart(dir.path(), "0.2.0", "greeting: hello\ncolor: blue\n")?;
        let configmaps = ns.api::<ConfigMap>();
        let data = || async {
            let cm = configmaps.get("app-settings").await?;
            let data = cm.data.unwrap_or_default();
            anyhow::Ok((data["greeting"].clone(), data["color"].clone()))
        };
        capstan.ok(&["install", "app", &v1, "--set", "greeting=hi"])?;
        ensure!(data().await? == ("hi".into(), "unset".into()));

        capstan.ok(&["upgrade", "app", &v2, "--reuse-values"])?;
        ensure!(
            data().await? == ("hi".into(), "unset".into()),
            "--reuse-values keeps the old chart's defaults: {:?}",
            data().await?
        );
        let all: serde_json::Value =
            serde_json::from_str(&capstan.ok(&["get", "values", "app", "--all", "-o", "json"])?)?;
        ensure!(all.get("color").is_none(), "{all}");

        capstan.ok(&["upgrade", "app", &v2, "--reset-then-reuse-values"])?;
        ensure!(
            data().await? == ("hi".into(), "blue".into()),
            "--reset-then-reuse-values takes the new chart's defaults: {:?}",
            data().await?
        );
        capstan.ok(&["upgrade", "app", &v2, "--reset-values"])?;
        ensure!(data().await? == ("hello".into(), "blue".into()));
        let user: serde_json::Value =
            serde_json::from_str(&capstan.ok(&["get", "values", "app", "-o", "json"])?)?;
        ensure!(user.as_object().is_none_or(|m| m.is_empty()), "{user}");
        Ok(())
    })
    .await;
}

/// `kill -9` of an applier process while it runs `upgrade web --set <set>`, once the upgrade's
/// progress prints a line `at` accepts; then a new applier recovers the interrupted revision
/// (after the dead holder's 3s lease expires), upgrades, and rolls back.
async fn kill_the_applier_mid_upgrade(
    ns: &TestNamespace,
    set: &str,
    at: fn(&str) -> bool,
) -> anyhow::Result<()> {
    let kubeconfig = capstan_testkit::kubeconfig_path();
    let kubeconfig = kubeconfig.to_str().context("a UTF-8 path")?.to_owned();
    let applier_args = [
        "--listen",
        "127.0.0.1:0",
        "--kubeconfig",
        &kubeconfig,
        "--lease-duration",
        "3s",
    ];
    let mut first = Daemon::start("capstan-applier", &applier_args)?;
    let chart = webapp();
    let chart = chart.as_str();
    let capstan = Capstan {
        namespace: ns.name().to_owned(),
        remote: vec!["--applier".into(), first.addr.clone()],
        driver: None,
    };
    capstan.ok(&["install", "web", chart, "--wait", "--timeout", "2m"])?;

    // An upgrade that takes a minute (slow pods or a slow hook), through the first applier.
    let (mut upgrade, mut stderr, _) = spawn_until(
        &[
            "upgrade",
            "web",
            chart,
            "--set",
            set,
            "--wait",
            "--timeout",
            "2m",
            "-n",
            ns.name(),
            "--applier",
            &first.addr,
        ],
        at,
    )?;
    let local = Capstan {
        namespace: ns.name().to_owned(),
        remote: Vec::new(),
        driver: None,
    };
    let revisions = history(&local, "web")?;
    ensure!(
        revisions.last().map(|r| r.1.as_str()) == Some("pending-upgrade"),
        "{revisions:?}"
    );

    // kill -9 the applier: nothing finalises the revision.
    first.child.kill()?;
    first.child.wait()?;
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest)?;
    ensure!(!upgrade.wait()?.success(), "{rest}");
    let revisions = history(&local, "web")?;
    ensure!(
        revisions.last().map(|r| r.1.as_str()) == Some("pending-upgrade"),
        "{revisions:?}"
    );

    // A new applier takes the release over once the dead holder's lease expires.
    let metrics_args = ["--metrics-listen", "127.0.0.1:0"];
    let second_args: Vec<&str> = applier_args.iter().chain(&metrics_args).copied().collect();
    let second = Daemon::start("capstan-applier", &second_args)?;
    let capstan = Capstan {
        namespace: ns.name().to_owned(),
        remote: vec!["--applier".into(), second.addr.clone()],
        driver: None,
    };
    capstan.ok(&[
        "upgrade",
        "web",
        chart,
        "--set",
        "replicaCount=2",
        "--wait",
        "--timeout",
        "2m",
        "--wait-for-lock",
        "30s",
    ])?;
    let revisions = history(&capstan, "web")?;
    ensure!(revisions.len() == 3, "{revisions:?}");
    ensure!(
        revisions[1].1 == "failed" && revisions[1].2.contains("interrupted"),
        "{revisions:?}"
    );
    ensure!(revisions[2].1 == "deployed", "{revisions:?}");
    // The recovery shows in the new applier's metrics, and so does its wait for the lease.
    let metrics = second.scrape().await?;
    ensure!(
        metrics.contains("capstan_crash_recoveries_total{operation=\"upgrade\"} 1\n"),
        "{metrics}"
    );
    ensure!(
        metrics.contains("capstan_lock_wait_seconds_count{operation=\"upgrade\"} 1\n"),
        "{metrics}"
    );
    capstan.ok(&["rollback", "web", "1", "--wait", "--timeout", "2m"])?;
    let revisions = history(&capstan, "web")?;
    ensure!(
        revisions.len() == 4 && revisions[3].1 == "deployed",
        "{revisions:?}"
    );
    let image = deployment(ns, "web-webapp")
        .await?
        .map(|d| image(&d))
        .unwrap_or_default();
    ensure!(!image.ends_with("slow-60"), "{image}");
    Ok(())
}

#[tokio::test]
async fn a_killed_applier_is_recovered_after_its_lease_expires() {
    with_namespace("cli-kill", |ns| async move {
        // Killed while waiting for pods that take a minute to become ready.
        kill_the_applier_mid_upgrade(&ns, "image.tag=slow-60", |line| {
            line.ends_with("waiting (revision 2)")
        })
        .await
    })
    .await;
}

#[tokio::test]
async fn an_applier_killed_during_apply_is_recovered() {
    with_namespace("cli-kill-apply", |ns| async move {
        // Killed as soon as the apply phase begins (the objects are being written).
        kill_the_applier_mid_upgrade(&ns, "image.tag=slow-60", |line| {
            line.ends_with("applying (revision 2)")
        })
        .await
    })
    .await;
}

#[tokio::test]
async fn an_applier_killed_during_a_hook_is_recovered() {
    with_namespace("cli-kill-hook", |ns| async move {
        // Killed while the pre-upgrade hook (a Job that takes a minute) runs, before apply.
        kill_the_applier_mid_upgrade(&ns, "migration.image.tag=slow-60", |line| {
            line.contains("hook pre-upgrade job/") && line.ends_with("running")
        })
        .await
    })
    .await;
}

/// The settings the CLI sends as protobuf enums (and as the strings older appliers read) do
/// what they say against the cluster: `--dry-run=none` is a real upgrade; `uninstall --cascade
/// orphan` leaves the Deployment's
/// ReplicaSet behind, released by the garbage collector; `list --uninstalled` finds the release
/// kept with `--keep-history` and the default listing does not; unknown names stay one clear
/// error each.
#[tokio::test]
async fn cascade_and_list_statuses_reach_the_applier() {
    with_namespace("cli-enums", |ns| async move {
        let capstan = Capstan {
            namespace: ns.name().to_owned(),
            remote: Vec::new(),
            driver: None,
        };
        let chart = webapp();
        let chart = chart.as_str();
        capstan.ok(&["install", "web", chart, "--wait", "--timeout", "2m"])?;

        // `--dry-run=none` (Helm 4) is a real upgrade, printed as one.
        let out = capstan.ok(&["upgrade", "web", chart, "--dry-run=none"])?;
        ensure!(
            out.contains("REVISION: 2") && !out.contains("MANIFEST:"),
            "{out}"
        );
        let revisions = history(&capstan, "web")?;
        ensure!(
            revisions.last().map(|r| (r.0, r.1.as_str())) == Some((2, "deployed")),
            "{revisions:?}"
        );

        let run = capstan.fails(&["upgrade", "web", chart, "--dry-run=sideways"])?;
        ensure!(
            run.stderr
                .contains("invalid dry-run value \"sideways\": expected client or server"),
            "{}",
            run.stderr
        );
        let run = capstan.fails(&["uninstall", "web", "--cascade", "sideways"])?;
        ensure!(
            run.stderr.contains(
                "invalid cascade value \"sideways\": expected background, foreground or orphan"
            ),
            "{}",
            run.stderr
        );

        let replica_sets = ns.api::<k8s_openapi::api::apps::v1::ReplicaSet>();
        let names = |items: &[k8s_openapi::api::apps::v1::ReplicaSet]| -> Vec<String> {
            items
                .iter()
                .map(|r| r.metadata.name.clone().unwrap_or_default())
                .collect()
        };
        let before = names(&replica_sets.list(&ListParams::default()).await?.items);
        ensure!(!before.is_empty(), "the Deployments made ReplicaSets");
        let out = capstan.ok(&[
            "uninstall",
            "web",
            "--cascade",
            "orphan",
            "--keep-history",
            "--wait",
        ])?;
        ensure!(out.contains("uninstalled"), "{out}");
        ensure!(
            deployment(&ns, "web-webapp").await?.is_none(),
            "the Deployment went"
        );
        let left = replica_sets.list(&ListParams::default()).await?.items;
        ensure!(
            names(&left) == before,
            "orphaned, not deleted: {:?}, before {before:?}",
            names(&left)
        );
        let owned: Vec<String> = left
            .iter()
            .filter(|r| {
                r.metadata
                    .owner_references
                    .as_ref()
                    .is_some_and(|o| !o.is_empty())
            })
            .map(|r| r.metadata.name.clone().unwrap_or_default())
            .collect();
        ensure!(
            owned.is_empty(),
            "the garbage collector released them: {owned:?}"
        );

        let listed = |args: &[&str]| -> anyhow::Result<Vec<(String, String)>> {
            let out = capstan.ok(&[&["list", "-o", "json"][..], args].concat())?;
            let rows: serde_json::Value = serde_json::from_str(&out)?;
            Ok(rows
                .as_array()
                .context("list -o json prints an array")?
                .iter()
                .map(|r| {
                    let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
                    (text("name"), text("status"))
                })
                .collect())
        };
        ensure!(listed(&[])?.is_empty(), "{:?}", listed(&[])?);
        ensure!(
            listed(&["--uninstalled"])? == [("web".to_owned(), "uninstalled".to_owned())],
            "{:?}",
            listed(&["--uninstalled"])?
        );
        ensure!(
            listed(&["--all"])? == [("web".to_owned(), "uninstalled".to_owned())],
            "{:?}",
            listed(&["--all"])?
        );
        Ok(())
    })
    .await;
}

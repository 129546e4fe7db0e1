//! Horizontal scale: two `capstan-applier` processes and one `capstan-renderer` (the built
//! binaries), and four concurrent clients running the real `capstan` binary on the 100 releases
//! of a one-ConfigMap chart (`CAPSTAN_SCALE_RELEASES=N` for another count). The clients go in
//! pairs, one through each applier, and each pair runs the same operation step on the same
//! release at the same moment (install/upgrade/rollback/uninstall, some with `--wait-for-lock`,
//! some without), so every step collides on the release's lock across appliers. In the middle
//! one applier gets SIGTERM while a slow `--wait` install runs on it: that operation finishes,
//! the process exits 0, and its clients retry against the other applier.
//!
//! Then every release's history (its Secrets) must be consistent: revisions 1..n with no gap or
//! duplicate, exactly one `deployed`, none `pending-*`, no lock left behind; the only errors
//! clients saw were the documented lock conflict (exit 3, "is locked by ...") on operations
//! without `--wait-for-lock`; and one more upgrade of every release succeeds.
//!
//! Timings are printed (`cargo test -p capstan-e2e --test scale -- --nocapture`).

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use capstan_e2e::process::{Daemon, Run, binary, capstan, repository};
use capstan_testkit::{TestNamespace, with_namespace};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::ListParams;

/// Releases `r000`, `r001`...: the 100 by default (about 50 s on 2 idle cores),
/// `CAPSTAN_SCALE_RELEASES` for another count.
fn releases() -> usize {
    std::env::var("CAPSTAN_SCALE_RELEASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| *n >= 4)
        .unwrap_or(100)
}

/// Operation steps per release, each run by both clients of a pair at once.
const STEPS: usize = 3;
/// How long an operation with `--wait-for-lock` waits.
const LOCK_WAIT: &str = "60s";

/// One client's operation on one release.
struct Op {
    args: Vec<String>,
    /// Whether it waits for the lock (then a lock conflict is an error).
    waits: bool,
}

/// What the pair's client `role` (0 or 1) does to release `index` at `step`.
fn operation(step: usize, role: usize, index: usize, chart: &str) -> Op {
    let name = format!("r{index:03}");
    let value = format!("value=s{step}c{role}");
    let upgrade = |install: bool| {
        let mut args = vec!["upgrade".to_owned()];
        if install {
            args.push("--install".into());
        }
        args.extend([
            name.clone(),
            chart.to_owned(),
            "--set".into(),
            value.clone(),
        ]);
        args
    };
    let (mut args, waits) = match (step, role) {
        // Both install at once; one of them does not wait for the lock.
        (0, 0) => (upgrade(true), true),
        (0, _) => (upgrade(true), false),
        // An upgrade that does not wait, racing a rollback to revision 1 that does.
        (1, 0) => (upgrade(false), false),
        (1, _) => (vec!["rollback".into(), name.clone(), "1".into()], true),
        // Every fourth release: uninstall racing a re-install; the others: two upgrades.
        (_, 0) if index.is_multiple_of(4) => (vec!["uninstall".into(), name.clone()], true),
        (_, _) if index.is_multiple_of(4) => (upgrade(true), true),
        (_, 0) => (upgrade(false), true),
        (_, _) => (upgrade(false), false),
    };
    if waits {
        args.extend(["--wait-for-lock".into(), LOCK_WAIT.into()]);
    }
    Op { args, waits }
}

/// The outcome of one operation, after retries.
struct Outcome {
    release: usize,
    op: String,
    waits: bool,
    run: Run,
    /// Whether it was retried against the other applier.
    retried: bool,
    took: Duration,
}

/// What the clients share.
struct Shared<'a> {
    namespace: &'a str,
    renderer: &'a str,
    /// The appliers' addresses; index 0 is the one that gets SIGTERM.
    appliers: [&'a str; 2],
    /// Set just before SIGTERM is sent to applier 0.
    terminated: AtomicBool,
    /// Operations finished so far.
    done: AtomicUsize,
    /// Operations running on applier 0 right now.
    on_first: AtomicUsize,
    /// Retries against applier 1 after applier 0 went away, by the error that caused them.
    retries: Mutex<BTreeMap<String, usize>>,
    outcomes: Mutex<Vec<Outcome>>,
}

/// Whether a failed run means "this applier is gone or going": the client then retries
/// against the other one. It is refused new operations while draining, cannot connect once the
/// port is closed, or (a call after an earlier one on the same channel) gets `UNAVAILABLE`
/// "tcp connect error" from the channel's reconnection.
fn applier_gone(run: &Run) -> bool {
    let e = &run.stderr;
    e.contains("is shutting down and takes no new operations")
        || e.contains("connecting to the applier")
        || e.contains("tcp connect error")
        || e.contains("transport error")
        || e.contains("Connection refused")
}

/// Runs `args` through the client's applier, retrying against the other one when the first
/// has been stopped. Returns the run and the applier it ended on.
fn run_op(shared: &Shared<'_>, current: &mut usize, args: &[String]) -> (Run, bool) {
    let mut retried = false;
    loop {
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend([
            "-n",
            shared.namespace,
            "--renderer",
            shared.renderer,
            "--applier",
            shared.appliers[*current],
        ]);
        if *current == 0 {
            shared.on_first.fetch_add(1, Ordering::SeqCst);
        }
        let run = capstan(&all);
        if *current == 0 {
            shared.on_first.fetch_sub(1, Ordering::SeqCst);
            if run.code != 0 && shared.terminated.load(Ordering::SeqCst) && applier_gone(&run) {
                *current = 1;
                *shared
                    .retries
                    .lock()
                    .unwrap()
                    .entry(run.error_line().to_owned())
                    .or_default() += 1;
                retried = true;
                continue;
            }
        }
        return (run, retried);
    }
}

/// One client: its pair's releases, step by step in lockstep with its partner.
fn client(shared: &Shared<'_>, id: usize, barrier: &Barrier, chart: &str, releases: usize) {
    let (pair, role) = (id / 2, id % 2);
    let mut current = role;
    for step in 0..STEPS {
        for index in (pair..releases).step_by(2) {
            let op = operation(step, role, index, chart);
            barrier.wait();
            let started = Instant::now();
            let (run, retried) = run_op(shared, &mut current, &op.args);
            shared.outcomes.lock().unwrap().push(Outcome {
                release: index,
                op: op.args[..2].join(" "),
                waits: op.waits,
                run,
                retried,
                took: started.elapsed(),
            });
            shared.done.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// `(version, status)` of every stored revision of every release in the namespace.
async fn histories(ns: &TestNamespace) -> anyhow::Result<BTreeMap<String, Vec<(u32, String)>>> {
    let mut out: BTreeMap<String, Vec<(u32, String)>> = BTreeMap::new();
    let secrets = ns
        .api::<Secret>()
        .list(&ListParams::default().labels("owner=helm"))
        .await?;
    for secret in secrets.items {
        let labels = secret.metadata.labels.unwrap_or_default();
        let name = labels.get("name").context("a name label")?.clone();
        let version: u32 = labels.get("version").context("a version label")?.parse()?;
        let status = labels.get("status").context("a status label")?.clone();
        out.entry(name).or_default().push((version, status));
    }
    for revisions in out.values_mut() {
        revisions.sort();
    }
    Ok(out)
}

/// Revisions 1..n without gaps or duplicates, exactly one deployed, none pending.
fn consistent(name: &str, revisions: &[(u32, String)]) -> anyhow::Result<()> {
    let versions: Vec<u32> = revisions.iter().map(|r| r.0).collect();
    let expected: Vec<u32> = (1..=u32::try_from(versions.len())?).collect();
    ensure!(versions == expected, "{name}: revisions {revisions:?}");
    let deployed = revisions.iter().filter(|r| r.1 == "deployed").count();
    ensure!(
        deployed == 1,
        "{name}: {deployed} deployed in {revisions:?}"
    );
    ensure!(
        !revisions.iter().any(|r| r.1.starts_with("pending")),
        "{name}: pending in {revisions:?}"
    );
    ensure!(
        revisions.last().is_some_and(|r| r.1 == "deployed"),
        "{name}: the latest revision is not the deployed one: {revisions:?}"
    );
    Ok(())
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted
        .get((sorted.len() * p / 100).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

async fn scale(ns: &TestNamespace) -> anyhow::Result<()> {
    let releases = releases();
    let kubeconfig = capstan_testkit::kubeconfig_path();
    let kubeconfig = kubeconfig.to_str().context("a UTF-8 path")?;
    let renderer = Daemon::start("capstan-renderer", &["--listen", "127.0.0.1:0"])?;
    let applier_args = ["--listen", "127.0.0.1:0", "--kubeconfig", kubeconfig];
    let mut first = Daemon::start("capstan-applier", &applier_args)?;
    let second = Daemon::start("capstan-applier", &applier_args)?;
    let chart = repository().join("tests/fixtures/charts/tiny");
    let chart = chart.to_str().context("a UTF-8 path")?.to_owned();
    let webapp = repository().join("examples/charts/webapp");
    let namespace = ns.name().to_owned();
    let first_addr = first.addr.clone();

    let shared = Shared {
        namespace: &namespace,
        renderer: &renderer.addr,
        appliers: [&first_addr, &second.addr],
        terminated: AtomicBool::new(false),
        done: AtomicUsize::new(0),
        on_first: AtomicUsize::new(0),
        retries: Mutex::new(BTreeMap::new()),
        outcomes: Mutex::new(Vec::new()),
    };
    let total = releases * STEPS * 2;
    let started = Instant::now();
    let mut drain = Duration::ZERO;
    let mut in_flight_at_sigterm = 0;
    let mut slow_run = None;
    let barriers = [Barrier::new(2), Barrier::new(2)];
    std::thread::scope(|scope| -> anyhow::Result<()> {
        for id in 0..4 {
            let (shared, barrier, chart) = (&shared, &barriers[id / 2], chart.as_str());
            scope.spawn(move || client(shared, id, barrier, chart, releases));
        }
        // Halfway, with a slow install waiting for its pods on applier 0, stop applier 0.
        while shared.done.load(Ordering::SeqCst) < total * 2 / 5 {
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut slow = Command::new(binary("capstan"))
            .args(["install", "slow", webapp.to_str().unwrap(), "--wait"])
            .args(["--set", "image.tag=slow-4,migration.enabled=false"])
            .args(["-n", &namespace, "--renderer", &renderer.addr])
            .args(["--applier", &first_addr])
            .env_remove("HELM_DRIVER")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut progress = BufReader::new(slow.stderr.take().context("piped stderr")?);
        let mut line = String::new();
        let mut seen = String::new();
        while !line.trim_end().ends_with("waiting (revision 1)") {
            line.clear();
            ensure!(
                progress.read_line(&mut line)? > 0,
                "the slow install ended before waiting: {seen}"
            );
            seen.push_str(&line);
        }
        shared.terminated.store(true, Ordering::SeqCst);
        in_flight_at_sigterm = shared.on_first.load(Ordering::SeqCst) + 1;
        let signalled = Instant::now();
        first.terminate()?;
        let exit = first.wait_exit(Duration::from_secs(60))?;
        drain = signalled.elapsed();
        ensure!(exit.success(), "the stopped applier exited with {exit}");
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut progress, &mut rest)?;
        let mut stdout = String::new();
        std::io::Read::read_to_string(&mut slow.stdout.take().context("stdout")?, &mut stdout)?;
        slow_run = Some((slow.wait()?, stdout, rest));
        Ok(())
    })?;
    let storm = started.elapsed();

    // The slow install, in flight during the drain, finished.
    let (status, stdout, stderr) = slow_run.context("the slow install ran")?;
    ensure!(
        status.success() && stdout.contains("STATUS: deployed"),
        "the install in flight on the stopped applier: {status}\n{stdout}\n{stderr}"
    );
    ensure!(
        drain >= Duration::from_secs(1),
        "the applier waited for the slow install ({drain:?})"
    );

    // Every client saw success or the documented lock conflict, nothing else.
    let outcomes = shared.outcomes.into_inner().unwrap();
    ensure!(outcomes.len() == total, "{} outcomes", outcomes.len());
    let mut conflicts = 0;
    let mut unexpected = Vec::new();
    for o in &outcomes {
        match o.run.code {
            0 => {}
            3 if !o.waits && o.run.error_line().contains("is locked by") => conflicts += 1,
            _ => unexpected.push(format!(
                "r{:03} {} (waits: {}): exit {}: {}",
                o.release,
                o.op,
                o.waits,
                o.run.code,
                o.run.stderr.trim()
            )),
        }
    }
    ensure!(
        unexpected.is_empty(),
        "{} unexpected outcomes:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    let mut took: Vec<Duration> = outcomes.iter().map(|o| o.took).collect();
    took.sort();

    // Every release's history is consistent, and no lock is left behind.
    let stored = histories(ns).await?;
    for (name, revisions) in stored.iter().filter(|(n, _)| n.starts_with('r')) {
        consistent(name, revisions)?;
    }
    // Only a release whose uninstall ran after its re-install may be gone.
    for index in 0..releases {
        ensure!(
            index.is_multiple_of(4) || stored.contains_key(&format!("r{index:03}")),
            "r{index:03} is gone"
        );
    }
    consistent("slow", stored.get("slow").context("the slow release")?)?;
    let leases = ns.api::<Lease>().list(&ListParams::default()).await?;
    let held: Vec<String> = leases
        .items
        .into_iter()
        .filter_map(|l| l.metadata.name)
        .filter(|n| n.starts_with("capstan.release."))
        .collect();
    ensure!(held.is_empty(), "locks left behind: {held:?}");

    // The next operation on every release succeeds, through the applier left.
    let next = Instant::now();
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for id in 0..4 {
            let (failures, chart, namespace, second, renderer) = (
                &failures,
                chart.as_str(),
                namespace.as_str(),
                second.addr.as_str(),
                renderer.addr.as_str(),
            );
            scope.spawn(move || {
                for index in (id..releases).step_by(4) {
                    let name = format!("r{index:03}");
                    let run = capstan(&[
                        "upgrade",
                        "--install",
                        &name,
                        chart,
                        "--set",
                        "value=final",
                        "-n",
                        namespace,
                        "--renderer",
                        renderer,
                        "--applier",
                        second,
                    ]);
                    if run.code != 0 {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{name}: {}", run.stderr));
                    }
                }
            });
        }
    });
    let next = next.elapsed();
    let failures = failures.into_inner().unwrap();
    ensure!(failures.is_empty(), "{failures:?}");
    let stored = histories(ns).await?;
    for (name, revisions) in &stored {
        consistent(name, revisions)?;
    }
    let configs = ns.api::<ConfigMap>().list(&ListParams::default()).await?;
    let finals = configs
        .items
        .iter()
        .filter(|c| {
            c.data
                .as_ref()
                .and_then(|d| d.get("value"))
                .map(String::as_str)
                == Some("final")
        })
        .count();
    ensure!(
        finals == releases,
        "{finals} ConfigMaps hold the final value"
    );

    let retries = shared.retries.lock().unwrap().clone();
    let slowest_retried = outcomes
        .iter()
        .filter(|o| o.retried)
        .map(|o| o.took)
        .max()
        .unwrap_or_default();
    eprintln!(
        "scale: {total} operations by 4 clients on {releases} releases through 2 appliers in {storm:.1?} \
         (per operation: median {:?}, p95 {:?}, max {:?}); {conflicts} lock conflicts (exit 3); \
         SIGTERM with {in_flight_at_sigterm} operation(s) in flight on the stopped applier, which \
         exited after {drain:.1?}; retries against the other applier, by error: {retries:?} (the slowest \
         retried operation took {slowest_retried:.1?}); then {releases} \
         upgrades through one applier in {next:.1?}",
        percentile(&took, 50),
        percentile(&took, 95),
        took.last().copied().unwrap_or_default(),
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn two_appliers_many_clients_consistent_histories_through_a_sigterm() {
    with_namespace("scale", |ns| async move {
        tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(scale(&ns)))
    })
    .await;
}

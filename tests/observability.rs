//! Observability as operators see it, on the real local control plane: `capstan upgrade
//! --install` against `capstan-renderer` and `capstan-applier` daemons (separate processes)
//! exporting spans over OTLP/gRPC to a receiver run by the test, and in-process; and the daemons'
//! Prometheus metrics (`--metrics-listen`) scraped after operations that succeed, fail and hit
//! the chart cache.
//!
//! Checked of each `capstan` run: its spans (CLI, renderer, applier) form one trace; the render
//! and applier server spans are children of the CLI's client spans for those RPCs; the expected
//! spans exist (command, chart packaging, render on both sides, the operation, lock, apply, wait,
//! each hook); and a distinctive value given with `--set` appears in no span attribute or event.
//!
//! The binaries are the ones cargo built next to this test (`cargo test --workspace` builds
//! them; alone, run `cargo build -p capstan-cli -p capstan-applier -p capstan-renderer` first).

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use capstan_e2e::process::binary;
use capstan_testkit::otlp::{CLIENT, Receiver, SERVER, Span, descends, names, one};
use capstan_testkit::{TestNamespace, with_namespace};

fn webapp() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/charts/webapp")
        .display()
        .to_string()
}

/// A daemon started as a separate process, with the addresses it printed.
struct Daemon {
    child: Child,
    addr: String,
    metrics: Option<String>,
}

impl Daemon {
    fn start(program: &str, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Daemon> {
        let mut child = Command::new(binary(program))
            .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
            .args(args)
            .envs(env.iter().copied())
            .env_remove("HELM_DRIVER")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {program}"))?;
        let mut lines = BufReader::new(child.stdout.take().context("piped stdout")?).lines();
        let mut last_word = || -> anyhow::Result<String> {
            let line = lines.next().context("the daemon prints its addresses")??;
            Ok(line.rsplit(' ').next().unwrap_or_default().to_owned())
        };
        let addr = last_word()?;
        let metrics = Some(last_word()?);
        Ok(Daemon {
            child,
            addr,
            metrics,
        })
    }

    /// SIGTERM, then waits for a clean exit (which flushes its spans).
    fn stop(mut self) -> anyhow::Result<()> {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id())?);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait()? {
                ensure!(status.success(), "the daemon exited with {status}");
                return Ok(());
            }
            ensure!(Instant::now() < deadline, "the daemon ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `GET /metrics`.
    async fn scrape(&self) -> anyhow::Result<String> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let url = self.metrics.as_deref().context("no metrics endpoint")?;
        let host = url
            .trim_start_matches("http://")
            .trim_end_matches("/metrics");
        let mut stream = tokio::net::TcpStream::connect(host).await?;
        stream
            .write_all(
                format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        ensure!(response.starts_with("HTTP/1.1 200"), "scrape: {response}");
        Ok(response)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `capstan ARGS -n NS` with `env`; returns its exit code and stderr.
fn capstan(
    ns: &TestNamespace,
    args: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<(i32, String)> {
    let output = Command::new(binary("capstan"))
        .args(args)
        .args(["-n", ns.name()])
        .env("KUBECONFIG", capstan_testkit::kubeconfig_path())
        .env_remove("CAPSTAN_RENDERER")
        .env_remove("CAPSTAN_APPLIER")
        .env_remove("HELM_DRIVER")
        .env_remove("RUST_LOG")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .envs(env.iter().copied())
        .output()
        .context("running capstan")?;
    Ok((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

/// The checks every traced `capstan upgrade --install` must pass.
fn check_trace(spans: &[Span], secret: &str, hooks: bool, daemons: bool) -> anyhow::Result<()> {
    let root = one(spans, "capstan upgrade", None)?;
    for span in spans {
        ensure!(
            span.parent.is_empty() == (span.id == root.id),
            "span {} is not connected to the command's trace",
            span.name
        );
        ensure!(
            descends(spans, span, root) || span.id == root.id,
            "span {} does not descend from the command span",
            span.name
        );
        for text in &span.text {
            ensure!(
                !text.contains(secret),
                "span {} carries a value: {text}",
                span.name
            );
        }
    }
    ensure!(
        root.attribute("release").is_some(),
        "the command span names no release"
    );
    let services: BTreeSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
    let expected: BTreeSet<&str> = if daemons {
        ["capstan", "capstan-renderer", "capstan-applier"].into()
    } else {
        ["capstan"].into()
    };
    ensure!(
        services == expected,
        "services {services:?}, expected {expected:?}"
    );

    // A remote renderer is sent the chart's archive; the in-process one its loaded files.
    one(
        spans,
        if daemons {
            "chart.package"
        } else {
            "chart.load"
        },
        None,
    )?;
    let cli_render = one(spans, "render", None)?;
    let render_client = one(spans, "capstan.renderer.v1.Renderer/Render", Some(CLIENT))?;
    let render_server = one(spans, "capstan.renderer.v1.Renderer/Render", Some(SERVER))?;
    let render = one(spans, "renderer.render", None)?;
    ensure!(
        render_client.parent == cli_render.id,
        "the render RPC is not in the CLI's render span"
    );
    ensure!(
        render_server.parent == render_client.id,
        "the renderer's server span is not a child of the CLI's client span"
    );
    ensure!(
        render.parent == render_server.id,
        "the render is not in the server span"
    );
    ensure!(
        render
            .attribute("chart")
            .is_some_and(|c| c.starts_with("sha256:"))
    );

    let cli_operation = one(spans, "operation upgrade", None)?;
    let upgrade_client = one(spans, "capstan.applier.v1.Applier/Upgrade", Some(CLIENT))?;
    let upgrade_server = one(spans, "capstan.applier.v1.Applier/Upgrade", Some(SERVER))?;
    let operation = one(spans, "applier.upgrade", None)?;
    ensure!(upgrade_client.parent == cli_operation.id);
    ensure!(
        upgrade_server.parent == upgrade_client.id,
        "the applier's server span is not a child of the CLI's client span"
    );
    ensure!(
        operation.parent == upgrade_server.id,
        "the operation is not in the server span"
    );
    ensure!(
        operation.attribute("revision").is_some(),
        "the operation span has no revision"
    );
    for step in ["lock", "apply", "wait"] {
        let step = one(spans, step, None)?;
        ensure!(
            descends(spans, step, operation),
            "{} is outside the operation",
            step.name
        );
        ensure!(step.attribute("release").is_some() && step.attribute("namespace").is_some());
    }
    ensure!(
        spans.iter().any(|s| s.name == "record"),
        "no record write span"
    );
    if hooks {
        let hook = one(spans, "hook", None)?;
        ensure!(descends(spans, hook, operation));
        ensure!(hook.attribute("event") == Some("pre-upgrade"), "{hook:?}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn one_upgrade_is_one_trace_across_cli_renderer_and_applier() {
    with_namespace("obs-trace", |ns| async move {
        let (receiver, endpoint) = Receiver::start().await?;
        let env = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ];
        let kubeconfig = capstan_testkit::kubeconfig_path();
        let renderer = Daemon::start("capstan-renderer", &[], &env)?;
        let applier = Daemon::start(
            "capstan-applier",
            &["--kubeconfig", kubeconfig.to_str().unwrap()],
            &env,
        )?;
        let secret = format!("obs-secret-{:08x}", rand::random::<u32>());
        let set = format!("config.greeting={secret}");
        let chart = webapp();
        let upgrade = [
            "upgrade",
            "--install",
            "web",
            &chart,
            "--set",
            &set,
            "--wait",
            "--timeout",
            "2m",
        ];
        let remote = [
            "--renderer",
            renderer.addr.as_str(),
            "--applier",
            applier.addr.as_str(),
        ];
        let args: Vec<&str> = upgrade.iter().chain(&remote).copied().collect();
        // The install, then an upgrade (which runs the chart's pre-upgrade hook).
        for _ in 0..2 {
            let (code, stderr) = capstan(&ns, &args, &env)?;
            ensure!(code == 0, "capstan failed: {stderr}");
            ensure!(!stderr.contains("WARNING"), "capstan warned: {stderr}");
        }
        renderer.stop()?;
        applier.stop()?;
        let mut seen = BTreeSet::new();
        for hooks in [false, true] {
            let spans = receiver.trace_rooted_at("capstan upgrade", &seen).await;
            ensure!(
                !spans.is_empty(),
                "no trace arrived; spans: {:?}",
                names(&receiver.spans())
            );
            seen.insert(spans[0].trace.clone());
            check_trace(&spans, &secret, hooks, true)
                .with_context(|| format!("spans: {:#?}", names(&spans)))?;
        }

        // In-process services: the same trace, all in the CLI's process.
        let (code, stderr) = capstan(&ns, &upgrade, &env)?;
        ensure!(code == 0, "capstan failed: {stderr}");
        let spans = receiver.trace_rooted_at("capstan upgrade", &seen).await;
        check_trace(&spans, &secret, true, false)
            .with_context(|| format!("in-process spans: {:#?}", names(&spans)))?;

        // Without OTEL_* nothing is exported.
        let before = receiver.spans().len();
        let (code, stderr) = capstan(&ns, &["history", "web"], &[])?;
        ensure!(code == 0, "capstan history failed: {stderr}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        ensure!(
            receiver.spans().len() == before,
            "spans were exported without OTEL_*"
        );
        Ok(())
    })
    .await;
}

/// The value of the sample `name{labels}` in a scrape (0 when absent).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn daemons_count_operations_renders_cache_hits_and_lock_waits() {
    with_namespace("obs-metrics", |ns| async move {
        let kubeconfig = capstan_testkit::kubeconfig_path();
        // Renders in the daemon itself (not in worker processes, the default), where compiled
        // charts are cached and counted.
        let renderer = Daemon::start("capstan-renderer", &["--render-memory-limit", "0"], &[])?;
        let applier = Daemon::start(
            "capstan-applier",
            &["--kubeconfig", kubeconfig.to_str().unwrap()],
            &[],
        )?;
        let chart = webapp();
        let remote = [
            "--renderer",
            renderer.addr.as_str(),
            "--applier",
            applier.addr.as_str(),
        ];
        let run = |args: &[&str]| {
            let args: Vec<&str> = args.iter().chain(&remote).copied().collect();
            capstan(&ns, &args, &[])
        };
        let (code, stderr) = run(&["install", "web", &chart])?;
        ensure!(code == 0, "install failed: {stderr}");
        // The same chart again: the renderer has it (a cache hit), the upgrade succeeds.
        let (code, stderr) = run(&["upgrade", "web", &chart, "--set", "replicaCount=2"])?;
        ensure!(code == 0, "upgrade failed: {stderr}");
        // A name in use: the install fails.
        let (code, _) = run(&["install", "web", &chart])?;
        ensure!(code != 0, "installing over a release succeeded");

        let applied = applier.scrape().await?;
        let rendered = renderer.scrape().await?;
        let operations = |op: &str, result: &str| {
            sample(
                &applied,
                &format!("capstan_operations_total{{operation=\"{op}\",result=\"{result}\"}}"),
            )
        };
        ensure!(operations("install", "success") == 1.0, "{applied}");
        ensure!(operations("upgrade", "success") == 1.0, "{applied}");
        let failed_installs: f64 = applied
            .lines()
            .filter(|l| {
                l.starts_with("capstan_operations_total{operation=\"install\"")
                    && !l.contains("result=\"success\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        ensure!(failed_installs == 1.0, "{applied}");
        ensure!(
            sample(
                &applied,
                "capstan_operation_duration_seconds_count{operation=\"upgrade\",result=\"success\"}"
            ) == 1.0,
            "{applied}"
        );
        ensure!(
            sample(
                &applied,
                "capstan_lock_wait_seconds_count{operation=\"upgrade\"}"
            ) == 1.0,
            "{applied}"
        );
        ensure!(
            sample(
                &applied,
                "capstan_operations_in_flight{operation=\"upgrade\"}"
            ) == 0.0,
            "{applied}"
        );
        ensure!(
            applied.contains("capstan_crash_recoveries_total{operation=\"upgrade\"} 0"),
            "{applied}"
        );
        ensure!(
            sample(&applied, "process_resident_memory_bytes") > 0.0,
            "{applied}"
        );

        ensure!(
            sample(&rendered, "capstan_renders_total{result=\"success\"}") == 3.0,
            "{rendered}"
        );
        ensure!(
            sample(
                &rendered,
                "capstan_render_duration_seconds_count{result=\"success\"}"
            ) == 3.0,
            "{rendered}"
        );
        ensure!(
            sample(
                &rendered,
                "capstan_chart_cache_misses_total{cache=\"archive\"}"
            ) == 1.0,
            "{rendered}"
        );
        ensure!(
            sample(
                &rendered,
                "capstan_chart_cache_hits_total{cache=\"archive\"}"
            ) == 2.0,
            "{rendered}"
        );
        ensure!(
            sample(
                &rendered,
                "capstan_chart_cache_hits_total{cache=\"compiled\"}"
            ) == 2.0,
            "{rendered}"
        );
        renderer.stop()?;
        applier.stop()?;
        Ok(())
    })
    .await;
}

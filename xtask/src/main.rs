//! `cargo xtask`: capstan's project automation.
//!
//! - `cluster up|down|status|env`: the local control plane (embedded etcd, kube-apiserver and
//!   kube-controller-manager from `deploy/devcluster`, plus the pod-lifecycle simulator).
//! - `test`: brings the cluster up, runs the whole test suite against it, and stops it again.
//! - `demo`: the README's main command.
//! - `bench SUITE`: side-by-side benchmarks with Helm.
//! - `codegen`: regenerate the committed protobuf code.
//! - `helm`: reference Helm v3 and v4 binaries for compatibility tests and benchmarks.
//! - `registry`: the CNCF Distribution registry the OCI tests start.
//! - `fuzz TARGET --time SECONDS`: one cargo-fuzz target (`fuzz/`, nightly) for a while.
//! - `oracle [--check]`: the Go-template case suite's golden files, written by Helm's engine.
//! - `conformance [--bless]`: the chart corpus rendered by capstan and by Helm, compared.
//! - `omitempty [--check]`: the table of API fields the server omits at their zero value
//!   (`crates/capstan-kube/src/omitted/table.rs`), from the Go API types.
//! - `deprecations [--check]`: the API types' release lifecycle Helm's linter warns by
//!   (`crates/capstan-lint/src/lifecycle.rs`), from the Go API types.

mod bench;
mod cluster;
mod conformance;
mod demo;
mod deprecations;
mod gobuild;
mod helm;
mod omitempty;
mod oracle;
mod paths;
mod probe;
mod registry;

use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "capstan's project automation")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Manage the local control plane.
    Cluster {
        #[command(subcommand)]
        action: ClusterAction,
    },
    /// Run every test, the real-cluster ones included, against the local control plane.
    Test {
        /// Extra arguments for `cargo test` (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Bring up the local control plane and walk through a deployment becoming available.
    Demo,
    /// Run a benchmark suite side by side with Helm (results in `target/bench/`).
    Bench {
        /// The suite: render, list, apply, kps (apply's kube-prometheus-stack part), load, or all.
        suite: String,
    },
    /// Regenerate the committed protobuf code from `proto/`.
    Codegen,
    /// Build the reference Helm binaries (v3 and v4) into `target/helm/` and print their paths.
    Helm,
    /// Build the CNCF Distribution registry (for the OCI tests) into `target/registry/` and
    /// print its path.
    Registry,
    /// Run one fuzz target of `fuzz/` (needs cargo-fuzz and a nightly toolchain).
    Fuzz {
        /// strvals, chart_archive, release_decode or manifest.
        target: String,
        /// How long to fuzz, in seconds.
        #[arg(long, default_value_t = 600)]
        time: u64,
        /// Build without sanitizers (`-s none`): faster, finds panics, hangs and leaks only.
        #[arg(long)]
        no_sanitizer: bool,
    },
    /// Rewrite the Go-template suite's golden files with Helm's engine (`deploy/oracle`).
    Oracle {
        /// Write nothing; fail when a golden file is out of date.
        #[arg(long)]
        check: bool,
    },
    /// Render every case of the chart corpus with capstan and Helm v3 and compare the objects.
    Conformance {
        /// Rewrite `xtask/conformance-baseline.txt` with the cases that pass now.
        #[arg(long)]
        bless: bool,
    },
    /// Regenerate `crates/capstan-kube/src/omitted/table.rs` from the Go API types.
    Omitempty {
        /// Write nothing; fail when the table is out of date.
        #[arg(long)]
        check: bool,
    },
    /// Write the table of API types' deprecation releases Helm's linter warns by.
    Deprecations {
        /// Write nothing; fail when the table is out of date.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Subcommand)]
enum ClusterAction {
    /// Build (when needed) and start the control plane and the simulator; reuse a running one.
    Up,
    /// Stop the processes `up` started and remove the state directory.
    Down,
    /// Say what runs, where, and for how long.
    Status,
    /// Print `export KUBECONFIG=...` for the running cluster, and nothing else.
    Env,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Task::Cluster { action } => match action {
            ClusterAction::Up => {
                let cluster = cluster::up()?;
                cluster.print_summary();
            }
            ClusterAction::Down => cluster::down()?,
            ClusterAction::Status => return cluster::status(),
            ClusterAction::Env => {
                let state = cluster::running()?;
                println!("export KUBECONFIG={}", state.kubeconfig.display());
            }
        },
        Task::Test { args } => return test(&args),
        Task::Demo => demo::run()?,
        Task::Bench { suite } => bench::run(&suite)?,
        Task::Codegen => codegen()?,
        Task::Helm => {
            for binary in helm::build_all()? {
                println!("{}", binary.display());
            }
        }
        Task::Registry => println!("{}", registry::build()?.display()),
        Task::Fuzz {
            target,
            time,
            no_sanitizer,
        } => fuzz(&target, time, no_sanitizer)?,
        Task::Oracle { check } => oracle::run(check)?,
        Task::Conformance { bless } => return conformance::run(bless),
        Task::Omitempty { check } => omitempty::run(check)?,
        Task::Deprecations { check } => deprecations::run(check)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `cargo xtask fuzz`: `cargo fuzz run TARGET` with the nightly toolchain in `fuzz/` for `seconds`, with a 2 GiB
/// memory limit per input; crashes land in `fuzz/artifacts/TARGET/`.
fn fuzz(target: &str, seconds: u64, no_sanitizer: bool) -> anyhow::Result<()> {
    let mut command = Command::new("rustup");
    command
        .current_dir(paths::root().join("fuzz"))
        .env_remove("RUSTUP_TOOLCHAIN")
        .args(["run", "nightly", "cargo", "fuzz", "run", "-O"]);
    if no_sanitizer {
        command.args(["-s", "none"]);
    }
    let status = command
        .arg(target)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-rss_limit_mb=2048")
        .status()
        .context(
            "running cargo fuzz (cargo install cargo-fuzz; rustup toolchain install nightly)",
        )?;
    if !status.success() {
        bail!("fuzz target {target} failed: see fuzz/artifacts/{target}/");
    }
    Ok(())
}

/// `cargo xtask codegen`: regenerates `crates/capstan-proto/src/generated` from `proto/`.
fn codegen() -> anyhow::Result<()> {
    let status = Command::new(paths::cargo())
        .current_dir(paths::root())
        .args([
            "test",
            "--quiet",
            "--package",
            "capstan-proto",
            "--test",
            "codegen",
        ])
        .env("CAPSTAN_BLESS", "1")
        .status()?;
    if !status.success() {
        bail!("code generation failed");
    }
    println!("regenerated crates/capstan-proto/src/generated");
    Ok(())
}

/// `cargo xtask test`: what CI runs after formatting and lints.
fn test(extra: &[String]) -> anyhow::Result<ExitCode> {
    // The compatibility tests run the reference Helm binaries.
    helm::build_all()?;
    // The OCI tests start the distribution registry.
    registry::build()?;
    let cluster = cluster::up()?;
    cluster.print_summary();
    let status = Command::new(paths::cargo())
        .current_dir(paths::root())
        .args(["test", "--workspace", "--all-targets", "--no-fail-fast"])
        .args(extra)
        .env("KUBECONFIG", &cluster.state.kubeconfig)
        .status()
        .context("running cargo test")?;
    if cluster.started {
        cluster::down()?;
    }
    if !status.success() {
        bail!("tests failed ({status})");
    }
    Ok(ExitCode::SUCCESS)
}

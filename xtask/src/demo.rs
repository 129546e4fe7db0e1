//! `cargo xtask demo`: the README's main command. Brings up the local control plane and the two
//! daemons, then walks through the tutorial's production workflow with `examples/charts/webapp`,
//! printing each `capstan` command and its output.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, bail};

use crate::{cluster, paths};

/// What a step expects of its command.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Success,
    Failure,
}

/// The daemons the demo starts; stopped when dropped.
struct Daemons {
    children: Vec<Child>,
    renderer: String,
    applier: String,
}

impl Drop for Daemons {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn run() -> anyhow::Result<()> {
    step("cargo xtask cluster up");
    let cluster = cluster::up()?;
    cluster.print_summary();

    step("cargo build -p capstan-cli -p capstan-renderer -p capstan-applier");
    let status = Command::new(paths::cargo())
        .current_dir(paths::root())
        .args([
            "build",
            "--quiet",
            "-p",
            "capstan-cli",
            "-p",
            "capstan-renderer",
            "-p",
            "capstan-applier",
        ])
        .status()?;
    if !status.success() {
        bail!("building capstan failed");
    }
    let bin = paths::target().join("debug");
    let kubeconfig = cluster.state.kubeconfig.clone();
    let logs = paths::state_dir();
    let daemons = Daemons::start(&bin, &kubeconfig, &logs)?;
    println!(
        "renderer daemon on {}, applier daemon on {} (logs in {})",
        daemons.renderer,
        daemons.applier,
        logs.display()
    );

    let demo = Demo {
        capstan: bin.join("capstan"),
        kubeconfig,
        daemons: &daemons,
    };
    let chart = "examples/charts/webapp";
    // Start from a clean slate: the demo's own namespaces.
    for (release, namespace) in [("prod-api", "production"), ("staging-api", "staging")] {
        let _ = demo.quiet(&["uninstall", release, "-n", namespace]);
    }

    demo.run(
        "1. install two releases of the same chart",
        Expect::Success,
        &[
            "install",
            "prod-api",
            chart,
            "-f",
            "examples/values/production.yaml",
            "-n",
            "production",
            "--create-namespace",
            "--wait",
        ],
    )?;
    demo.run(
        "",
        Expect::Success,
        &[
            "install",
            "staging-api",
            chart,
            "-f",
            "examples/values/staging.yaml",
            "-n",
            "staging",
            "--create-namespace",
            "--wait",
        ],
    )?;
    demo.run(
        "2. see what is deployed",
        Expect::Success,
        &["list", "--all-namespaces", "--filter", "api$"],
    )?;
    demo.run(
        "3. preview the changes an upgrade would make",
        Expect::Success,
        &[
            "diff",
            "upgrade",
            "prod-api",
            chart,
            "-f",
            "examples/values/production.yaml",
            "--set",
            "replicaCount=5",
            "-n",
            "production",
        ],
    )?;
    demo.run(
        "4. upgrade with new values",
        Expect::Success,
        &[
            "upgrade",
            "prod-api",
            chart,
            "-f",
            "examples/values/production.yaml",
            "--set",
            "replicaCount=5",
            "-n",
            "production",
            "--atomic",
            "--timeout",
            "2m",
            "--history-max",
            "15",
        ],
    )?;
    demo.run(
        "5. history: every upgrade is a revision",
        Expect::Success,
        &["history", "prod-api", "-n", "production"],
    )?;
    demo.run(
        "6. inspect the values of a release",
        Expect::Success,
        &["get", "values", "prod-api", "-n", "production"],
    )?;
    demo.run(
        "",
        Expect::Success,
        &[
            "get",
            "values",
            "prod-api",
            "-n",
            "production",
            "--revision",
            "1",
        ],
    )?;
    demo.run(
        "",
        Expect::Success,
        &["get", "values", "prod-api", "-n", "production", "--all"],
    )?;
    demo.run(
        "7. an --atomic upgrade to a broken image rolls itself back",
        Expect::Failure,
        &[
            "upgrade",
            "prod-api",
            chart,
            "-f",
            "examples/values/production.yaml",
            "--set",
            "replicaCount=5",
            "--set",
            "image.tag=never-ready",
            "-n",
            "production",
            "--atomic",
            "--timeout",
            "15s",
        ],
    )?;
    demo.run(
        "",
        Expect::Success,
        &["history", "prod-api", "-n", "production"],
    )?;
    demo.run(
        "8. roll back to revision 2",
        Expect::Success,
        &["rollback", "prod-api", "2", "-n", "production", "--wait"],
    )?;
    demo.run(
        "",
        Expect::Success,
        &["status", "prod-api", "-n", "production"],
    )?;
    demo.run(
        "9. uninstall, keeping the history",
        Expect::Success,
        &[
            "uninstall",
            "prod-api",
            "-n",
            "production",
            "--keep-history",
        ],
    )?;
    demo.run(
        "",
        Expect::Success,
        &["history", "prod-api", "-n", "production"],
    )?;
    demo.run(
        "10. roll back re-installs it",
        Expect::Success,
        &["rollback", "prod-api", "2", "-n", "production", "--wait"],
    )?;
    demo.run(
        "",
        Expect::Success,
        &["history", "prod-api", "-n", "production"],
    )?;
    demo.run("", Expect::Success, &["list", "-A", "--filter", "api$"])?;
    println!("\nThe demo's releases stay installed; `cargo xtask cluster down` stops the cluster.");
    Ok(())
}

impl Daemons {
    fn start(bin: &Path, kubeconfig: &Path, logs: &Path) -> anyhow::Result<Daemons> {
        let mut daemons = Daemons {
            children: Vec::new(),
            renderer: String::new(),
            applier: String::new(),
        };
        let (child, addr) = daemon(
            &bin.join("capstan-renderer"),
            &[],
            kubeconfig,
            &logs.join("renderer.log"),
        )?;
        daemons.children.push(child);
        daemons.renderer = addr;
        let kube_arg = kubeconfig.display().to_string();
        let (child, addr) = daemon(
            &bin.join("capstan-applier"),
            &["--kubeconfig", &kube_arg],
            kubeconfig,
            &logs.join("applier.log"),
        )?;
        daemons.children.push(child);
        daemons.applier = addr;
        Ok(daemons)
    }
}

/// Starts a daemon on a free loopback port and returns it with the address from its first line.
fn daemon(
    program: &Path,
    args: &[&str],
    kubeconfig: &Path,
    log: &Path,
) -> anyhow::Result<(Child, String)> {
    let mut child = Command::new(program)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("daemon stdout")?).read_line(&mut line)?;
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    if addr.is_empty() {
        let _ = child.kill();
        bail!(
            "{} did not say where it listens; log: {}",
            program.display(),
            log.display()
        );
    }
    Ok((child, addr))
}

struct Demo<'a> {
    capstan: PathBuf,
    kubeconfig: PathBuf,
    daemons: &'a Daemons,
}

impl Demo<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.capstan);
        command
            .current_dir(paths::root())
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("CAPSTAN_RENDERER", &self.daemons.renderer)
            .env("CAPSTAN_APPLIER", &self.daemons.applier);
        command
    }

    /// Runs a step, printing the command and its output; fails when it does not end as expected.
    fn run(&self, title: &str, expect: Expect, args: &[&str]) -> anyhow::Result<()> {
        if !title.is_empty() {
            println!("\n# {title}");
        }
        step(&format!("capstan {}", args.join(" ")));
        let status = self.command(args).status()?;
        match (expect, status.success()) {
            (Expect::Success, true) | (Expect::Failure, false) => Ok(()),
            (Expect::Success, false) => bail!("`capstan {}` failed ({status})", args.join(" ")),
            (Expect::Failure, true) => bail!("`capstan {}` should have failed", args.join(" ")),
        }
    }

    /// Runs a command without showing it (clean-up).
    fn quiet(&self, args: &[&str]) -> anyhow::Result<()> {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        Ok(())
    }
}

fn step(command: &str) {
    println!("\n$ {command}");
}

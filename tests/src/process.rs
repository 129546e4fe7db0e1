//! The built binaries as separate processes: `capstan` runs and daemons (`capstan-renderer`,
//! `capstan-applier`) on free loopback ports, stopped with SIGTERM or when dropped.
//!
//! The binaries are the ones cargo built next to the running test (`cargo test --workspace`
//! builds them; alone, run `cargo build -p capstan-cli -p capstan-applier -p capstan-renderer`).

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};

/// A binary built by cargo in the running test's target directory.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows where it is");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("tests run from target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p capstan-cli -p capstan-applier -p capstan-renderer`",
        path.display()
    );
    path
}

/// The repository root.
pub fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// One `capstan` run's outcome.
#[derive(Debug)]
pub struct Run {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Requires the run of `capstan ARGS` to have exited 0; returns its standard output, or an
    /// error quoting `args`, the exit code and both outputs.
    pub fn ok(self, args: &[&str]) -> anyhow::Result<String> {
        ensure!(
            self.code == 0,
            "capstan {args:?} exited {}:\n{}\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        Ok(self.stdout)
    }

    /// The first `Error: ` line of standard error, or an empty string.
    pub fn error_line(&self) -> &str {
        self.stderr
            .lines()
            .find(|l| l.starts_with("Error: ") || l.starts_with("error: "))
            .unwrap_or_default()
    }
}

/// Runs `capstan ARGS` against the local control plane, with no daemon addresses, driver or
/// namespace from the environment (the arguments say everything).
pub fn capstan(args: &[&str]) -> Run {
    Command::new(binary("capstan"))
        .args(args)
        .env("KUBECONFIG", capstan_testkit::kubeconfig_path())
        .env_remove("CAPSTAN_RENDERER")
        .env_remove("CAPSTAN_APPLIER")
        .env_remove("CAPSTAN_TOKEN")
        .env_remove("HELM_DRIVER")
        .env_remove("HELM_NAMESPACE")
        .env_remove("HELM_MAX_HISTORY")
        .output()
        .expect("capstan runs")
        .into()
}

/// Runs `capstan ARGS` and requires success; returns standard output.
pub fn capstan_ok(args: &[&str]) -> anyhow::Result<String> {
    capstan(args).ok(args)
}

/// A daemon process, killed when dropped unless it already exited.
pub struct Daemon {
    child: Child,
    /// The address it listens on.
    pub addr: String,
}

impl Daemon {
    /// Starts `name ARGS` (which must include `--listen 127.0.0.1:0`) and reads the address
    /// from its `... listening on ADDR` line.
    pub fn start(name: &str, args: &[&str]) -> anyhow::Result<Daemon> {
        Daemon::spawn(
            name,
            Command::new(binary(name)).args(args).stderr(Stdio::null()),
        )
    }

    /// Starts `command` (the daemon `name`, its arguments and anything else the caller set, e.g.
    /// where its log goes) and reads the address from its `... listening on ADDR` line.
    pub fn spawn(name: &str, command: &mut Command) -> anyhow::Result<Daemon> {
        let mut child = command
            .stdout(Stdio::piped())
            .env_remove("HELM_DRIVER")
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let stdout = child.stdout.take().context("piped stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|a| a.contains(':'))
            .with_context(|| format!("{name} printed no address: {line:?}"))?
            .to_owned();
        Ok(Daemon { child, addr })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        ensure!(status.success(), "kill -TERM {} failed", self.child.id());
        Ok(())
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            ensure!(
                Instant::now() < deadline,
                "pid {} still runs after {timeout:?}",
                self.child.id()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

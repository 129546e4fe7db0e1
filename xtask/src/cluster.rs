//! The local control plane's processes: build, start, find, report on and stop them.
//!
//! `up` is idempotent and safe to run from several processes at once (an exclusive file lock);
//! `down` stops exactly the processes whose pids `up` recorded, after checking each pid still runs
//! the program it started.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::{paths, probe};

/// What `state.json` records about a running cluster.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    pub server: String,
    pub kubeconfig: PathBuf,
    pub processes: Vec<Process>,
}

/// One process `up` started.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Process {
    pub name: String,
    pub pid: i32,
    pub program: PathBuf,
    pub started: jiff::Timestamp,
    pub log: PathBuf,
}

impl Process {
    /// Whether the pid still runs the program we started (and not some unrelated process that
    /// reused the pid).
    fn is_running(&self) -> bool {
        let Ok(cmdline) = fs::read(format!("/proc/{}/cmdline", self.pid)) else {
            return false;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{}/stat", self.pid)) else {
            return false;
        };
        // A zombie has exited; it only waits to be reaped.
        let zombie = stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'));
        let program = cmdline.split(|b| *b == 0).next().unwrap_or_default();
        !zombie && program == self.program.as_os_str().as_encoded_bytes()
    }
}

/// A cluster that `up` found or started.
pub struct Cluster {
    pub state: State,
    /// Whether this `up` started it (rather than reusing a running one).
    pub started: bool,
    startup: Option<Duration>,
}

impl Cluster {
    pub fn print_summary(&self) {
        let how = match self.startup {
            Some(t) => format!("started in {:.1}s", t.as_secs_f64()),
            None => "already running, reused".to_string(),
        };
        println!("local control plane {how}: {}", self.state.server);
        println!("  export KUBECONFIG={}", self.state.kubeconfig.display());
    }
}

fn state_file() -> PathBuf {
    paths::state_dir().join("state.json")
}

fn read_state() -> anyhow::Result<Option<State>> {
    match fs::read(state_file()) {
        Ok(bytes) => Ok(Some(
            serde_json::from_slice(&bytes).context("reading state.json")?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).context("reading state.json"),
    }
}

fn write_state(state: &State) -> anyhow::Result<()> {
    let tmp = paths::state_dir().join("state.json.tmp");
    fs::write(&tmp, serde_json::to_vec_pretty(state)?)?;
    fs::rename(&tmp, state_file())?;
    Ok(())
}

/// Holds the cluster lock until dropped.
fn lock() -> anyhow::Result<File> {
    fs::create_dir_all(paths::cluster_home())?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(paths::cluster_home().join("lock"))?;
    file.lock().context("locking the cluster state")?;
    Ok(file)
}

/// The running cluster's state, or an error saying how to start one.
pub fn running() -> anyhow::Result<State> {
    match read_state()? {
        Some(state) if state.processes.iter().all(Process::is_running) => Ok(state),
        _ => {
            bail!("the local control plane is not running; start it with `cargo xtask cluster up`")
        }
    }
}

/// Starts the local control plane, or reuses the running one.
pub fn up() -> anyhow::Result<Cluster> {
    let _lock = lock()?;
    if let Some(state) = read_state()? {
        if state.processes.iter().all(Process::is_running)
            && probe::healthy(&state.kubeconfig).is_ok()
        {
            return Ok(Cluster {
                state,
                started: false,
                startup: None,
            });
        }
        eprintln!("a previous local control plane is gone or unhealthy; replacing it");
        stop(&state);
    }
    let _ = fs::remove_dir_all(paths::state_dir());
    fs::create_dir_all(paths::state_dir())?;

    let devcluster = build_devcluster()?;
    let podsim = build_podsim()?;
    let started = Instant::now();

    let out_path = paths::state_dir().join("devcluster.out");
    let log_path = paths::state_dir().join("devcluster.log");
    let mut child = spawn(
        Command::new(&devcluster)
            .arg("--state-dir")
            .arg(paths::state_dir()),
        &out_path,
        &log_path,
    )
    .context("starting the control plane")?;
    let mut state = State {
        server: String::new(),
        kubeconfig: paths::state_dir().join("kubeconfig"),
        processes: vec![Process {
            name: "devcluster".into(),
            pid: child.id() as i32,
            program: devcluster,
            started: jiff::Timestamp::now(),
            log: log_path.clone(),
        }],
    };
    write_state(&state)?;

    state.server = wait_for_ready_line(&mut child, &out_path, &log_path)?;
    write_state(&state)?;

    let sim_log = paths::state_dir().join("podsim.log");
    let sim = spawn(
        Command::new(&podsim)
            .arg("--kubeconfig")
            .arg(&state.kubeconfig)
            .env("RUST_LOG", "info,kube=warn"),
        &sim_log,
        &sim_log,
    )
    .context("starting the pod-lifecycle simulator")?;
    state.processes.push(Process {
        name: "podsim".into(),
        pid: sim.id() as i32,
        program: podsim,
        started: jiff::Timestamp::now(),
        log: sim_log.clone(),
    });
    write_state(&state)?;

    probe::probe_deployment(&state.kubeconfig).with_context(|| {
        format!(
            "the probe Deployment did not become Available (logs: {} and {})",
            log_path.display(),
            sim_log.display()
        )
    })?;
    Ok(Cluster {
        state,
        started: true,
        startup: Some(started.elapsed()),
    })
}

/// Stops the running cluster, if any, and removes its state directory.
pub fn down() -> anyhow::Result<()> {
    let _lock = lock()?;
    match read_state()? {
        Some(state) => {
            stop(&state);
            println!("local control plane stopped");
        }
        None => println!("no local control plane is running"),
    }
    let _ = fs::remove_dir_all(paths::state_dir());
    Ok(())
}

/// Prints what runs, where and for how long; fails when the cluster is not running.
pub fn status() -> anyhow::Result<ExitCode> {
    let Some(state) = read_state()? else {
        println!("local control plane: not running");
        return Ok(ExitCode::FAILURE);
    };
    let now = jiff::Timestamp::now();
    let mut all_running = true;
    println!("local control plane: {}", state.server);
    println!("  kubeconfig: {}", state.kubeconfig.display());
    println!("  state dir:  {}", paths::state_dir().display());
    for process in &state.processes {
        let running = process.is_running();
        all_running &= running;
        let uptime = (now - process.started)
            .round(jiff::Unit::Second)
            .unwrap_or_default();
        println!(
            "  {:<10} pid {:<7} {:<8} up {:#}  log {}",
            process.name,
            process.pid,
            if running { "running" } else { "STOPPED" },
            uptime,
            process.log.display()
        );
    }
    match probe::healthy(&state.kubeconfig) {
        Ok(health) => println!("  api server: healthy; {health}"),
        Err(error) => {
            println!("  api server: unhealthy: {error:#}");
            all_running = false;
        }
    }
    Ok(if all_running {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Sends SIGTERM to each recorded process (simulator first), then SIGKILL after a grace period.
fn stop(state: &State) {
    for process in state.processes.iter().rev() {
        if !process.is_running() {
            continue;
        }
        let pid = Pid::from_raw(process.pid);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while process.is_running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if process.is_running() {
            eprintln!(
                "{} (pid {}) ignored SIGTERM; killing it",
                process.name, process.pid
            );
            let _ = kill(pid, Signal::SIGKILL);
        }
    }
}

/// Starts a program detached from our process group, so it outlives this command and a Ctrl-C in
/// the terminal that started it.
fn spawn(command: &mut Command, stdout: &Path, stderr: &Path) -> anyhow::Result<Child> {
    let out = File::create(stdout)?;
    let err = if stdout == stderr {
        out.try_clone()?
    } else {
        File::create(stderr)?
    };
    let child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()?;
    Ok(child)
}

/// Waits for the control plane's ready line and returns the API server's URL.
fn wait_for_ready_line(child: &mut Child, out: &Path, log: &Path) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Ok(file) = File::open(out) {
            for line in BufReader::new(file).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("devcluster ready ") {
                    let server = rest
                        .split_whitespace()
                        .find_map(|kv| kv.strip_prefix("server="))
                        .context("ready line without server=")?;
                    return Ok(server.to_string());
                }
            }
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "the control plane exited during start-up ({status}); log: {}\n{}",
                log.display(),
                tail(log, 20)
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!(
                "the control plane was not ready after 180s; log: {}\n{}",
                log.display(),
                tail(log, 20)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Builds the control-plane program unless a binary for the same inputs is cached.
fn build_devcluster() -> anyhow::Result<PathBuf> {
    let source = paths::root().join("deploy").join("devcluster");
    crate::gobuild::cached(
        &source,
        &paths::cluster_home().join("bin"),
        "devcluster",
        &version_ldflags(&source)?,
        "the first build takes several minutes",
    )
}

/// The linker flags that make the API server report the version of the `k8s.io/kubernetes`
/// module it is built from, as a released kube-apiserver does (`/version`'s `gitVersion`):
/// without them it reports `v0.0.0-master+$Format:%H$`, which is not a semantic version, and
/// charts that compare `.Capabilities.KubeVersion` (bitnami's) fail to render in Helm.
fn version_ldflags(source: &Path) -> anyhow::Result<Vec<String>> {
    let go_mod = fs::read_to_string(source.join("go.mod"))?;
    let version = go_mod
        .lines()
        .filter_map(|l| l.trim().strip_prefix("k8s.io/kubernetes "))
        .map(str::trim)
        .find(|v| v.starts_with('v'))
        .context("deploy/devcluster/go.mod requires no k8s.io/kubernetes version")?;
    let mut parts = version.trim_start_matches('v').split('.');
    let (major, minor) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let package = "k8s.io/component-base/version";
    Ok(vec![
        format!("-X {package}.gitVersion={version}"),
        format!("-X {package}.gitMajor={major}"),
        format!("-X {package}.gitMinor={minor}"),
        format!("-X {package}.gitTreeState=clean"),
    ])
}

/// Builds the pod-lifecycle simulator with cargo and returns its path.
fn build_podsim() -> anyhow::Result<PathBuf> {
    paths::debug_binary("capstan-podsim", "capstan-podsim")
}

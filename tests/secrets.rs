//! Secret values never reach the daemons' logs or the CLI's output, against the real local
//! control plane: `capstan-renderer` and `capstan-applier` run as processes at `RUST_LOG=trace`
//! (capstan, tonic, hyper, kube-rs and all), a chart puts a distinctive value into a Secret, and
//! an install, a failing upgrade (the API server rejects the Secret), a bad `--set` and a schema
//! violation run with it; no log line and no error message holds the value.
//!
//! The binaries are the ones cargo built next to this test (`cargo test --workspace` builds
//! them; alone, run `cargo build -p capstan-cli -p capstan-applier -p capstan-renderer` first).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, ensure};
use capstan_e2e::process::binary;
use capstan_testkit::with_namespace;

const SECRET: &str = "hunter2-5e7a1c9d-payload";
const MARK: &str = "5e7a1c9d";

/// A daemon at TRACE level with its log in a file, stopped when dropped.
struct Daemon {
    process: capstan_e2e::process::Daemon,
    log: PathBuf,
}

impl Daemon {
    fn start(name: &str, args: &[&str], dir: &Path) -> anyhow::Result<Daemon> {
        let log = dir.join(format!("{name}.log"));
        let process = capstan_e2e::process::Daemon::spawn(
            name,
            Command::new(binary(name))
                .args(args)
                .env("RUST_LOG", "trace")
                .stderr(std::fs::File::create(&log)?),
        )?;
        Ok(Daemon { process, log })
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }
}

fn write_chart(dir: &Path) -> anyhow::Result<PathBuf> {
    let chart = dir.join("vault");
    std::fs::create_dir_all(chart.join("templates"))?;
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nannotations:\n  capstan.dev/template-syntax: minijinja\nname: vault\nversion: 1.0.0\n",
    )?;
    std::fs::write(
        chart.join("values.yaml"),
        "password: changeme\nport: 5432\nbadKey: false\n",
    )?;
    std::fs::write(
        chart.join("values.schema.json"),
        r#"{"type":"object","properties":{"port":{"type":"integer"}}}"#,
    )?;
    std::fs::write(
        chart.join("templates/secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: vault\ndata:\n{% if Values.badKey %}  \"not a valid key!\": {{ Values.password | b64enc }}\n{% else %}  password: {{ Values.password | b64enc }}\n{% endif %}",
    )?;
    Ok(chart)
}

#[tokio::test]
async fn secret_values_stay_out_of_logs_and_errors() {
    with_namespace("secrets", |ns| async move {
        let dir = tempfile::tempdir()?;
        let chart = write_chart(dir.path())?;
        let chart = chart.to_str().context("utf-8 path")?;
        let renderer = Daemon::start("capstan-renderer", &["--listen", "127.0.0.1:0"], dir.path())?;
        let kubeconfig = capstan_testkit::kubeconfig_path();
        let applier = Daemon::start(
            "capstan-applier",
            &[
                "--listen",
                "127.0.0.1:0",
                "--kubeconfig",
                kubeconfig.to_str().unwrap(),
            ],
            dir.path(),
        )?;
        let capstan = |args: &[&str]| {
            Command::new(binary("capstan"))
                .args(args)
                .args(["-n", ns.name()])
                .args([
                    "--renderer",
                    &renderer.process.addr,
                    "--applier",
                    &applier.process.addr,
                ])
                .env("KUBECONFIG", &kubeconfig)
                .env("RUST_LOG", "trace")
                .env_remove("HELM_DRIVER")
                .output()
                .expect("capstan runs")
        };
        let set = format!("password={SECRET}");

        let install = capstan(&["install", "vault", chart, "--set", &set, "--wait"]);
        ensure!(
            install.status.success(),
            "install failed: {}",
            String::from_utf8_lossy(&install.stderr)
        );
        let mut outputs = vec![install];
        // The API server rejects the Secret: the error must not echo its data.
        outputs.push(capstan(&[
            "upgrade",
            "vault",
            chart,
            "--set",
            &set,
            "--set",
            "badKey=true",
        ]));
        let rejected = String::from_utf8_lossy(&outputs[1].stderr).into_owned();
        ensure!(
            rejected.contains("Secret \"vault\" is invalid"),
            "the API server should reject the Secret: {rejected}"
        );
        // A malformed --set holding the value, and a schema violation by it.
        outputs.push(capstan(&[
            "upgrade",
            "vault",
            chart,
            "--set",
            &format!("password={SECRET},port"),
        ]));
        outputs.push(capstan(&[
            "upgrade",
            "vault",
            chart,
            "--set",
            &format!("port={SECRET}"),
        ]));
        for (i, out) in outputs.iter().enumerate() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            ensure!(
                !stderr.contains(MARK),
                "run {i}: the secret is in stderr:\n{stderr}"
            );
            ensure!(
                !stdout.contains(MARK),
                "run {i}: the secret is in stdout:\n{stdout}"
            );
            if i > 0 {
                ensure!(!out.status.success(), "run {i} should have failed");
            }
        }
        for daemon in [&renderer, &applier] {
            let log = daemon.log();
            ensure!(
                log.lines().count() > 10,
                "the daemon logged at trace: {log}"
            );
            if let Some(line) = log.lines().find(|l| l.contains(MARK)) {
                anyhow::bail!("{} logged the secret: {line}", daemon.log.display());
            }
        }
        Ok(())
    })
    .await;
}

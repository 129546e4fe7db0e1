//! Finds the local control plane, starting it if none runs, and hands out clients for it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, Client};
use tokio::sync::OnceCell;

/// The workspace root, from this crate's location.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The local control plane's admin kubeconfig.
pub fn kubeconfig_path() -> PathBuf {
    root().join("target/devcluster/state/kubeconfig")
}

async fn connect(kubeconfig: &Path) -> anyhow::Result<Client> {
    let config = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default()).await?;
    let client = Client::try_from(config)?;
    tokio::time::timeout(
        Duration::from_secs(5),
        Api::<Namespace>::all(client.clone()).get("default"),
    )
    .await
    .context("the API server did not answer within 5s")??;
    Ok(client)
}

/// A client for the local control plane, started on first use if it is not running.
///
/// Each call builds a new client: every `#[tokio::test]` has a runtime of its own, and a client's
/// connections must not outlive the runtime they were made on.
pub async fn client() -> anyhow::Result<Client> {
    static STARTED: OnceCell<()> = OnceCell::const_new();
    let kubeconfig = kubeconfig_path();
    STARTED
        .get_or_try_init(|| async {
            if connect(&kubeconfig).await.is_ok() {
                return Ok(());
            }
            eprintln!(
                "capstan-testkit: no local control plane answers; running `cargo xtask cluster up`"
            );
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = tokio::task::spawn_blocking(move || {
                Command::new(cargo)
                    .current_dir(root())
                    .args(["xtask", "cluster", "up"])
                    .status()
            })
            .await?
            .context("running `cargo xtask cluster up`")?;
            if !status.success() {
                bail!("`cargo xtask cluster up` failed ({status})");
            }
            anyhow::Ok(())
        })
        .await?;
    connect(&kubeconfig)
        .await
        .context("connecting to the local control plane")
}

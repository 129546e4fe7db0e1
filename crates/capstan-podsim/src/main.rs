//! `capstan-podsim`: runs the pod-lifecycle simulator against the cluster in `--kubeconfig`.

use anyhow::Context as _;
use clap::Parser;

/// Plays the kubelet's part on capstan's local control plane.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Kubeconfig of the cluster to simulate a node for.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: std::path::PathBuf,
    /// Name of the simulated node.
    #[arg(long, default_value = capstan_podsim::DEFAULT_NODE_NAME)]
    node: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let kubeconfig = kube::config::Kubeconfig::read_from(&args.kubeconfig)
        .with_context(|| format!("reading kubeconfig {}", args.kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    let client = kube::Client::try_from(config)?;
    let simulator = capstan_podsim::Simulator::new(client, args.node);
    tokio::select! {
        result = simulator.run() => result?,
        _ = shutdown() => tracing::info!("shutting down"),
    }
    Ok(())
}

async fn shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

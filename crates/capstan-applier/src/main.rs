//! `capstan-applier`: the applier daemon.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use capstan_applier::{ApplierService, KubeBackend};
use capstan_telemetry::trace::Logs;
use clap::Parser;

/// Serves capstan's applier over gRPC.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(
        long,
        env = "CAPSTAN_APPLIER_LISTEN",
        default_value = "127.0.0.1:50052"
    )]
    listen: String,
    /// TLS and bearer tokens.
    #[command(flatten)]
    security: capstan_server::SecurityFlags,
    /// Serve Prometheus metrics at http://ADDR/metrics (off by default).
    #[arg(long, env = "CAPSTAN_APPLIER_METRICS_LISTEN", value_name = "ADDR")]
    metrics_listen: Option<String>,
    /// Path to the kubeconfig file (default: `KUBECONFIG`, `~/.kube/config`, in-cluster).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// How long a release lock lasts without renewal, in seconds (`15` or `15s`; at least 3):
    /// how soon after this process dies another applier may take its releases over.
    #[arg(long, value_parser = seconds, default_value = "15")]
    lease_duration: Duration,
    /// Accept Kubernetes service-account tokens too, checked with the cluster's TokenReview API
    /// (the applier's identity needs `create` on `tokenreviews`).
    #[arg(long, env = "CAPSTAN_TOKEN_REVIEW")]
    token_review: bool,
    /// With --token-review: accept only tokens issued for this audience (repeatable; default:
    /// the API server's audiences).
    #[arg(long, requires = "token_review")]
    token_audience: Vec<String>,
    /// The tenant policy from a ConfigMap (key `policy.yaml`) instead of --policy, read again
    /// every 2 seconds (the applier's identity needs `get` on it).
    #[arg(long, value_name = "NAMESPACE/NAME", conflicts_with = "policy")]
    policy_configmap: Option<String>,
    /// Most operations at once; more are refused (RESOURCE_EXHAUSTED).
    #[arg(long, env = "CAPSTAN_MAX_IN_FLIGHT", default_value_t = capstan_applier::DEFAULT_MAX_IN_FLIGHT)]
    max_in_flight: usize,
    /// Most operations of one tenant (under a policy) at once; more are refused.
    #[arg(long, env = "CAPSTAN_MAX_IN_FLIGHT_PER_TENANT", default_value_t = capstan_applier::DEFAULT_MAX_IN_FLIGHT_PER_TENANT)]
    max_in_flight_per_tenant: usize,
}

/// Parses `15` or `15s`.
fn seconds(text: &str) -> Result<Duration, String> {
    text.trim()
        .trim_end_matches('s')
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| format!("invalid duration {text:?} (expected seconds, e.g. 15s)"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let telemetry = capstan_telemetry::trace::init("capstan-applier", Logs::Default("info"))?;
    let config = capstan_applier::kube_config(args.kubeconfig.as_deref(), None)
        .await
        .map_err(|e| anyhow::anyhow!(e))
        .context("reading the Kubernetes configuration")?;
    let client = kube::Client::try_from(config.clone()).context("connecting to Kubernetes")?;
    let storage = capstan_storage::StorageConfig::from_env()?;
    let backend = KubeBackend::with_lease_duration(client.clone(), storage, args.lease_duration)
        .with_config(config);
    let service = ApplierService::new(Arc::new(backend))
        .with_in_flight_limits(args.max_in_flight, args.max_in_flight_per_tenant);
    let mut security = args.security.security()?;
    if let Some(configmap) = &args.policy_configmap {
        let (namespace, name) = configmap
            .split_once('/')
            .context("--policy-configmap takes NAMESPACE/NAME")?;
        let policy = capstan_kube::auth::policy_from_config_map(&client, namespace, name)
            .await
            .map_err(|e| anyhow::anyhow!(e))
            .with_context(|| format!("reading the tenant policy from configmap {configmap}"))?;
        capstan_kube::auth::follow_policy_config_map(
            client.clone(),
            namespace.to_owned(),
            name.to_owned(),
            policy.clone(),
            Duration::from_secs(2),
        );
        security.policy = Some(policy);
    }
    if args.token_review {
        let reviewer =
            capstan_kube::auth::TokenReviewer::new(client).audiences(args.token_audience);
        security.reviewer = Some(capstan_server::security::Reviewer(Arc::new(reviewer)));
    }
    let signal = capstan_server::shutdown_signal();
    let daemon = capstan_server::Daemon::bind(&args.listen).await?;
    let metrics = capstan_server::serve_metrics(args.metrics_listen.as_deref()).await?;
    println!("capstan-applier listening on {}", daemon.local_addr());
    if let Some(addr) = metrics.local_addr() {
        println!("capstan-applier metrics on http://{addr}/metrics");
    }
    let draining = service.clone();
    let shutdown = async move {
        signal.await;
        draining.begin_shutdown();
    };
    let served = daemon
        .serve_secure(
            service.clone().into_server(),
            capstan_proto::FILE_DESCRIPTOR_SET,
            &security,
            shutdown,
        )
        .await;
    service.wait_idle().await;
    metrics.stop().await;
    telemetry.shutdown().await;
    Ok(served?)
}

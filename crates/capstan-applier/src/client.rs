//! Kubernetes clients for the daemon, from a kubeconfig file.

use std::path::Path;

/// A Kubernetes client from a kubeconfig file (or the default: `KUBECONFIG`, `~/.kube/config`,
/// in-cluster), with an optional context.
pub async fn kube_client(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<kube::Client, Box<dyn std::error::Error + Send + Sync>> {
    Ok(kube::Client::try_from(
        kube_config(kubeconfig, context).await?,
    )?)
}

/// The Kubernetes client configuration of [`kube_client`] (what tenants' impersonating clients
/// are made from).
pub async fn kube_config(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<kube::Config, Box<dyn std::error::Error + Send + Sync>> {
    capstan_kube::auth::config(kubeconfig, context).await
}

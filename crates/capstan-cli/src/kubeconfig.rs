//! The Kubernetes connection as Helm's global flags describe it: the kubeconfig file (or list),
//! the context (`--kube-context`, `HELM_KUBECONTEXT`), the namespace of that context, the
//! `--kube-*` overrides, and the reachability check Helm makes first (`GET /version`).
//!
//! Precedence is Helm's: a flag, then its `HELM_*` variable, then the kubeconfig. The namespace
//! is `-n`, then `HELM_NAMESPACE`, then the namespace of the context in use, then `default`.

use std::path::PathBuf;

use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};

use crate::cli::Global;

/// Where the service account's namespace is, when running in a pod.
const IN_CLUSTER_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// The name given to the cluster, user and context made up from `--kube-apiserver` when there
/// is no kubeconfig.
const FLAGS_ONLY: &str = "capstan-flags";

/// The kubeconfig files to read: `--kubeconfig`/`KUBECONFIG` (a list, split like `PATH`), or
/// `~/.kube/config` when it exists. Empty: none (in-cluster, or flags only).
fn files(global: &Global) -> anyhow::Result<Vec<PathBuf>> {
    if let Some(named) = global
        .kubeconfig
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty())
    {
        let paths: Vec<PathBuf> = std::env::split_paths(named)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        let existing: Vec<PathBuf> = paths.iter().filter(|p| p.exists()).cloned().collect();
        if existing.is_empty() {
            let quoted: Vec<String> = paths
                .iter()
                .map(|p| format!("{:?}", p.display().to_string()))
                .collect();
            anyhow::bail!(
                "kubeconfig {} does not exist (set by {})",
                quoted.join(", "),
                kubeconfig_source()
            );
        }
        return Ok(existing);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    Ok(home
        .map(|h| h.join(".kube").join("config"))
        .filter(|p| p.exists())
        .into_iter()
        .collect())
}

/// Says whether the kubeconfig path came from the flag or from `KUBECONFIG`.
fn kubeconfig_source() -> &'static str {
    if std::env::args().any(|a| a == "--kubeconfig" || a.starts_with("--kubeconfig=")) {
        "--kubeconfig"
    } else {
        "KUBECONFIG"
    }
}

/// Reads and merges the kubeconfig files (first file wins, as kubectl does).
fn read(global: &Global) -> anyhow::Result<Option<Kubeconfig>> {
    let mut merged: Option<Kubeconfig> = None;
    for path in files(global)? {
        let file = Kubeconfig::read_from(&path).map_err(|e| {
            anyhow::anyhow!(
                "reading kubeconfig {:?}: {}",
                path.display().to_string(),
                plain(&e)
            )
        })?;
        merged = Some(match merged {
            None => file,
            Some(m) => m.merge(file).map_err(|e| {
                anyhow::anyhow!(
                    "merging kubeconfig {:?}: {}",
                    path.display().to_string(),
                    plain(&e)
                )
            })?,
        });
    }
    Ok(merged)
}

/// An error and its causes on one line, each said once.
fn plain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out = format!("{out}: {text}");
        }
        cause = e.source();
    }
    out
}

/// The context in use: `--kube-context`/`HELM_KUBECONTEXT`, else the current context.
fn context_name(global: &Global, file: &Kubeconfig) -> Option<String> {
    global
        .kube_context
        .clone()
        .filter(|c| !c.is_empty())
        .or_else(|| file.current_context.clone())
        .filter(|c| !c.is_empty())
}

/// The namespace of the context in use (or of the pod's service account in a cluster), if any.
/// Never fails: a kubeconfig that cannot be read is reported when connecting.
pub fn context_namespace(global: &Global) -> Option<String> {
    match read(global) {
        Ok(Some(file)) => {
            let name = context_name(global, &file)?;
            file.contexts
                .iter()
                .find(|c| c.name == name)
                .and_then(|c| c.context.as_ref())
                .and_then(|c| c.namespace.clone())
                .filter(|n| !n.is_empty())
        }
        Ok(None) => std::fs::read_to_string(IN_CLUSTER_NAMESPACE)
            .ok()
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty()),
        Err(_) => None,
    }
}

/// The names of the kubeconfig's contexts (none when it cannot be read).
pub fn contexts(global: &Global) -> Vec<String> {
    match read(global) {
        Ok(Some(file)) => file.contexts.into_iter().map(|c| c.name).collect(),
        _ => Vec::new(),
    }
}

/// The `--kube-*` overrides given.
fn has_overrides(global: &Global) -> bool {
    let k = &global.kube;
    k.kube_apiserver.is_some()
        || k.kube_token.is_some()
        || k.kube_as_user.is_some()
        || !k.kube_as_group.is_empty()
        || k.kube_ca_file.is_some()
        || k.kube_insecure_skip_tls_verify
        || k.kube_tls_server_name.is_some()
}

/// Applies the `--kube-*` overrides to the cluster and user of the context in use (made up
/// when there is no kubeconfig and `--kube-apiserver` names the server).
fn apply_overrides(global: &Global, file: &mut Kubeconfig) -> anyhow::Result<String> {
    let k = &global.kube;
    let context = match context_name(global, file) {
        Some(name) => name,
        None if k.kube_apiserver.is_some() => {
            file.clusters.push(NamedCluster {
                name: FLAGS_ONLY.into(),
                cluster: Some(Cluster::default()),
                ..NamedCluster::default()
            });
            file.auth_infos.push(NamedAuthInfo {
                name: FLAGS_ONLY.into(),
                auth_info: Some(AuthInfo::default()),
                ..NamedAuthInfo::default()
            });
            file.contexts.push(NamedContext {
                name: FLAGS_ONLY.into(),
                context: Some(Context {
                    cluster: FLAGS_ONLY.into(),
                    user: Some(FLAGS_ONLY.into()),
                    ..Context::default()
                }),
                ..NamedContext::default()
            });
            FLAGS_ONLY.to_owned()
        }
        None => anyhow::bail!("the kubeconfig has no current context; pass --kube-context"),
    };
    let Some(found) = file.contexts.iter().find(|c| c.name == context) else {
        anyhow::bail!("context {context:?} not found in the kubeconfig");
    };
    let found = found.context.clone().unwrap_or_default();
    if let Some(cluster) = file.clusters.iter_mut().find(|c| c.name == found.cluster) {
        let cluster = cluster.cluster.get_or_insert_with(Cluster::default);
        if let Some(server) = &k.kube_apiserver {
            cluster.server = Some(server_url(server));
        }
        if let Some(ca) = &k.kube_ca_file {
            cluster.certificate_authority = Some(ca.display().to_string());
            cluster.certificate_authority_data = None;
        }
        if k.kube_insecure_skip_tls_verify {
            cluster.insecure_skip_tls_verify = Some(true);
            cluster.certificate_authority = None;
            cluster.certificate_authority_data = None;
        }
        if let Some(name) = &k.kube_tls_server_name {
            cluster.tls_server_name = Some(name.clone());
        }
    } else if k.kube_apiserver.is_none() {
        anyhow::bail!(
            "cluster {:?} of context {context:?} not found in the kubeconfig",
            found.cluster
        );
    }
    let user = found.user.clone().unwrap_or_else(|| FLAGS_ONLY.into());
    if !file.auth_infos.iter().any(|a| a.name == user) {
        file.auth_infos.push(NamedAuthInfo {
            name: user.clone(),
            auth_info: Some(AuthInfo::default()),
            ..NamedAuthInfo::default()
        });
    }
    if let Some(auth) = file.auth_infos.iter_mut().find(|a| a.name == user) {
        let auth = auth.auth_info.get_or_insert_with(AuthInfo::default);
        if let Some(token) = &k.kube_token {
            auth.token = Some(token.clone().into());
            auth.token_file = None;
        }
        if let Some(as_user) = &k.kube_as_user {
            auth.impersonate = Some(as_user.clone());
        }
        if !k.kube_as_group.is_empty() {
            auth.impersonate_groups = Some(k.kube_as_group.clone());
        }
    }
    Ok(context)
}

/// `--kube-apiserver` as a URL: `host:port` alone means HTTPS, as in client-go.
fn server_url(server: &str) -> String {
    if server.contains("://") {
        server.to_owned()
    } else {
        format!("https://{server}")
    }
}

/// The client configuration the global flags describe.
pub async fn config(global: &Global) -> anyhow::Result<kube::Config> {
    let unreachable = |e: anyhow::Error| anyhow::anyhow!("Kubernetes cluster unreachable: {e:#}");
    let file = read(global).map_err(unreachable)?;
    let mut config = match file {
        Some(mut file) => {
            let context = apply_overrides(global, &mut file).map_err(unreachable)?;
            let options = KubeConfigOptions {
                context: Some(context),
                ..KubeConfigOptions::default()
            };
            kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| unreachable(anyhow::anyhow!("{}", plain(&e))))?
        }
        None if global.kube.kube_apiserver.is_some() => {
            let mut file = Kubeconfig::default();
            let context = apply_overrides(global, &mut file).map_err(unreachable)?;
            let options = KubeConfigOptions {
                context: Some(context),
                ..KubeConfigOptions::default()
            };
            kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| unreachable(anyhow::anyhow!("{}", plain(&e))))?
        }
        None => kube::Config::incluster().map_err(|e| {
            unreachable(anyhow::anyhow!(
                "no kubeconfig (KUBECONFIG is unset and ~/.kube/config does not exist) and not \
                 running in a cluster ({})",
                plain(&e)
            ))
        })?,
    };
    if has_overrides(global) {
        tracing::debug!("kubeconfig overridden by --kube-* flags");
    }
    config.default_namespace = global.namespace();
    Ok(config)
}

/// A client for the configuration, checked as Helm does before any operation: `GET /version`,
/// failing with `Kubernetes cluster unreachable: Get "https://HOST/version": ...`.
pub async fn connect(global: &Global) -> anyhow::Result<kube::Client> {
    let config = config(global).await?;
    let url = format!(
        "{}/version",
        config.cluster_url.to_string().trim_end_matches('/')
    );
    let rate = capstan_kube::throttle::Rate::from_flags(global.kube.qps, global.kube.burst_limit);
    let client = capstan_kube::throttle::client(config, rate)
        .map_err(|e| anyhow::anyhow!("Kubernetes cluster unreachable: {}", plain(&e)))?;
    // A connection cut under the probe is a blip and is tried again; a cluster that refuses or
    // never answers is unreachable at once (capstan-kube's retry policy).
    let probe =
        capstan_kube::retry::retrying("read the server version", || client.apiserver_version());
    if let Err(error) = probe.await {
        anyhow::bail!(
            "Kubernetes cluster unreachable: Get {url:?}: {}",
            connection_error(&error)
        );
    }
    Ok(client)
}

/// A connection failure in plain words: the innermost causes, without kube-rs's and hyper's
/// wrapper names.
fn connection_error(error: &kube::Error) -> String {
    if let kube::Error::Api(status) = error {
        return status.message.clone();
    }
    let mut parts: Vec<String> = Vec::new();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        let text = strip_wrapper(&e.to_string());
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = e.source();
    }
    // Each wrapper's text repeats its cause's: keep the most specific.
    parts.dedup_by(|later, earlier| earlier.ends_with(later.as_str()));
    unwrap_names(&parts.last().cloned().unwrap_or_else(|| error.to_string()))
}

/// rustls names hosts as Rust values (`DnsName("localhost")`, `IpAddress(127.0.0.1)`): plain
/// names instead.
fn unwrap_names(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = [("DnsName(\"", "\")"), ("IpAddress(", ")")]
            .into_iter()
            .filter_map(|(open, close)| rest.find(open).map(|at| (at, open, close)))
            .min_by_key(|(at, _, _)| *at);
        let Some((at, open, close)) = next else {
            out.push_str(rest);
            return out;
        };
        let inner = &rest[at + open.len()..];
        let Some(end) = inner.find(close) else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at]);
        out.push_str(&inner[..end]);
        rest = &inner[end + close.len()..];
    }
}

/// A message without the `HyperError: `/`ServiceError: `-style prefix of its type's name.
fn strip_wrapper(text: &str) -> String {
    for prefix in [
        "HyperError: ",
        "ServiceError: ",
        "HttpError: ",
        "client error (Connect): ",
    ] {
        if let Some(rest) = text.strip_prefix(prefix) {
            return strip_wrapper(rest);
        }
    }
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_apiserver_is_https() {
        assert_eq!(server_url("10.0.0.1:6443"), "https://10.0.0.1:6443");
        assert_eq!(server_url("http://localhost:8080"), "http://localhost:8080");
    }

    #[test]
    fn rustls_host_names_are_plain() {
        assert_eq!(
            unwrap_names(
                "certificate is only valid for DnsName(\"localhost\") or IpAddress(127.0.0.1)"
            ),
            "certificate is only valid for localhost or 127.0.0.1"
        );
    }

    #[test]
    fn wrapper_names_are_dropped() {
        assert_eq!(
            strip_wrapper("ServiceError: client error (Connect): tcp connect error"),
            "tcp connect error"
        );
    }
}

//! Kubernetes as capstan's identity provider and final authority: [`TokenReviewer`] checks
//! service-account tokens with the TokenReview API, [`impersonating`] builds a client that acts
//! as a tenant's Kubernetes identity, and [`may`] asks the cluster (SelfSubjectAccessReview,
//! as that identity) whether it may do something, so a tenant's chart can be refused before
//! anything of it is applied.
//!
//! The tenant policy may also live in a ConfigMap ([`policy_from_config_map`],
//! [`follow_policy_config_map`]: read again every few seconds).
//!
//! The applier's own identity needs `create` on `tokenreviews` (authentication.k8s.io) for the
//! reviews and `impersonate` on the users and groups the policy names; a review's answer is
//! cached by the token's sha256 digest for a short time (default 10 s), so a revoked token stops
//! working within that time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use capstan_auth::{PolicySource, Principal, Review};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::PostParams;
use kube::{Api, Client, Config};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// How long a review's answer is reused, by default.
pub const DEFAULT_REVIEW_TTL: Duration = Duration::from_secs(10);

/// Most answers kept; beyond it the cache starts over.
const MAX_CACHED: usize = 10_000;

/// Cached answers: by token digest, when asked and the user name (`None`: not valid).
type Answers = HashMap<[u8; 32], (Instant, Option<String>)>;

/// Verifies bearer tokens with the cluster's TokenReview API.
pub struct TokenReviewer {
    client: Client,
    audiences: Vec<String>,
    ttl: Duration,
    cache: Mutex<Answers>,
}

impl TokenReviewer {
    /// A reviewer using `client` (the applier's own identity).
    pub fn new(client: Client) -> TokenReviewer {
        TokenReviewer {
            client,
            audiences: Vec::new(),
            ttl: DEFAULT_REVIEW_TTL,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Accept only tokens issued for one of these audiences (default: the API server's).
    pub fn audiences(mut self, audiences: Vec<String>) -> TokenReviewer {
        self.audiences = audiences;
        self
    }

    /// How long an answer is reused (zero: ask every time).
    pub fn ttl(mut self, ttl: Duration) -> TokenReviewer {
        self.ttl = ttl;
        self
    }

    /// The user name `token` authenticates, or `None` when the cluster says it is not valid.
    pub async fn username(&self, token: &str) -> Result<Option<String>> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some((at, answer)) = self.cache.lock().expect("not poisoned").get(&digest)
            && at.elapsed() < self.ttl
        {
            return Ok(answer.clone());
        }
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: token.to_owned(),
                audiences: Some(self.audiences.clone()).filter(|a| !a.is_empty()),
            },
            ..TokenReview::default()
        };
        let answer = Api::<TokenReview>::all(self.client.clone())
            .create(&PostParams::default(), &review)
            .await
            .map_err(|source| Error::Api {
                operation: "create",
                object: "tokenreview".into(),
                source,
            })?;
        let status = answer.status.unwrap_or_default();
        let username = match status.authenticated {
            Some(true) => status.user.and_then(|u| u.username),
            _ => None,
        };
        let mut cache = self.cache.lock().expect("not poisoned");
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(digest, (Instant::now(), username.clone()));
        Ok(username)
    }
}

impl capstan_auth::TokenReviewer for TokenReviewer {
    fn review<'a>(&'a self, token: &'a str) -> Review<'a> {
        Box::pin(async move {
            match self.username(token).await {
                Ok(Some(username)) => Ok(Some(Principal::Kubernetes { username })),
                Ok(None) => Ok(None),
                Err(error) => Err(capstan_ops::error_chain(&error)),
            }
        })
    }
}

/// A client acting as `user` in `groups` (impersonation headers on every request), from the
/// applier's own `config`.
pub fn impersonating(config: &Config, user: &str, groups: &[String]) -> Result<Client> {
    let mut config = config.clone();
    config.auth_info.impersonate = Some(user.to_owned());
    config.auth_info.impersonate_groups = Some(groups.to_vec()).filter(|g| !g.is_empty());
    Client::try_from(config).map_err(|source| Error::Api {
        operation: "connect",
        object: format!("as {user}"),
        source,
    })
}

/// A client configuration from a kubeconfig file (or the default: `KUBECONFIG`,
/// `~/.kube/config`, in-cluster), with an optional context.
pub async fn config(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
) -> std::result::Result<Config, Box<dyn std::error::Error + Send + Sync>> {
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_owned),
        ..Default::default()
    };
    Ok(match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)?;
            Config::from_custom_kubeconfig(file, &options).await?
        }
        None if context.is_some() => Config::from_kubeconfig(&options).await?,
        None => Config::infer().await?,
    })
}

/// What to ask the cluster with [`may`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Access {
    /// The verb, e.g. `create`.
    pub verb: String,
    /// The API group (`""` for core).
    pub group: String,
    /// The resource (plural), e.g. `deployments`.
    pub resource: String,
    /// The namespace, `None` for cluster-scoped resources.
    pub namespace: Option<String>,
}

/// Whether `client`'s identity may do `access`: `Ok(None)` when allowed, `Ok(Some(reason))`
/// when not (the authorizer's reason, possibly empty).
pub async fn may(client: &Client, access: &Access) -> Result<Option<String>> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(access.verb.clone()),
                group: Some(access.group.clone()),
                resource: Some(access.resource.clone()),
                namespace: access.namespace.clone(),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let answer = Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .map_err(|source| Error::Api {
            operation: "create",
            object: "selfsubjectaccessreview".into(),
            source,
        })?;
    let status = answer.status.unwrap_or_default();
    Ok(if status.allowed {
        None
    } else {
        Some(status.reason.unwrap_or_default())
    })
}

/// The key of a policy ConfigMap that holds the policy.
pub const POLICY_KEY: &str = "policy.yaml";

/// Reads the tenant policy from the ConfigMap `namespace/name` (key [`POLICY_KEY`]); fails
/// when it is missing or invalid.
pub async fn policy_from_config_map(
    client: &Client,
    namespace: &str,
    name: &str,
) -> std::result::Result<PolicySource, Box<dyn std::error::Error + Send + Sync>> {
    let text = read_policy(client, namespace, name).await?;
    Ok(PolicySource::from_text(
        &text,
        &format!("configmap {namespace}/{name}"),
    )?)
}

async fn read_policy(
    client: &Client,
    namespace: &str,
    name: &str,
) -> std::result::Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let map = Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .get(name)
        .await
        .map_err(|source| Error::Api {
            operation: "get",
            object: format!("configmap/{name} in namespace {namespace}"),
            source,
        })?;
    map.data
        .and_then(|mut d| d.remove(POLICY_KEY))
        .ok_or_else(|| format!("configmap {namespace}/{name} has no {POLICY_KEY} key").into())
}

/// Keeps `source` up to date with the ConfigMap `namespace/name`, reading it every `interval`
/// (a spawned task; abort the handle to stop). A ConfigMap that disappears, cannot be read or
/// holds an invalid policy is reported and the previous policy stays in force.
pub fn follow_policy_config_map(
    client: Client,
    namespace: String,
    name: String,
    source: PolicySource,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            match read_policy(&client, &namespace, &name).await {
                Ok(text) => {
                    if let Err(error) = source.update(&text) {
                        tracing::warn!(
                            %namespace,
                            %name,
                            %error,
                            "the changed tenant policy is invalid; keeping the previous one"
                        );
                    }
                }
                Err(error) => tracing::warn!(
                    %namespace,
                    %name,
                    %error,
                    "the tenant policy cannot be read; keeping the previous one"
                ),
            }
        }
    })
}

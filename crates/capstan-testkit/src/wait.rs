//! Watch-based waiting with a deadline, and the conditions the tests wait for.

use std::fmt::Debug;
use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::wait::{Condition, await_condition};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

/// Waits until object `name` satisfies `condition`, for at most `limit`; returns the object.
pub async fn until<K, C>(
    api: &Api<K>,
    name: &str,
    limit: Duration,
    what: &str,
    condition: C,
) -> anyhow::Result<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    C: Condition<K>,
{
    let found = tokio::time::timeout(limit, await_condition(api.clone(), name, condition))
        .await
        .with_context(|| format!("{name} was not {what} after {limit:?}"))??;
    found.with_context(|| format!("{name} was deleted while waiting for it to be {what}"))
}

/// A Deployment whose rollout is complete: observed, updated and available on every replica.
pub fn deployment_available() -> impl Condition<Deployment> {
    |d: Option<&Deployment>| {
        d.is_some_and(|d| {
            let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let generation = d.metadata.generation.unwrap_or(0);
            d.status.as_ref().is_some_and(|s| {
                s.observed_generation.unwrap_or(0) >= generation
                    && s.updated_replicas.unwrap_or(0) == wanted
                    && s.available_replicas.unwrap_or(0) == wanted
                    && s.replicas.unwrap_or(0) == wanted
            })
        })
    }
}

/// A Job with the condition `kind` (`Complete` or `Failed`) true.
pub fn job_condition(kind: &'static str) -> impl Condition<Job> {
    move |job: Option<&Job>| {
        job.and_then(|j| j.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == kind && c.status == "True"))
    }
}

/// A pod for which `f` holds.
pub fn pod(f: impl Fn(&Pod) -> bool) -> impl Condition<Pod> {
    move |p: Option<&Pod>| p.is_some_and(&f)
}

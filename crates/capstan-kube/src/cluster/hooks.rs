//! Hooks as Helm runs them, and the logs of their pods.
//!
//! One hook runs as Helm runs it: with `before-hook-creation` the previous object is deleted
//! (and its deletion awaited) first; the object is applied; a Job must reach `Complete` (a
//! `Failed` condition fails the hook with its reason), a Pod must reach `Succeeded` (`Failed`
//! fails it with its containers' reasons), anything else is done once created; all within the
//! timeout (running out of time fails the hook). Then `hook-succeeded` / `hook-failed` delete
//! the object per the outcome.

use std::time::{Duration, Instant};

use capstan_ops::{ClusterError, Event, HookOutcome, HookRequest, Progress};
use capstan_release::{GoTime, HookDeletePolicy, HookPhase};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use serde_json::Value;

use super::KubeCluster;
use super::convert::{cluster_error, kube_error, readiness_event, to_kube_one};
use crate::error::Error;
use crate::resource::Resource;
use crate::wait::{self, Readiness, ReadinessChange, WaitOptions};

impl KubeCluster {
    pub(super) async fn run_hook_impl(
        &self,
        request: HookRequest<'_>,
        progress: &dyn Progress,
    ) -> Result<HookOutcome, ClusterError> {
        let deadline = Instant::now() + request.timeout;
        let among: [&[capstan_ops::Resource]; 1] = [std::slice::from_ref(request.resource)];
        let resource = to_kube_one(request.resource);
        let options = self.options(request.release, request.namespace);
        let policy = |p: HookDeletePolicy| request.delete_policies.contains(&p);

        if policy(HookDeletePolicy::BeforeHookCreation) {
            let gone = std::slice::from_ref(&resource);
            self.applier
                .uninstall(gone, &options)
                .await
                .map_err(|e| cluster_error(e, &among))?;
            self.waiter
                .wait_deleted(gone, request.namespace, remaining(deadline))
                .await
                .map_err(|e| cluster_error(e, &among))?;
        }

        let started_at = GoTime::now();
        let applied = self
            .applier
            .apply(&[], std::slice::from_ref(&resource), &options)
            .await;
        if let Err(e) = applied {
            let e = match e {
                Error::Incomplete { source, .. } => *source,
                e => e,
            };
            return Err(cluster_error(e, &among));
        }

        let failure = match (resource.group(), resource.kind.as_str()) {
            ("batch", "Job") => {
                let options = WaitOptions {
                    timeout: remaining(deadline),
                    wait_for_jobs: true,
                };
                let report = |change: &ReadinessChange| {
                    progress.event(readiness_event(change, &among));
                };
                match self
                    .waiter
                    .wait(
                        std::slice::from_ref(&resource),
                        request.namespace,
                        &options,
                        &report,
                    )
                    .await
                {
                    Ok(()) => None,
                    Err(Error::WaitFailed { reason, .. }) => Some(reason),
                    Err(e @ Error::WaitTimeout { .. }) => Some(e.to_string()),
                    Err(e) => return Err(cluster_error(e, &among)),
                }
            }
            ("", "Pod") => {
                self.wait_pod(&resource, request.namespace, deadline)
                    .await?
            }
            _ => None,
        };
        let completed_at = GoTime::now();
        let phase = if failure.is_none() {
            HookPhase::Succeeded
        } else {
            HookPhase::Failed
        };
        let delete = match phase {
            HookPhase::Succeeded => policy(HookDeletePolicy::HookSucceeded),
            _ => policy(HookDeletePolicy::HookFailed),
        };
        if delete
            && let Err(e) = self
                .applier
                .uninstall(std::slice::from_ref(&resource), &options)
                .await
        {
            progress.event(Event::Warning {
                message: format!(
                    "deleting hook {} after it ran: {}",
                    request.hook.name,
                    capstan_ops::error_chain(&e)
                ),
            });
        }
        Ok(HookOutcome {
            phase,
            started_at,
            completed_at,
            message: failure,
        })
    }

    /// Waits for a hook Pod to succeed: `None` when it did, why not otherwise.
    pub(super) async fn wait_pod(
        &self,
        resource: &Resource,
        default_namespace: &str,
        deadline: Instant,
    ) -> Result<Option<String>, ClusterError> {
        let namespace = resource.namespace.as_deref().unwrap_or(default_namespace);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let finished = |pod: Option<&Pod>| {
            pod.and_then(|p| p.status.as_ref())
                .and_then(|s| s.phase.as_deref())
                .is_some_and(|phase| matches!(phase, "Succeeded" | "Failed"))
        };
        let waited = loop {
            let waited = tokio::time::timeout(
                remaining(deadline),
                kube::runtime::wait::await_condition(api.clone(), &resource.name, finished),
            )
            .await;
            match waited {
                // The watch ended (a dropped connection, a server restarting): watch again
                // while there is time.
                Ok(Err(e)) if remaining(deadline) > Duration::from_millis(500) => {
                    tracing::debug!(pod = %resource.name, error = %e, "watch interrupted, resuming");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                waited => break waited,
            }
        };
        let pod = match waited {
            Ok(Ok(pod)) => pod,
            Ok(Err(e)) => {
                return Err(ClusterError::Other {
                    message: format!("watching pod/{} failed", resource.name),
                    source: Some(Box::new(e)),
                });
            }
            Err(_) => {
                let why = match api.get_opt(&resource.name).await {
                    Ok(Some(pod)) => {
                        wait::pod_reason(&serde_json::to_value(&pod).unwrap_or(Value::Null))
                    }
                    _ => "not found".into(),
                };
                return Ok(Some(format!(
                    "timed out waiting for pod/{} to succeed: {why}",
                    resource.name
                )));
            }
        };
        let value = pod
            .map(|p| serde_json::to_value(&p).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        Ok(match wait::readiness("", "Pod", &value, true) {
            Readiness::Ready => None,
            Readiness::InProgress(why) | Readiness::Failed(why) => Some(why),
        })
    }

    /// The logs of a (test hook's) pod.
    pub(super) async fn pod_logs_impl(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<String, ClusterError> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        match pods.logs(name, &kube::api::LogParams::default()).await {
            Ok(text) => Ok(text),
            Err(kube::Error::Api(status)) => Err(ClusterError::other(format!(
                "the API server answered {}: {}",
                status.code, status.message
            ))),
            Err(e) => Err(kube_error(format!("reading the logs of pod {name}"), e)),
        }
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

//! Reconciles each pod as a kubelet would: bind, run, report readiness, complete, delete.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodCondition, PodStatus};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

use crate::plan::{ContainerState, Fault, Lifecycle, Plan, plan};
use crate::{Error, Result};

pub(crate) struct Context {
    pub(crate) client: Client,
    pub(crate) node: String,
}

pub(crate) async fn reconcile(pod: Arc<Pod>, ctx: Arc<Context>) -> Result<Action> {
    let namespace = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    let object = || format!("pod/{name} in namespace {namespace}");
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    let Some(spec) = pod.spec.as_ref() else {
        return Ok(Action::await_change());
    };

    if pod.metadata.deletion_timestamp.is_some() {
        // No kubelet will confirm the containers stopped, so finish the deletion at once.
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            ..DeleteParams::default()
        };
        return match pods.delete(&name, &params).await {
            Ok(_) => Ok(Action::await_change()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(Action::await_change()),
            Err(source) => Err(Error::Kube {
                action: "force-delete",
                object: object(),
                source,
            }),
        };
    }

    match spec.node_name.as_deref() {
        None => {
            bind(&pods, &name, &ctx.node)
                .await
                .map_err(|source| Error::Kube {
                    action: "bind",
                    object: object(),
                    source,
                })?;
            tracing::debug!(pod = %name, %namespace, "bound");
            return Ok(Action::await_change());
        }
        Some(node) if node != ctx.node => return Ok(Action::await_change()),
        Some(_) => {}
    }

    let status = pod.status.clone().unwrap_or_default();
    if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return Ok(Action::await_change());
    }
    let now = jiff::Timestamp::now();
    // The API stores times in whole seconds; rounding the start up keeps `slow-N` pods from
    // becoming ready before N full seconds have passed.
    let started = status
        .start_time
        .as_ref()
        .map_or_else(|| ceil_to_second(now), |t| t.0);
    let age = Duration::try_from(now.duration_since(started)).unwrap_or_default();
    let plan = plan(Fault::of_pod(spec), Lifecycle::of_pod(spec), age);

    if needs_update(&status, &plan) {
        let patch = status_patch(&pod, &status, &plan, started, now);
        pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|source| Error::Kube {
                action: "report status of",
                object: object(),
                source,
            })?;
        tracing::debug!(pod = %name, %namespace, phase = plan.phase, ready = plan.ready, "status reported");
    }
    Ok(plan
        .requeue
        .map_or_else(Action::await_change, Action::requeue))
}

pub(crate) fn error_policy(_pod: Arc<Pod>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::debug!(%error, "retrying in 1s");
    Action::requeue(Duration::from_secs(1))
}

async fn bind(pods: &Api<Pod>, name: &str, node: &str) -> kube::Result<()> {
    let binding = json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    });
    match pods
        .create_subresource::<Value, Value>("binding", name, &PostParams::default(), &binding)
        .await
    {
        Ok(_) => Ok(()),
        // Bound meanwhile (a retry after a lost answer): the next event carries the node name.
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(error),
    }
}

fn condition<'a>(status: &'a PodStatus, kind: &str) -> Option<&'a PodCondition> {
    status.conditions.iter().flatten().find(|c| c.type_ == kind)
}

fn needs_update(status: &PodStatus, plan: &Plan) -> bool {
    let ready = condition(status, "Ready").is_some_and(|c| c.status == "True");
    plan.restarting
        || status.phase.as_deref() != Some(plan.phase)
        || ready != plan.ready
        || status.container_statuses.is_none()
}

fn status_patch(
    pod: &Pod,
    status: &PodStatus,
    plan: &Plan,
    started: jiff::Timestamp,
    now: jiff::Timestamp,
) -> Value {
    let spec = pod.spec.as_ref().expect("checked by the caller");
    let now_text = now.to_string();
    let started_text = started.to_string();
    let terminal = matches!(plan.container, ContainerState::Terminated(..));
    let condition_json = |kind: &str, value: bool, reason: Option<&str>| {
        let text = if value { "True" } else { "False" };
        let since = condition(status, kind)
            .filter(|c| c.status == text)
            .and_then(|c| c.last_transition_time.as_ref())
            .map_or_else(|| now_text.clone(), |t| t.0.to_string());
        let mut c = json!({"type": kind, "status": text, "lastTransitionTime": since});
        if let Some(reason) = reason {
            c["reason"] = json!(reason);
        }
        c
    };
    let not_ready_reason = if terminal {
        Some("PodCompleted")
    } else {
        Some("ContainersNotReady")
    };
    let reason = if plan.ready { None } else { not_ready_reason };
    let previous_restarts = |name: &str| {
        status
            .container_statuses
            .iter()
            .flatten()
            .find(|c| c.name == name)
            .map_or(0, |c| c.restart_count)
    };
    let containers: Vec<Value> = spec
        .containers
        .iter()
        .map(|c| {
            let restarts = previous_restarts(&c.name) + i32::from(plan.restarting);
            let state = match plan.container {
                ContainerState::Running => json!({"running": {"startedAt": started_text}}),
                ContainerState::Waiting(why) => json!({"waiting": {"reason": why,
                    "message": format!("back-off restarting failed container {}", c.name)}}),
                ContainerState::Terminated(code, why) => json!({"terminated": {"exitCode": code,
                    "reason": why, "startedAt": started_text, "finishedAt": now_text}}),
            };
            json!({
                "name": c.name,
                "image": c.image,
                "imageID": format!("podsim://{}", c.image.as_deref().unwrap_or_default()),
                "containerID": format!("podsim://{}/{}", pod.uid().unwrap_or_default(), c.name),
                "ready": plan.ready,
                "started": plan.container == ContainerState::Running,
                "restartCount": restarts,
                "state": state,
            })
        })
        .collect();
    let init_containers: Vec<Value> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| {
            json!({
                "name": c.name, "image": c.image, "ready": true, "restartCount": 0,
                "imageID": format!("podsim://{}", c.image.as_deref().unwrap_or_default()),
                "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                    "startedAt": started_text, "finishedAt": started_text}},
            })
        })
        .collect();
    let ip = pod_ip(&pod.uid().unwrap_or_default());
    json!({
        "status": {
            "phase": plan.phase,
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": started_text,
            "conditions": [
                condition_json("PodScheduled", true, None),
                condition_json("Initialized", true, None),
                condition_json("ContainersReady", plan.ready, reason),
                condition_json("Ready", plan.ready, reason),
            ],
            "containerStatuses": containers,
            "initContainerStatuses": init_containers,
        }
    })
}

fn ceil_to_second(t: jiff::Timestamp) -> jiff::Timestamp {
    if t.subsec_nanosecond() == 0 {
        t
    } else {
        jiff::Timestamp::from_second(t.as_second() + 1).unwrap_or(t)
    }
}

/// A stable address in 10.244.0.0/16 derived from the pod's uid.
fn pod_ip(uid: &str) -> String {
    let hash = uid
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("10.244.{}.{}", (hash >> 8) % 256, hash % 254 + 1)
}

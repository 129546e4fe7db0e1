//! Waiting for a release's objects to be ready (`--wait`, `--wait-for-jobs`, `--timeout`).
//!
//! The objects are first listed, one list per kind and namespace: those already ready are done.
//! A kind the cluster's applier wrote is listed no older than its last write
//! ([`Waiter::with_written`]), from the API server's cache without waiting for it to catch up
//! with etcd.
//! Each other object is watched (a watch on its name, not fixed-interval polling) and judged on every
//! change by [`readiness`]: Helm's rules for workloads, Pods, Jobs, PersistentVolumeClaims,
//! Services and CustomResourceDefinitions, and kstatus rules (observedGeneration, `Ready`,
//! `Reconciling` and `Stalled` conditions) for everything else, custom resources included.
//! Readiness changes are reported to a callback as they happen.
//!
//! Compared with Helm 3's `pkg/kube/ready.go` and Helm 4's kstatus waiter: the same object is
//! ready under all three, except where capstan is stricter and never looser: a Deployment needs
//! every replica available (Helm 3 allows `maxUnavailable` less), a DaemonSet every scheduled
//! pod available (likewise), and a CRD whose names are not accepted fails (Helm 3 lets it
//! pass). As in Helm 3, a `LoadBalancer` Service waits for an ingress address unless it sets
//! `externalIPs`, a DaemonSet or StatefulSet with the `OnDelete` strategy waits for nothing,
//! PersistentVolumeClaims wait until `Bound` and Jobs only with `--wait-for-jobs`; CronJobs,
//! ConfigMaps, Secrets and the like are ready once they exist.
//!
//! On timeout the error lists every object not ready and why; for workloads the reasons of their
//! pods are added, e.g. `deployment/web: 1/3 available; pod web-7d9c: CrashLoopBackOff`.
//! An object that can no longer become ready (a failed Job, a stalled resource) ends the wait at
//! once with [`Error::WaitFailed`].

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt as _;
use kube::api::{DynamicObject, ListParams, VersionMatch};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client};
use serde_json::Value;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::mapping::RestMapper;
use crate::resource::{ObjectKey, Resource, without_release_records};
use crate::retry;

/// How long and for what to wait.
#[derive(Debug, Clone)]
pub struct WaitOptions {
    /// The deadline for all objects together (Helm's default: 5 minutes).
    pub timeout: Duration,
    /// Wait for Jobs to complete (`--wait-for-jobs`); otherwise a Job is ready once it exists.
    pub wait_for_jobs: bool,
}

impl Default for WaitOptions {
    fn default() -> WaitOptions {
        WaitOptions {
            timeout: Duration::from_secs(300),
            wait_for_jobs: false,
        }
    }
}

/// Where an object stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Ready (or complete).
    Ready,
    /// Not yet, and why.
    InProgress(String),
    /// It will not become ready without a change, and why.
    Failed(String),
}

/// A change in an object's readiness, as the callback sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessChange {
    /// The object.
    pub key: ObjectKey,
    /// Its new readiness.
    pub readiness: Readiness,
}

/// Waits for objects to be ready.
#[derive(Clone)]
pub struct Waiter {
    client: Client,
    mapper: Arc<RestMapper>,
    written: Option<Arc<crate::answer::Written>>,
}

fn int(object: &Value, pointer: &str) -> Option<i64> {
    object.pointer(pointer).and_then(Value::as_i64)
}

fn text<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object.pointer(pointer).and_then(Value::as_str)
}

fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

fn condition_is(object: &Value, type_: &str, status: &str) -> bool {
    condition(object, type_)
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some(status)
}

fn condition_text(object: &Value, type_: &str) -> String {
    condition(object, type_)
        .map(|c| {
            let field = |f| c.get(f).and_then(Value::as_str).unwrap_or("");
            match (field("reason"), field("message")) {
                ("", "") => String::new(),
                (r, "") => r.to_string(),
                ("", m) => m.to_string(),
                (r, m) => format!("{r}: {m}"),
            }
        })
        .unwrap_or_default()
}

/// Whether objects of a kind are ready as soon as they exist: the built-in kinds without a
/// status ([`readiness`] finds nothing to wait for in them), which the wait's first look
/// lists by metadata alone.
fn ready_once_exists(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        ("", "ConfigMap" | "Secret" | "ServiceAccount")
            | (
                "rbac.authorization.k8s.io",
                "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding"
            )
    )
}

/// The group of an `apiVersion` (`""` for the core group's `v1`).
fn api_group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// Judges one object's readiness from its live state (`kind` and `group` from its type).
pub fn readiness(group: &str, kind: &str, object: &Value, wait_for_jobs: bool) -> Readiness {
    use Readiness::{Failed, InProgress, Ready};
    let generation = int(object, "/metadata/generation");
    let observed = int(object, "/status/observedGeneration");
    if let (Some(g), Some(o)) = (generation, observed)
        && o < g
    {
        return InProgress(format!("generation {g} not yet observed (at {o})"));
    }
    match (group, kind) {
        ("apps", "Deployment") => {
            let want = int(object, "/spec/replicas").unwrap_or(1);
            if observed.is_none() && generation.is_some() {
                return InProgress("not yet observed".into());
            }
            if condition(object, "Progressing")
                .and_then(|c| c.get("reason"))
                .and_then(Value::as_str)
                == Some("ProgressDeadlineExceeded")
            {
                return Failed(condition_text(object, "Progressing"));
            }
            let updated = int(object, "/status/updatedReplicas").unwrap_or(0);
            let total = int(object, "/status/replicas").unwrap_or(0);
            let available = int(object, "/status/availableReplicas").unwrap_or(0);
            if updated < want {
                InProgress(format!("{updated}/{want} updated"))
            } else if total > updated {
                InProgress(format!(
                    "{} old replicas pending termination",
                    total - updated
                ))
            } else if available < want {
                InProgress(format!("{available}/{want} available"))
            } else {
                Ready
            }
        }
        ("apps", "StatefulSet") => {
            let want = int(object, "/spec/replicas").unwrap_or(1);
            if observed.is_none() && generation.is_some() {
                return InProgress("not yet observed".into());
            }
            // As Helm 3: with `OnDelete` pods change only when deleted, so nothing is waited for.
            if text(object, "/spec/updateStrategy/type") == Some("OnDelete") {
                return Ready;
            }
            let ready = int(object, "/status/readyReplicas").unwrap_or(0);
            let partition =
                int(object, "/spec/updateStrategy/rollingUpdate/partition").unwrap_or(0);
            let updated = int(object, "/status/updatedReplicas").unwrap_or(0);
            if ready < want {
                InProgress(format!("{ready}/{want} ready"))
            } else if updated < want - partition {
                InProgress(format!("{updated}/{} updated", want - partition))
            } else if partition == 0
                && text(object, "/status/currentRevision") != text(object, "/status/updateRevision")
            {
                InProgress("rolling update in progress".into())
            } else {
                Ready
            }
        }
        ("apps", "DaemonSet") => {
            if observed.is_none() && generation.is_some() {
                return InProgress("not yet observed".into());
            }
            // As Helm 3: with `OnDelete` pods change only when deleted, so nothing is waited for.
            if text(object, "/spec/updateStrategy/type") == Some("OnDelete") {
                return Ready;
            }
            let want = int(object, "/status/desiredNumberScheduled").unwrap_or(0);
            let updated = int(object, "/status/updatedNumberScheduled").unwrap_or(0);
            let available = int(object, "/status/numberAvailable").unwrap_or(0);
            if updated < want {
                InProgress(format!("{updated}/{want} updated"))
            } else if available < want {
                InProgress(format!("{available}/{want} available"))
            } else {
                Ready
            }
        }
        ("apps", "ReplicaSet") | ("", "ReplicationController") => {
            let want = int(object, "/spec/replicas").unwrap_or(1);
            let available = int(object, "/status/availableReplicas").unwrap_or(0);
            if available < want {
                InProgress(format!("{available}/{want} available"))
            } else {
                Ready
            }
        }
        ("", "Pod") => {
            match text(object, "/status/phase") {
                Some("Succeeded") => return Ready,
                Some("Failed") => return Failed(pod_reason(object)),
                _ => {}
            }
            if condition_is(object, "Ready", "True") {
                Ready
            } else {
                InProgress(pod_reason(object))
            }
        }
        ("batch", "Job") => {
            if condition_is(object, "Failed", "True") {
                return Failed(condition_text(object, "Failed"));
            }
            if !wait_for_jobs || condition_is(object, "Complete", "True") {
                return Ready;
            }
            let succeeded = int(object, "/status/succeeded").unwrap_or(0);
            let want = int(object, "/spec/completions").unwrap_or(1);
            InProgress(format!("{succeeded}/{want} completed"))
        }
        ("", "PersistentVolumeClaim") => match text(object, "/status/phase") {
            Some("Bound") => Ready,
            phase => InProgress(format!("{} (not Bound)", phase.unwrap_or("no phase"))),
        },
        ("", "Service") => {
            let type_ = text(object, "/spec/type").unwrap_or("ClusterIP");
            if type_ == "ExternalName" {
                return Ready;
            }
            if text(object, "/spec/clusterIP").unwrap_or("").is_empty() {
                return InProgress("no cluster IP assigned".into());
            }
            // Helm 3 does not wait for a load balancer with external IPs set.
            let external_ips = object
                .pointer("/spec/externalIPs")
                .and_then(Value::as_array)
                .is_some_and(|ips| !ips.is_empty());
            if type_ == "LoadBalancer"
                && !external_ips
                && object
                    .pointer("/status/loadBalancer/ingress")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty)
            {
                return InProgress("no load balancer ingress".into());
            }
            Ready
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            if condition_is(object, "Established", "True") {
                Ready
            } else if condition_is(object, "NamesAccepted", "False") {
                Failed(condition_text(object, "NamesAccepted"))
            } else {
                InProgress("not established".into())
            }
        }
        _ => {
            // kstatus rules for everything else, custom resources included.
            if condition_is(object, "Stalled", "True") {
                return Failed(condition_text(object, "Stalled"));
            }
            if condition_is(object, "Reconciling", "True") {
                return InProgress(format!(
                    "reconciling: {}",
                    condition_text(object, "Reconciling")
                ));
            }
            match condition(object, "Ready")
                .and_then(|c| c.get("status"))
                .and_then(Value::as_str)
            {
                Some("False") | Some("Unknown") => {
                    let why = condition_text(object, "Ready");
                    InProgress(if why.is_empty() {
                        "not ready".into()
                    } else {
                        why
                    })
                }
                _ => Ready,
            }
        }
    }
}

/// Why a pod is not ready: its containers' waiting or terminated reasons, or what is not ready.
pub fn pod_reason(pod: &Value) -> String {
    let mut reasons = Vec::new();
    for list in ["initContainerStatuses", "containerStatuses"] {
        let Some(statuses) = pod
            .pointer(&format!("/status/{list}"))
            .and_then(Value::as_array)
        else {
            continue;
        };
        for c in statuses {
            let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
            if let Some(reason) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
                reasons.push(reason.to_string());
            } else if let Some(t) = c.pointer("/state/terminated")
                && t.get("exitCode").and_then(Value::as_i64) != Some(0)
            {
                let reason = t.get("reason").and_then(Value::as_str).unwrap_or("Error");
                reasons.push(format!("container {name} terminated ({reason})"));
            } else if c.get("ready").and_then(Value::as_bool) == Some(false)
                && list == "containerStatuses"
                && c.pointer("/state/running").is_some()
            {
                let image = c.get("image").and_then(Value::as_str).unwrap_or("?");
                reasons.push(format!("container {name} ({image}) running but not ready"));
            }
        }
    }
    if reasons.is_empty() {
        let phase = text(pod, "/status/phase").unwrap_or("Pending");
        let why = condition_text(pod, "Ready");
        if why.is_empty() {
            format!("{phase}, not ready")
        } else {
            format!("{phase}, not ready: {why}")
        }
    } else {
        reasons.dedup();
        reasons.join(", ")
    }
}

struct Watched {
    key: ObjectKey,
    readiness: Readiness,
    last: Option<Value>,
    api: Option<Api<DynamicObject>>,
}

impl Waiter {
    /// A waiter with its own [`RestMapper`].
    pub fn new(client: Client) -> Waiter {
        let mapper = Arc::new(RestMapper::new(client.clone()));
        Waiter {
            client,
            mapper,
            written: None,
        }
    }

    /// A waiter sharing a [`RestMapper`].
    pub fn with_mapper(mapper: Arc<RestMapper>) -> Waiter {
        Waiter {
            client: mapper.client().clone(),
            mapper,
            written: None,
        }
    }

    /// The same waiter, its first look at a resource an applier wrote to listing no older
    /// than that applier's last write of it ([`Applier::written`](crate::Applier::written)),
    /// which the API server answers from its cache at once, instead of waiting for its cache
    /// to catch up with etcd's latest revision. The objects the applier wrote are seen as
    /// written or later, never as before: an upgraded Deployment is not taken as ready from
    /// its previous generation's status.
    pub fn with_written(mut self, written: Arc<crate::answer::Written>) -> Waiter {
        self.written = Some(written);
        self
    }

    /// Waits until every object is ready, reporting each readiness change to `progress`.
    /// Namespaced objects without a namespace are looked for in `default_namespace`.
    #[tracing::instrument(name = "kube.wait", skip_all, fields(namespace = %default_namespace, objects = resources.len()))]
    pub async fn wait(
        &self,
        resources: &[Resource],
        default_namespace: &str,
        options: &WaitOptions,
        progress: &(dyn Fn(&ReadinessChange) + Send + Sync),
    ) -> Result<()> {
        let state: Mutex<BTreeMap<usize, Watched>> = Mutex::new(BTreeMap::new());
        let listed = &self
            .ready_by_listing(resources, default_namespace, options)
            .await;
        let watches = resources.iter().enumerate().map(|(i, resource)| {
            let state = &state;
            async move {
                let mut key = resource.key(default_namespace);
                state.lock().expect("not poisoned").insert(
                    i,
                    Watched {
                        key: key.clone(),
                        readiness: Readiness::InProgress("not found".into()),
                        last: None,
                        api: None,
                    },
                );
                let mapping = self
                    .mapper
                    .resolve(&resource.api_version, &resource.kind)
                    .await?;
                if !mapping.namespaced {
                    key.namespace = None;
                }
                if let Some(value) = listed.get(&i) {
                    // Ready when listed: no watch.
                    if let Some(w) = state.lock().expect("not poisoned").get_mut(&i) {
                        w.key = key.clone();
                        w.readiness = Readiness::Ready;
                        w.last = Some(value.clone());
                    }
                    progress(&ReadinessChange {
                        key,
                        readiness: Readiness::Ready,
                    });
                    return Ok(());
                }
                let api: Api<DynamicObject> = match &key.namespace {
                    Some(ns) => Api::namespaced_with(self.client.clone(), ns, &mapping.resource),
                    None => Api::all_with(self.client.clone(), &mapping.resource),
                };
                if let Some(w) = state.lock().expect("not poisoned").get_mut(&i) {
                    w.key = key.clone();
                    w.api = Some(api.clone());
                }
                let config =
                    watcher::Config::default().fields(&format!("metadata.name={}", resource.name));
                let mut stream = watcher(api, config)
                    .default_backoff()
                    .applied_objects()
                    .boxed();
                while let Some(item) = stream.next().await {
                    let source = match item {
                        Ok(object) => Ok(object),
                        Err(
                            watcher::Error::InitialListFailed(e)
                            | watcher::Error::WatchStartFailed(e)
                            | watcher::Error::WatchFailed(e),
                        ) => Err(e),
                        Err(watcher::Error::WatchError(status)) => Err(kube::Error::Api(status)),
                        Err(other) => Err(kube::Error::Service(Box::new(other))),
                    };
                    let object = match source {
                        Ok(object) => object,
                        // The watcher starts again after a backoff (a dropped connection, a
                        // server restarting, an expired resourceVersion): keep waiting.
                        Err(e) if retry::is_transient(&e) || is_expired(&e) => {
                            tracing::debug!(object = %key, error = %e, "watch interrupted, resuming");
                            continue;
                        }
                        Err(source) => {
                            return Err(Error::Api {
                                operation: "watch",
                                object: key.describe(),
                                source,
                            });
                        }
                    };
                    let value = serde_json::to_value(&object).unwrap_or(Value::Null);
                    let now = readiness(&key.group, &key.kind, &value, options.wait_for_jobs);
                    let changed = {
                        let mut state = state.lock().expect("not poisoned");
                        let w = state.get_mut(&i).expect("inserted above");
                        w.last = Some(value);
                        let changed = w.readiness != now;
                        w.readiness = now.clone();
                        changed
                    };
                    if changed {
                        progress(&ReadinessChange {
                            key: key.clone(),
                            readiness: now.clone(),
                        });
                    }
                    match now {
                        Readiness::Ready => return Ok(()),
                        Readiness::Failed(reason) => {
                            return Err(Error::WaitFailed {
                                object: key.to_string(),
                                reason,
                            });
                        }
                        Readiness::InProgress(_) => {}
                    }
                }
                Ok(())
            }
        });
        let all = futures::future::try_join_all(watches);
        match tokio::time::timeout(options.timeout, all).await {
            Ok(result) => result.map(|_| ()),
            Err(_) => {
                let pending: Vec<Watched> = {
                    let mut state = state.lock().expect("not poisoned");
                    std::mem::take(&mut *state)
                        .into_values()
                        .filter(|w| w.readiness != Readiness::Ready)
                        .collect()
                };
                let mut not_ready = Vec::new();
                for w in pending {
                    let why = match &w.readiness {
                        Readiness::InProgress(why) | Readiness::Failed(why) => why.clone(),
                        Readiness::Ready => String::new(),
                    };
                    let mut line = format!("{}: {why}", w.key);
                    if let Some(last) = &w.last {
                        for pod in self.pod_reasons(&w.key, last).await {
                            line.push_str("; ");
                            line.push_str(&pod);
                        }
                    }
                    not_ready.push(line);
                }
                Err(Error::WaitTimeout {
                    timeout: options.timeout,
                    not_ready,
                })
            }
        }
    }

    /// The objects already ready, found by one list per kind and namespace (so a release whose
    /// objects are ready costs a request per kind, not a list and a watch per object), by
    /// index into `resources`. Anything the lists do not show ready (not found, not ready, a
    /// list refused or failed, beyond the first page) is left to its watch.
    async fn ready_by_listing(
        &self,
        resources: &[Resource],
        default_namespace: &str,
        options: &WaitOptions,
    ) -> BTreeMap<usize, Value> {
        type Group = (String, String, Option<String>);
        let mappings = futures::future::join_all(
            resources
                .iter()
                .map(|r| self.mapper.resolve(&r.api_version, &r.kind)),
        )
        .await;
        let mut groups: BTreeMap<Group, Vec<usize>> = BTreeMap::new();
        let mut apis: BTreeMap<Group, Api<DynamicObject>> = BTreeMap::new();
        let mut written: BTreeMap<Group, u64> = BTreeMap::new();
        for (i, (resource, mapping)) in resources.iter().zip(mappings).enumerate() {
            let Ok(mapping) = mapping else { continue };
            let namespace = mapping
                .namespaced
                .then(|| resource.key(default_namespace).namespace)
                .flatten();
            let group = (
                resource.api_version.clone(),
                resource.kind.clone(),
                namespace.clone(),
            );
            if let Some(version) = self
                .written
                .as_ref()
                .and_then(|w| w.highest(&mapping.resource.group, &mapping.resource.plural))
            {
                written.insert(group.clone(), version);
            }
            apis.entry(group.clone())
                .or_insert_with(|| match &namespace {
                    Some(ns) => Api::namespaced_with(self.client.clone(), ns, &mapping.resource),
                    None => Api::all_with(self.client.clone(), &mapping.resource),
                });
            groups.entry(group).or_default().push(i);
        }
        let written = &written;
        let lists = apis.into_iter().map(|(group, api)| async move {
            let params = ListParams::default()
                .limit(LIST_PAGE)
                .labels(&without_release_records());
            let params = match written.get(&group) {
                Some(version) => params
                    .at(&version.to_string())
                    .matching(VersionMatch::NotOlderThan),
                None => params,
            };
            let named = |name: Option<&String>, value: Value| Some((name?.clone(), value));
            // Kinds ready once they exist are listed by metadata alone (a namespace's
            // ConfigMaps and Secrets can be megabytes).
            let listed: kube::Result<Vec<(String, Value)>> =
                if ready_once_exists(api_group(&group.0), &group.1) {
                    api.list_metadata(&params).await.map(|list| {
                        list.items
                            .into_iter()
                            .filter_map(|o| {
                                let value = serde_json::to_value(&o).unwrap_or(Value::Null);
                                named(o.metadata.name.as_ref(), value)
                            })
                            .collect()
                    })
                } else {
                    api.list(&params).await.map(|list| {
                        list.items
                            .into_iter()
                            .filter_map(|o| {
                                let value = serde_json::to_value(&o).unwrap_or(Value::Null);
                                named(o.metadata.name.as_ref(), value)
                            })
                            .collect()
                    })
                };
            (group, listed)
        });
        let mut ready = BTreeMap::new();
        for (group, listed) in futures::future::join_all(lists).await {
            let Ok(list) = listed else {
                continue;
            };
            let wanted = &groups[&group];
            for (name, value) in list {
                for &i in wanted.iter().filter(|&&i| resources[i].name == name) {
                    let key = resources[i].key(default_namespace);
                    if readiness(&key.group, &key.kind, &value, options.wait_for_jobs)
                        == Readiness::Ready
                    {
                        ready.insert(i, value.clone());
                    }
                }
            }
        }
        ready
    }

    /// Waits until every object is gone (`uninstall --wait`); objects of kinds the cluster no
    /// longer serves are gone. The timeout error lists what still exists.
    pub async fn wait_deleted(
        &self,
        resources: &[Resource],
        default_namespace: &str,
        timeout: Duration,
    ) -> Result<()> {
        let remaining: Mutex<BTreeMap<usize, ObjectKey>> = Mutex::new(BTreeMap::new());
        let watches = resources.iter().enumerate().map(|(i, resource)| {
            let remaining = &remaining;
            async move {
                let mut key = resource.key(default_namespace);
                remaining
                    .lock()
                    .expect("not poisoned")
                    .insert(i, key.clone());
                let mapping = match self
                    .mapper
                    .resolve(&resource.api_version, &resource.kind)
                    .await
                {
                    Ok(m) => m,
                    Err(Error::UnknownKind { .. }) => {
                        remaining.lock().expect("not poisoned").remove(&i);
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                };
                if !mapping.namespaced {
                    key.namespace = None;
                }
                let api: Api<DynamicObject> = match &key.namespace {
                    Some(ns) => Api::namespaced_with(self.client.clone(), ns, &mapping.resource),
                    None => Api::all_with(self.client.clone(), &mapping.resource),
                };
                // The watch ending early (a dropped connection, a server restarting) is not
                // an answer: watch again until the object is gone or time runs out.
                while let Err(e) = kube::runtime::wait::await_condition(
                    api.clone(),
                    &resource.name,
                    |o: Option<&DynamicObject>| o.is_none(),
                )
                .await
                {
                    tracing::debug!(object = %key, error = %e, "watch interrupted, resuming");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                remaining.lock().expect("not poisoned").remove(&i);
                Ok(())
            }
        });
        match tokio::time::timeout(timeout, futures::future::try_join_all(watches)).await {
            Ok(result) => result.map(|_| ()),
            Err(_) => Err(Error::WaitTimeout {
                timeout,
                not_ready: remaining
                    .into_inner()
                    .expect("not poisoned")
                    .into_values()
                    .map(|k| format!("{k}: not yet deleted"))
                    .collect(),
            }),
        }
    }

    /// The live readiness of each object, now (for `status`): none for an object that does not
    /// exist.
    pub async fn status(
        &self,
        resources: &[Resource],
        default_namespace: &str,
    ) -> Result<Vec<(ObjectKey, Option<Readiness>)>> {
        let mut out = Vec::with_capacity(resources.len());
        for resource in resources {
            let mut key = resource.key(default_namespace);
            let mapping = match self
                .mapper
                .resolve(&resource.api_version, &resource.kind)
                .await
            {
                Ok(m) => m,
                Err(Error::UnknownKind { .. }) => {
                    out.push((key, None));
                    continue;
                }
                Err(e) => return Err(e),
            };
            if !mapping.namespaced {
                key.namespace = None;
            }
            let api: Api<DynamicObject> = match &key.namespace {
                Some(ns) => Api::namespaced_with(self.client.clone(), ns, &mapping.resource),
                None => Api::all_with(self.client.clone(), &mapping.resource),
            };
            let live = crate::retry::retrying("get", || api.get_opt(&resource.name))
                .await
                .map_err(|e| Error::Api {
                    operation: "get",
                    object: key.describe(),
                    source: e,
                })?;
            let readiness = live.map(|o| {
                let value = serde_json::to_value(&o).unwrap_or(Value::Null);
                readiness(&key.group, &key.kind, &value, true)
            });
            out.push((key, readiness));
        }
        Ok(out)
    }

    /// `pod NAME: reason` for the (at most three) unready pods a workload selects.
    async fn pod_reasons(&self, key: &ObjectKey, object: &Value) -> Vec<String> {
        let workload = matches!(
            (key.group.as_str(), key.kind.as_str()),
            (
                "apps",
                "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
            ) | ("batch", "Job")
        );
        let (true, Some(ns)) = (workload, &key.namespace) else {
            return Vec::new();
        };
        let Some(labels) = object
            .pointer("/spec/selector/matchLabels")
            .and_then(Value::as_object)
        else {
            return Vec::new();
        };
        let selector: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect();
        let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(self.client.clone(), ns);
        let Ok(list) = pods
            .list(&ListParams::default().labels(&selector.join(",")))
            .await
        else {
            return Vec::new();
        };
        list.items
            .iter()
            .filter_map(|pod| {
                let value = serde_json::to_value(pod).ok()?;
                match readiness("", "Pod", &value, true) {
                    Readiness::Ready => None,
                    Readiness::InProgress(why) | Readiness::Failed(why) => Some(format!(
                        "pod {}: {why}",
                        pod.metadata.name.as_deref().unwrap_or("?")
                    )),
                }
            })
            .take(3)
            .collect()
    }
}

/// Objects per list of [`Waiter::ready_by_listing`]: what a first page does not show is watched.
const LIST_PAGE: u32 = 500;

/// A watch whose resourceVersion is too old (410 Gone): the watcher lists again.
fn is_expired(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 410)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployments_count_updated_and_available_replicas() {
        let d = |status: Value| json!({"metadata": {"generation": 2}, "spec": {"replicas": 3}, "status": status});
        let r = |v: &Value| readiness("apps", "Deployment", v, false);
        assert_eq!(
            r(&d(json!({"observedGeneration": 1}))),
            Readiness::InProgress("generation 2 not yet observed (at 1)".into())
        );
        assert_eq!(
            r(&d(
                json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 1})
            )),
            Readiness::InProgress("1/3 available".into())
        );
        assert_eq!(
            r(&d(
                json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3})
            )),
            Readiness::Ready
        );
    }

    #[test]
    fn kinds_listed_by_metadata_are_ready_from_their_metadata() {
        // What a metadata-only list gives the wait's first look: enough for these kinds.
        let listed = json!({
            "apiVersion": "meta.k8s.io/v1",
            "kind": "PartialObjectMetadata",
            "metadata": {"name": "x", "generation": 3, "resourceVersion": "7"}
        });
        for (api_version, kind) in [
            ("v1", "ConfigMap"),
            ("v1", "Secret"),
            ("v1", "ServiceAccount"),
            ("rbac.authorization.k8s.io/v1", "Role"),
            ("rbac.authorization.k8s.io/v1", "RoleBinding"),
            ("rbac.authorization.k8s.io/v1", "ClusterRole"),
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ] {
            let group = api_group(api_version);
            assert!(ready_once_exists(group, kind), "{kind}");
            assert_eq!(
                readiness(group, kind, &listed, true),
                Readiness::Ready,
                "{kind}"
            );
        }
        // Kinds with a status are listed whole.
        for (api_version, kind) in [
            ("apps/v1", "Deployment"),
            ("v1", "Service"),
            ("v1", "PersistentVolumeClaim"),
            ("monitoring.coreos.com/v1", "Prometheus"),
            ("example.com/v1", "ConfigMap"),
        ] {
            assert!(!ready_once_exists(api_group(api_version), kind), "{kind}");
        }
    }

    #[test]
    fn jobs_wait_only_when_asked_and_fail_fast() {
        let running = json!({"status": {"active": 1}});
        assert_eq!(readiness("batch", "Job", &running, false), Readiness::Ready);
        assert!(matches!(
            readiness("batch", "Job", &running, true),
            Readiness::InProgress(_)
        ));
        let failed = json!({"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}});
        assert_eq!(
            readiness("batch", "Job", &failed, true),
            Readiness::Failed("BackoffLimitExceeded".into())
        );
    }

    #[test]
    fn pods_name_their_containers_reasons() {
        let crash = json!({"status": {"phase": "Running", "containerStatuses": [
            {"name": "main", "ready": false, "image": "web:crashloop",
             "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(
            readiness("", "Pod", &crash, false),
            Readiness::InProgress("CrashLoopBackOff".into())
        );
        let never = json!({"status": {"phase": "Running", "containerStatuses": [
            {"name": "main", "ready": false, "image": "web:never-ready", "state": {"running": {}}}]}});
        assert_eq!(
            pod_reason(&never),
            "container main (web:never-ready) running but not ready"
        );
    }

    #[test]
    fn custom_resources_follow_kstatus() {
        let r = |v: Value| readiness("example.com", "Widget", &v, false);
        assert_eq!(r(json!({"spec": {}})), Readiness::Ready);
        assert_eq!(
            r(
                json!({"metadata": {"generation": 3}, "status": {"observedGeneration": 3,
                "conditions": [{"type": "Ready", "status": "False", "reason": "Waiting"}]}})
            ),
            Readiness::InProgress("Waiting".into())
        );
        assert!(matches!(
            r(json!({"status": {"conditions": [{"type": "Stalled", "status": "True"}]}})),
            Readiness::Failed(_)
        ));
        let svc = json!({"spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1"}});
        assert_eq!(
            readiness("", "Service", &svc, false),
            Readiness::InProgress("no load balancer ingress".into())
        );
        let on_delete = json!({"metadata": {"generation": 2}, "spec": {"updateStrategy": {"type": "OnDelete"}},
            "status": {"observedGeneration": 2, "desiredNumberScheduled": 1, "updatedNumberScheduled": 0}});
        assert_eq!(
            readiness("apps", "DaemonSet", &on_delete, false),
            Readiness::Ready
        );
        let with_external_ip = json!({"spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1",
            "externalIPs": ["127.0.0.2"]}});
        assert_eq!(
            readiness("", "Service", &with_external_ip, false),
            Readiness::Ready
        );
        let with_ingress = json!({"spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1"},
            "status": {"loadBalancer": {"ingress": [{"ip": "127.240.0.1"}]}}});
        assert_eq!(
            readiness("", "Service", &with_ingress, false),
            Readiness::Ready
        );
    }
}

//! Applying a release's objects: [`Applier::apply`] (install, upgrade, rollback) and
//! [`Applier::uninstall`], with a report of what happened to each object.
//!
//! # How each object is applied
//!
//! | situation | client-side ([`ApplyMethod::ClientSide`]) | server-side ([`ApplyMethod::ServerSide`]) |
//! |---|---|---|
//! | absent | POST | apply patch (field manager `helm`, `force` when `force_conflicts`) |
//! | present | GET, three-way patch of (previous, new, live); nothing sent when empty | GET; nothing sent when the chart did not change the object and the live object already holds every field it sets (applied by the same manager), else apply patch |
//! | present with `force_replace` | PUT with the live `resourceVersion` | PUT |
//!
//! Strategic merge patches are used for built-in kinds with a published schema, JSON merge
//! patches otherwise (custom resources, CustomResourceDefinitions), see [`crate::merge`]. An
//! object that changed nothing on the server (same `resourceVersion`) is reported
//! [`Action::Unchanged`].
//!
//! `force_replace` is Helm's `--force`: a PUT, so an immutable field's change is refused by the
//! API server with or without it (Helm 3 and 4 never delete and recreate). A write the server
//! refuses as invalid is [`Error::Invalid`], naming the object and each field in plain words
//! ([`crate::invalid`]).
//!
//! Every object gets Helm's ownership metadata ([`crate::ownership`]); an existing object that was
//! not in the previous manifest must already belong to this release unless `take_ownership`.
//! Kinds are applied in Helm's install order, in waves ([`crate::resource::install_waves`]: kinds
//! with no order among them, such as a chart's custom resources of several kinds, or its
//! Deployments and DaemonSets), the objects of one wave concurrently (at most `concurrency` at
//! a time), each wave after the one before; each kind's existing objects read with one list per namespace
//! (the first wave's lists, then every later wave's at once before the first write, unless
//! the release makes kinds or namespaces: `lists_ahead`; an install's by name alone); the
//! writes answered with the objects' metadata alone outside dry runs ([`crate::answer`]); objects of the previous manifest missing from the new one are then
//! deleted in uninstall order unless annotated `helm.sh/resource-policy: keep` (in the manifest or
//! on the live object). With `dry_run` every write is sent with `dryRun=All`, and each object's
//! report carries a [`Preview`]: the live object and what the server says it would become, which
//! `capstan diff --three-way` compares.

use std::collections::{HashMap, HashSet, VecDeque};

use futures::{FutureExt as _, StreamExt as _};
use kube::api::{
    DeleteParams, DynamicObject, ListParams, ObjectList, Patch, PatchParams, PostParams,
    PropagationPolicy, ValidationDirective,
};
use kube::core::{ObjectMeta, PartialObjectMeta, TypeMeta};
use kube::{Api, Client};
use serde_json::Value;
use std::sync::Arc;

use crate::answer;
use crate::error::{Error, Result};
use crate::invalid;
use crate::mapping::{Mapping, RestMapper, is_builtin_group};
use crate::merge;
use crate::omitted::{self, ApiType};
use crate::ownership;
use crate::resource::{
    ObjectKey, Resource, install_waves, uninstall_steps, without_release_records,
};
use crate::retry;

/// The field manager Helm uses, so capstan and Helm share ownership of fields.
pub const FIELD_MANAGER: &str = "helm";

/// Helm's two ways of applying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMethod {
    /// Server-side apply (Helm 4's default for installs).
    ServerSide,
    /// Client-side three-way merge (Helm 3).
    ClientSide,
}

/// What deleting an object does to its dependents (`--cascade`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cascade {
    /// Dependents deleted in the background (Helm's default).
    #[default]
    Background,
    /// Dependents deleted before the owner.
    Foreground,
    /// Dependents left behind.
    Orphan,
}

/// How to apply or uninstall.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The release's name, written into the ownership annotations.
    pub release: String,
    /// The release's namespace: ownership annotation and namespace of namespaced objects that name
    /// none.
    pub release_namespace: String,
    /// Client-side or server-side.
    pub method: ApplyMethod,
    /// Field manager of every write.
    pub field_manager: String,
    /// Server-side apply takes over fields other managers own (`--force-conflicts`).
    pub force_conflicts: bool,
    /// Replace (PUT) existing objects instead of patching them (`--force`, as Helm: never
    /// delete and recreate).
    pub force_replace: bool,
    /// Adopt existing objects of no release or another release (`--take-ownership`).
    pub take_ownership: bool,
    /// Send every write with `dryRun=All` (`--dry-run=server`).
    pub dry_run: bool,
    /// Objects of one kind applied at once.
    pub concurrency: usize,
    /// Propagation policy of deletes.
    pub cascade: Cascade,
}

impl ApplyOptions {
    /// Server-side apply as field manager `helm` with force-conflicts, no force, no adoption, no
    /// dry run, 8 objects at a time, background cascade.
    pub fn new(release: impl Into<String>, release_namespace: impl Into<String>) -> ApplyOptions {
        ApplyOptions {
            release: release.into(),
            release_namespace: release_namespace.into(),
            method: ApplyMethod::ServerSide,
            field_manager: FIELD_MANAGER.to_string(),
            force_conflicts: true,
            force_replace: false,
            take_ownership: false,
            dry_run: false,
            concurrency: 8,
            cascade: Cascade::Background,
        }
    }

    /// The same options with another apply method.
    pub fn method(mut self, method: ApplyMethod) -> ApplyOptions {
        self.method = method;
        self
    }
}

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// It did not exist and was created.
    Created,
    /// It existed and was patched or applied with changes.
    Configured,
    /// It was already as wanted: no change (client-side: no request at all).
    Unchanged,
    /// It was replaced (PUT) because of `force_replace`.
    Replaced,
    /// It was deleted.
    Deleted,
    /// It would have been deleted but is annotated `helm.sh/resource-policy: keep`.
    Kept,
    /// It was to be deleted but was already gone.
    Absent,
}

/// One object's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectReport {
    /// The object (its namespace resolved: none for cluster-scoped kinds).
    pub key: ObjectKey,
    /// What happened.
    pub action: Action,
    /// In a dry run: the object before and after, as the server has it and would store it.
    pub preview: Option<Box<Preview>>,
}

impl ObjectReport {
    fn new(key: ObjectKey, action: Action) -> ObjectReport {
        ObjectReport {
            key,
            action,
            preview: None,
        }
    }
}

/// What a dry run would do to one object, as whole objects from the API server (with server
/// defaults, status and metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// The object in the cluster now; `None` when it does not exist.
    pub live: Option<Value>,
    /// The object the server would store; `None` when it would be deleted.
    pub planned: Option<Value>,
}

/// Every object's outcome, in the order they finished.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// The outcomes.
    pub objects: Vec<ObjectReport>,
}

impl ApplyReport {
    /// The action taken on `kind/name`, if that object was processed.
    pub fn action(&self, kind: &str, name: &str) -> Option<Action> {
        self.objects
            .iter()
            .find(|o| o.key.kind == kind && o.key.name == name)
            .map(|o| o.action)
    }

    /// Objects that were written to (created, configured, replaced or deleted).
    pub fn changed(&self) -> impl Iterator<Item = &ObjectReport> {
        self.objects
            .iter()
            .filter(|o| !matches!(o.action, Action::Unchanged | Action::Kept | Action::Absent))
    }
}

/// Objects per list of an install step: what a first page does not show is read by itself.
const LIST_PAGE: u32 = 500;

/// A callback told of each object as soon as it is applied or deleted.
pub type OnObject<'a> = &'a (dyn Fn(&ObjectReport) + Send + Sync);

/// Applies and deletes objects for releases.
#[derive(Clone)]
pub struct Applier {
    client: Client,
    mapper: Arc<RestMapper>,
    written: Arc<answer::Written>,
}

pub(crate) struct Target {
    pub(crate) key: ObjectKey,
    pub(crate) api: Api<DynamicObject>,
    mapping: Mapping,
}

pub(crate) fn to_value(object: &DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

fn resource_version(object: &DynamicObject) -> Option<String> {
    object.metadata.resource_version.clone()
}

impl Applier {
    /// An applier with its own [`RestMapper`].
    pub fn new(client: Client) -> Applier {
        let mapper = Arc::new(RestMapper::new(client.clone()));
        Applier {
            client,
            mapper,
            written: Arc::default(),
        }
    }

    /// An applier sharing a [`RestMapper`] (and its caches).
    pub fn with_mapper(mapper: Arc<RestMapper>) -> Applier {
        Applier {
            client: mapper.client().clone(),
            mapper,
            written: Arc::default(),
        }
    }

    /// The versions this applier's writes were answered with, for a [`crate::Waiter`] to list
    /// no older ([`crate::Waiter::with_written`]).
    pub fn written(&self) -> Arc<answer::Written> {
        self.written.clone()
    }

    /// Records the version a write of `target` was answered with (not for a dry run's).
    fn record_written(&self, target: &Target, answer: &DynamicObject, options: &ApplyOptions) {
        if !options.dry_run {
            let resource = &target.mapping.resource;
            self.written.record(
                &resource.group,
                &resource.plural,
                answer.metadata.resource_version.as_deref(),
            );
        }
    }

    /// The mapper.
    pub fn mapper(&self) -> &Arc<RestMapper> {
        &self.mapper
    }

    pub(crate) async fn target(
        &self,
        resource: &Resource,
        release_namespace: &str,
    ) -> Result<Target> {
        let mapping = self
            .mapper
            .resolve(&resource.api_version, &resource.kind)
            .await?;
        Ok(self.target_of(resource, release_namespace, mapping))
    }

    /// The target of `resource` when the mapper already knows its kind.
    pub(crate) fn target_cached(
        &self,
        resource: &Resource,
        release_namespace: &str,
    ) -> Option<Target> {
        let mapping = self.mapper.cached(&resource.api_version, &resource.kind)?;
        Some(self.target_of(resource, release_namespace, mapping))
    }

    fn target_of(&self, resource: &Resource, release_namespace: &str, mapping: Mapping) -> Target {
        let namespace = mapping.namespaced.then(|| {
            resource
                .namespace
                .clone()
                .unwrap_or_else(|| release_namespace.to_string())
        });
        let api = match &namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &mapping.resource),
            None => Api::all_with(self.client.clone(), &mapping.resource),
        };
        Target {
            key: ObjectKey {
                group: resource.group().to_string(),
                kind: resource.kind.clone(),
                namespace,
                name: resource.name.clone(),
            },
            api,
            mapping,
        }
    }

    /// Applies `desired` (a revision's objects), given `previous` (the objects of the revision it
    /// replaces; empty for an install): creates, patches or replaces each desired object, then
    /// deletes the previous objects the desired set no longer has.
    ///
    /// On the first failure the step in progress is finished and the error
    /// ([`Error::Incomplete`]) carries the report of what was done.
    pub async fn apply(
        &self,
        previous: &[Resource],
        desired: &[Resource],
        options: &ApplyOptions,
    ) -> Result<ApplyReport> {
        self.apply_observed(previous, desired, options, &|_| {})
            .await
    }

    /// [`apply`](Self::apply), reporting each object to `on_object` as soon as it is done.
    #[tracing::instrument(name = "kube.apply", skip_all, fields(release = %options.release, namespace = %options.release_namespace))]
    pub async fn apply_observed(
        &self,
        previous: &[Resource],
        desired: &[Resource],
        options: &ApplyOptions,
        on_object: OnObject<'_>,
    ) -> Result<ApplyReport> {
        let ns = options.release_namespace.as_str();
        let desired_keys: HashSet<ObjectKey> = desired.iter().map(|r| r.key(ns)).collect();
        let mut report = ApplyReport::default();
        let waves = install_waves(desired);
        // Each step's live objects, listed before the first write when no step makes a kind
        // or namespace that a later step's list needs (see `lists_ahead`): the lists are what
        // a release of many kinds otherwise waits on, one round trip a wave. An install's
        // lists are conclusive for absence (see `list_step`): its objects are all new to the
        // release, and the ownership check before its record found them absent or its own.
        // They list names only (`Listing::Names`): what an install finds is rare (a
        // `--replace`, leftovers of a failed install) and read by itself. They are taken from
        // the API server's cache as it is (`cached`) when the ownership check ran: see
        // `Listing::Names`.
        // The first wave's lists are sent alone and awaited, then every later wave's at once,
        // answered while the first wave is written; each later wave waits for its own steps'
        // lists only. (Sent together with the first wave's, the later lists held up the first
        // write: the server answers them all at once.)
        let install = previous.is_empty();
        let listing_ahead = lists_ahead(desired);
        let names = Listing::Names {
            cached: !options.take_ownership,
        };
        let ahead_listing = if install {
            names
        } else {
            Listing::Whole { conclusive: false }
        };
        let mut ahead = futures::stream::FuturesOrdered::new();
        // The later waves' lists answered by the time the first wave's writes started.
        let mut answered: VecDeque<StepLive> = VecDeque::new();
        for (index, wave) in waves.iter().enumerate() {
            let listed: Vec<StepLive> = if !listing_ahead {
                let listing = if install {
                    names
                } else {
                    Listing::Whole { conclusive: true }
                };
                futures::future::join_all(wave.iter().map(|step| self.list_step(step, ns, listing)))
                    .await
            } else if index == 0 {
                let first = futures::future::join_all(
                    wave.iter()
                        .map(|step| self.list_step(step, ns, ahead_listing)),
                )
                .await;
                for step in waves.iter().skip(1).flatten() {
                    ahead.push_back(self.list_step(step, ns, ahead_listing));
                }
                // One poll sends every list.
                while let Some(Some(live)) = ahead.next().now_or_never() {
                    answered.push_back(live);
                }
                first
            } else {
                let mut listed = Vec::with_capacity(wave.len());
                for _ in wave {
                    let live = match answered.pop_front() {
                        Some(live) => live,
                        None => ahead.next().await.unwrap_or_default(),
                    };
                    listed.push(live);
                }
                listed
            };
            // The futures are collected first (not mapped lazily in the stream) so that callers
            // can box this future as `Send` (a closure over references inside the stream type
            // defeats the compiler's higher-ranked `Send` proof).
            let pending: Vec<_> = wave
                .iter()
                .zip(&listed)
                .flat_map(|(step, listed)| {
                    step.iter().copied().map(move |resource| async move {
                        let original = previous.iter().find(|p| p.key(ns) == resource.key(ns));
                        let key = resource.key(ns);
                        let mut known = match listed.found.get(&key) {
                            Some(object) => Live::Listed(Box::new(object.clone())),
                            None if listed.absent.contains(&key) => Live::Absent,
                            None => Live::Unknown,
                        };
                        let result = retry::retrying("apply", || {
                            // A retry reads the object again.
                            self.apply_one(
                                original,
                                resource,
                                options,
                                std::mem::replace(&mut known, Live::Unknown),
                            )
                        })
                        .await;
                        if let Ok(done) = &result {
                            on_object(done);
                        }
                        (resource.key(ns).to_string(), result)
                    })
                })
                .collect();
            // Results in install order, whichever finished first: of several objects of a wave
            // that fail, the error names the first in Helm's order, as a one-by-one apply would.
            let results = in_order(pending, options.concurrency).await;
            absorb(&mut report, results)?;
        }
        let dropped: Vec<Resource> = previous
            .iter()
            .filter(|p| !desired_keys.contains(&p.key(ns)))
            .cloned()
            .collect();
        self.delete_steps(&dropped, options, &mut report, on_object)
            .await?;
        Ok(report)
    }

    /// The live objects of one install step (one kind) that exist, read with one list per
    /// namespace holding two or more of them, by the key [`Resource::key`] gives them. An object
    /// not listed (its list refused or cut short, alone in its namespace) is read by itself
    /// when it is applied.
    ///
    /// With [`Listing::Whole`] `conclusive` (the lists are taken as the step starts, not ahead
    /// of earlier steps' writes), a complete list's silence is an answer: the objects it does
    /// not show are [`StepLive::absent`] and created without a read. The lists carry no
    /// selector, so they show every object of the kind, except Secrets and ConfigMaps, listed
    /// without release records (megabytes each): those are told absent by a metadata-only list
    /// of them all. [`Listing::Names`] takes that metadata-only list alone, for every kind.
    async fn list_step(&self, step: &[&Resource], ns: &str, listing: Listing) -> StepLive {
        /// One namespace's list and the step's objects in it.
        type Group<'r> = (Api<DynamicObject>, Mapping, Vec<&'r Resource>);
        let mut groups: HashMap<Option<String>, Group<'_>> = HashMap::new();
        for resource in step {
            let Ok(target) = self.target(resource, ns).await else {
                continue;
            };
            groups
                .entry(target.key.namespace.clone())
                .or_insert_with(|| (target.api.clone(), target.mapping.clone(), Vec::new()))
                .2
                .push(resource);
        }
        let names_of = |list: &ObjectList<_>| -> HashSet<String> {
            list.items
                .iter()
                .filter_map(|o: &PartialObjectMeta<DynamicObject>| o.metadata.name.clone())
                .collect()
        };
        let lists = groups
            .into_values()
            .filter(|(_, _, resources)| resources.len() > 1)
            .map(|(api, mapping, resources)| async move {
                let holds_records = mapping.resource.group.is_empty()
                    && matches!(mapping.resource.kind.as_str(), "Secret" | "ConfigMap");
                let params = ListParams::default().limit(LIST_PAGE);
                let conclusive = match listing {
                    Listing::Names { cached } => {
                        let params = if cached {
                            // No limit: kube-rs leaves `resourceVersion=0` out of a list with
                            // one (servers once ignored the limit with it), so a limited list
                            // would wait for the cache after all.
                            ListParams::default().match_any()
                        } else {
                            params.clone()
                        };
                        let names = api.list_metadata(&params).await.ok().filter(complete);
                        let names = names.as_ref().map(names_of);
                        return (mapping, resources, None, names);
                    }
                    Listing::Whole { conclusive } => conclusive,
                };
                let whole = if holds_records {
                    params.clone().labels(&without_release_records())
                } else {
                    params.clone()
                };
                let (listed, names) = if conclusive && holds_records {
                    let (listed, names) =
                        futures::join!(api.list(&whole), api.list_metadata(&params));
                    let names = names.ok().filter(complete);
                    (listed, names.as_ref().map(names_of))
                } else {
                    let listed = api.list(&whole).await;
                    let names = listed
                        .as_ref()
                        .ok()
                        .filter(|list| conclusive && !holds_records && complete(list))
                        .map(|list| {
                            list.items
                                .iter()
                                .filter_map(|o| o.metadata.name.clone())
                                .collect::<HashSet<String>>()
                        });
                    (listed, names)
                };
                (mapping, resources, listed.ok(), names)
            });
        let mut live = StepLive::default();
        for (mapping, resources, listed, names) in futures::future::join_all(lists).await {
            if let Some(names) = names {
                live.absent.extend(
                    resources
                        .iter()
                        .filter(|r| !names.contains(&r.name))
                        .map(|r| r.key(ns)),
                );
            }
            let Some(list) = listed else { continue };
            let types = TypeMeta {
                api_version: mapping.resource.api_version.clone(),
                kind: mapping.resource.kind.clone(),
            };
            for mut object in list.items {
                let Some(resource) = resources
                    .iter()
                    .find(|r| object.metadata.name.as_deref() == Some(r.name.as_str()))
                else {
                    continue;
                };
                // List items carry no apiVersion and kind; a read of one object does.
                object.types = Some(types.clone());
                live.found.insert(resource.key(ns), object);
            }
        }
        // An object both found and told absent (listed whole, then gone from the later
        // metadata list) is read again.
        let StepLive { found, absent } = &mut live;
        absent.retain(|key| found.remove(key).is_none());
        live
    }

    /// Deletes a release's objects in uninstall order (the reverse of the install order), keeping
    /// those annotated `helm.sh/resource-policy: keep`, with the options' cascade. Objects
    /// already gone are [`Action::Absent`].
    pub async fn uninstall(
        &self,
        resources: &[Resource],
        options: &ApplyOptions,
    ) -> Result<ApplyReport> {
        self.uninstall_observed(resources, options, &|_| {}).await
    }

    /// [`uninstall`](Self::uninstall), reporting each object to `on_object` as soon as it is
    /// done.
    #[tracing::instrument(name = "kube.uninstall", skip_all, fields(release = %options.release, namespace = %options.release_namespace))]
    pub async fn uninstall_observed(
        &self,
        resources: &[Resource],
        options: &ApplyOptions,
        on_object: OnObject<'_>,
    ) -> Result<ApplyReport> {
        let mut report = ApplyReport::default();
        self.delete_steps(resources, options, &mut report, on_object)
            .await?;
        Ok(report)
    }

    async fn delete_steps(
        &self,
        resources: &[Resource],
        options: &ApplyOptions,
        report: &mut ApplyReport,
        on_object: OnObject<'_>,
    ) -> Result<()> {
        for step in uninstall_steps(resources) {
            let pending: Vec<_> = step
                .into_iter()
                .map(|resource| async move {
                    let result =
                        retry::retrying("delete", || self.delete_one(resource, options)).await;
                    if let Ok(done) = &result {
                        on_object(done);
                    }
                    (resource.key(&options.release_namespace).to_string(), result)
                })
                .collect();
            // In order, as an apply's (the first failure in order is the one named).
            let results = in_order(pending, options.concurrency).await;
            absorb(report, results)?;
        }
        Ok(())
    }

    async fn delete_one(
        &self,
        resource: &Resource,
        options: &ApplyOptions,
    ) -> Result<ObjectReport> {
        let target = match self.target(resource, &options.release_namespace).await {
            Ok(t) => t,
            // The kind is gone (its CRD was deleted): so is the object.
            Err(Error::UnknownKind { .. }) => {
                return Ok(ObjectReport::new(
                    resource.key(&options.release_namespace),
                    Action::Absent,
                ));
            }
            Err(e) => return Err(e),
        };
        let api_error = |operation, source| Error::Api {
            operation,
            object: target.key.describe(),
            source,
        };
        let live = target
            .api
            .get_opt(&resource.name)
            .await
            .map_err(|e| api_error("get", e))?;
        let Some(live) = live else {
            return Ok(ObjectReport::new(target.key, Action::Absent));
        };
        let live = to_value(&live);
        let preview = |planned: Option<&Value>| {
            options.dry_run.then(|| {
                Box::new(Preview {
                    live: Some(live.clone()),
                    planned: planned.cloned(),
                })
            })
        };
        if ownership::is_kept(&resource.object) || ownership::is_kept(&live) {
            tracing::debug!(object = %target.key, "kept by resource policy");
            return Ok(ObjectReport {
                preview: preview(Some(&live)),
                ..ObjectReport::new(target.key, Action::Kept)
            });
        }
        let params = DeleteParams {
            dry_run: options.dry_run,
            propagation_policy: Some(match options.cascade {
                Cascade::Background => PropagationPolicy::Background,
                Cascade::Foreground => PropagationPolicy::Foreground,
                Cascade::Orphan => PropagationPolicy::Orphan,
            }),
            ..DeleteParams::default()
        };
        match target.api.delete(&resource.name, &params).await {
            Ok(_) => Ok(ObjectReport {
                preview: preview(None),
                ..ObjectReport::new(target.key, Action::Deleted)
            }),
            Err(kube::Error::Api(status)) if status.code == 404 => {
                Ok(ObjectReport::new(target.key, Action::Absent))
            }
            Err(e) => Err(api_error("delete", e)),
        }
    }

    /// Applies one object; `listed` is what its step's list says of it (when nothing, it is
    /// read here).
    async fn apply_one(
        &self,
        original: Option<&Resource>,
        resource: &Resource,
        options: &ApplyOptions,
        listed: Live,
    ) -> Result<ObjectReport> {
        let target = self.target(resource, &options.release_namespace).await?;
        let key = target.key.clone();
        let api_error = |operation, source| Error::Api {
            operation,
            object: key.describe(),
            source,
        };
        let prepare = |object: &Value| {
            let mut object = object.clone();
            ownership::set_ownership(&mut object, &options.release, &options.release_namespace);
            if let (Some(ns), Some(meta)) = (
                &target.key.namespace,
                object.get_mut("metadata").and_then(Value::as_object_mut),
            ) {
                meta.insert("namespace".into(), Value::String(ns.clone()));
            }
            object
        };
        let modified = prepare(&resource.object);
        // A failed write: a refusal of the object (HTTP 422) in plain words, naming its fields.
        let write_error = |operation, source: kube::Error, live: Option<&Value>| match &source {
            kube::Error::Api(status) if operation == "apply" && status.code == 409 => {
                Error::Conflict {
                    object: key.describe(),
                    message: status.message.clone(),
                }
            }
            kube::Error::Api(status) => match invalid::refusal(status, &modified, live) {
                Some(refusal) => Error::Invalid {
                    operation,
                    object: key.describe(),
                    summary: refusal.summary,
                    problems: refusal.problems,
                    immutable: refusal.immutable,
                },
                None => api_error(operation, source),
            },
            _ => api_error(operation, source),
        };
        let dynamic = |value: &Value| {
            serde_json::from_value::<DynamicObject>(value.clone()).map_err(|e| {
                Error::InvalidObject {
                    object: key.describe(),
                    reason: e.to_string(),
                }
            })
        };
        let live = match listed {
            Live::Listed(listed) => Some(*listed),
            Live::Absent => None,
            Live::Unknown => target
                .api
                .get_opt(&resource.name)
                .await
                .map_err(|e| api_error("get", e))?,
        };
        let post = PostParams {
            dry_run: options.dry_run,
            field_manager: Some(options.field_manager.clone()),
        };
        let live_value = live.as_ref().map(to_value);
        // `planned`: what the server returned for the write (or `None` when nothing was sent:
        // the live object stays as it is).
        let report = |action, planned: Option<&DynamicObject>| {
            tracing::debug!(object = %key, ?action, "applied");
            let preview = options.dry_run.then(|| {
                Box::new(Preview {
                    live: live_value.clone(),
                    planned: planned.map(to_value).or_else(|| live_value.clone()),
                })
            });
            Ok(ObjectReport {
                preview,
                ..ObjectReport::new(key.clone(), action)
            })
        };

        let (Some(live), Some(live_value)) = (live, live_value.as_ref()) else {
            let created = match options.method {
                ApplyMethod::ServerSide => self
                    .server_side(&target, &modified, options)
                    .await
                    .map_err(|e| write_error("apply", e, None))?,
                ApplyMethod::ClientSide => {
                    let object = dynamic(&modified)?;
                    answered(
                        options.dry_run,
                        target.api.create(&post, &object),
                        answer::create(&target.api, &post, &object),
                    )
                    .await
                    .map_err(|e| write_error("create", e, None))?
                }
            };
            self.record_written(&target, &created, options);
            return report(Action::Created, Some(&created));
        };

        if original.is_none()
            && !options.take_ownership
            && let Err(problems) =
                ownership::check_ownership(live_value, &options.release, &options.release_namespace)
        {
            return Err(Error::Ownership {
                object: key.to_string(),
                namespace: key
                    .namespace
                    .clone()
                    .unwrap_or_else(|| options.release_namespace.clone()),
                release: options.release.clone(),
                problems,
            });
        }
        let before = resource_version(&live);

        if options.force_replace {
            let mut replacement = modified.clone();
            if let Some(meta) = replacement
                .get_mut("metadata")
                .and_then(Value::as_object_mut)
            {
                meta.insert(
                    "resourceVersion".into(),
                    before.clone().map_or(Value::Null, Value::String),
                );
            }
            // As Helm's `--force`: a PUT of the chart's object, which the API server refuses
            // when it changes an immutable field (the object is never deleted and recreated).
            let replacement = dynamic(&replacement)?;
            let replaced = answered(
                options.dry_run,
                target.api.replace(&resource.name, &post, &replacement),
                answer::replace(&target.api, &resource.name, &post, &replacement),
            )
            .await
            .map_err(|e| write_error("replace", e, Some(live_value)))?;
            self.record_written(&target, &replaced, options);
            return report(Action::Replaced, Some(&replaced));
        }

        let after = match options.method {
            ApplyMethod::ServerSide => {
                let unchanged_in_chart = original.is_some_and(|o| prepare(&o.object) == modified);
                if unchanged_in_chart
                    && applied_by(live_value, &options.field_manager)
                    && upgraded_managed_fields(live_value, &options.field_manager).is_none()
                    && omitted::holds(
                        &modified,
                        live_value,
                        ApiType::of_kind(&resource.api_version, &resource.kind),
                    )
                {
                    // The chart did not change this object and the cluster already holds every
                    // field it sets, applied by us: an apply request would change nothing, so
                    // none is sent (no write for an unchanged object).
                    return report(Action::Unchanged, None);
                }
                let migrating = upgraded_managed_fields(live_value, &options.field_manager);
                if !options.dry_run && migrating.is_some() {
                    // The object was last applied client-side: hand its fields to the
                    // server-side manager, so that fields the chart drops are removed.
                    migrate_managed_fields(&target, live_value, &options.field_manager)
                        .await
                        .map_err(|e| api_error("migrate managed fields of", e))?;
                }
                let applied = match self.server_side(&target, &modified, options).await {
                    // A dry run cannot hand the client-side fields over (the server keeps
                    // nothing of a dry run): conflicts with our own client-side manager alone are
                    // what the real run migrates away, so the preview takes those fields over.
                    Err(kube::Error::Api(status))
                        if options.dry_run
                            && migrating.is_some()
                            && only_own_conflicts(&status, &options.field_manager) =>
                    {
                        let forced = ApplyOptions {
                            force_conflicts: true,
                            ..options.clone()
                        };
                        self.server_side(&target, &modified, &forced).await
                    }
                    applied => applied,
                };
                applied.map_err(|e| write_error("apply", e, Some(live_value)))?
            }
            ApplyMethod::ClientSide => {
                let original = original.map(|o| prepare(&o.object));
                let group = target.mapping.resource.group.as_str();
                let schema = if is_builtin_group(group) {
                    self.mapper
                        .schema(&resource.api_version, &resource.kind)
                        .await?
                } else {
                    None
                };
                let root = schema.as_ref().and_then(|s| s.root());
                let patch = merge::three_way(original.as_ref(), &modified, live_value, root);
                if merge::is_empty(&patch) {
                    return report(Action::Unchanged, None);
                }
                tracing::trace!(object = %key, "patching (contents not logged: they may be secret)");
                let params = PatchParams {
                    dry_run: options.dry_run,
                    field_manager: Some(options.field_manager.clone()),
                    ..PatchParams::default()
                };
                let patch = if root.is_some() {
                    Patch::Strategic(patch)
                } else {
                    Patch::Merge(patch)
                };
                answered(
                    options.dry_run,
                    target.api.patch(&resource.name, &params, &patch),
                    answer::patch(&target.api, &resource.name, &params, &patch),
                )
                .await
                .map_err(|e| write_error("patch", e, Some(live_value)))?
            }
        };
        let unchanged = if options.dry_run {
            // A dry run never moves the resourceVersion: compare what the server would store.
            comparable(to_value(&after)) == comparable(live_value.clone())
        } else {
            resource_version(&after) == before
        };
        if unchanged {
            report(Action::Unchanged, Some(&after))
        } else {
            self.record_written(&target, &after, options);
            report(Action::Configured, Some(&after))
        }
    }

    async fn server_side(
        &self,
        target: &Target,
        modified: &Value,
        options: &ApplyOptions,
    ) -> kube::Result<DynamicObject> {
        let mut params = PatchParams::apply(&options.field_manager);
        params.force = options.force_conflicts;
        params.dry_run = options.dry_run;
        // The body is JSON made from a map, which cannot hold a duplicate key, the one thing the
        // server's strict pass over an apply body reports beyond what the apply itself refuses
        // (unknown fields are refused either way): without it, the server parses every body
        // once (as YAML: an apply's content type) instead of twice.
        params.field_validation = Some(ValidationDirective::Ignore);
        let patch = Patch::Apply(modified);
        answered(
            options.dry_run,
            target.api.patch(&target.key.name, &params, &patch),
            answer::patch(&target.api, &target.key.name, &params, &patch),
        )
        .await
    }
}

/// Runs `pending` at most `limit` at a time, the next one starting as soon as any is done (a
/// slow object holds up no other, as it would in `buffered`'s order), and returns their
/// results in `pending`'s order.
async fn in_order<F: Future>(pending: Vec<F>, limit: usize) -> Vec<F::Output> {
    // Collected first, as the callers' futures are: no closure in the stream's type.
    let indexed: Vec<_> = pending
        .into_iter()
        .enumerate()
        .map(|(i, future)| async move { (i, future.await) })
        .collect();
    let mut results: Vec<(usize, F::Output)> = futures::stream::iter(indexed)
        .buffer_unordered(limit.max(1))
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, result)| result).collect()
}

/// A write's answer: the whole object in a dry run (its [`Preview`] shows it), else its metadata
/// alone ([`answer`]), all an applied object's report reads of it. Only the future awaited
/// sends its request.
async fn answered(
    dry_run: bool,
    whole: impl Future<Output = kube::Result<DynamicObject>>,
    metadata: impl Future<Output = kube::Result<ObjectMeta>>,
) -> kube::Result<DynamicObject> {
    if dry_run {
        whole.await
    } else {
        let metadata = metadata.await?;
        Ok(DynamicObject {
            types: None,
            metadata,
            data: Value::Object(serde_json::Map::new()),
        })
    }
}

/// How an install step's objects are listed.
#[derive(Clone, Copy)]
enum Listing {
    /// Whole objects, the lists' silence an answer when `conclusive`.
    Whole {
        /// The lists are taken as the step starts: an object they do not show is absent.
        conclusive: bool,
    },
    /// Names alone (a metadata-only list), for an install: an object they do not show is
    /// absent, one they show is read by itself.
    Names {
        /// From the API server's cache as it is (`resourceVersion=0`), when the ownership
        /// check ran before the install's record ([`Applier::check_adoption`]). A list without
        /// a resourceVersion is served from the cache only once the cache has caught up with
        /// etcd's latest revision, which for a kind not written since takes a progress
        /// notification the server requests every 100 ms: tens of milliseconds before the
        /// first write. The cache only moves forward, so the list is at least as fresh as the
        /// check's lists of the same kinds and namespaces, which waited for it.
        cached: bool,
    },
}

/// What one install step's lists say of its objects.
#[derive(Default)]
struct StepLive {
    /// The objects that exist, by key.
    found: HashMap<ObjectKey, DynamicObject>,
    /// The objects a list taken as the step starts shows do not exist.
    absent: HashSet<ObjectKey>,
}

/// What is known of an object's live state when it is applied.
enum Live {
    /// Its step's list holds it.
    Listed(Box<DynamicObject>),
    /// Its step's list, taken as the step started, shows it does not exist.
    Absent,
    /// Nothing: it is read.
    Unknown,
}

/// Whether a list holds every object there is (no further page).
fn complete<K>(list: &ObjectList<K>) -> bool
where
    K: Clone,
{
    list.metadata.continue_.as_deref().is_none_or(str::is_empty)
}

/// Whether every install step's objects may be listed before the first write: not when the
/// objects make a kind (`CustomResourceDefinition`, `APIService`) or a namespace that the
/// objects of a later step may be of or in (its list would wait for a kind not yet served, or
/// find an empty namespace). Then each wave's steps are listed when it starts, as its objects
/// are written. An upgrade's or rollback's lists ahead (the objects mostly exist: a list shows
/// each one as it is) are not conclusive: an object they do not show is read by itself, never
/// taken as absent. An install's are: every object is new to the release, and the ownership
/// check before its record has just found each absent or the release's own. An object a
/// list misses is read by itself when it is applied, either way.
fn lists_ahead(desired: &[Resource]) -> bool {
    !desired.iter().any(|r| {
        matches!(
            (r.group(), r.kind.as_str()),
            ("apiextensions.k8s.io", "CustomResourceDefinition")
                | ("apiregistration.k8s.io", "APIService")
                | ("", "Namespace")
        )
    })
}

/// Whether `manager` has applied (server-side) fields of `live`.
fn applied_by(live: &Value, manager: &str) -> bool {
    live.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|entries| {
            entries.iter().any(|e| {
                e.get("manager").and_then(Value::as_str) == Some(manager)
                    && e.get("operation").and_then(Value::as_str) == Some("Apply")
            })
        })
}

/// How many times the managed fields' move is tried when the object keeps changing under it.
const MIGRATION_ATTEMPTS: usize = 5;

/// Moves the client-side fields of `manager` to its server-side entry
/// ([`upgraded_managed_fields`]) with the object's `resourceVersion` as precondition; when the
/// object changed meanwhile (a controller writing its status), reads it again and retries, as
/// client-go's `RetryOnConflict` around csaupgrade does.
async fn migrate_managed_fields(target: &Target, live: &Value, manager: &str) -> kube::Result<()> {
    let mut live = live.clone();
    let mut attempt = 1;
    loop {
        let Some(fields) = upgraded_managed_fields(&live, manager) else {
            return Ok(());
        };
        let patch = serde_json::json!({"metadata": {
            "managedFields": fields,
            "resourceVersion": live.pointer("/metadata/resourceVersion"),
        }});
        let name = target.key.name.as_str();
        match target
            .api
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Err(kube::Error::Api(status)) if status.code == 409 && attempt < MIGRATION_ATTEMPTS => {
                tracing::debug!(object = %target.key, attempt, "object changed, moving its fields again");
                attempt += 1;
                live = to_value(&target.api.get(name).await?);
            }
            result => return result.map(|_| ()),
        }
    }
}

/// Whether a refused apply's conflicts are all with `manager` itself (its client-side
/// `Update` entry; an apply never conflicts with its own `Apply` entry).
fn only_own_conflicts(status: &kube::core::Status, manager: &str) -> bool {
    let causes = status
        .details
        .as_ref()
        .map(|d| d.causes.as_slice())
        .unwrap_or_default();
    let own = format!("conflict with \"{manager}\"");
    status.code == 409
        && !causes.is_empty()
        && causes.iter().all(|c| {
            c.message
                .strip_prefix(&own)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(" using "))
        })
}

/// Whether every field `desired` sets is in `live` with the same value (maps by key, lists
/// element by element with the same length; the server's defaults inside elements are allowed).
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d
            .iter()
            .all(|(k, v)| l.get(k).is_some_and(|lv| is_subset(v, lv))),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| is_subset(dv, lv))
        }
        (d, l) => d == l,
    }
}

/// The managed fields of `live` with every client-side (`Update`) entry of `manager` merged into
/// its server-side (`Apply`) entry, or none when there is no such entry: the migration Helm 4
/// (and `kubectl`'s csaupgrade) makes when a release moves from client-side to server-side apply.
pub fn upgraded_managed_fields(live: &Value, manager: &str) -> Option<Value> {
    let entries = live.pointer("/metadata/managedFields")?.as_array()?;
    let is = |e: &Value, operation: &str| {
        e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some(operation)
            && e.get("subresource")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
    };
    let updates: Vec<&Value> = entries.iter().filter(|e| is(e, "Update")).collect();
    if updates.is_empty() {
        return None;
    }
    let mut apply = entries
        .iter()
        .find(|e| is(e, "Apply"))
        .cloned()
        .unwrap_or_else(|| {
            let mut first = updates[0].clone();
            first["operation"] = Value::String("Apply".into());
            first["fieldsV1"] = Value::Object(Default::default());
            first
        });
    for update in &updates {
        if let Some(fields) = update.get("fieldsV1") {
            union_fields(&mut apply["fieldsV1"], fields);
        }
    }
    let mut out: Vec<Value> = entries
        .iter()
        .filter(|e| !is(e, "Update") && !is(e, "Apply"))
        .cloned()
        .collect();
    out.push(apply);
    Some(Value::Array(out))
}

fn union_fields(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) => union_fields(existing, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (into, from) if into.is_null() => *into = from.clone(),
        _ => {}
    }
}

/// An object without the metadata every write changes.
fn comparable(mut object: Value) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in ["managedFields", "resourceVersion", "generation"] {
            meta.remove(field);
        }
    }
    object
}

fn absorb(report: &mut ApplyReport, results: Vec<(String, Result<ObjectReport>)>) -> Result<()> {
    let mut failure = None;
    for (object, result) in results {
        match result {
            Ok(r) => report.objects.push(r),
            Err(e) => {
                failure.get_or_insert((object, e));
            }
        }
    }
    match failure {
        None => Ok(()),
        Some((object, source)) => Err(Error::Incomplete {
            object,
            done: report.objects.len(),
            report: report.clone(),
            source: Box::new(source),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn results_come_in_order_and_a_slow_one_holds_up_no_other() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let started = AtomicUsize::new(0);
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let started = &started;
        let mut released = Some(released);
        let pending: Vec<_> = (0..5)
            .map(|i| {
                let gate = if i == 0 { released.take() } else { None };
                async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    if let Some(gate) = gate {
                        let _ = gate.await;
                    }
                    i
                }
            })
            .collect();
        let run = in_order(pending, 2);
        let release_later = async {
            // With 2 at a time and the first held, the other 4 still start and finish.
            for _ in 0..1000 {
                if started.load(Ordering::SeqCst) == 5 {
                    break;
                }
                tokio::task::yield_now().await;
            }
            let before_release = started.load(Ordering::SeqCst);
            release.send(()).unwrap();
            before_release
        };
        let (results, before_release) = tokio::join!(run, release_later);
        assert_eq!(before_release, 5, "all started while the first was held");
        assert_eq!(results, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn subsets_allow_server_defaults_but_not_differences() {
        let desired = serde_json::json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}});
        let live = serde_json::json!({"spec": {"replicas": 2, "revisionHistoryLimit": 10, "template": {"spec": {"containers": [{"name": "a", "image": "x", "imagePullPolicy": "Always"}]}}}});
        assert!(is_subset(&desired, &live));
        let changed = serde_json::json!({"spec": {"replicas": 3}});
        assert!(!is_subset(&changed, &live));
        let more = serde_json::json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}}});
        assert!(!is_subset(&more, &live));
    }

    #[test]
    fn only_conflicts_with_our_own_manager_are_taken_over_in_a_dry_run() {
        let conflict = |messages: &[&str]| -> kube::core::Status {
            serde_json::from_value(json!({"code": 409, "reason": "Conflict", "details": {
                "causes": messages.iter().map(|m| json!({"reason": "FieldManagerConflict",
                    "message": m, "field": ".data.x"})).collect::<Vec<_>>()}}))
            .unwrap()
        };
        assert!(only_own_conflicts(
            &conflict(&["conflict with \"helm\" using v1"]),
            "helm"
        ));
        assert!(!only_own_conflicts(
            &conflict(&[
                "conflict with \"helm\" using v1",
                "conflict with \"kubectl-edit\" using v1"
            ]),
            "helm"
        ));
        assert!(!only_own_conflicts(
            &conflict(&["conflict with \"helm\" with subresource \"scale\" using apps/v1"]),
            "helm"
        ));
        assert!(!only_own_conflicts(&conflict(&[]), "helm"));
    }

    #[test]
    fn client_side_fields_move_to_the_server_side_manager() {
        let live = json!({"metadata": {"managedFields": [
            {"manager": "helm", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:data": {"f:x": {}, "f:y": {}}}},
            {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
             "fieldsV1": {"f:status": {}}},
            {"manager": "helm", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:data": {"f:z": {}}}},
        ]}});
        let fields = upgraded_managed_fields(&live, "helm").unwrap();
        assert_eq!(
            fields,
            json!([
                {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
                 "fieldsV1": {"f:status": {}}},
                {"manager": "helm", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:data": {"f:z": {}, "f:x": {}, "f:y": {}}}},
            ])
        );
        assert!(
            upgraded_managed_fields(
                &json!({"metadata": {"managedFields": [fields[1].clone()]}}),
                "helm"
            )
            .is_none()
        );
    }
}

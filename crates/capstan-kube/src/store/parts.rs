//! The parts of chunked records on the API server: written before their head, fetched by
//! readers, deleted when a new head replaces their set, and garbage-collected when a crash left
//! them behind (see the chunk commit protocol in `capstan_release`).

use std::collections::{BTreeMap, BTreeSet};

use capstan_release::chunk::{
    FetchedPart, HeadKind, LABEL_PART_SET, Part, PartObject, StoredPayload, garbage_parts,
    parse_part_name, parts_selector,
};
use capstan_release::storage::LABEL_VERSION;
use capstan_release::{GoTime, ObjectKey, Result};
use futures::{TryStreamExt as _, stream};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{DeleteParams, Preconditions};

use crate::retry;

use super::{KubeStore, ReleaseObject, Role, list_metadata, list_objects, status_is};

/// Parts written at once (each request carries up to 1 MiB).
const PART_WRITES: usize = 4;

impl<K: ReleaseObject> KubeStore<K> {
    /// Writes the parts of a chunked payload (nothing for an inline one). A part that exists
    /// already holds the same bytes (its name is content-addressed), so it is left as it is.
    pub(super) async fn write_parts(
        &self,
        api: &Api<K>,
        namespace: &str,
        payload: &StoredPayload,
    ) -> Result<()> {
        let StoredPayload::Chunked { parts, .. } = payload else {
            return Ok(());
        };
        stream::iter(parts.iter().map(Ok))
            .try_for_each_concurrent(PART_WRITES, |part| self.write_part(api, namespace, part))
            .await
    }

    async fn write_part(&self, api: &Api<K>, namespace: &str, part: &Part) -> Result<()> {
        let meta = ObjectMeta {
            name: Some(part.object_name.clone()),
            labels: Some(part.labels.clone()),
            annotations: Some(part.annotations.clone()),
            ..ObjectMeta::default()
        };
        let object = K::with_payload(meta, part.data.clone(), Role::Part);
        let post = super::writers::record_write();
        let create = || crate::answer::create(api, &post, &object);
        match retry::retrying("create release part", create).await {
            Ok(_) => Ok(()),
            Err(e) if status_is(&e, |s| s.is_already_exists()) => Ok(()),
            Err(e) => Err(self.backend("creating part", namespace, &part.object_name, e)),
        }
    }

    /// The parts of set `set` of the revision whose head is `head_object`, with their index
    /// and annotations; missing ones are left out (and reported when the record is decoded,
    /// naming the head).
    pub(super) async fn fetch_parts(
        &self,
        api: &Api<K>,
        namespace: &str,
        head_object: &str,
        set: &str,
    ) -> Result<Vec<FetchedPart>> {
        let key = ObjectKey::parse(head_object).map_err(|e| e.in_namespace(namespace))?;
        let selector = format!(
            "{},{LABEL_VERSION}={},{LABEL_PART_SET}={set}",
            parts_selector(&key.name),
            key.revision,
        );
        let objects = list_objects(api, &selector)
            .await
            .map_err(|e| self.backend("reading parts of", namespace, head_object, e))?;
        Ok(objects
            .iter()
            .filter_map(|o| {
                let name = parse_part_name(o.meta().name.as_deref()?)?;
                (name.head_object == head_object && name.set == set).then(|| FetchedPart {
                    index: name.index,
                    annotations: o.meta().annotations.clone().unwrap_or_default(),
                    data: o.payload().unwrap_or_default().to_vec(),
                })
            })
            .collect())
    }

    /// After a head is committed: makes sure every part it names still exists (a concurrent
    /// writer of the same revision may have deleted a set it believed replaced) and collects
    /// the release's garbage. Failures are logged, not returned: the record is committed.
    pub(super) async fn after_commit(
        &self,
        api: &Api<K>,
        namespace: &str,
        release: &str,
        payload: &StoredPayload,
    ) -> Result<()> {
        let StoredPayload::Chunked {
            manifest, parts, ..
        } = payload
        else {
            return Ok(());
        };
        let selector = format!(
            "{},{LABEL_PART_SET}={}",
            parts_selector(release),
            manifest.set
        );
        match list_metadata(api, &selector).await {
            Ok(present) => {
                let present: BTreeSet<String> = present
                    .into_iter()
                    .filter_map(|p| p.metadata.name)
                    .collect();
                for part in parts.iter().filter(|p| !present.contains(&p.object_name)) {
                    tracing::warn!(
                        driver = K::DRIVER,
                        namespace,
                        part = part.object_name,
                        "rewriting a part deleted during the commit"
                    );
                    self.write_part(api, namespace, part).await?;
                }
            }
            Err(e) => tracing::warn!(driver = K::DRIVER, namespace, error = %e, "checking parts"),
        }
        if let Err(e) = self.collect(api, namespace, &parts_selector(release)).await {
            tracing::warn!(driver = K::DRIVER, namespace, error = %e, "collecting garbage parts");
        }
        Ok(())
    }

    /// Deletes the parts of set `set` of `head_object` (after the head stopped referencing
    /// them). Best effort: what is left is garbage for [`collect_garbage`](Self::collect_garbage).
    pub(super) async fn delete_part_set(
        &self,
        api: &Api<K>,
        namespace: &str,
        head_object: &str,
        release: &str,
        set: &str,
    ) {
        let selector = format!("{},{LABEL_PART_SET}={set}", parts_selector(release));
        let prefix = format!("{head_object}.part-{set}-");
        let parts = match list_metadata(api, &selector).await {
            Ok(parts) => parts,
            Err(e) => {
                tracing::warn!(driver = K::DRIVER, namespace, head_object, error = %e, "listing replaced parts");
                return;
            }
        };
        for name in parts.into_iter().filter_map(|p| p.metadata.name) {
            if name.starts_with(&prefix)
                && let Err(e) = self.delete_part(api, namespace, &name, None).await
            {
                tracing::warn!(driver = K::DRIVER, namespace, part = name, error = %e, "deleting a replaced part");
            }
        }
    }

    /// Deletes every part of revision `revision` of `release`, whatever its set (after its head
    /// is gone). Best effort, like [`delete_part_set`](Self::delete_part_set).
    pub(super) async fn delete_revision_parts(
        &self,
        api: &Api<K>,
        namespace: &str,
        release: &str,
        revision: u32,
    ) {
        let selector = format!("{},{LABEL_VERSION}={revision}", parts_selector(release));
        let parts = match list_metadata(api, &selector).await {
            Ok(parts) => parts,
            Err(e) => {
                tracing::warn!(driver = K::DRIVER, namespace, release, revision, error = %e, "listing the parts of a deleted revision");
                return;
            }
        };
        for name in parts.into_iter().filter_map(|p| p.metadata.name) {
            if let Err(e) = self.delete_part(api, namespace, &name, None).await {
                tracing::warn!(driver = K::DRIVER, namespace, part = name, error = %e, "deleting a part of a deleted revision");
            }
        }
    }

    async fn delete_part(
        &self,
        api: &Api<K>,
        namespace: &str,
        part: &str,
        resource_version: Option<String>,
    ) -> Result<bool> {
        let params = DeleteParams {
            preconditions: resource_version.map(|rv| Preconditions {
                resource_version: Some(rv),
                uid: None,
            }),
            ..DeleteParams::default()
        };
        match retry::retrying("delete release part", || api.delete(part, &params)).await {
            Ok(_) => Ok(true),
            Err(e) if status_is(&e, |s| s.is_not_found() || s.is_conflict()) => Ok(false),
            Err(e) => Err(self.backend("deleting part", namespace, part, e)),
        }
    }

    /// Deletes the parts in `namespace` that no head references, once older than the part
    /// grace period ([`with_part_grace`](Self::with_part_grace)): what a crash between writing
    /// parts and committing a head, or between committing and deleting a replaced set, leaves
    /// behind. Parts of a head whose manifest cannot be read are kept. Returns the names of
    /// the parts deleted.
    pub async fn collect_garbage(&self, namespace: &str) -> Result<Vec<String>> {
        let namespace = self.ns(namespace);
        let selector = format!(
            "{}={}",
            capstan_release::storage::LABEL_OWNER,
            capstan_release::chunk::OWNER_PART
        );
        self.collect(&self.api(namespace), namespace, &selector)
            .await
    }

    async fn collect(&self, api: &Api<K>, namespace: &str, selector: &str) -> Result<Vec<String>> {
        let listed = list_metadata(api, selector)
            .await
            .map_err(|e| self.backend("listing parts", namespace, selector, e))?;
        let mut versions = BTreeMap::new();
        let mut parts = Vec::new();
        for meta in listed.into_iter().map(|p| p.metadata) {
            let (Some(name), Some(created)) = (meta.name, meta.creation_timestamp) else {
                continue;
            };
            versions.insert(name.clone(), meta.resource_version);
            parts.push(PartObject {
                object_name: name,
                created_unix: created.0.as_second(),
            });
        }
        let head_names: BTreeSet<String> = parts
            .iter()
            .filter_map(|p| parse_part_name(&p.object_name))
            .map(|p| p.head_object)
            .collect();
        let mut heads = BTreeMap::new();
        let mut unreadable_heads = BTreeSet::new();
        for head in head_names {
            let Some(object) = self.get_head(api, namespace, &head).await? else {
                continue;
            };
            let labels = object.meta().labels.clone().unwrap_or_default();
            match object.payload().map(|p| HeadKind::of(&head, p, &labels)) {
                Some(Ok(kind)) => {
                    let set = kind.set().map(str::to_owned);
                    heads.insert(head, set);
                }
                Some(Err(_)) | None => {
                    unreadable_heads.insert(head);
                }
            }
        }
        let grace = i64::try_from(self.part_grace.as_secs()).unwrap_or(i64::MAX);
        let now = GoTime::now().unix_seconds();
        let mut deleted = Vec::new();
        for name in garbage_parts(&parts, &heads, now, grace) {
            let keep =
                parse_part_name(&name).is_none_or(|p| unreadable_heads.contains(&p.head_object));
            if keep {
                continue;
            }
            let version = versions.remove(&name).flatten();
            if self.delete_part(api, namespace, &name, version).await? {
                tracing::debug!(
                    driver = K::DRIVER,
                    namespace,
                    part = name,
                    "deleted a garbage part"
                );
                deleted.push(name);
            }
        }
        Ok(deleted)
    }
}

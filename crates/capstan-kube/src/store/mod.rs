//! The Secret and ConfigMap release stores: [`KubeStore`] over a [`ReleaseObject`] kind, with
//! the aliases [`SecretStore`] and [`ConfigMapStore`].
//!
//! How each operation maps onto the API server:
//!
//! | operation | requests |
//! |---|---|
//! | `create` | (chunked: POST each part) then POST the head; 409 AlreadyExists is [`Error::AlreadyExists`] |
//! | `update` | GET metadata, (chunked: POST parts), PUT the head with `metadata.resourceVersion`; 409 is [`Error::Conflict`] |
//! | `get` | GET the head (chunked: one list of its parts by label) |
//! | `history` | list `owner=helm,name=<name>` (chunked heads: their parts) |
//! | `delete` | GET the head, DELETE with a `resourceVersion` precondition, then its parts |
//! | `list`, `list_summaries` | one metadata-only list of `owner=helm` (paged); payloads only where needed |
//!
//! Large records follow the chunk commit protocol of `capstan_release` (parts first, head last,
//! old parts deleted after the commit); see [`KubeStore::collect_garbage`] for the clean-up of
//! parts a crash left behind.

mod ahead;
mod decoded;
mod object;
mod parts;
mod protolist;
mod writers;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use capstan_release::chunk::{
    ANNOTATION_PAYLOAD_SHA256, DEFAULT_MAX_OBJECT_PAYLOAD, DEFAULT_PART_GRACE_SECONDS, HeadKind,
    LABEL_PART_SET, StoredPayload, decode_from_storage, encode_for_storage,
};
use capstan_release::storage::{
    LABEL_CREATED_AT, custom_labels, history_selector, object_metadata, owner_selector,
};
use capstan_release::{
    BoxFuture, Codec, Error, GoTime, History, ListFilter, Listing, ObjectMetadata, RecordVersion,
    Release, ReleaseStore, ReleaseSummary, Result, RevisionMeta, StoredRelease, Unreadable, Write,
    object_name, validate_release_name,
};
use futures::{StreamExt as _, stream};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, ListParams, ObjectList, PartialObjectMeta, Preconditions};
use kube::{Api, Client};

use crate::answer;
use crate::retry;

pub use object::{PART_SECRET_TYPE, ReleaseObject, Role};

/// Releases in Secrets (`HELM_DRIVER=secret`, Helm's default).
pub type SecretStore = KubeStore<Secret>;
/// Releases in ConfigMaps (`HELM_DRIVER=configmap`).
pub type ConfigMapStore = KubeStore<ConfigMap>;

/// Objects per page of a metadata-only list.
const METADATA_PAGE: u32 = 500;
/// Objects per page of a list of whole objects (each can hold up to 1 MiB).
const OBJECT_PAGE: u32 = 16;
/// Records fetched at once by `list` and `history`.
const CONCURRENCY: usize = 8;

/// A release store over objects of kind `K` (Secret or ConfigMap).
///
/// Calls that name a namespace use it; an empty namespace means the store's own (as Helm's
/// driver is bound to one). `list` with [`ListFilter::namespace`] `None` lists every namespace.
pub struct KubeStore<K> {
    client: Client,
    namespace: String,
    codec: Codec,
    max_object_payload: usize,
    part_grace: Duration,
    /// Payloads encoded ahead of their writes ([`ReleaseStore::encode_ahead`]).
    ahead: Arc<ahead::EncodedAhead>,
    kind: PhantomData<fn() -> K>,
}

impl<K> Clone for KubeStore<K> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            namespace: self.namespace.clone(),
            codec: self.codec,
            max_object_payload: self.max_object_payload,
            part_grace: self.part_grace,
            ahead: self.ahead.clone(),
            kind: PhantomData,
        }
    }
}

impl<K: ReleaseObject> fmt::Debug for KubeStore<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeStore")
            .field("driver", &K::DRIVER)
            .field("namespace", &self.namespace)
            .field("codec", &self.codec)
            .field("max_object_payload", &self.max_object_payload)
            .field("part_grace", &self.part_grace)
            .finish_non_exhaustive()
    }
}

/// A record read from the cluster, with the set of parts its head references when split.
struct Loaded {
    stored: StoredRelease,
    set: Option<String>,
}

impl<K: ReleaseObject> KubeStore<K> {
    /// A store using `client`, whose default namespace is `namespace` (`default` when empty).
    pub fn new(client: Client, namespace: impl Into<String>) -> Self {
        let namespace = namespace.into();
        Self {
            client,
            namespace: if namespace.is_empty() {
                capstan_release::DEFAULT_NAMESPACE.to_owned()
            } else {
                namespace
            },
            codec: Codec::new(),
            max_object_payload: DEFAULT_MAX_OBJECT_PAYLOAD,
            part_grace: Duration::from_secs(DEFAULT_PART_GRACE_SECONDS.unsigned_abs()),
            ahead: Arc::default(),
            kind: PhantomData,
        }
    }

    /// Uses `codec` (e.g. another bound on decoded records).
    pub fn with_codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// Stores payloads larger than `bytes` in parts of at most `bytes` (default 1 MiB, the
    /// Secret and ConfigMap data limit).
    pub fn with_max_object_payload(mut self, bytes: usize) -> Self {
        self.max_object_payload = bytes.max(1);
        self
    }

    /// How old an unreferenced part must be before garbage collection deletes it (default one
    /// hour: younger parts may belong to a write whose head is not committed yet).
    pub fn with_part_grace(mut self, grace: Duration) -> Self {
        self.part_grace = grace;
        self
    }

    /// The default namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The driver's name, `secret` or `configmap`.
    pub fn driver(&self) -> &'static str {
        K::DRIVER
    }

    fn ns<'a>(&'a self, namespace: &'a str) -> &'a str {
        if namespace.is_empty() {
            &self.namespace
        } else {
            namespace
        }
    }

    fn api(&self, namespace: &str) -> Api<K> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// An [`Error::Backend`] for `doing` (`creating`, `reading`, ...) `namespace/object`.
    fn backend(&self, doing: &str, namespace: &str, object: &str, e: kube::Error) -> Error {
        Error::backend(K::DRIVER, format!("{doing} {namespace}/{object}"), e)
    }

    /// Decodes a head object (fetching its parts when split) into a stored release, checking
    /// that its name, labels and payload agree. Errors name `namespace/object`. With
    /// `stale_ok`, a head labelled with a set of which its revision has no part and without
    /// capstan's annotation of that set (a revision Helm wrote, copying the label) is read
    /// alone.
    async fn load(
        &self,
        api: &Api<K>,
        namespace: &str,
        head: &K,
        stale_ok: bool,
    ) -> Result<Loaded> {
        let meta = head.meta();
        let object = meta.name.as_deref().unwrap_or_default();
        let cache_key = decoded::Key::of(
            meta.uid.as_deref(),
            meta.resource_version.as_deref(),
            self.codec.max_decoded_bytes(),
            stale_ok,
        );
        if let Some((stored, set)) = cache_key.as_ref().and_then(decoded::get) {
            tracing::trace!(
                driver = K::DRIVER,
                namespace,
                object,
                "record decoded before"
            );
            return Ok(Loaded { stored, set });
        }
        let labels = meta.labels.clone().unwrap_or_default();
        let qualify = |e: Error| e.in_namespace(namespace);
        ReleaseSummary::from_metadata(object, namespace, &labels, &BTreeMap::new())
            .map_err(qualify)?;
        let payload = head.payload().ok_or_else(|| {
            qualify(Error::InvalidMetadata {
                object: object.to_owned(),
                reason: format!("no {:?} data", capstan_release::storage::DATA_KEY),
            })
        })?;
        let kind = HeadKind::of(object, payload, &labels).map_err(qualify)?;
        // Only a record held whole by its head is cached: a split one's parts are read every
        // time, so that a missing part is found.
        let cache_key = cache_key.filter(|_| kind.set().is_none());
        if let Some((stored, set)) = cache_key.as_ref().and_then(decoded::get) {
            tracing::trace!(
                driver = K::DRIVER,
                namespace,
                object,
                "record decoded before"
            );
            return Ok(Loaded { stored, set });
        }
        let parts = match kind.set() {
            Some(set) => self.fetch_parts(api, namespace, object, set).await?,
            None => Vec::new(),
        };
        // A head capstan wrote (its annotation names the set) whose parts are all gone is
        // damaged; one without the annotation (a revision Helm wrote, copying the label) is
        // read alone.
        let written_by_capstan = meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION_PAYLOAD_SHA256))
            .is_some_and(|sha| Some(sha.get(..12).unwrap_or_default()) == kind.set());
        let stale = stale_ok
            && matches!(kind, HeadKind::ChartFiles { .. })
            && parts.is_empty()
            && !written_by_capstan;
        let mut release = if stale {
            tracing::debug!(
                driver = K::DRIVER,
                namespace,
                object,
                "no part of the set its label names: reading the head alone"
            );
            self.codec.decode_record(object, payload)
        } else {
            decode_from_storage(&self.codec, object, payload, &labels, &parts)
        }
        .map_err(qualify)?;
        release.labels = custom_labels(&labels);
        if release.namespace.is_empty() {
            release.namespace = namespace.to_owned();
        }
        let loaded = Loaded {
            stored: StoredRelease {
                release,
                version: RecordVersion::new(meta.resource_version.clone().unwrap_or_default()),
            },
            set: if stale {
                None
            } else {
                kind.set().map(str::to_owned)
            },
        };
        if let Some(key) = cache_key {
            decoded::put(key, (loaded.stored.clone(), loaded.set.clone()));
        }
        Ok(loaded)
    }

    /// [`load`](Self::load), re-reading the head once when a part is missing (a concurrent
    /// update committed a new set and removed the old one); the second read takes a set label
    /// without parts as stale. `None` when the head is gone.
    async fn load_verified(
        &self,
        api: &Api<K>,
        namespace: &str,
        head: K,
    ) -> Result<Option<Loaded>> {
        match self.load(api, namespace, &head, false).await {
            Err(Error::ChunkIncomplete { .. }) => {
                let object = head.meta().name.clone().unwrap_or_default();
                match self.get_head(api, namespace, &object).await? {
                    Some(head) => self.load(api, namespace, &head, true).await.map(Some),
                    None => Ok(None),
                }
            }
            other => other.map(Some),
        }
    }

    async fn get_head(&self, api: &Api<K>, namespace: &str, object: &str) -> Result<Option<K>> {
        retry::retrying("read release object", || api.get_opt(object))
            .await
            .map_err(|e| self.backend("reading", namespace, object, e))
    }

    async fn read(&self, namespace: &str, name: &str, revision: u32) -> Result<Loaded> {
        let api = self.api(namespace);
        let object = object_name(name, revision);
        let not_found = || Error::NotFound {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            revision: Some(revision),
        };
        let head = self
            .get_head(&api, namespace, &object)
            .await?
            .ok_or_else(not_found)?;
        self.load_verified(&api, namespace, head)
            .await?
            .ok_or_else(not_found)
    }

    /// The record a `list` row is made from: the head alone when it is a Helm record (a split
    /// one's parts hold only its chart's templates and files, which a row does not show),
    /// else the whole record.
    async fn summary_record(&self, namespace: &str, name: &str, revision: u32) -> Result<Release> {
        let api = self.api(namespace);
        let object = object_name(name, revision);
        let head = self
            .get_head(&api, namespace, &object)
            .await?
            .ok_or_else(|| Error::NotFound {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                revision: Some(revision),
            })?;
        let labels = head.meta().labels.clone().unwrap_or_default();
        let payload = head.payload().unwrap_or_default();
        match HeadKind::of(&object, payload, &labels) {
            Ok(HeadKind::ChartFiles { .. }) => {
                let mut release = self
                    .codec
                    .decode_record(&object, payload)
                    .map_err(|e| e.in_namespace(namespace))?;
                release.labels = custom_labels(&labels);
                Ok(release)
            }
            _ => Ok(self.read(namespace, name, revision).await?.stored.release),
        }
    }

    /// The head object of `release`, holding `payload`, with `metadata`'s name, labels and
    /// annotations (plus the split record's label and annotations when split).
    fn head_object(&self, metadata: ObjectMetadata, payload: &StoredPayload) -> K {
        let mut annotations = metadata.annotations;
        annotations.extend(payload.head_annotations());
        let mut labels = metadata.labels;
        labels.remove(LABEL_PART_SET);
        labels.extend(payload.head_labels());
        let meta = ObjectMeta {
            name: Some(metadata.name),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..ObjectMeta::default()
        };
        K::with_payload(meta, payload.head_payload().to_owned(), Role::Head)
    }

    /// `release` with the namespace it is stored in (the store's when empty).
    fn in_store<'r>(&self, release: &'r Release) -> Cow<'r, Release> {
        if release.namespace.is_empty() {
            let mut owned = release.clone();
            owned.namespace = self.namespace.clone();
            Cow::Owned(owned)
        } else {
            Cow::Borrowed(release)
        }
    }

    /// Encodes `release` for the store: checks its key and labels, fills in the namespace. The
    /// payload is the one encoded ahead for an equal release, if any, else encoded here.
    async fn prepare<'r>(
        &self,
        release: &'r Release,
        write: Write,
    ) -> Result<(Cow<'r, Release>, ObjectMetadata, StoredPayload)> {
        validate_release_name(&release.name)?;
        if release.version == 0 {
            return Err(Error::InvalidRevision {
                name: release.name.clone(),
                revision: 0,
            });
        }
        let release = self.in_store(release);
        let metadata = object_metadata(&release, write, GoTime::now().unix_seconds())?;
        let payload = match self.ahead.take(&release).await {
            Some(payload) => payload,
            None => encode_for_storage(&self.codec, &release, self.max_object_payload)
                .map_err(|e| e.in_namespace(&release.namespace))?,
        };
        Ok((release, metadata, payload))
    }

    async fn create_record(&self, release: &Release) -> Result<RecordVersion> {
        let (release, metadata, payload) = self.prepare(release, Write::Create).await?;
        let namespace = release.namespace.as_str();
        let object = metadata.name.clone();
        let api = self.api(namespace);
        self.write_parts(&api, namespace, &payload).await?;
        let head = self.head_object(metadata, &payload);
        let post = writers::record_write();
        // Answered with the object's metadata: the version is all that is read of it.
        let attempts = retry::attempts("create release object", || {
            answer::create(&api, &post, &head)
        })
        .await;
        match attempts.result {
            Err(e)
                if attempts.retried
                    && status_is(&e, |s| s.is_already_exists())
                    && let Some(version) =
                        self.own_write(&api, namespace, &object, &payload).await =>
            {
                Ok(version)
            }
            Ok(created) => {
                tracing::debug!(
                    driver = K::DRIVER,
                    namespace,
                    object,
                    "created release object"
                );
                self.after_commit(&api, namespace, &release.name, &payload)
                    .await?;
                Ok(version_of_meta(&created))
            }
            Err(e) if status_is(&e, |s| s.is_already_exists()) => Err(Error::AlreadyExists {
                namespace: namespace.to_owned(),
                name: release.name.clone(),
                revision: release.version,
            }),
            Err(e) => Err(self.backend("creating", namespace, &object, e)),
        }
    }

    /// The version of `object` when it holds exactly the head `payload`: how a write whose
    /// answer was lost, and which was retried, recognises that its first attempt landed.
    async fn own_write(
        &self,
        api: &Api<K>,
        namespace: &str,
        object: &str,
        payload: &StoredPayload,
    ) -> Option<RecordVersion> {
        let head = self.get_head(api, namespace, object).await.ok()??;
        (head.payload() == Some(payload.head_payload().as_bytes())).then(|| version_of(&head))
    }

    async fn update_record(
        &self,
        release: &Release,
        expected: &RecordVersion,
    ) -> Result<RecordVersion> {
        let namespace = self.ns(&release.namespace).to_owned();
        let api = self.api(&namespace);
        let object = object_name(&release.name, release.version);
        let not_found = || Error::NotFound {
            namespace: namespace.clone(),
            name: release.name.clone(),
            revision: Some(release.version),
        };
        let current = retry::retrying("read release object", || api.get_metadata_opt(&object))
            .await
            .map_err(|e| self.backend("reading", &namespace, &object, e))?
            .ok_or_else(not_found)?
            .metadata;
        let conflict = |actual: String| Error::Conflict {
            namespace: namespace.clone(),
            name: release.name.clone(),
            revision: release.version,
            expected: expected.to_string(),
            actual,
        };
        let actual = current.resource_version.unwrap_or_default();
        if actual != expected.as_str() {
            return Err(conflict(actual));
        }
        let created_at = current
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_CREATED_AT))
            .and_then(|t| t.parse().ok());
        // The set the committed head references (its label, which survives Helm rewriting the
        // head, or its annotation); its parts go once the new head is in.
        let previous_set = current
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_PART_SET))
            .or_else(|| {
                current
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(ANNOTATION_PAYLOAD_SHA256))
            })
            .and_then(|set| set.get(..12))
            .map(str::to_owned);
        let (release, metadata, payload) =
            self.prepare(release, Write::Update { created_at }).await?;
        self.write_parts(&api, &namespace, &payload).await?;
        let mut head = self.head_object(metadata, &payload);
        head.meta_mut().resource_version = Some(expected.to_string());
        let post = writers::record_write();
        let attempts = retry::attempts("update release object", || {
            answer::replace(&api, &object, &post, &head)
        })
        .await;
        match attempts.result {
            Err(e)
                if attempts.retried
                    && status_is(&e, |s| s.is_conflict())
                    && let Some(version) =
                        self.own_write(&api, &namespace, &object, &payload).await =>
            {
                Ok(version)
            }
            Ok(replaced) => {
                tracing::debug!(
                    driver = K::DRIVER,
                    namespace,
                    object,
                    "updated release object"
                );
                let new_set = payload.set();
                if let Some(old) = previous_set.filter(|old| Some(old.as_str()) != new_set) {
                    self.delete_part_set(&api, &namespace, &object, &release.name, &old)
                        .await;
                }
                self.after_commit(&api, &namespace, &release.name, &payload)
                    .await?;
                Ok(version_of_meta(&replaced))
            }
            Err(e) if status_is(&e, |s| s.is_conflict()) => {
                Err(conflict(current_version(&api, &object).await))
            }
            Err(e) if status_is(&e, |s| s.is_not_found()) => Err(not_found()),
            Err(e) => Err(self.backend("updating", &namespace, &object, e)),
        }
    }

    async fn delete_record(
        &self,
        namespace: &str,
        name: &str,
        revision: u32,
        expected: Option<&RecordVersion>,
    ) -> Result<Release> {
        let loaded = self.read(namespace, name, revision).await?;
        let object = object_name(name, revision);
        let version = loaded.stored.version.clone();
        // Without an expected version, the one read is expected: the record returned is the
        // record deleted.
        let conflict = |actual: String| Error::Conflict {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            revision,
            expected: expected.unwrap_or(&version).to_string(),
            actual,
        };
        if let Some(expected) = expected
            && *expected != version
        {
            return Err(conflict(version.to_string()));
        }
        let api = self.api(namespace);
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: Some(version.to_string()),
                uid: None,
            }),
            ..DeleteParams::default()
        };
        let attempts =
            retry::attempts("delete release object", || api.delete(&object, &params)).await;
        match attempts.result {
            Ok(_) => {}
            // The earlier attempt deleted it.
            Err(e) if attempts.retried && status_is(&e, |s| s.is_not_found()) => {}
            Err(e) if status_is(&e, |s| s.is_conflict()) => {
                return Err(conflict(current_version(&api, &object).await));
            }
            Err(e) if status_is(&e, |s| s.is_not_found()) => {
                return Err(Error::NotFound {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    revision: Some(revision),
                });
            }
            Err(e) => return Err(self.backend("deleting", namespace, &object, e)),
        }
        tracing::debug!(
            driver = K::DRIVER,
            namespace,
            object,
            "deleted release object"
        );
        if let Some(set) = &loaded.set {
            self.delete_part_set(&api, namespace, &object, name, set)
                .await;
        }
        Ok(loaded.stored.release)
    }

    /// Every revision of `name`: one list of the heads, then each decoded (chunked ones with
    /// their parts); an unreadable record is reported, not fatal.
    async fn history_records(&self, namespace: &str, name: &str) -> Result<History> {
        let api = self.api(namespace);
        let selector = history_selector(name);
        let heads = list_objects(&api, &selector)
            .await
            .map_err(|e| self.backend("listing", namespace, &selector, e))?;
        let api = &api;
        let results: Vec<(String, Result<Option<Loaded>>)> = stream::iter(heads)
            .map(|head| async move {
                let object = head.meta().name.clone().unwrap_or_default();
                (object, self.load_verified(api, namespace, head).await)
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let (mut records, mut unreadable) = (Vec::new(), Vec::new());
        for (object, result) in results {
            match result {
                Ok(Some(loaded)) => records.push(loaded.stored),
                Ok(None) => {}
                Err(error) if error.is_unreadable_record() => unreadable.push(Unreadable {
                    namespace: namespace.to_owned(),
                    object,
                    error,
                }),
                Err(error) => return Err(error),
            }
        }
        if !unreadable.is_empty() {
            tracing::warn!(
                driver = K::DRIVER,
                namespace,
                release = name,
                count = unreadable.len(),
                "skipped unreadable release records"
            );
        }
        Ok(History::from_parts(records, unreadable))
    }

    /// Every revision of `name` from a metadata-only list: no payload crosses the wire.
    async fn revision_metas(&self, namespace: &str, name: &str) -> Result<Listing<RevisionMeta>> {
        let api = self.api(namespace);
        let selector = history_selector(name);
        let objects = list_metadata(&api, &selector)
            .await
            .map_err(|e| self.backend("listing", namespace, &selector, e))?;
        let mut listing = Listing::default();
        for meta in objects.into_iter().map(|o| o.metadata) {
            let object = meta.name.unwrap_or_default();
            let labels = meta.labels.unwrap_or_default();
            match ReleaseSummary::from_metadata(&object, namespace, &labels, &BTreeMap::new()) {
                Ok(row) => listing.items.push(RevisionMeta {
                    revision: row.revision,
                    status: row.status,
                    version: RecordVersion::new(meta.resource_version.unwrap_or_default()),
                }),
                Err(error) => listing.unreadable.push(Unreadable {
                    error: error.in_namespace(namespace),
                    namespace: namespace.to_owned(),
                    object,
                }),
            }
        }
        listing.items.sort_by_key(|m| m.revision);
        Ok(listing)
    }

    /// Deletes one revision without decoding it: its head (with the `resourceVersion`
    /// precondition), then every part of that revision, whatever its set (found by label).
    async fn remove_record(
        &self,
        namespace: &str,
        name: &str,
        revision: u32,
        expected: Option<&RecordVersion>,
    ) -> Result<()> {
        let api = self.api(namespace);
        let object = object_name(name, revision);
        let not_found = || Error::NotFound {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            revision: Some(revision),
        };
        let current = api
            .get_metadata_opt(&object)
            .await
            .map_err(|e| self.backend("reading", namespace, &object, e))?
            .ok_or_else(not_found)?;
        let version = current.metadata.resource_version.unwrap_or_default();
        let conflict = |actual: String| Error::Conflict {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            revision,
            expected: expected.map_or_else(|| version.clone(), ToString::to_string),
            actual,
        };
        if let Some(expected) = expected
            && expected.as_str() != version
        {
            return Err(conflict(version.clone()));
        }
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: Some(version.clone()),
                uid: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&object, &params).await {
            Ok(_) => {}
            Err(e) if status_is(&e, |s| s.is_conflict()) => {
                return Err(conflict(current_version(&api, &object).await));
            }
            Err(e) if status_is(&e, |s| s.is_not_found()) => return Err(not_found()),
            Err(e) => return Err(self.backend("deleting", namespace, &object, e)),
        }
        tracing::debug!(
            driver = K::DRIVER,
            namespace,
            object,
            "deleted release object"
        );
        self.delete_revision_parts(&api, namespace, name, revision)
            .await;
        Ok(())
    }

    /// The rows `filter` selects, from a metadata-only list: summaries, plus the objects whose
    /// metadata is unreadable.
    async fn select(&self, filter: &ListFilter) -> Result<(Vec<ReleaseSummary>, Vec<Unreadable>)> {
        let namespace = filter.namespace.as_deref().map(|ns| self.ns(ns));
        let selector = owner_selector();
        let failed = |e| {
            let scope = namespace.unwrap_or("(all namespaces)");
            self.backend("listing", scope, &selector, e)
        };
        let (mut rows, mut unreadable) = (Vec::new(), Vec::new());
        // capstan's annotations summarise the payload only while capstan alone wrote it: a
        // record another writer touched is summarised from its labels, so listing decodes
        // its payload and reports it when it cannot be read.
        let no_annotations = BTreeMap::new();
        let mut summarise = |name: String,
                             namespace: String,
                             labels: &BTreeMap<String, String>,
                             annotations: &BTreeMap<String, String>,
                             payload_trusted: bool| {
            let annotations = if payload_trusted {
                annotations
            } else {
                &no_annotations
            };
            match ReleaseSummary::from_metadata(&name, &namespace, labels, annotations) {
                Ok(row) => rows.push(row),
                Err(error) => unreadable.push(Unreadable {
                    error: error.in_namespace(&namespace),
                    namespace,
                    object: name,
                }),
            }
        };
        match self
            .list_protobuf(namespace, &selector)
            .await
            .map_err(failed)?
        {
            Some(objects) => {
                tracing::debug!(
                    objects = objects.len(),
                    "listed release records as protobuf"
                );
                for meta in objects {
                    let trusted = meta.payload_written_by_only(writers::RECORD_MANAGER);
                    summarise(
                        meta.name,
                        meta.namespace,
                        &meta.labels,
                        &meta.annotations,
                        trusted,
                    );
                }
            }
            None => {
                tracing::debug!("the API server answered no protobuf: listing as JSON");
                let api: Api<K> = match namespace {
                    Some(ns) => self.api(ns),
                    None => Api::all(self.client.clone()),
                };
                // Each page is summarised as it arrives: only the rows are kept, never the
                // metadata (managed fields and all) of every record at once.
                list_paged(
                    &selector,
                    METADATA_PAGE,
                    |lp| {
                        let api = api.clone();
                        async move { api.list_metadata(&lp).await }
                    },
                    |object: PartialObjectMeta<K>| {
                        let meta = object.metadata;
                        let trusted = writers::payload_written_by_only(
                            writers::RECORD_MANAGER,
                            meta.managed_fields.iter().flatten().map(|entry| {
                                let raw = entry.fields_v1.as_ref().map(|f| f.0.to_string());
                                (
                                    entry.manager.as_deref().unwrap_or_default(),
                                    raw.unwrap_or_default(),
                                )
                            }),
                        );
                        summarise(
                            meta.name.unwrap_or_default(),
                            meta.namespace.unwrap_or_default(),
                            &meta.labels.unwrap_or_default(),
                            &meta.annotations.unwrap_or_default(),
                            trusted,
                        );
                    },
                )
                .await
                .map_err(failed)?;
            }
        }
        Ok((filter.apply(rows), unreadable))
    }

    /// Every record's metadata, page by page in protobuf ([`protolist`]); `None` when the
    /// server does not answer in protobuf.
    async fn list_protobuf(
        &self,
        namespace: Option<&str>,
        selector: &str,
    ) -> kube::Result<Option<Vec<protolist::ObjectMeta>>> {
        let mut objects = Vec::new();
        let mut token = String::new();
        loop {
            let mut params = ListParams::default().labels(selector).limit(METADATA_PAGE);
            if !token.is_empty() {
                params = params.continue_token(&token);
            }
            let Some((page, next)) = retry::retrying("list release objects", || {
                protolist::page::<K>(&self.client, namespace, &params)
            })
            .await?
            else {
                return Ok(None);
            };
            objects.extend(page);
            if next.is_empty() {
                return Ok(Some(objects));
            }
            token = next;
        }
    }

    /// Lists with `filter`, turning each selected row into an item with `resolve`; rows whose
    /// record is unreadable are reported (and shown as `unreadable_row` makes them, if at all),
    /// rows deleted meanwhile dropped.
    async fn list_with<'a, T, F, Fut>(
        &'a self,
        filter: &ListFilter,
        resolve: F,
        unreadable_row: fn(ReleaseSummary) -> Option<T>,
    ) -> Result<Listing<T>>
    where
        F: Fn(ReleaseSummary) -> Fut,
        Fut: Future<Output = Result<T>> + 'a,
    {
        let (rows, mut unreadable) = self.select(filter).await?;
        let results: Vec<(ReleaseSummary, Result<T>)> = stream::iter(rows)
            .map(|row| {
                let item = resolve(row.clone());
                async move { (row, item.await) }
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut items = Vec::with_capacity(results.len());
        for (row, result) in results {
            match result {
                Ok(item) => items.push(item),
                Err(error) if error.is_unreadable_record() => {
                    unreadable.push(Unreadable {
                        namespace: row.namespace.clone(),
                        object: object_name(&row.name, row.revision),
                        error,
                    });
                    items.extend(unreadable_row(row));
                }
                Err(error) if error.is_not_found() => {}
                Err(error) => return Err(error),
            }
        }
        if !unreadable.is_empty() {
            tracing::warn!(
                driver = K::DRIVER,
                count = unreadable.len(),
                "skipped unreadable release objects"
            );
        }
        Ok(Listing { items, unreadable })
    }
}

impl<K: ReleaseObject> ReleaseStore for KubeStore<K> {
    fn driver_name(&self) -> &'static str {
        K::DRIVER
    }

    fn create<'a>(&'a self, release: &'a Release) -> BoxFuture<'a, Result<RecordVersion>> {
        Box::pin(self.create_record(release))
    }

    fn update<'a>(
        &'a self,
        release: &'a Release,
        expected: &'a RecordVersion,
    ) -> BoxFuture<'a, Result<RecordVersion>> {
        Box::pin(self.update_record(release, expected))
    }

    fn encode_ahead(&self, release: &Release) {
        self.ahead
            .start(&self.in_store(release), self.codec, self.max_object_payload);
    }

    fn get<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        revision: u32,
    ) -> BoxFuture<'a, Result<StoredRelease>> {
        Box::pin(async move {
            let loaded = self.read(self.ns(namespace), name, revision).await?;
            Ok(loaded.stored)
        })
    }

    fn read_history<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<History>> {
        Box::pin(self.history_records(self.ns(namespace), name))
    }

    fn revisions<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Listing<RevisionMeta>>> {
        Box::pin(self.revision_metas(self.ns(namespace), name))
    }

    fn remove<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        revision: u32,
        expected: Option<&'a RecordVersion>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.remove_record(self.ns(namespace), name, revision, expected))
    }

    fn delete<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        revision: u32,
        expected: Option<&'a RecordVersion>,
    ) -> BoxFuture<'a, Result<Release>> {
        Box::pin(self.delete_record(self.ns(namespace), name, revision, expected))
    }

    fn list<'a>(&'a self, filter: &'a ListFilter) -> BoxFuture<'a, Result<Listing<StoredRelease>>> {
        Box::pin(self.list_with(
            filter,
            move |row| async move {
                self.read(&row.namespace, &row.name, row.revision)
                    .await
                    .map(|l| l.stored)
            },
            |_| None,
        ))
    }

    fn list_summaries<'a>(
        &'a self,
        filter: &'a ListFilter,
    ) -> BoxFuture<'a, Result<Listing<ReleaseSummary>>> {
        // A latest revision whose payload cannot be read keeps its row, from its labels
        // (revision and status; no chart), next to the report naming it: the release is never
        // shown from an older revision instead.
        Box::pin(self.list_with(
            filter,
            move |row| async move {
                if !row.needs_payload() {
                    return Ok(row);
                }
                let release = self
                    .summary_record(&row.namespace, &row.name, row.revision)
                    .await?;
                Ok(ReleaseSummary::from_release(&release, &row.namespace))
            },
            Some,
        ))
    }
}

/// The record version of an object the API server returned.
fn version_of<K: ReleaseObject>(object: &K) -> RecordVersion {
    version_of_meta(object.meta())
}

/// The version of an object with this metadata.
fn version_of_meta(meta: &ObjectMeta) -> RecordVersion {
    RecordVersion::new(meta.resource_version.clone().unwrap_or_default())
}

/// The current `resourceVersion` of `object`, for a conflict's message (`deleted` when gone,
/// `unknown` when it cannot be read).
async fn current_version<K: ReleaseObject>(api: &Api<K>, object: &str) -> String {
    match retry::retrying("read release object", || api.get_metadata_opt(object)).await {
        Ok(Some(meta)) => meta.metadata.resource_version.unwrap_or_default(),
        Ok(None) => "deleted".to_owned(),
        Err(_) => "unknown".to_owned(),
    }
}

/// Whether `e` is an API error whose status satisfies `check`.
fn status_is(e: &kube::Error, check: impl Fn(&kube::core::Status) -> bool) -> bool {
    matches!(e, kube::Error::Api(status) if check(status))
}

/// The metadata of every object of `api` matching `selector` (a metadata-only list: no
/// payload crosses the wire).
async fn list_metadata<K: ReleaseObject>(
    api: &Api<K>,
    selector: &str,
) -> kube::Result<Vec<PartialObjectMeta<K>>> {
    collect_paged(selector, METADATA_PAGE, |lp| {
        let api = api.clone();
        async move { api.list_metadata(&lp).await }
    })
    .await
}

/// Every whole object of `api` matching `selector`.
async fn list_objects<K: ReleaseObject>(api: &Api<K>, selector: &str) -> kube::Result<Vec<K>> {
    collect_paged(selector, OBJECT_PAGE, |lp| {
        let api = api.clone();
        async move { api.list(&lp).await }
    })
    .await
}

/// Every object of a paged list ([`list_paged`]), collected.
async fn collect_paged<T, F, Fut>(selector: &str, page: u32, fetch: F) -> kube::Result<Vec<T>>
where
    T: Clone,
    F: FnMut(ListParams) -> Fut,
    Fut: Future<Output = kube::Result<ObjectList<T>>>,
{
    let mut items = Vec::new();
    list_paged(selector, page, fetch, |item| items.push(item)).await?;
    Ok(items)
}

/// Hands every object a paged list returns to `each`, page by page, following continue tokens
/// (a page is dropped before the next is fetched).
async fn list_paged<T, F, Fut>(
    selector: &str,
    page: u32,
    mut fetch: F,
    mut each: impl FnMut(T),
) -> kube::Result<()>
where
    T: Clone,
    F: FnMut(ListParams) -> Fut,
    Fut: Future<Output = kube::Result<ObjectList<T>>>,
{
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().labels(selector).limit(page);
        if let Some(token) = &token {
            params = params.continue_token(token);
        }
        let list = retry::retrying("list release objects", || fetch(params.clone())).await?;
        list.items.into_iter().for_each(&mut each);
        match list.metadata.continue_ {
            Some(next) if !next.is_empty() => token = Some(next),
            _ => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
    use std::sync::Mutex;

    #[test]
    fn paged_lists_follow_continue_tokens() {
        let pages = [
            (vec!["a", "b"], Some("t1")),
            (vec!["c"], Some("t2")),
            (vec![], Some("")),
        ];
        let seen = Mutex::new(Vec::new());
        let mut items = Vec::new();
        futures::executor::block_on(list_paged(
            "owner=helm",
            2,
            |lp| {
                let mut seen = seen.lock().unwrap();
                let (items, next) = pages[seen.len()].clone();
                seen.push((
                    lp.continue_token.clone(),
                    lp.limit,
                    lp.label_selector.clone(),
                ));
                std::future::ready(Ok(ObjectList {
                    types: Default::default(),
                    metadata: ListMeta {
                        continue_: next.map(str::to_owned),
                        ..ListMeta::default()
                    },
                    items: items
                        .into_iter()
                        .map(str::to_owned)
                        .collect::<Vec<String>>(),
                }))
            },
            |item| items.push(item),
        ))
        .unwrap();
        assert_eq!(items, ["a", "b", "c"]);
        let seen = seen.into_inner().unwrap();
        let tokens: Vec<_> = seen.iter().map(|(t, _, _)| t.as_deref()).collect();
        assert_eq!(tokens, [None, Some("t1"), Some("t2")]);
        assert!(
            seen.iter()
                .all(|(_, l, s)| *l == Some(2) && s.as_deref() == Some("owner=helm"))
        );
    }
}

//! Creating a chart's `crds/` objects as Helm does: each created as written when absent (a
//! plain create: no last-applied annotation, so a CRD of any size the API server accepts
//! goes in), an existing one left untouched, then the created ones awaited until ready (a
//! CustomResourceDefinition: `Established`) so the custom resources that follow resolve.

use futures::{FutureExt as _, StreamExt as _, TryStreamExt as _, stream};
use std::collections::{HashMap, HashSet};

use kube::api::{DynamicObject, ListParams, PostParams};
use kube::{Api, Client};

use crate::apply::FIELD_MANAGER;
use crate::error::{Error, Result};
use crate::mapping::RestMapper;
use crate::resource::{ObjectKey, Resource};
use crate::wait::{ReadinessChange, WaitOptions, Waiter};

/// Objects checked (and dry-run) at once.
const CONCURRENCY: usize = 8;

/// What happened to one object of a `crds/` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrdOutcome {
    /// The object.
    pub key: ObjectKey,
    /// Whether it was created (`false`: it existed and was left as it is).
    pub created: bool,
}

/// Creates the objects that do not exist, in order, then waits for those created; `progress`
/// hears their readiness changes. Every missing object is first sent with the server's dry
/// run, so an invalid one fails the call before anything is created.
pub async fn create_missing(
    mapper: &RestMapper,
    waiter: &Waiter,
    objects: &[Resource],
    options: &WaitOptions,
    progress: &(dyn Fn(&ReadinessChange) + Send + Sync),
) -> Result<Vec<CrdOutcome>> {
    // Which exist and the dry runs of the missing ones, a few at a time, in order.
    let checks: Vec<_> = objects.iter().map(|o| check(mapper, o).boxed()).collect();
    let prepared: Vec<Checked> = stream::iter(checks)
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let mut outcomes = Vec::with_capacity(objects.len());
    let mut created = Vec::new();
    for ((key, api, dynamic, exists), object) in prepared.into_iter().zip(objects) {
        let was_created = !exists && create(&api, &key, &dynamic, false).await?;
        tracing::debug!(object = %key, created = was_created, "crd");
        if was_created {
            created.push(object.clone());
        }
        outcomes.push(CrdOutcome {
            key,
            created: was_created,
        });
    }
    if !created.is_empty() {
        waiter.wait(&created, "default", options, progress).await?;
    }
    Ok(outcomes)
}

/// Which of `objects` exist, in order, from metadata only: the objects of one resource and
/// namespace found by one metadata-only list when there are several (a chart's CRDs: one
/// request instead of one per CRD, each of which would open a connection of its own), an
/// object alone of its kind by a read of its own. All an object needs here is its
/// `apiVersion`, `kind` and `metadata`.
pub async fn existing(mapper: &RestMapper, objects: &[Resource]) -> Result<Vec<bool>> {
    let mut prepared = Vec::with_capacity(objects.len());
    for object in objects {
        let (key, api, _) = prepare(mapper, object).await?;
        prepared.push((key, api));
    }
    let mut per_url: HashMap<String, usize> = HashMap::new();
    for (_, api) in &prepared {
        *per_url.entry(api.resource_url().to_owned()).or_default() += 1;
    }
    let mut listed: HashMap<String, HashSet<String>> = HashMap::new();
    let mut out = Vec::with_capacity(prepared.len());
    for (key, api) in &prepared {
        let url = api.resource_url();
        if per_url.get(url).copied().unwrap_or_default() < 2 {
            out.push(exists(api, key).await?);
            continue;
        }
        if !listed.contains_key(url) {
            match api.list_metadata(&ListParams::default()).await {
                Ok(list) => {
                    let names = list.items.into_iter().filter_map(|o| o.metadata.name);
                    listed.insert(url.to_owned(), names.collect());
                }
                // An identity that may read these objects but not list them: one read each.
                Err(kube::Error::Api(status)) if status.code == 403 => {
                    per_url.insert(url.to_owned(), 1);
                    out.push(exists(api, key).await?);
                    continue;
                }
                Err(source) => {
                    return Err(Error::Api {
                        operation: "list",
                        object: key.describe(),
                        source,
                    });
                }
            }
        }
        let names = listed.get(url);
        out.push(names.is_some_and(|names| names.contains(&key.name)));
    }
    Ok(out)
}

/// Whether the object exists, from its metadata (a CRD can be megabytes).
async fn exists(api: &Api<DynamicObject>, key: &ObjectKey) -> Result<bool> {
    Ok(api
        .get_metadata_opt(&key.name)
        .await
        .map_err(|source| Error::Api {
            operation: "get",
            object: key.describe(),
            source,
        })?
        .is_some())
}

/// An object of `crds/`: its key, API, typed form and whether it exists.
type Checked = (ObjectKey, Api<DynamicObject>, DynamicObject, bool);

/// Whether the object exists (its metadata only: a CRD can be megabytes), and when it does
/// not, the server's dry run of its creation.
async fn check(mapper: &RestMapper, object: &Resource) -> Result<Checked> {
    let (key, api, dynamic) = prepare(mapper, object).await?;
    let exists = exists(&api, &key).await?;
    if !exists {
        create(&api, &key, &dynamic, true).await?;
    }
    Ok((key, api, dynamic, exists))
}

/// The object's key, API and typed form.
async fn prepare(
    mapper: &RestMapper,
    object: &Resource,
) -> Result<(ObjectKey, Api<DynamicObject>, DynamicObject)> {
    let client: Client = mapper.client().clone();
    let mapping = mapper.resolve(&object.api_version, &object.kind).await?;
    let mut key = object.key("default");
    let api: Api<DynamicObject> = if mapping.namespaced {
        let namespace = key.namespace.clone().unwrap_or_else(|| "default".into());
        Api::namespaced_with(client, &namespace, &mapping.resource)
    } else {
        key.namespace = None;
        Api::all_with(client, &mapping.resource)
    };
    let dynamic: DynamicObject =
        serde_json::from_value(object.object.clone()).map_err(|e| Error::InvalidObject {
            object: key.describe(),
            reason: e.to_string(),
        })?;
    Ok((key, api, dynamic))
}

/// Creates one object (with the server's dry run when `dry_run`); `false` when it exists.
async fn create(
    api: &Api<DynamicObject>,
    key: &ObjectKey,
    object: &DynamicObject,
    dry_run: bool,
) -> Result<bool> {
    let params = PostParams {
        dry_run,
        field_manager: Some(FIELD_MANAGER.into()),
    };
    match api.create(&params, object).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(source) => Err(Error::Api {
            operation: "create",
            object: key.describe(),
            source,
        }),
    }
}

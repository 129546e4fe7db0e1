//! Helm's check before a revision is written: every object new to the release that already
//! exists must belong to it (its ownership metadata names the release), unless the release takes
//! it over (`--take-ownership`).
//!
//! The objects of one kind and namespace are looked for with one metadata-only list (the check
//! reads labels and annotations alone; no selector, so a complete list shows every object that
//! exists), all lists at once; an object alone in its group, or in a group whose list is refused
//! or longer than a page, is read by itself.

use std::collections::{HashMap, HashSet};

use futures::StreamExt as _;
use kube::api::{ListParams, PartialObjectMeta};
use kube::core::DynamicObject;
use serde_json::Value;

use crate::apply::{Applier, ApplyOptions, Target, to_value};
use crate::error::{Error, Result};
use crate::ownership;
use crate::resource::{ObjectKey, Resource};
use crate::retry;

/// Objects per metadata list: a group larger than a page is read object by object.
const LIST_PAGE: u32 = 500;

/// What a group's list says of its objects: their metadata by name (absent: does not exist),
/// or nothing when the list could not be used.
type Listed = Option<HashMap<String, Value>>;

impl Applier {
    /// Checks the objects of `desired` that `previous` does not have: each one that exists must
    /// belong to the release, unless `take_ownership`. The first that does not (in `desired`'s
    /// order) is [`Error::Ownership`], before anything is written (Helm's "exists and cannot be
    /// imported"). Kinds the cluster does not serve are left for the apply to report.
    pub async fn check_adoption(
        &self,
        previous: &[Resource],
        desired: &[Resource],
        options: &ApplyOptions,
    ) -> Result<()> {
        if options.take_ownership {
            return Ok(());
        }
        let ns = options.release_namespace.as_str();
        let known: HashSet<ObjectKey> = previous.iter().map(|p| p.key(ns)).collect();
        // Kinds resolved all at once (a discovery request per API group not yet known).
        let new: Vec<&Resource> = desired
            .iter()
            .filter(|r| !known.contains(&r.key(ns)))
            .collect();
        let resolved =
            futures::future::join_all(new.iter().map(|resource| self.target(resource, ns))).await;
        let mut targets: Vec<(&Resource, Target)> = Vec::new();
        for (resource, target) in new.into_iter().zip(resolved) {
            match target {
                Ok(target) => targets.push((resource, target)),
                Err(Error::UnknownKind { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.check_targets(&targets, options).await
    }

    /// [`check_adoption`](Self::check_adoption) of the objects of `desired` whose kinds the
    /// mapper already knows (so the server serves them), asking the server for no kind: what
    /// can be checked while a release's CRDs are still being created. Returns the positions in
    /// `desired` of the objects left unchecked, whose kinds were unknown; check them with
    /// [`check_adoption`](Self::check_adoption) once the CRDs are served.
    pub async fn check_adoption_served(
        &self,
        desired: &[Resource],
        options: &ApplyOptions,
    ) -> Result<Vec<usize>> {
        if options.take_ownership {
            return Ok(Vec::new());
        }
        let ns = options.release_namespace.as_str();
        let mut targets: Vec<(&Resource, Target)> = Vec::new();
        let mut unknown = Vec::new();
        for (i, resource) in desired.iter().enumerate() {
            match self.target_cached(resource, ns) {
                Some(target) => targets.push((resource, target)),
                None => unknown.push(i),
            }
        }
        self.check_targets(&targets, options).await?;
        Ok(unknown)
    }

    async fn check_targets(
        &self,
        targets: &[(&Resource, Target)],
        options: &ApplyOptions,
    ) -> Result<()> {
        // One list per kind and namespace holding two or more of the objects.
        let mut groups: HashMap<(String, String, Option<String>), Vec<usize>> = HashMap::new();
        for (i, (resource, target)) in targets.iter().enumerate() {
            groups
                .entry((
                    resource.api_version.clone(),
                    resource.kind.clone(),
                    target.key.namespace.clone(),
                ))
                .or_default()
                .push(i);
        }
        let lists: Vec<_> = groups
            .values()
            .filter(|members| members.len() > 1)
            .map(|members| {
                let api = &targets[members[0]].1.api;
                async move { (members.clone(), list_metadata(api).await) }
            })
            .collect();
        let listed: Vec<(Vec<usize>, Listed)> = futures::stream::iter(lists)
            .buffer_unordered(options.concurrency.max(1))
            .collect()
            .await;
        let mut found: HashMap<usize, Option<Value>> = HashMap::new();
        for (members, list) in listed {
            let Some(list) = list else { continue };
            for i in members {
                found.insert(i, list.get(&targets[i].0.name).cloned());
            }
        }
        let checks: Vec<_> = targets
            .iter()
            .enumerate()
            .map(|(i, (resource, target))| {
                let listed = found.remove(&i);
                async move {
                    let live = match listed {
                        Some(live) => live,
                        None => read(target, resource).await?,
                    };
                    check(target, live.as_ref(), options)
                }
            })
            .collect();
        let mut checks = futures::stream::iter(checks).buffered(options.concurrency.max(1));
        while let Some(result) = checks.next().await {
            result?;
        }
        Ok(())
    }
}

/// Every object of `api`'s kind and namespace, metadata only, by name; `None` when the list is
/// refused, fails or does not fit in one page.
async fn list_metadata(api: &kube::Api<DynamicObject>) -> Listed {
    let params = ListParams::default().limit(LIST_PAGE);
    let list = retry::retrying("list metadata", || api.list_metadata(&params))
        .await
        .ok()?;
    if list
        .metadata
        .continue_
        .as_deref()
        .is_some_and(|c| !c.is_empty())
    {
        return None;
    }
    Some(
        list.items
            .into_iter()
            .filter_map(|o: PartialObjectMeta<DynamicObject>| {
                let name = o.metadata.name.clone()?;
                Some((name, serde_json::to_value(&o).unwrap_or(Value::Null)))
            })
            .collect(),
    )
}

/// One object as it exists, if it does.
async fn read(target: &Target, resource: &Resource) -> Result<Option<Value>> {
    let live = retry::retrying("get", || target.api.get_opt(&resource.name))
        .await
        .map_err(|source| Error::Api {
            operation: "get",
            object: target.key.describe(),
            source,
        })?;
    Ok(live.as_ref().map(to_value))
}

/// Whether an existing object (its metadata is enough) belongs to the release.
fn check(target: &Target, live: Option<&Value>, options: &ApplyOptions) -> Result<()> {
    let Some(live) = live else {
        return Ok(());
    };
    ownership::check_ownership(live, &options.release, &options.release_namespace).map_err(
        |problems| Error::Ownership {
            object: target.key.to_string(),
            namespace: target
                .key
                .namespace
                .clone()
                .unwrap_or_else(|| options.release_namespace.clone()),
            release: options.release.clone(),
            problems,
        },
    )
}

//! Helm's check before a revision is written: every object new to the release that already
//! exists must belong to it (its ownership metadata names the release), unless the release takes
//! it over (`--take-ownership`).

use std::collections::HashSet;

use futures::StreamExt as _;

use crate::apply::{Applier, ApplyOptions, to_value};
use crate::error::{Error, Result};
use crate::ownership;
use crate::resource::{ObjectKey, Resource};
use crate::retry;

impl Applier {
    /// Checks the objects of `desired` that `previous` does not have: each one that exists must
    /// belong to the release, unless `take_ownership`. The first that does not is
    /// [`Error::Ownership`], before anything is written (Helm's "exists and cannot be
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
        let pending: Vec<_> = desired
            .iter()
            .filter(|r| !known.contains(&r.key(ns)))
            .map(|resource| self.check_one(resource, options))
            .collect();
        let mut checks = futures::stream::iter(pending).buffered(options.concurrency.max(1));
        while let Some(result) = checks.next().await {
            result?;
        }
        Ok(())
    }

    async fn check_one(&self, resource: &Resource, options: &ApplyOptions) -> Result<()> {
        let target = match self.target(resource, &options.release_namespace).await {
            Ok(target) => target,
            Err(Error::UnknownKind { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let live = retry::retrying("get", || target.api.get_opt(&resource.name))
            .await
            .map_err(|source| Error::Api {
                operation: "get",
                object: target.key.describe(),
                source,
            })?;
        let Some(live) = live else {
            return Ok(());
        };
        ownership::check_ownership(
            &to_value(&live),
            &options.release,
            &options.release_namespace,
        )
        .map_err(|problems| Error::Ownership {
            object: target.key.to_string(),
            namespace: target
                .key
                .namespace
                .clone()
                .unwrap_or_else(|| options.release_namespace.clone()),
            release: options.release.clone(),
            problems,
        })
    }
}

//! The tenant release quota: releases not uninstalled plus those being installed now, counted
//! across the tenant's namespaces before an install starts.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use capstan_auth::Caller;
use capstan_release::{ListFilter, Status as State};
use tonic::Status;

use crate::ApplierService;
use crate::admission::status;

impl ApplierService {
    /// Refuses a new release `name` in `namespace` when `caller`'s tenant has used up its
    /// release quota (releases not uninstalled, across its namespaces, plus those being
    /// installed now). A new release is held against the quota until its operation ends: keep
    /// the returned hold in the operation, so that concurrent installs of one tenant cannot all
    /// pass the same count.
    pub(crate) async fn check_quota(
        &self,
        caller: &Caller,
        name: &str,
        namespace: &str,
    ) -> Result<Option<QuotaHold>, Status> {
        let Some(tenant) = caller.tenant().filter(|t| t.max_releases.is_some()) else {
            return Ok(None);
        };
        let quota = self.inner.quotas.of(&tenant.name);
        // One check at a time per tenant, from the listing to the hold.
        let _checking = quota.checking.lock().await;
        let (releases, _) = self
            .listing(caller, None, &|ns| match ns {
                Some(ns) => ListFilter::in_namespace(ns),
                None => ListFilter::all_namespaces(),
            })
            .await?;
        let key = (namespace.to_owned(), name.to_owned());
        let mut live: BTreeSet<(String, String)> = releases
            .into_iter()
            .filter(|r| {
                r.status != State::Uninstalled || (&r.namespace, &r.name) == (&key.0, &key.1)
            })
            .map(|r| (r.namespace, r.name))
            .collect();
        let installing = quota
            .installing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if live.contains(&key) || installing.contains(&key) {
            return Ok(None);
        }
        live.extend(installing);
        caller.check_quota(live.len()).map_err(|e| status(&e))?;
        Ok(Some(QuotaHold::new(quota.clone(), key)))
    }
}

/// The releases each tenant is installing now, counted against its quota until they end.
#[derive(Default)]
pub(crate) struct Quotas {
    tenants: std::sync::Mutex<HashMap<String, Arc<TenantQuota>>>,
}

#[derive(Default)]
struct TenantQuota {
    /// Held while one install of the tenant checks its quota.
    checking: tokio::sync::Mutex<()>,
    /// (namespace, name) of the releases being installed.
    installing: std::sync::Mutex<BTreeSet<(String, String)>>,
}

impl Quotas {
    fn of(&self, tenant: &str) -> Arc<TenantQuota> {
        self.tenants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(tenant.to_owned())
            .or_default()
            .clone()
    }
}

/// A release counted against its tenant's quota while it is being installed.
pub(crate) struct QuotaHold {
    quota: Arc<TenantQuota>,
    key: (String, String),
}

impl QuotaHold {
    fn new(quota: Arc<TenantQuota>, key: (String, String)) -> QuotaHold {
        quota
            .installing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone());
        QuotaHold { quota, key }
    }
}

impl Drop for QuotaHold {
    fn drop(&mut self) {
        self.quota
            .installing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
    }
}

//! The gRPC service: each RPC authorizes its caller, turns its request into a `capstan-ops`
//! operation or read, and answers with the result or the operation's event stream.

use capstan_auth::{Caller, Operation};
use capstan_ops::{
    Control, DEFAULT_TIMEOUT, Install, Prepare, Preparing, Rollback, Uninstall, Upgrade, read,
};
use capstan_proto::applier::v1 as pb;
use capstan_proto::applier::v1::applier_server::Applier;
use capstan_release::{DEFAULT_MAX_HISTORY, ListFilter, ReleaseSummary};
use futures::{StreamExt as _, TryStreamExt as _};
use tonic::{Request, Response, Status};

use crate::admission::{authorize, effective};
use crate::deploy::set_shared_flags;
use crate::streaming::{EventStream, failed, finished};
use crate::{ApplierService, Target, convert};

/// The most lookups one request may ask for.
const MAX_LOOKUPS: usize = 256;

/// How many lookups of one request are read at once.
const LOOKUPS_AT_ONCE: usize = 8;

impl ApplierService {
    pub(crate) async fn target(&self, caller: &Caller, namespace: &str) -> Result<Target, Status> {
        self.inner.backend.open_as(caller, namespace).await
    }

    /// The latest revision of each release `caller` may see: in `namespace`, or (`None`) in
    /// every namespace it may use, each `filter` admits; with the records that could not be read.
    pub(crate) async fn listing(
        &self,
        caller: &Caller,
        namespace: Option<&str>,
        filter: &(dyn Fn(Option<&str>) -> ListFilter + Sync),
    ) -> Result<(Vec<ReleaseSummary>, Vec<String>), Status> {
        let namespaces = match namespace {
            Some(namespace) => vec![Some(namespace.to_owned())],
            None => match self.inner.backend.list_namespaces(caller).await? {
                Some(namespaces) => namespaces.into_iter().map(Some).collect(),
                None => vec![None],
            },
        };
        let (mut items, mut unreadable) = (Vec::new(), Vec::new());
        for namespace in &namespaces {
            let target = self
                .target(caller, namespace.as_deref().unwrap_or(""))
                .await?;
            let listing = read::list(&*target.store, &filter(namespace.as_deref()))
                .await
                .map_err(|e| convert::status(&e))?;
            items.extend(listing.items);
            unreadable.extend(listing.unreadable);
        }
        // Whatever the store returned, a tenant sees its own namespaces only.
        items.retain(|s| caller.may_use_namespace(&s.namespace));
        unreadable.retain(|u| caller.may_use_namespace(&u.namespace));
        if namespaces.len() > 1 {
            items.sort_by(|a, b| (&a.name, &a.namespace).cmp(&(&b.name, &b.namespace)));
        }
        Ok((items, unreadable.iter().map(ToString::to_string).collect()))
    }
}

fn history_max(value: Option<u32>) -> usize {
    value.map_or(DEFAULT_MAX_HISTORY, |v| v as usize)
}

#[tonic::async_trait]
impl Applier for ApplierService {
    type InstallStream = EventStream;
    type UpgradeStream = EventStream;
    type RollbackStream = EventStream;
    type UninstallStream = EventStream;
    type TestStream = EventStream;

    async fn install(
        &self,
        request: Request<pb::InstallRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let caller = capstan_server::caller(&request);
        let (metadata, _, mut r) = request.into_parts();
        let namespace = effective(&r.namespace);
        authorize(&caller, Operation::Install, namespace)?;
        let rendered = self
            .accept_render(&caller, namespace, r.render.take(), r.rendered.take())
            .await?;
        let hold = self.check_quota(&caller, &r.name, namespace).await?;
        let mut op = Install::new(&r.name, &r.namespace);
        op.replace = r.replace;
        set_shared_flags!(op, r);
        self.deploy(&caller, &metadata, op, rendered, hold).await
    }

    async fn upgrade(
        &self,
        request: Request<pb::UpgradeRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let caller = capstan_server::caller(&request);
        let (metadata, _, mut r) = request.into_parts();
        let namespace = effective(&r.namespace);
        authorize(&caller, Operation::Upgrade, namespace)?;
        let mut hold = None;
        if r.install && caller.tenant().is_some() {
            // Whether this upgrade installs, so counts against the quota: as prepared.
            let target = self.target(&caller, namespace).await?;
            let plan = Prepare::new(&r.name, namespace, Preparing::Upgrade)
                .run(&*target.store)
                .await
                .map_err(|e| convert::status(&e))?;
            if plan.installs {
                authorize(&caller, Operation::Install, namespace)?;
                hold = self.check_quota(&caller, &r.name, namespace).await?;
            }
        }
        let rendered = self
            .accept_render(&caller, namespace, r.render.take(), r.rendered.take())
            .await?;
        let mut op = Upgrade::new(&r.name, &r.namespace);
        op.install = r.install;
        op.history_max = history_max(r.history_max);
        op.cleanup_on_fail = r.cleanup_on_fail;
        set_shared_flags!(op, r);
        self.deploy(&caller, &metadata, op, rendered, hold).await
    }

    async fn rollback(
        &self,
        request: Request<pb::RollbackRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let caller = capstan_server::caller(&request);
        let (metadata, _, r) = request.into_parts();
        let namespace = effective(&r.namespace);
        authorize(&caller, Operation::Rollback, namespace)?;
        if caller.tenant().is_some() {
            // The revision rolled back to is applied again: preflight its objects. (When it
            // cannot be found the operation reports that itself.)
            let target = self.target(&caller, namespace).await?;
            let wanted = Some(r.revision).filter(|v| *v > 0);
            let plan = Prepare::new(&r.name, namespace, Preparing::Rollback(wanted))
                .run(&*target.store)
                .await
                .map_err(|e| convert::status(&e))?;
            if let Some(release) = plan.rollback_to {
                self.preflight(&caller, namespace, &release.manifest, &release.hooks)
                    .await?;
            }
        }
        let mut op = Rollback::new(&r.name, &r.namespace);
        op.revision = Some(r.revision).filter(|v| *v > 0);
        op.wait = r.wait;
        op.wait_for_jobs = r.wait_for_jobs;
        op.timeout = convert::timeout(r.timeout_millis, DEFAULT_TIMEOUT);
        op.cleanup_on_fail = r.cleanup_on_fail;
        op.history_max = history_max(r.history_max);
        op.no_hooks = r.no_hooks;
        op.dry_run = r.dry_run;
        op.apply.force = r.force;
        op.apply.force_conflicts = r.force_conflicts;
        op.server_side = convert::server_side(r.server_side_setting())?;
        let lock_wait = convert::lock_wait(r.lock_wait_millis);
        let recover = convert::recover(r.recover);
        self.start(
            &caller,
            &metadata,
            "rollback",
            &r.name,
            &r.namespace,
            move |target, control, progress| async move {
                op.control = Control {
                    lock_wait,
                    recover,
                    ..control
                };
                finished(op.run(&*target.store, &*target.cluster, &*progress).await)
            },
        )
        .await
    }

    async fn test(
        &self,
        request: Request<pb::TestRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let caller = capstan_server::caller(&request);
        let (metadata, _, r) = request.into_parts();
        let namespace = effective(&r.namespace);
        // A test run creates the test hooks' objects and updates the revision: an upgrade's
        // rights.
        authorize(&caller, Operation::Upgrade, namespace)?;
        let mut op = capstan_ops::ReleaseTest::new(&r.name, &r.namespace)
            .filters(&r.filters)
            .map_err(|e| convert::status(&e))?;
        op.timeout = convert::timeout(r.timeout_millis, DEFAULT_TIMEOUT);
        op.logs = r.logs;
        self.start(
            &caller,
            &metadata,
            "test",
            &r.name,
            &r.namespace,
            move |target, control, progress| async move {
                op.control = control;
                match op.run(&*target.store, &*target.cluster, &*progress).await {
                    Ok(outcome) => convert::test_result(outcome),
                    Err(e) => failed(&e),
                }
            },
        )
        .await
    }

    async fn uninstall(
        &self,
        request: Request<pb::UninstallRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let caller = capstan_server::caller(&request);
        let (metadata, _, r) = request.into_parts();
        authorize(&caller, Operation::Uninstall, effective(&r.namespace))?;
        let mut op = Uninstall::new(&r.name, &r.namespace);
        op.keep_history = r.keep_history;
        op.wait = r.wait;
        op.timeout = convert::timeout(r.timeout_millis, DEFAULT_TIMEOUT);
        op.dry_run = r.dry_run;
        op.no_hooks = r.no_hooks;
        op.description = Some(r.description.clone()).filter(|d| !d.is_empty());
        op.cascade = convert::cascade(r.cascade_setting())?;
        let lock_wait = convert::lock_wait(r.lock_wait_millis);
        let recover = convert::recover(r.recover);
        self.start(
            &caller,
            &metadata,
            "uninstall",
            &r.name,
            &r.namespace,
            move |target, control, progress| async move {
                op.control = Control {
                    lock_wait,
                    recover,
                    ..control
                };
                match op.run(&*target.store, &*target.cluster, &*progress).await {
                    Ok(done) => pb::OperationResult {
                        success: true,
                        release: Some(convert::release_info(&done.release)),
                        info: done.info,
                        ..pb::OperationResult::default()
                    },
                    Err(e) => failed(&e),
                }
            },
        )
        .await
    }

    async fn list(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListResponse>, Status> {
        let caller = capstan_server::caller(&request);
        let r = request.into_inner();
        let namespace = (!r.all_namespaces).then_some(r.namespace.as_str());
        authorize(&caller, Operation::List, namespace.map_or("", effective))?;
        let states = convert::states(r.status_filter())?;
        let base = if r.filter.is_empty() {
            ListFilter::all_namespaces()
        } else {
            ListFilter::all_namespaces()
                .with_name_filter(&r.filter)
                .map_err(|e| Status::invalid_argument(capstan_ops::error_chain(&e)))?
        };
        let filter = |namespace: Option<&str>| {
            let mut filter = base.clone().with_states(states);
            filter.namespace = namespace.map(str::to_owned);
            filter
        };
        let (items, unreadable) = self.listing(&caller, namespace, &filter).await?;
        Ok(Response::new(pb::ListResponse {
            releases: items.iter().map(convert::summary).collect(),
            unreadable,
        }))
    }

    async fn history(
        &self,
        request: Request<pb::HistoryRequest>,
    ) -> Result<Response<pb::HistoryResponse>, Status> {
        let caller = capstan_server::caller(&request);
        let r = request.into_inner();
        authorize(&caller, Operation::History, effective(&r.namespace))?;
        let target = self.target(&caller, &r.namespace).await?;
        let revisions = read::history(&*target.store, &r.namespace, &r.name, r.max as usize)
            .await
            .map_err(|e| convert::status(&e))?;
        Ok(Response::new(pb::HistoryResponse {
            revisions: revisions.value.iter().map(convert::release_info).collect(),
            unreadable: revisions.skipped,
        }))
    }

    async fn status(
        &self,
        request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        let caller = capstan_server::caller(&request);
        let r = request.into_inner();
        authorize(&caller, Operation::Status, effective(&r.namespace))?;
        let target = self.target(&caller, &r.namespace).await?;
        let revision = Some(r.revision).filter(|v| *v > 0);
        let report = read::status(
            &*target.store,
            &*target.cluster,
            &r.namespace,
            &r.name,
            revision,
        )
        .await
        .map_err(|e| convert::status(&e))?;
        Ok(Response::new(pb::StatusResponse {
            release: Some(convert::release_info(&report.release)),
            notes: report.release.info.notes.clone(),
            objects: report
                .objects
                .iter()
                .map(|o| pb::ObjectStatus {
                    object: Some(convert::object(&o.object)),
                    exists: o.exists,
                    ready: o.ready,
                    reason: o.reason.clone(),
                })
                .collect(),
            unreadable: report.skipped,
        }))
    }

    async fn get(
        &self,
        request: Request<pb::GetRequest>,
    ) -> Result<Response<pb::GetResponse>, Status> {
        let caller = capstan_server::caller(&request);
        let r = request.into_inner();
        authorize(&caller, Operation::Get, effective(&r.namespace))?;
        let target = self.target(&caller, &r.namespace).await?;
        let revision = Some(r.revision).filter(|v| *v > 0);
        let read::Reading {
            value: release,
            skipped,
        } = read::get(&*target.store, &r.namespace, &r.name, revision)
            .await
            .map_err(|e| convert::status(&e))?;
        let json = |v: &dyn erased::Json| v.json();
        let chart_values = release
            .chart
            .as_ref()
            .and_then(|c| c.values.clone())
            .unwrap_or_default();
        Ok(Response::new(pb::GetResponse {
            release: Some(convert::release_info(&release)),
            values_json: json(&read::values(&release, r.all_values)),
            manifest: release.manifest.clone(),
            notes: release.info.notes.clone(),
            hooks: read::hooks_text(&release),
            metadata_json: json(&read::metadata(&release)),
            chart_values_json: json(&chart_values),
            unreadable: skipped,
            release_json: json(&release),
        }))
    }

    async fn prepare(
        &self,
        request: Request<pb::PrepareRequest>,
    ) -> Result<Response<pb::PrepareResponse>, Status> {
        let caller = capstan_server::caller(&request);
        let r = request.into_inner();
        // A read: it changes nothing, and answers what `get` would.
        authorize(&caller, Operation::Get, effective(&r.namespace))?;
        Ok(Response::new(self.plan(&caller, r).await?))
    }

    async fn lookup(
        &self,
        request: Request<pb::LookupRequest>,
    ) -> Result<Response<pb::LookupResponse>, Status> {
        let caller = capstan_server::caller(&request);
        let r = request.into_inner();
        authorize(&caller, Operation::Render, effective(&r.namespace))?;
        if r.keys.len() > MAX_LOOKUPS {
            return Err(Status::resource_exhausted(format!(
                "{} lookups in one request exceed the limit of {MAX_LOOKUPS}",
                r.keys.len()
            )));
        }
        for key in &r.keys {
            if !key.namespace.is_empty() {
                authorize(&caller, Operation::Render, &key.namespace)?;
            }
        }
        // The caller's own view: a tenant's target impersonates its identity, so the API
        // server's RBAC decides what its lookups may read.
        let target = self.target(&caller, &r.namespace).await?;
        // Read a few at a time, answered in the order asked; the first failure is the answer.
        let reads = r.keys.into_iter().map(|key| {
            let cluster = &target.cluster;
            async move {
                let found = cluster
                    .lookup(capstan_ops::LookupRequest {
                        api_version: &key.api_version,
                        kind: &key.kind,
                        namespace: &key.namespace,
                        name: &key.name,
                    })
                    .await
                    .map_err(|e| convert::lookup_status(&e))?;
                Ok::<_, Status>(capstan_proto::renderer::v1::LookupAnswer {
                    object_json: found.map(|o| o.to_string()),
                    key: Some(key),
                })
            }
        });
        let answers = futures::stream::iter(reads)
            .buffered(LOOKUPS_AT_ONCE)
            .try_collect()
            .await?;
        Ok(Response::new(pb::LookupResponse { answers }))
    }
}

mod erased {
    /// Serialises to JSON text (an empty object on failure, which cannot happen for these types).
    pub trait Json {
        fn json(&self) -> String;
    }

    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
        }
    }
}

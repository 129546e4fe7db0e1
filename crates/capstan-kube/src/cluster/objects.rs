//! The release's objects through the [`Applier`](crate::Applier) and the
//! [`Waiter`](crate::Waiter): apply, delete, wait, status, CRDs and the release namespace.

use capstan_ops::{
    ApplyRequest, ClusterError, CrdRequest, DeleteRequest, ObjectAction, ObjectReport,
    ObjectResult, ObjectStatus, Progress, WaitRequest,
};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::PostParams;

use super::KubeCluster;
use super::convert::{
    apply_options, cascade, cluster_error, kube_error, object_ref, object_report, object_status,
    readiness_event, to_kube,
};
use crate::apply;
use crate::retry::retrying;
use crate::wait::{ReadinessChange, WaitOptions};

impl KubeCluster {
    pub(super) async fn create_namespace_impl(
        &self,
        namespace: &str,
        dry_run: bool,
    ) -> Result<bool, ClusterError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let existing = retrying("get namespace", || api.get_opt(namespace))
            .await
            .map_err(|e| kube_error(format!("get namespace {namespace}"), e))?;
        if existing.is_some() {
            return Ok(false);
        }
        let object = Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.to_owned()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        let params = PostParams {
            dry_run,
            field_manager: Some(apply::FIELD_MANAGER.into()),
        };
        match retrying("create namespace", || api.create(&params, &object)).await {
            Ok(_) => Ok(!dry_run),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(kube_error(format!("create namespace {namespace}"), e)),
        }
    }

    pub(super) async fn apply_impl(
        &self,
        request: ApplyRequest<'_>,
    ) -> Result<ObjectReport, ClusterError> {
        let previous = to_kube(request.previous);
        let target = to_kube(request.target);
        let options = apply_options(
            self.options(request.release, request.namespace),
            request.options,
        );
        let among = [request.target, request.previous];
        let result = self.applier.apply(&previous, &target, &options).await;
        object_report(result, &among)
    }

    pub(super) async fn check_adoption_impl(
        &self,
        request: ApplyRequest<'_>,
    ) -> Result<(), ClusterError> {
        let previous = to_kube(request.previous);
        let target = to_kube(request.target);
        let options = apply_options(
            self.options(request.release, request.namespace),
            request.options,
        );
        self.applier
            .check_adoption(&previous, &target, &options)
            .await
            .map_err(|e| ClusterError::other(capstan_ops::error_chain(&e)))
    }

    pub(super) async fn check_adoption_served_impl(
        &self,
        request: ApplyRequest<'_>,
    ) -> Result<Vec<usize>, ClusterError> {
        let target = to_kube(request.target);
        let options = apply_options(
            self.options(request.release, request.namespace),
            request.options,
        );
        self.applier
            .check_adoption_served(&target, &options)
            .await
            .map_err(|e| ClusterError::other(capstan_ops::error_chain(&e)))
    }

    pub(super) async fn delete_impl(
        &self,
        request: DeleteRequest<'_>,
    ) -> Result<ObjectReport, ClusterError> {
        let objects = to_kube(request.objects);
        let mut options = self.options(request.release, request.namespace);
        options.cascade = cascade(request.cascade);
        options.dry_run = request.dry_run;
        let result = self.applier.uninstall(&objects, &options).await;
        object_report(result, &[request.objects])
    }

    pub(super) async fn wait_impl(
        &self,
        request: WaitRequest<'_>,
        progress: &dyn Progress,
    ) -> Result<(), ClusterError> {
        let objects = to_kube(request.objects);
        let result = if request.for_deletion {
            self.waiter
                .wait_deleted(&objects, request.namespace, request.timeout)
                .await
        } else {
            let options = WaitOptions {
                timeout: request.timeout,
                wait_for_jobs: request.wait_for_jobs,
            };
            let report = |change: &ReadinessChange| {
                progress.event(readiness_event(change, &[request.objects]));
            };
            self.waiter
                .wait(&objects, request.namespace, &options, &report)
                .await
        };
        result.map_err(|e| cluster_error(e, &[request.objects]))
    }

    pub(super) async fn object_status_impl(
        &self,
        namespace: &str,
        objects: &[capstan_ops::Resource],
    ) -> Result<Vec<ObjectStatus>, ClusterError> {
        let statuses = self
            .waiter
            .status(&to_kube(objects), namespace)
            .await
            .map_err(|e| cluster_error(e, &[objects]))?;
        Ok(objects
            .iter()
            .zip(statuses)
            .map(|(o, (_, readiness))| object_status(o.object.clone(), readiness))
            .collect())
    }

    pub(super) async fn existing_impl(
        &self,
        objects: &[capstan_ops::Resource],
    ) -> Result<Vec<bool>, ClusterError> {
        crate::crds::existing(self.applier.mapper(), &to_kube(objects))
            .await
            .map_err(|e| cluster_error(e, &[objects]))
    }

    pub(super) async fn create_crds_impl(
        &self,
        request: CrdRequest<'_>,
        progress: &dyn Progress,
    ) -> Result<ObjectReport, ClusterError> {
        let objects = to_kube(request.objects);
        let options = WaitOptions {
            timeout: request.timeout,
            wait_for_jobs: false,
        };
        let report = |change: &ReadinessChange| {
            progress.event(readiness_event(change, &[request.objects]));
        };
        let outcomes = crate::crds::create_missing(
            self.applier.mapper(),
            &self.waiter,
            &objects,
            &options,
            &report,
        )
        .await
        .map_err(|e| cluster_error(e, &[request.objects]))?;
        Ok(ObjectReport {
            results: outcomes
                .iter()
                .map(|o| ObjectResult {
                    object: object_ref(&o.key, &[request.objects]),
                    action: if o.created {
                        ObjectAction::Created
                    } else {
                        ObjectAction::Unchanged
                    },
                    preview: None,
                })
                .collect(),
            failed: Vec::new(),
        })
    }
}

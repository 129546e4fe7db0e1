//! Conversions between `capstan-ops`'s types and this crate's, all of them: resources,
//! object references, actions, options, reports, errors, readiness events and times.

use capstan_ops::{
    ClusterError, Event, ObjectAction, ObjectRef, ObjectReport, ObjectResult, ObjectStatus,
};
use capstan_release::GoTime;
use k8s_openapi::jiff::Timestamp;

use crate::apply::{self, Action, ApplyMethod};
use crate::error::Error;
use crate::resource::{ObjectKey, Resource};
use crate::wait::{Readiness, ReadinessChange};

pub(super) fn to_kube_one(resource: &capstan_ops::Resource) -> Resource {
    Resource {
        api_version: resource.object.api_version.clone(),
        kind: resource.object.kind.clone(),
        name: resource.object.name.clone(),
        namespace: resource.object.namespace.clone(),
        object: resource.manifest.clone(),
    }
}

pub(super) fn to_kube(resources: &[capstan_ops::Resource]) -> Vec<Resource> {
    resources.iter().map(to_kube_one).collect()
}

pub(super) fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// The operation's reference to the object `key` names, found among the request's resources
/// (so the caller gets back the very references it passed); a new one when none matches.
pub(super) fn object_ref(key: &ObjectKey, among: &[&[capstan_ops::Resource]]) -> ObjectRef {
    let matches = |r: &&capstan_ops::Resource| {
        r.object.kind == key.kind
            && r.object.name == key.name
            && group_of(&r.object.api_version) == key.group
            && (key.namespace.is_none()
                || r.object.namespace.is_none()
                || r.object.namespace == key.namespace)
    };
    among
        .iter()
        .flat_map(|list| list.iter())
        .find(matches)
        .map(|r| r.object.clone())
        .unwrap_or_else(|| ObjectRef {
            api_version: key.group.clone(),
            kind: key.kind.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        })
}

/// The reference an error's `kind/name` text names.
pub(super) fn object_ref_named(
    text: &str,
    among: &[&[capstan_ops::Resource]],
) -> Option<ObjectRef> {
    among
        .iter()
        .flat_map(|list| list.iter())
        .find(|r| r.object.to_string() == text)
        .map(|r| r.object.clone())
}

pub(super) fn action(action: Action) -> ObjectAction {
    match action {
        Action::Created => ObjectAction::Created,
        Action::Configured => ObjectAction::Configured,
        Action::Unchanged => ObjectAction::Unchanged,
        Action::Replaced => ObjectAction::Replaced,
        Action::Deleted => ObjectAction::Deleted,
        Action::Kept => ObjectAction::Kept,
        Action::Absent => ObjectAction::NotFound,
    }
}

pub(super) fn cascade(cascade: capstan_ops::Cascade) -> apply::Cascade {
    match cascade {
        capstan_ops::Cascade::Background => apply::Cascade::Background,
        capstan_ops::Cascade::Foreground => apply::Cascade::Foreground,
        capstan_ops::Cascade::Orphan => apply::Cascade::Orphan,
    }
}

pub(super) fn apply_options(
    mut base: apply::ApplyOptions,
    options: &capstan_ops::ApplyOptions,
) -> apply::ApplyOptions {
    base.method = match options.mode {
        capstan_ops::ApplyMode::ServerSide => ApplyMethod::ServerSide,
        capstan_ops::ApplyMode::ClientSide => ApplyMethod::ClientSide,
    };
    base.field_manager = options.field_manager.clone();
    base.force_replace = options.force;
    base.force_conflicts = options.force_conflicts;
    base.take_ownership = options.take_ownership;
    base.dry_run = options.dry_run == Some(capstan_ops::DryRun::Server);
    base
}

pub(super) fn results(
    report: &apply::ApplyReport,
    among: &[&[capstan_ops::Resource]],
) -> Vec<ObjectResult> {
    report
        .objects
        .iter()
        .map(|o| ObjectResult {
            object: object_ref(&o.key, among),
            action: action(o.action),
            preview: o.preview.as_ref().map(|p| capstan_ops::ObjectPreview {
                live: p.live.clone(),
                planned: p.planned.clone(),
            }),
        })
        .collect()
}

/// An apply or uninstall result as the operations want it: an incomplete run is `Ok` with the
/// failure listed next to what was done.
pub(super) fn object_report(
    result: crate::error::Result<apply::ApplyReport>,
    among: &[&[capstan_ops::Resource]],
) -> Result<ObjectReport, ClusterError> {
    match result {
        Ok(report) => Ok(ObjectReport {
            results: results(&report, among),
            failed: Vec::new(),
        }),
        Err(Error::Incomplete {
            object,
            report,
            source,
            ..
        }) => {
            let Some(failed) = object_ref_named(&object, among) else {
                return Err(cluster_error(*source, among));
            };
            Ok(ObjectReport {
                results: results(&report, among),
                failed: vec![(failed, capstan_ops::error_chain(&*source))],
            })
        }
        Err(e) => Err(cluster_error(e, among)),
    }
}

pub(super) fn cluster_error(error: Error, among: &[&[capstan_ops::Resource]]) -> ClusterError {
    match error {
        Error::WaitTimeout { not_ready, .. } => ClusterError::Timeout { not_ready },
        Error::WaitFailed { object, reason } => match object_ref_named(&object, among) {
            Some(object) => ClusterError::Object {
                object: Box::new(object),
                message: reason,
            },
            None => ClusterError::other(format!("{object} failed: {reason}")),
        },
        Error::Ownership { ref object, .. } => match object_ref_named(object, among) {
            Some(object) => ClusterError::Object {
                object: Box::new(object),
                message: capstan_ops::error_chain(&error),
            },
            None => ClusterError::Other {
                message: error.to_string(),
                source: Some(Box::new(error)),
            },
        },
        other => ClusterError::Other {
            message: capstan_ops::error_chain(&other),
            source: None,
        },
    }
}

pub(crate) fn kube_error(what: impl Into<String>, error: kube::Error) -> ClusterError {
    ClusterError::Other {
        message: what.into(),
        source: Some(Box::new(error)),
    }
}

pub(super) fn readiness_event(
    change: &ReadinessChange,
    among: &[&[capstan_ops::Resource]],
) -> Event {
    let (ready, reason) = match &change.readiness {
        Readiness::Ready => (true, "ready".to_owned()),
        Readiness::InProgress(why) | Readiness::Failed(why) => (false, why.clone()),
    };
    Event::Readiness {
        object: object_ref(&change.key, among),
        ready,
        reason,
    }
}

pub(super) fn object_status(object: ObjectRef, readiness: Option<Readiness>) -> ObjectStatus {
    let (exists, ready, reason) = match readiness {
        None => (false, false, "not found".to_owned()),
        Some(Readiness::Ready) => (true, true, "ready".to_owned()),
        Some(Readiness::InProgress(why) | Readiness::Failed(why)) => (true, false, why),
    };
    ObjectStatus {
        object,
        exists,
        ready,
        reason,
    }
}

pub(crate) fn go_time(timestamp: Timestamp) -> GoTime {
    GoTime::from_timestamp(timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops_resource(
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
    ) -> capstan_ops::Resource {
        capstan_ops::Resource {
            object: ObjectRef::new(api_version, kind, ns, name),
            source: String::new(),
            manifest: serde_json::json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}),
        }
    }

    #[test]
    fn keys_map_back_to_the_callers_references() {
        let list = [
            ops_resource("apps/v1", "Deployment", None, "web"),
            ops_resource("rbac.authorization.k8s.io/v1", "ClusterRole", None, "web"),
        ];
        let key = to_kube_one(&list[0]).key("apps");
        assert_eq!(object_ref(&key, &[&list]), list[0].object);
        let cluster_scoped = ObjectKey {
            group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            namespace: None,
            name: "web".into(),
        };
        assert_eq!(object_ref(&cluster_scoped, &[&list]), list[1].object);
        assert_eq!(
            object_ref_named("deployment/web", &[&list]),
            Some(list[0].object.clone())
        );
    }

    #[test]
    fn incomplete_applies_list_the_failure_with_what_was_done() {
        let list = [ops_resource("v1", "ConfigMap", None, "a")];
        let error = Error::Incomplete {
            object: "configmap/a".into(),
            done: 0,
            report: apply::ApplyReport::default(),
            source: Box::new(Error::WaitFailed {
                object: "configmap/a".into(),
                reason: "denied".into(),
            }),
        };
        let report = object_report(Err(error), &[&list]).unwrap();
        assert_eq!(
            report.failed,
            vec![(list[0].object.clone(), "configmap/a failed: denied".into())]
        );
    }
}

//! Conversions between the protobuf messages of `capstan.applier.v1` and capstan's domain
//! types, and the one mapping from [`capstan_ops::Error`] to gRPC status codes.

use std::time::Duration;

use capstan_ops::{DryRun, ErrorClass, Event, ObjectAction, ObjectRef, Rendered};
use capstan_proto::applier::v1 as pb;
use capstan_proto::compat;
use capstan_proto::renderer::v1 as render_pb;
use capstan_release::{
    GoTime, Hook, HookDeletePolicy, HookEvent, Release, ReleaseSummary, StateMask, Status,
};
use serde_json::{Map, Value};

/// The gRPC code of an error class: the service's one mapping.
pub fn code_of(class: ErrorClass) -> tonic::Code {
    match class {
        ErrorClass::InvalidInput => tonic::Code::InvalidArgument,
        ErrorClass::NotFound => tonic::Code::NotFound,
        ErrorClass::AlreadyExists => tonic::Code::AlreadyExists,
        ErrorClass::Precondition => tonic::Code::FailedPrecondition,
        ErrorClass::Conflict => tonic::Code::Aborted,
        ErrorClass::DeadlineExceeded => tonic::Code::DeadlineExceeded,
        ErrorClass::Cancelled => tonic::Code::Cancelled,
        ErrorClass::Failed => tonic::Code::Internal,
    }
}

/// An operation error as a gRPC status (unary reads), with the whole cause chain as message.
pub fn status(error: &capstan_ops::Error) -> tonic::Status {
    tonic::Status::new(code_of(error.class()), capstan_ops::error_chain(error))
}

/// A failed lookup as a gRPC status: refused by the cluster (`PermissionDenied`) or not
/// answered (`Unavailable`), with the whole cause chain.
pub fn lookup_status(error: &capstan_ops::ClusterError) -> tonic::Status {
    let message = capstan_ops::error_chain(error);
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(kube::Error::Api(status)) = e.downcast_ref::<kube::Error>() {
            return match status.code {
                401 | 403 => tonic::Status::permission_denied(message),
                _ => tonic::Status::failed_precondition(message),
            };
        }
        cause = e.source();
    }
    tonic::Status::unavailable(message)
}

/// An operation error as the `Error` message of an [`pb::OperationResult`].
pub fn error(error: &capstan_ops::Error) -> pb::Error {
    pb::Error {
        code: code_of(error.class()) as i32,
        message: capstan_ops::error_chain(error),
    }
}

fn invalid(what: &str, e: impl std::fmt::Display) -> tonic::Status {
    tonic::Status::invalid_argument(format!("{what}: {e}"))
}

fn json_map(what: &str, text: &str) -> Result<Map<String, Value>, tonic::Status> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text).map_err(|e| invalid(what, e))? {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(invalid(what, "not a JSON object")),
    }
}

/// A rendered hook as a release stores it (a name Helm does not know kept verbatim).
pub fn hook(h: &render_pb::Hook) -> Hook {
    Hook {
        name: h.name.clone(),
        kind: h.kind.clone(),
        path: h.path.clone(),
        manifest: h.yaml.clone(),
        events: h
            .events
            .iter()
            .map(|e| HookEvent::from(e.as_str()))
            .collect(),
        weight: i64::from(h.weight),
        delete_policies: h
            .delete_policies
            .iter()
            .map(|p| HookDeletePolicy::from(p.as_str()))
            .collect(),
        ..Hook::default()
    }
}

/// The render a mutating request carries: the renderer's response as it came (`render`), or
/// the fields older clients copied out of it (`rendered`).
pub fn render_of(
    render: Option<render_pb::RenderResponse>,
    rendered: Option<pb::Rendered>,
) -> Option<pb::Rendered> {
    match render {
        Some(r) => Some(pb::Rendered {
            manifest: r.manifest,
            hooks: r.hooks,
            notes: r.notes,
            stored_chart_json: r.stored_chart_json,
            user_values_json: r.user_values_json,
            merged_values_json: r.merged_values_json,
            crds: r.crds,
        }),
        None => rendered,
    }
}

/// The renderer's output, as the operations take it.
pub fn rendered(r: Option<pb::Rendered>) -> Result<Rendered, tonic::Status> {
    let r =
        r.ok_or_else(|| tonic::Status::invalid_argument("the request carries no rendered chart"))?;
    let objects = r
        .manifest
        .lines()
        .filter(|l| l.trim_end() == "---" || l.starts_with("--- "))
        .count()
        .max(usize::from(!r.manifest.trim().is_empty()))
        + r.hooks.len();
    if objects > crate::MAX_OBJECTS {
        return Err(tonic::Status::resource_exhausted(format!(
            "the rendered release holds {objects} objects, more than the limit of {}",
            crate::MAX_OBJECTS
        )));
    }
    let chart_json: Value = if r.stored_chart_json.trim().is_empty() {
        return Err(tonic::Status::invalid_argument(
            "the rendered input carries no chart (stored_chart_json)",
        ));
    } else {
        serde_json::from_str(&r.stored_chart_json).map_err(|e| invalid("stored_chart_json", e))?
    };
    Ok(Rendered {
        manifest: r.manifest,
        hooks: r.hooks.iter().map(hook).collect(),
        notes: r.notes,
        chart: Rendered::chart_from_json(chart_json)
            .map_err(|e| invalid("stored_chart_json", e))?,
        config: json_map("user_values_json", &r.user_values_json)?,
        values: json_map("merged_values_json", &r.merged_values_json)?,
        crds: r
            .crds
            .into_iter()
            .map(|c| capstan_ops::Crd {
                path: c.path,
                yaml: c.yaml,
            })
            .collect(),
    })
}

/// A timeout in milliseconds, 0 meaning `default`.
pub fn timeout(millis: u64, default: Duration) -> Duration {
    if millis == 0 {
        default
    } else {
        Duration::from_millis(millis)
    }
}

/// A request field that cannot be understood (an unknown name in a deprecated string field, or
/// an unknown enum number), as `InvalidArgument`.
fn field(setting: compat::Result<i32>) -> Result<i32, tonic::Status> {
    setting.map_err(|e| tonic::Status::invalid_argument(e.to_string()))
}

/// `--dry-run` (the request's `dry_run_setting`): none, `client` or `server`.
pub fn dry_run(setting: compat::Result<pb::DryRunMode>) -> Result<Option<DryRun>, tonic::Status> {
    let mode = field(setting.map(|m| m as i32))?;
    Ok(match pb::DryRunMode::try_from(mode) {
        Ok(pb::DryRunMode::Client) => Some(DryRun::Client),
        Ok(pb::DryRunMode::Server) => Some(DryRun::Server),
        _ => None,
    })
}

/// `--server-side` (the request's `server_side_setting`): `auto` (`None`: the operation
/// decides), `true` or `false`.
pub fn server_side(setting: compat::Result<pb::ServerSide>) -> Result<Option<bool>, tonic::Status> {
    let mode = field(setting.map(|m| m as i32))?;
    Ok(match pb::ServerSide::try_from(mode) {
        Ok(pb::ServerSide::True) => Some(true),
        Ok(pb::ServerSide::False) => Some(false),
        _ => None,
    })
}

/// `--wait-for-lock`: how long to wait for a held lock (`None`: fail at once).
pub fn lock_wait(millis: Option<u64>) -> Option<Duration> {
    millis.map(Duration::from_millis)
}

/// `--recover`: recover a pending latest revision no capstan operation holds; without it,
/// only one whose lease expired.
pub fn recover(recover: bool) -> capstan_ops::RecoverPolicy {
    if recover {
        capstan_ops::RecoverPolicy::Always
    } else {
        capstan_ops::RecoverPolicy::default()
    }
}

/// `--labels`: custom release labels, which may not be Helm's system labels.
pub fn labels(
    labels: &std::collections::HashMap<String, String>,
) -> Result<std::collections::BTreeMap<String, String>, tonic::Status> {
    if let Some(key) = labels
        .keys()
        .find(|k| capstan_release::storage::is_system_label(k))
    {
        return Err(tonic::Status::invalid_argument(format!(
            "invalid label {key:?}: it is one of Helm's system labels ({})",
            capstan_release::storage::SYSTEM_LABELS.join(", ")
        )));
    }
    Ok(labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// `--cascade` (the request's `cascade_setting`).
pub fn cascade(
    setting: compat::Result<pb::Cascade>,
) -> Result<capstan_ops::Cascade, tonic::Status> {
    let mode = field(setting.map(|m| m as i32))?;
    Ok(match pb::Cascade::try_from(mode) {
        Ok(pb::Cascade::Foreground) => capstan_ops::Cascade::Foreground,
        Ok(pb::Cascade::Orphan) => capstan_ops::Cascade::Orphan,
        _ => capstan_ops::Cascade::Background,
    })
}

/// A release status as the wire carries it.
pub fn release_status(status: Status) -> pb::ReleaseStatus {
    match status {
        Status::Unknown => pb::ReleaseStatus::Unknown,
        Status::Deployed => pb::ReleaseStatus::Deployed,
        Status::Uninstalled => pb::ReleaseStatus::Uninstalled,
        Status::Superseded => pb::ReleaseStatus::Superseded,
        Status::Failed => pb::ReleaseStatus::Failed,
        Status::Uninstalling => pb::ReleaseStatus::Uninstalling,
        Status::PendingInstall => pb::ReleaseStatus::PendingInstall,
        Status::PendingUpgrade => pb::ReleaseStatus::PendingUpgrade,
        Status::PendingRollback => pb::ReleaseStatus::PendingRollback,
    }
}

/// The status mask of `list`'s statuses (the request's `status_filter`; empty: every status).
pub fn states(filter: compat::Result<Vec<pb::ReleaseStatus>>) -> Result<StateMask, tonic::Status> {
    let statuses = filter.map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
    if statuses.is_empty() {
        return Ok(StateMask::ALL);
    }
    Ok(Status::ALL
        .into_iter()
        .filter(|s| statuses.contains(&release_status(*s)))
        .fold(StateMask::NONE, |mask, s| mask | StateMask::of(s)))
}

fn time(t: Option<GoTime>) -> String {
    t.map(|t| t.to_string()).unwrap_or_default()
}

/// One revision, as list and history show it.
pub fn release_info(r: &Release) -> pb::ReleaseInfo {
    pb::ReleaseInfo {
        name: r.name.clone(),
        namespace: r.namespace.clone(),
        revision: r.version,
        status: r.info.status.as_str().to_owned(),
        release_status: release_status(r.info.status) as i32,
        chart: r
            .chart
            .as_ref()
            .map(|c| c.name_version())
            .unwrap_or_default(),
        app_version: r.app_version().to_owned(),
        description: r.info.description.clone(),
        first_deployed: time(r.info.first_deployed),
        last_deployed: time(r.info.last_deployed),
    }
}

/// A list row.
pub fn summary(s: &ReleaseSummary) -> pb::ReleaseInfo {
    pb::ReleaseInfo {
        name: s.name.clone(),
        namespace: s.namespace.clone(),
        revision: s.revision,
        status: s.status.as_str().to_owned(),
        release_status: release_status(s.status) as i32,
        chart: s.chart.clone().unwrap_or_default(),
        app_version: s.app_version.clone().unwrap_or_default(),
        description: String::new(),
        first_deployed: String::new(),
        last_deployed: time(s.updated),
    }
}

/// An object reference.
pub fn object(o: &ObjectRef) -> pb::ObjectRef {
    pb::ObjectRef {
        api_version: o.api_version.clone(),
        kind: o.kind.clone(),
        namespace: o.namespace.clone().unwrap_or_default(),
        name: o.name.clone(),
    }
}

fn action(a: ObjectAction) -> &'static str {
    match a {
        ObjectAction::Created => "created",
        ObjectAction::Configured => "configured",
        ObjectAction::Unchanged => "unchanged",
        ObjectAction::Replaced => "replaced",
        ObjectAction::Deleted => "deleted",
        ObjectAction::Kept => "kept",
        ObjectAction::NotFound => "not-found",
    }
}

fn kebab<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// A progress event as a stream message; `None` for `Finished`, which the service turns into
/// the final [`pb::OperationResult`] itself.
pub fn event(e: &Event) -> Option<pb::OperationEvent> {
    use pb::operation_event::Event as E;
    let event = match e {
        Event::Phase { phase, revision } => E::Phase(pb::PhaseEvent {
            phase: kebab(phase),
            revision: revision.unwrap_or(0),
        }),
        Event::Recovered {
            revision,
            description,
        } => E::Recovered(pb::RecoveredEvent {
            revision: *revision,
            description: description.clone(),
        }),
        Event::Object {
            object: o,
            action: a,
            preview,
        } => {
            let json = |v: Option<&serde_json::Value>| v.map(|v| v.to_string()).unwrap_or_default();
            E::Object(pb::ObjectEvent {
                object: Some(object(o)),
                action: action(*a).to_owned(),
                live_json: json(preview.as_ref().and_then(|p| p.live.as_ref())),
                planned_json: json(preview.as_ref().and_then(|p| p.planned.as_ref())),
            })
        }
        Event::Readiness {
            object: o,
            ready,
            reason,
        } => E::Readiness(pb::ReadinessEvent {
            object: Some(object(o)),
            ready: *ready,
            reason: reason.clone(),
        }),
        Event::HookStarted {
            name,
            kind,
            event,
            weight,
        } => E::Hook(pb::HookEvent {
            name: name.clone(),
            kind: kind.clone(),
            event: kebab(event),
            finished: false,
            phase: String::new(),
            message: String::new(),
            weight: *weight,
        }),
        Event::HookFinished {
            name,
            event,
            phase,
            message,
        } => E::Hook(pb::HookEvent {
            name: name.clone(),
            kind: String::new(),
            event: kebab(event),
            finished: true,
            phase: kebab(phase),
            message: message.clone().unwrap_or_default(),
            weight: 0,
        }),
        Event::Warning { message } => E::Warning(pb::WarningEvent {
            message: message.clone(),
        }),
        Event::Finished { .. } => return None,
    };
    Some(stamped(event))
}

/// An event stamped with the current time.
pub fn stamped(event: pb::operation_event::Event) -> pb::OperationEvent {
    pb::OperationEvent {
        time: jiff::Timestamp::now().to_string(),
        event: Some(event),
    }
}

/// A gRPC `grpc-timeout` header value (`100m`, `5S`, `1H`...) as a duration.
pub fn grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// A test run's result: the revision, each test hook that ran (by weight then name) with its
/// logs when read, and the failure.
pub fn test_result(outcome: capstan_ops::TestOutcome) -> pb::OperationResult {
    let capstan_ops::TestOutcome {
        release,
        logs,
        failure,
    } = outcome;
    let mut hooks: Vec<&Hook> = release
        .hooks
        .iter()
        .filter(|h| {
            h.events.contains(&capstan_release::HookEvent::Test) && h.last_run.started_at.is_some()
        })
        .collect();
    hooks.sort_by(|a, b| a.weight.cmp(&b.weight).then_with(|| a.name.cmp(&b.name)));
    let tests = hooks
        .into_iter()
        .map(|h| pb::TestRun {
            name: h.name.clone(),
            started_at: time(h.last_run.started_at),
            completed_at: time(h.last_run.completed_at),
            phase: h
                .last_run
                .phase
                .as_ref()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            logs: logs
                .iter()
                .find(|(name, _)| *name == h.name)
                .map(|(_, text)| text.clone())
                .unwrap_or_default(),
        })
        .collect();
    pb::OperationResult {
        success: failure.is_none(),
        release: Some(release_info(&release)),
        notes: release.info.notes.clone(),
        error: failure.as_ref().map(error),
        tests,
        ..pb::OperationResult::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_side_lock_wait_and_labels_convert() {
        let server_side = |name: &str| {
            server_side(
                pb::InstallRequest {
                    server_side: name.into(),
                    ..pb::InstallRequest::default()
                }
                .server_side_setting(),
            )
        };
        assert_eq!(server_side("").unwrap(), None);
        assert_eq!(server_side("auto").unwrap(), None);
        assert_eq!(server_side("true").unwrap(), Some(true));
        assert_eq!(server_side("false").unwrap(), Some(false));
        assert_eq!(
            server_side("maybe").unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        assert_eq!(lock_wait(None), None);
        assert_eq!(lock_wait(Some(1500)), Some(Duration::from_millis(1500)));
        let mut given = std::collections::HashMap::new();
        given.insert("team".to_owned(), "api".to_owned());
        assert_eq!(labels(&given).unwrap()["team"], "api");
        given.insert("owner".to_owned(), "me".to_owned());
        let error = labels(&given).unwrap_err();
        assert_eq!(error.code(), tonic::Code::InvalidArgument);
        assert!(error.message().contains("\"owner\""), "{}", error.message());
    }

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(grpc_timeout("x"), None);
        assert_eq!(grpc_timeout("5X"), None);
    }

    #[test]
    fn classes_map_to_codes() {
        assert_eq!(
            code_of(ErrorClass::InvalidInput),
            tonic::Code::InvalidArgument
        );
        assert_eq!(code_of(ErrorClass::NotFound), tonic::Code::NotFound);
        assert_eq!(
            code_of(ErrorClass::AlreadyExists),
            tonic::Code::AlreadyExists
        );
        assert_eq!(
            code_of(ErrorClass::Precondition),
            tonic::Code::FailedPrecondition
        );
        assert_eq!(
            code_of(ErrorClass::DeadlineExceeded),
            tonic::Code::DeadlineExceeded
        );
    }

    #[test]
    fn list_states_by_name() {
        let states = |names: &[String]| {
            states(
                pb::ListRequest {
                    states: names.to_vec(),
                    ..pb::ListRequest::default()
                }
                .status_filter(),
            )
        };
        assert_eq!(states(&[]).unwrap(), StateMask::ALL);
        assert_eq!(
            states(&["deployed".into(), "failed".into()]).unwrap(),
            StateMask::DEPLOYED | StateMask::FAILED
        );
        assert!(states(&["bogus".into()]).is_err());
    }

    #[test]
    fn statuses_keep_helm_names_on_the_wire() {
        for status in Status::ALL {
            assert_eq!(release_status(status).helm_name(), status.as_str());
        }
        let pending = states(Ok(pb::ReleaseStatus::PENDING.to_vec())).unwrap();
        assert_eq!(pending, StateMask::PENDING);
        assert_eq!(
            states(Ok(pb::ReleaseStatus::LIST_ALL.to_vec())).unwrap(),
            StateMask::ALL
        );
        assert_eq!(
            states(Ok(pb::ReleaseStatus::HELM.to_vec())).unwrap(),
            StateMask::ALL | StateMask::UNKNOWN
        );
    }

    #[test]
    fn a_rendered_hook_is_the_release_hook_helm_stores() {
        let rendered = render_pb::Hook {
            name: "web-migrate".into(),
            kind: "Job".into(),
            path: "web/templates/job.yaml".into(),
            yaml: "kind: Job\n".into(),
            events: vec!["pre-upgrade".into(), "post-frobnicate".into()],
            weight: -5,
            delete_policies: vec!["before-hook-creation".into()],
        };
        let stored: Hook = serde_json::from_str(
            r#"{"name":"web-migrate","kind":"Job","path":"web/templates/job.yaml",
                "manifest":"kind: Job\n","events":["pre-upgrade","post-frobnicate"],
                "last_run":{},"weight":-5,"delete_policies":["before-hook-creation"]}"#,
        )
        .unwrap();
        assert_eq!(hook(&rendered), stored);
        assert_eq!(
            hook(&rendered).events[1],
            HookEvent::Other("post-frobnicate".into())
        );
    }
}

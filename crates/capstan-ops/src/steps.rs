//! Steps shared by the operations: preparing target objects, applying, waiting, cleaning up
//! what a failed operation created, and reporting the end of an operation. Applying, waiting
//! and deleting each run in a tracing span (`apply`, `wait`, `delete`) with the release's
//! identity and object counts.

use std::time::Duration;

use capstan_release::{Release, Status};
use tracing::Instrument as _;

use crate::cluster::{
    ApplyOptions, ApplyRequest, Cascade, DeleteRequest, ObjectAction, ObjectReport, WaitRequest,
};
use crate::error::{Error, Result, error_chain};
use crate::progress::{Event, Phase};
use crate::resource::{ObjectRef, Resource, sort_install_order, split_manifest};
use crate::session::Ctx;

/// The objects of a manifest as they are applied: parsed, with Helm's ownership metadata, in
/// install order.
pub(crate) fn target_objects(manifest: &str, name: &str, namespace: &str) -> Result<Vec<Resource>> {
    let mut objects = split_manifest(manifest)?;
    for o in &mut objects {
        o.set_ownership(name, namespace);
    }
    sort_install_order(&mut objects);
    Ok(objects)
}

fn report_objects(ctx: &Ctx<'_>, report: &ObjectReport) {
    for r in &report.results {
        ctx.progress.event(Event::Object {
            object: r.object.clone(),
            action: r.action,
            preview: r.preview.clone().map(Box::new),
        });
    }
}

fn failures(report: &ObjectReport) -> Vec<String> {
    report
        .failed
        .iter()
        .map(|(o, why)| format!("{o}: {why}"))
        .collect()
}

/// Applies `target` over `previous`, remembering what was created (for `--cleanup-on-fail`).
pub(crate) async fn apply(
    ctx: &Ctx<'_>,
    revision: u32,
    previous: &[Resource],
    target: &[Resource],
    options: &ApplyOptions,
    created: &mut Vec<ObjectRef>,
) -> Result<()> {
    ctx.phase(Phase::Applying, Some(revision));
    let span = tracing::info_span!(
        "apply",
        release = %ctx.name,
        namespace = %ctx.namespace,
        revision,
        objects = target.len(),
        previous = previous.len(),
    );
    let report = ctx
        .step(
            || format!("applying release {:?} revision {revision}", ctx.name),
            ctx.cluster.apply(
                ApplyRequest {
                    release: &ctx.name,
                    namespace: &ctx.namespace,
                    previous,
                    target,
                    options,
                },
                ctx.progress,
            ),
        )
        .instrument(span)
        .await?;
    report_objects(ctx, &report);
    created.extend(report.with_action(ObjectAction::Created).cloned());
    if report.failed.is_empty() {
        Ok(())
    } else {
        let failures = failures(&report);
        Err(Error::Objects {
            what: "apply",
            count: failures.len(),
            failures,
        })
    }
}

/// Helm's check before a revision is recorded: objects new to the release that already exist
/// must belong to it, unless taken over; `operation` names what cannot continue (`install`,
/// `update`).
pub(crate) async fn check_adoption(
    ctx: &Ctx<'_>,
    operation: &'static str,
    previous: &[Resource],
    target: &[Resource],
    options: &ApplyOptions,
) -> Result<()> {
    ctx.step(
        || format!("unable to continue with {operation}"),
        ctx.cluster.check_adoption(ApplyRequest {
            release: &ctx.name,
            namespace: &ctx.namespace,
            previous,
            target,
            options,
        }),
    )
    .await
}

/// An install's ownership check, run beside its CRD step (`crds`): the objects whose kinds the
/// cluster already serves are checked at once; the others, whose kinds the CRD step may be
/// creating, once it is done. The CRD step's error comes first.
pub(crate) async fn check_adoption_beside_crds(
    ctx: &Ctx<'_>,
    target: &[Resource],
    options: &ApplyOptions,
    crds: impl std::future::Future<Output = Result<()>>,
) -> Result<()> {
    let served = ctx.step(
        || "unable to continue with install".to_string(),
        ctx.cluster.check_adoption_served(ApplyRequest {
            release: &ctx.name,
            namespace: &ctx.namespace,
            previous: &[],
            target,
            options,
        }),
    );
    let (crds, served) = futures::join!(crds, served);
    crds?;
    let left: Vec<Resource> = served?
        .into_iter()
        .filter_map(|i| target.get(i).cloned())
        .collect();
    if left.is_empty() {
        return Ok(());
    }
    check_adoption(ctx, "install", &[], &left, options).await
}

/// Waits for `objects` to be ready.
pub(crate) async fn wait(
    ctx: &Ctx<'_>,
    revision: Option<u32>,
    objects: &[Resource],
    timeout: Duration,
    wait_for_jobs: bool,
    for_deletion: bool,
) -> Result<()> {
    ctx.phase(Phase::Waiting, revision);
    let span = tracing::info_span!(
        "wait",
        release = %ctx.name,
        namespace = %ctx.namespace,
        revision,
        objects = objects.len(),
        for_deletion,
    );
    ctx.step(
        || match revision {
            Some(r) => format!("waiting for release {:?} revision {r}", ctx.name),
            None => format!("waiting for the objects of release {:?}", ctx.name),
        },
        ctx.cluster.wait(
            WaitRequest {
                namespace: &ctx.namespace,
                objects,
                timeout: ctx.timeout(timeout),
                wait_for_jobs,
                for_deletion,
            },
            ctx.progress,
        ),
    )
    .instrument(span)
    .await
}

/// Deletes objects in the order given; returns the report (failures are not an error here).
pub(crate) async fn delete(
    ctx: &Ctx<'_>,
    objects: &[Resource],
    cascade: Cascade,
    dry_run: bool,
) -> Result<ObjectReport> {
    ctx.phase(Phase::Deleting, None);
    let span = tracing::info_span!(
        "delete",
        release = %ctx.name,
        namespace = %ctx.namespace,
        objects = objects.len(),
    );
    let report = ctx
        .step(
            || format!("deleting the objects of release {:?}", ctx.name),
            ctx.cluster.delete(
                DeleteRequest {
                    release: &ctx.name,
                    namespace: &ctx.namespace,
                    objects,
                    cascade,
                    dry_run,
                },
                ctx.progress,
            ),
        )
        .instrument(span)
        .await?;
    report_objects(ctx, &report);
    Ok(report)
}

/// `--cleanup-on-fail`: deletes the objects the failed operation created.
pub(crate) async fn cleanup_created(
    ctx: &Ctx<'_>,
    created: &[ObjectRef],
    target: &[Resource],
) -> Result<()> {
    if created.is_empty() {
        return Ok(());
    }
    let mut objects: Vec<Resource> = target
        .iter()
        .filter(|r| created.contains(&r.object))
        .cloned()
        .collect();
    crate::resource::sort_uninstall_order(&mut objects);
    let report = delete(ctx, &objects, Cascade::Background, false).await?;
    if report.failed.is_empty() {
        Ok(())
    } else {
        let failures = failures(&report);
        Err(Error::Objects {
            what: "delete",
            count: failures.len(),
            failures,
        })
    }
}

/// Reports the end of an operation.
pub(crate) fn finished<T>(
    ctx: &Ctx<'_>,
    result: &Result<T>,
    release: impl FnOnce(&T) -> Option<&Release>,
) {
    let event = match result {
        Ok(value) => {
            let r = release(value);
            Event::Finished {
                revision: r.map(|r| r.version),
                status: r.map(|r| r.info.status),
                description: r.map(|r| r.info.description.clone()).unwrap_or_default(),
                success: true,
            }
        }
        Err(e) => Event::Finished {
            revision: None,
            status: None::<Status>,
            description: error_chain(e),
            success: false,
        },
    };
    ctx.progress.event(event);
}

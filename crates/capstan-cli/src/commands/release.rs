//! `install`, `upgrade`, `rollback` and `uninstall`: render with the renderer, then stream the
//! operation from the applier, printing its progress and then the result as Helm does.

use std::path::Path;
use std::time::Duration;

use anyhow::bail;
use capstan_proto::applier::v1 as pb;
use capstan_proto::renderer::v1 as rpb;
use tonic::Streaming;
use tracing::Instrument as _;

use crate::cli::{
    ApplyFlags, Format, Global, InstallArgs, RollbackArgs, UninstallArgs, UpgradeArgs,
};
use crate::console::{out, outln};
use crate::exit::{self, ServiceError};
use crate::output::{self, ProgressPrinter};
use crate::signals::Signals;
use crate::{applier, renderer};

/// The values a release is rendered with: layers over the chart's defaults, or over other
/// defaults (`upgrade --reuse-values` keeps the previous release's chart defaults, as Helm does).
#[derive(Debug, Default)]
pub(crate) struct RenderValues {
    /// `-f`, `--set`... (and previous values), in order.
    pub layers: Vec<rpb::ValuesLayer>,
    /// Defaults in place of the chart's `values.yaml`, as a JSON object.
    pub chart_values_json: Option<String>,
}

/// Renders `chart` for a release: loads and uploads it if the renderer lacks it, then renders.
pub(crate) async fn render(
    global: &Global,
    chart: &str,
    values: RenderValues,
    release: rpb::ReleaseContext,
) -> anyhow::Result<pb::Rendered> {
    let span = tracing::info_span!(
        "render",
        release = %release.name,
        namespace = %release.namespace,
        revision = release.revision,
    );
    let archive = span.in_scope(|| crate::chart::archive(Path::new(chart)))?;
    let r = async {
        let mut client = renderer::connect(global).await?;
        let source = renderer::ensure_chart(&mut client, archive).await?;
        client
            .render(rpb::RenderRequest {
                chart: Some(source),
                values: values.layers,
                release: Some(release),
                capabilities: None,
                chart_values_json: values.chart_values_json,
            })
            .await
            .map_err(exit::status)
    }
    .instrument(span)
    .await?
    .into_inner();
    Ok(pb::Rendered {
        manifest: r.manifest,
        hooks: r.hooks,
        notes: r.notes,
        stored_chart_json: r.stored_chart_json,
        user_values_json: r.user_values_json,
        merged_values_json: r.merged_values_json,
        crds: r.crds,
    })
}

/// The CLI's span around one applier operation (the call and its event stream).
fn operation_span(operation: &'static str, name: &str, namespace: &str) -> tracing::Span {
    tracing::info_span!(
        "operation",
        otel.name = %format!("operation {operation}"),
        operation,
        release = %name,
        namespace = %namespace,
    )
}

/// Follows an operation's events to its result, printing progress; a failed operation is an
/// error carrying the applier's code.
async fn follow(mut stream: Streaming<pb::OperationEvent>) -> anyhow::Result<pb::OperationResult> {
    let mut printer = ProgressPrinter::default();
    loop {
        let Some(event) = stream.message().await.map_err(exit::status)? else {
            break;
        };
        if let Some(pb::operation_event::Event::Result(result)) = event.event {
            if let Some(error) = &result.error {
                return Err(anyhow::Error::new(ServiceError {
                    code: tonic::Code::from(error.code),
                    message: error.message.clone(),
                }));
            }
            return Ok(result);
        }
        printer.print(&event);
    }
    bail!("the applier ended the operation without a result")
}

fn timeout_millis(flags: &ApplyFlags) -> u64 {
    millis(flags.timeout)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// `--wait-for-lock`: absent fails at once, bare waits as long as the operation's timeout.
fn lock_wait_millis(flag: Option<Option<Duration>>, timeout: Duration) -> Option<u64> {
    flag.map(|wait| millis(wait.unwrap_or(timeout)))
}

/// Prints the result of install, upgrade or rollback as Helm does.
fn print_result(result: &pb::OperationResult, dry_run: bool, format: Format) -> anyhow::Result<()> {
    let release = result.release.clone().unwrap_or_default();
    match format {
        Format::Table => {
            out!("{}", output::release_summary(&release));
            if dry_run && !result.manifest.is_empty() {
                outln!("MANIFEST:\n{}", result.manifest);
            }
            if !result.notes.is_empty() {
                outln!("NOTES:\n{}", result.notes.trim_end());
            }
        }
        Format::Json | Format::Yaml => {
            let value = serde_json::json!({
                "name": release.name,
                "namespace": release.namespace,
                "version": release.revision,
                "info": {
                    "status": release.status,
                    "description": release.description,
                    "first_deployed": release.first_deployed,
                    "last_deployed": release.last_deployed,
                    "notes": result.notes,
                },
                "chart": release.chart,
                "app_version": release.app_version,
                "manifest": result.manifest,
            });
            output::print_structured(&value, format == Format::Yaml)?;
        }
    }
    Ok(())
}

/// `capstan install NAME CHART`.
pub async fn install(global: &Global, args: InstallArgs) -> anyhow::Result<u8> {
    let result = Signals::listen()?
        .cancellable(run_install(global, &args))
        .await?;
    print_result(&result, args.apply.dry_run.is_some(), args.output)?;
    Ok(0)
}

/// Renders and installs: the part of `install` a signal cancels.
async fn run_install(global: &Global, args: &InstallArgs) -> anyhow::Result<pb::OperationResult> {
    let namespace = global.namespace();
    let (name, chart) = args.name_and_chart().map_err(anyhow::Error::msg)?;
    super::record_release(&name, &namespace);
    let values = RenderValues {
        layers: args.values.layers()?,
        chart_values_json: None,
    };
    let rendered = render(
        global,
        &chart,
        values,
        rpb::ReleaseContext {
            name: name.clone(),
            namespace: namespace.clone(),
            revision: 1,
            is_install: true,
            is_upgrade: false,
        },
    )
    .await?;
    let mut client = applier::connect(global).await?;
    let span = operation_span("install", &name, &namespace);
    async {
        let stream = client
            .install(pb::InstallRequest {
                name,
                namespace,
                rendered: Some(rendered),
                create_namespace: args.apply.create_namespace,
                wait: args.apply.wait,
                wait_for_jobs: args.apply.wait_for_jobs,
                timeout_millis: timeout_millis(&args.apply),
                atomic: args.apply.atomic,
                dry_run: args.apply.dry_run.clone().unwrap_or_default(),
                description: args.apply.description.clone().unwrap_or_default(),
                replace: args.replace,
                no_hooks: args.apply.no_hooks,
                skip_crds: args.apply.skip_crds,
                force: args.apply.force,
                take_ownership: args.apply.take_ownership,
                lock_wait_millis: lock_wait_millis(args.apply.wait_for_lock, args.apply.timeout),
                server_side: args.apply.server_side.clone(),
                force_conflicts: args.apply.force_conflicts,
                labels: args.apply.labels.iter().cloned().collect(),
            })
            .await
            .map_err(exit::status)?
            .into_inner();
        follow(stream).await
    }
    .instrument(span)
    .await
}

/// The latest revision of a release, or `None` when there is none.
pub(crate) async fn latest(
    client: &mut applier::Client,
    name: &str,
    namespace: &str,
) -> anyhow::Result<Option<pb::GetResponse>> {
    match client
        .get(pb::GetRequest {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            revision: 0,
            all_values: false,
        })
        .await
    {
        Ok(response) => Ok(Some(response.into_inner())),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
        Err(status) => Err(exit::status(status)),
    }
}

/// The values an upgrade renders with, by Helm's value flags (`capstan_ops::values` has the
/// table): `--reset-values` keeps only the new values; `--reuse-values` puts them over the
/// previous ones and keeps the previous chart's defaults (new chart defaults are ignored, Helm's
/// trap); `--reset-then-reuse-values` puts them over the previous ones with the new chart's
/// defaults; with none of these, the previous values are kept when no new ones are given.
pub(crate) fn upgrade_values(
    values: &crate::values::ValuesFlags,
    mode: &crate::cli::ValueMode,
    previous: Option<&pb::GetResponse>,
) -> anyhow::Result<RenderValues> {
    let mut out = RenderValues {
        layers: values.layers()?,
        chart_values_json: None,
    };
    let Some(previous) = previous else {
        return Ok(out);
    };
    let reuse = if mode.reset_values {
        false
    } else if mode.reuse_values || mode.reset_then_reuse_values {
        true
    } else {
        values.is_empty()
    };
    if reuse && !previous.values_json.trim().is_empty() {
        out.layers.insert(
            0,
            rpb::ValuesLayer {
                layer: Some(rpb::values_layer::Layer::Json(previous.values_json.clone())),
            },
        );
    }
    let old_defaults = !mode.reset_values && mode.reuse_values;
    if old_defaults && !previous.chart_values_json.trim().is_empty() {
        out.chart_values_json = Some(previous.chart_values_json.clone());
    }
    Ok(out)
}

/// An upgrade's render: the latest revision (when there is one) and the chart rendered as its
/// successor, with the values the value flags pick.
pub(crate) struct UpgradeRender {
    /// The latest revision, as `get` returns it.
    pub previous: Option<pb::GetResponse>,
    /// Whether the upgrade installs (no release, or only an uninstalled one).
    pub installs: bool,
    /// The render.
    pub rendered: pb::Rendered,
}

/// Renders `chart` as the next revision of release `name`.
pub(crate) async fn render_upgrade(
    global: &Global,
    client: &mut applier::Client,
    name: &str,
    chart: &str,
    values: &crate::values::ValuesFlags,
    mode: &crate::cli::ValueMode,
) -> anyhow::Result<UpgradeRender> {
    let namespace = global.namespace();
    let previous = latest(client, name, &namespace).await?;
    let values = upgrade_values(values, mode, previous.as_ref())?;
    let latest_release = previous.as_ref().and_then(|p| p.release.as_ref());
    let installs = latest_release.is_none_or(|r| r.status == "uninstalled");
    let rendered = render(
        global,
        chart,
        values,
        rpb::ReleaseContext {
            name: name.to_owned(),
            namespace,
            revision: latest_release.map_or(1, |r| r.revision as i32 + 1),
            is_install: installs,
            is_upgrade: !installs,
        },
    )
    .await?;
    Ok(UpgradeRender {
        previous,
        installs,
        rendered,
    })
}

/// `capstan upgrade NAME CHART`.
pub async fn upgrade(global: &Global, args: UpgradeArgs) -> anyhow::Result<u8> {
    let (installs, result) = Signals::listen()?
        .cancellable(run_upgrade(global, &args))
        .await?;
    if args.output == Format::Table {
        if installs && args.install {
            outln!("Release {:?} does not exist. Installing it now.", args.name);
        } else {
            outln!("Release {:?} has been upgraded. Happy Helming!", args.name);
        }
    }
    print_result(&result, args.apply.dry_run.is_some(), args.output)?;
    Ok(0)
}

/// Renders and upgrades: the part of `upgrade` a signal cancels. Also says whether the upgrade
/// installed.
async fn run_upgrade(
    global: &Global,
    args: &UpgradeArgs,
) -> anyhow::Result<(bool, pb::OperationResult)> {
    let namespace = global.namespace();
    super::record_release(&args.name, &namespace);
    let mut client = applier::connect(global).await?;
    let UpgradeRender {
        installs, rendered, ..
    } = render_upgrade(
        global,
        &mut client,
        &args.name,
        &args.chart,
        &args.values,
        &args.value_mode(),
    )
    .await?;
    let span = operation_span("upgrade", &args.name, &namespace);
    let result = async {
        let stream = client
            .upgrade(pb::UpgradeRequest {
                name: args.name.clone(),
                namespace,
                rendered: Some(rendered),
                install: args.install,
                create_namespace: args.apply.create_namespace,
                wait: args.apply.wait,
                wait_for_jobs: args.apply.wait_for_jobs,
                timeout_millis: timeout_millis(&args.apply),
                atomic: args.apply.atomic,
                cleanup_on_fail: args.cleanup_on_fail,
                dry_run: args.apply.dry_run.clone().unwrap_or_default(),
                force: args.apply.force,
                history_max: Some(args.history_max),
                description: args.apply.description.clone().unwrap_or_default(),
                no_hooks: args.apply.no_hooks,
                skip_crds: args.apply.skip_crds,
                take_ownership: args.apply.take_ownership,
                lock_wait_millis: lock_wait_millis(args.apply.wait_for_lock, args.apply.timeout),
                server_side: args.apply.server_side.clone(),
                force_conflicts: args.apply.force_conflicts,
                labels: args.apply.labels.iter().cloned().collect(),
            })
            .await
            .map_err(exit::status)?
            .into_inner();
        follow(stream).await
    }
    .instrument(span)
    .await?;
    Ok((installs, result))
}

/// `capstan rollback NAME [REVISION]`.
pub async fn rollback(global: &Global, args: RollbackArgs) -> anyhow::Result<u8> {
    Signals::listen()?
        .cancellable(run_rollback(global, &args))
        .await?;
    outln!("Rollback was a success! Happy Helming!");
    Ok(0)
}

/// Rolls back: the part of `rollback` a signal cancels.
async fn run_rollback(global: &Global, args: &RollbackArgs) -> anyhow::Result<pb::OperationResult> {
    let mut client = applier::connect(global).await?;
    super::record_release(&args.name, &global.namespace());
    let span = operation_span("rollback", &args.name, &global.namespace());
    async {
        let stream = client
            .rollback(pb::RollbackRequest {
                name: args.name.clone(),
                namespace: global.namespace(),
                revision: args.revision.unwrap_or(0),
                wait: args.wait,
                wait_for_jobs: args.wait_for_jobs,
                timeout_millis: u64::try_from(args.timeout.as_millis()).unwrap_or(u64::MAX),
                force: args.force,
                cleanup_on_fail: args.cleanup_on_fail,
                history_max: Some(args.history_max),
                dry_run: args.dry_run,
                no_hooks: args.no_hooks,
                lock_wait_millis: lock_wait_millis(args.wait_for_lock, args.timeout),
                server_side: args.server_side.clone(),
                force_conflicts: args.force_conflicts,
            })
            .await
            .map_err(exit::status)?
            .into_inner();
        follow(stream).await
    }
    .instrument(span)
    .await
}

/// `capstan uninstall NAME...`.
pub async fn uninstall(global: &Global, args: UninstallArgs) -> anyhow::Result<u8> {
    let mut signals = Signals::listen()?;
    let mut client = signals.cancellable(applier::connect(global)).await?;
    for name in &args.names {
        super::record_release(name, &global.namespace());
        let span = operation_span("uninstall", name, &global.namespace());
        let operation = async {
            let stream = client
                .uninstall(pb::UninstallRequest {
                    name: name.clone(),
                    namespace: global.namespace(),
                    keep_history: args.keep_history,
                    wait: args.wait,
                    timeout_millis: u64::try_from(args.timeout.as_millis()).unwrap_or(u64::MAX),
                    dry_run: args.dry_run,
                    no_hooks: args.no_hooks,
                    description: args.description.clone().unwrap_or_default(),
                    cascade: args.cascade.clone(),
                    lock_wait_millis: lock_wait_millis(args.wait_for_lock, args.timeout),
                })
                .await
                .map_err(exit::status)?
                .into_inner();
            follow(stream).await
        }
        .instrument(span);
        let result = signals.cancellable(operation).await?;
        if !result.info.is_empty() {
            outln!("{}", result.info.trim_end());
        }
        outln!("release \"{name}\" uninstalled");
    }
    Ok(0)
}

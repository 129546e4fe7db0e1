//! `install`, `upgrade`, `rollback` and `uninstall`: render with the renderer, then stream the
//! operation from the applier, printing its progress and then the result as Helm does.

use std::time::Duration;

use anyhow::bail;
use capstan_proto::applier::v1 as pb;
use capstan_proto::renderer::v1 as rpb;
use tonic::Streaming;
use tracing::Instrument as _;

use crate::cli::{
    ApplyFlags, Format, Global, InstallArgs, RollbackArgs, UninstallArgs, UpgradeArgs,
};
use crate::console::{eoutln, out, outln};
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

/// How many rounds of lookups a render may take: each round answers the lookups the previous
/// render asked (a template can look up what an earlier lookup named).
const MAX_LOOKUP_ROUNDS: usize = 8;

/// Whether a render may read the cluster (`lookup`): install and upgrade (also
/// `--dry-run=none`), `--dry-run=server`; not a client dry run, as in Helm (nor a mode the
/// applier will refuse).
pub(crate) fn reads_cluster(dry_run: Option<&str>) -> bool {
    matches!(
        dry_run.map_or(Some(pb::DryRunMode::None), pb::DryRunMode::from_legacy),
        Some(pb::DryRunMode::None | pb::DryRunMode::Server)
    )
}

/// Whether `--dry-run` simulates (`client`, `server`; not `none`), so the result is printed as a
/// dry run's. A name no mode has counts as simulating: the applier refuses it.
fn simulates(dry_run: Option<&str>) -> bool {
    dry_run.is_some_and(|flag| pb::DryRunMode::from_legacy(flag) != Some(pb::DryRunMode::None))
}

/// `--dry-run` as the applier takes it: the mode newer appliers read and the name older ones
/// read. A name no mode has goes as given (mode unspecified), for the applier to refuse.
fn dry_run_fields(flag: Option<&str>) -> (i32, String) {
    let name = flag.unwrap_or_default();
    let mode = pb::DryRunMode::from_legacy(name).unwrap_or_default();
    (mode as i32, name.to_owned())
}

/// `--server-side` as the applier takes it: the enum newer appliers read, the name older ones
/// read (as [`dry_run_fields`]).
fn server_side_fields(flag: &str) -> (i32, String) {
    let mode = pb::ServerSide::from_legacy(flag).unwrap_or_default();
    (mode as i32, flag.to_owned())
}

/// Whether `--dry-run` asks the API server (`--dry-run=server`).
fn server_dry_run(flag: Option<&str>) -> bool {
    flag.and_then(pb::DryRunMode::from_legacy) == Some(pb::DryRunMode::Server)
}

/// How a release is rendered besides its values.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RenderOptions {
    /// Whether `lookup` reads the cluster (see [`reads_cluster`]).
    pub reads_cluster: bool,
    /// `--render-subchart-notes`.
    pub subchart_notes: bool,
}

impl RenderOptions {
    /// The options of install's and upgrade's flags.
    pub(crate) fn of(flags: &ApplyFlags) -> RenderOptions {
        RenderOptions {
            reads_cluster: reads_cluster(flags.dry_run.as_deref()),
            subchart_notes: flags.render_subchart_notes,
        }
    }
}

/// Renders `chart` for a release: loads and uploads it if the renderer lacks it, then renders.
/// With `reads_cluster`, the templates' `lookup` calls are answered from the cluster as the
/// user (through the applier, in-process or remote): the renderer says what it could not
/// answer, the applier reads it, and the chart is rendered again with the answers, until
/// nothing is left unanswered. The objects the release's last render looked up
/// ([`crate::lookups`]) are read while the chart is loaded and answered from the first render,
/// so a chart asking the same renders once.
pub(crate) async fn render(
    global: &Global,
    chart: crate::chart::ChartSpec<'_>,
    values: RenderValues,
    release: rpb::ReleaseContext,
    options: RenderOptions,
) -> anyhow::Result<rpb::RenderResponse> {
    let span = tracing::info_span!(
        "render",
        release = %release.name,
        namespace = %release.namespace,
        revision = release.revision,
    );
    let memory = options
        .reads_cluster
        .then(|| crate::lookups::Memory::of(global, &release.namespace, &release.name));
    let (chart, answers) = tokio::join!(
        crate::chart::prepare(global, chart).instrument(span.clone()),
        read_remembered(global, &release.namespace, memory.as_ref()).instrument(span.clone()),
    );
    let chart = chart?;
    let mut r = async {
        let mut client = renderer::connect(global).await?;
        let mut source = renderer::chart_source(&mut client, chart).await?;
        let mut answers: Option<rpb::Lookups> = answers;
        let mut asked: Vec<rpb::LookupKey> = Vec::new();
        let mut round = 0;
        loop {
            let mut r = client
                .render(rpb::RenderRequest {
                    chart: Some(source.clone()),
                    values: values.layers.clone(),
                    release: Some(release.clone()),
                    capabilities: None,
                    chart_values_json: values.chart_values_json.clone(),
                    lookups: answers.clone(),
                    lint_mode: false,
                    render_subchart_notes: options.subchart_notes,
                    omit_stored_chart: false,
                    omit_crds: false,
                    omit_release_texts: false,
                })
                .await
                .map_err(exit::status)?
                .into_inner();
            let Some(known) = answers
                .as_mut()
                .filter(|_| !r.lookups_unanswered.is_empty())
            else {
                return anyhow::Ok((r, answers, asked));
            };
            round += 1;
            if round > MAX_LOOKUP_ROUNDS {
                bail!(
                    "the chart's lookups did not settle after {MAX_LOOKUP_ROUNDS} rounds (still \
                     asking for {} objects)",
                    r.lookups_unanswered.len()
                );
            }
            asked.extend(r.lookups_unanswered.iter().cloned());
            let found = applier::connect(global)
                .await?
                .lookup(pb::LookupRequest {
                    namespace: release.namespace.clone(),
                    keys: r.lookups_unanswered.clone(),
                })
                .await
                .map_err(exit::status)?
                .into_inner();
            if settled_without(&r, &found) {
                r.lookups_unanswered.clear();
                known.answers.extend(found.answers);
                return Ok((r, answers, asked));
            }
            known.answers.extend(found.answers);
            source = rpb::ChartSource {
                source: Some(rpb::chart_source::Source::Digest(r.chart_digest)),
            };
        }
    }
    .instrument(span)
    .await
    .map(|(r, answers, asked)| {
        // What this render asked beyond what was remembered: remembered with it for next time.
        if let (Some(memory), Some(answers), false) = (&memory, &answers, asked.is_empty()) {
            let keys: Vec<rpb::LookupKey> = answers
                .answers
                .iter()
                .filter_map(|a| a.key.clone())
                .collect();
            memory.remember(&keys);
        }
        r
    })?;
    // The applier reads the whole `manifest`; the per-object copies would travel twice.
    r.manifests.clear();
    Ok(r)
}

/// The answers a render starts with when it may read the cluster: the objects `memory` says
/// the release's last render looked up, read now (none when nothing is remembered, or when
/// reading them fails: the render's own rounds then ask what it needs, and report failures).
async fn read_remembered(
    global: &Global,
    namespace: &str,
    memory: Option<&crate::lookups::Memory>,
) -> Option<rpb::Lookups> {
    let memory = memory?;
    let keys = memory.keys();
    if keys.is_empty() {
        return Some(rpb::Lookups::default());
    }
    let read = async {
        let found = applier::connect(global)
            .await?
            .lookup(pb::LookupRequest {
                namespace: namespace.to_owned(),
                keys,
            })
            .await
            .map_err(exit::status)?
            .into_inner();
        anyhow::Ok(found.answers)
    };
    match read.await {
        Ok(answers) => Some(rpb::Lookups { answers }),
        Err(e) => {
            tracing::debug!(error = %format!("{e:#}"), "reading the remembered lookups failed");
            Some(rpb::Lookups::default())
        }
    }
}

/// Whether render `r`, which asked lookups without answers, stands as the render with the
/// answers `found`: every object it asked for is missing. An unanswered lookup was answered
/// empty, as a missing object is, so rendering again with these answers would see the same
/// objects (and the render asked nothing else): it is the render Helm makes against this
/// cluster. Not for a render that failed after asking (returned provisional, with nothing
/// rendered): rendered again, its failure is the chart's own.
fn settled_without(r: &rpb::RenderResponse, found: &pb::LookupResponse) -> bool {
    let rendered_nothing =
        r.manifest.is_empty() && r.hooks.is_empty() && r.notes.is_empty() && r.crds.is_empty();
    !rendered_nothing
        && r.lookups_unanswered.iter().all(|key| {
            found
                .answers
                .iter()
                .any(|a| a.key.as_ref() == Some(key) && a.object_json.is_none())
        })
}

/// Asks the applier to prepare `operation` of release `name`: the values to render with by
/// Helm's rules, the release the templates see, and the revision to expect.
async fn prepare(
    client: &mut applier::Client,
    name: &str,
    namespace: &str,
    operation: pb::PrepareOperation,
    values: &[rpb::ValuesLayer],
    mode: &crate::cli::ValueMode,
) -> anyhow::Result<pb::PrepareResponse> {
    Ok(client
        .prepare(pb::PrepareRequest {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            operation: operation.into(),
            values: values.to_vec(),
            reuse_values: mode.reuse_values,
            reset_values: mode.reset_values,
            reset_then_reuse_values: mode.reset_then_reuse_values,
        })
        .await
        .map_err(exit::status)?
        .into_inner())
}

/// Renders `chart` as `plan` says.
async fn render_planned(
    global: &Global,
    chart: crate::chart::ChartSpec<'_>,
    plan: pb::PrepareResponse,
    options: RenderOptions,
) -> anyhow::Result<rpb::RenderResponse> {
    let values = RenderValues {
        layers: plan.values,
        chart_values_json: plan.chart_values_json,
    };
    render(
        global,
        chart,
        values,
        plan.release.unwrap_or_default(),
        options,
    )
    .await
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
async fn follow(
    stream: Streaming<pb::OperationEvent>,
    timeout: Duration,
) -> anyhow::Result<pb::OperationResult> {
    follow_dry(stream, false, timeout).await
}

/// [`follow`], saying of each object of a server-side dry run that it was only simulated
/// (`created (server dry run)`, as kubectl does).
async fn follow_dry(
    mut stream: Streaming<pb::OperationEvent>,
    server_dry_run: bool,
    timeout: Duration,
) -> anyhow::Result<pb::OperationResult> {
    let mut printer = ProgressPrinter::new(Some(timeout));
    let mut clock = tokio::time::interval(Duration::from_millis(500));
    loop {
        let message = tokio::select! {
            message = stream.message() => message,
            _ = clock.tick(), if printer.live() => {
                printer.tick();
                continue;
            }
        };
        let Some(mut event) = message.map_err(exit::status)? else {
            break;
        };
        if server_dry_run && let Some(pb::operation_event::Event::Object(object)) = &mut event.event
        {
            object.action = format!("{} (server dry run)", object.action);
        }
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

/// What install and upgrade print besides the release: the hooks of a dry run, and whether
/// the notes are hidden.
#[derive(Default)]
struct Printing {
    /// The rendered hooks.
    hooks: RenderedHooks,
    /// `--hide-notes`.
    hide_notes: bool,
}

/// The rendered hooks as Helm's output needs them.
#[derive(Default)]
struct RenderedHooks {
    /// As Helm's dry run prints them: `---\n# Source: <path>\n<yaml>\n` documents.
    text: String,
    /// Whether one is a test (Helm prints `TEST SUITE: None` only without one).
    tests: bool,
}

/// The rendered hooks as Helm's output needs them.
fn hooks_text(rendered: &rpb::RenderResponse) -> RenderedHooks {
    RenderedHooks {
        text: rendered
            .hooks
            .iter()
            .map(|h| format!("---\n# Source: {}\n{}\n", h.path, h.yaml))
            .collect(),
        tests: rendered
            .hooks
            .iter()
            .any(|h| h.events.iter().any(|e| e == "test" || e == "test-success")),
    }
}

/// Prints the result of install, upgrade or rollback as Helm does.
fn print_result(result: &pb::OperationResult, dry_run: bool, format: Format) -> anyhow::Result<()> {
    print_result_with(result, dry_run, format, &Printing::default())
}

/// [`print_result`] with a dry run's hooks and `--hide-notes`.
fn print_result_with(
    result: &pb::OperationResult,
    dry_run: bool,
    format: Format,
    printing: &Printing,
) -> anyhow::Result<()> {
    let release = result.release.clone().unwrap_or_default();
    match format {
        Format::Table => {
            out!("{}", output::release_summary(&release));
            if !printing.hooks.tests {
                outln!("TEST SUITE: None");
            }
            if dry_run && !printing.hooks.text.is_empty() {
                out!("HOOKS:\n{}", printing.hooks.text);
            }
            if dry_run && !result.manifest.is_empty() {
                outln!("MANIFEST:\n{}", result.manifest);
            }
            if !result.notes.is_empty() && !printing.hide_notes {
                outln!("NOTES:\n{}", result.notes.trim_end());
            }
        }
        Format::Json | Format::Yaml if !result.release_json.is_empty() => {
            super::read::print_release(&result.release_json, true, format == Format::Yaml)?;
        }
        Format::Json | Format::Yaml => {
            // An applier older than the dry run's record: the summary it answered.
            let value = serde_json::json!({
                "name": release.name,
                "namespace": release.namespace,
                "version": release.revision,
                "info": {
                    "status": release.status_name(),
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
    let (result, hooks) = Signals::listen()?
        .cancellable(run_install(global, &args))
        .await?;
    if args.output != Format::Table && !simulates(args.apply.dry_run.as_deref()) {
        print_stored(global, &result, args.output).await?;
    } else {
        let printing = Printing {
            hooks,
            hide_notes: args.apply.hide_notes,
        };
        print_result_with(
            &result,
            simulates(args.apply.dry_run.as_deref()),
            args.output,
            &printing,
        )?;
    }
    Ok(0)
}

/// Prints the revision an operation wrote as Helm's `-o json|yaml` does: the whole release
/// record, chart included.
async fn print_stored(
    global: &Global,
    result: &pb::OperationResult,
    format: Format,
) -> anyhow::Result<()> {
    let release = result.release.clone().unwrap_or_default();
    let mut client = applier::connect(global).await?;
    let got = client
        .get(pb::GetRequest {
            name: release.name.clone(),
            namespace: release.namespace.clone(),
            revision: release.revision,
            all_values: false,
        })
        .await
        .map_err(exit::status)?
        .into_inner();
    if got.release_json.is_empty() {
        return print_result(result, false, format);
    }
    super::read::print_release(&got.release_json, true, format == Format::Yaml)
}

/// Renders and installs: the part of `install` a signal cancels.
async fn run_install(
    global: &Global,
    args: &InstallArgs,
) -> anyhow::Result<(pb::OperationResult, RenderedHooks)> {
    // Once: `--generate-name` names by the clock.
    let (name, chart) = args.name_and_chart().map_err(anyhow::Error::msg)?;
    super::record_release(&name, &global.namespace());
    let mut client = applier::connect(global).await?;
    let layers = args.values.layers()?;
    let mut prepared = 1;
    loop {
        match install_once(global, args, (&name, &chart), &mut client, &layers).await {
            Err(error) if prepared < MAX_PREPARES && moved(&error) => prepared += 1,
            outcome => return outcome,
        }
    }
}

/// How many times an install or upgrade is prepared, rendered and sent when the release moves
/// in between (the applier answers `ABORTED` and has written nothing: preparing again is the
/// answer).
const MAX_PREPARES: usize = 5;

/// Whether `error` is the applier's answer that the release moved since the operation was
/// prepared; says so on standard error.
fn moved(error: &anyhow::Error) -> bool {
    let Some(service) = error
        .chain()
        .filter_map(|e| e.downcast_ref::<ServiceError>())
        .find(|s| s.code == tonic::Code::Aborted)
    else {
        return false;
    };
    let what = service.message.trim_end_matches("; run it again");
    eoutln!("{what}: preparing it again");
    true
}

/// Prepares, renders and installs once.
async fn install_once(
    global: &Global,
    args: &InstallArgs,
    (name, chart): (&str, &str),
    client: &mut applier::Client,
    layers: &[rpb::ValuesLayer],
) -> anyhow::Result<(pb::OperationResult, RenderedHooks)> {
    let namespace = global.namespace();
    let plan = prepare(
        client,
        name,
        &namespace,
        pb::PrepareOperation::Install,
        layers,
        &crate::cli::ValueMode::default(),
    )
    .await?;
    let expected_revision = plan.expected_revision;
    let spec = crate::chart::ChartSpec {
        reference: chart,
        version: args.apply.version.as_deref(),
        source: &args.source,
    };
    let mut rendered = render_planned(global, spec, plan, RenderOptions::of(&args.apply)).await?;
    rendered.manifest = crate::postrender::run(&args.apply.post_render, &rendered.manifest)?;
    let hooks = hooks_text(&rendered);
    let span = operation_span("install", name, &namespace);
    let server_dry_run = server_dry_run(args.apply.dry_run.as_deref());
    let (dry_run_mode, dry_run) = dry_run_fields(args.apply.dry_run.as_deref());
    let (server_side_mode, server_side) = server_side_fields(&args.apply.server_side);
    let result = async {
        let stream = client
            .install(pb::InstallRequest {
                name: name.to_owned(),
                namespace,
                render: Some(rendered),
                expected_revision: Some(expected_revision),
                create_namespace: args.apply.create_namespace,
                wait: args.apply.waits(),
                wait_for_jobs: args.apply.wait_for_jobs,
                timeout_millis: timeout_millis(&args.apply),
                atomic: args.apply.atomic,
                dry_run,
                dry_run_mode,
                description: args.apply.description.clone().unwrap_or_default(),
                replace: args.replace,
                no_hooks: args.apply.no_hooks,
                skip_crds: args.apply.skip_crds,
                force: args.apply.force,
                take_ownership: args.apply.take_ownership,
                rendered: None,
                lock_wait_millis: lock_wait_millis(args.apply.wait_for_lock, args.apply.timeout),
                server_side,
                server_side_mode,
                force_conflicts: args.apply.force_conflicts,
                labels: args.apply.labels.iter().cloned().collect(),
                recover: args.apply.recover,
            })
            .await
            .map_err(exit::status)?
            .into_inner();
        follow_dry(stream, server_dry_run, args.apply.timeout).await
    }
    .instrument(span)
    .await?;
    Ok((result, hooks))
}

/// `template --validate`: what an install (or, for an existing release, an upgrade) of the
/// rendered chart would send, checked by the API server (a server-side dry run: every kind
/// must exist and every object pass the server's validation); nothing is changed.
pub(crate) async fn validate(
    global: &Global,
    name: &str,
    rendered: &rpb::RenderResponse,
) -> anyhow::Result<()> {
    let namespace = global.namespace();
    let mut client = applier::connect(global).await?;
    let stream = client
        .upgrade(pb::UpgradeRequest {
            name: name.to_owned(),
            namespace,
            render: Some(rpb::RenderResponse {
                manifests: Vec::new(),
                ..rendered.clone()
            }),
            install: true,
            dry_run: pb::DryRunMode::Server.legacy_name().into(),
            dry_run_mode: pb::DryRunMode::Server as i32,
            timeout_millis: millis(Duration::from_secs(300)),
            server_side: pb::ServerSide::Auto.legacy_name().into(),
            server_side_mode: pb::ServerSide::Auto as i32,
            ..pb::UpgradeRequest::default()
        })
        .await
        .map_err(exit::status)?
        .into_inner();
    output::set_quiet(true);
    let outcome = follow(stream, Duration::from_secs(300)).await;
    output::set_quiet(false);
    outcome
        .map(|_| ())
        .map_err(|e| e.context("the rendered manifests do not validate against the cluster"))
}

/// An upgrade's render: the chart rendered as the successor of the latest revision, with the
/// values the applier's plan picks (Helm's value flags).
pub(crate) struct UpgradeRender {
    /// The latest revision's manifest ("" when there is none).
    pub previous_manifest: String,
    /// Whether the upgrade installs (no release, or only an uninstalled one).
    pub installs: bool,
    /// The latest revision the render was prepared against (0: none).
    pub expected_revision: u32,
    /// The render.
    pub rendered: rpb::RenderResponse,
}

/// Renders `chart` as the next revision of release `name`, as the applier prepares it.
pub(crate) async fn render_upgrade(
    global: &Global,
    client: &mut applier::Client,
    name: &str,
    chart: crate::chart::ChartSpec<'_>,
    values: &[rpb::ValuesLayer],
    mode: &crate::cli::ValueMode,
    options: RenderOptions,
) -> anyhow::Result<UpgradeRender> {
    let namespace = global.namespace();
    let mut plan = prepare(
        client,
        name,
        &namespace,
        pb::PrepareOperation::Upgrade,
        values,
        mode,
    )
    .await?;
    let installs = plan.release.as_ref().is_some_and(|r| r.is_install);
    let previous_manifest = std::mem::take(&mut plan.previous_manifest);
    let expected_revision = plan.expected_revision;
    let rendered = render_planned(global, chart, plan, options).await?;
    Ok(UpgradeRender {
        previous_manifest,
        installs,
        expected_revision,
        rendered,
    })
}

/// `capstan upgrade NAME CHART`.
pub async fn upgrade(global: &Global, args: UpgradeArgs) -> anyhow::Result<u8> {
    let (installs, result, hooks) = Signals::listen()?
        .cancellable(run_upgrade(global, &args))
        .await?;
    if args.output == Format::Table {
        if installs && args.install {
            outln!("Release {:?} does not exist. Installing it now.", args.name);
        } else {
            outln!("Release {:?} has been upgraded. Happy Helming!", args.name);
        }
    }
    if args.output != Format::Table && !simulates(args.apply.dry_run.as_deref()) {
        print_stored(global, &result, args.output).await?;
    } else {
        let printing = Printing {
            hooks,
            hide_notes: args.apply.hide_notes,
        };
        print_result_with(
            &result,
            simulates(args.apply.dry_run.as_deref()),
            args.output,
            &printing,
        )?;
    }
    Ok(0)
}

/// Renders and upgrades: the part of `upgrade` a signal cancels. Also says whether the upgrade
/// installed.
async fn run_upgrade(
    global: &Global,
    args: &UpgradeArgs,
) -> anyhow::Result<(bool, pb::OperationResult, RenderedHooks)> {
    super::record_release(&args.name, &global.namespace());
    let mut client = applier::connect(global).await?;
    let layers = args.values.layers()?;
    let mut prepared = 1;
    loop {
        match upgrade_once(global, args, &mut client, &layers).await {
            Err(error) if prepared < MAX_PREPARES && moved(&error) => prepared += 1,
            outcome => return outcome,
        }
    }
}

/// Prepares, renders and upgrades once.
async fn upgrade_once(
    global: &Global,
    args: &UpgradeArgs,
    client: &mut applier::Client,
    layers: &[rpb::ValuesLayer],
) -> anyhow::Result<(bool, pb::OperationResult, RenderedHooks)> {
    let namespace = global.namespace();
    let UpgradeRender {
        installs,
        mut rendered,
        expected_revision,
        ..
    } = render_upgrade(
        global,
        client,
        &args.name,
        crate::chart::ChartSpec {
            reference: &args.chart,
            version: args.apply.version.as_deref(),
            source: &args.source,
        },
        layers,
        &args.value_mode(),
        RenderOptions::of(&args.apply),
    )
    .await?;
    rendered.manifest = crate::postrender::run(&args.apply.post_render, &rendered.manifest)?;
    let hooks = hooks_text(&rendered);
    let server_dry_run = server_dry_run(args.apply.dry_run.as_deref());
    let (dry_run_mode, dry_run) = dry_run_fields(args.apply.dry_run.as_deref());
    let (server_side_mode, server_side) = server_side_fields(&args.apply.server_side);
    let span = operation_span("upgrade", &args.name, &namespace);
    let result = async {
        let stream = client
            .upgrade(pb::UpgradeRequest {
                name: args.name.clone(),
                namespace,
                render: Some(rendered),
                expected_revision: Some(expected_revision),
                rendered: None,
                install: args.install,
                create_namespace: args.apply.create_namespace,
                wait: args.apply.waits(),
                wait_for_jobs: args.apply.wait_for_jobs,
                timeout_millis: timeout_millis(&args.apply),
                atomic: args.apply.atomic,
                cleanup_on_fail: args.cleanup_on_fail,
                dry_run,
                dry_run_mode,
                force: args.apply.force,
                history_max: Some(args.history_max),
                description: args.apply.description.clone().unwrap_or_default(),
                no_hooks: args.apply.no_hooks,
                skip_crds: args.apply.skip_crds,
                take_ownership: args.apply.take_ownership,
                lock_wait_millis: lock_wait_millis(args.apply.wait_for_lock, args.apply.timeout),
                server_side,
                server_side_mode,
                force_conflicts: args.apply.force_conflicts,
                labels: args.apply.labels.iter().cloned().collect(),
                recover: args.apply.recover,
            })
            .await
            .map_err(exit::status)?
            .into_inner();
        follow_dry(stream, server_dry_run, args.apply.timeout).await
    }
    .instrument(span)
    .await?;
    Ok((installs, result, hooks))
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
                server_side_mode: server_side_fields(&args.server_side).0,
                force_conflicts: args.force_conflicts,
                recover: args.recover,
            })
            .await
            .map_err(exit::status)?
            .into_inner();
        follow(stream, args.timeout).await
    }
    .instrument(span)
    .await
}

/// Whether an error is the applier's "no such release".
fn release_missing(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<ServiceError>())
        .any(|s| s.code == tonic::Code::NotFound && s.message.ends_with("not found"))
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
                    cascade_mode: pb::Cascade::from_legacy(&args.cascade).unwrap_or_default()
                        as i32,
                    lock_wait_millis: lock_wait_millis(args.wait_for_lock, args.timeout),
                    recover: args.recover,
                })
                .await
                .map_err(exit::status)?
                .into_inner();
            follow(stream, args.timeout).await
        }
        .instrument(span);
        let result = match signals.cancellable(operation).await {
            Err(error) if args.ignore_not_found && release_missing(&error) => {
                // Helm's words for a release it did not find with --ignore-not-found.
                outln!("release \"{name}\" uninstalled");
                continue;
            }
            outcome => outcome?,
        };
        if !result.info.is_empty() {
            // As Helm prints it: the list's own line end, then a blank line.
            outln!("{}", result.info);
        }
        if !args.keep_history && !args.dry_run {
            // Gone with its history: nothing of it is looked up again.
            crate::lookups::Memory::of(global, &global.namespace(), name).forget();
        }
        outln!("release \"{name}\" uninstalled");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_names_mean_what_the_applier_reads() {
        for (flag, reads, simulated) in [
            (None, true, false),
            (Some("none"), true, false),
            (Some("false"), true, false),
            (Some("server"), true, true),
            (Some("client"), false, true),
            (Some("true"), false, true),
            (Some("sideways"), false, true),
        ] {
            assert_eq!(reads_cluster(flag), reads, "{flag:?}");
            assert_eq!(simulates(flag), simulated, "{flag:?}");
        }
        assert_eq!(
            dry_run_fields(Some("server")),
            (pb::DryRunMode::Server as i32, "server".to_owned())
        );
        assert_eq!(
            dry_run_fields(None),
            (pb::DryRunMode::None as i32, String::new())
        );
        // Unknown: sent as given, for the applier to refuse by name.
        assert_eq!(dry_run_fields(Some("sideways")), (0, "sideways".to_owned()));
        assert_eq!(
            server_side_fields("false"),
            (pb::ServerSide::False as i32, "false".to_owned())
        );
    }
}

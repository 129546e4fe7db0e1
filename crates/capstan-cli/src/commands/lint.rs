//! `capstan lint`: examine charts for possible issues, as `helm lint` does.
//!
//! Each chart is loaded locally (Chart.yaml, values.yaml, the values schema) and then rendered
//! through the renderer service exactly as `template` renders it, so template errors are the
//! ones an install would hit. The rules and their messages are capstan-lint's; this command reads
//! the arguments, renders, and prints Helm's output: `==> Linting PATH`, one
//! `[SEVERITY] file: problem` line per finding, and a closing `N chart(s) linted, M chart(s) failed`.

use std::path::{Path, PathBuf};

use anyhow::bail;
use capstan_chart::ValueLayer;
use capstan_lint::{ChartLint, Findings, Severity};
use capstan_proto::renderer::v1 as pb;

use crate::cli::{Global, LintArgs};
use crate::console::outln;
use crate::renderer;

/// The values flags, read once, in the two forms lint needs: the renderer's layers and the
/// chart crate's (for the local schema check).
struct Layers {
    wire: Vec<pb::ValuesLayer>,
    local: Vec<ValueLayer>,
}

impl Layers {
    fn new(args: &LintArgs) -> anyhow::Result<Layers> {
        use pb::values_layer::Layer;
        let wire = args.values.layers()?;
        let local = wire
            .iter()
            .enumerate()
            .filter_map(|(i, layer)| {
                Some(match layer.layer.clone()? {
                    Layer::File(contents) => ValueLayer::File {
                        name: args
                            .values
                            .files
                            .get(i)
                            .cloned()
                            .unwrap_or_else(|| format!("values layer {}", i + 1)),
                        contents,
                    },
                    Layer::Json(contents) => ValueLayer::File {
                        name: format!("values layer {}", i + 1),
                        contents,
                    },
                    Layer::Set(e) => ValueLayer::Set(e),
                    Layer::SetString(e) => ValueLayer::SetString(e),
                    Layer::SetJson(e) => ValueLayer::SetJson(e),
                    Layer::SetFile(f) => ValueLayer::SetFile(f.expression),
                })
            })
            .collect();
        Ok(Layers { wire, local })
    }
}

pub async fn run(global: &Global, args: LintArgs) -> anyhow::Result<u8> {
    let mut paths = Vec::new();
    // Charts named by reference are downloaded into a directory that lives until the end.
    let downloads = tempfile::tempdir()?;
    for path in &args.paths {
        let path = match capstan_repo::ChartRef::parse(path, args.source.repo.as_deref()) {
            capstan_repo::ChartRef::Local(_) | capstan_repo::ChartRef::Missing(_) => {
                PathBuf::from(path)
            }
            _ => {
                let spec = crate::chart::ChartSpec {
                    reference: path,
                    version: args.version.as_deref(),
                    source: &args.source,
                };
                let fetched = crate::chart::resolve(global, spec).await?;
                let file = downloads.path().join(&fetched.file_name);
                std::fs::write(&file, &fetched.archive)?;
                file
            }
        };
        paths.push(path.clone());
        if args.with_subcharts {
            capstan_lint::subcharts(&path, &mut paths);
        }
    }
    let layers = Layers::new(&args)?;
    let mut client = renderer::connect(global).await?;
    let mut failed = 0usize;
    for path in &paths {
        let findings = lint_chart(&mut client, global, &args, path, &layers).await;
        let worst = findings.worst();
        if findings.fails(args.strict) {
            failed += 1;
        }
        if global.quiet && worst.is_none_or(|w| w == Severity::Info) {
            continue;
        }
        outln!("==> Linting {}", path.display());
        for finding in &findings.0 {
            if !(global.quiet && finding.severity == Severity::Info) {
                outln!("{finding}");
            }
        }
        outln!();
    }
    let summary = format!("{} chart(s) linted, {failed} chart(s) failed", paths.len());
    if failed > 0 {
        bail!(summary);
    }
    outln!("{summary}");
    Ok(0)
}

/// Lints one chart: capstan-lint's checks, then a render through the renderer service.
async fn lint_chart(
    client: &mut renderer::Client,
    global: &Global,
    args: &LintArgs,
    path: &Path,
    layers: &Layers,
) -> Findings {
    let mut lint = capstan_lint::lint_chart(path, &layers.local);
    if lint.renders()
        && let Err(error) = lint_render(&mut lint, client, global, args, path, layers).await
    {
        lint.render_failed(&format!("{error:#}"));
    }
    lint.into_findings()
}

/// Renders the chart through the renderer service (as `template` does) and checks every
/// rendered object. A render error becomes one finding naming the file, line and column.
async fn lint_render(
    lint: &mut ChartLint,
    client: &mut renderer::Client,
    global: &Global,
    args: &LintArgs,
    path: &Path,
    layers: &Layers,
) -> anyhow::Result<()> {
    let archive = crate::chart::archive(path)?;
    let source = renderer::ensure_chart(client, archive).await?;
    let mut capabilities = pb::Capabilities::default();
    if let Some(version) = &args.kube_version {
        capabilities.kube_version = version.clone();
        if let Some(version) = capstan_lint::kube_version(version) {
            lint.set_kube_version(version);
        }
    }
    let request = pb::RenderRequest {
        chart: Some(source),
        values: layers.wire.clone(),
        release: Some(pb::ReleaseContext {
            name: "release-name".into(),
            namespace: global.namespace(),
            revision: 1,
            is_install: true,
            is_upgrade: false,
        }),
        capabilities: Some(capabilities),
        chart_values_json: None,
        lookups: None,
        // As Helm's lint: a missing `required` value or a `fail` is logged, not an error.
        lint_mode: true,
        render_subchart_notes: false,
        omit_stored_chart: false,
        omit_crds: false,
        omit_release_texts: false,
    };
    let rendered = match client.render(request).await {
        Ok(response) => response.into_inner(),
        Err(status)
            if status.code() == tonic::Code::InvalidArgument
                && !status.message().contains(capstan_lint::SCHEMA_FAILURE) =>
        {
            lint.template_error(status.message());
            return Ok(());
        }
        Err(status) => return Err(renderer::status(status)),
    };
    // Helm's engine logs these on standard error in lint mode; the lint itself passes.
    for message in &rendered.lint_messages {
        crate::console::eoutln!("[INFO] {message}");
    }
    for manifest in rendered.manifests.iter().filter(|m| !m.kind.is_empty()) {
        lint.check_object(
            &manifest.source,
            &manifest.api_version,
            &manifest.kind,
            &manifest.name,
        );
    }
    for hook in &rendered.hooks {
        lint.check_hook(&hook.path, &hook.yaml, &hook.kind, &hook.name);
    }
    Ok(())
}

//! `capstan template`: render a chart and print (or write) the manifests, as `helm template` does.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use capstan_proto::renderer::v1 as pb;

use crate::cli::{Global, TemplateArgs};
use crate::console::{out, outln};
use crate::renderer;

/// One output document: the template it came from and its YAML.
struct Document {
    source: String,
    yaml: String,
}

pub async fn run(global: &Global, args: TemplateArgs) -> anyhow::Result<u8> {
    let (name, chart) = match (args.args.as_slice(), args.generate_name) {
        ([chart], true) => {
            let seconds = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            (crate::cli::generate_name(chart, seconds), chart.clone())
        }
        ([chart], false) => ("release-name".to_string(), chart.clone()),
        ([name, chart], false) => (name.clone(), chart.clone()),
        _ => bail!("template takes [NAME] CHART (only CHART with --generate-name)"),
    };
    let spec = crate::chart::ChartSpec {
        reference: &chart,
        version: args.version.as_deref(),
        source: &args.source,
    };
    let chart = crate::chart::prepare(global, spec).await?;
    let layers = args.values.layers()?;
    let mut client = renderer::connect(global).await?;
    let source = renderer::chart_source(&mut client, chart).await?;
    let mut capabilities = pb::Capabilities::default();
    if let Some(version) = &args.kube_version {
        capabilities.kube_version = version.clone();
    }
    capabilities.api_versions = args.api_versions.clone();
    let request = pb::RenderRequest {
        chart: Some(source),
        values: layers,
        release: Some(pb::ReleaseContext {
            name: name.clone(),
            namespace: global.namespace(),
            revision: 1,
            is_install: !args.is_upgrade,
            is_upgrade: args.is_upgrade,
        }),
        capabilities: Some(capabilities),
        chart_values_json: None,
        lookups: None,
        lint_mode: false,
        render_subchart_notes: false,
        // `--validate` hands the render to the applier as a dry-run install, which takes it whole.
        omit_stored_chart: !args.validate,
        omit_crds: !args.include_crds && !args.validate,
        omit_release_texts: !args.validate,
    };
    let rendered = renderer::render(&mut client, request)
        .await
        .map_err(renderer::status)?;
    if args.validate {
        super::release::validate(global, &name, &rendered).await?;
    }

    // Taken apart: the documents move out of the response rather than being copied.
    let pb::RenderResponse {
        crds,
        manifests,
        hooks,
        ..
    } = rendered;
    let mut documents: Vec<Document> = Vec::new();
    if args.include_crds {
        // Helm prints each CRD file as written, parents' before subcharts'.
        documents.extend(crds.into_iter().map(|c| Document {
            source: c.path,
            yaml: c.yaml,
        }));
    }
    let manifests: Vec<Document> = manifests
        .into_iter()
        .map(|m| Document {
            source: m.source,
            yaml: m.yaml,
        })
        .collect();
    if args.post_render.post_renderer.is_some() {
        let text: String = manifests
            .iter()
            .map(|d| format!("---\n# Source: {}\n{}\n", d.source, d.yaml))
            .collect();
        let rendered_text = crate::postrender::run(&args.post_render, &text)?;
        documents.extend(post_rendered(&rendered_text));
    } else {
        documents.extend(manifests);
    }
    // Helm prints the manifest (CRDs and manifests) with `Fprintln` after trimming it: a blank
    // line when there is none.
    let blank_first = documents.is_empty() && args.show_only.is_empty();
    if !args.no_hooks {
        documents.extend(
            hooks
                .into_iter()
                .filter(|h| !(args.skip_tests && h.events.iter().any(|e| e.starts_with("test"))))
                .map(|h| Document {
                    source: h.path,
                    yaml: h.yaml,
                }),
        );
    }
    if !args.show_only.is_empty() {
        for wanted in &args.show_only {
            if !documents.iter().any(|d| shows(&d.source, wanted)) {
                bail!("could not find template {wanted} in chart");
            }
        }
        documents.retain(|d| args.show_only.iter().any(|w| shows(&d.source, w)));
    }

    match &args.output_dir {
        None => {
            let size: usize = documents
                .iter()
                .map(|d| d.source.len() + d.yaml.len() + 16)
                .sum();
            let mut out = String::with_capacity(size + 1);
            if blank_first {
                out.push('\n');
            }
            for d in &documents {
                let _ = write!(out, "---\n# Source: {}\n{}\n", d.source, d.yaml);
            }
            out!("{out}");
        }
        Some(dir) if args.release_name => write_output_dir(&dir.join(&name), &documents)?,
        Some(dir) => write_output_dir(dir, &documents)?,
    }
    Ok(0)
}

/// A post-renderer's output as documents, each keeping its `# Source:` line when it kept one.
fn post_rendered(text: &str) -> Vec<Document> {
    let mut documents = Vec::new();
    for part in text.split("\n---") {
        let part = part.strip_prefix("---").unwrap_or(part).trim_matches('\n');
        if part.trim().is_empty() {
            continue;
        }
        let (source, yaml) = match part.strip_prefix("# Source: ") {
            Some(rest) => rest.split_once('\n').unwrap_or((rest, "")),
            None => ("post-renderer", part),
        };
        documents.push(Document {
            source: source.to_owned(),
            yaml: yaml.to_owned(),
        });
    }
    documents
}

/// Whether a document from `source` (e.g. `webapp/templates/web.yaml`) is selected by `wanted`
/// (`templates/web.yaml` or the full `webapp/templates/web.yaml`).
fn shows(source: &str, wanted: &str) -> bool {
    let wanted = wanted.trim_start_matches("./");
    source == wanted
        || source
            .split_once('/')
            .is_some_and(|(_, rest)| rest == wanted)
}

fn write_output_dir(dir: &Path, documents: &[Document]) -> anyhow::Result<()> {
    let mut written: Vec<String> = Vec::new();
    for d in documents {
        if d.source
            .split('/')
            .any(|part| part == ".." || part.is_empty())
        {
            bail!(
                "refusing to write {}: not a relative path inside the output directory",
                d.source
            );
        }
        let path = dir.join(&d.source);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let append = written.contains(&d.source);
        let mut text = String::new();
        let _ = write!(text, "---\n# Source: {}\n{}\n", d.source, d.yaml);
        if append {
            let mut existing = std::fs::read_to_string(&path)?;
            existing.push_str(&text);
            std::fs::write(&path, existing)?;
        } else {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            written.push(d.source.clone());
            outln!("wrote {}", path.display());
        }
    }
    Ok(())
}

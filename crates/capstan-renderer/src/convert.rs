//! Conversions between the renderer's protobuf messages and the chart and render crates' types.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use capstan_chart::{Chart, ChartFile, ValueLayer};
use capstan_proto::renderer::v1 as pb;
use capstan_release::StoredChart;
use capstan_render::{Capabilities, CompiledChart, ReleaseInfo, Rendered};
use serde_json::Value;
use tonic::Status;

/// The values layers of a request, and the files `--set-file` layers may read.
pub fn layers(values: Vec<pb::ValuesLayer>) -> (Vec<ValueLayer>, Vec<(String, String)>) {
    let mut layers = Vec::with_capacity(values.len());
    let mut files = Vec::new();
    for (i, layer) in values.into_iter().enumerate() {
        use pb::values_layer::Layer;
        let Some(layer) = layer.layer else { continue };
        layers.push(match layer {
            Layer::File(contents) => ValueLayer::File {
                name: format!("values layer {}", i + 1),
                contents,
            },
            // JSON is YAML: previous releases' values arrive as JSON objects.
            Layer::Json(contents) => ValueLayer::File {
                name: "previous release values".into(),
                contents,
            },
            Layer::Set(expr) => ValueLayer::Set(expr),
            Layer::SetString(expr) => ValueLayer::SetString(expr),
            Layer::SetJson(expr) => ValueLayer::SetJson(expr),
            Layer::SetFile(set_file) => {
                files.extend(set_file.files);
                ValueLayer::SetFile(set_file.expression)
            }
        });
    }
    (layers, files)
}

/// The bytes of values a request carries: every layer's text and every `--set-file` file.
pub fn values_bytes(values: &[pb::ValuesLayer]) -> usize {
    use pb::values_layer::Layer;
    values
        .iter()
        .filter_map(|l| l.layer.as_ref())
        .map(|layer| match layer {
            Layer::File(s) | Layer::Json(s) | Layer::Set(s) | Layer::SetString(s) => s.len(),
            Layer::SetJson(s) => s.len(),
            Layer::SetFile(f) => {
                f.expression.len()
                    + f.files
                        .iter()
                        .map(|(p, c)| p.len() + c.len())
                        .sum::<usize>()
            }
        })
        .fold(0usize, usize::saturating_add)
}

/// The release a render is for; revision 0 counts as 1.
pub fn release(context: Option<pb::ReleaseContext>) -> ReleaseInfo {
    let context = context.unwrap_or_default();
    let revision = u64::try_from(context.revision.max(1)).unwrap_or(1);
    let mut info = ReleaseInfo::install(&context.name, &context.namespace);
    info.revision = revision;
    info.is_install = context.is_install || !context.is_upgrade;
    info.is_upgrade = context.is_upgrade;
    info
}

/// The capabilities of the target cluster: the request's API versions on top of the defaults.
pub fn capabilities(capabilities: Option<pb::Capabilities>) -> Capabilities {
    let mut out = Capabilities::default();
    if let Some(c) = capabilities {
        if !c.kube_version.is_empty() {
            out.kube_version = c.kube_version;
        }
        for version in c.api_versions {
            if !out.api_versions.contains(&version) {
                out.api_versions.push(version);
            }
        }
    }
    out
}

/// The caller's answers to `lookup` (`None`: the render may not read the cluster).
pub fn lookups(
    lookups: Option<pb::Lookups>,
) -> Result<Option<std::sync::Arc<capstan_render::Lookups>>, Status> {
    let Some(lookups) = lookups else {
        return Ok(None);
    };
    let mut out = capstan_render::Lookups::new();
    for answer in lookups.answers {
        let key = lookup_key(answer.key.unwrap_or_default());
        let object = answer
            .object_json
            .as_deref()
            .map(serde_json::from_str::<Value>)
            .transpose()
            .map_err(|e| {
                Status::invalid_argument(format!("the answer to lookup {key} is not JSON: {e}"))
            })?;
        out.answer(key, object);
    }
    Ok(Some(std::sync::Arc::new(out)))
}

/// A lookup key from the wire.
pub fn lookup_key(key: pb::LookupKey) -> capstan_render::LookupKey {
    capstan_render::LookupKey {
        api_version: key.api_version,
        kind: key.kind,
        namespace: key.namespace,
        name: key.name,
    }
}

/// A lookup key for the wire.
pub fn lookup_key_pb(key: capstan_render::LookupKey) -> pb::LookupKey {
    pb::LookupKey {
        api_version: key.api_version,
        kind: key.kind,
        namespace: key.namespace,
        name: key.name,
    }
}

/// The chart defaults a request puts in place of the chart's `values.yaml`: a JSON object.
pub fn chart_values(json: &str) -> Result<capstan_chart::Values, Status> {
    serde_json::from_str(json).map_err(|e| {
        Status::invalid_argument(format!(
            "chart_values_json is not a JSON object of values: {e}"
        ))
    })
}

/// What a caller asked to leave out of a response (`RenderRequest.omit_*`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Omit {
    /// The stored chart's JSON (the caller keeps no release).
    pub stored_chart: bool,
    /// The chart's CRD files (the caller neither prints nor installs them).
    pub crds: bool,
    /// The joined manifest, the values' JSON and the chart's metadata (the caller prints only
    /// the documents).
    pub release_texts: bool,
}

/// A render's response; `chart_values` replaces the chart's defaults in the stored chart when
/// the render used them.
pub fn response(
    digest: String,
    compiled: &Arc<CompiledChart>,
    chart_values: Option<&capstan_chart::Values>,
    user: &capstan_chart::Values,
    rendered: Rendered,
    omit: Omit,
) -> pb::RenderResponse {
    let texts = !omit.release_texts;
    let manifest = if texts {
        rendered.manifest()
    } else {
        String::new()
    };
    let chart = compiled.chart();
    let stored_chart_json = match chart_values {
        _ if omit.stored_chart => String::new(),
        None => stored_chart_json(compiled),
        Some(values) => {
            let mut stored = stored_chart(chart);
            stored.values = Some(values.clone());
            stored_json(&stored)
        }
    };
    pb::RenderResponse {
        chart_digest: digest,
        manifest,
        notes: rendered.notes.clone(),
        chart_metadata_json: if texts {
            serde_json::to_string(&rendered.chart).unwrap_or_default()
        } else {
            String::new()
        },
        merged_values_json: if texts {
            compiled.merged_values_json(chart_values, user, &rendered)
        } else {
            String::new()
        },
        user_values_json: if texts {
            serde_json::to_string(user).unwrap_or_default()
        } else {
            String::new()
        },
        stored_chart_json,
        crds: if omit.crds {
            Vec::new()
        } else {
            rendered
                .crds
                .into_iter()
                .map(|(path, yaml)| pb::Crd { path, yaml })
                .collect()
        },
        manifests: rendered
            .manifests
            .into_iter()
            .map(|m| pb::Manifest {
                source: m.source,
                api_version: m.api_version,
                kind: m.kind,
                name: m.name,
                namespace: m.namespace.unwrap_or_default(),
                yaml: m.content,
            })
            .collect(),
        hooks: rendered
            .hooks
            .into_iter()
            .map(|h| pb::Hook {
                name: h.name,
                kind: h.kind,
                path: h.path,
                yaml: h.manifest,
                events: h.events.iter().map(|e| e.as_str().to_string()).collect(),
                weight: h.weight,
                delete_policies: h
                    .delete_policies
                    .iter()
                    .map(|p| p.as_str().to_string())
                    .collect(),
            })
            .collect(),
        lookups_unanswered: rendered
            .lookups_unanswered
            .into_iter()
            .map(lookup_key_pb)
            .collect(),
        lint_messages: rendered.lint_messages,
    }
}

/// The stored chart's JSON of `compiled`'s chart: the same for every render of that chart (every
/// template and file base64-encoded), so the last few are kept. They are known by the compiled
/// chart itself, not by a digest: an in-process hand-over's digest names only the files
/// compiling reads, so two charts differing in values or data files may share it. A weak
/// reference keeps the compiled chart's allocation, so its address is never another chart's
/// while the entry lives.
fn stored_chart_json(compiled: &Arc<CompiledChart>) -> String {
    type Entry = (Weak<CompiledChart>, Arc<str>);
    static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
    let hit = CACHE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .find(|(chart, _)| std::ptr::eq(chart.as_ptr(), Arc::as_ptr(compiled)))
        .map(|(_, json)| json.clone());
    if let Some(json) = hit {
        return json.to_string();
    }
    let json: Arc<str> = stored_json(&stored_chart(compiled.chart())).into();
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    cache.retain(|(chart, _)| chart.strong_count() > 0);
    if cache.len() >= 16 {
        cache.remove(0);
    }
    cache.push((Arc::downgrade(compiled), json.clone()));
    json.to_string()
}

/// The chart as Helm stores it in a release record: metadata, templates and files with base64
/// data, default values, and the schema as base64 JSON. Subcharts are not stored, as in Helm.
pub fn stored_chart(chart: &Chart) -> StoredChart {
    let files = |files: &[ChartFile]| -> Vec<capstan_release::ChartFile> {
        files
            .iter()
            .map(|f| capstan_release::ChartFile::new(f.name.clone(), f.data.to_vec()))
            .collect()
    };
    StoredChart {
        // Both crates read and write Chart.yaml with Helm's JSON names.
        metadata: serde_json::to_value(&chart.metadata)
            .ok()
            .and_then(|m| serde_json::from_value(m).ok()),
        lock: None,
        templates: files(&chart.templates),
        values: Some(chart.values.clone()),
        schema: chart.schema.as_ref().map(|s| s.to_string().into_bytes()),
        files: files(&chart.files),
        extra: serde_json::Map::new(),
    }
}

/// A stored chart's JSON, as the applier writes it into the release record.
fn stored_json(stored: &StoredChart) -> String {
    serde_json::to_string(stored).unwrap_or_default()
}

//! The `Prepare` RPC: the user's value layers in, `capstan_ops::Prepare` run over the
//! release's store, the plan out as the renderer's inputs and the expected revision.

use capstan_ops::values::{ChartDefaults, ValuesMode};
use capstan_ops::{Plan, Prepare, Preparing};
use capstan_proto::applier::v1 as pb;
use capstan_proto::renderer::v1 as render_pb;
use serde_json::{Map, Value};
use tonic::Status;

use crate::{ApplierService, convert};

/// The most bytes of values one `Prepare` takes (every layer's text and every `--set-file`
/// file), as the renderer's default `--max-values-bytes`.
pub const MAX_VALUES_BYTES: usize = 16 << 20;

impl ApplierService {
    /// Prepares request `r` over the store of its namespace, as `caller` sees it.
    pub(crate) async fn plan(
        &self,
        caller: &capstan_auth::Caller,
        r: pb::PrepareRequest,
    ) -> Result<pb::PrepareResponse, Status> {
        let operation = match pb::PrepareOperation::try_from(r.operation) {
            Ok(pb::PrepareOperation::Install) => Preparing::Install,
            Ok(pb::PrepareOperation::Upgrade) => Preparing::Upgrade,
            _ => {
                return Err(Status::invalid_argument(format!(
                    "prepare: operation {} is not install (1) or upgrade (2)",
                    r.operation
                )));
            }
        };
        let layers = r.values.clone();
        let new_values = tokio::task::spawn_blocking(move || user_values(&layers))
            .await
            .map_err(|e| Status::internal(format!("merging the values: {e}")))??;
        let target = self.target(caller, &r.namespace).await?;
        let plan = Prepare {
            name: r.name.clone(),
            namespace: r.namespace.clone(),
            operation,
            mode: ValuesMode::from_flags(r.reset_values, r.reuse_values, r.reset_then_reuse_values),
            new_values,
        }
        .run(&*target.store)
        .await
        .map_err(|e| convert::status(&e))?;
        Ok(response(plan, r))
    }
}

/// The user's value layers merged as the renderer merges them (Helm's `MergeValues`); the
/// errors are the renderer's.
pub fn user_values(layers: &[render_pb::ValuesLayer]) -> Result<Map<String, Value>, Status> {
    use capstan_chart::ValueLayer;
    use render_pb::values_layer::Layer;
    let bytes = layers
        .iter()
        .filter_map(|l| l.layer.as_ref())
        .map(|layer| match layer {
            Layer::File(s)
            | Layer::Json(s)
            | Layer::Set(s)
            | Layer::SetString(s)
            | Layer::SetJson(s) => s.len(),
            Layer::SetFile(f) => {
                f.expression.len()
                    + f.files
                        .iter()
                        .map(|(p, c)| p.len() + c.len())
                        .sum::<usize>()
            }
        })
        .fold(0usize, usize::saturating_add);
    if bytes > MAX_VALUES_BYTES {
        return Err(Status::resource_exhausted(format!(
            "values of {bytes} bytes exceed the limit of {MAX_VALUES_BYTES} bytes"
        )));
    }
    let mut files = Vec::new();
    let mut domain = Vec::with_capacity(layers.len());
    for (i, layer) in layers.iter().enumerate() {
        let Some(layer) = &layer.layer else { continue };
        domain.push(match layer {
            Layer::File(contents) => ValueLayer::File {
                name: format!("values layer {}", i + 1),
                contents: contents.clone(),
            },
            Layer::Json(contents) => ValueLayer::File {
                name: "previous release values".into(),
                contents: contents.clone(),
            },
            Layer::Set(e) => ValueLayer::Set(e.clone()),
            Layer::SetString(e) => ValueLayer::SetString(e.clone()),
            Layer::SetJson(e) => ValueLayer::SetJson(e.clone()),
            Layer::SetFile(f) => {
                files.extend(f.files.iter().map(|(p, c)| (p.clone(), c.clone())));
                ValueLayer::SetFile(f.expression.clone())
            }
        });
    }
    let mut read_file = |path: &str| {
        files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, content)| content.clone())
            .ok_or_else(|| format!("file {path} was not sent with the request"))
    };
    capstan_chart::user_values(&domain, &mut read_file)
        .map_err(|e| Status::invalid_argument(e.to_string()))
}

/// The plan as the renderer's inputs: the previous values (when reused) under the request's
/// layers, the chart defaults to use, the release context, and the expected revision.
fn response(plan: Plan, r: pb::PrepareRequest) -> pb::PrepareResponse {
    let json =
        |map: &Map<String, Value>| serde_json::to_string(map).unwrap_or_else(|_| "{}".to_owned());
    let mut values = Vec::with_capacity(r.values.len() + 1);
    if let Some(previous) = &plan.values.previous_values {
        values.push(render_pb::ValuesLayer {
            layer: Some(render_pb::values_layer::Layer::Json(json(previous))),
        });
    }
    values.extend(r.values);
    pb::PrepareResponse {
        values,
        chart_values_json: match &plan.values.chart_defaults {
            ChartDefaults::NewChart => None,
            ChartDefaults::PreviousChart(defaults) => Some(json(defaults)),
        },
        release: Some(render_pb::ReleaseContext {
            name: r.name,
            namespace: r.namespace,
            revision: i32::try_from(plan.revision).unwrap_or(i32::MAX),
            is_install: plan.installs,
            is_upgrade: !plan.installs,
        }),
        expected_revision: plan.expected_revision,
        previous_manifest: plan.latest.map(|l| l.manifest).unwrap_or_default(),
        unreadable: plan.skipped,
    }
}

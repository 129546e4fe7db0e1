//! The CRD step of install and upgrade: a chart's `crds/` files are created before anything
//! else when absent, as Helm installs them, and never updated or deleted (Helm's policy).
//!
//! Helm creates them on install only; capstan also creates, on upgrade, those a new chart
//! version adds (existing ones are still left alone), so an upgrade to a chart with a new CRD
//! does not fail on its custom resources. `--skip-crds` turns the step off. Dry runs skip it,
//! as Helm's do.

use std::time::Duration;

use tracing::Instrument as _;

use crate::cluster::CrdRequest;
use crate::error::{Error, Result};
use crate::progress::Event;
use crate::rendered::Crd;
use crate::resource::{Resource, split_manifest};
use crate::session::Ctx;

/// How long created CRDs may take to be established (Helm's 60 seconds).
pub const CRD_TIMEOUT: Duration = Duration::from_secs(60);

/// The objects of the CRD files, in file order; each names its file as its source.
pub(crate) fn crd_objects(crds: &[Crd]) -> Result<Vec<Resource>> {
    let mut out = Vec::new();
    for crd in crds {
        let objects = split_manifest(&crd.yaml).map_err(|e| match e {
            Error::Manifest { reason, .. } => Error::Manifest {
                source_path: crd.path.clone(),
                reason,
            },
            other => other,
        })?;
        if objects.is_empty() {
            return Err(Error::InvalidInput {
                reason: format!(
                    "failed to install CRD {}: the file holds no object",
                    crd.path
                ),
            });
        }
        out.extend(objects.into_iter().map(|mut o| {
            if o.source.is_empty() {
                o.source.clone_from(&crd.path);
            }
            o
        }));
    }
    Ok(out)
}

/// Creates the chart's missing CRDs and waits for them to be established; nothing when
/// `skip` or when the chart has none.
pub(crate) async fn install(ctx: &Ctx<'_>, crds: &[Crd], skip: bool) -> Result<()> {
    if skip || crds.is_empty() {
        return Ok(());
    }
    let objects = crd_objects(crds)?;
    let span = tracing::info_span!(
        "crds",
        release = %ctx.name,
        namespace = %ctx.namespace,
        objects = objects.len(),
    );
    let report = ctx
        .step(
            || format!("failed to install CRDs of release {:?}", ctx.name),
            ctx.cluster.create_crds(
                CrdRequest {
                    objects: &objects,
                    timeout: ctx.timeout(CRD_TIMEOUT),
                },
                ctx.progress,
            ),
        )
        .instrument(span)
        .await?;
    for r in report.results {
        ctx.progress.event(Event::Object {
            object: r.object,
            action: r.action,
            preview: None,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(path: &str, yaml: &str) -> Crd {
        Crd {
            path: path.into(),
            yaml: yaml.into(),
        }
    }

    #[test]
    fn every_document_of_every_file_in_order_named_by_its_file() {
        let objects = crd_objects(&[
            crd(
                "web/crds/a.yaml",
                "# a comment\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: as.example.com\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: bs.example.com\n",
            ),
            crd(
                "web/charts/db/crds/c.yaml",
                "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: cs.example.com\n",
            ),
        ])
        .unwrap();
        let names: Vec<_> = objects
            .iter()
            .map(|o| (o.object.name.as_str(), o.source.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("as.example.com", "web/crds/a.yaml"),
                ("bs.example.com", "web/crds/a.yaml"),
                ("cs.example.com", "web/charts/db/crds/c.yaml"),
            ]
        );
        assert!(
            objects[0].manifest.pointer("/metadata/labels").is_none(),
            "CRDs get no ownership metadata"
        );
    }

    #[test]
    fn invalid_files_are_named() {
        let bad = crd_objects(&[crd("web/crds/bad.yaml", "kind: [unclosed\n")]).unwrap_err();
        assert!(bad.to_string().contains("web/crds/bad.yaml"), "{bad}");
        let nameless = crd_objects(&[crd(
            "web/crds/x.yaml",
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n",
        )])
        .unwrap_err();
        assert!(
            nameless.to_string().contains("web/crds/x.yaml"),
            "{nameless}"
        );
        let empty = crd_objects(&[crd("web/crds/empty.yaml", "# nothing\n")]).unwrap_err();
        assert!(empty.to_string().contains("web/crds/empty.yaml"), "{empty}");
    }
}

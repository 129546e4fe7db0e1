//! The CRD step of install and upgrade: a chart's `crds/` files are created before anything
//! else when absent, as Helm installs them, and never updated or deleted (Helm's policy).
//!
//! Helm creates them on install only; capstan also creates, on upgrade, those a new chart
//! version adds (existing ones are still left alone), so an upgrade to a chart with a new CRD
//! does not fail on its custom resources. `--skip-crds` turns the step off. Dry runs skip it,
//! as Helm's do.
//!
//! A CRD file can be megabytes (kube-prometheus-stack's ten are 4.4 MB); to see that they all
//! exist, only each document's head (`apiVersion`, `kind`, `metadata`) is read. The files are
//! parsed whole only when a CRD must be created; a file whose heads cannot be read that way is
//! parsed whole at once, so its errors are the full parse's, naming the file.

use std::time::Duration;

use tracing::Instrument as _;

use crate::cluster::CrdRequest;
use crate::error::{Error, Result};
use crate::progress::Event;
use crate::rendered::Crd;
use crate::resource::{Resource, split_documents, split_manifest};
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

/// An object of the kind the CRD step reads and creates (`apiextensions.k8s.io/v1`
/// CustomResourceDefinition), for looking the kind up ahead ([`crate::Cluster::prefetch_kinds`])
/// without reading the chart's CRD files.
pub(crate) fn crd_kind() -> Vec<Resource> {
    Resource::from_manifest(
        "",
        serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "crd"},
        }),
    )
    .into_iter()
    .collect()
}

/// The objects of the CRD files as [`crd_objects`] gives them, but each holding only its head
/// (`apiVersion`, `kind`, `metadata`), read without parsing the rest of the document. A file
/// with a document whose head cannot be read apart (flow style, anchors, a head key written
/// unusually, no head at all) is parsed whole, with the errors that gives.
pub(crate) fn crd_heads(crds: &[Crd]) -> Result<Vec<Resource>> {
    let mut out = Vec::new();
    for crd in crds {
        let heads: Option<Vec<Resource>> = split_documents(&crd.yaml)
            .into_iter()
            .filter(|doc| {
                !doc.lines().all(|l| {
                    let l = l.trim();
                    l.is_empty() || l.starts_with('#')
                })
            })
            .map(|doc| document_head(doc, &crd.path))
            .collect();
        match heads {
            Some(heads) if !heads.is_empty() => out.extend(heads),
            _ => out.extend(crd_objects(std::slice::from_ref(crd))?),
        }
    }
    Ok(out)
}

/// The head of one block-style YAML document: its top-level `apiVersion`, `kind` and
/// `metadata` entries, parsed alone. `None` when the document is not plainly written so
/// (the caller then parses it whole).
fn document_head(doc: &str, path: &str) -> Option<Resource> {
    const HEAD: [&str; 3] = ["apiVersion:", "kind:", "metadata:"];
    let mut head = String::new();
    let mut keep = false;
    let mut seen = 0;
    for line in doc.lines() {
        // A sequence item at column 0 belongs to the key above it.
        let item = line.starts_with('-') && !line.starts_with("---");
        let top_level = !line.is_empty() && !line.starts_with([' ', '\t', '#']) && !item;
        if top_level {
            if line.starts_with("...") {
                break;
            }
            let key = line.split_once(':').map(|(k, _)| k)?;
            // A plain key and nothing YAML could read as more (flow style, anchors, tags,
            // quoting, complex keys, directives).
            if key.is_empty()
                || !key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
            {
                return None;
            }
            keep = HEAD.iter().any(|h| line.starts_with(h));
            seen += usize::from(keep);
        }
        if keep {
            if line.contains(['&', '*', '!']) && !line.trim_start().starts_with('#') {
                // Anchors, aliases and tags may tie the head to the rest: read it whole.
                return None;
            }
            head.push_str(line);
            head.push('\n');
        }
    }
    if seen != HEAD.len() {
        return None;
    }
    let value: serde_json::Value = serde_yaml_ng::from_str(&head).ok()?;
    let source = doc
        .lines()
        .find_map(|l| l.trim().strip_prefix("# Source:"))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(path);
    Resource::from_manifest(source, value).ok()
}

/// Creates the chart's missing CRDs and waits for them to be established; nothing when
/// `skip` or when the chart has none. When every CRD exists (seen from the heads alone),
/// nothing more is read or sent.
pub(crate) async fn install(ctx: &Ctx<'_>, crds: &[Crd], skip: bool) -> Result<()> {
    if skip || crds.is_empty() {
        return Ok(());
    }
    let heads = crd_heads(crds)?;
    let existing = ctx
        .step(
            || format!("failed to install CRDs of release {:?}", ctx.name),
            ctx.cluster.existing(&heads),
        )
        .await?;
    if existing.len() == heads.len() && existing.iter().all(|e| *e) {
        tracing::debug!(
            release = %ctx.name,
            namespace = %ctx.namespace,
            objects = heads.len(),
            "every CRD exists"
        );
        for head in heads {
            ctx.progress.event(Event::Object {
                object: head.object,
                action: crate::cluster::ObjectAction::Unchanged,
                preview: None,
            });
        }
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
    fn heads_are_read_without_the_body_and_match_the_whole_parse() {
        let files = [
            crd(
                "web/crds/a.yaml",
                "# a comment\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  annotations:\n    controller-gen.kubebuilder.io/version: v0.16.1\n  name: as.example.com\nspec:\n  group: example.com\n  names:\n  - a\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: bs.example.com}\nspec: {}\n",
            ),
            crd(
                "web/crds/c.yaml",
                "spec:\n  group: example.com\nmetadata:\n  name: cs.example.com\nkind: CustomResourceDefinition\napiVersion: apiextensions.k8s.io/v1\n",
            ),
        ];
        let heads = crd_heads(&files).unwrap();
        let whole = crd_objects(&files).unwrap();
        let keys = |objects: &[Resource]| -> Vec<_> {
            objects
                .iter()
                .map(|o| (o.object.clone(), o.source.clone()))
                .collect()
        };
        assert_eq!(keys(&heads), keys(&whole));
        assert_eq!(heads.len(), 3);
        // The plainly written documents are read without their body.
        assert!(
            heads[0].manifest.get("spec").is_none(),
            "{:?}",
            heads[0].manifest
        );
        assert!(
            heads[2].manifest.get("spec").is_none(),
            "{:?}",
            heads[2].manifest
        );
        assert_eq!(
            heads[0].manifest.pointer("/metadata/name"),
            Some(&serde_json::json!("as.example.com"))
        );
    }

    #[test]
    fn a_body_past_the_head_is_parsed_only_to_create() {
        // A body that is not YAML: the head suffices to see the CRD exists; creating it
        // parses the file whole, and that error names the file.
        let file = crd(
            "web/crds/bad-body.yaml",
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: as.example.com\nspec:\n  group: [unclosed\n",
        );
        let heads = crd_heads(std::slice::from_ref(&file)).unwrap();
        assert_eq!(heads[0].object.name, "as.example.com");
        let err = crd_objects(&[file]).unwrap_err();
        assert!(err.to_string().contains("web/crds/bad-body.yaml"), "{err}");
    }

    #[test]
    fn invalid_heads_are_named() {
        let bad = crd_heads(&[crd(
            "web/crds/bad.yaml",
            "apiVersion: apiextensions.k8s.io/v1\nkind: [unclosed\nmetadata:\n  name: x\n",
        )])
        .unwrap_err();
        assert!(bad.to_string().contains("web/crds/bad.yaml"), "{bad}");
        let nameless = crd_heads(&[crd(
            "web/crds/x.yaml",
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n",
        )])
        .unwrap_err();
        assert!(
            nameless.to_string().contains("web/crds/x.yaml"),
            "{nameless}"
        );
        let empty = crd_heads(&[crd("web/crds/empty.yaml", "# nothing\n")]).unwrap_err();
        assert!(empty.to_string().contains("web/crds/empty.yaml"), "{empty}");
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

//! The OCI image manifest of a Helm chart, as Helm pushes it: a config blob holding Chart.yaml
//! as JSON, the chart archive as a layer, optionally a provenance layer, and OCI annotations.

use std::collections::BTreeMap;

use capstan_chart::ChartMetadata;
use serde::{Deserialize, Serialize};

/// Media type of the OCI image manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of an OCI image index (accepted when resolving, never pushed).
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// Media type of Helm's config blob (Chart.yaml as JSON).
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
/// Media type of Helm's chart archive layer.
pub const CHART_LAYER_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// Media type of Helm's provenance layer.
pub const PROV_LAYER_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.provenance.v1.prov";
/// The chart layer's media type before Helm 3.8 (still read, as Helm does).
pub const LEGACY_CHART_LAYER_MEDIA_TYPE: &str = "application/tar+gzip";

/// A content descriptor: what a blob is, its digest and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The blob's media type.
    pub media_type: String,
    /// Its digest, `sha256:<hex>`.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
    /// Annotations, if any.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    /// The descriptor of `bytes` with `media_type`.
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: crate::digest::sha256(bytes),
            size: bytes.len() as u64,
            annotations: BTreeMap::new(),
        }
    }
}

/// An OCI image manifest (the fields Helm writes and reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's media type, when written in the document (Helm leaves it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Annotations, if any.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The layers of a chart manifest that Helm reads.
#[derive(Debug, Clone)]
pub struct ChartLayers<'a> {
    /// The config blob.
    pub config: &'a Descriptor,
    /// The chart archive.
    pub chart: &'a Descriptor,
    /// The provenance file, if pushed.
    pub prov: Option<&'a Descriptor>,
}

impl Manifest {
    /// The config, chart and provenance layers, or a message saying which is missing.
    pub fn chart_layers(&self) -> Result<ChartLayers<'_>, String> {
        if self.config.media_type != CONFIG_MEDIA_TYPE {
            return Err(format!(
                "it is not a Helm chart: its config has media type {:?}, not {CONFIG_MEDIA_TYPE}",
                self.config.media_type
            ));
        }
        let find = |types: &[&str]| self.layers.iter().find(|l| types.contains(&&*l.media_type));
        let chart =
            find(&[CHART_LAYER_MEDIA_TYPE, LEGACY_CHART_LAYER_MEDIA_TYPE]).ok_or_else(|| {
                format!("its manifest has no layer with media type {CHART_LAYER_MEDIA_TYPE}")
            })?;
        Ok(ChartLayers {
            config: &self.config,
            chart,
            prov: find(&[PROV_LAYER_MEDIA_TYPE]),
        })
    }
}

/// The OCI annotations Helm puts on a chart's manifest: description, title, version, url,
/// created, source, authors, then the chart's own annotations (which may not replace the title
/// or version).
pub fn annotations(metadata: &ChartMetadata, created: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut add = |key: &str, value: &str| {
        if !value.trim().is_empty() {
            map.insert(format!("org.opencontainers.image.{key}"), value.to_string());
        }
    };
    add("description", &metadata.description);
    add("title", &metadata.name);
    add("version", &metadata.version);
    add("url", &metadata.home);
    add("created", created);
    add(
        "source",
        metadata.sources.first().map_or("", String::as_str),
    );
    let authors: Vec<String> = metadata
        .maintainers
        .iter()
        .map(|m| {
            if m.email.is_empty() {
                m.name.clone()
            } else {
                format!("{} ({})", m.name, m.email)
            }
        })
        .collect();
    add("authors", &authors.join(", "));
    for (key, value) in &metadata.annotations {
        if key != "org.opencontainers.image.title" && key != "org.opencontainers.image.version" {
            map.insert(key.clone(), value.clone());
        }
    }
    map
}

/// The manifest Helm pushes for a chart: the config, the chart and provenance layers sorted by
/// digest, and the annotations; with the bytes of each blob.
pub struct ChartManifest {
    /// The manifest document.
    pub manifest: Manifest,
    /// Its serialized bytes (what is pushed and digested).
    pub bytes: Vec<u8>,
    /// The config blob's bytes.
    pub config: Vec<u8>,
}

/// Builds the manifest for a chart archive with `metadata`, and optional provenance.
pub fn chart_manifest(
    metadata: &ChartMetadata,
    chart: &[u8],
    prov: Option<&[u8]>,
    created: &str,
) -> ChartManifest {
    let config = metadata.helm_json();
    let mut layers = vec![Descriptor::of(CHART_LAYER_MEDIA_TYPE, chart)];
    if let Some(prov) = prov {
        layers.push(Descriptor::of(PROV_LAYER_MEDIA_TYPE, prov));
    }
    layers.sort_by(|a, b| a.digest.cmp(&b.digest));
    let manifest = Manifest {
        schema_version: 2,
        media_type: None,
        config: Descriptor::of(CONFIG_MEDIA_TYPE, &config),
        layers,
        annotations: annotations(metadata, created),
    };
    let bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    ChartManifest {
        manifest,
        bytes,
        config,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> ChartMetadata {
        ChartMetadata::parse(
            "apiVersion: v2\nname: web\nversion: 1.2.3\nappVersion: \"2.0\"\ndescription: A web app\n\
             home: https://example.com\nsources: [https://git.example.com/web]\n\
             maintainers: [{name: Ann, email: ann@example.com}, {name: Bo}]\n\
             annotations: {team: api, org.opencontainers.image.title: nope}\n",
            "web/Chart.yaml",
        )
        .unwrap()
    }

    #[test]
    fn config_is_chart_yaml_in_helms_field_order() {
        let json = String::from_utf8(metadata().helm_json()).unwrap();
        assert_eq!(
            json,
            r#"{"name":"web","home":"https://example.com","sources":["https://git.example.com/web"],"version":"1.2.3","description":"A web app","maintainers":[{"name":"Ann","email":"ann@example.com"},{"name":"Bo"}],"apiVersion":"v2","appVersion":"2.0","annotations":{"org.opencontainers.image.title":"nope","team":"api"}}"#
        );
    }

    #[test]
    fn manifests_carry_helms_layers_and_annotations() {
        let built = chart_manifest(&metadata(), b"chart", Some(b"prov"), "2026-01-02T03:04:05Z");
        let m = &built.manifest;
        assert_eq!(m.config.media_type, CONFIG_MEDIA_TYPE);
        assert_eq!(m.layers.len(), 2);
        assert!(m.layers[0].digest < m.layers[1].digest);
        let layers = m.chart_layers().unwrap();
        assert_eq!(layers.chart.digest, crate::digest::sha256(b"chart"));
        assert_eq!(layers.prov.unwrap().size, 4);
        assert_eq!(m.annotations["org.opencontainers.image.title"], "web");
        assert_eq!(
            m.annotations["org.opencontainers.image.authors"],
            "Ann (ann@example.com), Bo"
        );
        assert_eq!(m.annotations["team"], "api");
        assert_eq!(
            m.annotations["org.opencontainers.image.created"],
            "2026-01-02T03:04:05Z"
        );
        let parsed: Manifest = serde_json::from_slice(&built.bytes).unwrap();
        assert_eq!(&parsed, m);
        assert!(
            !String::from_utf8(built.bytes)
                .unwrap()
                .contains("mediaType\":\"application/vnd.oci")
        );
    }

    #[test]
    fn a_manifest_without_a_chart_layer_is_refused() {
        let mut m = chart_manifest(&metadata(), b"chart", None, "").manifest;
        m.layers[0].media_type = "application/octet-stream".into();
        assert!(
            m.chart_layers()
                .unwrap_err()
                .contains(CHART_LAYER_MEDIA_TYPE)
        );
        m.config.media_type = "application/vnd.oci.image.config.v1+json".into();
        assert!(m.chart_layers().unwrap_err().contains("not a Helm chart"));
    }
}

//! The two layouts of a split record (see the parent module): which one a record gets, how the
//! chart's templates and files move to the parts and back, and how a head is read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    ChunkManifest, LABEL_PART_SET, StoredPayload, into_parts, is_lower_hex, reassemble,
    split_payload,
};
use crate::chart::ChartFile;
use crate::codec::Codec;
use crate::error::{Error, Result};
use crate::name::ObjectKey;
use crate::release::Release;

/// A part as a driver read it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedPart {
    /// Its index (from its name).
    pub index: u32,
    /// Its annotations (the manifest of the whole payload).
    pub annotations: BTreeMap<String, String>,
    /// Its slice of the payload.
    pub data: Vec<u8>,
}

/// What a split record's parts hold and what its head holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// The head is a Helm record of the release without its chart's templates and files; the
    /// parts hold those (a [`ChartContent`]).
    ChartFiles,
    /// The head holds only the [`ChunkManifest`]; the parts hold the whole encoded release.
    Whole,
}

/// The stored chart's templates and files: what the parts of a [`Layout::ChartFiles`] record
/// hold, encoded as Helm encodes a release (JSON, gzip, base64).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartContent {
    /// The chart's templates.
    #[serde(default)]
    pub templates: Vec<ChartFile>,
    /// The chart's other files.
    #[serde(default)]
    pub files: Vec<ChartFile>,
}

impl ChartContent {
    /// Whether there is nothing to move.
    pub fn is_empty(&self) -> bool {
        self.templates.is_empty() && self.files.is_empty()
    }
}

/// `release` without its chart's templates and files, and those. `None` when the release has
/// no chart or its chart has neither.
pub fn split_chart(release: &Release) -> Option<(Release, ChartContent)> {
    let chart = release.chart.as_ref()?;
    if chart.templates.is_empty() && chart.files.is_empty() {
        return None;
    }
    let mut head = release.clone();
    let chart = head.chart.as_mut()?;
    let content = ChartContent {
        templates: std::mem::take(&mut chart.templates),
        files: std::mem::take(&mut chart.files),
    };
    Some((head, content))
}

/// Puts the templates and files the parts held back into the chart of `release` (the head's
/// record). Errors, naming `head_object`, when the head's release has no chart to hold them.
pub fn attach_chart(head_object: &str, release: &mut Release, content: ChartContent) -> Result<()> {
    let chart = release.chart.as_mut().ok_or_else(|| Error::ChunkManifest {
        object: head_object.to_owned(),
        reason: "its parts hold chart files but its release has no chart".into(),
    })?;
    chart.templates = content.templates;
    chart.files = content.files;
    Ok(())
}

/// What a head object says about where its record is, read from its payload and labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeadKind {
    /// The whole record is in the head.
    Inline,
    /// A [`Layout::ChartFiles`] head: a Helm record, its chart's templates and files in set
    /// `set` (when parts of that set exist for its revision).
    ChartFiles {
        /// The set named by the head's [`LABEL_PART_SET`] label.
        set: String,
    },
    /// A [`Layout::Whole`] head: only the manifest.
    Whole(ChunkManifest),
}

impl HeadKind {
    /// Classifies the head `object` from its payload and labels. Errors, naming `object`, when
    /// its manifest or its set label is malformed.
    pub fn of(object: &str, payload: &[u8], labels: &BTreeMap<String, String>) -> Result<Self> {
        if let Some(manifest) = ChunkManifest::parse_head_payload(object, payload)? {
            return Ok(HeadKind::Whole(manifest));
        }
        match labels.get(LABEL_PART_SET) {
            None => Ok(HeadKind::Inline),
            Some(set) if set.len() == 12 && is_lower_hex(set) => {
                Ok(HeadKind::ChartFiles { set: set.clone() })
            }
            Some(set) => Err(Error::ChunkManifest {
                object: object.to_owned(),
                reason: format!("label {LABEL_PART_SET} {set:?} is not 12 lowercase hex digits"),
            }),
        }
    }

    /// The set of parts the head references.
    pub fn set(&self) -> Option<&str> {
        match self {
            HeadKind::Inline => None,
            HeadKind::ChartFiles { set } => Some(set),
            HeadKind::Whole(manifest) => Some(&manifest.set),
        }
    }
}

/// Encodes `release` with `codec` and decides how to store it under its object name
/// (`sh.helm.release.v1.<name>.v<N>`): what drivers call before writing a record. Inline when
/// it fits in `max_object_payload` bytes (at gzip's default level when that fits, else at best
/// compression: [`Codec::encode_fitting`]); else [`Layout::ChartFiles`] when the release without
/// its chart's templates and files fits; else [`Layout::Whole`].
pub fn encode_for_storage(
    codec: &Codec,
    release: &Release,
    max_object_payload: usize,
) -> Result<StoredPayload> {
    let head_object = ObjectKey::new(release.name.clone(), release.version).object_name();
    let max = max_object_payload.max(1);
    let payload = codec.encode_fitting(&head_object, release, max)?;
    if payload.len() <= max {
        return Ok(StoredPayload::Inline(payload));
    }
    if let Some((head, content)) = split_chart(release) {
        let head_payload = codec.encode(&head_object, &head)?;
        if head_payload.len() <= max {
            let body = codec.encode_value(&head_object, &content)?;
            let (manifest, parts) = into_parts(&head_object, &body, max)?;
            return Ok(StoredPayload::Chunked {
                layout: Layout::ChartFiles,
                manifest,
                head_payload,
                parts,
            });
        }
    }
    split_payload(&head_object, payload, max)
}

/// The manifest of a set of fetched parts: the one their annotations agree on, for set `set`.
/// Errors name `head_object`: no parts, parts that disagree, or a manifest of another set.
pub fn manifest_of_parts(
    head_object: &str,
    set: &str,
    parts: &[FetchedPart],
) -> Result<ChunkManifest> {
    let Some(first) = parts.first() else {
        return Err(Error::ChunkIncomplete {
            object: head_object.to_owned(),
            reason: format!("no part of set {set} exists"),
        });
    };
    let manifest = ChunkManifest::from_annotations(head_object, &first.annotations)?;
    if manifest.set != set {
        return Err(Error::ChunkManifest {
            object: head_object.to_owned(),
            reason: format!("its parts are of set {}, it names {set}", manifest.set),
        });
    }
    for part in &parts[1..] {
        if ChunkManifest::from_annotations(head_object, &part.annotations)? != manifest {
            return Err(Error::ChunkManifest {
                object: head_object.to_owned(),
                reason: format!(
                    "part {} disagrees with part {} on the manifest",
                    part.index, first.index
                ),
            });
        }
    }
    Ok(manifest)
}

/// Decodes a record whose head (payload and labels) and parts have been fetched: checks the
/// manifest, reassembles and verifies the parts, decodes, puts the chart back together for a
/// [`Layout::ChartFiles`] record, and checks that the record is the release and revision
/// `head_object` names. `parts` is ignored for an inline record.
pub fn decode_from_storage(
    codec: &Codec,
    head_object: &str,
    head_payload: &[u8],
    head_labels: &BTreeMap<String, String>,
    parts: &[FetchedPart],
) -> Result<Release> {
    let data = || parts.iter().map(|p| (p.index, p.data.as_slice()));
    match HeadKind::of(head_object, head_payload, head_labels)? {
        HeadKind::Inline => codec.decode_record(head_object, head_payload),
        HeadKind::Whole(manifest) => {
            let whole = reassemble(head_object, &manifest, data())?;
            codec.decode_record(head_object, &whole)
        }
        HeadKind::ChartFiles { set } => {
            let mut release = codec.decode_record(head_object, head_payload)?;
            let manifest = manifest_of_parts(head_object, &set, parts)?;
            let whole = reassemble(head_object, &manifest, data())?;
            let content: ChartContent = codec.decode_value(head_object, &whole)?;
            attach_chart(head_object, &mut release, content)?;
            Ok(release)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ANNOTATION_PAYLOAD_PARTS, DEFAULT_MAX_OBJECT_PAYLOAD, HEAD_PREFIX, Part};
    use super::*;
    use crate::status::Status;

    const HEAD: &str = "sh.helm.release.v1.big.v7";

    use super::super::tests::payload;

    fn fetched(parts: &[Part]) -> Vec<FetchedPart> {
        parts
            .iter()
            .map(|p| FetchedPart {
                index: p.index,
                annotations: p.annotations.clone(),
                data: p.data.clone().into_bytes(),
            })
            .collect()
    }

    #[test]
    fn encode_and_decode_for_storage() {
        let codec = Codec::new();
        let none = BTreeMap::new();
        let small = Release::new("big", "ns", 7, Status::Deployed);
        let stored = encode_for_storage(&codec, &small, DEFAULT_MAX_OBJECT_PAYLOAD).unwrap();
        assert!(matches!(stored, StoredPayload::Inline(_)));
        assert!(stored.head_labels().is_empty() && stored.head_annotations().is_empty());
        let back = decode_from_storage(&codec, HEAD, stored.head_payload().as_bytes(), &none, &[])
            .unwrap();
        assert_eq!(back, small);

        // No chart to move: the whole record goes to the parts.
        let mut large = small.clone();
        large.manifest = payload(2 * 1024 * 1024);
        let stored = encode_for_storage(&codec, &large, DEFAULT_MAX_OBJECT_PAYLOAD).unwrap();
        let StoredPayload::Chunked { parts, layout, .. } = &stored else {
            panic!("expected chunks")
        };
        assert_eq!(*layout, Layout::Whole);
        assert!(stored.head_labels().is_empty());
        let head = stored.head_payload().as_bytes();
        let back = decode_from_storage(&codec, HEAD, head, &none, &fetched(parts)).unwrap();
        assert_eq!(back, large);
        let err = decode_from_storage(&codec, HEAD, head, &none, &[]).unwrap_err();
        assert!(matches!(err, Error::ChunkIncomplete { .. }), "{err:?}");
        let wrong = "sh.helm.release.v1.big.v8";
        let err = decode_from_storage(&codec, wrong, head, &none, &fetched(parts)).unwrap_err();
        assert!(matches!(err, Error::Mismatch { .. }), "{err:?}");
    }

    /// A release whose chart holds `mib` MiB of incompressible files and a small manifest.
    fn release_with_big_chart(mib: usize) -> Release {
        use crate::chart::{ChartMetadata, StoredChart};
        let mut r = Release::new("big", "ns", 7, Status::Deployed);
        r.manifest = "---\nkind: ConfigMap\n".into();
        r.config.insert("replicas".into(), serde_json::json!(3));
        r.chart = Some(StoredChart {
            metadata: Some(ChartMetadata {
                name: "big".into(),
                version: "1.0.0".into(),
                ..Default::default()
            }),
            templates: vec![ChartFile::new("templates/cm.yaml", "kind: ConfigMap\n")],
            values: Some(serde_json::Map::from_iter([(
                "replicas".into(),
                serde_json::json!(1),
            )])),
            files: vec![ChartFile::new(
                "files/blob.txt",
                payload(mib * 1024 * 1024).into_bytes(),
            )],
            ..Default::default()
        });
        r
    }

    #[test]
    fn a_large_chart_moves_to_the_parts_and_the_head_stays_a_helm_record() {
        let codec = Codec::new();
        let release = release_with_big_chart(2);
        let stored = encode_for_storage(&codec, &release, DEFAULT_MAX_OBJECT_PAYLOAD).unwrap();
        let StoredPayload::Chunked {
            layout,
            manifest,
            head_payload,
            parts,
        } = &stored
        else {
            panic!("expected chunks")
        };
        assert_eq!(*layout, Layout::ChartFiles);
        assert!(head_payload.len() < 4096, "{} bytes", head_payload.len());
        assert!(parts.len() >= 2);
        assert!(
            parts
                .iter()
                .all(|p| p.data.len() <= DEFAULT_MAX_OBJECT_PAYLOAD)
        );
        assert!(
            parts
                .iter()
                .all(|p| p.annotations == manifest.annotations())
        );
        assert_eq!(
            stored.head_labels(),
            BTreeMap::from([(LABEL_PART_SET.to_owned(), manifest.set.clone())])
        );
        assert_eq!(stored.set(), Some(manifest.set.as_str()));

        // What Helm reads from the head alone: everything but the chart's templates and files.
        let helm_view = codec.decode_record(HEAD, head_payload.as_bytes()).unwrap();
        let (expected_head, content) = split_chart(&release).unwrap();
        assert_eq!(helm_view, expected_head);
        assert_eq!(helm_view.manifest, release.manifest);
        assert_eq!(helm_view.config, release.config);
        assert_eq!(helm_view.info, release.info);
        let chart = helm_view.chart.as_ref().unwrap();
        assert!(chart.templates.is_empty() && chart.files.is_empty());
        assert_eq!(chart.values, release.chart.as_ref().unwrap().values);
        assert_eq!(content.files.len(), 1);

        // capstan reads head and parts, in any order, as the whole release.
        let labels = stored.head_labels();
        let mut back_parts = fetched(parts);
        back_parts.reverse();
        let back = decode_from_storage(&codec, HEAD, head_payload.as_bytes(), &labels, &back_parts)
            .unwrap();
        assert_eq!(back, release);
        assert_eq!(
            HeadKind::of(HEAD, head_payload.as_bytes(), &labels).unwrap(),
            HeadKind::ChartFiles {
                set: manifest.set.clone()
            }
        );

        // A missing part, a tampered part, parts of another set: errors naming the head.
        let err = decode_from_storage(
            &codec,
            HEAD,
            head_payload.as_bytes(),
            &labels,
            &back_parts[1..],
        )
        .unwrap_err();
        assert!(matches!(err, Error::ChunkIncomplete { .. }), "{err:?}");
        let mut tampered = fetched(parts);
        tampered[0].data[10] ^= 1;
        let err = decode_from_storage(&codec, HEAD, head_payload.as_bytes(), &labels, &tampered)
            .unwrap_err();
        assert!(matches!(err, Error::ChunkDigest { .. }), "{err:?}");
        assert!(err.to_string().contains(HEAD));
        let other = encode_for_storage(&codec, &release_with_big_chart(1), 1 << 20).unwrap();
        let StoredPayload::Chunked { parts: other, .. } = other else {
            panic!("expected chunks")
        };
        let err = decode_from_storage(
            &codec,
            HEAD,
            head_payload.as_bytes(),
            &labels,
            &fetched(&other),
        )
        .unwrap_err();
        assert!(matches!(err, Error::ChunkManifest { .. }), "{err:?}");
        let err =
            decode_from_storage(&codec, HEAD, head_payload.as_bytes(), &labels, &[]).unwrap_err();
        assert!(err.to_string().contains("no part of set"), "{err}");
    }

    #[test]
    fn a_huge_manifest_keeps_the_whole_split() {
        let codec = Codec::new();
        let mut release = release_with_big_chart(1);
        release.manifest = payload(2 * 1024 * 1024);
        let stored = encode_for_storage(&codec, &release, DEFAULT_MAX_OBJECT_PAYLOAD).unwrap();
        let StoredPayload::Chunked { layout, parts, .. } = &stored else {
            panic!("expected chunks")
        };
        assert_eq!(*layout, Layout::Whole);
        assert!(stored.head_payload().starts_with(HEAD_PREFIX));
        let back = decode_from_storage(
            &codec,
            HEAD,
            stored.head_payload().as_bytes(),
            &stored.head_labels(),
            &fetched(parts),
        )
        .unwrap();
        assert_eq!(back, release);
    }

    #[test]
    fn head_kinds_and_chart_moves() {
        let none = BTreeMap::new();
        assert_eq!(
            HeadKind::of(HEAD, b"H4sI", &none).unwrap(),
            HeadKind::Inline
        );
        assert_eq!(HeadKind::Inline.set(), None);
        let bad = BTreeMap::from([(LABEL_PART_SET.to_owned(), "XYZ".to_owned())]);
        let err = HeadKind::of(HEAD, b"H4sI", &bad).unwrap_err();
        assert!(matches!(err, Error::ChunkManifest { .. }) && err.to_string().contains(HEAD));
        let m = ChunkManifest::for_payload(b"x", 1);
        assert_eq!(
            HeadKind::of(HEAD, m.to_head_payload().as_bytes(), &none)
                .unwrap()
                .set(),
            Some(m.set.as_str())
        );

        // Nothing to move: no split of the chart.
        assert!(split_chart(&Release::new("a", "ns", 1, Status::Deployed)).is_none());
        let mut r = release_with_big_chart(0);
        r.chart.as_mut().unwrap().templates.clear();
        r.chart.as_mut().unwrap().files.clear();
        assert!(split_chart(&r).is_none());
        let err = attach_chart(
            HEAD,
            &mut Release::new("a", "ns", 1, Status::Deployed),
            ChartContent::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("no chart"), "{err}");
        assert!(ChartContent::default().is_empty());

        // Manifests in annotations: read back, and checked.
        assert_eq!(
            ChunkManifest::from_annotations(HEAD, &m.annotations()).unwrap(),
            m
        );
        let mut broken = m.annotations();
        broken.insert(ANNOTATION_PAYLOAD_PARTS.into(), "x".into());
        assert!(ChunkManifest::from_annotations(HEAD, &broken).is_err());
        broken.remove(ANNOTATION_PAYLOAD_PARTS);
        let err = ChunkManifest::from_annotations(HEAD, &broken).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
        let a = FetchedPart {
            index: 0,
            annotations: m.annotations(),
            data: b"x".to_vec(),
        };
        let b = FetchedPart {
            index: 1,
            annotations: ChunkManifest::for_payload(b"y", 1).annotations(),
            data: b"y".to_vec(),
        };
        assert_eq!(
            manifest_of_parts(HEAD, &m.set, std::slice::from_ref(&a)).unwrap(),
            m
        );
        let err = manifest_of_parts(HEAD, &m.set, &[a, b]).unwrap_err();
        assert!(err.to_string().contains("disagrees"), "{err}");
    }
}

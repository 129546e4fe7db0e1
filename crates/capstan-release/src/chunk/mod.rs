//! Splitting a record too large for one storage object across several, and putting it back
//! together with an integrity check. Pure: drivers do the I/O.
//!
//! A payload of at most [`DEFAULT_MAX_OBJECT_PAYLOAD`] bytes (1 MiB, the Secret and ConfigMap
//! data limit) is stored inline, exactly as Helm stores it. A larger record is split in one of
//! two [`Layout`]s, both with **parts**: objects named
//! `sh.helm.release.v1.<name>.v<N>.part-<set>-<i>` (`i` from 0), each holding a slice of a base64
//! payload, labelled `owner=capstan-part` (so Helm's `owner=helm` selectors never fetch them),
//! `name=<release>`, `version=<N>`, [`LABEL_PART_SET`] and [`LABEL_PART_INDEX`], and annotated
//! with the [`ChunkManifest`] of the whole payload (sha256, size, number of parts). `<set>` is
//! the first 12 hex digits of the payload's sha256, so parts are content-addressed: a new
//! payload never overwrites the parts of the committed one.
//!
//! - [`Layout::ChartFiles`] (the usual one): the **head**, the ordinary object
//!   `sh.helm.release.v1.<name>.v<N>` with Helm's labels, holds a release record in Helm's exact
//!   format whose manifest, values, hooks and info are whole and whose stored chart has no
//!   templates and no files; the parts hold those ([`ChartContent`], encoded as Helm encodes a
//!   release). The head carries the label [`LABEL_PART_SET`]` = <set>`: Helm ignores it (and
//!   keeps it, as a custom label, when it rewrites the head's status). Helm reads, lists, rolls
//!   back and refuses to install over such a release; capstan puts the chart back together.
//! - [`Layout::Whole`]: when the head is still too large without the chart's templates and files
//!   (a huge manifest), the parts hold the whole encoded release and the head's payload is only
//!   the [`ChunkManifest`] (`capstan-chunked:v1:{json}`). That text is not base64, so Helm fails to
//!   decode it and skips the revision instead of misreading it.
//!
//! A head labelled with a set that no part of its revision has is read alone: Helm copies its
//! custom labels, this one too, to the revisions it writes by `upgrade` and `rollback`, and those
//! revisions are whole Helm records (with the chart as Helm read it).
//!
//! The commit protocol is in the crate documentation.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::name::ObjectKey;
use crate::storage::{LABEL_NAME, LABEL_OWNER, LABEL_VERSION};

mod layout;

pub use layout::{
    ChartContent, FetchedPart, HeadKind, Layout, attach_chart, decode_from_storage,
    encode_for_storage, manifest_of_parts, split_chart,
};

/// The largest payload stored in one object: 1 MiB, the Kubernetes limit on a Secret's or
/// ConfigMap's data. Every record Helm itself can store stays inline.
pub const DEFAULT_MAX_OBJECT_PAYLOAD: usize = 1024 * 1024;

/// The prefix of a chunked record's head payload.
pub const HEAD_PREFIX: &str = "capstan-chunked:v1:";

/// The `owner` label of part objects.
pub const OWNER_PART: &str = "capstan-part";
/// Label on parts: the content-addressed set they belong to; on the head of a
/// [`Layout::ChartFiles`] record, the set holding its chart's templates and files.
pub const LABEL_PART_SET: &str = "capstan.dev/part-set";
/// Label on parts: the part's index, from 0.
pub const LABEL_PART_INDEX: &str = "capstan.dev/part-index";
/// Annotation on parts and heads: sha256 (hex) of the whole payload of the parts.
pub const ANNOTATION_PAYLOAD_SHA256: &str = "capstan.dev/payload-sha256";
/// Annotation on parts and heads: the number of parts.
pub const ANNOTATION_PAYLOAD_PARTS: &str = "capstan.dev/payload-parts";
/// Annotation on parts and heads: the size of the whole payload of the parts in bytes.
pub const ANNOTATION_PAYLOAD_SIZE: &str = "capstan.dev/payload-size";

/// How long an unreferenced part is kept before garbage collection, so that the parts of a
/// write in flight (written, head not yet committed) are not collected: one hour.
pub const DEFAULT_PART_GRACE_SECONDS: i64 = 3600;

/// What a chunked record's head object holds: enough to find, order and verify the parts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkManifest {
    /// sha256 of the whole payload (the concatenated parts), lowercase hex.
    pub sha256: String,
    /// Size of the whole payload in bytes.
    pub size: u64,
    /// Number of parts.
    pub parts: u32,
    /// The content-addressed set name (first 12 hex digits of `sha256`).
    pub set: String,
}

impl ChunkManifest {
    /// The manifest of a payload split into `parts` parts.
    pub fn for_payload(payload: &[u8], parts: u32) -> Self {
        let sha256 = sha256_hex(payload);
        Self {
            set: sha256[..12].to_owned(),
            sha256,
            size: payload.len() as u64,
            parts,
        }
    }

    /// The head object's payload: `capstan-chunked:v1:` and the manifest as JSON.
    pub fn to_head_payload(&self) -> String {
        let json = serde_json::to_string(self).expect("a manifest always serializes");
        format!("{HEAD_PREFIX}{json}")
    }

    /// Reads a head payload. `Ok(None)` when the payload is not a chunked head (an ordinary
    /// Helm payload); an error naming `object` when it is one but is malformed.
    pub fn parse_head_payload(object: &str, payload: &[u8]) -> Result<Option<Self>> {
        let Some(json) = payload.strip_prefix(HEAD_PREFIX.as_bytes()) else {
            return Ok(None);
        };
        let invalid = |reason: String| Error::ChunkManifest {
            object: object.to_owned(),
            reason,
        };
        let manifest: ChunkManifest =
            serde_json::from_slice(json).map_err(|e| invalid(e.to_string()))?;
        manifest.validate(object)?;
        Ok(Some(manifest))
    }

    /// Reads the manifest a part (or a head) carries in its annotations
    /// ([`annotations`](Self::annotations)); errors name `object`.
    pub fn from_annotations(object: &str, annotations: &BTreeMap<String, String>) -> Result<Self> {
        let invalid = |reason: String| Error::ChunkManifest {
            object: object.to_owned(),
            reason,
        };
        let get = |key: &str| {
            annotations
                .get(key)
                .ok_or_else(|| invalid(format!("annotation {key:?} is missing")))
        };
        let sha256 = get(ANNOTATION_PAYLOAD_SHA256)?.clone();
        let parts = get(ANNOTATION_PAYLOAD_PARTS)?;
        let parts = parts
            .parse()
            .map_err(|_| invalid(format!("annotation parts {parts:?} is not a number")))?;
        let size = get(ANNOTATION_PAYLOAD_SIZE)?;
        let size = size
            .parse()
            .map_err(|_| invalid(format!("annotation size {size:?} is not a number")))?;
        let manifest = Self {
            set: sha256.get(..12).unwrap_or_default().to_owned(),
            sha256,
            size,
            parts,
        };
        manifest.validate(object)?;
        Ok(manifest)
    }

    fn validate(&self, object: &str) -> Result<()> {
        let invalid = |reason: &str| Error::ChunkManifest {
            object: object.to_owned(),
            reason: reason.to_owned(),
        };
        if self.sha256.len() != 64 || !is_lower_hex(&self.sha256) {
            return Err(invalid("sha256 is not 64 lowercase hex digits"));
        }
        if self.set != self.sha256[..12] {
            return Err(invalid("set does not match sha256"));
        }
        if self.parts == 0 {
            return Err(invalid("no parts"));
        }
        Ok(())
    }

    /// The name of part `index` of the record whose head is `head_object`.
    pub fn part_object_name(&self, head_object: &str, index: u32) -> String {
        format!("{head_object}.part-{}-{index}", self.set)
    }

    /// The names of all parts, in order.
    pub fn part_object_names(&self, head_object: &str) -> Vec<String> {
        (0..self.parts)
            .map(|i| self.part_object_name(head_object, i))
            .collect()
    }

    /// The head's informational annotations (the manifest in the payload is authoritative).
    pub fn annotations(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (ANNOTATION_PAYLOAD_SHA256.to_owned(), self.sha256.clone()),
            (ANNOTATION_PAYLOAD_PARTS.to_owned(), self.parts.to_string()),
            (ANNOTATION_PAYLOAD_SIZE.to_owned(), self.size.to_string()),
        ])
    }
}

/// One part object to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// Its object name.
    pub object_name: String,
    /// Its index, from 0.
    pub index: u32,
    /// Its labels (see the module docs).
    pub labels: BTreeMap<String, String>,
    /// Its annotations: the manifest of the whole payload ([`ChunkManifest::annotations`]).
    pub annotations: BTreeMap<String, String>,
    /// Its slice of the payload.
    pub data: String,
}

/// How a payload is to be stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredPayload {
    /// In the head object itself, exactly as Helm stores it.
    Inline(String),
    /// Split: the head holds `head_payload`, the parts hold the rest (see [`Layout`]).
    Chunked {
        /// What the head and the parts hold.
        layout: Layout,
        /// The manifest of the parts' payload.
        manifest: ChunkManifest,
        /// What the head object's payload is: a Helm record ([`Layout::ChartFiles`]) or the
        /// manifest ([`Layout::Whole`]).
        head_payload: String,
        /// The parts, in order.
        parts: Vec<Part>,
    },
}

impl StoredPayload {
    /// What the head object's payload is.
    pub fn head_payload(&self) -> &str {
        match self {
            StoredPayload::Inline(p) => p,
            StoredPayload::Chunked { head_payload, .. } => head_payload,
        }
    }

    /// The labels the head carries beyond Helm's: [`LABEL_PART_SET`] for
    /// [`Layout::ChartFiles`].
    pub fn head_labels(&self) -> BTreeMap<String, String> {
        match self {
            StoredPayload::Chunked {
                layout: Layout::ChartFiles,
                manifest,
                ..
            } => BTreeMap::from([(LABEL_PART_SET.to_owned(), manifest.set.clone())]),
            _ => BTreeMap::new(),
        }
    }

    /// The head's informational annotations: the manifest, when split.
    pub fn head_annotations(&self) -> BTreeMap<String, String> {
        match self {
            StoredPayload::Chunked { manifest, .. } => manifest.annotations(),
            StoredPayload::Inline(_) => BTreeMap::new(),
        }
    }

    /// The set of parts the head references, when split.
    pub fn set(&self) -> Option<&str> {
        match self {
            StoredPayload::Chunked { manifest, .. } => Some(&manifest.set),
            StoredPayload::Inline(_) => None,
        }
    }
}

/// Decides how to store `payload` (an encoded release) for the head object `head_object`:
/// inline when it fits in `max_object_payload` bytes, else split whole into parts of at most
/// that size ([`Layout::Whole`]). Fails only when `head_object` is not a release object name.
pub fn split_payload(
    head_object: &str,
    payload: String,
    max_object_payload: usize,
) -> Result<StoredPayload> {
    let max = max_object_payload.max(1);
    if payload.len() <= max {
        ObjectKey::parse(head_object)?;
        return Ok(StoredPayload::Inline(payload));
    }
    let (manifest, parts) = into_parts(head_object, &payload, max)?;
    Ok(StoredPayload::Chunked {
        layout: Layout::Whole,
        head_payload: manifest.to_head_payload(),
        manifest,
        parts,
    })
}

/// Slices `payload` into parts of at most `max` bytes for the head `head_object`.
pub(super) fn into_parts(
    head_object: &str,
    payload: &str,
    max: usize,
) -> Result<(ChunkManifest, Vec<Part>)> {
    let key = ObjectKey::parse(head_object)?;
    let slices: Vec<&[u8]> = payload.as_bytes().chunks(max.max(1)).collect();
    let count = u32::try_from(slices.len()).expect("a payload has fewer than 2^32 parts");
    let manifest = ChunkManifest::for_payload(payload.as_bytes(), count);
    let annotations = manifest.annotations();
    let parts = slices
        .into_iter()
        .zip(0u32..)
        .map(|(slice, index)| Part {
            object_name: manifest.part_object_name(head_object, index),
            index,
            labels: part_labels(&key, &manifest.set, index),
            annotations: annotations.clone(),
            // base64 text is ASCII, so any byte boundary is a character boundary.
            data: String::from_utf8(slice.to_vec()).expect("payload slices are ASCII"),
        })
        .collect();
    Ok((manifest, parts))
}

/// The labels of part `index` of set `set` of a release revision.
pub fn part_labels(key: &ObjectKey, set: &str, index: u32) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_OWNER.to_owned(), OWNER_PART.to_owned()),
        (LABEL_NAME.to_owned(), key.name.clone()),
        (LABEL_VERSION.to_owned(), key.revision.to_string()),
        (LABEL_PART_SET.to_owned(), set.to_owned()),
        (LABEL_PART_INDEX.to_owned(), index.to_string()),
    ])
}

/// The label selector of all parts of a release (`owner=capstan-part,name=<name>`).
pub fn parts_selector(name: &str) -> String {
    format!("{LABEL_OWNER}={OWNER_PART},{LABEL_NAME}={name}")
}

/// Puts a chunked payload back together from `(index, data)` pairs in any order and verifies
/// it against the manifest: every index present exactly once, total size, sha256. Errors name
/// `head_object`. A missing part can mean a concurrent update committed a new set and removed
/// the old one: re-read the head and try again once.
pub fn reassemble<'a>(
    head_object: &str,
    manifest: &ChunkManifest,
    parts: impl IntoIterator<Item = (u32, &'a [u8])>,
) -> Result<Vec<u8>> {
    let incomplete = |reason: String| Error::ChunkIncomplete {
        object: head_object.to_owned(),
        reason,
    };
    let mut ordered: BTreeMap<u32, &[u8]> = BTreeMap::new();
    for (index, data) in parts {
        if index >= manifest.parts {
            return Err(incomplete(format!(
                "part {index} is beyond the {} parts of the manifest",
                manifest.parts
            )));
        }
        if ordered.insert(index, data).is_some() {
            return Err(incomplete(format!("part {index} appears twice")));
        }
    }
    if let Some(missing) = (0..manifest.parts).find(|i| !ordered.contains_key(i)) {
        return Err(incomplete(format!(
            "part {missing} of {} is missing ({})",
            manifest.parts,
            manifest.part_object_name(head_object, missing)
        )));
    }
    let size: u64 = ordered.values().map(|d| d.len() as u64).sum();
    if size != manifest.size {
        return Err(incomplete(format!(
            "parts hold {size} bytes, the manifest says {}",
            manifest.size
        )));
    }
    let mut payload = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    for data in ordered.values() {
        payload.extend_from_slice(data);
    }
    let actual = sha256_hex(&payload);
    if actual != manifest.sha256 {
        return Err(Error::ChunkDigest {
            object: head_object.to_owned(),
            expected: manifest.sha256.clone(),
            actual,
        });
    }
    Ok(payload)
}

/// A part object's name, split into its head object, set and index.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartName {
    /// The head object's name.
    pub head_object: String,
    /// The set.
    pub set: String,
    /// The index.
    pub index: u32,
}

/// Parses a part object name; `None` when `object` is not one.
pub fn parse_part_name(object: &str) -> Option<PartName> {
    let (head, rest) = object.rsplit_once(".part-")?;
    let (set, index) = rest.split_once('-')?;
    if set.len() != 12 || !is_lower_hex(set) {
        return None;
    }
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    ObjectKey::parse(head).ok()?;
    Some(PartName {
        head_object: head.to_owned(),
        set: set.to_owned(),
        index: index.parse().ok()?,
    })
}

/// A part object as a garbage collector sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartObject {
    /// Its name.
    pub object_name: String,
    /// When it was created, unix seconds.
    pub created_unix: i64,
}

/// Which parts to delete: those whose head object does not exist or does not reference their
/// set, once they are older than `grace_seconds` (younger ones may belong to a write whose head
/// is not committed yet). `heads` maps each existing head object name to the set it references
/// (`None` for an inline head; see [`HeadKind::set`]). Names that are not part names are never
/// returned.
pub fn garbage_parts(
    parts: &[PartObject],
    heads: &BTreeMap<String, Option<String>>,
    now_unix: i64,
    grace_seconds: i64,
) -> Vec<String> {
    let live: BTreeSet<(&str, &str)> = heads
        .iter()
        .filter_map(|(head, set)| set.as_deref().map(|set| (head.as_str(), set)))
        .collect();
    parts
        .iter()
        .filter(|p| now_unix.saturating_sub(p.created_unix) > grace_seconds)
        .filter(|p| match parse_part_name(&p.object_name) {
            Some(name) => !live.contains(&(name.head_object.as_str(), name.set.as_str())),
            None => false,
        })
        .map(|p| p.object_name.clone())
        .collect()
}

pub(super) fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// sha256 of `data`, lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut hex = String::with_capacity(64);
    for b in digest {
        write!(hex, "{b:02x}").expect("writing to a String cannot fail");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Codec, encode_release};
    use crate::release::Release;
    use crate::status::Status;

    const HEAD: &str = "sh.helm.release.v1.big.v7";

    /// `len` characters of pseudo-random base64-alphabet text, so parts differ.
    pub(super) fn payload(len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ALPHABET[(x % 64) as usize] as char
            })
            .collect()
    }

    fn chunked(p: StoredPayload) -> (ChunkManifest, String, Vec<Part>) {
        match p {
            StoredPayload::Chunked {
                manifest,
                head_payload,
                parts,
                ..
            } => (manifest, head_payload, parts),
            StoredPayload::Inline(_) => panic!("expected chunks"),
        }
    }

    #[test]
    fn small_payloads_stay_inline() {
        let p = payload(DEFAULT_MAX_OBJECT_PAYLOAD);
        let stored = split_payload(HEAD, p.clone(), DEFAULT_MAX_OBJECT_PAYLOAD).unwrap();
        assert_eq!(stored, StoredPayload::Inline(p.clone()));
        assert_eq!(stored.head_payload(), p);
        assert_eq!(
            ChunkManifest::parse_head_payload(HEAD, p.as_bytes()).unwrap(),
            None
        );
    }

    #[test]
    fn split_and_reassemble_sixteen_mib() {
        let p = payload(16 * 1024 * 1024 + 3);
        let (manifest, head, parts) =
            chunked(split_payload(HEAD, p.clone(), DEFAULT_MAX_OBJECT_PAYLOAD).unwrap());
        assert_eq!(manifest.parts, 17);
        assert_eq!(parts.len(), 17);
        assert_eq!(manifest.size, p.len() as u64);
        assert!(
            parts
                .iter()
                .all(|part| part.data.len() <= DEFAULT_MAX_OBJECT_PAYLOAD)
        );
        assert_eq!(parts[16].data.len(), 3);
        assert_eq!(
            parts[2].object_name,
            format!("{HEAD}.part-{}-2", manifest.set)
        );
        assert_eq!(parts[2].labels["owner"], "capstan-part");
        assert_eq!(parts[2].labels["name"], "big");
        assert_eq!(parts[2].labels["version"], "7");
        assert_eq!(parts[2].labels[LABEL_PART_INDEX], "2");
        assert_eq!(manifest.part_object_names(HEAD).len(), 17);

        let parsed = ChunkManifest::parse_head_payload(HEAD, head.as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(parsed, manifest);
        // Any order.
        let whole = reassemble(
            HEAD,
            &parsed,
            parts.iter().rev().map(|p| (p.index, p.data.as_bytes())),
        )
        .unwrap();
        assert_eq!(whole, p.as_bytes());
    }

    #[test]
    fn a_real_release_chunked_decodes() {
        let mut r = Release::new("big", "ns", 7, Status::Deployed);
        r.manifest = payload(3 * 1024 * 1024); // incompressible-ish
        let encoded = encode_release(&r).unwrap();
        let (manifest, _, parts) = chunked(split_payload(HEAD, encoded, 1 << 20).unwrap());
        assert!(manifest.parts >= 3);
        let whole = reassemble(
            HEAD,
            &manifest,
            parts.iter().map(|p| (p.index, p.data.as_bytes())),
        )
        .unwrap();
        assert_eq!(Codec::new().decode_record(HEAD, &whole).unwrap(), r);
    }

    #[test]
    fn helm_cannot_mistake_a_head_for_a_release() {
        let (_, head, _) = chunked(split_payload(HEAD, payload(100), 10).unwrap());
        let err = Codec::new().decode(HEAD, head.as_bytes()).unwrap_err();
        assert!(matches!(err, Error::Base64 { .. }), "{err:?}");
    }

    #[test]
    fn reassembly_detects_every_inconsistency() {
        let p = payload(1000);
        let (m, _, parts) = chunked(split_payload(HEAD, p, 300).unwrap());
        let all: Vec<(u32, &[u8])> = parts.iter().map(|p| (p.index, p.data.as_bytes())).collect();

        let missing = reassemble(HEAD, &m, all[1..].iter().copied()).unwrap_err();
        assert!(matches!(missing, Error::ChunkIncomplete { .. }));
        assert!(
            missing.to_string().contains("part 0 of 4 is missing"),
            "{missing}"
        );

        let mut dup = all.clone();
        dup.push(all[0]);
        assert!(matches!(
            reassemble(HEAD, &m, dup).unwrap_err(),
            Error::ChunkIncomplete { .. }
        ));

        let mut extra = all.clone();
        extra.push((4, b"x"));
        assert!(matches!(
            reassemble(HEAD, &m, extra).unwrap_err(),
            Error::ChunkIncomplete { .. }
        ));

        let mut short = all.clone();
        short[3] = (3, &all[3].1[1..]);
        assert!(matches!(
            reassemble(HEAD, &m, short).unwrap_err(),
            Error::ChunkIncomplete { .. }
        ));

        let mut tampered_data = parts[1].data.clone().into_bytes();
        tampered_data[0] = if tampered_data[0] == b'A' { b'B' } else { b'A' };
        let mut tampered = all.clone();
        tampered[1] = (1, &tampered_data);
        let err = reassemble(HEAD, &m, tampered).unwrap_err();
        assert!(matches!(err, Error::ChunkDigest { .. }));
        assert!(err.to_string().contains(HEAD), "{err}");

        // Parts of another set under the same indices fail the digest.
        let (_, _, other) = chunked(split_payload(HEAD, payload(999) + "x", 300).unwrap());
        let err =
            reassemble(HEAD, &m, other.iter().map(|p| (p.index, p.data.as_bytes()))).unwrap_err();
        assert!(matches!(err, Error::ChunkDigest { .. }), "{err:?}");
    }

    #[test]
    fn malformed_heads() {
        for bad in [
            "capstan-chunked:v1:{",
            "capstan-chunked:v1:{\"sha256\":\"ab\",\"size\":1,\"parts\":1,\"set\":\"ab\"}",
            &format!(
                "capstan-chunked:v1:{{\"sha256\":\"{}\",\"size\":1,\"parts\":0,\"set\":\"{}\"}}",
                "a".repeat(64),
                "a".repeat(12)
            ),
            &format!(
                "capstan-chunked:v1:{{\"sha256\":\"{}\",\"size\":1,\"parts\":1,\"set\":\"{}\"}}",
                "a".repeat(64),
                "b".repeat(12)
            ),
        ] {
            let err = ChunkManifest::parse_head_payload(HEAD, bad.as_bytes()).unwrap_err();
            assert!(matches!(err, Error::ChunkManifest { .. }), "{bad}");
            assert!(err.to_string().contains(HEAD));
        }
    }

    #[test]
    fn part_names_parse() {
        let m = ChunkManifest::for_payload(b"hello", 2);
        let name = m.part_object_name(HEAD, 1);
        assert_eq!(
            parse_part_name(&name),
            Some(PartName {
                head_object: HEAD.into(),
                set: m.set.clone(),
                index: 1
            })
        );
        assert_eq!(parse_part_name(HEAD), None);
        assert_eq!(
            parse_part_name("sh.helm.release.v1.big.v7.part-xyz-1"),
            None
        );
        assert_eq!(parse_part_name("other.part-0123456789ab-1"), None);
        assert_eq!(parts_selector("big"), "owner=capstan-part,name=big");
        assert_eq!(m.annotations()[ANNOTATION_PAYLOAD_PARTS], "2");
    }

    #[test]
    fn garbage_collection_keeps_committed_and_young_parts() {
        let committed = ChunkManifest::for_payload(b"new", 2);
        let old = ChunkManifest::for_payload(b"old", 2);
        let gone_head = "sh.helm.release.v1.big.v3";
        let gone = ChunkManifest::for_payload(b"gone", 1);
        let inline_head = "sh.helm.release.v1.big.v5";
        let parts = vec![
            PartObject {
                object_name: committed.part_object_name(HEAD, 0),
                created_unix: 0,
            },
            PartObject {
                object_name: committed.part_object_name(HEAD, 1),
                created_unix: 0,
            },
            PartObject {
                object_name: old.part_object_name(HEAD, 0),
                created_unix: 0,
            },
            PartObject {
                object_name: old.part_object_name(HEAD, 1),
                created_unix: 9_990,
            },
            PartObject {
                object_name: gone.part_object_name(gone_head, 0),
                created_unix: 0,
            },
            PartObject {
                object_name: gone.part_object_name(inline_head, 0),
                created_unix: 0,
            },
            PartObject {
                object_name: "unrelated".into(),
                created_unix: 0,
            },
        ];
        let heads = BTreeMap::from([
            (HEAD.to_owned(), Some(committed.set.clone())),
            (inline_head.to_owned(), None),
        ]);
        let garbage = garbage_parts(&parts, &heads, 10_000, 60);
        assert_eq!(
            garbage,
            [
                old.part_object_name(HEAD, 0),
                gone.part_object_name(gone_head, 0),
                gone.part_object_name(inline_head, 0)
            ]
        );
    }

    #[test]
    fn sha256_is_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

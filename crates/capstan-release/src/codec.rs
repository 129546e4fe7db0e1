//! The payload codec: JSON -> gzip (best compression) -> standard padded base64, and back.
//!
//! This is exactly Helm's `encodeRelease`/`decodeRelease`: on decode the bytes are gunzipped
//! only when they start with `1f 8b 08` (older records are plain JSON). capstan adds a bound on
//! decompression, so a gzip bomb is an error and not an out-of-memory, and every error names the
//! storage object it came from. Storage writes ([`Codec::encode_fitting`]) compress at gzip's
//! default level when the record then fits one object, at best compression only when it must;
//! Helm's decoder reads any gzip stream.

use std::io::{Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::name::ObjectKey;
use crate::release::Release;

/// The gzip magic and deflate method, as Helm checks them.
pub const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

/// The default bound on a decoded record's JSON, 64 MiB.
pub const DEFAULT_MAX_DECODED_BYTES: u64 = 64 * 1024 * 1024;

/// Encodes and decodes release payloads, with a bound on decompressed size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Codec {
    max_decoded_bytes: u64,
}

impl Default for Codec {
    fn default() -> Self {
        Self {
            max_decoded_bytes: DEFAULT_MAX_DECODED_BYTES,
        }
    }
}

impl Codec {
    /// A codec with the default bound ([`DEFAULT_MAX_DECODED_BYTES`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// A codec whose decode fails when a record's JSON would exceed `limit` bytes.
    pub fn with_max_decoded_bytes(limit: u64) -> Self {
        Self {
            max_decoded_bytes: limit,
        }
    }

    /// The bound on a decoded record's JSON.
    pub fn max_decoded_bytes(&self) -> u64 {
        self.max_decoded_bytes
    }

    /// Encodes a release as Helm does: compact JSON, gzip at best compression, padded standard
    /// base64. `object` names the storage object in errors.
    pub fn encode(&self, object: &str, release: &Release) -> Result<String> {
        self.encode_value(object, release)
    }

    /// Encodes any serializable value the way Helm encodes a release (JSON, gzip, base64):
    /// how the parts of a split record hold the chart's templates and files.
    pub fn encode_value<T: Serialize + ?Sized>(&self, object: &str, value: &T) -> Result<String> {
        let json = serde_json::to_vec(value).map_err(|e| encode_error(object, e.into()))?;
        compress(object, &json, Compression::best())
    }

    /// Encodes a release as [`encode`](Self::encode) does, but at gzip's default level when
    /// the payload then has at most `fits` bytes: about half the time of best compression, for
    /// a payload a few percent larger (kube-prometheus-stack's record: 413 KB against 394 KB).
    /// Best compression only when the default level's payload is larger than `fits`, so a
    /// record that fits one object at best compression is never made too large for it. Helm
    /// reads either (its decoder takes any gzip stream).
    pub fn encode_fitting(&self, object: &str, release: &Release, fits: usize) -> Result<String> {
        let json = serde_json::to_vec(release).map_err(|e| encode_error(object, e.into()))?;
        let payload = compress(object, &json, Compression::default())?;
        if payload.len() <= fits {
            return Ok(payload);
        }
        compress(object, &json, Compression::best())
    }

    /// Decodes a payload (the base64 text of `data.release` or the SQL `body`) into a release.
    /// `object` names the storage object in errors.
    pub fn decode(&self, object: &str, payload: &[u8]) -> Result<Release> {
        self.decode_value(object, payload)
    }

    /// Decodes a payload made by [`encode_value`](Self::encode_value), bounded by the limit.
    pub fn decode_value<T: DeserializeOwned>(&self, object: &str, payload: &[u8]) -> Result<T> {
        let json = self.decode_to_json(object, payload)?;
        serde_json::from_slice(&json).map_err(|source| Error::Json {
            object: object.to_owned(),
            source,
        })
    }

    /// Decodes a payload down to its JSON bytes (base64, then gunzip when the gzip magic is
    /// present), bounded by the limit.
    pub fn decode_to_json(&self, object: &str, payload: &[u8]) -> Result<Vec<u8>> {
        // Go's StdEncoding skips \r and \n; do the same.
        let raw = if payload.iter().any(|b| matches!(b, b'\r' | b'\n')) {
            let cleaned: Vec<u8> = payload
                .iter()
                .copied()
                .filter(|b| !matches!(b, b'\r' | b'\n'))
                .collect();
            STANDARD.decode(cleaned)
        } else {
            STANDARD.decode(payload)
        }
        .map_err(|source| Error::Base64 {
            object: object.to_owned(),
            source,
        })?;

        // Helm checks `len(b) > 3`.
        if raw.len() > 3 && raw[..3] == GZIP_MAGIC {
            let limit = self.max_decoded_bytes;
            let mut out = Vec::new();
            MultiGzDecoder::new(raw.as_slice())
                .take(limit.saturating_add(1))
                .read_to_end(&mut out)
                .map_err(|source| Error::Gzip {
                    object: object.to_owned(),
                    source,
                })?;
            if out.len() as u64 > limit {
                return Err(Error::TooLarge {
                    object: object.to_owned(),
                    limit,
                });
            }
            Ok(out)
        } else {
            if raw.len() as u64 > self.max_decoded_bytes {
                return Err(Error::TooLarge {
                    object: object.to_owned(),
                    limit: self.max_decoded_bytes,
                });
            }
            Ok(raw)
        }
    }

    /// Decodes the payload of the object named `object` and checks that it holds the release
    /// and revision the name says. An object whose name is not a release key, or whose payload
    /// holds another release or revision, is an error naming the object.
    pub fn decode_record(&self, object: &str, payload: &[u8]) -> Result<Release> {
        let key = ObjectKey::parse(object)?;
        let release = self.decode(object, payload)?;
        check_key(object, &key, &release)?;
        Ok(release)
    }
}

/// Checks that a decoded release is the one its object name says.
pub(crate) fn check_key(object: &str, key: &ObjectKey, release: &Release) -> Result<()> {
    if release.name != key.name || release.version != key.revision {
        return Err(Error::Mismatch {
            object: object.to_owned(),
            what: "name",
            expected: format!("release {:?} revision {}", key.name, key.revision),
            found: format!("release {:?} revision {}", release.name, release.version),
        });
    }
    Ok(())
}

/// Encodes a release with the default codec; errors name the release's object.
pub fn encode_release(release: &Release) -> Result<String> {
    Codec::default().encode(
        &ObjectKey::new(release.name.clone(), release.version).object_name(),
        release,
    )
}

/// Decodes a payload with the default codec; errors name `object`.
pub fn decode_release(object: &str, payload: &[u8]) -> Result<Release> {
    Codec::default().decode(object, payload)
}

/// An encoding error naming `object`.
fn encode_error(object: &str, source: Box<dyn std::error::Error + Send + Sync>) -> Error {
    Error::Encode {
        object: object.to_owned(),
        source,
    }
}

/// `json` gzipped at `level`, in padded standard base64.
fn compress(object: &str, json: &[u8], level: Compression) -> Result<String> {
    let mut gz = GzEncoder::new(Vec::with_capacity(json.len() / 4 + 64), level);
    gz.write_all(json)
        .map_err(|e| encode_error(object, e.into()))?;
    let compressed = gz.finish().map_err(|e| encode_error(object, e.into()))?;
    Ok(STANDARD.encode(compressed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Status;
    use serde_json::json;

    const OBJ: &str = "sh.helm.release.v1.web.v2";

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    fn sample() -> Release {
        let mut r = Release::new("web", "apps", 2, Status::Deployed);
        r.manifest = "---\n# Source: web/templates/cm.yaml\nkind: ConfigMap\n".repeat(50);
        r.config.insert("replicas".into(), json!(3));
        r.info.description = "Upgrade complete".into();
        r
    }

    fn assert_names_object(err: &Error) {
        let msg = err.to_string();
        assert!(msg.contains(OBJ), "error does not name the object: {msg}");
    }

    #[test]
    fn round_trip_and_best_compression_gzip() {
        let r = sample();
        let payload = encode_release(&r).unwrap();
        let raw = STANDARD.decode(&payload).unwrap();
        assert_eq!(&raw[..3], GZIP_MAGIC);
        assert_eq!(raw[8], 2, "XFL says maximum compression");
        assert!(payload.len().is_multiple_of(4), "padded base64");
        assert_eq!(decode_release(OBJ, payload.as_bytes()).unwrap(), r);
        assert_eq!(
            Codec::new().decode_record(OBJ, payload.as_bytes()).unwrap(),
            r
        );
    }

    #[test]
    fn storage_encodings_use_the_default_level_when_it_fits_and_best_when_not() {
        let r = sample();
        let codec = Codec::new();
        let xfl = |payload: &str| STANDARD.decode(payload).unwrap()[8];
        let fitting = codec.encode_fitting(OBJ, &r, usize::MAX).unwrap();
        assert_eq!(xfl(&fitting), 0, "XFL of the default level");
        assert_eq!(codec.decode_record(OBJ, fitting.as_bytes()).unwrap(), r);
        // Too large at the default level: best compression, whatever its size.
        let best = codec.encode_fitting(OBJ, &r, 0).unwrap();
        assert_eq!(xfl(&best), 2, "XFL says maximum compression");
        assert_eq!(best, encode_release(&r).unwrap());
        let just = codec.encode_fitting(OBJ, &r, fitting.len() - 1).unwrap();
        assert_eq!(just, best, "one byte over: best compression");
    }

    #[test]
    fn plain_json_payloads_are_read() {
        let json = serde_json::to_vec(&sample()).unwrap();
        let payload = STANDARD.encode(&json);
        assert_eq!(decode_release(OBJ, payload.as_bytes()).unwrap(), sample());
    }

    #[test]
    fn line_breaks_in_base64_are_skipped_as_go_does() {
        let payload = encode_release(&sample()).unwrap();
        let wrapped: String = payload
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap()))
            .collect();
        assert_eq!(decode_release(OBJ, wrapped.as_bytes()).unwrap(), sample());
    }

    #[test]
    fn multi_member_gzip_is_read_as_go_does() {
        let json = serde_json::to_vec(&sample()).unwrap();
        let (a, b) = json.split_at(json.len() / 2);
        let mut raw = gzip(a);
        raw.extend(gzip(b));
        let payload = STANDARD.encode(raw);
        assert_eq!(decode_release(OBJ, payload.as_bytes()).unwrap(), sample());
    }

    #[test]
    fn corrupt_base64() {
        let err = decode_release(OBJ, b"H4sI!!!!").unwrap_err();
        assert!(matches!(err, Error::Base64 { .. }), "{err:?}");
        assert_names_object(&err);
        let err = decode_release(OBJ, b"abc").unwrap_err();
        assert!(matches!(err, Error::Base64 { .. }), "unpadded: {err:?}");
    }

    #[test]
    fn non_gzip_bytes() {
        let payload = STANDARD.encode([0x1f, 0x8b, 0x07, 1, 2, 3, 4]);
        let err = decode_release(OBJ, payload.as_bytes()).unwrap_err();
        assert!(matches!(err, Error::Json { .. }), "{err:?}");
        assert_names_object(&err);
    }

    #[test]
    fn corrupt_gzip() {
        let mut raw = gzip(&serde_json::to_vec(&sample()).unwrap());
        let n = raw.len();
        raw[n / 2] ^= 0xff;
        raw[n / 2 + 1] ^= 0xff;
        let err = decode_release(OBJ, STANDARD.encode(raw).as_bytes()).unwrap_err();
        assert!(
            matches!(err, Error::Gzip { .. } | Error::Json { .. }),
            "{err:?}"
        );
        assert_names_object(&err);
    }

    #[test]
    fn truncated_gzip() {
        let raw = gzip(&serde_json::to_vec(&sample()).unwrap());
        for cut in [4, 10, raw.len() / 2, raw.len() - 4] {
            let err = decode_release(OBJ, STANDARD.encode(&raw[..cut]).as_bytes()).unwrap_err();
            assert!(matches!(err, Error::Gzip { .. }), "cut at {cut}: {err:?}");
            assert_names_object(&err);
        }
    }

    #[test]
    fn gzip_bomb_is_bounded() {
        // 80 MiB of zeros compresses to about 80 KiB; the default limit stops it at 64 MiB.
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..80 {
            gz.write_all(&zeros).unwrap();
        }
        let raw = gz.finish().unwrap();
        let payload = STANDARD.encode(raw);
        let err = decode_release(OBJ, payload.as_bytes()).unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit, .. } if limit == DEFAULT_MAX_DECODED_BYTES));
        assert_names_object(&err);
        assert!(err.to_string().contains("limit of 67108864 bytes"));

        let small = Codec::with_max_decoded_bytes(100);
        let err = small
            .decode(OBJ, encode_release(&sample()).unwrap().as_bytes())
            .unwrap_err();
        assert!(matches!(err, Error::TooLarge { limit: 100, .. }), "{err:?}");
        let err = small
            .decode(OBJ, STANDARD.encode(vec![b' '; 101]).as_bytes())
            .unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { limit: 100, .. }),
            "plain: {err:?}"
        );
    }

    #[test]
    fn json_with_missing_or_wrong_typed_fields() {
        for bad in [
            json!({"info": {"status": "deployed"}, "version": 2}),
            json!({"name": "web", "version": 2}),
            json!({"name": "web", "info": {"status": "deployed"}, "version": "2"}),
            json!({"name": "web", "info": {"status": "nope"}, "version": 2}),
            json!([1, 2, 3]),
        ] {
            let payload = STANDARD.encode(gzip(bad.to_string().as_bytes()));
            let err = decode_release(OBJ, payload.as_bytes()).unwrap_err();
            assert!(matches!(err, Error::Json { .. }), "{bad}: {err:?}");
            assert_names_object(&err);
            assert!(err.is_unreadable_record());
        }
        let err = decode_release(OBJ, STANDARD.encode(b"{\"name\":").as_bytes()).unwrap_err();
        assert!(matches!(err, Error::Json { .. }));
    }

    #[test]
    fn record_under_the_wrong_name() {
        let payload = encode_release(&sample()).unwrap();
        let other = "sh.helm.release.v1.web.v3";
        let err = Codec::new()
            .decode_record(other, payload.as_bytes())
            .unwrap_err();
        assert!(matches!(err, Error::Mismatch { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(other) && msg.contains("revision 2"), "{msg}");
        let err = Codec::new()
            .decode_record("web.v2", payload.as_bytes())
            .unwrap_err();
        assert!(matches!(err, Error::InvalidObjectName { .. }), "{err:?}");
    }
}

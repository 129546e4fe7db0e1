//! Fuzzes the release record decoder (`capstan_release::Codec`): base64, gzip and Helm's JSON
//! of a stored release, with a small decoded-size bound.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let codec = capstan_release::Codec::with_max_decoded_bytes(4 << 20);
    let _ = codec.decode_record("sh.helm.release.v1.web.v1", data);
    // The JSON layer alone, reached without base64 and gzip.
    let _ = serde_json::from_slice::<capstan_release::Release>(data);
    if let Ok(release) = codec.decode("sh.helm.release.v1.web.v1", data) {
        // What decodes must encode again.
        let _ = codec.encode("sh.helm.release.v1.web.v1", &release);
    }
});

//! Fuzzes the manifest splitter and parser (`capstan_render::parse_manifests`): rendered text
//! split on `---`, each document parsed as YAML into a manifest or a hook.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = capstan_render::parse_manifests("web/templates/fuzz.yaml", text);
});

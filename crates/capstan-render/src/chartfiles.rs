//! Helm's `.Files` operations on a chart's files, shared by both template languages' `Files`
//! objects: `Glob` (gobwas-style, `*` stops at `/`), `Lines`, and the entries `AsConfig` /
//! `AsSecrets` print (by base name; base64 for secrets).

use std::collections::BTreeMap;

use base64::Engine as _;

/// The files whose path matches `pattern`.
pub(crate) fn glob(
    files: &BTreeMap<String, Vec<u8>>,
    pattern: &str,
) -> Result<BTreeMap<String, Vec<u8>>, globset::Error> {
    let glob = globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()?
        .compile_matcher();
    Ok(files
        .iter()
        .filter(|(k, _)| glob.is_match(k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

/// `Lines`: the file's lines, without a last empty one; no file, no lines.
pub(crate) fn lines(data: Option<&Vec<u8>>) -> Vec<String> {
    let Some(data) = data else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(data);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    text.split('\n').map(str::to_string).collect()
}

/// What `AsConfig` (or, with `secrets`, `AsSecrets`) prints: each file by its base name, its
/// text or its base64.
pub(crate) fn config_entries(
    files: &BTreeMap<String, Vec<u8>>,
    secrets: bool,
) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(k, v)| {
            let text = if secrets {
                base64::engine::general_purpose::STANDARD.encode(v)
            } else {
                String::from_utf8_lossy(v).into_owned()
            };
            (k.rsplit('/').next().unwrap_or(k).to_string(), text)
        })
        .collect()
}

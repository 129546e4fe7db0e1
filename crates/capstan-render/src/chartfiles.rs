//! Helm's `.Files` operations on a chart's files, shared by both template languages' `Files`
//! objects: `Glob` (gobwas-style, `*` stops at `/`), `Lines`, and the entries `AsConfig` /
//! `AsSecrets` print (by base name; base64 for secrets).

use std::collections::BTreeMap;

use base64::Engine as _;

/// A file's contents as the `Files` objects keep them: bytes, or a shared handle to them.
pub(crate) trait FileBytes: Clone {
    /// The file's bytes.
    fn bytes(&self) -> &[u8];
}

impl FileBytes for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

/// The files whose path matches `pattern`.
pub(crate) fn glob<V: FileBytes>(
    files: &BTreeMap<String, V>,
    pattern: &str,
) -> Result<BTreeMap<String, V>, globset::Error> {
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
pub(crate) fn lines(data: Option<&[u8]>) -> Vec<String> {
    let Some(data) = data else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(data);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    text.split('\n').map(str::to_string).collect()
}

/// What `AsConfig` (or, with `secrets`, `AsSecrets`) prints: each file by its base name, its
/// text or its base64.
pub(crate) fn config_entries<V: FileBytes>(
    files: &BTreeMap<String, V>,
    secrets: bool,
) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(k, v)| {
            let v = v.bytes();
            let text = if secrets {
                base64::engine::general_purpose::STANDARD.encode(v)
            } else {
                String::from_utf8_lossy(v).into_owned()
            };
            (k.rsplit('/').next().unwrap_or(k).to_string(), text)
        })
        .collect()
}

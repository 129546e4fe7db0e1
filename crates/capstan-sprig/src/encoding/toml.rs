//! BurntSushi/toml as Helm's `toToml` and `fromToml` use it.

use minijinja::Value;

/// Helm's `toToml`: the TOML encoding of `v`, or the encoder's error text.
pub fn to_toml(v: &Value) -> String {
    let _ = v;
    "toml: encoding is not supported yet".to_string()
}

/// Helm's `fromToml`: the document as a Go map, an `Error` key on failure.
pub fn from_toml_map(text: &str) -> Value {
    let _ = text;
    super::error_map("toml: decoding is not supported yet".to_string())
}

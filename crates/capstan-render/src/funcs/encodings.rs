//! Encodings and hashes: `b64enc`, `b64dec`, `sha256sum`.

use base64::Engine as _;
use minijinja::value::Value;
use minijinja::{Environment, Error};
use sha2::{Digest, Sha256};

use super::bounds::{Bounds, bounded_strval};
use super::values::{op_err, strval};

/// Registers the encoding and hash functions and filters.
pub(super) fn register(env: &mut Environment<'static>, b: Bounds) {
    // Encodings and hashes.
    let b64enc = move |s: Value| -> Result<String, Error> {
        let s = bounded_strval(b, "b64enc", &s)?;
        b.string("b64enc", s.len().div_ceil(3).saturating_mul(4))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(s))
    };
    env.add_function("b64enc", b64enc);
    env.add_filter("b64enc", b64enc);
    let b64dec = |s: Value| -> Result<String, Error> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(strval(&s).trim())
            .map_err(|e| op_err(format!("b64dec: {e}")))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    env.add_function("b64dec", b64dec);
    env.add_filter("b64dec", b64dec);
    let sha = |s: Value| -> String {
        Sha256::digest(strval(&s).as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    env.add_function("sha256sum", sha);
    env.add_filter("sha256sum", sha);
}

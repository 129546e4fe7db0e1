//! Content digests (`sha256:<hex>`): computing, validating and verifying them.

use sha2::{Digest as _, Sha256};

/// The sha256 digest of `bytes`, as `sha256:<64 hex digits>`.
pub fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut text = String::with_capacity(71);
    text.push_str("sha256:");
    for byte in hash {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// Checks that `digest` is a sha256 digest as the registry writes it; the message says what is
/// wrong.
pub fn validate(digest: &str) -> Result<(), String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(format!(
            "{digest:?} is not a digest (expected sha256:<hex>)"
        ));
    };
    if algorithm != "sha256" {
        return Err(format!(
            "digest algorithm {algorithm:?} is not supported (only sha256)"
        ));
    }
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!(
            "{digest:?} is not a sha256 digest (64 lowercase hex digits)"
        ));
    }
    Ok(())
}

/// Whether `bytes` hash to `expected`.
pub fn matches(expected: &str, bytes: &[u8]) -> bool {
    sha256(bytes) == expected
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_digests() {
        let empty = sha256(b"");
        assert_eq!(
            empty,
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(validate(&empty).is_ok());
        assert!(matches(&empty, b""));
        assert!(!matches(&empty, b"x"));
        assert!(validate("sha256:E3B0").is_err());
        assert!(validate("sha512:00").is_err());
        assert!(validate("nope").is_err());
    }
}

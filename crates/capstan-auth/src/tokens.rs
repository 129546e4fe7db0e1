//! [`TokenTable`]: the token file. One `sha256:<64 hex digits>` per line, optionally followed by a
//! name (with a policy: the tenant the token belongs to); `#` starts a comment line. Tokens are
//! never stored in the clear: a presented token is hashed and looked up.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use crate::{Error, Principal, Result};

/// Accepted bearer tokens, as sha256 digests, each with an optional name.
#[derive(Clone, Debug, Default)]
pub struct TokenTable {
    digests: Arc<BTreeMap<[u8; 32], Option<String>>>,
}

impl TokenTable {
    /// Reads a token file.
    pub fn load(path: &Path) -> Result<TokenTable> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.display().to_string(),
            source,
        })?;
        TokenTable::parse_named(&text, &path.display().to_string())
    }

    /// Parses a token file's text.
    pub fn parse(text: &str) -> Result<TokenTable> {
        TokenTable::parse_named(text, "<text>")
    }

    fn parse_named(text: &str, path: &str) -> Result<TokenTable> {
        let mut digests = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: &str| Error::TokenFile {
                path: path.to_owned(),
                line: i + 1,
                reason: reason.to_owned(),
            };
            let mut fields = line.split_whitespace();
            let field = fields.next().unwrap_or_default();
            let hex = field
                .strip_prefix("sha256:")
                .ok_or_else(|| bad("expected sha256:<hex digest of the token>"))?;
            let digest = parse_digest(hex).ok_or_else(|| bad("not a sha256 digest"))?;
            let name = fields.next().map(str::to_owned);
            if fields.next().is_some() {
                return Err(bad("expected `sha256:<hex> [name]`"));
            }
            digests.insert(digest, name);
        }
        Ok(TokenTable {
            digests: Arc::new(digests),
        })
    }

    /// The line a token file needs to accept `token` (without a name).
    pub fn entry_for(token: &str) -> String {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        format!(
            "sha256:{}",
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    }

    /// The principal of `token`, when the table lists it.
    pub fn lookup(&self, token: &str) -> Option<Principal> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.digests
            .get(&digest)
            .map(|name| Principal::Token { name: name.clone() })
    }

    /// How many tokens are listed.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// Whether no token is listed.
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }
}

fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_map_to_their_names() {
        let file = format!(
            "# ci runners\n{}\n{} tenant-a\n\n",
            TokenTable::entry_for("plain"),
            TokenTable::entry_for("s3cret")
        );
        let table = TokenTable::parse(&file).unwrap();
        assert_eq!(table.len(), 2);
        assert_eq!(
            table.lookup("s3cret"),
            Some(Principal::Token {
                name: Some("tenant-a".into())
            })
        );
        assert_eq!(table.lookup("plain"), Some(Principal::Token { name: None }));
        assert_eq!(table.lookup("guess"), None);
    }

    #[test]
    fn token_files_hold_digests_only() {
        let error = TokenTable::parse("s3cret\n").unwrap_err().to_string();
        assert!(error.contains("line 1"), "{error}");
        assert!(
            !error.contains("s3cret"),
            "errors never echo what could be a token: {error}"
        );
        assert!(
            TokenTable::parse("sha256:abc\n")
                .unwrap_err()
                .to_string()
                .contains("not a sha256 digest")
        );
        let extra = format!("{} a b\n", TokenTable::entry_for("x"));
        assert!(TokenTable::parse(&extra).is_err());
    }
}

//! Provenance: Helm's `.prov` files (an OpenPGP clear-signed copy of `Chart.yaml` and the
//! archive's sha256) and `--verify` against a keyring.

use std::collections::BTreeMap;

use pgp::composed::{CleartextSignedMessage, PublicOrSecret, SignedPublicKey};
use pgp::types::KeyDetails as _;
use serde::Deserialize;

use crate::{Error, Result};

/// What a successful verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The signing key's user IDs (`Name <email>`).
    pub signed_by: Vec<String>,
    /// The signing key's fingerprint (upper-case hex).
    pub fingerprint: String,
    /// `sha256:<hex>` of the archive.
    pub file_hash: String,
}

#[derive(Deserialize)]
struct Sums {
    #[serde(default)]
    files: BTreeMap<String, String>,
}

/// Verifies chart archive `archive` (named `file_name`, as in the `.prov`) against provenance
/// file `prov`: the signature must be made by a key of `keyring` (binary or armored public or
/// secret keys, as `gpg --export` writes them), and the signed sha256 of `file_name` must be the
/// archive's.
pub fn verify(
    archive: &[u8],
    file_name: &str,
    prov: &[u8],
    keyring: &[u8],
) -> Result<Verification> {
    let error = |message: String| Error::Provenance {
        chart: file_name.into(),
        message,
    };
    let text = std::str::from_utf8(prov).map_err(|_| error("the .prov file is not text".into()))?;
    let (message, _) = CleartextSignedMessage::from_string(text).map_err(|e| {
        error(format!(
            "the .prov file is not an OpenPGP clear-signed message: {e}"
        ))
    })?;
    let keys = read_keyring(keyring).map_err(|e| error(format!("reading the keyring: {e}")))?;
    if keys.is_empty() {
        return Err(error("the keyring holds no keys".into()));
    }
    let signer = keys
        .iter()
        .find(|key| {
            message.verify(*key).is_ok()
                || key
                    .public_subkeys
                    .iter()
                    .any(|sub| message.verify(&sub.key).is_ok())
        })
        .ok_or_else(|| error("the signature was not made by a key in the keyring".into()))?;
    let body = dash_unescape(message.text());
    let sums_text = body
        .split("\n...\n")
        .nth(1)
        .ok_or_else(|| error("the signed message has no file checksums".into()))?;
    let sums: Sums = serde_yaml_ng::from_str(sums_text)
        .map_err(|e| error(format!("the signed checksums do not parse: {e}")))?;
    let expected = sums.files.get(file_name).ok_or_else(|| {
        error(format!(
            "the provenance has no checksum for a file named {file_name}"
        ))
    })?;
    let actual = format!("sha256:{}", capstan_chart::archive_digest(archive));
    if *expected != actual {
        return Err(error(format!(
            "sha256 sum does not match: the signed checksum is {expected}, the archive is {actual}: the archive was modified after signing"
        )));
    }
    Ok(Verification {
        signed_by: signer
            .details
            .users
            .iter()
            .map(|u| String::from_utf8_lossy(u.id.id()).into_owned())
            .collect(),
        fingerprint: signer
            .fingerprint()
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect(),
        file_hash: actual,
    })
}

fn read_keyring(keyring: &[u8]) -> pgp::errors::Result<Vec<SignedPublicKey>> {
    let (keys, _) = PublicOrSecret::from_reader_many(keyring)?;
    Ok(keys
        .filter_map(|k| k.ok())
        .map(|k| match k {
            PublicOrSecret::Public(p) => p,
            PublicOrSecret::Secret(s) => s.into(),
        })
        .collect())
}

/// The clear-signed text with the dash escaping (`- ` before lines starting with `-`) removed.
fn dash_unescape(text: &str) -> String {
    text.lines()
        .map(|l| l.strip_prefix("- ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chart `helm package --sign` signed with a key gpg made, its `.prov`, and keyrings.
    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/").to_string() + name).unwrap()
    }

    #[test]
    fn verifies_helm_s_signature() {
        let archive = fixture("signed-0.1.0.tgz");
        let prov = fixture("signed-0.1.0.tgz.prov");
        let found = verify(&archive, "signed-0.1.0.tgz", &prov, &fixture("pubring.gpg")).unwrap();
        assert_eq!(found.signed_by, ["capstan test <test@capstan.invalid>"]);
        assert_eq!(
            found.fingerprint,
            "EBA9E6792C7CF1E9D1BC2459836124D4F52D596D"
        );
        assert!(found.file_hash.starts_with("sha256:393690a2"));
    }

    #[test]
    fn refuses_tampering_and_strangers() {
        let archive = fixture("signed-0.1.0.tgz");
        let prov = fixture("signed-0.1.0.tgz.prov");
        let keyring = fixture("pubring.gpg");
        let mut tampered = archive.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let err = verify(&tampered, "signed-0.1.0.tgz", &prov, &keyring)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sha256 sum does not match") && err.contains("signed-0.1.0.tgz"),
            "{err}"
        );
        let err = verify(
            &archive,
            "signed-0.1.0.tgz",
            &prov,
            &fixture("other-pubring.gpg"),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("not made by a key in the keyring"),
            "{err}"
        );
        let text = String::from_utf8(prov.clone())
            .unwrap()
            .replace("A signed chart", "A forged chart");
        let err = verify(&archive, "signed-0.1.0.tgz", text.as_bytes(), &keyring).unwrap_err();
        assert!(
            err.to_string().contains("not made by a key in the keyring"),
            "{err}"
        );
        let err = verify(&archive, "other-0.1.0.tgz", &prov, &keyring).unwrap_err();
        assert!(
            err.to_string()
                .contains("no checksum for a file named other-0.1.0.tgz"),
            "{err}"
        );
    }
}

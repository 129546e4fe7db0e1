//! Sprig's keys and certificates: `genPrivateKey`, `buildCustomCert`, `genCA`,
//! `genCAWithKey`, `genSelfSignedCert`, `genSelfSignedCertWithKey`, `genSignedCert`,
//! `genSignedCertWithKey`.
//!
//! Certificates are what Sprig's templates make: subject CN only, a random 128-bit serial,
//! valid from now for the given days, key usages digital signature and key encipherment (and
//! certificate signing for a CA), extended key usages server and client auth, basic
//! constraints (critical) `CA:TRUE` or `CA:FALSE`, a subject key identifier on CAs, the
//! CA's key identifier on signed certificates, DNS names then IP addresses as SANs, and
//! SHA-256 signatures. New keys are RSA 2048 (`genPrivateKey "rsa"`: 4096), PEM-encoded as
//! Go's `pem.Encode` writes them: `RSA PRIVATE KEY` (PKCS#1), `EC PRIVATE KEY` (SEC1),
//! `PRIVATE KEY` (PKCS#8, Ed25519), `DSA PRIVATE KEY` (Sprig's own ASN.1, L2048N256; Go
//! makes no certificate with a DSA key, and neither does this).

use std::net::IpAddr;

use base64::Engine as _;
use minijinja::{Error, State, Value};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use ring::rand::SystemRandom;
use ring::signature;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::EncodePrivateKey;

use crate::dicts::{string_arg, wrong_type};
use crate::lists::int_arg;
use crate::value::{self, GoStruct, Kind, kind};
use crate::{Registry, go_error, want_args};

/// The Go type of Sprig's certificate results (`typeOf`).
pub const CERTIFICATE_TYPE: &str = "sprig.certificate";

/// Registers the key and certificate functions.
pub fn register(r: &mut Registry) {
    r.add("genPrivateKey", gen_private_key);
    r.add("buildCustomCert", build_custom_cert);
    r.add("genCA", |_: &State<'_, '_>, args: &[Value]| {
        want_args("genCA", args, 2)?;
        let cn = string_arg(args, 0)?;
        let days = int_arg(args, 1)?;
        let key = PrivKey::generate_rsa(2048)?;
        ca(cn, days, &key)
    });
    r.add("genCAWithKey", |_: &State<'_, '_>, args: &[Value]| {
        want_args("genCAWithKey", args, 3)?;
        let cn = string_arg(args, 0)?;
        let days = int_arg(args, 1)?;
        let pem = string_arg(args, 2)?;
        let key =
            PrivKey::from_pem(&pem).map_err(|e| go_error(format!("parsing private key: {e}")))?;
        ca(cn, days, &key)
    });
    r.add("genSelfSignedCert", |_: &State<'_, '_>, args: &[Value]| {
        want_args("genSelfSignedCert", args, 4)?;
        let (cn, ips, dns, days) = cert_args(args)?;
        let key = PrivKey::generate_rsa(2048)?;
        self_signed(cn, ips, dns, days, &key)
    });
    r.add(
        "genSelfSignedCertWithKey",
        |_: &State<'_, '_>, args: &[Value]| {
            want_args("genSelfSignedCertWithKey", args, 5)?;
            let (cn, ips, dns, days) = cert_args(args)?;
            let pem = string_arg(args, 4)?;
            let key = PrivKey::from_pem(&pem)
                .map_err(|e| go_error(format!("parsing private key: {e}")))?;
            self_signed(cn, ips, dns, days, &key)
        },
    );
    r.add("genSignedCert", |_: &State<'_, '_>, args: &[Value]| {
        want_args("genSignedCert", args, 5)?;
        let (cn, ips, dns, days) = cert_args(args)?;
        let (ca_cert, ca_key) = certificate_arg(args, 4)?;
        let key = PrivKey::generate_rsa(2048)?;
        signed(cn, ips, dns, days, &ca_cert, &ca_key, &key)
    });
    r.add(
        "genSignedCertWithKey",
        |_: &State<'_, '_>, args: &[Value]| {
            want_args("genSignedCertWithKey", args, 6)?;
            let (cn, ips, dns, days) = cert_args(args)?;
            let (ca_cert, ca_key) = certificate_arg(args, 4)?;
            let pem = string_arg(args, 5)?;
            let key = PrivKey::from_pem(&pem)
                .map_err(|e| go_error(format!("parsing private key: {e}")))?;
            signed(cn, ips, dns, days, &ca_cert, &ca_key, &key)
        },
    );
}

/// A certificate result: Sprig's `certificate{Cert, Key}` struct.
pub fn certificate(cert: String, key: String) -> Value {
    Value::from_object(GoStruct::new(
        CERTIFICATE_TYPE,
        [("Cert", Value::from(cert)), ("Key", Value::from(key))],
    ))
}

/// The `Cert` and `Key` of a `certificate` argument.
fn certificate_arg(args: &[Value], i: usize) -> Result<(String, String), Error> {
    let v = &args[i];
    match v.downcast_object_ref::<GoStruct>() {
        Some(s) if s.type_name == CERTIFICATE_TYPE => {
            let field = |name| {
                s.fields
                    .get(name)
                    .and_then(|f| f.as_str().map(str::to_string))
                    .unwrap_or_default()
            };
            Ok((field("Cert"), field("Key")))
        }
        _ => Err(wrong_type(i, CERTIFICATE_TYPE, v)),
    }
}

/// A `[]interface{}` parameter; nil (Go's literal `nil`, as charts pass it) is empty.
fn slice_arg(args: &[Value], i: usize) -> Result<Vec<Value>, Error> {
    let v = &args[i];
    match kind(v) {
        Kind::Invalid => Ok(Vec::new()),
        Kind::Slice => Ok(value::as_list(v).unwrap_or_default()),
        _ => Err(wrong_type(i, "[]interface {}", v)),
    }
}

type CertArgs = (String, Vec<Value>, Vec<Value>, i64);

/// `cn ips dnsNames days`, converted as Go converts them.
fn cert_args(args: &[Value]) -> Result<CertArgs, Error> {
    Ok((
        string_arg(args, 0)?,
        slice_arg(args, 1)?,
        slice_arg(args, 2)?,
        int_arg(args, 3)?,
    ))
}

/// Go's `pem.Encode`: the base64 body in lines of 64.
pub fn pem_encode(kind: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {kind}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {kind}-----\n"));
    out
}

/// Go's `pem.Decode` of the first block: its type and bytes.
pub fn pem_decode(text: &str) -> Option<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + 11..];
    let type_end = rest.find("-----")?;
    let kind = &rest[..type_end];
    let rest = &rest[type_end + 5..];
    let end_marker = format!("-----END {kind}-----");
    let end = rest.find(&end_marker)?;
    let body: String = rest[..end]
        .lines()
        .filter(|l| !l.contains(':'))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    Some((kind.to_string(), der))
}

/// DER: a tag-length-value.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// DER: reads one tag-length-value off `input`: (tag, content, rest).
fn der_read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, b| a << 8 | usize::from(*b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// An elliptic curve Sprig can sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

impl Curve {
    fn oid(self) -> &'static [u8] {
        match self {
            Curve::P256 => OID_P256,
            Curve::P384 => OID_P384,
        }
    }

    fn from_oid(oid: &[u8]) -> Option<Curve> {
        match oid {
            OID_P256 => Some(Curve::P256),
            OID_P384 => Some(Curve::P384),
            _ => None,
        }
    }

    fn scalar_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }
}

/// A private key of a kind Sprig makes certificates with.
enum PrivKey {
    Rsa(Box<rsa::PrivateKey>),
    Ec {
        curve: Curve,
        scalar: Vec<u8>,
        public: Vec<u8>,
    },
    Ed25519([u8; 32]),
    /// Sprig's DSA key encoding (`DSAKeyFormat`); Go signs no certificate with DSA.
    Dsa(Vec<u8>),
}

/// The operating system's generator, for the `rsa` crate.
struct OsRng;

impl rsa::rand_core::TryRng for OsRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(rand::RngCore::next_u32(&mut rand::rng()))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(rand::RngCore::next_u64(&mut rand::rng()))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        rand::RngCore::fill_bytes(&mut rand::rng(), dst);
        Ok(())
    }
}

impl rsa::rand_core::TryCryptoRng for OsRng {}

fn key_error(e: impl std::fmt::Display) -> Error {
    go_error(format!("failed to generate private key: {e}"))
}

impl PrivKey {
    fn generate_rsa(bits: usize) -> Result<PrivKey, Error> {
        let key = rsa::PrivateKey::new(&mut OsRng, bits)
            .map_err(|e| go_error(format!("error generating rsa key: {e}")))?;
        Ok(PrivKey::Rsa(Box::new(key)))
    }

    /// A DSA key with L2048N256 parameters, as Sprig generates them.
    fn generate_dsa() -> Result<PrivKey, Error> {
        let components = dsa::Components::try_generate_from_rng_with_key_size(
            &mut OsRng,
            dsa::KeySize::DSA_2048_256,
        )
        .map_err(|e| go_error(format!("failed to generate dsa params: {e}")))?;
        let key = dsa::SigningKey::try_generate_from_rng_with_components(&mut OsRng, components)
            .map_err(key_error)?;
        let public = key.verifying_key();
        let c = public.components();
        let mut body = der(0x02, &[0]);
        for n in [
            c.p().as_ref(),
            c.q().as_ref(),
            c.g().as_ref(),
            public.y().as_ref(),
            key.x().as_ref(),
        ] {
            body.extend(der_uint(&n.to_be_bytes()));
        }
        Ok(PrivKey::Dsa(der(0x30, &body)))
    }

    fn generate_ecdsa() -> Result<PrivKey, Error> {
        let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &SystemRandom::new(),
        )
        .map_err(key_error)?;
        PrivKey::from_pkcs8(pkcs8.as_ref()).map_err(key_error)
    }

    fn generate_ed25519() -> Result<PrivKey, Error> {
        let pkcs8 =
            signature::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(key_error)?;
        PrivKey::from_pkcs8(pkcs8.as_ref()).map_err(key_error)
    }

    /// Sprig's `parsePrivateKeyPEM`; errors are its texts.
    fn from_pem(text: &str) -> Result<PrivKey, String> {
        let (kind, der) = pem_decode(text).ok_or("no PEM data in input")?;
        if kind == "PRIVATE KEY" {
            return PrivKey::from_pkcs8(&der).map_err(|e| format!("decoding PEM as PKCS#8: {e}"));
        }
        let Some(algorithm) = kind.strip_suffix(" PRIVATE KEY") else {
            return Err(format!("no private key data in PEM block of type {kind}"));
        };
        match algorithm {
            "RSA" => rsa::PrivateKey::from_pkcs1_der(&der)
                .map(|k| PrivKey::Rsa(Box::new(k)))
                .map_err(|e| format!("parsing RSA private key from PEM: {e}")),
            "EC" => PrivKey::from_sec1(&der, None).map_err(|e| {
                format!(
                    "parsing EC private key from PEM: x509: failed to parse EC private key: {e}"
                )
            }),
            "DSA" => match der_read(&der) {
                Some((0x30, _, _)) => Ok(PrivKey::Dsa(der)),
                _ => Err("parsing DSA private key from PEM: asn1: structure error: malformed DSA private key".into()),
            },
            _ => Err(format!("invalid private key type {kind}")),
        }
    }

    /// A PKCS#8 `PrivateKeyInfo` of an RSA, EC or Ed25519 key.
    fn from_pkcs8(der: &[u8]) -> Result<PrivKey, String> {
        let malformed = || "asn1: structure error: malformed PKCS#8 private key".to_string();
        let (_, info, _) = der_read(der).ok_or_else(malformed)?;
        let (_, _version, rest) = der_read(info).ok_or_else(malformed)?;
        let (_, alg, rest) = der_read(rest).ok_or_else(malformed)?;
        let (_, key, _) = der_read(rest).ok_or_else(malformed)?;
        let (_, oid, params) = der_read(alg).ok_or_else(malformed)?;
        match oid {
            OID_RSA => rsa::PrivateKey::from_pkcs1_der(key)
                .map(|k| PrivKey::Rsa(Box::new(k)))
                .map_err(|e| {
                    format!("x509: failed to parse RSA private key embedded in PKCS#8: {e}")
                }),
            OID_EC_PUBLIC_KEY => {
                let curve = der_read(params)
                    .and_then(|(_, oid, _)| Curve::from_oid(oid))
                    .ok_or("x509: unsupported elliptic curve")?;
                PrivKey::from_sec1(key, Some(curve)).map_err(|e| {
                    format!("x509: failed to parse EC private key embedded in PKCS#8: {e}")
                })
            }
            OID_ED25519 => {
                let seed = der_read(key)
                    .filter(|(tag, seed, _)| *tag == 0x04 && seed.len() == 32)
                    .and_then(|(_, seed, _)| <[u8; 32]>::try_from(seed).ok())
                    .ok_or("x509: invalid Ed25519 private key")?;
                Ok(PrivKey::Ed25519(seed))
            }
            _ => Err("x509: PKCS#8 wrapping contained private key with unknown algorithm".into()),
        }
    }

    /// A SEC 1 `ECPrivateKey` (its curve from its parameters, else `curve`).
    fn from_sec1(der: &[u8], curve: Option<Curve>) -> Result<PrivKey, String> {
        let malformed = || "asn1: structure error: malformed EC private key".to_string();
        let (_, seq, _) = der_read(der).ok_or_else(malformed)?;
        let (_, _version, rest) = der_read(seq).ok_or_else(malformed)?;
        let (_, scalar, mut rest) = der_read(rest).ok_or_else(malformed)?;
        let mut curve = curve;
        let mut public = None;
        while let Some((tag, content, next)) = der_read(rest) {
            match tag {
                0xa0 => {
                    let (_, oid, _) = der_read(content).ok_or_else(malformed)?;
                    curve = Some(Curve::from_oid(oid).ok_or("x509: unknown elliptic curve")?);
                }
                0xa1 => {
                    let (_, bits, _) = der_read(content).ok_or_else(malformed)?;
                    public = bits.split_first().map(|(_, p)| p.to_vec());
                }
                _ => {}
            }
            rest = next;
        }
        let curve = curve.ok_or("x509: unknown elliptic curve")?;
        let public = public.ok_or("x509: EC private key without public key")?;
        let mut padded = vec![0u8; curve.scalar_len().saturating_sub(scalar.len())];
        padded.extend_from_slice(scalar);
        Ok(PrivKey::Ec {
            curve,
            scalar: padded,
            public,
        })
    }

    /// The SEC 1 encoding Go's `x509.MarshalECPrivateKey` writes.
    fn sec1(curve: Curve, scalar: &[u8], public: &[u8]) -> Vec<u8> {
        let mut bits = vec![0u8];
        bits.extend_from_slice(public);
        let mut body = der(0x02, &[1]);
        body.extend(der(0x04, scalar));
        body.extend(der(0xa0, &der(0x06, curve.oid())));
        body.extend(der(0xa1, &der(0x03, &bits)));
        der(0x30, &body)
    }

    /// The PKCS#8 encoding (Ed25519 as Go's `x509.MarshalPKCS8PrivateKey` writes it).
    fn pkcs8(&self) -> Result<Vec<u8>, Error> {
        let version = der(0x02, &[0]);
        Ok(match self {
            PrivKey::Dsa(_) => return Err(cert_error(DSA_PUBLIC)),
            PrivKey::Rsa(k) => k
                .to_pkcs8_der()
                .map_err(|e| go_error(e.to_string()))?
                .as_bytes()
                .to_vec(),
            PrivKey::Ec {
                curve,
                scalar,
                public,
            } => {
                let mut alg = der(0x06, OID_EC_PUBLIC_KEY);
                alg.extend(der(0x06, curve.oid()));
                let mut body = version;
                body.extend(der(0x30, &alg));
                body.extend(der(0x04, &PrivKey::sec1(*curve, scalar, public)));
                der(0x30, &body)
            }
            PrivKey::Ed25519(seed) => {
                let mut body = version;
                body.extend(der(0x30, &der(0x06, OID_ED25519)));
                body.extend(der(0x04, &der(0x04, seed)));
                der(0x30, &body)
            }
        })
    }

    /// Sprig's `pemBlockForKey`.
    fn pem(&self) -> Result<String, Error> {
        Ok(match self {
            PrivKey::Rsa(k) => {
                let der = k.to_pkcs1_der().map_err(|e| go_error(e.to_string()))?;
                pem_encode("RSA PRIVATE KEY", der.as_bytes())
            }
            PrivKey::Ec {
                curve,
                scalar,
                public,
            } => pem_encode("EC PRIVATE KEY", &PrivKey::sec1(*curve, scalar, public)),
            PrivKey::Ed25519(_) => pem_encode("PRIVATE KEY", &self.pkcs8()?),
            PrivKey::Dsa(der) => pem_encode("DSA PRIVATE KEY", der),
        })
    }

    /// The key of a certificate's subject.
    fn key_pair(&self) -> Result<KeyPair, Error> {
        KeyPair::try_from(self.pkcs8()?.as_slice()).map_err(cert_error)
    }

    /// The key that signs a certificate (Go checks it before the subject's).
    fn signer(&self) -> Result<KeyPair, Error> {
        if let PrivKey::Dsa(_) = self {
            return Err(cert_error(
                "x509: certificate private key does not implement crypto.Signer",
            ));
        }
        self.key_pair()
    }
}

/// Go's refusal of a DSA subject key.
const DSA_PUBLIC: &str = "x509: unsupported public key type: *dsa.PublicKey";

/// DER: a non-negative INTEGER from big-endian bytes.
fn der_uint(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend(trimmed);
    der(0x02, &content)
}

/// `genPrivateKey type`: a new key in PEM, or Sprig's text for an unknown type.
fn gen_private_key(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    want_args("genPrivateKey", args, 1)?;
    let kind = string_arg(args, 0)?;
    let key = match kind.as_str() {
        "" | "rsa" => PrivKey::generate_rsa(4096)?,
        "ecdsa" => PrivKey::generate_ecdsa()?,
        "ed25519" => PrivKey::generate_ed25519()?,
        "dsa" => PrivKey::generate_dsa()?,
        _ => return Ok(Value::from(format!("Unknown type {kind}"))),
    };
    Ok(Value::from(key.pem()?))
}

/// `buildCustomCert b64cert b64key`: the decoded PEM texts, checked as Sprig checks them.
fn build_custom_cert(_: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
    want_args("buildCustomCert", args, 2)?;
    let cert = string_arg(args, 0)?;
    let key = string_arg(args, 1)?;
    let cert = crate::encodings::base64_decode(cert.as_bytes())
        .map_err(|_| go_error("unable to decode base64 certificate"))?;
    let key = crate::encodings::base64_decode(key.as_bytes())
        .map_err(|_| go_error("unable to decode base64 private key"))?;
    let cert = String::from_utf8_lossy(&cert).into_owned();
    let key = String::from_utf8_lossy(&key).into_owned();
    parse_certificate(&cert, "decodedCert.Bytes")?;
    PrivKey::from_pem(&key).map_err(|e| go_error(format!("error parsing private key: {e}")))?;
    Ok(certificate(cert, key))
}

/// The DER of a PEM certificate, checked to parse.
fn parse_certificate(pem: &str, what: &str) -> Result<Vec<u8>, Error> {
    let (_, der) = pem_decode(pem).ok_or_else(|| go_error("unable to decode certificate"))?;
    x509_parser::parse_x509_certificate(&der).map_err(|e| {
        go_error(format!(
            "error parsing certificate: {what}: x509: malformed certificate ({e})"
        ))
    })?;
    Ok(der)
}

/// Go's `net.ParseIP` (an IPv4-mapped address is IPv4, as Go encodes it).
fn parse_ip(s: &str) -> Option<IpAddr> {
    match s.parse::<IpAddr>().ok()? {
        IpAddr::V6(v6) => Some(
            v6.to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
        ),
        v4 => Some(v4),
    }
}

/// Sprig's `getBaseCertTemplate`.
fn base_params(
    cn: &str,
    ips: &[Value],
    dns: &[Value],
    days: i64,
) -> Result<CertificateParams, Error> {
    let mut ip_addrs = Vec::new();
    for ip in ips {
        if kind(ip) != Kind::String {
            return Err(go_error(format!(
                "error parsing ip: {} is not a string",
                crate::fmt::sprint_value(ip)
            )));
        }
        let s = ip.as_str().unwrap_or_default();
        let addr = parse_ip(s).ok_or_else(|| go_error(format!("error parsing ip: {s}")))?;
        ip_addrs.push(addr);
    }
    let mut names = Vec::new();
    for name in dns {
        if kind(name) != Kind::String {
            return Err(go_error(format!(
                "error processing alternate dns name: {} is not a string",
                crate::fmt::sprint_value(name)
            )));
        }
        names.push(name.as_str().unwrap_or_default().to_string());
    }
    let mut serial = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut serial);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let end = days
        .checked_mul(86_400)
        .and_then(|d| d.checked_add(now))
        .ok_or_else(|| go_error("error creating certificate: x509: invalid validity period"))?;
    let time = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .map_err(|_| go_error("error creating certificate: x509: invalid validity period"))
    };
    let mut params = CertificateParams::default();
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.not_before = time(now)?;
    params.not_after = time(end)?;
    let mut subject = DistinguishedName::new();
    if !cn.is_empty() {
        let value = match rcgen::string::PrintableString::try_from(cn) {
            Ok(p) => DnValue::PrintableString(p),
            Err(_) => DnValue::Utf8String(cn.to_string()),
        };
        subject.push(DnType::CommonName, value);
    }
    params.distinguished_name = subject;
    for name in names {
        let ia5 = rcgen::string::Ia5String::try_from(name.as_str()).map_err(|_| {
            go_error(format!(
                "error creating certificate: x509: {} cannot be encoded as an IA5String",
                crate::fmt::go_quote(&name)
            ))
        })?;
        params.subject_alt_names.push(SanType::DnsName(ia5));
    }
    params
        .subject_alt_names
        .extend(ip_addrs.into_iter().map(SanType::IpAddress));
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    // Go writes `CA:FALSE` (an empty, critical basic constraints) and no key identifier.
    let mut not_ca = CustomExtension::from_oid_content(&[2, 5, 29, 19], vec![0x30, 0x00]);
    not_ca.set_criticality(true);
    params.custom_extensions.push(not_ca);
    Ok(params)
}

fn cert_error(e: impl std::fmt::Display) -> Error {
    go_error(format!("error creating certificate: {e}"))
}

/// `genCA`: a self-signed CA certificate for `key`.
fn ca(cn: String, days: i64, key: &PrivKey) -> Result<Value, Error> {
    let mut params = base_params(&cn, &[], &[], days)?;
    params.custom_extensions.clear();
    params.key_usages.push(KeyUsagePurpose::KeyCertSign);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let pair = key.signer()?;
    let cert = params.self_signed(&pair).map_err(cert_error)?;
    Ok(certificate(
        pem_encode("CERTIFICATE", cert.der()),
        key.pem()?,
    ))
}

/// `genSelfSignedCert`: a self-signed leaf certificate for `key`.
fn self_signed(
    cn: String,
    ips: Vec<Value>,
    dns: Vec<Value>,
    days: i64,
    key: &PrivKey,
) -> Result<Value, Error> {
    let params = base_params(&cn, &ips, &dns, days)?;
    let pair = key.signer()?;
    let cert = params.self_signed(&pair).map_err(cert_error)?;
    Ok(certificate(
        pem_encode("CERTIFICATE", cert.der()),
        key.pem()?,
    ))
}

/// `genSignedCert`: a leaf certificate for `key` signed by the CA.
fn signed(
    cn: String,
    ips: Vec<Value>,
    dns: Vec<Value>,
    days: i64,
    ca_cert: &str,
    ca_key: &str,
    key: &PrivKey,
) -> Result<Value, Error> {
    let ca_der = parse_certificate(ca_cert, "decodedSignerCert.Bytes")?;
    let signer = PrivKey::from_pem(ca_key)
        .map_err(|e| go_error(format!("error parsing private key: {e}")))?;
    let mut params = base_params(&cn, &ips, &dns, days)?;
    params.use_authority_key_identifier_extension = true;
    let issuer = Issuer::from_ca_cert_der(&ca_der.into(), signer.signer()?).map_err(|e| {
        go_error(format!(
            "error parsing certificate: decodedSignerCert.Bytes: {e}"
        ))
    })?;
    let pair = key.key_pair()?;
    let cert = params.signed_by(&pair, &issuer).map_err(cert_error)?;
    Ok(certificate(
        pem_encode("CERTIFICATE", cert.der()),
        key.pem()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{int, list, nil};
    use minijinja::Environment;
    use std::process::Command;

    fn call(name: &str, args: &[Value]) -> Result<Value, String> {
        let mut r = Registry::default();
        register(&mut r);
        let env = Environment::new();
        let state = env.empty_state();
        (r.get(name).expect(name))(&state, args)
            .map_err(|e| e.detail().unwrap_or_default().to_string())
    }

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    fn field(v: &Value, name: &str) -> String {
        v.get_attr(name).unwrap().as_str().unwrap().to_string()
    }

    fn openssl(args: &[&str], input: &str) -> String {
        use std::io::Write;
        let mut child = Command::new("openssl")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("openssl");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    #[test]
    fn signed_certificates_verify_against_their_ca() {
        let ca = call("genCA", &[s("my-ca"), int(365)]).unwrap();
        assert_eq!(value::type_name(&ca), "sprig.certificate");
        assert_eq!(value::kind(&ca), Kind::Struct);
        let ca_text = openssl(&["x509", "-noout", "-text"], &field(&ca, "Cert"));
        assert!(ca_text.contains("Issuer: CN=my-ca") || ca_text.contains("Issuer: CN = my-ca"));
        assert!(ca_text.contains("CA:TRUE"), "{ca_text}");
        assert!(ca_text.contains("Digital Signature, Key Encipherment, Certificate Sign"));
        assert!(ca_text.contains("TLS Web Server Authentication, TLS Web Client Authentication"));
        assert!(ca_text.contains("sha256WithRSAEncryption"));
        assert!(ca_text.contains("Public-Key: (2048 bit)"));
        assert!(field(&ca, "Key").starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        let ips = list(vec![s("10.0.0.1"), s("::ffff:1.2.3.4")]);
        let dns = list(vec![s("svc"), s("svc.ns.svc")]);
        let leaf = call(
            "genSignedCert",
            &[s("svc.ns"), ips, dns, int(30), ca.clone()],
        )
        .unwrap();
        let text = openssl(&["x509", "-noout", "-text"], &field(&leaf, "Cert"));
        assert!(
            text.contains("DNS:svc, DNS:svc.ns.svc, IP Address:10.0.0.1, IP Address:1.2.3.4"),
            "{text}"
        );
        assert!(text.contains("CA:FALSE"), "{text}");
        assert!(!text.contains("Subject Key Identifier"), "{text}");
        assert!(text.contains("Authority Key Identifier"), "{text}");
        assert!(
            text.contains("Digital Signature, Key Encipherment\n"),
            "{text}"
        );
        let dir = tempfile::tempdir().unwrap();
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, field(&ca, "Cert")).unwrap();
        let verify = openssl(
            &["verify", "-CAfile", ca_path.to_str().unwrap()],
            &field(&leaf, "Cert"),
        );
        assert_eq!(verify.trim(), "stdin: OK");
        // the leaf's key is the key of its certificate
        let modulus = |args: &[&str], input: &str| openssl(args, input);
        assert_eq!(
            modulus(&["x509", "-noout", "-modulus"], &field(&leaf, "Cert")),
            modulus(&["rsa", "-noout", "-modulus"], &field(&leaf, "Key"))
        );
    }

    #[test]
    fn certificates_with_given_keys() {
        let ec = call("genPrivateKey", &[s("ecdsa")]).unwrap();
        let ec = ec.as_str().unwrap();
        assert!(ec.starts_with("-----BEGIN EC PRIVATE KEY-----\n"), "{ec}");
        let text = openssl(&["ec", "-noout", "-text"], ec);
        assert!(text.contains("prime256v1"), "{text}");
        let ca = call("genCAWithKey", &[s("ec-ca"), int(10), s(ec)]).unwrap();
        assert_eq!(field(&ca, "Key"), ec);
        let ed = call("genPrivateKey", &[s("ed25519")]).unwrap();
        let ed = ed.as_str().unwrap();
        assert!(
            ed.starts_with("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI"),
            "{ed}"
        );
        let leaf = call(
            "genSignedCertWithKey",
            &[
                s("leaf"),
                nil(),
                list(vec![s("a.example")]),
                int(1),
                ca.clone(),
                s(ed),
            ],
        )
        .unwrap();
        assert_eq!(field(&leaf, "Key"), ed);
        let dir = tempfile::tempdir().unwrap();
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, field(&ca, "Cert")).unwrap();
        let verify = openssl(
            &["verify", "-CAfile", ca_path.to_str().unwrap()],
            &field(&leaf, "Cert"),
        );
        assert_eq!(verify.trim(), "stdin: OK");
        let own = call(
            "genSelfSignedCertWithKey",
            &[s("self"), list(vec![s("127.0.0.1")]), nil(), int(1), s(ec)],
        )
        .unwrap();
        let text = openssl(&["x509", "-noout", "-text"], &field(&own, "Cert"));
        assert!(text.contains("IP Address:127.0.0.1"), "{text}");
        assert!(text.contains("ecdsa-with-SHA256"), "{text}");
        let built = call(
            "buildCustomCert",
            &[
                s(&base64::engine::general_purpose::STANDARD.encode(field(&own, "Cert"))),
                s(&base64::engine::general_purpose::STANDARD.encode(ec)),
            ],
        )
        .unwrap();
        assert_eq!(field(&built, "Cert"), field(&own, "Cert"));
    }

    #[test]
    fn rsa_keys_are_pkcs1_4096() {
        let key = call("genPrivateKey", &[s("rsa")]).unwrap();
        let key = key.as_str().unwrap();
        assert!(
            key.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"),
            "{key}"
        );
        assert!(key.lines().all(|l| l.len() <= 64));
        let text = openssl(&["rsa", "-noout", "-text"], key);
        assert!(text.contains("Private-Key: (4096 bit, 2 primes)"), "{text}");
    }

    /// Sprig's certificate struct for a CA made by Go: `testdata/*.pem` is `Cert` then `Key`.
    fn go_ca(file: &str) -> Value {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("testdata")
                .join(file),
        )
        .unwrap();
        let end = "-----END CERTIFICATE-----\n";
        let (cert, key) = text.split_at(text.find(end).unwrap() + end.len());
        certificate(cert.to_string(), key.to_string())
    }

    #[test]
    fn cas_made_by_go_sign_certificates() {
        for file in ["go-rsa-ca.pem", "go-ec-ca.pem"] {
            let ca = go_ca(file);
            let ips = list(vec![s("10.1.2.3")]);
            let leaf = call(
                "genSignedCert",
                &[s("leaf"), ips, nil(), int(3), ca.clone()],
            )
            .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let ca_path = dir.path().join("ca.pem");
            std::fs::write(&ca_path, field(&ca, "Cert")).unwrap();
            let verify = openssl(
                &["verify", "-CAfile", ca_path.to_str().unwrap()],
                &field(&leaf, "Cert"),
            );
            assert_eq!(verify.trim(), "stdin: OK", "{file}");
            // Go's key re-encodes to the same PEM (genCAWithKey returns it as Key)
            let again = call("genCAWithKey", &[s("x"), int(1), s(&field(&ca, "Key"))]).unwrap();
            assert_eq!(field(&again, "Key"), field(&ca, "Key"), "{file}");
        }
    }

    #[test]
    fn dsa_keys_are_made_but_sign_nothing() {
        let key = call("genPrivateKey", &[s("dsa")]).unwrap();
        let key = key.as_str().unwrap().to_string();
        assert!(
            key.starts_with("-----BEGIN DSA PRIVATE KEY-----\n"),
            "{key}"
        );
        let text = openssl(&["dsa", "-noout", "-text"], &key);
        assert!(text.contains("Private-Key: (2048 bit)"), "{text}");
        assert_eq!(
            call("genCAWithKey", &[s("x"), int(1), s(&key)]).unwrap_err(),
            "error creating certificate: x509: certificate private key does not implement crypto.Signer"
        );
        assert_eq!(
            call(
                "genSelfSignedCertWithKey",
                &[s("x"), nil(), nil(), int(1), s(&key)]
            )
            .unwrap_err(),
            "error creating certificate: x509: certificate private key does not implement crypto.Signer"
        );
        let ca = call("genCA", &[s("x"), int(1)]).unwrap();
        assert_eq!(
            call(
                "genSignedCertWithKey",
                &[s("x"), nil(), nil(), int(1), ca, s(&key)]
            )
            .unwrap_err(),
            "error creating certificate: x509: unsupported public key type: *dsa.PublicKey"
        );
    }

    #[test]
    fn errors_are_sprigs() {
        let cases: &[(&str, Vec<Value>, &str)] = &[
            (
                "genSelfSignedCert",
                vec![s("x"), list(vec![int(1)]), nil(), int(1)],
                "error parsing ip: 1 is not a string",
            ),
            (
                "genSelfSignedCert",
                vec![s("x"), list(vec![s("1.2.3")]), nil(), int(1)],
                "error parsing ip: 1.2.3",
            ),
            (
                "genSelfSignedCert",
                vec![s("x"), nil(), list(vec![int(1)]), int(1)],
                "error processing alternate dns name: 1 is not a string",
            ),
            (
                "genCAWithKey",
                vec![s("x"), int(1), s("junk")],
                "parsing private key: no PEM data in input",
            ),
            (
                "genCAWithKey",
                vec![
                    s("x"),
                    int(1),
                    s("-----BEGIN FOO-----\nYWJj\n-----END FOO-----\n"),
                ],
                "parsing private key: no private key data in PEM block of type FOO",
            ),
            (
                "genCAWithKey",
                vec![
                    s("x"),
                    int(1),
                    s(
                        "-----BEGIN OPENSSH PRIVATE KEY-----\nYWJj\n-----END OPENSSH PRIVATE KEY-----\n",
                    ),
                ],
                "parsing private key: invalid private key type OPENSSH PRIVATE KEY",
            ),
            (
                "genSignedCert",
                vec![s("x"), nil(), nil(), int(1), value::map(Default::default())],
                "wrong type for value; expected sprig.certificate; got map[string]interface {}",
            ),
            (
                "genCA",
                vec![s("x"), Value::from(1.0)],
                "wrong type for value; expected int; got float64",
            ),
            (
                "genSignedCert",
                vec![s("x"), nil(), nil(), int(1), Value::UNDEFINED],
                "invalid value; expected sprig.certificate",
            ),
            (
                "buildCustomCert",
                vec![s("!!"), s("YQ==")],
                "unable to decode base64 certificate",
            ),
            (
                "buildCustomCert",
                vec![s("YQ=="), s("!!")],
                "unable to decode base64 private key",
            ),
            (
                "buildCustomCert",
                vec![s("YQ=="), s("YQ==")],
                "unable to decode certificate",
            ),
        ];
        for (name, args, want) in cases {
            assert_eq!(call(name, args).unwrap_err(), *want, "{name}");
        }
        assert_eq!(
            call("genPrivateKey", &[s("foo")]).unwrap().as_str(),
            Some("Unknown type foo")
        );
        let ca = call("genCA", &[s("x"), int(1)]).unwrap();
        let cert = base64::engine::general_purpose::STANDARD.encode(field(&ca, "Cert"));
        assert_eq!(
            call("buildCustomCert", &[s(&cert), s("YQ==")]).unwrap_err(),
            "error parsing private key: no PEM data in input"
        );
    }
}

//! A token server for the distribution registry's token authentication (the Docker registry
//! token spec): `GET /token?service=..&scope=..` with HTTP basic credentials answers
//! `{"token": JWT}`, an ES256 JWT whose `x5c` certificate the registry trusts through its
//! `rootcertbundle`, granting every action asked for. Wrong credentials get a 401.
//!
//! The registry verifies these tokens itself (signature, issuer, audience, expiry, access), so
//! a client that passes the registry's token challenge against it passes it against any
//! spec-conforming token service.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rcgen::{CertificateParams, KeyPair};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::json;

/// The issuer named in tokens (the registry's `auth.token.issuer`).
pub const ISSUER: &str = "capstan-test-issuer";
/// The service tokens are for (the registry's `auth.token.service`).
pub const SERVICE: &str = "capstan-test-registry";

/// A running token server (stopped on drop).
pub struct TokenServer {
    addr: String,
    stop: Arc<AtomicBool>,
    issued: Arc<AtomicUsize>,
}

impl TokenServer {
    /// Starts one on a free loopback port accepting `user`/`password`; writes the certificate
    /// the registry must trust to `root_bundle`.
    pub fn start(user: &str, password: &str, root_bundle: &Path) -> anyhow::Result<TokenServer> {
        let key = KeyPair::generate()?;
        let cert =
            CertificateParams::new(vec!["capstan-token-issuer".to_string()])?.self_signed(&key)?;
        std::fs::write(root_bundle, cert.pem())?;
        let signer = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|e| anyhow::anyhow!("loading the token signing key: {e}"))?;
        let x5c = STANDARD.encode(cert.der());
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?.to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let issued = Arc::new(AtomicUsize::new(0));
        let expected = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
        let (thread_stop, thread_issued) = (stop.clone(), issued.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if thread_stop.load(Ordering::Relaxed) {
                    return;
                }
                if let Ok(stream) = stream {
                    let _ = answer(stream, &expected, &signer, &x5c, &thread_issued);
                }
            }
        });
        Ok(TokenServer { addr, stop, issued })
    }

    /// The realm the registry sends clients to.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// How many tokens it has issued.
    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::Relaxed)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(&self.addr);
    }
}

fn answer(
    mut stream: TcpStream,
    expected: &str,
    signer: &EcdsaKeyPair,
    x5c: &str,
    issued: &AtomicUsize,
) -> anyhow::Result<()> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 64 << 10 {
        let n = stream.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buffer[..n]);
    }
    let request = String::from_utf8_lossy(&request);
    let mut lines = request.lines();
    let target = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or_default()
        .to_string();
    let authorized = lines.any(|l| {
        l.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("authorization") && value.trim() == expected
        })
    });
    if !authorized {
        let body =
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"wrong user name or password"}]}"#;
        return respond(&mut stream, "401 Unauthorized", body);
    }
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let access: Vec<serde_json::Value> = query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("scope="))
        .flat_map(|scope| decode(scope).split(' ').map(str::to_string).collect::<Vec<_>>())
        .filter_map(|scope| {
            let (kind, rest) = scope.split_once(':')?;
            let (name, actions) = rest.rsplit_once(':')?;
            Some(json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let header = json!({"typ": "JWT", "alg": "ES256", "x5c": [x5c]});
    let claims = json!({
        "iss": ISSUER, "sub": "capstan", "aud": SERVICE, "exp": now + 300, "nbf": now - 10,
        "iat": now, "jti": format!("t{}", issued.load(Ordering::Relaxed)), "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = signer
        .sign(&ring::rand::SystemRandom::new(), signing_input.as_bytes())
        .map_err(|e| anyhow::anyhow!("signing a token: {e}"))?;
    let token = format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    );
    issued.fetch_add(1, Ordering::Relaxed);
    respond(
        &mut stream,
        "200 OK",
        &json!({"token": token, "expires_in": 300}).to_string(),
    )
}

fn respond(stream: &mut TcpStream, status: &str, body: &str) -> anyhow::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    Ok(stream.flush()?)
}

/// Percent-decoding of a query value (`+` is a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

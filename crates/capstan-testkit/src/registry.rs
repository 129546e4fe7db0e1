//! A real OCI registry for the OCI tests: the CNCF Distribution registry (`cmd/registry`, built by
//! `cargo xtask registry` into `<workspace>/target/registry/<version>/registry`, built here when
//! missing), on a free loopback port, serving TLS with a CA made for the test and requiring
//! htpasswd (bcrypt) authentication, with its storage in a scratch directory of its own.
//!
//! [`TestRegistry::start_token_auth`] starts one that authenticates with bearer tokens from a
//! [`TokenServer`] instead (the distribution token flow).
//!
//! [`TestRegistry::blob_path`] names a blob's file in that storage, so a test can tamper with
//! what the registry serves.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

use crate::cluster::root;
use crate::token_server::{self, TokenServer};

/// The Distribution release (kept equal to `xtask/src/registry.rs`).
pub const VERSION: &str = "v3.1.2";
/// The user the registry accepts.
pub const USER: &str = "capstan";
/// That user's password.
pub const PASSWORD: &str = "s3cret-registry-pw";

/// The registry binary, built with `cargo xtask registry` when missing.
pub fn binary() -> anyhow::Result<PathBuf> {
    static BUILD: Mutex<()> = Mutex::new(());
    let binary = root()
        .join("target/registry")
        .join(VERSION)
        .join("registry");
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if !binary.exists() {
        eprintln!(
            "{} is missing; running `cargo xtask registry`",
            binary.display()
        );
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(root())
            .args(["xtask", "registry"])
            .status()
            .context("running `cargo xtask registry`")?;
        ensure!(status.success(), "`cargo xtask registry` failed ({status})");
    }
    Ok(binary)
}

/// A running registry (stopped and its directory removed on drop).
pub struct TestRegistry {
    child: Child,
    dir: tempfile::TempDir,
    host: String,
    token_server: Option<TokenServer>,
}

/// How a test registry authenticates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// TLS and htpasswd.
    Htpasswd,
    /// TLS and bearer tokens from a token server.
    Token,
    /// Plain HTTP, anonymous.
    PlainHttp,
}

impl TestRegistry {
    /// Starts a registry with TLS and htpasswd authentication ([`USER`], [`PASSWORD`]).
    pub fn start() -> anyhow::Result<TestRegistry> {
        TestRegistry::start_with(Mode::Htpasswd)
    }

    /// Starts a registry on plain HTTP, without authentication (for `--plain-http`).
    pub fn start_plain_http() -> anyhow::Result<TestRegistry> {
        TestRegistry::start_with(Mode::PlainHttp)
    }

    /// Starts a registry with TLS that takes bearer tokens from a [`TokenServer`] accepting
    /// [`USER`] and [`PASSWORD`].
    pub fn start_token_auth() -> anyhow::Result<TestRegistry> {
        TestRegistry::start_with(Mode::Token)
    }

    /// How many tokens the token server issued (0 without one).
    pub fn tokens_issued(&self) -> usize {
        self.token_server.as_ref().map_or(0, TokenServer::issued)
    }

    fn start_with(mode: Mode) -> anyhow::Result<TestRegistry> {
        let binary = binary()?;
        let dir = tempfile::Builder::new()
            .prefix("capstan-registry-")
            .tempdir()?;
        write_certificates(dir.path())?;
        let hash = bcrypt::hash(PASSWORD, 4)?;
        std::fs::write(dir.path().join("htpasswd"), format!("{USER}:{hash}\n"))?;
        let token_server = match mode {
            Mode::Token => Some(TokenServer::start(
                USER,
                PASSWORD,
                &dir.path().join("token-ca.pem"),
            )?),
            _ => None,
        };
        let auth = match &token_server {
            Some(server) => format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}/token-ca.pem\n",
                server.realm(),
                token_server::SERVICE,
                token_server::ISSUER,
                dir.path().display()
            ),
            None if mode == Mode::Htpasswd => format!(
                "auth:\n  htpasswd:\n    realm: capstan-test-registry\n    path: {}/htpasswd\n",
                dir.path().display()
            ),
            None => String::new(),
        };
        let mut last_error = None;
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let host = format!("127.0.0.1:{port}");
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                config_yaml(dir.path(), &host, mode != Mode::PlainHttp, &auth),
            )?;
            let log = std::fs::File::create(dir.path().join("registry.log"))?;
            let mut child = Command::new(&binary)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .env("OTEL_TRACES_EXPORTER", "none")
                .spawn()
                .with_context(|| format!("starting {}", binary.display()))?;
            match wait_listening(&mut child, &host) {
                Ok(()) => {
                    return Ok(TestRegistry {
                        child,
                        dir,
                        host,
                        token_server,
                    });
                }
                Err(error) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = std::fs::read_to_string(dir.path().join("registry.log"))
                        .unwrap_or_default();
                    last_error = Some(error.context(log));
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("the registry did not start")))
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `oci://127.0.0.1:<port>/<path>`.
    pub fn oci(&self, path: &str) -> String {
        format!("oci://{}/{}", self.host, path.trim_start_matches('/'))
    }

    /// The CA certificate (PEM) that signed the registry's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The scratch directory (certificates, config, storage, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The file holding blob `digest` (`sha256:<hex>`) in the registry's storage.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config_yaml(dir: &Path, host: &str, tls: bool, auth: &str) -> String {
    let dir = dir.display();
    let secured = format!(
        "  tls:
    certificate: {dir}/server.pem
    key: {dir}/server.key
"
    );
    format!(
        "version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {dir}/storage
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: {host}
{}{auth}",
        if tls { secured.as_str() } else { "" }
    )
}

/// A CA (`ca.pem`) and a server certificate for 127.0.0.1 and localhost signed by it.
fn write_certificates(dir: &Path) -> anyhow::Result<()> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    std::fs::write(dir.join("ca.pem"), ca_cert.pem())?;
    std::fs::write(dir.join("server.pem"), cert.pem())?;
    std::fs::write(dir.join("server.key"), key.serialize_pem())?;
    Ok(())
}

fn wait_listening(child: &mut Child, host: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            bail!("the registry exited ({status}) before listening on {host}");
        }
        if TcpStream::connect(host).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("the registry did not listen on {host} within 20s")
}

//! `capstan` against a remote daemon over TLS with a bearer token: the real binary, and a renderer
//! daemon serving TLS with its own CA and requiring a token from a token file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use capstan_server::{Daemon, Security, TokenSet, security::TlsFiles};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

fn webapp() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/charts/webapp")
}

/// Writes a CA and a server certificate for localhost/127.0.0.1 under `dir`; returns the CA path.
fn certificates(dir: &Path) -> (PathBuf, TlsFiles) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, ca_cert.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    (
        ca,
        TlsFiles {
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            client_ca: None,
        },
    )
}

fn capstan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .env_remove("CAPSTAN_RENDERER")
        .env_remove("CAPSTAN_TOKEN")
        .env_remove("CAPSTAN_TLS_CA")
        .output()
        .expect("capstan runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_renderer_over_tls_with_a_bearer_token() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, tls) = certificates(dir.path());
    let tokens = TokenSet::parse(&TokenSet::entry_for("s3cret")).unwrap();
    let security = Security {
        tls: Some(tls),
        tokens: Some(tokens),
        ..Security::default()
    };
    let daemon = Daemon::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("https://{}", daemon.local_addr());
    let service = capstan_renderer::RendererService::default().into_server();
    tokio::spawn(async move {
        daemon
            .serve_secure(
                service,
                capstan_proto::FILE_DESCRIPTOR_SET,
                &security,
                std::future::pending(),
            )
            .await
    });
    let chart = webapp().display().to_string();
    let ca = ca.display().to_string();
    let local = capstan(&["template", "web", &chart]);
    assert!(local.status.success());

    let runs = tokio::task::spawn_blocking(move || {
        let ok = capstan(&[
            "template",
            "web",
            &chart,
            "--renderer",
            &addr,
            "--tls-ca",
            &ca,
            "--token",
            "s3cret",
        ]);
        let no_token = capstan(&[
            "template",
            "web",
            &chart,
            "--renderer",
            &addr,
            "--tls-ca",
            &ca,
        ]);
        let wrong_token = capstan(&[
            "template",
            "web",
            &chart,
            "--renderer",
            &addr,
            "--tls-ca",
            &ca,
            "--token",
            "guess",
        ]);
        let untrusted = capstan(&[
            "template",
            "web",
            &chart,
            "--renderer",
            &addr,
            "--token",
            "s3cret",
        ]);
        (ok, no_token, wrong_token, untrusted)
    })
    .await
    .unwrap();
    let (ok, no_token, wrong_token, untrusted) = runs;
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(
        ok.stdout, local.stdout,
        "the remote daemon renders what the in-process one does"
    );
    assert!(!no_token.status.success());
    assert!(
        stderr(&no_token).contains("requires a bearer token"),
        "{}",
        stderr(&no_token)
    );
    assert!(!wrong_token.status.success());
    assert!(
        stderr(&wrong_token).contains("not valid"),
        "{}",
        stderr(&wrong_token)
    );
    assert!(
        !stderr(&wrong_token).contains("guess"),
        "errors never echo the token"
    );
    assert!(
        !untrusted.status.success(),
        "a certificate from an unknown CA is refused"
    );
}

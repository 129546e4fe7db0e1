//! Charts in a real OCI registry (the CNCF Distribution registry, TLS with a CA made for the
//! test, htpasswd authentication; `capstan_testkit::registry`), with the built `capstan` binary
//! and Helm v3 and v4 on the other side: `registry login`/`logout` sharing Helm's credentials
//! file both ways, `push`, `pull`, `install`, `upgrade` and `template` from `oci://` references,
//! `--version` constraints against the tags, `@digest` references, the bearer token flow,
//! `--plain-http`, and bad input (a wrong password, a missing tag, an unreachable registry, a
//! blob tampered with in the registry's storage, a hostile archive, a chart layer over the
//! archive limit), each a clear error naming the registry and the chart, with a non-zero exit.
//!
//! Needs `cargo build -p capstan-cli` first (the binary next to this test) and the registry
//! (`cargo xtask registry`, built here when missing).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, ensure};
use capstan_e2e::process::{Run, binary};
use capstan_testkit::helm::Helm;
use capstan_testkit::registry::{PASSWORD, TestRegistry, USER};
use capstan_testkit::with_namespace;
use k8s_openapi::api::core::v1::ConfigMap;

/// A registry, a scratch Helm home with its credentials file, and a directory for charts.
struct Setup {
    registry: TestRegistry,
    home: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        Setup {
            registry: TestRegistry::start().expect("the registry starts"),
            home: tempfile::tempdir().expect("a scratch directory"),
        }
    }

    fn credentials(&self) -> PathBuf {
        self.home.path().join("config/registry/config.json")
    }

    fn ca(&self) -> String {
        self.registry.ca_file().display().to_string()
    }

    fn host(&self) -> &str {
        self.registry.host()
    }

    /// `capstan ARGS` with this setup's Helm home (and so its credentials file).
    fn capstan(&self, args: &[&str]) -> Run {
        self.capstan_stdin(args, None)
    }

    fn capstan_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        use std::io::Write as _;
        let mut command = Command::new(binary("capstan"));
        command
            .args(args)
            .env("KUBECONFIG", capstan_testkit::kubeconfig_path())
            .env("HELM_CONFIG_HOME", self.home.path().join("config"))
            .env("HELM_CACHE_HOME", self.home.path().join("cache"))
            .env("HELM_DATA_HOME", self.home.path().join("data"))
            .env_remove("HELM_REGISTRY_CONFIG")
            .env_remove("CAPSTAN_RENDERER")
            .env_remove("CAPSTAN_APPLIER")
            .env_remove("HELM_DRIVER")
            .env_remove("HELM_NAMESPACE")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("capstan runs");
        let mut input = child.stdin.take().expect("a stdin pipe");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("stdin written");
        }
        drop(input);
        child.wait_with_output().expect("capstan ends").into()
    }

    fn capstan_ok(&self, args: &[&str]) -> anyhow::Result<String> {
        self.capstan(args).ok(args)
    }

    /// `capstan registry login` with the test user, the password on standard input.
    fn login(&self) -> anyhow::Result<()> {
        let ca = self.ca();
        let run = self.capstan_stdin(
            &[
                "registry",
                "login",
                self.host(),
                "-u",
                USER,
                "--password-stdin",
                "--ca-file",
                &ca,
            ],
            Some(&format!("{PASSWORD}\n")),
        );
        ensure!(run.code == 0, "login failed: {}{}", run.stdout, run.stderr);
        ensure!(run.stdout.contains("Login Succeeded"), "{}", run.stdout);
        Ok(())
    }

    /// Helm `version` in `namespace`, sharing this setup's credentials file.
    fn helm(&self, version: &'static str, namespace: &str) -> anyhow::Result<Helm> {
        Ok(Helm::new(version, "secret", namespace)?.env(
            "HELM_REGISTRY_CONFIG",
            self.credentials().display().to_string(),
        ))
    }

    /// Packages the `oci-demo` chart at `version` into this setup's directory; its path.
    fn package(&self, version: &str) -> PathBuf {
        package_chart(self.home.path(), "oci-demo", version)
    }
}

/// A chart `name` at `version` with one ConfigMap recording the chart's version, packaged as
/// `<dir>/<name>-<version>.tgz`.
fn package_chart(dir: &Path, name: &str, version: &str) -> PathBuf {
    let source = dir.join(format!("src-{name}-{version}"));
    std::fs::create_dir_all(source.join("templates")).unwrap();
    std::fs::write(
        source.join("Chart.yaml"),
        format!("apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"1.0\"\ndescription: OCI test chart\n"),
    )
    .unwrap();
    std::fs::write(source.join("values.yaml"), "greeting: hello\n").unwrap();
    std::fs::write(
        source.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  \
         chartVersion: {{ .Chart.Version | quote }}\n  greeting: {{ .Values.greeting | quote }}\n",
    )
    .unwrap();
    let archive = capstan_chart::package_dir(&source, &capstan_chart::Limits::default()).unwrap();
    let path = dir.join(format!("{name}-{version}.tgz"));
    std::fs::write(&path, archive).unwrap();
    path
}

/// The `chartVersion` of ConfigMap `<release>-cm`.
async fn installed_version(
    ns: &capstan_testkit::TestNamespace,
    release: &str,
) -> anyhow::Result<String> {
    let cm = ns
        .api::<ConfigMap>()
        .get(&format!("{release}-cm"))
        .await
        .with_context(|| format!("ConfigMap {release}-cm"))?;
    Ok(cm
        .data
        .unwrap_or_default()
        .get("chartVersion")
        .cloned()
        .unwrap_or_default())
}

/// The `Digest: sha256:...` line of a push or pull.
fn digest_line(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("Digest: "))
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn capstan_logs_in_pushes_pulls_and_installs() {
    with_namespace("oci-capstan", |ns| async move {
        let setup = Setup::new();
        let ca = setup.ca();
        let host = setup.host().to_string();
        setup.login()?;
        let credentials = std::fs::read_to_string(setup.credentials())?;
        ensure!(
            credentials.contains(&format!("\"{host}\"")),
            "{credentials}"
        );
        ensure!(
            !credentials.contains(PASSWORD),
            "the password is stored base64-encoded only"
        );

        let chart = setup.package("1.0.0");
        let out = setup.capstan_ok(&[
            "push",
            chart.to_str().unwrap(),
            &setup.registry.oci("charts"),
            "--ca-file",
            &ca,
        ])?;
        ensure!(
            out.starts_with(&format!(
                "Pushed: {host}/charts/oci-demo:1.0.0\nDigest: sha256:"
            )),
            "{out}"
        );
        let digest = digest_line(&out);

        let reference = setup.registry.oci("charts/oci-demo");
        setup.capstan_ok(&[
            "install",
            "demo",
            &reference,
            "--version",
            "1.0.0",
            "--ca-file",
            &ca,
            "-n",
            ns.name(),
        ])?;
        ensure!(installed_version(&ns, "demo").await? == "1.0.0");

        let out = setup.capstan_ok(&[
            "template",
            "t",
            &format!("{reference}:1.0.0"),
            "--ca-file",
            &ca,
        ])?;
        ensure!(
            out.contains("name: t-cm") && out.contains("chartVersion: \"1.0.0\""),
            "{out}"
        );

        let dest = setup.home.path().join("pulled");
        let out = setup.capstan_ok(&[
            "pull",
            &format!("{reference}@{digest}"),
            "-d",
            dest.to_str().unwrap(),
            "--ca-file",
            &ca,
        ])?;
        ensure!(digest_line(&out) == digest, "{out}");
        ensure!(
            std::fs::read(dest.join("oci-demo-1.0.0.tgz"))? == std::fs::read(&chart)?,
            "the pulled archive is the pushed one"
        );

        let out = setup.capstan_ok(&["registry", "logout", &host])?;
        ensure!(
            out.contains(&format!("Removing login credentials for {host}")),
            "{out}"
        );
        let run = setup.capstan(&[
            "pull",
            &reference,
            "--version",
            "1.0.0",
            "-d",
            dest.to_str().unwrap(),
            "--ca-file",
            &ca,
        ]);
        ensure!(run.code != 0, "a pull without credentials fails");
        ensure!(
            run.stderr
                .contains(&format!("registry {host} refused anonymous access")),
            "{}",
            run.stderr
        );
        Ok(())
    })
    .await;
}

async fn helm_pushes_capstan_installs(version: &'static str) {
    with_namespace("oci-from-helm", |ns| async move {
        let setup = Setup::new();
        let ca = setup.ca();
        let helm = setup.helm(version, ns.name())?;
        // Helm logs in and writes the credentials file capstan then uses.
        helm.run(&[
            "registry",
            "login",
            setup.host(),
            "-u",
            USER,
            "-p",
            PASSWORD,
            "--ca-file",
            &ca,
        ])
        .await?;
        let chart = setup.package("0.3.0");
        let out = helm
            .run(&[
                "push",
                chart.to_str().unwrap(),
                &setup.registry.oci("helm"),
                "--ca-file",
                &ca,
            ])
            .await;
        // Helm prints the push result on stderr or stdout depending on the version.
        out?;
        let reference = setup.registry.oci("helm/oci-demo");
        setup.capstan_ok(&[
            "install",
            "from-helm",
            &reference,
            "--version",
            "0.3.0",
            "--ca-file",
            &ca,
            "-n",
            ns.name(),
        ])?;
        ensure!(installed_version(&ns, "from-helm").await? == "0.3.0");
        let dest = setup.home.path().join("pulled");
        setup.capstan_ok(&[
            "pull",
            &reference,
            "-d",
            dest.to_str().unwrap(),
            "--ca-file",
            &ca,
        ])?;
        ensure!(std::fs::read(dest.join("oci-demo-0.3.0.tgz"))? == std::fs::read(&chart)?);
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn helm_v3_pushes_and_capstan_installs() {
    helm_pushes_capstan_installs("v3.22.0").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn helm_v4_pushes_and_capstan_installs() {
    helm_pushes_capstan_installs("v4.3.1").await;
}

async fn capstan_pushes_helm_installs(version: &'static str) {
    with_namespace("oci-to-helm", |ns| async move {
        let setup = Setup::new();
        let ca = setup.ca();
        // capstan logs in and writes the credentials file Helm then uses.
        setup.login()?;
        let chart = setup.package("2.1.0+build.5");
        // A provenance file next to the archive is pushed as Helm's provenance layer.
        let prov = format!("{}.prov", chart.display());
        std::fs::write(
            &prov,
            "-----BEGIN PGP SIGNED MESSAGE-----\nnot verified here\n",
        )?;
        let out = setup.capstan_ok(&[
            "push",
            chart.to_str().unwrap(),
            &setup.registry.oci("charts"),
            "--ca-file",
            &ca,
        ])?;
        ensure!(
            out.contains(&format!(
                "Pushed: {}/charts/oci-demo:2.1.0_build.5",
                setup.host()
            )),
            "{out}"
        );
        let helm = setup.helm(version, ns.name())?;
        let reference = setup.registry.oci("charts/oci-demo");
        helm.run(&[
            "install",
            "to-helm",
            &reference,
            "--version",
            "2.1.0+build.5",
            "--ca-file",
            &ca,
        ])
        .await?;
        ensure!(installed_version(&ns, "to-helm").await? == "2.1.0+build.5");
        let dest = setup.home.path().join("helm-pulled");
        std::fs::create_dir_all(&dest)?;
        helm.run(&[
            "pull",
            &reference,
            "--version",
            "2.1.0+build.5",
            "--prov",
            "-d",
            dest.to_str().unwrap(),
            "--ca-file",
            &ca,
        ])
        .await?;
        ensure!(std::fs::read(dest.join("oci-demo-2.1.0+build.5.tgz"))? == std::fs::read(&chart)?);
        ensure!(
            std::fs::read(dest.join("oci-demo-2.1.0+build.5.tgz.prov"))? == std::fs::read(&prov)?,
            "Helm reads the provenance layer capstan pushed"
        );
        let mine = setup.home.path().join("capstan-pulled");
        setup.capstan_ok(&[
            "pull",
            &reference,
            "--version",
            "2.1.0+build.5",
            "--prov",
            "-d",
            mine.to_str().unwrap(),
            "--ca-file",
            &ca,
        ])?;
        ensure!(
            std::fs::read(mine.join("oci-demo-2.1.0+build.5.tgz.prov"))? == std::fs::read(&prov)?
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn capstan_pushes_and_helm_v3_installs() {
    capstan_pushes_helm_installs("v3.22.0").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn capstan_pushes_and_helm_v4_installs() {
    capstan_pushes_helm_installs("v4.3.1").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_resolve_against_the_tags_and_digests_pin() {
    let setup = Setup::new();
    let ca = setup.ca();
    setup.login().unwrap();
    let mut digests = std::collections::BTreeMap::new();
    for version in ["0.9.0", "1.0.0", "1.2.0", "1.3.0+build.1", "2.0.0-rc.1"] {
        let chart = setup.package(version);
        let out = setup
            .capstan_ok(&[
                "push",
                chart.to_str().unwrap(),
                &setup.registry.oci("charts"),
                "--ca-file",
                &ca,
            ])
            .unwrap();
        digests.insert(version, digest_line(&out));
    }
    let reference = setup.registry.oci("charts/oci-demo");
    let rendered = |args: &[&str]| -> String {
        let mut all = vec![
            "template",
            "r",
            reference.as_str(),
            "--ca-file",
            ca.as_str(),
        ];
        all.extend_from_slice(args);
        let out = setup.capstan_ok(&all).unwrap();
        out.lines()
            .find_map(|l| l.trim().strip_prefix("chartVersion: "))
            .unwrap_or_default()
            .trim_matches('"')
            .to_string()
    };
    assert_eq!(
        rendered(&[]),
        "1.3.0+build.1",
        "no --version: the newest release"
    );
    assert_eq!(rendered(&["--version", "~1.2"]), "1.2.0");
    assert_eq!(rendered(&["--version", "^1.0.0"]), "1.3.0+build.1");
    assert_eq!(rendered(&["--version", "<1.0.0"]), "0.9.0");
    assert_eq!(rendered(&["--version", ">=2.0.0-0"]), "2.0.0-rc.1");
    assert_eq!(rendered(&["--version", "1.0.0"]), "1.0.0");

    let run = setup.capstan(&[
        "template",
        "r",
        &reference,
        "--ca-file",
        &ca,
        "--version",
        ">5",
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains(&format!(
            "no version of chart {}/charts/oci-demo matches \">5\"",
            setup.host()
        )),
        "{}",
        run.stderr
    );

    // --insecure-skip-tls-verify instead of the CA; --username/--password instead of the file.
    let out = setup
        .capstan_ok(&["registry", "logout", setup.host()])
        .unwrap();
    assert!(out.contains("Removing login credentials"), "{out}");
    let out = setup
        .capstan_ok(&[
            "template",
            "r",
            &format!("{reference}:1.2.0"),
            "--insecure-skip-tls-verify",
            "--username",
            USER,
            "--password",
            PASSWORD,
        ])
        .unwrap();
    assert!(out.contains("chartVersion: \"1.2.0\""), "{out}");
    setup.login().unwrap();

    let pinned = format!("{reference}@{}", digests["1.0.0"]);
    let out = setup
        .capstan_ok(&["template", "r", &pinned, "--ca-file", &ca])
        .unwrap();
    assert!(out.contains("chartVersion: \"1.0.0\""), "{out}");
    let run = setup.capstan(&[
        "template",
        "r",
        &format!("{reference}:1.2.0"),
        "--version",
        "1.0.0",
        "--ca-file",
        &ca,
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("chart reference and version mismatch"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_fails_naming_the_registry_and_the_chart() {
    let setup = Setup::new();
    let ca = setup.ca();
    let host = setup.host().to_string();

    // A wrong password: login fails and writes nothing.
    let run = setup.capstan(&[
        "registry",
        "login",
        &host,
        "-u",
        USER,
        "-p",
        "wrong",
        "--ca-file",
        &ca,
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains(&format!(
            "registry {host} refused the credentials of user \"{USER}\""
        )),
        "{}",
        run.stderr
    );
    assert!(!setup.credentials().exists());
    // The CA is required: without it the registry's certificate is not trusted.
    let run = setup.capstan(&["registry", "login", &host, "-u", USER, "-p", PASSWORD]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains(&format!("registry {host} is unreachable")),
        "{}",
        run.stderr
    );

    setup.login().unwrap();
    let chart = setup.package("1.0.0");
    setup
        .capstan_ok(&[
            "push",
            chart.to_str().unwrap(),
            &setup.registry.oci("charts"),
            "--ca-file",
            &ca,
        ])
        .unwrap();
    let reference = setup.registry.oci("charts/oci-demo");

    // A missing tag.
    let run = setup.capstan(&["template", &format!("{reference}:9.9.9"), "--ca-file", &ca]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains(&format!(
            "{host}/charts/oci-demo:9.9.9 not found in registry {host}"
        )),
        "{}",
        run.stderr
    );

    // An unreachable registry.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let run = setup.capstan(&["template", &format!("oci://{closed}/charts/oci-demo:1.0.0")]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains(&format!("registry {closed} is unreachable"))
            && run.stderr.contains("charts/oci-demo"),
        "{}",
        run.stderr
    );

    // A blob changed in the registry's storage: the digest check refuses it.
    let archive = std::fs::read(&chart).unwrap();
    let blob = setup
        .registry
        .blob_path(&capstan_oci::digest::sha256(&archive));
    let mut tampered = std::fs::read(&blob).unwrap();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    std::fs::write(&blob, &tampered).unwrap();
    let dest = setup.home.path().join("pulled");
    let run = setup.capstan(&[
        "pull",
        &format!("{reference}:1.0.0"),
        "-d",
        dest.to_str().unwrap(),
        "--ca-file",
        &ca,
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains(&format!(
            "digest mismatch for chart {host}/charts/oci-demo:1.0.0 from registry {host}"
        )),
        "{}",
        run.stderr
    );
    assert!(!dest.join("oci-demo-1.0.0.tgz").exists(), "nothing written");

    // A hostile archive (an entry escaping the chart) pushed with the raw API.
    let evil = hostile_archive();
    let metadata = capstan_chart::ChartMetadata::parse(
        "apiVersion: v2\nname: evil\nversion: 1.0.0\n",
        "evil/Chart.yaml",
    )
    .unwrap();
    let built = capstan_oci::manifest::chart_manifest(&metadata, &evil, None, "");
    let registry = capstan_oci::Registry::new(
        &host,
        &capstan_oci::Options {
            ca_file: Some(setup.registry.ca_file()),
            credential: Some(capstan_oci::Credential {
                username: USER.into(),
                password: PASSWORD.into(),
            }),
            ..Default::default()
        },
    )
    .unwrap();
    registry
        .push_blob("charts/evil", &built.config)
        .await
        .unwrap();
    registry.push_blob("charts/evil", &evil).await.unwrap();
    registry
        .push_manifest("charts/evil", "1.0.0", &built.bytes)
        .await
        .unwrap();
    let run = setup.capstan(&[
        "template",
        &setup.registry.oci("charts/evil:1.0.0"),
        "--ca-file",
        &ca,
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains(&format!("chart {host}/charts/evil:1.0.0"))
            && run.stderr.contains(".."),
        "{}",
        run.stderr
    );

    // A chart layer over the archive limit (20 MiB) is refused before it is downloaded.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let huge: Vec<u8> = (0..21 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let built = capstan_oci::manifest::chart_manifest(&metadata, &huge, None, "");
    registry
        .push_blob("charts/huge", &built.config)
        .await
        .unwrap();
    registry.push_blob("charts/huge", &huge).await.unwrap();
    registry
        .push_manifest("charts/huge", "1.0.0", &built.bytes)
        .await
        .unwrap();
    let run = setup.capstan(&[
        "template",
        &setup.registry.oci("charts/huge:1.0.0"),
        "--ca-file",
        &ca,
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains(&format!(
            "chart {host}/charts/huge:1.0.0 from registry {host} is 22020096 bytes, over the 20971520 byte limit"
        )),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bearer_tokens_from_the_registrys_token_server() {
    let setup = Setup {
        registry: TestRegistry::start_token_auth().unwrap(),
        home: tempfile::tempdir().unwrap(),
    };
    let ca = setup.ca();
    let host = setup.host().to_string();
    let run = setup.capstan(&[
        "registry",
        "login",
        &host,
        "-u",
        USER,
        "-p",
        "wrong",
        "--ca-file",
        &ca,
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains(&format!(
            "registry {host} refused the credentials of user \"{USER}\""
        )),
        "{}",
        run.stderr
    );
    setup.login().unwrap();
    let chart = setup.package("3.0.0");
    setup
        .capstan_ok(&[
            "push",
            chart.to_str().unwrap(),
            &setup.registry.oci("tokens"),
            "--ca-file",
            &ca,
        ])
        .unwrap();
    let out = setup
        .capstan_ok(&[
            "template",
            &setup.registry.oci("tokens/oci-demo"),
            "--version",
            "^3",
            "--ca-file",
            &ca,
        ])
        .unwrap();
    assert!(out.contains("chartVersion: \"3.0.0\""), "{out}");
    assert!(
        setup.registry.tokens_issued() >= 3,
        "login, push and pull each took a token"
    );
    // Anonymous: the token server refuses, and the error says no credentials were given.
    setup.capstan_ok(&["registry", "logout", &host]).unwrap();
    let run = setup.capstan(&[
        "template",
        &setup.registry.oci("tokens/oci-demo:3.0.0"),
        "--ca-file",
        &ca,
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains(&format!("registry {host} refused anonymous access")),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_registries_need_plain_http() {
    let registry = TestRegistry::start_plain_http().unwrap();
    let setup = Setup {
        registry,
        home: tempfile::tempdir().unwrap(),
    };
    let chart = setup.package("0.1.0");
    let out = setup
        .capstan_ok(&[
            "push",
            chart.to_str().unwrap(),
            &setup.registry.oci("plain"),
            "--plain-http",
        ])
        .unwrap();
    assert!(
        out.starts_with(&format!("Pushed: {}/plain/oci-demo:0.1.0", setup.host())),
        "{out}"
    );
    let reference = setup.registry.oci("plain/oci-demo");
    let out = setup
        .capstan_ok(&["template", &reference, "--plain-http", "--version", "0.1.0"])
        .unwrap();
    assert!(out.contains("chartVersion: \"0.1.0\""), "{out}");
    // Without --plain-http, HTTPS to a plain HTTP registry fails, naming it.
    let run = setup.capstan(&["template", &reference, "--version", "0.1.0"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains(&format!("registry {} is unreachable", setup.host())),
        "{}",
        run.stderr
    );
}

/// A gzipped tar holding `evil/Chart.yaml` and an entry `evil/../../escape.txt`.
fn hostile_archive() -> Vec<u8> {
    let mut tar = Vec::new();
    for (name, data) in [
        (
            "evil/Chart.yaml",
            &b"apiVersion: v2\nname: evil\nversion: 1.0.0\n"[..],
        ),
        ("evil/../../escape.txt", &b"gotcha"[..]),
    ] {
        let mut header = [0u8; 512];
        header[..name.len()].copy_from_slice(name.as_bytes());
        header[100..108].copy_from_slice(b"0000644\0");
        header[108..116].copy_from_slice(b"0000000\0");
        header[116..124].copy_from_slice(b"0000000\0");
        header[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        header[136..148].copy_from_slice(b"00000000000\0");
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
        header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        tar.extend_from_slice(&header);
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.resize(tar.len() + 1024, 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap()
}

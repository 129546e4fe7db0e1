//! The renderer fetching charts by reference (`capstan-renderer --chart-sources`), against real
//! servers: nginx serving a chart repository over TLS with basic authentication, and the CNCF
//! Distribution registry over TLS with htpasswd authentication (the set-ups of `repos.rs` and
//! `oci.rs`, from `capstan_testkit`). Tenants of a policy render with `capstan ... --remote-chart`;
//! a chart is downloaded once per digest for all of them (nginx's access log and the
//! renderer's `capstan_chart_fetches_total` metric count it); a tenant whose policy does not
//! name a source, a reference under no source, an archive whose digest is not the index's, and
//! an unreachable source are each refused with an error naming the reference.
//!
//! Needs `cargo build -p capstan-cli -p capstan-renderer` first, nginx (`nginx-light`) and the
//! registry (`cargo xtask registry`, built when missing).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, ensure};
use capstan_e2e::process::binary;
use capstan_testkit::chartrepo::{ChartRepo, RepoOptions};
use capstan_testkit::registry::{PASSWORD, TestRegistry, USER};

/// A chart `name` at `version` with one ConfigMap recording its version, as archive bytes.
fn chart(dir: &Path, name: &str, version: &str, greeting: &str) -> anyhow::Result<Vec<u8>> {
    let source = dir.join(format!("src-{name}-{version}-{greeting}"));
    std::fs::create_dir_all(source.join("templates"))?;
    std::fs::write(
        source.join("Chart.yaml"),
        format!(
            "apiVersion: v2\nname: {name}\nversion: {version}\ndescription: fetched by the renderer\n"
        ),
    )?;
    std::fs::write(
        source.join("values.yaml"),
        format!("greeting: {greeting}\n"),
    )?;
    std::fs::write(
        source.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  \
         chartVersion: {{ .Chart.Version | quote }}\n  greeting: {{ .Values.greeting | quote }}\n",
    )?;
    Ok(capstan_chart::package_dir(
        &source,
        &capstan_chart::Limits::default(),
    )?)
}

/// The servers, the renderer with its sources and policy, and a Helm home for `repo add`.
struct Fixture {
    dir: tempfile::TempDir,
    repo: ChartRepo,
    registry: TestRegistry,
    renderer: Child,
    addr: String,
    metrics: String,
    down: String,
}

const TENANTS: &str = "tenants:
  alpha:
    namespaces: [\"*\"]
    operations: [render, install, get, status, list]
    impersonate: {user: alpha}
    chartSources: [internal, registry, down]
  beta:
    namespaces: [\"*\"]
    operations: [render]
    impersonate: {user: beta}
    chartSources: [\"*\"]
  gamma:
    namespaces: [\"*\"]
    operations: [render]
    impersonate: {user: gamma}
    chartSources: [registry]
";

impl Fixture {
    async fn start() -> anyhow::Result<Fixture> {
        let dir = tempfile::Builder::new()
            .prefix("capstan-chart-sources-")
            .tempdir()?;
        let repo = ChartRepo::start(RepoOptions::default())?;
        for version in ["0.1.0", "0.1.1", "0.2.0"] {
            std::fs::write(
                repo.dir().join(format!("demo-{version}.tgz")),
                chart(dir.path(), "demo", version, "hello")?,
            )?;
        }
        std::fs::write(
            repo.dir().join("tampered-1.0.0.tgz"),
            chart(dir.path(), "tampered", "1.0.0", "original")?,
        )?;
        let index = Command::new(binary("capstan"))
            .args(["repo", "index"])
            .arg(repo.dir())
            .args(["--url", repo.url()])
            .output()?;
        ensure!(index.status.success(), "repo index: {index:?}");
        // The archive changes after the index recorded its digest.
        std::fs::write(
            repo.dir().join("tampered-1.0.0.tgz"),
            chart(dir.path(), "tampered", "1.0.0", "replaced")?,
        )?;

        let registry = TestRegistry::start()?;
        let client = capstan_oci::Registry::new(
            registry.host(),
            &capstan_oci::Options {
                ca_file: Some(registry.ca_file()),
                credential: Some(capstan_oci::Credential {
                    username: USER.into(),
                    password: PASSWORD.into(),
                }),
                ..capstan_oci::Options::default()
            },
        )?;
        for version in ["0.1.1", "0.2.0"] {
            // The same archives as the repository's: one digest, wherever it comes from.
            let archive = std::fs::read(repo.dir().join(format!("demo-{version}.tgz")))?;
            capstan_oci::chart::push(
                &client,
                &registry.oci("charts"),
                &archive,
                None,
                "2026-12-04T00:00:00Z",
                &capstan_chart::Limits::default(),
            )
            .await?;
        }

        let secrets = dir.path();
        let (repo_user, repo_password) = repo.credentials().context("basic auth")?;
        std::fs::write(secrets.join("repo-user"), format!("{repo_user}\n"))?;
        std::fs::write(secrets.join("repo-password"), format!("{repo_password}\n"))?;
        std::fs::write(secrets.join("registry-user"), USER)?;
        std::fs::write(secrets.join("registry-password"), PASSWORD)?;
        let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let down = format!("https://{closed}/charts");
        let s = |name: &str| secrets.join(name).display().to_string();
        std::fs::write(
            secrets.join("sources.yaml"),
            format!(
                "cacheDir: {cache}\nsources:\n\
                 - name: internal\n  url: {repo}\n  usernameFile: {ru}\n  passwordFile: {rp}\n  caFile: {rca}\n\
                 - name: registry\n  url: {oci}\n  usernameFile: {gu}\n  passwordFile: {gp}\n  caFile: {gca}\n\
                 - name: down\n  url: {down}\n",
                cache = s("cache"),
                repo = repo.url(),
                ru = s("repo-user"),
                rp = s("repo-password"),
                rca = repo.ca_file().display(),
                oci = registry.oci("charts"),
                gu = s("registry-user"),
                gp = s("registry-password"),
                gca = registry.ca_file().display(),
            ),
        )?;
        std::fs::write(secrets.join("policy.yaml"), TENANTS)?;
        let mut tokens = String::new();
        for tenant in ["alpha", "beta", "gamma"] {
            tokens.push_str(&format!(
                "{} {tenant}\n",
                capstan_server::TokenSet::entry_for(&format!("token-{tenant}"))
            ));
        }
        std::fs::write(secrets.join("tokens"), tokens)?;

        let mut renderer = Command::new(binary("capstan-renderer"))
            .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
            .arg("--chart-sources")
            .arg(secrets.join("sources.yaml"))
            .arg("--policy")
            .arg(secrets.join("policy.yaml"))
            .arg("--token-file")
            .arg(secrets.join("tokens"))
            .env_remove("HELM_DRIVER")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(secrets.join("renderer.log"))?)
            .spawn()?;
        let mut lines = BufReader::new(renderer.stdout.take().context("stdout")?).lines();
        let mut last_word = || -> anyhow::Result<String> {
            let line = lines
                .next()
                .context("the renderer prints its addresses")??;
            Ok(line.rsplit(' ').next().unwrap_or_default().to_owned())
        };
        let addr = last_word()?;
        let metrics = last_word()?;
        Ok(Fixture {
            dir,
            repo,
            registry,
            renderer,
            addr,
            metrics,
            down,
        })
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// `capstan ARGS --renderer ADDR --token token-TENANT --remote-chart` with a Helm home of
    /// its own; exit code, stdout, stderr.
    fn capstan(&self, tenant: &str, args: &[&str]) -> (i32, String, String) {
        let home = self.home();
        let output = Command::new(binary("capstan"))
            .args(args)
            .args([
                "--renderer",
                &self.addr,
                "--token",
                &format!("token-{tenant}"),
            ])
            .env("KUBECONFIG", capstan_testkit::kubeconfig_path())
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env_remove("HELM_REPOSITORY_CONFIG")
            .env_remove("HELM_REPOSITORY_CACHE")
            .env_remove("CAPSTAN_RENDERER")
            .env_remove("CAPSTAN_APPLIER")
            .env_remove("CAPSTAN_TOKEN")
            .env_remove("HELM_DRIVER")
            .env_remove("HELM_NAMESPACE")
            .output()
            .expect("capstan runs");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Renders `args` as `tenant` (`template rel ... --remote-chart`); the rendered chart
    /// version.
    fn render(&self, tenant: &str, args: &[&str]) -> anyhow::Result<String> {
        let mut all = vec!["template", "rel"];
        all.extend(args);
        all.push("--remote-chart");
        let (code, stdout, stderr) = self.capstan(tenant, &all);
        ensure!(
            code == 0,
            "{tenant}: capstan {all:?} exited {code}:\n{stdout}\n{stderr}\nrenderer log:\n{}",
            std::fs::read_to_string(self.dir.path().join("renderer.log")).unwrap_or_default()
        );
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("chartVersion: "))
            .map(|v| v.trim_matches('"').to_owned())
            .with_context(|| format!("no chartVersion in:\n{stdout}"))
    }

    /// Renders `args` as `tenant`, required to fail; the error text.
    fn refused(&self, tenant: &str, args: &[&str]) -> anyhow::Result<String> {
        let mut all = vec!["template", "rel"];
        all.extend(args);
        all.push("--remote-chart");
        let (code, stdout, stderr) = self.capstan(tenant, &all);
        ensure!(code != 0, "{tenant}: capstan {all:?} succeeded:\n{stdout}");
        Ok(stderr)
    }

    /// The archives nginx served.
    fn repo_downloads(&self) -> usize {
        self.repo
            .access_log()
            .lines()
            .filter(|l| l.contains(".tgz HTTP") && l.contains("\" 200 "))
            .count()
    }

    /// `capstan_chart_fetches_total{result="RESULT"}` of the renderer.
    async fn fetches(&self, result: &str) -> anyhow::Result<u64> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let host = self
            .metrics
            .trim_start_matches("http://")
            .trim_end_matches("/metrics")
            .to_owned();
        let mut stream = tokio::net::TcpStream::connect(&host).await?;
        stream
            .write_all(
                format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        let prefix = format!("capstan_chart_fetches_total{{result=\"{result}\"}} ");
        Ok(response
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map_or(Ok(0), str::parse)?)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.renderer.kill();
        let _ = self.renderer.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tenants_render_by_reference_and_share_one_download_per_digest() {
    let f = Fixture::start().await.expect("the fixture starts");
    let repo = f.repo.url().to_owned();
    let run = async {
        // A classic repository, by URL, with a constraint resolved as the CLI resolves it.
        let alpha = f.render("alpha", &["demo", "--repo", &repo, "--version", "^0.1"])?;
        ensure!(alpha == "0.1.1", "alpha rendered {alpha}");
        let beta = f.render("beta", &["demo", "--repo", &repo, "--version", "^0.1"])?;
        ensure!(beta == "0.1.1", "beta rendered {beta}");
        ensure!(
            f.repo_downloads() == 1,
            "two tenants, one download: nginx served {} archives",
            f.repo_downloads()
        );
        ensure!(f.fetches("downloaded").await? == 1);
        ensure!(f.fetches("cached").await? >= 1);

        // `repo/chart` is the client's configuration: it sends the repository's URL.
        let (user, password) = f.repo.credentials().context("basic auth")?;
        let ca = f.repo.ca_file().display().to_string();
        let (code, out, err) = f.capstan(
            "beta",
            &[
                "repo",
                "add",
                "internal",
                &repo,
                "--username",
                user,
                "--password",
                password,
                "--ca-file",
                &ca,
            ],
        );
        ensure!(code == 0, "repo add: {out}{err}");
        let newest = f.render("beta", &["internal/demo"])?;
        ensure!(newest == "0.2.0", "beta rendered {newest}");
        ensure!(f.repo_downloads() == 2, "{} downloads", f.repo_downloads());

        // The registry, with credentials from files: the same archives, so no download.
        let oci = f.registry.oci("charts/demo");
        let tagged = f.render("gamma", &[&format!("{oci}:0.2.0")])?;
        ensure!(tagged == "0.2.0", "gamma rendered {tagged}");
        let constrained = f.render("alpha", &[&oci, "--version", "~0.1.0"])?;
        ensure!(constrained == "0.1.1", "alpha rendered {constrained}");
        ensure!(
            f.fetches("downloaded").await? == 2,
            "the registry's archives were in the shared cache already: {} downloads",
            f.fetches("downloaded").await?
        );

        // End to end: an install whose chart the renderer fetched.
        capstan_testkit::with_namespace("chart-sources", |ns| async move {
            let (code, out, err) = f.capstan(
                "alpha",
                &[
                    "install",
                    "fetched",
                    &oci,
                    "--version",
                    "0.2.0",
                    "--remote-chart",
                    "-n",
                    ns.name(),
                    "--wait",
                ],
            );
            ensure!(code == 0, "install: {out}\n{err}");
            let cm = ns
                .api::<k8s_openapi::api::core::v1::ConfigMap>()
                .get("fetched-cm")
                .await?;
            let version = cm.data.unwrap_or_default().get("chartVersion").cloned();
            ensure!(version.as_deref() == Some("0.2.0"), "{version:?}");
            Ok(())
        })
        .await;
        anyhow::Ok(())
    };
    run.await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn references_outside_a_tenants_sources_or_broken_are_refused_by_name() {
    let f = Fixture::start().await.expect("the fixture starts");
    let repo = f.repo.url().to_owned();
    let run = async {
        // gamma's policy names only the registry.
        let error = f.refused("gamma", &["demo", "--repo", &repo])?;
        ensure!(
            error.contains("tenant \"gamma\" may not fetch chart reference demo from")
                && error.contains(&repo)
                && error.contains("\"internal\""),
            "{error}"
        );
        // No source covers another registry path.
        let elsewhere = f.registry.oci("other/demo");
        let error = f.refused("beta", &[&elsewhere])?;
        ensure!(
            error.contains(&elsewhere) && error.contains("none of the chart sources"),
            "{error}"
        );
        // The archive is not the one the index describes.
        let error = f.refused("alpha", &["tampered", "--repo", &repo])?;
        ensure!(
            error.contains("tampered") && error.contains("digest mismatch"),
            "{error}"
        );
        // A source that does not answer.
        let error = f.refused("alpha", &["demo", "--repo", &f.down])?;
        ensure!(
            error.contains(&format!("demo from {}", f.down)) && error.contains("\"down\""),
            "{error}"
        );
        // A missing version names what exists.
        let error = f.refused("beta", &["demo", "--repo", &repo, "--version", "9.x"])?;
        ensure!(error.contains("9.x") && error.contains("0.2.0"), "{error}");
        ensure!(
            f.repo_downloads() == 1,
            "only the tampered archive was downloaded"
        );
        ensure!(f.fetches("refused").await? == 2);
        ensure!(f.fetches("failed").await? == 3);
        // Without --remote-chart the CLI resolves the chart itself, as before.
        let (code, out, err) = f.capstan("beta", &["template", "rel", "demo", "--repo", &repo]);
        ensure!(
            code != 0 && err.contains(&repo),
            "the CLI has neither the CA nor the credentials of the repository: {out}{err}"
        );
        anyhow::Ok(())
    };
    run.await.unwrap();
}

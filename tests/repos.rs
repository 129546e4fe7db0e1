//! Chart sources end to end: a classic HTTP chart repository (Debian's nginx over TLS with basic
//! authentication, started per test), Helm v3 and v4 sharing one `HELM_*` set-up with capstan,
//! packaging, dependencies, provenance, and bad repositories failing with one clear error.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, ensure};
use capstan_e2e::process::{Run, binary};
use capstan_testkit::chartrepo::{ChartRepo, RepoOptions};
use capstan_testkit::{TestNamespace, with_namespace};
use k8s_openapi::api::apps::v1::Deployment;

const HELM_VERSIONS: [&str; 2] = ["v3.22.0", "v4.3.1"];

/// One user's machine: a fresh Helm home (config, cache, data) shared by capstan and Helm.
struct Home {
    dir: tempfile::TempDir,
    namespace: String,
}

impl Home {
    fn new(namespace: &str) -> anyhow::Result<Home> {
        Ok(Home {
            dir: tempfile::Builder::new()
                .prefix("capstan-repos-")
                .tempdir()?,
            namespace: namespace.into(),
        })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn env(&self, command: &mut Command) {
        command
            .current_dir(self.path())
            .env("HOME", self.path())
            .env("HELM_CONFIG_HOME", self.path().join("config"))
            .env("HELM_CACHE_HOME", self.path().join("cache"))
            .env("HELM_DATA_HOME", self.path().join("data"))
            .env("KUBECONFIG", capstan_testkit::kubeconfig_path())
            .env("HELM_NAMESPACE", &self.namespace)
            .env_remove("HELM_REPOSITORY_CONFIG")
            .env_remove("HELM_REPOSITORY_CACHE")
            .env_remove("HELM_DRIVER")
            .env_remove("CAPSTAN_RENDERER")
            .env_remove("CAPSTAN_APPLIER");
    }

    fn run(&self, program: PathBuf, args: &[&str]) -> Run {
        let mut command = Command::new(program);
        self.env(&mut command);
        command
            .args(args)
            .output()
            .expect("the program runs")
            .into()
    }

    fn capstan(&self, args: &[&str]) -> Run {
        self.run(binary("capstan"), args)
    }

    /// `capstan ARGS`, required to succeed; its standard output.
    fn ok(&self, args: &[&str]) -> anyhow::Result<String> {
        self.capstan(args).ok(args)
    }

    /// `capstan ARGS`, required to fail with an `Error:` line; that line and its causes.
    fn fails(&self, args: &[&str]) -> anyhow::Result<String> {
        let run = self.capstan(args);
        ensure!(
            run.code != 0,
            "capstan {args:?} should have failed:\n{}",
            run.stdout
        );
        let at = run.stderr.find("Error: ");
        Ok(run.stderr
            [at.with_context(|| format!("capstan {args:?}: no error line in:\n{}", run.stderr))?..]
            .to_string())
    }

    /// `helm ARGS` of `version`, required to succeed; its standard output.
    fn helm(&self, version: &str, args: &[&str]) -> anyhow::Result<String> {
        let run = self.run(capstan_testkit::helm::binary(version)?, args);
        ensure!(
            run.code == 0,
            "helm {version} {args:?} exited {}:\n{}\n{}",
            run.code,
            run.stdout,
            run.stderr
        );
        Ok(run.stdout)
    }

    /// `capstan repo add NAME` for `repo`, with its CA and credentials.
    fn add(&self, name: &str, repo: &ChartRepo) -> anyhow::Result<String> {
        // The user's copy of the CA, which outlives the server.
        let ca = self.path().join(format!("{name}-ca.pem"));
        std::fs::copy(repo.ca_file(), &ca)?;
        let ca = ca.display().to_string();
        let (user, password) = repo.credentials().unwrap_or_default();
        self.ok(&[
            "repo",
            "add",
            name,
            repo.url(),
            "--ca-file",
            &ca,
            "--username",
            user,
            "--password",
            password,
        ])
    }
}

/// The `helm-web` fixture chart copied to `dir/helm-web` with `version` (and its appVersion).
fn chart_copy(dir: &Path, version: &str) -> anyhow::Result<PathBuf> {
    let source = capstan_testkit::helm::chart();
    let target = dir.join(format!("src-{version}/helm-web"));
    copy_dir(&source, &target)?;
    let chart_yaml = target.join("Chart.yaml");
    let text = std::fs::read_to_string(&chart_yaml)?
        .replace("version: 0.1.0", &format!("version: {version}"));
    std::fs::write(&chart_yaml, text)?;
    Ok(target)
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Packages `helm-web` at each version into the repository and indexes it with capstan.
fn publish(home: &Home, repo: &ChartRepo, versions: &[&str]) -> anyhow::Result<()> {
    let dir = repo.dir().display().to_string();
    for version in versions {
        let chart = chart_copy(home.path(), version)?;
        home.ok(&["package", &chart.display().to_string(), "-d", &dir])?;
    }
    home.ok(&["repo", "index", &dir, "--url", repo.url()])?;
    Ok(())
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

async fn deployment(ns: &TestNamespace, name: &str) -> anyhow::Result<Option<Deployment>> {
    Ok(ns.api::<Deployment>().get_opt(name).await?)
}

fn tgz_downloads(repo: &ChartRepo) -> usize {
    repo.access_log()
        .lines()
        .filter(|l| l.contains(".tgz HTTP") && l.contains("\" 200 "))
        .count()
}

#[tokio::test]
async fn repo_add_search_pull_and_install_from_a_tls_repository_with_auth() {
    with_namespace("repos-cycle", |ns| async move {
        let home = Home::new(ns.name())?;
        let repo = ChartRepo::start(RepoOptions::default())?;
        publish(&home, &repo, &["0.1.0", "0.2.0", "0.3.0-rc.1"])?;

        let added = home.add("web", &repo)?;
        assert_eq!(added.trim(), "\"web\" has been added to your repositories");
        let again = home.add("web", &repo)?;
        assert!(
            again.contains("already exists with the same configuration"),
            "{again}"
        );
        assert!(
            home.path()
                .join("cache/repository/web-index.yaml")
                .is_file()
        );
        assert_eq!(
            std::fs::read_to_string(home.path().join("cache/repository/web-charts.txt"))?.trim(),
            "helm-web"
        );
        let list = home.ok(&["repo", "list"])?;
        assert_eq!(
            lines(&list),
            ["NAME URL".to_string(), format!("web {}", repo.url())]
        );

        let search = home.ok(&["search", "repo", "helm-web"])?;
        assert_eq!(
            lines(&search)[0],
            "NAME CHART VERSION APP VERSION DESCRIPTION"
        );
        assert!(
            lines(&search)[1].starts_with("web/helm-web 0.2.0 1.27.0 A small web"),
            "{search}"
        );
        let all = home.ok(&["search", "repo", "web/", "--versions", "--devel"])?;
        let versions: Vec<String> = lines(&all)[1..]
            .iter()
            .map(|l| l.split(' ').nth(1).unwrap_or("").to_string())
            .collect();
        assert_eq!(versions, ["0.3.0-rc.1", "0.2.0", "0.1.0"]);
        let json = home.ok(&[
            "search",
            "repo",
            "helm-web",
            "--version",
            "~0.1",
            "-o",
            "json",
        ])?;
        let found: serde_json::Value = serde_json::from_str(&json)?;
        assert_eq!(found[0]["name"], "web/helm-web");
        assert_eq!(found[0]["version"], "0.1.0");
        assert_eq!(found[0]["app_version"], "1.27.0");
        let none = home.ok(&["search", "repo", "nothing-like-this"])?;
        assert_eq!(none.trim(), "No results found");

        let pulled = home.path().join("pulled");
        std::fs::create_dir_all(&pulled)?;
        let pulled_dir = pulled.display().to_string();
        home.ok(&[
            "pull",
            "web/helm-web",
            "--version",
            "0.1.0",
            "-d",
            &pulled_dir,
        ])?;
        assert!(pulled.join("helm-web-0.1.0.tgz").is_file());
        home.ok(&[
            "pull",
            "web/helm-web",
            "--devel",
            "--untar",
            "-d",
            &pulled_dir,
        ])?;
        let untarred = std::fs::read_to_string(pulled.join("helm-web/Chart.yaml"))?;
        assert!(untarred.contains("version: 0.3.0-rc.1"), "{untarred}");

        let before = tgz_downloads(&repo);
        let installed = home.ok(&[
            "install",
            "shop",
            "web/helm-web",
            "--version",
            "~0.2",
            "-n",
            ns.name(),
            "--wait",
        ])?;
        assert!(installed.contains("STATUS: deployed"), "{installed}");
        assert!(
            deployment(&ns, "shop-helm-web").await?.is_some()
                || !home
                    .ok(&["get", "manifest", "shop", "-n", ns.name()])?
                    .is_empty()
        );
        let listed = home.ok(&["list", "-n", ns.name()])?;
        assert!(listed.contains("helm-web-0.2.0"), "{listed}");
        assert_eq!(
            tgz_downloads(&repo),
            before + 1,
            "one download for the install"
        );

        // The same chart again: from the cache, by digest, with no download.
        home.ok(&["template", "shop", "web/helm-web", "--version", "0.2.0"])?;
        home.ok(&[
            "upgrade",
            "shop",
            "web/helm-web",
            "--version",
            "0.2.0",
            "-n",
            ns.name(),
        ])?;
        let diff = home.ok(&[
            "diff",
            "upgrade",
            "shop",
            "web/helm-web",
            "--version",
            "0.2.0",
            "--set",
            "replicaCount=3",
            "-n",
            ns.name(),
        ])?;
        assert!(diff.contains("replicas: 3"), "{diff}");
        let lint = home.ok(&["lint", "web/helm-web", "--version", "0.2.0"])?;
        assert!(
            lint.contains("1 chart(s) linted, 0 chart(s) failed"),
            "{lint}"
        );
        let all = home.ok(&["show", "all", "web/helm-web", "--version", "0.2.0"])?;
        assert!(
            all.contains("name: helm-web\n") && all.contains("\n---\n"),
            "{all}"
        );
        assert_eq!(
            tgz_downloads(&repo),
            before + 1,
            "cached charts are never downloaded again"
        );
        // A new version is seen only after `repo update`.
        publish(&home, &repo, &["0.4.0"])?;
        assert!(home.ok(&["search", "repo", "helm-web"])?.contains("0.2.0"));
        let updated = home.ok(&["repo", "update"])?;
        assert!(
            updated.contains("Successfully got an update from the \"web\" chart repository"),
            "{updated}"
        );
        assert!(home.ok(&["search", "repo", "helm-web"])?.contains("0.4.0"));
        home.ok(&["show", "chart", "web/helm-web"])?
            .contains("version: 0.4.0")
            .then_some(())
            .context("show chart")?;
        let values = home.ok(&["show", "values", "web/helm-web", "--version", "0.1.0"])?;
        assert_eq!(
            values.trim_end(),
            std::fs::read_to_string(capstan_testkit::helm::chart().join("values.yaml"))?.trim_end()
        );

        // Offline: the server is gone, cached charts still install; others fail clearly.
        publish(&home, &repo, &["0.5.0"])?;
        home.ok(&["repo", "update", "web"])?;
        drop(repo);
        home.ok(&["template", "shop", "web/helm-web", "--version", "0.2.0"])?;
        let offline = home.fails(&["template", "shop", "web/helm-web", "--version", "0.5.0"])?;
        assert!(
            offline.contains("\"helm-web\" version 0.5.0 from repository web"),
            "{offline}"
        );

        let removed = home.ok(&["repo", "remove", "web"])?;
        assert_eq!(
            removed.trim(),
            "\"web\" has been removed from your repositories"
        );
        assert!(!home.path().join("cache/repository/web-index.yaml").exists());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn helm_and_capstan_share_repositories_archives_and_indexes() {
    with_namespace("repos-helm", |ns| async move {
        for (i, helm) in HELM_VERSIONS.iter().enumerate() {
            let home = Home::new(ns.name())?;
            let repo = ChartRepo::start(RepoOptions::default())?;
            let dir = repo.dir().display().to_string();
            // Helm packages and indexes; capstan reads Helm's repositories.yaml, cache and index.
            let chart = chart_copy(home.path(), "1.0.0")?;
            home.helm(helm, &["package", &chart.display().to_string(), "-d", &dir])?;
            home.helm(helm, &["repo", "index", &dir, "--url", repo.url()])?;
            let ca = repo.ca_file().display().to_string();
            home.helm(
                helm,
                &[
                    "repo",
                    "add",
                    "h",
                    repo.url(),
                    "--ca-file",
                    &ca,
                    "--username",
                    "capstan",
                    "--password",
                    "s3cret",
                ],
            )?;
            let search = home.ok(&["search", "repo", "h/helm-web"])?;
            assert!(
                lines(&search)[1].starts_with("h/helm-web 1.0.0"),
                "{search}"
            );
            let release = format!("from-helm-{i}");
            home.ok(&["install", &release, "h/helm-web", "-n", ns.name()])?;
            let listed = home.helm(helm, &["list", "-n", ns.name()])?;
            assert!(
                listed.contains(&release) && listed.contains("helm-web-1.0.0"),
                "{listed}"
            );

            // capstan packages and indexes (merging Helm's index); Helm reads capstan's files.
            let chart = chart_copy(home.path(), "2.0.0")?;
            home.ok(&[
                "package",
                &chart.display().to_string(),
                "-d",
                &dir,
                "--app-version",
                "9.9.9",
            ])?;
            let index = repo.dir().join("index.yaml").display().to_string();
            home.ok(&[
                "repo",
                "index",
                &dir,
                "--url",
                repo.url(),
                "--merge",
                &index,
            ])?;
            home.ok(&[
                "repo",
                "add",
                "c",
                repo.url(),
                "--ca-file",
                &ca,
                "--username",
                "capstan",
                "--password",
                "s3cret",
            ])?;
            let helm_search = home.helm(helm, &["search", "repo", "c/helm-web", "--versions"])?;
            let helm_lines = lines(&helm_search);
            assert!(
                helm_lines
                    .iter()
                    .any(|l| l.starts_with("c/helm-web 2.0.0 9.9.9")),
                "{helm_search}"
            );
            assert!(
                helm_lines.iter().any(|l| l.starts_with("c/helm-web 1.0.0")),
                "{helm_search}"
            );
            let release = format!("from-capstan-{i}");
            home.helm(
                helm,
                &[
                    "install",
                    &release,
                    "c/helm-web",
                    "--version",
                    "2.0.0",
                    "-n",
                    ns.name(),
                ],
            )?;
            let status = home.ok(&["status", &release, "-n", ns.name()])?;
            assert!(status.contains("STATUS: deployed"), "{status}");
            // A chart capstan packaged installs with Helm from the file too.
            let archive = repo.dir().join("helm-web-2.0.0.tgz").display().to_string();
            home.helm(helm, &["template", "x", &archive])?;
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn bad_repositories_fail_with_one_clear_error() {
    let home = Home::new("default").unwrap();
    let test = async {
        let repo = ChartRepo::start(RepoOptions::default())?;
        publish(&home, &repo, &["0.1.0"])?;
        let ca = repo.ca_file().display().to_string();
        let url = repo.url().to_string();

        // Unreachable: a port nothing listens on.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let error = home.fails(&[
            "repo",
            "add",
            "gone",
            &format!("https://127.0.0.1:{closed}"),
        ])?;
        assert!(
            error.contains("is not a valid chart repository or cannot be reached"),
            "{error}"
        );
        let error = home.fails(&[
            "template",
            "x",
            "helm-web",
            "--repo",
            &format!("https://127.0.0.1:{closed}"),
        ])?;
        assert!(error.contains(&format!("127.0.0.1:{closed}")), "{error}");
        // Wrong password, and none.
        let error = home.fails(&[
            "repo",
            "add",
            "r",
            &url,
            "--ca-file",
            &ca,
            "--username",
            "capstan",
            "--password",
            "wrong",
        ])?;
        assert!(error.contains("401"), "{error}");
        let error = home.fails(&[
            "template",
            "x",
            "helm-web",
            "--repo",
            &url,
            "--ca-file",
            &ca,
        ])?;
        assert!(
            error.contains("401") && error.contains("needs credentials"),
            "{error}"
        );
        // An unknown CA.
        let error = home.fails(&[
            "repo",
            "add",
            "r",
            &url,
            "--username",
            "capstan",
            "--password",
            "s3cret",
        ])?;
        assert!(error.contains("cannot be reached"), "{error}");
        home.add("r", &repo)?;
        // A missing version and a missing chart name the repository and the chart.
        let error = home.fails(&[
            "install",
            "x",
            "r/helm-web",
            "--version",
            "9.9.9",
            "-n",
            "default",
        ])?;
        assert!(
            error.contains("\"helm-web\" version \"9.9.9\" not found in repository r"),
            "{error}"
        );
        let error = home.fails(&["pull", "r/nope"])?;
        assert!(
            error.contains("chart \"nope\" not found in repository r"),
            "{error}"
        );
        let error = home.fails(&["template", "x", "nowhere/helm-web"])?;
        assert!(error.contains("no repository named \"nowhere\""), "{error}");

        // An index that does not parse: update fails and the cached one stays.
        let index = repo.dir().join("index.yaml");
        let good_index = std::fs::read_to_string(&index)?;
        std::fs::write(&index, "apiVersion: v1\nentries: [unclosed\n")?;
        let run = home.capstan(&["repo", "update"]);
        assert_ne!(run.code, 0);
        assert!(
            run.stdout
                .contains("Unable to get an update from the \"r\" chart repository"),
            "{run:?}"
        );
        assert!(
            run.stdout.contains("index.yaml of repository \"r\"")
                && run.stdout.contains("does not parse"),
            "{run:?}"
        );
        home.ok(&["search", "repo", "r/helm-web"])?;

        // A digest that does not match: nothing is cached, the error names both.
        let tampered = good_index.replace("digest: ", "digest: 00");
        let tampered = regex_free_digest_fix(&tampered);
        std::fs::write(&index, &tampered)?;
        home.ok(&["repo", "update", "r"])?;
        let error = home.fails(&["template", "x", "r/helm-web"])?;
        assert!(
            error.contains("from repository r: digest mismatch"),
            "{error}"
        );
        let cache = home.path().join("cache/capstan/charts");
        let cached = std::fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0);
        assert_eq!(
            cached,
            0,
            "nothing half-written or unverified in {}",
            cache.display()
        );

        // A hostile archive: capstan-chart's limits refuse it before use.
        std::fs::write(repo.dir().join("evil-0.1.0.tgz"), evil_archive()?)?;
        let digest =
            capstan_chart::archive_digest(&std::fs::read(repo.dir().join("evil-0.1.0.tgz"))?);
        std::fs::write(
            &index,
            format!(
                "apiVersion: v1\nentries:\n  evil:\n  - name: evil\n    version: 0.1.0\n    digest: {digest}\n    urls: [evil-0.1.0.tgz]\n"
            ),
        )?;
        home.ok(&["repo", "update"])?;
        let error = home.fails(&[
            "pull",
            "r/evil",
            "--untar",
            "-d",
            &home.path().display().to_string(),
        ])?;
        assert!(
            error.contains("\"evil\" version 0.1.0 from repository r"),
            "{error}"
        );
        assert!(!home.path().join("evil").exists() && !home.path().join("escaped").exists());
        Ok::<_, anyhow::Error>(())
    };
    test.await.unwrap();
}

/// Replaces each `digest: 00<64 hex>` (made 66 long) with a well-formed but wrong digest.
fn regex_free_digest_fix(text: &str) -> String {
    text.lines()
        .map(|l| match l.trim_start().strip_prefix("digest: 00") {
            Some(rest) if rest.len() == 64 => l
                .replace(rest, &format!("{}00", &rest[..62]))
                .replacen("digest: 00", "digest: ", 1),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A chart archive with an entry that climbs out of its directory.
fn evil_archive() -> anyhow::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let entries: [(&str, &[u8]); 2] = [
        (
            "evil/Chart.yaml",
            b"apiVersion: v2\nname: evil\nversion: 0.1.0\n",
        ),
        ("evil/../escaped/x.yaml", b"pwned: true\n"),
    ];
    for (name, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.as_gnu_mut().context("gnu header")?.name[..name.len()]
            .copy_from_slice(name.as_bytes());
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        tar.append(&header, data)?;
    }
    Ok(tar.into_inner()?.finish()?)
}

#[tokio::test]
async fn credentials_never_follow_a_redirect_to_another_host_unless_asked() {
    let home = Home::new("default").unwrap();
    let test = async {
        // The charts live on a second server with the same credentials; the first redirects.
        let storage = ChartRepo::start(RepoOptions::default())?;
        publish(&home, &storage, &["0.1.0"])?;
        let front = ChartRepo::start(RepoOptions {
            redirect: Some(("/moved/".into(), storage.url().into())),
            ..RepoOptions::default()
        })?;
        let index = std::fs::read_to_string(storage.dir().join("index.yaml"))?
            .replace(&format!("{}/helm-web", storage.url()), "moved/helm-web");
        std::fs::write(front.dir().join("index.yaml"), index)?;
        // Both servers' certificates are trusted through one bundle.
        let bundle = home.path().join("bundle.pem");
        std::fs::write(
            &bundle,
            std::fs::read_to_string(front.ca_file())?
                + &std::fs::read_to_string(storage.ca_file())?,
        )?;
        let bundle = bundle.display().to_string();
        let base = [
            "--ca-file",
            &bundle,
            "--username",
            "capstan",
            "--password",
            "s3cret",
        ];
        home.ok(&[&["repo", "add", "front", front.url()][..], &base].concat())?;
        let error = home.fails(&[
            "pull",
            "front/helm-web",
            "-d",
            &home.path().display().to_string(),
        ])?;
        assert!(
            error.contains("401")
                && error.contains("not sent to another host without --pass-credentials"),
            "{error}"
        );
        assert!(
            error.contains("\"helm-web\" version 0.1.0 from repository front"),
            "{error}"
        );
        let authorized_at_storage = storage
            .access_log()
            .lines()
            .filter(|l| l.contains(" capstan ["))
            .count();
        assert_eq!(authorized_at_storage, 0, "{}", storage.access_log());
        home.ok(&[
            &[
                "repo",
                "add",
                "front",
                front.url(),
                "--force-update",
                "--pass-credentials",
            ][..],
            &base,
        ]
        .concat())?;
        home.ok(&[
            "pull",
            "front/helm-web",
            "-d",
            &home.path().display().to_string(),
        ])?;
        assert!(home.path().join("helm-web-0.1.0.tgz").is_file());
        Ok::<_, anyhow::Error>(())
    };
    test.await.unwrap();
}

#[tokio::test]
async fn dependencies_and_provenance_interoperate_with_helm() {
    let home = Home::new("default").unwrap();
    let test = async {
        let repo = ChartRepo::start(RepoOptions::default())?;
        // A chart signed by `helm package --sign` with a key gpg made.
        let gnupg = home.path().join("gnupg");
        std::fs::create_dir_all(&gnupg)?;
        let params = "%no-protection\nKey-Type: RSA\nKey-Length: 2048\nName-Real: capstan e2e\nName-Email: e2e@capstan.invalid\nExpire-Date: 0\n%commit\n";
        std::fs::write(home.path().join("key.params"), params)?;
        let gpg = |args: &[&str]| -> anyhow::Result<Vec<u8>> {
            let out = Command::new("gpg")
                .env("GNUPGHOME", &gnupg)
                .args(["--batch", "--quiet"])
                .args(args)
                .output()
                .context("running gpg (Debian's gnupg package)")?;
            ensure!(
                out.status.success(),
                "gpg {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Ok(out.stdout)
        };
        std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        gpg(&[
            "--gen-key",
            &home.path().join("key.params").display().to_string(),
        ])?;
        std::fs::write(
            home.path().join("secring.gpg"),
            gpg(&["--export-secret-keys"])?,
        )?;
        std::fs::write(home.path().join("pubring.gpg"), gpg(&["--export"])?)?;
        let dir = repo.dir().display().to_string();
        let chart = chart_copy(home.path(), "1.0.0")?;
        home.helm(
            HELM_VERSIONS[0],
            &[
                "package",
                &chart.display().to_string(),
                "-d",
                &dir,
                "--sign",
                "--key",
                "capstan e2e",
                "--keyring",
                &home.path().join("secring.gpg").display().to_string(),
            ],
        )?;
        home.ok(&["repo", "index", &dir, "--url", repo.url()])?;
        home.add("r", &repo)?;
        let keyring = home.path().join("pubring.gpg").display().to_string();
        let out = home.path().join("out");
        std::fs::create_dir_all(&out)?;
        let out_dir = out.display().to_string();
        let verified = home.ok(&[
            "pull",
            "r/helm-web",
            "--verify",
            "--keyring",
            &keyring,
            "-d",
            &out_dir,
        ])?;
        assert!(
            verified.contains("Signed by: capstan e2e <e2e@capstan.invalid>"),
            "{verified}"
        );
        assert!(out.join("helm-web-1.0.0.tgz.prov").is_file());
        home.ok(&[
            "template",
            "x",
            &out.join("helm-web-1.0.0.tgz").display().to_string(),
            "--verify",
            "--keyring",
            &keyring,
        ])?;
        // A tampered archive (the index updated to match it) is refused.
        let archive = repo.dir().join("helm-web-1.0.0.tgz");
        let mut bytes = std::fs::read(&archive)?;
        let extra = chart_copy(home.path(), "1.0.0")?;
        std::fs::write(
            extra.join("templates/extra.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n",
        )?;
        bytes.clear();
        home.ok(&[
            "package",
            &extra.display().to_string(),
            "-d",
            &home.path().display().to_string(),
        ])?;
        bytes.extend(std::fs::read(home.path().join("helm-web-1.0.0.tgz"))?);
        std::fs::write(&archive, &bytes)?;
        home.ok(&["repo", "index", &dir, "--url", repo.url()])?;
        home.ok(&["repo", "update"])?;
        let error = home.fails(&[
            "install",
            "x",
            "r/helm-web",
            "--verify",
            "--keyring",
            &keyring,
            "-n",
            "default",
            "--dry-run",
        ])?;
        assert!(
            error.contains("provenance of helm-web-1.0.0.tgz")
                && error.contains("sha256 sum does not match"),
            "{error}"
        );

        // Dependencies: capstan's Chart.lock is accepted by Helm's `dependency build`, and Helm's
        // by capstan's.
        let parent = home.path().join("parent");
        std::fs::create_dir_all(parent.join("templates"))?;
        std::fs::write(
            parent.join("Chart.yaml"),
            format!(
                "apiVersion: v2\nname: parent\nversion: 0.1.0\ndependencies:\n- name: helm-web\n  version: \">=1.0.0 <2\"\n  repository: {}\n",
                repo.url()
            ),
        )?;
        let parent_dir = parent.display().to_string();
        let listed = home.ok(&["dependency", "list", &parent_dir])?;
        assert!(lines(&listed)[1].ends_with("missing"), "{listed}");
        home.ok(&["dependency", "update", &parent_dir])?;
        assert!(parent.join("charts/helm-web-1.0.0.tgz").is_file());
        let lock = std::fs::read_to_string(parent.join("Chart.lock"))?;
        assert!(
            lock.starts_with("dependencies:\n- name: helm-web\n"),
            "{lock}"
        );
        assert!(lines(&home.ok(&["dependency", "list", &parent_dir])?)[1].ends_with("ok"));
        for helm in HELM_VERSIONS {
            std::fs::remove_dir_all(parent.join("charts"))?;
            home.helm(helm, &["dependency", "build", &parent_dir])?;
            assert!(
                parent.join("charts/helm-web-1.0.0.tgz").is_file(),
                "helm {helm} built from capstan's lock"
            );
        }
        home.helm(HELM_VERSIONS[1], &["dependency", "update", &parent_dir])?;
        std::fs::remove_dir_all(parent.join("charts"))?;
        home.ok(&["dependency", "build", &parent_dir])?;
        assert!(parent.join("charts/helm-web-1.0.0.tgz").is_file());
        let packaged = home.ok(&[
            "package",
            &parent_dir,
            "-d",
            &home.path().display().to_string(),
            "--dependency-update",
        ])?;
        assert!(packaged.contains("parent-0.1.0.tgz"), "{packaged}");
        let rendered = home.ok(&[
            "template",
            "p",
            &home.path().join("parent-0.1.0.tgz").display().to_string(),
        ])?;
        assert!(rendered.contains("helm-web"), "{rendered}");
        // `--dependency-update` on a chart directory fills charts/ before rendering.
        std::fs::remove_dir_all(parent.join("charts"))?;
        let rendered = home.ok(&["template", "p", &parent_dir, "--dependency-update"])?;
        assert!(
            rendered.contains("helm.sh/chart: helm-web-1.0.0"),
            "{rendered}"
        );
        Ok::<_, anyhow::Error>(())
    };
    test.await.unwrap();
}

/// A plain-HTTP repository server that, once [`GatedServer::gate`] is called, answers no
/// request until two are waiting (or ten seconds have passed), and counts how many waited at
/// once: a sequential client sees every answer delayed, a concurrent one sees none.
struct GatedServer {
    url: String,
    state: std::sync::Arc<(std::sync::Mutex<Gate>, std::sync::Condvar)>,
}

#[derive(Default)]
struct Gate {
    closed: bool,
    waiting: usize,
    most_waiting: usize,
}

impl GatedServer {
    fn start() -> anyhow::Result<GatedServer> {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = std::sync::Arc::new((
            std::sync::Mutex::new(Gate::default()),
            std::sync::Condvar::new(),
        ));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let state = shared.clone();
                std::thread::spawn(move || {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let (lock, wake) = &*state;
                    let mut gate = lock.lock().unwrap();
                    if gate.closed {
                        gate.waiting += 1;
                        gate.most_waiting = gate.most_waiting.max(gate.waiting);
                        wake.notify_all();
                        let deadline =
                            std::time::Instant::now() + std::time::Duration::from_secs(10);
                        while gate.most_waiting < 2 && std::time::Instant::now() < deadline {
                            gate = wake
                                .wait_timeout(gate, std::time::Duration::from_millis(100))
                                .unwrap()
                                .0;
                        }
                        gate.waiting -= 1;
                    }
                    drop(gate);
                    let body = "apiVersion: v1\nentries:\n  web:\n  - name: web\n    version: 1.0.0\n    urls:\n    - web-1.0.0.tgz\n";
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/yaml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        Ok(GatedServer { url, state })
    }

    fn gate(&self) {
        self.state.0.lock().unwrap().closed = true;
    }

    fn most_waiting(&self) -> usize {
        self.state.0.lock().unwrap().most_waiting
    }
}

/// `repo update` downloads the indexes of several repositories at once, as Helm does.
#[test]
fn repo_update_downloads_the_repositories_concurrently() {
    let home = Home::new("default").unwrap();
    let server = GatedServer::start().unwrap();
    for name in ["one", "two"] {
        home.ok(&["repo", "add", name, &format!("{}/{name}", server.url)])
            .unwrap();
    }
    server.gate();
    let started = std::time::Instant::now();
    let out = home.ok(&["repo", "update"]).unwrap();
    assert!(
        out.contains("Successfully got an update from the \"one\"")
            && out.contains("Successfully got an update from the \"two\""),
        "{out}"
    );
    assert_eq!(
        server.most_waiting(),
        2,
        "the two index downloads did not overlap"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

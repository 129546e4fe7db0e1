//! `capstan` and Helm v3 side by side on the same cluster, as a Helm user meets them: the
//! kubeconfig's context namespace, `HELM_KUBECONTEXT`, `HELM_NAMESPACE` and the `--kube-*`
//! flags; `capstan env` against `helm env`; and the errors a user causes (a missing namespace,
//! an unreachable cluster, a missing kubeconfig, a malformed command line, a missing release),
//! each with its message and exit code.
//!
//! The binaries are the ones cargo built next to this test (run `cargo build -p capstan-cli`
//! first) and Helm v3 under `target/helm/` (`cargo xtask helm`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, ensure};
use capstan_e2e::process::{Run, binary};
use capstan_testkit::{TestNamespace, kubeconfig_path, with_namespace, with_namespaces};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::PostParams;
use serde_yaml_ng::Value;

/// Helm v3, the reference.
fn helm_binary() -> PathBuf {
    capstan_testkit::helm::binary("v3.22.0").expect("helm v3 is built")
}

/// Runs `program ARGS` with exactly the given `HELM_*`/`KUBECONFIG` environment (nothing of the
/// caller's), a scratch Helm home, and no capstan daemon addresses.
fn run(program: &Path, args: &[&str], env: &[(&str, &str)], home: &Path) -> Run {
    let mut command = Command::new(program);
    command.args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("HELM_") || key.starts_with("CAPSTAN_") || key == "KUBECONFIG" {
            command.env_remove(key);
        }
    }
    command
        .env("HOME", home)
        .env_remove("XDG_CACHE_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .envs(env.iter().copied());
    command.output().expect("the program runs").into()
}

/// The two tools with one scratch home.
struct Both {
    home: tempfile::TempDir,
    capstan: PathBuf,
    helm: PathBuf,
}

impl Both {
    fn new() -> Both {
        Both {
            home: tempfile::tempdir().expect("a scratch home"),
            capstan: binary("capstan"),
            helm: helm_binary(),
        }
    }

    fn capstan(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        run(&self.capstan, args, env, self.home.path())
    }

    fn helm(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        run(&self.helm, args, env, self.home.path())
    }

    /// Runs both; both must succeed; their standard outputs.
    fn both_ok(&self, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<(String, String)> {
        let c = self.capstan(args, env);
        ensure!(
            c.code == 0,
            "capstan {args:?} exited {}: {}",
            c.code,
            c.stderr
        );
        let h = self.helm(args, env);
        ensure!(h.code == 0, "helm {args:?} exited {}: {}", h.code, h.stderr);
        Ok((c.stdout, h.stdout))
    }
}

/// The local control plane's kubeconfig, parsed.
fn kubeconfig() -> anyhow::Result<Value> {
    Ok(serde_yaml_ng::from_str(&std::fs::read_to_string(
        kubeconfig_path(),
    )?)?)
}

/// Writes a kubeconfig to `dir/name` and returns its path.
fn write(dir: &Path, name: &str, config: &Value) -> anyhow::Result<String> {
    let path = dir.join(name);
    std::fs::write(&path, serde_yaml_ng::to_string(config)?)?;
    Ok(path.display().to_string())
}

/// A copy of the local kubeconfig whose current context is in namespace `current` and with a
/// second context `other` (same cluster and user) in namespace `other`.
fn two_contexts(current: &str, other: &str) -> anyhow::Result<Value> {
    let mut config = kubeconfig()?;
    let contexts = config["contexts"]
        .as_sequence_mut()
        .context("contexts in the kubeconfig")?;
    let mut second = contexts[0].clone();
    contexts[0]["context"]["namespace"] = Value::from(current);
    second["name"] = Value::from("other");
    second["context"]["namespace"] = Value::from(other);
    contexts.push(second);
    Ok(config)
}

/// Borrowed arguments.
fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Release names of `list -q` output, sorted.
fn names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text.lines().map(str::to_owned).collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_context_namespace_and_helm_variables_pick_the_namespace() {
    with_namespaces(&["cli-ctx-a", "cli-ctx-b"], |namespaces| async move {
        let (a, b) = (namespaces[0].name(), namespaces[1].name());
        let both = Both::new();
        let config = write(both.home.path(), "config", &two_contexts(a, b)?)?;
        let chart = capstan_testkit::helm::chart();
        let chart = chart.to_str().context("a UTF-8 path")?;
        let kube = [("KUBECONFIG", config.as_str())];

        // No -n: both install into the current context's namespace.
        let c = both.capstan(&["install", "by-capstan", chart], &kube);
        ensure!(c.code == 0, "{}", c.stderr);
        ensure!(
            c.stdout.contains(&format!("NAMESPACE: {a}")),
            "{}",
            c.stdout
        );
        let h = both.helm(&["install", "by-helm", chart], &kube);
        ensure!(h.code == 0, "{}", h.stderr);
        let (c, h) = both.both_ok(&["list", "-q"], &kube)?;
        ensure!(names(&c) == ["by-capstan", "by-helm"], "{c}");
        ensure!(names(&c) == names(&h), "capstan {c:?}, helm {h:?}");

        // HELM_KUBECONTEXT picks the other context, and its namespace.
        let other = [
            ("KUBECONFIG", config.as_str()),
            ("HELM_KUBECONTEXT", "other"),
        ];
        let c = both.capstan(&["install", "in-other", chart], &other);
        ensure!(c.code == 0, "{}", c.stderr);
        let (c, h) = both.both_ok(&["list", "-q"], &other)?;
        ensure!(
            names(&c) == ["in-other"] && names(&h) == names(&c),
            "{c} / {h}"
        );
        let (c, h) = both.both_ok(&["list", "-q", "--kube-context", "other"], &kube)?;
        ensure!(
            names(&c) == ["in-other"] && names(&h) == names(&c),
            "{c} / {h}"
        );

        // HELM_NAMESPACE beats the context's namespace; -n beats both.
        let env = [
            ("KUBECONFIG", config.as_str()),
            ("HELM_KUBECONTEXT", "other"),
            ("HELM_NAMESPACE", a),
        ];
        let (c, h) = both.both_ok(&["list", "-q"], &env)?;
        ensure!(
            names(&c) == ["by-capstan", "by-helm"] && names(&h) == names(&c),
            "{c}"
        );
        let (c, h) = both.both_ok(&["list", "-q", "-n", b], &env)?;
        ensure!(names(&c) == ["in-other"] && names(&h) == names(&c), "{c}");
        let (c, h) = both.both_ok(&["env", "HELM_NAMESPACE"], &other)?;
        ensure!(c == format!("{b}\n") && c == h, "capstan {c:?}, helm {h:?}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn env_prints_what_helm_env_prints() -> anyhow::Result<()> {
    let both = Both::new();
    let config = kubeconfig_path().display().to_string();
    for env in [
        &[("KUBECONFIG", config.as_str())][..],
        &[
            ("KUBECONFIG", config.as_str()),
            ("HELM_KUBECONTEXT", "devcluster"),
            ("HELM_NAMESPACE", "apps"),
            ("HELM_MAX_HISTORY", "3"),
            ("HELM_QPS", "2.5"),
            ("HELM_BURST_LIMIT", "7"),
            ("HELM_KUBEASUSER", "jane"),
            ("HELM_KUBEASGROUPS", "dev,ops"),
            ("HELM_KUBEAPISERVER", "https://example.test:6443"),
            ("HELM_KUBETOKEN", "abc"),
            ("HELM_KUBECAFILE", "/etc/ca.pem"),
            ("HELM_KUBETLS_SERVER_NAME", "kube.test"),
            ("HELM_CACHE_HOME", "/tmp/cache-x"),
            ("XDG_CONFIG_HOME", "/tmp/xdg-config"),
            ("HELM_DEBUG", "true"),
        ],
        // Booleans as Go reads them: what it cannot parse is false, never an error.
        &[
            ("KUBECONFIG", config.as_str()),
            ("HELM_DEBUG", "1"),
            ("HELM_KUBEINSECURE_SKIP_TLS_VERIFY", "yes"),
        ],
    ] {
        let (c, h) = both.both_ok(&["env"], env)?;
        let c: Vec<&str> = c.lines().filter(|l| !l.starts_with("HELM_BIN=")).collect();
        let h: Vec<&str> = h.lines().filter(|l| !l.starts_with("HELM_BIN=")).collect();
        ensure!(c == h, "with {env:?}\ncapstan:\n{c:#?}\nhelm:\n{h:#?}");
    }
    let c = both.capstan(&["env", "--kube-context", "x", "HELM_KUBECONTEXT"], &[]);
    ensure!(c.code == 0 && c.stdout == "x\n", "{c:?}");
    Ok(())
}

/// A service account's token, from the TokenRequest API.
async fn token(ns: &TestNamespace) -> anyhow::Result<String> {
    let accounts = ns.api::<ServiceAccount>();
    let account = ServiceAccount {
        metadata: kube::api::ObjectMeta {
            name: Some("robot".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    accounts.create(&PostParams::default(), &account).await?;
    let request = accounts
        .create_token_request("robot", &PostParams::default(), &TokenRequest::default())
        .await?;
    request
        .status
        .and_then(|s| s.token)
        .context("the token request has a token")
}

#[tokio::test]
async fn kube_flags_override_the_kubeconfig() {
    with_namespace("cli-kubeflags", |ns| async move {
        let both = Both::new();
        let ns_name = ns.name().to_owned();
        let config = kubeconfig_path().display().to_string();
        let kube = [("KUBECONFIG", config.as_str())];
        let base = ["list", "-q", "-n", ns_name.as_str()];
        let with = |extra: &[&str]| -> Vec<String> {
            base.iter().chain(extra).map(|s| (*s).to_owned()).collect()
        };

        // --qps and --burst-limit are accepted.
        both.both_ok(&args(&with(&["--qps", "5", "--burst-limit", "10"])), &kube)?;

        // Impersonation: a user with no rights is refused, with the user named; the same user
        // in system:masters may list.
        let v = with(&["--kube-as-user", "nobody"]);
        let c = both.capstan(&args(&v), &kube);
        let h = both.helm(&args(&v), &kube);
        ensure!(c.code == 1 && h.code == 1, "{c:?} {h:?}");
        ensure!(
            c.stderr.contains("\"nobody\"") && c.stderr.contains("forbidden"),
            "{}",
            c.stderr
        );
        both.both_ok(
            &args(&with(&[
                "--kube-as-user",
                "nobody",
                "--kube-as-group",
                "system:masters",
            ])),
            &kube,
        )?;

        // A wrong TLS server name fails the certificate check; skipping the check passes.
        let v = with(&["--kube-tls-server-name", "wrong.example"]);
        let c = both.capstan(&args(&v), &kube);
        let h = both.helm(&args(&v), &kube);
        ensure!(c.code == 1 && h.code == 1, "{c:?} {h:?}");
        ensure!(
            c.stderr
                .starts_with("Error: Kubernetes cluster unreachable: Get \"https://"),
            "{}",
            c.stderr
        );
        plain(&c)?;
        ensure!(!c.stderr.contains("DnsName("), "{}", c.stderr);
        let c = both.capstan(
            &args(&with(&[
                "--kube-tls-server-name",
                "wrong.example",
                "--kube-insecure-skip-tls-verify",
            ])),
            &kube,
        );
        ensure!(c.code == 0, "{}", c.stderr);

        // --kube-ca-file: a kubeconfig without the CA works with it.
        let mut no_ca = kubeconfig()?;
        let cluster = &mut no_ca["clusters"][0]["cluster"];
        let ca_data = cluster["certificate-authority-data"]
            .as_str()
            .context("the kubeconfig has its CA inline")?
            .to_owned();
        cluster
            .as_mapping_mut()
            .context("a cluster mapping")?
            .remove("certificate-authority-data");
        let no_ca = write(both.home.path(), "no-ca", &no_ca)?;
        let ca_file = both.home.path().join("ca.pem");
        use base64::Engine as _;
        std::fs::write(
            &ca_file,
            base64::engine::general_purpose::STANDARD.decode(ca_data)?,
        )?;
        let no_ca_env = [("KUBECONFIG", no_ca.as_str())];
        let c = both.capstan(&args(&with(&[])), &no_ca_env);
        ensure!(c.code == 1, "without the CA: {c:?}");
        let ca = ca_file.display().to_string();
        both.both_ok(&args(&with(&["--kube-ca-file", &ca])), &no_ca_env)?;

        // --kube-apiserver and --kube-token alone, with no kubeconfig: the token's service
        // account is who asks (and may not list Secrets).
        let token = token(&ns).await?;
        let server = kubeconfig()?["clusters"][0]["cluster"]["server"]
            .as_str()
            .context("a server")?
            .to_owned();
        let missing = both.home.path().join("none").display().to_string();
        let v = with(&[
            "--kube-apiserver",
            &server,
            "--kube-token",
            &token,
            "--kube-ca-file",
            &ca,
        ]);
        let c = both.capstan(&args(&v), &[("HOME", missing.as_str())]);
        let h = both.helm(&args(&v), &[("HOME", missing.as_str())]);
        ensure!(c.code == 1 && h.code == 1, "{c:?} {h:?}");
        let account = format!("system:serviceaccount:{ns_name}:robot");
        ensure!(c.stderr.contains(&account), "{}", c.stderr);
        ensure!(h.stderr.contains(&account), "{}", h.stderr);
        Ok(())
    })
    .await;
}

/// The stderr of a run must be a plain message: no Rust type names or Debug structs.
fn plain(run: &Run) -> anyhow::Result<()> {
    for debugish in [
        "Status {",
        "ApiError",
        "ServiceError",
        "HyperError",
        "Some(",
        "ListMeta",
    ] {
        ensure!(
            !run.stderr.contains(debugish),
            "{debugish:?} in:\n{}",
            run.stderr
        );
    }
    Ok(())
}

#[tokio::test]
async fn errors_say_what_and_where_with_helms_exit_codes() {
    with_namespace("cli-errors", |ns| async move {
        let both = Both::new();
        let config = kubeconfig_path().display().to_string();
        let kube = [("KUBECONFIG", config.as_str())];
        let chart = capstan_testkit::helm::chart();
        let chart = chart.to_str().context("a UTF-8 path")?;
        let ns_name = ns.name();

        // A namespace that does not exist: Helm's words, and the flag that fixes it.
        let missing = format!("{ns_name}-missing");
        let args = ["install", "web", chart, "-n", missing.as_str()];
        let c = both.capstan(&args, &kube);
        let h = both.helm(&args, &kube);
        ensure!(c.code == 1 && h.code == 1, "{c:?} {h:?}");
        let words = format!("namespaces \"{missing}\" not found");
        ensure!(h.stderr.contains(&words), "{}", h.stderr);
        ensure!(
            c.error_line() == format!("Error: {words} (add --create-namespace to create it)"),
            "{}",
            c.stderr
        );
        plain(&c)?;
        let c = both.capstan(&[&args[..], &["--debug"]].concat(), &kube);
        ensure!(
            c.stderr.contains("caused by: locking release"),
            "--debug adds the cause chain: {}",
            c.stderr
        );
        plain(&c)?;

        // An unreachable cluster: the API server named, as Helm does.
        let args = ["list", "--kube-apiserver", "https://127.0.0.1:1"];
        let c = both.capstan(&args, &kube);
        let h = both.helm(&args, &kube);
        ensure!(c.code == 1 && h.code == 1, "{c:?} {h:?}");
        let prefix = "Error: Kubernetes cluster unreachable: Get \"https://127.0.0.1:1/version\": ";
        ensure!(h.stderr.starts_with(prefix), "{}", h.stderr);
        ensure!(c.error_line().starts_with(prefix), "{}", c.stderr);
        ensure!(c.error_line().contains("refused"), "{}", c.stderr);
        plain(&c)?;

        // A kubeconfig that does not exist, quoted plainly.
        let c = both.capstan(&["list", "--kubeconfig", "/no/such/kubeconfig"], &[]);
        ensure!(c.code == 1, "{c:?}");
        ensure!(
            c.error_line()
                == "Error: Kubernetes cluster unreachable: kubeconfig \"/no/such/kubeconfig\" \
                    does not exist (set by --kubeconfig)",
            "{}",
            c.stderr
        );
        let c = both.capstan(&["list"], &[("KUBECONFIG", "/no/such/kubeconfig")]);
        ensure!(
            c.code == 1 && c.error_line().contains("(set by KUBECONFIG)"),
            "{c:?}"
        );

        // A malformed command line: 1 as Helm, never 2 (diff's "changes found").
        for args in [&["list", "--bogus"][..], &["lsx"], &["install"]] {
            let c = both.capstan(args, &kube);
            let h = both.helm(args, &kube);
            ensure!(c.code == 1 && h.code == 1, "{args:?}: {c:?} {h:?}");
        }
        for args in [&["--help"][..], &["list", "--help"], &["--version"]] {
            let c = both.capstan(args, &kube);
            ensure!(c.code == 0, "{args:?}: {c:?}");
        }
        let help = both.capstan(&["--help"], &[]).stdout;
        ensure!(help.contains("Exit codes:"), "{help}");
        ensure!(help.contains("3  the release is locked"), "{help}");

        // A missing release: the namespace searched, and --install for an upgrade.
        let c = both.capstan(&["status", "ghost", "-n", ns_name], &kube);
        ensure!(c.code == 1, "{c:?}");
        ensure!(
            c.error_line()
                == format!("Error: release \"ghost\" not found in namespace \"{ns_name}\""),
            "{}",
            c.stderr
        );
        let c = both.capstan(&["upgrade", "ghost", chart, "-n", ns_name], &kube);
        let h = both.helm(&["upgrade", "ghost", chart, "-n", ns_name], &kube);
        ensure!(c.code == 1 && h.code == 1, "{c:?} {h:?}");
        ensure!(
            c.error_line()
                == format!(
                    "Error: release \"ghost\" not found in namespace \"{ns_name}\" (add --install \
                     to install it)"
                ),
            "{}",
            c.stderr
        );
        plain(&c)?;
        Ok(())
    })
    .await;
}

/// Runs both tools with one argument list; both must succeed with the same standard output.
fn same(both: &Both, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<String> {
    let (c, h) = both.both_ok(args, env)?;
    ensure!(c == h, "{args:?}\ncapstan:\n{c}\nhelm:\n{h}");
    Ok(c)
}

#[tokio::test]
async fn list_defaults_sorting_paging_and_selectors_match_helm() {
    with_namespace("cli-list", |ns| async move {
        let both = Both::new();
        let config = kubeconfig_path().display().to_string();
        let kube = [("KUBECONFIG", config.as_str())];
        let chart = capstan_testkit::helm::chart();
        let chart = chart.to_str().context("a UTF-8 path")?;
        let n = ns.name();
        // Installed in an order that is not the names' order; one kept uninstalled.
        for (name, extra) in [
            ("b-one", &[][..]),
            ("a-two", &["--labels", "team=api"][..]),
            ("c-three", &[][..]),
        ] {
            let args = [&["install", name, chart, "-n", n][..], extra].concat();
            let c = both.capstan(&args, &kube);
            ensure!(c.code == 0, "{}", c.stderr);
        }
        let c = both.capstan(&["uninstall", "c-three", "--keep-history", "-n", n], &kube);
        ensure!(c.code == 0, "{}", c.stderr);

        let list = same(&both, &["list", "-q", "-n", n], &kube)?;
        ensure!(
            list == "a-two\nb-one\n",
            "uninstalled ones are not listed: {list}"
        );
        for flags in [
            &["-o", "json"][..],
            &["-o", "yaml"],
            &["-a", "-o", "json"],
            &["--uninstalled", "-q"],
            &["--deployed", "--uninstalled", "-q"],
            &["-a", "-d", "-q"],
            &["-a", "-d", "-r", "-q"],
            &["-a", "-r", "-q"],
            &["-a", "-m", "1", "--offset", "1", "-q"],
            &["-a", "--offset", "5", "-q"],
            &["-l", "name=a-two", "-q"],
            &["-a", "-l", "status!=deployed", "-q"],
            &["-l", "team=api", "-q"],
            &["--time-format", "2006-01-02 15:04:05Z0700", "-o", "json"],
            &["--no-headers", "--time-format", "Jan _2"],
        ] {
            same(&both, &[&["list", "-n", n][..], flags].concat(), &kube)?;
        }
        Ok(())
    })
    .await;
}

/// Text with every RFC 3339 time (`2026-01-02T03:04:05.123Z`) replaced by `TIME`.
fn mask_times(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("T") {
        let (head, tail) = rest.split_at(at);
        let date = head.len() >= 10
            && head[head.len() - 10..].chars().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    c == '-'
                } else {
                    c.is_ascii_digit()
                }
            });
        let end = tail.find('Z').filter(|e| {
            tail[1..*e]
                .chars()
                .all(|c| c.is_ascii_digit() || c == ':' || c == '.')
        });
        match (date, end) {
            (true, Some(end)) => {
                out.push_str(&head[..head.len() - 10]);
                out.push_str("TIME");
                rest = &tail[end + 1..];
            }
            _ => {
                out.push_str(head);
                out.push('T');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn status_and_install_output_match_helm_byte_for_byte() {
    with_namespaces(&["cli-out-c", "cli-out-h"], |namespaces| async move {
        let (c_ns, h_ns) = (namespaces[0].name(), namespaces[1].name());
        let both = Both::new();
        let config = kubeconfig_path().display().to_string();
        let kube = [("KUBECONFIG", config.as_str())];
        let chart = capstan_testkit::helm::chart();
        let chart = chart.to_str().context("a UTF-8 path")?;
        let normal = |text: &str, ns: &str| mask_times(text).replace(ns, "NS");
        for (i, format) in ["json", "yaml"].into_iter().enumerate() {
            let name = format!("web{i}");
            let install = |ns: &str, values: &str| {
                vec![
                    "install".to_owned(),
                    name.clone(),
                    chart.to_owned(),
                    "-n".into(),
                    ns.to_owned(),
                    "--set".into(),
                    values.to_owned(),
                    "-o".into(),
                    format.to_owned(),
                ]
            };
            // A dry run prints the whole record it would write, chart and hooks included.
            let dry =
                |ns: &str| [install(ns, "message=one"), vec!["--dry-run".to_owned()]].concat();
            let c = both.capstan(&args(&dry(c_ns)), &kube);
            let h = both.helm(&args(&dry(h_ns)), &kube);
            ensure!(c.code == 0 && h.code == 0, "{c:?}\n{h:?}");
            ensure!(
                normal(&c.stdout, c_ns) == normal(&h.stdout, h_ns)
                    && c.stdout.contains("templates"),
                "install --dry-run -o {format}\ncapstan:\n{}\nhelm:\n{}",
                c.stdout,
                h.stdout
            );
            let c = both.capstan(&args(&install(c_ns, "message=one")), &kube);
            let h = both.helm(&args(&install(h_ns, "message=one")), &kube);
            ensure!(c.code == 0 && h.code == 0, "{c:?}\n{h:?}");
            ensure!(
                normal(&c.stdout, c_ns) == normal(&h.stdout, h_ns),
                "install -o {format}\ncapstan:\n{}\nhelm:\n{}",
                c.stdout,
                h.stdout
            );
            for extra in [&[][..], &["--revision", "1"]] {
                let c_args = [
                    &["status", name.as_str(), "-n", c_ns, "-o", format][..],
                    extra,
                ]
                .concat();
                let h_args = [
                    &["status", name.as_str(), "-n", h_ns, "-o", format][..],
                    extra,
                ]
                .concat();
                let c = both.capstan(&c_args, &kube);
                let h = both.helm(&h_args, &kube);
                ensure!(c.code == 0 && h.code == 0, "{c:?}\n{h:?}");
                ensure!(
                    normal(&c.stdout, c_ns) == normal(&h.stdout, h_ns),
                    "status -o {format}\ncapstan:\n{}\nhelm:\n{}",
                    c.stdout,
                    h.stdout
                );
            }
        }
        Ok(())
    })
    .await;
}

/// Status as a table without capstan's additive RESOURCES block (documented in docs/cli.md).
fn without_resources(status: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in status.lines() {
        if line == "RESOURCES:" {
            skipping = true;
            continue;
        }
        if skipping && (line.starts_with("TEST SUITE") || line == "NOTES:") {
            skipping = false;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A release Helm installed and upgraded, with test hooks, values holding characters Go's JSON
/// escapes and empty strings: every read command prints what Helm v3 prints, byte for byte,
/// before and after the tests ran (with `capstan test` and `helm test` printing the same).
#[tokio::test]
async fn read_commands_match_helm_byte_for_byte() {
    with_namespace("cli-reads", |ns| async move {
        let both = Both::new();
        let config = kubeconfig_path().display().to_string();
        let kube = [("KUBECONFIG", config.as_str())];
        let n = ns.name();
        let chart = capstan_e2e::corpus().join("podinfo");
        let chart = chart.to_str().context("a UTF-8 path")?;
        let h = both.helm(&["install", "web", chart, "-n", n], &kube);
        ensure!(h.code == 0, "{}", h.stderr);
        let set = ["--set", "ui.message=a && b <c>", "--set-string", "ui.logo="];
        let upgrade = [&["upgrade", "web", chart, "-n", n][..], &set[..]].concat();
        let h = both.helm(&upgrade, &kube);
        ensure!(h.code == 0, "{}", h.stderr);

        let reads: &[&[&str]] = &[
            &["list"],
            &["list", "-a"],
            &["list", "-o", "json"],
            &["history", "web"],
            &["history", "web", "-o", "json"],
            &["history", "web", "-o", "yaml"],
            &["get", "values", "web"],
            &["get", "values", "web", "-a"],
            &["get", "values", "web", "-o", "json"],
            &["get", "values", "web", "-a", "-o", "yaml"],
            &["get", "values", "web", "--revision", "1"],
            &["get", "metadata", "web"],
            &["get", "metadata", "web", "-o", "json"],
            &["get", "metadata", "web", "-o", "yaml"],
            &["get", "manifest", "web"],
            &["get", "hooks", "web"],
            &["get", "notes", "web"],
            &["get", "all", "web"],
            &["status", "web", "-o", "json"],
            &["status", "web", "-o", "yaml"],
            &["status", "web", "--revision", "1", "-o", "json"],
        ];
        let compare = |when: &str| -> anyhow::Result<()> {
            for read in reads {
                let args = [*read, &["-n", n][..]].concat();
                let (c, h) = both.both_ok(&args, &kube)?;
                ensure!(c == h, "{when}: {read:?}\ncapstan:\n{c}\nhelm:\n{h}");
            }
            for status in [&["status", "web"][..], &["status", "web", "--show-desc"]] {
                let args = [status, &["-n", n][..]].concat();
                let (c, h) = both.both_ok(&args, &kube)?;
                ensure!(
                    without_resources(&c) == h,
                    "{when}: {status:?}\ncapstan:\n{c}\nhelm:\n{h}"
                );
            }
            Ok(())
        };
        compare("tests never ran")?;

        // The tests, run by each tool: the same output but for the times of the runs.
        let (c, h) = both.both_ok(&["test", "web", "-n", n], &kube)?;
        let runs = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| !l.starts_with("Last "))
                .map(|l| {
                    // Test pods' names end in a random suffix in both tools.
                    l.rsplit_once('-')
                        .filter(|_| l.starts_with("TEST SUITE:"))
                        .map_or(l.to_owned(), |(head, _)| head.to_owned())
                })
                .collect()
        };
        ensure!(runs(&c) == runs(&h), "test\ncapstan:\n{c}\nhelm:\n{h}");
        compare("after the tests ran")?;
        Ok(())
    })
    .await;
}

/// `show chart|values|readme|crds|all` of every chart of the corpus prints what Helm v3 prints,
/// byte for byte: Helm's loaded metadata (sanitized, known fields only, go-yaml's folding and
/// quoting), and the CRDs of subcharts too.
#[test]
fn show_prints_what_helm_shows_for_every_chart_of_the_corpus() -> anyhow::Result<()> {
    let both = Both::new();
    let mut charts: Vec<PathBuf> = std::fs::read_dir(capstan_e2e::corpus())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Chart.yaml").is_file())
        .collect();
    charts.sort();
    ensure!(charts.len() >= 50, "the corpus: {charts:?}");
    let mut compared = 0;
    for chart in &charts {
        let chart = chart.to_str().context("a UTF-8 path")?;
        // `all` is chart, values, readme and CRDs in one (with Helm's separators); `crds`
        // alone separates differently.
        for part in ["all", "crds"] {
            let (c, h) = both.both_ok(&["show", part, chart], &[])?;
            ensure!(c == h, "show {part} {chart}\ncapstan:\n{c}\nhelm:\n{h}");
            compared += 1;
        }
    }
    println!("show: {compared} outputs identical to Helm's");
    Ok(())
}

/// A scratch chart `c` in a temporary directory (kept while the first value lives): a
/// Chart.yaml of `apiVersion: v2`, name `c`, version 1.0.0 and the `more` lines, and an empty
/// `templates/`.
fn scratch_chart(more: &str) -> anyhow::Result<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::tempdir()?;
    let chart = dir.path().join("c");
    std::fs::create_dir_all(chart.join("templates"))?;
    std::fs::write(
        chart.join("Chart.yaml"),
        format!("apiVersion: v2\nname: c\nversion: 1.0.0\n{more}"),
    )?;
    Ok((dir, chart))
}

/// `lint` warns of the deprecated API types Helm warns of, with Helm's words: every type of
/// the lifecycle table (generated from Kubernetes' Go types by `cargo xtask deprecations`), a
/// removed one and a custom kind, at Helm's default Kubernetes version and at an older one.
#[test]
fn lint_warns_of_deprecated_apis_as_helm_does() -> anyhow::Result<()> {
    let both = Both::new();
    let table = std::fs::read_to_string(
        capstan_e2e::process::repository().join("crates/capstan-lint/src/lifecycle.rs"),
    )?;
    let field = |line: &str, name: &str| -> Option<String> {
        Some(
            line.split(&format!("{name}: \""))
                .nth(1)?
                .split('"')
                .next()?
                .to_owned(),
        )
    };
    let mut types: Vec<(String, String)> = table
        .lines()
        .filter_map(|line| Some((field(line, "api_version")?, field(line, "kind")?)))
        .collect();
    ensure!(types.len() > 100, "the table: {types:?}");
    types.push((
        "autoscaling/v2beta2".into(),
        "HorizontalPodAutoscaler".into(),
    ));
    types.push(("example.com/v1".into(), "Widget".into()));
    let (_dir, chart) = scratch_chart("icon: https://example.com/i.png\n")?;
    std::fs::write(chart.join("values.yaml"), "{}\n")?;
    let documents: Vec<String> = types
        .iter()
        .map(|(api_version, kind)| {
            format!("apiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: a\n")
        })
        .collect();
    std::fs::write(chart.join("templates/all.yaml"), documents.join("---\n"))?;
    let path = chart.to_str().context("a UTF-8 path")?;
    let warnings = |run: &Run| -> Vec<String> {
        let mut lines: Vec<String> = run
            .stdout
            .lines()
            .filter(|l| l.contains(" is deprecated in "))
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    for args in [
        &["lint", path][..],
        &["lint", path, "--kube-version", "1.25"],
    ] {
        let (c, h) = (both.capstan(args, &[]), both.helm(args, &[]));
        let (cw, hw) = (warnings(&c), warnings(&h));
        ensure!(hw.len() > 10, "{args:?}: helm {h:?}");
        ensure!(
            cw == hw,
            "{args:?}\ncapstan:\n{}\nhelm:\n{}",
            cw.join("\n"),
            hw.join("\n")
        );
    }
    Ok(())
}

/// Without `--kube-version` or a cluster, `template` renders with Helm's capabilities: the
/// Kubernetes of Helm's client-go (as Helm's own release build sets it), its API versions and
/// Helm's version; a chart's `kubeVersion` constraint is checked against that version.
#[test]
fn template_without_a_cluster_has_helms_capabilities() -> anyhow::Result<()> {
    let both = Both::new();
    let (_dir, chart) = scratch_chart("kubeVersion: \">=1.30.0-0\"\n")?;
    std::fs::write(
        chart.join("templates/caps.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caps\ndata:\n  \
         kube: {{ .Capabilities.KubeVersion }} {{ .Capabilities.KubeVersion.Major }} \
         {{ .Capabilities.KubeVersion.Minor }}\n  \
         helm: {{ .Capabilities.HelmVersion.Version }}\n  \
         apis: {{ .Capabilities.APIVersions | toJson | quote }}\n",
    )?;
    let path = chart.to_str().context("a UTF-8 path")?;
    let (c, h) = both.both_ok(&["template", "r", path], &[])?;
    ensure!(c == h, "capstan:\n{c}\nhelm:\n{h}");
    ensure!(c.contains("kube: v1.37.0 1 37"), "{c}");
    Ok(())
}

/// `template` prints what Helm prints, byte for byte, for hooks of several kinds, weights and
/// templates: hooks after the manifests, in Helm's order (by kind in install order, unknown
/// kinds last, then as rendered; not by weight, which orders only their running); a chart of
/// hooks alone starts with Helm's blank line; documents of no object are printed.
#[test]
fn template_prints_hooks_as_helm_does() -> anyhow::Result<()> {
    let both = Both::new();
    let (_dir, chart) = scratch_chart("")?;
    let hook = |api: &str, kind: &str, name: &str, weight: i32, event: &str| {
        format!(
            "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n  annotations:\n    \
             helm.sh/hook: {event}\n    helm.sh/hook-weight: \"{weight}\"\n"
        )
    };
    let docs = [
        hook("batch/v1", "Job", "b-job", 0, "pre-install"),
        hook("v1", "ServiceAccount", "z-sa", 0, "pre-install"),
        hook("example.com/v1", "Widget", "w", -1, "post-install"),
        hook(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "a-role",
            0,
            "pre-install",
        ),
        hook("v1", "Pod", "t", 0, "test"),
        hook("example.com/v1", "Gadget", "g", 3, "pre-install"),
    ];
    std::fs::write(chart.join("templates/a-hooks.yaml"), docs.join("---\n"))?;
    std::fs::write(
        chart.join("templates/b-more.yaml"),
        hook("v1", "ServiceAccount", "a-sa", 5, "pre-install"),
    )?;
    let path = chart.to_str().context("a UTF-8 path")?;
    let compare = |what: &str| -> anyhow::Result<()> {
        let (c, h) = both.both_ok(&["template", "r", path], &[])?;
        ensure!(c == h, "{what}\ncapstan:\n{c}\nhelm:\n{h}");
        Ok(())
    };
    compare("hooks alone")?;
    // Documents of no object (comments alone, `~`) are printed as Helm prints them: of no
    // kind, sorted first among the unknown kinds.
    std::fs::write(
        chart.join("templates/cm.yaml"),
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n---\n\
         # nothing here\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n---\n~\n",
    )?;
    compare("manifests and hooks")
}

/// The files of a `.tgz` archive (extracted with `tar`): each path and its bytes, sorted.
fn archive_files(archive: &Path) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) -> anyhow::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else {
                out.push((path.strip_prefix(root)?.to_owned(), std::fs::read(&path)?));
            }
        }
        Ok(())
    }
    let dir = tempfile::tempdir()?;
    let tar = Command::new("tar")
        .arg("-xzf")
        .arg(archive)
        .arg("-C")
        .arg(dir.path())
        .output()?;
    ensure!(
        tar.status.success(),
        "tar -xzf {}: {tar:?}",
        archive.display()
    );
    let mut files = Vec::new();
    walk(dir.path(), dir.path(), &mut files)?;
    files.sort();
    Ok(files)
}

/// `package` writes the files `helm package` writes, byte for byte: every chart's Chart.yaml
/// (the subcharts' too) written again from its loaded metadata as Helm's `chartutil.Save` does
/// (sigs.k8s.io/yaml: Helm's field order, quoting, folding, the description made one line),
/// `--version` and `--app-version` applied to the chart's own, and subcharts kept as archives
/// in `charts/` written as their directories, at any depth.
#[test]
fn package_writes_the_files_helm_writes() -> anyhow::Result<()> {
    let both = Both::new();
    // parent <- charts/sub-0.1.0.tgz <- charts/inner-0.2.0.tgz, packaged by capstan.
    let nested = tempfile::tempdir()?;
    for (name, version, child) in [
        ("inner", "0.2.0", None),
        ("sub", "0.1.0", Some("inner")),
        ("parent", "1.0.0", Some("sub")),
    ] {
        let dir = nested.path().join(name);
        std::fs::create_dir_all(dir.join("templates"))?;
        std::fs::create_dir_all(dir.join("charts"))?;
        let dependencies = child.map_or(String::new(), |c| {
            format!("dependencies:\n- name: {c}\n  version: \">0.0.0\"\n")
        });
        std::fs::write(
            dir.join("Chart.yaml"),
            format!("apiVersion: v2\nname: {name}\nversion: {version}\n{dependencies}"),
        )?;
        std::fs::write(
            dir.join("templates/cm.yaml"),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"),
        )?;
        if let Some(child) = child {
            let child = nested.path().join(child);
            let charts = dir.join("charts");
            let run = both.capstan(
                &[
                    "package",
                    child.to_str().context("a UTF-8 path")?,
                    "-d",
                    charts.to_str().context("a UTF-8 path")?,
                ],
                &[],
            );
            ensure!(run.code == 0, "{run:?}");
        }
    }
    for (path, extra) in [
        (capstan_e2e::corpus().join("kube-prometheus-stack"), &[][..]),
        (
            capstan_e2e::corpus().join("wordpress"),
            &["--version", "9.9.9-rc.1", "--app-version", "1.2.3"][..],
        ),
        (capstan_e2e::corpus().join("postgresql"), &[][..]),
        (nested.path().join("parent"), &[][..]),
    ] {
        let chart = path
            .file_name()
            .context("a chart directory")?
            .to_string_lossy()
            .into_owned();
        let path = path.to_str().context("a UTF-8 path")?;
        let mut archives = Vec::new();
        for tool in ["capstan", "helm"] {
            let dir = both.home.path().join(format!("packaged-{tool}-{chart}"));
            std::fs::create_dir_all(&dir)?;
            let dir_text = dir.to_str().context("a UTF-8 path")?;
            let args = [&["package", path, "-d", dir_text][..], extra].concat();
            let run = if tool == "capstan" {
                both.capstan(&args, &[])
            } else {
                both.helm(&args, &[])
            };
            ensure!(run.code == 0, "{tool} {args:?}: {run:?}");
            let archive = std::fs::read_dir(&dir)?
                .next()
                .context("an archive written")??
                .path();
            archives.push((
                archive.file_name().map(ToOwned::to_owned),
                archive_files(&archive)?,
            ));
        }
        let (capstan, helm) = (&archives[0], &archives[1]);
        ensure!(
            capstan.0 == helm.0,
            "{chart}: {:?} and {:?}",
            capstan.0,
            helm.0
        );
        let names = |files: &[(PathBuf, Vec<u8>)]| -> Vec<PathBuf> {
            files.iter().map(|f| f.0.clone()).collect()
        };
        ensure!(
            names(&capstan.1) == names(&helm.1),
            "{chart}: the files differ"
        );
        for ((name, c), (_, h)) in capstan.1.iter().zip(&helm.1) {
            ensure!(
                c == h,
                "{chart}: {}\ncapstan:\n{}\nhelm:\n{}",
                name.display(),
                String::from_utf8_lossy(c),
                String::from_utf8_lossy(h)
            );
        }
    }
    Ok(())
}

/// `.helmignore` as Helm reads it. A `!` rule ignores every path it does not match (and lets
/// the next rules decide the ones it does): first in the file, it ignores `Chart.yaml`, and
/// both tools fail as Helm does; `!*.yaml` also ignores the `templates` directory. An
/// archive's `.helmignore` is not applied (the archive is the chart as packaged): both render
/// the template it names.
#[test]
fn helmignore_is_read_as_helm_reads_it() -> anyhow::Result<()> {
    let both = Both::new();
    let (dir, chart) = scratch_chart("")?;
    for name in ["kept", "dropped"] {
        std::fs::write(
            chart.join(format!("templates/{name}.yaml")),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"),
        )?;
    }
    let path = chart.to_str().context("a UTF-8 path")?;
    let out = dir.path().join("out");
    let out = out.to_str().context("a UTF-8 path")?;

    std::fs::write(chart.join(".helmignore"), "!templates/kept.yaml\n")?;
    for args in [&["template", "r", path][..], &["package", path, "-d", out]] {
        let (c, h) = (both.capstan(args, &[]), both.helm(args, &[]));
        ensure!(
            c.code == 1 && h.code == 1,
            "{args:?}: capstan {c:?}, helm {h:?}"
        );
        for run in [&c, &h] {
            ensure!(
                run.stderr.contains("Chart.yaml file is missing"),
                "{args:?}: {run:?}"
            );
        }
    }

    std::fs::write(chart.join(".helmignore"), "!*.yaml\n")?;
    let (c, h) = both.both_ok(&["template", "r", path], &[])?;
    ensure!(c == h, "`!*.yaml`\ncapstan:\n{c}\nhelm:\n{h}");
    ensure!(
        !c.contains("kept"),
        "the templates directory is ignored: {c}"
    );

    std::fs::write(chart.join(".helmignore"), "dropped.yaml\n")?;
    let (c, h) = both.both_ok(&["template", "r", path], &[])?;
    ensure!(
        c == h && !c.contains("dropped"),
        "a directory\ncapstan:\n{c}\nhelm:\n{h}"
    );
    let archive = dir.path().join("c-1.0.0.tgz");
    let tar = Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(dir.path())
        .arg("c")
        .status()?;
    ensure!(tar.success(), "tar: {tar}");
    let archive = archive.to_str().context("a UTF-8 path")?;
    let (c, h) = both.both_ok(&["template", "r", archive], &[])?;
    ensure!(
        c == h && c.contains("dropped"),
        "an archive\ncapstan:\n{c}\nhelm:\n{h}"
    );
    Ok(())
}

/// A post-renderer script that replaces `hello` with `post-rendered` (and appends its
/// arguments as a comment).
fn post_renderer(dir: &Path) -> anyhow::Result<String> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join("post-render.sh");
    std::fs::write(
        &path,
        "#!/bin/sh\nsed 's/hello/post-rendered/'\necho \"# args: $*\"\n",
    )?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path.display().to_string())
}

#[tokio::test]
async fn helms_flags_are_accepted_and_behave_as_helms() {
    with_namespace("cli-flags", |ns| async move {
        let both = Both::new();
        let config = kubeconfig_path().display().to_string();
        let kube = [("KUBECONFIG", config.as_str())];
        let chart = capstan_testkit::helm::chart();
        let chart = chart.to_str().context("a UTF-8 path")?;
        let n = ns.name();

        // Dry runs print the hooks and the manifest as Helm does (all but the time line);
        // --hide-notes leaves the notes out.
        for extra in [&[][..], &["--hide-notes"]] {
            let args = [&["install", "dry", chart, "-n", n, "--dry-run"][..], extra].concat();
            let (c, h) = both.both_ok(&args, &kube)?;
            let strip = |t: &str| {
                t.lines()
                    .filter(|l| !l.starts_with("LAST DEPLOYED:"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            ensure!(
                strip(&c) == strip(&h),
                "{args:?}\ncapstan:\n{c}\nhelm:\n{h}"
            );
            ensure!(
                c.contains("HOOKS:\n---\n# Source: helm-web/templates/hook.yaml"),
                "{c}"
            );
            ensure!(
                c.contains("NOTES:") != extra.contains(&"--hide-notes"),
                "{c}"
            );
        }
        // Boolean flags take Go's boolean values, as pflag's do: a dry run with
        // --dry-run=client and switches spelled out prints what Helm prints.
        let args = [
            "install",
            "dry",
            chart,
            "-n",
            n,
            "--dry-run=client",
            "--hide-notes=true",
            "--atomic=false",
            "--create-namespace=F",
            "--debug=0",
        ];
        let (c, h) = both.both_ok(&args, &kube)?;
        let strip = |t: &str| {
            t.lines()
                .filter(|l| !l.starts_with("LAST DEPLOYED:"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        ensure!(
            strip(&c) == strip(&h) && !c.contains("NOTES:"),
            "{args:?}\ncapstan:\n{c}\nhelm:\n{h}"
        );
        let c = both.capstan(&["list", "-n", n, "--all=maybe"], &kube);
        ensure!(c.code == 1, "not a boolean: a usage error: {c:?}");

        // A server-side dry run does not say objects were created.
        let c = both.capstan(
            &["install", "dry", chart, "-n", n, "--dry-run=server"],
            &kube,
        );
        ensure!(c.code == 0, "{}", c.stderr);
        ensure!(
            c.stderr
                .contains("configmap/dry-web created (server dry run)")
                && !c.stderr.lines().any(|l| l.ends_with(" created")),
            "{}",
            c.stderr
        );

        // --set-literal, --post-renderer (with args), --skip-tests, --skip-crds: the same
        // template output as Helm's.
        let script = post_renderer(both.home.path())?;
        for extra in [
            &["--set-literal", "message=a,b=c d"][..],
            &[
                "--post-renderer",
                &script,
                "--post-renderer-args",
                "x",
                "--post-renderer-args",
                "y",
            ],
            &["--skip-tests", "--skip-crds"],
        ] {
            let args = [&["template", "lit", chart, "-n", n][..], extra].concat();
            same(&both, &args, &kube)?;
        }
        // --post-renderer on install changes what is applied; -l labels the release;
        // --wait=watcher waits.
        let c = both.capstan(
            &[
                "install",
                "post",
                chart,
                "-n",
                n,
                "--post-renderer",
                &script,
                "-l",
                "team=web",
                "--wait=watcher",
            ],
            &kube,
        );
        ensure!(c.code == 0, "{}", c.stderr);
        let manifest = both
            .capstan(&["get", "manifest", "post", "-n", n], &kube)
            .stdout;
        ensure!(manifest.contains("post-rendered"), "{manifest}");
        let listed = same(&both, &["list", "-q", "-n", n, "-l", "team=web"], &kube)?;
        ensure!(listed == "post\n", "{listed}");
        let c = both.capstan(
            &[
                "upgrade",
                "post",
                chart,
                "-n",
                n,
                "--wait=hookOnly",
                "--reuse-values",
            ],
            &kube,
        );
        ensure!(c.code == 0, "{}", c.stderr);
        let c = both.capstan(
            &["status", "post", "-n", n, "--show-desc", "--show-resources"],
            &kube,
        );
        ensure!(
            c.stdout.contains("DESCRIPTION: Upgrade complete"),
            "{}",
            c.stdout
        );
        let c = both.capstan(&["status", "post", "-n", n], &kube);
        ensure!(!c.stdout.contains("DESCRIPTION:"), "{}", c.stdout);

        // template --validate: a kind the cluster does not serve fails, as with Helm.
        let bad = both.home.path().join("bad");
        std::fs::create_dir_all(bad.join("templates"))?;
        std::fs::write(
            bad.join("Chart.yaml"),
            "apiVersion: v2\nname: bad\nversion: 0.1.0\n",
        )?;
        std::fs::write(
            bad.join("templates/x.yaml"),
            "apiVersion: example.com/v1\nkind: NoSuchKind\nmetadata:\n  name: x\n",
        )?;
        let bad = bad.display().to_string();
        let c = both.capstan(&["template", "v", &bad, "-n", n, "--validate"], &kube);
        let h = both.helm(&["template", "v", &bad, "-n", n, "--validate"], &kube);
        ensure!(c.code == 1 && h.code == 1, "{c:?} {h:?}");
        ensure!(c.stderr.contains("NoSuchKind"), "{}", c.stderr);
        ensure!(both.capstan(&["template", "v", &bad, "-n", n], &kube).code == 0);
        both.both_ok(&["template", "v", chart, "-n", n, "--validate"], &kube)?;

        // uninstall --ignore-not-found: Helm's output and exit code.
        let (c, h) = both.both_ok(
            &["uninstall", "ghost", "-n", n, "--ignore-not-found"],
            &kube,
        )?;
        ensure!(c == h, "capstan {c:?}, helm {h:?}");

        // version --short and --template; --version has one meaning per command.
        let c = both.capstan(&["version", "--short"], &[]);
        ensure!(
            c.code == 0 && c.stdout.starts_with('v') && c.stdout.lines().count() == 1,
            "{c:?}"
        );
        let c = both.capstan(&["version", "--template", "ver={{.Version}}"], &[]);
        ensure!(c.stdout.starts_with("ver=v"), "{c:?}");
        for args in [&["list", "--version"][..], &["status", "x", "--version"]] {
            let c = both.capstan(args, &kube);
            let h = both.helm(args, &kube);
            ensure!(c.code == 1 && h.code == 1, "{args:?}: {c:?} {h:?}");
        }
        Ok(())
    })
    .await;
}

/// The candidates of `capstan __complete ARGS` and its directive.
fn complete(
    both: &Both,
    args: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<(Vec<String>, String)> {
    let run = both.capstan(&[&["__complete"][..], args].concat(), env);
    ensure!(run.code == 0, "{run:?}");
    let mut lines: Vec<String> = run.stdout.lines().map(str::to_owned).collect();
    let directive = lines.pop().context("a directive line")?;
    Ok((lines, directive))
}

#[tokio::test]
async fn completion_is_dynamic() {
    with_namespace("cli-complete", |ns| async move {
        let both = Both::new();
        let n = ns.name();
        let config = write(both.home.path(), "config", &two_contexts(n, "default")?)?;
        let kube = [("KUBECONFIG", config.as_str())];
        let chart = capstan_testkit::helm::chart();
        let chart = chart.to_str().context("a UTF-8 path")?;
        for name in ["web", "worker"] {
            let c = both.capstan(&["install", name, chart], &kube);
            ensure!(c.code == 0, "{}", c.stderr);
        }
        let c = both.capstan(&["upgrade", "web", chart, "--reuse-values"], &kube);
        ensure!(c.code == 0, "{}", c.stderr);

        // Release names (in the context's namespace, or -n's), revisions, namespaces, contexts.
        let (names, directive) = complete(&both, &["status", ""], &kube)?;
        ensure!(
            names == ["web", "worker"] && directive == ":4",
            "{names:?} {directive}"
        );
        let (names, _) = complete(&both, &["uninstall", "-n", n, "wo"], &kube)?;
        ensure!(names == ["worker"], "{names:?}");
        let (names, _) = complete(&both, &["status", "web", "-n", "default", ""], &kube)?;
        ensure!(names.is_empty(), "a release takes one name: {names:?}");
        let (revisions, _) = complete(&both, &["rollback", "web", ""], &kube)?;
        ensure!(revisions == ["2", "1"], "{revisions:?}");
        let (revisions, _) = complete(&both, &["get", "values", "web", "--revision", ""], &kube)?;
        ensure!(revisions == ["2", "1"], "{revisions:?}");
        let (namespaces, _) = complete(&both, &["list", "-n", "cli-compl"], &kube)?;
        ensure!(namespaces.contains(&n.to_owned()), "{namespaces:?}");
        let (contexts, _) = complete(&both, &["list", "--kube-context", ""], &kube)?;
        ensure!(contexts == ["devcluster", "other"], "{contexts:?}");
        // Charts on disk are files: the shell completes them.
        let (charts, directive) = complete(&both, &["install", "web", "./"], &kube)?;
        ensure!(
            charts.is_empty() && directive == ":0",
            "{charts:?} {directive}"
        );
        // Chart references: the added repositories, then the charts of the cached index.
        let repos = both.home.path().join("repositories.yaml");
        let cache = both.home.path().join("repository-cache");
        std::fs::create_dir_all(&cache)?;
        std::fs::write(
            &repos,
            "apiVersion: \"\"\ngenerated: \"0001-01-01T00:00:00Z\"\nrepositories:\n\
             - name: stable\n  url: http://127.0.0.1:9/stable\n\
             - name: staging\n  url: http://127.0.0.1:9/staging\n",
        )?;
        std::fs::write(
            cache.join("stable-index.yaml"),
            "apiVersion: v1\nentries:\n  nginx:\n  - name: nginx\n    version: 1.0.0\n\
             \x20   urls: [nginx-1.0.0.tgz]\n  redis:\n  - name: redis\n    version: 2.0.0\n\
             \x20   urls: [redis-2.0.0.tgz]\n",
        )?;
        let repo_env = [
            ("KUBECONFIG", config.as_str()),
            ("HELM_REPOSITORY_CONFIG", repos.to_str().context("UTF-8")?),
            ("HELM_REPOSITORY_CACHE", cache.to_str().context("UTF-8")?),
        ];
        let (names, directive) = complete(&both, &["install", "web", "st"], &repo_env)?;
        ensure!(
            names == ["stable/", "staging/"] && directive == ":2",
            "repositories, no space after: {names:?} {directive}"
        );
        let (names, directive) = complete(&both, &["install", "web", "stable/"], &repo_env)?;
        ensure!(
            names == ["stable/nginx", "stable/redis"] && directive == ":0",
            "the repository's charts: {names:?} {directive}"
        );
        let (names, _) = complete(&both, &["show", "values", "stable/r"], &repo_env)?;
        ensure!(names == ["stable/redis"], "{names:?}");
        let (commands, _) = complete(&both, &["un"], &kube)?;
        ensure!(commands == ["uninstall"], "{commands:?}");
        let (flags, _) = complete(&both, &["list", "--sel"], &kube)?;
        ensure!(flags == ["--selector"], "{flags:?}");

        // The bash script asks __complete.
        let capstan = binary("capstan");
        let dir = capstan
            .parent()
            .context("a directory")?
            .display()
            .to_string();
        let script = "source <(capstan completion bash); COMP_WORDS=(capstan rollback web ''); \
                      COMP_CWORD=3; _capstan_complete; echo \"${COMPREPLY[*]}\"";
        let path = format!("{dir}:{}", std::env::var("PATH").unwrap_or_default());
        let bash = run(
            Path::new("/bin/bash"),
            &["-c", script],
            &[("KUBECONFIG", config.as_str()), ("PATH", path.as_str())],
            both.home.path(),
        );
        ensure!(bash.stdout.trim() == "2 1", "{bash:?}");
        let shell = |program: &str, script: &str| {
            run(
                Path::new(program),
                &["-c", script],
                &[("KUBECONFIG", config.as_str()), ("PATH", path.as_str())],
                both.home.path(),
            )
        };
        // zsh, without an interactive line editor: `compadd` and `_files` print what the
        // completion system would be handed, and `_capstan` runs as it would on TAB.
        let zsh = |words: &str| {
            let script = format!(
                "compdef() {{ :; }}; compadd() {{ [[ $1 == -- ]] && shift; print -l -- \"$@\"; }}; \
                 _files() {{ print FILES; }}; source <(capstan completion zsh); \
                 words=({words}); CURRENT=${{#words}}; _capstan"
            );
            shell("/usr/bin/zsh", &script)
        };
        let revisions = zsh("capstan rollback web ''");
        ensure!(revisions.stdout == "2\n1\n", "zsh: {revisions:?}");
        let charts = zsh("capstan install web ./");
        ensure!(
            charts.stdout == "FILES\n",
            "zsh completes charts as files: {charts:?}"
        );
        // fish completes a command line on its own (`complete -C`).
        let fish = |line: &str| {
            let script = format!("capstan completion fish | source; complete -C'{line}'");
            shell("/usr/bin/fish", &script)
        };
        let revisions = fish("capstan rollback web ");
        ensure!(revisions.stdout == "2\n1\n", "fish: {revisions:?}");
        let names = fish("capstan status w");
        ensure!(names.stdout == "web\nworker\n", "fish: {names:?}");

        // Help: the command's own flags first, the global ones apart, then examples.
        let help = both.capstan(&["list", "--help"], &[]).stdout;
        let own = help.find("--selector").context("list's own flag")?;
        let global = help
            .find("Global Flags:")
            .context("the global flags heading")?;
        let namespace = help.find("--namespace").context("a global flag")?;
        let examples = help.find("Examples:").context("examples")?;
        ensure!(
            own < global && global < namespace && namespace < examples,
            "{help}"
        );
        Ok(())
    })
    .await;
}

/// A private tmux server (its own socket), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new(name: &str) -> Tmux {
        Tmux {
            socket: format!("capstan-{name}-{}", std::process::id()),
        }
    }

    fn tmux(&self, args: &[&str]) -> Run {
        let output = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs (Debian package tmux)");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs a shell command in a new 160x50 window; the pane prints `DONE <code>` at the end.
    fn start(&self, command: &str) -> anyhow::Result<()> {
        let line = format!("{command}; echo DONE $?; sleep 600");
        let run = self.tmux(&[
            "new-session",
            "-d",
            "-x",
            "160",
            "-y",
            "50",
            "sh",
            "-c",
            &line,
        ]);
        ensure!(run.code == 0, "{run:?}");
        Ok(())
    }

    /// The pane's text, with escape sequences (`-e`) when asked.
    fn capture(&self, escapes: bool) -> String {
        let mut args = vec!["capture-pane", "-p", "-J"];
        if escapes {
            args.push("-e");
        }
        self.tmux(&args).stdout
    }

    /// Captures until `DONE` shows (or a minute passes); every capture taken, the last last.
    fn until_done(&self, escapes: bool) -> Vec<String> {
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        while std::time::Instant::now() < deadline {
            let text = self.capture(escapes);
            let done = text.contains("DONE ");
            seen.push(text);
            if done {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        seen
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// A shell word, single-quoted.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[tokio::test]
async fn the_progress_display_on_a_terminal() {
    with_namespace("cli-tty", |ns| async move {
        let n = ns.name();
        let capstan = binary("capstan").display().to_string();
        let chart = capstan_testkit::helm::chart().display().to_string();
        let env = format!(
            "env -u NO_COLOR TERM=xterm-256color KUBECONFIG={} {}",
            quote(&kubeconfig_path().display().to_string()),
            quote(&capstan)
        );

        // Colour, the clock before --timeout, object rows and the hook's row.
        let tmux = Tmux::new("tty");
        tmux.start(&format!(
            "{env} install web {} -n {n} --wait --timeout 2m",
            quote(&chart)
        ))?;
        let seen = tmux.until_done(true);
        let last = seen.last().cloned().unwrap_or_default();
        ensure!(last.contains("DONE 0"), "{last}");
        ensure!(last.contains("\u{1b}["), "coloured: {last:?}");
        let plain = tmux.capture(false);
        ensure!(plain.contains("==> "), "{plain}");
        ensure!(
            plain.contains("elapsed,") && plain.contains("left"),
            "the clock: {plain}"
        );
        for row in [
            "configmap/web-web",
            "deployment/web-web",
            "hook/web-web-migrate",
        ] {
            ensure!(plain.contains(row), "{row} in {plain}");
        }
        ensure!(plain.contains("Succeeded"), "the hook ran: {plain}");
        ensure!(plain.contains("STATUS: deployed"), "{plain}");
        drop(tmux);

        // NO_COLOR: the same display without colour; an atomic failure's rollback has its own
        // rows after a line saying so.
        let tmux = Tmux::new("nocolor");
        tmux.start(&format!(
            "NO_COLOR=1 {} upgrade web {} -n {n} --atomic --timeout 6s --set image.tag=never-ready",
            env.replace("env -u NO_COLOR ", "env "),
            quote(&chart)
        ))?;
        let seen = tmux.until_done(true);
        let last = seen.last().cloned().unwrap_or_default();
        ensure!(last.contains("DONE 4"), "an atomic timeout exits 4: {last}");
        ensure!(
            !last.contains("\u{1b}["),
            "no colour with NO_COLOR: {last:?}"
        );
        ensure!(
            last.contains("rolling back after the failure"),
            "the rollback is announced: {last}"
        );
        ensure!(
            seen.iter().any(|s| s.contains("waiting: ")),
            "objects waited for: {seen:?}"
        );
        let after = last
            .split("rolling back after the failure")
            .nth(1)
            .unwrap_or_default();
        ensure!(
            after.contains("==> rolling-back") || after.contains("==> "),
            "{after}"
        );
        drop(tmux);

        // Not a terminal: timestamped lines; --quiet: none.
        let both = Both::new();
        let kube = kubeconfig_path().display().to_string();
        let c = both.capstan(
            &["upgrade", "web", &chart, "-n", n, "--reuse-values"],
            &[("KUBECONFIG", kube.as_str())],
        );
        ensure!(c.code == 0, "{}", c.stderr);
        let first = c.stderr.lines().next().unwrap_or_default();
        ensure!(
            first.starts_with("20") && first.contains("Z locking"),
            "timestamped: {}",
            c.stderr
        );
        let c = both.capstan(
            &[
                "upgrade",
                "web",
                &chart,
                "-n",
                n,
                "--reuse-values",
                "--quiet",
            ],
            &[("KUBECONFIG", kube.as_str())],
        );
        ensure!(c.code == 0 && c.stderr.is_empty(), "quiet: {:?}", c.stderr);
        Ok(())
    })
    .await;
}

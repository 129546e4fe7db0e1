//! capstan's own deployment (`deploy/`): the Dockerfiles build workspace binaries and start them
//! with flags the daemons really have; the chart `deploy/chart/capstan` lints, renders what its
//! values ask for (probes, security context, TLS, tokens, metrics, autoscaling), and, installed
//! with the real `capstan` binary on the local control plane, creates every object with the
//! expected fields, gets its pods ready under the pod simulator, grants the applier's
//! ServiceAccount enough to run releases (a `capstan` impersonating it installs a chart), upgrades
//! and uninstalls, leaving no cluster-scoped object behind.
//!
//! Docker is not needed (nor used): the images are not built here.

use std::collections::BTreeSet;
use std::process::Command;

use anyhow::{Context as _, bail, ensure};
use capstan_e2e::process::{binary, capstan, capstan_ok, repository};
use capstan_testkit::{TestNamespace, with_namespace};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Api;
use kube::api::DeleteParams;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Dockerfiles

/// One Dockerfile instruction: `FROM`, `RUN`, ... and its arguments (continuations joined).
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

fn instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (keyword, args) = current.split_once(' ').unwrap_or((&current, ""));
                out.push(Instruction {
                    keyword: keyword.to_uppercase(),
                    args: args.trim().to_owned(),
                });
                current.clear();
            }
        }
    }
    out
}

/// The `--flag` names among `args` (`--flag=value` or `--flag value`).
fn flags<'a>(args: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    args.into_iter()
        .filter(|a| a.starts_with("--"))
        .map(|a| a.split('=').next().unwrap_or(a).to_owned())
        .collect()
}

/// The long flags a binary's `--help` lists.
fn help_flags(program: &str) -> anyhow::Result<BTreeSet<String>> {
    let output = Command::new(binary(program)).arg("--help").output()?;
    ensure!(output.status.success(), "{program} --help failed");
    let help = String::from_utf8(output.stdout)?;
    Ok(help
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.split(['=', '[', '<']).next().unwrap_or(w).to_owned())
        .collect())
}

/// `(package, binary targets)` of every workspace member.
fn workspace_binaries() -> anyhow::Result<Vec<(String, Vec<String>)>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(repository().join("Cargo.toml"))
        .output()?;
    ensure!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let meta: Value = serde_json::from_slice(&output.stdout)?;
    Ok(meta["packages"]
        .as_array()
        .context("packages")?
        .iter()
        .map(|p| {
            let bins = p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| {
                    t["kind"]
                        .as_array()
                        .is_some_and(|k| k.contains(&"bin".into()))
                })
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect();
            (p["name"].as_str().unwrap_or_default().to_owned(), bins)
        })
        .collect())
}

/// The workspace's `rust-version`, as `(major, minor)`.
fn workspace_rust_version() -> anyhow::Result<(u32, u32)> {
    let manifest = std::fs::read_to_string(repository().join("Cargo.toml"))?;
    let line = manifest
        .lines()
        .find(|l| l.starts_with("rust-version"))
        .context("the workspace declares a rust-version")?;
    version_of(line.split('"').nth(1).unwrap_or_default())
}

fn version_of(text: &str) -> anyhow::Result<(u32, u32)> {
    let mut parts = text.split('.');
    let major = parts.next().unwrap_or_default().parse()?;
    let minor = parts
        .next()
        .unwrap_or_default()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap_or_default()
        .parse()?;
    Ok((major, minor))
}

/// Checks one daemon's Dockerfile; returns the port it exposes.
fn check_dockerfile(daemon: &str, text: &str) -> anyhow::Result<u16> {
    let all = instructions(text);
    let froms: Vec<&Instruction> = all.iter().filter(|i| i.keyword == "FROM").collect();
    ensure!(froms.len() >= 2, "a multi-stage build: {froms:?}");

    // The builder: a Rust image at least as new as the workspace's rust-version.
    let builder = froms[0].args.split_whitespace().collect::<Vec<_>>();
    ensure!(
        builder.len() == 3 && builder[1].eq_ignore_ascii_case("AS"),
        "the first stage is named: {builder:?}"
    );
    let stage = builder[2];
    let (image, tag) = builder[0]
        .rsplit_once(':')
        .context("a tagged builder image")?;
    ensure!(
        image.ends_with("library/rust") || image == "rust",
        "a Rust builder image: {image}"
    );
    ensure!(
        version_of(tag)? >= workspace_rust_version()?,
        "the builder's Rust {tag} is older than the workspace's rust-version"
    );
    let build = all
        .iter()
        .find(|i| i.keyword == "RUN" && i.args.contains("cargo build"))
        .context("a RUN cargo build")?;
    let words: Vec<&str> = build.args.split_whitespace().collect();
    for flag in ["--release", "--locked"] {
        ensure!(words.contains(&flag), "cargo build {flag}: {}", build.args);
    }
    let after = |flag: &str| {
        words
            .iter()
            .position(|w| *w == flag)
            .and_then(|i| words.get(i + 1))
            .copied()
            .with_context(|| format!("cargo build {flag} NAME: {}", build.args))
    };
    let (package, bin) = (after("-p")?, after("--bin")?);
    ensure!(bin == daemon, "the Dockerfile of {daemon} builds {bin}");
    let binaries = workspace_binaries()?;
    ensure!(
        binaries
            .iter()
            .any(|(p, bins)| p == package && bins.iter().any(|b| b == bin)),
        "{bin} is not a binary target of workspace package {package}: {binaries:?}"
    );

    // The runtime: no Rust toolchain, the binary from the builder, a non-root user.
    let runtime = froms.last().map(|f| f.args.as_str()).unwrap_or_default();
    ensure!(
        runtime.contains("distroless") || runtime.contains("-slim"),
        "a distroless or slim runtime: {runtime}"
    );
    let last_from = all
        .iter()
        .rposition(|i| i.keyword == "FROM")
        .unwrap_or_default();
    let runtime_stage = &all[last_from..];
    let copy = runtime_stage
        .iter()
        .find(|i| i.keyword == "COPY" && i.args.starts_with(&format!("--from={stage} ")))
        .context("COPY --from the builder")?;
    let installed = copy
        .args
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .to_owned();
    ensure!(
        installed.ends_with(&format!("/{bin}")),
        "the runtime holds {bin}: {}",
        copy.args
    );
    let user = runtime_stage
        .iter()
        .rfind(|i| i.keyword == "USER")
        .map(|i| i.args.split(':').next().unwrap_or_default().to_owned())
        .context("a USER")?;
    ensure!(
        user != "root" && user != "0" && !user.is_empty(),
        "a non-root user: {user}"
    );

    // ENTRYPOINT runs that binary; its flags and CMD's are the daemon's real flags.
    let json = |keyword: &str| -> anyhow::Result<Vec<String>> {
        let instruction = runtime_stage
            .iter()
            .find(|i| i.keyword == keyword)
            .with_context(|| format!("a {keyword}"))?;
        serde_json::from_str(&instruction.args)
            .with_context(|| format!("{keyword} in exec (JSON) form: {}", instruction.args))
    };
    let entrypoint = json("ENTRYPOINT")?;
    ensure!(
        entrypoint.first() == Some(&installed),
        "ENTRYPOINT runs {installed}: {entrypoint:?}"
    );
    let cmd = json("CMD")?;
    let known = help_flags(bin)?;
    let used = flags(entrypoint.iter().chain(&cmd).map(String::as_str));
    ensure!(!used.is_empty(), "the image says where to listen");
    for flag in &used {
        ensure!(
            known.contains(flag),
            "{bin} has no flag {flag} (it has {known:?})"
        );
    }
    let listen = cmd
        .iter()
        .chain(&entrypoint)
        .find_map(|a| a.strip_prefix("--listen="))
        .context("--listen=ADDR")?;
    ensure!(
        listen.starts_with("0.0.0.0:"),
        "a container listens on every interface: {listen}"
    );
    let port: u16 = listen.rsplit(':').next().unwrap_or_default().parse()?;
    let exposed = runtime_stage
        .iter()
        .find(|i| i.keyword == "EXPOSE")
        .map(|i| i.args.clone())
        .unwrap_or_default();
    ensure!(
        exposed == port.to_string(),
        "EXPOSE {exposed}, listening on {port}"
    );
    Ok(port)
}

#[test]
fn dockerfiles_build_workspace_daemons_and_start_them_with_real_flags() {
    let dir = repository().join("deploy/docker");
    let mut seen = Vec::new();
    for (daemon, port) in [("capstan-renderer", 50051), ("capstan-applier", 50052)] {
        let path = dir.join(format!("{daemon}.Dockerfile"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let exposed =
            check_dockerfile(daemon, &text).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
        assert_eq!(
            exposed, port,
            "{daemon}'s image listens on the chart's port"
        );
        seen.push(daemon);
    }
    // The checks themselves catch a Dockerfile that drifts from the workspace.
    let broken = std::fs::read_to_string(dir.join("capstan-applier.Dockerfile"))
        .unwrap()
        .replace("--listen=", "--listen-on=");
    assert!(check_dockerfile("capstan-applier", &broken).is_err());
    let renamed = std::fs::read_to_string(dir.join("capstan-applier.Dockerfile"))
        .unwrap()
        .replace("-p capstan-applier", "-p capstan-appliers");
    assert!(check_dockerfile("capstan-applier", &renamed).is_err());
    assert_eq!(seen.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// The chart, rendered

fn chart() -> String {
    repository()
        .join("deploy/chart/capstan")
        .display()
        .to_string()
}

/// `capstan template` of the chart with extra arguments, as parsed documents.
fn render(extra: &[&str]) -> anyhow::Result<Vec<Value>> {
    let chart = chart();
    let mut args = vec![
        "template",
        "capstan",
        chart.as_str(),
        "-n",
        "capstan-system",
    ];
    args.extend_from_slice(extra);
    let text = capstan_ok(&args)?;
    let mut documents = Vec::new();
    for document in text.split("\n---\n") {
        let value: Value = serde_yaml_ng::from_str(document.trim_start_matches("---\n"))?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    Ok(documents)
}

fn find<'a>(documents: &'a [Value], kind: &str, name: &str) -> anyhow::Result<&'a Value> {
    documents
        .iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .with_context(|| format!("no {kind} {name}"))
}

fn kinds(documents: &[Value]) -> BTreeSet<(String, String)> {
    documents
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap_or_default().to_owned(),
                d["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

/// The one container of a rendered Deployment.
fn container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

fn container_args(deployment: &Value) -> Vec<String> {
    container(deployment)["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_chart_lints_and_renders_what_its_values_ask_for() -> anyhow::Result<()> {
    let chart = chart();
    let lint = capstan(&["lint", &chart, "--strict"]);
    ensure!(lint.code == 0, "{}\n{}", lint.stdout, lint.stderr);
    ensure!(lint.stdout.contains("1 chart(s) linted, 0 chart(s) failed"));

    // Defaults: both daemons, autoscaled renderer, two appliers with RBAC and a PDB.
    let documents = render(&[])?;
    let expected: BTreeSet<(String, String)> = [
        ("Deployment", "capstan-renderer"),
        ("Service", "capstan-renderer"),
        ("HorizontalPodAutoscaler", "capstan-renderer"),
        ("Deployment", "capstan-applier"),
        ("Service", "capstan-applier"),
        ("ServiceAccount", "capstan-applier"),
        ("ClusterRole", "capstan-system-capstan-applier"),
        ("ClusterRole", "capstan-system-capstan-applier-objects"),
        ("ClusterRoleBinding", "capstan-system-capstan-applier"),
        (
            "ClusterRoleBinding",
            "capstan-system-capstan-applier-objects",
        ),
        ("PodDisruptionBudget", "capstan-applier"),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_owned(), n.to_owned()))
    .collect();
    ensure!(kinds(&documents) == expected, "{:?}", kinds(&documents));

    for (daemon, service, port) in [
        ("renderer", "capstan.renderer.v1.Renderer", 50051),
        ("applier", "capstan.applier.v1.Applier", 50052),
    ] {
        let deployment = find(&documents, "Deployment", &format!("capstan-{daemon}"))?;
        let c = container(deployment);
        ensure!(c["ports"][0]["containerPort"] == port, "{c}");
        for probe in ["readinessProbe", "livenessProbe"] {
            ensure!(c[probe]["grpc"]["port"] == port, "{daemon} {probe}: {c}");
            ensure!(c[probe]["grpc"]["service"] == service, "{daemon} {probe}");
        }
        let security = &c["securityContext"];
        ensure!(security["readOnlyRootFilesystem"] == true, "{security}");
        ensure!(security["allowPrivilegeEscalation"] == false, "{security}");
        ensure!(
            security["capabilities"]["drop"] == serde_json::json!(["ALL"]),
            "{security}"
        );
        let pod_security = &deployment["spec"]["template"]["spec"]["securityContext"];
        ensure!(pod_security["runAsNonRoot"] == true, "{pod_security}");
        ensure!(pod_security["runAsUser"] != 0, "{pod_security}");
        for bound in ["requests", "limits"] {
            ensure!(c["resources"][bound]["cpu"].is_string(), "{daemon} {bound}");
            ensure!(
                c["resources"][bound]["memory"].is_string(),
                "{daemon} {bound}"
            );
        }
        ensure!(
            c["image"] == format!("ghcr.io/capstan-dev/capstan-{daemon}:0.1.0"),
            "{}",
            c["image"]
        );
        // Every flag the chart passes is one the daemon has.
        let known = help_flags(&format!("capstan-{daemon}"))?;
        for flag in flags(container_args(deployment).iter().map(String::as_str)) {
            ensure!(known.contains(&flag), "capstan-{daemon} has no flag {flag}");
        }
        ensure!(
            container_args(deployment).contains(&format!("--listen=0.0.0.0:{port}")),
            "{:?}",
            container_args(deployment)
        );
    }
    let applier = find(&documents, "Deployment", "capstan-applier")?;
    ensure!(applier["spec"]["replicas"] == 2);
    ensure!(applier["spec"]["template"]["spec"]["serviceAccountName"] == "capstan-applier");
    let renderer = find(&documents, "Deployment", "capstan-renderer")?;
    ensure!(
        renderer["spec"].get("replicas").is_none(),
        "the autoscaler owns the renderer's replicas"
    );
    ensure!(
        renderer["spec"]["template"]["metadata"]
            .get("annotations")
            .is_none(),
        "no metrics by default"
    );
    let hpa = find(&documents, "HorizontalPodAutoscaler", "capstan-renderer")?;
    ensure!(hpa["apiVersion"] == "autoscaling/v2", "{hpa}");
    ensure!(
        hpa["spec"]["scaleTargetRef"]["name"] == "capstan-renderer",
        "{hpa}"
    );
    let objects = find(&documents, "ClusterRole", "capstan-system-capstan-applier")?;
    ensure!(
        objects["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["resources"] == serde_json::json!(["leases"])),
        "{objects}"
    );
    ensure!(
        find(
            &documents,
            "ClusterRoleBinding",
            "capstan-system-capstan-applier"
        )?["subjects"][0]
            == serde_json::json!({"kind": "ServiceAccount", "name": "capstan-applier", "namespace": "capstan-system"})
    );

    // TLS, tokens, metrics, fixed renderer replicas, narrower applier rules.
    let documents = render(&[
        "--set",
        "tls.secretName=capstan-tls,tls.clientAuth=true,auth.tokenSecretName=capstan-tokens",
        "--set",
        "metrics.enabled=true,metrics.port=9464,renderer.autoscaling.enabled=false,renderer.replicas=3",
        "--set-json",
        r#"applier.rbac.rules=[{"apiGroups":[""],"resources":["configmaps"],"verbs":["*"]}]"#,
    ])?;
    ensure!(
        !kinds(&documents)
            .iter()
            .any(|(k, _)| k == "HorizontalPodAutoscaler")
    );
    let renderer = find(&documents, "Deployment", "capstan-renderer")?;
    ensure!(renderer["spec"]["replicas"] == 3);
    for daemon in ["renderer", "applier"] {
        let deployment = find(&documents, "Deployment", &format!("capstan-{daemon}"))?;
        let c = container(deployment);
        let args = container_args(deployment);
        for arg in [
            "--tls-cert=/etc/capstan/tls/tls.crt",
            "--tls-key=/etc/capstan/tls/tls.key",
            "--tls-client-ca=/etc/capstan/tls/ca.crt",
            "--token-file=/etc/capstan/tokens/tokens",
            "--metrics-listen=0.0.0.0:9464",
        ] {
            ensure!(args.iter().any(|a| a == arg), "{daemon}: {arg} in {args:?}");
        }
        // The kubelet's gRPC probe speaks no TLS: TCP probes then.
        ensure!(c["readinessProbe"]["tcpSocket"]["port"].is_number(), "{c}");
        ensure!(c["readinessProbe"].get("grpc").is_none(), "{c}");
        ensure!(
            c["ports"][1]
                == serde_json::json!({"name": "metrics", "containerPort": 9464, "protocol": "TCP"})
        );
        let volumes = &deployment["spec"]["template"]["spec"]["volumes"];
        ensure!(
            volumes[0]["secret"]["secretName"] == "capstan-tls",
            "{volumes}"
        );
        ensure!(
            volumes[1]["secret"]["secretName"] == "capstan-tokens",
            "{volumes}"
        );
        let service = find(&documents, "Service", &format!("capstan-{daemon}"))?;
        ensure!(service["spec"]["ports"][1]["port"] == 9464, "{service}");
        let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
        ensure!(
            annotations["prometheus.io/scrape"] == "true"
                && annotations["prometheus.io/port"] == "9464"
                && annotations["prometheus.io/path"] == "/metrics",
            "{annotations}"
        );
        // The rest are real flags of the daemon.
        let known = help_flags(&format!("capstan-{daemon}"))?;
        for flag in flags(args.iter().map(String::as_str)) {
            ensure!(known.contains(&flag), "capstan-{daemon} has no flag {flag}");
        }
    }
    let objects = find(
        &documents,
        "ClusterRole",
        "capstan-system-capstan-applier-objects",
    )?;
    ensure!(
        objects["rules"]
            == serde_json::json!([{"apiGroups":[""],"resources":["configmaps"],"verbs":["*"]}])
    );

    // Tenancy: the policy ConfigMap, the applier's flags for it (real flags of the binary) and
    // the rights to impersonate tenants and review their tokens.
    let documents = render(&[
        "--set",
        "tenancy.enabled=true",
        "--set",
        "tenancy.impersonate.users={capstan:tenant:a}",
        "--set",
        "tenancy.policy.tenants.a.namespaces={team-a}",
    ])?;
    let policy = find(&documents, "ConfigMap", "capstan-policy")?;
    let text = policy["data"]["policy.yaml"].as_str().unwrap_or_default();
    ensure!(
        text.contains("tenants:") && text.contains("team-a"),
        "{policy}"
    );
    let applier = find(&documents, "Deployment", "capstan-applier")?;
    let args = container_args(applier);
    for arg in [
        "--token-review",
        "--policy-configmap=capstan-system/capstan-policy",
    ] {
        ensure!(args.iter().any(|a| a == arg), "{arg} in {args:?}");
    }
    let known = help_flags("capstan-applier")?;
    for flag in flags(args.iter().map(String::as_str)) {
        ensure!(known.contains(&flag), "capstan-applier has no flag {flag}");
    }
    let role = find(&documents, "ClusterRole", "capstan-system-capstan-applier")?;
    let rules = role["rules"].as_array().context("rules")?;
    let has = |resource: &str, verb: &str| {
        rules.iter().any(|r| {
            r["resources"]
                .as_array()
                .is_some_and(|v| v.iter().any(|x| x == resource))
                && r["verbs"]
                    .as_array()
                    .is_some_and(|v| v.iter().any(|x| x == verb))
        })
    };
    ensure!(
        has("users", "impersonate")
            && has("groups", "impersonate")
            && has("tokenreviews", "create"),
        "{role}"
    );
    ensure!(
        rules
            .iter()
            .any(|r| r["resourceNames"] == serde_json::json!(["capstan:tenant:a"])),
        "{role}"
    );

    // Bad values fail with the schema's or the chart's own message.
    let run = capstan(&["template", "capstan", &chart, "--set", "applier.replicas=0"]);
    ensure!(
        run.code == 1 && run.stderr.contains("applier.replicas"),
        "{}",
        run.stderr
    );
    let run = capstan(&[
        "template",
        "capstan",
        &chart,
        "--set",
        "applier.storageDriver=sql",
    ]);
    ensure!(
        run.code == 1 && run.stderr.contains("sqlConnectionSecret is required"),
        "{}",
        run.stderr
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The chart, installed

/// Deletes the chart's cluster-scoped objects left by a failed run (the namespace takes the rest).
async fn delete_cluster_objects(ns: &TestNamespace) {
    let prefix = format!("{}-capstan-applier", ns.name());
    for suffix in ["", "-objects"] {
        let name = format!("{prefix}{suffix}");
        let _ = Api::<ClusterRoleBinding>::all(ns.client())
            .delete(&name, &DeleteParams::default())
            .await;
        let _ = Api::<ClusterRole>::all(ns.client())
            .delete(&name, &DeleteParams::default())
            .await;
    }
}

fn only_container(deployment: &Deployment) -> anyhow::Result<&Container> {
    deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.containers.first())
        .context("a container")
}

fn ready_replicas(deployment: &Deployment) -> i32 {
    deployment
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

async fn installed(ns: &TestNamespace) -> anyhow::Result<()> {
    let namespace = ns.name();
    let chart = chart();
    let out = capstan_ok(&[
        "install",
        "capstan",
        &chart,
        "-n",
        namespace,
        "--wait",
        "--timeout",
        "2m",
    ])?;
    ensure!(out.contains("STATUS: deployed"), "{out}");
    ensure!(
        out.contains(&format!("capstan-applier.{namespace}.svc:50052")),
        "the notes say where the applier is: {out}"
    );

    // Every object is there, as the chart wrote it.
    let deployments = ns.api::<Deployment>();
    let applier = deployments.get("capstan-applier").await?;
    let spec = applier.spec.as_ref().context("spec")?;
    ensure!(spec.replicas == Some(2));
    ensure!(
        ready_replicas(&applier) == 2,
        "--wait waited for both appliers"
    );
    let pod = spec.template.spec.as_ref().context("pod spec")?;
    ensure!(pod.service_account_name.as_deref() == Some("capstan-applier"));
    ensure!(pod.termination_grace_period_seconds == Some(330));
    let c = only_container(&applier)?;
    let probe = c.readiness_probe.as_ref().and_then(|p| p.grpc.as_ref());
    ensure!(
        probe.map(|g| (g.port, g.service.as_deref()))
            == Some((50052, Some("capstan.applier.v1.Applier"))),
        "{probe:?}"
    );
    ensure!(
        c.liveness_probe
            .as_ref()
            .and_then(|p| p.grpc.as_ref())
            .is_some()
    );
    let security = c.security_context.as_ref().context("securityContext")?;
    ensure!(security.read_only_root_filesystem == Some(true));
    ensure!(
        security.capabilities.as_ref().and_then(|c| c.drop.clone()) == Some(vec!["ALL".to_owned()])
    );
    ensure!(
        pod.security_context
            .as_ref()
            .and_then(|s| s.run_as_non_root)
            == Some(true)
    );
    let limits = c.resources.as_ref().and_then(|r| r.limits.as_ref());
    ensure!(limits.is_some_and(|l| l.contains_key("cpu") && l.contains_key("memory")));
    ensure!(
        c.env
            .iter()
            .flatten()
            .any(|e| e.name == "HELM_DRIVER" && e.value.as_deref() == Some("secret"))
    );

    let renderer = deployments.get("capstan-renderer").await?;
    ensure!(ready_replicas(&renderer) >= 1, "the renderer is ready");
    ensure!(
        renderer
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|s| s.automount_service_account_token)
            == Some(false)
    );
    let hpa = ns
        .api::<HorizontalPodAutoscaler>()
        .get("capstan-renderer")
        .await?;
    let hpa = hpa.spec;
    ensure!(hpa.min_replicas == Some(2) && hpa.max_replicas == 6);
    ensure!(
        hpa.scale_target_ref.name == "capstan-renderer"
            && hpa.scale_target_ref.kind == "Deployment"
    );
    for (name, port) in [("capstan-renderer", 50051), ("capstan-applier", 50052)] {
        let service = ns.api::<Service>().get(name).await?;
        let ports = service.spec.and_then(|s| s.ports).unwrap_or_default();
        ensure!(
            ports.len() == 1
                && ports[0].port == port
                && ports[0].target_port == Some(IntOrString::String("grpc".into()))
                && ports[0].app_protocol.as_deref() == Some("grpc"),
            "{name}: {ports:?}"
        );
    }
    ns.api::<ServiceAccount>().get("capstan-applier").await?;
    let pdb = ns
        .api::<PodDisruptionBudget>()
        .get("capstan-applier")
        .await?;
    ensure!(pdb.spec.and_then(|s| s.min_available) == Some(IntOrString::Int(1)));
    let cluster = format!("{namespace}-capstan-applier");
    let role = Api::<ClusterRole>::all(ns.client()).get(&cluster).await?;
    ensure!(
        role.rules
            .iter()
            .flatten()
            .any(|r| r.resources.as_deref() == Some(&["leases".to_owned()][..])),
        "{role:?}"
    );
    for name in [cluster.clone(), format!("{cluster}-objects")] {
        let binding = Api::<ClusterRoleBinding>::all(ns.client())
            .get(&name)
            .await?;
        let subject = binding.subjects.unwrap_or_default();
        ensure!(
            subject.len() == 1
                && subject[0].name == "capstan-applier"
                && subject[0].namespace.as_deref() == Some(namespace)
                && binding.role_ref.name == name,
            "{name}: {subject:?}"
        );
    }

    // The ServiceAccount may run releases: capstan, impersonating it, installs and uninstalls a
    // chart (locks, records, objects), and is refused what its rules leave out.
    let kubeconfig = impersonating_kubeconfig(ns, "capstan-applier")?;
    let tiny = repository().join("tests/fixtures/charts/tiny");
    let as_applier = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend([
            "-n",
            namespace,
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ]);
        capstan(&all)
    };
    let run = as_applier(&[
        "install",
        "probe",
        tiny.to_str().unwrap(),
        "--set",
        "value=rbac",
    ]);
    ensure!(
        run.code == 0,
        "the applier's ServiceAccount installs: {}",
        run.stderr
    );
    let config = ns.api::<ConfigMap>().get("probe-tiny").await?;
    ensure!(config.data.and_then(|d| d.get("value").cloned()).as_deref() == Some("rbac"));
    let run = as_applier(&["uninstall", "probe"]);
    ensure!(run.code == 0, "{}", run.stderr);
    let run = as_applier(&["list", "-A"]);
    ensure!(
        run.code == 0,
        "list -A reads every namespace: {}",
        run.stderr
    );
    let narrow = [
        "--set-json",
        r#"applier.rbac.rules=[{"apiGroups":["apps"],"resources":["deployments"],"verbs":["get"]}]"#,
    ];
    // Upgrade: three appliers, narrower rules.
    let out = capstan_ok(
        &[
            &[
                "upgrade",
                "capstan",
                &chart,
                "-n",
                namespace,
                "--wait",
                "--timeout",
                "2m",
                "--set",
                "applier.replicas=3",
            ][..],
            &narrow[..],
        ]
        .concat(),
    )?;
    ensure!(out.contains("REVISION: 2"), "{out}");
    let applier = deployments.get("capstan-applier").await?;
    ensure!(applier.spec.as_ref().and_then(|s| s.replicas) == Some(3));
    ensure!(ready_replicas(&applier) == 3, "{:?}", applier.status);
    let run = as_applier(&["install", "denied", tiny.to_str().unwrap()]);
    ensure!(
        run.code != 0 && run.stderr.contains("forbidden"),
        "the narrowed rules refuse ConfigMaps: {} {}",
        run.code,
        run.stderr
    );
    let history = capstan_ok(&["history", "capstan", "-n", namespace, "-o", "json"])?;
    let history: Value = serde_json::from_str(&history)?;
    ensure!(
        history[0]["status"] == "superseded" && history[1]["status"] == "deployed",
        "{history}"
    );

    // Uninstall removes everything, the cluster-scoped objects included.
    capstan_ok(&["uninstall", "capstan", "-n", namespace, "--wait"])?;
    ensure!(deployments.get_opt("capstan-applier").await?.is_none());
    ensure!(deployments.get_opt("capstan-renderer").await?.is_none());
    ensure!(
        ns.api::<HorizontalPodAutoscaler>()
            .get_opt("capstan-renderer")
            .await?
            .is_none()
    );
    ensure!(
        ns.api::<PodDisruptionBudget>()
            .get_opt("capstan-applier")
            .await?
            .is_none()
    );
    ensure!(
        Api::<ClusterRole>::all(ns.client())
            .get_opt(&cluster)
            .await?
            .is_none()
    );
    ensure!(
        Api::<ClusterRoleBinding>::all(ns.client())
            .get_opt(&format!("{cluster}-objects"))
            .await?
            .is_none()
    );
    Ok(())
}

/// A copy of the local control plane's kubeconfig that impersonates a ServiceAccount of `ns`.
fn impersonating_kubeconfig(
    ns: &TestNamespace,
    service_account: &str,
) -> anyhow::Result<std::path::PathBuf> {
    let admin = std::fs::read_to_string(capstan_testkit::kubeconfig_path())?;
    let mut config: Value = serde_yaml_ng::from_str(&admin)?;
    let users = config["users"].as_array_mut().context("users")?;
    if users.len() != 1 {
        bail!("expected one user in the local kubeconfig");
    }
    let user = users[0]["user"].as_object_mut().context("a user")?;
    user.insert(
        "as".into(),
        format!("system:serviceaccount:{}:{service_account}", ns.name()).into(),
    );
    user.insert(
        "as-groups".into(),
        serde_json::json!([
            "system:serviceaccounts",
            format!("system:serviceaccounts:{}", ns.name()),
            "system:authenticated"
        ]),
    );
    let path = std::env::temp_dir().join(format!("capstan-{}-as-applier.yaml", ns.name()));
    std::fs::write(&path, serde_yaml_ng::to_string(&config)?)?;
    Ok(path)
}

#[tokio::test]
async fn the_chart_installs_upgrades_and_uninstalls() {
    with_namespace("deploy-chart", |ns| async move {
        let result = installed(&ns).await;
        delete_cluster_objects(&ns).await;
        std::fs::remove_file(
            std::env::temp_dir().join(format!("capstan-{}-as-applier.yaml", ns.name())),
        )
        .ok();
        result
    })
    .await;
}

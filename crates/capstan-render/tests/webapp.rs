//! Renders the example chart `examples/charts/webapp` end to end.

use std::path::PathBuf;

use capstan_chart::{Chart, Limits, ValueLayer, Values, user_values};
use capstan_render::{
    Capabilities, HookDeletePolicy, HookEvent, ReleaseInfo, RenderLimits, Rendered, render,
};

fn chart_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/charts/webapp")
}

fn webapp() -> Chart {
    Chart::load_dir(&chart_dir(), &Limits::default()).expect("example chart loads")
}

fn values(sets: &[&str]) -> Values {
    let layers: Vec<ValueLayer> = sets
        .iter()
        .map(|s| ValueLayer::Set(s.to_string()))
        .collect();
    user_values(&layers, &mut |p| Err(format!("no files here: {p}"))).unwrap()
}

fn render_with(sets: &[&str], release: &ReleaseInfo) -> Rendered {
    render(
        &webapp(),
        &values(sets),
        release,
        &Capabilities::default(),
        &RenderLimits::default(),
    )
    .unwrap_or_else(|e| panic!("render failed: {e}"))
}

#[test]
fn renders_every_resource_in_install_order() {
    let r = render_with(&[], &ReleaseInfo::install("web", "default"));
    let kinds: Vec<String> = r
        .manifests
        .iter()
        .map(|m| format!("{}/{} ({})", m.kind, m.name, m.source))
        .collect();
    assert_eq!(
        kinds,
        vec![
            "ServiceAccount/web-webapp (webapp/templates/serviceaccount.yaml)",
            "ConfigMap/web-webapp (webapp/templates/configmap.yaml)",
            "Service/web-cache (webapp/charts/cache/templates/service.yaml)",
            "Service/web-webapp (webapp/templates/service.yaml)",
            "Deployment/web-cache (webapp/charts/cache/templates/deployment.yaml)",
            "Deployment/web-webapp (webapp/templates/deployment.yaml)",
        ]
    );
    let manifest = r.manifest();
    assert!(manifest.starts_with("---\n# Source: webapp/templates/serviceaccount.yaml\n"));
    assert!(manifest.contains("image: \"nginx:1.27.0\""), "{manifest}");
    assert!(manifest.contains("replicas: 1\n"));
    assert!(manifest.contains("app.kubernetes.io/version: \"1.27.0\""));
    assert!(
        manifest.contains("environment: dev"),
        "global reaches the subchart"
    );
    assert!(
        manifest.contains("index.html: |"),
        "Files.Glob().AsConfig(): {manifest}"
    );
    assert!(
        r.notes
            .contains("release web (revision 1) in namespace default"),
        "{}",
        r.notes
    );
    assert!(
        r.notes.contains("port-forward service/web-webapp 8080:80"),
        "{}",
        r.notes
    );
    assert_eq!(r.chart.name, "webapp");
    assert_eq!(r.values["replicaCount"], 1);
    assert_eq!(r.values["cache"]["global"]["environment"], "dev");

    // Every manifest is valid YAML with the fields the applier needs.
    for m in &r.manifests {
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&m.content).unwrap();
        assert!(v.get("metadata").is_some());
    }

    assert_eq!(r.hooks.len(), 1);
    let hook = &r.hooks[0];
    assert_eq!(hook.kind, "Job");
    assert_eq!(hook.name, "web-webapp-migrate");
    assert_eq!(hook.events, vec![HookEvent::PreUpgrade]);
    assert_eq!(hook.weight, -5);
    assert_eq!(
        hook.delete_policies,
        vec![
            HookDeletePolicy::BeforeHookCreation,
            HookDeletePolicy::HookSucceeded
        ]
    );
    assert!(hook.manifest.contains("image: \"busybox:1.36\""));
}

#[test]
fn set_values_reach_the_templates() {
    let r = render_with(
        &[
            "replicaCount=5",
            "image.tag=never-ready",
            "ingress.enabled=true,ingress.tls=true",
            "cache.enabled=false",
            "podAnnotations.team=web",
        ],
        &ReleaseInfo::upgrade("web", "prod", 3),
    );
    let m = r.manifest();
    assert!(m.contains("replicas: 5\n"), "{m}");
    assert!(m.contains("image: \"nginx:never-ready\""), "{m}");
    assert!(m.contains("team: web"), "{m}");
    assert!(!m.contains("web-cache"), "cache disabled by its condition");
    let ingress = r
        .manifests
        .iter()
        .find(|m| m.kind == "Ingress")
        .expect("ingress");
    assert!(ingress.content.contains("secretName: web-webapp-tls"));
    assert_eq!(r.manifests.last().unwrap().kind, "Ingress");
    assert!(
        r.notes.contains("Open https://webapp.example.com/"),
        "{}",
        r.notes
    );
}

#[test]
fn output_is_deterministic() {
    let release = ReleaseInfo::install("web", "default");
    let a = render_with(&["replicaCount=2"], &release);
    let b = render_with(&["replicaCount=2"], &release);
    assert_eq!(a.manifest(), b.manifest());
    assert_eq!(a, b);
}

#[test]
fn archive_and_directory_render_the_same() {
    let bytes = capstan_chart::package_dir(&chart_dir(), &Limits::default()).unwrap();
    assert_eq!(
        capstan_chart::archive_digest(&bytes),
        capstan_chart::archive_digest(
            &capstan_chart::package_dir(&chart_dir(), &Limits::default()).unwrap()
        )
    );
    let from_archive = Chart::load_archive(&bytes, &Limits::default()).unwrap();
    let release = ReleaseInfo::install("web", "default");
    let caps = Capabilities::default();
    let a = render(
        &from_archive,
        &Values::new(),
        &release,
        &caps,
        &RenderLimits::default(),
    )
    .unwrap();
    let b = render(
        &webapp(),
        &Values::new(),
        &release,
        &caps,
        &RenderLimits::default(),
    )
    .unwrap();
    assert_eq!(a.manifest(), b.manifest());
}

#[test]
fn schema_violations_are_reported() {
    let e = render(
        &webapp(),
        &values(&["replicaCount=-1", "service.port=http"]),
        &ReleaseInfo::install("web", "default"),
        &Capabilities::default(),
        &RenderLimits::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("webapp: replicaCount:"), "{e}");
    assert!(e.contains("webapp: service.port:"), "{e}");
}

#[test]
fn kube_version_constraint_is_checked() {
    let caps = Capabilities {
        kube_version: "v1.20.3".into(),
        ..Capabilities::default()
    };
    let e = render(
        &webapp(),
        &Values::new(),
        &ReleaseInfo::install("web", "d"),
        &caps,
        &RenderLimits::default(),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "chart webapp requires kubeVersion >=1.25.0-0, which is incompatible with Kubernetes v1.20.3"
    );
}

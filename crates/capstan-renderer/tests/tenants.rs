//! The renderer daemon under a tenant policy, in-process on 127.0.0.1:0: a tenant renders only
//! for releases in its own namespaces and only if it may `render`; calls without a valid token
//! end UNAUTHENTICATED; a chart one tenant uploaded is unknown to the others; and one tenant's
//! burst is held to its own in-flight budget while the others are served.

use std::path::Path;
use std::time::{Duration, Instant};

use capstan_auth::PolicySource;
use capstan_chart::ChartFile;
use capstan_proto::renderer::v1 as pb;
use capstan_proto::renderer::v1::renderer_client::RendererClient;
use capstan_render::RenderLimits;
use capstan_renderer::{CacheLimits, RendererService, ServiceLimits};
use capstan_server::{Daemon, Security, TokenSet};
use tonic::transport::Channel;
use tonic::{Code, Request};

const POLICY: &str = r#"
tenants:
  a:
    namespaces: ["team-a", "team-a-*"]
    operations: [render]
    impersonate: {user: "capstan:tenant:a"}
  b:
    namespaces: ["team-b"]
    operations: [render]
    impersonate: {user: "capstan:tenant:b"}
  readers:
    namespaces: ["*"]
    operations: [list, get]
    impersonate: {user: "capstan:tenant:readers"}
"#;

async fn start(policy: &Path) -> RendererClient<Channel> {
    start_service(policy, RendererService::default()).await
}

async fn start_service(policy: &Path, service: RendererService) -> RendererClient<Channel> {
    let security = Security {
        tokens: Some(
            TokenSet::parse(&format!(
                "{} a\n{} b\n{} readers\n",
                TokenSet::entry_for("token-a"),
                TokenSet::entry_for("token-b"),
                TokenSet::entry_for("token-r")
            ))
            .unwrap(),
        ),
        policy: Some(PolicySource::load(policy).unwrap()),
        ..Security::default()
    };
    let daemon = Daemon::bind("127.0.0.1:0").await.unwrap();
    let addr = daemon.local_addr();
    let service = service.into_server();
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
    RendererClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
}

fn webapp() -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/charts/webapp");
    capstan_chart::package_dir(&dir, &capstan_chart::Limits::default()).unwrap()
}

fn render(namespace: &str, token: Option<&str>) -> Request<pb::RenderRequest> {
    render_source(
        pb::chart_source::Source::Archive(webapp()),
        namespace,
        token,
    )
}

fn with_token<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

fn render_source(
    source: pb::chart_source::Source,
    namespace: &str,
    token: Option<&str>,
) -> Request<pb::RenderRequest> {
    let message = pb::RenderRequest {
        chart: Some(pb::ChartSource {
            source: Some(source),
        }),
        values: vec![],
        release: Some(pb::ReleaseContext {
            name: "web".into(),
            namespace: namespace.into(),
            revision: 1,
            is_install: true,
            is_upgrade: false,
        }),
        capabilities: None,
        chart_values_json: None,
        lookups: None,
        lint_mode: false,
        render_subchart_notes: false,
        omit_stored_chart: false,
        omit_crds: false,
        omit_release_texts: false,
    };
    match token {
        Some(token) => with_token(message, token),
        None => Request::new(message),
    }
}

#[tokio::test]
async fn tenants_render_in_their_own_namespaces_only() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let mut client = start(&policy).await;

    let rendered = client
        .render(render("team-a-dev", Some("token-a")))
        .await
        .unwrap()
        .into_inner();
    assert!(!rendered.manifests.is_empty());

    let error = client
        .render(render("team-b", Some("token-a")))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
    assert_eq!(
        error.message(),
        "tenant \"a\" may not render in namespace \"team-b\""
    );
    let error = client
        .render(render("team-a", Some("token-r")))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
    assert_eq!(error.message(), "tenant \"readers\" may not run render");
    let has = client
        .has_chart(Request::new(pb::HasChartRequest {
            digest: "sha256:00".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(has.code(), Code::Unauthenticated);
    let error = client
        .render(render("team-a", Some("guess")))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn a_chart_one_tenant_uploaded_is_unknown_to_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let mut client = start(&policy).await;

    let digest = client
        .upload_chart(with_token(
            pb::UploadChartRequest { archive: webapp() },
            "token-a",
        ))
        .await
        .unwrap()
        .into_inner()
        .digest;
    let has = |token| {
        with_token(
            pb::HasChartRequest {
                digest: digest.clone(),
            },
            token,
        )
    };
    assert!(
        client
            .has_chart(has("token-a"))
            .await
            .unwrap()
            .into_inner()
            .present
    );
    assert!(
        !client
            .has_chart(has("token-b"))
            .await
            .unwrap()
            .into_inner()
            .present
    );

    let by_digest = pb::chart_source::Source::Digest(digest.clone());
    let rendered = client
        .render(render_source(by_digest.clone(), "team-a", Some("token-a")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rendered.chart_digest, digest);
    let error = client
        .render(render_source(by_digest, "team-b", Some("token-b")))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::NotFound, "{}", error.message());
    assert!(
        error.message().contains("upload it first"),
        "{}",
        error.message()
    );
}

#[tokio::test]
async fn one_tenants_burst_is_held_to_its_own_budget() {
    const ENDLESS: &str =
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}";
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let limits = RenderLimits {
        timeout: Duration::from_secs(3),
        fuel: u64::MAX / 2,
        ..RenderLimits::default()
    };
    let service = RendererService::new(
        CacheLimits::default(),
        capstan_chart::Limits::default(),
        limits,
    )
    .with_service_limits(ServiceLimits {
        max_in_flight: 4,
        max_in_flight_per_tenant: 1,
        ..ServiceLimits::default()
    });
    let client = start_service(&policy, service.clone()).await;
    let endless = capstan_chart::package_files(
        "endless",
        &[
            ChartFile {
                name: "Chart.yaml".into(),
                data: b"apiVersion: v2\nannotations:\n  capstan.dev/template-syntax: minijinja\nname: endless\nversion: 1.0.0\n".to_vec().into(),
            },
            ChartFile {
                name: "templates/a.yaml".into(),
                data: ENDLESS.into(),
            },
        ],
    )
    .unwrap();

    let mut c = client.clone();
    let slow = tokio::spawn(async move {
        c.render(render_source(
            pb::chart_source::Source::Archive(endless),
            "team-a",
            Some("token-a"),
        ))
        .await
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while service.in_flight() == 0 {
        assert!(Instant::now() < deadline, "the slow render never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut c = client.clone();
    let refused = c
        .render(render("team-a", Some("token-a")))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert_eq!(
        refused.message(),
        "tenant \"a\" has 1 requests in flight already, its limit \
         (--max-in-flight-per-tenant 1); retry later"
    );
    let served = c.render(render("team-b", Some("token-b"))).await.unwrap();
    assert!(!served.into_inner().manifests.is_empty());
    assert_eq!(
        slow.await.unwrap().unwrap_err().code(),
        Code::ResourceExhausted
    );
}

/// A Go chart whose template looks up a Secret in `namespace`.
fn looking_up(namespace: &str) -> Vec<u8> {
    let files = vec![
        ChartFile {
            name: "Chart.yaml".into(),
            data: b"apiVersion: v2\nname: peek\nversion: 1.0.0\n"
                .to_vec()
                .into(),
        },
        ChartFile {
            name: "templates/cm.yaml".into(),
            data: format!(
                "{{{{- $s := lookup \"v1\" \"Secret\" \"{namespace}\" \"db\" }}}}\n\
                 apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: peek\n\
                 data:\n  found: {{{{ ternary \"yes\" \"no\" (not (empty $s)) | quote }}}}\n"
            )
            .into(),
        },
    ];
    capstan_chart::package_files("peek", &files).unwrap()
}

/// The renderer asks its caller for lookups only in namespaces the tenant may render in: a
/// chart that looks up another tenant's Secret is refused before anyone reads it.
#[tokio::test]
async fn a_tenants_lookups_stay_in_its_namespaces() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let mut client = start(&policy).await;
    let with_lookups = |archive: Vec<u8>| {
        let mut request = render_source(
            pb::chart_source::Source::Archive(archive),
            "team-a",
            Some("token-a"),
        );
        request.get_mut().lookups = Some(pb::Lookups::default());
        request
    };

    let own = client
        .render(with_lookups(looking_up("team-a-dev")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.lookups_unanswered.len(), 1);
    assert_eq!(own.lookups_unanswered[0].namespace, "team-a-dev");

    let error = client
        .render(with_lookups(looking_up("team-b")))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
    assert!(
        error
            .message()
            .starts_with("the chart looks up v1 Secret \"db\" in namespace \"team-b\""),
        "{}",
        error.message()
    );
}

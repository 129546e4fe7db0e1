//! The renderer daemon under a tenant policy, in-process on 127.0.0.1:0: a tenant renders only
//! for releases in its own namespaces and only if it may `render`; calls without a valid token
//! end UNAUTHENTICATED.

use std::path::Path;

use capstan_auth::PolicySource;
use capstan_proto::renderer::v1 as pb;
use capstan_proto::renderer::v1::renderer_client::RendererClient;
use capstan_renderer::RendererService;
use capstan_server::{Daemon, Security, TokenSet};
use tonic::transport::Channel;
use tonic::{Code, Request};

const POLICY: &str = r#"
tenants:
  a:
    namespaces: ["team-a", "team-a-*"]
    operations: [render]
    impersonate: {user: "capstan:tenant:a"}
  readers:
    namespaces: ["*"]
    operations: [list, get]
    impersonate: {user: "capstan:tenant:readers"}
"#;

async fn start(policy: &Path) -> RendererClient<Channel> {
    let security = Security {
        tokens: Some(
            TokenSet::parse(&format!(
                "{} a\n{} readers\n",
                TokenSet::entry_for("token-a"),
                TokenSet::entry_for("token-r")
            ))
            .unwrap(),
        ),
        policy: Some(PolicySource::load(policy).unwrap()),
        ..Security::default()
    };
    let daemon = Daemon::bind("127.0.0.1:0").await.unwrap();
    let addr = daemon.local_addr();
    let service = RendererService::default().into_server();
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

fn render(namespace: &str, token: Option<&str>) -> Request<pb::RenderRequest> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/charts/webapp");
    let archive = capstan_chart::package_dir(&dir, &capstan_chart::Limits::default()).unwrap();
    let mut request = Request::new(pb::RenderRequest {
        chart: Some(pb::ChartSource {
            source: Some(pb::chart_source::Source::Archive(archive)),
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
    });
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    request
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

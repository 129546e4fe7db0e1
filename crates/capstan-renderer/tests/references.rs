//! Charts named by reference, in-process on 127.0.0.1:0 under a tenant policy: the refusals
//! that come before any download (no `--chart-sources`, a reference under no source, a tenant
//! whose policy does not name the source), each naming the reference. Fetching from real
//! servers is `tests/chart_sources.rs` of capstan-e2e.

use capstan_auth::PolicySource;
use capstan_proto::renderer::v1 as pb;
use capstan_proto::renderer::v1::renderer_client::RendererClient;
use capstan_renderer::{ChartFetcher, ChartSources, RendererService};
use capstan_server::{Daemon, Security, TokenSet};
use tonic::transport::Channel;
use tonic::{Code, Request};

const POLICY: &str = r#"
tenants:
  a:
    namespaces: ["*"]
    operations: [render]
    impersonate: {user: a}
    chartSources: [internal]
  b:
    namespaces: ["*"]
    operations: [render]
    impersonate: {user: b}
"#;

const SOURCES: &str = "
sources:
  - name: internal
    url: https://127.0.0.1:9/charts
  - name: registry
    url: oci://127.0.0.1:9/charts
";

async fn start(service: RendererService) -> (RendererClient<Channel>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let security = Security {
        tokens: Some(
            TokenSet::parse(&format!(
                "{} a\n{} b\n",
                TokenSet::entry_for("token-a"),
                TokenSet::entry_for("token-b"),
            ))
            .unwrap(),
        ),
        policy: Some(PolicySource::load(&policy).unwrap()),
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
    let client = RendererClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    (client, dir)
}

fn render(url: &str, chart: &str, token: &str) -> Request<pb::RenderRequest> {
    let mut request = Request::new(pb::RenderRequest {
        chart: Some(pb::ChartSource {
            source: Some(pb::chart_source::Source::Reference(pb::ChartReference {
                url: url.into(),
                chart: chart.into(),
                version: String::new(),
                devel: false,
            })),
        }),
        values: vec![],
        release: Some(pb::ReleaseContext {
            name: "web".into(),
            namespace: "default".into(),
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
    });
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

fn fetching(cache: &std::path::Path) -> RendererService {
    let sources = ChartSources::parse(
        &format!("cacheDir: {}\n{SOURCES}", cache.display()),
        "sources.yaml",
    )
    .unwrap();
    RendererService::default()
        .with_chart_fetcher(ChartFetcher::new(sources, capstan_chart::Limits::default()))
}

#[tokio::test]
async fn a_renderer_without_chart_sources_fetches_nothing() {
    let (mut client, _dir) = start(RendererService::default()).await;
    let status = client
        .render(render("oci://127.0.0.1:9/charts/web", "", "token-a"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().contains("oci://127.0.0.1:9/charts/web")
            && status.message().contains("--chart-sources"),
        "{status:?}"
    );
}

#[tokio::test]
async fn references_outside_the_sources_or_the_tenants_policy_are_refused() {
    let cache = tempfile::tempdir().unwrap();
    let (mut client, _dir) = start(fetching(cache.path())).await;
    let status = client
        .render(render("https://elsewhere.example/charts", "web", "token-a"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        status
            .message()
            .contains("web from https://elsewhere.example/charts is in none of the chart sources"),
        "{status:?}"
    );
    let status = client
        .render(render("oci://127.0.0.1:9/charts/web:1.0.0", "", "token-a"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        status.message().contains("tenant \"a\"")
            && status
                .message()
                .contains("oci://127.0.0.1:9/charts/web:1.0.0")
            && status.message().contains("chart source \"registry\""),
        "{status:?}"
    );
    let status = client
        .render(render("https://127.0.0.1:9/charts/", "web", "token-b"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("tenant \"b\""), "{status:?}");
    // Allowed, but nothing answers there: unavailable, naming the reference and the source.
    let status = client
        .render(render("https://127.0.0.1:9/charts", "web", "token-a"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains(
            "chart reference web from https://127.0.0.1:9/charts (chart source \"internal\")"
        ),
        "{status:?}"
    );
    assert_eq!(std::fs::read_dir(cache.path()).map_or(0, |d| d.count()), 0);
}

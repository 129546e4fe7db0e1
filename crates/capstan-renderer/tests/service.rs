//! The renderer service in-process on 127.0.0.1:0, through its generated gRPC client.

use std::path::Path;

use capstan_proto::renderer::v1 as pb;
use capstan_proto::renderer::v1::renderer_client::RendererClient;
use capstan_renderer::{RendererService, digest_of};
use tonic::Code;
use tonic::transport::Channel;

async fn start() -> RendererClient<Channel> {
    let daemon = capstan_server::Daemon::bind("127.0.0.1:0").await.unwrap();
    let addr = daemon.local_addr();
    let service = RendererService::default().into_server();
    tokio::spawn(daemon.serve(
        service,
        capstan_proto::FILE_DESCRIPTOR_SET,
        std::future::pending(),
    ));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    RendererClient::new(channel)
}

fn webapp() -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/charts/webapp");
    capstan_chart::package_dir(&dir, &capstan_chart::Limits::default()).unwrap()
}

fn request(chart: pb::chart_source::Source, sets: &[&str]) -> pb::RenderRequest {
    pb::RenderRequest {
        chart: Some(pb::ChartSource {
            source: Some(chart),
        }),
        values: sets
            .iter()
            .map(|s| pb::ValuesLayer {
                layer: Some(pb::values_layer::Layer::Set(s.to_string())),
            })
            .collect(),
        release: Some(pb::ReleaseContext {
            name: "prod-api".into(),
            namespace: "prod".into(),
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
    }
}

#[tokio::test]
async fn uploads_once_and_renders_by_digest() {
    let mut client = start().await;
    let archive = webapp();
    let digest = digest_of(&archive);
    let has = client
        .has_chart(pb::HasChartRequest {
            digest: digest.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!has.present);

    let missing = client
        .render(request(
            pb::chart_source::Source::Digest(digest.clone()),
            &[],
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert!(missing.message().contains(&digest), "{}", missing.message());

    let uploaded = client
        .upload_chart(pb::UploadChartRequest { archive })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(uploaded.digest, digest);
    assert!(
        client
            .has_chart(pb::HasChartRequest {
                digest: digest.clone()
            })
            .await
            .unwrap()
            .into_inner()
            .present
    );

    let rendered = client
        .render(request(
            pb::chart_source::Source::Digest(digest.clone()),
            &["replicaCount=5"],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rendered.chart_digest, digest);
    let deployment = rendered
        .manifests
        .iter()
        .find(|m| m.kind == "Deployment" && !m.name.ends_with("-cache"))
        .expect("the web Deployment");
    assert!(
        deployment.yaml.contains("replicas: 5"),
        "{}",
        deployment.yaml
    );
    assert!(
        rendered.manifest.contains("# Source: webapp/templates/"),
        "{}",
        rendered.manifest
    );
    assert!(!rendered.notes.is_empty());
    assert!(
        rendered
            .hooks
            .iter()
            .any(|h| h.events.contains(&"pre-upgrade".to_string()))
    );
    let user: serde_json::Value = serde_json::from_str(&rendered.user_values_json).unwrap();
    assert_eq!(user, serde_json::json!({"replicaCount": 5}));
    let stored: serde_json::Value = serde_json::from_str(&rendered.stored_chart_json).unwrap();
    assert_eq!(stored["metadata"]["name"], "webapp");
    assert!(!stored["templates"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_same_request_renders_byte_identical_output() {
    let mut client = start().await;
    let archive = webapp();
    let first = client
        .render(request(
            pb::chart_source::Source::Archive(archive.clone()),
            &[],
        ))
        .await
        .unwrap();
    let second = client
        .render(request(pb::chart_source::Source::Archive(archive), &[]))
        .await
        .unwrap();
    assert_eq!(first.into_inner(), second.into_inner());
}

#[tokio::test]
async fn bad_input_is_invalid_argument_naming_what_and_where() {
    let mut client = start().await;
    let archive = webapp();
    let bad_set = client
        .render(request(
            pb::chart_source::Source::Archive(archive.clone()),
            &["image.tag"],
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_set.code(), Code::InvalidArgument);
    assert!(
        bad_set.message().contains("image.tag"),
        "{}",
        bad_set.message()
    );

    let not_a_chart = client
        .upload_chart(pb::UploadChartRequest {
            archive: b"not a chart".to_vec(),
        })
        .await
        .unwrap_err();
    assert_eq!(not_a_chart.code(), Code::InvalidArgument);

    let schema = client
        .render(request(
            pb::chart_source::Source::Archive(archive),
            &["replicaCount=many"],
        ))
        .await
        .unwrap_err();
    assert_eq!(schema.code(), Code::InvalidArgument);
    assert!(
        schema.message().contains("replicaCount"),
        "{}",
        schema.message()
    );
}

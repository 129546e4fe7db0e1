//! A chart handed to the service as loaded in the same process (`put_loaded`, what the
//! `capstan` CLI does with a chart directory) renders exactly as its archive does; a request
//! may leave the stored chart, the CRDs and the release record's texts out of the response; a
//! compile cache on disk is written once and used by the next service.

use std::path::Path;

use capstan_proto::renderer::v1 as pb;
use capstan_proto::renderer::v1::renderer_server::Renderer as _;
use capstan_renderer::{CompileCache, RendererService};

fn chart_dir(root: &Path) -> std::path::PathBuf {
    let dir = root.join("web");
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::create_dir_all(dir.join("crds")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: web\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(dir.join("values.yaml"), "replicas: 2\n").unwrap();
    std::fs::write(
        dir.join("templates/_helpers.tpl"),
        r#"{{ define "web.name" }}{{ .Release.Name }}-web{{ end }}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"web.name\" . }}\ndata:\n  replicas: {{ .Values.replicas | quote }}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("crds/widgets.yaml"),
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n",
    )
    .unwrap();
    dir
}

fn request(source: pb::ChartSource, omit: bool) -> tonic::Request<pb::RenderRequest> {
    tonic::Request::new(pb::RenderRequest {
        chart: Some(source),
        values: vec![pb::ValuesLayer {
            layer: Some(pb::values_layer::Layer::Set("replicas=3".into())),
        }],
        release: Some(pb::ReleaseContext {
            name: "rel".into(),
            namespace: "ns".into(),
            revision: 1,
            is_install: true,
            is_upgrade: false,
        }),
        capabilities: None,
        chart_values_json: None,
        lookups: None,
        lint_mode: false,
        render_subchart_notes: false,
        omit_stored_chart: omit,
        omit_crds: omit,
        omit_release_texts: false,
    })
}

/// A chart directory as the CLI loads it: the chart and its compile key.
fn load(dir: &Path) -> (capstan_chart::Chart, String) {
    let limits = capstan_chart::Limits::default();
    let files = capstan_chart::Chart::dir_files(dir, &limits).unwrap();
    let key = capstan_renderer::compile_key(&files);
    (
        capstan_chart::Chart::from_dir_files(files, dir, &limits).unwrap(),
        key,
    )
}

/// The digest a chart source names.
fn digest_of(source: &pb::ChartSource) -> String {
    match &source.source {
        Some(pb::chart_source::Source::Digest(digest)) => digest.clone(),
        other => panic!("not a digest: {other:?}"),
    }
}

async fn render(
    service: &RendererService,
    source: pb::ChartSource,
    omit: bool,
) -> pb::RenderResponse {
    service
        .render(request(source, omit))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn a_loaded_chart_renders_as_its_archive_and_omits_what_is_asked() {
    let root = tempfile::tempdir().unwrap();
    let dir = chart_dir(root.path());
    let limits = capstan_chart::Limits::default();
    let service = RendererService::default();

    let archive = capstan_chart::package_dir(&dir, &limits).unwrap();
    let by_archive = render(
        &service,
        pb::ChartSource {
            source: Some(pb::chart_source::Source::Archive(archive)),
        },
        false,
    )
    .await;

    let (chart, digest) = load(&dir);
    let source = service.put_loaded(chart, &digest).await.unwrap();
    let loaded = render(&service, source.clone(), false).await;
    assert!(
        loaded.manifest.contains("name: rel-web"),
        "{}",
        loaded.manifest
    );
    assert!(
        loaded.manifest.contains("replicas: \"3\""),
        "{}",
        loaded.manifest
    );
    assert_eq!(loaded.manifest, by_archive.manifest);
    assert_eq!(loaded.manifests, by_archive.manifests);
    assert_eq!(loaded.crds, by_archive.crds);
    assert_eq!(loaded.crds.len(), 1);
    assert_eq!(loaded.stored_chart_json, by_archive.stored_chart_json);
    assert!(loaded.stored_chart_json.contains("templates/cm.yaml"));
    assert_eq!(loaded.merged_values_json, by_archive.merged_values_json);

    let omitted = render(&service, source.clone(), true).await;
    assert_eq!(omitted.manifest, loaded.manifest);
    assert!(omitted.stored_chart_json.is_empty());
    assert!(omitted.crds.is_empty());

    // What `template` asks: the documents alone, the release record's texts left out.
    let mut documents_only = request(source, true);
    documents_only.get_mut().omit_release_texts = true;
    let documents = service.render(documents_only).await.unwrap().into_inner();
    assert_eq!(documents.manifests, loaded.manifests);
    assert_eq!(documents.hooks, loaded.hooks);
    assert_eq!(documents.notes, loaded.notes);
    assert!(documents.manifest.is_empty());
    assert!(documents.merged_values_json.is_empty());
    assert!(documents.user_values_json.is_empty());
    assert!(documents.chart_metadata_json.is_empty());
    assert!(!loaded.merged_values_json.is_empty() && !loaded.user_values_json.is_empty());
}

#[tokio::test]
async fn a_compile_cache_is_written_once_and_read_by_the_next_service() {
    let root = tempfile::tempdir().unwrap();
    let dir = chart_dir(root.path());
    let cache_dir = root.path().join("cache");
    let (chart, digest) = load(&dir);

    let first = RendererService::default().with_compile_cache(CompileCache::new(&cache_dir));
    let source = first.put_loaded(chart.clone(), &digest).await.unwrap();
    let key = digest_of(&source);
    let cold = render(&first, source, true).await;
    let entry = CompileCache::new(&cache_dir).path_of(&format!("sha256:{digest}"));
    assert!(entry.exists(), "no cache entry at {}", entry.display());
    assert!(!first.cache().compiled(&key).unwrap().reused_translations());
    let kept = CompileCache::new(&cache_dir)
        .load(&format!("sha256:{digest}"))
        .unwrap();
    assert_eq!(
        kept.instructions_kept(),
        2,
        "written after the render: cm.yaml's instructions and web.name's"
    );

    let second = RendererService::default().with_compile_cache(CompileCache::new(&cache_dir));
    let source = second.put_loaded(chart, &digest).await.unwrap();
    let key = digest_of(&source);
    let warm = render(&second, source, true).await;
    assert_eq!(warm.manifest, cold.manifest);
    assert!(second.cache().compiled(&key).unwrap().reused_translations());
    assert_eq!(std::fs::read_dir(&cache_dir).unwrap().count(), 1);

    // Other values with the same templates: the same translations, the chart's own values.
    std::fs::write(dir.join("values.yaml"), "replicas: 2\nextra: here\n").unwrap();
    let (chart, same) = load(&dir);
    assert_eq!(same, digest, "values are not read by compiling");
    let third = RendererService::default().with_compile_cache(CompileCache::new(&cache_dir));
    let source = third.put_loaded(chart, &same).await.unwrap();
    let key = digest_of(&source);
    let other = render(&third, source, false).await;
    assert!(third.cache().compiled(&key).unwrap().reused_translations());
    assert!(
        other.merged_values_json.contains("\"extra\":\"here\""),
        "{}",
        other.merged_values_json
    );
    assert_eq!(other.manifest, cold.manifest);

    // Another template: another key, compiled afresh.
    std::fs::write(
        dir.join("templates/more.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n",
    )
    .unwrap();
    let (chart, changed) = load(&dir);
    assert_ne!(changed, digest);
    let fourth = RendererService::default().with_compile_cache(CompileCache::new(&cache_dir));
    let source = fourth.put_loaded(chart, &changed).await.unwrap();
    let key = digest_of(&source);
    let more = render(&fourth, source, true).await;
    assert!(!fourth.cache().compiled(&key).unwrap().reused_translations());
    assert!(more.manifest.contains("kind: Secret"), "{}", more.manifest);
}

/// Two charts with the same templates share a compile key but not their stored chart: each
/// render's release record carries the values and files of the chart it rendered, in one
/// service and one process.
#[tokio::test]
async fn charts_sharing_a_compile_key_keep_their_own_stored_chart() {
    let root = tempfile::tempdir().unwrap();
    let dir = chart_dir(root.path());
    let service = RendererService::default();

    let (chart, key) = load(&dir);
    let source = service.put_loaded(chart, &key).await.unwrap();
    let first = render(&service, source, false).await;
    assert!(!first.stored_chart_json.contains("extra"));

    std::fs::write(dir.join("values.yaml"), "replicas: 2\nextra: here\n").unwrap();
    std::fs::write(dir.join("data.txt"), "a data file\n").unwrap();
    let (chart, same) = load(&dir);
    assert_eq!(same, key, "values and data files are not read by compiling");
    let source = service.put_loaded(chart, &same).await.unwrap();
    let second = render(&service, source, false).await;
    let stored: serde_json::Value = serde_json::from_str(&second.stored_chart_json).unwrap();
    assert_eq!(stored["values"]["extra"], "here", "{stored}");
    let files = stored["files"].as_array().unwrap();
    assert!(
        files.iter().any(|f| f["name"] == "data.txt"),
        "{}",
        second.stored_chart_json
    );
}

/// A chart handed over is compiled by its first render, in that render's job: a template
/// error is that render's error, and renders of it at once compile it once and agree.
#[tokio::test]
async fn a_loaded_chart_is_compiled_by_its_first_render() {
    let root = tempfile::tempdir().unwrap();
    let dir = chart_dir(root.path());
    let service = RendererService::default();

    let (chart, key) = load(&dir);
    let source = service.put_loaded(chart, &key).await.unwrap();
    let digest = digest_of(&source);
    assert!(
        service.cache().compiled(&digest).is_none(),
        "not compiled yet"
    );
    let (a, b) = tokio::join!(
        service.render(request(source.clone(), false)),
        service.render(request(source.clone(), false)),
    );
    let (a, b) = (a.unwrap().into_inner(), b.unwrap().into_inner());
    assert_eq!(a.manifest, b.manifest);
    assert!(a.manifest.contains("name: rel-web"), "{}", a.manifest);
    assert!(service.cache().compiled(&digest).is_some());

    std::fs::write(dir.join("templates/bad.yaml"), "{{ if }}\n").unwrap();
    let (chart, key) = load(&dir);
    let source = service.put_loaded(chart, &key).await.unwrap();
    let error = service.render(request(source, false)).await.unwrap_err();
    assert!(
        error.message().contains("web/templates/bad.yaml:1"),
        "{}",
        error.message()
    );
}

//! Hostile charts and requests against the renderer service in-process on 127.0.0.1:0: each is
//! refused with a status naming the limit (or the template), and the daemon keeps serving
//! everyone else promptly.

use std::path::Path;
use std::time::{Duration, Instant};

use capstan_chart::{ChartFile, Limits};
use capstan_proto::renderer::v1 as pb;
use capstan_proto::renderer::v1::renderer_client::RendererClient;
use capstan_render::RenderLimits;
use capstan_renderer::{CacheLimits, RendererService, ServiceLimits};
use tonic::Code;
use tonic::transport::Channel;

async fn start(service: RendererService) -> RendererClient<Channel> {
    let daemon = capstan_server::Daemon::bind("127.0.0.1:0").await.unwrap();
    let addr = daemon.local_addr();
    tokio::spawn(daemon.serve(
        service.into_server(),
        capstan_proto::FILE_DESCRIPTOR_SET,
        std::future::pending(),
    ));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    RendererClient::new(channel)
        .max_decoding_message_size(capstan_renderer::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(capstan_renderer::MAX_MESSAGE_BYTES)
}

fn archive(name: &str, template: &str) -> Vec<u8> {
    capstan_chart::package_files(
        name,
        &[
            ChartFile {
                name: "Chart.yaml".into(),
                data: format!("apiVersion: v2\nannotations:\n  capstan.dev/template-syntax: minijinja\nname: {name}\nversion: 1.0.0\n").into(),
            },
            ChartFile {
                name: "templates/a.yaml".into(),
                data: template.into(),
            },
        ],
    )
    .unwrap()
}

fn webapp() -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/charts/webapp");
    capstan_chart::package_dir(&dir, &Limits::default()).unwrap()
}

fn request(archive: Vec<u8>, values: Vec<pb::values_layer::Layer>) -> pb::RenderRequest {
    pb::RenderRequest {
        chart: Some(pb::ChartSource {
            source: Some(pb::chart_source::Source::Archive(archive)),
        }),
        values: values
            .into_iter()
            .map(|l| pb::ValuesLayer { layer: Some(l) })
            .collect(),
        release: Some(pb::ReleaseContext {
            name: "web".into(),
            namespace: "team-a".into(),
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

const ENDLESS: &str = "{% for i in range(100000) %}{% for j in range(100000) %}{% for k in range(100000) %}{% endfor %}{% endfor %}{% endfor %}";
const DEEP: &str = "{% set ns = namespace(d=1) %}{% for i in range(30000) %}{% set ns.d = [ns.d] %}{% endfor %}apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata:\n  n: \"{{ ns.d | length }}\"\n";
const HUGE: &str = "a: {{ indent(2000000000, \"x\") }}\n";

#[tokio::test]
async fn hostile_renders_fail_alone_while_normal_renders_succeed() {
    let limits = RenderLimits {
        timeout: Duration::from_secs(2),
        fuel: u64::MAX / 2,
        ..RenderLimits::default()
    };
    let service = RendererService::new(CacheLimits::default(), Limits::default(), limits);
    let client = start(service.clone()).await;

    let mut hostile = Vec::new();
    for (name, template) in [("endless", ENDLESS), ("deep", DEEP), ("huge", HUGE)] {
        let mut c = client.clone();
        let req = request(archive(name, template), vec![]);
        hostile.push(tokio::spawn(async move { (name, c.render(req).await) }));
    }
    // Normal renders, side by side with the hostile ones, each answered promptly.
    let started = Instant::now();
    let mut normal = Vec::new();
    for i in 0..6 {
        let mut c = client.clone();
        let req = request(
            webapp(),
            vec![pb::values_layer::Layer::Set(format!("replicaCount={i}"))],
        );
        normal.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = c.render(req).await;
            (r, t.elapsed())
        }));
    }
    for n in normal {
        let (r, took) = n.await.unwrap();
        let r = r.expect("a normal render next to hostile ones succeeds");
        assert!(r.into_inner().manifest.contains("kind: Deployment"));
        assert!(took < Duration::from_secs(5), "normal render took {took:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(10));

    for h in hostile {
        let (name, r) = h.await.unwrap();
        match name {
            "endless" => {
                let e = r.unwrap_err();
                assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
                assert!(
                    e.message()
                        .contains("longer than the limit of 2s (--render-timeout)")
                        || e.message().contains("endless/templates/a.yaml"),
                    "{}",
                    e.message()
                );
            }
            "deep" => {
                // Nesting 30000 levels deep (an 8 MiB stack overflows) needs no more than the render thread's stack.
                let r = r.expect("deep nesting renders on the large render stack");
                assert!(r.into_inner().manifest.contains("n: \"1\""));
            }
            _ => {
                let e = r.unwrap_err();
                assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
                assert!(
                    e.message().starts_with("huge/templates/a.yaml:1:"),
                    "{}",
                    e.message()
                );
                assert!(e.message().contains("bytes per string"), "{}", e.message());
            }
        }
    }
    // The daemon still serves.
    let mut c = client.clone();
    c.render(request(webapp(), vec![])).await.unwrap();
}

#[tokio::test]
async fn requests_beyond_the_in_flight_limit_are_resource_exhausted() {
    let limits = RenderLimits {
        timeout: Duration::from_secs(3),
        fuel: u64::MAX / 2,
        ..RenderLimits::default()
    };
    let service = RendererService::new(CacheLimits::default(), Limits::default(), limits)
        .with_service_limits(ServiceLimits {
            max_in_flight: 1,
            ..ServiceLimits::default()
        });
    let client = start(service.clone()).await;
    let mut c = client.clone();
    let slow =
        tokio::spawn(async move { c.render(request(archive("endless", ENDLESS), vec![])).await });
    let deadline = Instant::now() + Duration::from_secs(5);
    while service.in_flight() == 0 {
        assert!(Instant::now() < deadline, "the slow render never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut c = client.clone();
    let e = c.render(request(webapp(), vec![])).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(e.message().contains("--max-in-flight 1"), "{}", e.message());
    assert_eq!(
        slow.await.unwrap().unwrap_err().code(),
        Code::ResourceExhausted
    );
}

#[tokio::test]
async fn oversized_inputs_name_their_limit() {
    let service = RendererService::new(
        CacheLimits::default(),
        Limits {
            max_decompressed_bytes: 1 << 20,
            ..Limits::default()
        },
        RenderLimits::default(),
    )
    .with_service_limits(ServiceLimits {
        max_values_bytes: 1000,
        ..ServiceLimits::default()
    });
    let mut client = start(service).await;

    let e = client
        .render(request(
            webapp(),
            vec![pb::values_layer::Layer::File(format!(
                "a: {}\n",
                "x".repeat(2000)
            ))],
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(
        e.message()
            .contains("exceed the limit of 1000 bytes (--max-values-bytes)"),
        "{}",
        e.message()
    );

    let e = client
        .render(request(
            webapp(),
            (0..=capstan_renderer::MAX_VALUES_LAYERS)
                .map(|i| pb::values_layer::Layer::Set(format!("a{i}=1")))
                .collect(),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(
        e.message()
            .contains("values layers exceed the limit of 1024"),
        "{}",
        e.message()
    );

    // A gzip bomb: 4 MiB of zeros in one file compresses to a few KiB.
    let bomb = capstan_chart::package_files(
        "bomb",
        &[
            ChartFile {
                name: "Chart.yaml".into(),
                data: b"apiVersion: v2\nannotations:\n  capstan.dev/template-syntax: minijinja\nname: bomb\nversion: 1.0.0\n".to_vec().into(),
            },
            ChartFile {
                name: "files/zeros".into(),
                data: vec![0; 4 << 20].into(),
            },
        ],
    )
    .unwrap();
    assert!(bomb.len() < 64 << 10);
    let e = client
        .upload_chart(pb::UploadChartRequest { archive: bomb })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(
        e.message().contains("exceeds the limit of"),
        "{}",
        e.message()
    );

    // Larger than the gRPC message limit: refused, and the daemon keeps serving.
    client
        .upload_chart(pb::UploadChartRequest {
            archive: vec![0; capstan_renderer::MAX_MESSAGE_BYTES + 1],
        })
        .await
        .unwrap_err();
    client.render(request(webapp(), vec![])).await.unwrap();
}

/// With a memory limit, renders run in a worker process: a chart that doubles a string with
/// minijinja's own `~` (no capstan function involved) ends its worker, not the daemon, with
/// RESOURCE_EXHAUSTED naming the limit; other charts render exactly as in the daemon.
#[tokio::test]
async fn a_render_past_its_memory_limit_ends_its_worker_only() {
    const DOUBLING: &str = "{% set ns = namespace(s=\"x\") %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}a: \"{{ ns.s | length }}\"\n";
    let worker = capstan_renderer::RenderWorker::new(
        env!("CARGO_BIN_EXE_capstan-renderer"),
        vec![],
        capstan_renderer::RenderWorker::data_limit(256 << 20),
    );
    let mut isolated = start(RendererService::default().with_render_worker(worker)).await;
    let mut plain = start(RendererService::default()).await;

    let e = isolated
        .render(request(archive("doubling", DOUBLING), vec![]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{}", e.message());
    assert!(
        e.message().contains("memory limit") && e.message().contains("--render-memory-limit"),
        "{}",
        e.message()
    );

    let values = vec![pb::values_layer::Layer::Set("replicaCount=3".into())];
    let ours = isolated
        .render(request(webapp(), values.clone()))
        .await
        .unwrap()
        .into_inner();
    let theirs = plain
        .render(request(webapp(), values))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ours.manifest, theirs.manifest);
    assert_eq!(ours.merged_values_json, theirs.merged_values_json);

    // A template error comes back from the worker with its code and message.
    let e = isolated
        .render(request(archive("broken", "{{ nope( }}"), vec![]))
        .await
        .unwrap_err();
    let expected = plain
        .render(request(archive("broken", "{{ nope( }}"), vec![]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), expected.code());
    assert_eq!(e.message(), expected.message());
}

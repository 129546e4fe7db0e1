//! The `capstan-renderer` daemon as operators run it: it reports SERVING over gRPC health, answers
//! reflection, and exits cleanly on SIGTERM.

use std::path::Path;

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_serves_health_and_reflection_and_stops_on_sigterm() {
    let (daemon, addr) =
        capstan_server::testing::spawn(Path::new(env!("CARGO_BIN_EXE_capstan-renderer")), [""; 0]);
    capstan_server::testing::assert_serves_then_stops(
        daemon,
        &addr,
        "capstan.renderer.v1.Renderer",
    )
    .await;
}

/// The daemon binary as it starts with no flag (`--render-memory-limit` defaults to 256 MiB,
/// renders in warm workers): a chart that doubles a string without end is refused with
/// RESOURCE_EXHAUSTED naming the flag, and the daemon goes on rendering.
#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_bounds_a_renders_memory_by_default() {
    use capstan_proto::renderer::v1 as pb;
    use capstan_proto::renderer::v1::renderer_client::RendererClient;

    /// Kills the daemon however the test ends.
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let (daemon, addr) =
        capstan_server::testing::spawn(Path::new(env!("CARGO_BIN_EXE_capstan-renderer")), [""; 0]);
    let _daemon = Killed(daemon);
    let mut client = RendererClient::connect(format!("http://{addr}"))
        .await
        .expect("the daemon answers");
    let chart = |template: &str| {
        capstan_chart::package_files(
            "c",
            &[
                capstan_chart::ChartFile {
                    name: "Chart.yaml".into(),
                    data: b"apiVersion: v2\nannotations:\n  capstan.dev/template-syntax: minijinja\nname: c\nversion: 1.0.0\n".to_vec().into(),
                },
                capstan_chart::ChartFile {
                    name: "templates/a.yaml".into(),
                    data: template.into(),
                },
            ],
        )
        .unwrap()
    };
    let render = |archive: Vec<u8>| pb::RenderRequest {
        chart: Some(pb::ChartSource {
            source: Some(pb::chart_source::Source::Archive(archive)),
        }),
        release: Some(pb::ReleaseContext {
            name: "r".into(),
            namespace: "default".into(),
            revision: 1,
            is_install: true,
            is_upgrade: false,
        }),
        ..pb::RenderRequest::default()
    };
    let doubling = "{% set ns = namespace(s=\"x\") %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}a: b\n";
    let e = client.render(render(chart(doubling))).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{}", e.message());
    assert!(
        e.message().contains("--render-memory-limit"),
        "{}",
        e.message()
    );
    let fine = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n";
    let rendered = client
        .render(render(chart(fine)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rendered.manifests.len(), 1);
}

/// The daemon in its default worker mode with `--compile-cache DIR`: the first render of a Go
/// chart stores its translated templates there, the next worker loads them (the entry is
/// marked used) and answers the same; a damaged entry is ignored, the render still answers the
/// same, and the entry is written whole again.
#[tokio::test(flavor = "multi_thread")]
async fn render_workers_share_the_compile_cache() {
    use capstan_proto::renderer::v1 as pb;
    use capstan_proto::renderer::v1::renderer_client::RendererClient;
    use std::time::{Duration, SystemTime};

    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("compiled");
    let (daemon, addr) = capstan_server::testing::spawn(
        Path::new(env!("CARGO_BIN_EXE_capstan-renderer")),
        [
            std::ffi::OsStr::new("--compile-cache"),
            cache_dir.as_os_str(),
        ],
    );
    let _daemon = Killed(daemon);
    let mut client = RendererClient::connect(format!("http://{addr}"))
        .await
        .expect("the daemon answers");
    let archive = capstan_chart::package_files(
        "c",
        &[
            capstan_chart::ChartFile {
                name: "Chart.yaml".into(),
                data: b"apiVersion: v2\nname: c\nversion: 1.0.0\n".to_vec().into(),
            },
            capstan_chart::ChartFile {
                name: "values.yaml".into(),
                data: b"replicas: 3\nlabels:\n  app: web\n".to_vec().into(),
            },
            capstan_chart::ChartFile {
                name: "templates/_helpers.tpl".into(),
                data: b"{{- define \"c.name\" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}\n"
                    .to_vec()
                    .into(),
            },
            capstan_chart::ChartFile {
                name: "templates/cm.yaml".into(),
                data: b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"c.name\" . }}\n  labels:\n    {{- toYaml .Values.labels | nindent 4 }}\ndata:\n  replicas: {{ .Values.replicas | quote }}\n"
                    .to_vec()
                    .into(),
            },
        ],
    )
    .unwrap();
    let digest = capstan_renderer::digest_of(&archive);
    let request = pb::RenderRequest {
        chart: Some(pb::ChartSource {
            source: Some(pb::chart_source::Source::Archive(archive)),
        }),
        release: Some(pb::ReleaseContext {
            name: "r".into(),
            namespace: "default".into(),
            revision: 1,
            is_install: true,
            is_upgrade: false,
        }),
        ..pb::RenderRequest::default()
    };
    let cache = capstan_renderer::CompileCache::new(&cache_dir);
    let entry = cache.path_of(&digest);

    let first = client.render(request.clone()).await.unwrap().into_inner();
    assert_eq!(first.manifests.len(), 1);
    assert!(
        first.manifests[0].yaml.contains("name: r-c"),
        "{}",
        first.manifests[0].yaml
    );
    assert!(entry.is_file(), "the first worker stored the translations");
    assert!(cache.load(&digest).is_some(), "a whole entry");

    // Marked long unused: a worker that loads the entry marks it used now.
    let past = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .append(true)
        .open(&entry)
        .unwrap()
        .set_modified(past)
        .unwrap();
    let second = client.render(request.clone()).await.unwrap().into_inner();
    assert_eq!(
        second, first,
        "the same answer from the cached translations"
    );
    let modified = std::fs::metadata(&entry).unwrap().modified().unwrap();
    assert!(
        modified > past + Duration::from_secs(1800),
        "the second worker loaded the entry"
    );

    let mut bytes = std::fs::read(&entry).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&entry, &bytes).unwrap();
    assert!(cache.load(&digest).is_none(), "damaged");
    let third = client.render(request).await.unwrap().into_inner();
    assert_eq!(third, first, "a damaged entry is ignored");
    assert!(cache.load(&digest).is_some(), "and written whole again");
}

/// A daemon started without `--compile-cache` keeps its compile cache in a temporary directory
/// of its own; killed, it cannot remove it, so the next daemon to start removes the
/// directories of daemons that are gone (their owner lock is free), and only those.
#[test]
fn a_killed_daemons_temporary_compile_cache_is_removed_by_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let start = || {
        capstan_server::testing::spawn_with_env(
            Path::new(env!("CARGO_BIN_EXE_capstan-renderer")),
            [""; 0],
            [("TMPDIR", Some(tmp.path()))],
        )
        .0
    };
    let caches = || {
        let mut dirs: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        dirs.sort();
        dirs
    };
    // Left by something else: no owner lock, never removed.
    std::fs::create_dir(tmp.path().join("capstan-renderer-compiled-other")).unwrap();

    let mut first = start();
    let with_first = caches();
    assert_eq!(with_first.len(), 2, "{with_first:?}");
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(caches(), with_first, "a killed daemon leaves its directory");

    let mut second = start();
    let with_second = caches();
    assert_eq!(with_second.len(), 2, "{with_second:?}");
    assert!(with_second.contains(&"capstan-renderer-compiled-other".to_owned()));
    let first_dir = with_first.iter().find(|d| !d.ends_with("-other")).unwrap();
    assert!(
        !with_second.contains(first_dir),
        "the killed daemon's directory is removed"
    );

    // A running daemon's directory is kept by the next one to start.
    let mut third = start();
    let with_third = caches();
    assert_eq!(with_third.len(), 3, "{with_third:?}");
    assert!(with_second.iter().all(|d| with_third.contains(d)));
    for daemon in [&mut second, &mut third] {
        daemon.kill().unwrap();
        daemon.wait().unwrap();
    }
}

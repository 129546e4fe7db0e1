//! Secret values never reach logs or error messages: renders through the in-process service with
//! a distinctive value, every log line captured at TRACE level (capstan's, tonic's and hyper's),
//! and every error message checked.

use std::io::Write;
use std::sync::{Arc, Mutex};

use capstan_chart::ChartFile;
use capstan_proto::renderer::v1 as pb;
use capstan_proto::renderer::v1::renderer_client::RendererClient;
use capstan_renderer::RendererService;
use tonic::transport::Channel;

const SECRET: &str = "hunter2-b7f3e9c1-s3cr3t";

/// Every log line of the test process.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> Buffer {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    buffer
}

fn chart() -> Vec<u8> {
    let file = |name: &str, data: &str| ChartFile {
        name: name.into(),
        data: data.into(),
    };
    capstan_chart::package_files(
        "db",
        &[
            file("Chart.yaml", "apiVersion: v2\nannotations:\n  capstan.dev/template-syntax: minijinja\nname: db\nversion: 1.0.0\n"),
            file("values.yaml", "password: changeme\nport: 5432\n"),
            file(
                "values.schema.json",
                r#"{"type":"object","properties":{"port":{"type":"integer"},"password":{"type":"string","minLength":3}}}"#,
            ),
            file(
                "templates/secret.yaml",
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {{ Values.password | quote }}\n{% if Values.broken %}  bad: [{{ Values.password }}\n{% endif %}",
            ),
        ],
    )
    .unwrap()
}

fn request(archive: &[u8], layers: Vec<pb::values_layer::Layer>) -> pb::RenderRequest {
    pb::RenderRequest {
        chart: Some(pb::ChartSource {
            source: Some(pb::chart_source::Source::Archive(archive.to_vec())),
        }),
        values: layers
            .into_iter()
            .map(|l| pb::ValuesLayer { layer: Some(l) })
            .collect(),
        release: Some(pb::ReleaseContext {
            name: "db".into(),
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

#[tokio::test]
async fn secret_values_are_never_logged_or_echoed_in_errors() {
    let logs = capture();
    let daemon = capstan_server::Daemon::bind("127.0.0.1:0").await.unwrap();
    let addr = daemon.local_addr();
    tokio::spawn(daemon.serve(
        RendererService::default().into_server(),
        capstan_proto::FILE_DESCRIPTOR_SET,
        std::future::pending(),
    ));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = RendererClient::new(channel);
    let archive = chart();
    use pb::values_layer::Layer;

    // A good render carries the secret in its output (that is its job) and nowhere else.
    let ok = client
        .render(request(
            &archive,
            vec![Layer::Set(format!("password={SECRET}"))],
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(ok.manifest.contains(SECRET));

    // Every way a request with the secret in it can fail.
    let failing: Vec<Vec<Layer>> = vec![
        vec![Layer::Set(format!("password={SECRET},port"))],
        vec![Layer::Set(format!("port=1,port.x={SECRET}"))],
        vec![Layer::Set(format!("a[0={SECRET}"))],
        vec![Layer::Set(format!("a[x={SECRET}]=1"))],
        vec![Layer::SetJson(format!("password={{\"a\": \"{SECRET}\""))],
        vec![Layer::SetString(format!("password={SECRET},a[-1]=2"))],
        vec![Layer::File(format!("password: {SECRET}\n  bad: [\n"))],
        vec![Layer::File(format!("- {SECRET}\n"))],
        vec![Layer::Set(format!("port={SECRET}"))],
        vec![
            Layer::Set("password=ab".into()),
            Layer::Set(format!("port={SECRET}")),
        ],
        vec![
            Layer::Set(format!("password={SECRET}")),
            Layer::Set("broken=true".into()),
        ],
    ];
    for layers in failing {
        let what = format!("{layers:?}");
        let e = client.render(request(&archive, layers)).await.unwrap_err();
        assert!(
            !e.message().contains(SECRET),
            "{what}: the error echoes the secret: {}",
            e.message()
        );
        assert!(!e.message().contains("b7f3e9c1"), "{what}: {}", e.message());
    }

    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logs.contains("render"), "logs were captured: {logs}");
    assert!(!logs.contains("b7f3e9c1"), "the secret was logged:\n{logs}");
}

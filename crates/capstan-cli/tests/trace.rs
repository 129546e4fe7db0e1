//! `capstan template` with an OTLP endpoint configured: the real binary, in-process renderer,
//! exporting to a real OTLP/gRPC receiver run by the test. One command is one trace, the
//! in-process render's span is in it (called directly, no RPC), and no `--set` value is in any
//! span.
//! (`tests/observability.rs` at the workspace root covers the daemons and the applier.)

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use capstan_testkit::otlp::{CLIENT, Receiver, SERVER, descends, names, one};

fn webapp() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/charts/webapp")
}

fn template(endpoint: Option<&str>, set: &str) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_capstan"));
    command
        .args(["template", "web", webapp().to_str().unwrap(), "--set", set])
        .env_remove("CAPSTAN_RENDERER")
        .env_remove("RUST_LOG")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    if let Some(endpoint) = endpoint {
        command.env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint);
    }
    command.output().expect("capstan runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn template_is_one_trace_with_the_in_process_render_in_it() {
    let (receiver, endpoint) = Receiver::start().await.unwrap();
    let secret = format!("trace-secret-{:08x}", std::process::id());
    let set = format!("config.greeting={secret}");
    let output = template(Some(&endpoint), &set);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains(&secret));
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let spans = receiver
        .trace_rooted_at("capstan template", &BTreeSet::new())
        .await;
    assert!(
        !spans.is_empty(),
        "no trace: {:?}",
        names(&receiver.spans())
    );
    let all = receiver.spans();
    assert_eq!(all.len(), spans.len(), "one trace only: {:?}", names(&all));
    let root = one(&spans, "capstan template", None).unwrap();
    for span in &spans {
        assert_eq!(span.service, "capstan");
        assert!(
            span.id == root.id || descends(&spans, span, root),
            "{} is not in the command's tree: {:?}",
            span.name,
            names(&spans)
        );
        for text in &span.text {
            assert!(
                !text.contains(&secret),
                "span {} carries a value: {text}",
                span.name
            );
        }
    }
    // The in-process renderer is handed the chart directory as loaded: no archive is made.
    one(&spans, "chart.load", None).unwrap();
    assert!(
        spans.iter().all(|s| s.name != "chart.package"),
        "{:?}",
        names(&spans)
    );
    // The in-process renderer is called directly: its render span is in the command's tree
    // (checked above for every span) with no RPC around it.
    let render = one(&spans, "renderer.render", None).unwrap();
    assert_eq!(render.attribute("release"), Some("web"));
    assert!(
        spans.iter().all(
            |s| !(s.name.contains("Renderer/Render") && (s.kind == CLIENT || s.kind == SERVER))
        ),
        "{:?}",
        names(&spans)
    );
    // The in-process renderer gets the chart with the render: no HasChart or upload first.
    assert!(
        spans
            .iter()
            .all(|s| !s.name.contains("HasChart") && !s.name.contains("UploadChart")),
        "{:?}",
        names(&spans)
    );

    // Without an endpoint, nothing is sent.
    let output = template(None, &set);
    assert!(output.status.success());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(receiver.spans().len(), all.len());
}

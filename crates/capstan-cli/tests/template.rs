//! `capstan template` as a user runs it: the real binary, in-process and against a renderer daemon.

use std::path::PathBuf;
use std::process::{Command, Output};

fn webapp() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/charts/webapp")
}

fn capstan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .env_remove("CAPSTAN_RENDERER")
        .env_remove("HELM_NAMESPACE")
        .output()
        .expect("capstan runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "capstan failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn renders_every_object_with_its_source_line() {
    let chart = webapp();
    let out = stdout(&capstan(&[
        "template",
        "prod-api",
        chart.to_str().unwrap(),
        "--set",
        "replicaCount=5",
    ]));
    assert!(
        out.contains("# Source: webapp/templates/deployment.yaml"),
        "{out}"
    );
    assert!(out.contains("replicas: 5"), "{out}");
    assert!(out.contains("name: prod-api-webapp"), "{out}");
    // The pre-upgrade hook is part of `template` output, as in Helm.
    assert!(out.contains("helm.sh/hook"), "{out}");
    let no_hooks = stdout(&capstan(&[
        "template",
        "prod-api",
        chart.to_str().unwrap(),
        "--no-hooks",
    ]));
    assert!(!no_hooks.contains("helm.sh/hook"), "{no_hooks}");
}

#[test]
fn show_only_selects_one_template() {
    let chart = webapp();
    let out = stdout(&capstan(&[
        "template",
        "r",
        chart.to_str().unwrap(),
        "--show-only",
        "templates/service.yaml",
    ]));
    assert_eq!(out.matches("---\n").count(), 1, "{out}");
    assert!(out.contains("kind: Service"), "{out}");
    let missing = capstan(&[
        "template",
        "r",
        chart.to_str().unwrap(),
        "-s",
        "templates/nope.yaml",
    ]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("templates/nope.yaml"));
}

#[test]
fn output_dir_writes_one_file_per_template() {
    let dir = tempfile::tempdir().unwrap();
    let chart = webapp();
    stdout(&capstan(&[
        "template",
        "r",
        chart.to_str().unwrap(),
        "--output-dir",
        dir.path().to_str().unwrap(),
    ]));
    let deployment =
        std::fs::read_to_string(dir.path().join("webapp/templates/deployment.yaml")).unwrap();
    assert!(
        deployment.starts_with("---\n# Source: webapp/templates/deployment.yaml\n"),
        "{deployment}"
    );
}

#[test]
fn bad_input_fails_with_a_clear_message() {
    let chart = webapp();
    let cases: [(&[&str], &str); 4] = [
        (
            // The key is named, the text after `=` (a value, maybe a secret) is not.
            &["template", "r", chart.to_str().unwrap(), "--set", "a[=b"],
            "--set \"a[=…\": error parsing index: unterminated index",
        ),
        (&["template", "r", "/no/such/chart"], "/no/such/chart"),
        (
            &[
                "template",
                "r",
                chart.to_str().unwrap(),
                "--set",
                "replicaCount=lots",
            ],
            "replicaCount",
        ),
        (
            &[
                "template",
                "r",
                chart.to_str().unwrap(),
                "-f",
                "/no/such/values.yaml",
            ],
            "/no/such/values.yaml",
        ),
    ];
    for (args, needle) in cases {
        let out = capstan(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("Error: "), "{stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_renderer_daemon_gives_identical_output() {
    let daemon = capstan_server::Daemon::bind("127.0.0.1:0").await.unwrap();
    let addr = daemon.local_addr().to_string();
    let service = capstan_renderer::RendererService::default().into_server();
    tokio::spawn(daemon.serve(
        service,
        capstan_proto::FILE_DESCRIPTOR_SET,
        std::future::pending(),
    ));
    let chart = webapp();
    let chart = chart.to_str().unwrap().to_string();
    let (local, remote) = tokio::task::spawn_blocking(move || {
        let local = stdout(&capstan(&[
            "template",
            "prod-api",
            &chart,
            "--set",
            "replicaCount=2",
        ]));
        let remote = stdout(&capstan(&[
            "template",
            "prod-api",
            &chart,
            "--set",
            "replicaCount=2",
            "--renderer",
            &addr,
        ]));
        (local, remote)
    })
    .await
    .unwrap();
    assert_eq!(local, remote);
}

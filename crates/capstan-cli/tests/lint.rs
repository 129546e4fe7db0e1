//! `capstan lint` and `capstan completion` as a user runs them: the real binary, on the example
//! chart and on broken charts built in temporary directories.

use std::path::{Path, PathBuf};
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

/// Standard output and standard error together.
fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A chart named `broken` in a temporary directory, with these files over a valid minimal chart.
fn chart(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("broken");
    let base = [
        (
            "Chart.yaml",
            "apiVersion: v2\nannotations:\n  capstan.dev/template-syntax: minijinja\nname: broken\nversion: 0.1.0\nicon: https://example.com/i.png\n",
        ),
        ("values.yaml", "replicaCount: 1\nname: web\n"),
        (
            "values.schema.json",
            r#"{"type":"object","properties":{"replicaCount":{"type":"integer"}}}"#,
        ),
        (
            "templates/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ Values.name }}\ndata:\n  replicas: {{ Values.replicaCount | quote }}\n",
        ),
    ];
    for (name, contents) in base.iter().chain(files) {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    (dir, root)
}

fn lint(path: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["lint", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    capstan(&args)
}

/// Asserts that linting failed with exit 1, Helm's summary, and a line containing every needle.
fn assert_fails_with(output: &Output, needles: &[&str]) {
    let all = text(output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(
        all.contains("1 chart(s) linted, 1 chart(s) failed"),
        "{all}"
    );
    assert!(
        all.lines()
            .any(|line| line.starts_with("[ERROR]") && needles.iter().all(|n| line.contains(n))),
        "no [ERROR] line with {needles:?} in:\n{all}"
    );
}

#[test]
fn the_example_chart_passes() {
    let chart = webapp();
    let out = lint(&chart, &[]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.starts_with(&format!("==> Linting {}\n", chart.display())),
        "{all}"
    );
    assert!(
        all.contains("[INFO] Chart.yaml: icon is recommended"),
        "{all}"
    );
    assert!(!all.contains("[ERROR]"), "{all}");
    assert!(
        all.trim_end()
            .ends_with("1 chart(s) linted, 0 chart(s) failed"),
        "{all}"
    );
}

#[test]
fn a_minimal_chart_passes_and_subcharts_are_linted_on_request() {
    let (_dir, root) = chart(&[]);
    let out = lint(&root, &[]);
    assert!(out.status.success(), "{}", text(&out));
    // The only note is the template language read.
    let all = text(&out);
    let notes: Vec<&str> = all.lines().filter(|l| l.contains("[INFO]")).collect();
    assert_eq!(
        notes,
        [
            "[INFO] templates/: templates are read as minijinja (Chart.yaml annotation capstan.dev/template-syntax)"
        ],
        "{}",
        text(&out)
    );
    // Each subchart is linted on its own with the same values, as in Helm; the example's cache
    // subchart reads `global.environment`, which only its parent defines.
    let out = lint(
        &webapp(),
        &["--with-subcharts", "--set", "global.environment=test"],
    );
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("charts/cache\n"), "{all}");
    assert!(
        all.contains("2 chart(s) linted, 0 chart(s) failed"),
        "{all}"
    );
}

#[test]
fn a_template_syntax_error_names_file_line_and_column() {
    let (_dir, root) = chart(&[(
        "templates/broken.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ Values.name | }}
",
    )]);
    let out = lint(&root, &[]);
    assert_fails_with(&out, &["[ERROR] templates/broken.yaml:4:"]);
}

#[test]
fn a_schema_violation_names_the_path_not_the_value() {
    // Values may be secrets: the path and the rule are named, the value is masked.
    let out = lint(&webapp(), &["--set", "replicaCount=lots"]);
    assert_fails_with(
        &out,
        &[
            "[ERROR] values.yaml: replicaCount:",
            "value is not of type \"integer\"",
        ],
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("lots"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("lots"));
}

#[test]
fn an_invalid_chart_version_names_chart_yaml() {
    let (_dir, root) = chart(&[(
        "Chart.yaml",
        "apiVersion: v2\nannotations:\n  capstan.dev/template-syntax: minijinja\nname: broken\nversion: one.two\n",
    )]);
    let out = lint(&root, &[]);
    assert_fails_with(&out, &["[ERROR] Chart.yaml: version \"one.two\"", "SemVer"]);
}

#[test]
fn a_bad_chart_yaml_and_a_bad_values_yaml_are_both_reported() {
    let (_dir, root) = chart(&[
        (
            "Chart.yaml",
            "apiVersion: v3\nname: broken\nversion: 1.0.0\n",
        ),
        ("values.yaml", "replicaCount: [\n"),
    ]);
    let out = lint(&root, &[]);
    assert_fails_with(&out, &["[ERROR] Chart.yaml: apiVersion \"v3\""]);
    assert_fails_with(&out, &["[ERROR] values.yaml:2:1: unable to parse YAML"]);
}

#[test]
fn a_document_without_a_name_names_its_template() {
    let (_dir, root) = chart(&[(
        "templates/nameless.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels:\n    a: b\n",
    )]);
    let out = lint(&root, &[]);
    assert_fails_with(&out, &["templates/nameless.yaml", "metadata.name"]);
}

#[test]
fn an_invalid_object_name_is_an_error() {
    let out = lint(&chart(&[]).1, &["--set", "name=Not_Valid"]);
    assert_fails_with(
        &out,
        &[
            "[ERROR] templates/configmap.yaml:",
            "\"Not_Valid\"",
            "naming requirements",
        ],
    );
}

#[test]
fn strict_turns_a_warning_into_failure() {
    let (dir, root) = chart(&[(
        "templates/ingress.yaml",
        "apiVersion: networking.k8s.io/v1beta1\nkind: Ingress\nmetadata:\n  name: web\n",
    )]);
    let out = lint(&root, &[]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains(
            "[WARNING] templates/ingress.yaml: networking.k8s.io/v1beta1 Ingress is deprecated"
        ),
        "{all}"
    );
    let strict = lint(&root, &["--strict"]);
    let all = text(&strict);
    assert_eq!(strict.status.code(), Some(1), "{all}");
    assert!(
        all.contains("1 chart(s) linted, 1 chart(s) failed"),
        "{all}"
    );
    drop(dir);
}

#[test]
fn completion_prints_a_script_per_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = capstan(&["completion", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out));
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains("capstan"), "{shell}: {script}");
        // Dynamic: the script asks `capstan __complete` (tests/cli_helm.rs runs it).
        assert!(script.contains("__complete"), "{shell}: {script}");
    }
    let powershell = capstan(&["completion", "powershell"]);
    assert!(powershell.status.success() && !powershell.stdout.is_empty());
    let unknown = capstan(&["completion", "tcsh"]);
    assert!(!unknown.status.success());
    assert!(text(&unknown).contains("tcsh"), "{}", text(&unknown));
}

/// As Helm's lint mode: an unmet `required` and a `fail` are reported as `[INFO]` lines on
/// standard error, render as "", and the chart passes (Helm v3.22 does the same with this chart:
/// `[INFO] Missing required value: db.host is required` and `[INFO] Fail: no tls`, exit 0).
#[test]
fn an_unmet_required_and_a_fail_are_info_as_in_helm() {
    let (_dir, root) = chart(&[
        (
            "Chart.yaml",
            "apiVersion: v2\nname: broken\nversion: 0.1.0\nicon: https://example.com/i.png\n",
        ),
        (
            "templates/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  host: {{ required \"db.host is required\" .Values.db }}\n  tls: {{ if not .Values.tls }}{{ fail \"no tls\" }}{{ end }}x\n",
        ),
    ]);
    let out = lint(&root, &[]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[INFO] Missing required value: db.host is required"),
        "{all}"
    );
    assert!(stderr.contains("[INFO] Fail: no tls"), "{all}");
    assert!(!all.contains("[ERROR]"), "{all}");
}

//! Helm's chart lint rules (`helm lint`, Helm's `pkg/lint`) and their messages, for any caller:
//! the `capstan lint` command, or a service that renders charts.
//!
//! Linting one chart has two halves. [`lint_chart`] makes the checks that need only the chart
//! and the user's values: Chart.yaml and values.yaml parse, the chart loads, its metadata, its
//! template files, and the values against `values.schema.json`. The caller then renders the
//! chart as an install would (in Helm's lint mode, where `required` and `fail` do not stop the
//! render) and reports what came back on the [`ChartLint`]: each rendered object
//! ([`ChartLint::check_object`], [`ChartLint::check_hook`]), a template error
//! ([`ChartLint::template_error`]) or a render that failed otherwise
//! ([`ChartLint::render_failed`]).
//!
//! # Main types
//! - [`ChartLint`]: one chart's lint in progress; [`Findings`] of [`Finding`]s, each printed as
//!   Helm prints it (`[SEVERITY] file: problem`), with [`Severity`] and [`Findings::fails`].
//! - [`subcharts`]: the charts `--with-subcharts` lints too.
//! - [`valid_name`] and [`deprecation`]: Kubernetes' naming rules and the API versions Helm
//!   warns about.
//!
//! # Invariants
//! - Findings come in a fixed order (loading, metadata, syntax, files, values, render, objects),
//!   so the same chart and values always give the same report.
//! - No network, cluster or async I/O: the chart is read from the filesystem, the render is the
//!   caller's.

mod chart;
mod finding;
mod lifecycle;
mod objects;

use std::path::{Path, PathBuf};

use capstan_chart::ValueLayer;

pub use finding::{Finding, Findings, Severity, relative};
pub use objects::{DEFAULT_KUBE_VERSION, deprecation, kube_version, valid_name};

/// What the message of a render that failed the values schema contains, whichever service
/// rendered it.
pub const SCHEMA_FAILURE: &str = "values don't meet the specifications";

/// One chart's lint: the findings so far, and whether the chart should be rendered.
#[derive(Debug)]
pub struct ChartLint {
    findings: Findings,
    renders: bool,
    schema_failed: bool,
    kube_version: (u64, u64),
}

/// Makes the checks of the chart at `path` (a directory or an archive) that need no render,
/// with the user's `values` over the chart's defaults.
pub fn lint_chart(path: &Path, values: &[ValueLayer]) -> ChartLint {
    let mut findings = Findings::default();
    let (chart, schema_failed) = chart::check(&mut findings, path, values);
    ChartLint {
        findings,
        renders: chart.is_some_and(|c| !c.metadata.is_library()),
        schema_failed,
        kube_version: DEFAULT_KUBE_VERSION,
    }
}

impl ChartLint {
    /// Whether the chart is to be rendered next: it loaded and is not a library chart.
    pub fn renders(&self) -> bool {
        self.renders
    }

    /// Whether the user's values failed the chart's schema (each violation is a finding).
    pub fn schema_failed(&self) -> bool {
        self.schema_failed
    }

    /// The findings so far.
    pub fn findings(&self) -> &Findings {
        &self.findings
    }

    /// The findings, once the lint is done.
    pub fn into_findings(self) -> Findings {
        self.findings
    }

    /// A template error from the render: `chart/templates/x.yaml:3:12: message` (then any
    /// indented detail lines), reported against the chart-relative file.
    pub fn template_error(&mut self, message: &str) {
        self.findings
            .add_message(Severity::Error, relative(message));
    }

    /// The render failed for another reason (`message` with its causes); a failure of the values
    /// schema is not repeated, as its violations are already reported one by one.
    pub fn render_failed(&mut self, message: &str) {
        if !(self.schema_failed && message.contains(SCHEMA_FAILURE)) {
            self.findings.add(
                Severity::Error,
                "templates/",
                format!("rendering failed: {message}"),
            );
        }
    }

    /// The Kubernetes version (major, minor) the objects are checked for (`--kube-version`;
    /// [`DEFAULT_KUBE_VERSION`] else).
    pub fn set_kube_version(&mut self, version: (u64, u64)) {
        self.kube_version = version;
    }

    /// Checks a rendered object from `source` (`chart/templates/x.yaml`).
    pub fn check_object(&mut self, source: &str, api_version: &str, kind: &str, name: &str) {
        objects::check_object(
            &mut self.findings,
            relative(source),
            api_version,
            kind,
            name,
            self.kube_version,
        );
    }

    /// Checks a rendered hook from `source`, reading its API version from its `yaml`.
    pub fn check_hook(&mut self, source: &str, yaml: &str, kind: &str, name: &str) {
        let api_version = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(yaml)
            .ok()
            .and_then(|v| v.get("apiVersion")?.as_str().map(str::to_string))
            .unwrap_or_default();
        self.check_object(source, &api_version, kind, name);
    }
}

/// Adds the charts under `dir/charts/` (directories with a Chart.yaml, and `.tgz` archives),
/// recursively, as `--with-subcharts` lints them.
pub fn subcharts(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir.join("charts")) else {
        return;
    };
    let mut found: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    found.sort();
    for path in found {
        if path.is_dir() && path.join("Chart.yaml").is_file() {
            out.push(path.clone());
            subcharts(&path, out);
        } else if path.extension().is_some_and(|e| e == "tgz") {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    /// A chart directory with `files` (path, text) under a temporary directory.
    fn chart(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        dir
    }

    fn lines(lint: &ChartLint) -> Vec<String> {
        lint.findings().0.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn findings_come_in_helms_order() {
        let dir = chart(&[
            ("Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n"),
            ("templates/notes.md", "hi\n"),
        ]);
        let mut lint = lint_chart(dir.path(), &[]);
        assert!(lint.renders());
        lint.check_object(
            "web/templates/a.yaml",
            "apps/v1beta2",
            "Deployment",
            "Web_1",
        );
        assert_eq!(
            lines(&lint),
            [
                "[INFO] Chart.yaml: icon is recommended",
                "[INFO] templates/: templates are read as Go templates (Helm's language)",
                "[INFO] values.yaml: file does not exist",
                "[ERROR] templates/notes.md: file extension '.md' not valid. Valid extensions are .yaml, .yml, .tpl, or .txt",
                "[ERROR] templates/a.yaml: object name does not conform to Kubernetes naming requirements: \"Web_1\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
                "[WARNING] templates/a.yaml: apps/v1beta2 Deployment is deprecated in v1.9+, unavailable in v1.16+; use apps/v1 Deployment",
            ]
        );
        assert!(lint.into_findings().fails(false));
    }

    #[test]
    fn a_schema_failure_is_reported_once() {
        let dir = chart(&[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: web\nversion: 0.1.0\nicon: x\n",
            ),
            ("values.yaml", "port: 80\n"),
            (
                "values.schema.json",
                r#"{"properties": {"port": {"type": "integer", "maximum": 100}}}"#,
            ),
            ("templates/cm.yaml", "kind: ConfigMap\n"),
        ]);
        let mut lint = lint_chart(dir.path(), &[ValueLayer::Set("port=500".into())]);
        assert!(lint.schema_failed());
        lint.render_failed(&format!("render: {SCHEMA_FAILURE}: port"));
        lint.render_failed("render: connection refused");
        assert_eq!(
            lines(&lint)[1..],
            [
                "[ERROR] values.yaml: port: value is greater than the maximum of 100",
                "[ERROR] templates/: rendering failed: render: connection refused",
            ]
        );
    }

    #[test]
    fn charts_that_do_not_load_or_are_libraries_are_not_rendered() {
        let broken = chart(&[("values.yaml", "a: [1\n")]);
        let lint = lint_chart(broken.path(), &[]);
        assert!(!lint.renders());
        assert_eq!(
            lines(&lint),
            [
                "[ERROR] values.yaml:2:1: unable to parse YAML: did not find expected ',' or ']'",
                "[ERROR] Chart.yaml: file does not exist",
            ]
        );
        let library = chart(&[(
            "Chart.yaml",
            "apiVersion: v2\nname: lib\nversion: 0.1.0\ntype: library\n",
        )]);
        assert!(!lint_chart(library.path(), &[]).renders());
    }

    #[test]
    fn subcharts_are_found_in_order_and_recursively() {
        let dir = chart(&[
            ("charts/b/Chart.yaml", ""),
            ("charts/b/charts/c/Chart.yaml", ""),
            ("charts/a.tgz", ""),
            ("charts/notes.txt", ""),
            ("charts/empty/values.yaml", ""),
        ]);
        let mut found = Vec::new();
        subcharts(dir.path(), &mut found);
        let names: Vec<_> = found
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["charts/a.tgz", "charts/b", "charts/b/charts/c"]);
    }
}

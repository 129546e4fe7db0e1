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
mod objects;

use std::path::{Path, PathBuf};

use capstan_chart::{ChartType, ValueLayer};

pub use finding::{Finding, Findings, Severity, relative};
pub use objects::{deprecation, valid_name};

/// What the message of a render that failed the values schema contains, whichever service
/// rendered it.
pub const SCHEMA_FAILURE: &str = "values don't meet the specifications";

/// One chart's lint: the findings so far, and whether the chart should be rendered.
#[derive(Debug)]
pub struct ChartLint {
    findings: Findings,
    renders: bool,
    schema_failed: bool,
}

/// Makes the checks of the chart at `path` (a directory or an archive) that need no render,
/// with the user's `values` over the chart's defaults.
pub fn lint_chart(path: &Path, values: &[ValueLayer]) -> ChartLint {
    let mut findings = Findings::default();
    let (chart, schema_failed) = chart::check(&mut findings, path, values);
    ChartLint {
        findings,
        renders: chart.is_some_and(|c| c.metadata.chart_type != ChartType::Library),
        schema_failed,
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

    /// Checks a rendered object from `source` (`chart/templates/x.yaml`).
    pub fn check_object(&mut self, source: &str, api_version: &str, kind: &str, name: &str) {
        objects::check_object(
            &mut self.findings,
            relative(source),
            api_version,
            kind,
            name,
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

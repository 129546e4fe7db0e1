//! capstan's chart renderer: minijinja templates with Helm's names, turned into ordered manifests.
//!
//! A chart ([`capstan_chart::Chart`]) is compiled once into a [`CompiledChart`] (every template
//! of the chart and its subcharts parsed, named templates registered) that can be cached and
//! rendered many times with different values, release and cluster capabilities
//! ([`CompiledChart::render`]). [`render`] does both in one call.
//!
//! # Template language
//! minijinja 2 with Helm's context (`Values`, `Release`, `Chart`, `Capabilities`, `Template`,
//! `Files`) and Helm's function library (`toYaml`, `nindent`, `default`, `required`, `include`,
//! `tpl`, ...), each callable as a function with Helm's argument order and, where it reads
//! naturally, as a filter taking the piped value first: `{{ Values.podAnnotations | toYaml |
//! nindent(8) }}`. Named templates are defined with `{% define "name" %}...{% enddefine %}`
//! (usually in `_helpers.tpl` partials) and rendered to a string with `include("name", ctx)`,
//! where `ctx` is the root context as `.` is in Helm. `docs/charts.md` has the full mapping.
//!
//! # Output
//! [`Rendered`]: non-hook [`Manifest`]s in Helm's install order, each with its
//! `# Source: <chart>/templates/<file>` line ([`Rendered::manifest`]); [`Hook`]s with events,
//! weights and delete policies; `NOTES.txt` rendered separately; the chart's metadata and the
//! merged values.
//!
//! # Invariants
//! - Deterministic: the same chart, values, release and capabilities give byte-identical output.
//!   Maps iterate in key order, `now()` is the release's time and `randAlphaNum` is seeded from
//!   the release.
//! - Bounded: include/tpl depth, macro recursion, instructions per template (fuel), wall-clock
//!   time, output size, the size of any string a function builds and the number of objects are
//!   limited ([`RenderLimits`]); a runaway template is an error, never a hang.
//! - Isolated: templates reach nothing but the chart (no environment, filesystem, network or
//!   cluster): there is no template loader, `include`/`import` find only the chart's compiled
//!   templates, `.Files` holds only the chart's own files, and `lookup` answers only from what the caller
//!   read for it ([`lookup`]).
//! - Errors name the chart-relative file, line and column and the failing expression;
//!   `required` and `fail` messages come through verbatim.
//! - No network, cluster or async I/O.

mod chartfiles;
mod compilekey;
mod context;
mod defines;
mod documents;
mod engine;
mod funcs;
mod go;
mod head;
pub mod lookup;
mod manifest;
mod objects;
mod runs;
mod yaml;

pub use capstan_chart::{SYNTAX_ANNOTATION, TemplateSyntax};
pub use compilekey::compile_key;
pub use context::{Capabilities, ReleaseInfo, RenderLimits};
pub use engine::{CompiledChart, render};
pub use go::{RENDER_SPLIT_ENV, RenderSplit, Translations};
pub use lookup::{LookupKey, Lookups};
pub use manifest::{
    Hook, HookDeletePolicy, HookEvent, INSTALL_ORDER, Manifest, Rendered, install_order_index,
    parse_manifests,
};

/// What kind of template failure an [`Error::Template`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateErrorKind {
    /// The template does not parse.
    Syntax,
    /// Evaluation failed (unknown function, bad argument, undefined value, ...).
    Runtime,
    /// `fail` or `required` stopped rendering; the message is the chart's, verbatim.
    Fail,
    /// A bound was hit: include depth, fuel (instructions), time or output size.
    Limit,
}

/// Errors of compiling and rendering a chart.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Loading, values or schema validation failed.
    #[error(transparent)]
    Chart(#[from] capstan_chart::Error),
    /// A template failed to compile or render.
    #[error("{file}:{line}:{column}: {message}{}{}", expr_suffix(.expr), trail(.included_from))]
    Template {
        /// What went wrong.
        kind: TemplateErrorKind,
        /// Chart-relative file, e.g. `webapp/templates/deployment.yaml`.
        file: String,
        /// 1-based line in that file (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// The failing expression or, without one, the failing line.
        expr: String,
        /// The message; for [`TemplateErrorKind::Fail`] exactly the chart's text.
        message: String,
        /// The include/tpl call sites that led here, innermost first (`file:line`).
        included_from: Vec<String>,
    },
    /// A Go template failed to parse or render; the message is Helm's, naming the Go source's
    /// file, line and column.
    #[error("{message}")]
    Go {
        /// What kind of failure.
        kind: TemplateErrorKind,
        /// Chart-relative file of the template being rendered.
        file: String,
        /// Helm's message, e.g. `template: web/templates/a.yaml:3:7: executing ... at <...>:
        /// ...` or `execution error at (web/templates/a.yaml:3:7): message`.
        message: String,
    },
    /// A rendered document is not a usable manifest.
    #[error("{template}: document {index}: {message}")]
    Manifest {
        /// The template's chart-relative path.
        template: String,
        /// 1-based index of the document among the template's `---`-separated documents.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// The chart's `kubeVersion` excludes the cluster's version.
    #[error(
        "chart {chart} requires kubeVersion {constraint}, which is incompatible with Kubernetes {version}"
    )]
    KubeVersion {
        /// The chart.
        chart: String,
        /// Its `kubeVersion`.
        constraint: String,
        /// The cluster's version.
        version: String,
    },
    /// Library charts provide named templates only.
    #[error("chart {0} is a library chart and cannot be rendered or installed")]
    LibraryChart(String),
    /// The rendered chart is larger than a bound of [`RenderLimits`] allows.
    #[error("{what}, more than the limit of {limit}")]
    Limit {
        /// What was too large, e.g. `chart web renders 20000 objects`.
        what: String,
        /// The limit, e.g. `10000 objects`.
        limit: String,
    },
    /// The capabilities given are unusable.
    #[error("invalid capabilities: {0}")]
    Capabilities(String),
}

fn expr_suffix(expr: &str) -> String {
    if expr.is_empty() {
        String::new()
    } else {
        format!("\n  in: {expr}")
    }
}

fn trail(from: &[String]) -> String {
    from.iter()
        .map(|f| format!("\n  included from {f}"))
        .collect()
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! Helm-compatible charts for capstan: the chart model, safe loading, values and `--set` parsing.
//!
//! This crate is the bottom of capstan's crate graph: it does no network I/O and depends on no
//! async runtime, Kubernetes client or protobuf type. Everything above it (the renderer, the
//! release store, the CLI and the daemons) speaks in its types.
//!
//! # Main types
//! - [`Chart`]: a loaded chart: its [`ChartMetadata`] (`Chart.yaml`), default [`Values`]
//!   (`values.yaml`), optional JSON schema (`values.schema.json`), templates, CRDs, other files and
//!   its subcharts (from `charts/`, as directories or nested archives). Load one with
//!   [`Chart::load_dir`], [`Chart::load_archive`] or [`Chart::load_path`].
//! - [`Limits`]: the bounds every load enforces (archive size, decompressed size, per-file size,
//!   file count, nesting depth).
//! - [`ValueLayer`] and [`user_values`]: the user's values layers (`-f`, `--set`, `--set-string`,
//!   `--set-file`, `--set-json`, `--set-literal`) merged in order; [`strvals`] is Helm's `--set`
//!   syntax.
//! - [`compute_values`]: Helm's `CoalesceValues` with dependency processing: enables or disables
//!   subcharts by condition and tags, applies aliases, scopes subchart values and shares `global`.
//! - [`validate_values`]: `values.schema.json` validation reporting every violation with its path.
//! - [`package_dir`] and [`archive_digest`]: deterministic `.tgz` packaging and its sha256 digest;
//!   [`Chart::dir_files`], [`Chart::from_dir_files`] and [`files_digest`]: a directory's files
//!   read once, digested and built into a chart, for a renderer in the same process (no archive
//!   made).
//! - [`constraint`]: Masterminds-style SemVer constraints (`kubeVersion`, dependency versions,
//!   the renderer's `semverCompare`).
//!
//! # Invariants
//! - Loading never trusts its input: archive entries with `..`, absolute paths, links or special
//!   files are rejected, and every byte read (compressed and decompressed) is counted against
//!   [`Limits`] before it is kept, so a gzip bomb fails with bounded memory.
//! - Everything is deterministic: maps are ordered by key, files are sorted by path, and
//!   [`package_dir`] gives byte-identical archives for identical inputs.

pub mod constraint;
pub mod kinds;
pub mod lenient;
pub mod strvals;

mod archive;
pub mod blockyaml;
mod chart;
mod halves;
mod ignore;
mod metadata;
mod schema;
mod syntax;
mod values;
mod yaml11;

/// The first YAML document of `text` as Helm reads it (go-yaml v2 through `sigs.k8s.io/yaml`,
/// YAML 1.1: `0644` is octal 420, `yes`/`on` are true), or `None` when that reading cannot
/// say; callers parse strictly first, for the error wording, and use this for the values.
pub fn read_yaml11(text: &str) -> Option<serde_json::Value> {
    yaml11::read(text)
}

pub use archive::{archive_digest, files_digest, package_dir, package_files};
pub use chart::{Chart, ChartFile, FileData, Limits};
pub use constraint::parse_version;
pub use halves::map_in_halves;
pub use ignore::HelmIgnore;
pub use metadata::{ChartMetadata, ChartType, Dependency, Maintainer};
pub use schema::{
    SchemaViolation, prepare_validation, prepare_validation_of_files, validate_values,
};
pub use syntax::{SYNTAX_ANNOTATION, TemplateSyntax};
pub use values::{
    MAX_YAML_FLOW_DEPTH, ValueLayer, Values, check_yaml_nesting, coalesce_values, compute_values,
    merge_maps, parse_values_yaml, process_dependencies, resolve_dependencies, set_integer_paths,
    user_values, yaml_to_json,
};

/// Errors of chart loading, values handling and validation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("reading {path}")]
    Io {
        /// The path that could not be read.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The chart has no `Chart.yaml` at its root.
    #[error("{location}: Chart.yaml file is missing")]
    MissingChartYaml {
        /// Where the chart was looked for (a directory, or `archive`).
        location: String,
    },
    /// `Chart.yaml` parsed but is not a valid chart description.
    #[error("{file}: {message}")]
    Metadata {
        /// The chart-relative file, e.g. `webapp/Chart.yaml`.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A YAML file does not parse.
    #[error("{file}:{line}:{column}: yaml does not parse: {message}")]
    Yaml {
        /// The file, chart-relative where it belongs to a chart.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A values file or layer is not a map, or otherwise unusable.
    #[error("{source_name}: {message}")]
    Values {
        /// The values file or flag.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// An archive entry is unsafe or not allowed (`..`, absolute path, link, device).
    #[error("archive entry {entry:?}: {reason}")]
    UnsafeEntry {
        /// The entry's path as written in the archive.
        entry: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A size or count limit was exceeded.
    #[error("{what} exceeds the limit of {limit}")]
    Limit {
        /// What was too large, e.g. `file "webapp/templates/x.yaml" (6000000 bytes)`.
        what: String,
        /// The limit, with its unit.
        limit: String,
    },
    /// The archive is not a valid gzip-compressed tar stream.
    #[error("chart archive is corrupt: {message}")]
    Archive {
        /// What went wrong while reading it.
        message: String,
    },
    /// `.helmignore` has an invalid rule.
    #[error(".helmignore:{line}: {message}")]
    Ignore {
        /// 1-based line of the rule.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A dependency could not be resolved or its values are unusable.
    #[error("chart {chart}: {message}")]
    Dependency {
        /// The chart declaring the dependency.
        chart: String,
        /// What is wrong.
        message: String,
    },
    /// A `--set`-style expression is malformed. Values may be secrets, so neither the message
    /// nor `keys` holds any text after an `=`.
    #[error("{flag} {keys:?}: {message}")]
    Set {
        /// The flag, e.g. `--set`.
        flag: &'static str,
        /// The expression up to its first `=` (the key being set), without any value.
        keys: String,
        /// What is wrong, naming the bad token.
        message: String,
    },
    /// `values.schema.json` is not a valid JSON schema.
    #[error("{file}: invalid JSON schema: {message}")]
    InvalidSchema {
        /// The chart-relative schema file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// The merged values do not satisfy a chart's schema.
    #[error("values don't meet the specifications of the schema(s) in the following chart(s):\n{}", format_violations(.violations))]
    Schema {
        /// Every violation, across the chart and its subcharts.
        violations: Vec<SchemaViolation>,
    },
    /// A SemVer constraint does not parse.
    #[error("invalid version constraint {constraint:?}: {message}")]
    Constraint {
        /// The constraint as given.
        constraint: String,
        /// What is wrong.
        message: String,
    },
}

fn format_violations(violations: &[SchemaViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}: {}", v.chart, v.path, v.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

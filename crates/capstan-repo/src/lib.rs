//! Where charts come from: Helm's classic chart repositories, its files and variables, a
//! content-addressed chart cache, chart references, packaging and dependencies.
//!
//! # Main types
//! - [`HelmPaths`]: Helm's directories and files (`HELM_CONFIG_HOME`, `HELM_CACHE_HOME`,
//!   `HELM_DATA_HOME`, `HELM_REPOSITORY_CONFIG`, `HELM_REPOSITORY_CACHE`, `HELM_REGISTRY_CONFIG`),
//!   so `helm repo add` and capstan share one set-up.
//! - [`RepoFile`] and [`RepoEntry`]: `repositories.yaml`, read and written as Helm does.
//! - [`IndexFile`] and [`ChartVersion`]: a repository's `index.yaml`; [`index_directory`] is
//!   `repo index`, and [`IndexFile::select`] picks a version by a Masterminds constraint.
//! - [`ChartRef`]: what a user names a chart by (`./dir`, `repo/chart`, a URL, `--repo URL`,
//!   `oci://...`), and [`Resolver`], which turns one into archive bytes through the cache.
//! - [`ChartCache`]: archives stored by their sha256 digest, written to a temporary file and
//!   renamed, so nothing half-written is ever read.
//! - [`Access`]: how a repository is reached (credentials, TLS files), and [`fetch`], the one
//!   HTTP download path, which never forwards credentials to another host unless asked to.
//! - [`package`]: `helm package`; [`lock`]: `Chart.lock` and `dependency update|build`;
//!   [`provenance`]: `.prov` files and `--verify`.
//!
//! # Invariants
//! - A chart archive in the cache is named by the sha256 of its bytes, checked when stored; a
//!   digest an index promises is checked before anything is stored or returned.
//! - Credentials go only to the repository's own host (scheme, host and port), unless the
//!   repository was added with `--pass-credentials`.
//! - Every archive read from the network passes [`capstan_chart::Limits`] before use.
//! - An `index.yaml` reads the same whichever way it is read: the parser of its block-style
//!   subset (`capstan_chart::blockyaml`, `fastindex`) answers only where it is sure to agree with
//!   serde_yaml_ng, which reads (or rejects) everything else.

mod access;
mod cache;
mod error;
mod fastindex;
mod fetcher;
mod index;
pub mod lock;
pub mod package;
mod paths;
pub mod provenance;
mod reference;
mod repofile;
mod resolve;
mod search;

pub use access::{Access, fetch, join_url};
pub use cache::{ChartCache, write_atomic};
pub use error::{Error, Result};
pub use fetcher::{ChartFetcher, FetchFuture, FetchedChart};
pub use index::{ChartVersion, IndexFile, index_directory};
pub use index::{chart_version_of_archive, chart_yaml_of_archive};
pub use paths::HelmPaths;
pub use reference::ChartRef;
pub use repofile::{RepoEntry, RepoFile};
pub use resolve::{FetchOptions, MAX_INDEX_BYTES, Resolved, Resolver};
pub use search::{SearchQuery, SearchResult, search};

//! The crate's one error type.

/// Errors of chart repositories, references, the cache, packaging and provenance.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{action} {path}")]
    Io {
        /// What was being done (`reading`, `writing`...).
        action: &'static str,
        /// The path.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A YAML or JSON file did not parse.
    #[error("{what} does not parse: {message}")]
    Parse {
        /// The file and its role, e.g. `index.yaml of repository "stable"`.
        what: String,
        /// The parser's message.
        message: String,
    },
    /// No repository of that name in `repositories.yaml`.
    #[error("repo {name} not found (add it with `capstan repo add {name} URL`)")]
    RepoNotFound {
        /// The repository name.
        name: String,
    },
    /// A repository name is taken by a different repository.
    #[error("repository name ({name}) already exists, please specify a different name")]
    RepoExists {
        /// The repository name.
        name: String,
    },
    /// The repository has no cached index.
    #[error("no cached index for repository {name:?} (try `capstan repo update {name}`)")]
    NoCachedIndex {
        /// The repository name.
        name: String,
    },
    /// The repository's index has no chart of that name.
    #[error("chart {chart:?} not found in repository {repo}")]
    ChartNotFound {
        /// The repository (name or URL).
        repo: String,
        /// The chart name.
        chart: String,
    },
    /// No version of the chart satisfies the constraint.
    #[error("chart {chart:?} version {version:?} not found in repository {repo}{hint}")]
    VersionNotFound {
        /// The repository (name or URL).
        repo: String,
        /// The chart name.
        chart: String,
        /// The requested version or constraint.
        version: String,
        /// Extra advice (e.g. the newest versions), possibly empty.
        hint: String,
    },
    /// A version constraint did not parse.
    #[error("invalid version constraint {constraint:?}: {message}")]
    Constraint {
        /// The constraint as given.
        constraint: String,
        /// Why it is invalid.
        message: String,
    },
    /// A chart reference cannot be used.
    #[error("{0}")]
    Reference(String),
    /// The network request failed (unreachable host, TLS, timeout...).
    #[error("{what}: fetching {url}")]
    Network {
        /// What was being fetched, e.g. `repository "stable" index`.
        what: String,
        /// The URL.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error status.
    #[error("{what}: {url} answered {status}{hint}")]
    Status {
        /// What was being fetched.
        what: String,
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Extra advice (wrong credentials...), possibly empty.
        hint: String,
    },
    /// A download exceeded its size limit.
    #[error("{what}: {url} is larger than the {limit} byte limit")]
    TooLarge {
        /// What was being fetched.
        what: String,
        /// The URL.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// TLS or client set-up failed (a CA, certificate or key file that is not valid PEM).
    #[error("{what}: {message}")]
    Tls {
        /// The file or setting.
        what: String,
        /// Why.
        message: String,
    },
    /// Downloaded bytes do not have the digest the index promises.
    #[error(
        "chart {chart} from repository {repo}: digest mismatch: the index says sha256:{expected}, the archive is sha256:{actual}"
    )]
    DigestMismatch {
        /// The repository.
        repo: String,
        /// The chart and version.
        chart: String,
        /// The digest in the index.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// A chart failed to load (including capstan-chart's limits on hostile archives).
    #[error("chart {chart}")]
    Chart {
        /// The chart and where it came from.
        chart: String,
        /// The loader's error.
        #[source]
        source: capstan_chart::Error,
    },
    /// A provenance file is invalid or does not verify.
    #[error("provenance of {chart}: {message}")]
    Provenance {
        /// The chart archive.
        chart: String,
        /// What is wrong.
        message: String,
    },
    /// Chart dependencies cannot be resolved or built.
    #[error("dependencies of chart {chart}: {message}")]
    Dependency {
        /// The chart directory.
        chart: String,
        /// What is wrong.
        message: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }
}

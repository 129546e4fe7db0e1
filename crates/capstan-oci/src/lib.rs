//! Helm charts in OCI registries, as Helm stores them: the client side of the OCI distribution
//! API over HTTPS (reqwest with rustls) or plain HTTP.
//!
//! # Main types
//! - [`Reference`]: `oci://host[:port]/path/chart[:tag][@digest]`, parsed as Helm parses it (a
//!   `+` in a tag is written `_`).
//! - [`Registry`]: one registry host with its [`Options`] (`--plain-http`,
//!   `--insecure-skip-tls-verify`, `--ca-file`, `--cert-file`/`--key-file`, a [`Credential`]);
//!   it answers `WWW-Authenticate` challenges (basic, or a bearer token from the token server
//!   the challenge names) and reads every body within a limit.
//! - [`chart::resolve`], [`chart::pull`] and [`chart::push`]: `--version` against the tags
//!   (exact versions and Masterminds constraints, [`version`]), pulling and pushing with Helm's
//!   media types and manifest ([`manifest`]).
//! - [`CredentialsFile`]: the docker-style credentials file Helm uses
//!   (`HELM_REGISTRY_CONFIG`, [`credentials::default_path`]).
//!
//! # Invariants
//! - Every blob and manifest is verified against its digest before it is used, and read within
//!   a bound (manifests 4 MiB, charts the archive limit of [`capstan_chart::Limits`]); a pulled
//!   archive is loaded within those limits before it is returned.
//! - Passwords never reach logs or error messages; errors name the registry and the chart.
//! - Credentials are sent only to the registry (and the token server it names); redirects to
//!   another host never carry them.

pub mod auth;
pub mod chart;
pub mod credentials;
pub mod digest;
pub mod manifest;
pub mod reference;
pub mod registry;
pub mod version;

use std::path::PathBuf;

pub use credentials::{Credential, CredentialsFile};
pub use reference::{Reference, is_oci};
pub use registry::{Options, Registry};

/// Errors of OCI registry operations; each names the registry and what was asked of it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A reference does not parse.
    #[error("invalid OCI reference {reference:?}: {message}")]
    Reference {
        /// The reference as given.
        reference: String,
        /// What is wrong.
        message: String,
    },
    /// The registry (or its token server) could not be reached or the transfer broke off.
    #[error("registry {registry} is unreachable (fetching {what})")]
    Unreachable {
        /// The registry host.
        registry: String,
        /// What was being fetched or sent.
        what: String,
        /// The transport's error.
        #[source]
        source: reqwest::Error,
    },
    /// The registry refused the credentials (or anonymous access).
    #[error("registry {registry} refused {credentials} for {what}: {message}")]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// What was asked for.
        what: String,
        /// Which credentials were tried (a user name at most, never a password).
        credentials: String,
        /// The registry's message.
        message: String,
    },
    /// A tag, manifest, blob or repository does not exist.
    #[error("{what} not found in registry {registry}: {message}")]
    NotFound {
        /// The registry host.
        registry: String,
        /// What was looked for.
        what: String,
        /// The registry's message.
        message: String,
    },
    /// No tag satisfies the `--version` constraint.
    #[error("no version of chart {reference} matches {constraint:?} (tags: {tags})")]
    NoMatchingVersion {
        /// The chart's repository.
        reference: String,
        /// The constraint.
        constraint: String,
        /// The tags found.
        tags: String,
    },
    /// The registry answered with an unexpected status.
    #[error("registry {registry} answered {status} for {what}: {message}")]
    Status {
        /// The registry host.
        registry: String,
        /// What was asked for.
        what: String,
        /// The HTTP status code.
        status: u16,
        /// The registry's message.
        message: String,
    },
    /// The registry's answer breaks the protocol.
    #[error("registry {registry}, {what}: {message}")]
    Protocol {
        /// The registry host.
        registry: String,
        /// What was asked for.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// Content does not hash to the digest it was asked for by.
    #[error(
        "digest mismatch for {what} from registry {registry}: expected {expected}, got {actual}"
    )]
    DigestMismatch {
        /// The registry host.
        registry: String,
        /// The blob or manifest.
        what: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// Content is larger than its limit.
    #[error("{what} from registry {registry} is {size} bytes, over the {limit} byte limit")]
    TooLarge {
        /// The registry host.
        registry: String,
        /// The blob or manifest.
        what: String,
        /// Its size (declared, or counted so far).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The manifest is not a Helm chart's.
    #[error("{reference} is not a Helm chart: {message}")]
    NotAChart {
        /// The reference.
        reference: String,
        /// What is missing or wrong.
        message: String,
    },
    /// The chart archive does not load (hostile or broken).
    #[error("chart {reference}: the archive is unusable")]
    Chart {
        /// The reference (or push destination).
        reference: String,
        /// The loader's error.
        #[source]
        source: capstan_chart::Error,
    },
    /// The credentials file is malformed.
    #[error("registry credentials file {path}: {message}")]
    Credentials {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The credentials file could not be read or written.
    #[error("reading or writing registry credentials file {path}")]
    CredentialsIo {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// TLS files or settings are unusable.
    #[error("TLS: {message}")]
    Tls {
        /// What is wrong, naming the file.
        message: String,
    },
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

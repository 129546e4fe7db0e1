//! The crate's one error type.

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong loading security configuration or authorizing a caller.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A token or policy file could not be read.
    #[error("reading {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A token file is malformed.
    #[error("token file {path}: line {line}: {reason}")]
    TokenFile {
        /// The file (or `<text>`).
        path: String,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A policy file is malformed or inconsistent.
    #[error("policy {path}: {reason}")]
    Policy {
        /// The file (or `<text>`).
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The caller could not be authenticated (no credentials, or invalid ones).
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is authenticated but may not do what it asked.
    #[error("{0}")]
    Denied(String),
    /// The tenant's release quota is used up.
    #[error("{0}")]
    Quota(String),
}

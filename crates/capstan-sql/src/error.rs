//! The crate's error type for setting a store up, [`Error`], and its [`Result`] alias.
//!
//! Store operations themselves return [`capstan_release::Error`] like every driver: database
//! failures are its `Backend` variant (driver `sql`) with the PostgreSQL error as the source.

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong while connecting to PostgreSQL and preparing Helm's tables.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection string is not set.
    #[error("{var} is not set: the sql driver needs a PostgreSQL connection string")]
    MissingConnectionString {
        /// The environment variable read.
        var: &'static str,
    },

    /// The connection string does not parse.
    #[error("invalid PostgreSQL connection string")]
    InvalidConnectionString {
        /// The parse error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The server could not be reached or refused the login.
    #[error("connecting to PostgreSQL at {target}")]
    Connect {
        /// Host, port, database and user (never the password).
        target: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// A statement of the schema set-up failed.
    #[error("preparing the release tables: {step}")]
    Migrate {
        /// What was being done.
        step: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// A table exists but does not have the columns or key Helm's driver gives it.
    #[error("table {table} exists but is not Helm's: {reason}")]
    IncompatibleSchema {
        /// The table.
        table: &'static str,
        /// What is missing.
        reason: String,
    },
}

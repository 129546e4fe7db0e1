//! The crate's one error type, [`Error`], and its [`Result`] alias.

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `capstan-release`.
///
/// Messages are lowercase and name what they are about: the release, the revision, or the storage
/// object (`sh.helm.release.v1.<name>.v<N>`). The underlying cause, when there is one, is the
/// error's [`source`](std::error::Error::source) and is not repeated in the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A release name does not follow Helm's rule.
    #[error("invalid release name {name:?}: {reason}")]
    InvalidReleaseName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: String,
    },

    /// A storage object's name is not `sh.helm.release.v1.<name>.v<revision>`.
    #[error("invalid release object name {object:?}: {reason}")]
    InvalidObjectName {
        /// The object name.
        object: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A revision number is not usable (revisions start at 1).
    #[error("invalid revision {revision} for release {name:?}: revisions start at 1")]
    InvalidRevision {
        /// The release.
        name: String,
        /// The rejected revision.
        revision: u32,
    },

    /// A status string is not one of Helm's nine.
    #[error("unknown release status {value:?}")]
    InvalidStatus {
        /// The rejected text.
        value: String,
    },

    /// A time is not in the RFC 3339 form Go writes and reads.
    #[error("invalid time {value:?}: {reason}")]
    InvalidTime {
        /// The text that failed to parse.
        value: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A stored payload is not valid standard base64.
    #[error("decoding release object {object:?}: payload is not valid base64")]
    Base64 {
        /// The storage object the payload came from.
        object: String,
        /// The base64 error.
        #[source]
        source: base64::DecodeError,
    },

    /// A stored payload starts like gzip but cannot be decompressed (corrupt or truncated).
    #[error("decoding release object {object:?}: gzip data is corrupt or truncated")]
    Gzip {
        /// The storage object the payload came from.
        object: String,
        /// The decompression error.
        #[source]
        source: std::io::Error,
    },

    /// A stored payload decompresses to more than the configured limit.
    #[error("decoding release object {object:?}: record expands past the limit of {limit} bytes")]
    TooLarge {
        /// The storage object the payload came from.
        object: String,
        /// The limit, in bytes of JSON.
        limit: u64,
    },

    /// A stored payload is not a release record (bad JSON, missing or wrong-typed fields).
    #[error("decoding release object {object:?}: not a valid release record")]
    Json {
        /// The storage object the payload came from.
        object: String,
        /// The JSON error, with line and column.
        #[source]
        source: serde_json::Error,
    },

    /// A release could not be encoded.
    #[error("encoding release object {object:?}")]
    Encode {
        /// The storage object being written.
        object: String,
        /// The underlying error (JSON or compression).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A storage object's name, labels and payload disagree about which release it holds.
    #[error("release object {object:?} holds {found}, but its {what} says {expected}")]
    Mismatch {
        /// The storage object.
        object: String,
        /// Which piece of metadata disagrees (`name`, `labels`).
        what: &'static str,
        /// What the metadata says.
        expected: String,
        /// What the object actually holds.
        found: String,
    },

    /// A storage object's labels or annotations are missing or malformed.
    #[error("release object {object:?}: {reason}")]
    InvalidMetadata {
        /// The storage object.
        object: String,
        /// What is wrong.
        reason: String,
    },

    /// A chunked record is missing parts, has extra parts or parts of the wrong size.
    #[error("release object {object:?}: chunked payload is incomplete: {reason}")]
    ChunkIncomplete {
        /// The head object of the chunked record.
        object: String,
        /// What is missing or wrong.
        reason: String,
    },

    /// A chunked record's reassembled payload does not match the digest in its head object.
    #[error(
        "release object {object:?}: chunked payload digest mismatch (expected sha256 {expected}, got {actual})"
    )]
    ChunkDigest {
        /// The head object of the chunked record.
        object: String,
        /// The digest recorded in the head.
        expected: String,
        /// The digest of what was reassembled.
        actual: String,
    },

    /// A chunked record's head holds an unreadable manifest.
    #[error("release object {object:?}: invalid chunk manifest: {reason}")]
    ChunkManifest {
        /// The head object.
        object: String,
        /// What is wrong.
        reason: String,
    },

    /// Custom labels use a key reserved for Helm's system labels.
    #[error(
        "custom label {key:?} is reserved for the storage system labels (name, owner, status, version, createdAt, modifiedAt)"
    )]
    ReservedLabel {
        /// The offending key.
        key: String,
    },

    /// A list name filter is not a valid regular expression.
    #[error("invalid name filter {filter:?}")]
    InvalidFilter {
        /// The filter text.
        filter: String,
        /// The regex error.
        #[source]
        source: Box<regex::Error>,
    },

    /// The revision to create already exists (the create compare-and-set lost).
    #[error("release {name:?} revision {revision} in namespace {namespace:?} already exists")]
    AlreadyExists {
        /// Namespace of the release.
        namespace: String,
        /// Name of the release.
        name: String,
        /// The revision.
        revision: u32,
    },

    /// The release (or one revision of it) does not exist.
    #[error("release {name:?}{} in namespace {namespace:?} not found", revision.map(|r| format!(" revision {r}")).unwrap_or_default())]
    NotFound {
        /// Namespace of the release.
        namespace: String,
        /// Name of the release.
        name: String,
        /// The revision asked for, if one was.
        revision: Option<u32>,
    },

    /// The release has no revision in status `deployed`.
    #[error("release {name:?} in namespace {namespace:?} has no deployed releases")]
    NoDeployedReleases {
        /// Namespace of the release.
        namespace: String,
        /// Name of the release.
        name: String,
    },

    /// An update or delete carried a record version that is no longer current: someone else wrote
    /// the record in between. Re-read and retry, or give up.
    #[error(
        "release {name:?} revision {revision} in namespace {namespace:?} was changed concurrently (expected record version {expected}, found {actual})"
    )]
    Conflict {
        /// Namespace of the release.
        namespace: String,
        /// Name of the release.
        name: String,
        /// The revision.
        revision: u32,
        /// The version the caller expected.
        expected: String,
        /// The version actually stored.
        actual: String,
    },

    /// A storage backend failed (used by drivers built on this crate).
    #[error("release storage backend {driver}: {operation}")]
    Backend {
        /// The driver's name (`secret`, `configmap`, `sql`, ...).
        driver: String,
        /// What it was doing, with the object or release it was about.
        operation: String,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// Whether this is [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Whether this is [`Error::AlreadyExists`].
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Error::AlreadyExists { .. })
    }

    /// Whether this is [`Error::Conflict`].
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict { .. })
    }

    /// Whether this is [`Error::NoDeployedReleases`].
    pub fn is_no_deployed_releases(&self) -> bool {
        matches!(self, Error::NoDeployedReleases { .. })
    }

    /// Whether this error is about reading one stored record (bad payload or metadata), as
    /// opposed to the store itself failing. `list` skips and reports such records.
    pub fn is_unreadable_record(&self) -> bool {
        matches!(
            self,
            Error::Base64 { .. }
                | Error::Gzip { .. }
                | Error::TooLarge { .. }
                | Error::Json { .. }
                | Error::Mismatch { .. }
                | Error::InvalidMetadata { .. }
                | Error::InvalidObjectName { .. }
                | Error::ChunkIncomplete { .. }
                | Error::ChunkDigest { .. }
                | Error::ChunkManifest { .. }
        )
    }

    /// The same error, with the storage object it names qualified by `namespace`
    /// (`<namespace>/<object>`), as drivers whose objects live in namespaces report them.
    /// Errors that name no object are returned unchanged.
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        if let Some(object) = self.object_mut() {
            *object = format!("{namespace}/{object}");
        }
        self
    }

    fn object_mut(&mut self) -> Option<&mut String> {
        match self {
            Error::InvalidObjectName { object, .. }
            | Error::Base64 { object, .. }
            | Error::Gzip { object, .. }
            | Error::TooLarge { object, .. }
            | Error::Json { object, .. }
            | Error::Encode { object, .. }
            | Error::Mismatch { object, .. }
            | Error::InvalidMetadata { object, .. }
            | Error::ChunkIncomplete { object, .. }
            | Error::ChunkDigest { object, .. }
            | Error::ChunkManifest { object, .. } => Some(object),
            _ => None,
        }
    }

    /// Builds an [`Error::Backend`] for drivers.
    pub fn backend(
        driver: impl Into<String>,
        operation: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Backend {
            driver: driver.into(),
            operation: operation.into(),
            source: source.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_cross_threads() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
    }

    #[test]
    fn in_namespace_qualifies_the_object() {
        let err = Error::InvalidMetadata {
            object: "sh.helm.release.v1.web.v1".into(),
            reason: "label \"name\" is missing".into(),
        }
        .in_namespace("apps");
        assert_eq!(
            err.to_string(),
            "release object \"apps/sh.helm.release.v1.web.v1\": label \"name\" is missing"
        );
        let err = Error::InvalidStatus { value: "x".into() }.in_namespace("apps");
        assert_eq!(err.to_string(), "unknown release status \"x\"");
    }

    #[test]
    fn backend_errors_keep_their_source() {
        let io = std::io::Error::other("connection reset");
        let err = Error::backend("secret", "create sh.helm.release.v1.web.v1", io);
        assert_eq!(
            err.to_string(),
            "release storage backend secret: create sh.helm.release.v1.web.v1"
        );
        let source = std::error::Error::source(&err).unwrap();
        assert_eq!(source.to_string(), "connection reset");
        assert!(!err.is_unreadable_record());
    }
}

//! The hook through which `oci://` charts are fetched: the OCI client implements
//! [`ChartFetcher`], and dependency resolution and the CLI's resolver call it.

use std::future::Future;
use std::pin::Pin;

use crate::{FetchOptions, Result};

/// A chart fetched by an OCI client.
#[derive(Debug, Clone)]
pub struct FetchedChart {
    /// The `.tgz` bytes (already checked against the registry's digest).
    pub archive: Vec<u8>,
    /// The exact version (tag) fetched.
    pub version: String,
    /// The manifest or archive digest (`sha256:...`), as the registry names it.
    pub digest: String,
}

/// The future a [`ChartFetcher`] returns.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<FetchedChart>> + Send + 'a>>;

/// Fetches charts by `oci://` reference (`oci://host/path/chart[:tag|@digest]`), resolving
/// `options.version` (a version or constraint) against the registry's tags.
pub trait ChartFetcher: Send + Sync {
    /// Fetches `reference` with `options` (version, credentials, TLS).
    fn fetch<'a>(&'a self, reference: &'a str, options: &'a FetchOptions) -> FetchFuture<'a>;
}

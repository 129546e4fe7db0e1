//! Chooses the release storage driver as Helm does, from `HELM_DRIVER`:
//!
//! | `HELM_DRIVER` | driver | where records live |
//! |---|---|---|
//! | unset, empty, `secret`, `secrets` | [`SecretStore`] | Secrets `sh.helm.release.v1.NAME.vN` |
//! | `configmap`, `configmaps` | [`ConfigMapStore`] | ConfigMaps of the same names |
//! | `memory` | [`MemoryStore`] | this process only |
//! | `sql` | [`SqlStore`] | PostgreSQL at `HELM_DRIVER_SQL_CONNECTION_STRING` |
//!
//! Invariant: every driver is opened behind the one `ReleaseStore` trait, so nothing above this
//! crate knows which one it talks to.
//!
//! [`SecretStore`]: capstan_kube::store::SecretStore
//! [`ConfigMapStore`]: capstan_kube::store::ConfigMapStore
//! [`MemoryStore`]: capstan_release::MemoryStore
//! [`SqlStore`]: capstan_sql::SqlStore

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use capstan_kube::store::{ConfigMapStore, SecretStore};
use capstan_release::{MemoryStore, ReleaseStore};
use capstan_sql::SqlStore;

/// The variable Helm reads the driver from.
pub const DRIVER_ENV: &str = "HELM_DRIVER";

/// Errors of choosing or opening a driver.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `HELM_DRIVER` names no driver.
    #[error(
        "unknown storage driver {0:?} (HELM_DRIVER): expected secret, configmap, memory or sql"
    )]
    UnknownDriver(String),
    /// The sql driver has no connection string.
    #[error("the sql storage driver needs HELM_DRIVER_SQL_CONNECTION_STRING")]
    MissingConnectionString,
    /// The sql driver could not connect or set up its tables.
    #[error("opening the sql storage driver")]
    Sql(#[source] capstan_sql::Error),
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A storage driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    /// Secrets (Helm's default).
    Secret,
    /// ConfigMaps.
    ConfigMap,
    /// In memory, for this process only.
    Memory,
    /// PostgreSQL.
    Sql,
}

impl FromStr for Driver {
    type Err = Error;

    fn from_str(s: &str) -> Result<Driver> {
        match s {
            "" | "secret" | "secrets" => Ok(Driver::Secret),
            "configmap" | "configmaps" => Ok(Driver::ConfigMap),
            "memory" => Ok(Driver::Memory),
            "sql" => Ok(Driver::Sql),
            other => Err(Error::UnknownDriver(other.to_string())),
        }
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Driver::Secret => "secret",
            Driver::ConfigMap => "configmap",
            Driver::Memory => "memory",
            Driver::Sql => "sql",
        })
    }
}

impl Driver {
    /// The driver `HELM_DRIVER` names (Secrets when unset).
    pub fn from_env() -> Result<Driver> {
        std::env::var(DRIVER_ENV).unwrap_or_default().parse()
    }
}

/// Where releases are stored: the driver and, for sql, the connection string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageConfig {
    /// The driver.
    pub driver: Driver,
    /// The PostgreSQL connection string, for [`Driver::Sql`].
    pub sql_connection_string: Option<String>,
}

impl StorageConfig {
    /// The configuration Helm would use: `HELM_DRIVER` and `HELM_DRIVER_SQL_CONNECTION_STRING`.
    pub fn from_env() -> Result<StorageConfig> {
        Ok(StorageConfig {
            driver: Driver::from_env()?,
            sql_connection_string: std::env::var(capstan_sql::CONNECTION_STRING_ENV)
                .ok()
                .filter(|s| !s.is_empty()),
        })
    }

    /// A configuration with `driver` and no connection string.
    pub fn driver(driver: Driver) -> StorageConfig {
        StorageConfig {
            driver,
            sql_connection_string: None,
        }
    }
}

/// Opens the configured driver for `namespace`.
pub async fn open(
    config: &StorageConfig,
    client: kube::Client,
    namespace: &str,
) -> Result<Arc<dyn ReleaseStore>> {
    Ok(match config.driver {
        Driver::Secret => Arc::new(SecretStore::new(client, namespace)),
        Driver::ConfigMap => Arc::new(ConfigMapStore::new(client, namespace)),
        Driver::Memory => Arc::new(MemoryStore::new()),
        Driver::Sql => {
            let connection = config
                .sql_connection_string
                .as_deref()
                .ok_or(Error::MissingConnectionString)?;
            Arc::new(SqlStore::connect(connection).await.map_err(Error::Sql)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_are_named_as_helm_names_them() {
        for (name, driver) in [
            ("", Driver::Secret),
            ("secret", Driver::Secret),
            ("secrets", Driver::Secret),
            ("configmap", Driver::ConfigMap),
            ("configmaps", Driver::ConfigMap),
            ("memory", Driver::Memory),
            ("sql", Driver::Sql),
        ] {
            assert_eq!(name.parse::<Driver>().unwrap(), driver, "{name:?}");
        }
        let error = "etcd".parse::<Driver>().unwrap_err();
        assert!(error.to_string().contains("\"etcd\""), "{error}");
    }
}

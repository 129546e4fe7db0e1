//! PostgreSQL for tests of the sql storage driver: a reachable server, and a fresh database per
//! test, dropped afterwards.
//!
//! The server is the one `CAPSTAN_TEST_POSTGRES` names (an admin connection string: a role that
//! may create databases), or else the machine's Debian cluster: when
//! `postgres://capstan:capstan@127.0.0.1:5432/postgres` does not answer, `.ci/postgres.sh` is run
//! (it installs PostgreSQL when missing, starts the cluster, and sets up the `capstan` role) and
//! the connection string it prints is used.
//!
//! ```no_run
//! # async fn example() {
//! capstan_testkit::postgres::with_database("sql-get", |db| async move {
//!     let url = db.url(); // postgres://…/capstan_sql_get_x7k2q9?sslmode=disable
//!     // ... connect, test ...
//!     Ok(())
//! })
//! .await;
//! # }
//! ```

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::process::Command;
use std::str::FromStr as _;
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::FutureExt as _;
use rand::distr::{Alphanumeric, SampleString as _};
use tokio::sync::OnceCell;
use tokio_postgres::{Client, Config, NoTls};

/// The environment variable naming the server to test against (an admin connection string).
pub const POSTGRES_ENV: &str = "CAPSTAN_TEST_POSTGRES";

/// The connection string of the local cluster as `.ci/postgres.sh` sets it up.
pub const LOCAL_ADMIN_URL: &str = "postgres://capstan:capstan@127.0.0.1:5432/postgres";

/// Opens a connection with `conn` (any libpq form) and drives it on the current runtime.
pub async fn connect(conn: &str) -> anyhow::Result<Client> {
    let config = Config::from_str(conn).context("parsing the PostgreSQL connection string")?;
    let (client, connection) = tokio::time::timeout(Duration::from_secs(10), config.connect(NoTls))
        .await
        .context("PostgreSQL did not answer within 10s")??;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// The admin connection string of a reachable server, starting (or installing) the local
/// Debian cluster when needed. Checked once per test binary.
pub async fn admin_url() -> anyhow::Result<String> {
    static URL: OnceCell<String> = OnceCell::const_new();
    URL.get_or_try_init(|| async {
        if let Some(url) = std::env::var(POSTGRES_ENV).ok().filter(|s| !s.is_empty()) {
            connect(&url)
                .await
                .with_context(|| format!("connecting to {POSTGRES_ENV}"))?;
            return Ok(url);
        }
        if connect(LOCAL_ADMIN_URL).await.is_ok() {
            return Ok(LOCAL_ADMIN_URL.to_owned());
        }
        eprintln!("capstan-testkit: no PostgreSQL answers; running .ci/postgres.sh");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/postgres.sh");
        let output = tokio::task::spawn_blocking(move || Command::new("bash").arg(script).output())
            .await?
            .context("running .ci/postgres.sh")?;
        if !output.status.success() {
            bail!(
                ".ci/postgres.sh failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let url = stdout
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(&format!("{POSTGRES_ENV}=")))
            .context(".ci/postgres.sh printed no connection string")?
            .trim()
            .to_owned();
        connect(&url)
            .await
            .with_context(|| format!("connecting to {url} after .ci/postgres.sh"))?;
        Ok(url)
    })
    .await
    .cloned()
}

/// `conn` with its database replaced by `dbname`, and `sslmode=disable` unless it sets an
/// sslmode (Helm's driver defaults to `require`). Handles both libpq forms.
pub fn with_dbname(conn: &str, dbname: &str) -> String {
    let conn = conn.trim();
    if let Some((scheme, rest)) = conn.split_once("://") {
        let (main, query) = match rest.split_once('?') {
            Some((m, q)) => (m, Some(q)),
            None => (rest, None),
        };
        let authority = main.split_once('/').map_or(main, |(a, _)| a);
        let mut params: Vec<String> = query
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("dbname="))
            .map(str::to_owned)
            .collect();
        if !params.iter().any(|p| p.starts_with("sslmode=")) {
            params.push("sslmode=disable".into());
        }
        format!("{scheme}://{authority}/{dbname}?{}", params.join("&"))
    } else {
        let mut out = format!("{conn} dbname={dbname}");
        if !conn.contains("sslmode=") {
            out.push_str(" sslmode=disable");
        }
        out
    }
}

/// A database created for one test.
#[derive(Clone, Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDatabase {
    /// Creates `capstan_<prefix>_<random>` on the test server.
    pub async fn create(prefix: &str) -> anyhow::Result<TestDatabase> {
        let admin_url = admin_url().await?;
        let prefix: String = prefix
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(30)
            .collect();
        let suffix = Alphanumeric
            .sample_string(&mut rand::rng(), 6)
            .to_lowercase();
        let name = format!("capstan_{prefix}_{suffix}");
        let admin = connect(&admin_url).await?;
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .with_context(|| format!("creating database {name}"))?;
        Ok(TestDatabase {
            url: with_dbname(&admin_url, &name),
            name,
            admin_url,
        })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection string for the database (URL or key=value, as the admin one), with
    /// `sslmode=disable` unless the admin string sets one: usable by capstan and by Helm
    /// (`HELM_DRIVER_SQL_CONNECTION_STRING`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new connection to the database.
    pub async fn connect(&self) -> anyhow::Result<Client> {
        connect(&self.url).await
    }

    /// Drops the database, closing any connection still open to it.
    pub async fn drop_database(&self) -> anyhow::Result<()> {
        let admin = connect(&self.admin_url).await?;
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .await
            .with_context(|| format!("dropping database {}", self.name))?;
        Ok(())
    }
}

/// Runs `test` with a fresh database, then drops it unless `CAPSTAN_KEEP_DATABASES` is set.
/// Panics (failing the test) if `test` fails, naming the database.
pub async fn with_database<F, Fut>(prefix: &str, test: F)
where
    F: FnOnce(TestDatabase) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let db = TestDatabase::create(prefix)
        .await
        .unwrap_or_else(|error| panic!("creating a test database: {error:#}"));
    let outcome = AssertUnwindSafe(test(db.clone())).catch_unwind().await;
    let keep =
        std::env::var_os("CAPSTAN_KEEP_DATABASES").is_some_and(|v| !v.is_empty() && v != "0");
    if keep {
        eprintln!(
            "keeping database {} (CAPSTAN_KEEP_DATABASES is set): {}",
            db.name(),
            db.url()
        );
    } else if let Err(error) = db.drop_database().await {
        eprintln!("dropping database {}: {error:#}", db.name());
    }
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(error)) => panic!("test failed with database {}: {error:?}", db.name()),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

#[cfg(test)]
mod tests {
    use super::with_dbname;

    #[test]
    fn database_in_connection_strings() {
        assert_eq!(
            with_dbname("postgres://u:p@127.0.0.1:5432/postgres", "t1"),
            "postgres://u:p@127.0.0.1:5432/t1?sslmode=disable"
        );
        assert_eq!(
            with_dbname("postgresql://u@h?sslmode=prefer&connect_timeout=5", "t1"),
            "postgresql://u@h/t1?sslmode=prefer&connect_timeout=5"
        );
        assert_eq!(
            with_dbname("host=127.0.0.1 user=u password=p", "t1"),
            "host=127.0.0.1 user=u password=p dbname=t1 sslmode=disable"
        );
    }
}

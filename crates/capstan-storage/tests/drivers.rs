//! Every driver `HELM_DRIVER` can name, opened for real and used through the one trait.

use capstan_release::{Release, ReleaseStore, Status};
use capstan_storage::{Driver, StorageConfig, open};

async fn round_trip(store: &dyn ReleaseStore, namespace: &str) -> anyhow::Result<()> {
    let release = Release::new("web", namespace, 1, Status::Deployed);
    store.create(&release).await?;
    let latest = store.latest(namespace, "web").await?;
    assert_eq!(latest.release.version, 1);
    assert_eq!(latest.release.info.status, Status::Deployed);
    Ok(())
}

#[tokio::test]
async fn secret_configmap_and_memory_drivers_open_and_work() {
    for driver in [Driver::Secret, Driver::ConfigMap, Driver::Memory] {
        capstan_testkit::with_namespace("drivers", |ns| async move {
            let store = open(&StorageConfig::driver(driver), ns.client(), ns.name()).await?;
            round_trip(store.as_ref(), ns.name()).await
        })
        .await;
    }
}

#[tokio::test]
async fn the_sql_driver_opens_from_its_connection_string() {
    let client = capstan_testkit::client()
        .await
        .expect("the local control plane");
    let missing = open(&StorageConfig::driver(Driver::Sql), client.clone(), "apps").await;
    assert!(matches!(
        missing,
        Err(capstan_storage::Error::MissingConnectionString)
    ));
    capstan_testkit::postgres::with_database("drivers", |db| async move {
        let config = StorageConfig {
            driver: Driver::Sql,
            sql_connection_string: Some(db.url().to_string()),
        };
        let store = open(&config, client, "apps").await?;
        round_trip(store.as_ref(), "apps").await
    })
    .await;
}

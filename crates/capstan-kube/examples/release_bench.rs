//! Fills a cluster with releases through capstan's Secret store and reads them back, for
//! `cargo xtask bench list`:
//!
//! - `populate --namespaces N --releases R --revisions V`: R releases spread over N namespaces
//!   (`bench-list-<i>`), each with V revisions (the last deployed, the others superseded), every
//!   record carrying the example chart's templates as a real release does;
//! - `list`: `list -A` from object metadata (what `capstan list -A` runs), printing one line per release;
//! - `history NAMESPACE NAME`: every revision of one release.

use std::path::PathBuf;
use std::sync::Arc;

use capstan_kube::store::SecretStore;
use capstan_release::{
    ChartFile, ChartMetadata, GoTime, ListFilter, Release, ReleaseStore, Status, StoredChart,
};
use clap::{Parser, Subcommand};
use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Populate {
        #[arg(long, default_value_t = 10)]
        namespaces: usize,
        #[arg(long, default_value_t = 1000)]
        releases: usize,
        #[arg(long, default_value_t = 3)]
        revisions: u32,
        /// The chart whose templates every record carries.
        #[arg(long, default_value = "examples/charts/webapp")]
        chart: PathBuf,
        /// Name prefix of the releases.
        #[arg(long, default_value = "app")]
        prefix: String,
    },
    List,
    History {
        namespace: String,
        name: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let client = Client::try_default().await?;
    match Args::parse().command {
        Cmd::Populate {
            namespaces,
            releases,
            revisions,
            chart,
            prefix,
        } => {
            let chart = Arc::new(stored_chart(&chart)?);
            let ns_api: Api<Namespace> = Api::all(client.clone());
            for i in 0..namespaces {
                let ns: Namespace = serde_json::from_value(
                    json!({"metadata": {"name": format!("bench-list-{i}")}}),
                )?;
                let _ = ns_api.create(&PostParams::default(), &ns).await;
            }
            let jobs = (0..releases).map(|r| {
                let client = client.clone();
                let chart = chart.clone();
                let prefix = prefix.clone();
                async move {
                    let namespace = format!("bench-list-{}", r % namespaces);
                    let store = SecretStore::new(client, namespace.clone());
                    let name = format!("{prefix}-{r:04}");
                    for revision in 1..=revisions {
                        let status = if revision == revisions {
                            Status::Deployed
                        } else {
                            Status::Superseded
                        };
                        store
                            .create(&release(&namespace, &name, revision, status, &chart))
                            .await?;
                    }
                    anyhow::Ok(())
                }
            });
            let results: Vec<anyhow::Result<()>> = futures::stream::iter(jobs)
                .buffer_unordered(16)
                .collect()
                .await;
            for result in results {
                result?;
            }
            println!(
                "populated {releases} releases x {revisions} revisions in {namespaces} namespaces"
            );
        }
        Cmd::List => {
            let store = SecretStore::new(client, "default");
            let listing = store.list_summaries(&ListFilter::all_namespaces()).await?;
            for s in &listing.items {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    s.name,
                    s.namespace,
                    s.revision,
                    s.status,
                    s.chart.as_deref().unwrap_or_default(),
                    s.app_version.as_deref().unwrap_or_default()
                );
            }
            eprintln!(
                "{} releases, {} unreadable",
                listing.items.len(),
                listing.unreadable.len()
            );
        }
        Cmd::History { namespace, name } => {
            let store = SecretStore::new(client, namespace.clone());
            let history = store.history(&namespace, &name).await?;
            for stored in &history {
                let r = &stored.release;
                println!("{}\t{}\t{}", r.version, r.info.status, r.info.description);
            }
        }
    }
    Ok(())
}

fn stored_chart(dir: &std::path::Path) -> anyhow::Result<StoredChart> {
    let mut templates = Vec::new();
    for entry in std::fs::read_dir(dir.join("templates"))? {
        let path = entry?.path();
        if path.is_file() {
            let name = format!(
                "templates/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            templates.push(ChartFile::new(&name, std::fs::read(&path)?));
        }
    }
    templates.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(StoredChart {
        metadata: Some(ChartMetadata {
            api_version: "v2".into(),
            name: "webapp".into(),
            version: "0.1.0".into(),
            app_version: "1.27.0".into(),
            ..ChartMetadata::default()
        }),
        templates,
        values: Some(serde_json::from_value(
            json!({"replicaCount": 1, "image": {"repository": "nginx"}}),
        )?),
        ..StoredChart::default()
    })
}

fn release(
    namespace: &str,
    name: &str,
    revision: u32,
    status: Status,
    chart: &StoredChart,
) -> Release {
    let mut r = Release::new(name, namespace, revision, status);
    r.chart = Some(chart.clone());
    r.config = serde_json::from_value(json!({"replicaCount": revision})).unwrap_or_default();
    r.manifest = format!(
        "---\n# Source: webapp/templates/configmap.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  revision: \"{revision}\"\n"
    );
    let now = GoTime::now();
    r.info.first_deployed = Some(now);
    r.info.last_deployed = Some(now);
    r.info.description = if revision == 1 {
        "Install complete".into()
    } else {
        "Upgrade complete".into()
    };
    r
}

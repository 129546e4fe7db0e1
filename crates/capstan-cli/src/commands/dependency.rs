//! `capstan dependency list|update|build`: a chart's `charts/` and `Chart.lock`, as Helm keeps them.

use anyhow::Context as _;
use capstan_repo::lock::{self, UpdateOptions, UpdateReport};

use crate::cli::Global;
use crate::console::{out, outln};
use crate::output;
use crate::sources::{DependencyArgs, DependencyCommand};

/// Runs one `dependency` command.
pub async fn run(global: &Global, command: DependencyCommand) -> anyhow::Result<u8> {
    match command {
        DependencyCommand::List(args) => list(&args),
        DependencyCommand::Update(args) => {
            let report = lock::update(
                &crate::chart::resolver(global),
                &args.chart,
                &options(global, &args),
            )
            .await
            .with_context(|| format!("updating the dependencies of {}", args.chart.display()))?;
            print(&report);
            Ok(0)
        }
        DependencyCommand::Build(args) => {
            let report = lock::build(
                &crate::chart::resolver(global),
                &args.chart,
                &options(global, &args),
            )
            .await
            .with_context(|| format!("building the dependencies of {}", args.chart.display()))?;
            print(&report);
            Ok(0)
        }
    }
}

fn options(global: &Global, args: &DependencyArgs) -> UpdateOptions {
    UpdateOptions {
        oci: crate::chart::oci_fetcher(global, &Default::default()),
        skip_refresh: args.skip_refresh,
        fetch: capstan_repo::FetchOptions {
            username: args.username.clone(),
            password: args.password.clone(),
            ca_file: args.ca_file.clone(),
            insecure_skip_tls_verify: args.insecure_skip_tls_verify,
            ..Default::default()
        },
    }
}

fn print(report: &UpdateReport) {
    if !report.refreshed.is_empty() {
        outln!("Hang tight while we grab the latest from your chart repositories...");
        for name in &report.refreshed {
            outln!("...Successfully got an update from the {name:?} chart repository");
        }
        outln!("Update Complete. \u{2388}Happy Helming!\u{2388}");
    }
    outln!("Saving {} charts", report.saved.len());
    for saved in &report.saved {
        outln!("Saved {saved}");
    }
    outln!("Deleting outdated charts");
}

fn list(args: &DependencyArgs) -> anyhow::Result<u8> {
    let deps = lock::list(&args.chart)?;
    if deps.is_empty() {
        outln!(
            "WARNING: no dependencies at {}",
            args.chart.join("charts").display()
        );
        return Ok(0);
    }
    let mut rows = vec![
        ["NAME", "VERSION", "REPOSITORY", "STATUS"]
            .map(String::from)
            .to_vec(),
    ];
    rows.extend(
        deps.into_iter()
            .map(|d| vec![d.name, d.version, d.repository, d.status]),
    );
    out!("{}", output::table(&rows));
    outln!();
    Ok(0)
}

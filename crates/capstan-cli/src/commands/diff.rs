//! `capstan diff upgrade|rollback|revision`: what would change, per object, as the helm-diff
//! plugin shows it (see [`crate::diff`]). Secrets are masked; `--detailed-exitcode` exits 2 when
//! there are changes. `diff upgrade --three-way` compares the live objects with what a server-side
//! dry run of the upgrade says they would become, so drift made by hand shows up too.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;

use anyhow::{Context as _, bail};
use capstan_proto::applier::v1 as pb;

use super::release::{UpgradeRender, render_upgrade};
use crate::cli::{DiffCommand, DiffOutput, DiffUpgradeArgs, Global};
use crate::console::out;
use crate::{applier, diff, exit};

/// Runs one `diff` command and returns its exit code.
pub async fn run(global: &Global, command: DiffCommand) -> anyhow::Result<u8> {
    let namespace = global.namespace();
    let mut client = applier::connect(global).await?;
    let (old, new, output) = match command {
        DiffCommand::Upgrade(args) if args.three_way => {
            return three_way(global, &mut client, &namespace, *args).await;
        }
        DiffCommand::Upgrade(args) => {
            let UpgradeRender {
                previous_manifest,
                rendered,
                ..
            } = render_upgrade(
                global,
                &mut client,
                &args.name,
                crate::chart::ChartSpec {
                    reference: &args.chart,
                    version: args.version.as_deref(),
                    source: &args.source,
                },
                &args.values.layers()?,
                &args.value_mode,
                super::release::RenderOptions::default(),
            )
            .await?;
            (previous_manifest, rendered.manifest, args.output)
        }
        DiffCommand::Rollback(args) => {
            let current = revision(&mut client, &args.name, &namespace, 0).await?;
            let latest = current.release.as_ref().map_or(0, |r| r.revision);
            let target = match args.revision {
                Some(r) => r,
                None if latest > 1 => latest - 1,
                None => bail!(
                    "release {:?} has no revision before {latest} to roll back to",
                    args.name
                ),
            };
            let target = revision(&mut client, &args.name, &namespace, target).await?;
            (current.manifest, target.manifest, args.output)
        }
        DiffCommand::Revision(args) => {
            let from = revision(&mut client, &args.name, &namespace, args.from).await?;
            let to = revision(&mut client, &args.name, &namespace, args.to.unwrap_or(0)).await?;
            (from.manifest, to.manifest, args.output)
        }
    };
    show(&old, &new, &namespace, &output)
}

/// One revision of a release (0: the latest).
async fn revision(
    client: &mut applier::Client,
    name: &str,
    namespace: &str,
    revision: u32,
) -> anyhow::Result<pb::GetResponse> {
    Ok(client
        .get(pb::GetRequest {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            revision,
            all_values: false,
        })
        .await
        .map_err(exit::status)?
        .into_inner())
}

/// `diff upgrade --three-way`: a server-side dry run of the upgrade through the applier, whose
/// object events carry each object as it is and as it would be.
async fn three_way(
    global: &Global,
    client: &mut applier::Client,
    namespace: &str,
    args: DiffUpgradeArgs,
) -> anyhow::Result<u8> {
    let UpgradeRender {
        rendered,
        expected_revision,
        ..
    } = render_upgrade(
        global,
        client,
        &args.name,
        crate::chart::ChartSpec {
            reference: &args.chart,
            version: args.version.as_deref(),
            source: &args.source,
        },
        &args.values.layers()?,
        &args.value_mode,
        super::release::RenderOptions {
            reads_cluster: true,
            subchart_notes: false,
        },
    )
    .await?;
    let mut stream = client
        .upgrade(pb::UpgradeRequest {
            name: args.name.clone(),
            namespace: namespace.to_owned(),
            render: Some(rendered),
            expected_revision: Some(expected_revision),
            install: true,
            dry_run: pb::DryRunMode::Server.legacy_name().into(),
            dry_run_mode: pb::DryRunMode::Server as i32,
            ..Default::default()
        })
        .await
        .map_err(exit::status)?
        .into_inner();
    let mut objects = diff::LiveObjects::default();
    while let Some(event) = stream.message().await.map_err(exit::status)? {
        match event.event {
            Some(pb::operation_event::Event::Object(o)) => objects
                .add(namespace, &o.live_json, &o.planned_json)
                .context("reading an object of the dry run")?,
            Some(pb::operation_event::Event::Result(result)) => {
                if let Some(error) = result.error {
                    return Err(anyhow::Error::new(exit::ServiceError {
                        code: tonic::Code::from(error.code),
                        message: error.message,
                    }));
                }
                break;
            }
            _ => {}
        }
    }
    print_diffs(&objects.live, &objects.planned, &args.output)
}

fn show(old: &str, new: &str, namespace: &str, output: &DiffOutput) -> anyhow::Result<u8> {
    let old = diff::objects(old, namespace).context("reading the current manifest")?;
    let new = diff::objects(new, namespace).context("reading the new manifest")?;
    print_diffs(&old, &new, output)
}

fn print_diffs(
    old: &BTreeMap<diff::ObjectId, serde_json::Value>,
    new: &BTreeMap<diff::ObjectId, serde_json::Value>,
    output: &DiffOutput,
) -> anyhow::Result<u8> {
    let diffs = diff::diff(old, new, output.context);
    let color = !output.no_color && std::io::stdout().is_terminal();
    out!("{}", diff::render(&diffs, color));
    Ok(if output.detailed_exitcode && !diffs.is_empty() {
        exit::DIFF_FOUND
    } else {
        0
    })
}

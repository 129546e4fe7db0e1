//! `list`, `history`, `status` and `get`: unary reads from the applier, printed as Helm does.

use capstan_proto::applier::v1 as pb;
use serde::Serialize;

use crate::applier;
use crate::cli::{Format, GetArgs, GetCommand, Global, HistoryArgs, ListArgs, StatusArgs};
use crate::console::{eoutln, out, outln};
use crate::exit;
use crate::output;

/// A `list -o json|yaml` row, with Helm's field names.
#[derive(Serialize)]
struct ListRow<'a> {
    name: &'a str,
    namespace: &'a str,
    revision: String,
    updated: String,
    status: &'a str,
    chart: &'a str,
    app_version: &'a str,
}

/// A `history -o json|yaml` row, with Helm's field names.
#[derive(Serialize)]
struct HistoryRow<'a> {
    revision: u32,
    updated: &'a str,
    status: &'a str,
    chart: &'a str,
    app_version: &'a str,
    description: &'a str,
}

/// Prints on standard error each release record the applier skipped because it cannot be read
/// (the message names the object and why).
fn warn_unreadable(unreadable: &[String]) {
    for record in unreadable {
        eoutln!("warning: skipped an unreadable release record: {record}");
    }
}

/// `capstan list`.
pub async fn list(global: &Global, args: ListArgs) -> anyhow::Result<u8> {
    let mut states = Vec::new();
    for (on, name) in [
        (args.deployed, "deployed"),
        (args.failed, "failed"),
        (args.pending, "pending"),
        (args.superseded, "superseded"),
        (args.uninstalled, "uninstalled"),
        (args.uninstalling, "uninstalling"),
    ] {
        if on {
            states.push(name.to_string());
        }
    }
    if args.all {
        states.clear();
    }
    let mut client = applier::connect(global).await?;
    let response = client
        .list(pb::ListRequest {
            namespace: global.namespace(),
            all_namespaces: args.all_namespaces,
            states,
            filter: args.filter.clone().unwrap_or_default(),
        })
        .await
        .map_err(exit::status)?
        .into_inner();
    warn_unreadable(&response.unreadable);
    let releases = &response.releases;
    if args.short {
        for r in releases {
            outln!("{}", r.name);
        }
        return Ok(0);
    }
    match args.output {
        Format::Table => {
            let mut rows = Vec::new();
            if !args.no_headers {
                rows.push(
                    [
                        "NAME",
                        "NAMESPACE",
                        "REVISION",
                        "UPDATED",
                        "STATUS",
                        "CHART",
                        "APP VERSION",
                    ]
                    .map(String::from)
                    .to_vec(),
                );
            }
            for r in releases {
                rows.push(vec![
                    r.name.clone(),
                    r.namespace.clone(),
                    r.revision.to_string(),
                    output::go_default(&r.last_deployed),
                    r.status.clone(),
                    r.chart.clone(),
                    r.app_version.clone(),
                ]);
            }
            out!("{}", output::table(&rows));
        }
        format => {
            let rows: Vec<ListRow<'_>> = releases
                .iter()
                .map(|r| ListRow {
                    name: &r.name,
                    namespace: &r.namespace,
                    revision: r.revision.to_string(),
                    updated: output::go_default(&r.last_deployed),
                    status: &r.status,
                    chart: &r.chart,
                    app_version: &r.app_version,
                })
                .collect();
            output::print_structured(&rows, format == Format::Yaml)?;
        }
    }
    Ok(0)
}

/// `capstan history NAME`.
pub async fn history(global: &Global, args: HistoryArgs) -> anyhow::Result<u8> {
    let mut client = applier::connect(global).await?;
    let response = client
        .history(pb::HistoryRequest {
            name: args.name.clone(),
            namespace: global.namespace(),
            max: args.max,
        })
        .await
        .map_err(exit::status)?
        .into_inner();
    warn_unreadable(&response.unreadable);
    match args.output {
        Format::Table => {
            let mut rows = vec![
                [
                    "REVISION",
                    "UPDATED",
                    "STATUS",
                    "CHART",
                    "APP VERSION",
                    "DESCRIPTION",
                ]
                .map(String::from)
                .to_vec(),
            ];
            for r in &response.revisions {
                rows.push(vec![
                    r.revision.to_string(),
                    output::ansic(&r.last_deployed),
                    r.status.clone(),
                    r.chart.clone(),
                    r.app_version.clone(),
                    r.description.clone(),
                ]);
            }
            out!("{}", output::table(&rows));
        }
        format => {
            let rows: Vec<HistoryRow<'_>> = response
                .revisions
                .iter()
                .map(|r| HistoryRow {
                    revision: r.revision,
                    updated: &r.last_deployed,
                    status: &r.status,
                    chart: &r.chart,
                    app_version: &r.app_version,
                    description: &r.description,
                })
                .collect();
            output::print_structured(&rows, format == Format::Yaml)?;
        }
    }
    Ok(0)
}

/// `capstan status NAME`.
pub async fn status(global: &Global, args: StatusArgs) -> anyhow::Result<u8> {
    let mut client = applier::connect(global).await?;
    let response = client
        .status(pb::StatusRequest {
            name: args.name.clone(),
            namespace: global.namespace(),
            revision: args.revision.unwrap_or(0),
        })
        .await
        .map_err(exit::status)?
        .into_inner();
    warn_unreadable(&response.unreadable);
    let release = response.release.clone().unwrap_or_default();
    match args.output {
        Format::Table => {
            out!("{}", output::release_summary(&release));
            if !response.objects.is_empty() {
                outln!("RESOURCES:");
                let mut rows = vec![["OBJECT", "READY", "REASON"].map(String::from).to_vec()];
                for o in &response.objects {
                    let name = o
                        .object
                        .as_ref()
                        .map(|r| format!("{}/{}", r.kind.to_lowercase(), r.name))
                        .unwrap_or_default();
                    let ready = if !o.exists {
                        "missing"
                    } else if o.ready {
                        "yes"
                    } else {
                        "no"
                    };
                    rows.push(vec![name, ready.into(), o.reason.clone()]);
                }
                out!("{}", output::table(&rows));
            }
            if !response.notes.is_empty() {
                outln!("NOTES:\n{}", response.notes.trim_end());
            }
        }
        format => {
            let objects: Vec<serde_json::Value> = response
                .objects
                .iter()
                .map(|o| {
                    let r = o.object.clone().unwrap_or_default();
                    serde_json::json!({
                        "apiVersion": r.api_version,
                        "kind": r.kind,
                        "namespace": r.namespace,
                        "name": r.name,
                        "exists": o.exists,
                        "ready": o.ready,
                        "reason": o.reason,
                    })
                })
                .collect();
            let value = serde_json::json!({
                "name": release.name,
                "namespace": release.namespace,
                "version": release.revision,
                "info": {
                    "status": release.status,
                    "description": release.description,
                    "first_deployed": release.first_deployed,
                    "last_deployed": release.last_deployed,
                    "notes": response.notes,
                },
                "chart": release.chart,
                "app_version": release.app_version,
                "resources": objects,
            });
            output::print_structured(&value, format == Format::Yaml)?;
        }
    }
    Ok(0)
}

async fn fetch(
    client: &mut applier::Client,
    global: &Global,
    args: &GetArgs,
    all_values: bool,
) -> anyhow::Result<pb::GetResponse> {
    let response = client
        .get(pb::GetRequest {
            name: args.name.clone(),
            namespace: global.namespace(),
            revision: args.revision.unwrap_or(0),
            all_values,
        })
        .await
        .map_err(exit::status)?
        .into_inner();
    warn_unreadable(&response.unreadable);
    Ok(response)
}

fn print_values(json: &str, all: bool, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Table => {
            outln!(
                "{}",
                if all {
                    "COMPUTED VALUES:"
                } else {
                    "USER-SUPPLIED VALUES:"
                }
            );
            out!("{}", output::json_to_yaml(json)?);
        }
        Format::Json => outln!("{json}"),
        Format::Yaml => out!("{}", output::json_to_yaml(json)?),
    }
    Ok(())
}

/// `capstan get values|manifest|notes|hooks|metadata|all NAME`.
pub async fn get(global: &Global, command: GetCommand) -> anyhow::Result<u8> {
    let mut client = applier::connect(global).await?;
    match command {
        GetCommand::Values(args) => {
            let got = fetch(&mut client, global, &args, args.all).await?;
            print_values(&got.values_json, args.all, args.output)?;
        }
        GetCommand::Manifest(args) => {
            let got = fetch(&mut client, global, &args, false).await?;
            outln!("{}", got.manifest.trim_end());
        }
        GetCommand::Notes(args) => {
            let got = fetch(&mut client, global, &args, false).await?;
            if !got.notes.is_empty() {
                outln!("NOTES:\n{}", got.notes.trim_end());
            }
        }
        GetCommand::Hooks(args) => {
            let got = fetch(&mut client, global, &args, false).await?;
            out!("{}", got.hooks);
        }
        GetCommand::Metadata(args) => {
            let got = fetch(&mut client, global, &args, false).await?;
            let metadata: serde_json::Value = serde_json::from_str(&got.metadata_json)?;
            match args.output {
                Format::Table => print_metadata(&metadata),
                format => output::print_structured(&metadata, format == Format::Yaml)?,
            }
        }
        GetCommand::All(args) => {
            let user = fetch(&mut client, global, &args, false).await?;
            let all = fetch(&mut client, global, &args, true).await?;
            let release = user.release.clone().unwrap_or_default();
            out!("{}", output::release_summary(&release));
            print_values(&user.values_json, false, Format::Table)?;
            outln!();
            print_values(&all.values_json, true, Format::Table)?;
            if !user.hooks.is_empty() {
                outln!("HOOKS:\n{}", user.hooks.trim_end());
            }
            outln!("MANIFEST:\n{}", user.manifest.trim_end());
            if !user.notes.is_empty() {
                outln!("\nNOTES:\n{}", user.notes.trim_end());
            }
        }
    }
    Ok(0)
}

fn print_metadata(m: &serde_json::Value) {
    let text = |key: &str| match &m[key] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    let pairs = |key: &str| {
        m[key]
            .as_object()
            .map(|a| {
                a.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    };
    let annotations = pairs("annotations");
    let labels = pairs("labels");
    outln!("NAME: {}", text("name"));
    outln!("CHART: {}", text("chart"));
    outln!("VERSION: {}", text("version"));
    outln!("APP_VERSION: {}", text("appVersion"));
    outln!("ANNOTATIONS: {annotations}");
    outln!("LABELS: {labels}");
    outln!("NAMESPACE: {}", text("namespace"));
    outln!("REVISION: {}", text("revision"));
    outln!("STATUS: {}", text("status"));
    outln!("DEPLOYED_AT: {}", text("deployedAt"));
}

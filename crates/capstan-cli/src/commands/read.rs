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

/// The statuses `list` asks for: the flags given, every status with `--all`, or Helm's default
/// (deployed and failed) when none is given.
fn list_states(args: &ListArgs) -> Vec<String> {
    if args.all {
        return Vec::new();
    }
    let mut states: Vec<String> = [
        (args.deployed, "deployed"),
        (args.failed, "failed"),
        (args.pending, "pending"),
        (args.superseded, "superseded"),
        (args.uninstalled, "uninstalled"),
        (args.uninstalling, "uninstalling"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| name.to_owned())
    .collect();
    if states.is_empty() {
        states = vec!["deployed".into(), "failed".into()];
    }
    states
}

/// The statuses of `list_states`' names as the enum newer appliers read (the names go too,
/// for older ones).
fn list_statuses(states: &[String]) -> Vec<i32> {
    capstan_proto::compat::statuses_named(states)
        .unwrap_or_default()
        .into_iter()
        .map(|s| s as i32)
        .collect()
}

/// Sorts and pages releases as Helm's `list` does: by name (then namespace), or with `-d` by
/// last deployment, oldest first; `-r` reverses; then `--offset` and `-m`.
fn sort_and_page(releases: &mut Vec<pb::ReleaseInfo>, args: &ListArgs) {
    let deployed = |r: &pb::ReleaseInfo| r.last_deployed.parse::<jiff::Timestamp>().ok();
    if args.date {
        releases.sort_by(|a, b| {
            deployed(a)
                .cmp(&deployed(b))
                .then_with(|| a.name.cmp(&b.name))
        });
    } else {
        releases.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| a.namespace.cmp(&b.namespace))
        });
    }
    if args.reverse {
        releases.reverse();
    }
    let start = args.offset.min(releases.len());
    releases.drain(..start);
    if args.max > 0 {
        releases.truncate(args.max);
    }
}

/// One requirement of a `--selector`.
#[derive(Debug, PartialEq)]
enum Requirement {
    /// `key=value`, `key==value`.
    Equals(String, String),
    /// `key!=value`.
    NotEquals(String, String),
    /// `key`.
    Exists(String),
    /// `!key`.
    Absent(String),
}

/// Parses a label selector of equality requirements.
fn parse_selector(text: &str) -> anyhow::Result<Vec<Requirement>> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| {
            let requirement = if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEquals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==") {
                Requirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once('=') {
                Requirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some(k) = part.strip_prefix('!') {
                Requirement::Absent(k.trim().into())
            } else {
                Requirement::Exists(part.into())
            };
            match &requirement {
                Requirement::Equals(k, _)
                | Requirement::NotEquals(k, _)
                | Requirement::Exists(k)
                | Requirement::Absent(k)
                    if k.is_empty() =>
                {
                    anyhow::bail!("invalid selector {text:?}: {part:?} has no label key")
                }
                _ => Ok(requirement),
            }
        })
        .collect()
}

/// Whether labels satisfy every requirement.
fn selects(
    requirements: &[Requirement],
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    requirements.iter().all(|r| match r {
        Requirement::Equals(k, v) => labels.get(k) == Some(v),
        Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
        Requirement::Exists(k) => labels.contains_key(k),
        Requirement::Absent(k) => !labels.contains_key(k),
    })
}

/// The labels Helm's storage puts on a release record (`name`, `owner`, `status`, `version`)
/// and the release's own.
async fn record_labels(
    client: &mut applier::Client,
    release: &pb::ReleaseInfo,
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let got = client
        .get(pb::GetRequest {
            name: release.name.clone(),
            namespace: release.namespace.clone(),
            revision: release.revision,
            all_values: false,
        })
        .await
        .map_err(exit::status)?
        .into_inner();
    let metadata: serde_json::Value = serde_json::from_str(&got.metadata_json)?;
    let mut labels: std::collections::BTreeMap<String, String> = metadata["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    labels.insert("name".into(), release.name.clone());
    labels.insert("owner".into(), "helm".into());
    labels.insert("status".into(), release.status_name().to_owned());
    labels.insert("version".into(), release.revision.to_string());
    Ok(labels)
}

/// `capstan list`.
pub async fn list(global: &Global, args: ListArgs) -> anyhow::Result<u8> {
    let selector = args.selector.as_deref().map(parse_selector).transpose()?;
    let mut client = applier::connect(global).await?;
    let states = list_states(&args);
    let response = client
        .list(pb::ListRequest {
            namespace: global.namespace(),
            all_namespaces: args.all_namespaces,
            statuses: list_statuses(&states),
            states,
            filter: args.filter.clone().unwrap_or_default(),
        })
        .await
        .map_err(exit::status)?
        .into_inner();
    warn_unreadable(&response.unreadable);
    let mut releases = response.releases;
    if let Some(requirements) = &selector {
        let mut kept = Vec::new();
        for release in releases {
            if selects(requirements, &record_labels(&mut client, &release).await?) {
                kept.push(release);
            }
        }
        releases = kept;
    }
    sort_and_page(&mut releases, &args);
    let updated = |time: &str| match &args.time_format {
        Some(layout) => output::go_format(time, layout),
        None => output::go_default(time),
    };
    if args.short {
        for r in &releases {
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
            for r in &releases {
                rows.push(vec![
                    r.name.clone(),
                    r.namespace.clone(),
                    r.revision.to_string(),
                    updated(&r.last_deployed),
                    r.status_name().to_owned(),
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
                    updated: updated(&r.last_deployed),
                    status: r.status_name(),
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
                    r.status_name().to_owned(),
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
                    status: r.status_name(),
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
    // The stored record: `-o json|yaml` prints it, the table its test hooks' last runs.
    let stored = fetch(
        &mut client,
        global,
        &GetArgs {
            name: args.name.clone(),
            revision: Some(release.revision),
            all: false,
            output: args.output,
        },
        false,
    )
    .await?;
    match args.output {
        Format::Table => {
            let hooks = stored_release(&stored.release_json)?.hooks;
            out!("{}", output::summary(&release, args.show_desc));
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
            out!("{}", output::test_suite(&hooks));
            if !response.notes.is_empty() {
                outln!("NOTES:\n{}", response.notes.trim_end());
            }
        }
        format => {
            print_release(&stored.release_json, false, format == Format::Yaml)?;
        }
    }
    Ok(0)
}

/// Prints a revision as Helm's `-o json|yaml` does: the stored release record, with Helm's field
/// order, `null` where Helm has nothing, and (for `status`) without the chart.
pub(crate) fn print_release(
    release_json: &str,
    with_chart: bool,
    yaml: bool,
) -> anyhow::Result<()> {
    let mut release = stored_release(release_json)?;
    if !with_chart {
        release.chart = None;
    }
    // Helm v3's record has neither Helm 4's fields nor ones capstan does not model.
    release.apply_method = None;
    release.extra.clear();
    release.info.extra.clear();
    let json = serde_json::to_string(&release)?;
    if yaml {
        out!("{}", output::helm_yaml(&json)?);
    } else {
        outln!("{}", output::go_json(&json));
    }
    Ok(())
}

/// The release record a `Get` answered with.
fn stored_release(release_json: &str) -> anyhow::Result<capstan_release::Release> {
    serde_json::from_str(release_json)
        .map_err(|e| anyhow::anyhow!("the applier sent an unreadable release record: {e}"))
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
            out!("{}", output::values_yaml(json)?);
        }
        Format::Json => outln!("{}", output::go_json(json)),
        Format::Yaml => out!("{}", output::values_yaml(json)?),
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
            outln!("{}", got.manifest);
        }
        GetCommand::Notes(args) => {
            let got = fetch(&mut client, global, &args, false).await?;
            if !got.notes.is_empty() {
                outln!("NOTES:\n{}", got.notes);
            }
        }
        GetCommand::Hooks(args) => {
            let got = fetch(&mut client, global, &args, false).await?;
            for hook in stored_release(&got.release_json)?.hooks {
                outln!("---\n# Source: {}\n{}", hook.path, hook.manifest);
            }
        }
        GetCommand::Metadata(args) => {
            let got = fetch(&mut client, global, &args, false).await?;
            let metadata: serde_json::Value = serde_json::from_str(&got.metadata_json)?;
            let metadata = HelmMetadata::of(&metadata);
            match args.output {
                Format::Table => out!("{}", metadata.table()),
                format => output::print_structured(&metadata, format == Format::Yaml)?,
            }
        }
        GetCommand::All(args) => {
            let user = fetch(&mut client, global, &args, false).await?;
            let all = fetch(&mut client, global, &args, true).await?;
            let release = user.release.clone().unwrap_or_default();
            let stored = stored_release(&user.release_json)?;
            // Helm's status printer in its debug form, with the chart's lines.
            out!("{}", output::release_summary(&release));
            let chart = stored.chart.as_ref().and_then(|c| c.metadata.as_ref());
            let field = |f: fn(&capstan_release::ChartMetadata) -> &str| chart.map_or("", f);
            outln!("CHART: {}", field(|m| &m.name));
            outln!("VERSION: {}", field(|m| &m.version));
            outln!("APP_VERSION: {}", field(|m| &m.app_version));
            out!("{}", output::test_suite(&stored.hooks));
            print_values(&user.values_json, false, Format::Table)?;
            outln!();
            print_values(&all.values_json, true, Format::Table)?;
            outln!();
            outln!("HOOKS:");
            for hook in &stored.hooks {
                outln!("---\n# Source: {}\n{}", hook.path, hook.manifest);
            }
            outln!("MANIFEST:\n{}", user.manifest);
            if !user.notes.is_empty() {
                outln!("NOTES:\n{}", user.notes.trim());
            }
        }
    }
    Ok(0)
}

/// `get metadata` as Helm prints it: its fields in its order, empty ones left out where Helm
/// leaves them out, the deployment time in RFC 3339 seconds. A release with an apply method
/// (written by Helm 4 or capstan) prints as Helm 4 prints it, with its labels and apply method;
/// one Helm 3 wrote prints as Helm 3 prints it.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct HelmMetadata {
    name: String,
    chart: String,
    version: String,
    app_version: String,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    annotations: serde_json::Map<String, serde_json::Value>,
    /// Helm 4's: `None` in Helm 3's shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dependencies: Vec<serde_json::Value>,
    namespace: String,
    revision: serde_json::Value,
    status: String,
    deployed_at: String,
    /// Helm 4's: `None` in Helm 3's shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    apply_method: Option<String>,
}

impl HelmMetadata {
    /// From the applier's metadata document.
    fn of(m: &serde_json::Value) -> Self {
        let text = |key: &str| m[key].as_str().unwrap_or_default().to_owned();
        let map = |key: &str| m[key].as_object().cloned().unwrap_or_default();
        let apply_method = Some(text("applyMethod")).filter(|a| !a.is_empty());
        let helm4 = apply_method.is_some();
        HelmMetadata {
            name: text("name"),
            chart: text("chart"),
            version: text("version"),
            app_version: text("appVersion"),
            annotations: map("annotations"),
            labels: Some(map("labels")).filter(|l| helm4 && !l.is_empty()),
            dependencies: m["dependencies"].as_array().cloned().unwrap_or_default(),
            namespace: text("namespace"),
            revision: m["revision"].clone(),
            status: text("status"),
            deployed_at: rfc3339_seconds(&text("deployedAt")),
            apply_method,
        }
    }

    /// Helm's table: `KEY: value` lines, annotations and labels as `k=v,...`, dependencies'
    /// names sorted and joined by commas.
    fn table(&self) -> String {
        let pairs = |map: &serde_json::Map<String, serde_json::Value>| {
            map.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut dependencies: Vec<&str> = self
            .dependencies
            .iter()
            .map(|d| d["name"].as_str().unwrap_or_default())
            .collect();
        dependencies.sort_unstable();
        let mut out = format!(
            "NAME: {}\nCHART: {}\nVERSION: {}\nAPP_VERSION: {}\nANNOTATIONS: {}\n",
            self.name,
            self.chart,
            self.version,
            self.app_version,
            pairs(&self.annotations),
        );
        if self.apply_method.is_some() {
            let labels = self.labels.as_ref().map(pairs).unwrap_or_default();
            out.push_str(&format!("LABELS: {labels}\n"));
        }
        out.push_str(&format!(
            "DEPENDENCIES: {}\nNAMESPACE: {}\nREVISION: {}\nSTATUS: {}\nDEPLOYED_AT: {}\n",
            dependencies.join(","),
            self.namespace,
            self.revision,
            self.status,
            self.deployed_at,
        ));
        if let Some(method) = &self.apply_method {
            let method = match method.as_str() {
                "csa" => "client-side apply".to_owned(),
                "ssa" => "server-side apply".to_owned(),
                other => format!("unknown ({other:?})"),
            };
            out.push_str(&format!("APPLY_METHOD: {method}\n"));
        }
        out
    }
}

/// An RFC 3339 time without its fraction of a second (Go's `time.RFC3339`), keeping its offset.
fn rfc3339_seconds(time: &str) -> String {
    match time.find('.') {
        Some(dot) => {
            let rest = &time[dot + 1..];
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            format!("{}{}", &time[..dot], &rest[digits..])
        }
        None => time.to_owned(),
    }
}

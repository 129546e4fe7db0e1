//! `capstan show chart|values|readme|crds|all`: a chart's parts, as `helm show` prints them.

use crate::chart::ChartSpec;
use crate::cli::Global;
use crate::console::out;
use crate::sources::{ShowArgs, ShowCommand};

/// Which parts `show` prints.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Part {
    All,
    Chart,
    Values,
    Readme,
    Crds,
}

/// Runs one `show` command.
pub async fn run(global: &Global, command: ShowCommand) -> anyhow::Result<u8> {
    let (part, args) = match command {
        ShowCommand::All(a) => (Part::All, a),
        ShowCommand::Chart(a) => (Part::Chart, a),
        ShowCommand::Values(a) => (Part::Values, a),
        ShowCommand::Readme(a) => (Part::Readme, a),
        ShowCommand::Crds(a) => (Part::Crds, a),
    };
    out!("{}", show(global, part, &args).await?);
    Ok(0)
}

async fn show(global: &Global, part: Part, args: &ShowArgs) -> anyhow::Result<String> {
    let spec = ChartSpec {
        reference: &args.chart,
        version: args.version.as_deref(),
        source: &args.source,
    };
    let archive = crate::chart::load(global, spec).await?;
    let chart = capstan_chart::Chart::load_archive(&archive, &capstan_chart::Limits::default())?;
    let mut text = String::new();
    let all = part == Part::All;
    if all || part == Part::Chart {
        // Helm prints its loaded metadata (sanitized, known fields only) through
        // sigs.k8s.io/yaml: the JSON an OCI config blob holds, as go-yaml.
        let json = chart.metadata.helm_json();
        let metadata: serde_json::Value = serde_json::from_slice(&json)?;
        text += &capstan_sprig::encoding::json_value_to_yaml(&metadata)?;
        text += "\n";
    }
    if all || part == Part::Values {
        if all {
            text += "---\n";
        }
        text += &chart.values_yaml;
        text += "\n";
    }
    if all || part == Part::Readme {
        let readme = chart.files.iter().find(|f| {
            ["readme.md", "readme.txt", "readme"]
                .iter()
                .any(|n| f.name.eq_ignore_ascii_case(n))
        });
        if let Some(readme) = readme {
            if all {
                text += "---\n";
            }
            text += &String::from_utf8_lossy(&readme.data);
            text += "\n";
        }
    }
    if all || part == Part::Crds {
        // Helm separates the CRDs from the rest of `show all` unless the first one starts
        // with its own `---`, and prints each file as it is.
        let crds = chart.crds_with_subcharts();
        if all && crds.first().is_some_and(|c| !c.data.starts_with(b"---")) {
            text += "---\n";
        }
        for crd in crds {
            text += &String::from_utf8_lossy(&crd.data);
            text += "\n";
        }
    }
    Ok(text)
}

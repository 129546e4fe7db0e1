//! `capstan search repo`: Helm's search over the cached indexes of the added repositories.

use anyhow::bail;
use capstan_repo::{SearchQuery, search};
use serde::Serialize;

use crate::cli::{Format, Global};
use crate::console::{eoutln, out, outln};
use crate::output;
use crate::sources::{SearchCommand, SearchRepoArgs};

/// Runs one `search` command.
pub async fn run(global: &Global, command: SearchCommand) -> anyhow::Result<u8> {
    match command {
        SearchCommand::Repo(args) => repo(global, args),
    }
}

#[derive(Serialize)]
struct Found {
    name: String,
    version: String,
    app_version: String,
    description: String,
}

fn repo(global: &Global, args: SearchRepoArgs) -> anyhow::Result<u8> {
    let resolver = crate::chart::resolver(global);
    let file = resolver.repo_file()?;
    if file.repositories.is_empty() {
        bail!("no repositories configured");
    }
    let mut indexes = Vec::new();
    for entry in &file.repositories {
        match resolver.cached_index(&entry.name) {
            Ok(index) => indexes.push((entry.name.clone(), index)),
            Err(error) => eoutln!(
                "WARNING: Repo {:?} is corrupt or missing. Try 'capstan repo update'.\n\t{:#}",
                entry.name,
                anyhow::Error::new(error)
            ),
        }
    }
    let query = SearchQuery {
        term: args.keyword.clone().unwrap_or_default(),
        regexp: args.regexp,
        versions: args.versions,
        version: args.version.clone().unwrap_or_default(),
        devel: args.devel,
    };
    let results = search(&indexes, &query)?;
    if results.is_empty() && args.fail_on_no_result {
        bail!("no results found");
    }
    let found: Vec<Found> = results
        .into_iter()
        .map(|r| Found {
            name: r.name,
            version: r.chart.version,
            app_version: r.chart.app_version,
            description: r.chart.description,
        })
        .collect();
    match args.output {
        Format::Table if found.is_empty() => outln!("No results found"),
        Format::Table => {
            let cut = |s: &str| truncate(s, args.max_col_width);
            let mut rows = vec![
                ["NAME", "CHART VERSION", "APP VERSION", "DESCRIPTION"]
                    .map(String::from)
                    .to_vec(),
            ];
            rows.extend(found.iter().map(|f| {
                vec![
                    cut(&f.name),
                    cut(&f.version),
                    cut(&f.app_version),
                    cut(&f.description),
                ]
            }));
            out!("{}", output::table(&rows));
        }
        Format::Json => output::print_structured(&found, false)?,
        Format::Yaml => output::print_structured(&found, true)?,
    }
    Ok(0)
}

/// Cuts `text` to `width` characters, ending in `...` when cut (as Helm's tables do).
fn truncate(text: &str, width: usize) -> String {
    if width == 0 || text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width.saturating_sub(3)).collect();
    format!("{kept}...")
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_cells_are_cut_as_helm_cuts_them() {
        assert_eq!(super::truncate("abcdef", 5), "ab...");
        assert_eq!(super::truncate("abcde", 5), "abcde");
    }
}

//! `capstan repo add|list|update|remove|index`: Helm's chart repository commands over Helm's own
//! `repositories.yaml` and repository cache.

use std::io::Read as _;

use anyhow::{Context as _, bail};
use capstan_repo::{Access, IndexFile, RepoFile, index_directory};
use serde::Serialize;

use crate::cli::{Format, Global};
use crate::console::outln;
use crate::output;
use crate::sources::{RepoAddArgs, RepoCommand, RepoIndexArgs, RepoUpdateArgs};

/// Runs one `repo` command.
pub async fn run(global: &Global, command: RepoCommand) -> anyhow::Result<u8> {
    match command {
        RepoCommand::Add(args) => add(global, args).await,
        RepoCommand::List(args) => list(global, args.output),
        RepoCommand::Update(args) => update(global, args).await,
        RepoCommand::Remove(args) => remove(global, &args.names),
        RepoCommand::Index(args) => index(args),
    }
}

async fn add(global: &Global, args: RepoAddArgs) -> anyhow::Result<u8> {
    let resolver = crate::chart::resolver(global);
    let path = &resolver.paths.repository_config;
    if args.name.contains('/') {
        bail!(
            "repository name ({}) contains '/', please specify a different name without '/'",
            args.name
        );
    }
    let mut password = args.password.clone();
    if args.password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the password from standard input")?;
        password = Some(text.trim_end_matches(['\r', '\n']).to_string());
    }
    if args.username.is_some() && password.is_none() {
        bail!("--username needs a password: give --password or --password-stdin");
    }
    let access = Access {
        repo: args.name.clone(),
        url: args.url.clone(),
        username: args.username.clone(),
        password,
        pass_credentials: args.pass_credentials,
        ca_file: args.ca_file.clone(),
        cert_file: args.cert_file.clone(),
        key_file: args.key_file.clone(),
        insecure_skip_tls_verify: args.insecure_skip_tls_verify,
    };
    let entry = access.to_entry(&args.name);
    let mut file = RepoFile::load(path)?;
    if let Some(existing) = file.get(&args.name) {
        if *existing == entry {
            outln!(
                "{:?} already exists with the same configuration, skipping",
                args.name
            );
            return Ok(0);
        }
        if !args.force_update {
            return Err(capstan_repo::Error::RepoExists { name: args.name }.into());
        }
    }
    resolver
        .refresh_repo(&entry, &Default::default())
        .await
        .with_context(|| {
            format!(
                "looks like {:?} is not a valid chart repository or cannot be reached",
                args.url
            )
        })?;
    file.update(entry);
    file.save(path)?;
    outln!("{:?} has been added to your repositories", args.name);
    Ok(0)
}

#[derive(Serialize)]
struct ListedRepo {
    name: String,
    url: String,
}

fn list(global: &Global, format: Format) -> anyhow::Result<u8> {
    let file = RepoFile::load(&crate::chart::helm_paths(global).repository_config)?;
    if file.repositories.is_empty() {
        bail!("no repositories to show");
    }
    let repos: Vec<ListedRepo> = file
        .repositories
        .iter()
        .map(|r| ListedRepo {
            name: r.name.clone(),
            url: r.url.clone(),
        })
        .collect();
    match format {
        Format::Table => {
            let mut rows = vec![vec!["NAME".to_string(), "URL".to_string()]];
            rows.extend(repos.iter().map(|r| vec![r.name.clone(), r.url.clone()]));
            crate::console::out!("{}", output::table(&rows));
        }
        Format::Json => output::print_structured(&repos, false)?,
        Format::Yaml => output::print_structured(&repos, true)?,
    }
    Ok(0)
}

async fn update(global: &Global, args: RepoUpdateArgs) -> anyhow::Result<u8> {
    let resolver = crate::chart::resolver(global);
    let file = resolver.repo_file()?;
    if file.repositories.is_empty() {
        bail!("no repositories found. You must add one before updating");
    }
    let unknown: Vec<&String> = args
        .names
        .iter()
        .filter(|n| file.get(n).is_none())
        .collect();
    if !unknown.is_empty() {
        bail!("no repositories found matching {unknown:?}. Nothing will be updated");
    }
    let chosen: Vec<_> = file
        .repositories
        .iter()
        .filter(|r| args.names.is_empty() || args.names.contains(&r.name))
        .cloned()
        .collect();
    outln!("Hang tight while we grab the latest from your chart repositories...");
    let mut tasks = tokio::task::JoinSet::new();
    for (i, entry) in chosen.into_iter().enumerate() {
        let resolver = resolver.clone();
        tasks.spawn(async move {
            let outcome = resolver.refresh_repo(&entry, &Default::default()).await;
            (i, entry, outcome)
        });
    }
    let mut outcomes = tasks.join_all().await;
    outcomes.sort_by_key(|(i, _, _)| *i);
    let mut failed = Vec::new();
    for (_, entry, outcome) in outcomes {
        match outcome {
            Ok(_) => outln!(
                "...Successfully got an update from the {:?} chart repository",
                entry.name
            ),
            Err(error) => {
                outln!(
                    "...Unable to get an update from the {:?} chart repository ({}):\n\t{:#}",
                    entry.name,
                    entry.url,
                    anyhow::Error::new(error)
                );
                failed.push(entry.url);
            }
        }
    }
    if !failed.is_empty() {
        bail!("failed to update the following repositories: {failed:?}");
    }
    outln!("Update Complete. \u{2388}Happy Helming!\u{2388}");
    Ok(0)
}

fn remove(global: &Global, names: &[String]) -> anyhow::Result<u8> {
    let paths = crate::chart::helm_paths(global);
    let mut file = RepoFile::load(&paths.repository_config)?;
    for name in names {
        if !file.remove(name) {
            bail!("no repo named {name:?} found");
        }
        file.save(&paths.repository_config)?;
        capstan_repo::Resolver::new(paths.clone()).forget_repo(name)?;
        outln!("{name:?} has been removed from your repositories");
    }
    Ok(0)
}

fn index(args: RepoIndexArgs) -> anyhow::Result<u8> {
    if !args.dir.is_dir() {
        bail!("{} is not a directory", args.dir.display());
    }
    let out = args.dir.join("index.yaml");
    let mut index = index_directory(&args.dir, &args.url)?;
    if let Some(merge) = &args.merge {
        let existing = if merge.exists() {
            IndexFile::load(merge, &format!("index {}", merge.display()))?
        } else {
            IndexFile::new()
        };
        index.merge(existing);
    }
    index.sort();
    index.save(&out)?;
    Ok(0)
}

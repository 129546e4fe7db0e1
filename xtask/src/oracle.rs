//! `cargo xtask oracle`: the golden answers of the Go-template case suite, written by Helm's own
//! engine (`deploy/oracle`, built from the Go module proxy and cached by input hash under
//! `target/oracle/`). `--check` fails when a golden file differs from what the oracle says.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::paths;

/// The case suite: `*.yaml` case files, each with a `*.golden.json` beside it.
pub fn cases_dir() -> PathBuf {
    paths::root().join("crates/capstan-render/tests/gotemplate")
}

/// Rewrites every golden file (or, with `check`, fails when one is stale or missing).
pub fn run(check: bool) -> anyhow::Result<()> {
    let oracle = build()?;
    let dir = cases_dir();
    let mut case_files: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    case_files.sort();
    let mut stale = Vec::new();
    let mut expected_goldens = Vec::new();
    for case_file in &case_files {
        let output = Command::new(&oracle)
            .arg(case_file)
            .output()
            .with_context(|| format!("running {}", oracle.display()))?;
        if !output.status.success() {
            bail!(
                "the oracle failed on {}: {}",
                case_file.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let golden = golden_path(case_file);
        expected_goldens.push(golden.clone());
        let current = fs::read(&golden).unwrap_or_default();
        if current == output.stdout {
            continue;
        }
        if check {
            stale.push(rel(&golden));
        } else {
            fs::write(&golden, &output.stdout)
                .with_context(|| format!("writing {}", golden.display()))?;
            println!("wrote {}", rel(&golden));
        }
    }
    // A golden file whose case file is gone is stale too.
    for entry in fs::read_dir(&dir)?.filter_map(Result::ok) {
        let path = entry.path();
        let is_golden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".golden.json"));
        if is_golden && !expected_goldens.contains(&path) {
            if check {
                stale.push(rel(&path));
            } else {
                fs::remove_file(&path)?;
                println!("removed {}", rel(&path));
            }
        }
    }
    if !stale.is_empty() {
        bail!(
            "golden files out of date (run `cargo xtask oracle`): {}",
            stale.join(", ")
        );
    }
    println!(
        "{} case files {}",
        case_files.len(),
        if check {
            "match the oracle"
        } else {
            "up to date"
        }
    );
    Ok(())
}

/// `x.yaml` -> `x.golden.json`.
pub fn golden_path(case_file: &Path) -> PathBuf {
    let stem = case_file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    case_file.with_file_name(format!("{stem}.golden.json"))
}

fn rel(path: &Path) -> String {
    path.strip_prefix(paths::root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Builds `deploy/oracle` unless a binary for the same inputs (sources, go.mod, go.sum and the Go
/// version) is cached.
fn build() -> anyhow::Result<PathBuf> {
    crate::gobuild::cached(
        &paths::root().join("deploy").join("oracle"),
        &paths::root().join("target").join("oracle"),
        "oracle",
        &[],
        "the first build takes a few minutes",
    )
}

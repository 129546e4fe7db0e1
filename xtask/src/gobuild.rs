//! Building the project's Go programs (`deploy/devcluster`, `deploy/oracle`) once per input:
//! the binary is cached under a name made from the hash of its sources, `go.mod`, `go.sum` and
//! the Go version, and built into a `.partial` file first so an interrupted build leaves none.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};

/// Builds the Go program in `source` into `bin_dir/<name>-<hash>` unless that binary exists;
/// `ldflags` are passed to the linker (and are part of the hash); `first_build` tells the user
/// what the first build costs.
pub fn cached(
    source: &Path,
    bin_dir: &Path,
    name: &str,
    ldflags: &[String],
    first_build: &str,
) -> anyhow::Result<PathBuf> {
    let go_version = Command::new("go")
        .arg("version")
        .output()
        .context("running `go version`: is Go installed?")?;
    let mut hasher = Sha256::new();
    hasher.update(&go_version.stdout);
    for flag in ldflags {
        hasher.update(flag.as_bytes());
        hasher.update([0]);
    }
    let mut inputs: Vec<PathBuf> = fs::read_dir(source)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let file = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            file.ends_with(".go") || file == "go.mod" || file == "go.sum"
        })
        .collect();
    inputs.sort();
    for input in &inputs {
        hasher.update(input.file_name().unwrap_or_default().as_encoded_bytes());
        hasher.update(fs::read(input)?);
    }
    let hash: String = hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let binary = bin_dir.join(format!("{name}-{hash}"));
    if binary.exists() {
        return Ok(binary);
    }
    fs::create_dir_all(bin_dir)?;
    eprintln!(
        "building {name} from {} ({first_build})...",
        source.display()
    );
    let started = Instant::now();
    let partial = bin_dir.join(format!(".{name}-{hash}.partial"));
    let status = Command::new("go")
        .current_dir(source)
        .args(["build", "-trimpath", "-ldflags", &ldflags.join(" "), "-o"])
        .arg(&partial)
        .arg(".")
        .env("CGO_ENABLED", "0")
        .status()
        .context("running `go build`")?;
    if !status.success() {
        bail!("building {} failed ({status})", source.display());
    }
    fs::rename(&partial, &binary)?;
    eprintln!(
        "built {} in {:.0}s",
        binary.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(binary)
}

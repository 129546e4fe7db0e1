//! `cargo xtask helm`: reference Helm binaries, built from the Go module proxy into a cache under
//! `target/`, for compatibility tests and side-by-side benchmarks. Never part of the product.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};

use crate::paths;

/// The Helm releases capstan is tested against: (module major, version).
pub const VERSIONS: [(&str, &str); 2] = [("v3", "v3.22.0"), ("v4", "v4.3.1")];

/// Where the binary of `version` is cached.
pub fn binary(version: &str) -> PathBuf {
    paths::root()
        .join("target")
        .join("helm")
        .join(version)
        .join("helm")
}

/// Builds every reference Helm that is not cached yet and returns their paths.
pub fn build_all() -> anyhow::Result<Vec<PathBuf>> {
    VERSIONS
        .iter()
        .map(|(major, version)| build(major, version))
        .collect()
}

fn build(major: &str, version: &str) -> anyhow::Result<PathBuf> {
    let binary = binary(version);
    if binary.exists() {
        return Ok(binary);
    }
    let dir = binary.parent().expect("a cache directory");
    std::fs::create_dir_all(dir)?;
    eprintln!(
        "building helm {version} from the Go module proxy (takes a few minutes the first time)..."
    );
    let started = Instant::now();
    let module = format!("helm.sh/helm/{major}");
    let status = Command::new("go")
        .current_dir(dir)
        .args(["install", "-trimpath", "-ldflags"])
        .arg(format!("-X {module}/internal/version.version={version}"))
        .arg(format!("{module}/cmd/helm@{version}"))
        .env("GOBIN", dir)
        .env("CGO_ENABLED", "0")
        .status()
        .context("running `go install` for helm: is Go installed?")?;
    if !status.success() {
        bail!("building helm {version} failed ({status})");
    }
    eprintln!(
        "built {} in {:.0}s",
        binary.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(binary)
}

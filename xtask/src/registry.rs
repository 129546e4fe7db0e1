//! `cargo xtask registry`: the CNCF Distribution registry (`cmd/registry`), built from the Go
//! module proxy into a cache under `target/registry/<version>/`, for the OCI tests. Never part of
//! the product.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, bail};

use crate::paths;

/// The Distribution release the OCI tests run against.
pub const VERSION: &str = "v3.1.2";

/// Where the binary is cached.
pub fn binary() -> PathBuf {
    paths::root()
        .join("target")
        .join("registry")
        .join(VERSION)
        .join("registry")
}

/// Builds the registry unless it is cached; its path.
pub fn build() -> anyhow::Result<PathBuf> {
    let binary = binary();
    if binary.exists() {
        return Ok(binary);
    }
    let dir = binary.parent().expect("a cache directory");
    std::fs::create_dir_all(dir)?;
    eprintln!(
        "building the distribution registry {VERSION} from the Go module proxy (about 3 minutes the first time)..."
    );
    let started = Instant::now();
    let status = Command::new("go")
        .current_dir(dir)
        .args(["install", "-trimpath"])
        .arg(format!(
            "github.com/distribution/distribution/v3/cmd/registry@{VERSION}"
        ))
        .env("GOBIN", dir)
        .env("CGO_ENABLED", "0")
        .status()
        .context("running `go install` for the registry: is Go installed?")?;
    if !status.success() {
        bail!("building the registry {VERSION} failed ({status})");
    }
    eprintln!(
        "built {} in {:.0}s",
        binary.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(binary)
}

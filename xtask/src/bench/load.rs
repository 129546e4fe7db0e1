//! `cargo xtask bench load`: the multi-tenant load test (`tests/load.rs`: 500 concurrent
//! requests from 5 tenants against the daemons, with a tenant policy, tokens and impersonation)
//! with release builds, its latency table written to `target/bench/load.md` and `load.json`.
//!
//! There is no Helm side: Helm has no daemon or tenants to load.

use std::process::Command;

use anyhow::ensure;

use super::out_dir;
use crate::{cluster, paths};

pub fn run() -> anyhow::Result<()> {
    super::build_release(&["capstan-renderer", "capstan-applier"], false)?;
    let _cluster = cluster::up()?;
    let out = out_dir();
    let status = Command::new(paths::cargo())
        .current_dir(paths::root())
        .args([
            "test",
            "--release",
            "--package",
            "capstan-e2e",
            "--test",
            "load",
        ])
        .args(["--", "--nocapture"])
        .env("CAPSTAN_LOAD_REPORT", &out)
        .status()?;
    ensure!(status.success(), "the load test failed");
    println!("results: {}", out.join("load.md").display());
    Ok(())
}

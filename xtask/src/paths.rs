//! Where things live: the workspace root, the build cache and the cluster's state directory.

use std::path::{Path, PathBuf};

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR`.
pub fn target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), |dir| root().join(dir))
}

/// Everything the local control plane keeps: cached binaries, the state directory, the lock.
pub fn cluster_home() -> PathBuf {
    root().join("target").join("devcluster")
}

/// The running cluster's state: certificates, kubeconfig, etcd data, logs, `state.json`.
pub fn state_dir() -> PathBuf {
    cluster_home().join("state")
}

/// The `cargo` that runs this task.
pub fn cargo() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}

/// Builds the binary `bin` of `package` (debug profile) and returns its path.
pub fn debug_binary(package: &str, bin: &str) -> anyhow::Result<PathBuf> {
    use anyhow::Context as _;
    let status = std::process::Command::new(cargo())
        .current_dir(root())
        .args(["build", "--quiet", "--package", package, "--bin", bin])
        .status()
        .with_context(|| format!("running cargo build for {bin}"))?;
    if !status.success() {
        anyhow::bail!("building {bin} failed ({status})");
    }
    Ok(target().join("debug").join(bin))
}

/// Writes a generated file (`relative` to the workspace root), or with `check` fails when the
/// one there differs from `generated` (`command` regenerates it).
pub fn write_or_check(
    relative: &str,
    generated: &str,
    check: bool,
    command: &str,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let path = root().join(relative);
    if check {
        let current = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        anyhow::ensure!(current == generated, "{relative} is stale: run `{command}`");
        println!("{relative} is up to date");
    } else {
        std::fs::write(&path, generated).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {relative}");
    }
    Ok(())
}

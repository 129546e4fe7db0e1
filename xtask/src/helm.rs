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
    let module = format!("helm.sh/helm/{major}");
    let ldflags = ldflags(&module, major, version)?;
    // The flags it was built with, beside it: a binary built with others is built again.
    let stamp = binary.with_file_name("helm.ldflags");
    if binary.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == ldflags) {
        return Ok(binary);
    }
    let dir = binary.parent().expect("a cache directory");
    std::fs::create_dir_all(dir)?;
    eprintln!(
        "building helm {version} from the Go module proxy (takes a few minutes the first time)..."
    );
    let started = Instant::now();
    let status = Command::new("go")
        .current_dir(dir)
        .args(["install", "-trimpath", "-ldflags"])
        .arg(&ldflags)
        .arg(format!("{module}/cmd/helm@{version}"))
        .env("GOBIN", dir)
        .env("CGO_ENABLED", "0")
        .status()
        .context("running `go install` for helm: is Go installed?")?;
    if !status.success() {
        bail!("building helm {version} failed ({status})");
    }
    std::fs::write(&stamp, &ldflags)?;
    eprintln!(
        "built {} in {:.0}s",
        binary.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(binary)
}

/// The linker flags of Helm's own release build (its Makefile): the version, and for Helm 3
/// the default Kubernetes version of `template` and `lint`, client-go's (`v0.37.0` is
/// Kubernetes 1.37); without them Helm 3 says v1.20.0. Helm 4 reads client-go's version at run
/// time.
fn ldflags(module: &str, major: &str, version: &str) -> anyhow::Result<String> {
    let mut flags = format!("-X {module}/internal/version.version={version}");
    if major == "v3" {
        let (kube_major, kube_minor) = client_go_kubernetes(module, version)?;
        for package in ["pkg/lint/rules", "pkg/chartutil"] {
            flags.push_str(&format!(
                " -X {module}/{package}.k8sVersionMajor={kube_major} \
                 -X {module}/{package}.k8sVersionMinor={kube_minor}"
            ));
        }
    }
    Ok(flags)
}

/// The Kubernetes (major, minor) of the client-go that `module@version` requires.
fn client_go_kubernetes(module: &str, version: &str) -> anyhow::Result<(u64, String)> {
    let client_go = requirement(&format!("{module}@{version}"), "k8s.io/client-go")?;
    let mut parts = client_go.trim_start_matches('v').split('.');
    let (Some(major), Some(minor)) = (parts.next(), parts.next()) else {
        bail!("client-go version {client_go:?}");
    };
    Ok((major.parse::<u64>()? + 1, minor.to_owned()))
}

/// What `go mod download -json MODULE@VERSION` says of it (from the module proxy, into the
/// module cache): `GoMod` (its go.mod file), `Dir` (its source).
pub fn download(module_at_version: &str) -> anyhow::Result<serde_json::Value> {
    let output = Command::new("go")
        .args(["mod", "download", "-json", module_at_version])
        .current_dir(std::env::temp_dir())
        .output()
        .context("running `go mod download`: is Go installed?")?;
    if !output.status.success() {
        bail!(
            "go mod download {module_at_version} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// The version of `dependency` that `module_at_version`'s go.mod requires.
pub fn requirement(module_at_version: &str, dependency: &str) -> anyhow::Result<String> {
    let info = download(module_at_version)?;
    let go_mod = info["GoMod"]
        .as_str()
        .context("go mod download gave no go.mod")?;
    let text = std::fs::read_to_string(go_mod).with_context(|| format!("reading {go_mod}"))?;
    text.lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(dependency))
                .then(|| words.next().map(str::to_owned))
                .flatten()
        })
        .with_context(|| format!("{module_at_version} does not require {dependency}"))
}

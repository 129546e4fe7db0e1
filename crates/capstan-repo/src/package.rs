//! `helm package`: a chart directory as a versioned, byte-reproducible `.tgz`, laid out as Helm
//! lays it out (`Chart.yaml`, `Chart.lock`, `values.yaml`, `values.schema.json`, templates,
//! other files, then `charts/`).

use std::io::{Read as _, Write as _};
use std::path::Path;

use flate2::{Compression, GzBuilder};

use crate::{Error, Result};

/// What `package` changes in `Chart.yaml`.
#[derive(Debug, Clone, Default)]
pub struct PackageOptions {
    /// `--version`: the chart's version.
    pub version: Option<String>,
    /// `--app-version`: the chart's appVersion.
    pub app_version: Option<String>,
}

/// A packaged chart.
#[derive(Debug, Clone)]
pub struct Packaged {
    /// The chart's name.
    pub name: String,
    /// The chart's version (after `--version`).
    pub version: String,
    /// `<name>-<version>.tgz`.
    pub file_name: String,
    /// The archive.
    pub bytes: Vec<u8>,
}

/// Packages the chart directory `dir` (honouring `.helmignore`, validating it first).
pub fn package(dir: &Path, options: &PackageOptions) -> Result<Packaged> {
    let label = dir.display().to_string();
    let chart_error = |source| Error::Chart {
        chart: label.clone(),
        source,
    };
    let limits = capstan_chart::Limits::default();
    let plain = capstan_chart::package_dir(dir, &limits).map_err(chart_error)?;
    let missing: Vec<String> = crate::lock::list(dir)?
        .into_iter()
        .filter(|d| d.status == "missing")
        .map(|d| d.name)
        .collect();
    if !missing.is_empty() {
        return Err(Error::Dependency {
            chart: label,
            message: format!(
                "found in Chart.yaml, but missing in charts/ directory: {} (run `capstan dependency update`)",
                missing.join(", ")
            ),
        });
    }
    let mut files = expand_subchart_archives(entries(&plain, &label)?, &label)?;
    if !files.iter().any(|(name, _)| name == "Chart.yaml") {
        return Err(Error::Parse {
            what: format!("chart {label}"),
            message: "Chart.yaml file is missing".into(),
        });
    }
    // As Helm's `chartutil.Save`: the Chart.yaml of the chart and of each subchart written
    // again from its loaded metadata, with `--version` and `--app-version` applied to the
    // chart's own.
    let (mut name, mut version) = (String::new(), String::new());
    for (path, data) in &mut files {
        let Some(dir) = path.strip_suffix("Chart.yaml") else {
            continue;
        };
        if !is_chart_dir(dir) {
            continue;
        }
        let top = dir.is_empty();
        let mut metadata = chart_metadata(data, &format!("{label}/{path}"))?;
        if top {
            if let Some(v) = &options.version {
                capstan_chart::parse_version(v).map_err(|message| Error::Parse {
                    what: format!("--version {v:?}"),
                    message,
                })?;
                metadata.version = v.clone();
            }
            if let Some(app_version) = &options.app_version {
                metadata.app_version = app_version.clone();
            }
            (name, version) = (metadata.name.clone(), metadata.version.clone());
        }
        *data = helm_chart_yaml(metadata, &format!("{label}/{path}"))?;
    }
    files.sort_by_key(|(path, _)| (rank(path), path.clone()));
    let bytes = write_archive(&name, &files)?;
    capstan_chart::Chart::load_archive(&bytes, &limits).map_err(chart_error)?;
    Ok(Packaged {
        file_name: format!("{name}-{version}.tgz"),
        name,
        version,
        bytes,
    })
}

/// As Helm's `package` (which saves the loaded chart tree): a subchart kept as an archive in
/// `charts/` is written as its directory, `charts/<its name>/`, at any depth.
fn expand_subchart_archives(
    files: Vec<(String, Vec<u8>)>,
    label: &str,
) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::with_capacity(files.len());
    for (path, data) in files {
        let charts_dir = path
            .rsplit_once('/')
            .filter(|(dir, file)| {
                file.ends_with(".tgz")
                    && (*dir == "charts"
                        || dir
                            .strip_suffix("/charts")
                            .is_some_and(|chart| is_chart_dir(&format!("{chart}/"))))
            })
            .map(|(dir, _)| dir.to_owned());
        let Some(charts_dir) = charts_dir else {
            out.push((path, data));
            continue;
        };
        let inner = expand_subchart_archives(entries(&data, label)?, label)?;
        let chart_yaml = inner
            .iter()
            .find(|(name, _)| name == "Chart.yaml")
            .ok_or_else(|| Error::Parse {
                what: format!("{label}/{path}"),
                message: "Chart.yaml file is missing".into(),
            })?;
        let name = chart_metadata(&chart_yaml.1, &format!("{label}/{path}"))?.name;
        out.extend(
            inner
                .into_iter()
                .map(|(file, data)| (format!("{charts_dir}/{name}/{file}"), data)),
        );
    }
    Ok(out)
}

/// Whether `dir` (`""`, `charts/a/`, `charts/a/charts/b/`) is where a chart of the tree lives.
fn is_chart_dir(dir: &str) -> bool {
    let mut parts = dir.split('/').filter(|p| !p.is_empty());
    loop {
        match (parts.next(), parts.next()) {
            (None, _) => return true,
            (Some("charts"), Some(_)) => {}
            _ => return false,
        }
    }
}

/// A Chart.yaml's metadata as Helm loads it (sanitized, validated).
fn chart_metadata(data: &[u8], file: &str) -> Result<capstan_chart::ChartMetadata> {
    let text = std::str::from_utf8(data).map_err(|_| Error::Parse {
        what: file.to_owned(),
        message: "file is not valid UTF-8".into(),
    })?;
    capstan_chart::ChartMetadata::parse(text, file).map_err(|source| Error::Chart {
        chart: file.to_owned(),
        source,
    })
}

/// Chart.yaml as Helm's `chartutil.Save` writes it: sigs.k8s.io/yaml of the metadata's JSON;
/// a v1 chart's dependencies left to its requirements.yaml.
fn helm_chart_yaml(mut metadata: capstan_chart::ChartMetadata, file: &str) -> Result<Vec<u8>> {
    if metadata.api_version == "v1" {
        metadata.dependencies.clear();
    }
    let parse = |message: String| Error::Parse {
        what: file.to_owned(),
        message,
    };
    let json: serde_json::Value =
        serde_json::from_slice(&metadata.helm_json()).map_err(|e| parse(e.to_string()))?;
    Ok(capstan_sprig::encoding::json_value_to_yaml(&json)
        .map_err(|e| parse(e.to_string()))?
        .into_bytes())
}

/// `pull --untar`: extracts a chart archive into `dest/<chart name>/` after loading it with
/// capstan-chart's checks and limits (no `..`, links or special files); refuses to overwrite an
/// existing directory, as Helm does. The directory written.
pub fn untar(bytes: &[u8], dest: &Path, label: &str) -> Result<std::path::PathBuf> {
    let chart = capstan_chart::Chart::load_archive(bytes, &capstan_chart::Limits::default())
        .map_err(|source| Error::Chart {
            chart: label.into(),
            source,
        })?;
    let files = entries(bytes, label)?;
    let top = dest.join(chart.name());
    if top.exists() {
        return Err(Error::Reference(format!(
            "failed to untar: a file or directory with the name {} already exists",
            top.display()
        )));
    }
    for (name, data) in files {
        let relative = Path::new(&name);
        if name.is_empty()
            || !relative
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            continue;
        }
        let path = top.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
        }
        std::fs::write(&path, data).map_err(|e| Error::io("writing", &path, e))?;
    }
    Ok(top)
}

/// Helm's order of the parts of a chart in its archive.
fn rank(path: &str) -> u8 {
    match path {
        "Chart.yaml" => 0,
        "Chart.lock" => 1,
        "values.yaml" => 2,
        "values.schema.json" => 3,
        p if p.starts_with("templates/") => 4,
        p if p.starts_with("charts/") => 6,
        _ => 5,
    }
}

/// The chart-relative files of a `.tgz` (without its top directory).
fn entries(bytes: &[u8], label: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let io = |e| Error::io("reading package of", Path::new(label), e);
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut files = Vec::new();
    for entry in tar.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        let path = entry.path().map_err(io)?.to_string_lossy().into_owned();
        let relative = path
            .split_once('/')
            .map(|(_, r)| r.to_string())
            .unwrap_or_default();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(io)?;
        files.push((relative, data));
    }
    Ok(files)
}

/// A reproducible archive: fixed modification time (`SOURCE_DATE_EPOCH`, else 0), mode 0644,
/// owner 0, gzip at the default level with no name or time in its header.
fn write_archive(name: &str, files: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    let mtime = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    let archive_error = |e: std::io::Error| Error::Parse {
        what: format!("package of chart {name}"),
        message: e.to_string(),
    };
    let gz = GzBuilder::new()
        .mtime(0)
        .comment("Helm")
        .write(Vec::new(), Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (path, data) in files {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(data.len() as u64);
        tar.append_data(&mut header, format!("{name}/{path}"), data.as_slice())
            .map_err(archive_error)?;
    }
    let mut gz = tar.into_inner().map_err(archive_error)?;
    gz.flush().map_err(archive_error)?;
    gz.finish().map_err(archive_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(dir: &Path) {
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::write(
            dir.join("Chart.yaml"),
            "apiVersion: v2\nname: web\nversion: 0.1.0\n# a comment\n",
        )
        .unwrap();
        std::fs::write(dir.join("values.yaml"), "replicas: 1\n").unwrap();
        std::fs::write(dir.join("README.md"), "# web\n").unwrap();
        std::fs::write(dir.join("templates/cm.yaml"), "kind: ConfigMap\n").unwrap();
    }

    #[test]
    fn packages_reproducibly_in_helm_s_order() {
        let dir = tempfile::tempdir().unwrap();
        chart(dir.path());
        let options = PackageOptions {
            version: Some("1.2.3".into()),
            app_version: Some("9.9".into()),
        };
        let first = package(dir.path(), &options).unwrap();
        let second = package(dir.path(), &options).unwrap();
        assert_eq!(first.bytes, second.bytes);
        assert_eq!(first.file_name, "web-1.2.3.tgz");
        let names: Vec<String> = entries(&first.bytes, "t")
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            [
                "Chart.yaml",
                "values.yaml",
                "templates/cm.yaml",
                "README.md"
            ]
        );
        let chart =
            capstan_chart::Chart::load_archive(&first.bytes, &capstan_chart::Limits::default())
                .unwrap();
        assert_eq!(chart.metadata.version, "1.2.3");
        assert_eq!(chart.metadata.app_version, "9.9");
        assert!(
            package(
                dir.path(),
                &PackageOptions {
                    version: Some("x.y".into()),
                    ..Default::default()
                }
            )
            .is_err()
        );
    }

    #[test]
    fn untar_writes_the_chart_once() {
        let dir = tempfile::tempdir().unwrap();
        chart(&dir.path().join("src"));
        let packaged = package(&dir.path().join("src"), &PackageOptions::default()).unwrap();
        let out = dir.path().join("out");
        let top = untar(&packaged.bytes, &out, "web").unwrap();
        assert_eq!(top, out.join("web"));
        assert!(out.join("web/templates/cm.yaml").is_file());
        let again = untar(&packaged.bytes, &out, "web").unwrap_err().to_string();
        assert!(again.contains("already exists"), "{again}");
        let with_deps = dir.path().join("deps");
        chart(&with_deps);
        let chart_yaml = std::fs::read_to_string(with_deps.join("Chart.yaml")).unwrap();
        std::fs::write(
            with_deps.join("Chart.yaml"),
            chart_yaml + "dependencies:\n- name: db\n  version: 1.x\n  repository: https://h\n",
        )
        .unwrap();
        let err = package(&with_deps, &PackageOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing in charts/ directory: db"), "{err}");
        let err = untar(b"not a chart", &out, "junk").unwrap_err().to_string();
        assert!(err.starts_with("chart junk"), "{err}");
    }
}

//! The loaded chart ([`Chart`]), its files, and loading from a directory, an archive or files.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::archive::read_archive;
use crate::ignore::HelmIgnore;
use crate::metadata::ChartMetadata;
use crate::values::{Values, parse_values_yaml};
use crate::{Error, Result};

/// One file of a chart: its chart-relative path (with `/` separators) and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartFile {
    /// Chart-relative path, e.g. `templates/deployment.yaml`.
    pub name: String,
    /// The file's contents.
    pub data: FileData,
}

/// A chart file's bytes, shared rather than copied: the chart, the copy dependency resolution
/// makes of it and a render's `.Files` all hold the one buffer read from disk.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct FileData(Arc<Vec<u8>>);

impl FileData {
    /// The bytes, owned (copied only when another holder shares them).
    pub fn into_vec(self) -> Vec<u8> {
        Arc::unwrap_or_clone(self.0)
    }
}

impl std::ops::Deref for FileData {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for FileData {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for FileData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Vec<u8>> for FileData {
    fn from(data: Vec<u8>) -> FileData {
        FileData(Arc::new(data))
    }
}

impl From<&[u8]> for FileData {
    fn from(data: &[u8]) -> FileData {
        FileData(Arc::new(data.to_vec()))
    }
}

impl<const N: usize> From<&[u8; N]> for FileData {
    fn from(data: &[u8; N]) -> FileData {
        FileData(Arc::new(data.to_vec()))
    }
}

impl From<&str> for FileData {
    fn from(data: &str) -> FileData {
        FileData(Arc::new(data.as_bytes().to_vec()))
    }
}

impl From<String> for FileData {
    fn from(data: String) -> FileData {
        FileData(Arc::new(data.into_bytes()))
    }
}

impl FileData {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq<[u8]> for FileData {
    fn eq(&self, other: &[u8]) -> bool {
        self.0.as_slice() == other
    }
}

impl PartialEq<&[u8]> for FileData {
    fn eq(&self, other: &&[u8]) -> bool {
        self.0.as_slice() == *other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for FileData {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.0.as_slice() == other.as_slice()
    }
}

impl PartialEq<Vec<u8>> for FileData {
    fn eq(&self, other: &Vec<u8>) -> bool {
        *self.0 == *other
    }
}

/// The bounds enforced while loading a chart. Every byte is counted before it is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted archive, compressed (bytes).
    pub max_archive_bytes: u64,
    /// Largest decompressed tar stream of one archive, headers included (bytes); this is what
    /// stops gzip bombs.
    pub max_decompressed_bytes: u64,
    /// Largest sum of file sizes of one chart, subcharts included (bytes).
    pub max_total_bytes: u64,
    /// Largest single file (bytes).
    pub max_file_bytes: u64,
    /// Most files in one chart, subcharts included.
    pub max_files: usize,
    /// Deepest nesting of subcharts (`charts/a/charts/b/...`) and directories.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_archive_bytes: 20 << 20,
            max_decompressed_bytes: 128 << 20,
            max_total_bytes: 100 << 20,
            max_file_bytes: 5 << 20,
            max_files: 10_000,
            max_depth: 16,
        }
    }
}

/// Running totals checked against [`Limits`] while files are collected.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    pub files: usize,
    pub bytes: u64,
}

impl Budget {
    /// Accounts for one file of `size` bytes named `name`, failing when a limit is passed.
    pub fn take(&mut self, limits: &Limits, name: &str, size: u64) -> Result<()> {
        if size > limits.max_file_bytes {
            return Err(Error::Limit {
                what: format!("file {name:?} ({size} bytes)"),
                limit: format!("{} bytes per file", limits.max_file_bytes),
            });
        }
        self.files += 1;
        if self.files > limits.max_files {
            return Err(Error::Limit {
                what: format!("the number of files (at {name:?})"),
                limit: format!("{} files", limits.max_files),
            });
        }
        self.bytes += size;
        if self.bytes > limits.max_total_bytes {
            return Err(Error::Limit {
                what: format!("the chart's total size (at {name:?})"),
                limit: format!("{} bytes", limits.max_total_bytes),
            });
        }
        Ok(())
    }
}

/// A loaded chart: metadata, default values, schema, templates, other files and subcharts.
///
/// Invariant: `templates` and `files` are sorted by name, paths are chart-relative and safe (no
/// `..`, not absolute), and `dependencies` holds every chart found under `charts/` (before
/// conditions, tags and aliases are applied; see [`crate::process_dependencies`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// `Chart.yaml`.
    pub metadata: ChartMetadata,
    /// `values.yaml` (empty when absent).
    pub values: Values,
    /// The raw text of `values.yaml` (empty when absent).
    pub values_yaml: String,
    /// `values.schema.json`, parsed.
    pub schema: Option<serde_json::Value>,
    /// Every file under `templates/`, partials and `NOTES.txt` included.
    pub templates: Vec<ChartFile>,
    /// Every other file (`crds/`, `README.md`, `Chart.lock`, data files for `Files`), not
    /// `Chart.yaml`, `values.yaml`, `values.schema.json`, `templates/` or `charts/`.
    pub files: Vec<ChartFile>,
    /// Subcharts from `charts/` (directories and `.tgz` archives).
    pub dependencies: Vec<Chart>,
}

impl Chart {
    /// The chart's name (after alias processing, the alias).
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// The CRD files under `crds/` (`.yaml`, `.yml` or `.json`, in any case), in path order.
    pub fn crds(&self) -> impl Iterator<Item = &ChartFile> {
        self.files.iter().filter(|f| {
            let extension = f.name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
            f.name.starts_with("crds/")
                && matches!(extension.as_deref(), Some("yaml" | "yml" | "json"))
        })
    }

    /// The CRD files of the chart and then of each subchart in `charts/` (enabled or not),
    /// depth first, as Helm's `CRDObjects` lists them.
    pub fn crds_with_subcharts(&self) -> Vec<&ChartFile> {
        let mut crds: Vec<&ChartFile> = self.crds().collect();
        for dependency in &self.dependencies {
            crds.extend(dependency.crds_with_subcharts());
        }
        crds
    }

    /// Loads a chart directory or a `.tgz` archive file, whichever `path` is.
    pub fn load_path(path: &Path, limits: &Limits) -> Result<Chart> {
        let meta = std::fs::metadata(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        if meta.is_dir() {
            return Chart::load_dir(path, limits);
        }
        if meta.len() > limits.max_archive_bytes {
            return Err(Error::Limit {
                what: format!("archive {} ({} bytes)", path.display(), meta.len()),
                limit: format!("{} bytes", limits.max_archive_bytes),
            });
        }
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Chart::load_archive(&bytes, limits)
    }

    /// Loads a chart directory, honouring its `.helmignore`.
    pub fn load_dir(dir: &Path, limits: &Limits) -> Result<Chart> {
        let files = read_dir_files(dir, limits)?;
        let label = dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| dir.display().to_string());
        build(files, &label, limits, 0)
    }

    /// A chart directory's files, as [`Chart::load_dir`] reads them (`.helmignore` honoured,
    /// [`Limits`] enforced), for a caller that digests them before
    /// [`Chart::from_dir_files`] builds the chart.
    pub fn dir_files(dir: &Path, limits: &Limits) -> Result<Vec<ChartFile>> {
        read_dir_files(dir, limits)
    }

    /// Builds the chart of `dir` from its files ([`Chart::dir_files`]), validated as
    /// [`crate::package_dir`] validates it: the chart its package would hold.
    pub fn from_dir_files(files: Vec<ChartFile>, dir: &Path, limits: &Limits) -> Result<Chart> {
        build(files, &dir.display().to_string(), limits, 0)
    }

    /// Loads a chart from `.tgz` bytes (a single top-level directory holding the chart), with
    /// every safety check and limit of [`Limits`]; as in Helm, a `.helmignore` in the archive
    /// is not applied (the archive is the chart as packaged).
    pub fn load_archive(bytes: &[u8], limits: &Limits) -> Result<Chart> {
        load_archive_at(bytes, limits, 0, &mut Budget::default())
    }

    /// Builds a chart from chart-relative files (as a directory walk or an archive gives them).
    pub fn from_files(files: Vec<ChartFile>, limits: &Limits) -> Result<Chart> {
        let label = "chart".to_string();
        build(files, &label, limits, 0)
    }
}

fn load_archive_at(
    bytes: &[u8],
    limits: &Limits,
    depth: usize,
    budget: &mut Budget,
) -> Result<Chart> {
    // As Helm: `.helmignore` applies when a directory is read (or packaged), never to an
    // archive's files, which are the chart as packaged.
    let (top, files) = read_archive(bytes, limits, budget)?;
    build(files, &top, limits, depth)
}

fn utf8(file: &ChartFile, label: &str) -> Result<String> {
    std::str::from_utf8(&file.data)
        .map(str::to_owned)
        .map_err(|_| Error::Values {
            source_name: format!("{label}/{}", file.name),
            message: "file is not valid UTF-8".into(),
        })
}

/// Assembles a chart from its files; `label` prefixes file names in errors.
pub(crate) fn build(
    mut files: Vec<ChartFile>,
    label: &str,
    limits: &Limits,
    depth: usize,
) -> Result<Chart> {
    if depth > limits.max_depth {
        return Err(Error::Limit {
            what: format!("subchart nesting at {label}"),
            limit: format!("{} levels", limits.max_depth),
        });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let chart_yaml = files
        .iter()
        .find(|f| f.name == "Chart.yaml")
        .ok_or_else(|| Error::MissingChartYaml {
            location: label.to_string(),
        })?;
    let mut metadata =
        ChartMetadata::parse(&utf8(chart_yaml, label)?, &format!("{label}/Chart.yaml"))?;
    // Helm reads `requirements.yaml` (apiVersion v1's dependencies) into the metadata.
    if let Some(req) = files.iter().find(|f| f.name == "requirements.yaml") {
        let file = format!("{label}/requirements.yaml");
        let r: Requirements = crate::values::from_yaml(&utf8(req, label)?, &file)?;
        if let Some(deps) = r.dependencies {
            metadata.dependencies = deps;
            metadata.validate(&file)?;
        }
    }
    let is_v1 = metadata.api_version == "v1";
    let label = if depth == 0 {
        metadata.name.clone()
    } else {
        label.to_string()
    };

    let mut chart = Chart {
        metadata,
        values: Values::new(),
        values_yaml: String::new(),
        schema: None,
        templates: Vec::new(),
        files: Vec::new(),
        dependencies: Vec::new(),
    };
    let mut sub_dirs: BTreeMap<String, Vec<ChartFile>> = BTreeMap::new();
    let mut sub_archives: Vec<ChartFile> = Vec::new();
    for file in files {
        let name = file.name.as_str();
        if name == "Chart.yaml" || (name == "requirements.yaml" && !is_v1) {
            continue;
        } else if name == "values.yaml" {
            let text = utf8(&file, &label)?;
            chart.values = parse_values_yaml(&text, &format!("{label}/values.yaml"))?;
            chart.values_yaml = text;
        } else if name == "values.schema.json" {
            let file_label = format!("{label}/values.schema.json");
            let schema = serde_json::from_slice(&file.data).map_err(|e| Error::InvalidSchema {
                file: file_label.clone(),
                message: format!("line {}, column {}: {e}", e.line(), e.column()),
            })?;
            chart.schema = Some(schema);
        } else if name.starts_with("templates/") {
            chart.templates.push(file);
        } else if let Some(rest) = name.strip_prefix("charts/") {
            match rest.split_once('/') {
                Some((dir, inner)) => {
                    sub_dirs
                        .entry(dir.to_string())
                        .or_default()
                        .push(ChartFile {
                            name: inner.to_string(),
                            data: file.data,
                        })
                }
                None if rest.ends_with(".tgz") || rest.ends_with(".tar.gz") => {
                    sub_archives.push(file)
                }
                // Stray files directly in charts/ (.gitkeep, .prov) are not charts.
                None => {}
            }
        } else {
            chart.files.push(file);
        }
    }
    for (dir, files) in sub_dirs {
        let sub_label = format!("{label}/charts/{dir}");
        chart
            .dependencies
            .push(build(files, &sub_label, limits, depth + 1)?);
    }
    for archive in sub_archives {
        let mut budget = Budget::default();
        let sub =
            load_archive_at(&archive.data, limits, depth + 1, &mut budget).map_err(
                |e| match e {
                    Error::MissingChartYaml { location } => Error::MissingChartYaml {
                        location: format!("{label}/{} ({location})", archive.name),
                    },
                    other => other,
                },
            )?;
        chart.dependencies.push(sub);
    }
    chart
        .dependencies
        .sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(chart)
}

/// A file the walk of a chart directory found: its chart-relative name, path and size.
struct Found {
    rel: String,
    path: std::path::PathBuf,
    size: u64,
}

/// Directories holding at least this many bytes of files are read on two threads.
const PARALLEL_READ_FROM: u64 = 1 << 20;

/// Reads a chart directory's files (chart-relative, sorted), honouring `.helmignore` and
/// [`Limits`]. Symbolic links are followed only when they stay inside the chart directory.
///
/// The directory is walked first (every limit but the file's size after reading is checked
/// there), then the files are read, on two threads for a large chart; the error reported is
/// the one reading and walking in one pass would meet first: a file's before the walk's,
/// which came after every file it found.
pub(crate) fn read_dir_files(root: &Path, limits: &Limits) -> Result<Vec<ChartFile>> {
    let mut found = Vec::new();
    let walked = walk_dir(root, limits, &mut found);
    let mut out = Vec::with_capacity(found.len());
    for file in read_found(&found, limits) {
        out.push(file?);
    }
    walked?;
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Reads the files `found`, in order, on two threads when they are large enough together.
fn read_found(found: &[Found], limits: &Limits) -> Vec<Result<ChartFile>> {
    let read = |f: &Found| -> Result<ChartFile> {
        let data = read_sized(f, limits).map_err(|source| Error::Io {
            path: f.path.display().to_string(),
            source,
        })?;
        if data.len() as u64 > limits.max_file_bytes {
            return Err(Error::Limit {
                what: format!("file {:?} ({} bytes)", f.rel, data.len()),
                limit: format!("{} bytes per file", limits.max_file_bytes),
            });
        }
        Ok(ChartFile {
            name: f.rel.clone(),
            data: data.into(),
        })
    };
    crate::halves::map_in_halves(found, |f| f.size, PARALLEL_READ_FROM, "capstan-read", read)
}

/// The bytes of the file `f`, read into a buffer of the size the walk saw: `open`, `read`
/// and the `read` that finds the end, without the `fstat` (and, for [`std::fs::File`]'s own
/// `read_to_end`, the `lseek`) that asking the size again costs. A file that changed since is
/// still read whole, to its end.
fn read_sized(f: &Found, limits: &Limits) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(&f.path)?;
    // The walk refused larger files; the bound keeps a file that grew since from setting it.
    let expected = usize::try_from(f.size.min(limits.max_file_bytes)).unwrap_or(0);
    // Zeroed memory fresh from the allocator costs no writing.
    let mut data = vec![0u8; expected];
    let mut filled = 0;
    while filled < expected {
        match file.read(&mut data[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    data.truncate(filled);
    if filled == expected {
        // Whatever the file holds beyond the size seen (usually nothing: one `read` of 0).
        // Not `read_to_end`, which asks `fstat` and `lseek` for the size first.
        let mut more = [0u8; 4096];
        loop {
            match file.read(&mut more) {
                Ok(0) => break,
                Ok(n) => data.extend_from_slice(&more[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(data)
}

/// Walks a chart directory, listing in `found` the files to read, until the end or the first
/// error.
fn walk_dir(root: &Path, limits: &Limits, found: &mut Vec<Found>) -> Result<()> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| Error::Io { path, source }
    };
    let canonical_root = root.canonicalize().map_err(io(root))?;
    if !canonical_root.is_dir() {
        return Err(Error::Io {
            path: root.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    let ignore_path = canonical_root.join(".helmignore");
    let ignore = if ignore_path.is_file() {
        let text = std::fs::read_to_string(&ignore_path).map_err(io(&ignore_path))?;
        HelmIgnore::parse(&text)?
    } else {
        HelmIgnore::with_defaults()
    };

    let mut budget = Budget::default();
    let mut stack = vec![(canonical_root.clone(), String::new(), 0usize)];
    while let Some((dir, rel_dir, depth)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(io(&dir))?
            .collect::<std::io::Result<_>>()
            .map_err(io(&dir))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if rel_dir.is_empty() {
                name
            } else {
                format!("{rel_dir}/{name}")
            };
            let path = entry.path();
            // The entry's type as the directory listing gives it (no `lstat` on file systems
            // that record it); a file's size by `fstatat` in the directory already open, which
            // resolves one name rather than the whole path. Both without following a link, as
            // `std::fs::symlink_metadata` would.
            let kind = entry.file_type().map_err(io(&path))?;
            let (is_dir, is_file, size) = if kind.is_symlink() {
                let target = path.canonicalize().map_err(io(&path))?;
                if !target.starts_with(&canonical_root) {
                    return Err(Error::UnsafeEntry {
                        entry: rel,
                        reason: "symbolic link points outside the chart directory".into(),
                    });
                }
                let meta = std::fs::metadata(&target).map_err(io(&target))?;
                (meta.is_dir(), meta.is_file(), Some(meta.len()))
            } else {
                (kind.is_dir(), kind.is_file(), None)
            };
            if is_dir {
                if ignore.ignored(&rel, true) {
                    continue;
                }
                if depth + 1 > limits.max_depth * 4 {
                    return Err(Error::Limit {
                        what: format!("directory nesting at {rel:?}"),
                        limit: format!("{} levels", limits.max_depth * 4),
                    });
                }
                stack.push((path, rel, depth + 1));
            } else if is_file {
                if ignore.ignored(&rel, false) {
                    continue;
                }
                let size = match size {
                    Some(size) => size,
                    None => entry.metadata().map_err(io(&path))?.len(),
                };
                budget.take(limits, &rel, size)?;
                found.push(Found { rel, path, size });
            }
            // Sockets, fifos and devices are skipped: they are never chart content.
        }
    }
    Ok(())
}

/// The part of `requirements.yaml` Helm reads.
#[derive(serde::Deserialize)]
struct Requirements {
    dependencies: Option<Vec<crate::metadata::Dependency>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, data: &str) -> ChartFile {
        ChartFile {
            name: name.into(),
            data: data.into(),
        }
    }

    #[test]
    fn builds_from_files_with_subcharts() {
        let chart = Chart::from_files(
            vec![
                file("Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n"),
                file("values.yaml", "replicaCount: 2\n"),
                file("templates/a.yaml", "x"),
                file("crds/c.yaml", "y"),
                file("README.md", "z"),
                file(
                    "charts/db/Chart.yaml",
                    "apiVersion: v2\nname: db\nversion: 1.0.0\n",
                ),
                file("charts/db/templates/s.yaml", "s"),
                file("charts/.gitkeep", ""),
            ],
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(chart.name(), "web");
        assert_eq!(chart.values["replicaCount"], 2);
        assert_eq!(chart.templates.len(), 1);
        assert_eq!(chart.crds().count(), 1);
        assert_eq!(chart.files.len(), 2);
        assert_eq!(chart.dependencies[0].name(), "db");
        assert_eq!(chart.dependencies[0].templates[0].name, "templates/s.yaml");
    }

    #[test]
    fn missing_chart_yaml_says_where() {
        let e = Chart::from_files(vec![file("values.yaml", "a: 1")], &Limits::default())
            .unwrap_err()
            .to_string();
        assert_eq!(e, "chart: Chart.yaml file is missing");
        let e = Chart::from_files(
            vec![
                file("Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n"),
                file("charts/db/values.yaml", "a: 1"),
            ],
            &Limits::default(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "web/charts/db: Chart.yaml file is missing");
    }

    #[test]
    fn bad_values_yaml_names_file_and_line() {
        let e = Chart::from_files(
            vec![
                file("Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\n"),
                file("values.yaml", "a: 1\nb: [unclosed\n"),
            ],
            &Limits::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("web/values.yaml:"), "{e}");
        assert!(e.contains("yaml does not parse"), "{e}");
    }

    #[test]
    fn budget_limits() {
        let limits = Limits {
            max_file_bytes: 10,
            max_files: 2,
            max_total_bytes: 15,
            ..Limits::default()
        };
        let mut b = Budget::default();
        let e = b.take(&limits, "big", 11).unwrap_err().to_string();
        assert!(
            e.contains("file \"big\" (11 bytes)") && e.contains("10 bytes per file"),
            "{e}"
        );
        b.take(&limits, "a", 8).unwrap();
        let e = b.take(&limits, "b", 8).unwrap_err().to_string();
        assert!(e.contains("total size (at \"b\")"), "{e}");
        let mut b = Budget::default();
        b.take(&limits, "a", 1).unwrap();
        b.take(&limits, "b", 1).unwrap();
        let e = b.take(&limits, "c", 1).unwrap_err().to_string();
        assert!(e.contains("number of files"), "{e}");
    }

    #[test]
    fn load_dir_honours_helmignore_and_rejects_escaping_symlinks() {
        let dir = std::env::temp_dir().join(format!("capstan-chart-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::write(
            dir.join("Chart.yaml"),
            "apiVersion: v2\nname: d\nversion: 1.0.0\n",
        )
        .unwrap();
        std::fs::write(dir.join(".helmignore"), "*.bak\nsecret/\n").unwrap();
        std::fs::write(dir.join("x.bak"), "ignored").unwrap();
        std::fs::create_dir_all(dir.join("secret")).unwrap();
        std::fs::write(dir.join("secret/key"), "ignored").unwrap();
        std::fs::write(dir.join("templates/a.yaml"), "a").unwrap();
        let chart = Chart::load_dir(&dir, &Limits::default()).unwrap();
        let names: Vec<_> = chart.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, vec![".helmignore"]);
        assert_eq!(chart.templates.len(), 1);

        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc/hostname", dir.join("templates/link.yaml")).unwrap();
            let e = Chart::load_dir(&dir, &Limits::default())
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("templates/link.yaml") && e.contains("outside"),
                "{e}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A file is read whole whatever size the walk saw for it (it may have changed since).
    #[test]
    fn read_sized_reads_to_the_end() {
        let dir = std::env::temp_dir().join(format!("capstan-chart-sized-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.txt");
        let text: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &text).unwrap();
        for size in [0, 1, 8_192, 19_999, 20_000, 20_001, 100_000] {
            let found = Found {
                rel: "f.txt".into(),
                path: path.clone(),
                size,
            };
            assert_eq!(
                read_sized(&found, &Limits::default()).unwrap(),
                text,
                "{size}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The walk takes the entries' types from the listing and their sizes from `fstatat`:
    /// links inside the chart are still followed (to a file and to a directory), every byte is
    /// read, and a file over the size limit is refused by the walk before anything is read.
    #[cfg(unix)]
    #[test]
    fn load_dir_follows_inner_symlinks_and_checks_sizes() {
        let dir = std::env::temp_dir().join(format!("capstan-chart-links-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::create_dir_all(dir.join("files")).unwrap();
        std::fs::write(
            dir.join("Chart.yaml"),
            "apiVersion: v2\nname: d\nversion: 1.0.0\n",
        )
        .unwrap();
        let big = "x".repeat(70_000);
        std::fs::write(dir.join("files/data.txt"), &big).unwrap();
        std::fs::write(dir.join("templates/a.yaml"), "a: 1\n").unwrap();
        std::os::unix::fs::symlink(dir.join("files/data.txt"), dir.join("linked.txt")).unwrap();
        std::os::unix::fs::symlink(dir.join("files"), dir.join("more")).unwrap();
        let chart = Chart::load_dir(&dir, &Limits::default()).unwrap();
        let file = |name: &str| {
            chart
                .files
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.data.len())
        };
        assert_eq!(file("files/data.txt"), Some(big.len()));
        assert_eq!(file("linked.txt"), Some(big.len()));
        assert_eq!(file("more/data.txt"), Some(big.len()));
        assert_eq!(chart.templates.len(), 1);

        let limits = Limits {
            max_file_bytes: 1_000,
            ..Limits::default()
        };
        let e = Chart::load_dir(&dir, &limits).unwrap_err().to_string();
        assert!(
            e.contains("linked.txt") && e.contains("1000 bytes per file"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

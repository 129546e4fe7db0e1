//! Chart archives: hostile-input-safe reading of `.tgz` bytes, deterministic packaging, digests.
//!
//! Reading counts every decompressed byte (a gzip bomb stops at
//! [`Limits::max_decompressed_bytes`] with bounded memory), checks each entry's declared size
//! before reading it, and rejects entries that could escape the chart: `..` components,
//! absolute paths, symbolic and hard links, devices and fifos.

use std::cell::Cell;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use flate2::read::GzDecoder;
use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};

use crate::chart::{Budget, ChartFile, Limits, build, read_dir_files};
use crate::{Error, Result};

/// A reader that fails once more than `limit` bytes came through, and remembers that it did.
struct Counted<R> {
    inner: R,
    read: u64,
    limit: u64,
    exceeded: Rc<Cell<bool>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.limit {
            self.exceeded.set(true);
            return Err(std::io::Error::other("decompressed size limit exceeded"));
        }
        Ok(n)
    }
}

fn check_path(raw: &str) -> Result<()> {
    let unsafe_entry = |reason: &str| Error::UnsafeEntry {
        entry: raw.to_string(),
        reason: reason.to_string(),
    };
    if raw.contains('\0') {
        return Err(unsafe_entry("path contains a NUL byte"));
    }
    if raw.starts_with('/') || raw.starts_with('\\') || raw.as_bytes().get(1) == Some(&b':') {
        return Err(unsafe_entry("absolute paths are not allowed"));
    }
    if raw.split(['/', '\\']).any(|c| c == "..") {
        return Err(unsafe_entry("paths with '..' are not allowed"));
    }
    Ok(())
}

/// Reads the files of a chart archive: returns the top-level directory name and the files with
/// that directory stripped from their names.
pub(crate) fn read_archive(
    bytes: &[u8],
    limits: &Limits,
    budget: &mut Budget,
) -> Result<(String, Vec<ChartFile>)> {
    if bytes.len() as u64 > limits.max_archive_bytes {
        return Err(Error::Limit {
            what: format!("chart archive ({} bytes)", bytes.len()),
            limit: format!("{} bytes", limits.max_archive_bytes),
        });
    }
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(Error::Archive {
            message: "not a gzip stream (a chart archive is a .tgz file)".into(),
        });
    }
    let exceeded = Rc::new(Cell::new(false));
    let reader = Counted {
        inner: GzDecoder::new(bytes),
        read: 0,
        limit: limits.max_decompressed_bytes,
        exceeded: exceeded.clone(),
    };
    let io_error = |e: std::io::Error| {
        if exceeded.get() {
            Error::Limit {
                what: "the decompressed archive (possible gzip bomb)".into(),
                limit: format!("{} bytes", limits.max_decompressed_bytes),
            }
        } else {
            Error::Archive {
                message: e.to_string(),
            }
        }
    };
    let mut archive = tar::Archive::new(reader);
    let mut top: Option<String> = None;
    let mut files = Vec::new();
    for entry in archive.entries().map_err(io_error)? {
        let mut entry = entry.map_err(io_error)?;
        let raw =
            String::from_utf8(entry.path_bytes().into_owned()).map_err(|e| Error::UnsafeEntry {
                entry: String::from_utf8_lossy(e.as_bytes()).into_owned(),
                reason: "path is not valid UTF-8".into(),
            })?;
        check_path(&raw)?;
        use tar::EntryType as T;
        match entry.header().entry_type() {
            T::Regular | T::Continuous => {}
            T::Directory | T::XGlobalHeader | T::XHeader => continue,
            T::Symlink => {
                return Err(Error::UnsafeEntry {
                    entry: raw,
                    reason: "symbolic links are not allowed".into(),
                });
            }
            T::Link => {
                return Err(Error::UnsafeEntry {
                    entry: raw,
                    reason: "hard links are not allowed".into(),
                });
            }
            T::Char | T::Block | T::Fifo => {
                return Err(Error::UnsafeEntry {
                    entry: raw,
                    reason: "device and fifo entries are not allowed".into(),
                });
            }
            other => {
                return Err(Error::UnsafeEntry {
                    entry: raw,
                    reason: format!("unsupported entry type {other:?}"),
                });
            }
        }
        let trimmed = raw.trim_start_matches("./");
        let Some((dir, name)) = trimmed.split_once('/') else {
            return Err(Error::UnsafeEntry {
                entry: raw,
                reason: "files must be inside the chart's top-level directory".into(),
            });
        };
        let name = name.trim_start_matches('/').to_string();
        if name.is_empty() {
            continue;
        }
        if top.is_none() {
            top = Some(dir.to_string());
        }
        let size = entry.size();
        budget.take(limits, &raw, size)?;
        let mut data = Vec::with_capacity(size.min(limits.max_file_bytes) as usize);
        (&mut entry)
            .take(limits.max_file_bytes + 1)
            .read_to_end(&mut data)
            .map_err(io_error)?;
        if data.len() as u64 > limits.max_file_bytes {
            return Err(Error::Limit {
                what: format!("file {raw:?}"),
                limit: format!("{} bytes per file", limits.max_file_bytes),
            });
        }
        files.push(ChartFile {
            name,
            data: data.into(),
        });
    }
    let top = top.ok_or_else(|| Error::MissingChartYaml {
        location: "archive (it holds no files)".into(),
    })?;
    Ok((top, files))
}

/// Packages chart files into deterministic `.tgz` bytes under the top-level directory `name`:
/// files sorted by path, mode 0644, owner 0, modification time 0, fixed gzip header. gzip's
/// fastest level: the archive carries a chart to the renderer (often in the same process), where
/// deflating at the default level took a third of a `capstan template` of a large chart.
pub fn package_files(name: &str, files: &[ChartFile]) -> Result<Vec<u8>> {
    let mut sorted: Vec<&ChartFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let gz = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for file in sorted {
        check_path(&file.name)?;
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(file.data.len() as u64);
        tar.append_data(
            &mut header,
            format!("{name}/{}", file.name),
            file.data.as_slice(),
        )
        .map_err(|e| Error::Archive {
            message: format!("writing {}: {e}", file.name),
        })?;
    }
    let gz = tar.into_inner().map_err(|e| Error::Archive {
        message: e.to_string(),
    })?;
    gz.finish().map_err(|e| Error::Archive {
        message: e.to_string(),
    })
}

/// Packages a chart directory (honouring `.helmignore`, validating the chart first) into
/// deterministic `.tgz` bytes, as `helm package` does but byte-reproducibly.
pub fn package_dir(dir: &Path, limits: &Limits) -> Result<Vec<u8>> {
    let files = read_dir_files(dir, limits)?;
    let chart = build(files.clone(), &dir.display().to_string(), limits, 0)?;
    package_files(chart.name(), &files)
}

/// The sha256 digest of a chart's files, as 64 lowercase hex digits: each file's path, its
/// length and its bytes, in path order (so the same files in any order give the same digest,
/// and no two different file sets run together into the same stream).
pub fn files_digest(files: &[ChartFile]) -> String {
    let mut sorted: Vec<&ChartFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hasher = Sha256::new();
    hasher.update(b"capstan chart files v1\0");
    for file in sorted {
        hasher.update((file.name.len() as u64).to_be_bytes());
        hasher.update(file.name.as_bytes());
        hasher.update((file.data.len() as u64).to_be_bytes());
        hasher.update(&file.data);
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sha256 digest of chart archive bytes, as 64 lowercase hex digits.
pub fn archive_digest(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Chart;
    use std::io::Write;

    const CHART_YAML: &str = "apiVersion: v2\nname: web\nversion: 0.1.0\n";

    /// Builds a .tgz from raw tar headers, so that hostile archives can be crafted.
    fn tgz(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, kind, data, link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            // Write the name straight into the header so that unsafe names survive.
            let name = &mut h.as_gnu_mut().unwrap().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            if let Some(link) = link {
                h.set_link_name(link).unwrap();
            }
            h.set_cksum();
            tar.append(&h, *data).unwrap();
        }
        let raw = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&raw).unwrap();
        gz.finish().unwrap()
    }

    fn load(bytes: &[u8]) -> Result<Chart> {
        Chart::load_archive(bytes, &Limits::default())
    }

    #[test]
    fn loads_a_packaged_chart_and_is_deterministic() {
        let files = vec![
            ChartFile {
                name: "Chart.yaml".into(),
                data: CHART_YAML.into(),
            },
            ChartFile {
                name: "templates/a.yaml".into(),
                data: b"kind: A".to_vec().into(),
            },
        ];
        let a = package_files("web", &files).unwrap();
        let mut reversed = files.clone();
        reversed.reverse();
        let b = package_files("web", &reversed).unwrap();
        assert_eq!(a, b);
        assert_eq!(archive_digest(&a), archive_digest(&b));
        assert_eq!(archive_digest(&a).len(), 64);
        let chart = load(&a).unwrap();
        assert_eq!(chart.name(), "web");
        assert_eq!(chart.templates[0].data, b"kind: A");
    }

    #[test]
    fn a_directory_loaded_directly_is_the_chart_its_package_holds() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("web");
        std::fs::create_dir_all(root.join("templates")).unwrap();
        std::fs::create_dir_all(root.join("charts/db/templates")).unwrap();
        std::fs::write(root.join("Chart.yaml"), CHART_YAML).unwrap();
        std::fs::write(root.join("values.yaml"), "a: 1\nb: [x]\n").unwrap();
        std::fs::write(root.join("templates/a.yaml"), "kind: A").unwrap();
        std::fs::write(root.join("templates/skip.bak"), "x").unwrap();
        std::fs::write(root.join(".helmignore"), "*.bak\n").unwrap();
        std::fs::write(
            root.join("charts/db/Chart.yaml"),
            "apiVersion: v2\nname: db\nversion: 1.0.0\n",
        )
        .unwrap();
        std::fs::write(root.join("charts/db/templates/s.yaml"), "kind: S").unwrap();
        let limits = Limits::default();
        let files = Chart::dir_files(&root, &limits).unwrap();
        let digest = files_digest(&files);
        let direct = Chart::from_dir_files(files, &root, &limits).unwrap();
        let packaged = load(&package_dir(&root, &limits).unwrap()).unwrap();
        assert_eq!(direct, packaged);
        assert!(
            direct
                .templates
                .iter()
                .all(|t| t.name != "templates/skip.bak")
        );
        let again = files_digest(&Chart::dir_files(&root, &limits).unwrap());
        assert_eq!(digest, again);
        assert_eq!(digest.len(), 64);
        std::fs::write(root.join("templates/a.yaml"), "kind: B").unwrap();
        let changed = files_digest(&Chart::dir_files(&root, &limits).unwrap());
        assert_ne!(digest, changed);
    }

    #[test]
    fn files_digest_frames_each_file() {
        let file = |name: &str, data: &str| ChartFile {
            name: name.into(),
            data: data.into(),
        };
        let a = files_digest(&[file("ab", "c"), file("d", "")]);
        let b = files_digest(&[file("a", "bc"), file("d", "")]);
        let c = files_digest(&[file("d", ""), file("ab", "c")]);
        assert_ne!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn rejects_unsafe_entries_naming_them() {
        let reg = tar::EntryType::Regular;
        let cases: Vec<(Vec<u8>, &str, &str)> = vec![
            (
                tgz(&[("web/../../etc/passwd", reg, b"x", None)]),
                "web/../../etc/passwd",
                "'..'",
            ),
            (
                tgz(&[("/etc/passwd", reg, b"x", None)]),
                "/etc/passwd",
                "absolute",
            ),
            (
                tgz(&[(
                    "web/templates/l.yaml",
                    tar::EntryType::Symlink,
                    b"",
                    Some("/etc/passwd"),
                )]),
                "web/templates/l.yaml",
                "symbolic links",
            ),
            (
                tgz(&[(
                    "web/templates/h.yaml",
                    tar::EntryType::Link,
                    b"",
                    Some("web/Chart.yaml"),
                )]),
                "web/templates/h.yaml",
                "hard links",
            ),
            (
                tgz(&[("web/dev", tar::EntryType::Char, b"", None)]),
                "web/dev",
                "device",
            ),
            (
                tgz(&[("web/disk", tar::EntryType::Block, b"", None)]),
                "web/disk",
                "device",
            ),
            (
                tgz(&[("web/pipe", tar::EntryType::Fifo, b"", None)]),
                "web/pipe",
                "fifo",
            ),
            (
                tgz(&[("web\\..\\..\\x", reg, b"x", None)]),
                "web\\..\\..\\x",
                "'..'",
            ),
            (
                tgz(&[("C:/Windows/x", reg, b"x", None)]),
                "C:/Windows/x",
                "absolute",
            ),
            (
                tgz(&[("\\\\server\\share", reg, b"x", None)]),
                "\\\\server\\share",
                "absolute",
            ),
        ];
        for (bytes, entry, reason) in cases {
            let e = load(&bytes).unwrap_err().to_string();
            assert!(
                e.contains(&format!("archive entry {entry:?}")) && e.contains(reason),
                "{e}"
            );
        }
    }

    #[test]
    fn file_count_and_total_size_are_bounded() {
        let mut entries: Vec<(String, Vec<u8>)> =
            vec![("web/Chart.yaml".into(), CHART_YAML.into())];
        for i in 0..20 {
            entries.push((format!("web/files/f{i}"), vec![b'x'; 100]));
        }
        let refs: Vec<(&str, tar::EntryType, &[u8], Option<&str>)> = entries
            .iter()
            .map(|(n, d)| (n.as_str(), tar::EntryType::Regular, d.as_slice(), None))
            .collect();
        let bytes = tgz(&refs);
        let few = Limits {
            max_files: 10,
            ..Limits::default()
        };
        let e = Chart::load_archive(&bytes, &few).unwrap_err();
        assert!(matches!(e, Error::Limit { .. }), "{e}");
        assert!(e.to_string().contains("limit of 10 files"), "{e}");
        let small = Limits {
            max_total_bytes: 1000,
            ..Limits::default()
        };
        let e = Chart::load_archive(&bytes, &small).unwrap_err();
        assert!(e.to_string().contains("limit of 1000 bytes"), "{e}");
        assert!(Chart::load_archive(&bytes, &Limits::default()).is_ok());
    }

    #[test]
    fn archive_without_chart_yaml() {
        let bytes = tgz(&[("web/values.yaml", tar::EntryType::Regular, b"a: 1", None)]);
        assert_eq!(
            load(&bytes).unwrap_err().to_string(),
            "web: Chart.yaml file is missing"
        );
    }

    #[test]
    fn oversize_file_and_archive_rejected() {
        let big = vec![b'a'; 2048];
        let bytes = tgz(&[
            (
                "web/Chart.yaml",
                tar::EntryType::Regular,
                CHART_YAML.as_bytes(),
                None,
            ),
            ("web/files/big.txt", tar::EntryType::Regular, &big, None),
        ]);
        let limits = Limits {
            max_file_bytes: 1024,
            ..Limits::default()
        };
        let e = Chart::load_archive(&bytes, &limits)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("web/files/big.txt") && e.contains("1024 bytes per file"),
            "{e}"
        );
        let limits = Limits {
            max_archive_bytes: 10,
            ..Limits::default()
        };
        let e = Chart::load_archive(&bytes, &limits)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("chart archive (") && e.contains("limit of 10 bytes"),
            "{e}"
        );
    }

    #[test]
    fn gzip_bomb_rejected_with_bounded_memory() {
        // A file declaring 1 GiB of zeros: the declared size is checked before any byte of it
        // is read, so the archive needs not even hold the whole gigabyte.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), Compression::fast());
        let mut h = tar::Header::new_gnu();
        h.set_path("web/bomb").unwrap();
        h.set_size(1 << 30);
        h.set_mode(0o644);
        h.set_cksum();
        gz.write_all(h.as_bytes()).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..8 {
            gz.write_all(&zeros).unwrap();
        }
        let bytes = gz.finish().unwrap();
        assert!(bytes.len() < 1 << 20);
        let e = load(&bytes).unwrap_err().to_string();
        assert!(
            e.contains("web/bomb") && e.contains("bytes per file"),
            "{e}"
        );

        // A bomb made of many files under the per-file limit hits the decompressed limit.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), Compression::fast());
        let chunk = vec![0u8; 1 << 20];
        for i in 0..12 {
            let mut h = tar::Header::new_gnu();
            h.set_path(format!("web/f{i}")).unwrap();
            h.set_size(1 << 20);
            h.set_mode(0o644);
            h.set_cksum();
            gz.write_all(h.as_bytes()).unwrap();
            gz.write_all(&chunk).unwrap();
        }
        let bytes = gz.finish().unwrap();
        let limits = Limits {
            max_total_bytes: 1 << 40,
            max_decompressed_bytes: 8 << 20,
            ..Limits::default()
        };
        assert!(bytes.len() < 1 << 20);
        let e = Chart::load_archive(&bytes, &limits)
            .unwrap_err()
            .to_string();
        assert!(e.contains("gzip bomb") && e.contains("8388608"), "{e}");
    }

    #[test]
    fn corrupt_and_non_gzip_input() {
        let e = load(b"hello").unwrap_err().to_string();
        assert!(e.contains("not a gzip stream"), "{e}");
        let mut bytes = package_files(
            "web",
            &[ChartFile {
                name: "Chart.yaml".into(),
                data: CHART_YAML.into(),
            }],
        )
        .unwrap();
        bytes.truncate(bytes.len() / 2);
        let e = load(&bytes).unwrap_err().to_string();
        assert!(e.starts_with("chart archive is corrupt"), "{e}");
    }
}

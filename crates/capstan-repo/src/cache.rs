//! The content-addressed chart cache, and atomic file writes (temporary file, then rename).

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, Result};

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader sees the old file or the new one, never a half-written one. Creates the directory.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    write_replacing(path, bytes, mode, true)
}

/// [`write_atomic`] without flushing the file to disk before the rename, as Helm writes its
/// repository cache (`AtomicWriteFile`): for files that are only a copy of what a server has
/// (`repo update`'s index and chart list), where a crash costs a download, not data.
pub(crate) fn write_cache_file(path: &Path, bytes: &[u8]) -> Result<()> {
    write_replacing(path, bytes, 0o644, false)
}

fn write_replacing(path: &Path, bytes: &[u8], mode: u32, sync: bool) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)?;
        file.write_all(bytes)?;
        if sync {
            file.sync_all()?;
        }
        std::fs::rename(&temp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(Error::io("writing", path, e));
    }
    Ok(())
}

/// Chart archives stored by the sha256 of their bytes: `<dir>/sha256-<hex>.tgz`.
#[derive(Debug, Clone)]
pub struct ChartCache {
    dir: PathBuf,
}

impl ChartCache {
    /// A cache in `dir` (created on first store).
    pub fn new(dir: impl Into<PathBuf>) -> ChartCache {
        ChartCache { dir: dir.into() }
    }

    /// Where the archive of `digest` (64 hex digits) is kept.
    pub fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("sha256-{digest}.tgz"))
    }

    /// The cached archive of `digest`, if present and intact (a corrupt file is removed).
    pub fn get(&self, digest: &str) -> Option<Vec<u8>> {
        let digest = normalize(digest)?;
        let path = self.path(&digest);
        let bytes = std::fs::read(&path).ok()?;
        if capstan_chart::archive_digest(&bytes) == digest {
            tracing::debug!(digest = %digest, "chart cache hit");
            Some(bytes)
        } else {
            tracing::warn!(path = %path.display(), "removing a corrupt cached chart");
            let _ = std::fs::remove_file(&path);
            None
        }
    }

    /// Stores `bytes`; their digest.
    pub fn put(&self, bytes: &[u8]) -> Result<String> {
        let digest = capstan_chart::archive_digest(bytes);
        let path = self.path(&digest);
        if !path.exists() {
            write_atomic(&path, bytes, 0o644)?;
        }
        Ok(digest)
    }
}

/// `sha256:HEX` or `HEX` as lowercase hex, when it is a sha256 digest.
pub(crate) fn normalize(digest: &str) -> Option<String> {
    let hex = digest
        .strip_prefix("sha256:")
        .unwrap_or(digest)
        .to_ascii_lowercase();
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_by_digest_and_drops_corrupt_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ChartCache::new(dir.path().join("charts"));
        let digest = cache.put(b"chart bytes").unwrap();
        assert_eq!(
            cache
                .get(&format!("sha256:{}", digest.to_uppercase()))
                .unwrap(),
            b"chart bytes"
        );
        std::fs::write(cache.path(&digest), b"tampered").unwrap();
        assert!(cache.get(&digest).is_none());
        assert!(!cache.path(&digest).exists());
        assert!(cache.get("not-a-digest").is_none());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("charts"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
    }
}

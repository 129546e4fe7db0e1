//! The compile cache on disk ([`CompileCache`]): a Go chart's translated templates, and the
//! minijinja instructions compiled of those its renders used, kept between processes, so a
//! second `capstan template` of the same chart skips parsing, translating and compiling its
//! templates. An entry is written after a render ([`CompiledChart::take_cache_update`]).
//!
//! One file per chart, named by a hash of capstan's version and the chart's content digest
//! (so another version, or another chart, never reads it). Each file carries a header with
//! that version and digest and a checksum of its payload: a file that is truncated, damaged or
//! written by something else is ignored (and replaced by the next compile), never fatal.
//! The checksum is a CRC-32 (it guards against damage, not against an adversary: the cache
//! directory is the user's own). Files are written under a temporary name and renamed into place, so concurrent processes
//! see a whole entry or none; the directory is bounded ([`CompileCache::max_bytes`], oldest
//! used first out).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use capstan_render::{CompiledChart, Translations};
use sha2::{Digest as _, Sha256};

/// v2: entries hold the compiled instructions of the templates rendered; v3: the translations'
/// texts come last, read into a buffer of their own (older entries are ignored and replaced).
const MAGIC: &[u8] = b"capstan compile cache v3\n";

/// The version that keys the cache: translations are private to one build of capstan.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The environment variable that moves the compile cache (`off` turns it off).
pub const COMPILE_CACHE_ENV: &str = "CAPSTAN_COMPILE_CACHE";

/// Translated templates of Go charts on disk, by chart digest.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    max_bytes: u64,
}

impl CompileCache {
    /// Most bytes the cache directory holds by default.
    pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;

    /// A cache in `dir` (created when first written), bounded at
    /// [`CompileCache::DEFAULT_MAX_BYTES`].
    pub fn new(dir: impl Into<PathBuf>) -> CompileCache {
        CompileCache {
            dir: dir.into(),
            max_bytes: CompileCache::DEFAULT_MAX_BYTES,
        }
    }

    /// The cache for a `capstan` process: `$CAPSTAN_COMPILE_CACHE` when set (`off`: none),
    /// else `capstan/compiled` under Helm's cache directory (`cache_home`: `$HELM_CACHE_HOME`,
    /// `$XDG_CACHE_HOME/helm` or `~/.cache/helm`).
    pub fn from_env(cache_home: &Path) -> Option<CompileCache> {
        match std::env::var_os(COMPILE_CACHE_ENV) {
            Some(v) if v == "off" => None,
            Some(v) if !v.is_empty() => Some(CompileCache::new(PathBuf::from(v))),
            _ => Some(CompileCache::new(cache_home.join("capstan/compiled"))),
        }
    }

    /// The same cache bounded at `max_bytes`.
    pub fn with_max_bytes(mut self, max_bytes: u64) -> CompileCache {
        self.max_bytes = max_bytes;
        self
    }

    /// The directory of the cache.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The most bytes the directory holds.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The file that holds the chart with `digest`.
    pub fn path_of(&self, digest: &str) -> PathBuf {
        let name = hex(&Sha256::digest(format!("{VERSION}\0{digest}")));
        self.dir.join(format!("{name}.translations"))
    }

    /// The translations kept for `digest`, if a whole, undamaged entry is there.
    pub fn load(&self, digest: &str) -> Option<Translations> {
        let path = self.path_of(digest);
        let (bytes, offset, texts) = read_entry(&path, digest)?;
        // The translations keep the bytes read: their instructions and texts are ranges of them.
        let found = Translations::decode_shared(
            std::sync::Arc::new(bytes),
            offset,
            std::sync::Arc::new(texts),
        );
        match &found {
            Some(_) => {
                // Used now: the last to be evicted.
                if let Ok(file) = std::fs::File::options().append(true).open(&path) {
                    let _ = file.set_modified(SystemTime::now());
                }
            }
            None => tracing::debug!(
                path = %path.display(),
                "ignoring a damaged compile cache entry"
            ),
        }
        found
    }

    /// Keeps the translations of `compiled` (a Go chart), with the instructions compiled so
    /// far, under `digest`; failures are logged and otherwise ignored (the cache only saves
    /// time).
    pub fn store(&self, digest: &str, compiled: &CompiledChart) {
        let Some(translations) = compiled.translations() else {
            return;
        };
        if let Err(e) = self.write(digest, &translations.encode()) {
            tracing::debug!(dir = %self.dir.display(), error = %e, "writing the compile cache");
        }
    }

    fn write(&self, digest: &str, payload: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let mut bytes = Vec::with_capacity(payload.len() + 256);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(format!("{VERSION}\n{digest}\n").as_bytes());
        bytes.extend_from_slice(&crc32fast::hash(payload).to_be_bytes());
        bytes.extend_from_slice(payload);
        static UNIQUE: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let temp = self.dir.join(format!(
            ".tmp-{}-{nanos}-{}",
            std::process::id(),
            UNIQUE.fetch_add(1, Ordering::Relaxed)
        ));
        let written = std::fs::File::create(&temp)
            .and_then(|mut f| f.write_all(&bytes))
            .and_then(|()| std::fs::rename(&temp, self.path_of(digest)));
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written?;
        self.prune();
        Ok(())
    }

    /// Removes the least recently used entries (and temporary files older than a minute, left
    /// by a process that died mid-write) until the directory is within its bound.
    fn prune(&self) {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        let mut entries = Vec::new();
        for entry in dir.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(".tmp-") {
                let stale = now
                    .duration_since(modified)
                    .is_ok_and(|age| age.as_secs() > 60);
                if stale {
                    let _ = std::fs::remove_file(entry.path());
                }
                continue;
            }
            if name.ends_with(".translations") {
                entries.push((modified, meta.len(), entry.path()));
            }
        }
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        entries.sort();
        for (_, len, path) in entries {
            if total <= self.max_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total = total.saturating_sub(len);
            }
        }
    }
}

/// The renderer daemon's compile cache directory (`--compile-cache DIR|off`), shared with its
/// render workers: the directory named, none for `off`, else a temporary directory of the
/// daemon's own, removed when this is dropped.
///
/// A daemon that is killed cannot remove its temporary directory; it holds a lock on a file
/// in it for as long as it runs instead, and a daemon starting removes the temporary
/// directories whose lock no one holds ([`remove_abandoned`]).
#[derive(Debug)]
pub struct DaemonCompileCache {
    dir: Option<PathBuf>,
    _owned: Option<(tempfile::TempDir, std::fs::File)>,
}

/// The temporary directories' name prefix.
const TEMPORARY_PREFIX: &str = "capstan-renderer-compiled-";

/// The file in a temporary directory whose lock its daemon holds.
const OWNER_LOCK: &str = ".owner.lock";

impl DaemonCompileCache {
    /// The daemon's directory for the flag's value (`None`: not given).
    pub fn resolve(flag: Option<PathBuf>) -> std::io::Result<DaemonCompileCache> {
        if flag.is_some() {
            return Ok(DaemonCompileCache {
                dir: DaemonCompileCache::named(flag),
                _owned: None,
            });
        }
        let parent = std::env::temp_dir();
        remove_abandoned(&parent);
        let owned = tempfile::Builder::new()
            .prefix(TEMPORARY_PREFIX)
            .tempdir_in(&parent)?;
        // Locked before it takes its name: a directory's lock file is never seen unlocked
        // while its daemon runs.
        let creating = owned.path().join(".owner.lock.new");
        let lock = std::fs::File::create(&creating)?;
        lock.lock()?;
        std::fs::rename(&creating, owned.path().join(OWNER_LOCK))?;
        Ok(DaemonCompileCache {
            dir: Some(owned.path().to_path_buf()),
            _owned: Some((owned, lock)),
        })
    }

    /// The directory a flag's value names: none when not given or `off` (a worker's view:
    /// it never makes a directory of its own).
    pub fn named(flag: Option<PathBuf>) -> Option<PathBuf> {
        flag.filter(|dir| dir.as_os_str() != "off")
    }

    /// The directory, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }
}

/// Removes the temporary compile caches under `parent` of daemons that are gone: those whose
/// owner lock can be taken. A directory without the lock file (being made, or left by an
/// older capstan) is left alone; failures are ignored (another daemon may be removing it).
fn remove_abandoned(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let is_ours = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(TEMPORARY_PREFIX));
        if !is_ours || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = entry.path();
        let Ok(lock) = std::fs::File::open(dir.join(OWNER_LOCK)) else {
            continue;
        };
        if lock.try_lock().is_ok() {
            tracing::debug!(dir = %dir.display(), "removing the compile cache of a daemon that is gone");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// Entries at least this large are read, and their checksum computed, on two threads.
const PARALLEL_READ_FROM: u64 = 1 << 20;

/// The bytes of the entry at `path` for `digest` and where its payload starts, when its header
/// and checksum hold. A large entry (kube-prometheus-stack's is 5 MB: 1,250 fresh pages the
/// kernel faults in and copies to) is read in two halves on two threads, each computing the
/// checksum of its part, combined after.
fn read_entry(path: &Path, digest: &str) -> Option<(Vec<u8>, usize, String)> {
    use std::os::unix::fs::FileExt as _;
    let file = std::fs::File::open(path).ok()?;
    let len = usize::try_from(file.metadata().ok()?.len()).ok()?;
    let header = [MAGIC, format!("{VERSION}\n{digest}\n").as_bytes()].concat();
    let payload_at = header.len() + 4;
    // The header, the checksum and the payload's first bytes, which say where its texts start.
    let mut head = vec![0u8; payload_at + Translations::texts_at_needs()];
    file.read_exact_at(&mut head, 0).ok()?;
    let stored = head.strip_prefix(header.as_slice())?.get(..4)?.to_vec();
    let texts_at = payload_at.checked_add(Translations::texts_at(head.get(payload_at..)?)?)?;
    let texts_len = len.checked_sub(texts_at)?;
    // The records, then the texts, each into a buffer of its own (the texts become one
    // string without a copy); a large entry's two parts are read on two threads.
    let mut records = vec![0u8; texts_at];
    let mut texts = vec![0u8; texts_len];
    let read = |part: &mut [u8], at: usize, from: usize| -> Option<crc32fast::Hasher> {
        file.read_exact_at(part, at as u64).ok()?;
        let mut sum = crc32fast::Hasher::new();
        sum.update(part.get(from..)?);
        Some(sum)
    };
    let (first, second) = if len < PARALLEL_READ_FROM as usize {
        (
            read(&mut records, 0, payload_at),
            read(&mut texts, texts_at, 0),
        )
    } else {
        std::thread::scope(|scope| {
            let other = std::thread::Builder::new()
                .name("capstan-cache-read".into())
                .spawn_scoped(scope, || read(&mut texts, texts_at, 0));
            let first = read(&mut records, 0, payload_at);
            let second = match other {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                // No second thread could be started: taken as a miss (the chart compiles anew).
                Err(_) => None,
            };
            (first, second)
        })
    };
    let (mut sum, second) = (first?, second?);
    // The whole file was read: nothing lies past the length asked.
    if file.read_at(&mut [0u8], len as u64).ok()? != 0 {
        return None;
    }
    sum.combine(&second);
    if sum.finalize().to_be_bytes().as_slice() != stored.as_slice() {
        return None;
    }
    Some((records, payload_at, String::from_utf8(texts).ok()?))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_chart::{Chart, ChartFile, Limits};
    use capstan_render::RenderLimits;

    fn compiled(body: &str) -> CompiledChart {
        let files = vec![
            ChartFile {
                name: "Chart.yaml".into(),
                data: b"apiVersion: v2\nname: c\nversion: 1.0.0\n".to_vec().into(),
            },
            ChartFile {
                name: "templates/a.yaml".into(),
                data: body.into(),
            },
        ];
        let chart = Chart::from_files(files, &Limits::default()).unwrap();
        CompiledChart::compile(&chart, &RenderLimits::default()).unwrap()
    }

    #[test]
    fn stores_and_loads_by_digest() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path().join("compiled"));
        let c = compiled("a: {{ .Values.x }}");
        assert!(cache.load("sha256:1").is_none());
        cache.store("sha256:1", &c);
        assert_eq!(cache.load("sha256:1"), c.translations());
        assert!(cache.load("sha256:2").is_none(), "another digest");
        let names: Vec<_> = std::fs::read_dir(cache.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }

    #[test]
    fn a_damaged_entry_is_ignored_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path());
        let c = compiled("a: {{ .Values.x }}");
        cache.store("d", &c);
        let path = cache.path_of("d");
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(cache.load("d").is_none(), "checksum mismatch");
        std::fs::write(&path, &bytes[..10]).unwrap();
        assert!(cache.load("d").is_none(), "truncated");
        std::fs::write(&path, b"").unwrap();
        assert!(cache.load("d").is_none(), "empty");
        cache.store("d", &c);
        assert_eq!(cache.load("d"), c.translations());
    }

    /// An entry from [`PARALLEL_READ_FROM`] on is read in two halves: it loads as a small one
    /// does, and damage in either half, a wrong digest or bytes appended are refused.
    #[test]
    fn a_large_entry_is_read_in_two_halves() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path());
        let body = format!("a: {{{{ .Values.x }}}}\n# {}\n", "y".repeat(1 << 21));
        let c = compiled(&body);
        cache.store("big", &c);
        let path = cache.path_of("big");
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() as u64 > PARALLEL_READ_FROM);
        assert_eq!(cache.load("big"), c.translations());
        for at in [
            MAGIC.len() + 3,
            bytes.len() / 4,
            bytes.len() / 2,
            bytes.len() - 1,
        ] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 1;
            std::fs::write(&path, &damaged).unwrap();
            assert!(cache.load("big").is_none(), "damaged at {at}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        std::fs::write(&path, &longer).unwrap();
        assert!(cache.load("big").is_none(), "a byte appended");
        std::fs::write(&path, &bytes).unwrap();
        assert!(read_entry(&path, "other").is_none(), "another digest");
        assert_eq!(cache.load("big"), c.translations());
    }

    #[test]
    fn the_directory_is_bounded_oldest_out() {
        let dir = tempfile::tempdir().unwrap();
        let c = compiled(&"x: {{ .Values.x }}\n".repeat(50));
        let one = {
            let probe = CompileCache::new(dir.path().join("probe"));
            probe.store("p", &c);
            std::fs::metadata(probe.path_of("p")).unwrap().len()
        };
        let cache = CompileCache::new(dir.path().join("c")).with_max_bytes(one * 2 + one / 2);
        for d in ["a", "b", "c"] {
            cache.store(d, &c);
            // Distinct modification times.
            let past = SystemTime::now()
                - std::time::Duration::from_secs(match d {
                    "a" => 30,
                    "b" => 20,
                    _ => 10,
                });
            std::fs::File::options()
                .append(true)
                .open(cache.path_of(d))
                .unwrap()
                .set_modified(past)
                .unwrap();
        }
        cache.store("d", &c);
        assert!(cache.load("a").is_none() && cache.load("b").is_none());
        assert!(cache.load("c").is_some() && cache.load("d").is_some());
    }

    #[test]
    fn the_daemon_directory_is_named_off_or_its_own() {
        let named = DaemonCompileCache::resolve(Some("/some/dir".into())).unwrap();
        assert_eq!(named.dir(), Some(Path::new("/some/dir")));
        let off = DaemonCompileCache::resolve(Some("off".into())).unwrap();
        assert_eq!(off.dir(), None);
        let own = DaemonCompileCache::resolve(None).unwrap();
        let dir = own.dir().unwrap().to_path_buf();
        assert!(dir.is_dir());
        drop(own);
        assert!(!dir.exists(), "removed with the daemon");
        assert_eq!(DaemonCompileCache::named(None), None, "a worker makes none");
    }

    #[test]
    fn a_minijinja_dialect_chart_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path());
        let files = vec![ChartFile {
            name: "Chart.yaml".into(),
            data: b"apiVersion: v2\nname: c\nversion: 1.0.0\nannotations:\n  capstan.dev/template-syntax: minijinja\n".to_vec().into(),
        }];
        let chart = Chart::from_files(files, &Limits::default()).unwrap();
        let c = CompiledChart::compile(&chart, &RenderLimits::default()).unwrap();
        cache.store("m", &c);
        assert!(!cache.path_of("m").exists());
    }
}

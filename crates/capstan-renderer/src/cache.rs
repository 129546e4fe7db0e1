//! Charts the renderer holds, by archive digest: the archives themselves and their compiled
//! templates, both bounded, least recently used first out.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use capstan_render::CompiledChart;

/// How much the cache may hold.
#[derive(Clone, Copy, Debug)]
pub struct CacheLimits {
    /// Most charts held (archives and compiled templates alike).
    pub max_charts: usize,
    /// Most archive bytes held in total.
    pub max_archive_bytes: usize,
}

impl Default for CacheLimits {
    fn default() -> Self {
        CacheLimits {
            max_charts: 128,
            max_archive_bytes: 256 << 20,
        }
    }
}

#[derive(Default)]
struct Entries {
    archives: HashMap<String, Arc<Vec<u8>>>,
    compiled: HashMap<String, Arc<CompiledChart>>,
    /// Digests, least recently used first.
    order: VecDeque<String>,
    archive_bytes: usize,
}

impl Entries {
    fn touch(&mut self, digest: &str) {
        if let Some(i) = self.order.iter().position(|d| d == digest) {
            let d = self.order.remove(i).expect("index in range");
            self.order.push_back(d);
        } else {
            self.order.push_back(digest.to_string());
        }
    }

    fn evict(&mut self, limits: &CacheLimits) {
        while self.order.len() > limits.max_charts || self.archive_bytes > limits.max_archive_bytes
        {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(archive) = self.archives.remove(&oldest) {
                self.archive_bytes -= archive.len();
            }
            self.compiled.remove(&oldest);
        }
    }
}

/// The renderer's chart cache. Cheap to share; every method takes `&self`.
#[derive(Default)]
pub struct ChartCache {
    limits: CacheLimits,
    entries: Mutex<Entries>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl ChartCache {
    /// An empty cache with these limits.
    pub fn new(limits: CacheLimits) -> ChartCache {
        ChartCache {
            limits,
            ..ChartCache::default()
        }
    }

    /// The limits this cache was made with.
    pub fn limits(&self) -> CacheLimits {
        self.limits
    }

    /// Whether the archive with this digest is held.
    pub fn has(&self, digest: &str) -> bool {
        self.entries
            .lock()
            .expect("cache lock")
            .archives
            .contains_key(digest)
    }

    /// Keeps an archive under its digest.
    pub fn put_archive(&self, digest: &str, archive: Vec<u8>) {
        let mut entries = self.entries.lock().expect("cache lock");
        if !entries.archives.contains_key(digest) {
            entries.archive_bytes += archive.len();
            entries
                .archives
                .insert(digest.to_string(), Arc::new(archive));
        }
        entries.touch(digest);
        entries.evict(&self.limits);
    }

    /// The archive with this digest, if held.
    pub fn archive(&self, digest: &str) -> Option<Arc<Vec<u8>>> {
        let mut entries = self.entries.lock().expect("cache lock");
        let found = entries.archives.get(digest).cloned();
        if found.is_some() {
            entries.touch(digest);
        }
        found
    }

    /// The compiled chart with this digest, if held (counted as a hit or a miss).
    pub fn compiled(&self, digest: &str) -> Option<Arc<CompiledChart>> {
        let mut entries = self.entries.lock().expect("cache lock");
        let found = entries.compiled.get(digest).cloned();
        if found.is_some() {
            entries.touch(digest);
            self.hits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.misses.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Keeps a compiled chart under its archive's digest.
    pub fn put_compiled(&self, digest: &str, chart: Arc<CompiledChart>) {
        let mut entries = self.entries.lock().expect("cache lock");
        entries.compiled.insert(digest.to_string(), chart);
        entries.touch(digest);
        entries.evict(&self.limits);
    }

    /// (hits, misses) of compiled-chart lookups so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_are_evicted_least_recently_used_first() {
        let cache = ChartCache::new(CacheLimits {
            max_charts: 2,
            max_archive_bytes: 1 << 20,
        });
        cache.put_archive("a", vec![1]);
        cache.put_archive("b", vec![2]);
        assert!(cache.archive("a").is_some());
        cache.put_archive("c", vec![3]);
        assert!(cache.has("a") && cache.has("c"));
        assert!(!cache.has("b"), "b was used least recently");
    }

    #[test]
    fn archive_bytes_are_bounded() {
        let cache = ChartCache::new(CacheLimits {
            max_charts: 100,
            max_archive_bytes: 10,
        });
        cache.put_archive("a", vec![0; 6]);
        cache.put_archive("b", vec![0; 6]);
        assert!(!cache.has("a"));
        assert!(cache.has("b"));
    }
}

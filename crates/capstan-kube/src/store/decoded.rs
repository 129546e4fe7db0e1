//! A small process-wide cache of decoded release records, so a record read again unchanged
//! (the applier's `Prepare`, then the operation under the lock, then its finalising step) is
//! decoded once: decoding kube-prometheus-stack's record (its chart's files, 2.6 MB of JSON)
//! costs tens of milliseconds each time.
//!
//! An entry is keyed by the head object's uid and resourceVersion (the API server changes the
//! resourceVersion on every write; uids are unique, so two clusters never share a key), with
//! the codec's bound and the staleness rule of the read. The object itself is still read from
//! the API server every time (its GET is what authorises the caller and says it is
//! unchanged): only the decoding is saved. Only records held whole by their head are cached: a
//! split record's parts are read every time, so that a missing part is found.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use capstan_release::StoredRelease;

/// How many decoded records are kept (the latest few revisions of a few releases).
const CAPACITY: usize = 8;

/// What identifies one decoding of one version of a head object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Key {
    uid: String,
    resource_version: String,
    max_decoded_bytes: u64,
    stale_ok: bool,
}

impl Key {
    /// The key of a head object, or none when it has no uid or resourceVersion.
    pub(super) fn of(
        uid: Option<&str>,
        resource_version: Option<&str>,
        max_decoded_bytes: u64,
        stale_ok: bool,
    ) -> Option<Key> {
        Some(Key {
            uid: uid.filter(|u| !u.is_empty())?.to_owned(),
            resource_version: resource_version.filter(|v| !v.is_empty())?.to_owned(),
            max_decoded_bytes,
            stale_ok,
        })
    }
}

/// A decoded record and the set of parts its head references.
pub(super) type Entry = (StoredRelease, Option<String>);

static CACHE: Mutex<VecDeque<(Key, Entry)>> = Mutex::new(VecDeque::new());

/// The decoded record of `key`, if cached.
pub(super) fn get(key: &Key) -> Option<Entry> {
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    let at = cache.iter().position(|(k, _)| k == key)?;
    // Most recently used at the front.
    let hit = cache.remove(at)?;
    let entry = hit.1.clone();
    cache.push_front(hit);
    Some(entry)
}

/// Remembers the decoded record of `key`, forgetting the least recently used beyond capacity.
pub(super) fn put(key: Key, entry: Entry) {
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    cache.retain(|(k, _)| k != &key);
    cache.push_front((key, entry));
    cache.truncate(CAPACITY);
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_release::{RecordVersion, Release, Status};

    fn entry(name: &str) -> Entry {
        let release = Release::new(name, "ns", 1, Status::Deployed);
        (
            StoredRelease {
                release,
                version: RecordVersion::new("1"),
            },
            None,
        )
    }

    #[test]
    fn entries_are_found_by_every_part_of_their_key_and_the_oldest_go() {
        let key = |uid: &str, rv: &str| Key::of(Some(uid), Some(rv), 64, false).unwrap();
        put(key("decoded-test-a", "1"), entry("a"));
        assert_eq!(
            get(&key("decoded-test-a", "1")).unwrap().0.release.name,
            "a"
        );
        assert!(get(&key("decoded-test-a", "2")).is_none());
        assert!(get(&Key::of(Some("decoded-test-a"), Some("1"), 32, false).unwrap()).is_none());
        assert!(get(&Key::of(Some("decoded-test-a"), Some("1"), 64, true).unwrap()).is_none());
        for i in 0..CAPACITY {
            put(key("decoded-test-b", &i.to_string()), entry("b"));
        }
        assert!(get(&key("decoded-test-a", "1")).is_none());
        assert!(Key::of(None, Some("1"), 64, false).is_none());
        assert!(Key::of(Some("u"), Some(""), 64, false).is_none());
    }
}

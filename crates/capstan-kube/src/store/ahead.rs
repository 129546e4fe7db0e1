//! Payloads encoded ahead of their writes ([`ReleaseStore::encode_ahead`]): each on a blocking
//! thread of its own, kept with the release it encodes until a write of an equal release takes
//! it.
//!
//! Encoding a large record (JSON, then gzip at Helm's best compression, then base64) takes tens
//! of milliseconds; an operation knows the records it will write well before it writes them
//! (the pending revision before the CRD step, the superseded and deployed ones before applying),
//! so the encoding overlaps the API round trips in between and leaves the write's path. The
//! write still stores exactly the release it is given: a payload is used only for a release
//! equal to the one it was encoded from, and one that failed or is missing is encoded then.
//!
//! [`ReleaseStore::encode_ahead`]: capstan_release::ReleaseStore::encode_ahead

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use capstan_release::Codec;
use capstan_release::Release;
use capstan_release::chunk::{StoredPayload, encode_for_storage};
use tokio::task::JoinHandle;

/// How many payloads are kept at most: an operation hints at three or four records (the
/// pending revision, the records finalising supersedes, the deployed one); the oldest go first.
const KEPT: usize = 4;

/// One payload being encoded (or done), with the release it encodes.
struct Entry {
    release: Arc<Release>,
    payload: JoinHandle<Option<StoredPayload>>,
}

/// The payloads encoded ahead for one store, oldest first.
#[derive(Default)]
pub(super) struct EncodedAhead {
    entries: Mutex<VecDeque<Entry>>,
}

impl EncodedAhead {
    /// Starts encoding `release` (its namespace already the one it is stored in) on a blocking
    /// thread; nothing without a tokio runtime, or when an equal release is already kept.
    pub(super) fn start(&self, release: &Release, codec: Codec, max_object_payload: usize) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.iter().any(|e| *e.release == *release) {
            return;
        }
        let release = Arc::new(release.clone());
        let encoding = release.clone();
        let payload = runtime.spawn_blocking(move || {
            // An error is left for the write to report: it encodes again.
            encode_for_storage(&codec, &encoding, max_object_payload).ok()
        });
        entries.push_back(Entry { release, payload });
        while entries.len() > KEPT {
            entries.pop_front();
        }
    }

    /// The payload of a release equal to `release`, taken (awaited when still being
    /// encoded); `None` when there is none, or its encoding failed.
    pub(super) async fn take(&self, release: &Release) -> Option<StoredPayload> {
        let entry = {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            let at = entries.iter().position(|e| *e.release == *release)?;
            entries.remove(at)?
        };
        entry.payload.await.ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_release::Status;

    fn release(description: &str) -> Release {
        let mut r = Release::new("web", "apps", 2, Status::PendingUpgrade);
        r.manifest = "---\n# Source: web/templates/cm.yaml\nkind: ConfigMap\n".into();
        r.info.description = description.into();
        r
    }

    #[tokio::test]
    async fn a_payload_is_taken_once_and_only_for_an_equal_release() {
        let ahead = EncodedAhead::default();
        let codec = Codec::new();
        ahead.start(&release("a"), codec, 1 << 20);
        assert_eq!(ahead.take(&release("b")).await, None, "another release");
        let expected = encode_for_storage(&codec, &release("a"), 1 << 20).unwrap();
        assert_eq!(ahead.take(&release("a")).await, Some(expected));
        assert_eq!(ahead.take(&release("a")).await, None, "taken already");
    }

    #[tokio::test]
    async fn only_the_newest_payloads_are_kept() {
        let ahead = EncodedAhead::default();
        let codec = Codec::new();
        for i in 0..=KEPT {
            ahead.start(&release(&i.to_string()), codec, 1 << 20);
        }
        assert_eq!(ahead.take(&release("0")).await, None, "the oldest went");
        for i in 1..=KEPT {
            assert!(ahead.take(&release(&i.to_string())).await.is_some(), "{i}");
        }
    }

    #[test]
    fn without_a_runtime_nothing_is_encoded() {
        let ahead = EncodedAhead::default();
        ahead.start(&release("a"), Codec::new(), 1 << 20);
        assert!(ahead.entries.lock().unwrap().is_empty());
    }
}

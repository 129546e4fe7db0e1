//! Helm-compatible release records: the model, the storage codec, object naming and labels,
//! chunking of large records, history policy, the [`ReleaseStore`] trait and [`MemoryStore`].
//!
//! A release's history is the one thing capstan must never lose or corrupt, and it is stored in
//! Helm's own format so a team can move a release from Helm to capstan and back. This crate is
//! the pure part of that: no Kubernetes, no SQL, no async runtime, no network. The Secret,
//! ConfigMap and SQL drivers are built on it elsewhere.
//!
//! # Main types
//!
//! - [`Release`], [`Info`], [`Status`], [`Hook`], [`StoredChart`]: the record with Helm's JSON
//!   field names. Reads what Helm 3 and Helm 4 write (zero times as `""` or omitted, Helm 4's
//!   `apply_method` and `rollback_revision`); writes Helm 3's style, which both read. Unknown
//!   fields are kept in `extra` maps, so a record read and rewritten loses nothing.
//! - [`GoTime`]: an instant with its offset, printed and parsed as Go's `time.Time` JSON.
//! - [`Codec`]: JSON -> gzip (best) -> base64 and back, with bounded decompression
//!   ([`DEFAULT_MAX_DECODED_BYTES`]); errors name the storage object.
//! - [`ObjectKey`]: `sh.helm.release.v1.<name>.v<N>`; [`validate_release_name`].
//! - [`storage`]: Helm's labels, capstan's list annotations, [`ObjectMetadata`],
//!   [`ReleaseSummary`] (a `list` row from metadata alone).
//! - [`chunk`]: splitting records over 1 MiB into a head Helm reads and parts, reassembly with a
//!   sha256 check.
//! - [`ListFilter`]: Helm's `list` filters, shared by every driver.
//! - [`history`]: [`revisions_to_prune`] and the status transitions and descriptions Helm writes.
//! - [`ReleaseStore`]: the driver trait (object-safe, boxed `Send` futures);
//!   [`MemoryStore`] implements it (`HELM_DRIVER=memory`).
//!
//! # Example
//!
//! ```
//! use capstan_release::{Codec, ObjectKey, Release, Status, chunk, validate_release_name};
//!
//! validate_release_name("web").unwrap();
//! let mut release = Release::new("web", "apps", 1, Status::PendingInstall);
//! release.mark_deployed(false, None); // "Install complete"
//!
//! let codec = Codec::new();
//! let stored = chunk::encode_for_storage(&codec, &release, chunk::DEFAULT_MAX_OBJECT_PAYLOAD)?;
//! let object = ObjectKey::new("web", 1).object_name(); // sh.helm.release.v1.web.v1
//! let labels = stored.head_labels();
//! let back = chunk::decode_from_storage(&codec, &object, stored.head_payload().as_bytes(), &labels, &[])?;
//! assert_eq!(back, release);
//! # Ok::<(), capstan_release::Error>(())
//! ```
//!
//! # Invariants
//!
//! - A record that fits in one object (payload ≤ 1 MiB) is stored exactly as Helm stores it:
//!   Helm reads everything capstan writes inline, and capstan reads everything Helm writes.
//! - Creating a revision is a compare-and-set ([`Error::AlreadyExists`]); updates and deletes
//!   carry the [`RecordVersion`] read and fail with [`Error::Conflict`] if the record changed, so
//!   no update is lost.
//! - Custom labels never use a system label key ([`storage::SYSTEM_LABELS`]).
//! - Decoding never allocates more than the codec's limit, whatever the payload claims.
//! - Readers never see a partial chunked record: the digest in the head is checked.
//!
//! # Storing a large record (the chunk commit protocol)
//!
//! Secrets and ConfigMaps hold at most 1 MiB of data. A larger record is split by
//! [`chunk::encode_for_storage`] into parts (`<head>.part-<set>-<i>`, `owner=capstan-part`) and a
//! head object (the ordinary `sh.helm.release.v1.<name>.v<N>` with Helm's labels). Usually
//! ([`chunk::Layout::ChartFiles`]) the head is a record in Helm's exact format of the release
//! without its stored chart's templates and files, labelled [`chunk::LABEL_PART_SET`], and the
//! parts hold those templates and files; when even that head would exceed 1 MiB
//! ([`chunk::Layout::Whole`]) the parts hold the whole payload and the head's payload is a
//! [`chunk::ChunkManifest`]. Either way the set name is a prefix of the parts' payload's sha256
//! (parts are content-addressed), and the head is the commit point:
//!
//! 1. **Write the parts** first. They are content-addressed: a new payload never overwrites the
//!    parts a committed head references; an existing part with the same name already holds the
//!    same bytes, so writing it again is a no-op.
//! 2. **Write the head last**: create (the compare-and-set) for a new revision, or update with
//!    the version precondition for an existing one. Until this succeeds no reader sees the new
//!    record; once it has, every part it names exists.
//! 3. **Clean up** the parts the previous head referenced (on update) or that a failed attempt
//!    left behind. A crash at any point leaves either the old record or the new one, plus
//!    unreferenced parts; [`chunk::garbage_parts`] finds those (older than a grace period, so a
//!    write in flight is not disturbed) and drivers delete them later.
//!
//! Deleting a split revision deletes the head first, then its parts. Readers fetch the head,
//! then the parts it names, and [`chunk::decode_from_storage`] checks count, size and sha256
//! (the manifest travels in the parts' annotations for the usual layout); a missing part means a
//! concurrent update replaced the set, and the reader re-reads the head once. A head labelled
//! with a set of which its revision has no part is read alone: Helm copies the label to the
//! revisions it writes.
//!
//! Helm reads the usual head as an ordinary release whose chart has no templates or files: it
//! lists, shows, upgrades and rolls back such a release, and refuses to install over it. A head
//! holding only a manifest is not base64, so Helm skips it in `list` and `history` and fails
//! `get` on it; a Helm upgrade then fails with "already exists" rather than overwriting it.
//! `docs/storage.md` says this to users.
//!
//! # Async
//!
//! [`ReleaseStore`] methods return [`store::BoxFuture`]s rather than using `async fn` in the
//! trait: this keeps the trait object-safe (`Arc<dyn ReleaseStore>`, chosen at run time by
//! `HELM_DRIVER`) and the futures `Send`, with no async runtime dependency here.

mod chart;
pub mod chunk;
mod codec;
mod error;
pub mod history;
mod list;
mod memory;
mod name;
mod release;
mod revisions;
mod serde_util;
mod status;
pub mod storage;
mod store;
mod time;

pub use chart::{ChartFile, ChartLock, ChartMetadata, Dependency, Maintainer, StoredChart};
pub use codec::{Codec, DEFAULT_MAX_DECODED_BYTES, GZIP_MAGIC, decode_release, encode_release};
pub use error::{Error, Result};
pub use history::{DEFAULT_MAX_HISTORY, descriptions, revisions_to_prune};
pub use list::{ListFilter, Listable, StateMask};
pub use memory::{DEFAULT_NAMESPACE, MemoryStore};
pub use name::{
    MAX_RELEASE_NAME_LEN, OBJECT_NAME_PREFIX, ObjectKey, RELEASE_NAME_PATTERN, object_name,
    validate_release_name,
};
pub use release::{
    ApplyMethod, Hook, HookDeletePolicy, HookEvent, HookExecution, HookOutputLogPolicy, HookPhase,
    Info, Release,
};
pub use revisions::{History, HistoryScope, RevisionMeta};
pub use status::Status;
pub use storage::{ObjectMetadata, ReleaseSummary, SummarySource, Write, object_metadata};
pub use store::{BoxFuture, Listing, RecordVersion, ReleaseStore, StoredRelease, Unreadable};
pub use time::{GO_ZERO_TIME, GoTime, go_time, helm_time};

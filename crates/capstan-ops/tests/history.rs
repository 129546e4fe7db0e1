//! Operations over a history they cannot fully read or do not own alone, with a store that
//! makes chosen revisions unreadable and one that lets "Helm" create a revision right before
//! the operation does: unreadable records are skipped and reported, never block an operation,
//! and are purged by uninstall; an operation decodes a bounded number of revisions; losing the
//! create race is retried with a lock wait and a clear error without one.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use capstan_ops::testing::FakeCluster;
use capstan_ops::{Control, Error, Event, Install, Recorder, Rendered, Uninstall, Upgrade, read};
use capstan_release::{
    BoxFuture, Error as StoreError, History, ListFilter, Listing, MemoryStore, RecordVersion,
    Release, ReleaseStore, ReleaseSummary, Result as StoreResult, RevisionMeta, Status,
    StoredRelease, Unreadable, object_name,
};
use futures::executor::block_on;

const NS: &str = "apps";

fn rendered(value: &str) -> Rendered {
    Rendered {
        manifest: format!(
            "---\n# Source: web/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  v: \"{value}\"\n"
        ),
        ..Rendered::default()
    }
}

fn control() -> Control {
    Control::with_holder("applier-1/op")
}

/// A memory store whose revisions in `broken` cannot be read (as a corrupt payload), which
/// counts the records it decodes, and which can play Helm: `helm_next` is created (as Helm
/// would, taking no lock) just before the next create.
#[derive(Default)]
struct Store {
    inner: MemoryStore,
    broken: Mutex<BTreeSet<u32>>,
    decoded: AtomicUsize,
    helm_next: Mutex<Option<Release>>,
}

impl Store {
    fn unreadable(&self, name: &str, revision: u32) -> StoreError {
        StoreError::Json {
            object: format!("{NS}/{}", object_name(name, revision)),
            source: serde_json::from_str::<serde_json::Value>("{").unwrap_err(),
        }
    }

    fn is_broken(&self, revision: u32) -> bool {
        self.broken.lock().unwrap().contains(&revision)
    }

    fn break_revision(&self, revision: u32) {
        self.broken.lock().unwrap().insert(revision);
    }
}

impl ReleaseStore for Store {
    fn driver_name(&self) -> &'static str {
        "test"
    }

    fn create<'a>(&'a self, release: &'a Release) -> BoxFuture<'a, StoreResult<RecordVersion>> {
        Box::pin(async move {
            let helm = self.helm_next.lock().unwrap().take();
            if let Some(helm) = helm {
                self.inner.create(&helm).await?;
            }
            self.inner.create(release).await
        })
    }

    fn update<'a>(
        &'a self,
        release: &'a Release,
        expected: &'a RecordVersion,
    ) -> BoxFuture<'a, StoreResult<RecordVersion>> {
        self.inner.update(release, expected)
    }

    fn get<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        revision: u32,
    ) -> BoxFuture<'a, StoreResult<StoredRelease>> {
        Box::pin(async move {
            if self.is_broken(revision) {
                return Err(self.unreadable(name, revision));
            }
            self.decoded.fetch_add(1, Ordering::SeqCst);
            self.inner.get(namespace, name, revision).await
        })
    }

    fn read_history<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, StoreResult<History>> {
        Box::pin(async move {
            let all = self.inner.read_history(namespace, name).await?.records;
            let (mut records, mut unreadable) = (Vec::new(), Vec::new());
            for r in all {
                if self.is_broken(r.release.version) {
                    unreadable.push(Unreadable {
                        namespace: namespace.to_owned(),
                        object: object_name(name, r.release.version),
                        error: self.unreadable(name, r.release.version),
                    });
                } else {
                    self.decoded.fetch_add(1, Ordering::SeqCst);
                    records.push(r);
                }
            }
            Ok(History::from_parts(records, unreadable))
        })
    }

    fn revisions<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, StoreResult<Listing<RevisionMeta>>> {
        self.inner.revisions(namespace, name)
    }

    fn delete<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        revision: u32,
        expected: Option<&'a RecordVersion>,
    ) -> BoxFuture<'a, StoreResult<Release>> {
        Box::pin(async move {
            if self.is_broken(revision) {
                return Err(self.unreadable(name, revision));
            }
            self.inner.delete(namespace, name, revision, expected).await
        })
    }

    fn remove<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        revision: u32,
        expected: Option<&'a RecordVersion>,
    ) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            self.inner
                .delete(namespace, name, revision, expected)
                .await
                .map(drop)
        })
    }

    fn list<'a>(
        &'a self,
        filter: &'a ListFilter,
    ) -> BoxFuture<'a, StoreResult<Listing<StoredRelease>>> {
        self.inner.list(filter)
    }

    fn list_summaries<'a>(
        &'a self,
        filter: &'a ListFilter,
    ) -> BoxFuture<'a, StoreResult<Listing<ReleaseSummary>>> {
        self.inner.list_summaries(filter)
    }
}

/// `web` installed, then upgraded to `revisions` revisions.
fn release_with(store: &Store, cluster: &FakeCluster, revisions: u32) {
    let install = Install {
        control: control(),
        ..Install::new("web", NS)
    };
    block_on(install.run(store, cluster, &Recorder::new(), rendered("1"))).unwrap();
    for r in 2..=revisions {
        block_on(upgrade().run(store, cluster, &Recorder::new(), rendered(&r.to_string())))
            .unwrap();
    }
}

fn upgrade() -> Upgrade {
    Upgrade {
        control: control(),
        history_max: 0,
        ..Upgrade::new("web", NS)
    }
}

fn statuses(store: &Store) -> Vec<(u32, Status)> {
    block_on(store.inner.history(NS, "web"))
        .unwrap()
        .iter()
        .map(|r| (r.release.version, r.release.info.status))
        .collect()
}

fn warnings(recorder: &Recorder) -> Vec<String> {
    recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Warning { message } => Some(message),
            _ => None,
        })
        .collect()
}

#[test]
fn an_unreadable_revision_is_skipped_and_reported_once() {
    let (store, cluster) = (Store::default(), FakeCluster::default());
    release_with(&store, &cluster, 3);
    store.break_revision(2);

    let recorder = Recorder::new();
    block_on(upgrade().run(&store, &cluster, &recorder, rendered("4"))).unwrap();
    let warned = warnings(&recorder);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].contains("apps/sh.helm.release.v1.web.v2"),
        "{warned:?}"
    );

    let history = block_on(read::history(&store, NS, "web", 0)).unwrap();
    let revisions: Vec<u32> = history.value.iter().map(|r| r.version).collect();
    assert_eq!(revisions, [1, 3, 4]);
    assert_eq!(history.skipped.len(), 1);

    // The newest revision unreadable: readers fall back to the newest readable one and say so;
    // a new revision goes above it.
    store.break_revision(4);
    let got = block_on(read::get(&store, NS, "web", None)).unwrap();
    assert_eq!(got.value.version, 3);
    assert!(got.skipped[0].contains("web.v4"), "{:?}", got.skipped);
    let err = block_on(read::get(&store, NS, "web", Some(4))).unwrap_err();
    assert!(err.to_string().contains("revision 4"), "{err}");
    let done = block_on(upgrade().run(&store, &cluster, &Recorder::new(), rendered("5"))).unwrap();
    assert_eq!(done.version, 5);

    // Uninstall deletes every record, readable or not.
    let uninstall = Uninstall {
        control: control(),
        ..Uninstall::new("web", NS)
    };
    block_on(uninstall.run(&store, &cluster, &Recorder::new())).unwrap();
    assert!(statuses(&store).is_empty(), "{:?}", statuses(&store));
}

#[test]
fn a_release_with_no_readable_record_is_still_uninstalled() {
    let (store, cluster) = (Store::default(), FakeCluster::default());
    release_with(&store, &cluster, 2);
    store.break_revision(1);
    store.break_revision(2);
    let err =
        block_on(upgrade().run(&store, &cluster, &Recorder::new(), rendered("3"))).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NoDeployedReleases { .. } | Error::NotFound { .. }
        ),
        "{err}"
    );
    let install = Install {
        control: control(),
        ..Install::new("web", NS)
    };
    let err = block_on(install.run(&store, &cluster, &Recorder::new(), rendered("3"))).unwrap_err();
    assert!(matches!(err, Error::NameInUse { .. }), "{err}");
    let uninstall = Uninstall {
        control: control(),
        ..Uninstall::new("web", NS)
    };
    let done = block_on(uninstall.run(&store, &cluster, &Recorder::new())).unwrap();
    assert_eq!(done.release.info.status, Status::Uninstalled);
    assert!(statuses(&store).is_empty());
}

#[test]
fn an_operation_decodes_a_bounded_number_of_revisions() {
    let (store, cluster) = (Store::default(), FakeCluster::default());
    let cost = |revisions: u32| {
        let (store, cluster) = (Store::default(), FakeCluster::default());
        release_with(&store, &cluster, revisions);
        store.decoded.store(0, Ordering::SeqCst);
        block_on(upgrade().run(&store, &cluster, &Recorder::new(), rendered("next"))).unwrap();
        let upgrade = store.decoded.swap(0, Ordering::SeqCst);
        block_on(read::get(&store, NS, "web", None)).unwrap();
        (upgrade, store.decoded.load(Ordering::SeqCst))
    };
    let (small, large) = (cost(2), cost(30));
    assert_eq!(small, large, "records decoded with 2 and with 30 revisions");
    assert_eq!(large.1, 1, "get decodes the latest revision only");
    drop((store, cluster));
}

fn helm_revision(version: u32, status: Status) -> Release {
    let mut helm = Release::new("web", NS, version, status);
    helm.manifest = rendered("helm").manifest;
    helm
}

#[test]
fn losing_the_create_race_to_helm_is_retried_with_a_lock_wait() {
    let (store, cluster) = (Store::default(), FakeCluster::default());
    release_with(&store, &cluster, 2);

    // Without a lock wait: a clear error naming the revision Helm wrote.
    *store.helm_next.lock().unwrap() = Some(helm_revision(3, Status::Failed));
    let err =
        block_on(upgrade().run(&store, &cluster, &Recorder::new(), rendered("3"))).unwrap_err();
    assert!(
        matches!(err, Error::RevisionTaken { revision: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("--wait-for-lock"), "{err}");

    // With one: the upgrade goes on top of what Helm wrote.
    *store.helm_next.lock().unwrap() = Some(helm_revision(4, Status::Deployed));
    let waiting = Upgrade {
        control: Control {
            lock_wait: Some(Duration::from_secs(5)),
            ..control()
        },
        ..upgrade()
    };
    let recorder = Recorder::new();
    let done = block_on(waiting.run(&store, &cluster, &recorder, rendered("5"))).unwrap();
    assert_eq!(done.version, 5);
    assert!(
        warnings(&recorder)
            .iter()
            .any(|w| w.contains("wrote revision 4")),
        "{:?}",
        warnings(&recorder)
    );
    let deployed: Vec<u32> = statuses(&store)
        .into_iter()
        .filter(|(_, s)| *s == Status::Deployed)
        .map(|(r, _)| r)
        .collect();
    assert_eq!(deployed, [5], "{:?}", statuses(&store));
}

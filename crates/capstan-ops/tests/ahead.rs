//! Records announced before they are written ([`ReleaseStore::encode_ahead`]): an install and an
//! upgrade that succeed announce every record they write (the pending revision, the record they
//! supersede, the deployed one) before writing it, exactly as written, so a store can encode
//! each payload while the operation waits on the cluster; a failure writes what it must all
//! the same.

use std::sync::Mutex;

use capstan_ops::testing::FakeCluster;
use capstan_ops::{Control, Install, Recorder, Rendered, Uninstall, Upgrade};
use capstan_release::{
    BoxFuture, History, ListFilter, Listing, MemoryStore, RecordVersion, Release, ReleaseStore,
    ReleaseSummary, Result as StoreResult, RevisionMeta, Status, StoredRelease,
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

/// What the store was told, in order.
#[derive(Debug, Clone, PartialEq)]
enum Told {
    Ahead(Release),
    Create(Release),
    Update(Release),
}

/// A memory store that logs the records announced and written.
#[derive(Default)]
struct Store {
    inner: MemoryStore,
    log: Mutex<Vec<Told>>,
}

impl Store {
    fn take_log(&self) -> Vec<Told> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

/// The writes of `log` that no equal announcement preceded, and how many writes there were.
fn unannounced(log: &[Told]) -> (Vec<&Release>, usize) {
    let mut missing = Vec::new();
    let mut writes = 0;
    for (i, told) in log.iter().enumerate() {
        let (Told::Create(written) | Told::Update(written)) = told else {
            continue;
        };
        writes += 1;
        let announced = log[..i]
            .iter()
            .any(|t| matches!(t, Told::Ahead(a) if a == written));
        if !announced {
            missing.push(written);
        }
    }
    (missing, writes)
}

impl ReleaseStore for Store {
    fn driver_name(&self) -> &'static str {
        "test"
    }

    fn encode_ahead(&self, release: &Release) {
        self.log.lock().unwrap().push(Told::Ahead(release.clone()));
    }

    fn create<'a>(&'a self, release: &'a Release) -> BoxFuture<'a, StoreResult<RecordVersion>> {
        self.log.lock().unwrap().push(Told::Create(release.clone()));
        self.inner.create(release)
    }

    fn update<'a>(
        &'a self,
        release: &'a Release,
        expected: &'a RecordVersion,
    ) -> BoxFuture<'a, StoreResult<RecordVersion>> {
        self.log.lock().unwrap().push(Told::Update(release.clone()));
        self.inner.update(release, expected)
    }

    fn get<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        revision: u32,
    ) -> BoxFuture<'a, StoreResult<StoredRelease>> {
        self.inner.get(namespace, name, revision)
    }

    fn read_history<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, StoreResult<History>> {
        self.inner.read_history(namespace, name)
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
        self.inner.delete(namespace, name, revision, expected)
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

fn install() -> Install {
    Install {
        wait: true,
        control: Control::with_holder("applier-1/op"),
        ..Install::new("web", NS)
    }
}

fn upgrade() -> Upgrade {
    Upgrade {
        wait: true,
        control: Control::with_holder("applier-1/op"),
        ..Upgrade::new("web", NS)
    }
}

#[test]
fn a_successful_install_announces_each_record_before_writing_it() {
    let (store, cluster) = (Store::default(), FakeCluster::default());
    block_on(install().run(&store, &cluster, &Recorder::new(), rendered("1"))).unwrap();
    let log = store.take_log();
    let (missing, writes) = unannounced(&log);
    assert_eq!(writes, 2, "pending, then deployed: {log:#?}");
    assert!(missing.is_empty(), "written unannounced: {missing:#?}");
}

#[test]
fn a_successful_upgrade_announces_each_record_before_writing_it() {
    let (store, cluster) = (Store::default(), FakeCluster::default());
    block_on(install().run(&store, &cluster, &Recorder::new(), rendered("1"))).unwrap();
    block_on(upgrade().run(&store, &cluster, &Recorder::new(), rendered("2"))).unwrap();
    store.take_log();

    block_on(upgrade().run(&store, &cluster, &Recorder::new(), rendered("3"))).unwrap();
    let log = store.take_log();
    let (missing, writes) = unannounced(&log);
    assert_eq!(
        writes, 3,
        "pending, the previous superseded, deployed: {log:#?}"
    );
    assert!(missing.is_empty(), "written unannounced: {missing:#?}");
    let statuses: Vec<(u32, Status)> = block_on(store.inner.history(NS, "web"))
        .unwrap()
        .iter()
        .map(|r| (r.release.version, r.release.info.status))
        .collect();
    assert_eq!(
        statuses,
        [
            (1, Status::Superseded),
            (2, Status::Superseded),
            (3, Status::Deployed)
        ]
    );
}

#[test]
fn a_failed_upgrade_writes_its_failure_though_it_announced_success() {
    let (store, cluster) = (Store::default(), FakeCluster::default());
    block_on(install().run(&store, &cluster, &Recorder::new(), rendered("1"))).unwrap();
    store.take_log();
    cluster.state().fail_apply.insert("configmap/cm".into());

    block_on(upgrade().run(&store, &cluster, &Recorder::new(), rendered("2"))).unwrap_err();
    let log = store.take_log();
    let (missing, _) = unannounced(&log);
    // Only the failure's record was not announced: it is written all the same, as it is.
    assert_eq!(missing.len(), 1, "{missing:#?}");
    assert_eq!(missing[0].info.status, Status::Failed);
    let latest = block_on(store.inner.latest(NS, "web")).unwrap();
    assert_eq!(&latest.release, missing[0]);
}

#[test]
fn an_install_whose_revision_is_not_the_one_guessed_writes_and_announces_the_right_one() {
    // An install announces, before taking the lock, the record of the revision after the one
    // it was prepared against; replacing an uninstalled release prepared against none, that
    // guess (revision 1) is wrong: the records written are revision 2's, announced once known.
    let (store, cluster) = (Store::default(), FakeCluster::default());
    block_on(install().run(&store, &cluster, &Recorder::new(), rendered("1"))).unwrap();
    let uninstall = Uninstall {
        keep_history: true,
        control: Control::with_holder("applier-1/op"),
        ..Uninstall::new("web", NS)
    };
    block_on(uninstall.run(&store, &cluster, &Recorder::new())).unwrap();
    store.take_log();

    let replace = Install {
        replace: true,
        ..install()
    };
    block_on(replace.run(&store, &cluster, &Recorder::new(), rendered("2"))).unwrap();
    let log = store.take_log();
    let (missing, _) = unannounced(&log);
    // The uninstalled revision it supersedes is written as it is, unannounced.
    assert!(
        missing
            .iter()
            .all(|r| (r.version, r.info.status) == (1, Status::Superseded)),
        "written unannounced: {missing:#?}"
    );
    let guessed = log
        .iter()
        .any(|t| matches!(t, Told::Ahead(r) if r.version == 1 && r.manifest.contains("\"2\"")));
    assert!(guessed, "the guess was announced: {log:#?}");
    let statuses: Vec<(u32, Status)> = block_on(store.inner.history(NS, "web"))
        .unwrap()
        .iter()
        .map(|r| (r.release.version, r.release.info.status))
        .collect();
    assert_eq!(statuses, [(1, Status::Superseded), (2, Status::Deployed)]);
    let latest = block_on(store.inner.latest(NS, "web")).unwrap();
    assert!(latest.release.manifest.contains("\"2\""));
}

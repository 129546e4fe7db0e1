//! The Secret and ConfigMap release stores against the real local control plane: every
//! operation, the compare-and-set races, pruning, fast list, chunked records up to 16 MiB with a
//! simulated crash and garbage collection, and unreadable records. Scenarios are generic over
//! the object kind and run once per driver (`secret::…`, `configmap::…`), each in its own
//! namespace.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use capstan_kube::{KubeStore, ReleaseObject, Role};
use capstan_release::chunk::{
    self, ANNOTATION_PAYLOAD_PARTS, ANNOTATION_PAYLOAD_SIZE, DEFAULT_MAX_OBJECT_PAYLOAD,
    HEAD_PREFIX, LABEL_PART_SET, StoredPayload,
};
use capstan_release::storage::{ANNOTATION_APP_VERSION, ANNOTATION_CHART, ANNOTATION_UPDATED};
use capstan_release::{
    ChartFile, ChartMetadata, Codec, Error, GoTime, ListFilter, Listing, RecordVersion, Release,
    ReleaseStore, StateMask, Status, StoredChart, StoredRelease, SummarySource, revisions_to_prune,
};
use capstan_testkit::{TestNamespace, with_namespace};
use flate2::Compression;
use flate2::write::GzEncoder;
use futures::future::join_all;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use rand::RngCore as _;
use serde_json::{Map, Value, json};

/// One MiB.
const MIB: usize = 1024 * 1024;

/// A store of kind `K` in the test namespace.
fn store<K: ReleaseObject>(ns: &TestNamespace) -> KubeStore<K> {
    KubeStore::new(ns.client(), ns.name())
}

fn api<K: ReleaseObject>(ns: &TestNamespace) -> Api<K> {
    Api::namespaced(ns.client(), ns.name())
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn values(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// A realistic revision of release `name`: chart, values, manifest, notes, times.
fn release(ns: &str, name: &str, revision: u32, status: Status) -> Release {
    let mut r = Release::new(name, ns, revision, status);
    r.chart = Some(StoredChart {
        metadata: Some(ChartMetadata {
            api_version: "v2".into(),
            name: "web".into(),
            version: "1.2.3".into(),
            app_version: "2.0".into(),
            ..ChartMetadata::default()
        }),
        templates: vec![ChartFile::new(
            "templates/cm.yaml",
            "kind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
        )],
        values: Some(values(json!({"replicas": 1}))),
        ..StoredChart::default()
    });
    r.config = values(json!({"replicas": revision}));
    r.manifest = format!(
        "---\n# Source: web/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  revision: \"{revision}\"\n"
    );
    let now = GoTime::now();
    r.info.first_deployed = Some(now);
    r.info.last_deployed = Some(now);
    r.info.description = format!("revision {revision}");
    r.info.notes = "thanks for installing".into();
    r
}

/// A release whose encoded payload is about `mib` MiB: a chart file of random bytes.
fn big_release(ns: &str, name: &str, revision: u32, mib: usize) -> Release {
    let mut r = release(ns, name, revision, Status::Deployed);
    // base64 in the JSON, gzip barely shrinks it, base64 again: payload ≈ 4/3 of the bytes.
    let mut blob = vec![0u8; mib * MIB * 3 / 4];
    rand::rng().fill_bytes(&mut blob);
    r.chart
        .as_mut()
        .expect("a chart")
        .files
        .push(ChartFile::new("files/blob.bin", blob));
    r
}

/// A raw object, as another writer (Helm, a user, a crash) would leave it.
fn raw<K: ReleaseObject>(name: &str, labels: BTreeMap<String, String>, payload: String) -> K {
    let meta = ObjectMeta {
        name: Some(name.to_owned()),
        labels: Some(labels),
        ..ObjectMeta::default()
    };
    K::with_payload(meta, payload, Role::Head)
}

fn helm_labels(name: &str, revision: u32, status: &str) -> BTreeMap<String, String> {
    let revision = revision.to_string();
    labels(&[
        ("owner", "helm"),
        ("name", name),
        ("version", &revision),
        ("status", status),
    ])
}

fn gzip(data: &[u8], level: Compression) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), level);
    gz.write_all(data).expect("gzip in memory");
    gz.finish().expect("gzip in memory")
}

/// Names of the objects in the namespace with the `owner=capstan-part` label.
async fn part_names<K: ReleaseObject>(ns: &TestNamespace) -> anyhow::Result<Vec<String>> {
    let parts = api::<K>(ns)
        .list_metadata(&ListParams::default().labels("owner=capstan-part"))
        .await?;
    let mut names: Vec<String> = parts
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    names.sort();
    Ok(names)
}

fn revisions(history: &[StoredRelease]) -> Vec<(u32, Status)> {
    history
        .iter()
        .map(|r| (r.release.version, r.release.info.status))
        .collect()
}

fn listed<T>(listing: &Listing<T>, key: impl Fn(&T) -> String) -> Vec<String> {
    listing.items.iter().map(key).collect()
}

fn unreadable_objects<T>(listing: &Listing<T>) -> Vec<String> {
    let mut v: Vec<String> = listing
        .unreadable
        .iter()
        .map(|u| u.object.clone())
        .collect();
    v.sort();
    v
}

/// create, get, the stored object's exact format, update, the preconditions, history, latest,
/// last deployed, delete.
async fn crud_round_trip<K: ReleaseObject>(ns: TestNamespace) -> anyhow::Result<()> {
    let store = store::<K>(&ns);
    let ns_name = ns.name();
    let mut r1 = release(ns_name, "web", 1, Status::Deployed);
    r1.labels.insert("team".into(), "payments".into());
    let v1 = store.create(&r1).await?;

    let got = store.get(ns_name, "web", 1).await?;
    assert_eq!(got.release, r1);
    assert_eq!(got.version, v1);
    // An empty namespace is the store's own.
    assert_eq!(store.get("", "web", 1).await?.release, r1);

    // The object is Helm's: name, labels, data key, payload; plus capstan's annotations.
    let object = api::<K>(&ns).get("sh.helm.release.v1.web.v1").await?;
    let meta = &object.meta();
    let object_labels = meta.labels.clone().unwrap_or_default();
    let created_at = object_labels["createdAt"].clone();
    assert_eq!(
        object_labels,
        labels(&[
            ("owner", "helm"),
            ("name", "web"),
            ("status", "deployed"),
            ("version", "1"),
            ("createdAt", &created_at),
            ("team", "payments"),
        ])
    );
    let annotations = meta.annotations.clone().unwrap_or_default();
    assert_eq!(annotations[ANNOTATION_CHART], "web-1.2.3");
    assert_eq!(annotations[ANNOTATION_APP_VERSION], "2.0");
    assert_eq!(
        annotations[ANNOTATION_UPDATED],
        r1.info.last_deployed.unwrap().to_string()
    );
    let payload = object.payload().context("data.release")?;
    assert!(STANDARD.decode(payload)?.starts_with(&[0x1f, 0x8b, 0x08]));
    assert_eq!(
        Codec::new().decode_record("sh.helm.release.v1.web.v1", payload)?,
        Release {
            labels: BTreeMap::new(),
            ..r1.clone()
        }
    );

    // The compare-and-set: the revision exists.
    let err = store.create(&r1).await.unwrap_err();
    assert!(err.is_already_exists(), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("release \"web\" revision 1 in namespace \"{ns_name}\" already exists")
    );

    // Update with the version read; the old version is now stale.
    let mut r1b = r1.clone();
    r1b.set_status(Status::Superseded, "superseded");
    let v1b = store.update(&r1b, &v1).await?;
    assert_ne!(v1b, v1);
    let got = store.get(ns_name, "web", 1).await?;
    assert_eq!(
        (got.release.clone(), got.version),
        (r1b.clone(), v1b.clone())
    );
    let meta = api::<K>(&ns)
        .get_metadata("sh.helm.release.v1.web.v1")
        .await?;
    let object_labels = meta.metadata.labels.unwrap_or_default();
    assert_eq!(object_labels["status"], "superseded");
    assert_eq!(object_labels["createdAt"], created_at, "createdAt is kept");
    assert!(object_labels.contains_key("modifiedAt"));
    let err = store.update(&r1, &v1).await.unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    assert!(err.to_string().contains("changed concurrently"), "{err}");
    let err = store
        .update(&release(ns_name, "web", 9, Status::Failed), &v1)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "update never creates: {err:?}");

    // History, latest, last deployed.
    let r2 = release(ns_name, "web", 2, Status::Deployed);
    let v2 = store.create(&r2).await?;
    let r3 = release(ns_name, "web", 3, Status::Failed);
    store.create(&r3).await?;
    store
        .create(&release(ns_name, "other", 1, Status::Deployed))
        .await?;
    let history = store.history(ns_name, "web").await?;
    assert_eq!(
        revisions(&history),
        [
            (1, Status::Superseded),
            (2, Status::Deployed),
            (3, Status::Failed)
        ]
    );
    assert_eq!(store.latest(ns_name, "web").await?.release, r3);
    assert_eq!(store.last_deployed(ns_name, "web").await?.version, v2);
    assert!(store.history(ns_name, "nope").await?.is_empty());
    assert!(
        store
            .latest(ns_name, "nope")
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Delete: a stale version conflicts; the right one deletes and returns the record.
    let err = store
        .delete(ns_name, "web", 1, Some(&v1))
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    assert_eq!(store.delete(ns_name, "web", 1, Some(&v1b)).await?, r1b);
    assert_eq!(store.delete(ns_name, "web", 3, None).await?, r3);
    let err = store.get(ns_name, "web", 1).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("release \"web\" revision 1 in namespace \"{ns_name}\" not found")
    );
    assert!(
        store
            .delete(ns_name, "web", 1, None)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        revisions(&store.history(ns_name, "web").await?),
        [(2, Status::Deployed)]
    );
    // Invalid records are refused before any request.
    let err = store
        .create(&release(ns_name, "Not_Valid", 1, Status::Deployed))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidReleaseName { .. }), "{err:?}");
    let mut reserved = release(ns_name, "web", 7, Status::Deployed);
    reserved.labels.insert("owner".into(), "me".into());
    let err = store.create(&reserved).await.unwrap_err();
    assert!(matches!(err, Error::ReservedLabel { .. }), "{err:?}");
    Ok(())
}

/// Several writers create the same revision at once: exactly one wins, the others get
/// AlreadyExists, and the stored record is the winner's.
async fn create_race<K: ReleaseObject>(ns: TestNamespace) -> anyhow::Result<()> {
    let store = Arc::new(store::<K>(&ns));
    let tasks = (0..8).map(|i| {
        let store = Arc::clone(&store);
        let mut r = release(ns.name(), "race", 1, Status::PendingInstall);
        r.info.description = format!("writer {i}");
        tokio::spawn(async move { (i, store.create(&r).await) })
    });
    let mut winners = Vec::new();
    for outcome in join_all(tasks).await {
        let (i, result) = outcome?;
        match result {
            Ok(_) => winners.push(i),
            Err(e) => ensure!(e.is_already_exists(), "writer {i}: {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one creator wins: {winners:?}");
    let stored = store.get(ns.name(), "race", 1).await?;
    assert_eq!(
        stored.release.info.description,
        format!("writer {}", winners[0])
    );
    Ok(())
}

/// Several writers update the same revision from the same version: exactly one wins, the
/// others conflict; nothing is lost silently.
async fn update_race<K: ReleaseObject>(ns: TestNamespace) -> anyhow::Result<()> {
    let store = Arc::new(store::<K>(&ns));
    let version = store
        .create(&release(ns.name(), "race", 1, Status::PendingUpgrade))
        .await?;
    let tasks = (0..6).map(|i| {
        let store = Arc::clone(&store);
        let version = version.clone();
        let mut r = release(ns.name(), "race", 1, Status::Deployed);
        r.info.description = format!("writer {i}");
        tokio::spawn(async move { (i, store.update(&r, &version).await) })
    });
    let mut winners = Vec::new();
    for outcome in join_all(tasks).await {
        let (i, result) = outcome?;
        match result {
            Ok(v) => winners.push((i, v)),
            Err(e) => ensure!(e.is_conflict(), "writer {i}: {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one update wins");
    let (winner, new_version) = &winners[0];
    let stored = store.get(ns.name(), "race", 1).await?;
    assert_eq!(stored.version, *new_version);
    assert_eq!(stored.release.info.description, format!("writer {winner}"));
    Ok(())
}

/// Helm's pruning rule over the real store: oldest first, never the latest deployed.
async fn prune_history<K: ReleaseObject>(ns: TestNamespace) -> anyhow::Result<()> {
    let store = store::<K>(&ns);
    let statuses = [
        Status::Deployed,
        Status::Failed,
        Status::Failed,
        Status::Superseded,
        Status::Failed,
        Status::Failed,
    ];
    for (i, status) in statuses.into_iter().enumerate() {
        store
            .create(&release(ns.name(), "app", i as u32 + 1, status))
            .await?;
    }
    let expected = revisions_to_prune(
        statuses.iter().enumerate().map(|(i, s)| (i as u32 + 1, *s)),
        3,
    );
    assert_eq!(expected, [2, 3, 4, 5]);
    let deleted = store.prune_history(ns.name(), "app", 3).await?;
    assert_eq!(deleted, expected);
    assert_eq!(
        revisions(&store.history(ns.name(), "app").await?),
        [(1, Status::Deployed), (6, Status::Failed)]
    );
    assert!(store.prune_history(ns.name(), "app", 0).await?.is_empty());
    Ok(())
}

/// list and list_summaries with Helm's filters, in one namespace and across all (`-A`); rows
/// from metadata alone, objects without capstan's annotations (as Helm writes them) decoded.
async fn list_filters<K: ReleaseObject>(ns: TestNamespace) -> anyhow::Result<()> {
    let store = store::<K>(&ns);
    let other_ns = TestNamespace::create("store-list-other").await?;
    let outcome = list_filters_in(&store, &ns, &other_ns).await;
    other_ns.delete().await?;
    outcome
}

async fn list_filters_in<K: ReleaseObject>(
    store: &KubeStore<K>,
    ns: &TestNamespace,
    other_ns: &TestNamespace,
) -> anyhow::Result<()> {
    let here = ns.name();
    // Names unique to this test, so `-A` can be filtered to them.
    let tag = here.rsplit('-').next().unwrap_or("x").to_owned();
    let n = |base: &str| format!("{base}-{tag}");
    let mut web1 = release(here, &n("web"), 1, Status::Superseded);
    web1.labels.insert("tier".into(), "front".into());
    store.create(&web1).await?;
    let mut web2 = release(here, &n("web"), 2, Status::Deployed);
    web2.labels.insert("tier".into(), "front".into());
    store.create(&web2).await?;
    store
        .create(&release(here, &n("db"), 1, Status::Failed))
        .await?;
    store
        .create(&release(here, &n("cache"), 1, Status::Uninstalled))
        .await?;
    store
        .create(&release(other_ns.name(), &n("web"), 1, Status::Deployed))
        .await?;

    let key = |r: &StoredRelease| {
        format!(
            "{}/{}.v{}",
            r.release.namespace, r.release.name, r.release.version
        )
    };
    let all_here = store.list(&ListFilter::in_namespace(here)).await?;
    assert_eq!(
        listed(&all_here, key),
        [
            format!("{here}/{}.v1", n("cache")),
            format!("{here}/{}.v1", n("db")),
            format!("{here}/{}.v2", n("web")),
        ]
    );
    assert!(all_here.unreadable.is_empty());
    let deployed = store
        .list(&ListFilter::in_namespace(here).with_states(StateMask::DEPLOYED))
        .await?;
    assert_eq!(listed(&deployed, key), [format!("{here}/{}.v2", n("web"))]);
    let superseded = store
        .list(&ListFilter::in_namespace(here).with_states(StateMask::SUPERSEDED))
        .await?;
    assert_eq!(
        listed(&superseded, key),
        [format!("{here}/{}.v1", n("web"))]
    );
    let by_label = store
        .list(&ListFilter::in_namespace(here).with_label("tier", "front"))
        .await?;
    assert_eq!(listed(&by_label, key), [format!("{here}/{}.v2", n("web"))]);
    let all_namespaces = store
        .list(&ListFilter::all_namespaces().with_name_filter(&format!("^web-{tag}$"))?)
        .await?;
    let mut expected = vec![
        format!("{here}/{}.v2", n("web")),
        format!("{}/{}.v1", other_ns.name(), n("web")),
    ];
    let mut got = listed(&all_namespaces, key);
    got.sort();
    expected.sort();
    assert_eq!(got, expected);

    // Summaries: the same rows, from metadata alone.
    let summaries = store
        .list_summaries(&ListFilter::in_namespace(here))
        .await?;
    let full: Vec<_> = all_here
        .items
        .iter()
        .map(|r| capstan_release::ReleaseSummary::from_release(&r.release, here))
        .collect();
    assert_eq!(summaries.items.len(), 3);
    for (summary, from_release) in summaries.items.iter().zip(&full) {
        assert_eq!(summary.source, SummarySource::Metadata);
        assert_eq!(
            capstan_release::ReleaseSummary {
                source: SummarySource::Release,
                ..summary.clone()
            },
            *from_release
        );
    }

    // Proof that summaries do not read payloads capstan alone wrote: a corrupt payload written
    // under capstan's field manager is still summarised, while the full list reports it.
    let web_object = format!("sh.helm.release.v1.{}.v2", n("web"));
    let corrupt = |manager: Option<&str>, payload: &'static str| {
        let web_object = web_object.clone();
        let manager = manager.map(str::to_owned);
        async move {
            let mut corrupted: K = api::<K>(ns).get(&web_object).await?;
            let meta = corrupted.meta().clone();
            corrupted = K::with_payload(meta, payload.into(), Role::Head);
            let params = PostParams {
                field_manager: manager,
                ..PostParams::default()
            };
            api::<K>(ns)
                .replace(&web_object, &params, &corrupted)
                .await?;
            anyhow::Ok(())
        }
    };
    corrupt(Some("capstan"), "not base64!").await?;
    let summaries = store
        .list_summaries(&ListFilter::in_namespace(here))
        .await?;
    assert_eq!(summaries.items.len(), 3);
    assert!(summaries.unreadable.is_empty());
    let full = store.list(&ListFilter::in_namespace(here)).await?;
    assert_eq!(full.items.len(), 2);
    assert_eq!(unreadable_objects(&full), std::slice::from_ref(&web_object));

    // The same damage by another writer: summaries decode that payload, keep the row from its
    // labels and report the record.
    corrupt(None, "still not base64!").await?;
    let summaries = store
        .list_summaries(&ListFilter::in_namespace(here))
        .await?;
    assert_eq!(summaries.items.len(), 3);
    assert_eq!(unreadable_objects(&summaries), [web_object]);

    // An object as Helm writes it (no annotations) is decoded for its summary.
    let db_object = format!("sh.helm.release.v1.{}.v1", n("db"));
    let mut helm_like: K = api::<K>(ns).get(&db_object).await?;
    helm_like.meta_mut().annotations = None;
    api::<K>(ns)
        .replace(&db_object, &PostParams::default(), &helm_like)
        .await?;
    let summaries = store
        .list_summaries(&ListFilter::in_namespace(here))
        .await?;
    let db = summaries
        .items
        .iter()
        .find(|s| s.name == n("db"))
        .context("db is listed")?;
    assert_eq!(db.source, SummarySource::Release);
    assert_eq!(db.chart.as_deref(), Some("web-1.2.3"));
    assert_eq!(db.app_version.as_deref(), Some("2.0"));
    assert_eq!(db.status, Status::Failed);
    assert!(db.updated.is_some());
    Ok(())
}

/// A record larger than one object: its chart's files split into parts, committed by its head
/// (a Helm record of the rest), read back verified; replaced sets and deleted records leave no
/// parts behind. A record whose manifest alone is too large is split whole.
async fn chunked_round_trip<K: ReleaseObject>(ns: TestNamespace) -> anyhow::Result<()> {
    let store = store::<K>(&ns);
    let here = ns.name();
    let started = Instant::now();
    let big = big_release(here, "big", 1, 16);
    let v1 = store.create(&big).await?;
    let written = started.elapsed();

    let head = api::<K>(&ns).get("sh.helm.release.v1.big.v1").await?;
    let head_payload = head.payload().unwrap_or_default();
    assert!(
        head_payload.len() < 64 * 1024,
        "{} bytes",
        head_payload.len()
    );
    // What Helm reads: the release whole but for its chart's templates and files.
    let helm_view = Codec::new().decode_record("sh.helm.release.v1.big.v1", head_payload)?;
    assert_eq!(helm_view.manifest, big.manifest);
    assert_eq!(helm_view.config, big.config);
    assert_eq!(helm_view.info, big.info);
    let chart = helm_view.chart.as_ref().context("a chart")?;
    assert!(chart.files.is_empty() && chart.templates.is_empty());
    let head_labels = head.meta().labels.clone().unwrap_or_default();
    assert_eq!(head_labels["status"], "deployed");
    let annotations = head.meta().annotations.clone().unwrap_or_default();
    assert_eq!(
        head_labels[LABEL_PART_SET],
        annotations[chunk::ANNOTATION_PAYLOAD_SHA256][..12]
    );
    let size: usize = annotations[ANNOTATION_PAYLOAD_SIZE].parse()?;
    assert!(size >= 16 * MIB, "payload is {size} bytes");
    let parts: usize = annotations[ANNOTATION_PAYLOAD_PARTS].parse()?;
    assert_eq!(parts, size.div_ceil(DEFAULT_MAX_OBJECT_PAYLOAD));
    assert_eq!(part_names::<K>(&ns).await?.len(), parts);
    assert_eq!(
        head.meta().labels.clone().unwrap_or_default()["owner"],
        "helm"
    );

    let started = Instant::now();
    let got = store.get(here, "big", 1).await?;
    let read = started.elapsed();
    assert_eq!(got.release, big);
    assert_eq!(got.version, v1);
    assert_eq!(store.history(here, "big").await?.len(), 1);
    let summaries = store
        .list_summaries(&ListFilter::in_namespace(here))
        .await?;
    assert_eq!(summaries.items.len(), 1);
    assert_eq!(summaries.items[0].source, SummarySource::Metadata);
    eprintln!(
        "{}: {size} byte payload in {parts} parts: create {written:?}, get {read:?}",
        store.driver()
    );

    // Another large payload for the same revision: a new set; the old one is deleted.
    let old_parts = part_names::<K>(&ns).await?;
    let bigger = big_release(here, "big", 1, 2);
    let v2 = store.update(&bigger, &v1).await?;
    let new_parts = part_names::<K>(&ns).await?;
    assert!(
        new_parts.iter().all(|p| !old_parts.contains(p)),
        "{new_parts:?}"
    );
    assert_eq!(new_parts.len(), 3);
    assert_eq!(store.get(here, "big", 1).await?.release, bigger);

    // Back to an inline record: no parts remain.
    let small = release(here, "big", 1, Status::Superseded);
    store.update(&small, &v2).await?;
    assert!(part_names::<K>(&ns).await?.is_empty());
    assert_eq!(store.get(here, "big", 1).await?.release, small);

    // Deleting a chunked revision deletes its parts.
    store.create(&big_release(here, "big", 2, 2)).await?;
    assert_eq!(part_names::<K>(&ns).await?.len(), 3);
    store.delete(here, "big", 2, None).await?;
    assert!(part_names::<K>(&ns).await?.is_empty());

    // Helm rewriting a split head (a status change) drops capstan's annotations and keeps the
    // set label: the record is still read whole, and listed from its head alone.
    let big2 = big_release(here, "big", 2, 2);
    store.create(&big2).await?;
    api::<K>(&ns)
        .patch(
            "sh.helm.release.v1.big.v2",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": null}})),
        )
        .await?;
    assert_eq!(store.get(here, "big", 2).await?.release, big2);
    let summaries = store
        .list_summaries(&ListFilter::in_namespace(here))
        .await?;
    assert_eq!(summaries.items.len(), 1);
    assert_eq!(summaries.items[0].source, SummarySource::Release);
    assert_eq!(summaries.items[0].revision, 2);
    assert_eq!(summaries.items[0].chart.as_deref(), Some("web-1.2.3"));
    store.remove(here, "big", 2, None).await?;
    assert_eq!(part_names::<K>(&ns).await?.len(), 0);

    // A head capstan wrote whose parts are all gone is damaged, not read alone.
    store.create(&big_release(here, "big", 2, 2)).await?;
    for part in part_names::<K>(&ns).await? {
        api::<K>(&ns).delete(&part, &Default::default()).await?;
    }
    let err = store.get(here, "big", 2).await.unwrap_err();
    assert!(matches!(err, Error::ChunkIncomplete { .. }), "{err:?}");
    store.remove(here, "big", 2, None).await?;

    // Helm copies the set label to the revisions it writes (upgrade, rollback): such a head,
    // whose revision has no part of that set, is read alone, and the label is no custom label.
    let copied = release(here, "big", 4, Status::Deployed);
    let mut copied_labels = helm_labels("big", 4, "deployed");
    copied_labels.insert(LABEL_PART_SET.to_owned(), "0123456789ab".to_owned());
    api::<K>(&ns)
        .create(
            &PostParams::default(),
            &raw::<K>(
                "sh.helm.release.v1.big.v4",
                copied_labels,
                capstan_release::encode_release(&copied)?,
            ),
        )
        .await?;
    let read = store.get(here, "big", 4).await?.release;
    assert_eq!(read, copied);
    assert!(read.labels.is_empty(), "{:?}", read.labels);
    store.delete(here, "big", 4, None).await?;

    // A manifest too large for one object: the whole record goes to the parts.
    let mut huge = release(here, "big", 3, Status::Deployed);
    let mut blob = vec![0u8; 3 * MIB / 2];
    rand::rng().fill_bytes(&mut blob);
    huge.manifest = STANDARD.encode(blob);
    store.create(&huge).await?;
    let head = api::<K>(&ns).get("sh.helm.release.v1.big.v3").await?;
    assert!(
        head.payload()
            .unwrap_or_default()
            .starts_with(HEAD_PREFIX.as_bytes())
    );
    let annotations = head.meta().annotations.clone().unwrap_or_default();
    let parts: usize = annotations[ANNOTATION_PAYLOAD_PARTS].parse()?;
    assert!(parts >= 2);
    assert_eq!(part_names::<K>(&ns).await?.len(), parts);
    assert_eq!(store.get(here, "big", 3).await?.release, huge);
    store.delete(here, "big", 3, None).await?;
    assert!(part_names::<K>(&ns).await?.is_empty());
    Ok(())
}

/// A crash between writing the parts and committing the head (of an update, and of a create)
/// leaves the old record readable and garbage that collection removes once past the grace
/// period; a record that lost a part is reported, never misread.
async fn crash_mid_write<K: ReleaseObject>(ns: TestNamespace) -> anyhow::Result<()> {
    let store = store::<K>(&ns);
    let here = ns.name();
    let old = big_release(here, "app", 1, 2);
    store.create(&old).await?;
    let committed = part_names::<K>(&ns).await?;
    assert_eq!(committed.len(), 3);

    // The crash: the parts of a new revision-1 record and of revision 2 are written, and
    // neither head.
    let codec = Codec::new();
    let mut orphans = Vec::new();
    for record in [
        big_release(here, "app", 1, 2),
        big_release(here, "app", 2, 2),
    ] {
        let StoredPayload::Chunked { parts, .. } =
            chunk::encode_for_storage(&codec, &record, DEFAULT_MAX_OBJECT_PAYLOAD)?
        else {
            anyhow::bail!("a 2 MiB record is chunked");
        };
        for part in parts {
            let meta = ObjectMeta {
                name: Some(part.object_name.clone()),
                labels: Some(part.labels),
                annotations: Some(part.annotations),
                ..ObjectMeta::default()
            };
            api::<K>(&ns)
                .create(
                    &PostParams::default(),
                    &K::with_payload(meta, part.data, Role::Part),
                )
                .await?;
            orphans.push(part.object_name);
        }
    }
    assert_eq!(store.get(here, "app", 1).await?.release, old);
    assert!(store.get(here, "app", 2).await.unwrap_err().is_not_found());
    assert_eq!(
        revisions(&store.history(here, "app").await?),
        [(1, Status::Deployed)]
    );

    // Young parts may belong to a write in flight: the default grace period keeps them.
    assert!(store.collect_garbage(here).await?.is_empty());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let eager = store.clone().with_part_grace(Duration::ZERO);
    let mut collected = eager.collect_garbage(here).await?;
    collected.sort();
    orphans.sort();
    assert_eq!(collected, orphans);
    assert_eq!(part_names::<K>(&ns).await?, committed);
    assert_eq!(store.get(here, "app", 1).await?.release, old);

    // A committed record missing a part is an error naming it, and list skips it.
    api::<K>(&ns)
        .delete(&committed[1], &Default::default())
        .await?;
    let err = store.get(here, "app", 1).await.unwrap_err();
    assert!(matches!(err, Error::ChunkIncomplete { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("{here}/sh.helm.release.v1.app.v1")),
        "{err}"
    );
    let listing = store.list(&ListFilter::in_namespace(here)).await?;
    assert!(listing.items.is_empty());
    assert_eq!(unreadable_objects(&listing), ["sh.helm.release.v1.app.v1"]);
    Ok(())
}

/// Unreadable records: each is an error naming `namespace/object`; list skips and reports
/// them and still lists the good release.
async fn bad_records<K: ReleaseObject>(ns: TestNamespace) -> anyhow::Result<()> {
    let store = store::<K>(&ns);
    let here = ns.name();
    store
        .create(&release(here, "good", 1, Status::Deployed))
        .await?;

    let json = |r: &Release| serde_json::to_vec(r).expect("a release serializes");
    let valid = json(&release(here, "victim", 1, Status::Deployed));
    let gz = gzip(&valid, Compression::best());
    // Past the codec's 64 MiB bound on decoded records; a few hundred KiB compressed.
    let bomb = gzip(&vec![b' '; 65 * MIB], Compression::fast());
    let cases: Vec<(&str, String, &str)> = vec![
        ("base64", "%%% not base64 %%%".into(), "not valid base64"),
        (
            "notgzip",
            STANDARD.encode(b"\x00\x01binary, not gzip or JSON"),
            "not a valid release record",
        ),
        (
            "truncated",
            STANDARD.encode(&gz[..gz.len() / 2]),
            "corrupt or truncated",
        ),
        ("bomb", STANDARD.encode(&bomb), "expands past the limit"),
        (
            "fields",
            STANDARD.encode(gzip(
                br#"{"name":"fields","version":1}"#,
                Compression::best(),
            )),
            "not a valid release record",
        ),
        (
            "types",
            STANDARD.encode(gzip(
                br#"{"name":"types","version":"one","info":{"status":"deployed"}}"#,
                Compression::best(),
            )),
            "not a valid release record",
        ),
    ];
    let mut bad_objects = Vec::new();
    for (name, payload, _) in &cases {
        let object = format!("sh.helm.release.v1.{name}.v1");
        api::<K>(&ns)
            .create(
                &PostParams::default(),
                &raw::<K>(&object, helm_labels(name, 1, "deployed"), payload.clone()),
            )
            .await?;
        bad_objects.push(object);
    }
    // Right labels (and payload) for release "victim", but the object is named otherwise.
    let imposter = "sh.helm.release.v1.imposter.v1".to_owned();
    api::<K>(&ns)
        .create(
            &PostParams::default(),
            &raw::<K>(
                &imposter,
                helm_labels("victim", 1, "deployed"),
                STANDARD.encode(&gz),
            ),
        )
        .await?;
    bad_objects.push(imposter.clone());

    for (name, _, message) in &cases {
        let err = store.get(here, name, 1).await.unwrap_err();
        let text = err.to_string();
        assert!(err.is_unreadable_record(), "{name}: {err:?}");
        assert!(
            text.contains(&format!("\"{here}/sh.helm.release.v1.{name}.v1\"")),
            "{name}: {text}"
        );
        assert!(text.contains(message), "{name}: {text}");
    }
    let err = store.get(here, "imposter", 1).await.unwrap_err();
    assert!(matches!(err, Error::Mismatch { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&format!("{here}/{imposter}")),
        "{err}"
    );
    // History skips and reports what it cannot read.
    let history = store.read_history(here, "victim").await?;
    assert!(history.records.is_empty());
    assert_eq!(history.unreadable.len(), 1);
    assert!(
        history.unreadable[0]
            .to_string()
            .contains(&format!("{here}/{imposter}")),
        "{}",
        history.unreadable[0]
    );
    assert!(store.history(here, "victim").await?.is_empty());

    bad_objects.sort();
    let listing = store.list(&ListFilter::in_namespace(here)).await?;
    assert_eq!(listed(&listing, |r| r.release.name.clone()), ["good"]);
    assert_eq!(unreadable_objects(&listing), bad_objects);
    for u in &listing.unreadable {
        assert_eq!(u.namespace, here);
        assert!(
            u.error
                .to_string()
                .contains(&format!("{here}/{}", u.object)),
            "{}",
            u.error
        );
    }
    // A latest revision whose payload cannot be read keeps its row, from its labels, next to
    // the report; the imposter's labels disagree with its name, so it has no row.
    let summaries = store
        .list_summaries(&ListFilter::in_namespace(here))
        .await?;
    let mut rows: Vec<String> = cases
        .iter()
        .map(|(name, _, _)| (*name).to_owned())
        .collect();
    rows.push("good".into());
    rows.sort();
    assert_eq!(listed(&summaries, |s| s.name.clone()), rows);
    for row in summaries.items.iter().filter(|s| s.name != "good") {
        assert_eq!((row.revision, row.chart.as_deref()), (1, None), "{row:?}");
    }
    assert_eq!(unreadable_objects(&summaries), bad_objects);
    Ok(())
}

/// The namespace prefix of a scenario: `store-<driver>-<scenario>` as a DNS label.
fn prefix(driver: &str, scenario: &str) -> String {
    let mut p = format!("store-{driver}-{}", scenario.replace('_', "-"));
    p.truncate(40);
    p.trim_end_matches('-').to_owned()
}

/// One `#[tokio::test]` per scenario and driver.
macro_rules! for_both_drivers {
    ($($scenario:ident),* $(,)?) => {
        mod secret {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    with_namespace(&prefix("s", stringify!($scenario)), super::$scenario::<Secret>)
                        .await;
                }
            )*
        }
        mod configmap {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    with_namespace(&prefix("cm", stringify!($scenario)), super::$scenario::<ConfigMap>)
                        .await;
                }
            )*
        }
    };
}

for_both_drivers!(
    crud_round_trip,
    create_race,
    update_race,
    prune_history,
    list_filters,
    chunked_round_trip,
    crash_mid_write,
    bad_records,
);

/// The version type the stores hand out is the object's resourceVersion.
#[tokio::test]
async fn record_versions_are_resource_versions() {
    with_namespace("store-rv", |ns| async move {
        let store = store::<Secret>(&ns);
        let version = store
            .create(&release(ns.name(), "web", 1, Status::Deployed))
            .await?;
        let object = api::<Secret>(&ns).get("sh.helm.release.v1.web.v1").await?;
        assert_eq!(
            Some(version),
            object.metadata.resource_version.map(RecordVersion::new)
        );
        Ok(())
    })
    .await;
}

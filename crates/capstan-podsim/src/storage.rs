//! Plays a storage provisioner: a default StorageClass ([`STORAGE_CLASS`]) and, for every
//! PersistentVolumeClaim of that class, a PersistentVolume made for it (the real
//! persistentvolume-binder controller then binds the two), deleted again once its claim is gone
//! (`Released` under the `Delete` reclaim policy), as a dynamic provisioner does; it also lifts
//! the claim and volume protection finalizers once nothing uses them, in place of the
//! pvc-protection and pv-protection controllers the local control plane does not run. So StatefulSets
//! with `volumeClaimTemplates` and charts with claims get `Bound` claims, which Helm's waits
//! require.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, ResourceExt as _};
use serde_json::json;

use crate::{Error, Result};

/// The default StorageClass the simulator serves.
pub const STORAGE_CLASS: &str = "standard";

/// The provisioner name of [`STORAGE_CLASS`], also written on every volume it makes.
pub const PROVISIONER: &str = "capstan.dev/podsim";

/// Creates the default StorageClass when it does not exist.
pub async fn ensure_storage_class(client: &Client) -> Result<()> {
    let classes: Api<StorageClass> = Api::all(client.clone());
    let class: StorageClass = serde_json::from_value(json!({
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": true,
    }))
    .expect("a static StorageClass is valid");
    match classes.create(&PostParams::default(), &class).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(source) => Err(Error::Kube {
            action: "create",
            object: format!("storageclass/{STORAGE_CLASS}"),
            source,
        }),
    }
}

/// The name of the volume provisioned for a claim (as external provisioners name them).
pub fn volume_name(claim_uid: &str) -> String {
    format!("pvc-{claim_uid}")
}

/// The volume provisioned for `claim`, or `None` when the claim is not ours to provision
/// (another class, already bound, or being deleted).
pub fn volume_for(claim: &PersistentVolumeClaim) -> Option<PersistentVolume> {
    let spec = claim.spec.as_ref()?;
    if claim.metadata.deletion_timestamp.is_some()
        || spec.volume_name.as_deref().is_some_and(|v| !v.is_empty())
        || spec.storage_class_name.as_deref() != Some(STORAGE_CLASS)
    {
        return None;
    }
    let uid = claim.metadata.uid.as_deref()?;
    let size = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map_or_else(|| "1Gi".to_string(), |q| q.0.clone());
    let name = volume_name(uid);
    let access_modes = spec
        .access_modes
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| vec!["ReadWriteOnce".into()]);
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
        },
        "spec": {
            "capacity": {"storage": size},
            "accessModes": access_modes,
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": STORAGE_CLASS,
            "volumeMode": spec.volume_mode.clone().unwrap_or_else(|| "Filesystem".into()),
            "hostPath": {"path": format!("/var/lib/capstan-podsim/{name}")},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": claim.namespace().unwrap_or_default(),
                "name": claim.name_any(),
                "uid": uid,
            },
        },
    }))
    .ok()
}

struct Context {
    client: Client,
}

/// The protection finalizers the API server puts on claims and volumes; their controllers
/// (pvc-protection, pv-protection) do not run on the local control plane, so the simulator
/// lifts them once nothing uses the object, as those controllers would.
const CLAIM_PROTECTION: &str = "kubernetes.io/pvc-protection";
const VOLUME_PROTECTION: &str = "kubernetes.io/pv-protection";

/// `finalizers` without `name`, or `None` when it is not there.
fn without(finalizers: &[String], name: &str) -> Option<Vec<String>> {
    finalizers
        .iter()
        .any(|f| f == name)
        .then(|| finalizers.iter().filter(|f| *f != name).cloned().collect())
}

/// Whether a pod that has not finished mounts the claim.
fn claim_in_use(pods: &[Pod], claim: &str) -> bool {
    pods.iter().any(|pod| {
        let finished = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_some_and(|p| p == "Succeeded" || p == "Failed");
        !finished
            && pod
                .spec
                .as_ref()
                .and_then(|s| s.volumes.as_ref())
                .is_some_and(|volumes| {
                    volumes.iter().any(|v| {
                        v.persistent_volume_claim
                            .as_ref()
                            .is_some_and(|c| c.claim_name == claim)
                    })
                })
    })
}

async fn lift_claim_protection(claim: &PersistentVolumeClaim, ctx: &Context) -> Result<Action> {
    let Some(rest) = without(claim.finalizers(), CLAIM_PROTECTION) else {
        return Ok(Action::await_change());
    };
    let namespace = claim.namespace().unwrap_or_default();
    let name = claim.name_any();
    let object = || format!("persistentvolumeclaim/{name} in namespace {namespace}");
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    let pods = pods
        .list(&ListParams::default())
        .await
        .map_err(|source| Error::Kube {
            action: "list the pods using",
            object: object(),
            source,
        })?;
    if claim_in_use(&pods.items, &name) {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &namespace);
    let patch = json!({"metadata": {"finalizers": rest}});
    match claims
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(Action::await_change()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Action::await_change()),
        Err(source) => Err(Error::Kube {
            action: "lift the protection of",
            object: object(),
            source,
        }),
    }
}

async fn reconcile_claim(claim: Arc<PersistentVolumeClaim>, ctx: Arc<Context>) -> Result<Action> {
    if claim.metadata.deletion_timestamp.is_some() {
        return lift_claim_protection(&claim, &ctx).await;
    }
    let Some(volume) = volume_for(&claim) else {
        return Ok(Action::await_change());
    };
    let volumes: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let name = volume.name_any();
    match volumes.create(&PostParams::default(), &volume).await {
        Ok(_) => {
            tracing::debug!(volume = %name, claim = %claim.name_any(), "provisioned");
            Ok(Action::await_change())
        }
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(Action::await_change()),
        Err(source) => Err(Error::Kube {
            action: "create",
            object: format!("persistentvolume/{name}"),
            source,
        }),
    }
}

async fn reconcile_volume(volume: Arc<PersistentVolume>, ctx: Arc<Context>) -> Result<Action> {
    let ours = volume
        .annotations()
        .get("pv.kubernetes.io/provisioned-by")
        .is_some_and(|p| p == PROVISIONER);
    let released = volume
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .is_some_and(|p| p == "Released" || p == "Failed");
    let delete_policy = volume
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
        == Some("Delete");
    let volumes: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let name = volume.name_any();
    if !(ours && released && delete_policy) {
        return Ok(Action::await_change());
    }
    if volume.metadata.deletion_timestamp.is_some() {
        let Some(rest) = without(volume.finalizers(), VOLUME_PROTECTION) else {
            return Ok(Action::await_change());
        };
        let patch = json!({"metadata": {"finalizers": rest}});
        return match volumes
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(Action::await_change()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(Action::await_change()),
            Err(source) => Err(Error::Kube {
                action: "lift the protection of",
                object: format!("persistentvolume/{name}"),
                source,
            }),
        };
    }
    match volumes.delete(&name, &DeleteParams::default()).await {
        Ok(_) => Ok(Action::await_change()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Action::await_change()),
        Err(source) => Err(Error::Kube {
            action: "delete",
            object: format!("persistentvolume/{name}"),
            source,
        }),
    }
}

fn retry<K>(_: Arc<K>, error: &Error, _: Arc<Context>) -> Action {
    tracing::debug!(%error, "storage reconcile failed; retrying");
    Action::requeue(Duration::from_secs(1))
}

/// Runs the provisioner until the future is dropped: the default StorageClass, then volumes
/// for the claims of `namespace` (every namespace when `None`) and the deletion of released
/// ones.
pub async fn run_provisioner(client: Client, namespace: Option<String>) -> Result<()> {
    ensure_storage_class(&client).await?;
    let claims: Api<PersistentVolumeClaim> = match &namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let context = Arc::new(Context { client });
    let claims = Controller::new(claims, watcher::Config::default().any_semantic())
        .run(reconcile_claim, retry, context.clone())
        .for_each(|_| async {});
    let volumes = Controller::new(volumes, watcher::Config::default().any_semantic())
        .run(reconcile_volume, retry, context)
        .for_each(|_| async {});
    futures::future::join(claims, volumes).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(class: Option<&str>, bound: bool) -> PersistentVolumeClaim {
        serde_json::from_value(json!({
            "metadata": {"name": "data-db-0", "namespace": "apps", "uid": "1234"},
            "spec": {
                "storageClassName": class,
                "volumeName": if bound { "pvc-1234" } else { "" },
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "8Gi"}},
            },
        }))
        .unwrap()
    }

    #[test]
    fn claims_of_the_default_class_get_a_volume_made_for_them() {
        let volume = volume_for(&claim(Some(STORAGE_CLASS), false)).unwrap();
        assert_eq!(volume.name_any(), "pvc-1234");
        let spec = volume.spec.unwrap();
        assert_eq!(spec.capacity.unwrap()["storage"].0, "8Gi");
        let claim_ref = spec.claim_ref.unwrap();
        assert_eq!(claim_ref.namespace.as_deref(), Some("apps"));
        assert_eq!(claim_ref.uid.as_deref(), Some("1234"));
        assert_eq!(spec.storage_class_name.as_deref(), Some(STORAGE_CLASS));
    }

    #[test]
    fn protection_is_lifted_once_no_running_pod_mounts_the_claim() {
        let pod = |phase: &str| -> Pod {
            serde_json::from_value(json!({
                "metadata": {"name": "db-0"},
                "spec": {"containers": [], "volumes": [
                    {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}]},
                "status": {"phase": phase},
            }))
            .unwrap()
        };
        assert!(claim_in_use(&[pod("Running")], "data-db-0"));
        assert!(!claim_in_use(&[pod("Running")], "other"));
        assert!(!claim_in_use(&[pod("Succeeded")], "data-db-0"));
        let finalizers = vec![CLAIM_PROTECTION.to_string(), "example.com/keep".to_string()];
        assert_eq!(
            without(&finalizers, CLAIM_PROTECTION),
            Some(vec!["example.com/keep".to_string()])
        );
        assert_eq!(without(&finalizers, VOLUME_PROTECTION), None);
    }

    #[test]
    fn other_classes_and_bound_claims_are_left_alone() {
        assert!(volume_for(&claim(Some("fast"), false)).is_none());
        assert!(volume_for(&claim(None, false)).is_none());
        assert!(volume_for(&claim(Some(STORAGE_CLASS), true)).is_none());
    }
}

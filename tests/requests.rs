//! The requests capstan sends the real API server, counted by a recording client layer.
//!
//! - Zero values the API server omits: an upgrade with nothing changed sends no write request
//!   for a chart's `hostNetwork: false` or `initialDelaySeconds: 0`, while a pointer field
//!   (`automountServiceAccountToken: false`) removed by hand is put back.
//! - Applying several objects of a kind that exist reads them with one list, not one read each.
//! - Waiting for objects already ready lists each kind once and watches nothing.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use std::time::Duration;

use capstan_kube::wait::{Readiness, WaitOptions, Waiter};
use capstan_kube::{Action, Applier, ApplyMethod, ApplyOptions, Resource};
use capstan_testkit::{with_namespace, with_namespaces};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

const RELEASE: &str = "zeros";

/// Every request the client sends, as `METHOD path`.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Recorder {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl<S> tower_layer::Layer<S> for Recorder {
    type Service = Recording<S>;

    fn layer(&self, inner: S) -> Recording<S> {
        Recording {
            inner,
            seen: self.clone(),
        }
    }
}

#[derive(Clone)]
struct Recording<S> {
    inner: S,
    seen: Recorder,
}

impl<S, B> tower_service::Service<http::Request<B>> for Recording<S>
where
    S: tower_service::Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        self.seen
            .0
            .lock()
            .unwrap()
            .push(format!("{} {}", request.method(), request.uri().path()));
        Box::pin(self.inner.call(request))
    }
}

async fn recording_client(recorder: &Recorder) -> anyhow::Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(capstan_testkit::kubeconfig_path())?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(recorder)
        .build())
}

fn writes(requests: &[String]) -> Vec<&String> {
    requests.iter().filter(|r| !r.starts_with("GET ")).collect()
}

/// A chart's objects with zero values: omitted ones (`hostNetwork: false`,
/// `initialDelaySeconds: 0`, `publishNotReadyAddresses: false`, `volumes: null`), and a pointer
/// one (`automountServiceAccountToken: false`) the API server keeps.
fn chart() -> Vec<Resource> {
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "hostNetwork": false,
                    "automountServiceAccountToken": false,
                    "volumes": null,
                    "containers": [{
                        "name": "main",
                        "image": "nginx:1.27",
                        "readinessProbe": {
                            "initialDelaySeconds": 0,
                            "httpGet": {"path": "/", "port": 80, "httpHeaders": null},
                        },
                    }],
                },
            },
        },
    });
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {
            "publishNotReadyAddresses": false,
            "selector": {"app": "web"},
            "ports": [{"port": 80, "targetPort": 80}],
        },
    });
    [deployment, service]
        .into_iter()
        .map(|o: Value| Resource::from_object(o).expect("a valid object"))
        .collect()
}

#[tokio::test]
async fn an_unchanged_three_way_upgrade_writes_nothing_and_a_removed_pointer_field_comes_back() {
    unchanged_upgrade(ApplyMethod::ClientSide).await;
}

#[tokio::test]
async fn an_unchanged_server_side_upgrade_writes_nothing_and_a_removed_pointer_field_comes_back() {
    unchanged_upgrade(ApplyMethod::ServerSide).await;
}

async fn unchanged_upgrade(method: ApplyMethod) {
    with_namespace("omitted", |ns| async move {
        let recorder = Recorder::default();
        let applier = Applier::new(recording_client(&recorder).await?);
        let options = ApplyOptions::new(RELEASE, ns.name()).method(method);
        let objects = chart();
        applier.apply(&[], &objects, &options).await?;
        let installed = recorder.take();
        assert_eq!(writes(&installed).len(), 2, "two creates: {installed:?}");

        // Nothing changed: reads only, not even an empty patch.
        for round in 0..2 {
            let report = applier.apply(&objects, &objects, &options).await?;
            assert_eq!(report.changed().count(), 0, "round {round}");
            let requests = recorder.take();
            assert!(
                writes(&requests).is_empty(),
                "round {round}: write requests {:?}",
                writes(&requests)
            );
        }

        // The server keeps the pointer field; someone removes it by hand.
        let deployments = ns.api::<Deployment>();
        let pod_spec = |d: &Deployment| d.spec.clone().unwrap().template.spec.unwrap();
        let live = deployments.get("web").await?;
        assert_eq!(pod_spec(&live).automount_service_account_token, Some(false));
        assert_eq!(pod_spec(&live).host_network, None, "omitted by the server");
        deployments
            .patch(
                "web",
                &PatchParams::default(),
                &Patch::Json::<()>(serde_json::from_value(json!([{"op": "remove",
                    "path": "/spec/template/spec/automountServiceAccountToken"}]))?),
            )
            .await?;
        assert_eq!(
            pod_spec(&deployments.get("web").await?).automount_service_account_token,
            None
        );

        // The next upgrade puts it back, with one patch of the Deployment alone.
        let report = applier.apply(&objects, &objects, &options).await?;
        assert_eq!(report.action("Deployment", "web"), Some(Action::Configured));
        assert_eq!(report.action("Service", "web"), Some(Action::Unchanged));
        let requests = recorder.take();
        let written = writes(&requests);
        assert_eq!(written.len(), 1, "{written:?}");
        assert!(
            written[0].starts_with("PATCH ") && written[0].ends_with("/deployments/web"),
            "{written:?}"
        );
        assert_eq!(
            pod_spec(&deployments.get("web").await?).automount_service_account_token,
            Some(false)
        );
        let service = ns.api::<Service>().get("web").await?;
        assert_eq!(
            service.spec.unwrap().publish_not_ready_addresses,
            None,
            "omitted by the server"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn waiting_for_ready_objects_lists_each_kind_once_and_watches_nothing() {
    with_namespace("waitlist", |ns| async move {
        let config_maps: Vec<Resource> = (0..5)
            .map(|i| {
                Resource::from_object(json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": format!("c{i}")}, "data": {"a": "1"}}))
                .expect("a valid object")
            })
            .collect();
        let service = chart().pop().expect("the service");
        let mut objects = config_maps;
        objects.push(service);
        Applier::new(ns.client())
            .apply(&[], &objects, &ApplyOptions::new(RELEASE, ns.name()))
            .await?;
        let recorder = Recorder::default();
        let waiter = Waiter::new(recording_client(&recorder).await?);
        let options = WaitOptions {
            timeout: Duration::from_secs(30),
            wait_for_jobs: false,
        };
        let ready = std::sync::Mutex::new(Vec::new());
        waiter
            .wait(&objects, ns.name(), &options, &|c| {
                if c.readiness == Readiness::Ready {
                    ready.lock().unwrap().push(c.key.name.clone());
                }
            })
            .await?;
        let mut ready = ready.into_inner().unwrap();
        ready.sort();
        assert_eq!(
            ready,
            ["c0", "c1", "c2", "c3", "c4", "web"],
            "each reported ready"
        );
        let requests = recorder.take();
        let mut object_requests: Vec<&String> = requests
            .iter()
            .filter(|r| r.contains("/namespaces/"))
            .collect();
        object_requests.sort();
        assert_eq!(
            object_requests,
            [
                &format!("GET /api/v1/namespaces/{}/configmaps", ns.name()),
                &format!("GET /api/v1/namespaces/{}/services", ns.name()),
            ],
            "one list per kind, no watch: {requests:?}"
        );

        Ok(())
    })
    .await;
}

#[tokio::test]
async fn objects_of_a_kind_that_exist_are_read_with_one_list() {
    with_namespace("applylist", |ns| async move {
        let objects: Vec<Resource> = (0..5)
            .map(|i| {
                Resource::from_object(json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": format!("c{i}")}, "data": {"a": "1"}}))
                .expect("a valid object")
            })
            .collect();
        let recorder = Recorder::default();
        let applier = Applier::new(recording_client(&recorder).await?);
        for method in [ApplyMethod::ClientSide, ApplyMethod::ServerSide] {
            let options = ApplyOptions::new(RELEASE, ns.name()).method(method);
            applier.apply(&[], &objects, &options).await?;
            recorder.take();
            let report = applier.apply(&objects, &objects, &options).await?;
            assert_eq!(report.changed().count(), 0, "{method:?}");
            let requests = recorder.take();
            let object_requests: Vec<&String> = requests
                .iter()
                .filter(|r| r.contains("/namespaces/"))
                .collect();
            assert_eq!(
                object_requests,
                [&format!("GET /api/v1/namespaces/{}/configmaps", ns.name())],
                "{method:?}: one list, no read of each, no write"
            );
        }
        // A changed object is still patched.
        let mut changed = objects.clone();
        changed[2] = Resource::from_object(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c2"}, "data": {"a": "2"}}))?;
        let options = ApplyOptions::new(RELEASE, ns.name());
        let report = applier.apply(&objects, &changed, &options).await?;
        assert_eq!(report.action("ConfigMap", "c2"), Some(Action::Configured));
        assert_eq!(report.changed().count(), 1);
        let written = writes(&recorder.take()).len();
        assert_eq!(written, 1);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn objects_their_step_list_shows_absent_are_created_without_a_read() {
    with_namespaces(
        &["applyabsent", "applyabsentcsa"],
        |namespaces| async move {
            let mut objects: Vec<Resource> = (0..4)
                .map(|i| {
                    Resource::from_object(json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": format!("c{i}")}, "data": {"a": "1"}}))
                    .expect("a valid object")
                })
                .collect();
            objects.extend((0..3).map(|i| {
                Resource::from_object(json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": format!("sa{i}")}}))
                .expect("a valid object")
            }));
            let recorder = Recorder::default();
            let applier = Applier::new(recording_client(&recorder).await?);
            for (method, ns) in [ApplyMethod::ServerSide, ApplyMethod::ClientSide]
                .into_iter()
                .zip(&namespaces)
            {
                let options = ApplyOptions::new(RELEASE, ns.name()).method(method);
                recorder.take();
                let report = applier.apply(&[], &objects, &options).await?;
                assert_eq!(report.changed().count(), 7, "{method:?}: all created");
                let requests = recorder.take();
                let reads_of_one: Vec<&String> = requests
                    .iter()
                    .filter(|r| {
                        r.starts_with("GET ")
                            && (r.contains("/configmaps/") || r.contains("/serviceaccounts/"))
                    })
                    .collect();
                assert!(
                    reads_of_one.is_empty(),
                    "{method:?}: each kind listed, no object read: {requests:?}"
                );
                assert_eq!(writes(&requests).len(), 7, "{method:?}: {requests:?}");
            }
            Ok(())
        },
    )
    .await;
}

#[tokio::test]
async fn an_object_the_whole_list_leaves_out_is_read_before_it_is_applied() {
    with_namespace("applyhidden", |ns| async move {
        // Labelled as a release record would be, so the step's list of ConfigMaps (without
        // release records) does not show it; it belongs to no release.
        let hidden = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c1", "labels": {"owner": "helm"}}, "data": {"a": "theirs"}});
        let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
            kube::Api::namespaced(ns.client(), ns.name());
        api.create(&Default::default(), &serde_json::from_value(hidden)?)
            .await?;
        let objects: Vec<Resource> = (0..3)
            .map(|i| {
                Resource::from_object(json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": format!("c{i}")}, "data": {"a": "1"}}))
                .expect("a valid object")
            })
            .collect();
        let err = Applier::new(ns.client())
            .apply(&[], &objects, &ApplyOptions::new(RELEASE, ns.name()))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("c1"),
            "refused as another's object: {err}"
        );
        let kept = api.get("c1").await?;
        assert_eq!(
            kept.data.unwrap_or_default().get("a").map(String::as_str),
            Some("theirs"),
            "left as it was"
        );
        Ok(())
    })
    .await;
}

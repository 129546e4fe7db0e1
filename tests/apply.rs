//! The applier against the real API server: client-side three-way merges, server-side apply,
//! ownership, pruning, custom resources, `--force`, server dry-run and waiting.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use capstan_kube::wait::{Readiness, ReadinessChange, WaitOptions, Waiter};
use capstan_kube::{Action, Applier, ApplyMethod, ApplyOptions, Cascade, Resource};
use capstan_testkit::{TestNamespace, with_namespace};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

const RELEASE: &str = "rel";

fn res(object: Value) -> Resource {
    Resource::from_object(object).expect("a valid object")
}

fn client_side(ns: &str) -> ApplyOptions {
    ApplyOptions::new(RELEASE, ns).method(ApplyMethod::ClientSide)
}

fn config_map(name: &str, data: Value) -> Resource {
    res(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}))
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn web(image: &str, env: Value, ports: Value, annotations: Value) -> Resource {
    res(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": annotations},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "main", "image": image, "env": env, "ports": ports}]},
            },
        },
    }))
}

fn container<'a>(d: &'a Deployment, name: &str) -> &'a k8s_openapi::api::core::v1::Container {
    d.spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("container {name}"))
}

#[tokio::test]
async fn three_way_merge_keeps_hand_edits_updates_and_removes_chart_fields() {
    with_namespace("apply-3way", |ns| async move {
        let applier = Applier::new(ns.client());
        let opts = client_side(ns.name());
        let v1 = web(
            "web:1",
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]),
            json!([{"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "extra"}]),
            json!({"chart-only": "x", "stays": "s"}),
        );
        let report = applier.apply(&[], std::slice::from_ref(&v1), &opts).await?;
        assert_eq!(report.action("Deployment", "web"), Some(Action::Created));

        // Someone edits the live object by hand, as `kubectl edit` would.
        let api = ns.api::<Deployment>();
        let hand = json!({
            "metadata": {"annotations": {"hand": "yes"}},
            "spec": {"minReadySeconds": 5, "template": {"spec": {"containers": [
                {"name": "main", "env": [{"name": "HAND", "value": "h"}],
                 "ports": [{"containerPort": 9090, "name": "debug"}]},
                {"name": "sidecar", "image": "side:1"},
            ]}}},
        });
        api.patch("web", &PatchParams::default(), &Patch::Strategic(hand))
            .await?;

        let v2 = web(
            "web:2",
            json!([{"name": "A", "value": "10"}, {"name": "C", "value": "3"}]),
            json!([{"containerPort": 80, "name": "http"}]),
            json!({"stays": "s"}),
        );
        let report = applier
            .apply(&[v1], std::slice::from_ref(&v2), &opts)
            .await?;
        assert_eq!(report.action("Deployment", "web"), Some(Action::Configured));

        let live = api.get("web").await?;
        let annotations = live.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(
            annotations.get("hand").map(String::as_str),
            Some("yes"),
            "hand edit kept"
        );
        assert!(
            !annotations.contains_key("chart-only"),
            "removed from the chart: gone"
        );
        assert_eq!(annotations.get("stays").map(String::as_str), Some("s"));
        assert_eq!(
            annotations
                .get("meta.helm.sh/release-name")
                .map(String::as_str),
            Some(RELEASE)
        );
        assert_eq!(
            live.spec.as_ref().unwrap().min_ready_seconds,
            Some(5),
            "hand field kept"
        );
        let main = container(&live, "main");
        assert_eq!(main.image.as_deref(), Some("web:2"), "chart change applied");
        let env: BTreeMap<String, String> = main
            .env
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.name, e.value.unwrap_or_default()))
            .collect();
        let want: BTreeMap<String, String> = [("A", "10"), ("C", "3"), ("HAND", "h")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(env, want, "env merged by name");
        let mut ports: Vec<i32> = main
            .ports
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|p| p.container_port)
            .collect();
        ports.sort();
        assert_eq!(ports, [80, 9090], "ports merged by containerPort");
        assert_eq!(
            container(&live, "sidecar").image.as_deref(),
            Some("side:1"),
            "hand container kept"
        );

        // The same chart again: no write at all (the controller keeps writing the status, so
        // the spec's generation and helm's managed-fields entry are what must not move).
        let helm_entry = |d: &Deployment| {
            d.metadata
                .managed_fields
                .clone()
                .unwrap_or_default()
                .into_iter()
                .find(|m| m.manager.as_deref() == Some("helm"))
                .map(|m| (m.operation, m.time))
        };
        let report = applier
            .apply(std::slice::from_ref(&v2), std::slice::from_ref(&v2), &opts)
            .await?;
        assert_eq!(report.action("Deployment", "web"), Some(Action::Unchanged));
        let after = api.get("web").await?;
        assert_eq!(after.metadata.generation, live.metadata.generation);
        assert_eq!(helm_entry(&after), helm_entry(&live));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn unchanged_objects_get_no_write_with_either_method() {
    with_namespace("apply-nowrite", |ns| async move {
        let applier = Applier::new(ns.client());
        let api = ns.api::<ConfigMap>();
        for (name, method) in [
            ("csa", ApplyMethod::ClientSide),
            ("ssa", ApplyMethod::ServerSide),
        ] {
            let opts = ApplyOptions::new(RELEASE, ns.name()).method(method);
            let cm = [config_map(name, json!({"a": "1"}))];
            applier.apply(&[], &cm, &opts).await?;
            let before = api.get(name).await?.metadata.resource_version;
            let report = applier.apply(&cm, &cm, &opts).await?;
            assert_eq!(
                report.action("ConfigMap", name),
                Some(Action::Unchanged),
                "{name}"
            );
            assert_eq!(report.changed().count(), 0);
            assert_eq!(
                api.get(name).await?.metadata.resource_version,
                before,
                "{name}"
            );
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn dropped_objects_are_deleted_unless_kept() {
    with_namespace("apply-prune", |ns| async move {
        let applier = Applier::new(ns.client());
        let opts = client_side(ns.name());
        let keep = res(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "b", "annotations": {"helm.sh/resource-policy": "keep"}}}));
        let v1 = [config_map("a", json!({})), keep, config_map("c", json!({}))];
        applier.apply(&[], &v1, &opts).await?;
        let v2 = [config_map("a", json!({}))];
        let report = applier.apply(&v1, &v2, &opts).await?;
        assert_eq!(report.action("ConfigMap", "c"), Some(Action::Deleted));
        assert_eq!(report.action("ConfigMap", "b"), Some(Action::Kept));
        let api = ns.api::<ConfigMap>();
        assert!(api.get_opt("c").await?.is_none());
        assert!(api.get_opt("b").await?.is_some());
        assert!(api.get_opt("a").await?.is_some());

        let seen = Mutex::new(Vec::new());
        let report = applier
            .uninstall_observed(&v1, &opts, &|o| seen.lock().unwrap().push(o.clone()))
            .await?;
        assert_eq!(seen.into_inner().unwrap().len(), 3, "each object reported");
        Waiter::new(ns.client())
            .wait_deleted(&v1[..1], ns.name(), Duration::from_secs(30))
            .await?;
        assert_eq!(report.action("ConfigMap", "a"), Some(Action::Deleted));
        assert_eq!(report.action("ConfigMap", "b"), Some(Action::Kept));
        assert_eq!(report.action("ConfigMap", "c"), Some(Action::Absent));
        assert!(api.get_opt("a").await?.is_none());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn server_side_apply_uses_field_manager_helm_and_forces_conflicts() {
    with_namespace("apply-ssa", |ns| async move {
        let applier = Applier::new(ns.client());
        let opts = ApplyOptions::new(RELEASE, ns.name());
        assert_eq!(opts.method, ApplyMethod::ServerSide);
        let v1 = [config_map("cfg", json!({"x": "1", "y": "2"}))];
        let report = applier.apply(&[], &v1, &opts).await?;
        assert_eq!(report.action("ConfigMap", "cfg"), Some(Action::Created));
        let api = ns.api::<ConfigMap>();
        let live = api.get("cfg").await?;
        let managers: Vec<(String, String)> = live
            .metadata
            .managed_fields
            .unwrap_or_default()
            .into_iter()
            .map(|m| (m.manager.unwrap_or_default(), m.operation.unwrap_or_default()))
            .collect();
        assert!(managers.contains(&("helm".into(), "Apply".into())), "{managers:?}");

        // Another manager takes x over; the next apply takes it back and drops y.
        let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"x": "hand"}});
        api.patch("cfg", &PatchParams::apply("someone").force(), &Patch::Apply(other))
            .await?;
        let v2 = [config_map("cfg", json!({"x": "1"}))];
        let report = applier.apply(&v1, &v2, &opts).await?;
        assert_eq!(report.action("ConfigMap", "cfg"), Some(Action::Configured));
        let data = api.get("cfg").await?.data.unwrap_or_default();
        assert_eq!(data.get("x").map(String::as_str), Some("1"));
        assert!(!data.contains_key("y"), "{data:?}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn ownership_is_refused_unless_taken() {
    with_namespace("apply-owner", |ns| async move {
        let applier = Applier::new(ns.client());
        let opts = client_side(ns.name());
        let api = ns.api::<ConfigMap>();
        let orphan: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "orphan"}}))?;
        api.create(&PostParams::default(), &orphan).await?;
        let theirs: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "theirs",
            "labels": {"app.kubernetes.io/managed-by": "Helm"},
            "annotations": {"meta.helm.sh/release-name": "other", "meta.helm.sh/release-namespace": ns.name()}}}))?;
        api.create(&PostParams::default(), &theirs).await?;

        for name in ["orphan", "theirs"] {
            let error = applier
                .apply(&[], &[config_map(name, json!({"k": "v"}))], &opts)
                .await
                .expect_err("adoption refused");
            let text = chain(&error);
            assert!(text.contains("invalid ownership metadata"), "{text}");
            assert!(text.contains(&format!("configmap/{name}")), "{text}");
            if name == "theirs" {
                assert!(text.contains("current value is \"other\""), "{text}");
            }
            assert!(api.get(name).await?.data.is_none(), "untouched");
        }

        let mut take = opts.clone();
        take.take_ownership = true;
        let report = applier
            .apply(&[], &[config_map("orphan", json!({"k": "v"}))], &take)
            .await?;
        assert_eq!(report.action("ConfigMap", "orphan"), Some(Action::Configured));
        let live = api.get("orphan").await?;
        assert_eq!(
            live.metadata.labels.unwrap_or_default().get("app.kubernetes.io/managed-by").map(String::as_str),
            Some("Helm")
        );
        assert_eq!(
            live.metadata.annotations.unwrap_or_default().get("meta.helm.sh/release-name").map(String::as_str),
            Some(RELEASE)
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_check_beside_a_crd_step_checks_served_kinds_and_leaves_unknown_ones() {
    with_namespace("apply-served", |ns| async move {
        let applier = Applier::new(ns.client());
        let opts = ApplyOptions::new(RELEASE, ns.name());
        let api = ns.api::<ConfigMap>();
        let theirs: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "theirs",
            "labels": {"app.kubernetes.io/managed-by": "Helm"},
            "annotations": {"meta.helm.sh/release-name": "other", "meta.helm.sh/release-namespace": ns.name()}}}))?;
        api.create(&PostParams::default(), &theirs).await?;
        let widget = res(json!({"apiVersion": "served.capstan.dev/v1", "kind": "Widget",
            "metadata": {"name": "w"}}));
        let desired = [
            config_map("theirs", json!({"k": "v"})),
            config_map("new", json!({"k": "v"})),
            widget,
        ];
        // No kind known yet: every object is left for the check after the CRD step.
        assert_eq!(applier.check_adoption_served(&desired, &opts).await?, [0, 1, 2]);
        // Once looked up, a served kind is checked (another release's object refused); a kind
        // no one serves is left.
        applier
            .mapper()
            .prefetch([("v1", "ConfigMap"), ("served.capstan.dev/v1", "Widget")])
            .await;
        let error = applier
            .check_adoption_served(&desired, &opts)
            .await
            .expect_err("another release's object refused");
        let text = chain(&error);
        assert!(text.contains("configmap/theirs"), "{text}");
        assert!(text.contains("current value is \"other\""), "{text}");
        assert_eq!(applier.check_adoption_served(&desired[1..], &opts).await?, [1]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn custom_resources_are_applied_with_their_crd_and_merged() {
    with_namespace("apply-cr", |ns| async move {
        let applier = Applier::new(ns.client());
        let opts = client_side(ns.name());
        let group = format!("{}.capstan.test", ns.name());
        let crd = res(json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("widgets.{group}")},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                }}}],
            },
        }));
        let widget = |spec: Value| {
            res(json!({"apiVersion": format!("{group}/v1"), "kind": "Widget", "metadata": {"name": "w"}, "spec": spec}))
        };
        let v1 = [crd.clone(), widget(json!({"size": 1, "old": "x", "tags": ["a"]}))];
        let outcome = async {
            let report = applier.apply(&[], &v1, &opts).await?;
            assert_eq!(report.action("CustomResourceDefinition", &format!("widgets.{group}")), Some(Action::Created));
            assert_eq!(report.action("Widget", "w"), Some(Action::Created));

            let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(&group, "v1", "Widget"), "widgets");
            let api: Api<DynamicObject> = Api::namespaced_with(ns.client(), ns.name(), &ar);
            api.patch("w", &PatchParams::default(), &Patch::Merge(json!({"spec": {"hand": "h"}})))
                .await?;

            let v2 = [crd.clone(), widget(json!({"size": 2, "tags": ["b"]}))];
            let report = applier.apply(&v1, &v2, &opts).await?;
            assert_eq!(report.action("Widget", "w"), Some(Action::Configured));
            assert_eq!(report.action("CustomResourceDefinition", &format!("widgets.{group}")), Some(Action::Unchanged));
            let live = api.get("w").await?;
            assert_eq!(live.data["spec"], json!({"size": 2, "tags": ["b"], "hand": "h"}));
            let report = applier.apply(&v2, &v2, &opts).await?;
            assert_eq!(report.changed().count(), 0, "{report:?}");
            anyhow::Ok(())
        }
        .await;
        // The CRD is cluster-scoped: uninstall (widget first, then the CRD) cleans it up.
        let report = applier.uninstall(&v1, &opts).await?;
        outcome?;
        assert_eq!(report.objects.first().map(|o| o.key.kind.as_str()), Some("Widget"));
        assert_eq!(report.action("CustomResourceDefinition", &format!("widgets.{group}")), Some(Action::Deleted));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn force_replaces_instead_of_patching() {
    with_namespace("apply-force", |ns| async move {
        let applier = Applier::new(ns.client());
        let mut opts = client_side(ns.name());
        let v1 = [config_map("cfg", json!({"a": "1"}))];
        applier.apply(&[], &v1, &opts).await?;
        let api = ns.api::<ConfigMap>();
        api.patch(
            "cfg",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"hand": "h"}})),
        )
        .await?;
        opts.force_replace = true;
        let report = applier.apply(&v1, &v1, &opts).await?;
        assert_eq!(report.action("ConfigMap", "cfg"), Some(Action::Replaced));
        let data = api.get("cfg").await?.data.unwrap_or_default();
        assert_eq!(
            data.len(),
            1,
            "a PUT drops what the chart does not set: {data:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn server_dry_run_changes_nothing() {
    with_namespace("apply-dryrun", |ns| async move {
        let applier = Applier::new(ns.client());
        let api = ns.api::<ConfigMap>();
        for method in [ApplyMethod::ClientSide, ApplyMethod::ServerSide] {
            let mut dry = ApplyOptions::new(RELEASE, ns.name()).method(method);
            dry.dry_run = true;
            let v1 = [config_map("cfg", json!({"a": "1"}))];
            let report = applier.apply(&[], &v1, &dry).await?;
            assert_eq!(report.action("ConfigMap", "cfg"), Some(Action::Created));
            assert!(
                api.get_opt("cfg").await?.is_none(),
                "{method:?}: not created"
            );

            let real = ApplyOptions::new(RELEASE, ns.name()).method(method);
            applier.apply(&[], &v1, &real).await?;
            let before = api.get("cfg").await?.metadata.resource_version;
            let v2 = [config_map("cfg", json!({"a": "2"}))];
            let report = applier.apply(&v1, &v2, &dry).await?;
            assert_eq!(
                report.action("ConfigMap", "cfg"),
                Some(Action::Configured),
                "{method:?}"
            );
            let report = applier.apply(&v1, &[], &dry).await?;
            assert_eq!(report.action("ConfigMap", "cfg"), Some(Action::Deleted));
            let live = api.get("cfg").await?;
            assert_eq!(
                live.metadata.resource_version, before,
                "{method:?}: not changed"
            );
            applier.uninstall(&v1, &real).await?;
        }
        Ok(())
    })
    .await;
}

fn deployment(name: &str, replicas: i32, image: &str) -> Resource {
    let mut d = serde_json::to_value(capstan_e2e::deployment(name, replicas, image)).expect("json");
    d["apiVersion"] = json!("apps/v1");
    d["kind"] = json!("Deployment");
    res(d)
}

fn job(name: &str, image: &str) -> Resource {
    let mut j = serde_json::to_value(capstan_e2e::job(name, image)).expect("json");
    j["apiVersion"] = json!("batch/v1");
    j["kind"] = json!("Job");
    res(j)
}

/// Applies `objects` and waits for them (jobs included): every one must end Ready in the
/// cluster and be reported ready by the wait's progress callback.
async fn apply_and_wait_ready(ns: &TestNamespace, objects: &[Resource]) -> anyhow::Result<()> {
    let applier = Applier::new(ns.client());
    applier
        .apply(&[], objects, &ApplyOptions::new(RELEASE, ns.name()))
        .await?;
    let changes: Mutex<Vec<ReadinessChange>> = Mutex::new(Vec::new());
    let options = WaitOptions {
        timeout: Duration::from_secs(90),
        wait_for_jobs: true,
    };
    Waiter::with_mapper(applier.mapper().clone())
        .wait(objects, ns.name(), &options, &|c| {
            changes.lock().unwrap().push(c.clone())
        })
        .await?;
    let status = Waiter::new(ns.client()).status(objects, ns.name()).await?;
    assert!(
        status.iter().all(|(_, r)| *r == Some(Readiness::Ready)),
        "{status:?}"
    );
    let changes = changes.into_inner().unwrap();
    for object in objects {
        let name = object.key(ns.name()).to_string();
        assert!(
            changes
                .iter()
                .any(|c| c.key.to_string() == name && c.readiness == Readiness::Ready),
            "{name} reported ready: {changes:?}"
        );
    }
    Ok(())
}

/// Applies `objects` and waits `seconds` for them, which must time out; returns the error text.
async fn apply_and_time_out(
    ns: &TestNamespace,
    objects: &[Resource],
    seconds: u64,
) -> anyhow::Result<String> {
    Applier::new(ns.client())
        .apply(&[], objects, &ApplyOptions::new(RELEASE, ns.name()))
        .await?;
    let options = WaitOptions {
        timeout: Duration::from_secs(seconds),
        wait_for_jobs: false,
    };
    let error = Waiter::new(ns.client())
        .wait(objects, ns.name(), &options, &|_| {})
        .await
        .expect_err("times out");
    Ok(error.to_string())
}

#[tokio::test]
async fn wait_succeeds_for_a_healthy_deployment_and_job() {
    with_namespace("apply-wait", |ns| async move {
        apply_and_wait_ready(
            &ns,
            &[
                deployment("web", 2, "nginx:1.27"),
                job("migrate", "busybox:1.36"),
            ],
        )
        .await
    })
    .await;
}

#[tokio::test]
async fn wait_times_out_naming_every_unready_object_and_its_pods() {
    with_namespace("apply-waitfail", |ns| async move {
        let objects = [
            deployment("stuck", 1, "web:never-ready"),
            deployment("crash", 1, "web:crashloop"),
            deployment("fine", 1, "web:1"),
        ];
        let text = apply_and_time_out(&ns, &objects, 20).await?;
        assert!(
            text.contains("deployment/stuck: 0/1 available; pod stuck-"),
            "{text}"
        );
        assert!(text.contains("never-ready"), "{text}");
        assert!(
            text.contains("deployment/crash: 0/1 available; pod crash-"),
            "{text}"
        );
        assert!(text.contains("CrashLoopBackOff"), "{text}");
        assert!(!text.contains("deployment/fine"), "{text}");

        // A failing Job ends the wait at once.
        let failing = [job("bad", "busybox:fail")];
        Applier::new(ns.client())
            .apply(&[], &failing, &ApplyOptions::new(RELEASE, ns.name()))
            .await?;
        let options = WaitOptions {
            timeout: Duration::from_secs(60),
            wait_for_jobs: true,
        };
        let started = std::time::Instant::now();
        let error = Waiter::new(ns.client())
            .wait(&failing, ns.name(), &options, &|_| {})
            .await
            .expect_err("the job fails");
        assert!(error.to_string().starts_with("job/bad failed"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(60));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn moving_from_client_side_to_server_side_migrates_managed_fields() {
    with_namespace("apply-migrate", |ns| async move {
        let applier = Applier::new(ns.client());
        let v1 = [config_map("cfg", json!({"x": "1", "y": "2"}))];
        applier.apply(&[], &v1, &client_side(ns.name())).await?;
        let v2 = [config_map("cfg", json!({"x": "1"}))];
        let report = applier
            .apply(&v1, &v2, &ApplyOptions::new(RELEASE, ns.name()))
            .await?;
        assert_eq!(report.action("ConfigMap", "cfg"), Some(Action::Configured));
        let live = ns.api::<ConfigMap>().get("cfg").await?;
        let data = live.data.unwrap_or_default();
        assert!(!data.contains_key("y"), "dropped field removed: {data:?}");
        let helm: Vec<String> = live
            .metadata
            .managed_fields
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.manager.as_deref() == Some("helm"))
            .map(|m| m.operation.unwrap_or_default())
            .collect();
        assert_eq!(helm, ["Apply"]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn force_never_recreates_an_object_whose_change_is_immutable() {
    with_namespace("apply-recreate", |ns| async move {
        let applier = Applier::new(ns.client());
        let mut opts = client_side(ns.name());
        let frozen = |value: &str| {
            res(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "frozen"},
                "immutable": true, "data": {"a": value}}),
            )
        };
        applier.apply(&[], &[frozen("1")], &opts).await?;
        let api = ns.api::<ConfigMap>();
        let uid = api.get("frozen").await?.metadata.uid;
        // As Helm's `--force`: a PUT, which the API server refuses; the object stays.
        opts.force_replace = true;
        let error = applier
            .apply(&[frozen("1")], &[frozen("2")], &opts)
            .await
            .expect_err("an immutable change is refused");
        let text = chain(&error);
        assert!(
            text.contains(&format!(
                "replace configmap/frozen in namespace {}: ConfigMap \"frozen\" is invalid: data:",
                ns.name()
            )),
            "{text}"
        );
        assert!(
            text.contains("cannot change once the object exists"),
            "{text}"
        );
        assert!(!text.contains("Status {"), "{text}");
        let live = api.get("frozen").await?;
        assert_eq!(live.metadata.uid, uid, "the same object");
        assert_eq!(
            live.data.unwrap_or_default().get("a").map(String::as_str),
            Some("1")
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn uninstall_honours_the_cascade_policy() {
    with_namespace("apply-cascade", |ns| async move {
        let applier = Applier::new(ns.client());
        let objects = [deployment("web", 1, "web:1")];
        let mut opts = ApplyOptions::new(RELEASE, ns.name());
        applier.apply(&[], &objects, &opts).await?;
        let options = WaitOptions {
            timeout: Duration::from_secs(60),
            wait_for_jobs: false,
        };
        let waiter = Waiter::new(ns.client());
        waiter.wait(&objects, ns.name(), &options, &|_| {}).await?;

        opts.cascade = Cascade::Orphan;
        let report = applier.uninstall(&objects, &opts).await?;
        assert_eq!(report.action("Deployment", "web"), Some(Action::Deleted));
        waiter
            .wait_deleted(&objects, ns.name(), Duration::from_secs(60))
            .await?;
        let replica_sets = ns
            .api::<k8s_openapi::api::apps::v1::ReplicaSet>()
            .list(&kube::api::ListParams::default().labels("app=web"))
            .await?;
        assert_eq!(replica_sets.items.len(), 1, "orphaned, not deleted");
        let owners = replica_sets.items[0].metadata.owner_references.clone();
        assert!(
            owners.unwrap_or_default().is_empty(),
            "the garbage collector released it"
        );
        Ok(())
    })
    .await;
}

/// A pod template running `image` with the label `app: <name>`.
fn pod_template(name: &str, image: &str) -> Value {
    json!({
        "metadata": {"labels": {"app": name}},
        "spec": {"containers": [{"name": "main", "image": image}]},
    })
}

fn stateful_set(name: &str, replicas: i32, image: &str) -> Resource {
    res(json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": pod_template(name, image),
        },
    }))
}

fn daemon_set(name: &str, image: &str) -> Resource {
    res(json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": pod_template(name, image),
        },
    }))
}

/// A claim on `volume` (a statically provisioned PersistentVolume, bound by the controller
/// manager); with no such volume it stays Pending.
fn claim(name: &str, volume: &str) -> Resource {
    res(json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "volumeName": volume,
            "resources": {"requests": {"storage": "1Mi"}},
        },
    }))
}

/// Every kind Helm waits for becomes ready on the real control plane (StatefulSet, DaemonSet,
/// ReplicaSet, Pod, PersistentVolumeClaim, Service), and a timeout names each one that did not,
/// with why.
#[tokio::test]
async fn wait_covers_statefulsets_daemonsets_claims_pods_and_services() {
    with_namespace("apply-kinds", |ns| async move {
        let volume = format!("{}-data", ns.name());
        let volumes: Api<k8s_openapi::api::core::v1::PersistentVolume> = Api::all(ns.client());
        volumes
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({
                    "apiVersion": "v1",
                    "kind": "PersistentVolume",
                    "metadata": {"name": volume},
                    "spec": {
                        "capacity": {"storage": "1Mi"},
                        "accessModes": ["ReadWriteOnce"],
                        "persistentVolumeReclaimPolicy": "Retain",
                        "storageClassName": "",
                        "hostPath": {"path": "/tmp/capstan-test-volume"},
                    },
                }))?,
            )
            .await?;
        let result = async {
            let objects = [
                claim("data", &volume),
                res(json!({
                    "apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": "db"},
                    "spec": {"clusterIP": "None", "selector": {"app": "db"},
                             "ports": [{"port": 5432}]},
                })),
                stateful_set("db", 2, "postgres:16"),
                daemon_set("agent", "fluent-bit:3"),
                res(json!({
                    "apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": "cache"},
                    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "cache"}},
                             "template": pod_template("cache", "redis:7")},
                })),
                res(json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "solo"},
                    "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]},
                })),
            ];
            apply_and_wait_ready(&ns, &objects).await?;

            // Not ready: a claim on a volume that does not exist, a StatefulSet whose pod never
            // becomes ready, a DaemonSet whose pod crash-loops.
            let stuck = [
                claim("orphan", &format!("{}-missing", ns.name())),
                stateful_set("stuck", 1, "db:never-ready"),
                daemon_set("crashing", "agent:crashloop"),
            ];
            let text = apply_and_time_out(&ns, &stuck, 15).await?;
            assert!(
                text.contains("persistentvolumeclaim/orphan: Pending (not Bound)"),
                "{text}"
            );
            assert!(text.contains("statefulset/stuck: 0/1 ready"), "{text}");
            assert!(text.contains("never-ready"), "{text}");
            assert!(text.contains("daemonset/crashing: 0/1 available"), "{text}");
            assert!(text.contains("CrashLoopBackOff"), "{text}");
            anyhow::Ok(())
        }
        .await;
        volumes.delete(&volume, &Default::default()).await?;
        result
    })
    .await;
}

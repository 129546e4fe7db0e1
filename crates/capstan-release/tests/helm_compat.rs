//! Compatibility with records Helm writes and records Helm must read, against fixtures made with
//! Go's own encoders (see `tests/fixtures/README.md`).

use std::path::PathBuf;

use capstan_release::{
    ApplyMethod, Codec, GoTime, Hook, HookDeletePolicy, HookEvent, HookExecution, HookPhase,
    ObjectKey, Release, Status, StoredChart, encode_release,
};
use serde_json::{Value, json};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

const GOLDEN: &str = "sh.helm.release.v1.golden.v2";

#[test]
fn reads_a_helm3_written_record() {
    let payload = std::fs::read(fixture("helm3-golden.v2.b64")).unwrap();
    let r = Codec::new().decode_record(GOLDEN, &payload).unwrap();

    assert_eq!(r.name, "golden");
    assert_eq!(r.namespace, "golden-ns");
    assert_eq!(r.version, 2);
    assert_eq!(r.info.status, Status::Deployed);
    assert_eq!(r.info.description, "Upgrade complete");
    assert_eq!(r.info.notes, "Thank you for installing golden.\n");
    assert_eq!(
        r.info.first_deployed.unwrap().to_string(),
        "2024-05-01T10:00:00.123456789+01:00"
    );
    assert_eq!(
        r.info.last_deployed.unwrap().timestamp().to_string(),
        "2024-05-02T09:00:00.5Z"
    );
    assert_eq!(r.info.deleted, None);
    assert_eq!(r.chart_name_version(), "golden-0.3.1");
    assert_eq!(r.app_version(), "1.25.0");
    let chart = r.chart.as_ref().unwrap();
    assert_eq!(
        chart.templates[0].data,
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
    );
    assert_eq!(chart.schema.as_deref(), Some(&br#"{"type":"object"}"#[..]));
    assert_eq!(
        chart.lock.as_ref().unwrap().generated.unwrap().to_string(),
        "2024-04-30T08:00:00Z"
    );
    assert_eq!(r.config["replicaCount"], 3);
    assert_eq!(r.config["ratio"], 0.25);
    assert!(
        r.manifest
            .starts_with("---\n# Source: golden/templates/configmap.yaml\n")
    );
    assert_eq!(r.hooks.len(), 2);
    assert_eq!(r.hooks[0].events, [HookEvent::Test]);
    assert_eq!(r.hooks[0].weight, 1);
    assert_eq!(r.hooks[0].last_run.phase, Some(HookPhase::Succeeded));
    assert_eq!(
        r.hooks[0].last_run.completed_at.unwrap().to_string(),
        "2024-05-02T10:00:02+01:00"
    );
    assert_eq!(
        r.hooks[0].delete_policies,
        [
            HookDeletePolicy::BeforeHookCreation,
            HookDeletePolicy::HookSucceeded
        ]
    );
    assert_eq!(r.hooks[1].last_run, HookExecution::default());
    assert_eq!(
        r.hooks[1].events,
        [HookEvent::PreUpgrade, HookEvent::PreInstall]
    );
}

#[test]
fn a_helm3_record_rewritten_by_capstan_loses_nothing() {
    let payload = std::fs::read(fixture("helm3-golden.v2.b64")).unwrap();
    let codec = Codec::new();
    let original: Value =
        serde_json::from_slice(&codec.decode_to_json(GOLDEN, &payload).unwrap()).unwrap();
    let r = codec.decode_record(GOLDEN, &payload).unwrap();
    let rewritten = codec.encode(GOLDEN, &r).unwrap();
    let again: Value =
        serde_json::from_slice(&codec.decode_to_json(GOLDEN, rewritten.as_bytes()).unwrap())
            .unwrap();
    assert_eq!(again, original);
    assert_eq!(
        codec.decode_record(GOLDEN, rewritten.as_bytes()).unwrap(),
        r
    );
}

/// A release exercising every field capstan writes, times in several offsets.
fn capstan_written_release() -> Release {
    let mut r = Release::new("written", "apps", 4, Status::Deployed);
    r.info.first_deployed = Some("2024-01-01T12:00:00.000000001-05:00".parse().unwrap());
    r.info.last_deployed = Some("2024-06-30T23:59:59.999999999+05:45".parse().unwrap());
    r.info.description = "Rollback to 2".into();
    r.info.rollback_revision = 2;
    r.info.notes = "notes".into();
    r.apply_method = Some(ApplyMethod::ServerSide);
    r.chart = Some(
        serde_json::from_value::<StoredChart>(json!({
            "metadata": {"name": "written", "version": "1.0.0", "appVersion": "3", "apiVersion": "v2"},
            "lock": null,
            "templates": [{"name": "templates/a.yaml", "data": "a2luZDogQQ=="}],
            "values": {"a": {"b": [1, 2]}},
            "schema": null,
            "files": null
        }))
        .unwrap(),
    );
    r.config.insert("a".into(), json!({"b": [3]}));
    r.manifest = "---\n# Source: written/templates/a.yaml\nkind: A\n".into();
    r.hooks.push(Hook {
        name: "pre".into(),
        kind: "Job".into(),
        path: "written/templates/pre.yaml".into(),
        manifest: "kind: Job".into(),
        events: vec![HookEvent::PreRollback],
        last_run: HookExecution {
            started_at: Some(GoTime::from_unix_seconds(1_719_792_000).unwrap()),
            completed_at: None,
            phase: Some(HookPhase::Running),
        },
        weight: -2,
        delete_policies: vec![HookDeletePolicy::HookFailed],
        ..Hook::default()
    });
    r.hooks.push(Hook {
        name: "never-ran".into(),
        kind: "Pod".into(),
        events: vec![HookEvent::Test],
        ..Hook::default()
    });
    r
}

#[test]
fn capstan_writes_what_helm_was_checked_to_read() {
    let r = capstan_written_release();
    let object = ObjectKey::new(r.name.clone(), r.version).object_name();
    let payload = encode_release(&r).unwrap();
    let json: Value = serde_json::from_slice(
        &Codec::new()
            .decode_to_json(&object, payload.as_bytes())
            .unwrap(),
    )
    .unwrap();
    let path = fixture("capstan-written.json");
    if std::env::var_os("CAPSTAN_BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap() + "\n").unwrap();
        std::fs::write(fixture("capstan-written.v4.b64"), &payload).unwrap();
    }
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        json, expected,
        "capstan's encoding changed: re-check it with Go and bless"
    );
    // The Helm 3 shape: zero times written as "", `deleted` present, `phase` always present.
    assert_eq!(json["info"]["deleted"], "");
    assert_eq!(
        json["hooks"][1]["last_run"],
        json!({"started_at": "", "completed_at": "", "phase": ""})
    );
    assert_eq!(
        json["hooks"][0]["last_run"]["started_at"],
        "2024-07-01T00:00:00Z"
    );
    assert_eq!(
        Codec::new()
            .decode_record(&object, payload.as_bytes())
            .unwrap(),
        r
    );
}

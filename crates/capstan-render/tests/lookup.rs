//! `lookup` answered by the caller: without lookups (`template`) every lookup is empty and
//! nothing is asked; with lookups, an unanswered key is asked for (and empty meanwhile), an
//! answered one is the object as Kubernetes' unstructured data (integers are int64), a missing
//! one empty; the same in capstan's own dialect.

use std::sync::Arc;

use capstan_chart::{Chart, ChartFile, Limits, Values};
use capstan_render::{Capabilities, CompiledChart, LookupKey, Lookups, ReleaseInfo, RenderLimits};
use serde_json::json;

fn chart(template: &str, dialect: bool) -> CompiledChart {
    let annotations = if dialect {
        "annotations:\n  capstan.dev/template-syntax: minijinja\n"
    } else {
        ""
    };
    let files = vec![
        ChartFile {
            name: "Chart.yaml".into(),
            data: format!("apiVersion: v2\nname: c\nversion: 1.0.0\n{annotations}").into(),
        },
        ChartFile {
            name: "templates/cm.yaml".into(),
            data: template.into(),
        },
    ];
    let chart = Chart::from_files(files, &Limits::default()).unwrap();
    CompiledChart::compile(&chart, &RenderLimits::default()).unwrap()
}

const GO: &str = r#"{{- $s := lookup "v1" "Secret" .Release.Namespace "db" -}}
{{- $d := lookup "apps/v1" "Deployment" "other" "web" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: c
data:
  password: {{ if $s }}{{ $s.data.password | quote }}{{ else }}"new"{{ end }}
  replicas: {{ if $d }}{{ $d.spec.replicas | kindOf | quote }}{{ else }}"none"{{ end }}
"#;

const DIALECT: &str = r#"{% set s = lookup("v1", "Secret", Release.Namespace, "db") %}
apiVersion: v1
kind: ConfigMap
metadata:
  name: c
data:
  password: {{ s.data.password if s else "new" }}
"#;

fn key(api_version: &str, kind: &str, namespace: &str, name: &str) -> LookupKey {
    LookupKey {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
    }
}

fn render(compiled: &CompiledChart, lookups: Option<Lookups>) -> (String, Vec<LookupKey>) {
    let capabilities = Capabilities {
        lookups: lookups.map(Arc::new),
        ..Capabilities::default()
    };
    let rendered = compiled
        .render(
            &Values::new(),
            &ReleaseInfo::install("r", "ns"),
            &capabilities,
        )
        .unwrap();
    (
        rendered.manifests[0].content.clone(),
        rendered.lookups_unanswered,
    )
}

#[test]
fn without_lookups_every_lookup_is_empty_and_nothing_is_asked() {
    let (yaml, asked) = render(&chart(GO, false), None);
    assert!(yaml.contains("password: \"new\""), "{yaml}");
    assert!(yaml.contains("replicas: \"none\""), "{yaml}");
    assert!(asked.is_empty());
}

#[test]
fn unanswered_keys_are_asked_for_and_answers_are_used() {
    let compiled = chart(GO, false);
    let (_, asked) = render(&compiled, Some(Lookups::new()));
    assert_eq!(
        asked,
        vec![
            key("apps/v1", "Deployment", "other", "web"),
            key("v1", "Secret", "ns", "db"),
        ]
    );
    let mut lookups = Lookups::new();
    lookups.answer(
        key("v1", "Secret", "ns", "db"),
        Some(json!({"apiVersion": "v1", "kind": "Secret", "data": {"password": "czNjcjN0"}})),
    );
    lookups.answer(
        key("apps/v1", "Deployment", "other", "web"),
        Some(json!({"spec": {"replicas": 3}})),
    );
    let (yaml, asked) = render(&compiled, Some(lookups));
    assert!(asked.is_empty(), "{asked:?}");
    assert!(yaml.contains("password: \"czNjcjN0\""), "{yaml}");
    assert!(yaml.contains("replicas: \"int64\""), "{yaml}");
}

#[test]
fn a_missing_object_is_an_empty_answer() {
    let mut lookups = Lookups::new();
    lookups.answer(key("v1", "Secret", "ns", "db"), None);
    lookups.answer(key("apps/v1", "Deployment", "other", "web"), None);
    let (yaml, asked) = render(&chart(GO, false), Some(lookups));
    assert!(asked.is_empty());
    assert!(yaml.contains("password: \"new\""), "{yaml}");
}

#[test]
fn the_dialect_answers_the_same_way() {
    let compiled = chart(DIALECT, true);
    let (yaml, asked) = render(&compiled, None);
    assert!(yaml.contains("password: new"), "{yaml}");
    assert!(asked.is_empty());
    let (_, asked) = render(&compiled, Some(Lookups::new()));
    assert_eq!(asked, vec![key("v1", "Secret", "ns", "db")]);
    let mut lookups = Lookups::new();
    lookups.answer(
        key("v1", "Secret", "ns", "db"),
        Some(json!({"data": {"password": "czNjcjN0"}})),
    );
    let (yaml, _) = render(&compiled, Some(lookups));
    assert!(yaml.contains("password: czNjcjN0"), "{yaml}");
}

/// A chart that fails when its Secret is missing (bitnami's refuse to upgrade without the
/// password they look up): asked without an answer, the render is provisional (nothing rendered,
/// the key asked for) instead of failing; with the answer it renders; answered "missing", or
/// rendered without lookups, it fails as the chart means to.
#[test]
fn a_failure_after_an_unanswered_lookup_asks_for_the_lookup_first() {
    let compiled = chart(
        r#"{{- $s := lookup "v1" "Secret" .Release.Namespace "db" -}}
{{- if not $s }}{{ fail "PASSWORDS ERROR: provide the password" }}{{ end -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: c
data:
  password: {{ $s.data.password | quote }}
"#,
        false,
    );
    let render_with = |lookups: Option<Lookups>| {
        compiled.render(
            &Values::new(),
            &ReleaseInfo::install("r", "ns"),
            &Capabilities {
                lookups: lookups.map(Arc::new),
                ..Capabilities::default()
            },
        )
    };
    let provisional = render_with(Some(Lookups::new())).unwrap();
    assert!(provisional.manifests.is_empty());
    assert_eq!(
        provisional.lookups_unanswered,
        vec![key("v1", "Secret", "ns", "db")]
    );

    let mut found = Lookups::new();
    found.answer(
        key("v1", "Secret", "ns", "db"),
        Some(json!({"data": {"password": "czNjcjN0"}})),
    );
    let rendered = render_with(Some(found)).unwrap();
    assert!(rendered.lookups_unanswered.is_empty());
    assert!(rendered.manifests[0].content.contains("czNjcjN0"));

    let mut missing = Lookups::new();
    missing.answer(key("v1", "Secret", "ns", "db"), None);
    let error = render_with(Some(missing)).unwrap_err().to_string();
    assert!(error.contains("PASSWORDS ERROR"), "{error}");
    let error = render_with(None).unwrap_err().to_string();
    assert!(error.contains("PASSWORDS ERROR"), "{error}");
}

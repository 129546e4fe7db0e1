//! A Go chart compiled from its cached translations renders exactly as one compiled from its
//! templates, errors included; translations of another chart, or damaged ones, are not used.
//! CRD files come through as written (invalid UTF-8 lossily).

use capstan_chart::{Chart, ChartFile, Limits, Values};
use capstan_render::{
    Capabilities, CompiledChart, ReleaseInfo, RenderLimits, Rendered, Translations,
};

fn chart(files: &[(&str, &str)]) -> Chart {
    let mut all = vec![ChartFile {
        name: "Chart.yaml".into(),
        data: b"apiVersion: v2\nname: web\nversion: 1.0.0\n"
            .to_vec()
            .into(),
    }];
    all.extend(files.iter().map(|(name, data)| ChartFile {
        name: (*name).into(),
        data: (*data).into(),
    }));
    Chart::from_files(all, &Limits::default()).unwrap()
}

fn web() -> Chart {
    chart(&[
        ("values.yaml", "replicas: 2\nname: app\n"),
        (
            "templates/_helpers.tpl",
            r#"{{ define "web.name" }}{{ .Values.name | trunc 63 }}{{ end }}"#,
        ),
        (
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"web.name\" . }}\ndata:\n  replicas: {{ .Values.replicas | quote }}\n",
        ),
        (
            "templates/fails.yaml",
            "{{ if .Values.boom }}{{ .Values.boom.deep.x }}{{ end }}",
        ),
    ])
}

fn render(compiled: &CompiledChart, values: &str) -> Result<Rendered, String> {
    let values: Values = serde_json::from_str(values).unwrap();
    compiled
        .render(
            &values,
            &ReleaseInfo::install("r", "ns"),
            &Capabilities::default(),
        )
        .map_err(|e| e.to_string())
}

fn manifests(r: Result<Rendered, String>) -> Result<String, String> {
    r.map(|r| r.manifest())
}

#[test]
fn reused_translations_render_as_a_fresh_compile() {
    let limits = RenderLimits::default();
    let fresh = CompiledChart::compile(&web(), &limits).unwrap();
    assert!(!fresh.reused_translations());
    let bytes = fresh.translations().unwrap().encode();
    let reused =
        CompiledChart::compile_reusing(web(), &limits, Translations::decode(&bytes)).unwrap();
    assert!(reused.reused_translations());
    for values in [r#"{}"#, r#"{"boom": {"x": 1}}"#, r#"{"name": "other"}"#] {
        let (a, b) = (
            manifests(render(&fresh, values)),
            manifests(render(&reused, values)),
        );
        assert_eq!(a, b, "values {values}");
    }
    let error = render(&reused, r#"{"boom": {"x": 1}}"#).unwrap_err();
    assert!(error.contains("web/templates/fails.yaml:1:"), "{error}");
    assert_eq!(reused.translations(), fresh.translations());
}

/// Translations taken after a render hold the instructions compiled for it; a chart compiled
/// from them renders the same (errors included, at the same Go position) without compiling
/// those again, and asks to be kept again only when a render compiled something new.
#[test]
fn translations_kept_after_a_render_carry_its_instructions() {
    let limits = RenderLimits::default();
    let fresh = CompiledChart::compile(&web(), &limits).unwrap();
    assert!(fresh.take_cache_update(), "compiled anew");
    assert!(!fresh.take_cache_update(), "asked once");
    let before = fresh.translations().unwrap();
    assert_eq!(before.instructions_kept(), 0);
    let all = [r#"{}"#, r#"{"boom": {"x": 1}}"#, r#"{"name": "other"}"#];
    let expected: Vec<_> = all.iter().map(|v| manifests(render(&fresh, v))).collect();
    assert!(
        fresh.take_cache_update(),
        "the render compiled instructions"
    );
    let after = fresh.translations().unwrap();
    // cm.yaml, fails.yaml and the define web.name; not _helpers.tpl's empty body.
    assert_eq!(after.instructions_kept(), 3);

    let bytes = after.encode();
    let warm =
        CompiledChart::compile_reusing(web(), &limits, Translations::decode(&bytes)).unwrap();
    assert!(warm.reused_translations());
    for (values, expected) in all.iter().zip(&expected) {
        assert_eq!(
            &manifests(render(&warm, values)),
            expected,
            "values {values}"
        );
    }
    assert!(!warm.take_cache_update(), "nothing compiled anew");
    let error = render(&warm, r#"{"boom": {"x": 1}}"#).unwrap_err();
    assert!(error.contains("web/templates/fails.yaml:1:"), "{error}");
    assert_eq!(warm.translations().unwrap().encode(), bytes);

    // Taken before the render: the instructions are compiled, and the chart asks to be kept.
    let cold = CompiledChart::compile_reusing(web(), &limits, Some(before)).unwrap();
    assert!(cold.reused_translations());
    assert!(!cold.take_cache_update());
    assert_eq!(manifests(render(&cold, all[0])), expected[0]);
    assert!(cold.take_cache_update());
    assert_eq!(cold.translations().unwrap().instructions_kept(), 3);
}

#[test]
fn translations_of_another_chart_are_not_used() {
    let limits = RenderLimits::default();
    let other = chart(&[("templates/x.yaml", "kind: X\n")]);
    let theirs = CompiledChart::compile(&other, &limits)
        .unwrap()
        .translations();
    let compiled = CompiledChart::compile_reusing(web(), &limits, theirs).unwrap();
    assert!(!compiled.reused_translations());
    let fresh = CompiledChart::compile(&web(), &limits).unwrap();
    assert_eq!(
        manifests(render(&compiled, "{}")),
        manifests(render(&fresh, "{}"))
    );
}

#[test]
fn a_syntax_error_is_reported_at_compile_time() {
    let broken = chart(&[("templates/a.yaml", "{{ if }}")]);
    let error = CompiledChart::compile(&broken, &RenderLimits::default()).unwrap_err();
    assert!(
        error.to_string().contains("web/templates/a.yaml:1"),
        "{error}"
    );
}

#[test]
fn crd_files_come_through_as_written_and_invalid_utf8_lossily() {
    let mut files = vec![
        ChartFile {
            name: "Chart.yaml".into(),
            data: b"apiVersion: v2\nname: web\nversion: 1.0.0\n"
                .to_vec()
                .into(),
        },
        ChartFile {
            name: "crds/a.yaml".into(),
            data: "kind: CustomResourceDefinition # é\n".into(),
        },
    ];
    files.push(ChartFile {
        name: "crds/b.yaml".into(),
        data: b"kind: X \xff\n".to_vec().into(),
    });
    let chart = Chart::from_files(files, &Limits::default()).unwrap();
    let compiled = CompiledChart::compile(&chart, &RenderLimits::default()).unwrap();
    let rendered = render(&compiled, "{}").unwrap();
    assert_eq!(
        rendered.crds,
        vec![
            (
                "web/crds/a.yaml".to_string(),
                "kind: CustomResourceDefinition # é\n".to_string()
            ),
            (
                "web/crds/b.yaml".to_string(),
                "kind: X \u{fffd}\n".to_string()
            ),
        ]
    );
}

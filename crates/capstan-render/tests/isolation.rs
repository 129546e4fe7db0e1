//! Hostile templates: no way out of the chart (environment, files, other templates), and every
//! growth or nesting bound ends in a limit error naming the template, never a hang or a crash.

use capstan_chart::{Chart, ChartFile, Limits, Values};
use capstan_render::{Capabilities, Error, ReleaseInfo, RenderLimits, TemplateErrorKind, render};

fn chart(template: &str) -> Chart {
    Chart::from_files(
        vec![
            ChartFile {
                name: "Chart.yaml".into(),
                data: b"apiVersion: v2\nannotations:\n  capstan.dev/template-syntax: minijinja\nname: c\nversion: 1.0.0\n".to_vec().into(),
            },
            ChartFile {
                name: "files/config.txt".into(),
                data: b"inside".to_vec().into(),
            },
            ChartFile {
                name: "templates/NOTES.txt".into(),
                data: template.into(),
            },
        ],
        &Limits::default(),
    )
    .unwrap()
}

fn run(template: &str, limits: &RenderLimits) -> Result<String, Error> {
    render(
        &chart(template),
        &Values::new(),
        &ReleaseInfo::install("r", "n"),
        &Capabilities::default(),
        limits,
    )
    .map(|r| r.notes)
}

fn err(template: &str, limits: &RenderLimits) -> (TemplateErrorKind, String) {
    match run(template, limits) {
        Ok(out) => panic!("{template}: rendered {} bytes", out.len()),
        Err(e @ Error::Template { kind, .. }) => (kind, e.to_string()),
        Err(e) => panic!("{template}: {e}"),
    }
}

#[test]
fn templates_cannot_reach_environment_or_files_outside_the_chart() {
    let limits = RenderLimits::default();
    for t in [
        "{{ env(\"HOME\") }}",
        "{{ expandenv(\"$HOME\") }}",
        "{{ getHostByName(\"example.com\") }}",
    ] {
        let (kind, text) = err(t, &limits);
        assert_eq!(kind, TemplateErrorKind::Runtime, "{text}");
        assert!(text.contains("unknown function"), "{text}");
    }
    for t in [
        "{% include \"/etc/passwd\" %}",
        "{% import \"../../etc/passwd\" as x %}",
        "{% extends \"/etc/hostname\" %}",
        "{{ include(\"/etc/passwd\", ctx) }}",
    ] {
        let (_, text) = err(t, &limits);
        assert!(
            text.contains("template not found") || text.contains("no template named"),
            "{text}"
        );
    }
    let out = run(
        "[{{ Files.Get(\"../../../../etc/passwd\") }}][{{ Files.Get(\"/etc/passwd\") }}][{{ Files.Glob(\"../**\") | length }}][{{ Files.Get(\"files/config.txt\") }}]",
        &limits,
    )
    .unwrap();
    assert_eq!(out, "[][][0][inside]");
    assert_eq!(
        run(
            "{{ lookup(\"v1\", \"Secret\", \"kube-system\", \"\") | length }}",
            &limits
        )
        .unwrap(),
        "0"
    );
}

#[test]
fn string_growth_is_bounded() {
    let limits = RenderLimits {
        max_string_bytes: 1 << 20,
        ..RenderLimits::default()
    };
    for t in [
        "{{ indent(2000000000, \"a\") }}",
        "{{ \"a\" | nindent(2000000) }}",
        "{{ printf(\"%2000000000d\", 1) }}",
        "{{ repeat(100000000, \"ab\") }}",
        "{{ \"ab\" | repeat(1000000) }}",
        "{{ replace(\"\", \"xxxxxxxxxx\", \"a\" * 200000) }}",
        "{% set x = \"y\" * 300000 %}{{ list(x, x, x, x) | toYaml }}",
        "{% set x = \"y\" * 300000 %}{{ list(x, x, x, x) | join(\",\") }}",
        "{% set x = \"y\" * 300000 %}{{ cat(x, x, x, x) }}",
        "{% set x = \"y\" * 300000 %}{{ dict(\"a\", list(x, x, x, x)) | toJson }}",
    ] {
        let (kind, text) = err(t, &limits);
        assert_eq!(kind, TemplateErrorKind::Limit, "{t}: {text}");
        assert!(text.starts_with("c/templates/NOTES.txt:1:"), "{text}");
        assert!(
            text.contains("limit of 1048576 bytes per string"),
            "{t}: {text}"
        );
    }
    let (kind, text) = err("{{ untilStep(0, 1000000000, 1) | length }}", &limits);
    assert_eq!(kind, TemplateErrorKind::Limit, "{text}");
    assert!(text.contains("limit of 100000 items"), "{text}");
    // Printing a value counts against the output limit before its text is built.
    let small = RenderLimits {
        max_output_bytes: 1000,
        ..RenderLimits::default()
    };
    let (kind, text) = err("{% set x = \"y\" * 600 %}{{ list(x, x) }}", &small);
    assert_eq!(kind, TemplateErrorKind::Limit, "{text}");
}

#[test]
fn recursion_is_bounded() {
    let limits = RenderLimits::default();
    let (_, text) = err(
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        &limits,
    );
    assert!(text.contains("recursion limit exceeded"), "{text}");
    let (kind, text) = err(
        "{{ tpl(\"{{ tpl(text, ctx) }}\", dict(\"text\", \"{{ tpl(text, ctx) }}\")) }}",
        &limits,
    );
    assert_eq!(kind, TemplateErrorKind::Limit, "{text}");
}

#[test]
fn object_count_is_bounded() {
    let limits = RenderLimits {
        max_objects: 3,
        ..RenderLimits::default()
    };
    let c = Chart::from_files(
        vec![
            ChartFile {
                name: "Chart.yaml".into(),
                data: b"apiVersion: v2\nannotations:\n  capstan.dev/template-syntax: minijinja\nname: c\nversion: 1.0.0\n".to_vec().into(),
            },
            ChartFile {
                name: "templates/cm.yaml".into(),
                data: b"{% for i in range(5) %}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{{ i }}\n{% endfor %}\n".to_vec().into(),
            },
        ],
        &Limits::default(),
    )
    .unwrap();
    let e = render(
        &c,
        &Values::new(),
        &ReleaseInfo::install("r", "n"),
        &Capabilities::default(),
        &limits,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "chart c renders 5 objects, more than the limit of 3 objects"
    );
}

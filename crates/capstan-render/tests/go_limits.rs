//! The renderer's bounds hold for Go-template charts: a template that includes itself forever,
//! a runaway string, an endless loop and an oversized output each end with a limit error
//! naming the bound, and the same compiled chart renders again afterwards.

use capstan_chart::{Chart, ChartFile, Limits, Values};
use capstan_render::{
    Capabilities, CompiledChart, Error, ReleaseInfo, RenderLimits, RenderSplit, TemplateErrorKind,
};

fn chart(template: &str) -> Chart {
    let files = vec![
        ChartFile {
            name: "Chart.yaml".into(),
            data: b"apiVersion: v2\nname: c\nversion: 1.0.0\n".to_vec().into(),
        },
        ChartFile {
            name: "templates/a.yaml".into(),
            data: template.into(),
        },
    ];
    Chart::from_files(files, &Limits::default()).unwrap()
}

fn render(compiled: &CompiledChart) -> Result<String, Error> {
    compiled
        .render_templates(
            &Values::new(),
            &[],
            &ReleaseInfo::install("r", "ns"),
            &Capabilities::default(),
        )
        .map(|files| files.into_values().collect())
}

fn limit_error(template: &str, limits: &RenderLimits) -> String {
    let compiled = CompiledChart::compile(&chart(template), limits).unwrap();
    match render(&compiled) {
        Err(Error::Go { kind, message, .. }) => {
            assert_eq!(kind, TemplateErrorKind::Limit, "{message}");
            message
        }
        other => panic!("expected a limit error, got {other:?}"),
    }
}

#[test]
fn a_template_including_itself_forever_stops_at_the_include_depth() {
    let message = limit_error(
        r#"{{ define "x" }}{{ include "x" . }}{{ end }}a: {{ include "x" . }}"#,
        &RenderLimits::default(),
    );
    assert!(message.contains("nesting deeper than 64"), "{message}");
}

#[test]
fn a_runaway_string_stops_at_the_string_bound() {
    let message = limit_error(
        r#"{{ $s := "x" }}{{ range until 40 }}{{ $s = print $s $s }}{{ end }}a: {{ $s }}"#,
        &RenderLimits::default(),
    );
    assert!(
        message.contains("print built a string of 33554432 bytes"),
        "{message}"
    );
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    let limits = RenderLimits {
        fuel: 100_000,
        ..RenderLimits::default()
    };
    let message = limit_error(
        "{{ range until 1000000 }}{{ range until 1000000 }}{{ end }}{{ end }}",
        &limits,
    );
    assert!(message.contains("fuel"), "{message}");
}

#[test]
fn output_past_the_bound_is_refused_and_the_chart_renders_again() {
    let limits = RenderLimits {
        max_output_bytes: 10_000,
        ..RenderLimits::default()
    };
    let template = "{{ range until 6000 }}xx{{ end }}";
    let message = limit_error(template, &limits);
    assert!(message.contains("10000 bytes"), "{message}");
    let compiled = CompiledChart::compile(&chart("a: {{ 1 }}\n"), &limits).unwrap();
    assert_eq!(render(&compiled).unwrap(), "a: 1\n");
}

/// A chart of the given templates (name, text).
fn chart_of(templates: &[(&str, &str)]) -> Chart {
    let mut files = vec![ChartFile {
        name: "Chart.yaml".into(),
        data: b"apiVersion: v2\nname: c\nversion: 1.0.0\n".to_vec().into(),
    }];
    for (name, text) in templates {
        files.push(ChartFile {
            name: format!("templates/{name}"),
            data: text.to_string().into_bytes().into(),
        });
    }
    Chart::from_files(files, &Limits::default()).unwrap()
}

/// The outcome of rendering `compiled` split after every template in turn, and not split,
/// all the same: returned.
fn same_however_split(compiled: &CompiledChart, templates: usize) -> Result<String, String> {
    compiled.set_render_split(RenderSplit::Never);
    let whole = render(compiled).map_err(|e| e.to_string());
    for split in (1..templates)
        .map(RenderSplit::At)
        .chain([RenderSplit::Half])
    {
        compiled.set_render_split(split);
        let got = render(compiled).map_err(|e| e.to_string());
        assert_eq!(got, whole, "split {split:?}");
    }
    whole
}

#[test]
fn split_renders_count_the_output_bound_in_helms_order() {
    let limits = RenderLimits {
        max_output_bytes: 10_000,
        ..RenderLimits::default()
    };
    // Helm's order: f, e, d, c, b, a; 3,000 bytes each: the fourth, c, passes the bound.
    let big = "{{ range until 1500 }}xx{{ end }}";
    let names = ["a.yaml", "b.yaml", "c.yaml", "d.yaml", "e.yaml", "f.yaml"];
    let templates: Vec<(&str, &str)> = names.iter().map(|n| (*n, big)).collect();
    let compiled = CompiledChart::compile(&chart_of(&templates), &limits).unwrap();
    let error = same_however_split(&compiled, templates.len()).unwrap_err();
    assert!(
        error.contains("c/templates/c.yaml") && error.contains("10000 bytes"),
        "{error}"
    );

    // An error in a template before the one past the bound is the one reported; one after
    // it is never reached.
    let mut failing = templates.clone();
    failing[3] = ("d.yaml", "{{ fail \"d fails\" }}");
    failing[0] = ("a.yaml", "{{ fail \"a fails\" }}");
    let compiled = CompiledChart::compile(&chart_of(&failing), &limits).unwrap();
    let error = same_however_split(&compiled, failing.len()).unwrap_err();
    assert!(error.contains("d fails"), "{error}");
    let mut late = templates.clone();
    late[0] = ("a.yaml", "{{ range until 100000000 }}{{ end }}");
    let compiled = CompiledChart::compile(&chart_of(&late), &limits).unwrap();
    let error = same_however_split(&compiled, late.len()).unwrap_err();
    assert!(error.contains("c/templates/c.yaml"), "{error}");
}

#[test]
fn split_renders_bound_each_part_by_the_same_limits() {
    // Fuel and include depth bound each template, whichever thread renders it.
    let templates = [
        ("a.yaml", "a: 1"),
        ("b.yaml", "{{ range until 100000000 }}{{ end }}"),
        (
            "c.yaml",
            r#"{{ define "x" }}{{ include "x" . }}{{ end }}{{ include "x" . }}"#,
        ),
        ("d.yaml", "d: 1"),
    ];
    let compiled = CompiledChart::compile(&chart_of(&templates), &RenderLimits::default()).unwrap();
    let error = same_however_split(&compiled, templates.len()).unwrap_err();
    assert!(error.contains("nesting deeper than 64"), "{error}");
    let fine = [
        ("a.yaml", "a: 1"),
        ("b.yaml", "b: {{ 2 }}"),
        ("c.yaml", "c: 3"),
    ];
    let compiled = CompiledChart::compile(&chart_of(&fine), &RenderLimits::default()).unwrap();
    assert_eq!(
        same_however_split(&compiled, fine.len()).unwrap(),
        "a: 1b: 2c: 3"
    );
}

//! The renderer's bounds hold for Go-template charts: a template that includes itself forever,
//! a runaway string, an endless loop and an oversized output each end with a limit error
//! naming the bound, and the same compiled chart renders again afterwards.

use capstan_chart::{Chart, ChartFile, Limits, Values};
use capstan_render::{
    Capabilities, CompiledChart, Error, ReleaseInfo, RenderLimits, TemplateErrorKind,
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

//! NOTES.txt: the parent chart's only, or with `--render-subchart-notes` the subcharts' after
//! it, each on a new line (Helm's join).

use capstan_chart::{Chart, ChartFile, Limits, Values};
use capstan_render::{Capabilities, CompiledChart, ReleaseInfo, RenderLimits};

fn chart() -> CompiledChart {
    let file = |name: &str, data: &str| ChartFile {
        name: name.into(),
        data: data.into(),
    };
    let files = vec![
        file("Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n"),
        file("templates/NOTES.txt", "web for {{ .Release.Name }}"),
        file(
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
        ),
        file(
            "charts/db/Chart.yaml",
            "apiVersion: v2\nname: db\nversion: 1.0.0\n",
        ),
        file("charts/db/templates/NOTES.txt", "db of {{ .Chart.Name }}"),
    ];
    let chart = Chart::from_files(files, &Limits::default()).unwrap();
    CompiledChart::compile(&chart, &RenderLimits::default()).unwrap()
}

fn notes(subchart_notes: bool) -> String {
    chart()
        .render(
            &Values::new(),
            &ReleaseInfo::install("r", "ns"),
            &Capabilities {
                subchart_notes,
                ..Capabilities::default()
            },
        )
        .unwrap()
        .notes
}

#[test]
fn only_the_parents_notes_by_default() {
    assert_eq!(notes(false), "web for r");
}

#[test]
fn subchart_notes_follow_the_parents_on_request() {
    assert_eq!(notes(true), "web for r\ndb of db");
}

//! One compiled Go chart rendered again and again, as a warm renderer daemon does: what a
//! render changes (`set` on `$` or on `.Values`) stays in that render; each chart's `.Files`
//! and CRDs (subcharts under their aliases, disabled ones left out) are read from the compiled
//! chart, and CRDs are not collected when the caller omits them; renders on several threads at
//! once each keep their own session; field reads take Go's rules on every kind of value.

use capstan_chart::{Chart, ChartFile, Limits, Values};
use capstan_render::{Capabilities, CompiledChart, ReleaseInfo, RenderLimits, Rendered};

fn chart(files: &[(&str, &[u8])]) -> Chart {
    Chart::from_files(
        files
            .iter()
            .map(|(name, data)| ChartFile {
                name: (*name).into(),
                data: data.to_vec().into(),
            })
            .collect(),
        &Limits::default(),
    )
    .unwrap()
}

/// `web`, with the subchart `db` twice (as `db` and under the alias `db2`, which is disabled by
/// default) and `cache`, each with files and CRDs of its own.
fn web() -> Chart {
    chart(&[
        (
            "Chart.yaml",
            b"apiVersion: v2\nname: web\nversion: 1.0.0\ndependencies:\n\
              - name: db\n  version: 1.0.0\n\
              - name: db\n  version: 1.0.0\n  alias: db2\n  condition: db2.enabled\n\
              - name: cache\n  version: 1.0.0\n",
        ),
        (
            "values.yaml",
            b"db2:\n  enabled: false\nlabels:\n  team: a\n",
        ),
        ("crds/web.yaml", b"kind: CustomResourceDefinition # web\n"),
        ("files/a.txt", b"web's a\n"),
        ("files/bin.dat", b"\xff\xfe"),
        (
            "templates/cm.yaml",
            br#"apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
a: {{ .Files.Get "files/a.txt" | quote }}
bin: {{ .Files.Get "files/bin.dat" | quote }}
secret: {{ (.Files.Glob "files/bin.dat").AsSecrets | quote }}
lines: {{ .Files.Lines "files/a.txt" | len }}
seen: {{ .Values.labels.seen | default "no" }}
root: {{ $.mark | default "no" }}
{{- $_ := set .Values.labels "seen" "yes" }}
{{- $_ := set $ "mark" "yes" }}
"#,
        ),
        (
            "templates/after.yaml",
            b"apiVersion: v1\nkind: Later\nmetadata:\n  name: later\nseen: {{ .Values.labels.seen }}\nroot: {{ $.mark }}\n",
        ),
        (
            "charts/db/Chart.yaml",
            b"apiVersion: v2\nname: db\nversion: 1.0.0\n",
        ),
        ("charts/db/crds/db.yaml", b"kind: CustomResourceDefinition # db\n"),
        ("charts/db/files/a.txt", b"db's a\n"),
        (
            "charts/db/templates/cm.yaml",
            b"apiVersion: v1\nkind: Db\nmetadata:\n  name: {{ .Chart.Name }}\na: {{ .Files.Get \"files/a.txt\" | quote }}\n",
        ),
        (
            "charts/cache/Chart.yaml",
            b"apiVersion: v2\nname: cache\nversion: 1.0.0\n",
        ),
        (
            "charts/cache/templates/cm.yaml",
            b"apiVersion: v1\nkind: Cache\nmetadata:\n  name: cache\nfiles: {{ .Files.Glob \"**\" | len }}\n",
        ),
    ])
}

fn render(compiled: &CompiledChart, values: &str, omit_crds: bool) -> Rendered {
    let values: Values = serde_json::from_str(values).unwrap();
    compiled
        .render(
            &values,
            &ReleaseInfo::install("r", "ns"),
            &Capabilities {
                omit_crds,
                ..Capabilities::default()
            },
        )
        .unwrap()
}

#[test]
fn renders_of_one_compiled_chart_share_nothing_a_template_changes() {
    let compiled = CompiledChart::compile(&web(), &RenderLimits::default()).unwrap();
    for _ in 0..3 {
        let rendered = render(&compiled, "{}", false);
        assert_eq!(
            rendered.files["web/templates/cm.yaml"],
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\na: \"web's a\\n\"\nbin: \"\u{fffd}\u{fffd}\"\n\
             secret: \"bin.dat: //4=\"\nlines: 1\nseen: no\nroot: no\n"
        );
        // Templates rendered later (Helm: reverse path order) see what `set` changed, as in Helm.
        assert_eq!(
            rendered.files["web/templates/after.yaml"],
            "apiVersion: v1\nkind: Later\nmetadata:\n  name: later\nseen: yes\nroot: yes\n"
        );
        // The merged values returned are the values before the templates ran.
        assert_eq!(rendered.values["labels"], serde_json::json!({"team": "a"}));
    }
}

#[test]
fn subcharts_read_their_own_files_and_crds_under_their_aliases() {
    let compiled = CompiledChart::compile(&web(), &RenderLimits::default()).unwrap();
    let crds = |r: &Rendered| r.crds.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();

    let rendered = render(&compiled, "{}", false);
    assert_eq!(
        rendered.files["web/charts/db/templates/cm.yaml"],
        "apiVersion: v1\nkind: Db\nmetadata:\n  name: db\na: \"db's a\\n\"\n"
    );
    assert!(
        !rendered
            .files
            .contains_key("web/charts/db2/templates/cm.yaml")
    );
    assert_eq!(
        rendered.files["web/charts/cache/templates/cm.yaml"],
        "apiVersion: v1\nkind: Cache\nmetadata:\n  name: cache\nfiles: 0\n"
    );
    assert_eq!(
        crds(&rendered),
        ["web/crds/web.yaml", "web/charts/db/crds/db.yaml"]
    );
    assert_eq!(rendered.crds[1].1, "kind: CustomResourceDefinition # db\n");

    // Enabled, the alias renders with the same chart's files and brings its CRDs.
    let rendered = render(&compiled, r#"{"db2": {"enabled": true}}"#, false);
    assert_eq!(
        rendered.files["web/charts/db2/templates/cm.yaml"],
        "apiVersion: v1\nkind: Db\nmetadata:\n  name: db2\na: \"db's a\\n\"\n"
    );
    assert_eq!(
        crds(&rendered),
        [
            "web/crds/web.yaml",
            "web/charts/db/crds/db.yaml",
            "web/charts/db2/crds/db.yaml"
        ]
    );

    // Omitted, no CRD is collected; the rest is the same.
    let omitted = render(&compiled, r#"{"db2": {"enabled": true}}"#, true);
    assert!(omitted.crds.is_empty());
    assert_eq!(omitted.files, rendered.files);
}

#[test]
fn chart_defaults_given_in_place_of_values_yaml_are_used() {
    let compiled = CompiledChart::compile(&web(), &RenderLimits::default()).unwrap();
    let defaults: Values =
        serde_json::from_str(r#"{"db2": {"enabled": true}, "labels": {"seen": "old"}}"#).unwrap();
    let rendered = compiled
        .render_with_defaults(
            Some(&defaults),
            &Values::new(),
            &ReleaseInfo::install("r", "ns"),
            &Capabilities::default(),
        )
        .unwrap();
    assert!(rendered.files["web/templates/cm.yaml"].contains("seen: old\n"));
    assert!(
        rendered
            .files
            .contains_key("web/charts/db2/templates/cm.yaml")
    );
}

#[test]
fn renders_on_several_threads_each_use_their_own_session() {
    let compiled = CompiledChart::compile(
        &chart(&[
            ("Chart.yaml", b"apiVersion: v2\nname: req\nversion: 1.0.0\n"),
            (
                "templates/a.yaml",
                b"{{ define \"x\" }}{{ required \"need x\" .Values.x }}{{ end }}apiVersion: v1\n\
                  kind: A\nmetadata:\n  name: a\nx: {{ include \"x\" . | quote }}\n",
            ),
        ]),
        &RenderLimits::default(),
    )
    .unwrap();
    let compiled = std::sync::Arc::new(compiled);
    // In lint mode a missing `required` value is noted and renders ""; otherwise it fails.
    // A render that used the other thread's session would do the other.
    let threads: Vec<_> = [true, false]
        .into_iter()
        .map(|lint| {
            let compiled = compiled.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let result = compiled.render(
                        &Values::new(),
                        &ReleaseInfo::install("r", "ns"),
                        &Capabilities {
                            lint,
                            ..Capabilities::default()
                        },
                    );
                    match result {
                        Ok(r) => {
                            assert!(lint, "rendered without lint mode");
                            assert_eq!(r.lint_messages, ["Missing required value: need x"]);
                        }
                        Err(e) => {
                            assert!(!lint, "failed in lint mode: {e}");
                            assert!(e.to_string().contains("need x"), "{e}");
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn values_computed_for_one_render_are_not_taken_for_other_values() {
    let compiled = CompiledChart::compile(&web(), &RenderLimits::default()).unwrap();
    let render = |values: &str| {
        let r = render(&compiled, values, true);
        (
            r.files["web/templates/cm.yaml"].clone(),
            r.values,
            r.files.len(),
        )
    };
    let plain = render("{}");
    let enabled = render(r#"{"db2": {"enabled": true}, "labels": {"seen": "given"}}"#);
    assert_ne!(plain, enabled);
    assert!(enabled.0.contains("seen: given\n"), "{}", enabled.0);
    assert_eq!(enabled.2, plain.2 + 1);
    // Again, in another order: each the same as the first time.
    assert_eq!(render("{}"), plain);
    assert_eq!(
        render(r#"{"db2": {"enabled": true}, "labels": {"seen": "given"}}"#),
        enabled
    );
    assert_eq!(render("{}"), plain);
}

/// The text `template` renders to in a chart of its own, or the render's error.
fn one(template: &str) -> Result<String, String> {
    let chart = chart(&[
        ("Chart.yaml", b"apiVersion: v2\nname: one\nversion: 1.0.0\n"),
        (
            "values.yaml",
            b"a:\n  b: 1\nlist: [{x: 1}]\nnothing: null\n",
        ),
        ("templates/t.yaml", template.as_bytes()),
    ]);
    let compiled = CompiledChart::compile(&chart, &RenderLimits::default()).unwrap();
    compiled
        .render_templates(
            &Values::new(),
            &[],
            &ReleaseInfo::install("r", "ns"),
            &Capabilities::default(),
        )
        .map(|files| files["one/templates/t.yaml"].clone())
        .map_err(|e| e.to_string())
}

#[test]
fn fields_of_maps_values_and_structs_follow_gos_rules() {
    assert_eq!(
        one("{{ .Values.a.b }} {{ .Values.missing }}").unwrap(),
        "1 "
    );
    assert_eq!(one("{{ .Values.AsMap.a.b }}").unwrap(), "1");
    assert_eq!(
        one("{{ .Release.Name }} {{ .Chart.Name }}").unwrap(),
        "r one"
    );
    // A set is seen by later reads, through every view of the map.
    assert_eq!(
        one(r#"{{ $_ := set .Values.a "c" 2 }}{{ .Values.a.c }} {{ .Values.AsMap.a.c }}"#).unwrap(),
        "2 2"
    );
    assert_eq!(
        one(r#"{{ $_ := set (index .Values.list 0) "y" 3 }}{{ (index .Values.list 0).y }}"#)
            .unwrap(),
        "3"
    );
    let error = |t: &str| one(t).unwrap_err();
    assert!(
        error("{{ .Values.nothing.deeper }}")
            .contains("nil pointer evaluating interface {}.deeper"),
        "{}",
        error("{{ .Values.nothing.deeper }}")
    );
    assert!(
        error("{{ .Values.missing.deeper }}")
            .contains("nil pointer evaluating interface {}.deeper")
    );
    // `.Release` is a map in Helm 3; `.Chart` a struct.
    assert_eq!(one("{{ .Release.Nope }}").unwrap(), "");
    let e = error("{{ .Chart.Nope }}");
    assert!(e.contains("can't evaluate field Nope in type"), "{e}");
    let e = error("{{ .Values.Table }}");
    assert!(e.contains("wrong number of args for Table"), "{e}");
    let e = error("{{ .Values.a.b.c }}");
    assert!(
        e.contains("can't evaluate field c in type interface {}"),
        "{e}"
    );
}

#[test]
fn range_iterates_a_list_as_it_was_when_the_range_began() {
    assert_eq!(
        one(
            "{{ $l := list 1 2 }}{{ range $l }}{{ $l = append $l 9 }}{{ . }}{{ end }} {{ len $l }}"
        )
        .unwrap(),
        "12 4"
    );
    assert_eq!(
        one("{{ range $i, $x := list \"a\" \"b\" }}{{ $i }}{{ $x }}{{ end }}").unwrap(),
        "0a1b"
    );
    // A built-in list object (not a plain list) still iterates its elements.
    assert_eq!(
        one(r#"{{ $n := 0 }}{{ range .Capabilities.APIVersions }}{{ $n = add1 $n }}{{ end }}{{ gt $n 10 }}"#)
            .unwrap(),
        "true"
    );
}

//! The template language: Helm's functions and objects, and every bad-input case with the
//! error it must give (what failed and where).

use std::time::Duration;

use capstan_chart::{Chart, ChartFile, Limits, Values};
use capstan_render::{
    Capabilities, CompiledChart, Error, ReleaseInfo, RenderLimits, Rendered, TemplateErrorKind,
    render,
};

const CHART_YAML: &str = "apiVersion: v2\nannotations:\n  capstan.dev/template-syntax: minijinja\nname: c\nversion: 1.2.3\nappVersion: \"9.9\"\n";

fn chart(files: &[(&str, &str)]) -> Chart {
    let mut all = vec![ChartFile {
        name: "Chart.yaml".into(),
        data: CHART_YAML.into(),
    }];
    all.extend(files.iter().map(|(n, d)| ChartFile {
        name: n.to_string(),
        data: (*d).into(),
    }));
    Chart::from_files(all, &Limits::default()).unwrap()
}

fn run(files: &[(&str, &str)], limits: &RenderLimits) -> Result<Rendered, Error> {
    render(
        &chart(files),
        &Values::new(),
        &ReleaseInfo::install("rel", "ns"),
        &Capabilities::default(),
        limits,
    )
}

/// Renders `text` as NOTES.txt (not parsed as YAML) with `values.yaml`.
fn notes(values: &str, text: &str) -> String {
    run(
        &[("values.yaml", values), ("templates/NOTES.txt", text)],
        &RenderLimits::default(),
    )
    .unwrap_or_else(|e| panic!("{text}: {e}"))
    .notes
}

fn template_error(files: &[(&str, &str)], limits: &RenderLimits) -> Error {
    match run(files, limits) {
        Ok(_) => panic!("render succeeded"),
        Err(e) => e,
    }
}

#[test]
fn helm_functions_table() {
    let values = "name: web\nempty: \"\"\nzero: 0\nflag: false\nann: {b: 2, a: 1}\nlist: [b, a, b]\ntext: \"line1\\nline2\"\n";
    let cases: &[(&str, &str)] = &[
        ("{{ Values.ann | toYaml }}", "a: 1\nb: 2"),
        ("{{ toYaml(Values.list) }}", "- b\n- a\n- b"),
        ("{{ Values.ann | toYaml | nindent(2) }}", "\n  a: 1\n  b: 2"),
        ("{{ indent(2, Values.text) }}", "  line1\n  line2"),
        ("{{ Values.ann | toJson }}", "{\"a\":1,\"b\":2}"),
        ("{{ toJson(\"<&>\") }}", "\"\\u003c\\u0026\\u003e\""),
        ("{{ (\"a: [1, 2]\" | fromYaml).a[1] }}", "2"),
        ("{{ fromJson('{\"x\": {\"y\": true}}').x.y }}", "true"),
        (
            "{{ Values.name | quote }} {{ quote(Values.name, 1) }} {{ squote(Values.name) }}",
            "\"web\" \"web\" \"1\" 'web'",
        ),
        (
            "{{ Values.empty | default(Chart.AppVersion) | quote }}",
            "\"9.9\"",
        ),
        (
            "{{ Values.missing | default(\"d\") }} {{ default(\"d\", Values.flag) }} {{ Values.name | default(\"d\") }}",
            "d d web",
        ),
        (
            "{{ empty(Values.zero) }} {{ Values.name | empty }} {{ empty(Values.nothing) }}",
            "true false true",
        ),
        (
            "{{ coalesce(Values.empty, Values.zero, \"third\", \"fourth\") }}",
            "third",
        ),
        (
            "{{ ternary(\"yes\", \"no\", Values.flag) }} {{ true | ternary(\"yes\", \"no\") }}",
            "no yes",
        ),
        (
            "{{ \"hello\" | b64enc }} {{ \"aGVsbG8=\" | b64dec }}",
            "aGVsbG8= hello",
        ),
        (
            "{{ \"abc\" | sha256sum }}",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            "{{ trunc(3, \"abcdef\") }} {{ \"abcdef\" | trunc(-2) }}",
            "abc ef",
        ),
        (
            "[{{ trim(\"  x  \") }}] {{ trimPrefix(\"v\", \"v1.2\") }} {{ \"a.yaml\" | trimSuffix(\".yaml\") }}",
            "[x] 1.2 a",
        ),
        (
            "{{ upper(\"ab\") }} {{ \"AB\" | lower }} {{ \"hello world\" | title }}",
            "AB ab Hello World",
        ),
        (
            "{{ replace(\"+\", \"_\", \"1.0+b\") }} {{ \"a-b-c\" | replace(\"-\", \".\") }}",
            "1.0_b a.b.c",
        ),
        (
            "{{ contains(\"cat\", \"catch\") }} {{ \"catch\" | contains(\"dog\") }}",
            "true false",
        ),
        (
            "{{ hasPrefix(\"ca\", \"cat\") }} {{ \"cat\" | hasSuffix(\"at\") }}",
            "true true",
        ),
        (
            "{{ printf(\"%s-%d-%05.1f-%v\", \"a\", 7, 3.14159, true) }}",
            "a-7-003.1-true",
        ),
        (
            "{{ toString(12) }} {{ int(\"42\") + 1 }} {{ float64(\"1.5\") * 2 }} {{ int(3.9) }}",
            "12 43 3.0 3",
        ),
        (
            "{{ list(1, \"a\") | toJson }} {{ dict(\"k\", \"v\", \"n\", 1) | toJson }}",
            "[1,\"a\"] {\"k\":\"v\",\"n\":1}",
        ),
        (
            "{{ merge(dict(\"a\", 1), dict(\"a\", 2, \"b\", 3)) | toJson }}",
            "{\"a\":1,\"b\":3}",
        ),
        (
            "{{ mergeOverwrite(dict(\"a\", 1, \"n\", dict(\"x\", 1)), dict(\"a\", 2, \"n\", dict(\"y\", 2))) | toJson }}",
            "{\"a\":2,\"n\":{\"x\":1,\"y\":2}}",
        ),
        (
            "{{ keys(Values.ann) | join(\",\") }} {{ hasKey(Values.ann, \"a\") }} {{ Values.ann | hasKey(\"z\") }}",
            "a,b true false",
        ),
        (
            "{{ get(Values.ann, \"b\") }} [{{ get(Values.ann, \"z\") }}]",
            "2 []",
        ),
        (
            "{{ pick(Values.ann, \"a\") | toJson }} {{ Values.ann | omit(\"a\") | toJson }}",
            "{\"a\":1} {\"b\":2}",
        ),
        (
            "{{ uniq(Values.list) | join(\"+\") }} {{ join(\"/\", Values.list) }}",
            "b+a b/a/b",
        ),
        (
            "{{ splitList(\",\", \"a,b,c\") | length }} {{ \"x:y\" | splitList(\":\") | last }}",
            "3 y",
        ),
        (
            "{{ regexMatch(\"^v[0-9]+$\", \"v12\") }} {{ \"ab12\" | regexMatch(\"^[a-z]+$\") }}",
            "true false",
        ),
        (
            "{{ regexReplaceAll(\"([a-z])([0-9])\", \"a1b2\", \"${2}${1}\") }} {{ \"x-y\" | regexReplaceAll(\"-\", \"_\") }}",
            "1a2b x_y",
        ),
        (
            "{{ semverCompare(\">=1.20.0-0\", Capabilities.KubeVersion.Version) }} {{ \"1.2.3\" | semverCompare(\"<1.0\") }}",
            "true false",
        ),
        ("{{ randAlphaNum(12) | length }}", "12"),
        (
            "{{ now() }} {{ now() | date(\"2006-01-02\") }} {{ date(\"Jan 2 2006\", 86400) }}",
            "1970-01-01T00:00:00Z 1970-01-01 Jan 2 1970",
        ),
        (
            "{{ tpl(\"{{ Values.name }}-{{ Release.Name }}\", ctx) }}",
            "web-rel",
        ),
        (
            "{{ Release.Name }} {{ Release.Namespace }} {{ Release.Revision }} {{ Release.IsInstall }} {{ Release.IsUpgrade }} {{ Release.Service }}",
            "rel ns 1 true false Helm",
        ),
        (
            "{{ Chart.Name }} {{ Chart.Version }} {{ Chart.AppVersion }} {{ Chart.APIVersion }} {{ Chart.Type }}",
            "c 1.2.3 9.9 v2 application",
        ),
        (
            "{{ Capabilities.KubeVersion.Version }} {{ Capabilities.KubeVersion.Major }}.{{ Capabilities.KubeVersion.Minor }} {{ Capabilities.APIVersions.Has(\"apps/v1\") }} {{ Capabilities.APIVersions.Has(\"x/v9\") }}",
            "v1.37.0 1.37 true false",
        ),
        (
            "{{ Template.Name }} {{ Template.BasePath }}",
            "c/templates/NOTES.txt c/templates",
        ),
        ("[{{ Values.nothing }}] [{{ Values.nullish }}]", "[] []"),
        (
            "{% for k, v in Values.ann | items %}{{ k }}={{ v }};{% endfor %}",
            "a=1;b=2;",
        ),
        (
            "{% define \"x.greet\" %}hi {{ ctx }}{% enddefine %}{{ include(\"x.greet\", \"bob\") | upper }}",
            "HI BOB",
        ),
        (
            "{{ print(\"a\", 1, 2, \"b\") }} {{ cat(\"a\", \"b\") }} {{ until(3) | join(\",\") }} {{ add(1, 2, 3) }}",
            "a1 2b a b 0,1,2 6",
        ),
        (
            "{{ lookup(\"v1\", \"Secret\", \"ns\", \"x\") | length }}",
            "0",
        ),
    ];
    for (tmpl, want) in cases {
        assert_eq!(notes(values, tmpl), *want, "template: {tmpl}");
    }
}

#[test]
fn to_yaml_quotes_ambiguous_strings() {
    let out = notes(
        "",
        "{{ dict(\"a\", \"yes\", \"b\", \"1.0\", \"c\", \"\", \"d\", \"on\", \"e\", \"null\", \"f\", \"x\\ny\") | toYaml }}",
    );
    let back: serde_yaml_ng::Value = serde_yaml_ng::from_str(&out).unwrap();
    for (k, want) in [
        ("a", "yes"),
        ("b", "1.0"),
        ("c", ""),
        ("d", "on"),
        ("e", "null"),
        ("f", "x\ny"),
    ] {
        assert_eq!(back[k].as_str(), Some(want), "{k} in {out}");
    }
    assert!(
        !out.contains("a: yes"),
        "YAML 1.1 readers would see a boolean: {out}"
    );
}

#[test]
fn files_object() {
    let r = run(
        &[
            ("files/a.conf", "x=1\ny=2\n"),
            ("files/b.conf", "z=3"),
            ("other/c.txt", "c"),
            (
                "templates/NOTES.txt",
                "{{ Files.Get(\"files/a.conf\") | trim }}|{{ Files.Lines(\"files/a.conf\") | length }}|{{ Files.Glob(\"files/*.conf\").AsConfig() }}|{{ Files.Glob(\"other/*\").AsSecrets() }}|{{ Files.Get(\"missing\") }}|{% for f in Files.Glob(\"files/*\") %}{{ f }},{% endfor %}",
            ),
        ],
        &RenderLimits::default(),
    )
    .unwrap();
    assert_eq!(
        r.notes,
        "x=1\ny=2|2|a.conf: |\n  x=1\n  y=2\nb.conf: z=3|c.txt: Yw==||files/a.conf,files/b.conf,"
    );
}

#[test]
fn random_is_deterministic_per_release() {
    let c = chart(&[(
        "templates/NOTES.txt",
        "{{ randAlphaNum(16) }} {{ randAlphaNum(16) }}",
    )]);
    let caps = Capabilities::default();
    let lim = RenderLimits::default();
    let a = render(
        &c,
        &Values::new(),
        &ReleaseInfo::install("a", "ns"),
        &caps,
        &lim,
    )
    .unwrap();
    let a2 = render(
        &c,
        &Values::new(),
        &ReleaseInfo::install("a", "ns"),
        &caps,
        &lim,
    )
    .unwrap();
    let b = render(
        &c,
        &Values::new(),
        &ReleaseInfo::install("b", "ns"),
        &caps,
        &lim,
    )
    .unwrap();
    assert_eq!(a.notes, a2.notes);
    assert_ne!(a.notes, b.notes);
    let parts: Vec<&str> = a.notes.split(' ').collect();
    assert_ne!(parts[0], parts[1]);
    assert!(parts[0].chars().all(|c| c.is_ascii_alphanumeric()));
}

#[test]
fn compiled_chart_renders_many_times() {
    let c = chart(&[(
        "templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ Release.Name }}\n",
    )]);
    let compiled = CompiledChart::compile(&c, &RenderLimits::default()).unwrap();
    for name in ["a", "b"] {
        let r = compiled
            .render(
                &Values::new(),
                &ReleaseInfo::install(name, "ns"),
                &Capabilities::default(),
            )
            .unwrap();
        assert_eq!(r.manifests[0].name, name);
    }
}

fn assert_template_error(
    e: Error,
    kind: TemplateErrorKind,
    file: &str,
    line: usize,
    message_part: &str,
    expr_part: &str,
) {
    let text = e.to_string();
    match e {
        Error::Template {
            kind: k,
            file: f,
            line: l,
            column,
            expr,
            message,
            ..
        } => {
            assert_eq!(k, kind, "{text}");
            assert_eq!(f, file, "{text}");
            assert_eq!(l, line, "{text}");
            assert!(column > 0, "{text}");
            assert!(message.contains(message_part), "{text}");
            assert!(expr.contains(expr_part), "{text}");
            assert!(
                text.starts_with(&format!("{file}:{line}:{column}: ")),
                "{text}"
            );
        }
        other => panic!("not a template error: {other}"),
    }
}

#[test]
fn syntax_error_names_file_line_and_expression() {
    let e = template_error(
        &[(
            "templates/a.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ Values.x | }}\n",
        )],
        &RenderLimits::default(),
    );
    assert_template_error(
        e,
        TemplateErrorKind::Syntax,
        "c/templates/a.yaml",
        4,
        "syntax error",
        "",
    );
}

#[test]
fn unknown_function_names_file_line_and_expression() {
    let e = template_error(
        &[(
            "templates/a.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ toYamll(Values) }}\n",
        )],
        &RenderLimits::default(),
    );
    assert_template_error(
        e,
        TemplateErrorKind::Runtime,
        "c/templates/a.yaml",
        6,
        "unknown function",
        "toYamll",
    );
}

#[test]
fn unknown_filter_is_reported() {
    let e = template_error(
        &[(
            "templates/a.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ Values.x | nosuchfilter }}\n",
        )],
        &RenderLimits::default(),
    );
    let text = e.to_string();
    assert!(text.starts_with("c/templates/a.yaml:4:"), "{text}");
    assert!(text.contains("unknown filter"), "{text}");
}

#[test]
fn undefined_intermediate_value_is_an_error_with_location() {
    let e = template_error(
        &[(
            "templates/a.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ Values.image.tag }}\n",
        )],
        &RenderLimits::default(),
    );
    assert_template_error(
        e,
        TemplateErrorKind::Runtime,
        "c/templates/a.yaml",
        4,
        "undefined",
        "Values.image.tag",
    );
}

#[test]
fn required_and_fail_messages_come_through_verbatim() {
    let e = template_error(
        &[(
            "templates/a.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  image: {{ required(\"image.repository is required\", Values.image) }}\n",
        )],
        &RenderLimits::default(),
    );
    assert_template_error(
        e,
        TemplateErrorKind::Fail,
        "c/templates/a.yaml",
        6,
        "image.repository is required",
        "required(",
    );
    let Error::Template { message, .. } = template_error(
        &[(
            "templates/a.yaml",
            "{{ Values.x | required(\"x is required\") }}",
        )],
        &RenderLimits::default(),
    ) else {
        panic!()
    };
    assert_eq!(message, "x is required");
    let e = template_error(
        &[(
            "templates/a.yaml",
            "{% if true %}\n{{ fail(\"this chart refuses: \" ~ Release.Name) }}\n{% endif %}\n",
        )],
        &RenderLimits::default(),
    );
    let text = e.to_string();
    assert!(text.starts_with("c/templates/a.yaml:2:"), "{text}");
    let Error::Template { message, kind, .. } = e else {
        panic!()
    };
    assert_eq!(message, "this chart refuses: rel");
    assert_eq!(kind, TemplateErrorKind::Fail);
}

#[test]
fn errors_inside_a_define_point_at_the_helper_file() {
    let e = template_error(
        &[
            (
                "templates/_helpers.tpl",
                "{# helpers #}\n{% define \"c.name\" %}\nname: {{ Values.a.b }}\n{% enddefine %}\n",
            ),
            (
                "templates/a.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  {{ include(\"c.name\", ctx) }}\n",
            ),
        ],
        &RenderLimits::default(),
    );
    let text = e.to_string();
    let Error::Template {
        file,
        line,
        column,
        included_from,
        ..
    } = e
    else {
        panic!("{text}")
    };
    assert_eq!(
        file, "c/templates/_helpers.tpl (define \"c.name\")",
        "{text}"
    );
    assert_eq!(line, 3, "{text}");
    assert_eq!(column, 16, "{text}");
    assert!(text.contains("in: {{ Values.a.b }}"), "{text}");
    assert_eq!(
        included_from,
        vec!["c/templates/a.yaml:4:6".to_string()],
        "{text}"
    );
    assert!(
        text.contains("included from c/templates/a.yaml:4:6"),
        "{text}"
    );
}

#[test]
fn include_of_an_unknown_name_is_an_error() {
    let e = template_error(
        &[("templates/a.yaml", "{{ include(\"nope\", ctx) }}")],
        &RenderLimits::default(),
    );
    let text = e.to_string();
    assert!(text.starts_with("c/templates/a.yaml:1:"), "{text}");
    assert!(text.contains("no template named \"nope\""), "{text}");
}

#[test]
fn recursive_include_is_bounded() {
    let e = template_error(
        &[
            (
                "templates/_h.tpl",
                "{% define \"loop\" %}{{ include(\"loop\", ctx) }}{% enddefine %}",
            ),
            ("templates/a.yaml", "x: {{ include(\"loop\", ctx) }}\n"),
        ],
        &RenderLimits::default(),
    );
    let text = e.to_string();
    let Error::Template {
        kind,
        message,
        file,
        ..
    } = e
    else {
        panic!("{text}")
    };
    assert_eq!(kind, TemplateErrorKind::Limit, "{text}");
    assert!(
        message.contains("deeper than 64 (recursive include?)"),
        "{text}"
    );
    assert!(file.starts_with("c/templates/_h.tpl"), "{text}");
}

#[test]
fn endless_loop_runs_out_of_fuel() {
    let limits = RenderLimits {
        fuel: 200_000,
        ..RenderLimits::default()
    };
    let e = template_error(
        &[(
            "templates/a.yaml",
            "a: 1\n{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n",
        )],
        &limits,
    );
    let text = e.to_string();
    let Error::Template {
        kind, line, file, ..
    } = e
    else {
        panic!("{text}")
    };
    assert_eq!(kind, TemplateErrorKind::Limit, "{text}");
    assert_eq!(file, "c/templates/a.yaml");
    assert_eq!(line, 2, "{text}");
    assert!(text.contains("out of fuel"), "{text}");
}

#[test]
fn long_running_render_hits_the_time_limit() {
    let limits = RenderLimits {
        timeout: Duration::ZERO,
        ..RenderLimits::default()
    };
    let e = template_error(
        &[
            ("templates/_h.tpl", "{% define \"x\" %}x{% enddefine %}"),
            (
                "templates/a.yaml",
                "{% for i in range(1000) %}{{ include(\"x\", ctx) }}{% endfor %}\n",
            ),
        ],
        &limits,
    );
    let text = e.to_string();
    assert!(text.contains("rendering took longer than"), "{text}");
    assert!(text.starts_with("c/templates/a.yaml:1:"), "{text}");
}

#[test]
fn output_size_is_bounded() {
    let limits = RenderLimits {
        max_output_bytes: 1000,
        ..RenderLimits::default()
    };
    let e = template_error(
        &[(
            "templates/a.yaml",
            "{% for i in range(10000) %}{{ \"0123456789\" }}{% endfor %}\n",
        )],
        &limits,
    );
    assert!(
        e.to_string().contains("exceeds the limit of 1000 bytes"),
        "{e}"
    );
}

#[test]
fn bad_manifests_name_template_and_document() {
    let e = template_error(
        &[(
            "templates/a.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\nkind: ConfigMap\nmetadata:\n  name: b\n",
        )],
        &RenderLimits::default(),
    );
    assert_eq!(
        e.to_string(),
        "c/templates/a.yaml: document 2: missing apiVersion"
    );
    let e = template_error(
        &[(
            "templates/a.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ \"a: b\" }}\n",
        )],
        &RenderLimits::default(),
    );
    let text = e.to_string();
    assert!(
        text.starts_with("c/templates/a.yaml: document 1: yaml does not parse (rendered line 4"),
        "{text}"
    );
}

#[test]
fn partials_render_nothing_and_empty_documents_drop() {
    let r = run(
        &[
            ("templates/_partial.yaml", "this: [is not yaml"),
            ("templates/a.yaml", "---\n# nothing\n---\n{% if false %}\napiVersion: v1\n{% endif %}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: only\n"),
        ],
        &RenderLimits::default(),
    )
    .unwrap();
    // Blank documents drop; the comment alone stays, a document of no object after the
    // objects (as Helm prints and stores it).
    assert_eq!(r.manifests.len(), 2);
    assert_eq!(r.manifests[0].index, 4);
    assert_eq!(
        (r.manifests[1].index, r.manifests[1].is_object()),
        (2, false)
    );
    assert!(!r.files.contains_key("c/templates/_partial.yaml"));
}

#[test]
fn library_chart_cannot_be_rendered() {
    let c = Chart::from_files(
        vec![ChartFile {
            name: "Chart.yaml".into(),
            data: b"apiVersion: v2\nannotations:\n  capstan.dev/template-syntax: minijinja\nname: lib\nversion: 1.0.0\ntype: library\n".to_vec().into(),
        }],
        &Limits::default(),
    )
    .unwrap();
    let e = render(
        &c,
        &Values::new(),
        &ReleaseInfo::install("r", "n"),
        &Capabilities::default(),
        &RenderLimits::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "chart lib is a library chart and cannot be rendered or installed"
    );
}

/// Large charts are parsed on several threads: the objects come out in the same order, and
/// the error reported is the first in template order, as when parsing one by one.
#[test]
fn large_charts_parse_in_order_and_report_the_first_bad_template() {
    let templates: Vec<(String, String)> = (0..200)
        .map(|i| {
            (
                format!("templates/t{i:03}.yaml"),
                format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:03}\n"),
            )
        })
        .collect();
    let files = |broken: &[usize]| -> Vec<(String, String)> {
        templates
            .iter()
            .enumerate()
            .map(|(i, (name, text))| {
                let text = if broken.contains(&i) {
                    format!("{text}  bad: [\n")
                } else {
                    text.clone()
                };
                (name.clone(), text)
            })
            .collect()
    };
    let run_owned = |files: Vec<(String, String)>| {
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        run(&refs, &RenderLimits::default())
    };
    let rendered = run_owned(files(&[])).unwrap();
    let names: Vec<&str> = rendered.manifests.iter().map(|m| m.name.as_str()).collect();
    let expected: Vec<String> = (0..200).map(|i| format!("cm-{i:03}")).collect();
    assert_eq!(names, expected);

    let e = run_owned(files(&[170, 42, 120])).unwrap_err().to_string();
    assert!(e.contains("c/templates/t042.yaml"), "{e}");
}

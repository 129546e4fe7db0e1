//! Byte-exact cases for the serialization functions, each checked against Helm 3.22.

use std::collections::BTreeMap;

use minijinja::Value;

use super::*;
use crate::value::{float64, int, int64, list, map, nil};

/// `toYaml` of `fromYaml`'s result, as Helm renders `{{ toYaml .Values }}`.
fn round_trip(values: &str) -> String {
    let v = parse_yaml(values).unwrap();
    to_yaml(&v).unwrap()
}

fn m(entries: &[(&str, Value)]) -> Value {
    map(entries
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect::<BTreeMap<_, _>>())
}

fn s(x: &str) -> Value {
    Value::from(x)
}

#[test]
fn scalars_at_the_root() {
    assert_eq!(to_yaml(&s("foo")).unwrap(), "foo");
    assert_eq!(to_yaml(&int(1)).unwrap(), "1");
    assert_eq!(to_yaml(&nil()).unwrap(), "null");
    assert_eq!(to_yaml(&list(vec![])).unwrap(), "[]");
    assert_eq!(to_yaml(&m(&[])).unwrap(), "{}");
}

#[test]
fn strings_quote_as_goyaml_v2() {
    let values = "s1: \"yes\"\ns2: \"123\"\ns3: \"\"\ns4: \" lead\"\ns5: \"trail \"\ns6: \"a: b\"\ns7: \"a #b\"\ns8: \"a#b\"\ns9: \"- x\"\ns10: \"-x\"\ns11: \"null\"\ns12: \"~\"\ns13: \"1.5\"\ns14: \"0x1F\"\ns15: \"2021-01-01\"\ns16: \"1:20\"\ns17: \"it's\"\ns18: \"tab\\there\"\ns19: \"emoji 😀\"\ns20: \"héllo wörld ü\"\ns21: \"line1\\nline2\"\ns22: \"line1\\nline2\\n\"\ns23: \"line1\\nline2\\n\\n\"\ns24: \"  indented\\nx\"\ns25: \"trailing space \\nx\"\ns27: \"*star\"\ns30: \"http://example.com/a?b=c#frag\"\ns31: \"{\\\"a\\\": 1}\"\ns34: \"key:\"\ns35: \":x\"\ns37: \"? x\"\ns39: \"a\\rb\"\ns40: \"a\\\\b\\\"c\"\ns41: \"---\"\ns44: \"1_000\"\ns50: \"on\"\ns55: \"<<\"\ns56: \"0b101\"\ns59: \"a\\u0085b\"\ns60: \"\\ufeffbom\"\ns61: \"x\\u2028y\"\ns62: \"ctrl\\u0001\"\ns63: \"\\u00a0nbsp\"";
    let want = "s1: \"yes\"\ns2: \"123\"\ns3: \"\"\ns4: ' lead'\ns5: 'trail '\ns6: 'a: b'\ns7: 'a #b'\ns8: a#b\ns9: '- x'\ns10: -x\ns11: \"null\"\ns12: \"~\"\ns13: \"1.5\"\ns14: \"0x1F\"\ns15: \"2021-01-01\"\ns16: \"1:20\"\ns17: it's\ns18: \"tab\\there\"\ns19: \"emoji \\U0001F600\"\ns20: héllo wörld ü\ns21: |-\n  line1\n  line2\ns22: |\n  line1\n  line2\ns23: |+\n  line1\n  line2\n\ns24: |2-\n    indented\n  x\ns25: \"trailing space \\nx\"\ns27: '*star'\ns30: http://example.com/a?b=c#frag\ns31: '{\"a\": 1}'\ns34: 'key:'\ns35: :x\ns37: '? x'\ns39: \"a\\rb\"\ns40: a\\b\"c\ns41: '---'\ns44: \"1_000\"\ns50: \"on\"\ns55: <<\ns56: \"0b101\"\ns59: a b\ns60: \"\\uFEFF\\x62\\x6F\\x6D\"\ns61: 'x\u{2028}  y'\ns62: \"ctrl\\x01\"\ns63: \u{a0}nbsp";
    assert_eq!(round_trip(values), want);
}

#[test]
fn numbers_keys_folding_and_blocks() {
    let values = "nums: [1, -1, 0, 1.5, 100000000, 1e21, 1e20, 12345678.9, 0.000001, 0.0000001, -0.0, 3.0, 9007199254740993, 1.0e+6, 2.5e-5, 0x1F, 0o17, 012, 1_000, yes, off, ~, 2021-01-01]\nkeys: {a10: 1, a2: 2, A1: 3, _x: 4, \"1\": 5, \"10\": 6, \"9\": 7, a01: 8, a1: 9, a001: 10, \"\": 11, 1.5: 12, true: 13, 7: 14}\nnested:\n  list_of_maps:\n  - name: a\n    sub: [x, [y, {}]]\n  - {}\n  - []\n  - [[1, 2], [3]]\nlong: \"this is a very long string that goes on and on and on beyond the eighty column limit for sure yes\"\nlongnospace: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\nlongquoted: \"'this is a very long string that goes on and on and on beyond the eighty column limit for sure yes\"\nlongdq: \"this is a very long string that goes on and on and on beyond the eighty column\\tlimit for sure yes and more and more words here\"\nlongkey_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: 1\nlistlit:\n- |\n  a\n  b\n- x: |-\n    y\n    z\n\"multi\\nkey\": 1\nanchors:\n  base: &b {x: 1, y: 2}\n  derived:\n    <<: *b\n    y: 3\n  list: &l [1, 2]\n  again: *l\n";
    let want = "anchors:\n  again:\n  - 1\n  - 2\n  base:\n    \"true\": 2\n    x: 1\n  derived:\n    \"true\": 3\n    x: 1\n  list:\n  - 1\n  - 2\nkeys:\n  \"\": 11\n  _x: 4\n  \"1\": 5\n  \"1.5\": 12\n  \"7\": 14\n  \"9\": 7\n  \"10\": 6\n  A1: 3\n  a1: 9\n  a01: 8\n  a001: 10\n  a2: 2\n  a10: 1\n  \"true\": 13\nlistlit:\n- |\n  a\n  b\n- x: |-\n    y\n    z\nlong: this is a very long string that goes on and on and on beyond the eighty column\n  limit for sure yes\nlongdq: \"this is a very long string that goes on and on and on beyond the eighty column\\tlimit\n  for sure yes and more and more words here\"\n? longkey_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n: 1\nlongnospace: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nlongquoted: '''this is a very long string that goes on and on and on beyond the eighty\n  column limit for sure yes'\n? |-\n  multi\n  key\n: 1\nnested:\n  list_of_maps:\n  - name: a\n    sub:\n    - x\n    - - true\n      - {}\n  - {}\n  - []\n  - - - 1\n      - 2\n    - - 3\nnums:\n- 1\n- -1\n- 0\n- 1.5\n- 100000000\n- 1e+21\n- 1e+20\n- 1.23456789e+07\n- 1e-06\n- 1e-07\n- 0\n- 3\n- 9007199254740992\n- 1000000\n- 2.5e-05\n- 31\n- 15\n- 10\n- 1000\n- true\n- false\n- null\n- \"2021-01-01\"";
    assert_eq!(round_trip(values), want);
}

#[test]
fn go_numbers_print_as_helm() {
    let v = m(&[
        ("f", float64(12345678.9)),
        ("i", int(3)),
        ("i64", int64(9007199254740993)),
        ("whole", float64(3.0)),
        ("tiny", float64(1e-7)),
        ("big", float64(1e21)),
    ]);
    assert_eq!(
        to_yaml(&v).unwrap(),
        "big: 1e+21\nf: 1.23456789e+07\ni: 3\ni64: 9007199254740993\ntiny: 1e-07\nwhole: 3"
    );
    assert_eq!(
        json::marshal(&v).unwrap(),
        r#"{"big":1e+21,"f":12345678.9,"i":3,"i64":9007199254740993,"tiny":1e-7,"whole":3}"#
    );
    // NaN cannot be marshalled: Helm's toYaml and toJson print nothing.
    assert!(to_yaml(&float64(f64::NAN)).is_err());
}

#[test]
fn from_yaml_errors_as_helm() {
    let e = yaml_parse::from_yaml_map("- a\n- b");
    assert_eq!(
        crate::fmt::sprint_value(&e),
        "map[Error:error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map[string]interface {}]"
    );
    let e = yaml_parse::from_yaml_map("a: b: c");
    assert_eq!(
        crate::fmt::sprint_value(&e),
        "map[Error:error converting YAML to JSON: yaml: mapping values are not allowed in this context]"
    );
    let l = yaml_parse::from_yaml_list("a: 1");
    assert_eq!(
        crate::fmt::sprint_value(&l),
        "[error unmarshaling JSON: while decoding JSON: json: cannot unmarshal object into Go value of type []interface {}]"
    );
    assert_eq!(
        crate::fmt::sprint_value(&yaml_parse::from_yaml_map("")),
        "map[]"
    );
    assert_eq!(
        crate::fmt::sprint_value(&yaml_parse::from_yaml_list("")),
        "[]"
    );
}

#[test]
fn from_yaml_cases_as_helm() {
    let cases: [(&str, bool, &str); 12] = [
        (
            "a: .inf",
            false,
            r#"{"Error":"error converting YAML to JSON: json: unsupported value: +Inf"}"#,
        ),
        (
            "a: [1\nb: 2",
            false,
            r#"{"Error":"error converting YAML to JSON: yaml: line 1: did not find expected ',' or ']'"}"#,
        ),
        (
            "a:\n  b: 1\n c: 2",
            false,
            r#"{"Error":"error converting YAML to JSON: yaml: line 2: did not find expected key"}"#,
        ),
        (
            "a: *x",
            false,
            r#"{"Error":"error converting YAML to JSON: yaml: unknown anchor 'x' referenced"}"#,
        ),
        (
            "\ta: 1",
            false,
            r#"{"Error":"error converting YAML to JSON: yaml: found character that cannot start any token"}"#,
        ),
        (
            "a: 'x",
            false,
            r#"{"Error":"error converting YAML to JSON: yaml: found unexpected end of stream"}"#,
        ),
        (
            "foo",
            false,
            r#"{"Error":"error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go value of type map[string]interface {}"}"#,
        ),
        ("a: 1\n---\nb: 2", false, r#"{"a":1}"#),
        ("", false, "{}"),
        ("", true, "[]"),
        (
            "a: 1",
            true,
            r#"["error unmarshaling JSON: while decoding JSON: json: cannot unmarshal object into Go value of type []interface {}"]"#,
        ),
        (
            "- a\n- b",
            false,
            r#"{"Error":"error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map[string]interface {}"}"#,
        ),
    ];
    for (text, array, want) in cases {
        let v = if array {
            yaml_parse::from_yaml_list(text)
        } else {
            yaml_parse::from_yaml_map(text)
        };
        assert_eq!(json::marshal(&v).unwrap(), want, "{text:?}");
    }
}

#[test]
fn from_yaml_quirks_as_goyaml_v2() {
    let j = |text: &str| json::marshal(&yaml_parse::from_yaml_map(text)).unwrap();
    // Block scalars running to the end of the text.
    assert_eq!(j("k: |\n  lit"), r#"{"k":"lit"}"#);
    assert_eq!(j("k: |+\n  lit"), r#"{"k":"lit"}"#);
    assert_eq!(j("k: |-\n  lit"), r#"{"k":"lit"}"#);
    assert_eq!(j("k: > \n  folded\n  text"), r#"{"k":"folded text"}"#);
    assert_eq!(j("a: |\n  x\nb: |\n  y"), r#"{"a":"x\n","b":"y"}"#);
    // `\'` in double quotes is a quote to goyaml.v2.
    assert_eq!(j("k: \"it\\'s\""), r#"{"k":"it's"}"#);
    // An error after the root node still fails the document.
    assert_eq!(
        j("k\n0: ' yes'"),
        r#"{"Error":"error converting YAML to JSON: yaml: line 2: mapping values are not allowed in this context"}"#
    );
    // Keys sigs.k8s.io/yaml cannot turn into strings.
    assert_eq!(
        j("~: v"),
        r#"{"Error":"error converting YAML to JSON: unsupported map key of type: %!s(\u003cnil\u003e), key: \u003cnil\u003e, value: \"v\""}"#
    );
    assert_eq!(
        j("[1, 2]: v"),
        r#"{"Error":"error converting YAML to JSON: yaml: invalid map key: []interface {}{1, 2}"}"#
    );
    // Tags.
    assert_eq!(
        j("a: !!binary aGVsbG8=\nb: !!str 12\nc: !!int '12'\nd: !custom x"),
        r#"{"a":"hello","b":"12","c":12,"d":"x"}"#
    );
    assert_eq!(
        j("a: !!binary a@"),
        r#"{"Error":"error converting YAML to JSON: yaml: !!binary value contains invalid base64 data"}"#
    );
    assert_eq!(
        j("a: !!int 5k2"),
        r#"{"Error":"error converting YAML to JSON: yaml: cannot decode !!str `5k2` as a !!int"}"#
    );
    assert_eq!(
        j("a: !!bool 1"),
        r#"{"Error":"error converting YAML to JSON: yaml: cannot decode !!int `1` as a !!bool"}"#
    );
    assert_eq!(
        j("a: !!float 3\nb: !!float '1.5'\nc: !!int \"0x1F\"\nd: !!timestamp 2001-12-14"),
        r#"{"a":3,"b":1.5,"c":31,"d":"2001-12-14"}"#
    );
    // YAML 1.1 values, merges and float keys.
    assert_eq!(
        j(
            "a: yes\nb: 0x1F\nc: 012\nd: 2021-01-01\ne: &x {p: 1}\nf:\n  <<: *x\n  q: 2\n1.5: x\ny: n"
        ),
        r#"{"1.5":"x","a":true,"b":31,"c":10,"d":"2021-01-01","e":{"p":1},"f":{"p":1,"q":2},"true":false}"#
    );
}

#[test]
fn to_yaml_pretty_as_goyaml_v3() {
    let values = parse_yaml("a:\n  list: [1, 2.5, \"x\", \"yes\", \"123\", \"\", \" lead\", \"a: b\", \"multi\\nline\\n\", \"2021-01-01\", \"on\", \"tab\\tx\", \"tab\\tin\\nblock\", \"😀\"]\n  nested: [[1, 2], {a: 1, b: [x]}, {}, []]\n  long: \"this is a very long string that goes on and on and on beyond the eighty column limit for sure yes\"\n  big: 1e21\n  i: 100000000\n  keys: {a10: 1, a2: 2, A1: 3, \"1\": 4, \"10\": 5, \"9\": 6, \"1a\": 7, \"1_\": 8}\n").unwrap();
    assert_eq!(
        to_yaml_pretty(&values),
        "a:\n  big: 1e+21\n  i: 1e+08\n  keys:\n    \"1\": 4\n    1a: 7\n    \"1_\": 8\n    \"9\": 6\n    \"10\": 5\n    A1: 3\n    a2: 2\n    a10: 1\n  list:\n    - 1\n    - 2.5\n    - x\n    - \"yes\"\n    - \"123\"\n    - \"\"\n    - ' lead'\n    - 'a: b'\n    - |\n      multi\n      line\n    - \"2021-01-01\"\n    - \"on\"\n    - \"tab\\tx\"\n    - |-\n      tab\tin\n      block\n    - \"\\U0001F600\"\n  long: this is a very long string that goes on and on and on beyond the eighty column limit for sure yes\n  nested:\n    - - 1\n      - 2\n    - a: 1\n      b:\n        - x\n    - {}\n    - []"
    );
    assert_eq!(
        to_yaml_pretty(&m(&[("k", int64(3)), ("f", float64(f64::NAN))])),
        "f: .nan\nk: 3"
    );
}

#[test]
fn string_parameters_as_go() {
    assert_eq!(
        string_arg(&nil()).unwrap_err().detail(),
        Some("wrong type for value; expected string; got interface {}")
    );
    assert_eq!(
        string_arg(&float64(1.5)).unwrap_err().detail(),
        Some("wrong type for value; expected string; got float64")
    );
    assert_eq!(string_arg(&s("x")).unwrap(), "x");
}

#[test]
fn from_yaml_limits_aliasing_as_goyaml_v2() {
    let mut doc = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]");
    for (prev, name) in [("a", "b"), ("b", "c"), ("c", "d")] {
        let refs = vec![format!("*{prev}"); 10].join(", ");
        doc.push_str(&format!("\n{name}: &{name} [{refs}]"));
    }
    assert_eq!(
        json::marshal(&yaml_parse::from_yaml_map(&doc)).unwrap(),
        r#"{"Error":"error converting YAML to JSON: yaml: document contains excessive aliasing"}"#
    );
    let shared = "base: &b {x: 1}\nitems:\n- *b\n- *b";
    assert_eq!(
        json::marshal(&yaml_parse::from_yaml_map(shared)).unwrap(),
        r#"{"base":{"x":1},"items":[{"x":1},{"x":1}]}"#
    );
}

/// Helm's `-o yaml` outputs: sigs.k8s.io/yaml over a JSON document.
#[test]
fn json_documents_as_helm_writes_them() {
    let value = serde_json::json!({
        "name": "web",
        "version": 2,
        "info": {
            "deleted": "",
            "first_deployed": "2026-12-04T20:01:22.396581189Z",
            "notes": "line one\nline two\n",
        },
        "config": {"enabled": "true", "port": "8080", "host": "a: b", "empty": {}},
        "hooks": [{"events": ["post-install"], "manifest": "kind: Job\nspec: {}"}],
        "nothing": null,
        "long": "word ".repeat(20).trim_end(),
    });
    assert_eq!(
        json_value_to_yaml(&value).unwrap(),
        "config:\n  empty: {}\n  enabled: \"true\"\n  host: 'a: b'\n  port: \"8080\"\n\
         hooks:\n- events:\n  - post-install\n  manifest: |-\n    kind: Job\n    spec: {}\n\
         info:\n  deleted: \"\"\n  first_deployed: \"2026-12-04T20:01:22.396581189Z\"\n  \
         notes: |\n    line one\n    line two\n\
         long: word word word word word word word word word word word word word word word \
         word\n  word word word word\n\
         name: web\nnothing: null\nversion: 2\n"
    );
    // What YAML cannot hold is sigs.k8s.io/yaml's error, not text.
    assert!(json_value_to_yaml(&serde_json::json!({"a": "\u{7f}"})).is_err());
}

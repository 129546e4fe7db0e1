//! `toYaml` for capstan's minijinja dialect: the same text as Helm's (`sigs.k8s.io/yaml` over
//! goyaml.v2), made by the Go runtime's emitter (`capstan_sprig::encoding`) from the JSON data.

use capstan_sprig::value::{Numbers, from_json};
use serde_json::Value;

/// Helm's `toYaml`: the document without its trailing newline (empty for data YAML cannot
/// hold, as in Helm). JSON integers are Go integers, so they print as such.
pub(crate) fn to_yaml(v: &Value) -> String {
    capstan_sprig::encoding::to_yaml(&from_json(v, Numbers::Int64)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn helm_style() {
        let v = json!({
            "b": [1, {"x": "y", "l": ["p", "q"]}, [2, 3]],
            "a": {"empty": {}, "none": [], "null": null, "t": true},
            "s": {"yes": "yes", "v": "1.27.0", "plain": "nginx:1.27", "multi": "l1\nl2\n", "nolf": "a\nb", "colon": "a: b", "path": "/usr/bin"},
        });
        let want = "\
a:
  empty: {}
  none: []
  \"null\": null
  t: true
b:
- 1
- l:
  - p
  - q
  x: \"y\"
- - 2
  - 3
s:
  colon: 'a: b'
  multi: |
    l1
    l2
  nolf: |-
    a
    b
  path: /usr/bin
  plain: nginx:1.27
  v: 1.27.0
  \"yes\": \"yes\"";
        assert_eq!(to_yaml(&v), want);
        let back: Value = serde_yaml_ng::from_str(want).unwrap();
        assert_eq!(back, v);
        assert_eq!(to_yaml(&json!("x")), "x");
        assert_eq!(to_yaml(&json!(null)), "null");
    }

    #[test]
    fn quoting_as_go_yaml() {
        // What go-yaml v2 (Helm's toYaml) writes for each string value.
        let cases = [
            (r#"{"k": "v"}"#, r#"'{"k": "v"}'"#),
            ("a: b", "'a: b'"),
            (" lead", "' lead'"),
            ("-foo", "-foo"),
            ("*.x.com", "'*.x.com'"),
            ("1abc", "1abc"),
            ("x #y", "'x #y'"),
            ("it's: x", "'it''s: x'"),
            ("tab\there: x", r#""tab\there: x""#),
            ("~foo", "~foo"),
            ("trail ", "'trail '"),
            ("a:", "'a:'"),
            ("-", "'-'"),
            ("- x", "'- x'"),
            (".foo", ".foo"),
            ("+1", r#""+1""#),
            ("?x", "?x"),
            ("1.27.0", "1.27.0"),
            ("1.0", r#""1.0""#),
            ("0x1f", r#""0x1f""#),
            ("1_000", r#""1_000""#),
            ("1:20", r#""1:20""#),
            ("2001-12-14", r#""2001-12-14""#),
            ("2001-12-14T10:00:00Z", r#""2001-12-14T10:00:00Z""#),
            ("08", r#""08""#),
            ("-.inf", r#""-.inf""#),
            ("1.", r#""1.""#),
            ("12:30:45", r#""12:30:45""#),
            ("0b101", r#""0b101""#),
            ("1e", "1e"),
            ("0x", "0x"),
            ("1-2", "1-2"),
            ("0.1.2", "0.1.2"),
            ("1,000", "1,000"),
            ("=", "="),
            ("<<", "<<"),
            ("-0", r#""-0""#),
            ("6.0e-1", r#""6.0e-1""#),
            ("0xG", "0xG"),
            ("'a", "'''a'"),
            ("a#b", "a#b"),
            ("key:value", "key:value"),
            ("http://x", "http://x"),
            ("", r#""""#),
        ];
        for (s, want) in cases {
            assert_eq!(to_yaml(&json!(s)), want, "{s:?}");
        }
    }
}

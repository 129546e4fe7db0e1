//! `values.schema.json` validation: every violation, of the chart and each subchart, with its path.
//!
//! As in Helm, each chart's schema validates that chart's own (scoped) values, so a subchart's
//! schema sees the values under its name. Remote `$ref`s are not resolved (no network I/O).

use serde_json::Value;

use crate::chart::{Chart, ChartFile};
use crate::values::Values;
use crate::{Error, Result};

/// One way the values fail a chart's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// The chart whose schema failed, as a path (`webapp` or `webapp/charts/cache`).
    pub chart: String,
    /// Where in that chart's values: `image.tag`, `ingress.hosts[0].host`, or `(root)`.
    pub path: String,
    /// What is wrong, as the validator says it.
    pub message: String,
}

/// Turns a JSON pointer (`/a/0/b`) into Helm's dotted form (`a[0].b`), `(root)` when empty.
fn dotted(pointer: &str, instance: &Value) -> String {
    if pointer.is_empty() {
        return "(root)".into();
    }
    let mut out = String::new();
    let mut cur = Some(instance);
    for raw in pointer.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        match cur {
            Some(Value::Array(items)) => {
                out.push_str(&format!("[{seg}]"));
                cur = seg.parse::<usize>().ok().and_then(|i| items.get(i));
            }
            other => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&seg);
                cur = other.and_then(|v| v.get(&seg));
            }
        }
    }
    out
}

fn collect(
    chart: &Chart,
    values: &Values,
    label: &str,
    out: &mut Vec<SchemaViolation>,
) -> Result<()> {
    if let Some(schema) = &chart.schema {
        let instance = Value::Object(values.clone());
        let validator = jsonschema::validator_for(schema).map_err(|e| Error::InvalidSchema {
            file: format!("{label}/values.schema.json"),
            message: e.to_string(),
        })?;
        for error in validator.iter_errors(&instance) {
            out.push(SchemaViolation {
                chart: label.to_string(),
                path: dotted(error.instance_path().as_str(), &instance),
                // Masked: values may be secrets; the path names the value at fault.
                message: error.masked().to_string(),
            });
        }
    }
    let none = Values::new();
    for sub in &chart.dependencies {
        let scoped = match values.get(sub.name()) {
            Some(Value::Object(m)) => m,
            _ => &none,
        };
        collect(sub, scoped, &format!("{label}/charts/{}", sub.name()), out)?;
    }
    Ok(())
}

/// Starts building, on a thread of its own, what validating values against `chart`'s schemas
/// (its own and its subcharts') first needs: `jsonschema`'s registry of the drafts'
/// meta-schemas (nineteen documents parsed and indexed once per process; the meta-schemas'
/// validators themselves are generated at compile time, the crate's `macros` feature). A
/// render that validates later finds it built, or waits for it rather than building it twice.
/// Nothing comes back: errors are [`validate_values`]'s, when it runs.
pub fn prepare_validation(chart: &Chart) {
    fn schemas(chart: &Chart, out: &mut Vec<Value>) {
        out.extend(chart.schema.iter().cloned());
        for sub in &chart.dependencies {
            schemas(sub, out);
        }
    }
    let mut found = Vec::new();
    schemas(chart, &mut found);
    prepare(found);
}

/// [`prepare_validation`] from a chart directory's files, before the chart is built of them
/// (its values parsed, which takes a while): the schemas of the chart's `values.schema.json`
/// and of its subchart directories'. Whether it found one; a chart whose schemas are only in
/// subchart archives has none here (then [`prepare_validation`] of the chart finds them).
pub fn prepare_validation_of_files(files: &[ChartFile]) -> bool {
    let found: Vec<Value> = files
        .iter()
        .filter(|f| is_schema_file(&f.name))
        .filter_map(|f| serde_json::from_slice(&f.data).ok())
        .collect();
    let any = !found.is_empty();
    prepare(found);
    any
}

/// Whether `path` (chart-relative) is a chart's values schema: `values.schema.json` at the
/// top, or under `charts/NAME/` any number of times.
fn is_schema_file(path: &str) -> bool {
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.pop() != Some("values.schema.json") || !parts.len().is_multiple_of(2) {
        return false;
    }
    parts.chunks(2).all(|pair| pair[0] == "charts")
}

/// Builds the validators of `schemas` on a thread of its own (see [`prepare_validation`]).
fn prepare(schemas: Vec<Value>) {
    if schemas.is_empty() {
        return;
    }
    // Without the thread, the validation builds it when it comes.
    let _ = std::thread::Builder::new()
        .name("capstan-schema".into())
        .spawn(move || {
            for schema in &schemas {
                let _ = jsonschema::validator_for(schema);
            }
        });
}

/// Validates coalesced values against the schema of the chart and of each of its (processed)
/// subcharts, reporting every violation at once in [`Error::Schema`].
pub fn validate_values(chart: &Chart, values: &Values) -> Result<()> {
    let mut violations = Vec::new();
    collect(chart, values, chart.name(), &mut violations)?;
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::Schema { violations })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::{Limits, compute_values};
    use serde_json::json;

    #[test]
    fn schema_files_are_the_charts_and_their_subchart_directories() {
        for path in [
            "values.schema.json",
            "charts/db/values.schema.json",
            "charts/db/charts/x/values.schema.json",
        ] {
            assert!(is_schema_file(path), "{path}");
        }
        for path in [
            "templates/values.schema.json",
            "charts/values.schema.json",
            "files/db/values.schema.json",
            "values.schema.json.bak",
            "charts/db/templates/values.schema.json",
        ] {
            assert!(!is_schema_file(path), "{path}");
        }
    }

    fn chart() -> Chart {
        let files = [
            ("Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n"),
            (
                "values.yaml",
                "replicaCount: 1\nimage: {repository: nginx}\n",
            ),
            (
                "values.schema.json",
                r#"{"type":"object","required":["image"],"properties":{
                    "replicaCount":{"type":"integer","minimum":1},
                    "image":{"type":"object","required":["repository"],"properties":{"tag":{"type":"string"}}},
                    "hosts":{"type":"array","items":{"type":"object","properties":{"host":{"type":"string"}}}}}}"#,
            ),
            (
                "charts/db/Chart.yaml",
                "apiVersion: v2\nname: db\nversion: 1.0.0\n",
            ),
            (
                "charts/db/values.schema.json",
                r#"{"type":"object","properties":{"port":{"type":"integer"}}}"#,
            ),
        ];
        Chart::from_files(
            files
                .iter()
                .map(|(n, d)| ChartFile {
                    name: n.to_string(),
                    data: (*d).into(),
                })
                .collect(),
            &Limits::default(),
        )
        .unwrap()
    }

    #[test]
    fn valid_values_pass() {
        let c = chart();
        let (c, v) = compute_values(&c, &Values::new()).unwrap();
        validate_values(&c, &v).unwrap();
    }

    #[test]
    fn every_violation_is_reported_with_its_path() {
        let c = chart();
        let user = json!({"replicaCount": "five", "image": {"tag": 3},
                          "hosts": [{"host": "a"}, {"host": 7}], "db": {"port": "x"}});
        let (c, v) = compute_values(&c, user.as_object().unwrap()).unwrap();
        let Error::Schema { violations } = validate_values(&c, &v).unwrap_err() else {
            panic!("not a schema error");
        };
        let paths: Vec<_> = violations
            .iter()
            .map(|v| format!("{}:{}", v.chart, v.path))
            .collect();
        for want in [
            "web:replicaCount",
            "web:image.tag",
            "web:hosts[1].host",
            "web/charts/db:port",
        ] {
            assert!(paths.contains(&want.to_string()), "{want} not in {paths:?}");
        }
        let text = Error::Schema { violations }.to_string();
        assert!(
            text.contains("web: replicaCount: value is not of type \"integer\""),
            "{text}"
        );
    }

    #[test]
    fn invalid_schema_is_named() {
        let mut c = chart();
        c.schema = Some(json!({"type": 12}));
        let e = validate_values(&c, &Values::new()).unwrap_err().to_string();
        assert!(
            e.starts_with("web/values.schema.json: invalid JSON schema"),
            "{e}"
        );
    }
}

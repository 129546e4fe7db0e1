//! Values: parsing `values.yaml`, layering user values, and Helm's coalescing with subcharts.
//!
//! The order is Helm's: chart defaults < each `-f` file in order < each `--set*` layer in
//! order. User layers are merged first ([`user_values`]); then [`compute_values`] resolves the
//! chart's dependencies (aliases, conditions, tags) and coalesces the user values over the
//! chart's defaults, scoping each subchart's values under its name (or alias) and copying the
//! parent's `global` into every subchart.

use serde_json::{Map, Value};

use crate::chart::Chart;
use crate::constraint::{Constraint, parse_version};
use crate::strvals;
use crate::{Error, Result};

/// A values tree: a map from keys to JSON-like values, ordered by key.
pub type Values = Map<String, Value>;

/// One layer of user-supplied values, applied in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueLayer {
    /// `-f NAME`: a YAML values file, already read; `name` is used in errors.
    File {
        /// The file's name as the user gave it.
        name: String,
        /// The file's text.
        contents: String,
    },
    /// `--set a.b=c,...` (values typed as Helm types them).
    Set(String),
    /// `--set-string a.b=c,...` (values kept as strings).
    SetString(String),
    /// `--set-file a.b=path,...` (values read from files).
    SetFile(String),
    /// `--set-json a.b={"x":1},...` (values are JSON).
    SetJson(String),
    /// `--set-literal a.b=anything` (the value is everything after the first `=`).
    SetLiteral(String),
}

/// Deepest nesting of YAML flow collections (`[...]`, `{...}`) let through to the YAML parser.
/// The parser would reject anything deeper than 128 levels anyway, but only after time
/// quadratic in the depth: a megabyte of `[` would keep it busy for hours.
pub const MAX_YAML_FLOW_DEPTH: usize = 1000;

/// Checks, before a YAML parser sees `text`, that its flow collections nest at most
/// [`MAX_YAML_FLOW_DEPTH`] deep; fails with the 1-based line where the limit is passed.
/// Brackets inside quoted strings and plain scalars (`a[b`) are not counted.
pub fn check_yaml_nesting(text: &str) -> std::result::Result<(), usize> {
    // Only an opening bracket deepens the nesting: a text with no more of them than the limit
    // cannot pass it (counting them is many times cheaper than the scan below).
    if text.bytes().filter(|b| matches!(b, b'[' | b'{')).count() <= MAX_YAML_FLOW_DEPTH {
        return Ok(());
    }
    let mut depth = 0usize;
    let mut line = 1usize;
    // The last significant character before this one (None at the start of a block line).
    let mut prev: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let opener = matches!(prev, None | Some('[' | '{' | ',' | ':' | '-' | '?'));
        match c {
            '\n' => {
                line += 1;
                if depth == 0 {
                    prev = None;
                }
                continue;
            }
            ' ' | '\t' | '\r' => continue,
            '#' if opener || depth == 0 && prev.is_none() => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
                if depth == 0 {
                    prev = None;
                }
                continue;
            }
            '[' | '{' if opener => {
                depth += 1;
                if depth > MAX_YAML_FLOW_DEPTH {
                    return Err(line);
                }
            }
            // Inside a plain scalar (`x[[[`): text, and so is every bracket after it.
            '[' | '{' => {
                prev = Some('x');
                continue;
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            '"' | '\'' if opener => {
                let mut escaped = false;
                while let Some(q) = chars.next() {
                    if q == '\n' {
                        line += 1;
                    }
                    if c == '"' && q == '\\' && !escaped {
                        escaped = true;
                        continue;
                    }
                    if q == c && !escaped {
                        if c == '\'' && chars.peek() == Some(&'\'') {
                            chars.next();
                            continue;
                        }
                        break;
                    }
                    escaped = false;
                }
            }
            _ => {}
        }
        prev = Some(c);
    }
    Ok(())
}

/// [`check_yaml_nesting`] of `text`, its failure as [`Error::Yaml`] naming `file`.
fn check_nesting(text: &str, file: &str) -> Result<()> {
    check_yaml_nesting(text).map_err(|line| Error::Yaml {
        file: file.to_string(),
        line,
        column: 0,
        message: format!("flow collections nest deeper than {MAX_YAML_FLOW_DEPTH} levels"),
    })
}

/// Parses YAML after [`check_yaml_nesting`], reporting either failure as [`Error::Yaml`].
pub(crate) fn from_yaml<T: serde::de::DeserializeOwned>(text: &str, file: &str) -> Result<T> {
    check_nesting(text, file)?;
    serde_yaml_ng::from_str(text).map_err(|e| yaml_error(file, &e))
}

/// Converts a YAML error into [`Error::Yaml`] naming `file`, line and column.
pub(crate) fn yaml_error(file: &str, e: &serde_yaml_ng::Error) -> Error {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let message = e.to_string();
    // serde_yaml_ng appends " at line L column C"; the location is already in front.
    let message = match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    Error::Yaml {
        file: file.to_string(),
        line,
        column,
        message,
    }
}

/// Converts a YAML value into a JSON value as Helm does (via JSON): map keys become strings,
/// tags are dropped, merge keys (`<<`) are applied, non-finite floats become strings.
pub fn yaml_to_json(value: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(n.to_string()))
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(mut m) => {
            if m.contains_key("<<") {
                let mut v = Y::Mapping(m);
                let _ = v.apply_merge();
                m = match v {
                    Y::Mapping(m) => m,
                    _ => serde_yaml_ng::Mapping::new(),
                };
            }
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Null => "null".to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    other => serde_yaml_ng::to_string(&other)
                        .unwrap_or_default()
                        .trim_end()
                        .to_string(),
                };
                out.insert(key, yaml_to_json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(t) => yaml_to_json(t.value),
    }
}

/// Parses a values document (empty means no values); it must be a map. `file` names it in errors.
///
/// Read as Helm reads it (go-yaml v2 through `sigs.k8s.io/yaml`, see [`crate::yaml11`]): YAML 1.1
/// scalars, the first document only, a repeated key's last value. The strict parser reads the
/// text only when that reading cannot (a syntax error, nesting too deep, a document that is
/// not a map): its errors name the line and column.
pub fn parse_values_yaml(text: &str, file: &str) -> Result<Values> {
    if text.trim().is_empty() {
        return Ok(Values::new());
    }
    check_nesting(text, file)?;
    // Most values files are block-style YAML, which the block reader takes fastest.
    let helm_reading = crate::yaml11::from_block(text).or_else(|| crate::yaml11::read(text));
    match helm_reading {
        Some(Value::Null) => return Ok(Values::new()),
        Some(Value::Object(m)) => return Ok(m),
        _ => {}
    }
    let value: serde_yaml_ng::Value = from_yaml(text, file)?;
    match yaml_to_json(value) {
        Value::Null => Ok(Values::new()),
        Value::Object(m) => Ok(m),
        other => Err(Error::Values {
            source_name: file.to_string(),
            message: format!("values must be a map, found {}", kind(&other)),
        }),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Helm's `mergeMaps`: `over` wins; maps present on both sides merge recursively.
pub fn merge_maps(base: &mut Values, over: Values) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => merge_maps(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Merges user value layers in order into one map (Helm's `MergeValues`). `read_file` reads a
/// `--set-file` path and returns its text or an error message.
pub fn user_values(
    layers: &[ValueLayer],
    read_file: &mut dyn FnMut(&str) -> std::result::Result<String, String>,
) -> Result<Values> {
    let mut base = Values::new();
    for layer in layers {
        let (flag, expr, result) = match layer {
            ValueLayer::File { name, contents } => {
                let m = parse_values_yaml(contents, name)?;
                merge_maps(&mut base, m);
                continue;
            }
            ValueLayer::Set(e) => ("--set", e, strvals::parse_into(e, &mut base)),
            ValueLayer::SetString(e) => {
                ("--set-string", e, strvals::parse_into_string(e, &mut base))
            }
            ValueLayer::SetJson(e) => ("--set-json", e, strvals::parse_json(e, &mut base)),
            ValueLayer::SetLiteral(e) => ("--set-literal", e, strvals::parse_literal(e, &mut base)),
            ValueLayer::SetFile(e) => (
                "--set-file",
                e,
                strvals::parse_into_file(e, &mut base, read_file),
            ),
        };
        result.map_err(|message| Error::Set {
            flag,
            keys: redact_set(expr),
            message,
        })?;
    }
    Ok(base)
}

/// A `--set` expression fit for an error message: up to its first `=`, then `=…` if a value
/// followed (values may be secrets; the message names the key at fault).
fn redact_set(expr: &str) -> String {
    match expr.split_once('=') {
        Some((key, _)) => format!("{key}=…"),
        None => expr.to_string(),
    }
}

/// Helm's `coalesceTables`: `dst` (user values, which win) over `src` (defaults), maps on
/// both sides merging recursively. A user `null` removes the key only where the default is not
/// null, and never when `merge` (Helm's `MergeValues`, and a subchart's table); every other
/// `null` stays, as a key holding nil.
fn coalesce_tables(dst: &mut Values, src: &Values, merge: bool) {
    for (k, sv) in src {
        match dst.get_mut(k) {
            None => {
                dst.insert(k.clone(), sv.clone());
            }
            Some(Value::Null) => {
                if !merge && !sv.is_null() {
                    dst.remove(k);
                }
            }
            Some(Value::Object(dm)) => {
                if let Value::Object(sm) = sv {
                    coalesce_tables(dm, sm, merge);
                }
            }
            Some(_) => {}
        }
    }
}

/// The paths of the integers `--set` layers give (`--set a.b=3`): Helm makes those `int64`,
/// where every number of a values file is a `float64`. A path a later layer sets again to
/// something else no longer holds an integer in the merged values; callers check that.
pub fn set_integer_paths(layers: &[ValueLayer]) -> Vec<Vec<String>> {
    fn walk(prefix: &mut Vec<String>, m: &Values, out: &mut Vec<Vec<String>>) {
        for (k, v) in m {
            prefix.push(k.clone());
            match v {
                Value::Object(inner) => walk(prefix, inner, out),
                Value::Number(n) if n.is_i64() || n.is_u64() => out.push(prefix.clone()),
                _ => {}
            }
            prefix.pop();
        }
    }
    let mut out = Vec::new();
    for layer in layers {
        if let ValueLayer::Set(expr) = layer {
            let mut one = Values::new();
            if strvals::parse_into(expr, &mut one).is_ok() {
                walk(&mut Vec::new(), &one, &mut out);
            }
        }
    }
    out
}

/// Helm's `coalesceValues`: the user's values of `chart` over its defaults. A user `null`
/// removes a key the defaults have; a subchart's table merges (its nulls stay for the subchart's
/// own pass).
fn coalesce_chart_values(chart: &Chart, dst: &mut Values) {
    for (k, sv) in &chart.values {
        match dst.get_mut(k) {
            None => {
                dst.insert(k.clone(), sv.clone());
            }
            Some(Value::Null) => {
                dst.remove(k);
            }
            Some(Value::Object(dm)) => {
                if let Value::Object(sm) = sv {
                    let merge = chart.dependencies.iter().any(|d| d.name() == k);
                    coalesce_tables(dm, sm, merge);
                }
            }
            Some(_) => {}
        }
    }
}

/// Helm's `coalesceGlobals`: the parent's `global` is copied into the subchart's, the parent's
/// entries winning.
fn coalesce_globals(dest: &mut Values, parent: &Values) {
    let mut dg = match dest.get("global") {
        Some(Value::Object(m)) => m.clone(),
        _ => Values::new(),
    };
    if let Some(Value::Object(pg)) = parent.get("global") {
        for (k, v) in pg {
            match (v, dg.get(k)) {
                (Value::Object(pv), Some(Value::Object(dv))) => {
                    let mut merged = pv.clone();
                    coalesce_tables(&mut merged, dv, true);
                    dg.insert(k.clone(), Value::Object(merged));
                }
                (Value::Object(_), Some(_)) => {}
                (_, Some(Value::Object(_))) => {}
                (v, _) => {
                    dg.insert(k.clone(), v.clone());
                }
            }
        }
    }
    dest.insert("global".to_string(), Value::Object(dg));
}

fn coalesce(chart: &Chart, dest: &mut Values) -> Result<()> {
    coalesce_chart_values(chart, dest);
    for sub in &chart.dependencies {
        let name = sub.name().to_string();
        let mut dv = match dest.remove(&name) {
            None | Some(Value::Null) => Values::new(),
            Some(Value::Object(m)) => m,
            Some(other) => {
                return Err(Error::Dependency {
                    chart: chart.name().to_string(),
                    message: format!(
                        "values for subchart {name:?} must be a map, found {}",
                        kind(&other)
                    ),
                });
            }
        };
        coalesce_globals(&mut dv, dest);
        coalesce(sub, &mut dv)?;
        dest.insert(name, Value::Object(dv));
    }
    Ok(())
}

/// Helm's `CoalesceValues`: user values over the chart's defaults, recursively for the chart's
/// (already processed) subcharts, with `global` shared downwards.
pub fn coalesce_values(chart: &Chart, user: &Values) -> Result<Values> {
    let mut v = user.clone();
    coalesce(chart, &mut v)?;
    Ok(v)
}

/// Resolves `Chart.yaml` dependencies against `charts/` without evaluating conditions or tags:
/// checks presence and version, applies
/// aliases (a dependency may be used twice under two aliases), keeps unlisted subcharts.
pub fn resolve_dependencies(chart: &Chart) -> Result<Chart> {
    // The chart without its subcharts: they are resolved (and copied) one by one below.
    let mut out = Chart {
        metadata: chart.metadata.clone(),
        values: chart.values.clone(),
        values_yaml: chart.values_yaml.clone(),
        schema: chart.schema.clone(),
        templates: chart.templates.clone(),
        files: chart.files.clone(),
        dependencies: Vec::new(),
    };
    let mut deps = Vec::new();
    let dep_err = |message: String| Error::Dependency {
        chart: chart.name().to_string(),
        message,
    };
    for req in &chart.metadata.dependencies {
        let candidates: Vec<&Chart> = chart
            .dependencies
            .iter()
            .filter(|c| c.metadata.name == req.name)
            .collect();
        if candidates.is_empty() {
            return Err(dep_err(format!(
                "dependency {:?} is listed in Chart.yaml but missing from charts/",
                req.name
            )));
        }
        let found = if req.version.is_empty() {
            candidates.first().copied()
        } else {
            let c = Constraint::parse(&req.version)?;
            candidates
                .iter()
                .copied()
                .find(|sub| parse_version(&sub.metadata.version).is_ok_and(|v| c.matches(&v)))
        };
        let Some(found) = found else {
            return Err(dep_err(format!(
                "dependency {:?}: charts/ has version {}, which does not satisfy {:?}",
                req.name, candidates[0].metadata.version, req.version
            )));
        };
        let mut sub = resolve_dependencies(found)?;
        if !req.alias.is_empty() {
            sub.metadata.name = req.alias.clone();
        }
        deps.push(sub);
    }
    for sub in &chart.dependencies {
        if !chart
            .metadata
            .dependencies
            .iter()
            .any(|r| r.name == sub.metadata.name)
        {
            deps.push(resolve_dependencies(sub)?);
        }
    }
    out.dependencies = deps;
    Ok(out)
}

fn path_value<'a>(values: &'a Values, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut cur = values.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

/// Drops subcharts disabled by tags or conditions (Helm's `processDependencyEnabled`).
fn disable(chart: &mut Chart, cvals: &Values, prefix: &str) {
    let tags = cvals.get("tags").and_then(Value::as_object);
    let mut disabled = Vec::new();
    for req in &chart.metadata.dependencies {
        let mut enabled = true;
        if let Some(tags) = tags {
            let (mut has_true, mut has_false) = (false, false);
            for t in &req.tags {
                match tags.get(t) {
                    Some(Value::Bool(true)) => has_true = true,
                    Some(Value::Bool(false)) => has_false = true,
                    _ => {}
                }
            }
            if !has_true && has_false {
                enabled = false;
            }
        }
        for cond in req.condition.split(',').map(str::trim) {
            if cond.is_empty() {
                continue;
            }
            if let Some(Value::Bool(b)) = path_value(cvals, &format!("{prefix}{cond}")) {
                enabled = *b;
                break;
            }
        }
        if !enabled {
            disabled.push(req.effective_name().to_string());
        }
    }
    chart
        .dependencies
        .retain(|d| !disabled.iter().any(|n| n == d.name()));
    for sub in &mut chart.dependencies {
        let sub_prefix = format!("{prefix}{}.", sub.name());
        disable(sub, cvals, &sub_prefix);
    }
}

/// Helm's `processDependencyImportValues`, children first: a chart whose dependencies list
/// `import-values` gets the values those name (`{child, parent}` tables, or a name under the
/// child's `exports`) under its own defaults, which win; its defaults become the coalesced
/// values of the chart and its subcharts, as in Helm.
fn import_values(chart: &mut Chart) -> Result<()> {
    for sub in &mut chart.dependencies {
        import_values(sub)?;
    }
    let wanted = chart
        .metadata
        .dependencies
        .iter()
        .any(|d| d.import_values.as_ref().is_some_and(|v| !v.is_null()));
    if !wanted {
        return Ok(());
    }
    let cvals = coalesce_values(chart, &Values::new())?;
    let table = |path: &str| -> Option<Values> {
        let mut cur = &cvals;
        let mut parts = path.split('.').peekable();
        while let Some(p) = parts.next() {
            match cur.get(p) {
                Some(Value::Object(m)) if parts.peek().is_some() => cur = m,
                Some(Value::Object(m)) => return Some(m.clone()),
                _ => return None,
            }
        }
        None
    };
    let mut imported = Values::new();
    for dep in &chart.metadata.dependencies {
        let Some(Value::Array(items)) = &dep.import_values else {
            continue;
        };
        for item in items {
            let (child, parent) = match item {
                Value::String(name) => (format!("exports.{name}"), ".".to_string()),
                Value::Object(m) => (
                    m.get("child")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    m.get("parent")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                ),
                _ => continue,
            };
            let Some(data) = table(&format!("{}.{child}", dep.name)) else {
                continue;
            };
            let mut at_path = data;
            if parent != "." {
                for key in parent.split('.').rev() {
                    at_path = Values::from_iter([(key.to_string(), Value::Object(at_path))]);
                }
            }
            coalesce_tables(&mut imported, &at_path, true);
        }
    }
    let mut values = cvals;
    coalesce_tables(&mut values, &imported, true);
    chart.values = values;
    Ok(())
}

/// Resolves dependencies (presence, versions, aliases) and drops those disabled by their
/// `condition` or `tags`, evaluated against the coalesced values as Helm does.
pub fn process_dependencies(chart: &Chart, user: &Values) -> Result<Chart> {
    let mut resolved = resolve_dependencies(chart)?;
    let cvals = coalesce_values(&resolved, user)?;
    disable(&mut resolved, &cvals, "");
    import_values(&mut resolved)?;
    Ok(resolved)
}

/// Everything Helm does before rendering: processes dependencies, then coalesces the user's
/// values over the defaults of the chart and its enabled subcharts. Returns the processed chart
/// (subcharts under their effective names) and the merged values.
pub fn compute_values(chart: &Chart, user: &Values) -> Result<(Chart, Values)> {
    let processed = process_dependencies(chart, user)?;
    let values = coalesce_values(&processed, user)?;
    Ok((processed, values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChartFile, Limits};
    use serde_json::json;

    fn obj(v: Value) -> Values {
        v.as_object().unwrap().clone()
    }

    fn chart(files: &[(&str, &str)]) -> Chart {
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

    fn no_files(p: &str) -> std::result::Result<String, String> {
        Err(format!("unexpected read of {p}"))
    }

    #[test]
    fn layers_apply_in_order() {
        let layers = vec![
            ValueLayer::File {
                name: "a.yaml".into(),
                contents: "image: {tag: a, repository: r}\nreplicaCount: 1\n".into(),
            },
            ValueLayer::File {
                name: "b.yaml".into(),
                contents: "image: {tag: b}\n".into(),
            },
            ValueLayer::Set("replicaCount=5,image.tag=never-ready".into()),
            ValueLayer::SetString("version=1".into()),
            ValueLayer::SetJson("extra={\"x\":[1]}".into()),
            ValueLayer::SetLiteral("lit=a,b".into()),
            ValueLayer::SetFile("cfg=path".into()),
            ValueLayer::Set("image.tag=last".into()),
        ];
        let v = user_values(&layers, &mut |p| Ok(format!("contents of {p}"))).unwrap();
        assert_eq!(
            Value::Object(v),
            json!({"image": {"tag": "last", "repository": "r"}, "replicaCount": 5,
                   "version": "1", "extra": {"x": [1]}, "lit": "a,b", "cfg": "contents of path"})
        );
    }

    #[test]
    fn malformed_set_names_flag_expression_and_token() {
        let e = user_values(&[ValueLayer::Set("a=1,b".into())], &mut no_files)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "--set \"a=…\": key \"b\" has no value");
        let e = user_values(
            &[ValueLayer::File {
                name: "bad.yaml".into(),
                contents: "- a\n".into(),
            }],
            &mut no_files,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "bad.yaml: values must be a map, found a list");
        let e = user_values(
            &[ValueLayer::File {
                name: "bad.yaml".into(),
                contents: "a: b: c\n".into(),
            }],
            &mut no_files,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("bad.yaml:1:"), "{e}");
    }

    #[test]
    fn coalesce_user_over_defaults_and_null_removes() {
        let c = chart(&[
            ("Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.0.0\n"),
            (
                "values.yaml",
                "image: {repository: nginx, tag: ''}\nresources: {limits: {cpu: 1}}\nannotations: {a: b}\n",
            ),
        ]);
        let user = obj(
            json!({"image": {"tag": "x"}, "resources": {"limits": null}, "annotations": null, "new": {"k": null, "j": 1}}),
        );
        let (_, v) = compute_values(&c, &user).unwrap();
        assert_eq!(
            Value::Object(v),
            json!({"image": {"repository": "nginx", "tag": "x"}, "resources": {}, "new": {"k": null, "j": 1}})
        );
    }

    fn parent_with_subcharts() -> Chart {
        chart(&[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: web\nversion: 1.0.0\ndependencies:\n\
                 - name: db\n  version: ~1.0.0\n  condition: db.enabled,dbGlobal.enabled\n\
                 - name: cache\n  tags: [backend]\n\
                 - name: cache\n  alias: cache2\n  condition: cache2.enabled\n",
            ),
            (
                "values.yaml",
                "global: {env: prod, labels: {team: a}}\ndb: {enabled: true, port: 1}\ncache2: {enabled: false}\n",
            ),
            (
                "charts/db/Chart.yaml",
                "apiVersion: v2\nname: db\nversion: 1.0.3\n",
            ),
            (
                "charts/db/values.yaml",
                "port: 5432\nuser: app\nglobal: {env: dev, labels: {tier: db}, own: x}\n",
            ),
            (
                "charts/cache/Chart.yaml",
                "apiVersion: v2\nname: cache\nversion: 2.0.0\n",
            ),
            ("charts/cache/values.yaml", "size: 1\n"),
        ])
    }

    #[test]
    fn import_values_from_children_and_exports() {
        let c = chart(&[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: web\nversion: 1.0.0\ndependencies:\n\
                 - name: db\n  import-values:\n  - {child: conn, parent: database}\n  - data\n",
            ),
            ("values.yaml", "database: {port: 1}\n"),
            (
                "charts/db/Chart.yaml",
                "apiVersion: v2\nname: db\nversion: 1.0.0\n",
            ),
            (
                "charts/db/values.yaml",
                "conn: {host: h, port: 5432}\nexports:\n  data: {shared: true}\n",
            ),
        ]);
        let (_, v) = compute_values(&c, &Values::new()).unwrap();
        // The parent's own values win over what it imports.
        assert_eq!(v["database"], json!({"host": "h", "port": 1}));
        assert_eq!(v["shared"], json!(true));
    }

    #[test]
    fn subchart_scoping_globals_aliases() {
        let c = parent_with_subcharts();
        let user = obj(json!({"db": {"user": "me"}, "cache2": {"enabled": true, "size": 9}}));
        let (processed, v) = compute_values(&c, &user).unwrap();
        let names: Vec<_> = processed.dependencies.iter().map(Chart::name).collect();
        assert_eq!(names, vec!["db", "cache", "cache2"]);
        assert_eq!(
            v["db"],
            json!({"enabled": true, "port": 1, "user": "me",
                   "global": {"env": "prod", "labels": {"team": "a", "tier": "db"}, "own": "x"}})
        );
        assert_eq!(
            v["cache"],
            json!({"size": 1, "global": {"env": "prod", "labels": {"team": "a"}}})
        );
        assert_eq!(v["cache2"]["size"], 9);
    }

    #[test]
    fn conditions_and_tags_disable() {
        let c = parent_with_subcharts();
        let user = obj(json!({"db": {"enabled": false}, "tags": {"backend": false}}));
        let (processed, v) = compute_values(&c, &user).unwrap();
        assert!(
            processed.dependencies.is_empty(),
            "{:?}",
            processed.dependencies
        );
        assert!(!v.contains_key("cache"));
        // A condition overrides tags.
        let user = obj(json!({"tags": {"backend": false}, "cache2": {"enabled": true}}));
        let (processed, _) = compute_values(&c, &user).unwrap();
        let names: Vec<_> = processed.dependencies.iter().map(Chart::name).collect();
        assert_eq!(names, vec!["db", "cache2"]);
    }

    #[test]
    fn dependency_errors() {
        let c = chart(&[(
            "Chart.yaml",
            "apiVersion: v2\nname: web\nversion: 1.0.0\ndependencies:\n- name: db\n",
        )]);
        let e = compute_values(&c, &Values::new()).unwrap_err().to_string();
        assert_eq!(
            e,
            "chart web: dependency \"db\" is listed in Chart.yaml but missing from charts/"
        );
        let mut c = parent_with_subcharts();
        c.metadata.dependencies[0].version = ">=2".into();
        let e = compute_values(&c, &Values::new()).unwrap_err().to_string();
        assert!(e.contains("charts/ has version 1.0.3"), "{e}");
        let c = parent_with_subcharts();
        let e = compute_values(&c, &obj(json!({"db": "oops"})))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "chart web: values for subchart \"db\" must be a map, found a string"
        );
    }

    #[test]
    fn yaml_conversion() {
        let v = parse_values_yaml(
            "base: &b {a: 1}\nderived:\n  <<: *b\n  c: 2\n1: int-key\ntrue: bool-key\nf: 1.5\n",
            "v.yaml",
        )
        .unwrap();
        assert_eq!(v["derived"], json!({"a": 1, "c": 2}));
        assert_eq!(v["1"], "int-key");
        assert_eq!(v["true"], "bool-key");
        assert_eq!(v["f"], 1.5);
        assert!(parse_values_yaml("", "v.yaml").unwrap().is_empty());
        assert!(
            parse_values_yaml("# only a comment\n", "v.yaml")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn values_are_read_as_helm_reads_them() {
        // A repeated key: the last value, as go-yaml v2 (not strict) keeps it.
        let v = parse_values_yaml("a: 1\nb: x\na: 2\n", "values.yaml").unwrap();
        assert_eq!(v["a"], 2);
        assert_eq!(v["b"], "x");
        // Only the first document.
        let v = parse_values_yaml("a: 1\n---\na: 3\n", "values.yaml").unwrap();
        assert_eq!(v["a"], 1);
        // Errors still come from the strict reading, with the line.
        let e = parse_values_yaml("a: 1\nb: [1, 2\n", "values.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("values.yaml:3:1: "), "{e}");
        let e = parse_values_yaml("- a\n- b\n", "values.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("values must be a map, found a list"), "{e}");
        // Nesting deeper than the strict parser takes is its error, not a crash.
        let deep = format!(
            "a:\n{}",
            (1..200)
                .map(|i| format!("{}- \n", "  ".repeat(i)))
                .collect::<String>()
        );
        assert!(parse_values_yaml(&deep, "values.yaml").is_err());
    }

    #[test]
    fn deep_flow_nesting_is_refused_before_parsing() {
        let start = std::time::Instant::now();
        let text = format!("a: {}{}\n", "[".repeat(1 << 20), "]".repeat(1 << 20));
        let e = parse_values_yaml(&text, "values.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("nest deeper than 1000 levels"), "{e}");
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        // Brackets in strings and plain scalars are text, not nesting.
        let text = format!(
            "a: \"{0}\"\nb: '{0}'\nc: x{0}\nd: [\"{0}\", '{0}']\n# {0}\n",
            "[".repeat(2000)
        );
        let v = parse_values_yaml(&text, "values.yaml").unwrap();
        assert_eq!(v["a"].as_str().unwrap().len(), 2000);
        assert_eq!(check_yaml_nesting("a: [[1], {b: [2]}]\n"), Ok(()));
        assert_eq!(
            check_yaml_nesting(&format!("a: 1\nb: {}", "[".repeat(1001))),
            Err(2)
        );
        // At the limit, whether the brackets are counted or scanned.
        assert_eq!(check_yaml_nesting(&"[".repeat(1000)), Ok(()));
        let scanned = format!("a: {}\nb: \"{}\"", "{".repeat(1000), "[".repeat(5));
        assert_eq!(check_yaml_nesting(&scanned), Ok(()));
        assert_eq!(check_yaml_nesting(&format!("{scanned}\nc: [")), Err(3));
    }
}
